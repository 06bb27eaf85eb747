//! The screen's state and its update function (the Elm Architecture): every input is an
//! [`Event`], [`update`] changes the [`App`] and returns what the application layer must do
//! ([`Action`]s), and the view renders the state without changing it or reading a clock.

mod alerts;
mod keys;
mod model;
mod navigation;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::UiConfig;
use super::event::{Action, Entry, Event, Level, LocalTime, Message, Ticket};
use super::functions::{Confirm, Prompt, Scene};
use super::keymap::Context;
use super::rows::Derived;
use super::screen::{Filter, Overlay, Pane, Selection, ViewState};
use crate::model::{
    Alerts, Appearance, AppearanceId, ConnectionState, Function, FunctionTarget, Queue, StopKind,
    Tables, Trends,
};

/// Appearances that ended in one batch: as last seen, and why in words.
type Ended = HashMap<AppearanceId, (Arc<Appearance>, String)>;

/// How long after the sync the start-up selection waits for a first caller in the first queue.
const SETTLE: Duration = Duration::from_secs(2);

/// How often at most the alerts and trends are judged.
const JUDGE_EVERY: Duration = Duration::from_secs(1);

/// How many messages the history (`M`) keeps.
pub const HISTORY_LEN: usize = 50;

/// A prompt or a question in front of the screen: keys go to it until it is answered or
/// cancelled.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Modal {
    /// A prompt for an argument.
    Prompt(Prompt),
    /// A confirmation.
    Confirm(Confirm),
}

impl Modal {
    fn function(&self) -> Function {
        match self {
            Modal::Prompt(p) => p.function,
            Modal::Confirm(c) => c.function,
        }
    }

    fn target(&self) -> &FunctionTarget {
        match self {
            Modal::Prompt(p) => &p.target,
            Modal::Confirm(c) => &c.target,
        }
    }
}

/// The screen's whole state.
#[derive(Debug)]
pub struct App {
    config: UiConfig,
    model: Tables,
    now: Instant,
    epoch: Instant,
    clock: Option<LocalTime>,
    size: (u16, u16),
    focus: Pane,
    selection: Selection,
    derived: Derived,
    view: ViewState,
    overlay: Overlay,
    filter: Filter,
    status: Option<Message>,
    /// Recent messages, newest first.
    history: VecDeque<Entry>,
    /// The open prompt or confirmation.
    modal: Option<Modal>,
    /// The words of each request under way, by ticket.
    requests: HashMap<Ticket, String>,
    next_ticket: u64,
    /// Why the last retry was refused, until the next attempt.
    retry_refused: Option<String>,
    /// Why no function can be sent from here ([`Event::CannotSend`]).
    cannot_send: Option<String>,
    /// Whether the start-up selection is settled (a call selected, the user moved, or the
    /// model synced a moment ago).
    placed: bool,
    /// When the model was first seen synced.
    synced_at: Option<Instant>,
    /// The second last drawn, so a tick only redraws when a shown time changes.
    shown_second: (u64, Option<LocalTime>),
    dirty: bool,
    /// The queues' alert levels (the model's engine, judged on each tick).
    alerts: Alerts,
    /// Whether the wallboard is shown instead of the dashboard.
    wall: bool,
    /// The queues' trends, from the first tick (which says where the quarter hours fall).
    trends: Option<Trends>,
    /// When the alerts and trends were last judged.
    judged_at: Option<Instant>,
}

impl App {
    /// A screen with an empty model (a replica fed by [`Event::Model`]).
    pub fn new(config: UiConfig, now: Instant) -> App {
        let mut alerts = Alerts::new(config.alerts.clone(), config.scope.clone());
        if config.judged_elsewhere {
            alerts.set_following();
        }
        App {
            alerts,
            wall: config.wall,
            trends: config
                .judged_elsewhere
                .then(|| Trends::following(config.scope.clone())),
            judged_at: None,
            derived: Derived::new(config.scope.clone(), config.view.agents),
            view: config.view.clone(),
            config,
            model: Tables::new(),
            now,
            epoch: now,
            clock: None,
            size: (80, 24),
            focus: Pane::Queues,
            selection: Selection::default(),
            overlay: Overlay::None,
            filter: Filter::default(),
            status: None,
            history: VecDeque::new(),
            modal: None,
            requests: HashMap::new(),
            next_ticket: 1,
            retry_refused: None,
            cannot_send: None,
            placed: false,
            synced_at: None,
            shown_second: (0, None),
            dirty: true,
        }
    }

    /// Whether the wallboard is shown instead of the dashboard.
    pub fn wall(&self) -> bool {
        self.wall
    }

    /// The wallboard's page now, of `pages`: the pages turn every `[wall] rotate_secs`.
    pub fn wall_page(&self, pages: usize) -> usize {
        let every = self.config.wall_rotate.as_secs().max(1);
        let turns = self.now.saturating_duration_since(self.epoch).as_secs() / every;
        usize::try_from(turns).unwrap_or(0) % pages.max(1)
    }

    /// The configuration.
    pub fn config(&self) -> &UiConfig {
        &self.config
    }

    /// The screen's copy of the model.
    pub fn model(&self) -> &Tables {
        &self.model
    }

    /// The time every shown duration is measured to.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The wall clock, when known.
    pub fn clock(&self) -> Option<LocalTime> {
        self.clock
    }

    /// The terminal size last reported.
    pub fn size(&self) -> (u16, u16) {
        self.size
    }

    /// The focused pane.
    pub fn focus(&self) -> Pane {
        self.focus
    }

    /// The selection.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The rows and figures.
    pub fn derived(&self) -> &Derived {
        &self.derived
    }

    /// How the panes are narrowed and sorted.
    pub fn view_state(&self) -> &ViewState {
        &self.view
    }

    /// The waiting pane's rows: every queue's, longest wait first, or the selected queue's
    /// in its own order when narrowed.
    pub fn waiting_rows(&self) -> &[AppearanceId] {
        if self.view.narrow_waiting {
            self.derived.waiting_of(self.selection.queue.as_ref())
        } else {
            self.derived.floor()
        }
    }

    /// The overlay.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// The filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The latest status message.
    pub fn status(&self) -> Option<&Message> {
        self.status.as_ref()
    }

    /// The message history, newest first.
    pub fn history(&self) -> impl Iterator<Item = &Entry> {
        self.history.iter()
    }

    /// The open prompt or confirmation.
    pub fn modal(&self) -> Option<&Modal> {
        self.modal.as_ref()
    }

    /// Why the last retry after a refused login was not made, until a new session starts.
    pub fn retry_refused(&self) -> Option<&str> {
        self.retry_refused.as_deref()
    }

    /// Why no function can be sent from this screen, as the application learnt it; `None`
    /// when they can (or nothing says otherwise).
    pub fn cannot_send(&self) -> Option<&str> {
        self.cannot_send.as_deref()
    }

    /// Where keys are looked up now.
    pub fn context(&self) -> Context {
        match (&self.modal, &self.overlay) {
            (Some(Modal::Prompt(_)), _) => Context::Prompt,
            (Some(Modal::Confirm(c)), _) if c.word.is_some() => Context::Prompt,
            (Some(Modal::Confirm(_)), _) => Context::Confirm,
            (None, Overlay::Help { .. }) => Context::Help,
            (None, Overlay::Messages { .. }) => Context::Messages,
            (None, Overlay::Detail { .. }) => Context::Detail,
            (None, Overlay::None) if self.filter.editing => Context::Filter,
            (None, Overlay::None) => Context::Main,
        }
    }

    /// Whether the data shown is stale: the link is down after having carried data.
    pub fn stale(&self) -> bool {
        !self.model.connection().is_up()
            && (self.model.users().next().is_some() || self.model.queues().next().is_some())
    }

    /// Whether the session stopped because the PBX refused the login.
    pub fn login_refused(&self) -> bool {
        matches!(
            self.model.connection(),
            ConnectionState::Stopped {
                kind: StopKind::LoginRejected,
                ..
            }
        )
    }

    /// Whether something visible changed since the last [`App::drawn`].
    pub fn needs_redraw(&self) -> bool {
        self.dirty
    }

    /// Records that the current state has been drawn.
    pub fn drawn(&mut self) {
        self.dirty = false;
    }

    /// Whether a wait of `d` on `queue` is long: at or over its effective
    /// `longest_warn_secs` (the default's when the queue is not known).
    pub fn is_long_wait(&self, queue: Option<&Queue>, d: Duration) -> bool {
        self.config
            .alerts
            .longest_warn(queue)
            .is_some_and(|t| d >= t)
    }

    /// The queue a call counts for: the one its queue information names, else the queue
    /// line it is on (as the statistics count it).
    pub fn queue_of(&self, a: &Appearance) -> Option<&Queue> {
        let named = a.call.queue.as_ref().map(|q| q.number.as_str());
        named
            .and_then(|n| self.model.queue_by_extn(n))
            .or_else(|| match &a.key.line {
                crate::model::LineId::Queue(g) => self.model.queue(g),
                _ => None,
            })
            .map(|q| &**q)
    }

    /// How long since `t`, by the state's `now`.
    pub fn since(&self, t: Instant) -> Duration {
        self.now.saturating_duration_since(t)
    }

    /// Handles one input; returns what the application layer must do.
    pub fn update(&mut self, event: Event) -> Vec<Action> {
        match event {
            Event::Model(events) => {
                self.apply(&events);
                self.observe_alerts(&events);
                if let Some(t) = &mut self.trends {
                    for ev in &events {
                        t.observe(ev);
                    }
                }
                Vec::new()
            }
            Event::Judged(judged) => self.follow_judged(judged),
            Event::Key(key) => {
                self.dirty = true;
                self.key(key)
            }
            Event::Resize { width, height } => {
                self.size = (width, height);
                self.dirty = true;
                Vec::new()
            }
            Event::Tick { now, clock } => {
                self.now = now;
                self.clock = clock;
                // Nobody waiting in the first queue a moment after the sync: the start-up
                // selection stays on the queue, and a later call will not move it.
                if self
                    .synced_at
                    .is_some_and(|t| now.saturating_duration_since(t) >= SETTLE)
                {
                    self.placed = true;
                }
                let second = (now.saturating_duration_since(self.epoch).as_secs(), clock);
                if second != self.shown_second {
                    self.shown_second = second;
                    self.dirty = true;
                }
                // The engines are judged once a second at most: their dwell and minutes are
                // whole seconds, and a batch of the PBX's changes comes with a tick of its own.
                if self
                    .judged_at
                    .is_none_or(|t| now.saturating_duration_since(t) >= JUDGE_EVERY)
                {
                    self.judged_at = Some(now);
                    self.sample_trends();
                    self.judge_alerts()
                } else {
                    Vec::new()
                }
            }
            Event::Message(m) => {
                self.say(m);
                self.dirty = true;
                Vec::new()
            }
            Event::Outcome { ticket, status } => {
                self.outcome(ticket, &status);
                self.dirty = true;
                Vec::new()
            }
            Event::RetryRefused(why) => {
                self.say(Message::new(Level::Error, "not retried: see above"));
                self.retry_refused = Some(why);
                self.dirty = true;
                Vec::new()
            }
            Event::CannotSend(why) => {
                self.dirty |= self.cannot_send != why;
                self.cannot_send = why;
                Vec::new()
            }
            Event::Retrying { pbx } => {
                self.config.pbx = pbx;
                self.retry_refused = None;
                self.say(Message::new(
                    Level::Info,
                    "the credentials changed: logging in again…",
                ));
                self.dirty = true;
                Vec::new()
            }
        }
    }

    /// What the functions read of the screen: the model, the configuration and where the
    /// supervisor is.
    pub fn scene(&self) -> Scene<'_> {
        Scene {
            model: &self.model,
            config: &self.config,
            focus: self.focus,
            selection: &self.selection,
            overlay: &self.overlay,
            now: self.now,
        }
    }
}

/// Handles one input (see [`App::update`]).
pub fn update(app: &mut App, event: Event) -> Vec<Action> {
    app.update(event)
}
