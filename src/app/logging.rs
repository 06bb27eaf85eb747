//! Logs go to a rolling file in the state directory, never to the terminal (the terminal
//! belongs to the screen, or to one clear line from `check`).
//!
//! Only this crate's `tracing` events are recorded: no bridge from the `log` crate is installed,
//! because a dependency (the websocket handshake) logs whole requests at trace level, and those
//! carry the Authorization header.

use std::path::{Path, PathBuf};

use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};

/// How many daily log files are kept.
pub const KEEP_FILES: usize = 7;

/// The log file name prefix (files are `ipo-top.YYYY-MM-DD.log`).
pub const FILE_PREFIX: &str = "ipo-top";

/// The state directory logs go to: `$XDG_STATE_HOME/ipo-top` (`~/.local/state/ipo-top`) on
/// Linux, the local data directory elsewhere.
pub fn state_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "ipo-top")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_owned(),
    )
}

/// Keeps the log writer alive; dropping it flushes what is buffered.
pub struct LogGuard {
    _guard: WorkerGuard,
    /// Where the logs go.
    pub dir: PathBuf,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// No state directory could be determined.
    #[error("cannot tell where to write logs (no home directory?)")]
    NoStateDir,
    /// The directory or file could not be made.
    #[error("cannot write logs in {dir}: {reason}")]
    Create {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Starts logging at `level` into `dir` (the state directory when `None`). `Ok(None)` when the
/// level is `off`.
pub fn init(level: LevelFilter, dir: Option<&Path>) -> Result<Option<LogGuard>, LogError> {
    if level == LevelFilter::OFF {
        return Ok(None);
    }
    let dir = match dir {
        Some(d) => d.to_owned(),
        None => state_dir().ok_or(LogError::NoStateDir)?,
    };
    std::fs::create_dir_all(&dir).map_err(|e| LogError::Create {
        dir: dir.clone(),
        reason: e.to_string(),
    })?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(&dir)
        .map_err(|e| LogError::Create {
            dir: dir.clone(),
            reason: e.to_string(),
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    // Other crates' tracing events at warn and above; ours at the chosen level.
    let filter = tracing_subscriber::EnvFilter::new(format!("warn,ipo_top={level}"));
    let installed = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    if installed.is_err() {
        // A subscriber is already set (a second start in one process): keep it.
        tracing::debug!("logging already initialised");
    }
    Ok(Some(LogGuard { _guard: guard, dir }))
}
