//! `ipo-top --demo`: the simulator's demo call centre, run in this process on a loopback port
//! with a fresh certificate and password, and an endpoint that reaches it over the real client
//! path (TLS pinned to the simulator's certificate, the websocket, the session task). No
//! configuration and no PBX needed.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand::Rng;

use crate::session::{Endpoint, Fingerprint, FingerprintError, Secret, Trust};
use crate::sim::Site;
use crate::sim::conn::ConnConfig;
use crate::sim::server::{self, Clock, Credentials, ServerConfig, ServerError, ServerHandle};
use crate::sim::site::TimeOfDay;
use crate::sim::tls::{TlsError, TlsIdentity};

/// The service user the demo's simulator accepts.
pub const DEMO_USER: &str = "ipo-top-demo";

/// The supervisor's extension in the simulator's demo site (its user who is in no queue):
/// barge, pick up and unpark are made from it.
pub const DEMO_SUPERVISOR: &str = "4100";

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The certificate could not be made.
    #[error("cannot make the demo's certificate: {0}")]
    Tls(#[from] TlsError),
    /// The simulator could not start.
    #[error("cannot start the demo's simulator: {0}")]
    Server(#[from] ServerError),
    /// The simulator's fingerprint could not be read back.
    #[error("the demo's certificate fingerprint is unreadable: {0}")]
    Fingerprint(#[from] FingerprintError),
}

/// A running demo: the simulator, and how to reach it.
pub struct Demo {
    /// The simulator (stops when dropped or stopped).
    pub server: ServerHandle,
    /// Where and as whom to connect.
    pub endpoint: Endpoint,
}

/// Starts the demo call centre on 127.0.0.1 at a free port, at the morning peak.
pub async fn start() -> Result<Demo, DemoError> {
    let host = Ipv4Addr::LOCALHOST;
    let tls = TlsIdentity::generate(&[host.to_string()])?;
    let mut rng = rand::rng();
    let password: String = (&mut rng)
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    let seed = rng.random_range(1..1_000_000);
    let server = server::start(ServerConfig {
        listen: SocketAddr::from((host, 0)),
        site: Site::demo(),
        seed,
        time_of_day: TimeOfDay::from_secs(10 * 3600 + 30 * 60),
        credentials: Credentials {
            username: DEMO_USER.to_owned(),
            password: password.clone(),
        },
        tls,
        conn: ConnConfig::default(),
        clock: Clock::Real,
        max_connections: 10,
        script: None,
        command_log: None,
    })
    .await?;
    let fingerprint: Fingerprint = server.fingerprint().parse()?;
    let endpoint = Endpoint {
        host: host.to_string(),
        port: server.local_addr().port(),
        username: DEMO_USER.to_owned(),
        password: Secret::new(password),
        trust: Trust::Fingerprint(fingerprint),
        connect_timeout: Duration::from_secs(10),
    };
    tracing::info!(addr = %server.local_addr(), seed, "demo simulator started");
    Ok(Demo { server, endpoint })
}
