//! The PBX model's public types: ids, lines, the changes it reports, users, hunt groups,
//! callers, site figures and placement errors.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::protocol::cmd::ServiceMode;

use crate::sim::site::{Guid, MailboxCounts, RingMode, TimeOfDay, TrunkKind, UserSpec};

/// A user's id in the model (stable for the user's lifetime, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub(super) u32);

/// A hunt group's id in the model (stable, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub(super) u32);

/// A call's id in the model (never reused). Not on the wire: each line numbers its own
/// appearances with `callid`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(pub(super) u64);

/// A line that carries call appearances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Line {
    /// A user's line.
    User(UserId),
    /// A hunt group's line.
    Queue(QueueId),
    /// The park server.
    Park,
}

/// An entry of the lines list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEntry {
    /// Which user or group.
    pub kind: LineKind,
    /// Its guid.
    pub guid: Guid,
    /// Its extension.
    pub extn: String,
    /// Its name.
    pub name: String,
}

/// A user or a group, in the lines list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LineKind {
    /// A user.
    User(UserId),
    /// A hunt group.
    Queue(QueueId),
}

/// What happened to a lines-list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinesOp {
    /// Added (adduser / addqueue).
    Add,
    /// Name or extension changed (changeuser / changequeue).
    Change,
    /// Removed (deleteuser / deletequeue).
    Delete,
}

/// A change the connection layer turns into Notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A call appeared on a line or its appearance changed; read it with [`Pbx::callinfo`](super::Pbx::callinfo).
    Call {
        /// The line.
        line: Line,
        /// The call.
        call: CallKey,
        /// The appearance's callid on that line.
        callid: i32,
    },
    /// A call appearance ended.
    CallLost {
        /// The line.
        line: Line,
        /// The call.
        call: CallKey,
        /// The appearance's callid on that line.
        callid: i32,
        /// `CallLost.reason` (16 = normal clearing).
        reason: i32,
        /// Whether this line's end cleared the call.
        this_end_dropped: bool,
    },
    /// A user's configuration changed (name, DND, log-on, fault, voicemail, absence, ...).
    UserConfig(UserId),
    /// A user's phone state changed (idle, ringing, connected, after-call work, ...).
    UserState(UserId),
    /// A hunt group's configuration changed (service mode, members, mailbox, ...).
    QueueConfig(QueueId),
    /// The lines list changed.
    Lines(LinesOp, LineEntry),
}

pub use crate::protocol::presence::PhoneState;

/// A user. Read through [`Pbx::user`](super::Pbx::user); changed only through the `Pbx`, which reports it.
#[derive(Debug, Clone)]
pub struct User {
    /// The model's id.
    pub id: UserId,
    /// The guid.
    pub guid: Guid,
    /// What the site configures for the user (its `guid` is the one given, if any: `guid`
    /// above is the one in use); changed by administration as on a real system.
    pub spec: UserSpec,
    /// Forward unconditional on.
    pub fwdu: bool,
    /// Forward unconditional destination.
    pub fwdu_number: String,
    /// Forward unconditional goes to voicemail.
    pub fwd_to_vm: bool,
    /// Application presence string.
    pub app: String,
    /// This user's call appearances: (callid, call).
    pub(super) legs: Vec<(i32, CallKey)>,
    pub(super) next_callid: i32,
    pub(super) acw_until: Option<u64>,
    pub(super) idle_since: u64,
    pub(super) queues: Vec<QueueId>,
    pub(super) epoch: u32,
    pub(super) phone_state: PhoneState,
}

impl User {
    /// The phone state last reported.
    pub fn phone_state(&self) -> PhoneState {
        self.phone_state
    }

    /// The hunt groups this user is a member of.
    pub fn queues(&self) -> &[QueueId] {
        &self.queues
    }

    /// Whether the user is in after-call work.
    pub fn in_acw(&self) -> bool {
        self.acw_until.is_some()
    }
}

/// A hunt group member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user: UserId,
    /// Whether the member accepts calls from this group.
    pub enabled: bool,
}

/// Per-group counters since the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounters {
    /// Calls that arrived and were routed (or went straight to voicemail).
    pub arrived: u64,
    /// Calls an agent answered.
    pub answered: u64,
    /// Of those, answered within 20 s.
    pub answered_in_20s: u64,
    /// Callers who hung up unanswered.
    pub abandoned: u64,
    /// Calls that overflowed.
    pub overflowed: u64,
    /// Calls that left a voicemail.
    pub voicemail: u64,
}

/// A hunt group. Read through [`Pbx::queue`](super::Pbx::queue).
#[derive(Debug, Clone)]
pub struct Queue {
    /// The model's id.
    pub id: QueueId,
    /// The guid.
    pub guid: Guid,
    /// Extension.
    pub extn: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Ring mode.
    pub ring_mode: RingMode,
    /// Service mode.
    pub service_mode: ServiceMode,
    /// Seconds a member rings.
    pub no_answer_time: u32,
    /// Voicemail enabled.
    pub voicemail: bool,
    /// Seconds before a waiting call goes to voicemail.
    pub voicemail_time: u32,
    /// Mailbox counters.
    pub mailbox: MailboxCounts,
    /// Arrivals per hour at curve 1.0.
    pub calls_per_hour: f64,
    /// DID callers dial.
    pub did: String,
    /// Trunk the calls arrive on.
    pub trunk: TrunkKind,
    /// Counters since the start.
    pub counters: QueueCounters,
    pub(super) members: Vec<Member>,
    pub(super) overflow: Option<(QueueId, u64)>,
    pub(super) overflow_from: Vec<QueueId>,
    pub(super) appearances: BTreeMap<i32, CallKey>,
    /// Unanswered calls in service order: highest priority first, then longest waiting.
    pub(super) waiting: BTreeSet<(Reverse<u8>, u64, CallKey)>,
    pub(super) next_callid: i32,
}

impl Queue {
    /// Members in list order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The overflow group, if any.
    pub fn overflow_queue(&self) -> Option<QueueId> {
        self.overflow.map(|(q, _)| q)
    }

    /// Calls waiting (unanswered and not in voicemail).
    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }
}

/// Who is on the outside end of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Number (empty when withheld).
    pub number: String,
    /// Network-provided name (may be empty).
    pub name: String,
    /// The caller withheld the number.
    pub withheld: bool,
}

impl Caller {
    /// A caller with this number and name.
    pub fn new(number: &str, name: &str) -> Self {
        Caller {
            number: number.to_string(),
            name: name.to_string(),
            withheld: false,
        }
    }
}

/// The whole site's figures at one moment, for a heartbeat line or a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteStats {
    /// The site's clock.
    pub time_of_day: TimeOfDay,
    /// Calls waiting in groups (queueing or ringing an agent).
    pub waiting: usize,
    /// The longest current wait.
    pub longest_wait: Duration,
    /// Agents with a ringing call.
    pub ringing: usize,
    /// Users on a connected call.
    pub talking: usize,
    /// Users in after-call work.
    pub acw: usize,
    /// Calls in park slots.
    pub parked: usize,
    /// All calls in progress.
    pub calls: usize,
    /// Group calls since the start.
    pub arrived: u64,
    /// Group calls answered since the start.
    pub answered: u64,
    /// Group calls abandoned since the start.
    pub abandoned: u64,
    /// Group calls that overflowed since the start.
    pub overflowed: u64,
    /// Group calls that went to voicemail since the start.
    pub voicemail: u64,
}

/// Why a call could not be placed or parked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// The park slot is malformed.
    #[error("park slot `{0}` must be 1 to 9 characters of 0-9 # *")]
    BadSlot(String),
    /// The park slot holds a call already.
    #[error("park slot {0} is occupied")]
    SlotOccupied(String),
    /// The group does not exist.
    #[error("no such group")]
    NoQueue,
    /// The priority is not 1, 2 or 3.
    #[error("priority {0} is not 1, 2 or 3")]
    BadPriority(u8),
}
