//! How a session behaves: the engine's windows, timeouts and backoffs, the framing spoken on
//! every link, read-only, and the secondary system to fail over to. Decided once at the edge
//! (the configuration file and the command line) and handed to `spawn` or
//! `Session::new`.

use std::time::Duration;

use super::backoff::BackoffConfig;
use super::endpoint::Endpoint;
use crate::model::{Scope, StatsConfig};
use crate::protocol::Framing;

/// How a session behaves. The defaults follow the document and suit a 3000-user site.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// At most this many subscribe requests wait for their response at a time.
    pub subscribe_window: usize,
    /// The timeout asked for each subscription, in seconds (0: no expiry, no refresh).
    /// Subscriptions are refreshed after five sixths of it (50 minutes for 3600 s).
    pub subscription_timeout_secs: u32,
    /// A subscribe request with no response after this long is given up and tried again.
    pub response_timeout: Duration,
    /// After a line is subscribed again, its old appearances that the PBX has not reported
    /// again within this long end.
    pub resync_settle: Duration,
    /// When nothing has arrived for this long, ping the PBX; when nothing has arrived for
    /// two and a half times this long, the link is taken as dead and reconnected. A write to
    /// the socket may wait this long too (see [`SessionConfig::write_deadline`]).
    pub keepalive: Duration,
    /// Backoff between connection attempts.
    pub reconnect: BackoffConfig,
    /// Backoff before subscribing again (MTCTISESS_TOOMANY, SubscribeTerminated).
    pub resubscribe: BackoffConfig,
    /// Seed for the jitter of every backoff.
    pub seed: u64,
    /// Framed (`/tpkt/openapi`) or not: the one value that picks both the websocket path the
    /// I/O task opens and the codec the engine reads and writes with.
    pub framing: Framing,
    /// Read-only: no SubscribeCmd is ever sent (no call function, no configuration change,
    /// not even a presence update), and every command is refused.
    pub read_only: bool,
    /// How statistics are counted.
    pub stats: StatsConfig,
    /// The supervisor's own extension: barge, pickup and unpark are made from its user.
    pub supervisor_extension: Option<String>,
    /// Other supervisors' My lines (shared mode: the extensions `[shared.users]` maps
    /// viewers to), subscribed like the supervisor's own whatever the scope, so that their
    /// barge, pickup and unpark can be sent and followed.
    pub other_supervisors: Vec<String>,
    /// A secondary system to use while the primary cannot be reached (`[pbx] secondary`).
    /// The engine only asks whether there is one; the I/O task opens it.
    pub secondary: Option<Endpoint>,
    /// While on the secondary, how often to check whether the primary is back.
    pub primary_probe: Duration,
    /// How long a command waits for the PBX's answer, and then for a Notify to show its
    /// effect, before it is reported as having no effect.
    pub command_timeout: Duration,
    /// After the sync, a line whose first call-control Notify has not come within this long
    /// had no calls: its calls from then on are new, not "present at connect".
    pub initial_report: Duration,
    /// What is subscribed (`[scope]`, `--queue`, `--agents`): the users and queues in scope,
    /// the supervisor's own line and the park server. The lines list is always subscribed.
    pub scope: Scope,
}

/// How long a write may wait for the PBX to take it when keepalive is off (0).
pub const WRITE_DEADLINE_WITHOUT_KEEPALIVE: Duration = Duration::from_secs(30);

impl SessionConfig {
    /// How long one write, flush or close on the socket may wait: the keepalive interval (a
    /// PBX that takes nothing for that long is as dead as one that says nothing), or
    /// [`WRITE_DEADLINE_WITHOUT_KEEPALIVE`] when keepalive is off. Past it the link is
    /// dropped as lost: "the PBX stopped reading".
    pub fn write_deadline(&self) -> Duration {
        if self.keepalive.is_zero() {
            WRITE_DEADLINE_WITHOUT_KEEPALIVE
        } else {
            self.keepalive
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            subscribe_window: 64,
            subscription_timeout_secs: 3600,
            response_timeout: Duration::from_secs(30),
            resync_settle: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
            reconnect: BackoffConfig::RECONNECT,
            resubscribe: BackoffConfig::RESUBSCRIBE,
            seed: 0x1970_0101,
            framing: Framing::Framed,
            read_only: false,
            stats: StatsConfig::default(),
            supervisor_extension: None,
            other_supervisors: Vec::new(),
            secondary: None,
            primary_probe: Duration::from_secs(60),
            command_timeout: Duration::from_secs(10),
            initial_report: Duration::from_secs(2),
            scope: Scope::default(),
        }
    }
}
