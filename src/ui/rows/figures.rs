//! The rows and figures a pane shows, as plain values.

use std::collections::HashMap;
use std::time::Instant;

use crate::model::{AppearanceId, Guid};

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

impl Totals {
    /// Takes a queue's longest wait when it is older than the one held (the first queue in
    /// order wins a tie); says whether it took it.
    pub fn take_longest(&mut self, fig: &QueueFigures) -> bool {
        let older = match (self.longest_since, fig.longest_since) {
            (Some(a), Some(b)) => b < a,
            (None, Some(_)) => true,
            _ => false,
        };
        if older {
            self.longest_since = fig.longest_since;
            self.longest_lower_bound = fig.longest_lower_bound;
        }
        older
    }
}

/// Every pane's rows and figures as one value: what the from-scratch builder makes and what
/// the incremental one must equal (the test oracle compares the two).
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Panes {
    /// Queues, by number.
    pub queues: Vec<Guid>,
    /// Per queue: its waiting calls (filtered), longest first within each priority.
    pub waiting: HashMap<Guid, Vec<AppearanceId>>,
    /// Every queue's waiting calls (filtered), one row per call, longest wait first.
    pub floor: Vec<AppearanceId>,
    /// The queue of the longest wait (never filtered).
    pub longest_queue: Option<Guid>,
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
