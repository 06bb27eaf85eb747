//! The serving side's alert and trend engines: run once here with the serving side's own
//! `[alerts]` and scope, judged every second, and published per queue (levels with the value
//! and threshold of each transition, the 15-minute abandoned window, the trends) with the
//! pause, so every viewer shows the same levels, alerts and trends whenever it started.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::model::{
    AlertConfig, Alerts, Figure, JudgedFigure, JudgedQueue, SL_INTERVAL, Scope, Tables, Trends,
    WallClock,
};
use crate::session::SessionEvent;
use crate::share::{KvOp, Publisher};

/// How often the queues are judged (the engines' dwell and minutes are whole seconds).
pub(super) const JUDGE_EVERY: Duration = Duration::from_secs(1);

/// The engines over the serving side's copy of the model.
pub(super) struct Judge {
    alerts: Alerts,
    trends: Trends,
    scope: Scope,
}

impl Judge {
    /// Fresh engines (at each new link to the PBX, with the model started again).
    pub(super) fn new(config: AlertConfig, scope: Scope) -> Judge {
        let now = Instant::now();
        // The trends' quarter hours fall on the wall clock's (UTC's are every zone's but a
        // few with odd offsets).
        let into_quarter = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() % SL_INTERVAL.as_secs());
        let anchor = now
            .checked_sub(Duration::from_secs(into_quarter))
            .unwrap_or(now);
        Judge {
            alerts: Alerts::new(config, scope.clone()),
            trends: Trends::new(anchor, scope.clone()),
            scope,
        }
    }

    /// The session's batch, after `tables` took it in.
    pub(super) fn observe(&mut self, batch: &[SessionEvent]) {
        let now = Instant::now();
        for ev in batch {
            if let SessionEvent::Model(ev) = ev {
                self.alerts.observe(now, ev);
                self.trends.observe(ev);
            }
        }
    }

    /// Judges every queue in scope now; the writes of what changed.
    pub(super) fn judge(
        &mut self,
        tables: &Tables,
        publisher: &mut Publisher,
        clock: &WallClock,
    ) -> Vec<KvOp> {
        let now = Instant::now();
        self.trends.tick(now, tables);
        self.alerts.evaluate(now, tables);
        while let Some(t) = self.alerts.poll_transition() {
            tracing::info!(alert = %t.words(), "alert");
        }
        let mut ops = publisher.paused(self.alerts.paused());
        for q in tables.queues() {
            if !self.scope.covers_queue(q) {
                continue;
            }
            let mut judged = self.alerts.judged(&q.guid).unwrap_or_else(|| JudgedQueue {
                queue: q.guid.clone(),
                figures: Figure::ALL
                    .iter()
                    .map(|&figure| JudgedFigure {
                        figure,
                        level: Default::default(),
                        value: None,
                        threshold: None,
                    })
                    .collect(),
                abandoned_15m: 0,
                minutes: Vec::new(),
                intervals: Vec::new(),
            });
            (judged.minutes, judged.intervals) = self.trends.judged(&q.guid);
            ops.extend(publisher.judged(&judged, clock));
        }
        ops
    }
}
