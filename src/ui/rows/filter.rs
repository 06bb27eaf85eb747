//! The filter: which calls and agents match the text the supervisor typed.

use super::super::text::clean;
use crate::model::{Appearance, Party, User};

fn contains(hay: &str, needle: &str) -> bool {
    clean(hay).to_lowercase().contains(needle)
}

fn party_matches(p: Option<&Party>, needle: &str) -> bool {
    p.is_some_and(|p| contains(&p.number, needle) || contains(&p.name, needle))
}

/// The filter's text as it is matched: trimmed, lower case.
pub fn needle(filter: &str) -> String {
    filter.trim().to_lowercase()
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
