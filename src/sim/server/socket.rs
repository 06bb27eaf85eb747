//! The socket side: accepting TCP, the TLS and websocket handshakes as strict as IP Office's,
//! and one task per connection moving frames between the websocket and the core.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use crate::protocol::frame::{Framing, MAX_FRAME_LEN};
use crate::sim::http::{self, Prefixed};

use super::config::{Busy, REALM, SUBPROTOCOL};
use super::core::{CoreInput, WsOut};

/// How long a client has for the TLS and websocket handshakes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages queued towards one socket before the connection counts as stuck and is closed.
const OUT_CAPACITY: usize = 4096;

/// While a connection is not read ([`super::Fault::StopReading`]): pings this often, this
/// many at a time, each with the largest payload a control frame may carry.
const FLOOD_EVERY: Duration = Duration::from_millis(2);
const FLOOD_BURST: usize = 32;
const FLOOD_PAYLOAD: usize = 125;

pub(super) struct Gate {
    pub(super) expected: [u8; 32],
    pub(super) active: AtomicUsize,
    pub(super) max: usize,
    /// Logins refused with 401 so far.
    pub(super) refused: AtomicU64,
    /// The refusal every upgrade gets instead of a connection, while set.
    pub(super) busy: std::sync::Mutex<Option<Busy>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials' digest stays out of any output.
        f.debug_struct("Gate")
            .field("active", &self.active)
            .field("max", &self.max)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// Whether the `Authorization` header carries the service user's credentials. The digests
    /// are compared in constant time, so the comparison reveals nothing about the password.
    fn authorized(&self, value: Option<&HeaderValue>) -> bool {
        self.authorized_str(value.and_then(|v| v.to_str().ok()))
    }

    fn busy(&self) -> Option<Busy> {
        self.busy.lock().unwrap_or_else(|p| p.into_inner()).clone()
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

pub(super) async fn accept_loop(
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
    let refusal = refusal.or_else(|| {
        gate.busy().map(|b| http::Refusal {
            status: b.status,
            headers: b
                .retry_after
                .map(|v| ("Retry-After", v))
                .into_iter()
                .collect(),
            body: "busy: try again later\n".to_owned(),
        })
    });
    if let Some(refusal) = refusal {
        if refusal.status == 401 {
            gate.refused.fetch_add(1, Ordering::SeqCst);
        }
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
    let mut reading = true;
    let mut flood = tokio::time::interval(FLOOD_EVERY);
    flood.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'serve: loop {
        tokio::select! {
            _ = flood.tick(), if !reading => {
                for _ in 0..FLOOD_BURST {
                    let ping = WsMessage::Ping(vec![0x50; FLOOD_PAYLOAD].into());
                    if sink.feed(ping).await.is_err() {
                        break 'serve;
                    }
                }
                if sink.flush().await.is_err() {
                    break;
                }
            }
            incoming = stream.next(), if reading => match incoming {
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
                Some(WsOut::StopReading) => reading = false,
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
