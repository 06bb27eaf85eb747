//! `ipo-top events --json`: every model event as one JSON object per line, for scripts.
//!
//! Each line carries `"schema": 1`, `"ts_ms"` (Unix time in milliseconds when it was written)
//! and `"type"`; the rest depends on the type (see README). Runs until interrupted, reconnecting
//! as the session does; exits quietly when its output pipe closes. The queues' alerts
//! (`alert_raised`, `alert_cleared`) come from the model's alert engine, run here over a
//! replica of the model as the screen runs it.

use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

use super::Exit;
use super::check::{connect_failure, tls_setup_failure};
use super::config::Config;
use crate::model::{AlertTransition, Alerts, ModelEvent, Tables};
use crate::session::{FailureKind, SessionEvent, spawn};

/// The version of the line format; it changes only when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    schema: u32,
    ts_ms: u64,
    #[serde(flatten)]
    event: &'a T,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ms(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| json!(d.as_secs_f64() * 1000.0))
}

/// One update as a JSON line (without the newline).
pub fn to_line(update: &SessionEvent) -> Result<String, serde_json::Error> {
    let ts_ms = now_ms();
    match update {
        SessionEvent::Model(ev) => {
            let mut v = serde_json::to_value(Line {
                schema: SCHEMA,
                ts_ms,
                event: ev,
            })?;
            // The longest wait changes by the second without any event: give it as of now.
            if let ModelEvent::QueueAdded { queue } | ModelEvent::QueueChanged { queue } = ev {
                if let Some(stats) = v.get_mut("queue").and_then(|q| q.get_mut("stats")) {
                    stats["longest_wait_ms"] = ms(queue.stats.longest_wait(Instant::now()));
                }
            }
            serde_json::to_string(&v)
        }
        SessionEvent::Synced(r) => {
            let mut event = json!({
                "type": "synced",
                "users": r.users,
                "queues": r.queues,
                "park_available": r.park_available,
                "subscribed": r.subscribed,
                "failed": r.failed,
                "round_trip_ms": ms(r.round_trip),
            });
            // What the scope covers and the queues it names that the PBX does not have; only
            // with a scope, so a whole-site line is as it always was.
            if let Some(scope) = &r.scope {
                event["scope"] = json!(scope);
            }
            serde_json::to_string(&Line {
                schema: SCHEMA,
                ts_ms,
                event: &event,
            })
        }
        SessionEvent::SubscribeFailed(f) => serde_json::to_string(&Line {
            schema: SCHEMA,
            ts_ms,
            event: &json!({
                "type": "subscribe_failed",
                "entity": f.entity,
                "label": f.label,
                "code": f.code,
                "name": f.name,
                "dropped": f.dropped,
            }),
        }),
        SessionEvent::Command(r) => serde_json::to_string(&Line {
            schema: SCHEMA,
            ts_ms,
            event: &json!({
                "type": "command",
                "id": r.id,
                "command": r.command,
                "status": r.status,
                "requestid": r.requestid,
                "subscribe_id": r.subscribe_id,
                "callid": r.callid,
                "reference": r.reference,
            }),
        }),
        SessionEvent::CapReached(cap) => serde_json::to_string(&Line {
            schema: SCHEMA,
            ts_ms,
            event: &json!({
                "type": "cap_reached",
                "what": cap.what,
                "limit": cap.limit,
                "message": cap.to_string(),
            }),
        }),
        SessionEvent::Lagged { folded } => serde_json::to_string(&Line {
            schema: SCHEMA,
            ts_ms,
            event: &json!({
                "type": "lagged",
                "folded": folded,
            }),
        }),
        SessionEvent::ConnectFailed(e) => serde_json::to_string(&Line {
            schema: SCHEMA,
            ts_ms,
            event: &json!({
                "type": "connect_failed",
                "kind": format!("{:?}", e.kind()).to_lowercase(),
                "error": e.to_string(),
            }),
        }),
    }
}

/// An alert as a JSON line (without the newline): `alert_raised` when the level went up,
/// `alert_cleared` when it went down, with the queue, the figure, its value, the level now
/// (and before) and the threshold crossed.
pub fn alert_line(t: &AlertTransition) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Line {
        schema: SCHEMA,
        ts_ms: now_ms(),
        event: &json!({
            "type": if t.raised() { "alert_raised" } else { "alert_cleared" },
            "queue": { "name": t.name, "number": t.extn },
            "figure": t.figure,
            "value": t.value,
            "level": t.to,
            "from": t.from,
            "threshold": t.threshold,
        }),
    })
}

/// The alert engine over the session's events: a replica of the model to judge the queues
/// by, judged once a second (a wait grows without any event; the dwell is whole seconds), not
/// after each batch: judging is a pass over every queue in scope, and a busy site sends
/// hundreds of batches a second.
struct Judge {
    tables: Tables,
    alerts: Alerts,
}

impl Judge {
    fn take(&mut self, update: &SessionEvent) {
        if let SessionEvent::Model(ev) = update {
            self.tables.apply(ev);
            self.alerts.observe(Instant::now(), ev);
        }
    }

    fn lines(&mut self) -> Result<Vec<String>, serde_json::Error> {
        self.alerts.evaluate(Instant::now(), &self.tables);
        std::iter::from_fn(|| self.alerts.poll_transition())
            .map(|t| alert_line(&t))
            .collect()
    }
}

/// Runs until interrupted (Ctrl-C or SIGTERM), the output closes, or the PBX refuses the login.
/// Returns the exit code and, for a failure, the line to print on stderr.
pub async fn run(config: &Config, out: &mut dyn Write) -> (Exit, Option<String>) {
    let (handle, updates) = match spawn(config.endpoint.clone(), config.session.clone()) {
        Ok(x) => x,
        Err(e) => {
            let o = tls_setup_failure(&e, config);
            return (o.exit, Some(o.line));
        }
    };
    let mut judge = Judge {
        tables: Tables::new(),
        alerts: Alerts::new(config.alerts.clone(), config.session.scope.clone()),
    };
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        let (batch, judging) = tokio::select! {
            b = updates.next() => (b, false),
            _ = second.tick() => (Some(Vec::new()), true),
            () = interrupted() => break (Exit::Ok, None),
        };
        let Some(batch) = batch else {
            break (Exit::Ok, None);
        };
        let mut stop = None;
        let mut write = || -> io::Result<()> {
            for update in &batch {
                judge.take(update);
                let line = to_line(update).map_err(io::Error::other)?;
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                if let SessionEvent::ConnectFailed(e) = update {
                    if e.kind() == FailureKind::Auth {
                        // The session stopped: nothing more will come until someone fixes the
                        // credentials.
                        let o = connect_failure(e, config);
                        stop = Some((o.exit, Some(o.line)));
                    }
                }
            }
            if judging {
                for line in judge.lines().map_err(io::Error::other)? {
                    out.write_all(line.as_bytes())?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()
        };
        match write() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break (Exit::Ok, None),
            Err(e) => break (Exit::Other, Some(format!("cannot write events: {e}"))),
        }
        if let Some(s) = stop {
            break s;
        }
    };
    handle.shutdown();
    // The session closes its link politely; never let that hold up the exit for long.
    let _ = tokio::time::timeout(Duration::from_secs(3), handle.join()).await;
    result
}

/// Ctrl-C or SIGTERM (also how `ipo-top bench` is stopped).
pub async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertLevel, Figure, Guid, Text};

    #[test]
    fn an_alert_line_names_the_queue_the_figure_its_value_the_level_and_the_threshold() {
        let mut t = AlertTransition {
            at: Instant::now(),
            queue: Guid::from_bytes(b"q"),
            name: Text::from("Sales"),
            extn: Text::from("7303"),
            figure: Figure::Waiting,
            value: Some(7),
            from: AlertLevel::Warn,
            to: AlertLevel::Critical,
            threshold: Some(6),
            bell: false,
        };
        let v: Value = match alert_line(&t).map(|l| serde_json::from_str(&l)) {
            Ok(Ok(v)) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(v["schema"], 1);
        assert_eq!(v["type"], "alert_raised");
        assert_eq!(v["queue"], json!({"name": "Sales", "number": "7303"}));
        assert_eq!(v["figure"], "waiting");
        assert_eq!(v["value"], 7);
        assert_eq!(v["level"], "critical");
        assert_eq!(v["from"], "warn");
        assert_eq!(v["threshold"], 6);
        (t.from, t.to, t.value) = (AlertLevel::Critical, AlertLevel::Ok, Some(2));
        let line = alert_line(&t).unwrap_or_default();
        assert!(line.contains("\"type\":\"alert_cleared\""), "{line}");
        assert!(line.contains("\"level\":\"ok\""), "{line}");
    }
}
