//! The bare client: the floor the dashboard's start is measured against. Over the same TLS
//! and websocket as the session, it subscribes to the lines list, every user, every queue and
//! the park server (all at once, no window), acknowledges each Notify as soon as it is decoded
//! and does nothing else with it. With one Notify in flight per connection (IP Office's flow
//! control), no client can see the whole site sooner.
//!
//! It also records what it was sent, by subscription, for the sans-IO replay.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::BenchError;
use crate::protocol::pb::message::Payload as P;
use crate::protocol::{self, Framing, pb};
use crate::session::{
    self, Endpoint, LINES_FLAGS, PARK_CCFLAGS, QUEUE_CCFLAGS, QUEUE_FLAGS, USER_CCFLAGS, USER_FLAGS,
};

/// What a subscription is about, as the replay must subscribe it again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Sub {
    /// The lines list.
    Lines,
    /// A user, by guid.
    User(Vec<u8>),
    /// A queue, by guid.
    Queue(Vec<u8>),
    /// The park server.
    Park,
}

impl Sub {
    /// What a Subscribe asks for; `None` for subscriptions the bare client does not make.
    pub fn of(payload: &pb::subscribe::Payload) -> Option<Sub> {
        use pb::subscribe::Payload as S;
        match payload {
            S::Lines(_) => Some(Sub::Lines),
            S::User(u) => Some(Sub::User(u.guid.clone())),
            S::Queue(q) => Some(Sub::Queue(q.guid.clone())),
            S::Parkserver(_) => Some(Sub::Park),
            _ => None,
        }
    }

    fn payload(&self) -> pb::subscribe::Payload {
        use pb::subscribe::Payload as S;
        match self {
            Sub::Lines => S::Lines(pb::SubscribeLines {
                flags: LINES_FLAGS.to_wire(),
            }),
            Sub::User(guid) => S::User(pb::SubscribeUser {
                guid: guid.clone(),
                flags: USER_FLAGS.to_wire(),
                ccflags: USER_CCFLAGS.to_wire(),
            }),
            Sub::Queue(guid) => S::Queue(pb::SubscribeQueue {
                guid: guid.clone(),
                flags: QUEUE_FLAGS.to_wire(),
                ccflags: QUEUE_CCFLAGS.to_wire(),
                name: String::new(),
            }),
            Sub::Park => S::Parkserver(pb::SubscribeParkServer {
                flags: 0,
                ccflags: PARK_CCFLAGS.to_wire(),
            }),
        }
    }
}

/// The Notifies of one run, in the order they came.
#[derive(Debug, Default)]
pub struct Recording {
    /// Each Notify with the subscription it came on.
    pub notifies: Vec<(Sub, pb::Notify)>,
    /// Where the traffic after the full picture starts.
    pub steady_from: usize,
}

/// What the bare client measured.
#[derive(Debug)]
pub struct Bare {
    /// From starting to connect to the last call already there reported.
    pub full_picture: Duration,
    /// Notifies received, and acknowledged.
    pub notifies: u64,
    /// Notifies acknowledged.
    pub acked: u64,
    /// Gaps in the notify_id sequences.
    pub missing: u64,
    /// The traffic, for the replay.
    pub recording: Recording,
}

/// Connects, takes in the whole site, then records `record_for` of traffic and disconnects.
/// `initial_report` is how long after the last response a silent line is taken to have no
/// calls (the session's own setting).
pub async fn run(
    endpoint: &Endpoint,
    initial_report: Duration,
    record_for: Duration,
    give_up: Duration,
) -> Result<Bare, BenchError> {
    let start = Instant::now();
    let tls = session::tls::client_config(&endpoint.trust)
        .map_err(|e| BenchError::Connect(e.to_string()))?;
    let mut ws = session::open(endpoint, Framing::Framed, tls)
        .await
        .map_err(|e| BenchError::Connect(e.to_string()))?;
    let mut client = Client::default();
    for sub in [Sub::Lines, Sub::Park] {
        ws.send(client.subscribe(sub)?).await.map_err(ws_error)?;
    }
    let mut full_at: Option<Instant> = None;
    let mut record_until = None;
    loop {
        let now = Instant::now();
        if now.duration_since(start) > give_up {
            return Err(BenchError::Timeout("the bare client's full picture".into()));
        }
        if full_at.is_none()
            && let Some(answered) = client.all_answered
            && now.duration_since(answered) >= initial_report
        {
            let at = client.last_initial.map_or(answered, |l| l.max(answered));
            full_at = Some(at);
            client.recording.steady_from = client.recording.notifies.len();
            record_until = Some(now + record_for);
        }
        if record_until.is_some_and(|t| now >= t) {
            break;
        }
        let wait = Duration::from_millis(100);
        let Ok(got) = tokio::time::timeout(wait, ws.next()).await else {
            continue;
        };
        let bytes = match got {
            Some(Ok(WsMessage::Binary(b))) => b,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ws_error(e)),
            None => return Err(BenchError::Connect("the simulator closed the link".into())),
        };
        let msg = protocol::decode(&bytes, Framing::Framed)
            .map_err(|e| BenchError::Connect(format!("undecodable frame: {e}")))?;
        for out in client.handle(Instant::now(), msg)? {
            ws.feed(out).await.map_err(ws_error)?;
        }
        ws.flush().await.map_err(ws_error)?;
    }
    let _ = ws.close(None).await;
    let full = full_at.map_or(Duration::ZERO, |t| t.duration_since(start));
    Ok(Bare {
        full_picture: full,
        notifies: client.notifies,
        acked: client.acked,
        missing: client.missing,
        recording: client.recording,
    })
}

fn ws_error(e: tokio_tungstenite::tungstenite::Error) -> BenchError {
    BenchError::Connect(e.to_string())
}

/// The bare client's state.
#[derive(Default)]
struct Client {
    next_id: i32,
    subs: HashMap<i32, Sub>,
    sent: usize,
    answered: usize,
    lines_seen: bool,
    all_answered: Option<Instant>,
    /// Subscriptions whose first call-control Notify (their report of the calls already
    /// there) has come.
    reported: std::collections::HashSet<i32>,
    last_initial: Option<Instant>,
    last_notify_id: HashMap<i32, i32>,
    notifies: u64,
    acked: u64,
    missing: u64,
    recording: Recording,
}

impl Client {
    fn subscribe(&mut self, sub: Sub) -> Result<WsMessage, BenchError> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = pb::Message {
            payload: Some(P::Subscribe(pb::Subscribe {
                requestid: id,
                subscribe_id: id,
                timeout: 0,
                label: String::new(),
                payload: Some(sub.payload()),
            })),
        };
        self.subs.insert(id, sub);
        self.sent += 1;
        encode(&msg)
    }

    /// Takes in one message; returns what to send (the ack first).
    fn handle(&mut self, now: Instant, msg: pb::Message) -> Result<Vec<WsMessage>, BenchError> {
        let mut out = Vec::new();
        match msg.payload {
            Some(P::Notify(n)) => {
                self.notifies += 1;
                if n.notify_id != 0 {
                    out.push(encode(&pb::Message {
                        payload: Some(P::Notifyack(pb::NotifyAck {
                            subscribe_id: n.subscribe_id,
                            notify_id: n.notify_id,
                        })),
                    })?);
                    self.acked += 1;
                    let last = self.last_notify_id.insert(n.subscribe_id, n.notify_id);
                    let gap = n.notify_id - last.unwrap_or(0) - 1;
                    self.missing += u64::try_from(gap).unwrap_or(0);
                }
                match &n.payload {
                    Some(pb::notify::Payload::Lines(l)) if !self.lines_seen => {
                        self.lines_seen = true;
                        for u in &l.adduser {
                            out.push(self.subscribe(Sub::User(u.guid.clone()))?);
                        }
                        for q in &l.addqueue {
                            out.push(self.subscribe(Sub::Queue(q.guid.clone()))?);
                        }
                    }
                    Some(pb::notify::Payload::Callcontrol(cc))
                        if self.reported.insert(n.subscribe_id) && !cc.callinfo.is_empty() =>
                    {
                        self.last_initial = Some(now);
                    }
                    _ => {}
                }
                if let Some(sub) = self.subs.get(&n.subscribe_id) {
                    self.recording.notifies.push((sub.clone(), n));
                }
            }
            Some(P::Response(_)) => {
                self.answered += 1;
                if self.lines_seen && self.answered >= self.sent && self.all_answered.is_none() {
                    self.all_answered = Some(now);
                }
            }
            _ => {}
        }
        Ok(out)
    }
}

fn encode(msg: &pb::Message) -> Result<WsMessage, BenchError> {
    let bytes = protocol::encode(msg, Framing::Framed)
        .map_err(|e| BenchError::Connect(format!("cannot encode: {e}")))?;
    Ok(WsMessage::Binary(bytes.into()))
}
