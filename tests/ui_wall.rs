//! The wallboard and the queue pane's sparklines, as snapshots: the wallboard at 80x24,
//! 120x40 and 240x67 with 3, 8 and 30 queues (the pages turning when the tiles do not fit),
//! and the queue pane of a wide screen after a quarter hour of calls arriving.

mod ui_fixture;

use std::time::Duration;

use ipo_top::model::{
    AlertConfig, AlertLevel, CallFeatureBits, CallSnapshot, CallState, ConnectionState, Direction,
    Figure, LineEntry, LineId, ModelEvent, QueueDetail, QueueMember, QueueStatus, ServiceMode,
    Text, TrunkDetail, TrunkKind,
};
use ipo_top::ui::{App, Event, Key, Theme, UiConfig};
use ui_fixture::{AGENTS, CLOCK, NOW, Site, busy_site, empty_site, gcid, guid, party, render};

const NAMES: [&str; 27] = [
    "Billing",
    "Renewals",
    "Claims Motor",
    "Claims Home",
    "Breakdown",
    "Glass",
    "Travel",
    "Pet",
    "Life",
    "Mortgages",
    "Savings",
    "Cards",
    "Fraud",
    "Complaints",
    "Retentions",
    "Welsh Line",
    "Business",
    "Fleet",
    "Landlords",
    "Brokers",
    "Legal",
    "Health",
    "Dental",
    "Gadget",
    "Wedding",
    "Caravan",
    "Boat",
];

/// The fixture's three queues and `n - 3` more, each with a few callers waiting.
fn site(n: usize) -> Site {
    let mut s = empty_site();
    for (i, name) in NAMES.iter().take(n.saturating_sub(3)).enumerate() {
        let g = 0x80 + i as u8;
        let extn = format!("74{i:02}");
        s.model.upsert_queue(LineEntry {
            guid: guid(g),
            extn: extn.as_str().into(),
            name: (*name).into(),
        });
        let members = AGENTS
            .iter()
            .skip(i % 6)
            .step_by(2)
            .map(|(_, e, _)| QueueMember {
                extn: (*e).into(),
                enabled: true,
            })
            .collect();
        s.model.set_queue_status(
            &guid(g),
            Text::empty(),
            Text::empty(),
            QueueStatus {
                service_mode: if i % 9 == 8 {
                    ServiceMode::NightService
                } else {
                    ServiceMode::Active
                },
                members: Some(members),
                ..QueueStatus::default()
            },
        );
        for k in 0..(i % 5) {
            let callid = 1000 + (i * 10 + k) as i32;
            let ago = ((i * 37 + k * 53) % 240 + 5) as u64;
            call(&mut s, callid, g, &extn, name, ago);
        }
    }
    s.model.set_connection(ConnectionState::Connected {
        round_trip_ms: Some(3.1),
    });
    s
}

fn call(s: &mut Site, callid: i32, queue: u8, number: &str, name: &str, ago: u64) {
    let snap = CallSnapshot {
        callid,
        state: CallState::Queueing,
        direction: Direction::Inbound,
        gcid: gcid(callid as u16),
        features: CallFeatureBits(0x6060_E0B1),
        calling: Some(party(&format!("0161496{callid:04}"), "")),
        trunk: Some(TrunkDetail {
            kind: TrunkKind::Sip,
            did: format!("0300{number}").into(),
        }),
        queue: Some(QueueDetail {
            number: number.into(),
            name: name.into(),
            priority: 1,
            ..QueueDetail::default()
        }),
        ..CallSnapshot::default()
    };
    let at = s.ago(ago);
    s.model.call_info(at, LineId::Queue(guid(queue)), snap);
}

fn alerts() -> AlertConfig {
    let mut c = AlertConfig::default();
    c.defaults.set(Figure::Waiting, AlertLevel::Warn, Some(2));
    c.defaults
        .set(Figure::Waiting, AlertLevel::Critical, Some(4));
    c.defaults
        .set(Figure::Longest, AlertLevel::Critical, Some(180));
    c
}

/// `ipo-top wall` on `site`, ticked once a second over the last 20 s before the fixture's
/// moment (the alerts' dwell), at `after` seconds past it.
fn wall(site: &mut Site, w: u16, h: u16, after: u64) -> App {
    let events = site.events();
    wall_with(site, events, w, h, after)
}

fn wall_with(site: &mut Site, events: Vec<ModelEvent>, w: u16, h: u16, after: u64) -> App {
    let config = UiConfig {
        pbx: "ipo-hq.example.net".into(),
        theme: Theme::monochrome(),
        alerts: alerts(),
        wall: true,
        read_only: true,
        ..UiConfig::default()
    };
    let mut app = App::new(config, site.at(0));
    app.update(Event::Resize {
        width: w,
        height: h,
    });
    app.update(Event::Model(events));
    for s in (0..20).rev() {
        app.update(Event::Tick {
            now: site.now() - Duration::from_secs(s),
            clock: Some(CLOCK),
        });
    }
    app.update(Event::Tick {
        now: site.now() + Duration::from_secs(after),
        clock: Some(CLOCK),
    });
    app
}

#[test]
fn the_wallboard_fills_the_screen_and_turns_its_pages() {
    for (n, sizes) in [
        (3, [(80, 24), (120, 40), (240, 67)]),
        (8, [(80, 24), (120, 40), (240, 67)]),
        (30, [(80, 24), (120, 40), (240, 67)]),
    ] {
        for (w, h) in sizes {
            let app = if n == 3 {
                // The fixture's site, whose events so far are handed over with it.
                let (mut s, mut events) = busy_site();
                s.model.set_connection(ConnectionState::Connected {
                    round_trip_ms: Some(3.1),
                });
                events.extend(s.events());
                wall_with(&mut s, events, w, h, 0)
            } else {
                wall(&mut site(n), w, h, 0)
            };
            let text = render(&app);
            insta::assert_snapshot!(format!("wall_{n}_queues_{w}x{h}"), text);
        }
    }
}

#[test]
fn the_pages_turn_every_rotate_secs_and_the_footer_says_which() {
    let mut s = site(30);
    // The default rotation is 10 s; the screen started at the fixture's first moment.
    let elapsed = NOW % 10;
    let first = render(&wall(&mut s, 80, 24, 10 - elapsed));
    let mut s = site(30);
    let second = render(&wall(&mut s, 80, 24, 20 - elapsed));
    let footer = |t: &str| t.lines().last().unwrap_or_default().to_owned();
    let (a, b) = (footer(&first), footer(&second));
    assert!(a.contains("page ") && b.contains("page "), "{a}\n{b}");
    assert_ne!(a, b);
    assert!(a.contains(" q quit"), "{a}");
    assert!(
        !a.contains('W'),
        "ipo-top wall has no way back to the dashboard: {a}"
    );
}

#[test]
fn ipo_top_wall_takes_no_key_but_quit() {
    let mut s = site(8);
    let mut app = wall(&mut s, 120, 40, 0);
    let before = render(&app);
    for c in ['d', 't', 's', '!', 'W', 'M', '?', 'j'] {
        assert!(app.update(Event::Key(Key::char(c))).is_empty(), "{c}");
    }
    assert_eq!(render(&app), before);
    assert_eq!(
        app.update(Event::Key(Key::char('q'))),
        [ipo_top::ui::Action::Quit]
    );
}

#[test]
fn w_shows_the_wallboard_in_the_dashboard_and_back() {
    let (site, events) = busy_site();
    let mut app = ui_fixture::app(&site, events, 80, 24, Theme::monochrome());
    let dashboard = render(&app);
    app.update(Event::Key(Key::char('W')));
    assert!(app.wall());
    let wall = render(&app);
    assert!(
        wall.contains("WAITING") && wall.contains(" W dashboard"),
        "{wall}"
    );
    // A function key does nothing on the wallboard.
    assert!(app.update(Event::Key(Key::char('d'))).is_empty());
    app.update(Event::Key(Key::char('W')));
    assert_eq!(render(&app), dashboard);
}

#[test]
fn the_queue_pane_draws_a_sparkline_of_the_last_quarter_hour_where_it_is_wide_enough() {
    let mut s = empty_site();
    s.model.set_connection(ConnectionState::Connected {
        round_trip_ms: Some(3.1),
    });
    let config = UiConfig {
        pbx: "ipo-hq.example.net".into(),
        theme: Theme::monochrome(),
        ..UiConfig::default()
    };
    let mut app = App::new(config, s.at(0));
    app.update(Event::Resize {
        width: 240,
        height: 30,
    });
    // A caller more each minute in Claims Desk, one every other minute in Roadside.
    for m in 0..16u64 {
        let at = NOW - (15 - m) * 60;
        let number = format!("{m}");
        let snap_at = |s: &mut Site, callid: i32, q: u8, extn: &str, name: &str| {
            let snap = CallSnapshot {
                callid,
                state: CallState::Queueing,
                direction: Direction::Inbound,
                gcid: gcid(callid as u16),
                calling: Some(party(&format!("07700900{number:0>3}"), "")),
                queue: Some(QueueDetail {
                    number: extn.into(),
                    name: name.into(),
                    priority: 1,
                    ..QueueDetail::default()
                }),
                ..CallSnapshot::default()
            };
            s.model.call_info(s.at(at), LineId::Queue(guid(q)), snap);
        };
        snap_at(
            &mut s,
            2000 + m as i32,
            ui_fixture::CLAIMS,
            "7301",
            "Claims Desk",
        );
        if m % 2 == 0 {
            snap_at(
                &mut s,
                3000 + m as i32,
                ui_fixture::ROADSIDE,
                "7302",
                "Roadside",
            );
        }
        app.update(Event::Model(s.events()));
        app.update(Event::Tick {
            now: s.at(at),
            clock: Some(CLOCK),
        });
    }
    let text = render(&app);
    insta::assert_snapshot!("queue_pane_sparklines_240x30", text);
    // At 80 columns the sparkline is the first column to go.
    app.update(Event::Resize {
        width: 80,
        height: 24,
    });
    assert!(!render(&app).contains("WAITING 15 MIN"));
}
