//! Call appearances: what one line (user, queue, park server) sees of one call.

use std::borrow::Cow;
use std::fmt;
use std::time::Instant;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::{AppearanceId, AppearanceKey, Gcid, Text};
use super::words::is_default;

macro_rules! wire_enum {
    (
        $(#[$m:meta])*
        $name:ident { $( $(#[$vm:meta])* $variant:ident = $code:literal => $word:literal ),* $(,)? }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum $name {
            $( $(#[$vm])* $variant, )*
            /// A value the document does not list, kept as its number.
            Other(i32),
        }

        impl $name {
            /// From the number on the wire.
            pub const fn from_code(code: i32) -> Self {
                match code {
                    $( $code => $name::$variant, )*
                    other => $name::Other(other),
                }
            }

            /// The number on the wire.
            pub const fn code(self) -> i32 {
                match self {
                    $( $name::$variant => $code, )*
                    $name::Other(c) => c,
                }
            }

            /// The document's word for it; `None` for a value it does not list.
            pub const fn word(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($word), )*
                    $name::Other(_) => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.word() {
                    Some(w) => f.write_str(w),
                    None => write!(f, "{}({})", stringify!($name), self.code()),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.word() {
                    Some(w) => s.serialize_str(w),
                    None => s.serialize_i32(self.code()),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                super::words::word_or_code(d, $name::from_code, |v| v.word())
            }
        }
    };
}

wire_enum! {
    /// The Q.931-style state of a call appearance (`CallInfo.State`).
    #[derive(Default)]
    CallState {
        /// No state known.
        #[default]
        Unknown = 0 => "UNKNOWN",
        /// Off hook, hearing dial tone.
        DialTone = 1 => "DIALTONE",
        /// Digits being dialled.
        Dialling = 2 => "DIALLING",
        /// Number complete, being routed.
        Dialled = 3 => "DIALLED",
        /// Ringing at this line.
        Ringing = 4 => "RINGING",
        /// Hearing ring-back from the far end.
        RingBack = 5 => "RINGBACK",
        /// Talking.
        Connected = 6 => "CONNECTED",
        /// Held by this end.
        OnHold = 7 => "ONHOLD",
        /// Held while an assisted transfer is set up.
        OnHoldPendTransfer = 8 => "ONHOLDPENDTRANSFER",
        /// Held while a conference is set up.
        OnHoldPendConf = 9 => "ONHOLDPENDCONF",
        /// The far end has gone.
        Disconnected = 10 => "DISCONNECTED",
        /// The far end is busy.
        Busy = 11 => "BUSY",
        /// The call failed (see the failed cause).
        Failed = 12 => "FAILED",
        /// Waiting for an account code.
        WaitingForAcct = 13 => "WAITINGFORACCT",
        /// Waiting for an authorization code.
        WaitingForAuth = 14 => "WAITINGFORAUTH",
        /// Waiting for a free line.
        WaitingForLine = 15 => "WAITINGFORLINE",
        /// Hold reminder.
        Reminder = 16 => "REMINDER",
        /// The agent is in after-call work.
        AfterCallWork = 17 => "AFTERCALLWORK",
        /// Ringing while diverting.
        RingingDivert = 18 => "RINGINGDIVERT",
        /// Ringing into voicemail.
        RingInVoicemail = 19 => "RINGINVOICEMAIL",
        /// Answered by voicemail.
        AnsweredByVoicemail = 20 => "ANSWEREDBYVOICEMAIL",
        /// The caller is leaving a voicemail message.
        LeavingVoicemailMessage = 21 => "LEAVINGVOICEMAILMESSAGE",
        /// Waiting in a queue.
        Queueing = 22 => "QUEUEING",
        /// The queue is choosing new targets.
        Retargeting = 23 => "RETARGETING",
    }
}

impl CallState {
    /// Whether a caller is still waiting for an agent: QUEUEING, RINGING or RETARGETING (the
    /// definition statistics use for a queue's waiting calls).
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            CallState::Queueing | CallState::Ringing | CallState::Retargeting
        )
    }

    /// Whether this line is ringing with the call.
    pub fn is_ringing(self) -> bool {
        matches!(self, CallState::Ringing | CallState::RingingDivert)
    }

    /// Whether this end is held by its own side (plain hold; holds pending a transfer or a
    /// conference mean the agent is busy setting one up).
    pub fn is_held(self) -> bool {
        matches!(self, CallState::OnHold)
    }

    /// Whether the line is busy with the call: talking, or setting up or finishing a call.
    pub fn is_busy(self) -> bool {
        matches!(
            self,
            CallState::DialTone
                | CallState::Dialling
                | CallState::Dialled
                | CallState::RingBack
                | CallState::Connected
                | CallState::OnHoldPendTransfer
                | CallState::OnHoldPendConf
                | CallState::Busy
                | CallState::Failed
                | CallState::WaitingForAcct
                | CallState::WaitingForAuth
                | CallState::WaitingForLine
        )
    }
}

wire_enum! {
    /// Who started the call, seen from this line (`CallInfo.Direction`).
    #[derive(Default)]
    Direction {
        /// Not known.
        #[default]
        Undefined = 0 => "UNDEFINED",
        /// This line made the call.
        Outbound = 1 => "OUTBOUND",
        /// This line received the call.
        Inbound = 2 => "INBOUND",
        /// Established by pickup, steal or unpark.
        Pickup = 3 => "PICKUP",
    }
}

wire_enum! {
    /// Why a call failed (`CallInfo.FailedCause`).
    #[derive(Default)]
    FailedCause {
        /// Not failed.
        #[default]
        Unset = 0 => "UNSET",
        /// No reason given.
        Unspecified = 1 => "UNSPECIFIED",
        /// The number does not exist.
        UnallocatedNumber = 2 => "UNALLOCATEDNUMBER",
        /// Rejected by the far end.
        Rejected = 3 => "REJECTED",
        /// The number is out of order.
        NumberOoo = 4 => "NUMBEROOO",
        /// The network is out of order.
        NetworkOoo = 5 => "NETWORKOOO",
        /// Barred.
        Barred = 6 => "BARRED",
        /// No channel.
        NoChannel = 7 => "NOCHANNEL",
        /// An account code is needed.
        NoAccountCode = 8 => "NOACCOUNTCODE",
        /// An authorization code is needed.
        NoAuthCode = 9 => "NOAUTHCODE",
        /// No licence.
        NoLicence = 10 => "NOLICENCE",
        /// Local resources exhausted.
        LocalResources = 11 => "LOCALRESOURCES",
        /// Not enough bandwidth.
        Bandwidth = 12 => "BANDWIDTH",
        /// Incompatible.
        Compatibility = 13 => "COMPATIBILITY",
        /// Cannot record.
        CantRecord = 14 => "CANTRECORD",
        /// No response.
        NoResponse = 15 => "NORESPONSE",
    }
}

wire_enum! {
    /// The kind of trunk a call came in on (`TrunkInfo.trunktype`).
    TrunkKind {
        /// Not on a trunk.
        NoTrunk = 0 => "NONE",
        /// SIP.
        Sip = 1 => "SIP",
        /// ISDN.
        Isdn = 2 => "ISDN",
        /// H.323.
        H323 = 3 => "H323",
        /// T1.
        T1 = 4 => "T1",
        /// R2.
        R2 = 5 => "R2",
        /// Analogue.
        Analog = 6 => "ANALOG",
    }
}

/// A call function named by a bit of `featuresavailable` on a call appearance.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum CallFunction {
    /// DropCall (bit 0).
    Drop,
    /// AnswerCall (bit 1, user lines).
    Answer,
    /// HoldCall (bit 2, user lines).
    Hold,
    /// UnHoldCall (bit 3, user lines).
    UnHold,
    /// BlindTransfer (bit 4).
    BlindTransfer,
    /// Redirect (bit 5).
    Redirect,
    /// Dial (bit 6, user lines).
    Dial,
    /// Park (bit 7).
    Park,
    /// SetupTransfer and SetupConf (bit 8, user lines).
    SetupTransfer,
    /// CompleteTransfer (bit 9).
    CompleteTransfer,
    /// CompleteConf (bit 10).
    CompleteConf,
    /// AddToConf (bit 11).
    AddToConf,
    /// MemberFunction, administering conference members (bit 12).
    ConfMember,
    /// SetTag (bit 13).
    SetTag,
    /// SetAccountCode (bit 14).
    SetAccountCode,
    /// PushToEC500 (bit 16).
    PushToEc500,
    /// GenerateDigits (bit 17).
    GenerateDigits,
    /// AgentRecordingControl: pause or resume system recording (bit 20).
    RecordingPauseControl,
    /// ForceClear (bit 21).
    ForceClear,
    /// SetAuthCode (bit 22).
    SetAuthCode,
    /// CallRecordingOn (bit 23).
    RecordingOn,
    /// CallRecordingOff (bit 24).
    RecordingOff,
    /// PrivacyOn (bit 25).
    PrivacyOn,
    /// PrivacyOff (bit 26).
    PrivacyOff,
    /// MuteOn (bit 27).
    MuteOn,
    /// MuteOff (bit 28).
    MuteOff,
    /// SetPriority (bit 29, queue lines).
    SetPriority,
    /// Finish (bit 30, queue lines).
    Finish,
}

impl CallFunction {
    /// Every function, lowest bit first.
    pub const ALL: [CallFunction; 28] = [
        CallFunction::Drop,
        CallFunction::Answer,
        CallFunction::Hold,
        CallFunction::UnHold,
        CallFunction::BlindTransfer,
        CallFunction::Redirect,
        CallFunction::Dial,
        CallFunction::Park,
        CallFunction::SetupTransfer,
        CallFunction::CompleteTransfer,
        CallFunction::CompleteConf,
        CallFunction::AddToConf,
        CallFunction::ConfMember,
        CallFunction::SetTag,
        CallFunction::SetAccountCode,
        CallFunction::PushToEc500,
        CallFunction::GenerateDigits,
        CallFunction::RecordingPauseControl,
        CallFunction::ForceClear,
        CallFunction::SetAuthCode,
        CallFunction::RecordingOn,
        CallFunction::RecordingOff,
        CallFunction::PrivacyOn,
        CallFunction::PrivacyOff,
        CallFunction::MuteOn,
        CallFunction::MuteOff,
        CallFunction::SetPriority,
        CallFunction::Finish,
    ];

    /// The bit of `featuresavailable` that allows it (the document's table).
    pub const fn bit(self) -> u32 {
        match self {
            CallFunction::Drop => 0,
            CallFunction::Answer => 1,
            CallFunction::Hold => 2,
            CallFunction::UnHold => 3,
            CallFunction::BlindTransfer => 4,
            CallFunction::Redirect => 5,
            CallFunction::Dial => 6,
            CallFunction::Park => 7,
            CallFunction::SetupTransfer => 8,
            CallFunction::CompleteTransfer => 9,
            CallFunction::CompleteConf => 10,
            CallFunction::AddToConf => 11,
            CallFunction::ConfMember => 12,
            CallFunction::SetTag => 13,
            CallFunction::SetAccountCode => 14,
            CallFunction::PushToEc500 => 16,
            CallFunction::GenerateDigits => 17,
            CallFunction::RecordingPauseControl => 20,
            CallFunction::ForceClear => 21,
            CallFunction::SetAuthCode => 22,
            CallFunction::RecordingOn => 23,
            CallFunction::RecordingOff => 24,
            CallFunction::PrivacyOn => 25,
            CallFunction::PrivacyOff => 26,
            CallFunction::MuteOn => 27,
            CallFunction::MuteOff => 28,
            CallFunction::SetPriority => 29,
            CallFunction::Finish => 30,
        }
    }

    /// The document's name for the function.
    pub const fn name(self) -> &'static str {
        match self {
            CallFunction::Drop => "DropCall",
            CallFunction::Answer => "AnswerCall",
            CallFunction::Hold => "HoldCall",
            CallFunction::UnHold => "UnHoldCall",
            CallFunction::BlindTransfer => "BlindTransfer",
            CallFunction::Redirect => "Redirect",
            CallFunction::Dial => "Dial",
            CallFunction::Park => "Park",
            CallFunction::SetupTransfer => "SetupTransfer",
            CallFunction::CompleteTransfer => "CompleteTransfer",
            CallFunction::CompleteConf => "CompleteConf",
            CallFunction::AddToConf => "AddToConf",
            CallFunction::ConfMember => "MemberFunction",
            CallFunction::SetTag => "SetTag",
            CallFunction::SetAccountCode => "SetAccountCode",
            CallFunction::PushToEc500 => "PushToEC500",
            CallFunction::GenerateDigits => "GenerateDigits",
            CallFunction::RecordingPauseControl => "AgentRecordingControl",
            CallFunction::ForceClear => "ForceClear",
            CallFunction::SetAuthCode => "SetAuthCode",
            CallFunction::RecordingOn => "CallRecordingOn",
            CallFunction::RecordingOff => "CallRecordingOff",
            CallFunction::PrivacyOn => "PrivacyOn",
            CallFunction::PrivacyOff => "PrivacyOff",
            CallFunction::MuteOn => "MuteOn",
            CallFunction::MuteOff => "MuteOff",
            CallFunction::SetPriority => "SetPriority",
            CallFunction::Finish => "Finish",
        }
    }
}

/// `featuresavailable` of a call appearance: which call functions may work on it now. Kept as
/// the raw bits (nothing is lost) with named accessors.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CallFeatureBits(pub u32);

impl CallFeatureBits {
    /// Whether the bit for `f` is set.
    pub const fn allows(self, f: CallFunction) -> bool {
        self.0 & (1u32 << f.bit()) != 0
    }

    /// The functions allowed now, lowest bit first.
    pub fn functions(self) -> impl Iterator<Item = CallFunction> {
        CallFunction::ALL
            .into_iter()
            .filter(move |f| self.allows(*f))
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for CallFeatureBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)?;
        for func in self.functions() {
            write!(f, " {}", func.name())?;
        }
        Ok(())
    }
}

impl Serialize for CallFeatureBits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        for f in self.functions() {
            seq.serialize_element(f.name())?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for CallFeatureBits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::words::names_to_bits(d, &CallFunction::ALL, CallFunction::name, CallFunction::bit)
            .map(CallFeatureBits)
    }
}

/// One end of a call as the PBX describes it (`PartyInfo`).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Party {
    /// The number.
    pub number: Text,
    /// The name, when known.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Text,
    /// Where the name came from (the PBX's name type).
    #[serde(default, skip_serializing_if = "is_default")]
    pub name_type: i32,
    /// The number type.
    #[serde(default, skip_serializing_if = "is_default")]
    pub number_type: i32,
    /// The caller withheld the number.
    #[serde(default, skip_serializing_if = "is_default")]
    pub withheld: bool,
    /// Why the call was diverted to here, if it was.
    #[serde(default, skip_serializing_if = "is_default")]
    pub diversion_reason: i32,
}

impl Party {
    /// "number name", or whichever of them is present.
    pub fn label(&self) -> String {
        match (self.number.is_empty(), self.name.is_empty()) {
            (true, true) if self.withheld => "withheld".to_owned(),
            (true, false) if self.withheld => format!("withheld {}", self.name),
            (false, false) => format!("{} {}", self.number, self.name),
            (false, true) => self.number.to_string(),
            (true, false) => self.name.to_string(),
            (true, true) => String::new(),
        }
    }
}

/// The queue part of a call (`QueueInfo`): which queue it is in and at which priority.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct QueueDetail {
    /// The queue's number.
    pub number: Text,
    /// The queue's name.
    pub name: Text,
    /// Priority in the queue: 1 low, 2 medium, 3 high.
    pub priority: i32,
    /// The overflow queue's number, if the call overflowed.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub overflow_number: Text,
    /// The overflow queue's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub overflow_name: Text,
}

/// Trunk detail of a call (`TrunkInfo`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TrunkDetail {
    /// The kind of trunk.
    pub kind: TrunkKind,
    /// The number dialled by the caller (DID).
    pub did: Text,
}

/// Dial detail of an outbound call (`DialInfo`).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct DialDetail {
    /// What is being dialled.
    pub number: Text,
    /// The type of call being made.
    #[serde(default, skip_serializing_if = "is_default")]
    pub call_type: i32,
    /// This end withholds its identity.
    #[serde(default, skip_serializing_if = "is_default")]
    pub withhold_cli: bool,
    /// The display should hide the number (it holds an authorization code).
    #[serde(default, skip_serializing_if = "is_default")]
    pub hide_number: bool,
    /// Dialling is complete.
    #[serde(default, skip_serializing_if = "is_default")]
    pub complete: bool,
}

/// Ancillary call data (`CallData`).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CallData {
    /// Nominal language of the conversation.
    pub language: Text,
    /// An emergency call.
    #[serde(default, skip_serializing_if = "is_default")]
    pub emergency: bool,
    /// This end made the call private.
    #[serde(default, skip_serializing_if = "is_default")]
    pub privacy: bool,
    /// A secure call.
    #[serde(default, skip_serializing_if = "is_default")]
    pub secure: bool,
    /// The far end made the call private.
    #[serde(default, skip_serializing_if = "is_default")]
    pub remote_privacy: bool,
}

/// Absence text as set on a user, with the document's phrase for its message type.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Absence {
    /// The message type (1..11, see the document).
    pub msg: i32,
    /// The free text part.
    pub text: Text,
    /// The whole note as the document phrases it, e.g. "AT LUNCH UNTIL 14:00".
    pub phrase: Text,
}

/// Another party in a conference this appearance is in (`ConferenceMember`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConferenceMember {
    /// The member's local reference, used to mute or drop it.
    pub lref: i32,
    /// The member's state.
    pub state: CallState,
    /// The member's direction.
    pub direction: Direction,
    /// The member holds the conference.
    #[serde(default, skip_serializing_if = "is_default")]
    pub active_held: bool,
    /// The number called for this member.
    #[serde(default, skip_serializing_if = "is_default")]
    pub called: Text,
    /// Who the member is.
    #[serde(default, skip_serializing_if = "is_default")]
    pub connected: Option<Party>,
    /// The member is muted.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mute: bool,
    /// Why the member's call failed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub failed_cause: FailedCause,
}

/// One snapshot of one call appearance, in domain terms: everything a `CallInfo` carries.
/// The PBX sends a complete snapshot each time; the model compares old and new.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CallSnapshot {
    /// The PBX's callid on this line.
    pub callid: i32,
    /// The application's reference (MakeCall, UnPark), 0 if none.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reference_callid: i32,
    /// For an assistant call, the callid of the call held pending transfer.
    #[serde(default, skip_serializing_if = "is_default")]
    pub related_callid: i32,
    /// The state.
    pub state: CallState,
    /// The direction.
    pub direction: Direction,
    /// The far end holds us.
    #[serde(default, skip_serializing_if = "is_default")]
    pub active_held: bool,
    /// The global call identity.
    #[serde(default, skip_serializing_if = "is_default")]
    pub gcid: Option<Gcid>,
    /// The call functions that may work on this appearance now.
    pub features: CallFeatureBits,
    /// `featuresavailable2` (bit 0: AnswerPage).
    #[serde(default, skip_serializing_if = "is_default")]
    pub features2: u32,
    /// The number called (outbound calls).
    #[serde(default, skip_serializing_if = "is_default")]
    pub called: Text,
    /// The caller.
    #[serde(default, skip_serializing_if = "is_default")]
    pub calling: Option<Party>,
    /// The other end.
    #[serde(default, skip_serializing_if = "is_default")]
    pub connected: Option<Party>,
    /// The original target of a diverted or queued call.
    #[serde(default, skip_serializing_if = "is_default")]
    pub original_called: Option<Party>,
    /// Tag text.
    #[serde(default, skip_serializing_if = "is_default")]
    pub tag: Text,
    /// Account code.
    #[serde(default, skip_serializing_if = "is_default")]
    pub account_code: Text,
    /// Muted in a conference.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mute: bool,
    /// Why a call failed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub failed_cause: FailedCause,
    /// Being recorded (user: by the user; queue: by the system).
    #[serde(default, skip_serializing_if = "is_default")]
    pub recording: bool,
    /// System recording paused.
    #[serde(default, skip_serializing_if = "is_default")]
    pub recording_paused: bool,
    /// The park slot (park server appearances).
    #[serde(default, skip_serializing_if = "is_default")]
    pub park_slot: Text,
    /// The far end's absence text.
    #[serde(default, skip_serializing_if = "is_default")]
    pub far_absence: Option<Absence>,
    /// An inbound page call.
    #[serde(default, skip_serializing_if = "is_default")]
    pub page_call: bool,
    /// The other parties of a conference.
    #[serde(default, skip_serializing_if = "is_default")]
    pub conference: Vec<ConferenceMember>,
    /// Dial detail.
    #[serde(default, skip_serializing_if = "is_default")]
    pub dial: Option<DialDetail>,
    /// Trunk detail.
    #[serde(default, skip_serializing_if = "is_default")]
    pub trunk: Option<TrunkDetail>,
    /// Queue detail.
    #[serde(default, skip_serializing_if = "is_default")]
    pub queue: Option<QueueDetail>,
    /// Ancillary data.
    #[serde(default, skip_serializing_if = "is_default")]
    pub call_data: Option<CallData>,
    /// Notes.
    #[serde(default, skip_serializing_if = "is_default")]
    pub notes: Text,
    /// Ringing targets of a queue call (RINGING, QUEUEING, RETARGETING).
    #[serde(default, skip_serializing_if = "is_default")]
    pub targets: Vec<Party>,
}

impl CallSnapshot {
    /// The other party as the supervisor would name it: the connected party, else the caller
    /// (inbound) or the called number (outbound).
    pub fn other_party(&self) -> Option<Cow<'_, Party>> {
        if let Some(p) = self.connected.as_ref().filter(|p| !p.number.is_empty()) {
            return Some(Cow::Borrowed(p));
        }
        // A withheld caller is still the other party of an incoming call: never stand the
        // called number (a queue's DID) in for it.
        if let Some(p) = self
            .calling
            .as_ref()
            .filter(|p| !p.number.is_empty() || p.withheld)
        {
            if self.direction != Direction::Outbound {
                return Some(Cow::Borrowed(p));
            }
        }
        if !self.called.is_empty() {
            return Some(Cow::Owned(Party {
                number: self.called.clone(),
                ..Party::default()
            }));
        }
        self.calling.as_ref().map(Cow::Borrowed)
    }
}

/// What changed between two snapshots of one appearance.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CallChanges {
    /// The state changed.
    pub state: bool,
    /// Calling, connected, original-called or called party, or conference members changed.
    pub parties: bool,
    /// The ringing targets changed.
    pub targets: bool,
    /// The allowed call functions changed.
    pub features: bool,
    /// Anything else (tag, priority, recording, ...).
    pub details: bool,
}

impl CallChanges {
    /// Compares two snapshots of the same appearance.
    pub fn between(old: &CallSnapshot, new: &CallSnapshot) -> CallChanges {
        let parties = old.calling != new.calling
            || old.connected != new.connected
            || old.original_called != new.original_called
            || old.called != new.called
            || old.conference != new.conference;
        let state = old.state != new.state;
        let targets = old.targets != new.targets;
        let features = old.features != new.features || old.features2 != new.features2;
        // Whatever differs beyond the fields classified above, field by field (no copy). The
        // pattern names every field, so a new one cannot be left out of the comparison.
        let CallSnapshot {
            callid,
            reference_callid,
            related_callid,
            state: _,
            direction,
            active_held,
            gcid,
            features: _,
            features2: _,
            called: _,
            calling: _,
            connected: _,
            original_called: _,
            tag,
            account_code,
            mute,
            failed_cause,
            recording,
            recording_paused,
            park_slot,
            far_absence,
            page_call,
            conference: _,
            dial,
            trunk,
            queue,
            call_data,
            notes,
            targets: _,
        } = old;
        let details = *callid != new.callid
            || *reference_callid != new.reference_callid
            || *related_callid != new.related_callid
            || *direction != new.direction
            || *active_held != new.active_held
            || *gcid != new.gcid
            || *tag != new.tag
            || *account_code != new.account_code
            || *mute != new.mute
            || *failed_cause != new.failed_cause
            || *recording != new.recording
            || *recording_paused != new.recording_paused
            || *park_slot != new.park_slot
            || *far_absence != new.far_absence
            || *page_call != new.page_call
            || *dial != new.dial
            || *trunk != new.trunk
            || *queue != new.queue
            || *call_data != new.call_data
            || *notes != new.notes;
        CallChanges {
            state,
            parties,
            targets,
            features,
            details,
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(self) -> bool {
        !(self.state || self.parties || self.targets || self.features || self.details)
    }

    /// Both sets of changes.
    pub fn union(self, other: CallChanges) -> CallChanges {
        CallChanges {
            state: self.state || other.state,
            parties: self.parties || other.parties,
            targets: self.targets || other.targets,
            features: self.features || other.features,
            details: self.details || other.details,
        }
    }
}

impl Serialize for CallChanges {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        for (set, name) in [
            (self.state, "state"),
            (self.parties, "parties"),
            (self.targets, "targets"),
            (self.features, "features"),
            (self.details, "details"),
        ] {
            if set {
                seq.serialize_element(name)?;
            }
        }
        seq.end()
    }
}

/// The line a call appearance belongs to, as it was named when the snapshot arrived, so that a
/// reader of one event knows whose call it is without a lookup.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LineLabel {
    /// The user's or queue's extension ("" for the park server).
    pub extn: Text,
    /// The user's or queue's name ("park server" for the park server).
    pub name: Text,
}

/// A call appearance as the model keeps it: the latest snapshot plus what the model knows
/// about its history.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Appearance {
    /// The model's stable identity for it.
    pub id: AppearanceId,
    /// Its line and current callid: functions on it are sent there, with that callid.
    pub key: AppearanceKey,
    /// Whose line it is.
    pub line: LineLabel,
    /// When the model first saw it. MTCTI3 carries no start time: this is the best known.
    #[serde(skip)]
    pub first_seen: Instant,
    /// When the model saw it enter its current state.
    #[serde(skip)]
    pub state_since: Instant,
    /// Whether the model saw the current state begin (false: it was already in it when first
    /// seen, so times in state are lower bounds).
    pub state_observed: bool,
    /// First seen in the PBX's report of the calls already there when its line was
    /// subscribed (at connect or after a reconnect): its first-seen time is a lower bound
    /// (shown `>=`), and statistics leave it out of ASA and service level.
    pub present_at_connect: bool,
    /// The latest snapshot.
    #[serde(flatten)]
    pub call: CallSnapshot,
}

/// Why an appearance ended.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EndReason {
    /// The PBX reported a CallLost.
    Lost {
        /// The reason code (16 = normal clearing).
        cause: i32,
        /// For a mature call, whether this end hung up.
        this_end_dropped: bool,
        /// The PBX's free text (not localised; may be empty).
        description: Text,
    },
    /// The PBX no longer reported it after its line was subscribed again.
    NotReported,
    /// Its line was removed (deleted from the lines list, or the PBX no longer knows it).
    LineRemoved,
    /// The park server stopped being available.
    ParkServerGone,
}

/// A CallLost in domain terms.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CallLost {
    /// The callid on the line.
    pub callid: i32,
    /// The application's reference, for a MakeCall that failed before any CallInfo.
    pub reference_callid: i32,
    /// Reason code (16 = normal).
    pub cause: i32,
    /// Which end terminated a mature call.
    pub this_end_dropped: bool,
    /// Free text.
    pub description: Text,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_unknown_numbers() {
        assert_eq!(CallState::from_code(22), CallState::Queueing);
        assert_eq!(CallState::from_code(99), CallState::Other(99));
        assert_eq!(CallState::Other(99).code(), 99);
        assert_eq!(CallState::Queueing.to_string(), "QUEUEING");
        assert_eq!(CallState::Other(99).to_string(), "CallState(99)");
    }

    #[test]
    fn feature_bits_name_the_documents_functions() {
        // The document's queue call example: DROP BLINDXFER REDIRECT PARK TAG ACCT FORCECLEAR
        // AUTH PRIO FINISH.
        let f = CallFeatureBits(0x6060_E0B1);
        let names: Vec<_> = f.functions().map(CallFunction::name).collect();
        assert_eq!(
            names,
            [
                "DropCall",
                "BlindTransfer",
                "Redirect",
                "Park",
                "SetTag",
                "SetAccountCode",
                "ForceClear",
                "SetAuthCode",
                "SetPriority",
                "Finish"
            ]
        );
        assert!(!f.allows(CallFunction::Answer));
    }

    #[test]
    fn changes_are_classified() {
        let old = CallSnapshot {
            callid: 1,
            state: CallState::Ringing,
            ..CallSnapshot::default()
        };
        let mut new = old.clone();
        assert!(CallChanges::between(&old, &new).is_empty());
        new.state = CallState::Connected;
        new.connected = Some(Party {
            number: "4101".into(),
            ..Party::default()
        });
        let c = CallChanges::between(&old, &new);
        assert!(c.state && c.parties && !c.details && !c.targets && !c.features);
        new.tag = "vip".into();
        assert!(CallChanges::between(&old, &new).details);
    }
}
