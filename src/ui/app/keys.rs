//! Keys: the main view's and the overlays', and the functions they start through their
//! prompts and confirmations to the request sent.

use super::{App, Modal};
use crate::model::{ConnectionState, Function};
use crate::ui::event::{Action, Level, Message, Request, Ticket};
use crate::ui::functions::{self, Confirm, FunctionStep};
use crate::ui::keymap::{Context, Key, KeyAction, KeyCode};
use crate::ui::screen::{Filter, Overlay, Pane};
use crate::ui::text::clean;

impl App {
    // ----------------------------------------------------------------------------------------
    // Keys

    pub(super) fn key(&mut self, key: Key) -> Vec<Action> {
        let context = self.context();
        let action = self.config.keymap.action(context, key);
        // `ipo-top wall`: no functions, nothing to move; only quitting. The wallboard shown
        // from the dashboard also takes only its own keys: a function key there would act on
        // a selection nobody can see.
        if self.config.wall || (self.wall && context == Context::Main) {
            return match action {
                Some(KeyAction::Quit) => vec![Action::Quit],
                Some(KeyAction::Wallboard) if !self.config.wall => {
                    self.wall = false;
                    Vec::new()
                }
                Some(KeyAction::Acknowledge) if !self.config.wall => {
                    self.acknowledge();
                    Vec::new()
                }
                _ => Vec::new(),
            };
        }
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
            KeyAction::Acknowledge => self.acknowledge(),
            // (`ipo-top wall` never gets here: it has nothing else to show.)
            KeyAction::Wallboard => self.wall = !self.wall,
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
            KeyAction::NarrowWaiting => {
                self.narrow_waiting();
                return vec![Action::SaveView(self.view.clone())];
            }
            KeyAction::NarrowAgents => {
                self.view.narrow_agents = !self.view.narrow_agents;
                return self.agent_view_changed();
            }
            KeyAction::SortAgents => {
                self.view.agents.sort = self.view.agents.sort.next();
                return self.agent_view_changed();
            }
            KeyAction::ReverseSort => {
                self.view.agents.reverse = !self.view.agents.reverse;
                return self.agent_view_changed();
            }
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
    pub(super) fn function(&mut self, f: Function) -> Vec<Action> {
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
        match functions::plan(&self.scene(), f) {
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

    pub(super) fn take(&mut self, step: FunctionStep) -> Vec<Action> {
        match step {
            FunctionStep::Prompt(p) => {
                self.modal = Some(Modal::Prompt(p));
                Vec::new()
            }
            FunctionStep::Confirm(c) => {
                self.modal = Some(Modal::Confirm(c));
                Vec::new()
            }
            FunctionStep::Send(d) => self.send(d),
        }
    }

    /// Hands a function to the application layer, unless the link is down.
    pub(super) fn send(&mut self, d: functions::Draft) -> Vec<Action> {
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

    pub(super) fn cancel(&mut self, why: &str) {
        if let Some(m) = self.modal.take() {
            self.say(Message::new(
                Level::Info,
                format!("{} cancelled{why}; nothing sent", m.function().word()),
            ));
        }
    }

    /// A key while a question waits: its confirming key goes ahead, any other key cancels.
    pub(super) fn confirm_key(&mut self, action: Option<KeyAction>) -> Vec<Action> {
        let Some(Modal::Confirm(c)) = self.modal.clone() else {
            return Vec::new();
        };
        if action != Some(KeyAction::Confirm) {
            self.cancel("");
            return Vec::new();
        }
        self.go(&c)
    }

    pub(super) fn go(&mut self, c: &Confirm) -> Vec<Action> {
        match functions::draft(&self.scene(), c.function, &c.target, c.argument.clone()) {
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
    pub(super) fn prompt_key(&mut self, key: Key, action: Option<KeyAction>) -> Vec<Action> {
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
                    if let Err(r) = functions::check(&self.scene(), p.function, &p.target) {
                        self.modal = None;
                        self.say(Message::new(
                            Level::Notice,
                            format!("{} cancelled: {}; nothing sent", p.function.word(), r.why),
                        ));
                        return Vec::new();
                    }
                    match functions::answer(&self.scene(), &p) {
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

    pub(super) fn retry(&mut self) -> Vec<Action> {
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
}
