//! The screen at a fixed moment, rendered into a test terminal at 80x24 and 160x48: the
//! panes with waiting calls, agents in every state and a parked call; call, agent and queue
//! detail; help; a filter; the header while reconnecting and after a refused login. Without
//! colour no cell carries one, and a hostile caller name reaches the terminal harmless.

mod ui_fixture;

use std::time::Duration;

use ipo_top::model::{
    CallFeatureBits, CallSnapshot, CallState, CommandStatus, ConnectionState, Direction,
    ModelEvent, StopKind,
};
use ipo_top::ui::{Action, App, Event, Key, KeyCode, Theme};
use ratatui::style::{Color, Modifier};
use ui_fixture::{CLAIMS, app, buffer, busy_site, gcid, party, render};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn key(app: &mut App, k: Key) {
    app.update(Event::Key(k));
}

fn enter() -> Key {
    Key::plain(KeyCode::Enter)
}

fn tab() -> Key {
    Key::plain(KeyCode::Tab)
}

/// The busy site at one size, after some keys.
fn screen(w: u16, h: u16, keys: &[Key]) -> App {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs, w, h, Theme::colour());
    for k in keys {
        key(&mut a, *k);
    }
    a
}

#[test]
fn main_view_shows_queues_waiting_calls_agents_and_parked_calls() {
    for (w, h) in SIZES {
        let a = screen(w, h, &[]);
        let text = render(&a);
        // Every agent state word is on screen at the larger size.
        if h >= 48 {
            for word in [
                "RING", "TALK", "HOLD", "ACW", "AVAIL", "DND", "OFF", "FAULT",
            ] {
                assert!(text.contains(word), "{word} missing:\n{text}");
            }
        }
        insta::assert_snapshot!(format!("main_{w}x{h}"), text);
    }
}

#[test]
fn call_detail_names_everything_in_words() {
    for (w, h) in SIZES {
        let a = screen(w, h, &[enter()]);
        let text = render(&a);
        assert!(text.contains("BlindTransfer"), "{text}");
        insta::assert_snapshot!(format!("call_detail_{w}x{h}"), text);
    }
}

#[test]
fn agent_detail_shows_the_agent_and_its_call() {
    for (w, h) in SIZES {
        // Waiting -> Agents; down twice to 4102 Nakashima, who talks.
        let down = Key::char('j');
        let a = screen(w, h, &[tab(), down, down, enter()]);
        insta::assert_snapshot!(format!("agent_detail_{w}x{h}"), render(&a));
    }
}

#[test]
fn queue_detail_lists_members() {
    for (w, h) in SIZES {
        let back = Key::plain(KeyCode::BackTab);
        let a = screen(w, h, &[back, enter()]);
        insta::assert_snapshot!(format!("queue_detail_{w}x{h}"), render(&a));
    }
}

#[test]
fn parked_call_detail() {
    for (w, h) in SIZES {
        // Waiting -> Agents -> Parked.
        let a = screen(w, h, &[tab(), tab(), enter()]);
        let text = render(&a);
        assert!(text.contains("Park slot  1"), "{text}");
        insta::assert_snapshot!(format!("parked_detail_{w}x{h}"), text);
    }
}

#[test]
fn help_is_generated_from_the_keymap() {
    for (w, h) in SIZES {
        let a = screen(w, h, &[Key::char('?')]);
        let text = render(&a);
        assert!(text.contains("Keys: main view"), "{text}");
        insta::assert_snapshot!(format!("help_{w}x{h}"), text);
    }
    // Scrolled to the end, help explains where times count from.
    let mut a = screen(80, 24, &[Key::char('?')]);
    key(&mut a, Key::plain(KeyCode::End));
    for _ in 0..200 {
        key(&mut a, Key::char('j'));
    }
    let text = render(&a);
    assert!(text.contains("FAULT"), "{text}");
    let mut a = screen(160, 48, &[Key::char('?')]);
    let mut seen = false;
    for _ in 0..20 {
        seen |= render(&a).contains("MTCTI3 carries no start");
        key(&mut a, Key::plain(KeyCode::PageDown));
    }
    assert!(seen, "help never explains where times count from");
}

#[test]
fn a_filter_narrows_calls_and_agents() {
    for (w, h) in SIZES {
        let mut keys = vec![Key::char('/')];
        keys.extend("roadside".chars().map(Key::char));
        let typing = screen(w, h, &keys);
        insta::assert_snapshot!(format!("filter_typing_{w}x{h}"), render(&typing));
        keys.push(enter());
        let kept = screen(w, h, &keys);
        insta::assert_snapshot!(format!("filter_kept_{w}x{h}"), render(&kept));
    }
}

/// The busy site after the link dropped, or after the PBX refused the login.
fn with_connection(w: u16, h: u16, state: impl Fn(std::time::Instant) -> ConnectionState) -> App {
    let (site, mut evs) = busy_site();
    evs.push(ModelEvent::Connection {
        state: state(site.now()),
    });
    app(&site, evs, w, h, Theme::colour())
}

#[test]
fn reconnecting_header_counts_down_and_marks_stale_data() {
    for (w, h) in SIZES {
        let a = with_connection(w, h, |now| ConnectionState::Reconnecting {
            at: now + Duration::from_millis(4200),
            retry_in_ms: 8000,
            reason: "connection reset by peer".into(),
        });
        let text = render(&a);
        assert!(text.contains("reconnecting in 5 s"), "{text}");
        assert!(text.contains("stale"), "{text}");
        insta::assert_snapshot!(format!("reconnecting_{w}x{h}"), text);
    }
}

#[test]
fn stopped_header_says_why_and_that_r_retries() {
    for (w, h) in SIZES {
        let a = with_connection(w, h, |_| ConnectionState::Stopped {
            kind: StopKind::LoginRejected,
            reason: "HTTP 401 Unauthorized".into(),
        });
        let text = render(&a);
        assert!(text.contains("press R"), "{text}");
        insta::assert_snapshot!(format!("stopped_{w}x{h}"), text);
    }
}

#[test]
fn without_colour_no_cell_carries_one() {
    for (w, h) in SIZES {
        let (site, evs) = busy_site();
        for keys in [vec![], vec![enter()], vec![Key::char('?')]] {
            let mut a = app(&site, evs.clone(), w, h, Theme::monochrome());
            for k in keys {
                key(&mut a, k);
            }
            let buf = buffer(&a);
            for cell in &buf.content {
                assert_eq!(
                    (cell.fg, cell.bg),
                    (Color::Reset, Color::Reset),
                    "cell {:?} has colour",
                    cell.symbol()
                );
            }
        }
        // The long wait is still marked, and the selection still shows.
        let a = app(&site, evs, w, h, Theme::monochrome());
        let text = render(&a);
        assert!(text.contains("02:41 !"), "{text}");
        assert!(text.contains('▶'), "{text}");
    }
    assert_eq!(
        Theme::from_no_color(Some(std::ffi::OsStr::new("1"))),
        Theme::monochrome()
    );
    assert_eq!(
        Theme::from_no_color(Some(std::ffi::OsStr::new(""))),
        Theme::colour()
    );
}

#[test]
fn a_hostile_caller_name_is_rendered_harmless() {
    let (mut site, mut evs) = busy_site();
    let hostile =
        "\u{1b}[2J\u{1b}]0;owned\u{07}Evil\u{1b}[31m Corp\r\n\u{202e}lanigiro\u{9b}6n 東京\u{200b}";
    site.queue_call(
        300,
        CLAIMS,
        party("0800\u{1b}[1A666", hostile),
        3,
        CallState::Queueing,
        vec![party("4101\u{7}", "Achter\u{1b}Pberg\u{1b}\\")],
    );
    evs.extend(site.events());
    for (w, h) in SIZES {
        let mut a = app(&site, evs.clone(), w, h, Theme::colour());
        for frame in [render(&a), {
            key(&mut a, enter());
            render(&a)
        }] {
            for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\r'] {
                assert!(!frame.contains(bad), "{bad:?} reached the screen:\n{frame}");
            }
            assert!(frame.contains("Evil Corp"), "{frame}");
            assert!(frame.contains("0800666"), "{frame}");
        }
        // Wide and zero-width characters do not shift what follows: what comes after the
        // name (TARGETS, or the pane's border when the columns after the name are dropped to
        // keep names whole) starts at the same place on every row of the queue, the hostile
        // one included.
        let buf = buffer(&app(&site, evs.clone(), w, h, Theme::colour()));
        let rows: Vec<String> = buf
            .content
            .chunks(w as usize)
            .map(|r| {
                r.iter()
                    .map(|c| c.symbol().chars().next().unwrap_or(' '))
                    .collect()
            })
            .collect();
        // One char per cell, so a char index is a column.
        let starts: Vec<usize> = rows
            .iter()
            .filter(|r| r.contains("Claims Desk 0"))
            .filter_map(|r| {
                let b = (r.find("││"))
                    .or_else(|| r.find("(queueing)"))
                    .or_else(|| r.find("4101 Achter"))?;
                Some(r[..b].chars().count())
            })
            .collect();
        assert_eq!(starts.len(), 4, "{rows:#?}");
        assert!(starts.windows(2).all(|p| p[0] == p[1]), "{rows:#?}");
        insta::assert_snapshot!(format!("hostile_{w}x{h}"), render(&a));
    }
}

#[test]
fn any_size_renders_without_panicking() {
    let overlays: [&[Key]; 9] = [
        &[],
        &[Key::plain(KeyCode::Enter)],
        &[Key::char('?')],
        &[Key::char('/'), Key::char('x')],
        &[Key::plain(KeyCode::Tab), Key::plain(KeyCode::Enter)],
        &[Key::char('t'), Key::char('4')],
        &[Key::char('d')],
        &[
            Key::plain(KeyCode::BackTab),
            Key::char('s'),
            Key::char('o'),
            Key::plain(KeyCode::Enter),
            Key::char('O'),
        ],
        &[Key::char('M')],
    ];
    for (w, h) in [
        (1, 1),
        (2, 3),
        (10, 4),
        (20, 5),
        (40, 10),
        (79, 23),
        (119, 30),
        (120, 12),
        (200, 60),
    ] {
        for keys in overlays {
            let mut a = screen(w, h, keys);
            let text = render(&a);
            assert_eq!(text.lines().count(), h as usize);
            // Scrolling past the end of an overlay is harmless too.
            for _ in 0..50 {
                key(&mut a, Key::plain(KeyCode::PageDown));
            }
            render(&a);
        }
        // The link down, at every size.
        let a = with_connection(w, h, |_| ConnectionState::Stopped {
            kind: StopKind::LoginRejected,
            reason: "HTTP 401".into(),
        });
        render(&a);
    }
}

fn keys(a: &mut App, keys: &[Key]) -> Vec<Action> {
    keys.iter().flat_map(|k| a.update(Event::Key(*k))).collect()
}

fn chars(text: &str) -> Vec<Key> {
    text.chars().map(Key::char).collect()
}

#[test]
fn a_transfer_prompt_with_completions() {
    for (w, h) in SIZES {
        let mut a = screen(w, h, &[Key::char('t')]);
        keys(&mut a, &chars("41"));
        keys(
            &mut a,
            &[Key::plain(KeyCode::Tab), Key::plain(KeyCode::Tab)],
        );
        let text = render(&a);
        assert!(text.contains("4102 Nakashima (TALK)"), "{text}");
        insta::assert_snapshot!(format!("prompt_transfer_{w}x{h}"), text);
    }
}

#[test]
fn a_drop_confirmation_and_a_typed_out_of_service() {
    for (w, h) in SIZES {
        let a = screen(w, h, &[Key::char('d')]);
        insta::assert_snapshot!(format!("confirm_drop_{w}x{h}"), render(&a));
        let mut a = screen(w, h, &[Key::plain(KeyCode::BackTab), Key::char('s')]);
        keys(&mut a, &chars("out"));
        keys(&mut a, &[Key::plain(KeyCode::Enter)]);
        keys(&mut a, &chars("OO"));
        insta::assert_snapshot!(format!("confirm_oos_{w}x{h}"), render(&a));
    }
}

#[test]
fn outcomes_in_the_status_line_and_the_message_history() {
    for (w, h) in SIZES {
        let mut a = screen(w, h, &[Key::char('t')]);
        let mut sent = keys(&mut a, &chars("4103"));
        sent.extend(keys(&mut a, &[Key::plain(KeyCode::Enter)]));
        let [Action::Send(transfer)] = sent.as_slice() else {
            panic!("no transfer sent: {sent:?}")
        };
        for status in [
            CommandStatus::Sent,
            CommandStatus::Accepted,
            CommandStatus::Done {
                effect: "the call went to 4103".into(),
            },
        ] {
            a.update(Event::Outcome {
                ticket: transfer.ticket,
                status,
            });
        }
        insta::assert_snapshot!(format!("outcome_done_{w}x{h}"), render(&a));
        let sent = keys(&mut a, &[Key::char('P'), Key::char('3')]);
        assert!(sent.is_empty());
        let sent = keys(&mut a, &[Key::plain(KeyCode::Enter)]);
        let [Action::Send(priority)] = sent.as_slice() else {
            panic!("no priority sent: {sent:?}")
        };
        a.update(Event::Outcome {
            ticket: priority.ticket,
            status: CommandStatus::Failed {
                code: 609,
                name: "MTCTISESS_CALLCONTROL_INVALIDCALLSTATE".into(),
                meaning: "You can't do this action at this time.".into(),
            },
        });
        insta::assert_snapshot!(format!("outcome_failed_{w}x{h}"), render(&a));
        keys(&mut a, &[Key::char('M')]);
        insta::assert_snapshot!(format!("messages_{w}x{h}"), render(&a));
    }
}

#[test]
fn my_line_shows_the_supervisors_calls_and_their_keys() {
    let (mut site, mut evs) = busy_site();
    site.agent_call(
        9,
        90,
        CallSnapshot {
            state: CallState::Ringing,
            direction: Direction::Inbound,
            gcid: gcid(81),
            features: CallFeatureBits(0x3),
            calling: Some(party("02079460123", "Bramley & Sons")),
            ..CallSnapshot::default()
        },
    );
    site.agent_call(
        95,
        90,
        CallSnapshot {
            state: CallState::OnHold,
            direction: Direction::Outbound,
            gcid: gcid(82),
            features: CallFeatureBits(0x9),
            called: "4102".into(),
            connected: Some(party("4102", "Nakashima")),
            ..CallSnapshot::default()
        },
    );
    evs.extend(site.events());
    for (w, h) in SIZES {
        let a = app(&site, evs.clone(), w, h, Theme::colour());
        let text = render(&a);
        assert!(text.contains("a answer"), "{text}");
        assert!(text.contains("H unhold"), "{text}");
        insta::assert_snapshot!(format!("my_line_{w}x{h}"), text);
    }
}

#[test]
fn hints_for_functions_the_call_does_not_allow_now_are_dimmed() {
    for (w, h) in SIZES {
        let (site, evs) = busy_site();
        let mut a = app(&site, evs, w, h, Theme::monochrome());
        // The agents pane, on 4102 (talking; no SetTag, no Redirect, no SetAccountCode).
        keys(
            &mut a,
            &[Key::plain(KeyCode::Tab), Key::char('j'), Key::char('j')],
        );
        let text = render(&a);
        let buf = buffer(&a);
        let last = buf.content.chunks(w as usize).last().unwrap_or(&[]);
        let line: String = last.iter().map(|c| c.symbol()).collect();
        // t transfer usable, T tag dimmed and struck through (readable without colour).
        let col = |needle: &str| {
            line.find(needle)
                .map(|b| line[..b].chars().count())
                .unwrap_or_else(|| panic!("{needle} not in {line:?}"))
        };
        let t = last.get(col("t transfer")).expect("t");
        assert!(!t.modifier.contains(Modifier::CROSSED_OUT), "{t:?}");
        if w >= 160 {
            let tag = last.get(col("T tag")).expect("T");
            assert!(tag.modifier.contains(Modifier::CROSSED_OUT), "{tag:?}");
            assert!(tag.modifier.contains(Modifier::DIM), "{tag:?}");
        }
        insta::assert_snapshot!(format!("dimmed_hints_{w}x{h}"), text);
    }
}
