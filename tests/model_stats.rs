//! Queue and agent statistics on a scripted morning, every figure computed by hand in the
//! comments; and the counting period rolling over at midnight.

use std::time::{Duration, Instant};

use ipo_top::model::{
    AgentCounts, AgentState, CallFeatureBits, CallLost, CallSnapshot, CallState, Direction, Gcid,
    Guid, LineEntry, LineId, Model, Party, PeriodStart, PhoneState, QueueDetail, QueueMember,
    QueueStatus, StatsConfig, Text, UserStatus, WallClock,
};

fn guid(b: u8) -> Guid {
    Guid::from_bytes(&[0xDC, 0x51, b])
}

fn entry(b: u8, extn: &str, name: &str) -> LineEntry {
    LineEntry {
        guid: guid(b),
        extn: extn.into(),
        name: name.into(),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A caller `n` in queue `number`, in `state`; connected to `agent` when given.
fn call(n: u8, number: &str, state: CallState, agent: Option<&str>) -> CallSnapshot {
    CallSnapshot {
        callid: i32::from(n),
        state,
        direction: Direction::Inbound,
        gcid: Some(Gcid::from_bytes(&[0x01, 0xC0, 0xA8, 0x2A, n])),
        features: CallFeatureBits(0x6060_E0B1),
        calling: Some(Party {
            number: format!("0207946{n:04}").into(),
            ..Party::default()
        }),
        connected: agent.map(|a| Party {
            number: a.into(),
            ..Party::default()
        }),
        queue: Some(QueueDetail {
            number: number.into(),
            priority: 1,
            ..QueueDetail::default()
        }),
        ..CallSnapshot::default()
    }
}

fn lost(n: u8) -> CallLost {
    CallLost {
        callid: i32::from(n),
        cause: 16,
        ..CallLost::default()
    }
}

/// 10:00:00 UTC on 1 March 2024, in Unix ms.
const TEN_AM: i64 = 1_709_287_200_000;

fn clock(at: Instant, unix_ms: i64) -> StatsConfig {
    StatsConfig {
        service_level: secs(20),
        short_abandon: secs(5),
        clock: Some(WallClock::utc(at, unix_ms)),
    }
}

/// Agents 4101 and 4102, queues 7301 (4101 enabled, 4102 disabled) and 7302.
fn site(t0: Instant, config: StatsConfig) -> Model {
    let mut m = Model::new();
    m.configure_stats(t0, config);
    m.upsert_user(t0, entry(1, "4101", "Achterberg"));
    m.upsert_user(t0, entry(2, "4102", "Nakashima"));
    m.upsert_queue(entry(9, "7301", "Claims Desk"));
    m.upsert_queue(entry(8, "7302", "Renewals"));
    for g in [1, 2] {
        m.set_user_status(
            t0,
            &guid(g),
            Text::empty(),
            Text::empty(),
            UserStatus::default(),
        );
    }
    m.set_queue_status(
        &guid(9),
        Text::empty(),
        Text::empty(),
        QueueStatus {
            members: Some(vec![
                QueueMember {
                    extn: "4101".into(),
                    enabled: true,
                },
                QueueMember {
                    extn: "4102".into(),
                    enabled: false,
                },
            ]),
            ..QueueStatus::default()
        },
    );
    while m.poll_event().is_some() {}
    m
}

#[test]
fn a_scripted_morning_gives_the_hand_computed_figures() {
    let t0 = Instant::now();
    let mut m = site(t0, clock(t0, TEN_AM));
    let q = LineId::Queue(guid(9));
    let agent = LineId::User(guid(1));
    let at = |s: u64| t0 + secs(s);
    assert_eq!(
        m.stats_period().map(|p| (p.start, p.label.to_string())),
        Some((PeriodStart::Started, "since 10:00 UTC (start)".to_owned()))
    );

    // A: already waiting when the queue was subscribed (present at connect), answered at
    // +30 s. Counted as offered and answered, but its wait is a lower bound: not timed.
    m.begin_resync(&q);
    m.call_info(at(0), q.clone(), call(1, "7301", CallState::Queueing, None));
    m.end_initial_report(&q);
    assert!(m.appearances().all(|a| a.present_at_connect));
    m.call_info(
        at(30),
        q.clone(),
        call(1, "7301", CallState::Connected, Some("4102")),
    );

    // B: first seen at +60, answered at +70 by 4101 (10 s: within 20 s). 4101 talks until
    // +90 (20 s), then is in after-call work until +120 (30 s, reported by presence only).
    m.call_info(
        at(60),
        q.clone(),
        call(2, "7301", CallState::Queueing, None),
    );
    m.call_info(at(65), q.clone(), call(2, "7301", CallState::Ringing, None));
    m.call_info(
        at(65),
        agent.clone(),
        call(2, "7301", CallState::Ringing, None),
    );
    m.call_info(
        at(70),
        q.clone(),
        call(2, "7301", CallState::Connected, Some("4101")),
    );
    m.call_info(
        at(70),
        agent.clone(),
        call(2, "7301", CallState::Connected, Some("4101")),
    );
    m.call_lost(at(90), agent.clone(), lost(2));
    m.call_lost(at(90), q.clone(), lost(2));
    m.set_phone_state(at(90), &guid(1), PhoneState::AfterCallWork);
    m.set_phone_state(at(120), &guid(1), PhoneState::Idle);

    // C: first seen at +100, answered at +120: exactly 20 s, within the threshold.
    m.call_info(
        at(100),
        q.clone(),
        call(3, "7301", CallState::Queueing, None),
    );
    m.call_info(
        at(120),
        q.clone(),
        call(3, "7301", CallState::Connected, Some("4102")),
    );
    // D: first seen at +130, answered at +151: 21 s, outside.
    m.call_info(
        at(130),
        q.clone(),
        call(4, "7301", CallState::Queueing, None),
    );
    m.call_info(
        at(151),
        q.clone(),
        call(4, "7301", CallState::Connected, Some("4102")),
    );
    // E: first seen at +200, hangs up at +203: a short abandon (under 5 s).
    m.call_info(
        at(200),
        q.clone(),
        call(5, "7301", CallState::Queueing, None),
    );
    m.call_lost(at(203), q.clone(), lost(5));
    // F: first seen at +300, hangs up while ringing at +340: abandoned.
    m.call_info(
        at(300),
        q.clone(),
        call(6, "7301", CallState::Queueing, None),
    );
    m.call_info(
        at(310),
        q.clone(),
        call(6, "7301", CallState::Ringing, None),
    );
    m.call_lost(at(340), q.clone(), lost(6));
    // G: first seen at +400; the supervisor transfers it (accepted at +410); it is lost while
    // ringing the target at +420: not an abandon.
    m.call_info(
        at(400),
        q.clone(),
        call(7, "7301", CallState::Queueing, None),
    );
    let g = m
        .appearances()
        .find(|a| a.key.callid == 7)
        .map(|a| a.id)
        .expect("call G");
    m.note_moved(g);
    m.call_info(
        at(415),
        q.clone(),
        call(7, "7301", CallState::Ringing, None),
    );
    m.call_lost(at(420), q.clone(), lost(7));
    // H: first seen at +500, answered by voicemail at +530, ends at +600: neither.
    m.call_info(
        at(500),
        q.clone(),
        call(8, "7301", CallState::Queueing, None),
    );
    m.call_info(
        at(530),
        q.clone(),
        call(8, "7301", CallState::AnsweredByVoicemail, None),
    );
    m.call_lost(at(600), q.clone(), lost(8));
    // I: reported by 7301's subscription but in queue 7302 now: it counts for 7302.
    m.call_info(
        at(700),
        q.clone(),
        call(9, "7302", CallState::Queueing, None),
    );
    // J: first seen waiting at +730, still waiting.
    m.call_info(
        at(730),
        q.clone(),
        call(10, "7301", CallState::Queueing, None),
    );

    let claims = m.queue(&guid(9)).map(|q| q.stats.clone()).expect("7301");
    // Offered: A B C D E F G H J = 9. Answered: A B C D = 4. Abandoned: E F = 2, E short.
    assert_eq!(
        (claims.offered, claims.answered, claims.abandoned),
        (9, 4, 2)
    );
    assert_eq!(claims.short_abandoned, 1);
    // A is the one counted call left out of ASA and service level.
    assert_eq!(claims.lower_bound, 1);
    // ASA over B C D: (10 + 20 + 21) / 3 = 17 s.
    assert_eq!(claims.timed_answered, 3);
    assert_eq!(claims.asa(), Some(secs(17)));
    // Service level: B and C within 20 s, of B C D answered and F abandoned: 2 / 4.
    assert_eq!(claims.answered_in_sl, 2);
    assert_eq!(claims.timed_abandoned, 1);
    assert_eq!(claims.service_level(), Some(0.5));
    // Waiting now: J, for 30 s at +760.
    assert_eq!(claims.waiting, 1);
    assert_eq!(claims.longest_wait(at(760)), Some(secs(30)));
    assert!(!claims.oldest_is_lower_bound);

    let renewals = m.queue(&guid(8)).map(|q| q.stats.clone()).expect("7302");
    assert_eq!((renewals.offered, renewals.waiting), (1, 1));
    assert_eq!(renewals.longest_wait(at(760)), Some(secs(60)));

    // Agent 4101: one call answered, 20 s talking, 30 s in after-call work.
    let a = m.user(&guid(1)).expect("4101");
    assert_eq!(a.stats.answered, 1);
    assert_eq!(a.stats.talk_time(&a.agent, at(760)), secs(20));
    assert_eq!(a.stats.acw_time(&a.agent, at(760)), secs(30));
    assert_eq!(a.agent.state, AgentState::Available);

    // Agents in 7301 now: 4101 available; 4102 is disabled there, so away.
    assert_eq!(
        m.queue_agents(&guid(9)),
        AgentCounts {
            available: 1,
            busy: 0,
            away: 1
        }
    );

    // events --json carries the figures.
    let v = serde_json::to_value(m.queue(&guid(9)).map(|q| (**q).clone())).unwrap_or_default();
    assert_eq!(v["stats"]["offered"], 9);
    assert_eq!(v["stats"]["asa_ms"], 17_000);
    assert_eq!(v["stats"]["service_level"], 0.5);
    let v = serde_json::to_value(m.user(&guid(1)).map(|u| (**u).clone())).unwrap_or_default();
    assert_eq!(v["stats"]["talk_ms"], 20_000);
    assert_eq!(v["stats"]["acw_ms"], 30_000);
}

#[test]
fn talk_in_progress_counts_from_the_period_start_and_acw_is_never_counted_twice() {
    let t0 = Instant::now();
    let mut m = site(t0, clock(t0, TEN_AM));
    let agent = LineId::User(guid(1));
    // The agent is talking at +10 and still at +70: 60 s so far.
    m.call_info(
        t0 + secs(10),
        agent.clone(),
        call(1, "7301", CallState::Connected, Some("4101")),
    );
    let a = m.user(&guid(1)).expect("4101").clone();
    assert_eq!(a.stats.talk_time(&a.agent, t0 + secs(70)), secs(60));
    // The call ends; both sources say ACW (an AFTERCALLWORK appearance and the phone state):
    // one state, one spell of 15 s.
    m.call_lost(t0 + secs(70), agent.clone(), lost(1));
    m.set_phone_state(t0 + secs(70), &guid(1), PhoneState::AfterCallWork);
    m.call_info(
        t0 + secs(70),
        agent.clone(),
        call(2, "7301", CallState::AfterCallWork, None),
    );
    m.call_lost(t0 + secs(85), agent.clone(), lost(2));
    m.set_phone_state(t0 + secs(85), &guid(1), PhoneState::Idle);
    let a = m.user(&guid(1)).expect("4101").clone();
    assert_eq!(a.stats.talk_time(&a.agent, t0 + secs(100)), secs(60));
    assert_eq!(a.stats.acw_time(&a.agent, t0 + secs(100)), secs(15));
}

#[test]
fn counting_starts_again_at_midnight_and_carried_calls_are_untimed() {
    let t0 = Instant::now();
    // 23:58:00 UTC.
    let unix = TEN_AM + (13 * 3600 + 58 * 60) * 1000;
    let mut m = site(t0, clock(t0, unix));
    let q = LineId::Queue(guid(9));
    assert_eq!(m.stats_deadline(), Some(t0 + secs(120)));

    // Before midnight: one call answered in 8 s, one waiting since 23:59:30.
    m.call_info(
        t0 + secs(10),
        q.clone(),
        call(1, "7301", CallState::Queueing, None),
    );
    m.call_info(
        t0 + secs(18),
        q.clone(),
        call(1, "7301", CallState::Connected, Some("4101")),
    );
    m.call_info(
        t0 + secs(90),
        q.clone(),
        call(2, "7301", CallState::Queueing, None),
    );
    let before = m.queue(&guid(9)).map(|q| q.stats.clone()).expect("7301");
    assert_eq!(
        (before.offered, before.answered, before.timed_answered),
        (2, 1, 1)
    );

    // Midnight: a new period, its label says so; the figures start from nothing but the
    // waiting call is still waiting.
    m.tick(t0 + secs(120));
    let p = m.stats_period().expect("a period").clone();
    assert_eq!(p.start, PeriodStart::Midnight);
    assert_eq!(p.label, "since 00:00 UTC");
    assert_eq!(p.since, t0 + secs(120));
    let after = m.queue(&guid(9)).map(|q| q.stats.clone()).expect("7301");
    assert_eq!((after.offered, after.answered, after.waiting), (0, 0, 1));
    assert_eq!(after.longest_wait(t0 + secs(130)), Some(secs(40)));

    // The carried call is answered after midnight: answered, but not timed (it was offered
    // before the period began).
    m.call_info(
        t0 + secs(135),
        q.clone(),
        call(2, "7301", CallState::Connected, Some("4101")),
    );
    let after = m.queue(&guid(9)).map(|q| q.stats.clone()).expect("7301");
    assert_eq!(
        (after.answered, after.timed_answered, after.lower_bound),
        (1, 0, 1)
    );
    assert_eq!(after.asa(), None);
    assert_eq!(m.stats_deadline(), Some(t0 + secs(120 + 86_400)));
}

/// An agent already talking when its line is subscribed: the user's status arrives first and
/// shows it idle, then the call; the talk time is a lower bound (`≥`), not a time we saw begin.
/// A call that arrives later is seen from its start.
#[test]
fn an_agent_on_a_call_at_connect_has_a_lower_bound_time_in_state() {
    let t0 = Instant::now();
    let mut m = site(t0, clock(t0, TEN_AM));
    let agent = LineId::User(guid(1));
    let state = |m: &Model| {
        let u = m.user(&guid(1)).expect("agent 4101");
        (u.agent.state, u.agent.observed)
    };
    assert_eq!(state(&m).0, AgentState::Available);

    m.begin_resync(&agent);
    m.call_info(
        t0 + secs(1),
        agent.clone(),
        call(1, "7301", CallState::Connected, Some("4101")),
    );
    m.end_initial_report(&agent);
    assert_eq!(state(&m), (AgentState::Talking, false));

    // Held on that same call: a change we saw happen.
    m.call_info(
        t0 + secs(5),
        agent.clone(),
        call(1, "7301", CallState::OnHold, Some("4101")),
    );
    assert_eq!(state(&m), (AgentState::Held, true));

    // The call ends; a new one rings later: seen from its start.
    m.call_lost(t0 + secs(9), agent.clone(), lost(1));
    m.call_info(
        t0 + secs(20),
        agent.clone(),
        call(2, "7301", CallState::Ringing, None),
    );
    assert_eq!(state(&m), (AgentState::Ringing, true));
}
