//! The log (not the audit log) when a function is sent: it names the function, never the
//! caller. A binary of its own, as `log_capture` asks: the other audit tests send on their
//! threads without a subscriber.

mod audit_support;
mod log_capture;
#[path = "cli_support/mod.rs"]
mod support;
mod ui_fixture;

use audit_support::{Recorder, transfer};
use ipo_top::app::audit::{AuditLog, Dispatcher};
use log_capture::log_of;
use support::Scratch;

/// The log is not the audit log: it says a function was sent, and which, but not the
/// caller's number or name.
#[test]
fn the_log_names_the_function_not_the_caller() {
    let s = Scratch::new("audit-log-line");
    let mut d = Dispatcher::new(AuditLog::new(
        Some(s.path("data/ipo-top/audit.jsonl")),
        "msmith",
        "pbx",
    ));
    let (_a, req) = transfer();
    assert!(req.words.contains("02079460958"), "{}", req.words);
    let to = Recorder::default();
    let (_, log) = log_of(tracing::Level::TRACE, || d.send(req, &to));
    assert_eq!(to.sent.borrow().len(), 1);
    assert!(
        log.contains("sending") && log.contains("BlindTransfer"),
        "{log}"
    );
    assert!(
        !log.contains("02079460958") && !log.contains("Harbour"),
        "{log}"
    );
}
