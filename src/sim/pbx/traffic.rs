//! The site's own traffic: arrivals in every group (a Poisson process thinned by the daily
//! curve), the users' own direct and internal calls, the liveliness set up at the start, and
//! the steady hold/unhold churn.

use rand::Rng;
use rand::seq::IndexedRandom;

use super::{
    Call, CallKey, CallKind, Caller, DirectKind, FarParty, LegState, Pbx, QueueId, Timer, UserId,
};
use crate::protocol::cmd::ServiceMode;
use crate::sim::site::TrunkKind;

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
    /// An exponential gap (ms) for `per_hour` events per hour.
    pub(super) fn exp_gap_ms(&mut self, per_hour: f64) -> u64 {
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

    pub(super) fn curve_accepts(&mut self) -> bool {
        let max = self.traffic.curve.max();
        let here = self.traffic.curve.at(self.time_of_day());
        let u: f64 = self.rng.random();
        u * max < here
    }

    pub(super) fn on_arrival(&mut self, q: QueueId) {
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

    pub(super) fn random_priority(&mut self) -> u8 {
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
    pub(super) fn random_caller(&mut self) -> Caller {
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

    pub(super) fn on_direct(&mut self, kind: DirectKind) {
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

    pub(super) fn new_direct_in(&mut self, user: UserId, caller: Caller) {
        let Some(did) = self.user(user).map(|u| u.spec.did.clone()) else {
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

    pub(super) fn new_direct_out(&mut self, user: UserId, callee: Caller) {
        if callee.withheld {
            return;
        }
        self.dial_out(user, callee);
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

    pub(super) fn top_up_waiting(&mut self, queues: &[QueueId], waiting: usize) {
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

    pub(super) fn top_up_ringing(&mut self, queues: &[QueueId], ringing: usize) {
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
                        let usable = !u.spec.logged_off && !u.spec.extn_fault && !u.spec.dnd;
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

    pub(super) fn user_phone_ringing(&self, user: UserId) -> bool {
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

    pub(super) fn schedule_churn(&mut self) {
        self.churn_next += 1000.0 / self.traffic.churn_per_sec;
        // Whole milliseconds: several holds may share one.
        self.schedule_at(self.churn_next as u64, Timer::Churn);
    }

    /// An agent puts a caller on hold, or takes one off hold.
    pub(super) fn churn(&mut self) {
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
            if let Some(leg) = self.leg_mut(key, user) {
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
