//! The four panes: queues, the selected queue's waiting calls, the agent grid and parked
//! calls. Each builds its rows from the derived rows of the state, so a row is where
//! navigation thinks it is.
//!
//! Columns are as wide as their widest value (see `table`). When a pane is too narrow they
//! are dropped, least important first, before any name is cut:
//!
//! - queues: NUM, ASA, ABN, AVAIL, BUSY, ANS (then the queue's name is cut);
//! - waiting calls: DID, TARGETS, the caller's NAME, QUEUE (then the queue's name is cut);
//! - agents: the call's QUEUE, the party's name or the absence (then the agent's name is
//!   cut);
//! - parked calls: the caller's NAME.
//!
//! The ranks in each pane's column list (`drops`) are this order.

use std::borrow::Cow;
use std::ops::Range;
use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use super::table::{self, Column, Table, window};
use super::trend;
use crate::model::{
    AgentState, AlertLevel, Appearance, LineId, Party, Queue, QueueStats, ServiceMode,
};
use crate::ui::app::App;
use crate::ui::rows::{
    AgentOrder, AgentSort, AgentWords, Beside, QueueWords, number_words, priority,
};
use crate::ui::screen::{Overlay, Pane};
use crate::ui::text::{clean, duration, width};

/// Whether panes get full boxes (wide screens) or a title rule only (stacked, to save rows).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Frame {
    /// Full borders.
    Boxed,
    /// A rule with the title above the pane.
    Ruled,
}

impl Frame {
    /// Lines the frame takes besides the table's rows (title, headings, bottom border).
    pub fn overhead(self) -> u16 {
        match self {
            Frame::Boxed => 3,
            Frame::Ruled => 2,
        }
    }
}

/// A pane's title and its table's columns and the rows that fit.
struct PaneView<'a> {
    pane: Pane,
    title: Vec<Span<'static>>,
    /// The columns; the agent grid's heading marks its sort, so they may be its own.
    cols: Cow<'a, [Column]>,
    /// The rows shown, from `shown.start` (their words borrowed from the model where they
    /// can be).
    rows: Vec<Vec<Line<'a>>>,
    shown: Range<usize>,
    /// Per column, the widest cell of every row listed.
    natural: Vec<usize>,
    /// Rows listed in all.
    len: usize,
    selected: Option<usize>,
    /// What to say when there are no rows.
    empty: &'a str,
}

/// Draws `pane` in `area`.
pub fn draw(app: &App, pane: Pane, area: Rect, buf: &mut Buffer, frame: Frame) {
    let inner_height = area.height.saturating_sub(frame.overhead()) as usize;
    let pv = match pane {
        Pane::Queues => queues(app, inner_height),
        Pane::Waiting => waiting(app, inner_height),
        Pane::Agents => agents(app, inner_height),
        Pane::Parked => parked(app, inner_height),
    };
    let theme = &app.config().theme;
    let focused = app.focus() == pv.pane && *app.overlay() == Overlay::None;
    let (title_style, border_style) = if focused {
        (theme.title_focused, theme.border_focused)
    } else {
        (theme.title, theme.border)
    };
    let (_, above, below) = window(pv.len, inner_height, pv.selected);
    let mut title = vec![Span::raw(" ")];
    title.extend(pv.title.into_iter().map(|s| {
        let style = title_style.patch(s.style);
        s.style(style)
    }));
    if above > 0 {
        title.push(Span::styled(format!(" ↑{above}"), theme.dim));
    }
    if below > 0 {
        title.push(Span::styled(format!(" ↓{below}"), theme.dim));
    }
    title.push(Span::raw(" "));
    let block = Block::new()
        .borders(match frame {
            Frame::Boxed => Borders::ALL,
            Frame::Ruled => Borders::TOP,
        })
        .border_style(border_style)
        .title(Line::from(title));
    let inner = block.inner(area);
    block.render(area, buf);
    let table = Table {
        cols: &pv.cols,
        rows: pv.rows,
        offset: pv.shown.start,
        natural: pv.natural,
        selected: pv.selected,
        focused,
        row_style: row_style(app),
        empty: pv.empty,
    };
    table.render(inner, buf, theme);
}

/// The rows of a list of `len` that fit in `height` lines with `selected` visible.
fn shown(len: usize, height: usize, selected: Option<usize>) -> Range<usize> {
    let (offset, _, _) = window(len, height, selected);
    offset..(offset + height).min(len)
}

/// The rows of a short list (waiting calls, parked calls), all formatted so the columns fit
/// every row (a few hundred calls at most, where a census would cost more than it saves):
/// the ones that fit and every column's widest cell.
fn fit_rows(
    mut rows: Vec<Vec<Line<'_>>>,
    height: usize,
    selected: Option<usize>,
) -> (Vec<Vec<Line<'_>>>, Range<usize>, Vec<usize>) {
    let natural = table::natural(&rows);
    let shown = shown(rows.len(), height, selected);
    rows.truncate(shown.end);
    rows.drain(..shown.start);
    (rows, shown, natural)
}

/// The widest service mode word ("Active").
const MODE_WIDTH: usize = 6;
/// The widest service level ("100%").
const SL_WIDTH: usize = 4;
/// The widest agent state word ("AVAIL", "FAULT").
const STATE_WIDTH: usize = 5;
/// The widest time in state: a lower bound's "≥" and a day's "23:59:59".
const TIME_WIDTH: usize = 9;

fn stale_note(app: &App) -> Option<Span<'static>> {
    app.stale()
        .then(|| Span::styled(" · stale", app.config().theme.bad))
}

fn row_style(app: &App) -> Style {
    if app.stale() {
        app.config().theme.stale
    } else {
        Style::new()
    }
}

fn filter_note(app: &App, shown: usize, total: usize) -> Option<Span<'static>> {
    let f = app.filter();
    (!f.text.is_empty()).then(|| {
        Span::styled(
            format!(" · {shown} of {total} match “{}”", clean(&f.text)),
            app.config().theme.dim,
        )
    })
}

/// A wait (or any time since `t`), marked with `!` when long and with `≥` when it began
/// before ipo-top saw it (a lower bound).
fn wait_cell(app: &App, queue: Option<&Queue>, t: Instant, lower_bound: bool) -> Line<'static> {
    let d = app.since(t);
    let theme = &app.config().theme;
    let mut spans = Vec::new();
    if lower_bound {
        spans.push(Span::styled("≥", theme.dim));
    }
    if app.is_long_wait(queue, d) {
        spans.push(Span::styled(duration(d), theme.long_wait));
        spans.push(Span::styled(" !", theme.long_wait));
    } else {
        spans.push(Span::raw(duration(d)));
    }
    Line::from(spans)
}

/// A queue's calls waiting over the last minutes, scaled to its own most.
fn waiting_trend(app: &App, guid: &crate::model::Guid) -> Line<'static> {
    let Some(trends) = app.trends() else {
        return Line::from("");
    };
    let values = trend::last(&trends.minutes(guid), PANE_TREND_MINUTES, |s| {
        u64::from(s.waiting)
    });
    let max = values.iter().flatten().copied().max().unwrap_or(0);
    Line::from(Span::styled(
        trend::bars(&values, max),
        app.config().theme.acw,
    ))
}

/// A queue's service level as a percentage, `-` before the first answered or abandoned call.
fn sl_cell(app: &App, s: &QueueStats) -> Line<'static> {
    match s.service_level() {
        Some(f) => Line::from(format!("{:.0}%", f * 100.0)),
        None => dim(app, "-"),
    }
}

/// The counting period for a title: " · since 09:14 UTC (start)".
fn period_note(app: &App) -> Option<Span<'static>> {
    app.model()
        .stats_period()
        .map(|p| Span::styled(format!(" · {}", clean(&p.label)), app.config().theme.dim))
}

fn text(s: &str) -> Line<'static> {
    Line::from(clean(s).into_owned())
}

fn dim(app: &App, s: impl Into<String>) -> Line<'static> {
    Line::from(Span::styled(s.into(), app.config().theme.dim))
}

fn name(p: Option<&Party>) -> String {
    p.map(|p| clean(&p.name).into_owned()).unwrap_or_default()
}

// --------------------------------------------------------------------------------------------
// Queues

/// The minutes of waiting calls the queue pane's sparkline shows, where the width allows.
const PANE_TREND_MINUTES: usize = 15;

const QUEUE_COLS: [Column; 13] = [
    // The queue's alert level: a symbol, so it reads the same without colour.
    Column::new(""),
    Column::new("QUEUE").name(),
    Column::new("NUM").drops(7),
    Column::new("MODE"),
    Column::new("WAIT").right(),
    Column::new("LONGEST"),
    Column::new("AVAIL").right().drops(3),
    Column::new("BUSY").right().drops(2),
    Column::new("SL").right(),
    Column::new("ANS").right().drops(1),
    Column::new("ABN").right().drops(4),
    Column::new("ASA").right().drops(6),
    // Calls waiting each minute of the last quarter hour: the first to go when narrow.
    Column::new("WAITING 15 MIN").drops(8),
];

/// The queues pane.
fn queues(app: &App, height: usize) -> PaneView<'static> {
    let theme = &app.config().theme;
    let d = app.derived();
    let model = app.model();
    let selected = app
        .selection()
        .queue
        .as_ref()
        .and_then(|g| d.queues().iter().position(|q| q == g));
    let shown = shown(d.queues().len(), height, selected);
    let mut rows = Vec::new();
    for guid in &d.queues()[shown.clone()] {
        let Some(q) = model.queue(guid) else {
            // Never the case (a row is a queue's); an empty row keeps the others in place.
            rows.push(Vec::new());
            continue;
        };
        let fig = d.figures(guid);
        let mode = q.service_mode();
        let mode_cell = match mode {
            ServiceMode::Active => Line::from(mode.word()),
            ServiceMode::Unset => dim(app, "-"),
            other => Line::from(Span::styled(other.word(), theme.warn)),
        };
        let (avail, busy) = if fig.members == 0 {
            (dim(app, "-"), dim(app, "-"))
        } else {
            (
                Line::from(fig.available.to_string()),
                Line::from(fig.busy.to_string()),
            )
        };
        let words = QueueWords::of(q);
        let level = app.alerts().level(guid);
        rows.push(vec![
            // Nothing for ok: the marks stand out where there is something to see.
            match level {
                AlertLevel::Ok => Line::from(" "),
                _ => Line::from(Span::styled(level.symbol(), theme.level(level))),
            },
            Line::from(words.name),
            Line::from(words.number),
            mode_cell,
            Line::from(fig.waiting.to_string()),
            fig.longest_since.map_or_else(
                || dim(app, "-"),
                |t| wait_cell(app, Some(q), t, fig.longest_lower_bound),
            ),
            avail,
            busy,
            sl_cell(app, &q.stats),
            Line::from(words.answered),
            Line::from(words.abandoned),
            words.asa.map_or_else(|| dim(app, "-"), Line::from),
            waiting_trend(app, guid),
        ]);
    }
    // The columns fit every queue, as the rows have measured them; the counts of available
    // and busy members are bounded by the most members a queue has, a queue's waiting by
    // the floor's, and the longest wait by the longest queue's, counted with a `≥` (after a
    // reconnect a shorter wait elsewhere may carry one).
    let [name, number, answered, abandoned, asa, members] = d.queue_widths().0;
    let longest = (d.longest_queue().map(|g| (model.queue(g), d.figures(g))))
        .and_then(|(q, f)| Some(wait_cell(app, q.map(|q| &**q), f.longest_since?, true).width()))
        .unwrap_or(0);
    let waiting = width(&d.totals().waiting.to_string());
    let natural = vec![
        1,
        name,
        number,
        MODE_WIDTH,
        waiting,
        longest,
        members,
        members,
        SL_WIDTH,
        answered,
        abandoned,
        asa,
        PANE_TREND_MINUTES,
    ];
    let mut title = vec![Span::raw("Queues")];
    title.extend(period_note(app));
    title.extend(stale_note(app));
    let empty = if app.model().connection().is_up() {
        "no queues on this PBX"
    } else {
        "no queues yet"
    };
    PaneView {
        pane: Pane::Queues,
        title,
        cols: Cow::Borrowed(&QUEUE_COLS),
        rows,
        len: d.queues().len(),
        shown,
        natural,
        selected,
        empty,
    }
}

// --------------------------------------------------------------------------------------------
// Waiting calls

/// The waiting pane narrowed to one queue.
const WAITING_COLS: [Column; 6] = [
    Column::new("P").right(),
    Column::new("WAIT"),
    Column::new("CALLER"),
    Column::new("NAME").name().drops(2),
    Column::new("DID").drops(4),
    Column::new("TARGETS").name().drops(3),
];

/// The floor-wide waiting pane: the queue each call waits in comes after the wait.
const FLOOR_COLS: [Column; 7] = [
    Column::new("P").right(),
    Column::new("WAIT"),
    Column::new("QUEUE").name().drops(1),
    Column::new("CALLER"),
    Column::new("NAME").name().drops(2),
    Column::new("DID").drops(4),
    Column::new("TARGETS").name().drops(3),
];

fn targets(app: &App, a: &Appearance) -> Line<'static> {
    if a.call.targets.is_empty() {
        return dim(
            app,
            format!("({})", a.call.state.to_string().to_lowercase()),
        );
    }
    let list: Vec<String> = a
        .call
        .targets
        .iter()
        .map(|t| clean(&t.label()).into_owned())
        .collect();
    Line::from(list.join(", "))
}

/// The waiting calls of every queue in scope, or of the selected queue when narrowed.
fn waiting(app: &App, height: usize) -> PaneView<'_> {
    let d = app.derived();
    let model = app.model();
    let narrowed = app.view_state().narrow_waiting;
    let queue = app.selection().queue.as_ref();
    let ids = app.waiting_rows();
    let selected = app
        .selection()
        .call
        .and_then(|c| ids.iter().position(|i| *i == c));
    let mut rows = Vec::new();
    for id in ids {
        let Some(a) = model.appearance(*id) else {
            continue;
        };
        let c = &a.call;
        let p = priority(a);
        let mut row = vec![
            if p > 0 {
                Line::from(p.to_string())
            } else {
                dim(app, "-")
            },
            wait_cell(app, app.queue_of(a), a.first_seen, a.present_at_connect),
        ];
        if !narrowed {
            // The queue its queueinfo names (the line it waits on when it names none).
            let named = c.queue.as_ref().map(|q| q.name.clone());
            let line = match &a.key.line {
                LineId::Queue(g) => model.queue(g).map(|q| q.name.clone()),
                _ => None,
            };
            row.push(named.or(line).map_or_else(|| dim(app, "-"), |n| text(&n)));
        }
        row.extend([
            Line::from(number_words(c.calling.as_ref())),
            Line::from(name(c.calling.as_ref())),
            c.trunk
                .as_ref()
                .map_or_else(|| dim(app, "-"), |t| text(&t.did)),
            targets(app, a),
        ]);
        rows.push(row);
    }
    let (rows, shown, natural) = fit_rows(rows, height, selected);
    let q = queue.and_then(|g| model.queue(g));
    let fig = queue.map(|g| d.figures(g)).unwrap_or_default();
    let (mut title, total) = match q {
        _ if !narrowed => {
            let total = d.totals().waiting;
            let title = vec![
                Span::raw("Waiting · every queue · "),
                Span::raw(total.to_string()),
            ];
            (title, total)
        }
        Some(q) => {
            let title = vec![
                Span::raw(clean(&q.name).into_owned()),
                Span::raw(" · waiting "),
                Span::raw(fig.waiting.to_string()),
            ];
            (title, fig.waiting)
        }
        None => (vec![Span::raw("Waiting")], 0),
    };
    title.extend(filter_note(app, ids.len(), total));
    title.extend(stale_note(app));
    let empty = if app.filter().text.is_empty() {
        "nobody waiting"
    } else {
        "no waiting call matches the filter"
    };
    PaneView {
        pane: Pane::Waiting,
        title,
        cols: Cow::Borrowed(if narrowed { &WAITING_COLS } else { &FLOOR_COLS }),
        rows,
        len: ids.len(),
        shown,
        natural,
        selected,
        empty,
    }
}

// --------------------------------------------------------------------------------------------
// Agents

const AGENT_COLS: [Column; 7] = [
    Column::new("EXTN"),
    Column::new("NAME").name(),
    Column::new("STATE"),
    Column::new("TIME").right(),
    Column::new("PARTY"),
    Column::new("").name().drops(2),
    Column::new("QUEUE").name().drops(3),
];

/// The agent grid's columns, the sort column's heading marked ▲ (as sorted) or ▼ (reversed).
fn sorted_cols(order: AgentOrder) -> Vec<Column> {
    let (at, up, down) = match order.sort {
        AgentSort::State => (2, "STATE▲", "STATE▼"),
        AgentSort::Time => (3, "TIME▲", "TIME▼"),
        AgentSort::Extension => (0, "EXTN▲", "EXTN▼"),
        AgentSort::Name => (1, "NAME▲", "NAME▼"),
        AgentSort::Queue => (6, "QUEUE▲", "QUEUE▼"),
    };
    let mut cols = AGENT_COLS.to_vec();
    if let Some(c) = cols.get_mut(at) {
        c.title = if order.reverse { down } else { up };
    }
    cols
}

/// The agent grid.
fn agents(app: &App, height: usize) -> PaneView<'_> {
    let theme = &app.config().theme;
    let d = app.derived();
    let model = app.model();
    // The position comes from the ordered index, and only the rows that fit are formatted.
    let selected = app
        .selection()
        .agent
        .as_ref()
        .and_then(|g| d.agent_position(g));
    let shown = shown(d.agents_len(), height, selected);
    let mut rows = Vec::new();
    for r in d.agents(shown.clone()) {
        let Some(u) = model.user(&r.guid) else {
            // Never the case (a row is a user's); an empty row keeps the others in place.
            rows.push(Vec::new());
            continue;
        };
        let state = u.agent.state;
        let time = if state == AgentState::Unknown {
            Line::from("")
        } else {
            let mark = if u.agent.observed { "" } else { "≥" };
            Line::from(format!("{mark}{}", duration(app.since(u.agent.since))))
        };
        let words = AgentWords::of(model, u, r);
        let mut party = vec![Span::raw(words.number)];
        party.extend(words.more.map(|m| Span::styled(m, theme.dim)));
        let beside = match words.beside {
            Beside::Name(name) => Line::from(name),
            Beside::Absence(phrase) => dim(app, phrase),
            Beside::Nothing => Line::from(""),
        };
        rows.push(vec![
            Line::from(words.extn),
            Line::from(words.name),
            Line::from(Span::styled(state.word(), theme.agent(state))),
            time,
            Line::from(party),
            beside,
            Line::from(words.queue),
        ]);
    }
    // The columns fit every row listed, as the grid has measured them.
    let [extn, name, party, beside, queue] = d.agent_widths().0;
    let natural = vec![extn, name, STATE_WIDTH, TIME_WIDTH, party, beside, queue];
    let mut title = vec![
        Span::raw("Agents "),
        Span::raw(d.totals().available.to_string()),
        Span::raw(" available of "),
        Span::raw(d.agents_total().to_string()),
    ];
    // Narrowed to a queue's members: the title says whose.
    let narrowed = app.view_state().narrow_agents;
    let queue = (app.selection().queue.as_ref()).and_then(|g| app.model().queue(g));
    if let (true, Some(q)) = (narrowed, queue) {
        title.push(Span::raw(" · members of "));
        title.push(Span::raw(clean(&q.name).into_owned()));
    }
    title.extend(filter_note(app, d.agents_len(), d.agents_total()));
    title.extend(stale_note(app));
    let empty = if app.filter().text.is_empty() && narrowed {
        "no member of this queue in scope"
    } else if app.filter().text.is_empty() {
        "no agents yet"
    } else {
        "no agent matches the filter"
    };
    PaneView {
        pane: Pane::Agents,
        title,
        cols: Cow::Owned(sorted_cols(app.view_state().agents)),
        rows,
        len: d.agents_len(),
        shown,
        natural,
        selected,
        empty,
    }
}

// --------------------------------------------------------------------------------------------
// Parked calls

const PARKED_COLS: [Column; 4] = [
    Column::new("SLOT"),
    Column::new("CALLER"),
    Column::new("NAME").name().drops(1),
    Column::new("PARKED").right(),
];

/// Parked calls.
fn parked(app: &App, height: usize) -> PaneView<'_> {
    let d = app.derived();
    let model = app.model();
    let selected = app
        .selection()
        .parked
        .and_then(|p| d.parked().iter().position(|i| *i == p));
    let mut rows = Vec::new();
    for id in d.parked() {
        let Some(a) = model.appearance(*id) else {
            continue;
        };
        let caller = a.call.calling.as_ref().or(a.call.connected.as_ref());
        rows.push(vec![
            text(&a.call.park_slot),
            Line::from(number_words(caller)),
            Line::from(name(caller)),
            Line::from(duration(app.since(a.first_seen))),
        ]);
    }
    let (rows, shown, natural) = fit_rows(rows, height, selected);
    let mut title = vec![
        Span::raw("Parked "),
        Span::raw(d.parked().len().to_string()),
    ];
    title.extend(stale_note(app));
    let empty = if model.park_available() {
        "no parked calls"
    } else {
        "the park server is not followed"
    };
    PaneView {
        pane: Pane::Parked,
        title,
        cols: Cow::Borrowed(&PARKED_COLS),
        rows,
        len: d.parked().len(),
        shown,
        natural,
        selected,
        empty,
    }
}
