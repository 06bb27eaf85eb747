//! Domain commands on the wire: a [`Command`] checked by the model ([`Model::plan`]), sent as
//! a SubscribeCmd with a requestid on the subscription of the line it acts on, and followed
//! through accepted (RequestResponse 0), done (a Notify shows the effect) or no effect seen in
//! [`crate::session::SessionConfig::command_timeout`]; a non-zero result is reported by the document's name
//! and meaning. Nothing is queued: while the link is down every command is refused.

use std::time::{Duration, Instant};

use super::core::{Request, Session, Timer, Tracked};
use super::types::{Entity, SessionEvent};
use crate::model::{
    CallFunction, CallLost, Command, CommandId, CommandPlan, CommandReport, CommandStatus, LineId,
    PlannedAction, ServiceMode, SupervisorCall, Text,
};
use crate::protocol::cmd::{
    self, CallFunctionCmd, MakeCallType, Member, Priority, QueueUpdate, TransferTarget, UserUpdate,
};
use crate::protocol::codes::ResultCode;
use crate::protocol::msg;
use crate::protocol::pb;

impl Session {
    /// Sends a command the supervisor chose, or refuses it at once with the reason. Its
    /// progress comes back as [`SessionEvent::Command`] reports.
    pub fn handle_command(&mut self, now: Instant, id: CommandId, command: Command) {
        self.handle_command_as(now, id, command, None);
    }

    /// [`Session::handle_command`] for another supervisor: barge, pickup and unpark are made
    /// from `extension` (that supervisor's My line; empty: none) instead of
    /// [`crate::session::SessionConfig::supervisor_extension`] when it is given.
    pub fn handle_command_as(
        &mut self,
        now: Instant,
        id: CommandId,
        command: Command,
        extension: Option<&str>,
    ) {
        let mut report = CommandReport {
            id,
            command,
            status: CommandStatus::Sent,
            requestid: None,
            subscribe_id: None,
            callid: None,
            reference: None,
        };
        match self.send_command(now, &mut report, extension) {
            Ok(plan) => {
                tracing::info!(
                    command = %report.command.describe(),
                    requestid = report.requestid,
                    subscribe_id = report.subscribe_id,
                    callid = report.callid,
                    "command sent"
                );
                self.events.push_back(SessionEvent::Command(report.clone()));
                if let Some(rid) = report.requestid {
                    self.timers
                        .set(Timer::Command(rid), now + self.config.command_timeout);
                    self.commands.insert(
                        rid,
                        Tracked {
                            report,
                            plan,
                            accepted: false,
                            seen: None,
                            since: now,
                        },
                    );
                }
            }
            Err(reason) => {
                tracing::info!(command = %report.command.describe(), %reason, "command refused");
                report.status = CommandStatus::Refused { reason };
                self.events.push_back(SessionEvent::Command(report));
            }
        }
    }

    fn send_command(
        &mut self,
        now: Instant,
        report: &mut CommandReport,
        extension: Option<&str>,
    ) -> Result<CommandPlan, Text> {
        if self.config.read_only {
            return Err(Text::from(
                "read-only mode: no function is sent (--read-only or [ui] read_only)",
            ));
        }
        if !self.is_connected() {
            return Err(Text::from(
                "not connected to the PBX; nothing is queued, try again once connected",
            ));
        }
        let supervisor = extension.or(self.config.supervisor_extension.as_deref());
        let plan = self.model.plan(&report.command, supervisor)?;
        let entity = match &plan.line {
            LineId::User(g) => Entity::User(g.clone()),
            LineId::Queue(g) => Entity::Queue(g.clone()),
            LineId::ParkServer => Entity::ParkServer,
        };
        let subscribe_id = self.subs.active_id(&entity).ok_or_else(|| {
            Text::from(format!(
                "the {} subscription is not active now; try again in a moment",
                self.label(&entity)
            ))
        })?;
        let requestid = self.request_id();
        let msg = match &plan.action {
            PlannedAction::Function {
                callid,
                function,
                arg,
            } => {
                let f = function_cmd(*function, arg)?;
                report.callid = Some(*callid);
                msg::call_function(requestid, subscribe_id, *callid, &f)
            }
            PlannedAction::MakeCall { target, kind } => {
                let reference = self.reference_id();
                report.reference = Some(reference);
                let kind = match kind {
                    SupervisorCall::Intrude => MakeCallType::Intrude,
                    SupervisorCall::Pickup => MakeCallType::Pickup,
                };
                msg::make_call(requestid, subscribe_id, reference, target, kind)
            }
            PlannedAction::Unpark { slot } => {
                let reference = self.reference_id();
                report.reference = Some(reference);
                msg::unpark_call(requestid, subscribe_id, reference, slot)
            }
            PlannedAction::ServiceMode(mode) => {
                let mode = match mode {
                    ServiceMode::Active => cmd::ServiceMode::Active,
                    ServiceMode::NightService => cmd::ServiceMode::NightService,
                    ServiceMode::OutOfService => cmd::ServiceMode::OutOfService,
                    other => return Err(Text::from(format!("{other} is not a mode to set"))),
                };
                msg::update_queue(requestid, subscribe_id, &QueueUpdate::ServiceMode(mode))
            }
            PlannedAction::Member { extn, enabled } => msg::update_queue(
                requestid,
                subscribe_id,
                // "addmember is an update if the member already exists" (the document).
                &QueueUpdate::AddMember(vec![Member {
                    extn: extn.to_string(),
                    disabled: !enabled,
                }]),
            ),
            PlannedAction::Dnd(on) => {
                msg::update_user(requestid, subscribe_id, &UserUpdate::Sac(*on))
            }
        }
        .map_err(|e| Text::from(e.to_string()))?;
        report.requestid = Some(requestid);
        report.subscribe_id = Some(subscribe_id);
        self.requests.insert(requestid, (Request::Command, now));
        self.send_subscribe_cmd(&msg);
        Ok(plan)
    }

    /// The one way a SubscribeCmd leaves the session; in read-only mode none does.
    pub(super) fn send_subscribe_cmd(&mut self, msg: &pb::Message) {
        if self.config.read_only {
            tracing::error!("a SubscribeCmd in read-only mode was not sent");
            return;
        }
        self.send(msg);
    }

    /// A referencecallid for a call from the supervisor's line: fresh, never 0.
    fn reference_id(&mut self) -> i32 {
        let r = self.next_reference;
        self.next_reference = if r == i32::MAX { 1 } else { r + 1 };
        r
    }

    /// The PBX answered a command.
    pub(super) fn on_command_result(&mut self, now: Instant, requestid: i32, code: ResultCode) {
        let Some(mut t) = self.commands.remove(&requestid) else {
            return;
        };
        if !code.is_success() {
            self.timers.cancel(&Timer::Command(requestid));
            let name = code
                .name()
                .map_or_else(|| format!("result {}", code.code()), str::to_owned);
            let meaning = code
                .meaning()
                .map_or_else(|| "not in the MTCTI3 document".to_owned(), str::to_owned);
            t.report.status = CommandStatus::Failed {
                code: code.code(),
                name: Text::from(name),
                meaning: Text::from(meaning),
            };
            tracing::info!(requestid, %code, "command refused by the PBX");
            self.events.push_back(SessionEvent::Command(t.report));
            return;
        }
        t.accepted = true;
        t.since = now;
        if matches!(
            t.report.command,
            Command::Transfer { .. } | Command::Redirect { .. } | Command::Park { .. }
        ) {
            if let Some(id) = t.report.command.appearance() {
                // Sent away from here: not an abandon if the caller hangs up now.
                self.model.note_moved(id);
            }
        }
        t.report.status = CommandStatus::Accepted;
        self.events
            .push_back(SessionEvent::Command(t.report.clone()));
        if t.seen.is_none() {
            t.seen = self
                .model
                .effect_seen(&t.report.command, &t.plan, t.report.reference);
        }
        match t.seen.take() {
            Some(outcome) => {
                self.timers.cancel(&Timer::Command(requestid));
                self.settle(t, outcome);
            }
            None => {
                self.timers
                    .set(Timer::Command(requestid), now + self.config.command_timeout);
                self.commands.insert(requestid, t);
            }
        }
    }

    fn settle(&mut self, mut t: Tracked, outcome: Result<Text, Text>) {
        t.report.status = match outcome {
            Ok(effect) => CommandStatus::Done { effect },
            Err(cause) => CommandStatus::CallFailed { cause },
        };
        tracing::info!(requestid = t.report.requestid, status = %t.report.status, "command settled");
        self.events.push_back(SessionEvent::Command(t.report));
    }

    /// After a Notify: settles the commands whose effect now shows.
    pub(super) fn check_effects(&mut self) {
        if self.commands.is_empty() {
            return;
        }
        let mut settled = Vec::new();
        for (rid, t) in &mut self.commands {
            if t.seen.is_some() {
                continue;
            }
            let seen = self
                .model
                .effect_seen(&t.report.command, &t.plan, t.report.reference);
            if seen.is_some() {
                if t.accepted {
                    settled.push((*rid, seen));
                } else {
                    t.seen = seen;
                }
            }
        }
        for (rid, seen) in settled {
            if let (Some(t), Some(outcome)) = (self.commands.remove(&rid), seen) {
                self.timers.cancel(&Timer::Command(rid));
                self.settle(t, outcome);
            }
        }
    }

    /// A CallLost for a call never seen: the supervisor's MakeCall or UnPark that failed at
    /// once, known by its referencecallid.
    pub(super) fn lost_reference(&mut self, line: &LineId, lost: &CallLost) {
        if lost.reference_callid == 0 {
            return;
        }
        let found = self
            .commands
            .iter()
            .find(|(_, t)| {
                t.plan.line == *line && t.report.reference == Some(lost.reference_callid)
            })
            .map(|(rid, _)| *rid);
        let Some(rid) = found else {
            return;
        };
        let cause = if lost.description.is_empty() {
            format!("the PBX ended it at once (reason {})", lost.cause)
        } else {
            format!("{} (reason {})", lost.description, lost.cause)
        };
        match self.commands.get_mut(&rid) {
            Some(t) if !t.accepted => t.seen = Some(Err(Text::from(cause))),
            Some(_) => {
                if let Some(t) = self.commands.remove(&rid) {
                    self.timers.cancel(&Timer::Command(rid));
                    self.settle(t, Err(Text::from(cause)));
                }
            }
            None => {}
        }
    }

    /// A command's wait is over: no answer, or no effect seen.
    pub(super) fn command_timed_out(&mut self, now: Instant, requestid: i32) {
        let Some(mut t) = self.commands.remove(&requestid) else {
            return;
        };
        self.requests.remove(&requestid);
        let waited = now.saturating_duration_since(t.since);
        t.report.status = CommandStatus::NoEffect {
            accepted: t.accepted,
            waited_secs: waited.as_secs().max(Duration::from_secs(1).as_secs()),
        };
        tracing::info!(requestid, status = %t.report.status, "command settled");
        self.events.push_back(SessionEvent::Command(t.report));
    }

    /// The link went down: what was pending will never be answered on it.
    pub(super) fn interrupt_commands(&mut self, reason: &str) {
        let mut pending: Vec<_> = self.commands.drain().collect();
        pending.sort_by_key(|(rid, _)| *rid);
        for (_, mut t) in pending {
            t.report.status = CommandStatus::Interrupted {
                reason: Text::from(format!(
                    "the link dropped before the outcome was seen ({reason})"
                )),
            };
            self.events.push_back(SessionEvent::Command(t.report));
        }
    }
}

/// The protocol's call function for a model function and its argument.
fn function_cmd(function: CallFunction, arg: &Text) -> Result<CallFunctionCmd, Text> {
    let arg = arg.to_string();
    Ok(match function {
        CallFunction::Drop => CallFunctionCmd::DropCall,
        CallFunction::ForceClear => CallFunctionCmd::ForceClear,
        CallFunction::Answer => CallFunctionCmd::AnswerCall,
        CallFunction::Hold => CallFunctionCmd::HoldCall,
        CallFunction::UnHold => CallFunctionCmd::UnHoldCall,
        CallFunction::BlindTransfer => CallFunctionCmd::BlindTransfer(TransferTarget::parse(&arg)),
        CallFunction::Redirect => CallFunctionCmd::Redirect(arg),
        CallFunction::Park => CallFunctionCmd::Park(arg),
        CallFunction::SetTag => CallFunctionCmd::SetTag(arg),
        CallFunction::SetAccountCode => CallFunctionCmd::SetAccountCode(arg),
        CallFunction::SetPriority => CallFunctionCmd::SetPriority(
            Priority::from_arg(&arg).map_err(|e| Text::from(e.to_string()))?,
        ),
        other => {
            return Err(Text::from(format!(
                "{} is not a function ipo-top sends",
                other.name()
            )));
        }
    })
}
