//! The HTTP side of the websocket handshake, before tungstenite takes over: the request head is
//! read and checked here so that every refusal gets a proper HTTP answer (a plain `GET` that is
//! not a websocket upgrade included), and the bytes read are handed back with [`Prefixed`].
//!
//! | request | answer |
//! |---|---|
//! | not HTTP, or a head over [`MAX_HEAD`] bytes | 400 Bad Request |
//! | a path other than `/tpkt/openapi` and `/tpkt/openapinoframing` | 404 Not Found |
//! | missing or wrong credentials | 401 Unauthorized, `WWW-Authenticate: Basic realm="IPOffice"` |
//! | an MTCTI3 path without a websocket upgrade (not `GET`, no `Upgrade: websocket` or no `Connection: Upgrade`) | 426 Upgrade Required, `Upgrade: websocket` |
//! | `Sec-WebSocket-Version` other than 13 | 426, `Sec-WebSocket-Version: 13` |
//! | no `Sec-WebSocket-Key` | 400 |
//! | otherwise | on to the websocket handshake (subprotocol, connection limit) |

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::protocol::frame::Framing;

/// The longest request head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path, without any query.
    pub path: String,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header holds `token` (case-insensitive), as `Connection:
    /// keep-alive, Upgrade` does.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// Where the head ends (the index just past `\r\n\r\n`), once it is all there.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a request head (up to and including the blank line); `None` when it is not HTTP/1.x.
pub fn parse_head(head: &[u8]) -> Option<RequestHead> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?;
    let version = first.next()?;
    if first.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let path = target.split('?').next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        if name.is_empty() || name.contains(' ') {
            return None;
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Some(RequestHead {
        method,
        path,
        headers,
    })
}

/// An HTTP refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The text body (one line, saying what to do).
    pub body: String,
}

impl Refusal {
    fn new(status: u16, body: &str) -> Self {
        Refusal {
            status,
            headers: Vec::new(),
            body: format!("{body}\n"),
        }
    }

    /// The whole response, ready to write; the connection closes after it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            426 => "Upgrade Required",
            503 => "Service Unavailable",
            _ => "Error",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nServer: IPOffice/WebSocketServer/\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.body.len()
        );
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&self.body);
        out.into_bytes()
    }
}

/// The framing an MTCTI3 path serves, or `None` for any other path.
pub fn framing_of(path: &str) -> Option<Framing> {
    match path {
        "/tpkt/openapi" => Some(Framing::Framed),
        "/tpkt/openapinoframing" => Some(Framing::NoFraming),
        _ => None,
    }
}

/// The 401 refusal, with its Basic challenge.
pub fn unauthorized(realm: &str) -> Refusal {
    let mut r = Refusal::new(
        401,
        "unauthorized: give the service user's name and password (HTTP Basic)",
    );
    r.headers
        .push(("WWW-Authenticate", format!("Basic realm=\"{realm}\"")));
    r
}

/// The 404 refusal.
pub fn not_found() -> Refusal {
    Refusal::new(
        404,
        "not found: MTCTI3 is served on /tpkt/openapi and /tpkt/openapinoframing",
    )
}

/// Checks a request head; `Err` is the answer to send. `authorized` checks the
/// `Authorization` header's value.
pub fn check(
    head: &RequestHead,
    authorized: impl Fn(Option<&str>) -> bool,
    realm: &str,
) -> Result<(), Refusal> {
    if framing_of(&head.path).is_none() {
        return Err(not_found());
    }
    if !authorized(head.header("Authorization")) {
        return Err(unauthorized(realm));
    }
    let upgrade = head.method == "GET"
        && head.has_token("Upgrade", "websocket")
        && head.has_token("Connection", "upgrade");
    if !upgrade {
        let mut r = Refusal::new(
            426,
            "upgrade required: MTCTI3 is a websocket; send GET with Upgrade: websocket",
        );
        r.headers.push(("Upgrade", "websocket".to_string()));
        r.headers.push(("Connection", "Upgrade".to_string()));
        r.headers.push(("Sec-WebSocket-Version", "13".to_string()));
        return Err(r);
    }
    if head.header("Sec-WebSocket-Version").map(str::trim) != Some("13") {
        let mut r = Refusal::new(426, "upgrade required: websocket version 13");
        r.headers.push(("Sec-WebSocket-Version", "13".to_string()));
        return Err(r);
    }
    if head
        .header("Sec-WebSocket-Key")
        .is_none_or(|k| k.trim().is_empty())
    {
        return Err(Refusal::new(
            400,
            "bad request: Sec-WebSocket-Key is missing",
        ));
    }
    Ok(())
}

/// The 400 refusal for what is not an HTTP request.
pub fn bad_request() -> Refusal {
    Refusal::new(400, "bad request: expected an HTTP/1.1 websocket upgrade")
}

/// A stream that first yields bytes already read from `inner`, then `inner` itself.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, with `prefix` read first.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed {
            prefix,
            pos: 0,
            inner,
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(rest) = this.prefix.get(this.pos..).filter(|r| !r.is_empty()) {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> RequestHead {
        parse_head(text.as_bytes()).expect("a request head")
    }

    const UPGRADE: &str = "GET /tpkt/openapi HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nAuthorization: Basic ok\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: openapi\r\n\r\n";

    fn ok(v: Option<&str>) -> bool {
        v == Some("Basic ok")
    }

    #[test]
    fn each_refusal_has_its_status() {
        assert_eq!(check(&head(UPGRADE), ok, "IPOffice"), Ok(()));
        let status = |text: &str| check(&head(text), ok, "IPOffice").err().map(|r| r.status);
        assert_eq!(status("GET /other HTTP/1.1\r\n\r\n"), Some(404));
        assert_eq!(status("GET /tpkt/openapi HTTP/1.1\r\n\r\n"), Some(401));
        assert_eq!(
            status("GET /tpkt/openapi?x=1 HTTP/1.1\r\nAuthorization: Basic ok\r\n\r\n"),
            Some(426)
        );
        assert_eq!(status(&UPGRADE.replace("GET", "POST")), Some(426));
        assert_eq!(
            status(&UPGRADE.replace("Version: 13", "Version: 8")),
            Some(426)
        );
        assert_eq!(
            status(&UPGRADE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")),
            Some(400)
        );
        assert!(parse_head(b"\x16\x03\x01 not http\r\n\r\n").is_none());
        let challenge = unauthorized("IPOffice").to_bytes();
        let text = String::from_utf8(challenge).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(text.contains("WWW-Authenticate: Basic realm=\"IPOffice\"\r\n"));
    }
}
