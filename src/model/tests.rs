//! The model's story: a queue call arrives, rings an agent, is answered and ends; the link
//! drops and the calls are matched again; a slow reader gets a coalesced copy.

use std::time::{Duration, Instant};

use super::*;

fn guid(b: u8) -> Guid {
    Guid::from_bytes(&[0xDC, 0x51, b])
}

fn gcid(b: u8) -> Option<Gcid> {
    Some(Gcid::from_bytes(&[0x01, 0xC0, 0xA8, b]))
}

fn entry(b: u8, extn: &str, name: &str) -> LineEntry {
    LineEntry {
        guid: guid(b),
        extn: extn.into(),
        name: name.into(),
    }
}

fn party(number: &str, name: &str) -> Option<Party> {
    Some(Party {
        number: number.into(),
        name: name.into(),
        ..Party::default()
    })
}

/// The model's events, statistics left out (queues' figures and the counting period have
/// their own tests).
fn drain(m: &mut Model) -> Vec<ModelEvent> {
    std::iter::from_fn(|| m.poll_event())
        .filter(|e| {
            !matches!(
                e,
                ModelEvent::QueueChanged { .. } | ModelEvent::StatsPeriod { .. }
            )
        })
        .collect()
}

/// A site with agent 4101 (Available), agent 4102 and queue 7301 "Claims Desk".
fn site(now: Instant) -> Model {
    let mut m = Model::new();
    m.upsert_user(now, entry(1, "4101", "Achterberg"));
    m.upsert_user(now, entry(2, "4102", "Nakashima"));
    m.upsert_queue(entry(9, "7301", "Claims Desk"));
    for g in [1, 2] {
        m.set_user_status(
            now,
            &guid(g),
            Text::empty(),
            Text::empty(),
            UserStatus::default(),
        );
    }
    drain(&mut m);
    m
}

fn queued(callid: i32, state: CallState) -> CallSnapshot {
    CallSnapshot {
        callid,
        state,
        direction: Direction::Inbound,
        gcid: gcid(0x0B),
        features: CallFeatureBits(0x6060_E0B1),
        calling: party("02079460958", "Harbour Freight Ltd"),
        queue: Some(QueueDetail {
            number: "7301".into(),
            name: "Claims Desk".into(),
            priority: 2,
            ..QueueDetail::default()
        }),
        ..CallSnapshot::default()
    }
}

#[test]
fn a_queue_call_from_arrival_to_end() {
    let t0 = Instant::now();
    let mut m = site(t0);
    let q = LineId::Queue(guid(9));
    let agent = LineId::User(guid(1));

    // QUEUEING on the queue: a new appearance.
    assert!(m.call_info(t0, q.clone(), queued(51, CallState::Queueing)));
    let evs = drain(&mut m);
    let [ModelEvent::CallNew { call }] = evs.as_slice() else {
        panic!("expected one CallNew, got {evs:?}");
    };
    assert_eq!(call.key.callid, 51);
    assert_eq!(call.line.name, "Claims Desk");
    assert!(!call.state_observed, "it was queueing before we saw it");
    let queue_id = call.id;

    // The same snapshot again: nothing changed, nothing emitted.
    m.call_info(t0, q.clone(), queued(51, CallState::Queueing));
    assert!(drain(&mut m).is_empty());

    // It rings agent 4101: the queue appearance changes state and gains a target; the agent
    // gets its own appearance (its own callid) with the same gcid, and turns RING.
    let t1 = t0 + Duration::from_secs(40);
    let mut ringing = queued(51, CallState::Ringing);
    ringing.targets = vec![party("4101", "Achterberg").unwrap_or_default()];
    m.call_info(t1, q.clone(), ringing);
    let mut on_agent = queued(7, CallState::Ringing);
    on_agent.features = CallFeatureBits(0x23);
    m.call_info(t1, agent.clone(), on_agent);
    let evs = drain(&mut m);
    assert!(
        matches!(
            &evs[..],
            [
                ModelEvent::CallChanged { from: Some(CallState::Queueing), changes, .. },
                ModelEvent::CallNew { call },
                ModelEvent::UserChanged { agent_from: Some(AgentState::Available), user },
            ] if changes.state && changes.targets && !changes.parties
                && call.key == AppearanceKey { line: agent.clone(), callid: 7 }
                && user.agent.state == AgentState::Ringing && user.agent.observed
        ),
        "{evs:#?}"
    );
    let agent_id = m
        .appearance_at(&AppearanceKey {
            line: agent.clone(),
            callid: 7,
        })
        .map(|a| a.id);
    let linked: Vec<_> = m.linked(queue_id).iter().map(|a| a.id).collect();
    assert_eq!(linked, agent_id.into_iter().collect::<Vec<_>>());
    assert_eq!(
        m.appearance(queue_id).map(|a| a.state_since),
        Some(t1),
        "time in state restarts on a state change"
    );

    // Answered: CONNECTED with a connected party on both.
    let t2 = t1 + Duration::from_secs(5);
    let mut answered = queued(51, CallState::Connected);
    answered.connected = party("4101", "Achterberg");
    m.call_info(t2, q.clone(), answered);
    let mut talking = queued(7, CallState::Connected);
    talking.connected = party("02079460958", "Harbour Freight Ltd");
    m.call_info(t2, agent.clone(), talking);
    let evs = drain(&mut m);
    assert!(
        matches!(
            &evs[..],
            [
                ModelEvent::CallChanged { from: Some(CallState::Ringing), changes: c1, .. },
                ModelEvent::CallChanged { from: Some(CallState::Ringing), changes: c2, .. },
                ModelEvent::UserChanged { agent_from: Some(AgentState::Ringing), user },
            ] if c1.parties && c2.parties && user.agent.state == AgentState::Talking
        ),
        "{evs:#?}"
    );

    // The caller hangs up: CallLost ends both appearances with the PBX's reason; the agent
    // goes into after-call work (an AFTERCALLWORK appearance), then is available again.
    let t3 = t2 + Duration::from_secs(240);
    let lost = |callid| CallLost {
        callid,
        cause: 16,
        ..CallLost::default()
    };
    assert!(m.call_lost(t3, q.clone(), lost(51)));
    assert!(m.call_lost(t3, agent.clone(), lost(7)));
    m.call_info(
        t3,
        agent.clone(),
        CallSnapshot {
            callid: 8,
            state: CallState::AfterCallWork,
            ..CallSnapshot::default()
        },
    );
    let evs = drain(&mut m);
    assert!(
        matches!(
            &evs[..],
            [
                ModelEvent::CallEnded { reason: EndReason::Lost { cause: 16, .. }, .. },
                ModelEvent::CallEnded { .. },
                ModelEvent::UserChanged { agent_from: Some(AgentState::Talking), user: u1 },
                ModelEvent::CallNew { .. },
                ModelEvent::UserChanged { agent_from: Some(AgentState::Available), user: u2 },
            ] if u1.agent.state == AgentState::Available && u2.agent.state == AgentState::AfterCallWork
        ),
        "{evs:#?}"
    );
    assert!(m.appearance(queue_id).is_none());
    assert!(m.linked(queue_id).is_empty());
    assert!(
        !m.call_lost(t3, q, lost(51)),
        "a second CallLost finds nothing"
    );
}

#[test]
fn agent_state_precedence() {
    let t0 = Instant::now();
    let mut m = site(t0);
    let agent = LineId::User(guid(1));
    let state = |m: &Model| m.user(&guid(1)).map(|u| u.agent.state);

    // Talking beats a second call ringing; held alone is HOLD.
    m.call_info(t0, agent.clone(), queued(1, CallState::Connected));
    m.call_info(t0, agent.clone(), queued(2, CallState::Ringing));
    assert_eq!(state(&m), Some(AgentState::Talking));
    m.call_info(t0, agent.clone(), queued(1, CallState::OnHold));
    assert_eq!(state(&m), Some(AgentState::Ringing));
    m.call_lost(
        t0,
        agent.clone(),
        CallLost {
            callid: 2,
            ..CallLost::default()
        },
    );
    assert_eq!(state(&m), Some(AgentState::Held));
    m.call_lost(
        t0,
        agent.clone(),
        CallLost {
            callid: 1,
            ..CallLost::default()
        },
    );
    assert_eq!(state(&m), Some(AgentState::Available));

    // DND, logged off and fault come from the user's status; fault hides everything.
    let mut s = UserStatus {
        dnd: true,
        ..UserStatus::default()
    };
    m.set_user_status(t0, &guid(1), Text::empty(), Text::empty(), s.clone());
    assert_eq!(state(&m), Some(AgentState::Dnd));
    s.logged_off = true;
    m.set_user_status(t0, &guid(1), Text::empty(), Text::empty(), s.clone());
    assert_eq!(state(&m), Some(AgentState::LoggedOff));
    s.extn_fault = true;
    m.set_user_status(t0, &guid(1), Text::empty(), Text::empty(), s);
    assert_eq!(state(&m), Some(AgentState::Fault));
}

#[test]
fn user_features_are_honoured_only_when_valid() {
    let none = UserFeatureBits(0);
    assert!(!none.is_valid());
    assert!(
        none.allows(UserFunction::MakeCall),
        "not populated: the PBX judges"
    );
    let no_makecall = UserFeatureBits(0x1 | 0x2);
    assert!(!no_makecall.allows(UserFunction::MakeCall));
    assert!(no_makecall.allows(UserFunction::Sac));
    assert!(UserFeatureBits(0x41).allows(UserFunction::MakeCall));
}

#[test]
fn resubscription_matches_calls_by_gcid_and_ends_the_rest() {
    let t0 = Instant::now();
    let mut m = site(t0);
    let q = LineId::Queue(guid(9));
    m.call_info(t0, q.clone(), queued(51, CallState::Queueing));
    let mut other = queued(52, CallState::Queueing);
    other.gcid = gcid(0x0C);
    m.call_info(t0, q.clone(), other);
    let mut reused = queued(53, CallState::Queueing);
    reused.gcid = gcid(0x0D);
    m.call_info(t0, q.clone(), reused);
    let id_of = |m: &Model, callid| {
        m.appearance_at(&AppearanceKey {
            line: LineId::Queue(guid(9)),
            callid,
        })
        .map(|a| a.id)
    };
    let first = id_of(&m, 51);
    drain(&mut m);

    // The link dropped; the queue is subscribed again and the PBX numbers calls afresh.
    m.begin_resync(&q);
    assert!(m.resync_pending(&q));
    let t1 = t0 + Duration::from_secs(30);
    // Call 0x0B comes back as callid 1: same appearance, new key, first-seen kept.
    m.call_info(t1, q.clone(), queued(1, CallState::Ringing));
    // Callid 53 now names a different call (gcid 0x0E): the old one ends, a new one starts.
    let mut newcomer = queued(53, CallState::Queueing);
    newcomer.gcid = gcid(0x0E);
    m.call_info(t1, q.clone(), newcomer);
    let evs = drain(&mut m);
    assert!(
        matches!(
            &evs[..],
            [
                ModelEvent::CallChanged { call, from: Some(CallState::Queueing), .. },
                ModelEvent::CallEnded { reason: EndReason::NotReported, call: gone },
                ModelEvent::CallNew { call: fresh },
            ] if Some(call.id) == first && call.key.callid == 1 && call.first_seen == t0
                && gone.key.callid == 53 && fresh.call.gcid == gcid(0x0E)
        ),
        "{evs:#?}"
    );
    assert_eq!(id_of(&m, 1), first);
    assert_eq!(id_of(&m, 51), None);

    // Call 0x0C (callid 52) was not reported again: it ends when the resync finishes.
    m.finish_resync(t1, &q);
    let evs = drain(&mut m);
    assert!(
        matches!(
            &evs[..],
            [ModelEvent::CallEnded { call, reason: EndReason::NotReported }] if call.key.callid == 52
        ),
        "{evs:#?}"
    );
    assert!(!m.resync_pending(&q));
    assert_eq!(m.appearances_on(&q).count(), 2);
}

#[test]
fn lines_changes_rename_and_remove() {
    let t0 = Instant::now();
    let mut m = site(t0);
    assert_eq!(
        m.upsert_user(t0, entry(1, "4101", "Achterberg")),
        Upsert::Unchanged
    );
    assert_eq!(
        m.upsert_user(t0, entry(1, "4111", "Achterberg-Ng")),
        Upsert::Renamed
    );
    assert_eq!(
        m.user_by_extn("4111").map(|u| u.name.to_string()),
        Some("Achterberg-Ng".into())
    );
    m.call_info(t0, LineId::User(guid(1)), queued(7, CallState::Connected));
    drain(&mut m);

    assert!(m.remove_user(t0, &guid(1), RemoveReason::Deleted));
    let evs = drain(&mut m);
    assert!(
        matches!(
            &evs[..],
            [
                ModelEvent::CallEnded { reason: EndReason::LineRemoved, .. },
                ModelEvent::UserRemoved { reason: RemoveReason::Deleted, extn, .. },
            ] if extn == "4111"
        ),
        "{evs:#?}"
    );
    assert!(m.user(&guid(1)).is_none());
    assert!(
        !m.call_info(t0, LineId::User(guid(1)), queued(8, CallState::Ringing)),
        "a snapshot for a removed line is ignored"
    );

    assert_eq!(m.upsert_queue(entry(9, "7301", "Claims")), Upsert::Renamed);
    assert!(m.remove_queue(t0, &guid(9), RemoveReason::NotFound));
    assert!(m.queues().next().is_none());
}

#[test]
fn parked_calls_end_when_the_park_server_goes() {
    let t0 = Instant::now();
    let mut m = site(t0);
    m.set_park_available(t0, true);
    let mut parked = queued(3, CallState::OnHold);
    parked.park_slot = "1".into();
    assert!(m.call_info(t0, LineId::ParkServer, parked));
    assert_eq!(m.parked().count(), 1);
    drain(&mut m);
    m.set_park_available(t0, false);
    let evs = drain(&mut m);
    assert!(matches!(
        &evs[..],
        [
            ModelEvent::ParkServer { available: false },
            ModelEvent::CallEnded {
                reason: EndReason::ParkServerGone,
                ..
            }
        ]
    ));
}

/// Asserts two models hold the same users, queues and appearances.
fn assert_same(a: &Tables, b: &Tables) {
    let users = |m: &Tables| m.users().cloned().collect::<Vec<_>>();
    let queues = |m: &Tables| m.queues().cloned().collect::<Vec<_>>();
    let calls = |m: &Tables| m.appearances().cloned().collect::<Vec<_>>();
    assert_eq!(users(a), users(b));
    assert_eq!(queues(a), queues(b));
    assert_eq!(calls(a), calls(b));
    assert_eq!(a.connection(), b.connection());
    assert_eq!(a.park_available(), b.park_available());
    assert_eq!(a.stats_period(), b.stats_period());
}

#[test]
fn a_slow_reader_gets_a_coalesced_copy() {
    let t0 = Instant::now();
    let mut m = Model::new();
    let mut replica = Tables::new();
    let mut pending = Coalescer::new();
    let feed = |m: &mut Model, pending: &mut Coalescer| {
        while let Some(ev) = m.poll_event() {
            pending.push(ev);
        }
    };

    m.set_connection(ConnectionState::Connecting { attempt: 1 });
    m.upsert_user(t0, entry(1, "4101", "Achterberg"));
    m.upsert_queue(entry(9, "7301", "Claims Desk"));
    m.set_user_status(
        t0,
        &guid(1),
        Text::empty(),
        Text::empty(),
        UserStatus::default(),
    );
    m.set_connection(ConnectionState::Syncing {
        confirmed: 1,
        wanted: 2,
    });
    m.set_connection(ConnectionState::Connected {
        round_trip_ms: Some(3.1),
    });
    let q = LineId::Queue(guid(9));
    for state in [
        CallState::Queueing,
        CallState::Ringing,
        CallState::Connected,
    ] {
        m.call_info(t0, q.clone(), queued(51, state));
    }
    m.call_info(t0, q.clone(), queued(52, CallState::Queueing));
    m.call_lost(
        t0,
        q.clone(),
        CallLost {
            callid: 52,
            ..CallLost::default()
        },
    );
    feed(&mut m, &mut pending);

    let burst = pending.take();
    let kinds: Vec<_> = burst
        .iter()
        .map(|e| match e {
            ModelEvent::Connection { .. } => "connection",
            ModelEvent::UserAdded { .. } => "user_added",
            ModelEvent::QueueAdded { .. } => "queue_added",
            ModelEvent::CallNew { .. } => "call_new",
            ModelEvent::CallEnded { .. } => "call_ended",
            ModelEvent::StatsPeriod { .. } => "stats_period",
            _ => "other",
        })
        .collect();
    // The counting period; one connection event (the latest); the user's status folded into
    // its addition (which moves to where the latest change was); call 51 folded into one
    // CallNew in its latest state, call 52 kept as new and ended; the queue's figures folded
    // into its addition, last.
    assert_eq!(
        kinds,
        [
            "stats_period",
            "user_added",
            "connection",
            "call_new",
            "call_new",
            "call_ended",
            "queue_added"
        ]
    );
    assert!(matches!(
        &burst[2],
        ModelEvent::Connection {
            state: ConnectionState::Connected { .. }
        }
    ));
    assert!(
        matches!(&burst[3], ModelEvent::CallNew { call } if call.call.state == CallState::Connected)
    );
    assert!(matches!(&burst[6], ModelEvent::QueueAdded { queue }
        if queue.stats.offered == 2 && queue.stats.answered == 1 && queue.stats.abandoned == 1));
    for ev in &burst {
        replica.apply(ev);
    }
    assert_same(&m, &replica);
    assert!(pending.is_empty());

    // Renames and removals reach the replica too.
    m.upsert_user(t0, entry(1, "4111", "Achterberg"));
    m.remove_queue(t0, &guid(9), RemoveReason::Deleted);
    feed(&mut m, &mut pending);
    for ev in pending.take() {
        replica.apply(&ev);
    }
    assert_same(&m, &replica);
}

#[test]
fn events_serialise_with_numbers_names_queue_and_state() {
    let t0 = Instant::now();
    let mut m = site(t0);
    m.call_info(t0, LineId::Queue(guid(9)), queued(51, CallState::Queueing));
    let Some(ev) = m.poll_event() else {
        panic!("no event");
    };
    let v = serde_json::to_value(&ev).unwrap_or_default();
    assert_eq!(v["type"], "call_new");
    let call = &v["call"];
    assert_eq!(call["key"]["line"]["kind"], "queue");
    assert_eq!(call["key"]["callid"], 51);
    assert_eq!(call["line"]["name"], "Claims Desk");
    assert_eq!(call["state"], "QUEUEING");
    assert_eq!(call["direction"], "INBOUND");
    assert_eq!(call["calling"]["number"], "02079460958");
    assert_eq!(call["calling"]["name"], "Harbour Freight Ltd");
    assert_eq!(call["queue"]["name"], "Claims Desk");
    assert_eq!(call["queue"]["priority"], 2);
    assert_eq!(call["gcid"], "01C0A80B");
    assert_eq!(call["features"][0], "DropCall");

    let mut m2 = site(t0);
    m2.set_user_status(
        t0,
        &guid(1),
        Text::empty(),
        Text::empty(),
        UserStatus {
            dnd: true,
            ..UserStatus::default()
        },
    );
    let Some(ev) = m2.poll_event() else {
        panic!("no event");
    };
    let v = serde_json::to_value(&ev).unwrap_or_default();
    assert_eq!(v["type"], "user_changed");
    assert_eq!(v["user"]["extn"], "4101");
    assert_eq!(v["user"]["agent"]["state"], "DND");
    assert_eq!(v["agent_from"], "AVAIL");
}

#[test]
fn a_withheld_caller_is_the_other_party_of_an_incoming_call() {
    let snap = CallSnapshot {
        callid: 7,
        state: CallState::Connected,
        direction: Direction::Inbound,
        called: "03007303".into(),
        calling: Some(Party {
            withheld: true,
            ..Party::default()
        }),
        ..CallSnapshot::default()
    };
    let other = snap.other_party().expect("the caller");
    assert!(other.withheld);
    assert_eq!(other.label(), "withheld");
    // An outgoing call's other party is still the number dialled.
    let out = CallSnapshot {
        direction: Direction::Outbound,
        ..snap
    };
    assert_eq!(
        out.other_party().map(|p| p.label()),
        Some("03007303".to_owned())
    );
}

#[test]
fn a_reader_far_behind_gets_new_and_ended_as_one_and_a_bounded_backlog() {
    let t0 = Instant::now();
    let mut m = Model::new();
    let mut replica = Tables::new();
    let limits = MailboxLimits {
        fold_after: 10,
        max_pending: 30,
    };
    let mut pending = Coalescer::bounded(limits);
    let mut most = 0;
    let mut feed = |m: &mut Model, pending: &mut Coalescer| {
        while let Some(ev) = m.poll_event() {
            pending.push(ev);
            most = most.max(pending.len());
        }
    };
    m.upsert_queue(entry(9, "7301", "Claims Desk"));
    feed(&mut m, &mut pending);
    for ev in pending.take() {
        replica.apply(&ev);
    }

    // The reader stops reading while 1000 callers come and go, and one stays.
    let q = LineId::Queue(guid(9));
    for callid in 1..=1000 {
        m.call_info(t0, q.clone(), queued(callid, CallState::Queueing));
        m.call_lost(
            t0,
            q.clone(),
            CallLost {
                callid,
                ..CallLost::default()
            },
        );
        feed(&mut m, &mut pending);
    }
    m.call_info(t0, q.clone(), queued(2000, CallState::Queueing));
    feed(&mut m, &mut pending);
    assert!(most <= limits.max_pending, "bounded: {most}");

    let folded = pending.take_folded();
    let burst = pending.take();
    let news = burst
        .iter()
        .filter(|e| matches!(e, ModelEvent::CallNew { .. }))
        .count() as u64;
    let ends = burst
        .iter()
        .filter(|e| matches!(e, ModelEvent::CallEnded { .. }))
        .count() as u64;
    // Every new and ended appearance is either given or counted as folded.
    assert_eq!(
        news + ends + folded,
        2001,
        "{news} new, {ends} ended, {folded} folded"
    );
    assert!(folded > 0);
    // An ended event whose new was folded carries the call's last snapshot.
    assert!(burst.iter().any(|e| matches!(e,
        ModelEvent::CallEnded { call, .. } if call.call.state == CallState::Queueing)));
    for ev in &burst {
        replica.apply(ev);
    }
    // Nothing stale, nothing missing: the copy is the model.
    assert_same(&m, &replica);
    assert_eq!(replica.sizes().appearances, 1);
    assert_eq!(pending.take_folded(), 0, "told once");
}
