//! What the panes list, derived from the model: which rows in which order, and the figures
//! that summarise them. `update` keeps one [`Derived`] current after every batch of model
//! events, and both navigation and the views read it, so they always agree on what row is
//! where.
//!
//! Nothing here depends on `now`: rows are ordered by when things began (first seen, time of
//! the last state change), so the order only changes when the model does.
//!
//! At PBX scale (3000 users, 150 queues, 2000 calls) deriving everything again on every
//! change costs in proportion to the site, so the work follows the change instead:
//!
//! - A model event only marks the keys it touches ([`Derived::touch`]): the user, the queue
//!   or the park server whose line a call is on (before and after it moves), the user or
//!   queue that changed. [`Derived::flush`] then derives each marked key once, however many
//!   events in the batch touched it: folding a batch costs its distinct keys, not its events.
//! - The agent grid is an order-statistic B-tree of rows keyed by [`AgentKey`] (state rank,
//!   since, extension as a number, identity), with each agent's key by identity. Positions
//!   are what navigation and the view need, so a plain B-tree (which counts its way to a
//!   rank) would not do, and a sorted vector moved a third of its rows on every state change
//!   (at 3000 agents the largest cost per Notify, in the profile). The `indexset` tree keeps
//!   nodes of 64 rows with a Fenwick tree over their sizes: a changed agent is taken out
//!   and put back by its key, shifting at most one node, and the row at a position or the
//!   position of a row costs two binary searches. A row whose call changed but not its key
//!   is replaced in place; a batch that touches many agents (a filter change, a reconnect)
//!   is sorted again in one go.
//! - A queue keeps its waiting calls (the few on its own line, in serving order) and its
//!   figures. Available and busy members are counted again only for the queues that list
//!   the extension of a user who changed (a member index: extension -> queues), or whose
//!   members changed, and only when that user's extension or counted state (available,
//!   busy, neither) changed. The total waiting counts each gcid once across queues, with a
//!   count per gcid, so a call queued twice is counted once and a queue's change only moves
//!   its own; the longest wait is the first of an ordered set of (oldest call, queue key)
//!   pairs, so no flush walks every queue.
//! - A pane sizes a column by its widest row, so each agent and queue row's cell widths are
//!   counted per column (width -> rows of that width, a `Census`); the widest is the last
//!   key, and the view formats only the rows that fit on the screen.
//! - The floor-wide waiting list (every queue in scope, one row per call by gcid, longest
//!   wait first) is an ordered index keyed by (first seen, id): a queue derived again
//!   hands in its shown calls, and only the rows of their calls move.
//! - The queue order (150 rows) is sorted again only when a queue comes, goes or is renamed;
//!   the parked list (a few calls) is derived again whole when the park server's line changes.
//!
//! The from-scratch builder ([`from_scratch`]) stays as the test oracle: a property test
//! drives random events through the incremental path and checks every pane against it.

mod agents;
mod cells;
mod derived;
mod figures;
mod filter;
mod floor;
mod order;
mod scratch;
mod words;

pub use cells::{AgentWidths, AgentWords, Beside, QueueWidths, QueueWords, number_words};
pub use derived::{Derived, Previous};
pub use figures::{AgentRow, Panes, QueueFigures, Totals};
pub use order::{AgentOrder, AgentSort, agent_call, agent_calls, by_number, priority};
pub use scratch::from_scratch;
pub use words::{caller_words, end_words};
