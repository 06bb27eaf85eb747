//! The core: one task owning the [`Exchange`] (the PBX, its script and every connection's state
//! machine), fed by the socket tasks ([`CoreInput`]) and the handle ([`Control`]), sending
//! each socket what its connection has to send ([`WsOut`]), held back by latency when a fault
//! asks for it.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::protocol::frame::{self, FRAME_HEADER, Framing};
use crate::protocol::pb;
use crate::sim::conn::{CommandRecord, Connection, FaultSettings};
use crate::sim::exchange::Exchange;
use crate::sim::pbx::Pbx;
use crate::sim::script::ScriptRunner;

use super::config::{
    Fault, MALFORMED_HEADER, SendStamp, ServerError, ServerStats, UNDECODABLE_PAYLOAD, monotonic_ns,
};

pub(super) type PbxFn = Box<dyn FnOnce(&mut Pbx, Instant) + Send>;

pub(super) enum Control {
    WithPbx(PbxFn),
    Advance(Duration, oneshot::Sender<Result<(), ServerError>>),
    Stats(oneshot::Sender<ServerStats>),
    SetFaults(FaultSettings, oneshot::Sender<()>),
    Fault(Fault, oneshot::Sender<usize>),
    Stamps(mpsc::UnboundedSender<SendStamp>, oneshot::Sender<()>),
}

pub(super) enum CoreInput {
    Open {
        id: u64,
        framing: Framing,
        tx: mpsc::Sender<WsOut>,
    },
    Frame {
        id: u64,
        data: Bytes,
    },
    Closed {
        id: u64,
    },
}

pub(super) enum WsOut {
    Frame(Vec<u8>),
    Text(String),
    Close(CloseCode, String),
    Abort,
    /// Stop reading the socket and ping it instead ([`Fault::StopReading`]).
    StopReading,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Control::WithPbx(_) => "WithPbx",
            Control::Advance(..) => "Advance",
            Control::Stats(_) => "Stats",
            Control::SetFaults(..) => "SetFaults",
            Control::Fault(..) => "Fault",
            Control::Stamps(..) => "Stamps",
        })
    }
}

/// A connection's socket side: how its messages are framed and where they go.
struct Peer {
    framing: Framing,
    tx: mpsc::Sender<WsOut>,
    /// What is on its way to the socket, each with the instant latency lets it go.
    outq: VecDeque<(Instant, WsOut)>,
}

pub(super) struct Core {
    exchange: Exchange,
    peers: BTreeMap<u64, Peer>,
    /// With a manual clock: the start and how far the clock has been moved.
    manual: Option<(Instant, Duration)>,
    start: Instant,
    frames: u64,
    frames_tx: watch::Sender<u64>,
    records: Option<mpsc::UnboundedSender<CommandRecord>>,
    /// Where sends are stamped, once asked ([`SendStamp`]), and the gcids already stamped.
    stamps: Option<(mpsc::UnboundedSender<SendStamp>, HashSet<Vec<u8>>)>,
}

impl Core {
    /// A core serving `exchange`; `manual`: the clock's start, when a test moves it.
    pub(super) fn new(
        exchange: Exchange,
        manual: Option<(Instant, Duration)>,
        start: Instant,
        frames_tx: watch::Sender<u64>,
        records: Option<mpsc::UnboundedSender<CommandRecord>>,
    ) -> Self {
        Core {
            exchange,
            peers: BTreeMap::new(),
            manual,
            start,
            frames: 0,
            frames_tx,
            records,
            stamps: None,
        }
    }

    fn now(&self) -> Instant {
        match self.manual {
            Some((start, offset)) => start + offset,
            None => Instant::now(),
        }
    }

    /// When the core next needs to wake up by itself (never with a manual clock).
    fn deadline(&self) -> Option<Instant> {
        if self.manual.is_some() {
            return None;
        }
        let held = self
            .peers
            .values()
            .filter_map(|p| p.outq.front().map(|(at, _)| *at));
        self.exchange.poll_timeout().into_iter().chain(held).min()
    }

    fn advance(&mut self, now: Instant) {
        self.exchange.handle_timeout(now);
    }

    /// Drops a connection on both sides.
    fn drop_peer(&mut self, id: u64) {
        self.peers.remove(&id);
        self.exchange.close(id);
    }

    fn on_input(&mut self, input: CoreInput) {
        let now = self.now();
        self.advance(now);
        match input {
            CoreInput::Open { id, framing, tx } => {
                self.exchange.open(id);
                self.peers.insert(
                    id,
                    Peer {
                        framing,
                        tx,
                        outq: VecDeque::new(),
                    },
                );
                if let Some((tx, _)) = &self.stamps {
                    let _ = tx.send(SendStamp::Opened {
                        open: self.peers.len(),
                    });
                }
            }
            CoreInput::Frame { id, data } => {
                self.frames += 1;
                self.frames_tx.send_replace(self.frames);
                let Some(peer) = self.peers.get(&id) else {
                    return;
                };
                match frame::decode(&data, peer.framing) {
                    Ok(msg) => {
                        self.exchange.handle_message(now, id, msg);
                        self.drain_records(id, now);
                    }
                    Err(e) => {
                        tracing::info!(id, error = %e, "closing a connection that sent an undecodable frame");
                        let reason = format!("undecodable MTCTI3 message: {e}");
                        let _ = peer.tx.try_send(WsOut::Close(CloseCode::Invalid, reason));
                        self.drop_peer(id);
                    }
                }
            }
            CoreInput::Closed { id } => self.drop_peer(id),
        }
    }

    /// Stamps a connection's command records and sends them to the log.
    fn drain_records(&mut self, id: u64, now: Instant) {
        while let Some(mut r) = self.exchange.poll_record(id) {
            let t_ms = u64::try_from(now.saturating_duration_since(self.start).as_millis())
                .unwrap_or(u64::MAX);
            r.t_ms = t_ms;
            r.time = format!("{}.{:03}", self.exchange.pbx.time_of_day(), t_ms % 1000);
            r.conn = id;
            if let Some(tx) = &self.records {
                let _ = tx.send(r);
            }
        }
    }

    fn on_control(&mut self, control: Control) {
        let now = self.now();
        match control {
            Control::WithPbx(f) => {
                self.advance(now);
                f(&mut self.exchange.pbx, now);
                self.exchange.pump();
            }
            Control::Advance(by, reply) => {
                let result = match &mut self.manual {
                    Some((_, offset)) => {
                        *offset += by;
                        let now = self.now();
                        self.advance(now);
                        Ok(())
                    }
                    None => Err(ServerError::NotManual),
                };
                let _ = reply.send(result);
            }
            Control::Stats(reply) => {
                self.advance(now);
                let conns = || self.exchange.connections().map(|(_, c)| c);
                let _ = reply.send(ServerStats {
                    site: self.exchange.pbx.stats(),
                    connections: self.peers.len(),
                    frames_received: self.frames,
                    held: self.peers.values().map(|p| p.outq.len()).sum::<usize>()
                        + conns().map(Connection::outstanding).sum::<usize>(),
                    unanswered: conns().map(Connection::unanswered).sum(),
                    script_steps_left: self.exchange.runner().map_or(0, ScriptRunner::steps_left),
                });
            }
            Control::SetFaults(faults, reply) => {
                self.exchange.set_faults(faults);
                let _ = reply.send(());
            }
            Control::Fault(fault, reply) => {
                self.advance(now);
                let n = self.apply_fault(fault, now);
                let _ = reply.send(n);
            }
            Control::Stamps(tx, reply) => {
                self.stamps = Some((tx, HashSet::new()));
                let _ = reply.send(());
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault, now: Instant) -> usize {
        let latency = self.exchange.faults().latency();
        match fault {
            Fault::Close | Fault::Abort | Fault::Restart => {
                if fault == Fault::Restart {
                    self.exchange.restart();
                    tracing::info!("the PBX restarted: every call ended, every connection dropped");
                } else {
                    self.exchange.close_all();
                }
                let n = self.peers.len();
                for (_, p) in std::mem::take(&mut self.peers) {
                    let out = if fault == Fault::Close {
                        WsOut::Close(CloseCode::Away, "closed by the simulator".to_string())
                    } else {
                        WsOut::Abort
                    };
                    let _ = p.tx.try_send(out);
                }
                n
            }
            Fault::MalformedFrame | Fault::UndecodablePayload => {
                for p in self.peers.values_mut() {
                    let out = match (fault, p.framing) {
                        (Fault::MalformedFrame, Framing::Framed) => {
                            let valid = pb::Message {
                                payload: Some(pb::message::Payload::Response(
                                    pb::RequestResponse::default(),
                                )),
                            };
                            let mut bytes = MALFORMED_HEADER.to_vec();
                            bytes.extend(
                                frame::encode(&valid, Framing::NoFraming).unwrap_or_default(),
                            );
                            WsOut::Frame(bytes)
                        }
                        (Fault::MalformedFrame, Framing::NoFraming) => {
                            WsOut::Text("not an MTCTI3 message".to_string())
                        }
                        (_, Framing::Framed) => {
                            let mut bytes = FRAME_HEADER.to_vec();
                            bytes.extend(UNDECODABLE_PAYLOAD);
                            WsOut::Frame(bytes)
                        }
                        (_, Framing::NoFraming) => WsOut::Frame(UNDECODABLE_PAYLOAD.to_vec()),
                    };
                    p.outq.push_back((now + latency, out));
                }
                self.peers.len()
            }
            Fault::TerminateSubscriptions => self.exchange.terminate_all(),
            Fault::StopReading => {
                for p in self.peers.values() {
                    let _ = p.tx.try_send(WsOut::StopReading);
                }
                self.peers.len()
            }
        }
    }

    /// Sends what every connection has to send, once latency lets it go; a connection whose
    /// socket cannot keep up is dropped (its socket task then closes the websocket).
    fn flush(&mut self, now: Instant) {
        let latency = self.exchange.faults().latency();
        let mut stuck = Vec::new();
        for (id, p) in &mut self.peers {
            while let Some(msg) = self.exchange.poll_transmit(*id) {
                if let Some((tx, seen)) = &mut self.stamps {
                    stamp_first_sends(&msg, tx, seen);
                }
                match frame::encode(&msg, p.framing) {
                    Ok(bytes) => p.outq.push_back((now + latency, WsOut::Frame(bytes))),
                    Err(e) => tracing::warn!(id, error = %e, "a message could not be encoded"),
                }
            }
            while p.outq.front().is_some_and(|(at, _)| *at <= now) {
                let Some((_, out)) = p.outq.pop_front() else {
                    break;
                };
                if p.tx.try_send(out).is_err() {
                    stuck.push(*id);
                    break;
                }
            }
        }
        for id in stuck {
            tracing::warn!(id, "closing a connection whose client does not read");
            self.drop_peer(id);
        }
    }
}

/// Stamps each gcid the first time a Notify carries it. With no latency asked for, the frame
/// goes to its socket's writer in this same pass.
fn stamp_first_sends(
    msg: &pb::Message,
    tx: &mpsc::UnboundedSender<SendStamp>,
    seen: &mut HashSet<Vec<u8>>,
) {
    let Some(pb::message::Payload::Notify(n)) = &msg.payload else {
        return;
    };
    let Some(pb::notify::Payload::Callcontrol(cc)) = &n.payload else {
        return;
    };
    for ci in &cc.callinfo {
        if !ci.gcid.is_empty() && seen.insert(ci.gcid.clone()) {
            let gcid = ci.gcid.iter().map(|b| format!("{b:02X}")).collect();
            let _ = tx.send(SendStamp::FirstSent {
                gcid,
                monotonic_ns: monotonic_ns(),
            });
        }
    }
}

pub(super) async fn run_core(
    mut core: Core,
    mut rx: mpsc::Receiver<CoreInput>,
    mut ctl: mpsc::Receiver<Control>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let deadline = core.deadline();
        let sleep = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => break,
            Some(input) = rx.recv() => core.on_input(input),
            Some(c) = ctl.recv() => core.on_control(c),
            () = sleep => {
                let now = core.now();
                core.advance(now);
            }
        }
        let now = core.now();
        core.flush(now);
    }
}
