//! The supervisor's screen, as a ratatui state machine (the Elm Architecture): an [`App`]
//! state, [`update`] turning [`Event`]s (model changes, keys, resize, ticks) into state
//! changes and [`Action`]s for the application layer, and a pure [`view`].
//!
//! Uses `model` only. The screen keeps its own [`crate::model::Tables`], fed with the
//! session's events, so it never holds up the session; `now` and the wall clock arrive as
//! ticks, so the view never reads a clock and tests render a fixed moment.
//!
//! The files import one way: `config`, `event` and `screen` hold plain types; `functions`
//! reads a [`functions::Scene`] of the state (never `App`); `app` holds the state and its
//! update; `layout` measures what the view will draw, so `update` keeps a pick in sight
//! without calling the view; `view` draws.
//!
//! ```
//! use std::time::Instant;
//! use ipo_top::ui::{App, Event, UiConfig, Key, Action};
//! let mut app = App::new(UiConfig::default(), Instant::now());
//! assert_eq!(app.update(Event::Key(Key::char('q'))), [Action::Quit]);
//! ```

mod app;
mod config;
mod event;
pub mod functions;
pub mod keymap;
mod layout;
pub mod rows;
mod screen;
pub mod text;
pub mod theme;
mod view;

pub use app::{App, HISTORY_LEN, Modal, update};
pub use config::UiConfig;
pub use event::{Action, Entry, Event, Level, LocalTime, Message, Request, Ticket};
pub use functions::{AuditRecord, AuditSubject, Offer};
pub use keymap::{Binding, Context, Key, KeyAction, KeyCode, KeyParseError, Keymap, KeymapError};
pub use layout::{WIDE, max_scroll};
pub use rows::{caller_words, end_words};
pub use screen::{DetailTarget, Filter, Overlay, Pane, Selection, ViewState};
pub use theme::Theme;
pub use view::{render, view};
