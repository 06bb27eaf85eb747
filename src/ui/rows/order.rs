//! The orders the panes list things in, one place for each: queues by number, a queue's
//! waiting calls as the queue serves them, an agent's calls by precedence, agents by state.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::model::{AgentState, Appearance, Guid, LineId, Queue, Tables, Text, User};

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

/// The parked calls, by slot, then the longest parked.
pub fn parked_calls(model: &Tables) -> Vec<&Arc<Appearance>> {
    let mut parked: Vec<&Arc<Appearance>> = model.parked().collect();
    parked.sort_by(|a, b| {
        by_number(&a.call.park_slot, &b.call.park_slot)
            .then_with(|| a.first_seen.cmp(&b.first_seen))
            .then_with(|| a.id.cmp(&b.id))
    });
    parked
}

/// A call's priority in its queue (0 when not reported).
pub fn priority(a: &Appearance) -> i32 {
    a.call.queue.as_ref().map_or(0, |q| q.priority)
}

/// The call an agent row shows, the one a function on the row acts on, and how many more
/// the agent has.
pub fn agent_call<'a>(model: &'a Tables, user: &User) -> (Option<&'a Arc<Appearance>>, usize) {
    let calls = model
        .appearances_on(&LineId::User(user.guid.clone()))
        .count();
    (model.shown_appearance(&user.guid), calls.saturating_sub(1))
}

/// An agent's calls in the order a supervisor acts on them (the model's precedence):
/// ringing first (a call to rescue), then connected, then held, then the rest.
pub fn agent_calls<'a>(model: &'a Tables, user: &User) -> Vec<&'a Arc<Appearance>> {
    model.appearances_by_precedence(&user.guid)
}

/// Whether a state counts as busy in a queue's figures.
pub fn is_busy(s: AgentState) -> bool {
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

/// A number parsed once, ordered as [`by_number`] orders its text: kept in the sort keys of
/// the ordered indexes so a comparison never parses.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Number {
    /// All digits: by value, then as text.
    Digits(u64, Text),
    /// Anything else, after every number, as text.
    Word(Text),
}

impl Number {
    /// The sort key of `text`.
    pub fn of(text: &Text) -> Number {
        match text.parse::<u64>() {
            Ok(n) => Number::Digits(n, text.clone()),
            Err(_) => Number::Word(text.clone()),
        }
    }
}

/// The column the agent grid is sorted by (cycled by a key, as in htop and k9s).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentSort {
    /// Ringing and talking first, then the other busy states, available, away.
    #[default]
    State,
    /// The longest in their state first.
    Time,
    /// By extension, as numbers.
    Extension,
    /// By name, ignoring case.
    Name,
    /// By the queue of the call shown (agents without one last).
    Queue,
}

impl AgentSort {
    /// Every sort, in the order the key cycles them.
    pub const ALL: [AgentSort; 5] = [
        AgentSort::State,
        AgentSort::Time,
        AgentSort::Extension,
        AgentSort::Name,
        AgentSort::Queue,
    ];

    /// The next sort in the cycle.
    pub fn next(self) -> AgentSort {
        let at = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Self::ALL[(at + 1) % Self::ALL.len()]
    }
}

/// The agent grid's order: a column, and whether it is reversed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct AgentOrder {
    /// The column.
    pub sort: AgentSort,
    /// Reversed (the column's order only; ties keep the state order).
    pub reverse: bool,
}

/// The value of the sort column in an agent's key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Lead {
    /// The state order needs nothing before the common tail.
    State,
    Time(Instant),
    Extension(Number),
    Name(String),
    /// `None` (no queue) sorts after every name.
    Queue(bool, Text),
}

/// Where an agent sorts: the sort column's value (reversed when asked), then state (ringing
/// and talking first), the longest in that state, extension, and identity (the order the
/// model lists users in).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AgentKey {
    lead: Lead,
    reverse: bool,
    rank: u8,
    since: Instant,
    extn: Number,
    guid: Guid,
    /// Counted in the figures; not part of the order.
    available: bool,
}

impl Ord for AgentKey {
    fn cmp(&self, other: &Self) -> Ordering {
        let lead = self.lead.cmp(&other.lead);
        let lead = if self.reverse { lead.reverse() } else { lead };
        lead.then_with(|| {
            (self.rank, self.since, &self.extn, &self.guid).cmp(&(
                other.rank,
                other.since,
                &other.extn,
                &other.guid,
            ))
        })
    }
}

impl PartialOrd for AgentKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl AgentKey {
    /// The key of a user's row in `order`, `call` the call the row shows. In the state
    /// order, reversed reverses the state rank.
    pub fn of(u: &User, call: Option<&Appearance>, order: AgentOrder) -> AgentKey {
        let rank = agent_rank(u.agent.state);
        let lead = match order.sort {
            AgentSort::State => Lead::State,
            AgentSort::Time => Lead::Time(u.agent.since),
            AgentSort::Extension => Lead::Extension(Number::of(&u.extn)),
            AgentSort::Name => Lead::Name(u.name.to_lowercase()),
            AgentSort::Queue => {
                let q = call
                    .and_then(|a| a.call.queue.as_ref())
                    .map(|q| q.name.clone());
                Lead::Queue(q.is_none(), q.unwrap_or_else(Text::empty))
            }
        };
        // Reversing the state order reverses its rank (the tail's first field).
        let (rank, reverse) = match order.sort {
            AgentSort::State if order.reverse => (u8::MAX - rank, false),
            _ => (rank, order.reverse),
        };
        AgentKey {
            lead,
            reverse,
            rank,
            since: u.agent.since,
            extn: Number::of(&u.extn),
            guid: u.guid.clone(),
            available: u.agent.state == AgentState::Available,
        }
    }

    /// Whether the agent is available.
    pub fn available(&self) -> bool {
        self.available
    }
}

/// Where a queue sorts: by number, then name, then identity.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct QueueKey {
    extn: Number,
    name: Text,
    guid: Guid,
}

impl QueueKey {
    /// The key of a queue's row.
    pub fn of(q: &Queue) -> QueueKey {
        QueueKey {
            extn: Number::of(&q.extn),
            name: q.name.clone(),
            guid: q.guid.clone(),
        }
    }

    /// The queue.
    pub fn guid(&self) -> &Guid {
        &self.guid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_number_orders_as_its_text() {
        let words = ["999", "1000", "0999", "abc", "12a", "", "7", "+5", "5"];
        for a in words {
            for b in words {
                let (x, y) = (Text::from(a), Text::from(b));
                assert_eq!(
                    Number::of(&x).cmp(&Number::of(&y)),
                    by_number(a, b),
                    "{a} {b}"
                );
            }
        }
    }
}
