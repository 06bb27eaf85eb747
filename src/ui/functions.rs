//! The functions the supervisor can send: which one a key means, what it acts on, whether the
//! PBX allows it there now (feature bits and line type), what must be asked first (a prompt
//! for an argument, a confirmation), and the request that goes out, in words for the screen
//! and in fields for the audit log.
//!
//! Everything here reads the screen's state and changes nothing: `App` opens the prompts and
//! confirmations these plans describe, and checks a plan again against the model just before
//! anything is sent.

use std::sync::Arc;

use serde::Serialize;

use super::app::{App, DetailTarget, Overlay, Pane, caller_words};
use super::keymap::KeyAction;
use super::rows::{agent_call, agent_calls, by_number};
use super::text::clean;
use crate::model::{
    AccountCodes, Appearance, CallState, Command, Disallowed, Function, FunctionTarget, Guid,
    LineId, PlannedAction, Priority, Queue, ServiceMode, SupervisorCall, Text, User,
};

/// Why a function cannot be used on the selection.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Refusal {
    /// In words, to finish "can't transfer: ...".
    pub why: String,
    /// Whether the function belongs with this kind of selection (then its hint is dimmed);
    /// else the hint is not shown at all.
    pub fits: bool,
}

impl Refusal {
    fn fits(why: impl Into<String>) -> Refusal {
        Refusal {
            why: why.into(),
            fits: true,
        }
    }

    fn elsewhere(why: impl Into<String>) -> Refusal {
        Refusal {
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
pub struct Choice {
    /// What is sent when it is picked.
    pub value: String,
    /// How it is shown ("4103 Oyelaran (AVAIL)").
    pub label: String,
}

/// A prompt for a function's argument: free text with completions, or a pick from a list.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Prompt {
    /// What it is for.
    pub function: Function,
    /// What the function acts on.
    pub target: FunctionTarget,
    /// The question, e.g. "Transfer the call from 02079460958 to:".
    pub label: String,
    /// What was typed.
    pub input: String,
    /// Every completion.
    pub choices: Vec<Choice>,
    /// The completions that match what was typed (indices into `choices`).
    pub matches: Vec<usize>,
    /// The completion picked (a position in `matches`).
    pub picked: Option<usize>,
    /// Whether only a completion can be sent (a picker), or any text.
    pub choices_only: bool,
    /// The input is a suggestion nobody has touched yet: typing replaces it.
    pub suggestion: bool,
    /// A note shown with the prompt (why there is no list, what is now set).
    pub note: Option<String>,
    /// Why the last Enter did not send.
    pub error: Option<String>,
}

impl Prompt {
    fn new(
        function: Function,
        target: FunctionTarget,
        label: String,
        choices: Vec<Choice>,
    ) -> Prompt {
        let mut p = Prompt {
            function,
            target,
            label,
            input: String::new(),
            matches: Vec::new(),
            choices,
            picked: None,
            choices_only: false,
            suggestion: false,
            note: None,
            error: None,
        };
        p.refilter();
        p
    }

    /// What the prompt shows, and what Enter sends.
    pub fn shown(&self) -> &str {
        match self.picked_choice() {
            Some(c) => &c.value,
            None if self.choices_only => "",
            None => &self.input,
        }
    }

    /// The completion picked, if one is.
    pub fn picked_choice(&self) -> Option<&Choice> {
        self.picked
            .and_then(|p| self.matches.get(p))
            .and_then(|i| self.choices.get(*i))
    }

    fn refilter(&mut self) {
        let needle = self.input.trim().to_lowercase();
        let letters = needle.chars().any(char::is_alphabetic);
        self.matches = self
            .choices
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                needle.is_empty()
                    || c.value.to_lowercase().starts_with(&needle)
                    || ((letters || self.choices_only) && c.label.to_lowercase().contains(&needle))
            })
            .map(|(i, _)| i)
            .collect();
        // A picker always shows one of its choices; free text shows what was typed.
        self.picked = (self.choices_only && !self.matches.is_empty()).then_some(0);
    }

    /// Types a character.
    pub fn type_char(&mut self, c: char) {
        if c.is_control() {
            return;
        }
        self.error = None;
        if self.suggestion {
            self.input.clear();
            self.suggestion = false;
        } else if !self.choices_only {
            // Typing carries on from what the prompt shows (a picked completion included).
            self.input = self.shown().to_owned();
        }
        self.input.push(c);
        self.refilter();
    }

    /// Deletes the last character.
    pub fn delete(&mut self) {
        self.error = None;
        if !self.choices_only {
            self.input = self.shown().to_owned();
        }
        self.suggestion = false;
        self.input.pop();
        self.refilter();
    }

    /// Empties the prompt.
    pub fn clear(&mut self) {
        self.error = None;
        self.suggestion = false;
        self.input.clear();
        self.refilter();
    }

    /// Picks the next (`forward`) or previous completion, wrapping; free text comes back
    /// after the last.
    pub fn cycle(&mut self, forward: bool) {
        self.error = None;
        let n = self.matches.len();
        if n == 0 {
            return;
        }
        self.picked = match (self.picked, forward) {
            (None, true) => Some(0),
            (None, false) => Some(n - 1),
            (Some(p), true) if p + 1 < n => Some(p + 1),
            (Some(_), true) if self.choices_only => Some(0),
            (Some(_), true) => None,
            (Some(0), false) if self.choices_only => Some(n - 1),
            (Some(0), false) => None,
            (Some(p), false) => Some(p - 1),
        };
    }
}

/// A question before a function that can hurt.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Confirm {
    /// What it is for.
    pub function: Function,
    /// What the function acts on.
    pub target: FunctionTarget,
    /// The function's argument, decided already.
    pub argument: Option<String>,
    /// The question.
    pub question: String,
    /// A word that must be typed and followed by Enter (`OOS`), instead of the confirm key.
    pub word: Option<&'static str>,
    /// What has been typed of it.
    pub typed: String,
    /// What the confirm key does, e.g. "drop".
    pub yes: String,
}

/// What pressing a function's key leads to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Step {
    /// A prompt for the argument.
    Prompt(Prompt),
    /// A confirmation.
    Confirm(Confirm),
    /// Nothing more to ask: send.
    Send(Draft),
}

/// The appearance, queue or agent a function acts on, as the audit log records it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct AuditSubject {
    /// `queue`, `agent`, `park` or `supervisor`.
    pub kind: &'static str,
    /// The extension or queue number (the park slot for a parked call).
    pub extn: String,
    /// The name.
    pub name: String,
}

/// What the audit log records of a function, besides the time, the user, the PBX and the
/// request id, which the application adds.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct AuditRecord {
    /// The document's name of the function (`BlindTransfer`, `MakeCall intrude`,
    /// `SetServiceMode`...).
    pub action: &'static str,
    /// What it acts on.
    pub appearance: AuditSubject,
    /// The call's parties ("caller 02079460958 Harbour Freight Ltd", "connected 4102").
    pub parties: Vec<String>,
    /// The argument sent (target number, slot, tag, code, priority, mode), empty if none.
    pub argument: String,
}

/// A function ready to send: the model's command, what the screen says while it is under
/// way, and what the audit log records.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Draft {
    /// The command for the session.
    pub command: Command,
    /// In words, e.g. "transferring 02079460958 to 4103".
    pub words: String,
    /// For the audit log.
    pub audit: AuditRecord,
}

// --------------------------------------------------------------------------------------------
// What a key acts on

/// The supervisor's user, when configured and on this PBX.
pub fn supervisor(app: &App) -> Option<&Arc<User>> {
    let extn = app.config().supervisor.as_deref()?;
    app.model().user_by_extn(extn)
}

/// The supervisor's calls, in the order the My line strip shows them: ringing first, then
/// connected, then held.
pub fn my_calls(app: &App) -> Vec<&Arc<Appearance>> {
    match supervisor(app) {
        Some(u) => agent_calls(app.model(), u),
        None => Vec::new(),
    }
}

/// The call an agent's detail has picked (its calls in [`agent_calls`] order).
pub fn picked_agent_call<'a>(
    app: &'a App,
    guid: &Guid,
    pick: usize,
) -> Option<&'a Arc<Appearance>> {
    let u = app.model().user(guid)?;
    agent_calls(app.model(), u).get(pick).copied()
}

/// The member a queue's detail has picked.
pub fn picked_member(app: &App, guid: &Guid, pick: usize) -> Option<Text> {
    let q = app.model().queue(guid)?;
    q.members().get(pick).map(|m| m.extn.clone())
}

fn no_supervisor(app: &App) -> String {
    match app.config().supervisor.as_deref() {
        None => "set [supervisor] extension (your own phone) in the configuration".to_owned(),
        Some(e) => format!("your extension {} is not on this PBX", clean(e)),
    }
}

const CALL_HERE: &str =
    "select a call first: a waiting call, an agent with a call, or a parked call";

/// What the function would act on now, from the focus, the open detail and the selection.
pub fn target(app: &App, f: Function) -> Result<FunctionTarget, Refusal> {
    match f {
        Function::Answer | Function::Hold => {
            if supervisor(app).is_none() {
                return Err(Refusal::elsewhere(format!(
                    "{} works on your own line only; {}",
                    f.word(),
                    no_supervisor(app)
                )));
            }
            let calls = my_calls(app);
            let pick = match f {
                Function::Answer => calls.iter().find(|a| a.call.state.is_ringing()),
                _ => calls
                    .iter()
                    .find(|a| a.call.state == CallState::Connected)
                    .or_else(|| calls.iter().find(|a| a.call.state.is_held())),
            };
            return match pick {
                Some(a) => Ok(FunctionTarget::Call(a.id)),
                None if f == Function::Answer => Err(Refusal::elsewhere(
                    "nothing rings on your own line (answer works only there, never on an \
                     agent's phone)",
                )),
                None => Err(Refusal::elsewhere(
                    "no call on your own line to hold or take off hold (never on an agent's \
                     phone)",
                )),
            };
        }
        Function::ServiceMode => {
            return match app.overlay() {
                Overlay::Detail {
                    target: DetailTarget::Queue(g),
                    ..
                } => Ok(FunctionTarget::Queue(g.clone())),
                Overlay::Detail { .. } => Err(Refusal::elsewhere(
                    "service mode is set on a queue: open a queue's detail, or select it",
                )),
                _ => match (app.focus(), app.selection().queue.clone()) {
                    (Pane::Queues | Pane::Waiting, Some(q)) => Ok(FunctionTarget::Queue(q)),
                    _ => Err(Refusal::elsewhere(
                        "service mode is set on a queue: select one in the queues pane",
                    )),
                },
            };
        }
        Function::Member => {
            return match app.overlay() {
                Overlay::Detail {
                    target: DetailTarget::Queue(g),
                    pick,
                    ..
                } => match picked_member(app, g, *pick) {
                    Some(extn) => Ok(FunctionTarget::Member {
                        queue: g.clone(),
                        extn,
                    }),
                    None => Err(Refusal::fits("this queue lists no members")),
                },
                _ => Err(Refusal::elsewhere(
                    "members are enabled and disabled in a queue's detail: select the queue \
                     and press Enter",
                )),
            };
        }
        Function::Dnd => {
            return match app.overlay() {
                Overlay::Detail {
                    target: DetailTarget::Agent(g),
                    ..
                } => Ok(FunctionTarget::Agent(g.clone())),
                Overlay::Detail { .. } => Err(Refusal::elsewhere(
                    "DND is set on an agent: open an agent's detail, or select one",
                )),
                _ => match (app.focus(), app.selection().agent.clone()) {
                    (Pane::Agents, Some(g)) => Ok(FunctionTarget::Agent(g)),
                    _ => Err(Refusal::elsewhere(
                        "DND is set on an agent: select one in the agents pane",
                    )),
                },
            };
        }
        _ => {}
    }
    let call = match app.overlay() {
        Overlay::Detail {
            target: DetailTarget::Call { id, .. },
            ..
        } => Some(*id),
        Overlay::Detail {
            target: DetailTarget::Agent(g),
            pick,
            ..
        } => match picked_agent_call(app, g, *pick) {
            Some(a) => Some(a.id),
            None => return Err(Refusal::elsewhere("this agent has no call")),
        },
        Overlay::Detail {
            target: DetailTarget::Queue(_),
            ..
        } => return Err(Refusal::elsewhere(CALL_HERE)),
        _ => match app.focus() {
            Pane::Waiting => app.selection().call,
            Pane::Parked => app.selection().parked,
            Pane::Agents => {
                let user = app
                    .selection()
                    .agent
                    .as_ref()
                    .and_then(|g| app.model().user(g));
                match user.map(|u| agent_call(app.model(), u).0) {
                    Some(Some(a)) => Some(a.id),
                    Some(None) => return Err(Refusal::elsewhere("this agent has no call")),
                    None => None,
                }
            }
            Pane::Queues => None,
        },
    };
    call.map(FunctionTarget::Call)
        .ok_or_else(|| Refusal::elsewhere(CALL_HERE))
}

// --------------------------------------------------------------------------------------------
// Whether the PBX allows it

/// Whether `f` may be used on `target` now: whether it belongs there (line type, the
/// supervisor's own line or an agent's, the call's state for barge and pick up), then the
/// model's own check ([`crate::model::Model::allows`]: feature bits, line type, the
/// supervisor's MAKECALL right). Read-only mode and the link are checked by the caller.
pub fn check(app: &App, f: Function, target: &FunctionTarget) -> Result<(), Refusal> {
    let model = app.model();
    if let FunctionTarget::Call(id) = target {
        let a = model
            .appearance(*id)
            .ok_or_else(|| Refusal::fits("the call has ended"))?;
        fits_call(app, f, a)?;
    }
    model
        .allows(f, target, app.config().supervisor.as_deref())
        .map_err(|why| match why {
            Disallowed::NotHere(why) => Refusal::elsewhere(why.to_string()),
            Disallowed::NotNow(why) => Refusal::fits(clean(&why).into_owned()),
        })
}

/// Whether `f` belongs with this call at all: a refusal here hides the function's hint.
fn fits_call(app: &App, f: Function, a: &Appearance) -> Result<(), Refusal> {
    let own = matches!(
        (&a.key.line, supervisor(app)),
        (LineId::User(g), Some(u)) if *g == u.guid
    );
    let kind = match &a.key.line {
        LineId::Queue(_) => "a queue's call",
        LineId::User(_) => "an agent's call",
        LineId::ParkServer => "a parked call",
    };
    if !f.lines().has(&a.key.line) {
        let only = match f {
            Function::Priority => "priority is set on a queued call: select a waiting call",
            Function::Unpark => "unpark works on a parked call: select one in the parked pane",
            Function::Answer | Function::Hold => {
                "it works on your own line only, never on an agent's phone"
            }
            Function::Barge => "barge works on an agent's connected call: select the agent",
            Function::Pickup => "pick up works on a ringing call: select the agent it rings",
            Function::Redirect | Function::Park | Function::AccountCode => {
                "the document does not allow it on a parked call"
            }
            _ => "not on this kind of call",
        };
        return Err(Refusal::elsewhere(format!("{only} (this is {kind})")));
    }
    match f {
        Function::Answer | Function::Hold if !own => Err(Refusal::elsewhere(
            "it works on your own line only, never on an agent's phone",
        )),
        Function::Barge | Function::Pickup if own => {
            Err(Refusal::elsewhere("this is a call on your own line"))
        }
        Function::Barge if a.call.state != CallState::Connected => Err(Refusal::elsewhere(
            format!("barge needs a connected call; this one is {}", a.call.state),
        )),
        Function::Pickup if !a.call.state.is_ringing() => Err(Refusal::elsewhere(format!(
            "pick up needs a ringing call; this one is {}",
            a.call.state
        ))),
        Function::Hold if a.call.state != CallState::Connected && !a.call.state.is_held() => {
            Err(Refusal::elsewhere(format!(
                "hold needs a connected or held call; this one is {}",
                a.call.state
            )))
        }
        _ => Ok(()),
    }
}

/// The command for a call function on `a` with `arg`.
fn call_command(f: Function, a: &Appearance, arg: &str) -> Result<Command, Refusal> {
    let on = a.id;
    let text = || Text::from(arg.to_owned());
    Ok(match f {
        Function::Transfer => Command::Transfer { on, target: text() },
        Function::Redirect => Command::Redirect { on, target: text() },
        Function::Park => Command::Park { on, slot: text() },
        Function::Unpark => Command::Unpark { parked: on },
        Function::Priority => Command::Priority {
            on,
            priority: arg
                .parse()
                .ok()
                .and_then(Priority::from_number)
                .ok_or_else(|| Refusal::fits("pick 1, 2 or 3"))?,
        },
        Function::Tag => Command::Tag { on, tag: text() },
        Function::AccountCode => Command::AccountCode { on, code: text() },
        Function::Drop => Command::Drop { on },
        Function::ForceClear => Command::ForceClear { on },
        Function::Answer => Command::Answer { on },
        Function::Hold if a.call.state.is_held() => Command::Unhold { on },
        Function::Hold => Command::Hold { on },
        Function::Barge => Command::Barge { on },
        Function::Pickup => Command::Pickup { on },
        Function::ServiceMode | Function::Member | Function::Dnd => {
            return Err(Refusal::elsewhere(format!(
                "{} does not act on a call",
                f.word()
            )));
        }
    })
}

/// How a function's key is offered now (for hints, help and the detail's list).
pub fn offer(app: &App, f: Function) -> Offer {
    if app.config().read_only || !app.config().keymap.offers(KeyAction::Function(f)) {
        return Offer::Hidden;
    }
    let t = match target(app, f) {
        Ok(t) => t,
        Err(r) if r.fits => return Offer::Dimmed(r.why),
        Err(_) => return Offer::Hidden,
    };
    match check(app, f, &t) {
        Err(r) if r.fits => Offer::Dimmed(r.why),
        Err(_) => Offer::Hidden,
        Ok(()) if !app.model().connection().is_up() => {
            Offer::Dimmed("not connected to the PBX".to_owned())
        }
        Ok(()) => Offer::Ready,
    }
}

// --------------------------------------------------------------------------------------------
// What to ask, and what to send

/// Who a call is with, as briefly as is still recognisable: the caller's (or other
/// party's) number, else the name, else "the call".
fn short_caller(a: &Appearance) -> String {
    let c = &a.call;
    let party = c
        .calling
        .as_ref()
        .filter(|p| !p.number.is_empty() || !p.name.is_empty())
        .cloned()
        .or_else(|| c.other_party());
    let words = party.map_or_else(String::new, |p| {
        if p.number.is_empty() {
            clean(&p.name).into_owned()
        } else {
            clean(&p.number).into_owned()
        }
    });
    if words.trim().is_empty() {
        "the call".to_owned()
    } else {
        words
    }
}

/// Every extension and queue, for completing a transfer target.
fn destinations(app: &App) -> Vec<Choice> {
    let model = app.model();
    let mut users: Vec<&Arc<User>> = model.users().collect();
    users.sort_by(|a, b| by_number(&a.extn, &b.extn));
    let mut queues: Vec<&Arc<Queue>> = model.queues().collect();
    queues.sort_by(|a, b| by_number(&a.extn, &b.extn));
    let mut out: Vec<Choice> = users
        .iter()
        .filter(|u| !u.extn.is_empty())
        .map(|u| Choice {
            value: clean(&u.extn).into_owned(),
            label: format!(
                "{} {} ({})",
                clean(&u.extn),
                clean(&u.name),
                u.agent.state.word()
            ),
        })
        .collect();
    out.extend(
        queues
            .iter()
            .filter(|q| !q.extn.is_empty())
            .map(|q| Choice {
                value: clean(&q.extn).into_owned(),
                label: format!("{} {} (queue)", clean(&q.extn), clean(&q.name)),
            }),
    );
    out
}

/// Free park slots, lowest first: numbers from 1 not in use on the park server.
fn free_slots(app: &App, n: usize) -> Vec<String> {
    let used: Vec<String> = app
        .model()
        .parked()
        .map(|a| a.call.park_slot.trim().to_owned())
        .collect();
    (1u32..)
        .map(|i| i.to_string())
        .filter(|s| !used.contains(s))
        .take(n)
        .collect()
}

/// What pressing `f`'s key leads to, or why it does nothing.
pub fn plan(app: &App, f: Function) -> Result<Step, Refusal> {
    let t = target(app, f)?;
    check(app, f, &t)?;
    let model = app.model();
    let call = match &t {
        FunctionTarget::Call(id) => model.appearance(*id).cloned(),
        _ => None,
    };
    let who = call.as_deref().map(short_caller).unwrap_or_default();
    let prompt = |label: String, choices: Vec<Choice>| Prompt::new(f, t.clone(), label, choices);
    let step = match f {
        Function::Transfer => {
            Step::Prompt(prompt(format!("Transfer {who} to:"), destinations(app)))
        }
        Function::Redirect => {
            Step::Prompt(prompt(format!("Redirect {who} to:"), destinations(app)))
        }
        Function::Park => {
            let slots = free_slots(app, 8);
            let mut p = prompt(
                format!("Park {who} in slot:"),
                slots
                    .iter()
                    .map(|s| Choice {
                        value: s.clone(),
                        label: format!("{s} (free)"),
                    })
                    .collect(),
            );
            if let Some(first) = slots.first() {
                p.input.clone_from(first);
                p.suggestion = true;
                p.refilter();
            }
            if !model.park_available() {
                p.note = Some("the park server is not followed: free slots unknown".to_owned());
            }
            Step::Prompt(p)
        }
        Function::Tag => {
            let mut p = prompt(format!("Tag {who}:"), Vec::new());
            let now = call.as_ref().map(|a| clean(&a.call.tag).into_owned());
            p.note = Some(match now.filter(|t| !t.trim().is_empty()) {
                Some(t) => format!("now “{t}”; empty clears it"),
                None => "empty clears the tag".to_owned(),
            });
            Step::Prompt(p)
        }
        Function::AccountCode => {
            let listed: Vec<Choice> = match app.model().account_codes() {
                AccountCodes::List { codes } => codes
                    .iter()
                    .map(|c| Choice {
                        value: clean(c).into_owned(),
                        label: clean(c).into_owned(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let mut p = prompt(format!("Account code for {who}:"), listed);
            // A listed code may be a pattern the PBX resolves (`?` and `*`): then any code
            // can be typed, the list only completes.
            let patterns = p.choices.iter().any(|c| c.value.contains(['?', '*']));
            p.note = match app.model().account_codes() {
                AccountCodes::List { .. } if p.choices.is_empty() => {
                    Some("the PBX lists no account codes: type one".to_owned())
                }
                AccountCodes::List { .. } if patterns => {
                    Some("the PBX's list has patterns: type a code, Tab completes".to_owned())
                }
                AccountCodes::List { .. } => None,
                AccountCodes::FreeText { reason } => Some(format!(
                    "the PBX's list could not be read ({}): type a code",
                    clean(reason)
                )),
                AccountCodes::Unknown => {
                    Some("the PBX's list of account codes is not known yet: type a code".to_owned())
                }
            };
            if !p.choices.is_empty() && !patterns {
                p.choices_only = true;
                p.refilter();
            }
            Step::Prompt(p)
        }
        Function::Priority => {
            let now = call
                .as_ref()
                .and_then(|a| a.call.queue.as_ref())
                .map_or(0, |q| q.priority);
            let mut p = prompt(
                format!("Priority for {who}:"),
                [(1, "low"), (2, "medium"), (3, "high")]
                    .iter()
                    .map(|(n, w)| Choice {
                        value: n.to_string(),
                        label: if *n == now {
                            format!("{n} {w} (now)")
                        } else {
                            format!("{n} {w}")
                        },
                    })
                    .collect(),
            );
            p.choices_only = true;
            p.refilter();
            if let Some(i) = p.matches.iter().position(|i| {
                p.choices
                    .get(*i)
                    .is_some_and(|c| c.value == now.to_string())
            }) {
                p.picked = Some(i);
            }
            Step::Prompt(p)
        }
        Function::ServiceMode => {
            let q = match &t {
                FunctionTarget::Queue(g) => model.queue(g),
                _ => None,
            };
            let now = q.map_or(ServiceMode::Unset, |q| q.service_mode());
            let name = q.map(|q| clean(&q.name).into_owned()).unwrap_or_default();
            let choices: Vec<Choice> = [
                (ServiceMode::Active, "Active"),
                (ServiceMode::NightService, "Night service"),
                (ServiceMode::OutOfService, "Out of service"),
            ]
            .iter()
            .filter(|(m, _)| *m != now)
            .map(|(_, w)| Choice {
                value: (*w).to_owned(),
                label: (*w).to_owned(),
            })
            .collect();
            let mut p = prompt(format!("Service mode for {name}:"), choices);
            p.choices_only = true;
            p.note = Some(format!("now {}", mode_words(now)));
            p.refilter();
            Step::Prompt(p)
        }
        Function::Drop | Function::ForceClear => {
            let a = call.as_deref();
            // How long, first: on a narrow screen the caller's name gives way, not that.
            let (state, the_call) = match a {
                Some(a) => {
                    let (what, since) = if a.call.state.is_waiting() {
                        ("waiting", a.first_seen)
                    } else {
                        ("", a.state_since)
                    };
                    let what = if what.is_empty() {
                        a.call.state.to_string().to_lowercase()
                    } else {
                        what.to_owned()
                    };
                    let who = caller_words(a);
                    (
                        format!(" ({what} {})", super::text::duration(app.since(since))),
                        if who.is_empty() {
                            String::new()
                        } else {
                            format!(" from {who}")
                        },
                    )
                }
                None => (String::new(), String::new()),
            };
            let (question, yes) = if f == Function::Drop {
                (format!("Drop the call{state}{the_call}?"), "drop")
            } else {
                (
                    format!("FORCE CLEAR the call{state}{the_call} all the way to its source?"),
                    "force clear",
                )
            };
            Step::Confirm(Confirm {
                function: f,
                target: t,
                argument: None,
                question,
                word: None,
                typed: String::new(),
                yes: yes.to_owned(),
            })
        }
        Function::Dnd => {
            let u = match &t {
                FunctionTarget::Agent(g) => model.user(g),
                _ => None,
            };
            let on = !u.is_some_and(|u| u.dnd());
            let who = u.map(|u| user_words(u)).unwrap_or_default();
            Step::Confirm(Confirm {
                function: f,
                target: t,
                argument: Some(if on { "on" } else { "off" }.to_owned()),
                question: format!(
                    "Turn do not disturb {} for {who}?",
                    if on { "ON" } else { "OFF" }
                ),
                word: None,
                typed: String::new(),
                yes: if on { "DND on" } else { "DND off" }.to_owned(),
            })
        }
        _ => Step::Send(draft(app, f, &t, None)?),
    };
    Ok(step)
}

/// What a prompt's answer leads to: a confirmation (service mode), or the request.
pub fn answer(app: &App, p: &Prompt) -> Result<Step, String> {
    if p.choices_only && p.picked_choice().is_none() {
        return Err("pick one of the choices (type to narrow them, Tab to pick)".to_owned());
    }
    let text = p.shown().trim().to_owned();
    let max = |n: usize, what: &str| {
        if text.chars().count() > n {
            Err(format!("{what} is at most {n} characters"))
        } else {
            Ok(())
        }
    };
    match p.function {
        Function::Transfer | Function::Redirect => {
            if text.is_empty() {
                return Err("type a number, or pick one with Tab".to_owned());
            }
            max(78, "a number")?;
        }
        Function::Park => {
            if text.is_empty() {
                return Err("type a park slot".to_owned());
            }
            max(9, "a park slot")?;
        }
        Function::Tag => max(127, "a tag")?,
        Function::AccountCode => max(15, "an account code")?,
        Function::Priority if !["1", "2", "3"].contains(&text.as_str()) => {
            return Err("pick 1, 2 or 3".to_owned());
        }
        Function::ServiceMode => {
            let mode = match text.as_str() {
                "Active" => ServiceMode::Active,
                "Night service" => ServiceMode::NightService,
                "Out of service" => ServiceMode::OutOfService,
                _ => return Err("pick a service mode".to_owned()),
            };
            let name = match &p.target {
                FunctionTarget::Queue(g) => app
                    .model()
                    .queue(g)
                    .map(|q| clean(&q.name).into_owned())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let (question, word) = match mode {
                ServiceMode::OutOfService => (
                    format!("Put queue {name} OUT OF SERVICE? Callers will be diverted."),
                    Some("OOS"),
                ),
                ServiceMode::NightService => (
                    format!("Put queue {name} in NIGHT SERVICE? Callers go to its night route."),
                    None,
                ),
                _ => (format!("Put queue {name} back in service (Active)?"), None),
            };
            return Ok(Step::Confirm(Confirm {
                function: p.function,
                target: p.target.clone(),
                argument: Some(text),
                question,
                word,
                typed: String::new(),
                yes: mode_words(mode),
            }));
        }
        _ => {}
    }
    if text.chars().any(char::is_control) {
        return Err("control characters cannot be sent".to_owned());
    }
    draft(app, p.function, &p.target, Some(text))
        .map(Step::Send)
        .map_err(|r| r.why)
}

fn mode_words(m: ServiceMode) -> String {
    match m {
        ServiceMode::Active => "Active".to_owned(),
        ServiceMode::NightService => "Night service".to_owned(),
        ServiceMode::OutOfService => "Out of service".to_owned(),
        ServiceMode::Unset => "not reported".to_owned(),
        ServiceMode::Other(c) => format!("mode {c}"),
    }
}

fn user_words(u: &User) -> String {
    clean(&format!("{} {}", u.extn, u.name)).trim().to_owned()
}

fn parties(a: &Appearance) -> Vec<String> {
    let c = &a.call;
    let mut out = Vec::new();
    for (role, p) in [
        ("caller", c.calling.as_ref()),
        ("connected", c.connected.as_ref()),
        ("original", c.original_called.as_ref()),
    ] {
        if let Some(p) = p.filter(|p| !p.label().is_empty()) {
            out.push(format!("{role} {}", clean(&p.label())));
        }
    }
    if !c.called.is_empty() {
        out.push(format!("called {}", clean(&c.called)));
    }
    out
}

fn subject_of(a: &Appearance, own: bool) -> AuditSubject {
    let (kind, extn, name) = match &a.key.line {
        LineId::Queue(_) => ("queue", a.line.extn.to_string(), a.line.name.to_string()),
        LineId::User(_) if own => (
            "supervisor",
            a.line.extn.to_string(),
            a.line.name.to_string(),
        ),
        LineId::User(_) => ("agent", a.line.extn.to_string(), a.line.name.to_string()),
        LineId::ParkServer => (
            "park",
            a.call.park_slot.to_string(),
            "park server".to_owned(),
        ),
    };
    AuditSubject {
        kind,
        extn: clean(&extn).into_owned(),
        name: clean(&name).into_owned(),
    }
}

/// The request for `f` on `target` with `argument`, checked against the model as it is now.
pub fn draft(
    app: &App,
    f: Function,
    target: &FunctionTarget,
    argument: Option<String>,
) -> Result<Draft, Refusal> {
    check(app, f, target)?;
    let model = app.model();
    let arg = argument.clone().unwrap_or_default();
    let mut draft = build_draft(app, f, target, argument, arg)?;
    // The model has the last word on the command as it will be sent, and finds the
    // extension the supervisor's phone calls.
    let plan = model
        .plan(&draft.command, app.config().supervisor.as_deref())
        .map_err(|why| Refusal::fits(clean(&why).into_owned()))?;
    if let PlannedAction::MakeCall {
        target,
        kind: SupervisorCall::Pickup,
    } = &plan.action
    {
        let extn = clean(target).into_owned();
        draft.words = format!("{} ringing at {extn}", draft.words);
        draft.audit.argument = extn;
    }
    Ok(draft)
}

fn build_draft(
    app: &App,
    f: Function,
    target: &FunctionTarget,
    argument: Option<String>,
    arg: String,
) -> Result<Draft, Refusal> {
    let model = app.model();
    match target {
        FunctionTarget::Call(id) => {
            let a = model
                .appearance(*id)
                .ok_or_else(|| Refusal::fits("the call has ended"))?;
            let own = matches!(
                (&a.key.line, supervisor(app)),
                (LineId::User(g), Some(u)) if *g == u.guid
            );
            let who = short_caller(a);
            let command = call_command(f, a, &arg)?;
            let (words, action, arg) = match &command {
                Command::Transfer { .. } => {
                    (format!("transferring {who} to {arg}"), "BlindTransfer", arg)
                }
                Command::Redirect { .. } => {
                    (format!("redirecting {who} to {arg}"), "Redirect", arg)
                }
                Command::Park { .. } => (format!("parking {who} in slot {arg}"), "Park", arg),
                Command::Priority { priority, .. } => (
                    format!("setting the priority of {who} to {}", priority.number()),
                    "SetPriority",
                    priority.number().to_string(),
                ),
                Command::Tag { .. } if arg.is_empty() => {
                    (format!("clearing the tag of {who}"), "SetTag", arg)
                }
                Command::Tag { .. } => (format!("tagging {who} “{arg}”"), "SetTag", arg),
                Command::AccountCode { .. } if arg.is_empty() => (
                    format!("clearing the account code of {who}"),
                    "SetAccountCode",
                    arg,
                ),
                Command::AccountCode { .. } => (
                    format!("setting account code {arg} on {who}"),
                    "SetAccountCode",
                    arg,
                ),
                Command::Drop { .. } => (format!("dropping {who}"), "DropCall", String::new()),
                Command::ForceClear { .. } => {
                    (format!("force clearing {who}"), "ForceClear", String::new())
                }
                Command::Answer { .. } => (format!("answering {who}"), "AnswerCall", String::new()),
                Command::Unhold { .. } => (
                    format!("taking {who} off hold"),
                    "UnHoldCall",
                    String::new(),
                ),
                Command::Hold { .. } => (format!("holding {who}"), "HoldCall", String::new()),
                Command::Barge { .. } => (
                    format!(
                        "barging in on {} {} ({who})",
                        clean(&a.line.extn),
                        clean(&a.line.name)
                    ),
                    "MakeCall intrude (106)",
                    a.line.extn.to_string(),
                ),
                // The ringing extension is the model's to find (see `draft`).
                Command::Pickup { .. } => (
                    format!("picking up {who}"),
                    "MakeCall pickup (108)",
                    String::new(),
                ),
                Command::Unpark { .. } => (
                    format!(
                        "unparking {who} from slot {} to your phone",
                        clean(&a.call.park_slot)
                    ),
                    "UnParkCall",
                    a.call.park_slot.to_string(),
                ),
                _ => {
                    return Err(Refusal::elsewhere(format!(
                        "{} is not a call function",
                        f.word()
                    )));
                }
            };
            Ok(Draft {
                command,
                words,
                audit: AuditRecord {
                    action,
                    appearance: subject_of(a, own),
                    parties: parties(a),
                    argument: clean(&arg).into_owned(),
                },
            })
        }
        FunctionTarget::Queue(g) => {
            let q = model
                .queue(g)
                .ok_or_else(|| Refusal::fits("the queue is no longer on this PBX"))?;
            let mode = match arg.as_str() {
                "Active" => ServiceMode::Active,
                "Night service" => ServiceMode::NightService,
                "Out of service" => ServiceMode::OutOfService,
                _ => return Err(Refusal::fits("pick a service mode")),
            };
            Ok(Draft {
                command: Command::ServiceMode {
                    queue: g.clone(),
                    mode,
                },
                words: format!(
                    "putting {} {} in {}",
                    clean(&q.extn),
                    clean(&q.name),
                    mode_words(mode)
                ),
                audit: AuditRecord {
                    action: "SetServiceMode",
                    appearance: queue_subject(q),
                    parties: Vec::new(),
                    argument: mode_words(mode),
                },
            })
        }
        FunctionTarget::Member { queue, extn } => {
            let q = model
                .queue(queue)
                .ok_or_else(|| Refusal::fits("the queue is no longer on this PBX"))?;
            let enabled = !q
                .members()
                .iter()
                .find(|m| &m.extn == extn)
                .is_some_and(|m| m.enabled);
            let name = model
                .user_by_extn(extn)
                .map(|u| user_words(u))
                .unwrap_or_else(|| clean(extn).into_owned());
            Ok(Draft {
                command: Command::Member {
                    queue: queue.clone(),
                    extn: extn.clone(),
                    enabled,
                },
                words: format!(
                    "{} {name} in {}",
                    if enabled { "enabling" } else { "disabling" },
                    clean(&q.name)
                ),
                audit: AuditRecord {
                    action: "UpdateQueue addmember",
                    appearance: queue_subject(q),
                    parties: vec![format!("member {name}")],
                    argument: if enabled { "enabled" } else { "disabled" }.to_owned(),
                },
            })
        }
        FunctionTarget::Agent(g) => {
            let u = model
                .user(g)
                .ok_or_else(|| Refusal::fits("the agent is no longer on this PBX"))?;
            let on = match argument.as_deref() {
                Some("on") => true,
                Some("off") => false,
                _ => !u.dnd(),
            };
            Ok(Draft {
                command: Command::Dnd {
                    user: g.clone(),
                    on,
                },
                words: format!(
                    "turning DND {} for {}",
                    if on { "on" } else { "off" },
                    user_words(u)
                ),
                audit: AuditRecord {
                    action: "UpdateUser sac",
                    appearance: AuditSubject {
                        kind: "agent",
                        extn: clean(&u.extn).into_owned(),
                        name: clean(&u.name).into_owned(),
                    },
                    parties: Vec::new(),
                    argument: if on { "on" } else { "off" }.to_owned(),
                },
            })
        }
    }
}

fn queue_subject(q: &Queue) -> AuditSubject {
    AuditSubject {
        kind: "queue",
        extn: clean(&q.extn).into_owned(),
        name: clean(&q.name).into_owned(),
    }
}
