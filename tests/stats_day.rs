//! Statistics on a scripted simulator morning: the client's session against the simulator's
//! PBX on virtual time, every figure computed by hand from the script below.

#[path = "session_support/mod.rs"]
mod support;

use std::time::Duration;

use ipo_top::model::{LineId, PeriodStart};
use ipo_top::session::SessionConfig;
use ipo_top::sim::conn::ConnConfig;
use support::Pair;

/// Nobody answers unless the test says so; a caller waits 25 s before hanging up; calls ring
/// one member for ten minutes. The client connects at 5 s, when call P is already waiting.
const MORNING: &str = r#"
[site]
scenario = "demo"
time_of_day = "09:00"
seed = 1
ring_for = 600
talk = 900
acw = 30
patience = 25
parked = false
overflow = false

[[step]]
at = 0
call = { queue = "7301", number = "01632960100", name = "P: present at connect" }

[[step]]
at = 10
call = { queue = "7301", number = "01632960101", name = "B" }

[[step]]
at = 30
call = { queue = "7301", number = "01632960102", name = "C" }

[[step]]
at = 52
call = { queue = "7301", number = "01632960103", name = "D" }

[[step]]
at = 90
call = { queue = "7301", number = "01632960104", name = "E: never answered" }
"#;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn a_scripted_morning_gives_the_hand_computed_statistics() {
    let mut l = Pair::scripted(
        MORNING,
        ConnConfig::default(),
        SessionConfig {
            resync_settle: secs(1),
            ..SessionConfig::default()
        },
    );
    // The PBX is unreachable for the first 5 s: P has been waiting 5 s when the client
    // first sees it.
    l.reachable = false;
    l.advance(secs(5));
    l.reachable = true;
    l.client.retry(l.now);
    l.drive();
    assert_eq!(l.syncs.len(), 1, "synced at 5 s");
    let claims = l.queue_guid("7301");
    let q = LineId::Queue(claims.clone());
    let p = l.appearance(&q, "01632960100").expect("P");
    assert!(
        p.present_at_connect,
        "P was already waiting: its wait shows >="
    );

    // Answers, each by an agent whose phone rings with the call: P at 15 s; B (first seen at 10 s) at 20 s: 10 s; C (30 s) at 50 s: exactly 20 s;
    // D (52 s) at 73 s: 21 s. E (90 s) is never answered and hangs up at 115 s.
    let answer_at = |l: &mut Pair, t: u64, caller: &str| {
        let now = l.t() as u64;
        l.advance(secs(t - now));
        let who = l
            .ringing_with(caller)
            .unwrap_or_else(|| panic!("a phone rings with {caller} at {t} s"));
        let id = l.user(&who);
        assert!(
            l.server.pbx.answer_ringing(id),
            "{who} answers {caller} at {t} s"
        );
        l.drive();
    };
    answer_at(&mut l, 15, "01632960100");
    answer_at(&mut l, 20, "01632960101");
    answer_at(&mut l, 50, "01632960102");
    answer_at(&mut l, 73, "01632960103");
    l.advance(secs(120 - 73));

    let s = l
        .client
        .model()
        .queue(&claims)
        .map(|q| q.stats.clone())
        .expect("7301");
    // Offered: P B C D E. Answered: P B C D. Abandoned: E (at 25 s: not short).
    assert_eq!((s.offered, s.answered, s.abandoned), (5, 4, 1), "{s:?}");
    assert_eq!(s.short_abandoned, 0);
    // P's wait is a lower bound: counted, but not in ASA or service level.
    assert_eq!(s.lower_bound, 1);
    assert_eq!(s.timed_answered, 3);
    // ASA over B C D: (10 + 20 + 21) / 3 = 17 s.
    assert_eq!(s.asa(), Some(secs(17)));
    // Service level: B and C within 20 s (C exactly at it), of B C D answered and E
    // abandoned: 2 / 4.
    assert_eq!(s.answered_in_sl, 2);
    assert_eq!(s.timed_abandoned, 1);
    assert_eq!(s.service_level(), Some(0.5));
    assert_eq!(s.waiting, 0);
    let period = l.client.model().stats_period().expect("a period");
    assert_eq!(period.start, PeriodStart::Started);
    // The screen's copy has the same figures.
    assert_eq!(
        l.replica.queue(&claims).map(|q| q.stats.clone()),
        Some(s.clone())
    );
}

/// One call answered by an agent who talks 30 s and then has 30 s of after-call work (which the
/// PBX reports only as the phone state); one caller who gives up after 3 s.
const SHORT: &str = r#"
[site]
scenario = "demo"
time_of_day = "09:00"
seed = 1
ring_for = 600
talk = 900
acw = 30
patience = 3
parked = false
overflow = false

[[step]]
at = 10
call = { queue = "7302", number = "01632960201", name = "F: answered" }

[[step]]
at = 60
call = { queue = "7302", number = "01632960202", name = "G: gives up at once" }
"#;

#[test]
fn a_short_abandon_is_left_out_and_an_agent_gets_talk_and_acw_time() {
    let mut l = Pair::scripted(SHORT, ConnConfig::default(), SessionConfig::default());
    l.advance(secs(11));
    let agent = l
        .ringing_with("01632960201")
        .expect("an agent rings with F");
    let agent_id = l.user(&agent);
    assert!(l.server.pbx.answer_ringing(agent_id));
    l.drive();
    l.advance(secs(30));
    assert!(
        l.server.pbx.far_end_hangs_up(agent_id),
        "F hangs up at 41 s"
    );
    l.drive();
    l.advance(secs(100 - 41));

    let roadside = l.queue_guid("7302");
    let s = l
        .client
        .model()
        .queue(&roadside)
        .map(|q| q.stats.clone())
        .expect("7302");
    // F answered within 1 s; G gave up after 3 s: a short abandon, left out of the service
    // level, which is F alone: 100 %.
    assert_eq!((s.offered, s.answered, s.abandoned), (2, 1, 1), "{s:?}");
    assert_eq!(s.short_abandoned, 1);
    assert_eq!(s.service_level(), Some(1.0));
    assert_eq!(s.asa(), Some(secs(1)));

    // The agent: one call, 30 s talking, 30 s in after-call work (from 41 s to 71 s).
    let u = l
        .client
        .model()
        .user(&l.user_guid(&agent))
        .cloned()
        .expect("the agent");
    assert_eq!(u.stats.answered, 1);
    assert_eq!(u.stats.talk_time(&u.agent, l.now), secs(30));
    assert_eq!(u.stats.acw_time(&u.agent, l.now), secs(30));
}
