//! The domain the supervisor sees: users, queues, the park server and their call appearances,
//! kept true to the PBX from the snapshots it sends.
//!
//! No I/O, no clock (`now` is passed in) and no protocol types: the session turns MTCTI3
//! messages into the input types here (`LinesUpdate`, `UserStatus`, `QueueStatus`,
//! `CallSnapshot`, `CallLost`), and the model turns them into typed [`ModelEvent`]s.
//!
//! A Notify is a snapshot, not a delta, so the model compares each snapshot with what it holds
//! and emits only real transitions: a new appearance, a state change, a change of parties, an
//! end. What is known sits in [`Tables`]; the session's [`Model`] holds them with the
//! reconciling (`reconcile`) and the statistics counting (`counting`). A reader on another
//! task (the screen) keeps its own [`Tables`], fed with those events ([`Tables::apply`]),
//! without ever holding up the session. What a supervisor may ask is one list of
//! [`Function`]s, checked by [`Tables::allows`] and planned by [`Tables::plan`].

mod alerts;
mod call;
mod command;
mod counting;
mod event;
mod function;
mod ids;
mod judged;
mod numbered;
mod outage;
mod queue;
mod reconcile;
mod scope;
mod stats;
mod tables;
mod trends;
mod user;
mod words;

pub use alerts::{
    ABANDONED_WINDOW, AlertConfig, AlertLevel, AlertTransition, Alerts, DEFAULT_DWELL_SECS,
    DEFAULT_LONGEST_WARN_SECS, DEFAULT_SERVICE_LEVEL_MIN_CALLS, Figure, QueueFigures, Thresholds,
};
pub use call::{
    Absence, Appearance, CallChanges, CallData, CallFeatureBits, CallFunction, CallLost,
    CallSnapshot, CallState, ConferenceMember, DialDetail, Direction, EndReason, FailedCause,
    LineLabel, Party, QueueDetail, TrunkDetail, TrunkKind,
};
pub use command::{
    Command, CommandId, CommandPlan, CommandReport, CommandStatus, PlannedAction, Priority,
    SupervisorCall,
};
pub use event::{
    CapReached, Capped, Coalescer, ConnectionState, MailboxLimits, ModelEvent, RemoveReason,
    StopKind,
};
pub use function::{Disallowed, Function, FunctionTarget, Lines};
pub use ids::{AppearanceId, AppearanceKey, Gcid, Guid, LineId, Text};
pub use judged::{Judged, JudgedFigure, JudgedQueue};
pub use queue::{Queue, QueueMember, QueueStatus, RingMode, ServiceMode};
pub use scope::{InScope, Scope, ScopeAgents, ScopeSummary, UnknownQueue};
pub use stats::{
    AgentCounts, Calendar, DEFINITIONS as STATS_DEFINITIONS, FixedOffset, PeriodStart, QueueStats,
    StatsConfig, StatsPeriod, WallClock, definitions as stats_definitions,
};
pub use tables::{TableSizes, Tables};
pub use trends::{QueueTrendSeen, SL_INTERVAL, Sample, SlInterval, TREND_MINUTES, Trends};
pub use user::{
    AgentState, AgentStats, AgentStatus, Forwarding, Mailbox, PhoneState, User, UserFeatureBits,
    UserFunction, UserStatus,
};

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The hasher of the model's and the screen's indexes, which are keyed by GUIDs, line ids and
/// numbers and looked up several times per Notify: far quicker than the standard SipHash on
/// such short keys, and seeded afresh in each process.
pub type FastHash = foldhash::fast::RandomState;

/// A hash map with [`FastHash`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastHash>;

/// A hash set with [`FastHash`].
pub type FastSet<T> = std::collections::HashSet<T, FastHash>;

/// The account codes the PBX lists (`getfile nasystem/AccountCode`, fetched once after the
/// sync), for the account code picker.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountCodes {
    /// Not known (yet): entry is free text.
    #[default]
    Unknown,
    /// The codes, in the PBX's order (a code may hold wildcards the PBX resolves).
    List {
        /// The codes.
        codes: Vec<Text>,
    },
    /// The list could not be read: entry is free text (the PBX still checks the code).
    FreeText {
        /// Why, in words.
        reason: Text,
    },
}

impl AccountCodes {
    /// Whether the supervisor types the code (no list to pick from).
    pub fn free_text(&self) -> bool {
        !matches!(self, AccountCodes::List { .. })
    }
}

/// Which IP Office the session is on: the primary, or the secondary used while the primary
/// cannot be reached (`[pbx] secondary`). Queue calls are visible only on the system where
/// they queue.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PbxSystem {
    /// The primary system (`[pbx] host`).
    Primary,
    /// The secondary system (`[pbx] secondary`).
    Secondary,
}

/// A user or queue as the lines list names it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LineEntry {
    /// Identity.
    pub guid: Guid,
    /// Extension or queue number.
    pub extn: Text,
    /// Name.
    pub name: Text,
}

/// What happened to an entry given to [`Model::upsert_user`] or [`Model::upsert_queue`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Upsert {
    /// It was new.
    Added,
    /// It was known and its number or name changed.
    Renamed,
    /// It was known as it is.
    Unchanged,
}

/// The live domain model: the [`Tables`], kept true to the PBX's snapshots, and the events
/// that tell readers what changed. It reads as its tables (`Deref`).
#[derive(Debug, Default)]
pub struct Model {
    tables: Tables,
    /// Lines being subscribed again: their appearances wait here to be reported again.
    resync: FastMap<LineId, FastSet<AppearanceKey>>,
    next_id: u64,
    events: VecDeque<ModelEvent>,
    stats: stats::Counting,
    /// Set while the link is down and until everything has been reported again.
    outage: Option<outage::Outage>,
}

impl std::ops::Deref for Model {
    type Target = Tables;

    fn deref(&self) -> &Tables {
        &self.tables
    }
}

impl Model {
    /// An empty model that emits events as it changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ModelEvent> {
        self.events.pop_front()
    }

    fn emit(&mut self, ev: ModelEvent) {
        self.events.push_back(ev);
    }
}

#[cfg(test)]
mod tests;
