//! The from-scratch builder: every pane's rows and figures derived again from the whole
//! model, the way the screen did before it kept them incrementally. It is the test oracle
//! the incremental [`Derived`](super::Derived) must always equal; the screen never calls it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::figures::{AgentRow, Panes, QueueFigures, Totals};
use super::filter::{agent_matches, call_matches, needle};
use super::floor::{FloorEntry, floor_from};
use super::order::{
    AgentKey, AgentOrder, agent_call, by_number, is_busy, parked_calls, waiting_calls,
};
use crate::model::{AgentState, Guid, Queue, Scope, Tables, User};

/// Derives every pane from the model for what `scope` covers, keeping only calls and agents
/// that match `filter` (case-insensitive text; empty keeps everything); the agents in
/// `order`, only `narrow`'s members when given. The oracle for tests: slow on purpose
/// (it sorts everything), and obviously right.
#[doc(hidden)]
pub fn from_scratch(
    model: &Tables,
    filter: &str,
    scope: &Scope,
    order: AgentOrder,
    narrow: Option<&Guid>,
) -> Panes {
    let needle = needle(filter);
    let users: HashMap<&str, &Arc<User>> = model.users().map(|u| (u.extn.as_str(), u)).collect();

    let mut queues: Vec<&Arc<Queue>> = model.queues().filter(|q| scope.covers_queue(q)).collect();
    queues.sort_by(|a, b| by_number(&a.extn, &b.extn).then_with(|| a.name.cmp(&b.name)));

    let mut waiting = HashMap::new();
    let mut figures = HashMap::new();
    let mut seen_gcids = HashSet::new();
    let mut totals = Totals::default();
    let mut longest_queue = None;
    let mut floor = Vec::new();
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
        if totals.take_longest(&fig) {
            longest_queue = Some(q.guid.clone());
        }
        let shown: Vec<_> = calls.iter().filter(|a| call_matches(a, &needle)).collect();
        floor.extend(shown.iter().map(|a| FloorEntry::of(a, q)));
        let ids = shown.iter().map(|a| a.id).collect();
        waiting.insert(q.guid.clone(), ids);
        figures.insert(q.guid.clone(), fig);
    }

    let members: HashSet<&str> = queues
        .iter()
        .flat_map(|q| q.members().iter().map(|m| m.extn.as_str()))
        .collect();
    let in_scope = (!scope.is_everything()).then(|| scope.resolve(model).users);
    let mut agents: Vec<&Arc<User>> = model
        .users()
        .filter(|u| match &in_scope {
            Some(users) => users.contains(&u.guid),
            None => members.is_empty() || members.contains(u.extn.as_str()),
        })
        .collect();
    agents.sort_by_cached_key(|u| {
        let (call, _) = agent_call(model, u);
        AgentKey::of(u, call.map(|c| &**c), order)
    });
    let narrowed: Option<HashSet<&str>> = narrow.map(|g| {
        let q = queues.iter().find(|q| &q.guid == g);
        q.into_iter()
            .flat_map(|q| q.members().iter().map(|m| m.extn.as_str()))
            .collect()
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
            let listed = narrowed
                .as_ref()
                .is_none_or(|m| m.contains(u.extn.as_str()));
            let shown = listed && agent_matches(u, call.map(|c| &**c), &needle);
            shown.then(|| AgentRow {
                guid: u.guid.clone(),
                call: call.map(|c| c.id),
                more,
            })
        })
        .collect();

    let parked = parked_calls(model)
        .into_iter()
        .filter(|a| call_matches(a, &needle));

    Panes {
        queues: queues.iter().map(|q| q.guid.clone()).collect(),
        waiting,
        floor: floor_from(floor),
        longest_queue,
        figures,
        agents,
        agents_total,
        parked: parked.map(|a| a.id).collect(),
        totals,
    }
}
