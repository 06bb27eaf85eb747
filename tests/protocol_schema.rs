//! The schema itself, checked against the compiled descriptor.
//!
//! Round trips cannot catch a wrong field number (our encoder and decoder would agree with each
//! other and disagree with IP Office), so every field of every message is listed here, as the
//! protocol document quotes it and as `shared/spec/wire-facts.md` completes and corrects it, and
//! the compiled `FileDescriptorSet` must match the table exactly: no field missing, none extra,
//! none at another number or wire type.

use std::collections::{BTreeMap, BTreeSet};

use ipo_top::protocol::DESCRIPTOR_SET;
use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// (message, field, number, type). Types: `int32`, `string`, `bool`, `bytes`, a message name, or
/// `enum X.Y`; `repeated ` in front for a repeated field.
const FIELDS: &[(&str, &str, i32, &str)] = &[
    // The envelope (document: Message; field 4 is the SubscribeCmd payload, spelled
    // `subscibecmd` in the document).
    ("Message", "response", 1, "RequestResponse"),
    ("Message", "generalcmd", 2, "GeneralCmd"),
    ("Message", "subscribe", 3, "Subscribe"),
    ("Message", "subscribecmd", 4, "SubscribeCmd"),
    ("Message", "subscribeend", 5, "SubscribeEnd"),
    ("Message", "subscribeterminated", 6, "SubscribeTerminated"),
    ("Message", "generaldata", 7, "GeneralData"),
    ("Message", "notify", 8, "Notify"),
    ("Message", "notifyack", 9, "NotifyAck"),
    // Subscriptions (document).
    ("Subscribe", "requestid", 1, "int32"),
    ("Subscribe", "subscribe_id", 2, "int32"),
    ("Subscribe", "timeout", 3, "int32"),
    ("Subscribe", "label", 4, "string"),
    ("Subscribe", "presence", 10, "SubscribePresence"),
    ("Subscribe", "lines", 40, "SubscribeLines"),
    ("Subscribe", "user", 41, "SubscribeUser"),
    ("Subscribe", "queue", 42, "SubscribeQueue"),
    ("Subscribe", "parkserver", 43, "SubscribeParkServer"),
    ("Subscribe", "refreshwrapper", 45, "SubscribeRefreshWrapper"),
    ("RequestResponse", "requestid", 1, "int32"),
    ("RequestResponse", "result", 2, "int32"),
    ("RequestResponse", "additional", 3, "string"),
    ("Notify", "subscribe_id", 1, "int32"),
    ("Notify", "notify_id", 2, "int32"),
    ("Notify", "label", 3, "string"),
    ("Notify", "presence", 10, "NotifyPresence"),
    ("Notify", "callcontrol", 14, "NotifyCallControl"),
    ("Notify", "lines", 40, "NotifyLines"),
    ("Notify", "user", 41, "NotifyUser"),
    ("Notify", "queue", 42, "NotifyQueue"),
    ("Notify", "parkserver", 43, "NotifyParkServer"), // wire-facts
    ("Notify", "refreshwrapper", 45, "NotifyRefreshWrapper"),
    ("NotifyAck", "subscribe_id", 1, "int32"),
    ("NotifyAck", "notify_id", 2, "int32"),
    ("SubscribeEnd", "requestid", 1, "int32"),
    ("SubscribeEnd", "subscribe_id", 2, "int32"), // the document's "= 1" corrected
    ("SubscribeEnd", "reason", 3, "string"),
    ("SubscribeTerminated", "subscribe_id", 1, "int32"),
    ("SubscribeTerminated", "reason", 2, "string"),
    // wire-facts: SubscribeCmd, GeneralCmd, GeneralData, GetFile(Response).
    ("SubscribeCmd", "requestid", 1, "int32"),
    ("SubscribeCmd", "subscribe_id", 2, "int32"),
    ("SubscribeCmd", "timeout", 3, "int32"),
    ("SubscribeCmd", "presence", 10, "UpdatePresence"),
    ("SubscribeCmd", "callcontrol", 14, "UpdateCallControl"),
    ("SubscribeCmd", "user", 41, "UpdateUser"),
    ("SubscribeCmd", "queue", 42, "UpdateQueue"),
    ("GetFile", "cmdinst", 1, "int32"),
    ("GetFile", "fname", 2, "string"),
    ("GetFileResponse", "cmdinst", 1, "int32"),
    ("GetFileResponse", "fname", 2, "string"),
    ("GetFileResponse", "result", 3, "int32"),
    ("GetFileResponse", "payload", 4, "bytes"),
    ("GeneralCmd", "requestid", 1, "int32"),
    ("GeneralCmd", "getfile", 6, "GetFile"),
    ("GeneralCmd", "getversioninfo", 7, "bool"), // R11.1
    ("GeneralData", "responseid", 1, "int32"),
    ("GeneralData", "getfile", 6, "GetFileResponse"),
    ("GeneralData", "versioninfo", 7, "string"), // R11.1
    // Presence (document; UpdatePresence from wire-facts).
    ("SubscribePresence", "entry", 1, "repeated Presentity"),
    ("SubscribePresence", "flags", 2, "int32"),
    ("Presentity", "presentity", 1, "string"),
    ("Presentity", "lref", 2, "int32"),
    ("NotifyPresence", "full", 1, "int32"),
    ("NotifyPresence", "entry", 2, "repeated NotifyPresentity"),
    ("NotifyPresentity", "presentity", 1, "string"),
    ("NotifyPresentity", "lref", 2, "int32"),
    ("NotifyPresentity", "sac", 3, "int32"), // a varint either way (v1.0 schema: bool)
    ("NotifyPresentity", "phonestate", 4, "int32"),
    ("NotifyPresentity", "absence", 5, "Absence"),
    ("NotifyPresentity", "app", 6, "string"),
    ("NotifyPresentity", "fwdu", 7, "bool"),
    ("NotifyPresentity", "vmunread_messages", 8, "int32"),
    ("NotifyPresentity", "noapphandler", 9, "bool"),
    ("UpdatePresence", "add", 1, "repeated Presentity"),
    ("UpdatePresence", "remove", 2, "repeated Presentity"),
    ("Absence", "msg", 1, "int32"),
    ("Absence", "str", 2, "string"),
    // Lines (document).
    ("LinesUser", "guid", 1, "bytes"),
    ("LinesUser", "extn", 2, "string"),
    ("LinesUser", "name", 3, "string"),
    ("LinesQueue", "guid", 1, "bytes"),
    ("LinesQueue", "extn", 2, "string"),
    ("LinesQueue", "name", 3, "string"),
    ("NotifyLines", "flags", 1, "int32"),
    ("NotifyLines", "adduser", 2, "repeated LinesUser"),
    ("NotifyLines", "addqueue", 3, "repeated LinesQueue"),
    ("NotifyLines", "deleteuser", 4, "repeated LinesUser"),
    ("NotifyLines", "deletequeue", 5, "repeated LinesQueue"),
    ("NotifyLines", "changeuser", 6, "repeated LinesUser"),
    ("NotifyLines", "changequeue", 7, "repeated LinesQueue"),
    ("SubscribeLines", "flags", 1, "int32"),
    // Users (document; NotifyUser numbers and the UpdateUser parts from wire-facts).
    ("SubscribeUser", "guid", 1, "bytes"),
    ("SubscribeUser", "flags", 2, "int32"),
    ("SubscribeUser", "ccflags", 3, "int32"),
    ("NotifyUser", "extn", 2, "string"),
    ("NotifyUser", "name", 3, "string"),
    ("NotifyUser", "fullname", 4, "string"),
    ("NotifyUser", "katakananame", 5, "string"),
    ("NotifyUser", "email", 6, "string"),
    ("NotifyUser", "featuresavailable", 7, "int32"),
    ("NotifyUser", "language", 8, "string"),
    ("NotifyUser", "dnd", 9, "bool"),
    ("NotifyUser", "barred", 10, "bool"),
    ("NotifyUser", "xdirectory", 11, "bool"),
    ("NotifyUser", "voicemail", 12, "bool"),
    ("NotifyUser", "loggedinextn", 13, "string"),
    ("NotifyUser", "extnfault", 14, "bool"),
    ("NotifyUser", "loggedoff", 15, "bool"),
    ("NotifyUser", "absence", 16, "Absence"),
    ("NotifyUser", "mailbox", 17, "Mailbox"),
    ("NotifyUser", "app", 18, "string"),
    ("NotifyUser", "noapphandler", 19, "bool"),
    ("NotifyUser", "ec500", 20, "bool"),
    ("NotifyUser", "fwdu", 21, "bool"),
    ("NotifyUser", "fwdb", 22, "bool"),
    ("NotifyUser", "fwdna", 23, "bool"),
    ("NotifyUser", "fwdhg", 24, "bool"),
    ("NotifyUser", "fwdunumber", 25, "string"),
    ("NotifyUser", "fwdbnumber", 26, "string"),
    ("NotifyUser", "fwdtovm", 27, "bool"),
    ("NotifyUser", "offswitch", 28, "bool"),
    ("Mailbox", "newmessages", 1, "int32"),
    ("Mailbox", "oldmessages", 2, "int32"),
    ("Mailbox", "savedmessages", 3, "int32"),
    ("UpdateUser", "sac", 1, "UpdateUserSAC"),
    ("UpdateUser", "absence", 2, "UpdateUserAbsence"),
    ("UpdateUser", "ec500", 3, "UpdateUserEC500"),
    ("UpdateUser", "shortcodedata", 4, "repeated ShortCodeData"), // the example's `shortcode`
    ("UpdateUser", "loginextn", 7, "UpdateUserLoginExtn"),
    ("UpdateUser", "app", 8, "UpdateUserApp"),
    ("UpdateUser", "fwdu", 9, "UpdateUserFwdU"),
    ("UpdateUserSAC", "set", 1, "int32"),
    ("UpdateUserEC500", "set", 1, "int32"),
    ("UpdateUserAbsence", "set", 1, "int32"),
    ("UpdateUserAbsence", "absence", 2, "Absence"),
    ("ShortCodeData", "code", 1, "int32"),
    ("ShortCodeData", "val", 2, "string"),
    ("ShortCodeData", "onbehalf", 3, "string"),
    ("TeleworkerConnection", "number", 1, "string"),
    ("TeleworkerConnection", "holdlineopen", 2, "bool"),
    ("TeleworkerConnection", "testconnection", 3, "int32"),
    ("UpdateUserLoginExtn", "extn", 1, "string"),
    ("UpdateUserLoginExtn", "password", 2, "string"),
    (
        "UpdateUserLoginExtn",
        "teleworkerconnection",
        3,
        "TeleworkerConnection",
    ),
    ("UpdateUserApp", "value", 1, "string"),
    ("UpdateUserApp", "makelive", 2, "bool"),
    ("UpdateUserApp", "makedead", 3, "bool"),
    ("UpdateUserFwdU", "set", 1, "bool"),
    ("UpdateUserFwdU", "fwdu_number", 2, "string"),
    ("UpdateUserFwdU", "fwdtovm", 3, "bool"),
    // Queues (document; SetServiceMode and SetVoicemail from wire-facts).
    ("SubscribeQueue", "guid", 1, "bytes"),
    ("SubscribeQueue", "flags", 2, "int32"),
    ("SubscribeQueue", "ccflags", 3, "int32"),
    ("SubscribeQueue", "name", 4, "string"),
    ("NotifyQueue", "extn", 2, "string"),
    ("NotifyQueue", "name", 3, "string"),
    ("NotifyQueue", "katakananame", 4, "string"),
    ("NotifyQueue", "email", 5, "string"),
    ("NotifyQueue", "ringmode", 6, "int32"),
    ("NotifyQueue", "noanswertime", 7, "int32"),
    ("NotifyQueue", "voicemail", 8, "bool"),
    ("NotifyQueue", "voicemailtime", 9, "int32"),
    (
        "NotifyQueue",
        "servicemode",
        10,
        "enum NotifyQueue.ServiceMode",
    ),
    ("NotifyQueue", "queuemembers", 11, "QueueMembers"),
    ("NotifyQueue", "mailbox", 12, "Mailbox"),
    ("QueueMember", "extn", 1, "string"),
    ("QueueMember", "disabled", 2, "bool"),
    ("QueueMembers", "member", 1, "repeated QueueMember"),
    ("UpdateQueue", "setservicemode", 1, "SetServiceMode"),
    ("UpdateQueue", "setvoicemail", 2, "SetVoicemail"),
    ("UpdateQueue", "members", 3, "QueueMembers"),
    ("UpdateQueue", "addmember", 4, "repeated QueueMember"),
    ("UpdateQueue", "deletemember", 5, "repeated QueueMember"),
    (
        "SetServiceMode",
        "servicemode",
        1,
        "enum SetServiceMode.ServiceMode",
    ),
    ("SetVoicemail", "enabled", 1, "bool"),
    // Park server and refresh wrapper (wire-facts: flags/ccflags; one placeholder field = 1).
    ("SubscribeParkServer", "flags", 1, "int32"),
    ("SubscribeParkServer", "ccflags", 2, "int32"),
    ("NotifyParkServer", "placeholder", 1, "int32"),
    ("SubscribeRefreshWrapper", "placeholder", 1, "int32"),
    ("NotifyRefreshWrapper", "placeholder", 1, "int32"),
    // Call-control notifications (document CallInfo, CallLost, NotifyCallControl; the rest and
    // the extra CallInfo fields from wire-facts).
    ("NotifyCallControl", "refreshinstance", 1, "int32"),
    ("NotifyCallControl", "callinfo", 2, "repeated CallInfo"),
    ("NotifyCallControl", "calllost", 3, "repeated CallLost"),
    ("CallInfo", "callid", 2, "int32"),
    ("CallInfo", "referencecallid", 3, "int32"),
    ("CallInfo", "relatedcallid", 4, "int32"),
    ("CallInfo", "state", 5, "enum CallInfo.State"),
    ("CallInfo", "direction", 6, "enum CallInfo.Direction"),
    ("CallInfo", "activeheld", 7, "bool"),
    ("CallInfo", "gcid", 8, "bytes"),
    ("CallInfo", "featuresavailable", 9, "int32"),
    ("CallInfo", "calledparty", 10, "string"),
    ("CallInfo", "callingparty", 11, "PartyInfo"),
    ("CallInfo", "connectedparty", 12, "PartyInfo"),
    ("CallInfo", "originalcalledparty", 13, "PartyInfo"),
    ("CallInfo", "tag", 14, "string"),
    ("CallInfo", "accountcode", 15, "string"),
    ("CallInfo", "mute", 16, "bool"),
    ("CallInfo", "failedcause", 17, "enum CallInfo.FailedCause"),
    ("CallInfo", "featuresavailable2", 18, "int32"),
    ("CallInfo", "recording", 19, "bool"),
    ("CallInfo", "parkslot", 20, "string"),
    ("CallInfo", "absence", 21, "Absence"),
    ("CallInfo", "recordingpaused", 22, "bool"),
    ("CallInfo", "pagecall", 23, "bool"),
    ("CallInfo", "remoteinfo", 50, "EndInfo"),
    ("CallInfo", "localinfo", 51, "repeated EndInfo"),
    (
        "CallInfo",
        "conferencemember",
        52,
        "repeated ConferenceMember",
    ),
    ("CallInfo", "dialinfo", 53, "DialInfo"),
    ("CallInfo", "trunkinfo", 54, "TrunkInfo"), // the examples' `trunkdetail`
    ("CallInfo", "queueinfo", 55, "QueueInfo"), // the examples' `queuedetail`
    ("CallInfo", "calldata", 56, "CallData"),
    ("CallInfo", "notes", 62, "Notes"),
    ("CallInfo", "ucid", 63, "UCID"),
    ("CallInfo", "pintrinsics", 64, "PIntrinsics"),
    ("CallInfo", "targets", 67, "Targets"),
    ("CallLost", "callid", 1, "int32"),
    ("CallLost", "referencecallid", 2, "int32"),
    ("CallLost", "reason", 3, "int32"),
    ("CallLost", "thisenddropped", 4, "bool"),
    ("CallLost", "description", 5, "string"),
    ("PartyInfo", "numbertype", 1, "int32"),
    ("PartyInfo", "number", 2, "string"),
    ("PartyInfo", "subaddr", 3, "string"),
    ("PartyInfo", "name", 4, "string"),
    ("PartyInfo", "nametype", 5, "int32"),
    ("PartyInfo", "withheld", 6, "bool"),
    ("PartyInfo", "diversionreason", 7, "int32"),
    ("DialInfo", "number", 1, "string"),
    ("DialInfo", "calltype", 2, "int32"),
    ("DialInfo", "withholdcli", 3, "bool"),
    ("DialInfo", "hidenumber", 4, "bool"),
    ("DialInfo", "complete", 5, "bool"),
    ("DialInfo", "madn", 6, "string"),
    ("DialInfo", "subaddr", 7, "string"),
    ("DialInfo", "allowcli", 8, "bool"),
    ("DialInfo", "explicitcli", 9, "string"),
    ("TrunkInfo", "trunktype", 1, "enum TrunkInfo.TrunkType"),
    ("TrunkInfo", "did", 5, "string"),
    ("QueueInfo", "number", 3, "string"),
    ("QueueInfo", "name", 4, "string"),
    ("QueueInfo", "priority", 5, "int32"),
    ("QueueInfo", "overflow_number", 6, "string"),
    ("QueueInfo", "overflow_name", 7, "string"),
    ("EndInfo", "gcid", 1, "bytes"),
    ("EndInfo", "deviceclass", 2, "int32"),
    ("EndInfo", "devicetype", 3, "int32"),
    ("EndInfo", "deviceinstance", 4, "int32"),
    ("EndInfo", "teleworker", 5, "string"),
    ("Target", "partyinfo", 1, "PartyInfo"),
    ("Targets", "target", 1, "repeated Target"),
    ("Notes", "notes", 1, "string"),
    ("UCID", "ucid", 1, "bytes"),
    ("PIntrinsics", "pintrinsics", 1, "bytes"),
    ("CallData", "language", 1, "string"),
    ("CallData", "emergency", 2, "bool"),
    ("CallData", "privacy", 3, "bool"),
    ("CallData", "secure", 4, "bool"),
    ("CallData", "rprivacy", 5, "bool"),
    ("ConferenceMember", "lref", 2, "int32"),
    (
        "ConferenceMember",
        "state",
        5,
        "enum ConferenceMember.State",
    ),
    (
        "ConferenceMember",
        "direction",
        6,
        "enum ConferenceMember.Direction",
    ),
    ("ConferenceMember", "activeheld", 7, "bool"),
    ("ConferenceMember", "calledparty", 10, "string"),
    ("ConferenceMember", "connectedparty", 12, "PartyInfo"),
    ("ConferenceMember", "mute", 16, "bool"),
    (
        "ConferenceMember",
        "failedcause",
        17,
        "enum ConferenceMember.FailedCause",
    ),
    // Call-control commands (document UpdateCallControl, MakeCall, AdvancedMakeCall,
    // CallFunction, MemberFunctionData, UnParkCall; the rest from wire-facts).
    ("UpdateCallControl", "callid", 1, "int32"),
    ("UpdateCallControl", "referencecallid", 2, "int32"),
    ("UpdateCallControl", "makecall", 3, "MakeCall"),
    ("UpdateCallControl", "callfunction", 4, "CallFunction"),
    ("UpdateCallControl", "unparkcall", 6, "UnParkCall"),
    (
        "UpdateCallControl",
        "devicehint",
        8,
        "enum UpdateCallControl.Device",
    ),
    ("MakeCall", "target", 1, "string"),
    ("MakeCall", "type", 2, "int32"),
    ("MakeCall", "advanced", 3, "AdvancedMakeCall"),
    ("AdvancedMakeCall", "accountcode", 1, "string"),
    ("AdvancedMakeCall", "authcode", 2, "string"),
    ("AdvancedMakeCall", "tag", 3, "string"),
    ("AdvancedMakeCall", "subaddr", 4, "string"),
    ("AdvancedMakeCall", "withholdcli", 5, "bool"),
    ("AdvancedMakeCall", "privacy", 6, "bool"),
    ("AdvancedMakeCall", "madn", 7, "string"),
    ("AdvancedMakeCall", "allowcli", 8, "bool"),
    ("AdvancedMakeCall", "explicitcli", 10, "string"),
    ("AdvancedMakeCall", "proxyorigin", 11, "string"),
    ("CallFunction", "action", 1, "enum CallFunction.Action"),
    ("CallFunction", "arg1", 2, "string"),
    ("CallFunction", "shortcodedata", 3, "ShortCodeData"),
    (
        "CallFunction",
        "memberfunctiondata",
        4,
        "MemberFunctionData",
    ),
    ("CallFunction", "callinst", 5, "repeated CallInstance"),
    ("CallFunction", "agentrecording", 6, "AgentRecordingControl"),
    ("CallFunction", "tapimoh", 8, "bool"),
    ("MemberFunctionData", "lref", 1, "int32"),
    (
        "MemberFunctionData",
        "action",
        2,
        "enum MemberFunctionData.Action",
    ),
    ("CallInstance", "callid", 1, "int32"),
    ("CallInstance", "referencecallid", 2, "int32"),
    ("AgentRecordingControl", "pause", 1, "bool"),
    ("AgentRecordingControl", "resume", 2, "bool"),
    ("UnParkCall", "parkid", 1, "string"),
];

/// The oneofs: (message, oneof, members).
const ONEOFS: &[(&str, &str, &[&str])] = &[
    (
        "Message",
        "payload",
        &[
            "response",
            "generalcmd",
            "subscribe",
            "subscribecmd",
            "subscribeend",
            "subscribeterminated",
            "generaldata",
            "notify",
            "notifyack",
        ],
    ),
    (
        "Subscribe",
        "payload",
        &[
            "presence",
            "lines",
            "user",
            "queue",
            "parkserver",
            "refreshwrapper",
        ],
    ),
    (
        "Notify",
        "payload",
        &[
            "presence",
            "callcontrol",
            "lines",
            "user",
            "queue",
            "parkserver",
            "refreshwrapper",
        ],
    ),
    (
        "SubscribeCmd",
        "payload",
        &["timeout", "presence", "callcontrol", "user", "queue"],
    ),
    ("GeneralCmd", "payload", &["getfile", "getversioninfo"]),
    ("GeneralData", "payload", &["getfile", "versioninfo"]),
];

const CALL_STATES: &[&str] = &[
    "UNKNOWN",
    "DIALTONE",
    "DIALLING",
    "DIALLED",
    "RINGING",
    "RINGBACK",
    "CONNECTED",
    "ONHOLD",
    "ONHOLDPENDTRANSFER",
    "ONHOLDPENDCONF",
    "DISCONNECTED",
    "BUSY",
    "FAILED",
    "WAITINGFORACCT",
    "WAITINGFORAUTH",
    "WAITINGFORLINE",
    "REMINDER",
    "AFTERCALLWORK",
    "RINGINGDIVERT",
    "RINGINVOICEMAIL", // the published schema spells it RINGINGVOICEMAIL; same value 19
    "ANSWEREDBYVOICEMAIL",
    "LEAVINGVOICEMAILMESSAGE",
    "QUEUEING",
    "RETARGETING",
];

const FAILED_CAUSES: &[&str] = &[
    "UNSET",
    "UNSPECIFIED",
    "UNALLOCATEDNUMBER",
    "REJECTED",
    "NUMBEROOO",
    "NETWORKOOO",
    "BARRED",
    "NOCHANNEL",
    "NOACCOUNTCODE",
    "NOAUTHCODE",
    "NOLICENCE",
    "LOCALRESOURCES",
    "BANDWIDTH",
    "COMPATIBILITY",
    "CANTRECORD",
    "NORESPONSE",
];

const DIRECTIONS: &[&str] = &["UNDEFINED", "OUTBOUND", "INBOUND", "PICKUP"];
const SERVICE_MODES: &[&str] = &["Unset", "Active", "NS", "OOS"];

/// Each enum's values, numbered 0, 1, 2, ... in order.
fn enums() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("CallInfo.State", CALL_STATES.to_vec()),
        ("CallInfo.Direction", DIRECTIONS.to_vec()),
        ("CallInfo.FailedCause", FAILED_CAUSES.to_vec()),
        // ConferenceMember: CallInfo.State 0..15, FailedCause 0..14.
        ("ConferenceMember.State", CALL_STATES[..16].to_vec()),
        ("ConferenceMember.Direction", DIRECTIONS.to_vec()),
        ("ConferenceMember.FailedCause", FAILED_CAUSES[..15].to_vec()),
        (
            "TrunkInfo.TrunkType",
            vec![
                "NoTrunk",
                "TrunkSIP",
                "TrunkISDN",
                "TrunkH323",
                "TrunkT1",
                "TrunkR2",
                "TrunkAlog",
            ],
        ),
        (
            "UpdateCallControl.Device",
            vec!["UNSPECIFIED", "DESK", "MOBILEANY", "SOFTPHONEANY"],
        ),
        ("NotifyQueue.ServiceMode", SERVICE_MODES.to_vec()),
        ("SetServiceMode.ServiceMode", SERVICE_MODES.to_vec()),
        (
            "MemberFunctionData.Action",
            vec!["None", "DropCall", "MuteOn", "MuteOff"],
        ),
        (
            "CallFunction.Action",
            vec![
                "None",
                "DropCall",
                "AnswerCall",
                "HoldCall",
                "UnHoldCall",
                "BlindTransfer",
                "Redirect",
                "Dial",
                "Park",
                "SetupTransfer",
                "SetupConf",
                "CompleteTransfer",
                "CompleteConf",
                "AddToConf",
                "MemberFunction",
                "SetTag",
                "SetAccountCode",
                "SetNotes", // 17: the document's Unused16, corrected
                "PushToEC500",
                "GenerateDigits",
                "ShortCodeAction", // 20: the document's Unused20, corrected
                "Unused21",
                "AnswerPage", // 22: the document's Unused22, corrected
                "ForceClear",
                "SetAuthCode",
                "CallRecordingOn",
                "CallRecordingOff",
                "PrivacyOn",
                "PrivacyOff",
                "MuteOn",
                "MuteOff",
                "Unused31",
                "AgentRecordingControl",
                "Unused33",
                "SetPriority",
                "Finish",
            ],
        ),
    ]
}

fn schema() -> FileDescriptorProto {
    let set = FileDescriptorSet::decode(DESCRIPTOR_SET).expect("the build writes a valid set");
    assert_eq!(set.file.len(), 1, "one schema file, no imports");
    set.file.into_iter().next().expect("one file")
}

/// Type of a field as the table writes it.
fn type_of(f: &prost_types::FieldDescriptorProto) -> String {
    let base = match f.r#type() {
        Type::Int32 => "int32".to_owned(),
        Type::String => "string".to_owned(),
        Type::Bool => "bool".to_owned(),
        Type::Bytes => "bytes".to_owned(),
        Type::Message => f.type_name().trim_start_matches('.').to_owned(),
        Type::Enum => format!("enum {}", f.type_name().trim_start_matches('.')),
        other => format!("{other:?}"),
    };
    if f.label() == Label::Repeated {
        format!("repeated {base}")
    } else {
        base
    }
}

fn messages(file: &FileDescriptorProto) -> BTreeMap<String, &DescriptorProto> {
    let mut out = BTreeMap::new();
    for m in &file.message_type {
        assert!(m.nested_type.is_empty(), "{}: no nested messages", m.name());
        out.insert(m.name().to_owned(), m);
    }
    out
}

#[test]
fn the_file_is_proto3_without_a_package() {
    let file = schema();
    assert_eq!(file.syntax(), "proto3");
    assert_eq!(file.package(), "", "the published schema has no package");
}

#[test]
fn every_field_is_at_its_number_and_wire_type() {
    let file = schema();
    let messages = messages(&file);
    let mut problems = Vec::new();
    for (msg, field, number, ty) in FIELDS {
        let Some(m) = messages.get(*msg) else {
            problems.push(format!("message {msg} is missing"));
            continue;
        };
        match m.field.iter().find(|f| f.name() == *field) {
            None => problems.push(format!("{msg}.{field} is missing")),
            Some(f) => {
                if f.number() != *number {
                    problems.push(format!("{msg}.{field} is {} not {number}", f.number()));
                }
                let actual = type_of(f);
                if actual != *ty {
                    problems.push(format!("{msg}.{field} is `{actual}` not `{ty}`"));
                }
                // proto3 singular scalars have no field presence; only `optional` would add a
                // synthetic oneof, which the published schema never uses.
                assert!(!f.proto3_optional(), "{msg}.{field} must not be `optional`");
            }
        }
    }
    assert!(
        problems.is_empty(),
        "schema problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_schema_has_nothing_the_table_lacks() {
    let file = schema();
    let table: BTreeSet<(&str, &str)> = FIELDS.iter().map(|(m, f, _, _)| (*m, *f)).collect();
    assert_eq!(table.len(), FIELDS.len(), "the table lists each field once");
    let mut extra = Vec::new();
    for m in &file.message_type {
        for f in &m.field {
            if !table.contains(&(m.name(), f.name())) {
                extra.push(format!("{}.{} = {}", m.name(), f.name(), f.number()));
            }
        }
    }
    assert!(extra.is_empty(), "fields not in the table: {extra:?}");
    let listed: BTreeSet<&str> = FIELDS.iter().map(|(m, ..)| *m).collect();
    let compiled: BTreeSet<&str> = file.message_type.iter().map(|m| m.name()).collect();
    assert_eq!(listed, compiled, "the same set of messages");
}

#[test]
fn the_oneofs_hold_exactly_their_payloads() {
    let file = schema();
    let messages = messages(&file);
    for (msg, oneof, members) in ONEOFS {
        let m = messages[*msg];
        let index = m
            .oneof_decl
            .iter()
            .position(|o| o.name() == *oneof)
            .unwrap_or_else(|| panic!("{msg} has oneof {oneof}"));
        let mut actual: Vec<&str> = m
            .field
            .iter()
            .filter(|f| f.oneof_index == Some(index as i32))
            .map(|f| f.name())
            .collect();
        let mut expected = members.to_vec();
        actual.sort_unstable();
        expected.sort_unstable();
        assert_eq!(actual, expected, "{msg}.{oneof}");
        assert_eq!(m.oneof_decl.len(), 1, "{msg} has one oneof");
    }
    // Messages without a oneof in the table have none in the schema.
    for m in &file.message_type {
        if !ONEOFS.iter().any(|(name, ..)| *name == m.name()) {
            assert!(m.oneof_decl.is_empty(), "{} has no oneof", m.name());
        }
    }
}

#[test]
fn every_enum_has_the_documents_values() {
    let file = schema();
    let messages = messages(&file);
    assert!(
        file.enum_type.is_empty(),
        "all enums are nested, as published"
    );
    let expected = enums();
    let mut compiled = 0;
    for m in &file.message_type {
        compiled += m.enum_type.len();
    }
    assert_eq!(compiled, expected.len(), "the same number of enums");
    for (path, values) in expected {
        let (msg, name) = path.split_once('.').expect("Message.Enum");
        let e = messages[msg]
            .enum_type
            .iter()
            .find(|e| e.name() == name)
            .unwrap_or_else(|| panic!("enum {path} is missing"));
        let actual: Vec<(&str, i32)> = e.value.iter().map(|v| (v.name(), v.number())).collect();
        let wanted: Vec<(&str, i32)> = values.iter().copied().zip(0..).collect();
        assert_eq!(actual, wanted, "enum {path}");
    }
}

#[test]
fn the_codecs_memory_measure_knows_every_repeated_message_type() {
    // `frame.rs` bounds decoding memory by the largest type that can be a repeated element
    // (REPEATED_ELEMENT_SIZES); a new repeated message field must be added there too.
    let file = schema();
    let repeated: BTreeSet<&str> = file
        .message_type
        .iter()
        .flat_map(|m| &m.field)
        .filter(|f| f.label() == Label::Repeated)
        .map(|f| {
            assert_eq!(
                f.r#type(),
                Type::Message,
                "{}: only messages repeat",
                f.name()
            );
            f.type_name().trim_start_matches('.')
        })
        .collect();
    let known: BTreeSet<&str> = [
        "CallInfo",
        "CallLost",
        "CallInstance",
        "ConferenceMember",
        "EndInfo",
        "LinesQueue",
        "LinesUser",
        "NotifyPresentity",
        "Presentity",
        "QueueMember",
        "ShortCodeData",
        "Target",
    ]
    .into_iter()
    .collect();
    assert_eq!(repeated, known);
}
