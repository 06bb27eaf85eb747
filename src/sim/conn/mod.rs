//! The server side of one MTCTI3 connection, as a sans-IO state machine.
//!
//! It takes decoded messages ([`Connection::handle_message`]), the PBX's changes
//! ([`Connection::handle_change`]) and the time ([`Connection::handle_timeout`]), and gives the
//! messages to send ([`Connection::poll_transmit`]). It never touches a socket or a clock.
//!
//! # Subscriptions
//!
//! - **lines** (only one per connection): the first Notify lists every user (flags bit 0) and
//!   group (bit 1); later ones carry `adduser`/`deleteuser`/`changeuser` and the queue
//!   equivalents. `NotifyLines.flags` is `0x3` when park availability was asked for (bit 2):
//!   bit 0 "park server can be subscribed", plus bit 1, which the document's example shows set
//!   without describing it; clients must mask.
//! - **user** (by guid): first a `user` Notify with the configuration (`flags` select mailbox,
//!   forwarding, app and absence), then, when `ccflags` is not 0, `callcontrol` Notifies for
//!   the calls present and every later change. No call control when `ccflags` is 0.
//! - **queue** (by guid, or by name when no guid is given): a `queue` Notify (`flags` bit 0
//!   mailbox, bit 1 members), then call control as for users. With Ephemeral (`0x40000000`) a
//!   call is shown only while unanswered (QUEUEING, RINGING, RETARGETING) and is lost once
//!   answered.
//! - **park server** (only one): parked calls as `callcontrol` with `parkslot`.
//! - **presence**: as documented; the timeout must be 60..=86400 s.
//!
//! Call-control detail follows `ccflags`: devices (`localinfo`/`remoteinfo`) only with 0x02,
//! conference members with 0x08 or 0x100, `dialinfo` with 0x10, `trunkinfo` (and its DID)
//! with 0x20, `queueinfo` with 0x40, `calldata` with 0x80, and `targets` only on queue
//! subscriptions with 0x40000.
//!
//! # Notifies and flow control
//!
//! Every Notify carries a `notify_id` (per subscription, from 1) and, once sent, no further
//! Notify goes out until its NotifyAck arrives: per connection by default (the stricter reading
//! of the document), or per subscription ([`FlowControl`]). RequestResponse, GeneralData and
//! SubscribeTerminated always flow. While held, changes collect per call: a backlog for one
//! call collapses to its latest snapshot, several calls share one Notify (up to
//! [`ConnConfig::max_calls_per_notify`]), and a call that came and went unseen is not reported
//! at all. A callcontrol Notify always carries full snapshots.
//!
//! # RequestResponse codes
//!
//! Every request with a non-zero `requestid` gets exactly one RequestResponse:
//!
//! | request | condition | result |
//! |---|---|---|
//! | any | accepted | 0 `MTCTISESS_SUCCESS` |
//! | Subscribe | negative timeout, or `subscribe_id` 0 | 5002 `REQUEST_INVALID_PAYLOAD` |
//! | Subscribe, no payload (refresh) | `subscribe_id` not a live subscription | 100 `SUBSCRIPTION_INVALID` |
//! | Subscribe with payload | `subscribe_id` already in use | 101 `SUBSCRIPTION_INVALID_ID` |
//! | Subscribe | more than [`ConnConfig::max_subscriptions`] | 5 `TOOMANY` |
//! | Subscribe lines / parkserver | one exists already | 5 `TOOMANY` |
//! | Subscribe presence (or its refresh) | timeout 0..=59 | 102 `SUBSCRIPTION_TIMEOUT_TOO_SMALL` |
//! | Subscribe presence (or its refresh) | timeout over 86400 | 5002 `REQUEST_INVALID_PAYLOAD` |
//! | Subscribe user | guid unknown (or not 16 bytes) | 7 `USERNOTFOUND` |
//! | Subscribe queue | guid or name unknown | 4 `NOTFOUND` |
//! | Subscribe queue | neither guid nor name | 5002 `REQUEST_INVALID_PAYLOAD` |
//! | Subscribe refreshwrapper | not simulated | 3 `NOTINSTRUMENTED` |
//! | SubscribeEnd, SubscribeCmd | `subscribe_id` not a live subscription | 101 `SUBSCRIPTION_INVALID_ID` |
//! | SubscribeCmd | no payload, or an empty update | 5002 `REQUEST_INVALID_PAYLOAD` |
//! | SubscribeCmd | update of another kind than the subscription (e.g. `user` on a queue subscription, `callcontrol` with ccflags 0) | 5003 `REQUEST_INVALID_CONTEXT` |
//! | SubscribeCmd timeout | as for a refresh | 0, 102 or 5002 |
//! | SubscribeCmd user | `sac`, `absence` (msg 1..=11), `ec500`, `app`, `fwdu` | 0 (applied; a `user` Notify follows) |
//! | SubscribeCmd user | `loginextn` or `shortcodedata` (not simulated; nothing applied) | 3 `NOTINSTRUMENTED` |
//! | SubscribeCmd queue | `setservicemode`, `setvoicemail`, `members`, `addmember`, `deletemember` | 0 (applied; a `queue` Notify follows) |
//! | SubscribeCmd queue | a member extension that is no user (nothing applied) | 7 `USERNOTFOUND` |
//! | SubscribeCmd queue | service mode Unset or unknown | 5002 `REQUEST_INVALID_PAYLOAD` |
//! | SubscribeCmd callcontrol | MakeCall, UnParkCall, a call function, or a referencecallid asserted | as [`crate::sim::pbx::Pbx::call_control`] documents (0, 4, 5002, 5003, 600..617) |
//! | any request | with [`FaultSettings::max_outstanding`] requests awaiting a delayed answer (a fault) | 5 `TOOMANY`, at once, not carried out |
//! | GeneralCmd | no payload, or `getversioninfo` false | 151 `GENCMD_INVALID_PAYLOAD` |
//! | GeneralCmd getfile | empty file name | 152 `GENCMD_REQUIRED_DATA_MISSING` |
//! | GeneralCmd getfile | file other than `nasystem/AccountCode` | 4 `NOTFOUND` (GeneralData `getfile.result` 4 too) |
//!
//! GeneralCmd answers carry the data in GeneralData (`responseid` = `requestid`), sent right
//! after the RequestResponse. Faults ([`FaultSettings`]) may hold answers back or withhold
//! them; the request is carried out all the same, and its Notifies are not delayed. `RequestResponse.additional` stays empty, as the document says
//! it is not used.
//!
//! # getfile `nasystem/AccountCode`
//!
//! The document gives no format; the simulator answers plain UTF-8 text, one account code per
//! line, each line ending in `\n`, in the site's order.

mod command_log;
mod config;
mod notify;
mod subs;
mod update;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

pub use command_log::CommandRecord;
pub use config::{ConnConfig, FaultSettings, FlowControl, MAX_FAULT_DELAY};

use notify::{CallTracker, Kind, PresenceEntry};
use subs::{Subscriptions, presence_timeout};

use super::pbx::{Change, Line, Pbx};
use crate::protocol::bits::{CcFlags, LinesFlags, QueueFlags, UserFlags};
use crate::protocol::codes::ResultCode;
use crate::protocol::msg::{ACCOUNT_CODE_FILE, message};
use crate::protocol::pb;

/// One MTCTI3 connection's server state.
#[derive(Debug)]
pub struct Connection {
    config: ConnConfig,
    subs: Subscriptions,
    out: VecDeque<pb::Message>,
    faults: FaultSettings,
    /// The time of the message being handled (for answers delayed by a fault).
    now: Option<Instant>,
    requests: u64,
    /// The request being handled gets no answer at all (a fault).
    withhold: bool,
    unanswered: u64,
    /// Answers held back by a response delay, in release order.
    delayed: BTreeMap<(Instant, u64), pb::Message>,
    delayed_seq: u64,
    records: VecDeque<CommandRecord>,
}

impl Connection {
    /// A fresh connection with no subscriptions.
    pub fn new(config: ConnConfig) -> Self {
        Connection {
            config,
            subs: Subscriptions::new(config.flow),
            out: VecDeque::new(),
            faults: config.faults,
            now: None,
            requests: 0,
            withhold: false,
            unanswered: 0,
            delayed: BTreeMap::new(),
            delayed_seq: 0,
            records: VecDeque::new(),
        }
    }

    /// How many subscriptions are live.
    pub fn subscription_count(&self) -> usize {
        self.subs.len()
    }

    /// Whether `subscribe_id` is a live subscription.
    pub fn has_subscription(&self, subscribe_id: i32) -> bool {
        self.subs.contains(subscribe_id)
    }

    /// The Notify awaiting its acknowledgement, as (subscribe_id, notify_id), when flow
    /// control is per connection.
    pub fn held(&self) -> Option<(i32, i32)> {
        self.subs.held()
    }

    fn respond(&mut self, requestid: i32, code: ResultCode) {
        if requestid == 0 {
            return;
        }
        if !code.is_success() {
            tracing::debug!(requestid, %code, "request refused");
        }
        self.answer(message(pb::message::Payload::Response(
            pb::RequestResponse {
                requestid,
                result: code.code(),
                additional: String::new(),
            },
        )));
    }

    /// Queues an answer to a request (RequestResponse or GeneralData), unless a fault
    /// withholds or delays it.
    fn answer(&mut self, m: pb::Message) {
        if self.withhold {
            return;
        }
        let delay = self.faults.response_delay();
        match self.now {
            Some(now) if !delay.is_zero() => {
                self.delayed_seq += 1;
                self.delayed.insert((now + delay, self.delayed_seq), m);
            }
            _ => self.out.push_back(m),
        }
    }

    /// Requests whose RequestResponse is held back by a response delay.
    pub fn outstanding(&self) -> usize {
        self.delayed
            .values()
            .filter(|m| matches!(m.payload, Some(pb::message::Payload::Response(_))))
            .count()
    }

    /// Requests that got no answer because of [`FaultSettings::unanswered_every`].
    pub fn unanswered(&self) -> u64 {
        self.unanswered
    }

    /// Changes the faults this connection shows from now on.
    pub fn set_faults(&mut self, faults: FaultSettings) {
        self.faults = faults;
    }

    /// Ends every subscription with SubscribeTerminated (a fault: IP Office may do so at any
    /// time); returns how many ended.
    pub fn terminate_all(&mut self) -> usize {
        let sids = self.subs.ids();
        for &sid in &sids {
            self.subs.remove(sid);
            self.terminated(sid);
        }
        sids.len()
    }

    /// The next command record (only kept when [`ConnConfig::record_commands`] is set).
    pub fn poll_record(&mut self) -> Option<CommandRecord> {
        self.records.pop_front()
    }

    /// Tells the client a subscription has ended.
    fn terminated(&mut self, sid: i32) {
        self.out
            .push_back(message(pb::message::Payload::Subscribeterminated(
                pb::SubscribeTerminated {
                    subscribe_id: sid,
                    reason: String::new(),
                },
            )));
    }

    fn record(&mut self, c: &pb::SubscribeCmd, code: ResultCode, pbx: &Pbx) {
        if self.config.record_commands {
            let kind = self.subs.kind(c.subscribe_id);
            self.records
                .push_back(command_log::record_of(c, kind, code, pbx));
        }
    }

    // ---------------------------------------------------------------------------------------
    // Input

    /// Handles one message from the client. Commands that change the site (DND, service mode,
    /// members) are applied to `pbx`; the changes they cause come back through
    /// [`Connection::handle_change`] like any other.
    pub fn handle_message(&mut self, now: Instant, msg: pb::Message, pbx: &mut Pbx) {
        use pb::message::Payload as P;
        self.now = Some(now);
        let rid = request_id(&msg);
        if rid != 0 {
            if let Some(max) = self.faults.max_outstanding
                && self.outstanding() >= max
            {
                // Refused at once, not delayed: the client must learn to slow down.
                self.out.push_back(message(P::Response(pb::RequestResponse {
                    requestid: rid,
                    result: ResultCode::TooMany.code(),
                    additional: String::new(),
                })));
                if let Some(P::Subscribecmd(c)) = &msg.payload {
                    self.record(c, ResultCode::TooMany, pbx);
                }
                return;
            }
            self.requests += 1;
            let every = u64::from(self.faults.unanswered_every);
            self.withhold = every > 0 && self.requests.is_multiple_of(every);
            if self.withhold {
                self.unanswered += 1;
            }
        }
        self.dispatch(now, msg, pbx);
        self.withhold = false;
    }

    fn dispatch(&mut self, now: Instant, msg: pb::Message, pbx: &mut Pbx) {
        use pb::message::Payload as P;
        match msg.payload {
            Some(P::Subscribe(s)) => self.on_subscribe(now, s, pbx),
            Some(P::Subscribecmd(c)) => self.on_subscribe_cmd(now, c, pbx),
            Some(P::Subscribeend(e)) => {
                let code = if self.subs.remove(e.subscribe_id) {
                    ResultCode::Success
                } else {
                    ResultCode::SubscriptionInvalidId
                };
                self.respond(e.requestid, code);
            }
            Some(P::Notifyack(a)) => self.subs.on_ack(&a),
            Some(P::Generalcmd(g)) => self.on_general(g, pbx),
            Some(P::Response(_) | P::Subscribeterminated(_) | P::Generaldata(_) | P::Notify(_)) => {
                tracing::debug!("ignored a message that only IP Office sends");
            }
            None => tracing::debug!("ignored a message with no payload"),
        }
    }

    fn on_subscribe(&mut self, now: Instant, s: pb::Subscribe, pbx: &Pbx) {
        use pb::subscribe::Payload as P;
        let (rid, sid) = (s.requestid, s.subscribe_id);
        if s.timeout < 0 {
            self.respond(rid, ResultCode::RequestInvalidPayload);
            return;
        }
        let Some(payload) = s.payload else {
            let code = self.subs.refresh(now, sid, s.timeout);
            self.respond(rid, code);
            return;
        };
        if sid == 0 {
            self.respond(rid, ResultCode::RequestInvalidPayload);
            return;
        }
        if self.subs.contains(sid) {
            self.respond(rid, ResultCode::SubscriptionInvalidId);
            return;
        }
        if self.subs.len() >= self.config.max_subscriptions {
            self.respond(rid, ResultCode::TooMany);
            return;
        }
        let kind = match payload {
            P::Presence(p) => {
                if let Err(code) = presence_timeout(s.timeout) {
                    self.respond(rid, code);
                    return;
                }
                let entries = p
                    .entry
                    .into_iter()
                    .map(|e| PresenceEntry {
                        user: pbx.find_presentity(&e.presentity),
                        presentity: e.presentity,
                        lref: e.lref,
                    })
                    .collect();
                Kind::Presence {
                    flags: p.flags,
                    entries,
                    full: true,
                    dirty: BTreeSet::new(),
                }
            }
            P::Lines(l) => {
                if self.subs.has_lines() {
                    self.respond(rid, ResultCode::TooMany);
                    return;
                }
                Kind::Lines {
                    flags: LinesFlags::from_wire(l.flags),
                    initial: true,
                    pending: BTreeMap::new(),
                }
            }
            P::User(u) => {
                let Some(user) = pbx.user_by_guid(&u.guid) else {
                    self.respond(rid, ResultCode::UserNotFound);
                    return;
                };
                Kind::User {
                    user,
                    flags: UserFlags::from_wire(u.flags),
                    config: true,
                    calls: CallTracker::new(Line::User(user), CcFlags::from_wire(u.ccflags), pbx),
                }
            }
            P::Queue(q) => {
                let found = if !q.guid.is_empty() {
                    pbx.queue_by_guid(&q.guid)
                } else if !q.name.is_empty() {
                    pbx.queue_by_name(&q.name)
                } else {
                    self.respond(rid, ResultCode::RequestInvalidPayload);
                    return;
                };
                let Some(queue) = found else {
                    self.respond(rid, ResultCode::NotFound);
                    return;
                };
                Kind::Queue {
                    queue,
                    flags: QueueFlags::from_wire(q.flags),
                    config: true,
                    calls: CallTracker::new(Line::Queue(queue), CcFlags::from_wire(q.ccflags), pbx),
                }
            }
            P::Parkserver(p) => {
                if self.subs.has_park() {
                    self.respond(rid, ResultCode::TooMany);
                    return;
                }
                Kind::Park {
                    calls: CallTracker::new(Line::Park, CcFlags::from_wire(p.ccflags), pbx),
                }
            }
            P::Refreshwrapper(_) => {
                self.respond(rid, ResultCode::NotInstrumented);
                return;
            }
        };
        self.subs.insert(now, sid, kind, s.timeout);
        self.respond(rid, ResultCode::Success);
        self.subs.mark_ready(sid);
    }

    fn on_subscribe_cmd(&mut self, now: Instant, c: pb::SubscribeCmd, pbx: &mut Pbx) {
        use pb::subscribe_cmd::Payload as P;
        let (rid, sid) = (c.requestid, c.subscribe_id);
        let record = self.config.record_commands.then(|| c.clone());
        let Some(kind) = self.subs.kind(sid) else {
            if let Some(c) = &record {
                self.record(c, ResultCode::SubscriptionInvalidId, pbx);
            }
            self.respond(rid, ResultCode::SubscriptionInvalidId);
            return;
        };
        let code = match (c.payload, kind) {
            (None, _) => ResultCode::RequestInvalidPayload,
            (Some(P::Timeout(t)), _) => self.subs.refresh(now, sid, t),
            (Some(P::Presence(up)), Kind::Presence { .. }) => {
                self.subs.update_presence(sid, up, pbx);
                ResultCode::Success
            }
            (Some(P::User(uu)), Kind::User { user, .. }) => update::update_user(pbx, *user, &uu),
            (Some(P::Queue(uq)), Kind::Queue { queue, .. }) => {
                update::update_queue(pbx, *queue, &uq)
            }
            (Some(P::Callcontrol(ucc)), kind) => {
                let line = match kind {
                    Kind::User {
                        user,
                        calls: Some(_),
                        ..
                    } => Some(Line::User(*user)),
                    Kind::Queue {
                        queue,
                        calls: Some(_),
                        ..
                    } => Some(Line::Queue(*queue)),
                    Kind::Park { calls: Some(_) } => Some(Line::Park),
                    _ => None,
                };
                match line {
                    Some(line) => pbx.call_control(line, &ucc, self.config.functions),
                    None => ResultCode::RequestInvalidContext,
                }
            }
            (Some(_), _) => ResultCode::RequestInvalidContext,
        };
        if let Some(c) = &record {
            self.record(c, code, pbx);
        }
        self.respond(rid, code);
    }

    fn on_general(&mut self, g: pb::GeneralCmd, pbx: &Pbx) {
        use pb::general_cmd::Payload as P;
        use pb::general_data::Payload as D;
        let rid = g.requestid;
        let (code, data) = match g.payload {
            None | Some(P::Getversioninfo(false)) => (ResultCode::GenCmdInvalidPayload, None),
            Some(P::Getversioninfo(true)) => (
                ResultCode::Success,
                Some(D::Versioninfo(pbx.version().to_string())),
            ),
            Some(P::Getfile(f)) if f.fname.is_empty() => {
                (ResultCode::GenCmdRequiredDataMissing, None)
            }
            Some(P::Getfile(f)) => {
                let (code, payload) = if f.fname == ACCOUNT_CODE_FILE {
                    let mut text = String::new();
                    for code in pbx.account_codes() {
                        text.push_str(code);
                        text.push('\n');
                    }
                    (ResultCode::Success, text.into_bytes())
                } else {
                    (ResultCode::NotFound, Vec::new())
                };
                (
                    code,
                    Some(D::Getfile(pb::GetFileResponse {
                        cmdinst: f.cmdinst,
                        fname: f.fname,
                        result: code.code(),
                        payload,
                    })),
                )
            }
        };
        self.respond(rid, code);
        if let Some(data) = data {
            self.answer(message(pb::message::Payload::Generaldata(
                pb::GeneralData {
                    responseid: rid,
                    payload: Some(data),
                },
            )));
        }
    }

    /// Takes in one change of the PBX.
    pub fn handle_change(&mut self, change: &Change, pbx: &Pbx) {
        for sid in self.subs.on_change(change, pbx) {
            self.terminated(sid);
        }
    }

    /// Ends subscriptions whose timeout passed unrefreshed (each with SubscribeTerminated).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            self.out.push_back(entry.remove());
        }
        for sid in self.subs.expire(now) {
            self.terminated(sid);
        }
    }

    /// When the next subscription expires, or a delayed answer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self.subs.next_deadline();
        let answer = self.delayed.keys().next().map(|(at, _)| *at);
        expiry.into_iter().chain(answer).min()
    }

    // ---------------------------------------------------------------------------------------
    // Output

    /// The next message to send: responses first, then a Notify when flow control allows.
    pub fn poll_transmit(&mut self, pbx: &Pbx) -> Option<pb::Message> {
        if let Some(m) = self.out.pop_front() {
            return Some(m);
        }
        let max = self.config.max_calls_per_notify.max(1);
        let notify = self.subs.next_notify(pbx, max)?;
        Some(message(pb::message::Payload::Notify(notify)))
    }
}

/// A request's requestid (0 for messages that are not requests, or ask for no answer).
fn request_id(m: &pb::Message) -> i32 {
    use pb::message::Payload as P;
    match &m.payload {
        Some(P::Subscribe(s)) => s.requestid,
        Some(P::Subscribecmd(c)) => c.requestid,
        Some(P::Subscribeend(e)) => e.requestid,
        Some(P::Generalcmd(g)) => g.requestid,
        _ => 0,
    }
}
