//! Users (agents, the supervisor, anyone with an extension) and their derived agent state.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::call::{Absence, Appearance};
use super::ids::{Guid, Text};
use super::words::is_default;

/// A user function named by a bit of the user's `featuresavailable`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum UserFunction {
    /// Set or unset Do Not Disturb (bit 1).
    Sac,
    /// Change absence text (bit 2).
    Absence,
    /// Change mobile twinning (bit 3).
    Ec500,
    /// Hot-desk to another extension (bit 4).
    Login,
    /// Send short codes (bit 5).
    ShortCode,
    /// MakeCall: needed for barge, pickup and unpark from this user (bit 6).
    MakeCall,
    /// Set forward unconditional (bit 7).
    Fwdu,
    /// Change the application presence string (bit 9).
    App,
}

impl UserFunction {
    /// Every function, lowest bit first.
    pub const ALL: [UserFunction; 8] = [
        UserFunction::Sac,
        UserFunction::Absence,
        UserFunction::Ec500,
        UserFunction::Login,
        UserFunction::ShortCode,
        UserFunction::MakeCall,
        UserFunction::Fwdu,
        UserFunction::App,
    ];

    /// Its bit in `featuresavailable`.
    pub const fn bit(self) -> u32 {
        match self {
            UserFunction::Sac => 1,
            UserFunction::Absence => 2,
            UserFunction::Ec500 => 3,
            UserFunction::Login => 4,
            UserFunction::ShortCode => 5,
            UserFunction::MakeCall => 6,
            UserFunction::Fwdu => 7,
            UserFunction::App => 9,
        }
    }

    /// The document's short name.
    pub const fn name(self) -> &'static str {
        match self {
            UserFunction::Sac => "SAC",
            UserFunction::Absence => "ABSENCE",
            UserFunction::Ec500 => "EC500",
            UserFunction::Login => "LOGIN",
            UserFunction::ShortCode => "SHORTCODE",
            UserFunction::MakeCall => "MAKECALL",
            UserFunction::Fwdu => "FWDU",
            UserFunction::App => "APP",
        }
    }
}

/// A user's `featuresavailable`. Bit 0 (VALID) says whether the field is populated at all:
/// older systems leave it empty, and then nothing can be concluded from it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UserFeatureBits(pub u32);

impl UserFeatureBits {
    /// Whether the PBX populated the field (VALID, bit 0).
    pub const fn is_valid(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether `f` may be used: its bit is set, or the field is not populated (VALID unset), in
    /// which case the PBX is the judge.
    pub const fn allows(self, f: UserFunction) -> bool {
        !self.is_valid() || self.0 & (1u32 << f.bit()) != 0
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for UserFeatureBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)?;
        if self.is_valid() {
            for func in UserFunction::ALL {
                if self.allows(func) {
                    write!(f, " {}", func.name())?;
                }
            }
        } else {
            f.write_str(" (not populated)")?;
        }
        Ok(())
    }
}

impl Serialize for UserFeatureBits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        if !self.is_valid() {
            return s.serialize_none();
        }
        let mut seq = s.serialize_seq(None)?;
        for f in UserFunction::ALL {
            if self.allows(f) {
                seq.serialize_element(f.name())?;
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for UserFeatureBits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Written as null when the PBX left the field unpopulated, else the allowed names.
        let bits = super::words::optional_names_to_bits(
            d,
            &UserFunction::ALL,
            UserFunction::name,
            UserFunction::bit,
        )?;
        Ok(UserFeatureBits(bits.map_or(0, |b| b | 1)))
    }
}

/// Voicemail box counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Mailbox {
    /// New messages.
    pub new: i32,
    /// Old messages.
    pub old: i32,
    /// Saved messages.
    pub saved: i32,
}

/// Forwarding settings of a user.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Forwarding {
    /// Forward unconditional is on.
    #[serde(default, skip_serializing_if = "is_default")]
    pub unconditional: bool,
    /// Forward on busy is on.
    #[serde(default, skip_serializing_if = "is_default")]
    pub busy: bool,
    /// Forward on no answer is on.
    #[serde(default, skip_serializing_if = "is_default")]
    pub no_answer: bool,
    /// Hunt group calls follow forward unconditional.
    #[serde(default, skip_serializing_if = "is_default")]
    pub hunt_group: bool,
    /// Forward unconditional destination.
    #[serde(default, skip_serializing_if = "is_default")]
    pub unconditional_number: Text,
    /// Forward on busy destination, if different.
    #[serde(default, skip_serializing_if = "is_default")]
    pub busy_number: Text,
    /// Forward unconditional goes to voicemail.
    #[serde(default, skip_serializing_if = "is_default")]
    pub to_voicemail: bool,
}

/// A user's status from its user Notify: everything the PBX reports about the user itself.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct UserStatus {
    /// Full name.
    pub full_name: Text,
    /// Email address.
    #[serde(default, skip_serializing_if = "is_default")]
    pub email: Text,
    /// Locale code.
    #[serde(default, skip_serializing_if = "is_default")]
    pub language: Text,
    /// What may be changed on this user.
    #[serde(default, skip_serializing_if = "is_default")]
    pub features: UserFeatureBits,
    /// Do not disturb.
    #[serde(default, skip_serializing_if = "is_default")]
    pub dnd: bool,
    /// Barred from external calls.
    #[serde(default, skip_serializing_if = "is_default")]
    pub barred: bool,
    /// Ex-directory.
    #[serde(default, skip_serializing_if = "is_default")]
    pub ex_directory: bool,
    /// Voicemail enabled.
    #[serde(default, skip_serializing_if = "is_default")]
    pub voicemail: bool,
    /// The extension the user is logged in at (hot desking), if any.
    #[serde(default, skip_serializing_if = "is_default")]
    pub logged_in_extn: Text,
    /// The user has no working phone.
    #[serde(default, skip_serializing_if = "is_default")]
    pub extn_fault: bool,
    /// The user is not logged in anywhere.
    #[serde(default, skip_serializing_if = "is_default")]
    pub logged_off: bool,
    /// Absence text, when set.
    #[serde(default, skip_serializing_if = "is_default")]
    pub absence: Option<Absence>,
    /// Voicemail counters (with the MAILBOX subscription flag).
    #[serde(default, skip_serializing_if = "is_default")]
    pub mailbox: Option<Mailbox>,
    /// Application presence string.
    #[serde(default, skip_serializing_if = "is_default")]
    pub app: Text,
    /// No application is registered that can edit the app field.
    #[serde(default, skip_serializing_if = "is_default")]
    pub no_app_handler: bool,
    /// Mobile twinning on.
    #[serde(default, skip_serializing_if = "is_default")]
    pub ec500: bool,
    /// Forwarding.
    #[serde(default, skip_serializing_if = "is_default")]
    pub forwarding: Forwarding,
    /// Allowed to forward off-switch.
    #[serde(default, skip_serializing_if = "is_default")]
    pub offswitch: bool,
}

/// A user's phone state as the presence subscription reports it (`NotifyPresentity.phonestate`,
/// the document's table 1). The PBX reports after-call work only here: a call ends with a
/// CallLost and the agent's phone goes to ACW.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum PhoneState {
    /// 0: idle.
    #[default]
    Idle,
    /// 1: dialling.
    Dialling,
    /// 2: ringing.
    Ringing,
    /// 3: after-call work.
    AfterCallWork,
    /// 4: connected.
    Connected,
    /// 5: logged out.
    Logout,
    /// 6: the phone is faulty.
    Fault,
    /// 7: recovering.
    Recover,
    /// 8: the PBX does not know the state (or the presentity).
    Unknown,
    /// A value the document does not list.
    Other(i32),
}

impl PhoneState {
    /// From the number on the wire.
    pub const fn from_code(code: i32) -> Self {
        match code {
            0 => PhoneState::Idle,
            1 => PhoneState::Dialling,
            2 => PhoneState::Ringing,
            3 => PhoneState::AfterCallWork,
            4 => PhoneState::Connected,
            5 => PhoneState::Logout,
            6 => PhoneState::Fault,
            7 => PhoneState::Recover,
            8 => PhoneState::Unknown,
            other => PhoneState::Other(other),
        }
    }

    /// The number on the wire.
    pub const fn code(self) -> i32 {
        match self {
            PhoneState::Idle => 0,
            PhoneState::Dialling => 1,
            PhoneState::Ringing => 2,
            PhoneState::AfterCallWork => 3,
            PhoneState::Connected => 4,
            PhoneState::Logout => 5,
            PhoneState::Fault => 6,
            PhoneState::Recover => 7,
            PhoneState::Unknown => 8,
            PhoneState::Other(c) => c,
        }
    }

    /// The document's word for it.
    pub const fn word(self) -> &'static str {
        match self {
            PhoneState::Idle => "Idle",
            PhoneState::Dialling => "Dialling",
            PhoneState::Ringing => "Ringing",
            PhoneState::AfterCallWork => "ACW",
            PhoneState::Connected => "Connected",
            PhoneState::Logout => "Logout",
            PhoneState::Fault => "Fault",
            PhoneState::Recover => "Recover",
            PhoneState::Unknown => "Unknown state",
            PhoneState::Other(_) => "?",
        }
    }
}

impl Serialize for PhoneState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PhoneState::Other(c) => s.serialize_i32(*c),
            p => s.serialize_str(p.word()),
        }
    }
}

impl<'de> Deserialize<'de> for PhoneState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::words::word_or_code(d, PhoneState::from_code, |p| {
            (!matches!(p, PhoneState::Other(_))).then(|| p.word())
        })
    }
}

/// What a supervisor sees an agent doing, derived from the user's status, its phone state and
/// its call appearances (most telling first: a fault or log-off hides everything else, talking hides a
/// second call ringing).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum AgentState {
    /// Not yet reported by the PBX.
    #[default]
    Unknown,
    /// The user has no working phone.
    Fault,
    /// Not logged in anywhere.
    LoggedOff,
    /// On a call: talking, or making, transferring or conferencing one.
    Talking,
    /// A call rings.
    Ringing,
    /// Only held calls.
    Held,
    /// After-call work.
    AfterCallWork,
    /// Do not disturb, no call.
    Dnd,
    /// Idle and reachable.
    Available,
}

impl AgentState {
    /// Every state.
    pub const ALL: [AgentState; 9] = [
        AgentState::Unknown,
        AgentState::Fault,
        AgentState::LoggedOff,
        AgentState::Talking,
        AgentState::Ringing,
        AgentState::Held,
        AgentState::AfterCallWork,
        AgentState::Dnd,
        AgentState::Available,
    ];

    /// The short word the agent grid shows.
    pub const fn word(self) -> &'static str {
        match self {
            AgentState::Unknown => "?",
            AgentState::Fault => "FAULT",
            AgentState::LoggedOff => "OFF",
            AgentState::Talking => "TALK",
            AgentState::Ringing => "RING",
            AgentState::Held => "HOLD",
            AgentState::AfterCallWork => "ACW",
            AgentState::Dnd => "DND",
            AgentState::Available => "AVAIL",
        }
    }

    /// Derives the state from the user's status, its phone state (presence) and its
    /// appearances. Calls come from the appearances only (they carry what a function needs);
    /// the phone state adds what appearances do not show: after-call work (the PBX ends the
    /// call with a CallLost and reports ACW only as a phone state), log-out and fault. Either
    /// source is enough; both saying the same thing is still one state, so nothing is counted
    /// twice.
    pub fn derive<'a>(
        status: Option<&UserStatus>,
        phone: Option<PhoneState>,
        calls: impl IntoIterator<Item = &'a Appearance>,
    ) -> AgentState {
        if status.is_some_and(|s| s.extn_fault) || phone == Some(PhoneState::Fault) {
            return AgentState::Fault;
        }
        if status.is_some_and(|s| s.logged_off) || phone == Some(PhoneState::Logout) {
            return AgentState::LoggedOff;
        }
        let (mut busy, mut ringing, mut held, mut acw) = (false, false, false, false);
        for a in calls {
            let st = a.call.state;
            busy |= st.is_busy();
            ringing |= st.is_ringing();
            held |= st.is_held();
            acw |= st == super::call::CallState::AfterCallWork;
        }
        if busy {
            AgentState::Talking
        } else if ringing {
            AgentState::Ringing
        } else if held {
            AgentState::Held
        } else if acw || phone == Some(PhoneState::AfterCallWork) {
            AgentState::AfterCallWork
        } else {
            match status {
                None => AgentState::Unknown,
                Some(s) if s.dnd => AgentState::Dnd,
                Some(_) => AgentState::Available,
            }
        }
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl Serialize for AgentState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.word())
    }
}

impl<'de> Deserialize<'de> for AgentState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = String::deserialize(d)?;
        AgentState::ALL
            .into_iter()
            .find(|s| s.word() == w)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown agent state {w:?}")))
    }
}

/// An agent's derived state and how long it has held it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct AgentStatus {
    /// The state.
    pub state: AgentState,
    /// When the model saw the state begin (or first saw the user, see `observed`).
    #[serde(skip)]
    pub since: Instant,
    /// Whether the model saw the state begin; false when it was already in it when first
    /// seen, so the time in state is a lower bound.
    pub observed: bool,
}

/// A user as the model keeps it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct User {
    /// Identity from the lines list.
    pub guid: Guid,
    /// Extension number.
    pub extn: Text,
    /// User name.
    pub name: Text,
    /// Status from the user's Notify; `None` until the first one arrives.
    pub status: Option<UserStatus>,
    /// The phone state from the presence subscription; `None` until reported.
    pub phone: Option<PhoneState>,
    /// The derived agent state.
    pub agent: AgentStatus,
    /// The agent's figures over the counting period.
    pub stats: AgentStats,
}

impl User {
    /// Whether the user is in DND (false while unknown).
    pub fn dnd(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.dnd)
    }
}

/// An agent's figures over the counting period. Talk and ACW time accrue when the agent
/// leaves the state; [`AgentStats::talk_time`] and [`AgentStats::acw_time`] add the part in
/// progress.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AgentStats {
    /// Inbound calls answered (each call once).
    pub answered: u32,
    /// Time talking, finished spells only.
    pub talk: Duration,
    /// Time in after-call work, finished spells only.
    pub acw: Duration,
    /// The start of the counting period.
    pub since: Instant,
}

impl AgentStats {
    /// Empty figures for a period starting at `since`.
    pub fn new(since: Instant) -> AgentStats {
        AgentStats {
            answered: 0,
            talk: Duration::ZERO,
            acw: Duration::ZERO,
            since,
        }
    }

    fn in_progress(&self, agent: &AgentStatus, state: AgentState, now: Instant) -> Duration {
        if agent.state == state {
            now.saturating_duration_since(agent.since.max(self.since))
        } else {
            Duration::ZERO
        }
    }

    /// Talk time at `now`, the current spell included.
    pub fn talk_time(&self, agent: &AgentStatus, now: Instant) -> Duration {
        self.talk + self.in_progress(agent, AgentState::Talking, now)
    }

    /// After-call work time at `now`, the current spell included.
    pub fn acw_time(&self, agent: &AgentStatus, now: Instant) -> Duration {
        self.acw + self.in_progress(agent, AgentState::AfterCallWork, now)
    }

    /// Adds a finished spell of `agent` (ending at `now`) to the figures.
    pub(super) fn close_spell(&mut self, agent: &AgentStatus, now: Instant) {
        let d = now.saturating_duration_since(agent.since.max(self.since));
        match agent.state {
            AgentState::Talking => self.talk += d,
            AgentState::AfterCallWork => self.acw += d,
            _ => {}
        }
    }
}

impl Serialize for AgentStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("AgentStats", 3)?;
        st.serialize_field("answered", &self.answered)?;
        st.serialize_field(
            "talk_ms",
            &u64::try_from(self.talk.as_millis()).unwrap_or(u64::MAX),
        )?;
        st.serialize_field(
            "acw_ms",
            &u64::try_from(self.acw.as_millis()).unwrap_or(u64::MAX),
        )?;
        st.end()
    }
}
