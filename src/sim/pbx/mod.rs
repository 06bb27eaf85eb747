//! The PBX model: a sans-IO state machine of users, hunt groups, park slots and calls.
//!
//! Built from a [`Site`], a seed and a time of day, it is advanced only by
//! [`Pbx::handle_timeout`] with the current `Instant` and tells when it next needs that through
//! [`Pbx::poll_timeout`]; it reads no clock and sleeps nowhere, so tests run a whole day of
//! traffic in virtual time, and the same seed gives the same day.
//!
//! What changed is reported as [`Change`]s ([`Pbx::poll_change`]): which call appearances changed
//! or ended on which line, which user or queue configuration changed, and lines-list changes. The
//! connection layer turns them into Notifies, reading the current state back through
//! [`Pbx::callinfo`], [`Pbx::notify_user`] and friends.
//!
//! Everything is indexed by id, guid and extension; routing touches only the groups an event
//! concerns, so the cost of a step does not grow with the square of the site.
//!
//! This file holds the [`Pbx`] itself: building it from a site, lookups, placing calls and
//! phone state. Beside it: `types` (what readers see), `call` (a call's record), `clock`
//! (model time and timers), `admin` (configuration changes), `traffic` (the site's own
//! calls), `routing` (hunt groups), `calls` (a call's life), `functions` and `originate`
//! (what clients ask), `snapshot` (Notify payloads) and `features` (the feature bits).

mod admin;
mod call;
mod calls;
mod clock;
pub mod features;
mod functions;
mod originate;
mod routing;
mod snapshot;
mod traffic;
mod types;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use call::{Call, CallKind, DirectKind, FarParty, LegState, ParkLeg, QueueLeg, Report, UserLeg};
use clock::Timer;
pub use functions::{DropCallMode, FunctionPolicy, Unoffered};
pub use types::{
    CallKey, Caller, Change, Line, LineEntry, LineKind, LinesOp, Member, PhoneState, PlaceError,
    Queue, QueueCounters, QueueId, SiteStats, User, UserId,
};

use super::site::{Guid, Site, SiteError, TimeOfDay, Traffic, TrunkKind, UserSpec, is_park_slot};

/// The simulated PBX.
#[derive(Debug)]
pub struct Pbx {
    system_name: String,
    version: String,
    system_ip: [u8; 4],
    account_codes: Vec<String>,
    auth_codes: Vec<String>,
    park_slots: Vec<String>,
    traffic: Traffic,

    users: Vec<Option<User>>,
    user_by_extn: HashMap<String, UserId>,
    user_by_guid: HashMap<Guid, UserId>,
    direct_users: Vec<UserId>,

    queues: Vec<Option<Queue>>,
    queue_by_extn: HashMap<String, QueueId>,
    queue_by_guid: HashMap<Guid, QueueId>,
    queue_by_name: HashMap<String, QueueId>,

    park: BTreeMap<String, CallKey>,
    park_next_callid: i32,

    calls: BTreeMap<CallKey, Call>,
    next_call: u64,
    next_gcid: u32,
    /// The gcid counter at start: a restart begins there again, so gcids repeat across
    /// restarts as the document warns.
    first_gcid: u32,

    timers: BinaryHeap<Reverse<(u64, u64, Timer)>>,
    timer_seq: u64,
    rng: ChaCha8Rng,

    /// The `Instant` at which model time is `warmup_ms`.
    start: Instant,
    warmup_ms: u64,
    /// Model time: milliseconds since the model's epoch (the start of the warm-up).
    now_ms: u64,
    /// Time of day (s) at model time 0.
    tod_zero: u64,

    changes: VecDeque<Change>,
    emit: bool,
    /// When the next hold/unhold of the churn is due (model ms, fractional so that the rate
    /// is kept exactly).
    churn_next: f64,
}

fn next_id(counter: &mut i32) -> i32 {
    let id = *counter;
    *counter = if *counter == i32::MAX {
        1
    } else {
        *counter + 1
    };
    id
}

impl Pbx {
    /// Builds the site and runs its warm-up (`site.warmup` of traffic before `now`, reported
    /// to nobody), so calls are in progress at the start. `time_of_day` is the site's clock at
    /// `now`.
    pub fn new(
        site: Site,
        seed: u64,
        time_of_day: TimeOfDay,
        now: Instant,
    ) -> Result<Pbx, SiteError> {
        site.validate()?;
        let still = site.still;
        let warmup_ms = u64::try_from(site.warmup.as_millis()).unwrap_or(u64::MAX / 4);
        let warmup_s = warmup_ms / 1000;
        let tod_zero = (u64::from(time_of_day.secs()) + 86_400 - warmup_s % 86_400) % 86_400;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let next_gcid = rng.random_range(1000..5000);
        let mut pbx = Pbx {
            system_name: site.system_name,
            version: site.version,
            system_ip: site.system_ip,
            account_codes: site.account_codes,
            auth_codes: site.auth_codes,
            park_slots: site.park_slots,
            traffic: site.traffic,
            users: Vec::new(),
            user_by_extn: HashMap::new(),
            user_by_guid: HashMap::new(),
            direct_users: Vec::new(),
            queues: Vec::new(),
            queue_by_extn: HashMap::new(),
            queue_by_guid: HashMap::new(),
            queue_by_name: HashMap::new(),
            park: BTreeMap::new(),
            park_next_callid: 1,
            calls: BTreeMap::new(),
            next_call: 1,
            next_gcid,
            first_gcid: next_gcid,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            rng,
            start: now,
            warmup_ms,
            now_ms: 0,
            tod_zero,
            changes: VecDeque::new(),
            emit: false,
            churn_next: 0.0,
        };
        for spec in site.users {
            pbx.insert_user(spec);
        }
        for spec in &site.queues {
            let id = QueueId(pbx.queues.len() as u32);
            let guid = spec.effective_guid();
            let members: Vec<Member> = spec
                .members
                .iter()
                .filter_map(|m| {
                    pbx.user_by_extn.get(&m.extn).map(|&user| Member {
                        user,
                        enabled: m.enabled,
                    })
                })
                .collect();
            for m in &members {
                if let Some(u) = pbx.user_mut(m.user) {
                    u.queues.push(id);
                }
            }
            pbx.queue_by_extn.insert(spec.extn.clone(), id);
            pbx.queue_by_guid.insert(guid, id);
            pbx.queue_by_name.insert(spec.name.clone(), id);
            pbx.queues.push(Some(Queue {
                id,
                guid,
                extn: spec.extn.clone(),
                name: spec.name.clone(),
                email: spec.email.clone(),
                ring_mode: spec.ring_mode,
                service_mode: spec.service_mode,
                no_answer_time: spec.no_answer_time,
                voicemail: spec.voicemail,
                voicemail_time: spec.voicemail_time,
                mailbox: spec.mailbox,
                calls_per_hour: spec.calls_per_hour,
                did: spec.did.clone(),
                trunk: spec.trunk,
                counters: QueueCounters::default(),
                members,
                overflow: None,
                overflow_from: Vec::new(),
                appearances: BTreeMap::new(),
                waiting: BTreeSet::new(),
                next_callid: 1,
            }));
        }
        for spec in &site.queues {
            let (Some(&from), Some(o)) = (pbx.queue_by_extn.get(&spec.extn), &spec.overflow) else {
                continue;
            };
            let Some(&to) = pbx.queue_by_extn.get(&o.queue_extn) else {
                continue;
            };
            let after = u64::try_from(o.after.as_millis()).unwrap_or(u64::MAX / 4);
            if let Some(q) = pbx.queue_mut(from) {
                q.overflow = Some((to, after));
            }
            if let Some(q) = pbx.queue_mut(to) {
                q.overflow_from.push(from);
            }
        }
        pbx.schedule_traffic();
        pbx.run_until(warmup_ms);
        pbx.liven(site.start_waiting, site.start_ringing);
        for p in site.parked {
            let caller = Caller::new(&p.number, &p.name);
            // Validated above: the slot is well formed and used once.
            let _ = pbx.park_new_call(&p.slot, caller, p.hangup_after);
        }
        for q in pbx.queues.iter_mut().flatten() {
            q.counters = QueueCounters::default();
        }
        pbx.changes.clear();
        pbx.emit = true;
        if still {
            // Every call's next step (answer, end, arrival) is a timer: none fires.
            pbx.timers.clear();
        } else {
            pbx.start_churn();
        }
        Ok(pbx)
    }

    fn insert_user(&mut self, spec: UserSpec) -> UserId {
        let id = UserId(self.users.len() as u32);
        let guid = spec.effective_guid();
        self.user_by_extn.insert(spec.extn.clone(), id);
        self.user_by_guid.insert(guid, id);
        if spec.direct_calls {
            self.direct_users.push(id);
        }
        let mut u = User {
            id,
            guid,
            spec,
            fwdu: false,
            fwdu_number: String::new(),
            fwd_to_vm: false,
            app: String::new(),
            legs: Vec::new(),
            next_callid: 1,
            acw_until: None,
            idle_since: self.now_ms,
            queues: Vec::new(),
            epoch: 0,
            phone_state: PhoneState::Idle,
        };
        u.phone_state = Self::phone_state_of(&u, &self.calls);
        self.users.push(Some(u));
        id
    }

    // ---------------------------------------------------------------------------------------
    // Lookups

    /// The system's name.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }

    /// What `getversioninfo` answers.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The configured account codes.
    pub fn account_codes(&self) -> &[String] {
        &self.account_codes
    }

    /// The park slots the site's agents use.
    pub fn park_slots(&self) -> &[String] {
        &self.park_slots
    }

    /// A user.
    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn user_mut(&mut self, id: UserId) -> Option<&mut User> {
        self.users.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// A user by extension.
    pub fn user_by_extn(&self, extn: &str) -> Option<UserId> {
        self.user_by_extn.get(extn).copied()
    }

    /// A user by guid.
    pub fn user_by_guid(&self, guid: &[u8]) -> Option<UserId> {
        let g: Guid = guid.try_into().ok()?;
        self.user_by_guid.get(&g).copied()
    }

    /// A user whose email is `email` (case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<UserId> {
        self.users
            .iter()
            .flatten()
            .find(|u| !u.spec.email.is_empty() && u.spec.email.eq_ignore_ascii_case(email))
            .map(|u| u.id)
    }

    /// Every user, in id order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.iter().flatten()
    }

    /// A hunt group.
    pub fn queue(&self, id: QueueId) -> Option<&Queue> {
        self.queues.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn queue_mut(&mut self, id: QueueId) -> Option<&mut Queue> {
        self.queues.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    fn queue_ids(&self) -> impl Iterator<Item = QueueId> + use<> {
        let ids: Vec<QueueId> = self.queues.iter().flatten().map(|q| q.id).collect();
        ids.into_iter()
    }

    /// A hunt group by guid.
    pub fn queue_by_guid(&self, guid: &[u8]) -> Option<QueueId> {
        let g: Guid = guid.try_into().ok()?;
        self.queue_by_guid.get(&g).copied()
    }

    /// A hunt group by name (exact).
    pub fn queue_by_name(&self, name: &str) -> Option<QueueId> {
        self.queue_by_name.get(name).copied()
    }

    /// A hunt group by extension.
    pub fn queue_by_extn(&self, extn: &str) -> Option<QueueId> {
        self.queue_by_extn.get(extn).copied()
    }

    /// Every hunt group, in id order.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.iter().flatten()
    }

    /// The call appearances on a line: (callid, call), in callid order for groups and the park
    /// server, in arrival order for users.
    pub fn calls_on(&self, line: Line) -> Vec<(i32, CallKey)> {
        match line {
            Line::User(u) => self.user(u).map(|u| u.legs.clone()).unwrap_or_default(),
            Line::Queue(q) => self
                .queue(q)
                .map(|q| q.appearances.iter().map(|(&c, &k)| (c, k)).collect())
                .unwrap_or_default(),
            Line::Park => self
                .park
                .values()
                .filter_map(|k| {
                    let p = self.calls.get(k)?.park.as_ref()?;
                    Some((p.callid, *k))
                })
                .collect(),
        }
    }

    /// Whether the call still exists.
    pub fn call_exists(&self, call: CallKey) -> bool {
        self.calls.contains_key(&call)
    }

    /// The lines list: every user, then every group.
    pub fn lines(&self) -> Vec<LineEntry> {
        let users = self.users().map(|u| self.user_entry(u));
        let queues = self.queues().map(|q| self.queue_entry(q));
        users.chain(queues).collect()
    }

    fn user_entry(&self, u: &User) -> LineEntry {
        LineEntry {
            kind: LineKind::User(u.id),
            guid: u.guid,
            extn: u.spec.extn.clone(),
            name: u.spec.name.clone(),
        }
    }

    fn queue_entry(&self, q: &Queue) -> LineEntry {
        LineEntry {
            kind: LineKind::Queue(q.id),
            guid: q.guid,
            extn: q.extn.clone(),
            name: q.name.clone(),
        }
    }

    /// The site's figures now.
    pub fn stats(&self) -> SiteStats {
        let mut s = SiteStats {
            time_of_day: self.time_of_day(),
            waiting: 0,
            longest_wait: Duration::ZERO,
            ringing: 0,
            talking: 0,
            acw: 0,
            parked: self.park.len(),
            calls: self.calls.len(),
            arrived: 0,
            answered: 0,
            abandoned: 0,
            overflowed: 0,
            voicemail: 0,
        };
        for q in self.queues() {
            s.waiting += q.waiting.len();
            if let Some(oldest) = q.waiting.iter().map(|(_, at, _)| *at).min() {
                let wait = Duration::from_millis(self.now_ms.saturating_sub(oldest));
                s.longest_wait = s.longest_wait.max(wait);
            }
            s.arrived += q.counters.arrived;
            s.answered += q.counters.answered;
            s.abandoned += q.counters.abandoned;
            s.overflowed += q.counters.overflowed;
            s.voicemail += q.counters.voicemail;
        }
        for u in self.users() {
            match u.phone_state {
                PhoneState::Ringing => s.ringing += 1,
                PhoneState::Connected | PhoneState::Dialling => s.talking += 1,
                PhoneState::Acw => s.acw += 1,
                _ => {}
            }
        }
        s
    }

    /// An outside caller rings `user` directly now (their own DID); `None` when the user is
    /// not there.
    pub fn place_user_call(&mut self, user: UserId, caller: Caller) -> Option<CallKey> {
        let did = self.user(user)?.spec.did.clone();
        let far = FarParty {
            caller,
            trunk: TrunkKind::Sip,
            did: did.clone(),
        };
        let key = self.new_call(Call::new(CallKind::DirectIn, Some(far), did));
        if self.add_leg(key, user, LegState::Ringing, None) == 0 {
            self.calls.remove(&key);
            return None;
        }
        self.ring_user(key, user);
        Some(key)
    }

    /// The user answers the (oldest) call ringing at their phone, as if they picked up the
    /// handset; `false` when nothing rings there.
    pub fn answer_ringing(&mut self, user: UserId) -> bool {
        let Some(key) = self.first_call_in(user, LegState::Ringing) else {
            return false;
        };
        self.answer(key, user);
        true
    }

    /// The far end hangs up the call the user is talking on (or holding); `false` when the
    /// user has no such call.
    pub fn far_end_hangs_up(&mut self, user: UserId) -> bool {
        let Some(key) = self
            .first_call_in(user, LegState::Connected)
            .or_else(|| self.first_call_in(user, LegState::Held))
        else {
            return false;
        };
        self.end_call(key, None, true);
        true
    }

    fn first_call_in(&self, user: UserId, state: LegState) -> Option<CallKey> {
        self.user(user)?.legs.iter().map(|(_, k)| *k).find(|k| {
            self.calls
                .get(k)
                .is_some_and(|c| c.legs.iter().any(|l| l.user == user && l.state == state))
        })
    }

    /// Places a call from `caller` into a group now, as if it had just arrived; `None` when the
    /// group is not Active and has no voicemail (the call never shows).
    pub fn place_queue_call(
        &mut self,
        queue: QueueId,
        caller: Caller,
        priority: u8,
    ) -> Result<Option<CallKey>, PlaceError> {
        if !(1..=3).contains(&priority) {
            return Err(PlaceError::BadPriority(priority));
        }
        let q = self.queue(queue).ok_or(PlaceError::NoQueue)?;
        let far = FarParty {
            caller,
            trunk: q.trunk,
            did: q.did.clone(),
        };
        Ok(self.new_queue_call(queue, far, priority))
    }

    /// Puts a call from `caller` into a park slot now; it stays until `hangup_after` (or for
    /// good with `None`).
    pub fn park_new_call(
        &mut self,
        slot: &str,
        caller: Caller,
        hangup_after: Option<Duration>,
    ) -> Result<CallKey, PlaceError> {
        if !is_park_slot(slot) {
            return Err(PlaceError::BadSlot(slot.to_string()));
        }
        if self.park.contains_key(slot) {
            return Err(PlaceError::SlotOccupied(slot.to_string()));
        }
        let callid = next_id(&mut self.park_next_callid);
        let mut call = Call::new(
            CallKind::Parked,
            Some(FarParty {
                caller,
                trunk: TrunkKind::Sip,
                did: String::new(),
            }),
            String::new(),
        );
        call.park = Some(ParkLeg {
            slot: slot.to_string(),
            callid,
        });
        let key = self.new_call(call);
        self.park.insert(slot.to_string(), key);
        self.emit(Change::Call {
            line: Line::Park,
            call: key,
            callid,
        });
        if let Some(after) = hangup_after {
            let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX / 4);
            self.schedule_in(ms, Timer::ParkedHangUp(key, 0));
        }
        Ok(key)
    }

    fn new_call(&mut self, mut call: Call) -> CallKey {
        let key = CallKey(self.next_call);
        self.next_call += 1;
        let ip = self.system_ip;
        let n = self.next_gcid.to_be_bytes();
        self.next_gcid = self.next_gcid.wrapping_add(1);
        call.gcid = [0x01, ip[0], ip[1], ip[2], ip[3], n[0], n[1], n[2], n[3]];
        self.calls.insert(key, call);
        key
    }

    /// `user`'s appearance of the call.
    fn leg_mut(&mut self, key: CallKey, user: UserId) -> Option<&mut UserLeg> {
        self.calls
            .get_mut(&key)
            .and_then(|c| c.legs.iter_mut().find(|l| l.user == user))
    }

    // ---------------------------------------------------------------------------------------
    // Phone state

    fn phone_state_of(u: &User, calls: &BTreeMap<CallKey, Call>) -> PhoneState {
        if u.spec.logged_off {
            return PhoneState::Logout;
        }
        if u.spec.extn_fault {
            return PhoneState::Fault;
        }
        let mut ringing = false;
        let mut dialling = false;
        for (_, key) in &u.legs {
            let Some(leg) = calls
                .get(key)
                .and_then(|c| c.legs.iter().find(|l| l.user == u.id))
            else {
                continue;
            };
            match leg.state {
                // A call on hold still occupies the phone.
                LegState::Connected | LegState::Held => return PhoneState::Connected,
                LegState::Ringing => ringing = true,
                LegState::Ringback | LegState::Failed | LegState::Dialtone => dialling = true,
            }
        }
        if ringing {
            PhoneState::Ringing
        } else if dialling {
            PhoneState::Dialling
        } else if u.acw_until.is_some() {
            PhoneState::Acw
        } else {
            PhoneState::Idle
        }
    }

    /// Recomputes a user's phone state and reports it when it changed.
    fn touch_user(&mut self, id: UserId) {
        let Some(u) = self.user(id) else {
            return;
        };
        let state = Self::phone_state_of(u, &self.calls);
        if state == u.phone_state {
            return;
        }
        let now = self.now_ms;
        if let Some(u) = self.user_mut(id) {
            u.phone_state = state;
            if state == PhoneState::Idle {
                u.idle_since = now;
            }
        }
        self.emit(Change::UserState(id));
    }

    /// Whether the user can be offered a group or direct call now.
    fn user_free(&self, id: UserId) -> bool {
        self.user(id).is_some_and(|u| {
            !u.spec.logged_off
                && !u.spec.extn_fault
                && !u.spec.dnd
                && u.legs.is_empty()
                && u.acw_until.is_none()
        })
    }

    /// Whether the user can make a call now (DND does not stop outgoing calls).
    fn user_can_dial(&self, id: UserId) -> bool {
        self.user(id).is_some_and(|u| {
            !u.spec.logged_off && !u.spec.extn_fault && u.legs.is_empty() && u.acw_until.is_none()
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::site::derive_guid;

    #[test]
    fn derived_guids_differ_by_kind() {
        assert_ne!(derive_guid(b'U', "7301"), derive_guid(b'Q', "7301"));
    }
}
