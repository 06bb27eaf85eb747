//! `R` after a refused login, end to end: the real binary against the in-process simulator
//! (real TLS on 127.0.0.1) in tmux. With a wrong password the header says the PBX refused the
//! login; `R` with the password file unchanged is refused, saying what to fix, and the
//! session stays stopped; once the file holds the right password, `R` logs in.
//!
//! Skipped, saying so, only when tmux is not installed.

#[path = "cli_support/mod.rs"]
mod support;
mod ui_tmux;

use std::time::Duration;

use support::{PASSWORD, Scratch, start_sim, write_config};
use ui_tmux::{Tmux, last_line, shell};

#[test]
fn r_never_resends_a_refused_password_and_logs_in_once_it_is_fixed() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it); the end-to-end test needs it");
        return;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    // The simulator serves on the runtime's threads while this thread drives tmux.
    let sim = rt.block_on(start_sim());
    let s = Scratch::new("ui-retry");
    let config = write_config(&sim, &s.path("client"));
    let password = s.write("client/password", "not-the-password\n", 0o600);

    let tmux = shell(100, 30);
    tmux.type_text(&format!(
        "{} --config {} --log-level off",
        env!("CARGO_BIN_EXE_ipo-top"),
        config.display()
    ));
    tmux.press("Enter");
    tmux.wait_for("the refused login", Duration::from_secs(30), |s| {
        s.contains("stopped: login refused") && s.contains("press R")
    });

    // Nothing fixed: R is refused and says what to fix.
    tmux.press("R");
    let screen = tmux.wait_for("the retry refused", Duration::from_secs(10), |s| {
        s.contains("Not retried")
    });
    // (Where the message wraps depends on the address; the words before it do not.)
    assert!(screen.contains("still the ones the PBX"), "{screen}");
    assert!(!screen.contains("● connected"), "{screen}");

    // The right password in the file: R logs in.
    std::fs::write(&password, format!("{PASSWORD}\n")).unwrap_or_else(|e| panic!("{e}"));
    tmux.press("R");
    tmux.wait_for(
        "the login with the fixed password",
        Duration::from_secs(30),
        |s| s.contains("● connected") && s.contains("Claims Desk") && !s.contains("refused"),
    );

    tmux.press("q");
    tmux.wait_for("the shell prompt again", Duration::from_secs(10), |s| {
        last_line(s) == "e2e$"
    });
    rt.block_on(sim.stop());
}
