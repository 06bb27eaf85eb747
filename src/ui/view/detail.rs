//! The detail overlay: everything a call appearance carries, in words, with the call
//! functions its feature bits allow now; an agent with its calls; a queue with its members.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use std::time::Duration;

use crate::model::{AlertLevel, Figure, Function, TREND_MINUTES};
use crate::model::{Appearance, CallState, Direction, FailedCause, Party, TrunkKind, User};
use crate::ui::app::App;
use crate::ui::functions::{Offer, offer};
use crate::ui::keymap::{Context, KeyAction};
use crate::ui::rows::{agent_calls, by_number, caller_words};
use crate::ui::screen::{DetailTarget, Overlay};
use crate::ui::text::{clean, duration, fit, wrap};

use super::trend;

/// Width of the label column.
const LABEL: usize = 11;

/// Builds the overlay's lines.
struct Lines<'a> {
    app: &'a App,
    width: usize,
    out: Vec<Line<'static>>,
    /// The picked item (an agent's call, a queue's member), when the detail has one.
    pick: Option<usize>,
    /// The line where the picked item is shown.
    pick_at: Option<usize>,
}

impl<'a> Lines<'a> {
    fn new(app: &'a App, width: usize) -> Self {
        let pick = match app.overlay() {
            Overlay::Detail { pick, .. } => Some(*pick),
            _ => None,
        };
        Lines {
            app,
            width: width.max(LABEL + 8),
            out: Vec::new(),
            pick,
            pick_at: None,
        }
    }

    /// A labelled value; a long one wraps under itself.
    fn kv(&mut self, label: &str, value: impl AsRef<str>) {
        self.kv_styled(label, value, Style::new());
    }

    fn kv_styled(&mut self, label: &str, value: impl AsRef<str>, style: Style) {
        let room = self.width - LABEL;
        let dim = self.app.config().theme.dim;
        for (i, part) in wrap(value.as_ref(), room).into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            self.out.push(Line::from(vec![
                Span::styled(format!("{label:<LABEL$}"), dim),
                Span::styled(part, style),
            ]));
        }
    }

    /// A labelled value kept as it is (a sparkline: its blanks are gaps, not spaces to
    /// wrap at), cut to the width.
    fn kv_bars(&mut self, label: &str, bars: String, style: Style) {
        let dim = self.app.config().theme.dim;
        let room = self.width - LABEL;
        self.out.push(Line::from(vec![
            Span::styled(format!("{label:<LABEL$}"), dim),
            Span::styled(fit(&bars, room).into_owned(), style),
        ]));
    }

    fn heading(&mut self, text: impl Into<String>) {
        let style = self.app.config().theme.title;
        self.out.push(Line::from(Span::styled(
            fit(&text.into(), self.width).into_owned(),
            style,
        )));
    }

    fn blank(&mut self) {
        self.out.push(Line::from(""));
    }
}

/// What the function keys do here now: those usable, and those that are not, with why.
fn keys(l: &mut Lines<'_>) {
    let app = l.app;
    let theme = app.config().theme;
    if app.config().read_only {
        l.kv_styled("Keys", "read-only: every function is off", theme.dim);
        return;
    }
    let keymap = &app.config().keymap;
    let mut now = Vec::new();
    let mut not = Vec::new();
    for f in Function::ALL {
        let Some(b) = keymap.binding(Context::Detail, KeyAction::Function(f)) else {
            continue;
        };
        let (Some(key), Some(hint)) = (b.keys.first(), b.hint) else {
            continue;
        };
        match offer(&app.scene(), f) {
            Offer::Ready => now.push(format!("{key} {hint}")),
            Offer::Dimmed(_) => not.push(format!("{key} {hint}")),
            Offer::Hidden => {}
        }
    }
    l.kv_styled(
        "Keys now",
        if now.is_empty() {
            "none".to_owned()
        } else {
            now.join(" · ")
        },
        theme.title,
    );
    if !not.is_empty() {
        l.kv_styled(
            "Not now",
            format!("{} (press one to see why)", not.join(" · ")),
            theme.dim,
        );
    }
}

fn party(p: Option<&Party>) -> Option<String> {
    let p = p?;
    let mut s = clean(&p.label()).into_owned();
    if p.withheld {
        s.push_str(if s.is_empty() {
            "withheld"
        } else {
            " (withheld)"
        });
    }
    (!s.is_empty()).then_some(s)
}

fn or_dash(s: Option<String>) -> String {
    s.filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

fn text_or_dash(s: &str) -> String {
    let s = clean(s);
    if s.trim().is_empty() {
        "-".to_owned()
    } else {
        s.into_owned()
    }
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
        Direction::Pickup => "pickup (picked up, stolen or unparked)",
        Direction::Undefined | Direction::Other(_) => "not reported",
    }
}

fn priority_words(p: i32) -> String {
    match p {
        1 => "1 (low)".to_owned(),
        2 => "2 (medium)".to_owned(),
        3 => "3 (high)".to_owned(),
        0 => "-".to_owned(),
        other => other.to_string(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Who owns an appearance: "queue 7301 Claims Desk", "4101 Achterberg", "the park server".
fn line_words(a: &Appearance) -> String {
    use crate::model::LineId;
    let label = clean(&format!("{} {}", a.line.extn, a.line.name))
        .trim()
        .to_owned();
    match a.key.line {
        LineId::Queue(_) => format!("queue {label}"),
        LineId::User(_) => label,
        LineId::ParkServer => "the park server".to_owned(),
    }
}

/// The lines of one call appearance.
fn call(l: &mut Lines<'_>, a: &Appearance, ended: Option<&str>) {
    let app = l.app;
    let theme = app.config().theme;
    let c = &a.call;
    if let Some(why) = ended {
        l.kv_styled("ENDED", format!("this call {why}"), theme.bad);
    }
    let mark = if a.state_observed { "" } else { "≥" };
    l.kv(
        "State",
        format!(
            "{} for {mark}{}; first seen {} ago",
            c.state,
            duration(app.since(a.state_since)),
            duration(app.since(a.first_seen)),
        ),
    );
    l.kv("Direction", direction(c.direction));
    l.kv(
        "Line",
        format!("{}, callid {}", line_words(a), a.key.callid),
    );
    l.kv("Caller", or_dash(party(c.calling.as_ref())));
    l.kv("Connected", or_dash(party(c.connected.as_ref())));
    if !c.called.is_empty() {
        l.kv("Called", text_or_dash(&c.called));
    }
    l.kv("Original", or_dash(party(c.original_called.as_ref())));
    match &c.queue {
        Some(q) => {
            let mut s = format!(
                "{} {}, priority {}",
                clean(&q.name),
                clean(&q.number),
                priority_words(q.priority)
            );
            if !q.overflow_number.is_empty() || !q.overflow_name.is_empty() {
                s.push_str(&format!(
                    "; overflowed to {} {}",
                    clean(&q.overflow_name),
                    clean(&q.overflow_number)
                ));
            }
            l.kv("Queue", s);
        }
        None => l.kv("Queue", "-"),
    }
    let targets: Vec<String> = c.targets.iter().filter_map(|t| party(Some(t))).collect();
    // `targets` are the nominal ringing targets (RINGING, QUEUEING, RETARGETING): only a
    // ringing call is really ringing them.
    let label = if c.state.is_ringing() {
        "Ringing"
    } else {
        "Targets"
    };
    l.kv(label, or_dash(Some(targets.join(", "))));
    match &c.trunk {
        Some(t) => {
            let kind = match t.kind {
                TrunkKind::NoTrunk => "no trunk".to_owned(),
                k => k.to_string(),
            };
            l.kv("Trunk", format!("{kind}, DID {}", text_or_dash(&t.did)));
        }
        None => l.kv("Trunk", "-"),
    }
    l.kv("Tag", text_or_dash(&c.tag));
    l.kv("Account", text_or_dash(&c.account_code));
    l.kv(
        "Recording",
        match (c.recording, c.recording_paused) {
            (true, true) => "yes, paused",
            (true, false) => "yes",
            (false, _) => "no",
        },
    );
    l.kv("Park slot", text_or_dash(&c.park_slot));
    if c.conference.is_empty() {
        l.kv("Conference", "-");
    } else {
        for (i, m) in c.conference.iter().enumerate() {
            let mut s = format!(
                "{} {}",
                or_dash(
                    party(m.connected.as_ref()).or_else(|| Some(clean(&m.called).into_owned()))
                ),
                m.state
            );
            if m.mute {
                s.push_str(", muted");
            }
            if m.active_held {
                s.push_str(", holds the conference");
            }
            l.kv(if i == 0 { "Conference" } else { "" }, s);
        }
    }
    if c.active_held {
        l.kv("Held", "the far end holds this call");
    }
    if c.mute {
        l.kv("Muted", yes_no(c.mute));
    }
    if c.failed_cause != FailedCause::Unset {
        l.kv("Failed", c.failed_cause.to_string());
    }
    if let Some(abs) = &c.far_absence {
        l.kv("Far end", text_or_dash(&abs.phrase));
    }
    if let Some(dial) = &c.dial {
        let number = if dial.hide_number {
            "(hidden)".to_owned()
        } else {
            text_or_dash(&dial.number)
        };
        let mut s = format!(
            "{number}, {}",
            if dial.complete {
                "complete"
            } else {
                "dialling"
            }
        );
        if dial.withhold_cli {
            s.push_str(", caller ID withheld");
        }
        l.kv("Dialling", s);
    }
    if let Some(d) = &c.call_data {
        let mut parts = Vec::new();
        if !d.language.is_empty() {
            parts.push(format!("language {}", clean(&d.language)));
        }
        for (on, word) in [
            (d.emergency, "emergency"),
            (d.privacy, "private"),
            (d.remote_privacy, "private at the far end"),
            (d.secure, "secure"),
        ] {
            if on {
                parts.push(word.to_owned());
            }
        }
        if !parts.is_empty() {
            l.kv("Call data", parts.join(", "));
        }
    }
    if c.page_call {
        l.kv("Page", "an inbound page call");
    }
    if !c.notes.is_empty() {
        l.kv("Notes", text_or_dash(&c.notes));
    }
    if c.reference_callid != 0 || c.related_callid != 0 {
        l.kv(
            "References",
            format!(
                "reference callid {}, related callid {}",
                c.reference_callid, c.related_callid
            ),
        );
    }
    l.kv(
        "gcid",
        c.gcid
            .as_ref()
            .map_or_else(|| "-".to_owned(), |g| g.to_hex()),
    );
    let linked: Vec<String> = app
        .model()
        .linked(a.id)
        .iter()
        .map(|o| format!("{} ({})", line_words(o), o.call.state))
        .collect();
    if !linked.is_empty() {
        l.kv("Also on", linked.join("; "));
    }
    let functions: Vec<&str> = c.features.functions().map(|f| f.name()).collect();
    l.kv_styled(
        "Functions",
        if functions.is_empty() {
            "none allowed now".to_owned()
        } else {
            functions.join(" · ")
        },
        theme.title,
    );
}

fn agent(l: &mut Lines<'_>, u: &User) {
    let app = l.app;
    let state = u.agent.state;
    let mark = if u.agent.observed { "" } else { "≥" };
    l.kv(
        "State",
        format!(
            "{} for {mark}{}",
            state.word(),
            duration(app.since(u.agent.since))
        ),
    );
    if let Some(s) = &u.status {
        if !s.full_name.is_empty() {
            l.kv("Full name", text_or_dash(&s.full_name));
        }
        let phone = if s.extn_fault {
            "extension fault: no working phone".to_owned()
        } else if s.logged_off {
            "logged off".to_owned()
        } else if !s.logged_in_extn.is_empty() {
            format!("logged in at {}", clean(&s.logged_in_extn))
        } else {
            "logged in".to_owned()
        };
        l.kv("Phone", phone);
        l.kv("DND", if s.dnd { "on" } else { "off" });
        if let Some(abs) = &s.absence {
            l.kv("Absence", text_or_dash(&abs.phrase));
        }
        let f = &s.forwarding;
        let mut fwd = Vec::new();
        if f.unconditional {
            fwd.push(format!(
                "unconditional to {}",
                if f.to_voicemail {
                    "voicemail".to_owned()
                } else {
                    text_or_dash(&f.unconditional_number)
                }
            ));
        }
        if f.busy {
            fwd.push(format!("on busy to {}", text_or_dash(&f.busy_number)));
        }
        if f.no_answer {
            fwd.push("on no answer".to_owned());
        }
        l.kv("Forwarding", or_dash(Some(fwd.join(", "))));
        if let Some(m) = s.mailbox {
            l.kv(
                "Mailbox",
                format!("{} new, {} old, {} saved", m.new, m.old, m.saved),
            );
        }
        if !s.app.is_empty() {
            l.kv("App", text_or_dash(&s.app));
        }
    } else {
        l.kv("Status", "not reported yet");
    }
    let mut member_of: Vec<String> = Vec::new();
    let mut queues: Vec<_> = app.model().queues().collect();
    queues.sort_by(|a, b| by_number(&a.extn, &b.extn));
    for q in queues {
        if let Some(m) = q.members().iter().find(|m| m.extn == u.extn) {
            let mut s = clean(&q.name).into_owned();
            if !m.enabled {
                s.push_str(" (disabled)");
            }
            member_of.push(s);
        }
    }
    l.kv("Member of", or_dash(Some(member_of.join(", "))));
    if let Some(p) = app.model().stats_period() {
        let now = app.now();
        l.kv("Counted", clean(&p.label));
        l.kv("Answered", u.stats.answered.to_string());
        l.kv("Talk time", duration(u.stats.talk_time(&u.agent, now)));
        l.kv("ACW time", duration(u.stats.acw_time(&u.agent, now)));
    }
    let calls: Vec<_> = agent_calls(app.model(), u).into_iter().cloned().collect();
    if calls.is_empty() {
        l.kv("Calls", "none");
    }
    let n = calls.len();
    for (i, a) in calls.iter().enumerate() {
        l.blank();
        let picked = n > 1 && l.pick == Some(i);
        if picked {
            l.pick_at = Some(l.out.len());
        }
        l.heading(format!(
            "{}Call {} of {n} · {} · {}",
            if picked { "▶ " } else { "" },
            i + 1,
            a.call.state,
            caller_words(a)
        ));
        call(l, a, None);
    }
}

fn queue(l: &mut Lines<'_>, q: &crate::model::Queue) {
    let app = l.app;
    let d = app.derived();
    let fig = d.figures(&q.guid);
    l.kv("Service", q.service_mode().to_string());
    match &q.status {
        Some(s) => {
            l.kv(
                "Ring mode",
                format!(
                    "{}, next member after {} s without answer",
                    s.ring_mode.word(),
                    s.no_answer_secs
                ),
            );
            l.kv(
                "Voicemail",
                if s.voicemail {
                    format!("on, after {} s", s.voicemail_secs)
                } else {
                    "off".to_owned()
                },
            );
            if let Some(m) = s.mailbox {
                l.kv(
                    "Mailbox",
                    format!("{} new, {} old, {} saved", m.new, m.old, m.saved),
                );
            }
        }
        None => l.kv("Status", "not reported yet"),
    }
    let longest = fig
        .longest_since
        .map(|t| format!(", the longest for {}", duration(app.since(t))))
        .unwrap_or_default();
    l.kv("Waiting", format!("{}{longest}", fig.waiting));
    l.kv(
        "Agents",
        format!(
            "{} available, {} busy, of {} members",
            fig.available, fig.busy, fig.members
        ),
    );
    if let Some(p) = app.model().stats_period() {
        let s = &q.stats;
        l.kv("Counted", clean(&p.label));
        l.kv("Offered", s.offered.to_string());
        let untimed = if s.lower_bound > 0 {
            format!(
                "; {} already waiting at connect, left out of ASA and SL",
                s.lower_bound
            )
        } else {
            String::new()
        };
        l.kv(
            "Answered",
            format!(
                "{}, ASA {}{untimed}",
                s.answered,
                s.asa().map_or_else(|| "-".to_owned(), duration)
            ),
        );
        l.kv(
            "Abandoned",
            format!(
                "{} ({} within {} s, left out of SL)",
                s.abandoned, s.short_abandoned, p.short_abandon_secs
            ),
        );
        l.kv(
            "SL",
            match s.service_level() {
                Some(f) => format!(
                    "{:.0}% answered within {} s ({} of {})",
                    f * 100.0,
                    p.service_level_secs,
                    s.answered_in_sl,
                    s.timed_answered + s.timed_abandoned
                ),
                None => format!(
                    "- (nothing answered or abandoned yet; threshold {} s)",
                    p.service_level_secs
                ),
            },
        );
    }
    alert_and_trends(l, q);
    let members = q.members();
    if !members.is_empty() {
        l.blank();
        l.heading("Members");
    }
    for (i, m) in members.iter().enumerate() {
        let picked = l.pick == Some(i);
        if picked {
            l.pick_at = Some(l.out.len());
        }
        let user = app.model().user_by_extn(&m.extn);
        let name = user
            .map(|u| clean(&u.name).into_owned())
            .unwrap_or_default();
        let state = user.map_or_else(String::new, |u| {
            let mark = if u.agent.observed { "" } else { "≥" };
            format!(
                "{:<5} {mark}{}",
                u.agent.state.word(),
                duration(app.since(u.agent.since))
            )
        });
        let enabled = if m.enabled { "" } else { "  (disabled)" };
        let text = format!(
            "{} {:<6} {:<20} {state}{enabled}",
            if picked { "▶" } else { " " },
            clean(&m.extn),
            fit(&name, 20)
        );
        l.out.push(if picked {
            Line::from(Span::styled(text, app.config().theme.selected))
        } else {
            Line::from(text)
        });
    }
}

/// A queue's alert level by figure, and its trends with the axis values written out.
fn alert_and_trends(l: &mut Lines<'_>, q: &crate::model::Queue) {
    let app = l.app;
    let theme = app.config().theme;
    let alerts = app.alerts();
    let level = alerts.level(&q.guid);
    let figures: Vec<String> = Figure::ALL
        .into_iter()
        .filter_map(|f| {
            let fl = alerts.figure_level(&q.guid, f);
            (fl > AlertLevel::Ok).then(|| format!("{} {}", fl.word(), f.words()))
        })
        .collect();
    let words = match (level, alerts.acknowledged(&q.guid)) {
        (AlertLevel::Ok, _) => format!("{} ok", level.symbol()),
        (_, ack) => format!(
            "{} {}{}",
            level.symbol(),
            figures.join(", "),
            if ack { " (acknowledged)" } else { "" }
        ),
    };
    let paused = if alerts.paused() {
        "; alerts paused"
    } else {
        ""
    };
    l.kv_styled("Alert", format!("{words}{paused}"), theme.level(level));
    let Some(trends) = app.trends() else {
        return;
    };
    l.blank();
    l.heading("Trends");
    let room = l.width.saturating_sub(LABEL).clamp(1, TREND_MINUTES);
    let samples = trends.minutes(&q.guid);
    let span = match (
        (app.now())
            .checked_sub(Duration::from_secs(60 * (room as u64 - 1)))
            .and_then(|t| trend::clock_at(app, t)),
        trend::clock_at(app, app.now()),
    ) {
        (Some(from), Some(to)) => format!("{from} to {to}"),
        _ => format!("the last {room} min"),
    };
    let waiting = trend::last(&samples, room, |s| u64::from(s.waiting));
    let most = waiting.iter().flatten().copied().max().unwrap_or(0);
    l.kv_bars("Waiting", trend::bars(&waiting, most), theme.acw);
    l.kv("", format!("0 to {most} calls, {span}, a bar a minute"));
    let longest = trend::last(&samples, room, |s| s.longest_secs);
    let most = longest.iter().flatten().copied().max().unwrap_or(0);
    l.kv_bars("Longest", trend::bars(&longest, most), theme.acw);
    l.kv(
        "",
        format!("00:00 to {}, {span}", duration(Duration::from_secs(most))),
    );
    let intervals = trends.intervals(&q.guid);
    let sl: Vec<String> = intervals
        .iter()
        .map(|i| {
            format!(
                "{} {}",
                trend::clock_at(app, i.start).unwrap_or_else(|| "-".to_owned()),
                i.percent()
                    .map_or_else(|| "-".to_owned(), |p| format!("{p}%")),
            )
        })
        .collect();
    l.kv(
        "SL by 15m",
        if sl.is_empty() {
            "-".to_owned()
        } else {
            sl.join("  ")
        },
    );
}

/// The line where the detail's pick is shown, for `width` columns of text.
pub fn pick_line(app: &App, target: &DetailTarget, width: usize) -> Option<usize> {
    build(app, target, width).2
}

/// The overlay's title and lines for `width` columns of text.
pub fn content(app: &App, target: &DetailTarget, width: usize) -> (String, Vec<Line<'static>>) {
    let (title, lines, _) = build(app, target, width);
    (title, lines)
}

fn build(
    app: &App,
    target: &DetailTarget,
    width: usize,
) -> (String, Vec<Line<'static>>, Option<usize>) {
    let mut l = Lines::new(app, width);
    // What the keys do here: under a call, after its functions (as the call reads); first
    // for an agent or a queue, whose calls or members follow.
    if matches!(target, DetailTarget::Agent(_) | DetailTarget::Queue(_)) {
        keys(&mut l);
        l.blank();
    }
    let title = match target {
        DetailTarget::Call { id, last, ended } => {
            let live = app.model().appearance(*id);
            let a = live.unwrap_or(last);
            call(&mut l, a, ended.as_deref());
            if ended.is_none() {
                keys(&mut l);
            }
            let who = caller_words(a);
            let state = if a.call.state == CallState::Unknown {
                String::new()
            } else {
                format!(" · {}", a.call.state)
            };
            format!("Call on {}{state} · {who}", line_words(a))
        }
        DetailTarget::Agent(guid) => match app.model().user(guid) {
            Some(u) => {
                agent(&mut l, u);
                format!("Agent {} {}", clean(&u.extn), clean(&u.name))
            }
            None => {
                l.kv("Agent", "no longer on this PBX");
                "Agent".to_owned()
            }
        },
        DetailTarget::Queue(guid) => match app.model().queue(guid) {
            Some(q) => {
                queue(&mut l, q);
                format!("Queue {} {}", clean(&q.extn), clean(&q.name))
            }
            None => {
                l.kv("Queue", "no longer on this PBX");
                "Queue".to_owned()
            }
        },
    };
    (title, l.out, l.pick_at)
}
