//! The life of calls: arrivals, routing by ring mode, ringing, answer, talk, after-call work,
//! abandon, overflow, voicemail, and the users' own direct and internal calls.

use std::cmp::Reverse;

use rand::Rng;
use rand::seq::IndexedRandom;

use super::{
    Call, CallKey, CallKind, Caller, Change, DirectKind, FarParty, LegState, Line, Pbx, QueueId,
    QueueLeg, Report, Timer, UserId, UserLeg, next_id,
};
use crate::sim::site::{RingMode, ServiceMode, TrunkKind};

/// `CallLost.reason` for normal clearing.
pub(super) const NORMAL: i32 = 16;

/// The party a call answered by a group's voicemail shows as connected.
pub(super) const VOICEMAIL_PARTY: &str = "VoiceMail";

/// How long a user's own line rings before the call goes to voicemail.
const USER_NO_ANSWER_MS: u64 = 15_000;

/// How long a user lets an unanswered outbound call ring before giving up.
const GIVE_UP_MS: u64 = 30_000;

const COMPANIES: &[&str] = &[
    "Harbour Freight Ltd",
    "Pennine Haulage",
    "Greenway Dental",
    "Castle Lettings",
    "Northgate Motors",
    "Riverside Bakery",
    "Kestrel Logistics",
    "Bramley & Sons",
    "Quayside Florists",
    "Wexford Plumbing",
];

const PEOPLE: &[&str] = &[
    "Ellery Quist",
    "Priya Raman",
    "Tom Hadley",
    "Agnieszka Nowak",
    "Samuel Adeyemi",
    "Hannah Brooks",
    "Yusuf Demir",
    "Chloe Martin",
    "Oliver Grant",
    "Mei Lin",
    "Rosa Ferreira",
    "Declan Murphy",
];

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

    /// Whether the call is still routed by the group it entered at routing generation `seq`.
    fn routing_is(&self, call: CallKey, seq: u32) -> bool {
        self.calls
            .get(&call)
            .and_then(|c| c.queue.as_ref())
            .is_some_and(|l| l.seq == seq)
    }

    // ---------------------------------------------------------------------------------------
    // Arrivals: a Poisson process per group, thinned by the daily curve

    /// An exponential gap (ms) for `per_hour` events per hour.
    fn exp_gap_ms(&mut self, per_hour: f64) -> u64 {
        let u: f64 = self.rng.random();
        let secs = -(1.0 - u).ln() * 3600.0 / per_hour;
        // At least 1 ms so two arrivals never share an instant; capped to stay finite.
        (secs * 1000.0).clamp(1.0, 1.0e12) as u64
    }

    pub(super) fn schedule_arrival(&mut self, q: QueueId) {
        let Some(queue) = self.queue(q) else {
            return;
        };
        let peak = queue.calls_per_hour * self.traffic.curve.max();
        if peak > 0.0 {
            let gap = self.exp_gap_ms(peak);
            self.schedule_in(gap, Timer::Arrival(q));
        }
    }

    fn curve_accepts(&mut self) -> bool {
        let max = self.traffic.curve.max();
        let here = self.traffic.curve.at(self.time_of_day());
        let u: f64 = self.rng.random();
        u * max < here
    }

    fn on_arrival(&mut self, q: QueueId) {
        let Some(queue) = self.queue(q) else {
            return;
        };
        let (trunk, did) = (queue.trunk, queue.did.clone());
        self.schedule_arrival(q);
        if !self.curve_accepts() {
            return;
        }
        let caller = self.random_caller();
        let priority = self.random_priority();
        self.new_queue_call(q, FarParty { caller, trunk, did }, priority);
    }

    fn random_priority(&mut self) -> u8 {
        let w = self.traffic.priority_weights;
        let total: f64 = w.iter().sum();
        let mut x = self.rng.random::<f64>() * total;
        for (i, wi) in w.iter().enumerate() {
            if x < *wi {
                return i as u8 + 1;
            }
            x -= wi;
        }
        1
    }

    /// A caller from the ranges reserved for drama (Ofcom): 01632 960xxx, 020 7946 0xxx and
    /// 07700 900xxx, so no real number is ever shown.
    fn random_caller(&mut self) -> Caller {
        if self.rng.random_bool(self.traffic.withheld_chance) {
            return Caller {
                number: String::new(),
                name: String::new(),
                withheld: true,
            };
        }
        let n: u32 = self.rng.random_range(0..1000);
        let number = match self.rng.random_range(0..3) {
            0 => format!("01632960{n:03}"),
            1 => format!("0207946{:04}", n),
            _ => format!("07700900{n:03}"),
        };
        let name = if self.rng.random_bool(self.traffic.named_caller_chance) {
            let list = if number.starts_with("077") {
                PEOPLE
            } else {
                COMPANIES
            };
            list.choose(&mut self.rng).copied().unwrap_or_default()
        } else {
            ""
        };
        Caller::new(&number, name)
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

    // ---------------------------------------------------------------------------------------
    // Routing

    /// The group's members who could take a call now, in member order.
    fn free_members(&self, q: QueueId) -> Vec<UserId> {
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
    fn ring(&mut self, key: CallKey, users: &[UserId], no_answer_ms: u64) {
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
            let Some(user) = self.user_mut(u) else {
                continue;
            };
            let callid = next_id(&mut user.next_callid);
            user.legs.push((callid, key));
            if let Some(call) = self.calls.get_mut(&key) {
                let mut leg = UserLeg::new(u, callid, LegState::Ringing);
                leg.peer = caller;
                call.legs.push(leg);
            }
            self.emit(Change::Call {
                line: Line::User(u),
                call: key,
                callid,
            });
            self.touch_user(u);
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

    /// Nobody answered in time: a group call goes back to queueing and on to the next member;
    /// a user's own call goes to voicemail (it ends here).
    fn ring_timeout(&mut self, key: CallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let ringing: Vec<UserId> = call
            .legs
            .iter()
            .filter(|l| l.state == LegState::Ringing)
            .map(|l| l.user)
            .collect();
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
            self.park.remove(&p.slot);
            self.emit(Change::CallLost {
                line: Line::Park,
                call: key,
                callid: p.callid,
                reason: NORMAL,
                this_end_dropped: false,
            });
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

    fn abandon(&mut self, key: CallKey) {
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

    fn overflow(&mut self, key: CallKey) {
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

    fn divert_to_voicemail(&mut self, key: CallKey) {
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
    fn voicemail_end(&mut self, key: CallKey) {
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

    fn acw_end(&mut self, user: UserId, epoch: u32) {
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

    /// The parked call leaves its slot and connects at `user` (direction PICKUP), carrying the
    /// application's `reference`; the user's other connected call goes on hold.
    pub(super) fn unpark_to(&mut self, key: CallKey, user: UserId, reference: i32) {
        let Some(park) = self.calls.get(&key).and_then(|c| c.park.clone()) else {
            return;
        };
        self.park.remove(&park.slot);
        let epoch = match self.calls.get_mut(&key) {
            Some(call) => {
                call.park = None;
                call.epoch += 1;
                call.epoch
            }
            None => return,
        };
        self.emit(Change::CallLost {
            line: Line::Park,
            call: key,
            callid: park.callid,
            reason: NORMAL,
            this_end_dropped: false,
        });
        self.hold_others(user, Some(key));
        self.add_leg(key, user, LegState::Connected, None);
        if let Some(leg) = self
            .calls
            .get_mut(&key)
            .and_then(|c| c.legs.iter_mut().find(|l| l.user == user))
        {
            leg.pickup = true;
            leg.reference = reference;
        }
        self.emit_queue_leg(key);
        let talk = self.draw_ms(&self.traffic.direct_talk.clone());
        self.schedule_in(talk, Timer::HangUp(key, epoch));
    }

    // ---------------------------------------------------------------------------------------
    // Users' own calls

    pub(super) fn schedule_direct(&mut self, kind: DirectKind) {
        let per_user = match kind {
            DirectKind::In => self.traffic.direct_in_per_user_hour,
            DirectKind::Out => self.traffic.direct_out_per_user_hour,
            DirectKind::Internal => self.traffic.internal_per_user_hour,
        };
        // Sized for the site as built: users added later share the same rate.
        let users = self.direct_users.len().max(1) as f64;
        let peak = per_user * users * self.traffic.curve.max();
        if peak > 0.0 {
            let gap = self.exp_gap_ms(peak);
            self.schedule_in(gap, Timer::Direct(kind));
        }
    }

    fn on_direct(&mut self, kind: DirectKind) {
        self.schedule_direct(kind);
        if self.direct_users.is_empty() || !self.curve_accepts() {
            return;
        }
        let Some(&a) = self.direct_users.choose(&mut self.rng) else {
            return;
        };
        match kind {
            DirectKind::In => {
                if self.user_free(a) {
                    let caller = self.random_caller();
                    self.new_direct_in(a, caller);
                }
            }
            DirectKind::Out => {
                if self.user_can_dial(a) {
                    let callee = self.random_caller();
                    self.new_direct_out(a, callee);
                }
            }
            DirectKind::Internal => {
                let Some(&b) = self.direct_users.choose(&mut self.rng) else {
                    return;
                };
                if a != b && self.user_can_dial(a) && self.user_free(b) {
                    self.new_internal(a, b);
                }
            }
        }
    }

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

    fn new_direct_in(&mut self, user: UserId, caller: Caller) {
        let Some(did) = self.user(user).map(|u| u.did.clone()) else {
            return;
        };
        let far = FarParty {
            caller,
            trunk: TrunkKind::Sip,
            did: did.clone(),
        };
        let key = self.new_call(Call::new(CallKind::DirectIn, Some(far), did));
        self.add_leg(key, user, LegState::Ringing, None);
        self.ring_user(key, user);
    }

    fn new_direct_out(&mut self, user: UserId, callee: Caller) {
        if callee.withheld {
            return;
        }
        self.dial_out(user, callee);
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
        let dialled = self.user(to).map(|u| u.extn.clone())?;
        let key = self.new_call(Call::new(CallKind::Internal, None, dialled));
        self.add_leg(key, from, LegState::Ringback, Some(to));
        self.add_leg(key, to, LegState::Ringing, Some(from));
        self.ring_user(key, to);
        Some(key)
    }

    /// Tops the site up after the warm-up: calls wait in every busy group and agents ring, so
    /// a client sees every state of a call from the first second whatever the warm-up left.
    pub(super) fn liven(&mut self, waiting: usize, ringing: usize) {
        let queues: Vec<QueueId> = self
            .queues()
            .filter(|q| q.calls_per_hour > 0.0 && q.service_mode == ServiceMode::Active)
            .map(|q| q.id)
            .collect();
        self.top_up_waiting(&queues, waiting);
        self.top_up_ringing(&queues, ringing);
        // Those who now ring took waiting calls: wait again.
        self.top_up_waiting(&queues, waiting);
    }

    fn top_up_waiting(&mut self, queues: &[QueueId], waiting: usize) {
        for &q in queues {
            // Each call placed either waits or rings a free member; a few more than asked
            // for at most, so a group with many free members cannot loop for long.
            for _ in 0..waiting + 8 {
                if self
                    .queue(q)
                    .is_none_or(|queue| queue.waiting.len() >= waiting)
                {
                    break;
                }
                let Some(queue) = self.queue(q) else {
                    break;
                };
                let (trunk, did) = (queue.trunk, queue.did.clone());
                let caller = self.random_caller();
                let priority = self.random_priority();
                let age = self.rng.random_range(5_000..60_000);
                self.new_queue_call_aged(q, FarParty { caller, trunk, did }, priority, age);
            }
        }
    }

    fn top_up_ringing(&mut self, queues: &[QueueId], ringing: usize) {
        let ringing_now = |pbx: &Pbx| pbx.users().filter(|u| pbx.user_phone_ringing(u.id)).count();
        for _ in 0..ringing * 4 {
            if ringing_now(self) >= ringing {
                break;
            }
            // A member of a group with calls waiting, in after-call work or else on a group
            // call, becomes free: the waiting call rings them.
            let candidate = |pbx: &Pbx, acw: bool| -> Option<UserId> {
                queues.iter().find_map(|q| {
                    let queue = pbx.queue(*q).filter(|queue| !queue.waiting.is_empty())?;
                    queue.members.iter().filter(|m| m.enabled).find_map(|m| {
                        let u = pbx.user(m.user)?;
                        let usable = !u.logged_off && !u.extn_fault && !u.dnd;
                        let busy = if acw {
                            u.acw_until.is_some() && u.legs.is_empty()
                        } else {
                            u.acw_until.is_none() && u.legs.len() == 1
                        };
                        (usable && busy).then_some(u.id)
                    })
                })
            };
            if let Some(u) = candidate(self, true) {
                let epoch = self.user(u).map_or(0, |u| u.epoch);
                self.acw_end(u, epoch);
            } else if let Some(u) = candidate(self, false) {
                let Some(&(_, key)) = self.user(u).and_then(|u| u.legs.first()) else {
                    break;
                };
                self.end_call(key, None, false);
            } else {
                break;
            }
        }
    }

    fn user_phone_ringing(&self, user: UserId) -> bool {
        self.user(user)
            .is_some_and(|u| u.phone_state() == super::PhoneState::Ringing)
    }

    /// Starts the churn (holds and unholds at `traffic.churn_per_sec`), from now.
    pub(super) fn start_churn(&mut self) {
        if self.traffic.churn_per_sec > 0.0 {
            self.churn_next = self.now_ms as f64;
            self.schedule_churn();
        }
    }

    fn schedule_churn(&mut self) {
        self.churn_next += 1000.0 / self.traffic.churn_per_sec;
        // Whole milliseconds: several holds may share one.
        self.schedule_at(self.churn_next as u64, Timer::Churn);
    }

    /// An agent puts a caller on hold, or takes one off hold.
    fn churn(&mut self) {
        self.schedule_churn();
        // Keys of calls in progress span from the oldest to the newest; ended calls leave
        // gaps, spread evenly enough that a key drawn between them picks a call fairly.
        let (Some((&CallKey(lo), _)), Some((&CallKey(hi), _))) =
            (self.calls.first_key_value(), self.calls.last_key_value())
        else {
            return;
        };
        for _ in 0..4 {
            let pick = CallKey(self.rng.random_range(lo..=hi));
            let Some((&key, call)) = self
                .calls
                .range(pick..)
                .next()
                .or_else(|| self.calls.iter().next())
            else {
                return;
            };
            let Some(leg) = call
                .legs
                .iter()
                .find(|l| !l.outbound && matches!(l.state, LegState::Connected | LegState::Held))
            else {
                continue;
            };
            let user = leg.user;
            if let Some(leg) = self
                .calls
                .get_mut(&key)
                .and_then(|c| c.legs.iter_mut().find(|l| l.user == user))
            {
                leg.state = if leg.state == LegState::Held {
                    LegState::Connected
                } else {
                    LegState::Held
                };
            }
            self.emit_all(key);
            return;
        }
    }
}
