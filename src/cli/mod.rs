//! The command line: one subcommand per tool. The binary's edge: it may use every module, and
//! turns errors into one clear message and a failing exit code.

pub mod bench;
pub mod sim;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing::level_filters::LevelFilter;

use ipo_top::app::{self, Exit, config, logging};
use ipo_top::model::ScopeAgents;

/// ipo-top: a terminal dashboard for call-centre supervisors on Avaya IP Office (MTCTI3).
///
/// Without a subcommand, shows the screen for the PBX in the configuration file; with --demo,
/// for a simulated call centre run in this process (no configuration, no PBX).
#[derive(Debug, Parser)]
#[command(name = "ipo-top", version, about, long_about = None)]
pub struct Cli {
    /// Show a simulated call centre (the simulator's demo, run in this process over the real
    /// client path): no configuration and no PBX needed.
    #[arg(long, conflicts_with = "config")]
    pub demo: bool,
    /// The configuration file (default: ~/.config/ipo-top/config.toml, or your system's
    /// equivalent).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// How much to log: off, error, warn, info, debug or trace. Logs go to ipo-top.log in the
    /// state directory (e.g. ~/.local/state/ipo-top; owner-only, rolled over at 10 MiB, four
    /// older files kept), never to the terminal.
    #[arg(long, global = true, value_name = "LEVEL", default_value = "info")]
    pub log_level: LevelFilter,
    /// Hide and block every call function: nothing is ever sent to change a call, a queue or a
    /// user (as `[ui] read_only = true` in the configuration).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Watch only this queue (its name or number; repeat for more): only it, its members, your
    /// own line and the park server are subscribed. Replaces `[scope] queues` for this run.
    #[arg(long = "queue", global = true, value_name = "NAME")]
    pub queues: Vec<String>,
    /// Which agents to watch: `members` (of the queues in scope; the default with --queue),
    /// `all`, or extensions such as 4101,4102. Replaces `[scope] agents` for this run.
    #[arg(long, global = true, value_name = "members|all|EXTNS", value_parser = config::parse_agents)]
    pub agents: Option<ScopeAgents>,
    /// Shared mode: show the site from NATS (`[shared]` in the configuration), as an
    /// `ipo-top serve` publishes it, instead of connecting to the PBX. For the screen, `check`
    /// and `events`.
    #[arg(long, global = true)]
    pub shared: bool,
    /// What to run (the screen when none is given).
    #[command(subcommand)]
    pub command: Option<Tool>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Tool {
    /// Connect, log in, subscribe to every user and queue in scope, print one line (with what
    /// is in scope) and exit. Exit codes:
    /// 0 ok, 1 other, 2 configuration, 3 login refused, 4 certificate not trusted,
    /// 5 unreachable, 6 no MTCTI3 (HTTP 404).
    Check(CheckArgs),
    /// Print every change (users, queues, calls, the connection) as one JSON object per line,
    /// until interrupted.
    Events(EventsArgs),
    /// Run an IP Office simulator: a living call centre served over MTCTI3 (wss), for trying
    /// ipo-top without a PBX.
    Sim(Box<sim::SimArgs>),
    /// Measure what the screen costs at PBX scale: starts the scale simulator (3000 users,
    /// 150 queues, ~2000 calls) as a child, runs the dashboard headless against it next to a
    /// bare client and `events --json`, and prints one table with the targets beside.
    Bench(bench::BenchArgs),
    /// The wallboard: one tile per queue in scope (waiting calls and the longest wait in large
    /// digits, the alert level, service level, answered and abandoned, agents, the waiting
    /// trend), filling the terminal; the pages turn every `[wall] rotate_secs` when the tiles
    /// do not fit. Always read-only; q quits. With --demo, the simulated call centre's.
    Wall(WallArgs),
    /// Shared mode's serving process: hold the site's one MTCTI3 connection (while it holds
    /// the site's lock in NATS) and publish the model into NATS JetStream for `--shared`
    /// viewers (`[shared]` in the configuration).
    Serve(ServeArgs),
    /// Trust the PBX's certificate on first use: complete only a TLS handshake (nothing is sent,
    /// no password), show the certificate's subject, issuer, validity and SHA-256 fingerprint,
    /// and pin it in the configuration file when you type yes.
    Trust(TrustArgs),
}

/// Options of `ipo-top trust`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Trust the secondary system (`[pbx] secondary`) instead: the pin goes in
    /// `[tls] secondary_fingerprint`.
    #[arg(long)]
    pub secondary: bool,
}

/// Options of `ipo-top wall`.
#[derive(Debug, Args)]
pub struct WallArgs {
    /// The simulated call centre (as `ipo-top --demo`) instead of the configured PBX.
    #[arg(long)]
    pub demo: bool,
}

/// Options of `ipo-top serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve the simulator's demo call centre (run in this process) through a nats-server
    /// started on loopback for it: no configuration, no PBX.
    #[arg(long)]
    pub demo: bool,
}

/// Options of `ipo-top check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

/// Options of `ipo-top events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Write JSON lines (the only format).
    #[arg(long, required = true)]
    pub json: bool,
}

/// Parses the command line and runs the subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if cli.demo && cli.command.is_some() {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--demo shows the screen against a simulated call centre; it takes no subcommand",
            )
            .exit();
    }
    let scope = config::ScopeFlags {
        queues: cli.queues.clone(),
        agents: cli.agents.clone(),
    };
    let Some(command) = cli.command else {
        if cli.shared && cli.demo {
            app::complain(
                "ipo-top",
                &"--shared shows a site through NATS; for the demo of shared mode run \
                  `ipo-top serve --demo` and follow what it prints",
            );
            return Exit::Config.into();
        }
        let target = if cli.shared {
            app::tui::Target::Shared(cli.config)
        } else if cli.demo {
            app::tui::Target::Demo
        } else {
            app::tui::Target::Config(cli.config)
        };
        return app::tui::run(target, cli.log_level, cli.read_only, &scope).into();
    };
    match command {
        Tool::Sim(args) => match sim::run(*args) {
            Ok(()) => Exit::Ok,
            Err(e) => {
                app::complain("ipo-top", &format_args!("{e:#}"));
                Exit::Other
            }
        },
        Tool::Serve(args) => serve(&cli.config, cli.log_level, args.demo),
        Tool::Check(args) if cli.shared => with_shared(
            cli.config.as_deref(),
            cli.log_level,
            &scope,
            |shared, _, rt| {
                let (exit, line) = rt.block_on(app::shared::check(
                    shared,
                    Duration::from_secs(args.timeout),
                ));
                if exit == Exit::Ok {
                    println!("{line}");
                } else {
                    app::complain("ipo-top check", &line);
                }
                exit
            },
        ),
        Tool::Events(_) if cli.shared => with_shared(
            cli.config.as_deref(),
            cli.log_level,
            &scope,
            |shared, scope, rt| {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                let (exit, line) = rt.block_on(app::shared::events(shared, scope, &mut out));
                if let Some(line) = line {
                    app::complain("ipo-top events", &line);
                }
                exit
            },
        ),
        Tool::Check(args) => with_session(
            cli.config.as_deref(),
            cli.log_level,
            (cli.read_only, &scope),
            |cfg, rt| {
                let outcome = rt.block_on(app::check::run(cfg, Duration::from_secs(args.timeout)));
                if outcome.exit == Exit::Ok {
                    println!("{}", outcome.line);
                } else {
                    app::complain("ipo-top check", &outcome.line);
                }
                outcome.exit
            },
        ),
        Tool::Bench(args) => bench::run(&args, cli.log_level, cli.shared),
        Tool::Wall(args) => {
            let target = if cli.shared {
                // The serving side's levels and trends, like every --shared screen.
                app::tui::Target::Shared(cli.config)
            } else if args.demo {
                app::tui::Target::Demo
            } else {
                app::tui::Target::Config(cli.config)
            };
            app::tui::run_wall(target, cli.log_level, &scope)
        }
        Tool::Trust(args) => trust(cli.config.as_deref(), args.secondary),
        Tool::Events(_) => with_session(
            cli.config.as_deref(),
            cli.log_level,
            (cli.read_only, &scope),
            |cfg, rt| {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                let (exit, line) = rt.block_on(app::events::run(cfg, &mut out));
                if let Some(line) = line {
                    app::complain("ipo-top events", &line);
                }
                exit
            },
        ),
    }
    .into()
}

/// `ipo-top serve`: the configured PBX, or (`--demo`) the simulator, published into NATS.
fn serve(path: &Option<PathBuf>, level: LevelFilter, demo: bool) -> Exit {
    let target = if demo {
        None
    } else {
        let cfg = match config::load(path.as_deref()).and_then(|c| c.require_pbx().map(|()| c)) {
            Ok(c) => c,
            Err(e) => {
                app::complain("ipo-top serve", &e);
                return Exit::Config;
            }
        };
        let Some(shared) = cfg.shared.clone() else {
            app::complain(
                "ipo-top serve",
                &format_args!(
                    "{}: no [shared] table: add one with nats and site (see config.example.toml)",
                    cfg.path.display()
                ),
            );
            return Exit::Config;
        };
        Some(app::serve::ServeTarget {
            shared,
            endpoint: cfg.endpoint.clone(),
            session: cfg.session.clone(),
            audit: app::audit::default_path(),
            alerts: cfg.alerts.clone(),
        })
    };
    let _log = logging::init(level, None).ok().flatten();
    let rt = match app::serving_runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let result = rt.block_on(async {
        match target {
            None => app::serve_demo::run().await,
            Some(t) => {
                app::serve::run(t, app::events::interrupted(), |line| {
                    eprintln!("ipo-top serve: {line}");
                })
                .await
            }
        }
    });
    rt.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            app::complain("ipo-top serve", &format_args!("{e:#}"));
            Exit::Other
        }
    }
}

/// Loads the configuration's `[shared]`, starts logging and a runtime, and runs `f`.
fn with_shared(
    path: Option<&Path>,
    level: LevelFilter,
    scope: &config::ScopeFlags,
    f: impl FnOnce(&config::SharedSettings, &ipo_top::model::Scope, &tokio::runtime::Runtime) -> Exit,
) -> Exit {
    let mut cfg = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            app::complain("ipo-top", &e);
            return Exit::Config;
        }
    };
    cfg.override_scope(scope);
    let Some(shared) = cfg.shared.clone() else {
        app::complain(
            "ipo-top",
            &format_args!(
                "{}: --shared needs a [shared] table with nats and site (see config.example.toml)",
                cfg.path.display()
            ),
        );
        return Exit::Config;
    };
    let _log = logging::init(level, None).ok().flatten();
    let rt = match app::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let exit = f(&shared, &cfg.session.scope, &rt);
    rt.shutdown_timeout(Duration::from_millis(500));
    exit
}

/// `ipo-top trust`: needs the host and port only (no password, no log).
fn trust(path: Option<&Path>, secondary: bool) -> Exit {
    let target = match config::trust_target(path, secondary) {
        Ok(t) => t,
        Err(e) => {
            app::complain("ipo-top", &e);
            return Exit::Config;
        }
    };
    let rt = match app::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    let (exit, line) = rt.block_on(app::trust::run(&target, &mut input, &mut out));
    if let Some(line) = line {
        app::complain("ipo-top trust", &line);
    }
    exit
}

/// Loads the configuration, starts logging and a runtime, and runs `f`.
fn with_session(
    path: Option<&Path>,
    level: LevelFilter,
    (read_only, scope): (bool, &config::ScopeFlags),
    f: impl FnOnce(&config::Config, &tokio::runtime::Runtime) -> Exit,
) -> Exit {
    let mut cfg = match config::load(path).and_then(|c| c.require_pbx().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            app::complain("ipo-top", &e);
            return Exit::Config;
        }
    };
    let _log = match logging::init(level, None) {
        Ok(guard) => guard,
        Err(e) => {
            app::complain("ipo-top", &format_args!("{e} (carrying on without a log)"));
            None
        }
    };
    cfg.session.read_only = cfg.read_only(read_only);
    cfg.override_scope(scope);
    tracing::info!(config = %cfg.path.display(), host = %cfg.endpoint.host, "starting");
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let rt = match app::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let exit = f(&cfg, &rt);
    // Do not wait for stray tasks (a courtesy websocket close) beyond a moment.
    rt.shutdown_timeout(Duration::from_millis(500));
    exit
}
