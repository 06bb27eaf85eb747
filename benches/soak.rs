//! The soak: does anything ipo-top holds grow with time? A harness that prints its figures
//! (`cargo bench --bench soak`) and asserts no timing; see `benches/README.md` for the figures
//! measured and the machine.
//!
//! 1. Virtual time: an hour of the scale site (3000 users, 150 groups, about 2000 calls, 500
//!    call changes/s) against the client's sans-IO engine, frames encoded and decoded as on the
//!    wire but no socket and no clock, with a fault every five site-minutes. The engine's
//!    events go through the session's bounded mailbox ([`Coalescer`]) to a reader's
//!    [`Tables`], as they do on their way to the screen. Every site-minute the size of every
//!    map is sampled: the engine's ([`Session::sizes`]), the model's tables, the reader's, the
//!    mailbox and this process's resident memory. At the end every Notify must have been
//!    acknowledged and the model, and the reader's copy, must hold the simulator's calls.
//! 2. Real TLS: `ipo-top sim --scenario scale --rate 500` and `ipo-top events --json` as child
//!    processes on 127.0.0.1 (port 0), the client's resident memory read from /proc each minute.
//!
//! Arguments (after `--`): `--minutes N` (site-minutes of part 1, default 60) and
//! `--tls-minutes N` (minutes of part 2, default 10; 0 skips it); or the environment
//! variables `SOAK_MINUTES` and `SOAK_TLS_MINUTES`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use ipo_top::model::{Coalescer, LineId, MailboxLimits, Tables};
use ipo_top::protocol::limits::{MAILBOX_FOLD_AFTER, MAILBOX_MAX_PENDING};
use ipo_top::protocol::{Framing, decode, encode};
use ipo_top::session::{Disconnect, Io, Session, SessionConfig, SessionEvent};
use ipo_top::sim::conn::ConnConfig;
use ipo_top::sim::pbx::{Caller, Line, Pbx};
use ipo_top::sim::scale::ScaleOptions;
use ipo_top::sim::site::UserSpec;
use ipo_top::sim::{Exchange, Site};

/// The client's connection on the simulator.
const CONN: u64 = 1;
/// The scale scenario's rate, call changes per second.
const RATE: f64 = 500.0;
/// Site-minutes between faults.
const FAULT_EVERY: u64 = 5;
/// The first fault's site-minute (then every [`FAULT_EVERY`]): each fault leaves at least
/// three minutes to recover before the next, and a short run still meets one.
const FIRST_FAULT: u64 = 2;
/// Callers in a burst.
const BURST: u32 = 2000;

/// The faults, in the order they come round.
/// The burst comes just before the restart, which ends its calls (the scale site's agents
/// are all busy: the burst's callers wait in the groups until then).
const FAULTS: [&str; 8] = [
    "link dropped (connection reset)",
    "lines Notify deleting a user with live calls",
    "that user re-added",
    "a silent PBX (nothing read or written) until keepalive gives the link up",
    "a burst of 2000 callers into the groups",
    "PBX restart (every call ends, link dropped)",
    "every subscription terminated (SubscribeTerminated)",
    "frames that are no MTCTI3",
];

/// The client's engine and the simulator side by side on one virtual clock, the engine's
/// model events going through a bounded mailbox to a reader's tables.
struct Soak {
    now: Instant,
    server: Exchange,
    client: Session,
    mailbox: Coalescer,
    reader: Tables,
    /// Since when the PBX neither reads nor writes nor answers pings, if it is silent.
    silent: Option<Instant>,
    /// How long each silence lasted until the client gave the link up and connected again.
    silences: Vec<Duration>,
    /// A user the lines list deleted, for re-adding.
    removed: Option<UserSpec>,
    /// The most events pending in the mailbox since the last sample.
    mailbox_peak: usize,
    subscribe_failed: u64,
    connect_failed: u64,
    capped: u64,
    folded: u64,
    syncs: u64,
}

impl Soak {
    fn new(seed: u64) -> Soak {
        let now = Instant::now();
        let site = Site::scale(ScaleOptions {
            changes_per_sec: RATE,
            ..ScaleOptions::default()
        });
        let pbx = Pbx::new(site, seed, "10:30".parse().expect("a time of day"), now)
            .expect("the scale site");
        Soak {
            now,
            server: Exchange::new(pbx, None, ConnConfig::default()),
            client: Session::new(SessionConfig::default(), now),
            mailbox: Coalescer::bounded(MailboxLimits {
                fold_after: MAILBOX_FOLD_AFTER,
                max_pending: MAILBOX_MAX_PENDING,
            }),
            reader: Tables::new(),
            silent: None,
            silences: Vec::new(),
            removed: None,
            mailbox_peak: 0,
            subscribe_failed: 0,
            connect_failed: 0,
            capped: 0,
            folded: 0,
            syncs: 0,
        }
    }

    /// Moves both sides on by `by`, stopping at every deadline on the way.
    fn advance(&mut self, by: Duration) {
        self.drive();
        let end = self.now + by;
        loop {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|t| *t <= end)
                .min();
            let Some(t) = next else { break };
            self.step_to(t.max(self.now));
        }
        self.step_to(end);
    }

    fn step_to(&mut self, t: Instant) {
        self.now = t;
        self.server.handle_timeout(t);
        self.drive();
        self.client.handle_timeout(t);
        self.drive();
    }

    /// Carries what each side has to say to the other until both are quiet.
    fn drive(&mut self) {
        while self.step() {}
    }

    fn step(&mut self) -> bool {
        let mut busy = false;
        while let Some(io) = self.client.poll_io() {
            busy = true;
            match io {
                Io::Connect(_) => {
                    // A new connection reaches a PBX that talks again.
                    if let Some(since) = self.silent.take() {
                        self.silences
                            .push(self.now.saturating_duration_since(since));
                    }
                    self.server.open(CONN);
                    self.client.handle_connected(self.now);
                }
                Io::Close | Io::Shutdown => {
                    self.server.close(CONN);
                }
                Io::Ping => {
                    if self.silent.is_none() {
                        self.client.handle_pong(self.now);
                    }
                }
                Io::Probe(_) => self.client.handle_probe(self.now, true),
            }
        }
        while let Some(ev) = self.client.poll_event() {
            busy = true;
            match ev {
                SessionEvent::Model(m) => {
                    self.mailbox.push(m);
                    self.mailbox_peak = self.mailbox_peak.max(self.mailbox.len());
                }
                SessionEvent::Synced(_) => self.syncs += 1,
                SessionEvent::SubscribeFailed(_) => self.subscribe_failed += 1,
                SessionEvent::ConnectFailed(_) => self.connect_failed += 1,
                SessionEvent::CapReached(_) => self.capped += 1,
                SessionEvent::Command(_) => {}
                SessionEvent::Lagged { folded } => self.folded += folded,
            }
        }
        while let Some(frame) = self.client.poll_transmit() {
            busy = true;
            if self.silent.is_some() {
                continue;
            }
            let msg = decode(&frame, Framing::Framed).expect("the client's frames decode");
            self.server.handle_message(self.now, CONN, msg);
        }
        self.server.pump();
        while self.server.poll_record(CONN).is_some() {}
        if self.silent.is_none() {
            let mut frames = Vec::new();
            while let Some(msg) = self.server.poll_transmit(CONN) {
                frames.push(encode(&msg, Framing::Framed).expect("the PBX's frames encode"));
            }
            for f in frames {
                busy = true;
                self.client.handle_frame(self.now, &f);
            }
        }
        busy
    }

    /// The reader takes what the mailbox holds.
    fn read(&mut self) {
        for ev in self.mailbox.take() {
            self.reader.apply(&ev);
        }
        self.folded += self.mailbox.take_folded();
    }

    fn drop_link(&mut self, why: &str) {
        self.server.close(CONN);
        self.client
            .handle_closed(self.now, Disconnect::Failed(why.to_owned()));
        self.drive();
    }

    /// Injects fault number `n`; says what it did.
    fn fault(&mut self, n: usize) -> String {
        let what = FAULTS[n % FAULTS.len()];
        let detail = match n % FAULTS.len() {
            0 => {
                self.drop_link("connection reset by peer");
                String::new()
            }
            1 => {
                let pbx = &self.server.pbx;
                let victim = pbx
                    .users()
                    .filter(|u| !pbx.calls_on(Line::User(u.id)).is_empty())
                    .map(|u| (u.id, u.spec.clone(), pbx.calls_on(Line::User(u.id)).len()))
                    .max_by_key(|(_, _, calls)| *calls);
                match victim {
                    Some((id, spec, calls)) => {
                        let extn = spec.extn.clone();
                        self.server.pbx.remove_user(id);
                        self.removed = Some(spec);
                        format!(": {extn} with {calls} calls")
                    }
                    None => ": no user had calls".to_owned(),
                }
            }
            2 => match self.removed.take() {
                Some(spec) => {
                    let extn = spec.extn.clone();
                    match self.server.pbx.add_user(spec) {
                        Ok(_) => format!(": {extn}"),
                        Err(e) => format!(": refused: {e}"),
                    }
                }
                None => ": none removed".to_owned(),
            },
            3 => {
                self.silent = Some(self.now);
                String::new()
            }
            4 => {
                let queues: Vec<_> = self.server.pbx.queues().map(|q| q.id).collect();
                let mut placed = 0;
                for i in 0..BURST {
                    let Some(q) = queues.get(i as usize % queues.len().max(1)) else {
                        break;
                    };
                    let caller = Caller::new(&format!("0770{i:07}"), "Burst");
                    if matches!(self.server.pbx.place_queue_call(*q, caller, 1), Ok(Some(_))) {
                        placed += 1;
                    }
                }
                format!(": {placed} placed")
            }
            5 => {
                self.server.restart();
                self.drop_link("connection reset by peer");
                String::new()
            }
            6 => format!(": {} ended", self.server.terminate_all()),
            _ => {
                self.client
                    .handle_frame(self.now, &[0, 0, 0, 2, 0x0A, 0x00]);
                self.client
                    .handle_frame(self.now, &[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
                String::new()
            }
        };
        self.drive();
        format!("{what}{detail}")
    }

    /// The simulator's calls now, as (line, callid, state, gcid), sorted.
    fn pbx_calls(&self) -> Vec<(String, i32, i32, Vec<u8>)> {
        let pbx = &self.server.pbx;
        let mut lines = Vec::new();
        for u in pbx.users() {
            lines.push((format!("user {}", hex(&u.guid)), Line::User(u.id)));
        }
        for q in pbx.queues() {
            lines.push((format!("queue {}", hex(&q.guid)), Line::Queue(q.id)));
        }
        lines.push(("park server".to_owned(), Line::Park));
        let mut out = Vec::new();
        for (label, line) in lines {
            for (callid, key) in pbx.calls_on(line) {
                if let Some(ci) = pbx.callinfo(line, key) {
                    out.push((label.clone(), callid, ci.state, ci.gcid));
                }
            }
        }
        out.sort();
        out
    }
}

/// A model's calls, in the form of [`Soak::pbx_calls`].
fn model_calls(m: &Tables) -> Vec<(String, i32, i32, Vec<u8>)> {
    let mut out: Vec<_> = m
        .appearances()
        .map(|a| {
            let line = match &a.key.line {
                LineId::User(g) => format!("user {g}"),
                LineId::Queue(g) => format!("queue {g}"),
                LineId::ParkServer => "park server".to_owned(),
            };
            let gcid = a.call.gcid.as_ref().map(|g| g.as_bytes().to_vec());
            (
                line,
                a.key.callid,
                a.call.state.code(),
                gcid.unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// This process's resident memory, in KiB (0 when /proc cannot say).
fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The columns of the virtual-time table.
const COLUMNS: [&str; 22] = [
    "users",
    "queues",
    "appear",
    "gcids",
    "subs",
    "sub_ids",
    "to_sub",
    "pres_u",
    "pres_lr",
    "pres_snt",
    "reqs",
    "cmds",
    "timers",
    "tx",
    "io",
    "events",
    "fails",
    "capped",
    "rd_appear",
    "mbox",
    "mbox_pk",
    "rss_kib",
];

fn sample(s: &mut Soak) -> Vec<u64> {
    let e = s.client.sizes();
    let t = e.tables;
    let r = s.reader.sizes();
    let row = [
        t.users,
        t.queues,
        t.appearances,
        t.gcids,
        e.subscriptions,
        e.subscribe_ids,
        e.to_subscribe,
        e.presence_users,
        e.presence_lrefs,
        e.presence_sent,
        e.requests,
        e.commands,
        e.timers,
        e.transmit,
        e.io,
        e.events,
        e.failures,
        e.capped,
        r.appearances,
        s.mailbox.len(),
        s.mailbox_peak,
    ];
    s.mailbox_peak = s.mailbox.len();
    let mut out: Vec<u64> = row.iter().map(|v| *v as u64).collect();
    out.push(rss_kib("self"));
    out
}

fn virtual_soak(minutes: u64) {
    println!(
        "== virtual time: {minutes} site-minutes of the scale site at {RATE} changes/s, a fault every {FAULT_EVERY} site-minutes from minute {FIRST_FAULT} =="
    );
    let wall = Instant::now();
    let mut s = Soak::new(7);
    let changes_before = s.server.call_changes();
    let mut rows: Vec<(u64, Vec<u64>)> = Vec::new();
    let mut faults = Vec::new();
    // Minute 0: synced, after the first few seconds.
    s.advance(Duration::from_secs(5));
    s.read();
    rows.push((0, sample(&mut s)));
    for minute in 1..=minutes {
        // The site-minute this minute starts at: a fault at FIRST_FAULT, then every FAULT_EVERY.
        let at = minute - 1;
        if at >= FIRST_FAULT && (at - FIRST_FAULT).is_multiple_of(FAULT_EVERY) {
            let what = s.fault(faults.len());
            faults.push((at, what));
        }
        for second in 0..60 {
            s.advance(Duration::from_secs(1));
            if second < 59 {
                s.read();
            }
        }
        // Sampled before the reader's last take of the minute: the mailbox holds a second.
        let row = sample(&mut s);
        s.read();
        rows.push((minute, row));
    }
    // Settle: the reader takes the rest, then the check.
    s.advance(Duration::from_secs(1));
    s.read();
    let changes = s.server.call_changes() - changes_before;
    let real = wall.elapsed();

    print!("{:>6}", "minute");
    for c in COLUMNS {
        print!(" {c:>9}");
    }
    println!();
    for (minute, row) in &rows {
        print!("{minute:>6}");
        for v in row {
            print!(" {v:>9}");
        }
        println!();
    }
    println!("faults (site-minute: what):");
    for (minute, what) in &faults {
        println!("  {minute:>3}: {what}");
    }
    if let (Some((_, first)), Some((_, last))) = (rows.first(), rows.last()) {
        println!("curves (minute 0 -> minute {minutes}; min..max over the run):");
        for (i, c) in COLUMNS.iter().enumerate() {
            let all: Vec<u64> = rows.iter().filter_map(|(_, r)| r.get(i).copied()).collect();
            let lo = all.iter().min().copied().unwrap_or(0);
            let hi = all.iter().max().copied().unwrap_or(0);
            println!(
                "  {c:>9}: {} -> {}  ({lo}..{hi})",
                first.get(i).copied().unwrap_or(0),
                last.get(i).copied().unwrap_or(0)
            );
        }
    }
    let c = s.client.counters();
    let truth = s.pbx_calls();
    let model = model_calls(s.client.model());
    let reader = model_calls(&s.reader);
    println!(
        "{changes} call changes in {minutes} site-minutes ({:.0}/s), {} Notifies, {} acks, {} frames in, {} malformed, {} syncs, {} refused subscriptions, {} failed connections, {} caps reached, {} events folded; {:.1} s of real time",
        changes as f64 / (minutes.max(1) * 60) as f64,
        c.notifies,
        c.acks,
        c.frames_in,
        c.malformed,
        s.syncs,
        s.subscribe_failed,
        s.connect_failed,
        s.capped,
        s.folded,
        real.as_secs_f64()
    );
    let silences: Vec<String> = s
        .silences
        .iter()
        .map(|d| format!("{:.0} s", d.as_secs_f64()))
        .collect();
    println!(
        "a silent PBX was given up and reached again after: {}",
        if silences.is_empty() {
            "(none in this run)".to_owned()
        } else {
            silences.join(", ")
        }
    );
    let acked = c.acks == c.notifies;
    println!(
        "check: every Notify acked: {}; the model holds the simulator's {} calls: {}; the reader's copy too: {}",
        if acked { "yes" } else { "NO" },
        truth.len(),
        if model == truth { "yes" } else { "NO" },
        if reader == truth { "yes" } else { "NO" },
    );
    if model != truth {
        let missing = truth.iter().filter(|x| !model.contains(x)).count();
        let extra = model.iter().filter(|x| !truth.contains(x)).count();
        println!("  the model differs: {missing} missing, {extra} not at the PBX");
    }
}

/// Reads a child's output lines on a thread of its own, sending them on.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            // Keep reading when nobody listens, so the child never blocks on a full pipe.
            let _ = tx.send(line);
        }
    });
    rx
}

/// A child killed and reaped when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tls_soak(minutes: u64) -> Result<(), String> {
    println!(
        "== real TLS: {minutes} minutes of `ipo-top events --json` against `ipo-top sim --scenario scale --rate {RATE}` on 127.0.0.1 =="
    );
    let exe = env!("CARGO_BIN_EXE_ipo-top");
    let scratch = tempfile::tempdir().map_err(|e| format!("a scratch directory: {e}"))?;
    let dir = scratch.path();
    let env = |c: &mut Command| {
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.join("home"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_STATE_HOME", dir.join("state"))
            .stdin(Stdio::null())
            .stderr(Stdio::null());
    };
    let mut cmd = Command::new(exe);
    env(&mut cmd);
    cmd.args(["sim", "--scenario", "scale", "--listen", "127.0.0.1:0"])
        .args([
            "--rate",
            &RATE.to_string(),
            "--seed",
            "7",
            "--heartbeat",
            "0",
        ])
        .arg("--ca-file")
        .arg(dir.join("sim-ca.pem"))
        .arg("--write-config")
        .arg(dir.join("client"))
        .env("IPO_SIM_PASSWORD", "soak-Tr0ub4dor&3-horse")
        .stdout(Stdio::piped());
    let mut sim = Child(cmd.spawn().map_err(|e| format!("the simulator: {e}"))?);
    let out = sim.0.stdout.take().ok_or("the simulator's output")?;
    let sim_lines = lines_of(out);
    let config = loop {
        match sim_lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(path) = line.strip_prefix("client config: ") {
                    break path.trim().to_owned();
                }
            }
            Err(e) => return Err(format!("the simulator did not start: {e}")),
        }
    };
    let mut cmd = Command::new(exe);
    env(&mut cmd);
    cmd.args([
        "--config",
        &config,
        "--log-level",
        "warn",
        "events",
        "--json",
    ])
    .stdout(Stdio::piped());
    let mut client = Child(cmd.spawn().map_err(|e| format!("the client: {e}"))?);
    let out = client.0.stdout.take().ok_or("the client's output")?;
    let events = Arc::new(AtomicU64::new(0));
    let lagged = Arc::new(AtomicU64::new(0));
    {
        let (events, lagged) = (events.clone(), lagged.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                events.fetch_add(1, Ordering::Relaxed);
                if line.contains("\"lagged\"") {
                    lagged.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let (client_pid, sim_pid) = (client.0.id().to_string(), sim.0.id().to_string());
    let start = Instant::now();
    let mut rows = Vec::new();
    println!(
        "{:>6} {:>12} {:>12} {:>12}",
        "minute", "client_kib", "sim_kib", "events"
    );
    for minute in 0..=minutes {
        let at = start + Duration::from_secs(minute * 60);
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        if let Ok(Some(status)) = client.0.try_wait() {
            return Err(format!("the client exited: {status}"));
        }
        let row = (
            rss_kib(&client_pid),
            rss_kib(&sim_pid),
            events.load(Ordering::Relaxed),
        );
        println!("{minute:>6} {:>12} {:>12} {:>12}", row.0, row.1, row.2);
        rows.push(row);
    }
    if let (Some(first), Some(last)) = (rows.get(1).or(rows.first()), rows.last()) {
        println!(
            "client resident memory: {} KiB at minute {} -> {} KiB at minute {minutes} (min..max after the first minute {}..{} KiB); {} event lines, {} lagged lines",
            first.0,
            if rows.len() > 1 { 1 } else { 0 },
            last.0,
            rows.iter().skip(1).map(|r| r.0).min().unwrap_or(0),
            rows.iter().skip(1).map(|r| r.0).max().unwrap_or(0),
            last.2,
            lagged.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

/// A whole number from `--NAME N` on the command line or the environment variable `ENV`.
fn arg(name: &str, env: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    let flag = format!("--{name}");
    args.iter()
        .position(|a| *a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .or_else(|| std::env::var(env).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test --benches` runs this too: only soak under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let minutes = arg("minutes", "SOAK_MINUTES", 60);
    let tls_minutes = arg("tls-minutes", "SOAK_TLS_MINUTES", 10);
    if minutes > 0 {
        virtual_soak(minutes);
    }
    if tls_minutes > 0
        && let Err(e) = tls_soak(tls_minutes)
    {
        println!("real TLS soak failed: {e}");
    }
}
