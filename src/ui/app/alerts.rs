//! The queues' alerts and trends on the screen: the model's engines fed with the replica's
//! events and ticked with its `now`; each alert transition becomes a line in the message
//! history, and the bell an [`Action`] for the run loop (the view never writes to the
//! terminal).

use std::time::Duration;

use super::App;
use crate::model::{AlertLevel, Alerts, Judged, ModelEvent, Text, Trends};
use crate::ui::event::{Action, Level, Message};

impl App {
    /// The alert engine: each queue's level, whether alerts are paused.
    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    /// The queues' trends, once the first tick has come.
    pub fn trends(&self) -> Option<&Trends> {
        self.trends.as_ref()
    }

    /// Samples the trends at the tick's `now`. They are anchored at the first tick, on the
    /// quarter hour of the wall clock it reports (at the tick itself without one).
    pub(super) fn sample_trends(&mut self) {
        if self.config.judged_elsewhere {
            return;
        }
        let now = self.now;
        let clock = self.clock;
        let scope = &self.config.scope;
        let trends = self.trends.get_or_insert_with(|| {
            let into_quarter =
                clock.map_or(0, |c| u64::from(c.minute % 15) * 60 + u64::from(c.second));
            let anchor = now
                .checked_sub(Duration::from_secs(into_quarter))
                .unwrap_or(now);
            Trends::new(anchor, scope.clone())
        });
        trends.tick(now, &self.model);
    }

    /// Takes in the model's events (abandons are counted from them).
    pub(super) fn observe_alerts(&mut self, events: &[ModelEvent]) {
        for ev in events {
            self.alerts.observe(self.now, ev);
        }
    }

    /// Judges the queues at the tick's `now`: a history line per transition, and the bell
    /// once when a queue enters critical (with `[alerts] bell`).
    pub(super) fn judge_alerts(&mut self) -> Vec<Action> {
        let was_paused = self.alerts.paused();
        self.alerts.evaluate(self.now, &self.model);
        if was_paused != self.alerts.paused() {
            self.dirty = true;
        }
        self.say_transitions()
    }

    /// A serving process's judgement (shared mode): its levels, alerts, trends and pause are
    /// shown as they are; the transitions are lines here as if judged here.
    pub(super) fn follow_judged(&mut self, judged: Vec<Judged>) -> Vec<Action> {
        let now = self.now;
        for j in judged {
            match j {
                Judged::Queue(q) => {
                    let (name, extn) = self.queue_words(&q.queue);
                    self.alerts.follow(now, &q, &name, &extn);
                    if let Some(t) = &mut self.trends {
                        t.follow(&q.queue, Some((q.minutes, q.intervals)));
                    }
                }
                Judged::Gone(g) => {
                    let (name, extn) = self.queue_words(&g);
                    self.alerts.follow_gone(now, &g, &name, &extn);
                    if let Some(t) = &mut self.trends {
                        t.follow(&g, None);
                    }
                }
                Judged::Paused(p) => self.alerts.follow_paused(p),
            }
        }
        self.dirty = true;
        self.say_transitions()
    }

    fn queue_words(&self, guid: &crate::model::Guid) -> (Text, Text) {
        self.model
            .queue(guid)
            .map(|q| (q.name.clone(), q.extn.clone()))
            .unwrap_or_default()
    }

    /// A history line per transition, and the bell once when a queue enters critical.
    fn say_transitions(&mut self) -> Vec<Action> {
        let mut bell = false;
        while let Some(t) = self.alerts.poll_transition() {
            let level = match (t.raised(), t.to) {
                (true, AlertLevel::Critical) => Level::Error,
                (true, _) => Level::Notice,
                (false, _) => Level::Info,
            };
            bell |= t.bell;
            self.say(Message::new(level, t.words()));
            self.dirty = true;
        }
        if bell { vec![Action::Bell] } else { Vec::new() }
    }

    /// The acknowledge key: the current alerts are marked seen.
    pub(super) fn acknowledge(&mut self) {
        let n = self.alerts.acknowledge();
        self.say(Message::new(
            Level::Info,
            match n {
                0 => "no alert to acknowledge".to_owned(),
                1 => "acknowledged the alert of 1 queue".to_owned(),
                n => format!("acknowledged the alerts of {n} queues"),
            },
        ));
    }
}
