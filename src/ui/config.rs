//! How the screen is set up: what the application layer decides once at start (the PBX's
//! name, the keymap, colours, the supervisor's extension, read-only, the scope) and hands down.

use super::keymap::Keymap;
use super::screen::ViewState;
use super::theme::Theme;
use crate::model::{AlertConfig, Scope};

/// How the screen is set up.
#[derive(Clone, Debug)]
pub struct UiConfig {
    /// What the header calls the PBX (its host name or address).
    pub pbx: String,
    /// A banner shown first in the header (`DEMO` when running the simulator).
    pub banner: Option<String>,
    /// Thresholds and alerts (`[alerts]`): each queue's level, and the wait from which a
    /// call is marked `!` (its queue's `longest_warn_secs`).
    pub alerts: AlertConfig,
    /// Colours, or none.
    pub theme: Theme,
    /// The keymap.
    pub keymap: Keymap,
    /// The supervisor's own extension (`[supervisor] extension`): barge, pick up and unpark
    /// are made from it, and its calls are shown in the My line strip.
    pub supervisor: Option<String>,
    /// Read-only (`--read-only` or `[ui] read_only`): every function is hidden and refused.
    pub read_only: bool,
    /// What the supervisor watches (`[scope]`, `--queue`, `--agents`); the header says what
    /// it covers, unless it covers the whole site.
    pub scope: Scope,
    /// The narrowing and sort the last run left (the state directory's view file).
    pub view: ViewState,
    /// Start on the wallboard (`ipo-top wall`): read-only, and no key leaves it but quit.
    pub wall: bool,
    /// How long each page of the wallboard shows (`[wall] rotate_secs`).
    pub wall_rotate: std::time::Duration,
    /// The levels, alerts and trends are a serving process's (a shared viewer): the screen
    /// shows what [`Event::Judged`](super::Event::Judged) brings instead of judging its own;
    /// the bell and the acknowledgement stay its own.
    pub judged_elsewhere: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            pbx: String::new(),
            banner: None,
            alerts: AlertConfig::default(),
            theme: Theme::colour(),
            keymap: Keymap::default(),
            supervisor: None,
            read_only: false,
            scope: Scope::default(),
            view: ViewState::default(),
            wall: false,
            wall_rotate: std::time::Duration::from_secs(10),
            judged_elsewhere: false,
        }
    }
}
