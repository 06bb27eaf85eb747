//! The alert under the header: one to three lines when the link is not healthy.

use ratatui::text::Line;

use crate::model::{ConnectionState, StopKind};
use crate::ui::app::App;
use crate::ui::keymap::{Context, KeyAction};
use crate::ui::text::{clean, fit, wrap};

/// One to three full-width lines under the header when the link is not healthy: what happened
/// and what will happen next.
pub(crate) fn lines(app: &App, width: u16) -> Vec<Line<'static>> {
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
        _ => return Vec::new(),
    };
    let room = (width as usize).saturating_sub(2).max(10);
    let mut lines = wrap(&text, room);
    if lines.len() > 3 {
        let rest = lines.split_off(2).join(" ");
        lines.push(fit(&rest, room).into_owned());
    }
    lines
        .into_iter()
        .map(|l| Line::from(format!(" {l}")))
        .collect()
}
