//! The session engine on virtual time, against hand-made PBX frames: no sockets, no sleeps.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ipo_top::model::{
    AgentState, AppearanceKey, CallState, ConnectionState, EndReason, Guid, LineId, ModelEvent,
    PbxSystem, RemoveReason, StopKind,
};
use ipo_top::protocol::bits::{CcFlags, UserFlags};
use ipo_top::protocol::{Framing, pb};
use ipo_top::session::{
    Disconnect, Entity, Io, Session, SessionConfig, SessionEvent, SubscribeFailure,
};

use pb::call_info::State;
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
    /// Instructions and events taken from the engine while advancing the clock.
    pending: (Vec<Io>, Vec<SessionEvent>),
    /// Answer the engine's pings at once, as a live PBX does.
    auto_pong: bool,
    /// Everything the engine sent, in order.
    log: Vec<P>,
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
            pending: (Vec::new(), Vec::new()),
            auto_pong: true,
            log: Vec::new(),
        }
    }

    /// Connected, version asked, lines subscribed and answered: returns the lines subscribe id.
    fn connected() -> (Self, i32) {
        let mut h = Harness::new(SessionConfig::default());
        assert_eq!(h.io().first(), Some(&Io::Connect(PbxSystem::Primary)));
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
            self.log.push(p.clone());
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

    /// Everything the engine said since the last look: instructions and events.
    fn outputs(&mut self) -> (Vec<Io>, Vec<SessionEvent>) {
        let (mut io, mut evs) = std::mem::take(&mut self.pending);
        io.extend(std::iter::from_fn(|| self.s.poll_io()));
        evs.extend(std::iter::from_fn(|| self.s.poll_event()));
        (io, evs)
    }

    fn events(&mut self) -> Vec<SessionEvent> {
        self.outputs().1
    }

    fn io(&mut self) -> Vec<Io> {
        self.outputs().0
    }

    /// Model events other than connection-state updates (round-trip figures change often)
    /// and statistics (queues' figures, the counting period: tested on their own).
    fn model_events(&mut self) -> Vec<ModelEvent> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                SessionEvent::Model(
                    ModelEvent::Connection { .. }
                    | ModelEvent::QueueChanged { .. }
                    | ModelEvent::StatsPeriod { .. },
                ) => None,
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
            while let Some(io) = self.s.poll_io() {
                if io == Io::Ping && self.auto_pong {
                    self.s.handle_pong(self.now);
                }
                self.pending.0.push(io);
            }
            self.pending
                .1
                .extend(std::iter::from_fn(|| self.s.poll_event()));
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
    assert_eq!(h.io().first(), Some(&Io::Connect(PbxSystem::Primary)));
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
    assert_eq!(answered, 300 + 9 + 1 + 1);

    // Every user, queue, the park server and one presence subscription listing every user,
    // each with the flags the issue gives; ids unique (Harness::sent checks that), never
    // Ephemeral, never ACTIVAPP.
    let mut users = 0;
    let mut queues = 0;
    let mut park = 0;
    let mut presence = 0;
    for s in h.subs.values() {
        match &s.payload {
            Some(pb::subscribe::Payload::Presence(p)) => {
                presence += 1;
                assert_eq!(p.entry.len(), 300);
                assert!((60..=86_400).contains(&s.timeout), "{}", s.timeout);
                let lrefs: HashSet<i32> = p.entry.iter().map(|e| e.lref).collect();
                assert_eq!(lrefs.len(), 300, "one lref per user");
                assert!(p.entry.iter().any(|e| e.presentity == "4101"));
            }
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
    assert_eq!((users, queues, park, presence), (300, 9, 1, 1));

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
    assert_eq!(synced[0].subscribed, 312);
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
    // The presence list follows the new extension: the old presentity out, the new one in.
    let out = h.sent();
    assert!(matches!(&out[0], P::Notifyack(_)), "{out:?}");
    let updates: Vec<_> = out
        .iter()
        .filter_map(|p| match p {
            P::Subscribecmd(c) => Some(c),
            _ => None,
        })
        .collect();
    assert!(
        matches!(&updates[..], [c] if c.subscribe_id == h.sub_id_of(&Entity::Presence)
            && matches!(&c.payload, Some(pb::subscribe_cmd::Payload::Presence(u))
                if u.remove.len() == 1 && u.add.len() == 1 && u.add[0].presentity == "4190"
                    && u.add[0].lref != u.remove[0].lref)),
        "{out:?}"
    );
    assert!(
        !out.iter().any(|p| matches!(p, P::Subscribe(_))),
        "not subscribed again"
    );
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

    // With no expiry for the others, the presence subscription still has one (the document
    // requires 60..86400 s) and is refreshed on its own.
    let mut h = Harness::new(SessionConfig {
        subscription_timeout_secs: 0,
        ..SessionConfig::default()
    });
    h.s.handle_connected(h.now);
    let lines_id = h.answer_all(0)[0];
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=2, 1..=1, true)));
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    let presence = h.sub_id_of(&Entity::Presence);
    assert_eq!(h.subs.get(&presence).map(|s| s.timeout), Some(3600));
    assert!(
        h.subs
            .iter()
            .filter(|(id, _)| **id != presence)
            .all(|(_, s)| s.timeout == 0)
    );
    h.advance(Duration::from_secs(50 * 60));
    assert!(
        matches!(&h.sent()[..], [P::Subscribe(s)]
            if s.subscribe_id == presence && s.timeout == 3600 && s.payload.is_none()),
        "only presence is refreshed"
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
        assert_eq!(h.io().first(), Some(&Io::Connect(PbxSystem::Primary)));
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
    assert_eq!(resent.len(), 1 + 2 + 1 + 1 + 1, "{resent:?}");
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
    // (and, once synced, the account codes are asked for: they never came before)
    assert!(
        h.sent()
            .iter()
            .all(|p| matches!(p, P::Notifyack(_) | P::Generalcmd(_)))
    );
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
    let evs = h.io();
    assert!(!evs.contains(&Io::Connect(PbxSystem::Primary)), "{evs:?}");
    assert!(
        matches!(h.s.model().connection(), ConnectionState::Stopped {
        kind: StopKind::LoginRejected, reason
    } if reason.contains("401"))
    );

    // Asked again, it tries once.
    h.s.retry(h.now);
    assert_eq!(h.io().first(), Some(&Io::Connect(PbxSystem::Primary)));

    // Stopped again, it can still be shut down (the driver must hear it to end).
    h.s.handle_closed(h.now, Disconnect::LoginRejected("HTTP 401".into()));
    h.events();
    h.s.shutdown(h.now);
    assert!(h.io().contains(&Io::Shutdown));
    h.s.retry(h.now);
    assert!(h.outputs() == (vec![], vec![]), "nothing after a shutdown");
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
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::Synced(_)))
    );
    // Lines, two users, presence.
    assert_eq!(h.s.sync_report().subscribed, 4);
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
    assert!(!h.io().contains(&Io::Ping));
    // Quiet for 30 s: a ping. A pong answers it.
    h.advance(Duration::from_secs(30));
    assert!(h.io().contains(&Io::Ping));
    h.s.handle_pong(h.now);
    h.advance(Duration::from_secs(30));
    assert!(h.io().contains(&Io::Ping));
    assert!(h.s.is_connected());
    // No answer at all for 75 s: the link is dropped and a reconnect scheduled.
    h.advance(Duration::from_secs(44));
    assert!(h.s.is_connected(), "74 s without an answer is not yet dead");
    h.advance(Duration::from_secs(1));
    let evs = h.io();
    assert!(evs.contains(&Io::Close), "{evs:?}");
    assert!(!h.s.is_connected());
    assert!(matches!(
        h.s.model().connection(),
        ConnectionState::Reconnecting { reason, .. } if reason.contains("no answer")
    ));
}

#[test]
fn presence_reports_after_call_work_that_appearances_never_show() {
    let (mut h, _) = Harness::synced(2, 1);
    h.events();
    let presence_id = h.sub_id_of(&Entity::Presence);
    let Some(pb::subscribe::Payload::Presence(p)) =
        h.subs.get(&presence_id).and_then(|s| s.payload.clone())
    else {
        panic!("a presence subscription");
    };
    let lref = |extn: &str| {
        p.entry
            .iter()
            .find(|e| e.presentity == extn)
            .map(|e| e.lref)
            .unwrap_or(-1)
    };
    let agent = |h: &Harness| {
        h.s.model()
            .user(&Guid::from_bytes(&guid(1)))
            .map(|u| u.agent.state)
    };
    let phone = |h: &mut Harness, lref: i32, phonestate: i32| {
        h.sent();
        let n = h.next_notify();
        h.feed(notify(
            presence_id,
            n,
            pb::notify::Payload::Presence(pb::NotifyPresence {
                full: 0,
                entry: vec![pb::NotifyPresentity {
                    lref,
                    phonestate,
                    ..Default::default()
                }],
            }),
        ));
        let out = h.sent();
        assert!(
            matches!(&out[..], [P::Notifyack(a)] if a.notify_id == n),
            "acked: {out:?}"
        );
    };
    // The user subscription says the agent is there; the call ended with a CallLost, and only
    // the presence subscription (keyed by the lref we chose) says the phone is in ACW.
    let u1 = h.sub_id_of(&user_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        u1,
        n,
        pb::notify::Payload::User(pb::NotifyUser {
            extn: "4101".into(),
            name: "Agent 1".into(),
            ..Default::default()
        }),
    ));
    assert_eq!(agent(&h), Some(AgentState::Available));
    phone(&mut h, lref("4101"), 3);
    assert_eq!(agent(&h), Some(AgentState::AfterCallWork));
    assert_eq!(
        h.s.model()
            .user(&Guid::from_bytes(&guid(1)))
            .and_then(|u| u.phone),
        Some(ipo_top::model::PhoneState::AfterCallWork)
    );
    // A call ringing beats ACW; the PBX says idle again: available.
    let n = h.next_notify();
    h.feed(notify(
        u1,
        n,
        calls(
            vec![callinfo(4, pb::call_info::State::Ringing, 0x20)],
            vec![],
        ),
    ));
    assert_eq!(agent(&h), Some(AgentState::Ringing));
    let n = h.next_notify();
    h.feed(notify(u1, n, calls(vec![], vec![lost(4)])));
    assert_eq!(agent(&h), Some(AgentState::AfterCallWork));
    phone(&mut h, lref("4101"), 0);
    assert_eq!(agent(&h), Some(AgentState::Available));
    // Log-out and fault come from presence too.
    phone(&mut h, lref("4101"), 5);
    assert_eq!(agent(&h), Some(AgentState::LoggedOff));
    phone(&mut h, lref("4101"), 6);
    assert_eq!(agent(&h), Some(AgentState::Fault));
    // The other agent is untouched.
    assert_ne!(
        h.s.model()
            .user(&Guid::from_bytes(&guid(2)))
            .map(|u| u.agent.state),
        Some(AgentState::Fault)
    );
}

#[test]
fn read_only_never_sends_a_subscribe_cmd() {
    let mut h = Harness::new(SessionConfig {
        read_only: true,
        ..SessionConfig::default()
    });
    h.s.handle_connected(h.now);
    let lines_id = h.answer_all(0)[0];
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=2, 1..=1, true)));
    let mut out = h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    // The lines change: in read-only mode the presence list is subscribed anew instead of
    // updated with a SubscribeCmd.
    let old_presence = h.sub_id_of(&Entity::Presence);
    let n = h.next_notify();
    h.feed(notify(
        lines_id,
        n,
        pb::notify::Payload::Lines(pb::NotifyLines {
            flags: 3,
            adduser: vec![user(3)],
            deleteuser: vec![user(2)],
            ..Default::default()
        }),
    ));
    out.extend(h.sent());
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    out.extend(h.sent());
    assert!(
        !out.iter().any(|p| matches!(p, P::Subscribecmd(_))),
        "{out:?}"
    );
    assert!(
        out.iter()
            .any(|p| matches!(p, P::Subscribeend(e) if e.subscribe_id == old_presence))
    );
    let new_presence = h.sub_id_of(&Entity::Presence);
    assert_ne!(new_presence, old_presence);
    let listed: Vec<String> = match h.subs.get(&new_presence).and_then(|s| s.payload.clone()) {
        Some(pb::subscribe::Payload::Presence(p)) => {
            p.entry.into_iter().map(|e| e.presentity).collect()
        }
        other => panic!("{other:?}"),
    };
    let mut listed = listed;
    listed.sort();
    assert_eq!(listed, ["4101", "4103"]);
}

/// Synced with one agent and one queue, the queue showing call A (gcid 7, connected to the
/// agent, whose own appearance has callid 5) and call B (gcid 8, waiting); then the link
/// drops and comes back, every subscription answered. Returns the new queue and agent
/// subscription ids and the ids of A on the queue, A on the agent, and B.
fn through_an_outage() -> (Harness, i32, i32, [ipo_top::model::AppearanceId; 3]) {
    let (mut h, _) = Harness::synced(1, 1);
    let q = h.sub_id_of(&queue_entity(1));
    let a = h.sub_id_of(&user_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(
            vec![
                callinfo(1, State::Connected, 7),
                callinfo(2, State::Queueing, 8),
            ],
            vec![],
        ),
    ));
    let n = h.next_notify();
    h.feed(notify(
        a,
        n,
        calls(vec![callinfo(5, State::Connected, 7)], vec![]),
    ));
    h.sent();
    h.advance(Duration::from_secs(15));
    let id = |h: &Harness, line: &Entity, callid: i32| {
        h.s.model()
            .appearances()
            .find(|x| {
                x.key.callid == callid
                    && Some(&x.key.line)
                        == match line {
                            Entity::Queue(g) => Some(LineId::Queue(g.clone())),
                            Entity::User(g) => Some(LineId::User(g.clone())),
                            _ => None,
                        }
                        .as_ref()
            })
            .map(|x| x.id)
            .expect("an appearance")
    };
    let ids = [
        id(&h, &queue_entity(1), 1),
        id(&h, &user_entity(1), 5),
        id(&h, &queue_entity(1), 2),
    ];
    h.s.handle_closed(h.now, Disconnect::Failed("connection reset".into()));
    let at = h.s.poll_timeout().unwrap_or(h.now);
    h.advance(at - h.now);
    h.events();
    h.s.handle_connected(h.now);
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    let n = h.next_notify();
    h.feed(notify(
        h.sub_id_of(&Entity::Lines),
        n,
        lines(1..=1, 1..=1, true),
    ));
    h.sent();
    h.events();
    let q2 = h.sub_id_of(&queue_entity(1));
    let a2 = h.sub_id_of(&user_entity(1));
    (h, q2, a2, ids)
}

#[test]
fn after_a_reconnect_the_same_calls_keep_their_identity_and_the_rest_ends() {
    let (mut h, q, a, [queue_a, agent_a, queue_b]) = through_an_outage();
    let first_seen = h.s.model().appearance(queue_a).map(|x| x.first_seen);
    // A is reported again under new callids on both lines, with the same caller: the same
    // appearances (ids, first-seen times, so a selection survives). B is not reported.
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(vec![callinfo(11, State::Connected, 7)], vec![]),
    ));
    let n = h.next_notify();
    h.feed(notify(
        a,
        n,
        calls(vec![callinfo(6, State::Connected, 7)], vec![]),
    ));
    let model = h.s.model();
    assert_eq!(model.appearance(queue_a).map(|x| x.key.callid), Some(11));
    assert_eq!(model.appearance(queue_a).map(|x| x.first_seen), first_seen);
    assert_eq!(model.appearance(agent_a).map(|x| x.key.callid), Some(6));
    assert!(
        model.appearance(queue_b).is_some(),
        "kept until the settle time"
    );
    assert!(model.in_outage());
    h.advance(Duration::from_secs(10));
    let evs = h.model_events();
    assert!(
        evs.iter().any(
            |e| matches!(e, ModelEvent::CallEnded { call, reason: EndReason::NotReported }
            if call.id == queue_b)
        ),
        "{evs:#?}"
    );
    assert!(
        !evs.iter()
            .any(|e| matches!(e, ModelEvent::CallsReset { .. }))
    );
    // Nothing stale, nothing doubled.
    assert_eq!(h.s.model().appearances().count(), 2);
    assert!(
        !h.s.model().in_outage(),
        "everything has been reported again"
    );
}

#[test]
fn a_known_gcid_with_another_caller_after_an_outage_means_the_pbx_restarted() {
    let (mut h, q, _, [queue_a, agent_a, queue_b]) = through_an_outage();
    // The PBX restarted: its gcid counter began again and gave 7 to a new caller, who waits.
    let mut other = callinfo(1, State::Queueing, 7);
    other.callingparty = Some(pb::PartyInfo {
        number: "01632960001".into(),
        ..Default::default()
    });
    let n = h.next_notify();
    h.feed(notify(q, n, calls(vec![other], vec![])));
    let evs = h.model_events();
    assert!(
        evs.iter().any(
            |e| matches!(e, ModelEvent::CallsReset { reason } if reason.contains("restarted"))
        ),
        "{evs:#?}"
    );
    // Every call known before the restart has ended, on every line, at once: none is matched.
    for old in [queue_a, agent_a, queue_b] {
        assert!(h.s.model().appearance(old).is_none(), "{old} still there");
    }
    let new: Vec<_> = h.s.model().appearances().collect();
    assert!(
        matches!(&new[..], [x] if x.key.callid == 1 && x.call.state == CallState::Queueing
            && x.present_at_connect && ![queue_a, agent_a, queue_b].contains(&x.id)),
        "{new:#?}"
    );
    assert_eq!(
        h.s.model()
            .user(&Guid::from_bytes(&guid(1)))
            .map(|u| u.agent.state),
        Some(AgentState::Unknown),
        "the agent's old call is gone (its status was never reported in this test)"
    );
}

#[test]
fn a_call_back_in_a_state_it_had_left_means_the_pbx_restarted() {
    let (mut h, _, a, [_, agent_a, _]) = through_an_outage();
    // Same gcid, same caller, same direction, but the agent's call that was connected is
    // dialling again: not the same call.
    let n = h.next_notify();
    h.feed(notify(
        a,
        n,
        calls(vec![callinfo(5, State::Dialling, 7)], vec![]),
    ));
    let evs = h.model_events();
    assert!(
        evs.iter()
            .any(|e| matches!(e, ModelEvent::CallsReset { .. })),
        "{evs:#?}"
    );
    assert!(h.s.model().appearance(agent_a).is_none());
}

#[test]
fn another_version_after_an_outage_means_the_pbx_restarted() {
    let version_request = |out: &[P]| {
        out.iter()
            .find_map(|p| match p {
                P::Generalcmd(g) => Some(g.requestid),
                _ => None,
            })
            .expect("the version is asked on every connection")
    };
    let version = |rid: i32, text: &str| {
        frame(P::Generaldata(pb::GeneralData {
            responseid: rid,
            payload: Some(pb::general_data::Payload::Versioninfo(text.into())),
        }))
    };
    let mut h = Harness::new(SessionConfig::default());
    h.s.handle_connected(h.now);
    let rid = version_request(&h.sent());
    let lines_id = h.answer_all(0)[0];
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=1, 1..=1, true)));
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    h.feed(version(rid, "IP Office 11.1.0.0 build 600"));
    let q = h.sub_id_of(&queue_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(vec![callinfo(1, State::Queueing, 7)], vec![]),
    ));
    h.sent();
    h.events();
    h.s.handle_closed(h.now, Disconnect::Failed("connection reset".into()));
    let at = h.s.poll_timeout().unwrap_or(h.now);
    h.advance(at - h.now);
    h.s.handle_connected(h.now);
    let rid = version_request(&h.sent());
    h.events();
    // Upgraded while away: a restart. The waiting call ends before anything is reported.
    h.feed(version(rid, "IP Office 12.2.0.0 build 31"));
    let evs = h.model_events();
    assert!(
        matches!(
            &evs[..],
            [
                ModelEvent::CallsReset { .. },
                ModelEvent::CallEnded { .. },
                ..
            ]
        ),
        "{evs:#?}"
    );
    assert_eq!(h.s.model().appearances().count(), 0);
    assert_eq!(
        h.s.model().version().map(|v| v.to_string()),
        Some("IP Office 12.2.0.0 build 31".into())
    );
}

#[test]
fn calls_in_the_first_report_after_subscribing_are_marked_present_at_connect() {
    let (mut h, _) = Harness::synced(1, 1);
    let q = h.sub_id_of(&queue_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(vec![callinfo(1, State::Queueing, 7)], vec![]),
    ));
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(vec![callinfo(2, State::Queueing, 8)], vec![]),
    ));
    let present: Vec<(i32, bool)> =
        h.s.model()
            .appearances()
            .map(|a| (a.key.callid, a.present_at_connect))
            .collect();
    assert_eq!(present, [(1, true), (2, false)]);
    // A line with no calls: its first call after the settle time is new.
    let a = h.sub_id_of(&user_entity(1));
    h.advance(Duration::from_secs(10));
    let n = h.next_notify();
    h.feed(notify(
        a,
        n,
        calls(vec![callinfo(9, State::Ringing, 9)], vec![]),
    ));
    assert!(
        h.s.model()
            .appearances()
            .any(|x| x.key.callid == 9 && !x.present_at_connect)
    );
}

// ---------------------------------------------------------------------------------------------
// Commands

use ipo_top::model::{Command, CommandId, CommandReport, CommandStatus, Priority, Text};

fn reports(h: &mut Harness) -> Vec<CommandReport> {
    h.events()
        .into_iter()
        .filter_map(|e| match e {
            SessionEvent::Command(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// The only SubscribeCmd sent since the last look.
fn the_command(h: &mut Harness) -> pb::SubscribeCmd {
    let out = h.sent();
    let cmds: Vec<_> = out
        .into_iter()
        .filter_map(|p| match p {
            P::Subscribecmd(c) => Some(c),
            _ => None,
        })
        .collect();
    match &cmds[..] {
        [c] => c.clone(),
        other => panic!(
            "expected one SubscribeCmd, got {other:?}; reports: {:?}",
            reports(h)
        ),
    }
}

/// Synced with agents 4101 (the supervisor) and 4102 and queue 7301; 7301 shows a waiting
/// call (callid 51, gcid 7); 4102 talks on another (callid 5, gcid 9).
fn with_calls(
    config: SessionConfig,
) -> (
    Harness,
    ipo_top::model::AppearanceId,
    ipo_top::model::AppearanceId,
) {
    let mut h = Harness::new(config);
    h.s.handle_connected(h.now);
    let lines_id = h.answer_all(0)[0];
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=2, 1..=1, true)));
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    for u in [1, 2] {
        let id = h.sub_id_of(&user_entity(u));
        let n = h.next_notify();
        h.feed(notify(
            id,
            n,
            pb::notify::Payload::User(pb::NotifyUser {
                extn: format!("{}", 4100 + u),
                featuresavailable: 0x0000_02FF,
                ..Default::default()
            }),
        ));
    }
    let q = h.sub_id_of(&queue_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(vec![callinfo(51, State::Queueing, 7)], vec![]),
    ));
    let mut talking = callinfo(5, State::Connected, 9);
    talking.featuresavailable = 0x0060_609D;
    let a = h.sub_id_of(&user_entity(2));
    let n = h.next_notify();
    h.feed(notify(a, n, calls(vec![talking], vec![])));
    h.sent();
    h.events();
    let id = |h: &Harness, callid| {
        h.s.model()
            .appearances()
            .find(|x| x.key.callid == callid)
            .map(|x| x.id)
            .expect("an appearance")
    };
    let (queued, agent) = (id(&h, 51), id(&h, 5));
    (h, queued, agent)
}

#[test]
fn a_transfer_goes_on_the_queue_subscription_then_is_accepted_then_done() {
    let (mut h, queued, _) = with_calls(SessionConfig::default());
    let q = h.sub_id_of(&queue_entity(1));
    h.s.handle_command(
        h.now,
        CommandId(1),
        Command::Transfer {
            on: queued,
            target: Text::from("4102"),
        },
    );
    let c = the_command(&mut h);
    assert_eq!(c.subscribe_id, q, "the queue appearance's subscription");
    assert!(c.requestid != 0);
    let Some(pb::subscribe_cmd::Payload::Callcontrol(cc)) = &c.payload else {
        panic!("{c:?}");
    };
    assert_eq!(cc.callid, 51);
    let f = cc.callfunction.clone().unwrap_or_default();
    assert_eq!(f.action, pb::call_function::Action::BlindTransfer as i32);
    assert_eq!(f.arg1, "4102");
    let r = reports(&mut h);
    assert!(
        matches!(&r[..], [r] if r.status == CommandStatus::Sent && r.requestid == Some(c.requestid)
            && r.subscribe_id == Some(q) && r.callid == Some(51)),
        "{r:?}"
    );

    // Accepted: the PBX said 0. Not done yet: nothing shows the call moved.
    h.feed(response(c.requestid, 0));
    let r = reports(&mut h);
    assert!(
        matches!(&r[..], [r] if r.status == CommandStatus::Accepted),
        "{r:?}"
    );

    // A Notify shows it ringing 4102: done.
    let mut ringing = callinfo(51, State::Ringing, 7);
    ringing.targets = Some(pb::Targets {
        target: vec![pb::Target {
            partyinfo: Some(pb::PartyInfo {
                number: "4102".into(),
                ..Default::default()
            }),
        }],
    });
    let n = h.next_notify();
    h.feed(notify(q, n, calls(vec![ringing], vec![])));
    let r = reports(&mut h);
    assert!(
        matches!(&r[..], [r] if matches!(&r.status, CommandStatus::Done { effect } if effect.contains("4102"))),
        "{r:?}"
    );
    // The caller hanging up now is not an abandon: the call was sent away from here.
    let n = h.next_notify();
    h.feed(notify(q, n, calls(vec![], vec![lost(51)])));
    let stats =
        h.s.model()
            .queue(&Guid::from_bytes(&guid(1001)))
            .map(|q| q.stats.clone())
            .unwrap_or_default();
    assert_eq!((stats.offered, stats.abandoned), (1, 0));
}

#[test]
fn accepted_without_effect_and_never_answered_are_told_apart() {
    let (mut h, queued, agent) = with_calls(SessionConfig::default());
    // DropCall answered SUCCESS, but the call stays (the document: it may).
    h.s.handle_command(h.now, CommandId(1), Command::Drop { on: queued });
    let c = the_command(&mut h);
    h.feed(response(c.requestid, 0));
    reports(&mut h);
    h.advance(Duration::from_secs(9));
    assert!(reports(&mut h).is_empty(), "still waiting");
    h.advance(Duration::from_secs(1));
    let r = reports(&mut h);
    assert!(
        matches!(&r[..], [r] if r.status == CommandStatus::NoEffect { accepted: true, waited_secs: 10 }),
        "{r:?}"
    );
    // Hold on the agent's call: never answered, never seen.
    h.s.handle_command(h.now, CommandId(2), Command::Hold { on: agent });
    let c = the_command(&mut h);
    assert_eq!(
        c.subscribe_id,
        h.sub_id_of(&user_entity(2)),
        "the agent's subscription"
    );
    reports(&mut h);
    h.advance(Duration::from_secs(10));
    let r = reports(&mut h);
    assert!(
        matches!(&r[..], [r] if r.status == CommandStatus::NoEffect { accepted: false, waited_secs: 10 }),
        "{r:?}"
    );
    // A late answer changes nothing.
    h.feed(response(c.requestid, 0));
    assert!(reports(&mut h).is_empty());
}

#[test]
fn each_failure_code_is_reported_by_its_documented_name_and_meaning() {
    let (mut h, queued, _) = with_calls(SessionConfig::default());
    for (n, code, name) in [
        (1, 612, "MTCTISESS_CALLCONTROL_TRANSFERFAILED"),
        (2, 602, "MTCTISESS_CALLCONTROL_CALLNOTFOUND"),
        (3, 609, "MTCTISESS_CALLCONTROL_INVALIDCALLSTATE"),
        (4, 608, "MTCTISESS_CALLCONTROL_BADFORMATTING"),
        (5, 5001, "MTCTISESS_REQUESTTIMEOUT"),
        (6, 5000, "MTCTISESS_REQUESTFAILED"),
    ] {
        h.s.handle_command(
            h.now,
            CommandId(n),
            Command::Transfer {
                on: queued,
                target: Text::from("9999"),
            },
        );
        let c = the_command(&mut h);
        h.feed(response(c.requestid, code));
        let r = reports(&mut h);
        let Some(CommandStatus::Failed {
            code: got,
            name: got_name,
            meaning,
        }) = r.last().map(|r| r.status.clone())
        else {
            panic!("{r:?}");
        };
        assert_eq!((got, got_name.as_str()), (code, name));
        assert!(!meaning.is_empty());
    }
    // A code the document does not list still says so.
    h.s.handle_command(h.now, CommandId(7), Command::Drop { on: queued });
    let c = the_command(&mut h);
    h.feed(response(c.requestid, 4242));
    let r = reports(&mut h);
    assert!(
        matches!(r.last().map(|r| r.status.to_string()), Some(s) if s.contains("result 4242") && s.contains("not in the MTCTI3 document")),
        "{r:?}"
    );
}

#[test]
fn commands_are_refused_up_front_with_the_reason_and_nothing_is_sent() {
    let (mut h, queued, agent) = with_calls(SessionConfig::default());
    let refused = |h: &mut Harness, cmd: Command| {
        h.s.handle_command(h.now, CommandId(1), cmd);
        let out = h.sent();
        assert!(
            !out.iter().any(|p| matches!(p, P::Subscribecmd(_))),
            "{out:?}"
        );
        match reports(h).pop().map(|r| r.status) {
            Some(CommandStatus::Refused { reason }) => reason.to_string(),
            other => panic!("{other:?}"),
        }
    };
    // The queue call does not offer Answer (bit 1), and Answer is for user lines anyway.
    let why = refused(&mut h, Command::Answer { on: queued });
    assert!(
        why.contains("AnswerCall works on a user's own calls only"),
        "{why}"
    );
    // SetPriority is for queue calls only.
    let why = refused(
        &mut h,
        Command::Priority {
            on: agent,
            priority: Priority::High,
        },
    );
    assert!(why.contains("queue calls only"), "{why}");
    // The agent's call does not offer Redirect now (bit 5 clear).
    let why = refused(
        &mut h,
        Command::Redirect {
            on: agent,
            target: Text::from("4101"),
        },
    );
    assert!(why.contains("does not offer Redirect"), "{why}");
    // Barge without [supervisor] extension.
    let why = refused(&mut h, Command::Barge { on: agent });
    assert!(why.contains("[supervisor] extension"), "{why}");
    // While disconnected: refused, never queued.
    h.s.handle_closed(h.now, Disconnect::Failed("connection reset".into()));
    h.events();
    let why = refused(
        &mut h,
        Command::Transfer {
            on: queued,
            target: Text::from("4102"),
        },
    );
    assert!(why.contains("not connected"), "{why}");
    let at = h.s.poll_timeout().unwrap_or(h.now);
    h.advance(at - h.now);
    h.s.handle_connected(h.now);
    let out = h.sent();
    assert!(
        !out.iter().any(|p| matches!(p, P::Subscribecmd(_))),
        "nothing was queued: {out:?}"
    );
}

#[test]
fn barge_and_pickup_go_from_the_supervisors_line_with_a_fresh_reference() {
    let (mut h, _, agent) = with_calls(SessionConfig {
        supervisor_extension: Some("4101".into()),
        ..SessionConfig::default()
    });
    let sup = h.sub_id_of(&user_entity(1));
    h.s.handle_command(h.now, CommandId(1), Command::Barge { on: agent });
    let c = the_command(&mut h);
    assert_eq!(c.subscribe_id, sup, "the supervisor's own subscription");
    let Some(pb::subscribe_cmd::Payload::Callcontrol(cc)) = &c.payload else {
        panic!("{c:?}");
    };
    let mk = cc.makecall.clone().unwrap_or_default();
    assert_eq!((mk.target.as_str(), mk.r#type), ("4102", 106));
    assert_eq!(cc.callid, 0, "a MakeCall names no callid");
    let first_ref = cc.referencecallid;
    assert!(first_ref != 0);
    h.feed(response(c.requestid, 0));
    // The supervisor's phone shows the new call with that reference: done.
    let mut joined = callinfo(3, State::Connected, 9);
    joined.referencecallid = first_ref;
    let n = h.next_notify();
    h.feed(notify(sup, n, calls(vec![joined], vec![])));
    let r = reports(&mut h);
    assert!(
        matches!(
            r.last().map(|r| &r.status),
            Some(CommandStatus::Done { .. })
        ),
        "{r:?}"
    );

    // Pickup of a call ringing 4102: MakeCall 108 to 4102, another reference; it fails at
    // once (a CallLost carrying only the reference): the supervisor is told.
    let a = h.sub_id_of(&user_entity(2));
    let n = h.next_notify();
    h.feed(notify(
        a,
        n,
        calls(vec![callinfo(6, State::Ringing, 11)], vec![]),
    ));
    h.sent();
    let ringing =
        h.s.model()
            .appearances()
            .find(|x| x.key.callid == 6)
            .map(|x| x.id)
            .expect("the ringing call");
    h.s.handle_command(h.now, CommandId(2), Command::Pickup { on: ringing });
    let c = the_command(&mut h);
    let Some(pb::subscribe_cmd::Payload::Callcontrol(cc)) = &c.payload else {
        panic!("{c:?}");
    };
    let mk = cc.makecall.clone().unwrap_or_default();
    assert_eq!((mk.target.as_str(), mk.r#type), ("4102", 108));
    assert!(cc.referencecallid != 0 && cc.referencecallid != first_ref);
    h.feed(response(c.requestid, 0));
    let n = h.next_notify();
    h.feed(notify(
        sup,
        n,
        calls(
            vec![],
            vec![pb::CallLost {
                callid: 0,
                referencecallid: cc.referencecallid,
                reason: 17,
                ..Default::default()
            }],
        ),
    ));
    let r = reports(&mut h);
    assert!(
        matches!(
            r.last().map(|r| &r.status),
            Some(CommandStatus::CallFailed { .. })
        ),
        "{r:?}"
    );
}

#[test]
fn the_supervisors_makecall_right_gates_barge_when_the_pbx_populates_it() {
    let (mut h, _, agent) = with_calls(SessionConfig {
        supervisor_extension: Some("4101".into()),
        ..SessionConfig::default()
    });
    // VALID set, MAKECALL (bit 6) clear.
    let sup = h.sub_id_of(&user_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        sup,
        n,
        pb::notify::Payload::User(pb::NotifyUser {
            extn: "4101".into(),
            featuresavailable: 0x0000_0003,
            ..Default::default()
        }),
    ));
    h.sent();
    h.events();
    h.s.handle_command(h.now, CommandId(1), Command::Barge { on: agent });
    assert!(!h.sent().iter().any(|p| matches!(p, P::Subscribecmd(_))));
    let r = reports(&mut h);
    assert!(
        matches!(r.last().map(|r| &r.status), Some(CommandStatus::Refused { reason }) if reason.contains("MAKECALL")),
        "{r:?}"
    );
}

#[test]
fn read_only_refuses_every_command_and_sends_no_subscribe_cmd() {
    let (mut h, queued, _) = with_calls(SessionConfig {
        read_only: true,
        supervisor_extension: Some("4101".into()),
        ..SessionConfig::default()
    });
    let q = Guid::from_bytes(&guid(1001));
    for cmd in [
        Command::Drop { on: queued },
        Command::Transfer {
            on: queued,
            target: Text::from("4102"),
        },
        Command::ServiceMode {
            queue: q.clone(),
            mode: ipo_top::model::ServiceMode::OutOfService,
        },
        Command::Dnd {
            user: Guid::from_bytes(&guid(2)),
            on: true,
        },
    ] {
        h.s.handle_command(h.now, CommandId(1), cmd);
        let r = reports(&mut h);
        assert!(
            matches!(r.last().map(|r| &r.status), Some(CommandStatus::Refused { reason }) if reason.contains("read-only")),
            "{r:?}"
        );
    }
    assert!(!h.sent().iter().any(|p| matches!(p, P::Subscribecmd(_))));
}

#[test]
fn a_link_drop_leaves_pending_commands_unknown() {
    let (mut h, queued, _) = with_calls(SessionConfig::default());
    h.s.handle_command(h.now, CommandId(1), Command::Drop { on: queued });
    the_command(&mut h);
    reports(&mut h);
    h.s.handle_closed(h.now, Disconnect::Failed("connection reset".into()));
    let r = reports(&mut h);
    assert!(
        matches!(
            r.last().map(|r| &r.status),
            Some(CommandStatus::Interrupted { .. })
        ),
        "{r:?}"
    );
}

#[test]
fn account_codes_are_read_once_after_the_sync_or_typed_freely() {
    use ipo_top::model::AccountCodes;
    let getfile = |out: &[P]| {
        out.iter().find_map(|p| match p {
            P::Generalcmd(g) => match &g.payload {
                Some(pb::general_cmd::Payload::Getfile(f)) => Some((g.requestid, f.fname.clone())),
                _ => None,
            },
            _ => None,
        })
    };
    let mut h = Harness::new(SessionConfig::default());
    h.s.handle_connected(h.now);
    let lines_id = h.answer_all(0)[0];
    assert_eq!(getfile(&h.sent()), None, "not before the sync");
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=1, 1..=1, true)));
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    let out: Vec<P> = h.log.drain(..).collect();
    assert!(
        h.s.model().account_codes().free_text(),
        "free text until known"
    );
    let Some((rid, fname)) = getfile(&out) else {
        panic!("asked after the sync: {out:?}");
    };
    assert_eq!(fname, "nasystem/AccountCode");
    h.feed(response(rid, 0));
    h.feed(frame(P::Generaldata(pb::GeneralData {
        responseid: rid,
        payload: Some(pb::general_data::Payload::Getfile(pb::GetFileResponse {
            cmdinst: 1,
            fname,
            result: 0,
            payload: b"1001\n1002 Marketing\n".to_vec(),
        })),
    })));
    assert_eq!(
        h.s.model().account_codes(),
        &AccountCodes::List {
            codes: vec![Text::from("1001"), Text::from("1002")]
        }
    );
    // Not again after a reconnect.
    h.s.handle_closed(h.now, Disconnect::Failed("reset".into()));
    let at = h.s.poll_timeout().unwrap_or(h.now);
    h.advance(at - h.now);
    h.s.handle_connected(h.now);
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    let n = h.next_notify();
    h.feed(notify(
        h.sub_id_of(&Entity::Lines),
        n,
        lines(1..=1, 1..=1, true),
    ));
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::Synced(_)))
    );
    let out: Vec<P> = h.log.drain(..).collect();
    assert_eq!(getfile(&out), None, "read once");

    // A file that is not text: free text, with the reason.
    let mut h = Harness::new(SessionConfig::default());
    h.s.handle_connected(h.now);
    let lines_id = h.answer_all(0)[0];
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=1, 1..=1, true)));
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    let out: Vec<P> = h.log.drain(..).collect();
    let (rid, fname) = getfile(&out).expect("asked");
    h.feed(response(rid, 0));
    h.feed(frame(P::Generaldata(pb::GeneralData {
        responseid: rid,
        payload: Some(pb::general_data::Payload::Getfile(pb::GetFileResponse {
            cmdinst: 1,
            fname,
            result: 0,
            payload: vec![0xFF, 0x00, 0x13],
        })),
    })));
    assert!(
        matches!(h.s.model().account_codes(), AccountCodes::FreeText { reason } if reason.contains("not text"))
    );
}

#[test]
fn the_secondary_is_used_while_the_primary_cannot_be_reached_and_left_when_it_returns() {
    use ipo_top::session::{Endpoint, Secret, Trust};
    let secondary = Endpoint {
        host: "10.1.2.4".into(),
        port: 443,
        username: "ctiservice".into(),
        password: Secret::new("x"),
        trust: Trust::SystemRoots,
        connect_timeout: Duration::from_secs(10),
    };
    let mut h = Harness::new(SessionConfig {
        secondary: Some(secondary),
        primary_probe: Duration::from_secs(60),
        ..SessionConfig::default()
    });
    assert_eq!(h.io().first(), Some(&Io::Connect(PbxSystem::Primary)));
    assert_eq!(h.s.target(), PbxSystem::Primary);
    // The primary refuses: the next attempt, after the backoff, goes to the secondary.
    h.s.handle_closed(h.now, Disconnect::Failed("connection refused".into()));
    assert_eq!(h.s.target(), PbxSystem::Secondary);
    let at = h.s.poll_timeout().unwrap_or(h.now);
    h.advance(at - h.now);
    assert!(h.io().contains(&Io::Connect(PbxSystem::Secondary)));
    h.s.handle_connected(h.now);
    let lines_id = h.answer_all(0)[0];
    let n = h.next_notify();
    h.feed(notify(lines_id, n, lines(1..=1, 1..=1, true)));
    h.sent();
    while !h.open.is_empty() {
        h.answer_all(0);
    }
    assert_eq!(h.s.model().system(), Some(PbxSystem::Secondary));
    let q = h.sub_id_of(&queue_entity(1));
    let n = h.next_notify();
    h.feed(notify(
        q,
        n,
        calls(vec![callinfo(1, State::Queueing, 7)], vec![]),
    ));
    h.sent();
    h.events();

    // Every minute it looks at the primary (a handshake, nothing sent); while it does not
    // answer, the session stays.
    h.advance(Duration::from_secs(60));
    assert!(h.io().contains(&Io::Probe(PbxSystem::Primary)));
    h.s.handle_probe(h.now, false);
    assert!(h.s.is_connected());
    h.advance(Duration::from_secs(60));
    assert!(h.io().contains(&Io::Probe(PbxSystem::Primary)));
    // It answers: the session leaves the secondary and connects to the primary at once.
    h.s.handle_probe(h.now, true);
    let evs = h.io();
    assert!(
        evs.contains(&Io::Close) && evs.contains(&Io::Connect(PbxSystem::Primary)),
        "{evs:?}"
    );
    assert_eq!(h.s.target(), PbxSystem::Primary);
    h.s.handle_connected(h.now);
    let evs = h.model_events();
    // The secondary's calls cannot be matched on the primary: they end.
    assert!(
        evs.iter()
            .any(|e| matches!(e, ModelEvent::CallsReset { reason } if reason.contains("primary"))),
        "{evs:#?}"
    );
    assert_eq!(h.s.model().system(), Some(PbxSystem::Primary));
    assert_eq!(h.s.model().appearances().count(), 0);
}

#[test]
fn a_barge_for_another_supervisor_goes_from_that_supervisors_line() {
    // The serving side of shared mode: no supervisor of its own; a viewer mapped to 4101.
    let (mut h, _, agent) = with_calls(SessionConfig::default());
    h.s.handle_command(h.now, CommandId(1), Command::Barge { on: agent });
    assert!(!h.sent().iter().any(|p| matches!(p, P::Subscribecmd(_))));
    match reports(&mut h).pop().map(|r| r.status) {
        Some(CommandStatus::Refused { reason }) => {
            assert!(reason.contains("[supervisor] extension"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let theirs = h.sub_id_of(&user_entity(1));
    h.s.handle_command_as(
        h.now,
        CommandId(2),
        Command::Barge { on: agent },
        Some("4101"),
    );
    let c = the_command(&mut h);
    assert_eq!(c.subscribe_id, theirs, "4101's subscription, 4101's phone");
    let Some(pb::subscribe_cmd::Payload::Callcontrol(cc)) = &c.payload else {
        panic!("{c:?}");
    };
    let mk = cc.makecall.clone().unwrap_or_default();
    assert_eq!((mk.target.as_str(), mk.r#type), ("4102", 106));
}
