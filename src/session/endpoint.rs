//! Where and how to reach an IP Office: its address, the service user and how its certificate
//! is trusted. Plain data: opening the connection is the I/O task's job (`connect`).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;

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
