//! A set of named deadlines: at most one per key, the earliest found at once.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Deadlines keyed by `K`.
#[derive(Debug)]
pub struct Timers<K: Ord + Hash + Clone> {
    by_time: BTreeSet<(Instant, K)>,
    by_key: HashMap<K, Instant>,
}

impl<K: Ord + Hash + Clone> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_time: BTreeSet::new(),
            by_key: HashMap::new(),
        }
    }
}

impl<K: Ord + Hash + Clone> Timers<K> {
    /// How many deadlines are set.
    #[allow(clippy::len_without_is_empty)] // only ever counted, for the caps
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Sets (or moves) the deadline for `key`.
    pub fn set(&mut self, key: K, at: Instant) {
        self.cancel(&key);
        self.by_time.insert((at, key.clone()));
        self.by_key.insert(key, at);
    }

    /// Removes the deadline for `key`, if any.
    pub fn cancel(&mut self, key: &K) {
        if let Some(at) = self.by_key.remove(key) {
            self.by_time.remove(&(at, key.clone()));
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest key whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<K> {
        let (at, _) = self.by_time.first()?;
        if *at > now {
            return None;
        }
        let (_, key) = self.by_time.pop_first()?;
        self.by_key.remove(&key);
        Some(key)
    }

    /// Removes every deadline whose key matches.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.by_time.retain(|(_, k)| keep(k));
        self.by_key.retain(|k, _| keep(k));
    }
}
