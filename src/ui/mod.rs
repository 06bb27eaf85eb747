//! The supervisor's screen, as a ratatui state machine (the Elm Architecture): an [`App`]
//! state, [`update`] turning [`Event`]s (model changes, keys, resize, ticks) into state
//! changes and [`Action`]s for the application layer, and a pure [`view`].
//!
//! Uses `model` only. The screen keeps its own replica of the model, fed with the session's
//! events, so it never holds up the session; `now` and the wall clock arrive as ticks, so the
//! view never reads a clock and tests render a fixed moment.
//!
//! ```
//! use std::time::Instant;
//! use ipo_top::ui::{App, Event, UiConfig, Key, Action};
//! let mut app = App::new(UiConfig::default(), Instant::now());
//! assert_eq!(app.update(Event::Key(Key::char('q'))), [Action::Quit]);
//! ```

mod app;
pub mod functions;
pub mod keymap;
pub mod rows;
pub mod text;
pub mod theme;
mod view;

pub use app::{
    Action, App, DEFAULT_LONG_WAIT_SECS, DetailTarget, Entry, Event, Filter, HISTORY_LEN, Level,
    Message, Modal, Overlay, Pane, Request, Selection, Ticket, UiConfig, WallClock, caller_words,
    end_words, update,
};
pub use functions::{AuditRecord, AuditSubject, Offer};
pub use keymap::{Binding, Context, Key, KeyAction, KeyCode, KeyParseError, Keymap, KeymapError};
pub use theme::Theme;
pub use view::{WIDE, max_scroll, render, view};
