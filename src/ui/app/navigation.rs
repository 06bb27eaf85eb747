//! Moving about: panes, rows, pages, the detail's pick and the scroll of overlays, measured
//! by the layout (never by drawing).

use std::collections::HashMap;

use super::App;
use crate::model::AppearanceId;
use crate::ui::event::{Action, Level, Message};
use crate::ui::layout;
use crate::ui::rows::agent_calls;
use crate::ui::screen::{DetailTarget, Overlay, Pane};

impl App {
    pub(super) fn refilter(&mut self) {
        self.placed = true;
        self.derived.set_filter(&self.model, &self.filter.text);
        self.refresh(&HashMap::new());
    }

    /// Narrows the waiting pane to the selected queue, or widens it to every queue; the
    /// selected call stays when it is still listed, else the longest waiting is selected.
    pub(super) fn narrow_waiting(&mut self) {
        self.placed = true;
        self.view.narrow_waiting = !self.view.narrow_waiting;
        let listed = |app: &App, id: &AppearanceId| app.waiting_rows().contains(id);
        if !self.selection.call.is_some_and(|c| listed(self, &c)) {
            self.selection.call = self.longest_waiting();
        }
    }

    /// The selected queue's longest-waiting call, when the waiting pane lists it.
    fn queue_longest(&self) -> Option<AppearanceId> {
        let rows = self.waiting_rows();
        (self
            .derived
            .waiting_of(self.selection.queue.as_ref())
            .iter())
        .filter_map(|id| self.model.appearance(*id))
        .filter(|a| rows.contains(&a.id))
        .min_by_key(|a| (a.first_seen, a.id))
        .map(|a| a.id)
    }

    /// The grid's narrowing or sort changed by a key: the grid is placed again once, the
    /// selected agent kept, and the choice kept for the next run.
    pub(super) fn agent_view_changed(&mut self) -> Vec<Action> {
        self.placed = true;
        self.sync_agent_view();
        vec![Action::SaveView(self.view.clone())]
    }

    /// Hands the grid its order and the queue it is narrowed to (the selected one), and
    /// places the agents again when either changed.
    pub(super) fn sync_agent_view(&mut self) {
        let narrow = (self.view.narrow_agents)
            .then(|| self.selection.queue.clone())
            .flatten();
        self.derived
            .set_agent_view(&self.model, self.view.agents, narrow);
        let old = self
            .derived
            .flush(&self.model, self.selection.agent.as_ref());
        self.selection.agent = old.agent;
    }

    pub(super) fn page(&self) -> isize {
        (self.size.1 / 3).max(1) as isize
    }

    pub(super) fn cycle(&mut self, by: usize) {
        self.placed = true;
        let pos = Pane::ORDER
            .iter()
            .position(|p| *p == self.focus)
            .unwrap_or(0);
        for i in 1..=Pane::ORDER.len() {
            let Some(next) = Pane::ORDER.get((pos + i * by) % Pane::ORDER.len()) else {
                continue;
            };
            // An empty parked pane is not a stop.
            if *next == Pane::Parked && self.derived.parked().is_empty() {
                continue;
            }
            self.focus = *next;
            return;
        }
    }

    pub(super) fn step(&mut self, by: isize, by_row: bool) {
        if by_row && self.move_pick(by) {
            return;
        }
        if !matches!(self.overlay, Overlay::None) {
            let max = isize::try_from(layout::max_scroll(self)).unwrap_or(0);
            if let Overlay::Help { scroll }
            | Overlay::Messages { scroll }
            | Overlay::Detail { scroll, .. } = &mut self.overlay
            {
                let s = (*scroll as isize).saturating_add(by).clamp(0, max);
                *scroll = u16::try_from(s).unwrap_or(0);
            }
            return;
        }
        self.placed = true;
        fn moved<T: Clone + PartialEq>(rows: &[T], cur: Option<&T>, by: isize) -> Option<T> {
            let at = cur.and_then(|c| rows.iter().position(|r| r == c));
            rows.get(moved_to(rows.len(), at, by)?).cloned()
        }
        match self.focus {
            Pane::Queues => {
                let q = moved(self.derived.queues(), self.selection.queue.as_ref(), by);
                if q.is_some() && q != self.selection.queue {
                    self.selection.queue = q;
                    self.sync_agent_view();
                    // The queue's longest caller is selected in the waiting pane, floor-wide
                    // too, so Tab goes straight to it.
                    let longest = self.queue_longest();
                    if self.view.narrow_waiting || longest.is_some() {
                        self.selection.call = longest;
                    }
                }
            }
            Pane::Waiting => {
                let rows = self.waiting_rows();
                if let Some(c) = moved(rows, self.selection.call.as_ref(), by) {
                    self.selection.call = Some(c);
                }
            }
            Pane::Agents => {
                // Positions come from the ordered index: no pass over every agent.
                let d = &self.derived;
                let at = self
                    .selection
                    .agent
                    .as_ref()
                    .and_then(|g| d.agent_position(g));
                let next = moved_to(d.agents_len(), at, by).and_then(|i| d.agent(i));
                if let Some(r) = next {
                    self.selection.agent = Some(r.guid.clone());
                }
            }
            Pane::Parked => {
                if let Some(p) = moved(self.derived.parked(), self.selection.parked.as_ref(), by) {
                    self.selection.parked = Some(p);
                }
            }
        }
    }

    /// In an agent's detail with several calls, or a queue's detail with members, a row key
    /// moves the pick (and scrolls it into view). Returns false when there is nothing to pick.
    pub(super) fn move_pick(&mut self, by: isize) -> bool {
        let count = match &self.overlay {
            Overlay::Detail {
                target: DetailTarget::Agent(g),
                ..
            } => self
                .model
                .user(g)
                .map_or(0, |u| agent_calls(&self.model, u).len()),
            Overlay::Detail {
                target: DetailTarget::Queue(g),
                ..
            } => self.model.queue(g).map_or(0, |q| q.members().len()),
            _ => 0,
        };
        let agent = matches!(
            self.overlay,
            Overlay::Detail {
                target: DetailTarget::Agent(_),
                ..
            }
        );
        // One call needs no picking: the rows scroll instead.
        if count == 0 || (agent && count < 2) {
            return false;
        }
        if let Overlay::Detail { pick, .. } = &mut self.overlay {
            *pick = pick.saturating_add_signed(by).min(count - 1);
        }
        let line = layout::pick_line(self);
        let max = layout::max_scroll(self);
        let visible = layout::overlay_visible(self);
        if let (Some(line), Overlay::Detail { scroll, .. }) = (line, &mut self.overlay) {
            let line = u16::try_from(line).unwrap_or(u16::MAX);
            if line < *scroll {
                *scroll = line;
            } else if line >= scroll.saturating_add(visible) {
                // An agent's call shows from its heading; a member is one line.
                *scroll = if agent {
                    line
                } else {
                    line.saturating_sub(visible.saturating_sub(1))
                };
            }
            *scroll = (*scroll).min(max);
        }
        true
    }

    pub(super) fn open(&mut self) {
        self.placed = true;
        let call = |id: Option<AppearanceId>| {
            id.and_then(|id| self.model.appearance(id))
                .map(|a| DetailTarget::Call {
                    id: a.id,
                    last: a.clone(),
                    ended: None,
                })
        };
        let target = match self.focus {
            Pane::Queues => self.selection.queue.clone().map(DetailTarget::Queue),
            Pane::Waiting => call(self.selection.call),
            Pane::Agents => self.selection.agent.clone().map(DetailTarget::Agent),
            Pane::Parked => call(self.selection.parked),
        };
        match target {
            Some(target) => {
                self.overlay = Overlay::Detail {
                    target,
                    scroll: 0,
                    pick: 0,
                }
            }
            None => {
                self.say(Message::new(Level::Info, "nothing selected here"));
            }
        }
    }
}

/// The row `by` rows on from `at` in a list of `len` rows, kept in the list; from outside it,
/// the first row going down and the last going up.
fn moved_to(len: usize, at: Option<usize>, by: isize) -> Option<usize> {
    let last = len.checked_sub(1)?;
    Some(match at {
        Some(i) => i.saturating_add_signed(by).min(last),
        None if by < 0 => last,
        None => 0,
    })
}
