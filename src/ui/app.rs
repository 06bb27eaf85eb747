//! The screen's state and its update function (the Elm Architecture): every input is an
//! [`Event`], [`update`] changes the [`App`] and returns what the application layer must do
//! ([`Action`]s), and the view renders the state without changing it or reading a clock.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::functions::{self, AuditRecord, Confirm, Prompt, Step};
use super::keymap::{Context, Key, KeyAction, KeyCode, Keymap};
use super::rows::{Derived, agent_calls};
use super::text::clean;
use super::theme::Theme;
use crate::model::{
    Appearance, AppearanceId, CallState, Command, CommandStatus, ConnectionState, EndReason,
    Function, FunctionTarget, Guid, Model, ModelEvent, StopKind, Text,
};

/// Appearances that ended in one batch: as last seen, and why in words.
type Ended = HashMap<AppearanceId, (Arc<Appearance>, String)>;

/// How long after the sync the start-up selection waits for a first caller in the first queue.
const SETTLE: Duration = Duration::from_secs(2);

/// The default long-wait threshold, in seconds (`[ui] long_wait_secs`).
pub const DEFAULT_LONG_WAIT_SECS: u64 = 60;

/// How many messages the history (`M`) keeps.
pub const HISTORY_LEN: usize = 50;

/// How the screen is set up.
#[derive(Clone, Debug)]
pub struct UiConfig {
    /// What the header calls the PBX (its host name or address).
    pub pbx: String,
    /// A banner shown first in the header (`DEMO` when running the simulator).
    pub banner: Option<String>,
    /// A wait at least this long is marked (`[ui] long_wait_secs`).
    pub long_wait_secs: u64,
    /// Colours, or none.
    pub theme: Theme,
    /// The keymap.
    pub keymap: Keymap,
    /// The supervisor's own extension (`[supervisor] extension`): barge, pick up and unpark
    /// are made from it, and its calls are shown in the My line strip.
    pub supervisor: Option<String>,
    /// Read-only (`--read-only` or `[ui] read_only`): every function is hidden and refused.
    pub read_only: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            pbx: String::new(),
            banner: None,
            long_wait_secs: DEFAULT_LONG_WAIT_SECS,
            theme: Theme::colour(),
            keymap: Keymap::default(),
            supervisor: None,
            read_only: false,
        }
    }
}

/// The local time of day, for the header's clock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WallClock {
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
}

impl fmt::Display for WallClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// How a status message should be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    /// Plain information.
    Info,
    /// Something worth noticing (the selection moved, ...).
    Notice,
    /// Something failed or was refused.
    Error,
    /// A function's effect was seen.
    Done,
}

/// A line for the status bar.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    /// How to read it.
    pub level: Level,
    /// What it says.
    pub text: String,
}

impl Message {
    /// A message.
    pub fn new(level: Level, text: impl Into<String>) -> Message {
        Message {
            level,
            text: text.into(),
        }
    }
}

/// The screen's own number for a function it asked to send, to follow what becomes of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Ticket(pub u64);

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A function the application layer must send: audit it first, then hand the command to
/// the session, and report back with [`Event::Outcome`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Request {
    /// The screen's number for it.
    pub ticket: Ticket,
    /// The command for the session.
    pub command: Command,
    /// In words, e.g. "transferring 02079460958 to 4103".
    pub words: String,
    /// What the audit log records of it.
    pub audit: AuditRecord,
}

/// One line of the message history.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    /// The wall clock when it was last updated, when known.
    pub clock: Option<WallClock>,
    /// The message.
    pub message: Message,
    /// The request it reports on, if any (its line is updated in place).
    pub ticket: Option<Ticket>,
}

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

/// An input to the screen.
#[derive(Clone, Debug)]
pub enum Event {
    /// A batch of model changes, in order.
    Model(Vec<ModelEvent>),
    /// A key press.
    Key(Key),
    /// The terminal's new size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// Time passed: the monotonic `now` that times are measured with, and the wall clock.
    Tick {
        /// Now.
        now: Instant,
        /// The local time of day, when known.
        clock: Option<WallClock>,
    },
    /// A message from the application layer for the status line.
    Message(Message),
    /// The application layer did not retry the refused login, and says why and what to fix.
    RetryRefused(String),
    /// The session logs in again with changed credentials (the model is kept and reconciled
    /// by the session like after any reconnect).
    Retrying {
        /// What the header calls the PBX now.
        pbx: String,
    },
    /// What became of a request: the session's reports (sent, accepted, done, no effect,
    /// failed), or why it was not sent (the audit log could not be written).
    Outcome {
        /// The request.
        ticket: Ticket,
        /// Where it stands.
        status: CommandStatus,
    },
}

/// What the application layer must do after an update.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Action {
    /// Restore the terminal and exit.
    Quit,
    /// The session stopped on a refused login and the user asks to log in again: re-read the
    /// configuration and the password source, refuse if the credentials are the ones the PBX
    /// refused, else restart the session.
    RetryLogin,
    /// Send a function: record it in the audit log (refuse it if that fails), then hand it
    /// to the session.
    Send(Request),
}

/// The panes, in `Tab` order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Pane {
    /// Queues and their figures.
    Queues,
    /// The waiting calls of the selected queue.
    Waiting,
    /// The agent grid.
    Agents,
    /// Parked calls.
    Parked,
}

impl Pane {
    const ORDER: [Pane; 4] = [Pane::Queues, Pane::Waiting, Pane::Agents, Pane::Parked];
}

/// What each pane has selected, by identity: never a row number, so re-sorting, new rows and
/// filtering never move it.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Selection {
    /// The queue whose waiting calls are listed.
    pub queue: Option<Guid>,
    /// The selected waiting call (a queue appearance).
    pub call: Option<AppearanceId>,
    /// The selected agent.
    pub agent: Option<Guid>,
    /// The selected parked call.
    pub parked: Option<AppearanceId>,
}

/// What a detail overlay shows.
#[derive(Clone, PartialEq, Debug)]
pub enum DetailTarget {
    /// A call appearance; its last snapshot is kept so it can still be read after it ends.
    Call {
        /// Its identity.
        id: AppearanceId,
        /// As last seen.
        last: Arc<Appearance>,
        /// Why it ended, once it has.
        ended: Option<String>,
    },
    /// An agent and its calls.
    Agent(Guid),
    /// A queue and its members.
    Queue(Guid),
}

/// An overlay over the panes.
#[derive(Clone, PartialEq, Debug)]
pub enum Overlay {
    /// None: the panes have the keys.
    None,
    /// Help, scrolled down this many lines.
    Help {
        /// Lines scrolled.
        scroll: u16,
    },
    /// A detail, scrolled down this many lines.
    Detail {
        /// What it shows.
        target: DetailTarget,
        /// Lines scrolled.
        scroll: u16,
        /// The call of an agent, or the member of a queue, that functions act on.
        pick: usize,
    },
    /// The message history, newest first.
    Messages {
        /// Lines scrolled.
        scroll: u16,
    },
}

/// The filter.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Filter {
    /// The text calls and agents must contain.
    pub text: String,
    /// Whether it is being typed.
    pub editing: bool,
}

/// The screen's whole state.
#[derive(Debug)]
pub struct App {
    config: UiConfig,
    model: Model,
    now: Instant,
    epoch: Instant,
    clock: Option<WallClock>,
    size: (u16, u16),
    focus: Pane,
    selection: Selection,
    derived: Derived,
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
    /// Whether the start-up selection is settled (a call selected, the user moved, or the
    /// model synced a moment ago).
    placed: bool,
    /// When the model was first seen synced.
    synced_at: Option<Instant>,
    /// The second last drawn, so a tick only redraws when a shown time changes.
    shown_second: (u64, Option<WallClock>),
    dirty: bool,
}

impl App {
    /// A screen with an empty model (a replica fed by [`Event::Model`]).
    pub fn new(config: UiConfig, now: Instant) -> App {
        App {
            config,
            model: Model::replica(),
            now,
            epoch: now,
            clock: None,
            size: (80, 24),
            focus: Pane::Queues,
            selection: Selection::default(),
            derived: Derived::default(),
            overlay: Overlay::None,
            filter: Filter::default(),
            status: None,
            history: VecDeque::new(),
            modal: None,
            requests: HashMap::new(),
            next_ticket: 1,
            retry_refused: None,
            placed: false,
            synced_at: None,
            shown_second: (0, None),
            dirty: true,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UiConfig {
        &self.config
    }

    /// The screen's copy of the model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The time every shown duration is measured to.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The wall clock, when known.
    pub fn clock(&self) -> Option<WallClock> {
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

    /// Whether a wait of `d` is long.
    pub fn is_long_wait(&self, d: Duration) -> bool {
        d.as_secs() >= self.config.long_wait_secs
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
                Vec::new()
            }
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
                Vec::new()
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

    // ----------------------------------------------------------------------------------------
    // Model updates

    fn apply(&mut self, events: &[ModelEvent]) {
        if events.is_empty() {
            return;
        }
        let mut ended: Ended = HashMap::new();
        // The detail's pick holds its item's identity across the changes.
        let picked = self.picked_identity();
        for ev in events {
            self.model.apply(ev);
            if let ModelEvent::CallEnded { call, reason } = ev {
                ended.insert(call.id, (call.clone(), end_words(reason)));
            }
        }
        self.restore_pick(picked);
        if let Overlay::Detail {
            target:
                DetailTarget::Call {
                    id,
                    last,
                    ended: why,
                },
            ..
        } = &mut self.overlay
        {
            if let Some(a) = self.model.appearance(*id) {
                *last = a.clone();
            } else if why.is_none() {
                *why = Some(
                    ended
                        .get(id)
                        .map_or_else(|| "ended".to_owned(), |(_, w)| w.clone()),
                );
            }
        }
        if self.synced_at.is_none()
            && matches!(self.model.connection(), ConnectionState::Connected { .. })
        {
            self.synced_at = Some(self.now);
        }
        self.refresh(&ended);
        self.recheck_modal(&ended);
        self.dirty = true;
    }

    /// The identity of what the open detail has picked: an agent's call or a queue's member.
    fn picked_identity(&self) -> Option<Result<AppearanceId, Text>> {
        match &self.overlay {
            Overlay::Detail {
                target: DetailTarget::Agent(g),
                pick,
                ..
            } => functions::picked_agent_call(self, g, *pick).map(|a| Ok(a.id)),
            Overlay::Detail {
                target: DetailTarget::Queue(g),
                pick,
                ..
            } => functions::picked_member(self, g, *pick).map(Err),
            _ => None,
        }
    }

    fn restore_pick(&mut self, picked: Option<Result<AppearanceId, Text>>) {
        let (count, at) = match &self.overlay {
            Overlay::Detail {
                target: DetailTarget::Agent(g),
                ..
            } => {
                let calls = self
                    .model
                    .user(g)
                    .map(|u| agent_calls(&self.model, u))
                    .unwrap_or_default();
                let at = match &picked {
                    Some(Ok(id)) => calls.iter().position(|a| a.id == *id),
                    _ => None,
                };
                (calls.len(), at)
            }
            Overlay::Detail {
                target: DetailTarget::Queue(g),
                ..
            } => {
                let members = self.model.queue(g).map(|q| q.members()).unwrap_or(&[]);
                let at = match &picked {
                    Some(Err(extn)) => members.iter().position(|m| &m.extn == extn),
                    _ => None,
                };
                (members.len(), at)
            }
            _ => return,
        };
        if let Overlay::Detail { pick, .. } = &mut self.overlay {
            *pick = at.unwrap_or((*pick).min(count.saturating_sub(1)));
        }
    }

    /// Cancels the open prompt or confirmation, saying why, when what it acts on ended or no
    /// longer allows the function.
    fn recheck_modal(&mut self, ended: &Ended) {
        let Some(modal) = &self.modal else { return };
        let f = modal.function();
        let target = modal.target().clone();
        let Err(refusal) = functions::check(self, f, &target) else {
            return;
        };
        let why = match &target {
            FunctionTarget::Call(id) => match ended.get(id) {
                Some((call, words)) => {
                    let who = caller_words(call);
                    if who.is_empty() {
                        format!("the call {words}")
                    } else {
                        format!("the call from {who} {words}")
                    }
                }
                None => refusal.why,
            },
            _ => refusal.why,
        };
        self.modal = None;
        self.say(Message::new(
            Level::Notice,
            format!("{} cancelled: {why}; nothing sent", f.word()),
        ));
    }

    // ----------------------------------------------------------------------------------------
    // Messages and outcomes

    /// Shows a message in the status line and keeps it in the history.
    fn say(&mut self, m: Message) {
        self.remember(m.clone(), None);
        self.status = Some(m);
    }

    fn remember(&mut self, message: Message, ticket: Option<Ticket>) {
        if let Some(t) = ticket {
            if let Some(at) = self.history.iter().position(|e| e.ticket == Some(t)) {
                // An outcome's line is updated in place and comes to the top.
                self.history.remove(at);
            }
        }
        self.history.push_front(Entry {
            clock: self.clock,
            message,
            ticket,
        });
        self.history.truncate(HISTORY_LEN);
    }

    fn outcome(&mut self, ticket: Ticket, status: &CommandStatus) {
        let Some(words) = self.requests.get(&ticket).cloned() else {
            return;
        };
        let level = match status {
            CommandStatus::Sent | CommandStatus::Accepted => Level::Info,
            CommandStatus::Done { .. } => Level::Done,
            CommandStatus::NoEffect { .. } | CommandStatus::Interrupted { .. } => Level::Notice,
            CommandStatus::Failed { .. }
            | CommandStatus::CallFailed { .. }
            | CommandStatus::Refused { .. } => Level::Error,
        };
        let text = match status {
            CommandStatus::Sent => format!("{words} …"),
            other => format!("{words} … {}", clean(&other.to_string())),
        };
        if status.is_final() {
            // The history keeps the words.
            self.requests.remove(&ticket);
        }
        let m = Message::new(level, text);
        self.remember(m.clone(), Some(ticket));
        self.status = Some(m);
    }

    /// Re-derives the rows and keeps each selection on its item, or on the item's neighbour
    /// when it is gone.
    fn refresh(&mut self, ended: &Ended) {
        let old = std::mem::replace(
            &mut self.derived,
            Derived::new(&self.model, &self.filter.text),
        );
        if !self.placed {
            self.place();
            // The first call seen is the longest waiting (waits count from first seen), so
            // once one is selected the start-up selection is settled.
            self.placed = self.selection.call.is_some();
            return;
        }
        let old_queue = self.selection.queue.clone();
        self.selection.queue = keep_or_neighbour(
            self.selection.queue.as_ref(),
            &old.queues,
            &self.derived.queues,
        );
        if self.selection.queue != old_queue {
            self.selection.call = self.longest_waiting();
        } else {
            let before = self.selection.call;
            self.selection.call = keep_or_neighbour(
                before.as_ref(),
                old.waiting_of(old_queue.as_ref()),
                self.derived.waiting_of(self.selection.queue.as_ref()),
            );
            if let (Some(gone), true) = (before, self.selection.call != before) {
                self.left_waiting(gone, ended);
            }
        }
        let old_agents = old.agent_ids();
        self.selection.agent = keep_or_neighbour(
            self.selection.agent.as_ref(),
            &old_agents,
            &self.derived.agent_ids(),
        );
        let before = self.selection.parked;
        self.selection.parked =
            keep_or_neighbour(before.as_ref(), &old.parked, &self.derived.parked);
        if let (Some(gone), true) = (before, self.selection.parked != before) {
            if let Some((_, why)) = ended.get(&gone) {
                self.say(Message::new(
                    Level::Notice,
                    format!("the selected parked call {why}"),
                ));
            }
        }
    }

    /// The start-up selection: the longest-waiting call of the first queue, or the first
    /// queue when nobody waits there.
    fn place(&mut self) {
        self.selection.queue = self.derived.queues.first().cloned();
        self.selection.call = self.longest_waiting();
        self.selection.agent = self.derived.agents.first().map(|r| r.guid.clone());
        self.selection.parked = self.derived.parked.first().copied();
        self.focus = if self.selection.call.is_some() {
            Pane::Waiting
        } else {
            Pane::Queues
        };
    }

    /// The longest-waiting listed call of the selected queue.
    fn longest_waiting(&self) -> Option<AppearanceId> {
        self.derived
            .waiting_of(self.selection.queue.as_ref())
            .iter()
            .filter_map(|id| self.model.appearance(*id))
            .min_by_key(|a| (a.first_seen, a.id))
            .map(|a| a.id)
    }

    /// Says why the selected waiting call left the list and where the selection went.
    fn left_waiting(&mut self, gone: AppearanceId, ended: &Ended) {
        let (who, what) = if let Some((call, why)) = ended.get(&gone) {
            (caller_words(call), why.clone())
        } else if let Some(a) = self.model.appearance(gone) {
            if a.call.state.is_waiting() {
                // Still waiting, only hidden by the filter.
                return;
            }
            let what = match (a.call.state, a.call.connected.as_ref()) {
                (CallState::Connected, Some(p)) if !p.label().is_empty() => {
                    format!("was answered by {}", clean(&p.label()))
                }
                (state, _) => format!("is {state} now"),
            };
            (caller_words(a), what)
        } else {
            (String::new(), "ended".to_owned())
        };
        let who = if who.is_empty() {
            "the selected call".to_owned()
        } else {
            format!("the call from {who}")
        };
        let next = match self.selection.call.and_then(|id| self.model.appearance(id)) {
            Some(a) => format!("; selected {}", caller_words(a)),
            None => "; no call waiting here now".to_owned(),
        };
        self.say(Message::new(Level::Notice, format!("{who} {what}{next}")));
    }

    // ----------------------------------------------------------------------------------------
    // Keys

    fn key(&mut self, key: Key) -> Vec<Action> {
        let context = self.context();
        let action = self.config.keymap.action(context, key);
        match context {
            Context::Confirm => return self.confirm_key(action),
            Context::Prompt => return self.prompt_key(key, action),
            _ => {}
        }
        let Some(action) = action else {
            if context == Context::Filter {
                if let Some(c) = key.typed() {
                    self.filter.text.push(c);
                    self.refilter();
                }
            }
            return Vec::new();
        };
        if let KeyAction::Function(f) = action {
            return self.function(f);
        }
        match action {
            KeyAction::Quit => return vec![Action::Quit],
            KeyAction::RetryLogin => return self.retry(),
            KeyAction::Help => {
                self.overlay = match self.overlay {
                    Overlay::Help { .. } => Overlay::None,
                    _ => Overlay::Help { scroll: 0 },
                };
            }
            KeyAction::Messages => {
                self.overlay = match self.overlay {
                    Overlay::Messages { .. } => Overlay::None,
                    _ => Overlay::Messages { scroll: 0 },
                };
            }
            KeyAction::Back => match (&self.overlay, self.filter.editing) {
                (Overlay::None, _) => {
                    self.filter = Filter::default();
                    self.refilter();
                }
                _ => self.overlay = Overlay::None,
            },
            KeyAction::Filter => self.filter.editing = true,
            KeyAction::FilterApply => self.filter.editing = false,
            KeyAction::FilterDelete => {
                self.filter.text.pop();
                self.refilter();
            }
            KeyAction::FilterClear => {
                self.filter.text.clear();
                self.refilter();
            }
            KeyAction::Open => self.open(),
            KeyAction::NextPane => self.cycle(1),
            KeyAction::PrevPane => self.cycle(Pane::ORDER.len() - 1),
            KeyAction::Up => self.step(-1, true),
            KeyAction::Down => self.step(1, true),
            KeyAction::PageUp => self.step(-self.page(), false),
            KeyAction::PageDown => self.step(self.page(), false),
            KeyAction::Top => self.step(isize::MIN / 2, false),
            KeyAction::Bottom => self.step(isize::MAX / 2, false),
            // Functions were dispatched above; prompt and confirmation keys only act there.
            _ => {}
        }
        Vec::new()
    }

    // ----------------------------------------------------------------------------------------
    // Functions

    /// A function's key: refused with the reason, or the prompt or confirmation it needs, or
    /// sent at once.
    fn function(&mut self, f: Function) -> Vec<Action> {
        if self.config.read_only {
            self.say(Message::new(
                Level::Notice,
                format!(
                    "read-only: {} and every other function are off (--read-only or [ui] \
                     read_only)",
                    f.word()
                ),
            ));
            return Vec::new();
        }
        if !self.model.connection().is_up() {
            self.say(Message::new(
                Level::Error,
                format!(
                    "can't {}: not connected to the PBX; nothing is sent while the link is down",
                    f.word()
                ),
            ));
            return Vec::new();
        }
        match functions::plan(self, f) {
            Err(r) => {
                self.say(Message::new(
                    Level::Notice,
                    format!("can't {}: {}", f.word(), r.why),
                ));
                Vec::new()
            }
            Ok(step) => self.take(step),
        }
    }

    fn take(&mut self, step: Step) -> Vec<Action> {
        match step {
            Step::Prompt(p) => {
                self.modal = Some(Modal::Prompt(p));
                Vec::new()
            }
            Step::Confirm(c) => {
                self.modal = Some(Modal::Confirm(c));
                Vec::new()
            }
            Step::Send(d) => self.send(d),
        }
    }

    /// Hands a function to the application layer, unless the link is down.
    fn send(&mut self, d: functions::Draft) -> Vec<Action> {
        self.modal = None;
        if !self.model.connection().is_up() {
            self.say(Message::new(
                Level::Error,
                format!("not sent: {}: not connected to the PBX", d.words),
            ));
            return Vec::new();
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.requests.insert(ticket, d.words.clone());
        let m = Message::new(Level::Info, format!("{} …", d.words));
        self.remember(m.clone(), Some(ticket));
        self.status = Some(m);
        vec![Action::Send(Request {
            ticket,
            command: d.command,
            words: d.words,
            audit: d.audit,
        })]
    }

    fn cancel(&mut self, why: &str) {
        if let Some(m) = self.modal.take() {
            self.say(Message::new(
                Level::Info,
                format!("{} cancelled{why}; nothing sent", m.function().word()),
            ));
        }
    }

    /// A key while a question waits: its confirming key goes ahead, any other key cancels.
    fn confirm_key(&mut self, action: Option<KeyAction>) -> Vec<Action> {
        let Some(Modal::Confirm(c)) = self.modal.clone() else {
            return Vec::new();
        };
        if action != Some(KeyAction::Confirm) {
            self.cancel("");
            return Vec::new();
        }
        self.go(&c)
    }

    fn go(&mut self, c: &Confirm) -> Vec<Action> {
        match functions::draft(self, c.function, &c.target, c.argument.clone()) {
            Ok(d) => self.send(d),
            Err(r) => {
                self.modal = None;
                self.say(Message::new(
                    Level::Notice,
                    format!("{} not sent: {}", c.function.word(), r.why),
                ));
                Vec::new()
            }
        }
    }

    /// A key while a prompt (or a typed confirmation) is open.
    fn prompt_key(&mut self, key: Key, action: Option<KeyAction>) -> Vec<Action> {
        match self.modal.clone() {
            Some(Modal::Confirm(mut c)) => match action {
                Some(KeyAction::Send) => {
                    let word = c.word.unwrap_or_default();
                    if c.typed == word {
                        return self.go(&c);
                    }
                    let typed = if c.typed.is_empty() {
                        "nothing was typed".to_owned()
                    } else {
                        format!("“{}” is not {word}", clean(&c.typed))
                    };
                    self.cancel(&format!(" ({typed})"));
                }
                Some(KeyAction::Back) => self.cancel(""),
                Some(KeyAction::PromptDelete) => {
                    c.typed.pop();
                    self.modal = Some(Modal::Confirm(c));
                }
                Some(KeyAction::PromptClear) => {
                    c.typed.clear();
                    self.modal = Some(Modal::Confirm(c));
                }
                _ => {
                    if let Some(ch) = key.typed() {
                        if c.typed.chars().count() < 16 {
                            c.typed.push(ch);
                        }
                        self.modal = Some(Modal::Confirm(c));
                    }
                }
            },
            Some(Modal::Prompt(mut p)) => match action {
                Some(KeyAction::Send) => {
                    if let Err(r) = functions::check(self, p.function, &p.target) {
                        self.modal = None;
                        self.say(Message::new(
                            Level::Notice,
                            format!("{} cancelled: {}; nothing sent", p.function.word(), r.why),
                        ));
                        return Vec::new();
                    }
                    match functions::answer(self, &p) {
                        Ok(step) => return self.take(step),
                        Err(why) => {
                            p.error = Some(why);
                            self.modal = Some(Modal::Prompt(p));
                        }
                    }
                }
                Some(KeyAction::Back) => self.cancel(""),
                Some(KeyAction::NextChoice) => {
                    p.cycle(true);
                    self.modal = Some(Modal::Prompt(p));
                }
                Some(KeyAction::PrevChoice) => {
                    p.cycle(false);
                    self.modal = Some(Modal::Prompt(p));
                }
                Some(KeyAction::PromptDelete) => {
                    p.delete();
                    self.modal = Some(Modal::Prompt(p));
                }
                Some(KeyAction::PromptClear) => {
                    p.clear();
                    self.modal = Some(Modal::Prompt(p));
                }
                _ => {
                    if let Some(ch) = key.typed() {
                        p.type_char(ch);
                        self.modal = Some(Modal::Prompt(p));
                    } else if key.code == KeyCode::Enter {
                        // Enter bound elsewhere by [keys]: never a silent no-op.
                        p.error = Some("press the send key to send".to_owned());
                        self.modal = Some(Modal::Prompt(p));
                    }
                }
            },
            None => {}
        }
        Vec::new()
    }

    fn retry(&mut self) -> Vec<Action> {
        if self.login_refused() {
            self.retry_refused = None;
            self.say(Message::new(
                Level::Info,
                "reading the configuration and the password again…",
            ));
            return vec![Action::RetryLogin];
        }
        let why = match self.model.connection() {
            ConnectionState::Reconnecting { .. } | ConnectionState::Connecting { .. } => {
                "R is for a refused login; the session is reconnecting by itself"
            }
            ConnectionState::Stopped { .. } => "R is for a refused login; this session was stopped",
            _ => "R is for a refused login; the PBX has not refused one",
        };
        self.say(Message::new(Level::Info, why));
        Vec::new()
    }

    fn refilter(&mut self) {
        self.placed = true;
        self.refresh(&HashMap::new());
    }

    fn page(&self) -> isize {
        (self.size.1 / 3).max(1) as isize
    }

    fn cycle(&mut self, by: usize) {
        self.placed = true;
        let pos = Pane::ORDER
            .iter()
            .position(|p| *p == self.focus)
            .unwrap_or(0);
        for i in 1..=Pane::ORDER.len() {
            let Some(next) = Pane::ORDER.get((pos + i * by) % Pane::ORDER.len()) else {
                continue;
            };
            // An empty parked pane is not a stop.
            if *next == Pane::Parked && self.derived.parked.is_empty() {
                continue;
            }
            self.focus = *next;
            return;
        }
    }

    fn step(&mut self, by: isize, by_row: bool) {
        if by_row && self.move_pick(by) {
            return;
        }
        if !matches!(self.overlay, Overlay::None) {
            let max = isize::try_from(super::view::max_scroll(self)).unwrap_or(0);
            if let Overlay::Help { scroll }
            | Overlay::Messages { scroll }
            | Overlay::Detail { scroll, .. } = &mut self.overlay
            {
                let s = (*scroll as isize).saturating_add(by).clamp(0, max);
                *scroll = u16::try_from(s).unwrap_or(0);
            }
            return;
        }
        self.placed = true;
        fn moved<T: Clone + PartialEq>(rows: &[T], cur: Option<&T>, by: isize) -> Option<T> {
            let last = rows.len().checked_sub(1)?;
            let at = cur.and_then(|c| rows.iter().position(|r| r == c));
            let next = match at {
                Some(i) => i.saturating_add_signed(by).min(last),
                None if by < 0 => last,
                None => 0,
            };
            rows.get(next).cloned()
        }
        match self.focus {
            Pane::Queues => {
                let q = moved(&self.derived.queues, self.selection.queue.as_ref(), by);
                if q.is_some() && q != self.selection.queue {
                    self.selection.queue = q;
                    self.selection.call = self.longest_waiting();
                }
            }
            Pane::Waiting => {
                let rows = self.derived.waiting_of(self.selection.queue.as_ref());
                if let Some(c) = moved(rows, self.selection.call.as_ref(), by) {
                    self.selection.call = Some(c);
                }
            }
            Pane::Agents => {
                let rows = self.derived.agent_ids();
                if let Some(a) = moved(&rows, self.selection.agent.as_ref(), by) {
                    self.selection.agent = Some(a);
                }
            }
            Pane::Parked => {
                if let Some(p) = moved(&self.derived.parked, self.selection.parked.as_ref(), by) {
                    self.selection.parked = Some(p);
                }
            }
        }
    }

    /// In an agent's detail with several calls, or a queue's detail with members, a row key
    /// moves the pick (and scrolls it into view). Returns false when there is nothing to pick.
    fn move_pick(&mut self, by: isize) -> bool {
        let count = match &self.overlay {
            Overlay::Detail {
                target: DetailTarget::Agent(g),
                ..
            } => self
                .model
                .user(g)
                .map_or(0, |u| agent_calls(&self.model, u).len()),
            Overlay::Detail {
                target: DetailTarget::Queue(g),
                ..
            } => self.model.queue(g).map_or(0, |q| q.members().len()),
            _ => 0,
        };
        let agent = matches!(
            self.overlay,
            Overlay::Detail {
                target: DetailTarget::Agent(_),
                ..
            }
        );
        // One call needs no picking: the rows scroll instead.
        if count == 0 || (agent && count < 2) {
            return false;
        }
        if let Overlay::Detail { pick, .. } = &mut self.overlay {
            *pick = pick.saturating_add_signed(by).min(count - 1);
        }
        let line = super::view::pick_line(self);
        let max = super::view::max_scroll(self);
        let visible = super::view::overlay_visible(self);
        if let (Some(line), Overlay::Detail { scroll, .. }) = (line, &mut self.overlay) {
            let line = u16::try_from(line).unwrap_or(u16::MAX);
            if line < *scroll {
                *scroll = line;
            } else if line >= scroll.saturating_add(visible) {
                // An agent's call shows from its heading; a member is one line.
                *scroll = if agent {
                    line
                } else {
                    line.saturating_sub(visible.saturating_sub(1))
                };
            }
            *scroll = (*scroll).min(max);
        }
        true
    }

    fn open(&mut self) {
        self.placed = true;
        let call = |id: Option<AppearanceId>| {
            id.and_then(|id| self.model.appearance(id))
                .map(|a| DetailTarget::Call {
                    id: a.id,
                    last: a.clone(),
                    ended: None,
                })
        };
        let target = match self.focus {
            Pane::Queues => self.selection.queue.clone().map(DetailTarget::Queue),
            Pane::Waiting => call(self.selection.call),
            Pane::Agents => self.selection.agent.clone().map(DetailTarget::Agent),
            Pane::Parked => call(self.selection.parked),
        };
        match target {
            Some(target) => {
                self.overlay = Overlay::Detail {
                    target,
                    scroll: 0,
                    pick: 0,
                }
            }
            None => {
                self.say(Message::new(Level::Info, "nothing selected here"));
            }
        }
    }
}

/// Handles one input (see [`App::update`]).
pub fn update(app: &mut App, event: Event) -> Vec<Action> {
    app.update(event)
}

/// The selected item if it is still listed; else the next old row that still is, else the
/// previous one, else the first row.
fn keep_or_neighbour<T: Clone + PartialEq>(sel: Option<&T>, old: &[T], new: &[T]) -> Option<T> {
    let Some(sel) = sel else {
        return new.first().cloned();
    };
    if new.contains(sel) {
        return Some(sel.clone());
    }
    if let Some(at) = old.iter().position(|r| r == sel) {
        let after = old.iter().skip(at + 1).find(|r| new.contains(r));
        let before = old.iter().take(at).rev().find(|r| new.contains(r));
        if let Some(n) = after.or(before) {
            return Some(n.clone());
        }
    }
    new.first().cloned()
}

/// The caller of a call, in a few words.
pub fn caller_words(a: &Appearance) -> String {
    let label = a
        .call
        .calling
        .as_ref()
        .map(|p| p.label())
        .filter(|l| !l.is_empty())
        .or_else(|| a.call.other_party().map(|p| p.label()))
        .unwrap_or_default();
    clean(&label).into_owned()
}

/// Why an appearance ended, in words.
pub fn end_words(reason: &EndReason) -> String {
    match reason {
        EndReason::Lost {
            description,
            this_end_dropped,
            ..
        } => {
            let text = clean(description);
            match (text.trim().is_empty(), this_end_dropped) {
                (false, _) => format!("ended ({})", text.trim()),
                (true, true) => "was dropped".to_owned(),
                (true, false) => "ended".to_owned(),
            }
        }
        EndReason::NotReported => "is no longer reported by the PBX".to_owned(),
        EndReason::LineRemoved => "ended: its line was removed".to_owned(),
        EndReason::ParkServerGone => "is gone: the park server went away".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_is_the_next_survivor_then_the_previous() {
        let old = [1, 2, 3, 4];
        assert_eq!(keep_or_neighbour(Some(&2), &old, &[1, 3, 4]), Some(3));
        assert_eq!(keep_or_neighbour(Some(&2), &old, &[1, 4]), Some(4));
        assert_eq!(keep_or_neighbour(Some(&4), &old, &[1, 2]), Some(2));
        assert_eq!(keep_or_neighbour(Some(&4), &old, &[]), None);
        assert_eq!(keep_or_neighbour(Some(&9), &old, &[5, 6]), Some(5));
        assert_eq!(keep_or_neighbour(None, &old, &[5, 6]), Some(5));
    }
}
