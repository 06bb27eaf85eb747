//! The engine's public vocabulary: what it is told ([`Disconnect`]), what it keeps
//! ([`Entity`]), what it says ([`Io`] instructions for the I/O task, [`SessionEvent`]s for
//! readers) and what it reports ([`SyncReport`], [`Counters`]).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::model::{
    CapReached, CommandReport, Guid, LineId, ModelEvent, PbxSystem, ScopeSummary, Text,
};
use crate::session::error::ConnectError;

/// Why the link closed (or could not be opened), as the I/O driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disconnect {
    /// HTTP 401 or 403 on the handshake: the credentials were refused. The session stops and
    /// does not retry on its own (IP Office locks out a service user after repeated failures).
    LoginRejected(String),
    /// Anything else: the engine tries again after a backoff.
    Failed(String),
}

impl From<&ConnectError> for Disconnect {
    /// What the engine makes of a failed attempt: a rejected login stops the session;
    /// anything else is retried.
    fn from(e: &ConnectError) -> Self {
        match e {
            ConnectError::LoginRejected { .. } | ConnectError::NotResent { .. } => {
                Disconnect::LoginRejected(e.to_string())
            }
            other => Disconnect::Failed(other.to_string()),
        }
    }
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
    /// The line whose calls this subscription reports, if it reports calls.
    pub(super) fn line(&self) -> Option<LineId> {
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

/// What the engine tells the I/O task to do. Only the task touches the socket; it answers
/// each instruction through the engine's `handle_*` inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Io {
    /// Open a connection to this system now; the task answers with
    /// [`crate::session::Session::handle_connected`], [`crate::session::Session::handle_connect_failed`] or
    /// [`crate::session::Session::handle_closed`].
    Connect(PbxSystem),
    /// Close the current connection; the engine already treats it as closed (it stopped
    /// answering, or is moving to another system) and schedules what comes next.
    Close,
    /// Send a websocket ping: the link has been quiet for a while.
    Ping,
    /// See whether this system answers again (a TCP connection and a TLS handshake, nothing
    /// sent; asked for the primary while on the secondary); the task answers with
    /// [`crate::session::Session::handle_probe`].
    Probe(PbxSystem),
    /// Close the connection and end: the session was shut down.
    Shutdown,
}

/// What the session tells its readers (the screen, `check`, `events --json`): the one event
/// type from the session outwards.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// The model changed.
    Model(ModelEvent),
    /// Every subscription wanted on this connection has been answered.
    Synced(SyncReport),
    /// The PBX refused a subscription.
    SubscribeFailed(SubscribeFailure),
    /// A connection attempt failed, with the typed reason (the model's connection state says
    /// what happens next).
    ConnectFailed(ConnectError),
    /// A command moved on (sent, accepted, done, no effect, failed, refused...).
    Command(CommandReport),
    /// The PBX reported more than a cap allows: the rest is ignored. Once per cap.
    CapReached(CapReached),
    /// The reader fell so far behind that `folded` events were folded away (a call's new and
    /// ended appearance given as one ended event, or older events dropped); what it holds is
    /// still true, but it did not see every step. Comes first in its batch.
    Lagged {
        /// How many events the reader will never see.
        folded: u64,
    },
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
    pub subscriptions: SubscriptionSummary,
    /// What the scope covers, with the queues it names that the PBX does not have; `None`
    /// when it covers the whole site.
    pub scope: Option<ScopeSummary>,
    /// The caps the PBX's reports reached so far (the rest was ignored).
    pub capped: Vec<CapReached>,
}

/// Which subscriptions the PBX confirmed, by kind (for `check`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubscriptionSummary {
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
