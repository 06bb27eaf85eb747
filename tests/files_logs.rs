//! What a hostile PBX makes ipo-top log stays small: a message it should not have sent is
//! logged at warn as a short summary, never as the whole message (frames may be megabytes).

mod log_capture;

use std::time::Instant;

use ipo_top::protocol::{Framing, pb};
use ipo_top::session::{Session, SessionConfig};
use log_capture::log_of;

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

    let (_, log) = log_of(tracing::Level::DEBUG, || s.handle_frame(now, &frame));
    assert_eq!(s.counters().unexpected, 1);
    assert!(log.contains("unexpected message ignored"), "{log}");
    assert!(log.len() < 2_000, "{} bytes logged", log.len());
}
