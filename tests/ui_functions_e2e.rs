//! End to end: the real binary's screen in tmux against the real binary's simulator running
//! its built-in `e2e` script, with the simulator's command log (every SubscribeCmd it
//! receives) and ipo-top's audit log (in a data directory of the test's own).
//!
//! `Enter` on the waiting call, `t`, a target, `Enter`: the simulator logs a BlindTransfer
//! with that target on that call, and the screen shows the outcome. `b` on an agent's call:
//! the simulator logs a MakeCall intrude from the supervisor's line to the agent. `d` then
//! `n`: nothing is sent. The audit log holds every function sent, and only those. With a
//! script of its own, a caller who starts waiting in the second queue after the screen has
//! connected shows, with its queue, without a key being pressed.
//!
//! Everything is polled with deadlines; nothing waits a fixed time. Skipped, saying so, only
//! when tmux is not installed.

mod ui_tmux;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use ui_tmux::{Dir, Killed, Sim, Tmux, json_lines, last_line, poll, shell};

/// The commands the simulator received that ask for something (not the presence
/// subscription's own updates).
fn functions(log: &Path) -> Vec<Value> {
    json_lines(log)
        .into_iter()
        .filter(|r| {
            ["callfunction", "makecall", "unparkcall", "user", "queue"]
                .contains(&r["command"].as_str().unwrap_or(""))
        })
        .collect()
}

/// The row marked ▶ (the focused selection) and the pane title above it.
fn focused_row(screen: &str) -> Option<(String, String)> {
    let mut title = String::new();
    for line in screen.lines() {
        if line.starts_with(' ') && line.contains('─') {
            title = line.to_owned();
        }
        if line.starts_with('▶') {
            return Some((title, line.to_owned()));
        }
    }
    None
}

/// A simulator running the `e2e` script with its command log, and a client configuration
/// for it naming the script's supervisor.
struct Setup {
    // Held for their drop: the simulator is stopped before its directory goes.
    _sim: Killed,
    _dir: Dir,
    config: PathBuf,
    command_log: PathBuf,
    data: PathBuf,
    state: PathBuf,
}

/// A simulator running `script` (a script's text; `None` for the built-in `e2e`).
fn setup(name: &str, script: Option<&str>) -> Setup {
    let dir = Dir::scratch(name);
    let command_log = dir.0.join("commands.jsonl");
    let data = dir.0.join("data");
    let state = dir.0.join("state");
    let script = match script {
        Some(text) => {
            let file = dir.0.join("script.toml");
            std::fs::write(&file, text).expect("the script");
            file
        }
        None => PathBuf::from("e2e"),
    };
    let Sim {
        child: sim,
        config,
        text,
    } = Sim::start(&dir.0, &script, Some(&command_log), &state);
    // The script's supervisor: barge, pick up and unpark are made from 4100.
    std::fs::write(
        &config,
        format!("{text}\n[supervisor]\nextension = \"4100\"\n"),
    )
    .expect("the configuration");
    Setup {
        _sim: sim,
        _dir: dir,
        config,
        command_log,
        data,
        state,
    }
}

/// The screen in tmux against the simulator, with `args`, once the script's call centre
/// shows: from 10 s on, Claims Desk has two callers queueing.
fn screen(s: &Setup, args: &str) -> Tmux {
    let tmux = shell(100, 34);
    tmux.type_text(&format!(
        "XDG_DATA_HOME={} XDG_STATE_HOME={} {} --config {} --log-level off {args}",
        s.data.display(),
        s.state.display(),
        env!("CARGO_BIN_EXE_ipo-top"),
        s.config.display()
    ));
    tmux.press("Enter");
    tmux.wait_for("the script's call centre", Duration::from_secs(60), |s| {
        s.contains("● connected")
            && s.contains("01632960108")
            && s.contains("01632960109")
            && s.contains("My line 4100")
    });
    tmux
}

#[test]
fn functions_reach_the_simulator_and_the_audit_log() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it); the end-to-end test needs it");
        return;
    }
    let setup = setup("functions-e2e", None);
    let tmux = screen(&setup, "");
    let command_log = &setup.command_log;
    let data = &setup.data;

    // Narrowed to the first queue: Enter on its selected waiting call, t, a target, Enter.
    tmux.press("w");
    let narrowed = tmux.wait_for("the first queue's calls", Duration::from_secs(10), |s| {
        s.contains("Claims Desk · waiting")
    });
    let (title, row) = focused_row(&narrowed).expect("a selection");
    assert!(title.contains("Claims Desk · waiting"), "{title}\n{row}");
    let caller = row
        .split_whitespace()
        .find(|w| w.len() == 11 && w.starts_with('0'))
        .expect("the caller's number")
        .to_owned();
    tmux.press("Enter");
    let detail = tmux.wait_for("the call's detail", Duration::from_secs(10), |s| {
        s.contains("┌ Call on queue 7301 Claims Desk") && s.contains("callid ")
    });
    let callid: i64 = detail
        .split("callid ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("the callid in the detail");
    tmux.transfer(&caller, "4112", "4112 Sandhu (");
    let transfer = poll(
        "the BlindTransfer in the command log",
        Duration::from_secs(30),
        || {
            functions(command_log)
                .into_iter()
                .find(|r| r["function"] == "BlindTransfer")
        },
    );
    assert_eq!(transfer["argument"], "4112", "{transfer}");
    assert_eq!(transfer["callid"], callid, "{transfer}");
    assert_eq!(transfer["subscription"], "queue", "{transfer}");
    assert_eq!(transfer["extn"], "7301", "{transfer}");
    assert_eq!(transfer["result"], 0, "{transfer}");
    tmux.wait_for("the outcome on screen", Duration::from_secs(30), |s| {
        s.contains(&format!("transferring {caller} to 4112 … done"))
    });

    // b on an agent's connected call: the supervisor's phone intrudes.
    tmux.press("Escape");
    tmux.wait_for("the panes", Duration::from_secs(10), |s| {
        !s.contains("┌ Call on")
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let screen = tmux.screen();
        match focused_row(&screen) {
            Some((title, row)) if title.starts_with(" Agents") => {
                if row.contains("4106") {
                    assert!(row.contains("TALK"), "{row}");
                    break;
                }
                tmux.press("j");
            }
            _ => tmux.press("Tab"),
        }
        assert!(Instant::now() < deadline, "agent 4106 not found:\n{screen}");
        // Let the key reach the screen before reading it again.
        std::thread::sleep(Duration::from_millis(150));
    }
    tmux.press("b");
    let barge = poll(
        "the MakeCall in the command log",
        Duration::from_secs(30),
        || {
            functions(command_log)
                .into_iter()
                .find(|r| r["command"] == "makecall")
        },
    );
    assert_eq!(barge["function"], "Intrude", "{barge}");
    assert_eq!(barge["argument"], "4106", "{barge}");
    assert_eq!(barge["subscription"], "user", "{barge}");
    assert_eq!(barge["extn"], "4100", "{barge}");
    tmux.wait_for("the barge outcome", Duration::from_secs(30), |s| {
        s.contains("barging in on 4106")
    });

    // d, then n: the question, then nothing.
    tmux.press("d");
    tmux.wait_for("the drop question", Duration::from_secs(10), |s| {
        s.contains("Drop the call") && s.contains("y drop · any other key cancels")
    });
    tmux.press("n");
    tmux.wait_for("the drop cancelled", Duration::from_secs(10), |s| {
        s.contains("drop cancelled; nothing sent")
    });

    // q: the screen ends; nothing else was sent, and the audit log holds exactly what was.
    tmux.press("q");
    tmux.wait_for("the shell prompt again", Duration::from_secs(10), |s| {
        last_line(s) == "e2e$"
    });
    let sent = functions(command_log);
    let what: Vec<&str> = sent
        .iter()
        .map(|r| r["function"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(what, ["BlindTransfer", "Intrude"], "{sent:#?}");

    let audit = json_lines(&data.join("ipo-top/audit.jsonl"));
    let actions: Vec<&str> = audit.iter().filter_map(|l| l["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["BlindTransfer", "MakeCall intrude (106)"],
        "{audit:#?}"
    );
    let first = &audit[0];
    assert_eq!(first["argument"], "4112");
    assert_eq!(first["appearance"]["kind"], "queue");
    assert_eq!(first["appearance"]["extn"], "7301");
    assert!(
        first["pbx"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{first}"
    );
    assert!(first["user"].as_str().is_some_and(|u| !u.is_empty()));
    // Each function's results follow it under its id, with the requestid the simulator saw.
    let id = first["id"].as_str().expect("an id");
    let results: Vec<&Value> = audit
        .iter()
        .filter(|l| l["id"] == id && l.get("result").is_some())
        .collect();
    assert!(
        results
            .iter()
            .any(|r| r["requestid"] == transfer["requestid"]),
        "{results:#?}"
    );
    assert!(
        results.iter().any(|r| r["result"]["status"] == "done"),
        "{results:#?}"
    );
    drop(setup);
}

#[test]
fn read_only_sends_no_subscribecmd_at_all() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it); the end-to-end test needs it");
        return;
    }
    let setup = setup("read-only-e2e", None);
    let tmux = screen(&setup, "--read-only");
    let screen = tmux.screen();
    for hint in ["t transfer", "d drop", "H hold"] {
        assert!(!screen.contains(hint), "{hint}:\n{screen}");
    }
    // Every function key, in every pane, with the keys that would confirm.
    for pane in 0..4 {
        for key in [
            "t", "4", "Enter", "d", "y", "b", "g", "u", "p", "Enter", "P", "s", "Enter", "y", "n",
            "y", "a", "H", "T", "A", "r",
        ] {
            tmux.press(key);
        }
        tmux.wait_for("the read-only note", Duration::from_secs(10), |s| {
            s.contains("read-only: ")
        });
        if pane < 3 {
            tmux.press("Tab");
        }
    }
    tmux.press("q");
    tmux.wait_for("the shell prompt again", Duration::from_secs(10), |s| {
        last_line(s) == "e2e$"
    });
    let received = json_lines(&setup.command_log);
    assert!(received.is_empty(), "{received:#?}");
    assert!(
        !setup.data.join("ipo-top/audit.jsonl").exists(),
        "nothing was sent, so nothing was audited"
    );
}

/// The demo site with no traffic of its own: a caller waits in the first queue from the
/// start, and one starts waiting in the second queue at 30 s, after the screen has connected
/// (a call already waiting at connect has no known start and would tie).
const SECOND_QUEUE: &str = r#"
[site]
scenario = "demo"
time_of_day = "10:00"
seed = 1
ring_for = 600
talk = 900
acw = 30
patience = 1800

[[step]]
at = 0
call = { queue = "7301", number = "01632960201", name = "Harbour Freight Ltd" }

[[step]]
at = 30
call = { queue = "7302", number = "01632960202", name = "Northgate Motors" }
"#;

#[test]
fn a_caller_in_the_second_queue_shows_without_a_key() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it); the end-to-end test needs it");
        return;
    }
    let setup = setup("second-queue-e2e", Some(SECOND_QUEUE));
    let tmux = shell(100, 34);
    tmux.type_text(&format!(
        "XDG_DATA_HOME={} XDG_STATE_HOME={} {} --config {} --log-level off",
        setup.data.display(),
        setup.state.display(),
        env!("CARGO_BIN_EXE_ipo-top"),
        setup.config.display()
    ));
    tmux.press("Enter");
    let first = tmux.wait_for("the first queue's caller", Duration::from_secs(25), |s| {
        s.contains("● connected") && s.contains("01632960201")
    });
    assert!(
        !first.contains("01632960202"),
        "the second queue's caller was waiting before the screen connected:\n{first}"
    );
    // The first queue stays selected and no key is pressed: the floor-wide waiting pane
    // lists the second queue's caller, with its queue.
    let screen = tmux.wait_for("the second queue's caller", Duration::from_secs(60), |s| {
        s.contains("01632960202")
    });
    let row = screen
        .lines()
        .find(|l| l.contains("01632960202"))
        .unwrap_or_default();
    assert!(row.contains("Roadside"), "{row}\n{screen}");
    tmux.press("q");
    tmux.wait_for("the shell prompt again", Duration::from_secs(10), |s| {
        last_line(s) == "e2e$"
    });
}
