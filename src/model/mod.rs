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
mod event;
mod ids;
mod queue;
mod user;

pub use call::{
    Absence, Appearance, CallChanges, CallData, CallFeatureBits, CallFunction, CallLost,
    CallSnapshot, CallState, ConferenceMember, DialDetail, Direction, EndReason, FailedCause,
    LineLabel, Party, QueueDetail, TrunkDetail, TrunkKind,
};
pub use event::{Coalescer, ConnectionState, ModelEvent, RemoveReason, StopKind};
pub use ids::{AppearanceId, AppearanceKey, Gcid, Guid, LineId, Text};
pub use queue::{Queue, QueueMember, QueueStatus, RingMode, ServiceMode};
pub use user::{
    AgentState, AgentStatus, Forwarding, Mailbox, PhoneState, User, UserFeatureBits, UserFunction,
    UserStatus,
};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

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
    next_id: u64,
    events: VecDeque<ModelEvent>,
    replica: bool,
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
        if let Some(existing) = self.calls.get(&key).cloned() {
            let was_pending = self
                .resync
                .get_mut(&line)
                .is_some_and(|pending| pending.remove(&key));
            let other_call = was_pending
                && existing.call.gcid.is_some()
                && snap.gcid.is_some()
                && existing.call.gcid != snap.gcid;
            if other_call {
                // The new subscription reuses the callid for a different call.
                self.end(now, &key, EndReason::NotReported);
                self.insert_new(now, key, label, snap);
            } else {
                self.merge(now, &existing, key, label, snap);
            }
        } else if let Some(old_key) = self.pending_with_gcid(&line, snap.gcid.as_ref()) {
            // The same call, reported again after a resubscription under a new callid: it
            // keeps its identity and its first-seen time.
            if let Some(pending) = self.resync.get_mut(&line) {
                pending.remove(&old_key);
            }
            if let Some(existing) = self.calls.remove(&old_key) {
                self.merge(now, &existing, key, label, snap);
            }
        } else {
            self.insert_new(now, key, label, snap);
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

    // ----------------------------------------------------------------------------------------
    // Replica

    /// Applies an event from another model, keeping this one a copy of it.
    pub fn apply(&mut self, ev: &ModelEvent) {
        match ev {
            ModelEvent::Connection { state } => self.connection = Some(state.clone()),
            ModelEvent::Version { text } => self.version = Some(text.clone()),
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
        let call = Arc::new(Appearance {
            id: AppearanceId(self.next_id),
            key,
            line,
            first_seen: now,
            state_since: now,
            state_observed: false,
            call: snap,
        });
        self.store(call.clone());
        self.emit(ModelEvent::CallNew { call });
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
            call,
            from,
            changes,
        });
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

    fn end(&mut self, _now: Instant, key: &AppearanceKey, reason: EndReason) {
        if let Some(pending) = self.resync.get_mut(&key.line) {
            pending.remove(key);
        }
        if let Some(call) = self.unstore(key) {
            self.emit(ModelEvent::CallEnded { call, reason });
        }
    }

    fn end_line(&mut self, now: Instant, line: &LineId, reason: EndReason) {
        let keys: Vec<_> = self.appearances_on(line).map(|a| a.key.clone()).collect();
        for k in keys {
            self.end(now, &k, reason.clone());
        }
    }

    /// Changes a user (or just re-derives its agent state) and emits one event if anything
    /// changed. Returns whether something changed.
    fn touch_user(&mut self, now: Instant, guid: &Guid, f: impl FnOnce(&mut User)) -> bool {
        let Some(cur) = self.users.get(guid).cloned() else {
            return false;
        };
        let mut u = (*cur).clone();
        f(&mut u);
        let state = AgentState::derive(
            u.status.as_ref(),
            u.phone,
            self.appearances_on(&LineId::User(guid.clone()))
                .map(|a| &**a),
        );
        let agent_from = (state != u.agent.state).then_some(u.agent.state);
        if let Some(from) = agent_from {
            u.agent = AgentStatus {
                state,
                since: now,
                observed: from != AgentState::Unknown,
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

#[cfg(test)]
mod tests;
