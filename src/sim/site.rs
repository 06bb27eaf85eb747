//! A site: the configuration of a simulated IP Office (users, hunt groups, park slots) and the
//! shape of its traffic. A site is plain data; [`crate::sim::Pbx`] brings it to life.

use std::collections::HashSet;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::protocol::cmd::ServiceMode;
use crate::protocol::pb;

/// A 16-byte IP Office object id, as carried in `LinesUser.guid` and `SubscribeUser.guid`.
pub type Guid = [u8; 16];

/// How a hunt group picks the agent to ring (`NotifyQueue.ringmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RingMode {
    /// 0: ring the member who has been idle longest.
    #[default]
    RingIdle,
    /// 1: ring the first free member in list order.
    Sequential,
    /// 2: ring every free member at once; the first to answer takes the call.
    Group,
}

impl RingMode {
    /// The `ringmode` number on the wire.
    pub fn to_wire(self) -> i32 {
        match self {
            RingMode::RingIdle => 0,
            RingMode::Sequential => 1,
            RingMode::Group => 2,
        }
    }
}

/// The kind of trunk a call arrives on (`TrunkInfo.trunktype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TrunkKind {
    /// A SIP trunk.
    #[default]
    Sip,
    /// An ISDN trunk.
    Isdn,
}

impl TrunkKind {
    /// The enum value on the wire.
    pub fn to_wire(self) -> pb::trunk_info::TrunkType {
        match self {
            TrunkKind::Sip => pb::trunk_info::TrunkType::TrunkSip,
            TrunkKind::Isdn => pb::trunk_info::TrunkType::TrunkIsdn,
        }
    }
}

/// A time of day on the simulated site's clock, in seconds since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeOfDay(u32);

impl TimeOfDay {
    /// From hours, minutes and seconds; `None` when out of range.
    pub fn from_hms(h: u32, m: u32, s: u32) -> Option<Self> {
        (h < 24 && m < 60 && s < 60).then_some(TimeOfDay(h * 3600 + m * 60 + s))
    }

    /// From seconds since midnight, wrapping at 24 hours.
    pub fn from_secs(secs: u64) -> Self {
        // The remainder is below 86 400, so it fits.
        TimeOfDay((secs % 86_400) as u32)
    }

    /// Seconds since midnight.
    pub fn secs(self) -> u32 {
        self.0
    }

    /// Hours since midnight as a fraction (10:30 is 10.5).
    pub fn hours(self) -> f64 {
        f64::from(self.0) / 3600.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

/// Why a time of day could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time of day: write HH:MM or HH:MM:SS, e.g. 10:30")]
pub struct TimeOfDayError(String);

impl FromStr for TimeOfDay {
    type Err = TimeOfDayError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TimeOfDayError(s.to_string());
        let parts: Vec<&str> = s.split(':').collect();
        let num = |p: &str| -> Result<u32, TimeOfDayError> {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (h, m, sec) = match parts.as_slice() {
            [h, m] => (num(h)?, num(m)?, 0),
            [h, m, sec] => (num(h)?, num(m)?, num(sec)?),
            _ => return Err(bad()),
        };
        TimeOfDay::from_hms(h, m, sec).ok_or_else(bad)
    }
}

/// A voicemail box's message counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailboxCounts {
    /// New (unheard) messages.
    pub new: u32,
    /// Old (heard) messages.
    pub old: u32,
    /// Saved messages.
    pub saved: u32,
}

/// A user's absence text (`Absence.msg` and `Absence.str`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceText {
    /// The document's message type, 1..=11 (11 = the whole text is in `text`).
    pub msg: i32,
    /// The text.
    pub text: String,
}

/// One user (an agent or the supervisor).
#[derive(Debug, Clone, PartialEq)]
pub struct UserSpec {
    /// Extension number in the dial plan (digits).
    pub extn: String,
    /// User name (short, as in the lines list).
    pub name: String,
    /// Full name.
    pub fullname: String,
    /// Email address (may be empty).
    pub email: String,
    /// The user's guid; derived from the extension when `None`.
    pub guid: Option<Guid>,
    /// Locale code, e.g. `eng`.
    pub language: String,
    /// Do not disturb.
    pub dnd: bool,
    /// Not logged in anywhere.
    pub logged_off: bool,
    /// The user's phone is not working.
    pub extn_fault: bool,
    /// Voicemail enabled.
    pub voicemail: bool,
    /// Voicemail box counters.
    pub mailbox: MailboxCounts,
    /// Absence text, if set.
    pub absence: Option<AbsenceText>,
    /// Whether this user makes and receives direct (non-queue) calls.
    pub direct_calls: bool,
    /// The user's own DID, shown on direct inbound calls.
    pub did: String,
    /// The mobile twin's number (PushToEC500 needs it and mobile twinning on).
    pub mobile: String,
    /// Mobile twinning on at start.
    pub ec500: bool,
}

impl UserSpec {
    /// A logged-on user with voicemail, no DND and no direct calls.
    pub fn new(extn: &str, name: &str, fullname: &str) -> Self {
        UserSpec {
            extn: extn.to_string(),
            name: name.to_string(),
            fullname: fullname.to_string(),
            email: String::new(),
            guid: None,
            language: "eng".to_string(),
            dnd: false,
            logged_off: false,
            extn_fault: false,
            voicemail: true,
            mailbox: MailboxCounts::default(),
            absence: None,
            direct_calls: false,
            did: String::new(),
            mobile: String::new(),
            ec500: false,
        }
    }

    /// The guid given, or the one derived from the extension.
    pub fn effective_guid(&self) -> Guid {
        self.guid.unwrap_or_else(|| derive_guid(b'U', &self.extn))
    }
}

/// A hunt group member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    /// The member's extension.
    pub extn: String,
    /// Whether the member currently accepts calls from this group.
    pub enabled: bool,
}

impl MemberSpec {
    /// An enabled member.
    pub fn enabled(extn: &str) -> Self {
        MemberSpec {
            extn: extn.to_string(),
            enabled: true,
        }
    }

    /// A disabled member.
    pub fn disabled(extn: &str) -> Self {
        MemberSpec {
            extn: extn.to_string(),
            enabled: false,
        }
    }
}

/// Where a hunt group's calls overflow, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverflowSpec {
    /// The overflow group's extension.
    pub queue_extn: String,
    /// How long a call waits before the overflow group's members are targeted too.
    pub after: Duration,
}

/// One hunt group (a queue).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    /// Extension number in the dial plan.
    pub extn: String,
    /// Group name (unique: queues can be subscribed by name).
    pub name: String,
    /// The group's guid; derived from the extension when `None`.
    pub guid: Option<Guid>,
    /// Email address (may be empty).
    pub email: String,
    /// How members are rung.
    pub ring_mode: RingMode,
    /// Members in list order.
    pub members: Vec<MemberSpec>,
    /// Service mode at start.
    pub service_mode: ServiceMode,
    /// Seconds a member rings before the call moves on.
    pub no_answer_time: u32,
    /// Voicemail enabled.
    pub voicemail: bool,
    /// Seconds a call waits before it goes to voicemail (when enabled).
    pub voicemail_time: u32,
    /// Voicemail box counters.
    pub mailbox: MailboxCounts,
    /// Overflow, if any.
    pub overflow: Option<OverflowSpec>,
    /// Arrivals per hour when the daily curve is at 1.0 (0 for none).
    pub calls_per_hour: f64,
    /// The number callers dial (shown as `calledparty` and `TrunkInfo.did`).
    pub did: String,
    /// The trunk the group's calls arrive on.
    pub trunk: TrunkKind,
}

impl QueueSpec {
    /// An active ring-idle group with no traffic of its own.
    pub fn new(extn: &str, name: &str, members: Vec<MemberSpec>) -> Self {
        QueueSpec {
            extn: extn.to_string(),
            name: name.to_string(),
            guid: None,
            email: String::new(),
            ring_mode: RingMode::RingIdle,
            members,
            service_mode: ServiceMode::Active,
            no_answer_time: 15,
            voicemail: false,
            voicemail_time: 300,
            mailbox: MailboxCounts::default(),
            overflow: None,
            calls_per_hour: 0.0,
            did: format!("0300{extn}"),
            trunk: TrunkKind::Sip,
        }
    }

    /// The guid given, or the one derived from the extension.
    pub fn effective_guid(&self) -> Guid {
        self.guid.unwrap_or_else(|| derive_guid(b'Q', &self.extn))
    }
}

/// A call already parked when the site starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedSpec {
    /// The park slot (1 to 9 characters of `0-9 # *`).
    pub slot: String,
    /// The caller's number.
    pub number: String,
    /// The caller's name (may be empty).
    pub name: String,
    /// When the caller gives up and hangs up; `None` to stay parked.
    pub hangup_after: Option<Duration>,
}

/// The daily curve: (hour of day, multiplier) points, linearly interpolated.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyCurve(pub Vec<(f64, f64)>);

impl Default for DailyCurve {
    /// An office day: quiet at night, a morning peak around 10:00, a smaller one after lunch.
    fn default() -> Self {
        DailyCurve(vec![
            (0.0, 0.05),
            (7.0, 0.1),
            (8.0, 0.55),
            (9.0, 1.0),
            (10.0, 1.25),
            (11.0, 1.15),
            (12.0, 0.85),
            (13.0, 0.9),
            (14.0, 1.0),
            (15.0, 0.95),
            (16.0, 0.75),
            (17.0, 0.45),
            (18.0, 0.2),
            (20.0, 0.08),
            (24.0, 0.05),
        ])
    }
}

impl DailyCurve {
    /// A flat curve at 1.0 all day.
    pub fn flat() -> Self {
        DailyCurve(vec![(0.0, 1.0), (24.0, 1.0)])
    }

    /// The multiplier at `t`.
    pub fn at(&self, t: TimeOfDay) -> f64 {
        let h = t.hours();
        let pts = &self.0;
        let mut prev: Option<(f64, f64)> = None;
        for &(ph, pm) in pts {
            if h <= ph {
                return match prev {
                    Some((h0, m0)) if ph > h0 => m0 + (pm - m0) * (h - h0) / (ph - h0),
                    _ => pm,
                };
            }
            prev = Some((ph, pm));
        }
        prev.map_or(1.0, |(_, m)| m)
    }

    /// The largest multiplier (the thinning bound for arrivals).
    pub fn max(&self) -> f64 {
        self.0.iter().map(|&(_, m)| m).fold(0.0, f64::max)
    }
}

/// The shape of the traffic: durations are in seconds, drawn uniformly from the ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// Talk time of a queue call.
    pub talk: RangeInclusive<u32>,
    /// After-call work following a queue call.
    pub acw: RangeInclusive<u32>,
    /// How long a caller waits unanswered before hanging up.
    pub patience: RangeInclusive<u32>,
    /// How long a ringing agent takes to answer.
    pub answer_delay: RangeInclusive<u32>,
    /// The chance that a ringing agent does not answer at all.
    pub no_answer_chance: f64,
    /// Direct inbound calls per hour per user with direct calls (curve at 1.0).
    pub direct_in_per_user_hour: f64,
    /// Direct outbound calls per hour per user with direct calls (curve at 1.0).
    pub direct_out_per_user_hour: f64,
    /// Internal calls per hour per user with direct calls (curve at 1.0).
    pub internal_per_user_hour: f64,
    /// Talk time of a direct or internal call.
    pub direct_talk: RangeInclusive<u32>,
    /// The chance that the far end answers an outbound call.
    pub outbound_answer_chance: f64,
    /// The chance that an external caller's name is presented.
    pub named_caller_chance: f64,
    /// The chance that an external caller withholds the number.
    pub withheld_chance: f64,
    /// Weights of call priorities 1, 2 and 3.
    pub priority_weights: [f64; 3],
    /// Voicemail message length (the time a call spends answered by voicemail).
    pub voicemail_message: RangeInclusive<u32>,
    /// The chance that a user parks an answered direct call for a colleague.
    pub park_chance: f64,
    /// How long a parked call waits before a free colleague picks it up.
    pub parked_for: RangeInclusive<u32>,
    /// The arrival rate's daily curve.
    pub curve: DailyCurve,
    /// Holds and unholds per second on calls in progress, after the warm-up: each changes the
    /// call's appearance on the agent's and the group's line. A load generator for benchmarks
    /// (the scale scenario); 0 in any believable site.
    pub churn_per_sec: f64,
}

impl Default for Traffic {
    /// The typical figures of a call centre (see `screens.md`).
    fn default() -> Self {
        Traffic {
            talk: 180..=360,
            acw: 30..=90,
            patience: 60..=180,
            answer_delay: 2..=9,
            no_answer_chance: 0.05,
            direct_in_per_user_hour: 0.8,
            direct_out_per_user_hour: 1.0,
            internal_per_user_hour: 0.3,
            direct_talk: 45..=240,
            outbound_answer_chance: 0.8,
            named_caller_chance: 0.45,
            withheld_chance: 0.06,
            priority_weights: [0.7, 0.2, 0.1],
            voicemail_message: 20..=60,
            park_chance: 0.15,
            parked_for: 20..=90,
            curve: DailyCurve::default(),
            churn_per_sec: 0.0,
        }
    }
}

impl Traffic {
    /// No calls of its own: only calls a test places or seeds. Durations keep their defaults.
    pub fn quiet() -> Self {
        Traffic {
            direct_in_per_user_hour: 0.0,
            direct_out_per_user_hour: 0.0,
            internal_per_user_hour: 0.0,
            park_chance: 0.0,
            ..Traffic::default()
        }
    }
}

/// A whole simulated site.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// The system's name.
    pub system_name: String,
    /// What `getversioninfo` answers.
    pub version: String,
    /// The system's address; it is part of every gcid.
    pub system_ip: [u8; 4],
    /// Users, agents and supervisor alike.
    pub users: Vec<UserSpec>,
    /// Hunt groups.
    pub queues: Vec<QueueSpec>,
    /// Park slots the site's own agents use.
    pub park_slots: Vec<String>,
    /// Calls parked at start.
    pub parked: Vec<ParkedSpec>,
    /// The account codes (`getfile nasystem/AccountCode`); SetAccountCode accepts only these.
    pub account_codes: Vec<String>,
    /// The authorization codes SetAuthCode accepts (clients have no way to list them).
    pub auth_codes: Vec<String>,
    /// Traffic shape.
    pub traffic: Traffic,
    /// How much traffic runs before the start, so calls are already in progress at the start.
    pub warmup: Duration,
    /// After the warm-up, each Active group with traffic of its own gets calls until at least
    /// this many wait in it (callers who have waited a little already).
    pub start_waiting: usize,
    /// After the warm-up, agents in after-call work (or, failing that, finishing a call) become
    /// free until at least this many ring with a waiting call.
    pub start_ringing: usize,
    /// After the warm-up the site stands still: the calls in progress stay as they are and
    /// nothing arrives, changes or ends by itself (what clients ask for still happens).
    pub still: bool,
}

impl Default for Site {
    /// An empty, quiet site.
    fn default() -> Self {
        Site {
            system_name: "IPO-SIM".to_string(),
            version: "IP Office 12.2.0.0 build 101 (ipo-top simulator)".to_string(),
            system_ip: [192, 168, 42, 11],
            users: Vec::new(),
            queues: Vec::new(),
            park_slots: Vec::new(),
            parked: Vec::new(),
            account_codes: Vec::new(),
            auth_codes: Vec::new(),
            traffic: Traffic::quiet(),
            warmup: Duration::ZERO,
            start_waiting: 0,
            start_ringing: 0,
            still: false,
        }
    }
}

/// What is wrong with a site.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SiteError {
    /// An extension is not 1 to 15 digits.
    #[error("extension `{0}` must be 1 to 15 digits")]
    BadExtn(String),
    /// Two users or groups share an extension.
    #[error("extension {0} is used twice")]
    DuplicateExtn(String),
    /// Two users or groups share a guid.
    #[error("guid {0} is used twice")]
    DuplicateGuid(String),
    /// A name is empty.
    #[error("extension {0} has an empty name")]
    EmptyName(String),
    /// Two groups share a name.
    #[error("group name `{0}` is used twice (groups can be subscribed by name)")]
    DuplicateQueueName(String),
    /// A member is not a user.
    #[error("group {queue} lists member {member}, who is not a user")]
    UnknownMember {
        /// The group's extension.
        queue: String,
        /// The member's extension.
        member: String,
    },
    /// A member is listed twice.
    #[error("group {queue} lists member {member} twice")]
    DuplicateMember {
        /// The group's extension.
        queue: String,
        /// The member's extension.
        member: String,
    },
    /// An overflow names no other group.
    #[error("group {queue} overflows to {target}, which is not another group")]
    BadOverflow {
        /// The group's extension.
        queue: String,
        /// The overflow target.
        target: String,
    },
    /// A park slot is malformed or used twice.
    #[error("park slot `{0}` must be 1 to 9 characters of 0-9 # * and used once")]
    BadParkSlot(String),
    /// A number in the traffic shape is out of range.
    #[error("traffic: {0}")]
    BadTraffic(String),
    /// A group has a zero no-answer time.
    #[error("group {0} needs a no-answer time of at least 1 s")]
    BadNoAnswerTime(String),
}

fn is_extn(s: &str) -> bool {
    (1..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is a well-formed park slot: 1 to 9 characters of `0-9 # *` (the document's
/// limits for Park's arg1).
pub fn is_park_slot(s: &str) -> bool {
    (1..=9).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'#' || b == b'*')
}

/// A guid for an object of `kind` with this extension: stable across runs, like IP Office's.
pub fn derive_guid(kind: u8, extn: &str) -> Guid {
    let digest = Sha256::new()
        .chain_update([kind])
        .chain_update(extn.as_bytes())
        .finalize();
    let mut g = [0u8; 16];
    g[..10].copy_from_slice(&digest[..10]);
    // The tail of an IP Office guid is the system's MAC address.
    g[10..].copy_from_slice(&[0x00, 0x50, 0x56, 0x9F, 0x6E, 0xF8]);
    g
}

/// Formats a guid as the document prints it: 32 upper-case hex digits.
pub fn guid_hex(g: &Guid) -> String {
    g.iter().map(|b| format!("{b:02X}")).collect()
}

fn check_range(name: &str, r: &RangeInclusive<u32>) -> Result<(), SiteError> {
    if r.start() > r.end() {
        return Err(SiteError::BadTraffic(format!(
            "{name} range {}..={} is empty",
            r.start(),
            r.end()
        )));
    }
    Ok(())
}

fn check_chance(name: &str, p: f64) -> Result<(), SiteError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(SiteError::BadTraffic(format!(
            "{name} {p} must be between 0 and 1"
        )));
    }
    Ok(())
}

fn check_rate(name: &str, r: f64) -> Result<(), SiteError> {
    if !(r.is_finite() && r >= 0.0) {
        return Err(SiteError::BadTraffic(format!(
            "{name} {r} must be a finite rate of 0 or more"
        )));
    }
    Ok(())
}

impl Site {
    /// Checks that the site is consistent: unique extensions, guids and group names, members
    /// that exist, overflows that name another group, valid park slots and traffic figures.
    pub fn validate(&self) -> Result<(), SiteError> {
        let mut extns = HashSet::new();
        let mut guids = HashSet::new();
        for u in &self.users {
            if !is_extn(&u.extn) {
                return Err(SiteError::BadExtn(u.extn.clone()));
            }
            if u.name.is_empty() {
                return Err(SiteError::EmptyName(u.extn.clone()));
            }
            if !extns.insert(u.extn.as_str()) {
                return Err(SiteError::DuplicateExtn(u.extn.clone()));
            }
            let g = u.effective_guid();
            if !guids.insert(g) {
                return Err(SiteError::DuplicateGuid(guid_hex(&g)));
            }
        }
        let user_extns: HashSet<&str> = self.users.iter().map(|u| u.extn.as_str()).collect();
        let mut names = HashSet::new();
        for q in &self.queues {
            if !is_extn(&q.extn) {
                return Err(SiteError::BadExtn(q.extn.clone()));
            }
            if q.name.is_empty() {
                return Err(SiteError::EmptyName(q.extn.clone()));
            }
            if !extns.insert(q.extn.as_str()) {
                return Err(SiteError::DuplicateExtn(q.extn.clone()));
            }
            let g = q.effective_guid();
            if !guids.insert(g) {
                return Err(SiteError::DuplicateGuid(guid_hex(&g)));
            }
            if !names.insert(q.name.as_str()) {
                return Err(SiteError::DuplicateQueueName(q.name.clone()));
            }
            if q.no_answer_time == 0 {
                return Err(SiteError::BadNoAnswerTime(q.extn.clone()));
            }
            let mut members = HashSet::new();
            for m in &q.members {
                if !user_extns.contains(m.extn.as_str()) {
                    return Err(SiteError::UnknownMember {
                        queue: q.extn.clone(),
                        member: m.extn.clone(),
                    });
                }
                if !members.insert(m.extn.as_str()) {
                    return Err(SiteError::DuplicateMember {
                        queue: q.extn.clone(),
                        member: m.extn.clone(),
                    });
                }
            }
            check_rate(
                &format!("group {} calls_per_hour", q.extn),
                q.calls_per_hour,
            )?;
        }
        for q in &self.queues {
            if let Some(o) = &q.overflow {
                let ok =
                    o.queue_extn != q.extn && self.queues.iter().any(|x| x.extn == o.queue_extn);
                if !ok {
                    return Err(SiteError::BadOverflow {
                        queue: q.extn.clone(),
                        target: o.queue_extn.clone(),
                    });
                }
            }
        }
        let mut slots = HashSet::new();
        for s in self
            .park_slots
            .iter()
            .chain(self.parked.iter().map(|p| &p.slot))
        {
            if !is_park_slot(s) {
                return Err(SiteError::BadParkSlot(s.clone()));
            }
        }
        for p in &self.parked {
            if !slots.insert(p.slot.as_str()) {
                return Err(SiteError::BadParkSlot(p.slot.clone()));
            }
        }
        let t = &self.traffic;
        check_range("talk", &t.talk)?;
        check_range("acw", &t.acw)?;
        check_range("patience", &t.patience)?;
        check_range("answer_delay", &t.answer_delay)?;
        check_range("direct_talk", &t.direct_talk)?;
        check_range("voicemail_message", &t.voicemail_message)?;
        check_range("parked_for", &t.parked_for)?;
        check_chance("park_chance", t.park_chance)?;
        check_chance("no_answer_chance", t.no_answer_chance)?;
        check_chance("outbound_answer_chance", t.outbound_answer_chance)?;
        check_chance("named_caller_chance", t.named_caller_chance)?;
        check_chance("withheld_chance", t.withheld_chance)?;
        check_rate("direct_in_per_user_hour", t.direct_in_per_user_hour)?;
        check_rate("direct_out_per_user_hour", t.direct_out_per_user_hour)?;
        check_rate("internal_per_user_hour", t.internal_per_user_hour)?;
        check_rate("churn_per_sec", t.churn_per_sec)?;
        if t.priority_weights
            .iter()
            .any(|w| !(w.is_finite() && *w >= 0.0))
            || t.priority_weights.iter().sum::<f64>() <= 0.0
        {
            return Err(SiteError::BadTraffic(
                "priority_weights must be non-negative with a positive sum".to_string(),
            ));
        }
        let curve_ok = !t.curve.0.is_empty()
            && t.curve.0.windows(2).all(|w| w[0].0 <= w[1].0)
            && t.curve
                .0
                .iter()
                .all(|&(h, m)| (0.0..=24.0).contains(&h) && m.is_finite() && m >= 0.0);
        if !curve_ok {
            return Err(SiteError::BadTraffic(
                "the daily curve needs sorted hours in 0..=24 and multipliers of 0 or more"
                    .to_string(),
            ));
        }
        Ok(())
    }
}
