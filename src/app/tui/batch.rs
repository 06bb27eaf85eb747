//! A batch of the session's updates as the screen's events.

use crate::app::audit::Dispatcher;
use crate::model::ModelEvent;
use crate::session::SessionEvent;
use crate::ui::{Event, Level, Message};

/// Turns a batch of session updates into screen events; the commands' reports go through
/// the dispatcher (which records them in the audit log).
pub(crate) fn events_of(batch: Vec<SessionEvent>, dispatch: &mut Dispatcher) -> Vec<Event> {
    let mut model: Vec<ModelEvent> = Vec::new();
    let mut out = Vec::new();
    for update in batch {
        match update {
            SessionEvent::Model(ev) => model.push(ev),
            SessionEvent::Synced(r) => out.push(Event::Message(Message::new(
                Level::Info,
                format!(
                    "synced: {} users, {} queues{}",
                    r.users,
                    r.queues,
                    if r.park_available {
                        ", park server"
                    } else {
                        ""
                    }
                ),
            ))),
            SessionEvent::SubscribeFailed(f) => out.push(Event::Message(Message::new(
                Level::Error,
                format!(
                    "the PBX refused to report {}: {}",
                    if f.label.is_empty() {
                        "a subscription"
                    } else {
                        f.label.as_str()
                    },
                    f.name
                        .map_or_else(|| format!("code {}", f.code), str::to_owned)
                ),
            ))),
            // The model's connection state already says what failed and what happens next.
            SessionEvent::ConnectFailed(e) => tracing::info!(error = %e, "connect failed"),
            SessionEvent::Command(r) => out.extend(dispatch.report(&r)),
            SessionEvent::CapReached(cap) => {
                out.push(Event::Message(Message::new(Level::Error, cap.to_string())));
            }
            SessionEvent::Lagged { folded } => out.push(Event::Message(Message::new(
                Level::Info,
                format!(
                    "the screen fell behind the PBX: {folded} updates were folded (what is \
                     shown is current)"
                ),
            ))),
        }
    }
    let mut events = vec![Event::Model(model)];
    events.append(&mut out);
    events
}
