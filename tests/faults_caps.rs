//! The fault matrix for what the network can make ipo-top hold: a flood of calls meets the cap
//! on appearances (the rest ignored, said once, acks go on), a user deleted from the lines list
//! takes its live calls with it, and a wall clock that jumps leaves the statistics' midnight
//! and every time shown alone. Each runs the client's engine against the simulator on
//! virtual time (the last, `events` into a pipe nobody reads, runs the real binary); afterwards no Notify is left unacknowledged and the model is the simulator's
//! truth (or, where a cap cut it, the capped truth): nothing stale, nothing doubled.

#[path = "session_support/mod.rs"]
mod support;

#[path = "cli_support/mod.rs"]
mod cli;

use std::collections::BTreeSet;
use std::time::Duration;

use ipo_top::model::{Capped, LineId, PeriodStart, StatsConfig, WallClock};
use ipo_top::protocol::limits::MAX_APPEARANCES;
use ipo_top::session::SessionConfig;
use ipo_top::sim::conn::ConnConfig;
use ipo_top::sim::pbx::Caller;
use support::{Pair, quiet_demo};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The quiet demo site, synced.
fn quiet(session: SessionConfig) -> Pair {
    let mut l = Pair::scripted(&quiet_demo(""), ConnConfig::default(), session);
    l.advance(secs(5));
    assert!(!l.syncs.is_empty(), "synced");
    l
}

/// Every Notify the client received was acknowledged.
fn all_acked(l: &Pair) {
    let c = l.client.counters();
    assert!(c.notifies > 0);
    assert_eq!(c.acks, c.notifies, "every Notify acked: {c:?}");
}

/// The model and the screen's copy hold exactly the simulator's calls.
#[test]
fn a_flood_of_calls_meets_the_cap_which_holds_is_said_once_and_acks_go_on() {
    let mut l = quiet(SessionConfig::default());
    let queues: Vec<_> = l.server.pbx.queues().map(|q| q.id).collect();
    // 100000 callers arrive at once, spread over the queues.
    for i in 0..100_000u32 {
        let q = queues[i as usize % queues.len()];
        let caller = Caller::new(&format!("0770{i:07}"), "Flood");
        let placed = l.server.pbx.place_queue_call(q, caller, 1);
        assert!(matches!(placed, Ok(Some(_))), "call {i} placed");
    }
    l.advance(secs(2));

    // The cap holds: exactly MAX_APPEARANCES kept, every one of them a call the simulator
    // has, none twice; the copy the screen keeps is the same.
    let truth: BTreeSet<_> = l.pbx_calls().into_iter().collect();
    assert!(truth.len() > MAX_APPEARANCES, "the flood passed the cap");
    let kept = Pair::model_calls(l.client.model());
    assert_eq!(kept.len(), MAX_APPEARANCES);
    assert_eq!(
        kept.iter().collect::<BTreeSet<_>>().len(),
        kept.len(),
        "nothing doubled"
    );
    assert!(
        kept.iter().all(|c| truth.contains(c)),
        "nothing the PBX does not have"
    );
    assert_eq!(Pair::model_calls(&l.replica), kept, "the copy");
    // Said once, in words.
    let said: Vec<_> = l
        .capped
        .iter()
        .filter(|c| c.what == Capped::CallAppearances)
        .collect();
    assert_eq!(said.len(), 1, "{:?}", l.capped);
    assert_eq!(
        said[0].to_string(),
        format!("the PBX reports more than {MAX_APPEARANCES} call appearances: ignoring the rest")
    );
    assert!(
        l.client
            .sync_report()
            .capped
            .iter()
            .any(|c| c.what == Capped::CallAppearances),
        "check's report names it"
    );
    all_acked(&l);

    // Acks go on, and the link still carries news: a user's DND arrives.
    let extn = "4101";
    let user = l.user(extn);
    let guid = l.user_guid(extn);
    assert!(l.server.pbx.set_dnd(user, true));
    l.advance(secs(2));
    let dnd = l
        .client
        .model()
        .user(&guid)
        .and_then(|u| u.status.as_ref())
        .is_some_and(|s| s.dnd);
    assert!(dnd, "the DND after the flood reached the model");
    all_acked(&l);
    assert_eq!(l.client.model().sizes().appearances, MAX_APPEARANCES);
}

#[test]
fn a_user_deleted_with_live_calls_takes_them_along() {
    let mut l = quiet(SessionConfig::default());
    let extn = "4103";
    let user = l.user(extn);
    let guid = l.user_guid(extn);
    // Two calls on the user's line: one talking, one ringing.
    assert!(
        l.server
            .pbx
            .place_user_call(user, Caller::new("02079460001", "First"))
            .is_some()
    );
    l.advance(secs(1));
    assert!(l.server.pbx.answer_ringing(user));
    assert!(
        l.server
            .pbx
            .place_user_call(user, Caller::new("02079460002", "Second"))
            .is_some()
    );
    l.advance(secs(2));
    let line = LineId::User(guid.clone());
    assert_eq!(l.client.model().appearances_on(&line).count(), 2);
    l.assert_calls_true("before the deletion");

    // The lines list deletes the user while its calls are live.
    assert!(l.server.pbx.remove_user(user));
    l.advance(secs(2));
    assert!(l.client.model().user(&guid).is_none(), "the user went");
    assert!(l.replica.user(&guid).is_none(), "from the copy too");
    assert_eq!(
        l.client.model().appearances_on(&line).count(),
        0,
        "its calls went"
    );
    assert_eq!(l.replica.appearances_on(&line).count(), 0);
    l.assert_calls_true("after the deletion");
    all_acked(&l);
}

#[test]
fn a_wall_clock_jump_moves_neither_midnight_nor_the_times_shown() {
    // The edge reads the wall clock once, at start (23:00 UTC): midnight is an hour of the
    // monotonic clock away, whatever the wall clock does afterwards.
    const HOUR_MS: i64 = 3_600_000;
    let start_unix = 20_000 * 86_400_000 + 23 * HOUR_MS;
    let mut l = {
        let script = quiet_demo("");
        let mut l = Pair::scripted(&script, ConnConfig::default(), SessionConfig::default());
        let clock = WallClock::utc(l.now, start_unix);
        l.client = ipo_top::session::Session::new(
            SessionConfig {
                stats: StatsConfig {
                    clock: Some(clock),
                    ..StatsConfig::default()
                },
                ..SessionConfig::default()
            },
            l.now,
        );
        l.advance(secs(5));
        l
    };
    let start = l.start;
    let period = l.client.model().stats_period().cloned().expect("a period");
    assert_eq!(period.start, PeriodStart::Started);
    assert_eq!(period.until, Some(start + Duration::from_secs(3600)));

    // A call is parked, and stays: its time shown counts from when it was first seen.
    assert!(
        l.server
            .pbx
            .park_new_call("9", Caller::new("01632960999", "Parked"), None)
            .is_ok()
    );
    l.advance(secs(60));
    let first_seen = |l: &Pair| {
        l.client
            .model()
            .parked()
            .find(|a| {
                a.call
                    .calling
                    .as_ref()
                    .is_some_and(|p| p.number == "01632960999")
            })
            .map(|a| a.first_seen)
    };
    let seen = first_seen(&l).expect("the parked call");

    // The wall clock jumps an hour forwards (23:01 reads 00:01), then back: ipo-top reads it
    // no more, so the period is the same and no midnight passes early.
    l.advance(secs(20 * 60));
    assert_eq!(
        l.client.model().stats_period(),
        Some(&period),
        "no early midnight"
    );
    assert_eq!(
        first_seen(&l),
        Some(seen),
        "the wait still counts from first seen"
    );

    // Midnight by the monotonic clock: exactly one new period, from midnight.
    l.advance(secs(40 * 60));
    let next = l.client.model().stats_period().cloned().expect("a period");
    assert_eq!(next.start, PeriodStart::Midnight);
    assert_eq!(next.since, start + Duration::from_secs(3600));
    assert_eq!(next.label.as_str(), "since 00:00 UTC");
    assert_eq!(next.until, Some(start + Duration::from_secs(3600 + 86_400)));
    // An hour later (where a wall clock set back would read midnight again), nothing.
    l.advance(secs(3600));
    assert_eq!(
        l.client.model().stats_period(),
        Some(&next),
        "one midnight only"
    );
    assert_eq!(
        first_seen(&l),
        Some(seen),
        "the call kept its first-seen time"
    );
    l.assert_calls_true("after the jumps");
    all_acked(&l);
}

/// Reads the child's stdout on a thread, one parsed line at a time; once a `synced` line has
/// been read it stops reading (the pipe fills and `events` blocks on it) until `gate` opens.
fn gated_lines(
    stdout: std::process::ChildStdout,
    gate: std::sync::mpsc::Receiver<()>,
) -> (
    std::sync::mpsc::Receiver<serde_json::Value>,
    std::thread::JoinHandle<()>,
) {
    use std::io::{BufRead, BufReader};
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut waited = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let synced = v["type"] == "synced";
            if tx.send(v).is_err() {
                break;
            }
            if synced && !waited {
                waited = true;
                if gate.recv().is_err() {
                    break;
                }
            }
        }
    });
    (rx, reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_into_a_pipe_nobody_reads_stays_bounded_then_resumes_with_a_lagged_line() {
    use cli::{PATIENCE, Scratch, ipo_top, start_sim, wait_child, write_config};
    let sim = start_sim().await;
    let s = Scratch::new("events-blocked");
    let config = write_config(&sim, &s.path("client"));
    let mut cmd = ipo_top(&s);
    cmd.arg("--config")
        .arg(&config)
        .args(["events", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("ipo-top runs");
    let (gate, gate_rx) = std::sync::mpsc::channel();
    let (rx, reader) = gated_lines(child.stdout.take().expect("a stdout pipe"), gate_rx);
    loop {
        let v = rx.recv_timeout(PATIENCE).expect("the site arrives");
        if v["type"] == "synced" {
            break;
        }
    }

    // Nobody reads for ten seconds while calls come and go at about 2000 changes a second
    // (each call rings, is answered and ends: at least three changes).
    let users: Vec<_> = sim
        .with_pbx(|pbx, _| pbx.users().map(|u| u.id).collect::<Vec<_>>())
        .await
        .expect("the simulator answers");
    // Each round's calls ring in one step and are answered and hung up in the next, so each
    // is seen new and then ended.
    for round in 0..200u32 {
        let ring = users.clone();
        sim.with_pbx(move |pbx, _| {
            for i in 0..35 {
                let u = ring[i as usize % ring.len()];
                let n = round * 35 + i;
                let _ = pbx.place_user_call(u, Caller::new(&format!("0161{n:07}"), "Passing"));
            }
        })
        .await
        .expect("the simulator answers");
        tokio::time::sleep(Duration::from_millis(25)).await;
        let answer = users.clone();
        sim.with_pbx(move |pbx, _| {
            for u in answer {
                for _ in 0..35 {
                    if !pbx.answer_ringing(u) {
                        break;
                    }
                    pbx.far_end_hangs_up(u);
                }
            }
        })
        .await
        .expect("the simulator answers");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        child.try_wait().expect("a status").is_none(),
        "still running"
    );
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        });
    if let Some(kib) = rss_kib {
        assert!(kib < 256 * 1024, "peak resident memory {kib} KiB");
    }

    // Reading again: a lagged line says how much was folded, and live changes follow.
    gate.send(()).expect("the reader waits");
    let lagged = loop {
        let v = rx.recv_timeout(PATIENCE).expect("lines resume");
        if v["type"] == "lagged" {
            break v;
        }
    };
    assert!(lagged["folded"].as_u64().is_some_and(|n| n > 0), "{lagged}");
    assert_eq!(lagged["schema"], 1);
    sim.with_pbx(|pbx, _| {
        let first = pbx.users().next().map(|u| u.id);
        if let Some(u) = first {
            pbx.rename_user(u, "After The Gap");
        }
    })
    .await
    .expect("the simulator answers");
    loop {
        let v = rx.recv_timeout(PATIENCE).expect("live changes follow");
        if v["type"] == "user_changed" && v["user"]["name"] == "After The Gap" {
            break;
        }
    }

    // Closing the pipe ends it quietly: the reader stops at the next line, and the write
    // after that fails.
    drop(rx);
    let rename = |name: &'static str| {
        sim.with_pbx(move |pbx, _| {
            let first = pbx.users().next().map(|u| u.id);
            if let Some(u) = first {
                pbx.rename_user(u, name);
            }
        })
    };
    rename("Closing Time").await.expect("the simulator answers");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(reader.join());
    });
    assert!(done_rx.recv_timeout(PATIENCE).is_ok(), "the reader ended");
    rename("Closing Time Again")
        .await
        .expect("the simulator answers");
    let status = wait_child(child);
    assert!(status.success() || status.code() == Some(0), "{status:?}");
    sim.stop().await;
}

/// Records a session with the demo site from its start for `span`, in the engine fuzz
/// target's input format (see `fuzz/fuzz_targets/engine.rs`): the link opening, every frame
/// the client received, and the time steps between, in tenths of a second.
fn record_engine_input(seed: u64, span: Duration) -> Vec<u8> {
    use ipo_top::protocol::{Framing, decode, encode};
    use ipo_top::session::{Io, Session};
    use ipo_top::sim::pbx::Pbx;
    use ipo_top::sim::{Exchange, Site};
    const CONN: u64 = 1;
    const TENTH: Duration = Duration::from_millis(100);
    let start = std::time::Instant::now();
    let tod = "10:30".parse().expect("a time of day");
    let pbx = Pbx::new(Site::demo(), seed, tod, start).expect("the demo site");
    let mut server = Exchange::new(pbx, None, ConnConfig::default());
    let mut client = Session::new(SessionConfig::default(), start);
    let mut out = Vec::new();
    let mut now = start;
    let end = start + span;
    loop {
        loop {
            let mut busy = false;
            while let Some(io) = client.poll_io() {
                busy = true;
                match io {
                    Io::Connect(_) => {
                        server.open(CONN);
                        client.handle_connected(now);
                        out.push(0);
                    }
                    Io::Close | Io::Shutdown => {
                        server.close(CONN);
                    }
                    Io::Ping => {
                        client.handle_pong(now);
                        out.push(6);
                    }
                    Io::Probe(_) => {
                        client.handle_probe(now, true);
                        out.extend([8, 1]);
                    }
                }
            }
            while client.poll_event().is_some() {
                busy = true;
            }
            while let Some(frame) = client.poll_transmit() {
                busy = true;
                let msg = decode(&frame, Framing::Framed).expect("the client's frames decode");
                server.handle_message(now, CONN, msg);
            }
            server.pump();
            while server.poll_record(CONN).is_some() {}
            let mut frames = Vec::new();
            while let Some(msg) = server.poll_transmit(CONN) {
                frames.push(encode(&msg, Framing::Framed).expect("the PBX's frames encode"));
            }
            for f in frames {
                busy = true;
                let Ok(len) = u16::try_from(f.len()) else {
                    continue;
                };
                out.push(1);
                out.extend(len.to_be_bytes());
                out.extend(&f);
                client.handle_frame(now, &f);
            }
            if !busy {
                break;
            }
        }
        if now >= end {
            return out;
        }
        let next = [client.poll_timeout(), server.poll_timeout(), Some(end)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end)
            .max(now);
        // Whole tenths, at least one, so the replay sees the same instants.
        let tenths = (next.saturating_duration_since(now).as_millis() / 100 + 1).min(60_000);
        let tenths = u16::try_from(tenths).unwrap_or(u16::MAX);
        now += TENTH * u32::from(tenths);
        out.push(2);
        out.extend(tenths.to_be_bytes());
        server.handle_timeout(now);
        client.handle_timeout(now);
    }
}

/// Writes the engine fuzz target's seed corpus from recorded simulator traffic:
/// `cargo test --test faults_caps -- --ignored write_engine_fuzz_seeds`.
#[test]
#[ignore = "writes fuzz/seeds/engine; run it to refresh the seeds"]
fn write_engine_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/engine");
    std::fs::create_dir_all(&dir).expect("the seed directory");
    for (name, seed, span) in [
        ("demo-sync", 7, secs(5)),
        ("demo-minute", 7, secs(60)),
        ("demo-other-day", 11, secs(30)),
    ] {
        let input = record_engine_input(seed, span);
        std::fs::write(dir.join(name), input).expect("a seed written");
    }
}

#[test]
fn recorded_traffic_replays_within_the_caps() {
    // The seeds' format, replayed as the fuzz target does (frames and time steps only here):
    // the engine syncs and stays within its caps.
    use ipo_top::session::Session;
    let input = record_engine_input(7, secs(20));
    let mut now = std::time::Instant::now();
    let mut s = Session::new(SessionConfig::default(), now);
    let mut rest = &input[..];
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op {
            0 => s.handle_connected(now),
            1 | 2 => {
                let n = u16::from_be_bytes([rest[0], rest[1]]);
                rest = &rest[2..];
                if op == 1 {
                    let (frame, tail) = rest.split_at(usize::from(n));
                    rest = tail;
                    s.handle_frame(now, frame);
                } else {
                    now += Duration::from_millis(u64::from(n) * 100);
                    s.handle_timeout(now);
                }
            }
            6 => s.handle_pong(now),
            other => panic!("op {other} not recorded"),
        }
        while s.poll_io().is_some() {}
        while s.poll_transmit().is_some() {}
        while s.poll_event().is_some() {}
        assert_eq!(s.sizes().over_cap(), None);
    }
    assert!(s.sync_report().users > 0, "synced from the recording");
    assert!(s.model().sizes().users > 0);
}
