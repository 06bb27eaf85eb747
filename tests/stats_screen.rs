//! The queue panes with statistics, at 80x24 and 160x48: the fixture's busy moment after a
//! morning whose figures are computed by hand below, with a call that was already waiting when
//! ipo-top connected (its wait shows ≥), and the counting period in the pane's title.

#[path = "ui_fixture/mod.rs"]
mod ui_fixture;

use ipo_top::model::{
    CallLost, CallSnapshot, CallState, Direction, LineId, StatsConfig, WallClock,
};
use ipo_top::ui::{Key, KeyCode, Theme};
use ui_fixture::{CLAIMS, NOW, ROADSIDE, Site, app, busy_site, gcid, guid, party, render};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// 12:32:07 UTC (the header's clock) less the fixture's two hours: 10:32:07 UTC, 1 March 2024.
const START_UNIX_MS: i64 = 1_709_289_127_000;

fn queued(callid: i32, number: &str, state: CallState, agent: Option<&str>) -> CallSnapshot {
    CallSnapshot {
        callid,
        state,
        direction: Direction::Inbound,
        gcid: gcid(callid as u16),
        calling: Some(party(number, "")),
        connected: agent.map(|a| party(a, "")),
        queue: Some(ipo_top::model::QueueDetail {
            number: "7301".into(),
            name: "Claims Desk".into(),
            priority: 1,
            ..Default::default()
        }),
        ..CallSnapshot::default()
    }
}

/// A Claims Desk caller first seen waiting `ago` s before the screen's moment, answered by
/// 4106 after `answer` s or hanging up after `hangup` s.
fn history(s: &mut Site, callid: i32, ago: u64, answer: Option<u64>, hangup: Option<u64>) {
    let q = LineId::Queue(guid(CLAIMS));
    let number = format!("0163296{callid:04}");
    s.model.call_info(
        s.ago(ago),
        q.clone(),
        queued(callid, &number, CallState::Queueing, None),
    );
    if let Some(a) = answer {
        s.model.call_info(
            s.ago(ago - a),
            q.clone(),
            queued(callid, &number, CallState::Connected, Some("4106")),
        );
    }
    let end = ago - answer.or(hangup).unwrap_or(0) - u64::from(hangup.is_none()) * 60;
    s.model.call_lost(
        s.ago(end),
        q,
        CallLost {
            callid,
            cause: 16,
            ..CallLost::default()
        },
    );
}

/// The busy moment after a morning on Claims Desk:
/// - answered after 10 s, 30 s and 10 s: ANS 3, ASA (10 + 30 + 10) / 3 = 16.7 s, shown 00:16;
/// - abandoned after 10 s and after 3 s (short): ABN 2;
/// - SL: 2 answered within 20 s, of 3 answered and 1 (not short) abandoned: 50%.
///
/// Roadside gets a caller who was already waiting when its subscription was made: its wait
/// of 10 minutes is a lower bound (≥), and it is the longest there.
fn morning() -> (Site, Vec<ipo_top::model::ModelEvent>) {
    let (mut s, mut evs) = busy_site();
    let start = s.at(0);
    s.model.configure_stats(
        start,
        StatsConfig {
            clock: Some(WallClock::utc(start, START_UNIX_MS)),
            ..StatsConfig::default()
        },
    );
    history(&mut s, 301, 3000, Some(10), None);
    history(&mut s, 302, 2500, Some(30), None);
    history(&mut s, 303, 2000, None, Some(10));
    history(&mut s, 304, 1800, None, Some(3));
    history(&mut s, 305, 1500, Some(10), None);
    let road = LineId::Queue(guid(ROADSIDE));
    s.model.begin_resync(&road);
    s.model.call_info(
        s.ago(600),
        road.clone(),
        CallSnapshot {
            queue: Some(ipo_top::model::QueueDetail {
                number: "7302".into(),
                name: "Roadside".into(),
                priority: 1,
                ..Default::default()
            }),
            ..queued(306, "01632960306", CallState::Queueing, None)
        },
    );
    s.model.end_initial_report(&road);
    evs.extend(s.events());
    (s, evs)
}

#[test]
fn the_morning_adds_up_as_computed_by_hand() {
    let (s, _) = morning();
    let q = s.model.queue(&guid(CLAIMS)).map(|q| q.stats.clone());
    let q = q.expect("Claims Desk");
    assert_eq!((q.answered, q.abandoned, q.short_abandoned), (3, 2, 1));
    assert_eq!(q.asa().map(|d| d.as_millis()), Some(16_666));
    assert_eq!(q.service_level(), Some(0.5));
    // The three callers waiting now and the five of the morning were all offered.
    assert_eq!(q.offered, 8);
    let road = s.model.queue(&guid(ROADSIDE)).map(|q| q.stats.clone());
    assert!(road.is_some_and(|r| r.oldest_is_lower_bound && r.waiting == 2));
    assert_eq!(
        s.model.stats_period().map(|p| p.label.to_string()),
        Some("since 10:32 UTC (start)".to_owned())
    );
    assert_eq!(NOW, 7200);
}

#[test]
fn queue_panes_show_sl_ans_abn_asa_and_the_counting_period() {
    for (w, h) in SIZES {
        let (s, evs) = morning();
        let a = app(&s, evs, w, h, Theme::colour());
        let text = render(&a);
        assert!(text.contains("Queues · since 10:32 UTC (start)"), "{text}");
        for heading in ["SL", "ANS", "ABN", "ASA"] {
            assert!(text.contains(heading), "{heading}:\n{text}");
        }
        assert!(text.contains(" 50%   3   2 00:16"), "{text}");
        assert!(
            text.contains("≥10:00 !"),
            "the lower bound is marked:\n{text}"
        );
        insta::assert_snapshot!(format!("main_{w}x{h}"), text);
    }
}

#[test]
fn the_queue_detail_spells_the_figures_out() {
    for (w, h) in SIZES {
        let (s, evs) = morning();
        let mut a = app(&s, evs, w, h, Theme::colour());
        for k in [Key::plain(KeyCode::BackTab), Key::plain(KeyCode::Enter)] {
            a.update(ipo_top::ui::Event::Key(k));
        }
        let text = render(&a);
        assert!(text.contains("Offered    8"), "{text}");
        insta::assert_snapshot!(format!("queue_detail_{w}x{h}"), text);
    }
}

#[test]
fn help_gives_the_same_definitions_with_the_thresholds_in_force() {
    let (s, evs) = morning();
    let mut a = app(&s, evs, 120, 200, Theme::colour());
    a.update(ipo_top::ui::Event::Key(Key::char('?')));
    let text: String = render(&a)
        .lines()
        .map(|l| l.trim_matches(|c| c == '"' || c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for part in [
        "Statistics",
        "ASA: the mean time from first seen to answered.",
        "answered within 20 s, short abandons left out",
        "hung up within 5 s are short abandons",
        "show ≥ before their wait",
    ] {
        assert!(text.contains(part), "{part:?} in help:\n{text}");
    }
}
