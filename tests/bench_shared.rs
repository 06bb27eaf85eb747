//! `ipo-top bench --shared` as a smoke test, against a real nats-server: a short run with a
//! few viewers completes, the simulator saw exactly one MTCTI3 connection from the shared
//! part, calls reached the watchers, and every figure of the report is there. Never a timing
//! assertion: the figures depend on the machine.

#[path = "cli_support/mod.rs"]
mod support;

#[path = "nats_support/mod.rs"]
mod nats_support;

use serde_json::Value;
use support::*;

#[test]
fn shared_bench_completes_with_one_pbx_connection_and_every_figure() {
    // The bench starts its own nats-server; the tests' way of finding one is its way too.
    let server = nats_support::server_binary();
    let s = Scratch::new("bench-shared");
    let out = ipo_top(&s)
        .env("IPO_TOP_NATS_SERVER", &server)
        .args(["bench", "--shared", "--viewers", "3"])
        .args(["--rate", "500", "--seconds", "3", "--json"])
        .output()
        .expect("ipo-top bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["rate"], 500.0);
    assert_eq!(run["viewers"], 3);
    assert_eq!(run["pbx_connections"], 1, "{run}");
    assert!(
        run["calls_sent"].as_u64().is_some_and(|n| n > 0),
        "the simulator stamped no new call: {run}"
    );
    assert!(
        run["watcher_samples"].as_u64().is_some_and(|n| n > 0),
        "no new call reached a watcher: {run}"
    );
    for figure in [
        "seconds",
        "serve_cpu_pct",
        "watchers_cpu_pct",
        "drawn_cpu_pct",
        "drawn_frames_per_sec",
        "nats_cpu_pct",
        "sim_cpu_pct",
        "events_cpu_pct",
        "dashboard_cpu_pct",
    ] {
        assert!(run[figure].as_f64().is_some(), "{figure} missing: {run}");
    }
    for pct in ["pbx_to_watcher_ms", "pbx_to_frame_ms"] {
        for q in ["p50", "p99"] {
            assert!(run[pct][q].as_f64().is_some(), "{pct}.{q} missing: {run}");
        }
    }
    let targets = run["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 4, "{run}");
    for t in targets {
        assert!(t["met"].is_boolean() && t["measured"].is_string(), "{t}");
    }
}

#[test]
fn shared_bench_without_nats_server_says_how_to_get_one() {
    let s = Scratch::new("bench-shared-no-nats");
    let out = ipo_top(&s)
        .env("PATH", s.path("empty"))
        .args([
            "bench",
            "--shared",
            "--viewers",
            "1",
            "--rate",
            "0",
            "--seconds",
            "1",
        ])
        .output()
        .expect("ipo-top bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("nats-server 2.11 or later") && stderr.contains("IPO_TOP_NATS_SERVER"),
        "{stderr}"
    );
}
