//! The functions by which a user starts a call on their own line: MakeCall (dial, intrude,
//! pick up) and UnParkCall, with the failures the document lists for them.

use super::functions::{MAX_APPEARANCES, known_code};
use super::{Call, CallKey, CallKind, Caller, LegState, Pbx, Timer, User, UserId};
use crate::protocol::cmd::MakeCallType;
use crate::protocol::codes::ResultCode;
use crate::protocol::pb;
use crate::sim::site::is_park_slot;

/// How long a failed call, or a phone left off hook at dial tone, stays before it clears.
const FAILED_CLEARS_MS: u64 = 10_000;

impl Pbx {
    /// The user, when their phone can start a call: logged on and working.
    fn phone_of(&self, user: UserId) -> Result<&User, ResultCode> {
        let u = self.user(user).ok_or(ResultCode::UserNotFound)?;
        if u.spec.logged_off {
            return Err(ResultCode::NoPhone);
        }
        if u.spec.extn_fault {
            return Err(ResultCode::ExtnFault);
        }
        Ok(u)
    }

    /// A failed call, or a phone left at dial tone, clears by itself.
    pub(super) fn failed_end(&mut self, key: CallKey, user: UserId) {
        let stuck = self.calls.get(&key).is_some_and(|c| {
            c.legs
                .iter()
                .any(|l| l.user == user && matches!(l.state, LegState::Failed | LegState::Dialtone))
        });
        if stuck {
            self.end_call(key, None, false);
        }
    }

    /// MakeCall from `user` (see the module documentation for the codes).
    pub(super) fn make_call(
        &mut self,
        user: UserId,
        reference: i32,
        mc: &pb::MakeCall,
    ) -> ResultCode {
        let u = match self.phone_of(user) {
            Ok(u) => u,
            Err(code) => return code,
        };
        if u.legs.len() >= MAX_APPEARANCES {
            return ResultCode::MaxCalls;
        }
        let Some(kind) = MakeCallType::from_code(mc.r#type) else {
            return ResultCode::BadFormatting;
        };
        let adv = mc.advanced.clone().unwrap_or_default();
        if adv.tag.chars().count() > 127 || adv.accountcode.chars().count() > 15 {
            return ResultCode::BadFormatting;
        }
        if adv.authcode.chars().count() > 15 {
            return ResultCode::BadFormatting;
        }
        if !known_code(&self.account_codes, &adv.accountcode) {
            return ResultCode::BadAcct;
        }
        if !known_code(&self.auth_codes, &adv.authcode) {
            return ResultCode::BadAuth;
        }
        let target = mc.target.trim();
        let made = match kind {
            MakeCallType::Page | MakeCallType::MeetMe => return ResultCode::Unsupported,
            MakeCallType::Intrude => return self.intrude(user, reference, target),
            MakeCallType::Pickup => return self.pickup(user, reference, target),
            MakeCallType::Normal | MakeCallType::CampOn => self.dial(user, target, false),
            MakeCallType::ForceFeed => self.dial(user, target, true),
        };
        if let Some(call) = self.calls.get_mut(&made) {
            call.tag = adv.tag;
            call.account = adv.accountcode;
            call.auth = adv.authcode;
            if let Some(leg) = call.legs.iter_mut().find(|l| l.user == user) {
                leg.reference = reference;
            }
        }
        self.emit_all(made);
        ResultCode::Success
    }

    /// A user's own call to `target`: a colleague (rings, or answers at once with force-feed),
    /// a group (queues there), an outside number (`0` and at least 5 more digits), nothing
    /// (dial tone), or a number nobody has (a FAILED call).
    pub(super) fn dial(&mut self, user: UserId, target: &str, force_answer: bool) -> CallKey {
        self.hold_others(user, None);
        if target.is_empty() {
            return self.stuck_call(user, target, LegState::Dialtone);
        }
        if let Some(to) = self.user_by_extn(target).filter(|t| *t != user) {
            let reachable = self
                .user(to)
                .is_some_and(|t| !t.spec.logged_off && !t.spec.extn_fault);
            if !reachable {
                return self.stuck_call(user, target, LegState::Failed);
            }
            let key = self.new_call(Call::new(CallKind::Internal, None, target.to_string()));
            self.add_leg(key, user, LegState::Ringback, Some(to));
            self.add_leg(key, to, LegState::Ringing, Some(user));
            if force_answer {
                self.answer(key, to);
            } else {
                self.ring_user(key, to);
            }
            return key;
        }
        if let Some(q) = self.queue_by_extn(target)
            && self.queue_accepts(q)
        {
            let key = self.new_call(Call::new(CallKind::Queue, None, target.to_string()));
            self.add_leg(key, user, LegState::Ringback, None);
            let now = self.now_ms;
            let patience = self.draw_ms(&self.traffic.patience.clone());
            self.schedule_in(patience, Timer::Abandon(key));
            self.enter_queue(key, q, 1, now);
            return key;
        }
        let outside = target.len() >= 6
            && target.starts_with('0')
            && target.bytes().all(|b| b.is_ascii_digit());
        if outside && let Some(key) = self.dial_out(user, Caller::new(target, "")) {
            return key;
        }
        let failed = self.stuck_call(user, target, LegState::Failed);
        if let Some(leg) = self.leg_mut(failed, user) {
            leg.cause = pb::call_info::FailedCause::Unallocatednumber;
        }
        failed
    }

    /// A call that goes nowhere (dial tone, or failed): only its maker sees it, until dropped
    /// or cleared after a while.
    pub(super) fn stuck_call(&mut self, user: UserId, target: &str, state: LegState) -> CallKey {
        let key = self.new_call(Call::new(CallKind::DirectOut, None, target.to_string()));
        self.add_leg(key, user, state, None);
        if let Some(leg) = self.leg_mut(key, user) {
            leg.outbound = true;
            leg.cause = pb::call_info::FailedCause::Numberooo;
        }
        self.schedule_in(FAILED_CLEARS_MS, Timer::FailedEnd(key, user));
        key
    }

    /// MakeCall type 106: `user` joins the connected call of the user at `target`; every party
    /// then sees the others as conference members.
    pub(super) fn intrude(&mut self, user: UserId, reference: i32, target: &str) -> ResultCode {
        let Some(agent) = self.user_by_extn(target).filter(|a| *a != user) else {
            return ResultCode::TargetNotFound;
        };
        let Some(key) = self.user(agent).and_then(|a| {
            a.legs.iter().map(|(_, k)| *k).find(|k| {
                self.calls.get(k).is_some_and(|c| {
                    c.legs
                        .iter()
                        .any(|l| l.user == agent && l.state == LegState::Connected)
                })
            })
        }) else {
            return ResultCode::TargetNotFound;
        };
        let Some(call) = self.calls.get(&key) else {
            return ResultCode::TargetNotFound;
        };
        if call.legs.iter().any(|l| l.private) {
            return ResultCode::Permission;
        }
        if call.legs.iter().any(|l| l.user == user) {
            return ResultCode::InvalidCallState;
        }
        self.hold_others(user, Some(key));
        self.add_leg(key, user, LegState::Connected, Some(agent));
        if let Some(leg) = self.leg_mut(key, user) {
            leg.outbound = true;
            leg.reference = reference;
            leg.called = Some(target.to_string());
        }
        self.emit_all(key);
        ResultCode::Success
    }

    /// MakeCall type 108: the call ringing at `target` is answered at `user` instead.
    pub(super) fn pickup(&mut self, user: UserId, reference: i32, target: &str) -> ResultCode {
        let Some(ringing) = self.user_by_extn(target).filter(|t| *t != user) else {
            return ResultCode::TargetNotFound;
        };
        let found = self.user(ringing).and_then(|t| {
            t.legs.iter().map(|(_, k)| *k).find_map(|k| {
                let leg = self
                    .calls
                    .get(&k)?
                    .legs
                    .iter()
                    .find(|l| l.user == ringing && l.state == LegState::Ringing)?;
                Some((k, leg.peer))
            })
        });
        let Some((key, peer)) = found else {
            return ResultCode::TargetNotFound;
        };
        self.add_leg(key, user, LegState::Ringing, peer);
        if let Some(leg) = self.leg_mut(key, user) {
            leg.pickup = true;
            leg.reference = reference;
        }
        // Answering here stops the ringing everywhere else, the picked-up phone included.
        self.answer(key, user);
        ResultCode::Success
    }

    /// UnParkCall to `user` from `slot` (see the module documentation for the codes).
    pub(super) fn unpark_call(&mut self, user: UserId, reference: i32, slot: &str) -> ResultCode {
        if !is_park_slot(slot) {
            return ResultCode::BadFormatting;
        }
        if let Err(code) = self.phone_of(user) {
            return code;
        }
        let Some(&key) = self.park.get(slot) else {
            return ResultCode::TargetNotFound;
        };
        self.unpark_to(key, user, reference);
        ResultCode::Success
    }
}
