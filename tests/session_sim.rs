//! The session against the in-process simulator over real TLS on 127.0.0.1: after sync the
//! model holds exactly what the simulated PBX holds, and it stays so through live changes,
//! subscriptions the PBX ends, and a PBX restart.

#[path = "cli_support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::Duration;

use ipo_top::model::{LineId, Tables};
use ipo_top::session::{SessionConfig, SessionEvent, Updates, spawn};
use ipo_top::sim::pbx::{Caller, Line, Pbx};
use ipo_top::sim::server::ServerHandle;
use ipo_top::sim::site::UserSpec;
use support::*;

/// A queue as compared: guid, extn, name, service mode, members (extn, enabled).
type QueueRow = (String, String, String, i32, Vec<(String, bool)>);

/// What both sides must agree on, in a form that compares and prints well.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct View {
    /// guid, extn, name, dnd, logged off, extension fault.
    users: Vec<(String, String, String, bool, bool, bool)>,
    queues: Vec<QueueRow>,
    /// line, callid, state, gcid.
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
        v.users.push((
            hex(&u.guid),
            u.spec.extn.clone(),
            u.spec.name.clone(),
            u.spec.dnd,
            u.spec.logged_off,
            u.spec.extn_fault,
        ));
        lines.push((format!("user {}", hex(&u.guid)), Line::User(u.id)));
    }
    for q in pbx.queues() {
        let members = q
            .members()
            .iter()
            .filter_map(|m| pbx.user(m.user).map(|u| (u.spec.extn.clone(), m.enabled)))
            .collect();
        v.queues.push((
            hex(&q.guid),
            q.extn.clone(),
            q.name.clone(),
            q.service_mode.to_notify() as i32,
            members,
        ));
        lines.push((format!("queue {}", hex(&q.guid)), Line::Queue(q.id)));
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
        let s = u.status.clone().unwrap_or_default();
        v.users.push((
            u.guid.to_hex(),
            u.extn.to_string(),
            u.name.to_string(),
            s.dnd,
            s.logged_off,
            s.extn_fault,
        ));
    }
    for q in m.queues() {
        let members = q
            .members()
            .iter()
            .map(|m| (m.extn.to_string(), m.enabled))
            .collect();
        v.queues.push((
            q.guid.to_hex(),
            q.extn.to_string(),
            q.name.to_string(),
            q.service_mode().code(),
            members,
        ));
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

async fn sim_now(sim: &ServerHandle) -> View {
    sim.with_pbx(|pbx, _| sim_view(pbx))
        .await
        .expect("the simulator answers")
}

/// Reads updates into the replica until it equals `want` (after a sync), or fails with the
/// difference when the simulator's state is not reached within [`PATIENCE`].
async fn converge(updates: &Updates, replica: &mut Tables, synced: &mut bool, want: &View) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if *synced && model_view(replica) == *want {
            return;
        }
        let batch = match tokio::time::timeout_at(deadline, updates.next()).await {
            Ok(Some(b)) => b,
            Ok(None) => panic!("the session ended"),
            Err(_) => {
                let have = model_view(replica);
                panic!(
                    "the model did not reach the simulator's state (synced: {synced})\n\
                     users equal: {}\nqueues equal: {}\nmodel calls: {:#?}\nsimulator calls: {:#?}",
                    have.users == want.users,
                    have.queues == want.queues,
                    have.calls,
                    want.calls
                );
            }
        };
        for u in batch {
            match u {
                SessionEvent::Model(ev) => replica.apply(&ev),
                SessionEvent::Synced(_) => *synced = true,
                SessionEvent::ConnectFailed(e) => panic!("could not connect: {e}"),
                SessionEvent::SubscribeFailed(f) => panic!("subscription refused: {f:?}"),
                SessionEvent::Command(r) => panic!("no command was sent: {r:?}"),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

fn session_config() -> SessionConfig {
    SessionConfig {
        // Old appearances a resubscription does not report again end after a second here,
        // so the test does not wait ten.
        resync_settle: Duration::from_secs(1),
        ..SessionConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_follows_the_simulator_through_changes_and_terminations() {
    let sim = start_sim().await;
    // Let the demo site get busy: calls queueing, ringing, talking, parked.
    sim.advance(Duration::from_secs(15 * 60))
        .await
        .expect("the clock moves");
    let want = sim_now(&sim).await;
    assert!(want.calls.len() >= 5, "a busy site: {:?}", want.calls);
    assert!(want.users.iter().any(|u| u.3), "someone in DND");
    assert!(want.users.iter().any(|u| u.4), "someone logged off");

    let s = Scratch::new("model");
    let config = ipo_top::app::config::load(Some(&write_config(&sim, &s.path("client"))))
        .expect("the written configuration loads");
    let (handle, updates) = spawn(config.endpoint.clone(), session_config()).expect("TLS settings");
    let mut replica = Tables::new();
    let mut synced = false;

    // 1. After sync, the model is the simulator's state.
    converge(&updates, &mut replica, &mut synced, &want).await;
    assert!(replica.connection().is_up());
    assert!(replica.version().is_some_and(|v| v.contains("IP Office")));

    // 2. Live changes: the lines list (add, rename, delete), a user's status, new calls on a
    //    queue and on the park server, and the site moving on.
    sim.with_pbx(|pbx, _| {
        let ids: Vec<_> = pbx.users().map(|u| u.id).collect();
        let queue = pbx.queues().next().map(|q| q.id);
        if let [first, second, third, ..] = ids[..] {
            pbx.rename_user(first, "Renamed Agent");
            pbx.remove_user(second);
            pbx.set_dnd(third, true);
        }
        let _ = pbx.add_user(UserSpec::new("4199", "Newcomer", "Nia Newcomer"));
        if let Some(q) = queue {
            let _ = pbx.place_queue_call(q, Caller::new("01632960999", "Late Caller"), 3);
        }
        let _ = pbx.park_new_call("9", Caller::new("01632960998", "Parked Caller"), None);
    })
    .await
    .expect("the simulator answers");
    sim.advance(Duration::from_secs(90))
        .await
        .expect("the clock moves");
    let want = sim_now(&sim).await;
    assert!(want.users.iter().any(|u| u.2 == "Newcomer"));
    converge(&updates, &mut replica, &mut synced, &want).await;

    // 3. Two hours later with no refresh seen by the simulator's clock, it ends every
    //    subscription (SubscribeTerminated); the session subscribes again and catches up.
    sim.advance(Duration::from_secs(2 * 3600))
        .await
        .expect("the clock moves");
    let want = sim_now(&sim).await;
    converge(&updates, &mut replica, &mut synced, &want).await;

    handle.shutdown();
    handle.join().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_pbx_restart_the_session_reconnects_and_nothing_stale_remains() {
    let identity = ipo_top::sim::tls::TlsIdentity::generate(&[]).expect("a TLS identity");
    let sim = start_sim_on(([127, 0, 0, 1], 0).into(), identity.clone(), 7).await;
    sim.advance(Duration::from_secs(10 * 60))
        .await
        .expect("the clock moves");
    let addr = sim.local_addr();
    let s = Scratch::new("restart");
    let config = ipo_top::app::config::load(Some(&write_config(&sim, &s.path("client"))))
        .expect("the written configuration loads");
    let (handle, updates) = spawn(config.endpoint.clone(), session_config()).expect("TLS settings");
    let mut replica = Tables::new();
    let mut synced = false;
    let want = sim_now(&sim).await;
    converge(&updates, &mut replica, &mut synced, &want).await;
    let before = replica.appearances().count();
    assert!(before > 0);

    // The PBX goes away (the session sees the link drop and waits to reconnect), then comes
    // back on the same address with the same certificate but another day: other calls.
    sim.stop().await;
    let restarted = start_sim_on(addr, identity, 99).await;
    restarted
        .advance(Duration::from_secs(3 * 60))
        .await
        .expect("the clock moves");
    let want = sim_now(&restarted).await;
    synced = false;
    // The same session reconnects on its own, subscribes everything again, and the calls of
    // the old day end: the model is the new day's, nothing stale and nothing doubled.
    converge(&updates, &mut replica, &mut synced, &want).await;
    handle.shutdown();
    handle.join().await;
    restarted.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_stops_until_asked_again_with_fixed_credentials() {
    use ipo_top::model::{ConnectionState, StopKind};
    use ipo_top::session::{FailureKind, Secret};
    let sim = start_sim().await;
    let s = Scratch::new("relogin");
    let config = ipo_top::app::config::load(Some(&write_config(&sim, &s.path("client"))))
        .expect("the written configuration loads");
    let wrong = ipo_top::session::Endpoint {
        password: Secret::new("guess"),
        ..config.endpoint.clone()
    };
    let (handle, updates) = spawn(wrong, session_config()).expect("TLS settings");
    let mut replica = Tables::new();

    // Refused: one attempt, then the session stops and says why.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut refused = 0;
    while !matches!(
        replica.connection(),
        ConnectionState::Stopped {
            kind: StopKind::LoginRejected,
            ..
        }
    ) {
        let batch = tokio::time::timeout_at(deadline, updates.next())
            .await
            .expect("an update")
            .expect("the session runs");
        for u in batch {
            match u {
                SessionEvent::Model(ev) => replica.apply(&ev),
                SessionEvent::ConnectFailed(e) => {
                    assert_eq!(e.kind(), FailureKind::Auth);
                    refused += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(refused, 1, "never retried on its own");

    // Asked again with the right password, it connects and syncs.
    handle
        .retry_with(config.endpoint.clone(), None)
        .expect("TLS settings");
    let want = sim_now(&sim).await;
    let mut synced = false;
    converge(&updates, &mut replica, &mut synced, &want).await;
    handle.shutdown();
    handle.join().await;
    sim.stop().await;
}

/// Reads updates into the replica until `done` holds, or fails after [`PATIENCE`].
async fn until(
    updates: &Updates,
    replica: &mut Tables,
    what: &str,
    done: impl Fn(&Tables) -> bool,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done(replica) {
        let batch = match tokio::time::timeout_at(deadline, updates.next()).await {
            Ok(Some(b)) => b,
            Ok(None) => panic!("the session ended while waiting for {what}"),
            Err(_) => panic!("{what}: not seen within {PATIENCE:?}"),
        };
        for u in batch {
            if let SessionEvent::Model(ev) = u {
                replica.apply(&ev);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_in_after_call_work_shows_acw_from_the_presence_subscription() {
    use ipo_top::model::{AgentState, Guid, PhoneState};
    let sim = start_sim().await;
    sim.advance(Duration::from_secs(10 * 60))
        .await
        .expect("the clock moves");
    let s = Scratch::new("acw");
    let config = ipo_top::app::config::load(Some(&write_config(&sim, &s.path("client"))))
        .expect("the written configuration loads");
    let (handle, updates) = spawn(config.endpoint.clone(), session_config()).expect("TLS settings");
    let mut replica = Tables::new();
    let mut synced = false;
    let want = sim_now(&sim).await;
    converge(&updates, &mut replica, &mut synced, &want).await;

    // Move the site on until an agent is in after-call work after a queue call: the PBX ended
    // the call with a CallLost (no AFTERCALLWORK appearance exists) and reports ACW only as
    // the phone state.
    let mut in_acw = None;
    for _ in 0..120 {
        sim.advance(Duration::from_secs(5))
            .await
            .expect("the clock moves");
        in_acw = sim
            .with_pbx(|pbx, _| {
                pbx.users()
                    .find(|u| u.in_acw() && u.phone_state().to_wire() == 3)
                    .map(|u| u.guid.to_vec())
            })
            .await
            .expect("the simulator answers");
        if in_acw.is_some() {
            break;
        }
    }
    let guid = Guid::from_bytes(&in_acw.expect("an agent in after-call work within 10 minutes"));
    until(&updates, &mut replica, "the agent in ACW", |m| {
        m.user(&guid)
            .is_some_and(|u| u.agent.state == AgentState::AfterCallWork)
    })
    .await;
    let user = replica.user(&guid).expect("the agent");
    assert_eq!(user.phone, Some(PhoneState::AfterCallWork));
    assert!(
        replica
            .appearances_on(&LineId::User(guid.clone()))
            .all(|a| a.call.state != ipo_top::model::CallState::AfterCallWork),
        "no appearance says ACW: presence is the source"
    );
    handle.shutdown();
    handle.join().await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_the_secondary_and_back_to_the_primary() {
    use ipo_top::model::PbxSystem;
    let primary_id = ipo_top::sim::tls::TlsIdentity::generate(&[]).expect("a TLS identity");
    let primary = start_sim_on(([127, 0, 0, 1], 0).into(), primary_id.clone(), 7).await;
    let secondary = start_sim_on(
        ([127, 0, 0, 1], 0).into(),
        ipo_top::sim::tls::TlsIdentity::generate(&[]).expect("a TLS identity"),
        8,
    )
    .await;
    let addr = primary.local_addr();
    let s = Scratch::new("failover");
    let written = write_config(&primary, &s.path("client"));
    // The primary and the secondary, each pinned by its own certificate.
    let text = std::fs::read_to_string(&written).expect("the configuration");
    let pbx = text.split("[tls]").next().unwrap_or_default();
    let text = format!(
        "{pbx}secondary = \"127.0.0.1\"\nsecondary_port = {}\n\n[tls]\nfingerprint = \"{}\"\nsecondary_fingerprint = \"{}\"\n",
        secondary.local_addr().port(),
        primary.fingerprint(),
        secondary.fingerprint()
    );
    let text = text.replacen("\n\nsecondary = ", "\nsecondary = ", 1);
    std::fs::write(&written, text).expect("the configuration");
    let mut config =
        ipo_top::app::config::load(Some(&written)).expect("the configuration with a secondary");
    assert!(config.session.secondary.is_some());
    config.session.primary_probe = Duration::from_millis(300);
    config.session.resync_settle = Duration::from_secs(1);
    let (handle, updates) = spawn(config.endpoint.clone(), config.session.clone()).expect("TLS");
    let mut replica = Tables::new();
    until(&updates, &mut replica, "connected to the primary", |m| {
        m.system() == Some(PbxSystem::Primary) && m.connection().is_up()
    })
    .await;

    // The primary goes away: the session moves to the secondary and says so.
    primary.stop().await;
    until(&updates, &mut replica, "connected to the secondary", |m| {
        m.system() == Some(PbxSystem::Secondary)
            && matches!(
                m.connection(),
                ipo_top::model::ConnectionState::Connected { .. }
            )
    })
    .await;
    assert!(replica.users().count() > 0, "the site, from the secondary");

    // The primary returns: the session goes back to it.
    let primary = start_sim_on(addr, primary_id, 7).await;
    until(&updates, &mut replica, "back on the primary", |m| {
        m.system() == Some(PbxSystem::Primary)
            && matches!(
                m.connection(),
                ipo_top::model::ConnectionState::Connected { .. }
            )
    })
    .await;
    handle.shutdown();
    handle.join().await;
    primary.stop().await;
    secondary.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_goes_over_the_wire_and_comes_back_done() {
    use ipo_top::model::{Command, CommandStatus, LineId};
    use ipo_top::sim::server::CommandLog;
    let (log_tx, mut log) = tokio::sync::mpsc::unbounded_channel();
    let sim = start_sim_logging(CommandLog::Channel(log_tx)).await;
    let s = Scratch::new("command");
    let config = ipo_top::app::config::load(Some(&write_config(&sim, &s.path("client"))))
        .expect("the written configuration loads");
    let (handle, updates) = spawn(config.endpoint.clone(), session_config()).expect("TLS");
    let mut replica = Tables::new();
    let mut synced = false;
    let want = sim_now(&sim).await;
    converge(&updates, &mut replica, &mut synced, &want).await;

    // Change a waiting call's priority (the demo keeps two waiting in each queue).
    let (id, callid, queue_sub_extn, from) = replica
        .appearances()
        .find_map(|a| match &a.key.line {
            LineId::Queue(g) if a.call.state.is_waiting() => {
                let p = a.call.queue.as_ref().map_or(0, |q| q.priority);
                let q = replica.queue(g).map(|q| q.extn.to_string())?;
                Some((a.id, a.key.callid, q, p))
            }
            _ => None,
        })
        .expect("a waiting call");
    let to = if from == 3 { 1 } else { 3 };
    let priority = ipo_top::model::Priority::from_number(to).expect("1 or 3");
    let cid = handle.command(Command::Priority { on: id, priority });
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut statuses = Vec::new();
    while !statuses.last().is_some_and(CommandStatus::is_final) {
        let batch = tokio::time::timeout_at(deadline, updates.next())
            .await
            .expect("the command's outcome")
            .expect("the session runs");
        for u in batch {
            match u {
                SessionEvent::Command(r) if r.id == cid => statuses.push(r.status),
                SessionEvent::Model(ev) => replica.apply(&ev),
                _ => {}
            }
        }
    }
    assert!(
        matches!(
            &statuses[..],
            [
                CommandStatus::Sent,
                CommandStatus::Accepted,
                CommandStatus::Done { .. }
            ]
        ),
        "{statuses:?}"
    );
    let r = tokio::time::timeout(PATIENCE, log.recv())
        .await
        .expect("the simulator logged it")
        .expect("a record");
    assert_eq!(
        (
            r.subscription.as_str(),
            r.extn.as_str(),
            r.function.as_str(),
            r.argument.as_str(),
            r.callid
        ),
        (
            "queue",
            queue_sub_extn.as_str(),
            "SetPriority",
            to.to_string().as_str(),
            callid
        )
    );
    handle.shutdown();
    handle.join().await;
    sim.stop().await;
}
