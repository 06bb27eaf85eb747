//! The simulator's network shell: MTCTI3 over TLS websockets, as IP Office serves it.
//!
//! One task (the core, `core.rs`) owns the [`Exchange`]: the PBX, its script and every
//! connection's state machine, so the simulation is deterministic and needs no locks. Socket
//! tasks (`socket.rs`: accepting, the TLS and websocket handshakes) only move frames between the
//! websocket and the core over channels. What the server is started with and reports is in
//! `config.rs`; this file holds the [`ServerHandle`] and [`start`].
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
//! that is not MTCTI3, end every subscription, restart the PBX, or stop reading while pinging;
//! [`ServerHandle::set_busy`] answers upgrades with 429 or 503 and a `Retry-After`.
//!
//! # Scripts and the command log
//!
//! With [`ServerConfig::script`] the site runs a [`crate::sim::script::Script`] (calls at fixed
//! times, nothing random), and with [`ServerConfig::command_log`] every SubscribeCmd received
//! is recorded ([`CommandRecord`]) to a file as JSON lines or to a channel.

mod config;
mod core;
mod socket;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::protocol::frame::Framing;
use crate::sim::conn::{CommandRecord, FaultSettings};
use crate::sim::exchange::Exchange;
use crate::sim::pbx::Pbx;
use crate::sim::script::ScriptRunner;

use self::core::{Control, Core, run_core};
pub use config::{
    Busy, Clock, CommandLog, Credentials, Fault, MALFORMED_HEADER, REALM, SUBPROTOCOL, SendStamp,
    ServerConfig, ServerError, ServerStats, UNDECODABLE_PAYLOAD, monotonic_ns,
};
use socket::{Gate, accept_loop};

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
    gate: Arc<Gate>,
    tasks: Vec<JoinHandle<()>>,
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

    /// From now on, tells the receiver returned of every connection opened and of the first
    /// Notify sent with each call's gcid ([`SendStamp`]); a later call replaces the receiver.
    pub async fn send_stamps(&self) -> Result<mpsc::UnboundedReceiver<SendStamp>, ServerError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.call(|reply| Control::Stamps(tx, reply)).await?;
        Ok(rx)
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

    /// How many logins were refused (HTTP 401) since the start: a test's way to see that a
    /// refused password is not sent again.
    pub fn refused_logins(&self) -> u64 {
        self.gate.refused.load(Ordering::SeqCst)
    }

    /// From now on, answer every websocket upgrade with this refusal (`None`: serve again).
    pub fn set_busy(&self, busy: Option<Busy>) {
        *self.gate.busy.lock().unwrap_or_else(|p| p.into_inner()) = busy;
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
    let manual = (config.clock == Clock::Manual).then_some((start, Duration::ZERO));
    let core = Core::new(
        Exchange::new(pbx, runner, conn_config),
        manual,
        start,
        frames_tx,
        records,
    );
    let creds = format!(
        "{}:{}",
        config.credentials.username, config.credentials.password
    );
    let gate = Arc::new(Gate {
        expected: Sha256::digest(creds.as_bytes()).into(),
        active: AtomicUsize::new(0),
        max: config.max_connections,
        refused: AtomicU64::new(0),
        busy: std::sync::Mutex::new(None),
    });
    let acceptor = TlsAcceptor::from(config.tls.server_config.clone());
    tasks.push(tokio::spawn(run_core(
        core,
        core_rx,
        ctl_rx,
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(accept_loop(
        listener,
        acceptor,
        gate.clone(),
        core_tx,
        stop_rx,
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
        gate,
        tasks,
    })
}
