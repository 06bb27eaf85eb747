//! The functions the supervisor can send: which one a key means, what it acts on, whether the
//! PBX allows it there now (feature bits and line type), what must be asked first (a prompt
//! for an argument, a confirmation), and the request that goes out, in words for the screen
//! and in fields for the audit log.
//!
//! Everything here reads the screen's state through a [`Scene`] and changes nothing: the
//! screen opens the prompts and confirmations these plans describe, and checks a plan again
//! against the model just before anything is sent. Which function a target allows is the
//! model's to say ([`crate::model::Tables::allows`]); here is what belongs with the selection.

mod ask;
mod draft;
mod prompt;
mod rules;

pub use ask::{answer, plan};
pub use draft::{AuditRecord, AuditSubject, Draft, describe, draft};
pub use prompt::{Choice, Confirm, Prompt};
pub use rules::{check, my_calls, offer, picked_agent_call, picked_member, supervisor, target};

use std::time::{Duration, Instant};

use super::config::UiConfig;
use super::screen::{Overlay, Pane, Selection};
use crate::model::Tables;

/// What the functions read of the screen: the model, the configuration and where the
/// supervisor is (focus, selection, overlay).
#[derive(Clone, Copy, Debug)]
pub struct Scene<'a> {
    /// The screen's copy of the model.
    pub model: &'a Tables,
    /// The configuration.
    pub config: &'a UiConfig,
    /// The focused pane.
    pub focus: Pane,
    /// The selection.
    pub selection: &'a Selection,
    /// The overlay.
    pub overlay: &'a Overlay,
    /// The time shown durations are measured to.
    pub now: Instant,
}

impl<'a> Scene<'a> {
    fn model(&self) -> &'a Tables {
        self.model
    }

    fn config(&self) -> &'a UiConfig {
        self.config
    }

    fn focus(&self) -> Pane {
        self.focus
    }

    fn selection(&self) -> &'a Selection {
        self.selection
    }

    fn overlay(&self) -> &'a Overlay {
        self.overlay
    }

    fn since(&self, t: Instant) -> Duration {
        self.now.saturating_duration_since(t)
    }
}

/// Why a function cannot be used on the selection.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FunctionRefusal {
    /// In words, to finish "can't transfer: ...".
    pub why: String,
    /// Whether the function belongs with this kind of selection (then its hint is dimmed);
    /// else the hint is not shown at all.
    pub fits: bool,
}

impl FunctionRefusal {
    fn fits(why: impl Into<String>) -> FunctionRefusal {
        FunctionRefusal {
            why: why.into(),
            fits: true,
        }
    }

    fn elsewhere(why: impl Into<String>) -> FunctionRefusal {
        FunctionRefusal {
            why: why.into(),
            fits: false,
        }
    }
}

/// How a function's key is offered for the current selection.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Offer {
    /// Not shown: the function does not belong with the selection, or the screen is
    /// read-only.
    Hidden,
    /// Shown dimmed: it belongs with the selection but cannot be used now, for this reason.
    Dimmed(String),
    /// Usable.
    Ready,
}

/// One of a prompt's completions.

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FunctionStep {
    /// A prompt for the argument.
    Prompt(Prompt),
    /// A confirmation.
    Confirm(Confirm),
    /// Nothing more to ask: send.
    Send(Draft),
}
