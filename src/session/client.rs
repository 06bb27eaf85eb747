//! The thin tokio task that owns the socket and drives the engine: it drains the engine's
//! outputs (frames, events) until the engine names a deadline, then waits for the socket, the
//! deadline or a command. Model events go to the reader coalesced, through a mailbox that never
//! blocks the task, so a slow reader never delays an ack.
//!
//! Every write to the socket has a deadline ([`SessionConfig::write_deadline`]): a PBX that
//! stops reading is a dead link, reported and reconnected like any other loss. The task also
//! remembers the credentials each system refused and never sends them to it again, whatever
//! it is asked.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::config::SessionConfig;
use super::connect::{WsStream, open, probe};
use super::endpoint::{Endpoint, LoginIdentity};
use super::engine::{Counters, Disconnect, Io, Session, SessionEvent};
use super::error::ConnectError;
use super::tls::{TlsSetupError, client_config};
use crate::model::{Coalescer, Command, CommandId, MailboxLimits, PbxSystem};
use crate::protocol::Framing;
use crate::protocol::limits::{MAILBOX_FOLD_AFTER, MAILBOX_MAX_OTHER, MAILBOX_MAX_PENDING};

/// What the application can ask of a running session.
enum Control {
    Retry,
    /// New settings for the primary and the secondary (both: they share the service user).
    RetryWith(Box<(Dial, Option<Dial>)>),
    /// A command, and the My line it is made from when not the configured supervisor's.
    Run(CommandId, Command, Option<String>),
    Shutdown,
}

/// What waits for the reader. Bounded, so a reader that stops reading (a blocked pipe, a
/// slow link) costs memory up to the limits and no more; what was folded away is counted and
/// told to the reader as [`SessionEvent::Lagged`] with its next batch.
struct Mailbox {
    model: Coalescer,
    other: VecDeque<SessionEvent>,
    /// Other events dropped since the last batch.
    dropped: u64,
    finished: Option<Counters>,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox {
            model: Coalescer::bounded(MailboxLimits {
                fold_after: MAILBOX_FOLD_AFTER,
                max_pending: MAILBOX_MAX_PENDING,
            }),
            other: VecDeque::new(),
            dropped: 0,
            finished: None,
        }
    }
}

impl Mailbox {
    fn push_other(&mut self, ev: SessionEvent) {
        if self.other.len() >= MAILBOX_MAX_OTHER {
            // Refusals and failed attempts repeat and matter least once many are pending;
            // otherwise the oldest goes.
            let repeatable = self.other.iter().position(|e| {
                matches!(
                    e,
                    SessionEvent::SubscribeFailed(_) | SessionEvent::ConnectFailed(_)
                )
            });
            let _ = self.other.remove(repeatable.unwrap_or(0));
            self.dropped += 1;
        }
        self.other.push_back(ev);
    }

    /// Everything pending, as one batch: how many were folded away first, then the model's
    /// events in order, then the session's own.
    fn take_batch(&mut self) -> Vec<SessionEvent> {
        let folded = self.model.take_folded() + std::mem::take(&mut self.dropped);
        let mut batch = Vec::with_capacity(1 + self.model.len() + self.other.len());
        if folded > 0 {
            batch.push(SessionEvent::Lagged { folded });
        }
        batch.extend(self.model.take().into_iter().map(SessionEvent::Model));
        batch.extend(self.other.drain(..));
        batch
    }

    fn is_empty(&self) -> bool {
        self.model.is_empty()
            && self.other.is_empty()
            && self.dropped == 0
            && !self.model.has_folded()
    }
}

struct Shared {
    mailbox: Mutex<Mailbox>,
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        // A poisoned lock only means a reader panicked mid-take; the data is still whole.
        self.mailbox.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The reading end: batches of session events, model events coalesced while the reader was
/// busy.
pub struct Updates {
    shared: Arc<Shared>,
}

impl Updates {
    /// Waits for the next batch (model events first, in order, then the session's own
    /// events; a [`SessionEvent::Lagged`] before them when the reader fell so far behind that
    /// some were folded away). `None` once the session has ended and everything has been
    /// read.
    pub async fn next(&self) -> Option<Vec<SessionEvent>> {
        loop {
            {
                let mut mb = self.shared.lock();
                if !mb.is_empty() {
                    return Some(mb.take_batch());
                }
                if mb.finished.is_some() {
                    return None;
                }
            }
            self.shared.wake.notified().await;
        }
    }

    /// The session's wire counters, once it has ended.
    pub fn final_counters(&self) -> Option<Counters> {
        self.shared.lock().finished
    }
}

/// The controlling end of a running session. Dropping it shuts the session down.
pub struct SessionHandle {
    commands: mpsc::UnboundedSender<Control>,
    next_command: AtomicU64,
    task: JoinHandle<()>,
}

impl SessionHandle {
    /// Try to connect now (after a rejected login, once the credentials are fixed; or to cut
    /// a reconnect wait short).
    pub fn retry(&self) {
        let _ = self.commands.send(Control::Retry);
    }

    /// Sends a command the supervisor chose. Its progress comes back as [`SessionEvent::Command`]
    /// reports carrying the id returned here. Never queued: while the link is down (or in
    /// read-only mode) the first report refuses it.
    pub fn command(&self, command: Command) -> CommandId {
        self.run(command, None)
    }

    /// Sends a command for another supervisor (a viewer in shared mode): barge, pickup and
    /// unpark are made from `extension`, that supervisor's My line, not from the configured
    /// one. Otherwise as [`SessionHandle::command`].
    pub fn command_as(&self, command: Command, extension: Option<String>) -> CommandId {
        self.run(command, Some(extension.unwrap_or_default()))
    }

    fn run(&self, command: Command, extension: Option<String>) -> CommandId {
        let id = CommandId(self.next_command.fetch_add(1, Ordering::Relaxed));
        if self
            .commands
            .send(Control::Run(id, command.clone(), extension))
            .is_err()
        {
            tracing::warn!(id = id.0, "command after the session ended: not sent");
        }
        id
    }

    /// Try to connect now with other settings (say, a corrected password after a refused
    /// login) for the primary and the secondary system: the attempt goes to the system the
    /// session was on (the one that refused), and any later failover uses the new settings
    /// too. The model is kept: the new connection reconciles it like any reconnect. A live
    /// link is left alone; the settings then apply from the next connection. Credentials a
    /// system refused are never sent to it again, even if given here.
    pub fn retry_with(
        &self,
        primary: Endpoint,
        secondary: Option<Endpoint>,
    ) -> Result<(), TlsSetupError> {
        let primary = Dial::new(primary)?;
        let secondary = secondary.map(Dial::new).transpose()?;
        let _ = self
            .commands
            .send(Control::RetryWith(Box::new((primary, secondary))));
        Ok(())
    }

    /// Close the link and end the session.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Control::Shutdown);
    }

    /// Waits until the session task has ended.
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// Starts a session on the current tokio runtime.
pub fn spawn(
    endpoint: Endpoint,
    config: SessionConfig,
) -> Result<(SessionHandle, Updates), TlsSetupError> {
    let primary = Dial::new(endpoint)?;
    let secondary = config.secondary.clone().map(Dial::new).transpose()?;
    let framing = config.framing;
    let write_deadline = config.write_deadline();
    let shared = Arc::new(Shared {
        mailbox: Mutex::new(Mailbox::default()),
        wake: Notify::new(),
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = Session::new(config, Instant::now());
    let systems = Systems {
        primary,
        secondary,
        framing,
        write_deadline,
        refused: HashSet::new(),
    };
    let task = tokio::spawn(run(engine, systems, shared.clone(), rx));
    Ok((
        SessionHandle {
            commands: tx,
            next_command: AtomicU64::new(1),
            task,
        },
        Updates { shared },
    ))
}

type Dialing = Pin<Box<dyn Future<Output = Result<WsStream, ConnectError>> + Send>>;
type Probing = Pin<Box<dyn Future<Output = bool> + Send>>;

/// One system as the I/O task reaches it: where, and the TLS settings that trust it.
#[derive(Clone)]
struct Dial {
    endpoint: Endpoint,
    tls: Arc<rustls::ClientConfig>,
}

impl Dial {
    fn new(endpoint: Endpoint) -> Result<Dial, TlsSetupError> {
        let tls = client_config(&endpoint.trust)?;
        Ok(Dial { endpoint, tls })
    }
}

/// The systems the engine may ask for, the framing every link speaks (the engine codes with
/// the same value: both come from one [`SessionConfig::framing`]), how long a write may
/// wait, and the logins each system has refused.
struct Systems {
    primary: Dial,
    secondary: Option<Dial>,
    framing: Framing,
    write_deadline: Duration,
    /// Credentials a system refused (401/403), with that system: never sent to it again.
    refused: HashSet<LoginIdentity>,
}

impl Systems {
    /// The system the engine named; the primary when there is no secondary.
    fn get(&self, system: PbxSystem) -> Dial {
        match (system, &self.secondary) {
            (PbxSystem::Secondary, Some(s)) => s.clone(),
            _ => self.primary.clone(),
        }
    }
}

/// Runs one write (or flush, or close) on the socket within the deadline; a write that waits
/// longer means the PBX stopped reading.
async fn within_deadline<T>(
    deadline: Duration,
    write: impl Future<Output = Result<T, tokio_tungstenite::tungstenite::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(deadline, write).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("write failed: {e}")),
        Err(_) => Err(format!(
            "the PBX stopped reading: a write waited {} s",
            deadline.as_secs_f64()
        )),
    }
}

async fn run(
    mut engine: Session,
    mut systems: Systems,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Control>,
) {
    let mut ws: Option<WsStream> = None;
    let mut dialing: Option<(LoginIdentity, Dialing)> = None;
    let mut probing: Option<Probing> = None;
    let mut commands_open = true;
    loop {
        // Carry out the engine's instructions, then pass its events on to the reader.
        let mut close = false;
        let mut ping = false;
        while let Some(io) = engine.poll_io() {
            match io {
                Io::Connect(system) => {
                    ws = None;
                    let Dial { endpoint, tls } = systems.get(system);
                    let identity = LoginIdentity::of(&endpoint);
                    if systems.refused.contains(&identity) {
                        // Sending them again is a step towards locking the service user out.
                        tracing::warn!(?system, host = %endpoint.host, "credentials refused before; not sent again");
                        engine.handle_connect_failed(
                            Instant::now(),
                            ConnectError::NotResent {
                                username: endpoint.username.clone(),
                                authority: endpoint.authority(),
                            },
                        );
                        continue;
                    }
                    let framing = systems.framing;
                    tracing::info!(?system, host = %endpoint.host, "connecting");
                    dialing = Some((
                        identity,
                        Box::pin(async move { open(&endpoint, framing, tls).await }),
                    ));
                }
                Io::Probe(system) => {
                    let Dial { endpoint, tls } = systems.get(system);
                    probing = Some(Box::pin(async move {
                        match probe(&endpoint, tls).await {
                            Ok(()) => true,
                            Err(e) => {
                                tracing::debug!(?system, error = %e, "no answer yet");
                                false
                            }
                        }
                    }));
                }
                Io::Shutdown => close = true,
                Io::Close => {
                    if let Some(sock) = ws.take() {
                        // The engine has given up on it; closing is a courtesy, and a PBX
                        // that does not read gets no longer than any write.
                        let deadline = systems.write_deadline;
                        tokio::spawn(async move {
                            let mut sock = sock;
                            let _ = within_deadline(deadline, sock.close(None)).await;
                        });
                    }
                }
                Io::Ping => ping = true,
            }
        }
        forward(&mut engine, &shared);
        if let Some(sock) = ws.as_mut() {
            let deadline = systems.write_deadline;
            let mut result = Ok(());
            if ping {
                result =
                    within_deadline(deadline, sock.feed(WsMessage::Ping(Vec::new().into()))).await;
            }
            while result.is_ok() {
                let Some(frame) = engine.poll_transmit() else {
                    break;
                };
                result =
                    within_deadline(deadline, sock.feed(WsMessage::Binary(frame.into()))).await;
            }
            if result.is_ok() {
                // Also sends any pong owed for a ping.
                result = within_deadline(deadline, sock.flush()).await;
            }
            if let Err(why) = result {
                // Dropped, not closed: a PBX that does not read would hold a close up too.
                ws = None;
                tracing::warn!(reason = %why, "link lost while writing");
                engine.handle_closed(Instant::now(), Disconnect::Failed(why));
                continue;
            }
        }
        if close {
            if let Some(mut sock) = ws.take() {
                let _ = within_deadline(systems.write_deadline, sock.close(None)).await;
            }
            break;
        }

        let deadline = engine.poll_timeout();
        tokio::select! {
            cmd = commands.recv(), if commands_open => {
                let now = Instant::now();
                match cmd {
                    Some(Control::Retry) => engine.retry(now),
                    Some(Control::Run(id, command, extension)) => {
                        engine.handle_command_as(now, id, command, extension.as_deref());
                    }
                    Some(Control::RetryWith(dials)) => {
                        let (primary, secondary) = *dials;
                        systems.primary = primary;
                        systems.secondary = secondary;
                        engine.retry(now);
                    }
                    Some(Control::Shutdown) => engine.shutdown(now),
                    None => {
                        commands_open = false;
                        engine.shutdown(now);
                    }
                }
            }
            reachable = async {
                match probing.as_mut() {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            }, if probing.is_some() => {
                probing = None;
                engine.handle_probe(Instant::now(), reachable);
            }
            result = async {
                match dialing.as_mut() {
                    Some((_, f)) => f.await,
                    None => std::future::pending().await,
                }
            }, if dialing.is_some() => {
                let dialed = dialing.take().map(|(identity, _)| identity);
                let now = Instant::now();
                match result {
                    Ok(sock) => {
                        ws = Some(sock);
                        engine.handle_connected(now);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "connection attempt failed");
                        if let (ConnectError::LoginRejected { .. }, Some(identity)) = (&e, dialed) {
                            systems.refused.insert(identity);
                        }
                        engine.handle_connect_failed(now, e);
                    }
                }
            }
            msg = async {
                match ws.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            }, if ws.is_some() => {
                let now = Instant::now();
                match msg {
                    Some(Ok(WsMessage::Binary(b))) => engine.handle_frame(now, &b),
                    // MTCTI3 never sends text: the engine counts it as malformed.
                    Some(Ok(WsMessage::Text(t))) => engine.handle_frame(now, t.as_bytes()),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {
                        engine.handle_pong(now);
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        ws = None;
                        let why = match frame {
                            Some(f) => format!("closed by the PBX ({} {})", f.code, f.reason),
                            None => "closed by the PBX".to_owned(),
                        };
                        engine.handle_closed(now, Disconnect::Failed(why));
                    }
                    Some(Err(e)) => {
                        ws = None;
                        engine.handle_closed(now, Disconnect::Failed(format!("connection lost: {e}")));
                    }
                    None => {
                        ws = None;
                        engine.handle_closed(now, Disconnect::Failed("connection closed".to_owned()));
                    }
                }
            }
            () = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            }, if deadline.is_some() => {
                engine.handle_timeout(Instant::now());
            }
        }
    }
    // Whatever the engine said last reaches the reader.
    forward(&mut engine, &shared);
    shared.lock().finished = Some(*engine.counters());
    shared.wake.notify_one();
    tracing::info!(counters = ?engine.counters(), "session ended");
}

/// Hands the engine's events to the reader: model events to be coalesced, the rest in order.
fn forward(engine: &mut Session, shared: &Shared) {
    {
        let mut mb = shared.lock();
        while let Some(ev) = engine.poll_event() {
            match ev {
                SessionEvent::Model(m) => mb.model.push(m),
                other => mb.push_other(other),
            }
        }
    }
    shared.wake.notify_one();
}
