//! Queue alerts on the screen: the level of each queue by symbol and colour (the same text
//! without colour), worst first in the header, a history line per transition, the bell as an
//! action exactly once, the acknowledge key, and "alerts paused" while the data is stale.

mod ui_fixture;

use std::time::Duration;

use ipo_top::model::{AlertConfig, AlertLevel, ConnectionState, Figure, ModelEvent, Text};
use ipo_top::ui::{Action, App, Event, Key, Theme, UiConfig};
use ui_fixture::{CLAIMS, CLOCK, ROADSIDE, SALES, Site, busy_site, guid, render};

fn alerting() -> AlertConfig {
    let mut c = AlertConfig {
        bell: true,
        ..AlertConfig::default()
    };
    c.defaults.set(Figure::Waiting, AlertLevel::Warn, Some(1));
    c.defaults
        .set(Figure::Waiting, AlertLevel::Critical, Some(3));
    c
}

fn screen(site: &Site, events: Vec<ModelEvent>, theme: Theme, w: u16, h: u16) -> App {
    let config = UiConfig {
        pbx: "ipo-hq.example.net".into(),
        theme,
        supervisor: Some("4190".into()),
        alerts: alerting(),
        ..UiConfig::default()
    };
    let mut app = App::new(config, site.at(0));
    app.update(Event::Resize {
        width: w,
        height: h,
    });
    app.update(Event::Model(events));
    app
}

fn tick(app: &mut App, site: &Site, after: u64) -> Vec<Action> {
    app.update(Event::Tick {
        now: site.now() + Duration::from_secs(after),
        clock: Some(CLOCK),
    })
}

#[test]
fn a_queue_over_its_thresholds_is_marked_rings_once_and_is_remembered() {
    let (site, events) = busy_site();
    let mut app = screen(&site, events, Theme::colour(), 160, 48);
    // Claims Desk has 3 waiting (critical), Roadside 1 (warn), Sales is in night service.
    assert!(tick(&mut app, &site, 0).is_empty());
    assert_eq!(
        app.alerts().level(&guid(CLAIMS)),
        AlertLevel::Ok,
        "dwell first"
    );
    // After the dwell, one bell for the queue that entered critical, and never again.
    assert_eq!(tick(&mut app, &site, 5), [Action::Bell]);
    for s in 6..20 {
        assert!(tick(&mut app, &site, s).is_empty());
    }
    assert_eq!(app.alerts().level(&guid(CLAIMS)), AlertLevel::Critical);
    assert_eq!(app.alerts().level(&guid(ROADSIDE)), AlertLevel::Warn);
    assert_eq!(app.alerts().level(&guid(SALES)), AlertLevel::Ok);

    let text = render(&app);
    let header = text.lines().next().unwrap_or_default();
    // Worst first.
    let (claims, roadside) = (header.find("◆ Claims Desk"), header.find("◇ Roadside"));
    assert!(claims.is_some() && roadside.is_some(), "{header}");
    assert!(claims < roadside, "{header}");
    let row = |name: &str| {
        // The queues pane is the left half of its lines.
        text.lines()
            .filter_map(|l| l.split("││").next())
            .find(|l| l.contains(name) && l.contains(" 730"))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(row("Claims Desk").contains("◆ Claims Desk"), "{text}");
    assert!(row("Roadside").contains("◇ Roadside"), "{text}");
    assert!(
        !row("Sales").contains('◆') && !row("Sales").contains('▲'),
        "{text}"
    );

    // Without colour the screen reads the same: the symbols carry the level.
    let (site2, events2) = busy_site();
    let mut mono = screen(&site2, events2, Theme::monochrome(), 160, 48);
    for s in [0, 5, 19] {
        tick(&mut mono, &site2, s);
    }
    assert_eq!(render(&mono), text);

    // The history has a line per transition, with the time and the figure.
    let lines: Vec<String> = app
        .history()
        .map(|e| {
            format!(
                "{} {}",
                e.clock.map(|c| c.to_string()).unwrap_or_default(),
                e.message.text
            )
        })
        .collect();
    assert!(
        lines.contains(&"14:32:07 Claims Desk 7301 critical: calls waiting 3 (≥ 3)".to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"14:32:07 Roadside 7302 warn: calls waiting 1 (≥ 1)".to_owned()),
        "{lines:#?}"
    );
}

#[test]
fn acknowledging_keeps_the_alerts_shown() {
    let (site, events) = busy_site();
    let mut app = screen(&site, events, Theme::colour(), 160, 48);
    tick(&mut app, &site, 0);
    tick(&mut app, &site, 5);
    assert!(!app.alerts().acknowledged(&guid(CLAIMS)));
    app.update(Event::Key(Key::char('!')));
    assert!(app.alerts().acknowledged(&guid(CLAIMS)));
    assert!(app.alerts().acknowledged(&guid(ROADSIDE)));
    assert_eq!(
        app.status().map(|m| m.text.as_str()),
        Some("acknowledged the alerts of 2 queues")
    );
    let text = render(&app);
    assert!(text.contains("◆ Claims Desk"), "{text}");
    assert!(tick(&mut app, &site, 6).is_empty());
}

#[test]
fn while_the_link_is_down_alerts_are_paused_and_the_header_says_so() {
    let (site, events) = busy_site();
    let mut app = screen(&site, events, Theme::colour(), 160, 48);
    tick(&mut app, &site, 0);
    tick(&mut app, &site, 5);
    app.update(Event::Model(vec![ModelEvent::Connection {
        state: ConnectionState::Reconnecting {
            at: site.now() + Duration::from_secs(30),
            retry_in_ms: 30_000,
            reason: Text::from("closed"),
        },
    }]));
    assert!(tick(&mut app, &site, 6).is_empty());
    let text = render(&app);
    let header = text.lines().next().unwrap_or_default();
    assert!(header.contains("alerts paused"), "{header}");
    // The levels stay as they were.
    assert!(text.contains("◆ Claims Desk"), "{text}");
}

#[test]
fn the_bell_stays_quiet_unless_asked_for() {
    let (site, events) = busy_site();
    let config = UiConfig {
        alerts: AlertConfig {
            bell: false,
            ..alerting()
        },
        ..UiConfig::default()
    };
    let mut app = App::new(config, site.at(0));
    app.update(Event::Model(events));
    tick(&mut app, &site, 0);
    assert!(tick(&mut app, &site, 5).is_empty());
    assert_eq!(app.alerts().level(&guid(CLAIMS)), AlertLevel::Critical);
}

#[test]
fn each_calls_mark_follows_its_queues_longest_warn_secs() {
    // Claims Desk's callers have waited 02:41, 00:55 and 00:21; Roadside's 00:12.
    let (site, events) = busy_site();
    let mut alerts = AlertConfig::default();
    alerts
        .defaults
        .set(Figure::Longest, AlertLevel::Warn, Some(50));
    let mut roadside = alerts.defaults;
    roadside.set(Figure::Longest, AlertLevel::Warn, Some(10));
    alerts.queues.push((Text::from("roadside"), roadside));
    let config = UiConfig {
        alerts,
        theme: Theme::monochrome(),
        ..UiConfig::default()
    };
    let mut app = App::new(config, site.at(0));
    app.update(Event::Resize {
        width: 160,
        height: 48,
    });
    app.update(Event::Model(events));
    tick(&mut app, &site, 0);
    let text = render(&app);
    let waiting_row = |caller: &str| {
        text.lines()
            .filter_map(|l| l.split("││").next())
            .find(|l| l.contains(caller))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(waiting_row("02079460958").contains("02:41 !"), "{text}");
    assert!(waiting_row("01134960077").contains("00:55 !"), "{text}");
    assert!(!waiting_row("02920960311").contains('!'), "{text}");
    // 12 s in Roadside, whose own threshold is 10 s.
    assert!(waiting_row("07700900461").contains("00:12 !"), "{text}");
}
