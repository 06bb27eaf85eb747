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
