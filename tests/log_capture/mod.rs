//! What ipo-top would log while a piece of a test runs: a tracing subscriber scoped to that
//! piece, writing plain text into memory. Tracing decides once per log line, for every
//! thread, whether anybody wants it: a test that captures belongs in a binary where no other
//! test logs on another thread at the same time.

use std::sync::{Arc, Mutex};

/// Collects what the log would hold.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `f` returns, and the text it logged at `level` and above.
pub fn log_of<T>(level: tracing::Level, f: impl FnOnce() -> T) -> (T, String) {
    let captured = Capture::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(level)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let log = captured
        .0
        .lock()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    (out, log)
}
