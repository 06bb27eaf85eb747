//! A connection's subscriptions and its flow control: which subscriptions are live, what each
//! follows (by line, by presence user), when each expires, which have something to report, and
//! which Notify awaits its acknowledgement.
//!
//! The PBX's changes come in through [`Subscriptions::on_change`]; the next Notify goes out
//! through [`Subscriptions::next_notify`] when flow control allows.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::config::FlowControl;
use super::notify::{Kind, PresenceEntry};
use crate::protocol::bits::LinesFlags;
use crate::protocol::codes::ResultCode;
use crate::protocol::msg::{PRESENCE_TIMEOUT_MAX, PRESENCE_TIMEOUT_MIN};
use crate::protocol::pb;
use crate::sim::pbx::{Change, Line, LineEntry, LineKind, LinesOp, Pbx, UserId};
use crate::sim::site::Guid;

/// One live subscription.
#[derive(Debug)]
struct Sub {
    deadline: Option<Instant>,
    next_notify_id: i32,
    /// Per-subscription flow control: the Notify awaiting its acknowledgement.
    outstanding: Option<i32>,
    /// In the ready queue.
    queued: bool,
    kind: Kind,
}

/// Every subscription of one connection, indexed by what it follows.
#[derive(Debug)]
pub(super) struct Subscriptions {
    flow: FlowControl,
    subs: HashMap<i32, Sub>,
    by_line: HashMap<Line, Vec<i32>>,
    presence_by_user: HashMap<UserId, Vec<i32>>,
    presence_subs: BTreeSet<i32>,
    lines_sub: Option<i32>,
    park_sub: Option<i32>,
    /// Subscriptions with something to report, in the order they became ready.
    ready: VecDeque<i32>,
    /// Per-connection flow control: the Notify awaiting its acknowledgement.
    held: Option<(i32, i32)>,
    deadlines: BTreeSet<(Instant, i32)>,
}

/// Checks a presence timeout: 60..=86400 s.
pub(super) fn presence_timeout(timeout: i32) -> Result<(), ResultCode> {
    match timeout {
        t if t < PRESENCE_TIMEOUT_MIN => Err(ResultCode::SubscriptionTimeoutTooSmall),
        t if t > PRESENCE_TIMEOUT_MAX => Err(ResultCode::RequestInvalidPayload),
        _ => Ok(()),
    }
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

impl Subscriptions {
    /// No subscriptions, Notifies held as `flow` says.
    pub(super) fn new(flow: FlowControl) -> Self {
        Subscriptions {
            flow,
            subs: HashMap::new(),
            by_line: HashMap::new(),
            presence_by_user: HashMap::new(),
            presence_subs: BTreeSet::new(),
            lines_sub: None,
            park_sub: None,
            ready: VecDeque::new(),
            held: None,
            deadlines: BTreeSet::new(),
        }
    }

    /// How many subscriptions are live.
    pub(super) fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether `sid` is a live subscription.
    pub(super) fn contains(&self, sid: i32) -> bool {
        self.subs.contains_key(&sid)
    }

    /// What subscription `sid` follows.
    pub(super) fn kind(&self, sid: i32) -> Option<&Kind> {
        self.subs.get(&sid).map(|s| &s.kind)
    }

    /// The live subscription ids, in order.
    pub(super) fn ids(&self) -> Vec<i32> {
        let mut sids: Vec<i32> = self.subs.keys().copied().collect();
        sids.sort_unstable();
        sids
    }

    /// Whether the one lines subscription exists.
    pub(super) fn has_lines(&self) -> bool {
        self.lines_sub.is_some()
    }

    /// Whether the one park-server subscription exists.
    pub(super) fn has_park(&self) -> bool {
        self.park_sub.is_some()
    }

    /// The Notify awaiting its acknowledgement, as (subscribe_id, notify_id), when flow
    /// control is per connection.
    pub(super) fn held(&self) -> Option<(i32, i32)> {
        self.held
    }

    /// The next expiry.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Adds a subscription that expires `timeout` seconds from `now` (0: never).
    pub(super) fn insert(&mut self, now: Instant, sid: i32, kind: Kind, timeout: i32) {
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
        self.set_deadline(now, sid, timeout);
    }

    /// Refreshes a subscription's timeout; the result its RequestResponse carries.
    pub(super) fn refresh(&mut self, now: Instant, sid: i32, timeout: i32) -> ResultCode {
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

    /// Queues `sid` for a Notify if it has something to report and flow control allows.
    pub(super) fn mark_ready(&mut self, sid: i32) {
        let per_sub = self.flow == FlowControl::PerSubscription;
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

    /// Ends a subscription; `false` when it was not live.
    pub(super) fn remove(&mut self, sid: i32) -> bool {
        let Some(sub) = self.subs.remove(&sid) else {
            return false;
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
        true
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

    /// Ends the subscriptions whose timeout passed unrefreshed; returns their ids.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<i32> {
        let mut expired = Vec::new();
        while let Some(&(at, sid)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if self.subs.get(&sid).is_some_and(|s| s.deadline == Some(at)) {
                self.remove(sid);
                expired.push(sid);
            }
        }
        expired
    }

    /// Adds and removes presentities of a presence subscription (`UpdatePresence`).
    pub(super) fn update_presence(&mut self, sid: i32, up: pb::UpdatePresence, pbx: &Pbx) {
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

    /// Takes a NotifyAck: the Notify it names no longer holds the next one back.
    pub(super) fn on_ack(&mut self, a: &pb::NotifyAck) {
        match self.flow {
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

    /// Takes in one change of the PBX. Returns the subscriptions it ended (those of a line that
    /// was deleted), to be told with SubscribeTerminated.
    pub(super) fn on_change(&mut self, change: &Change, pbx: &Pbx) -> Vec<i32> {
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
            Change::Lines(op, entry) => return self.on_lines(*op, entry, pbx),
        }
        Vec::new()
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

    fn on_lines(&mut self, op: LinesOp, entry: &LineEntry, pbx: &Pbx) -> Vec<i32> {
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
        let mut ended = Vec::new();
        match op {
            LinesOp::Delete => {
                let line = line_of(entry.kind);
                for sid in self.by_line.get(&line).cloned().unwrap_or_default() {
                    self.remove(sid);
                    ended.push(sid);
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
        ended
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

    /// The next Notify, when a subscription has something to report and flow control allows
    /// (at most `max` calls in a callcontrol Notify).
    pub(super) fn next_notify(&mut self, pbx: &Pbx, max: usize) -> Option<pb::Notify> {
        let per_conn = self.flow == FlowControl::PerConnection;
        if per_conn && self.held.is_some() {
            return None;
        }
        while let Some(sid) = self.ready.pop_front() {
            let Some(sub) = self.subs.get_mut(&sid) else {
                continue;
            };
            sub.queued = false;
            if sub.outstanding.is_some() {
                continue;
            }
            let Some(payload) = sub.kind.build(pbx, max) else {
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
            return Some(pb::Notify {
                subscribe_id: sid,
                notify_id,
                label: String::new(),
                payload: Some(payload),
            });
        }
        None
    }
}
