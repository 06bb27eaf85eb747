//! The link: connecting and reconnecting (with backoff), failing over to the secondary
//! system and back, keepalive pings, shutting down, and the connection state shown while
//! syncing.

use std::time::{Duration, Instant};

use super::core::{Link, Session, Timer};
use super::types::{Disconnect, Io, SessionEvent};
use crate::model::{ConnectionState, PbxSystem, StopKind, Text};
use crate::session::error::{ConnectError, MAX_RETRY_AFTER};

impl Session {
    /// The answer to [`Io::Probe`]: whether the primary could be reached.
    /// When it can, the session leaves the secondary and connects to the primary at once.
    pub fn handle_probe(&mut self, now: Instant, primary_reachable: bool) {
        if !(self.target == PbxSystem::Secondary && self.is_connected()) {
            return;
        }
        if !primary_reachable {
            self.timers
                .set(Timer::Probe, now + self.config.primary_probe);
            return;
        }
        tracing::info!("the primary answers again; moving back to it");
        self.interrupt_commands("moving back to the primary");
        self.io.push_back(Io::Close);
        self.model.link_lost();
        self.reset_connection();
        self.target = PbxSystem::Primary;
        self.reconnect.reset();
        self.attempt = 0;
        self.connect_now(now);
    }

    /// The secure websocket is open (handshake accepted, subprotocol agreed).
    pub fn handle_connected(&mut self, now: Instant) {
        if self.link != Link::Connecting {
            tracing::warn!(link = ?self.link, "connected while not connecting; ignored");
            return;
        }
        tracing::info!(attempt = self.attempt, system = ?self.target, "connected");
        self.link = Link::Up(now);
        self.model.set_system(now, self.target);
        if self.target == PbxSystem::Secondary {
            self.timers
                .set(Timer::Probe, now + self.config.primary_probe);
        }
        self.reconnect.up(now);
        self.last_rx = now;
        self.arm_keepalive(now);
        self.lines_seen = false;
        self.synced = false;
        self.failures.clear();
        self.ask_version(now);
        // reset_connection left every subscription waiting: all of it goes out again.
        self.subs.replay();
        self.update_sync_state(now);
        self.pump(now);
    }

    /// A connection attempt failed: readers hear why, and the engine goes on as for any
    /// close (a rejected login stops it; anything else is tried again, no sooner than the
    /// PBX asked with `Retry-After`, at most [`crate::session::MAX_RETRY_AFTER`]).
    pub fn handle_connect_failed(&mut self, now: Instant, error: ConnectError) {
        let reason = Disconnect::from(&error);
        let wait = error.retry_after();
        self.events.push_back(SessionEvent::ConnectFailed(error));
        self.closed(now, reason, wait);
    }

    /// The link closed, or could not be opened.
    pub fn handle_closed(&mut self, now: Instant, reason: Disconnect) {
        self.closed(now, reason, None);
    }

    /// The link closed; `wait` is the least delay the system that answered asked for before
    /// it is tried again.
    fn closed(&mut self, now: Instant, reason: Disconnect, wait: Option<Duration>) {
        match self.link {
            Link::Connecting | Link::Up(_) => {}
            Link::Waiting | Link::Stopped => {
                tracing::debug!(%reason, link = ?self.link, "close while not connected; ignored");
                return;
            }
        }
        let was_up = matches!(self.link, Link::Up(_));
        if was_up {
            // What is known now is matched again when the link returns, unless the PBX has
            // restarted meanwhile.
            self.model.link_lost();
        }
        self.interrupt_commands(&reason.to_string());
        self.reset_connection();
        match reason {
            Disconnect::LoginRejected(why) => {
                tracing::error!(reason = %why, "login rejected; not retrying until asked");
                self.link = Link::Stopped;
                self.model.set_connection(ConnectionState::Stopped {
                    kind: StopKind::LoginRejected,
                    reason: Text::from(why),
                });
            }
            Disconnect::Failed(why) => {
                let mut wait = wait;
                if self.config.secondary.is_some() && !was_up {
                    // That system cannot be reached: the next attempt goes to the other one
                    // (a link that dropped is first tried again where it was). What the busy
                    // one asked for does not hold the other back.
                    self.target = match self.target {
                        PbxSystem::Primary => PbxSystem::Secondary,
                        PbxSystem::Secondary => PbxSystem::Primary,
                    };
                    wait = None;
                }
                let backoff = self.reconnect.failed(now, &mut self.rng);
                let delay = wait.map_or(backoff, |w| w.min(MAX_RETRY_AFTER).max(backoff));
                tracing::warn!(
                    reason = %why,
                    was_up,
                    retry_in_ms = delay.as_millis() as u64,
                    "link down; reconnecting"
                );
                self.link = Link::Waiting;
                self.timers.set(Timer::Reconnect, now + delay);
                self.model.set_connection(ConnectionState::Reconnecting {
                    at: now + delay,
                    retry_in_ms: delay.as_millis() as u64,
                    reason: Text::from(why),
                });
            }
        }
    }

    /// Try to connect now: after a stop (the user asks again), or to cut a reconnect wait
    /// short. Does nothing while connecting or connected.
    pub fn retry(&mut self, now: Instant) {
        if self.shut_down {
            return;
        }
        match self.link {
            Link::Stopped | Link::Waiting => {
                self.reconnect.reset();
                self.attempt = 0;
                self.connect_now(now);
            }
            Link::Connecting | Link::Up(_) => {}
        }
    }

    /// Stop for good: the driver closes the link and ends ([`Io::Shutdown`]).
    pub fn shutdown(&mut self, _now: Instant) {
        if self.shut_down {
            return;
        }
        self.shut_down = true;
        self.reset_connection();
        self.link = Link::Stopped;
        self.io.push_back(Io::Shutdown);
        self.model.set_connection(ConnectionState::Stopped {
            kind: StopKind::Shutdown,
            reason: Text::from("stopped"),
        });
    }

    /// A websocket pong (or any other sign of life that is not a frame) arrived.
    pub fn handle_pong(&mut self, now: Instant) {
        if self.is_connected() {
            self.last_rx = now;
        }
    }

    // ----------------------------------------------------------------------------------------
    // Connection

    fn arm_keepalive(&mut self, now: Instant) {
        if !self.config.keepalive.is_zero() {
            self.timers
                .set(Timer::Keepalive, now + self.config.keepalive);
        }
    }

    pub(super) fn keepalive(&mut self, now: Instant) {
        if !self.is_connected() || self.config.keepalive.is_zero() {
            return;
        }
        let every = self.config.keepalive;
        let dead_after = every.mul_f64(2.5);
        let idle = now.saturating_duration_since(self.last_rx);
        if idle >= dead_after {
            tracing::warn!(
                idle_ms = idle.as_millis() as u64,
                "the PBX stopped answering"
            );
            self.io.push_back(Io::Close);
            self.handle_closed(
                now,
                Disconnect::Failed(format!("no answer from the PBX for {} s", idle.as_secs())),
            );
            return;
        }
        if idle < every {
            self.timers.set(Timer::Keepalive, self.last_rx + every);
            return;
        }
        self.io.push_back(Io::Ping);
        self.timers.set(
            Timer::Keepalive,
            (now + every).min(self.last_rx + dead_after),
        );
    }

    pub(super) fn connect_now(&mut self, _now: Instant) {
        self.attempt += 1;
        self.link = Link::Connecting;
        self.timers.cancel(&Timer::Reconnect);
        self.io.push_back(Io::Connect(self.target));
        self.model.set_connection(ConnectionState::Connecting {
            attempt: self.attempt,
        });
    }

    /// Forgets everything that belonged to the connection; keeps what is wanted.
    pub(super) fn reset_connection(&mut self) {
        self.transmit.clear();
        self.requests.clear();
        self.subs.reset();
        // The statistics period runs on whatever the link does.
        self.timers.retain(|t| *t == Timer::Period);
        if self.link != Link::Connecting {
            self.attempt = 0;
        }
    }

    pub(super) fn update_sync_state(&mut self, now: Instant) {
        if !self.is_connected() {
            return;
        }
        let done = self.synced || (self.lines_seen && self.subs.settled() && self.scope_settled());
        if done && !self.synced {
            self.synced = true;
            self.attempt = 0;
            // The calls already there come in each line's first call-control Notify, which
            // may queue behind the sync's Notifies; a line that has said nothing shortly
            // after the sync has no calls, and its next call is a new one.
            for e in self.subs.active_lines() {
                self.timers
                    .set(Timer::Initial(e), now + self.config.initial_report);
            }
            let report = self.sync_report();
            tracing::info!(
                users = report.users,
                queues = report.queues,
                subscribed = report.subscribed,
                failed = report.failed.len(),
                "synced"
            );
            self.events.push_back(SessionEvent::Synced(report));
            self.fetch_account_codes(now);
        }
        if self.synced && self.model.in_outage() && !self.model.any_resync_pending() {
            self.model.outage_over();
        }
        if self.synced {
            self.model.set_connection(ConnectionState::Connected {
                round_trip_ms: self.srtt.map(|d| d.as_secs_f64() * 1000.0),
            });
        } else {
            let wanted = self.subs.wanted();
            let confirmed = self.subs.confirmed();
            self.model
                .set_connection(ConnectionState::Syncing { confirmed, wanted });
        }
    }
}
