//! The scripted mode and the command log: the built-in `e2e` script shows what its comments
//! say, replays identically on the model and over the wire, and every SubscribeCmd a client
//! sends is recorded with its subscription, arguments and result, to a channel or a file.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ipo_top::protocol::frame::Framing;
use ipo_top::protocol::pb;
use ipo_top::protocol::pb::call_info::State;
use ipo_top::protocol::pb::message::Payload as P;
use ipo_top::sim::conn::{CommandRecord, ConnConfig};
use ipo_top::sim::script::{Script, ScriptRunner};
use ipo_top::sim::server::{Clock, CommandLog, ServerHandle};
use ipo_top::sim::{Change, Line, Pbx};
use tokio::sync::mpsc;

/// Runs a script on the model, second by second, and returns every change with the snapshot
/// of the appearance it names.
fn run_on_model(script: &Script, secs: u64) -> Vec<(u64, Change, Option<pb::CallInfo>)> {
    let t0 = Instant::now();
    let site = script.build_site().expect("site");
    let tod = script.time_of_day().expect("time");
    let mut pbx = Pbx::new(site, script.site.seed, tod, t0).expect("pbx");
    let mut runner = ScriptRunner::new(script, t0);
    let mut out = Vec::new();
    for s in 0..=secs {
        runner.run_until(t0 + Duration::from_secs(s), &mut pbx);
        while let Some(c) = pbx.poll_change() {
            let snapshot = match &c {
                Change::Call { line, call, .. } => pbx.callinfo(*line, *call),
                _ => None,
            };
            out.push((s, c, snapshot));
        }
    }
    assert!(runner.finished() && runner.skipped().is_empty());
    out
}

#[test]
fn the_e2e_script_replays_identically_on_the_model() {
    let script = Script::e2e().expect("e2e");
    let first = run_on_model(&script, 240);
    let second = run_on_model(&script, 240);
    assert!(
        first.len() > 50,
        "the script does things: {} changes",
        first.len()
    );
    assert_eq!(first, second);
}

#[test]
fn the_e2e_script_shows_what_it_says() {
    let script = Script::e2e().expect("e2e");
    let t0 = Instant::now();
    let site = script.build_site().expect("site");
    let mut pbx = Pbx::new(site, 1, script.time_of_day().expect("time"), t0).expect("pbx");
    let mut runner = ScriptRunner::new(&script, t0);
    runner.run_until(t0 + Duration::from_secs(10), &mut pbx);
    let claims = pbx.queue_by_name("Claims Desk").expect("claims");
    let states = |pbx: &Pbx, extn: &str| -> Vec<State> {
        let u = pbx.user_by_extn(extn).expect("user");
        pbx.calls_on(Line::User(u))
            .into_iter()
            .filter_map(|(_, k)| pbx.callinfo(Line::User(u), k))
            .map(|ci| State::try_from(ci.state).expect("state"))
            .collect()
    };
    for talking in ["4102", "4103", "4106", "4107", "4110", "4100"] {
        assert_eq!(states(&pbx, talking), vec![State::Connected], "{talking}");
    }
    for ringing in ["4109", "4105"] {
        assert_eq!(states(&pbx, ringing), vec![State::Ringing], "{ringing}");
    }
    let queueing: Vec<(String, i32)> = pbx
        .calls_on(Line::Queue(claims))
        .into_iter()
        .filter_map(|(_, k)| pbx.callinfo(Line::Queue(claims), k))
        .filter(|ci| ci.state == State::Queueing as i32)
        .map(|ci| {
            let number = ci.callingparty.map(|p| p.number).unwrap_or_default();
            (number, ci.queueinfo.map(|q| q.priority).unwrap_or_default())
        })
        .collect();
    assert_eq!(
        queueing,
        vec![
            ("01632960108".to_string(), 1),
            ("01632960109".to_string(), 3)
        ]
    );
    assert_eq!(pbx.stats().parked, 1);
    // At 95 s 4102, back from after-call work, rings with the priority-3 call.
    runner.run_until(t0 + Duration::from_secs(95), &mut pbx);
    assert_eq!(states(&pbx, "4102"), vec![State::Ringing]);
    runner.run_until(t0 + Duration::from_secs(205), &mut pbx);
    assert_eq!(states(&pbx, "4108"), vec![State::Ringing]);
}

/// Subscribes to everything (lines, every user and group with full call control, the park
/// server) and returns the Notifies, acknowledged, until nothing more comes.
async fn drain(c: &mut Client, into: &mut Vec<pb::Notify>) {
    loop {
        let notifies: Vec<pb::Notify> = c.sync().await.iter().filter_map(notify).cloned().collect();
        if notifies.is_empty() {
            return;
        }
        for n in notifies {
            c.ack(&n).await;
            into.push(n);
        }
    }
}

async fn watch_everything(handle: &ServerHandle, c: &mut Client) -> Vec<pb::Notify> {
    let lines_list = handle
        .with_pbx(|p, _| {
            let users: Vec<Vec<u8>> = p.users().map(|u| u.guid.to_vec()).collect();
            let queues: Vec<Vec<u8>> = p.queues().map(|q| q.guid.to_vec()).collect();
            (users, queues)
        })
        .await
        .expect("server");
    let mut seen = Vec::new();
    assert_eq!(c.result(lines(1, 1, 7)).await, 0);
    assert_eq!(c.result(parkserver(2, 2, 0xFF)).await, 0);
    let mut sid = 100;
    for g in &lines_list.0 {
        sid += 1;
        assert_eq!(c.result(user(sid, sid, g, 0xF, 0xFF)).await, 0);
    }
    for g in &lines_list.1 {
        sid += 1;
        assert_eq!(
            c.result(queue_by_guid(sid, sid, g, 3, 0x0004_00FF)).await,
            0
        );
    }
    drain(c, &mut seen).await;
    seen
}

async fn run_over_the_wire() -> Vec<pb::Notify> {
    let script = Script::e2e().expect("e2e");
    let site = script.build_site().expect("site");
    let handle = start_full(
        site,
        ConnConfig::default(),
        Clock::Manual,
        10,
        Some(script.clone()),
        None,
        script.site.seed,
    )
    .await;
    let mut c = connect(&handle, Framing::Framed).await;
    let mut seen = watch_everything(&handle, &mut c).await;
    for _ in 0..240 {
        handle
            .advance(Duration::from_secs(1))
            .await
            .expect("advance");
        drain(&mut c, &mut seen).await;
    }
    assert_eq!(
        handle.stats().await.expect("stats").script_steps_left,
        0,
        "every step ran"
    );
    handle.stop().await;
    seen
}

#[tokio::test]
async fn the_e2e_script_replays_identically_over_the_wire() {
    let first = run_over_the_wire().await;
    let second = run_over_the_wire().await;
    let calls = first
        .iter()
        .filter(|n| matches!(n.payload, Some(pb::notify::Payload::Callcontrol(_))))
        .count();
    assert!(
        calls >= 30,
        "the calls were seen: {calls} callcontrol Notifies"
    );
    assert_eq!(first, second);
}

fn cc(subscribe_id: i32, requestid: i32, ucc: pb::UpdateCallControl) -> pb::Message {
    msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid,
        subscribe_id,
        payload: Some(pb::subscribe_cmd::Payload::Callcontrol(ucc)),
    }))
}

fn function(callid: i32, action: pb::call_function::Action, arg1: &str) -> pb::UpdateCallControl {
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

/// Starts the e2e script with a command log, 10 s in, and a client subscribed to the
/// supervisor (4100) as 7000 and to Claims Desk as 7500.
async fn e2e_with_log(log: CommandLog) -> (ServerHandle, Client, i32) {
    let script = Script::e2e().expect("e2e");
    let handle = start_full(
        script.build_site().expect("site"),
        ConnConfig::default(),
        Clock::Manual,
        10,
        Some(script),
        Some(log),
        1,
    )
    .await;
    handle
        .advance(Duration::from_secs(10))
        .await
        .expect("advance");
    let sup = handle
        .with_pbx(|p, _| {
            let u = p.user_by_extn("4100").expect("sup");
            p.user(u).map(|u| u.guid.to_vec())
        })
        .await
        .expect("server")
        .expect("guid");
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(user(1, 7000, &sup, 0, 0x99)).await, 0);
    assert_eq!(
        c.result(queue_by_name(2, 7500, "Claims Desk", 0, 0x41))
            .await,
        0
    );
    let mut seen = Vec::new();
    drain(&mut c, &mut seen).await;
    let queueing = seen
        .iter()
        .filter(|n| n.subscribe_id == 7500)
        .filter_map(callcontrol)
        .flat_map(|cc| cc.callinfo.iter())
        .find(|ci| ci.state == State::Queueing as i32)
        .map(|ci| ci.callid)
        .expect("a call queueing in Claims Desk");
    (handle, c, queueing)
}

/// The commands of the command-log tests, and what each is expected to record: (command,
/// function, argument, subscription, extn, result).
async fn send_commands(
    c: &mut Client,
    queueing: i32,
) -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i32,
)> {
    use pb::call_function::Action;
    let intrude = pb::UpdateCallControl {
        referencecallid: 7,
        makecall: Some(pb::MakeCall {
            target: "4102".to_string(),
            r#type: 106,
            advanced: None,
        }),
        ..Default::default()
    };
    assert_eq!(c.result(cc(7000, 10, intrude)).await, 0);
    assert_eq!(
        c.result(cc(
            7500,
            11,
            function(queueing, Action::BlindTransfer, "9999")
        ))
        .await,
        612
    );
    assert_eq!(
        c.result(cc(7500, 12, function(queueing, Action::SetPriority, "3")))
            .await,
        0
    );
    let dnd = msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid: 13,
        subscribe_id: 7000,
        payload: Some(pb::subscribe_cmd::Payload::User(pb::UpdateUser {
            sac: Some(pb::UpdateUserSac { set: 1 }),
            ..Default::default()
        })),
    }));
    assert_eq!(c.result(dnd).await, 0);
    assert_eq!(
        c.result(cc(9999, 14, function(1, Action::DropCall, "")))
            .await,
        101
    );
    vec![
        ("makecall", "Intrude", "4102", "user", "4100", 0),
        (
            "callfunction",
            "BlindTransfer",
            "9999",
            "queue",
            "7301",
            612,
        ),
        ("callfunction", "SetPriority", "3", "queue", "7301", 0),
        ("user", "sac", "sac=1", "user", "4100", 0),
        ("callfunction", "DropCall", "", "none", "", 101),
    ]
}

fn check_records(
    got: &[CommandRecord],
    expected: &[(&str, &str, &str, &str, &str, i32)],
    queueing: i32,
) {
    let summary: Vec<(&str, &str, &str, &str, &str, i32)> = got
        .iter()
        .map(|r| {
            (
                r.command.as_str(),
                r.function.as_str(),
                r.argument.as_str(),
                r.subscription.as_str(),
                r.extn.as_str(),
                r.result,
            )
        })
        .collect();
    assert_eq!(summary, expected);
    let transfer = &got[1];
    assert_eq!(
        (transfer.callid, transfer.subscribe_id, transfer.requestid),
        (queueing, 7500, 11)
    );
    assert_eq!(transfer.name, "Claims Desk");
    assert_eq!(transfer.result_name, "MTCTISESS_CALLCONTROL_TRANSFERFAILED");
    assert_eq!(got[0].referencecallid, 7);
    assert!(
        got.iter()
            .all(|r| r.t_ms == 10_000 && r.time.starts_with("10:00:10"))
    );
}

#[tokio::test]
async fn the_command_log_records_what_was_sent() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (handle, mut c, queueing) = e2e_with_log(CommandLog::Channel(tx)).await;
    let expected = send_commands(&mut c, queueing).await;
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        got.push(rx.recv().await.expect("a record"));
    }
    check_records(&got, &expected, queueing);
    handle.stop().await;
}

#[tokio::test]
async fn the_command_log_file_holds_one_json_line_per_command() {
    let path = std::env::temp_dir().join(format!(
        "ipo-top-sim-command-log-{}.jsonl",
        std::process::id()
    ));
    let (handle, mut c, queueing) = e2e_with_log(CommandLog::File(path.clone())).await;
    let expected = send_commands(&mut c, queueing).await;
    handle.stop().await;
    let text = std::fs::read_to_string(&path).expect("the log");
    let _ = std::fs::remove_file(&path);
    let got: Vec<CommandRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect();
    check_records(&got, &expected, queueing);
}
