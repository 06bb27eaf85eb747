//! The floor-wide waiting list: every waiting call of every queue in scope, one row per call
//! (by gcid), longest wait first, kept as an ordered index keyed by (first seen, id).
//!
//! A call two queues report is one row: the appearance on the queue its queueinfo names,
//! else the one seen first. Each queue hands in its shown calls when it is derived again;
//! only the calls of that queue's gcids are looked at, and a row moves only when the
//! appearance that stands for its call changes.

use crate::model::{FastMap, FastSet};
use std::collections::BTreeSet;
use std::time::Instant;

use crate::model::{Appearance, AppearanceId, Gcid, Queue};

/// The key a row is ordered by: longest wait first, then identity.
type FloorKey = (Instant, AppearanceId);

/// Which calls are one row: those with the same gcid, else each appearance alone.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Group {
    Gcid(Gcid),
    Alone(AppearanceId),
}

/// A queue's waiting call as the floor sees it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FloorEntry {
    group: Group,
    /// Which appearance stands for the call: one on the queue its queueinfo names first
    /// (`false` sorts first), then the one seen first.
    pick: (bool, Instant, AppearanceId),
}

impl FloorEntry {
    /// A call waiting on queue `q`'s line.
    pub fn of(a: &Appearance, q: &Queue) -> FloorEntry {
        let group = match a.call.gcid.as_ref().filter(|g| !g.is_empty()) {
            Some(g) => Group::Gcid(g.clone()),
            None => Group::Alone(a.id),
        };
        FloorEntry {
            group,
            pick: (!names_queue(a, q), a.first_seen, a.id),
        }
    }
}

/// Whether the call's queueinfo names this queue (by number, or by name when it gives no
/// number).
fn names_queue(a: &Appearance, q: &Queue) -> bool {
    a.call.queue.as_ref().is_some_and(|info| {
        if info.number.is_empty() {
            info.name == q.name
        } else {
            info.number == q.extn
        }
    })
}

/// The floor's rows in order, and every queue's candidates for them.
#[derive(Debug, Default)]
pub struct FloorIndex {
    groups: FastMap<Group, BTreeSet<(bool, Instant, AppearanceId)>>,
    keys: Vec<FloorKey>,
    ids: Vec<AppearanceId>,
}

impl FloorIndex {
    /// The rows, longest wait first.
    pub fn ids(&self) -> &[AppearanceId] {
        &self.ids
    }

    /// The row standing for a group now.
    fn row(&self, group: &Group) -> Option<FloorKey> {
        let (_, since, id) = *self.groups.get(group)?.first()?;
        Some((since, id))
    }

    /// A queue's entries `old` replaced by `new`; says whether any row changed.
    pub fn replace(&mut self, old: &[FloorEntry], new: &[FloorEntry]) -> bool {
        if old == new {
            return false;
        }
        let touched: FastSet<&Group> = old.iter().chain(new).map(|e| &e.group).collect();
        let before: Vec<(Group, Option<FloorKey>)> = touched
            .into_iter()
            .map(|g| (g.clone(), self.row(g)))
            .collect();
        for e in old {
            if let Some(set) = self.groups.get_mut(&e.group) {
                set.remove(&e.pick);
                if set.is_empty() {
                    self.groups.remove(&e.group);
                }
            }
        }
        for e in new {
            self.groups
                .entry(e.group.clone())
                .or_default()
                .insert(e.pick);
        }
        let moved: Vec<(Option<FloorKey>, Option<FloorKey>)> = before
            .into_iter()
            .map(|(group, was)| (was, self.row(&group)))
            .filter(|(was, now)| was != now)
            .collect();
        // Every old row goes before any new one comes: an appearance whose gcid changed
        // stands for its old group before and its new one after.
        for key in moved.iter().filter_map(|(was, _)| *was) {
            if let Ok(at) = self.keys.binary_search(&key) {
                self.keys.remove(at);
                self.ids.remove(at);
            }
        }
        for key in moved.iter().filter_map(|(_, now)| *now) {
            if let Err(at) = self.keys.binary_search(&key) {
                self.keys.insert(at, key);
                self.ids.insert(at, key.1);
            }
        }
        !moved.is_empty()
    }
}

/// The floor from scratch: every entry of every queue, one row per group, longest first
/// (the test oracle's way).
pub fn floor_from(entries: impl IntoIterator<Item = FloorEntry>) -> Vec<AppearanceId> {
    let mut best: FastMap<Group, (bool, Instant, AppearanceId)> = FastMap::default();
    for e in entries {
        let slot = best.entry(e.group).or_insert(e.pick);
        *slot = (*slot).min(e.pick);
    }
    let mut rows: Vec<FloorKey> = best.into_values().map(|(_, t, id)| (t, id)).collect();
    rows.sort_unstable();
    rows.into_iter().map(|(_, id)| id).collect()
}
