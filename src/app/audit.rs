//! The audit log: every function the screen sends is recorded, before it is sent, as one JSON
//! line in `audit.jsonl` in the data directory (`~/.local/share/ipo-top/audit.jsonl` on
//! Linux; created readable by its owner only), then each result the session reports as
//! another line with the same `id` and the `requestid` it went out with. A function that
//! cannot be recorded is not sent.
//!
//! [`Dispatcher`] is the one path from the screen's [`Request`]s to the session: record,
//! send, and turn the session's reports back into screen events.
//!
//! In shared mode the serving process records the functions viewers send in the same form,
//! with the viewer's identity (`viewer`: the NATS user, or "anonymous" and the local user it
//! claims), in its own audit log and in the site's audit stream.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::private::{PrivateError, open_append, own_dir, private_parent};
use crate::model::{Command, CommandId, CommandReport, CommandStatus};
use crate::session::SessionHandle;
use crate::share::functions::Identity;
use crate::ui::{AuditSubject, Event, Request, Ticket};

/// The file name in the data directory.
pub const FILE_NAME: &str = "audit.jsonl";

/// The default audit log: `audit.jsonl` in the user's data directory
/// (`~/.local/share/ipo-top/audit.jsonl` on Linux, `$XDG_DATA_HOME/ipo-top` when set).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "ipo-top").map(|d| d.data_dir().join(FILE_NAME))
}

/// The audit log could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No data directory could be determined.
    #[error("no data directory for the audit log (no home directory?)")]
    NoPath,
    /// The file (or its directory) could not be created or written.
    #[error("cannot write the audit log {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file or its directory is not safe to write: a link, someone else's, or open to
    /// others.
    #[error("cannot write the audit log {path}: {source}")]
    Unsafe {
        /// The file.
        path: PathBuf,
        /// What is wrong with it or its directory.
        source: PrivateError,
    },
    /// A record could not be put into JSON.
    #[error("cannot encode an audit record: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The first line of a function: what was asked, before it is sent.
#[derive(Serialize)]
struct SentLine<'a> {
    time: String,
    id: &'a str,
    user: &'a str,
    pbx: &'a str,
    action: &'static str,
    appearance: &'a AuditSubject,
    parties: &'a [String],
    argument: &'a str,
    command: &'a Command,
    /// Who sent it from a viewer (shared mode); absent for the screen's own functions.
    #[serde(skip_serializing_if = "Option::is_none")]
    viewer: Option<&'a Identity>,
}

/// A later line: what became of it.
#[derive(Serialize)]
struct ResultLine<'a> {
    time: String,
    id: &'a str,
    requestid: Option<i32>,
    subscribe_id: Option<i32>,
    callid: Option<i32>,
    referencecallid: Option<i32>,
    result: &'a CommandStatus,
    words: String,
}

/// The audit log of one run of the screen.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: Option<PathBuf>,
    user: String,
    pbx: String,
}

/// Who is at the keyboard: `$USER`, else `$LOGNAME`, else (on Linux) the process's user id,
/// else "unknown".
pub fn local_user() -> String {
    if let Some(u) = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| !u.trim().is_empty())
    {
        return u;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata("/proc/self") {
            return format!("uid {}", m.uid());
        }
    }
    "unknown".to_owned()
}

impl AuditLog {
    /// An audit log at `path` (`None`: there is no place for one, and every function is
    /// refused), naming the local `user` and the `pbx` in each line.
    pub fn new(path: Option<PathBuf>, user: impl Into<String>, pbx: impl Into<String>) -> Self {
        AuditLog {
            path,
            user: user.into(),
            pbx: pbx.into(),
        }
    }

    /// Where it is written.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one line (JSON without its newline), as [`AuditLog::sent_line`] and
    /// [`AuditLog::result_line`] make it.
    pub fn write_line(&self, line: &str) -> Result<(), AuditError> {
        let path = self.path.as_ref().ok_or(AuditError::NoPath)?;
        let mut text = line.to_owned();
        text.push('\n');
        let fail = |source| AuditError::Write {
            path: path.clone(),
            source,
        };
        // Its directory is ours alone (0700), the file too (0600), and a link is never
        // followed: another user of the machine can neither read it nor redirect it.
        let private = |source| AuditError::Unsafe {
            path: path.clone(),
            source,
        };
        match path.parent() {
            // ipo-top's own data directory, closed to others if an older version left it open.
            Some(d) if default_path().as_deref().and_then(Path::parent) == Some(d) => {
                own_dir(d).map_err(private)?;
            }
            _ => private_parent(path).map_err(private)?,
        }
        let mut f = open_append(path).map_err(private)?;
        // One write per line: appends from several ipo-top processes do not interleave.
        f.write_all(text.as_bytes()).map_err(fail)?;
        f.flush().map_err(fail)
    }

    /// Records a function about to be sent, under `id`.
    pub fn sent(&self, id: &str, req: &Request) -> Result<(), AuditError> {
        self.write_line(&self.sent_line(id, req, None)?)
    }

    /// The line recording a function about to be sent under `id`, sent by `viewer` when it
    /// came from one (shared mode): written here and to the site's audit stream.
    pub fn sent_line(
        &self,
        id: &str,
        req: &Request,
        viewer: Option<&Identity>,
    ) -> Result<String, AuditError> {
        Ok(serde_json::to_string(&SentLine {
            time: jiff::Timestamp::now().to_string(),
            id,
            user: &self.user,
            pbx: &self.pbx,
            action: req.audit.action,
            appearance: &req.audit.appearance,
            parties: &req.audit.parties,
            argument: &req.audit.argument,
            command: &req.command,
            viewer,
        })?)
    }

    /// Records what became of the function recorded under `id`.
    pub fn result(&self, id: &str, report: &CommandReport) -> Result<(), AuditError> {
        self.write_line(&self.result_line(id, report)?)
    }

    /// The line recording what became of the function recorded under `id`.
    pub fn result_line(&self, id: &str, report: &CommandReport) -> Result<String, AuditError> {
        Ok(serde_json::to_string(&ResultLine {
            time: jiff::Timestamp::now().to_string(),
            id,
            requestid: report.requestid,
            subscribe_id: report.subscribe_id,
            callid: report.callid,
            referencecallid: report.reference,
            result: &report.status,
            words: report.status.to_string(),
        })?)
    }
}

/// What sends commands: the session, or a test's stand-in.
pub trait Commands {
    /// Sends a command; its reports come back with the id returned.
    fn command(&self, command: Command) -> CommandId;
}

impl Commands for SessionHandle {
    fn command(&self, command: Command) -> CommandId {
        SessionHandle::command(self, command)
    }
}

/// The path from the screen's requests to the session, through the audit log.
#[derive(Debug)]
pub struct Dispatcher {
    audit: AuditLog,
    /// Each command under way: the screen's ticket and the audit log's id.
    pending: HashMap<CommandId, (Ticket, String)>,
}

impl Dispatcher {
    /// A dispatcher that records in `audit`.
    pub fn new(audit: AuditLog) -> Dispatcher {
        Dispatcher {
            audit,
            pending: HashMap::new(),
        }
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Records the request, then sends it; if it cannot be recorded it is not sent, and the
    /// screen is told why.
    pub fn send(&mut self, req: Request, to: &impl Commands) -> Vec<Event> {
        // Unique across runs and processes sharing the file: the process and the ticket.
        let id = format!("{}-{}", std::process::id(), req.ticket.0);
        if let Err(e) = self.audit.sent(&id, &req) {
            tracing::warn!(error = %e, "function refused: the audit log cannot be written");
            return vec![Event::Outcome {
                ticket: req.ticket,
                status: CommandStatus::Refused {
                    reason: format!("{e} (every function is recorded before it is sent)").into(),
                },
            }];
        }
        // The words name callers and numbers: those stay in the audit log, not the log.
        tracing::info!(id, action = req.audit.action, "sending");
        let command_id = to.command(req.command);
        self.pending.insert(command_id, (req.ticket, id));
        Vec::new()
    }

    /// A report from the session: recorded, and turned into the screen's event. Reports of
    /// commands not sent from here are ignored.
    pub fn report(&mut self, report: &CommandReport) -> Vec<Event> {
        let Some((ticket, id)) = self.pending.get(&report.id).cloned() else {
            return Vec::new();
        };
        let mut events = Vec::new();
        if let Err(e) = self.audit.result(&id, report) {
            tracing::warn!(error = %e, "cannot record a result in the audit log");
            events.push(Event::Message(crate::ui::Message::new(
                crate::ui::Level::Error,
                format!("{e} (the result below is not recorded)"),
            )));
        }
        if report.status.is_final() {
            self.pending.remove(&report.id);
        }
        events.push(Event::Outcome {
            ticket,
            status: report.status.clone(),
        });
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppearanceId, Text};
    use crate::share::functions::Proof;
    use crate::ui::{AuditRecord, AuditSubject};

    fn transfer() -> Request {
        Request {
            ticket: Ticket(4),
            command: Command::Transfer {
                on: AppearanceId(1),
                target: Text::from("4103"),
            },
            words: "transferring 02079460958 to 4103".into(),
            audit: AuditRecord {
                action: "BlindTransfer",
                appearance: AuditSubject {
                    kind: "queue",
                    extn: "7301".into(),
                    name: "Claims Desk".into(),
                },
                parties: vec!["caller 02079460958".into()],
                argument: "4103".into(),
            },
        }
    }

    #[test]
    fn a_viewers_function_names_the_viewer_and_the_screens_own_does_not() {
        let log = AuditLog::new(None, "ipo-serve", "ipo-hq");
        let viewer = Identity {
            user: "alice".into(),
            proof: Proof::Nats,
            claimed_user: "ann".into(),
        };
        let line = log.sent_line("9-1", &transfer(), Some(&viewer)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["viewer"]["user"], "alice");
        assert_eq!(v["viewer"]["proof"], "nats");
        assert_eq!(v["viewer"]["claimed_user"], "ann");
        assert_eq!(v["user"], "ipo-serve");
        assert_eq!(v["action"], "BlindTransfer");
        let own = log.sent_line("9-2", &transfer(), None).unwrap();
        assert!(!own.contains("viewer"), "{own}");
        // Without a place for the log, nothing can be recorded (and so nothing is sent).
        assert!(matches!(log.write_line(&line), Err(AuditError::NoPath)));
    }
}
