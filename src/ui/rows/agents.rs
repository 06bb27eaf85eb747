//! The agent grid as an ordered index: the shown rows sorted by [`AgentKey`] in an
//! order-statistic B-tree (`indexset`: nodes of [`NODE`] rows with a Fenwick tree over their
//! sizes), so that moving one agent costs a search and a shift within one node, never a shift
//! of the whole grid, and the row at a position or the position of a row is found in
//! logarithmic time; and the key of every agent (shown or filtered out) by identity.

use crate::model::FastMap;
use std::ops::{Bound, RangeBounds};

use indexset::BTreeMap;

use super::cells::{AgentWidths, Census};
use super::figures::AgentRow;
use super::order::AgentKey;
use crate::model::Guid;

/// An agent's row as it is now: its key, and its row and cell widths when the filter shows
/// it. `None` when the user is not (or no longer) an agent.
pub type Placed = Option<(AgentKey, Option<(AgentRow, AgentWidths)>)>;

/// Above this many changed rows in one batch, the index is sorted again in one go rather
/// than shifted row by row (a filter change, a reconnect).
const BULK: usize = 64;

/// Rows per node of the ordered index: a move shifts at most this many rows (the crate's
/// default of 1024 would shift a third of a 3000-agent grid).
const NODE: usize = 64;

/// An agent's key, and whether the filter shows its row: whether a row is shown is asked
/// once per batch for the selection, and is then a look-up by identity, not a search.
#[derive(Debug)]
struct Listed {
    key: AgentKey,
    shown: bool,
}

/// The agents, in grid order.
#[derive(Debug)]
pub struct AgentIndex {
    /// Every agent's key, shown or not.
    all: FastMap<Guid, Listed>,
    /// Agents whose key says available.
    available: usize,
    /// The shown rows by key, in grid order.
    shown: BTreeMap<AgentKey, AgentRow>,
    /// The shown rows' cell widths.
    census: Census<5>,
}

impl Default for AgentIndex {
    fn default() -> Self {
        AgentIndex {
            all: FastMap::default(),
            available: 0,
            shown: BTreeMap::with_maximum_node_size(NODE),
            census: Census::default(),
        }
    }
}

impl AgentIndex {
    /// Shown rows.
    pub fn len(&self) -> usize {
        self.shown.len()
    }

    /// The shown row at `at`.
    pub fn row(&self, at: usize) -> Option<&AgentRow> {
        self.shown.get_index(at).map(|(_, r)| r)
    }

    /// The shown rows at `range` (clipped to the rows there are), in order.
    pub fn rows(
        &self,
        range: impl RangeBounds<usize>,
    ) -> impl DoubleEndedIterator<Item = &AgentRow> {
        let len = self.shown.len();
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => len,
        }
        .min(len);
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        }
        .min(end);
        self.shown.range_idx(start..end).map(|(_, r)| r)
    }

    /// Where an agent's row is, if it is shown.
    pub fn position(&self, guid: &Guid) -> Option<usize> {
        let listed = self.all.get(guid).filter(|l| l.shown)?;
        Some(self.shown.rank(&listed.key))
    }

    /// Whether an agent's row is shown.
    fn is_shown(&self, guid: &Guid) -> bool {
        self.all.get(guid).is_some_and(|l| l.shown)
    }

    /// The widest shown cell of each varying column (see [`AgentWidths`]).
    pub fn widest(&self) -> AgentWidths {
        AgentWidths(self.census.widest())
    }

    /// Every agent, before filtering.
    pub fn total(&self) -> usize {
        self.all.len()
    }

    /// Agents available.
    pub fn available(&self) -> usize {
        self.available
    }

    /// The agents listed (shown or not), for a rebuild.
    pub fn guids(&self) -> impl Iterator<Item = &Guid> {
        self.all.keys()
    }

    /// Puts the changed agents in place and says which agent the selection `keep` stays on:
    /// itself while it is shown, else the next row of the old order that still is, else the
    /// previous one, else the first row. `resort`: the keys are of a new order (every agent
    /// is in `changed`), so the rows are sorted again in one go.
    pub fn apply(
        &mut self,
        changed: Vec<(Guid, Placed)>,
        keep: Option<&Guid>,
        resort: bool,
    ) -> Option<Guid> {
        let kept = self.neighbour(&changed, keep);
        if resort || (changed.len() > BULK && changed.len() > self.shown.len() / 16) {
            self.apply_bulk(changed);
        } else {
            for (guid, placed) in changed {
                if !self.replace(&guid, &placed) {
                    self.remove(&guid);
                    self.insert(guid, placed);
                }
            }
        }
        kept.or_else(|| self.row(0).map(|r| r.guid.clone()))
    }

    /// The selection after `changed`, decided against the old order before it changes.
    fn neighbour(&self, changed: &[(Guid, Placed)], keep: Option<&Guid>) -> Option<Guid> {
        let keep = keep?;
        let update: FastMap<&Guid, bool> = changed
            .iter()
            .map(|(g, p)| (g, p.as_ref().is_some_and(|(_, row)| row.is_some())))
            .collect();
        let shown_after = |g: &Guid| update.get(g).copied().unwrap_or_else(|| self.is_shown(g));
        if shown_after(keep) {
            return Some(keep.clone());
        }
        let at = self.position(keep)?;
        let after = self.rows(at + 1..).find(|r| shown_after(&r.guid));
        let before = self.rows(0..at).rev().find(|r| shown_after(&r.guid));
        after.or(before).map(|r| r.guid.clone())
    }

    /// Puts a shown row that keeps its place (same key) in it without moving any other.
    fn replace(&mut self, guid: &Guid, placed: &Placed) -> bool {
        let Some((key, Some((row, widths)))) = placed else {
            return false;
        };
        if self.all.get(guid).is_none_or(|l| !l.shown || l.key != *key) {
            return false;
        }
        let Some(shown) = self.shown.get_mut(key) else {
            return false;
        };
        *shown = row.clone();
        self.census.measure(guid, widths.0);
        true
    }

    fn remove(&mut self, guid: &Guid) {
        let Some(Listed { key, shown }) = self.all.remove(guid) else {
            return;
        };
        if key.available() {
            self.available -= 1;
        }
        if shown {
            self.census.forget(guid);
            self.shown.remove(&key);
        }
    }

    fn insert(&mut self, guid: Guid, placed: Placed) {
        let Some((key, row)) = placed else {
            return;
        };
        if key.available() {
            self.available += 1;
        }
        let shown = row.is_some();
        if let Some((row, widths)) = row {
            self.census.measure(&guid, widths.0);
            // A key holds the identity, so it is never there twice.
            self.shown.insert(key.clone(), row);
        }
        self.all.insert(guid, Listed { key, shown });
    }

    fn apply_bulk(&mut self, changed: Vec<(Guid, Placed)>) {
        let old = std::mem::replace(&mut self.shown, BTreeMap::with_maximum_node_size(NODE));
        let mut shown: Vec<(AgentKey, AgentRow)> = old.into_iter().collect();
        let gone: FastMap<&Guid, ()> = changed.iter().map(|(g, _)| (g, ())).collect();
        shown.retain(|(_, row)| !gone.contains_key(&row.guid));
        for (guid, _) in &changed {
            if let Some(l) = self.all.remove(guid) {
                self.available -= usize::from(l.key.available());
            }
            self.census.forget(guid);
        }
        for (guid, placed) in changed {
            let Some((key, row)) = placed else { continue };
            self.available += usize::from(key.available());
            let is_shown = row.is_some();
            if let Some((row, widths)) = row {
                self.census.measure(&guid, widths.0);
                shown.push((key.clone(), row));
            }
            self.all.insert(
                guid,
                Listed {
                    key,
                    shown: is_shown,
                },
            );
        }
        shown.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, row) in shown {
            self.shown.insert(key, row);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::{AgentState, AgentStats, AgentStatus, User};
    use crate::ui::rows::order::AgentOrder;

    const STATES: [AgentState; 4] = [
        AgentState::Talking,
        AgentState::Ringing,
        AgentState::Available,
        AgentState::Dnd,
    ];

    fn user(i: u32, state: AgentState, since: Instant) -> User {
        User {
            guid: Guid::from_bytes(&i.to_be_bytes()),
            extn: (1000 + i).to_string().into(),
            name: format!("Agent {i}").into(),
            status: None,
            phone: None,
            agent: AgentStatus {
                state,
                since,
                observed: true,
            },
            stats: AgentStats::new(since),
        }
    }

    fn placed(u: &User, shown: bool) -> Placed {
        let key = AgentKey::of(u, None, AgentOrder::default());
        let row = AgentRow {
            guid: u.guid.clone(),
            call: None,
            more: 0,
        };
        Some((key, shown.then_some((row, AgentWidths([1; 5])))))
    }

    /// Agents moving one at a time across many nodes of the index: its rows, positions
    /// and counts equal a sorted list of the same keys after every move.
    #[test]
    fn moves_across_many_nodes_keep_the_order_a_sort_gives() {
        let t0 = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut index = AgentIndex::default();
        let mut users: Vec<(User, bool)> = (0..600)
            .map(|i| (user(i, STATES[i as usize % 4], t0), i % 7 != 0))
            .collect();
        let all: Vec<_> = (users.iter())
            .map(|(u, s)| (u.guid.clone(), placed(u, *s)))
            .collect();
        index.apply(all, None, false);
        for step in 0..3000u64 {
            let at = rng.random_range(0..users.len());
            let state = STATES[rng.random_range(0..STATES.len())];
            let shown = rng.random_range(0..10) != 0;
            let since = t0 + Duration::from_millis(step);
            let (u, s) = &mut users[at];
            *u = user(u32::try_from(at).expect("small"), state, since);
            *s = shown;
            index.apply(vec![(u.guid.clone(), placed(u, shown))], None, false);

            let mut expected: Vec<(AgentKey, Guid)> = (users.iter())
                .filter(|(_, s)| *s)
                .map(|(u, _)| (AgentKey::of(u, None, AgentOrder::default()), u.guid.clone()))
                .collect();
            expected.sort();
            let rows: Vec<&Guid> = index.rows(..).map(|r| &r.guid).collect();
            let want: Vec<&Guid> = expected.iter().map(|(_, g)| g).collect();
            assert_eq!(rows, want, "after step {step}");
            assert_eq!(index.len(), want.len());
            let probe = &users[rng.random_range(0..users.len())].0.guid;
            assert_eq!(
                index.position(probe),
                want.iter().position(|g| *g == probe),
                "position after step {step}"
            );
            let mid = want.len() / 2;
            assert_eq!(index.row(mid).map(|r| &r.guid), want.get(mid).copied());
            let available = (users.iter())
                .filter(|(u, _)| u.agent.state == AgentState::Available)
                .count();
            assert_eq!(index.available(), available);
        }
    }
}
