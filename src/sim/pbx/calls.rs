//! The life of a call once it exists: timers firing, legs added, rung, answered, dropped and
//! reported, after-call work, park and unpark, and calls a user dials.

use std::cmp::Reverse;

use rand::Rng;
use rand::seq::IndexedRandom;

use super::{
    Call, CallKey, CallKind, Caller, Change, FarParty, LegState, Line, ParkLeg, Pbx, QueueId,
    Timer, UserId, UserLeg, next_id,
};
use crate::sim::site::TrunkKind;

/// `CallLost.reason` for normal clearing.
pub(super) const NORMAL: i32 = 16;

/// The party a call answered by a group's voicemail shows as connected.
pub(super) const VOICEMAIL_PARTY: &str = "VoiceMail";

/// How long a user's own line rings before the call goes to voicemail.
const USER_NO_ANSWER_MS: u64 = 15_000;

/// How long a user lets an unanswered outbound call ring before giving up.
const GIVE_UP_MS: u64 = 30_000;

impl Pbx {
    pub(super) fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Arrival(q) => self.on_arrival(q),
            Timer::Direct(kind) => self.on_direct(kind),
            Timer::Answer(c, u, e) if self.epoch_is(c, e) => self.answer(c, u),
            Timer::RingTimeout(c, e) if self.epoch_is(c, e) => self.ring_timeout(c),
            Timer::HangUp(c, e) if self.epoch_is(c, e) => self.hang_up(c),
            Timer::FarAnswer(c, e) if self.epoch_is(c, e) => self.far_answer(c),
            Timer::GiveUp(c, e) if self.epoch_is(c, e) => {
                let caller = self
                    .calls
                    .get(&c)
                    .and_then(|call| call.legs.first())
                    .map(|l| l.user);
                self.end_call(c, caller, false);
            }
            Timer::Abandon(c) => self.abandon(c),
            Timer::Overflow(c, seq) if self.routing_is(c, seq) => self.overflow(c),
            Timer::Voicemail(c, seq) if self.routing_is(c, seq) => self.divert_to_voicemail(c),
            Timer::VoicemailEnd(c) => self.voicemail_end(c),
            Timer::AcwEnd(u, e) => self.acw_end(u, e),
            Timer::Churn => self.churn(),
            Timer::ParkedHangUp(c, e) if self.epoch_is(c, e) => {
                if self.calls.get(&c).is_some_and(|call| call.park.is_some()) {
                    self.end_call(c, None, false);
                }
            }
            Timer::Park(c, e) if self.epoch_is(c, e) => self.park_connected(c),
            Timer::Unpark(c, e) if self.epoch_is(c, e) => self.unpark(c),
            Timer::Ec500Answer(c, u, e) if self.epoch_is(c, e) => self.ec500_answer(c, u),
            Timer::FailedEnd(c, u) => self.failed_end(c, u),
            Timer::Answer(..)
            | Timer::Park(..)
            | Timer::Unpark(..)
            | Timer::ParkedHangUp(..)
            | Timer::Overflow(..)
            | Timer::Voicemail(..)
            | Timer::Ec500Answer(..)
            | Timer::RingTimeout(..)
            | Timer::HangUp(..)
            | Timer::FarAnswer(..)
            | Timer::GiveUp(..) => {}
        }
    }

    fn epoch_is(&self, call: CallKey, epoch: u32) -> bool {
        self.calls.get(&call).is_some_and(|c| c.epoch == epoch)
    }

    // ---------------------------------------------------------------------------------------
    // Appearances, answer and clearing

    /// Reports a change of the call's appearance on the group line that reports it.
    pub(super) fn emit_queue_leg(&mut self, key: CallKey) {
        let Some(report) = self.calls.get(&key).and_then(|c| c.report.as_ref()) else {
            return;
        };
        let (q, callid) = (report.queue, report.callid);
        self.emit(Change::Call {
            line: Line::Queue(q),
            call: key,
            callid,
        });
    }

    pub(super) fn emit_user_leg(&mut self, key: CallKey, user: UserId) {
        let Some(leg) = self
            .calls
            .get(&key)
            .and_then(|c| c.legs.iter().find(|l| l.user == user))
        else {
            return;
        };
        let callid = leg.callid;
        self.emit(Change::Call {
            line: Line::User(user),
            call: key,
            callid,
        });
    }

    /// Removes a user's appearance of a call (reported as CallLost on the user's line).
    pub(super) fn drop_leg(&mut self, key: CallKey, user: UserId, this_end_dropped: bool) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let Some(pos) = call.legs.iter().position(|l| l.user == user) else {
            return;
        };
        let leg = call.legs.remove(pos);
        if let Some(u) = self.user_mut(user) {
            u.legs.retain(|(_, k)| *k != key);
        }
        self.emit(Change::CallLost {
            line: Line::User(user),
            call: key,
            callid: leg.callid,
            reason: NORMAL,
            this_end_dropped,
        });
        self.touch_user(user);
    }

    /// `user` answers the ringing call: it connects there, stops ringing anywhere else, and
    /// leaves its group's queue.
    pub(super) fn answer(&mut self, key: CallKey, user: UserId) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if !call
            .legs
            .iter()
            .any(|l| l.user == user && l.state == LegState::Ringing)
        {
            return;
        }
        call.epoch += 1;
        let epoch = call.epoch;
        let others: Vec<UserId> = call
            .legs
            .iter()
            .filter(|l| l.user != user && l.state == LegState::Ringing)
            .map(|l| l.user)
            .collect();
        let mut connected: Vec<UserId> = Vec::new();
        for leg in &mut call.legs {
            if leg.user == user || leg.state == LegState::Ringback {
                leg.state = LegState::Connected;
                connected.push(leg.user);
            }
        }
        let kind = call.kind;
        let now = self.now_ms;
        let mut queue_done = None;
        if let Some(leg) = call.queue.as_mut().filter(|l| !l.answered) {
            leg.answered = true;
            queue_done = Some((leg.queue, leg.priority, leg.arrived));
        }
        for o in &others {
            self.drop_leg(key, *o, false);
        }
        if let Some((q, prio, arrived)) = queue_done
            && let Some(queue) = self.queue_mut(q)
        {
            queue.waiting.remove(&(Reverse(prio), arrived, key));
            queue.counters.answered += 1;
            if now.saturating_sub(arrived) <= 20_000 {
                queue.counters.answered_in_20s += 1;
            }
        }
        for u in &connected {
            self.hold_others(*u, Some(key));
            self.emit_user_leg(key, *u);
            self.touch_user(*u);
        }
        self.emit_queue_leg(key);
        let talk = if kind == CallKind::Queue {
            self.draw_ms(&self.traffic.talk.clone())
        } else {
            self.draw_ms(&self.traffic.direct_talk.clone())
        };
        self.schedule_in(talk, Timer::HangUp(key, epoch));
        if kind == CallKind::DirectIn && self.rng.random_bool(self.traffic.park_chance) {
            // Parked for a colleague some way into the conversation (before it would end).
            let at = self.rng.random_range(0..talk.max(1));
            self.schedule_in(at, Timer::Park(key, epoch));
        }
        for o in others {
            self.after_user_free(o);
        }
    }

    /// The call is over for everybody: every appearance is lost. Agents who were connected to a
    /// group call go into after-call work when `acw` is set.
    pub(super) fn end_call(&mut self, key: CallKey, dropped_by: Option<UserId>, acw: bool) {
        let Some(call) = self.calls.remove(&key) else {
            return;
        };
        let mut freed = Vec::new();
        for leg in &call.legs {
            if let Some(u) = self.user_mut(leg.user) {
                u.legs.retain(|(_, k)| *k != key);
            }
            self.emit(Change::CallLost {
                line: Line::User(leg.user),
                call: key,
                callid: leg.callid,
                reason: NORMAL,
                this_end_dropped: dropped_by == Some(leg.user),
            });
            if acw && leg.handled() && call.kind == CallKind::Queue {
                self.start_acw(leg.user);
            }
            self.touch_user(leg.user);
            freed.push(leg.user);
        }
        if let Some(leg) = &call.queue
            && let Some(q) = self.queue_mut(leg.queue)
        {
            q.waiting.remove(&(Reverse(leg.priority), leg.arrived, key));
        }
        if let Some(report) = &call.report {
            if let Some(q) = self.queue_mut(report.queue) {
                q.appearances.remove(&report.callid);
            }
            self.emit(Change::CallLost {
                line: Line::Queue(report.queue),
                call: key,
                callid: report.callid,
                reason: NORMAL,
                this_end_dropped: false,
            });
        }
        if let Some(p) = &call.park {
            self.vacate_slot(key, p);
        }
        for u in freed {
            self.after_user_free(u);
        }
    }

    /// The talk is over: the agent or the far end hangs up.
    fn hang_up(&mut self, key: CallKey) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let users: Vec<UserId> = call.legs.iter().map(|l| l.user).collect();
        let far_end = call.far.is_some();
        // The far end and each user are equally likely to hang up first.
        let choices = users.len() + usize::from(far_end);
        let pick = self.rng.random_range(0..choices.max(1));
        let dropped_by = users.get(pick).copied();
        self.end_call(key, dropped_by, true);
    }

    pub(super) fn start_acw(&mut self, user: UserId) {
        let ms = self.draw_ms(&self.traffic.acw.clone());
        let until = self.now_ms + ms;
        let Some(u) = self.user_mut(user) else {
            return;
        };
        u.acw_until = Some(until);
        u.epoch += 1;
        let epoch = u.epoch;
        self.schedule_at(until, Timer::AcwEnd(user, epoch));
    }

    pub(super) fn acw_end(&mut self, user: UserId, epoch: u32) {
        let Some(u) = self.user_mut(user) else {
            return;
        };
        if u.epoch != epoch {
            return;
        }
        u.acw_until = None;
        self.touch_user(user);
        self.after_user_free(user);
    }

    /// A user may have become free: offer them the calls of their groups (and of the groups
    /// that overflow into those).
    pub(super) fn after_user_free(&mut self, user: UserId) {
        if !self.user_free(user) {
            return;
        }
        let Some(u) = self.user(user) else {
            return;
        };
        let mut queues: Vec<QueueId> = u.queues.clone();
        for q in &u.queues {
            if let Some(queue) = self.queue(*q) {
                queues.extend(queue.overflow_from.iter().copied());
            }
        }
        queues.sort();
        queues.dedup();
        for q in queues {
            if !self.user_free(user) {
                break;
            }
            self.route(q);
        }
    }

    /// Takes a user out of a call: a ringing group call goes back to queueing, anything else
    /// ends.
    pub(super) fn withdraw_user_from_call(&mut self, key: CallKey, user: UserId) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let ringing_group_call = call.queue.as_ref().is_some_and(|l| !l.answered)
            && call
                .legs
                .iter()
                .any(|l| l.user == user && l.state == LegState::Ringing);
        if ringing_group_call {
            let q = call.queue.as_ref().map(|l| l.queue);
            if let Some(call) = self.calls.get_mut(&key) {
                call.epoch += 1;
            }
            self.drop_leg(key, user, false);
            self.emit_queue_leg(key);
            if let Some(q) = q {
                self.route(q);
            }
        } else {
            self.end_call(key, Some(user), false);
        }
    }

    /// The user parks the connected call in a free slot; a colleague picks it up later.
    fn park_connected(&mut self, key: CallKey) {
        let occupied = &self.park;
        let Some(slot) = self
            .park_slots
            .iter()
            .find(|s| !occupied.contains_key(*s))
            .cloned()
        else {
            return;
        };
        if self.calls.get(&key).is_none_or(|c| c.park.is_some()) {
            return;
        }
        let by = self
            .calls
            .get(&key)
            .and_then(|c| c.legs.first())
            .map(|l| l.user);
        let epoch = self.park_call(key, &slot, by);
        let wait = self.draw_ms(&self.traffic.parked_for.clone());
        self.schedule_in(wait, Timer::Unpark(key, epoch));
    }

    /// Puts the call in park slot `slot` (free, checked by the caller): it leaves every user
    /// and its group's routing, and appears on the park server. Returns the call's new epoch.
    pub(super) fn park_call(&mut self, key: CallKey, slot: &str, by: Option<UserId>) -> u32 {
        self.leave_routing(key);
        let Some(call) = self.calls.get_mut(&key) else {
            return 0;
        };
        call.epoch += 1;
        let epoch = call.epoch;
        let users: Vec<(UserId, bool)> = call.legs.iter().map(|l| (l.user, l.handled())).collect();
        let callid = next_id(&mut self.park_next_callid);
        if let Some(call) = self.calls.get_mut(&key) {
            call.park = Some(super::ParkLeg {
                slot: slot.to_string(),
                callid,
            });
        }
        self.park.insert(slot.to_string(), key);
        for (u, _) in &users {
            self.drop_leg(key, *u, by == Some(*u));
        }
        self.emit(Change::Call {
            line: Line::Park,
            call: key,
            callid,
        });
        self.emit_queue_leg(key);
        let queue_call = self
            .calls
            .get(&key)
            .is_some_and(|c| c.kind == CallKind::Queue);
        for (u, talked) in users {
            if talked && queue_call {
                self.start_acw(u);
            }
            self.after_user_free(u);
        }
        epoch
    }

    /// A free colleague picks the parked call up; with nobody free, the caller gives up.
    fn unpark(&mut self, key: CallKey) {
        if self.calls.get(&key).is_none_or(|c| c.park.is_none()) {
            return;
        }
        let free: Vec<UserId> = self
            .direct_users
            .iter()
            .copied()
            .filter(|u| self.user_free(*u))
            .collect();
        let Some(&user) = free.choose(&mut self.rng) else {
            self.end_call(key, None, false);
            return;
        };
        self.unpark_to(key, user, 0);
    }

    /// The call leaves its park slot: the slot is free and the park server's appearance ends.
    pub(super) fn vacate_slot(&mut self, key: CallKey, park: &ParkLeg) {
        self.park.remove(&park.slot);
        self.emit(Change::CallLost {
            line: Line::Park,
            call: key,
            callid: park.callid,
            reason: NORMAL,
            this_end_dropped: false,
        });
    }

    /// The parked call leaves its slot and connects at `user` (direction PICKUP), carrying the
    /// application's `reference`; the user's other connected call goes on hold.
    pub(super) fn unpark_to(&mut self, key: CallKey, user: UserId, reference: i32) {
        let Some(park) = self.calls.get(&key).and_then(|c| c.park.clone()) else {
            return;
        };
        let epoch = match self.calls.get_mut(&key) {
            Some(call) => {
                call.park = None;
                call.epoch += 1;
                call.epoch
            }
            None => return,
        };
        self.vacate_slot(key, &park);
        self.hold_others(user, Some(key));
        self.add_leg(key, user, LegState::Connected, None);
        if let Some(leg) = self.leg_mut(key, user) {
            leg.pickup = true;
            leg.reference = reference;
        }
        self.emit_queue_leg(key);
        let talk = self.draw_ms(&self.traffic.direct_talk.clone());
        self.schedule_in(talk, Timer::HangUp(key, epoch));
    }

    // ---------------------------------------------------------------------------------------
    // Legs at users, and calls users dial

    /// Adds an appearance of the call on `user`'s line; returns its callid.
    pub(super) fn add_leg(
        &mut self,
        key: CallKey,
        user: UserId,
        state: LegState,
        peer: Option<UserId>,
    ) -> i32 {
        let Some(u) = self.user_mut(user) else {
            return 0;
        };
        let callid = next_id(&mut u.next_callid);
        u.legs.push((callid, key));
        if let Some(call) = self.calls.get_mut(&key) {
            let mut leg = UserLeg::new(user, callid, state);
            leg.peer = peer;
            call.legs.push(leg);
        }
        self.emit(Change::Call {
            line: Line::User(user),
            call: key,
            callid,
        });
        self.touch_user(user);
        callid
    }

    /// Rings the user; they answer after a while, or the call goes to voicemail.
    pub(super) fn ring_user(&mut self, key: CallKey, user: UserId) {
        let epoch = self.calls.get(&key).map_or(0, |c| c.epoch);
        if !self.rng.random_bool(self.traffic.no_answer_chance) {
            let delay = self.draw_ms(&self.traffic.answer_delay.clone());
            if delay < USER_NO_ANSWER_MS {
                self.schedule_in(delay, Timer::Answer(key, user, epoch));
            }
        }
        self.schedule_in(USER_NO_ANSWER_MS, Timer::RingTimeout(key, epoch));
    }

    /// `user` calls an outside number: ringback until the far end answers (or not).
    pub(super) fn dial_out(&mut self, user: UserId, callee: Caller) -> Option<CallKey> {
        let dialled = callee.number.clone();
        let far = FarParty {
            caller: callee,
            trunk: TrunkKind::Sip,
            did: String::new(),
        };
        let key = self.new_call(Call::new(CallKind::DirectOut, Some(far), dialled));
        if self.add_leg(key, user, LegState::Ringback, None) == 0 {
            self.calls.remove(&key);
            return None;
        }
        if self.rng.random_bool(self.traffic.outbound_answer_chance) {
            let ms = self.rng.random_range(4_000..=20_000);
            self.schedule_in(ms, Timer::FarAnswer(key, 0));
        } else {
            self.schedule_in(GIVE_UP_MS, Timer::GiveUp(key, 0));
        }
        Some(key)
    }

    fn far_answer(&mut self, key: CallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.epoch += 1;
        let epoch = call.epoch;
        let mut users = Vec::new();
        for leg in &mut call.legs {
            if leg.state == LegState::Ringback {
                leg.state = LegState::Connected;
                users.push(leg.user);
            }
        }
        for u in users {
            self.emit_user_leg(key, u);
            self.touch_user(u);
        }
        let talk = self.draw_ms(&self.traffic.direct_talk.clone());
        self.schedule_in(talk, Timer::HangUp(key, epoch));
    }

    /// `from` calls `to`, who rings; returns the call.
    pub(super) fn new_internal(&mut self, from: UserId, to: UserId) -> Option<CallKey> {
        let dialled = self.user(to).map(|u| u.spec.extn.clone())?;
        let key = self.new_call(Call::new(CallKind::Internal, None, dialled));
        self.add_leg(key, from, LegState::Ringback, Some(to));
        self.add_leg(key, to, LegState::Ringing, Some(from));
        self.ring_user(key, to);
        Some(key)
    }
}
