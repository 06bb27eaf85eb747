//! A table whose columns are as wide as their widest value, so nothing is cut while the
//! terminal has room.
//!
//! Each pane hands in, per column, the widest value of its whole list (not only the rows on
//! screen, so widths do not jump on scroll): the agent and queue tables from the censuses
//! the rows keep as they change (`ui::rows`), the waiting and parked tables from their rows,
//! which are short and all formatted anyway, and columns of a bounded vocabulary (states,
//! modes, times, percentages) from the widest their format gives. A column is at least as
//! wide as its heading. There are no other minimums or maximums: a column gets exactly its
//! widest value, and width left over stays blank at the right.
//!
//! When the terminal is too narrow for every column at that width:
//!
//! 1. whole columns are dropped by their rank of importance (`drops`, highest goes first;
//!    rank 0 is never dropped), each pane stating its order beside its columns;
//! 2. then the name columns (`name`: queue, agent and caller names, targets) are cut, the
//!    widest first, down to their heading's width, and a cut name ends with `…` (the detail
//!    view shows it whole);
//! 3. then whatever still does not fit is cut at the right edge;
//! 4. and when dropping a wide column leaves room of at least 8 columns, the most important
//!    dropped name comes back into it, cut to fit, rather than leave the room blank.
//!
//! Widths are display widths ([`crate::ui::text::width`]): wide characters count two
//! columns, combining marks none.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::ui::text::{fit, width};
use crate::ui::theme::Theme;

/// One column.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Heading.
    pub title: &'static str,
    /// Right-aligned (numbers, times).
    pub right: bool,
    /// 0: never dropped; otherwise dropped when the width runs out, highest first.
    pub drop: u8,
    /// A name: cut (with `…`) once nothing is left to drop.
    pub name: bool,
}

impl Column {
    /// A left-aligned column that is never dropped nor cut.
    pub const fn new(title: &'static str) -> Column {
        Column {
            title,
            right: false,
            drop: 0,
            name: false,
        }
    }

    /// A name: cut when nothing is left to drop.
    pub const fn name(mut self) -> Column {
        self.name = true;
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
/// The least room a dropped name comes back into (a few letters and the `…`).
const RETURN: u16 = 8;
/// The selection marker's column.
const MARK: u16 = 2;

/// The width the `shown` columns need at widths `want`: the marker, the columns, the gaps.
fn need(want: &[u16], shown: &[bool]) -> u16 {
    let n = shown.iter().filter(|s| **s).count() as u16;
    let cols: u16 = want
        .iter()
        .zip(shown)
        .filter(|(_, s)| **s)
        .map(|(w, _)| *w)
        .fold(0, u16::saturating_add);
    MARK.saturating_add(cols)
        .saturating_add(GAP * n.saturating_sub(1))
}

/// A column's heading width.
fn heading(c: &Column) -> u16 {
    u16::try_from(width(c.title)).unwrap_or(u16::MAX)
}

/// The width each column gets in `total` columns, `None` for a dropped one, given each
/// column's widest value (`natural`, missing ones 0).
pub fn widths(cols: &[Column], natural: &[usize], total: u16) -> Vec<Option<u16>> {
    let mut want: Vec<u16> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let n = natural.get(i).copied().unwrap_or(0);
            u16::try_from(n).unwrap_or(u16::MAX).max(heading(c))
        })
        .collect();
    let mut shown: Vec<bool> = cols.iter().map(|_| true).collect();
    // 1. Drop by rank.
    while need(&want, &shown) > total {
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
    // 2. Cut names, one column at a time from the widest, so they end up alike.
    let mut over = need(&want, &shown).saturating_sub(total);
    while over > 0 {
        let widest = (want.iter_mut().zip(cols).zip(&shown))
            .filter(|((w, c), s)| **s && c.name && **w > heading(c))
            .map(|((w, _), _)| w)
            .max_by_key(|w| **w);
        match widest {
            Some(w) => {
                *w -= 1;
                over -= 1;
            }
            None => break,
        }
    }
    // 4. Dropping a wide column can leave room that nothing uses: the most important
    //    dropped name comes back into it, cut, so the room is never blank while a name is
    //    missing.
    let mut spare = total.saturating_sub(need(&want, &shown));
    let back = (cols.iter().enumerate())
        .filter(|(i, c)| c.name && !shown.get(*i).copied().unwrap_or(true))
        .min_by_key(|(i, c)| (c.drop, *i))
        .map(|(i, c)| (i, heading(c).max(RETURN)));
    if let Some((i, least)) = back {
        if spare >= least + GAP {
            spare -= GAP;
            if let (Some(w), Some(s)) = (want.get_mut(i), shown.get_mut(i)) {
                *w = (*w).min(spare);
                *s = true;
            }
        }
    }
    want.into_iter()
        .zip(shown)
        .map(|(w, s)| s.then_some(w))
        .collect()
}
/// Cuts a line to `max` columns, keeping its styles.
pub fn fit_line(line: Line<'_>, max: usize) -> Line<'_> {
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
pub fn natural(rows: &[Vec<Line<'_>>]) -> Vec<usize> {
    let mut widest: Vec<usize> = Vec::new();
    for row in rows {
        if widest.len() < row.len() {
            widest.resize(row.len(), 0);
        }
        for (w, cell) in widest.iter_mut().zip(row) {
            *w = (*w).max(line_width(cell));
        }
    }
    widest
}

/// A table to draw.
pub struct Table<'a> {
    /// Columns.
    pub cols: &'a [Column],
    /// Cells, one line per column per row: the rows that fit, from `offset`.
    pub rows: Vec<Vec<Line<'a>>>,
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
        let cols = self.cols;
        let widths = widths(cols, &self.natural, area.width);
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
fn put(buf: &mut Buffer, x: u16, y: u16, w: u16, line: Line<'_>, right: bool) {
    // What still does not fit is cut at the right edge.
    let w = w.min(buf.area.right().saturating_sub(x));
    if w == 0 {
        return;
    }
    // Measured once: a cell that fits (nearly all) is neither cut nor measured again.
    let lw = line_width(&line);
    let (line, lw) = if lw <= w as usize {
        (line, lw as u16)
    } else {
        let cut = fit_line(line, w as usize);
        let cw = cut.width() as u16;
        (cut, cw)
    };
    let x = if right { x + w.saturating_sub(lw) } else { x };
    set_line(buf, x, y, &line, w);
}

/// Whether a text is printable ASCII: one column per byte.
fn plain_ascii(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// A line's width in columns, as `Line::width` measures it, without a look-up per
/// character for printable ASCII.
fn line_width(line: &Line<'_>) -> usize {
    (line.spans.iter())
        .map(|s| {
            let text = s.content.as_ref();
            if plain_ascii(text) {
                text.len()
            } else {
                s.width()
            }
        })
        .sum()
}

/// Writes `line` at (x, y) in at most `w` columns, as `Buffer::set_line` does, except that a
/// span of printable ASCII (nearly every cell: numbers, names, times) is written a character
/// to a cell instead of being split into grapheme clusters and measured first: on a full
/// screen that splitting was a seventh of a frame.
fn set_line(buf: &mut Buffer, mut x: u16, y: u16, line: &Line<'_>, w: u16) {
    let mut left = w;
    for span in line {
        if left == 0 {
            break;
        }
        let style = line.style.patch(span.style);
        let text = span.content.as_ref();
        if plain_ascii(text) {
            for b in text.bytes().take(usize::from(left)) {
                if let Some(cell) = buf.cell_mut((x, y)) {
                    cell.set_char(char::from(b)).set_style(style);
                }
                x += 1;
                left -= 1;
            }
        } else {
            let (after, _) = buf.set_stringn(x, y, text, usize::from(left), style);
            left = left.saturating_sub(after.saturating_sub(x));
            x = after;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII shortcut writes exactly what ratatui's own `set_line` writes: plain, wide,
    /// combining and mixed spans, styled, cut at the cell's width and at the buffer's edge.
    #[test]
    fn set_line_writes_what_ratatuis_set_line_writes() {
        let texts = [
            "4101",
            "Ada Lindqvist",
            "名前 Yusuf",
            "e\u{301}te",
            "",
            " +2",
            "ab\u{7f}c",
        ];
        for (i, a) in texts.iter().enumerate() {
            for b in &texts {
                for w in [0u16, 1, 3, 6, 12, 40] {
                    let line =
                        Line::from(vec![Span::styled(*a, Style::new().bold()), Span::raw(*b)])
                            .style(Style::new().dim());
                    let area = Rect::new(0, 0, 16, 1);
                    let mut ours = Buffer::empty(area);
                    let mut theirs = Buffer::empty(area);
                    let x = u16::try_from(i).unwrap_or(0);
                    set_line(&mut ours, x, 0, &line, w);
                    theirs.set_line(x, 0, &line, w);
                    assert_eq!(ours, theirs, "{a:?} + {b:?} in {w} from {x}");
                    assert_eq!(line_width(&line), line.width(), "{a:?} + {b:?}");
                }
            }
        }
    }

    #[test]
    fn columns_drop_by_rank_before_names_are_cut() {
        let cols = [
            Column::new("A").name(),
            Column::new("B").drops(1),
            Column::new("C").drops(2),
        ];
        let natural = [16, 10, 10];
        // Everything fits at its widest value; the rest stays blank.
        assert_eq!(widths(&cols, &natural, 60), [Some(16), Some(10), Some(10)]);
        // C (rank 2) goes first, then B, and only then is the name cut.
        assert_eq!(widths(&cols, &natural, 39), [Some(16), Some(10), None]);
        assert_eq!(widths(&cols, &natural, 28), [Some(16), None, None]);
        assert_eq!(widths(&cols, &natural, 12), [Some(10), None, None]);
        // A name is cut no narrower than its heading; the edge cuts the rest.
        assert_eq!(widths(&cols, &natural, 2), [Some(1), None, None]);
        // A column is as wide as its heading, and no other minimum applies.
        let numbers = [Column::new("NUM"), Column::new("CALLER")];
        assert_eq!(widths(&numbers, &[1, 4], 80), [Some(3), Some(6)]);
    }

    #[test]
    fn a_dropped_name_comes_back_into_the_room_left() {
        let cols = [
            Column::new("P"),
            Column::new("QUEUE").name().drops(1),
            Column::new("NAME").name().drops(2),
        ];
        // 2 + 1 + 1 + 30 + 1 + 30 = 65: NAME goes, and 16 columns are left, so it comes back
        // cut to 15.
        assert_eq!(
            widths(&cols, &[1, 30, 30], 50),
            [Some(1), Some(30), Some(15)]
        );
        // Less than 8 left: it stays out.
        assert_eq!(widths(&cols, &[1, 30, 30], 40), [Some(1), Some(30), None]);
    }

    #[test]
    fn the_widest_name_is_cut_first() {
        let cols = [
            Column::new("N").name(),
            Column::new("NAME").name(),
            Column::new("T"),
        ];
        // 2 + 10 + 1 + 30 + 1 + 5 = 49: 9 over, all from the wider name.
        assert_eq!(
            widths(&cols, &[10, 30, 5], 40),
            [Some(10), Some(21), Some(5)]
        );
        // 2 + 20 + 1 + 20 + 1 + 5 = 49: shared.
        let both = widths(&cols, &[20, 20, 5], 40);
        assert_eq!(both, [Some(16), Some(15), Some(5)]);
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
