//! Where and how to reach an IP Office: its address, the service user and how its certificate
//! is trusted. Plain data: opening the connection is the I/O task's job (`connect`).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::tls::Trust;
use crate::protocol::Framing;

/// A password. It never shows in `Debug` output, logs or errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The password itself, for the one place that needs it (the Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where and how to reach the PBX.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Host name or IP address (no brackets for IPv6).
    pub host: String,
    /// HTTPS port (443 unless the PBX's security settings say otherwise).
    pub port: u16,
    /// The service user.
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// How the PBX's certificate is trusted.
    pub trust: Trust,
    /// How long TCP, TLS and the websocket handshake may take together.
    pub connect_timeout: Duration,
}

impl Endpoint {
    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    /// `wss://host:port/tpkt/openapi` (or `/tpkt/openapinoframing`).
    pub fn url(&self, framing: Framing) -> String {
        format!("wss://{}{}", self.authority(), framing.path())
    }

    pub(super) fn basic_auth(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Who ipo-top logs in as, where: system (host and port), service user and password. The
/// password is kept only as a digest, so a refused password does not stay in memory after its
/// session is gone. Two attempts with equal identities send the same credentials to the same
/// system: after a refusal that must not happen (IP Office locks a service user out after
/// repeated failed logins).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LoginIdentity {
    host: String,
    port: u16,
    username: String,
    password_sha256: [u8; 32],
}

impl LoginIdentity {
    /// The identity an endpoint logs in with.
    pub fn of(endpoint: &Endpoint) -> LoginIdentity {
        LoginIdentity {
            host: endpoint.host.to_ascii_lowercase(),
            port: endpoint.port,
            username: endpoint.username.clone(),
            password_sha256: Sha256::digest(endpoint.password.expose().as_bytes()).into(),
        }
    }

    /// Whether both name the same system (host and port), whatever the credentials.
    pub fn same_system(&self, other: &LoginIdentity) -> bool {
        self.host == other.host && self.port == other.port
    }
}

impl fmt::Debug for LoginIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginIdentity")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}
