//! Hunt-group routing: a call entering a group, being offered to its free members by ring
//! mode, ringing out, overflowing, abandoning and going to voicemail.

use std::cmp::Reverse;

use rand::Rng;

use super::calls::VOICEMAIL_PARTY;
use super::{
    Call, CallKey, CallKind, Change, FarParty, LegState, Line, Pbx, QueueId, QueueLeg, Report,
    Timer, UserId, next_id,
};
use crate::protocol::cmd::ServiceMode;
use crate::sim::site::RingMode;

impl Pbx {
    /// Whether the call is still routed by the group it entered at routing generation `seq`.
    pub(super) fn routing_is(&self, call: CallKey, seq: u32) -> bool {
        self.calls
            .get(&call)
            .and_then(|c| c.queue.as_ref())
            .is_some_and(|l| l.seq == seq)
    }

    pub(super) fn new_queue_call(
        &mut self,
        q: QueueId,
        far: FarParty,
        priority: u8,
    ) -> Option<CallKey> {
        self.new_queue_call_aged(q, far, priority, 0)
    }

    /// A call that arrived at group `q` `age_ms` ago (0: now), as if it had waited since.
    pub(super) fn new_queue_call_aged(
        &mut self,
        q: QueueId,
        far: FarParty,
        priority: u8,
        age_ms: u64,
    ) -> Option<CallKey> {
        if !self.queue_accepts(q) {
            // Night service or out of service with no voicemail: the call goes elsewhere and is
            // never seen on this group.
            return None;
        }
        let dialled = far.did.clone();
        let key = self.new_call(Call::new(CallKind::Queue, Some(far), dialled));
        let patience = self.draw_ms(&self.traffic.patience.clone());
        self.schedule_in(patience.saturating_sub(age_ms).max(1), Timer::Abandon(key));
        self.enter_queue(key, q, priority, self.now_ms.saturating_sub(age_ms));
        Some(key)
    }

    /// Whether a call sent to group `q` is taken there: routed to members (Active) or answered
    /// by the group's voicemail.
    pub(super) fn queue_accepts(&self, q: QueueId) -> bool {
        self.queue(q)
            .is_some_and(|queue| queue.service_mode == ServiceMode::Active || queue.voicemail)
    }

    /// The call enters group `q`'s routing (arrival, or a BlindTransfer there). It is reported
    /// on `q` unless another group reports it already. The caller checks `queue_accepts`.
    pub(super) fn enter_queue(&mut self, key: CallKey, q: QueueId, priority: u8, arrived: u64) {
        let Some(queue) = self.queue(q) else {
            return;
        };
        let active = queue.service_mode == ServiceMode::Active;
        let voicemail = queue.voicemail;
        let overflow_after = queue.overflow.map(|(_, after)| after);
        let voicemail_after = u64::from(queue.voicemail_time) * 1000;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let seq = call.queue.as_ref().map_or(0, |l| l.seq.wrapping_add(1));
        call.queue = Some(QueueLeg {
            queue: q,
            priority,
            arrived,
            overflow: false,
            tried: Vec::new(),
            answered: false,
            seq,
        });
        if !active {
            call.voicemail = Some(VOICEMAIL_PARTY.to_string());
        }
        let needs_report = call.report.is_none();
        if let Some(queue) = self.queue_mut(q) {
            queue.counters.arrived += 1;
            if active {
                queue.waiting.insert((Reverse(priority), arrived, key));
            }
        }
        if needs_report {
            self.report_on(key, q);
        } else {
            self.emit_queue_leg(key);
        }
        if !active {
            let ms = self.draw_ms(&self.traffic.voicemail_message.clone());
            self.schedule_in(ms, Timer::VoicemailEnd(key));
            return;
        }
        if let Some(after) = overflow_after {
            let at = (arrived + after).max(self.now_ms);
            self.schedule_at(at, Timer::Overflow(key, seq));
        }
        if voicemail {
            let at = (arrived + voicemail_after).max(self.now_ms);
            self.schedule_at(at, Timer::Voicemail(key, seq));
        }
        self.route(q);
    }

    /// Group `q` starts reporting the call: a new appearance on its line.
    pub(super) fn report_on(&mut self, key: CallKey, q: QueueId) {
        let priority = self
            .calls
            .get(&key)
            .and_then(|c| c.queue.as_ref())
            .map_or(1, |l| l.priority);
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        let callid = next_id(&mut queue.next_callid);
        queue.appearances.insert(callid, key);
        if let Some(call) = self.calls.get_mut(&key) {
            call.report = Some(Report {
                queue: q,
                callid,
                priority,
                reference: 0,
            });
        }
        self.emit(Change::Call {
            line: Line::Queue(q),
            call: key,
            callid,
        });
    }

    /// The call leaves its group's routing (it is no longer offered to members); it stays
    /// reported where it is.
    pub(super) fn leave_routing(&mut self, key: CallKey) {
        let Some(leg) = self.calls.get_mut(&key).and_then(|c| c.queue.take()) else {
            return;
        };
        if let Some(q) = self.queue_mut(leg.queue) {
            q.waiting.remove(&(Reverse(leg.priority), leg.arrived, key));
        }
    }

    /// The group's members who could take a call now, in member order.
    pub(super) fn free_members(&self, q: QueueId) -> Vec<UserId> {
        let Some(queue) = self.queue(q) else {
            return Vec::new();
        };
        if queue.service_mode != ServiceMode::Active {
            return Vec::new();
        }
        queue
            .members
            .iter()
            .filter(|m| m.enabled && self.user_free(m.user))
            .map(|m| m.user)
            .collect()
    }

    /// Offers the group's waiting calls, best first, to its free members (and, for calls that
    /// have overflowed, to the overflow group's free members).
    pub(super) fn route(&mut self, q: QueueId) {
        let Some(queue) = self.queue(q) else {
            return;
        };
        if queue.service_mode != ServiceMode::Active || queue.waiting.is_empty() {
            return;
        }
        let ring_mode = queue.ring_mode;
        let no_answer_ms = u64::from(queue.no_answer_time) * 1000;
        let overflow_q = queue.overflow.map(|(o, _)| o);
        let primary = self.free_members(q);
        let extra = overflow_q.map(|o| self.free_members(o)).unwrap_or_default();
        if primary.is_empty() && extra.is_empty() {
            return;
        }
        let waiting: Vec<CallKey> = queue.waiting.iter().map(|(_, _, k)| *k).collect();
        for key in waiting {
            let Some(call) = self.calls.get(&key) else {
                continue;
            };
            let Some(leg) = &call.queue else {
                continue;
            };
            if !call.legs.is_empty() || call.voicemail.is_some() || call.park.is_some() {
                continue;
            }
            let mut pool: Vec<UserId> = primary
                .iter()
                .copied()
                .filter(|u| self.user_free(*u))
                .collect();
            if leg.overflow {
                for u in &extra {
                    if self.user_free(*u) && !pool.contains(u) {
                        pool.push(*u);
                    }
                }
            }
            if pool.is_empty() {
                let anyone = primary
                    .iter()
                    .chain(extra.iter())
                    .any(|u| self.user_free(*u));
                if anyone {
                    continue;
                }
                break;
            }
            let untried: Vec<UserId> = pool
                .iter()
                .copied()
                .filter(|u| !leg.tried.contains(u))
                .collect();
            let candidates = if untried.is_empty() {
                // Everyone free has been tried: start another round.
                if let Some(leg) = self.calls.get_mut(&key).and_then(|c| c.queue.as_mut()) {
                    leg.tried.clear();
                }
                pool
            } else {
                untried
            };
            let chosen: Vec<UserId> = match ring_mode {
                RingMode::Sequential => candidates.first().copied().into_iter().collect(),
                RingMode::Group => candidates,
                RingMode::RingIdle => candidates
                    .iter()
                    .copied()
                    .min_by_key(|u| self.user(*u).map_or(u64::MAX, |u| u.idle_since))
                    .into_iter()
                    .collect(),
            };
            self.ring(key, &chosen, no_answer_ms);
        }
    }

    /// Rings `users` with the call; each answers after a while, or not at all.
    pub(super) fn ring(&mut self, key: CallKey, users: &[UserId], no_answer_ms: u64) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.epoch += 1;
        let epoch = call.epoch;
        // A colleague calling the group is the party the members see.
        let caller = call
            .far
            .is_none()
            .then(|| call.legs.iter().find(|l| l.outbound).map(|l| l.user))
            .flatten();
        for &u in users {
            // No callid: the user is gone.
            if self.add_leg(key, u, LegState::Ringing, caller) == 0 {
                continue;
            }
            if !self.rng.random_bool(self.traffic.no_answer_chance) {
                let delay = self.draw_ms(&self.traffic.answer_delay.clone());
                if delay < no_answer_ms {
                    self.schedule_in(delay, Timer::Answer(key, u, epoch));
                }
            }
        }
        self.schedule_in(no_answer_ms, Timer::RingTimeout(key, epoch));
        self.emit_queue_leg(key);
    }

    /// Nobody answered in time: a group call goes back to queueing and on to the next member;
    /// a user's own call goes to voicemail (it ends here).
    pub(super) fn ring_timeout(&mut self, key: CallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let ringing = call.ringing_users();
        let routed = call.queue.as_ref().is_some_and(|l| !l.answered);
        if !routed {
            let caller = call
                .legs
                .iter()
                .find(|l| l.state == LegState::Ringback)
                .map(|l| l.user);
            self.end_call(key, caller, false);
            return;
        }
        call.epoch += 1;
        let q = call.queue.as_mut().map(|leg| {
            leg.tried.extend(ringing.iter().copied());
            leg.queue
        });
        for u in &ringing {
            self.drop_leg(key, *u, false);
        }
        self.emit_queue_leg(key);
        if let Some(q) = q {
            self.route(q);
        }
        for u in ringing {
            self.after_user_free(u);
        }
    }

    pub(super) fn abandon(&mut self, key: CallKey) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let Some(leg) = call.queue.as_ref() else {
            return;
        };
        if leg.answered || call.voicemail.is_some() {
            return;
        }
        let q = leg.queue;
        if let Some(queue) = self.queue_mut(q) {
            queue.counters.abandoned += 1;
        }
        self.end_call(key, None, false);
    }

    pub(super) fn overflow(&mut self, key: CallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let in_voicemail = call.voicemail.is_some();
        let Some(leg) = call.queue.as_mut() else {
            return;
        };
        if leg.answered || in_voicemail || leg.overflow {
            return;
        }
        leg.overflow = true;
        let q = leg.queue;
        if let Some(queue) = self.queue_mut(q) {
            queue.counters.overflowed += 1;
        }
        self.emit_queue_leg(key);
        self.route(q);
    }

    pub(super) fn divert_to_voicemail(&mut self, key: CallKey) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        let Some(leg) = &call.queue else {
            return;
        };
        if leg.answered || call.voicemail.is_some() || call.park.is_some() {
            return;
        }
        let q = leg.queue;
        if !self.queue(q).is_some_and(|q| q.voicemail) {
            return;
        }
        let ringing: Vec<UserId> = call.legs.iter().map(|l| l.user).collect();
        for u in &ringing {
            self.drop_leg(key, *u, false);
        }
        let mut entry = None;
        if let Some(call) = self.calls.get_mut(&key) {
            call.epoch += 1;
            call.voicemail = Some(VOICEMAIL_PARTY.to_string());
            if let Some(leg) = call.queue.as_ref() {
                entry = Some((Reverse(leg.priority), leg.arrived, key));
            }
        }
        if let (Some(entry), Some(queue)) = (entry, self.queue_mut(q)) {
            queue.waiting.remove(&entry);
        }
        self.emit_queue_leg(key);
        let ms = self.draw_ms(&self.traffic.voicemail_message.clone());
        self.schedule_in(ms, Timer::VoicemailEnd(key));
        for u in ringing {
            self.after_user_free(u);
        }
    }

    /// The caller finishes leaving a message (or a call flow ends) and hangs up.
    pub(super) fn voicemail_end(&mut self, key: CallKey) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        if call.voicemail.is_none() {
            return;
        }
        if let Some(q) = call.queue.as_ref().map(|l| l.queue) {
            if let Some(queue) = self.queue_mut(q) {
                queue.mailbox.new += 1;
                queue.counters.voicemail += 1;
            }
            self.emit(Change::QueueConfig(q));
        }
        self.end_call(key, None, false);
    }
}
