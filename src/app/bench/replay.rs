//! The sans-IO replay: the Notifies the bare client recorded, fed through the session engine,
//! the model and `App::update`, with no socket, TLS or drawing, next to plain `prost` decoding
//! of the same frames. The engine subscribes as it always does; a stand-in PBX answers every
//! Subscribe with success, and each recorded Notify is sent on the engine's own subscription
//! for the same line. The site's first picture is taken in untimed, in one update; the traffic after it is
//! timed, Notify by Notify as the real loop would get it (ticks left out), by this thread's
//! CPU clock, as is the decoding.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prost::Message as _;

use super::BenchError;
use super::bare::{Recording, Sub};
use super::child;
use crate::app::audit::{AuditLog, Dispatcher};
use crate::app::tui::events_of;
use crate::protocol::pb::message::Payload as P;
use crate::protocol::{self, Framing, pb};
use crate::session::{Session, SessionConfig};
use crate::ui::{App, Event, UiConfig};

/// The most Notifies timed (the rest of a long recording adds nothing but time).
const MAX_TIMED: usize = 20_000;

/// The most time spent timing the replay: enough for the clock, short enough for a slow build.
const REPLAY_FOR: Duration = Duration::from_secs(2);

/// The least time bare decoding is measured over.
const DECODE_FOR: Duration = Duration::from_millis(300);

/// What the replay measured.
#[derive(Debug, Default, Clone, Copy)]
pub struct Replay {
    /// Notifies timed.
    pub notifies: u64,
    /// CPU per Notify through engine, model and `App::update`.
    pub per_notify: Duration,
    /// CPU per Notify for plain `prost` decoding of the same frames.
    pub decode_per_notify: Duration,
}

/// The stand-in PBX: it answers the engine's Subscribes and knows which id each line got.
#[derive(Default)]
struct Pbx {
    ids: HashMap<Sub, i32>,
}

impl Pbx {
    /// Answers everything the engine has to send, until it has nothing more.
    fn answer(&mut self, engine: &mut Session, now: Instant) -> Result<(), BenchError> {
        while let Some(frame) = engine.poll_transmit() {
            let msg = protocol::decode(&frame, Framing::Framed).map_err(replay_error)?;
            let Some(P::Subscribe(s)) = msg.payload else {
                continue;
            };
            if let Some(sub) = s.payload.as_ref().and_then(Sub::of) {
                self.ids.insert(sub, s.subscribe_id);
            }
            let response = pb::Message {
                payload: Some(P::Response(pb::RequestResponse {
                    requestid: s.requestid,
                    result: 0,
                    additional: String::new(),
                })),
            };
            engine.handle_frame(now, &encode(&response)?);
        }
        Ok(())
    }

    /// The recorded Notify as the engine's subscription for its line carries it.
    fn frame(&self, sub: &Sub, n: &pb::Notify) -> Result<Option<Vec<u8>>, BenchError> {
        let Some(id) = self.ids.get(sub) else {
            return Ok(None);
        };
        let mut n = n.clone();
        n.subscribe_id = *id;
        encode(&pb::Message {
            payload: Some(P::Notify(n)),
        })
        .map(Some)
    }
}

fn encode(msg: &pb::Message) -> Result<Vec<u8>, BenchError> {
    protocol::encode(msg, Framing::Framed).map_err(replay_error)
}

fn replay_error(e: protocol::FrameError) -> BenchError {
    BenchError::Replay(e.to_string())
}

/// One Notify through the engine and the screen's state (what the engine sends back is left
/// for the caller). Never inlined, so that a profile of the bench tells the replay's time apart.
#[inline(never)]
fn feed(engine: &mut Session, app: &mut App, dispatch: &mut Dispatcher, frame: &[u8]) {
    let now = Instant::now();
    engine.handle_frame(now, frame);
    if engine.poll_timeout().is_some_and(|t| t <= now) {
        engine.handle_timeout(now);
    }
    let batch: Vec<_> = std::iter::from_fn(|| engine.poll_event()).collect();
    for ev in events_of(batch, dispatch) {
        let _ = app.update(ev);
    }
}

/// Replays `rec` (see the module documentation).
pub fn run(
    rec: &Recording,
    session: SessionConfig,
    ui: UiConfig,
    size: (u16, u16),
) -> Result<Replay, BenchError> {
    let t0 = Instant::now();
    let mut engine = Session::new(session, t0);
    while engine.poll_io().is_some() {}
    engine.handle_connected(t0);
    let mut pbx = Pbx::default();
    pbx.answer(&mut engine, t0)?;
    let mut dispatch = Dispatcher::new(AuditLog::new(None, "bench", "replay"));
    let mut app = App::new(ui, t0);
    app.update(Event::Resize {
        width: size.0,
        height: size.1,
    });
    let (first, steady) = rec
        .notifies
        .split_at(rec.steady_from.min(rec.notifies.len()));
    // The first picture in one update, as the real loop's coalescing would give it.
    let mut backlog = Vec::new();
    for (sub, n) in first {
        if let Some(frame) = pbx.frame(sub, n)? {
            engine.handle_frame(Instant::now(), &frame);
            pbx.answer(&mut engine, Instant::now())?;
            backlog.extend(std::iter::from_fn(|| engine.poll_event()));
        }
    }
    for ev in events_of(backlog, &mut dispatch) {
        let _ = app.update(ev);
    }
    let mut frames = Vec::new();
    for (sub, n) in steady.iter().take(MAX_TIMED) {
        if let Some(f) = pbx.frame(sub, n)? {
            frames.push(f);
        }
    }
    if frames.is_empty() {
        return Ok(Replay::default());
    }

    let cpu = child::thread_cpu_precise();
    let wall = Instant::now();
    let mut timed = 0;
    for f in &frames {
        feed(&mut engine, &mut app, &mut dispatch, f);
        // The acks: sent by the I/O task in the real loop, dropped here.
        while engine.poll_transmit().is_some() {}
        timed += 1;
        if wall.elapsed() >= REPLAY_FOR {
            break;
        }
    }
    frames.truncate(timed);
    let per_notify = per(&frames, cpu);

    // Plain decoding, repeated until the clock can tell.
    let header = protocol::frame::FRAME_HEADER.len();
    let cpu = child::thread_cpu_precise();
    let wall = Instant::now();
    let mut rounds = 0u32;
    while rounds == 0 || wall.elapsed() < DECODE_FOR {
        for f in &frames {
            let body = f.get(header..).unwrap_or_default();
            let _ = std::hint::black_box(pb::Message::decode(body));
        }
        rounds += 1;
    }
    let decode_per_notify = per(&frames, cpu) / rounds;
    Ok(Replay {
        notifies: frames.len() as u64,
        per_notify,
        decode_per_notify,
    })
}

/// This thread's CPU time per frame since `cpu`, by the kernel's precise clock: the replay of
/// a slow rate lasts well under a second, too short for the 10 ms ticks of /proc, and its wall
/// time would count the time the thread waited for a core on a busy machine.
fn per(frames: &[Vec<u8>], cpu: Duration) -> Duration {
    let used = child::thread_cpu_precise().saturating_sub(cpu);
    used / u32::try_from(frames.len()).unwrap_or(u32::MAX)
}
