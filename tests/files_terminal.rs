//! What the PBX says reaches the terminal only cleaned: `ipo-top check` against a simulator
//! whose version string carries escape sequences (a window title, a screen clear) and an
//! invisible character prints one plain line.

#[path = "cli_support/mod.rs"]
mod support;

use ipo_top::sim::Site;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_a_hostile_version_string_cleaned() {
    let site = Site {
        version: "IP Office 11.1\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}6n build\u{200B}600\u{202E}"
            .to_owned(),
        ..Site::demo()
    };
    let sim = support::start_site(site, PASSWORD).await;
    let s = Scratch::new("hostile-version");
    let config = write_config(&sim, &s.path("client"));
    let mut cmd = ipo_top(&s);
    cmd.arg("--config")
        .arg(&config)
        .arg("check")
        .arg("--timeout")
        .arg("20");
    let out = run(cmd).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains(", IP Office 11.1 build600;"), "{stdout:?}");
    assert!(
        !stdout
            .trim_end_matches('\n')
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{200B}' | '\u{202E}')),
        "{stdout:?}"
    );
    sim.stop().await;
}
