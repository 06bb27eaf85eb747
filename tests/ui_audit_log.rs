//! The log (not the audit log) when a function is sent: it names the function, never the
//! caller. A binary of its own: the log line is captured by a subscriber scoped to this test,
//! and tracing decides once per line, for every thread, whether anybody wants it; other tests
//! sending on their threads without a subscriber could make it decide "nobody".

mod audit_support;
#[path = "cli_support/mod.rs"]
mod support;
mod ui_fixture;

use audit_support::{Recorder, transfer};
use ipo_top::app::audit::{AuditLog, Dispatcher};
use support::Scratch;

/// The log is not the audit log: it says a function was sent, and which, but not the
/// caller's number or name.
#[test]
fn the_log_names_the_function_not_the_caller() {
    use std::sync::{Arc, Mutex};
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
    let s = Scratch::new("audit-log-line");
    let captured = Capture::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let mut d = Dispatcher::new(AuditLog::new(
        Some(s.path("data/ipo-top/audit.jsonl")),
        "msmith",
        "pbx",
    ));
    let (_a, req) = transfer();
    assert!(req.words.contains("02079460958"), "{}", req.words);
    let to = Recorder::default();
    tracing::subscriber::with_default(subscriber, || d.send(req, &to));
    assert_eq!(to.sent.borrow().len(), 1);
    let log = captured
        .0
        .lock()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    assert!(
        log.contains("sending") && log.contains("BlindTransfer"),
        "{log}"
    );
    assert!(
        !log.contains("02079460958") && !log.contains("Harbour"),
        "{log}"
    );
}
