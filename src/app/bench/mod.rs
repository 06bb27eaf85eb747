//! `ipo-top bench`: what the screen costs at PBX scale, measured in one run so that the ratios
//! hold on any machine. For each rate it starts the scale simulator as a child process (so
//! this process's CPU is the dashboard's alone) and, one after another against it:
//!
//! 1. the dashboard (`screen`): the real client pipeline drawing into a headless terminal
//!    that counts the bytes (`headless`), first so that its resident memory is its own;
//! 2. the bare client (`bare`): the floor for the time to the full picture, and a recording
//!    of the traffic;
//! 3. the sans-IO replay of that recording (`replay`);
//! 4. `ipo-top events --json > /dev/null` as a child (`child`): the session and model with no
//!    screen, for its CPU;
//!
//! then prints every figure next to the screen's performance targets (`report`). With
//! `--shared --viewers N` it measures shared mode instead (`shared`): `ipo-top serve` and
//! nats-server as children, N watchers and one drawn viewer here. Children
//! are killed on every path out (their guards), and Ctrl-C or SIGTERM stops the bench cleanly.

mod bare;
mod child;
mod headless;
mod replay;
mod report;
mod screen;
mod shared;

use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::Exit;
use super::config;
use super::events::interrupted;
use super::tui::{Source, settings};

/// The rates run when none is given: load, then idle.
pub const DEFAULT_RATES: [f64; 4] = [500.0, 2000.0, 10_000.0, 0.0];

/// The simulator's seed: every run sees the same site.
const SEED: u64 = 7;

/// How long a part may take to reach the full picture before the bench gives up.
const GIVE_UP: Duration = Duration::from_secs(120);

/// The longest the `events --json` child is measured for.
const EVENTS_FOR: Duration = Duration::from_secs(20);

/// The longest the bare client records traffic for the replay.
const RECORD_FOR: Duration = Duration::from_secs(3);

/// Why the bench stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A child process could not be started.
    #[error("cannot start a child process: {0}")]
    Spawn(String),
    /// The scratch directory could not be made.
    #[error("cannot make a scratch directory: {0}")]
    Scratch(String),
    /// The simulator did not start, or stopped.
    #[error("the simulator failed: {0}")]
    SimStart(String),
    /// The simulator's client configuration could not be read.
    #[error("the simulator's client configuration: {0}")]
    Config(String),
    /// A client could not connect or lost the link.
    #[error("cannot reach the simulator: {0}")]
    Connect(String),
    /// A part did not reach the full picture in time.
    #[error("gave up waiting for {0}")]
    Timeout(String),
    /// The `events --json` child stopped early.
    #[error("`ipo-top events --json` stopped: {0}")]
    Events(String),
    /// Drawing into the headless terminal failed.
    #[error("cannot draw: {0}")]
    Draw(std::io::Error),
    /// The replay could not code a frame.
    #[error("the replay: {0}")]
    Replay(String),
    /// /proc could not be read.
    #[error("cannot read /proc: {0}")]
    Proc(String),
    /// The shared part did not hold exactly one MTCTI3 connection.
    #[error(
        "the simulator saw {0} MTCTI3 connections from the shared part; exactly one was expected"
    )]
    Connections(u64),
    /// Ctrl-C or SIGTERM.
    #[error("interrupted")]
    Interrupted,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Call changes per second, one run each, in order.
    pub rates: Vec<f64>,
    /// The measurement window of each run.
    pub seconds: Duration,
    /// The headless terminal's size.
    pub size: (u16, u16),
    /// One JSON object instead of the table.
    pub json: bool,
    /// The log level given to the `events` child (as the dashboard's own).
    pub log_level: String,
    /// Shared mode with this many headless watchers (and one drawn viewer) instead.
    pub shared: Option<usize>,
}

/// Runs the bench and prints its report. Errors are one line on stderr.
pub fn run(opts: &Options) -> Exit {
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let (tx, stop) = watch::channel(false);
    rt.spawn(async move {
        interrupted().await;
        let _ = tx.send(true);
    });
    if let Some(viewers) = opts.shared {
        return run_shared(&rt, opts, viewers, &stop);
    }
    let mut runs = Vec::new();
    for &rate in &opts.rates {
        if !opts.json {
            eprintln!("ipo-top bench: {rate} changes/s...");
        }
        match one(&rt, opts, rate, stop.clone()) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("ipo-top bench: {e}");
                rt.shutdown_timeout(Duration::from_millis(500));
                return Exit::Other;
            }
        }
    }
    rt.shutdown_timeout(Duration::from_millis(500));
    let report = report::Report {
        size: format!("{}x{}", opts.size.0, opts.size.1),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        runs,
    };
    if opts.json {
        match serde_json::to_string(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("ipo-top bench: cannot write the report: {e}");
                return Exit::Other;
            }
        }
    } else {
        print!("{}", report.table());
    }
    Exit::Ok
}

/// The shared bench: every rate, then its report.
fn run_shared(rt: &Runtime, opts: &Options, viewers: usize, stop: &watch::Receiver<bool>) -> Exit {
    let mut runs = Vec::new();
    for &rate in &opts.rates {
        if !opts.json {
            eprintln!("ipo-top bench --shared: {rate} changes/s, {viewers} viewers...");
        }
        match shared::one(rt, opts, rate, viewers, stop.clone()) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("ipo-top bench: {e}");
                return Exit::Other;
            }
        }
    }
    let report = shared::SharedReport {
        size: format!("{}x{}", opts.size.0, opts.size.1),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        runs,
    };
    if opts.json {
        match serde_json::to_string(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("ipo-top bench: cannot write the report: {e}");
                return Exit::Other;
            }
        }
    } else {
        print!("{}", report.table());
    }
    Exit::Ok
}

/// One rate: the simulator, the bare client, `events --json`, the dashboard, the replay.
fn one(
    rt: &Runtime,
    opts: &Options,
    rate: f64,
    mut stop: watch::Receiver<bool>,
) -> Result<report::Run, BenchError> {
    let mut sim = child::Sim::start(rate, SEED, false)?;
    let config = config::load(Some(sim.config())).map_err(|e| BenchError::Config(e.to_string()))?;
    // As the screen runs against a configuration file, functions allowed (none is pressed).
    let settings = settings(&Source::Config(Box::new(config)), false);
    let (session, ui) = (settings.session.clone(), settings.ui.clone());
    let endpoint = settings.endpoint.clone();

    // The dashboard first, so that its resident memory is its own: nothing the bare client
    // records (a 3000-user lines Notify alone decodes to about 12 MB) or the replay allocates
    // has been through this process's allocator yet.
    // At rest nothing is pressed: the frames measured are the ones the screen draws alone.
    let keys = rate > 0.0;
    let screen = rt.block_on(screen::run(
        &mut sim,
        settings,
        keys,
        opts.size,
        opts.seconds,
        GIVE_UP,
        &mut stop,
    ))?;
    let bare = rt.block_on(async {
        let record = RECORD_FOR.min(opts.seconds);
        tokio::select! {
            b = bare::run(&endpoint, session.initial_report, record, GIVE_UP) => b,
            _ = stop.wait_for(|s| *s) => Err(BenchError::Interrupted),
        }
    })?;
    let replay = replay::run(&bare.recording, session, ui, opts.size)?;
    let settle = bare.full_picture + Duration::from_secs(1);
    let events_cpu = rt.block_on(events(&mut sim, opts, settle, &mut stop))?;
    drop(sim);
    Ok(report::Run::new(rate, &bare, events_cpu, &screen, &replay))
}

/// `ipo-top events --json > /dev/null` against the simulator, alone: its CPU (% of one core)
/// once it has had `settle` to take in the site.
async fn events(
    sim: &mut child::Sim,
    opts: &Options,
    settle: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<f64, BenchError> {
    let mut ev = child::events(sim.config(), &opts.log_level)?;
    let window = opts.seconds.min(EVENTS_FOR);
    let wait = |d: Duration| async move { tokio::time::sleep(d).await };
    tokio::select! {
        () = wait(settle) => {}
        _ = stop.wait_for(|s| *s) => return Err(BenchError::Interrupted),
    }
    let from = ev.cpu()?;
    tokio::select! {
        () = wait(window) => {}
        _ = stop.wait_for(|s| *s) => return Err(BenchError::Interrupted),
    }
    let used = ev.cpu()?.saturating_sub(from);
    if !ev.running() {
        return Err(BenchError::Events(ev.stderr_tail()));
    }
    Ok(100.0 * used.as_secs_f64() / window.as_secs_f64().max(1e-9))
}
