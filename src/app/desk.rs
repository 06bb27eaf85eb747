//! The NATS side of functions from viewers, kept thin: the serving side's [`Desk`] takes
//! requests on every user's command subject, answers `hello` and refusals itself, hands the
//! allowed functions on ([`Incoming`]), records audit lines in the site's audit stream and
//! sends replies; [`ViewerFunctions`] checks each against the serving side's model, records
//! it (audit log, then the stream's acknowledgement) and only then gives it to the session,
//! and turns the session's reports into replies. A viewer's [`Asker`] says `hello` and sends
//! its functions. What to decide and what to say is [`crate::share::functions`]'s.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{Client, Message, Subject, Subscriber};
use futures_util::StreamExt;

use super::audit::{AuditLog, Commands};
use super::config::SharedSettings;
use crate::model::{AppearanceKey, Command, CommandId, CommandReport, CommandStatus, Tables};
use crate::session::SessionHandle;
use crate::share::functions::resolve;
use crate::share::functions::{
    Answer, Ask, Asking, Grant, HELLO_TIMEOUT, Policy, Reply, Standing, audit_stream,
    audit_subject, command_filter, command_subject, decide, is_publish_denied,
};
use crate::ui::functions::describe;
use crate::ui::{Request, Ticket};

/// How long the audit stream keeps a line: long enough for any review, not forever (the
/// lines name callers).
pub const AUDIT_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);

/// How long creating (or finding) the audit stream may take.
pub const STREAM_OPEN_TIMEOUT: Duration = Duration::from_secs(20);

/// Something NATS refused or could not do.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The command subjects could not be subscribed to.
    #[error("cannot take functions on {subject}: {source}")]
    Subscribe {
        /// The subjects.
        subject: String,
        /// Why.
        source: async_nats::SubscribeError,
    },
    /// The audit stream could not be created or found.
    #[error("cannot open the audit stream {stream}: {source}")]
    Stream {
        /// The stream.
        stream: String,
        /// Why.
        source: jetstream::context::CreateStreamError,
    },
    /// An audit line was not acknowledged by the stream.
    #[error("the audit stream did not take the line: {0}")]
    Record(String),
    /// A request could not be published.
    #[error("cannot send to the serving process: {0}")]
    Publish(String),
}

/// A function a viewer may send by the serving side's policy: still to be checked against
/// the model, recorded and sent.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// Who asked, and their My line.
    pub grant: Grant,
    /// The viewer's number for it.
    pub ticket: u64,
    /// The call, by line and callid.
    pub call: Option<AppearanceKey>,
    /// The command as the viewer's model made it.
    pub command: Command,
    /// Where its replies go.
    pub reply: Option<Subject>,
}

/// The serving side's end: one subscription to every user's command subject.
#[derive(Debug)]
pub struct Desk {
    client: Client,
    js: jetstream::Context,
    site: String,
    policy: Policy,
    /// Whether the NATS server asks for credentials (its INFO's `auth_required`).
    authenticated: bool,
    requests: Subscriber,
}

impl Desk {
    /// Opens the site's audit stream (file storage: the audit outlives the server; no
    /// purge, no delete) through `js` (whose timeout bounds each audit line's wait) and
    /// subscribes to the command subjects.
    pub async fn open(
        client: Client,
        js: jetstream::Context,
        site: &str,
        policy: Policy,
    ) -> Result<Desk, DeskError> {
        let subject = command_filter(site);
        let requests = client
            .subscribe(subject.clone())
            .await
            .map_err(|source| DeskError::Subscribe { subject, source })?;
        // The stream is created after subscribing: the server answers this connection's
        // requests in order, so once it has answered, it has the subscription too, and no
        // request sent after `open` returns is missed.
        let name = audit_stream(site);
        // Creating a file-backed stream can take a loaded server longer than an audit line's
        // wait; it happens once.
        let mut opening = js.clone();
        opening.set_timeout(STREAM_OPEN_TIMEOUT);
        opening
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![audit_subject(site)],
                storage: stream::StorageType::File,
                max_age: AUDIT_MAX_AGE,
                deny_delete: true,
                deny_purge: true,
                ..Default::default()
            })
            .await
            .map_err(|source| DeskError::Stream {
                stream: name,
                source,
            })?;
        Ok(Desk {
            authenticated: client.server_info().auth_required,
            client,
            js,
            site: site.to_owned(),
            policy,
            requests,
        })
    }

    /// The next request (cancel-safe: nothing is lost when another branch of a `select!`
    /// wins). `None` when the subscription ended.
    pub async fn next(&mut self) -> Option<Message> {
        self.requests.next().await
    }

    /// Handles a request: `hello` and refused functions are answered here; an allowed
    /// function is given back to be checked against the model and sent.
    pub async fn take(&self, msg: Message) -> Option<Incoming> {
        let ask = match Ask::from_json(&msg.payload) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(subject = %msg.subject, error = %e, "unreadable request ignored");
                return None;
            }
        };
        let decision = decide(
            &self.policy,
            &self.site,
            msg.subject.as_str(),
            self.authenticated,
            &ask.local_user,
        );
        match ask.asking {
            Asking::Hello => {
                let refused = decision.err().map(|e| e.to_string());
                self.answer(
                    msg.reply.as_ref(),
                    &Reply::new(Answer::Hello {
                        site: self.site.clone(),
                        refused,
                    }),
                )
                .await;
                None
            }
            Asking::Function {
                ticket,
                call,
                command,
            } => match decision {
                Err(e) => {
                    tracing::info!(subject = %msg.subject, reason = %e, "function refused");
                    self.answer(msg.reply.as_ref(), &Reply::refused(ticket, e.to_string()))
                        .await;
                    None
                }
                Ok(grant) => Some(Incoming {
                    grant,
                    ticket,
                    call,
                    command,
                    reply: msg.reply,
                }),
            },
        }
    }

    /// Records one audit line in the stream and waits for the stream's acknowledgement: a
    /// function is sent on the PBX only after that.
    pub async fn record(&self, line: String) -> Result<(), DeskError> {
        let ack = self
            .js
            .publish(audit_subject(&self.site), line.into())
            .await
            .map_err(|e| DeskError::Record(e.to_string()))?;
        ack.await.map_err(|e| DeskError::Record(e.to_string()))?;
        Ok(())
    }

    /// Sends a reply; a viewer that is gone is no error worth more than a log line.
    pub async fn answer(&self, to: Option<&Subject>, reply: &Reply) {
        let Some(to) = to else { return };
        if let Err(e) = self
            .client
            .publish(to.clone(), reply.to_json().into())
            .await
        {
            tracing::warn!(error = %e, "cannot reply to a viewer");
        }
    }
}

/// A viewer's end: its command subject and the local user it names.
#[derive(Clone, Debug)]
pub struct Asker {
    client: Client,
    site: String,
    subject: String,
    local_user: String,
}

impl Asker {
    /// The asker of a viewer logged in to NATS as `user` (the subject token: its NATS user
    /// name, or [`crate::share::functions::NO_USER_TOKEN`]).
    pub fn new(client: Client, site: &str, user: &str, local_user: &str) -> Asker {
        Asker {
            client,
            site: site.to_owned(),
            subject: command_subject(site, user),
            local_user: local_user.to_owned(),
        }
    }

    /// The subject it sends on.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The site.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// Says `hello` and learns whether functions can be sent: the serving side's answer, the
    /// NATS server's refusal to let this user publish there (as it reports it in
    /// `server_errors`, the connection's error texts), or no answer in [`HELLO_TIMEOUT`].
    pub async fn hello(
        &self,
        server_errors: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    ) -> Standing {
        let mut replies = match self.publish(Asking::Hello).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "hello not sent");
                return Standing::NoServer;
            }
        };
        let timeout = tokio::time::sleep(HELLO_TIMEOUT);
        tokio::pin!(timeout);
        loop {
            tokio::select! {
                msg = replies.next() => {
                    let Some(msg) = msg else { return Standing::NoServer };
                    // The server's own answer: nobody takes requests on the subject.
                    if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                        return Standing::NoServer;
                    }
                    match Reply::from_json(&msg.payload).map(|r| r.answer) {
                        Ok(Answer::Hello { refused: None, .. }) => return Standing::Allowed,
                        Ok(Answer::Hello { refused: Some(why), .. }) => {
                            return Standing::Refused(why);
                        }
                        Ok(other) => tracing::warn!(?other, "unexpected answer to hello"),
                        Err(e) => return Standing::Refused(e.to_string()),
                    }
                }
                e = server_errors.recv() => match e {
                    Some(e) if is_publish_denied(&e, &self.subject) => {
                        return Standing::NotPermitted;
                    }
                    Some(_) => {}
                    None => return Standing::NoServer,
                },
                () = &mut timeout => return Standing::NoServer,
            }
        }
    }

    /// Sends a function; its replies arrive on the subscription returned.
    pub async fn send(
        &self,
        ticket: u64,
        call: Option<AppearanceKey>,
        command: Command,
    ) -> Result<Subscriber, DeskError> {
        self.publish(Asking::Function {
            ticket,
            call,
            command,
        })
        .await
    }

    /// Publishes a request with a fresh inbox (under this user's inbox prefix) as its reply
    /// subject, subscribed first so that no reply is missed.
    async fn publish(&self, asking: Asking) -> Result<Subscriber, DeskError> {
        let inbox = self.client.new_inbox();
        let replies = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| DeskError::Publish(e.to_string()))?;
        let ask = Ask::new(self.local_user.clone(), asking);
        self.client
            .publish_with_reply(self.subject.clone(), inbox, ask.to_json().into())
            .await
            .map_err(|e| DeskError::Publish(e.to_string()))?;
        self.client
            .flush()
            .await
            .map_err(|e| DeskError::Publish(e.to_string()))?;
        Ok(replies)
    }
}

/// What carries out a viewer's function: the session, for that viewer's My line.
pub trait CommandsAs {
    /// Sends `command` with barge, pickup and unpark made from `extension`.
    fn command_as(&self, command: Command, extension: Option<String>) -> CommandId;
}

impl CommandsAs for SessionHandle {
    fn command_as(&self, command: Command, extension: Option<String>) -> CommandId {
        SessionHandle::command_as(self, command, extension)
    }
}

/// A viewer's function under way: where its replies go and its audit id.
#[derive(Debug)]
struct Pending {
    reply: Option<Subject>,
    ticket: u64,
    audit_id: String,
}

/// The serving side's path for viewers' functions: model check, audit log, audit stream,
/// session; and back, each report to the audit log, the stream and the viewer.
#[derive(Debug)]
pub struct ViewerFunctions {
    audit: AuditLog,
    pending: HashMap<CommandId, Pending>,
    taken: u64,
}

impl ViewerFunctions {
    /// Records in `audit` (the serving side's audit log).
    pub fn new(audit: AuditLog) -> ViewerFunctions {
        ViewerFunctions {
            audit,
            pending: HashMap::new(),
            taken: 0,
        }
    }

    /// Checks a viewer's function against `model` as the screen would (the call by its line
    /// and callid, the function allowed there now, barge and the like from the viewer's My
    /// line), records it in the audit log and in the audit stream, and sends it once the
    /// stream has acknowledged the line. Anything refused is answered at once.
    pub async fn take(
        &mut self,
        desk: &Desk,
        incoming: Incoming,
        model: &Tables,
        session: &impl CommandsAs,
    ) {
        let Incoming {
            grant,
            ticket,
            call,
            command,
            reply,
        } = incoming;
        let refuse = |reason: String| Reply::refused(ticket, reason);
        let checked = resolve(model, call.as_ref(), command)
            .and_then(|c| describe(model, grant.extension.as_deref(), &c).map_err(|r| r.why));
        let draft = match checked {
            Ok(d) => d,
            Err(why) => {
                tracing::info!(viewer = %grant.identity, reason = %why, "viewer's function refused");
                desk.answer(reply.as_ref(), &refuse(why)).await;
                return;
            }
        };
        let req = Request {
            ticket: Ticket(ticket),
            command: draft.command,
            words: draft.words,
            audit: draft.audit,
        };
        self.taken += 1;
        // Unique across processes sharing the file, and apart from the screen's own ids.
        let id = format!("{}-v{}", std::process::id(), self.taken);
        let recorded = match self.audit.sent_line(&id, &req, Some(&grant.identity)) {
            Ok(line) => match self.audit.write_line(&line) {
                Ok(()) => desk.record(line).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "viewer's function refused: it cannot be recorded");
            let why = format!("{e} (every function is recorded before it is sent)");
            desk.answer(reply.as_ref(), &refuse(why)).await;
            return;
        }
        tracing::info!(id, viewer = %grant.identity, action = req.audit.action, "sending for a viewer");
        let command_id = session.command_as(req.command, grant.extension);
        self.pending.insert(
            command_id,
            Pending {
                reply,
                ticket,
                audit_id: id,
            },
        );
    }

    /// A report from the session: recorded and passed to the viewer that asked. `false` for
    /// a command no viewer sent.
    pub async fn report(&mut self, desk: &Desk, report: &CommandReport) -> bool {
        let Some(p) = self.pending.get(&report.id) else {
            return false;
        };
        match self.audit.result_line(&p.audit_id, report) {
            Ok(line) => {
                if let Err(e) = self.audit.write_line(&line) {
                    tracing::warn!(error = %e, "cannot record a viewer's result in the audit log");
                }
                if let Err(e) = desk.record(line).await {
                    tracing::warn!(error = %e, "cannot record a viewer's result in the audit stream");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode a viewer's result"),
        }
        desk.answer(
            p.reply.as_ref(),
            &Reply::status(p.ticket, report.status.clone()),
        )
        .await;
        if report.status.is_final() {
            self.pending.remove(&report.id);
        }
        true
    }
}

/// Who may send functions, from `[shared]` and the serving side's own `[supervisor]
/// extension` (the My line of an anonymous viewer, where anonymous functions are allowed).
pub fn policy(shared: &SharedSettings, own_extension: Option<&str>) -> Policy {
    Policy {
        users: shared
            .users
            .iter()
            .map(|(user, extn)| {
                (
                    user.clone(),
                    crate::share::functions::UserRights {
                        extension: extn.clone(),
                    },
                )
            })
            .collect(),
        anonymous_functions: shared.anonymous_functions,
        own_extension: own_extension.map(str::to_owned),
    }
}

/// The extensions `[shared.users]` maps viewers to: the serving session keeps their lines
/// subscribed whatever its scope ([`crate::session::SessionConfig::other_supervisors`]).
pub fn viewer_lines(shared: &SharedSettings) -> Vec<String> {
    let mut lines: Vec<String> = shared.users.values().cloned().collect();
    lines.sort();
    lines.dedup();
    lines
}

/// The token a viewer's command subject ends with: its NATS user's name (`user` with
/// `password_file`; with a creds file, `[shared] user` or the name in its JWT; with an nkey
/// file, `[shared] user`), which the server's permissions must tie to that subject;
/// [`crate::share::functions::NO_USER_TOKEN`] without a name (no authentication, or an nkey
/// file without `user`).
pub fn viewer_token(shared: &SharedSettings) -> String {
    shared
        .credentials
        .user()
        .unwrap_or(crate::share::functions::NO_USER_TOKEN)
        .to_owned()
}

/// How long a viewer waits for the serving side's next word on a function before calling
/// its outcome unknown: longer than the serving side's own wait for an effect.
pub const VIEWER_PATIENCE: Duration = Duration::from_secs(60);

/// A viewer's way to send functions, for the screen's dispatcher as the session is in direct
/// mode: each command goes to the viewer's task (which knows the calls by line and callid),
/// and its steps come back as [`CommandReport`]s. Refused at once, saying why, while the
/// viewer may not send ([`Standing`]).
#[derive(Clone, Debug)]
pub struct ViewerSender {
    tx: tokio::sync::mpsc::UnboundedSender<(CommandId, Command)>,
    standing: Arc<std::sync::Mutex<(Standing, String)>>,
    /// What `hello` found, for the screen to show from the start; `None` until it is known.
    learnt: Arc<tokio::sync::watch::Sender<Option<Standing>>>,
    reports: tokio::sync::mpsc::UnboundedSender<CommandReport>,
    next: Arc<AtomicU64>,
}

/// The viewer task's end of a [`ViewerSender`]: the commands to send.
pub type ViewerQueue = tokio::sync::mpsc::UnboundedReceiver<(CommandId, Command)>;

impl ViewerSender {
    /// A sender for `site` whose reports go to `reports`, and the queue the viewer's task
    /// takes the commands from ([`send_function`]). It refuses until [`ViewerSender::set`]
    /// says the viewer may send.
    pub fn new(
        site: &str,
        reports: tokio::sync::mpsc::UnboundedSender<CommandReport>,
    ) -> (ViewerSender, ViewerQueue) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            ViewerSender {
                tx,
                standing: Arc::new(std::sync::Mutex::new((Standing::NoServer, site.to_owned()))),
                learnt: Arc::new(tokio::sync::watch::Sender::new(None)),
                reports,
                next: Arc::new(AtomicU64::new(1)),
            },
            rx,
        )
    }

    /// What `hello` found (or `--read-only`).
    pub fn set(&self, standing: Standing) {
        if let Ok(mut s) = self.standing.lock() {
            s.0 = standing.clone();
        }
        self.learnt.send_if_modified(|was| {
            let changed = was.as_ref() != Some(&standing);
            *was = Some(standing);
            changed
        });
    }

    /// What `hello` found, each time it changes (`None` until the first answer, or its
    /// timeout): the screen says from the start why functions cannot be sent.
    pub fn learnt(&self) -> tokio::sync::watch::Receiver<Option<Standing>> {
        self.learnt.subscribe()
    }

    /// Whether no serving process answered the last `hello`.
    pub fn unanswered(&self) -> bool {
        self.standing
            .lock()
            .is_ok_and(|s| s.0 == Standing::NoServer)
    }

    /// Where this sender's reports go.
    pub fn reports(&self) -> tokio::sync::mpsc::UnboundedSender<CommandReport> {
        self.reports.clone()
    }

    /// Why functions cannot be sent now, in the words the screen shows; `None` when they can.
    pub fn refusal(&self) -> Option<String> {
        self.standing.lock().ok().and_then(|s| s.0.message(&s.1))
    }
}

impl Commands for ViewerSender {
    fn command(&self, command: Command) -> CommandId {
        let id = CommandId(self.next.fetch_add(1, Ordering::Relaxed));
        let refused = |reason: String| CommandReport {
            id,
            command: command.clone(),
            status: CommandStatus::Refused {
                reason: reason.into(),
            },
            requestid: None,
            subscribe_id: None,
            callid: None,
            reference: None,
        };
        // Without a serving process yet, the viewer's task asks again before sending.
        let waiting = self.unanswered();
        if let Some(why) = self.refusal().filter(|_| !waiting) {
            let _ = self.reports.send(refused(why));
        } else if self.tx.send((id, command.clone())).is_err() {
            let _ = self
                .reports
                .send(refused("the viewer's link to NATS has ended".to_owned()));
        }
        id
    }
}

/// Sends one function from the viewer's task: the call named by its line and callid as
/// `model` (the viewer's copy) has it, then each reply, as a report, to `reports` until the
/// final one (or [`VIEWER_PATIENCE`] without a word: the outcome is unknown).
pub async fn send_function(
    asker: &Asker,
    model: &Tables,
    id: CommandId,
    command: Command,
    reports: tokio::sync::mpsc::UnboundedSender<CommandReport>,
) {
    let report = move |command: &Command, status: CommandStatus| CommandReport {
        id,
        command: command.clone(),
        status,
        requestid: None,
        subscribe_id: None,
        callid: None,
        reference: None,
    };
    let call = match command.appearance() {
        None => None,
        Some(a) => match model.appearance(a) {
            Some(a) => Some(a.key.clone()),
            None => {
                let _ = reports.send(report(
                    &command,
                    CommandStatus::Refused {
                        reason: "that call has ended".into(),
                    },
                ));
                return;
            }
        },
    };
    let mut replies = match asker.send(id.0, call, command.clone()).await {
        Ok(r) => r,
        Err(e) => {
            let _ = reports.send(report(
                &command,
                CommandStatus::Refused {
                    reason: e.to_string().into(),
                },
            ));
            return;
        }
    };
    let site = asker.site().to_owned();
    tokio::spawn(async move {
        loop {
            let next = tokio::time::timeout(VIEWER_PATIENCE, replies.next()).await;
            let status = match next {
                Ok(Some(msg)) if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) => {
                    CommandStatus::Refused {
                        reason: Standing::NoServer.message(&site).unwrap_or_default().into(),
                    }
                }
                Ok(Some(msg)) => match Reply::from_json(&msg.payload).map(|r| r.answer) {
                    Ok(Answer::Status { ticket, status }) if ticket == id.0 => status,
                    Ok(_) => continue,
                    Err(e) => CommandStatus::Interrupted {
                        reason: e.to_string().into(),
                    },
                },
                Ok(None) => CommandStatus::Interrupted {
                    reason: "the link to NATS ended before the outcome was known".into(),
                },
                Err(_) => CommandStatus::Interrupted {
                    reason: format!(
                        "the serving process said nothing more for {} s",
                        VIEWER_PATIENCE.as_secs()
                    )
                    .into(),
                },
            };
            let last = status.is_final();
            if reports.send(report(&command, status)).is_err() || last {
                return;
            }
        }
    });
}
