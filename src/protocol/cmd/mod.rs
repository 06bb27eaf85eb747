//! The typed command vocabulary, used in both directions: a client builds a command and sends
//! its `to_pb()` (inside a message from [`super::msg`]); the simulator reads what arrives with
//! `from_pb()` and acts on the command. Each `to_pb` checks the document's limits.
//!
//! - [`CallFunctionCmd`]: the call functions (`CallFunction`), with their typed arguments
//!   ([`TransferTarget`], [`Priority`], [`CallRef`], ...) and the feature bit offering each
//!   ([`FeatureGate`]); [`MakeCallType`] for MakeCall.
//! - [`UserUpdate`]: changes to a user's configuration (`UpdateUser`).
//! - [`QueueUpdate`]: changes to a queue's configuration (`UpdateQueue`).
//! - [`ShortCode`]: a short code, in a call function or a user update.

mod call;
mod queue;
mod short_code;
mod user;

pub use call::{
    CallFunctionCmd, CallRef, FeatureGate, MakeCallType, MemberAction, Priority, RecordingControl,
    TransferTarget, TransferType, feature_gate,
};
pub use queue::{Member, QueueUpdate, ServiceMode};
pub use short_code::ShortCode;
pub use user::{
    ABSENCE_TEXT_MAX, APP_PRESENCE_MAX, AbsenceKind, AbsenceNote, LoginExtn, UserUpdate,
};
