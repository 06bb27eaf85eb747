//! Why a connection to the PBX could not be opened: one error per remedy, shared by the I/O
//! task that meets them and the engine that decides what comes next.

use std::time::Duration;

use super::tls::Fingerprint;

/// The longest wait a PBX's `Retry-After` (on 429 or 503) can impose before the next attempt:
/// longer asks are cut to this, so a wrong clock or a hostile answer cannot park the session
/// for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 60);

/// The broad kind of a connection failure: each has its own remedy (and its own exit code in
/// `ipo-top check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The PBX refused the credentials (401/403).
    Auth,
    /// The PBX's certificate was not trusted.
    Trust,
    /// Nothing reachable: name not found, refused, unreachable, timed out.
    Unreachable,
    /// No MTCTI3 service on that path (404).
    NotFound,
    /// Anything else.
    Other,
}

/// Why the websocket could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// HTTP 401 or 403.
    #[error("{authority} refused the login for service user {username:?} (HTTP {status})")]
    LoginRejected {
        /// 401 or 403.
        status: u16,
        /// The service user.
        username: String,
        /// host:port of the system that refused.
        authority: String,
    },
    /// Not attempted: these credentials were already refused by this system, and a refused
    /// password is never sent again (IP Office locks a service user out after repeated
    /// failures). Fixing the password or username lifts it.
    #[error(
        "not logging in to {authority} again: it refused service user {username:?} with this \
         password; fix the password (or the username) first"
    )]
    NotResent {
        /// The service user.
        username: String,
        /// host:port of the system that refused.
        authority: String,
    },
    /// HTTP 404.
    #[error("no MTCTI3 service at {url} (HTTP 404)")]
    NotFound {
        /// What was asked for.
        url: String,
    },
    /// The certificate was refused.
    #[error("TLS: {reason}")]
    Trust {
        /// Why, in words.
        reason: String,
    },
    /// The certificate is not the one pinned (`[tls] fingerprint`).
    #[error(
        "the PBX's certificate has changed: it has SHA-256 fingerprint {got}, but {want} is pinned"
    )]
    PinMismatch {
        /// What the configuration pins.
        want: Fingerprint,
        /// What the PBX presented.
        got: Fingerprint,
    },
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake with {authority} failed: {reason}")]
    Tls {
        /// host:port.
        authority: String,
        /// Why.
        reason: String,
    },
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// Connection refused.
    #[error("{authority} refused the connection (nothing listening on that port?)")]
    Refused {
        /// host:port.
        authority: String,
    },
    /// No route, network down, and the like.
    #[error("{authority} is unreachable: {reason}")]
    Unreachable {
        /// host:port.
        authority: String,
        /// Why.
        reason: String,
    },
    /// Nothing answered in time.
    #[error("{authority} did not answer within {secs} s")]
    TimedOut {
        /// host:port.
        authority: String,
        /// The limit.
        secs: u64,
    },
    /// Another HTTP status.
    #[error("the PBX answered the websocket request with HTTP {status}{}", wait_words(*retry_after))]
    Http {
        /// The status.
        status: u16,
        /// With 429 or 503: how long the PBX asked us to wait (`Retry-After`), at most
        /// [`MAX_RETRY_AFTER`].
        retry_after: Option<Duration>,
    },
    /// The server did not agree to the `openapi` subprotocol.
    #[error("the PBX did not agree to the websocket subprotocol \"openapi\"")]
    Subprotocol,
    /// The websocket handshake failed otherwise.
    #[error("websocket handshake failed: {0}")]
    Handshake(String),
}

impl ConnectError {
    /// The broad kind.
    pub fn kind(&self) -> FailureKind {
        match self {
            ConnectError::LoginRejected { .. } | ConnectError::NotResent { .. } => {
                FailureKind::Auth
            }
            ConnectError::Trust { .. } | ConnectError::PinMismatch { .. } => FailureKind::Trust,
            ConnectError::Resolve { .. }
            | ConnectError::Refused { .. }
            | ConnectError::Unreachable { .. }
            | ConnectError::TimedOut { .. } => FailureKind::Unreachable,
            ConnectError::NotFound { .. } => FailureKind::NotFound,
            ConnectError::Tls { .. }
            | ConnectError::Http { .. }
            | ConnectError::Subprotocol
            | ConnectError::Handshake(_) => FailureKind::Other,
        }
    }

    /// How long the PBX asked us to wait before the next attempt, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectError::Http { retry_after, .. } => retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
            _ => None,
        }
    }
}

fn wait_words(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(
            " and asked to wait {} s before trying again",
            d.min(MAX_RETRY_AFTER).as_secs()
        ),
        None => String::new(),
    }
}
