//! The functions a supervisor can use, one list for the keys, the screen and the model, and
//! the document's table of the lines each call function works on ("Line types").
//!
//! [`Tables::allows`] answers whether a function could be sent on what it acts on now, from
//! the same checks [`Tables::plan`] makes of a command, without making one up.

#[cfg(doc)]
use super::Model;
use super::Tables;
use super::call::{Appearance, CallFunction, CallState};
use super::ids::{AppearanceId, Guid, LineId, Text};

/// A function the screen offers. Finish is deliberately absent: it stops the reporting of a
/// call for every client of the PBX, the site's other applications included.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Function {
    /// BlindTransfer to a number.
    Transfer,
    /// Redirect a ringing call to a number.
    Redirect,
    /// Park in a slot.
    Park,
    /// UnParkCall to the supervisor's phone.
    Unpark,
    /// SetPriority 1-3 on a queued call.
    Priority,
    /// SetTag.
    Tag,
    /// SetAccountCode.
    AccountCode,
    /// DropCall.
    Drop,
    /// ForceClear.
    ForceClear,
    /// MakeCall type 106 (intrude) from the supervisor's line to the agent's extension.
    Barge,
    /// MakeCall type 108 (pickup) from the supervisor's line to the ringing extension.
    Pickup,
    /// AnswerCall on the supervisor's own line.
    Answer,
    /// HoldCall or UnHoldCall on the supervisor's own line.
    Hold,
    /// A queue's service mode.
    ServiceMode,
    /// A queue member enabled or disabled.
    Member,
    /// An agent's do not disturb.
    Dnd,
}

impl Function {
    /// Every function, in the order hints list them.
    pub const ALL: [Function; 16] = [
        Function::Transfer,
        Function::Redirect,
        Function::Park,
        Function::Unpark,
        Function::Barge,
        Function::Pickup,
        Function::Answer,
        Function::Hold,
        Function::Priority,
        Function::Tag,
        Function::AccountCode,
        Function::Drop,
        Function::ForceClear,
        Function::ServiceMode,
        Function::Member,
        Function::Dnd,
    ];

    /// The function's name in messages.
    pub fn word(self) -> &'static str {
        match self {
            Function::Transfer => "transfer",
            Function::Redirect => "redirect",
            Function::Park => "park",
            Function::Unpark => "unpark",
            Function::Priority => "priority",
            Function::Tag => "tag",
            Function::AccountCode => "account code",
            Function::Drop => "drop",
            Function::ForceClear => "force clear",
            Function::Barge => "barge",
            Function::Pickup => "pick up",
            Function::Answer => "answer",
            Function::Hold => "hold",
            Function::ServiceMode => "service mode",
            Function::Member => "member",
            Function::Dnd => "DND",
        }
    }

    /// The document's call function sent on the appearance itself, for those sent so (barge,
    /// pick up and unpark are calls from the supervisor's line instead). Hold on a held call
    /// is UnHoldCall.
    fn call_function(self, a: &Appearance) -> Option<CallFunction> {
        Some(match self {
            Function::Transfer => CallFunction::BlindTransfer,
            Function::Redirect => CallFunction::Redirect,
            Function::Park => CallFunction::Park,
            Function::Priority => CallFunction::SetPriority,
            Function::Tag => CallFunction::SetTag,
            Function::AccountCode => CallFunction::SetAccountCode,
            Function::Drop => CallFunction::Drop,
            Function::ForceClear => CallFunction::ForceClear,
            Function::Answer => CallFunction::Answer,
            Function::Hold if a.call.state.is_held() => CallFunction::UnHold,
            Function::Hold => CallFunction::Hold,
            _ => return None,
        })
    }

    /// The appearances the function acts on: the document's line types for a call function;
    /// for barge, pick up and unpark, the appearance chosen (the call itself goes from the
    /// supervisor's line); none for the queue and user functions.
    pub fn lines(self) -> Lines {
        match self {
            Function::Transfer => CallFunction::BlindTransfer.lines(),
            Function::Redirect => CallFunction::Redirect.lines(),
            Function::Park => CallFunction::Park.lines(),
            Function::Priority => CallFunction::SetPriority.lines(),
            Function::Tag => CallFunction::SetTag.lines(),
            Function::AccountCode => CallFunction::SetAccountCode.lines(),
            Function::Drop => CallFunction::Drop.lines(),
            Function::ForceClear => CallFunction::ForceClear.lines(),
            Function::Answer => CallFunction::Answer.lines(),
            Function::Hold => CallFunction::Hold.lines(),
            Function::Barge => Lines::USER,
            Function::Pickup => Lines::USER_AND_QUEUE,
            Function::Unpark => Lines::PARK,
            Function::ServiceMode | Function::Member | Function::Dnd => Lines::NONE,
        }
    }
}

/// Which kinds of line a function acts on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Lines {
    /// A user's line.
    pub user: bool,
    /// A queue's line.
    pub queue: bool,
    /// The park server.
    pub park: bool,
}

impl Lines {
    const ALL: Lines = Lines {
        user: true,
        queue: true,
        park: true,
    };
    const USER_AND_QUEUE: Lines = Lines {
        user: true,
        queue: true,
        park: false,
    };
    const QUEUE: Lines = Lines {
        user: false,
        queue: true,
        park: false,
    };
    const USER: Lines = Lines {
        user: true,
        queue: false,
        park: false,
    };
    const PARK: Lines = Lines {
        user: false,
        queue: false,
        park: true,
    };
    const NONE: Lines = Lines {
        user: false,
        queue: false,
        park: false,
    };

    /// Whether `line` is one of them.
    pub fn has(self, line: &LineId) -> bool {
        match line {
            LineId::User(_) => self.user,
            LineId::Queue(_) => self.queue,
            LineId::ParkServer => self.park,
        }
    }

    /// In words, for a refusal.
    fn words(self) -> &'static str {
        match (self.user, self.queue, self.park) {
            (true, true, true) => "user, queue and park-server calls",
            (true, true, false) => "user and queue calls",
            (false, true, false) => "queue calls only",
            _ => "a user's own calls only",
        }
    }
}

impl CallFunction {
    /// The lines the document lists for the function ("Line types"): the one table of them.
    pub fn lines(self) -> Lines {
        match self {
            CallFunction::Drop
            | CallFunction::BlindTransfer
            | CallFunction::SetTag
            | CallFunction::ForceClear => Lines::ALL,
            CallFunction::Redirect
            | CallFunction::Park
            | CallFunction::AddToConf
            | CallFunction::ConfMember
            | CallFunction::SetAccountCode => Lines::USER_AND_QUEUE,
            CallFunction::SetPriority | CallFunction::Finish => Lines::QUEUE,
            _ => Lines::USER,
        }
    }
}

fn line_words(line: &LineId) -> &'static str {
    match line {
        LineId::User(_) => "a user's call",
        LineId::Queue(_) => "a queue call",
        LineId::ParkServer => "a parked call",
    }
}

/// What a function acts on, by identity, so that it can be checked again at any time.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FunctionTarget {
    /// A call appearance (on a queue, an agent's line, the park server or the supervisor's
    /// own line).
    Call(AppearanceId),
    /// A queue.
    Queue(Guid),
    /// A member of a queue, by extension.
    Member {
        /// The queue.
        queue: Guid,
        /// The member's extension.
        extn: Text,
    },
    /// An agent.
    Agent(Guid),
}

/// Why [`Tables::allows`] says no.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Disallowed {
    /// The function does not act on this kind of thing at all.
    #[error("{0}")]
    NotHere(Text),
    /// It acts on this, but the PBX does not allow it now (feature bits, line type, the
    /// supervisor's MAKECALL right, what is known).
    #[error("{0}")]
    NotNow(Text),
}

impl Tables {
    /// Whether `f` could be sent on `target` now, by the checks [`Tables::plan`] makes (feature
    /// bits, line type, the supervisor's MAKECALL right), with an argument that changes
    /// something (another priority, another mode), so that only what the PBX allows decides.
    /// `supervisor` is the supervisor's extension.
    pub fn allows(
        &self,
        f: Function,
        target: &FunctionTarget,
        supervisor: Option<&str>,
    ) -> Result<(), Disallowed> {
        let now = |t: Text| Disallowed::NotNow(t);
        match (f, target) {
            (Function::ServiceMode, FunctionTarget::Queue(g)) => {
                self.known_queue(g).map(|_| ()).map_err(now)
            }
            (Function::Member, FunctionTarget::Member { queue, extn }) => {
                let q = self.known_queue(queue).map_err(now)?;
                Self::member_of(q, extn).map(|_| ()).map_err(now)
            }
            (Function::Dnd, FunctionTarget::Agent(g)) => {
                self.dnd_settable(g).map(|_| ()).map_err(now)
            }
            (Function::ServiceMode | Function::Member | Function::Dnd, FunctionTarget::Call(_)) => {
                Err(Disallowed::NotHere(Text::from(format!(
                    "{} does not act on a call",
                    f.word()
                ))))
            }
            (_, FunctionTarget::Call(id)) => {
                let a = self.found(*id).map_err(now)?;
                self.call_allows(f, a, supervisor).map_err(now)
            }
            _ => Err(Disallowed::NotHere(Text::from(format!(
                "{} does not act on this",
                f.word()
            )))),
        }
    }

    /// Checks a call function on `a` as [`Tables::plan`] does.
    fn call_allows(
        &self,
        f: Function,
        a: &Appearance,
        supervisor: Option<&str>,
    ) -> Result<(), Text> {
        match f.call_function(a) {
            Some(cf) => self.function_allowed(cf, a),
            None => self.supervisor_leg(f, a, supervisor).map(|_| ()),
        }
    }

    /// For barge, pick up and unpark on `a`: the supervisor's user and the extension its call
    /// goes to (empty for unpark), once the call and the supervisor's line allow it.
    pub(super) fn supervisor_leg(
        &self,
        f: Function,
        a: &Appearance,
        supervisor: Option<&str>,
    ) -> Result<(Guid, Text), Text> {
        match f {
            Function::Barge => {
                if a.call.state != CallState::Connected {
                    return Err(Text::from("barge needs a connected call"));
                }
                let agent = self.agent_of(a).ok_or_else(|| {
                    Text::from("this call is not connected to an agent of this system")
                })?;
                self.supervisor_line(supervisor, &agent)
                    .map(|sup| (sup, agent))
            }
            Function::Pickup => {
                if !a.call.state.is_ringing() {
                    return Err(Text::from("pickup needs a ringing call"));
                }
                let ringing = self.ringing_extension(a).ok_or_else(|| {
                    Text::from("no agent of this system is ringing with this call")
                })?;
                self.supervisor_line(supervisor, &ringing)
                    .map(|sup| (sup, ringing))
            }
            Function::Unpark => {
                if a.key.line != LineId::ParkServer || a.call.park_slot.is_empty() {
                    return Err(Text::from(
                        "unpark needs a parked call (on the park server)",
                    ));
                }
                self.supervisor_line(supervisor, "")
                    .map(|sup| (sup, Text::empty()))
            }
            _ => Err(Text::from(format!("{} does not act on a call", f.word()))),
        }
    }

    /// Whether the document's line types and the appearance's featuresavailable allow `f`.
    pub(super) fn function_allowed(&self, f: CallFunction, a: &Appearance) -> Result<(), Text> {
        let lines = f.lines();
        if !lines.has(&a.key.line) {
            return Err(Text::from(format!(
                "{} works on {}, and this is {}",
                f.name(),
                lines.words(),
                line_words(&a.key.line)
            )));
        }
        if !a.call.features.allows(f) {
            return Err(Text::from(format!(
                "the PBX does not offer {} on this call now (featuresavailable)",
                f.name()
            )));
        }
        Ok(())
    }
}
