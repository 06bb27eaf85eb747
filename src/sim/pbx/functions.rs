//! Call control: the document's call functions, MakeCall and UnParkCall, applied to the model.
//!
//! Each function works on the line types the document lists for it ("Line types"), only when
//! the appearance's `featuresavailable` offers it, with the document's argument limits (read by
//! [`CallFunctionCmd::from_pb`]) and its failure codes. The checks run in this order, and the
//! first that fails gives the result:
//!
//! | check | result |
//! |---|---|
//! | more than one of `makecall`, `callfunction`, `unparkcall` | 608 BADFORMATTING |
//! | none of them, and not both `callid` and `referencecallid` (which asserts a reference) | 5002 REQUEST_INVALID_PAYLOAD |
//! | a reference asserted on the park-server line (parked calls carry none) | 5003 REQUEST_INVALID_CONTEXT |
//! | a reference asserted for a callid not on the line | 602 CALLNOTFOUND |
//! | MakeCall / UnParkCall on a group or park-server line | 5003 REQUEST_INVALID_CONTEXT |
//! | MakeCall / UnParkCall with a `callid`, or without a `referencecallid` | 608 |
//! | an action that is no function (None, Unused21/31/33, or unknown) | 616 UNSUPPORTED |
//! | neither `callid` nor `referencecallid` names a call | 608 |
//! | no such call on this line | DropCall: 4 NOTFOUND; others: 602 CALLNOTFOUND |
//! | argument outside the document's limits | 608 |
//! | HoldCall on a held call / UnHoldCall on a connected one (user lines) | 617 ALREADYDONE |
//! | the function is not for this line type, or its feature bit is clear | 609 INVALIDCALLSTATE, or SUCCESS with nothing done ([`Unoffered::Ignore`]) |
//! | SetNotes, ShortCodeAction ("not supported in this release") | 616, or SUCCESS with nothing done when ignoring |
//! | DropCall in [`DropCallMode::NoEffect`] | SUCCESS, nothing done |
//! | the function's own failures | see below |
//!
//! The functions' own failures: BlindTransfer and Redirect to a target that is no user or
//! group, or that refuses the call (logged off, faulty phone, DND, a group neither Active nor
//! with voicemail, the user holding the call) 612 TRANSFERFAILED, and typed targets the
//! simulator does not model (`/104/` page, `/106/` intrude, `/111/` whisper, `/112/`
//! inclusion, `/120/` FNE) 616; Park to a malformed slot 608, to an occupied one 613
//! PARKFAILED; SetAccountCode not among the account codes 604 BADACCT; SetAuthCode not among
//! the auth codes 605 BADAUTH; DropCall of a ringing call with no coverage (a user's own call
//! and no voicemail) 611 NOCOVERAGE; PushToEC500 without a mobile number 612. MakeCall: user
//! logged off 600 NOPHONE, phone faulty 601 EXTNFAULT, [`MAX_APPEARANCES`] calls already 603
//! MAXCALLS, unknown `type` 608, account or auth code unknown 604/605, intrude or pickup
//! target not a user with a connected (ringing) call 606 TARGETNOTFOUND, intrude into a
//! private call 607 PERMISSION, page and MeetMe calls 616. UnParkCall: malformed slot 608,
//! user logged off 600, phone faulty 601, empty slot 606.
//!
//! The document warns that an action whose bit is clear "will be ignored": by default the
//! simulator answers 609 so a client sees its mistake, and [`Unoffered::Ignore`] reproduces
//! the silent behaviour. It also warns that DropCall may answer SUCCESS without dropping:
//! [`DropCallMode::NoEffect`] does that for every DropCall, so clients learn to believe the
//! Notifies rather than the responses.

use std::cmp::Reverse;

use super::calls::NORMAL;
use super::{Call, CallKey, CallKind, Change, LegState, Line, Pbx, QueueId, Timer, UserId};
use crate::protocol::BuildError;
use crate::protocol::bits::{CallFeatures, CallFeatures2};
use crate::protocol::cmd::{
    CallFunctionCmd, FeatureGate, TransferTarget, TransferType, feature_gate,
};
use crate::protocol::codes::ResultCode;
use crate::protocol::pb;
use crate::protocol::pb::call_function::Action;
use crate::sim::site::is_park_slot;

/// Call appearances a user's phone has: MakeCall beyond this answers 603 MAXCALLS.
pub const MAX_APPEARANCES: usize = 3;

/// What the simulator does with a call function that the appearance does not offer (its line
/// type is wrong or its `featuresavailable` bit is clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Unoffered {
    /// Answer 609 INVALIDCALLSTATE (616 UNSUPPORTED for the functions the document says are
    /// not supported), nothing done.
    #[default]
    Refuse,
    /// Answer SUCCESS and do nothing, as the document says IP Office does ("the Action will be
    /// ignored").
    Ignore,
}

/// What DropCall does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DropCallMode {
    /// Drops the call, as documented.
    #[default]
    Drop,
    /// Answers SUCCESS and leaves the call as it is (the document: DropCall "may" do this).
    NoEffect,
}

/// How strictly call functions answer: the default is the document's behaviour made visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FunctionPolicy {
    /// Functions the appearance does not offer.
    pub unoffered: Unoffered,
    /// DropCall.
    pub drop_call: DropCallMode,
}

/// Where a BlindTransfer or Redirect sends the call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    /// Ring a user (`answer`: the force-answer form connects at once).
    User { user: UserId, answer: bool },
    /// Queue in a group.
    Queue(QueueId),
    /// Voicemail or a call flow (shown as the connected party).
    Voicemail(String),
    /// A MeetMe conference.
    MeetMe(String),
}

/// Whether the document lists `line`'s type for the function ("Line types").
fn line_allows(action: Action, line: Line) -> bool {
    let (user, queue, park) = match action {
        Action::DropCall | Action::BlindTransfer | Action::SetTag | Action::ForceClear => {
            (true, true, true)
        }
        Action::Redirect
        | Action::Park
        | Action::AddToConf
        | Action::MemberFunction
        | Action::SetAccountCode => (true, true, false),
        Action::SetPriority | Action::Finish => (false, true, false),
        Action::None | Action::Unused21 | Action::Unused31 | Action::Unused33 => {
            (false, false, false)
        }
        _ => (true, false, false),
    };
    match line {
        Line::User(_) => user,
        Line::Queue(_) => queue,
        Line::Park => park,
    }
}

fn build_error_code(e: &BuildError) -> ResultCode {
    match e {
        BuildError::UnknownAction(_) => ResultCode::Unsupported,
        _ => ResultCode::BadFormatting,
    }
}

/// Whether `code` is one the site configures, or empty (which clears it).
pub(super) fn known_code(codes: &[String], code: &str) -> bool {
    code.is_empty() || codes.iter().any(|c| c == code)
}

impl Pbx {
    /// Applies an `UpdateCallControl` received on the subscription of `line` and returns the
    /// RequestResponse code; the effects are reported as [`Change`]s like any other. See the
    /// module documentation for the checks and codes.
    pub fn call_control(
        &mut self,
        line: Line,
        ucc: &pb::UpdateCallControl,
        policy: FunctionPolicy,
    ) -> ResultCode {
        let parts = usize::from(ucc.makecall.is_some())
            + usize::from(ucc.callfunction.is_some())
            + usize::from(ucc.unparkcall.is_some());
        if parts > 1 {
            return ResultCode::BadFormatting;
        }
        if let Some(mc) = &ucc.makecall {
            let Line::User(user) = line else {
                return ResultCode::RequestInvalidContext;
            };
            if ucc.callid != 0 || ucc.referencecallid == 0 {
                return ResultCode::BadFormatting;
            }
            return self.make_call(user, ucc.referencecallid, mc);
        }
        if let Some(up) = &ucc.unparkcall {
            let Line::User(user) = line else {
                return ResultCode::RequestInvalidContext;
            };
            if ucc.callid != 0 || ucc.referencecallid == 0 {
                return ResultCode::BadFormatting;
            }
            return self.unpark_call(user, ucc.referencecallid, &up.parkid);
        }
        match &ucc.callfunction {
            Some(f) => self.call_function(line, ucc.callid, ucc.referencecallid, f, policy),
            None if ucc.callid != 0 && ucc.referencecallid != 0 => {
                self.assert_reference(line, ucc.callid, ucc.referencecallid)
            }
            None => ResultCode::RequestInvalidPayload,
        }
    }

    /// The call a line knows as `callid` (or, with callid 0, by the application's reference).
    pub fn find_call(&self, line: Line, callid: i32, reference: i32) -> Option<CallKey> {
        let by_callid = |c: i32| -> Option<CallKey> {
            self.calls_on(line)
                .into_iter()
                .find(|(id, _)| *id == c)
                .map(|(_, k)| k)
        };
        if callid != 0 {
            return by_callid(callid);
        }
        if reference == 0 {
            return None;
        }
        self.calls_on(line)
            .into_iter()
            .find(|(_, k)| self.reference_of(line, *k) == Some(reference))
            .map(|(_, k)| k)
    }

    fn reference_of(&self, line: Line, key: CallKey) -> Option<i32> {
        let call = self.calls.get(&key)?;
        match line {
            Line::User(u) => call.legs.iter().find(|l| l.user == u).map(|l| l.reference),
            Line::Queue(q) => call
                .report
                .as_ref()
                .filter(|r| r.queue == q)
                .map(|r| r.reference),
            Line::Park => None,
        }
    }

    /// The application asserts (or changes) its referencecallid for an appearance.
    fn assert_reference(&mut self, line: Line, callid: i32, reference: i32) -> ResultCode {
        let Some(key) = self.find_call(line, callid, 0) else {
            return ResultCode::CallNotFound;
        };
        let Some(call) = self.calls.get_mut(&key) else {
            return ResultCode::CallNotFound;
        };
        match line {
            Line::User(u) => {
                if let Some(leg) = call.legs.iter_mut().find(|l| l.user == u) {
                    leg.reference = reference;
                }
                self.emit_user_leg(key, u);
            }
            Line::Queue(_) => {
                if let Some(r) = call.report.as_mut() {
                    r.reference = reference;
                }
                self.emit_queue_leg(key);
            }
            // Parked calls carry no reference: the one given at UnPark comes with the new
            // appearance.
            Line::Park => return ResultCode::RequestInvalidContext,
        }
        ResultCode::Success
    }

    /// The functions an appearance offers now (`featuresavailable`, `featuresavailable2`).
    pub fn features_of(&self, line: Line, key: CallKey) -> Option<(CallFeatures, CallFeatures2)> {
        let ci = self.callinfo(line, key)?;
        Some((
            CallFeatures::from_wire(ci.featuresavailable),
            CallFeatures2::from_wire(ci.featuresavailable2),
        ))
    }

    fn call_function(
        &mut self,
        line: Line,
        callid: i32,
        reference: i32,
        f: &pb::CallFunction,
        policy: FunctionPolicy,
    ) -> ResultCode {
        let Some(action) = Action::try_from(f.action)
            .ok()
            .filter(|a| feature_gate(*a).is_some())
        else {
            return ResultCode::Unsupported;
        };
        if callid == 0 && reference == 0 {
            return ResultCode::BadFormatting;
        }
        let Some(key) = self.find_call(line, callid, reference) else {
            return if action == Action::DropCall {
                ResultCode::NotFound
            } else {
                ResultCode::CallNotFound
            };
        };
        let cmd = match CallFunctionCmd::from_pb(f) {
            Ok(cmd) => cmd,
            Err(e) => return build_error_code(&e),
        };
        if let Line::User(u) = line {
            let state = self
                .calls
                .get(&key)
                .and_then(|c| c.legs.iter().find(|l| l.user == u))
                .map(|l| l.state);
            match (&cmd, state) {
                (CallFunctionCmd::HoldCall, Some(LegState::Held))
                | (CallFunctionCmd::UnHoldCall, Some(LegState::Connected)) => {
                    return ResultCode::AlreadyDone;
                }
                _ => {}
            }
        }
        let gate = cmd.feature_gate();
        let offered = line_allows(action, line)
            && self
                .features_of(line, key)
                .is_some_and(|(f1, f2)| gate.is_offered(f1, f2));
        if !offered {
            return match (policy.unoffered, gate) {
                (Unoffered::Ignore, _) => ResultCode::Success,
                (Unoffered::Refuse, FeatureGate::NotOffered) => ResultCode::Unsupported,
                (Unoffered::Refuse, _) => ResultCode::InvalidCallState,
            };
        }
        if cmd == CallFunctionCmd::DropCall && policy.drop_call == DropCallMode::NoEffect {
            return ResultCode::Success;
        }
        match self.apply(line, key, &cmd) {
            Ok(()) => ResultCode::Success,
            Err(code) => code,
        }
    }

    fn apply(&mut self, line: Line, key: CallKey, cmd: &CallFunctionCmd) -> Result<(), ResultCode> {
        let me = match line {
            Line::User(u) => Some(u),
            _ => None,
        };
        match cmd {
            CallFunctionCmd::DropCall => self.drop_call(line, key),
            CallFunctionCmd::ForceClear => {
                self.end_call(key, me, true);
                Ok(())
            }
            CallFunctionCmd::AnswerCall => {
                let u = me.ok_or(ResultCode::InvalidCallState)?;
                self.answer(key, u);
                Ok(())
            }
            CallFunctionCmd::HoldCall => self.set_held(key, me, true),
            CallFunctionCmd::UnHoldCall => self.set_held(key, me, false),
            CallFunctionCmd::BlindTransfer(target) => {
                let dest = self.resolve(target, me)?;
                self.transfer(line, key, dest);
                Ok(())
            }
            CallFunctionCmd::Redirect(target) => {
                let dest = self.resolve(&TransferTarget::parse(target), me)?;
                self.transfer(line, key, dest);
                Ok(())
            }
            CallFunctionCmd::Park(slot) => {
                if !is_park_slot(slot) {
                    return Err(ResultCode::BadFormatting);
                }
                if self.park.contains_key(slot.as_str()) {
                    return Err(ResultCode::ParkFailed);
                }
                let epoch = self.park_call(key, slot, me);
                // The caller waits on hold; a forgotten parked call is given up eventually.
                let patience = self.draw_ms(&self.traffic.patience.clone());
                self.schedule_in(patience.saturating_mul(3), Timer::ParkedHangUp(key, epoch));
                Ok(())
            }
            CallFunctionCmd::SetTag(tag) => {
                self.annotate(key, true, |call| call.tag = tag.clone());
                Ok(())
            }
            CallFunctionCmd::SetAccountCode(code) => {
                if !known_code(&self.account_codes, code) {
                    return Err(ResultCode::BadAcct);
                }
                self.annotate(key, true, |call| call.account = code.clone());
                Ok(())
            }
            CallFunctionCmd::SetAuthCode(code) => {
                if !known_code(&self.auth_codes, code) {
                    return Err(ResultCode::BadAuth);
                }
                // No CallInfo field shows an auth code: nothing to notify.
                self.annotate(key, false, |call| call.auth = code.clone());
                Ok(())
            }
            CallFunctionCmd::SetPriority(p) => {
                let prio = u8::try_from(p.to_wire()).unwrap_or(1);
                self.set_priority(key, prio);
                Ok(())
            }
            CallFunctionCmd::Finish { immediate } => {
                if let Line::Queue(q) = line {
                    self.finish(key, q, *immediate);
                }
                Ok(())
            }
            // DTMF reaches the far end; nothing a Notify shows changes.
            CallFunctionCmd::GenerateDigits(_) => Ok(()),
            CallFunctionCmd::PushToEc500 => {
                let u = me.ok_or(ResultCode::InvalidCallState)?;
                if self.user(u).is_none_or(|u| u.spec.mobile.is_empty()) {
                    return Err(ResultCode::TransferFailed);
                }
                let epoch = self.calls.get(&key).map_or(0, |c| c.epoch);
                let delay = self.draw_ms(&self.traffic.answer_delay.clone());
                self.schedule_in(delay, Timer::Ec500Answer(key, u, epoch));
                Ok(())
            }
            CallFunctionCmd::PrivacyOn | CallFunctionCmd::PrivacyOff => {
                let on = *cmd == CallFunctionCmd::PrivacyOn;
                let u = me.ok_or(ResultCode::InvalidCallState)?;
                if let Some(call) = self.calls.get_mut(&key) {
                    for leg in &mut call.legs {
                        if leg.user == u {
                            leg.private = on;
                        }
                        // A private call is not recorded.
                        if on {
                            leg.recording = false;
                        }
                    }
                }
                self.emit_all(key);
                Ok(())
            }
            CallFunctionCmd::CallRecordingOn | CallFunctionCmd::CallRecordingOff => {
                let on = *cmd == CallFunctionCmd::CallRecordingOn;
                let u = me.ok_or(ResultCode::InvalidCallState)?;
                if let Some(leg) = self
                    .calls
                    .get_mut(&key)
                    .and_then(|c| c.legs.iter_mut().find(|l| l.user == u))
                {
                    leg.recording = on;
                }
                self.emit_user_leg(key, u);
                Ok(())
            }
            // Never offered by the model (no feature bit is ever set for them), so the gate
            // has answered already; kept explicit so a new bit cannot slip through silently.
            CallFunctionCmd::Dial(_)
            | CallFunctionCmd::SetupTransfer(_)
            | CallFunctionCmd::SetupConf(_)
            | CallFunctionCmd::CompleteTransfer(_)
            | CallFunctionCmd::CompleteConf(_)
            | CallFunctionCmd::AddToConf(_)
            | CallFunctionCmd::MemberFunction { .. }
            | CallFunctionCmd::SetNotes(_)
            | CallFunctionCmd::ShortCodeAction(_)
            | CallFunctionCmd::AnswerPage
            | CallFunctionCmd::MuteOn
            | CallFunctionCmd::MuteOff
            | CallFunctionCmd::AgentRecordingControl(_) => Err(ResultCode::Unsupported),
        }
    }

    /// Changes what the call carries (tag, codes); its appearances are reported again when
    /// the change `shows` in CallInfo.
    fn annotate(&mut self, key: CallKey, shows: bool, change: impl FnOnce(&mut Call)) {
        if let Some(call) = self.calls.get_mut(&key) {
            change(call);
        }
        if shows {
            self.emit_all(key);
        }
    }

    /// Reports every appearance of the call (a change every line sees: tag, account code,
    /// privacy, conference membership).
    pub(super) fn emit_all(&mut self, key: CallKey) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let users: Vec<UserId> = call.legs.iter().map(|l| l.user).collect();
        let park = call.park.as_ref().map(|p| p.callid);
        for u in users {
            self.emit_user_leg(key, u);
        }
        self.emit_queue_leg(key);
        if let Some(callid) = park {
            self.emit(Change::Call {
                line: Line::Park,
                call: key,
                callid,
            });
        }
    }

    /// Puts the user's other connected calls on hold (answering, unholding or picking up a
    /// call makes it the active one).
    pub(super) fn hold_others(&mut self, user: UserId, except: Option<CallKey>) {
        let Some(u) = self.user(user) else {
            return;
        };
        let others: Vec<CallKey> = u
            .legs
            .iter()
            .map(|(_, k)| *k)
            .filter(|k| Some(*k) != except)
            .collect();
        for key in others {
            let held = self
                .calls
                .get_mut(&key)
                .and_then(|c| {
                    c.legs
                        .iter_mut()
                        .find(|l| l.user == user && l.state == LegState::Connected)
                })
                .map(|leg| leg.state = LegState::Held)
                .is_some();
            if held {
                self.emit_all(key);
            }
        }
    }

    fn set_held(
        &mut self,
        key: CallKey,
        user: Option<UserId>,
        hold: bool,
    ) -> Result<(), ResultCode> {
        let u = user.ok_or(ResultCode::InvalidCallState)?;
        let (from, to) = if hold {
            (LegState::Connected, LegState::Held)
        } else {
            (LegState::Held, LegState::Connected)
        };
        let leg = self
            .calls
            .get_mut(&key)
            .and_then(|c| c.legs.iter_mut().find(|l| l.user == u && l.state == from))
            .ok_or(ResultCode::InvalidCallState)?;
        leg.state = to;
        if !hold {
            self.hold_others(u, Some(key));
        }
        self.emit_all(key);
        self.touch_user(u);
        Ok(())
    }

    /// DropCall: on a user line the user leaves (a ringing group call goes back to its group,
    /// another ringing call to voicemail); on a group or park-server line the call is dropped.
    fn drop_call(&mut self, line: Line, key: CallKey) -> Result<(), ResultCode> {
        let Line::User(u) = line else {
            self.end_call(key, None, true);
            return Ok(());
        };
        let Some(call) = self.calls.get(&key) else {
            return Err(ResultCode::NotFound);
        };
        let Some(leg) = call.legs.iter().find(|l| l.user == u) else {
            return Err(ResultCode::NotFound);
        };
        if leg.state == LegState::Ringing {
            let routed = call.queue.as_ref().is_some_and(|l| !l.answered);
            if routed {
                // Coverage is the group: the call rings the next member.
                if let Some(l) = self.calls.get_mut(&key).and_then(|c| c.queue.as_mut()) {
                    l.tried.push(u);
                }
                self.withdraw_user_from_call(key, u);
                self.after_user_free(u);
                return Ok(());
            }
            if !self.user(u).is_some_and(|u| u.spec.voicemail) {
                return Err(ResultCode::NoCoverage);
            }
            // Coverage is the user's voicemail: the caller leaves a message there.
            self.end_call(key, Some(u), false);
            return Ok(());
        }
        let parties = call
            .legs
            .iter()
            .filter(|l| l.user != u && matches!(l.state, LegState::Connected | LegState::Held))
            .count()
            + usize::from(call.far.is_some() || call.meetme.is_some() || call.mobile.is_some());
        if parties >= 2 {
            // A conference goes on without this user.
            self.leave(key, u, true);
            self.emit_all(key);
        } else {
            self.end_call(key, Some(u), true);
        }
        Ok(())
    }

    /// The user leaves the call (after-call work follows a group call they talked on).
    fn leave(&mut self, key: CallKey, user: UserId, this_end_dropped: bool) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let talked = call.legs.iter().any(|l| l.user == user && l.handled());
        let group_call = call.kind == CallKind::Queue;
        self.drop_leg(key, user, this_end_dropped);
        if talked && group_call {
            self.start_acw(user);
        }
        self.after_user_free(user);
    }

    /// Where a BlindTransfer or Redirect target leads; 612 when nothing takes the call there.
    fn resolve(
        &self,
        target: &TransferTarget,
        from: Option<UserId>,
    ) -> Result<Destination, ResultCode> {
        let internal = |extn: &str, answer: bool| -> Result<Destination, ResultCode> {
            if let Some(user) = self.user_by_extn(extn) {
                let reachable = self
                    .user(user)
                    .is_some_and(|u| !u.spec.logged_off && !u.spec.extn_fault && !u.spec.dnd);
                if !reachable || from == Some(user) {
                    return Err(ResultCode::TransferFailed);
                }
                return Ok(Destination::User { user, answer });
            }
            if let Some(q) = self.queue_by_extn(extn) {
                if !self.queue_accepts(q) {
                    return Err(ResultCode::TransferFailed);
                }
                return Ok(Destination::Queue(q));
            }
            Err(ResultCode::TransferFailed)
        };
        match target {
            TransferTarget::Destination(d) => internal(d, false),
            TransferTarget::Typed { kind, destination } => match kind {
                TransferType::Voicemail if !destination.is_empty() => {
                    Ok(Destination::Voicemail(destination.clone()))
                }
                TransferType::Voicemail => Err(ResultCode::TransferFailed),
                TransferType::MeetMe => {
                    // `/116/2005;MODEFROMPIN(123456)`: the conference number before any `;`.
                    let conf = destination.split(';').next().unwrap_or_default();
                    if conf.is_empty() || !conf.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(ResultCode::TransferFailed);
                    }
                    Ok(Destination::MeetMe(conf.to_string()))
                }
                TransferType::ForceAnswer => internal(destination, true),
                TransferType::Priority | TransferType::CampOn => internal(destination, false),
                TransferType::Page
                | TransferType::Intrude
                | TransferType::Whisper
                | TransferType::Inclusion
                | TransferType::Fne => Err(ResultCode::Unsupported),
            },
        }
    }

    /// Sends the call to `dest`: it leaves the transferring user (and every user still only
    /// ringing), its group's routing and any park slot, and rings, queues or connects there.
    /// The group that reports the call keeps reporting it (until Finish).
    fn transfer(&mut self, line: Line, key: CallKey, dest: Destination) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let leaving: Vec<UserId> = call
            .legs
            .iter()
            .filter(|l| match line {
                Line::User(u) => l.user == u || l.state == LegState::Ringing,
                Line::Queue(_) | Line::Park => true,
            })
            .map(|l| l.user)
            .collect();
        let answered = call.queue.as_ref().is_none_or(|l| l.answered);
        let priority = call
            .queue
            .as_ref()
            .map(|l| l.priority)
            .or(call.report.as_ref().map(|r| r.priority))
            .unwrap_or(1);
        let park = call.park.clone();
        self.leave_routing(key);
        if let Some(call) = self.calls.get_mut(&key) {
            call.epoch += 1;
            call.voicemail = None;
            call.meetme = None;
            call.mobile = None;
            call.park = None;
        }
        if let Some(p) = park {
            self.vacate_slot(key, &p);
        }
        for u in &leaving {
            let this_end = line == Line::User(*u);
            let Some(call) = self.calls.get(&key) else {
                break;
            };
            let talked = call.legs.iter().any(|l| l.user == *u && l.handled());
            let group_call = call.kind == CallKind::Queue;
            self.drop_leg(key, *u, this_end);
            if talked && group_call {
                self.start_acw(*u);
            }
        }
        let epoch = self.calls.get(&key).map_or(0, |c| c.epoch);
        match dest {
            Destination::User { user, answer } => {
                // For a call between two users, the one who stays now talks to the target.
                let stays = self
                    .calls
                    .get(&key)
                    .filter(|c| c.far.is_none())
                    .and_then(|c| c.legs.first())
                    .map(|l| l.user);
                if let Some(s) = stays
                    && let Some(leg) = self
                        .calls
                        .get_mut(&key)
                        .and_then(|c| c.legs.iter_mut().find(|l| l.user == s))
                {
                    leg.peer = Some(user);
                }
                if answer {
                    self.hold_others(user, Some(key));
                    self.add_leg(key, user, LegState::Connected, stays);
                    let talk = self.draw_ms(&self.traffic.talk.clone());
                    self.schedule_in(talk, Timer::HangUp(key, epoch));
                } else {
                    self.add_leg(key, user, LegState::Ringing, stays);
                    self.ring_user(key, user);
                }
            }
            Destination::Queue(q) => {
                // The priority does not persist once the call has been answered.
                let prio = if answered { 1 } else { priority };
                let now = self.now_ms;
                let patience = self.draw_ms(&self.traffic.patience.clone());
                self.schedule_in(patience, Timer::Abandon(key));
                self.enter_queue(key, q, prio, now);
            }
            Destination::Voicemail(party) => {
                if let Some(call) = self.calls.get_mut(&key) {
                    call.voicemail = Some(party);
                }
                let ms = self.draw_ms(&self.traffic.voicemail_message.clone());
                self.schedule_in(ms, Timer::VoicemailEnd(key));
            }
            Destination::MeetMe(conf) => {
                if let Some(call) = self.calls.get_mut(&key) {
                    call.meetme = Some(conf);
                }
                let talk = self.draw_ms(&self.traffic.talk.clone());
                self.schedule_in(talk, Timer::HangUp(key, epoch));
            }
        }
        self.emit_all(key);
        for u in leaving {
            self.after_user_free(u);
        }
    }

    /// SetPriority: the call moves to its place for the new priority in its group's queue.
    fn set_priority(&mut self, key: CallKey, prio: u8) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if let Some(r) = call.report.as_mut() {
            r.priority = prio;
        }
        let mut requeue = None;
        if let Some(leg) = call.queue.as_mut() {
            let old = (Reverse(leg.priority), leg.arrived, key);
            leg.priority = prio;
            if !leg.answered {
                requeue = Some((leg.queue, old, (Reverse(prio), leg.arrived, key)));
            }
        }
        if let Some((q, old, new)) = requeue
            && let Some(queue) = self.queue_mut(q)
            && queue.waiting.remove(&old)
        {
            queue.waiting.insert(new);
        }
        self.emit_all(key);
    }

    /// Finish: group `q` stops reporting the call, for every client (CallLost there). The call
    /// goes on; it is reported on the next group it arrives at, or at once on the group routing
    /// it now when `immediate` (arg1 "1").
    fn finish(&mut self, key: CallKey, q: QueueId, immediate: bool) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let Some(report) = call.report.take_if(|r| r.queue == q) else {
            return;
        };
        let routing = call.queue.as_ref().map(|l| l.queue);
        if let Some(queue) = self.queue_mut(q) {
            queue.appearances.remove(&report.callid);
        }
        self.emit(Change::CallLost {
            line: Line::Queue(q),
            call: key,
            callid: report.callid,
            reason: NORMAL,
            this_end_dropped: false,
        });
        if immediate && let Some(other) = routing.filter(|r| *r != q) {
            self.report_on(key, other);
        }
    }

    /// The mobile twin answered a PushToEC500: the call leaves the user's phone.
    pub(super) fn ec500_answer(&mut self, key: CallKey, user: UserId) {
        let Some(mobile) = self.user(user).map(|u| u.spec.mobile.clone()) else {
            return;
        };
        let on_call = self.calls.get(&key).is_some_and(|c| {
            c.legs
                .iter()
                .any(|l| l.user == user && matches!(l.state, LegState::Connected | LegState::Held))
        });
        if !on_call {
            return;
        }
        if let Some(call) = self.calls.get_mut(&key) {
            call.mobile = Some(mobile);
        }
        self.drop_leg(key, user, false);
        self.emit_all(key);
        self.after_user_free(user);
    }
}
