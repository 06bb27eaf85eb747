//! The incremental [`Derived`]: model events mark what they touch, and [`Derived::flush`]
//! derives each touched user, queue and the parked list once for the whole batch.

use crate::model::{FastMap, FastSet};
use std::collections::BTreeSet;
use std::time::Instant;

use super::agents::{AgentIndex, Placed};
use super::cells::{AgentWidths, AgentWords, Census, QueueWidths, QueueWords};
use super::figures::{AgentRow, Panes, QueueFigures, Totals};
use super::filter::{agent_matches, call_matches, needle};
use super::floor::{FloorEntry, FloorIndex};
use super::order::{
    AgentKey, AgentOrder, QueueKey, agent_call, is_busy, parked_calls, waiting_calls,
};
use crate::model::{
    AgentState, AppearanceId, Gcid, Guid, LineId, ModelEvent, Queue, QueueMember, Scope,
    ScopeAgents, Tables, Text, User,
};

/// What a queue's member counts as in its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    Available,
    Busy,
    Neither,
}

impl Counted {
    fn of(state: AgentState) -> Counted {
        match state {
            AgentState::Available => Counted::Available,
            s if is_busy(s) => Counted::Busy,
            _ => Counted::Neither,
        }
    }
}

/// What a queue's row was last derived from, and what it shows.
#[derive(Debug)]
struct QueueSlot {
    key: QueueKey,
    /// The members its figures were counted over.
    members: Vec<QueueMember>,
    /// The waiting calls' gcids as counted in the totals (calls without one count alone).
    gcids: Vec<Gcid>,
    plain: usize,
    /// The waiting calls the filter shows, in the order the queue serves them.
    shown: Vec<AppearanceId>,
    /// The same calls as the floor-wide list sees them.
    floor: Vec<FloorEntry>,
    figures: QueueFigures,
}

/// What the batch touched, each key once.
#[derive(Debug, Default)]
struct Dirty {
    users: FastSet<Guid>,
    queues: FastSet<Guid>,
    parked: bool,
    /// The agent order changed.
    resort: bool,
}

/// What a flush replaced, for keeping the selection on its item or its old neighbour: the
/// old lists that changed (moved out, never copied).
#[derive(Debug, Default)]
pub struct Previous {
    /// The queue order before, when it changed.
    pub queues: Option<Vec<Guid>>,
    /// The waiting rows before, of each queue derived again.
    pub waiting: FastMap<Guid, Vec<AppearanceId>>,
    /// The floor-wide waiting rows before, when they changed.
    pub floor: Option<Vec<AppearanceId>>,
    /// The parked rows before, when derived again.
    pub parked: Option<Vec<AppearanceId>>,
    /// The agent the selection stays on (itself, or its old neighbour).
    pub agent: Option<Guid>,
}

/// Rows and figures derived from the model and the filter, kept current a batch at a time.
#[derive(Debug, Default)]
pub struct Derived {
    /// What the supervisor watches: queues out of scope have no row, users out of scope are
    /// no agents.
    scope: Scope,
    needle: String,
    /// The agent grid's order.
    order: AgentOrder,
    /// The queue whose members the grid is narrowed to.
    narrow: Option<Guid>,
    queues: Vec<Guid>,
    slots: FastMap<Guid, QueueSlot>,
    /// The queue rows' cell widths.
    queue_census: Census<6>,
    agents: AgentIndex,
    floor: FloorIndex,
    parked: Vec<AppearanceId>,
    totals: Totals,
    /// The queue of the longest wait in `totals`.
    longest_queue: Option<Guid>,
    /// The queues with a call waiting, oldest wait first (ties in queue order): the longest
    /// wait without a pass over every queue.
    longest: BTreeSet<(Instant, QueueKey)>,
    /// Member extension -> the queues that list it (once per listing).
    listed: FastMap<Text, Vec<Guid>>,
    /// Users by extension; a shared extension resolves to the last in identity order.
    by_extn: FastMap<Text, BTreeSet<Guid>>,
    /// Each user's extension and what the queue figures count it as, as last derived: a
    /// user whose call changed but whose count did not leaves its queues' figures alone.
    user_extn: FastMap<Guid, (Text, Counted)>,
    /// Waiting calls counted in the totals: per gcid across queues, and those without one.
    waiting_gcids: FastMap<Gcid, usize>,
    waiting_plain: usize,
    dirty: Dirty,
    derivations: u64,
}

impl Derived {
    /// Rows for what `scope` covers (the default covers the whole site), the agents in
    /// `order`.
    pub fn new(scope: Scope, order: AgentOrder) -> Derived {
        Derived {
            scope,
            order,
            ..Derived::default()
        }
    }

    /// Queues, by number.
    pub fn queues(&self) -> &[Guid] {
        &self.queues
    }

    /// The waiting calls listed for a queue (filtered), longest first within each priority.
    pub fn waiting_of(&self, queue: Option<&Guid>) -> &[AppearanceId] {
        queue
            .and_then(|q| self.slots.get(q))
            .map_or(&[], |s| s.shown.as_slice())
    }

    /// The waiting calls of every queue in scope (filtered), one row per call, longest
    /// wait first.
    pub fn floor(&self) -> &[AppearanceId] {
        self.floor.ids()
    }

    /// The queue whose call has waited longest (never filtered).
    pub fn longest_queue(&self) -> Option<&Guid> {
        self.longest_queue.as_ref()
    }

    /// A queue's figures (never filtered).
    pub fn figures(&self, queue: &Guid) -> QueueFigures {
        self.slots.get(queue).map(|s| s.figures).unwrap_or_default()
    }

    /// Agent rows (filtered): ringing and talking first, then available, then away.
    pub fn agents_len(&self) -> usize {
        self.agents.len()
    }

    /// The agent row at `at`.
    pub fn agent(&self, at: usize) -> Option<&AgentRow> {
        self.agents.row(at)
    }

    /// The agent rows at `range`, in order (clipped to the rows there are).
    pub fn agents(
        &self,
        range: impl std::ops::RangeBounds<usize>,
    ) -> impl DoubleEndedIterator<Item = &AgentRow> {
        self.agents.rows(range)
    }

    /// Where an agent's row is, if the filter shows it.
    pub fn agent_position(&self, guid: &Guid) -> Option<usize> {
        self.agents.position(guid)
    }

    /// The widest shown agent cell of each column that varies (the grid sizes its columns
    /// by it).
    pub fn agent_widths(&self) -> AgentWidths {
        self.agents.widest()
    }

    /// The widest queue cell of each column that varies.
    pub fn queue_widths(&self) -> QueueWidths {
        QueueWidths(self.queue_census.widest())
    }

    /// Agents before filtering.
    pub fn agents_total(&self) -> usize {
        self.agents.total()
    }

    /// Parked calls (filtered), by slot.
    pub fn parked(&self) -> &[AppearanceId] {
        &self.parked
    }

    /// Totals (never filtered).
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// How many users, queues and parked lists have been derived so far: one per touched key
    /// per batch, however many events touched it (for tests of the folding).
    #[doc(hidden)]
    pub fn derivations(&self) -> u64 {
        self.derivations
    }

    /// Every pane as one value, to compare with [`super::from_scratch`] (tests only).
    #[doc(hidden)]
    pub fn panes(&self) -> Panes {
        Panes {
            queues: self.queues.clone(),
            waiting: (self.slots.iter())
                .map(|(g, s)| (g.clone(), s.shown.clone()))
                .collect(),
            floor: self.floor.ids().to_vec(),
            longest_queue: self.longest_queue.clone(),
            figures: (self.slots.iter())
                .map(|(g, s)| (g.clone(), s.figures))
                .collect(),
            agents: self.agents.rows(..).cloned().collect(),
            agents_total: self.agents.total(),
            parked: self.parked.clone(),
            totals: self.totals,
        }
    }

    /// Marks what an event touches (for the next [`Derived::flush`]).
    pub fn touch(&mut self, ev: &ModelEvent) {
        match ev {
            ModelEvent::UserAdded { user } | ModelEvent::UserChanged { user, .. } => {
                self.dirty.users.insert(user.guid.clone());
            }
            ModelEvent::UserRemoved { guid, .. } => {
                self.dirty.users.insert(guid.clone());
            }
            ModelEvent::QueueAdded { queue } | ModelEvent::QueueChanged { queue } => {
                self.dirty.queues.insert(queue.guid.clone());
            }
            ModelEvent::QueueRemoved { guid, .. } => {
                self.dirty.queues.insert(guid.clone());
            }
            // An appearance keeps its line for life (the model matches a call again only
            // among its own line's calls), so its line now is the only one it touches.
            ModelEvent::CallNew { call }
            | ModelEvent::CallChanged { call, .. }
            | ModelEvent::CallEnded { call, .. } => {
                self.touch_line(call.key.line.clone());
            }
            ModelEvent::Connection { .. }
            | ModelEvent::Version { .. }
            | ModelEvent::CallsReset { .. }
            | ModelEvent::System { .. }
            | ModelEvent::AccountCodes { .. }
            | ModelEvent::StatsPeriod { .. }
            | ModelEvent::ParkServer { .. } => {}
        }
    }

    fn touch_line(&mut self, line: LineId) {
        match line {
            LineId::User(g) => {
                self.dirty.users.insert(g);
            }
            LineId::Queue(g) => {
                self.dirty.queues.insert(g);
            }
            LineId::ParkServer => self.dirty.parked = true,
        }
    }

    /// Takes a new filter: every row is derived again at the next flush (the supervisor's
    /// own action, so a whole pass is fine).
    pub fn set_filter(&mut self, model: &Tables, filter: &str) {
        let needle = needle(filter);
        if needle == self.needle {
            return;
        }
        self.needle = needle;
        self.touch_all(model);
    }

    /// Takes the agent grid's order and the queue it is narrowed to: every agent is
    /// placed again at the next flush, once (the supervisor's own action).
    pub fn set_agent_view(&mut self, model: &Tables, order: AgentOrder, narrow: Option<Guid>) {
        if (order, &narrow) == (self.order, &self.narrow) {
            return;
        }
        // Keys of two orders do not compare: the grid is sorted again in one go.
        self.dirty.resort |= order != self.order;
        self.order = order;
        self.narrow = narrow;
        let users = model.users().map(|u| &u.guid).chain(self.agents.guids());
        self.dirty.users.extend(users.cloned());
    }

    fn touch_all(&mut self, model: &Tables) {
        let users = model.users().map(|u| &u.guid).chain(self.agents.guids());
        self.dirty.users.extend(users.cloned());
        let queues = model.queues().map(|q| &q.guid).chain(self.slots.keys());
        self.dirty.queues.extend(queues.cloned());
        self.dirty.parked = true;
    }

    /// Derives every touched key again from `model`, once each, and says what it replaced.
    /// `keep_agent` is the selected agent, kept or moved to its old neighbour.
    pub fn flush(&mut self, model: &Tables, keep_agent: Option<&Guid>) -> Previous {
        let mut previous = Previous::default();
        // Queues whose available and busy members are counted again.
        let mut recount: FastSet<Guid> = FastSet::default();
        let queues_touched = !self.dirty.queues.is_empty();
        let reorder = self.flush_queues(model, &mut previous, &mut recount);
        let users: Vec<Guid> = std::mem::take(&mut self.dirty.users).into_iter().collect();
        self.index_users(model, &users, &mut recount);
        for guid in &recount {
            self.recount(model, guid);
        }

        let changed: Vec<(Guid, Placed)> = users
            .into_iter()
            .map(|g| {
                let placed = self.place_agent(model, &g);
                (g, placed)
            })
            .collect();
        let resort = std::mem::take(&mut self.dirty.resort);
        previous.agent = self.agents.apply(changed, keep_agent, resort);

        if reorder {
            let mut keys: Vec<&QueueKey> = self.slots.values().map(|s| &s.key).collect();
            keys.sort_unstable();
            let order = keys.into_iter().map(|k| k.guid().clone()).collect();
            previous.queues = Some(std::mem::replace(&mut self.queues, order));
        }
        if queues_touched || !recount.is_empty() {
            self.total_queues();
        }
        self.totals.agents = self.agents.total();
        self.totals.available = self.agents.available();

        if std::mem::take(&mut self.dirty.parked) {
            self.derivations += 1;
            let parked = parked_calls(model)
                .into_iter()
                .filter(|a| call_matches(a, &self.needle))
                .map(|a| a.id)
                .collect();
            previous.parked = Some(std::mem::replace(&mut self.parked, parked));
        }
        previous
    }

    /// Derives the touched queues again; says whether the queue order changed. Queues whose
    /// members changed go in `recount`, and their members' users are touched when they
    /// start or stop being agents.
    fn flush_queues(
        &mut self,
        model: &Tables,
        previous: &mut Previous,
        recount: &mut FastSet<Guid>,
    ) -> bool {
        let was_everyone = self.listed.is_empty();
        let mut reorder = false;
        for guid in std::mem::take(&mut self.dirty.queues) {
            self.derivations += 1;
            let mut old = self.slots.remove(&guid);
            if let Some(old) = &old {
                self.uncount_waiting(old);
                if let Some(since) = old.figures.longest_since {
                    self.longest.remove(&(since, old.key.clone()));
                }
            }
            let queue = model.queue(&guid).filter(|q| self.scope.covers_queue(q));
            // The member list is kept, not copied, while it stays the same.
            let was = old.as_mut().map(|o| std::mem::take(&mut o.members));
            let was = was.unwrap_or_default();
            let now = queue.map_or(&[][..], |q| q.members());
            let members = if was.as_slice() == now {
                was
            } else {
                if self.narrow.as_ref() == Some(&guid) {
                    // The narrowed grid shows exactly these members.
                    for m in was.iter().chain(now) {
                        self.touch_extn(&m.extn);
                    }
                }
                self.relist(&guid, &was, now);
                recount.insert(guid.clone());
                now.to_vec()
            };
            let new = queue.map(|q| {
                let mut slot = self.derive_queue(model, q, members);
                if let Some(old) = &old {
                    slot.figures.available = old.figures.available;
                    slot.figures.busy = old.figures.busy;
                }
                slot
            });
            reorder |= old.as_ref().map(|s| &s.key) != new.as_ref().map(|s| &s.key);
            let was_floor = old.as_ref().map_or(&[][..], |s| s.floor.as_slice());
            let now_floor = new.as_ref().map_or(&[][..], |s| s.floor.as_slice());
            if previous.floor.is_none() && was_floor != now_floor {
                previous.floor = Some(self.floor.ids().to_vec());
            }
            self.floor.replace(was_floor, now_floor);
            if let Some(old) = old {
                previous.waiting.insert(guid.clone(), old.shown);
            }
            match new {
                Some(new) => {
                    if let Some(since) = new.figures.longest_since {
                        self.longest.insert((since, new.key.clone()));
                    }
                    self.slots.insert(guid, new);
                }
                None => self.queue_census.forget(&guid),
            }
        }
        if self.scope.is_everything() && was_everyone != self.listed.is_empty() {
            // Agents are the queues' members, or every user when no queue lists any.
            let users = model.users().map(|u| &u.guid).chain(self.agents.guids());
            self.dirty.users.extend(users.cloned());
        }
        reorder
    }

    /// Moves the touched users in the extension index; the queues that list their old or
    /// new extension go in `recount`.
    fn index_users(&mut self, model: &Tables, users: &[Guid], recount: &mut FastSet<Guid>) {
        for guid in users {
            let new = model
                .user(guid)
                .map(|u| (u.extn.clone(), Counted::of(u.agent.state)));
            if self.user_extn.get(guid) == new.as_ref() {
                // Same extension, counted the same: no figure changes.
                continue;
            }
            let old = self.user_extn.remove(guid);
            for (extn, _) in old.iter().chain(&new) {
                recount.extend(self.listed.get(extn).into_iter().flatten().cloned());
            }
            if let Some((extn, _)) = old {
                if let Some(set) = self.by_extn.get_mut(&extn) {
                    set.remove(guid);
                    if set.is_empty() {
                        self.by_extn.remove(&extn);
                    }
                }
            }
            if let Some((extn, counted)) = new {
                self.by_extn
                    .entry(extn.clone())
                    .or_default()
                    .insert(guid.clone());
                self.user_extn.insert(guid.clone(), (extn, counted));
            }
        }
    }

    /// A queue's row from the model: its waiting calls and figures (the member counts are
    /// left at zero for the caller), counted in the totals and measured for the columns.
    fn derive_queue(&mut self, model: &Tables, q: &Queue, members: Vec<QueueMember>) -> QueueSlot {
        self.queue_census
            .measure(&q.guid, QueueWords::of(q).widths().0);
        let calls = waiting_calls(model, q);
        let oldest = calls.iter().min_by_key(|a| a.first_seen);
        let figures = QueueFigures {
            waiting: calls.len(),
            longest_since: oldest.map(|a| a.first_seen),
            longest_lower_bound: oldest.is_some_and(|a| a.present_at_connect),
            members: q.members().len(),
            ..QueueFigures::default()
        };
        let mut slot = QueueSlot {
            key: QueueKey::of(q),
            members,
            gcids: Vec::new(),
            plain: 0,
            shown: Vec::new(),
            floor: Vec::new(),
            figures,
        };
        for a in &calls {
            match a.call.gcid.as_ref().filter(|g| !g.is_empty()) {
                Some(g) => {
                    *self.waiting_gcids.entry(g.clone()).or_default() += 1;
                    slot.gcids.push(g.clone());
                }
                None => slot.plain += 1,
            }
            if call_matches(a, &self.needle) {
                slot.shown.push(a.id);
                slot.floor.push(FloorEntry::of(a, q));
            }
        }
        self.waiting_plain += slot.plain;
        slot
    }

    fn uncount_waiting(&mut self, slot: &QueueSlot) {
        self.waiting_plain -= slot.plain;
        for g in &slot.gcids {
            if let Some(n) = self.waiting_gcids.get_mut(g) {
                *n -= 1;
                if *n == 0 {
                    self.waiting_gcids.remove(g);
                }
            }
        }
    }

    /// Moves a queue's listings in the member index; users whose extension starts or stops
    /// being listed anywhere become or stop being agents.
    fn relist(&mut self, queue: &Guid, old: &[QueueMember], new: &[QueueMember]) {
        for m in old {
            if let Some(qs) = self.listed.get_mut(&m.extn) {
                if let Some(at) = qs.iter().position(|q| q == queue) {
                    qs.swap_remove(at);
                }
                if qs.is_empty() {
                    self.listed.remove(&m.extn);
                    self.touch_extn(&m.extn);
                }
            }
        }
        for m in new {
            let qs = self.listed.entry(m.extn.clone()).or_default();
            qs.push(queue.clone());
            if qs.len() == 1 {
                self.touch_extn(&m.extn);
            }
        }
    }

    fn touch_extn(&mut self, extn: &Text) {
        let users = self.by_extn.get(extn).into_iter().flatten().cloned();
        self.dirty.users.extend(users);
    }

    /// Counts a queue's enabled members by what they are doing.
    fn recount(&mut self, model: &Tables, queue: &Guid) {
        let Some(slot) = self.slots.get_mut(queue) else {
            return;
        };
        let (mut available, mut busy) = (0, 0);
        for m in slot.members.iter().filter(|m| m.enabled) {
            let user = self.by_extn.get(&m.extn).and_then(|s| s.last());
            match user.and_then(|g| model.user(g)).map(|u| u.agent.state) {
                Some(AgentState::Available) => available += 1,
                Some(s) if is_busy(s) => busy += 1,
                _ => {}
            }
        }
        slot.figures.available = available;
        slot.figures.busy = busy;
    }

    /// Where a user now sits in the grid, if it is an agent.
    fn place_agent(&mut self, model: &Tables, guid: &Guid) -> Placed {
        self.derivations += 1;
        let u = model.user(guid)?;
        if !self.is_agent(u) {
            return None;
        }
        let (call, more) = agent_call(model, u);
        let narrowed_out = self
            .narrow
            .as_ref()
            .is_some_and(|q| !(self.listed.get(&u.extn)).is_some_and(|qs| qs.contains(q)));
        let shown = !narrowed_out && agent_matches(u, call.map(|c| &**c), &self.needle);
        let row = shown.then(|| {
            let row = AgentRow {
                guid: guid.clone(),
                call: call.map(|c| c.id),
                more,
            };
            let widths = AgentWords::with_call(u, call.map(|c| &**c), more).widths();
            (row, widths)
        });
        Some((AgentKey::of(u, call.map(|c| &**c), self.order), row))
    }

    /// Whether a user has a row in the grid. Without a scope: the queues' members, or every
    /// user when no queue lists any. With one: the users it covers, the members read from
    /// the member index (only queues in scope have a slot) rather than every queue.
    fn is_agent(&self, u: &User) -> bool {
        match &self.scope.agents {
            _ if self.scope.is_everything() => {
                self.listed.is_empty() || self.listed.contains_key(&u.extn)
            }
            ScopeAgents::Members => self.listed.contains_key(&u.extn),
            ScopeAgents::All | ScopeAgents::Listed(_) => self.scope.covers_user_alone(u),
        }
    }

    /// The totals over the queues: calls waiting (each gcid once) and the longest wait.
    fn total_queues(&mut self) {
        self.totals.waiting = self.waiting_plain + self.waiting_gcids.len();
        let longest = self.longest.first().map(|(_, k)| k.guid());
        let figures = longest.and_then(|g| self.slots.get(g)).map(|s| s.figures);
        self.totals.longest_since = figures.and_then(|f| f.longest_since);
        self.totals.longest_lower_bound = figures.is_some_and(|f| f.longest_lower_bound);
        self.longest_queue = longest.cloned();
    }
}
