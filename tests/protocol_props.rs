//! Property tests: every message survives the wire unchanged, whatever it holds; anything the
//! network sends (random bytes, a valid header with garbage, a valid message cut or corrupted)
//! gives a `Message` or a typed error, never a panic. Seeded, so every run checks the same cases.

use ipo_top::protocol::bits::CallFeatures;
use ipo_top::protocol::cmd::{
    CallFunctionCmd, CallRef, MemberAction, Priority, RecordingControl, ShortCode, TransferTarget,
    TransferType,
};
use ipo_top::protocol::msg;
use ipo_top::protocol::pb::{self, message::Payload};
use ipo_top::protocol::{FrameError, Framing, MAX_FRAME_LEN, decode, encode, text};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x1D0_7C71),
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies for the schema's messages. Enum fields take any i32: proto3 enums are open, and an
// IP Office newer than the schema may send values we do not know.

fn text_() -> BoxedStrategy<String> {
    prop_oneof![
        "[0-9]{0,12}",
        vec(any::<char>(), 0..12).prop_map(String::from_iter),
    ]
    .boxed()
}

fn bytes() -> BoxedStrategy<Vec<u8>> {
    vec(any::<u8>(), 0..20).boxed()
}

fn party() -> BoxedStrategy<pb::PartyInfo> {
    (
        any::<i32>(),
        text_(),
        text_(),
        text_(),
        any::<i32>(),
        any::<bool>(),
        any::<i32>(),
    )
        .prop_map(
            |(numbertype, number, subaddr, name, nametype, withheld, diversionreason)| {
                pb::PartyInfo {
                    numbertype,
                    number,
                    subaddr,
                    name,
                    nametype,
                    withheld,
                    diversionreason,
                }
            },
        )
        .boxed()
}

fn absence() -> BoxedStrategy<pb::Absence> {
    (any::<i32>(), text_())
        .prop_map(|(msg, str)| pb::Absence { msg, str })
        .boxed()
}

fn endinfo() -> BoxedStrategy<pb::EndInfo> {
    (bytes(), any::<i32>(), any::<i32>(), any::<i32>(), text_())
        .prop_map(
            |(gcid, deviceclass, devicetype, deviceinstance, teleworker)| pb::EndInfo {
                gcid,
                deviceclass,
                devicetype,
                deviceinstance,
                teleworker,
            },
        )
        .boxed()
}

fn conference_member() -> BoxedStrategy<pb::ConferenceMember> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<bool>(),
        text_(),
        of(party()),
        any::<bool>(),
        any::<i32>(),
    )
        .prop_map(
            |(
                lref,
                state,
                direction,
                activeheld,
                calledparty,
                connectedparty,
                mute,
                failedcause,
            )| {
                pb::ConferenceMember {
                    lref,
                    state,
                    direction,
                    activeheld,
                    calledparty,
                    connectedparty,
                    mute,
                    failedcause,
                }
            },
        )
        .boxed()
}

fn dialinfo() -> BoxedStrategy<pb::DialInfo> {
    (text_(), any::<i32>(), any::<bool>(), any::<bool>(), text_())
        .prop_map(
            |(number, calltype, withholdcli, complete, explicitcli)| pb::DialInfo {
                number,
                calltype,
                withholdcli,
                complete,
                explicitcli,
                ..Default::default()
            },
        )
        .boxed()
}

fn queueinfo() -> BoxedStrategy<pb::QueueInfo> {
    (text_(), text_(), any::<i32>(), text_(), text_())
        .prop_map(
            |(number, name, priority, overflow_number, overflow_name)| pb::QueueInfo {
                number,
                name,
                priority,
                overflow_number,
                overflow_name,
            },
        )
        .boxed()
}

fn callinfo() -> BoxedStrategy<pb::CallInfo> {
    let ids = (
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<bool>(),
        bytes(),
        any::<i32>(),
    );
    let parties = (
        text_(),
        of(party()),
        of(party()),
        of(party()),
        text_(),
        text_(),
        any::<bool>(),
        any::<i32>(),
    );
    let more = (
        any::<i32>(),
        any::<bool>(),
        text_(),
        of(absence()),
        any::<bool>(),
        any::<bool>(),
    );
    let detail = (
        of(endinfo()),
        vec(endinfo(), 0..2),
        vec(conference_member(), 0..3),
        of(dialinfo()),
        of((any::<i32>(), text_()).prop_map(|(trunktype, did)| pb::TrunkInfo { trunktype, did })),
        of(queueinfo()),
        of(
            (text_(), any::<bool>()).prop_map(|(language, privacy)| pb::CallData {
                language,
                privacy,
                ..Default::default()
            }),
        ),
        of(text_().prop_map(|notes| pb::Notes { notes })),
        of(bytes().prop_map(|ucid| pb::Ucid { ucid })),
        of(bytes().prop_map(|pintrinsics| pb::PIntrinsics { pintrinsics })),
        of(vec(
            of(party()).prop_map(|partyinfo| pb::Target { partyinfo }),
            0..4,
        )
        .prop_map(|target| pb::Targets { target })),
    );
    (ids, parties, more, detail)
        .prop_map(
            |(
                (
                    callid,
                    referencecallid,
                    relatedcallid,
                    state,
                    direction,
                    activeheld,
                    gcid,
                    featuresavailable,
                ),
                (
                    calledparty,
                    callingparty,
                    connectedparty,
                    originalcalledparty,
                    tag,
                    accountcode,
                    mute,
                    failedcause,
                ),
                (featuresavailable2, recording, parkslot, absence, recordingpaused, pagecall),
                (
                    remoteinfo,
                    localinfo,
                    conferencemember,
                    dialinfo,
                    trunkinfo,
                    queueinfo,
                    calldata,
                    notes,
                    ucid,
                    pintrinsics,
                    targets,
                ),
            )| pb::CallInfo {
                callid,
                referencecallid,
                relatedcallid,
                state,
                direction,
                activeheld,
                gcid,
                featuresavailable,
                calledparty,
                callingparty,
                connectedparty,
                originalcalledparty,
                tag,
                accountcode,
                mute,
                failedcause,
                featuresavailable2,
                recording,
                parkslot,
                absence,
                recordingpaused,
                pagecall,
                remoteinfo,
                localinfo,
                conferencemember,
                dialinfo,
                trunkinfo,
                queueinfo,
                calldata,
                notes,
                ucid,
                pintrinsics,
                targets,
            },
        )
        .boxed()
}

fn calllost() -> BoxedStrategy<pb::CallLost> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<bool>(),
        text_(),
    )
        .prop_map(
            |(callid, referencecallid, reason, thisenddropped, description)| pb::CallLost {
                callid,
                referencecallid,
                reason,
                thisenddropped,
                description,
            },
        )
        .boxed()
}

fn lines_user() -> BoxedStrategy<pb::LinesUser> {
    (bytes(), text_(), text_())
        .prop_map(|(guid, extn, name)| pb::LinesUser { guid, extn, name })
        .boxed()
}

fn lines_queue() -> BoxedStrategy<pb::LinesQueue> {
    (bytes(), text_(), text_())
        .prop_map(|(guid, extn, name)| pb::LinesQueue { guid, extn, name })
        .boxed()
}

fn mailbox() -> BoxedStrategy<pb::Mailbox> {
    (any::<i32>(), any::<i32>(), any::<i32>())
        .prop_map(|(newmessages, oldmessages, savedmessages)| pb::Mailbox {
            newmessages,
            oldmessages,
            savedmessages,
        })
        .boxed()
}

fn notify_user() -> BoxedStrategy<pb::NotifyUser> {
    (
        (text_(), text_(), text_(), any::<i32>(), text_()),
        (any::<bool>(), any::<bool>(), text_(), any::<bool>()),
        (of(absence()), of(mailbox()), text_(), any::<bool>()),
        (any::<bool>(), any::<bool>(), text_(), any::<bool>()),
    )
        .prop_map(
            |(
                (extn, name, email, featuresavailable, language),
                (dnd, voicemail, loggedinextn, loggedoff),
                (absence, mailbox, app, ec500),
                (fwdu, fwdb, fwdunumber, fwdtovm),
            )| pb::NotifyUser {
                extn,
                name,
                email,
                featuresavailable,
                language,
                dnd,
                voicemail,
                loggedinextn,
                loggedoff,
                absence,
                mailbox,
                app,
                ec500,
                fwdu,
                fwdb,
                fwdunumber,
                fwdtovm,
                ..Default::default()
            },
        )
        .boxed()
}

fn queue_member() -> BoxedStrategy<pb::QueueMember> {
    (text_(), any::<bool>())
        .prop_map(|(extn, disabled)| pb::QueueMember { extn, disabled })
        .boxed()
}

fn notify_queue() -> BoxedStrategy<pb::NotifyQueue> {
    (
        (text_(), text_(), any::<i32>(), any::<i32>(), any::<bool>()),
        (any::<i32>(), any::<i32>()),
        (of(vec(queue_member(), 0..4)), of(mailbox())),
    )
        .prop_map(
            |(
                (extn, name, ringmode, noanswertime, voicemail),
                (voicemailtime, servicemode),
                (members, mailbox),
            )| {
                pb::NotifyQueue {
                    extn,
                    name,
                    ringmode,
                    noanswertime,
                    voicemail,
                    voicemailtime,
                    servicemode,
                    queuemembers: members.map(|member| pb::QueueMembers { member }),
                    mailbox,
                    ..Default::default()
                }
            },
        )
        .boxed()
}

fn presentity() -> BoxedStrategy<pb::Presentity> {
    (text_(), any::<i32>())
        .prop_map(|(presentity, lref)| pb::Presentity { presentity, lref })
        .boxed()
}

fn notify_presentity() -> BoxedStrategy<pb::NotifyPresentity> {
    (
        text_(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        of(absence()),
        text_(),
        any::<bool>(),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                presentity,
                lref,
                sac,
                phonestate,
                absence,
                app,
                fwdu,
                vmunread_messages,
                noapphandler,
            )| {
                pb::NotifyPresentity {
                    presentity,
                    lref,
                    sac,
                    phonestate,
                    absence,
                    app,
                    fwdu,
                    vmunread_messages,
                    noapphandler,
                }
            },
        )
        .boxed()
}

fn notify() -> BoxedStrategy<pb::Notify> {
    use pb::notify::Payload as P;
    let payload = prop_oneof![
        (any::<i32>(), vec(callinfo(), 0..3), vec(calllost(), 0..3)).prop_map(
            |(refreshinstance, callinfo, calllost)| P::Callcontrol(pb::NotifyCallControl {
                refreshinstance,
                callinfo,
                calllost,
            })
        ),
        (
            any::<i32>(),
            vec(lines_user(), 0..4),
            vec(lines_queue(), 0..3),
            vec(lines_user(), 0..2),
            vec(lines_queue(), 0..2),
            vec(lines_user(), 0..2),
            vec(lines_queue(), 0..2),
        )
            .prop_map(
                |(flags, adduser, addqueue, deleteuser, deletequeue, changeuser, changequeue)| {
                    P::Lines(pb::NotifyLines {
                        flags,
                        adduser,
                        addqueue,
                        deleteuser,
                        deletequeue,
                        changeuser,
                        changequeue,
                    })
                }
            ),
        notify_user().prop_map(P::User),
        notify_queue().prop_map(P::Queue),
        (any::<i32>(), vec(notify_presentity(), 0..3))
            .prop_map(|(full, entry)| P::Presence(pb::NotifyPresence { full, entry })),
        Just(P::Parkserver(pb::NotifyParkServer::default())),
        Just(P::Refreshwrapper(pb::NotifyRefreshWrapper::default())),
    ];
    (any::<i32>(), any::<i32>(), text_(), of(payload))
        .prop_map(|(subscribe_id, notify_id, label, payload)| pb::Notify {
            subscribe_id,
            notify_id,
            label,
            payload,
        })
        .boxed()
}

fn subscribe() -> BoxedStrategy<pb::Subscribe> {
    use pb::subscribe::Payload as P;
    let payload = prop_oneof![
        any::<i32>().prop_map(|flags| P::Lines(pb::SubscribeLines { flags })),
        (bytes(), any::<i32>(), any::<i32>()).prop_map(|(guid, flags, ccflags)| P::User(
            pb::SubscribeUser {
                guid,
                flags,
                ccflags
            }
        )),
        (bytes(), any::<i32>(), any::<i32>(), text_()).prop_map(|(guid, flags, ccflags, name)| {
            P::Queue(pb::SubscribeQueue {
                guid,
                flags,
                ccflags,
                name,
            })
        }),
        (any::<i32>(), any::<i32>())
            .prop_map(|(flags, ccflags)| P::Parkserver(pb::SubscribeParkServer { flags, ccflags })),
        (vec(presentity(), 0..4), any::<i32>())
            .prop_map(|(entry, flags)| P::Presence(pb::SubscribePresence { entry, flags })),
        Just(P::Refreshwrapper(pb::SubscribeRefreshWrapper::default())),
    ];
    (
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        text_(),
        of(payload),
    )
        .prop_map(
            |(requestid, subscribe_id, timeout, label, payload)| pb::Subscribe {
                requestid,
                subscribe_id,
                timeout,
                label,
                payload,
            },
        )
        .boxed()
}

fn call_function() -> BoxedStrategy<pb::CallFunction> {
    (
        any::<i32>(),
        text_(),
        of(
            (any::<i32>(), text_(), text_()).prop_map(|(code, val, onbehalf)| pb::ShortCodeData {
                code,
                val,
                onbehalf,
            }),
        ),
        of((any::<i32>(), any::<i32>())
            .prop_map(|(lref, action)| pb::MemberFunctionData { lref, action })),
        vec(
            (any::<i32>(), any::<i32>()).prop_map(|(callid, referencecallid)| pb::CallInstance {
                callid,
                referencecallid,
            }),
            0..3,
        ),
        of((any::<bool>(), any::<bool>())
            .prop_map(|(pause, resume)| pb::AgentRecordingControl { pause, resume })),
        any::<bool>(),
    )
        .prop_map(
            |(
                action,
                arg1,
                shortcodedata,
                memberfunctiondata,
                callinst,
                agentrecording,
                tapimoh,
            )| {
                pb::CallFunction {
                    action,
                    arg1,
                    shortcodedata,
                    memberfunctiondata,
                    callinst,
                    agentrecording,
                    tapimoh,
                }
            },
        )
        .boxed()
}

fn subscribe_cmd() -> BoxedStrategy<pb::SubscribeCmd> {
    use pb::subscribe_cmd::Payload as P;
    let makecall = (
        text_(),
        any::<i32>(),
        of(
            (text_(), text_(), text_(), any::<bool>(), text_()).prop_map(
                |(accountcode, authcode, tag, withholdcli, explicitcli)| pb::AdvancedMakeCall {
                    accountcode,
                    authcode,
                    tag,
                    withholdcli,
                    explicitcli,
                    ..Default::default()
                },
            ),
        ),
    )
        .prop_map(|(target, r#type, advanced)| pb::MakeCall {
            target,
            r#type,
            advanced,
        });
    let callcontrol = (
        any::<i32>(),
        any::<i32>(),
        of(makecall),
        of(call_function()),
        of(text_().prop_map(|parkid| pb::UnParkCall { parkid })),
        any::<i32>(),
    )
        .prop_map(
            |(callid, referencecallid, makecall, callfunction, unparkcall, devicehint)| {
                pb::UpdateCallControl {
                    callid,
                    referencecallid,
                    makecall,
                    callfunction,
                    unparkcall,
                    devicehint,
                }
            },
        );
    let user = (
        of(any::<i32>().prop_map(|set| pb::UpdateUserSac { set })),
        of((any::<i32>(), of(absence()))
            .prop_map(|(set, absence)| pb::UpdateUserAbsence { set, absence })),
        vec(
            (any::<i32>(), text_()).prop_map(|(code, val)| pb::ShortCodeData {
                code,
                val,
                onbehalf: String::new(),
            }),
            0..3,
        ),
        of(
            (text_(), any::<bool>(), any::<bool>()).prop_map(|(value, makelive, makedead)| {
                pb::UpdateUserApp {
                    value,
                    makelive,
                    makedead,
                }
            }),
        ),
        of(
            (any::<bool>(), text_(), any::<bool>()).prop_map(|(set, fwdu_number, fwdtovm)| {
                pb::UpdateUserFwdU {
                    set,
                    fwdu_number,
                    fwdtovm,
                }
            }),
        ),
    )
        .prop_map(|(sac, absence, shortcodedata, app, fwdu)| pb::UpdateUser {
            sac,
            absence,
            shortcodedata,
            app,
            fwdu,
            ..Default::default()
        });
    let queue = (
        of(any::<i32>().prop_map(|servicemode| pb::SetServiceMode { servicemode })),
        of(any::<bool>().prop_map(|enabled| pb::SetVoicemail { enabled })),
        of(vec(queue_member(), 0..3).prop_map(|member| pb::QueueMembers { member })),
        vec(queue_member(), 0..3),
        vec(queue_member(), 0..3),
    )
        .prop_map(
            |(setservicemode, setvoicemail, members, addmember, deletemember)| pb::UpdateQueue {
                setservicemode,
                setvoicemail,
                members,
                addmember,
                deletemember,
            },
        );
    let payload = prop_oneof![
        callcontrol.prop_map(P::Callcontrol),
        user.prop_map(P::User),
        queue.prop_map(P::Queue),
        (vec(presentity(), 0..3), vec(presentity(), 0..3))
            .prop_map(|(add, remove)| P::Presence(pb::UpdatePresence { add, remove })),
        any::<i32>().prop_map(P::Timeout),
    ];
    (any::<i32>(), any::<i32>(), of(payload))
        .prop_map(|(requestid, subscribe_id, payload)| pb::SubscribeCmd {
            requestid,
            subscribe_id,
            payload,
        })
        .boxed()
}

fn message() -> BoxedStrategy<pb::Message> {
    let payload = prop_oneof![
        (any::<i32>(), any::<i32>(), text_()).prop_map(|(requestid, result, additional)| {
            Payload::Response(pb::RequestResponse {
                requestid,
                result,
                additional,
            })
        }),
        (any::<i32>(), any::<i32>(), text_(), any::<bool>()).prop_map(
            |(requestid, cmdinst, fname, version)| {
                let payload = if version {
                    pb::general_cmd::Payload::Getversioninfo(true)
                } else {
                    pb::general_cmd::Payload::Getfile(pb::GetFile { cmdinst, fname })
                };
                Payload::Generalcmd(pb::GeneralCmd {
                    requestid,
                    payload: Some(payload),
                })
            }
        ),
        (
            any::<i32>(),
            any::<i32>(),
            text_(),
            any::<i32>(),
            bytes(),
            any::<bool>()
        )
            .prop_map(|(responseid, cmdinst, fname, result, payload, version)| {
                let payload = if version {
                    pb::general_data::Payload::Versioninfo(fname)
                } else {
                    pb::general_data::Payload::Getfile(pb::GetFileResponse {
                        cmdinst,
                        fname,
                        result,
                        payload,
                    })
                };
                Payload::Generaldata(pb::GeneralData {
                    responseid,
                    payload: Some(payload),
                })
            }),
        subscribe().prop_map(Payload::Subscribe),
        subscribe_cmd().prop_map(Payload::Subscribecmd),
        (any::<i32>(), any::<i32>(), text_()).prop_map(|(requestid, subscribe_id, reason)| {
            Payload::Subscribeend(pb::SubscribeEnd {
                requestid,
                subscribe_id,
                reason,
            })
        }),
        (any::<i32>(), text_()).prop_map(|(subscribe_id, reason)| {
            Payload::Subscribeterminated(pb::SubscribeTerminated {
                subscribe_id,
                reason,
            })
        }),
        notify().prop_map(Payload::Notify),
        (any::<i32>(), any::<i32>()).prop_map(|(subscribe_id, notify_id)| {
            Payload::Notifyack(pb::NotifyAck {
                subscribe_id,
                notify_id,
            })
        }),
    ];
    of(payload)
        .prop_map(|payload| pb::Message { payload })
        .boxed()
}

/// Valid call functions, built through the typed API.
fn call_function_cmd() -> BoxedStrategy<CallFunctionCmd> {
    let digits = |min: usize, max: usize| {
        proptest::string::string_regex(&format!("[0-9*#]{{{min},{max}}}")).expect("regex")
    };
    let call_ref = prop_oneof![
        any::<i32>()
            .prop_filter("callid", |c| *c != 0)
            .prop_map(CallRef::Callid),
        any::<i32>().prop_map(CallRef::Referencecallid),
    ];
    let kind = proptest::sample::select(TransferType::ALL.to_vec());
    prop_oneof![
        Just(CallFunctionCmd::DropCall),
        Just(CallFunctionCmd::AnswerCall),
        Just(CallFunctionCmd::HoldCall),
        Just(CallFunctionCmd::UnHoldCall),
        digits(1, 78).prop_map(|d| CallFunctionCmd::BlindTransfer(TransferTarget::destination(d))),
        (kind, digits(0, 73))
            .prop_map(|(k, d)| CallFunctionCmd::BlindTransfer(TransferTarget::typed(k, d))),
        digits(1, 78).prop_map(CallFunctionCmd::Redirect),
        digits(1, 78).prop_map(CallFunctionCmd::Dial),
        digits(1, 9).prop_map(CallFunctionCmd::Park),
        of(digits(1, 78)).prop_map(CallFunctionCmd::SetupTransfer),
        of(digits(1, 78)).prop_map(CallFunctionCmd::SetupConf),
        of(call_ref.clone()).prop_map(CallFunctionCmd::CompleteTransfer),
        vec(call_ref, 0..4).prop_map(CallFunctionCmd::CompleteConf),
        digits(1, 78).prop_map(CallFunctionCmd::AddToConf),
        (
            any::<i32>(),
            proptest::sample::select(vec![
                MemberAction::DropCall,
                MemberAction::MuteOn,
                MemberAction::MuteOff
            ])
        )
            .prop_map(|(lref, action)| CallFunctionCmd::MemberFunction { lref, action }),
        "[^\\x00\\x{10000}-\\x{10FFFF}]{0,127}".prop_map(CallFunctionCmd::SetTag),
        "[A-Za-z0-9]{0,15}".prop_map(CallFunctionCmd::SetAccountCode),
        text_().prop_map(CallFunctionCmd::SetNotes),
        Just(CallFunctionCmd::PushToEc500),
        digits(1, 32).prop_map(CallFunctionCmd::GenerateDigits),
        (any::<i32>(), text_(), text_()).prop_map(|(code, val, onbehalf)| {
            CallFunctionCmd::ShortCodeAction(ShortCode {
                code,
                val,
                onbehalf,
            })
        }),
        Just(CallFunctionCmd::AnswerPage),
        Just(CallFunctionCmd::ForceClear),
        "[0-9]{0,15}".prop_map(CallFunctionCmd::SetAuthCode),
        Just(CallFunctionCmd::CallRecordingOn),
        Just(CallFunctionCmd::CallRecordingOff),
        Just(CallFunctionCmd::PrivacyOn),
        Just(CallFunctionCmd::PrivacyOff),
        Just(CallFunctionCmd::MuteOn),
        Just(CallFunctionCmd::MuteOff),
        proptest::sample::select(vec![RecordingControl::Pause, RecordingControl::Resume])
            .prop_map(CallFunctionCmd::AgentRecordingControl),
        proptest::sample::select(vec![Priority::Low, Priority::Medium, Priority::High])
            .prop_map(CallFunctionCmd::SetPriority),
        any::<bool>().prop_map(|immediate| CallFunctionCmd::Finish { immediate }),
    ]
    .boxed()
}

/// A valid message's encoding with some damage: cut short, a byte changed, or bytes inserted.
fn damaged() -> BoxedStrategy<Vec<u8>> {
    (message(), any::<usize>(), any::<u8>(), 0..3u8)
        .prop_map(|(m, at, byte, how)| {
            let mut bytes = encode(&m, Framing::NoFraming).expect("encodes");
            let at = if bytes.is_empty() {
                0
            } else {
                at % bytes.len()
            };
            match how {
                0 => bytes.truncate(at),
                1 => {
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= byte | 1;
                    }
                }
                _ => bytes.insert(at, byte),
            }
            bytes
        })
        .boxed()
}

/// Decoding anything gives a message or a typed error; a message decoded from anything
/// re-encodes to bytes that decode to the same message.
fn decode_is_total(frame: &[u8]) {
    for framing in [Framing::Framed, Framing::NoFraming] {
        match decode(frame, framing) {
            Ok(m) => {
                let again = encode(&m, framing).expect("a decoded message re-encodes");
                assert_eq!(decode(&again, framing).expect("re-encoded decodes"), m);
            }
            Err(FrameError::Short { len }) => {
                assert_eq!(framing, Framing::Framed);
                assert!(len < 4 && len == frame.len());
            }
            Err(FrameError::BadHeader(h)) => {
                assert_eq!(framing, Framing::Framed);
                assert_ne!(h, [0, 0, 0, 1]);
            }
            Err(FrameError::TooLarge { len, max }) => assert!(len > max),
            Err(FrameError::TooComplex {
                estimate, budget, ..
            }) => assert!(estimate > budget),
            Err(FrameError::Undecodable(reason)) => assert!(!reason.is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_message_survives_both_framings(m in message()) {
        for framing in [Framing::Framed, Framing::NoFraming] {
            let bytes = encode(&m, framing).expect("encodes");
            prop_assert!(bytes.len() <= MAX_FRAME_LEN);
            prop_assert_eq!(decode(&bytes, framing).expect("decodes"), m.clone());
        }
    }

    #[test]
    fn random_bytes_never_panic(frame in vec(any::<u8>(), 0..512)) {
        decode_is_total(&frame);
    }

    #[test]
    fn a_valid_header_with_random_payload_never_panics(payload in vec(any::<u8>(), 0..512)) {
        let mut frame = vec![0, 0, 0, 1];
        frame.extend_from_slice(&payload);
        decode_is_total(&frame);
        decode_is_total(&payload);
    }

    #[test]
    fn damaged_messages_never_panic(bytes in damaged()) {
        decode_is_total(&bytes);
        let mut framed = vec![0, 0, 0, 1];
        framed.extend_from_slice(&bytes);
        decode_is_total(&framed);
    }

    #[test]
    fn valid_call_functions_build_and_read_back(cmd in call_function_cmd(), callid in 1..i32::MAX) {
        let msg = msg::call_function(1, 2, callid, &cmd).expect("valid arguments build");
        let bytes = encode(&msg, Framing::Framed).expect("encodes");
        let back = decode(&bytes, Framing::Framed).expect("decodes");
        let Some(Payload::Subscribecmd(pb::SubscribeCmd {
            payload: Some(pb::subscribe_cmd::Payload::Callcontrol(cc)), ..
        })) = back.payload else {
            panic!("call control")
        };
        prop_assert_eq!(cc.callid, callid);
        let f = cc.callfunction.expect("a call function");
        prop_assert_eq!(CallFunctionCmd::from_pb(&f), Ok(cmd));
    }

    #[test]
    fn received_call_functions_are_read_or_refused(f in call_function()) {
        // Whatever a client sends, the server side reads a command that rebuilds the same
        // action, or refuses it with a reason.
        if let Ok(cmd) = CallFunctionCmd::from_pb(&f) {
            let rebuilt = cmd.to_pb().expect("a command read back is valid");
            prop_assert_eq!(rebuilt.action, f.action);
        }
    }

    #[test]
    fn text_forms_are_total(v in any::<i32>(), s in text_()) {
        for t in [
            text::call_state_name(v), text::call_state_text(v), text::direction_name(v),
            text::direction_text(v), text::failed_cause_name(v), text::failed_cause_text(v),
            text::phone_state_text(v), text::ring_mode_text(v), text::service_mode_text(v),
            text::trunk_type_text(v), text::lost_reason_text(v),
        ] {
            prop_assert!(!t.is_empty());
        }
        let note = text::absence_text(v, &s);
        prop_assert!(note.contains(s.as_str()) || (9..=10).contains(&v));
        let display = CallFeatures::from_wire(v).to_string();
        let hex = format!("0x{:08X}", v as u32);
        prop_assert!(display.starts_with(&hex));
    }
}
