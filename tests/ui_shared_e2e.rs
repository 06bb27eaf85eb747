//! End to end, as README's shared mode is used: the real binary's simulator running its `e2e`
//! script, `ipo-top serve` publishing it into a real nats-server (the sample server
//! configuration, with bob allowed his own command subject too), and two drawn `ipo-top
//! --shared` screens in tmux: alice's (A) and bob's (B), each a NATS user mapped to an
//! extension by the serving side.
//!
//! On A: `w`, `Enter` on the first queue's waiting call, `t`, a target, `Enter`. The simulator
//! logs one BlindTransfer; A says it is done; B, which pressed nothing, sees the caller leave
//! the queue and reach the target's agent row. The serving side's audit log names alice.
//!
//! Before any serving process, with the sample configuration as it is, bob's screen says from
//! the start that he is read-only on the site and alice's that no serving process answers.
//!
//! Everything is polled with deadlines; nothing waits a fixed time. Skipped, saying so, only
//! when tmux is not installed; without nats-server it fails, saying how to run the tests.

mod nats_support;
mod ui_tmux;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nats_support::Nats;
use serde_json::Value;
use ui_tmux::{Dir, Killed, Sim, Tmux, json_lines, last_line, poll, shell};

const BIN: &str = env!("CARGO_BIN_EXE_ipo-top");

/// The sample server configuration, on the harness's port and store, with bob allowed to
/// publish on his own command subject as alice is on hers.
fn server_config() -> String {
    let sample = include_str!("../assets/nats-server.conf")
        .replacen("listen: 127.0.0.1:4222\n", "", 1)
        .replacen("  store_dir: \"/var/lib/ipo-top-nats\"\n", "", 1);
    // Only bob's permissions name the viewers' reads: they become his, with his subject.
    sample
        .replacen(
            "VIEWER_READS = [\n",
            "BOB_PUBLISHES = [\n  \"ipo-top.hq.cmd.bob\"\n",
            1,
        )
        .replacen("allow: $VIEWER_READS", "allow: $BOB_PUBLISHES", 1)
}

/// A private file (0600).
fn private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("a file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("0600");
}

/// A private directory (0700).
fn private_dir(path: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path).expect("a directory");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).expect("0700");
    path.to_owned()
}

/// `[shared]` for the sample's site as `user`, its password beside it.
fn shared(dir: &Path, url: &str, user: &str) -> String {
    let pw = dir.join(format!("{user}-password"));
    private(&pw, &format!("change-me-{user}\n"));
    format!(
        "[shared]\nnats = \"{url}\"\nsite = \"hq\"\nuser = \"{user}\"\npassword_file = \"{}\"\n",
        pw.display()
    )
}

/// A drawn viewer in tmux as `user`, started.
fn start_viewer(dir: &Path, url: &str, user: &str) -> Tmux {
    let config = dir.join(format!("{user}.toml"));
    private(&config, &shared(dir, url, user));
    let home = private_dir(&dir.join(user));
    let tmux = shell(160, 48);
    tmux.type_text(&format!(
        "XDG_DATA_HOME={h}/data XDG_STATE_HOME={h}/state {BIN} --config {} --shared --log-level off",
        config.display(),
        h = home.display(),
    ));
    tmux.press("Enter");
    tmux
}

/// A drawn viewer in tmux as `user`, once the script's callers show.
fn viewer(dir: &Path, url: &str, user: &str) -> Tmux {
    let tmux = start_viewer(dir, url, user);
    tmux.wait_for(
        &format!("{user}'s screen of the script's call centre"),
        Duration::from_secs(60),
        |s| {
            // The header names the site once: the PBX is the serving side's.
            s.contains("shared: hq via NATS")
                && s.matches("via NATS").count() == 1
                && s.contains("● connected")
                && s.contains("01632960108")
                && s.contains("01632960109")
        },
    );
    tmux
}

/// The row marked ▶ (the focused selection), from the mark on.
fn focused_row(screen: &str) -> Option<&str> {
    screen.lines().find_map(|l| l.find('▶').map(|i| &l[i..]))
}

/// The agents pane's part of each line (the right of the two panes side by side).
fn agent_rows(screen: &str) -> impl Iterator<Item = &str> {
    screen.lines().filter_map(|l| l.split("││").nth(1))
}

#[test]
fn a_transfer_from_one_shared_screen_shows_on_both() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it); the end-to-end test needs it");
        return;
    }
    let conf = server_config();
    let nats = Nats::with_config(&conf);
    let url = nats.url();
    let dir = Dir::scratch("shared-e2e");
    let root = dir.0.clone();

    // The simulator, with its command log and a client configuration for it.
    let command_log = root.join("commands.jsonl");
    let sim = Sim::start(
        &root,
        Path::new("e2e"),
        Some(&command_log),
        &root.join("sim-state"),
    );
    let (client, pbx) = (root.join("client"), &sim.text);

    // `ipo-top serve`, with alice and bob mapped to their extensions.
    let serve_config = client.join("serve.toml");
    private(
        &serve_config,
        &format!(
            "{pbx}\n{}\n[shared.users.alice]\nextension = \"4100\"\n\
             [shared.users.bob]\nextension = \"4101\"\n",
            shared(&root, &url, "serve")
        ),
    );
    let serve_home = private_dir(&root.join("serve"));
    let _serve = Killed(
        Command::new(BIN)
            .args(["--log-level", "off", "--config"])
            .arg(&serve_config)
            .arg("serve")
            .env("XDG_DATA_HOME", serve_home.join("data"))
            .env("XDG_STATE_HOME", serve_home.join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts"),
    );

    let a = viewer(&root, &url, "alice");
    let b = viewer(&root, &url, "bob");

    // A: narrowed to the first queue, Enter on its selected call, t, 4112, Enter.
    a.press("w");
    let narrowed = a.wait_for("the first queue's calls", Duration::from_secs(10), |s| {
        s.contains("Claims Desk · waiting") && focused_row(s).is_some()
    });
    let caller = focused_row(&narrowed)
        .and_then(|row| {
            row.split_whitespace()
                .find(|w| w.len() == 11 && w.starts_with('0'))
        })
        .expect("the caller's number")
        .to_owned();
    a.press("Enter");
    a.wait_for("the call's detail", Duration::from_secs(10), |s| {
        s.contains("┌ Call on queue 7301 Claims Desk")
    });
    a.transfer(&caller, "4112", "4112 Sandhu (");

    // Carried out once, on the serving side's one connection.
    let transfer = poll(
        "the BlindTransfer in the command log",
        Duration::from_secs(30),
        || {
            json_lines(&command_log)
                .into_iter()
                .find(|r| r["function"] == "BlindTransfer")
        },
    );
    assert_eq!(transfer["argument"], "4112", "{transfer}");
    assert_eq!(transfer["result"], 0, "{transfer}");

    // A says it is done; B sees the caller on 4112's row, and no longer waiting.
    a.wait_for("the outcome on A", Duration::from_secs(30), |s| {
        s.contains(&format!("transferring {caller} to 4112 … done"))
    });
    let on_agent =
        |s: &str| agent_rows(s).any(|l| l.contains("4112 Sandhu") && l.contains(&caller));
    a.wait_for(
        "the caller on 4112's row on A",
        Duration::from_secs(30),
        on_agent,
    );
    b.wait_for(
        "the caller on 4112's row on B",
        Duration::from_secs(30),
        on_agent,
    );

    // Both screens end; one transfer was sent, and the serving side recorded it as alice's.
    for t in [&a, &b] {
        t.press("q");
        t.wait_for("the shell prompt again", Duration::from_secs(10), |s| {
            last_line(s) == "e2e$"
        });
    }
    let transfers = json_lines(&command_log)
        .into_iter()
        .filter(|r| r["function"] == "BlindTransfer")
        .count();
    assert_eq!(transfers, 1);
    let audit: Vec<Value> = json_lines(&serve_home.join("data/ipo-top/audit.jsonl"));
    let sent = audit
        .iter()
        .find(|l| l["action"] == "BlindTransfer")
        .expect("the transfer in the serving side's audit log");
    assert_eq!(sent["viewer"]["user"], "alice", "{sent}");
    assert_eq!(sent["viewer"]["proof"], "nats", "{sent}");
}

#[test]
fn each_screen_says_from_the_start_why_it_cannot_send() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it); the end-to-end test needs it");
        return;
    }
    // The sample configuration as it is: bob may not publish on his command subject. No
    // serving process yet.
    let sample = include_str!("../assets/nats-server.conf")
        .replacen("listen: 127.0.0.1:4222\n", "", 1)
        .replacen("  store_dir: \"/var/lib/ipo-top-nats\"\n", "", 1);
    let nats = Nats::with_config(&sample);
    let url = nats.url();
    let dir = Dir::scratch("shared-standing-e2e");
    let bob = start_viewer(&dir.0, &url, "bob");
    let alice = start_viewer(&dir.0, &url, "alice");
    // No key pressed: bob learns NATS refuses his subject, alice that nobody answers.
    bob.wait_for("bob's read-only line", Duration::from_secs(30), |s| {
        s.contains("read-only: not allowed to send functions on hq")
    });
    alice.wait_for("alice's no serving process", Duration::from_secs(30), |s| {
        s.contains("no serving process for hq")
    });
    for t in [&alice, &bob] {
        t.press("q");
        t.wait_for("the shell prompt again", Duration::from_secs(10), |s| {
            last_line(s) == "e2e$"
        });
    }
}
