//! The message history overlay (`M`): the latest messages, newest first, each function's
//! line showing what became of it.

use ratatui::text::{Line, Span};

use crate::ui::app::App;

/// The overlay's lines for `width` columns of text.
pub fn content(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.config().theme;
    let mut out: Vec<Line<'static>> = Vec::new();
    for e in app.history() {
        let time = e
            .clock
            .map_or_else(|| "        ".to_owned(), |c| c.to_string());
        let mut line = vec![Span::styled(format!("{time}  "), theme.dim)];
        line.extend(super::message_line(app, &e.message).spans);
        out.push(super::table::fit_line(Line::from(line), width));
    }
    if out.is_empty() {
        out.push(Line::from(Span::styled("No messages yet.", theme.dim)));
    }
    out
}
