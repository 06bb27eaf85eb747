//! Calls in words, for the messages that say what happened to a selected row.

use super::super::text::clean;
use crate::model::{Appearance, EndReason};

/// The caller of a call, in a few words.
pub fn caller_words(a: &Appearance) -> String {
    let label = a
        .call
        .calling
        .as_ref()
        .map(|p| p.label())
        .filter(|l| !l.is_empty())
        .or_else(|| a.call.other_party().map(|p| p.label()))
        .unwrap_or_default();
    clean(&label).into_owned()
}

/// Why an appearance ended, in words.
pub fn end_words(reason: &EndReason) -> String {
    match reason {
        EndReason::Lost {
            description,
            this_end_dropped,
            ..
        } => {
            let text = clean(description);
            match (text.trim().is_empty(), this_end_dropped) {
                (false, _) => format!("ended ({})", text.trim()),
                (true, true) => "was dropped".to_owned(),
                (true, false) => "ended".to_owned(),
            }
        }
        EndReason::NotReported => "is no longer reported by the PBX".to_owned(),
        EndReason::LineRemoved => "ended: its line was removed".to_owned(),
        EndReason::ParkServerGone => "is gone: the park server went away".to_owned(),
    }
}
