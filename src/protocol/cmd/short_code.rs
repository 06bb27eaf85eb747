//! A short code (`ShortCodeData`): sent in a call function or in a user update.

use crate::protocol::pb;

/// A short code (`ShortCodeData`): a numbered configuration action with its parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ShortCode {
    /// The short code number, e.g. 7 (set DND) or 70 (voicemail counters).
    pub code: i32,
    /// Its parameter string.
    pub val: String,
    /// On whose behalf, when not the subscription's user.
    pub onbehalf: String,
}

impl ShortCode {
    /// A short code with a parameter.
    pub fn new(code: i32, val: impl Into<String>) -> Self {
        ShortCode {
            code,
            val: val.into(),
            onbehalf: String::new(),
        }
    }

    /// Short code 70: show voicemail counters for an application-provided mailbox
    /// (`;new,old,saved`, as the document's example `;3,0,0`).
    pub fn mailbox_counts(new: u32, old: u32, saved: u32) -> Self {
        ShortCode::new(70, format!(";{new},{old},{saved}"))
    }

    pub(crate) fn to_pb(&self) -> pb::ShortCodeData {
        pb::ShortCodeData {
            code: self.code,
            val: self.val.clone(),
            onbehalf: self.onbehalf.clone(),
        }
    }

    pub(crate) fn from_pb(s: &pb::ShortCodeData) -> Self {
        ShortCode {
            code: s.code,
            val: s.val.clone(),
            onbehalf: s.onbehalf.clone(),
        }
    }
}
