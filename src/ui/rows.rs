//! What the panes list, derived from the model: which rows in which order, and the figures
//! that summarise them. `update` keeps one [`Derived`] current after every change, and both
//! navigation and the views read it, so they always agree on what row is where.
//!
//! Nothing here depends on `now`: rows are ordered by when things began (first seen, time of
//! the last state change), so the order only changes when the model does.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use crate::model::EndReason;

use super::text::clean;
use crate::model::{
    AgentState, Appearance, AppearanceId, Guid, LineId, Party, Queue, Tables, User,
};

/// A row of the agent grid.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AgentRow {
    /// The user.
    pub guid: Guid,
    /// The call shown on the row: the one that matches the agent's state.
    pub call: Option<AppearanceId>,
    /// How many more calls the agent has.
    pub more: usize,
}

/// A queue's figures.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct QueueFigures {
    /// Calls waiting (QUEUEING, RINGING or RETARGETING).
    pub waiting: usize,
    /// When the longest-waiting call was first seen.
    pub longest_since: Option<Instant>,
    /// That call was already waiting when ipo-top connected: its wait is a lower bound (≥).
    pub longest_lower_bound: bool,
    /// Enabled members who are available.
    pub available: usize,
    /// Enabled members on a call, ringing or in after-call work.
    pub busy: usize,
    /// Members listed.
    pub members: usize,
}

/// Figures over every queue and agent.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Totals {
    /// Calls waiting in any queue (a call is counted once even if two queues report it).
    pub waiting: usize,
    /// When the longest-waiting call was first seen.
    pub longest_since: Option<Instant>,
    /// That call's wait is a lower bound (≥).
    pub longest_lower_bound: bool,
    /// Agents available.
    pub available: usize,
    /// Agents.
    pub agents: usize,
}

/// Rows and figures derived from the model and the filter.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Derived {
    /// Queues, by number.
    pub queues: Vec<Guid>,
    /// Per queue: its waiting calls (filtered), longest first within each priority.
    pub waiting: HashMap<Guid, Vec<AppearanceId>>,
    /// Per queue: its figures (never filtered).
    pub figures: HashMap<Guid, QueueFigures>,
    /// Agents (filtered): ringing and talking first, then available, then away.
    pub agents: Vec<AgentRow>,
    /// Agents before filtering.
    pub agents_total: usize,
    /// Parked calls (filtered), by slot.
    pub parked: Vec<AppearanceId>,
    /// Totals (never filtered).
    pub totals: Totals,
}

impl Derived {
    /// Derives everything from the model, keeping only calls and agents that match `filter`
    /// (case-insensitive text; empty keeps everything).
    pub fn new(model: &Tables, filter: &str) -> Derived {
        let needle = filter.trim().to_lowercase();
        let users: HashMap<&str, &Arc<User>> =
            model.users().map(|u| (u.extn.as_str(), u)).collect();

        let mut queues: Vec<&Arc<Queue>> = model.queues().collect();
        queues.sort_by(|a, b| by_number(&a.extn, &b.extn).then_with(|| a.name.cmp(&b.name)));

        let mut waiting = HashMap::new();
        let mut figures = HashMap::new();
        let mut seen_gcids = HashSet::new();
        let mut totals = Totals::default();
        for q in &queues {
            let calls = waiting_calls(model, q);
            let oldest = calls.iter().min_by_key(|a| a.first_seen);
            let mut fig = QueueFigures {
                waiting: calls.len(),
                longest_since: oldest.map(|a| a.first_seen),
                longest_lower_bound: oldest.is_some_and(|a| a.present_at_connect),
                members: q.members().len(),
                ..QueueFigures::default()
            };
            for m in q.members().iter().filter(|m| m.enabled) {
                match users.get(m.extn.as_str()).map(|u| u.agent.state) {
                    Some(AgentState::Available) => fig.available += 1,
                    Some(s) if is_busy(s) => fig.busy += 1,
                    _ => {}
                }
            }
            for a in &calls {
                let fresh = match a.call.gcid.as_ref().filter(|g| !g.is_empty()) {
                    Some(g) => seen_gcids.insert(g.clone()),
                    None => true,
                };
                if fresh {
                    totals.waiting += 1;
                }
            }
            let older = match (totals.longest_since, fig.longest_since) {
                (Some(a), Some(b)) => b < a,
                (None, Some(_)) => true,
                _ => false,
            };
            if older {
                totals.longest_since = fig.longest_since;
                totals.longest_lower_bound = fig.longest_lower_bound;
            }
            let ids = calls
                .iter()
                .filter(|a| call_matches(a, &needle))
                .map(|a| a.id)
                .collect();
            waiting.insert(q.guid.clone(), ids);
            figures.insert(q.guid.clone(), fig);
        }

        let members: HashSet<&str> = queues
            .iter()
            .flat_map(|q| q.members().iter().map(|m| m.extn.as_str()))
            .collect();
        let mut agents: Vec<&Arc<User>> = model
            .users()
            .filter(|u| members.is_empty() || members.contains(u.extn.as_str()))
            .collect();
        agents.sort_by(|a, b| {
            agent_rank(a.agent.state)
                .cmp(&agent_rank(b.agent.state))
                .then_with(|| a.agent.since.cmp(&b.agent.since))
                .then_with(|| by_number(&a.extn, &b.extn))
        });
        totals.agents = agents.len();
        totals.available = agents
            .iter()
            .filter(|u| u.agent.state == AgentState::Available)
            .count();
        let agents_total = agents.len();
        let agents = agents
            .into_iter()
            .filter_map(|u| {
                let (call, more) = agent_call(model, u);
                agent_matches(u, call.map(|c| &**c), &needle).then(|| AgentRow {
                    guid: u.guid.clone(),
                    call: call.map(|c| c.id),
                    more,
                })
            })
            .collect();

        let mut parked: Vec<&Arc<Appearance>> = model
            .parked()
            .filter(|a| call_matches(a, &needle))
            .collect();
        parked.sort_by(|a, b| {
            by_number(&a.call.park_slot, &b.call.park_slot)
                .then_with(|| a.first_seen.cmp(&b.first_seen))
                .then_with(|| a.id.cmp(&b.id))
        });

        Derived {
            queues: queues.iter().map(|q| q.guid.clone()).collect(),
            waiting,
            figures,
            agents,
            agents_total,
            parked: parked.iter().map(|a| a.id).collect(),
            totals,
        }
    }

    /// The waiting calls listed for a queue.
    pub fn waiting_of(&self, queue: Option<&Guid>) -> &[AppearanceId] {
        queue
            .and_then(|q| self.waiting.get(q))
            .map_or(&[], Vec::as_slice)
    }

    /// The agents' identities in order.
    pub fn agent_ids(&self) -> Vec<Guid> {
        self.agents.iter().map(|r| r.guid.clone()).collect()
    }
}

/// The calls waiting on a queue's line, in the order the queue serves them: higher priority
/// first, then the longest waiting.
pub fn waiting_calls<'a>(model: &'a Tables, queue: &Queue) -> Vec<&'a Arc<Appearance>> {
    let mut calls: Vec<&Arc<Appearance>> = model
        .appearances_on(&LineId::Queue(queue.guid.clone()))
        .filter(|a| a.call.state.is_waiting())
        .collect();
    calls.sort_by(|a, b| {
        priority(b)
            .cmp(&priority(a))
            .then_with(|| a.first_seen.cmp(&b.first_seen))
            .then_with(|| a.id.cmp(&b.id))
    });
    calls
}

/// A call's priority in its queue (0 when not reported).
pub fn priority(a: &Appearance) -> i32 {
    a.call.queue.as_ref().map_or(0, |q| q.priority)
}

/// The call an agent row shows, the one a function on the row acts on, and how many more
/// the agent has.
pub fn agent_call<'a>(model: &'a Tables, user: &User) -> (Option<&'a Arc<Appearance>>, usize) {
    let calls = agent_calls(model, user);
    let more = calls.len().saturating_sub(1);
    (calls.first().copied(), more)
}

/// An agent's calls in the order a supervisor acts on them (the model's precedence):
/// ringing first (a call to rescue), then connected, then held, then the rest.
pub fn agent_calls<'a>(model: &'a Tables, user: &User) -> Vec<&'a Arc<Appearance>> {
    model.appearances_by_precedence(&user.guid)
}

fn is_busy(s: AgentState) -> bool {
    matches!(
        s,
        AgentState::Ringing | AgentState::Talking | AgentState::Held | AgentState::AfterCallWork
    )
}

/// Where a state sorts in the agent grid: ringing and talking first, then the other busy
/// states, then available, then away.
pub fn agent_rank(s: AgentState) -> u8 {
    match s {
        AgentState::Ringing => 0,
        AgentState::Talking => 1,
        AgentState::Held => 2,
        AgentState::AfterCallWork => 3,
        AgentState::Available => 4,
        AgentState::Dnd => 5,
        AgentState::LoggedOff => 6,
        AgentState::Fault => 7,
        AgentState::Unknown => 8,
    }
}

/// Orders numbers as numbers when both are, else as text (so 999 comes before 1000).
pub fn by_number(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

fn contains(hay: &str, needle: &str) -> bool {
    clean(hay).to_lowercase().contains(needle)
}

fn party_matches(p: Option<&Party>, needle: &str) -> bool {
    p.is_some_and(|p| contains(&p.number, needle) || contains(&p.name, needle))
}

/// Whether a call matches a filter: caller, connected and called parties, DID, queue, ringing
/// targets, tag and park slot.
pub fn call_matches(a: &Appearance, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let c = &a.call;
    party_matches(c.calling.as_ref(), needle)
        || party_matches(c.connected.as_ref(), needle)
        || party_matches(c.original_called.as_ref(), needle)
        || contains(&c.called, needle)
        || c.trunk.as_ref().is_some_and(|t| contains(&t.did, needle))
        || c.queue.as_ref().is_some_and(|q| contains(&q.name, needle))
        || c.targets.iter().any(|t| party_matches(Some(t), needle))
        || contains(&c.tag, needle)
        || contains(&c.park_slot, needle)
}

/// Whether an agent matches a filter: extension, names, state word, or the call it shows.
pub fn agent_matches(u: &User, call: Option<&Appearance>, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    contains(&u.extn, needle)
        || contains(&u.name, needle)
        || u.status
            .as_ref()
            .is_some_and(|s| contains(&s.full_name, needle))
        || u.agent.state.word().to_lowercase() == needle
        || call.is_some_and(|c| call_matches(c, needle))
}

/// The caller of a call, in a few words.
pub fn caller_words(a: &Appearance) -> String {
    let label = a
        .call
        .calling
        .as_ref()
        .map(|p| p.label())
        .filter(|l| !l.is_empty())
        .or_else(|| a.call.other_party().map(|p| p.label()))
        .unwrap_or_default();
    clean(&label).into_owned()
}

/// Why an appearance ended, in words.
pub fn end_words(reason: &EndReason) -> String {
    match reason {
        EndReason::Lost {
            description,
            this_end_dropped,
            ..
        } => {
            let text = clean(description);
            match (text.trim().is_empty(), this_end_dropped) {
                (false, _) => format!("ended ({})", text.trim()),
                (true, true) => "was dropped".to_owned(),
                (true, false) => "ended".to_owned(),
            }
        }
        EndReason::NotReported => "is no longer reported by the PBX".to_owned(),
        EndReason::LineRemoved => "ended: its line was removed".to_owned(),
        EndReason::ParkServerGone => "is gone: the park server went away".to_owned(),
    }
}
