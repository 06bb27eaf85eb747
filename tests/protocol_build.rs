//! The builders enforce the document's argument limits at each boundary, and put exactly the
//! fields the document asks for on the wire.

use ipo_top::protocol::BuildError;
use ipo_top::protocol::bits::{CallFeatures, CallFeatures2, CcFlags, PresenceFlags};
use ipo_top::protocol::cmd::*;
use ipo_top::protocol::msg::*;
use ipo_top::protocol::pb::{self, message::Payload};

fn s(n: usize) -> String {
    "9".repeat(n)
}

/// A string of `n` characters that takes two bytes each in UTF-8: lengths are characters.
fn wide(n: usize) -> String {
    "é".repeat(n)
}

fn call_control(msg: &Message) -> &pb::UpdateCallControl {
    match &msg.payload {
        Some(Payload::Subscribecmd(pb::SubscribeCmd {
            payload: Some(pb::subscribe_cmd::Payload::Callcontrol(cc)),
            ..
        })) => cc,
        other => panic!("expected call control, got {other:?}"),
    }
}

fn arg1(cmd: &CallFunctionCmd) -> Result<String, BuildError> {
    cmd.to_pb().map(|f| f.arg1)
}

fn length_error(r: Result<String, BuildError>) -> (usize, usize, usize) {
    match r {
        Err(BuildError::Length { len, min, max, .. }) => (len, min, max),
        other => panic!("expected a length error, got {other:?}"),
    }
}

#[test]
fn transfer_redirect_dial_and_addtoconf_take_1_to_78_characters() {
    type Make = fn(String) -> CallFunctionCmd;
    let cases: [(&str, Make); 4] = [
        ("BlindTransfer", |t| {
            CallFunctionCmd::BlindTransfer(TransferTarget::destination(t))
        }),
        ("Redirect", CallFunctionCmd::Redirect),
        ("Dial", CallFunctionCmd::Dial),
        ("AddToConf", CallFunctionCmd::AddToConf),
    ];
    for (name, make) in cases {
        assert_eq!(
            length_error(arg1(&make(String::new()))),
            (0, 1, 78),
            "{name}"
        );
        assert_eq!(arg1(&make(s(1))).unwrap(), "9", "{name}");
        assert_eq!(arg1(&make(s(78))).unwrap(), s(78), "{name}");
        assert_eq!(
            arg1(&make(wide(78))).unwrap(),
            wide(78),
            "{name}: characters, not bytes"
        );
        assert_eq!(length_error(arg1(&make(s(79)))), (79, 1, 78), "{name}");
    }
}

#[test]
fn a_typed_transfer_target_is_limited_as_a_whole() {
    // "/102/" is 5 characters, leaving 73 for the destination.
    let ok = CallFunctionCmd::BlindTransfer(TransferTarget::voicemail(s(73)));
    assert_eq!(arg1(&ok).unwrap(), format!("/102/{}", s(73)));
    let long = CallFunctionCmd::BlindTransfer(TransferTarget::voicemail(s(74)));
    assert_eq!(length_error(arg1(&long)), (79, 1, 78));
}

#[test]
fn every_transfer_type_renders_and_parses_back() {
    let codes: Vec<u16> = TransferType::ALL.iter().map(|t| t.code()).collect();
    assert_eq!(codes, [102, 104, 105, 106, 107, 109, 111, 112, 116, 120]);
    for kind in TransferType::ALL {
        let target = TransferTarget::typed(kind, "2001");
        let text = target.to_arg().unwrap();
        assert_eq!(text, format!("/{}/2001", kind.code()));
        assert_eq!(TransferTarget::parse(&text), target);
    }
    let named = [
        (TransferTarget::page("1"), 104),
        (TransferTarget::force_answer("1"), 105),
        (TransferTarget::intrude("1"), 106),
        (TransferTarget::priority("1"), 107),
        (TransferTarget::camp_on("1"), 109),
        (TransferTarget::whisper("1"), 111),
        (TransferTarget::inclusion("1"), 112),
        (TransferTarget::fne("1"), 120),
    ];
    for (target, code) in named {
        assert_eq!(target.to_string(), format!("/{code}/1"));
    }
    // Anything else stays a plain destination, verbatim.
    for plain in ["2001", "/103/x", "/102", "//x", "/1a/x", "/0102/x"] {
        let parsed = TransferTarget::parse(plain);
        assert_eq!(parsed.to_string(), plain);
    }
    assert!(matches!(
        TransferTarget::parse("/103/x"),
        TransferTarget::Destination(_)
    ));
}

#[test]
fn park_slots_take_1_to_9_characters() {
    assert_eq!(
        length_error(arg1(&CallFunctionCmd::Park(String::new()))),
        (0, 1, 9)
    );
    assert_eq!(arg1(&CallFunctionCmd::Park(s(1))).unwrap(), "9");
    assert_eq!(arg1(&CallFunctionCmd::Park(s(9))).unwrap(), s(9));
    assert_eq!(
        length_error(arg1(&CallFunctionCmd::Park(s(10)))),
        (10, 1, 9)
    );
}

#[test]
fn setup_transfer_and_conf_take_an_optional_target_of_up_to_78() {
    type Make = fn(Option<String>) -> CallFunctionCmd;
    for make in [
        CallFunctionCmd::SetupTransfer as Make,
        CallFunctionCmd::SetupConf,
    ] {
        assert_eq!(arg1(&make(None)).unwrap(), "");
        assert_eq!(arg1(&make(Some(String::new()))).unwrap(), "");
        assert_eq!(arg1(&make(Some(s(78)))).unwrap(), s(78));
        assert_eq!(length_error(arg1(&make(Some(s(79))))), (79, 0, 78));
    }
}

#[test]
fn tags_take_up_to_127_bmp_characters_and_no_nul() {
    let tag = CallFunctionCmd::SetTag;
    assert_eq!(
        arg1(&tag(String::new())).unwrap(),
        "",
        "empty clears the tag"
    );
    assert_eq!(arg1(&tag(wide(127))).unwrap(), wide(127));
    assert_eq!(length_error(arg1(&tag(wide(128)))), (128, 0, 127));
    assert!(matches!(
        arg1(&tag("call back \u{1F600}".into())),
        Err(BuildError::Character {
            ch: '\u{1F600}',
            ..
        })
    ));
    assert!(matches!(
        arg1(&tag("VIP\0customer".into())),
        Err(BuildError::Character { ch: '\0', .. })
    ));
}

#[test]
fn account_and_auth_codes_take_up_to_15_characters() {
    type Make = fn(String) -> CallFunctionCmd;
    for make in [
        CallFunctionCmd::SetAccountCode as Make,
        CallFunctionCmd::SetAuthCode,
    ] {
        assert_eq!(arg1(&make(String::new())).unwrap(), "", "empty clears it");
        assert_eq!(arg1(&make(s(15))).unwrap(), s(15));
        assert_eq!(length_error(arg1(&make(s(16)))), (16, 0, 15));
    }
}

#[test]
fn generate_digits_takes_1_to_32_dtmf_characters() {
    let digits = CallFunctionCmd::GenerateDigits;
    assert_eq!(length_error(arg1(&digits(String::new()))), (0, 1, 32));
    assert_eq!(
        arg1(&digits("0123456789*#".into())).unwrap(),
        "0123456789*#"
    );
    assert_eq!(arg1(&digits(s(32))).unwrap(), s(32));
    assert_eq!(length_error(arg1(&digits(s(33)))), (33, 1, 32));
    for bad in ['A', 'p', ',', ' ', '+'] {
        let err = arg1(&digits(format!("12{bad}3"))).unwrap_err();
        assert!(
            matches!(err, BuildError::Character { ch, .. } if ch == bad),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn priority_is_exactly_1_2_or_3() {
    assert_eq!(Priority::from_arg("1"), Ok(Priority::Low));
    assert_eq!(Priority::from_arg("2"), Ok(Priority::Medium));
    assert_eq!(Priority::from_arg("3"), Ok(Priority::High));
    for bad in ["0", "4", "", " 1", "1 ", "01", "high"] {
        assert_eq!(
            Priority::from_arg(bad),
            Err(BuildError::Priority(bad.into()))
        );
    }
    assert_eq!(Priority::from_wire(0), None);
    assert_eq!(Priority::from_wire(3), Some(Priority::High));
    assert_eq!(Priority::from_wire(4), None);
    for p in [Priority::Low, Priority::Medium, Priority::High] {
        assert_eq!(arg1(&CallFunctionCmd::SetPriority(p)).unwrap(), p.as_arg());
        assert_eq!(Priority::from_wire(p.to_wire()), Some(p));
    }
}

#[test]
fn finish_sends_no_argument_or_1() {
    assert_eq!(
        arg1(&CallFunctionCmd::Finish { immediate: false }).unwrap(),
        ""
    );
    assert_eq!(
        arg1(&CallFunctionCmd::Finish { immediate: true }).unwrap(),
        "1"
    );
    let received = |a: &str| {
        CallFunctionCmd::from_pb(&pb::CallFunction {
            action: pb::call_function::Action::Finish as i32,
            arg1: a.into(),
            ..Default::default()
        })
    };
    assert_eq!(
        received(""),
        Ok(CallFunctionCmd::Finish { immediate: false })
    );
    assert_eq!(
        received("1"),
        Ok(CallFunctionCmd::Finish { immediate: true })
    );
    assert!(received("2").is_err());
}

#[test]
fn a_call_function_needs_a_callid() {
    let r = call_function(1, 2, 0, &CallFunctionCmd::DropCall);
    assert_eq!(r, Err(BuildError::NoCallId));
    let msg = call_function(1, 2, 77, &CallFunctionCmd::DropCall).unwrap();
    let cc = call_control(&msg);
    assert_eq!((cc.callid, cc.referencecallid), (77, 0));
    assert_eq!(cc.devicehint, DeviceHint::Unspecified as i32);

    let msg = call_function_with_hint(
        1,
        2,
        77,
        &CallFunctionCmd::AnswerCall,
        DeviceHint::Softphoneany,
    )
    .unwrap();
    assert_eq!(
        call_control(&msg).devicehint,
        DeviceHint::Softphoneany as i32
    );

    let by_ref =
        call_function_by_reference(1, 2, 55, &CallFunctionCmd::DropCall, DeviceHint::Desk).unwrap();
    let cc = call_control(&by_ref);
    assert_eq!((cc.callid, cc.referencecallid), (0, 55));
    assert!(
        call_function_by_reference(1, 2, 0, &CallFunctionCmd::DropCall, DeviceHint::Desk).is_err()
    );
}

#[test]
fn make_call_sets_referencecallid_type_and_hint_but_never_callid() {
    assert_eq!(
        make_call(1, 2, 0, "2001", MakeCallType::Normal),
        Err(BuildError::NoReferenceCallId { what: "MakeCall" })
    );
    let kinds = [
        (MakeCallType::Normal, 0),
        (MakeCallType::Page, 104),
        (MakeCallType::ForceFeed, 105),
        (MakeCallType::Intrude, 106),
        (MakeCallType::Pickup, 108),
        (MakeCallType::CampOn, 109),
        (MakeCallType::MeetMe, 116),
    ];
    for (kind, code) in kinds {
        assert_eq!(MakeCallType::from_code(code), Some(kind));
        let msg = make_call_with_hint(1, 2, 900, "2001", kind, DeviceHint::Desk).unwrap();
        let cc = call_control(&msg);
        assert_eq!(cc.callid, 0);
        assert_eq!(cc.referencecallid, 900);
        assert_eq!(cc.devicehint, DeviceHint::Desk as i32);
        let mc = cc.makecall.as_ref().expect("makecall");
        assert_eq!((mc.target.as_str(), mc.r#type), ("2001", code));
        assert!(cc.callfunction.is_none() && cc.unparkcall.is_none());
    }
    assert_eq!(MakeCallType::from_code(107), None);
    // An empty target is a call in DIALTONE.
    assert!(make_call(1, 2, 9, "", MakeCallType::Normal).is_ok());
}

#[test]
fn advanced_make_call_attributes_are_limited_like_their_call_functions() {
    let adv = |accountcode: String, authcode: String, tag: String| pb::AdvancedMakeCall {
        accountcode,
        authcode,
        tag,
        withholdcli: true,
        ..Default::default()
    };
    let ok = adv(s(15), s(15), wide(127));
    let msg = make_call_advanced(
        1,
        2,
        3,
        "2001",
        MakeCallType::Normal,
        DeviceHint::Unspecified,
        Some(&ok),
    )
    .unwrap();
    assert_eq!(
        call_control(&msg).makecall.as_ref().unwrap().advanced,
        Some(ok)
    );
    for bad in [
        adv(s(16), String::new(), String::new()),
        adv(String::new(), s(16), String::new()),
        adv(String::new(), String::new(), s(128)),
    ] {
        let r = make_call_advanced(
            1,
            2,
            3,
            "1",
            MakeCallType::Normal,
            DeviceHint::Unspecified,
            Some(&bad),
        );
        assert!(matches!(r, Err(BuildError::Length { .. })), "{r:?}");
    }
}

#[test]
fn unpark_sets_referencecallid_and_a_1_to_9_character_parkid_but_never_callid() {
    let msg = unpark_call(1, 2, 31, "123456789").unwrap();
    let cc = call_control(&msg);
    assert_eq!(cc.callid, 0, "the document: callid must not be populated");
    assert_eq!(cc.referencecallid, 31);
    assert_eq!(cc.unparkcall.as_ref().unwrap().parkid, "123456789");
    assert!(cc.makecall.is_none() && cc.callfunction.is_none());
    assert_eq!(
        unpark_call(1, 2, 0, "1"),
        Err(BuildError::NoReferenceCallId { what: "UnParkCall" })
    );
    assert!(matches!(
        unpark_call(1, 2, 31, ""),
        Err(BuildError::Length { len: 0, .. })
    ));
    assert!(matches!(
        unpark_call(1, 2, 31, &s(10)),
        Err(BuildError::Length { len: 10, .. })
    ));
    let hinted = unpark_call_with_hint(1, 2, 31, "1", DeviceHint::Mobileany).unwrap();
    assert_eq!(
        call_control(&hinted).devicehint,
        DeviceHint::Mobileany as i32
    );
}

#[test]
fn presence_timeouts_are_60_to_86400_seconds() {
    let entry = [pb::Presentity {
        presentity: "201".into(),
        lref: 1,
    }];
    for t in [0, 59, 86_401, -60] {
        assert_eq!(
            subscribe_presence(1, 2, t, &entry, PresenceFlags::EMPTY),
            Err(BuildError::PresenceTimeout(t))
        );
        assert_eq!(refresh_presence(2, t), Err(BuildError::PresenceTimeout(t)));
    }
    for t in [60, 3600, 86_400] {
        assert!(subscribe_presence(1, 2, t, &entry, PresenceFlags::VMUNREAD).is_ok());
        assert!(refresh_presence(2, t).is_ok());
    }
    let nameless = [pb::Presentity {
        presentity: String::new(),
        lref: 1,
    }];
    assert!(matches!(
        subscribe_presence(1, 2, 60, &nameless, PresenceFlags::EMPTY),
        Err(BuildError::Empty { .. })
    ));
    assert!(matches!(
        update_presence(1, 2, &[], &[]),
        Err(BuildError::Empty { .. })
    ));
    assert!(matches!(
        update_presence(1, 2, &[], &[pb::Presentity::default()]),
        Err(BuildError::Empty { .. })
    ));
}

#[test]
fn refresh_carries_only_the_subscribe_id_and_timeout() {
    let msg = refresh(41, 600);
    let Some(Payload::Subscribe(s)) = &msg.payload else {
        panic!("a subscribe")
    };
    assert_eq!((s.requestid, s.subscribe_id, s.timeout), (0, 41, 600));
    assert!(s.payload.is_none() && s.label.is_empty());
    let Some(Payload::Subscribe(s)) = refresh_with_request(5, 41, 600).payload else {
        panic!("a subscribe")
    };
    assert_eq!(s.requestid, 5);
}

#[test]
fn park_server_subscription_carries_ccflags() {
    let msg = subscribe_parkserver(1, 3, 0, CcFlags::PRIMARY);
    let Some(Payload::Subscribe(pb::Subscribe {
        payload: Some(pb::subscribe::Payload::Parkserver(p)),
        ..
    })) = msg.payload
    else {
        panic!("a park server subscribe")
    };
    assert_eq!(p.ccflags, 1);
}

fn user_update(update: &UserUpdate) -> Result<pb::UpdateUser, BuildError> {
    let msg = update_user(1, 2, update)?;
    match msg.payload {
        Some(Payload::Subscribecmd(pb::SubscribeCmd {
            payload: Some(pb::subscribe_cmd::Payload::User(u)),
            ..
        })) => Ok(u),
        other => panic!("a user update, got {other:?}"),
    }
}

#[test]
fn absence_text_takes_up_to_21_characters_and_custom_needs_text() {
    let note = |kind, text: String| UserUpdate::Absence(Some(AbsenceNote { kind, text }));
    let u = user_update(&note(AbsenceKind::OnHolidayUntil, s(21))).unwrap();
    let a = u.absence.unwrap();
    assert_eq!(a.set, 1);
    assert_eq!(a.absence.unwrap().msg, 1);
    assert!(matches!(
        user_update(&note(AbsenceKind::OnHolidayUntil, s(22))),
        Err(BuildError::Length {
            len: 22,
            max: 21,
            ..
        })
    ));
    assert_eq!(
        user_update(&note(AbsenceKind::Custom, String::new())),
        Err(BuildError::BlankAbsence)
    );
    assert!(user_update(&note(AbsenceKind::BackSoon, String::new())).is_ok());
    let cleared = user_update(&UserUpdate::Absence(None))
        .unwrap()
        .absence
        .unwrap();
    assert_eq!((cleared.set, cleared.absence), (0, None));
    for (v, kind) in (1..).zip(AbsenceKind::ALL) {
        assert_eq!(AbsenceKind::from_wire(v), Some(kind));
    }
    assert_eq!(AbsenceKind::from_wire(0), None);
    assert_eq!(AbsenceKind::from_wire(12), None);
}

#[test]
fn the_other_user_updates() {
    assert_eq!(
        user_update(&UserUpdate::Sac(false))
            .unwrap()
            .sac
            .unwrap()
            .set,
        0
    );
    assert_eq!(
        user_update(&UserUpdate::Ec500(true))
            .unwrap()
            .ec500
            .unwrap()
            .set,
        1
    );
    assert!(matches!(
        user_update(&UserUpdate::ShortCodes(vec![])),
        Err(BuildError::Empty { .. })
    ));
    let app = |value: String, makelive, makedead| UserUpdate::App {
        value,
        makelive,
        makedead,
    };
    assert_eq!(
        user_update(&app(s(34), true, false))
            .unwrap()
            .app
            .unwrap()
            .value,
        s(34)
    );
    assert!(matches!(
        user_update(&app(s(35), false, false)),
        Err(BuildError::Length {
            len: 35,
            max: 34,
            ..
        })
    ));
    assert!(matches!(
        user_update(&app(String::new(), true, true)),
        Err(BuildError::Conflict(_))
    ));
    let fwd = user_update(&UserUpdate::FwdU {
        enabled: true,
        number: "07700900123".into(),
        to_voicemail: false,
    })
    .unwrap()
    .fwdu
    .unwrap();
    assert!(fwd.set);
    assert_eq!(fwd.fwdu_number, "07700900123");
    let login = user_update(&UserUpdate::LoginExtn(LoginExtn {
        extn: "2010".into(),
        password: "1234".into(),
        teleworker: None,
    }))
    .unwrap()
    .loginextn
    .unwrap();
    assert_eq!(login.extn, "2010");
}

fn queue_update(update: &QueueUpdate) -> Result<pb::UpdateQueue, BuildError> {
    let msg = update_queue(1, 2, update)?;
    match msg.payload {
        Some(Payload::Subscribecmd(pb::SubscribeCmd {
            payload: Some(pb::subscribe_cmd::Payload::Queue(q)),
            ..
        })) => Ok(q),
        other => panic!("a queue update, got {other:?}"),
    }
}

#[test]
fn queue_updates() {
    let modes = [
        (ServiceMode::Active, 1),
        (ServiceMode::NightService, 2),
        (ServiceMode::OutOfService, 3),
    ];
    for (mode, wire) in modes {
        let q = queue_update(&QueueUpdate::ServiceMode(mode)).unwrap();
        assert_eq!(q.setservicemode.unwrap().servicemode, wire);
    }
    assert!(
        queue_update(&QueueUpdate::Voicemail(true))
            .unwrap()
            .setvoicemail
            .unwrap()
            .enabled
    );
    // An empty whole list is allowed (and present on the wire); add/delete need members.
    let emptied = queue_update(&QueueUpdate::Members(vec![])).unwrap();
    assert_eq!(emptied.members, Some(pb::QueueMembers { member: vec![] }));
    assert!(matches!(
        queue_update(&QueueUpdate::AddMember(vec![])),
        Err(BuildError::Empty { .. })
    ));
    assert!(matches!(
        queue_update(&QueueUpdate::DeleteMember(vec![])),
        Err(BuildError::Empty { .. })
    ));
    assert!(matches!(
        queue_update(&QueueUpdate::AddMember(vec![Member::enabled("")])),
        Err(BuildError::Empty { .. })
    ));
    let added = queue_update(&QueueUpdate::AddMember(vec![Member {
        extn: "2003".into(),
        disabled: true,
    }]))
    .unwrap();
    assert_eq!(
        added.addmember,
        vec![pb::QueueMember {
            extn: "2003".into(),
            disabled: true
        }]
    );
    let deleted = queue_update(&QueueUpdate::DeleteMember(vec!["2003".into()])).unwrap();
    assert_eq!(deleted.deletemember[0].extn, "2003");
}

#[test]
fn every_function_is_gated_by_its_feature_bit() {
    let all = [
        (CallFunctionCmd::DropCall, CallFeatures::DROP),
        (CallFunctionCmd::AnswerCall, CallFeatures::ANSWER),
        (CallFunctionCmd::HoldCall, CallFeatures::HOLD),
        (CallFunctionCmd::UnHoldCall, CallFeatures::UNHOLD),
        (
            CallFunctionCmd::BlindTransfer(TransferTarget::destination("1")),
            CallFeatures::BLINDXFER,
        ),
        (
            CallFunctionCmd::Redirect("1".into()),
            CallFeatures::REDIRECT,
        ),
        (CallFunctionCmd::Dial("1".into()), CallFeatures::DIAL),
        (CallFunctionCmd::Park("1".into()), CallFeatures::PARK),
        (
            CallFunctionCmd::SetupTransfer(None),
            CallFeatures::SETUPTRANSFER,
        ),
        (
            CallFunctionCmd::SetupConf(None),
            CallFeatures::SETUPTRANSFER,
        ),
        (
            CallFunctionCmd::CompleteTransfer(None),
            CallFeatures::COMPLETETRANSFER,
        ),
        (
            CallFunctionCmd::CompleteConf(vec![]),
            CallFeatures::COMPLETECONF,
        ),
        (
            CallFunctionCmd::AddToConf("1".into()),
            CallFeatures::ADDTOCONF,
        ),
        (
            CallFunctionCmd::MemberFunction {
                lref: 1,
                action: MemberAction::MuteOn,
            },
            CallFeatures::CONFMEMBER,
        ),
        (CallFunctionCmd::SetTag(String::new()), CallFeatures::TAG),
        (
            CallFunctionCmd::SetAccountCode(String::new()),
            CallFeatures::ACCT,
        ),
        (CallFunctionCmd::PushToEc500, CallFeatures::PUSHTOEC500),
        (
            CallFunctionCmd::GenerateDigits("1".into()),
            CallFeatures::GENERATEDIGITS,
        ),
        (CallFunctionCmd::ForceClear, CallFeatures::FORCECLEAR),
        (
            CallFunctionCmd::SetAuthCode(String::new()),
            CallFeatures::AUTH,
        ),
        (CallFunctionCmd::CallRecordingOn, CallFeatures::RECORDINGON),
        (
            CallFunctionCmd::CallRecordingOff,
            CallFeatures::RECORDINGOFF,
        ),
        (CallFunctionCmd::PrivacyOn, CallFeatures::PRIVACYON),
        (CallFunctionCmd::PrivacyOff, CallFeatures::PRIVACYOFF),
        (CallFunctionCmd::MuteOn, CallFeatures::MUTEON),
        (CallFunctionCmd::MuteOff, CallFeatures::MUTEOFF),
        (
            CallFunctionCmd::AgentRecordingControl(RecordingControl::Resume),
            CallFeatures::RECORDINGPAUSECONTROL,
        ),
        (
            CallFunctionCmd::SetPriority(Priority::High),
            CallFeatures::PRIO,
        ),
        (
            CallFunctionCmd::Finish { immediate: false },
            CallFeatures::FINISH,
        ),
    ];
    for (cmd, bit) in all {
        assert_eq!(cmd.feature_gate(), FeatureGate::Features(bit), "{cmd:?}");
        assert!(cmd.feature_gate().is_offered(bit, CallFeatures2::EMPTY));
        assert!(!cmd.feature_gate().is_offered(!bit, CallFeatures2(u32::MAX)));
    }
    let page = CallFunctionCmd::AnswerPage.feature_gate();
    assert_eq!(page, FeatureGate::Features2(CallFeatures2::ANSWERPAGE));
    assert!(page.is_offered(CallFeatures::EMPTY, CallFeatures2::ANSWERPAGE));
    for unsupported in [
        CallFunctionCmd::SetNotes("x".into()),
        CallFunctionCmd::ShortCodeAction(ShortCode::new(7, "")),
    ] {
        assert_eq!(unsupported.feature_gate(), FeatureGate::NotOffered);
        assert!(
            !unsupported
                .feature_gate()
                .is_offered(CallFeatures(u32::MAX), CallFeatures2(u32::MAX))
        );
    }
}

#[test]
fn received_call_functions_are_checked_like_sent_ones() {
    use pb::call_function::Action;
    let received = |action: Action, arg1: &str| {
        CallFunctionCmd::from_pb(&pb::CallFunction {
            action: action as i32,
            arg1: arg1.into(),
            ..Default::default()
        })
    };
    assert_eq!(
        received(Action::BlindTransfer, "/116/20987"),
        Ok(CallFunctionCmd::BlindTransfer(TransferTarget::meetme(
            "20987"
        )))
    );
    assert!(matches!(
        received(Action::BlindTransfer, ""),
        Err(BuildError::Length { .. })
    ));
    assert!(matches!(
        received(Action::Park, &s(10)),
        Err(BuildError::Length { .. })
    ));
    assert!(matches!(
        received(Action::GenerateDigits, "12a"),
        Err(BuildError::Character { .. })
    ));
    assert_eq!(
        received(Action::SetPriority, "4"),
        Err(BuildError::Priority("4".into()))
    );
    for not_a_function in [0, 21, 31, 33, 36, -1] {
        let r = CallFunctionCmd::from_pb(&pb::CallFunction {
            action: not_a_function,
            ..Default::default()
        });
        assert_eq!(r, Err(BuildError::UnknownAction(not_a_function)));
    }
    assert!(matches!(
        received(Action::MemberFunction, ""),
        Err(BuildError::Missing { .. })
    ));
    assert!(matches!(
        received(Action::AgentRecordingControl, ""),
        Err(BuildError::Missing { .. })
    ));
    assert!(matches!(
        received(Action::ShortCodeAction, ""),
        Err(BuildError::Missing { .. })
    ));
    let two = CallFunctionCmd::from_pb(&pb::CallFunction {
        action: Action::CompleteTransfer as i32,
        callinst: vec![pb::CallInstance::default(), pb::CallInstance::default()],
        ..Default::default()
    });
    assert!(matches!(two, Err(BuildError::Conflict(_))));
}

#[test]
fn errors_say_what_is_wrong_and_what_is_allowed() {
    let e = arg1(&CallFunctionCmd::Park(s(10))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Park slot is 10 characters long; the MTCTI3 document allows 1 to 9"
    );
    let e = arg1(&CallFunctionCmd::GenerateDigits("1A".into())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "GenerateDigits digits contains 'A'; only the DTMF characters 0-9, * and # are allowed"
    );
    assert_eq!(
        BuildError::PresenceTimeout(30).to_string(),
        "presence subscription timeout 30 s is outside the document's range of 60 to 86400 s"
    );
}

/// The server side reads user and queue updates back as the client sent them, one update per
/// part of the message, and refuses only what no update can say.
#[test]
fn updates_read_back_as_sent() {
    let users = [
        UserUpdate::Sac(true),
        UserUpdate::Absence(None),
        UserUpdate::Absence(Some(AbsenceNote {
            kind: AbsenceKind::AtLunchUntil,
            text: "2pm".into(),
        })),
        UserUpdate::Ec500(false),
        UserUpdate::ShortCodes(vec![ShortCode::mailbox_counts(3, 0, 0)]),
        UserUpdate::LoginExtn(LoginExtn {
            extn: "201".into(),
            password: "1234".into(),
            teleworker: None,
        }),
        UserUpdate::App {
            value: "at my desk".into(),
            makelive: true,
            makedead: false,
        },
        UserUpdate::FwdU {
            enabled: true,
            number: "2001".into(),
            to_voicemail: false,
        },
    ];
    for u in users {
        let wire = u.to_pb().expect("a valid update");
        assert_eq!(UserUpdate::from_pb(&wire), Ok(vec![u]));
    }
    let queues = [
        QueueUpdate::ServiceMode(ServiceMode::NightService),
        QueueUpdate::Voicemail(true),
        QueueUpdate::Members(Vec::new()),
        QueueUpdate::Members(vec![
            Member::enabled("201"),
            Member {
                extn: "202".into(),
                disabled: true,
            },
        ]),
        QueueUpdate::AddMember(vec![Member::enabled("203")]),
        QueueUpdate::DeleteMember(vec!["201".into()]),
    ];
    for q in queues {
        let wire = q.to_pb().expect("a valid update");
        assert_eq!(QueueUpdate::from_pb(&wire), Ok(vec![q]));
    }

    // Several parts in one message: one update each, in the schema's order.
    let both = pb::UpdateUser {
        app: Some(pb::UpdateUserApp {
            value: "away".into(),
            ..Default::default()
        }),
        sac: Some(pb::UpdateUserSac { set: 1 }),
        ..Default::default()
    };
    let read = UserUpdate::from_pb(&both).expect("two parts");
    assert_eq!(read.len(), 2);
    assert_eq!(read[0], UserUpdate::Sac(true));

    // An absence type the document does not list, or a service mode that is none.
    let bad_absence = pb::UpdateUser {
        absence: Some(pb::UpdateUserAbsence {
            set: 1,
            absence: Some(pb::Absence {
                msg: 12,
                str: String::new(),
            }),
        }),
        ..Default::default()
    };
    assert!(UserUpdate::from_pb(&bad_absence).is_err());
    let unset = pb::UpdateQueue {
        setservicemode: Some(pb::SetServiceMode { servicemode: 0 }),
        ..Default::default()
    };
    assert!(QueueUpdate::from_pb(&unset).is_err());
    assert_eq!(
        UserUpdate::from_pb(&pb::UpdateUser::default()),
        Ok(Vec::new())
    );
}
