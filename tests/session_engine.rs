//! The session engine on virtual time, against hand-made PBX frames: no sockets, no sleeps.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ipo_top::model::{
    AgentState, AppearanceKey, CallState, ConnectionState, EndReason, Guid, LineId, ModelEvent,
    RemoveReason, StopKind,
};
use ipo_top::protocol::bits::{CcFlags, UserFlags};
use ipo_top::protocol::{Framing, pb};
use ipo_top::session::{
    Disconnect, Entity, Session, SessionConfig, SessionEvent, SubscribeFailure,
};

use pb::message::Payload as P;

// ---------------------------------------------------------------------------------------------
// A PBX played by hand

fn frame(payload: P) -> Vec<u8> {
    let msg = pb::Message {
        payload: Some(payload),
    };
    ipo_top::protocol::encode(&msg, Framing::Framed).unwrap_or_default()
}

fn response(requestid: i32, result: i32) -> Vec<u8> {
    frame(P::Response(pb::RequestResponse {
        requestid,
        result,
        additional: String::new(),
    }))
}

fn notify(subscribe_id: i32, notify_id: i32, payload: pb::notify::Payload) -> Vec<u8> {
    frame(P::Notify(pb::Notify {
        subscribe_id,
        notify_id,
        label: String::new(),
        payload: Some(payload),
    }))
}

fn guid(n: u32) -> Vec<u8> {
    let mut g = vec![0xDC, 0x51, 0xBA, 0x00];
    g.extend_from_slice(&n.to_be_bytes());
    g
}

fn user(n: u32) -> pb::LinesUser {
    pb::LinesUser {
        guid: guid(n),
        extn: format!("{}", 4100 + n),
        name: format!("Agent {n}"),
    }
}

fn queue(n: u32) -> pb::LinesQueue {
    pb::LinesQueue {
        guid: guid(1000 + n),
        extn: format!("{}", 7300 + n),
        name: format!("Queue {n}"),
    }
}

fn lines(
    users: impl IntoIterator<Item = u32>,
    queues: impl IntoIterator<Item = u32>,
    park: bool,
) -> pb::notify::Payload {
    pb::notify::Payload::Lines(pb::NotifyLines {
        flags: if park { 3 } else { 2 },
        adduser: users.into_iter().map(user).collect(),
        addqueue: queues.into_iter().map(queue).collect(),
        ..Default::default()
    })
}

fn callinfo(callid: i32, state: pb::call_info::State, gcid: u8) -> pb::CallInfo {
    pb::CallInfo {
        callid,
        state: state as i32,
        direction: pb::call_info::Direction::Inbound as i32,
        gcid: vec![0x01, 0xC0, 0xA8, 0x2A, gcid],
        featuresavailable: 0x6060_E0B1,
        callingparty: Some(pb::PartyInfo {
            number: "01707123456".into(),
            name: "Avaya Test trunk".into(),
            nametype: 9,
            ..Default::default()
        }),
        queueinfo: Some(pb::QueueInfo {
            number: "7301".into(),
            name: "Queue 1".into(),
            priority: 1,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn calls(infos: Vec<pb::CallInfo>, lost: Vec<pb::CallLost>) -> pb::notify::Payload {
    pb::notify::Payload::Callcontrol(pb::NotifyCallControl {
        refreshinstance: 1,
        callinfo: infos,
        calllost: lost,
    })
}

fn lost(callid: i32) -> pb::CallLost {
    pb::CallLost {
        callid,
        reason: 16,
        ..Default::default()
    }
}

/// The engine under test, a virtual clock, and what it sent.
struct Harness {
    s: Session,
    now: Instant,
    /// Subscribe requests sent and not yet answered by the harness: requestid -> subscribe.
    open: HashMap<i32, pb::Subscribe>,
    /// Every subscribe id ever used, with what it subscribed.
    subs: HashMap<i32, pb::Subscribe>,
    notify_id: i32,
    /// Events taken from the engine while advancing the clock.
    pending: Vec<SessionEvent>,
    /// Answer the engine's pings at once, as a live PBX does.
    auto_pong: bool,
}

impl Harness {
    fn new(config: SessionConfig) -> Self {
        let now = Instant::now();
        let s = Session::new(config, now);
        Harness {
            s,
            now,
            open: HashMap::new(),
            subs: HashMap::new(),
            notify_id: 0,
            pending: Vec::new(),
            auto_pong: true,
        }
    }

    /// Connected, version asked, lines subscribed and answered: returns the lines subscribe id.
    fn connected() -> (Self, i32) {
        let mut h = Harness::new(SessionConfig::default());
        assert_eq!(h.events().first(), Some(&SessionEvent::Connect));
        h.s.handle_connected(h.now);
        let sent = h.sent();
        let lines = h.answer_all(0);
        assert_eq!(lines.len(), 1);
        assert!(matches!(sent.first(), Some(P::Generalcmd(_))));
        (h, lines[0])
    }

    /// Synced with users 1..=users, queues 1..=queues and the park server.
    fn synced(users: u32, queues: u32) -> (Self, i32) {
        let (mut h, lines_id) = Harness::connected();
        let n = h.next_notify();
        h.feed(notify(lines_id, n, lines(1..=users, 1..=queues, true)));
        h.sent();
        while !h.open.is_empty() {
            h.answer_all(0);
        }
        let evs = h.events();
        assert!(
            evs.iter().any(|e| matches!(e, SessionEvent::Synced(_))),
            "{evs:?}"
        );
        (h, lines_id)
    }

    fn next_notify(&mut self) -> i32 {
        self.notify_id += 1;
        self.notify_id
    }

    fn feed(&mut self, frame: Vec<u8>) {
        self.s.handle_frame(self.now, &frame);
    }

    /// Decodes everything the engine wants to send, recording subscribes.
    fn sent(&mut self) -> Vec<P> {
        let mut out = Vec::new();
        while let Some(f) = self.s.poll_transmit() {
            let m = ipo_top::protocol::decode(&f, Framing::Framed).unwrap_or_default();
            let Some(p) = m.payload else {
                panic!("the engine sent an empty Message");
            };
            if let P::Subscribe(s) = &p {
                if s.payload.is_some() {
                    assert!(s.requestid != 0, "every subscribe asks for a response");
                    self.open.insert(s.requestid, s.clone());
                    let fresh = self.subs.insert(s.subscribe_id, s.clone()).is_none();
                    assert!(fresh, "subscribe id {} used twice", s.subscribe_id);
                }
            }
            out.push(p);
        }
        out
    }

    /// Answers every open subscribe with `result`; returns their subscribe ids in order sent.
    fn answer_all(&mut self, result: i32) -> Vec<i32> {
        self.sent();
        let mut open: Vec<_> = self.open.drain().collect();
        open.sort_by_key(|(r, _)| *r);
        let ids = open.iter().map(|(_, s)| s.subscribe_id).collect();
        for (requestid, _) in open {
            self.feed(response(requestid, result));
        }
        self.sent();
        ids
    }

    fn events(&mut self) -> Vec<SessionEvent> {
        let mut evs = std::mem::take(&mut self.pending);
        evs.extend(std::iter::from_fn(|| self.s.poll_event()));
        evs
    }

    /// Model events other than connection-state updates (round-trip figures change often).
    fn model_events(&mut self) -> Vec<ModelEvent> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                SessionEvent::Model(ModelEvent::Connection { .. }) => None,
                SessionEvent::Model(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// Moves the clock on, firing every deadline on the way, as the I/O task would.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(t) = self.s.poll_timeout().filter(|t| *t <= end) {
            self.now = self.now.max(t);
            self.s.handle_timeout(self.now);
            while let Some(ev) = self.s.poll_event() {
                if ev == SessionEvent::Ping && self.auto_pong {
                    self.s.handle_pong(self.now);
                }
                self.pending.push(ev);
            }
        }
        self.now = end;
    }

    fn sub_id_of(&self, entity: &Entity) -> i32 {
        self.s.subscribe_id(entity).unwrap_or(-1)
    }
}

fn user_entity(n: u32) -> Entity {
    Entity::User(Guid::from_bytes(&guid(n)))
}

fn queue_entity(n: u32) -> Entity {
    Entity::Queue(Guid::from_bytes(&guid(1000 + n)))
}

// ---------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn connect_asks_the_version_then_subscribes_the_lines_list() {
    let mut h = Harness::new(SessionConfig::default());
    assert_eq!(h.events().first(), Some(&SessionEvent::Connect));
    assert!(
        h.s.poll_transmit().is_none(),
        "nothing is sent before the link is up"
    );
    h.s.handle_connected(h.now);
    let sent = h.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(matches!(&sent[0], P::Generalcmd(g)
        if g.payload == Some(pb::general_cmd::Payload::Getversioninfo(true))));
    let P::Subscribe(s) = &sent[1] else {
        panic!("expected the lines subscribe, got {:?}", sent[1]);
    };
    assert_eq!(s.timeout, 3600);
    assert_eq!(
        s.payload,
        Some(pb::subscribe::Payload::Lines(pb::SubscribeLines {
            flags: 7
        }))
    );
}

#[test]
fn a_large_site_syncs_through_the_window() {
    let (mut h, lines_id) = Harness::connected();
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=300, 1..=9, true)));
    let first = h.sent();
    assert!(matches!(&first[0], P::Notifyack(a) if a.subscribe_id == lines_id && a.notify_id == n));
    assert_eq!(h.open.len(), 64, "the window holds 64 subscribes");
    assert_eq!(h.s.outstanding(), 64);

    // Answer a few at a time: each answer lets exactly one more out, never more than 64.
    let mut answered = 0;
    while !h.open.is_empty() {
        let mut some: Vec<_> = h.open.keys().copied().collect();
        some.sort();
        for requestid in some.into_iter().take(5) {
            h.open.remove(&requestid);
            h.feed(response(requestid, 0));
            answered += 1;
        }
        h.sent();
        assert!(h.open.len() <= 64);
        assert!(h.s.outstanding() <= 64);
    }
    assert_eq!(answered, 300 + 9 + 1);

    // Every user, queue and the park server, each with the flags the issue gives; ids unique
    // (Harness::sent checks that), never Ephemeral, never ACTIVAPP.
    let mut users = 0;
    let mut queues = 0;
    let mut park = 0;
    for s in h.subs.values() {
        match &s.payload {
            Some(pb::subscribe::Payload::User(u)) => {
                users += 1;
                assert_eq!((u.flags, u.ccflags), (0x0F, 0xFB));
                assert!(!UserFlags::from_wire(u.flags).contains(UserFlags::ACTIVAPP));
            }
            Some(pb::subscribe::Payload::Queue(q)) => {
                queues += 1;
                assert_eq!((q.flags, q.ccflags), (0x03, 0x400E9));
                assert!(!CcFlags::from_wire(q.ccflags).contains(CcFlags::EPHEMERAL));
                assert!(!q.guid.is_empty() && q.name.is_empty());
            }
            Some(pb::subscribe::Payload::Parkserver(p)) => {
                park += 1;
                assert_eq!(p.ccflags, 0x01);
            }
            Some(pb::subscribe::Payload::Lines(_)) => {}
            other => panic!("unexpected subscribe {other:?}"),
        }
        assert_eq!(s.timeout, 3600);
    }
    assert_eq!((users, queues, park), (300, 9, 1));

    let evs = h.events();
    let synced: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Synced(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(synced.len(), 1, "synced once");
    assert_eq!((synced[0].users, synced[0].queues), (300, 9));
    assert!(synced[0].park_available);
    assert_eq!(synced[0].subscribed, 311);
    assert!(synced[0].failed.is_empty());
    assert!(matches!(
        h.s.model().connection(),
        ConnectionState::Connected { .. }
    ));
}

#[test]
fn every_notify_is_acked_once_and_before_anything_else() {
    let (mut h, lines_id) = Harness::connected();
    let queue_sub;
    {
        let n = h.next_notify();
        h.feed(notify(lines_id, n, lines(1..=2, 1..=1, false)));
        let out = h.sent();
        // The ack comes before the subscribes that the same Notify causes.
        assert!(matches!(&out[0], P::Notifyack(a) if a.notify_id == n));
        assert!(out[1..].iter().all(|p| matches!(p, P::Subscribe(_))));
        h.answer_all(0);
        queue_sub = h.sub_id_of(&queue_entity(1));
    }

    let mut expected = Vec::new();
    let mut cases = Vec::new();
    // A Notify for no subscription of ours, one without payload, one with a payload the
    // subscription does not carry (a user payload on a queue subscription), and a good one.
    let n = h.next_notify();
    cases.push(notify(
        9999,
        n,
        pb::notify::Payload::Lines(pb::NotifyLines::default()),
    ));
    expected.push((9999, n));
    let n = h.next_notify();
    cases.push(frame(P::Notify(pb::Notify {
        subscribe_id: queue_sub,
        notify_id: n,
        ..Default::default()
    })));
    expected.push((queue_sub, n));
    let n = h.next_notify();
    cases.push(notify(
        queue_sub,
        n,
        pb::notify::Payload::User(pb::NotifyUser::default()),
    ));
    expected.push((queue_sub, n));
    let n = h.next_notify();
    cases.push(notify(
        queue_sub,
        n,
        calls(vec![callinfo(1, pb::call_info::State::Queueing, 1)], vec![]),
    ));
    expected.push((queue_sub, n));
    // No notify_id: nothing to acknowledge.
    cases.push(notify(
        queue_sub,
        0,
        calls(vec![callinfo(2, pb::call_info::State::Queueing, 2)], vec![]),
    ));

    let mut acks = Vec::new();
    for f in cases {
        h.feed(f);
        for p in h.sent() {
            if let P::Notifyack(a) = p {
                acks.push((a.subscribe_id, a.notify_id));
            }
        }
    }
    assert_eq!(acks, expected, "each acked exactly once, in order");
    let c = h.s.counters();
    assert_eq!(c.ignored_notifies, 3);
    assert_eq!(c.acks, 5, "including the lines Notify");
    // The good ones reached the model, including the one without notify_id.
    assert_eq!(
        h.s.model()
            .appearances_on(&LineId::Queue(Guid::from_bytes(&guid(1001))))
            .count(),
        2
    );
}

#[test]
fn snapshots_merge_into_transitions_and_calllost_ends_them() {
    use pb::call_info::State;
    let (mut h, _) = Harness::synced(2, 1);
    h.events();
    let q = h.sub_id_of(&queue_entity(1));
    let agent = h.sub_id_of(&user_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        agent,
        n,
        pb::notify::Payload::User(pb::NotifyUser {
            extn: "4101".into(),
            name: "Agent 1".into(),
            ..Default::default()
        }),
    ));
    h.events();

    let step = |h: &mut Harness, sub, info: Vec<pb::CallInfo>, gone: Vec<pb::CallLost>| {
        let n = h.next_notify();
        h.feed(notify(sub, n, calls(info, gone)));
        h.model_events()
    };

    let evs = step(&mut h, q, vec![callinfo(51, State::Queueing, 7)], vec![]);
    assert!(
        matches!(&evs[..], [ModelEvent::CallNew { call }] if call.call.state == CallState::Queueing)
    );
    // The same snapshot again: no transition.
    assert!(step(&mut h, q, vec![callinfo(51, State::Queueing, 7)], vec![]).is_empty());
    // Ringing on the queue and on the agent (its own callid, the same gcid).
    let evs = step(&mut h, q, vec![callinfo(51, State::Ringing, 7)], vec![]);
    assert!(matches!(
        &evs[..],
        [ModelEvent::CallChanged {
            from: Some(CallState::Queueing),
            ..
        }]
    ));
    let evs = step(&mut h, agent, vec![callinfo(3, State::Ringing, 7)], vec![]);
    assert!(
        matches!(&evs[..], [
        ModelEvent::CallNew { .. },
        ModelEvent::UserChanged { user, .. },
    ] if user.agent.state == AgentState::Ringing),
        "{evs:#?}"
    );
    // Answered: parties change too.
    let mut answered = callinfo(3, State::Connected, 7);
    answered.connectedparty = answered.callingparty.clone();
    let evs = step(&mut h, agent, vec![answered], vec![]);
    assert!(
        matches!(&evs[..], [
        ModelEvent::CallChanged { from: Some(CallState::Ringing), changes, .. },
        ModelEvent::UserChanged { user, .. },
    ] if changes.parties && user.agent.state == AgentState::Talking),
        "{evs:#?}"
    );
    let m = h.s.model();
    let on_queue = m
        .appearance_at(&AppearanceKey {
            line: LineId::Queue(Guid::from_bytes(&guid(1001))),
            callid: 51,
        })
        .map(|a| a.id);
    let Some(on_queue) = on_queue else {
        panic!("the queue appearance is missing");
    };
    assert_eq!(
        m.linked(on_queue).len(),
        1,
        "linked by gcid to the agent's appearance"
    );

    // Both appearances end in one Notify each, with the PBX's reason.
    let evs = step(&mut h, agent, vec![], vec![lost(3)]);
    assert!(
        matches!(&evs[..], [
        ModelEvent::CallEnded { reason: EndReason::Lost { cause: 16, .. }, .. },
        ModelEvent::UserChanged { user, .. },
    ] if user.agent.state == AgentState::Available),
        "{evs:#?}"
    );
    let evs = step(&mut h, q, vec![], vec![lost(51)]);
    assert!(matches!(&evs[..], [ModelEvent::CallEnded { .. }]));
    assert_eq!(h.s.model().appearances().count(), 0);
}

#[test]
fn lines_changes_apply_live() {
    let (mut h, lines_id) = Harness::synced(3, 1);
    h.events();
    let gone_id = h.sub_id_of(&user_entity(2));

    // Added: subscribed at once.
    let n = h.next_notify();
    h.feed(notify(
        lines_id,
        n,
        pb::notify::Payload::Lines(pb::NotifyLines {
            flags: 3,
            adduser: vec![user(4)],
            ..Default::default()
        }),
    ));
    h.sent();
    let new_subs: Vec<_> = h.open.values().cloned().collect();
    assert!(matches!(&new_subs[..], [s] if matches!(&s.payload,
        Some(pb::subscribe::Payload::User(u)) if u.guid == guid(4))));
    h.answer_all(0);

    // Changed: renamed, not subscribed again.
    let n = h.next_notify();
    h.feed(notify(
        lines_id,
        n,
        pb::notify::Payload::Lines(pb::NotifyLines {
            flags: 3,
            changeuser: vec![pb::LinesUser {
                guid: guid(1),
                extn: "4190".into(),
                name: "Renamed".into(),
            }],
            ..Default::default()
        }),
    ));
    assert!(h.sent().iter().all(|p| matches!(p, P::Notifyack(_))));
    assert_eq!(
        h.s.model().user_by_extn("4190").map(|u| u.name.to_string()),
        Some("Renamed".into())
    );

    // Deleted: its subscription ends and it leaves the model.
    let n = h.next_notify();
    h.feed(notify(
        lines_id,
        n,
        pb::notify::Payload::Lines(pb::NotifyLines {
            flags: 3,
            deleteuser: vec![user(2)],
            ..Default::default()
        }),
    ));
    let out = h.sent();
    assert!(
        out.iter()
            .any(|p| matches!(p, P::Subscribeend(e) if e.subscribe_id == gone_id)),
        "{out:?}"
    );
    let evs = h.model_events();
    assert!(evs.iter().any(|e| matches!(e,
        ModelEvent::UserRemoved { reason: RemoveReason::Deleted, extn, .. } if extn == "4102")));
    assert!(h.s.model().user(&Guid::from_bytes(&guid(2))).is_none());

    // A late Notify on the ended subscription is acknowledged and ignored.
    let n = h.next_notify();
    h.feed(notify(
        gone_id,
        n,
        pb::notify::Payload::User(pb::NotifyUser::default()),
    ));
    assert!(matches!(&h.sent()[..], [P::Notifyack(a)] if a.subscribe_id == gone_id));
    assert!(h.s.model().user(&Guid::from_bytes(&guid(2))).is_none());
}

#[test]
fn subscriptions_are_refreshed_before_they_expire() {
    let (mut h, lines_id) = Harness::synced(2, 1);
    let active: HashSet<i32> = h.subs.keys().copied().collect();
    h.advance(Duration::from_secs(49 * 60 + 59));
    assert!(h.sent().is_empty(), "no refresh before 50 minutes");
    h.advance(Duration::from_secs(1));
    let refreshed: HashSet<i32> = h
        .sent()
        .into_iter()
        .map(|p| match p {
            // A refresh is the same subscribe_id with only a timeout.
            P::Subscribe(s) if s.payload.is_none() && s.requestid == 0 && s.timeout == 3600 => {
                s.subscribe_id
            }
            other => panic!("expected only refreshes, got {other:?}"),
        })
        .collect();
    assert_eq!(refreshed, active);
    assert!(refreshed.contains(&lines_id));
    // And again 50 minutes later.
    h.advance(Duration::from_secs(50 * 60));
    assert_eq!(h.sent().len(), active.len());

    // Proportionally for other timeouts: 600 s is refreshed after 500 s.
    let mut short = Harness::new(SessionConfig {
        subscription_timeout_secs: 600,
        ..SessionConfig::default()
    });
    short.s.handle_connected(short.now);
    short.answer_all(0);
    short.advance(Duration::from_secs(499));
    assert!(short.sent().is_empty());
    short.advance(Duration::from_secs(1));
    assert!(
        matches!(&short.sent()[..], [P::Subscribe(s)] if s.timeout == 600 && s.payload.is_none())
    );
}

#[test]
fn a_terminated_subscription_is_subscribed_again_with_backoff() {
    use pb::call_info::State;
    let (mut h, _) = Harness::synced(1, 1);
    let q = h.sub_id_of(&queue_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(
            vec![
                callinfo(51, State::Queueing, 7),
                callinfo(52, State::Queueing, 8),
            ],
            vec![],
        ),
    ));
    h.sent();
    h.events();
    let keep_id =
        h.s.model()
            .appearances()
            .find(|a| a.key.callid == 51)
            .map(|a| a.id);

    h.feed(frame(P::Subscribeterminated(pb::SubscribeTerminated {
        subscribe_id: q,
        reason: String::new(),
    })));
    assert!(h.sent().is_empty(), "not at once");
    h.advance(Duration::from_millis(700));
    assert!(h.sent().is_empty(), "not before the backoff");
    h.advance(Duration::from_millis(300));
    let out = h.sent();
    let [P::Subscribe(s)] = &out[..] else {
        panic!("expected one subscribe, got {out:?}");
    };
    assert_ne!(s.subscribe_id, q, "a fresh subscribe id");
    assert!(matches!(&s.payload, Some(pb::subscribe::Payload::Queue(x)) if x.guid == guid(1001)));
    let new_id = s.subscribe_id;
    h.answer_all(0);

    // The PBX reports call 7 again (new callid), not call 8: 7 keeps its identity, 8 ends
    // after the settle time.
    let n = h.next_notify();
    h.feed(notify(
        new_id,
        n,
        calls(vec![callinfo(1, State::Queueing, 7)], vec![]),
    ));
    let evs = h.model_events();
    assert!(
        matches!(&evs[..], [ModelEvent::CallChanged { call, .. }]
        if Some(call.id) == keep_id && call.key.callid == 1),
        "{evs:#?}"
    );
    h.advance(Duration::from_secs(10));
    let evs = h.model_events();
    assert!(
        matches!(&evs[..], [ModelEvent::CallEnded { call, reason: EndReason::NotReported }]
        if call.key.callid == 52),
        "{evs:#?}"
    );
}

#[test]
fn pbx_refusals_retry_drop_or_report() {
    let (mut h, lines_id) = Harness::connected();
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=3, 1..=2, false)));
    h.sent();
    // User 1: TOOMANY, then fine. User 2: USERNOTFOUND. Queue 1: NOTFOUND. User 3:
    // NOTALLOWED (logged and reported, kept). Queue 2: fine.
    let codes: HashMap<Vec<u8>, i32> = [
        (guid(1), 5),
        (guid(2), 7),
        (guid(1001), 4),
        (guid(3), 9),
        (guid(1002), 0),
    ]
    .into_iter()
    .collect();
    let open: Vec<_> = h.open.drain().collect();
    for (requestid, s) in open {
        let g = match s.payload {
            Some(pb::subscribe::Payload::User(u)) => u.guid,
            Some(pb::subscribe::Payload::Queue(q)) => q.guid,
            _ => Vec::new(),
        };
        h.feed(response(requestid, codes.get(&g).copied().unwrap_or(0)));
    }
    h.sent();
    let evs = h.events();
    let failures: Vec<&SubscribeFailure> = evs
        .iter()
        .filter_map(|e| match e {
            SessionEvent::SubscribeFailed(f) => Some(f),
            _ => None,
        })
        .collect();
    let summary: Vec<_> = failures
        .iter()
        .map(|f| (f.code, f.name, f.dropped, f.label.to_string()))
        .collect();
    assert!(summary.contains(&(
        7,
        Some("MTCTISESS_USERNOTFOUND"),
        true,
        "4102 Agent 2".into()
    )));
    assert!(summary.contains(&(4, Some("MTCTISESS_NOTFOUND"), true, "7301 Queue 1".into())));
    assert!(summary.contains(&(
        9,
        Some("MTCTISESS_NOTALLOWED"),
        false,
        "4103 Agent 3".into()
    )));
    assert_eq!(
        summary.len(),
        3,
        "TOOMANY is retried, not reported: {summary:?}"
    );
    let m = h.s.model();
    assert!(m.user(&Guid::from_bytes(&guid(2))).is_none());
    assert!(m.queue(&Guid::from_bytes(&guid(1001))).is_none());
    assert!(m.user(&Guid::from_bytes(&guid(3))).is_some());
    assert!(evs.iter().any(|e| matches!(
        e,
        SessionEvent::Model(ModelEvent::UserRemoved {
            reason: RemoveReason::NotFound,
            ..
        })
    )));
    assert!(
        !evs.iter().any(|e| matches!(e, SessionEvent::Synced(_))),
        "user 1 still pending"
    );

    // User 1 is asked again after the backoff and then succeeds: synced, with the failures.
    h.advance(Duration::from_secs(1));
    let again = h.answer_all(0);
    assert_eq!(again.len(), 1);
    let evs = h.events();
    let report = evs.iter().find_map(|e| match e {
        SessionEvent::Synced(r) => Some(r),
        _ => None,
    });
    let Some(report) = report else {
        panic!("not synced: {evs:?}");
    };
    assert_eq!((report.users, report.queues), (2, 1));
    assert_eq!(report.failed.len(), 3);
}

#[test]
fn a_lost_link_reconnects_with_backoff_and_subscribes_everything_again() {
    use pb::call_info::State;
    let (mut h, old_lines) = Harness::synced(2, 1);
    let q = h.sub_id_of(&queue_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(vec![callinfo(51, State::Queueing, 7)], vec![]),
    ));
    h.sent();
    h.events();
    let call_id = h.s.model().appearances().next().map(|a| a.id);

    // Down: reconnect in about half a second, then 1, 2, 4 ... 30 s while attempts fail.
    h.s.handle_closed(h.now, Disconnect::Failed("connection reset".into()));
    let mut delays = Vec::new();
    for _ in 0..9 {
        let Some(at) = h.s.poll_timeout() else {
            panic!("no reconnect scheduled");
        };
        delays.push(at - h.now);
        assert!(matches!(
            h.s.model().connection(),
            ConnectionState::Reconnecting { .. }
        ));
        h.advance(at - h.now);
        assert_eq!(h.events().first(), Some(&SessionEvent::Connect));
        h.s.handle_closed(h.now, Disconnect::Failed("connection refused".into()));
    }
    let nominal = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0];
    for (d, n) in delays.iter().zip(nominal) {
        let s = d.as_secs_f64();
        assert!(s <= n && s >= n * 0.75, "delay {s} for nominal {n}");
    }
    assert!(
        h.s.model().appearances().count() == 1,
        "kept (stale) while down"
    );

    // Up again: the lines list and every known user, queue and the park server are subscribed
    // at once, with fresh ids.
    let at = h.s.poll_timeout().unwrap_or(h.now);
    h.advance(at - h.now);
    h.events();
    h.s.handle_connected(h.now);
    h.sent();
    let resent: Vec<_> = h.open.values().cloned().collect();
    assert_eq!(resent.len(), 1 + 2 + 1 + 1, "{resent:?}");
    assert!(resent.iter().all(|s| s.subscribe_id > old_lines));
    h.answer_all(0);
    let q2 = h.sub_id_of(&queue_entity(1));
    assert_ne!(q2, q);

    // The queue reports its call again under a new callid: same appearance, not a new call.
    let n = h.next_notify();
    h.feed(notify(
        q2,
        n,
        calls(vec![callinfo(9, State::Queueing, 7)], vec![]),
    ));
    let evs = h.model_events();
    assert!(
        !evs.iter().any(|e| matches!(e, ModelEvent::CallNew { .. })),
        "{evs:#?}"
    );
    assert_eq!(h.s.model().appearances().next().map(|a| a.id), call_id);

    // The lines list comes again: nothing new to subscribe, and the site is synced.
    let lines2 = h.sub_id_of(&Entity::Lines);
    let n = h.next_notify();
    h.feed(notify(lines2, n, lines(1..=2, 1..=1, true)));
    assert!(h.sent().iter().all(|p| matches!(p, P::Notifyack(_))));
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::Synced(_)))
    );

    // After a link that stayed up for minutes, the next drop starts again from half a second.
    h.advance(Duration::from_secs(120));
    h.sent();
    h.s.handle_closed(h.now, Disconnect::Failed("reset".into()));
    let next = h.s.poll_timeout().map(|t| t - h.now);
    assert!(
        next.is_some_and(|d| d <= Duration::from_millis(500)),
        "{next:?}"
    );
}

#[test]
fn a_rejected_login_is_never_retried_on_its_own() {
    let mut h = Harness::new(SessionConfig::default());
    h.events();
    h.s.handle_closed(
        h.now,
        Disconnect::LoginRejected("HTTP 401 Unauthorized".into()),
    );
    assert!(h.s.is_stopped());
    assert_eq!(h.s.poll_timeout(), None, "nothing scheduled");
    h.advance(Duration::from_secs(24 * 3600));
    let evs = h.events();
    assert!(!evs.contains(&SessionEvent::Connect), "{evs:?}");
    assert!(
        matches!(h.s.model().connection(), ConnectionState::Stopped {
        kind: StopKind::LoginRejected, reason
    } if reason.contains("401"))
    );

    // Asked again, it tries once.
    h.s.retry(h.now);
    assert_eq!(h.events().first(), Some(&SessionEvent::Connect));

    // Stopped again, it can still be shut down (the driver must hear it to end).
    h.s.handle_closed(h.now, Disconnect::LoginRejected("HTTP 401".into()));
    h.events();
    h.s.shutdown(h.now);
    assert!(h.events().contains(&SessionEvent::Shutdown));
    h.s.retry(h.now);
    assert!(h.events().is_empty(), "nothing after a shutdown");
}

#[test]
fn garbage_is_counted_and_survived() {
    let (mut h, lines_id) = Harness::synced(1, 1);
    h.events();
    h.feed(vec![0, 0, 0]);
    h.feed(vec![0, 0, 0, 2, 0x08, 0x01]);
    h.feed(vec![0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
    h.feed(frame(P::Subscribe(pb::Subscribe::default())));
    h.feed(frame(P::Notifyack(pb::NotifyAck::default())));
    h.feed(ipo_top::protocol::encode(&pb::Message::default(), Framing::Framed).unwrap_or_default());
    h.feed(response(424_242, 0));
    h.feed(frame(P::Generaldata(pb::GeneralData {
        responseid: 77,
        payload: Some(pb::general_data::Payload::Versioninfo("?".into())),
    })));
    h.feed(frame(P::Subscribeterminated(pb::SubscribeTerminated {
        subscribe_id: 31_337,
        reason: String::new(),
    })));
    let c = *h.s.counters();
    assert_eq!(c.malformed, 3);
    assert_eq!(c.unexpected, 4);
    assert_eq!(c.unmatched_responses, 2);
    assert!(h.s.is_connected());
    assert!(h.sent().is_empty());

    // And it still works.
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines([5], [], true)));
    let out = h.sent();
    assert!(matches!(&out[0], P::Notifyack(a) if a.notify_id == n));
    assert!(h.s.model().user(&Guid::from_bytes(&guid(5))).is_some());
}

#[test]
fn the_version_is_kept_when_it_comes_and_never_waited_for() {
    let mut h = Harness::new(SessionConfig::default());
    h.s.handle_connected(h.now);
    let sent = h.sent();
    let version_request = sent
        .iter()
        .find_map(|p| match p {
            P::Generalcmd(g) => Some(g.requestid),
            _ => None,
        })
        .unwrap_or(0);
    assert_ne!(version_request, 0);
    let lines_id = h.answer_all(0)[0];
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines([1], [], false)));
    h.answer_all(0);
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::Synced(_))),
        "synced without it"
    );
    assert_eq!(h.s.model().version(), None);

    // A RequestResponse may come first (IP Office acknowledges every request that carries a
    // requestid); the version still follows in GeneralData.
    h.feed(response(version_request, 0));
    h.feed(frame(P::Generaldata(pb::GeneralData {
        responseid: version_request,
        payload: Some(pb::general_data::Payload::Versioninfo(
            "IP Office 11.1.0.0 build 600".into(),
        )),
    })));
    assert_eq!(
        h.s.model().version().map(|v| v.to_string()),
        Some("IP Office 11.1.0.0 build 600".into())
    );
}

#[test]
fn an_unanswered_subscribe_frees_its_window_slot() {
    let mut h = Harness::new(SessionConfig {
        subscribe_window: 1,
        ..SessionConfig::default()
    });
    h.s.handle_connected(h.now);
    let lines_id = h.answer_all(0)[0];
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines([1, 2], [], false)));
    h.sent();
    assert_eq!(h.open.len(), 1, "a window of one");
    let (stuck_req, stuck) = h.open.drain().next().unwrap_or_default();
    // 30 s without a response: the request is given up (its subscription ended in case it
    // exists) and the next one goes out.
    h.advance(Duration::from_secs(30));
    let out = h.sent();
    assert!(
        out.iter()
            .any(|p| matches!(p, P::Subscribeend(e) if e.subscribe_id == stuck.subscribe_id))
    );
    assert_eq!(h.open.len(), 1);
    // A late answer to the stuck one is harmless.
    h.feed(response(stuck_req, 0));
    h.answer_all(0);
    h.advance(Duration::from_secs(2));
    h.answer_all(0);
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::Synced(_)))
    );
    assert_eq!(h.s.sync_report().subscribed, 3);
}

#[test]
fn a_quiet_link_is_pinged_and_a_dead_one_reconnected() {
    let (mut h, _) = Harness::synced(1, 1);
    h.auto_pong = false;
    h.events();
    // Frames keep the link alive: no ping while the PBX talks.
    for _ in 0..4 {
        h.advance(Duration::from_secs(20));
        h.feed(response(999_999, 0));
    }
    assert!(!h.events().contains(&SessionEvent::Ping));
    // Quiet for 30 s: a ping. A pong answers it.
    h.advance(Duration::from_secs(30));
    assert!(h.events().contains(&SessionEvent::Ping));
    h.s.handle_pong(h.now);
    h.advance(Duration::from_secs(30));
    assert!(h.events().contains(&SessionEvent::Ping));
    assert!(h.s.is_connected());
    // No answer at all for 75 s: the link is dropped and a reconnect scheduled.
    h.advance(Duration::from_secs(44));
    assert!(h.s.is_connected(), "74 s without an answer is not yet dead");
    h.advance(Duration::from_secs(1));
    let evs = h.events();
    assert!(evs.contains(&SessionEvent::Disconnect), "{evs:?}");
    assert!(!h.s.is_connected());
    assert!(matches!(
        h.s.model().connection(),
        ConnectionState::Reconnecting { reason, .. } if reason.contains("no answer")
    ));
}
