//! The simulator at scale: how long the scale site takes to build, what one Notify costs the
//! simulator, and the rate `ipo-top sim --scenario scale` sustains towards a client subscribed
//! to everything. A harness that prints its figures (`cargo bench --bench sim_scale`); see
//! `benches/README.md` for the figures measured and the machine.
//!
//! 1. Start-up: `Pbx::new` of the scale site (3000 users, 150 groups, 15 minutes of warm-up
//!    traffic bringing about 2000 calls in progress).
//! 2. Per-Notify cost, sans-IO: the model and one connection subscribed to the lines, every
//!    user and every group (full call control) and the park server, driven on virtual time
//!    with an instant client (every Notify encoded and acknowledged at once). The wall time
//!    per Notify is the simulator's own cost; its inverse is the most Notifies per second one
//!    core could produce.
//! 3. Sustained rate over the wire: the real server on the real clock, a client over TLS on
//!    127.0.0.1 subscribed to everything, acknowledging each Notify as it arrives, for 20 s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use ipo_top::protocol::frame::{self, Framing};
use ipo_top::protocol::pb;
use ipo_top::protocol::pb::message::Payload as P;
use ipo_top::sim::conn::ConnConfig;
use ipo_top::sim::scale::ScaleOptions;
use ipo_top::sim::server::Clock;
use ipo_top::sim::{Exchange, Pbx, Site};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn options(rate: f64) -> ScaleOptions {
    ScaleOptions {
        changes_per_sec: rate,
        ..ScaleOptions::default()
    }
}

fn startup() {
    let t0 = Instant::now();
    let mut times = Vec::new();
    let mut calls = 0;
    for seed in 1..=5 {
        let site = Site::scale(options(500.0));
        let start = Instant::now();
        let pbx = Pbx::new(site, seed, "10:30".parse().expect("time"), t0).expect("scale site");
        times.push(start.elapsed());
        calls = pbx.stats().calls;
    }
    println!(
        "start-up: Pbx::new(scale) median {:.1} ms over 5 seeds ({} calls in progress at the start)",
        median(times).as_secs_f64() * 1e3,
        calls
    );
}

fn subscribe(rid: i32, payload: pb::subscribe::Payload) -> pb::Message {
    pb::Message {
        payload: Some(P::Subscribe(pb::Subscribe {
            requestid: rid,
            subscribe_id: rid,
            timeout: 0,
            label: String::new(),
            payload: Some(payload),
        })),
    }
}

/// The sans-IO stack on virtual time; returns (Notifies, call entries, model changes, wall).
fn sans_io(rate: f64, virtual_secs: u64) -> (u64, u64, u64, Duration) {
    const CONN: u64 = 1;
    let t0 = Instant::now();
    let pbx = Pbx::new(
        Site::scale(options(rate)),
        7,
        "10:30".parse().expect("time"),
        t0,
    )
    .expect("site");
    let mut exchange = Exchange::new(pbx, None, ConnConfig::default());
    exchange.open(CONN);
    let users: Vec<Vec<u8>> = exchange.pbx.users().map(|u| u.guid.to_vec()).collect();
    let queues: Vec<Vec<u8>> = exchange.pbx.queues().map(|q| q.guid.to_vec()).collect();
    let mut rid = 0;
    let mut next = || {
        rid += 1;
        rid
    };
    exchange.handle_message(
        t0,
        CONN,
        subscribe(
            next(),
            pb::subscribe::Payload::Lines(pb::SubscribeLines { flags: 7 }),
        ),
    );
    exchange.handle_message(
        t0,
        CONN,
        subscribe(
            next(),
            pb::subscribe::Payload::Parkserver(pb::SubscribeParkServer {
                flags: 0,
                ccflags: 0xFF,
            }),
        ),
    );
    for g in users {
        let m = subscribe(
            next(),
            pb::subscribe::Payload::User(pb::SubscribeUser {
                guid: g,
                flags: 0,
                ccflags: 0xFF,
            }),
        );
        exchange.handle_message(t0, CONN, m);
    }
    for g in queues {
        let m = subscribe(
            next(),
            pb::subscribe::Payload::Queue(pb::SubscribeQueue {
                guid: g,
                flags: 3,
                ccflags: 0x0004_00FF,
                name: String::new(),
            }),
        );
        exchange.handle_message(t0, CONN, m);
    }
    // The instant client: encode everything, acknowledge every Notify at once.
    let drain = |exchange: &mut Exchange, now: Instant| -> (u64, u64) {
        let (mut notifies, mut entries) = (0, 0);
        while let Some(m) = exchange.poll_transmit(CONN) {
            let bytes = frame::encode(&m, Framing::Framed).expect("encode");
            std::hint::black_box(&bytes);
            if let Some(P::Notify(n)) = &m.payload {
                notifies += 1;
                if let Some(pb::notify::Payload::Callcontrol(cc)) = &n.payload {
                    entries += (cc.callinfo.len() + cc.calllost.len()) as u64;
                }
                let ack = pb::Message {
                    payload: Some(P::Notifyack(pb::NotifyAck {
                        subscribe_id: n.subscribe_id,
                        notify_id: n.notify_id,
                    })),
                };
                exchange.handle_message(now, CONN, ack);
            }
        }
        (notifies, entries)
    };
    drain(&mut exchange, t0);
    let changes_before = exchange.call_changes();
    let (mut notifies, mut entries) = (0, 0);
    let start = Instant::now();
    for step in 1..=virtual_secs * 100 {
        let now = t0 + Duration::from_millis(step * 10);
        exchange.handle_timeout(now);
        let (n, e) = drain(&mut exchange, now);
        notifies += n;
        entries += e;
    }
    let changes = exchange.call_changes() - changes_before;
    (notifies, entries, changes, start.elapsed())
}

fn per_notify() {
    for rate in [500.0, 2000.0, 10_000.0] {
        let secs = 60;
        let (notifies, entries, changes, wall) = sans_io(rate, secs);
        println!(
            "sans-IO at --rate {rate}: {secs} s of site time in {:.2} s of wall time; {} call changes ({:.0}/s of site time), {} Notifies carrying {} call entries; {:.1} us per Notify, so at most {:.0} Notifies/s on one core",
            wall.as_secs_f64(),
            changes,
            changes as f64 / secs as f64,
            notifies,
            entries,
            wall.as_secs_f64() * 1e6 / notifies.max(1) as f64,
            notifies as f64 / wall.as_secs_f64(),
        );
    }
}

async fn over_the_wire(rate: f64, window: Duration) {
    let handle = common::start_full(
        Site::scale(options(rate)),
        ConnConfig::default(),
        Clock::Real,
        10,
        None,
        None,
        7,
    )
    .await;
    let (users, queues) = handle
        .with_pbx(|p, _| {
            (
                p.users().map(|u| u.guid.to_vec()).collect::<Vec<_>>(),
                p.queues().map(|q| q.guid.to_vec()).collect::<Vec<_>>(),
            )
        })
        .await
        .expect("server");
    let mut c = common::connect(&handle, Framing::Framed).await;
    let mut rid = 0;
    c.send(common::lines(1, 1, 7)).await;
    c.send(common::parkserver(2, 2, 0xFF)).await;
    rid += 2;
    for g in &users {
        rid += 1;
        c.send(common::user(rid, rid, g, 0, 0xFF)).await;
    }
    for g in &queues {
        rid += 1;
        c.send(common::queue_by_guid(rid, rid, g, 3, 0x0004_00FF))
            .await;
    }
    let mut answered = 0;
    let subscribed = Instant::now();
    while answered < rid {
        let m = c.recv().await;
        match &m.payload {
            Some(P::Response(_)) => answered += 1,
            Some(P::Notify(n)) => c.ack(n).await,
            _ => {}
        }
    }
    println!(
        "over the wire at --rate {rate}: {} subscriptions answered in {:.2} s",
        rid,
        subscribed.elapsed().as_secs_f64()
    );
    // Let the initial snapshots go by, then measure.
    let settle = Instant::now() + Duration::from_secs(5);
    while Instant::now() < settle {
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(200), c.recv()).await
            && let Some(P::Notify(n)) = &m.payload
        {
            c.ack(n).await;
        }
    }
    let (mut notifies, mut entries) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < window {
        let Ok(m) = tokio::time::timeout(Duration::from_millis(200), c.recv()).await else {
            continue;
        };
        if let Some(P::Notify(n)) = &m.payload {
            notifies += 1;
            if let Some(pb::notify::Payload::Callcontrol(cc)) = &n.payload {
                entries += (cc.callinfo.len() + cc.calllost.len()) as u64;
            }
            c.ack(n).await;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "over the wire at --rate {rate}: {:.0} Notifies/s carrying {:.0} call entries/s for {:.0} s (the configured rate is {rate} call changes/s)",
        notifies as f64 / secs,
        entries as f64 / secs,
        secs
    );
    handle.stop().await;
}

fn main() {
    // `cargo test --benches` runs this too: only measure under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    startup();
    per_notify();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for rate in [500.0, 2000.0, 10_000.0] {
        runtime.block_on(over_the_wire(rate, Duration::from_secs(20)));
    }
}
