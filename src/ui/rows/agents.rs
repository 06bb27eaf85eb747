//! The agent grid as an ordered index: the shown rows sorted by [`AgentKey`], found by
//! binary search, and the key of every agent (shown or filtered out) by identity.

use std::collections::HashMap;

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

/// The agents, in grid order.
#[derive(Debug, Default)]
pub struct AgentIndex {
    /// Every agent's key, shown or not.
    all: HashMap<Guid, AgentKey>,
    /// Agents whose key says available.
    available: usize,
    /// The shown rows' keys, sorted; `rows` is in the same order.
    keys: Vec<AgentKey>,
    rows: Vec<AgentRow>,
    /// The shown rows' cell widths.
    census: Census<5>,
}

impl AgentIndex {
    /// The shown rows in order.
    pub fn rows(&self) -> &[AgentRow] {
        &self.rows
    }

    /// Where an agent's row is, if it is shown.
    pub fn position(&self, guid: &Guid) -> Option<usize> {
        let key = self.all.get(guid)?;
        self.keys.binary_search(key).ok()
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
        if resort || (changed.len() > BULK && changed.len() > self.keys.len() / 16) {
            self.apply_bulk(changed);
        } else {
            for (guid, placed) in changed {
                if !self.replace(&guid, &placed) {
                    self.remove(&guid);
                    self.insert(guid, placed);
                }
            }
        }
        kept.or_else(|| self.rows.first().map(|r| r.guid.clone()))
    }

    /// The selection after `changed`, decided against the old order before it changes.
    fn neighbour(&self, changed: &[(Guid, Placed)], keep: Option<&Guid>) -> Option<Guid> {
        let keep = keep?;
        let update: HashMap<&Guid, bool> = changed
            .iter()
            .map(|(g, p)| (g, p.as_ref().is_some_and(|(_, row)| row.is_some())))
            .collect();
        let shown_after = |g: &Guid| {
            update
                .get(g)
                .copied()
                .unwrap_or_else(|| self.position(g).is_some())
        };
        if shown_after(keep) {
            return Some(keep.clone());
        }
        let at = self.position(keep)?;
        let after = self.rows.iter().skip(at + 1).find(|r| shown_after(&r.guid));
        let before = self
            .rows
            .iter()
            .take(at)
            .rev()
            .find(|r| shown_after(&r.guid));
        after.or(before).map(|r| r.guid.clone())
    }

    /// Puts a shown row that keeps its place (same key) in it without moving any other.
    fn replace(&mut self, guid: &Guid, placed: &Placed) -> bool {
        let Some((key, Some((row, widths)))) = placed else {
            return false;
        };
        if self.all.get(guid) != Some(key) {
            return false;
        }
        let Ok(at) = self.keys.binary_search(key) else {
            return false;
        };
        self.rows[at] = row.clone();
        self.census.measure(guid, widths.0);
        true
    }

    fn remove(&mut self, guid: &Guid) {
        let Some(key) = self.all.remove(guid) else {
            return;
        };
        if key.available() {
            self.available -= 1;
        }
        self.census.forget(guid);
        if let Ok(at) = self.keys.binary_search(&key) {
            self.keys.remove(at);
            self.rows.remove(at);
        }
    }

    fn insert(&mut self, guid: Guid, placed: Placed) {
        let Some((key, row)) = placed else {
            return;
        };
        if key.available() {
            self.available += 1;
        }
        if let Some((row, widths)) = row {
            self.census.measure(&guid, widths.0);
            match self.keys.binary_search(&key) {
                // A key holds the identity, so it is never there twice.
                Ok(at) => self.rows[at] = row,
                Err(at) => {
                    self.keys.insert(at, key.clone());
                    self.rows.insert(at, row);
                }
            }
        }
        self.all.insert(guid, key);
    }

    fn apply_bulk(&mut self, changed: Vec<(Guid, Placed)>) {
        let mut shown: Vec<(AgentKey, AgentRow)> = std::mem::take(&mut self.keys)
            .into_iter()
            .zip(std::mem::take(&mut self.rows))
            .collect();
        let gone: HashMap<&Guid, ()> = changed.iter().map(|(g, _)| (g, ())).collect();
        shown.retain(|(_, row)| !gone.contains_key(&row.guid));
        for (guid, _) in &changed {
            if let Some(key) = self.all.remove(guid) {
                self.available -= usize::from(key.available());
            }
            self.census.forget(guid);
        }
        for (guid, placed) in changed {
            let Some((key, row)) = placed else { continue };
            self.available += usize::from(key.available());
            if let Some((row, widths)) = row {
                self.census.measure(&guid, widths.0);
                shown.push((key.clone(), row));
            }
            self.all.insert(guid, key);
        }
        shown.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        (self.keys, self.rows) = shown.into_iter().unzip();
    }
}
