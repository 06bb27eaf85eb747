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

use serde::Serialize;

use super::event::{ConnectionState, ModelEvent};
use super::ids::{Guid, Text};
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
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
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
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default, Serialize)]
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
            AlertLevel::Warn => "▲",
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
        a.level = AlertLevel::Ok;
        a.acknowledged = false;
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
