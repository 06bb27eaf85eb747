//! The help overlay, generated from the keymap (so it lists the keys as configured), and what
//! the screen's figures mean.

use ratatui::text::{Line, Span};

use crate::model::Function;
use crate::model::{AgentState, AlertLevel, stats_definitions};
use crate::ui::app::App;
use crate::ui::keymap::{Context, KeyAction};
use crate::ui::text::wrap;

/// Width of the keys column.
const KEYS: usize = 16;

/// The overlay's lines for `width` columns of text.
pub fn content(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.config().theme;
    let keymap = &app.config().keymap;
    let width = width.max(KEYS + 10);
    let mut out: Vec<Line<'static>> = Vec::new();
    let para = |out: &mut Vec<Line<'static>>, text: &str| {
        for line in wrap(text, width) {
            out.push(Line::from(line));
        }
    };
    for ctx in Context::ALL {
        out.push(Line::from(Span::styled(
            format!("Keys: {}", ctx.name()),
            theme.title,
        )));
        // Read-only: the functions are not there at all.
        let shown = |b: &&crate::ui::keymap::Binding| {
            b.context == ctx && !(app.config().read_only && b.action.is_function())
        };
        // The functions work in a detail as in the main view: listed once, then named.
        let same_as_main = |b: &crate::ui::keymap::Binding| {
            ctx == Context::Detail
                && b.action.is_function()
                && keymap.binding(Context::Main, b.action).map(|m| &m.keys) == Some(&b.keys)
        };
        let mut repeated: Vec<String> = Vec::new();
        for b in keymap.bindings().iter().filter(shown) {
            if same_as_main(b) {
                if let Some(k) = b.keys.first() {
                    repeated.push(k.to_string());
                }
                continue;
            }
            let keys: Vec<String> = b.keys.iter().map(ToString::to_string).collect();
            let keys = keys.join(" ");
            let room = width - KEYS;
            for (i, part) in wrap(b.desc, room).into_iter().enumerate() {
                let k = if i == 0 { keys.as_str() } else { "" };
                out.push(Line::from(vec![
                    Span::styled(format!("  {k:<w$}", w = KEYS - 2), theme.heading),
                    Span::raw(part),
                ]));
            }
        }
        if !repeated.is_empty() {
            let keys = repeated.join(" ");
            let room = width - KEYS;
            let words = "as in the main view, on the call shown (for an agent with several \
                         calls, the one picked with ↑ ↓), the queue or the member";
            let (ks, ws) = (wrap(&keys, KEYS - 3), wrap(words, room));
            for i in 0..ks.len().max(ws.len()) {
                let k = ks.get(i).cloned().unwrap_or_default();
                let w = ws.get(i).cloned().unwrap_or_default();
                out.push(Line::from(vec![
                    Span::styled(format!("  {k:<w$}", w = KEYS - 2), theme.heading),
                    Span::raw(w),
                ]));
            }
        }
        if ctx == Context::Filter {
            para(
                &mut out,
                "  Other keys type into the filter. It keeps waiting calls, parked calls and \
                 agents whose numbers, names, DID, queue, state word, tag or park slot contain \
                 the text (any case).",
            );
        }
        out.push(Line::from(""));
    }
    out.push(Line::from(Span::styled("Reading the screen", theme.title)));
    let long = app.config().alerts.longest_warn(None).map(|d| d.as_secs());
    let filter_key = keymap
        .key_for(Context::Main, KeyAction::Filter)
        .map_or_else(String::new, |k| format!(" ({k})"));
    let messages_key = keymap
        .key_for(Context::Main, KeyAction::Messages)
        .map_or_else(|| "The message history".to_owned(), |k| k.to_string());
    let asking = if keymap.offers(KeyAction::Function(Function::ForceClear)) {
        "Drop, force clear, DND and service mode"
    } else {
        "Drop, DND and service mode"
    };
    let notes = [
        "Waits and times count from when ipo-top first saw the call: MTCTI3 carries no start \
         time, so a call that was already waiting when ipo-top connected shows less than its \
         real wait. ≥ marks a time in state that began before ipo-top saw it."
            .to_owned(),
        match long {
            Some(long) => format!(
                "! marks a wait of {long} s or more (the queue's longest_warn_secs in [alerts] \
                 of the configuration, which a queue's own table may change)."
            ),
            None => "! marks a wait at or over its queue's longest_warn_secs ([alerts] in the \
                     configuration)."
                .to_owned(),
        },
        "Queues: WAIT counts the calls waiting (queueing, ringing or retargeting); LONGEST is \
         the longest of them; AVAIL and BUSY count the enabled members who are available, and \
         those ringing, talking, holding or in after-call work."
            .to_owned(),
        format!(
            "{} marks a queue in warn and {} one in critical, by the thresholds in [alerts]; the \
             header lists them worst first. Each change is a line in the messages; ! \
             acknowledges them. WAITING 15 MIN is a bar a minute of the calls waiting.",
            AlertLevel::Warn.symbol(),
            AlertLevel::Critical.symbol()
        ),
        "The waiting calls are those of the selected queue, in the order the queue serves them: \
         higher priority (P, 3 high to 1 low) first, then the longest waiting."
            .to_owned(),
        format!(
            "Agents: ringing and talking first, then holding and after-call work, then \
             available, then away; the filter{filter_key} narrows them. +N counts an agent's \
             other calls."
        ),
        "When the link to the PBX is down, the pane titles say stale and the header counts \
         down to the next attempt; nothing shown is current until it reconnects."
            .to_owned(),
        "Keys can be changed in [keys] of the configuration: an action's name and its key or \
         keys, e.g. quit = \"x\" or down = [\"Down\", \"l\"]. A key bound twice where both \
         apply is refused."
            .to_owned(),
        format!(
            "Functions act on the selection: a waiting call (on its queue), an agent's call (the \
         one its row shows: ringing first, then connected, then held), a parked call, a queue \
         or an agent; answer and hold act only on your own line (My line, [supervisor] \
         extension). A key the PBX does not allow on the selection now is dimmed and struck \
         through, and pressing it says why. {asking} ask first; Enter never confirms."
        ),
        format!(
            "Each function shows what became of it in the status line: accepted (the PBX said \
             yes), done (a Notify showed the effect), no effect seen, or the PBX's reason by \
             name and meaning. {messages_key} lists the recent ones. Nothing is sent while the \
             link is down."
        ),
        "Every function is recorded before it is sent, one JSON line each, in audit.jsonl in \
         the data directory (e.g. ~/.local/share/ipo-top); if it cannot be written, the \
         function is refused."
            .to_owned(),
    ];
    let mut notes = notes.to_vec();
    if app.config().read_only {
        // The notes about functions (the last three) do not apply.
        notes.truncate(notes.len().saturating_sub(3));
        notes.push(
            "Read-only (--read-only or [ui] read_only): every function is off, and nothing is \
             sent to the PBX."
                .to_owned(),
        );
    }
    for n in notes {
        para(&mut out, &n);
        out.push(Line::from(""));
    }
    out.push(Line::from(Span::styled("Statistics", theme.title)));
    let (sl, short) = app
        .model()
        .stats_period()
        .map_or((20, 5), |p| (p.service_level_secs, p.short_abandon_secs));
    for d in stats_definitions(sl, short) {
        para(&mut out, &d);
        out.push(Line::from(""));
    }
    out.push(Line::from(Span::styled("Agent states", theme.title)));
    let states = [
        (AgentState::Ringing, "a call rings"),
        (
            AgentState::Talking,
            "on a call, or making, transferring or conferencing one",
        ),
        (AgentState::Held, "only held calls"),
        (AgentState::AfterCallWork, "after-call work"),
        (AgentState::Available, "idle and reachable"),
        (AgentState::Dnd, "do not disturb"),
        (AgentState::LoggedOff, "not logged in anywhere"),
        (AgentState::Fault, "no working phone"),
        (AgentState::Unknown, "not reported by the PBX yet"),
    ];
    for (s, words) in states {
        out.push(Line::from(vec![
            Span::styled(format!("  {:<w$}", s.word(), w = KEYS - 2), theme.agent(s)),
            Span::raw(words),
        ]));
    }
    out
}
