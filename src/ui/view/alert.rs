//! The alert under the header: one to three lines when the link is not healthy, and one
//! saying why no function can be sent from here (a shared viewer's start-up answer) for as
//! long as that holds, so it is known before a function key is pressed.

use ratatui::text::Line;

use crate::model::{ConnectionState, StopKind};
use crate::ui::app::App;
use crate::ui::keymap::{Context, KeyAction};
use crate::ui::text::{clean, fit, wrap};

/// One to three full-width lines under the header when the link is not healthy (what happened
/// and what will happen next), then why no function can be sent, unless the link's lines say
/// it already.
pub(crate) fn lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let room = (width as usize).saturating_sub(2).max(10);
    let link = link_text(app);
    let mut lines = link.as_deref().map_or_else(Vec::new, |t| wrap(t, room));
    if lines.len() > 3 {
        let rest = lines.split_off(2).join(" ");
        lines.push(fit(&rest, room).into_owned());
    }
    if let Some(why) = app.cannot_send() {
        let why = clean(why);
        let why = why.trim();
        if !link.as_deref().is_some_and(|t| t.contains(why)) {
            lines.push(fit(why, room).into_owned());
        }
    }
    lines
        .into_iter()
        .map(|l| Line::from(format!(" {l}")))
        .collect()
}

/// What the link's lines say, if it is not healthy.
fn link_text(app: &App) -> Option<String> {
    let retry_key = app
        .config()
        .keymap
        .key_for(Context::Main, KeyAction::RetryLogin)
        .map_or_else(|| "R".to_owned(), |k| k.to_string());
    let text = match app.model().connection() {
        ConnectionState::Reconnecting { at, reason, .. } => {
            let secs = at
                .saturating_duration_since(app.now())
                .as_millis()
                .div_ceil(1000);
            format!(
                "Link to the PBX down: {}. What you see is stale. Next attempt in {secs} s.",
                clean(reason).trim()
            )
        }
        ConnectionState::Stopped {
            kind: StopKind::LoginRejected,
            reason,
        } => match app.retry_refused() {
            Some(why) => format!(
                "The PBX refused the login ({}). Not retried: {}",
                clean(reason).trim(),
                clean(why).trim()
            ),
            None => format!(
                "The PBX refused the login ({}). Fix the username or password (configuration \
                 or password source), then press {retry_key} to log in again.",
                clean(reason).trim()
            ),
        },
        ConnectionState::Stopped { reason, .. } => {
            format!("Stopped: {}.", clean(reason).trim())
        }
        ConnectionState::Connecting { attempt } if *attempt > 1 && app.stale() => {
            format!("Link to the PBX down; connecting, attempt {attempt}. What you see is stale.")
        }
        _ => return None,
    };
    Some(text)
}
