//! The orders the panes list things in, one place for each: queues by number, a queue's
//! waiting calls as the queue serves them, an agent's calls by precedence, agents by state.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Instant;

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
    let calls = agent_calls(model, user);
    let more = calls.len().saturating_sub(1);
    (calls.first().copied(), more)
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

/// Where an agent sorts: state (ringing and talking first), then the longest in that state,
/// then extension, then identity (the order the model lists users in).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct AgentKey {
    rank: u8,
    since: Instant,
    extn: Number,
    guid: Guid,
}

impl AgentKey {
    /// The key of a user's row.
    pub fn of(u: &User) -> AgentKey {
        AgentKey {
            rank: agent_rank(u.agent.state),
            since: u.agent.since,
            extn: Number::of(&u.extn),
            guid: u.guid.clone(),
        }
    }

    /// Whether the agent is available.
    pub fn available(&self) -> bool {
        self.rank == agent_rank(AgentState::Available)
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
