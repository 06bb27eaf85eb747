//! Shared mode end to end, against the real nats-server (started by the tests on a free port
//! with a temporary store) and the simulator over real TLS: `serve` and its viewers run in this
//! process, as `ipo-top serve` and `ipo-top --shared events --json` run them.

mod cli_support;
mod nats_support;

use std::time::Duration;

use ipo_top::app::serve::ServeTarget;
use ipo_top::app::shared::{ViewerUpdate, spawn as viewer};
use ipo_top::model::{ModelEvent, Tables};
use ipo_top::session::{SessionConfig, SessionEvent, spawn as direct};
use ipo_top::sim::server::ServerHandle;
use nats_support::{Nats, Serving};
use tokio::sync::mpsc;

use cli_support::{PATIENCE, endpoint, start_sim};

/// `serve` for the site `hq` against the simulator.
fn start_serve(nats: &Nats, sim: &ServerHandle) -> Serving {
    Serving::start(ServeTarget {
        shared: nats.site("hq"),
        endpoint: endpoint(sim),
        session: SessionConfig::default(),
        audit: None,
        alerts: ipo_top::model::AlertConfig::default(),
    })
}

/// What a model holds, in terms that do not depend on which process counted it (appearance
/// ids and instants are each process's own).
#[derive(PartialEq, Debug)]
struct Picture {
    users: Vec<String>,
    queues: Vec<String>,
    calls: Vec<String>,
}

fn picture(t: &Tables) -> Picture {
    let users = t
        .users()
        .map(|u| {
            format!(
                "{} {} {} {:?} {:?} answered={}",
                u.guid, u.extn, u.name, u.status, u.agent.state, u.stats.answered
            )
        })
        .collect();
    let queues = t
        .queues()
        .map(|q| {
            let s = &q.stats;
            format!(
                "{} {} {} {:?} waiting={} offered={} answered={} abandoned={} short={} lower={} timed={} in_sl={}",
                q.guid,
                q.extn,
                q.name,
                q.status,
                s.waiting,
                s.offered,
                s.answered,
                s.abandoned,
                s.short_abandoned,
                s.lower_bound,
                s.timed_answered,
                s.answered_in_sl
            )
        })
        .collect();
    let mut calls: Vec<String> = t
        .appearances()
        .map(|a| format!("{:?} {:?} present={}", a.key, a.call, a.present_at_connect))
        .collect();
    calls.sort();
    Picture {
        users,
        queues,
        calls,
    }
}

/// A viewer's model, fed from its watch.
struct View {
    rx: mpsc::Receiver<ViewerUpdate>,
    tables: Tables,
    /// Connection states the viewer was shown, in order.
    states: Vec<String>,
}

impl View {
    fn new(nats: &Nats) -> View {
        View {
            rx: viewer(nats.site("hq")),
            tables: Tables::new(),
            states: Vec::new(),
        }
    }

    fn take(&mut self, u: ViewerUpdate) {
        if let ViewerUpdate::Model(evs) = u {
            for ev in evs {
                if let ModelEvent::Connection { state } = &ev {
                    self.states.push(format!("{state:?}"));
                }
                self.tables.apply(&ev);
            }
        }
    }
}

/// Feeds every source until `done` holds for the models, or fails after [`PATIENCE`] (a safety
/// net, not a timing assertion).
async fn until(
    what: &str,
    truth: &mut (Tables, ipo_top::session::Updates),
    views: &mut [&mut View],
    done: impl Fn(&Tables, &[&mut View]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if done(&truth.0, views) {
            return;
        }
        let mut any = false;
        for v in views.iter_mut() {
            while let Ok(u) = v.rx.try_recv() {
                v.take(u);
                any = true;
            }
        }
        if any {
            continue;
        }
        let tick = tokio::time::sleep(Duration::from_millis(50));
        tokio::select! {
            b = truth.1.next() => {
                for ev in b.unwrap_or_default() {
                    if let SessionEvent::Model(ev) = ev {
                        truth.0.apply(&ev);
                    }
                }
            }
            () = tick => {}
        }
        if tokio::time::Instant::now() > deadline {
            let states: Vec<_> = views.iter().map(|v| v.states.clone()).collect();
            eprintln!("states: {states:#?}");
            let views: Vec<_> = views.iter().map(|v| picture(&v.tables)).collect();
            panic!(
                "{what}: not reached in {PATIENCE:?}\ntruth: {:#?}\nviews: {views:#?}",
                picture(&truth.0)
            );
        }
    }
}

fn equal(truth: &Tables, views: &[&mut View]) -> bool {
    let p = picture(truth);
    !p.users.is_empty() && views.iter().all(|v| picture(&v.tables) == p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_serve_and_two_viewers_show_what_a_direct_client_shows_after_the_day() {
    let nats = Nats::start();
    let sim = start_sim().await;
    let serving = start_serve(&nats, &sim);
    let (_h, updates) = direct(endpoint(&sim), SessionConfig::default()).expect("direct client");
    let mut truth = (Tables::new(), updates);
    let (mut a, mut b) = (View::new(&nats), View::new(&nats));
    until("first sync", &mut truth, &mut [&mut a, &mut b], equal).await;

    // The day goes on: calls queue, ring, are answered, parked, abandoned.
    for _ in 0..8 {
        let before = picture(&truth.0);
        sim.advance(Duration::from_secs(30)).await.expect("advance");
        until("the PBX moved", &mut truth, &mut [], |t, _| {
            picture(t) != before
        })
        .await;
        until("after a step", &mut truth, &mut [&mut a, &mut b], equal).await;
    }
    let p = picture(&truth.0);
    assert!(!p.calls.is_empty(), "the day has calls");
    assert!(
        truth.0.queues().any(|q| q.stats.answered > 0),
        "the statistics count: {:#?}",
        p.queues
    );
    assert!(
        a.states.iter().any(|s| s.starts_with("Connected")),
        "the header shows the serving side's link: {:?}",
        a.states
    );
    drop(serving.stop);
    serving.task.await.expect("serve ends").expect("serve ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn viewers_show_stale_data_while_nats_is_down_then_resume_and_match_the_pbx() {
    let mut nats = Nats::start();
    let sim = start_sim().await;
    let serving = start_serve(&nats, &sim);
    let (_h, updates) = direct(endpoint(&sim), SessionConfig::default()).expect("direct client");
    let mut truth = (Tables::new(), updates);
    let mut a = View::new(&nats);
    until("first sync", &mut truth, &mut [&mut a], equal).await;

    nats.stop();
    until("stale", &mut truth, &mut [&mut a], |_, v| {
        v[0].states.last().is_some_and(|s| s.contains("lost NATS"))
    })
    .await;
    let held = picture(&a.tables);
    assert!(!held.users.is_empty(), "what was shown stays on screen");
    // The PBX moves on while NATS is down.
    let before = picture(&truth.0);
    sim.advance(Duration::from_secs(30)).await.expect("advance");
    until("the PBX moved", &mut truth, &mut [], |t, _| {
        picture(t) != before
    })
    .await;
    nats.restart();
    // The restarted server lost the memory-stored buckets: the serving side makes them again
    // and writes everything; the viewer rebuilds from a fresh watch and shows the serving
    // side's link again.
    until("resumed", &mut truth, &mut [&mut a], |t, v| {
        equal(t, v)
            && v[0]
                .states
                .last()
                .is_some_and(|s| s.starts_with("Connected"))
    })
    .await;
    drop(serving.stop);
    let _ = serving.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_serve_takes_over_a_killed_one_and_the_pbx_never_sees_two_links() {
    let nats = Nats::start();
    let sim = start_sim().await;
    let first = start_serve(&nats, &sim);
    let mut a = View::new(&nats);
    // The first holds the lock and the one link; the second waits for the lock.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !a.states.last().is_some_and(|s| s.starts_with("Connected")) {
        let u = tokio::time::timeout_at(deadline, a.rx.recv()).await;
        a.take(u.expect("the first serve connects").expect("viewer runs"));
    }
    let second = start_serve(&nats, &sim);
    let mut most = 0;
    for _ in 0..20 {
        most = most.max(sim.stats().await.expect("stats").connections);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(most, 1, "only the lock holder connects");

    // Killed: no release, the lock expires on its own.
    first.task.abort();
    let _ = first.task.await;
    let deadline =
        tokio::time::Instant::now() + ipo_top::share::LOCK_MAX_AGE + Duration::from_secs(15);
    let mut taken_over = false;
    while tokio::time::Instant::now() < deadline {
        let stats = sim.stats().await.expect("stats");
        most = most.max(stats.connections);
        while let Ok(u) = a.rx.try_recv() {
            a.take(u);
        }
        if stats.connections == 1
            && a.states.last().is_some_and(|s| s.starts_with("Connected"))
            && a.tables.users().next().is_some()
        {
            taken_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(taken_over, "the second serve took over: {:?}", a.states);
    assert_eq!(most, 1, "never two links to the PBX");
    drop(second.stop);
    let _ = second.task.await;
}
