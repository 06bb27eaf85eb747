//! What a hostile PBX makes ipo-top log stays small: a message it should not have sent is
//! logged at warn as a short summary, never as the whole message (frames may be megabytes).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ipo_top::protocol::{Framing, pb};
use ipo_top::session::{Session, SessionConfig};

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

#[test]
fn an_unexpected_megabyte_message_is_logged_as_a_short_summary() {
    let now = Instant::now();
    let mut s = Session::new(SessionConfig::default(), now);
    s.handle_connected(now);
    let huge = pb::Message {
        payload: Some(pb::message::Payload::Subscribe(pb::Subscribe {
            label: "0207946".repeat(150_000),
            ..Default::default()
        })),
    };
    let frame = ipo_top::protocol::encode(&huge, Framing::Framed).unwrap_or_default();
    assert!(frame.len() > 1_000_000);

    let captured = Capture::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    tracing::subscriber::with_default(subscriber, || s.handle_frame(now, &frame));

    assert_eq!(s.counters().unexpected, 1);
    let log = captured
        .0
        .lock()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    assert!(log.contains("unexpected message ignored"), "{log}");
    assert!(log.len() < 2_000, "{} bytes logged", log.len());
}
