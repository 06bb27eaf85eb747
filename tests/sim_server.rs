//! The simulator over real TLS on 127.0.0.1, spoken to by a raw websocket client: the
//! handshake's refusals, subscriptions and their Notifies, flow control, refresh and expiry,
//! the documented error codes, general commands, the park server, lines changes, feature bits,
//! and the noframing stream. The server runs on a manual clock: time moves only when a test
//! advances it, so nothing here sleeps.

mod common;

use std::time::Duration;

use common::*;
use ipo_top::protocol::bits::{CallFeatures, CcFlags};
use ipo_top::protocol::frame::Framing;
use ipo_top::protocol::pb;
use ipo_top::protocol::pb::call_info::State;
use ipo_top::protocol::pb::message::Payload as P;
use ipo_top::sim::conn::FlowControl;
use ipo_top::sim::pbx::features;
use ipo_top::sim::server::{Clock, ServerHandle};
use ipo_top::sim::site::{MailboxCounts, MemberSpec, ParkedSpec, QueueSpec, Traffic, UserSpec};
use ipo_top::sim::{Caller, Site};
use tokio_tungstenite::tungstenite;

/// Agents 4201-4203 in Claims (7301), 4203 also in Roadside (7302), a supervisor (4100), one
/// call parked in slot 3, and fixed durations: answer after 4 s, talk 200 s, callers wait 90 s.
fn site() -> Site {
    let mut users = vec![
        UserSpec::new("4100", "Oduya", "Margaret Oduya"),
        UserSpec::new("4201", "Achterberg", "Femke Achterberg"),
        UserSpec::new("4202", "Nakashima", "Kenji Nakashima"),
        UserSpec::new("4203", "Oyelaran", "Tolu Oyelaran"),
    ];
    users[3].email = "tolu.oyelaran@harbourmutual.example".to_string();
    let mut claims = QueueSpec::new(
        "7301",
        "Claims Desk",
        vec![
            MemberSpec::enabled("4201"),
            MemberSpec::disabled("4202"),
            MemberSpec::enabled("4203"),
        ],
    );
    claims.did = "03007301".to_string();
    claims.mailbox = MailboxCounts {
        new: 3,
        old: 12,
        saved: 2,
    };
    let roadside = QueueSpec::new("7302", "Roadside", vec![MemberSpec::enabled("4203")]);
    Site {
        users,
        queues: vec![claims, roadside],
        parked: vec![ParkedSpec {
            slot: "3".to_string(),
            number: "01614960000".to_string(),
            name: "Pennine Haulage".to_string(),
            hangup_after: Some(Duration::from_secs(120)),
        }],
        account_codes: vec!["1001".to_string(), "2002".to_string(), "3100".to_string()],
        traffic: Traffic {
            answer_delay: 4..=4,
            no_answer_chance: 0.0,
            talk: 200..=200,
            acw: 60..=60,
            patience: 90..=90,
            ..Traffic::quiet()
        },
        ..Site::default()
    }
}

async fn guid_of(handle: &ServerHandle, extn: &str) -> Vec<u8> {
    let extn = extn.to_string();
    handle
        .with_pbx(move |p, _| {
            p.user_by_extn(&extn)
                .and_then(|id| p.user(id))
                .map(|u| u.guid.to_vec())
        })
        .await
        .expect("server")
        .expect("user")
}

async fn queue_guid(handle: &ServerHandle, name: &str) -> Vec<u8> {
    let name = name.to_string();
    handle
        .with_pbx(move |p, _| {
            p.queue_by_name(&name)
                .and_then(|q| p.queue(q))
                .map(|q| q.guid.to_vec())
        })
        .await
        .expect("server")
        .expect("queue")
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

async fn place(handle: &ServerHandle, queue: &str, number: &str) {
    let (queue, number) = (queue.to_string(), number.to_string());
    handle
        .with_pbx(move |p, _| {
            let q = p.queue_by_name(&queue).expect("queue");
            p.place_queue_call(q, Caller::new(&number, "Harbour Freight Ltd"), 2)
                .expect("placed")
                .expect("shown");
        })
        .await
        .expect("server");
}

fn state(ci: &pb::CallInfo) -> State {
    State::try_from(ci.state).expect("state")
}

#[tokio::test]
async fn the_handshake_refuses_wrong_paths_credentials_and_subprotocols() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let status = |r: Result<_, tungstenite::Error>| match r {
        Err(tungstenite::Error::Http(resp)) => resp,
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected an HTTP refusal, got a websocket"),
    };

    let resp = status(
        open(
            &handle,
            "/tpkt/other",
            Some((USER, PASSWORD)),
            Some("openapi"),
        )
        .await,
    );
    assert_eq!(resp.status(), 404);

    for creds in [
        None,
        Some((USER, "wrong password")),
        Some(("someone", PASSWORD)),
    ] {
        let resp = status(open(&handle, "/tpkt/openapi", creds, Some("openapi")).await);
        assert_eq!(resp.status(), 401, "credentials {creds:?}");
        let challenge = resp
            .headers()
            .get("WWW-Authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
    }

    let resp = status(open(&handle, "/tpkt/openapi", Some((USER, PASSWORD)), None).await);
    assert_eq!(resp.status(), 400, "the openapi subprotocol is required");

    // With everything right, the connection is established and counted.
    let _client = connect(&handle, Framing::Framed).await;
    assert_eq!(handle.stats().await.expect("stats").connections, 1);
    handle.stop().await;
}

#[tokio::test]
async fn noframing_carries_bare_messages_and_framing_is_enforced() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let mut bare = connect(&handle, Framing::NoFraming).await;
    let r = bare.request(getversioninfo(11)).await;
    assert_eq!(r.result, 0);
    let data = bare.recv().await;
    assert!(matches!(
        data.payload,
        Some(P::Generaldata(pb::GeneralData { responseid: 11, payload: Some(pb::general_data::Payload::Versioninfo(ref v)) })) if v.starts_with("IP Office 12.2")
    ));

    // On /tpkt/openapi a message without the 00 00 00 01 header is refused: 1007 and close.
    let mut framed = connect(&handle, Framing::Framed).await;
    let without_header =
        ipo_top::protocol::frame::encode(&getversioninfo(12), Framing::NoFraming).expect("encode");
    framed.send_raw(without_header).await;
    let close = framed.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1007);
    handle.stop().await;
}

#[tokio::test]
async fn getversioninfo_and_getfile_are_answered() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let mut c = connect(&handle, Framing::Framed).await;

    assert_eq!(c.result(getversioninfo(3000)).await, 0);
    let version = c.recv().await;
    let Some(P::Generaldata(d)) = version.payload else {
        panic!("expected GeneralData, got {version:?}");
    };
    assert_eq!(d.responseid, 3000);
    assert!(
        matches!(d.payload, Some(pb::general_data::Payload::Versioninfo(ref v)) if v.starts_with("IP Office "))
    );

    assert_eq!(c.result(getfile(3001, "nasystem/AccountCode")).await, 0);
    let file = c.recv().await;
    let Some(P::Generaldata(pb::GeneralData {
        responseid: 3001,
        payload: Some(pb::general_data::Payload::Getfile(f)),
    })) = file.payload
    else {
        panic!("expected the account codes, got {file:?}");
    };
    assert_eq!(
        (f.cmdinst, f.result, f.fname.as_str()),
        (5, 0, "nasystem/AccountCode")
    );
    assert_eq!(
        String::from_utf8(f.payload).expect("utf-8"),
        "1001\n2002\n3100\n"
    );

    assert_eq!(c.result(getfile(3002, "nasystem/NoSuchFile")).await, 4);
    let missing = c.recv().await;
    assert!(matches!(
        missing.payload,
        Some(P::Generaldata(pb::GeneralData { payload: Some(pb::general_data::Payload::Getfile(ref f)), .. })) if f.result == 4
    ));
    handle.stop().await;
}

#[tokio::test]
async fn bad_requests_get_the_documented_codes() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let mut c = connect(&handle, Framing::Framed).await;

    // 100: a refresh of a subscription that does not exist.
    assert_eq!(c.result(refresh(1, 999, 3600)).await, 100);
    // 101: an end or an update naming no live subscription.
    assert_eq!(c.result(subscribe_end(2, 999)).await, 101);
    let update = msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid: 3,
        subscribe_id: 999,
        payload: Some(pb::subscribe_cmd::Payload::Timeout(60)),
    }));
    assert_eq!(c.result(update).await, 101);
    // 7: a user guid that is nobody's.
    assert_eq!(c.result(user(4, 70, &[0xAB; 16], 1, 0x99)).await, 7);
    // 4: a queue that does not exist, by name or by guid.
    assert_eq!(c.result(queue_by_name(5, 71, "Complaints", 3, 1)).await, 4);
    assert_eq!(c.result(queue_by_guid(6, 72, &[0xCD; 16], 3, 1)).await, 4);
    // 102: presence needs a timeout of at least 60 s.
    let presence = |rid, sid, timeout| {
        subscribe(
            rid,
            sid,
            timeout,
            pb::subscribe::Payload::Presence(pb::SubscribePresence {
                entry: vec![pb::Presentity {
                    presentity: "4201".to_string(),
                    lref: 1,
                }],
                flags: 0,
            }),
        )
    };
    assert_eq!(c.result(presence(7, 73, 30)).await, 102);
    assert_eq!(c.result(presence(8, 74, 0)).await, 102);
    // 101: a subscribe_id already in use; 5: a second lines subscription.
    assert_eq!(c.result(lines(9, 75, 3)).await, 0);
    assert_eq!(c.result(parkserver(10, 75, 1)).await, 101);
    assert_eq!(c.result(lines(11, 76, 3)).await, 5);
    // None of the refused subscriptions exists: ending them is 101 too.
    assert_eq!(c.result(subscribe_end(12, 70)).await, 101);
    handle.stop().await;
}

#[tokio::test]
async fn a_queue_subscribed_by_name_reports_config_then_calls() {
    let handle = start(site(), FlowControl::PerConnection).await;
    for agent in ["4201", "4203"] {
        set_dnd(&handle, agent, true).await;
    }
    place(&handle, "Claims Desk", "01632960001").await;
    let mut c = connect(&handle, Framing::Framed).await;
    let cc = (CcFlags::PRIMARY | CcFlags::TRUNK | CcFlags::QUEUEINFO | CcFlags::TARGETS).to_wire();
    assert_eq!(
        c.result(queue_by_name(1, 7500, "Claims Desk", 0x3, cc))
            .await,
        0
    );

    // First the configuration...
    let config = c.notify_acked().await;
    assert_eq!((config.subscribe_id, config.notify_id), (7500, 1));
    let Some(pb::notify::Payload::Queue(q)) = config.payload else {
        panic!("expected the queue configuration, got {config:?}");
    };
    assert_eq!(
        (q.extn.as_str(), q.name.as_str(), q.ringmode),
        ("7301", "Claims Desk", 0)
    );
    assert_eq!(q.servicemode, pb::notify_queue::ServiceMode::Active as i32);
    let members = q.queuemembers.expect("members (flags bit 1)").member;
    let members: Vec<(&str, bool)> = members
        .iter()
        .map(|m| (m.extn.as_str(), m.disabled))
        .collect();
    assert_eq!(
        members,
        vec![("4201", false), ("4202", true), ("4203", false)]
    );
    assert_eq!(q.mailbox.map(|m| m.newmessages), Some(3));

    // ...then the call already waiting, in full.
    let calls = c.notify_acked().await;
    assert_eq!(calls.notify_id, 2);
    let cc = callcontrol(&calls).expect("callcontrol");
    assert_eq!(cc.callinfo.len(), 1);
    let call = &cc.callinfo[0];
    assert_eq!(state(call), State::Queueing);
    assert_eq!(call.featuresavailable, 0x6060_E091u32 as i32);
    assert_eq!(
        call.callingparty.as_ref().map(|p| p.number.as_str()),
        Some("01632960001")
    );
    assert_eq!(
        call.trunkinfo.as_ref().map(|t| t.did.as_str()),
        Some("03007301")
    );
    assert_eq!(call.queueinfo.as_ref().map(|i| i.priority), Some(2));
    // Nobody is available, so no one is even a nominal target (DND, disabled).
    assert_eq!(call.targets.as_ref().map(|t| t.target.len()), Some(0));

    // An agent comes back: the call rings there.
    set_dnd(&handle, "4203", false).await;
    let ringing = c.notify_acked().await;
    let call = &callcontrol(&ringing).expect("callcontrol").callinfo[0];
    assert_eq!(state(call), State::Ringing);
    let targets: Vec<&str> = call
        .targets
        .iter()
        .flat_map(|t| &t.target)
        .filter_map(|t| t.partyinfo.as_ref().map(|p| p.number.as_str()))
        .collect();
    assert_eq!(targets, vec!["4203"]);
    handle.stop().await;
}

#[tokio::test]
async fn ccflags_zero_gives_no_callcontrol_and_detail_follows_ccflags() {
    let handle = start(site(), FlowControl::PerConnection).await;
    set_dnd(&handle, "4201", true).await;
    let agent = guid_of(&handle, "4203").await;
    place(&handle, "Claims Desk", "01632960002").await; // rings 4203
    let mut c = connect(&handle, Framing::Framed).await;

    // ccflags 0: the user's configuration and nothing else, even as the call goes on.
    assert_eq!(c.result(user(1, 7000, &agent, 0x1, 0)).await, 0);
    let config = c.notify_acked().await;
    let Some(pb::notify::Payload::User(u)) = config.payload else {
        panic!("expected the user configuration, got {config:?}");
    };
    assert_eq!((u.extn.as_str(), u.name.as_str()), ("4203", "Oyelaran"));
    assert!(u.mailbox.is_some(), "flags bit 0 asks for the mailbox");
    handle
        .advance(Duration::from_secs(10))
        .await
        .expect("advance"); // answered meanwhile
    assert!(c.sync().await.is_empty(), "no callcontrol without ccflags");

    // Primary data only: no trunk, queue or language detail.
    assert_eq!(c.result(user(2, 7001, &agent, 0, 0x01)).await, 0);
    c.notify_acked().await; // configuration
    let plain = c.notify_acked().await;
    let call = &callcontrol(&plain).expect("callcontrol").callinfo[0];
    assert_eq!(state(call), State::Connected);
    assert!(call.trunkinfo.is_none() && call.queueinfo.is_none() && call.calldata.is_none());
    assert!(call.targets.is_none() && call.localinfo.is_empty());

    // With 0x20, 0x40 and 0x80 they come.
    assert_eq!(c.result(user(3, 7002, &agent, 0, 0xE1)).await, 0);
    c.notify_acked().await;
    let rich = c.notify_acked().await;
    let call = &callcontrol(&rich).expect("callcontrol").callinfo[0];
    assert_eq!(
        call.trunkinfo.as_ref().map(|t| t.did.as_str()),
        Some("03007301")
    );
    assert_eq!(
        call.queueinfo.as_ref().map(|q| q.name.as_str()),
        Some("Claims Desk")
    );
    assert_eq!(
        call.calldata.as_ref().map(|d| d.language.as_str()),
        Some("eng")
    );
    assert!(
        call.targets.is_none(),
        "targets are for queue subscriptions only"
    );
    handle.stop().await;
}

#[tokio::test]
async fn no_further_notify_before_an_ack_while_responses_still_flow() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(lines(1, 5555, 0x7)).await, 0);
    assert_eq!(
        c.result(queue_by_name(2, 7500, "Claims Desk", 0, 0x01))
            .await,
        0
    );
    let first = c.notify().await;
    assert_eq!((first.subscribe_id, first.notify_id), (5555, 1));

    // Unacknowledged: calls come and go, and still only responses arrive.
    place(&handle, "Claims Desk", "01632960003").await;
    handle
        .advance(Duration::from_secs(4))
        .await
        .expect("advance"); // answered
    assert_eq!(c.result(refresh(3, 5555, 3600)).await, 0);
    let meanwhile = c.sync().await;
    assert!(meanwhile.is_empty(), "nothing but responses: {meanwhile:?}");

    // The ack releases the next Notify: the queue's configuration, then one callcontrol with
    // the call's latest snapshot only (it rang, then was answered, while held).
    c.ack(&first).await;
    let config = c.notify().await;
    assert!(matches!(
        config.payload,
        Some(pb::notify::Payload::Queue(_))
    ));
    assert!(
        c.sync().await.is_empty(),
        "held again until this one is acknowledged"
    );
    c.ack(&config).await;
    let calls = c.notify_acked().await;
    let cc = callcontrol(&calls).expect("callcontrol");
    assert_eq!(cc.callinfo.len(), 1);
    assert_eq!(state(&cc.callinfo[0]), State::Connected);
    handle.stop().await;
}

#[tokio::test]
async fn per_subscription_flow_control_holds_each_subscription_alone() {
    let handle = start(site(), FlowControl::PerSubscription).await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(lines(1, 5555, 0x3)).await, 0);
    assert_eq!(
        c.result(queue_by_name(2, 7500, "Claims Desk", 0, 0x01))
            .await,
        0
    );
    let mut got = [c.notify().await, c.notify().await];
    got.sort_by_key(|n| n.subscribe_id);
    assert_eq!((got[0].subscribe_id, got[1].subscribe_id), (5555, 7500));

    // Neither is acknowledged: a new call waits for the queue's ack, not for the lines'.
    place(&handle, "Claims Desk", "01632960004").await;
    assert!(c.sync().await.is_empty());
    c.ack(&got[1]).await;
    let calls = c.notify().await;
    assert_eq!((calls.subscribe_id, calls.notify_id), (7500, 2));
    assert!(callcontrol(&calls).is_some());
    handle.stop().await;
}

#[tokio::test]
async fn a_refresh_keeps_a_subscription_alive_and_a_missing_one_ends_it() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let mut c = connect(&handle, Framing::Framed).await;
    let with_timeout = subscribe(
        1,
        5555,
        60,
        pb::subscribe::Payload::Lines(pb::SubscribeLines { flags: 1 }),
    );
    assert_eq!(c.result(with_timeout).await, 0);
    c.notify_acked().await;

    // Refreshed at 50 s for another 60 s: still alive at 100 s.
    handle
        .advance(Duration::from_secs(50))
        .await
        .expect("advance");
    assert_eq!(c.result(refresh(2, 5555, 60)).await, 0);
    handle
        .advance(Duration::from_secs(50))
        .await
        .expect("advance");
    assert!(c.sync().await.is_empty(), "not terminated yet");

    // Not refreshed again: at 110 s it ends with SubscribeTerminated.
    handle
        .advance(Duration::from_secs(10))
        .await
        .expect("advance");
    let m = c.recv().await;
    assert!(
        matches!(
            m.payload,
            Some(P::Subscribeterminated(pb::SubscribeTerminated {
                subscribe_id: 5555,
                ..
            }))
        ),
        "expected SubscribeTerminated, got {m:?}"
    );
    assert_eq!(c.result(refresh(3, 5555, 60)).await, 100, "gone");
    assert_eq!(c.result(subscribe_end(4, 5555)).await, 101);
    handle.stop().await;
}

#[tokio::test]
async fn the_park_server_reports_parked_calls() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(parkserver(1, 8000, 0x21)).await, 0);
    let first = c.notify_acked().await;
    let cc = callcontrol(&first).expect("parked calls as callcontrol");
    assert_eq!(cc.callinfo.len(), 1);
    let parked = &cc.callinfo[0];
    assert_eq!(parked.parkslot, "3");
    assert_eq!(state(parked), State::Onhold);
    assert_eq!(parked.featuresavailable, features::PARKED.to_wire());
    assert_eq!(
        parked.callingparty.as_ref().map(|p| p.name.as_str()),
        Some("Pennine Haulage")
    );

    // Another call parks in slot 4; then the first caller gives up after 120 s.
    handle
        .with_pbx(|p, _| p.park_new_call("4", Caller::new("07700900321", ""), None))
        .await
        .expect("server")
        .expect("parked");
    let second = c.notify_acked().await;
    let info = &callcontrol(&second).expect("callcontrol").callinfo[0];
    assert_eq!(info.parkslot, "4");
    assert_ne!(info.callid, parked.callid);
    handle
        .advance(Duration::from_secs(120))
        .await
        .expect("advance");
    let gone = c.notify_acked().await;
    let lost = &callcontrol(&gone).expect("callcontrol").calllost;
    assert_eq!(lost.len(), 1);
    assert_eq!((lost[0].callid, lost[0].reason), (parked.callid, 16));

    // Only one park server subscription per connection.
    assert_eq!(c.result(parkserver(2, 8001, 1)).await, 5);
    handle.stop().await;
}

#[tokio::test]
async fn lines_changes_are_notified() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(lines(1, 5555, 0x7)).await, 0);
    let first = c.notify_acked().await;
    let Some(pb::notify::Payload::Lines(l)) = first.payload else {
        panic!("expected lines, got {first:?}");
    };
    assert_eq!(l.flags & 1, 1, "the park server can be subscribed");
    let users: Vec<&str> = l.adduser.iter().map(|u| u.extn.as_str()).collect();
    let queues: Vec<&str> = l.addqueue.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(users, vec!["4100", "4201", "4202", "4203"]);
    assert_eq!(queues, vec!["Claims Desk", "Roadside"]);
    assert!(l.adduser.iter().all(|u| u.guid.len() == 16));

    // A subscription on the user who is about to be deleted.
    let doomed = guid_of(&handle, "4202").await;
    assert_eq!(c.result(user(2, 7002, &doomed, 0, 0)).await, 0);
    c.notify_acked().await;

    let id = handle
        .with_pbx(|p, _| p.add_user(UserSpec::new("4299", "Brennan", "Siobhan Brennan")))
        .await
        .expect("server")
        .expect("added");
    let added = c.notify_acked().await;
    let Some(pb::notify::Payload::Lines(l)) = added.payload else {
        panic!("expected lines, got {added:?}");
    };
    assert_eq!(l.adduser.len(), 1);
    assert_eq!(
        (l.adduser[0].extn.as_str(), l.adduser[0].name.as_str()),
        ("4299", "Brennan")
    );

    handle
        .with_pbx(move |p, _| p.rename_user(id, "Brennan-Ross"))
        .await
        .expect("server");
    let changed = c.notify_acked().await;
    let Some(pb::notify::Payload::Lines(l)) = changed.payload else {
        panic!("expected lines, got {changed:?}");
    };
    assert_eq!(l.changeuser.len(), 1);
    assert_eq!(l.changeuser[0].name, "Brennan-Ross");

    handle
        .with_pbx(|p, _| {
            let u = p.user_by_extn("4202").expect("user");
            p.remove_user(u)
        })
        .await
        .expect("server");
    // The user's own subscription ends (SubscribeTerminated flows regardless), and the lines
    // subscription reports the deletion.
    let mut terminated = false;
    let mut deleted = Vec::new();
    while deleted.is_empty() {
        let m = c.recv().await;
        match m.payload {
            Some(P::Subscribeterminated(t)) => {
                assert_eq!(t.subscribe_id, 7002);
                terminated = true;
            }
            Some(P::Notify(n)) => {
                c.ack(&n).await;
                if let Some(pb::notify::Payload::Lines(l)) = n.payload {
                    deleted = l.deleteuser.iter().map(|u| u.extn.clone()).collect();
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(terminated);
    assert_eq!(deleted, vec!["4202".to_string()]);
    handle.stop().await;
}

#[tokio::test]
async fn feature_bits_follow_line_type_and_state_on_the_wire() {
    let handle = start(site(), FlowControl::PerSubscription).await;
    set_dnd(&handle, "4201", true).await;
    let agent = guid_of(&handle, "4203").await;
    let queue = queue_guid(&handle, "Claims Desk").await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(queue_by_guid(1, 7500, &queue, 0, 0x01)).await, 0);
    assert_eq!(c.result(user(2, 7000, &agent, 0, 0x01)).await, 0);
    // Configurations first (either order: flow control is per subscription here).
    for _ in 0..2 {
        c.notify_acked().await;
    }

    // Ringing: on the queue REDIRECT joins the queueing set; on the agent DROP ANSWER REDIRECT.
    place(&handle, "Claims Desk", "01632960005").await;
    let mut seen = Vec::new();
    handle
        .advance(Duration::from_secs(1))
        .await
        .expect("advance");
    for _ in 0..2 {
        let n = c.notify_acked().await;
        let ci = callcontrol(&n).expect("callcontrol").callinfo[0].clone();
        seen.push((
            n.subscribe_id,
            state(&ci),
            CallFeatures::from_wire(ci.featuresavailable),
        ));
    }
    handle
        .advance(Duration::from_secs(4))
        .await
        .expect("advance");
    for _ in 0..2 {
        let n = c.notify_acked().await;
        let ci = callcontrol(&n).expect("callcontrol").callinfo[0].clone();
        seen.push((
            n.subscribe_id,
            state(&ci),
            CallFeatures::from_wire(ci.featuresavailable),
        ));
    }
    seen.sort_by_key(|(sid, st, _)| (*sid, *st as i32));
    let expected = vec![
        (7000, State::Ringing, CallFeatures(0x23)),
        (7000, State::Connected, features::USER_CONNECTED),
        (7500, State::Ringing, CallFeatures(0x6060_E0B1)),
        (7500, State::Connected, features::QUEUE_CONNECTED),
    ];
    assert_eq!(seen, expected);
    for (sid, _, f) in &seen {
        if *sid == 7500 {
            assert!(!f.contains(CallFeatures::ANSWER) && !f.contains(CallFeatures::HOLD));
            assert!(f.contains(CallFeatures::PRIO) && f.contains(CallFeatures::FINISH));
        } else {
            assert!(!f.contains(CallFeatures::PRIO) && !f.contains(CallFeatures::FINISH));
        }
    }
    handle.stop().await;
}

#[tokio::test]
async fn an_ephemeral_queue_subscription_sees_calls_only_while_they_wait() {
    let handle = start(site(), FlowControl::PerConnection).await;
    set_dnd(&handle, "4201", true).await;
    let mut c = connect(&handle, Framing::Framed).await;
    let cc = (CcFlags::PRIMARY | CcFlags::EPHEMERAL).to_wire();
    assert_eq!(
        c.result(queue_by_name(1, 7500, "Claims Desk", 0, cc)).await,
        0
    );
    c.notify_acked().await;
    place(&handle, "Claims Desk", "01632960006").await;
    let ringing = c.notify_acked().await;
    let info = &callcontrol(&ringing).expect("callcontrol").callinfo[0];
    assert_eq!(state(info), State::Ringing);
    handle
        .advance(Duration::from_secs(4))
        .await
        .expect("advance");
    let answered = c.notify_acked().await;
    let cc = callcontrol(&answered).expect("callcontrol");
    assert!(cc.callinfo.is_empty());
    assert_eq!(cc.calllost.len(), 1);
    assert_eq!(cc.calllost[0].callid, info.callid);
    handle.stop().await;
}

#[tokio::test]
async fn a_dnd_update_is_applied_and_notified() {
    let handle = start(site(), FlowControl::PerConnection).await;
    let agent = guid_of(&handle, "4201").await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(user(1, 7000, &agent, 0, 0)).await, 0);
    c.notify_acked().await;
    let set_dnd = msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid: 2,
        subscribe_id: 7000,
        payload: Some(pb::subscribe_cmd::Payload::User(pb::UpdateUser {
            sac: Some(pb::UpdateUserSac { set: 1 }),
            ..Default::default()
        })),
    }));
    assert_eq!(c.result(set_dnd).await, 0);
    let n = c.notify_acked().await;
    assert!(matches!(n.payload, Some(pb::notify::Payload::User(ref u)) if u.dnd));
    // A queue update on a user subscription has no context.
    let wrong = msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid: 3,
        subscribe_id: 7000,
        payload: Some(pb::subscribe_cmd::Payload::Queue(pb::UpdateQueue::default())),
    }));
    assert_eq!(c.result(wrong).await, 5003);
    handle.stop().await;
}

#[tokio::test]
async fn the_demo_site_is_live_over_the_wire() {
    // The real clock and the demo site: calls are in progress from the first second.
    let handle = start_with(Site::demo(), FlowControl::PerConnection, Clock::Real, 10).await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(lines(1, 1, 0x7)).await, 0);
    let first = c.notify_acked().await;
    let Some(pb::notify::Payload::Lines(l)) = first.payload else {
        panic!("expected lines, got {first:?}");
    };
    assert_eq!(l.addqueue.len(), 3);
    assert_eq!(l.adduser.len(), 17);
    let mut sid = 100;
    for q in &l.addqueue {
        sid += 1;
        let sub = queue_by_guid(sid, sid, &q.guid, 0x3, 0x40079);
        assert_eq!(c.result(sub).await, 0);
    }
    // Each queue's configuration, and call snapshots for those with calls.
    let mut calls = 0;
    let mut configs = 0;
    while configs < 3 || calls == 0 {
        let n = c.notify_acked().await;
        match n.payload {
            Some(pb::notify::Payload::Queue(_)) => configs += 1,
            Some(pb::notify::Payload::Callcontrol(cc)) => calls += cc.callinfo.len(),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(calls > 0);
    handle.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let handle = start_with(site(), FlowControl::PerConnection, Clock::Manual, 1).await;
    let _first = connect(&handle, Framing::Framed).await;
    match open(
        &handle,
        "/tpkt/openapi",
        Some((USER, PASSWORD)),
        Some("openapi"),
    )
    .await
    {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 503),
        Err(e) => panic!("expected 503, got {e}"),
        Ok(_) => panic!("expected 503, got a websocket"),
    }
    handle.stop().await;
}
