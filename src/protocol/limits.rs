//! The document's limits on text arguments, and the error a command or message refused for
//! breaking one. Shared by the command vocabulary ([`super::cmd`]) and the message constructors
//! ([`super::msg`]), which check the same limits.
//!
//! Lengths are counted in characters (Unicode scalar values), as the document counts them.
//!
//! Also the caps on what the network can make ipo-top hold: the PBX decides how many users,
//! queues and calls it reports and how long its texts are, so each is bounded here, in one
//! place. Beyond a cap the rest is ignored, logged once and shown to the supervisor.

/// The most users kept from the lines list (IP Office's largest systems have 3000).
pub const MAX_USERS: usize = 10_000;
/// The most queues (hunt groups) kept from the lines list.
pub const MAX_QUEUES: usize = 1_000;
/// The most call appearances kept at once, over every line.
pub const MAX_APPEARANCES: usize = 20_000;
/// The most account codes kept from `nasystem/AccountCode`.
pub const MAX_ACCOUNT_CODES: usize = 10_000;
/// The longest text kept from any one field of a message, in bytes (cut at a character
/// boundary).
pub const MAX_TEXT_BYTES: usize = 1024;
/// Model events pending for a slow reader beyond which a call's pending new and ended
/// appearance fold into one ended event.
pub const MAILBOX_FOLD_AFTER: usize = 10_000;
/// The most model events pending for a slow reader: beyond it, the oldest ends of calls the
/// reader never saw are dropped (counted as folded).
pub const MAILBOX_MAX_PENDING: usize = 40_000;
/// The most session events other than model events (sync reports, refusals, failed attempts,
/// command reports) pending for a slow reader; beyond it the oldest go (counted as folded).
pub const MAILBOX_MAX_OTHER: usize = 1_000;

/// `s` cut to at most `max` bytes at a character boundary, and whether it was cut.
pub fn clip(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or(""), true)
}

/// Why a builder refused its arguments. Each message says what is wrong and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A text argument is shorter or longer than the document allows.
    #[error("{what} is {len} characters long; the MTCTI3 document allows {min} to {max}")]
    Length {
        /// Which argument.
        what: &'static str,
        /// Its length in characters.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A text argument holds a character the document does not allow there.
    #[error("{what} contains {ch:?}; only {allowed} are allowed")]
    Character {
        /// Which argument.
        what: &'static str,
        /// The first offending character.
        ch: char,
        /// What is allowed, in words.
        allowed: &'static str,
    },
    /// A priority other than "1", "2" or "3".
    #[error("priority {0:?} is not one of \"1\" (low), \"2\" (medium) or \"3\" (high)")]
    Priority(String),
    /// A call function named no call: callid 0 is left off the wire (proto3), and the document
    /// requires one of callid or referencecallid.
    #[error("callid 0 names no call; give the callid IP Office reported for the call")]
    NoCallId,
    /// MakeCall and UnParkCall need a non-zero referencecallid (the document requires it, and
    /// proto3 leaves 0 off the wire).
    #[error("{what} needs a non-zero referencecallid; choose one unique on this subscription")]
    NoReferenceCallId {
        /// Which command.
        what: &'static str,
    },
    /// A presence subscription timeout outside 60..=86400 seconds.
    #[error("presence subscription timeout {0} s is outside the document's range of 60 to 86400 s")]
    PresenceTimeout(i32),
    /// A list or name that must hold something is empty.
    #[error("{what} is empty; give at least one")]
    Empty {
        /// Which argument.
        what: &'static str,
    },
    /// Two options that contradict each other were both chosen.
    #[error("{0}")]
    Conflict(&'static str),
    /// A custom absence (type 11) with no text: the document says to avoid it, as it shows a
    /// blank note rather than no absence.
    #[error(
        "a custom absence note (type 11) needs text; clear the absence instead of sending it blank"
    )]
    BlankAbsence,
    /// A received CallFunction names an action the document describes no function for.
    #[error("CallFunction action {0} is not a function the MTCTI3 document describes")]
    UnknownAction(i32),
    /// A received CallFunction lacks a part its action requires.
    #[error("{action} needs {what}")]
    Missing {
        /// The action.
        action: &'static str,
        /// The missing part.
        what: &'static str,
    },
}

/// Checks a text argument's length in characters.
pub(crate) fn check_len(
    what: &'static str,
    s: &str,
    min: usize,
    max: usize,
) -> Result<(), BuildError> {
    let len = s.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(BuildError::Length {
            what,
            len,
            min,
            max,
        })
    }
}

/// Checks a text that IP Office converts to the Basic Multilingual Plane (SetTag, SetAccountCode,
/// SetAuthCode): 0..=max such characters.
pub(crate) fn check_bmp(what: &'static str, s: &str, max: usize) -> Result<(), BuildError> {
    check_len(what, s, 0, max)?;
    match s.chars().find(|c| u32::from(*c) > 0xFFFF) {
        Some(ch) => Err(BuildError::Character {
            what,
            ch,
            allowed: "characters of the Basic Multilingual Plane (U+0000..U+FFFF)",
        }),
        None => Ok(()),
    }
}

pub(crate) fn non_zero_reference(
    what: &'static str,
    referencecallid: i32,
) -> Result<(), BuildError> {
    if referencecallid == 0 {
        Err(BuildError::NoReferenceCallId { what })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_a_character_boundary() {
        assert_eq!(clip("abc", 3), ("abc", false));
        assert_eq!(clip("abcd", 3), ("abc", true));
        // "é" is two bytes: cutting inside it keeps neither half.
        assert_eq!(clip("aé", 2), ("a", true));
        assert_eq!(clip("日本", 4), ("日", true));
        assert_eq!(clip("日本", 0), ("", true));
    }
}
