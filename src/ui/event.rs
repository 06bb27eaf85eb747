//! What goes into the screen ([`Event`]) and what comes out of it ([`Action`]), with the
//! messages and requests they carry.

use std::fmt;
use std::time::Instant;

use super::functions::AuditRecord;
use super::keymap::Key;
use super::screen::ViewState;
use crate::model::{Command, CommandStatus, Judged, ModelEvent};

/// The local time of day, for the header's clock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LocalTime {
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// How a status message should be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    /// Plain information.
    Info,
    /// Something worth noticing (the selection moved, ...).
    Notice,
    /// Something failed or was refused.
    Error,
    /// A function's effect was seen.
    Done,
}

/// A line for the status bar.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    /// How to read it.
    pub level: Level,
    /// What it says.
    pub text: String,
}

impl Message {
    /// A message.
    pub fn new(level: Level, text: impl Into<String>) -> Message {
        Message {
            level,
            text: text.into(),
        }
    }
}

/// The screen's own number for a function it asked to send, to follow what becomes of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Ticket(pub u64);

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A function the application layer must send: audit it first, then hand the command to
/// the session, and report back with [`Event::Outcome`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Request {
    /// The screen's number for it.
    pub ticket: Ticket,
    /// The command for the session.
    pub command: Command,
    /// In words, e.g. "transferring 02079460958 to 4103".
    pub words: String,
    /// What the audit log records of it.
    pub audit: AuditRecord,
}

/// One line of the message history.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    /// The wall clock when it was last updated, when known.
    pub clock: Option<LocalTime>,
    /// The message.
    pub message: Message,
    /// The request it reports on, if any (its line is updated in place).
    pub ticket: Option<Ticket>,
}

/// An input to the screen.
#[derive(Clone, Debug)]
pub enum Event {
    /// A batch of model changes, in order.
    Model(Vec<ModelEvent>),
    /// The serving process's judgement of the queues (a shared viewer's levels and trends).
    Judged(Vec<Judged>),
    /// A key press.
    Key(Key),
    /// The terminal's new size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// Time passed: the monotonic `now` that times are measured with, and the wall clock.
    Tick {
        /// Now.
        now: Instant,
        /// The local time of day, when known.
        clock: Option<LocalTime>,
    },
    /// A message from the application layer for the status line.
    Message(Message),
    /// The application layer did not retry the refused login, and says why and what to fix.
    RetryRefused(String),
    /// Why no function can be sent from this screen, as the application learnt it at start
    /// (a shared viewer's `hello`: read-only on the site, no serving process); `None` once
    /// they can be. Shown under the header until it changes.
    CannotSend(Option<String>),
    /// The session logs in again with changed credentials (the model is kept and reconciled
    /// by the session like after any reconnect).
    Retrying {
        /// What the header calls the PBX now.
        pbx: String,
    },
    /// What became of a request: the session's reports (sent, accepted, done, no effect,
    /// failed), or why it was not sent (the audit log could not be written).
    Outcome {
        /// The request.
        ticket: Ticket,
        /// Where it stands.
        status: CommandStatus,
    },
}

/// What the application layer must do after an update.
// A few per key press at most, so the request is not boxed to keep the other variants small.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Action {
    /// Restore the terminal and exit.
    Quit,
    /// The session stopped on a refused login and the user asks to log in again: re-read the
    /// configuration and the password source, refuse if the credentials are the ones the PBX
    /// refused, else restart the session.
    RetryLogin,
    /// Send a function: record it in the audit log (refuse it if that fails), then hand it
    /// to the session.
    Send(Request),
    /// The narrowing or sort changed: keep it for the next run.
    SaveView(ViewState),
    /// Ring the terminal bell (a queue entered critical and `[alerts] bell` is on).
    Bell,
}
