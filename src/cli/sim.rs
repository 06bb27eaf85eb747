//! `ipo-top sim`: runs the simulator until Ctrl-C, printing how to connect and a heartbeat.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rand::Rng;

use ipo_top::protocol::Framing;
use ipo_top::sim::Site;
use ipo_top::sim::conn::{ConnConfig, FlowControl};
use ipo_top::sim::server::{self, Clock, Credentials, ServerConfig};
use ipo_top::sim::site::TimeOfDay;
use ipo_top::sim::tls::TlsIdentity;

/// The environment variable that may hold the service user's password.
pub const PASSWORD_ENV: &str = "IPO_SIM_PASSWORD";

/// A site to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Three hunt groups, sixteen agents and a supervisor, busy from the first second.
    Demo,
}

/// Where Notifies wait for their acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flow {
    /// One unacknowledged Notify per connection (the stricter reading of the document).
    Connection,
    /// One unacknowledged Notify per subscription.
    Subscription,
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
    /// Where to write the generated CA certificate, for a client's `ca_file` (default: the
    /// system's temporary directory).
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
    /// Seconds between heartbeat lines (0 for none).
    #[arg(long, default_value_t = 10)]
    pub heartbeat: u64,
    /// Write a client configuration for this simulator into DIR (config.toml, a password file
    /// only you can read, and the CA), so that `ipo-top --config DIR/config.toml check` works.
    #[arg(long, value_name = "DIR")]
    pub write_config: Option<PathBuf>,
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
    let seed = args
        .seed
        .unwrap_or_else(|| rand::rng().random_range(1..1_000_000));
    let site = match args.scenario {
        Scenario::Demo => Site::demo(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let handle = server::start(ServerConfig {
            listen: args.listen,
            site,
            seed,
            time_of_day: args.time_of_day,
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
                ..ConnConfig::default()
            },
            clock: Clock::Real,
            max_connections: args.max_connections,
        })
        .await?;
        let ca_line = match handle.ca_pem() {
            Some(pem) => {
                let path = args.ca_file.clone().unwrap_or_else(|| {
                    std::env::temp_dir().join(format!(
                        "ipo-top-sim-ca-{}.pem",
                        handle.local_addr().port()
                    ))
                });
                std::fs::write(&path, pem).with_context(|| {
                    format!("cannot write the CA certificate to {}", path.display())
                })?;
                path.display().to_string()
            }
            None => "(none generated: --cert given)".to_string(),
        };
        let scenario = match args.scenario {
            Scenario::Demo => "demo",
        };
        println!(
            "ipo-top sim: scenario {scenario}, seed {seed}, site clock {}",
            args.time_of_day
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
        println!("Ctrl-C stops the simulator.");
        let every = Duration::from_secs(args.heartbeat.max(1));
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                r = tokio::signal::ctrl_c() => {
                    r.context("cannot wait for Ctrl-C")?;
                    break;
                }
                _ = beat.tick(), if args.heartbeat > 0 => {
                    let s = handle.stats().await?;
                    let site = s.site;
                    println!(
                        "{} waiting {} (longest {}) ringing {} talking {} acw {} parked {} | answered {} abandoned {} overflowed {} | connections {}",
                        site.time_of_day,
                        site.waiting,
                        mmss(site.longest_wait),
                        site.ringing,
                        site.talking,
                        site.acw,
                        site.parked,
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
        Ok(())
    })
}
