//! The binary's shared mode: `ipo-top serve --demo` starts the simulator and a nats-server and
//! says how to watch it; `--shared check` answers from NATS; a viewer's file is refused for the
//! PBX.

mod cli_support;
mod nats_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use cli_support::{Scratch, ipo_top, run, text};

/// Stops the serving process as Ctrl-C would (SIGTERM), so that it stops its nats-server and
/// removes its directory; killed if it does not.
struct Serving(Option<Child>);

impl Serving {
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.0.take()?;
        let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).ok()?)?;
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send(());
            (child, status)
        });
        let done = rx.recv_timeout(cli_support::PATIENCE).is_ok();
        if !done {
            return None;
        }
        waiter.join().ok().and_then(|(_, s)| s.ok())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_is_watched_through_nats_by_shared_check() {
    let scratch = Scratch::new("serve-demo");
    let mut serve = ipo_top(&scratch);
    serve
        .env("IPO_TOP_NATS_SERVER", nats_support::server_binary())
        .args(["serve", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = serve.spawn().expect("ipo-top serve --demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut serving = Serving(Some(child));
    // It says what to run in a second terminal, naming the viewers' file.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let viewer = lines.by_ref().find_map(|l| {
            l.split_whitespace()
                .find(|w| w.ends_with("viewer.toml"))
                .map(str::to_owned)
        });
        let _ = tx.send(viewer);
        // Keep reading, as a terminal would, until it exits.
        lines.for_each(drop);
    });
    let viewer = tokio::time::timeout(cli_support::PATIENCE, rx)
        .await
        .expect("serve --demo starts in time")
        .expect("reader")
        .expect("serve --demo names the viewers' file");
    let viewer_text = std::fs::read_to_string(&viewer).expect("the viewers' file");
    assert!(!viewer_text.contains("[pbx]") && !viewer_text.contains("password"));

    let mut check = ipo_top(&scratch);
    check.args(["--shared", "--config", &viewer, "check", "--timeout", "30"]);
    let out = run(check).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(
        line.starts_with("shared: demo via NATS at nats://127.0.0.1:") && line.contains("17 users"),
        "{line}"
    );

    // The viewers' file names no PBX: used for the PBX, it says what to do.
    let mut direct = ipo_top(&scratch);
    direct.args(["--config", &viewer, "check"]);
    let out = run(direct).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--shared"),
        "{}",
        text(&out.stderr)
    );

    // Ctrl-C: it stops, and takes its nats-server and the viewers' file with it.
    let status = serving.stop().expect("serve --demo stops");
    assert!(status.success(), "{status}");
    assert!(
        !std::path::Path::new(&viewer).exists(),
        "the viewers' file is removed"
    );
}
