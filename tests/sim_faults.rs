//! Faults, each observed from a raw client over real TLS: closing and aborting connections,
//! frames that are not MTCTI3, subscriptions terminated, requests never answered, responses
//! delayed, latency, TOOMANY above N outstanding requests, a restart, and the HTTP answers to
//! requests that are no websocket upgrade. The server runs on a manual clock, so time moves only
//! when a test advances it; `frames_received` tells a test that a request has arrived.

mod common;

use std::time::Duration;

use common::*;
use ipo_top::protocol::frame::{self, FrameError, Framing};
use ipo_top::protocol::pb;
use ipo_top::protocol::pb::message::Payload as P;
use ipo_top::sim::conn::{ConnConfig, FaultSettings, FlowControl};
use ipo_top::sim::server::{Fault, ServerHandle};
use ipo_top::sim::site::{MemberSpec, QueueSpec, Traffic, UserSpec};
use ipo_top::sim::{Caller, Site};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A supervisor and two agents in Claims (7301); agents answer after 4 s and talk 200 s.
fn site() -> Site {
    let users = vec![
        UserSpec::new("4100", "Oduya", "Margaret Oduya"),
        UserSpec::new("4201", "Achterberg", "Femke Achterberg"),
        UserSpec::new("4202", "Nakashima", "Kenji Nakashima"),
    ];
    let claims = QueueSpec::new(
        "7301",
        "Claims Desk",
        vec![MemberSpec::enabled("4201"), MemberSpec::enabled("4202")],
    );
    Site {
        users,
        queues: vec![claims],
        traffic: Traffic {
            answer_delay: 4..=4,
            no_answer_chance: 0.0,
            talk: 200..=200,
            patience: 900..=900,
            ..Traffic::quiet()
        },
        ..Site::default()
    }
}

async fn start_site() -> ServerHandle {
    start(site(), FlowControl::PerConnection).await
}

async fn place(handle: &ServerHandle, number: &str) {
    let number = number.to_string();
    handle
        .with_pbx(move |p, _| {
            let q = p.queue_by_name("Claims Desk").expect("queue");
            p.place_queue_call(q, Caller::new(&number, ""), 1)
                .expect("placed")
                .expect("shown");
        })
        .await
        .expect("server");
}

async fn user_guid(handle: &ServerHandle, extn: &str) -> Vec<u8> {
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

fn sac(requestid: i32, subscribe_id: i32, on: bool) -> pb::Message {
    msg(P::Subscribecmd(pb::SubscribeCmd {
        requestid,
        subscribe_id,
        payload: Some(pb::subscribe_cmd::Payload::User(pb::UpdateUser {
            sac: Some(pb::UpdateUserSac { set: i32::from(on) }),
            ..Default::default()
        })),
    }))
}

#[tokio::test]
async fn close_sends_a_close_frame_and_abort_drops_without_one() {
    let handle = start_site().await;
    let mut framed = connect(&handle, Framing::Framed).await;
    let mut bare = connect(&handle, Framing::NoFraming).await;
    assert_eq!(framed.result(lines(1, 5555, 3)).await, 0);
    assert_eq!(bare.result(getversioninfo(2)).await, 0);
    assert_eq!(handle.fault(Fault::Close).await.expect("fault"), 2);
    for c in [&mut framed, &mut bare] {
        match c.ended().await {
            Ending::Closed(Some(f)) => assert_eq!(u16::from(f.code), 1001),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(lines(1, 5555, 3)).await, 0);
    assert_eq!(handle.fault(Fault::Abort).await.expect("fault"), 1);
    match c.ended().await {
        Ending::Dropped(_) => {}
        Ending::Closed(f) => panic!("an abort sends no close frame, got {f:?}"),
    }
    assert_eq!(handle.stats().await.expect("stats").connections, 0);
    handle.stop().await;
}

#[tokio::test]
async fn malformed_frames_and_undecodable_payloads_reach_the_client() {
    let handle = start_site().await;
    let mut framed = connect(&handle, Framing::Framed).await;
    let mut bare = connect(&handle, Framing::NoFraming).await;
    assert_eq!(framed.result(getversioninfo(1)).await, 0);
    assert_eq!(bare.result(getversioninfo(2)).await, 0);
    framed.recv().await; // the GeneralData
    bare.recv().await;

    assert_eq!(handle.fault(Fault::MalformedFrame).await.expect("fault"), 2);
    let WsMessage::Binary(bytes) = framed.recv_ws().await else {
        panic!("a binary frame on the framed path");
    };
    assert_eq!(bytes.get(..4), Some(&[0, 0, 0, 2][..]));
    assert!(matches!(
        frame::decode(&bytes, Framing::Framed),
        Err(FrameError::BadHeader(_))
    ));
    assert!(
        matches!(bare.recv_ws().await, WsMessage::Text(_)),
        "a text frame where MTCTI3 is binary"
    );

    assert_eq!(
        handle
            .fault(Fault::UndecodablePayload)
            .await
            .expect("fault"),
        2
    );
    for c in [&mut framed, &mut bare] {
        let framing = c.framing();
        let WsMessage::Binary(bytes) = c.recv_ws().await else {
            panic!("a binary frame");
        };
        assert!(
            matches!(
                frame::decode(&bytes, framing),
                Err(FrameError::Undecodable(_))
            ),
            "{framing:?}: the framing is right, the payload is no Message"
        );
    }
    // The connections go on.
    assert_eq!(framed.result(getversioninfo(3)).await, 0);
    assert_eq!(bare.result(getversioninfo(4)).await, 0);
    handle.stop().await;
}

#[tokio::test]
async fn every_subscription_can_be_terminated() {
    let handle = start_site().await;
    let agent = user_guid(&handle, "4201").await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(lines(1, 5555, 3)).await, 0);
    assert_eq!(c.result(user(2, 7000, &agent, 1, 0x99)).await, 0);
    for _ in 0..2 {
        c.notify_acked().await;
    }
    assert_eq!(
        handle
            .fault(Fault::TerminateSubscriptions)
            .await
            .expect("fault"),
        2
    );
    let mut ended = Vec::new();
    for _ in 0..2 {
        match c.recv().await.payload {
            Some(P::Subscribeterminated(t)) => ended.push(t.subscribe_id),
            other => panic!("expected SubscribeTerminated, got {other:?}"),
        }
    }
    ended.sort_unstable();
    assert_eq!(ended, vec![5555, 7000]);
    assert_eq!(c.result(refresh(3, 5555, 60)).await, 100, "gone");
    handle.stop().await;
}

#[tokio::test]
async fn a_request_left_unanswered_is_still_carried_out() {
    let handle = start_site().await;
    let agent = user_guid(&handle, "4201").await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(user(1, 7000, &agent, 0, 0)).await, 0);
    c.notify_acked().await;
    let frames = handle.stats().await.expect("stats").frames_received;

    handle
        .set_faults(FaultSettings {
            unanswered_every: 1,
            ..FaultSettings::default()
        })
        .await
        .expect("faults");
    c.send(sac(2, 7000, true)).await;
    handle.frames_received(frames + 1).await.expect("arrived");
    // No answer, but the DND is set: the Notify shows it.
    let n = c.notify_acked().await;
    assert!(matches!(n.payload, Some(pb::notify::Payload::User(ref u)) if u.dnd));
    assert_eq!(handle.stats().await.expect("stats").unanswered, 1);

    handle
        .set_faults(FaultSettings::default())
        .await
        .expect("faults");
    let r = c.request(sac(3, 7000, false)).await;
    assert_eq!((r.requestid, r.result), (3, 0));
    let before = c.sync().await;
    assert!(
        before
            .iter()
            .all(|m| response(m).is_none_or(|r| r.requestid != 2)),
        "request 2 was never answered: {before:?}"
    );
    handle.stop().await;
}

#[tokio::test]
async fn delayed_responses_come_after_the_notifies_that_show_the_effect() {
    let handle = start_site().await;
    let agent = user_guid(&handle, "4201").await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(user(1, 7000, &agent, 0, 0)).await, 0);
    c.notify_acked().await;
    let frames = handle.stats().await.expect("stats").frames_received;
    handle
        .set_faults(FaultSettings {
            response_delay: Duration::from_secs(5),
            ..FaultSettings::default()
        })
        .await
        .expect("faults");

    c.send(sac(2, 7000, true)).await;
    handle.frames_received(frames + 1).await.expect("arrived");
    let n = c.notify_acked().await;
    assert!(matches!(n.payload, Some(pb::notify::Payload::User(ref u)) if u.dnd));
    handle
        .advance(Duration::from_secs(4))
        .await
        .expect("advance");
    assert_eq!(
        handle.stats().await.expect("stats").held,
        1,
        "still held at 4 s"
    );
    handle
        .advance(Duration::from_secs(1))
        .await
        .expect("advance");
    let m = c.recv().await;
    assert_eq!(response(&m).map(|r| (r.requestid, r.result)), Some((2, 0)));
    handle.stop().await;
}

#[tokio::test]
async fn latency_holds_everything_in_order() {
    let handle = start_site().await;
    let mut c = connect(&handle, Framing::Framed).await;
    let frames = handle.stats().await.expect("stats").frames_received;
    handle
        .set_faults(FaultSettings {
            latency: Duration::from_secs(3),
            ..FaultSettings::default()
        })
        .await
        .expect("faults");
    c.send(getversioninfo(30)).await;
    handle.frames_received(frames + 1).await.expect("arrived");
    assert_eq!(
        handle.stats().await.expect("stats").held,
        2,
        "the response and its data"
    );
    handle
        .advance(Duration::from_secs(2))
        .await
        .expect("advance");
    assert_eq!(handle.stats().await.expect("stats").held, 2);
    handle
        .advance(Duration::from_secs(1))
        .await
        .expect("advance");
    let first = c.recv().await;
    assert_eq!(response(&first).map(|r| r.requestid), Some(30));
    assert!(matches!(c.recv().await.payload, Some(P::Generaldata(_))));
    handle.stop().await;
}

#[tokio::test]
async fn above_n_outstanding_requests_the_next_is_refused_with_toomany() {
    let handle = start_site().await;
    let mut c = connect(&handle, Framing::Framed).await;
    let frames = handle.stats().await.expect("stats").frames_received;
    handle
        .set_faults(FaultSettings {
            response_delay: Duration::from_secs(10),
            max_outstanding: Some(2),
            ..FaultSettings::default()
        })
        .await
        .expect("faults");
    for rid in [41, 42, 43] {
        c.send(getversioninfo(rid)).await;
    }
    handle.frames_received(frames + 3).await.expect("arrived");
    // The third is refused at once, ahead of the two delayed answers.
    let m = c.recv().await;
    assert_eq!(response(&m).map(|r| (r.requestid, r.result)), Some((43, 5)));
    assert_eq!(handle.stats().await.expect("stats").held, 2);
    handle
        .advance(Duration::from_secs(10))
        .await
        .expect("advance");
    let mut answers = Vec::new();
    for _ in 0..4 {
        let m = c.recv().await;
        if let Some(r) = response(&m) {
            answers.push((r.requestid, r.result));
        }
    }
    assert_eq!(answers, vec![(41, 0), (42, 0)]);
    // With the answers out, requests are taken again.
    c.send(getversioninfo(44)).await;
    handle.frames_received(frames + 4).await.expect("arrived");
    handle
        .advance(Duration::from_secs(10))
        .await
        .expect("advance");
    let m = c.recv().await;
    assert_eq!(response(&m).map(|r| (r.requestid, r.result)), Some((44, 0)));
    handle.stop().await;
}

#[tokio::test]
async fn a_restart_drops_everything_but_the_guids_and_gcids_start_again() {
    let handle = start_site().await;
    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(lines(1, 5555, 3)).await, 0);
    let Some(pb::notify::Payload::Lines(before)) = c.notify_acked().await.payload else {
        panic!("the lines");
    };
    assert_eq!(
        c.result(queue_by_name(2, 7500, "Claims Desk", 0, 1)).await,
        0
    );
    c.notify_acked().await; // configuration
    place(&handle, "01632960001").await;
    let first = callcontrol(&c.notify_acked().await).expect("cc").callinfo[0].clone();

    assert_eq!(handle.fault(Fault::Restart).await.expect("restart"), 1);
    assert!(
        matches!(c.ended().await, Ending::Dropped(_)),
        "a reboot sends no close frame"
    );
    let s = handle.stats().await.expect("stats");
    assert_eq!((s.site.calls, s.site.talking, s.connections), (0, 0, 0));

    let mut c = connect(&handle, Framing::Framed).await;
    assert_eq!(c.result(lines(1, 5555, 3)).await, 0);
    let Some(pb::notify::Payload::Lines(after)) = c.notify_acked().await.payload else {
        panic!("the lines");
    };
    assert_eq!(after.adduser, before.adduser, "users and their guids stay");
    assert_eq!(after.addqueue, before.addqueue);
    assert_eq!(
        c.result(queue_by_name(2, 7500, "Claims Desk", 0, 1)).await,
        0
    );
    c.notify_acked().await;
    assert!(c.sync().await.is_empty(), "no call survived");
    place(&handle, "01632960002").await;
    let again = callcontrol(&c.notify_acked().await).expect("cc").callinfo[0].clone();
    assert_eq!(
        again.callid, first.callid,
        "callids count from the start again"
    );
    assert_eq!(again.gcid, first.gcid, "an old gcid is reused");
    handle.stop().await;
}

#[tokio::test]
async fn faults_set_at_start_apply_to_every_connection() {
    let handle = start_conn(
        site(),
        ConnConfig {
            faults: FaultSettings {
                unanswered_every: 2,
                ..FaultSettings::default()
            },
            ..ConnConfig::default()
        },
    )
    .await;
    let mut c = connect(&handle, Framing::Framed).await;
    // Requests 2 and 4 of the connection go unanswered.
    assert_eq!(c.result(getversioninfo(1)).await, 0);
    c.send(getversioninfo(2)).await;
    assert_eq!(c.result(getversioninfo(3)).await, 0);
    c.send(getversioninfo(4)).await;
    assert_eq!(c.result(getversioninfo(5)).await, 0);
    let seen = c.take_backlog();
    let answered: Vec<i32> = seen
        .iter()
        .filter_map(response)
        .map(|r| r.requestid)
        .collect();
    assert!(
        answered.is_empty(),
        "only 1, 3 and 5 were answered: {answered:?}"
    );
    assert_eq!(handle.stats().await.expect("stats").unanswered, 2);
    handle.stop().await;
}

#[tokio::test]
async fn plain_http_requests_get_http_answers() {
    let handle = start_site().await;
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    };
    let status = |text: &str| text.lines().next().unwrap_or_default().to_string();

    let r = http_exchange(&handle, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status(&r), "HTTP/1.1 404 Not Found", "{r}");

    let r = http_exchange(&handle, b"GET /tpkt/openapi HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status(&r), "HTTP/1.1 401 Unauthorized", "{r}");
    assert!(
        r.contains("WWW-Authenticate: Basic realm=\"IPOffice\""),
        "{r}"
    );

    let plain =
        format!("GET /tpkt/openapi HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\n\r\n");
    let r = http_exchange(&handle, plain.as_bytes()).await;
    assert_eq!(status(&r), "HTTP/1.1 426 Upgrade Required", "{r}");
    assert!(r.contains("Upgrade: websocket"), "{r}");

    let r = http_exchange(&handle, b"\x00\x01 hello\r\n\r\n").await;
    assert_eq!(status(&r), "HTTP/1.1 400 Bad Request", "{r}");
    handle.stop().await;
}
