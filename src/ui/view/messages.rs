//! The message history overlay (`M`): the latest messages, newest first, each function's
//! line showing what became of it.

use ratatui::text::{Line, Span};

use ratatui::style::Style;

use crate::ui::app::App;
use crate::ui::event::{Level, Message};
use crate::ui::text::{clean, wrap};

/// The overlay's lines for `width` columns of text.
pub fn content(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.config().theme;
    let mut out: Vec<Line<'static>> = Vec::new();
    // Each message whole, wrapped under itself after its time.
    const TIME: usize = 10;
    for e in app.history() {
        let time = e
            .clock
            .map_or_else(|| "        ".to_owned(), |c| c.to_string());
        let head = message_line(app, &e.message);
        let style = head.spans.get(1).map(|s| s.style).unwrap_or_default();
        let mark = head
            .spans
            .first()
            .map(|s| s.content.to_string())
            .unwrap_or_default();
        let text = format!("{mark}{}", clean(&e.message.text));
        for (i, part) in wrap(&text, width.saturating_sub(TIME).max(10))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 {
                format!("{time}  ")
            } else {
                " ".repeat(TIME)
            };
            out.push(Line::from(vec![
                Span::styled(lead, theme.dim),
                Span::styled(part, style),
            ]));
        }
    }
    if out.is_empty() {
        out.push(Line::from(Span::styled("No messages yet.", theme.dim)));
    }
    out
}

/// A status message as a line: a mark that reads without colour, then the text.
pub(crate) fn message_line(app: &App, m: &Message) -> Line<'static> {
    let theme = &app.config().theme;
    let (mark, style) = match m.level {
        Level::Info => ("", Style::new()),
        Level::Done => ("✓ ", theme.ok),
        Level::Notice => ("» ", theme.warn),
        Level::Error => ("✗ ", theme.error),
    };
    Line::from(vec![
        Span::styled(mark, style),
        Span::styled(clean(&m.text).into_owned(), style),
        Span::raw(" "),
    ])
}
