//! End to end: the real binary, `ipo-top --demo`, in a detached tmux session of a fixed size.
//! The screen shows queues and agents, a call that appears later shows up without a key
//! being pressed, `Enter` opens a call's detail, and `q` gives the shell back with the
//! terminal as it was (no alternate screen, cursor shown, not in raw mode).
//!
//! The screen is polled with deadlines; nothing waits a fixed time. Skipped, saying so, only
//! when tmux is not installed.

mod ui_tmux;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ui_tmux::{Tmux, last_line, shell};

/// The callers' numbers on a screen (11-digit numbers starting with 0).
fn numbers(screen: &str) -> HashSet<String> {
    screen
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| t.len() == 11 && t.starts_with('0'))
        .map(str::to_owned)
        .collect()
}

/// Where the focused selection (the row marked ▶) is.
#[derive(Debug)]
enum Focus {
    /// On a queue with this many callers waiting; `last` if it is the last queue.
    Queue { waiting: usize, last: bool },
    /// On a waiting call.
    Call,
    /// On an agent.
    Agent,
    /// On a parked call.
    Parked,
}

/// The number in the WAIT column of a queue row.
fn queue_waiting(row: &str) -> usize {
    let words: Vec<&str> = row.split_whitespace().collect();
    words
        .iter()
        .position(|w| ["Active", "Night", "OOS", "-"].contains(w))
        .and_then(|i| words.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Reads the focus from the stacked layout (pane titles start their lines, the focused
/// selection is marked ▶, others ▷), and whether any queue has callers waiting.
fn focused(screen: &str) -> (Option<Focus>, bool) {
    let mut pane = "";
    let mut queue_rows: Vec<&str> = Vec::new();
    let mut focus = None;
    for line in screen.lines() {
        if line.starts_with(" Queues") {
            pane = "queues";
        } else if (line.starts_with(" Waiting") || line.contains(" · waiting "))
            && line.contains('─')
        {
            pane = "waiting";
        } else if line.starts_with(" Agents") {
            pane = "agents";
        } else if line.starts_with(" Parked") {
            pane = "parked";
        } else if pane == "queues" && !line.contains("QUEUE") && !line.trim().is_empty() {
            queue_rows.push(line);
        }
        if line.starts_with('▶') {
            focus = Some((pane, line));
        }
    }
    let any_waiting = queue_rows.iter().any(|r| queue_waiting(r) > 0);
    let focus = focus.map(|(pane, line)| match pane {
        "queues" => Focus::Queue {
            waiting: queue_waiting(line),
            last: queue_rows.last() == Some(&line),
        },
        "waiting" => Focus::Call,
        "agents" => Focus::Agent,
        _ => Focus::Parked,
    });
    (focus, any_waiting)
}

#[test]
fn the_demo_runs_live_in_tmux_and_quits_cleanly() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it); the end-to-end test needs it");
        return;
    }
    let tmux = shell(80, 24);
    let bin = env!("CARGO_BIN_EXE_ipo-top");
    tmux.type_text(&format!("{bin} --demo --log-level off"));
    tmux.press("Enter");

    // Queues and agents, live from the simulator over TLS.
    let first = tmux.wait_for("queues and agents", Duration::from_secs(30), |s| {
        s.contains("DEMO")
            && s.contains("● connected")
            && s.contains("Claims Desk")
            && s.contains("Agents")
            && ["AVAIL", "TALK", "RING", "ACW"]
                .iter()
                .any(|w| s.contains(w))
    });
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "the screen uses the alternate screen"
    );

    // Without a key pressed, a caller not on the first screen shows up.
    let seen = numbers(&first);
    tmux.wait_for("a new call", Duration::from_secs(90), |s| {
        numbers(s).difference(&seen).next().is_some()
    });

    // Enter opens the selected call's detail. Calls come and go, so drive the screen like a
    // person would: to a queue with callers waiting, to its calls, Enter.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let screen = tmux.screen();
        if screen.contains("┌ Call on") {
            assert!(screen.contains("gcid"), "{screen}");
            // A call with many ringing targets pushes its functions below 24 rows: scroll
            // the detail down to them, as a person would.
            let mut detail = screen;
            let scrolled = Instant::now() + Duration::from_secs(10);
            while !detail.contains("Functions") && Instant::now() < scrolled {
                tmux.press("PageDown");
                std::thread::sleep(Duration::from_millis(200));
                detail = tmux.screen();
            }
            assert!(detail.contains("Functions"), "{detail}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no call detail opened:\n{screen}"
        );
        if screen.contains("┌ ") {
            // Some other detail (a queue's): back to the panes.
            tmux.press("Escape");
        } else {
            // A waiting call if there is one, else the parked call the demo keeps.
            match focused(&screen) {
                (Some(Focus::Call | Focus::Parked), _) => tmux.press("Enter"),
                (Some(Focus::Queue { waiting, .. }), _) if waiting > 0 => tmux.press("Tab"),
                (Some(Focus::Queue { last: false, .. }), true) => tmux.press("j"),
                (Some(Focus::Queue { last: true, .. }), true) => tmux.press("Home"),
                // Nobody waits anywhere: on to the parked calls, which come before the
                // queues going backwards.
                (Some(Focus::Queue { .. }), false) => tmux.press("BTab"),
                (Some(Focus::Agent), _) => tmux.press("Tab"),
                // Nothing selected in the focused pane (its last caller just went).
                (None, _) => tmux.press("BTab"),
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    tmux.press("Escape");
    tmux.wait_for("the detail closed", Duration::from_secs(5), |s| {
        !s.contains("┌ Call on") && s.contains("Queues")
    });

    // q quits and gives the shell back, the terminal as it was.
    tmux.press("q");
    tmux.wait_for("the shell prompt again", Duration::from_secs(10), |s| {
        !s.contains("DEMO") && last_line(s) == "e2e$"
    });
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "the alternate screen was left"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "the cursor is shown");
    tmux.type_text("stty -a; echo status=$?");
    tmux.press("Enter");
    let screen = tmux.wait_for("stty's report", Duration::from_secs(10), |s| {
        s.contains("status=0")
    });
    assert!(
        screen.contains(" icanon") && screen.contains(" echo ") && !screen.contains("-icanon"),
        "the terminal was left in raw mode:\n{screen}"
    );
}
