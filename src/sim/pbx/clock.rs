//! The model's clock: model milliseconds against the caller's `Instant`s, the timer queue
//! that drives every event, and the changes waiting to be polled.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use rand::Rng;

use super::call::DirectKind;
use super::{CallKey, Change, Pbx, QueueId, UserId};
use crate::sim::site::TimeOfDay;

/// What is due at a moment of model time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    Arrival(QueueId),
    Direct(DirectKind),
    Answer(CallKey, UserId, u32),
    RingTimeout(CallKey, u32),
    HangUp(CallKey, u32),
    Abandon(CallKey),
    Overflow(CallKey, u32),
    Voicemail(CallKey, u32),
    VoicemailEnd(CallKey),
    FarAnswer(CallKey, u32),
    GiveUp(CallKey, u32),
    AcwEnd(UserId, u32),
    Churn,
    ParkedHangUp(CallKey, u32),
    Park(CallKey, u32),
    Unpark(CallKey, u32),
    Ec500Answer(CallKey, UserId, u32),
    FailedEnd(CallKey, UserId),
}

impl Pbx {
    pub(super) fn to_ms(&self, now: Instant) -> u64 {
        let since = u64::try_from(now.saturating_duration_since(self.start).as_millis())
            .unwrap_or(u64::MAX / 4);
        self.warmup_ms.saturating_add(since)
    }

    pub(super) fn to_instant(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms.saturating_sub(self.warmup_ms))
    }

    /// Advances the model to `now`, firing everything due (arrivals, answers, hang-ups,
    /// abandons, ...) in time order.
    pub fn handle_timeout(&mut self, now: Instant) {
        let t = self.to_ms(now);
        self.run_until(t);
    }

    /// When the model next needs [`Pbx::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers
            .peek()
            .map(|Reverse((at, _, _))| self.to_instant(*at))
    }

    /// The next change to report, oldest first.
    pub fn poll_change(&mut self) -> Option<Change> {
        self.changes.pop_front()
    }

    /// The site's clock at the model's current time.
    pub fn time_of_day(&self) -> TimeOfDay {
        TimeOfDay::from_secs(self.tod_zero + self.now_ms / 1000)
    }

    /// The model's current time (the last `handle_timeout`).
    pub fn now(&self) -> Instant {
        self.to_instant(self.now_ms)
    }

    pub(super) fn run_until(&mut self, t: u64) {
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > t {
                break;
            }
            let Some(Reverse((at, _, timer))) = self.timers.pop() else {
                break;
            };
            self.now_ms = self.now_ms.max(at);
            self.fire(timer);
        }
        self.now_ms = self.now_ms.max(t);
    }

    pub(super) fn schedule_at(&mut self, at: u64, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, timer)));
    }

    pub(super) fn schedule_in(&mut self, ms: u64, timer: Timer) {
        self.schedule_at(self.now_ms.saturating_add(ms), timer);
    }

    pub(super) fn emit(&mut self, change: Change) {
        if self.emit {
            self.changes.push_back(change);
        }
    }

    pub(super) fn draw_ms(&mut self, secs: &std::ops::RangeInclusive<u32>) -> u64 {
        let lo = u64::from(*secs.start()) * 1000;
        let hi = u64::from(*secs.end()) * 1000;
        self.rng.random_range(lo..=hi.max(lo))
    }
}
