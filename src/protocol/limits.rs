//! The document's limits on text arguments, and the error a command or message refused for
//! breaking one. Shared by the command vocabulary ([`super::cmd`]) and the message constructors
//! ([`super::msg`]), which check the same limits.
//!
//! Lengths are counted in characters (Unicode scalar values), as the document counts them.

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
