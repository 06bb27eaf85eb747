//! `ipo-top check`: connect, authenticate, subscribe, print one line, exit with a code that
//! says which kind of problem there is.

use std::time::Duration;

use super::Exit;
use super::config::Config;
use crate::model::{ModelEvent, ScopeSummary, Text};
use crate::session::{
    ConnectError, Entity, FailureKind, SessionEvent, SyncReport, TlsSetupError, spawn,
};
use crate::ui::text::clean;

/// What `check` found: the exit code and the one line to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code.
    pub exit: Exit,
    /// The line (stdout when it succeeded, stderr otherwise), already cleaned.
    pub line: String,
}

impl Outcome {
    /// The outcome with `line` cleaned: it carries text from the PBX (its version, user and
    /// queue names, error texts), which must not drive the terminal.
    pub fn new(exit: Exit, line: &str) -> Outcome {
        Outcome {
            exit,
            line: clean(line).into_owned(),
        }
    }
}

/// The line and exit code for a failed connection attempt, with what to do about it.
pub fn connect_failure(e: &ConnectError, config: &Config) -> Outcome {
    let (exit, line) = connect_failure_line(e, &config.path);
    Outcome::new(exit, &line)
}

/// The exit code and line (cleaned) for a failed connection attempt made with the
/// configuration at `path`.
pub fn connect_failure_line(e: &ConnectError, path: &std::path::Path) -> (Exit, String) {
    let path = path.display();
    let (exit, advice) = match e.kind() {
        FailureKind::Auth => (
            Exit::Auth,
            "check the password, that the service user's group has the \"Enhanced TSPI Access\" \
             right, and that the system's \"Avaya HTTP Clients only\" setting is off"
                .to_owned(),
        ),
        FailureKind::Trust if matches!(e, ConnectError::PinMismatch { .. }) => (
            Exit::Trust,
            format!(
                "if the PBX's certificate was replaced on purpose, check the new one and pin \
                 it: ipo-top trust --config {path}"
            ),
        ),
        FailureKind::Trust => (
            Exit::Trust,
            format!(
                "set [tls] ca_file to the CA that signed the PBX's certificate, or pin the \
                 PBX's certificate with [tls] fingerprint (ipo-top trust --config {path} shows \
                 it), in {path}"
            ),
        ),
        FailureKind::Unreachable => (
            Exit::Unreachable,
            format!(
                "check [pbx] host and port in {path}, and that this machine can reach the \
                 PBX's HTTPS port"
            ),
        ),
        FailureKind::NotFound => (
            Exit::NotFound,
            "no MTCTI3 on this system? It needs IP Office R11.1 or later with CTI Link Pro \
             licences; also check that [pbx] port is IP Office's web service port"
                .to_owned(),
        ),
        FailureKind::Other
            if matches!(
                e,
                ConnectError::Http {
                    status: 429 | 503,
                    ..
                }
            ) =>
        {
            (
                Exit::Other,
                match e.retry_after() {
                    Some(wait) => format!(
                        "the PBX is busy (IP Office takes at most 10 MTCTI3 connections at once; \
                     another client may hold them); ipo-top waits the {} s it asked for before \
                     trying again",
                        wait.as_secs()
                    ),
                    None => "the PBX is busy (IP Office takes at most 10 MTCTI3 connections at \
                         once; another client may hold them); try again later"
                        .to_owned(),
                },
            )
        }
        FailureKind::Other => (Exit::Other, "see the log for details".to_owned()),
    };
    (exit, clean(&format!("{e}: {advice}")).into_owned())
}

/// The line and exit code when the TLS settings cannot be made.
pub fn tls_setup_failure(e: &TlsSetupError, config: &Config) -> Outcome {
    let exit = match e {
        TlsSetupError::NoSystemRoots => Exit::Trust,
        _ => Exit::Config,
    };
    Outcome::new(exit, &format!("{}: {e}", config.path.display()))
}

/// The line `check` prints when it succeeded, cleaned.
fn success_line(config: &Config, report: &SyncReport, version: Option<&Text>) -> String {
    let ep = &config.endpoint;
    let mut line = format!(
        "connected to {} as {}: {} users, {} queues, park server {}",
        ep.authority(),
        ep.username,
        report.users,
        report.queues,
        if report.park_available {
            "available"
        } else {
            "not available"
        },
    );
    if let Some(rtt) = report.round_trip {
        line.push_str(&format!(
            ", round trip {:.1} ms",
            rtt.as_secs_f64() * 1000.0
        ));
    }
    if let Some(v) = version {
        line.push_str(&format!(", {v}"));
    }
    if let Some(scope) = &report.scope {
        line.push_str(&format!("; {}", scope_words(scope)));
    }
    let s = &report.subscriptions;
    let mut subscribed = Vec::new();
    if s.lines {
        subscribed.push("lines".to_owned());
    }
    subscribed.push(format!("{} of {} users", s.users.0, s.users.1));
    subscribed.push(format!("{} of {} queues", s.queues.0, s.queues.1));
    if s.park_server == Some(true) {
        subscribed.push("park server".to_owned());
    }
    if s.presence == Some(true) {
        subscribed.push("presence".to_owned());
    }
    line.push_str(&format!("; subscribed: {}", subscribed.join(", ")));
    if !report.failed.is_empty() {
        let list: Vec<String> = report
            .failed
            .iter()
            .map(|f| {
                let what = match f.entity {
                    Entity::User(_) => "user",
                    Entity::Queue(_) => "queue",
                    Entity::ParkServer => "park server",
                    Entity::Lines => "lines",
                    Entity::Presence => "presence",
                };
                let code = f.name.map_or_else(|| f.code.to_string(), str::to_owned);
                let dropped = if f.dropped { ", dropped" } else { "" };
                if matches!(
                    f.entity,
                    Entity::ParkServer | Entity::Lines | Entity::Presence
                ) {
                    format!("{what} ({code}{dropped})")
                } else {
                    format!("{what} {} ({code}{dropped})", f.label)
                }
            })
            .collect();
        line.push_str(&format!(
            "; {} not subscribed: {}",
            report.failed.len(),
            list.join(", ")
        ));
    }
    // What the PBX reported beyond ipo-top's caps was left out: say so, cap by cap.
    for cap in &report.capped {
        line.push_str(&format!("; {cap}"));
    }
    line.push_str(&format!("; {CONNECTIONS_NOTE}"));
    clean(&line).into_owned()
}

/// What a scope covers, and each queue it names that the PBX does not have with the names
/// it may have meant: `scope: 2 queues, 23 agents; no queue "Sals" (close: Sales)`.
pub fn scope_words(scope: &ScopeSummary) -> String {
    let count = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let mut words = format!(
        "scope: {}, {}",
        count(scope.queues, "queue"),
        count(scope.agents, "agent")
    );
    for u in &scope.unknown {
        words.push_str(&format!("; no queue {:?}", u.name.as_str()));
        if u.close.is_empty() {
            words.push_str(" (nothing close)");
        } else {
            let close: Vec<&str> = u.close.iter().map(|n| n.as_str()).collect();
            words.push_str(&format!(" (close: {})", close.join(", ")));
        }
    }
    words
}

/// The reminder `check` ends with.
pub const CONNECTIONS_NOTE: &str = "IP Office allows 10 MTCTI3 connections in total, shared with \
     the site's other applications (ipo-top uses one while it runs)";

/// Runs the check, waiting at most `wait` for every subscription to be answered.
pub async fn run(config: &Config, wait: Duration) -> Outcome {
    let (handle, updates) = match spawn(config.endpoint.clone(), config.session.clone()) {
        Ok(x) => x,
        Err(e) => return tls_setup_failure(&e, config),
    };
    let mut version: Option<Text> = None;
    let mut connected = false;
    let deadline = tokio::time::sleep(wait);
    tokio::pin!(deadline);
    let outcome = loop {
        let batch = tokio::select! {
            b = updates.next() => b,
            () = &mut deadline => {
                let ep = &config.endpoint;
                break if connected {
                    Outcome::new(
                        Exit::Other,
                        &format!(
                            "connected to {} as {}, but the PBX did not answer every \
                             subscription within {} s; see the log",
                            ep.authority(), ep.username, wait.as_secs()
                        ),
                    )
                } else {
                    Outcome::new(
                        Exit::Unreachable,
                        &format!(
                            "{} did not answer within {} s: check [pbx] host and port in {}",
                            ep.authority(), wait.as_secs(), config.path.display()
                        ),
                    )
                };
            }
        };
        let Some(batch) = batch else {
            break Outcome::new(Exit::Other, "the session ended unexpectedly; see the log");
        };
        let mut done = None;
        for update in batch {
            match update {
                SessionEvent::Model(ModelEvent::Version { text }) => version = Some(text),
                SessionEvent::Model(ModelEvent::Connection { state }) => {
                    connected |= state.is_up();
                }
                SessionEvent::Model(_) => {}
                SessionEvent::ConnectFailed(e) => {
                    done = Some(connect_failure(&e, config));
                    break;
                }
                SessionEvent::SubscribeFailed(f) if f.entity == Entity::Lines => {
                    done = Some(Outcome::new(
                        Exit::Other,
                        &format!(
                            "connected to {}, but the PBX refused the lines subscription ({}): \
                             check the service user's rights",
                            config.endpoint.authority(),
                            f.name.map_or_else(|| f.code.to_string(), str::to_owned)
                        ),
                    ));
                    break;
                }
                // Caps reached come again in the sync report; `check` reads nothing slowly.
                SessionEvent::SubscribeFailed(_)
                | SessionEvent::Command(_)
                | SessionEvent::CapReached(_)
                | SessionEvent::Lagged { .. } => {}
                SessionEvent::Synced(report) => {
                    done = Some(Outcome {
                        exit: Exit::Ok,
                        line: success_line(config, &report, version.as_ref()),
                    });
                    break;
                }
            }
        }
        if let Some(o) = done {
            break o;
        }
    };
    handle.shutdown();
    // The session closes its link politely; never let that hold up the exit for long.
    let _ = tokio::time::timeout(Duration::from_secs(3), handle.join()).await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Guid;
    use crate::session::{Endpoint, Secret, SessionConfig, SubscribeFailure, Trust};

    fn config() -> Config {
        Config {
            path: "/etc/ipo-top/config.toml".into(),
            endpoint: Endpoint {
                host: "10.1.2.3".into(),
                port: 443,
                username: "ctiservice".into(),
                password: Secret::new("x"),
                trust: Trust::SystemRoots,
                connect_timeout: Duration::from_secs(10),
            },
            session: SessionConfig::default(),
            supervisor_extension: None,
            password_source: crate::app::config::PasswordSource::Env("X".into()),
            ui: crate::app::config::UiSettings::default(),
            keymap: crate::ui::Keymap::default(),
            scope: crate::app::config::ScopeSettings::default(),
            alerts: crate::model::AlertConfig::default(),
            wall_rotate: Duration::from_secs(10),
            warnings: Vec::new(),
            shared: None,
            has_pbx: true,
        }
    }

    #[test]
    fn the_report_line_names_what_could_not_be_subscribed() {
        let report = SyncReport {
            users: 212,
            queues: 9,
            park_available: true,
            subscribed: 220,
            failed: vec![
                SubscribeFailure {
                    entity: Entity::User(Guid::from_bytes(&[1])),
                    label: "4102 Nakashima".into(),
                    code: 7,
                    name: Some("MTCTISESS_USERNOTFOUND"),
                    dropped: true,
                },
                SubscribeFailure {
                    entity: Entity::Queue(Guid::from_bytes(&[2])),
                    label: "7309 Night".into(),
                    code: 9,
                    name: Some("MTCTISESS_NOTALLOWED"),
                    dropped: false,
                },
            ],
            round_trip: Some(Duration::from_micros(3100)),
            subscriptions: crate::session::SubscriptionSummary {
                lines: true,
                users: (211, 212),
                queues: (8, 9),
                park_server: Some(true),
                presence: Some(true),
            },
            scope: None,
            capped: Vec::new(),
        };
        assert_eq!(
            success_line(
                &config(),
                &report,
                Some(&Text::from("IP Office 11.1.0.0 build 600"))
            ),
            "connected to 10.1.2.3:443 as ctiservice: 212 users, 9 queues, park server \
             available, round trip 3.1 ms, IP Office 11.1.0.0 build 600; subscribed: lines, \
             211 of 212 users, 8 of 9 queues, park server, presence; 2 not subscribed: \
             user 4102 Nakashima (MTCTISESS_USERNOTFOUND, dropped), queue 7309 Night \
             (MTCTISESS_NOTALLOWED); IP Office allows 10 MTCTI3 connections in total, shared \
             with the site's other applications (ipo-top uses one while it runs)"
        );
    }

    #[test]
    fn text_from_the_pbx_is_printed_cleaned() {
        let report = SyncReport {
            users: 1,
            queues: 1,
            park_available: false,
            subscribed: 1,
            failed: vec![SubscribeFailure {
                entity: Entity::User(Guid::from_bytes(&[1])),
                label: "4102 \u{1b}[2J\u{1b}]0;pwned\u{7}Naka\u{200B}shima".into(),
                code: 7,
                name: Some("MTCTISESS_USERNOTFOUND"),
                dropped: false,
            }],
            round_trip: None,
            subscriptions: crate::session::SubscriptionSummary {
                lines: true,
                users: (0, 1),
                queues: (1, 1),
                park_server: None,
                presence: None,
            },
            scope: None,
            capped: Vec::new(),
        };
        let version = Text::from("IP Office 11.1\u{1b}[31m\u{9b}1;2H build\u{202E}006");
        let line = success_line(&config(), &report, Some(&version));
        assert!(
            line.contains(", IP Office 11.1 build006;")
                && line.contains("user 4102 Nakashima (MTCTISESS_USERNOTFOUND)"),
            "{line}"
        );
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
        // A failure's words carry the PBX's text too.
        let e = ConnectError::Trust {
            reason: "certificate for \u{1b}]8;;http://x\u{1b}\\pbx\u{1b}[8m.example".into(),
        };
        let o = connect_failure(&e, &config());
        assert!(
            !o.line.contains('\u{1b}') && o.line.contains("certificate for pbx.example"),
            "{}",
            o.line
        );
    }

    #[test]
    fn the_caps_reached_are_named() {
        use crate::model::{CapReached, Capped};
        let report = SyncReport {
            users: 1,
            queues: 0,
            park_available: false,
            subscribed: 1,
            failed: Vec::new(),
            round_trip: None,
            subscriptions: crate::session::SubscriptionSummary::default(),
            scope: None,
            capped: vec![CapReached {
                what: Capped::CallAppearances,
                limit: 20_000,
            }],
        };
        let line = success_line(&config(), &report, None);
        assert!(
            line.contains(
                "; the PBX reports more than 20000 call appearances: ignoring the rest; "
            ),
            "{line}"
        );
    }

    #[test]
    fn the_scope_and_its_unknown_queues_are_named() {
        let scope = ScopeSummary {
            queues: 2,
            agents: 23,
            unknown: vec![
                crate::model::UnknownQueue {
                    name: "Sals".into(),
                    close: vec!["Sales".into()],
                },
                crate::model::UnknownQueue {
                    name: "Nowhere".into(),
                    close: vec![],
                },
            ],
        };
        assert_eq!(
            scope_words(&scope),
            "scope: 2 queues, 23 agents; no queue \"Sals\" (close: Sales); no queue \"Nowhere\" \
             (nothing close)"
        );
    }

    #[test]
    fn each_failure_kind_has_its_exit_code_and_advice() {
        let c = config();
        let cases = [
            (
                ConnectError::LoginRejected {
                    status: 403,
                    username: "ctiservice".into(),
                    authority: "10.1.2.3:443".into(),
                },
                Exit::Auth,
                "Enhanced TSPI Access",
            ),
            (
                ConnectError::Trust { reason: "x".into() },
                Exit::Trust,
                "[tls] fingerprint",
            ),
            (
                ConnectError::TimedOut {
                    authority: "10.1.2.3:443".into(),
                    secs: 10,
                },
                Exit::Unreachable,
                "[pbx] host and port",
            ),
            (
                ConnectError::NotFound {
                    url: "wss://10.1.2.3:443/tpkt/openapi".into(),
                },
                Exit::NotFound,
                "no MTCTI3 on this system?",
            ),
            (ConnectError::Subprotocol, Exit::Other, "openapi"),
            (
                ConnectError::Http {
                    status: 503,
                    retry_after: Some(std::time::Duration::from_secs(120)),
                },
                Exit::Other,
                "asked to wait 120 s before trying again: the PBX is busy",
            ),
            (
                ConnectError::Http {
                    status: 429,
                    retry_after: None,
                },
                Exit::Other,
                "HTTP 429: the PBX is busy",
            ),
        ];
        for (e, exit, advice) in cases {
            let o = connect_failure(&e, &c);
            assert_eq!(o.exit, exit, "{e}");
            assert!(o.line.contains(advice), "{}", o.line);
        }
        let codes: Vec<u8> = [
            Exit::Ok,
            Exit::Other,
            Exit::Config,
            Exit::Auth,
            Exit::Trust,
            Exit::Unreachable,
            Exit::NotFound,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
    }
}
