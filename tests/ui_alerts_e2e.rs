//! End to end: the real binary's screen in tmux and `events --json` against the real
//! binary's simulator running a script in which Roadside (7302) gets three callers at once,
//! with `[alerts] waiting_critical = 3`. The level's symbol appears on the screen without a
//! key being pressed, and `events --json` carries `alert_raised` for Roadside's calls waiting.
//!
//! Everything is polled with deadlines; nothing waits a fixed time. Skipped, saying so, only
//! when tmux is not installed.

mod ui_tmux;

use std::process::{Command, Stdio};
use std::time::Duration;

use ui_tmux::{Dir, Killed, Sim, Tmux, json_lines, poll, shell};

/// The demo site, quiet until 15 s, when three callers ring Roadside one second apart.
const SCRIPT: &str = r#"
[site]
scenario = "demo"
time_of_day = "10:00"
seed = 1
ring_for = 600
talk = 900
acw = 30
patience = 1800

[[step]]
at = 15
call = { queue = "7302", number = "02079460201", name = "Northgate Motors" }

[[step]]
at = 16
call = { queue = "7302", number = "02079460202" }

[[step]]
at = 17
call = { queue = "7302", number = "02079460203" }
"#;

#[test]
fn a_queue_crossing_its_threshold_is_marked_and_alert_raised_is_written() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it); the end-to-end test needs it");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_ipo-top");
    let dir = Dir::scratch("alerts-e2e");
    let script = dir.0.join("script.toml");
    std::fs::write(&script, SCRIPT).expect("the script");
    let state = dir.0.join("state");
    let Sim {
        child: _sim,
        config,
        text,
    } = Sim::start(&dir.0, &script, None, &state);
    std::fs::write(
        &config,
        format!("{text}\n[alerts]\nwaiting_critical = 3\ndwell_secs = 1\n"),
    )
    .expect("the configuration");

    // events --json, its lines into a file.
    let events = dir.0.join("events.jsonl");
    let _events = Killed(
        Command::new(bin)
            .arg("--config")
            .arg(&config)
            .args(["--log-level", "off", "events", "--json"])
            .env("XDG_STATE_HOME", &state)
            .stdout(std::fs::File::create(&events).expect("the events file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("events starts"),
    );

    let tmux = shell(100, 34);
    tmux.type_text(&format!(
        "XDG_DATA_HOME={} XDG_STATE_HOME={} {bin} --config {} --log-level off",
        dir.0.join("data").display(),
        state.display(),
        config.display()
    ));
    tmux.press("Enter");
    tmux.wait_for("the demo's queues", Duration::from_secs(60), |s| {
        s.contains("● connected") && s.contains("Roadside")
    });
    // Nothing pressed from here on: the symbol comes with the calls and the dwell.
    let screen = tmux.wait_for("Roadside marked critical", Duration::from_secs(90), |s| {
        s.lines()
            .any(|l| l.contains("◆ Roadside") && l.contains("7302"))
    });
    // At 100 columns the header counts the alerts by level.
    let header = screen.lines().next().unwrap_or_default();
    assert!(header.contains("◆1"), "{screen}");

    let raised = poll(
        "alert_raised in events --json",
        Duration::from_secs(60),
        || {
            json_lines(&events)
                .into_iter()
                .find(|l| l["type"] == "alert_raised" && l["queue"]["name"] == "Roadside")
        },
    );
    assert_eq!(raised["schema"], 1, "{raised}");
    assert_eq!(raised["queue"]["number"], "7302", "{raised}");
    assert_eq!(raised["figure"], "waiting", "{raised}");
    assert_eq!(raised["level"], "critical", "{raised}");
    assert_eq!(raised["threshold"], 3, "{raised}");
    assert!(raised["value"].as_u64().is_some_and(|v| v >= 3), "{raised}");

    tmux.press("q");
}
