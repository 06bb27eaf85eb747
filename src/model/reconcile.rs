//! Reconciling: the session's inputs (lines, statuses, call snapshots, losses, resyncs) turned
//! into changes of the tables and the [`ModelEvent`]s that tell readers about them. A Notify
//! is a snapshot, so each one is compared with what is held and only real transitions are
//! emitted.

use std::sync::Arc;
use std::time::Instant;

use super::outage::Outage;
use super::{
    AccountCodes, AgentState, AgentStats, AgentStatus, Appearance, AppearanceId, AppearanceKey,
    CallChanges, CallLost, CallSnapshot, CallState, ConnectionState, Direction, EndReason, FastSet,
    Gcid, Guid, LineEntry, LineId, LineLabel, Model, ModelEvent, Party, PbxSystem, PhoneState,
    Queue, QueueStats, QueueStatus, RemoveReason, StatsConfig, StatsPeriod, Text, Upsert, User,
    UserStatus,
};

impl Model {
    /// Records the system a connection was made to. Moving to the other system ends every
    /// call known: calls seen on one system cannot be matched with the other's.
    pub fn set_system(&mut self, now: Instant, system: PbxSystem) {
        if self.tables.system == Some(system) {
            return;
        }
        let moved = self.tables.system.is_some();
        self.tables.system = Some(system);
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

    /// Records what the PBX's account code file said.
    pub fn set_account_codes(&mut self, codes: AccountCodes) {
        if self.tables.account_codes != codes {
            self.tables.account_codes = codes.clone();
            self.emit(ModelEvent::AccountCodes { codes });
        }
    }

    /// Sets how statistics are counted (thresholds, and the wall clock for midnight); the
    /// counting period starts now, or at the last midnight if that is later.
    pub fn configure_stats(&mut self, now: Instant, config: StatsConfig) {
        self.stats.config = config;
        let started = *self.stats.started.get_or_insert(now);
        let period = StatsPeriod::at(now, started, &self.stats.config);
        self.tables.stats_period = Some(period.clone());
        self.emit(ModelEvent::StatsPeriod { period });
    }

    /// Moves the counting period on when its end has passed (the session calls it at
    /// [`Tables::stats_deadline`]; every input checks it too).
    pub fn tick(&mut self, now: Instant) {
        let due = match &self.tables.stats_period {
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
        self.tables.stats_period = Some(period.clone());
        self.emit(ModelEvent::StatsPeriod { period });
        // Calls in progress were offered in the last period: their outcome counts now, but
        // not for ASA or service level.
        for c in self.stats.calls.values_mut() {
            c.untimed = true;
        }
        let guids: Vec<Guid> = self.tables.queues.keys().cloned().collect();
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
        let guids: Vec<Guid> = self.tables.users.keys().cloned().collect();
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
            ids.extend(self.tables.by_gcid.get(&g).into_iter().flatten().copied());
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
                known: self.tables.ids.keys().copied().collect(),
                version: self.tables.version.clone(),
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
        let keys: Vec<AppearanceKey> = self.tables.calls.keys().cloned().collect();
        if keys.is_empty() {
            return;
        }
        self.emit(ModelEvent::CallsReset {
            reason: Text::from(reason),
        });
        for k in keys {
            self.end(now, &k, EndReason::NotReported);
        }
        let users: Vec<Guid> = self.tables.users.keys().cloned().collect();
        for g in users {
            self.recheck_agent(now, &g);
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
            .filter_map(|id| self.tables.ids.get(id).cloned())
            .collect();
        keys.sort();
        for k in keys {
            self.end(now, &k, EndReason::NotReported);
        }
        let users: Vec<Guid> = self.tables.users.keys().cloned().collect();
        for g in users {
            self.recheck_agent(now, &g);
        }
    }

    /// Records the link state.
    pub fn set_connection(&mut self, state: ConnectionState) {
        if self.tables.connection.as_ref() != Some(&state) {
            self.tables.connection = Some(state.clone());
            self.emit(ModelEvent::Connection { state });
        }
    }

    /// Records the PBX's version string.
    pub fn set_version(&mut self, text: Text) {
        if self.tables.version.as_ref() != Some(&text) {
            self.tables.version = Some(text.clone());
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
        if self.tables.version.as_ref() != Some(&text) {
            self.tables.version = Some(text.clone());
            self.emit(ModelEvent::Version { text });
        }
    }

    /// Records whether the park server can be followed. When it goes away, parked calls end.
    pub fn set_park_available(&mut self, now: Instant, available: bool) {
        if self.tables.park_available == available {
            return;
        }
        self.tables.park_available = available;
        self.emit(ModelEvent::ParkServer { available });
        if !available {
            self.end_line(now, &LineId::ParkServer, EndReason::ParkServerGone);
        }
    }

    /// Adds a user from the lines list, or renames a known one.
    pub fn upsert_user(&mut self, now: Instant, entry: LineEntry) -> Upsert {
        if self.tables.users.contains_key(&entry.guid) {
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
        self.tables.users.insert(entry.guid, user.clone());
        self.emit(ModelEvent::UserAdded { user });
        Upsert::Added
    }

    /// Removes a user; its appearances end first.
    pub fn remove_user(&mut self, now: Instant, guid: &Guid, reason: RemoveReason) -> bool {
        let line = LineId::User(guid.clone());
        self.end_line(now, &line, EndReason::LineRemoved);
        self.resync.remove(&line);
        let Some(user) = self.tables.users.remove(guid) else {
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
        if !self.tables.users.contains_key(guid) {
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
        if !self.tables.users.contains_key(guid) {
            return false;
        }
        self.touch_user(now, guid, |u| u.phone = Some(phone));
        true
    }

    /// Adds a queue from the lines list, or renames a known one.
    pub fn upsert_queue(&mut self, entry: LineEntry) -> Upsert {
        if let Some(q) = self.tables.queues.get(&entry.guid) {
            if q.extn == entry.extn && q.name == entry.name {
                return Upsert::Unchanged;
            }
            let mut q = (**q).clone();
            q.extn = entry.extn;
            q.name = entry.name;
            let queue = Arc::new(q);
            self.tables.queues.insert(entry.guid, queue.clone());
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
        self.tables.queues.insert(entry.guid, queue.clone());
        self.emit(ModelEvent::QueueAdded { queue });
        Upsert::Added
    }

    /// Removes a queue; its appearances end first.
    pub fn remove_queue(&mut self, now: Instant, guid: &Guid, reason: RemoveReason) -> bool {
        let line = LineId::Queue(guid.clone());
        self.end_line(now, &line, EndReason::LineRemoved);
        self.resync.remove(&line);
        let Some(queue) = self.tables.queues.remove(guid) else {
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
        let Some(q) = self.tables.queues.get(guid) else {
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
        if self.tables.queues.get(guid).is_some_and(|old| **old == q) {
            return true;
        }
        let queue = Arc::new(q);
        self.tables.queues.insert(guid.clone(), queue.clone());
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
        // Whether a call state on the line may have changed: the agent's state is derived from
        // nothing else of its calls, so a snapshot that changed other things leaves it be.
        let states_changed = match self.tables.calls.get(&key).cloned() {
            Some(existing) if !pending_here => self.merge(now, &existing, key, label, snap),
            existing => {
                // A new callid, or the line being reported again after it was subscribed
                // anew: match the call by its gcid among what the line showed before.
                let same_key = existing.filter(|e| {
                    e.call.gcid.is_none() || snap.gcid.is_none() || e.call.gcid == snap.gcid
                });
                if let (Some(e), None) = (self.tables.calls.get(&key), &same_key) {
                    // The new subscription gives this callid to another call.
                    let old = e.key.clone();
                    self.end(now, &old, EndReason::NotReported);
                }
                let candidate = match same_key {
                    Some(e) => Some(e),
                    None => self
                        .pending_with_gcid(&line, snap.gcid.as_ref())
                        .and_then(|k| self.tables.calls.get(&k).cloned()),
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
                        if self.tables.calls.contains_key(&key) {
                            self.end(now, &key, EndReason::NotReported);
                        }
                        self.insert_new(now, key, label, snap);
                    }
                }
                true
            }
        };
        if let (LineId::User(guid), true) = (&line, states_changed) {
            self.recheck_agent(now, guid);
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
        if !self.tables.calls.contains_key(&key) {
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
            self.recheck_agent(now, guid);
        }
        true
    }

    /// A line is being subscribed again (after a reconnect or a SubscribeTerminated): its
    /// appearances are kept, but each must be reported again before [`Model::finish_resync`]
    /// or it ends. A call reported again under a new callid is matched by its gcid.
    pub fn begin_resync(&mut self, line: &LineId) {
        self.stats.initial.insert(line.clone());
        let keys: FastSet<AppearanceKey> =
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
            self.recheck_agent(now, guid);
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

    pub(super) fn line_label(&self, line: &LineId) -> Option<LineLabel> {
        match line {
            LineId::User(g) => self.tables.users.get(g).map(|u| LineLabel {
                extn: u.extn.clone(),
                name: u.name.clone(),
            }),
            LineId::Queue(g) => self.tables.queues.get(g).map(|q| LineLabel {
                extn: q.extn.clone(),
                name: q.name.clone(),
            }),
            LineId::ParkServer => Some(LineLabel {
                extn: Text::empty(),
                name: Text::from("park server"),
            }),
        }
    }

    pub(super) fn pending_with_gcid(
        &self,
        line: &LineId,
        gcid: Option<&Gcid>,
    ) -> Option<AppearanceKey> {
        let gcid = gcid.filter(|g| !g.is_empty())?;
        let pending = self.resync.get(line)?;
        let mut matches: Vec<_> = pending
            .iter()
            .filter(|k| {
                self.tables
                    .calls
                    .get(k)
                    .and_then(|a| a.call.gcid.as_ref())
                    .is_some_and(|g| g == gcid)
            })
            .collect();
        matches.sort();
        matches.first().map(|k| (*k).clone())
    }

    pub(super) fn insert_new(
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
        self.tables.store(call.clone());
        self.emit(ModelEvent::CallNew { call: call.clone() });
        self.count_call(now, None, &call);
    }

    /// Takes a known call's next snapshot; says whether its state changed.
    pub(super) fn merge(
        &mut self,
        now: Instant,
        old: &Arc<Appearance>,
        key: AppearanceKey,
        line: LineLabel,
        snap: CallSnapshot,
    ) -> bool {
        let changes = CallChanges::between(&old.call, &snap);
        let moved = old.key != key;
        if changes.is_empty() && !moved && old.line == line {
            return false;
        }
        let state_changed = changes.state;
        let from = changes.state.then_some(old.call.state);
        // Built anew rather than cloned: the old snapshot is not copied only to be replaced.
        let a = Appearance {
            id: old.id,
            key,
            line,
            first_seen: old.first_seen,
            state_since: if changes.state { now } else { old.state_since },
            state_observed: changes.state || old.state_observed,
            present_at_connect: old.present_at_connect,
            call: snap,
        };
        if moved {
            self.tables.unstore(&old.key);
        }
        let call = Arc::new(a);
        self.tables.store(call.clone());
        self.emit(ModelEvent::CallChanged {
            call: call.clone(),
            from,
            changes,
        });
        self.count_call(now, Some(old), &call);
        state_changed
    }

    pub(super) fn end(&mut self, now: Instant, key: &AppearanceKey, reason: EndReason) {
        if let Some(pending) = self.resync.get_mut(&key.line) {
            pending.remove(key);
        }
        if let Some(call) = self.tables.unstore(key) {
            self.emit(ModelEvent::CallEnded {
                call: call.clone(),
                reason: reason.clone(),
            });
            self.count_end(now, &call, &reason);
        }
    }

    pub(super) fn end_line(&mut self, now: Instant, line: &LineId, reason: EndReason) {
        let keys: Vec<_> = self.appearances_on(line).map(|a| a.key.clone()).collect();
        for k in keys {
            self.end(now, &k, reason.clone());
        }
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
