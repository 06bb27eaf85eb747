//! The view: a pure function of the state. It reads no clock (times are measured to the
//! state's `now`) and changes nothing.
//!
//! Wide screens (120 columns or more) put queues, waiting calls and parked calls on the left
//! and the agent grid on the right, each in a box. Narrower screens stack the panes with a
//! title rule each, queues first, so that 80x24 shows every queue, the waiting calls and a
//! screenful of agents.

pub(super) mod alert;
pub(super) mod detail;
pub(super) mod help;
pub(super) mod messages;
mod panes;
pub(super) mod prompt;
mod table;
mod trend;
mod wall;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use self::panes::Frame as PaneFrame;
use super::app::App;
use super::functions::{self, Offer};
use super::keymap::{Context, KeyAction};
use super::layout::{WIDE, bottom_lines, overlay_rect, overlay_text_width};
use super::screen::{Overlay, Pane};
use super::text::{clean, duration, fit, width};
use crate::model::{AlertLevel, ConnectionState, Function, PbxSystem, StopKind};

/// Renders the whole screen into a frame.
pub fn view(app: &App, frame: &mut Frame<'_>) {
    let area = frame.area();
    render(app, area, frame.buffer_mut());
}

/// Renders the whole screen into a buffer area.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if app.wall() {
        wall::render(app, area, buf);
        return;
    }
    let alert = alert::lines(app, area.width);
    let (my, extra) = bottom_lines(app);
    let [head, alert_area, body, my_area, extra_area, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(alert.len() as u16),
        Constraint::Min(0),
        Constraint::Length(my),
        Constraint::Length(extra),
        Constraint::Length(1),
    ])
    .areas(area);
    header(app, head, buf);
    buf.set_style(alert_area, app.config().theme.alert);
    for (i, line) in alert.into_iter().enumerate() {
        let y = alert_area.y + i as u16;
        if y < alert_area.bottom() {
            buf.set_line(alert_area.x, y, &line, alert_area.width);
        }
    }
    if body.width >= WIDE {
        wide(app, body, buf);
    } else {
        stacked(app, body, buf);
    }
    match app.overlay() {
        Overlay::None => {}
        Overlay::Help { scroll } => {
            let inner_w = overlay_text_width(body);
            let lines = help::content(app, inner_w);
            overlay(app, body, buf, "Help", lines, *scroll);
        }
        Overlay::Messages { scroll } => {
            let inner_w = overlay_text_width(body);
            let lines = messages::content(app, inner_w);
            overlay(app, body, buf, "Messages, newest first", lines, *scroll);
        }
        Overlay::Detail { target, scroll, .. } => {
            let inner_w = overlay_text_width(body);
            let (title, lines) = detail::content(app, target, inner_w);
            overlay(app, body, buf, &title, lines, *scroll);
        }
    }
    // A screen too small for a line gets none (a zero-height area still has a y).
    if my_area.height > 0 {
        my_line(app, my_area, buf);
    }
    if status.height == 0 {
        return;
    }
    if app.modal().is_some() {
        prompt::render(app, extra_area, status, buf);
    } else {
        status_line(app, status, buf);
    }
}

fn overlay(
    app: &App,
    body: Rect,
    buf: &mut Buffer,
    title: &str,
    lines: Vec<Line<'static>>,
    scroll: u16,
) {
    let theme = &app.config().theme;
    let area = overlay_rect(body, lines.len());
    let visible = area.height.saturating_sub(2);
    let max = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_sub(visible);
    let scroll = scroll.min(max);
    let mut title_spans = vec![Span::styled(
        format!(" {} ", fit(title, area.width.saturating_sub(4) as usize)),
        theme.title_focused,
    )];
    if max > 0 {
        title_spans.push(Span::styled(
            format!(
                " lines {}-{} of {} ",
                scroll + 1,
                scroll + visible,
                lines.len()
            ),
            theme.dim,
        ));
    }
    Clear.render(area, buf);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Line::from(title_spans));
    let inner = block.inner(area);
    block.render(area, buf);
    let text_area = Rect::new(
        inner.x + 1,
        inner.y,
        inner.width.saturating_sub(2),
        inner.height,
    );
    let lines: Vec<Line<'static>> = lines
        .into_iter()
        .skip(scroll as usize)
        .take(visible as usize)
        .map(|l| table::fit_line(l, text_area.width as usize))
        .collect();
    Paragraph::new(lines).render(text_area, buf);
}

// --------------------------------------------------------------------------------------------
// Layouts

fn wide(app: &App, body: Rect, buf: &mut Buffer) {
    let d = app.derived();
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(body);
    let boxed = PaneFrame::Boxed;
    let queues_h = (d.queues().len().max(1) as u16 + boxed.overhead()).min(body.height / 3);
    let parked_h = (d.parked().len().max(1) as u16 + boxed.overhead()).min(body.height / 4);
    let [q, w, p] = Layout::vertical([
        Constraint::Length(queues_h),
        Constraint::Min(boxed.overhead() + 1),
        Constraint::Length(parked_h),
    ])
    .areas(left);
    panes::draw(app, Pane::Queues, q, buf, boxed);
    panes::draw(app, Pane::Waiting, w, buf, boxed);
    panes::draw(app, Pane::Parked, p, buf, boxed);
    panes::draw(app, Pane::Agents, right, buf, boxed);
}

fn stacked(app: &App, body: Rect, buf: &mut Buffer) {
    let d = app.derived();
    let ruled = PaneFrame::Ruled;
    let o = ruled.overhead();
    let queues_h = d.queues().len().clamp(1, 6) as u16 + o;
    let waiting_n = app.waiting_rows().len();
    let waiting_h = waiting_n.clamp(1, 5) as u16 + o;
    let show_parked = !d.parked().is_empty() || app.focus() == Pane::Parked;
    let parked_h = if show_parked {
        d.parked().len().clamp(1, 3) as u16 + o
    } else {
        0
    };
    let [q, w, a, p] = Layout::vertical([
        Constraint::Length(queues_h),
        Constraint::Length(waiting_h),
        Constraint::Min(o + 1),
        Constraint::Length(parked_h),
    ])
    .areas(body);
    panes::draw(app, Pane::Queues, q, buf, ruled);
    panes::draw(app, Pane::Waiting, w, buf, ruled);
    panes::draw(app, Pane::Agents, a, buf, ruled);
    if show_parked {
        panes::draw(app, Pane::Parked, p, buf, ruled);
    }
}

// --------------------------------------------------------------------------------------------
// Header, alert line, status line

/// Part of the header, dropped by priority when the width runs out.
struct Seg {
    spans: Vec<Span<'static>>,
    keep: u8,
    right: bool,
}

fn seg(spans: Vec<Span<'static>>, keep: u8, right: bool) -> Seg {
    Seg { spans, keep, right }
}

fn seg_width(s: &Seg) -> usize {
    s.spans.iter().map(|sp| width(&sp.content)).sum()
}

/// The link state in a few words, with its symbol and style.
fn connection_words(app: &App) -> (String, Style) {
    let theme = &app.config().theme;
    match app.model().connection() {
        ConnectionState::Idle => ("○ not connected".to_owned(), theme.dim),
        ConnectionState::Connecting { attempt } if *attempt > 1 => {
            (format!("◌ connecting, attempt {attempt}"), theme.warn)
        }
        ConnectionState::Connecting { .. } => ("◌ connecting".to_owned(), theme.warn),
        ConnectionState::Syncing { confirmed, wanted } => {
            (format!("◐ syncing {confirmed}/{wanted}"), theme.warn)
        }
        ConnectionState::Connected { round_trip_ms } => {
            let rtt = match round_trip_ms {
                Some(ms) if *ms < 10.0 => format!(" {ms:.1} ms"),
                Some(ms) => format!(" {ms:.0} ms"),
                None => String::new(),
            };
            (format!("● connected{rtt}"), theme.ok)
        }
        ConnectionState::Reconnecting { at, .. } => {
            let secs = at
                .saturating_duration_since(app.now())
                .as_millis()
                .div_ceil(1000);
            (format!("✗ reconnecting in {secs} s"), theme.bad)
        }
        ConnectionState::Stopped {
            kind: StopKind::LoginRejected,
            ..
        } => ("■ stopped: login refused".to_owned(), theme.bad),
        ConnectionState::Stopped { .. } => ("■ stopped".to_owned(), theme.bad),
    }
}

/// What the scope covers ("scope: 2 queues, 23 agents") and, once the PBX has listed its
/// queues, a warning for each queue it names that the PBX does not have. Nothing when the
/// scope covers the whole site.
fn scope_segments(app: &App, narrow: bool, segs: &mut Vec<Seg>) {
    let cfg = app.config();
    let scope = &cfg.scope;
    if scope.is_everything() {
        return;
    }
    let model = app.model();
    // The panes list exactly what the scope covers, so their rows are its counts (kept as the
    // model changes, not counted again each frame).
    let d = app.derived();
    let (queues, agents) = (d.queues().len(), d.agents_total());
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let words = if narrow {
        format!("{queues}q {agents}a")
    } else {
        format!(
            "{queues} queue{}, {agents} agent{}",
            plural(queues),
            plural(agents)
        )
    };
    segs.push(seg(
        vec![Span::styled("scope: ", cfg.theme.dim), Span::raw(words)],
        7,
        false,
    ));
    if model.queues().next().is_none() {
        return;
    }
    for name in scope.unknown_queues(model) {
        segs.push(seg(
            vec![Span::styled(
                format!("no queue \"{}\"", clean(name)),
                cfg.theme.warn,
            )],
            8,
            false,
        ));
    }
}

/// How many queues the header names in its alerts before it counts the rest.
const ALERTS_NAMED: usize = 3;

/// The queues' alerts, worst first, each with its level's symbol (and colour); acknowledged
/// ones dimmed. Narrow: the symbols with a count. "alerts paused" while the data is not live.
fn alert_segment(app: &App, narrow: bool) -> Option<Seg> {
    let theme = &app.config().theme;
    let alerts = app.alerts();
    if alerts.paused() {
        return (app.model().queues().next().is_some())
            .then(|| seg(vec![Span::styled("alerts paused", theme.warn)], 9, false));
    }
    let active = alerts.active();
    if active.is_empty() {
        return None;
    }
    let mut spans = Vec::new();
    if narrow {
        for level in [AlertLevel::Critical, AlertLevel::Warn] {
            let n = active.iter().filter(|(_, l, _)| *l == level).count();
            if n > 0 {
                if !spans.is_empty() {
                    spans.push(Span::raw(" "));
                }
                spans.push(Span::styled(
                    format!("{}{n}", level.symbol()),
                    theme.level(level),
                ));
            }
        }
    } else {
        for (guid, level, acknowledged) in active.iter().take(ALERTS_NAMED) {
            let Some(q) = app.model().queue(guid) else {
                continue;
            };
            if !spans.is_empty() {
                spans.push(Span::raw(" "));
            }
            let style = if *acknowledged {
                theme.dim
            } else {
                theme.level(*level)
            };
            spans.push(Span::styled(
                format!("{} {}", level.symbol(), clean(&q.name)),
                style,
            ));
        }
        if active.len() > ALERTS_NAMED {
            spans.push(Span::styled(
                format!(" +{}", active.len() - ALERTS_NAMED),
                theme.dim,
            ));
        }
    }
    Some(seg(spans, 9, false))
}

fn header(app: &App, area: Rect, buf: &mut Buffer) {
    let cfg = app.config();
    let theme = &cfg.theme;
    let totals = app.derived().totals();
    let narrow = area.width < WIDE;
    let mut segs = vec![seg(vec![Span::styled(" ipo-top", theme.brand)], 10, false)];
    if let Some(b) = &cfg.banner {
        segs.push(seg(
            vec![Span::styled(format!(" {} ", clean(b)), theme.banner)],
            10,
            false,
        ));
    }
    if !cfg.pbx.is_empty() {
        segs.push(seg(vec![Span::raw(clean(&cfg.pbx).into_owned())], 3, false));
    }
    if let Some(v) = app.model().version() {
        segs.push(seg(
            vec![Span::styled(clean(v).into_owned(), theme.dim)],
            2,
            false,
        ));
    }
    let (conn, conn_style) = connection_words(app);
    segs.push(seg(vec![Span::styled(conn, conn_style)], 9, false));
    if app.model().system() == Some(PbxSystem::Secondary) {
        // The primary cannot be reached: queue calls waiting there are not seen here.
        segs.push(seg(
            vec![Span::styled(
                if narrow {
                    "SECONDARY"
                } else {
                    "on the SECONDARY system"
                },
                theme.warn,
            )],
            9,
            false,
        ));
    }

    scope_segments(app, narrow, &mut segs);
    segs.extend(alert_segment(app, narrow));

    let label = |long: &'static str, short: &'static str| if narrow { short } else { long };
    segs.push(seg(
        vec![
            Span::styled(label("waiting ", "wait "), theme.dim),
            Span::raw(totals.waiting.to_string()),
        ],
        8,
        true,
    ));
    let mut longest = vec![Span::styled("longest ", theme.dim)];
    if totals.longest_lower_bound && totals.longest_since.is_some() {
        longest.push(Span::styled("≥", theme.dim));
    }
    match totals.longest_since {
        Some(t) => {
            let d = app.since(t);
            let q = (app.derived().longest_queue()).and_then(|g| app.model().queue(g));
            if app.is_long_wait(q.map(|q| &**q), d) {
                longest.push(Span::styled(format!("{} !", duration(d)), theme.long_wait));
            } else {
                longest.push(Span::raw(duration(d)));
            }
        }
        None => longest.push(Span::raw("-")),
    }
    // Which queue it waits in, so the floor's longest caller is found at a glance.
    let queue = (app.derived().longest_queue()).and_then(|g| app.model().queue(g));
    if let (Some(q), false) = (queue, narrow) {
        longest.push(Span::styled(" in ", theme.dim));
        longest.push(Span::raw(clean(&q.name).into_owned()));
    }
    segs.push(seg(longest, 8, true));
    segs.push(seg(
        vec![
            Span::styled(label("available ", "avail "), theme.dim),
            Span::raw(format!("{}/{}", totals.available, totals.agents)),
        ],
        7,
        true,
    ));
    if let Some(c) = app.clock() {
        segs.push(seg(vec![Span::raw(format!("{c} "))], 6, true));
    }

    // Drop the least important segments until everything fits with two spaces between.
    let fits = |segs: &[Seg]| {
        let total: usize = segs.iter().map(seg_width).sum::<usize>() + 2 * segs.len();
        total <= area.width as usize
    };
    while !fits(&segs) {
        let Some(i) = segs
            .iter()
            .enumerate()
            .min_by_key(|(i, s)| (s.keep, usize::MAX - i))
            .map(|(i, _)| i)
        else {
            break;
        };
        if segs.len() <= 1 {
            break;
        }
        segs.remove(i);
    }
    let join = |segs: &[Seg], right: bool| {
        let mut spans = Vec::new();
        for s in segs.iter().filter(|s| s.right == right) {
            if !spans.is_empty() {
                spans.push(Span::raw("  "));
            }
            spans.extend(s.spans.iter().cloned());
        }
        Line::from(spans)
    };
    let left = join(&segs, false);
    let right = join(&segs, true);
    buf.set_line(
        area.x,
        area.y,
        &table::fit_line(left, area.width as usize),
        area.width,
    );
    let rw = right.width() as u16;
    if rw < area.width {
        buf.set_line(area.x + area.width - rw, area.y, &right, rw);
    }
}

/// A key hint for the status line: the key, its word, whether it is dimmed (the function
/// belongs with the selection but cannot be used now), and how much it matters when the
/// width runs out.
struct Hint {
    key: String,
    word: &'static str,
    dim: bool,
    keep: u8,
}

/// The hints for the current context and selection, in table order.
fn hints(app: &App) -> Vec<Hint> {
    let keymap = &app.config().keymap;
    let ctx = app.context();
    let selected = match app.focus() {
        Pane::Queues => app.selection().queue.is_some(),
        Pane::Waiting => app.selection().call.is_some(),
        Pane::Agents => app.selection().agent.is_some(),
        Pane::Parked => app.selection().parked.is_some(),
    };
    let mut out = Vec::new();
    for b in keymap.bindings().iter().filter(|b| b.context == ctx) {
        let Some(word) = b.hint else { continue };
        let Some(key) = b.keys.first() else { continue };
        let (show, dim, keep) = match b.action {
            // The My line strip shows these.
            KeyAction::Function(Function::Answer | Function::Hold) => (false, false, 0),
            KeyAction::Function(f) => match functions::offer(&app.scene(), f) {
                Offer::Hidden => (false, false, 0),
                Offer::Dimmed(_) => (true, true, 1),
                Offer::Ready => (true, false, function_weight(f)),
            },
            KeyAction::Open => (selected && ctx == Context::Main, false, 3),
            KeyAction::Back if ctx == Context::Main => (!app.filter().text.is_empty(), false, 2),
            KeyAction::RetryLogin => (app.login_refused(), false, 5),
            KeyAction::Messages => (app.history().next().is_some(), false, 1),
            KeyAction::Help | KeyAction::Quit => (true, false, 5),
            _ => (true, false, 2),
        };
        if !show {
            continue;
        }
        let word = if b.action == KeyAction::Back && ctx == Context::Main {
            "clear filter"
        } else {
            word
        };
        out.push(Hint {
            key: key.to_string(),
            word,
            dim,
            keep,
        });
    }
    out
}

/// How much a usable function's hint matters when the status line is short of room: the
/// rescues first (transfer, park, drop, barge, pick up, unpark, service mode), the fine
/// adjustments last.
fn function_weight(f: Function) -> u8 {
    match f {
        Function::Transfer
        | Function::Park
        | Function::Drop
        | Function::Barge
        | Function::Pickup
        | Function::Unpark
        | Function::ServiceMode => 4,
        Function::Redirect | Function::Priority | Function::Dnd | Function::Member => 3,
        _ => 2,
    }
}

fn hint_width(h: &Hint) -> usize {
    width(&h.key) + width(h.word) + 3
}

fn status_line(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.config().theme;
    let ctx = app.context();
    let mut left: Vec<Span<'static>> = vec![Span::raw(" ")];
    if ctx == Context::Filter {
        left.push(Span::styled("/", theme.title_focused));
        left.push(Span::raw(clean(&app.filter().text).into_owned()));
        left.push(Span::styled("█", theme.title_focused));
        left.push(Span::raw("  "));
    }
    let right: Option<Line<'static>> = app.status().map(|m| messages::message_line(app, m));
    let total = area.width as usize;
    // The message wins over hints: it is news, the hints are always the same.
    let right = right.map(|r| table::fit_line(r, total.saturating_sub(1)));
    let rw = right.as_ref().map_or(0, Line::width);
    let room = total.saturating_sub(rw + 1);
    // Hints that do not fit are dropped whole, least important first (the rightmost of
    // equals), so none is ever cut mid-word.
    let used = Line::from(left.clone()).width();
    let mut hints = hints(app);
    while used + hints.iter().map(hint_width).sum::<usize>() > room {
        let Some(i) = hints
            .iter()
            .enumerate()
            .min_by_key(|(i, h)| (h.keep, usize::MAX - i))
            .map(|(i, _)| i)
        else {
            break;
        };
        hints.remove(i);
    }
    for h in hints {
        let (key_style, word_style) = if h.dim {
            (
                theme
                    .dim
                    .add_modifier(ratatui::style::Modifier::CROSSED_OUT),
                theme.dim,
            )
        } else {
            (theme.title, theme.dim)
        };
        left.push(Span::styled(h.key, key_style));
        left.push(Span::styled(format!(" {}  ", h.word), word_style));
    }
    let left = table::fit_line(Line::from(left), room);
    buf.set_line(area.x, area.y, &left, area.width);
    if let Some(r) = right {
        let rw16 = rw as u16;
        buf.set_line(area.x + area.width.saturating_sub(rw16), area.y, &r, rw16);
    }
}

/// The supervisor's own line: its calls (ringing first), with the keys that act on them.
fn my_line(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.config().theme;
    let keymap = &app.config().keymap;
    let extn = app.config().supervisor.clone().unwrap_or_default();
    let mut left = vec![Span::styled(" My line ", theme.title)];
    match functions::supervisor(&app.scene()) {
        None => {
            left.push(Span::raw(clean(&extn).into_owned()));
            left.push(Span::styled(": not on this PBX", theme.dim));
        }
        Some(u) => {
            left.push(Span::raw(format!("{} {}", clean(&u.extn), clean(&u.name))));
            let calls = functions::my_calls(&app.scene());
            if calls.is_empty() {
                left.push(Span::styled("  no calls", theme.dim));
            }
            for (i, a) in calls.iter().enumerate() {
                left.push(Span::raw(if i == 0 { "  " } else { " · " }));
                let word = match a.call.state {
                    s if s.is_ringing() => ("RING", theme.ring),
                    crate::model::CallState::Connected => ("TALK", theme.talk),
                    s if s.is_held() => ("HOLD", theme.hold),
                    s => (
                        match s {
                            crate::model::CallState::AfterCallWork => "ACW",
                            _ => "BUSY",
                        },
                        theme.dim,
                    ),
                };
                left.push(Span::styled(word.0, word.1));
                left.push(Span::raw(format!(
                    " {} {}",
                    duration(app.since(a.state_since)),
                    super::rows::caller_words(a)
                )));
            }
        }
    }
    let mut right: Vec<Span<'static>> = Vec::new();
    let ctx = match app.context() {
        Context::Detail => Context::Detail,
        _ => Context::Main,
    };
    if !app.config().read_only {
        for f in [Function::Answer, Function::Hold] {
            let Some(key) = keymap.key_for(ctx, KeyAction::Function(f)) else {
                continue;
            };
            let word = match f {
                Function::Answer => "answer",
                _ => match functions::my_calls(&app.scene())
                    .iter()
                    .find(|a| a.call.state == crate::model::CallState::Connected)
                {
                    Some(_) => "hold",
                    None => "unhold",
                },
            };
            match functions::offer(&app.scene(), f) {
                Offer::Hidden => {}
                Offer::Dimmed(_) => {
                    right.push(Span::styled(
                        key.to_string(),
                        theme
                            .dim
                            .add_modifier(ratatui::style::Modifier::CROSSED_OUT),
                    ));
                    right.push(Span::styled(format!(" {word}  "), theme.dim));
                }
                Offer::Ready => {
                    right.push(Span::styled(key.to_string(), theme.title));
                    right.push(Span::styled(format!(" {word}  "), theme.dim));
                }
            }
        }
    }
    let right = Line::from(right);
    let rw = right.width();
    let total = area.width as usize;
    let left = table::fit_line(Line::from(left), total.saturating_sub(rw));
    buf.set_line(area.x, area.y, &left, area.width);
    if rw > 0 && rw < total {
        let rw16 = rw as u16;
        buf.set_line(area.x + area.width - rw16, area.y, &right, rw16);
    }
}
