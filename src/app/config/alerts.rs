//! `[alerts]` (thresholds for every queue, the bell, the dwell, the calls the service level
//! needs) with `[alerts.queue."NAME"]` overrides, and `[wall]`; and the old `[ui]
//! long_wait_secs`, still read with a warning now that it is `[alerts] longest_warn_secs`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use super::error::Source;
use crate::model::{AlertConfig, AlertLevel, Figure, Text, Thresholds};

/// The thresholds as written, in `[alerts]` and in each `[alerts.queue."NAME"]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawThresholds {
    waiting_warn: Option<Spanned<i64>>,
    waiting_critical: Option<Spanned<i64>>,
    longest_warn_secs: Option<Spanned<i64>>,
    longest_critical_secs: Option<Spanned<i64>>,
    service_level_warn: Option<Spanned<i64>>,
    service_level_critical: Option<Spanned<i64>>,
    available_warn: Option<Spanned<i64>>,
    available_critical: Option<Spanned<i64>>,
    abandoned_15m_warn: Option<Spanned<i64>>,
    abandoned_15m_critical: Option<Spanned<i64>>,
}

/// `[alerts]` as written. The thresholds are listed again rather than flattened in: serde
/// cannot deny unknown fields through `flatten`, and a misspelt key must be an error.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    waiting_warn: Option<Spanned<i64>>,
    waiting_critical: Option<Spanned<i64>>,
    longest_warn_secs: Option<Spanned<i64>>,
    longest_critical_secs: Option<Spanned<i64>>,
    service_level_warn: Option<Spanned<i64>>,
    service_level_critical: Option<Spanned<i64>>,
    available_warn: Option<Spanned<i64>>,
    available_critical: Option<Spanned<i64>>,
    abandoned_15m_warn: Option<Spanned<i64>>,
    abandoned_15m_critical: Option<Spanned<i64>>,
    bell: Option<bool>,
    dwell_secs: Option<Spanned<i64>>,
    service_level_min_calls: Option<Spanned<i64>>,
    #[serde(default)]
    queue: BTreeMap<String, Spanned<RawThresholds>>,
}

/// `[wall]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWall {
    rotate_secs: Option<Spanned<i64>>,
}

/// How long each page of the wallboard shows, by default (`[wall] rotate_secs`).
pub const DEFAULT_ROTATE_SECS: u64 = 10;

/// `[wall] rotate_secs`.
pub(super) fn wall_rotate(src: &Source<'_>, raw: &RawWall) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(match &raw.rotate_secs {
        None => DEFAULT_ROTATE_SECS,
        Some(s) => src.number(
            s,
            "wall.rotate_secs",
            |n| (2..=3600).contains(n),
            "expected seconds from 2 to 3600 that each page of the wallboard shows",
        )?,
    }))
}

/// One threshold key: its figure, level, name and what it accepts.
struct Key {
    figure: Figure,
    level: AlertLevel,
    name: &'static str,
    range: (i64, i64),
    expected: &'static str,
}

const KEYS: [Key; 10] = [
    Key {
        figure: Figure::Waiting,
        level: AlertLevel::Warn,
        name: "waiting_warn",
        range: (1, 100_000),
        expected: "expected a number of calls waiting from 1 to 100000",
    },
    Key {
        figure: Figure::Waiting,
        level: AlertLevel::Critical,
        name: "waiting_critical",
        range: (1, 100_000),
        expected: "expected a number of calls waiting from 1 to 100000",
    },
    Key {
        figure: Figure::Longest,
        level: AlertLevel::Warn,
        name: "longest_warn_secs",
        range: (0, 86_400),
        expected: "expected seconds from 1 to 86400 (0: no threshold)",
    },
    Key {
        figure: Figure::Longest,
        level: AlertLevel::Critical,
        name: "longest_critical_secs",
        range: (1, 86_400),
        expected: "expected seconds from 1 to 86400",
    },
    Key {
        figure: Figure::ServiceLevel,
        level: AlertLevel::Warn,
        name: "service_level_warn",
        range: (1, 100),
        expected: "expected a percentage from 1 to 100 (a level below it alerts)",
    },
    Key {
        figure: Figure::ServiceLevel,
        level: AlertLevel::Critical,
        name: "service_level_critical",
        range: (1, 100),
        expected: "expected a percentage from 1 to 100 (a level below it alerts)",
    },
    Key {
        figure: Figure::Available,
        level: AlertLevel::Warn,
        name: "available_warn",
        range: (0, 100_000),
        expected: "expected a number of agents from 0 to 100000 (at or below it alerts)",
    },
    Key {
        figure: Figure::Available,
        level: AlertLevel::Critical,
        name: "available_critical",
        range: (0, 100_000),
        expected: "expected a number of agents from 0 to 100000 (at or below it alerts)",
    },
    Key {
        figure: Figure::Abandoned15m,
        level: AlertLevel::Warn,
        name: "abandoned_15m_warn",
        range: (1, 100_000),
        expected: "expected a number of calls from 1 to 100000",
    },
    Key {
        figure: Figure::Abandoned15m,
        level: AlertLevel::Critical,
        name: "abandoned_15m_critical",
        range: (1, 100_000),
        expected: "expected a number of calls from 1 to 100000",
    },
];

/// The threshold keys of one table, in `KEYS` order.
fn written<'a>(t: &RawAlertsOrQueue<'a>) -> [Option<&'a Spanned<i64>>; 10] {
    match t {
        RawAlertsOrQueue::Alerts(a) => [
            a.waiting_warn.as_ref(),
            a.waiting_critical.as_ref(),
            a.longest_warn_secs.as_ref(),
            a.longest_critical_secs.as_ref(),
            a.service_level_warn.as_ref(),
            a.service_level_critical.as_ref(),
            a.available_warn.as_ref(),
            a.available_critical.as_ref(),
            a.abandoned_15m_warn.as_ref(),
            a.abandoned_15m_critical.as_ref(),
        ],
        RawAlertsOrQueue::Queue(a) => [
            a.waiting_warn.as_ref(),
            a.waiting_critical.as_ref(),
            a.longest_warn_secs.as_ref(),
            a.longest_critical_secs.as_ref(),
            a.service_level_warn.as_ref(),
            a.service_level_critical.as_ref(),
            a.available_warn.as_ref(),
            a.available_critical.as_ref(),
            a.abandoned_15m_warn.as_ref(),
            a.abandoned_15m_critical.as_ref(),
        ],
    }
}

enum RawAlertsOrQueue<'a> {
    Alerts(&'a RawAlerts),
    Queue(&'a RawThresholds),
}

/// Reads one table's thresholds over `base`; `prefix` names the table in errors.
fn thresholds(
    src: &Source<'_>,
    table: &RawAlertsOrQueue<'_>,
    prefix: &str,
    base: &Thresholds,
) -> Result<Thresholds, ConfigError> {
    let mut out = *base;
    let mut spans: [Option<&Spanned<i64>>; 10] = [None; 10];
    for ((key, value), span) in KEYS.iter().zip(written(table)).zip(spans.iter_mut()) {
        let Some(v) = value else { continue };
        let (lo, hi) = key.range;
        let n: u64 = src.number(
            v,
            &format!("{prefix}.{}", key.name),
            |n: &u64| i64::try_from(*n).is_ok_and(|n| (lo..=hi).contains(&n)),
            key.expected,
        )?;
        // 0 turns off the one threshold set by default; for the others 0 is a value or
        // out of range.
        let off = n == 0 && key.name == "longest_warn_secs";
        out.set(key.figure, key.level, (!off).then_some(n));
        *span = Some(v);
    }
    // A critical threshold lies beyond its warn threshold, in this table or over the defaults.
    for pair in KEYS.chunks(2).zip(spans.chunks(2)) {
        let ([warn_key, critical_key], [warn_span, critical_span]) = pair else {
            continue;
        };
        let f = warn_key.figure;
        if let (Some(w), Some(c)) = (
            out.get(f, AlertLevel::Warn),
            out.get(f, AlertLevel::Critical),
        ) {
            if !f.critical_beyond_warn(w, c) {
                let (span, key) = match (critical_span, warn_span) {
                    (Some(s), _) => (*s, critical_key.name),
                    (None, Some(s)) => (*s, warn_key.name),
                    (None, None) => continue,
                };
                let dir = if f.critical_beyond_warn(0, 1) {
                    "at or above"
                } else {
                    "at or below"
                };
                return Err(src.invalid(
                    span,
                    &format!("{prefix}.{key}"),
                    format!(
                        "{} is {c} and {} is {w}: the critical threshold must be {dir} the \
                         warn threshold",
                        critical_key.name, warn_key.name
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// `[alerts]` and its per-queue overrides; `old_long_wait` is `[ui] long_wait_secs` when
/// written. Returns the configuration and a warning for the log when the old key was used.
pub(super) fn alert_config(
    src: &Source<'_>,
    raw: &RawAlerts,
    old_long_wait: Option<&Spanned<i64>>,
) -> Result<(AlertConfig, Option<String>), ConfigError> {
    let mut config = AlertConfig::default();
    let mut warning = None;
    if let Some(old) = old_long_wait {
        if raw.longest_warn_secs.is_some() {
            return Err(src.invalid(
                old,
                "ui.long_wait_secs",
                "both [ui] long_wait_secs and [alerts] longest_warn_secs are set; \
                 long_wait_secs is the old name of longest_warn_secs: keep only \
                 [alerts] longest_warn_secs",
            ));
        }
        let secs: u64 = src.number(
            old,
            "ui.long_wait_secs",
            |n| (1..=86_400).contains(n),
            "expected seconds from 1 to 86400 after which a wait is marked",
        )?;
        config
            .defaults
            .set(Figure::Longest, AlertLevel::Warn, Some(secs));
        warning = Some(format!(
            "{}: [ui] long_wait_secs is now [alerts] longest_warn_secs; it is still read, \
             but move it",
            src.location(Some(old.span().start))
        ));
    }
    config.defaults = thresholds(
        src,
        &RawAlertsOrQueue::Alerts(raw),
        "alerts",
        &config.defaults,
    )?;
    if let Some(b) = raw.bell {
        config.bell = b;
    }
    if let Some(d) = &raw.dwell_secs {
        config.dwell = Duration::from_secs(src.number(
            d,
            "alerts.dwell_secs",
            |n| (0..=3600).contains(n),
            "expected seconds from 0 to 3600 a figure stays across a threshold before its \
             level changes",
        )?);
    }
    if let Some(m) = &raw.service_level_min_calls {
        config.service_level_min_calls = src.number(
            m,
            "alerts.service_level_min_calls",
            |n| (0..=1_000_000).contains(n),
            "expected a number of calls from 0 to 1000000 the service level counts before it \
             has a level",
        )?;
    }
    for (name, table) in &raw.queue {
        let prefix = format!("alerts.queue.\"{name}\"");
        if name.trim().is_empty() {
            return Err(src.invalid(
                table,
                &prefix,
                "expected a queue's name or number, e.g. [alerts.queue.\"Sales\"]",
            ));
        }
        let t = thresholds(
            src,
            &RawAlertsOrQueue::Queue(table.get_ref()),
            &prefix,
            &config.defaults,
        )?;
        config.queues.push((Text::from(name.trim()), t));
    }
    Ok((config, warning))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::app::config::{Config, parse};
    use crate::model::{AlertLevel, Figure, Guid, Queue, QueueStats, Text};

    const PBX: &str = "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"PATH\"\n";

    fn ok(text: &str) -> Config {
        match parse(Path::new("c.toml"), &format!("{PBX}{text}")) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse(Path::new("c.toml"), &format!("{PBX}{text}")) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    fn queue(name: &str, extn: &str) -> Queue {
        Queue {
            guid: Guid::from_bytes(extn.as_bytes()),
            extn: Text::from(extn),
            name: Text::from(name),
            status: None,
            stats: QueueStats::default(),
        }
    }

    #[test]
    fn without_alerts_only_the_longest_wait_warns_at_60_s_with_a_5_s_dwell() {
        let c = ok("");
        let t = c.alerts.thresholds(&queue("Sales", "7303"));
        for f in Figure::ALL {
            for l in AlertLevel::ALERTING {
                let expected = (f == Figure::Longest && l == AlertLevel::Warn).then_some(60);
                assert_eq!(t.get(f, l), expected, "{f:?} {l:?}");
            }
        }
        assert_eq!(c.alerts.dwell, Duration::from_secs(5));
        assert_eq!(c.alerts.service_level_min_calls, 10);
        assert!(!c.alerts.bell);
        assert_eq!(c.wall_rotate, Duration::from_secs(10));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn every_key_is_read_and_a_queue_overrides_the_defaults_by_name_or_number() {
        let c = ok(
            "[alerts]\nwaiting_warn = 3\nwaiting_critical = 6\nlongest_warn_secs = 45\n\
             longest_critical_secs = 120\nservice_level_warn = 80\nservice_level_critical = 60\n\
             available_warn = 1\navailable_critical = 0\nabandoned_15m_warn = 2\n\
             abandoned_15m_critical = 5\nbell = true\ndwell_secs = 0\n\
             service_level_min_calls = 4\n\
             [alerts.queue.\"sales\"]\nwaiting_critical = 10\nlongest_warn_secs = 0\n\
             [alerts.queue.\"7302\"]\navailable_warn = 2\n\
             [wall]\nrotate_secs = 15\n",
        );
        let a = &c.alerts;
        assert!(a.bell);
        assert_eq!(a.dwell, Duration::ZERO);
        assert_eq!(a.service_level_min_calls, 4);
        assert_eq!(c.wall_rotate, Duration::from_secs(15));
        let claims = a.thresholds(&queue("Claims Desk", "7301"));
        let expected = [
            (Figure::Waiting, 3, 6),
            (Figure::Longest, 45, 120),
            (Figure::ServiceLevel, 80, 60),
            (Figure::Available, 1, 0),
            (Figure::Abandoned15m, 2, 5),
        ];
        for (f, w, cr) in expected {
            assert_eq!(claims.get(f, AlertLevel::Warn), Some(w), "{f:?}");
            assert_eq!(claims.get(f, AlertLevel::Critical), Some(cr), "{f:?}");
        }
        // By name, any case: its own critical, the default warn, the longest wait off.
        let sales = a.thresholds(&queue("Sales", "7303"));
        assert_eq!(sales.get(Figure::Waiting, AlertLevel::Warn), Some(3));
        assert_eq!(sales.get(Figure::Waiting, AlertLevel::Critical), Some(10));
        assert_eq!(sales.get(Figure::Longest, AlertLevel::Warn), None);
        assert_eq!(a.longest_warn(Some(&queue("Sales", "7303"))), None);
        assert_eq!(
            a.longest_warn(Some(&queue("Claims Desk", "7301"))),
            Some(Duration::from_secs(45))
        );
        // By number.
        let roadside = a.thresholds(&queue("Roadside", "7302"));
        assert_eq!(roadside.get(Figure::Available, AlertLevel::Warn), Some(2));
        assert_eq!(
            roadside.get(Figure::Available, AlertLevel::Critical),
            Some(0)
        );
    }

    #[test]
    fn the_old_and_the_new_name_together_are_an_error_naming_both() {
        let e = err("[ui]\nlong_wait_secs = 90\n[alerts]\nlongest_warn_secs = 30\n");
        assert!(e.starts_with("c.toml:6:18: ui.long_wait_secs:"), "{e}");
        assert!(
            e.contains("[ui] long_wait_secs") && e.contains("[alerts] longest_warn_secs"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_errors_naming_the_key() {
        let cases = [
            (
                "[alerts]\nwaiting_warn = 0\n",
                "c.toml:6:16: alerts.waiting_warn: expected",
            ),
            (
                "[alerts]\nservice_level_warn = 101\n",
                "alerts.service_level_warn: expected a percentage",
            ),
            (
                "[alerts]\ndwell_secs = -1\n",
                "alerts.dwell_secs: expected seconds",
            ),
            (
                "[alerts]\nservice_level_min_calls = -3\n",
                "alerts.service_level_min_calls: expected",
            ),
            ("[alerts]\nbell = \"yes\"\n", "alerts.bell"),
            ("[alerts]\nwaiting = 3\n", "alerts.waiting: unknown key"),
            (
                "[alerts]\nwaiting_warn = 5\nwaiting_critical = 4\n",
                "alerts.waiting_critical: waiting_critical is 4 and waiting_warn is 5: the \
                 critical threshold must be at or above",
            ),
            (
                "[alerts]\navailable_warn = 1\navailable_critical = 2\n",
                "alerts.available_critical: available_critical is 2 and available_warn is 1: \
                 the critical threshold must be at or below",
            ),
            (
                "[alerts]\nwaiting_warn = 5\n[alerts.queue.\"Sales\"]\nwaiting_critical = 2\n",
                "alerts.queue.\"Sales\".waiting_critical: waiting_critical is 2",
            ),
            (
                "[alerts.queue.\"Sales\"]\nbell = true\n",
                "alerts.queue.\"Sales\".bell: unknown key",
            ),
            (
                "[alerts.queue.\"Sales\"]\nlongest_critical_secs = 0\n",
                "alerts.queue.\"Sales\".longest_critical_secs: expected seconds",
            ),
            (
                "[wall]\nrotate_secs = 1\n",
                "wall.rotate_secs: expected seconds from 2",
            ),
            ("[wall]\npages = 1\n", "wall.pages: unknown key"),
        ];
        for (text, expected) in cases {
            let e = err(text);
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
