//! `ipo-top bench --shared --viewers N`: shared mode at PBX scale. The scale simulator,
//! nats-server and `ipo-top serve` run as child processes (so each one's CPU is its own); this
//! process holds N headless watchers (each its own NATS connection and bucket watch building
//! the model, as a `--shared` viewer does) and one drawn viewer: `ipo-top --shared`'s own
//! screen, watch and run loop ([`shared_screen`]) drawing into the headless terminal, on a
//! thread and runtime of its own so that its CPU can be told apart.
//!
//! Latency is measured from the PBX's send: the simulator (`--stamp-sends`) prints the
//! CLOCK_MONOTONIC time at which it handed the first Notify carrying each new call's gcid to
//! its socket; each watcher notes the same clock when its model first holds that call, and the
//! drawn viewer when the first frame showing it is written. CLOCK_MONOTONIC is system-wide on
//! Linux, so the two processes' readings compare.
//!
//! The simulator also prints each connection it accepts: the shared part must have made
//! exactly one. Then `serve` is stopped and, against the same simulator, `events --json` and
//! the direct-mode dashboard are measured for comparison.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::child::{self, Nats, Sim};
use super::report::{Pct, Target, pct_of, target};
use super::{BenchError, GIVE_UP, Options, SEED, events, headless, screen};
use crate::app::config::{self, SharedSettings};
use crate::app::shared::{self as viewer, ViewerUpdate};
use crate::app::tui::{Onlooker, Settings, Source, settings, shared_screen};
use crate::model::ModelEvent;
use crate::session::SessionEvent;
use crate::sim::server::monotonic_ns;

/// The site name the bench serves.
const SITE: &str = "bench";

/// How long a call's first send may take to reach the viewers before it counts as missed:
/// calls sent at the window's end are waited for this long.
const GRACE: Duration = Duration::from_secs(2);

/// Where the watchers and the drawn viewer are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Taking in the site.
    Settling,
    /// In the measurement window.
    Measuring,
    /// After the window: calls sent at its end may still arrive.
    Grace,
    /// Done: hand back what was seen.
    Done,
}

/// Each gcid's first sighting, CLOCK_MONOTONIC ns.
type Seen = HashMap<String, u64>;

/// One watcher: the bucket's watch into a model, noting when each call first appears.
async fn watcher(
    s: SharedSettings,
    mut phase: watch::Receiver<Phase>,
    caught_up: watch::Sender<u32>,
) -> Seen {
    let mut rx = viewer::spawn(s);
    let mut seen = Seen::new();
    let mut full = false;
    loop {
        let update = tokio::select! {
            u = rx.recv() => u,
            _ = phase.wait_for(|p| *p == Phase::Done) => break,
        };
        match update {
            Some(ViewerUpdate::Model(evs)) => note_calls(&evs, monotonic_ns(), &mut seen),
            // Caught up with a serving side that has synced: the full picture. A watch that
            // caught up before the sync is told again when the sync report comes.
            Some(ViewerUpdate::CaughtUp(Some(_))) if !full => {
                full = true;
                caught_up.send_modify(|n| *n += 1);
            }
            Some(ViewerUpdate::CaughtUp(_)) => {}
            // A watcher keeps the model only; the serving side's judgements are the drawn
            // viewer's to show.
            Some(ViewerUpdate::Judged(_)) => {}
            None => break,
        }
    }
    seen
}

fn note_calls(evs: &[ModelEvent], now: u64, seen: &mut Seen) {
    for ev in evs {
        if let ModelEvent::CallNew { call } = ev
            && let Some(g) = &call.call.gcid
        {
            seen.entry(g.to_hex()).or_insert(now);
        }
    }
}

/// What the drawn viewer's thread shows the bench while it runs.
#[derive(Debug, Default)]
struct DrawnThread {
    /// Its thread id, once it runs (0 before).
    tid: AtomicU64,
    /// Frames drawn so far.
    frames: AtomicU64,
}

impl DrawnThread {
    /// Its thread's CPU so far, from the kernel's scheduler statistics (nanoseconds, not the
    /// 10 ms ticks of /proc's `stat`).
    fn cpu(&self) -> Result<Duration, BenchError> {
        let tid = self.tid.load(Ordering::Relaxed);
        let path = format!("/proc/self/task/{tid}/schedstat");
        let text = std::fs::read_to_string(&path).map_err(|e| BenchError::Proc(e.to_string()))?;
        text.split_whitespace()
            .next()
            .and_then(|ns| ns.parse().ok())
            .map(Duration::from_nanos)
            .ok_or_else(|| BenchError::Proc(format!("{path}: no run time")))
    }
}

/// The drawn viewer's onlooker: notes the new calls in each batch and, at the next frame,
/// when that frame was written.
struct Onlook<'a> {
    thread: &'a DrawnThread,
    undrawn: Vec<String>,
    seen: Seen,
}

impl Onlooker for Onlook<'_> {
    fn batch(&mut self, batch: &[SessionEvent]) {
        for ev in batch {
            if let SessionEvent::Model(ModelEvent::CallNew { call }) = ev
                && let Some(g) = &call.call.gcid
            {
                self.undrawn.push(g.to_hex());
            }
        }
    }

    fn drawn(&mut self) {
        self.thread.frames.fetch_add(1, Ordering::Relaxed);
        let now = monotonic_ns();
        for g in self.undrawn.drain(..) {
            self.seen.entry(g).or_insert(now);
        }
    }
}

/// The drawn viewer: `ipo-top --shared`'s screen and run loop on the headless terminal, on
/// this thread's own runtime (its NATS client's tasks included), until the phase is done.
/// Hands back each new call's first frame.
fn drawn(
    shared: SharedSettings,
    settings: Settings,
    size: (u16, u16),
    mut phase: watch::Receiver<Phase>,
    thread: Arc<DrawnThread>,
) -> Result<Seen, BenchError> {
    // /proc/thread-self is "PID/task/TID".
    let tid = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .ok_or_else(|| BenchError::Proc("/proc/thread-self: no thread id".into()))?;
    thread.tid.store(tid, Ordering::Relaxed);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Spawn(e.to_string()))?;
    rt.block_on(async move {
        let (mut term, _counter) = headless::terminal(size.0, size.1).map_err(BenchError::Draw)?;
        let mut onlook = Onlook {
            thread: &thread,
            undrawn: Vec::new(),
            seen: Seen::new(),
        };
        let quit = async {
            let _ = phase.wait_for(|p| *p == Phase::Done).await;
        };
        shared_screen(settings, &shared, &mut term, size, quit, &mut onlook)
            .await
            .map_err(|e| BenchError::Draw(std::io::Error::other(e)))?;
        Ok(onlook.seen)
    })
}

/// Every figure of one shared run.
#[derive(Debug, Clone, Serialize)]
pub struct SharedRun {
    /// Call changes per second asked of the simulator.
    pub rate: f64,
    /// Headless watchers (besides the drawn viewer).
    pub viewers: usize,
    /// The measurement window, seconds.
    pub seconds: f64,
    /// MTCTI3 connections the simulator accepted during the shared part.
    pub pbx_connections: u64,
    /// New calls the simulator first sent in the window.
    pub calls_sent: u64,
    /// Of those, (watcher, call) pairs seen.
    pub watcher_samples: u64,
    /// (watcher, call) pairs never seen (the serving side may fold a call that began and
    /// ended between two of its reads).
    pub watcher_missed: u64,
    /// PBX's first send of a new call -> a watcher's model holds it, ms.
    pub pbx_to_watcher_ms: Pct,
    /// PBX's first send of a new call -> the drawn viewer's frame showing it, ms.
    pub pbx_to_frame_ms: Pct,
    /// `ipo-top serve`, % of one core.
    pub serve_cpu_pct: f64,
    /// This process less the drawn viewer's thread: the watchers, % of one core.
    pub watchers_cpu_pct: f64,
    /// The drawn viewer's thread, % of one core.
    pub drawn_cpu_pct: f64,
    /// Frames per second the drawn viewer drew.
    pub drawn_frames_per_sec: f64,
    /// nats-server, % of one core.
    pub nats_cpu_pct: f64,
    /// The simulator, % of one core.
    pub sim_cpu_pct: f64,
    /// `ipo-top events --json > /dev/null` direct against the same simulator, % of one core.
    pub events_cpu_pct: f64,
    /// The direct-mode dashboard against the same simulator, % of one core.
    pub dashboard_cpu_pct: f64,
    /// The targets.
    pub targets: Vec<Target>,
}

/// Latencies in ms from the simulator's first sends to the sightings.
fn latencies(sent: &Seen, from_ns: u64, until_ns: u64, seen: &[&Seen]) -> (Vec<f64>, u64) {
    let mut out = Vec::new();
    let mut missed = 0;
    for (g, &at) in sent {
        if at < from_ns || at > until_ns {
            continue;
        }
        for s in seen {
            match s.get(g) {
                Some(&t) => out.push(t.saturating_sub(at) as f64 / 1e6),
                None => missed += 1,
            }
        }
    }
    (out, missed)
}

/// Reads the simulator's new lines: connections opened, first sends.
fn read_sim(sim: &mut Sim, opened: &mut u64, sent: &mut Seen) {
    for line in sim.lines() {
        if line.starts_with("opened connection") {
            *opened += 1;
        } else if let Some(rest) = line.strip_prefix("first sent ")
            && let Some((g, ns)) = rest.split_once(" at ")
            && let Ok(ns) = ns.trim().parse()
        {
            sent.entry(g.to_owned()).or_insert(ns);
        }
    }
}

async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> Result<(), BenchError> {
    tokio::select! {
        () = tokio::time::sleep(d) => Ok(()),
        _ = stop.wait_for(|s| *s) => Err(BenchError::Interrupted),
    }
}

/// One rate in shared mode.
pub fn one(
    rt: &Runtime,
    opts: &Options,
    rate: f64,
    viewers: usize,
    mut stop: watch::Receiver<bool>,
) -> Result<SharedRun, BenchError> {
    let mut sim = Sim::start(rate, SEED, true)?;
    let mut nats = Nats::start()?;
    // The simulator's client configuration, with the site's NATS: for `serve` and the viewers.
    let text =
        std::fs::read_to_string(sim.config()).map_err(|e| BenchError::Config(e.to_string()))?;
    let text = format!(
        "{text}\n[shared]\nnats = \"nats://127.0.0.1:{}\"\nsite = \"{SITE}\"\n",
        nats.port
    );
    crate::app::simconfig::write_private(sim.config(), &text)
        .map_err(|e| BenchError::Config(e.to_string()))?;
    let cfg = config::load(Some(sim.config())).map_err(|e| BenchError::Config(e.to_string()))?;
    let shared = cfg
        .shared
        .clone()
        .ok_or_else(|| BenchError::Config("no [shared] table read back".into()))?;
    let st = settings(&Source::Config(Box::new(cfg.clone())), false);
    let initial_report = st.session.initial_report;
    let mut serve = child::serve(sim.config(), &opts.log_level)?;

    let (phase_tx, phase) = watch::channel(Phase::Settling);
    let (caught_tx, mut caught) = watch::channel(0u32);
    let watchers: Vec<_> = (0..viewers)
        .map(|_| rt.spawn(watcher(shared.clone(), phase.clone(), caught_tx.clone())))
        .collect();
    let drawn_looks = Arc::new(DrawnThread::default());
    let drawn_thread = {
        let viewer_settings = settings(
            &Source::Shared(Box::new(cfg.clone()), shared.clone()),
            false,
        );
        let (s, size, phase, looks) = (
            shared.clone(),
            opts.size,
            phase.clone(),
            drawn_looks.clone(),
        );
        // Named, so that a profile tells its samples apart.
        std::thread::Builder::new()
            .name("drawn-viewer".into())
            .spawn(move || drawn(s, viewer_settings, size, phase, looks))
            .map_err(|e| BenchError::Spawn(e.to_string()))?
    };
    let mut opened = 0u64;
    let mut sent = Seen::new();

    let measured = rt.block_on(async {
        // The full picture: every watcher has caught up with a serving side that has synced.
        let start = Instant::now();
        let want = u32::try_from(viewers).unwrap_or(u32::MAX);
        loop {
            let caught_up = *caught.borrow_and_update();
            if caught_up >= want {
                break;
            }
            if start.elapsed() > GIVE_UP {
                return Err(BenchError::Timeout(format!(
                    "the shared viewers' full picture: {caught_up} of {want} watchers caught up \
                     with a serving side that has synced"
                )));
            }
            if !serve.running() {
                return Err(BenchError::Spawn(format!(
                    "`ipo-top serve` stopped: {}",
                    serve.stderr_tail()
                )));
            }
            sleep_or_stop(Duration::from_millis(500), &mut stop).await?;
        }
        sleep_or_stop(initial_report + Duration::from_secs(1), &mut stop).await?;
        let _ = phase_tx.send(Phase::Measuring);
        let (from, from_ns) = (Instant::now(), monotonic_ns());
        let cpu0 = (
            child::self_cpu()?,
            serve.cpu()?,
            nats.child().cpu()?,
            sim.child().cpu()?,
            drawn_looks.cpu()?,
            drawn_looks.frames.load(Ordering::Relaxed),
        );
        sleep_or_stop(opts.seconds, &mut stop).await?;
        let window = from.elapsed();
        let until_ns = monotonic_ns();
        let cpu1 = (
            child::self_cpu()?,
            serve.cpu()?,
            nats.child().cpu()?,
            sim.child().cpu()?,
            drawn_looks.cpu()?,
            drawn_looks.frames.load(Ordering::Relaxed),
        );
        let _ = phase_tx.send(Phase::Grace);
        // Calls sent at the end of the window get time to arrive.
        sleep_or_stop(GRACE, &mut stop).await?;
        if !serve.running() {
            return Err(BenchError::Spawn(format!(
                "`ipo-top serve` stopped: {}",
                serve.stderr_tail()
            )));
        }
        let _ = phase_tx.send(Phase::Done);
        let mut seen = Vec::new();
        for w in watchers {
            seen.push(w.await.map_err(|e| BenchError::Spawn(e.to_string()))?);
        }
        Ok((window, from_ns, until_ns, cpu0, cpu1, seen))
    });
    let _ = phase_tx.send(Phase::Done);
    let drawn = drawn_thread
        .join()
        .map_err(|_| BenchError::Spawn("the drawn viewer's thread panicked".into()))?;
    let (window, from_ns, until_ns, cpu0, cpu1, seen) = measured?;
    let drawn = drawn?;
    read_sim(&mut sim, &mut opened, &mut sent);
    if opened != 1 {
        return Err(BenchError::Connections(opened));
    }
    // The shared part is over: the direct clients, one at a time, against the same site.
    drop(serve);
    let seconds = opts.seconds.as_secs_f64();
    let events_cpu = rt.block_on(events(&mut sim, opts, GRACE, &mut stop))?;
    let direct = rt.block_on(screen::run(
        &mut sim,
        st,
        true,
        opts.size,
        opts.seconds,
        GIVE_UP,
        &mut stop,
    ))?;
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / window.as_secs_f64().max(1e-9);
    let refs: Vec<&Seen> = seen.iter().collect();
    let (to_watchers, missed) = latencies(&sent, from_ns, until_ns, &refs);
    let (to_frame, _) = latencies(&sent, from_ns, until_ns, &[&drawn]);
    let calls_sent = sent
        .values()
        .filter(|&&at| at >= from_ns && at <= until_ns)
        .count() as u64;
    let self_cpu = cpu1.0.saturating_sub(cpu0.0);
    let drawn_cpu = cpu1.4.saturating_sub(cpu0.4);
    let drawn_frames = cpu1.5.saturating_sub(cpu0.5);
    let mut run = SharedRun {
        rate,
        viewers,
        seconds: window.as_secs_f64(),
        pbx_connections: opened,
        calls_sent,
        watcher_samples: to_watchers.len() as u64,
        watcher_missed: missed,
        pbx_to_watcher_ms: pct_of(to_watchers),
        pbx_to_frame_ms: pct_of(to_frame),
        serve_cpu_pct: pct(cpu1.1.saturating_sub(cpu0.1)),
        watchers_cpu_pct: pct(self_cpu.saturating_sub(drawn_cpu)),
        drawn_cpu_pct: pct(drawn_cpu),
        drawn_frames_per_sec: drawn_frames as f64 / window.as_secs_f64().max(1e-9),
        nats_cpu_pct: pct(cpu1.2.saturating_sub(cpu0.2)),
        sim_cpu_pct: pct(cpu1.3.saturating_sub(cpu0.3)),
        events_cpu_pct: events_cpu,
        dashboard_cpu_pct: 100.0 * direct.cpu.as_secs_f64() / seconds.max(1e-9),
        targets: Vec::new(),
    };
    run.targets = targets(&run);
    Ok(run)
}

fn targets(r: &SharedRun) -> Vec<Target> {
    let serve_x = r.serve_cpu_pct / r.events_cpu_pct.max(1e-9);
    vec![
        target(
            "PBX connections (shared part)",
            "exactly 1",
            r.pbx_connections.to_string(),
            r.pbx_connections == 1,
        ),
        target(
            "PBX -> watcher latency (p99)",
            "< 50 ms",
            format!("{:.1} ms", r.pbx_to_watcher_ms.p99),
            r.watcher_samples > 0 && r.pbx_to_watcher_ms.p99 < 50.0,
        ),
        target(
            "serve CPU / events --json CPU",
            "<= 2x",
            format!("{serve_x:.1}x"),
            serve_x <= 2.0,
        ),
        target(
            "drawn viewer CPU vs direct dashboard",
            "within",
            format!("{:.1} % vs {:.1} %", r.drawn_cpu_pct, r.dashboard_cpu_pct),
            r.drawn_cpu_pct <= r.dashboard_cpu_pct,
        ),
    ]
}

/// The shared bench's report.
#[derive(Debug, Clone, Serialize)]
pub struct SharedReport {
    /// The headless terminal's size.
    pub size: String,
    /// CPU cores the machine offers.
    pub cores: usize,
    /// The runs, in order.
    pub runs: Vec<SharedRun>,
}

impl SharedReport {
    /// One block of figures per run, then the targets.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "ipo-top bench --shared: scale site through `ipo-top serve` and nats-server, {} terminal, {} cores",
            self.size, self.cores
        );
        let p = |v: Pct| format!("{:.1} / {:.1}", v.p50, v.p99);
        for r in &self.runs {
            let rows = [
                ("changes/s", format!("{}", r.rate)),
                ("viewers", format!("{} watchers + 1 drawn", r.viewers)),
                ("window (s)", format!("{:.1}", r.seconds)),
                (
                    "PBX connections (shared part)",
                    r.pbx_connections.to_string(),
                ),
                (
                    "new calls sent; watcher sightings / missed",
                    format!(
                        "{}; {} / {}",
                        r.calls_sent, r.watcher_samples, r.watcher_missed
                    ),
                ),
                (
                    "PBX send -> watcher model p50/p99 (ms)",
                    p(r.pbx_to_watcher_ms),
                ),
                ("PBX send -> drawn frame p50/p99 (ms)", p(r.pbx_to_frame_ms)),
                (
                    "CPU % serve / nats-server / watchers / drawn",
                    format!(
                        "{:.1} / {:.1} / {:.1} / {:.1}",
                        r.serve_cpu_pct, r.nats_cpu_pct, r.watchers_cpu_pct, r.drawn_cpu_pct
                    ),
                ),
                (
                    "CPU % direct: events --json / dashboard",
                    format!("{:.1} / {:.1}", r.events_cpu_pct, r.dashboard_cpu_pct),
                ),
                ("CPU % simulator", format!("{:.1}", r.sim_cpu_pct)),
                ("drawn frames/s", format!("{:.1}", r.drawn_frames_per_sec)),
            ];
            for (k, v) in rows {
                let _ = writeln!(out, "{k:<46} {v}");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "targets (shown, never asserted):");
        for r in &self.runs {
            for t in &r.targets {
                let _ = writeln!(
                    out,
                    "  {:>6}/s  {:<38} {:<10} {:<24} {}",
                    r.rate,
                    t.what,
                    t.target,
                    t.measured,
                    if t.met { "met" } else { "NOT met" }
                );
            }
        }
        out
    }
}
