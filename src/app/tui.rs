//! The screen's run loop, at the binary's edge: the terminal, the keyboard (on a thread of its
//! own), ticks, and the session's updates all become [`ui::Event`]s; the [`ui::Action`]s that
//! come back are carried out here. A frame is drawn only when the state says something
//! visible changed: for the PBX's changes at most every [`MIN_FRAME`], for a key at once
//! ([`Pacer`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tracing::level_filters::LevelFilter;

use super::Exit;
use super::audit::{self, AuditLog, Dispatcher};
use super::config::{self, Config};
use super::retry::{Logins, RetryDecision, decide};
use super::terminal;
use super::{demo, logging, view_file};
use crate::model::PbxSystem;
use crate::session::{SessionConfig, SessionEvent, SessionHandle, Updates, spawn};
use crate::ui::{self, Action, App, Event, Level, LocalTime, Message, UiConfig, ViewState};

pub use super::pacer::{MIN_FRAME, Pacer};
pub(crate) use batch::events_of;
pub(crate) use settings::{Settings, settings};

mod batch;
mod settings;

/// What to run the screen against.
#[derive(Debug, Clone)]
pub enum Target {
    /// The PBX in the configuration file (the default path when `None`).
    Config(Option<PathBuf>),
    /// The simulator's demo call centre, in this process.
    Demo,
    /// Shared mode: the site as an `ipo-top serve` publishes it in NATS (`[shared]` in the
    /// configuration file).
    Shared(Option<PathBuf>),
}

/// Runs the screen until the user quits. Configuration problems are reported before the
/// terminal is touched. `read_only` (`--read-only`) hides and blocks every function, as
/// `[ui] read_only` does; the session then sends no SubscribeCmd at all. `scope` (`--queue`,
/// `--agents`) narrows `[scope]` for this run (the demo always shows its whole site).
pub fn run(
    target: Target,
    log_level: LevelFilter,
    read_only: bool,
    scope: &config::ScopeFlags,
) -> Exit {
    run_screen(target, log_level, (read_only, false), scope)
}

/// `ipo-top wall`: the wallboard alone, always read-only (`q` quits, no other key acts).
pub fn run_wall(target: Target, log_level: LevelFilter, scope: &config::ScopeFlags) -> Exit {
    run_screen(target, log_level, (true, true), scope)
}

fn run_screen(
    target: Target,
    log_level: LevelFilter,
    (read_only, wall): (bool, bool),
    scope: &config::ScopeFlags,
) -> Exit {
    let config = match &target {
        Target::Config(path) | Target::Shared(path) => match config::load(path.as_deref()) {
            Ok(mut c) => {
                c.override_scope(scope);
                Some(c)
            }
            Err(e) => {
                super::complain("ipo-top", &e);
                if matches!(e, config::ConfigError::Missing { .. }) {
                    eprintln!("ipo-top: or see a simulated call centre: ipo-top --demo");
                }
                return Exit::Config;
            }
        },
        Target::Demo => None,
    };
    let _log = match logging::init(log_level, None) {
        Ok(guard) => guard,
        Err(e) => {
            super::complain("ipo-top", &format_args!("{e} (carrying on without a log)"));
            None
        }
    };
    for w in config.iter().flat_map(|c| &c.warnings) {
        tracing::warn!("{w}");
    }
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let exit = rt.block_on(async move {
        let (demo, source) = match config {
            Some(c) if matches!(target, Target::Shared(_)) => match c.shared.clone() {
                Some(s) => (None, Source::Shared(Box::new(c), s)),
                None => {
                    super::complain(
                        "ipo-top",
                        &format_args!(
                            "{}: --shared needs a [shared] table with nats and site (see \
                             config.example.toml)",
                            c.path.display()
                        ),
                    );
                    return Exit::Config;
                }
            },
            Some(c) => match c.require_pbx() {
                Ok(()) => (None, Source::Config(Box::new(c))),
                Err(e) => {
                    super::complain("ipo-top", &e);
                    return Exit::Config;
                }
            },
            None => match demo::start().await {
                Ok(d) => {
                    let endpoint = d.endpoint.clone();
                    (Some(d), Source::Demo(endpoint))
                }
                Err(e) => {
                    super::complain("ipo-top", &e);
                    return Exit::Other;
                }
            },
        };
        let exit = screen(source, read_only, wall).await;
        if let Some(d) = demo {
            d.server.stop().await;
        }
        exit
    });
    rt.shutdown_timeout(Duration::from_millis(500));
    exit
}

/// Where the session's settings come from.
pub(crate) enum Source {
    Config(Box<Config>),
    Demo(crate::session::Endpoint),
    /// A shared-mode viewer: the configuration's screen settings, the site in NATS.
    Shared(Box<Config>, super::config::SharedSettings),
}

/// Where the screen's model comes from: this process's session, or a shared site's bucket.
enum Feed {
    Session(Updates),
    /// The bucket's watch, and the reports on this viewer's functions.
    Shared(
        mpsc::Receiver<super::shared::ViewerUpdate>,
        mpsc::UnboundedReceiver<crate::model::CommandReport>,
    ),
}

/// What one turn of the run loop took from the source.
enum Took {
    /// A batch for the screen.
    Batch(Vec<SessionEvent>),
    /// A shared feed's updates, kept for the waiting frame.
    Gathered,
    /// The source has ended.
    Ended,
}

/// A running session (or a shared site's watch) and whom it logs in as.
struct Live {
    /// The session, to send functions and log in again; none for a shared viewer.
    handle: Option<SessionHandle>,
    updates: Option<Feed>,
    /// Whom it logs in as on each system, and which login was refused.
    logins: Logins,
    /// A shared viewer's way to send functions through the serving process.
    viewer: Option<super::desk::ViewerSender>,
    /// The serving side's judgements come in with the shared feed, not yet handed on.
    judged: Vec<crate::model::Judged>,
    /// A shared viewer's `hello` as it is learnt, and the site its words name.
    learnt: Option<(Learnt, String)>,
    /// What the header is to say about sending functions, not yet handed on.
    cannot_send: Option<Option<String>>,
    /// A shared feed's updates taken in while a frame waited for the cap, for the next turn.
    gathered: Vec<SessionEvent>,
}

/// What a shared viewer's `hello` found, each time it changes.
type Learnt = tokio::sync::watch::Receiver<Option<crate::share::functions::Standing>>;

fn start(endpoint: crate::session::Endpoint, config: SessionConfig) -> Result<Live, String> {
    let logins = Logins::of(&endpoint, config.secondary.as_ref());
    let (handle, updates) = spawn(endpoint, config).map_err(|e| e.to_string())?;
    Ok(Live {
        handle: Some(handle),
        updates: Some(Feed::Session(updates)),
        logins,
        viewer: None,
        judged: Vec::new(),
        learnt: None,
        cannot_send: None,
        gathered: Vec::new(),
    })
}

/// The header's words for what `hello` found: why no function can be sent, if so.
fn cannot_send(learnt: &mut Learnt, site: &str) -> Option<String> {
    learnt
        .borrow_and_update()
        .as_ref()
        .and_then(|s| s.message(site))
}

/// A shared site's model as the session's events (the screen takes them as they are); the
/// serving side's judgements are kept aside for [`Live::take_in`].
fn shared_batch(
    u: super::shared::ViewerUpdate,
    judged: &mut Vec<crate::model::Judged>,
) -> Vec<SessionEvent> {
    match u {
        super::shared::ViewerUpdate::Model(evs) => {
            evs.into_iter().map(SessionEvent::Model).collect()
        }
        super::shared::ViewerUpdate::Judged(j) => {
            judged.extend(j);
            Vec::new()
        }
        super::shared::ViewerUpdate::CaughtUp(_) => Vec::new(),
    }
}

impl Live {
    /// The next batch; `None` once the source has ended.
    async fn next(&mut self) -> Option<Vec<SessionEvent>> {
        match &mut self.updates {
            Some(Feed::Session(u)) => u.next().await,
            Some(Feed::Shared(rx, reports)) => {
                if self.gathered.is_empty() {
                    let judged = &mut self.judged;
                    let learnt = &mut self.learnt;
                    let news = &mut self.cannot_send;
                    let mut batch = tokio::select! {
                        u = rx.recv() => u.map(|u| shared_batch(u, judged))?,
                        Some(r) = reports.recv() => vec![SessionEvent::Command(r)],
                        Ok(()) = async {
                            match learnt.as_mut() {
                                Some((l, _)) => l.changed().await,
                                None => std::future::pending().await,
                            }
                        } => {
                            if let Some((l, site)) = learnt.as_mut() {
                                *news = Some(cannot_send(l, site));
                            }
                            Vec::new()
                        }
                    };
                    self.gathered.append(&mut batch);
                }
                self.take_queued();
                Some(self.take_gathered())
            }
            None => std::future::pending().await,
        }
    }

    /// The next batch, or with `frame_waits` a shared feed's updates gathered for the
    /// waiting frame.
    async fn take(&mut self, frame_waits: bool) -> Took {
        if frame_waits {
            self.gather().await;
            return Took::Gathered;
        }
        match self.next().await {
            Some(b) => Took::Batch(b),
            None => Took::Ended,
        }
    }

    /// Whether batches are taken in while a frame waits ([`Live::gather`]): a shared feed
    /// is one update per bucket entry, which no mailbox folds, so they are gathered here
    /// rather than left to fill its channel and hold up the watch.
    fn gathers(&self) -> bool {
        matches!(self.updates, Some(Feed::Shared(..)))
    }

    /// Takes a shared feed's updates in while a frame waits; they go to the screen with the
    /// frame. Pending for a session, whose mailbox folds its changes meanwhile.
    async fn gather(&mut self) {
        match &mut self.updates {
            Some(Feed::Shared(rx, reports)) => {
                let judged = &mut self.judged;
                let mut batch = tokio::select! {
                    u = rx.recv() => match u {
                        Some(u) => shared_batch(u, judged),
                        // The next turn reads the end.
                        None => return std::future::pending().await,
                    },
                    Some(r) = reports.recv() => vec![SessionEvent::Command(r)],
                };
                self.gathered.append(&mut batch);
                self.take_queued();
            }
            _ => std::future::pending().await,
        }
    }

    /// A shared feed's updates already queued (as many as there are now), into `gathered`.
    fn take_queued(&mut self) {
        if let Some(Feed::Shared(rx, reports)) = &mut self.updates {
            while let Ok(r) = reports.try_recv() {
                self.gathered.push(SessionEvent::Command(r));
            }
            for _ in 0..rx.len() {
                match rx.try_recv() {
                    Ok(u) => {
                        let mut b = shared_batch(u, &mut self.judged);
                        self.gathered.append(&mut b);
                    }
                    Err(_) => break,
                }
            }
        }
    }

    /// What was gathered, the model's changes folded as the session's mailbox folds them
    /// (one event per user, queue and appearance: the screen's work is per frame, not per
    /// bucket entry).
    fn take_gathered(&mut self) -> Vec<SessionEvent> {
        let mut folded = crate::model::Coalescer::new();
        let mut out = Vec::new();
        for ev in std::mem::take(&mut self.gathered) {
            match ev {
                SessionEvent::Model(m) => folded.push(m),
                other => out.push(other),
            }
        }
        out.extend(folded.take().into_iter().map(SessionEvent::Model));
        out
    }

    /// A batch that is already there.
    fn ready(&mut self) -> Option<Vec<SessionEvent>> {
        match &mut self.updates {
            Some(Feed::Session(u)) => u.next().now_or_never().flatten(),
            Some(Feed::Shared(..)) => {
                if let Some((l, site)) = self.learnt.as_mut() {
                    if l.has_changed().unwrap_or(false) {
                        self.cannot_send = Some(cannot_send(l, site));
                    }
                }
                self.take_queued();
                // Judgements alone make a batch too (take_in hands them on), as does what
                // the header is to say about sending functions.
                let news = !self.judged.is_empty() || self.cannot_send.is_some();
                (!self.gathered.is_empty() || news).then(|| self.take_gathered())
            }
            None => None,
        }
    }

    /// A batch from the session as screen events, noting first which system refused a login
    /// (the one `R` is judged against).
    fn take_in(&mut self, batch: Vec<SessionEvent>, dispatch: &mut Dispatcher) -> Vec<Event> {
        for update in &batch {
            if let SessionEvent::ConnectFailed(e) = update {
                self.logins.note(e);
            }
        }
        let mut events = events_of(batch, dispatch);
        if !self.judged.is_empty() {
            // After the model's changes: the judgement names queues they brought.
            events.push(Event::Judged(std::mem::take(&mut self.judged)));
        }
        if let Some(why) = self.cannot_send.take() {
            events.push(Event::CannotSend(why));
        }
        events
    }
}

/// What the keyboard thread reports.
enum Input {
    Key(ui::Key),
    Resize(u16, u16),
    Failed(String),
}

/// Reads the terminal's events on a thread of its own (crossterm's reads block), polling so
/// that it notices when the screen is gone.
fn spawn_input(tx: mpsc::UnboundedSender<Input>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        use crossterm::event::{self, Event as CtEvent};
        while !stop.load(Ordering::Relaxed) {
            let input = match event::poll(Duration::from_millis(100)) {
                Ok(false) => continue,
                Ok(true) => match event::read() {
                    Ok(CtEvent::Key(k)) => match terminal::key(k) {
                        Some(k) => Input::Key(k),
                        None => continue,
                    },
                    Ok(CtEvent::Resize(w, h)) => Input::Resize(w, h),
                    Ok(_) => continue,
                    Err(e) => Input::Failed(e.to_string()),
                },
                Err(e) => Input::Failed(e.to_string()),
            };
            let failed = matches!(input, Input::Failed(_));
            if tx.send(input).is_err() || failed {
                return;
            }
        }
    })
}

/// The local time of day, for the header.
fn wall_clock() -> Option<LocalTime> {
    let now = jiff::Zoned::now();
    Some(LocalTime {
        hour: u8::try_from(now.hour()).ok()?,
        minute: u8::try_from(now.minute()).ok()?,
        second: u8::try_from(now.second()).ok()?,
    })
}

/// How long until the wall clock's next second (plus a little, to land after it).
fn until_next_second() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_nanos(u64::from(1_000_000_000 - nanos.min(999_999_999)))
        + Duration::from_millis(5)
}

pub(crate) fn tick() -> Event {
    Event::Tick {
        now: Instant::now(),
        clock: wall_clock(),
    }
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}

/// A shared site's watch, and this viewer's way to send functions through the serving
/// process (none with `--read-only`).
fn shared_live(
    s: &super::config::SharedSettings,
    endpoint: &crate::session::Endpoint,
    read_only: bool,
) -> Live {
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let (sender, queue) = super::desk::ViewerSender::new(&s.site, reports_tx);
    let functions = if read_only {
        sender.set(crate::share::functions::Standing::LocallyReadOnly);
        None
    } else {
        Some((sender.clone(), queue))
    };
    // What hello finds shows in the header from the start (read-only is shown as such
    // already).
    let learnt = functions
        .is_some()
        .then(|| (sender.learnt(), s.site.clone()));
    Live {
        handle: None,
        updates: Some(Feed::Shared(
            super::shared::spawn_with_functions(s.clone(), functions),
            reports,
        )),
        logins: Logins::of(endpoint, None),
        viewer: Some(sender),
        judged: Vec::new(),
        learnt,
        cannot_send: None,
        gathered: Vec::new(),
    }
}

/// What the run loop lets an onlooker see: `ipo-top bench` times frames against the changes
/// they show; the screen itself has none (`()`).
pub(crate) trait Onlooker {
    /// A batch from the source is about to go to the screen.
    fn batch(&mut self, _batch: &[SessionEvent]) {}
    /// A frame was drawn.
    fn drawn(&mut self) {}
}

impl Onlooker for () {}

/// `ipo-top --shared`'s screen on any terminal until `quit`: the same watch, functions and
/// run loop, for `ipo-top bench --shared`'s drawn viewer (a headless terminal, no keyboard,
/// no audit file: it presses no key).
pub(crate) async fn shared_screen<W: std::io::Write>(
    settings: Settings,
    shared: &super::config::SharedSettings,
    term: &mut ratatui::Terminal<ratatui::backend::CrosstermBackend<W>>,
    (width, height): (u16, u16),
    quit: impl std::future::Future<Output = ()>,
    onlooker: &mut impl Onlooker,
) -> Result<(), String> {
    let mut dispatch =
        Dispatcher::new(AuditLog::new(None, audit::local_user(), settings.audit_pbx));
    let mut live = shared_live(shared, &settings.endpoint, settings.ui.read_only);
    let mut app = App::new(settings.ui, Instant::now());
    app.update(Event::Resize { width, height });
    app.update(tick());
    // No keyboard: the sender stays, so the loop does not take its end for a failure.
    let (_keyboard, mut input) = mpsc::unbounded_channel();
    event_loop(
        &mut app,
        term,
        &mut input,
        &mut live,
        &mut dispatch,
        None,
        quit,
        onlooker,
    )
    .await
}

/// The screen against a session: until the user quits.
async fn screen(source: Source, read_only: bool, wall: bool) -> Exit {
    let Settings {
        endpoint,
        session: session_config,
        ui: ui_config,
        config_path,
        audit_pbx,
    } = settings(&source, read_only);
    let mut dispatch = Dispatcher::new(AuditLog::new(
        audit::default_path(),
        audit::local_user(),
        audit_pbx,
    ));
    let started = match &source {
        Source::Shared(_, s) => Ok(shared_live(s, &endpoint, read_only)),
        _ => start(endpoint, session_config),
    };
    let mut live = match started {
        Ok(l) => l,
        Err(e) => {
            super::complain("ipo-top", &e);
            return Exit::Trust;
        }
    };
    let (guard, mut term) = match terminal::enter() {
        Ok(t) => t,
        Err(e) => {
            terminal::restore();
            super::complain("ipo-top", &format_args!("cannot use this terminal: {e}"));
            return Exit::Other;
        }
    };
    let view = view_file::path().map(|p| view_file::load(&p));
    let ui_config = UiConfig {
        view: view.unwrap_or_default(),
        wall,
        ..ui_config
    };
    let mut app = App::new(ui_config, Instant::now());
    if let Ok(size) = term.size() {
        app.update(Event::Resize {
            width: size.width,
            height: size.height,
        });
    }
    app.update(tick());

    let (tx, mut input) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = spawn_input(tx, stop.clone());
    let result = event_loop(
        &mut app,
        &mut term,
        &mut input,
        &mut live,
        &mut dispatch,
        config_path,
        terminated(),
        &mut (),
    )
    .await;

    stop.store(true, Ordering::Relaxed);
    if let Some(h) = &live.handle {
        h.shutdown();
    }
    drop(guard);
    let _ = reader.join();
    // The session closes its link politely; never let that hold up the exit for long.
    if let Some(h) = live.handle.take() {
        let _ = tokio::time::timeout(Duration::from_secs(2), h.join()).await;
    }
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            super::complain("ipo-top", &e);
            Exit::Other
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn event_loop<W: std::io::Write>(
    app: &mut App,
    term: &mut ratatui::Terminal<ratatui::backend::CrosstermBackend<W>>,
    input: &mut mpsc::UnboundedReceiver<Input>,
    live: &mut Live,
    dispatch: &mut Dispatcher,
    config_path: Option<PathBuf>,
    quit: impl std::future::Future<Output = ()>,
    onlooker: &mut impl Onlooker,
) -> Result<(), String> {
    let mut pacer = Pacer::default();
    let mut next_tick = tokio::time::Instant::now() + until_next_second();
    let mut quit = std::pin::pin!(quit);
    loop {
        // Draw when something visible changed, no more often than the frame cap allows.
        let mut frame_due = None;
        if app.needs_redraw() {
            match pacer.wait(Instant::now()) {
                Some(t) => frame_due = Some(t),
                None => {
                    // What the session said while the frame waited goes into this frame.
                    if let Some(b) = live.ready() {
                        onlooker.batch(&b);
                        let mut events = vec![tick()];
                        events.extend(live.take_in(b, dispatch));
                        if handle(app, events, term, live, dispatch, config_path.as_deref()) {
                            return Ok(());
                        }
                    }
                    terminal::draw(term, app).map_err(|e| format!("cannot draw: {e}"))?;
                    app.drawn();
                    pacer.drawn(Instant::now());
                    onlooker.drawn();
                }
            }
        }
        let mut events = Vec::new();
        tokio::select! {
            got = input.recv() => match got {
                Some(Input::Key(k)) => {
                    pacer.input();
                    events.push(Event::Key(k));
                }
                // The next frame is drawn at the new size (ratatui resizes on draw).
                Some(Input::Resize(w, h)) => {
                    pacer.input();
                    events.push(Event::Resize { width: w, height: h });
                }
                Some(Input::Failed(e)) => return Err(format!("cannot read the keyboard: {e}")),
                None => return Err("the keyboard reader stopped".to_owned()),
            },
            // While a frame waits for the cap, the session's batches wait in its mailbox,
            // which folds the changes to each call and user: one update per frame, however
            // many Notifies came between two frames. A shared feed's are gathered meanwhile.
            took = live.take(frame_due.is_some()), if frame_due.is_none() || live.gathers() => match took {
                Took::Batch(b) => {
                    onlooker.batch(&b);
                    events.push(tick());
                    events.extend(live.take_in(b, dispatch));
                }
                Took::Gathered => {}
                Took::Ended => {
                    live.updates = None;
                    events.push(Event::Message(Message::new(Level::Error, "the session ended")));
                }
            },
            () = tokio::time::sleep_until(next_tick) => {
                next_tick = tokio::time::Instant::now() + until_next_second();
                events.push(tick());
            }
            () = async {
                match frame_due {
                    Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                    None => std::future::pending().await,
                }
            }, if frame_due.is_some() => {}
            () = &mut quit => return Ok(()),
        }
        if handle(app, events, term, live, dispatch, config_path.as_deref()) {
            return Ok(());
        }
    }
}

/// Gives the events to the screen and carries out the actions that come back; whether the
/// user quit. Events the actions give back (a refused function) are handled in the same turn.
fn handle<W: std::io::Write>(
    app: &mut App,
    events: Vec<Event>,
    term: &mut ratatui::Terminal<ratatui::backend::CrosstermBackend<W>>,
    live: &mut Live,
    dispatch: &mut Dispatcher,
    config_path: Option<&std::path::Path>,
) -> bool {
    let mut queue: std::collections::VecDeque<Event> = events.into();
    while let Some(ev) = queue.pop_front() {
        for action in app.update(ev) {
            match action {
                Action::Quit => return true,
                Action::RetryLogin => retry(app, live, config_path),
                Action::Send(req) => match (&live.handle, &live.viewer) {
                    (Some(h), _) => queue.extend(dispatch.send(req, h)),
                    (None, Some(v)) => queue.extend(dispatch.send(req, v)),
                    (None, None) => queue.push_back(Event::Outcome {
                        ticket: req.ticket,
                        status: crate::model::CommandStatus::Refused {
                            reason: "a shared viewer sends no functions".into(),
                        },
                    }),
                },
                Action::SaveView(view) => save_view(&view),
                Action::Bell => ring_bell(term.backend_mut()),
            }
        }
    }
    false
}

/// The terminal bell (BEL), between two frames, on the terminal the frames go to; a failure
/// only loses the bell.
fn ring_bell(out: &mut impl std::io::Write) {
    let _ = out.write_all(b"\x07").and_then(|()| out.flush());
}

/// Keeps the narrowing and sort for the next run; a failure is logged, the screen goes on.
fn save_view(view: &ViewState) {
    let Some(path) = view_file::path() else {
        return;
    };
    if let Err(e) = view_file::save(&path, view) {
        tracing::warn!(path = %path.display(), error = %e, "view state not saved");
    }
}

/// Carries out `R`: a new session if the credentials changed, else the reason not to.
fn retry(app: &mut App, live: &mut Live, config_path: Option<&std::path::Path>) {
    let Some(handle) = live.handle.as_ref() else {
        app.update(Event::RetryRefused(
            "a shared viewer does not log in to the PBX: the serving process does".to_owned(),
        ));
        return;
    };
    let Some(path) = config_path else {
        app.update(Event::RetryRefused(
            "the demo makes its own credentials; quit and start ipo-top --demo again".to_owned(),
        ));
        return;
    };
    match decide(
        &live.logins,
        config::load(Some(path)).and_then(|c| c.require_pbx().map(|()| c)),
    ) {
        RetryDecision::Refuse(why) => {
            tracing::info!("retry refused: {why}");
            app.update(Event::RetryRefused(why));
        }
        RetryDecision::Retry(c) => {
            match handle.retry_with(c.endpoint.clone(), c.session.secondary.clone()) {
                Ok(()) => {
                    tracing::info!(host = %c.endpoint.host, user = %c.endpoint.username, "logging in again");
                    // The attempt goes to the system that refused (the session stays on it).
                    let pbx = match (live.logins.refused_system(), &c.session.secondary) {
                        (Some(PbxSystem::Secondary), Some(s)) => s.authority(),
                        _ => c.endpoint.authority(),
                    };
                    live.logins = Logins::of(&c.endpoint, c.session.secondary.as_ref());
                    app.update(Event::Retrying { pbx });
                }
                Err(e) => {
                    app.update(Event::RetryRefused(format!(
                        "the new TLS settings cannot be used: {e}"
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelEvent;

    #[test]
    fn the_pbx_waits_for_the_frame_cap_and_a_key_does_not() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        assert_eq!(p.wait(t0), None, "the first frame at once");
        p.drawn(t0);
        let soon = t0 + Duration::from_millis(10);
        assert_eq!(
            p.wait(soon),
            Some(t0 + MIN_FRAME),
            "a change waits for the cap"
        );
        assert_eq!(p.wait(t0 + MIN_FRAME), None);
        p.input();
        assert_eq!(p.wait(soon), None, "a key is answered at once");
        p.drawn(soon);
        assert_eq!(
            p.wait(soon + Duration::from_millis(1)),
            Some(soon + MIN_FRAME),
            "and the cap holds again after its frame"
        );
    }

    #[test]
    fn a_cap_reached_and_a_lag_are_noted_in_the_messages() {
        use crate::model::{CapReached, Capped};
        let mut dispatch = Dispatcher::new(AuditLog::new(None, "u", "pbx"));
        let batch = vec![
            SessionEvent::Lagged { folded: 12 },
            SessionEvent::CapReached(CapReached {
                what: Capped::CallAppearances,
                limit: 20_000,
            }),
        ];
        let texts: Vec<String> = events_of(batch, &mut dispatch)
            .into_iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m.text),
                _ => None,
            })
            .collect();
        assert_eq!(
            texts,
            [
                "the screen fell behind the PBX: 12 updates were folded (what is shown is \
                 current)",
                "the PBX reports more than 20000 call appearances: ignoring the rest"
            ]
        );
    }

    fn source(ui: &str) -> Source {
        let text = format!(
            "[pbx]\nhost = \"ipo.example.net\"\nusername = \"u\"\npassword_env = \"PATH\"\n\
             [supervisor]\nextension = \"4190\"\n[ui]\n{ui}"
        );
        match config::parse(std::path::Path::new("c.toml"), &text) {
            Ok(c) => Source::Config(Box::new(c)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn read_only_from_the_command_line_or_the_file_reaches_the_session() {
        for (ui, flag) in [("read_only = true\n", false), ("", true)] {
            let s = settings(&source(ui), flag);
            assert!(s.ui.read_only, "{ui} {flag}");
            assert!(s.session.read_only, "{ui} {flag}");
        }
        let s = settings(&source(""), false);
        assert!(!s.ui.read_only && !s.session.read_only);
        assert_eq!(s.ui.supervisor.as_deref(), Some("4190"));
        assert_eq!(s.audit_pbx, "ipo.example.net:443");
    }

    #[tokio::test]
    async fn a_shared_viewer_takes_every_update_that_came_while_its_frame_waited() {
        // The watch hands on one update per bucket entry; a busy site sends dozens between
        // two frames. Taken one a turn, the viewer fell ever further behind the site.
        let (tx, rx) = mpsc::channel(64);
        let (_reports_tx, reports) = mpsc::unbounded_channel();
        let mut live = Live {
            handle: None,
            updates: Some(Feed::Shared(rx, reports)),
            logins: Logins::of(&settings(&source(""), false).endpoint, None),
            viewer: None,
            judged: Vec::new(),
            learnt: None,
            cannot_send: None,
            gathered: Vec::new(),
        };
        let version = |n: usize| {
            super::super::shared::ViewerUpdate::Model(vec![ModelEvent::Version {
                text: format!("build {n}").into(),
            }])
        };
        for n in 0..10 {
            tx.send(version(n)).await.expect("the feed is open");
        }
        // A frame waits for the cap: the updates are gathered, none is left in the channel.
        assert!(live.gathers());
        assert!(matches!(live.take(true).await, Took::Gathered));
        assert_eq!(tx.capacity(), 64, "the watch is not held up");
        for n in 10..15 {
            tx.send(version(n)).await.expect("the feed is open");
        }
        // The frame is due: everything so far goes into it, folded as the session's mailbox
        // folds (one event per object, its latest).
        let batch = live.ready().expect("a batch for the frame");
        let builds: Vec<String> = batch
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Model(ModelEvent::Version { text }) => Some(text.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(builds, ["build 14"]);
        assert!(live.ready().is_none(), "nothing left over");
        // And when no frame waits, the next turn takes all that is queued, too.
        for n in 15..18 {
            tx.send(version(n)).await.expect("the feed is open");
        }
        match live.take(false).await {
            Took::Batch(b) => assert_eq!(b.len(), 1, "{b:?}"),
            _ => panic!("a batch"),
        }
        drop(tx);
        assert!(matches!(live.take(false).await, Took::Ended));
    }
}
