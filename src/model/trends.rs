//! Queue trends: calls waiting and the longest wait sampled each minute for the last hour,
//! and the service level per 15-minute interval today. Kept in memory.
//!
//! Like the alerts (`alerts.rs`), this is a sans-IO engine in the model on purpose: it takes
//! the model's events and [`Tables`] with a `now`, and an anchor instant that the caller knows
//! to fall on a quarter hour of the wall clock; it reads no clock and writes nothing. So the
//! screen runs it today, and a process serving several viewers can run the same engine and
//! publish its samples, for every viewer to draw the same lines.
//!
//! A minute is sampled at its first `tick` at which the data is live (the figures as they
//! are then). A minute without such a tick (the link down or a sync under way all through
//! it) has no sample: a gap, not a zero. A queue first seen midway has no samples before it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::event::{ConnectionState, ModelEvent};
use super::ids::Guid;
use super::queue::Queue;
use super::scope::Scope;
use super::tables::Tables;

/// How many minutes the waiting and longest-wait trends hold.
pub const TREND_MINUTES: usize = 60;
/// The service level's interval.
pub const SL_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Intervals in a day (the most kept).
const INTERVALS_KEPT: usize = 96;
const MINUTE: Duration = Duration::from_secs(60);

/// One queue's figures at the start of a minute.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Sample {
    /// Calls waiting.
    pub waiting: u32,
    /// The longest wait, in whole seconds (0 when nobody waits).
    pub longest_secs: u64,
}

/// The service level over one 15-minute interval: the calls it counted then (answered or
/// abandoned, short abandons and untimed calls left out, as the day's figure counts them).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SlInterval {
    /// When the interval began.
    pub start: Instant,
    /// Calls counted.
    pub counted: u32,
    /// Of those, answered within the service-level threshold.
    pub in_time: u32,
}

impl SlInterval {
    /// The service level in whole percent (rounded down); none without a counted call.
    pub fn percent(&self) -> Option<u64> {
        (self.counted > 0).then(|| u64::from(self.in_time) * 100 / u64::from(self.counted))
    }
}

/// The counters the intervals are differences of.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Counts {
    counted: u32,
    in_time: u32,
}

impl Counts {
    fn of(q: &Queue) -> Counts {
        Counts {
            counted: q.stats.timed_answered + q.stats.timed_abandoned,
            in_time: q.stats.answered_in_sl,
        }
    }
}

#[derive(Debug, Default)]
struct QueueTrend {
    /// (minute number, sample), oldest first; only the last hour.
    minutes: VecDeque<(u64, Sample)>,
    /// Today's intervals, the last one open.
    intervals: VecDeque<SlInterval>,
    /// The counters when the open interval began.
    base: Option<Counts>,
}

impl QueueTrend {
    /// A new counting period: its figures start from 0.
    fn new_day(&mut self) {
        self.intervals.clear();
        self.base = Some(Counts::default());
    }

    fn open(&mut self, start: Instant) {
        self.intervals.push_back(SlInterval {
            start,
            counted: 0,
            in_time: 0,
        });
        if self.intervals.len() > INTERVALS_KEPT {
            self.intervals.pop_front();
        }
    }

    /// The open interval counts what was counted since `base`.
    fn count(&mut self, base: Counts, now: Counts) {
        if let Some(open) = self.intervals.back_mut() {
            open.counted = now.counted.saturating_sub(base.counted);
            open.in_time = now.in_time.saturating_sub(base.in_time);
        }
    }
}

/// A queue's last hour of samples and today's intervals, as [`Trends::minutes`] and
/// [`Trends::intervals`] give them.
pub type QueueTrendSeen = (Vec<Option<Sample>>, Vec<SlInterval>);

/// The trend engine (see the module documentation).
#[derive(Debug)]
pub struct Trends {
    anchor: Instant,
    scope: Scope,
    /// The last minute and quarter ticked.
    minute: Option<u64>,
    quarter: Option<u64>,
    queues: HashMap<Guid, QueueTrend>,
    /// Each queue's trends as another engine (a serving process) sampled them; while any are
    /// followed, [`Trends::tick`] samples nothing.
    followed: Option<HashMap<Guid, QueueTrendSeen>>,
}

impl Trends {
    /// Trends for the queues `scope` covers; `anchor` falls on a quarter hour of the wall
    /// clock (minutes and intervals are counted from it).
    pub fn new(anchor: Instant, scope: Scope) -> Trends {
        Trends {
            anchor,
            scope,
            minute: None,
            quarter: None,
            queues: HashMap::new(),
            followed: None,
        }
    }

    /// Trends that follow another engine's ([`Trends::follow`]) instead of sampling.
    pub fn following(scope: Scope) -> Trends {
        Trends {
            followed: Some(HashMap::new()),
            ..Trends::new(Instant::now(), scope)
        }
    }

    /// A queue's samples and intervals as another engine has them now (`None`: it has none).
    pub fn follow(&mut self, queue: &Guid, trend: Option<QueueTrendSeen>) {
        let followed = self.followed.get_or_insert_with(HashMap::new);
        match trend {
            Some(t) => {
                followed.insert(queue.clone(), t);
            }
            None => {
                followed.remove(queue);
            }
        }
    }

    /// Each queue's samples and intervals, as [`Trends::follow`] takes them back.
    pub fn judged(&self, queue: &Guid) -> QueueTrendSeen {
        (self.minutes(queue), self.intervals(queue))
    }

    fn minute_of(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.anchor).as_secs() / MINUTE.as_secs()
    }

    /// Takes in a model event: a queue that leaves is forgotten, and a new counting period
    /// (midnight) starts a new day of intervals.
    pub fn observe(&mut self, ev: &ModelEvent) {
        match ev {
            ModelEvent::QueueRemoved { guid, .. } => {
                self.queues.remove(guid);
            }
            ModelEvent::StatsPeriod { .. } => {
                for t in self.queues.values_mut() {
                    t.new_day();
                }
            }
            _ => {}
        }
    }

    /// Samples every queue in scope at the first tick of each minute, and keeps the service
    /// level's intervals.
    pub fn tick(&mut self, now: Instant, tables: &Tables) {
        if self.followed.is_some() {
            return;
        }
        let minute = self.minute_of(now);
        let quarter = minute / (SL_INTERVAL.as_secs() / MINUTE.as_secs());
        let live = matches!(tables.connection(), ConnectionState::Connected { .. });
        let new_quarter = self.quarter.is_none_or(|q| quarter > q);
        let quarter_start = self.anchor + SL_INTERVAL * u32::try_from(quarter).unwrap_or(0);
        for q in tables.queues() {
            if !self.scope.covers_queue(q) {
                continue;
            }
            let t = self.queues.entry(q.guid.clone()).or_default();
            if live && t.minutes.back().is_none_or(|(m, _)| *m < minute) {
                t.minutes.push_back((
                    minute,
                    Sample {
                        waiting: q.stats.waiting,
                        longest_secs: q.stats.longest_wait(now).map_or(0, |d| d.as_secs()),
                    },
                ));
            }
            while t
                .minutes
                .front()
                .is_some_and(|(m, _)| m + TREND_MINUTES as u64 <= minute)
            {
                t.minutes.pop_front();
            }
            let counts = Counts::of(q);
            // Lower counters than the base: a new counting period, a new day of intervals.
            if t.base
                .is_some_and(|b| b.counted > counts.counted || b.in_time > counts.in_time)
            {
                t.new_day();
            }
            // A queue first seen now counts from now.
            let base = *t.base.get_or_insert(counts);
            if t.intervals.is_empty() {
                t.open(quarter_start);
                t.count(base, counts);
            } else if new_quarter {
                // The open interval closes with what was counted up to this tick.
                t.count(base, counts);
                t.base = Some(counts);
                t.open(quarter_start);
            } else {
                t.count(base, counts);
            }
        }
        self.minute = Some(self.minute.map_or(minute, |m| m.max(minute)));
        self.quarter = Some(self.quarter.map_or(quarter, |q| q.max(quarter)));
    }

    /// The last hour of a queue's samples, one slot per minute, oldest first, ending with
    /// the current minute; `None` where there is no sample.
    pub fn minutes(&self, queue: &Guid) -> Vec<Option<Sample>> {
        if let Some(f) = &self.followed {
            let sent = f.get(queue).map(|(m, _)| m.as_slice()).unwrap_or_default();
            // Always the hour's slots ending now, whatever the other side sent.
            let last = sent
                .get(sent.len().saturating_sub(TREND_MINUTES)..)
                .unwrap_or_default();
            let mut out = vec![None; TREND_MINUTES - last.len()];
            out.extend_from_slice(last);
            return out;
        }
        let mut out = vec![None; TREND_MINUTES];
        let (Some(now), Some(t)) = (self.minute, self.queues.get(queue)) else {
            return out;
        };
        for (m, s) in &t.minutes {
            // How many minutes ago, counted back from the last slot.
            let slot = now
                .checked_sub(*m)
                .and_then(|ago| usize::try_from(ago).ok())
                .and_then(|ago| (TREND_MINUTES - 1).checked_sub(ago))
                .and_then(|i| out.get_mut(i));
            if let Some(slot) = slot {
                *slot = Some(*s);
            }
        }
        out
    }

    /// A queue's service level per 15-minute interval today, oldest first; the last one is
    /// the interval under way.
    pub fn intervals(&self, queue: &Guid) -> Vec<SlInterval> {
        if let Some(f) = &self.followed {
            return f.get(queue).map(|(_, i)| i.clone()).unwrap_or_default();
        }
        self.queues
            .get(queue)
            .map(|t| t.intervals.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    //! Trends on virtual time: `now` moves by hand, the queues change as Notifies would
    //! change them.

    use std::sync::Arc;

    use super::*;
    use crate::model::{QueueStats, RemoveReason, Text};

    struct Floor {
        tables: Tables,
        trends: Trends,
        t0: Instant,
    }

    fn queue(n: u8, name: &str, stats: QueueStats) -> Arc<Queue> {
        Arc::new(Queue {
            guid: Guid::from_bytes(&[n]),
            extn: Text::from(format!("730{n}")),
            name: Text::from(name),
            status: None,
            stats,
        })
    }

    fn live() -> ModelEvent {
        ModelEvent::Connection {
            state: ConnectionState::Connected {
                round_trip_ms: None,
            },
        }
    }

    impl Floor {
        fn new() -> Floor {
            let t0 = Instant::now();
            let mut f = Floor {
                tables: Tables::new(),
                trends: Trends::new(t0, Scope::default()),
                t0,
            };
            f.feed(live());
            f
        }

        fn feed(&mut self, ev: ModelEvent) {
            self.tables.apply(&ev);
            self.trends.observe(&ev);
        }

        fn set(&mut self, n: u8, stats: QueueStats) {
            self.feed(ModelEvent::QueueChanged {
                queue: queue(n, "Q", stats),
            });
        }

        fn tick(&mut self, secs: u64) {
            self.trends
                .tick(self.t0 + Duration::from_secs(secs), &self.tables);
        }

        /// The waiting figures of the last `n` minutes (`-` for a gap).
        fn waiting(&self, q: u8, n: usize) -> String {
            let all = self.trends.minutes(&Guid::from_bytes(&[q]));
            all[all.len() - n..]
                .iter()
                .map(|s| s.map_or_else(|| "-".to_owned(), |s| s.waiting.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    fn waiting(n: u32) -> QueueStats {
        QueueStats {
            waiting: n,
            ..QueueStats::default()
        }
    }

    #[test]
    fn each_minute_is_sampled_at_its_first_tick_and_the_hour_slides() {
        let mut f = Floor::new();
        f.feed(ModelEvent::QueueAdded {
            queue: queue(1, "Sales", waiting(2)),
        });
        f.tick(0);
        // Changes within the minute are not sampled again; the next minute's first tick is.
        f.set(1, waiting(5));
        f.tick(30);
        f.tick(59);
        assert_eq!(f.waiting(1, 2), "- 2");
        f.tick(60);
        f.set(1, waiting(7));
        f.tick(61);
        assert_eq!(f.waiting(1, 3), "- 2 5");
        // The longest wait is read at the sample's moment.
        let t0 = f.t0;
        f.set(
            1,
            QueueStats {
                waiting: 1,
                oldest_waiting: Some(t0 + Duration::from_secs(100)),
                ..QueueStats::default()
            },
        );
        f.tick(125);
        let last = f.trends.minutes(&Guid::from_bytes(&[1]));
        assert_eq!(
            last.last().copied().flatten(),
            Some(Sample {
                waiting: 1,
                longest_secs: 25
            })
        );
        // A minute without a tick is a gap; after an hour the first samples are gone.
        f.tick(5 * 60);
        assert_eq!(f.waiting(1, 6), "2 5 1 - - 1");
        // Minute 60: minute 0 has left the hour (1, 2, 5 and 60 are in it).
        f.tick(60 * 60);
        assert_eq!(
            f.waiting(1, TREND_MINUTES)
                .split(' ')
                .filter(|s| *s != "-")
                .count(),
            4
        );
        assert!(f.waiting(1, TREND_MINUTES).starts_with("5 "));
        f.tick(61 * 60);
        assert!(f.waiting(1, TREND_MINUTES).starts_with("1 "));
    }

    #[test]
    fn a_queue_added_midway_has_no_samples_before_it() {
        let mut f = Floor::new();
        f.feed(ModelEvent::QueueAdded {
            queue: queue(1, "Sales", waiting(1)),
        });
        for m in 0..10 {
            f.tick(m * 60);
        }
        f.feed(ModelEvent::QueueAdded {
            queue: queue(2, "Claims", waiting(4)),
        });
        f.tick(10 * 60);
        f.tick(11 * 60);
        assert_eq!(f.waiting(1, 12), "1 1 1 1 1 1 1 1 1 1 1 1");
        assert_eq!(f.waiting(2, 12), "- - - - - - - - - - 4 4");
        // A queue that leaves is forgotten.
        f.feed(ModelEvent::QueueRemoved {
            guid: Guid::from_bytes(&[2]),
            extn: Text::from("7302"),
            name: Text::from("Claims"),
            reason: RemoveReason::Deleted,
        });
        f.tick(12 * 60);
        assert_eq!(f.waiting(2, 3), "- - -");
    }

    #[test]
    fn minutes_while_the_link_is_down_are_gaps_and_the_counts_carry_on_after_it() {
        let mut f = Floor::new();
        f.feed(ModelEvent::QueueAdded {
            queue: queue(1, "Sales", waiting(3)),
        });
        f.tick(0);
        f.tick(60);
        f.feed(ModelEvent::Connection {
            state: ConnectionState::Reconnecting {
                at: f.t0,
                retry_in_ms: 1000,
                reason: Text::from("closed"),
            },
        });
        f.tick(120);
        f.tick(180);
        f.feed(ModelEvent::Connection {
            state: ConnectionState::Syncing {
                confirmed: 0,
                wanted: 1,
            },
        });
        f.tick(240);
        f.feed(live());
        f.set(1, waiting(6));
        f.tick(250);
        f.tick(300);
        // The minute whose first tick was still syncing is sampled once the data is live.
        assert_eq!(f.waiting(1, 6), "3 3 - - 6 6");
    }

    fn sl(counted: u32, in_time: u32) -> QueueStats {
        QueueStats {
            timed_answered: counted,
            answered_in_sl: in_time,
            ..QueueStats::default()
        }
    }

    fn percents(f: &Floor) -> Vec<(u64, Option<u64>, u32)> {
        f.trends
            .intervals(&Guid::from_bytes(&[1]))
            .iter()
            .map(|i| {
                (
                    i.start.duration_since(f.t0).as_secs() / 60,
                    i.percent(),
                    i.counted,
                )
            })
            .collect()
    }

    #[test]
    fn the_service_level_is_kept_per_quarter_hour_and_starts_again_with_the_day() {
        let mut f = Floor::new();
        f.feed(ModelEvent::QueueAdded {
            queue: queue(1, "Sales", sl(0, 0)),
        });
        f.tick(0);
        f.set(1, sl(4, 3));
        f.tick(14 * 60 + 59);
        assert_eq!(percents(&f), [(0, Some(75), 4)]);
        // Counted between the last tick and the boundary: the closing interval's.
        f.set(1, sl(5, 4));
        f.tick(15 * 60);
        assert_eq!(percents(&f), [(0, Some(80), 5), (15, None, 0)]);
        f.set(1, sl(7, 4));
        f.tick(20 * 60);
        // A quarter without a tick: the next tick opens the interval it falls in.
        f.tick(50 * 60);
        assert_eq!(
            percents(&f),
            [(0, Some(80), 5), (15, Some(0), 2), (45, None, 0)]
        );
        // Midnight: a new counting period, the figures start again from 0.
        f.set(1, sl(1, 1));
        f.tick(51 * 60);
        assert_eq!(percents(&f), [(45, Some(100), 1)]);
    }
}
