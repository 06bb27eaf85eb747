//! The serving side's judgement of each queue in the model bucket: the alert levels (with the
//! value and threshold of the transition that set each), the abandons in the last 15 minutes,
//! the last hour's samples and today's service-level intervals (`alerts.queue.<HEX>`), and
//! whether its alerts are paused (`alerts.paused`). Schema-1 JSON like every other value;
//! interval starts as Unix milliseconds.

use serde::{Deserialize, Serialize};

use super::value::{ValueError, decode, encode};
use crate::model::{
    AlertLevel, Figure, Guid, JudgedFigure, JudgedQueue, Sample, SlInterval, WallClock,
};

#[derive(Serialize, Deserialize)]
struct FigureValue {
    figure: Figure,
    level: AlertLevel,
    value: Option<u64>,
    threshold: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct SampleValue {
    waiting: u32,
    longest_secs: u64,
}

#[derive(Serialize, Deserialize)]
struct IntervalValue {
    start_ms: i64,
    counted: u32,
    in_time: u32,
}

#[derive(Serialize, Deserialize)]
struct JudgedValue {
    queue: Guid,
    /// The queue's worst level, for other tools (a viewer takes the figures').
    level: AlertLevel,
    figures: Vec<FigureValue>,
    abandoned_15m: u64,
    /// One per minute, oldest first, ending with the current minute; null: no sample.
    minutes: Vec<Option<SampleValue>>,
    sl_intervals: Vec<IntervalValue>,
}

#[derive(Serialize, Deserialize)]
struct PausedValue {
    paused: bool,
}

/// A queue's judgement as the bucket holds it.
pub fn judged_to_json(j: &JudgedQueue, clock: &WallClock) -> Vec<u8> {
    encode(&JudgedValue {
        queue: j.queue.clone(),
        level: j.figures.iter().map(|f| f.level).max().unwrap_or_default(),
        figures: j
            .figures
            .iter()
            .map(|f| FigureValue {
                figure: f.figure,
                level: f.level,
                value: f.value,
                threshold: f.threshold,
            })
            .collect(),
        abandoned_15m: j.abandoned_15m,
        minutes: j
            .minutes
            .iter()
            .map(|m| {
                m.map(|s| SampleValue {
                    waiting: s.waiting,
                    longest_secs: s.longest_secs,
                })
            })
            .collect(),
        sl_intervals: j
            .intervals
            .iter()
            .map(|i| IntervalValue {
                start_ms: clock.unix_ms_at(i.start),
                counted: i.counted,
                in_time: i.in_time,
            })
            .collect(),
    })
}

/// A queue's judgement from the bucket.
pub fn judged_from_json(bytes: &[u8], clock: &WallClock) -> Result<JudgedQueue, ValueError> {
    let v: JudgedValue = decode(bytes)?;
    Ok(JudgedQueue {
        queue: v.queue,
        figures: v
            .figures
            .into_iter()
            .map(|f| JudgedFigure {
                figure: f.figure,
                level: f.level,
                value: f.value,
                threshold: f.threshold,
            })
            .collect(),
        abandoned_15m: v.abandoned_15m,
        minutes: v
            .minutes
            .into_iter()
            .map(|m| {
                m.map(|s| Sample {
                    waiting: s.waiting,
                    longest_secs: s.longest_secs,
                })
            })
            .collect(),
        intervals: v
            .sl_intervals
            .into_iter()
            .map(|i| SlInterval {
                start: clock.instant_at(i.start_ms),
                counted: i.counted,
                in_time: i.in_time,
            })
            .collect(),
    })
}

/// The pause as the bucket holds it.
pub fn paused_to_json(paused: bool) -> Vec<u8> {
    encode(&PausedValue { paused })
}

/// The pause from the bucket.
pub fn paused_from_json(bytes: &[u8]) -> Result<bool, ValueError> {
    decode::<PausedValue>(bytes).map(|v| v.paused)
}

#[cfg(test)]
mod tests {
    //! The serving side's judgement through the bucket's bytes into a viewer's engine: the
    //! viewer's alert is the serving side's (value, threshold), its bell is its own.

    use std::time::{Duration, Instant};

    use crate::model::{AlertConfig, Alerts, Judged, Scope, Text, Trends, WallClock};
    use crate::share::{KvOp, Publisher, Replica};

    use super::*;

    fn clock(at: Instant) -> WallClock {
        WallClock::utc(at, 1_765_000_000_000)
    }

    fn judged(level: AlertLevel, t0: Instant) -> JudgedQueue {
        JudgedQueue {
            queue: Guid::from_bytes(&[0x73, 0x02]),
            figures: Figure::ALL
                .iter()
                .map(|&figure| JudgedFigure {
                    figure,
                    level: if figure == Figure::Waiting {
                        level
                    } else {
                        AlertLevel::Ok
                    },
                    value: (figure == Figure::Waiting).then_some(4),
                    threshold: (figure == Figure::Waiting).then_some(3),
                })
                .collect(),
            abandoned_15m: 2,
            minutes: vec![
                None,
                Some(Sample {
                    waiting: 4,
                    longest_secs: 75,
                }),
            ],
            intervals: vec![SlInterval {
                start: t0,
                counted: 10,
                in_time: 8,
            }],
        }
    }

    #[test]
    fn a_viewer_follows_the_serving_sides_levels_and_trends() {
        let t0 = Instant::now();
        let (serving_clock, viewer_clock) = (clock(t0), clock(t0 + Duration::from_secs(5)));
        let mut publisher = Publisher::new();
        let mut replica = Replica::new();
        let mut ops = publisher.paused(false);
        ops.extend(publisher.judged(&judged(AlertLevel::Critical, t0), &serving_clock));
        // Written once: the same judgement again writes nothing.
        assert!(
            publisher
                .judged(&judged(AlertLevel::Critical, t0), &serving_clock)
                .is_empty()
        );
        for op in &ops {
            replica.apply(op.into(), &viewer_clock).expect("readable");
        }
        let got = replica.take_judged();
        assert_eq!(got.first(), Some(&Judged::Paused(false)));
        let Some(Judged::Queue(q)) = got.get(1) else {
            panic!("{got:?}");
        };
        // The interval's start is the same wall-clock moment in the viewer's own instants.
        assert_eq!(q.intervals[0].start, t0 + Duration::from_secs(5));
        assert_eq!(q.minutes, judged(AlertLevel::Critical, t0).minutes);

        let mut alerts = Alerts::new(
            AlertConfig {
                bell: true,
                ..AlertConfig::default()
            },
            Scope::default(),
        );
        alerts.set_following();
        alerts.follow(t0, q, &Text::from("Roadside"), &Text::from("7302"));
        let t = alerts.poll_transition().expect("raised");
        assert!(t.raised() && t.bell, "{t:?}");
        assert_eq!(
            (t.figure, t.value, t.threshold),
            (Figure::Waiting, Some(4), Some(3))
        );
        assert_eq!(t.to, AlertLevel::Critical);
        assert_eq!(alerts.poll_transition(), None);
        // The viewer judges nothing of its own.
        alerts.evaluate(t0, &crate::model::Tables::new());
        assert_eq!(alerts.level(&q.queue), AlertLevel::Critical);

        let mut trends = Trends::following(Scope::default());
        trends.follow(&q.queue, Some((q.minutes.clone(), q.intervals.clone())));
        let minutes = trends.minutes(&q.queue);
        assert_eq!(minutes.len(), crate::model::TREND_MINUTES);
        assert_eq!(
            minutes.last(),
            Some(&Some(Sample {
                waiting: 4,
                longest_secs: 75
            }))
        );

        // The queue's judgement purged: its alert clears in the viewer.
        let purge = KvOp::Purge {
            key: crate::share::Key::Alerts(q.queue.clone()).name(),
        };
        replica
            .apply((&purge).into(), &viewer_clock)
            .expect("readable");
        let gone = replica.take_judged();
        assert_eq!(gone, vec![Judged::Gone(q.queue.clone())]);
        alerts.follow_gone(t0, &q.queue, &Text::from("Roadside"), &Text::from("7302"));
        let t = alerts.poll_transition().expect("cleared");
        assert!(!t.raised() && t.to == AlertLevel::Ok, "{t:?}");
    }
}
