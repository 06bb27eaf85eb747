//! Users and queues by GUID, with an index by number (extension): the number on a call or in
//! a queue's member list finds its user or queue with one hash look-up, never a pass over a
//! site of thousands. Look-ups by GUID are a hash look-up too (several per Notify); the GUIDs'
//! order, for passes over every entry, is a set of its own that changes only when an entry
//! comes or goes.

use super::FastMap;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::ids::{Guid, Text};
use super::queue::Queue;
use super::user::User;

/// What has a number the PBX knows it by.
pub(super) trait Numbered {
    fn number(&self) -> &Text;
}

impl Numbered for User {
    fn number(&self) -> &Text {
        &self.extn
    }
}

impl Numbered for Queue {
    fn number(&self) -> &Text {
        &self.extn
    }
}

/// Entries by GUID, and by number (several may report the same one: the first in GUID order
/// answers for it, as a pass in GUID order would find).
#[derive(Debug, Clone)]
pub(super) struct ByNumber<T> {
    by_guid: FastMap<Guid, Arc<T>>,
    /// Every GUID of `by_guid`, in order.
    order: BTreeSet<Guid>,
    by_extn: FastMap<Text, BTreeSet<Guid>>,
}

impl<T> Default for ByNumber<T> {
    fn default() -> Self {
        ByNumber {
            by_guid: FastMap::default(),
            order: BTreeSet::new(),
            by_extn: FastMap::default(),
        }
    }
}

impl<T: Numbered> ByNumber<T> {
    pub(super) fn get(&self, guid: &Guid) -> Option<&Arc<T>> {
        self.by_guid.get(guid)
    }

    pub(super) fn contains_key(&self, guid: &Guid) -> bool {
        self.by_guid.contains_key(guid)
    }

    /// Every entry, in GUID order.
    pub(super) fn values(&self) -> impl Iterator<Item = &Arc<T>> {
        self.order.iter().filter_map(|g| self.by_guid.get(g))
    }

    /// Every GUID, in order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &Guid> {
        self.order.iter()
    }

    pub(super) fn len(&self) -> usize {
        self.by_guid.len()
    }

    /// The entry whose number is `extn`.
    pub(super) fn by_number(&self, extn: &str) -> Option<&Arc<T>> {
        let guid = self.by_extn.get(extn)?.first()?;
        self.by_guid.get(guid)
    }

    pub(super) fn insert(&mut self, guid: Guid, entry: Arc<T>) -> Option<Arc<T>> {
        let extn = entry.number().clone();
        let old = self.by_guid.insert(guid.clone(), entry);
        if old.is_none() {
            self.order.insert(guid.clone());
        }
        if let Some(o) = &old {
            if *o.number() == extn {
                return old;
            }
            self.unlist(o.number(), &guid);
        }
        self.by_extn.entry(extn).or_default().insert(guid);
        old
    }

    pub(super) fn remove(&mut self, guid: &Guid) -> Option<Arc<T>> {
        let old = self.by_guid.remove(guid)?;
        self.order.remove(guid);
        self.unlist(old.number(), guid);
        Some(old)
    }

    fn unlist(&mut self, extn: &str, guid: &Guid) {
        if let Some(set) = self.by_extn.get_mut(extn) {
            set.remove(guid);
            if set.is_empty() {
                self.by_extn.remove(extn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::model::{AgentState, AgentStats, AgentStatus};

    fn user(id: u8, extn: &str) -> Arc<User> {
        let now = Instant::now();
        Arc::new(User {
            guid: Guid::from_bytes(&[id]),
            extn: extn.into(),
            name: format!("User {id}").into(),
            status: None,
            phone: None,
            agent: AgentStatus {
                state: AgentState::Available,
                since: now,
                observed: true,
            },
            stats: AgentStats::new(now),
        })
    }

    /// The index answers as a pass over the users in GUID order would, through renumbering,
    /// shared numbers and removal.
    #[test]
    fn by_extn_answers_as_a_pass_in_guid_order_would() {
        let mut t = ByNumber::<User>::default();
        let scan = |t: &ByNumber<User>, extn: &str| {
            t.values().find(|u| u.extn == extn).map(|u| u.guid.clone())
        };
        let steps: [(u8, Option<&str>); 8] = [
            (3, Some("201")),
            (1, Some("202")),
            (2, Some("201")),
            (3, Some("203")),
            (1, Some("201")),
            (2, None),
            (1, Some("201")),
            (1, None),
        ];
        for (id, extn) in steps {
            let guid = Guid::from_bytes(&[id]);
            match extn {
                Some(e) => {
                    t.insert(guid, user(id, e));
                }
                None => {
                    t.remove(&guid);
                }
            }
            for e in ["201", "202", "203", "204"] {
                assert_eq!(t.by_number(e).map(|u| u.guid.clone()), scan(&t, e), "{e}");
            }
        }
        assert_eq!(t.values().count(), 1);
    }
}
