//! The simulator's network shell: MTCTI3 over TLS websockets, as IP Office serves it.
//!
//! One task (the core) owns the [`Pbx`] and every connection's [`Connection`] state machine, so
//! the simulation is deterministic and needs no locks; socket tasks only move frames between the
//! websocket and the core over channels.
//!
//! The handshake is as strict as IP Office's, and every refusal is a proper HTTP answer (see
//! [`super::http`]): only `GET /tpkt/openapi` (framed) and `/tpkt/openapinoframing` (bare
//! messages) exist (anything else is 404); HTTP Basic credentials must match (401 with
//! `WWW-Authenticate: Basic realm="IPOffice"` otherwise, compared in constant time); a request
//! that is not a websocket upgrade gets 426; the client must offer the `openapi` subprotocol,
//! which is echoed (400 otherwise); and at most [`ServerConfig::max_connections`] connections
//! are open at once (the document's limit is 10; 503 beyond). A text frame closes the
//! connection with 1003, an undecodable binary frame with 1007.
//!
//! # Faults
//!
//! A test (through [`ServerHandle::set_faults`] and [`ServerHandle::fault`]) or `ipo-top sim`
//! can make the simulator misbehave the ways a client must survive: [`FaultSettings`] hold
//! responses back, leave requests unanswered, add latency to everything sent, or refuse
//! requests with TOOMANY; one-shot [`Fault`]s close or abort every connection, send a frame
//! that is not MTCTI3, end every subscription, or restart the PBX.
//!
//! # Scripts and the command log
//!
//! With [`ServerConfig::script`] the site runs a [`Script`] (calls at fixed times, nothing
//! random), and with [`ServerConfig::command_log`] every SubscribeCmd received is recorded
//! ([`CommandRecord`]) to a file as JSON lines or to a channel.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use super::conn::{CommandRecord, ConnConfig, Connection, FaultSettings};
use super::exchange::Exchange;
use super::http::{self, Prefixed};
use super::pbx::{Pbx, SiteStats};
use super::script::{Script, ScriptRunner};
use super::site::{Site, SiteError, TimeOfDay};
use super::tls::TlsIdentity;
use crate::protocol::frame::{self, FRAME_HEADER, Framing, MAX_FRAME_LEN};
use crate::protocol::pb;

/// The websocket subprotocol MTCTI3 requires.
pub const SUBPROTOCOL: &str = "openapi";

/// The realm in `WWW-Authenticate`.
pub const REALM: &str = "IPOffice";

/// How long a client has for the TLS and websocket handshakes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages queued towards one socket before the connection counts as stuck and is closed.
const OUT_CAPACITY: usize = 4096;

/// A payload with the right framing that is no protobuf `Message`: field 1 claims five bytes
/// and one follows.
pub const UNDECODABLE_PAYLOAD: [u8; 3] = [0x0A, 0x05, 0x01];

/// The header of a malformed frame: `00 00 00 02` where MTCTI3 requires `00 00 00 01`.
pub const MALFORMED_HEADER: [u8; 4] = [0, 0, 0, 2];

/// The service user's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Which clock drives the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The real clock: calls come and go, subscriptions expire, in real time.
    #[default]
    Real,
    /// A clock that moves only through [`ServerHandle::advance`]: tests drive the site and
    /// subscription timeouts without waiting.
    Manual,
}

/// Where the command log goes.
#[derive(Debug)]
pub enum CommandLog {
    /// A file, created (or emptied) at start, one JSON object per line.
    File(PathBuf),
    /// A channel (for tests, which can await each record).
    Channel(mpsc::UnboundedSender<CommandRecord>),
}

/// Everything the server needs.
#[derive(Debug)]
pub struct ServerConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port; see [`ServerHandle::local_addr`]).
    pub listen: SocketAddr,
    /// The site to simulate (with a script: [`Script::build_site`]).
    pub site: Site,
    /// The seed of the site's randomness.
    pub seed: u64,
    /// The site's clock at the start.
    pub time_of_day: TimeOfDay,
    /// The service user.
    pub credentials: Credentials,
    /// The TLS identity.
    pub tls: TlsIdentity,
    /// Per-connection options (flow control, limits, call-function policy, initial faults).
    pub conn: ConnConfig,
    /// Real or manual clock.
    pub clock: Clock,
    /// Connections allowed at once (IP Office allows 10).
    pub max_connections: usize,
    /// A script whose steps happen at their times (the site should be its `build_site`).
    pub script: Option<Script>,
    /// Where to record every SubscribeCmd received.
    pub command_log: Option<CommandLog>,
}

/// A one-shot fault, applied to every open connection (see [`ServerHandle::fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Close every connection cleanly: a websocket close frame (1001, going away).
    Close,
    /// Drop every connection without a close frame; the TCP connection is reset.
    Abort,
    /// Send a frame that is not MTCTI3 framing: on `/tpkt/openapi` a message behind the header
    /// `00 00 00 02` ([`MALFORMED_HEADER`]), on `/tpkt/openapinoframing` a text frame.
    MalformedFrame,
    /// Send a frame with the right framing whose payload is no protobuf `Message`
    /// ([`UNDECODABLE_PAYLOAD`]).
    UndecodablePayload,
    /// End every subscription with SubscribeTerminated.
    TerminateSubscriptions,
    /// Restart the PBX as a reboot does: every connection drops (reset, no close frame), every
    /// call ends and every subscription is gone; users, groups and guids stay, and later calls
    /// may reuse old gcids.
    Restart,
}

/// Why the server could not start, or a handle call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The site is inconsistent.
    #[error("the site is not valid: {0}")]
    Site(#[from] SiteError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The command log file could not be created.
    #[error("cannot create the command log {path}: {source}")]
    CommandLog {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The server has stopped.
    #[error("the simulator has stopped")]
    Stopped,
    /// `advance` was called on a server running on the real clock.
    #[error("the simulator runs on the real clock; only a manual clock can be advanced")]
    NotManual,
}

/// The site's figures and the state of the connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStats {
    /// The site.
    pub site: SiteStats,
    /// Open MTCTI3 connections.
    pub connections: usize,
    /// Frames received from clients since the start.
    pub frames_received: u64,
    /// Messages held back now by latency or a response delay.
    pub held: usize,
    /// Requests that got no answer because of [`FaultSettings::unanswered_every`].
    pub unanswered: u64,
    /// Script steps not yet carried out (0 without a script).
    pub script_steps_left: usize,
}

type PbxFn = Box<dyn FnOnce(&mut Pbx, Instant) + Send>;

enum Control {
    WithPbx(PbxFn),
    Advance(Duration, oneshot::Sender<Result<(), ServerError>>),
    Stats(oneshot::Sender<ServerStats>),
    SetFaults(FaultSettings, oneshot::Sender<()>),
    Fault(Fault, oneshot::Sender<usize>),
}

enum CoreInput {
    Open {
        id: u64,
        framing: Framing,
        tx: mpsc::Sender<WsOut>,
    },
    Frame {
        id: u64,
        data: Bytes,
    },
    Closed {
        id: u64,
    },
}

enum WsOut {
    Frame(Vec<u8>),
    Text(String),
    Close(CloseCode, String),
    Abort,
}

/// A running simulator.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    ca_pem: Option<String>,
    fingerprint: String,
    username: String,
    ctl: mpsc::Sender<Control>,
    stop: watch::Sender<bool>,
    frames: watch::Receiver<u64>,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Control::WithPbx(_) => "WithPbx",
            Control::Advance(..) => "Advance",
            Control::Stats(_) => "Stats",
            Control::SetFaults(..) => "SetFaults",
            Control::Fault(..) => "Fault",
        })
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The websocket URL for a framing, e.g. `wss://127.0.0.1:8443/tpkt/openapi`.
    pub fn url(&self, framing: Framing) -> String {
        format!("wss://{}{}", self.addr, framing.path())
    }

    /// The generated CA's certificate (PEM), for a client's `ca_file`; `None` when the
    /// certificate was given.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The SHA-256 fingerprint of the server's certificate, `AB:CD:...`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The service user's name.
    pub fn username(&self) -> &str {
        &self.username
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Control,
    ) -> Result<T, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.ctl
            .send(make(tx))
            .await
            .map_err(|_| ServerError::Stopped)?;
        rx.await.map_err(|_| ServerError::Stopped)
    }

    /// Runs `f` on the PBX inside the core (after bringing it up to the current time) and
    /// returns its result; changes it makes are reported to every connection. For tests and
    /// tools: add or rename users, seed parked calls, place calls, read state.
    pub async fn with_pbx<R, F>(&self, f: F) -> Result<R, ServerError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Pbx, Instant) -> R + Send + 'static,
    {
        self.call(|tx| {
            Control::WithPbx(Box::new(move |pbx, now| {
                let _ = tx.send(f(pbx, now));
            }))
        })
        .await
    }

    /// Moves a manual clock forward, firing everything due in the site, the script, the
    /// subscriptions and the held messages.
    pub async fn advance(&self, by: Duration) -> Result<(), ServerError> {
        self.call(|tx| Control::Advance(by, tx)).await?
    }

    /// The site's figures now.
    pub async fn stats(&self) -> Result<ServerStats, ServerError> {
        self.call(Control::Stats).await
    }

    /// Sets the faults every connection shows from now on, open ones and later ones.
    pub async fn set_faults(&self, faults: FaultSettings) -> Result<(), ServerError> {
        self.call(|tx| Control::SetFaults(faults, tx)).await
    }

    /// Applies a one-shot fault to every open connection; returns how many it touched
    /// (connections, or for [`Fault::TerminateSubscriptions`] subscriptions).
    pub async fn fault(&self, fault: Fault) -> Result<usize, ServerError> {
        self.call(|tx| Control::Fault(fault, tx)).await
    }

    /// Waits until the core has handled `n` frames from clients in total (a test's way to
    /// know a request has arrived before it moves a manual clock).
    pub async fn frames_received(&self, n: u64) -> Result<(), ServerError> {
        let mut rx = self.frames.clone();
        rx.wait_for(|got| *got >= n)
            .await
            .map(|_| ())
            .map_err(|_| ServerError::Stopped)
    }

    /// Stops accepting, closes every connection and waits for the server's tasks (the command
    /// log is complete on disk once this returns).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn write_log(
    path: PathBuf,
    mut rx: mpsc::UnboundedReceiver<CommandRecord>,
    mut file: tokio::fs::File,
) {
    while let Some(r) = rx.recv().await {
        let mut line = match serde_json::to_string(&r) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "a command record could not be written");
                continue;
            }
        };
        line.push('\n');
        let written = file.write_all(line.as_bytes()).await;
        if let Err(e) = written.and(file.flush().await) {
            tracing::warn!(path = %path.display(), error = %e, "the command log stopped");
            return;
        }
    }
}

/// Starts the simulator: builds the site, binds, and serves until [`ServerHandle::stop`].
pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
    let start = Instant::now();
    let pbx = Pbx::new(config.site, config.seed, config.time_of_day, start)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let mut tasks = Vec::new();
    let records = match config.command_log {
        None => None,
        Some(CommandLog::Channel(tx)) => Some(tx),
        Some(CommandLog::File(path)) => {
            let file =
                tokio::fs::File::create(&path)
                    .await
                    .map_err(|source| ServerError::CommandLog {
                        path: path.clone(),
                        source,
                    })?;
            let (tx, rx) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(write_log(path, rx, file)));
            Some(tx)
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ctl_tx, ctl_rx) = mpsc::channel(64);
    let (core_tx, core_rx) = mpsc::channel(1024);
    let (frames_tx, frames_rx) = watch::channel(0);
    let mut conn_config = config.conn;
    conn_config.record_commands = records.is_some();
    let runner = config.script.as_ref().map(|s| ScriptRunner::new(s, start));
    let core = Core {
        exchange: Exchange::new(pbx, runner, conn_config),
        peers: BTreeMap::new(),
        manual: (config.clock == Clock::Manual).then_some((start, Duration::ZERO)),
        start,
        frames: 0,
        frames_tx,
        records,
    };
    let creds = format!(
        "{}:{}",
        config.credentials.username, config.credentials.password
    );
    let gate = Arc::new(Gate {
        expected: Sha256::digest(creds.as_bytes()).into(),
        active: AtomicUsize::new(0),
        max: config.max_connections,
    });
    let acceptor = TlsAcceptor::from(config.tls.server_config.clone());
    tasks.push(tokio::spawn(run_core(
        core,
        core_rx,
        ctl_rx,
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(accept_loop(
        listener, acceptor, gate, core_tx, stop_rx,
    )));
    tracing::info!(%addr, "simulator listening");
    Ok(ServerHandle {
        addr,
        ca_pem: config.tls.ca_pem.clone(),
        fingerprint: config.tls.fingerprint.clone(),
        username: config.credentials.username,
        ctl: ctl_tx,
        stop: stop_tx,
        frames: frames_rx,
        tasks,
    })
}

// -------------------------------------------------------------------------------------------
// The core: the PBX and every connection's state machine, driven by one task

/// A connection's socket side: how its messages are framed and where they go.
struct Peer {
    framing: Framing,
    tx: mpsc::Sender<WsOut>,
    /// What is on its way to the socket, each with the instant latency lets it go.
    outq: VecDeque<(Instant, WsOut)>,
}

struct Core {
    exchange: Exchange,
    peers: BTreeMap<u64, Peer>,
    /// With a manual clock: the start and how far the clock has been moved.
    manual: Option<(Instant, Duration)>,
    start: Instant,
    frames: u64,
    frames_tx: watch::Sender<u64>,
    records: Option<mpsc::UnboundedSender<CommandRecord>>,
}

impl Core {
    fn now(&self) -> Instant {
        match self.manual {
            Some((start, offset)) => start + offset,
            None => Instant::now(),
        }
    }

    /// When the core next needs to wake up by itself (never with a manual clock).
    fn deadline(&self) -> Option<Instant> {
        if self.manual.is_some() {
            return None;
        }
        let held = self
            .peers
            .values()
            .filter_map(|p| p.outq.front().map(|(at, _)| *at));
        self.exchange.poll_timeout().into_iter().chain(held).min()
    }

    fn advance(&mut self, now: Instant) {
        self.exchange.handle_timeout(now);
    }

    /// Drops a connection on both sides.
    fn drop_peer(&mut self, id: u64) {
        self.peers.remove(&id);
        self.exchange.close(id);
    }

    fn on_input(&mut self, input: CoreInput) {
        let now = self.now();
        self.advance(now);
        match input {
            CoreInput::Open { id, framing, tx } => {
                self.exchange.open(id);
                self.peers.insert(
                    id,
                    Peer {
                        framing,
                        tx,
                        outq: VecDeque::new(),
                    },
                );
            }
            CoreInput::Frame { id, data } => {
                self.frames += 1;
                self.frames_tx.send_replace(self.frames);
                let Some(peer) = self.peers.get(&id) else {
                    return;
                };
                match frame::decode(&data, peer.framing) {
                    Ok(msg) => {
                        self.exchange.handle_message(now, id, msg);
                        self.drain_records(id, now);
                    }
                    Err(e) => {
                        tracing::info!(id, error = %e, "closing a connection that sent an undecodable frame");
                        let reason = format!("undecodable MTCTI3 message: {e}");
                        let _ = peer.tx.try_send(WsOut::Close(CloseCode::Invalid, reason));
                        self.drop_peer(id);
                    }
                }
            }
            CoreInput::Closed { id } => self.drop_peer(id),
        }
    }

    /// Stamps a connection's command records and sends them to the log.
    fn drain_records(&mut self, id: u64, now: Instant) {
        while let Some(mut r) = self.exchange.poll_record(id) {
            let t_ms = u64::try_from(now.saturating_duration_since(self.start).as_millis())
                .unwrap_or(u64::MAX);
            r.t_ms = t_ms;
            r.time = format!("{}.{:03}", self.exchange.pbx.time_of_day(), t_ms % 1000);
            r.conn = id;
            if let Some(tx) = &self.records {
                let _ = tx.send(r);
            }
        }
    }

    fn on_control(&mut self, control: Control) {
        let now = self.now();
        match control {
            Control::WithPbx(f) => {
                self.advance(now);
                f(&mut self.exchange.pbx, now);
                self.exchange.pump();
            }
            Control::Advance(by, reply) => {
                let result = match &mut self.manual {
                    Some((_, offset)) => {
                        *offset += by;
                        let now = self.now();
                        self.advance(now);
                        Ok(())
                    }
                    None => Err(ServerError::NotManual),
                };
                let _ = reply.send(result);
            }
            Control::Stats(reply) => {
                self.advance(now);
                let conns = || self.exchange.connections().map(|(_, c)| c);
                let _ = reply.send(ServerStats {
                    site: self.exchange.pbx.stats(),
                    connections: self.peers.len(),
                    frames_received: self.frames,
                    held: self.peers.values().map(|p| p.outq.len()).sum::<usize>()
                        + conns().map(Connection::outstanding).sum::<usize>(),
                    unanswered: conns().map(Connection::unanswered).sum(),
                    script_steps_left: self.exchange.runner().map_or(0, ScriptRunner::steps_left),
                });
            }
            Control::SetFaults(faults, reply) => {
                self.exchange.set_faults(faults);
                let _ = reply.send(());
            }
            Control::Fault(fault, reply) => {
                self.advance(now);
                let n = self.apply_fault(fault, now);
                let _ = reply.send(n);
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault, now: Instant) -> usize {
        let latency = self.exchange.faults().latency();
        match fault {
            Fault::Close | Fault::Abort | Fault::Restart => {
                if fault == Fault::Restart {
                    self.exchange.restart();
                    tracing::info!("the PBX restarted: every call ended, every connection dropped");
                } else {
                    self.exchange.close_all();
                }
                let n = self.peers.len();
                for (_, p) in std::mem::take(&mut self.peers) {
                    let out = if fault == Fault::Close {
                        WsOut::Close(CloseCode::Away, "closed by the simulator".to_string())
                    } else {
                        WsOut::Abort
                    };
                    let _ = p.tx.try_send(out);
                }
                n
            }
            Fault::MalformedFrame | Fault::UndecodablePayload => {
                for p in self.peers.values_mut() {
                    let out = match (fault, p.framing) {
                        (Fault::MalformedFrame, Framing::Framed) => {
                            let valid = pb::Message {
                                payload: Some(pb::message::Payload::Response(
                                    pb::RequestResponse::default(),
                                )),
                            };
                            let mut bytes = MALFORMED_HEADER.to_vec();
                            bytes.extend(
                                frame::encode(&valid, Framing::NoFraming).unwrap_or_default(),
                            );
                            WsOut::Frame(bytes)
                        }
                        (Fault::MalformedFrame, Framing::NoFraming) => {
                            WsOut::Text("not an MTCTI3 message".to_string())
                        }
                        (_, Framing::Framed) => {
                            let mut bytes = FRAME_HEADER.to_vec();
                            bytes.extend(UNDECODABLE_PAYLOAD);
                            WsOut::Frame(bytes)
                        }
                        (_, Framing::NoFraming) => WsOut::Frame(UNDECODABLE_PAYLOAD.to_vec()),
                    };
                    p.outq.push_back((now + latency, out));
                }
                self.peers.len()
            }
            Fault::TerminateSubscriptions => self.exchange.terminate_all(),
        }
    }

    /// Sends what every connection has to send, once latency lets it go; a connection whose
    /// socket cannot keep up is dropped (its socket task then closes the websocket).
    fn flush(&mut self, now: Instant) {
        let latency = self.exchange.faults().latency();
        let mut stuck = Vec::new();
        for (id, p) in &mut self.peers {
            while let Some(msg) = self.exchange.poll_transmit(*id) {
                match frame::encode(&msg, p.framing) {
                    Ok(bytes) => p.outq.push_back((now + latency, WsOut::Frame(bytes))),
                    Err(e) => tracing::warn!(id, error = %e, "a message could not be encoded"),
                }
            }
            while p.outq.front().is_some_and(|(at, _)| *at <= now) {
                let Some((_, out)) = p.outq.pop_front() else {
                    break;
                };
                if p.tx.try_send(out).is_err() {
                    stuck.push(*id);
                    break;
                }
            }
        }
        for id in stuck {
            tracing::warn!(id, "closing a connection whose client does not read");
            self.drop_peer(id);
        }
    }
}

async fn run_core(
    mut core: Core,
    mut rx: mpsc::Receiver<CoreInput>,
    mut ctl: mpsc::Receiver<Control>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let deadline = core.deadline();
        let sleep = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => break,
            Some(input) = rx.recv() => core.on_input(input),
            Some(c) = ctl.recv() => core.on_control(c),
            () = sleep => {
                let now = core.now();
                core.advance(now);
            }
        }
        let now = core.now();
        core.flush(now);
    }
}

// -------------------------------------------------------------------------------------------
// Sockets

struct Gate {
    expected: [u8; 32],
    active: AtomicUsize,
    max: usize,
}

impl Gate {
    /// Whether the `Authorization` header carries the service user's credentials. The digests
    /// are compared in constant time, so the comparison reveals nothing about the password.
    fn authorized(&self, value: Option<&HeaderValue>) -> bool {
        self.authorized_str(value.and_then(|v| v.to_str().ok()))
    }

    fn authorized_str(&self, value: Option<&str>) -> bool {
        let Some(v) = value else {
            return false;
        };
        let Some((scheme, b64)) = v.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            return false;
        };
        let got: [u8; 32] = Sha256::digest(&raw).into();
        got.iter()
            .zip(self.expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

struct ActiveGuard(Arc<Gate>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Decision {
    framing: Option<Framing>,
    counted: bool,
}

fn reject(status: StatusCode, text: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(format!("{text}\n")));
    *r.status_mut() = status;
    r
}

// The error type is tungstenite's handshake callback contract, not ours to shrink.
#[allow(clippy::result_large_err)]
fn check_handshake(
    req: &Request,
    mut resp: Response,
    gate: &Gate,
    decision: &mut Decision,
) -> Result<Response, ErrorResponse> {
    let framing = match req.uri().path() {
        "/tpkt/openapi" => Framing::Framed,
        "/tpkt/openapinoframing" => Framing::NoFraming,
        _ => {
            return Err(reject(
                StatusCode::NOT_FOUND,
                "not found: MTCTI3 is served on /tpkt/openapi and /tpkt/openapinoframing",
            ));
        }
    };
    if !gate.authorized(req.headers().get(header::AUTHORIZATION)) {
        let mut r = reject(
            StatusCode::UNAUTHORIZED,
            "unauthorized: give the service user's name and password (HTTP Basic)",
        );
        let challenge = format!("Basic realm=\"{REALM}\"");
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return Err(r);
    }
    let offered = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    if !offered {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "bad request: offer the websocket subprotocol `openapi`",
        ));
    }
    if gate.active.fetch_add(1, Ordering::SeqCst) >= gate.max {
        gate.active.fetch_sub(1, Ordering::SeqCst);
        return Err(reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many MTCTI3 connections",
        ));
    }
    decision.counted = true;
    decision.framing = Some(framing);
    resp.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(resp)
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    gate: Arc<Gate>,
    core: mpsc::Sender<CoreInput>,
    mut stop: watch::Receiver<bool>,
) {
    let ids = Arc::new(AtomicU64::new(1));
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    tracing::debug!(%peer, "connection");
                    tokio::spawn(serve_socket(
                        tcp,
                        acceptor.clone(),
                        gate.clone(),
                        core.clone(),
                        ids.clone(),
                    ));
                }
                Err(e) => {
                    // Usually out of file descriptors: give the system a moment.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Reads the HTTP request head; `Ok(None)` when the client closed or sent too much.
async fn read_head<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<usize>> {
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = http::head_end(buf) {
            return Ok(Some(end));
        }
        if buf.len() > http::MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

// The handshake callback's error type is tungstenite's contract, not ours to shrink.
#[allow(clippy::result_large_err)]
async fn serve_socket(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    gate: Arc<Gate>,
    core: mpsc::Sender<CoreInput>,
    ids: Arc<AtomicU64>,
) {
    let _ = tcp.set_nodelay(true);
    let Ok(Ok(mut tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
    else {
        return;
    };
    // The request head is checked here first, so that whatever is refused gets an HTTP
    // answer (tungstenite would close a plain GET without one).
    let mut head = Vec::new();
    let read = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_head(&mut tls, &mut head)).await;
    let refusal = match read {
        Ok(Ok(Some(end))) => match http::parse_head(head.get(..end).unwrap_or_default()) {
            Some(req) => http::check(&req, |v| gate.authorized_str(v), REALM).err(),
            None => Some(http::bad_request()),
        },
        Ok(Ok(None)) if !head.is_empty() => Some(http::bad_request()),
        _ => return,
    };
    if let Some(refusal) = refusal {
        let _ = tls.write_all(&refusal.to_bytes()).await;
        let _ = tls.shutdown().await;
        return;
    }
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_LEN))
        .max_frame_size(Some(MAX_FRAME_LEN));
    let mut decision = Decision::default();
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        Prefixed::new(head, tls),
        |req: &Request, resp: Response| check_handshake(req, resp, &gate, &mut decision),
        Some(ws_config),
    );
    let result = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await;
    let _guard = decision.counted.then(|| ActiveGuard(gate.clone()));
    let (Ok(Ok(ws)), Some(framing)) = (result, decision.framing) else {
        return;
    };
    let id = ids.fetch_add(1, Ordering::Relaxed);
    let (out_tx, mut out_rx) = mpsc::channel(OUT_CAPACITY);
    if core
        .send(CoreInput::Open {
            id,
            framing,
            tx: out_tx,
        })
        .await
        .is_err()
    {
        return;
    }
    let (mut sink, mut stream) = ws.split();
    let close = |code: CloseCode, reason: &str| {
        WsMessage::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason.to_string()),
        }))
    };
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Binary(data))) => {
                    if core.send(CoreInput::Frame { id, data }).await.is_err() {
                        break;
                    }
                }
                Some(Ok(WsMessage::Text(_))) => {
                    let _ = sink
                        .send(close(CloseCode::Unsupported, "MTCTI3 is carried in binary frames"))
                        .await;
                    break;
                }
                Some(Ok(WsMessage::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            out = out_rx.recv() => match out {
                Some(WsOut::Frame(bytes)) => {
                    if sink.send(WsMessage::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsOut::Text(text)) => {
                    if sink.send(WsMessage::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsOut::Close(code, reason)) => {
                    let _ = sink.send(close(code, &reason)).await;
                    break;
                }
                Some(WsOut::Abort) => {
                    // No close frame, and a reset rather than an orderly TCP close.
                    if let Ok(ws) = stream.reunite(sink) {
                        let _ = ws.get_ref().get_ref().get_ref().0.set_zero_linger();
                    }
                    let _ = core.send(CoreInput::Closed { id }).await;
                    return;
                }
                None => {
                    let _ = sink.send(close(CloseCode::Away, "closed by the simulator")).await;
                    break;
                }
            },
        }
    }
    let _ = core.send(CoreInput::Closed { id }).await;
}
