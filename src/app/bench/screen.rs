//! The dashboard under measurement: the real client pipeline (the session task from
//! `session::spawn`, the model, `ui::App`, `update`, `view`) drawing into the headless
//! terminal, in the run loop's own shape: a tick with every batch and every second, frames
//! only when something visible changed, as the run loop's [`Pacer`] allows.
//!
//! When a Notify reached the screen is estimated from the reader's side: a batch the screen
//! had to wait for arrived when the wait ended; a batch already waiting when the screen came
//! back to read is counted from when it last looked (an upper bound on its wait).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::watch;

use super::BenchError;
use super::child::{self, Sim};
use super::headless;
use crate::app::audit::{AuditLog, Dispatcher};
use crate::app::terminal;
use crate::app::tui::{Pacer, Settings, events_of, tick};
use crate::model::{ModelEvent, User};
use crate::session::{Counters, SessionEvent, spawn};
use crate::ui::{App, Event, Key, KeyCode};

/// When the resident memory is sampled (besides at the end).
pub const RSS_AT: Duration = Duration::from_secs(60);

/// How often a key is pressed during the measurement, to see how soon it is answered.
const KEY_EVERY: Duration = Duration::from_secs(1);

/// Frames drawn after the window where exactly one agent row changed.
const ONE_ROW_FRAMES: usize = 200;

/// What the dashboard run measured, over its window (after the full picture).
#[derive(Debug, Default)]
pub struct Screen {
    /// From spawning the session to the last call already there applied to the rows.
    pub full_picture: Duration,
    /// The measurement window.
    pub window: Duration,
    /// Batch reached the screen -> `App::update` returned.
    pub to_rows: Vec<Duration>,
    /// Batch reached the screen -> the frame showing it written.
    pub to_frame: Vec<Duration>,
    /// Time to draw each frame (view, diff, writing).
    pub render: Vec<Duration>,
    /// Bytes each frame wrote.
    pub frame_bytes: Vec<u64>,
    /// Key pressed -> the frame answering it written.
    pub key: Vec<Duration>,
    /// Frames drawn in the window.
    pub frames: u64,
    /// Bytes written in the window.
    pub bytes: u64,
    /// This process's CPU in the window.
    pub cpu: Duration,
    /// The simulator's CPU in the window.
    pub sim_cpu: Duration,
    /// Resident memory at [`RSS_AT`] after the start, when the run lasted that long.
    pub rss_at_60: Option<u64>,
    /// Resident memory at the end.
    pub rss_end: u64,
    /// CPU time of each frame where one row changed (drawn after the window).
    pub one_row_render: Vec<Duration>,
    /// Bytes each of those frames wrote.
    pub one_row_bytes: Vec<u64>,
    /// The session's wire counters at the end.
    pub counters: Counters,
}

/// Runs the dashboard against `sim` until the full picture, then for `window`, pressing a
/// key each second when `keys`.
pub async fn run(
    sim: &mut Sim,
    settings: Settings,
    keys: bool,
    size: (u16, u16),
    window: Duration,
    give_up: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<Screen, BenchError> {
    let start = Instant::now();
    let initial_report = settings.session.initial_report;
    let (handle, updates) = spawn(settings.endpoint, settings.session)
        .map_err(|e| BenchError::Connect(e.to_string()))?;
    let (mut term, counter) = headless::terminal(size.0, size.1).map_err(BenchError::Draw)?;
    let mut dispatch = Dispatcher::new(AuditLog::new(None, "bench", settings.audit_pbx));
    let mut app = App::new(settings.ui, start);
    app.update(Event::Resize {
        width: size.0,
        height: size.1,
    });
    app.update(tick());

    let mut out = Screen::default();
    let mut synced: Option<Instant> = None;
    let mut last_initial: Option<Instant> = None;
    // Measuring from: (when, this process's CPU, the simulator's CPU, bytes, frames).
    let mut measuring: Option<(Instant, Duration, Duration, u64)> = None;
    let mut last_look = Instant::now();
    // Whether the batches that waited for the next frame have been taken in.
    let mut folded = false;
    let mut pacer = Pacer::default();
    let mut undrawn: Vec<Instant> = Vec::new();
    let mut key_pressed: Option<Instant> = None;
    let mut next_key = Instant::now();
    let mut key_down = true;
    let mut next_second = tokio::time::Instant::now() + Duration::from_secs(1);
    let result = loop {
        let now = Instant::now();
        if out.rss_at_60.is_none() && now.duration_since(start) >= RSS_AT {
            out.rss_at_60 = Some(child::resident()?);
        }
        match measuring {
            None => {
                if let Some(s) = synced
                    && now.duration_since(s) >= initial_report + Duration::from_millis(500)
                {
                    out.full_picture = last_initial.unwrap_or(s).duration_since(start);
                    measuring =
                        Some((now, child::self_cpu()?, sim.child().cpu()?, counter.bytes()));
                    out = Screen {
                        full_picture: out.full_picture,
                        rss_at_60: out.rss_at_60,
                        ..Screen::default()
                    };
                } else if now.duration_since(start) > give_up {
                    break Err(BenchError::Timeout("the dashboard's full picture".into()));
                }
            }
            Some((from, cpu, sim_cpu, bytes)) => {
                if now.duration_since(from) >= window {
                    out.window = now.duration_since(from);
                    out.cpu = child::self_cpu()?.saturating_sub(cpu);
                    out.sim_cpu = sim.child().cpu()?.saturating_sub(sim_cpu);
                    out.bytes = counter.bytes() - bytes;
                    break Ok(());
                }
                if keys && now >= next_key && key_pressed.is_none() {
                    // Down and up in turn: the selection moves and comes back.
                    let code = if key_down { KeyCode::Down } else { KeyCode::Up };
                    key_down = !key_down;
                    app.update(Event::Key(Key::plain(code)));
                    pacer.input();
                    key_pressed = Some(now);
                    next_key = now + KEY_EVERY;
                }
            }
        }
        if !sim.child().running() {
            break Err(BenchError::SimStart(format!(
                "the simulator stopped: {}",
                sim.child().stderr_tail()
            )));
        }

        // Draw as the run loop does: what the session said while the frame waited goes into
        // the frame first (taken here, handled below, drawn on the next turn).
        let mut frame_due = None;
        let mut before_frame = None;
        if app.needs_redraw() {
            match pacer.wait(Instant::now()) {
                Some(t) => frame_due = Some(t),
                None => {
                    if !folded {
                        before_frame = updates.next().now_or_never();
                    }
                    folded = before_frame.is_some();
                    if !folded {
                        let before = counter.bytes();
                        let t = Instant::now();
                        terminal::draw(&mut term, &app).map_err(BenchError::Draw)?;
                        app.drawn();
                        let done = Instant::now();
                        pacer.drawn(done);
                        if measuring.is_some() {
                            out.render.push(done - t);
                            out.frame_bytes.push(counter.bytes() - before);
                            out.frames += 1;
                            out.to_frame.extend(undrawn.iter().map(|a| done - *a));
                            if let Some(k) = key_pressed.take() {
                                out.key.push(done - k);
                            }
                        }
                        undrawn.clear();
                    }
                }
            }
        }

        // A batch already waiting came some time since the last look. While a frame waits
        // for the cap, batches wait in the mailbox (folded there), as in the run loop.
        let waiting = if before_frame.is_some() {
            before_frame
        } else if frame_due.is_none() {
            updates.next().now_or_never()
        } else {
            None
        };
        let (batch, arrived) = match (waiting, frame_due) {
            (Some(b), _) => (Some(b), last_look),
            (None, Some(due)) => {
                tokio::select! {
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => {
                        (None, now)
                    }
                    _ = stop.wait_for(|s| *s) => break Err(BenchError::Interrupted),
                }
            }
            (None, None) => {
                let wake = frame_due.map_or(Duration::from_millis(100), |t| {
                    t.saturating_duration_since(Instant::now())
                });
                tokio::select! {
                    b = updates.next() => (Some(b), Instant::now()),
                    () = tokio::time::sleep(wake.min(Duration::from_millis(100))) => (None, now),
                    () = tokio::time::sleep_until(next_second) => {
                        next_second = tokio::time::Instant::now() + Duration::from_secs(1);
                        app.update(tick());
                        (None, now)
                    }
                    _ = stop.wait_for(|s| *s) => break Err(BenchError::Interrupted),
                }
            }
        };
        last_look = Instant::now();
        let Some(batch) = batch else { continue };
        let Some(batch) = batch else {
            break Err(BenchError::Connect("the session ended".into()));
        };
        let mut initial = false;
        for ev in &batch {
            match ev {
                SessionEvent::Model(ModelEvent::CallNew { call }) if call.present_at_connect => {
                    initial = true;
                }
                SessionEvent::Synced(_) => synced = synced.or(Some(last_look)),
                SessionEvent::ConnectFailed(e) => {
                    tracing::warn!(error = %e, "bench: connect failed");
                }
                _ => {}
            }
        }
        app.update(tick());
        for ev in events_of(batch, &mut dispatch) {
            // The bench presses no function key: whatever actions come back are not carried out.
            let _ = app.update(ev);
        }
        let done = Instant::now();
        if initial {
            last_initial = Some(done);
        }
        if measuring.is_some() {
            out.to_rows.push(done - arrived);
            undrawn.push(arrived);
        }
    };
    if result.is_ok() {
        one_row(&mut app, &mut term, &counter, &mut dispatch, &mut out)?;
    }
    handle.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(3), handle.join()).await;
    // Whatever came after the shutdown is read so the session can finish.
    while let Some(Some(_)) = updates.next().now_or_never() {}
    out.counters = updates.final_counters().unwrap_or_default();
    out.rss_end = child::resident()?;
    result.map(|()| out)
}

/// Frames where exactly one row changed: an agent near the top of the grid (not the selected
/// one, whose detail would change too) changes its name to one as wide and back, through
/// `update` as a session event would, with no tick in between (so no time on screen moves).
fn one_row(
    app: &mut App,
    term: &mut headless::Headless,
    counter: &headless::Counter,
    dispatch: &mut Dispatcher,
    out: &mut Screen,
) -> Result<(), BenchError> {
    terminal::draw(term, app).map_err(BenchError::Draw)?;
    app.drawn();
    let selected = app.selection().agent.clone();
    let Some(guid) = (app.derived().agents(..3))
        .map(|r| &r.guid)
        .find(|g| Some(*g) != selected.as_ref())
        .cloned()
    else {
        return Ok(());
    };
    let Some(user) = app.model().user(&guid).cloned() else {
        return Ok(());
    };
    // Same width, other letters: the row changes, no column does.
    let swapped: String = (user.name.chars())
        .map(|c| match c {
            c if c.is_ascii_lowercase() => c.to_ascii_uppercase(),
            c => c.to_ascii_lowercase(),
        })
        .collect();
    for i in 0..ONE_ROW_FRAMES {
        let mut u = User::clone(&user);
        if i % 2 == 0 {
            u.name = swapped.as_str().into();
        }
        let ev = SessionEvent::Model(ModelEvent::UserChanged {
            user: Arc::new(u),
            agent_from: None,
        });
        for e in events_of(vec![ev], dispatch) {
            let _ = app.update(e);
        }
        let before = counter.bytes();
        // The frame's own work: on a shared machine a frame's wall time also holds the
        // time the thread waited for a core.
        let cpu = child::thread_cpu_precise();
        terminal::draw(term, app).map_err(BenchError::Draw)?;
        app.drawn();
        out.one_row_render
            .push(child::thread_cpu_precise().saturating_sub(cpu));
        out.one_row_bytes.push(counter.bytes() - before);
    }
    Ok(())
}
