//! What a supervisor can ask of the PBX, in the model's words, and what came of it.
//!
//! A [`Command`] names the appearance (or queue, or user) the supervisor chose. The model
//! checks it against what the PBX says is possible now ([`Tables::plan`]): the appearance's
//! `featuresavailable` and its line type (the document's "Line types" for each function), the
//! supervisor's MAKECALL right for barge, pickup and unpark. The session sends the plan and
//! follows it through three states: *accepted* (the PBX's RequestResponse said 0), *done* (a
//! Notify shows the effect, [`Tables::effect_seen`]) or *no effect seen* within a bounded time;
//! or *failed* with the document's name and meaning of the code.

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use super::Model;
use super::Tables;
use super::call::{Appearance, CallFunction, CallState};
use super::function::Function;
use super::ids::{AppearanceId, Guid, LineId, Text};
use super::queue::{Queue, QueueMember, ServiceMode};
use super::user::{User, UserFunction, UserStatus};

/// A queued call's priority (SetPriority): 1 low, 2 medium, 3 high.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// 1.
    Low,
    /// 2.
    Medium,
    /// 3.
    High,
}

impl Priority {
    /// From 1, 2 or 3.
    pub const fn from_number(n: i32) -> Option<Priority> {
        match n {
            1 => Some(Priority::Low),
            2 => Some(Priority::Medium),
            3 => Some(Priority::High),
            _ => None,
        }
    }

    /// 1, 2 or 3.
    pub const fn number(self) -> i32 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
        }
    }
}

/// A function the supervisor asks for.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    /// Send the call elsewhere (BlindTransfer).
    Transfer {
        /// The appearance chosen.
        on: AppearanceId,
        /// Where to.
        target: Text,
    },
    /// Send a ringing call elsewhere (Redirect).
    Redirect {
        /// The appearance chosen.
        on: AppearanceId,
        /// Where to.
        target: Text,
    },
    /// Park the call in a slot.
    Park {
        /// The appearance chosen.
        on: AppearanceId,
        /// The park slot (1 to 9 characters).
        slot: Text,
    },
    /// Take a parked call to the supervisor's phone (UnParkCall from the supervisor's line).
    Unpark {
        /// The parked call (an appearance on the park server).
        parked: AppearanceId,
    },
    /// Clear the call from this line (DropCall).
    Drop {
        /// The appearance chosen.
        on: AppearanceId,
    },
    /// Clear the call all the way to its source (ForceClear).
    ForceClear {
        /// The appearance chosen.
        on: AppearanceId,
    },
    /// Answer a ringing call (user lines).
    Answer {
        /// The appearance chosen.
        on: AppearanceId,
    },
    /// Put a call on hold (user lines).
    Hold {
        /// The appearance chosen.
        on: AppearanceId,
    },
    /// Take a call off hold (user lines).
    Unhold {
        /// The appearance chosen.
        on: AppearanceId,
    },
    /// Intrude on an agent's connected call from the supervisor's phone (MakeCall type 106 to
    /// the agent's extension).
    Barge {
        /// The connected call: the agent's appearance, or a queue appearance connected to an
        /// agent.
        on: AppearanceId,
    },
    /// Pick up a ringing call to the supervisor's phone (MakeCall type 108 to the ringing
    /// extension).
    Pickup {
        /// The ringing call: the agent's appearance, or a queue appearance ringing an agent.
        on: AppearanceId,
    },
    /// Change a queued call's priority (queue lines).
    Priority {
        /// The appearance chosen.
        on: AppearanceId,
        /// The new priority.
        priority: Priority,
    },
    /// Label the call (empty clears the tag).
    Tag {
        /// The appearance chosen.
        on: AppearanceId,
        /// The tag (up to 127 characters).
        tag: Text,
    },
    /// Set the call's account code (empty clears it).
    AccountCode {
        /// The appearance chosen.
        on: AppearanceId,
        /// The code (up to 15 characters).
        code: Text,
    },
    /// Set a queue's service mode.
    ServiceMode {
        /// The queue.
        queue: Guid,
        /// Active, night service or out of service.
        mode: ServiceMode,
    },
    /// Enable or disable a queue member.
    Member {
        /// The queue.
        queue: Guid,
        /// The member's extension.
        extn: Text,
        /// Take calls from this queue or not.
        enabled: bool,
    },
    /// Set or clear a user's Do Not Disturb.
    Dnd {
        /// The user.
        user: Guid,
        /// On or off.
        on: bool,
    },
}

impl Command {
    /// The appearance the command acts on, if it acts on one.
    pub fn appearance(&self) -> Option<AppearanceId> {
        match self {
            Command::Transfer { on, .. }
            | Command::Redirect { on, .. }
            | Command::Park { on, .. }
            | Command::Drop { on }
            | Command::ForceClear { on }
            | Command::Answer { on }
            | Command::Hold { on }
            | Command::Unhold { on }
            | Command::Barge { on }
            | Command::Pickup { on }
            | Command::Priority { on, .. }
            | Command::Tag { on, .. }
            | Command::AccountCode { on, .. } => Some(*on),
            Command::Unpark { parked } => Some(*parked),
            Command::ServiceMode { .. } | Command::Member { .. } | Command::Dnd { .. } => None,
        }
    }

    /// The same command on another appearance: a command chosen in another copy of the
    /// model (a viewer's) names the call by that copy's id, and is pointed at this copy's
    /// appearance of the same call. Commands on no appearance are unchanged.
    pub fn with_appearance(mut self, id: AppearanceId) -> Command {
        match &mut self {
            Command::Transfer { on, .. }
            | Command::Redirect { on, .. }
            | Command::Park { on, .. }
            | Command::Drop { on }
            | Command::ForceClear { on }
            | Command::Answer { on }
            | Command::Hold { on }
            | Command::Unhold { on }
            | Command::Barge { on }
            | Command::Pickup { on }
            | Command::Priority { on, .. }
            | Command::Tag { on, .. }
            | Command::AccountCode { on, .. }
            | Command::Unpark { parked: on } => *on = id,
            Command::ServiceMode { .. } | Command::Member { .. } | Command::Dnd { .. } => {}
        }
        self
    }

    /// What it does, in a few words ("transfer to 4103").
    pub fn describe(&self) -> String {
        match self {
            Command::Transfer { target, .. } => format!("transfer to {target}"),
            Command::Redirect { target, .. } => format!("redirect to {target}"),
            Command::Park { slot, .. } => format!("park in slot {slot}"),
            Command::Unpark { .. } => "unpark to the supervisor".to_owned(),
            Command::Drop { .. } => "drop".to_owned(),
            Command::ForceClear { .. } => "force clear".to_owned(),
            Command::Answer { .. } => "answer".to_owned(),
            Command::Hold { .. } => "hold".to_owned(),
            Command::Unhold { .. } => "take off hold".to_owned(),
            Command::Barge { .. } => "barge in".to_owned(),
            Command::Pickup { .. } => "pick up".to_owned(),
            Command::Priority { priority, .. } => format!("priority {}", priority.number()),
            Command::Tag { tag, .. } => format!("tag {tag:?}"),
            Command::AccountCode { code, .. } => format!("account code {code:?}"),
            Command::ServiceMode { mode, .. } => format!("service mode {mode}"),
            Command::Member { extn, enabled, .. } => {
                format!(
                    "{} member {extn}",
                    if *enabled { "enable" } else { "disable" }
                )
            }
            Command::Dnd { on, .. } => format!("DND {}", if *on { "on" } else { "off" }),
        }
    }
}

/// The kind of call the supervisor's phone makes for barge and pickup.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisorCall {
    /// MakeCall type 106.
    Intrude,
    /// MakeCall type 108.
    Pickup,
}

/// What a command comes to on the wire, in the model's terms: which line's subscription
/// carries it and what it asks.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommandPlan {
    /// The line whose subscription carries it.
    pub line: LineId,
    /// What it asks.
    pub action: PlannedAction,
}

/// The request a command becomes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PlannedAction {
    /// A call function on the appearance with this callid.
    Function {
        /// The appearance's callid on the line.
        callid: i32,
        /// The function.
        function: CallFunction,
        /// Its argument (empty when it takes none).
        arg: Text,
    },
    /// A call from the line's user (the supervisor) to `target`.
    MakeCall {
        /// The extension.
        target: Text,
        /// Intrude or pickup.
        kind: SupervisorCall,
    },
    /// Unpark the call in `slot` to the line's user (the supervisor).
    Unpark {
        /// The park slot.
        slot: Text,
    },
    /// Set the queue's service mode.
    ServiceMode(ServiceMode),
    /// Add a member, or change its enabled state.
    Member {
        /// The member's extension.
        extn: Text,
        /// Enabled or not.
        enabled: bool,
    },
    /// Set the user's DND.
    Dnd(bool),
}

/// How a command ended up, as far as is known.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommandStatus {
    /// Sent; the PBX has not answered yet.
    Sent,
    /// The PBX accepted it; no Notify has shown its effect yet.
    Accepted,
    /// A Notify shows its effect.
    Done {
        /// What was seen, e.g. "rings 4103".
        effect: Text,
    },
    /// No Notify showed an effect in the time allowed (the PBX may accept a function and do
    /// nothing, as the document warns).
    NoEffect {
        /// Whether the PBX had accepted it (false: it never answered).
        accepted: bool,
        /// How long the session waited, in seconds.
        waited_secs: u64,
    },
    /// The PBX refused it: the document's name and meaning of the code.
    Failed {
        /// The result code.
        code: i32,
        /// The document's name, e.g. "MTCTISESS_CALLCONTROL_TRANSFERFAILED".
        name: Text,
        /// Its meaning.
        meaning: Text,
    },
    /// The call the supervisor's phone made failed (a CallLost or a FAILED state for it).
    CallFailed {
        /// Why, as the PBX put it.
        cause: Text,
    },
    /// Not sent, and why.
    Refused {
        /// The reason.
        reason: Text,
    },
    /// The link dropped before the outcome was seen; it is unknown.
    Interrupted {
        /// What happened.
        reason: Text,
    },
}

impl CommandStatus {
    /// Whether nothing more will be learnt about it.
    pub fn is_final(&self) -> bool {
        !matches!(self, CommandStatus::Sent | CommandStatus::Accepted)
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandStatus::Sent => f.write_str("sent"),
            CommandStatus::Accepted => f.write_str("accepted"),
            CommandStatus::Done { effect } => write!(f, "done: {effect}"),
            CommandStatus::NoEffect {
                accepted: true,
                waited_secs,
            } => {
                write!(f, "accepted, but no effect seen in {waited_secs} s")
            }
            CommandStatus::NoEffect {
                accepted: false,
                waited_secs,
            } => {
                write!(f, "no answer and no effect seen in {waited_secs} s")
            }
            CommandStatus::Failed {
                code,
                name,
                meaning,
            } => write!(f, "refused by the PBX: {name} ({code}): {meaning}"),
            CommandStatus::CallFailed { cause } => write!(f, "the call failed: {cause}"),
            CommandStatus::Refused { reason } => write!(f, "not sent: {reason}"),
            CommandStatus::Interrupted { reason } => write!(f, "outcome unknown: {reason}"),
        }
    }
}

/// A command's identity, given when it is submitted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandId(pub u64);

/// One step of a command's life, for the screen, the audit log and `events --json`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct CommandReport {
    /// Which command.
    pub id: CommandId,
    /// What it was.
    pub command: Command,
    /// Where it stands.
    pub status: CommandStatus,
    /// The requestid it was sent with (none when refused before sending).
    pub requestid: Option<i32>,
    /// The subscription it was sent on.
    pub subscribe_id: Option<i32>,
    /// The callid it acted on, for a call function.
    pub callid: Option<i32>,
    /// The referencecallid given to the supervisor's new call (barge, pickup, unpark).
    pub reference: Option<i32>,
}

impl Tables {
    /// The appearances on a user's line in the order a function picks them: ringing first,
    /// then connected (or otherwise busy), then held, then the rest; oldest first within each.
    pub fn appearances_by_precedence(&self, user: &Guid) -> Vec<&std::sync::Arc<Appearance>> {
        let mut v: Vec<_> = self.appearances_on(&LineId::User(user.clone())).collect();
        v.sort_by_key(|a| precedence(a));
        v
    }

    /// The appearance a function on an agent's row acts on: the one the row shows (ringing
    /// first, then connected, then held). Found without sorting (the screen asks for every
    /// agent row it places).
    pub fn shown_appearance(&self, user: &Guid) -> Option<&std::sync::Arc<Appearance>> {
        self.appearances_on(&LineId::User(user.clone()))
            .min_by_key(|a| precedence(a))
    }

    /// Checks a command against what the PBX says is possible now and says where it goes;
    /// or why it cannot be sent. `supervisor` is the supervisor's extension (`[supervisor]
    /// extension`), needed for barge, pickup and unpark.
    pub fn plan(&self, cmd: &Command, supervisor: Option<&str>) -> Result<CommandPlan, Text> {
        let refuse = |s: String| Err(Text::from(s));
        let find = |id: AppearanceId| self.found(id);
        let function = |id: AppearanceId, f: CallFunction, arg: &Text| {
            let a = find(id)?;
            self.function_allowed(f, a)?;
            Ok(CommandPlan {
                line: a.key.line.clone(),
                action: PlannedAction::Function {
                    callid: a.key.callid,
                    function: f,
                    arg: arg.clone(),
                },
            })
        };
        let none = Text::empty();
        match cmd {
            Command::Transfer { on, target } => {
                non_empty(target, "transfer target")?;
                function(*on, CallFunction::BlindTransfer, target)
            }
            Command::Redirect { on, target } => {
                non_empty(target, "redirect target")?;
                function(*on, CallFunction::Redirect, target)
            }
            Command::Park { on, slot } => {
                non_empty(slot, "park slot")?;
                function(*on, CallFunction::Park, slot)
            }
            Command::Drop { on } => function(*on, CallFunction::Drop, &none),
            Command::ForceClear { on } => function(*on, CallFunction::ForceClear, &none),
            Command::Answer { on } => function(*on, CallFunction::Answer, &none),
            Command::Hold { on } => function(*on, CallFunction::Hold, &none),
            Command::Unhold { on } => function(*on, CallFunction::UnHold, &none),
            Command::Priority { on, priority } => {
                let a = self.appearance(*on);
                if a.and_then(|a| a.call.queue.as_ref())
                    .is_some_and(|q| q.priority == priority.number())
                {
                    return refuse(format!(
                        "the call already has priority {}",
                        priority.number()
                    ));
                }
                function(
                    *on,
                    CallFunction::SetPriority,
                    &Text::from(priority.number().to_string()),
                )
            }
            Command::Tag { on, tag } => function(*on, CallFunction::SetTag, tag),
            Command::AccountCode { on, code } => function(*on, CallFunction::SetAccountCode, code),
            Command::Barge { on } => {
                self.supervisor_plan(find(*on)?, Function::Barge, supervisor, |to| {
                    PlannedAction::MakeCall {
                        target: to,
                        kind: SupervisorCall::Intrude,
                    }
                })
            }
            Command::Pickup { on } => {
                self.supervisor_plan(find(*on)?, Function::Pickup, supervisor, |to| {
                    PlannedAction::MakeCall {
                        target: to,
                        kind: SupervisorCall::Pickup,
                    }
                })
            }
            Command::Unpark { parked } => {
                let a = find(*parked)?;
                let slot = a.call.park_slot.clone();
                self.supervisor_plan(a, Function::Unpark, supervisor, |_| PlannedAction::Unpark {
                    slot,
                })
            }
            Command::ServiceMode { queue, mode } => {
                let q = self.known_queue(queue)?;
                if !matches!(
                    mode,
                    ServiceMode::Active | ServiceMode::NightService | ServiceMode::OutOfService
                ) {
                    return refuse(
                        "a service mode is Active, Night service or Out of service".to_owned(),
                    );
                }
                if q.service_mode() == *mode {
                    return refuse(format!("{} {} is already {mode}", q.extn, q.name));
                }
                Ok(CommandPlan {
                    line: LineId::Queue(queue.clone()),
                    action: PlannedAction::ServiceMode(*mode),
                })
            }
            Command::Member {
                queue,
                extn,
                enabled,
            } => {
                let q = self.known_queue(queue)?;
                let m = Self::member_of(q, extn)?;
                if m.enabled == *enabled {
                    return refuse(format!(
                        "{extn} is already {} in {} {}",
                        if *enabled { "enabled" } else { "disabled" },
                        q.extn,
                        q.name
                    ));
                }
                Ok(CommandPlan {
                    line: LineId::Queue(queue.clone()),
                    action: PlannedAction::Member {
                        extn: extn.clone(),
                        enabled: *enabled,
                    },
                })
            }
            Command::Dnd { user, on } => {
                let (u, status) = self.dnd_settable(user)?;
                if status.dnd == *on {
                    return refuse(format!(
                        "DND is already {} for {} {}",
                        if *on { "on" } else { "off" },
                        u.extn,
                        u.name
                    ));
                }
                Ok(CommandPlan {
                    line: LineId::User(user.clone()),
                    action: PlannedAction::Dnd(*on),
                })
            }
        }
    }

    /// The extension of the agent a connected call is with: the user whose appearance it is,
    /// or, for a queue appearance, the connected party when that is a user.
    pub(super) fn agent_of(&self, a: &Appearance) -> Option<Text> {
        match &a.key.line {
            LineId::User(g) => self.user(g).map(|u| u.extn.clone()),
            LineId::Queue(_) => a
                .call
                .connected
                .as_ref()
                .and_then(|p| self.user_by_extn(&p.number))
                .map(|u| u.extn.clone()),
            LineId::ParkServer => None,
        }
    }

    /// The extension a ringing call rings: the user whose appearance it is, or, for a queue
    /// appearance, an agent ringing with it (same gcid), else its first ringing target.
    pub(super) fn ringing_extension(&self, a: &Appearance) -> Option<Text> {
        match &a.key.line {
            LineId::User(g) => self.user(g).map(|u| u.extn.clone()),
            LineId::Queue(_) => {
                let linked = self
                    .linked(a.id)
                    .into_iter()
                    .find_map(|l| match &l.key.line {
                        LineId::User(g) if l.call.state.is_ringing() => {
                            self.user(g).map(|u| u.extn.clone())
                        }
                        _ => None,
                    });
                linked.or_else(|| {
                    a.call
                        .targets
                        .iter()
                        .find_map(|t| self.user_by_extn(&t.number))
                        .map(|u| u.extn.clone())
                })
            }
            LineId::ParkServer => None,
        }
    }

    /// The plan of barge, pick up or unpark on `a`: a call from the supervisor's line.
    fn supervisor_plan(
        &self,
        a: &Appearance,
        f: Function,
        supervisor: Option<&str>,
        action: impl FnOnce(Text) -> PlannedAction,
    ) -> Result<CommandPlan, Text> {
        let (sup, to) = self.supervisor_leg(f, a, supervisor)?;
        Ok(CommandPlan {
            line: LineId::User(sup),
            action: action(to),
        })
    }

    /// A call from the supervisor's own line: known, not the target itself, and allowed to
    /// make calls (MAKECALL, when the PBX populates featuresavailable). Gives the
    /// supervisor's user.
    pub(super) fn supervisor_line(
        &self,
        supervisor: Option<&str>,
        target: &str,
    ) -> Result<Guid, Text> {
        let extn = supervisor.filter(|s| !s.is_empty()).ok_or_else(|| {
            Text::from("set [supervisor] extension in the configuration: barge, pickup and unpark are made from it")
        })?;
        let sup = self.user_by_extn(extn).ok_or_else(|| {
            Text::from(format!(
                "the supervisor's extension {extn} is not a user on this system"
            ))
        })?;
        if !target.is_empty() && sup.extn == target {
            return Err(Text::from("that is the supervisor's own phone"));
        }
        if let Some(s) = &sup.status {
            if !s.features.allows(UserFunction::MakeCall) {
                return Err(Text::from(format!(
                    "the PBX does not allow {extn} to make calls (MAKECALL not in featuresavailable)"
                )));
            }
        }
        Ok(sup.guid.clone())
    }

    /// The appearance, while it lasts.
    pub(super) fn found(&self, id: AppearanceId) -> Result<&Appearance, Text> {
        self.appearance(id)
            .map(|a| &**a)
            .ok_or_else(|| Text::from("that call has ended"))
    }

    /// The queue, while it is known.
    pub(super) fn known_queue(&self, queue: &Guid) -> Result<&Queue, Text> {
        self.queue(queue)
            .map(|q| &**q)
            .ok_or_else(|| Text::from("that queue is no longer known"))
    }

    /// The queue's member with this extension.
    pub(super) fn member_of<'q>(q: &'q Queue, extn: &Text) -> Result<&'q QueueMember, Text> {
        q.members()
            .iter()
            .find(|m| m.extn == *extn)
            .ok_or_else(|| Text::from(format!("{extn} is not a member of {} {}", q.extn, q.name)))
    }

    /// The user and its status, when the PBX allows changing its DND (SAC).
    pub(super) fn dnd_settable(&self, user: &Guid) -> Result<(&User, &UserStatus), Text> {
        let u = self
            .user(user)
            .ok_or_else(|| Text::from("that user is no longer known"))?;
        let Some(status) = &u.status else {
            return Err(Text::from(format!(
                "{} {} has not been reported yet",
                u.extn, u.name
            )));
        };
        if !status.features.allows(UserFunction::Sac) {
            return Err(Text::from(format!(
                "the PBX does not allow changing DND for {} (SAC not in featuresavailable)",
                u.extn
            )));
        }
        Ok((u, status))
    }

    /// Whether the model now shows the command's effect, and what it is. `reference` is the
    /// referencecallid of the supervisor's new call (barge, pickup, unpark).
    pub fn effect_seen(
        &self,
        cmd: &Command,
        plan: &CommandPlan,
        reference: Option<i32>,
    ) -> Option<Result<Text, Text>> {
        let done = |s: String| Some(Ok(Text::from(s)));
        let appearance = cmd.appearance().and_then(|id| self.appearance(id));
        match cmd {
            Command::Transfer { target, .. } | Command::Redirect { target, .. } => {
                let Some(a) = appearance else {
                    return done("the call left this line".to_owned());
                };
                let rings_target = a.call.targets.iter().any(|t| t.number == *target)
                    || a.call
                        .connected
                        .as_ref()
                        .is_some_and(|p| p.number == *target)
                    || self.linked(a.id).iter().any(|l| match &l.key.line {
                        LineId::User(g) => self.user(g).is_some_and(|u| u.extn == *target),
                        _ => false,
                    })
                    || a.call
                        .queue
                        .as_ref()
                        .is_some_and(|q| q.number == *target || q.overflow_number == *target);
                rings_target.then(|| Ok(Text::from(format!("the call went to {target}"))))
            }
            Command::Park { slot, .. } => {
                let parked = self.parked().any(|p| {
                    p.call.park_slot == *slot
                        && (appearance.is_none()
                            || p.call.gcid.is_none()
                            || appearance.and_then(|a| a.call.gcid.as_ref())
                                == p.call.gcid.as_ref())
                });
                if parked {
                    done(format!("parked in slot {slot}"))
                } else if appearance.is_none() && !self.park_available() {
                    done("the call left this line".to_owned())
                } else {
                    None
                }
            }
            Command::Drop { .. } | Command::ForceClear { .. } => appearance
                .is_none()
                .then(|| Ok(Text::from("the call was cleared"))),
            Command::Answer { .. } | Command::Unhold { .. } => appearance
                .filter(|a| a.call.state == CallState::Connected)
                .map(|_| Ok(Text::from("connected"))),
            Command::Hold { .. } => appearance
                .filter(|a| a.call.state.is_held())
                .map(|_| Ok(Text::from("on hold"))),
            Command::Priority { priority, .. } => appearance
                .and_then(|a| a.call.queue.as_ref())
                .filter(|q| q.priority == priority.number())
                .map(|_| Ok(Text::from(format!("priority {}", priority.number())))),
            Command::Tag { tag, .. } => appearance
                .filter(|a| a.call.tag == *tag)
                .map(|_| Ok(Text::from("tagged"))),
            Command::AccountCode { code, .. } => appearance
                .filter(|a| a.call.account_code == *code)
                .map(|_| Ok(Text::from("account code set"))),
            Command::Barge { .. } | Command::Pickup { .. } | Command::Unpark { .. } => {
                let reference = reference?;
                let call = self
                    .appearances_on(&plan.line)
                    .find(|a| a.call.reference_callid == reference)?;
                if call.call.state == CallState::Failed {
                    return Some(Err(Text::from(format!(
                        "the supervisor's call failed ({})",
                        call.call.failed_cause
                    ))));
                }
                let what = match cmd {
                    Command::Barge { .. } => "the supervisor's phone joined the call",
                    Command::Pickup { .. } => "the call rings the supervisor's phone",
                    _ => "the parked call went to the supervisor's phone",
                };
                done(what.to_owned())
            }
            Command::ServiceMode { queue, mode } => self
                .queue(queue)
                .filter(|q| q.service_mode() == *mode)
                .map(|_| Ok(Text::from(format!("the queue is {mode}")))),
            Command::Member {
                queue,
                extn,
                enabled,
            } => self
                .queue(queue)
                .filter(|q| {
                    q.members()
                        .iter()
                        .any(|m| m.extn == *extn && m.enabled == *enabled)
                })
                .map(|_| {
                    Ok(Text::from(format!(
                        "{extn} {}",
                        if *enabled { "enabled" } else { "disabled" }
                    )))
                }),
            Command::Dnd { user, on } => self.user(user).filter(|u| u.dnd() == *on).map(|_| {
                Ok(Text::from(format!(
                    "DND {}",
                    if *on { "on" } else { "off" }
                )))
            }),
        }
    }
}

fn non_empty(t: &Text, what: &str) -> Result<(), Text> {
    if t.trim().is_empty() {
        Err(Text::from(format!("the {what} is empty")))
    } else {
        Ok(())
    }
}

/// Where an agent's call comes in the order a supervisor acts on them: ringing first (a
/// call to rescue), then connected, then other busy states, then held, then the rest; the
/// first seen first.
fn precedence(a: &Appearance) -> (u8, std::time::Instant, super::AppearanceId) {
    let s = a.call.state;
    let rank = if s.is_ringing() {
        0
    } else if s == CallState::Connected {
        1
    } else if s.is_busy() {
        2
    } else if s.is_held() {
        3
    } else {
        4
    };
    (rank, a.first_seen, a.id)
}
