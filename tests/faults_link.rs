//! The fault matrix of the link: a PBX that goes silent, one that stops reading while it keeps
//! sending, a login the secondary refused, and a PBX that says "busy, come back later". After
//! each: no panic, every Notify acked, and the model equal to the simulator's truth, nothing
//! stale or doubled. The engine-level faults run on virtual time (the sans-IO pair); the ones
//! that live in the socket run over real TLS on 127.0.0.1.

#[path = "session_support/mod.rs"]
mod pair;

#[path = "cli_support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ipo_top::model::{Command, ConnectionState, Guid, LineId, ModelEvent, StopKind, Tables};
use ipo_top::session::{
    ConnectError, Counters, Endpoint, Io, MAX_RETRY_AFTER, Secret, Session, SessionConfig,
    SessionEvent, SessionHandle, Trust, Updates, spawn,
};
use ipo_top::sim::Site;
use ipo_top::sim::conn::ConnConfig;
use ipo_top::sim::pbx::{Caller, Line, Pbx};
use ipo_top::sim::server::{Busy, Fault, ServerHandle};
use pair::Pair;
use support::{PATIENCE, Scratch, USER};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---------------------------------------------------------------------------------------------
// What both sides must agree on

/// Users (guid, extn, name), queues (guid, extn, name) and calls (line, callid, state, gcid),
/// sorted: a form that compares and prints well.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct View {
    users: Vec<(String, String, String)>,
    queues: Vec<(String, String, String)>,
    calls: Vec<(String, i32, i32, String)>,
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02X}");
        s
    })
}

fn sim_view(pbx: &Pbx) -> View {
    let mut v = View::default();
    let mut lines = Vec::new();
    for u in pbx.users() {
        let g = hex(&u.guid);
        v.users
            .push((g.clone(), u.spec.extn.clone(), u.spec.name.clone()));
        lines.push((format!("user {g}"), Line::User(u.id)));
    }
    for q in pbx.queues() {
        let g = hex(&q.guid);
        v.queues.push((g.clone(), q.extn.clone(), q.name.clone()));
        lines.push((format!("queue {g}"), Line::Queue(q.id)));
    }
    lines.push(("park server".to_owned(), Line::Park));
    for (label, line) in lines {
        for (callid, key) in pbx.calls_on(line) {
            if let Some(ci) = pbx.callinfo(line, key) {
                v.calls
                    .push((label.clone(), callid, ci.state, hex(&ci.gcid)));
            }
        }
    }
    v.users.sort();
    v.queues.sort();
    v.calls.sort();
    v
}

fn model_view(m: &Tables) -> View {
    let mut v = View::default();
    for u in m.users() {
        v.users
            .push((u.guid.to_hex(), u.extn.to_string(), u.name.to_string()));
    }
    for q in m.queues() {
        v.queues
            .push((q.guid.to_hex(), q.extn.to_string(), q.name.to_string()));
    }
    for a in m.appearances() {
        let line = match &a.key.line {
            LineId::User(g) => format!("user {g}"),
            LineId::Queue(g) => format!("queue {g}"),
            LineId::ParkServer => "park server".to_owned(),
        };
        let gcid = a.call.gcid.as_ref().map(|g| g.to_hex()).unwrap_or_default();
        v.calls
            .push((line, a.key.callid, a.call.state.code(), gcid));
    }
    v.users.sort();
    v.queues.sort();
    v.calls.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Virtual time: a silent PBX

/// A busy demo day, synced, ten minutes in, on virtual time.
fn busy_pair() -> Pair {
    let mut l = Pair::demo(
        7,
        ConnConfig::default(),
        SessionConfig {
            resync_settle: secs(2),
            ..SessionConfig::default()
        },
    );
    l.advance(secs(600));
    assert!(!l.syncs.is_empty(), "synced");
    l.assert_calls_true("before the fault");
    assert!(l.pbx_calls().len() >= 5, "a busy site");
    l
}

/// The model and the screen's copy hold exactly the simulator's calls.
fn all_acked(c: &Counters) {
    assert_eq!(c.acks, c.notifies, "every Notify acked: {c:?}");
}

#[test]
fn a_silent_pbx_is_declared_dead_by_keepalive_and_the_model_is_reconciled() {
    let mut l = busy_pair();
    let keepalive = l.client.config().keepalive;
    let silent_from = l.now;
    // The connection stays open, but nothing the client sends is read and nothing comes back;
    // the PBX's site goes on. Only the client's deadlines move time.
    let mut pings = 0;
    let mut closed_at = None;
    while closed_at.is_none() {
        let Some(t) = l.client.poll_timeout() else {
            panic!("the client has no deadline while the link is silent");
        };
        assert!(
            t <= silent_from + keepalive * 3,
            "still waiting on a silent PBX after {:?}",
            t - silent_from
        );
        l.now = t;
        l.server.handle_timeout(t);
        l.client.handle_timeout(t);
        while let Some(io) = l.client.poll_io() {
            match io {
                Io::Ping => pings += 1,
                Io::Close => closed_at = Some(l.now),
                other => panic!("unexpected {other:?} while silent"),
            }
        }
        while l.client.poll_transmit().is_some() {}
        while let Some(ev) = l.client.poll_event() {
            if let SessionEvent::Model(m) = ev {
                l.replica.apply(&m);
            }
        }
    }
    assert!(pings >= 1, "the client asked before giving up");
    match l.client.model().connection() {
        ConnectionState::Reconnecting { reason, .. } => {
            assert!(reason.contains("no answer from the PBX"), "{reason}")
        }
        other => panic!("not reconnecting: {other:?}"),
    }
    // The dead connection goes; the PBX answers the next one as usual.
    l.server.close(1);
    l.advance(secs(45));
    assert!(l.client.is_connected());
    l.assert_calls_true("after the silence");
    assert!(!l.client.model().in_outage(), "nothing left stale");
    all_acked(l.client.counters());
}

// ---------------------------------------------------------------------------------------------
// Virtual time: Retry-After on the engine's deadline

#[test]
fn retry_after_on_429_and_503_sets_the_next_attempts_deadline() {
    let t0 = Instant::now();
    let mut s = Session::new(SessionConfig::default(), t0);
    let cases = [
        (503, secs(120), secs(120)),
        (429, secs(7), secs(7)),
        // A day is cut to the cap.
        (503, secs(86_400), MAX_RETRY_AFTER),
    ];
    let mut now = t0;
    for (status, asked, want) in cases {
        assert!(matches!(s.poll_io(), Some(Io::Connect(_))), "an attempt");
        s.handle_connect_failed(
            now,
            ConnectError::Http {
                status,
                retry_after: Some(asked),
            },
        );
        assert_eq!(
            s.poll_timeout(),
            Some(now + want),
            "HTTP {status}, {asked:?}"
        );
        match s.model().connection() {
            ConnectionState::Reconnecting {
                retry_in_ms,
                reason,
                ..
            } => {
                assert_eq!(u128::from(*retry_in_ms), want.as_millis());
                let words = format!("asked to wait {} s", want.as_secs());
                assert!(reason.contains(&words), "{reason}");
            }
            other => panic!("not reconnecting: {other:?}"),
        }
        now += want;
        s.handle_timeout(now);
    }
    // Without Retry-After: the usual backoff (well under a second at first).
    let mut fresh = Session::new(SessionConfig::default(), t0);
    let _ = fresh.poll_io();
    fresh.handle_connect_failed(
        t0,
        ConnectError::Http {
            status: 503,
            retry_after: None,
        },
    );
    let next = fresh.poll_timeout().expect("a reconnect deadline");
    assert!(next - t0 <= Duration::from_millis(500));
}

// ---------------------------------------------------------------------------------------------
// Real TLS

/// A demo-site simulator on 127.0.0.1:0 with a manual clock, accepting `password`.
async fn start_sim(password: &str) -> ServerHandle {
    support::start_site(Site::demo(), password).await
}

/// How the client reaches a simulator (its CA written to `dir`) with this password.
fn endpoint(sim: &ServerHandle, dir: &Scratch, name: &str, password: &str) -> Endpoint {
    let ca = dir.write(
        &format!("{name}-ca.pem"),
        sim.ca_pem().expect("a generated CA"),
        0o600,
    );
    Endpoint {
        host: "127.0.0.1".to_owned(),
        port: sim.local_addr().port(),
        username: USER.to_owned(),
        password: Secret::new(password),
        trust: Trust::CaFile(ca),
        connect_timeout: secs(5),
    }
}

/// An address where nothing listens: a system that cannot be reached.
async fn nowhere(template: &Endpoint) -> Endpoint {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = l.local_addr().expect("its address").port();
    drop(l);
    Endpoint {
        port,
        ..template.clone()
    }
}

fn session_config(secondary: Option<Endpoint>) -> SessionConfig {
    SessionConfig {
        resync_settle: secs(1),
        secondary,
        ..SessionConfig::default()
    }
}

async fn sim_now(sim: &ServerHandle) -> View {
    sim.with_pbx(|pbx, _| sim_view(pbx))
        .await
        .expect("the simulator answers")
}

/// What the reader saw.
#[derive(Default)]
struct Seen {
    replica: Tables,
    synced: bool,
    failures: Vec<ConnectError>,
}

impl Seen {
    fn take(&mut self, batch: Vec<SessionEvent>) {
        for u in batch {
            match u {
                SessionEvent::Model(ev) => {
                    if matches!(
                        ev,
                        ModelEvent::Connection {
                            state: ConnectionState::Reconnecting { .. }
                                | ConnectionState::Connecting { .. }
                        }
                    ) {
                        self.synced = false;
                    }
                    self.replica.apply(&ev);
                }
                SessionEvent::Synced(_) => self.synced = true,
                SessionEvent::ConnectFailed(e) => self.failures.push(e),
                SessionEvent::SubscribeFailed(f) => panic!("subscription refused: {f:?}"),
                SessionEvent::Command(_) => {}
                SessionEvent::CapReached(c) => panic!("no cap is near: {c:?}"),
                // Folding keeps the final state: the replica stays true.
                SessionEvent::Lagged { .. } => {}
            }
        }
    }

    /// Reads updates until `done`, or fails saying `what` after [`PATIENCE`].
    async fn until(&mut self, updates: &Updates, what: &str, done: impl Fn(&Seen) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !done(self) {
            match tokio::time::timeout_at(deadline, updates.next()).await {
                Ok(Some(b)) => self.take(b),
                Ok(None) => panic!("the session ended while waiting for {what}"),
                Err(_) => panic!(
                    "{what}: not seen within {PATIENCE:?} (connection: {:?}, failures: {:?})",
                    self.replica.connection(),
                    self.failures
                ),
            }
        }
    }

    /// Reads updates until the model equals the simulator's truth after a sync.
    async fn converge(&mut self, updates: &Updates, sim: &ServerHandle) {
        let want = sim_now(sim).await;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !(self.synced && model_view(&self.replica) == want) {
            match tokio::time::timeout_at(deadline, updates.next()).await {
                Ok(Some(b)) => self.take(b),
                Ok(None) => panic!("the session ended"),
                Err(_) => {
                    let have = model_view(&self.replica);
                    panic!(
                        "the model did not reach the simulator's state (synced: {}, \
                         connection: {:?})\nusers equal: {}\nqueues equal: {}\n\
                         model calls: {:#?}\nsimulator calls: {:#?}",
                        self.synced,
                        self.replica.connection(),
                        have.users == want.users,
                        have.queues == want.queues,
                        have.calls,
                        want.calls
                    );
                }
            }
        }
    }

    fn stopped_by_refusal(&self) -> bool {
        matches!(
            self.replica.connection(),
            ConnectionState::Stopped {
                kind: StopKind::LoginRejected,
                ..
            }
        )
    }
}

/// Shuts the session down and checks every Notify it got was acked.
async fn finish(handle: SessionHandle, updates: Updates, seen: &mut Seen) {
    handle.shutdown();
    while let Ok(Some(b)) = tokio::time::timeout(PATIENCE, updates.next()).await {
        seen.take(b);
    }
    handle.join().await;
    all_acked(&updates.final_counters().expect("the session's counters"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pbx_that_stops_reading_is_dropped_at_the_write_deadline_and_the_model_reconciled() {
    let sim = start_sim(support::PASSWORD).await;
    sim.advance(secs(10 * 60)).await.expect("the clock moves");
    let dir = Scratch::new("stops-reading");
    let ep = endpoint(&sim, &dir, "primary", support::PASSWORD);
    let config = SessionConfig {
        // Writes may wait a second: the test need not wait thirty.
        keepalive: secs(1),
        ..session_config(None)
    };
    assert_eq!(config.write_deadline(), secs(1));
    let (handle, updates) = spawn(ep, config).expect("TLS settings");
    let mut seen = Seen::default();
    seen.converge(&updates, &sim).await;

    // The PBX stops reading and pings as fast as the client answers: the link looks alive
    // (frames keep coming), but nothing the client writes is taken.
    assert_eq!(sim.fault(Fault::StopReading).await.expect("the fault"), 1);
    let users: Vec<Guid> = seen.replica.users().map(|u| u.guid.clone()).collect();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut next = 0;
    let reason = loop {
        if let ConnectionState::Reconnecting { reason, .. } = seen.replica.connection() {
            break reason.to_string();
        }
        // Something to write (the socket fills up under the client's pongs).
        if let Some(g) = users.get(next % users.len().max(1)) {
            let _ = handle.command(Command::Dnd {
                user: g.clone(),
                on: true,
            });
            next += 1;
        }
        match tokio::time::timeout(Duration::from_millis(100), updates.next()).await {
            Ok(Some(b)) => seen.take(b),
            Ok(None) => panic!("the session ended"),
            Err(_) => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still shown as {:?} while the PBX reads nothing",
            seen.replica.connection()
        );
    };
    assert!(reason.contains("the PBX stopped reading"), "{reason}");

    // Meanwhile the site moves on; the next connection (read as usual) catches the model up.
    sim.with_pbx(|pbx, _| {
        let queue = pbx.queues().next().map(|q| q.id);
        if let Some(q) = queue {
            let _ = pbx.place_queue_call(q, Caller::new("01632960977", "Stalled Caller"), 3);
        }
    })
    .await
    .expect("the simulator answers");
    sim.advance(secs(30)).await.expect("the clock moves");
    seen.converge(&updates, &sim).await;
    assert!(
        model_view(&seen.replica)
            .calls
            .iter()
            .any(|c| c.0.starts_with("queue")),
        "the call placed while the link was stalled is shown"
    );
    finish(handle, updates, &mut seen).await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_secondary_refuses_a_retry_sends_it_the_new_password_and_never_the_old_one() {
    const OLD: &str = "wrong horse";
    const NEW: &str = "correct horse";
    // The primary cannot be reached; the secondary knows only the new password.
    let secondary = start_sim(NEW).await;
    let dir = Scratch::new("secondary-refuses");
    let secondary_old = endpoint(&secondary, &dir, "secondary", OLD);
    let primary_old = nowhere(&secondary_old).await;
    let (handle, updates) = spawn(
        primary_old.clone(),
        session_config(Some(secondary_old.clone())),
    )
    .expect("TLS settings");
    let mut seen = Seen::default();
    seen.until(
        &updates,
        "the secondary's refusal",
        Seen::stopped_by_refusal,
    )
    .await;
    let refusal = seen.failures.last().cloned();
    match refusal {
        Some(ConnectError::LoginRejected { authority, .. }) => {
            assert_eq!(
                authority,
                secondary_old.authority(),
                "named the system that refused"
            )
        }
        other => panic!("not a refused login: {other:?}"),
    }
    assert_eq!(secondary.refused_logins(), 1);

    // Asked again with nothing changed: the refused password does not go out again.
    handle.retry();
    seen.until(&updates, "the retry to be refused", |s| {
        matches!(s.failures.last(), Some(ConnectError::NotResent { .. }))
    })
    .await;
    assert!(seen.stopped_by_refusal());
    assert_eq!(
        secondary.refused_logins(),
        1,
        "the old password was sent again"
    );

    // The corrected password: the secondary (where the session is) gets it.
    let fixed = |e: &Endpoint| Endpoint {
        password: Secret::new(NEW),
        ..e.clone()
    };
    handle
        .retry_with(fixed(&primary_old), Some(fixed(&secondary_old)))
        .expect("TLS settings");
    seen.converge(&updates, &secondary).await;
    assert_eq!(
        secondary.refused_logins(),
        1,
        "only the first attempt was refused"
    );
    finish(handle, updates, &mut seen).await;
    secondary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_primary_refuses_and_the_password_is_fixed_a_failover_sends_the_new_one() {
    const OLD: &str = "wrong horse";
    const NEW: &str = "correct horse";
    let primary = start_sim(NEW).await;
    let secondary = start_sim(NEW).await;
    let dir = Scratch::new("primary-refuses");
    let primary_old = endpoint(&primary, &dir, "primary", OLD);
    let secondary_old = endpoint(&secondary, &dir, "secondary", OLD);
    let (handle, updates) = spawn(
        primary_old.clone(),
        session_config(Some(secondary_old.clone())),
    )
    .expect("TLS settings");
    let mut seen = Seen::default();
    seen.until(&updates, "the primary's refusal", Seen::stopped_by_refusal)
        .await;
    assert_eq!(primary.refused_logins(), 1);

    let fixed = |e: &Endpoint| Endpoint {
        password: Secret::new(NEW),
        ..e.clone()
    };
    handle
        .retry_with(fixed(&primary_old), Some(fixed(&secondary_old)))
        .expect("TLS settings");
    seen.converge(&updates, &primary).await;

    // The primary goes away for good: the session fails over, with the new password.
    primary.stop().await;
    seen.until(&updates, "the failover", |s| {
        s.replica.system() == Some(ipo_top::model::PbxSystem::Secondary) && s.synced
    })
    .await;
    seen.converge(&updates, &secondary).await;
    assert_eq!(
        secondary.refused_logins(),
        0,
        "the secondary got the old password"
    );
    finish(handle, updates, &mut seen).await;
    secondary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_pbx_is_tried_again_no_sooner_than_its_retry_after() {
    let sim = start_sim(support::PASSWORD).await;
    let dir = Scratch::new("busy");
    let ep = endpoint(&sim, &dir, "primary", support::PASSWORD);
    // Ten seconds from now, as an HTTP date (whole seconds: at least nine are left).
    let in_ten = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(10);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&in_ten)
        .expect("an HTTP date");
    let cases = [(503, "2".to_owned(), 2_000), (429, date, 9_000)];
    for (status, retry_after, at_least_ms) in cases {
        sim.set_busy(Some(Busy {
            status,
            retry_after: Some(retry_after.clone()),
        }));
        let (handle, updates) = spawn(ep.clone(), session_config(None)).expect("TLS settings");
        let mut seen = Seen::default();
        seen.until(&updates, "the busy answer", |s| !s.failures.is_empty())
            .await;
        match seen.failures.first() {
            Some(e @ ConnectError::Http { status: got, .. }) => {
                assert_eq!(*got, status);
                let wait = e.retry_after().expect("Retry-After read");
                assert!(wait.as_millis() >= at_least_ms, "{retry_after}: {wait:?}");
            }
            other => panic!("not a busy answer: {other:?}"),
        }
        // The engine's own deadline for the next attempt says the same, and so does the
        // state the screen shows.
        seen.until(&updates, "the reconnect wait", |s| {
            matches!(s.replica.connection(), ConnectionState::Reconnecting { .. })
        })
        .await;
        match seen.replica.connection() {
            ConnectionState::Reconnecting {
                retry_in_ms,
                reason,
                ..
            } => {
                assert!(u128::from(*retry_in_ms) >= at_least_ms, "{retry_in_ms}");
                assert!(reason.contains("asked to wait"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // Served again: the next attempt (cut short, as R on the screen would) connects.
        sim.set_busy(None);
        handle.retry();
        seen.converge(&updates, &sim).await;
        finish(handle, updates, &mut seen).await;
    }
    sim.stop().await;
}
