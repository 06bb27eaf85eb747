//! The wall clock for statistics: where local days start, from the time zone database
//! (`[stats] timezone`: "local", "UTC" or an IANA name such as "Europe/London"). The model
//! never reads a clock; this edge pairs one `Instant` with the Unix time and hands both over,
//! with the calendar.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::model::{Calendar, WallClock};

/// A time zone from the database, as a calendar.
#[derive(Debug, Clone)]
pub struct ZoneCalendar {
    tz: TimeZone,
    name: String,
}

/// Why a time zone name is not usable.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown time zone {name:?}: expected \"local\", \"UTC\" or a name from the time zone \
     database such as \"Europe/London\" ({reason})"
)]
pub struct ZoneError {
    name: String,
    reason: String,
}

impl ZoneCalendar {
    /// The calendar for `name`: "local" (the system's zone), "UTC", or an IANA name.
    pub fn named(name: &str) -> Result<ZoneCalendar, ZoneError> {
        let tz = match name {
            "local" => TimeZone::system(),
            "UTC" | "utc" => TimeZone::UTC,
            other => TimeZone::get(other).map_err(|e| ZoneError {
                name: other.to_owned(),
                reason: e.to_string(),
            })?,
        };
        let name = match (name, tz.iana_name()) {
            ("local", Some(iana)) => iana.to_owned(),
            _ => name.to_owned(),
        };
        Ok(ZoneCalendar { tz, name })
    }

    fn zoned(&self, unix_ms: i64) -> Option<jiff::Zoned> {
        Timestamp::from_millisecond(unix_ms)
            .ok()
            .map(|t| t.to_zoned(self.tz.clone()))
    }
}

const DAY_MS: i64 = 86_400_000;

impl Calendar for ZoneCalendar {
    fn day_start(&self, unix_ms: i64) -> i64 {
        self.zoned(unix_ms)
            .and_then(|z| z.start_of_day().ok())
            .map_or(unix_ms - unix_ms.rem_euclid(DAY_MS), |z| {
                z.timestamp().as_millisecond()
            })
    }

    fn next_day_start(&self, unix_ms: i64) -> i64 {
        // A day is 23 to 25 hours long where clocks change: ask the zone, never add 24 h.
        self.zoned(unix_ms)
            .and_then(|z| z.tomorrow().ok())
            .and_then(|z| z.start_of_day().ok())
            .map_or(self.day_start(unix_ms) + DAY_MS, |z| {
                z.timestamp().as_millisecond()
            })
    }

    fn clock(&self, unix_ms: i64) -> String {
        self.zoned(unix_ms)
            .map_or_else(|| "??:??".to_owned(), |z| z.strftime("%H:%M").to_string())
    }

    fn zone(&self) -> String {
        self.name.clone()
    }
}

/// The wall clock now, with this calendar.
pub fn wall_clock(calendar: Arc<dyn Calendar>) -> WallClock {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    WallClock {
        at: Instant::now(),
        unix_ms,
        calendar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_follow_the_zone_including_its_clock_changes() {
        let Ok(london) = ZoneCalendar::named("Europe/London") else {
            // No time zone database on this machine: nothing to check.
            return;
        };
        // 2024-03-31 is 23 hours long in London (clocks go forward at 01:00 UTC).
        // 2024-03-31T12:00:00Z.
        let noon = 1_711_886_400_000;
        let start = london.day_start(noon);
        assert_eq!(start, 1_711_843_200_000, "midnight GMT");
        assert_eq!(london.next_day_start(noon) - start, 23 * 3_600_000);
        assert_eq!(london.clock(noon), "13:00");
        assert_eq!(london.zone(), "Europe/London");
        let utc = ZoneCalendar::named("UTC").map(|c| c.clock(noon)).ok();
        assert_eq!(utc.as_deref(), Some("12:00"));
        assert!(
            ZoneCalendar::named("Mars/Olympus_Mons")
                .err()
                .is_some_and(|e| e.to_string().contains("Europe/London"))
        );
    }
}
