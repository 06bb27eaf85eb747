//! What each subscription follows and has yet to report, and the Notify payloads built from it.
//!
//! A subscription's [`Kind`] collects the PBX's changes while Notifies are held: a backlog for
//! one call collapses to its latest snapshot, a call that came and went unseen is dropped, and
//! [`Kind::build`] turns what is pending into the next payload (a callcontrol Notify always
//! carries full snapshots, stripped to the subscription's `ccflags`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::protocol::bits::{CcFlags, LinesFlags, QueueFlags, UserFlags};
use crate::protocol::pb;
use crate::protocol::pb::call_info::State;
use crate::protocol::presence::PhoneState;
use crate::sim::pbx::{CallKey, Line, LineEntry, LineKind, LinesOp, Pbx, QueueId, UserId};
use crate::sim::site::Guid;

/// What a call tracker has yet to report about one call.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Info(CallKey),
    Lost { reason: i32, this_end_dropped: bool },
}

/// The call-control part of a user, queue or park-server subscription.
#[derive(Debug)]
pub(super) struct CallTracker {
    line: Line,
    cc: CcFlags,
    ephemeral: bool,
    pending: BTreeMap<i32, Pending>,
    announced: HashSet<i32>,
    refresh: i32,
}

impl CallTracker {
    /// A tracker for the calls on `line`, starting with those present; `None` when `cc` asks
    /// for no call control.
    pub(super) fn new(line: Line, cc: CcFlags, pbx: &Pbx) -> Option<Self> {
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

    pub(super) fn on_change(&mut self, callid: i32, call: CallKey) {
        self.pending.insert(callid, Pending::Info(call));
    }

    pub(super) fn on_lost(&mut self, callid: i32, reason: i32, this_end_dropped: bool) {
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

/// One presentity of a presence subscription, and the user it names (if any).
#[derive(Debug)]
pub(super) struct PresenceEntry {
    pub(super) presentity: String,
    pub(super) lref: i32,
    pub(super) user: Option<UserId>,
}

/// What a subscription follows, with what it has yet to report.
#[derive(Debug)]
pub(super) enum Kind {
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
    pub(super) fn calls_mut(&mut self) -> Option<&mut CallTracker> {
        match self {
            Kind::User { calls, .. } | Kind::Queue { calls, .. } | Kind::Park { calls } => {
                calls.as_mut()
            }
            _ => None,
        }
    }

    pub(super) fn has_pending(&self) -> bool {
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

    /// The next Notify payload from what is pending (at most `max` calls), or `None` when
    /// nothing is.
    pub(super) fn build(&mut self, pbx: &Pbx, max: usize) -> Option<pb::notify::Payload> {
        use pb::notify::Payload as N;
        match self {
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
}
