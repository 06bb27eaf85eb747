//! The screen's geometry, measured the way the view draws it: the body under the header and
//! the alert, the overlay's box, how far an overlay scrolls and where a detail's pick is.
//! `update` measures here to keep the pick in sight; the view lays out with the same numbers.

use ratatui::layout::Rect;
use ratatui::text::Line;

use super::app::App;
use super::screen::Overlay;
use super::view::{alert, detail, help, messages, prompt};

/// Screens at least this wide put the agent grid beside the queues.
pub const WIDE: u16 = 120;

/// Lines between the body and the bottom of the screen: the My line strip and a prompt's
/// extra line, besides the status line.
pub(crate) fn bottom_lines(app: &App) -> (u16, u16) {
    let my = u16::from(app.config().supervisor.is_some());
    (my, prompt::extra_lines(app))
}

/// The panes' area on a screen of `width` x `height`.
pub(crate) fn body_rect(app: &App, width: u16, height: u16) -> Rect {
    let alert = alert::lines(app, width).len() as u16;
    let (my, extra) = bottom_lines(app);
    Rect::new(
        0,
        1 + alert,
        width,
        height.saturating_sub(2 + alert + my + extra),
    )
}

/// The overlay's lines as they would be rendered now.
fn overlay_content(app: &App, body: Rect) -> Option<Vec<Line<'static>>> {
    let inner_w = overlay_text_width(body);
    Some(match app.overlay() {
        Overlay::None => return None,
        Overlay::Help { .. } => help::content(app, inner_w),
        Overlay::Messages { .. } => messages::content(app, inner_w),
        Overlay::Detail { target, .. } => detail::content(app, target, inner_w).1,
    })
}

/// How far the open overlay can scroll on a screen of the state's size.
pub fn max_scroll(app: &App) -> u16 {
    let (w, h) = app.size();
    let body = body_rect(app, w, h);
    let Some(lines) = overlay_content(app, body) else {
        return 0;
    };
    let visible = overlay_rect(body, lines.len()).height.saturating_sub(2) as usize;
    u16::try_from(lines.len().saturating_sub(visible)).unwrap_or(u16::MAX)
}

/// How many lines of the open overlay show at once.
pub fn overlay_visible(app: &App) -> u16 {
    let (w, h) = app.size();
    let body = body_rect(app, w, h);
    let n = overlay_content(app, body).map_or(0, |l| l.len());
    overlay_rect(body, n).height.saturating_sub(2)
}

/// The line of the open detail where its pick (an agent's call, a queue's member) is shown.
pub fn pick_line(app: &App) -> Option<usize> {
    let Overlay::Detail { target, .. } = app.overlay() else {
        return None;
    };
    let (w, h) = app.size();
    let body = body_rect(app, w, h);
    detail::pick_line(app, target, overlay_text_width(body))
}

fn overlay_width(body: Rect) -> u16 {
    body.width.min(100)
}

pub(crate) fn overlay_text_width(body: Rect) -> usize {
    overlay_width(body).saturating_sub(4) as usize
}

pub(crate) fn overlay_rect(body: Rect, lines: usize) -> Rect {
    let w = overlay_width(body);
    // Stacked screens give the overlay the whole body: fragments of panes around it would
    // only be noise there.
    let h = if body.width < WIDE {
        body.height
    } else {
        (u16::try_from(lines).unwrap_or(u16::MAX).saturating_add(2)).min(body.height)
    };
    Rect::new(
        body.x + (body.width - w) / 2,
        body.y + (body.height - h) / 2,
        w,
        h,
    )
}
