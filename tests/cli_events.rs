//! `ipo-top events --json` against the in-process simulator: every line is one JSON object
//! with the schema version, the site arrives as users, queues and calls, live changes follow,
//! and the program exits quietly when its output pipe closes.

#[path = "cli_support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use ipo_top::sim::pbx::Caller;
use serde_json::Value;
use support::*;

/// Reads the child's stdout on a thread, one parsed line at a time. The thread (and with it
/// the pipe's reading end) ends at the first line after the receiver is dropped.
fn lines(
    stdout: std::process::ChildStdout,
) -> (
    mpsc::Receiver<Result<Value, String>>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let parsed = serde_json::from_str::<Value>(&line).map_err(|e| format!("{e}: {line}"));
            if tx.send(parsed).is_err() {
                break;
            }
        }
    });
    (rx, reader)
}

/// A change on the site that makes `ipo-top events` write a line.
async fn rename_someone(sim: &ipo_top::sim::server::ServerHandle, name: &'static str) {
    sim.with_pbx(move |pbx, _| {
        let first = pbx.users().next().map(|u| u.id);
        if let Some(u) = first {
            pbx.rename_user(u, name);
        }
    })
    .await
    .expect("the simulator answers");
}

/// Takes lines until one satisfies `done`, checking every line's envelope on the way.
fn until(
    rx: &mpsc::Receiver<Result<Value, String>>,
    seen: &mut Vec<Value>,
    done: impl Fn(&Value) -> bool,
) {
    loop {
        let v = match rx.recv_timeout(PATIENCE) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => panic!("a line that is not JSON: {e}"),
            Err(e) => panic!("no line came ({e}); seen: {seen:#?}"),
        };
        assert_eq!(v["schema"], 1, "{v}");
        assert!(v["ts_ms"].as_u64().is_some_and(|t| t > 0), "{v}");
        assert!(v["type"].is_string(), "{v}");
        let finished = done(&v);
        seen.push(v);
        if finished {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_json_lines_and_the_program_leaves_quietly_when_the_pipe_closes() {
    let sim = start_sim().await;
    sim.advance(Duration::from_secs(15 * 60))
        .await
        .expect("the clock moves");
    let users = sim
        .with_pbx(|pbx, _| pbx.users().count())
        .await
        .expect("the simulator answers");
    let s = Scratch::new("events");
    let config = write_config(&sim, &s.path("client"));
    let mut cmd = ipo_top(&s);
    cmd.arg("--config")
        .arg(&config)
        .args(["events", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("ipo-top runs");
    let (rx, reader) = lines(child.stdout.take().expect("a stdout pipe"));
    let mut seen = Vec::new();

    // The site arrives, then the sync is reported.
    until(&rx, &mut seen, |v| v["type"] == "synced");
    let count = |t: &str| seen.iter().filter(|v| v["type"] == t).count();
    assert_eq!(count("user_added"), users);
    assert_eq!(count("queue_added"), 3);
    assert!(count("connection") >= 1);
    let synced = seen.last().cloned().unwrap_or_default();
    assert_eq!(synced["users"], users);
    assert_eq!(synced["park_available"], true);

    // Calls carry numbers, names, queue and state.
    until(&rx, &mut seen, |v| {
        v["type"] == "call_new" && v["call"]["key"]["line"]["kind"] == "queue"
    });
    let call = &seen.last().cloned().unwrap_or_default()["call"];
    assert!(call["state"].is_string(), "{call}");
    assert!(call["calling"]["number"].is_string(), "{call}");
    assert!(call["queue"]["name"].is_string(), "{call}");
    assert!(call["line"]["name"].is_string(), "{call}");
    assert!(
        call["callid"].is_i64() || call["key"]["callid"].is_i64(),
        "{call}"
    );

    // A live change comes through.
    sim.with_pbx(|pbx, _| {
        let first = pbx.queues().next().map(|q| q.id);
        if let Some(q) = first {
            let _ = pbx.place_queue_call(q, Caller::new("01632960777", "Ms Live"), 2);
        }
    })
    .await
    .expect("the simulator answers");
    until(&rx, &mut seen, |v| {
        v["type"] == "call_new" && v["call"]["calling"]["number"] == "01632960777"
    });
    // The statistics come with the queues (and the period they count over).
    until(&rx, &mut seen, |v| {
        v["type"] == "queue_changed" && v["queue"]["stats"]["offered"].as_u64() > Some(0)
    });
    let stats = &seen.last().cloned().unwrap_or_default()["queue"]["stats"];
    for key in [
        "waiting",
        "answered",
        "abandoned",
        "short_abandoned",
        "asa_ms",
        "service_level",
        "longest_wait_ms",
    ] {
        assert!(stats.get(key).is_some(), "{key} in {stats}");
    }
    assert!(
        seen.iter().any(|v| v["type"] == "stats_period"
            && v["period"]["label"].is_string()
            && v["period"]["service_level_secs"] == 20),
        "the counting period is reported"
    );

    // Close the pipe: the reader stops at the next line (its write still succeeds) and the
    // pipe's reading end goes with it; the write after that fails, and the program leaves,
    // exit 0, silent.
    drop(rx);
    rename_someone(&sim, "Someone Else").await;
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(reader.join());
    });
    assert!(done_rx.recv_timeout(PATIENCE).is_ok(), "the reader ended");
    rename_someone(&sim, "Someone Else Again").await;
    let mut stderr = child.stderr.take().expect("a stderr pipe");
    let status = wait_child(child);
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "quiet: {err}");
    sim.stop().await;
}
