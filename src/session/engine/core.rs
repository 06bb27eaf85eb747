//! The session's state and its core: construction, what it reports, its outputs, and the
//! dispatch of frames, responses and deadlines to the jobs in the sibling files (link,
//! subscribing, notifies, general requests, commands).

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;

use super::presence::PresenceBook;
use super::subscriptions::Subscriptions;
use super::types::{Counters, Entity, Io, SessionEvent, SubscribeFailure, SyncReport};
use crate::model::{
    AccountCodes, CapReached, Capped, CommandPlan, CommandReport, Model, PbxSystem, TableSizes,
    Text,
};
use crate::protocol::codes::ResultCode;
use crate::protocol::limits::MAX_TEXT_BYTES;
use crate::protocol::pb;
use crate::session::backoff::{Backoff, seeded};
use crate::session::config::SessionConfig;
use crate::session::convert::Convert;
use crate::session::timers::Timers;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Request {
    Subscribe {
        entity: Entity,
        id: i32,
    },
    Version,
    /// An UpdatePresence on the presence subscription `id`.
    PresenceUpdate {
        id: i32,
    },
    /// A command (see `commands`).
    Command,
    /// `getfile nasystem/AccountCode`.
    AccountCodes,
}

/// A command sent and not yet settled (see `commands`).
#[derive(Debug)]
pub(super) struct Tracked {
    pub(super) report: CommandReport,
    pub(super) plan: CommandPlan,
    pub(super) accepted: bool,
    /// What a Notify showed before the PBX's answer came (Ok: the effect; Err: a failure).
    pub(super) seen: Option<Result<Text, Text>>,
    /// When the current wait began (sent, or accepted).
    pub(super) since: Instant,
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(super) enum Timer {
    Reconnect,
    Keepalive,
    Response(i32),
    Refresh(Entity),
    Resync(Entity),
    Retry(Entity),
    /// The first report of a line's calls is taken to be over.
    Initial(Entity),
    /// The statistics' counting period ends (midnight).
    Period,
    /// A command's wait (for its answer, then for its effect) ends.
    Command(i32),
    /// Time to see whether the primary is back.
    Probe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    /// Will ask for [`Io::Connect`] when the Reconnect timer fires.
    Waiting,
    /// [`Io::Connect`] asked for; waiting for the I/O task.
    Connecting,
    /// Connected since then.
    Up(Instant),
    /// Not trying.
    Stopped,
}

/// How much of a message's Debug form a warning shows: enough for its kind and first fields.
pub(super) const SUMMARY_BYTES: usize = 160;

/// How much of it a trace line shows: a message can be megabytes, a log line must not be.
pub(super) const DUMP_BYTES: usize = 8 * 1024;

/// At most `.1` bytes of a value's Debug form, then `…`; formatting stops there, so a huge
/// message costs no more than its summary.
pub(super) struct Brief<'a, T: ?Sized>(pub(super) &'a T, pub(super) usize);

impl<T: fmt::Debug + ?Sized> fmt::Display for Brief<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Takes text up to its room, then refuses the rest.
        struct Bounded(String, usize);
        impl fmt::Write for Bounded {
            fn write_str(&mut self, part: &str) -> fmt::Result {
                let room = self.1.saturating_sub(self.0.len());
                if part.len() <= room {
                    self.0.push_str(part);
                    return Ok(());
                }
                let end = (0..=room)
                    .rev()
                    .find(|&i| part.is_char_boundary(i))
                    .unwrap_or(0);
                self.0.push_str(part.get(..end).unwrap_or_default());
                Err(fmt::Error)
            }
        }
        let mut out = Bounded(String::new(), self.1);
        let cut = write!(out, "{:?}", self.0).is_err();
        f.write_str(&out.0)?;
        if cut {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// How much a [`Session`] holds (see [`Session::sizes`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineSizes {
    /// The model's tables.
    pub tables: TableSizes,
    /// Subscriptions kept, by entity.
    pub subscriptions: usize,
    /// Subscriptions kept, by subscribe id.
    pub subscribe_ids: usize,
    /// Subscriptions waiting to be sent.
    pub to_subscribe: usize,
    /// Users in the presentity book.
    pub presence_users: usize,
    /// Presentity lrefs.
    pub presence_lrefs: usize,
    /// Presentities the PBX was sent.
    pub presence_sent: usize,
    /// Requests awaiting an answer.
    pub requests: usize,
    /// Commands not yet settled.
    pub commands: usize,
    /// Deadlines set.
    pub timers: usize,
    /// Frames not yet taken by the I/O task.
    pub transmit: usize,
    /// Instructions not yet taken by the I/O task.
    pub io: usize,
    /// Session events not yet taken by the reader.
    pub events: usize,
    /// Refused subscriptions remembered for the sync report.
    pub failures: usize,
    /// Caps reached.
    pub capped: usize,
}

impl EngineSizes {
    /// The first map over its cap, in words; `None` when all are within. Tables are held to
    /// the protocol's caps; what is kept per user or queue (subscriptions, presentities,
    /// requests, deadlines, refusals) to one per user and queue plus a few of the session's
    /// own (lines, park server, presence, version, account codes, commands).
    pub fn over_cap(&self) -> Option<String> {
        use crate::protocol::limits::{MAX_APPEARANCES, MAX_QUEUES, MAX_USERS};
        const OWN: usize = 64;
        let lines = MAX_USERS + MAX_QUEUES + OWN;
        let t = &self.tables;
        let checks = [
            ("users", t.users, MAX_USERS),
            ("queues", t.queues, MAX_QUEUES),
            ("call appearances", t.appearances, MAX_APPEARANCES),
            ("gcids", t.gcids, MAX_APPEARANCES),
            ("subscriptions", self.subscriptions, lines),
            ("subscribe ids", self.subscribe_ids, lines),
            ("subscriptions to send", self.to_subscribe, lines),
            ("presentities", self.presence_users, MAX_USERS),
            ("presentity lrefs", self.presence_lrefs, MAX_USERS),
            ("presentities sent", self.presence_sent, MAX_USERS),
            ("requests", self.requests, lines),
            // Per subscription: refresh, resync, retry, first report; plus each request's.
            ("timers", self.timers, 5 * lines),
            ("failures", self.failures, lines),
            ("caps reached", self.capped, 5),
        ];
        checks
            .iter()
            .find(|(_, n, cap)| n > cap)
            .map(|(what, n, cap)| format!("{what}: {n} > {cap}"))
    }
}

/// The MTCTI3 client session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    pub(super) config: SessionConfig,
    pub(super) model: Model,
    pub(super) link: Link,
    pub(super) attempt: u32,
    pub(super) reconnect: Backoff,
    pub(super) rng: ChaCha8Rng,
    pub(super) subs: Subscriptions,
    pub(super) presence: PresenceBook,
    pub(super) commands: HashMap<i32, Tracked>,
    pub(super) next_reference: i32,
    pub(super) account_codes_fetched: bool,
    /// The system the current (or next) connection attempt goes to.
    pub(super) target: PbxSystem,
    pub(super) requests: HashMap<i32, (Request, Instant)>,
    pub(super) next_request_id: i32,
    pub(super) timers: Timers<Timer>,
    pub(super) transmit: VecDeque<Vec<u8>>,
    pub(super) io: VecDeque<Io>,
    pub(super) events: VecDeque<SessionEvent>,
    pub(super) lines_seen: bool,
    pub(super) synced: bool,
    pub(super) failures: Vec<SubscribeFailure>,
    pub(super) srtt: Option<Duration>,
    pub(super) last_rx: Instant,
    pub(super) shut_down: bool,
    pub(super) counters: Counters,
    /// Turns messages into model inputs, cutting overlong texts.
    pub(super) convert: Convert,
    /// The caps reached so far (each said once).
    pub(super) capped: Vec<CapReached>,
}

impl Session {
    /// A session that asks to connect at once (its first instruction is
    /// [`Io::Connect`] to the primary).
    pub fn new(config: SessionConfig, now: Instant) -> Session {
        let mut s = Session {
            rng: seeded(config.seed),
            reconnect: Backoff::new(config.reconnect),
            subs: Subscriptions::new(config.resubscribe),
            config,
            model: Model::new(),
            link: Link::Stopped,
            attempt: 0,
            presence: PresenceBook::default(),
            commands: HashMap::new(),
            next_reference: 1,
            account_codes_fetched: false,
            target: PbxSystem::Primary,
            requests: HashMap::new(),
            next_request_id: 1,
            timers: Timers::default(),
            transmit: VecDeque::new(),
            io: VecDeque::new(),
            events: VecDeque::new(),
            lines_seen: false,
            synced: false,
            failures: Vec::new(),
            srtt: None,
            last_rx: now,
            shut_down: false,
            counters: Counters::default(),
            convert: Convert::default(),
            capped: Vec::new(),
        };
        s.model.configure_stats(now, s.config.stats.clone());
        s.arm_period();
        s.connect_now(now);
        s
    }

    pub(super) fn arm_period(&mut self) {
        match self.model.stats_deadline() {
            Some(at) => self.timers.set(Timer::Period, at),
            None => self.timers.cancel(&Timer::Period),
        }
    }

    // ----------------------------------------------------------------------------------------
    // Getters

    /// The live model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// What went wrong on the wire so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The smoothed request round trip, once measured.
    pub fn round_trip(&self) -> Option<Duration> {
        self.srtt
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether the link is up.
    pub fn is_connected(&self) -> bool {
        matches!(self.link, Link::Up(_))
    }

    /// Whether the session stopped and waits to be asked again.
    pub fn is_stopped(&self) -> bool {
        self.link == Link::Stopped
    }

    /// The system the session is on, or is connecting to next.
    pub fn target(&self) -> PbxSystem {
        self.target
    }

    /// The subscribe id in use for an entity, if it is subscribed or being subscribed.
    pub fn subscribe_id(&self, entity: &Entity) -> Option<i32> {
        self.subs.id_of(entity)
    }

    /// How many subscribe requests wait for a response now.
    pub fn outstanding(&self) -> usize {
        self.subs.outstanding()
    }

    /// The state of the sync so far.
    pub fn sync_report(&self) -> SyncReport {
        SyncReport {
            users: self.model.users().count(),
            queues: self.model.queues().count(),
            park_available: self.model.park_available(),
            subscribed: self.subs.confirmed(),
            failed: self.failures.clone(),
            round_trip: self.srtt,
            subscriptions: self.subs.summary(),
            scope: (!self.config.scope.is_everything())
                .then(|| self.config.scope.summary(&self.model)),
            capped: self.capped.clone(),
        }
    }

    /// How much the engine holds, map by map and queue by queue: for the fuzz target and the
    /// soak, which check that none grows past its cap.
    #[doc(hidden)]
    pub fn sizes(&self) -> EngineSizes {
        let (subscriptions, subscribe_ids, to_subscribe) = self.subs.sizes();
        let (presence_users, presence_lrefs, presence_sent) = self.presence.sizes();
        EngineSizes {
            tables: self.model.sizes(),
            subscriptions,
            subscribe_ids,
            to_subscribe,
            presence_users,
            presence_lrefs,
            presence_sent,
            requests: self.requests.len(),
            commands: self.commands.len(),
            timers: self.timers.len(),
            transmit: self.transmit.len(),
            io: self.io.len(),
            events: self.events.len(),
            failures: self.failures.len(),
            capped: self.capped.len(),
        }
    }

    /// The PBX reported more than `what` allows: the rest is ignored. Logged and told to the
    /// readers once per session.
    pub(super) fn cap_reached(&mut self, what: Capped, limit: usize) {
        if self.capped.iter().any(|c| c.what == what) {
            return;
        }
        let cap = CapReached { what, limit };
        tracing::warn!(%cap, "cap reached");
        self.capped.push(cap);
        self.events.push_back(SessionEvent::CapReached(cap));
    }

    /// Says so once if the last conversion cut a text.
    pub(super) fn note_clipped(&mut self) {
        if self.convert.take_clipped() {
            self.cap_reached(Capped::Text, MAX_TEXT_BYTES);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Outputs

    /// The next instruction for the I/O task.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.io.pop_front()
    }

    /// The next frame to send (framed as configured).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event for the session's readers: the engine's own first, then the model's.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        if let Some(ev) = self.events.pop_front() {
            return Some(ev);
        }
        self.model.poll_event().map(SessionEvent::Model)
    }

    /// When [`Session::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----------------------------------------------------------------------------------------
    // Inputs: frames and deadlines (the link's own inputs are in `link`, commands in
    // `commands`)

    /// A binary websocket frame arrived.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        self.counters.frames_in += 1;
        if !self.is_connected() {
            tracing::debug!("frame while not connected; ignored");
            return;
        }
        self.last_rx = now;
        let msg = match crate::protocol::decode(frame, self.config.framing) {
            Ok(m) => m,
            Err(e) => {
                self.counters.malformed += 1;
                tracing::warn!(error = %e, len = frame.len(), "malformed frame ignored");
                return;
            }
        };
        use pb::message::Payload as P;
        match msg.payload {
            Some(P::Notify(n)) => self.on_notify(now, n),
            Some(P::Response(r)) => self.on_response(now, r),
            Some(P::Subscribeterminated(t)) => self.on_terminated(now, t),
            Some(P::Generaldata(d)) => self.on_general_data(now, d),
            other => {
                self.counters.unexpected += 1;
                tracing::warn!(message = %Brief(&other, SUMMARY_BYTES), "unexpected message ignored");
                tracing::trace!(message = %Brief(&other, DUMP_BYTES), "the whole message");
            }
        }
        self.update_sync_state(now);
    }

    /// A deadline from [`Session::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.timers.pop_expired(now) {
            match t {
                Timer::Reconnect => {
                    if self.link == Link::Waiting {
                        self.connect_now(now);
                    }
                }
                Timer::Keepalive => self.keepalive(now),
                Timer::Response(requestid) => self.on_response_timeout(now, requestid),
                Timer::Refresh(entity) => self.refresh(now, entity),
                Timer::Resync(entity) => {
                    if let Some(line) = entity.line() {
                        self.model.finish_resync(now, &line);
                    }
                }
                Timer::Initial(entity) => {
                    if let Some(line) = entity.line() {
                        self.model.end_initial_report(&line);
                    }
                }
                Timer::Period => {
                    self.model.tick(now);
                    self.arm_period();
                }
                Timer::Command(requestid) => self.command_timed_out(now, requestid),
                Timer::Probe => {
                    if self.target == PbxSystem::Secondary && self.is_connected() {
                        self.io.push_back(Io::Probe(PbxSystem::Primary));
                    }
                }
                Timer::Retry(entity) => self.subs.backoff_over(entity),
            }
        }
        self.pump(now);
        self.update_sync_state(now);
    }

    // ----------------------------------------------------------------------------------------
    // Requests

    pub(super) fn request_id(&mut self) -> i32 {
        let id = self.next_request_id;
        // Request ids stay positive: 0 means "no response wanted".
        self.next_request_id = if id == i32::MAX { 1 } else { id + 1 };
        id
    }

    pub(super) fn send(&mut self, msg: &pb::Message) {
        match crate::protocol::encode(msg, self.config.framing) {
            Ok(frame) => {
                self.counters.frames_out += 1;
                self.transmit.push_back(frame);
            }
            Err(e) => tracing::error!(error = %e, "could not encode a message"),
        }
    }

    fn on_response(&mut self, now: Instant, r: pb::RequestResponse) {
        let Some((request, sent)) = self.requests.remove(&r.requestid) else {
            self.counters.unmatched_responses += 1;
            tracing::warn!(
                requestid = r.requestid,
                result = r.result,
                "response to no request we made"
            );
            return;
        };
        self.timers.cancel(&Timer::Response(r.requestid));
        self.sample_rtt(now.saturating_duration_since(sent));
        let code = ResultCode::from_code(r.result);
        match request {
            Request::Version => {
                if code.is_success() {
                    // The version itself comes in a GeneralData with the same id.
                    self.requests.insert(r.requestid, (Request::Version, sent));
                } else {
                    tracing::info!(%code, "version not available");
                }
            }
            Request::Subscribe { entity, id } => {
                self.subs.answered();
                self.on_subscribe_result(now, entity, id, code);
            }
            Request::Command => self.on_command_result(now, r.requestid, code),
            Request::AccountCodes => {
                if code.is_success() {
                    // The file comes in a GeneralData with the same id.
                    self.requests
                        .insert(r.requestid, (Request::AccountCodes, sent));
                } else {
                    self.account_codes_done(AccountCodes::FreeText {
                        reason: Text::from(format!("the PBX would not give the list ({code})")),
                    });
                }
            }
            Request::PresenceUpdate { id } => {
                if !code.is_success() && self.subscribe_id(&Entity::Presence) == Some(id) {
                    // The PBX's list and ours may differ now: start it again from ours.
                    tracing::warn!(%code, "presence update refused; subscribing presence again");
                    self.end_subscription(&Entity::Presence, "presentities out of step");
                    self.want(Entity::Presence);
                }
            }
        }
        self.pump(now);
    }

    fn sample_rtt(&mut self, sample: Duration) {
        // The smoothing TCP uses: new = 7/8 old + 1/8 sample.
        self.srtt = Some(match self.srtt {
            None => sample,
            Some(old) => old.mul_f64(0.875) + sample.mul_f64(0.125),
        });
    }

    pub(super) fn label(&self, entity: &Entity) -> Text {
        match entity {
            Entity::Lines => Text::from("lines"),
            Entity::User(g) => self
                .model
                .user(g)
                .map(|u| Text::from(format!("{} {}", u.extn, u.name)))
                .unwrap_or_else(|| Text::from(g.to_hex())),
            Entity::Queue(g) => self
                .model
                .queue(g)
                .map(|q| Text::from(format!("{} {}", q.extn, q.name)))
                .unwrap_or_else(|| Text::from(g.to_hex())),
            Entity::ParkServer => Text::from("park server"),
            Entity::Presence => Text::from("presence"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_message_is_logged_as_a_bounded_summary() {
        let names: Vec<String> = (0..100_000)
            .map(|i| format!("caller {i} 0207946{i:04}"))
            .collect();
        let summary = Brief(&names, SUMMARY_BYTES).to_string();
        assert!(
            summary.starts_with("[\"caller 0 02079460000\", "),
            "{summary}"
        );
        assert!(summary.ends_with('…') && summary.len() <= SUMMARY_BYTES + '…'.len_utf8());
        // Cut on a character boundary, and whole when it fits.
        assert_eq!(Brief("ÅÅÅ", 4).to_string(), "\"Å…");
        assert_eq!(Brief(&7, 4).to_string(), "7");
    }
}
