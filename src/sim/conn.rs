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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::pbx::{
    CallKey, Change, FunctionPolicy, Line, LineEntry, LineKind, LinesOp, Member, Pbx, QueueId,
    UserId,
};
use super::site::{AbsenceText, Guid, ServiceMode};
use crate::protocol::bits::{CcFlags, LinesFlags, QueueFlags, UserFlags};
use crate::protocol::cmd::{self, MakeCallType, QueueUpdate, UserUpdate};
use crate::protocol::codes::ResultCode;
use crate::protocol::msg::{
    ACCOUNT_CODE_FILE, PRESENCE_TIMEOUT_MAX, PRESENCE_TIMEOUT_MIN, message,
};
use crate::protocol::pb;
use crate::protocol::pb::call_info::State;
use crate::protocol::presence::PhoneState;

/// Faults a connection shows, switchable while it runs ([`Connection::set_faults`]): they make
/// the simulator behave like an IP Office under load or in trouble, so clients can be tested
/// against it. Faults that concern the socket itself (closing, aborting, bad frames, latency)
/// and restarts are the server's ([`crate::sim::server`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FaultSettings {
    /// Every N-th request (counted per connection) gets no answer at all, though it is carried
    /// out: 0 is off, 1 answers none.
    pub unanswered_every: u32,
    /// RequestResponses and GeneralData are sent this long after the request (the request's
    /// effect, and its Notifies, are not delayed).
    pub response_delay: Duration,
    /// Everything the simulator sends on a connection is held this long, order kept (applied
    /// by the server).
    pub latency: Duration,
    /// With this many requests awaiting their (delayed) RequestResponse, a further request is
    /// refused at once with 5 TOOMANY and not carried out.
    pub max_outstanding: Option<usize>,
}

/// The longest a fault may hold a message (longer settings are cut to this).
pub const MAX_FAULT_DELAY: Duration = Duration::from_secs(24 * 3600);

impl FaultSettings {
    /// The response delay, at most [`MAX_FAULT_DELAY`].
    pub fn response_delay(&self) -> Duration {
        self.response_delay.min(MAX_FAULT_DELAY)
    }

    /// The latency, at most [`MAX_FAULT_DELAY`].
    pub fn latency(&self) -> Duration {
        self.latency.min(MAX_FAULT_DELAY)
    }
}

/// Where a connection holds Notifies until they are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FlowControl {
    /// One unacknowledged Notify per connection (the stricter reading; the default).
    #[default]
    PerConnection,
    /// One unacknowledged Notify per subscription.
    PerSubscription,
}

/// A connection's limits and options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnConfig {
    /// Where Notifies are held until acknowledged.
    pub flow: FlowControl,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// Calls one callcontrol Notify may carry.
    pub max_calls_per_notify: usize,
    /// How call functions answer when not offered, and what DropCall does.
    pub functions: FunctionPolicy,
    /// Keep a [`CommandRecord`] of every SubscribeCmd ([`Connection::poll_record`]).
    pub record_commands: bool,
    /// Faults the connection starts with.
    pub faults: FaultSettings,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            flow: FlowControl::PerConnection,
            max_subscriptions: 20_000,
            max_calls_per_notify: 64,
            functions: FunctionPolicy::default(),
            record_commands: false,
            faults: FaultSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Info(CallKey),
    Lost { reason: i32, this_end_dropped: bool },
}

/// The call-control part of a user, queue or park-server subscription.
#[derive(Debug)]
struct CallTracker {
    line: Line,
    cc: CcFlags,
    ephemeral: bool,
    pending: BTreeMap<i32, Pending>,
    announced: HashSet<i32>,
    refresh: i32,
}

impl CallTracker {
    fn new(line: Line, cc: CcFlags, pbx: &Pbx) -> Option<Self> {
        if cc.is_empty() {
            return None;
        }
        let ephemeral = matches!(line, Line::Queue(_)) && cc.contains(CcFlags::EPHEMERAL);
        let pending = pbx
            .calls_on(line)
            .into_iter()
            .map(|(callid, key)| (callid, Pending::Info(key)))
            .collect();
        Some(CallTracker {
            line,
            cc,
            ephemeral,
            pending,
            announced: HashSet::new(),
            refresh: 0,
        })
    }

    fn on_change(&mut self, callid: i32, call: CallKey) {
        self.pending.insert(callid, Pending::Info(call));
    }

    fn on_lost(&mut self, callid: i32, reason: i32, this_end_dropped: bool) {
        if self.announced.contains(&callid) {
            self.pending.insert(
                callid,
                Pending::Lost {
                    reason,
                    this_end_dropped,
                },
            );
        } else {
            // Never shown to this subscriber: it came and went while Notifies were held.
            self.pending.remove(&callid);
        }
    }

    fn strip(&self, ci: &mut pb::CallInfo) {
        let cc = self.cc;
        if !cc.contains(CcFlags::DEVICES) {
            ci.localinfo.clear();
            ci.remoteinfo = None;
        }
        if !cc.contains(CcFlags::CONFERENCE) && !cc.contains(CcFlags::CONFMEMBERSHIP) {
            ci.conferencemember.clear();
        }
        if !cc.contains(CcFlags::DIALINFO) {
            ci.dialinfo = None;
        }
        if !cc.contains(CcFlags::TRUNK) {
            ci.trunkinfo = None;
        }
        if !cc.contains(CcFlags::QUEUEINFO) {
            ci.queueinfo = None;
        }
        if !cc.contains(CcFlags::LANGUAGE) {
            ci.calldata = None;
        }
        if !cc.contains(CcFlags::NOTES) {
            ci.notes = None;
        }
        if !cc.contains(CcFlags::UCID) {
            ci.ucid = None;
        }
        if !cc.contains(CcFlags::PINTRINSICS) {
            ci.pintrinsics = None;
        }
        if !(cc.contains(CcFlags::TARGETS) && matches!(self.line, Line::Queue(_))) {
            ci.targets = None;
        }
    }

    fn build(&mut self, pbx: &Pbx, max: usize) -> Option<pb::NotifyCallControl> {
        let mut callinfo = Vec::new();
        let mut calllost = Vec::new();
        while callinfo.len() + calllost.len() < max {
            let Some((callid, pending)) = self.pending.pop_first() else {
                break;
            };
            match pending {
                Pending::Info(key) => {
                    let Some(mut ci) = pbx.callinfo(self.line, key) else {
                        // Gone: its CallLost is on the way (or it was never shown).
                        continue;
                    };
                    let waiting = matches!(
                        State::try_from(ci.state),
                        Ok(State::Queueing | State::Ringing | State::Retargeting)
                    );
                    if self.ephemeral && !waiting {
                        if self.announced.remove(&callid) {
                            calllost.push(pb::CallLost {
                                callid,
                                reason: 16,
                                ..Default::default()
                            });
                        }
                        continue;
                    }
                    self.strip(&mut ci);
                    self.announced.insert(callid);
                    callinfo.push(ci);
                }
                Pending::Lost {
                    reason,
                    this_end_dropped,
                } => {
                    if self.announced.remove(&callid) {
                        calllost.push(pb::CallLost {
                            callid,
                            reason,
                            thisenddropped: this_end_dropped,
                            ..Default::default()
                        });
                    }
                }
            }
        }
        if callinfo.is_empty() && calllost.is_empty() {
            return None;
        }
        self.refresh = self.refresh.checked_add(1).unwrap_or(1);
        Some(pb::NotifyCallControl {
            refreshinstance: self.refresh,
            callinfo,
            calllost,
        })
    }
}

#[derive(Debug)]
struct PresenceEntry {
    presentity: String,
    lref: i32,
    user: Option<UserId>,
}

#[derive(Debug)]
enum Kind {
    Lines {
        flags: LinesFlags,
        initial: bool,
        pending: BTreeMap<(u8, Guid), (LinesOp, LineEntry)>,
    },
    User {
        user: UserId,
        flags: UserFlags,
        config: bool,
        calls: Option<CallTracker>,
    },
    Queue {
        queue: QueueId,
        flags: QueueFlags,
        config: bool,
        calls: Option<CallTracker>,
    },
    Park {
        calls: Option<CallTracker>,
    },
    Presence {
        flags: i32,
        entries: Vec<PresenceEntry>,
        full: bool,
        dirty: BTreeSet<usize>,
    },
}

impl Kind {
    fn calls_mut(&mut self) -> Option<&mut CallTracker> {
        match self {
            Kind::User { calls, .. } | Kind::Queue { calls, .. } | Kind::Park { calls } => {
                calls.as_mut()
            }
            _ => None,
        }
    }

    fn has_pending(&self) -> bool {
        let calls_pending =
            |c: &Option<CallTracker>| c.as_ref().is_some_and(|c| !c.pending.is_empty());
        match self {
            Kind::Lines {
                initial, pending, ..
            } => *initial || !pending.is_empty(),
            Kind::User { config, calls, .. } | Kind::Queue { config, calls, .. } => {
                *config || calls_pending(calls)
            }
            Kind::Park { calls } => calls_pending(calls),
            Kind::Presence { full, dirty, .. } => *full || !dirty.is_empty(),
        }
    }
}

#[derive(Debug)]
struct Sub {
    deadline: Option<Instant>,
    next_notify_id: i32,
    outstanding: Option<i32>,
    queued: bool,
    kind: Kind,
}

/// One MTCTI3 connection's server state.
#[derive(Debug)]
pub struct Connection {
    config: ConnConfig,
    subs: HashMap<i32, Sub>,
    by_line: HashMap<Line, Vec<i32>>,
    presence_by_user: HashMap<UserId, Vec<i32>>,
    presence_subs: BTreeSet<i32>,
    lines_sub: Option<i32>,
    park_sub: Option<i32>,
    out: VecDeque<pb::Message>,
    ready: VecDeque<i32>,
    held: Option<(i32, i32)>,
    deadlines: BTreeSet<(Instant, i32)>,
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

/// One SubscribeCmd as received and answered, for the command log (one JSON line each).
/// Strings are empty where they do not apply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandRecord {
    /// Milliseconds since the simulator started, on its own clock (filled in by the server).
    pub t_ms: u64,
    /// The site's time of day, `HH:MM:SS.mmm` (filled in by the server).
    pub time: String,
    /// The connection (numbered from 1 by the server).
    pub conn: u64,
    /// `SubscribeCmd.requestid`.
    pub requestid: i32,
    /// `SubscribeCmd.subscribe_id`.
    pub subscribe_id: i32,
    /// What the subscription is: `user`, `queue`, `parkserver`, `lines`, `presence`, or
    /// `none` when the subscribe_id is not live.
    pub subscription: String,
    /// The extension of the user or queue the subscription names.
    pub extn: String,
    /// Its name.
    pub name: String,
    /// The command: `callfunction`, `makecall`, `unparkcall`, `reference` (a referencecallid
    /// asserted), `user`, `queue`, `presence`, `timeout`, or `none` (no payload).
    pub command: String,
    /// The call function (`BlindTransfer`...), the MakeCall type (`Normal`, `Intrude`,
    /// `Pickup`...), or the parts of a user or queue update (`sac`, `addmember`...).
    pub function: String,
    /// `arg1`, the MakeCall target, the park slot, or the update's values.
    pub argument: String,
    /// `UpdateCallControl.callid`.
    pub callid: i32,
    /// `UpdateCallControl.referencecallid`.
    pub referencecallid: i32,
    /// The RequestResponse result (computed even when a fault withholds the response).
    pub result: i32,
    /// The result's name, e.g. `MTCTISESS_CALLCONTROL_TRANSFERFAILED`.
    pub result_name: String,
}

fn lines_key(entry: &LineEntry) -> (u8, Guid) {
    match entry.kind {
        LineKind::User(_) => (0, entry.guid),
        LineKind::Queue(_) => (1, entry.guid),
    }
}

fn line_of(kind: LineKind) -> Line {
    match kind {
        LineKind::User(u) => Line::User(u),
        LineKind::Queue(q) => Line::Queue(q),
    }
}

/// Checks a presence timeout: 60..=86400 s.
fn presence_timeout(timeout: i32) -> Result<(), ResultCode> {
    match timeout {
        t if t < PRESENCE_TIMEOUT_MIN => Err(ResultCode::SubscriptionTimeoutTooSmall),
        t if t > PRESENCE_TIMEOUT_MAX => Err(ResultCode::RequestInvalidPayload),
        _ => Ok(()),
    }
}

impl Connection {
    /// A fresh connection with no subscriptions.
    pub fn new(config: ConnConfig) -> Self {
        Connection {
            config,
            subs: HashMap::new(),
            by_line: HashMap::new(),
            presence_by_user: HashMap::new(),
            presence_subs: BTreeSet::new(),
            lines_sub: None,
            park_sub: None,
            out: VecDeque::new(),
            ready: VecDeque::new(),
            held: None,
            deadlines: BTreeSet::new(),
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
        self.subs.contains_key(&subscribe_id)
    }

    /// The Notify awaiting its acknowledgement, as (subscribe_id, notify_id), when flow
    /// control is per connection.
    pub fn held(&self) -> Option<(i32, i32)> {
        self.held
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
        let mut sids: Vec<i32> = self.subs.keys().copied().collect();
        sids.sort_unstable();
        for &sid in &sids {
            self.terminate(sid);
        }
        sids.len()
    }

    /// The next command record (only kept when [`ConnConfig::record_commands`] is set).
    pub fn poll_record(&mut self) -> Option<CommandRecord> {
        self.records.pop_front()
    }

    fn mark_ready(&mut self, sid: i32) {
        let per_sub = self.config.flow == FlowControl::PerSubscription;
        let Some(sub) = self.subs.get_mut(&sid) else {
            return;
        };
        if sub.queued || !sub.kind.has_pending() || (per_sub && sub.outstanding.is_some()) {
            return;
        }
        sub.queued = true;
        self.ready.push_back(sid);
    }

    fn set_deadline(&mut self, now: Instant, sid: i32, timeout: i32) {
        let Some(sub) = self.subs.get_mut(&sid) else {
            return;
        };
        if let Some(old) = sub.deadline.take() {
            self.deadlines.remove(&(old, sid));
        }
        if timeout > 0 {
            let at = now + Duration::from_secs(u64::from(timeout.unsigned_abs()));
            sub.deadline = Some(at);
            self.deadlines.insert((at, sid));
        }
    }

    fn remove_sub(&mut self, sid: i32) {
        let Some(sub) = self.subs.remove(&sid) else {
            return;
        };
        if let Some(at) = sub.deadline {
            self.deadlines.remove(&(at, sid));
        }
        if self.held.is_some_and(|(s, _)| s == sid) {
            // Its acknowledgement may never come: a client drops Notifies of subscriptions it
            // no longer has.
            self.held = None;
        }
        let line = match &sub.kind {
            Kind::Lines { .. } => {
                self.lines_sub = None;
                None
            }
            Kind::Park { .. } => {
                self.park_sub = None;
                Some(Line::Park)
            }
            Kind::User { user, .. } => Some(Line::User(*user)),
            Kind::Queue { queue, .. } => Some(Line::Queue(*queue)),
            Kind::Presence { entries, .. } => {
                self.presence_subs.remove(&sid);
                for e in entries {
                    if let Some(u) = e.user {
                        self.unwatch_presence(u, sid);
                    }
                }
                None
            }
        };
        if let Some(line) = line
            && let Some(list) = self.by_line.get_mut(&line)
        {
            list.retain(|s| *s != sid);
            if list.is_empty() {
                self.by_line.remove(&line);
            }
        }
    }

    fn unwatch_presence(&mut self, user: UserId, sid: i32) {
        if let Some(list) = self.presence_by_user.get_mut(&user) {
            list.retain(|s| *s != sid);
            if list.is_empty() {
                self.presence_by_user.remove(&user);
            }
        }
    }

    fn watch_presence(&mut self, user: UserId, sid: i32) {
        let list = self.presence_by_user.entry(user).or_default();
        if !list.contains(&sid) {
            list.push(sid);
        }
    }

    fn terminate(&mut self, sid: i32) {
        self.remove_sub(sid);
        self.out
            .push_back(message(pb::message::Payload::Subscribeterminated(
                pb::SubscribeTerminated {
                    subscribe_id: sid,
                    reason: String::new(),
                },
            )));
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
            self.withhold = every > 0 && self.requests % every == 0;
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
                if self.subs.contains_key(&e.subscribe_id) {
                    self.remove_sub(e.subscribe_id);
                    self.respond(e.requestid, ResultCode::Success);
                } else {
                    self.respond(e.requestid, ResultCode::SubscriptionInvalidId);
                }
            }
            Some(P::Notifyack(a)) => self.on_ack(a),
            Some(P::Generalcmd(g)) => self.on_general(g, pbx),
            Some(P::Response(_) | P::Subscribeterminated(_) | P::Generaldata(_) | P::Notify(_)) => {
                tracing::debug!("ignored a message that only IP Office sends");
            }
            None => tracing::debug!("ignored a message with no payload"),
        }
    }

    fn on_ack(&mut self, a: pb::NotifyAck) {
        match self.config.flow {
            FlowControl::PerConnection => {
                if self.held == Some((a.subscribe_id, a.notify_id)) {
                    self.held = None;
                } else {
                    tracing::debug!(
                        subscribe_id = a.subscribe_id,
                        notify_id = a.notify_id,
                        held = ?self.held,
                        "NotifyAck for a Notify that is not awaiting one"
                    );
                }
            }
            FlowControl::PerSubscription => {
                let Some(sub) = self.subs.get_mut(&a.subscribe_id) else {
                    return;
                };
                if sub.outstanding == Some(a.notify_id) {
                    sub.outstanding = None;
                    self.mark_ready(a.subscribe_id);
                }
            }
        }
    }

    fn refresh(&mut self, now: Instant, sid: i32, timeout: i32) -> ResultCode {
        let Some(sub) = self.subs.get(&sid) else {
            return ResultCode::SubscriptionInvalid;
        };
        if timeout < 0 {
            return ResultCode::RequestInvalidPayload;
        }
        if matches!(sub.kind, Kind::Presence { .. })
            && let Err(code) = presence_timeout(timeout)
        {
            return code;
        }
        self.set_deadline(now, sid, timeout);
        ResultCode::Success
    }

    fn on_subscribe(&mut self, now: Instant, s: pb::Subscribe, pbx: &Pbx) {
        use pb::subscribe::Payload as P;
        let (rid, sid) = (s.requestid, s.subscribe_id);
        if s.timeout < 0 {
            self.respond(rid, ResultCode::RequestInvalidPayload);
            return;
        }
        let Some(payload) = s.payload else {
            let code = self.refresh(now, sid, s.timeout);
            self.respond(rid, code);
            return;
        };
        if sid == 0 {
            self.respond(rid, ResultCode::RequestInvalidPayload);
            return;
        }
        if self.subs.contains_key(&sid) {
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
                if self.lines_sub.is_some() {
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
                if self.park_sub.is_some() {
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
        match &kind {
            Kind::Lines { .. } => self.lines_sub = Some(sid),
            Kind::Park { .. } => {
                self.park_sub = Some(sid);
                self.by_line.entry(Line::Park).or_default().push(sid);
            }
            Kind::User { user, .. } => self.by_line.entry(Line::User(*user)).or_default().push(sid),
            Kind::Queue { queue, .. } => self
                .by_line
                .entry(Line::Queue(*queue))
                .or_default()
                .push(sid),
            Kind::Presence { entries, .. } => {
                self.presence_subs.insert(sid);
                let users: Vec<UserId> = entries.iter().filter_map(|e| e.user).collect();
                for u in users {
                    self.watch_presence(u, sid);
                }
            }
        }
        self.subs.insert(
            sid,
            Sub {
                deadline: None,
                next_notify_id: 1,
                outstanding: None,
                queued: false,
                kind,
            },
        );
        self.set_deadline(now, sid, s.timeout);
        self.respond(rid, ResultCode::Success);
        self.mark_ready(sid);
    }

    fn on_subscribe_cmd(&mut self, now: Instant, c: pb::SubscribeCmd, pbx: &mut Pbx) {
        use pb::subscribe_cmd::Payload as P;
        let (rid, sid) = (c.requestid, c.subscribe_id);
        let record = self.config.record_commands.then(|| c.clone());
        let Some(sub) = self.subs.get(&sid) else {
            if let Some(c) = &record {
                self.record(c, ResultCode::SubscriptionInvalidId, pbx);
            }
            self.respond(rid, ResultCode::SubscriptionInvalidId);
            return;
        };
        let code = match (c.payload, &sub.kind) {
            (None, _) => ResultCode::RequestInvalidPayload,
            (Some(P::Timeout(t)), _) => self.refresh(now, sid, t),
            (Some(P::Presence(up)), Kind::Presence { .. }) => {
                self.update_presence(sid, up, pbx);
                ResultCode::Success
            }
            (Some(P::User(uu)), Kind::User { user, .. }) => update_user(pbx, *user, &uu),
            (Some(P::Queue(uq)), Kind::Queue { queue, .. }) => update_queue(pbx, *queue, &uq),
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

    fn record(&mut self, c: &pb::SubscribeCmd, code: ResultCode, pbx: &Pbx) {
        if !self.config.record_commands {
            return;
        }
        let (subscription, extn, name) = match self.subs.get(&c.subscribe_id).map(|s| &s.kind) {
            None => ("none", String::new(), String::new()),
            Some(Kind::Lines { .. }) => ("lines", String::new(), String::new()),
            Some(Kind::Presence { .. }) => ("presence", String::new(), String::new()),
            Some(Kind::Park { .. }) => ("parkserver", String::new(), String::new()),
            Some(Kind::User { user, .. }) => {
                let u = pbx.user(*user);
                (
                    "user",
                    u.map(|u| u.extn.clone()).unwrap_or_default(),
                    u.map(|u| u.name.clone()).unwrap_or_default(),
                )
            }
            Some(Kind::Queue { queue, .. }) => {
                let q = pbx.queue(*queue);
                (
                    "queue",
                    q.map(|q| q.extn.clone()).unwrap_or_default(),
                    q.map(|q| q.name.clone()).unwrap_or_default(),
                )
            }
        };
        let (command, function, argument, callid, referencecallid) = describe(c);
        self.records.push_back(CommandRecord {
            t_ms: 0,
            time: String::new(),
            conn: 0,
            requestid: c.requestid,
            subscribe_id: c.subscribe_id,
            subscription: subscription.to_string(),
            extn,
            name,
            command: command.to_string(),
            function,
            argument,
            callid,
            referencecallid,
            result: code.code(),
            result_name: code.name().unwrap_or("unknown").to_string(),
        });
    }

    fn update_presence(&mut self, sid: i32, up: pb::UpdatePresence, pbx: &Pbx) {
        let Some(Sub {
            kind: Kind::Presence { entries, dirty, .. },
            ..
        }) = self.subs.get_mut(&sid)
        else {
            return;
        };
        let mut unwatch = Vec::new();
        let mut watch = Vec::new();
        for r in &up.remove {
            entries.retain(|e| {
                let hit = if r.lref != 0 {
                    e.lref == r.lref
                } else {
                    e.presentity == r.presentity
                };
                if hit && let Some(u) = e.user {
                    unwatch.push(u);
                }
                !hit
            });
        }
        // Indices moved: report the remaining entries' state only when they change again.
        dirty.clear();
        for a in up.add {
            let user = pbx.find_presentity(&a.presentity);
            if let Some(u) = user {
                watch.push(u);
            }
            entries.push(PresenceEntry {
                presentity: a.presentity,
                lref: a.lref,
                user,
            });
            dirty.insert(entries.len() - 1);
        }
        let still: HashSet<UserId> = entries.iter().filter_map(|e| e.user).collect();
        for u in unwatch {
            if !still.contains(&u) {
                self.unwatch_presence(u, sid);
            }
        }
        for u in watch {
            self.watch_presence(u, sid);
        }
        self.mark_ready(sid);
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
        match change {
            Change::Call { line, call, callid } => {
                for sid in self.by_line.get(line).cloned().unwrap_or_default() {
                    if let Some(t) = self.subs.get_mut(&sid).and_then(|s| s.kind.calls_mut()) {
                        t.on_change(*callid, *call);
                        self.mark_ready(sid);
                    }
                }
            }
            Change::CallLost {
                line,
                callid,
                reason,
                this_end_dropped,
                ..
            } => {
                for sid in self.by_line.get(line).cloned().unwrap_or_default() {
                    if let Some(t) = self.subs.get_mut(&sid).and_then(|s| s.kind.calls_mut()) {
                        t.on_lost(*callid, *reason, *this_end_dropped);
                        self.mark_ready(sid);
                    }
                }
            }
            Change::UserConfig(u) => {
                for sid in self
                    .by_line
                    .get(&Line::User(*u))
                    .cloned()
                    .unwrap_or_default()
                {
                    if let Some(Sub {
                        kind: Kind::User { config, .. },
                        ..
                    }) = self.subs.get_mut(&sid)
                    {
                        *config = true;
                        self.mark_ready(sid);
                    }
                }
                self.presence_dirty(*u);
            }
            Change::UserState(u) => self.presence_dirty(*u),
            Change::QueueConfig(q) => {
                for sid in self
                    .by_line
                    .get(&Line::Queue(*q))
                    .cloned()
                    .unwrap_or_default()
                {
                    if let Some(Sub {
                        kind: Kind::Queue { config, .. },
                        ..
                    }) = self.subs.get_mut(&sid)
                    {
                        *config = true;
                        self.mark_ready(sid);
                    }
                }
            }
            Change::Lines(op, entry) => self.on_lines(*op, entry, pbx),
        }
    }

    fn presence_dirty(&mut self, user: UserId) {
        for sid in self
            .presence_by_user
            .get(&user)
            .cloned()
            .unwrap_or_default()
        {
            if let Some(Sub {
                kind: Kind::Presence { entries, dirty, .. },
                ..
            }) = self.subs.get_mut(&sid)
            {
                for (i, e) in entries.iter().enumerate() {
                    if e.user == Some(user) {
                        dirty.insert(i);
                    }
                }
                self.mark_ready(sid);
            }
        }
    }

    fn on_lines(&mut self, op: LinesOp, entry: &LineEntry, pbx: &Pbx) {
        if let Some(sid) = self.lines_sub
            && let Some(Sub {
                kind: Kind::Lines { flags, pending, .. },
                ..
            }) = self.subs.get_mut(&sid)
        {
            let wanted = match entry.kind {
                LineKind::User(_) => flags.contains(LinesFlags::USERS),
                LineKind::Queue(_) => flags.contains(LinesFlags::QUEUES),
            };
            if wanted {
                let key = lines_key(entry);
                let merged = match (pending.remove(&key).map(|(o, _)| o), op) {
                    (None, op) => Some(op),
                    (Some(LinesOp::Add), LinesOp::Change) => Some(LinesOp::Add),
                    (Some(LinesOp::Add), LinesOp::Delete) => None,
                    (Some(LinesOp::Delete), LinesOp::Add) => Some(LinesOp::Change),
                    (Some(_), op) => Some(op),
                };
                if let Some(op) = merged {
                    pending.insert(key, (op, entry.clone()));
                }
                self.mark_ready(sid);
            }
        }
        match op {
            LinesOp::Delete => {
                let line = line_of(entry.kind);
                for sid in self.by_line.get(&line).cloned().unwrap_or_default() {
                    self.terminate(sid);
                }
                if let LineKind::User(u) = entry.kind {
                    for sid in self.presence_by_user.remove(&u).unwrap_or_default() {
                        if let Some(Sub {
                            kind: Kind::Presence { entries, dirty, .. },
                            ..
                        }) = self.subs.get_mut(&sid)
                        {
                            for (i, e) in entries.iter_mut().enumerate() {
                                if e.user == Some(u) {
                                    e.user = None;
                                    dirty.insert(i);
                                }
                            }
                            self.mark_ready(sid);
                        }
                    }
                }
            }
            LinesOp::Add | LinesOp::Change => {
                if let LineKind::User(u) = entry.kind {
                    self.bind_presentities(u, pbx);
                }
            }
        }
    }

    /// A user appeared or changed: presentities that now name them start following them.
    fn bind_presentities(&mut self, user: UserId, pbx: &Pbx) {
        let sids: Vec<i32> = self.presence_subs.iter().copied().collect();
        for sid in sids {
            let mut bound = false;
            if let Some(Sub {
                kind: Kind::Presence { entries, dirty, .. },
                ..
            }) = self.subs.get_mut(&sid)
            {
                for (i, e) in entries.iter_mut().enumerate() {
                    if e.user.is_none() && pbx.find_presentity(&e.presentity) == Some(user) {
                        e.user = Some(user);
                        dirty.insert(i);
                        bound = true;
                    }
                }
            }
            if bound {
                self.watch_presence(user, sid);
                self.mark_ready(sid);
            }
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
        while let Some(&(at, sid)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if self.subs.get(&sid).is_some_and(|s| s.deadline == Some(at)) {
                self.terminate(sid);
            }
        }
    }

    /// When the next subscription expires, or a delayed answer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self.deadlines.first().map(|(at, _)| *at);
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
        let per_conn = self.config.flow == FlowControl::PerConnection;
        if per_conn && self.held.is_some() {
            return None;
        }
        let max = self.config.max_calls_per_notify.max(1);
        while let Some(sid) = self.ready.pop_front() {
            let Some(sub) = self.subs.get_mut(&sid) else {
                continue;
            };
            sub.queued = false;
            if sub.outstanding.is_some() {
                continue;
            }
            let Some(payload) = build(&mut sub.kind, pbx, max) else {
                continue;
            };
            let notify_id = sub.next_notify_id;
            sub.next_notify_id = sub.next_notify_id.checked_add(1).unwrap_or(1);
            if per_conn {
                self.held = Some((sid, notify_id));
            } else {
                sub.outstanding = Some(notify_id);
            }
            if per_conn && sub.kind.has_pending() {
                sub.queued = true;
                self.ready.push_back(sid);
            }
            return Some(message(pb::message::Payload::Notify(pb::Notify {
                subscribe_id: sid,
                notify_id,
                label: String::new(),
                payload: Some(payload),
            })));
        }
        None
    }
}

fn build(kind: &mut Kind, pbx: &Pbx, max: usize) -> Option<pb::notify::Payload> {
    use pb::notify::Payload as N;
    match kind {
        Kind::Lines {
            flags,
            initial,
            pending,
        } => {
            let notify_flags = if flags.contains(LinesFlags::PARKSERVER) {
                0x3
            } else {
                0
            };
            let mut n = pb::NotifyLines {
                flags: notify_flags,
                ..Default::default()
            };
            let user = |e: &LineEntry| pb::LinesUser {
                guid: e.guid.to_vec(),
                extn: e.extn.clone(),
                name: e.name.clone(),
            };
            let queue = |e: &LineEntry| pb::LinesQueue {
                guid: e.guid.to_vec(),
                extn: e.extn.clone(),
                name: e.name.clone(),
            };
            if *initial {
                *initial = false;
                pending.clear();
                for e in pbx.lines() {
                    match e.kind {
                        LineKind::User(_) if flags.contains(LinesFlags::USERS) => {
                            n.adduser.push(user(&e))
                        }
                        LineKind::Queue(_) if flags.contains(LinesFlags::QUEUES) => {
                            n.addqueue.push(queue(&e))
                        }
                        _ => {}
                    }
                }
                return Some(N::Lines(n));
            }
            if pending.is_empty() {
                return None;
            }
            for (_, (op, e)) in std::mem::take(pending) {
                match (e.kind, op) {
                    (LineKind::User(_), LinesOp::Add) => n.adduser.push(user(&e)),
                    (LineKind::User(_), LinesOp::Change) => n.changeuser.push(user(&e)),
                    (LineKind::User(_), LinesOp::Delete) => n.deleteuser.push(user(&e)),
                    (LineKind::Queue(_), LinesOp::Add) => n.addqueue.push(queue(&e)),
                    (LineKind::Queue(_), LinesOp::Change) => n.changequeue.push(queue(&e)),
                    (LineKind::Queue(_), LinesOp::Delete) => n.deletequeue.push(queue(&e)),
                }
            }
            Some(N::Lines(n))
        }
        Kind::User {
            user,
            flags,
            config,
            calls,
        } => {
            if *config {
                *config = false;
                if let Some(n) = pbx.notify_user(*user, *flags) {
                    return Some(N::User(n));
                }
            }
            calls.as_mut()?.build(pbx, max).map(N::Callcontrol)
        }
        Kind::Queue {
            queue,
            flags,
            config,
            calls,
        } => {
            if *config {
                *config = false;
                if let Some(n) = pbx.notify_queue(*queue, *flags) {
                    return Some(N::Queue(n));
                }
            }
            calls.as_mut()?.build(pbx, max).map(N::Callcontrol)
        }
        Kind::Park { calls } => calls.as_mut()?.build(pbx, max).map(N::Callcontrol),
        Kind::Presence {
            flags,
            entries,
            full,
            dirty,
        } => {
            let indices: Vec<usize> = if *full {
                (0..entries.len()).collect()
            } else {
                dirty.iter().copied().collect()
            };
            if !*full && indices.is_empty() {
                return None;
            }
            let was_full = std::mem::replace(full, false);
            dirty.clear();
            let entry = indices
                .into_iter()
                .filter_map(|i| entries.get(i))
                .map(|e| {
                    let mut p = e
                        .user
                        .and_then(|u| pbx.notify_presentity(u, *flags))
                        .unwrap_or(pb::NotifyPresentity {
                            phonestate: PhoneState::Unknown.to_wire(),
                            ..Default::default()
                        });
                    if e.lref != 0 {
                        p.lref = e.lref;
                    } else {
                        p.presentity = e.presentity.clone();
                    }
                    p
                })
                .collect();
            Some(N::Presence(pb::NotifyPresence {
                full: i32::from(was_full),
                entry,
            }))
        }
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

/// A SubscribeCmd in words: (command, function, argument, callid, referencecallid).
fn describe(c: &pb::SubscribeCmd) -> (&'static str, String, String, i32, i32) {
    use pb::subscribe_cmd::Payload as P;
    match &c.payload {
        None => ("none", String::new(), String::new(), 0, 0),
        Some(P::Timeout(t)) => ("timeout", String::new(), t.to_string(), 0, 0),
        Some(P::Presence(p)) => (
            "presence",
            String::new(),
            format!("add {} remove {}", p.add.len(), p.remove.len()),
            0,
            0,
        ),
        Some(P::User(u)) => {
            let mut parts = Vec::new();
            let mut args = Vec::new();
            if let Some(sac) = &u.sac {
                parts.push("sac");
                args.push(format!("sac={}", sac.set));
            }
            if let Some(a) = &u.absence {
                parts.push("absence");
                let text = a
                    .absence
                    .as_ref()
                    .map(|x| format!(" msg={} str={}", x.msg, x.str));
                args.push(format!("absence={}{}", a.set, text.unwrap_or_default()));
            }
            if let Some(e) = &u.ec500 {
                parts.push("ec500");
                args.push(format!("ec500={}", e.set));
            }
            if !u.shortcodedata.is_empty() {
                parts.push("shortcodedata");
                for s in &u.shortcodedata {
                    args.push(format!("shortcode={};{}", s.code, s.val));
                }
            }
            if let Some(l) = &u.loginextn {
                parts.push("loginextn");
                args.push(format!("loginextn={}", l.extn));
            }
            if let Some(a) = &u.app {
                parts.push("app");
                args.push(format!("app={}", a.value));
            }
            if let Some(f) = &u.fwdu {
                parts.push("fwdu");
                args.push(format!("fwdu={} {}", f.set, f.fwdu_number));
            }
            ("user", parts.join("+"), args.join(" "), 0, 0)
        }
        Some(P::Queue(q)) => {
            let members = |list: &[pb::QueueMember]| -> String {
                list.iter()
                    .map(|m| {
                        if m.disabled {
                            format!("{}(disabled)", m.extn)
                        } else {
                            m.extn.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut parts = Vec::new();
            let mut args = Vec::new();
            if let Some(m) = &q.setservicemode {
                parts.push("setservicemode");
                let name = cmd::ServiceMode::from_pb(m.servicemode)
                    .map_or_else(|| m.servicemode.to_string(), |s| s.name().to_string());
                args.push(format!("servicemode={name}"));
            }
            if let Some(v) = &q.setvoicemail {
                parts.push("setvoicemail");
                args.push(format!("voicemail={}", v.enabled));
            }
            if let Some(m) = &q.members {
                parts.push("members");
                args.push(format!("members={}", members(&m.member)));
            }
            if !q.addmember.is_empty() {
                parts.push("addmember");
                args.push(format!("addmember={}", members(&q.addmember)));
            }
            if !q.deletemember.is_empty() {
                parts.push("deletemember");
                args.push(format!("deletemember={}", members(&q.deletemember)));
            }
            ("queue", parts.join("+"), args.join(" "), 0, 0)
        }
        Some(P::Callcontrol(u)) => {
            let (cmd, function, argument) = if let Some(m) = &u.makecall {
                let kind = MakeCallType::from_code(m.r#type)
                    .map_or_else(|| format!("type {}", m.r#type), |k| format!("{k:?}"));
                ("makecall", kind, m.target.clone())
            } else if let Some(p) = &u.unparkcall {
                ("unparkcall", String::new(), p.parkid.clone())
            } else if let Some(f) = &u.callfunction {
                let name = pb::call_function::Action::try_from(f.action).map_or_else(
                    |_| format!("action {}", f.action),
                    |a| a.as_str_name().to_string(),
                );
                ("callfunction", name, f.arg1.clone())
            } else {
                ("reference", String::new(), String::new())
            };
            (cmd, function, argument, u.callid, u.referencecallid)
        }
    }
}

/// Applies an UpdateUser; see the module's code table.
fn update_user(pbx: &mut Pbx, user: UserId, uu: &pb::UpdateUser) -> ResultCode {
    let Ok(updates) = UserUpdate::from_pb(uu) else {
        return ResultCode::RequestInvalidPayload;
    };
    let simulated =
        |u: &UserUpdate| !matches!(u, UserUpdate::LoginExtn(_) | UserUpdate::ShortCodes(_));
    if !updates.iter().all(simulated) {
        return ResultCode::NotInstrumented;
    }
    if updates.is_empty() {
        return ResultCode::RequestInvalidPayload;
    }
    for update in updates {
        match update {
            UserUpdate::Sac(on) => {
                pbx.set_dnd(user, on);
            }
            UserUpdate::Absence(note) => {
                pbx.set_absence(
                    user,
                    note.map(|n| AbsenceText {
                        msg: n.kind.to_wire(),
                        text: n.text,
                    }),
                );
            }
            UserUpdate::Ec500(on) => {
                pbx.set_ec500(user, on);
            }
            UserUpdate::App { value, .. } => {
                pbx.set_app(user, &value);
            }
            UserUpdate::FwdU {
                enabled,
                number,
                to_voicemail,
            } => {
                pbx.set_fwdu(user, enabled, &number, to_voicemail);
            }
            UserUpdate::LoginExtn(_) | UserUpdate::ShortCodes(_) => {}
        }
    }
    ResultCode::Success
}

/// Applies an UpdateQueue; see the module's code table.
fn update_queue(pbx: &mut Pbx, queue: QueueId, uq: &pb::UpdateQueue) -> ResultCode {
    let Ok(updates) = QueueUpdate::from_pb(uq) else {
        return ResultCode::RequestInvalidPayload;
    };
    if updates.is_empty() {
        return ResultCode::RequestInvalidPayload;
    }
    let resolve = |extn: &str, disabled: bool| {
        pbx.user_by_extn(extn).map(|user| Member {
            user,
            enabled: !disabled,
        })
    };
    // Every member must be a user before anything is applied.
    let mut resolved = Vec::with_capacity(updates.len());
    for update in updates {
        let members: Option<Vec<Member>> = match &update {
            QueueUpdate::Members(list) | QueueUpdate::AddMember(list) => {
                list.iter().map(|m| resolve(&m.extn, m.disabled)).collect()
            }
            QueueUpdate::DeleteMember(extns) => extns.iter().map(|e| resolve(e, false)).collect(),
            QueueUpdate::ServiceMode(_) | QueueUpdate::Voicemail(_) => Some(Vec::new()),
        };
        let Some(members) = members else {
            return ResultCode::UserNotFound;
        };
        resolved.push((update, members));
    }
    for (update, members) in resolved {
        match update {
            QueueUpdate::ServiceMode(mode) => {
                pbx.set_service_mode(queue, pbx_service_mode(mode));
            }
            QueueUpdate::Voicemail(on) => {
                pbx.set_queue_voicemail(queue, on);
            }
            QueueUpdate::Members(_) => {
                pbx.set_members(queue, &members);
            }
            QueueUpdate::AddMember(_) => {
                for m in members {
                    pbx.set_member(queue, m.user, m.enabled);
                }
            }
            QueueUpdate::DeleteMember(_) => {
                for m in members {
                    pbx.remove_member(queue, m.user);
                }
            }
        }
    }
    ResultCode::Success
}

/// The PBX's own service mode type for the protocol's.
fn pbx_service_mode(mode: cmd::ServiceMode) -> ServiceMode {
    match mode {
        cmd::ServiceMode::Active => ServiceMode::Active,
        cmd::ServiceMode::NightService => ServiceMode::NightService,
        cmd::ServiceMode::OutOfService => ServiceMode::OutOfService,
    }
}
