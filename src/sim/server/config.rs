//! What the simulator is started with, what it reports, and the faults it can be told to show.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::sim::conn::{CommandRecord, ConnConfig};
use crate::sim::pbx::SiteStats;
use crate::sim::script::Script;
use crate::sim::site::{Site, SiteError, TimeOfDay};
use crate::sim::tls::TlsIdentity;

/// The websocket subprotocol MTCTI3 requires.
pub const SUBPROTOCOL: &str = "openapi";

/// The realm in `WWW-Authenticate`.
pub const REALM: &str = "IPOffice";

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
    /// A clock that moves only through [`super::ServerHandle::advance`]: tests drive the site and
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
    /// Where to listen (`127.0.0.1:0` picks a free port; see [`super::ServerHandle::local_addr`]).
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

/// A one-shot fault, applied to every open connection (see [`super::ServerHandle::fault`]).
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
    /// Stop reading every open connection (what the client sends stays unread in the socket)
    /// while sending it websocket pings as fast as it takes them: a PBX that looks alive but
    /// takes nothing, until the client gives up on it. Later connections are read as usual.
    StopReading,
}

/// An answer to the websocket upgrade instead of a connection: a busy PBX (503) or one that
/// limits how often a client may try (429), with the `Retry-After` it sends, if any. Set with
/// [`super::ServerHandle::set_busy`]; the credentials are checked first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// 429 or 503.
    pub status: u16,
    /// The `Retry-After` value as sent: seconds (`"120"`) or an HTTP date.
    pub retry_after: Option<String>,
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

/// What the simulator tells a bench about its sends, as they happen (see
/// [`super::ServerHandle::send_stamps`]): for measuring how long a change takes from the PBX
/// to a client's screen, and for counting the connections a client made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendStamp {
    /// An MTCTI3 connection was opened (the websocket handshake passed).
    Opened {
        /// Connections open now, this one included.
        open: usize,
    },
    /// The first Notify carrying a call's gcid was handed to its connection's socket.
    FirstSent {
        /// The call's gcid, in upper-case hex (as the model's `Gcid::to_hex`).
        gcid: String,
        /// `CLOCK_MONOTONIC` then, in nanoseconds: system-wide on Linux, so another process
        /// on the machine can compare its own readings with it.
        monotonic_ns: u64,
    },
}

/// `CLOCK_MONOTONIC` now, in nanoseconds (see [`SendStamp::FirstSent`]).
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
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
    /// Requests that got no answer because of
    /// [`crate::sim::conn::FaultSettings::unanswered_every`].
    pub unanswered: u64,
    /// Script steps not yet carried out (0 without a script).
    pub script_steps_left: usize,
}
