//! Builders for every message a client sends, enforcing the document's argument limits.
//!
//! Each builder returns a complete [`Message`] ready for [`super::frame::encode`]. Builders whose
//! arguments the document limits return `Result<Message, BuildError>`; the others cannot be given
//! anything the document forbids and return the `Message` directly.
//!
//! Conventions shared by every builder:
//! - `requestid` 0 means "no RequestResponse wanted": proto3 leaves a zero field off the wire, and
//!   IP Office only answers messages that carry a `requestid`.
//! - Lengths are counted in characters (Unicode scalar values), as the document counts them.
//! - A device hint (`UpdateCallControl.devicehint`) is given with the `*_with_hint` variants;
//!   the plain builders leave it unset (`UNSPECIFIED`), letting IP Office choose the device.

use std::fmt;

use super::bits::{
    CallFeatures, CallFeatures2, CcFlags, LinesFlags, PresenceFlags, QueueFlags, UserFlags,
};
use super::pb;
use super::pb::call_function::Action;

pub use super::pb::Message;
/// Which of the user's devices a call function or MakeCall should act on
/// (`UpdateCallControl.devicehint`).
pub use super::pb::update_call_control::Device as DeviceHint;

/// The shortest timeout a presence subscription accepts, in seconds.
pub const PRESENCE_TIMEOUT_MIN: i32 = 60;
/// The longest timeout a presence subscription accepts, in seconds.
pub const PRESENCE_TIMEOUT_MAX: i32 = 86_400;
/// The pseudo-file listing the account codes configured on IP Office (read with [`get_file`]).
pub const ACCOUNT_CODE_FILE: &str = "nasystem/AccountCode";

/// Why a builder refused its arguments. Each message says what is wrong and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A text argument is shorter or longer than the document allows.
    #[error("{what} is {len} characters long; the MTCTI3 document allows {min} to {max}")]
    Length {
        /// Which argument.
        what: &'static str,
        /// Its length in characters.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A text argument holds a character the document does not allow there.
    #[error("{what} contains {ch:?}; only {allowed} are allowed")]
    Character {
        /// Which argument.
        what: &'static str,
        /// The first offending character.
        ch: char,
        /// What is allowed, in words.
        allowed: &'static str,
    },
    /// A priority other than "1", "2" or "3".
    #[error("priority {0:?} is not one of \"1\" (low), \"2\" (medium) or \"3\" (high)")]
    Priority(String),
    /// A call function named no call: callid 0 is left off the wire (proto3), and the document
    /// requires one of callid or referencecallid.
    #[error("callid 0 names no call; give the callid IP Office reported for the call")]
    NoCallId,
    /// MakeCall and UnParkCall need a non-zero referencecallid (the document requires it, and
    /// proto3 leaves 0 off the wire).
    #[error("{what} needs a non-zero referencecallid; choose one unique on this subscription")]
    NoReferenceCallId {
        /// Which command.
        what: &'static str,
    },
    /// A presence subscription timeout outside 60..=86400 seconds.
    #[error("presence subscription timeout {0} s is outside the document's range of 60 to 86400 s")]
    PresenceTimeout(i32),
    /// A list or name that must hold something is empty.
    #[error("{what} is empty; give at least one")]
    Empty {
        /// Which argument.
        what: &'static str,
    },
    /// Two options that contradict each other were both chosen.
    #[error("{0}")]
    Conflict(&'static str),
    /// A custom absence (type 11) with no text: the document says to avoid it, as it shows a
    /// blank note rather than no absence.
    #[error(
        "a custom absence note (type 11) needs text; clear the absence instead of sending it blank"
    )]
    BlankAbsence,
    /// A received CallFunction names an action the document describes no function for.
    #[error("CallFunction action {0} is not a function the MTCTI3 document describes")]
    UnknownAction(i32),
    /// A received CallFunction lacks a part its action requires.
    #[error("{action} needs {what}")]
    Missing {
        /// The action.
        action: &'static str,
        /// The missing part.
        what: &'static str,
    },
}

/// Checks a text argument's length in characters.
fn check_len(what: &'static str, s: &str, min: usize, max: usize) -> Result<(), BuildError> {
    let len = s.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(BuildError::Length {
            what,
            len,
            min,
            max,
        })
    }
}

/// Checks a text that IP Office converts to the Basic Multilingual Plane (SetTag, SetAccountCode,
/// SetAuthCode): 0..=max such characters.
fn check_bmp(what: &'static str, s: &str, max: usize) -> Result<(), BuildError> {
    check_len(what, s, 0, max)?;
    match s.chars().find(|c| u32::from(*c) > 0xFFFF) {
        Some(ch) => Err(BuildError::Character {
            what,
            ch,
            allowed: "characters of the Basic Multilingual Plane (U+0000..U+FFFF)",
        }),
        None => Ok(()),
    }
}

fn non_zero_reference(what: &'static str, referencecallid: i32) -> Result<(), BuildError> {
    if referencecallid == 0 {
        Err(BuildError::NoReferenceCallId { what })
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Typed arguments

/// A queue to subscribe to: by the guid from the lines list, or by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRef<'a> {
    /// The queue's guid, as the lines subscription reported it.
    Guid(&'a [u8]),
    /// The queue's name (no lines subscription needed).
    Name(&'a str),
}

/// A queued call's priority (`SetPriority`): the document allows only "1", "2" and "3".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// "1".
    Low = 1,
    /// "2".
    Medium = 2,
    /// "3".
    High = 3,
}

impl Priority {
    /// From the number IP Office reports (`QueueInfo.priority`); `None` outside 1..=3.
    pub const fn from_wire(v: i32) -> Option<Self> {
        match v {
            1 => Some(Priority::Low),
            2 => Some(Priority::Medium),
            3 => Some(Priority::High),
            _ => None,
        }
    }

    /// From SetPriority's text argument: exactly "1", "2" or "3".
    pub fn from_arg(arg: &str) -> Result<Self, BuildError> {
        match arg {
            "1" => Ok(Priority::Low),
            "2" => Ok(Priority::Medium),
            "3" => Ok(Priority::High),
            other => Err(BuildError::Priority(other.to_owned())),
        }
    }

    /// The number, 1..=3.
    pub const fn to_wire(self) -> i32 {
        self as i32
    }

    /// SetPriority's text argument.
    pub const fn as_arg(self) -> &'static str {
        match self {
            Priority::Low => "1",
            Priority::Medium => "2",
            Priority::High => "3",
        }
    }

    /// The document's word for it.
    pub const fn word(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// The `$type` of a BlindTransfer's `/$type/destination` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferType {
    /// 102: voicemail (e.g. a VMPro call flow).
    Voicemail,
    /// 104: page.
    Page,
    /// 105: force auto-answer.
    ForceAnswer,
    /// 106: intrude.
    Intrude,
    /// 107: priority call.
    Priority,
    /// 109: camp-on (the call does not go to voicemail).
    CampOn,
    /// 111: whisper.
    Whisper,
    /// 112: inclusion.
    Inclusion,
    /// 116: MeetMe conference.
    MeetMe,
    /// 120: FNE (a feature-name-extension service).
    Fne,
}

impl TransferType {
    /// Every type the document lists.
    pub const ALL: [TransferType; 10] = [
        TransferType::Voicemail,
        TransferType::Page,
        TransferType::ForceAnswer,
        TransferType::Intrude,
        TransferType::Priority,
        TransferType::CampOn,
        TransferType::Whisper,
        TransferType::Inclusion,
        TransferType::MeetMe,
        TransferType::Fne,
    ];

    /// The number written in `/$type/`.
    pub const fn code(self) -> u16 {
        match self {
            TransferType::Voicemail => 102,
            TransferType::Page => 104,
            TransferType::ForceAnswer => 105,
            TransferType::Intrude => 106,
            TransferType::Priority => 107,
            TransferType::CampOn => 109,
            TransferType::Whisper => 111,
            TransferType::Inclusion => 112,
            TransferType::MeetMe => 116,
            TransferType::Fne => 120,
        }
    }

    /// The type for a number, if the document lists it.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The document's description.
    pub const fn description(self) -> &'static str {
        match self {
            TransferType::Voicemail => "voicemail",
            TransferType::Page => "page",
            TransferType::ForceAnswer => "force auto-answer",
            TransferType::Intrude => "intrude",
            TransferType::Priority => "priority call",
            TransferType::CampOn => "camp-on",
            TransferType::Whisper => "whisper",
            TransferType::Inclusion => "inclusion",
            TransferType::MeetMe => "MeetMe conference",
            TransferType::Fne => "FNE",
        }
    }
}

/// A BlindTransfer target: a plain destination, or the document's `/$type/destination` form.
/// Rendered into `arg1`, which must be 1..=78 characters as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransferTarget {
    /// A destination dialled as given, e.g. an extension or a hunt group number.
    Destination(String),
    /// `/$type/destination`, e.g. `/102/Callflow`.
    Typed {
        /// The `$type`.
        kind: TransferType,
        /// What follows the second slash.
        destination: String,
    },
}

impl TransferTarget {
    /// A plain destination.
    pub fn destination(destination: impl Into<String>) -> Self {
        TransferTarget::Destination(destination.into())
    }

    /// `/$type/destination`.
    pub fn typed(kind: TransferType, destination: impl Into<String>) -> Self {
        TransferTarget::Typed {
            kind,
            destination: destination.into(),
        }
    }

    /// `/102/destination`: to voicemail, e.g. a VMPro call flow.
    pub fn voicemail(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::Voicemail, destination)
    }

    /// `/104/destination`: page.
    pub fn page(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::Page, destination)
    }

    /// `/105/destination`: force auto-answer.
    pub fn force_answer(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::ForceAnswer, destination)
    }

    /// `/106/destination`: intrude.
    pub fn intrude(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::Intrude, destination)
    }

    /// `/107/destination`: priority call.
    pub fn priority(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::Priority, destination)
    }

    /// `/109/destination`: camp-on.
    pub fn camp_on(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::CampOn, destination)
    }

    /// `/111/destination`: whisper.
    pub fn whisper(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::Whisper, destination)
    }

    /// `/112/destination`: inclusion.
    pub fn inclusion(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::Inclusion, destination)
    }

    /// `/116/conference`: a MeetMe conference.
    pub fn meetme(conference: impl Into<String>) -> Self {
        Self::typed(TransferType::MeetMe, conference)
    }

    /// `/116/conference;MODEFROMPIN(pin)`: a MeetMe conference that needs a PIN, as the
    /// document's example `/116/2005;MODEFROMPIN(123456)`.
    pub fn meetme_with_pin(conference: &str, pin: &str) -> Self {
        Self::typed(
            TransferType::MeetMe,
            format!("{conference};MODEFROMPIN({pin})"),
        )
    }

    /// `/120/destination`: FNE.
    pub fn fne(destination: impl Into<String>) -> Self {
        Self::typed(TransferType::Fne, destination)
    }

    /// Reads an `arg1` back: `/NNN/rest` with a type the document lists is typed, anything
    /// else is a plain destination. Total: never fails.
    pub fn parse(arg1: &str) -> Self {
        let typed = arg1.strip_prefix('/').and_then(|rest| {
            let (code, destination) = rest.split_once('/')?;
            // Only the canonical spelling (`/102/`, not `/0102/` or `/+102/`), so that reading
            // and writing give back the same text.
            let kind = TransferType::ALL
                .into_iter()
                .find(|k| code == k.code().to_string())?;
            Some(TransferTarget::typed(kind, destination))
        });
        typed.unwrap_or_else(|| TransferTarget::destination(arg1))
    }

    /// The `arg1` text, checked: 1..=78 characters as a whole.
    pub fn to_arg(&self) -> Result<String, BuildError> {
        let arg = self.to_string();
        check_len("BlindTransfer target", &arg, 1, 78)?;
        Ok(arg)
    }
}

impl fmt::Display for TransferTarget {
    /// The `arg1` text, unchecked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferTarget::Destination(d) => f.write_str(d),
            TransferTarget::Typed { kind, destination } => {
                write!(f, "/{}/{destination}", kind.code())
            }
        }
    }
}

/// `MakeCall.type`: a normal call leaves it unset; the others are the document's special calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MakeCallType {
    /// A normal call (type not set).
    #[default]
    Normal,
    /// 104: page call.
    Page,
    /// 105: force-feed (auto-answer at the target).
    ForceFeed,
    /// 106: intrude.
    Intrude,
    /// 108: pick up a call ringing at the target.
    Pickup,
    /// 109: camp-on (do not let the call go to voicemail).
    CampOn,
    /// 116: dial a MeetMe conference.
    MeetMe,
}

impl MakeCallType {
    /// The value of `MakeCall.type` (0, left off the wire, for a normal call).
    pub const fn code(self) -> i32 {
        match self {
            MakeCallType::Normal => 0,
            MakeCallType::Page => 104,
            MakeCallType::ForceFeed => 105,
            MakeCallType::Intrude => 106,
            MakeCallType::Pickup => 108,
            MakeCallType::CampOn => 109,
            MakeCallType::MeetMe => 116,
        }
    }

    /// The type for a `MakeCall.type` value, if the document lists it (0 is a normal call).
    pub const fn from_code(code: i32) -> Option<Self> {
        match code {
            0 => Some(MakeCallType::Normal),
            104 => Some(MakeCallType::Page),
            105 => Some(MakeCallType::ForceFeed),
            106 => Some(MakeCallType::Intrude),
            108 => Some(MakeCallType::Pickup),
            109 => Some(MakeCallType::CampOn),
            116 => Some(MakeCallType::MeetMe),
            _ => None,
        }
    }
}

/// One call of a CompleteTransfer / CompleteConf `callinst` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallRef {
    /// By the callid IP Office assigned.
    Callid(i32),
    /// By the referencecallid the application assigned.
    Referencecallid(i32),
}

impl CallRef {
    fn to_pb(self) -> pb::CallInstance {
        match self {
            CallRef::Callid(callid) => pb::CallInstance {
                callid,
                referencecallid: 0,
            },
            CallRef::Referencecallid(referencecallid) => pb::CallInstance {
                callid: 0,
                referencecallid,
            },
        }
    }

    fn from_pb(c: &pb::CallInstance) -> Self {
        if c.callid != 0 {
            CallRef::Callid(c.callid)
        } else {
            CallRef::Referencecallid(c.referencecallid)
        }
    }
}

/// What MemberFunction does to a conference member (`MemberFunctionData.Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberAction {
    /// Drop the member from the conference.
    DropCall,
    /// Mute the member.
    MuteOn,
    /// Unmute the member.
    MuteOff,
}

impl MemberAction {
    fn to_pb(self) -> pb::member_function_data::Action {
        match self {
            MemberAction::DropCall => pb::member_function_data::Action::DropCall,
            MemberAction::MuteOn => pb::member_function_data::Action::MuteOn,
            MemberAction::MuteOff => pb::member_function_data::Action::MuteOff,
        }
    }
}

/// AgentRecordingControl: pause or resume the system's recording of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingControl {
    /// Pause the recording.
    Pause,
    /// Resume the recording.
    Resume,
}

/// A short code (`ShortCodeData`): a numbered configuration action with its parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ShortCode {
    /// The short code number, e.g. 7 (set DND) or 70 (voicemail counters).
    pub code: i32,
    /// Its parameter string.
    pub val: String,
    /// On whose behalf, when not the subscription's user.
    pub onbehalf: String,
}

impl ShortCode {
    /// A short code with a parameter.
    pub fn new(code: i32, val: impl Into<String>) -> Self {
        ShortCode {
            code,
            val: val.into(),
            onbehalf: String::new(),
        }
    }

    /// Short code 70: show voicemail counters for an application-provided mailbox
    /// (`;new,old,saved`, as the document's example `;3,0,0`).
    pub fn mailbox_counts(new: u32, old: u32, saved: u32) -> Self {
        ShortCode::new(70, format!(";{new},{old},{saved}"))
    }

    fn to_pb(&self) -> pb::ShortCodeData {
        pb::ShortCodeData {
            code: self.code,
            val: self.val.clone(),
            onbehalf: self.onbehalf.clone(),
        }
    }

    fn from_pb(s: &pb::ShortCodeData) -> Self {
        ShortCode {
            code: s.code,
            val: s.val.clone(),
            onbehalf: s.onbehalf.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Call functions

/// One CallFunction, with the argument its action takes. Every function the document describes
/// has a variant; the limits are the document's per-function text, checked by [`Self::to_pb`].
///
/// (`None`, `Unused21`, `Unused31` and `Unused33` of `CallFunction.Action` are not functions
/// and have no variant.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallFunctionCmd {
    /// Clear the call (a ringing call goes to coverage).
    DropCall,
    /// Answer a ringing call (user lines).
    AnswerCall,
    /// Put the call on hold (user lines).
    HoldCall,
    /// Take the call off hold (user lines).
    UnHoldCall,
    /// Send the call elsewhere: target 1..=78 characters as rendered.
    BlindTransfer(TransferTarget),
    /// Redirect a ringing call: target 1..=78 characters.
    Redirect(String),
    /// Overlap-dial digits: 1..=78 characters.
    Dial(String),
    /// Park the call in a slot: 1..=9 characters.
    Park(String),
    /// Start an assisted transfer: optional target of 0..=78 characters (`None` or empty: the
    /// new call goes to DIALTONE).
    SetupTransfer(Option<String>),
    /// Start a conference: as SetupTransfer.
    SetupConf(Option<String>),
    /// Join two calls and drop out: optionally name the other call (else the relatedcallid).
    CompleteTransfer(Option<CallRef>),
    /// Join calls into a conference: optionally name the other calls (else the relatedcallid).
    CompleteConf(Vec<CallRef>),
    /// Invite a party into the conference: target 1..=78 characters.
    AddToConf(String),
    /// Drop or (un)mute one conference member.
    MemberFunction {
        /// The member's lref.
        lref: i32,
        /// What to do.
        action: MemberAction,
    },
    /// Label the call: 0..=127 characters (empty clears the tag).
    SetTag(String),
    /// Set the account code: 0..=15 characters (empty clears it).
    SetAccountCode(String),
    /// Attach notes (the document: not supported in this release).
    SetNotes(String),
    /// Push the call to the user's mobile twin (user lines).
    PushToEc500,
    /// Send DTMF: 1..=32 of `0-9 * #`.
    GenerateDigits(String),
    /// Run a short code on the call (the document: not supported in this release).
    ShortCodeAction(ShortCode),
    /// Turn an inbound page into a two-way call (user lines).
    AnswerPage,
    /// Clear the call all the way to the source (ends a MeetMe conference).
    ForceClear,
    /// Set the authorization code: 0..=15 characters (empty clears it).
    SetAuthCode(String),
    /// Start personal recording (user lines).
    CallRecordingOn,
    /// Stop personal recording (user lines).
    CallRecordingOff,
    /// Make the call private (user lines).
    PrivacyOn,
    /// Make the call not private (user lines).
    PrivacyOff,
    /// Mute this user in the conference (user lines).
    MuteOn,
    /// Unmute this user in the conference (user lines).
    MuteOff,
    /// Pause or resume the system recording.
    AgentRecordingControl(RecordingControl),
    /// Change the call's priority in the queue (queue lines).
    SetPriority(Priority),
    /// Stop following the call on this queue (queue lines). `immediate` sends arg1 "1": the call
    /// is reported at once on any queue it is associated with, not only when it next arrives at one.
    Finish {
        /// Send arg1 = "1".
        immediate: bool,
    },
}

/// The `featuresavailable` bit that offers a call function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureGate {
    /// A bit of `CallInfo.featuresavailable`.
    Features(CallFeatures),
    /// A bit of `CallInfo.featuresavailable2`.
    Features2(CallFeatures2),
    /// No bit: the document says the function is not supported in this release.
    NotOffered,
}

impl FeatureGate {
    /// Whether the call's feature bits offer the function.
    pub fn is_offered(self, features: CallFeatures, features2: CallFeatures2) -> bool {
        match self {
            FeatureGate::Features(bit) => features.contains(bit),
            FeatureGate::Features2(bit) => features2.contains(bit),
            FeatureGate::NotOffered => false,
        }
    }
}

/// The feature bit that governs an action ("only try to do this if bit N of featuresavailable
/// is set"); `None` for values that are not functions (None, Unused21/31/33).
pub fn feature_gate(action: Action) -> Option<FeatureGate> {
    use FeatureGate::{Features, NotOffered};
    Some(match action {
        Action::DropCall => Features(CallFeatures::DROP),
        Action::AnswerCall => Features(CallFeatures::ANSWER),
        Action::HoldCall => Features(CallFeatures::HOLD),
        Action::UnHoldCall => Features(CallFeatures::UNHOLD),
        Action::BlindTransfer => Features(CallFeatures::BLINDXFER),
        Action::Redirect => Features(CallFeatures::REDIRECT),
        Action::Dial => Features(CallFeatures::DIAL),
        Action::Park => Features(CallFeatures::PARK),
        Action::SetupTransfer | Action::SetupConf => Features(CallFeatures::SETUPTRANSFER),
        Action::CompleteTransfer => Features(CallFeatures::COMPLETETRANSFER),
        Action::CompleteConf => Features(CallFeatures::COMPLETECONF),
        Action::AddToConf => Features(CallFeatures::ADDTOCONF),
        Action::MemberFunction => Features(CallFeatures::CONFMEMBER),
        Action::SetTag => Features(CallFeatures::TAG),
        Action::SetAccountCode => Features(CallFeatures::ACCT),
        Action::SetNotes | Action::ShortCodeAction => NotOffered,
        Action::PushToEc500 => Features(CallFeatures::PUSHTOEC500),
        Action::GenerateDigits => Features(CallFeatures::GENERATEDIGITS),
        Action::AnswerPage => FeatureGate::Features2(CallFeatures2::ANSWERPAGE),
        Action::ForceClear => Features(CallFeatures::FORCECLEAR),
        Action::SetAuthCode => Features(CallFeatures::AUTH),
        Action::CallRecordingOn => Features(CallFeatures::RECORDINGON),
        Action::CallRecordingOff => Features(CallFeatures::RECORDINGOFF),
        Action::PrivacyOn => Features(CallFeatures::PRIVACYON),
        Action::PrivacyOff => Features(CallFeatures::PRIVACYOFF),
        Action::MuteOn => Features(CallFeatures::MUTEON),
        Action::MuteOff => Features(CallFeatures::MUTEOFF),
        Action::AgentRecordingControl => Features(CallFeatures::RECORDINGPAUSECONTROL),
        Action::SetPriority => Features(CallFeatures::PRIO),
        Action::Finish => Features(CallFeatures::FINISH),
        Action::None | Action::Unused21 | Action::Unused31 | Action::Unused33 => return None,
    })
}

fn optional_target(what: &'static str, target: &Option<String>) -> Result<String, BuildError> {
    match target {
        Some(t) => {
            check_len(what, t, 0, 78)?;
            Ok(t.clone())
        }
        None => Ok(String::new()),
    }
}

fn optional_arg(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_owned())
    }
}

impl CallFunctionCmd {
    /// The `CallFunction.Action` this command sends.
    pub fn action(&self) -> Action {
        match self {
            CallFunctionCmd::DropCall => Action::DropCall,
            CallFunctionCmd::AnswerCall => Action::AnswerCall,
            CallFunctionCmd::HoldCall => Action::HoldCall,
            CallFunctionCmd::UnHoldCall => Action::UnHoldCall,
            CallFunctionCmd::BlindTransfer(_) => Action::BlindTransfer,
            CallFunctionCmd::Redirect(_) => Action::Redirect,
            CallFunctionCmd::Dial(_) => Action::Dial,
            CallFunctionCmd::Park(_) => Action::Park,
            CallFunctionCmd::SetupTransfer(_) => Action::SetupTransfer,
            CallFunctionCmd::SetupConf(_) => Action::SetupConf,
            CallFunctionCmd::CompleteTransfer(_) => Action::CompleteTransfer,
            CallFunctionCmd::CompleteConf(_) => Action::CompleteConf,
            CallFunctionCmd::AddToConf(_) => Action::AddToConf,
            CallFunctionCmd::MemberFunction { .. } => Action::MemberFunction,
            CallFunctionCmd::SetTag(_) => Action::SetTag,
            CallFunctionCmd::SetAccountCode(_) => Action::SetAccountCode,
            CallFunctionCmd::SetNotes(_) => Action::SetNotes,
            CallFunctionCmd::PushToEc500 => Action::PushToEc500,
            CallFunctionCmd::GenerateDigits(_) => Action::GenerateDigits,
            CallFunctionCmd::ShortCodeAction(_) => Action::ShortCodeAction,
            CallFunctionCmd::AnswerPage => Action::AnswerPage,
            CallFunctionCmd::ForceClear => Action::ForceClear,
            CallFunctionCmd::SetAuthCode(_) => Action::SetAuthCode,
            CallFunctionCmd::CallRecordingOn => Action::CallRecordingOn,
            CallFunctionCmd::CallRecordingOff => Action::CallRecordingOff,
            CallFunctionCmd::PrivacyOn => Action::PrivacyOn,
            CallFunctionCmd::PrivacyOff => Action::PrivacyOff,
            CallFunctionCmd::MuteOn => Action::MuteOn,
            CallFunctionCmd::MuteOff => Action::MuteOff,
            CallFunctionCmd::AgentRecordingControl(_) => Action::AgentRecordingControl,
            CallFunctionCmd::SetPriority(_) => Action::SetPriority,
            CallFunctionCmd::Finish { .. } => Action::Finish,
        }
    }

    /// The feature bit that offers this function on a call.
    pub fn feature_gate(&self) -> FeatureGate {
        // Every action a command sends is a function, so the gate always exists.
        feature_gate(self.action()).unwrap_or(FeatureGate::NotOffered)
    }

    /// The `CallFunction` payload, with the document's limits checked.
    pub fn to_pb(&self) -> Result<pb::CallFunction, BuildError> {
        let mut f = pb::CallFunction {
            action: self.action() as i32,
            ..Default::default()
        };
        match self {
            CallFunctionCmd::DropCall
            | CallFunctionCmd::AnswerCall
            | CallFunctionCmd::HoldCall
            | CallFunctionCmd::UnHoldCall
            | CallFunctionCmd::PushToEc500
            | CallFunctionCmd::AnswerPage
            | CallFunctionCmd::ForceClear
            | CallFunctionCmd::CallRecordingOn
            | CallFunctionCmd::CallRecordingOff
            | CallFunctionCmd::PrivacyOn
            | CallFunctionCmd::PrivacyOff
            | CallFunctionCmd::MuteOn
            | CallFunctionCmd::MuteOff => {}
            CallFunctionCmd::BlindTransfer(target) => f.arg1 = target.to_arg()?,
            CallFunctionCmd::Redirect(target) => {
                check_len("Redirect target", target, 1, 78)?;
                f.arg1 = target.clone();
            }
            CallFunctionCmd::Dial(digits) => {
                check_len("Dial digits", digits, 1, 78)?;
                f.arg1 = digits.clone();
            }
            CallFunctionCmd::Park(slot) => {
                check_len("Park slot", slot, 1, 9)?;
                f.arg1 = slot.clone();
            }
            CallFunctionCmd::SetupTransfer(target) => {
                f.arg1 = optional_target("SetupTransfer target", target)?;
            }
            CallFunctionCmd::SetupConf(target) => {
                f.arg1 = optional_target("SetupConf target", target)?;
            }
            CallFunctionCmd::CompleteTransfer(other) => {
                f.callinst = other.iter().map(|c| c.to_pb()).collect();
            }
            CallFunctionCmd::CompleteConf(others) => {
                f.callinst = others.iter().map(|c| c.to_pb()).collect();
            }
            CallFunctionCmd::AddToConf(target) => {
                check_len("AddToConf target", target, 1, 78)?;
                f.arg1 = target.clone();
            }
            CallFunctionCmd::MemberFunction { lref, action } => {
                f.memberfunctiondata = Some(pb::MemberFunctionData {
                    lref: *lref,
                    action: action.to_pb() as i32,
                });
            }
            CallFunctionCmd::SetTag(tag) => {
                check_bmp("SetTag tag", tag, 127)?;
                // IP Office truncates a tag at a NUL; refuse rather than lose the rest.
                if tag.contains('\0') {
                    return Err(BuildError::Character {
                        what: "SetTag tag",
                        ch: '\0',
                        allowed: "characters other than NUL",
                    });
                }
                f.arg1 = tag.clone();
            }
            CallFunctionCmd::SetAccountCode(code) => {
                check_bmp("SetAccountCode account code", code, 15)?;
                f.arg1 = code.clone();
            }
            CallFunctionCmd::SetAuthCode(code) => {
                check_bmp("SetAuthCode auth code", code, 15)?;
                f.arg1 = code.clone();
            }
            CallFunctionCmd::SetNotes(notes) => f.arg1 = notes.clone(),
            CallFunctionCmd::GenerateDigits(digits) => {
                check_len("GenerateDigits digits", digits, 1, 32)?;
                if let Some(ch) = digits
                    .chars()
                    .find(|c| !(c.is_ascii_digit() || *c == '*' || *c == '#'))
                {
                    return Err(BuildError::Character {
                        what: "GenerateDigits digits",
                        ch,
                        allowed: "the DTMF characters 0-9, * and #",
                    });
                }
                f.arg1 = digits.clone();
            }
            CallFunctionCmd::ShortCodeAction(code) => f.shortcodedata = Some(code.to_pb()),
            CallFunctionCmd::AgentRecordingControl(control) => {
                f.agentrecording = Some(pb::AgentRecordingControl {
                    pause: *control == RecordingControl::Pause,
                    resume: *control == RecordingControl::Resume,
                });
            }
            CallFunctionCmd::SetPriority(p) => f.arg1 = p.as_arg().to_owned(),
            CallFunctionCmd::Finish { immediate } => {
                if *immediate {
                    f.arg1 = "1".to_owned();
                }
            }
        }
        Ok(f)
    }

    /// Reads a received `CallFunction` (the server side), checking it as strictly as
    /// [`Self::to_pb`] does: `from_pb(&c.to_pb()?) == Ok(c)` for every valid command.
    pub fn from_pb(f: &pb::CallFunction) -> Result<Self, BuildError> {
        let action = Action::try_from(f.action).map_err(|_| BuildError::UnknownAction(f.action))?;
        let arg = f.arg1.clone();
        let cmd = match action {
            Action::None | Action::Unused21 | Action::Unused31 | Action::Unused33 => {
                return Err(BuildError::UnknownAction(f.action));
            }
            Action::DropCall => CallFunctionCmd::DropCall,
            Action::AnswerCall => CallFunctionCmd::AnswerCall,
            Action::HoldCall => CallFunctionCmd::HoldCall,
            Action::UnHoldCall => CallFunctionCmd::UnHoldCall,
            Action::BlindTransfer => CallFunctionCmd::BlindTransfer(TransferTarget::parse(&arg)),
            Action::Redirect => CallFunctionCmd::Redirect(arg),
            Action::Dial => CallFunctionCmd::Dial(arg),
            Action::Park => CallFunctionCmd::Park(arg),
            Action::SetupTransfer => CallFunctionCmd::SetupTransfer(optional_arg(&arg)),
            Action::SetupConf => CallFunctionCmd::SetupConf(optional_arg(&arg)),
            Action::CompleteTransfer => match f.callinst.as_slice() {
                [] => CallFunctionCmd::CompleteTransfer(None),
                [one] => CallFunctionCmd::CompleteTransfer(Some(CallRef::from_pb(one))),
                _ => {
                    return Err(BuildError::Conflict(
                        "CompleteTransfer takes at most one callinst",
                    ));
                }
            },
            Action::CompleteConf => {
                CallFunctionCmd::CompleteConf(f.callinst.iter().map(CallRef::from_pb).collect())
            }
            Action::AddToConf => CallFunctionCmd::AddToConf(arg),
            Action::MemberFunction => {
                let missing = BuildError::Missing {
                    action: "MemberFunction",
                    what: "memberfunctiondata with an action (DropCall, MuteOn or MuteOff)",
                };
                let data = f.memberfunctiondata.as_ref().ok_or(missing.clone())?;
                let action = match pb::member_function_data::Action::try_from(data.action) {
                    Ok(pb::member_function_data::Action::DropCall) => MemberAction::DropCall,
                    Ok(pb::member_function_data::Action::MuteOn) => MemberAction::MuteOn,
                    Ok(pb::member_function_data::Action::MuteOff) => MemberAction::MuteOff,
                    Ok(pb::member_function_data::Action::None) | Err(_) => return Err(missing),
                };
                CallFunctionCmd::MemberFunction {
                    lref: data.lref,
                    action,
                }
            }
            Action::SetTag => CallFunctionCmd::SetTag(arg),
            Action::SetAccountCode => CallFunctionCmd::SetAccountCode(arg),
            Action::SetNotes => CallFunctionCmd::SetNotes(arg),
            Action::PushToEc500 => CallFunctionCmd::PushToEc500,
            Action::GenerateDigits => CallFunctionCmd::GenerateDigits(arg),
            Action::ShortCodeAction => {
                let data = f.shortcodedata.as_ref().ok_or(BuildError::Missing {
                    action: "ShortCodeAction",
                    what: "shortcodedata",
                })?;
                CallFunctionCmd::ShortCodeAction(ShortCode::from_pb(data))
            }
            Action::AnswerPage => CallFunctionCmd::AnswerPage,
            Action::ForceClear => CallFunctionCmd::ForceClear,
            Action::SetAuthCode => CallFunctionCmd::SetAuthCode(arg),
            Action::CallRecordingOn => CallFunctionCmd::CallRecordingOn,
            Action::CallRecordingOff => CallFunctionCmd::CallRecordingOff,
            Action::PrivacyOn => CallFunctionCmd::PrivacyOn,
            Action::PrivacyOff => CallFunctionCmd::PrivacyOff,
            Action::MuteOn => CallFunctionCmd::MuteOn,
            Action::MuteOff => CallFunctionCmd::MuteOff,
            Action::AgentRecordingControl => {
                let control = match f.agentrecording {
                    Some(pb::AgentRecordingControl {
                        pause: true,
                        resume: false,
                    }) => RecordingControl::Pause,
                    Some(pb::AgentRecordingControl {
                        pause: false,
                        resume: true,
                    }) => RecordingControl::Resume,
                    _ => {
                        return Err(BuildError::Missing {
                            action: "AgentRecordingControl",
                            what: "agentrecording with exactly one of pause or resume",
                        });
                    }
                };
                CallFunctionCmd::AgentRecordingControl(control)
            }
            Action::SetPriority => CallFunctionCmd::SetPriority(Priority::from_arg(&arg)?),
            Action::Finish => match arg.as_str() {
                "" => CallFunctionCmd::Finish { immediate: false },
                "1" => CallFunctionCmd::Finish { immediate: true },
                _ => {
                    return Err(BuildError::Character {
                        what: "Finish argument",
                        ch: arg.chars().next().unwrap_or('?'),
                        allowed: "no argument or exactly \"1\"",
                    });
                }
            },
        };
        // Apply the same limits as on the way out.
        cmd.to_pb()?;
        Ok(cmd)
    }
}

// ---------------------------------------------------------------------------------------------
// User and queue updates

/// Absence message types 1..=11 (`Absence.msg`); see `text::absence_text` for the phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AbsenceKind {
    /// 1: "ON HOLIDAY UNTIL" + text.
    OnHolidayUntil = 1,
    /// 2: "WILL BE BACK" + text.
    WillBeBack = 2,
    /// 3: "AT LUNCH UNTIL" + text.
    AtLunchUntil = 3,
    /// 4: "MEETING UNTIL" + text.
    MeetingUntil = 4,
    /// 5: "PLEASE CALL" + text.
    PleaseCall = 5,
    /// 6: "DON'T DISTURB UNTIL" + text.
    DontDisturbUntil = 6,
    /// 7: "WITH VISITOR UNTIL" + text.
    WithVisitorUntil = 7,
    /// 8: "WITH CUSTOMER UNTIL" + text.
    WithCustomerUntil = 8,
    /// 9: "BACK SOON".
    BackSoon = 9,
    /// 10: "BACK TOMORROW".
    BackTomorrow = 10,
    /// 11: the text alone.
    Custom = 11,
}

impl AbsenceKind {
    /// Every type, 1..=11.
    pub const ALL: [AbsenceKind; 11] = [
        AbsenceKind::OnHolidayUntil,
        AbsenceKind::WillBeBack,
        AbsenceKind::AtLunchUntil,
        AbsenceKind::MeetingUntil,
        AbsenceKind::PleaseCall,
        AbsenceKind::DontDisturbUntil,
        AbsenceKind::WithVisitorUntil,
        AbsenceKind::WithCustomerUntil,
        AbsenceKind::BackSoon,
        AbsenceKind::BackTomorrow,
        AbsenceKind::Custom,
    ];

    /// From `Absence.msg`; `None` outside 1..=11.
    pub fn from_wire(msg: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as i32 == msg)
    }

    /// `Absence.msg`.
    pub const fn to_wire(self) -> i32 {
        self as i32
    }

    /// The document's fixed phrase (`None` for 11, which is the text alone).
    pub const fn phrase(self) -> Option<&'static str> {
        Some(match self {
            AbsenceKind::OnHolidayUntil => "ON HOLIDAY UNTIL",
            AbsenceKind::WillBeBack => "WILL BE BACK",
            AbsenceKind::AtLunchUntil => "AT LUNCH UNTIL",
            AbsenceKind::MeetingUntil => "MEETING UNTIL",
            AbsenceKind::PleaseCall => "PLEASE CALL",
            AbsenceKind::DontDisturbUntil => "DON'T DISTURB UNTIL",
            AbsenceKind::WithVisitorUntil => "WITH VISITOR UNTIL",
            AbsenceKind::WithCustomerUntil => "WITH CUSTOMER UNTIL",
            AbsenceKind::BackSoon => "BACK SOON",
            AbsenceKind::BackTomorrow => "BACK TOMORROW",
            AbsenceKind::Custom => return None,
        })
    }

    /// Whether the phrase is followed by the text (1..=8) or is the text (11).
    pub const fn takes_text(self) -> bool {
        !matches!(self, AbsenceKind::BackSoon | AbsenceKind::BackTomorrow)
    }
}

/// The longest absence text, in characters (the document: "maximum length is set to 21").
pub const ABSENCE_TEXT_MAX: usize = 21;
/// The longest application presence string, in characters (the document: 34).
pub const APP_PRESENCE_MAX: usize = 34;

/// An absence note to set: a type and its text (at most [`ABSENCE_TEXT_MAX`] characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AbsenceNote {
    /// The message type.
    pub kind: AbsenceKind,
    /// The text after the phrase (or the whole note for [`AbsenceKind::Custom`]).
    pub text: String,
}

/// Hot-desk the user to another extension (`UpdateUserLoginExtn`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoginExtn {
    /// The extension to log in at.
    pub extn: String,
    /// The user's login code.
    pub password: String,
    /// Teleworker connection details, when logging in as a teleworker.
    pub teleworker: Option<pb::TeleworkerConnection>,
}

/// One change to a user's configuration (`UpdateUser`), sent on the user's subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum UserUpdate {
    /// Do Not Disturb on (`true`) or off.
    Sac(bool),
    /// Set the absence note (`Some`) or clear it (`None`).
    Absence(Option<AbsenceNote>),
    /// Mobile twinning on or off.
    Ec500(bool),
    /// Run short codes on the user (at least one).
    ShortCodes(Vec<ShortCode>),
    /// Hot-desk to another extension.
    LoginExtn(LoginExtn),
    /// Change the application presence string (at most [`APP_PRESENCE_MAX`] characters).
    /// `makelive` / `makedead` switch this subscription's ACTIVAPP flag on or off.
    App {
        /// The new string.
        value: String,
        /// Make this subscription count as an application that edits the app field.
        makelive: bool,
        /// Stop this subscription counting as one.
        makedead: bool,
    },
    /// Forward unconditional: on/off, destination, and whether it goes to voicemail.
    FwdU {
        /// Forwarding on.
        enabled: bool,
        /// The destination.
        number: String,
        /// Forward to voicemail.
        to_voicemail: bool,
    },
}

impl UserUpdate {
    /// The `UpdateUser` payload, with the document's limits checked.
    pub fn to_pb(&self) -> Result<pb::UpdateUser, BuildError> {
        let mut u = pb::UpdateUser::default();
        match self {
            UserUpdate::Sac(on) => {
                u.sac = Some(pb::UpdateUserSac {
                    set: i32::from(*on),
                })
            }
            UserUpdate::Absence(None) => {
                u.absence = Some(pb::UpdateUserAbsence {
                    set: 0,
                    absence: None,
                })
            }
            UserUpdate::Absence(Some(note)) => {
                check_len("absence text", &note.text, 0, ABSENCE_TEXT_MAX)?;
                if note.kind == AbsenceKind::Custom && note.text.is_empty() {
                    return Err(BuildError::BlankAbsence);
                }
                u.absence = Some(pb::UpdateUserAbsence {
                    set: 1,
                    absence: Some(pb::Absence {
                        msg: note.kind.to_wire(),
                        str: note.text.clone(),
                    }),
                });
            }
            UserUpdate::Ec500(on) => {
                u.ec500 = Some(pb::UpdateUserEc500 {
                    set: i32::from(*on),
                })
            }
            UserUpdate::ShortCodes(codes) => {
                if codes.is_empty() {
                    return Err(BuildError::Empty {
                        what: "short code list",
                    });
                }
                u.shortcodedata = codes.iter().map(ShortCode::to_pb).collect();
            }
            UserUpdate::LoginExtn(login) => {
                u.loginextn = Some(pb::UpdateUserLoginExtn {
                    extn: login.extn.clone(),
                    password: login.password.clone(),
                    teleworkerconnection: login.teleworker.clone(),
                })
            }
            UserUpdate::App {
                value,
                makelive,
                makedead,
            } => {
                check_len("application presence", value, 0, APP_PRESENCE_MAX)?;
                if *makelive && *makedead {
                    return Err(BuildError::Conflict(
                        "makelive and makedead contradict each other; choose one",
                    ));
                }
                u.app = Some(pb::UpdateUserApp {
                    value: value.clone(),
                    makelive: *makelive,
                    makedead: *makedead,
                });
            }
            UserUpdate::FwdU {
                enabled,
                number,
                to_voicemail,
            } => {
                u.fwdu = Some(pb::UpdateUserFwdU {
                    set: *enabled,
                    fwdu_number: number.clone(),
                    fwdtovm: *to_voicemail,
                })
            }
        }
        Ok(u)
    }
}

/// A queue's service mode, as it can be set (`SetServiceMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceMode {
    /// In service (`Active`).
    Active,
    /// Night service (`NS`).
    NightService,
    /// Out of service (`OOS`).
    OutOfService,
}

impl ServiceMode {
    fn to_pb(self) -> pb::set_service_mode::ServiceMode {
        match self {
            ServiceMode::Active => pb::set_service_mode::ServiceMode::Active,
            ServiceMode::NightService => pb::set_service_mode::ServiceMode::Ns,
            ServiceMode::OutOfService => pb::set_service_mode::ServiceMode::Oos,
        }
    }

    /// From `SetServiceMode.servicemode`; `None` for Unset or a value the document does not
    /// list.
    pub fn from_pb(v: i32) -> Option<Self> {
        match pb::set_service_mode::ServiceMode::try_from(v).ok()? {
            pb::set_service_mode::ServiceMode::Unset => None,
            pb::set_service_mode::ServiceMode::Active => Some(ServiceMode::Active),
            pb::set_service_mode::ServiceMode::Ns => Some(ServiceMode::NightService),
            pb::set_service_mode::ServiceMode::Oos => Some(ServiceMode::OutOfService),
        }
    }

    /// As `NotifyQueue.servicemode` reports it.
    pub fn to_notify(self) -> pb::notify_queue::ServiceMode {
        match self {
            ServiceMode::Active => pb::notify_queue::ServiceMode::Active,
            ServiceMode::NightService => pb::notify_queue::ServiceMode::Ns,
            ServiceMode::OutOfService => pb::notify_queue::ServiceMode::Oos,
        }
    }

    /// The document's short name: `Active`, `NS` or `OOS`.
    pub fn name(self) -> &'static str {
        match self {
            ServiceMode::Active => "Active",
            ServiceMode::NightService => "NS",
            ServiceMode::OutOfService => "OOS",
        }
    }
}

/// One agent of a queue (`QueueMember`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// The agent's extension.
    pub extn: String,
    /// Whether the agent is disabled (not accepting calls) in this queue.
    pub disabled: bool,
}

impl Member {
    /// An enabled member.
    pub fn enabled(extn: impl Into<String>) -> Self {
        Member {
            extn: extn.into(),
            disabled: false,
        }
    }

    fn to_pb(&self) -> Result<pb::QueueMember, BuildError> {
        if self.extn.is_empty() {
            return Err(BuildError::Empty {
                what: "queue member extension",
            });
        }
        Ok(pb::QueueMember {
            extn: self.extn.clone(),
            disabled: self.disabled,
        })
    }
}

/// One change to a queue's configuration (`UpdateQueue`), sent on the queue's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueUpdate {
    /// Set the service mode.
    ServiceMode(ServiceMode),
    /// Voicemail on or off.
    Voicemail(bool),
    /// Replace the whole members list (may be empty: no members).
    Members(Vec<Member>),
    /// Add members, or change an existing member's disabled state (at least one).
    AddMember(Vec<Member>),
    /// Remove members by extension (at least one).
    DeleteMember(Vec<String>),
}

impl QueueUpdate {
    /// The `UpdateQueue` payload, with the limits checked.
    pub fn to_pb(&self) -> Result<pb::UpdateQueue, BuildError> {
        let mut q = pb::UpdateQueue::default();
        match self {
            QueueUpdate::ServiceMode(mode) => {
                q.setservicemode = Some(pb::SetServiceMode {
                    servicemode: mode.to_pb() as i32,
                })
            }
            QueueUpdate::Voicemail(on) => q.setvoicemail = Some(pb::SetVoicemail { enabled: *on }),
            QueueUpdate::Members(members) => {
                q.members = Some(pb::QueueMembers {
                    member: members
                        .iter()
                        .map(Member::to_pb)
                        .collect::<Result<_, _>>()?,
                })
            }
            QueueUpdate::AddMember(members) => {
                if members.is_empty() {
                    return Err(BuildError::Empty {
                        what: "members to add",
                    });
                }
                q.addmember = members
                    .iter()
                    .map(Member::to_pb)
                    .collect::<Result<_, _>>()?;
            }
            QueueUpdate::DeleteMember(extns) => {
                if extns.is_empty() {
                    return Err(BuildError::Empty {
                        what: "members to delete",
                    });
                }
                q.deletemember = extns
                    .iter()
                    .map(|e| Member::enabled(e.clone()).to_pb())
                    .collect::<Result<_, _>>()?;
            }
        }
        Ok(q)
    }
}

// ---------------------------------------------------------------------------------------------
// Envelopes

fn message(payload: pb::message::Payload) -> Message {
    Message {
        payload: Some(payload),
    }
}

fn subscribe(
    requestid: i32,
    subscribe_id: i32,
    timeout: i32,
    payload: Option<pb::subscribe::Payload>,
) -> Message {
    message(pb::message::Payload::Subscribe(pb::Subscribe {
        requestid,
        subscribe_id,
        timeout,
        label: String::new(),
        payload,
    }))
}

fn subscribe_cmd(
    requestid: i32,
    subscribe_id: i32,
    payload: pb::subscribe_cmd::Payload,
) -> Message {
    message(pb::message::Payload::Subscribecmd(pb::SubscribeCmd {
        requestid,
        subscribe_id,
        payload: Some(payload),
    }))
}

fn call_control(requestid: i32, subscribe_id: i32, cc: pb::UpdateCallControl) -> Message {
    subscribe_cmd(
        requestid,
        subscribe_id,
        pb::subscribe_cmd::Payload::Callcontrol(cc),
    )
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

/// Subscribe to the lines list (users, queues, park server availability). `timeout` in seconds,
/// 0 = no expiry.
pub fn subscribe_lines(
    requestid: i32,
    subscribe_id: i32,
    timeout: i32,
    flags: LinesFlags,
) -> Message {
    subscribe(
        requestid,
        subscribe_id,
        timeout,
        Some(pb::subscribe::Payload::Lines(pb::SubscribeLines {
            flags: flags.to_wire(),
        })),
    )
}

/// Subscribe to one user by the guid from the lines list. `ccflags` empty: user configuration
/// only, no call control.
pub fn subscribe_user(
    requestid: i32,
    subscribe_id: i32,
    timeout: i32,
    guid: &[u8],
    flags: UserFlags,
    ccflags: CcFlags,
) -> Message {
    subscribe(
        requestid,
        subscribe_id,
        timeout,
        Some(pb::subscribe::Payload::User(pb::SubscribeUser {
            guid: guid.to_vec(),
            flags: flags.to_wire(),
            ccflags: ccflags.to_wire(),
        })),
    )
}

/// Subscribe to one queue, by guid or by name.
pub fn subscribe_queue(
    requestid: i32,
    subscribe_id: i32,
    timeout: i32,
    queue: QueueRef<'_>,
    flags: QueueFlags,
    ccflags: CcFlags,
) -> Message {
    let (guid, name) = match queue {
        QueueRef::Guid(g) => (g.to_vec(), String::new()),
        QueueRef::Name(n) => (Vec::new(), n.to_owned()),
    };
    subscribe(
        requestid,
        subscribe_id,
        timeout,
        Some(pb::subscribe::Payload::Queue(pb::SubscribeQueue {
            guid,
            flags: flags.to_wire(),
            ccflags: ccflags.to_wire(),
            name,
        })),
    )
}

/// Subscribe to the park server (parked calls arrive as call-control notifies with `parkslot`).
pub fn subscribe_parkserver(
    requestid: i32,
    subscribe_id: i32,
    timeout: i32,
    ccflags: CcFlags,
) -> Message {
    subscribe(
        requestid,
        subscribe_id,
        timeout,
        Some(pb::subscribe::Payload::Parkserver(
            pb::SubscribeParkServer {
                flags: 0,
                ccflags: ccflags.to_wire(),
            },
        )),
    )
}

/// Subscribe to the refresh wrapper (groups notifications into atomic events; only one).
pub fn subscribe_refresh_wrapper(requestid: i32, subscribe_id: i32, timeout: i32) -> Message {
    subscribe(
        requestid,
        subscribe_id,
        timeout,
        Some(pb::subscribe::Payload::Refreshwrapper(
            pb::SubscribeRefreshWrapper::default(),
        )),
    )
}

fn check_presence_timeout(timeout: i32) -> Result<(), BuildError> {
    if (PRESENCE_TIMEOUT_MIN..=PRESENCE_TIMEOUT_MAX).contains(&timeout) {
        Ok(())
    } else {
        Err(BuildError::PresenceTimeout(timeout))
    }
}

fn check_presentities(what: &'static str, entries: &[pb::Presentity]) -> Result<(), BuildError> {
    if entries.iter().any(|e| e.presentity.is_empty()) {
        return Err(BuildError::Empty { what });
    }
    Ok(())
}

/// Subscribe to presence for a list of presentities (phone numbers, SIP or e-mail addresses),
/// each with an optional lref. The timeout must be 60..=86400 seconds.
pub fn subscribe_presence(
    requestid: i32,
    subscribe_id: i32,
    timeout: i32,
    entries: &[pb::Presentity],
    flags: PresenceFlags,
) -> Result<Message, BuildError> {
    check_presence_timeout(timeout)?;
    check_presentities("presentity identifier", entries)?;
    Ok(subscribe(
        requestid,
        subscribe_id,
        timeout,
        Some(pb::subscribe::Payload::Presence(pb::SubscribePresence {
            entry: entries.to_vec(),
            flags: flags.to_wire(),
        })),
    ))
}

/// Refresh a subscription: the same subscribe_id and only a new timeout, no payload (as the
/// document's example). No RequestResponse is asked for.
pub fn refresh(subscribe_id: i32, timeout: i32) -> Message {
    subscribe(0, subscribe_id, timeout, None)
}

/// As [`refresh`], with a requestid so that IP Office answers (e.g. to learn that the
/// subscription is gone: `MTCTISESS_SUBSCRIPTION_INVALID_ID`).
pub fn refresh_with_request(requestid: i32, subscribe_id: i32, timeout: i32) -> Message {
    subscribe(requestid, subscribe_id, timeout, None)
}

/// Refresh a presence subscription, whose timeout must stay within 60..=86400 seconds.
pub fn refresh_presence(subscribe_id: i32, timeout: i32) -> Result<Message, BuildError> {
    check_presence_timeout(timeout)?;
    Ok(refresh(subscribe_id, timeout))
}

/// Add presentities to, or remove them (by lref or identifier) from, a presence subscription.
pub fn update_presence(
    requestid: i32,
    subscribe_id: i32,
    add: &[pb::Presentity],
    remove: &[pb::Presentity],
) -> Result<Message, BuildError> {
    if add.is_empty() && remove.is_empty() {
        return Err(BuildError::Empty {
            what: "presence update (nothing to add or remove)",
        });
    }
    check_presentities("presentity identifier to add", add)?;
    if remove
        .iter()
        .any(|r| r.presentity.is_empty() && r.lref == 0)
    {
        return Err(BuildError::Empty {
            what: "presentity to remove (give its lref or identifier)",
        });
    }
    Ok(subscribe_cmd(
        requestid,
        subscribe_id,
        pb::subscribe_cmd::Payload::Presence(pb::UpdatePresence {
            add: add.to_vec(),
            remove: remove.to_vec(),
        }),
    ))
}

/// End a subscription. The reason is free text IP Office may log.
pub fn subscribe_end(requestid: i32, subscribe_id: i32, reason: &str) -> Message {
    message(pb::message::Payload::Subscribeend(pb::SubscribeEnd {
        requestid,
        subscribe_id,
        reason: reason.to_owned(),
    }))
}

/// Acknowledge a Notify (IP Office sends the next Notify on the subscription only after this).
pub fn notify_ack(subscribe_id: i32, notify_id: i32) -> Message {
    message(pb::message::Payload::Notifyack(pb::NotifyAck {
        subscribe_id,
        notify_id,
    }))
}

/// The NotifyAck a Notify asks for: `Some` when it carries a `notify_id`, as the document
/// requires acknowledging exactly those.
pub fn ack_for(notify: &pb::Notify) -> Option<Message> {
    (notify.notify_id != 0).then(|| notify_ack(notify.subscribe_id, notify.notify_id))
}

// ---------------------------------------------------------------------------------------------
// General commands

/// Read a pseudo-file, e.g. [`ACCOUNT_CODE_FILE`]. `cmdinst` is echoed in the response.
pub fn get_file(requestid: i32, cmdinst: i32, fname: &str) -> Message {
    message(pb::message::Payload::Generalcmd(pb::GeneralCmd {
        requestid,
        payload: Some(pb::general_cmd::Payload::Getfile(pb::GetFile {
            cmdinst,
            fname: fname.to_owned(),
        })),
    }))
}

/// Ask for the IP Office version (R11.1 and later; older systems never answer).
pub fn get_version_info(requestid: i32) -> Message {
    message(pb::message::Payload::Generalcmd(pb::GeneralCmd {
        requestid,
        payload: Some(pb::general_cmd::Payload::Getversioninfo(true)),
    }))
}

// ---------------------------------------------------------------------------------------------
// Call control

/// Perform a call function on the call IP Office calls `callid` (non-zero).
pub fn call_function(
    requestid: i32,
    subscribe_id: i32,
    callid: i32,
    f: &CallFunctionCmd,
) -> Result<Message, BuildError> {
    call_function_with_hint(requestid, subscribe_id, callid, f, DeviceHint::Unspecified)
}

/// As [`call_function`], naming the device to act on (e.g. answer on a softphone only).
pub fn call_function_with_hint(
    requestid: i32,
    subscribe_id: i32,
    callid: i32,
    f: &CallFunctionCmd,
    hint: DeviceHint,
) -> Result<Message, BuildError> {
    if callid == 0 {
        return Err(BuildError::NoCallId);
    }
    Ok(call_control(
        requestid,
        subscribe_id,
        pb::UpdateCallControl {
            callid,
            callfunction: Some(f.to_pb()?),
            devicehint: hint as i32,
            ..Default::default()
        },
    ))
}

/// As [`call_function_with_hint`], selecting the call by the application's referencecallid.
pub fn call_function_by_reference(
    requestid: i32,
    subscribe_id: i32,
    referencecallid: i32,
    f: &CallFunctionCmd,
    hint: DeviceHint,
) -> Result<Message, BuildError> {
    non_zero_reference("a call function by reference", referencecallid)?;
    Ok(call_control(
        requestid,
        subscribe_id,
        pb::UpdateCallControl {
            referencecallid,
            callfunction: Some(f.to_pb()?),
            devicehint: hint as i32,
            ..Default::default()
        },
    ))
}

/// Make a call from the subscription's user. `referencecallid` (non-zero) is how the new call's
/// CallInfo (or a CallLost, if it fails at once) will be recognised; callid is not set, as the
/// document requires. An empty target gives a call in DIALTONE.
pub fn make_call(
    requestid: i32,
    subscribe_id: i32,
    referencecallid: i32,
    target: &str,
    kind: MakeCallType,
) -> Result<Message, BuildError> {
    make_call_with_hint(
        requestid,
        subscribe_id,
        referencecallid,
        target,
        kind,
        DeviceHint::Unspecified,
    )
}

/// As [`make_call`], naming the device to call from.
pub fn make_call_with_hint(
    requestid: i32,
    subscribe_id: i32,
    referencecallid: i32,
    target: &str,
    kind: MakeCallType,
    hint: DeviceHint,
) -> Result<Message, BuildError> {
    make_call_advanced(
        requestid,
        subscribe_id,
        referencecallid,
        target,
        kind,
        hint,
        None,
    )
}

/// As [`make_call_with_hint`], with the advanced attributes (account code, auth code, tag,
/// withheld CLI, privacy, ...). The account and auth codes take 0..=15 characters and the tag
/// 0..=127, as their call functions do.
pub fn make_call_advanced(
    requestid: i32,
    subscribe_id: i32,
    referencecallid: i32,
    target: &str,
    kind: MakeCallType,
    hint: DeviceHint,
    advanced: Option<&pb::AdvancedMakeCall>,
) -> Result<Message, BuildError> {
    non_zero_reference("MakeCall", referencecallid)?;
    if let Some(a) = advanced {
        check_bmp("MakeCall account code", &a.accountcode, 15)?;
        check_bmp("MakeCall auth code", &a.authcode, 15)?;
        check_bmp("MakeCall tag", &a.tag, 127)?;
    }
    Ok(call_control(
        requestid,
        subscribe_id,
        pb::UpdateCallControl {
            referencecallid,
            makecall: Some(pb::MakeCall {
                target: target.to_owned(),
                r#type: kind.code(),
                advanced: advanced.cloned(),
            }),
            devicehint: hint as i32,
            ..Default::default()
        },
    ))
}

/// Unpark the call in park slot `parkid` (1..=9 characters) to the subscription's user. The
/// unparked call gets a new callid and carries `referencecallid` (non-zero); callid is not set,
/// as the document requires.
pub fn unpark_call(
    requestid: i32,
    subscribe_id: i32,
    referencecallid: i32,
    parkid: &str,
) -> Result<Message, BuildError> {
    unpark_call_with_hint(
        requestid,
        subscribe_id,
        referencecallid,
        parkid,
        DeviceHint::Unspecified,
    )
}

/// As [`unpark_call`], naming the device to unpark to.
pub fn unpark_call_with_hint(
    requestid: i32,
    subscribe_id: i32,
    referencecallid: i32,
    parkid: &str,
    hint: DeviceHint,
) -> Result<Message, BuildError> {
    non_zero_reference("UnParkCall", referencecallid)?;
    check_len("park slot", parkid, 1, 9)?;
    Ok(call_control(
        requestid,
        subscribe_id,
        pb::UpdateCallControl {
            referencecallid,
            unparkcall: Some(pb::UnParkCall {
                parkid: parkid.to_owned(),
            }),
            devicehint: hint as i32,
            ..Default::default()
        },
    ))
}

/// Change a user's configuration, on that user's subscription.
pub fn update_user(
    requestid: i32,
    subscribe_id: i32,
    update: &UserUpdate,
) -> Result<Message, BuildError> {
    Ok(subscribe_cmd(
        requestid,
        subscribe_id,
        pb::subscribe_cmd::Payload::User(update.to_pb()?),
    ))
}

/// Change a queue's configuration, on that queue's subscription.
pub fn update_queue(
    requestid: i32,
    subscribe_id: i32,
    update: &QueueUpdate,
) -> Result<Message, BuildError> {
    Ok(subscribe_cmd(
        requestid,
        subscribe_id,
        pb::subscribe_cmd::Payload::Queue(update.to_pb()?),
    ))
}
