//! A raw MTCTI3 client for tests: a websocket over real TLS (trusting the simulator's generated
//! CA), HTTP Basic credentials, the `openapi` subprotocol, and hand-built messages.

#![allow(dead_code)] // each test crate uses a part of this

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use ipo_top::protocol::frame::{self, Framing};
use ipo_top::protocol::pb;
use ipo_top::protocol::pb::message::Payload as P;
use ipo_top::sim::Site;
use ipo_top::sim::conn::{ConnConfig, FlowControl};
use ipo_top::sim::server::{self, Clock, Credentials, ServerConfig, ServerHandle};
use ipo_top::sim::tls::TlsIdentity;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// The service user the test servers accept.
pub const USER: &str = "wallboard";
/// Its password.
pub const PASSWORD: &str = "correct horse battery staple";

/// How long a test waits for a message the server owes it before failing (a safety net for a
/// broken server, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(10);

/// Starts a simulator on 127.0.0.1:0 with a manual clock: nothing moves until the test
/// advances it.
pub async fn start(site: Site, flow: FlowControl) -> ServerHandle {
    start_with(site, flow, Clock::Manual, 10).await
}

/// Starts a simulator on 127.0.0.1:0 with the given clock and connection limit.
pub async fn start_with(
    site: Site,
    flow: FlowControl,
    clock: Clock,
    max_connections: usize,
) -> ServerHandle {
    start_config(
        site,
        ConnConfig {
            flow,
            ..ConnConfig::default()
        },
        clock,
        max_connections,
    )
    .await
}

/// Starts a simulator on 127.0.0.1:0 with a manual clock and these connection options.
pub async fn start_conn(site: Site, conn: ConnConfig) -> ServerHandle {
    start_config(site, conn, Clock::Manual, 10).await
}

/// Starts a simulator on 127.0.0.1:0 with every connection option given.
pub async fn start_config(
    site: Site,
    conn: ConnConfig,
    clock: Clock,
    max_connections: usize,
) -> ServerHandle {
    start_full(site, conn, clock, max_connections, None, None, 1).await
}

/// Starts a simulator on 127.0.0.1:0 with a script and a command log too.
pub async fn start_full(
    site: Site,
    conn: ConnConfig,
    clock: Clock,
    max_connections: usize,
    script: Option<ipo_top::sim::script::Script>,
    command_log: Option<server::CommandLog>,
    seed: u64,
) -> ServerHandle {
    let time_of_day = match &script {
        Some(s) => s.time_of_day().expect("the script's time"),
        None => "10:00".parse().expect("time"),
    };
    server::start(ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        site,
        seed,
        time_of_day,
        credentials: Credentials {
            username: USER.to_string(),
            password: PASSWORD.to_string(),
        },
        tls: TlsIdentity::generate(&[]).expect("tls"),
        conn,
        clock,
        max_connections,
        script,
        command_log,
    })
    .await
    .expect("the simulator starts")
}

/// A rustls client configuration that trusts only the simulator's CA.
pub fn client_tls(handle: &ServerHandle) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = handle.ca_pem().expect("a generated CA");
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.expect("CA pem")).expect("CA cert");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a websocket to `path` with optional credentials and subprotocol; the handshake's
/// error (e.g. an HTTP 401) comes back as is.
pub async fn open(
    handle: &ServerHandle,
    path: &str,
    credentials: Option<(&str, &str)>,
    subprotocol: Option<&str>,
) -> Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error> {
    let url = format!("wss://{}{path}", handle.local_addr());
    let mut req = url.into_client_request()?;
    if let Some((user, pass)) = credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let value = HeaderValue::from_str(&format!("Basic {token}")).expect("header");
        req.headers_mut().insert("Authorization", value);
    }
    if let Some(p) = subprotocol {
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(p).expect("header"),
        );
    }
    tokio_tungstenite::connect_async_tls_with_config(
        req,
        None,
        true,
        Some(Connector::Rustls(client_tls(handle))),
    )
    .await
}

/// A connected MTCTI3 client. Messages that arrive while it waits for a response are kept, in
/// order, for the next `recv`.
pub struct Client {
    ws: Ws,
    framing: Framing,
    next_request: i32,
    backlog: VecDeque<pb::Message>,
}

/// Connects with the right credentials and subprotocol.
pub async fn connect(handle: &ServerHandle, framing: Framing) -> Client {
    let (ws, resp) = open(
        handle,
        framing.path(),
        Some((USER, PASSWORD)),
        Some("openapi"),
    )
    .await
    .expect("the handshake succeeds");
    assert_eq!(
        resp.headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok()),
        Some("openapi"),
        "the subprotocol is echoed"
    );
    Client {
        ws,
        framing,
        next_request: 9000,
        backlog: VecDeque::new(),
    }
}

/// Sends `request` as is over TLS (no websocket) and returns everything the server answers
/// until it closes: an HTTP response, as text.
pub async fn http_exchange(handle: &ServerHandle, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = TcpStream::connect(handle.local_addr())
        .await
        .expect("connect");
    let connector = tokio_rustls::TlsConnector::from(client_tls(handle));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS");
    tls.write_all(request).await.expect("write");
    let mut out = Vec::new();
    // The server closes after its answer; a reset instead of close_notify still ends the read.
    let _ = tokio::time::timeout(PATIENCE, tls.read_to_end(&mut out))
        .await
        .expect("the server answers and closes");
    String::from_utf8_lossy(&out).into_owned()
}

/// How a connection ended.
#[derive(Debug)]
pub enum Ending {
    /// With a websocket close frame.
    Closed(Option<CloseFrame>),
    /// Without one: the stream failed or just stopped (a reset, or a drop).
    Dropped(String),
}

pub fn msg(payload: P) -> pb::Message {
    pb::Message {
        payload: Some(payload),
    }
}

pub fn subscribe(
    requestid: i32,
    subscribe_id: i32,
    timeout: i32,
    payload: pb::subscribe::Payload,
) -> pb::Message {
    msg(P::Subscribe(pb::Subscribe {
        requestid,
        subscribe_id,
        timeout,
        label: String::new(),
        payload: Some(payload),
    }))
}

pub fn lines(requestid: i32, subscribe_id: i32, flags: i32) -> pb::Message {
    subscribe(
        requestid,
        subscribe_id,
        0,
        pb::subscribe::Payload::Lines(pb::SubscribeLines { flags }),
    )
}

pub fn user(
    requestid: i32,
    subscribe_id: i32,
    guid: &[u8],
    flags: i32,
    ccflags: i32,
) -> pb::Message {
    subscribe(
        requestid,
        subscribe_id,
        0,
        pb::subscribe::Payload::User(pb::SubscribeUser {
            guid: guid.to_vec(),
            flags,
            ccflags,
        }),
    )
}

pub fn queue_by_name(
    requestid: i32,
    subscribe_id: i32,
    name: &str,
    flags: i32,
    ccflags: i32,
) -> pb::Message {
    subscribe(
        requestid,
        subscribe_id,
        0,
        pb::subscribe::Payload::Queue(pb::SubscribeQueue {
            guid: Vec::new(),
            flags,
            ccflags,
            name: name.to_string(),
        }),
    )
}

pub fn queue_by_guid(
    requestid: i32,
    subscribe_id: i32,
    guid: &[u8],
    flags: i32,
    ccflags: i32,
) -> pb::Message {
    subscribe(
        requestid,
        subscribe_id,
        0,
        pb::subscribe::Payload::Queue(pb::SubscribeQueue {
            guid: guid.to_vec(),
            flags,
            ccflags,
            name: String::new(),
        }),
    )
}

pub fn parkserver(requestid: i32, subscribe_id: i32, ccflags: i32) -> pb::Message {
    subscribe(
        requestid,
        subscribe_id,
        0,
        pb::subscribe::Payload::Parkserver(pb::SubscribeParkServer { flags: 0, ccflags }),
    )
}

/// A refresh: the same subscribe_id and only a timeout.
pub fn refresh(requestid: i32, subscribe_id: i32, timeout: i32) -> pb::Message {
    msg(P::Subscribe(pb::Subscribe {
        requestid,
        subscribe_id,
        timeout,
        label: String::new(),
        payload: None,
    }))
}

pub fn subscribe_end(requestid: i32, subscribe_id: i32) -> pb::Message {
    msg(P::Subscribeend(pb::SubscribeEnd {
        requestid,
        subscribe_id,
        reason: String::new(),
    }))
}

pub fn getversioninfo(requestid: i32) -> pb::Message {
    msg(P::Generalcmd(pb::GeneralCmd {
        requestid,
        payload: Some(pb::general_cmd::Payload::Getversioninfo(true)),
    }))
}

pub fn getfile(requestid: i32, fname: &str) -> pb::Message {
    msg(P::Generalcmd(pb::GeneralCmd {
        requestid,
        payload: Some(pb::general_cmd::Payload::Getfile(pb::GetFile {
            cmdinst: 5,
            fname: fname.to_string(),
        })),
    }))
}

/// The RequestResponse in a message, if it is one.
pub fn response(m: &pb::Message) -> Option<&pb::RequestResponse> {
    match &m.payload {
        Some(P::Response(r)) => Some(r),
        _ => None,
    }
}

/// The Notify in a message, if it is one.
pub fn notify(m: &pb::Message) -> Option<&pb::Notify> {
    match &m.payload {
        Some(P::Notify(n)) => Some(n),
        _ => None,
    }
}

/// The callcontrol payload of a Notify.
pub fn callcontrol(n: &pb::Notify) -> Option<&pb::NotifyCallControl> {
    match &n.payload {
        Some(pb::notify::Payload::Callcontrol(c)) => Some(c),
        _ => None,
    }
}

impl Client {
    /// Sends one message in this connection's framing.
    pub async fn send(&mut self, m: pb::Message) {
        let bytes = frame::encode(&m, self.framing).expect("encode");
        self.send_raw(bytes).await;
    }

    /// Sends one binary frame as is.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(WsMessage::Binary(bytes.into()))
            .await
            .expect("send");
    }

    /// The next message; fails the test when the connection closes or stays silent.
    pub async fn recv(&mut self) -> pb::Message {
        if let Some(m) = self.backlog.pop_front() {
            return m;
        }
        self.recv_wire().await
    }

    async fn recv_wire(&mut self) -> pb::Message {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the server owes a message");
            match next {
                Some(Ok(WsMessage::Binary(b))) => {
                    return frame::decode(&b, self.framing).expect("a decodable message");
                }
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// How the server closes the connection (its close frame).
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the server closes");
            match next {
                Some(Ok(WsMessage::Close(frame))) => return frame,
                Some(Ok(WsMessage::Binary(_) | WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                other => panic!("expected a close, got {other:?}"),
            }
        }
    }

    /// How the connection ends, skipping any messages still arriving.
    pub async fn ended(&mut self) -> Ending {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the connection ends");
            match next {
                Some(Ok(WsMessage::Close(frame))) => return Ending::Closed(frame),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Ending::Dropped(e.to_string()),
                None => return Ending::Dropped("end of stream".to_string()),
            }
        }
    }

    /// The next websocket message as it came (no decoding), for frames that are not MTCTI3.
    pub async fn recv_ws(&mut self) -> WsMessage {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the server owes a message");
            match next {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                Some(Ok(m)) => return m,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The messages kept while waiting for responses, not read yet.
    pub fn take_backlog(&mut self) -> Vec<pb::Message> {
        self.backlog.drain(..).collect()
    }

    /// The framing this client speaks.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Sends a request and returns its RequestResponse; whatever arrives first is kept for
    /// `recv`.
    pub async fn request(&mut self, m: pb::Message) -> pb::RequestResponse {
        let id = request_id(&m).expect("the request carries a requestid");
        self.send(m).await;
        loop {
            let m = self.recv_wire().await;
            if let Some(r) = response(&m).filter(|r| r.requestid == id) {
                return r.clone();
            }
            self.backlog.push_back(m);
        }
    }

    /// The result code of a request.
    pub async fn result(&mut self, m: pb::Message) -> i32 {
        self.request(m).await.result
    }

    /// Everything the server sent so far that the test has not read yet: asks for the version
    /// and collects what arrives ahead of the answer. Since a connection's messages stay in
    /// order, an empty list proves nothing else was sent.
    pub async fn sync(&mut self) -> Vec<pb::Message> {
        self.next_request += 1;
        let r = self.request(getversioninfo(self.next_request)).await;
        assert_eq!(r.result, 0);
        let before: Vec<pb::Message> = self.backlog.drain(..).collect();
        let data = self.recv_wire().await;
        assert!(
            matches!(&data.payload, Some(P::Generaldata(d)) if d.responseid == r.requestid),
            "GeneralData follows the RequestResponse: {data:?}"
        );
        before
    }

    /// The next Notify (anything else first fails the test).
    pub async fn notify(&mut self) -> pb::Notify {
        let m = self.recv().await;
        notify(&m)
            .cloned()
            .unwrap_or_else(|| panic!("expected a Notify, got {m:?}"))
    }

    /// Acknowledges a Notify.
    pub async fn ack(&mut self, n: &pb::Notify) {
        self.send(msg(P::Notifyack(pb::NotifyAck {
            subscribe_id: n.subscribe_id,
            notify_id: n.notify_id,
        })))
        .await;
    }

    /// The next Notify, acknowledged.
    pub async fn notify_acked(&mut self) -> pb::Notify {
        let n = self.notify().await;
        self.ack(&n).await;
        n
    }
}

fn request_id(m: &pb::Message) -> Option<i32> {
    let id = match &m.payload {
        Some(P::Subscribe(s)) => s.requestid,
        Some(P::Subscribecmd(s)) => s.requestid,
        Some(P::Subscribeend(s)) => s.requestid,
        Some(P::Generalcmd(g)) => g.requestid,
        _ => 0,
    };
    (id != 0).then_some(id)
}
