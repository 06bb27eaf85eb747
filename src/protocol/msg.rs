//! Constructors for every message a client sends, enforcing the document's argument limits.
//!
//! The commands some of them carry (call functions, user and queue updates) are the typed
//! vocabulary of [`super::cmd`]; here they are put into their envelopes.
//!
//! Each builder returns a complete [`Message`] ready for [`super::frame::encode`]. Builders
//! whose arguments the document limits return `Result<Message, BuildError>`; the others cannot
//! be given anything the document forbids and return the `Message` directly.
//!
//! Conventions shared by every builder:
//! - `requestid` 0 means "no RequestResponse wanted": proto3 leaves a zero field off the wire, and
//!   IP Office only answers messages that carry a `requestid`.
//! - Lengths are counted in characters (Unicode scalar values), as the document counts them.
//! - A device hint (`UpdateCallControl.devicehint`) is given with the `*_with_hint` variants;
//!   the plain builders leave it unset (`UNSPECIFIED`), letting IP Office choose the device.

use super::bits::{CcFlags, LinesFlags, PresenceFlags, QueueFlags, UserFlags};
use super::cmd::{CallFunctionCmd, MakeCallType, QueueUpdate, UserUpdate};
use super::limits::{BuildError, check_bmp, check_len, non_zero_reference};
use super::pb;

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

/// A queue to subscribe to: by the guid from the lines list, or by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRef<'a> {
    /// The queue's guid, as the lines subscription reported it.
    Guid(&'a [u8]),
    /// The queue's name (no lines subscription needed).
    Name(&'a str),
}

// ---------------------------------------------------------------------------------------------
// Envelopes

/// A message with the given payload: the envelope every message shares.
pub fn message(payload: pb::message::Payload) -> Message {
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
    let payload = pb::subscribe::Payload::Lines(pb::SubscribeLines {
        flags: flags.to_wire(),
    });
    subscribe(requestid, subscribe_id, timeout, Some(payload))
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
    let payload = pb::subscribe::Payload::User(pb::SubscribeUser {
        guid: guid.to_vec(),
        flags: flags.to_wire(),
        ccflags: ccflags.to_wire(),
    });
    subscribe(requestid, subscribe_id, timeout, Some(payload))
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
    let payload = pb::subscribe::Payload::Queue(pb::SubscribeQueue {
        guid,
        flags: flags.to_wire(),
        ccflags: ccflags.to_wire(),
        name,
    });
    subscribe(requestid, subscribe_id, timeout, Some(payload))
}

/// Subscribe to the park server (parked calls arrive as call-control notifies with `parkslot`).
pub fn subscribe_parkserver(
    requestid: i32,
    subscribe_id: i32,
    timeout: i32,
    ccflags: CcFlags,
) -> Message {
    let payload = pb::subscribe::Payload::Parkserver(pb::SubscribeParkServer {
        flags: 0,
        ccflags: ccflags.to_wire(),
    });
    subscribe(requestid, subscribe_id, timeout, Some(payload))
}

/// Subscribe to the refresh wrapper (groups notifications into atomic events; only one).
pub fn subscribe_refresh_wrapper(requestid: i32, subscribe_id: i32, timeout: i32) -> Message {
    let payload = pb::subscribe::Payload::Refreshwrapper(pb::SubscribeRefreshWrapper::default());
    subscribe(requestid, subscribe_id, timeout, Some(payload))
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
    let payload = pb::subscribe::Payload::Presence(pb::SubscribePresence {
        entry: entries.to_vec(),
        flags: flags.to_wire(),
    });
    Ok(subscribe(requestid, subscribe_id, timeout, Some(payload)))
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
    let call = pb::UpdateCallControl {
        callid,
        ..Default::default()
    };
    function_on(requestid, subscribe_id, call, f, hint)
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
    let call = pb::UpdateCallControl {
        referencecallid,
        ..Default::default()
    };
    function_on(requestid, subscribe_id, call, f, hint)
}

/// The call function `f` on the call `call` names (by callid or referencecallid).
fn function_on(
    requestid: i32,
    subscribe_id: i32,
    call: pb::UpdateCallControl,
    f: &CallFunctionCmd,
    hint: DeviceHint,
) -> Result<Message, BuildError> {
    Ok(call_control(
        requestid,
        subscribe_id,
        pb::UpdateCallControl {
            callfunction: Some(f.to_pb()?),
            devicehint: hint as i32,
            ..call
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
