//! A table that fits its width by dropping whole columns (the ones marked to go first, which
//! are the rightmost) before it cuts any text, and that cuts text at a word where it must.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::ui::text::fit;
use crate::ui::theme::Theme;

/// One column.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Heading.
    pub title: &'static str,
    /// Columns it needs.
    pub min: u16,
    /// Columns it can use.
    pub max: u16,
    /// Right-aligned (numbers, times).
    pub right: bool,
    /// 0: never dropped; otherwise dropped when the width runs out, highest first.
    pub drop: u8,
    /// Grows before the others when there is room (names, which are cut otherwise).
    pub flex: bool,
}

impl Column {
    /// A left-aligned column that is never dropped.
    pub const fn new(title: &'static str, min: u16, max: u16) -> Column {
        Column {
            title,
            min,
            max,
            right: false,
            drop: 0,
            flex: false,
        }
    }

    /// Grows first when there is room.
    pub const fn flex(mut self) -> Column {
        self.flex = true;
        self
    }

    /// Right-aligned.
    pub const fn right(mut self) -> Column {
        self.right = true;
        self
    }

    /// Dropped at rank `rank` when the width runs out (higher goes first).
    pub const fn drops(mut self, rank: u8) -> Column {
        self.drop = rank;
        self
    }
}

/// Space between columns.
const GAP: u16 = 1;
/// The selection marker's column.
const MARK: u16 = 2;

/// The least width the `shown` columns need: the marker, their minimums and the gaps.
fn least(cols: &[Column], shown: &[bool]) -> u16 {
    let n = shown.iter().filter(|s| **s).count() as u16;
    MARK + cols
        .iter()
        .zip(shown)
        .filter(|(_, s)| **s)
        .map(|(c, _)| c.min)
        .sum::<u16>()
        + GAP * n.saturating_sub(1)
}

/// The width each column gets in `total` columns, `None` for a dropped one.
pub fn widths(cols: &[Column], total: u16) -> Vec<Option<u16>> {
    let mut shown: Vec<bool> = cols.iter().map(|_| true).collect();
    loop {
        if least(cols, &shown) <= total {
            break;
        }
        let victim = cols
            .iter()
            .enumerate()
            .filter(|(i, c)| c.drop > 0 && shown.get(*i).copied().unwrap_or(false))
            .max_by_key(|(i, c)| (c.drop, *i))
            .map(|(i, _)| i);
        match victim.and_then(|i| shown.get_mut(i)) {
            Some(s) => *s = false,
            None => break,
        }
    }
    let used = least(cols, &shown);
    let mut spare = total.saturating_sub(used);
    let mut out: Vec<Option<u16>> = cols
        .iter()
        .zip(&shown)
        .map(|(c, s)| s.then_some(c.min))
        .collect();
    // Share the spare columns out one at a time, names first, so every column that can
    // grow does.
    for flex in [true, false] {
        while spare > 0 {
            let mut grew = false;
            for (w, c) in out.iter_mut().zip(cols).filter(|(_, c)| c.flex == flex) {
                if let Some(w) = w {
                    if spare > 0 && *w < c.max {
                        *w += 1;
                        spare -= 1;
                        grew = true;
                    }
                }
            }
            if !grew {
                break;
            }
        }
    }
    out
}

/// Cuts a line to `max` columns, keeping its styles.
pub fn fit_line(line: Line<'static>, max: usize) -> Line<'static> {
    if line.width() <= max {
        return line;
    }
    let mut left = max;
    let mut spans = Vec::new();
    for span in line.spans {
        let w = span.width();
        // Keep whole spans while a column is left for the ellipsis.
        if w < left {
            left -= w;
            spans.push(span);
            continue;
        }
        // This span reaches the edge with more text after it, or overflows by itself.
        let room = if w > left {
            left
        } else {
            left.saturating_sub(1)
        };
        let cut = fit(&span.content, room).into_owned();
        spans.push(Span::styled(cut, span.style));
        break;
    }
    Line::from(spans).style(line.style)
}

/// Per column, the widest cell of `rows`.
pub fn natural(rows: &[Vec<Line<'static>>]) -> Vec<usize> {
    let mut widest: Vec<usize> = Vec::new();
    for row in rows {
        if widest.len() < row.len() {
            widest.resize(row.len(), 0);
        }
        for (w, cell) in widest.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    widest
}

/// A table to draw.
pub struct Table<'a> {
    /// Columns.
    pub cols: &'a [Column],
    /// Cells, one line per column per row: the rows that fit, from `offset`.
    pub rows: Vec<Vec<Line<'static>>>,
    /// The index of the first row given.
    pub offset: usize,
    /// Per column, the widest cell of every row listed (not only those given).
    pub natural: Vec<usize>,
    /// The selected row.
    pub selected: Option<usize>,
    /// Whether the pane has the focus.
    pub focused: bool,
    /// A style laid over every row (stale data).
    pub row_style: Style,
    /// What to say when there are no rows.
    pub empty: &'a str,
}

/// Which rows a table of `len` rows shows in `height` lines so that `selected` is visible:
/// the first row shown, and how many are hidden above and below.
pub fn window(len: usize, height: usize, selected: Option<usize>) -> (usize, usize, usize) {
    let offset = match selected {
        Some(s) if height > 0 && s >= height => s + 1 - height,
        _ => 0,
    };
    let below = len.saturating_sub(offset + height);
    (offset, offset, below)
}

impl Table<'_> {
    /// Draws the headings and the rows that fit, the selected one visible.
    pub fn render(self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        // A column grows no wider than its widest cell (or heading), so spare room goes
        // where text would otherwise be cut.
        let cols: Vec<Column> = self
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let natural = self.natural.get(i).copied().unwrap_or(0).max(c.title.len());
                let natural = u16::try_from(natural).unwrap_or(u16::MAX);
                Column {
                    max: natural.clamp(c.min, c.max.max(c.min)),
                    ..*c
                }
            })
            .collect();
        let widths = widths(&cols, area.width);
        let mut x = area.x + MARK;
        for (c, w) in cols.iter().zip(&widths) {
            let Some(w) = *w else { continue };
            put(
                buf,
                x,
                area.y,
                w,
                Line::from(Span::styled(c.title, theme.heading)),
                c.right,
            );
            x += w + GAP;
        }
        let body = area.height.saturating_sub(1) as usize;
        if self.rows.is_empty() {
            if body > 0 {
                let line = Line::from(Span::styled(self.empty.to_owned(), theme.dim));
                put(
                    buf,
                    area.x + MARK,
                    area.y + 1,
                    area.width - MARK.min(area.width),
                    line,
                    false,
                );
            }
            return;
        }
        let offset = self.offset;
        for (n, cells) in self.rows.into_iter().enumerate().take(body) {
            let i = offset + n;
            let y = area.y + 1 + n as u16;
            let row = Rect::new(area.x, y, area.width, 1);
            buf.set_style(row, self.row_style);
            let mut x = area.x + MARK;
            for ((c, w), cell) in cols.iter().zip(&widths).zip(cells) {
                let Some(w) = *w else { continue };
                let cell = cell.patch_style(self.row_style);
                put(buf, x, y, w, cell, c.right);
                x += w + GAP;
            }
            if Some(i) == self.selected {
                let (mark, style) = if self.focused {
                    ("▶", theme.selected)
                } else {
                    ("▷", theme.selected_unfocused)
                };
                buf.set_string(area.x, y, mark, Style::new());
                buf.set_style(row, style);
            }
        }
    }
}

/// Writes a cell at (x, y) in `w` columns, cut to fit and aligned.
fn put(buf: &mut Buffer, x: u16, y: u16, w: u16, line: Line<'static>, right: bool) {
    let line = fit_line(line, w as usize);
    let lw = line.width() as u16;
    let x = if right { x + w.saturating_sub(lw) } else { x };
    buf.set_line(x, y, &line, w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_by_rank_before_anything_is_cut() {
        let cols = [
            Column::new("A", 10, 20),
            Column::new("B", 10, 10).drops(1),
            Column::new("C", 10, 10).drops(2),
        ];
        // Everything fits at its minimum and A takes what is left up to its maximum.
        assert_eq!(widths(&cols, 40), [Some(16), Some(10), Some(10)]);
        let wide = [Column::new("A", 4, 10), Column::new("B", 4, 10)];
        assert_eq!(widths(&wide, 17), [Some(7), Some(7)]);
        // A name grows before a number.
        let named = [Column::new("N", 4, 10), Column::new("NAME", 4, 10).flex()];
        assert_eq!(widths(&named, 17), [Some(4), Some(10)]);
        // C (rank 2) goes first, then B.
        assert_eq!(widths(&cols, 30), [Some(17), Some(10), None]);
        assert_eq!(widths(&cols, 15), [Some(13), None, None]);
        // Nothing left to drop: A keeps its minimum and is cut when drawn.
        assert_eq!(widths(&cols, 5), [Some(10), None, None]);
    }

    #[test]
    fn a_cut_line_keeps_its_styles() {
        let line = Line::from(vec![
            Span::raw("02:41"),
            Span::styled(" !", Style::new().bold()),
        ]);
        assert_eq!(fit_line(line.clone(), 7), line);
        let cut = fit_line(line, 6);
        assert_eq!(cut.to_string(), "02:41…");
    }

    #[test]
    fn the_window_keeps_the_selection_visible() {
        assert_eq!(window(10, 4, Some(2)), (0, 0, 6));
        assert_eq!(window(10, 4, Some(7)), (4, 4, 2));
        assert_eq!(window(10, 4, None), (0, 0, 6));
    }
}
