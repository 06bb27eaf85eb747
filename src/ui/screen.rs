//! Where the supervisor is on the screen: the focused pane, the selection by identity, the
//! overlay and the filter. Plain state, read by the functions, the layout and the views.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::rows::AgentOrder;
use crate::model::{Appearance, AppearanceId, Guid};

/// The panes, in `Tab` order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Pane {
    /// Queues and their figures.
    Queues,
    /// The waiting calls of every queue in scope, or of the selected queue.
    Waiting,
    /// The agent grid.
    Agents,
    /// Parked calls.
    Parked,
}

impl Pane {
    /// Every pane, in `Tab` order.
    pub const ORDER: [Pane; 4] = [Pane::Queues, Pane::Waiting, Pane::Agents, Pane::Parked];
}

/// What each pane has selected, by identity: never a row number, so re-sorting, new rows and
/// filtering never move it.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Selection {
    /// The queue whose waiting calls are listed.
    pub queue: Option<Guid>,
    /// The selected waiting call (a queue appearance).
    pub call: Option<AppearanceId>,
    /// The selected agent.
    pub agent: Option<Guid>,
    /// The selected parked call.
    pub parked: Option<AppearanceId>,
}

/// What a detail overlay shows.
#[derive(Clone, PartialEq, Debug)]
pub enum DetailTarget {
    /// A call appearance; its last snapshot is kept so it can still be read after it ends.
    Call {
        /// Its identity.
        id: AppearanceId,
        /// As last seen.
        last: Arc<Appearance>,
        /// Why it ended, once it has.
        ended: Option<String>,
    },
    /// An agent and its calls.
    Agent(Guid),
    /// A queue and its members.
    Queue(Guid),
}

/// An overlay over the panes.
#[derive(Clone, PartialEq, Debug)]
pub enum Overlay {
    /// None: the panes have the keys.
    None,
    /// Help, scrolled down this many lines.
    Help {
        /// Lines scrolled.
        scroll: u16,
    },
    /// A detail, scrolled down this many lines.
    Detail {
        /// What it shows.
        target: DetailTarget,
        /// Lines scrolled.
        scroll: u16,
        /// The call of an agent, or the member of a queue, that functions act on.
        pick: usize,
    },
    /// The message history, newest first.
    Messages {
        /// Lines scrolled.
        scroll: u16,
    },
}

/// How the panes are narrowed and sorted: the supervisor's choice, kept between runs.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewState {
    /// The waiting pane lists only the selected queue's calls, in the queue's own order
    /// (else every queue in scope, longest wait first).
    pub narrow_waiting: bool,
    /// The agent grid lists only the selected queue's members (else everyone in scope).
    pub narrow_agents: bool,
    /// The agent grid's sort column and direction.
    pub agents: AgentOrder,
}

/// The filter.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Filter {
    /// The text calls and agents must contain.
    pub text: String,
    /// Whether it is being typed.
    pub editing: bool,
}
