//! The wallboard: one tile per queue in scope, for a screen read from across the room. Each
//! tile has the queue's name, its calls waiting and longest wait in large digits
//! (`tui-big-text`), its alert level by colour and symbol, today's service level, answered
//! and abandoned, agents available and busy, and the waiting sparkline. The digits are as
//! large as lets every tile fit; when even the smallest do not, the pages turn every
//! `[wall] rotate_secs` and the footer says which page shows.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};
use tui_big_text::{BigText, PixelSize};

use super::trend;
use crate::model::{AlertLevel, Figure, Guid, Queue, ServiceMode, TREND_MINUTES};
use crate::ui::app::App;
use crate::ui::text::{clean, fit};

/// The glyph sizes tried, largest first: (pixel size, cells per character across, down).
const SCALES: [(PixelSize, u16, u16); 3] = [
    (PixelSize::Full, 8, 8),
    (PixelSize::HalfHeight, 8, 4),
    (PixelSize::Quadrant, 4, 4),
];
/// Characters the large figures take: up to 3 for the calls waiting, 5 for the longest wait
/// (`MM:SS`, or `1h02`), a gap between.
const WAITING_CHARS: u16 = 3;
const LONGEST_CHARS: u16 = 5;
const GAP: u16 = 3;
/// Rows of a tile besides the large digits: the borders, the labels, two lines of figures
/// and the sparkline.
const TEXT_ROWS: u16 = 6;
/// The narrowest the figures' lines read well in.
const TEXT_WIDTH: u16 = 30;

/// The tiles' layout for `n` queues in `area`: the glyphs, columns and rows of tiles per page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Grid {
    scale: (PixelSize, u16, u16),
    cols: u16,
    rows: u16,
}

impl Grid {
    fn tile_min(scale: (PixelSize, u16, u16)) -> (u16, u16) {
        let (_, cw, ch) = scale;
        let big = (WAITING_CHARS + LONGEST_CHARS) * cw + GAP;
        (big.max(TEXT_WIDTH) + 2, ch + TEXT_ROWS)
    }

    fn for_area(n: usize, area: Rect) -> Grid {
        let n = u16::try_from(n.max(1)).unwrap_or(u16::MAX);
        let fit = |scale| {
            let (w, h) = Grid::tile_min(scale);
            ((area.width / w).max(1), (area.height / h).max(1))
        };
        for scale in SCALES {
            let (cols, rows) = fit(scale);
            if cols.saturating_mul(rows) >= n {
                // As few rows as the columns allow: tiles grow to fill the screen.
                let cols = cols.min(n);
                return Grid {
                    scale,
                    cols,
                    rows: n.div_ceil(cols),
                };
            }
        }
        let scale = SCALES[SCALES.len() - 1];
        let (cols, rows) = fit(scale);
        Grid { scale, cols, rows }
    }

    fn per_page(&self) -> usize {
        usize::from(self.cols) * usize::from(self.rows)
    }
}

/// The wallboard in `area`.
pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    super::header(app, head, buf);
    let queues = app.derived().queues();
    let grid = Grid::for_area(queues.len(), body);
    let pages = queues.len().div_ceil(grid.per_page()).max(1);
    let page = app.wall_page(pages);
    let shown = queues
        .iter()
        .skip(page * grid.per_page())
        .take(grid.per_page());
    let rows = Layout::vertical(vec![Constraint::Fill(1); usize::from(grid.rows)]).split(body);
    let mut cells = rows.iter().flat_map(|row| {
        Layout::horizontal(vec![Constraint::Fill(1); usize::from(grid.cols)])
            .split(*row)
            .to_vec()
    });
    for guid in shown {
        let Some(cell) = cells.next() else { break };
        if let Some(q) = app.model().queue(guid) {
            tile(app, q, grid.scale, cell, buf);
        }
    }
    footer(app, page, pages, foot, buf);
}

fn footer(app: &App, page: usize, pages: usize, area: Rect, buf: &mut Buffer) {
    let theme = &app.config().theme;
    let mut spans = vec![
        Span::styled(" q", theme.title),
        Span::styled(" quit", theme.dim),
    ];
    if !app.config().wall {
        spans.push(Span::styled("  W", theme.title));
        spans.push(Span::styled(" dashboard", theme.dim));
    }
    if app.model().queues().next().is_none() {
        spans.push(Span::styled("  no queues yet", theme.dim));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    if pages > 1 {
        let text = format!("page {}/{pages} ", page + 1);
        let w = u16::try_from(text.chars().count()).unwrap_or(area.width);
        if w < area.width {
            buf.set_line(
                area.x + area.width - w,
                area.y,
                &Line::from(Span::styled(text, theme.dim)),
                w,
            );
        }
    }
}

/// The longest wait in at most five characters: `MM:SS`, or `1h02` from an hour.
fn short_wait(secs: u64) -> String {
    if secs >= 3600 {
        format!("{}h{:02}", (secs / 3600).min(99), secs / 60 % 60)
    } else {
        format!("{:02}:{:02}", secs / 60, secs % 60)
    }
}

fn tile(app: &App, q: &Queue, scale: (PixelSize, u16, u16), area: Rect, buf: &mut Buffer) {
    let theme = &app.config().theme;
    let level = app.alerts().level(&q.guid);
    let (border, title_style) = match level {
        AlertLevel::Ok => (theme.border, theme.title),
        l => (theme.level(l), theme.level(l)),
    };
    let mut title = vec![Span::styled(
        format!(" {} {} {} ", level.symbol(), clean(&q.name), clean(&q.extn)),
        title_style,
    )];
    if level > AlertLevel::Ok {
        title.push(Span::styled(format!("{} ", level.word()), title_style));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(title));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let fig = app.derived().figures(&q.guid);
    let (pixel, cw, ch) = scale;
    // The content sits in the middle of a tile taller than it needs.
    let content = ch + TEXT_ROWS - 2;
    let inner = Rect {
        y: inner.y + inner.height.saturating_sub(content) / 2,
        height: inner.height.min(content),
        ..inner
    };
    let waiting_w = (WAITING_CHARS * cw).min(inner.width);
    let longest_x = inner.x + waiting_w + GAP;
    let label_y = inner.y;
    buf.set_line(
        inner.x + 1,
        label_y,
        &Line::from(Span::styled("WAITING", theme.dim)),
        waiting_w.saturating_sub(1),
    );
    if longest_x < inner.right() {
        // ≥: the longest caller was already waiting when ipo-top saw the call.
        let label = if fig.longest_lower_bound && fig.longest_since.is_some() {
            "LONGEST ≥"
        } else {
            "LONGEST"
        };
        buf.set_line(
            longest_x,
            label_y,
            &Line::from(Span::styled(label, theme.dim)),
            inner.right() - longest_x,
        );
    }
    let big_y = label_y + 1;
    let big_h = ch.min(inner.bottom().saturating_sub(big_y));
    // The large figures take their own figure's level, bold when it is ok.
    let style_of = |f: Figure| match app.alerts().figure_level(&q.guid, f) {
        AlertLevel::Ok => theme.title,
        l => theme.level(l),
    };
    big(
        fig.waiting.min(999).to_string(),
        pixel,
        style_of(Figure::Waiting),
        Rect::new(inner.x, big_y, waiting_w, big_h),
        buf,
    );
    let longest = fig.longest_since.map(|t| app.since(t).as_secs());
    let longest_style = style_of(Figure::Longest);
    if longest_x < inner.right() {
        big(
            longest.map_or_else(|| "-".to_owned(), short_wait),
            pixel,
            longest_style,
            Rect::new(longest_x, big_y, inner.right() - longest_x, big_h),
            buf,
        );
    }
    let s = &q.stats;
    let sl = s
        .service_level()
        .map_or_else(|| "-".to_owned(), |f| format!("{:.0}%", f * 100.0));
    let lines = [
        Line::from(vec![
            Span::styled(" SL ", theme.dim),
            Span::raw(sl),
            Span::styled("  ANS ", theme.dim),
            Span::raw(s.answered.to_string()),
            Span::styled("  ABN ", theme.dim),
            Span::raw(s.abandoned.to_string()),
        ]),
        Line::from({
            let mut v = vec![
                Span::styled(" AVAIL ", theme.dim),
                Span::styled(fig.available.to_string(), theme.avail),
                Span::styled("  BUSY ", theme.dim),
                Span::raw(fig.busy.to_string()),
            ];
            match q.service_mode() {
                ServiceMode::Active | ServiceMode::Unset => {}
                m => v.push(Span::styled(format!("  {}", m.word()), theme.warn)),
            }
            v
        }),
        sparkline(app, &q.guid, inner.width),
    ];
    for (y, line) in (big_y + big_h..inner.bottom()).zip(lines) {
        buf.set_line(inner.x, y, &line, inner.width);
    }
}

fn big(text: String, pixel: PixelSize, style: Style, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    BigText::builder()
        .pixel_size(pixel)
        .style(style)
        .lines(vec![Line::from(text)])
        .build()
        .render(area, buf);
}

/// Calls waiting each minute, as many of the last hour's minutes as the tile is wide.
fn sparkline(app: &App, guid: &Guid, width: u16) -> Line<'static> {
    let theme = &app.config().theme;
    let label = " waiting, last hour ";
    let room = usize::from(width)
        .saturating_sub(label.chars().count() + 1)
        .min(TREND_MINUTES);
    let Some(trends) = app.trends() else {
        return Line::from("");
    };
    let values = trend::last(&trends.minutes(guid), room, |s| u64::from(s.waiting));
    let most = values.iter().flatten().copied().max().unwrap_or(0);
    Line::from(vec![
        Span::styled(fit(label, usize::from(width)).into_owned(), theme.dim),
        Span::styled(trend::bars(&values, most), theme.acw),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digits_are_as_large_as_lets_every_tile_fit() {
        let at = |w, h| Rect::new(0, 0, w, h);
        let g = Grid::for_area(3, at(80, 22));
        assert_eq!((g.scale.1, g.scale.2, g.cols, g.rows), (4, 4, 2, 2));
        let g = Grid::for_area(3, at(240, 65));
        assert_eq!((g.scale.1, g.scale.2, g.cols, g.rows), (8, 8, 3, 1));
        // Too many for one page even with the smallest digits: pages.
        let g = Grid::for_area(30, at(80, 22));
        assert_eq!((g.scale.1, g.per_page()), (4, 4));
    }

    #[test]
    fn the_longest_wait_takes_five_characters_at_most() {
        assert_eq!(short_wait(75), "01:15");
        assert_eq!(short_wait(3599), "59:59");
        assert_eq!(short_wait(3720), "1h02");
        assert_eq!(short_wait(400_000), "99h06");
    }
}
