//! Logs go to a file in the state directory, never to the terminal (the terminal belongs to
//! the screen, or to one clear line from `check`).
//!
//! The directory is the user's alone (0700) and the files too (0600): logs name the site's
//! users and queues. The file rolls over by size and only a few are kept, so what a hostile or
//! broken PBX makes ipo-top log cannot fill the disk: at most
//! `(KEEP_FILES + 1) * MAX_FILE_BYTES` plus one line.
//!
//! Only this crate's `tracing` events are recorded: no bridge from the `log` crate is installed,
//! because a dependency (the websocket handshake) logs whole requests at trace level, and those
//! carry the Authorization header.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::WorkerGuard;

use super::private::{PrivateError, open_append, own_dir, private_dir};
use crate::ui::text::clean;

/// How many full log files are kept besides the one being written.
pub const KEEP_FILES: usize = 4;

/// How large one log file grows before the next is started.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// The most of one log line that is written; the rest is cut.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// The log file's name; full ones are `ipo-top.log.1` (the newest) to `ipo-top.log.4`.
pub const FILE_NAME: &str = "ipo-top.log";

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
    /// The directory or file could not be made, or is not safe to write.
    #[error("cannot write logs: {0}")]
    Create(#[from] PrivateError),
}

/// The log file, rolled over by size: when the next line would take it past `max_bytes` it
/// becomes `NAME.1`, `NAME.1` becomes `NAME.2` and so on, and the oldest beyond `keep` is
/// dropped.
pub struct SizeRolling {
    dir: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
    keep: usize,
}

impl SizeRolling {
    /// Opens (or creates) `FILE_NAME` in `dir`, which must already be private.
    pub fn open(dir: &Path, max_bytes: u64, keep: usize) -> Result<SizeRolling, PrivateError> {
        let path = dir.join(FILE_NAME);
        let file = open_append(&path)?;
        let written = file.metadata().map_or(0, |m| m.len());
        Ok(SizeRolling {
            dir: dir.to_owned(),
            file,
            written,
            max_bytes,
            keep,
        })
    }

    fn numbered(&self, n: usize) -> PathBuf {
        self.dir.join(format!("{FILE_NAME}.{n}"))
    }

    /// Moves every file one number up (a rename moves a link itself, never what it points
    /// to) and starts a fresh one.
    fn roll(&mut self) -> io::Result<()> {
        for n in (1..self.keep).rev() {
            match std::fs::rename(self.numbered(n), self.numbered(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let current = self.dir.join(FILE_NAME);
        if self.keep == 0 {
            std::fs::remove_file(&current)?;
        } else {
            std::fs::rename(&current, self.numbered(1))?;
        }
        self.file = open_append(&current).map_err(io::Error::other)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for SizeRolling {
    /// Takes one formatted event whole: cut to [`MAX_LINE_BYTES`] and cleaned, so that text
    /// from the PBX in it can neither drive the terminal of whoever reads the log nor forge a
    /// line of its own.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let cut = buf.len() > MAX_LINE_BYTES;
        let raw = String::from_utf8_lossy(buf.get(..MAX_LINE_BYTES).unwrap_or(buf));
        let body = raw.strip_suffix('\n').unwrap_or(&raw);
        let line = clean(body);
        let end: &[u8] = if cut { CUT } else { b"\n" };
        let size = (line.len() + end.len()) as u64;
        if self.written > 0 && self.written + size > self.max_bytes {
            self.roll()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(end)?;
        self.written += size;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// What ends a line that was cut.
const CUT: &[u8] = b" [cut]\n";

/// Starts logging at `level` into `dir` (the state directory when `None`). `Ok(None)` when the
/// level is `off`.
pub fn init(level: LevelFilter, dir: Option<&Path>) -> Result<Option<LogGuard>, LogError> {
    if level == LevelFilter::OFF {
        return Ok(None);
    }
    let dir = match dir {
        Some(d) => {
            private_dir(d)?;
            d.to_owned()
        }
        None => {
            let d = state_dir().ok_or(LogError::NoStateDir)?;
            own_dir(&d)?;
            d
        }
    };
    let file = SizeRolling::open(&dir, MAX_FILE_BYTES, KEEP_FILES)?;
    // Lossy: when the disk is slower than what is logged, lines are dropped, never queued
    // without bound.
    let (writer, guard) = tracing_appender::non_blocking(file);
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_private_roll_over_by_size_and_few_are_kept() {
        let t = tempfile::tempdir().expect("a temporary directory");
        let dir = t.path().join("state");
        private_dir(&dir).expect("made");
        let mut log = SizeRolling::open(&dir, 1000, 2).expect("opened");
        let line = [b'x'; 99];
        for _ in 0..100 {
            log.write_all(&line)
                .and_then(|()| log.write_all(b"\n"))
                .expect("written");
        }
        // A line far past the limit is cut.
        log.write_all(&vec![b'y'; MAX_LINE_BYTES * 4])
            .expect("written");
        log.flush().expect("flushed");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("listed")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["ipo-top.log", "ipo-top.log.1", "ipo-top.log.2"]);
        for name in &names {
            let meta = std::fs::metadata(dir.join(name)).expect("there");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
            assert!(meta.len() <= (MAX_LINE_BYTES + CUT.len()) as u64, "{name}");
        }
        let mode = std::fs::metadata(&dir).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o700));
    }

    #[test]
    fn what_the_pbx_sends_cannot_drive_the_terminal_or_forge_a_line() {
        let t = tempfile::tempdir().expect("a temporary directory");
        let mut log = SizeRolling::open(t.path(), 1000, 2).expect("opened");
        log.write_all(b"version=\"IP Office\x1b]0;pwned\x07\nERROR forged line\"\n")
            .expect("written");
        let text = std::fs::read_to_string(t.path().join(FILE_NAME)).expect("read");
        assert_eq!(text, "version=\"IP Office ERROR forged line\"\n");
    }

    #[test]
    fn a_link_in_place_of_the_log_is_refused() {
        let t = tempfile::tempdir().expect("a temporary directory");
        let victim = t.path().join("victim");
        std::fs::write(&victim, "keep").expect("written");
        std::os::unix::fs::symlink(&victim, t.path().join(FILE_NAME)).expect("linked");
        assert!(matches!(
            SizeRolling::open(t.path(), 1000, 2),
            Err(PrivateError::Link { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(&victim).ok().as_deref(),
            Some("keep")
        );
    }
}
