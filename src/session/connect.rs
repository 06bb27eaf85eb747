//! Opening the secure websocket to IP Office: TCP, TLS (see [`super::tls`]), then the
//! websocket handshake on `/tpkt/openapi` with Basic authentication and the `openapi`
//! subprotocol. Every way it can fail has its own error, because each needs a different fix.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::CertificateError;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::ClientRequestBuilder;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::endpoint::{Endpoint, Secret};
use super::error::{ConnectError, MAX_RETRY_AFTER};
use super::tls::{FingerprintMismatch, Trust, describe_certificate_error, inspect_config};
use crate::protocol::{Framing, MAX_FRAME_LEN};

/// The websocket subprotocol IP Office speaks MTCTI3 on.
pub const SUBPROTOCOL: &str = "openapi";

/// The open websocket.
pub type WsStream = WebSocketStream<TlsStream<TcpStream>>;

/// Opens the websocket: TCP, TLS, then the handshake on the framing's path, all within the
/// endpoint's timeout.
pub async fn open(
    ep: &Endpoint,
    framing: Framing,
    tls: Arc<rustls::ClientConfig>,
) -> Result<WsStream, ConnectError> {
    within(ep, async {
        let stream = secure(ep, tls).await?;
        let uri: Uri =
            ep.url(framing)
                .parse()
                .map_err(
                    |e: tungstenite::http::uri::InvalidUri| ConnectError::Resolve {
                        host: ep.host.clone(),
                        reason: e.to_string(),
                    },
                )?;
        let request = ClientRequestBuilder::new(uri)
            .with_header("Authorization", ep.basic_auth())
            .with_sub_protocol(SUBPROTOCOL);
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME_LEN))
            .max_frame_size(Some(MAX_FRAME_LEN));
        let (ws, response) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config))
                .await
                .map_err(|e| classify_ws(e, ep, framing))?;
        // tungstenite checks this too; the check here keeps it true whatever the library does.
        let agreed = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == SUBPROTOCOL);
        if !agreed {
            return Err(ConnectError::Subprotocol);
        }
        tracing::debug!(authority = %ep.authority(), "websocket open");
        Ok(ws)
    })
    .await
}

/// Completes a TLS handshake with `host:port` and nothing more (no websocket, no credentials,
/// not a byte of application data) to see the certificate it presents, for `ipo-top trust`.
/// Returns the end-entity certificate (DER).
pub async fn fetch_certificate(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<u8>, ConnectError> {
    let ep = Endpoint {
        host: host.to_owned(),
        port,
        username: String::new(),
        password: Secret::new(""),
        trust: Trust::SystemRoots,
        connect_timeout: timeout,
    };
    let (config, captured) = inspect_config().map_err(|e| ConnectError::Tls {
        authority: ep.authority(),
        reason: e.to_string(),
    })?;
    within(&ep, async {
        // Dropped, not shut down: nothing at all is sent after the handshake.
        drop(secure(&ep, config).await?);
        captured.take().ok_or_else(|| ConnectError::Tls {
            authority: ep.authority(),
            reason: "the PBX presented no certificate".to_owned(),
        })
    })
    .await
}

/// Whether a system answers: a TCP connection and a TLS handshake (its certificate checked as
/// for a session), then nothing sent; no login is spent on it.
pub async fn probe(ep: &Endpoint, tls: Arc<rustls::ClientConfig>) -> Result<(), ConnectError> {
    within(ep, async {
        drop(secure(ep, tls).await?);
        Ok(())
    })
    .await
}

/// TCP, then TLS with these settings: the part every way of reaching a system shares.
async fn secure(
    ep: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
) -> Result<TlsStream<TcpStream>, ConnectError> {
    let tcp = TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(|e| classify_io(&e, ep))?;
    // Acks are small and must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    let server_name = ServerName::try_from(ep.host.clone()).map_err(|e| ConnectError::Resolve {
        host: ep.host.clone(),
        reason: e.to_string(),
    })?;
    TlsConnector::from(tls)
        .connect(server_name, tcp)
        .await
        .map_err(|e| classify_tls(&e, ep))
}

/// Runs an attempt within the endpoint's connect timeout.
async fn within<T>(
    ep: &Endpoint,
    attempt: impl Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    match tokio::time::timeout(ep.connect_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::TimedOut {
            authority: ep.authority(),
            secs: ep.connect_timeout.as_secs().max(1),
        }),
    }
}

fn classify_io(e: &io::Error, ep: &Endpoint) -> ConnectError {
    let authority = ep.authority();
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ConnectError::Refused { authority },
        io::ErrorKind::TimedOut => ConnectError::TimedOut {
            authority,
            secs: ep.connect_timeout.as_secs(),
        },
        // Name resolution failures come back as uncategorised errors from getaddrinfo.
        _ if e.to_string().contains("lookup") || e.to_string().contains("resolve") => {
            ConnectError::Resolve {
                host: ep.host.clone(),
                reason: e.to_string(),
            }
        }
        _ => ConnectError::Unreachable {
            authority,
            reason: e.to_string(),
        },
    }
}

fn classify_tls(e: &io::Error, ep: &Endpoint) -> ConnectError {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(CertificateError::Other(other)))
            if other.0.downcast_ref::<FingerprintMismatch>().is_some() =>
        {
            match other.0.downcast_ref::<FingerprintMismatch>() {
                Some(m) => ConnectError::PinMismatch {
                    want: m.want,
                    got: m.got,
                },
                None => ConnectError::Trust {
                    reason: other.to_string(),
                },
            }
        }
        Some(rustls::Error::InvalidCertificate(c)) => ConnectError::Trust {
            reason: describe_certificate_error(c, &ep.host),
        },
        Some(other) => ConnectError::Tls {
            authority: ep.authority(),
            reason: other.to_string(),
        },
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => ConnectError::Tls {
                authority: ep.authority(),
                reason: format!("the PBX closed the connection during the handshake ({e})"),
            },
            _ => ConnectError::Tls {
                authority: ep.authority(),
                reason: e.to_string(),
            },
        },
    }
}

fn classify_ws(e: tungstenite::Error, ep: &Endpoint, framing: Framing) -> ConnectError {
    use tungstenite::Error as E;
    match e {
        E::Http(response) => match response.status().as_u16() {
            401 | 403 => ConnectError::LoginRejected {
                status: response.status().as_u16(),
                username: ep.username.clone(),
                authority: ep.authority(),
            },
            404 => ConnectError::NotFound {
                url: ep.url(framing),
            },
            status @ (429 | 503) => ConnectError::Http {
                status,
                retry_after: response
                    .headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, SystemTime::now())),
            },
            status => ConnectError::Http {
                status,
                retry_after: None,
            },
        },
        E::Protocol(tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(_)) => {
            ConnectError::Subprotocol
        }
        E::Io(io) => classify_io(&io, ep),
        other => ConnectError::Handshake(other.to_string()),
    }
}

/// A `Retry-After` value (RFC 9110 section 10.2.3): a number of seconds, or an HTTP date
/// (IMF-fixdate, read against the wall clock `now`; a date already past means no wait). At
/// most [`MAX_RETRY_AFTER`]; anything else is ignored and the usual backoff applies.
pub(super) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is "very long": the cap applies.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(value)
            .ok()?;
        let now = jiff::Timestamp::try_from(now).ok()?;
        let secs = at.as_second().saturating_sub(now.as_second());
        Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::engine::Disconnect;
    use crate::session::error::FailureKind;

    fn ep(host: &str) -> Endpoint {
        Endpoint {
            host: host.into(),
            port: 8443,
            username: "ctiservice".into(),
            password: Secret::new("s3cret-pa55"),
            trust: Trust::SystemRoots,
            connect_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn urls_bracket_ipv6_and_the_password_stays_out_of_debug() {
        assert_eq!(
            ep("10.1.2.3").url(Framing::Framed),
            "wss://10.1.2.3:8443/tpkt/openapi"
        );
        assert_eq!(
            ep("::1").url(Framing::Framed),
            "wss://[::1]:8443/tpkt/openapi"
        );
        let shown = format!("{:?}", ep("ipo.example.net"));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("Secret(***)"));
        // "ctiservice:s3cret-pa55" in base64.
        assert_eq!(
            ep("h").basic_auth(),
            "Basic Y3Rpc2VydmljZTpzM2NyZXQtcGE1NQ=="
        );
    }

    #[test]
    fn failures_are_classified_for_their_remedy() {
        let e = ep("h");
        let refused = classify_io(&io::Error::from(io::ErrorKind::ConnectionRefused), &e);
        assert_eq!(refused.kind(), FailureKind::Unreachable);
        let login = ConnectError::LoginRejected {
            status: 401,
            username: "ctiservice".into(),
            authority: e.authority(),
        };
        assert_eq!(login.kind(), FailureKind::Auth);
        assert!(matches!(
            Disconnect::from(&login),
            Disconnect::LoginRejected(_)
        ));
        assert!(matches!(Disconnect::from(&refused), Disconnect::Failed(_)));
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date_and_capped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now),
            Some(Duration::from_secs(120))
        );
        // A date in the past: no wait beyond the usual backoff.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // A day, or more seconds than fit anywhere: the cap.
        assert_eq!(retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        // Neither: ignored.
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
        assert_eq!(retry_after("", now), None);
    }
}
