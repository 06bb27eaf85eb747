//! Statistics counting: offered, answered, abandoned and waiting calls per queue, and agents'
//! figures, counted from the changes the reconciling makes, over the current period.

use std::sync::Arc;
use std::time::Instant;

use super::stats::QueueCall;
use super::{
    AgentState, AgentStatus, Appearance, AppearanceId, CallState, Direction, EndReason, Guid,
    LineId, Model, ModelEvent, Queue, QueueStats, User,
};

impl Model {
    /// The start of the counting period (the period begins at the first input).
    pub(super) fn period_since(&mut self, now: Instant) -> Instant {
        self.tick(now);
        self.tables.stats_period.as_ref().map_or(now, |p| p.since)
    }

    /// Changes a queue's statistics; the queue is emitted once, by [`Self::flush_stats`], however
    /// many figures one input changed.
    pub(super) fn touch_queue_stats(&mut self, guid: &Guid, f: impl FnOnce(&mut QueueStats)) {
        let Some(cur) = self.tables.queues.get(guid) else {
            return;
        };
        let mut stats = cur.stats.clone();
        f(&mut stats);
        if stats == cur.stats {
            return;
        }
        let mut queue = Queue::clone(cur);
        queue.stats = stats;
        self.tables.queues.insert(guid.clone(), Arc::new(queue));
        self.stats.dirty.insert(guid.clone());
    }

    /// Emits every queue whose figures changed.
    pub(super) fn flush_stats(&mut self) {
        for guid in std::mem::take(&mut self.stats.dirty) {
            if let Some(queue) = self.tables.queues.get(&guid).cloned() {
                self.emit(ModelEvent::QueueChanged { queue });
            }
        }
    }

    /// The queue a queue appearance counts for: the one its queue information names, else the
    /// queue reporting it.
    pub(super) fn counting_queue(&self, line: &Guid, call: &Appearance) -> Guid {
        call.call
            .queue
            .as_ref()
            .filter(|q| !q.number.is_empty())
            .and_then(|q| self.queue_by_extn(&q.number))
            .map_or_else(|| line.clone(), |q| q.guid.clone())
    }

    /// Re-reads a queue's waiting calls into its figures.
    pub(super) fn refresh_waiting(&mut self, guid: &Guid) {
        let set = self.stats.waiting.get(guid);
        let waiting = set.map_or(0, |s| u32::try_from(s.len()).unwrap_or(u32::MAX));
        let oldest = set.and_then(|s| s.first()).copied();
        let lower = oldest
            .and_then(|(_, id)| self.stats.calls.get(&id))
            .is_some_and(|c| c.untimed);
        self.touch_queue_stats(guid, |s| {
            s.waiting = waiting;
            s.oldest_waiting = oldest.map(|(t, _)| t);
            s.oldest_is_lower_bound = lower;
        });
    }

    pub(super) fn unwait(&mut self, queue: &Guid, since: Instant, id: AppearanceId) {
        let emptied = self.stats.waiting.get_mut(queue).is_some_and(|set| {
            set.remove(&(since, id));
            set.is_empty()
        });
        if emptied {
            self.stats.waiting.remove(queue);
        }
        self.refresh_waiting(queue);
    }

    /// Counts what a new or changed appearance means for the statistics.
    pub(super) fn count_call(&mut self, now: Instant, old: Option<&Appearance>, new: &Appearance) {
        self.tick(now);
        match &new.key.line {
            LineId::Queue(line) => self.count_queue_call(now, line, new),
            LineId::User(user) => {
                let answered_now = new.call.state == CallState::Connected
                    && new.call.direction != Direction::Outbound
                    && old.is_none_or(|o| o.call.state != CallState::Connected)
                    && !(old.is_none() && new.present_at_connect);
                if answered_now && self.stats.answered.insert(new.id) {
                    let user = user.clone();
                    self.touch_user(now, &user, |u| u.stats.answered += 1);
                }
            }
            LineId::ParkServer => {}
        }
        self.flush_stats();
    }

    pub(super) fn count_queue_call(&mut self, now: Instant, line: &Guid, new: &Appearance) {
        let queue = self.counting_queue(line, new);
        let since = self.tables.stats_period.as_ref().map_or(now, |p| p.since);
        let mut track = self.stats.calls.remove(&new.id).unwrap_or(QueueCall {
            queue: None,
            offered: None,
            untimed: new.present_at_connect || new.first_seen < since,
            answered: false,
            moved: false,
        });
        let was = track.queue.clone();
        // Out of the old queue's waiting list (it is put back below if it still waits).
        if let (Some(old_q), Some(at)) = (&was, track.offered) {
            if self
                .stats
                .waiting
                .get(old_q)
                .is_some_and(|s| s.contains(&(at, new.id)))
            {
                self.unwait(old_q, at, new.id);
            }
        }
        if new.call.state.is_waiting() && !track.answered && !track.moved {
            let newly_offered = track.offered.is_none() || was.as_ref() != Some(&queue);
            let at = *track.offered.get_or_insert(new.first_seen);
            if newly_offered {
                // First seen waiting here: offered to this queue.
                self.touch_queue_stats(&queue, |s| s.offered += 1);
            }
            self.stats.calls.insert(new.id, track.clone());
            self.stats
                .waiting
                .entry(queue.clone())
                .or_default()
                .insert((at, new.id));
            self.refresh_waiting(&queue);
        } else if new.call.state == CallState::Connected
            && !track.answered
            && !track.moved
            && self.with_agent(new)
        {
            if let Some(at) = track.offered {
                track.answered = true;
                let wait = now.saturating_duration_since(at);
                let timed = !track.untimed;
                let sl = self.stats.config.service_level;
                self.touch_queue_stats(&queue, |s| {
                    s.answered += 1;
                    if timed {
                        s.timed_answered += 1;
                        s.answer_wait_ms += u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                        if wait <= sl {
                            s.answered_in_sl += 1;
                        }
                    } else {
                        s.lower_bound += 1;
                    }
                });
            }
        }
        track.queue = Some(queue);
        self.stats.calls.insert(new.id, track);
    }

    /// Whether a connected queue call is connected to an agent (a known user), not to
    /// voicemail, a conference or an outside number.
    pub(super) fn with_agent(&self, a: &Appearance) -> bool {
        match a.call.connected.as_ref().filter(|p| !p.number.is_empty()) {
            Some(p) => self.user_by_extn(&p.number).is_some(),
            // Nothing says who answered: the state alone is the PBX's word.
            None => true,
        }
    }

    /// Counts an appearance's end: an abandon, when the caller hung up while waiting.
    pub(super) fn count_end(&mut self, now: Instant, call: &Appearance, reason: &EndReason) {
        self.tick(now);
        self.stats.answered.remove(&call.id);
        let Some(track) = self.stats.calls.remove(&call.id) else {
            return;
        };
        let (Some(queue), Some(at)) = (track.queue, track.offered) else {
            return;
        };
        let was_waiting = self
            .stats
            .waiting
            .get(&queue)
            .is_some_and(|s| s.contains(&(at, call.id)));
        if was_waiting {
            self.unwait(&queue, at, call.id);
            self.flush_stats();
        }
        let abandoned = matches!(reason, EndReason::Lost { .. })
            && call.call.state.is_waiting()
            && !track.answered
            && !track.moved;
        if !abandoned {
            return;
        }
        let wait = now.saturating_duration_since(at);
        let short = wait < self.stats.config.short_abandon;
        let timed = !track.untimed;
        self.touch_queue_stats(&queue, |s| {
            s.abandoned += 1;
            if short {
                s.short_abandoned += 1;
            } else if timed {
                s.timed_abandoned += 1;
            } else {
                s.lower_bound += 1;
            }
        });
        self.flush_stats();
    }

    /// Changes a user (or just re-derives its agent state) and emits one event if anything
    /// changed. Returns whether something changed.
    /// Derives a user's agent state again after its calls changed: nothing is copied unless
    /// the state changed.
    pub(super) fn recheck_agent(&mut self, now: Instant, guid: &Guid) -> bool {
        let Some(cur) = self.tables.users.get(guid) else {
            return false;
        };
        let line = LineId::User(guid.clone());
        let state = AgentState::derive(
            cur.status.as_ref(),
            cur.phone,
            self.appearances_on(&line).map(|a| &**a),
        );
        state != cur.agent.state && self.touch_user(now, guid, |_| {})
    }

    pub(super) fn touch_user(
        &mut self,
        now: Instant,
        guid: &Guid,
        f: impl FnOnce(&mut User),
    ) -> bool {
        let Some(cur) = self.tables.users.get(guid).cloned() else {
            return false;
        };
        let mut u = (*cur).clone();
        f(&mut u);
        let line = LineId::User(guid.clone());
        let state = AgentState::derive(
            u.status.as_ref(),
            u.phone,
            self.appearances_on(&line).map(|a| &**a),
        );
        let agent_from = (state != u.agent.state).then_some(u.agent.state);
        if let Some(from) = agent_from {
            // A call state whose call was already there when the line was (re)subscribed began
            // before we saw it, even when the user's status arrived first and showed it idle.
            let on_call = |s: AgentState| {
                matches!(
                    s,
                    AgentState::Talking | AgentState::Ringing | AgentState::Held
                )
            };
            let inherited = on_call(state)
                && !on_call(from)
                && self.appearances_on(&line).any(|a| a.present_at_connect);
            u.stats.close_spell(&u.agent, now);
            u.agent = AgentStatus {
                state,
                since: now,
                observed: from != AgentState::Unknown && !inherited,
            };
        }
        if u == *cur {
            return false;
        }
        let user = Arc::new(u);
        self.tables.users.insert(guid.clone(), user.clone());
        self.emit(ModelEvent::UserChanged { user, agent_from });
        true
    }
}
