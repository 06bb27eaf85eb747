//! The thin tokio task that owns the socket and drives the engine: it drains the engine's
//! outputs (frames, events) until the engine names a deadline, then waits for the socket, the
//! deadline or a command. Model events go to the reader coalesced, through a mailbox that never
//! blocks the task, so a slow reader never delays an ack.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::connect::{ConnectError, Endpoint, WsStream, open, probe};
use super::engine::{
    Counters, Disconnect, Session, SessionConfig, SessionEvent, SubscribeFailure, SyncReport,
};
use super::tls::{TlsSetupError, client_config};
use crate::model::{Coalescer, Command, CommandId, CommandReport, ModelEvent, PbxSystem};

/// Something the reader of a session learns.
#[derive(Debug, Clone)]
pub enum Update {
    /// The model changed.
    Model(ModelEvent),
    /// Every subscription wanted on this connection has been answered.
    Synced(SyncReport),
    /// The PBX refused a subscription.
    SubscribeFailed(SubscribeFailure),
    /// A connection attempt failed, with the typed reason (the model's connection state says
    /// what happens next).
    ConnectFailed(ConnectError),
    /// A command moved on: sent, accepted, done, no effect seen, failed or refused.
    Command(CommandReport),
}

/// What the application can ask of a running session.
enum Control {
    Retry,
    RetryWith(Box<Endpoint>, Arc<rustls::ClientConfig>),
    Run(CommandId, Command),
    Shutdown,
}

#[derive(Default)]
struct Mailbox {
    model: Coalescer,
    other: Vec<Update>,
    finished: Option<Counters>,
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

/// The reading end: batches of updates, coalesced while the reader was busy.
pub struct Updates {
    shared: Arc<Shared>,
}

impl Updates {
    /// Waits for the next batch (model events first, in order, then the session's own
    /// updates). `None` once the session has ended and everything has been read.
    pub async fn next(&self) -> Option<Vec<Update>> {
        loop {
            {
                let mut mb = self.shared.lock();
                if !mb.model.is_empty() || !mb.other.is_empty() {
                    let mut batch: Vec<Update> =
                        mb.model.take().into_iter().map(Update::Model).collect();
                    batch.append(&mut mb.other);
                    return Some(batch);
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

    /// Sends a command the supervisor chose. Its progress comes back as [`Update::Command`]
    /// reports carrying the id returned here. Never queued: while the link is down (or in
    /// read-only mode) the first report refuses it.
    pub fn command(&self, command: Command) -> CommandId {
        let id = CommandId(self.next_command.fetch_add(1, Ordering::Relaxed));
        if self
            .commands
            .send(Control::Run(id, command.clone()))
            .is_err()
        {
            tracing::warn!(id = id.0, "command after the session ended: not sent");
        }
        id
    }

    /// Try to connect now with other settings (say, a corrected password after a refused
    /// login). The model is kept: the new connection reconciles it like any reconnect. A live
    /// link is left alone; the settings then apply from the next connection.
    pub fn retry_with(&self, endpoint: Endpoint) -> Result<(), TlsSetupError> {
        let tls = client_config(&endpoint.trust)?;
        let _ = self
            .commands
            .send(Control::RetryWith(Box::new(endpoint), tls));
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
    let tls = client_config(&endpoint.trust)?;
    let secondary = match &config.secondary {
        Some(ep) => Some((ep.clone(), client_config(&ep.trust)?)),
        None => None,
    };
    let shared = Arc::new(Shared {
        mailbox: Mutex::new(Mailbox::default()),
        wake: Notify::new(),
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = Session::new(config, Instant::now());
    let task = tokio::spawn(run(engine, (endpoint, tls), secondary, shared.clone(), rx));
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
type Target = (Endpoint, Arc<rustls::ClientConfig>);

async fn run(
    mut engine: Session,
    mut primary: Target,
    secondary: Option<Target>,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Control>,
) {
    let mut ws: Option<WsStream> = None;
    let mut dialing: Option<Dialing> = None;
    let mut probing: Option<Probing> = None;
    let mut commands_open = true;
    loop {
        // Drain the engine: events to the mailbox, frames to the socket.
        let mut close = false;
        let mut ping = false;
        {
            let mut mb = shared.lock();
            while let Some(ev) = engine.poll_event() {
                match ev {
                    SessionEvent::Connect => {
                        ws = None;
                        let (ep, tls) = match (engine.target(), &secondary) {
                            (PbxSystem::Secondary, Some(s)) => s.clone(),
                            _ => primary.clone(),
                        };
                        tracing::info!(system = ?engine.target(), host = %ep.host, "connecting");
                        dialing = Some(Box::pin(async move { open(&ep, tls).await }));
                    }
                    SessionEvent::ProbePrimary => {
                        let (ep, tls) = primary.clone();
                        probing = Some(Box::pin(async move {
                            match probe(&ep, tls).await {
                                Ok(()) => true,
                                Err(e) => {
                                    tracing::debug!(error = %e, "the primary does not answer yet");
                                    false
                                }
                            }
                        }));
                    }
                    SessionEvent::Shutdown => close = true,
                    SessionEvent::Disconnect => {
                        if let Some(sock) = ws.take() {
                            // The engine has given up on it; closing is a courtesy.
                            tokio::spawn(async move {
                                let mut sock = sock;
                                let _ = sock.close(None).await;
                            });
                        }
                    }
                    SessionEvent::Ping => ping = true,
                    SessionEvent::Model(m) => mb.model.push(m),
                    SessionEvent::Synced(r) => mb.other.push(Update::Synced(r)),
                    SessionEvent::SubscribeFailed(f) => mb.other.push(Update::SubscribeFailed(f)),
                    SessionEvent::Command(r) => mb.other.push(Update::Command(r)),
                }
            }
        }
        shared.wake.notify_one();
        if let Some(sock) = ws.as_mut() {
            let mut result = Ok(());
            if ping {
                result = sock.feed(WsMessage::Ping(Vec::new().into())).await;
            }
            while result.is_ok() {
                let Some(frame) = engine.poll_transmit() else {
                    break;
                };
                result = sock.feed(WsMessage::Binary(frame.into())).await;
            }
            if result.is_ok() {
                // Also sends any pong owed for a ping.
                result = sock.flush().await;
            }
            if let Err(e) = result {
                ws = None;
                engine.handle_closed(
                    Instant::now(),
                    Disconnect::Failed(format!("write failed: {e}")),
                );
                continue;
            }
        }
        if close {
            if let Some(mut sock) = ws.take() {
                let _ = sock.close(None).await;
            }
            break;
        }

        let deadline = engine.poll_timeout();
        tokio::select! {
            cmd = commands.recv(), if commands_open => {
                let now = Instant::now();
                match cmd {
                    Some(Control::Retry) => engine.retry(now),
                    Some(Control::Run(id, command)) => engine.handle_command(now, id, command),
                    Some(Control::RetryWith(ep, config)) => {
                        primary = (*ep, config);
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
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            }, if dialing.is_some() => {
                dialing = None;
                let now = Instant::now();
                match result {
                    Ok(sock) => {
                        ws = Some(sock);
                        engine.handle_connected(now);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "connection attempt failed");
                        shared.lock().other.push(Update::ConnectFailed(e.clone()));
                        engine.handle_closed(now, e.to_disconnect());
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
    {
        let mut mb = shared.lock();
        while let Some(ev) = engine.poll_event() {
            if let SessionEvent::Model(m) = ev {
                mb.model.push(m);
            }
        }
        mb.finished = Some(*engine.counters());
    }
    shared.wake.notify_one();
    tracing::info!(counters = ?engine.counters(), "session ended");
}
