//! Subscribing: the Subscribe for each kind of entity, the PBX's answers (confirmed, busy,
//! unknown, refused), refreshes before expiry, resubscribing with backoff when the PBX ends
//! one or does not answer, and ending what is no longer wanted. Where each subscription
//! stands is kept by [`super::subscriptions::Subscriptions`].

use std::time::{Duration, Instant};

use super::core::{Request, Session, Timer};
use super::presence::PresenceBook;
use super::subscriptions::{
    LINES_FLAGS, PARK_CCFLAGS, QUEUE_CCFLAGS, QUEUE_FLAGS, USER_CCFLAGS, USER_FLAGS,
};
use super::types::{Entity, SessionEvent, SubscribeFailure};
use crate::model::{RemoveReason, Text};
use crate::protocol::bits::PresenceFlags;
use crate::protocol::codes::ResultCode;
use crate::protocol::msg::{self, QueueRef};
use crate::protocol::pb;

impl Session {
    /// Marks an entity as wanted; it is subscribed when the window allows.
    pub(super) fn want(&mut self, entity: Entity) {
        self.subs.want(entity);
    }

    /// Sends queued subscribes while the window has room.
    pub(super) fn pump(&mut self, now: Instant) {
        if !self.is_connected() {
            return;
        }
        while let Some(entity) = self.subs.next_to_send(self.config.subscribe_window) {
            self.send_subscribe(now, entity);
        }
    }

    pub(super) fn send_subscribe(&mut self, now: Instant, entity: Entity) {
        let id = self.subs.new_id();
        let requestid = self.request_id();
        let timeout = self.timeout_for(&entity);
        let msg = match &entity {
            Entity::Lines => msg::subscribe_lines(requestid, id, timeout, LINES_FLAGS),
            Entity::User(g) => msg::subscribe_user(
                requestid,
                id,
                timeout,
                g.as_bytes(),
                USER_FLAGS,
                USER_CCFLAGS,
            ),
            Entity::Queue(g) => msg::subscribe_queue(
                requestid,
                id,
                timeout,
                QueueRef::Guid(g.as_bytes()),
                QUEUE_FLAGS,
                QUEUE_CCFLAGS,
            ),
            Entity::ParkServer => msg::subscribe_parkserver(requestid, id, timeout, PARK_CCFLAGS),
            Entity::Presence => {
                let wanted = self.presence.wanted();
                let entries = PresenceBook::entries(&wanted);
                match msg::subscribe_presence(
                    requestid,
                    id,
                    timeout,
                    &entries,
                    PresenceFlags::EMPTY,
                ) {
                    Ok(m) => {
                        self.presence.sent(wanted);
                        m
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot build the presence subscription");
                        self.subs.fail(&entity);
                        return;
                    }
                }
            }
        };
        if let Some(line) = entity.line() {
            // Whatever the line showed before must be reported again.
            self.timers.cancel(&Timer::Resync(entity.clone()));
            self.model.begin_resync(&line);
        }
        tracing::debug!(%entity, subscribe_id = id, requestid, "subscribe");
        self.subs.requested(&entity, id);
        self.requests
            .insert(requestid, (Request::Subscribe { entity, id }, now));
        self.timers.set(
            Timer::Response(requestid),
            now + self.config.response_timeout,
        );
        self.send(&msg);
    }

    /// The timeout asked for a subscription, in seconds. Presence subscriptions must have one
    /// of 60..=86400 s (the document), whatever the configuration says for the others.
    pub(super) fn timeout_for(&self, entity: &Entity) -> i32 {
        let t = self.config.subscription_timeout_secs;
        let t = match entity {
            Entity::Presence if t == 0 => 3600,
            Entity::Presence => t.clamp(
                msg::PRESENCE_TIMEOUT_MIN as u32,
                msg::PRESENCE_TIMEOUT_MAX as u32,
            ),
            _ => t,
        };
        i32::try_from(t).unwrap_or(i32::MAX)
    }

    pub(super) fn refresh_interval(&self, entity: &Entity) -> Option<Duration> {
        let t = u64::try_from(self.timeout_for(entity)).unwrap_or(0);
        // The document refreshes a 3600 s subscription after 50 minutes: five sixths.
        (t > 0).then(|| Duration::from_secs(t) * 5 / 6)
    }

    pub(super) fn refresh(&mut self, now: Instant, entity: Entity) {
        let Some(id) = self.subs.active_id(&entity) else {
            return;
        };
        let timeout = self.timeout_for(&entity);
        tracing::debug!(%entity, subscribe_id = id, "refresh");
        self.send(&msg::refresh(id, timeout));
        if let Some(every) = self.refresh_interval(&entity) {
            self.timers.set(Timer::Refresh(entity), now + every);
        }
    }

    /// Ends a subscription we no longer want and forgets it.
    pub(super) fn end_subscription(&mut self, entity: &Entity, reason: &str) {
        self.timers.cancel(&Timer::Refresh(entity.clone()));
        self.timers.cancel(&Timer::Retry(entity.clone()));
        self.timers.cancel(&Timer::Resync(entity.clone()));
        if let Some(id) = self.subs.forget(entity) {
            if self.is_connected() {
                self.send(&msg::subscribe_end(0, id, reason));
            }
        }
    }

    pub(super) fn on_subscribe_result(
        &mut self,
        now: Instant,
        entity: Entity,
        id: i32,
        code: ResultCode,
    ) {
        if !self.subs.is_current(&entity, id) {
            // Deleted or replaced while the request was out. A subscription that succeeded
            // anyway is ended so the PBX does not keep it for nothing.
            if code.is_success() && self.subs.entity_of(id) != Some(&entity) {
                self.send(&msg::subscribe_end(0, id, "no longer wanted"));
            }
            return;
        }
        if code.is_success() {
            self.subs.confirm(&entity, now);
            if let Some(every) = self.refresh_interval(&entity) {
                self.timers.set(Timer::Refresh(entity.clone()), now + every);
            }
            if let Some(line) = entity.line() {
                if self.model.resync_pending(&line) {
                    self.timers.set(
                        Timer::Resync(entity.clone()),
                        now + self.config.resync_settle,
                    );
                }
                if self.synced {
                    self.timers.set(
                        Timer::Initial(entity.clone()),
                        now + self.config.initial_report,
                    );
                }
            }
            return;
        }
        self.subs.release_id(id);
        let label = self.label(&entity);
        match code {
            ResultCode::TooMany => {
                tracing::warn!(%entity, %label, %code, "PBX busy; subscribing again later");
                self.retry_later(now, &entity);
            }
            ResultCode::UserNotFound | ResultCode::NotFound
                if !matches!(entity, Entity::Lines | Entity::Presence) =>
            {
                tracing::warn!(%entity, %label, %code, "the PBX does not know it; dropped");
                self.report_failure(&entity, label, code, true);
                self.subs.forget(&entity);
                self.timers.cancel(&Timer::Resync(entity.clone()));
                match &entity {
                    Entity::User(g) => {
                        self.model.remove_user(now, g, RemoveReason::NotFound);
                    }
                    Entity::Queue(g) => {
                        self.model.remove_queue(now, g, RemoveReason::NotFound);
                    }
                    Entity::ParkServer => self.model.set_park_available(now, false),
                    Entity::Lines | Entity::Presence => {}
                }
            }
            _ if entity == Entity::Lines => {
                // Nothing works without the lines list: keep asking, slowly.
                tracing::error!(%code, "lines subscription refused; trying again later");
                self.report_failure(&entity, label, code, false);
                self.retry_later(now, &entity);
            }
            _ => {
                tracing::error!(%entity, %label, %code, "subscription refused");
                self.report_failure(&entity, label, code, false);
                self.subs.fail(&entity);
                // Nothing more will be reported on it: what it showed ends.
                if let Some(line) = entity.line() {
                    self.model.finish_resync(now, &line);
                }
            }
        }
    }

    pub(super) fn report_failure(
        &mut self,
        entity: &Entity,
        label: Text,
        code: ResultCode,
        dropped: bool,
    ) {
        let f = SubscribeFailure {
            entity: entity.clone(),
            label,
            code: code.code(),
            name: code.name(),
            dropped,
        };
        self.failures.push(f.clone());
        self.events.push_back(SessionEvent::SubscribeFailed(f));
    }

    pub(super) fn retry_later(&mut self, now: Instant, entity: &Entity) {
        let Some(delay) = self.subs.back_off(entity, now, &mut self.rng) else {
            return;
        };
        self.timers.cancel(&Timer::Refresh(entity.clone()));
        self.timers.set(Timer::Retry(entity.clone()), now + delay);
    }

    pub(super) fn on_response_timeout(&mut self, now: Instant, requestid: i32) {
        let Some((request, _)) = self.requests.remove(&requestid) else {
            return;
        };
        let Request::Subscribe { entity, id } = request else {
            return;
        };
        self.subs.answered();
        if self.subs.is_current(&entity, id) {
            tracing::warn!(%entity, subscribe_id = id, "no response to subscribe; trying again later");
            // It may exist on the PBX after all: end it before asking again.
            self.subs.release_id(id);
            self.send(&msg::subscribe_end(0, id, "no response"));
            self.retry_later(now, &entity);
        }
        self.pump(now);
    }

    pub(super) fn on_terminated(&mut self, now: Instant, t: pb::SubscribeTerminated) {
        let Some(entity) = self.subs.release_id(t.subscribe_id) else {
            self.counters.unexpected += 1;
            tracing::warn!(
                subscribe_id = t.subscribe_id,
                "SubscribeTerminated for no subscription of ours"
            );
            return;
        };
        tracing::warn!(
            %entity,
            subscribe_id = t.subscribe_id,
            reason = %t.reason,
            "subscription terminated by the PBX; subscribing again"
        );
        // If its subscribe was still out, its response will never come: free the slot.
        let pending: Vec<i32> = self
            .requests
            .iter()
            .filter(
                |(_, (r, _))| matches!(r, Request::Subscribe { id, .. } if *id == t.subscribe_id),
            )
            .map(|(requestid, _)| *requestid)
            .collect();
        for requestid in pending {
            self.requests.remove(&requestid);
            self.timers.cancel(&Timer::Response(requestid));
            self.subs.answered();
        }
        self.retry_later(now, &entity);
        self.pump(now);
    }
}
