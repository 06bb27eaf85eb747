//! Prompts and confirmations, drawn at the bottom of the screen in place of the status line:
//! the question with what has been typed, the keys that answer it, and a line above for the
//! completions (the picked one reversed), a note, or why Enter did not send.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

use super::table::fit_line;
use crate::ui::app::{App, Modal};
use crate::ui::functions::{Confirm, Prompt};
use crate::ui::keymap::{Context, KeyAction};
use crate::ui::text::{clean, width};

/// Lines a prompt or a question needs above the status line.
pub fn extra_lines(app: &App) -> u16 {
    u16::from(app.modal().is_some())
}

fn key(app: &App, ctx: Context, action: KeyAction) -> String {
    app.config()
        .keymap
        .key_for(ctx, action)
        .map_or_else(|| "?".to_owned(), |k| k.to_string())
}

/// Draws the open prompt or confirmation: `extra` above, `line` at the bottom.
pub fn render(app: &App, extra: Rect, line: Rect, buf: &mut Buffer) {
    match app.modal() {
        Some(Modal::Prompt(p)) => prompt(app, p, extra, line, buf),
        Some(Modal::Confirm(c)) => confirm(app, c, extra, line, buf),
        None => {}
    }
}

/// Puts `left` and `right` on one line, the right part kept whole when it fits.
fn split_line(left: Vec<Span<'static>>, right: Vec<Span<'static>>, area: Rect, buf: &mut Buffer) {
    let total = area.width as usize;
    let right = Line::from(right);
    let rw = right.width();
    let (left_room, show_right) = if rw + 20 <= total {
        (total - rw, true)
    } else {
        (total, false)
    };
    let left = fit_line(Line::from(left), left_room);
    buf.set_line(area.x, area.y, &left, area.width);
    if show_right && rw > 0 {
        let rw16 = rw as u16;
        buf.set_line(area.x + area.width - rw16, area.y, &right, rw16);
    }
}

fn prompt(app: &App, p: &Prompt, extra: Rect, line: Rect, buf: &mut Buffer) {
    let theme = &app.config().theme;
    let shown = clean(p.shown()).into_owned();
    let mut right = vec![
        Span::styled(key(app, Context::Prompt, KeyAction::Send), theme.title),
        Span::styled(" send  ", theme.dim),
        Span::styled(key(app, Context::Prompt, KeyAction::Back), theme.title),
        Span::styled(" cancel ", theme.dim),
    ];
    if p.matches.len() > 1 {
        right.splice(
            0..0,
            [
                Span::styled(
                    key(app, Context::Prompt, KeyAction::NextChoice),
                    theme.title,
                ),
                Span::styled(" pick  ", theme.dim),
            ],
        );
    }
    // What is typed must stay visible: the keys give way first, then the question.
    let total = line.width as usize;
    let rw = Line::from(right.clone()).width();
    let fixed = width(&shown) + 4;
    let (label_room, right) = if total >= fixed + rw + 16 {
        (total - fixed - rw, right)
    } else {
        (total.saturating_sub(fixed).max(8), Vec::new())
    };
    let label = crate::ui::text::fit(&p.label, label_room).into_owned();
    let input_style = if p.suggestion {
        theme.dim
    } else {
        ratatui::style::Style::new()
    };
    let left = vec![
        Span::raw(" "),
        Span::styled(label, theme.title_focused),
        Span::raw(" "),
        Span::styled(shown, input_style),
        Span::styled("█", theme.title_focused),
    ];
    split_line(left, right, line, buf);

    // The line above: why Enter did not send, a note, the completions.
    let mut spans = vec![Span::raw(" ")];
    if let Some(e) = &p.error {
        spans.push(Span::styled(format!("✗ {}  ", clean(e)), theme.error));
    }
    if let Some(n) = &p.note {
        spans.push(Span::styled(format!("{}  ", clean(n)), theme.dim));
    }
    let used: usize = spans.iter().map(|s| width(&s.content)).sum();
    // Room for the labels, keeping some for "· … N more".
    let room = (extra.width as usize).saturating_sub(used + 14);
    let labels: Vec<String> = p
        .matches
        .iter()
        .filter_map(|i| p.choices.get(*i))
        .map(|c| clean(&c.label).into_owned())
        .collect();
    if labels.is_empty() && !p.choices.is_empty() {
        let words = if p.choices_only {
            "no choice matches what you typed"
        } else {
            "no match: Enter sends what you typed"
        };
        spans.push(Span::styled(words, theme.dim));
    }
    // Start the window where the pick is visible.
    let picked = p.picked.unwrap_or(0);
    let mut start = 0;
    let fits_from = |start: usize| {
        let mut w = 0;
        for (n, l) in labels.iter().enumerate().skip(start) {
            w += width(l) + if n > start { 3 } else { 0 };
            if w > room {
                return n;
            }
        }
        labels.len()
    };
    if picked >= fits_from(0) {
        start = picked;
    }
    if start > 0 {
        spans.push(Span::styled("… ", theme.dim));
    }
    let end = fits_from(start).max(start + 1).min(labels.len());
    for (n, l) in labels.iter().enumerate().take(end).skip(start) {
        if n > start {
            spans.push(Span::styled(" · ", theme.dim));
        }
        let style = if p.picked == Some(n) {
            theme.selected.add_modifier(Modifier::BOLD)
        } else {
            ratatui::style::Style::new()
        };
        spans.push(Span::styled(l.clone(), style));
    }
    if end < labels.len() {
        spans.push(Span::styled(
            format!(" · … {} more", labels.len() - end),
            theme.dim,
        ));
    }
    if extra.height > 0 {
        let l = fit_line(Line::from(spans), extra.width as usize);
        buf.set_line(extra.x, extra.y, &l, extra.width);
    }
}

fn confirm(app: &App, c: &Confirm, extra: Rect, line: Rect, buf: &mut Buffer) {
    let theme = &app.config().theme;
    // The question on its own line, whole where the width allows; the answer below it.
    if extra.height > 0 {
        let q = fit_line(
            Line::from(vec![
                Span::raw(" "),
                Span::styled(clean(&c.question).into_owned(), theme.warn),
            ]),
            extra.width as usize,
        );
        buf.set_line(extra.x, extra.y, &q, extra.width);
    }
    let l = match c.word {
        None => Line::from(vec![
            Span::raw(" "),
            Span::styled(key(app, Context::Confirm, KeyAction::Confirm), theme.title),
            Span::styled(format!(" {}", clean(&c.yes)), theme.warn),
            Span::styled(" · any other key cancels (Enter too)", theme.dim),
        ]),
        Some(word) => {
            let send = key(app, Context::Prompt, KeyAction::Send);
            let back = key(app, Context::Prompt, KeyAction::Back);
            Line::from(vec![
                Span::styled(
                    format!(" Type {word} and {send} to confirm, {back} cancels: "),
                    theme.title_focused,
                ),
                Span::raw(clean(&c.typed).into_owned()),
                Span::styled("█", theme.title_focused),
            ])
        }
    };
    let l = fit_line(l, line.width as usize);
    buf.set_line(line.x, line.y, &l, line.width);
}
