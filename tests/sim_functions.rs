//! Call functions on the PBX model, on virtual time: a table of function x line type x call
//! state (the allowed ones change the call as the document says, the others answer 609 or are
//! ignored), the documented failure codes, MakeCall (normal, intrude, pickup), UnParkCall,
//! transfers between groups and Finish, priorities, and every change reaching every line that
//! sees it.

use std::time::{Duration, Instant};

use ipo_top::protocol::cmd::{CallFunctionCmd, Priority, ServiceMode, TransferTarget};
use ipo_top::protocol::pb;
use ipo_top::protocol::pb::call_function::Action;
use ipo_top::protocol::pb::call_info::{Direction, State};
use ipo_top::sim::pbx::{DropCallMode, FunctionPolicy, Unoffered};
use ipo_top::sim::site::{MemberSpec, QueueSpec, Traffic, UserSpec};
use ipo_top::sim::{CallKey, Caller, Change, Line, Pbx, QueueId, Site, UserId};

/// A supervisor (4100); agents 4201 and 4202 in Claims (7301), 4203 (no voicemail) in Sales
/// (7302), 4204 with mobile twinning, 4205 logged off; Night (7303) in night service without voicemail. Agents
/// never answer by themselves and a member rings for ten minutes, so a call stays in the state
/// a test puts it in until the test moves it.
fn site() -> Site {
    let mut users = vec![
        UserSpec::new("4100", "Oduya", "Margaret Oduya"),
        UserSpec::new("4201", "Achterberg", "Femke Achterberg"),
        UserSpec::new("4202", "Nakashima", "Kenji Nakashima"),
        UserSpec::new("4203", "Oyelaran", "Tolu Oyelaran"),
        UserSpec::new("4204", "Lindqvist", "Annika Lindqvist"),
        UserSpec::new("4205", "Brennan", "Siobhan Brennan"),
    ];
    users[4].ec500 = true;
    users[4].mobile = "07700900417".to_string();
    users[5].logged_off = true;
    users[3].voicemail = false;
    let mut claims = QueueSpec::new(
        "7301",
        "Claims",
        vec![MemberSpec::enabled("4201"), MemberSpec::enabled("4202")],
    );
    claims.no_answer_time = 600;
    claims.ring_mode = ipo_top::sim::site::RingMode::Sequential;
    let mut sales = QueueSpec::new("7302", "Sales", vec![MemberSpec::enabled("4203")]);
    sales.no_answer_time = 600;
    let mut night = QueueSpec::new("7303", "Night", vec![MemberSpec::enabled("4204")]);
    night.service_mode = ServiceMode::NightService;
    Site {
        users,
        queues: vec![claims, sales, night],
        park_slots: (1..=8).map(|s| s.to_string()).collect(),
        account_codes: vec!["1001".to_string(), "2002".to_string()],
        auth_codes: vec!["9999".to_string()],
        traffic: Traffic {
            answer_delay: 4..=4,
            no_answer_chance: 1.0,
            talk: 3600..=3600,
            acw: 30..=30,
            patience: 3600..=3600,
            outbound_answer_chance: 0.0,
            ..Traffic::quiet()
        },
        ..Site::default()
    }
}

struct Run {
    pbx: Pbx,
    t0: Instant,
    at: Duration,
    policy: FunctionPolicy,
}

fn cf(callid: i32, cmd: &CallFunctionCmd) -> pb::UpdateCallControl {
    pb::UpdateCallControl {
        callid,
        callfunction: Some(cmd.to_pb().expect("a valid command")),
        ..Default::default()
    }
}

fn raw(callid: i32, action: Action, arg1: &str) -> pb::UpdateCallControl {
    pb::UpdateCallControl {
        callid,
        callfunction: Some(pb::CallFunction {
            action: action as i32,
            arg1: arg1.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn make_call(reference: i32, target: &str, kind: i32) -> pb::UpdateCallControl {
    pb::UpdateCallControl {
        referencecallid: reference,
        makecall: Some(pb::MakeCall {
            target: target.to_string(),
            r#type: kind,
            advanced: None,
        }),
        ..Default::default()
    }
}

fn state(ci: &pb::CallInfo) -> State {
    State::try_from(ci.state).expect("state")
}

impl Run {
    fn new() -> Run {
        let t0 = Instant::now();
        Run {
            pbx: Pbx::new(site(), 1, "10:00".parse().expect("time"), t0).expect("site"),
            t0,
            at: Duration::ZERO,
            policy: FunctionPolicy::default(),
        }
    }

    fn advance(&mut self, secs: u64) {
        self.at += Duration::from_secs(secs);
        self.pbx.handle_timeout(self.t0 + self.at);
    }

    fn changes(&mut self) -> Vec<Change> {
        std::iter::from_fn(|| self.pbx.poll_change()).collect()
    }

    fn user(&self, extn: &str) -> UserId {
        self.pbx.user_by_extn(extn).expect("user")
    }

    fn queue(&self, extn: &str) -> QueueId {
        self.pbx.queue_by_extn(extn).expect("queue")
    }

    fn place(&mut self, queue: &str, number: &str) -> CallKey {
        let q = self.queue(queue);
        self.pbx
            .place_queue_call(q, Caller::new(number, "Harbour Freight Ltd"), 1)
            .expect("placed")
            .expect("shown")
    }

    fn callid(&self, line: Line, key: CallKey) -> i32 {
        self.pbx
            .calls_on(line)
            .into_iter()
            .find(|(_, k)| *k == key)
            .map(|(c, _)| c)
            .unwrap_or_else(|| panic!("the call is not on {line:?}"))
    }

    fn info(&self, line: Line, key: CallKey) -> Option<pb::CallInfo> {
        self.pbx.callinfo(line, key)
    }

    fn send(&mut self, line: Line, ucc: pb::UpdateCallControl) -> i32 {
        self.pbx.call_control(line, &ucc, self.policy).code()
    }

    fn func(&mut self, line: Line, key: CallKey, cmd: &CallFunctionCmd) -> i32 {
        let callid = self.callid(line, key);
        self.send(line, cf(callid, cmd))
    }

    /// Every appearance of every call, for "nothing changed" checks.
    fn snapshot(&self) -> Vec<(Line, pb::CallInfo)> {
        let mut lines: Vec<Line> = self.pbx.users().map(|u| Line::User(u.id)).collect();
        lines.extend(self.pbx.queues().map(|q| Line::Queue(q.id)));
        lines.push(Line::Park);
        let mut out = Vec::new();
        for line in lines {
            for (_, key) in self.pbx.calls_on(line) {
                if let Some(ci) = self.pbx.callinfo(line, key) {
                    out.push((line, ci));
                }
            }
        }
        out
    }
}

/// The call states a line can show, as fixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixture {
    QueueQueueing,
    QueueRinging,
    QueueConnected,
    QueueParked,
    UserRinging,
    UserConnected,
    UserHeld,
    UserRingback,
    UserFailed,
    Parked,
}

const FIXTURES: [Fixture; 10] = [
    Fixture::QueueQueueing,
    Fixture::QueueRinging,
    Fixture::QueueConnected,
    Fixture::QueueParked,
    Fixture::UserRinging,
    Fixture::UserConnected,
    Fixture::UserHeld,
    Fixture::UserRingback,
    Fixture::UserFailed,
    Fixture::Parked,
];

/// Builds a fixture: the run, the line and the call.
fn fixture(f: Fixture) -> (Run, Line, CallKey) {
    let mut r = Run::new();
    let claims = Line::Queue(r.queue("7301"));
    let agent = Line::User(r.user("4201"));
    let sup = Line::User(r.user("4100"));
    let (line, key) = match f {
        Fixture::QueueQueueing => {
            for a in ["4201", "4202"] {
                let u = r.user(a);
                r.pbx.set_dnd(u, true);
            }
            (claims, r.place("7301", "01632960001"))
        }
        Fixture::QueueRinging | Fixture::UserRinging => {
            let key = r.place("7301", "01632960001");
            let line = if f == Fixture::QueueRinging {
                claims
            } else {
                agent
            };
            (line, key)
        }
        Fixture::QueueConnected | Fixture::UserConnected | Fixture::UserHeld => {
            let key = r.place("7301", "01632960001");
            assert_eq!(r.func(agent, key, &CallFunctionCmd::AnswerCall), 0);
            if f == Fixture::UserHeld {
                assert_eq!(r.func(agent, key, &CallFunctionCmd::HoldCall), 0);
            }
            let line = if f == Fixture::QueueConnected {
                claims
            } else {
                agent
            };
            (line, key)
        }
        Fixture::QueueParked => {
            let key = r.place("7301", "01632960001");
            assert_eq!(
                r.func(claims, key, &CallFunctionCmd::Park("7".to_string())),
                0
            );
            (claims, key)
        }
        Fixture::UserRingback | Fixture::UserFailed => {
            let target = if f == Fixture::UserRingback {
                "01632960999"
            } else {
                "4999"
            };
            assert_eq!(r.send(sup, make_call(77, target, 0)), 0);
            let (_, key) = r.pbx.calls_on(sup)[0];
            (sup, key)
        }
        Fixture::Parked => {
            let key = r
                .pbx
                .park_new_call("3", Caller::new("01614960000", "Pennine Haulage"), None)
                .expect("parked");
            (Line::Park, key)
        }
    };
    let expected = match f {
        Fixture::QueueQueueing => State::Queueing,
        Fixture::QueueRinging | Fixture::UserRinging => State::Ringing,
        Fixture::QueueConnected | Fixture::UserConnected => State::Connected,
        Fixture::QueueParked | Fixture::UserHeld | Fixture::Parked => State::Onhold,
        Fixture::UserRingback => State::Ringback,
        Fixture::UserFailed => State::Failed,
    };
    let ci = r.info(line, key).expect("the fixture's appearance");
    assert_eq!(state(&ci), expected, "fixture {f:?}");
    r.changes();
    (r, line, key)
}

/// The functions of the table, with valid arguments.
fn functions() -> Vec<CallFunctionCmd> {
    use CallFunctionCmd as C;
    vec![
        C::DropCall,
        C::AnswerCall,
        C::HoldCall,
        C::UnHoldCall,
        C::BlindTransfer(TransferTarget::destination("4203")),
        C::Redirect("4203".to_string()),
        C::Park("5".to_string()),
        C::SetTag("vip".to_string()),
        C::SetAccountCode("1001".to_string()),
        C::SetAuthCode("9999".to_string()),
        C::SetPriority(Priority::High),
        C::Finish { immediate: false },
        C::ForceClear,
        C::GenerateDigits("123#".to_string()),
        C::PushToEc500,
        C::PrivacyOn,
        C::PrivacyOff,
        C::CallRecordingOn,
        C::CallRecordingOff,
        C::Dial("5".to_string()),
        C::SetupTransfer(None),
        C::AddToConf("4203".to_string()),
        C::MuteOn,
        C::SetNotes("note".to_string()),
    ]
}

/// What the document allows per line type and state: the functions whose line type it lists
/// and whose bit the state's `featuresavailable` carries (the document's example values for
/// queue calls: QUEUEING 0x6060E091, RINGING 0x6060E0B1, CONNECTED with REC+; a ringing user
/// call 0x23 DROP ANSWER REDIRECT).
fn allowed(f: Fixture, cmd: &CallFunctionCmd) -> bool {
    use CallFunctionCmd as C;
    let queue_common = matches!(
        cmd,
        C::DropCall
            | C::BlindTransfer(_)
            | C::SetTag(_)
            | C::SetAccountCode(_)
            | C::ForceClear
            | C::SetPriority(_)
            | C::Finish { .. }
    );
    match f {
        Fixture::QueueQueueing | Fixture::QueueConnected => {
            queue_common || matches!(cmd, C::Park(_))
        }
        Fixture::QueueRinging => queue_common || matches!(cmd, C::Park(_) | C::Redirect(_)),
        Fixture::QueueParked => queue_common,
        Fixture::UserRinging => matches!(cmd, C::DropCall | C::AnswerCall | C::Redirect(_)),
        Fixture::UserConnected => matches!(
            cmd,
            C::DropCall
                | C::HoldCall
                | C::BlindTransfer(_)
                | C::Park(_)
                | C::SetTag(_)
                | C::SetAccountCode(_)
                | C::SetAuthCode(_)
                | C::GenerateDigits(_)
                | C::ForceClear
                | C::CallRecordingOn
                | C::PrivacyOn
        ),
        Fixture::UserHeld => matches!(
            cmd,
            C::DropCall
                | C::UnHoldCall
                | C::BlindTransfer(_)
                | C::Park(_)
                | C::SetTag(_)
                | C::SetAccountCode(_)
                | C::SetAuthCode(_)
                | C::ForceClear
        ),
        Fixture::UserRingback => matches!(
            cmd,
            C::DropCall | C::SetTag(_) | C::SetAccountCode(_) | C::SetAuthCode(_) | C::ForceClear
        ),
        Fixture::UserFailed => matches!(cmd, C::DropCall),
        Fixture::Parked => matches!(
            cmd,
            C::DropCall | C::BlindTransfer(_) | C::SetTag(_) | C::ForceClear
        ),
    }
}

/// The code a function that is not allowed gets when refused: 617 where the document says the
/// command would have no effect, 616 for the functions it says are not supported, else 609.
fn refused_code(f: Fixture, cmd: &CallFunctionCmd) -> i32 {
    match (f, cmd) {
        (Fixture::UserHeld, CallFunctionCmd::HoldCall)
        | (Fixture::UserConnected, CallFunctionCmd::UnHoldCall) => 617,
        (_, CallFunctionCmd::SetNotes(_)) => 616,
        _ => 609,
    }
}

/// Checks that an allowed function did what the document says.
fn check_effect(r: &Run, f: Fixture, line: Line, key: CallKey, cmd: &CallFunctionCmd) {
    use CallFunctionCmd as C;
    let ctx = format!("{cmd:?} on {f:?}");
    let after = r.info(line, key);
    let sales_agent = Line::User(r.user("4203"));
    match cmd {
        C::DropCall => assert!(after.is_none(), "{ctx}: the appearance is gone"),
        C::ForceClear => assert!(
            r.pbx.calls_on(line).iter().all(|(_, k)| *k != key) && !r.pbx.call_exists(key),
            "{ctx}: the call is cleared everywhere"
        ),
        C::AnswerCall | C::UnHoldCall => {
            assert_eq!(after.map(|ci| state(&ci)), Some(State::Connected), "{ctx}")
        }
        C::HoldCall => assert_eq!(after.map(|ci| state(&ci)), Some(State::Onhold), "{ctx}"),
        C::BlindTransfer(_) | C::Redirect(_) => {
            let there = r.info(sales_agent, key).expect("ringing at the target");
            assert_eq!(state(&there), State::Ringing, "{ctx}");
            if matches!(line, Line::User(_) | Line::Park) {
                assert!(after.is_none(), "{ctx}: the call left {line:?}");
            }
        }
        C::Park(slot) => {
            let parked = r.info(Line::Park, key).expect("on the park server");
            assert_eq!(&parked.parkslot, slot, "{ctx}");
        }
        C::SetTag(tag) => assert_eq!(after.map(|ci| ci.tag), Some(tag.clone()), "{ctx}"),
        C::SetAccountCode(code) => {
            assert_eq!(after.map(|ci| ci.accountcode), Some(code.clone()), "{ctx}")
        }
        C::SetPriority(p) => assert_eq!(
            after.and_then(|ci| ci.queueinfo).map(|q| q.priority),
            Some(p.to_wire()),
            "{ctx}"
        ),
        C::Finish { .. } => {
            assert!(after.is_none(), "{ctx}: no longer reported here");
            assert!(r.pbx.call_exists(key), "{ctx}: the call goes on");
        }
        C::CallRecordingOn => assert_eq!(after.map(|ci| ci.recording), Some(true), "{ctx}"),
        C::PrivacyOn => assert_eq!(
            after.and_then(|ci| ci.calldata).map(|d| d.privacy),
            Some(true),
            "{ctx}"
        ),
        // Nothing a Notify shows: the call is as it was, and still there.
        C::SetAuthCode(_) | C::GenerateDigits(_) => assert!(after.is_some(), "{ctx}"),
        other => panic!("{other:?} is not expected to be allowed anywhere"),
    }
}

#[test]
fn each_function_on_each_line_type_and_state_acts_or_answers_the_documented_code() {
    let mut acted = 0;
    for f in FIXTURES {
        for cmd in functions() {
            let (mut r, line, key) = fixture(f);
            let before = r.snapshot();
            let code = r.func(line, key, &cmd);
            if allowed(f, &cmd) {
                assert_eq!(code, 0, "{cmd:?} on {f:?} is allowed");
                check_effect(&r, f, line, key, &cmd);
                acted += 1;
            } else {
                assert_eq!(code, refused_code(f, &cmd), "{cmd:?} on {f:?}");
                assert_eq!(r.snapshot(), before, "{cmd:?} on {f:?} changed nothing");
                assert!(r.changes().is_empty(), "{cmd:?} on {f:?} reported nothing");
            }
        }
    }
    assert_eq!(acted, 64, "the table's allowed cells");
}

#[test]
fn with_unoffered_ignored_refused_functions_answer_success_and_do_nothing() {
    for f in FIXTURES {
        for cmd in functions() {
            if allowed(f, &cmd) || refused_code(f, &cmd) == 617 {
                continue;
            }
            let (mut r, line, key) = fixture(f);
            r.policy.unoffered = Unoffered::Ignore;
            let before = r.snapshot();
            assert_eq!(r.func(line, key, &cmd), 0, "{cmd:?} on {f:?} is ignored");
            assert_eq!(r.snapshot(), before, "{cmd:?} on {f:?} changed nothing");
            assert!(r.changes().is_empty());
        }
    }
}

#[test]
fn with_dropcall_without_effect_dropcall_succeeds_and_the_call_stays() {
    for f in FIXTURES {
        let (mut r, line, key) = fixture(f);
        r.policy.drop_call = DropCallMode::NoEffect;
        let before = r.snapshot();
        assert_eq!(r.func(line, key, &CallFunctionCmd::DropCall), 0, "{f:?}");
        assert_eq!(
            r.snapshot(),
            before,
            "{f:?}: only the Notifies tell the truth"
        );
    }
    // An unknown call is still not found.
    let (mut r, line, _) = fixture(Fixture::QueueRinging);
    r.policy.drop_call = DropCallMode::NoEffect;
    assert_eq!(r.send(line, cf(999, &CallFunctionCmd::DropCall)), 4);
}

#[test]
fn unknown_calls_bad_arguments_and_refusals_get_the_documented_codes() {
    let (mut r, claims, key) = fixture(Fixture::QueueRinging);
    let callid = r.callid(claims, key);
    // An unknown call: 4 for DropCall, 602 for the others.
    assert_eq!(r.send(claims, cf(999, &CallFunctionCmd::DropCall)), 4);
    for cmd in [
        CallFunctionCmd::ForceClear,
        CallFunctionCmd::SetTag("x".to_string()),
        CallFunctionCmd::SetPriority(Priority::Low),
    ] {
        assert_eq!(r.send(claims, cf(999, &cmd)), 602, "{cmd:?}");
    }
    // Neither callid nor referencecallid: 608.
    assert_eq!(r.send(claims, raw(0, Action::DropCall, "")), 608);
    // Arguments outside the document's limits: 608.
    let long_tag = "t".repeat(128);
    let bad = [
        (Action::BlindTransfer, ""),
        (Action::BlindTransfer, &*"9".repeat(79)),
        (Action::Redirect, ""),
        (Action::Park, ""),
        (Action::Park, "1234567890"),
        (Action::Park, "A1"),
        (Action::SetTag, &*long_tag),
        (Action::SetAccountCode, "1234567890123456"),
        (Action::SetPriority, "0"),
        (Action::SetPriority, "4"),
        (Action::SetPriority, "high"),
        (Action::Finish, "2"),
    ];
    for (action, arg) in bad {
        assert_eq!(
            r.send(claims, raw(callid, action, arg)),
            608,
            "{action:?} {arg:?}"
        );
    }
    // Not a function at all: 616.
    let mut none = raw(callid, Action::None, "");
    assert_eq!(r.send(claims, none.clone()), 616);
    if let Some(f) = none.callfunction.as_mut() {
        f.action = 99;
    }
    assert_eq!(r.send(claims, none), 616);
    // The function's own failures.
    assert_eq!(
        r.send(claims, raw(callid, Action::SetAccountCode, "5555")),
        604
    );
    assert_eq!(
        r.send(claims, raw(callid, Action::BlindTransfer, "4999")),
        612
    );
    assert_eq!(
        r.send(claims, raw(callid, Action::BlindTransfer, "4205")),
        612,
        "logged off"
    );
    assert_eq!(
        r.send(claims, raw(callid, Action::BlindTransfer, "7303")),
        612,
        "night, no voicemail"
    );
    assert_eq!(
        r.send(claims, raw(callid, Action::BlindTransfer, "/104/4203")),
        616
    );
    assert_eq!(r.send(claims, raw(callid, Action::Redirect, "4999")), 612);
    assert!(r.changes().is_empty(), "nothing happened to the call");
    let other = r
        .pbx
        .park_new_call("2", Caller::new("01614960001", ""), None)
        .expect("parked");
    assert!(r.pbx.call_exists(other));
    assert_eq!(
        r.send(claims, raw(callid, Action::Park, "2")),
        613,
        "slot taken"
    );

    let (mut r, agent, key) = fixture(Fixture::UserConnected);
    let callid = r.callid(agent, key);
    assert_eq!(r.send(agent, raw(callid, Action::SetAuthCode, "1111")), 605);
    assert_eq!(
        r.send(agent, raw(callid, Action::GenerateDigits, "12a")),
        608
    );
    assert_eq!(
        r.send(agent, raw(callid, Action::GenerateDigits, &"1".repeat(33))),
        608
    );
    assert_eq!(r.send(agent, raw(callid, Action::SetTag, "a\0b")), 608);
    // Empty account and auth codes clear them.
    assert_eq!(r.send(agent, raw(callid, Action::SetAccountCode, "")), 0);
    assert_eq!(r.send(agent, raw(callid, Action::SetAuthCode, "")), 0);

    // A ringing user call with no coverage (4203 has no voicemail) cannot be dropped: 611;
    // with voicemail (4202) it goes there and ends for everybody.
    let mut r = Run::new();
    let sup = Line::User(r.user("4100"));
    let (no_vm, vm) = (Line::User(r.user("4203")), Line::User(r.user("4202")));
    assert_eq!(r.send(sup, make_call(5, "4203", 0)), 0);
    let (_, key) = r.pbx.calls_on(no_vm)[0];
    assert_eq!(r.func(no_vm, key, &CallFunctionCmd::DropCall), 611);
    assert_eq!(
        r.info(no_vm, key).map(|ci| state(&ci)),
        Some(State::Ringing)
    );
    assert_eq!(r.send(sup, make_call(6, "4202", 0)), 0);
    let (_, key) = r.pbx.calls_on(vm)[0];
    assert_eq!(r.func(vm, key, &CallFunctionCmd::DropCall), 0);
    assert!(!r.pbx.call_exists(key));
}

#[test]
fn blind_transfer_to_another_group_queues_there_and_is_still_reported_on_the_first_until_finish() {
    let mut r = Run::new();
    let (claims, sales) = (r.queue("7301"), r.queue("7302"));
    let sales_agent = r.user("4203");
    // Sales' only agent is busy: the call will queue there.
    r.pbx.set_dnd(sales_agent, true);
    let key = r.place("7301", "01632960001");
    r.changes();
    assert_eq!(
        r.func(
            Line::Queue(claims),
            key,
            &CallFunctionCmd::BlindTransfer(TransferTarget::destination("7302"))
        ),
        0
    );
    // It left Claims' routing: nobody there rings any more.
    for a in ["4201", "4202"] {
        assert!(r.pbx.calls_on(Line::User(r.user(a))).is_empty(), "{a}");
    }
    let ci = r
        .info(Line::Queue(claims), key)
        .expect("still reported on Claims");
    assert_eq!(state(&ci), State::Queueing);
    let qi = ci.queueinfo.expect("queue info");
    assert_eq!(
        (qi.number.as_str(), qi.overflow_number.as_str()),
        ("7301", "7302")
    );
    assert!(
        r.info(Line::Queue(sales), key).is_none(),
        "not on Sales before Finish"
    );
    assert_eq!(r.pbx.queue(sales).map(|q| q.waiting_count()), Some(1));

    // Finish "1": Claims stops reporting it and Sales starts at once.
    assert_eq!(
        r.func(
            Line::Queue(claims),
            key,
            &CallFunctionCmd::Finish { immediate: true }
        ),
        0
    );
    let changes = r.changes();
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::CallLost { line, .. } if *line == Line::Queue(claims)))
    );
    assert!(r.info(Line::Queue(claims), key).is_none());
    let on_sales = r.info(Line::Queue(sales), key).expect("reported on Sales");
    assert_eq!(state(&on_sales), State::Queueing);

    // The agent comes back and takes it.
    r.pbx.set_dnd(sales_agent, false);
    let ringing = r
        .info(Line::User(sales_agent), key)
        .expect("rings the agent");
    assert_eq!(state(&ringing), State::Ringing);
}

#[test]
fn finish_without_argument_reports_the_call_on_the_next_group_it_arrives_at() {
    let mut r = Run::new();
    let (claims, sales) = (r.queue("7301"), r.queue("7302"));
    let key = r.place("7301", "01632960001");
    assert_eq!(
        r.func(
            Line::Queue(claims),
            key,
            &CallFunctionCmd::Finish { immediate: false }
        ),
        0
    );
    assert!(r.info(Line::Queue(claims), key).is_none());
    // Still ringing the agent: Finish ends the reporting, not the call.
    let agent = r.user("4201");
    let callid = r.callid(Line::User(agent), key);
    assert_eq!(
        r.send(
            Line::User(agent),
            cf(
                callid,
                &CallFunctionCmd::BlindTransfer(TransferTarget::destination("7302"))
            )
        ),
        609,
        "a ringing user call offers Redirect, not BlindTransfer"
    );
    assert_eq!(
        r.send(
            Line::User(agent),
            cf(callid, &CallFunctionCmd::Redirect("7302".to_string()))
        ),
        0
    );
    let ci = r
        .info(Line::Queue(sales), key)
        .expect("reported where it arrived");
    assert_eq!(state(&ci), State::Ringing, "Sales' agent is free");
}

#[test]
fn set_priority_reorders_the_queue() {
    let mut r = Run::new();
    let claims = r.queue("7301");
    for a in ["4201", "4202"] {
        let u = r.user(a);
        r.pbx.set_dnd(u, true);
    }
    let first = r.place("7301", "01632960001");
    r.advance(1);
    let second = r.place("7301", "01632960002");
    assert_eq!(
        r.func(
            Line::Queue(claims),
            second,
            &CallFunctionCmd::SetPriority(Priority::High)
        ),
        0
    );
    let qi = r
        .info(Line::Queue(claims), second)
        .and_then(|ci| ci.queueinfo);
    assert_eq!(qi.map(|q| q.priority), Some(3));
    // An agent comes back: the later call, now high priority, rings first.
    let agent = r.user("4201");
    r.pbx.set_dnd(agent, false);
    assert_eq!(
        r.info(Line::User(agent), second).map(|ci| state(&ci)),
        Some(State::Ringing)
    );
    assert!(r.info(Line::User(agent), first).is_none());
    assert_eq!(
        r.info(Line::Queue(claims), first).map(|ci| state(&ci)),
        Some(State::Queueing)
    );
}

#[test]
fn park_then_unpark_by_slot_with_the_reference() {
    let mut r = Run::new();
    let agent = r.user("4201");
    let sup = r.user("4100");
    let key = r.place("7301", "01632960001");
    assert_eq!(
        r.func(Line::User(agent), key, &CallFunctionCmd::AnswerCall),
        0
    );
    assert_eq!(
        r.func(
            Line::User(agent),
            key,
            &CallFunctionCmd::Park("42".to_string())
        ),
        0
    );
    let parked = r.info(Line::Park, key).expect("on the park server");
    assert_eq!(parked.parkslot, "42");
    assert!(
        r.info(Line::User(agent), key).is_none(),
        "it left the agent"
    );
    assert_eq!(
        r.info(Line::Queue(r.queue("7301")), key)
            .map(|ci| state(&ci)),
        Some(State::Onhold),
        "the group still reports it, on hold in the slot"
    );

    let unpark = |reference: i32, slot: &str| pb::UpdateCallControl {
        referencecallid: reference,
        unparkcall: Some(pb::UnParkCall {
            parkid: slot.to_string(),
        }),
        ..Default::default()
    };
    assert_eq!(r.send(Line::User(sup), unpark(31, "43")), 606, "empty slot");
    assert_eq!(r.send(Line::User(sup), unpark(31, "1234567890")), 608);
    assert_eq!(
        r.send(Line::User(sup), unpark(0, "42")),
        608,
        "no reference"
    );
    let logged_off = r.user("4205");
    assert_eq!(r.send(Line::User(logged_off), unpark(31, "42")), 600);
    assert_eq!(
        r.send(Line::Queue(r.queue("7301")), unpark(31, "42")),
        5003,
        "only from a user line"
    );
    r.changes();
    assert_eq!(r.send(Line::User(sup), unpark(31, "42")), 0);
    assert!(r.info(Line::Park, key).is_none(), "the slot is free");
    let ci = r.info(Line::User(sup), key).expect("at the supervisor");
    assert_eq!(state(&ci), State::Connected);
    assert_eq!(ci.direction, Direction::Pickup as i32);
    assert_eq!(ci.referencecallid, 31);
    let changes = r.changes();
    assert!(changes.iter().any(|c| matches!(
        c,
        Change::CallLost {
            line: Line::Park,
            ..
        }
    )));
    // The reference also finds the call for later functions.
    let by_reference = pb::UpdateCallControl {
        referencecallid: 31,
        callfunction: Some(CallFunctionCmd::HoldCall.to_pb().expect("pb")),
        ..Default::default()
    };
    assert_eq!(r.send(Line::User(sup), by_reference), 0);
    assert_eq!(
        r.info(Line::User(sup), key).map(|ci| state(&ci)),
        Some(State::Onhold)
    );
}

#[test]
fn intrude_joins_the_agents_connected_call_and_pickup_takes_a_ringing_one() {
    let mut r = Run::new();
    let (sup, agent, other) = (r.user("4100"), r.user("4201"), r.user("4202"));
    let talking = r.place("7301", "01632960001");
    assert_eq!(
        r.func(Line::User(agent), talking, &CallFunctionCmd::AnswerCall),
        0
    );
    let gcid = r.info(Line::User(agent), talking).expect("agent").gcid;

    // Intrude (106) on 4201: the supervisor is connected on the same call.
    assert_eq!(
        r.send(Line::User(sup), make_call(51, "4202", 106)),
        606,
        "4202 is not talking"
    );
    assert_eq!(r.send(Line::User(sup), make_call(51, "4999", 106)), 606);
    r.changes();
    assert_eq!(r.send(Line::User(sup), make_call(51, "4201", 106)), 0);
    let mine = r
        .info(Line::User(sup), talking)
        .expect("the supervisor's appearance");
    assert_eq!(state(&mine), State::Connected);
    assert_eq!(
        (mine.gcid.clone(), mine.referencecallid),
        (gcid.clone(), 51)
    );
    let members = |ci: &pb::CallInfo| -> Vec<String> {
        let mut m: Vec<String> = ci
            .conferencemember
            .iter()
            .filter_map(|m| m.connectedparty.as_ref().map(|p| p.number.clone()))
            .collect();
        m.sort();
        m
    };
    assert_eq!(members(&mine), vec!["01632960001", "4201"]);
    let agents = r.info(Line::User(agent), talking).expect("agent");
    assert_eq!(members(&agents), vec!["01632960001", "4100"]);
    // Every line that sees the call was told.
    let changes = r.changes();
    for line in [
        Line::User(sup),
        Line::User(agent),
        Line::Queue(r.queue("7301")),
    ] {
        assert!(
            changes.iter().any(|c| matches!(c, Change::Call { line: l, call, .. } if *l == line && *call == talking)),
            "{line:?} notified"
        );
    }
    // The supervisor leaves: the call goes on between caller and agent.
    assert_eq!(
        r.func(Line::User(sup), talking, &CallFunctionCmd::DropCall),
        0
    );
    assert!(r.info(Line::User(sup), talking).is_none());
    let agents = r.info(Line::User(agent), talking).expect("agent");
    assert_eq!(state(&agents), State::Connected);
    assert!(agents.conferencemember.is_empty());

    // Pickup (108) of the call ringing at 4202.
    let ringing = r.place("7301", "01632960002");
    assert_eq!(
        r.info(Line::User(other), ringing).map(|ci| state(&ci)),
        Some(State::Ringing)
    );
    assert_eq!(
        r.send(Line::User(sup), make_call(52, "4201", 108)),
        606,
        "4201 is not ringing"
    );
    assert_eq!(r.send(Line::User(sup), make_call(52, "4202", 108)), 0);
    assert!(
        r.info(Line::User(other), ringing).is_none(),
        "it stopped ringing there"
    );
    let picked = r.info(Line::User(sup), ringing).expect("at the supervisor");
    assert_eq!(state(&picked), State::Connected);
    assert_eq!(picked.direction, Direction::Pickup as i32);
    assert_eq!(picked.referencecallid, 52);
    let on_queue = r
        .info(Line::Queue(r.queue("7301")), ringing)
        .expect("queue");
    assert_eq!(state(&on_queue), State::Connected);
    assert_eq!(
        on_queue.connectedparty.map(|p| p.number),
        Some("4100".to_string())
    );
}

#[test]
fn make_call_checks_the_phone_and_the_request() {
    let mut r = Run::new();
    let sup = Line::User(r.user("4100"));
    let off = Line::User(r.user("4205"));
    assert_eq!(r.send(off, make_call(1, "4201", 0)), 600);
    let faulty = r.user("4203");
    r.pbx.set_extn_fault(faulty, true);
    assert_eq!(r.send(Line::User(faulty), make_call(1, "4201", 0)), 601);
    assert_eq!(r.send(sup, make_call(0, "4201", 0)), 608, "no reference");
    let mut with_callid = make_call(1, "4201", 0);
    with_callid.callid = 5;
    assert_eq!(r.send(sup, with_callid), 608);
    assert_eq!(r.send(sup, make_call(1, "4201", 107)), 608, "unknown type");
    assert_eq!(
        r.send(sup, make_call(1, "4201", 104)),
        616,
        "page calls are not simulated"
    );
    assert_eq!(
        r.send(Line::Queue(r.queue("7301")), make_call(1, "4201", 0)),
        5003
    );
    // A normal call to a colleague: ringback here, ringing there.
    assert_eq!(r.send(sup, make_call(61, "4202", 0)), 0);
    let (_, key) = r.pbx.calls_on(sup)[0];
    let mine = r.info(sup, key).expect("mine");
    assert_eq!((state(&mine), mine.referencecallid), (State::Ringback, 61));
    assert_eq!(mine.direction, Direction::Outbound as i32);
    let theirs = r.info(Line::User(r.user("4202")), key).expect("theirs");
    assert_eq!(state(&theirs), State::Ringing);
    // Up to three appearances, then 603.
    assert_eq!(r.send(sup, make_call(62, "01632960100", 0)), 0);
    assert_eq!(r.send(sup, make_call(63, "", 0)), 0, "dial tone");
    assert_eq!(r.send(sup, make_call(64, "4201", 0)), 603);
    let states: Vec<State> = r
        .pbx
        .calls_on(sup)
        .iter()
        .filter_map(|(_, k)| r.info(sup, *k))
        .map(|ci| state(&ci))
        .collect();
    assert_eq!(
        states,
        vec![State::Ringback, State::Ringback, State::Dialtone]
    );
}

#[test]
fn hold_answer_privacy_recording_and_mobile_twinning_on_a_user_line() {
    let mut r = Run::new();
    let agent = Line::User(r.user("4201"));
    let first = r.place("7301", "01632960001");
    assert_eq!(r.func(agent, first, &CallFunctionCmd::AnswerCall), 0);
    assert_eq!(
        r.func(agent, first, &CallFunctionCmd::AnswerCall),
        609,
        "answered already"
    );
    // Privacy stops recording being offered; recording is switched on and off.
    assert_eq!(r.func(agent, first, &CallFunctionCmd::CallRecordingOn), 0);
    assert_eq!(r.func(agent, first, &CallFunctionCmd::CallRecordingOff), 0);
    assert_eq!(r.func(agent, first, &CallFunctionCmd::PrivacyOn), 0);
    assert_eq!(r.func(agent, first, &CallFunctionCmd::CallRecordingOn), 609);
    assert_eq!(r.func(agent, first, &CallFunctionCmd::PrivacyOff), 0);
    // Holding, and a second call answered while the first is held.
    assert_eq!(r.func(agent, first, &CallFunctionCmd::HoldCall), 0);
    assert_eq!(r.func(agent, first, &CallFunctionCmd::HoldCall), 617);
    let queue = Line::Queue(r.queue("7301"));
    assert_eq!(
        r.info(queue, first).map(|ci| state(&ci)),
        Some(State::Onhold)
    );
    // Unholding makes the call active again.
    assert_eq!(r.func(agent, first, &CallFunctionCmd::UnHoldCall), 0);
    assert_eq!(r.func(agent, first, &CallFunctionCmd::UnHoldCall), 617);

    // PushToEC500 is offered only with mobile twinning; the call leaves the phone once the
    // mobile answers.
    let twin = r.user("4204");
    let sup = Line::User(r.user("4100"));
    assert_eq!(
        r.send(sup, make_call(9, "4204", 105)),
        0,
        "force-feed: answered at once"
    );
    let (_, key) = r.pbx.calls_on(Line::User(twin))[0];
    assert_eq!(
        r.info(Line::User(twin), key).map(|ci| state(&ci)),
        Some(State::Connected)
    );
    assert_eq!(
        r.func(Line::User(twin), key, &CallFunctionCmd::PushToEc500),
        0
    );
    assert!(
        r.info(Line::User(twin), key).is_some(),
        "still here while the mobile rings"
    );
    r.advance(5);
    assert!(
        r.info(Line::User(twin), key).is_none(),
        "answered on the mobile"
    );
    assert!(r.pbx.call_exists(key));
    assert_eq!(
        r.func(agent, first, &CallFunctionCmd::PushToEc500),
        609,
        "no twinning"
    );
}

#[test]
fn an_application_asserts_its_referencecallid_and_finds_the_call_by_it() {
    let (mut r, claims, key) = fixture(Fixture::QueueRinging);
    let callid = r.callid(claims, key);
    let assert_ref = |callid: i32, reference: i32| pb::UpdateCallControl {
        callid,
        referencecallid: reference,
        ..Default::default()
    };
    assert_eq!(r.send(claims, assert_ref(callid, 4242)), 0);
    assert_eq!(r.info(claims, key).map(|ci| ci.referencecallid), Some(4242));
    let changes = r.changes();
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Call { line, .. } if *line == claims)),
        "the new reference is notified"
    );
    let by_reference = pb::UpdateCallControl {
        referencecallid: 4242,
        callfunction: Some(
            CallFunctionCmd::SetTag("ref".to_string())
                .to_pb()
                .expect("pb"),
        ),
        ..Default::default()
    };
    assert_eq!(r.send(claims, by_reference), 0);
    assert_eq!(
        r.info(claims, key).map(|ci| ci.tag),
        Some("ref".to_string())
    );
    assert_eq!(r.send(claims, assert_ref(999, 1)), 602);
    assert_eq!(r.send(claims, assert_ref(callid, 0)), 5002, "nothing asked");
    let parked = r
        .pbx
        .park_new_call("4", Caller::new("01614960001", ""), None)
        .expect("parked");
    let park_callid = r.callid(Line::Park, parked);
    assert_eq!(r.send(Line::Park, assert_ref(park_callid, 5)), 5003);
    // Two payloads at once: 608.
    let mut both = make_call(5, "4202", 0);
    both.unparkcall = Some(pb::UnParkCall {
        parkid: "4".to_string(),
    });
    assert_eq!(r.send(Line::User(r.user("4100")), both), 608);
}
