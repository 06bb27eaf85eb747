use std::time::{Duration, Instant};

use super::*;
use crate::model::{
    AgentState, AgentStatus, Appearance, AppearanceId, AppearanceKey, CallSnapshot, CallState,
    Guid, LineId, LineLabel, Party, Queue, QueueStats, User, UserStatus,
};
use crate::share::publish::{KvOp, Publisher};

fn clock(at: Instant, unix_ms: i64) -> WallClock {
    WallClock::utc(at, unix_ms)
}

fn user(g: u8, extn: &str, now: Instant) -> Arc<User> {
    Arc::new(User {
        guid: Guid::from_bytes(&[0xAB, g]),
        extn: extn.into(),
        name: format!("Agent {extn}").into(),
        status: Some(UserStatus {
            full_name: "Ada Lindqvist".into(),
            ..UserStatus::default()
        }),
        phone: None,
        agent: AgentStatus {
            state: AgentState::Available,
            since: now,
            observed: true,
        },
        stats: crate::model::AgentStats::new(now),
    })
}

fn queue(now: Instant) -> Arc<Queue> {
    Arc::new(Queue {
        guid: Guid::from_bytes(&[0x73, 0x01]),
        extn: "7301".into(),
        name: "Claims Desk".into(),
        status: None,
        stats: QueueStats {
            waiting: 1,
            offered: 5,
            answered: 3,
            timed_answered: 3,
            answered_in_sl: 2,
            answer_wait_ms: 9000,
            oldest_waiting: Some(now),
            ..QueueStats::default()
        },
    })
}

fn call(id: u64, q: &Queue, state: CallState, now: Instant) -> Arc<Appearance> {
    Arc::new(Appearance {
        id: AppearanceId(id),
        key: AppearanceKey {
            line: LineId::Queue(q.guid.clone()),
            callid: 40 + i32::try_from(id).unwrap_or(0),
        },
        line: LineLabel {
            extn: q.extn.clone(),
            name: q.name.clone(),
        },
        first_seen: now,
        state_since: now,
        state_observed: true,
        present_at_connect: false,
        call: CallSnapshot {
            callid: 40,
            state,
            calling: Some(Party {
                number: "07700900888".into(),
                name: "Yusuf Demir".into(),
                ..Party::default()
            }),
            ..CallSnapshot::default()
        },
    })
}

/// The serving side: its tables take the event, the publisher writes; the viewer's replica
/// reads what was written.
struct Site {
    tables: Tables,
    publisher: Publisher,
    bucket: std::collections::BTreeMap<String, Vec<u8>>,
    serve_clock: WallClock,
}

impl Site {
    fn event(&mut self, ev: ModelEvent) -> Vec<KvOp> {
        self.tables.apply(&ev);
        let ops = self.publisher.event(&ev, &self.tables, &self.serve_clock);
        for op in &ops {
            match op {
                KvOp::Put { key, value } => {
                    self.bucket.insert(key.clone(), value.clone());
                }
                KvOp::Purge { key } => {
                    self.bucket.remove(key);
                }
            }
        }
        ops
    }
}

fn same(a: &Tables, b: &Tables) {
    let users = |t: &Tables| t.users().map(|u| (**u).clone()).collect::<Vec<_>>();
    let queues = |t: &Tables| t.queues().map(|q| (**q).clone()).collect::<Vec<_>>();
    let calls = |t: &Tables| t.appearances().map(|c| (**c).clone()).collect::<Vec<_>>();
    assert_eq!(users(a), users(b));
    assert_eq!(queues(a), queues(b));
    assert_eq!(calls(a), calls(b));
}

#[test]
fn a_viewer_builds_the_serving_sides_model_from_the_watch_event_by_event() {
    // The two machines' clocks are read at different instants: the Unix times carry over.
    let t0 = Instant::now();
    let serve_clock = clock(t0, 1_765_000_000_000);
    let view_clock = clock(t0, 1_765_000_000_000);
    let mut site = Site {
        tables: Tables::new(),
        publisher: Publisher::new(),
        bucket: Default::default(),
        serve_clock,
    };
    let mut viewer = Replica::new();
    let mut seen = Vec::new();
    let q = queue(t0);
    let u = user(1, "4101", t0);
    let c = call(1, &q, CallState::Queueing, t0);
    for ev in [
        ModelEvent::QueueAdded { queue: q.clone() },
        ModelEvent::UserAdded { user: u.clone() },
        ModelEvent::CallNew { call: c.clone() },
    ] {
        for op in &site.event(ev) {
            seen.extend(viewer.apply(op.into(), &view_clock).expect("readable"));
        }
    }
    assert!(matches!(
        seen.as_slice(),
        [
            ModelEvent::QueueAdded { .. },
            ModelEvent::UserAdded { .. },
            ModelEvent::CallNew { .. }
        ]
    ));
    same(&site.tables, viewer.tables());

    // The call is answered: one change, with the state before.
    let mut answered = (*c).clone();
    answered.call.state = CallState::Connected;
    answered.state_since = t0 + Duration::from_secs(12);
    let ops = site.event(ModelEvent::CallChanged {
        call: Arc::new(answered),
        from: Some(CallState::Queueing),
        changes: Default::default(),
    });
    let evs: Vec<_> = ops
        .iter()
        .flat_map(|op| viewer.apply(op.into(), &view_clock).expect("readable"))
        .collect();
    match evs.as_slice() {
        [ModelEvent::CallChanged { from, changes, .. }] => {
            assert_eq!(*from, Some(CallState::Queueing));
            assert!(changes.state);
        }
        other => panic!("{other:?}"),
    }
    // An event that changes nothing a viewer sees writes nothing.
    assert_eq!(
        site.event(ModelEvent::QueueChanged { queue: q.clone() }),
        []
    );

    // It ends: the viewer is told why, then the key is purged.
    let ended = site
        .tables
        .appearance(AppearanceId(1))
        .cloned()
        .expect("held");
    let ops = site.event(ModelEvent::CallEnded {
        call: ended,
        reason: EndReason::Lost {
            cause: 16,
            this_end_dropped: false,
            description: "".into(),
        },
    });
    assert!(matches!(
        ops.as_slice(),
        [KvOp::Put { .. }, KvOp::Purge { .. }]
    ));
    let evs: Vec<_> = ops
        .iter()
        .flat_map(|op| viewer.apply(op.into(), &view_clock).expect("readable"))
        .collect();
    assert!(
        matches!(
            evs.as_slice(),
            [ModelEvent::CallEnded {
                reason: EndReason::Lost { cause: 16, .. },
                ..
            }]
        ),
        "{evs:?}"
    );
    same(&site.tables, viewer.tables());
    assert!(!site.bucket.keys().any(|k| k.starts_with("call.")));
}

#[test]
fn a_fresh_watch_removes_what_the_bucket_no_longer_holds() {
    let t0 = Instant::now();
    let wc = clock(t0, 1_765_000_000_000);
    let mut site = Site {
        tables: Tables::new(),
        publisher: Publisher::new(),
        bucket: Default::default(),
        serve_clock: wc.clone(),
    };
    let q = queue(t0);
    let mut viewer = Replica::new();
    let mut ops = site.event(ModelEvent::QueueAdded { queue: q.clone() });
    ops.extend(site.event(ModelEvent::UserAdded {
        user: user(1, "4101", t0),
    }));
    ops.extend(site.event(ModelEvent::CallNew {
        call: call(1, &q, CallState::Queueing, t0),
    }));
    for op in &ops {
        viewer.apply(op.into(), &wc).expect("readable");
    }
    // NATS goes away; meanwhile the call ends and the user is deleted, markers expire.
    let gone = site
        .tables
        .appearance(AppearanceId(1))
        .cloned()
        .expect("held");
    site.event(ModelEvent::CallEnded {
        call: gone,
        reason: EndReason::NotReported,
    });
    let u = site.tables.users().next().cloned().expect("user");
    site.event(ModelEvent::UserRemoved {
        guid: u.guid.clone(),
        extn: u.extn.clone(),
        name: u.name.clone(),
        reason: RemoveReason::Deleted,
    });
    // The fresh watch delivers what the bucket holds now, then catches up.
    viewer.rewatch();
    for (k, v) in &site.bucket {
        viewer
            .apply(
                Entry {
                    key: k,
                    op: EntryOp::Put(v),
                },
                &wc,
            )
            .expect("readable");
    }
    let evs = viewer.caught_up();
    assert!(
        matches!(
            evs.as_slice(),
            [ModelEvent::CallEnded { .. }, ModelEvent::UserRemoved { .. }]
        ),
        "{evs:?}"
    );
    same(&site.tables, viewer.tables());
}

#[test]
fn values_of_another_schema_are_refused_and_foreign_keys_ignored() {
    let wc = clock(Instant::now(), 0);
    let mut viewer = Replica::new();
    let e = Entry {
        key: "pbx.version",
        op: EntryOp::Put(br#"{"schema":2,"text":"x"}"#),
    };
    let err = viewer.apply(e, &wc).expect_err("schema 2");
    assert!(err.to_string().contains("schema 2"), "{err}");
    let e = Entry {
        key: "somebody.else",
        op: EntryOp::Put(b"not json"),
    };
    assert_eq!(viewer.apply(e, &wc).expect("ignored"), []);
}

#[test]
fn an_id_that_comes_back_on_another_line_is_another_call() {
    // A second serving process numbers appearances afresh: its call 1 is on a user's line,
    // where the first process's call 1 was on the queue's. Readers rely on an appearance
    // keeping its line, so the viewer ends the old one and starts the new one.
    let t0 = Instant::now();
    let wc = clock(t0, 1_765_000_000_000);
    let mut viewer = Replica::new();
    let q = queue(t0);
    let u = user(1, "4101", t0);
    let mut first = Site {
        tables: Tables::new(),
        publisher: Publisher::new(),
        bucket: Default::default(),
        serve_clock: wc.clone(),
    };
    for ev in [
        ModelEvent::QueueAdded { queue: q.clone() },
        ModelEvent::UserAdded { user: u.clone() },
        ModelEvent::CallNew {
            call: call(1, &q, CallState::Queueing, t0),
        },
    ] {
        for op in &first.event(ev) {
            viewer.apply(op.into(), &wc).expect("readable");
        }
    }
    let mut second = Site {
        tables: Tables::new(),
        publisher: Publisher::new(),
        bucket: Default::default(),
        serve_clock: wc.clone(),
    };
    let mut on_user = (*call(1, &q, CallState::Connected, t0)).clone();
    on_user.key.line = LineId::User(u.guid.clone());
    on_user.line = LineLabel {
        extn: u.extn.clone(),
        name: u.name.clone(),
    };
    second.event(ModelEvent::QueueAdded { queue: q.clone() });
    second.event(ModelEvent::UserAdded { user: u.clone() });
    let ops = second.event(ModelEvent::CallNew {
        call: Arc::new(on_user),
    });
    let evs: Vec<_> = ops
        .iter()
        .flat_map(|op| viewer.apply(op.into(), &wc).expect("readable"))
        .collect();
    match evs.as_slice() {
        [
            ModelEvent::CallEnded {
                call: old,
                reason: EndReason::NotReported,
            },
            ModelEvent::CallNew { call: new },
        ] => {
            assert_eq!(old.key.line, LineId::Queue(q.guid.clone()));
            assert_eq!(new.key.line, LineId::User(u.guid.clone()));
        }
        other => panic!("{other:?}"),
    }
    same(&second.tables, viewer.tables());
}
