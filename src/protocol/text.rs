//! The document's text forms for the numbers IP Office sends.
//!
//! Every function is total: a value the document does not list comes back as `unknown (N)`, so a
//! newer IP Office never makes the program fail or hide the raw number.

use std::borrow::Cow;

use super::cmd::AbsenceKind;

/// Looks a value up in a table indexed from 0, else `unknown (N)`.
fn lookup(table: &'static [&'static str], v: i32) -> Cow<'static, str> {
    match usize::try_from(v).ok().and_then(|i| table.get(i)) {
        Some(s) => Cow::Borrowed(s),
        None => unknown(v),
    }
}

/// The form for a value the document does not list.
pub fn unknown(v: i32) -> Cow<'static, str> {
    Cow::Owned(format!("unknown ({v})"))
}

/// `CallInfo.State` names as the document spells them, by value.
const CALL_STATE_NAMES: [&str; 24] = [
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
    "RINGINVOICEMAIL",
    "ANSWEREDBYVOICEMAIL",
    "LEAVINGVOICEMAILMESSAGE",
    "QUEUEING",
    "RETARGETING",
];

/// `CallInfo.State` in words, by value.
const CALL_STATE_WORDS: [&str; 24] = [
    "unknown",
    "dial tone",
    "dialling",
    "dialled",
    "ringing",
    "ringback",
    "connected",
    "on hold",
    "on hold pending transfer",
    "on hold pending conference",
    "disconnected",
    "busy",
    "failed",
    "waiting for account code",
    "waiting for authorization code",
    "waiting for line",
    "reminder",
    "after call work",
    "ringing (diverted)",
    "ringing in voicemail",
    "answered by voicemail",
    "leaving voicemail message",
    "queueing",
    "retargeting",
];

/// A call state (`CallInfo.state`, also `ConferenceMember.state`) by the document's name, e.g.
/// `RINGING`.
pub fn call_state_name(state: i32) -> Cow<'static, str> {
    lookup(&CALL_STATE_NAMES, state)
}

/// A call state in words, e.g. `on hold pending transfer`.
pub fn call_state_text(state: i32) -> Cow<'static, str> {
    lookup(&CALL_STATE_WORDS, state)
}

const DIRECTION_NAMES: [&str; 4] = ["UNDEFINED", "OUTBOUND", "INBOUND", "PICKUP"];
const DIRECTION_WORDS: [&str; 4] = ["undefined", "outbound", "inbound", "pickup"];

/// A call direction (`CallInfo.direction`) by the document's name, e.g. `INBOUND`.
pub fn direction_name(direction: i32) -> Cow<'static, str> {
    lookup(&DIRECTION_NAMES, direction)
}

/// A call direction in words: `inbound` (this device rang), `outbound` (this device made the
/// call), `pickup` (taken by pickup, steal or unpark).
pub fn direction_text(direction: i32) -> Cow<'static, str> {
    lookup(&DIRECTION_WORDS, direction)
}

const FAILED_CAUSE_NAMES: [&str; 16] = [
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

const FAILED_CAUSE_WORDS: [&str; 16] = [
    "not failed",
    "unspecified",
    "unallocated number",
    "rejected",
    "number out of order",
    "network out of order",
    "barred",
    "no channel",
    "no account code",
    "no authorization code",
    "no licence",
    "local resources",
    "bandwidth",
    "compatibility",
    "cannot record",
    "no response",
];

/// Why a call failed (`CallInfo.failedcause`) by the document's name, e.g. `NUMBEROOO`.
pub fn failed_cause_name(cause: i32) -> Cow<'static, str> {
    lookup(&FAILED_CAUSE_NAMES, cause)
}

/// Why a call failed, in words, e.g. `number out of order`.
pub fn failed_cause_text(cause: i32) -> Cow<'static, str> {
    lookup(&FAILED_CAUSE_WORDS, cause)
}

/// An absence note as the document shows it: types 1..=8 are the phrase followed by `str`
/// (`ON HOLIDAY UNTIL 3 May`), 9 and 10 the phrase alone, 11 `str` alone. An unknown type shows
/// as `unknown (N)`, followed by `str` when there is one.
pub fn absence_text(msg: i32, str: &str) -> String {
    let phrase = match AbsenceKind::from_wire(msg) {
        Some(kind) => match kind.phrase() {
            Some(phrase) if kind.takes_text() => phrase,
            Some(phrase) => return phrase.to_owned(),
            None => return str.to_owned(),
        },
        None => return join(&unknown(msg), str),
    };
    join(phrase, str)
}

fn join(head: &str, tail: &str) -> String {
    if tail.is_empty() {
        head.to_owned()
    } else {
        format!("{head} {tail}")
    }
}

const PHONE_STATES: [&str; 9] = [
    "Idle",
    "Dialling",
    "Ringing",
    "ACW",
    "Connected",
    "Logout",
    "Fault",
    "Recover",
    "Unknown state",
];

/// A presentity's phone state (`NotifyPresentity.phonestate`, the document's Table 1), e.g.
/// `ACW` (after-call work).
pub fn phone_state_text(state: i32) -> Cow<'static, str> {
    lookup(&PHONE_STATES, state)
}

const RING_MODES: [&str; 3] = ["ringidle", "sequential", "group"];

/// A queue's ring mode (`NotifyQueue.ringmode`) as the document names it.
pub fn ring_mode_text(mode: i32) -> Cow<'static, str> {
    lookup(&RING_MODES, mode)
}

const SERVICE_MODES: [&str; 4] = ["unset", "in service", "night service", "out of service"];

/// A queue's service mode (`NotifyQueue.servicemode`: Unset, Active, NS, OOS) in words.
pub fn service_mode_text(mode: i32) -> Cow<'static, str> {
    lookup(&SERVICE_MODES, mode)
}

const TRUNK_TYPES: [&str; 7] = ["no trunk", "SIP", "ISDN", "H.323", "T1", "R2", "analogue"];

/// A call's trunk type (`TrunkInfo.trunktype`: NoTrunk, TrunkSIP, ... TrunkAlog) in words.
pub fn trunk_type_text(kind: i32) -> Cow<'static, str> {
    lookup(&TRUNK_TYPES, kind)
}

/// Why a call ended (`CallLost.reason`): the document names only 16, `Normal`.
pub fn lost_reason_text(reason: i32) -> Cow<'static, str> {
    match reason {
        16 => Cow::Borrowed("Normal"),
        other => unknown(other),
    }
}
