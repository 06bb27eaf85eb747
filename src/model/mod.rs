//! The domain the supervisor sees: users, queues, the park server and their call appearances,
//! kept true to the PBX from the snapshots it sends.
//!
//! No I/O, no clock (`now` is passed in) and no protocol types: the session turns MTCTI3
//! messages into the input types here (`LinesUpdate`, `UserStatus`, `QueueStatus`,
//! `CallSnapshot`, `CallLost`), and the model turns them into typed [`ModelEvent`]s.
//!
//! A Notify is a snapshot, not a delta, so the model compares each snapshot with what it holds
//! and emits only real transitions: a new appearance, a state change, a change of parties, an
//! end. The same model can run as a *replica* (see [`Model::apply`]) fed by those events, which
//! is how a reader on another task (the screen) keeps its own copy without ever holding up the
//! session.

mod call;
mod command;
mod event;
mod function;
mod ids;
mod queue;
mod stats;
mod user;

pub use call::{
    Absence, Appearance, CallChanges, CallData, CallFeatureBits, CallFunction, CallLost,
    CallSnapshot, CallState, ConferenceMember, DialDetail, Direction, EndReason, FailedCause,
    LineLabel, Party, QueueDetail, TrunkDetail, TrunkKind,
};
pub use command::{
    Command, CommandId, CommandPlan, CommandReport, CommandStatus, PlannedAction, Priority,
    SupervisorCall,
};
pub use event::{Coalescer, ConnectionState, ModelEvent, RemoveReason, StopKind};
pub use function::{Disallowed, Function, FunctionTarget, Lines};
pub use ids::{AppearanceId, AppearanceKey, Gcid, Guid, LineId, Text};
pub use queue::{Queue, QueueMember, QueueStatus, RingMode, ServiceMode};
pub use stats::{
    AgentCounts, AgentStats, Calendar, DEFINITIONS as STATS_DEFINITIONS, FixedOffset, PeriodStart,
    QueueStats, StatsConfig, StatsPeriod, WallClock, definitions as stats_definitions,
};
pub use user::{
    AgentState, AgentStatus, Forwarding, Mailbox, PhoneState, User, UserFeatureBits, UserFunction,
    UserStatus,
};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

/// The account codes the PBX lists (`getfile nasystem/AccountCode`, fetched once after the
/// sync), for the account code picker.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
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
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
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

/// The live domain model.
#[derive(Debug, Default)]
pub struct Model {
    users: BTreeMap<Guid, Arc<User>>,
    queues: BTreeMap<Guid, Arc<Queue>>,
    park_available: bool,
    calls: BTreeMap<AppearanceKey, Arc<Appearance>>,
    ids: HashMap<AppearanceId, AppearanceKey>,
    by_gcid: HashMap<Gcid, Vec<AppearanceId>>,
    /// Lines being subscribed again: their appearances wait here to be reported again.
    resync: HashMap<LineId, HashSet<AppearanceKey>>,
    connection: Option<ConnectionState>,
    version: Option<Text>,
    system: Option<PbxSystem>,
    account_codes: AccountCodes,
    next_id: u64,
    events: VecDeque<ModelEvent>,
    replica: bool,
    stats: Counting,
    /// Set while the link is down and until everything has been reported again.
    outage: Option<Outage>,
}

/// What was known when the link went down, to tell a reconnect from a PBX restart.
#[derive(Debug, Default)]
struct Outage {
    /// The appearances that existed then.
    known: HashSet<AppearanceId>,
    /// The PBX's version then.
    version: Option<Text>,
}

/// What statistics need beyond the figures kept on queues and users.
#[derive(Debug, Default)]
struct Counting {
    config: StatsConfig,
    /// When counting could first begin (the model's first input).
    started: Option<Instant>,
    period: Option<StatsPeriod>,
    /// Queue appearances being followed, by appearance.
    calls: HashMap<AppearanceId, QueueCall>,
    /// Waiting calls per queue, oldest first.
    waiting: HashMap<Guid, BTreeSet<(Instant, AppearanceId)>>,
    /// Agent appearances already counted as answered.
    answered: HashSet<AppearanceId>,
    /// Lines whose first report after being subscribed has not arrived yet: calls first seen
    /// in it were there before (present at connect).
    initial: HashSet<LineId>,
    /// Queues whose figures changed and have not been emitted yet.
    dirty: BTreeSet<Guid>,
}

/// One call followed on a queue line, for statistics.
#[derive(Debug, Clone)]
struct QueueCall {
    /// The queue it counts for now.
    queue: Option<Guid>,
    /// When it was first seen waiting (it was offered then).
    offered: Option<Instant>,
    /// Its first-seen time is a lower bound, or it was offered before the period began.
    untimed: bool,
    /// Counted as answered.
    answered: bool,
    /// Transferred, redirected or parked from here: neither answered nor abandoned after.
    moved: bool,
}

impl Model {
    /// An empty model that emits events as it changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty replica: fed with [`Model::apply`], it emits nothing.
    pub fn replica() -> Self {
        Model {
            replica: true,
            ..Self::default()
        }
    }

    // ----------------------------------------------------------------------------------------
    // Reading

    /// The link state (Idle until the session says otherwise).
    pub fn connection(&self) -> &ConnectionState {
        self.connection.as_ref().unwrap_or(&ConnectionState::Idle)
    }

    /// The PBX's version string, if it gave one.
    pub fn version(&self) -> Option<&Text> {
        self.version.as_ref()
    }

    /// The system the session is connected to (or last was), once it has connected.
    pub fn system(&self) -> Option<PbxSystem> {
        self.system
    }

    /// Records the system a connection was made to. Moving to the other system ends every
    /// call known: calls seen on one system cannot be matched with the other's.
    pub fn set_system(&mut self, now: Instant, system: PbxSystem) {
        if self.system == Some(system) {
            return;
        }
        let moved = self.system.is_some();
        self.system = Some(system);
        self.emit(ModelEvent::System { system });
        if moved {
            let reason = match system {
                PbxSystem::Secondary => {
                    "connected to the secondary system: the primary's calls cannot be followed there"
                }
                PbxSystem::Primary => {
                    "back on the primary system: the secondary's calls cannot be followed here"
                }
            };
            self.forget_calls(now, reason);
        }
    }

    /// The account codes for the picker (free text unless the PBX listed them).
    pub fn account_codes(&self) -> &AccountCodes {
        &self.account_codes
    }

    /// Records what the PBX's account code file said.
    pub fn set_account_codes(&mut self, codes: AccountCodes) {
        if self.account_codes != codes {
            self.account_codes = codes.clone();
            self.emit(ModelEvent::AccountCodes { codes });
        }
    }

    /// The period statistics count over (once the model has seen its first input).
    pub fn stats_period(&self) -> Option<&StatsPeriod> {
        self.stats.period.as_ref()
    }

    /// When the counting period ends (the next midnight), for the session's timer.
    pub fn stats_deadline(&self) -> Option<Instant> {
        self.stats.period.as_ref().and_then(|p| p.until)
    }

    /// A queue's enabled members now, by what they are doing (disabled members and members
    /// the model does not know count as away).
    pub fn queue_agents(&self, guid: &Guid) -> AgentCounts {
        let mut counts = AgentCounts::default();
        if let Some(q) = self.queues.get(guid) {
            for m in q.members() {
                let state = self
                    .user_by_extn(&m.extn)
                    .map_or(AgentState::Unknown, |u| u.agent.state);
                counts.add(state, m.enabled);
            }
        }
        counts
    }

    /// Whether the PBX says the park server can be followed.
    pub fn park_available(&self) -> bool {
        self.park_available
    }

    /// Every user, in GUID order.
    pub fn users(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
    }

    /// A user by GUID.
    pub fn user(&self, guid: &Guid) -> Option<&Arc<User>> {
        self.users.get(guid)
    }

    /// A user by extension.
    pub fn user_by_extn(&self, extn: &str) -> Option<&Arc<User>> {
        self.users.values().find(|u| u.extn == extn)
    }

    /// Every queue, in GUID order.
    pub fn queues(&self) -> impl Iterator<Item = &Arc<Queue>> {
        self.queues.values()
    }

    /// A queue by GUID.
    pub fn queue(&self, guid: &Guid) -> Option<&Arc<Queue>> {
        self.queues.get(guid)
    }

    /// A queue by number.
    pub fn queue_by_extn(&self, extn: &str) -> Option<&Arc<Queue>> {
        self.queues.values().find(|q| q.extn == extn)
    }

    /// Every call appearance, grouped by line.
    pub fn appearances(&self) -> impl Iterator<Item = &Arc<Appearance>> {
        self.calls.values()
    }

    /// The appearances on one line, by callid.
    pub fn appearances_on<'a>(
        &'a self,
        line: &LineId,
    ) -> impl Iterator<Item = &'a Arc<Appearance>> + 'a {
        let lo = AppearanceKey {
            line: line.clone(),
            callid: i32::MIN,
        };
        let hi = AppearanceKey {
            line: line.clone(),
            callid: i32::MAX,
        };
        self.calls.range(lo..=hi).map(|(_, a)| a)
    }

    /// Parked calls (appearances on the park server).
    pub fn parked(&self) -> impl Iterator<Item = &Arc<Appearance>> {
        self.appearances_on(&LineId::ParkServer)
    }

    /// An appearance by its stable id.
    pub fn appearance(&self, id: AppearanceId) -> Option<&Arc<Appearance>> {
        self.ids.get(&id).and_then(|k| self.calls.get(k))
    }

    /// An appearance by line and callid.
    pub fn appearance_at(&self, key: &AppearanceKey) -> Option<&Arc<Appearance>> {
        self.calls.get(key)
    }

    /// The other appearances of the same call (same gcid) on other lines: the call's queue
    /// appearance, its agents, the park server.
    pub fn linked(&self, id: AppearanceId) -> Vec<&Arc<Appearance>> {
        let Some(gcid) = self.appearance(id).and_then(|a| a.call.gcid.as_ref()) else {
            return Vec::new();
        };
        self.by_gcid
            .get(gcid)
            .into_iter()
            .flatten()
            .filter(|other| **other != id)
            .filter_map(|other| self.appearance(*other))
            .collect()
    }

    // ----------------------------------------------------------------------------------------
    // Events

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ModelEvent> {
        self.events.pop_front()
    }

    fn emit(&mut self, ev: ModelEvent) {
        if !self.replica {
            self.events.push_back(ev);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Inputs from the session

    /// Sets how statistics are counted (thresholds, and the wall clock for midnight); the
    /// counting period starts now, or at the last midnight if that is later.
    pub fn configure_stats(&mut self, now: Instant, config: StatsConfig) {
        self.stats.config = config;
        let started = *self.stats.started.get_or_insert(now);
        let period = StatsPeriod::at(now, started, &self.stats.config);
        self.stats.period = Some(period.clone());
        self.emit(ModelEvent::StatsPeriod { period });
    }

    /// Moves the counting period on when its end has passed (the session calls it at
    /// [`Model::stats_deadline`]; every input checks it too).
    pub fn tick(&mut self, now: Instant) {
        let due = match &self.stats.period {
            None => {
                self.configure_stats(now, self.stats.config.clone());
                return;
            }
            Some(p) => p.until.is_some_and(|until| now >= until),
        };
        if !due {
            return;
        }
        let started = self.stats.started.unwrap_or(now);
        let period = StatsPeriod::at(now, started, &self.stats.config);
        let since = period.since;
        self.stats.period = Some(period.clone());
        self.emit(ModelEvent::StatsPeriod { period });
        // Calls in progress were offered in the last period: their outcome counts now, but
        // not for ASA or service level.
        for c in self.stats.calls.values_mut() {
            c.untimed = true;
        }
        let guids: Vec<Guid> = self.queues.keys().cloned().collect();
        for g in guids {
            self.touch_queue_stats(&g, |s| {
                *s = QueueStats {
                    waiting: s.waiting,
                    oldest_waiting: s.oldest_waiting,
                    oldest_is_lower_bound: s.oldest_is_lower_bound,
                    ..QueueStats::default()
                }
            });
        }
        self.flush_stats();
        let guids: Vec<Guid> = self.users.keys().cloned().collect();
        for g in guids {
            self.touch_user(now, &g, |u| u.stats = AgentStats::new(since));
        }
    }

    /// Marks a call as moved from here (a transfer, redirect or park was accepted): its
    /// queue appearances will count neither as answered nor as abandoned from now on.
    pub fn note_moved(&mut self, id: AppearanceId) {
        let gcid = self
            .appearance(id)
            .and_then(|a| a.call.gcid.clone())
            .filter(|g| !g.is_empty());
        let mut ids = vec![id];
        if let Some(g) = gcid {
            ids.extend(self.by_gcid.get(&g).into_iter().flatten().copied());
        }
        for i in ids {
            if let Some(c) = self.stats.calls.get_mut(&i) {
                c.moved = true;
            }
        }
    }

    /// The first report of a line's calls after it was subscribed has been taken in (or
    /// enough time has passed that it is not coming): calls first seen from now on are new.
    pub fn end_initial_report(&mut self, line: &LineId) {
        self.stats.initial.remove(line);
    }

    /// The link went down: what is known now may be matched again when it returns, unless
    /// the PBX restarted meanwhile.
    pub fn link_lost(&mut self) {
        if self.outage.is_none() {
            self.outage = Some(Outage {
                known: self.ids.keys().copied().collect(),
                version: self.version.clone(),
            });
        }
    }

    /// Every line has been reported again since the link returned: nothing from before the
    /// outage is left to match.
    pub fn outage_over(&mut self) {
        self.outage = None;
    }

    /// Whether appearances from before the link went down are still being matched.
    pub fn in_outage(&self) -> bool {
        self.outage.is_some()
    }

    /// Ends every call appearance at once (the session connected to another system, whose
    /// calls cannot be matched with these).
    pub fn forget_calls(&mut self, now: Instant, reason: &str) {
        self.outage = None;
        self.resync.clear();
        let keys: Vec<AppearanceKey> = self.calls.keys().cloned().collect();
        if keys.is_empty() {
            return;
        }
        self.emit(ModelEvent::CallsReset {
            reason: Text::from(reason),
        });
        for k in keys {
            self.end(now, &k, EndReason::NotReported);
        }
        let users: Vec<Guid> = self.users.keys().cloned().collect();
        for g in users {
            self.touch_user(now, &g, |_| {});
        }
    }

    /// Whether an appearance from before an outage and the call now reported with its gcid
    /// cannot be the same call: then the PBX restarted (gcids are not unique across
    /// restarts), every call known before has ended, and this returns true.
    fn across_restart(&mut self, now: Instant, old: &Appearance, new: &CallSnapshot) -> bool {
        if !self
            .outage
            .as_ref()
            .is_some_and(|o| o.known.contains(&old.id))
        {
            return false;
        }
        let Some(why) = inconsistent(&old.call, new) else {
            return false;
        };
        let reason =
            format!("a call reported again after the link returned {why}: the PBX has restarted");
        self.restarted(now, &reason);
        true
    }

    /// The PBX restarted while the link was down: every call known before it has ended.
    fn restarted(&mut self, now: Instant, reason: &str) {
        let Some(outage) = self.outage.take() else {
            return;
        };
        tracing::warn!(%reason, "every call known before the outage has ended");
        self.emit(ModelEvent::CallsReset {
            reason: Text::from(reason),
        });
        let mut keys: Vec<AppearanceKey> = outage
            .known
            .iter()
            .filter_map(|id| self.ids.get(id).cloned())
            .collect();
        keys.sort();
        for k in keys {
            self.end(now, &k, EndReason::NotReported);
        }
        let users: Vec<Guid> = self.users.keys().cloned().collect();
        for g in users {
            self.touch_user(now, &g, |_| {});
        }
    }

    /// Records the link state.
    pub fn set_connection(&mut self, state: ConnectionState) {
        if self.connection.as_ref() != Some(&state) {
            self.connection = Some(state.clone());
            self.emit(ModelEvent::Connection { state });
        }
    }

    /// Records the PBX's version string.
    pub fn set_version(&mut self, text: Text) {
        if self.version.as_ref() != Some(&text) {
            self.version = Some(text.clone());
            self.emit(ModelEvent::Version { text });
        }
    }

    /// Records the PBX's version string as it arrives on a connection. A different version
    /// after an outage means the PBX restarted (an upgrade): every call known before has
    /// ended.
    pub fn version_reported(&mut self, now: Instant, text: Text) {
        let changed = self
            .outage
            .as_ref()
            .and_then(|o| o.version.as_ref())
            .is_some_and(|v| *v != text);
        if changed {
            self.restarted(now, "the PBX reports another version: it has restarted");
        }
        if self.version.as_ref() != Some(&text) {
            self.version = Some(text.clone());
            self.emit(ModelEvent::Version { text });
        }
    }

    /// Records whether the park server can be followed. When it goes away, parked calls end.
    pub fn set_park_available(&mut self, now: Instant, available: bool) {
        if self.park_available == available {
            return;
        }
        self.park_available = available;
        self.emit(ModelEvent::ParkServer { available });
        if !available {
            self.end_line(now, &LineId::ParkServer, EndReason::ParkServerGone);
        }
    }

    /// Adds a user from the lines list, or renames a known one.
    pub fn upsert_user(&mut self, now: Instant, entry: LineEntry) -> Upsert {
        if self.users.contains_key(&entry.guid) {
            let renamed = self.touch_user(now, &entry.guid, |u| {
                u.extn = entry.extn.clone();
                u.name = entry.name.clone();
            });
            return if renamed {
                Upsert::Renamed
            } else {
                Upsert::Unchanged
            };
        }
        let user = Arc::new(User {
            guid: entry.guid.clone(),
            extn: entry.extn,
            name: entry.name,
            status: None,
            phone: None,
            agent: AgentStatus {
                state: AgentState::Unknown,
                since: now,
                observed: false,
            },
            stats: AgentStats::new(self.period_since(now)),
        });
        self.users.insert(entry.guid, user.clone());
        self.emit(ModelEvent::UserAdded { user });
        Upsert::Added
    }

    /// Removes a user; its appearances end first.
    pub fn remove_user(&mut self, now: Instant, guid: &Guid, reason: RemoveReason) -> bool {
        let line = LineId::User(guid.clone());
        self.end_line(now, &line, EndReason::LineRemoved);
        self.resync.remove(&line);
        let Some(user) = self.users.remove(guid) else {
            return false;
        };
        self.emit(ModelEvent::UserRemoved {
            guid: guid.clone(),
            extn: user.extn.clone(),
            name: user.name.clone(),
            reason,
        });
        true
    }

    /// Records a user's status from its Notify (which also carries its number and name).
    /// Returns false for a user the model does not know.
    pub fn set_user_status(
        &mut self,
        now: Instant,
        guid: &Guid,
        extn: Text,
        name: Text,
        status: UserStatus,
    ) -> bool {
        if !self.users.contains_key(guid) {
            return false;
        }
        self.touch_user(now, guid, |u| {
            if !extn.is_empty() {
                u.extn = extn;
            }
            if !name.is_empty() {
                u.name = name;
            }
            u.status = Some(status);
        });
        true
    }

    /// Records a user's phone state from the presence subscription. Returns false for a user
    /// the model does not know.
    pub fn set_phone_state(&mut self, now: Instant, guid: &Guid, phone: PhoneState) -> bool {
        if !self.users.contains_key(guid) {
            return false;
        }
        self.touch_user(now, guid, |u| u.phone = Some(phone));
        true
    }

    /// Adds a queue from the lines list, or renames a known one.
    pub fn upsert_queue(&mut self, entry: LineEntry) -> Upsert {
        if let Some(q) = self.queues.get(&entry.guid) {
            if q.extn == entry.extn && q.name == entry.name {
                return Upsert::Unchanged;
            }
            let mut q = (**q).clone();
            q.extn = entry.extn;
            q.name = entry.name;
            let queue = Arc::new(q);
            self.queues.insert(entry.guid, queue.clone());
            self.emit(ModelEvent::QueueChanged { queue });
            return Upsert::Renamed;
        }
        let queue = Arc::new(Queue {
            guid: entry.guid.clone(),
            extn: entry.extn,
            name: entry.name,
            status: None,
            stats: QueueStats::default(),
        });
        self.queues.insert(entry.guid, queue.clone());
        self.emit(ModelEvent::QueueAdded { queue });
        Upsert::Added
    }

    /// Removes a queue; its appearances end first.
    pub fn remove_queue(&mut self, now: Instant, guid: &Guid, reason: RemoveReason) -> bool {
        let line = LineId::Queue(guid.clone());
        self.end_line(now, &line, EndReason::LineRemoved);
        self.resync.remove(&line);
        let Some(queue) = self.queues.remove(guid) else {
            return false;
        };
        self.emit(ModelEvent::QueueRemoved {
            guid: guid.clone(),
            extn: queue.extn.clone(),
            name: queue.name.clone(),
            reason,
        });
        true
    }

    /// Records a queue's status from its Notify. Returns false for a queue the model does not
    /// know.
    pub fn set_queue_status(
        &mut self,
        guid: &Guid,
        extn: Text,
        name: Text,
        status: QueueStatus,
    ) -> bool {
        let Some(q) = self.queues.get(guid) else {
            return false;
        };
        let mut q = (**q).clone();
        if !extn.is_empty() {
            q.extn = extn;
        }
        if !name.is_empty() {
            q.name = name;
        }
        q.status = Some(status);
        if self.queues.get(guid).is_some_and(|old| **old == q) {
            return true;
        }
        let queue = Arc::new(q);
        self.queues.insert(guid.clone(), queue.clone());
        self.emit(ModelEvent::QueueChanged { queue });
        true
    }

    /// Merges one call snapshot on a line. Returns false when the line is unknown (the
    /// snapshot is then ignored).
    pub fn call_info(&mut self, now: Instant, line: LineId, snap: CallSnapshot) -> bool {
        let Some(label) = self.line_label(&line) else {
            return false;
        };
        let key = AppearanceKey {
            line: line.clone(),
            callid: snap.callid,
        };
        let pending_here = self
            .resync
            .get(&line)
            .is_some_and(|pending| pending.contains(&key));
        match self.calls.get(&key).cloned() {
            Some(existing) if !pending_here => self.merge(now, &existing, key, label, snap),
            existing => {
                // A new callid, or the line being reported again after it was subscribed
                // anew: match the call by its gcid among what the line showed before.
                let same_key = existing.filter(|e| {
                    e.call.gcid.is_none() || snap.gcid.is_none() || e.call.gcid == snap.gcid
                });
                if let (Some(e), None) = (self.calls.get(&key), &same_key) {
                    // The new subscription gives this callid to another call.
                    let old = e.key.clone();
                    self.end(now, &old, EndReason::NotReported);
                }
                let candidate = match same_key {
                    Some(e) => Some(e),
                    None => self
                        .pending_with_gcid(&line, snap.gcid.as_ref())
                        .and_then(|k| self.calls.get(&k).cloned()),
                };
                let candidate = match candidate {
                    Some(old) if self.across_restart(now, &old, &snap) => None,
                    other => other,
                };
                match candidate {
                    Some(old) => {
                        // The same call: it keeps its identity, first-seen time and selection.
                        if let Some(pending) = self.resync.get_mut(&line) {
                            pending.remove(&old.key);
                        }
                        self.merge(now, &old, key, label, snap);
                    }
                    None => {
                        if self.calls.contains_key(&key) {
                            self.end(now, &key, EndReason::NotReported);
                        }
                        self.insert_new(now, key, label, snap);
                    }
                }
            }
        }
        if let LineId::User(guid) = &line {
            self.touch_user(now, guid, |_| {});
        }
        true
    }

    /// Ends an appearance on a CallLost. Returns false when no appearance has that callid on
    /// that line (e.g. a MakeCall that failed before any CallInfo).
    pub fn call_lost(&mut self, now: Instant, line: LineId, lost: CallLost) -> bool {
        let key = AppearanceKey {
            line: line.clone(),
            callid: lost.callid,
        };
        if !self.calls.contains_key(&key) {
            return false;
        }
        self.end(
            now,
            &key,
            EndReason::Lost {
                cause: lost.cause,
                this_end_dropped: lost.this_end_dropped,
                description: lost.description,
            },
        );
        if let LineId::User(guid) = &line {
            self.touch_user(now, guid, |_| {});
        }
        true
    }

    /// A line is being subscribed again (after a reconnect or a SubscribeTerminated): its
    /// appearances are kept, but each must be reported again before [`Model::finish_resync`]
    /// or it ends. A call reported again under a new callid is matched by its gcid.
    pub fn begin_resync(&mut self, line: &LineId) {
        self.stats.initial.insert(line.clone());
        let keys: HashSet<AppearanceKey> =
            self.appearances_on(line).map(|a| a.key.clone()).collect();
        if keys.is_empty() {
            self.resync.remove(line);
        } else {
            self.resync.insert(line.clone(), keys);
        }
    }

    /// Ends the appearances of a line that were not reported again since
    /// [`Model::begin_resync`].
    pub fn finish_resync(&mut self, now: Instant, line: &LineId) {
        let Some(pending) = self.resync.remove(line) else {
            return;
        };
        let mut keys: Vec<_> = pending.into_iter().collect();
        keys.sort();
        for key in keys {
            self.end(now, &key, EndReason::NotReported);
        }
        if let LineId::User(guid) = line {
            self.touch_user(now, guid, |_| {});
        }
    }

    /// Whether a line has appearances still waiting to be reported again.
    pub fn resync_pending(&self, line: &LineId) -> bool {
        self.resync.contains_key(line)
    }

    /// Whether any line has appearances still waiting to be reported again.
    pub fn any_resync_pending(&self) -> bool {
        !self.resync.is_empty()
    }

    // ----------------------------------------------------------------------------------------
    // Replica

    /// Applies an event from another model, keeping this one a copy of it.
    pub fn apply(&mut self, ev: &ModelEvent) {
        match ev {
            ModelEvent::Connection { state } => self.connection = Some(state.clone()),
            ModelEvent::Version { text } => self.version = Some(text.clone()),
            ModelEvent::CallsReset { .. } => {}
            ModelEvent::System { system } => self.system = Some(*system),
            ModelEvent::AccountCodes { codes } => self.account_codes = codes.clone(),
            ModelEvent::StatsPeriod { period } => self.stats.period = Some(period.clone()),
            ModelEvent::ParkServer { available } => self.park_available = *available,
            ModelEvent::UserAdded { user } | ModelEvent::UserChanged { user, .. } => {
                self.users.insert(user.guid.clone(), user.clone());
            }
            ModelEvent::UserRemoved { guid, .. } => {
                self.users.remove(guid);
                self.drop_line(&LineId::User(guid.clone()));
            }
            ModelEvent::QueueAdded { queue } | ModelEvent::QueueChanged { queue } => {
                self.queues.insert(queue.guid.clone(), queue.clone());
            }
            ModelEvent::QueueRemoved { guid, .. } => {
                self.queues.remove(guid);
                self.drop_line(&LineId::Queue(guid.clone()));
            }
            ModelEvent::CallNew { call } | ModelEvent::CallChanged { call, .. } => {
                self.store(call.clone());
            }
            ModelEvent::CallEnded { call, .. } => {
                if let Some(key) = self.ids.get(&call.id).cloned() {
                    self.unstore(&key);
                }
            }
        }
    }

    fn drop_line(&mut self, line: &LineId) {
        let keys: Vec<_> = self.appearances_on(line).map(|a| a.key.clone()).collect();
        for k in keys {
            self.unstore(&k);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Internals

    fn line_label(&self, line: &LineId) -> Option<LineLabel> {
        match line {
            LineId::User(g) => self.users.get(g).map(|u| LineLabel {
                extn: u.extn.clone(),
                name: u.name.clone(),
            }),
            LineId::Queue(g) => self.queues.get(g).map(|q| LineLabel {
                extn: q.extn.clone(),
                name: q.name.clone(),
            }),
            LineId::ParkServer => Some(LineLabel {
                extn: Text::empty(),
                name: Text::from("park server"),
            }),
        }
    }

    fn pending_with_gcid(&self, line: &LineId, gcid: Option<&Gcid>) -> Option<AppearanceKey> {
        let gcid = gcid.filter(|g| !g.is_empty())?;
        let pending = self.resync.get(line)?;
        let mut matches: Vec<_> = pending
            .iter()
            .filter(|k| {
                self.calls
                    .get(*k)
                    .and_then(|a| a.call.gcid.as_ref())
                    .is_some_and(|g| g == gcid)
            })
            .collect();
        matches.sort();
        matches.first().map(|k| (*k).clone())
    }

    fn insert_new(
        &mut self,
        now: Instant,
        key: AppearanceKey,
        line: LineLabel,
        snap: CallSnapshot,
    ) {
        self.next_id += 1;
        let present_at_connect = self.stats.initial.contains(&key.line);
        let call = Arc::new(Appearance {
            id: AppearanceId(self.next_id),
            key,
            line,
            first_seen: now,
            state_since: now,
            state_observed: false,
            present_at_connect,
            call: snap,
        });
        self.store(call.clone());
        self.emit(ModelEvent::CallNew { call: call.clone() });
        self.count_call(now, None, &call);
    }

    fn merge(
        &mut self,
        now: Instant,
        old: &Arc<Appearance>,
        key: AppearanceKey,
        line: LineLabel,
        snap: CallSnapshot,
    ) {
        let changes = CallChanges::between(&old.call, &snap);
        let moved = old.key != key;
        if changes.is_empty() && !moved && old.line == line {
            return;
        }
        let mut a = (**old).clone();
        let from = changes.state.then_some(old.call.state);
        if changes.state {
            a.state_since = now;
            a.state_observed = true;
        }
        a.call = snap;
        a.key = key;
        a.line = line;
        if moved {
            self.unstore(&old.key);
        }
        let call = Arc::new(a);
        self.store(call.clone());
        self.emit(ModelEvent::CallChanged {
            call: call.clone(),
            from,
            changes,
        });
        self.count_call(now, Some(old), &call);
    }

    /// Puts an appearance in every index, replacing an older version of it.
    fn store(&mut self, call: Arc<Appearance>) {
        if let Some(old_key) = self.ids.get(&call.id).cloned() {
            if old_key != call.key {
                self.unstore(&old_key);
            } else if let Some(old) = self.calls.get(&old_key).cloned() {
                if old.call.gcid != call.call.gcid {
                    self.unlink_gcid(&old);
                }
            }
        }
        if let Some(g) = call.call.gcid.as_ref().filter(|g| !g.is_empty()) {
            let ids = self.by_gcid.entry(g.clone()).or_default();
            if !ids.contains(&call.id) {
                ids.push(call.id);
            }
        }
        self.ids.insert(call.id, call.key.clone());
        self.calls.insert(call.key.clone(), call);
    }

    fn unlink_gcid(&mut self, call: &Appearance) {
        if let Some(g) = &call.call.gcid {
            if let Some(ids) = self.by_gcid.get_mut(g) {
                ids.retain(|i| *i != call.id);
                if ids.is_empty() {
                    self.by_gcid.remove(g);
                }
            }
        }
    }

    fn unstore(&mut self, key: &AppearanceKey) -> Option<Arc<Appearance>> {
        let call = self.calls.remove(key)?;
        self.ids.remove(&call.id);
        self.unlink_gcid(&call);
        Some(call)
    }

    fn end(&mut self, now: Instant, key: &AppearanceKey, reason: EndReason) {
        if let Some(pending) = self.resync.get_mut(&key.line) {
            pending.remove(key);
        }
        if let Some(call) = self.unstore(key) {
            self.emit(ModelEvent::CallEnded {
                call: call.clone(),
                reason: reason.clone(),
            });
            self.count_end(now, &call, &reason);
        }
    }

    fn end_line(&mut self, now: Instant, line: &LineId, reason: EndReason) {
        let keys: Vec<_> = self.appearances_on(line).map(|a| a.key.clone()).collect();
        for k in keys {
            self.end(now, &k, reason.clone());
        }
    }

    // ----------------------------------------------------------------------------------------
    // Statistics

    /// The start of the counting period (the period begins at the first input).
    fn period_since(&mut self, now: Instant) -> Instant {
        self.tick(now);
        self.stats.period.as_ref().map_or(now, |p| p.since)
    }

    /// Changes a queue's statistics; the queue is emitted once, by [`Self::flush_stats`], however
    /// many figures one input changed.
    fn touch_queue_stats(&mut self, guid: &Guid, f: impl FnOnce(&mut QueueStats)) {
        let Some(cur) = self.queues.get_mut(guid) else {
            return;
        };
        let mut stats = cur.stats.clone();
        f(&mut stats);
        if stats == cur.stats {
            return;
        }
        Arc::make_mut(cur).stats = stats;
        self.stats.dirty.insert(guid.clone());
    }

    /// Emits every queue whose figures changed.
    fn flush_stats(&mut self) {
        for guid in std::mem::take(&mut self.stats.dirty) {
            if let Some(queue) = self.queues.get(&guid).cloned() {
                self.emit(ModelEvent::QueueChanged { queue });
            }
        }
    }

    /// The queue a queue appearance counts for: the one its queue information names, else the
    /// queue reporting it.
    fn counting_queue(&self, line: &Guid, call: &Appearance) -> Guid {
        call.call
            .queue
            .as_ref()
            .filter(|q| !q.number.is_empty())
            .and_then(|q| self.queue_by_extn(&q.number))
            .map_or_else(|| line.clone(), |q| q.guid.clone())
    }

    /// Re-reads a queue's waiting calls into its figures.
    fn refresh_waiting(&mut self, guid: &Guid) {
        let set = self.stats.waiting.get(guid);
        let waiting = set.map_or(0, |s| u32::try_from(s.len()).unwrap_or(u32::MAX));
        let oldest = set.and_then(|s| s.first()).copied();
        let lower = oldest
            .and_then(|(_, id)| self.stats.calls.get(&id))
            .is_some_and(|c| c.untimed);
        self.touch_queue_stats(guid, |s| {
            s.waiting = waiting;
            s.oldest_waiting = oldest.map(|(t, _)| t);
            s.oldest_is_lower_bound = lower;
        });
    }

    fn unwait(&mut self, queue: &Guid, since: Instant, id: AppearanceId) {
        let emptied = self.stats.waiting.get_mut(queue).is_some_and(|set| {
            set.remove(&(since, id));
            set.is_empty()
        });
        if emptied {
            self.stats.waiting.remove(queue);
        }
        self.refresh_waiting(queue);
    }

    /// Counts what a new or changed appearance means for the statistics.
    fn count_call(&mut self, now: Instant, old: Option<&Appearance>, new: &Appearance) {
        self.tick(now);
        match &new.key.line {
            LineId::Queue(line) => self.count_queue_call(now, line, new),
            LineId::User(user) => {
                let answered_now = new.call.state == CallState::Connected
                    && new.call.direction != Direction::Outbound
                    && old.is_none_or(|o| o.call.state != CallState::Connected)
                    && !(old.is_none() && new.present_at_connect);
                if answered_now && self.stats.answered.insert(new.id) {
                    let user = user.clone();
                    self.touch_user(now, &user, |u| u.stats.answered += 1);
                }
            }
            LineId::ParkServer => {}
        }
        self.flush_stats();
    }

    fn count_queue_call(&mut self, now: Instant, line: &Guid, new: &Appearance) {
        let queue = self.counting_queue(line, new);
        let since = self.stats.period.as_ref().map_or(now, |p| p.since);
        let mut track = self.stats.calls.remove(&new.id).unwrap_or(QueueCall {
            queue: None,
            offered: None,
            untimed: new.present_at_connect || new.first_seen < since,
            answered: false,
            moved: false,
        });
        let was = track.queue.clone();
        // Out of the old queue's waiting list (it is put back below if it still waits).
        if let (Some(old_q), Some(at)) = (&was, track.offered) {
            if self
                .stats
                .waiting
                .get(old_q)
                .is_some_and(|s| s.contains(&(at, new.id)))
            {
                self.unwait(old_q, at, new.id);
            }
        }
        if new.call.state.is_waiting() && !track.answered && !track.moved {
            let newly_offered = track.offered.is_none() || was.as_ref() != Some(&queue);
            let at = *track.offered.get_or_insert(new.first_seen);
            if newly_offered {
                // First seen waiting here: offered to this queue.
                self.touch_queue_stats(&queue, |s| s.offered += 1);
            }
            self.stats.calls.insert(new.id, track.clone());
            self.stats
                .waiting
                .entry(queue.clone())
                .or_default()
                .insert((at, new.id));
            self.refresh_waiting(&queue);
        } else if new.call.state == CallState::Connected
            && !track.answered
            && !track.moved
            && self.with_agent(new)
        {
            if let Some(at) = track.offered {
                track.answered = true;
                let wait = now.saturating_duration_since(at);
                let timed = !track.untimed;
                let sl = self.stats.config.service_level;
                self.touch_queue_stats(&queue, |s| {
                    s.answered += 1;
                    if timed {
                        s.timed_answered += 1;
                        s.answer_wait_ms += u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                        if wait <= sl {
                            s.answered_in_sl += 1;
                        }
                    } else {
                        s.lower_bound += 1;
                    }
                });
            }
        }
        track.queue = Some(queue);
        self.stats.calls.insert(new.id, track);
    }

    /// Whether a connected queue call is connected to an agent (a known user), not to
    /// voicemail, a conference or an outside number.
    fn with_agent(&self, a: &Appearance) -> bool {
        match a.call.connected.as_ref().filter(|p| !p.number.is_empty()) {
            Some(p) => self.user_by_extn(&p.number).is_some(),
            // Nothing says who answered: the state alone is the PBX's word.
            None => true,
        }
    }

    /// Counts an appearance's end: an abandon, when the caller hung up while waiting.
    fn count_end(&mut self, now: Instant, call: &Appearance, reason: &EndReason) {
        self.tick(now);
        self.stats.answered.remove(&call.id);
        let Some(track) = self.stats.calls.remove(&call.id) else {
            return;
        };
        let (Some(queue), Some(at)) = (track.queue, track.offered) else {
            return;
        };
        let was_waiting = self
            .stats
            .waiting
            .get(&queue)
            .is_some_and(|s| s.contains(&(at, call.id)));
        if was_waiting {
            self.unwait(&queue, at, call.id);
            self.flush_stats();
        }
        let abandoned = matches!(reason, EndReason::Lost { .. })
            && call.call.state.is_waiting()
            && !track.answered
            && !track.moved;
        if !abandoned {
            return;
        }
        let wait = now.saturating_duration_since(at);
        let short = wait < self.stats.config.short_abandon;
        let timed = !track.untimed;
        self.touch_queue_stats(&queue, |s| {
            s.abandoned += 1;
            if short {
                s.short_abandoned += 1;
            } else if timed {
                s.timed_abandoned += 1;
            } else {
                s.lower_bound += 1;
            }
        });
        self.flush_stats();
    }

    /// Changes a user (or just re-derives its agent state) and emits one event if anything
    /// changed. Returns whether something changed.
    fn touch_user(&mut self, now: Instant, guid: &Guid, f: impl FnOnce(&mut User)) -> bool {
        let Some(cur) = self.users.get(guid).cloned() else {
            return false;
        };
        let mut u = (*cur).clone();
        f(&mut u);
        let line = LineId::User(guid.clone());
        let state = AgentState::derive(
            u.status.as_ref(),
            u.phone,
            self.appearances_on(&line).map(|a| &**a),
        );
        let agent_from = (state != u.agent.state).then_some(u.agent.state);
        if let Some(from) = agent_from {
            // A call state whose call was already there when the line was (re)subscribed began
            // before we saw it, even when the user's status arrived first and showed it idle.
            let on_call = |s: AgentState| {
                matches!(
                    s,
                    AgentState::Talking | AgentState::Ringing | AgentState::Held
                )
            };
            let inherited = on_call(state)
                && !on_call(from)
                && self.appearances_on(&line).any(|a| a.present_at_connect);
            u.stats.close_spell(&u.agent, now);
            u.agent = AgentStatus {
                state,
                since: now,
                observed: from != AgentState::Unknown && !inherited,
            };
        }
        if u == *cur {
            return false;
        }
        let user = Arc::new(u);
        self.users.insert(guid.clone(), user.clone());
        self.emit(ModelEvent::UserChanged { user, agent_from });
        true
    }
}

/// Why two snapshots with the same gcid, one from before an outage and one after, cannot be
/// the same call; `None` when they can.
fn inconsistent(old: &CallSnapshot, new: &CallSnapshot) -> Option<&'static str> {
    let number = |p: &Option<Party>| {
        p.as_ref()
            .map(|p| p.number.clone())
            .filter(|n| !n.is_empty())
    };
    if let (Some(a), Some(b)) = (number(&old.calling), number(&new.calling)) {
        if a != b {
            return Some("with another calling party");
        }
    }
    if old.direction != Direction::Undefined
        && new.direction != Direction::Undefined
        && old.direction != new.direction
    {
        return Some("in the other direction");
    }
    let answered = matches!(
        old.state,
        CallState::Connected
            | CallState::OnHold
            | CallState::OnHoldPendTransfer
            | CallState::OnHoldPendConf
            | CallState::AnsweredByVoicemail
            | CallState::LeavingVoicemailMessage
    );
    let starting = matches!(
        new.state,
        CallState::Queueing
            | CallState::DialTone
            | CallState::Dialling
            | CallState::Dialled
            | CallState::RingBack
    );
    if answered && starting {
        return Some("back in a state it had left");
    }
    None
}

#[cfg(test)]
mod tests;
