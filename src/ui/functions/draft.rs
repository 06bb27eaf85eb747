//! The request a function sends: the model's command, what the screen says while it is under
//! way, and what the audit log records.

use serde::Serialize;

use super::rules::check;
use super::{FunctionRefusal, Scene};
use crate::model::{
    Appearance, AppearanceId, Command, Function, FunctionTarget, Guid, LineId, PlannedAction,
    Priority, Queue, ServiceMode, SupervisorCall, Tables, Text, User,
};
use crate::ui::text::clean;

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

/// Who a call is with, as briefly as is still recognisable: the caller's (or other
/// party's) number, else the name, else "the call".
pub(super) fn short_caller(a: &Appearance) -> String {
    let c = &a.call;
    let party = c
        .calling
        .as_ref()
        .filter(|p| !p.number.is_empty() || !p.name.is_empty())
        .map(std::borrow::Cow::Borrowed)
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

pub(super) fn mode_words(m: ServiceMode) -> String {
    match m {
        ServiceMode::Active => "Active".to_owned(),
        ServiceMode::NightService => "Night service".to_owned(),
        ServiceMode::OutOfService => "Out of service".to_owned(),
        ServiceMode::Unset => "not reported".to_owned(),
        ServiceMode::Other(c) => format!("mode {c}"),
    }
}

pub(super) fn user_words(u: &User) -> String {
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
    scene: &Scene<'_>,
    f: Function,
    target: &FunctionTarget,
    argument: Option<String>,
) -> Result<Draft, FunctionRefusal> {
    check(scene, f, target)?;
    finish(
        scene.model(),
        scene.config().supervisor.as_deref(),
        f,
        target,
        argument,
    )
}

/// The request for a command chosen elsewhere (a viewer in shared mode), checked against
/// this model and described from it: what the audit log records comes from the model that
/// sends it, not from the viewer's words. `supervisor` is the extension of the asker's My
/// line. Refused when the model now makes a different command of it (the call was taken
/// off hold meanwhile, the member toggled): the asker chooses again.
pub fn describe(
    model: &Tables,
    supervisor: Option<&str>,
    command: &Command,
) -> Result<Draft, FunctionRefusal> {
    let (f, target, argument) = choice_of(command);
    let draft = finish(model, supervisor, f, &target, argument)?;
    if draft.command != *command {
        return Err(FunctionRefusal::fits(
            "the call or queue changed since it was chosen; choose again",
        ));
    }
    Ok(draft)
}

/// The function, target and argument that make `command`.
fn choice_of(command: &Command) -> (Function, FunctionTarget, Option<String>) {
    let call = |f, on: &AppearanceId, arg: Option<String>| (f, FunctionTarget::Call(*on), arg);
    let some = |t: &Text| Some(t.to_string());
    match command {
        Command::Transfer { on, target } => call(Function::Transfer, on, some(target)),
        Command::Redirect { on, target } => call(Function::Redirect, on, some(target)),
        Command::Park { on, slot } => call(Function::Park, on, some(slot)),
        Command::Unpark { parked } => call(Function::Unpark, parked, None),
        Command::Drop { on } => call(Function::Drop, on, None),
        Command::ForceClear { on } => call(Function::ForceClear, on, None),
        Command::Answer { on } => call(Function::Answer, on, None),
        Command::Hold { on } | Command::Unhold { on } => call(Function::Hold, on, None),
        Command::Barge { on } => call(Function::Barge, on, None),
        Command::Pickup { on } => call(Function::Pickup, on, None),
        Command::Priority { on, priority } => {
            call(Function::Priority, on, Some(priority.number().to_string()))
        }
        Command::Tag { on, tag } => call(Function::Tag, on, some(tag)),
        Command::AccountCode { on, code } => call(Function::AccountCode, on, some(code)),
        Command::ServiceMode { queue, mode } => (
            Function::ServiceMode,
            FunctionTarget::Queue(queue.clone()),
            Some(mode_words(*mode)),
        ),
        Command::Member { queue, extn, .. } => (
            Function::Member,
            FunctionTarget::Member {
                queue: queue.clone(),
                extn: extn.clone(),
            },
            None,
        ),
        Command::Dnd { user, on } => (
            Function::Dnd,
            FunctionTarget::Agent(user.clone()),
            Some(if *on { "on" } else { "off" }.to_owned()),
        ),
    }
}

/// The draft checked by the model, which has the last word on the command as it will be
/// sent and finds the extension the supervisor's phone calls.
fn finish(
    model: &Tables,
    supervisor: Option<&str>,
    f: Function,
    target: &FunctionTarget,
    argument: Option<String>,
) -> Result<Draft, FunctionRefusal> {
    let arg = argument.clone().unwrap_or_default();
    let own = supervisor.and_then(|extn| model.user_by_extn(extn));
    let mut draft = build_draft(model, own.map(|u| &u.guid), f, target, argument, arg)?;
    let plan = model
        .plan(&draft.command, supervisor)
        .map_err(|why| FunctionRefusal::fits(clean(&why).into_owned()))?;
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
    model: &Tables,
    own: Option<&Guid>,
    f: Function,
    target: &FunctionTarget,
    argument: Option<String>,
    arg: String,
) -> Result<Draft, FunctionRefusal> {
    match target {
        FunctionTarget::Call(id) => {
            let a = model
                .appearance(*id)
                .ok_or_else(|| FunctionRefusal::fits("the call has ended"))?;
            let own = matches!(
                (&a.key.line, own),
                (LineId::User(g), Some(u)) if g == u
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
                    return Err(FunctionRefusal::elsewhere(format!(
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
                .ok_or_else(|| FunctionRefusal::fits("the queue is no longer on this PBX"))?;
            let mode = match arg.as_str() {
                "Active" => ServiceMode::Active,
                "Night service" => ServiceMode::NightService,
                "Out of service" => ServiceMode::OutOfService,
                _ => return Err(FunctionRefusal::fits("pick a service mode")),
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
                .ok_or_else(|| FunctionRefusal::fits("the queue is no longer on this PBX"))?;
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
                .ok_or_else(|| FunctionRefusal::fits("the agent is no longer on this PBX"))?;
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

/// The command for a call function on `a` with `arg`.
fn call_command(f: Function, a: &Appearance, arg: &str) -> Result<Command, FunctionRefusal> {
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
                .ok_or_else(|| FunctionRefusal::fits("pick 1, 2 or 3"))?,
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
            return Err(FunctionRefusal::elsewhere(format!(
                "{} does not act on a call",
                f.word()
            )));
        }
    })
}
