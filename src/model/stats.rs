//! Queue and agent statistics, defined once and exactly (README and the screen's help say the
//! same):
//!
//! - A call is *waiting* while its appearance on a queue is QUEUEING, RINGING or RETARGETING.
//!   It belongs to the queue its `queueinfo.number` names (a call still reported by a queue it
//!   has left counts for the queue it is in); without a known number, to the queue reporting it.
//! - *Offered*: calls first seen waiting. *Answered*: the call reached CONNECTED with an agent
//!   (a known user; answered by voicemail is not answered). *Abandoned*: the call ended
//!   (CallLost) while waiting, never answered, and not after a transfer, redirect or park made
//!   from here. A call that ends for any other reason (the PBX stopped reporting it, a
//!   restart) is neither.
//! - *Short abandons*: abandoned within `short_abandon` (default 5 s) of being first seen.
//! - *ASA*: the mean time from first seen to answered. *Service level*: the share of answered
//!   or abandoned calls (short abandons left out) answered within `service_level` (default
//!   20 s; a call answered at exactly the threshold is within it).
//! - *Longest wait now*: the longest a waiting call has been waiting since first seen.
//! - Counted since local midnight or since ipo-top started, whichever is later (the period
//!   says which). Calls already there when a line was subscribed (at connect, or after a
//!   reconnect) are marked `>=`: their first-seen time is a lower bound, so they are counted
//!   in offered, answered and abandoned but left out of ASA and service level; so are calls
//!   offered before the period began.
//! - Per agent: calls answered (each inbound call that reached CONNECTED once), talk time
//!   (time in the TALK state) and after-call work time (time in ACW), within the period.
//!
//! The model never reads a clock: time comes in as `Instant`s, and the edge hands over a
//! [`WallClock`] (one `Instant` paired with Unix time, and a [`Calendar`] that knows where
//! local days start) so the model can tell when midnight passes.

use super::{FastMap, FastSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use std::collections::BTreeSet;

use super::ids::{AppearanceId, Guid, LineId, Text};
use super::user::AgentState;

/// What the statistics mean, in the words the screen's help and README use (one paragraph
/// each). `{sl}` and `{short}` stand for the thresholds in seconds.
pub const DEFINITIONS: [&str; 6] = [
    "Counted since local midnight ([stats] timezone) or since ipo-top started, whichever is \
     later; the Queues pane's title says which.",
    "WAIT: calls waiting now, that is queueing, ringing or retargeting, in the queue their \
     queue information names (a call still reported by a queue it has left counts for the \
     queue it is in). LONGEST: the longest of them, since first seen.",
    "Offered: calls first seen waiting. ANS (answered): calls that reached an agent (answered \
     by voicemail is not answered). ABN (abandoned): callers who hung up while waiting, not \
     after a transfer, redirect or park made from here; those who hung up within {short} s \
     are short abandons.",
    "ASA: the mean time from first seen to answered. SL (service level): the share of \
     answered or abandoned calls answered within {sl} s, short abandons left out.",
    "MTCTI3 carries no start time: a wait counts from when ipo-top first saw the call. Calls \
     already waiting when ipo-top connected (or reconnected) show ≥ before their wait and \
     are counted in offered, answered and abandoned but left out of ASA and SL.",
    "Agents: answered calls, talk time (TALK) and after-call work time (ACW) over the same \
     period. After-call work comes from the phone state the PBX reports, as well as from \
     after-call-work calls: one spell, counted once.",
];

/// The definitions with this configuration's thresholds in them.
pub fn definitions(service_level_secs: u64, short_abandon_secs: u64) -> Vec<String> {
    DEFINITIONS
        .iter()
        .map(|d| {
            d.replace("{sl}", &service_level_secs.to_string())
                .replace("{short}", &short_abandon_secs.to_string())
        })
        .collect()
}

/// Where local days start, for the midnight boundary. The edge implements it with the time
/// zone database; [`FixedOffset`] is a plain offset from UTC.
pub trait Calendar: Send + Sync + fmt::Debug {
    /// The Unix time (ms) of the start of the local day that contains `unix_ms`.
    fn day_start(&self, unix_ms: i64) -> i64;
    /// The Unix time (ms) of the start of the next local day after the one containing
    /// `unix_ms`.
    fn next_day_start(&self, unix_ms: i64) -> i64;
    /// The local time of day of `unix_ms` as `HH:MM`.
    fn clock(&self, unix_ms: i64) -> String;
    /// The zone's name, as the configuration gave it (e.g. "Europe/London", "UTC", "local").
    fn zone(&self) -> String;
}

/// A time zone at a fixed offset from UTC (no daylight saving).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedOffset {
    /// Seconds east of UTC.
    pub offset_secs: i32,
    /// How to name it.
    pub name: String,
}

impl FixedOffset {
    /// UTC.
    pub fn utc() -> FixedOffset {
        FixedOffset {
            offset_secs: 0,
            name: "UTC".to_owned(),
        }
    }

    fn local_ms(&self, unix_ms: i64) -> i64 {
        unix_ms.saturating_add(i64::from(self.offset_secs) * 1000)
    }
}

const DAY_MS: i64 = 86_400_000;

impl Calendar for FixedOffset {
    fn day_start(&self, unix_ms: i64) -> i64 {
        let local = self.local_ms(unix_ms);
        unix_ms - local.rem_euclid(DAY_MS)
    }

    fn next_day_start(&self, unix_ms: i64) -> i64 {
        self.day_start(unix_ms) + DAY_MS
    }

    fn clock(&self, unix_ms: i64) -> String {
        let secs = self.local_ms(unix_ms).rem_euclid(DAY_MS) / 1000;
        format!("{:02}:{:02}", secs / 3600, secs / 60 % 60)
    }

    fn zone(&self) -> String {
        self.name.clone()
    }
}

/// The wall clock as the edge gives it: the Unix time at one `Instant`, and the calendar.
#[derive(Clone, Debug)]
pub struct WallClock {
    /// An instant...
    pub at: Instant,
    /// ...and the Unix time (ms) at that instant.
    pub unix_ms: i64,
    /// Where local days start.
    pub calendar: Arc<dyn Calendar>,
}

impl WallClock {
    /// `at` is Unix time `unix_ms`, and days are UTC's.
    pub fn utc(at: Instant, unix_ms: i64) -> WallClock {
        WallClock {
            at,
            unix_ms,
            calendar: Arc::new(FixedOffset::utc()),
        }
    }

    /// The Unix time (ms) at `t`.
    pub fn unix_ms_at(&self, t: Instant) -> i64 {
        if t >= self.at {
            let d = i64::try_from(t.duration_since(self.at).as_millis()).unwrap_or(i64::MAX / 2);
            self.unix_ms.saturating_add(d)
        } else {
            let d = i64::try_from(self.at.duration_since(t).as_millis()).unwrap_or(i64::MAX / 2);
            self.unix_ms.saturating_sub(d)
        }
    }

    /// The instant at Unix time `unix_ms` (clamped to what `Instant` can hold).
    pub fn instant_at(&self, unix_ms: i64) -> Instant {
        let d = unix_ms.saturating_sub(self.unix_ms);
        if d >= 0 {
            self.at + Duration::from_millis(d.unsigned_abs())
        } else {
            self.at
                .checked_sub(Duration::from_millis(d.unsigned_abs()))
                .unwrap_or(self.at)
        }
    }
}

/// How statistics are counted.
#[derive(Clone, Debug)]
pub struct StatsConfig {
    /// The service-level threshold (default 20 s).
    pub service_level: Duration,
    /// Abandons within this long are short and left out of the service level (default 5 s).
    pub short_abandon: Duration,
    /// The wall clock for the midnight boundary; without one, counting is since start only.
    pub clock: Option<WallClock>,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            service_level: Duration::from_secs(20),
            short_abandon: Duration::from_secs(5),
            clock: None,
        }
    }
}

/// Which boundary the counting period starts at.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStart {
    /// Local midnight (ipo-top was running before it).
    Midnight,
    /// When ipo-top started (after the last midnight).
    Started,
}

/// The period statistics count over, and the thresholds they use.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct StatsPeriod {
    /// When counting began.
    #[serde(skip)]
    pub since: Instant,
    /// When the next period begins (the next midnight), if a calendar is known.
    #[serde(skip)]
    pub until: Option<Instant>,
    /// Midnight or start.
    pub start: PeriodStart,
    /// For the screen, e.g. "since 00:00 Europe/London" or "since 09:14 (start)".
    pub label: Text,
    /// The service-level threshold in seconds.
    pub service_level_secs: u64,
    /// The short-abandon threshold in seconds.
    pub short_abandon_secs: u64,
}

impl StatsPeriod {
    /// The period that holds `now` for a model started at `started`.
    pub fn at(now: Instant, started: Instant, config: &StatsConfig) -> StatsPeriod {
        let thresholds = (
            config.service_level.as_secs(),
            config.short_abandon.as_secs(),
        );
        let Some(clock) = &config.clock else {
            return StatsPeriod {
                since: started,
                until: None,
                start: PeriodStart::Started,
                label: Text::from("since start"),
                service_level_secs: thresholds.0,
                short_abandon_secs: thresholds.1,
            };
        };
        let cal = &clock.calendar;
        let now_ms = clock.unix_ms_at(now);
        let midnight = clock.instant_at(cal.day_start(now_ms));
        let until = Some(clock.instant_at(cal.next_day_start(now_ms)));
        let (since, start) = if started > midnight {
            (started, PeriodStart::Started)
        } else {
            (midnight, PeriodStart::Midnight)
        };
        let at = cal.clock(clock.unix_ms_at(since));
        let label = match start {
            PeriodStart::Midnight => format!("since {at} {}", cal.zone()),
            PeriodStart::Started => format!("since {at} {} (start)", cal.zone()),
        };
        StatsPeriod {
            since,
            until,
            start,
            label: Text::from(label),
            service_level_secs: thresholds.0,
            short_abandon_secs: thresholds.1,
        }
    }
}

/// A queue's figures over the counting period (and its waiting calls now).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct QueueStats {
    /// Calls waiting now.
    pub waiting: u32,
    /// Calls first seen waiting.
    pub offered: u32,
    /// Calls answered by an agent.
    pub answered: u32,
    /// Calls abandoned while waiting (short abandons included).
    pub abandoned: u32,
    /// Of those, abandoned within the short-abandon threshold.
    pub short_abandoned: u32,
    /// Counted calls whose first-seen time is a lower bound (already there at connect, or
    /// offered before the period began): left out of ASA and service level.
    pub lower_bound: u32,
    /// Answered calls timed for ASA and service level.
    pub timed_answered: u32,
    /// Of those, answered within the service-level threshold.
    pub answered_in_sl: u32,
    /// Abandoned calls (not short) timed for the service level.
    pub timed_abandoned: u32,
    /// The sum of the timed answered calls' waits, in ms.
    pub answer_wait_ms: u64,
    /// When the longest waiting call was first seen.
    pub oldest_waiting: Option<Instant>,
    /// Whether that call's first-seen time is a lower bound (show `>=`).
    pub oldest_is_lower_bound: bool,
}

impl QueueStats {
    /// The mean time from first seen to answered, over the timed answered calls.
    pub fn asa(&self) -> Option<Duration> {
        (self.timed_answered > 0)
            .then(|| Duration::from_millis(self.answer_wait_ms / u64::from(self.timed_answered)))
    }

    /// The share (0.0..=1.0) of timed answered-or-abandoned calls (short abandons left out)
    /// answered within the threshold; `None` before the first such call.
    pub fn service_level(&self) -> Option<f64> {
        let base = self.timed_answered + self.timed_abandoned;
        (base > 0).then(|| f64::from(self.answered_in_sl) / f64::from(base))
    }

    /// How long the longest waiting call has been waiting at `now`.
    pub fn longest_wait(&self, now: Instant) -> Option<Duration> {
        self.oldest_waiting
            .map(|t| now.saturating_duration_since(t))
    }
}

impl Serialize for QueueStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("QueueStats", 10)?;
        st.serialize_field("waiting", &self.waiting)?;
        st.serialize_field("offered", &self.offered)?;
        st.serialize_field("answered", &self.answered)?;
        st.serialize_field("abandoned", &self.abandoned)?;
        st.serialize_field("short_abandoned", &self.short_abandoned)?;
        st.serialize_field("lower_bound", &self.lower_bound)?;
        st.serialize_field(
            "asa_ms",
            &self
                .asa()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        )?;
        st.serialize_field("service_level", &self.service_level())?;
        st.serialize_field("timed_answered", &self.timed_answered)?;
        st.serialize_field("answered_in_sl", &self.answered_in_sl)?;
        st.serialize_field("timed_abandoned", &self.timed_abandoned)?;
        st.serialize_field("oldest_is_lower_bound", &self.oldest_is_lower_bound)?;
        st.end()
    }
}

/// A queue's agents now: enabled members by what they are doing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
pub struct AgentCounts {
    /// Idle and reachable (AVAIL).
    pub available: u32,
    /// On a call, ringing, holding or in after-call work.
    pub busy: u32,
    /// In DND, logged off, with a faulty phone, not yet reported, or disabled in this queue.
    pub away: u32,
}

impl AgentCounts {
    /// Counts one member.
    pub fn add(&mut self, state: AgentState, enabled: bool) {
        match state {
            AgentState::Available if enabled => self.available += 1,
            AgentState::Talking
            | AgentState::Ringing
            | AgentState::Held
            | AgentState::AfterCallWork
                if enabled =>
            {
                self.busy += 1
            }
            _ => self.away += 1,
        }
    }
}

/// What statistics need beyond the figures kept on queues and users.
#[derive(Debug, Default)]
pub(super) struct Counting {
    pub(super) config: StatsConfig,
    /// When counting could first begin (the model's first input).
    pub(super) started: Option<Instant>,
    /// Queue appearances being followed, by appearance.
    pub(super) calls: FastMap<AppearanceId, QueueCall>,
    /// Waiting calls per queue, oldest first.
    pub(super) waiting: FastMap<Guid, BTreeSet<(Instant, AppearanceId)>>,
    /// Agent appearances already counted as answered.
    pub(super) answered: FastSet<AppearanceId>,
    /// Lines whose first report after being subscribed has not arrived yet: calls first seen
    /// in it were there before (present at connect).
    pub(super) initial: FastSet<LineId>,
    /// Queues whose figures changed and have not been emitted yet.
    pub(super) dirty: BTreeSet<Guid>,
}

/// One call followed on a queue line, for statistics.
#[derive(Debug, Clone)]
pub(super) struct QueueCall {
    /// The queue it counts for now.
    pub(super) queue: Option<Guid>,
    /// When it was first seen waiting (it was offered then).
    pub(super) offered: Option<Instant>,
    /// Its first-seen time is a lower bound, or it was offered before the period began.
    pub(super) untimed: bool,
    /// Counted as answered.
    pub(super) answered: bool,
    /// Transferred, redirected or parked from here: neither answered nor abandoned after.
    pub(super) moved: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_offset_knows_its_midnights() {
        // 2024-03-01T23:30:00Z.
        let t = 1_709_335_800_000;
        let utc = FixedOffset::utc();
        assert_eq!(utc.day_start(t), 1_709_251_200_000);
        assert_eq!(utc.clock(t), "23:30");
        let paris = FixedOffset {
            offset_secs: 3600,
            name: "UTC+01:00".into(),
        };
        // 00:30 on the 2nd in Paris: the day began half an hour ago.
        assert_eq!(paris.clock(t), "00:30");
        assert_eq!(paris.day_start(t), t - 30 * 60 * 1000);
        assert_eq!(paris.next_day_start(t), t - 30 * 60 * 1000 + DAY_MS);
    }

    #[test]
    fn the_period_starts_at_midnight_or_at_start_whichever_is_later() {
        let t0 = Instant::now();
        // 09:14 UTC.
        let clock = WallClock::utc(t0, 1_709_284_440_000);
        let config = StatsConfig {
            clock: Some(clock),
            ..StatsConfig::default()
        };
        let p = StatsPeriod::at(t0, t0, &config);
        assert_eq!(p.start, PeriodStart::Started);
        assert_eq!(p.label, "since 09:14 UTC (start)");
        assert_eq!(p.since, t0);
        let midnight = t0 + Duration::from_secs((24 * 60 - 9 * 60 - 14) * 60);
        assert_eq!(p.until, Some(midnight));
        let next = StatsPeriod::at(midnight, t0, &config);
        assert_eq!(next.start, PeriodStart::Midnight);
        assert_eq!(next.label, "since 00:00 UTC");
        assert_eq!(next.since, midnight);
        assert_eq!(next.until, Some(midnight + Duration::from_secs(86_400)));
        let none = StatsPeriod::at(midnight, t0, &StatsConfig::default());
        assert_eq!((none.start, none.until), (PeriodStart::Started, None));
    }

    #[test]
    fn asa_and_service_level_from_their_parts() {
        let s = QueueStats {
            timed_answered: 4,
            answered_in_sl: 3,
            timed_abandoned: 2,
            answer_wait_ms: 4 * 12_500,
            ..QueueStats::default()
        };
        assert_eq!(s.asa(), Some(Duration::from_millis(12_500)));
        assert_eq!(s.service_level(), Some(0.5));
        assert_eq!(QueueStats::default().service_level(), None);
        assert_eq!(QueueStats::default().asa(), None);
    }
}
