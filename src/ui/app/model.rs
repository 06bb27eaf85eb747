//! The screen's replica follows the model's events: the rows, the selection kept by identity,
//! the open detail and prompt checked again, the messages and the outcomes of requests.

use std::collections::HashMap;

use super::{App, Ended, HISTORY_LEN};
use crate::model::{
    AppearanceId, CallState, CommandStatus, ConnectionState, FunctionTarget, ModelEvent, Text,
};
use crate::ui::event::{Entry, Level, Message, Ticket};
use crate::ui::functions;
use crate::ui::rows::{agent_calls, caller_words, end_words};
use crate::ui::screen::{DetailTarget, Overlay, Pane};
use crate::ui::text::clean;

impl App {
    // ----------------------------------------------------------------------------------------
    // Model updates

    pub(super) fn apply(&mut self, events: &[ModelEvent]) {
        if events.is_empty() {
            return;
        }
        let mut ended: Ended = HashMap::new();
        // The detail's pick holds its item's identity across the changes.
        let picked = self.picked_identity();
        for ev in events {
            // The rows note what the event touches while the model still holds the before.
            self.derived.touch(ev);
            self.model.apply(ev);
            if let ModelEvent::CallEnded { call, reason } = ev {
                ended.insert(call.id, (call.clone(), end_words(reason)));
            }
        }
        self.restore_pick(picked);
        if let Overlay::Detail {
            target:
                DetailTarget::Call {
                    id,
                    last,
                    ended: why,
                },
            ..
        } = &mut self.overlay
        {
            if let Some(a) = self.model.appearance(*id) {
                *last = a.clone();
            } else if why.is_none() {
                *why = Some(
                    ended
                        .get(id)
                        .map_or_else(|| "ended".to_owned(), |(_, w)| w.clone()),
                );
            }
        }
        if self.synced_at.is_none()
            && matches!(self.model.connection(), ConnectionState::Connected { .. })
        {
            self.synced_at = Some(self.now);
        }
        self.refresh(&ended);
        self.recheck_modal(&ended);
        self.dirty = true;
    }

    /// The identity of what the open detail has picked: an agent's call or a queue's member.
    pub(super) fn picked_identity(&self) -> Option<Result<AppearanceId, Text>> {
        match &self.overlay {
            Overlay::Detail {
                target: DetailTarget::Agent(g),
                pick,
                ..
            } => functions::picked_agent_call(&self.scene(), g, *pick).map(|a| Ok(a.id)),
            Overlay::Detail {
                target: DetailTarget::Queue(g),
                pick,
                ..
            } => functions::picked_member(&self.scene(), g, *pick).map(Err),
            _ => None,
        }
    }

    pub(super) fn restore_pick(&mut self, picked: Option<Result<AppearanceId, Text>>) {
        let (count, at) = match &self.overlay {
            Overlay::Detail {
                target: DetailTarget::Agent(g),
                ..
            } => {
                let calls = self
                    .model
                    .user(g)
                    .map(|u| agent_calls(&self.model, u))
                    .unwrap_or_default();
                let at = match &picked {
                    Some(Ok(id)) => calls.iter().position(|a| a.id == *id),
                    _ => None,
                };
                (calls.len(), at)
            }
            Overlay::Detail {
                target: DetailTarget::Queue(g),
                ..
            } => {
                let members = self.model.queue(g).map(|q| q.members()).unwrap_or(&[]);
                let at = match &picked {
                    Some(Err(extn)) => members.iter().position(|m| &m.extn == extn),
                    _ => None,
                };
                (members.len(), at)
            }
            _ => return,
        };
        if let Overlay::Detail { pick, .. } = &mut self.overlay {
            *pick = at.unwrap_or((*pick).min(count.saturating_sub(1)));
        }
    }

    /// Cancels the open prompt or confirmation, saying why, when what it acts on ended or no
    /// longer allows the function.
    pub(super) fn recheck_modal(&mut self, ended: &Ended) {
        let Some(modal) = &self.modal else { return };
        let f = modal.function();
        let target = modal.target().clone();
        let Err(refusal) = functions::check(&self.scene(), f, &target) else {
            return;
        };
        let why = match &target {
            FunctionTarget::Call(id) => match ended.get(id) {
                Some((call, words)) => {
                    let who = caller_words(call);
                    if who.is_empty() {
                        format!("the call {words}")
                    } else {
                        format!("the call from {who} {words}")
                    }
                }
                None => refusal.why,
            },
            _ => refusal.why,
        };
        self.modal = None;
        self.say(Message::new(
            Level::Notice,
            format!("{} cancelled: {why}; nothing sent", f.word()),
        ));
    }

    // ----------------------------------------------------------------------------------------
    // Messages and outcomes

    /// Shows a message in the status line and keeps it in the history.
    pub(super) fn say(&mut self, m: Message) {
        self.remember(m.clone(), None);
        self.status = Some(m);
    }

    pub(super) fn remember(&mut self, message: Message, ticket: Option<Ticket>) {
        if let Some(t) = ticket {
            if let Some(at) = self.history.iter().position(|e| e.ticket == Some(t)) {
                // An outcome's line is updated in place and comes to the top.
                self.history.remove(at);
            }
        }
        self.history.push_front(Entry {
            clock: self.clock,
            message,
            ticket,
        });
        self.history.truncate(HISTORY_LEN);
    }

    pub(super) fn outcome(&mut self, ticket: Ticket, status: &CommandStatus) {
        let Some(words) = self.requests.get(&ticket).cloned() else {
            return;
        };
        let level = match status {
            CommandStatus::Sent | CommandStatus::Accepted => Level::Info,
            CommandStatus::Done { .. } => Level::Done,
            CommandStatus::NoEffect { .. } | CommandStatus::Interrupted { .. } => Level::Notice,
            CommandStatus::Failed { .. }
            | CommandStatus::CallFailed { .. }
            | CommandStatus::Refused { .. } => Level::Error,
        };
        let text = match status {
            CommandStatus::Sent => format!("{words} …"),
            other => format!("{words} … {}", clean(&other.to_string())),
        };
        if status.is_final() {
            // The history keeps the words.
            self.requests.remove(&ticket);
        }
        let m = Message::new(level, text);
        self.remember(m.clone(), Some(ticket));
        self.status = Some(m);
    }

    /// Re-derives the touched rows and keeps each selection on its item, or on the item's
    /// neighbour when it is gone.
    pub(super) fn refresh(&mut self, ended: &Ended) {
        let agent_before = self.selection.agent.clone();
        let old = self
            .derived
            .flush(&self.model, self.selection.agent.as_ref());
        if !self.placed {
            self.place();
            // The first call seen is the longest waiting (waits count from first seen), so
            // once one is selected the start-up selection is settled.
            self.placed = self.selection.call.is_some();
            return;
        }
        let d = &self.derived;
        let old_queue = self.selection.queue.clone();
        self.selection.queue = keep_or_neighbour(
            self.selection.queue.as_ref(),
            old.queues.as_deref().unwrap_or(d.queues()),
            d.queues(),
        );
        let narrowed = self.view.narrow_waiting;
        if narrowed && self.selection.queue != old_queue {
            self.selection.call = self.longest_waiting();
        } else {
            let before = self.selection.call;
            let was = if narrowed {
                old_queue.as_ref().and_then(|q| old.waiting.get(q))
            } else {
                old.floor.as_ref()
            };
            let now = self.waiting_rows();
            self.selection.call =
                keep_or_neighbour(before.as_ref(), was.map_or(now, Vec::as_slice), now);
            if let (Some(gone), true) = (before, self.selection.call != before) {
                self.left_waiting(gone, ended);
            }
        }
        self.selection.agent = old.agent;
        if self.view.narrow_agents && self.selection.queue != old_queue {
            // The grid follows the queue now selected; the agent selected before the batch
            // stays when that grid lists it.
            self.selection.agent = agent_before;
            self.sync_agent_view();
        }
        let d = &self.derived;
        let before = self.selection.parked;
        self.selection.parked = keep_or_neighbour(
            before.as_ref(),
            old.parked.as_deref().unwrap_or(d.parked()),
            d.parked(),
        );
        if let (Some(gone), true) = (before, self.selection.parked != before) {
            if let Some((_, why)) = ended.get(&gone) {
                self.say(Message::new(
                    Level::Notice,
                    format!("the selected parked call {why}"),
                ));
            }
        }
    }

    /// The start-up selection: the first queue, and the longest-waiting call the waiting
    /// pane lists (the floor's, or narrowed the first queue's); focus on the waiting pane
    /// when anyone waits, else on the queues.
    pub(super) fn place(&mut self) {
        self.selection.queue = self.derived.queues().first().cloned();
        self.selection.call = self.longest_waiting();
        self.selection.agent = self.derived.agent(0).map(|r| r.guid.clone());
        if self.view.narrow_agents {
            self.sync_agent_view();
        }
        self.selection.parked = self.derived.parked().first().copied();
        self.focus = if self.selection.call.is_some() {
            Pane::Waiting
        } else {
            Pane::Queues
        };
    }

    /// The longest-waiting call the waiting pane lists.
    pub(super) fn longest_waiting(&self) -> Option<AppearanceId> {
        self.waiting_rows()
            .iter()
            .filter_map(|id| self.model.appearance(*id))
            .min_by_key(|a| (a.first_seen, a.id))
            .map(|a| a.id)
    }

    /// Says why the selected waiting call left the list and where the selection went.
    pub(super) fn left_waiting(&mut self, gone: AppearanceId, ended: &Ended) {
        let (who, what) = if let Some((call, why)) = ended.get(&gone) {
            (caller_words(call), why.clone())
        } else if let Some(a) = self.model.appearance(gone) {
            if a.call.state.is_waiting() {
                // Still waiting, only hidden by the filter.
                return;
            }
            let what = match (a.call.state, a.call.connected.as_ref()) {
                (CallState::Connected, Some(p)) if !p.label().is_empty() => {
                    format!("was answered by {}", clean(&p.label()))
                }
                (state, _) => format!("is {state} now"),
            };
            (caller_words(a), what)
        } else {
            (String::new(), "ended".to_owned())
        };
        let who = if who.is_empty() {
            "the selected call".to_owned()
        } else {
            format!("the call from {who}")
        };
        let next = match self.selection.call.and_then(|id| self.model.appearance(id)) {
            Some(a) => format!("; selected {}", caller_words(a)),
            None => "; no call waiting here now".to_owned(),
        };
        self.say(Message::new(Level::Notice, format!("{who} {what}{next}")));
    }
}

/// The selected item if it is still listed; else the next old row that still is, else the
/// previous one, else the first row.
fn keep_or_neighbour<T: Clone + PartialEq>(sel: Option<&T>, old: &[T], new: &[T]) -> Option<T> {
    let Some(sel) = sel else {
        return new.first().cloned();
    };
    if new.contains(sel) {
        return Some(sel.clone());
    }
    if let Some(at) = old.iter().position(|r| r == sel) {
        let after = old.iter().skip(at + 1).find(|r| new.contains(r));
        let before = old.iter().take(at).rev().find(|r| new.contains(r));
        if let Some(n) = after.or(before) {
            return Some(n.clone());
        }
    }
    new.first().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_is_the_next_survivor_then_the_previous() {
        let old = [1, 2, 3, 4];
        assert_eq!(keep_or_neighbour(Some(&2), &old, &[1, 3, 4]), Some(3));
        assert_eq!(keep_or_neighbour(Some(&2), &old, &[1, 4]), Some(4));
        assert_eq!(keep_or_neighbour(Some(&4), &old, &[1, 2]), Some(2));
        assert_eq!(keep_or_neighbour(Some(&4), &old, &[]), None);
        assert_eq!(keep_or_neighbour(Some(&9), &old, &[5, 6]), Some(5));
        assert_eq!(keep_or_neighbour(None, &old, &[5, 6]), Some(5));
    }
}
