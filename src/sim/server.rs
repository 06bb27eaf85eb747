//! The simulator's network shell: MTCTI3 over TLS websockets, as IP Office serves it.
//!
//! One task (the core) owns the [`Pbx`] and every connection's [`Connection`] state machine, so
//! the simulation is deterministic and needs no locks; socket tasks only move frames between the
//! websocket and the core over channels.
//!
//! The handshake is as strict as IP Office's: only `GET /tpkt/openapi` (framed) and
//! `/tpkt/openapinoframing` (bare messages) exist (anything else is 404); HTTP Basic
//! credentials must match (401 with `WWW-Authenticate: Basic realm="IPOffice"` otherwise,
//! compared in constant time); the client must offer the `openapi` subprotocol, which is echoed
//! (400 otherwise); and at most [`ServerConfig::max_connections`] connections are open at once
//! (the document's limit is 10; 503 beyond). A text frame closes the connection with 1003, an
//! undecodable binary frame with 1007.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use super::conn::{ConnConfig, Connection};
use super::pbx::{Pbx, SiteStats};
use super::site::{Site, SiteError, TimeOfDay};
use super::tls::TlsIdentity;
use crate::protocol::frame::{self, Framing, MAX_FRAME_LEN};

/// The websocket subprotocol MTCTI3 requires.
pub const SUBPROTOCOL: &str = "openapi";

/// The realm in `WWW-Authenticate`.
pub const REALM: &str = "IPOffice";

/// How long a client has for the TLS and websocket handshakes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages queued towards one socket before the connection counts as stuck and is closed.
const OUT_CAPACITY: usize = 4096;

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

/// Everything the server needs.
#[derive(Debug)]
pub struct ServerConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port; see [`ServerHandle::local_addr`]).
    pub listen: SocketAddr,
    /// The site to simulate.
    pub site: Site,
    /// The seed of the site's randomness.
    pub seed: u64,
    /// The site's clock at the start.
    pub time_of_day: TimeOfDay,
    /// The service user.
    pub credentials: Credentials,
    /// The TLS identity.
    pub tls: TlsIdentity,
    /// Per-connection options (flow control, limits).
    pub conn: ConnConfig,
    /// Real or manual clock.
    pub clock: Clock,
    /// Connections allowed at once (IP Office allows 10).
    pub max_connections: usize,
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
    /// The server has stopped.
    #[error("the simulator has stopped")]
    Stopped,
    /// `advance` was called on a server running on the real clock.
    #[error("the simulator runs on the real clock; only a manual clock can be advanced")]
    NotManual,
}

/// The site's figures and the number of open connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStats {
    /// The site.
    pub site: SiteStats,
    /// Open MTCTI3 connections.
    pub connections: usize,
}

type PbxFn = Box<dyn FnOnce(&mut Pbx, Instant) + Send>;

enum Control {
    WithPbx(PbxFn),
    Advance(Duration, oneshot::Sender<Result<(), ServerError>>),
    Stats(oneshot::Sender<ServerStats>),
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
    Close(CloseCode, String),
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
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Control::WithPbx(_) => "WithPbx",
            Control::Advance(..) => "Advance",
            Control::Stats(_) => "Stats",
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

    /// Runs `f` on the PBX inside the core (after bringing it up to the current time) and
    /// returns its result; changes it makes are reported to every connection. For tests and
    /// tools: add or rename users, seed parked calls, place calls, read state.
    pub async fn with_pbx<R, F>(&self, f: F) -> Result<R, ServerError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Pbx, Instant) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: PbxFn = Box::new(move |pbx, now| {
            let _ = tx.send(f(pbx, now));
        });
        self.ctl
            .send(Control::WithPbx(job))
            .await
            .map_err(|_| ServerError::Stopped)?;
        rx.await.map_err(|_| ServerError::Stopped)
    }

    /// Moves a manual clock forward, firing everything due in the site and the subscriptions.
    pub async fn advance(&self, by: Duration) -> Result<(), ServerError> {
        let (tx, rx) = oneshot::channel();
        self.ctl
            .send(Control::Advance(by, tx))
            .await
            .map_err(|_| ServerError::Stopped)?;
        rx.await.map_err(|_| ServerError::Stopped)?
    }

    /// The site's figures now.
    pub async fn stats(&self) -> Result<ServerStats, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.ctl
            .send(Control::Stats(tx))
            .await
            .map_err(|_| ServerError::Stopped)?;
        rx.await.map_err(|_| ServerError::Stopped)
    }

    /// Stops accepting, closes every connection and waits for the server's tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
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
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ctl_tx, ctl_rx) = mpsc::channel(64);
    let (core_tx, core_rx) = mpsc::channel(1024);
    let core = Core {
        pbx,
        conns: BTreeMap::new(),
        conn_config: config.conn,
        manual: (config.clock == Clock::Manual).then_some((start, Duration::ZERO)),
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
    let core_task = tokio::spawn(run_core(core, core_rx, ctl_rx, stop_rx.clone()));
    let accept_task = tokio::spawn(accept_loop(listener, acceptor, gate, core_tx, stop_rx));
    tracing::info!(%addr, "simulator listening");
    Ok(ServerHandle {
        addr,
        ca_pem: config.tls.ca_pem.clone(),
        fingerprint: config.tls.fingerprint.clone(),
        username: config.credentials.username,
        ctl: ctl_tx,
        stop: stop_tx,
        tasks: vec![core_task, accept_task],
    })
}

// -------------------------------------------------------------------------------------------
// The core: the PBX and every connection's state machine, driven by one task

struct Peer {
    conn: Connection,
    framing: Framing,
    tx: mpsc::Sender<WsOut>,
}

struct Core {
    pbx: Pbx,
    conns: BTreeMap<u64, Peer>,
    conn_config: ConnConfig,
    /// With a manual clock: the start and how far the clock has been moved.
    manual: Option<(Instant, Duration)>,
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
        let conns = self.conns.values().filter_map(|p| p.conn.poll_timeout());
        self.pbx.poll_timeout().into_iter().chain(conns).min()
    }

    /// Reports the PBX's changes to every connection.
    fn pump(&mut self) {
        while let Some(change) = self.pbx.poll_change() {
            for p in self.conns.values_mut() {
                p.conn.handle_change(&change, &self.pbx);
            }
        }
    }

    fn advance(&mut self, now: Instant) {
        self.pbx.handle_timeout(now);
        self.pump();
        for p in self.conns.values_mut() {
            p.conn.handle_timeout(now);
        }
    }

    fn on_input(&mut self, input: CoreInput) {
        let now = self.now();
        self.advance(now);
        match input {
            CoreInput::Open { id, framing, tx } => {
                self.conns.insert(
                    id,
                    Peer {
                        conn: Connection::new(self.conn_config),
                        framing,
                        tx,
                    },
                );
            }
            CoreInput::Frame { id, data } => {
                let Some(peer) = self.conns.get_mut(&id) else {
                    return;
                };
                match frame::decode(&data, peer.framing) {
                    Ok(msg) => {
                        peer.conn.handle_message(now, msg, &mut self.pbx);
                        self.pump();
                    }
                    Err(e) => {
                        tracing::info!(id, error = %e, "closing a connection that sent an undecodable frame");
                        let reason = format!("undecodable MTCTI3 message: {e}");
                        let _ = peer.tx.try_send(WsOut::Close(CloseCode::Invalid, reason));
                        self.conns.remove(&id);
                    }
                }
            }
            CoreInput::Closed { id } => {
                self.conns.remove(&id);
            }
        }
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::WithPbx(f) => {
                let now = self.now();
                self.advance(now);
                f(&mut self.pbx, now);
                self.pump();
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
                let now = self.now();
                self.advance(now);
                let _ = reply.send(ServerStats {
                    site: self.pbx.stats(),
                    connections: self.conns.len(),
                });
            }
        }
    }

    /// Sends what every connection has to send; a connection whose socket cannot keep up is
    /// dropped (its socket task then closes the websocket).
    fn flush(&mut self) {
        let mut stuck = Vec::new();
        for (id, p) in &mut self.conns {
            while let Some(msg) = p.conn.poll_transmit(&self.pbx) {
                let bytes = match frame::encode(&msg, p.framing) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(id, error = %e, "a message could not be encoded");
                        continue;
                    }
                };
                if p.tx.try_send(WsOut::Frame(bytes)).is_err() {
                    stuck.push(*id);
                    break;
                }
            }
        }
        for id in stuck {
            tracing::warn!(id, "closing a connection whose client does not read");
            self.conns.remove(&id);
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
        core.flush();
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
        let Some(v) = value.and_then(|v| v.to_str().ok()) else {
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
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
        return;
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_LEN))
        .max_frame_size(Some(MAX_FRAME_LEN));
    let mut decision = Decision::default();
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        tls,
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
                Some(WsOut::Close(code, reason)) => {
                    let _ = sink.send(close(code, &reason)).await;
                    break;
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
