//! Queue alerts: a warn and a critical threshold per figure (`[alerts]`, overridden per
//! queue), a level per queue (ok, warn, critical), and the transitions between levels.
//!
//! The engine is sans-IO and lives in the model on purpose: its inputs are the model's own
//! events and [`Tables`] with a `now` passed in, its outputs are levels and
//! [`AlertTransition`]s; it reads no clock and writes nothing. So the screen, `events --json`
//! and a process serving several viewers run the very same engine over the very same inputs,
//! and whoever runs it can publish its outputs for every viewer to agree on. The screen only
//! shows the levels; ringing the bell is the run loop's business.
//!
//! A level is entered when its figure is on the wrong side of the threshold (at or above for
//! waiting calls, the longest wait and abandons in the last 15 minutes; at or below for
//! available agents; below for the service level) for `dwell` without a break, and left after
//! `dwell` back on the right side, so a figure hovering at the threshold does not flap.
//! Queues in night service or out of service never alert. While the data is not live (the
//! link is down, or a sync is not complete) nothing is raised or cleared: the engine is paused
//! and a dwell under way starts again once it is live.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::event::{ConnectionState, ModelEvent};
use super::ids::{Guid, Text};
use super::judged::{JudgedFigure, JudgedQueue};
use super::queue::{Queue, ServiceMode};
use super::scope::Scope;
use super::tables::Tables;

/// The longest wait marked by default, in seconds (`[alerts] longest_warn_secs`).
pub const DEFAULT_LONGEST_WARN_SECS: u64 = 60;
/// How long a figure stays across a threshold before its level changes, by default.
pub const DEFAULT_DWELL_SECS: u64 = 5;
/// How many calls the service level counts before it has a level, by default.
pub const DEFAULT_SERVICE_LEVEL_MIN_CALLS: u32 = 10;
/// The window of the abandoned figure.
pub const ABANDONED_WINDOW: Duration = Duration::from_secs(15 * 60);
/// At most this many abandons are remembered per queue for the window (more in 15 minutes
/// than any threshold makes sense for).
const ABANDONS_KEPT: usize = 10_000;

/// A figure a queue is judged by.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// Calls waiting now.
    Waiting,
    /// The longest wait now, in seconds.
    Longest,
    /// Today's service level, in percent.
    ServiceLevel,
    /// Agents available now.
    Available,
    /// Calls abandoned in the last 15 minutes.
    Abandoned15m,
}

/// Which side of a threshold is wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    AtOrAbove,
    AtOrBelow,
    Below,
}

impl Figure {
    /// Every figure, in the order they are listed.
    pub const ALL: [Figure; 5] = [
        Figure::Waiting,
        Figure::Longest,
        Figure::ServiceLevel,
        Figure::Available,
        Figure::Abandoned15m,
    ];

    /// The words a supervisor reads.
    pub fn words(self) -> &'static str {
        match self {
            Figure::Waiting => "calls waiting",
            Figure::Longest => "longest wait",
            Figure::ServiceLevel => "service level",
            Figure::Available => "agents available",
            Figure::Abandoned15m => "abandoned in 15 min",
        }
    }

    fn side(self) -> Side {
        match self {
            Figure::Waiting | Figure::Longest | Figure::Abandoned15m => Side::AtOrAbove,
            Figure::Available => Side::AtOrBelow,
            Figure::ServiceLevel => Side::Below,
        }
    }

    /// A value of this figure as a supervisor reads it (`01:20`, `72 %`, `3`).
    pub fn format(self, value: u64) -> String {
        match self {
            Figure::Longest => format!("{:02}:{:02}", value / 60, value % 60),
            Figure::ServiceLevel => format!("{value} %"),
            _ => value.to_string(),
        }
    }

    /// Whether `value` is on the wrong side of `threshold`.
    fn crosses(self, value: u64, threshold: u64) -> bool {
        match self.side() {
            Side::AtOrAbove => value >= threshold,
            Side::AtOrBelow => value <= threshold,
            Side::Below => value < threshold,
        }
    }

    /// Whether a critical threshold must be on the far side of the warn threshold
    /// (`critical >= warn` for figures that alert upwards, `<=` for the others).
    pub fn critical_beyond_warn(self, warn: u64, critical: u64) -> bool {
        match self.side() {
            Side::AtOrAbove => critical >= warn,
            Side::AtOrBelow | Side::Below => critical <= warn,
        }
    }

    fn index(self) -> usize {
        match self {
            Figure::Waiting => 0,
            Figure::Longest => 1,
            Figure::ServiceLevel => 2,
            Figure::Available => 3,
            Figure::Abandoned15m => 4,
        }
    }
}

/// How a queue stands.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    /// No threshold crossed.
    #[default]
    Ok,
    /// A warn threshold crossed.
    Warn,
    /// A critical threshold crossed.
    Critical,
}

impl AlertLevel {
    /// The two levels a threshold can be set for, lower first.
    pub const ALERTING: [AlertLevel; 2] = [AlertLevel::Warn, AlertLevel::Critical];

    /// The symbol that shows the level without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            AlertLevel::Ok => "·",
            AlertLevel::Warn => "◇",
            AlertLevel::Critical => "◆",
        }
    }

    /// The word.
    pub fn word(self) -> &'static str {
        match self {
            AlertLevel::Ok => "ok",
            AlertLevel::Warn => "warn",
            AlertLevel::Critical => "critical",
        }
    }

    fn slot(self) -> Option<usize> {
        match self {
            AlertLevel::Ok => None,
            AlertLevel::Warn => Some(0),
            AlertLevel::Critical => Some(1),
        }
    }
}

/// A warn and a critical threshold for each figure; an unset one is no threshold.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Thresholds {
    values: [[Option<u64>; 2]; 5],
}

impl Thresholds {
    /// The threshold of `figure` for `level` (none for ok).
    pub fn get(&self, figure: Figure, level: AlertLevel) -> Option<u64> {
        let slot = level.slot()?;
        self.values
            .get(figure.index())
            .and_then(|v| v.get(slot))
            .copied()
            .flatten()
    }

    /// Sets (or unsets) the threshold of `figure` for `level` (ok has none).
    pub fn set(&mut self, figure: Figure, level: AlertLevel, value: Option<u64>) {
        let slot = level.slot().and_then(|slot| {
            self.values
                .get_mut(figure.index())
                .and_then(|v| v.get_mut(slot))
        });
        if let Some(v) = slot {
            *v = value;
        }
    }

    /// These thresholds where set, `base`'s elsewhere (a queue's override over the defaults).
    pub fn over(&self, base: &Thresholds) -> Thresholds {
        let mut out = *base;
        for f in Figure::ALL {
            for l in AlertLevel::ALERTING {
                if let Some(v) = self.get(f, l) {
                    out.set(f, l, Some(v));
                }
            }
        }
        out
    }

    /// The level `value` of `figure` is at, ignoring dwell.
    pub fn level_of(&self, figure: Figure, value: u64) -> AlertLevel {
        AlertLevel::ALERTING
            .into_iter()
            .rev()
            .find(|l| {
                self.get(figure, *l)
                    .is_some_and(|t| figure.crosses(value, t))
            })
            .unwrap_or_default()
    }
}

/// How alerts are raised (`[alerts]`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AlertConfig {
    /// For every queue.
    pub defaults: Thresholds,
    /// Per queue (`[alerts.queue."NAME"]`, a name in any case or a number): the thresholds
    /// in force for it, its override already laid over the defaults.
    pub queues: Vec<(Text, Thresholds)>,
    /// Ring the terminal bell when a queue enters critical.
    pub bell: bool,
    /// How long a figure stays across a threshold before its level changes.
    pub dwell: Duration,
    /// Counted calls the service level needs before it has a level.
    pub service_level_min_calls: u32,
}

impl Default for AlertConfig {
    fn default() -> Self {
        let mut defaults = Thresholds::default();
        defaults.set(
            Figure::Longest,
            AlertLevel::Warn,
            Some(DEFAULT_LONGEST_WARN_SECS),
        );
        AlertConfig {
            defaults,
            queues: Vec::new(),
            bell: false,
            dwell: Duration::from_secs(DEFAULT_DWELL_SECS),
            service_level_min_calls: DEFAULT_SERVICE_LEVEL_MIN_CALLS,
        }
    }
}

impl AlertConfig {
    /// The thresholds in force for `queue`: its override, or the defaults.
    pub fn thresholds(&self, queue: &Queue) -> Thresholds {
        self.queues
            .iter()
            .find(|(name, _)| Scope::names(name, queue))
            .map_or(self.defaults, |(_, t)| *t)
    }

    /// The wait from which a call on `queue` is marked `!` (its effective
    /// `longest_warn_secs`); none when unset. Without a known queue, the default.
    pub fn longest_warn(&self, queue: Option<&Queue>) -> Option<Duration> {
        let t = queue.map_or(self.defaults, |q| self.thresholds(q));
        t.get(Figure::Longest, AlertLevel::Warn)
            .map(Duration::from_secs)
    }
}

/// A queue's figures at one moment.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct QueueFigures {
    /// Calls waiting.
    pub waiting: u64,
    /// The longest wait, in whole seconds (none when nobody waits).
    pub longest_secs: Option<u64>,
    /// Today's service level in whole percent (rounded down), when any call is counted.
    pub service_level: Option<u64>,
    /// Calls the service level counts.
    pub service_level_calls: u32,
    /// Agents available.
    pub available: u64,
    /// Calls abandoned in the last 15 minutes.
    pub abandoned_15m: u64,
}

impl QueueFigures {
    /// The figures of `queue` in `tables` at `now` (abandons in the window given).
    pub fn of(tables: &Tables, queue: &Queue, now: Instant, abandoned_15m: u64) -> QueueFigures {
        let stats = &queue.stats;
        QueueFigures {
            waiting: u64::from(stats.waiting),
            longest_secs: stats.longest_wait(now).map(|d| d.as_secs()),
            // Rounded down: below a whole-percent threshold exactly when the share is.
            service_level: stats.service_level().map(|s| (s * 100.0).floor() as u64),
            service_level_calls: stats.timed_answered + stats.timed_abandoned,
            available: u64::from(tables.queue_agents(&queue.guid).available),
            abandoned_15m,
        }
    }

    /// The value of `figure`, if it has one to judge (the service level only once
    /// `min_calls` calls are counted).
    pub fn value(&self, figure: Figure, min_calls: u32) -> Option<u64> {
        match figure {
            Figure::Waiting => Some(self.waiting),
            Figure::Longest => Some(self.longest_secs.unwrap_or(0)),
            Figure::ServiceLevel => self
                .service_level
                .filter(|_| self.service_level_calls >= min_calls),
            Figure::Available => Some(self.available),
            Figure::Abandoned15m => Some(self.abandoned_15m),
        }
    }
}

/// A queue entered or left a level for one figure.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AlertTransition {
    /// When (the `now` of the evaluation that decided it).
    pub at: Instant,
    /// The queue.
    pub queue: Guid,
    /// Its name.
    pub name: Text,
    /// Its number.
    pub extn: Text,
    /// The figure.
    pub figure: Figure,
    /// The figure's value then (none when it no longer has one: the queue went to night
    /// service, or left).
    pub value: Option<u64>,
    /// The figure's level before.
    pub from: AlertLevel,
    /// The figure's level now.
    pub to: AlertLevel,
    /// The threshold crossed: the new level's when raised, the old level's when cleared.
    pub threshold: Option<u64>,
    /// Ring the bell for it (the queue entered critical, `bell = true`).
    pub bell: bool,
}

impl AlertTransition {
    /// Whether the level went up (an `alert_raised`), rather than down (`alert_cleared`).
    pub fn raised(&self) -> bool {
        self.to > self.from
    }

    /// One line for the message history, e.g. "Sales 7303 critical: calls waiting 8 (≥ 6)".
    pub fn words(&self) -> String {
        let value = self
            .value
            .map_or_else(|| "-".to_owned(), |v| self.figure.format(v));
        let side = match self.figure.side() {
            Side::AtOrAbove => "≥",
            Side::AtOrBelow => "≤",
            Side::Below => "<",
        };
        let threshold = self
            .threshold
            .map(|t| format!(" ({side} {})", self.figure.format(t)))
            .unwrap_or_default();
        if self.raised() {
            format!(
                "{} {} {}: {} {value}{threshold}",
                self.name,
                self.extn,
                self.to.word(),
                self.figure.words()
            )
        } else {
            format!(
                "{} {} {} cleared ({} now): {} {value}",
                self.name,
                self.extn,
                self.from.word(),
                self.to.word(),
                self.figure.words()
            )
        }
    }
}

/// One threshold's condition, debounced by the dwell.
#[derive(Clone, Copy, Debug, Default)]
struct Debounced {
    on: bool,
    /// Since when the condition has differed from `on`.
    flipping_since: Option<Instant>,
}

impl Debounced {
    fn step(&mut self, raw: bool, now: Instant, dwell: Duration) {
        if raw == self.on {
            self.flipping_since = None;
            return;
        }
        let since = *self.flipping_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= dwell {
            self.on = raw;
            self.flipping_since = None;
        }
    }
}

/// One queue's alert state.
#[derive(Clone, Debug, Default)]
struct QueueAlert {
    /// Per figure, per level (warn, critical).
    conditions: [[Debounced; 2]; 5],
    figures: [AlertLevel; 5],
    /// Per figure, the value and threshold of the transition that set its level.
    reported: [(Option<u64>, Option<u64>); 5],
    level: AlertLevel,
    acknowledged: bool,
    /// The queue's abandoned count last seen, and when each abandon in the window was seen.
    abandoned_seen: Option<u32>,
    abandons: VecDeque<Instant>,
}

impl QueueAlert {
    fn figure_level(&self, f: Figure) -> AlertLevel {
        self.figures.get(f.index()).copied().unwrap_or_default()
    }
}

/// The alert engine (see the module documentation).
#[derive(Debug)]
pub struct Alerts {
    config: AlertConfig,
    scope: Scope,
    queues: HashMap<Guid, QueueAlert>,
    paused: bool,
    /// Levels come from another's engine ([`Alerts::follow`]), not from [`Alerts::evaluate`].
    following: bool,
    out: VecDeque<AlertTransition>,
}

impl Alerts {
    /// An engine for the queues `scope` covers.
    pub fn new(config: AlertConfig, scope: Scope) -> Alerts {
        Alerts {
            config,
            scope,
            queues: HashMap::new(),
            paused: true,
            following: false,
            out: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// Takes in a model event (abandons are counted as the queue's figures report them; a
    /// queue that leaves clears its alerts).
    pub fn observe(&mut self, now: Instant, ev: &ModelEvent) {
        match ev {
            ModelEvent::QueueAdded { queue } | ModelEvent::QueueChanged { queue } => {
                let a = self.queues.entry(queue.guid.clone()).or_default();
                let count = queue.stats.abandoned;
                // A lower count is a new counting period: nothing was abandoned by it.
                let new = a
                    .abandoned_seen
                    .map_or(0, |seen| count.saturating_sub(seen));
                a.abandoned_seen = Some(count);
                for _ in 0..new.min(ABANDONS_KEPT as u32) {
                    if a.abandons.len() >= ABANDONS_KEPT {
                        a.abandons.pop_front();
                    }
                    a.abandons.push_back(now);
                }
            }
            ModelEvent::QueueRemoved {
                guid, extn, name, ..
            } => {
                if let Some(mut a) = self.queues.remove(guid) {
                    let (name, extn) = (name.clone(), extn.clone());
                    self.settle_all_ok(now, guid, &name, &extn, &mut a);
                }
            }
            _ => {}
        }
    }

    /// Judges every queue in scope at `now`; transitions go to [`Alerts::poll_transition`].
    pub fn evaluate(&mut self, now: Instant, tables: &Tables) {
        if self.following {
            return;
        }
        if !matches!(tables.connection(), ConnectionState::Connected { .. }) {
            if !self.paused {
                self.paused = true;
                // A dwell under way starts again once the data is live.
                for a in self.queues.values_mut() {
                    for c in a.conditions.iter_mut().flatten() {
                        c.flipping_since = None;
                    }
                }
            }
            return;
        }
        self.paused = false;
        for queue in tables.queues() {
            if !self.scope.covers_queue(queue) {
                continue;
            }
            let mut a = self.queues.remove(&queue.guid).unwrap_or_default();
            let horizon = now.checked_sub(ABANDONED_WINDOW);
            while a
                .abandons
                .front()
                .is_some_and(|t| horizon.is_some_and(|h| *t <= h))
            {
                a.abandons.pop_front();
            }
            if matches!(
                queue.service_mode(),
                ServiceMode::NightService | ServiceMode::OutOfService
            ) {
                self.settle_all_ok(now, &queue.guid, &queue.name, &queue.extn, &mut a);
            } else {
                let figures = QueueFigures::of(tables, queue, now, a.abandons.len() as u64);
                self.judge(now, queue, &figures, &mut a);
            }
            self.queues.insert(queue.guid.clone(), a);
        }
    }

    fn judge(&mut self, now: Instant, queue: &Queue, figures: &QueueFigures, a: &mut QueueAlert) {
        let thresholds = self.config.thresholds(queue);
        let before = a.level;
        let mut changed = Vec::new();
        for f in Figure::ALL {
            let value = figures.value(f, self.config.service_level_min_calls);
            let Some(conds) = a.conditions.get_mut(f.index()) else {
                continue;
            };
            for (cond, level) in conds.iter_mut().zip(AlertLevel::ALERTING) {
                let raw = match (value, thresholds.get(f, level)) {
                    (Some(v), Some(t)) => f.crosses(v, t),
                    _ => false,
                };
                cond.step(raw, now, self.config.dwell);
            }
            let level = match conds {
                [_, c] if c.on => AlertLevel::Critical,
                [w, _] if w.on => AlertLevel::Warn,
                _ => AlertLevel::Ok,
            };
            let from = a.figure_level(f);
            if level != from {
                if let Some(slot) = a.figures.get_mut(f.index()) {
                    *slot = level;
                }
                let threshold = thresholds.get(f, level.max(from));
                if let Some(r) = a.reported.get_mut(f.index()) {
                    *r = (value, threshold);
                }
                changed.push((f, value, from, level, threshold));
            }
        }
        a.level = a.figures.iter().copied().max().unwrap_or_default();
        if a.level > before {
            a.acknowledged = false;
        }
        let mut bell =
            self.config.bell && a.level == AlertLevel::Critical && before < AlertLevel::Critical;
        for (figure, value, from, to, threshold) in changed {
            let rings = bell && to == AlertLevel::Critical;
            bell &= !rings;
            self.out.push_back(AlertTransition {
                at: now,
                queue: queue.guid.clone(),
                name: queue.name.clone(),
                extn: queue.extn.clone(),
                figure,
                value,
                from,
                to,
                threshold,
                bell: rings,
            });
        }
    }

    /// Every figure of a queue back to ok at once (night service, out of service, gone).
    fn settle_all_ok(
        &mut self,
        now: Instant,
        guid: &Guid,
        name: &Text,
        extn: &Text,
        a: &mut QueueAlert,
    ) {
        for f in Figure::ALL {
            let from = a.figure_level(f);
            if from != AlertLevel::Ok {
                self.out.push_back(AlertTransition {
                    at: now,
                    queue: guid.clone(),
                    name: name.clone(),
                    extn: extn.clone(),
                    figure: f,
                    value: None,
                    from,
                    to: AlertLevel::Ok,
                    threshold: None,
                    bell: false,
                });
            }
        }
        a.conditions = Default::default();
        a.figures = Default::default();
        a.reported = Default::default();
        a.level = AlertLevel::Ok;
        a.acknowledged = false;
    }

    /// A queue as this engine judged it, for readers that follow it (with the trends the
    /// caller adds); `None` for a queue it does not judge.
    pub fn judged(&self, queue: &Guid) -> Option<JudgedQueue> {
        let a = self.queues.get(queue)?;
        let figures = Figure::ALL
            .iter()
            .map(|&f| {
                let (value, threshold) = a.reported.get(f.index()).copied().unwrap_or_default();
                JudgedFigure {
                    figure: f,
                    level: a.figure_level(f),
                    value,
                    threshold,
                }
            })
            .collect();
        Some(JudgedQueue {
            queue: queue.clone(),
            figures,
            abandoned_15m: a.abandons.len() as u64,
            minutes: Vec::new(),
            intervals: Vec::new(),
        })
    }

    /// From now on the levels are another engine's (a serving process's): [`Alerts::evaluate`]
    /// judges nothing, [`Alerts::follow`] and [`Alerts::follow_paused`] set them. The bell and
    /// the acknowledgement stay this reader's.
    pub fn set_following(&mut self) {
        self.following = true;
    }

    /// Whether the levels are another engine's.
    pub fn following(&self) -> bool {
        self.following
    }

    /// The judging side's pause.
    pub fn follow_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// A queue's figures as another engine judged them (`name` and `extn` for the lines):
    /// each level that differs from what this reader showed is a transition here, with the
    /// judging side's value and threshold; the bell rings by this reader's `[alerts] bell`.
    pub fn follow(&mut self, now: Instant, judged: &JudgedQueue, name: &Text, extn: &Text) {
        let mut a = self.queues.remove(&judged.queue).unwrap_or_default();
        let before = a.level;
        let mut changed = Vec::new();
        for j in &judged.figures {
            let i = j.figure.index();
            let from = a.figure_level(j.figure);
            if let (Some(slot), Some(r)) = (a.figures.get_mut(i), a.reported.get_mut(i)) {
                *slot = j.level;
                *r = (j.value, j.threshold);
            }
            if from != j.level {
                changed.push((*j, from));
            }
        }
        a.level = a.figures.iter().copied().max().unwrap_or_default();
        if a.level > before {
            a.acknowledged = false;
        }
        let mut bell =
            self.config.bell && a.level == AlertLevel::Critical && before < AlertLevel::Critical;
        for (j, from) in changed {
            let rings = bell && j.level == AlertLevel::Critical;
            bell &= !rings;
            self.out.push_back(AlertTransition {
                at: now,
                queue: judged.queue.clone(),
                name: name.clone(),
                extn: extn.clone(),
                figure: j.figure,
                value: j.value,
                from,
                to: j.level,
                threshold: j.threshold,
                bell: rings,
            });
        }
        self.queues.insert(judged.queue.clone(), a);
    }

    /// The judging side no longer reports a queue: its alerts clear.
    pub fn follow_gone(&mut self, now: Instant, queue: &Guid, name: &Text, extn: &Text) {
        if let Some(mut a) = self.queues.remove(queue) {
            self.settle_all_ok(now, queue, name, extn, &mut a);
        }
    }

    /// The next transition, oldest first.
    pub fn poll_transition(&mut self) -> Option<AlertTransition> {
        self.out.pop_front()
    }

    /// Whether nothing is raised or cleared now (the data is not live).
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// A queue's level.
    pub fn level(&self, queue: &Guid) -> AlertLevel {
        self.queues.get(queue).map_or(AlertLevel::Ok, |a| a.level)
    }

    /// A queue's level for one figure.
    pub fn figure_level(&self, queue: &Guid, figure: Figure) -> AlertLevel {
        self.queues
            .get(queue)
            .map_or(AlertLevel::Ok, |a| a.figure_level(figure))
    }

    /// Whether a queue's current alert has been acknowledged.
    pub fn acknowledged(&self, queue: &Guid) -> bool {
        self.queues.get(queue).is_some_and(|a| a.acknowledged)
    }

    /// The queues not at ok, worst first (then unacknowledged first).
    pub fn active(&self) -> Vec<(Guid, AlertLevel, bool)> {
        let mut v: Vec<_> = self
            .queues
            .iter()
            .filter(|(_, a)| a.level > AlertLevel::Ok)
            .map(|(g, a)| (g.clone(), a.level, a.acknowledged))
            .collect();
        v.sort_by(|x, y| y.1.cmp(&x.1).then(x.2.cmp(&y.2)).then(x.0.cmp(&y.0)));
        v
    }

    /// Acknowledges every current alert (they stay shown); returns how many queues.
    pub fn acknowledge(&mut self) -> usize {
        let mut n = 0;
        for a in self.queues.values_mut() {
            if a.level > AlertLevel::Ok && !a.acknowledged {
                a.acknowledged = true;
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    //! The alert state machine on virtual time: `now` moves by hand, the figures are set on
    //! the queues as the model would report them.

    use std::sync::Arc;

    use super::*;
    use crate::model::{
        AgentState, AgentStats, AgentStatus, QueueMember, QueueStats, QueueStatus, User,
    };

    /// One queue, "Sales" 7303, on a floor whose time moves by hand.
    struct Floor {
        tables: Tables,
        alerts: Alerts,
        t0: Instant,
        now: Instant,
        queue: Queue,
    }

    fn connected() -> ModelEvent {
        ModelEvent::Connection {
            state: ConnectionState::Connected {
                round_trip_ms: None,
            },
        }
    }

    impl Floor {
        fn new(config: AlertConfig) -> Floor {
            let t0 = Instant::now();
            let queue = Queue {
                guid: Guid::from_bytes(b"sales"),
                extn: Text::from("7303"),
                name: Text::from("Sales"),
                status: Some(QueueStatus {
                    service_mode: ServiceMode::Active,
                    ..QueueStatus::default()
                }),
                stats: QueueStats::default(),
            };
            let mut f = Floor {
                tables: Tables::new(),
                alerts: Alerts::new(config, Scope::default()),
                t0,
                now: t0,
                queue: queue.clone(),
            };
            f.feed(connected());
            f.feed(ModelEvent::QueueAdded {
                queue: Arc::new(queue),
            });
            f
        }

        fn feed(&mut self, ev: ModelEvent) {
            self.tables.apply(&ev);
            self.alerts.observe(self.now, &ev);
        }

        /// Changes the queue as a Notify would.
        fn queue(&mut self, change: impl FnOnce(&mut Queue)) {
            change(&mut self.queue);
            let queue = Arc::new(self.queue.clone());
            self.feed(ModelEvent::QueueChanged { queue });
        }

        fn waiting(&mut self, n: u32) {
            self.queue(|q| q.stats.waiting = n);
        }

        /// Moves to `secs` after the start and judges; the transitions as words.
        fn at(&mut self, secs: u64) -> Vec<String> {
            self.now = self.t0 + Duration::from_secs(secs);
            self.alerts.evaluate(self.now, &self.tables);
            std::iter::from_fn(|| self.alerts.poll_transition())
                .map(|t| format!("{}{}", t.words(), if t.bell { " [bell]" } else { "" }))
                .collect()
        }

        fn level(&self) -> AlertLevel {
            self.alerts.level(&self.queue.guid)
        }
    }

    fn config(set: &[(Figure, AlertLevel, u64)]) -> AlertConfig {
        let mut c = AlertConfig {
            defaults: Thresholds::default(),
            ..AlertConfig::default()
        };
        for (f, l, v) in set {
            c.defaults.set(*f, *l, Some(*v));
        }
        c
    }

    fn waiting_3_6() -> AlertConfig {
        config(&[
            (Figure::Waiting, AlertLevel::Warn, 3),
            (Figure::Waiting, AlertLevel::Critical, 6),
        ])
    }

    #[test]
    fn a_level_is_entered_after_the_dwell_at_or_above_and_left_after_the_dwell_below() {
        let mut f = Floor::new(waiting_3_6());
        f.waiting(2);
        assert!(f.at(0).is_empty());
        // At the threshold: entered once it has held for 5 s without a break.
        f.waiting(3);
        assert!(f.at(1).is_empty());
        assert!(f.at(5).is_empty());
        assert_eq!(f.level(), AlertLevel::Ok);
        assert_eq!(f.at(6), ["Sales 7303 warn: calls waiting 3 (≥ 3)"]);
        assert_eq!(f.level(), AlertLevel::Warn);
        // Straight on to critical, after its own dwell.
        f.waiting(7);
        assert!(f.at(7).is_empty());
        assert_eq!(f.at(12), ["Sales 7303 critical: calls waiting 7 (≥ 6)"]);
        assert_eq!(f.level(), AlertLevel::Critical);
        // Back below both: left after the dwell, straight to ok.
        f.waiting(1);
        assert!(f.at(13).is_empty());
        assert_eq!(f.level(), AlertLevel::Critical);
        assert_eq!(
            f.at(18),
            ["Sales 7303 critical cleared (ok now): calls waiting 1"]
        );
        assert_eq!(f.level(), AlertLevel::Ok);
    }

    #[test]
    fn a_figure_hovering_at_the_threshold_does_not_flap() {
        let mut f = Floor::new(waiting_3_6());
        for s in 0..30 {
            f.waiting(if s % 4 < 2 { 3 } else { 2 });
            assert!(f.at(s).is_empty(), "at {s} s");
        }
        assert_eq!(f.level(), AlertLevel::Ok);
        // Dwell 0: every crossing counts at once.
        let mut c = waiting_3_6();
        c.dwell = Duration::ZERO;
        let mut f = Floor::new(c);
        f.waiting(3);
        assert_eq!(f.at(0).len(), 1);
    }

    #[test]
    fn the_longest_wait_crosses_as_time_passes_without_any_event() {
        let mut f = Floor::new(config(&[
            (Figure::Longest, AlertLevel::Warn, 60),
            (Figure::Longest, AlertLevel::Critical, 120),
        ]));
        let t0 = f.t0;
        f.queue(|q| {
            q.stats.waiting = 1;
            q.stats.oldest_waiting = Some(t0);
        });
        assert!(f.at(59).is_empty());
        assert!(f.at(60).is_empty());
        assert_eq!(f.at(65), ["Sales 7303 warn: longest wait 01:05 (≥ 01:00)"]);
        assert!(f.at(120).is_empty());
        assert_eq!(
            f.at(125),
            ["Sales 7303 critical: longest wait 02:05 (≥ 02:00)"]
        );
    }

    #[test]
    fn the_service_level_alerts_below_its_threshold_once_enough_calls_are_counted() {
        let mut f = Floor::new(config(&[
            (Figure::ServiceLevel, AlertLevel::Warn, 80),
            (Figure::ServiceLevel, AlertLevel::Critical, 50),
        ]));
        // 7 of 9 in time (77 %): below 80 %, but fewer than 10 calls counted.
        f.queue(|q| {
            q.stats.timed_answered = 9;
            q.stats.answered_in_sl = 7;
        });
        assert!(f.at(0).is_empty());
        assert!(f.at(10).is_empty());
        // The 10th call, in time: 8 of 10 is 80 %, not below.
        f.queue(|q| {
            q.stats.timed_answered = 10;
            q.stats.answered_in_sl = 8;
        });
        assert!(f.at(20).is_empty());
        assert!(f.at(30).is_empty());
        // An abandon: 8 of 11 (72 %).
        f.queue(|q| q.stats.timed_abandoned = 1);
        assert!(f.at(31).is_empty());
        assert_eq!(f.at(36), ["Sales 7303 warn: service level 72 % (< 80 %)"]);
    }

    #[test]
    fn available_agents_alert_at_or_below_their_threshold() {
        let mut f = Floor::new(config(&[
            (Figure::Available, AlertLevel::Warn, 1),
            (Figure::Available, AlertLevel::Critical, 0),
        ]));
        let now = f.now;
        for (i, state) in [AgentState::Available, AgentState::Available]
            .into_iter()
            .enumerate()
        {
            let extn = format!("410{i}");
            f.feed(ModelEvent::UserAdded {
                user: Arc::new(User {
                    guid: Guid::from_bytes(extn.as_bytes()),
                    extn: Text::from(extn.as_str()),
                    name: Text::from("Agent"),
                    status: None,
                    phone: None,
                    agent: AgentStatus {
                        state,
                        since: now,
                        observed: true,
                    },
                    stats: AgentStats::new(now),
                }),
            });
        }
        f.queue(|q| {
            if let Some(s) = q.status.as_mut() {
                s.members = Some(
                    ["4100", "4101"]
                        .map(|e| QueueMember {
                            extn: Text::from(e),
                            enabled: true,
                        })
                        .to_vec(),
                );
            }
        });
        assert!(f.at(0).is_empty());
        assert!(f.at(10).is_empty());
        // One member disabled: one available, at the warn threshold.
        f.queue(|q| {
            if let Some(m) = q
                .status
                .as_mut()
                .and_then(|s| s.members.as_mut())
                .and_then(|m| m.first_mut())
            {
                m.enabled = false;
            }
        });
        assert!(f.at(11).is_empty());
        assert_eq!(f.at(16), ["Sales 7303 warn: agents available 1 (≤ 1)"]);
    }

    #[test]
    fn abandons_count_for_15_minutes_from_when_they_were_reported() {
        let mut f = Floor::new(config(&[(Figure::Abandoned15m, AlertLevel::Warn, 2)]));
        assert!(f.at(0).is_empty());
        f.now = f.t0 + Duration::from_secs(60);
        f.queue(|q| q.stats.abandoned = 1);
        f.now = f.t0 + Duration::from_secs(120);
        f.queue(|q| q.stats.abandoned = 2);
        assert!(f.at(120).is_empty());
        assert_eq!(f.at(125), ["Sales 7303 warn: abandoned in 15 min 2 (≥ 2)"]);
        // 15 minutes after the first: one left in the window.
        assert!(f.at(60 + 900).is_empty());
        assert_eq!(
            f.at(60 + 905),
            ["Sales 7303 warn cleared (ok now): abandoned in 15 min 1"]
        );
        // A new counting period (midnight) starts again at 0: no abandon in that, and the
        // next one counts from there.
        f.queue(|q| q.stats.abandoned = 0);
        assert!(f.at(1000).is_empty());
        f.queue(|q| q.stats.abandoned = 2);
        f.at(1001);
        assert_eq!(f.at(1006).len(), 1);
    }

    #[test]
    fn night_service_and_out_of_service_never_alert_and_clear_at_once() {
        let mut f = Floor::new(waiting_3_6());
        f.waiting(8);
        f.at(0);
        // Both thresholds crossed at once: one transition, straight to critical.
        assert_eq!(f.at(5).len(), 1);
        assert_eq!(f.level(), AlertLevel::Critical);
        f.queue(|q| {
            if let Some(s) = q.status.as_mut() {
                s.service_mode = ServiceMode::NightService;
            }
        });
        assert_eq!(
            f.at(6),
            ["Sales 7303 critical cleared (ok now): calls waiting -"]
        );
        for s in 7..60 {
            assert!(f.at(s).is_empty());
        }
        f.queue(|q| {
            if let Some(s) = q.status.as_mut() {
                s.service_mode = ServiceMode::OutOfService;
            }
        });
        assert!(f.at(70).is_empty() && f.at(80).is_empty());
        assert_eq!(f.level(), AlertLevel::Ok);
    }

    #[test]
    fn while_the_data_is_stale_nothing_is_raised_or_cleared() {
        let mut f = Floor::new(waiting_3_6());
        f.waiting(4);
        f.at(0);
        assert_eq!(f.at(5).len(), 1);
        assert!(!f.alerts.paused());
        f.feed(ModelEvent::Connection {
            state: ConnectionState::Reconnecting {
                at: f.now,
                retry_in_ms: 1000,
                reason: Text::from("closed"),
            },
        });
        // The figures change while the link is down: nothing moves.
        f.waiting(0);
        assert!(f.at(6).is_empty() && f.at(30).is_empty());
        assert!(f.alerts.paused());
        assert_eq!(f.level(), AlertLevel::Warn);
        // Syncing again is not live yet either.
        f.feed(ModelEvent::Connection {
            state: ConnectionState::Syncing {
                confirmed: 0,
                wanted: 3,
            },
        });
        assert!(f.at(31).is_empty());
        // Live: the dwell starts from here, not from when the figure changed.
        f.feed(connected());
        assert!(f.at(40).is_empty());
        assert!(!f.alerts.paused());
        assert!(f.at(44).is_empty());
        assert_eq!(f.at(45).len(), 1);
        assert_eq!(f.level(), AlertLevel::Ok);
    }

    #[test]
    fn acknowledged_alerts_stay_shown_until_a_queue_gets_worse() {
        let mut f = Floor::new(waiting_3_6());
        f.waiting(4);
        f.at(0);
        f.at(5);
        assert_eq!(
            f.alerts.active(),
            [(f.queue.guid.clone(), AlertLevel::Warn, false)]
        );
        assert_eq!(f.alerts.acknowledge(), 1);
        assert_eq!(f.alerts.acknowledge(), 0);
        assert_eq!(
            f.alerts.active(),
            [(f.queue.guid.clone(), AlertLevel::Warn, true)]
        );
        assert!(f.alerts.acknowledged(&f.queue.guid));
        // Worse: a new alert, not acknowledged.
        f.waiting(6);
        f.at(6);
        f.at(11);
        assert_eq!(
            f.alerts.active(),
            [(f.queue.guid.clone(), AlertLevel::Critical, false)]
        );
    }

    #[test]
    fn the_bell_rings_once_on_entering_critical_and_only_when_asked_for() {
        let mut c = config(&[
            (Figure::Waiting, AlertLevel::Critical, 6),
            (Figure::Longest, AlertLevel::Critical, 60),
        ]);
        c.bell = true;
        let mut f = Floor::new(c.clone());
        f.waiting(6);
        f.at(0);
        assert_eq!(
            f.at(5),
            ["Sales 7303 critical: calls waiting 6 (≥ 6) [bell]"]
        );
        // A second figure going critical while the queue is critical: no second bell.
        let t0 = f.t0;
        f.queue(|q| q.stats.oldest_waiting = Some(t0));
        f.at(60);
        let later = f.at(65);
        assert_eq!(later, ["Sales 7303 critical: longest wait 01:05 (≥ 01:00)"]);
        for s in 66..100 {
            assert!(f.at(s).is_empty());
        }
        // Out of critical and back in: it rings again.
        f.queue(|q| {
            q.stats.waiting = 0;
            q.stats.oldest_waiting = None;
        });
        f.at(100);
        assert_eq!(f.at(105).len(), 2);
        f.waiting(9);
        f.at(110);
        assert_eq!(
            f.at(115),
            ["Sales 7303 critical: calls waiting 9 (≥ 6) [bell]"]
        );
        // Without bell = true: never.
        c.bell = false;
        let mut f = Floor::new(c);
        f.waiting(9);
        f.at(0);
        assert_eq!(f.at(5), ["Sales 7303 critical: calls waiting 9 (≥ 6)"]);
    }

    #[test]
    fn a_queue_override_replaces_the_defaults_for_that_queue_only() {
        let mut c = waiting_3_6();
        let mut sales = c.defaults;
        sales.set(Figure::Waiting, AlertLevel::Warn, Some(5));
        c.queues.push((Text::from("SALES"), sales));
        let mut f = Floor::new(c.clone());
        f.waiting(4);
        f.at(0);
        assert!(f.at(10).is_empty());
        f.waiting(5);
        f.at(11);
        assert_eq!(f.at(16), ["Sales 7303 warn: calls waiting 5 (≥ 5)"]);
        // Another queue keeps the defaults.
        let other = Queue {
            name: Text::from("Claims"),
            extn: Text::from("7301"),
            ..f.queue.clone()
        };
        assert_eq!(
            c.thresholds(&other).get(Figure::Waiting, AlertLevel::Warn),
            Some(3)
        );
    }

    #[test]
    fn a_queue_that_leaves_clears_its_alerts() {
        let mut f = Floor::new(waiting_3_6());
        f.waiting(4);
        f.at(0);
        f.at(5);
        let q = f.queue.clone();
        f.feed(ModelEvent::QueueRemoved {
            guid: q.guid.clone(),
            extn: q.extn.clone(),
            name: q.name.clone(),
            reason: crate::model::RemoveReason::Deleted,
        });
        assert_eq!(
            f.at(6),
            ["Sales 7303 warn cleared (ok now): calls waiting -"]
        );
        assert!(f.alerts.active().is_empty());
    }
}
