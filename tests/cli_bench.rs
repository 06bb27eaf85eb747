//! `ipo-top bench` as a smoke test: a short run at one rate completes, every Notify is
//! acknowledged and every figure is there. Never a timing assertion: the figures depend on
//! the machine.

#[path = "cli_support/mod.rs"]
mod support;

use serde_json::Value;
use support::*;

#[test]
fn bench_completes_with_every_notify_acked_and_every_figure() {
    let s = Scratch::new("bench");
    let out = ipo_top(&s)
        .args(["bench", "--seconds", "5", "--json", "--rate", "500"])
        .output()
        .expect("ipo-top bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["size"], "200x60");
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["rate"], 500.0);

    let notifies = run["notifies"].as_u64().expect("notifies");
    assert!(notifies > 0, "{run}");
    assert_eq!(run["acked"].as_u64(), Some(notifies), "{run}");
    let bare = run["bare_notifies"].as_u64().expect("bare notifies");
    assert!(bare > 0, "{run}");
    assert_eq!(run["bare_acked"].as_u64(), Some(bare), "{run}");
    assert_eq!(run["bare_missing"].as_u64(), Some(0), "{run}");

    for figure in [
        "seconds",
        "full_picture_ms",
        "bare_full_picture_ms",
        "frame_cap_ms",
        "dashboard_cpu_pct",
        "events_cpu_pct",
        "sim_cpu_pct",
        "replay_us_per_notify",
        "decode_us_per_notify",
        "frames_per_sec",
        "bytes_per_sec",
        "rss_end_mib",
    ] {
        assert!(run[figure].as_f64().is_some(), "{figure} missing: {run}");
    }
    for pct in [
        "notify_to_rows_ms",
        "notify_to_frame_ms",
        "render_ms",
        "frame_bytes",
        "key_ms",
    ] {
        for q in ["p50", "p99"] {
            assert!(run[pct][q].as_f64().is_some(), "{pct}.{q} missing: {run}");
        }
    }
    assert!(
        run["replay_notifies"].as_u64().is_some_and(|n| n > 0),
        "{run}"
    );
    // Shorter than 60 s: the figure at 60 s is absent, and says so by being null.
    assert!(run["rss_60s_mib"].is_null(), "{run}");
    let targets = run["targets"].as_array().expect("targets");
    assert!(!targets.is_empty());
    for t in targets {
        assert!(t["met"].is_boolean() && t["measured"].is_string(), "{t}");
    }
}

#[test]
fn bench_refuses_a_bad_size_in_one_line() {
    let s = Scratch::new("bench-size");
    let out = ipo_top(&s)
        .args(["bench", "--size", "wide", "--seconds", "1"])
        .output()
        .expect("ipo-top bench runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("COLUMNSxROWS"), "{stderr}");
}
