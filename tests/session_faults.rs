//! Reconciliation under each of the simulator's faults: afterwards the client's model holds
//! exactly the simulator's calls, the calls that went on keep their identity and first-seen
//! time (so a selection survives), nothing stale, nothing doubled; and after a restart no
//! call is matched across it. The client's engine and the simulator run on virtual time.

#[path = "session_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ipo_top::model::{AppearanceId, LineId, Model};
use ipo_top::session::SessionConfig;
use ipo_top::sim::conn::{ConnConfig, FaultSettings};
use support::Pair;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A busy demo day, synced, ten minutes in.
fn busy() -> Pair {
    let mut l = Pair::demo(
        7,
        ConnConfig::default(),
        SessionConfig {
            resync_settle: secs(2),
            ..SessionConfig::default()
        },
    );
    l.advance(secs(600));
    assert!(!l.syncs.is_empty());
    same(&l, "before the fault");
    assert!(l.pbx_calls().len() >= 5, "a busy site");
    l
}

/// The model (and the screen's copy of it) holds exactly the simulator's calls.
fn same(l: &Pair, when: &str) {
    let want = l.pbx_calls();
    assert_eq!(
        Pair::model_calls(l.client.model()),
        want,
        "the model {when} at {}s",
        l.t()
    );
    assert_eq!(Pair::model_calls(&l.replica), want, "the copy {when}");
}

type Identity = HashMap<(LineId, Vec<u8>), (AppearanceId, Instant)>;

/// Each appearance's identity and first-seen time, by line and gcid.
fn identities(m: &Model) -> Identity {
    m.appearances()
        .filter_map(|a| {
            let gcid = a.call.gcid.as_ref()?.as_bytes().to_vec();
            Some(((a.key.line.clone(), gcid), (a.id, a.first_seen)))
        })
        .collect()
}

/// Calls that were there before and still are keep their identity and first-seen time;
/// returns how many there were.
fn kept(before: &Identity, after: &Model) -> usize {
    let now = identities(after);
    let mut n = 0;
    for (k, v) in before {
        if let Some(w) = now.get(k) {
            assert_eq!(v, w, "{k:?} kept its identity and first-seen time");
            n += 1;
        }
    }
    n
}

fn reconcile_after(fault: impl FnOnce(&mut Pair), name: &str) {
    let mut l = busy();
    let before = identities(l.client.model());
    fault(&mut l);
    l.advance(secs(45));
    same(&l, &format!("after {name}"));
    let n = kept(&before, l.client.model());
    assert!(n > 0, "{name}: some calls went on through it");
    assert!(!l.client.model().in_outage());
}

#[test]
fn after_a_clean_close() {
    reconcile_after(
        |l| l.drop_link("closed by the PBX (1001 going away)"),
        "a close",
    );
}

#[test]
fn after_an_abort() {
    reconcile_after(|l| l.drop_link("connection reset by peer"), "an abort");
}

#[test]
fn after_malformed_and_undecodable_frames() {
    reconcile_after(
        |l| {
            l.garbage();
            assert!(l.client.is_connected(), "garbage is survived");
        },
        "garbage",
    );
}

#[test]
fn after_every_subscription_is_terminated() {
    reconcile_after(
        |l| {
            assert!(l.terminate_subscriptions() > 10);
        },
        "SubscribeTerminated",
    );
}

#[test]
fn after_unanswered_requests() {
    reconcile_after(
        |l| {
            // Every second request gets no answer for a minute, while every subscription is
            // made again.
            l.set_faults(FaultSettings {
                unanswered_every: 2,
                ..FaultSettings::default()
            });
            l.terminate_subscriptions();
            l.advance(secs(60));
            l.set_faults(FaultSettings::default());
        },
        "unanswered requests",
    );
}

#[test]
fn after_slow_answers_and_too_many_outstanding() {
    reconcile_after(
        |l| {
            l.set_faults(FaultSettings {
                response_delay: secs(3),
                max_outstanding: Some(8),
                ..FaultSettings::default()
            });
            l.drop_link("connection reset by peer");
            l.advance(secs(60));
            l.set_faults(FaultSettings::default());
        },
        "TOOMANY and delays",
    );
}

#[test]
fn after_a_restart_no_call_is_matched_across_it() {
    let mut l = busy();
    let before: Vec<AppearanceId> = l.client.model().appearances().map(|a| a.id).collect();
    l.restart();
    l.advance(secs(45));
    same(&l, "after the restart");
    // Not one appearance from before the restart is still there, though the new day reuses
    // the old gcids.
    for a in l.client.model().appearances() {
        assert!(
            !before.contains(&a.id),
            "{:?} matched across the restart",
            a.key
        );
    }
    assert!(l.replica.appearances().all(|a| !before.contains(&a.id)));
}

#[test]
fn a_restart_that_reuses_a_known_gcid_is_detected_at_once() {
    // The scripted site: the same caller numbers every time, so only the restart tells the
    // new calls from the old.
    let steps = r#"
[[step]]
at = 0
call = { queue = "7301", number = "01632960101", name = "Harbour Freight Ltd" }
"#;
    let mut l = Pair::scripted(
        &support::quiet_demo(steps),
        ConnConfig::default(),
        SessionConfig::default(),
    );
    l.advance(secs(5));
    let q = LineId::Queue(l.queue_guid("7301"));
    let old = l.appearance_id(&q, "01632960101");
    let agent = l.ringing_with("01632960101").expect("an agent rings");
    let id = l.user(&agent);
    assert!(l.server.pbx.answer_ringing(id));
    l.drive();
    l.advance(secs(5));
    l.restart();
    // After the reboot another caller gets the first gcid again and waits in the same queue.
    l.server
        .pbx
        .place_queue_call(
            l.server.pbx.queue_by_extn("7301").expect("7301"),
            ipo_top::sim::pbx::Caller::new("01632960999", "Someone else"),
            1,
        )
        .expect("a call");
    l.advance(secs(30));
    same(&l, "after the restart");
    assert!(l.client.model().appearance(old).is_none());
    let new = l.appearance(&q, "01632960999").expect("the new caller");
    assert_ne!(new.id, old);
    assert!(new.present_at_connect);
    assert!(
        matches!(&l.resets[..], [r] if r.contains("another calling party") && r.contains("restarted")),
        "{:?}",
        l.resets
    );
}

#[test]
fn a_system_that_never_answers_getversioninfo_is_followed_all_the_same() {
    let mut l = Pair::demo(
        7,
        ConnConfig::default(),
        SessionConfig {
            resync_settle: secs(2),
            ..SessionConfig::default()
        },
    );
    l.before_11_1 = true;
    l.advance(secs(60));
    assert_eq!(l.syncs.len(), 1, "synced without the version");
    assert_eq!(l.client.model().version(), None);
    same(&l, "without a version");
    // A reconnect does not wait for it either.
    l.drop_link("connection reset by peer");
    l.advance(secs(30));
    same(&l, "after a reconnect without a version");
    assert!(!l.client.model().in_outage());
}
