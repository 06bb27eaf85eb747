//! The binary's edge: configuration, logging, the `check`, `events` and `bench` commands, and the
//! screen's run loop (terminal, keyboard, ticks, the session, `--demo`). The only place (with
//! `main.rs` and `cli`) that knows every module.

pub mod audit;
pub mod bench;
pub mod cert;
pub mod check;
pub mod clock;
pub mod config;
pub mod demo;
pub mod desk;
pub mod events;
pub mod logging;
pub mod nats;
mod pacer;
pub mod private;
pub mod retry;
pub mod serve;
pub mod serve_demo;
mod serve_judge;
pub mod shared;
pub mod simconfig;
pub mod terminal;
pub mod trust;
pub mod tui;
pub mod view_file;

/// Exit codes: one per class of problem, so scripts (and people) know what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: all good.
    Ok,
    /// 1: anything not covered below (see the log).
    Other,
    /// 2: the configuration (or the command line) is wrong.
    Config,
    /// 3: the PBX refused the login (HTTP 401/403).
    Auth,
    /// 4: the PBX's certificate is not trusted.
    Trust,
    /// 5: the PBX cannot be reached (name, refused, unreachable, timed out).
    Unreachable,
    /// 6: no MTCTI3 service there (HTTP 404).
    NotFound,
}

impl Exit {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Other => 1,
            Exit::Config => 2,
            Exit::Auth => 3,
            Exit::Trust => 4,
            Exit::Unreachable => 5,
            Exit::NotFound => 6,
        }
    }
}

/// Writes one line for the person at the terminal on stderr, `tool: line`, cleaned: error
/// messages carry text from files, the network and the PBX, which must not drive the terminal.
pub fn complain(tool: &str, line: &dyn std::fmt::Display) {
    eprintln!("{tool}: {}", crate::ui::text::clean(&line.to_string()));
}

/// The async runtime every long-running command shares: two workers suffice (one socket, one
/// engine) and leave the machine to the terminal. Says so and gives `Exit::Other` if it cannot
/// start.
pub fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            complain(
                "ipo-top",
                &format_args!("cannot start the async runtime: {e}"),
            );
            Exit::Other
        })
}

/// The serving process's runtime: one thread. Its work is small (one socket to the PBX, one
/// to NATS, a write per changed key) and comes in many small pieces; on two workers a profile
/// showed more of its time in waking the other thread than in the work.
pub fn serving_runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            complain(
                "ipo-top serve",
                &format_args!("cannot start the async runtime: {e}"),
            );
            Exit::Other
        })
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}
