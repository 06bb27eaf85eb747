//! The document's own examples, exact to the byte where the document gives bytes, and built in
//! code and round-tripped through both framings where it prints a message.

use ipo_top::protocol::bits::{
    CallFeatures, CallFeatures2, CcFlags, LinesFlags, QueueFlags, UserFlags,
};
use ipo_top::protocol::cmd::{
    CallFunctionCmd, RecordingControl, ShortCode, TransferTarget, UserUpdate,
};
use ipo_top::protocol::msg::{self, QueueRef};
use ipo_top::protocol::pb::{self, call_info, message::Payload, trunk_info};
use ipo_top::protocol::{Framing, decode, encode};
use prost::Message as _;

/// Hex as the document prints it: `1A 0C 08 ...`.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

/// A guid as the document prints it: 32 hex digits.
fn guid(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex guid"))
        .collect()
}

/// Encodes in both framings, decodes again, and checks nothing changed; returns the payload.
fn round_trip(msg: &pb::Message) -> Vec<u8> {
    let framed = encode(msg, Framing::Framed).expect("encodes");
    assert_eq!(
        framed[..4],
        [0, 0, 0, 1],
        "framed messages start 00 00 00 01"
    );
    let bare = encode(msg, Framing::NoFraming).expect("encodes");
    assert_eq!(framed[4..], bare[..], "the framing only adds the header");
    assert_eq!(&decode(&framed, Framing::Framed).expect("decodes"), msg);
    assert_eq!(&decode(&bare, Framing::NoFraming).expect("decodes"), msg);
    bare
}

fn notify(subscribe_id: i32, notify_id: i32, payload: pb::notify::Payload) -> pb::Message {
    pb::Message {
        payload: Some(Payload::Notify(pb::Notify {
            subscribe_id,
            notify_id,
            label: String::new(),
            payload: Some(payload),
        })),
    }
}

fn callcontrol(subscribe_id: i32, refreshinstance: i32, info: pb::CallInfo) -> pb::Message {
    notify(
        subscribe_id,
        0,
        pb::notify::Payload::Callcontrol(pb::NotifyCallControl {
            refreshinstance,
            callinfo: vec![info],
            calllost: vec![],
        }),
    )
}

fn party(number: &str, name: &str, nametype: i32) -> pb::PartyInfo {
    pb::PartyInfo {
        number: number.into(),
        name: name.into(),
        nametype,
        ..Default::default()
    }
}

fn only_callinfo(msg: &pb::Message) -> &pb::CallInfo {
    match &msg.payload {
        Some(Payload::Notify(pb::Notify {
            payload: Some(pb::notify::Payload::Callcontrol(cc)),
            ..
        })) => &cc.callinfo[0],
        other => panic!("expected a call-control notify, got {other:?}"),
    }
}

#[test]
fn the_first_payload_is_exactly_the_documents_14_bytes() {
    // "First payload": a lines subscription, requestid=1 subscribe_id=1 timeout=3600 flags=7.
    let msg = msg::subscribe_lines(
        1,
        1,
        3600,
        LinesFlags::USERS | LinesFlags::QUEUES | LinesFlags::PARKSERVER,
    );
    let payload = hex("1A 0C 08 01 10 01 18 90 1C C2 02 02 08 07");
    assert_eq!(msg.encode_to_vec(), payload);
    assert_eq!(encode(&msg, Framing::NoFraming).unwrap(), payload);
    let mut framed = hex("00 00 00 01");
    framed.extend_from_slice(&payload);
    assert_eq!(encode(&msg, Framing::Framed).unwrap(), framed);
    assert_eq!(decode(&framed, Framing::Framed).unwrap(), msg);
    assert_eq!(decode(&payload, Framing::NoFraming).unwrap(), msg);
}

#[test]
fn encode_into_appends_to_a_reused_buffer() {
    let msg = msg::subscribe_lines(1, 1, 3600, LinesFlags(7));
    let mut buf = vec![0xEE];
    ipo_top::protocol::encode_into(&msg, Framing::Framed, &mut buf).unwrap();
    assert_eq!(
        buf,
        hex("EE 00 00 00 01 1A 0C 08 01 10 01 18 90 1C C2 02 02 08 07")
    );
}

#[test]
fn the_lines_exchange() {
    // Subscribe with requestid=1 subscribe_id=5555, and the RequestResponse that answers it.
    let sub = msg::subscribe_lines(1, 5555, 3600, LinesFlags(7));
    round_trip(&sub);
    let response = pb::Message {
        payload: Some(Payload::Response(pb::RequestResponse {
            requestid: 1,
            result: 0,
            additional: String::new(),
        })),
    };
    // result=0 is left off the wire: only the requestid remains.
    assert_eq!(round_trip(&response), hex("0A 02 08 01"));

    // The first Notify lists every user and queue.
    let users = [
        ("DC51BA0008A311DD80540050569F6EF8", "2002", "Bergcamp"),
        ("DC51BA0008A311DD80550050569F6EF8", "2003", "Viera"),
        ("DC51BA0008A311DD80560050569F6EF8", "2004", "Lampard"),
        ("DC51BA0008A311DD80570050569F6EF8", "2005", "Scholes"),
        ("DC51BA0008A311DD80580050569F6EF8", "2006", "Foster"),
    ];
    let queues = [
        (
            "21218C000AF711DD80BC0050569F6EF8",
            "2501",
            "IP Office Sales",
        ),
        ("372E6C800AF711DD80BD0050569F6EF8", "2502", "Service Queue"),
        ("8461A88028D811DD807C0050569F5DC5", "8009", "Supervisors"),
        ("5E883D8028D911DD817B0050569F5DC5", "8008", "Agents"),
    ];
    let lines = pb::NotifyLines {
        flags: 3,
        adduser: users
            .iter()
            .map(|(g, extn, name)| pb::LinesUser {
                guid: guid(g),
                extn: (*extn).into(),
                name: (*name).into(),
            })
            .collect(),
        addqueue: queues
            .iter()
            .map(|(g, extn, name)| pb::LinesQueue {
                guid: guid(g),
                extn: (*extn).into(),
                name: (*name).into(),
            })
            .collect(),
        ..Default::default()
    };
    let first = notify(5555, 1, pb::notify::Payload::Lines(lines));
    let decoded = decode(&encode(&first, Framing::Framed).unwrap(), Framing::Framed).unwrap();
    assert_eq!(decoded, first);
    let Some(Payload::Notify(n)) = &decoded.payload else {
        panic!("a notify")
    };
    assert_eq!(n.subscribe_id, 5555);
    assert_eq!(n.notify_id, 1);
    let Some(pb::notify::Payload::Lines(l)) = &n.payload else {
        panic!("lines")
    };
    assert_eq!(l.adduser.len(), 5);
    assert_eq!(l.adduser[0].guid.len(), 16);
    assert_eq!(l.addqueue[0].name, "IP Office Sales");

    // Because the Notify had a notify_id, the application acknowledges it:
    // notifyack { subscribe_id=5555 notify_id=1 }.
    let ack = msg::ack_for(n).expect("a notify_id asks for an ack");
    assert_eq!(ack, msg::notify_ack(5555, 1));
    assert_eq!(round_trip(&ack), hex("4A 05 08 B3 2B 10 01"));

    // Later an administrator renames a user: changeuser with the same guid.
    let change = notify(
        5555,
        2,
        pb::notify::Payload::Lines(pb::NotifyLines {
            flags: 3,
            changeuser: vec![pb::LinesUser {
                guid: guid("B8E477802F2511DE805A0050569F5DC5"),
                extn: "3550".into(),
                name: "OJordan".into(),
            }],
            ..Default::default()
        }),
    );
    round_trip(&change);
}

#[test]
fn a_notify_without_notify_id_is_not_acknowledged() {
    let n = pb::Notify {
        subscribe_id: 7000,
        ..Default::default()
    };
    assert_eq!(msg::ack_for(&n), None);
}

#[test]
fn the_user_subscription_and_its_notify() {
    let g = guid("DC51BA0008A311DD80530050569F6EF8");
    // subscribe { requestid=2 subscribe_id=7000 user { guid=... flags=0x1 ccflags=0x19 } }
    let sub = msg::subscribe_user(
        2,
        7000,
        0,
        &g,
        UserFlags::MAILBOX,
        CcFlags::PRIMARY | CcFlags::CONFERENCE | CcFlags::DIALINFO,
    );
    let expected = pb::Message {
        payload: Some(Payload::Subscribe(pb::Subscribe {
            requestid: 2,
            subscribe_id: 7000,
            payload: Some(pb::subscribe::Payload::User(pb::SubscribeUser {
                guid: g.clone(),
                flags: 0x1,
                ccflags: 0x19,
            })),
            ..Default::default()
        })),
    };
    assert_eq!(sub, expected);
    round_trip(&sub);

    // notify { subscribe_id=7000 notify_id=1 user { extn=2002 name=Bergcamp email=...
    // language=dan voicemail=1 mailbox { } } }: the empty mailbox must survive as present.
    let user = notify(
        7000,
        1,
        pb::notify::Payload::User(pb::NotifyUser {
            extn: "2002".into(),
            name: "Bergcamp".into(),
            email: "dbergcamp@denmarklegends.com".into(),
            language: "dan".into(),
            voicemail: true,
            mailbox: Some(pb::Mailbox::default()),
            ..Default::default()
        }),
    );
    let bytes = round_trip(&user);
    // field 17 (mailbox), length 0: present but empty.
    assert!(bytes.windows(3).any(|w| w == [0x8A, 0x01, 0x00]));

    // Set DND: subscribecmd { subscribe_id=7000 user { sac { set=1 } } }.
    let dnd = msg::update_user(0, 7000, &UserUpdate::Sac(true)).unwrap();
    let expected = pb::Message {
        payload: Some(Payload::Subscribecmd(pb::SubscribeCmd {
            requestid: 0,
            subscribe_id: 7000,
            payload: Some(pb::subscribe_cmd::Payload::User(pb::UpdateUser {
                sac: Some(pb::UpdateUserSac { set: 1 }),
                ..Default::default()
            })),
        })),
    };
    assert_eq!(dnd, expected);
    round_trip(&dnd);

    // Voicemail counters by short code 70: shortcodeval=;3,0,0 (field 4, shortcodedata).
    let counters = msg::update_user(
        3,
        7000,
        &UserUpdate::ShortCodes(vec![ShortCode::mailbox_counts(3, 0, 0)]),
    )
    .unwrap();
    let Some(Payload::Subscribecmd(cmd)) = &counters.payload else {
        panic!("a subscribecmd")
    };
    assert_eq!(cmd.requestid, 3);
    let Some(pb::subscribe_cmd::Payload::User(u)) = &cmd.payload else {
        panic!("a user update")
    };
    assert_eq!(
        u.shortcodedata,
        vec![pb::ShortCodeData {
            code: 70,
            val: ";3,0,0".into(),
            onbehalf: String::new(),
        }]
    );
    round_trip(&counters);
}

#[test]
fn the_queue_subscription_by_guid_and_by_name() {
    let g = guid("DC51BA0008A311DD80530050569F6EF8");
    let cc = CcFlags(0x40039);
    assert!(cc.contains(CcFlags::TARGETS | CcFlags::PRIMARY));
    let by_guid = msg::subscribe_queue(2, 7500, 0, QueueRef::Guid(&g), QueueFlags(0x3), cc);
    let by_name = msg::subscribe_queue(2, 7500, 0, QueueRef::Name("Sales"), QueueFlags(0x3), cc);
    for (msg, want_guid, want_name) in [(&by_guid, g.clone(), ""), (&by_name, vec![], "Sales")] {
        round_trip(msg);
        let Some(Payload::Subscribe(s)) = &msg.payload else {
            panic!("a subscribe")
        };
        assert_eq!((s.requestid, s.subscribe_id, s.timeout), (2, 7500, 0));
        let Some(pb::subscribe::Payload::Queue(q)) = &s.payload else {
            panic!("a queue subscribe")
        };
        assert_eq!(q.guid, want_guid);
        assert_eq!(q.name, want_name);
        assert_eq!((q.flags, q.ccflags), (0x3, 0x40039));
    }
}

#[test]
fn the_ringing_user_call_with_featuresavailable_0x23() {
    let info = pb::CallInfo {
        callid: 1,
        state: call_info::State::Ringing as i32,
        direction: call_info::Direction::Inbound as i32,
        gcid: hex("01 C0 A8 2A 0B 00 00 03 EC"),
        featuresavailable: 0x23,
        callingparty: Some(party("61001", "Agent 61001", 5)),
        ..Default::default()
    };
    let msg = callcontrol(7000, 1, info);
    round_trip(&msg);
    let f = CallFeatures::from_wire(only_callinfo(&msg).featuresavailable);
    assert_eq!(f.to_string(), "0x00000023 DROP ANSWER REDIRECT");
    assert!(f.contains(CallFeatures::ANSWER));
    assert!(!f.contains(CallFeatures::HOLD));
}

#[test]
fn the_ringing_queue_call_with_featuresavailable_0x6060e0b1() {
    let info = pb::CallInfo {
        callid: 1,
        state: call_info::State::Ringing as i32,
        direction: call_info::Direction::Inbound as i32,
        featuresavailable: 0x6060E0B1,
        callingparty: Some(party("01707123456", "Avaya Test trunk", 9)),
        queueinfo: Some(pb::QueueInfo {
            number: "98765".into(),
            name: "Agents".into(),
            priority: 1,
            ..Default::default()
        }),
        calldata: Some(pb::CallData {
            language: "eng".into(),
            ..Default::default()
        }),
        targets: Some(pb::Targets {
            target: vec![pb::Target {
                partyinfo: Some(party("61002", "Agent 61002", 5)),
            }],
        }),
        ..Default::default()
    };
    let msg = callcontrol(7500, 1, info);
    round_trip(&msg);
    assert_eq!(
        CallFeatures::from_wire(only_callinfo(&msg).featuresavailable).to_string(),
        "0x6060E0B1 DROP BLINDXFER REDIRECT PARK TAG ACCT FORCECLEAR AUTH PRIO FINISH"
    );
}

#[test]
fn bit_31_of_featuresavailable_survives_the_wire() {
    // After /102/Callflow: ANSWEREDBYVOICEMAIL with featuresavailable=0xE0E0E091, whose bit 31
    // (reserved) makes the int32 negative.
    let wire = 0xE0E0E091_u32 as i32;
    assert!(wire < 0);
    let info = pb::CallInfo {
        callid: 1,
        state: call_info::State::Answeredbyvoicemail as i32,
        direction: call_info::Direction::Inbound as i32,
        featuresavailable: wire,
        calledparty: "8010".into(),
        callingparty: Some(party("03498984598", "", 9)),
        connectedparty: Some(party("Callflow", "", 0)),
        trunkinfo: Some(pb::TrunkInfo {
            trunktype: trunk_info::TrunkType::TrunkIsdn as i32,
            did: "8010".into(),
        }),
        queueinfo: Some(pb::QueueInfo {
            priority: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    let msg = callcontrol(7500, 2, info);
    round_trip(&msg);
    let f = CallFeatures::from_wire(only_callinfo(&msg).featuresavailable);
    assert_eq!(f.bits(), 0xE0E0E091);
    assert_eq!(f.to_wire(), wire);
    assert_eq!(
        f.to_string(),
        "0xE0E0E091 DROP BLINDXFER PARK TAG ACCT FORCECLEAR AUTH REC+ PRIO FINISH"
    );
}

#[test]
fn the_documents_other_feature_boxes() {
    // The MeetMe and functional-queue examples print these values without FINISH although their
    // bit 30 is set; the display names every named bit that is set.
    assert_eq!(
        CallFeatures(0x60E0F801).to_string(),
        "0x60E0F801 DROP ADDTOCONF CONFMEMBER TAG ACCT FORCECLEAR AUTH REC+ PRIO FINISH"
    );
    assert_eq!(
        CallFeatures(0x6060E091).to_string(),
        "0x6060E091 DROP BLINDXFER PARK TAG ACCT FORCECLEAR AUTH PRIO FINISH"
    );
    assert_eq!(CallFeatures2(1).to_string(), "0x00000001 ANSWERPAGE");
}

#[test]
fn the_blind_transfer_to_a_callflow() {
    // subscribecmd { subscribe_id=7500 callcontrol { callid=1 callfunction {
    // action=BlindTransfer arg1=/102/Callflow } } }
    let cmd = CallFunctionCmd::BlindTransfer(TransferTarget::voicemail("Callflow"));
    let msg = msg::call_function(0, 7500, 1, &cmd).unwrap();
    let mut expected = hex("22 1A 10 CC 3A 72 15 08 01 22 11 08 05 12 0D");
    expected.extend_from_slice(b"/102/Callflow");
    assert_eq!(round_trip(&msg), expected);
    assert_eq!(
        TransferTarget::parse("/102/Callflow"),
        TransferTarget::voicemail("Callflow")
    );
}

#[test]
fn the_other_blind_transfers() {
    let cases = [
        (TransferTarget::meetme("20987"), "/116/20987"),
        (
            TransferTarget::meetme_with_pin("2005", "123456"),
            "/116/2005;MODEFROMPIN(123456)",
        ),
        (TransferTarget::destination("2502"), "2502"),
    ];
    for (target, arg1) in cases {
        let msg =
            msg::call_function(0, 2, 2, &CallFunctionCmd::BlindTransfer(target.clone())).unwrap();
        round_trip(&msg);
        let Some(Payload::Subscribecmd(pb::SubscribeCmd {
            payload: Some(pb::subscribe_cmd::Payload::Callcontrol(cc)),
            ..
        })) = &msg.payload
        else {
            panic!("call control")
        };
        let f = cc.callfunction.as_ref().expect("a call function");
        assert_eq!(f.action, pb::call_function::Action::BlindTransfer as i32);
        assert_eq!(f.arg1, arg1);
        assert_eq!(TransferTarget::parse(arg1), target);
    }
}

#[test]
fn the_agent_recording_pause() {
    // subscribecmd { requestid=6 subscribe_id=2 callcontrol { callid=1 callfunction {
    // action=AgentRecordingControl agentrecording { pause } } } }
    let msg = msg::call_function(
        6,
        2,
        1,
        &CallFunctionCmd::AgentRecordingControl(RecordingControl::Pause),
    )
    .unwrap();
    let expected = pb::Message {
        payload: Some(Payload::Subscribecmd(pb::SubscribeCmd {
            requestid: 6,
            subscribe_id: 2,
            payload: Some(pb::subscribe_cmd::Payload::Callcontrol(
                pb::UpdateCallControl {
                    callid: 1,
                    callfunction: Some(pb::CallFunction {
                        action: pb::call_function::Action::AgentRecordingControl as i32,
                        agentrecording: Some(pb::AgentRecordingControl {
                            pause: true,
                            resume: false,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )),
        })),
    };
    assert_eq!(msg, expected);
    round_trip(&msg);
}

#[test]
fn the_presence_subscription_refresh_and_update() {
    let entry = |presentity: &str, lref| pb::Presentity {
        presentity: presentity.into(),
        lref,
    };
    let sub = msg::subscribe_presence(
        0,
        98765,
        3600,
        &[entry("201", 5678), entry("202", 5679), entry("203", 5680)],
        Default::default(),
    )
    .unwrap();
    round_trip(&sub);

    // The refresh carries the same subscribe_id and only the new timeout.
    let refresh = msg::refresh(98765, 3600);
    assert_eq!(round_trip(&refresh), hex("1A 07 10 CD 83 06 18 90 1C"));
    assert_eq!(msg::refresh_presence(98765, 3600).unwrap(), refresh);

    // Later: add 204 and 205, remove lref 5678.
    let update = msg::update_presence(
        0,
        98765,
        &[entry("204", 5681), entry("205", 5682)],
        &[entry("", 5678)],
    )
    .unwrap();
    round_trip(&update);
}

#[test]
fn version_info_and_getfile() {
    // generalcmd { requestid=3000 getversioninfo }
    let ask = msg::get_version_info(3000);
    assert_eq!(round_trip(&ask), hex("12 05 08 B8 17 38 01"));
    let answer = pb::Message {
        payload: Some(Payload::Generaldata(pb::GeneralData {
            responseid: 3000,
            payload: Some(pb::general_data::Payload::Versioninfo(
                "IP Office 11.1.0.0 build 600".into(),
            )),
        })),
    };
    round_trip(&answer);
    let file = msg::get_file(7, 1, msg::ACCOUNT_CODE_FILE);
    round_trip(&file);
}

#[test]
fn subscribe_end_uses_field_2_for_the_subscribe_id() {
    // The document prints subscribe_id = 1, clashing with requestid; the wire uses 2.
    let end = msg::subscribe_end(4, 7000, "bye");
    assert_eq!(round_trip(&end), hex("2A 0A 08 04 10 D8 36 1A 03 62 79 65"));
}
