//! The supervisor's call functions over real TLS, as a client sends them: intrude and pickup
//! from the supervisor's line, park then unpark by slot, a transfer to an unknown target, a
//! priority that reorders the queue, Finish seen by every client, and the lenient modes
//! (unoffered functions ignored, DropCall without effect). Each RequestResponse comes first;
//! the Notifies that follow show the real effect on every subscription that sees the call.

mod common;

use common::*;
use ipo_top::protocol::cmd::{CallFunctionCmd, MakeCallType, Priority, TransferTarget};
use ipo_top::protocol::frame::Framing;
use ipo_top::protocol::pb;
use ipo_top::protocol::pb::call_info::{Direction, State};
use ipo_top::protocol::pb::message::Payload as P;
use ipo_top::sim::conn::ConnConfig;
use ipo_top::sim::pbx::{DropCallMode, FunctionPolicy, Unoffered};
use ipo_top::sim::server::ServerHandle;
use ipo_top::sim::site::{MemberSpec, QueueSpec, RingMode, Traffic, UserSpec};
use ipo_top::sim::{Caller, Site};

/// Supervisor 4100; 4201 and 4202 in Claims (7301, sequential); 4203 in Sales (7302). Nobody
/// answers by themselves and a member rings for ten minutes.
fn site() -> Site {
    let users = vec![
        UserSpec::new("4100", "Oduya", "Margaret Oduya"),
        UserSpec::new("4201", "Achterberg", "Femke Achterberg"),
        UserSpec::new("4202", "Nakashima", "Kenji Nakashima"),
        UserSpec::new("4203", "Oyelaran", "Tolu Oyelaran"),
    ];
    let mut claims = QueueSpec::new(
        "7301",
        "Claims Desk",
        vec![MemberSpec::enabled("4201"), MemberSpec::enabled("4202")],
    );
    claims.ring_mode = RingMode::Sequential;
    claims.no_answer_time = 600;
    let mut sales = QueueSpec::new("7302", "Sales", vec![MemberSpec::enabled("4203")]);
    sales.no_answer_time = 600;
    Site {
        users,
        queues: vec![claims, sales],
        park_slots: (1..=8).map(|s| s.to_string()).collect(),
        traffic: Traffic {
            no_answer_chance: 1.0,
            talk: 3600..=3600,
            patience: 3600..=3600,
            ..Traffic::quiet()
        },
        ..Site::default()
    }
}

async fn guid(handle: &ServerHandle, extn: &str) -> Vec<u8> {
    let extn = extn.to_string();
    handle
        .with_pbx(move |p, _| {
            p.user_by_extn(&extn)
                .and_then(|u| p.user(u))
                .map(|u| u.guid.to_vec())
        })
        .await
        .expect("server")
        .expect("user")
}

async fn place(handle: &ServerHandle, queue: &str, number: &str) {
    let (queue, number) = (queue.to_string(), number.to_string());
    handle
        .with_pbx(move |p, _| {
            let q = p.queue_by_name(&queue).expect("queue");
            p.place_queue_call(q, Caller::new(&number, ""), 1)
                .expect("placed")
                .expect("shown");
        })
        .await
        .expect("server");
}

async fn set_dnd(handle: &ServerHandle, extn: &str, on: bool) {
    let extn = extn.to_string();
    handle
        .with_pbx(move |p, _| {
            let u = p.user_by_extn(&extn).expect("user");
            p.set_dnd(u, on);
        })
        .await
        .expect("server");
}

fn state(ci: &pb::CallInfo) -> State {
    State::try_from(ci.state).expect("state")
}

/// Every CallInfo of the Notifies that arrive until the server has nothing more to say (each
/// Notify acknowledged), with the subscription that carried it.
async fn settle(c: &mut Client) -> Vec<(i32, pb::CallInfo)> {
    let mut out = Vec::new();
    loop {
        let notifies: Vec<pb::Notify> = c.sync().await.iter().filter_map(notify).cloned().collect();
        if notifies.is_empty() {
            return out;
        }
        for n in notifies {
            c.ack(&n).await;
            if let Some(cc) = callcontrol(&n) {
                out.extend(cc.callinfo.iter().map(|ci| (n.subscribe_id, ci.clone())));
            }
        }
    }
}

/// Every CallLost likewise.
async fn settle_lost(c: &mut Client) -> Vec<(i32, pb::CallLost)> {
    let mut out = Vec::new();
    loop {
        let notifies: Vec<pb::Notify> = c.sync().await.iter().filter_map(notify).cloned().collect();
        if notifies.is_empty() {
            return out;
        }
        for n in notifies {
            c.ack(&n).await;
            if let Some(cc) = callcontrol(&n) {
                out.extend(cc.calllost.iter().map(|l| (n.subscribe_id, l.clone())));
            }
        }
    }
}

fn last_on(seen: &[(i32, pb::CallInfo)], sid: i32) -> Option<pb::CallInfo> {
    seen.iter()
        .rev()
        .find(|(s, _)| *s == sid)
        .map(|(_, ci)| ci.clone())
}

fn func(sid: i32, rid: i32, callid: i32, cmd: &CallFunctionCmd) -> pb::Message {
    ipo_top::protocol::msg::call_function(rid, sid, callid, cmd).expect("a valid function")
}

const SUP: i32 = 7000;
const AGENT: i32 = 7001;
const OTHER: i32 = 7002;
const CLAIMS: i32 = 7500;
const PARK: i32 = 7900;

/// A client subscribed to the supervisor, 4201, 4202 (full call control), Claims Desk and the
/// park server.
async fn supervisor(handle: &ServerHandle) -> Client {
    let mut c = connect(handle, Framing::Framed).await;
    for (sid, extn) in [(SUP, "4100"), (AGENT, "4201"), (OTHER, "4202")] {
        let g = guid(handle, extn).await;
        assert_eq!(c.result(user(sid, sid, &g, 0, 0xFF)).await, 0);
    }
    assert_eq!(
        c.result(queue_by_name(CLAIMS, CLAIMS, "Claims Desk", 0, 0x0004_00FF))
            .await,
        0
    );
    assert_eq!(c.result(parkserver(PARK, PARK, 0xFF)).await, 0);
    settle(&mut c).await;
    c
}

#[tokio::test]
async fn intrude_and_pickup_from_the_supervisors_line() {
    let handle = start_conn(site(), ConnConfig::default()).await;
    let mut c = supervisor(&handle).await;
    place(&handle, "Claims Desk", "01632960001").await; // rings 4201
    let seen = settle(&mut c).await;
    let ringing = last_on(&seen, AGENT).expect("ringing at 4201");
    assert_eq!(
        c.result(func(
            AGENT,
            20,
            ringing.callid,
            &CallFunctionCmd::AnswerCall
        ))
        .await,
        0
    );
    let seen = settle(&mut c).await;
    let talking = last_on(&seen, AGENT).expect("4201");
    assert_eq!(state(&talking), State::Connected);

    // Intrude: the supervisor joins 4201's call.
    let intrude = ipo_top::protocol::msg::make_call(21, SUP, 81, "4201", MakeCallType::Intrude)
        .expect("makecall");
    assert_eq!(c.result(intrude).await, 0);
    let seen = settle(&mut c).await;
    let mine = last_on(&seen, SUP).expect("the supervisor's appearance");
    assert_eq!(state(&mine), State::Connected);
    assert_eq!(
        (mine.referencecallid, mine.gcid.clone()),
        (81, talking.gcid.clone())
    );
    assert_eq!(mine.conferencemember.len(), 2, "the caller and the agent");
    let agents = last_on(&seen, AGENT).expect("4201 is told");
    assert_eq!(
        agents.conferencemember.len(),
        2,
        "the caller and the supervisor"
    );
    let queue = last_on(&seen, CLAIMS).expect("Claims Desk is told");
    assert_eq!(queue.conferencemember.len(), 2, "both users");

    // The supervisor leaves, then picks up a call ringing at 4202.
    assert_eq!(
        c.result(func(SUP, 22, mine.callid, &CallFunctionCmd::DropCall))
            .await,
        0
    );
    place(&handle, "Claims Desk", "01632960002").await; // rings 4202
    let seen = settle(&mut c).await;
    assert!(
        last_on(&seen, AGENT).is_some_and(|ci| ci.conferencemember.is_empty()),
        "4201 is back to a two-party call"
    );
    let ringing = last_on(&seen, OTHER).expect("ringing at 4202");
    assert_eq!(state(&ringing), State::Ringing);
    let pickup = ipo_top::protocol::msg::make_call(23, SUP, 82, "4202", MakeCallType::Pickup)
        .expect("makecall");
    assert_eq!(c.result(pickup).await, 0);
    let seen = settle(&mut c).await;
    let picked = last_on(&seen, SUP).expect("at the supervisor");
    assert_eq!(state(&picked), State::Connected);
    assert_eq!(picked.direction, Direction::Pickup as i32);
    assert_eq!(picked.referencecallid, 82);
    assert_eq!(picked.gcid, ringing.gcid);
    assert!(
        last_on(&seen, OTHER).is_none(),
        "4202's appearance ended (its CallLost, not a CallInfo)"
    );
    handle.stop().await;
}

#[tokio::test]
async fn park_then_unpark_by_slot() {
    let handle = start_conn(site(), ConnConfig::default()).await;
    let mut c = supervisor(&handle).await;
    place(&handle, "Claims Desk", "01632960001").await;
    let seen = settle(&mut c).await;
    let queued = last_on(&seen, CLAIMS).expect("on the queue");
    assert_eq!(
        c.result(func(
            CLAIMS,
            30,
            queued.callid,
            &CallFunctionCmd::Park("5".to_string())
        ))
        .await,
        0
    );
    let seen = settle(&mut c).await;
    let parked = last_on(&seen, PARK).expect("on the park server");
    assert_eq!(parked.parkslot, "5");
    assert_eq!(
        state(&last_on(&seen, CLAIMS).expect("queue")),
        State::Onhold
    );

    // A second call cannot take the same slot.
    place(&handle, "Claims Desk", "01632960002").await;
    let seen = settle(&mut c).await;
    let other = last_on(&seen, CLAIMS).expect("the second call");
    assert_eq!(
        c.result(func(
            CLAIMS,
            31,
            other.callid,
            &CallFunctionCmd::Park("5".to_string())
        ))
        .await,
        613
    );

    let unpark =
        |rid, slot: &str| ipo_top::protocol::msg::unpark_call(rid, SUP, 91, slot).expect("unpark");
    assert_eq!(c.result(unpark(32, "6")).await, 606, "nothing in slot 6");
    assert_eq!(c.result(unpark(33, "5")).await, 0);
    let mut calls = Vec::new();
    let mut lost = Vec::new();
    loop {
        let notifies: Vec<pb::Notify> = c.sync().await.iter().filter_map(notify).cloned().collect();
        if notifies.is_empty() {
            break;
        }
        for n in notifies {
            c.ack(&n).await;
            if let Some(cc) = callcontrol(&n) {
                calls.extend(cc.callinfo.iter().map(|ci| (n.subscribe_id, ci.clone())));
                lost.extend(cc.calllost.iter().map(|l| (n.subscribe_id, l.callid)));
            }
        }
    }
    let mine = last_on(&calls, SUP).expect("at the supervisor");
    assert_eq!(
        (state(&mine), mine.direction, mine.referencecallid),
        (State::Connected, Direction::Pickup as i32, 91)
    );
    assert_eq!(mine.gcid, parked.gcid);
    assert_eq!(lost, vec![(PARK, parked.callid)], "the slot is free again");
    assert_eq!(
        last_on(&calls, CLAIMS).map(|ci| state(&ci)),
        Some(State::Connected),
        "the queue reports it answered by the supervisor"
    );
    handle.stop().await;
}

#[tokio::test]
async fn a_transfer_to_an_unknown_target_fails_and_the_call_stays() {
    let handle = start_conn(site(), ConnConfig::default()).await;
    let mut c = supervisor(&handle).await;
    place(&handle, "Claims Desk", "01632960001").await;
    let seen = settle(&mut c).await;
    let call = last_on(&seen, CLAIMS).expect("on the queue");
    for target in ["9999", "/102/", "0"] {
        let cmd = CallFunctionCmd::BlindTransfer(TransferTarget::parse(target));
        assert_eq!(
            c.result(func(CLAIMS, 40, call.callid, &cmd)).await,
            612,
            "{target}"
        );
    }
    assert!(settle(&mut c).await.is_empty(), "nothing changed");
    // A real target works: Sales' agent rings, Claims keeps reporting the call.
    let to_sales = CallFunctionCmd::BlindTransfer(TransferTarget::destination("7302"));
    assert_eq!(c.result(func(CLAIMS, 41, call.callid, &to_sales)).await, 0);
    let seen = settle(&mut c).await;
    let reported = last_on(&seen, CLAIMS).expect("still on Claims Desk");
    assert_eq!(state(&reported), State::Ringing);
    let target = reported.targets.expect("targets").target;
    assert_eq!(
        target
            .iter()
            .filter_map(|t| t.partyinfo.as_ref())
            .map(|p| p.number.as_str())
            .collect::<Vec<_>>(),
        vec!["4203"]
    );
    assert_eq!(
        reported.queueinfo.map(|q| q.overflow_number),
        Some("7302".to_string())
    );
    handle.stop().await;
}

#[tokio::test]
async fn set_priority_reorders_the_queue() {
    let handle = start_conn(site(), ConnConfig::default()).await;
    for a in ["4201", "4202"] {
        set_dnd(&handle, a, true).await;
    }
    let mut c = supervisor(&handle).await;
    place(&handle, "Claims Desk", "01632960001").await;
    place(&handle, "Claims Desk", "01632960002").await;
    let seen = settle(&mut c).await;
    let later = seen
        .iter()
        .filter(|(s, _)| *s == CLAIMS)
        .map(|(_, ci)| ci.clone())
        .find(|ci| {
            ci.callingparty
                .as_ref()
                .is_some_and(|p| p.number == "01632960002")
        })
        .expect("the later call");
    assert_eq!(
        c.result(func(
            CLAIMS,
            50,
            later.callid,
            &CallFunctionCmd::SetPriority(Priority::High)
        ))
        .await,
        0
    );
    let seen = settle(&mut c).await;
    let now = last_on(&seen, CLAIMS).expect("a Notify shows the new priority");
    assert_eq!(now.callid, later.callid);
    assert_eq!(now.queueinfo.map(|q| q.priority), Some(3));
    // SetPriority is for queue lines only, and only "1".."3".
    let bad = ipo_top::protocol::pb::UpdateCallControl {
        callid: later.callid,
        callfunction: Some(pb::CallFunction {
            action: pb::call_function::Action::SetPriority as i32,
            arg1: "4".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let bad = msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid: 51,
        subscribe_id: CLAIMS,
        payload: Some(pb::subscribe_cmd::Payload::Callcontrol(bad)),
    }));
    assert_eq!(c.result(bad).await, 608);

    set_dnd(&handle, "4201", false).await;
    let seen = settle(&mut c).await;
    let rings = last_on(&seen, AGENT).expect("4201 rings");
    assert_eq!(
        rings.callingparty.map(|p| p.number),
        Some("01632960002".to_string()),
        "the high-priority call first"
    );
    handle.stop().await;
}

#[tokio::test]
async fn finish_stops_the_reporting_for_every_client() {
    let handle = start_conn(site(), ConnConfig::default()).await;
    let mut a = supervisor(&handle).await;
    let mut b = connect(&handle, Framing::Framed).await;
    assert_eq!(
        b.result(queue_by_name(1, 8500, "Claims Desk", 0, 1)).await,
        0
    );
    settle(&mut b).await;
    place(&handle, "Claims Desk", "01632960001").await;
    let seen = settle(&mut a).await;
    settle(&mut b).await;
    let call = last_on(&seen, CLAIMS).expect("on the queue");
    assert_eq!(
        a.result(func(
            CLAIMS,
            60,
            call.callid,
            &CallFunctionCmd::Finish { immediate: false }
        ))
        .await,
        0
    );
    let lost_a = settle_lost(&mut a).await;
    let lost_b = settle_lost(&mut b).await;
    assert_eq!(
        lost_a,
        vec![(
            CLAIMS,
            pb::CallLost {
                callid: call.callid,
                reason: 16,
                ..Default::default()
            }
        )]
    );
    assert_eq!(lost_b.len(), 1, "the other client is told too");
    assert_eq!(lost_b[0].0, 8500);
    // The call goes on: 4201 still sees it ringing.
    let agent = guid(&handle, "4201").await;
    assert_eq!(b.result(user(2, 8501, &agent, 0, 1)).await, 0);
    let seen = settle(&mut b).await;
    assert_eq!(
        last_on(&seen, 8501).map(|ci| state(&ci)),
        Some(State::Ringing)
    );
    handle.stop().await;
}

#[tokio::test]
async fn the_lenient_modes_answer_success_and_only_notifies_tell_the_truth() {
    let handle = start_conn(
        site(),
        ConnConfig {
            functions: FunctionPolicy {
                unoffered: Unoffered::Ignore,
                drop_call: DropCallMode::NoEffect,
            },
            ..ConnConfig::default()
        },
    )
    .await;
    let mut c = supervisor(&handle).await;
    place(&handle, "Claims Desk", "01632960001").await;
    let seen = settle(&mut c).await;
    let call = last_on(&seen, CLAIMS).expect("on the queue");
    // AnswerCall is not for queue lines: ignored. DropCall: SUCCESS, and the call stays.
    assert_eq!(
        c.result(func(CLAIMS, 70, call.callid, &CallFunctionCmd::AnswerCall))
            .await,
        0
    );
    assert_eq!(
        c.result(func(CLAIMS, 71, call.callid, &CallFunctionCmd::DropCall))
            .await,
        0
    );
    assert!(
        settle(&mut c).await.is_empty(),
        "no Notify: nothing happened"
    );
    assert!(settle_lost(&mut c).await.is_empty());
    // The errors that are not about availability are still given.
    assert_eq!(
        c.result(func(CLAIMS, 72, 999, &CallFunctionCmd::DropCall))
            .await,
        4
    );
    handle.stop().await;
}

fn update_queue(rid: i32, sid: i32, uq: pb::UpdateQueue) -> pb::Message {
    msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid: rid,
        subscribe_id: sid,
        payload: Some(pb::subscribe_cmd::Payload::Queue(uq)),
    }))
}

fn update_user(rid: i32, sid: i32, uu: pb::UpdateUser) -> pb::Message {
    msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid: rid,
        subscribe_id: sid,
        payload: Some(pb::subscribe_cmd::Payload::User(uu)),
    }))
}

/// The last queue configuration Notify until the server has nothing more to say.
async fn queue_config(c: &mut Client) -> pb::NotifyQueue {
    let mut last = None;
    loop {
        let notifies: Vec<pb::Notify> = c.sync().await.iter().filter_map(notify).cloned().collect();
        if notifies.is_empty() {
            return last.expect("a queue Notify");
        }
        for n in notifies {
            c.ack(&n).await;
            if let Some(pb::notify::Payload::Queue(q)) = n.payload {
                last = Some(q);
            }
        }
    }
}

#[tokio::test]
async fn update_queue_sets_the_service_mode_and_adds_disables_and_deletes_members() {
    let handle = start_conn(site(), ConnConfig::default()).await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(
        c.result(queue_by_name(1, 7500, "Claims Desk", 3, 0)).await,
        0
    );
    queue_config(&mut c).await;
    let member = |extn: &str, disabled: bool| pb::QueueMember {
        extn: extn.to_string(),
        disabled,
    };
    let members = |q: &pb::NotifyQueue| -> Vec<(String, bool)> {
        q.queuemembers
            .iter()
            .flat_map(|m| &m.member)
            .map(|m| (m.extn.clone(), m.disabled))
            .collect()
    };

    let ns = pb::UpdateQueue {
        setservicemode: Some(pb::SetServiceMode {
            servicemode: pb::set_service_mode::ServiceMode::Ns as i32,
        }),
        ..Default::default()
    };
    assert_eq!(c.result(update_queue(2, 7500, ns)).await, 0);
    let q = queue_config(&mut c).await;
    assert_eq!(q.servicemode, pb::notify_queue::ServiceMode::Ns as i32);

    let change = pb::UpdateQueue {
        addmember: vec![member("4203", false), member("4201", true)],
        deletemember: vec![member("4202", false)],
        ..Default::default()
    };
    assert_eq!(c.result(update_queue(3, 7500, change)).await, 0);
    let q = queue_config(&mut c).await;
    assert_eq!(
        members(&q),
        vec![("4201".to_string(), true), ("4203".to_string(), false)],
        "4201 disabled, 4202 gone, 4203 added"
    );

    // A member who is no user: nothing applied. Service mode Unset: refused.
    let unknown = pb::UpdateQueue {
        addmember: vec![member("4999", false)],
        ..Default::default()
    };
    assert_eq!(c.result(update_queue(4, 7500, unknown)).await, 7);
    let unset = pb::UpdateQueue {
        setservicemode: Some(pb::SetServiceMode { servicemode: 0 }),
        ..Default::default()
    };
    assert_eq!(c.result(update_queue(5, 7500, unset)).await, 5002);
    assert!(c.sync().await.is_empty(), "nothing changed");
    handle.stop().await;
}

#[tokio::test]
async fn update_user_sets_dnd_and_absence() {
    let handle = start_conn(site(), ConnConfig::default()).await;
    let agent = guid(&handle, "4201").await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(user(1, 7001, &agent, 0x08, 0)).await, 0);
    c.notify_acked().await;
    let dnd_and_absence = pb::UpdateUser {
        sac: Some(pb::UpdateUserSac { set: 1 }),
        absence: Some(pb::UpdateUserAbsence {
            set: 1,
            absence: Some(pb::Absence {
                msg: 3,
                str: "14:00".to_string(),
            }),
        }),
        ..Default::default()
    };
    assert_eq!(c.result(update_user(2, 7001, dnd_and_absence)).await, 0);
    // Both changes in one user Notify: it is a snapshot of the configuration.
    let n = c.notify_acked().await;
    let last = match n.payload {
        Some(pb::notify::Payload::User(u)) => Some(u),
        _ => None,
    };
    let u = last.expect("a user Notify");
    assert!(u.dnd);
    assert_eq!(
        u.absence.map(|a| (a.msg, a.str)),
        Some((3, "14:00".to_string()))
    );
    // DND keeps the agent from the group's calls.
    place(&handle, "Claims Desk", "01632960001").await;
    let ringing_at_agent = handle
        .with_pbx(|p, _| {
            let u = p.user_by_extn("4201").expect("user");
            p.calls_on(ipo_top::sim::Line::User(u)).len()
        })
        .await
        .expect("server");
    assert_eq!(ringing_at_agent, 0);
    handle.stop().await;
}
