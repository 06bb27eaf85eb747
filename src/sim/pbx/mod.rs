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

mod calls;
pub mod features;
mod functions;
mod snapshot;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::protocol::pb;

pub use functions::{DropCallMode, FunctionPolicy, Unoffered};

use super::site::{
    AbsenceText, Guid, MailboxCounts, RingMode, ServiceMode, Site, SiteError, TimeOfDay, Traffic,
    TrunkKind, UserSpec, guid_hex, is_park_slot,
};

/// A user's id in the model (stable for the user's lifetime, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(u32);

/// A hunt group's id in the model (stable, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(u32);

/// A call's id in the model (never reused). Not on the wire: each line numbers its own
/// appearances with `callid`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(u64);

/// A line that carries call appearances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Line {
    /// A user's line.
    User(UserId),
    /// A hunt group's line.
    Queue(QueueId),
    /// The park server.
    Park,
}

/// An entry of the lines list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEntry {
    /// Which user or group.
    pub kind: LineKind,
    /// Its guid.
    pub guid: Guid,
    /// Its extension.
    pub extn: String,
    /// Its name.
    pub name: String,
}

/// A user or a group, in the lines list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LineKind {
    /// A user.
    User(UserId),
    /// A hunt group.
    Queue(QueueId),
}

/// What happened to a lines-list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinesOp {
    /// Added (adduser / addqueue).
    Add,
    /// Name or extension changed (changeuser / changequeue).
    Change,
    /// Removed (deleteuser / deletequeue).
    Delete,
}

/// A change the connection layer turns into Notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A call appeared on a line or its appearance changed; read it with [`Pbx::callinfo`].
    Call {
        /// The line.
        line: Line,
        /// The call.
        call: CallKey,
        /// The appearance's callid on that line.
        callid: i32,
    },
    /// A call appearance ended.
    CallLost {
        /// The line.
        line: Line,
        /// The call.
        call: CallKey,
        /// The appearance's callid on that line.
        callid: i32,
        /// `CallLost.reason` (16 = normal clearing).
        reason: i32,
        /// Whether this line's end cleared the call.
        this_end_dropped: bool,
    },
    /// A user's configuration changed (name, DND, log-on, fault, voicemail, absence, ...).
    UserConfig(UserId),
    /// A user's phone state changed (idle, ringing, connected, after-call work, ...).
    UserState(UserId),
    /// A hunt group's configuration changed (service mode, members, mailbox, ...).
    QueueConfig(QueueId),
    /// The lines list changed.
    Lines(LinesOp, LineEntry),
}

pub use crate::protocol::presence::PhoneState;

/// A user. Read through [`Pbx::user`]; changed only through the `Pbx`, which reports it.
#[derive(Debug, Clone)]
pub struct User {
    /// The model's id.
    pub id: UserId,
    /// The guid.
    pub guid: Guid,
    /// Extension.
    pub extn: String,
    /// Short name.
    pub name: String,
    /// Full name.
    pub fullname: String,
    /// Email address.
    pub email: String,
    /// Locale code.
    pub language: String,
    /// Do not disturb.
    pub dnd: bool,
    /// Not logged in anywhere.
    pub logged_off: bool,
    /// Phone not working.
    pub extn_fault: bool,
    /// Voicemail enabled.
    pub voicemail: bool,
    /// Mailbox counters.
    pub mailbox: MailboxCounts,
    /// Absence text.
    pub absence: Option<AbsenceText>,
    /// Makes and receives direct calls.
    pub direct_calls: bool,
    /// The user's DID.
    pub did: String,
    /// Mobile twinning enabled.
    pub ec500: bool,
    /// The mobile twin's number.
    pub mobile: String,
    /// Forward unconditional on.
    pub fwdu: bool,
    /// Forward unconditional destination.
    pub fwdu_number: String,
    /// Forward unconditional goes to voicemail.
    pub fwd_to_vm: bool,
    /// Application presence string.
    pub app: String,
    /// This user's call appearances: (callid, call).
    legs: Vec<(i32, CallKey)>,
    next_callid: i32,
    acw_until: Option<u64>,
    idle_since: u64,
    queues: Vec<QueueId>,
    epoch: u32,
    phone_state: PhoneState,
}

impl User {
    /// The phone state last reported.
    pub fn phone_state(&self) -> PhoneState {
        self.phone_state
    }

    /// The hunt groups this user is a member of.
    pub fn queues(&self) -> &[QueueId] {
        &self.queues
    }

    /// Whether the user is in after-call work.
    pub fn in_acw(&self) -> bool {
        self.acw_until.is_some()
    }
}

/// A hunt group member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user: UserId,
    /// Whether the member accepts calls from this group.
    pub enabled: bool,
}

/// Per-group counters since the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounters {
    /// Calls that arrived and were routed (or went straight to voicemail).
    pub arrived: u64,
    /// Calls an agent answered.
    pub answered: u64,
    /// Of those, answered within 20 s.
    pub answered_in_20s: u64,
    /// Callers who hung up unanswered.
    pub abandoned: u64,
    /// Calls that overflowed.
    pub overflowed: u64,
    /// Calls that left a voicemail.
    pub voicemail: u64,
}

/// A hunt group. Read through [`Pbx::queue`].
#[derive(Debug, Clone)]
pub struct Queue {
    /// The model's id.
    pub id: QueueId,
    /// The guid.
    pub guid: Guid,
    /// Extension.
    pub extn: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Ring mode.
    pub ring_mode: RingMode,
    /// Service mode.
    pub service_mode: ServiceMode,
    /// Seconds a member rings.
    pub no_answer_time: u32,
    /// Voicemail enabled.
    pub voicemail: bool,
    /// Seconds before a waiting call goes to voicemail.
    pub voicemail_time: u32,
    /// Mailbox counters.
    pub mailbox: MailboxCounts,
    /// Arrivals per hour at curve 1.0.
    pub calls_per_hour: f64,
    /// DID callers dial.
    pub did: String,
    /// Trunk the calls arrive on.
    pub trunk: TrunkKind,
    /// Counters since the start.
    pub counters: QueueCounters,
    members: Vec<Member>,
    overflow: Option<(QueueId, u64)>,
    overflow_from: Vec<QueueId>,
    appearances: BTreeMap<i32, CallKey>,
    /// Unanswered calls in service order: highest priority first, then longest waiting.
    waiting: BTreeSet<(Reverse<u8>, u64, CallKey)>,
    next_callid: i32,
}

impl Queue {
    /// Members in list order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The overflow group, if any.
    pub fn overflow_queue(&self) -> Option<QueueId> {
        self.overflow.map(|(q, _)| q)
    }

    /// Calls waiting (unanswered and not in voicemail).
    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }
}

/// Who is on the outside end of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Number (empty when withheld).
    pub number: String,
    /// Network-provided name (may be empty).
    pub name: String,
    /// The caller withheld the number.
    pub withheld: bool,
}

impl Caller {
    /// A caller with this number and name.
    pub fn new(number: &str, name: &str) -> Self {
        Caller {
            number: number.to_string(),
            name: name.to_string(),
            withheld: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Queue,
    DirectIn,
    DirectOut,
    Internal,
    Parked,
}

#[derive(Debug, Clone)]
struct FarParty {
    caller: Caller,
    trunk: TrunkKind,
    did: String,
}

/// A call's place in a hunt group's routing: the group whose members it is offered to now.
#[derive(Debug, Clone)]
struct QueueLeg {
    queue: QueueId,
    priority: u8,
    arrived: u64,
    overflow: bool,
    tried: Vec<UserId>,
    answered: bool,
    /// Bumped whenever the call enters a group, so that a previous group's overflow and
    /// voicemail timers do nothing.
    seq: u32,
}

/// The hunt group that reports a call (its appearance on that group's line). By default a
/// queued call is reported on the group it first arrived at for its whole life, even after a
/// BlindTransfer to another group, until a client sends Finish.
#[derive(Debug, Clone)]
struct Report {
    queue: QueueId,
    callid: i32,
    /// The priority last set on the call (shown in `queueinfo` once routing is over).
    priority: u8,
    reference: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegState {
    Ringing,
    Ringback,
    Connected,
    Held,
    /// A call the user made that failed; `UserLeg::cause` says why.
    Failed,
    /// The user went off hook (MakeCall with no target) and has dialled nothing yet.
    Dialtone,
}

#[derive(Debug, Clone)]
struct UserLeg {
    user: UserId,
    callid: i32,
    state: LegState,
    outbound: bool,
    /// Picked up from a park slot or from another ringing phone.
    pickup: bool,
    peer: Option<UserId>,
    /// The application's referencecallid for this appearance (0: none).
    reference: i32,
    /// The user made the call private (PrivacyOn).
    private: bool,
    /// The user records the call (CallRecordingOn).
    recording: bool,
    /// What this user dialled, when it differs from the call's dialled number.
    called: Option<String>,
    /// Why a failed call failed (`CallInfo.failedcause`).
    cause: pb::call_info::FailedCause,
}

impl UserLeg {
    /// Whether the user handled the call as an agent (talked or held it, and did not call in
    /// or intrude): after-call work follows.
    fn handled(&self) -> bool {
        !self.outbound && matches!(self.state, LegState::Connected | LegState::Held)
    }

    fn new(user: UserId, callid: i32, state: LegState) -> Self {
        UserLeg {
            user,
            callid,
            state,
            outbound: state == LegState::Ringback,
            pickup: false,
            peer: None,
            reference: 0,
            private: false,
            recording: false,
            called: None,
            cause: pb::call_info::FailedCause::Unset,
        }
    }
}

#[derive(Debug, Clone)]
struct ParkLeg {
    slot: String,
    callid: i32,
}

#[derive(Debug, Clone)]
struct Call {
    gcid: [u8; 9],
    kind: CallKind,
    far: Option<FarParty>,
    /// Hunt-group routing, while the call is offered to a group's members (kept, marked
    /// answered, once an agent answers).
    queue: Option<QueueLeg>,
    /// The group line that reports the call.
    report: Option<Report>,
    legs: Vec<UserLeg>,
    park: Option<ParkLeg>,
    epoch: u32,
    dialled: String,
    /// Answered by voicemail: the party shown as connected ("VoiceMail", or a call flow).
    voicemail: Option<String>,
    /// Connected to a MeetMe conference (its number).
    meetme: Option<String>,
    tag: String,
    account: String,
    auth: String,
    /// When the user's mobile twin answers a PushToEC500, the far end talks to this number.
    mobile: Option<String>,
}

impl Call {
    fn new(kind: CallKind, far: Option<FarParty>, dialled: String) -> Self {
        Call {
            gcid: [0; 9],
            kind,
            far,
            queue: None,
            report: None,
            legs: Vec::new(),
            park: None,
            epoch: 0,
            dialled,
            voicemail: None,
            meetme: None,
            tag: String::new(),
            account: String::new(),
            auth: String::new(),
            mobile: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DirectKind {
    In,
    Out,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Arrival(QueueId),
    Direct(DirectKind),
    Answer(CallKey, UserId, u32),
    RingTimeout(CallKey, u32),
    HangUp(CallKey, u32),
    Abandon(CallKey),
    Overflow(CallKey, u32),
    Voicemail(CallKey, u32),
    VoicemailEnd(CallKey),
    FarAnswer(CallKey, u32),
    GiveUp(CallKey, u32),
    AcwEnd(UserId, u32),
    Churn,
    ParkedHangUp(CallKey, u32),
    Park(CallKey, u32),
    Unpark(CallKey, u32),
    Ec500Answer(CallKey, UserId, u32),
    FailedEnd(CallKey, UserId),
}

/// The whole site's figures at one moment, for a heartbeat line or a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteStats {
    /// The site's clock.
    pub time_of_day: TimeOfDay,
    /// Calls waiting in groups (queueing or ringing an agent).
    pub waiting: usize,
    /// The longest current wait.
    pub longest_wait: Duration,
    /// Agents with a ringing call.
    pub ringing: usize,
    /// Users on a connected call.
    pub talking: usize,
    /// Users in after-call work.
    pub acw: usize,
    /// Calls in park slots.
    pub parked: usize,
    /// All calls in progress.
    pub calls: usize,
    /// Group calls since the start.
    pub arrived: u64,
    /// Group calls answered since the start.
    pub answered: u64,
    /// Group calls abandoned since the start.
    pub abandoned: u64,
    /// Group calls that overflowed since the start.
    pub overflowed: u64,
    /// Group calls that went to voicemail since the start.
    pub voicemail: u64,
}

/// Why a call could not be placed or parked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// The park slot is malformed.
    #[error("park slot `{0}` must be 1 to 9 characters of 0-9 # *")]
    BadSlot(String),
    /// The park slot holds a call already.
    #[error("park slot {0} is occupied")]
    SlotOccupied(String),
    /// The group does not exist.
    #[error("no such group")]
    NoQueue,
    /// The priority is not 1, 2 or 3.
    #[error("priority {0} is not 1, 2 or 3")]
    BadPriority(u8),
}

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
        pbx.start_churn();
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
            extn: spec.extn,
            name: spec.name,
            fullname: spec.fullname,
            email: spec.email,
            language: spec.language,
            dnd: spec.dnd,
            logged_off: spec.logged_off,
            extn_fault: spec.extn_fault,
            voicemail: spec.voicemail,
            mailbox: spec.mailbox,
            absence: spec.absence,
            direct_calls: spec.direct_calls,
            did: spec.did,
            ec500: spec.ec500,
            mobile: spec.mobile,
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
    // Time

    fn to_ms(&self, now: Instant) -> u64 {
        let since = u64::try_from(now.saturating_duration_since(self.start).as_millis())
            .unwrap_or(u64::MAX / 4);
        self.warmup_ms.saturating_add(since)
    }

    fn to_instant(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms.saturating_sub(self.warmup_ms))
    }

    /// Advances the model to `now`, firing everything due (arrivals, answers, hang-ups,
    /// abandons, ...) in time order.
    pub fn handle_timeout(&mut self, now: Instant) {
        let t = self.to_ms(now);
        self.run_until(t);
    }

    /// When the model next needs [`Pbx::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers
            .peek()
            .map(|Reverse((at, _, _))| self.to_instant(*at))
    }

    /// The next change to report, oldest first.
    pub fn poll_change(&mut self) -> Option<Change> {
        self.changes.pop_front()
    }

    /// The site's clock at the model's current time.
    pub fn time_of_day(&self) -> TimeOfDay {
        TimeOfDay::from_secs(self.tod_zero + self.now_ms / 1000)
    }

    /// The model's current time (the last `handle_timeout`).
    pub fn now(&self) -> Instant {
        self.to_instant(self.now_ms)
    }

    fn run_until(&mut self, t: u64) {
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > t {
                break;
            }
            let Some(Reverse((at, _, timer))) = self.timers.pop() else {
                break;
            };
            self.now_ms = self.now_ms.max(at);
            self.fire(timer);
        }
        self.now_ms = self.now_ms.max(t);
    }

    fn schedule_at(&mut self, at: u64, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, timer)));
    }

    fn schedule_in(&mut self, ms: u64, timer: Timer) {
        self.schedule_at(self.now_ms.saturating_add(ms), timer);
    }

    fn emit(&mut self, change: Change) {
        if self.emit {
            self.changes.push_back(change);
        }
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
            .find(|u| !u.email.is_empty() && u.email.eq_ignore_ascii_case(email))
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
            extn: u.extn.clone(),
            name: u.name.clone(),
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

    // ---------------------------------------------------------------------------------------
    // Administration: what an administrator, a phone or a test changes

    /// Restarts the system, as a reboot does: every call ends (no CallLost is reported: the
    /// connections that would carry it drop with the reboot), after-call work and park slots
    /// are cleared, callids and gcids count again from where they started (so later calls may
    /// reuse old gcids), the groups' counters start from zero, and traffic starts afresh.
    /// Users, groups and their guids stay.
    pub fn restart(&mut self) {
        self.calls.clear();
        self.park.clear();
        self.park_next_callid = 1;
        self.timers.clear();
        self.next_gcid = self.first_gcid;
        let now = self.now_ms;
        for u in self.users.iter_mut().flatten() {
            u.legs.clear();
            u.next_callid = 1;
            u.acw_until = None;
            u.epoch = u.epoch.wrapping_add(1);
            u.idle_since = now;
        }
        for q in self.queues.iter_mut().flatten() {
            q.appearances.clear();
            q.waiting.clear();
            q.next_callid = 1;
            q.counters = QueueCounters::default();
        }
        let ids: Vec<UserId> = self.users().map(|u| u.id).collect();
        for id in ids {
            if let Some(u) = self.user(id) {
                let state = Self::phone_state_of(u, &self.calls);
                if let Some(u) = self.user_mut(id) {
                    u.phone_state = state;
                }
            }
        }
        self.schedule_traffic();
        self.start_churn();
        self.changes.clear();
    }

    /// Schedules the site's own traffic: arrivals in every group and users' own calls.
    fn schedule_traffic(&mut self) {
        let queue_ids: Vec<QueueId> = self.queue_ids().collect();
        for q in queue_ids {
            self.schedule_arrival(q);
        }
        for kind in [DirectKind::In, DirectKind::Out, DirectKind::Internal] {
            self.schedule_direct(kind);
        }
    }

    /// Adds a user (reported as `adduser`).
    pub fn add_user(&mut self, spec: UserSpec) -> Result<UserId, SiteError> {
        if !(1..=15).contains(&spec.extn.len()) || !spec.extn.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SiteError::BadExtn(spec.extn));
        }
        if spec.name.is_empty() {
            return Err(SiteError::EmptyName(spec.extn));
        }
        if self.user_by_extn.contains_key(&spec.extn) || self.queue_by_extn.contains_key(&spec.extn)
        {
            return Err(SiteError::DuplicateExtn(spec.extn));
        }
        let guid = spec.effective_guid();
        if self.user_by_guid.contains_key(&guid) || self.queue_by_guid.contains_key(&guid) {
            return Err(SiteError::DuplicateGuid(guid_hex(&guid)));
        }
        let id = self.insert_user(spec);
        if let Some(u) = self.user(id) {
            let entry = self.user_entry(u);
            self.emit(Change::Lines(LinesOp::Add, entry));
        }
        Ok(id)
    }

    /// Removes a user (reported as `deleteuser`): the user's calls end or, when only ringing,
    /// go back to their group; the user leaves every group.
    pub fn remove_user(&mut self, id: UserId) -> bool {
        let Some(u) = self.user(id) else {
            return false;
        };
        let entry = self.user_entry(u);
        let legs = u.legs.clone();
        let queues = u.queues.clone();
        for (_, key) in legs {
            self.withdraw_user_from_call(key, id);
        }
        for q in &queues {
            if let Some(queue) = self.queue_mut(*q) {
                queue.members.retain(|m| m.user != id);
            }
            self.emit(Change::QueueConfig(*q));
        }
        self.direct_users.retain(|u| *u != id);
        if let Some(slot) = self.users.get_mut(id.0 as usize) {
            *slot = None;
        }
        self.user_by_extn.remove(&entry.extn);
        self.user_by_guid.remove(&entry.guid);
        self.emit(Change::Lines(LinesOp::Delete, entry));
        true
    }

    /// Renames a user (reported as `changeuser` and a new user Notify).
    pub fn rename_user(&mut self, id: UserId, name: &str) -> bool {
        let Some(u) = self.user_mut(id) else {
            return false;
        };
        u.name = name.to_string();
        let Some(u) = self.user(id) else {
            return false;
        };
        let entry = self.user_entry(u);
        self.emit(Change::Lines(LinesOp::Change, entry));
        self.emit(Change::UserConfig(id));
        true
    }

    /// Renames a hunt group (reported as `changequeue` and a new queue Notify).
    pub fn rename_queue(&mut self, id: QueueId, name: &str) -> bool {
        if self.queue_by_name.contains_key(name) {
            return false;
        }
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        let old = std::mem::replace(&mut q.name, name.to_string());
        self.queue_by_name.remove(&old);
        self.queue_by_name.insert(name.to_string(), id);
        let Some(q) = self.queue(id) else {
            return false;
        };
        let entry = self.queue_entry(q);
        self.emit(Change::Lines(LinesOp::Change, entry));
        self.emit(Change::QueueConfig(id));
        true
    }

    fn change_user(&mut self, id: UserId, f: impl FnOnce(&mut User)) -> bool {
        let Some(u) = self.user_mut(id) else {
            return false;
        };
        f(u);
        self.emit(Change::UserConfig(id));
        self.touch_user(id);
        self.after_user_free(id);
        true
    }

    /// Sets or clears do not disturb.
    pub fn set_dnd(&mut self, id: UserId, on: bool) -> bool {
        self.change_user(id, |u| u.dnd = on)
    }

    /// Logs the user off (or back on).
    pub fn set_logged_off(&mut self, id: UserId, off: bool) -> bool {
        self.change_user(id, |u| u.logged_off = off)
    }

    /// Marks the user's phone faulty (or working again).
    pub fn set_extn_fault(&mut self, id: UserId, fault: bool) -> bool {
        self.change_user(id, |u| u.extn_fault = fault)
    }

    /// Sets or clears the absence text.
    pub fn set_absence(&mut self, id: UserId, absence: Option<AbsenceText>) -> bool {
        self.change_user(id, |u| u.absence = absence)
    }

    /// Sets mobile twinning.
    pub fn set_ec500(&mut self, id: UserId, on: bool) -> bool {
        self.change_user(id, |u| u.ec500 = on)
    }

    /// Sets forward unconditional.
    pub fn set_fwdu(&mut self, id: UserId, on: bool, number: &str, to_vm: bool) -> bool {
        self.change_user(id, |u| {
            u.fwdu = on;
            u.fwdu_number = number.to_string();
            u.fwd_to_vm = to_vm;
        })
    }

    /// Sets the application presence string.
    pub fn set_app(&mut self, id: UserId, app: &str) -> bool {
        self.change_user(id, |u| u.app = app.to_string())
    }

    /// Sets a group's service mode; calls are routed again when it becomes Active.
    pub fn set_service_mode(&mut self, id: QueueId, mode: ServiceMode) -> bool {
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        q.service_mode = mode;
        self.emit(Change::QueueConfig(id));
        self.route(id);
        true
    }

    /// Enables or disables a group's voicemail.
    pub fn set_queue_voicemail(&mut self, id: QueueId, on: bool) -> bool {
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        q.voicemail = on;
        self.emit(Change::QueueConfig(id));
        true
    }

    /// Adds a member to a group, or changes an existing member's enabled state.
    pub fn set_member(&mut self, id: QueueId, user: UserId, enabled: bool) -> bool {
        if self.user(user).is_none() {
            return false;
        }
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        match q.members.iter_mut().find(|m| m.user == user) {
            Some(m) => m.enabled = enabled,
            None => {
                q.members.push(Member { user, enabled });
                if let Some(u) = self.user_mut(user) {
                    u.queues.push(id);
                }
            }
        }
        self.emit(Change::QueueConfig(id));
        self.route(id);
        true
    }

    /// Removes a member from a group.
    pub fn remove_member(&mut self, id: QueueId, user: UserId) -> bool {
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        let before = q.members.len();
        q.members.retain(|m| m.user != user);
        if q.members.len() == before {
            return false;
        }
        if let Some(u) = self.user_mut(user) {
            u.queues.retain(|q| *q != id);
        }
        self.emit(Change::QueueConfig(id));
        true
    }

    /// Replaces a group's member list.
    pub fn set_members(&mut self, id: QueueId, members: &[Member]) -> bool {
        let Some(q) = self.queue(id) else {
            return false;
        };
        let old: Vec<UserId> = q.members.iter().map(|m| m.user).collect();
        for u in old {
            if let Some(u) = self.user_mut(u) {
                u.queues.retain(|q| *q != id);
            }
        }
        let mut list: Vec<Member> = Vec::new();
        for m in members {
            if self.user(m.user).is_some() && !list.iter().any(|x| x.user == m.user) {
                list.push(*m);
            }
        }
        for m in &list {
            if let Some(u) = self.user_mut(m.user) {
                u.queues.push(id);
            }
        }
        if let Some(q) = self.queue_mut(id) {
            q.members = list;
        }
        self.emit(Change::QueueConfig(id));
        self.route(id);
        true
    }

    /// An outside caller rings `user` directly now (their own DID); `None` when the user is
    /// not there.
    pub fn place_user_call(&mut self, user: UserId, caller: Caller) -> Option<CallKey> {
        let did = self.user(user)?.did.clone();
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

    // ---------------------------------------------------------------------------------------
    // Phone state

    fn phone_state_of(u: &User, calls: &BTreeMap<CallKey, Call>) -> PhoneState {
        if u.logged_off {
            return PhoneState::Logout;
        }
        if u.extn_fault {
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
            !u.logged_off && !u.extn_fault && !u.dnd && u.legs.is_empty() && u.acw_until.is_none()
        })
    }

    /// Whether the user can make a call now (DND does not stop outgoing calls).
    fn user_can_dial(&self, id: UserId) -> bool {
        self.user(id).is_some_and(|u| {
            !u.logged_off && !u.extn_fault && u.legs.is_empty() && u.acw_until.is_none()
        })
    }

    fn draw_ms(&mut self, secs: &std::ops::RangeInclusive<u32>) -> u64 {
        let lo = u64::from(*secs.start()) * 1000;
        let hi = u64::from(*secs.end()) * 1000;
        self.rng.random_range(lo..=hi.max(lo))
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
