//! The screen's update function: keys become actions, the selection holds a call's identity
//! while rows re-sort, new calls arrive and calls end, the keymap can be overridden but not
//! bound twice, and redraws happen only when something visible changed.

mod ui_fixture;

use std::time::Duration;

use ipo_top::model::{
    AppearanceKey, CallLost, CallSnapshot, CallState, ConnectionState, LineId, Party, StopKind,
};
use ipo_top::ui::{
    Action, App, Context, Event, Key, KeyAction, KeyCode, Keymap, KeymapError, Level, Overlay,
    Pane, Theme, UiConfig,
};
use ui_fixture::{CLAIMS, ROADSIDE, Site, app, busy_site, empty_site, guid, party};

fn press(app: &mut App, key: Key) -> Vec<Action> {
    app.update(Event::Key(key))
}

fn feed(app: &mut App, site: &mut Site) {
    let evs = site.events();
    app.update(Event::Model(evs));
}

fn claims_call(site: &Site, callid: i32) -> CallSnapshot {
    let key = AppearanceKey {
        line: LineId::Queue(guid(CLAIMS)),
        callid,
    };
    site.model
        .appearance_at(&key)
        .map(|a| a.call.clone())
        .expect("the call is in the fixture")
}

/// The callers of the waiting rows, in order.
fn waiting_rows(app: &App) -> Vec<String> {
    app.derived()
        .waiting_of(app.selection().queue.as_ref())
        .iter()
        .filter_map(|id| app.model().appearance(*id))
        .map(|a| {
            a.call
                .calling
                .as_ref()
                .map(|p| p.number.to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn selected_caller(app: &App) -> Option<String> {
    let id = app.selection().call?;
    let a = app.model().appearance(id)?;
    a.call.calling.as_ref().map(|p| p.number.to_string())
}

#[test]
fn keys_become_actions() {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs, 80, 24, Theme::colour());
    assert_eq!(press(&mut a, Key::char('q')), [Action::Quit]);
    assert_eq!(press(&mut a, Key::ctrl('c')), [Action::Quit]);
    // Letters bound to nothing do nothing, and change nothing.
    let before = a.selection().clone();
    for c in ['h', 'l', 'x', 'z'] {
        assert_eq!(press(&mut a, Key::char(c)), [], "{c}");
    }
    assert_eq!(*a.selection(), before);
    // Help opens and closes; q still quits from inside it.
    assert_eq!(press(&mut a, Key::char('?')), []);
    assert_eq!(a.context(), Context::Help);
    assert_eq!(press(&mut a, Key::char('q')), [Action::Quit]);
    press(&mut a, Key::plain(KeyCode::Esc));
    assert_eq!(*a.overlay(), Overlay::None);
    // While typing a filter, q is a letter.
    press(&mut a, Key::char('/'));
    assert_eq!(press(&mut a, Key::char('q')), []);
    assert_eq!(a.filter().text, "q");
    press(&mut a, Key::plain(KeyCode::Esc));
    assert_eq!(a.filter().text, "");
    assert_eq!(a.context(), Context::Main);
}

#[test]
fn r_asks_for_a_retry_only_after_a_refused_login() {
    let (site, mut evs) = busy_site();
    let mut a = app(&site, evs.clone(), 80, 24, Theme::colour());
    assert_eq!(press(&mut a, Key::char('R')), []);
    assert!(
        a.status()
            .is_some_and(|m| m.text.contains("has not refused")),
        "{:?}",
        a.status()
    );
    evs.push(ipo_top::model::ModelEvent::Connection {
        state: ConnectionState::Stopped {
            kind: StopKind::LoginRejected,
            reason: "HTTP 401".into(),
        },
    });
    let mut a = app(&site, evs, 80, 24, Theme::colour());
    assert_eq!(press(&mut a, Key::char('R')), [Action::RetryLogin]);
    // The application layer refuses (the credentials are unchanged) and says what to fix.
    a.update(Event::Message(ipo_top::ui::Message::new(
        Level::Error,
        "the password is the one the PBX refused",
    )));
    assert_eq!(a.status().map(|m| m.level), Some(Level::Error));
}

#[test]
fn the_selection_starts_on_the_longest_waiting_call_of_the_first_queue() {
    let (site, evs) = busy_site();
    let a = app(&site, evs, 80, 24, Theme::colour());
    assert_eq!(a.focus(), Pane::Waiting);
    assert_eq!(a.selection().queue, Some(guid(CLAIMS)));
    // Not the first row (priority 3 sorts first) but the longest wait.
    assert_eq!(waiting_rows(&a)[0], "02920960311");
    assert_eq!(selected_caller(&a).as_deref(), Some("02079460958"));
}

#[test]
fn with_nobody_waiting_the_selection_starts_on_the_first_queue() {
    let mut site = empty_site();
    site.model.set_connection(ConnectionState::Connected {
        round_trip_ms: None,
    });
    let evs = site.events();
    let a = app(&site, evs, 80, 24, Theme::colour());
    assert_eq!(a.focus(), Pane::Queues);
    assert_eq!(a.selection().queue, Some(guid(CLAIMS)));
    assert_eq!(a.selection().call, None);
}

#[test]
fn the_selection_holds_its_call_through_re_sorts_new_calls_and_ends() {
    let (mut site, evs) = busy_site();
    let mut a = app(&site, evs, 80, 24, Theme::colour());
    assert_eq!(
        waiting_rows(&a),
        ["02920960311", "02079460958", "01134960077"]
    );
    // Select the caller who waits at priority 1 (the last row).
    press(&mut a, Key::char('j'));
    assert_eq!(selected_caller(&a).as_deref(), Some("01134960077"));

    // Time passes: rows are re-derived every second; the selection does not move.
    for s in 1..=5 {
        a.update(Event::Tick {
            now: site.now() + Duration::from_secs(s),
            clock: None,
        });
    }
    assert_eq!(selected_caller(&a).as_deref(), Some("01134960077"));

    // A new high-priority call arrives above it: the selection stays on its call.
    site.queue_call(
        0,
        CLAIMS,
        party("07700900999", "New Caller"),
        3,
        CallState::Queueing,
        vec![],
    );
    feed(&mut a, &mut site);
    assert_eq!(
        waiting_rows(&a),
        ["02920960311", "07700900999", "02079460958", "01134960077"]
    );
    assert_eq!(selected_caller(&a).as_deref(), Some("01134960077"));

    // Someone raises that call's priority: it re-sorts to the top, and the selection goes
    // with it.
    let mut snap = claims_call(&site, 52);
    if let Some(q) = snap.queue.as_mut() {
        q.priority = 3;
    }
    site.model
        .call_info(site.now(), LineId::Queue(guid(CLAIMS)), snap);
    feed(&mut a, &mut site);
    assert_eq!(waiting_rows(&a)[0], "01134960077");
    assert_eq!(selected_caller(&a).as_deref(), Some("01134960077"));

    // The selected caller hangs up: the selection moves to the next row and the status line
    // says so.
    let rows = waiting_rows(&a);
    let at = rows.iter().position(|r| r == "01134960077");
    let next = at.and_then(|i| rows.get(i + 1)).cloned();
    site.model.call_lost(
        site.now(),
        LineId::Queue(guid(CLAIMS)),
        CallLost {
            callid: 52,
            cause: 16,
            ..CallLost::default()
        },
    );
    feed(&mut a, &mut site);
    assert_eq!(selected_caller(&a), next);
    let msg = a.status().map(|m| m.text.clone()).unwrap_or_default();
    assert!(
        msg.contains("01134960077") && msg.contains("ended"),
        "{msg}"
    );

    // The newly selected call is answered by 4106: it leaves the waiting list, the selection
    // moves on and the status line names who answered.
    let answered = selected_caller(&a);
    let callid = a
        .selection()
        .call
        .and_then(|id| a.model().appearance(id))
        .map(|ap| ap.key.callid)
        .expect("a call is selected");
    let mut snap = claims_call(&site, callid);
    snap.state = CallState::Connected;
    snap.connected = Some(Party {
        number: "4106".into(),
        name: "Brennan".into(),
        ..Party::default()
    });
    site.model
        .call_info(site.now(), LineId::Queue(guid(CLAIMS)), snap);
    feed(&mut a, &mut site);
    assert_ne!(selected_caller(&a), answered);
    let msg = a.status().map(|m| m.text.clone()).unwrap_or_default();
    assert!(msg.contains("answered by 4106 Brennan"), "{msg}");
}

#[test]
fn the_last_waiting_call_ending_leaves_nothing_selected_and_says_so() {
    let (mut site, evs) = busy_site();
    let mut a = app(&site, evs, 80, 24, Theme::colour());
    // Roadside has one caller; the waiting pane is narrowed to it.
    press(&mut a, Key::plain(KeyCode::BackTab));
    press(&mut a, Key::char('j'));
    assert_eq!(a.selection().queue, Some(guid(ROADSIDE)));
    press(&mut a, Key::char('w'));
    press(&mut a, Key::plain(KeyCode::Tab));
    assert_eq!(selected_caller(&a).as_deref(), Some("07700900461"));
    site.model.call_lost(
        site.now(),
        LineId::Queue(guid(ROADSIDE)),
        CallLost {
            callid: 54,
            cause: 16,
            description: "caller\u{1b}[2J hung up".into(),
            ..CallLost::default()
        },
    );
    feed(&mut a, &mut site);
    assert_eq!(a.selection().call, None);
    let msg = a.status().map(|m| m.text.clone()).unwrap_or_default();
    assert!(msg.contains("ended (caller hung up)"), "{msg}");
    assert!(msg.contains("no call waiting"), "{msg}");
}

#[test]
fn an_open_detail_survives_its_call_ending() {
    let (mut site, evs) = busy_site();
    let mut a = app(&site, evs, 80, 24, Theme::colour());
    press(&mut a, Key::plain(KeyCode::Enter));
    site.model.call_lost(
        site.now(),
        LineId::Queue(guid(CLAIMS)),
        CallLost {
            callid: 51,
            cause: 16,
            ..CallLost::default()
        },
    );
    feed(&mut a, &mut site);
    match a.overlay() {
        Overlay::Detail {
            target: ipo_top::ui::DetailTarget::Call { ended, last, .. },
            ..
        } => {
            assert_eq!(ended.as_deref(), Some("ended"));
            assert_eq!(last.key.callid, 51);
        }
        other => panic!("expected the call's detail, got {other:?}"),
    }
    assert_eq!(press(&mut a, Key::plain(KeyCode::Esc)), []);
    assert_eq!(*a.overlay(), Overlay::None);
}

#[test]
fn tab_cycles_panes_and_skips_an_empty_parked_pane() {
    let mut site = empty_site();
    site.model.set_connection(ConnectionState::Connected {
        round_trip_ms: None,
    });
    let evs = site.events();
    let mut a = app(&site, evs, 80, 24, Theme::colour());
    let mut seen = vec![a.focus()];
    for _ in 0..3 {
        press(&mut a, Key::plain(KeyCode::Tab));
        seen.push(a.focus());
    }
    assert_eq!(
        seen,
        [Pane::Queues, Pane::Waiting, Pane::Agents, Pane::Queues]
    );
    press(&mut a, Key::plain(KeyCode::BackTab));
    assert_eq!(a.focus(), Pane::Agents);
}

#[test]
fn a_keys_override_replaces_one_action_and_keeps_the_rest() {
    let keymap = Keymap::with_overrides([("quit", ["x"])]).expect("a valid override");
    assert_eq!(
        keymap.action(Context::Main, Key::char('x')),
        Some(KeyAction::Quit)
    );
    assert_eq!(keymap.action(Context::Main, Key::char('q')), None);
    assert_eq!(
        keymap.action(Context::Main, Key::char('j')),
        Some(KeyAction::Down)
    );
    let (site, evs) = busy_site();
    let config = UiConfig {
        keymap,
        ..UiConfig::default()
    };
    let mut a = App::new(config, site.now());
    a.update(Event::Model(evs));
    assert_eq!(press(&mut a, Key::char('q')), []);
    assert_eq!(press(&mut a, Key::char('x')), [Action::Quit]);
    // Help lists the key as configured.
    press(&mut a, Key::char('?'));
    let mut found = false;
    for b in a.config().keymap.bindings() {
        if b.action == KeyAction::Quit {
            found = true;
            assert_eq!(b.keys, [Key::char('x')]);
        }
    }
    assert!(found);
}

#[test]
fn a_key_bound_twice_is_refused_naming_both_actions() {
    let err = Keymap::with_overrides([("help", ["q"])]).expect_err("q is quit's");
    assert_eq!(
        err,
        KeymapError::DoubleBinding {
            context: Context::Main,
            key: Key::char('q'),
            first: "help",
            second: "quit",
        }
    );
    let text = err.to_string();
    assert!(text.contains("help") && text.contains("quit"), "{text}");

    let err = Keymap::with_overrides([("filter_apply", ["a"])]).expect_err("typed");
    assert!(matches!(err, KeymapError::TypedKey { .. }), "{err}");
    let err = Keymap::with_overrides([("jump", ["g"])]).expect_err("no such action");
    assert!(err.to_string().contains("no such action"), "{err}");
    let err = Keymap::with_overrides([("quit", ["Ctrl-"])]).expect_err("not a key");
    assert!(err.to_string().contains("`Ctrl-` is not a key"), "{err}");
    let none: [&str; 0] = [];
    let err = Keymap::with_overrides([("quit", none)]).expect_err("no keys");
    assert!(
        matches!(err, KeymapError::NoKeys { action: "quit" }),
        "{err}"
    );
}

#[test]
fn redraws_only_when_something_visible_changed() {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs, 80, 24, Theme::colour());
    assert!(a.needs_redraw());
    a.drawn();
    // A tick within the same second changes nothing shown.
    a.update(Event::Tick {
        now: site.now() + Duration::from_millis(400),
        clock: Some(ui_fixture::CLOCK),
    });
    assert!(!a.needs_redraw());
    // The next second does.
    a.update(Event::Tick {
        now: site.now() + Duration::from_millis(1000),
        clock: Some(ui_fixture::CLOCK),
    });
    assert!(a.needs_redraw());
    a.drawn();
    a.update(Event::Model(Vec::new()));
    assert!(!a.needs_redraw(), "an empty batch changes nothing");
    a.update(Event::Resize {
        width: 100,
        height: 30,
    });
    assert!(a.needs_redraw());
}

#[test]
fn the_start_up_selection_waits_for_the_first_caller_then_settles() {
    // Synced, nobody waiting yet: the selection is on the first queue.
    let mut site = empty_site();
    site.model.set_connection(ConnectionState::Connected {
        round_trip_ms: None,
    });
    let mut a = App::new(UiConfig::default(), site.now());
    feed(&mut a, &mut site);
    assert_eq!(a.focus(), Pane::Queues);
    // The queue's calls arrive just after the sync: the first caller gets the selection.
    site.queue_call(
        0,
        CLAIMS,
        party("02079460958", "Harbour Freight Ltd"),
        2,
        CallState::Queueing,
        vec![],
    );
    feed(&mut a, &mut site);
    assert_eq!(a.focus(), Pane::Waiting);
    assert_eq!(selected_caller(&a).as_deref(), Some("02079460958"));

    // Another site where nobody calls for a while: once settled, a caller arriving later
    // does not take the focus away from the queues.
    let mut site = empty_site();
    site.model.set_connection(ConnectionState::Connected {
        round_trip_ms: None,
    });
    let mut a = App::new(UiConfig::default(), site.now());
    feed(&mut a, &mut site);
    a.update(Event::Tick {
        now: site.now() + Duration::from_secs(3),
        clock: None,
    });
    site.queue_call(
        0,
        CLAIMS,
        party("02079460958", "Harbour Freight Ltd"),
        2,
        CallState::Queueing,
        vec![],
    );
    feed(&mut a, &mut site);
    assert_eq!(a.focus(), Pane::Queues);
    assert_eq!(a.selection().queue, Some(guid(CLAIMS)));
}
