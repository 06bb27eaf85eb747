//! `ipo-top sim`: runs the simulator until Ctrl-C, printing how to connect and a heartbeat.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rand::Rng;

use ipo_top::protocol::Framing;
use ipo_top::sim::Site;
use ipo_top::sim::conn::{ConnConfig, FaultSettings, FlowControl};
use ipo_top::sim::pbx::{DropCallMode, FunctionPolicy, Unoffered};
use ipo_top::sim::scale::ScaleOptions;
use ipo_top::sim::script::Script;
use ipo_top::sim::server::{self, Clock, CommandLog, Credentials, Fault, SendStamp, ServerConfig};
use ipo_top::sim::site::TimeOfDay;
use ipo_top::sim::tls::TlsIdentity;

/// The environment variable that may hold the service user's password.
pub const PASSWORD_ENV: &str = "IPO_SIM_PASSWORD";

/// A site to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Three hunt groups, sixteen agents and a supervisor, busy from the first second.
    Demo,
    /// 3000 users, 150 groups, 2000 calls in progress, `--rate` call changes per second: for
    /// benchmarks.
    Scale,
}

/// Where Notifies wait for their acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flow {
    /// One unacknowledged Notify per connection (the stricter reading of the document).
    Connection,
    /// One unacknowledged Notify per subscription.
    Subscription,
}

/// What a call function the call does not offer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnofferedArg {
    /// 609 INVALIDCALLSTATE (616 for functions the document says are not supported).
    Refuse,
    /// SUCCESS, and nothing is done ("the Action will be ignored", as the document says).
    Ignore,
}

/// What DropCall does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DropCallArg {
    /// Drops the call.
    Drop,
    /// Answers SUCCESS and leaves the call as it is (the document says it may).
    NoEffect,
}

/// A one-shot fault at a time after the start, maybe repeated: `KIND@SECONDS[/EVERY]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduledFault {
    /// The fault.
    pub fault: Fault,
    /// Seconds after the start.
    pub at: f64,
    /// Repeat every so many seconds.
    pub every: Option<f64>,
}

/// The latest a fault may be scheduled, in seconds (a year).
const MAX_SECS: f64 = 365.0 * 86_400.0;

/// The highest `--rate` (changes per second) the scale site is asked for.
const MAX_RATE: f64 = 200_000.0;

const FAULT_KINDS: &str =
    "close, abort, malformed-frame, undecodable, terminate-subscriptions, restart";

impl FromStr for ScheduledFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "`{s}`: write KIND@SECONDS or KIND@SECONDS/EVERY, e.g. abort@30 or restart@60/300; KIND is one of {FAULT_KINDS}"
            )
        };
        let (kind, when) = s.split_once('@').ok_or_else(usage)?;
        let fault = match kind {
            "close" => Fault::Close,
            "abort" => Fault::Abort,
            "malformed-frame" => Fault::MalformedFrame,
            "undecodable" => Fault::UndecodablePayload,
            "terminate-subscriptions" => Fault::TerminateSubscriptions,
            "restart" => Fault::Restart,
            _ => return Err(usage()),
        };
        let (at, every) = match when.split_once('/') {
            Some((at, every)) => (at, Some(every)),
            None => (when, None),
        };
        // Up to a year: later would overflow the clock and cannot be meant.
        let secs = |t: &str| -> Result<f64, String> {
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && (0.0..=MAX_SECS).contains(v))
                .ok_or_else(usage)
        };
        let every = every.map(secs).transpose()?;
        if every.is_some_and(|e| e <= 0.0) {
            return Err(usage());
        }
        Ok(ScheduledFault {
            fault,
            at: secs(at)?,
            every,
        })
    }
}

/// Options of `ipo-top sim`. The password never comes from a flag, so it stays out of the
/// process list: it is read from `--password-file`, else from `IPO_SIM_PASSWORD`, else a fresh
/// one is made up and printed.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// The site to simulate.
    #[arg(long, value_enum, default_value_t = Scenario::Demo)]
    pub scenario: Scenario,
    /// Seed of the site's randomness: the same seed gives the same day (random when omitted).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The site's clock at start, HH:MM or HH:MM:SS (10:30 is the morning peak).
    #[arg(long, default_value = "10:30")]
    pub time_of_day: TimeOfDay,
    /// With --scenario scale: call changes per second across the site (about one Notify each
    /// for a client subscribed to every user and group). 0: the site stands still once its
    /// calls are in place (nothing arrives, changes or ends), for measuring a client at rest.
    #[arg(long, default_value_t = 500.0, value_name = "CHANGES_PER_SEC")]
    pub rate: f64,
    /// Run a script instead of a scenario: a TOML file of calls and events at fixed times
    /// (format in the ipo_top::sim::script docs), or `e2e` for the built-in one. The script
    /// sets the site, seed and clock; nothing random happens.
    #[arg(long, value_name = "FILE|e2e")]
    pub script: Option<String>,
    /// Write every SubscribeCmd received, with its result, to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub command_log: Option<PathBuf>,
    /// The service user's name.
    #[arg(long, default_value = "ipo-top")]
    pub username: String,
    /// Read the service user's password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Serve this certificate chain (PEM, server certificate first) instead of generating one.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Where to write the generated CA certificate, for a client's `ca_file` (default: a
    /// private directory of this run's own in the system's temporary directory, removed when
    /// the simulator stops).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Another host name or address to put in the generated certificate (repeatable).
    #[arg(long = "hostname", value_name = "NAME")]
    pub hostnames: Vec<String>,
    /// Where Notifies wait for their NotifyAck.
    #[arg(long, value_enum, default_value_t = Flow::Connection)]
    pub flow_control: Flow,
    /// MTCTI3 connections allowed at once (IP Office allows 10).
    #[arg(long, default_value_t = 10)]
    pub max_connections: usize,
    /// What a call function gets when the call does not offer it (its featuresavailable bit
    /// is clear, or the line type is wrong).
    #[arg(long, value_enum, default_value_t = UnofferedArg::Refuse)]
    pub unoffered: UnofferedArg,
    /// What DropCall does: drop, or answer SUCCESS and leave the call (clients must believe
    /// the Notifies, not the responses).
    #[arg(long, value_enum, default_value_t = DropCallArg::Drop)]
    pub drop_call: DropCallArg,
    /// Fault: one request in N gets no RequestResponse at all (1: none does).
    #[arg(long, value_name = "N")]
    pub unanswered_every: Option<u32>,
    /// Fault: RequestResponses (and GeneralData) are sent this many milliseconds late (up to
    /// a day).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub response_delay: Option<u64>,
    /// Fault: everything sent is held this many milliseconds (up to a day).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub latency: Option<u64>,
    /// Fault: with N requests awaiting their (delayed) response, more are refused with TOOMANY.
    #[arg(long, value_name = "N")]
    pub max_outstanding: Option<usize>,
    /// Fault at a time after the start, every connection: KIND@SECONDS or KIND@SECONDS/EVERY
    /// (repeatable). KIND: close, abort, malformed-frame, undecodable,
    /// terminate-subscriptions, restart.
    #[arg(long = "fault", value_name = "KIND@SECONDS[/EVERY]")]
    pub faults: Vec<ScheduledFault>,
    /// Seconds between heartbeat lines (0 for none).
    #[arg(long, default_value_t = 10)]
    pub heartbeat: u64,
    /// Write a client configuration for this simulator into DIR (config.toml, a password file
    /// only you can read, and the CA), so that `ipo-top --config DIR/config.toml check` works.
    #[arg(long, value_name = "DIR")]
    pub write_config: Option<PathBuf>,
    /// For `ipo-top bench`: print `opened connection, N open` for each MTCTI3 connection and
    /// `first sent GCID at NS` the first time a Notify carries a call (NS: CLOCK_MONOTONIC in
    /// nanoseconds, comparable with another process's on the same Linux machine).
    #[arg(long)]
    pub stamp_sends: bool,
}

fn read_password_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim_end();
    if line.is_empty() {
        bail!(
            "the password file {} is empty: put the password on its first line",
            path.display()
        );
    }
    Ok(line.to_string())
}

/// The password and where it came from.
fn password(args: &SimArgs) -> Result<(String, String)> {
    if let Some(path) = &args.password_file {
        return Ok((
            read_password_file(path)?,
            format!("from {}", path.display()),
        ));
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => return Ok((p, format!("from {PASSWORD_ENV}"))),
        Ok(_) => bail!("{PASSWORD_ENV} is set but empty: unset it or give a password"),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{PASSWORD_ENV} is not valid UTF-8"),
        Err(std::env::VarError::NotPresent) => {}
    }
    let fresh: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    Ok((fresh.clone(), fresh))
}

fn tls_identity(args: &SimArgs) -> Result<TlsIdentity> {
    match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let cert_pem = std::fs::read(cert)
                .with_context(|| format!("cannot read the certificate {}", cert.display()))?;
            let key_pem = std::fs::read(key)
                .with_context(|| format!("cannot read the key {}", key.display()))?;
            Ok(TlsIdentity::from_pem(&cert_pem, &key_pem)?)
        }
        _ => {
            let mut hosts = args.hostnames.clone();
            hosts.push(args.listen.ip().to_string());
            Ok(TlsIdentity::generate(&hosts)?)
        }
    }
}

fn mmss(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// The site, seed and clock to run: a script's, or the scenario's.
fn site(args: &SimArgs) -> Result<(Site, u64, TimeOfDay, Option<Script>, String)> {
    if let Some(which) = &args.script {
        let script = if which == "e2e" {
            Script::e2e()?
        } else {
            let text = std::fs::read_to_string(which)
                .with_context(|| format!("cannot read the script {which}"))?;
            Script::parse(&text).with_context(|| format!("in the script {which}"))?
        };
        let site = script.build_site()?;
        let tod = script.time_of_day()?;
        let seed = script.site.seed;
        return Ok((site, seed, tod, Some(script), format!("script {which}")));
    }
    let seed = args
        .seed
        .unwrap_or_else(|| rand::rng().random_range(1..1_000_000));
    match args.scenario {
        Scenario::Demo => Ok((Site::demo(), seed, args.time_of_day, None, "demo".into())),
        Scenario::Scale => {
            if !(args.rate.is_finite() && (0.0..=MAX_RATE).contains(&args.rate)) {
                bail!(
                    "--rate {} must be 0 to {MAX_RATE} changes per second",
                    args.rate
                );
            }
            let opts = ScaleOptions {
                changes_per_sec: args.rate,
                ..ScaleOptions::default()
            };
            let name = format!(
                "scale ({} users, {} groups, ~{} calls, ~{} changes/s)",
                opts.users, opts.queues, opts.calls, args.rate
            );
            Ok((Site::scale(opts), seed, args.time_of_day, None, name))
        }
    }
}

fn fault_settings(args: &SimArgs) -> FaultSettings {
    FaultSettings {
        unanswered_every: args.unanswered_every.unwrap_or(0),
        response_delay: Duration::from_millis(args.response_delay.unwrap_or(0)),
        latency: Duration::from_millis(args.latency.unwrap_or(0)),
        max_outstanding: args.max_outstanding,
    }
}

/// The next scheduled fault due: (when, index into the list).
fn next_fault(schedule: &[(Instant, ScheduledFault)]) -> Option<(Instant, usize)> {
    schedule
        .iter()
        .enumerate()
        .map(|(i, (at, _))| (*at, i))
        .min()
}

/// Runs the simulator until Ctrl-C.
pub fn run(args: SimArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let (password, shown) = password(&args)?;
    let client_password = args.write_config.as_ref().map(|_| password.clone());
    let tls = tls_identity(&args)?;
    let (site, seed, time_of_day, script, scenario) = site(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let built = Instant::now();
        let handle = server::start(ServerConfig {
            listen: args.listen,
            site,
            seed,
            time_of_day,
            credentials: Credentials {
                username: args.username.clone(),
                password,
            },
            tls,
            conn: ConnConfig {
                flow: match args.flow_control {
                    Flow::Connection => FlowControl::PerConnection,
                    Flow::Subscription => FlowControl::PerSubscription,
                },
                functions: FunctionPolicy {
                    unoffered: match args.unoffered {
                        UnofferedArg::Refuse => Unoffered::Refuse,
                        UnofferedArg::Ignore => Unoffered::Ignore,
                    },
                    drop_call: match args.drop_call {
                        DropCallArg::Drop => DropCallMode::Drop,
                        DropCallArg::NoEffect => DropCallMode::NoEffect,
                    },
                },
                faults: fault_settings(&args),
                ..ConnConfig::default()
            },
            clock: Clock::Real,
            max_connections: args.max_connections,
            script,
            command_log: args.command_log.clone().map(CommandLog::File),
        })
        .await?;
        let startup = built.elapsed();
        // Without --ca-file the CA goes into a directory of this run's own (0700, a name
        // nobody can guess), removed when the simulator stops: a fixed name in the shared
        // temporary directory could be a link or a CA someone else put there.
        let mut ca_dir = None;
        let ca_line = match handle.ca_pem() {
            Some(pem) => {
                let path = match &args.ca_file {
                    Some(p) => p.clone(),
                    None => {
                        let mut builder = tempfile::Builder::new();
                        builder.prefix("ipo-top-sim-");
                        // tempfile makes directories with the umask's mode: ask for 0700.
                        #[cfg(unix)]
                        {
                            use std::os::unix::fs::PermissionsExt;
                            builder.permissions(std::fs::Permissions::from_mode(0o700));
                        }
                        let dir = builder
                            .tempdir()
                            .context("cannot make a private directory for the CA certificate")?;
                        let path = dir.path().join("ca.pem");
                        ca_dir = Some(dir);
                        path
                    }
                };
                ipo_top::app::simconfig::write_private(&path, pem).with_context(|| {
                    format!("cannot write the CA certificate to {}", path.display())
                })?;
                path.display().to_string()
            }
            None => "(none generated: --cert given)".to_string(),
        };
        println!(
            "ipo-top sim: {scenario}, seed {seed}, site clock {time_of_day}, ready in {} ms",
            startup.as_millis()
        );
        println!(
            "listening: {} (and {})",
            handle.url(Framing::Framed),
            handle.url(Framing::NoFraming)
        );
        println!("username: {}", handle.username());
        println!("password: {shown}");
        println!("ca_file: {ca_line}");
        println!("fingerprint: {}", handle.fingerprint());
        if let (Some(dir), Some(pw)) = (&args.write_config, &client_password) {
            let written = ipo_top::app::simconfig::write(
                dir,
                &ipo_top::app::simconfig::SimAccess {
                    listen: handle.local_addr(),
                    username: handle.username(),
                    password: pw,
                    ca_pem: handle.ca_pem(),
                    fingerprint: handle.fingerprint(),
                },
            )
            .with_context(|| format!("cannot write a client configuration into {}", dir.display()))?;
            println!("client config: {}", written.config.display());
        }
        if let Some(log) = &args.command_log {
            println!("command log: {}", log.display());
        }
        if args.stamp_sends {
            let mut stamps = handle.send_stamps().await?;
            tokio::spawn(async move {
                while let Some(s) = stamps.recv().await {
                    match s {
                        SendStamp::Opened { open } => {
                            println!("opened connection, {open} open");
                        }
                        SendStamp::FirstSent { gcid, monotonic_ns } => {
                            println!("first sent {gcid} at {monotonic_ns}");
                        }
                    }
                }
            });
        }
        println!("Ctrl-C stops the simulator.");
        let start = tokio::time::Instant::now();
        let mut schedule: Vec<(Instant, ScheduledFault)> = args
            .faults
            .iter()
            .map(|f| (start.into_std() + Duration::from_secs_f64(f.at.min(MAX_SECS)), *f))
            .collect();
        let every = Duration::from_secs(args.heartbeat.max(1));
        let mut beat = tokio::time::interval_at(start + every, every);
        loop {
            let due = next_fault(&schedule);
            let fault_sleep = async move {
                match due {
                    Some((at, _)) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = tokio::signal::ctrl_c() => {
                    r.context("cannot wait for Ctrl-C")?;
                    break;
                }
                () = fault_sleep => {
                    let Some((_, i)) = due else { continue };
                    let Some((at, f)) = schedule.get(i).copied() else { continue };
                    let n = handle.fault(f.fault).await?;
                    println!("fault {:?}: {n} touched", f.fault);
                    match f.every {
                        Some(e) => {
                            if let Some(slot) = schedule.get_mut(i) {
                                slot.0 = at + Duration::from_secs_f64(e.min(MAX_SECS));
                            }
                        }
                        None => {
                            schedule.remove(i);
                        }
                    }
                }
                _ = beat.tick(), if args.heartbeat > 0 => {
                    let s = handle.stats().await?;
                    let site = s.site;
                    println!(
                        "{} waiting {} (longest {}) ringing {} talking {} acw {} parked {} calls {} | answered {} abandoned {} overflowed {} | connections {}",
                        site.time_of_day,
                        site.waiting,
                        mmss(site.longest_wait),
                        site.ringing,
                        site.talking,
                        site.acw,
                        site.parked,
                        site.calls,
                        site.answered,
                        site.abandoned,
                        site.overflowed,
                        s.connections,
                    );
                }
            }
        }
        println!("stopping");
        handle.stop().await;
        // The CA's private directory goes with the simulator.
        drop(ca_dir);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_faults_read_kind_time_and_period() {
        let f: ScheduledFault = "abort@30".parse().expect("abort");
        assert_eq!((f.fault, f.at, f.every), (Fault::Abort, 30.0, None));
        let f: ScheduledFault = "restart@60/300".parse().expect("restart");
        assert_eq!(
            (f.fault, f.at, f.every),
            (Fault::Restart, 60.0, Some(300.0))
        );
        let f: ScheduledFault = "terminate-subscriptions@0.5".parse().expect("terminate");
        assert_eq!(f.fault, Fault::TerminateSubscriptions);
        for bad in [
            "abort",
            "explode@3",
            "close@-1",
            "close@x",
            "close@3/0",
            "close@1e30",
        ] {
            let e = bad.parse::<ScheduledFault>().expect_err(bad);
            assert!(e.contains("KIND@SECONDS"), "{bad}: {e}");
        }
    }
}
