//! The life of calls: arrivals, routing by ring mode, ringing, answer, talk, after-call work,
//! abandon, overflow, voicemail, and the users' own direct and internal calls.

use std::cmp::Reverse;

use rand::Rng;
use rand::seq::IndexedRandom;

use super::{
    Call, CallKey, CallKind, Caller, Change, DirectKind, FarParty, LegState, Line, Pbx, QueueId,
    QueueLeg, Timer, UserId, UserLeg, next_id,
};
use crate::sim::site::{RingMode, ServiceMode, TrunkKind};

/// `CallLost.reason` for normal clearing.
pub(super) const NORMAL: i32 = 16;

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
            Timer::Overflow(c) => self.overflow(c),
            Timer::Voicemail(c) => self.divert_to_voicemail(c),
            Timer::VoicemailEnd(c) => self.voicemail_end(c),
            Timer::AcwEnd(u, e) => self.acw_end(u, e),
            Timer::ParkedHangUp(c) => {
                if self.calls.get(&c).is_some_and(|call| call.park.is_some()) {
                    self.end_call(c, None, false);
                }
            }
            Timer::Park(c, e) if self.epoch_is(c, e) => self.park_connected(c),
            Timer::Unpark(c) => self.unpark(c),
            Timer::Answer(..)
            | Timer::Park(..)
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
        let queue = self.queue(q)?;
        let active = queue.service_mode == ServiceMode::Active;
        let voicemail = queue.voicemail;
        if !active && !voicemail {
            // Night service or out of service with no voicemail: the call goes elsewhere and is
            // never seen on this group.
            return None;
        }
        let overflow_after = queue.overflow.map(|(_, after)| after);
        let voicemail_after = u64::from(queue.voicemail_time) * 1000;
        let now = self.now_ms;
        let queue = self.queue_mut(q)?;
        let callid = next_id(&mut queue.next_callid);
        queue.counters.arrived += 1;
        let dialled = far.did.clone();
        let key = self.new_call(Call {
            gcid: [0; 9],
            kind: CallKind::Queue,
            far: Some(far),
            queue: Some(QueueLeg {
                queue: q,
                callid,
                priority,
                arrived: now,
                overflow: false,
                tried: Vec::new(),
                voicemail: !active,
                answered: false,
            }),
            legs: Vec::new(),
            park: None,
            epoch: 0,
            dialled,
        });
        let queue = self.queue_mut(q)?;
        queue.appearances.insert(callid, key);
        if active {
            queue.waiting.insert((Reverse(priority), now, key));
        }
        self.emit(Change::Call {
            line: Line::Queue(q),
            call: key,
            callid,
        });
        if !active {
            let ms = self.draw_ms(&self.traffic.voicemail_message.clone());
            self.schedule_in(ms, Timer::VoicemailEnd(key));
            return Some(key);
        }
        let patience = self.draw_ms(&self.traffic.patience.clone());
        self.schedule_in(patience, Timer::Abandon(key));
        if let Some(after) = overflow_after {
            self.schedule_in(after, Timer::Overflow(key));
        }
        if voicemail {
            self.schedule_in(voicemail_after, Timer::Voicemail(key));
        }
        self.route(q);
        Some(key)
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
            if !call.legs.is_empty() || leg.voicemail {
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
        for &u in users {
            let Some(user) = self.user_mut(u) else {
                continue;
            };
            let callid = next_id(&mut user.next_callid);
            user.legs.push((callid, key));
            if let Some(call) = self.calls.get_mut(&key) {
                call.legs.push(UserLeg {
                    user: u,
                    callid,
                    state: LegState::Ringing,
                    outbound: false,
                    pickup: false,
                    peer: None,
                });
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

    fn emit_queue_leg(&mut self, key: CallKey) {
        let Some(leg) = self.calls.get(&key).and_then(|c| c.queue.as_ref()) else {
            return;
        };
        let (q, callid) = (leg.queue, leg.callid);
        self.emit(Change::Call {
            line: Line::Queue(q),
            call: key,
            callid,
        });
    }

    fn emit_user_leg(&mut self, key: CallKey, user: UserId) {
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
    fn drop_leg(&mut self, key: CallKey, user: UserId, this_end_dropped: bool) {
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
    fn answer(&mut self, key: CallKey, user: UserId) {
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
        if let Some(leg) = call.queue.as_mut() {
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
        if call.kind != CallKind::Queue {
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
            if acw && leg.state == LegState::Connected && call.kind == CallKind::Queue {
                self.start_acw(leg.user);
            }
            self.touch_user(leg.user);
            freed.push(leg.user);
        }
        if let Some(leg) = &call.queue {
            if let Some(q) = self.queue_mut(leg.queue) {
                q.appearances.remove(&leg.callid);
                q.waiting.remove(&(Reverse(leg.priority), leg.arrived, key));
            }
            self.emit(Change::CallLost {
                line: Line::Queue(leg.queue),
                call: key,
                callid: leg.callid,
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
        let Some(leg) = self.calls.get(&key).and_then(|c| c.queue.as_ref()) else {
            return;
        };
        if leg.answered || leg.voicemail {
            return;
        }
        let q = leg.queue;
        if let Some(queue) = self.queue_mut(q) {
            queue.counters.abandoned += 1;
        }
        self.end_call(key, None, false);
    }

    fn overflow(&mut self, key: CallKey) {
        let Some(leg) = self.calls.get_mut(&key).and_then(|c| c.queue.as_mut()) else {
            return;
        };
        if leg.answered || leg.voicemail || leg.overflow {
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
        if leg.answered || leg.voicemail {
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
            if let Some(leg) = call.queue.as_mut() {
                leg.voicemail = true;
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

    fn voicemail_end(&mut self, key: CallKey) {
        let Some(leg) = self.calls.get(&key).and_then(|c| c.queue.as_ref()) else {
            return;
        };
        if !leg.voicemail {
            return;
        }
        let q = leg.queue;
        if let Some(queue) = self.queue_mut(q) {
            queue.mailbox.new += 1;
            queue.counters.voicemail += 1;
        }
        self.emit(Change::QueueConfig(q));
        self.end_call(key, None, false);
    }

    fn start_acw(&mut self, user: UserId) {
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
        let ringing_group_call = call.kind == CallKind::Queue
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
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if call.park.is_some() {
            return;
        }
        call.epoch += 1;
        let users: Vec<UserId> = call.legs.iter().map(|l| l.user).collect();
        let callid = next_id(&mut self.park_next_callid);
        if let Some(call) = self.calls.get_mut(&key) {
            call.park = Some(super::ParkLeg {
                slot: slot.clone(),
                callid,
            });
        }
        self.park.insert(slot, key);
        for u in &users {
            self.drop_leg(key, *u, true);
        }
        self.emit(Change::Call {
            line: Line::Park,
            call: key,
            callid,
        });
        let wait = self.draw_ms(&self.traffic.parked_for.clone());
        self.schedule_in(wait, Timer::Unpark(key));
        for u in users {
            self.after_user_free(u);
        }
    }

    /// A free colleague picks the parked call up; with nobody free, the caller gives up.
    fn unpark(&mut self, key: CallKey) {
        let Some(park) = self.calls.get(&key).and_then(|c| c.park.clone()) else {
            return;
        };
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
        self.add_leg(key, user, LegState::Connected, None);
        if let Some(leg) = self
            .calls
            .get_mut(&key)
            .and_then(|c| c.legs.iter_mut().find(|l| l.user == user))
        {
            leg.pickup = true;
        }
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

    fn add_leg(&mut self, key: CallKey, user: UserId, state: LegState, peer: Option<UserId>) {
        let Some(u) = self.user_mut(user) else {
            return;
        };
        let callid = next_id(&mut u.next_callid);
        u.legs.push((callid, key));
        if let Some(call) = self.calls.get_mut(&key) {
            call.legs.push(UserLeg {
                user,
                callid,
                state,
                outbound: state == LegState::Ringback,
                pickup: false,
                peer,
            });
        }
        self.emit(Change::Call {
            line: Line::User(user),
            call: key,
            callid,
        });
        self.touch_user(user);
    }

    /// Rings the user; they answer after a while, or the call goes to voicemail.
    fn ring_user(&mut self, key: CallKey, user: UserId) {
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
        let key = self.new_call(Call {
            gcid: [0; 9],
            kind: CallKind::DirectIn,
            far: Some(FarParty {
                caller,
                trunk: TrunkKind::Sip,
                did: did.clone(),
            }),
            queue: None,
            legs: Vec::new(),
            park: None,
            epoch: 0,
            dialled: did,
        });
        self.add_leg(key, user, LegState::Ringing, None);
        self.ring_user(key, user);
    }

    fn new_direct_out(&mut self, user: UserId, callee: Caller) {
        if callee.withheld {
            return;
        }
        let dialled = callee.number.clone();
        let key = self.new_call(Call {
            gcid: [0; 9],
            kind: CallKind::DirectOut,
            far: Some(FarParty {
                caller: callee,
                trunk: TrunkKind::Sip,
                did: String::new(),
            }),
            queue: None,
            legs: Vec::new(),
            park: None,
            epoch: 0,
            dialled,
        });
        self.add_leg(key, user, LegState::Ringback, None);
        if self.rng.random_bool(self.traffic.outbound_answer_chance) {
            let ms = self.rng.random_range(4_000..=20_000);
            self.schedule_in(ms, Timer::FarAnswer(key, 0));
        } else {
            self.schedule_in(GIVE_UP_MS, Timer::GiveUp(key, 0));
        }
    }

    fn far_answer(&mut self, key: CallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.epoch += 1;
        let epoch = call.epoch;
        let mut users = Vec::new();
        for leg in &mut call.legs {
            leg.state = LegState::Connected;
            users.push(leg.user);
        }
        for u in users {
            self.emit_user_leg(key, u);
            self.touch_user(u);
        }
        let talk = self.draw_ms(&self.traffic.direct_talk.clone());
        self.schedule_in(talk, Timer::HangUp(key, epoch));
    }

    fn new_internal(&mut self, from: UserId, to: UserId) {
        let Some(dialled) = self.user(to).map(|u| u.extn.clone()) else {
            return;
        };
        let key = self.new_call(Call {
            gcid: [0; 9],
            kind: CallKind::Internal,
            far: None,
            queue: None,
            legs: Vec::new(),
            park: None,
            epoch: 0,
            dialled,
        });
        self.add_leg(key, from, LegState::Ringback, Some(to));
        self.add_leg(key, to, LegState::Ringing, Some(from));
        self.ring_user(key, to);
    }
}
