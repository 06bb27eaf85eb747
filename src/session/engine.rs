//! The MTCTI3 client as a sans-IO state machine.
//!
//! Inputs: [`Session::handle_connected`], [`Session::handle_frame`],
//! [`Session::handle_closed`], [`Session::handle_timeout`] (and [`Session::retry`],
//! [`Session::shutdown`] from the user). Outputs: [`Session::poll_transmit`] (framed websocket
//! payloads), [`Session::poll_event`] and [`Session::poll_timeout`]. Time is always passed in;
//! nothing here reads a clock, touches a socket or sleeps.
//!
//! What it does, as the document asks: subscribe to the lines list, then to every user, every
//! queue and the park server through a bounded window of outstanding requests; acknowledge
//! every Notify that carries a notify_id before doing anything else with it; keep every
//! subscription refreshed; subscribe again (with backoff) when the PBX ends one; reconnect
//! (with backoff and seeded jitter) when the link drops and subscribe everything again; and
//! stop, without retrying, when the PBX refuses the login.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

mod commands;

use commands::Tracked;

use super::backoff::{Backoff, BackoffConfig, seeded};
use super::connect::Endpoint;
use super::convert;
use super::timers::Timers;
use crate::model::{
    AccountCodes, CommandReport, ConnectionState, Guid, LineId, Model, ModelEvent, PbxSystem,
    PhoneState, RemoveReason, StatsConfig, StopKind, Text, Upsert,
};
use crate::protocol::bits::{
    CcFlags, LinesFlags, NotifyLinesFlags, PresenceFlags, QueueFlags, UserFlags,
};
use crate::protocol::codes::ResultCode;
use crate::protocol::msg::{self, QueueRef};
use crate::protocol::{Framing, pb};

/// Lines subscription flags: users, queues and park server availability (7).
pub const LINES_FLAGS: LinesFlags =
    LinesFlags(LinesFlags::USERS.0 | LinesFlags::QUEUES.0 | LinesFlags::PARKSERVER.0);

/// User subscription flags (0x0F): mailbox counters, forwarding, application presence,
/// absence. Never ACTIVAPP: it would change what every user's phone shows.
pub const USER_FLAGS: UserFlags =
    UserFlags(UserFlags::MAILBOX.0 | UserFlags::FWD.0 | UserFlags::APP.0 | UserFlags::ABSENCE.0);

/// User call-control detail (0xFB): primary data, devices, conference, dial info, trunk
/// detail, queue information, language/privacy. Never Ephemeral: statistics need whole calls.
pub const USER_CCFLAGS: CcFlags = CcFlags(
    CcFlags::PRIMARY.0
        | CcFlags::DEVICES.0
        | CcFlags::CONFERENCE.0
        | CcFlags::DIALINFO.0
        | CcFlags::TRUNK.0
        | CcFlags::QUEUEINFO.0
        | CcFlags::LANGUAGE.0,
);

/// Queue subscription flags (0x03): mailbox counters and the members list.
pub const QUEUE_FLAGS: QueueFlags = QueueFlags(QueueFlags::MAILBOX.0 | QueueFlags::MEMBERS.0);

/// Queue call-control detail (0x400E9): primary data, conference, trunk detail, queue
/// information, language/privacy, targets. Never Ephemeral.
pub const QUEUE_CCFLAGS: CcFlags = CcFlags(
    CcFlags::PRIMARY.0
        | CcFlags::CONFERENCE.0
        | CcFlags::TRUNK.0
        | CcFlags::QUEUEINFO.0
        | CcFlags::LANGUAGE.0
        | CcFlags::TARGETS.0,
);

/// Park server call-control detail (0x01): primary data.
pub const PARK_CCFLAGS: CcFlags = CcFlags::PRIMARY;

/// How the engine behaves. The defaults follow the document and suit a 3000-user site.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// At most this many subscribe requests wait for their response at a time.
    pub subscribe_window: usize,
    /// The timeout asked for each subscription, in seconds (0: no expiry, no refresh).
    /// Subscriptions are refreshed after five sixths of it (50 minutes for 3600 s).
    pub subscription_timeout_secs: u32,
    /// A subscribe request with no response after this long is given up and tried again.
    pub response_timeout: Duration,
    /// After a line is subscribed again, its old appearances that the PBX has not reported
    /// again within this long end.
    pub resync_settle: Duration,
    /// When nothing has arrived for this long, ping the PBX; when nothing has arrived for
    /// two and a half times this long, the link is taken as dead and reconnected.
    pub keepalive: Duration,
    /// Backoff between connection attempts.
    pub reconnect: BackoffConfig,
    /// Backoff before subscribing again (MTCTISESS_TOOMANY, SubscribeTerminated).
    pub resubscribe: BackoffConfig,
    /// Seed for the jitter of every backoff.
    pub seed: u64,
    /// Framed (`/tpkt/openapi`) or not.
    pub framing: Framing,
    /// Read-only: no SubscribeCmd is ever sent (no call function, no configuration change,
    /// not even a presence update), and every command is refused.
    pub read_only: bool,
    /// How statistics are counted.
    pub stats: StatsConfig,
    /// The supervisor's own extension: barge, pickup and unpark are made from its user.
    pub supervisor_extension: Option<String>,
    /// A secondary system to use while the primary cannot be reached (`[pbx] secondary`).
    pub secondary: Option<Endpoint>,
    /// While on the secondary, how often to check whether the primary is back.
    pub primary_probe: Duration,
    /// How long a command waits for the PBX's answer, and then for a Notify to show its
    /// effect, before it is reported as having no effect.
    pub command_timeout: Duration,
    /// After the sync, a line whose first call-control Notify has not come within this long
    /// had no calls: its calls from then on are new, not "present at connect".
    pub initial_report: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            subscribe_window: 64,
            subscription_timeout_secs: 3600,
            response_timeout: Duration::from_secs(30),
            resync_settle: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
            reconnect: BackoffConfig::RECONNECT,
            resubscribe: BackoffConfig::RESUBSCRIBE,
            seed: 0x1970_0101,
            framing: Framing::Framed,
            read_only: false,
            stats: StatsConfig::default(),
            supervisor_extension: None,
            secondary: None,
            primary_probe: Duration::from_secs(60),
            command_timeout: Duration::from_secs(10),
            initial_report: Duration::from_secs(2),
        }
    }
}

/// Why the link closed (or could not be opened), as the I/O driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disconnect {
    /// HTTP 401 or 403 on the handshake: the credentials were refused. The session stops and
    /// does not retry on its own (IP Office locks out a service user after repeated failures).
    LoginRejected(String),
    /// Anything else: the engine tries again after a backoff.
    Failed(String),
}

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disconnect::LoginRejected(r) | Disconnect::Failed(r) => f.write_str(r),
        }
    }
}

/// A subscription the session keeps.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(tag = "kind", content = "guid", rename_all = "snake_case")]
pub enum Entity {
    /// The lines list (one per connection).
    Lines,
    /// One user.
    User(Guid),
    /// One queue.
    Queue(Guid),
    /// The park server.
    ParkServer,
    /// The presence subscription: every user's phone state (after-call work is reported only
    /// there).
    Presence,
}

impl Entity {
    fn line(&self) -> Option<LineId> {
        match self {
            Entity::Lines | Entity::Presence => None,
            Entity::User(g) => Some(LineId::User(g.clone())),
            Entity::Queue(g) => Some(LineId::Queue(g.clone())),
            Entity::ParkServer => Some(LineId::ParkServer),
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Lines => f.write_str("lines"),
            Entity::User(g) => write!(f, "user {g}"),
            Entity::Queue(g) => write!(f, "queue {g}"),
            Entity::ParkServer => f.write_str("park server"),
            Entity::Presence => f.write_str("presence"),
        }
    }
}

/// A subscription the PBX refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubscribeFailure {
    /// What was subscribed.
    pub entity: Entity,
    /// Its number or name, when known.
    pub label: Text,
    /// The result code.
    pub code: i32,
    /// The document's name for the code, e.g. `MTCTISESS_USERNOTFOUND`.
    pub name: Option<&'static str>,
    /// The entity was dropped from the model (7 and 4: the PBX does not know it).
    pub dropped: bool,
}

/// What the engine has to say.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// Open the connection now (the I/O driver answers with `handle_connected` or
    /// `handle_closed`).
    Connect,
    /// Close the current connection; the engine already treats it as closed (it stopped
    /// answering) and schedules what comes next.
    Disconnect,
    /// Send a websocket ping: the link has been quiet for a while.
    Ping,
    /// While on the secondary: see whether the primary answers again (a TCP connection and a
    /// TLS handshake, nothing sent); the driver answers with [`Session::handle_probe`].
    ProbePrimary,
    /// Close the connection and end: the session was shut down.
    Shutdown,
    /// The model changed.
    Model(ModelEvent),
    /// Every subscription wanted on this connection has been answered.
    Synced(SyncReport),
    /// The PBX refused a subscription.
    SubscribeFailed(SubscribeFailure),
    /// A command moved on (sent, accepted, done, no effect, failed, refused...).
    Command(CommandReport),
}

/// The state of the session after a sync, for `check`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncReport {
    /// Users in the model.
    pub users: usize,
    /// Queues in the model.
    pub queues: usize,
    /// The PBX says the park server can be subscribed.
    pub park_available: bool,
    /// Subscriptions confirmed.
    pub subscribed: usize,
    /// Subscriptions the PBX refused on this connection.
    pub failed: Vec<SubscribeFailure>,
    /// The smoothed request round trip.
    pub round_trip: Option<Duration>,
    /// Which subscriptions the PBX confirmed, by kind.
    pub subscriptions: Subscriptions,
}

/// Which subscriptions the PBX confirmed, by kind (for `check`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Subscriptions {
    /// The lines list.
    pub lines: bool,
    /// Users confirmed, of the users wanted.
    pub users: (usize, usize),
    /// Queues confirmed, of the queues wanted.
    pub queues: (usize, usize),
    /// The park server: `None` when the PBX says it cannot be subscribed.
    pub park_server: Option<bool>,
    /// The presence subscription (phone states): `None` when there is no user to follow.
    pub presence: Option<bool>,
}

/// What went wrong on the wire, counted. The session survives all of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Frames received.
    pub frames_in: u64,
    /// Frames queued for sending.
    pub frames_out: u64,
    /// Notifies received.
    pub notifies: u64,
    /// NotifyAcks sent.
    pub acks: u64,
    /// Frames that could not be decoded (bad header, short, undecodable, too large).
    pub malformed: u64,
    /// Messages a client never expects (a Subscribe from the PBX, an empty Message...).
    pub unexpected: u64,
    /// Notifies ignored: unknown subscription, no payload, or a payload the subscription
    /// does not carry.
    pub ignored_notifies: u64,
    /// RequestResponses and GeneralData that match no request.
    pub unmatched_responses: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a window slot.
    Queued,
    /// Sent; waiting for its RequestResponse.
    Requested,
    /// Confirmed by the PBX.
    Active,
    /// Waiting to be tried again.
    Backoff,
    /// Refused with a code that retrying will not fix.
    Failed,
}

#[derive(Debug)]
struct Sub {
    id: i32,
    phase: Phase,
    backoff: Backoff,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Request {
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

/// The presence subscription's presentities: one per user, named by extension, each with a
/// local reference (lref) that stays the same for as long as the user keeps its extension, so
/// Notifies (which carry only the lref) map back to the user.
#[derive(Debug, Default)]
struct PresenceBook {
    /// user -> (lref, extension).
    by_user: HashMap<Guid, (i32, Text)>,
    /// lref -> user.
    by_lref: HashMap<i32, Guid>,
    last_lref: i32,
    /// What the PBX holds (as of the last Subscribe or UpdatePresence sent): lref -> extension.
    sent: BTreeMap<i32, Text>,
}

impl PresenceBook {
    /// Follows a user at this extension (a new lref when the extension changed).
    fn upsert(&mut self, guid: &Guid, extn: &Text) {
        if extn.is_empty() {
            self.remove(guid);
            return;
        }
        if self.by_user.get(guid).is_some_and(|(_, e)| e == extn) {
            return;
        }
        self.remove(guid);
        self.last_lref = if self.last_lref == i32::MAX {
            1
        } else {
            self.last_lref + 1
        };
        let lref = self.last_lref;
        self.by_user.insert(guid.clone(), (lref, extn.clone()));
        self.by_lref.insert(lref, guid.clone());
    }

    fn remove(&mut self, guid: &Guid) {
        if let Some((lref, _)) = self.by_user.remove(guid) {
            self.by_lref.remove(&lref);
        }
    }

    /// Every presentity wanted, by lref.
    fn wanted(&self) -> BTreeMap<i32, Text> {
        self.by_user
            .values()
            .map(|(lref, extn)| (*lref, extn.clone()))
            .collect()
    }

    fn entry(lref: i32, extn: &Text) -> pb::Presentity {
        pb::Presentity {
            presentity: extn.to_string(),
            lref,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Timer {
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
enum Link {
    /// Will emit Connect when the Reconnect timer fires.
    Waiting,
    /// Connect emitted; waiting for the driver.
    Connecting,
    /// Connected since then.
    Up(Instant),
    /// Not trying.
    Stopped,
}

/// The MTCTI3 client session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    model: Model,
    link: Link,
    attempt: u32,
    reconnect: Backoff,
    rng: ChaCha8Rng,
    subs: HashMap<Entity, Sub>,
    by_id: HashMap<i32, Entity>,
    presence: PresenceBook,
    commands: HashMap<i32, Tracked>,
    next_reference: i32,
    account_codes_fetched: bool,
    /// The system the next connection attempt goes to.
    target: PbxSystem,
    queue: VecDeque<Entity>,
    requests: HashMap<i32, (Request, Instant)>,
    outstanding: usize,
    next_subscribe_id: i32,
    next_request_id: i32,
    timers: Timers<Timer>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<SessionEvent>,
    lines_seen: bool,
    synced: bool,
    failures: Vec<SubscribeFailure>,
    srtt: Option<Duration>,
    last_rx: Instant,
    shut_down: bool,
    counters: Counters,
}

impl Session {
    /// A session that asks to connect at once (its first event is [`SessionEvent::Connect`]).
    pub fn new(config: SessionConfig, now: Instant) -> Session {
        let mut s = Session {
            rng: seeded(config.seed),
            reconnect: Backoff::new(config.reconnect),
            config,
            model: Model::new(),
            link: Link::Stopped,
            attempt: 0,
            subs: HashMap::new(),
            by_id: HashMap::new(),
            presence: PresenceBook::default(),
            commands: HashMap::new(),
            next_reference: 1,
            account_codes_fetched: false,
            target: PbxSystem::Primary,
            queue: VecDeque::new(),
            requests: HashMap::new(),
            outstanding: 0,
            next_subscribe_id: 1,
            next_request_id: 1,
            timers: Timers::default(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            lines_seen: false,
            synced: false,
            failures: Vec::new(),
            srtt: None,
            last_rx: now,
            shut_down: false,
            counters: Counters::default(),
        };
        s.model.configure_stats(now, s.config.stats.clone());
        s.arm_period();
        s.connect_now(now);
        s
    }

    fn arm_period(&mut self) {
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

    /// The subscribe id in use for an entity, if it is subscribed or being subscribed.
    pub fn subscribe_id(&self, entity: &Entity) -> Option<i32> {
        self.subs
            .get(entity)
            .filter(|s| matches!(s.phase, Phase::Requested | Phase::Active))
            .map(|s| s.id)
    }

    /// How many subscribe requests wait for a response now.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// The state of the sync so far.
    pub fn sync_report(&self) -> SyncReport {
        SyncReport {
            users: self.model.users().count(),
            queues: self.model.queues().count(),
            park_available: self.model.park_available(),
            subscribed: self
                .subs
                .values()
                .filter(|s| s.phase == Phase::Active)
                .count(),
            failed: self.failures.clone(),
            round_trip: self.srtt,
            subscriptions: self.subscriptions(),
        }
    }

    fn subscriptions(&self) -> Subscriptions {
        let active = |e: &Entity| self.subs.get(e).is_some_and(|s| s.phase == Phase::Active);
        let mut out = Subscriptions {
            lines: active(&Entity::Lines),
            park_server: self
                .subs
                .contains_key(&Entity::ParkServer)
                .then(|| active(&Entity::ParkServer)),
            presence: self
                .subs
                .contains_key(&Entity::Presence)
                .then(|| active(&Entity::Presence)),
            ..Subscriptions::default()
        };
        for (e, s) in &self.subs {
            let ok = usize::from(s.phase == Phase::Active);
            match e {
                Entity::User(_) => {
                    out.users.0 += ok;
                    out.users.1 += 1;
                }
                Entity::Queue(_) => {
                    out.queues.0 += ok;
                    out.queues.1 += 1;
                }
                _ => {}
            }
        }
        out
    }

    // ----------------------------------------------------------------------------------------
    // Outputs

    /// The next frame to send (framed as configured).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event: the engine's own first, then the model's.
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
    // Inputs

    /// The system the current (or next) connection attempt is for: the driver opens the
    /// primary's or the secondary's endpoint accordingly.
    pub fn target(&self) -> PbxSystem {
        self.target
    }

    /// The answer to [`SessionEvent::ProbePrimary`]: whether the primary could be reached.
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
        self.events.push_back(SessionEvent::Disconnect);
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
        // Never wait on the version: systems before R11.1 do not answer.
        let requestid = self.request_id();
        self.requests.insert(requestid, (Request::Version, now));
        self.send(&msg::get_version_info(requestid));
        // Lines first; then everything already known (after a reconnect), so a site comes
        // back without waiting for the lines list: queues (what a supervisor watches first),
        // the park server, then users. reset_connection left every one of them Queued.
        self.want(Entity::Lines);
        let mut known: Vec<Entity> = self
            .subs
            .iter()
            .filter(|(e, s)| **e != Entity::Lines && s.phase == Phase::Queued)
            .map(|(e, _)| e.clone())
            .collect();
        known.sort_by(|a, b| {
            let rank = |e: &Entity| match e {
                Entity::Lines => 0,
                Entity::Queue(_) => 1,
                Entity::ParkServer => 2,
                Entity::Presence => 3,
                Entity::User(_) => 4,
            };
            rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
        });
        self.queue.extend(known);
        self.update_sync_state(now);
        self.pump(now);
    }

    /// The link closed, or could not be opened.
    pub fn handle_closed(&mut self, now: Instant, reason: Disconnect) {
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
                if self.config.secondary.is_some() && !was_up {
                    // That system cannot be reached: the next attempt goes to the other one
                    // (a link that dropped is first tried again where it was).
                    self.target = match self.target {
                        PbxSystem::Primary => PbxSystem::Secondary,
                        PbxSystem::Secondary => PbxSystem::Primary,
                    };
                }
                let delay = self.reconnect.failed(now, &mut self.rng);
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

    /// Stop for good: the driver closes the link and ends ([`SessionEvent::Shutdown`]).
    pub fn shutdown(&mut self, _now: Instant) {
        if self.shut_down {
            return;
        }
        self.shut_down = true;
        self.reset_connection();
        self.link = Link::Stopped;
        self.events.push_back(SessionEvent::Shutdown);
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
                tracing::warn!(message = ?other, "unexpected message ignored");
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
                        self.events.push_back(SessionEvent::ProbePrimary);
                    }
                }
                Timer::Retry(entity) => {
                    if let Some(sub) = self.subs.get_mut(&entity) {
                        if sub.phase == Phase::Backoff {
                            sub.phase = Phase::Queued;
                            self.queue.push_back(entity);
                        }
                    }
                }
            }
        }
        self.pump(now);
        self.update_sync_state(now);
    }

    // ----------------------------------------------------------------------------------------
    // Connection

    fn arm_keepalive(&mut self, now: Instant) {
        if !self.config.keepalive.is_zero() {
            self.timers
                .set(Timer::Keepalive, now + self.config.keepalive);
        }
    }

    fn keepalive(&mut self, now: Instant) {
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
            self.events.push_back(SessionEvent::Disconnect);
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
        self.events.push_back(SessionEvent::Ping);
        self.timers.set(
            Timer::Keepalive,
            (now + every).min(self.last_rx + dead_after),
        );
    }

    fn connect_now(&mut self, _now: Instant) {
        self.attempt += 1;
        self.link = Link::Connecting;
        self.timers.cancel(&Timer::Reconnect);
        self.events.push_back(SessionEvent::Connect);
        self.model.set_connection(ConnectionState::Connecting {
            attempt: self.attempt,
        });
    }

    /// Forgets everything that belonged to the connection; keeps what is wanted.
    fn reset_connection(&mut self) {
        self.transmit.clear();
        self.requests.clear();
        self.by_id.clear();
        self.queue.clear();
        self.outstanding = 0;
        // The statistics period runs on whatever the link does.
        self.timers.retain(|t| *t == Timer::Period);
        // Every subscription is wanted again on the next connection, failed ones included.
        for sub in self.subs.values_mut() {
            sub.phase = Phase::Queued;
        }
        if self.link != Link::Connecting {
            self.attempt = 0;
        }
    }

    fn update_sync_state(&mut self, now: Instant) {
        if !self.is_connected() {
            return;
        }
        let done = self.synced
            || (self.lines_seen
                && self.outstanding == 0
                && !self
                    .subs
                    .values()
                    .any(|s| matches!(s.phase, Phase::Queued | Phase::Requested | Phase::Backoff)));
        if done && !self.synced {
            self.synced = true;
            self.attempt = 0;
            // The calls already there come in each line's first call-control Notify, which
            // may queue behind the sync's Notifies; a line that has said nothing shortly
            // after the sync has no calls, and its next call is a new one.
            let lines: Vec<Entity> = self
                .subs
                .iter()
                .filter(|(e, s)| s.phase == Phase::Active && e.line().is_some())
                .map(|(e, _)| e.clone())
                .collect();
            for e in lines {
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
            let wanted = self
                .subs
                .values()
                .filter(|s| s.phase != Phase::Failed)
                .count();
            let confirmed = self
                .subs
                .values()
                .filter(|s| s.phase == Phase::Active)
                .count();
            self.model
                .set_connection(ConnectionState::Syncing { confirmed, wanted });
        }
    }

    // ----------------------------------------------------------------------------------------
    // Subscriptions

    fn request_id(&mut self) -> i32 {
        let id = self.next_request_id;
        // Request ids stay positive: 0 means "no response wanted".
        self.next_request_id = if id == i32::MAX { 1 } else { id + 1 };
        id
    }

    fn new_subscribe_id(&mut self) -> i32 {
        let id = self.next_subscribe_id;
        self.next_subscribe_id = if id == i32::MAX { 1 } else { id + 1 };
        id
    }

    fn send(&mut self, msg: &pb::Message) {
        match crate::protocol::encode(msg, self.config.framing) {
            Ok(frame) => {
                self.counters.frames_out += 1;
                self.transmit.push_back(frame);
            }
            Err(e) => tracing::error!(error = %e, "could not encode a message"),
        }
    }

    /// Marks an entity as wanted; it is subscribed when the window allows.
    fn want(&mut self, entity: Entity) {
        match self.subs.get_mut(&entity) {
            Some(sub) if sub.phase == Phase::Queued => {
                if !self.queue.contains(&entity) {
                    self.queue.push_back(entity);
                }
            }
            Some(_) => {}
            None => {
                self.subs.insert(
                    entity.clone(),
                    Sub {
                        id: 0,
                        phase: Phase::Queued,
                        backoff: Backoff::new(self.config.resubscribe),
                    },
                );
                self.queue.push_back(entity);
            }
        }
    }

    /// Sends queued subscribes while the window has room.
    fn pump(&mut self, now: Instant) {
        if !self.is_connected() {
            return;
        }
        while self.outstanding < self.config.subscribe_window.max(1) {
            let Some(entity) = self.queue.pop_front() else {
                break;
            };
            if self.subs.get(&entity).map(|s| s.phase) != Some(Phase::Queued) {
                continue;
            }
            self.send_subscribe(now, entity);
        }
    }

    fn send_subscribe(&mut self, now: Instant, entity: Entity) {
        let id = self.new_subscribe_id();
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
                let entries: Vec<pb::Presentity> = wanted
                    .iter()
                    .map(|(lref, extn)| PresenceBook::entry(*lref, extn))
                    .collect();
                match msg::subscribe_presence(
                    requestid,
                    id,
                    timeout,
                    &entries,
                    PresenceFlags::EMPTY,
                ) {
                    Ok(m) => {
                        self.presence.sent = wanted;
                        m
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot build the presence subscription");
                        if let Some(sub) = self.subs.get_mut(&entity) {
                            sub.phase = Phase::Failed;
                        }
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
        if let Some(sub) = self.subs.get_mut(&entity) {
            sub.id = id;
            sub.phase = Phase::Requested;
        }
        tracing::debug!(%entity, subscribe_id = id, requestid, "subscribe");
        self.by_id.insert(id, entity.clone());
        self.requests
            .insert(requestid, (Request::Subscribe { entity, id }, now));
        self.outstanding += 1;
        self.timers.set(
            Timer::Response(requestid),
            now + self.config.response_timeout,
        );
        self.send(&msg);
    }

    /// The timeout asked for a subscription, in seconds. Presence subscriptions must have one
    /// of 60..=86400 s (the document), whatever the configuration says for the others.
    fn timeout_for(&self, entity: &Entity) -> i32 {
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

    fn refresh_interval(&self, entity: &Entity) -> Option<Duration> {
        let t = u64::try_from(self.timeout_for(entity)).unwrap_or(0);
        // The document refreshes a 3600 s subscription after 50 minutes: five sixths.
        (t > 0).then(|| Duration::from_secs(t) * 5 / 6)
    }

    fn refresh(&mut self, now: Instant, entity: Entity) {
        let Some(sub) = self.subs.get(&entity) else {
            return;
        };
        if sub.phase != Phase::Active {
            return;
        }
        let id = sub.id;
        let timeout = self.timeout_for(&entity);
        tracing::debug!(%entity, subscribe_id = id, "refresh");
        self.send(&msg::refresh(id, timeout));
        if let Some(every) = self.refresh_interval(&entity) {
            self.timers.set(Timer::Refresh(entity), now + every);
        }
    }

    /// Ends a subscription we no longer want and forgets it.
    fn end_subscription(&mut self, entity: &Entity, reason: &str) {
        self.timers.cancel(&Timer::Refresh(entity.clone()));
        self.timers.cancel(&Timer::Retry(entity.clone()));
        self.timers.cancel(&Timer::Resync(entity.clone()));
        if let Some(sub) = self.subs.remove(entity) {
            if matches!(sub.phase, Phase::Requested | Phase::Active) {
                self.by_id.remove(&sub.id);
                if self.is_connected() {
                    self.send(&msg::subscribe_end(0, sub.id, reason));
                }
            }
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
                self.outstanding = self.outstanding.saturating_sub(1);
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

    fn on_subscribe_result(&mut self, now: Instant, entity: Entity, id: i32, code: ResultCode) {
        let current = self
            .subs
            .get(&entity)
            .is_some_and(|s| s.id == id && s.phase == Phase::Requested);
        if !current {
            // Deleted or replaced while the request was out. A subscription that succeeded
            // anyway is ended so the PBX does not keep it for nothing.
            if code.is_success() && self.by_id.get(&id) != Some(&entity) {
                self.send(&msg::subscribe_end(0, id, "no longer wanted"));
            }
            return;
        }
        if code.is_success() {
            if let Some(sub) = self.subs.get_mut(&entity) {
                sub.phase = Phase::Active;
                sub.backoff.up(now);
            }
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
        self.by_id.remove(&id);
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
                self.subs.remove(&entity);
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
                if let Some(sub) = self.subs.get_mut(&entity) {
                    sub.phase = Phase::Failed;
                }
                // Nothing more will be reported on it: what it showed ends.
                if let Some(line) = entity.line() {
                    self.model.finish_resync(now, &line);
                }
            }
        }
    }

    fn report_failure(&mut self, entity: &Entity, label: Text, code: ResultCode, dropped: bool) {
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

    fn retry_later(&mut self, now: Instant, entity: &Entity) {
        let Some(sub) = self.subs.get_mut(entity) else {
            return;
        };
        let delay = sub.backoff.failed(now, &mut self.rng);
        sub.phase = Phase::Backoff;
        self.timers.cancel(&Timer::Refresh(entity.clone()));
        self.timers.set(Timer::Retry(entity.clone()), now + delay);
    }

    fn on_response_timeout(&mut self, now: Instant, requestid: i32) {
        let Some((request, _)) = self.requests.remove(&requestid) else {
            return;
        };
        let Request::Subscribe { entity, id } = request else {
            return;
        };
        self.outstanding = self.outstanding.saturating_sub(1);
        let current = self
            .subs
            .get(&entity)
            .is_some_and(|s| s.id == id && s.phase == Phase::Requested);
        if current {
            tracing::warn!(%entity, subscribe_id = id, "no response to subscribe; trying again later");
            // It may exist on the PBX after all: end it before asking again.
            self.by_id.remove(&id);
            self.send(&msg::subscribe_end(0, id, "no response"));
            self.retry_later(now, &entity);
        }
        self.pump(now);
    }

    fn on_terminated(&mut self, now: Instant, t: pb::SubscribeTerminated) {
        let Some(entity) = self.by_id.remove(&t.subscribe_id) else {
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
            self.outstanding = self.outstanding.saturating_sub(1);
        }
        self.retry_later(now, &entity);
        self.pump(now);
    }

    fn on_general_data(&mut self, now: Instant, d: pb::GeneralData) {
        let asked = self.requests.get(&d.responseid).map(|(r, _)| r.clone());
        use pb::general_data::Payload as G;
        match d.payload {
            Some(G::Getfile(f)) if asked == Some(Request::AccountCodes) => {
                self.requests.remove(&d.responseid);
                let codes = if f.result != 0 {
                    AccountCodes::FreeText {
                        reason: Text::from(format!(
                            "the PBX would not give the list ({})",
                            ResultCode::from_code(f.result)
                        )),
                    }
                } else {
                    match convert::account_codes(&f.payload) {
                        Ok(codes) => AccountCodes::List { codes },
                        Err(why) => AccountCodes::FreeText {
                            reason: Text::from(format!(
                                "the PBX's account code list could not be read: {why}"
                            )),
                        },
                    }
                };
                self.account_codes_done(codes);
            }
            Some(G::Versioninfo(v)) if asked == Some(Request::Version) => {
                self.requests.remove(&d.responseid);
                tracing::info!(version = %v, "PBX version");
                self.model.version_reported(now, Text::from(v));
            }
            other => {
                self.counters.unmatched_responses += 1;
                tracing::warn!(responseid = d.responseid, payload = ?other, "general data we did not ask for");
            }
        }
    }

    fn account_codes_done(&mut self, codes: AccountCodes) {
        match &codes {
            AccountCodes::List { codes } => tracing::info!(count = codes.len(), "account codes"),
            AccountCodes::FreeText { reason } => {
                tracing::info!(%reason, "account codes: free text")
            }
            AccountCodes::Unknown => {}
        }
        self.account_codes_fetched = true;
        self.model.set_account_codes(codes);
    }

    /// After the sync, the account codes are read once (until an answer comes).
    fn fetch_account_codes(&mut self, now: Instant) {
        if self.account_codes_fetched
            || self
                .requests
                .values()
                .any(|(r, _)| *r == Request::AccountCodes)
        {
            return;
        }
        let requestid = self.request_id();
        self.requests
            .insert(requestid, (Request::AccountCodes, now));
        self.send(&msg::get_file(requestid, 1, msg::ACCOUNT_CODE_FILE));
    }

    fn sample_rtt(&mut self, sample: Duration) {
        // The smoothing TCP uses: new = 7/8 old + 1/8 sample.
        self.srtt = Some(match self.srtt {
            None => sample,
            Some(old) => old.mul_f64(0.875) + sample.mul_f64(0.125),
        });
    }

    fn label(&self, entity: &Entity) -> Text {
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

    // ----------------------------------------------------------------------------------------
    // Notifies

    fn on_notify(&mut self, now: Instant, n: pb::Notify) {
        self.counters.notifies += 1;
        // Acknowledge first: the PBX sends nothing more until it has the ack, and nothing the
        // model does may delay or prevent it.
        if let Some(ack) = msg::ack_for(&n) {
            self.counters.acks += 1;
            self.send(&ack);
        }
        let Some(entity) = self.by_id.get(&n.subscribe_id).cloned() else {
            self.counters.ignored_notifies += 1;
            tracing::warn!(
                subscribe_id = n.subscribe_id,
                "Notify for no subscription of ours ignored"
            );
            return;
        };
        use pb::notify::Payload as N;
        match (&entity, n.payload) {
            (Entity::Lines, Some(N::Lines(l))) => self.on_lines(now, l),
            (Entity::User(g), Some(N::User(u))) => {
                let (extn, name, status) = convert::user_status(&u);
                self.model.set_user_status(now, g, extn, name, status);
            }
            (Entity::Queue(g), Some(N::Queue(q))) => {
                let (extn, name, status) = convert::queue_status(&q);
                self.model.set_queue_status(g, extn, name, status);
            }
            (Entity::ParkServer, Some(N::Parkserver(_))) => {}
            (Entity::Presence, Some(N::Presence(p))) => self.on_presence(now, p),
            (Entity::User(_) | Entity::Queue(_) | Entity::ParkServer, Some(N::Callcontrol(cc))) => {
                if let Some(line) = entity.line() {
                    self.on_callcontrol(now, line, cc);
                }
            }
            (_, None) => {
                self.counters.ignored_notifies += 1;
                tracing::warn!(%entity, "Notify without payload ignored");
            }
            (_, Some(other)) => {
                self.counters.ignored_notifies += 1;
                tracing::warn!(%entity, payload = ?other, "Notify with a payload this subscription does not carry ignored");
            }
        }
        // A command's effect shows in a Notify.
        self.check_effects();
    }

    fn on_callcontrol(&mut self, now: Instant, line: LineId, cc: pb::NotifyCallControl) {
        // Snapshots first, then losses: one Notify is one event, and a call may be reported and
        // ended in it.
        for info in &cc.callinfo {
            let snap = convert::call_snapshot(info);
            if !self.model.call_info(now, line.clone(), snap) {
                tracing::debug!(%line, callid = info.callid, "CallInfo for a line no longer kept");
            }
        }
        for lost in &cc.calllost {
            let lost_call = convert::call_lost(lost);
            if !self.model.call_lost(now, line.clone(), lost_call.clone()) {
                self.lost_reference(&line, &lost_call);
                tracing::debug!(
                    %line,
                    callid = lost.callid,
                    referencecallid = lost.referencecallid,
                    "CallLost for a call not seen"
                );
            }
        }
        self.model.end_initial_report(&line);
    }

    fn on_lines(&mut self, now: Instant, l: pb::NotifyLines) {
        self.lines_seen = true;
        let users = l.adduser.iter().chain(l.changeuser.iter());
        for u in users {
            if u.guid.is_empty() {
                tracing::warn!(extn = %u.extn, "user without guid in the lines list ignored");
                continue;
            }
            let e = convert::line_entry(&u.guid, &u.extn, &u.name);
            self.presence.upsert(&e.guid, &e.extn);
            let entity = Entity::User(e.guid.clone());
            if self.model.upsert_user(now, e) == Upsert::Added || !self.subs.contains_key(&entity) {
                self.want(entity);
            }
        }
        let queues = l.addqueue.iter().chain(l.changequeue.iter());
        for q in queues {
            if q.guid.is_empty() {
                tracing::warn!(extn = %q.extn, "queue without guid in the lines list ignored");
                continue;
            }
            let e = convert::line_entry(&q.guid, &q.extn, &q.name);
            let entity = Entity::Queue(e.guid.clone());
            if self.model.upsert_queue(e) == Upsert::Added || !self.subs.contains_key(&entity) {
                self.want(entity);
            }
        }
        for u in &l.deleteuser {
            let g = Guid::from_bytes(&u.guid);
            self.presence.remove(&g);
            self.end_subscription(&Entity::User(g.clone()), "deleted");
            self.model.remove_user(now, &g, RemoveReason::Deleted);
        }
        for q in &l.deletequeue {
            let g = Guid::from_bytes(&q.guid);
            self.end_subscription(&Entity::Queue(g.clone()), "deleted");
            self.model.remove_queue(now, &g, RemoveReason::Deleted);
        }
        let park = NotifyLinesFlags::from_wire(l.flags).contains(NotifyLinesFlags::PARKSERVER);
        if park {
            self.want(Entity::ParkServer);
        } else {
            self.end_subscription(&Entity::ParkServer, "park server not available");
        }
        self.model.set_park_available(now, park);
        if !self.presence.by_user.is_empty() {
            self.want(Entity::Presence);
        }
        self.sync_presence(now);
        self.pump(now);
    }

    /// Brings the PBX's presentity list in step with the users: an UpdatePresence with what
    /// was added and removed, once the presence subscription exists (before that, its
    /// Subscribe will carry the whole list).
    fn sync_presence(&mut self, now: Instant) {
        let Some(id) = self.subscribe_id(&Entity::Presence) else {
            return;
        };
        if !self.is_connected() {
            return;
        }
        let wanted = self.presence.wanted();
        let add: Vec<pb::Presentity> = wanted
            .iter()
            .filter(|(lref, extn)| self.presence.sent.get(lref) != Some(extn))
            .map(|(lref, extn)| PresenceBook::entry(*lref, extn))
            .collect();
        let remove: Vec<pb::Presentity> = self
            .presence
            .sent
            .keys()
            .filter(|lref| !wanted.contains_key(lref))
            .map(|lref| pb::Presentity {
                presentity: String::new(),
                lref: *lref,
            })
            .collect();
        if add.is_empty() && remove.is_empty() {
            return;
        }
        if self.config.read_only {
            // Read-only sends no SubscribeCmd at all: subscribe the new list instead.
            self.end_subscription(&Entity::Presence, "presentities changed");
            if !wanted.is_empty() {
                self.want(Entity::Presence);
            }
            return;
        }
        if wanted.is_empty() {
            self.end_subscription(&Entity::Presence, "no users");
            return;
        }
        let requestid = self.request_id();
        match msg::update_presence(requestid, id, &add, &remove) {
            Ok(msg) => {
                self.presence.sent = wanted;
                self.requests
                    .insert(requestid, (Request::PresenceUpdate { id }, now));
                self.send_subscribe_cmd(&msg);
            }
            Err(e) => tracing::error!(error = %e, "cannot build a presence update"),
        }
    }

    fn on_presence(&mut self, now: Instant, p: pb::NotifyPresence) {
        for e in p.entry {
            let guid = match self.presence.by_lref.get(&e.lref) {
                Some(g) if e.lref != 0 => Some(g.clone()),
                _ => self
                    .model
                    .user_by_extn(&e.presentity)
                    .filter(|_| !e.presentity.is_empty())
                    .map(|u| u.guid.clone()),
            };
            let Some(guid) = guid else {
                tracing::debug!(lref = e.lref, presentity = %e.presentity, "presence for no user of ours");
                continue;
            };
            self.model
                .set_phone_state(now, &guid, PhoneState::from_code(e.phonestate));
        }
    }
}
