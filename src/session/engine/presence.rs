//! The presence book: the presence subscription's presentities, one per user, named by
//! extension. Each has a local reference (lref) that stays the same for as long as the user
//! keeps its extension, so Notifies (which carry only the lref) map back to the user. The book
//! also remembers what the PBX holds, so a change goes out as an UpdatePresence with only what
//! was added and removed.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Guid, Text};
use crate::protocol::pb;

#[derive(Debug, Default)]
pub(super) struct PresenceBook {
    /// user -> (lref, extension).
    by_user: HashMap<Guid, (i32, Text)>,
    /// lref -> user.
    by_lref: HashMap<i32, Guid>,
    last_lref: i32,
    /// What the PBX holds (as of the last Subscribe or UpdatePresence sent): lref -> extension.
    sent: BTreeMap<i32, Text>,
}

/// What an UpdatePresence must carry to bring the PBX's list in step with the book.
pub(super) struct PresenceChange {
    /// Every presentity wanted, by lref (what the PBX holds once the change is made).
    pub(super) wanted: BTreeMap<i32, Text>,
    pub(super) add: Vec<pb::Presentity>,
    pub(super) remove: Vec<pb::Presentity>,
}

impl PresenceBook {
    /// How many users, lrefs and sent presentities are kept.
    pub(super) fn sizes(&self) -> (usize, usize, usize) {
        (self.by_user.len(), self.by_lref.len(), self.sent.len())
    }

    /// Follows a user at this extension (a new lref when the extension changed).
    pub(super) fn upsert(&mut self, guid: &Guid, extn: &Text) {
        if extn.is_empty() {
            self.remove(guid);
            return;
        }
        if self.by_user.get(guid).is_some_and(|(_, e)| e == extn) {
            return;
        }
        self.remove(guid);
        self.last_lref = if self.last_lref == i32::MAX {
            1
        } else {
            self.last_lref + 1
        };
        let lref = self.last_lref;
        self.by_user.insert(guid.clone(), (lref, extn.clone()));
        self.by_lref.insert(lref, guid.clone());
    }

    pub(super) fn remove(&mut self, guid: &Guid) {
        if let Some((lref, _)) = self.by_user.remove(guid) {
            self.by_lref.remove(&lref);
        }
    }

    /// Whether no user is followed.
    pub(super) fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }

    /// The user an lref stands for.
    pub(super) fn user(&self, lref: i32) -> Option<&Guid> {
        self.by_lref.get(&lref)
    }

    /// Every presentity wanted, by lref.
    pub(super) fn wanted(&self) -> BTreeMap<i32, Text> {
        self.by_user
            .values()
            .map(|(lref, extn)| (*lref, extn.clone()))
            .collect()
    }

    /// The whole list, for a Subscribe.
    pub(super) fn entries(wanted: &BTreeMap<i32, Text>) -> Vec<pb::Presentity> {
        wanted
            .iter()
            .map(|(lref, extn)| Self::entry(*lref, extn))
            .collect()
    }

    /// What differs between the book and what the PBX holds.
    pub(super) fn change(&self) -> PresenceChange {
        let wanted = self.wanted();
        let add = wanted
            .iter()
            .filter(|(lref, extn)| self.sent.get(lref) != Some(extn))
            .map(|(lref, extn)| Self::entry(*lref, extn))
            .collect();
        let remove = self
            .sent
            .keys()
            .filter(|lref| !wanted.contains_key(lref))
            .map(|lref| pb::Presentity {
                presentity: String::new(),
                lref: *lref,
            })
            .collect();
        PresenceChange {
            wanted,
            add,
            remove,
        }
    }

    /// The PBX has been sent this list.
    pub(super) fn sent(&mut self, wanted: BTreeMap<i32, Text>) {
        self.sent = wanted;
    }

    fn entry(lref: i32, extn: &Text) -> pb::Presentity {
        pb::Presentity {
            presentity: extn.to_string(),
            lref,
        }
    }
}
