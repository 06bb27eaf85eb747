//! One MTCTI3 connection's server state machine against the PBX model, with no network and
//! virtual time: what a held backlog turns into, presence, and expiry.

use std::time::{Duration, Instant};

use ipo_top::protocol::pb;
use ipo_top::protocol::pb::call_info::State;
use ipo_top::protocol::pb::message::Payload as P;
use ipo_top::sim::conn::{ConnConfig, Connection};
use ipo_top::sim::site::{MemberSpec, QueueSpec, Traffic, UserSpec};
use ipo_top::sim::{Caller, Pbx, Site};

fn site() -> Site {
    let mut users = vec![
        UserSpec::new("4201", "Achterberg", "Femke Achterberg"),
        UserSpec::new("4203", "Oyelaran", "Tolu Oyelaran"),
    ];
    users[1].email = "tolu.oyelaran@harbourmutual.example".to_string();
    users[1].dnd = true;
    let claims = QueueSpec::new(
        "7301",
        "Claims Desk",
        vec![MemberSpec::enabled("4201"), MemberSpec::enabled("4203")],
    );
    Site {
        users,
        queues: vec![claims],
        traffic: Traffic {
            answer_delay: 4..=4,
            no_answer_chance: 0.0,
            talk: 200..=200,
            patience: 90..=90,
            ..Traffic::quiet()
        },
        ..Site::default()
    }
}

/// The PBX, one connection, and virtual time.
struct Bench {
    pbx: Pbx,
    conn: Connection,
    t0: Instant,
    now: Instant,
}

impl Bench {
    fn new() -> Bench {
        let t0 = Instant::now();
        Bench {
            pbx: Pbx::new(site(), 1, "10:00".parse().expect("time"), t0).expect("site"),
            conn: Connection::new(ConnConfig::default()),
            t0,
            now: t0,
        }
    }

    fn pump(&mut self) {
        while let Some(c) = self.pbx.poll_change() {
            self.conn.handle_change(&c, &self.pbx);
        }
    }

    fn send(&mut self, m: pb::Message) -> Vec<pb::Message> {
        self.conn.handle_message(self.now, m, &mut self.pbx);
        self.pump();
        self.out()
    }

    fn out(&mut self) -> Vec<pb::Message> {
        std::iter::from_fn(|| self.conn.poll_transmit(&self.pbx)).collect()
    }

    fn advance(&mut self, secs: u64) -> Vec<pb::Message> {
        self.now += Duration::from_secs(secs);
        self.pbx.handle_timeout(self.now);
        self.pump();
        self.conn.handle_timeout(self.now);
        self.out()
    }

    fn place(&mut self, number: &str) {
        let q = self.pbx.queue_by_name("Claims Desk").expect("queue");
        self.pbx
            .place_queue_call(q, Caller::new(number, ""), 1)
            .expect("placed");
        self.pump();
    }

    fn ack(&mut self, n: &pb::Notify) -> Vec<pb::Message> {
        self.send(pb::Message {
            payload: Some(P::Notifyack(pb::NotifyAck {
                subscribe_id: n.subscribe_id,
                notify_id: n.notify_id,
            })),
        })
    }
}

fn subscribe(rid: i32, sid: i32, timeout: i32, payload: pb::subscribe::Payload) -> pb::Message {
    pb::Message {
        payload: Some(P::Subscribe(pb::Subscribe {
            requestid: rid,
            subscribe_id: sid,
            timeout,
            label: String::new(),
            payload: Some(payload),
        })),
    }
}

fn queue_sub(rid: i32, sid: i32) -> pb::Message {
    subscribe(
        rid,
        sid,
        0,
        pb::subscribe::Payload::Queue(pb::SubscribeQueue {
            name: "Claims Desk".to_string(),
            ccflags: 0x01,
            ..Default::default()
        }),
    )
}

fn notifies(out: &[pb::Message]) -> Vec<pb::Notify> {
    out.iter()
        .filter_map(|m| match &m.payload {
            Some(P::Notify(n)) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn calls(n: &pb::Notify) -> &pb::NotifyCallControl {
    match &n.payload {
        Some(pb::notify::Payload::Callcontrol(c)) => c,
        other => panic!("expected callcontrol, got {other:?}"),
    }
}

#[test]
fn a_held_backlog_collapses_to_one_snapshot_per_call_in_one_notify() {
    let mut b = Bench::new();
    let out = b.send(queue_sub(1, 7500));
    let config = notifies(&out);
    assert_eq!(config.len(), 1, "the configuration, then held");

    // While held: the first call rings 4201 and is answered; two more queue behind it.
    b.place("01632960001");
    b.place("01632960002");
    b.place("01632960003");
    assert!(notifies(&b.advance(4)).is_empty());

    let out = b.ack(&config[0]);
    let next = notifies(&out);
    assert_eq!(next.len(), 1);
    let cc = calls(&next[0]);
    let states: Vec<State> = cc
        .callinfo
        .iter()
        .map(|c| State::try_from(c.state).expect("state"))
        .collect();
    assert_eq!(
        states,
        vec![State::Connected, State::Queueing, State::Queueing]
    );
    let mut ids: Vec<i32> = cc.callinfo.iter().map(|c| c.callid).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one snapshot per call");
}

#[test]
fn a_call_that_came_and_went_while_held_is_not_reported_but_a_seen_one_is_lost_once() {
    let mut b = Bench::new();
    let pbx_user = b.pbx.user_by_extn("4201").expect("user");
    b.pbx.set_dnd(pbx_user, true);
    b.pump();
    let config = notifies(&b.send(queue_sub(1, 7500)));

    // Held: a caller waits 90 s and hangs up. Nothing is owed for it afterwards.
    b.place("01632960004");
    b.advance(90);
    assert!(notifies(&b.ack(&config[0])).is_empty());

    // Seen, then abandoned: exactly one CallLost.
    b.place("01632960005");
    let seen = notifies(&b.out());
    assert_eq!(calls(&seen[0]).callinfo.len(), 1);
    let callid = calls(&seen[0]).callinfo[0].callid;
    assert!(notifies(&b.ack(&seen[0])).is_empty());
    let lost = notifies(&b.advance(90));
    let cc = calls(&lost[0]);
    assert!(cc.callinfo.is_empty());
    assert_eq!(
        cc.calllost
            .iter()
            .map(|l| (l.callid, l.reason))
            .collect::<Vec<_>>(),
        vec![(callid, 16)]
    );
    assert!(notifies(&b.ack(&lost[0])).is_empty());
}

#[test]
fn presence_reports_every_presentity_then_only_changes() {
    let mut b = Bench::new();
    let entries = vec![
        pb::Presentity {
            presentity: "4201".to_string(),
            lref: 1,
        },
        pb::Presentity {
            presentity: "tolu.oyelaran@harbourmutual.example".to_string(),
            lref: 2,
        },
        pb::Presentity {
            presentity: "9999".to_string(),
            lref: 3,
        },
    ];
    let sub = subscribe(
        1,
        98765,
        3600,
        pb::subscribe::Payload::Presence(pb::SubscribePresence {
            entry: entries,
            flags: 1,
        }),
    );
    let first = notifies(&b.send(sub));
    let Some(pb::notify::Payload::Presence(p)) = &first[0].payload else {
        panic!("expected presence, got {first:?}");
    };
    assert_eq!(p.full, 1);
    let got: Vec<(i32, i32, i32)> = p
        .entry
        .iter()
        .map(|e| (e.lref, e.sac, e.phonestate))
        .collect();
    assert_eq!(
        got,
        vec![(1, 0, 0), (2, 1, 0), (3, 0, 8)],
        "(lref, DND, phone state)"
    );
    assert!(
        p.entry.iter().all(|e| e.presentity.is_empty()),
        "lref stands for the presentity"
    );
    b.ack(&first[0]);

    // A call rings 4201: only that presentity is notified, now ringing.
    b.place("01632960006");
    let change = notifies(&b.out());
    let Some(pb::notify::Payload::Presence(p)) = &change[0].payload else {
        panic!("expected presence, got {change:?}");
    };
    assert_eq!(p.full, 0);
    let got: Vec<(i32, i32)> = p.entry.iter().map(|e| (e.lref, e.phonestate)).collect();
    assert_eq!(got, vec![(1, 2)]);
    b.ack(&change[0]);

    // Expiry on virtual time: an hour later, unrefreshed, it ends.
    assert_eq!(
        b.conn.poll_timeout(),
        Some(b.t0 + Duration::from_secs(3600))
    );
    b.now = b.t0 + Duration::from_secs(3600);
    b.conn.handle_timeout(b.now);
    let out = b.out();
    assert!(out.iter().any(|m| matches!(
        m.payload,
        Some(P::Subscribeterminated(pb::SubscribeTerminated {
            subscribe_id: 98765,
            ..
        }))
    )));
    assert_eq!(b.conn.subscription_count(), 0);
}
