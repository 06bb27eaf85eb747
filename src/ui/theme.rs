//! Colours and emphasis. The default palette uses only the 16 ANSI colours, which every
//! 256-colour terminal, tmux and screen render as the user configured them. Without colour
//! (`NO_COLOR`) the same screen reads through symbols, bold and reverse video: colour never
//! carries meaning alone.

use ratatui::style::{Color, Modifier, Style};

use crate::model::{AgentState, AlertLevel};

/// The styles the views use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Theme {
    /// Whether colours are used at all.
    pub colour: bool,
    /// The program's name in the header.
    pub brand: Style,
    /// The DEMO banner.
    pub banner: Style,
    /// Pane titles.
    pub title: Style,
    /// The focused pane's title.
    pub title_focused: Style,
    /// Pane borders.
    pub border: Style,
    /// The focused pane's border.
    pub border_focused: Style,
    /// Column headings.
    pub heading: Style,
    /// The selected row of the focused pane.
    pub selected: Style,
    /// The selected row of a pane without focus.
    pub selected_unfocused: Style,
    /// Secondary text (labels, units, empty markers).
    pub dim: Style,
    /// A wait past the long-wait threshold.
    pub long_wait: Style,
    /// A healthy link.
    pub ok: Style,
    /// A link being set up.
    pub warn: Style,
    /// A link that is down, and the alert line.
    pub bad: Style,
    /// The alert line under the header.
    pub alert: Style,
    /// Rows whose data is stale.
    pub stale: Style,
    /// Status messages that report a failure.
    pub error: Style,
    /// Ringing.
    pub ring: Style,
    /// Talking.
    pub talk: Style,
    /// Holding.
    pub hold: Style,
    /// After-call work.
    pub acw: Style,
    /// Available.
    pub avail: Style,
    /// Away: DND, logged off.
    pub away: Style,
    /// Faulty extension.
    pub fault: Style,
}

impl Theme {
    /// A queue's alert level (shown with its symbol as well, so colour never carries it
    /// alone).
    pub fn level(&self, level: AlertLevel) -> Style {
        match level {
            AlertLevel::Ok => self.dim,
            AlertLevel::Warn => self.warn,
            AlertLevel::Critical => self.bad,
        }
    }

    /// The 16-colour palette.
    pub fn colour() -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        Theme {
            colour: true,
            brand: Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan),
            banner: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            title: Style::new().add_modifier(Modifier::BOLD),
            title_focused: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            border: fg(Color::DarkGray),
            border_focused: fg(Color::Cyan),
            heading: Style::new()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: Style::new().add_modifier(Modifier::BOLD),
            dim: fg(Color::DarkGray),
            long_wait: fg(Color::Red).add_modifier(Modifier::BOLD),
            ok: fg(Color::Green),
            warn: fg(Color::Yellow),
            bad: fg(Color::Red).add_modifier(Modifier::BOLD),
            alert: Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            stale: fg(Color::DarkGray),
            error: fg(Color::Red).add_modifier(Modifier::BOLD),
            ring: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            talk: fg(Color::Green),
            hold: fg(Color::Magenta),
            acw: fg(Color::Cyan),
            avail: fg(Color::Green).add_modifier(Modifier::BOLD),
            away: fg(Color::DarkGray),
            fault: fg(Color::Red),
        }
    }

    /// No colour at all: bold, reverse and dim only.
    pub fn monochrome() -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let dim = Style::new().add_modifier(Modifier::DIM);
        Theme {
            colour: false,
            brand: bold,
            banner: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            title: bold,
            title_focused: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            border: Style::new(),
            border_focused: bold,
            heading: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: bold,
            dim,
            long_wait: bold,
            ok: Style::new(),
            warn: bold,
            bad: bold,
            alert: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            stale: dim,
            error: bold,
            ring: bold,
            talk: Style::new(),
            hold: Style::new(),
            acw: Style::new(),
            avail: bold,
            away: dim,
            fault: bold,
        }
    }

    /// The palette the environment asks for: none when `NO_COLOR` is set to anything but
    /// the empty string (<https://no-color.org>).
    pub fn from_no_color(no_color: Option<&std::ffi::OsStr>) -> Theme {
        match no_color {
            Some(v) if !v.is_empty() => Theme::monochrome(),
            _ => Theme::colour(),
        }
    }

    /// The style of an agent state word.
    pub fn agent(&self, state: AgentState) -> Style {
        match state {
            AgentState::Ringing => self.ring,
            AgentState::Talking => self.talk,
            AgentState::Held => self.hold,
            AgentState::AfterCallWork => self.acw,
            AgentState::Available => self.avail,
            AgentState::Dnd | AgentState::LoggedOff | AgentState::Unknown => self.away,
            AgentState::Fault => self.fault,
        }
    }
}
