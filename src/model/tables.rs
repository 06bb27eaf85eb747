//! The tables of what the PBX reports: users, queues, call appearances and the link's
//! facts, with the ways to read them. The session's [`Model`] holds one and keeps it true to
//! the snapshots; a reader on another task (the screen) holds its own, fed with the model's
//! events through [`Tables::apply`].

use super::FastMap;
use std::sync::Arc;
use std::time::Instant;

#[cfg(doc)]
use super::Model;
use super::call::Appearance;
use super::event::{ConnectionState, ModelEvent};
use super::ids::{AppearanceId, AppearanceKey, Gcid, Guid, LineId, Text};
use super::numbered::ByNumber;
use super::queue::Queue;
use super::stats::{AgentCounts, StatsPeriod};
use super::user::{AgentState, User};
use super::{AccountCodes, PbxSystem};

/// What is known of the PBX: users, queues, the park server, call appearances, the link.
#[derive(Debug, Default)]
pub struct Tables {
    pub(super) users: ByNumber<User>,
    pub(super) queues: ByNumber<Queue>,
    pub(super) park_available: bool,
    pub(super) calls: ByLine,
    pub(super) ids: FastMap<AppearanceId, AppearanceKey>,
    pub(super) by_gcid: FastMap<Gcid, Vec<AppearanceId>>,
    pub(super) connection: Option<ConnectionState>,
    pub(super) version: Option<Text>,
    pub(super) system: Option<PbxSystem>,
    pub(super) account_codes: AccountCodes,
    /// The period statistics count over.
    pub(super) stats_period: Option<StatsPeriod>,
}

/// How much the tables hold, for the caps (counting is O(1)).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TableSizes {
    /// Users.
    pub users: usize,
    /// Queues.
    pub queues: usize,
    /// Call appearances.
    pub appearances: usize,
    /// Gcids indexed (each names at least one appearance).
    pub gcids: usize,
}

impl Tables {
    /// Empty tables, for a reader fed with [`Tables::apply`].
    pub fn new() -> Self {
        Self::default()
    }

    /// How many users, queues and appearances are held.
    pub fn sizes(&self) -> TableSizes {
        TableSizes {
            users: self.users.len(),
            queues: self.queues.len(),
            appearances: self.calls.len(),
            gcids: self.by_gcid.len(),
        }
    }

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

    /// The account codes for the picker (free text unless the PBX listed them).
    pub fn account_codes(&self) -> &AccountCodes {
        &self.account_codes
    }

    /// The period statistics count over (once the model has seen its first input).
    pub fn stats_period(&self) -> Option<&StatsPeriod> {
        self.stats_period.as_ref()
    }

    /// When the counting period ends (the next midnight), for the session's timer.
    pub fn stats_deadline(&self) -> Option<Instant> {
        self.stats_period.as_ref().and_then(|p| p.until)
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
        self.users.by_number(extn)
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
        self.queues.by_number(extn)
    }

    /// Every call appearance, by line (in line order), each line's by callid. A pass over
    /// every call: for tests and whole-site work, never per Notify.
    pub fn appearances(&self) -> impl Iterator<Item = &Arc<Appearance>> {
        self.calls.all()
    }

    /// The appearances on one line, by callid.
    pub fn appearances_on<'a>(
        &'a self,
        line: &LineId,
    ) -> impl Iterator<Item = &'a Arc<Appearance>> + 'a {
        self.calls.on(line)
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

    /// Applies an event from another model, keeping this one a copy of it.
    pub fn apply(&mut self, ev: &ModelEvent) {
        match ev {
            ModelEvent::Connection { state } => self.connection = Some(state.clone()),
            ModelEvent::Version { text } => self.version = Some(text.clone()),
            ModelEvent::CallsReset { .. } => {}
            ModelEvent::System { system } => self.system = Some(*system),
            ModelEvent::AccountCodes { codes } => self.account_codes = codes.clone(),
            ModelEvent::StatsPeriod { period } => self.stats_period = Some(period.clone()),
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

    /// Puts an appearance in every index, replacing an older version of it.
    pub(super) fn store(&mut self, call: Arc<Appearance>) {
        // Most stores are a call's next snapshot at the same key with the same gcid: then
        // no index but the slot itself changes, and one look-up does it.
        if let Some(slot) = self.calls.get_mut(&call.key) {
            if slot.id == call.id && slot.call.gcid == call.call.gcid {
                *slot = call;
                return;
            }
        }
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
        self.calls.insert(call);
    }

    pub(super) fn unlink_gcid(&mut self, call: &Appearance) {
        if let Some(g) = &call.call.gcid {
            if let Some(ids) = self.by_gcid.get_mut(g) {
                ids.retain(|i| *i != call.id);
                if ids.is_empty() {
                    self.by_gcid.remove(g);
                }
            }
        }
    }

    pub(super) fn unstore(&mut self, key: &AppearanceKey) -> Option<Arc<Appearance>> {
        let call = self.calls.remove(key)?;
        self.ids.remove(&call.id);
        self.unlink_gcid(&call);
        Some(call)
    }
}

/// Call appearances by line, each line's sorted by callid: finding one is a hash of its line
/// and a search among that line's few calls, and a line's calls (an agent's state, a queue's
/// waiting calls) are one slice. Kept apart from the ordered maps of users and queues: an
/// ordered map keyed by (line, callid) cost a dozen key comparisons and as many cache misses
/// per look-up, several look-ups per Notify. A queue holding very many calls costs a move of
/// its pointers per call that comes or goes, no more.
#[derive(Debug, Default, Clone)]
pub(super) struct ByLine {
    /// Each line's calls with their callids beside them, so a search reads one array.
    lines: FastMap<LineId, Vec<(i32, Arc<Appearance>)>>,
    len: usize,
}

impl ByLine {
    fn at(calls: &[(i32, Arc<Appearance>)], callid: i32) -> Result<usize, usize> {
        calls.binary_search_by_key(&callid, |(c, _)| *c)
    }

    /// The appearance at `key`.
    pub(super) fn get(&self, key: &AppearanceKey) -> Option<&Arc<Appearance>> {
        let calls = self.lines.get(&key.line)?;
        let i = Self::at(calls, key.callid).ok()?;
        calls.get(i).map(|(_, a)| a)
    }

    /// The slot of the appearance at `key`.
    fn get_mut(&mut self, key: &AppearanceKey) -> Option<&mut Arc<Appearance>> {
        let calls = self.lines.get_mut(&key.line)?;
        let i = Self::at(calls, key.callid).ok()?;
        calls.get_mut(i).map(|(_, a)| a)
    }

    pub(super) fn contains_key(&self, key: &AppearanceKey) -> bool {
        self.get(key).is_some()
    }

    /// A line's appearances, by callid.
    pub(super) fn on<'a>(
        &'a self,
        line: &LineId,
    ) -> impl Iterator<Item = &'a Arc<Appearance>> + 'a {
        let calls = self.lines.get(line).map_or(&[][..], Vec::as_slice);
        calls.iter().map(|(_, a)| a)
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Puts `call` at its key, returning what was there.
    pub(super) fn insert(&mut self, call: Arc<Appearance>) -> Option<Arc<Appearance>> {
        let callid = call.key.callid;
        let calls = self.lines.entry(call.key.line.clone()).or_default();
        match Self::at(calls, callid) {
            Ok(i) => calls
                .get_mut(i)
                .map(|(_, old)| std::mem::replace(old, call)),
            Err(i) => {
                calls.insert(i, (callid, call));
                self.len += 1;
                None
            }
        }
    }

    pub(super) fn remove(&mut self, key: &AppearanceKey) -> Option<Arc<Appearance>> {
        let calls = self.lines.get_mut(&key.line)?;
        let i = Self::at(calls, key.callid).ok()?;
        let (_, call) = calls.remove(i);
        if calls.is_empty() {
            self.lines.remove(&key.line);
        }
        self.len -= 1;
        Some(call)
    }

    /// Every appearance, in key order (line, then callid).
    pub(super) fn all(&self) -> impl Iterator<Item = &Arc<Appearance>> {
        let mut lines: Vec<_> = self.lines.iter().collect();
        lines.sort_unstable_by(|a, b| a.0.cmp(b.0));
        lines
            .into_iter()
            .flat_map(|(_, calls)| calls.iter().map(|(_, a)| a))
    }

    /// Every key, in order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &AppearanceKey> {
        self.all().map(|a| &a.key)
    }
}
