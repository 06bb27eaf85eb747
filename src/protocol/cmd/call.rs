//! Call functions (`CallFunction`) and the typed arguments they and MakeCall take, with the
//! feature bit that offers each function.

use std::fmt;

use crate::protocol::bits::{CallFeatures, CallFeatures2};
use crate::protocol::limits::{BuildError, check_bmp, check_len};
use crate::protocol::pb;
use crate::protocol::pb::call_function::Action;

use super::short_code::ShortCode;

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
