//! Snapshots of the model as MTCTI3 payloads: a call appearance as a full `CallInfo`, a user's
//! and a group's configuration, a presentity. These hold every detail the model has; the
//! connection layer strips what a subscription's `ccflags` did not ask for.

use super::features;
use super::{Call, CallKind, LegState, Line, Pbx, Queue, QueueId, User, UserId};
use crate::protocol::bits::{QueueFlags, UserFlags};
use crate::protocol::pb;
use crate::protocol::pb::call_info::{Direction, State};

/// `PartyInfo.nametype` for an internal party (a user or a group), as in the document's
/// examples.
pub const NAMETYPE_INTERNAL: i32 = 5;

/// `PartyInfo.nametype` for a party known through a trunk, as in the document's examples.
pub const NAMETYPE_TRUNK: i32 = 9;

/// `SubscribePresence.flags` bit 0: include the unread voicemail counter.
pub const PRESENCE_VOICEMAIL: i32 = 0x01;

/// `SubscribePresence.flags` bit 1: do not show "Offline" when no application handles presence.
pub const PRESENCE_NO_OFFLINE: i32 = 0x02;

fn user_party(u: &User) -> pb::PartyInfo {
    pb::PartyInfo {
        number: u.extn.clone(),
        name: u.name.clone(),
        nametype: NAMETYPE_INTERNAL,
        ..Default::default()
    }
}

fn queue_party(q: &Queue) -> pb::PartyInfo {
    pb::PartyInfo {
        number: q.extn.clone(),
        name: q.name.clone(),
        nametype: NAMETYPE_INTERNAL,
        ..Default::default()
    }
}

fn mailbox(m: &crate::sim::site::MailboxCounts) -> pb::Mailbox {
    pb::Mailbox {
        newmessages: i32::try_from(m.new).unwrap_or(i32::MAX),
        oldmessages: i32::try_from(m.old).unwrap_or(i32::MAX),
        savedmessages: i32::try_from(m.saved).unwrap_or(i32::MAX),
    }
}

impl Pbx {
    fn far_party(call: &Call) -> Option<pb::PartyInfo> {
        let far = call.far.as_ref()?;
        Some(pb::PartyInfo {
            number: far.caller.number.clone(),
            name: far.caller.name.clone(),
            nametype: NAMETYPE_TRUNK,
            withheld: far.caller.withheld,
            ..Default::default()
        })
    }

    fn queue_info(&self, call: &Call) -> Option<pb::QueueInfo> {
        let leg = call.queue.as_ref()?;
        let q = self.queue(leg.queue)?;
        let mut info = pb::QueueInfo {
            number: q.extn.clone(),
            name: q.name.clone(),
            priority: i32::from(leg.priority),
            ..Default::default()
        };
        if leg.overflow
            && let Some(o) = q.overflow_queue().and_then(|o| self.queue(o))
        {
            info.overflow_number = o.extn.clone();
            info.overflow_name = o.name.clone();
        }
        Some(info)
    }

    /// The members a waiting call nominally targets: those who take the group's calls when
    /// free (enabled, logged on, not in DND, phone working), plus the overflow group's once the
    /// call has overflowed.
    fn nominal_targets(&self, q: QueueId, overflow: bool) -> Vec<pb::Target> {
        let mut out: Vec<UserId> = Vec::new();
        let add = |queue: &Queue, out: &mut Vec<UserId>| {
            for m in queue.members() {
                let ok = m.enabled
                    && self
                        .user(m.user)
                        .is_some_and(|u| !u.logged_off && !u.dnd && !u.extn_fault);
                if ok && !out.contains(&m.user) {
                    out.push(m.user);
                }
            }
        };
        let Some(queue) = self.queue(q) else {
            return Vec::new();
        };
        add(queue, &mut out);
        if overflow && let Some(o) = queue.overflow_queue().and_then(|o| self.queue(o)) {
            add(o, &mut out);
        }
        out.iter()
            .filter_map(|u| self.user(*u))
            .map(|u| pb::Target {
                partyinfo: Some(user_party(u)),
            })
            .collect()
    }

    /// The full snapshot of a call's appearance on a line, or `None` when the call is not
    /// there (any more).
    pub fn callinfo(&self, line: Line, key: super::CallKey) -> Option<pb::CallInfo> {
        let call = self.calls.get(&key)?;
        let mut ci = pb::CallInfo {
            gcid: call.gcid.to_vec(),
            ..Default::default()
        };
        if call.kind != CallKind::Internal
            && let Some(far) = &call.far
        {
            ci.trunkinfo = Some(pb::TrunkInfo {
                trunktype: far.trunk.to_wire() as i32,
                did: far.did.clone(),
            });
        }
        let mut language = "eng".to_string();
        match line {
            Line::Queue(q) => {
                let leg = call.queue.as_ref().filter(|l| l.queue == q)?;
                let connected = call.legs.iter().find(|l| l.state == LegState::Connected);
                let ringing: Vec<UserId> = call
                    .legs
                    .iter()
                    .filter(|l| l.state == LegState::Ringing)
                    .map(|l| l.user)
                    .collect();
                let (state, feats) = if leg.voicemail {
                    (State::Answeredbyvoicemail, features::QUEUE_VOICEMAIL)
                } else if connected.is_some() {
                    (State::Connected, features::QUEUE_CONNECTED)
                } else if !ringing.is_empty() {
                    (State::Ringing, features::QUEUE_RINGING)
                } else {
                    (State::Queueing, features::QUEUE_QUEUEING)
                };
                ci.callid = leg.callid;
                ci.state = state as i32;
                ci.direction = Direction::Inbound as i32;
                ci.featuresavailable = feats.to_wire();
                ci.calledparty = call.dialled.clone();
                ci.callingparty = Self::far_party(call);
                ci.connectedparty = if leg.voicemail {
                    Some(pb::PartyInfo {
                        number: "VoiceMail".to_string(),
                        ..Default::default()
                    })
                } else {
                    connected.and_then(|l| self.user(l.user)).map(user_party)
                };
                ci.queueinfo = self.queue_info(call);
                ci.targets = match state {
                    State::Ringing => Some(pb::Targets {
                        target: ringing
                            .iter()
                            .filter_map(|u| self.user(*u))
                            .map(|u| pb::Target {
                                partyinfo: Some(user_party(u)),
                            })
                            .collect(),
                    }),
                    State::Queueing => Some(pb::Targets {
                        target: self.nominal_targets(q, leg.overflow),
                    }),
                    _ => None,
                };
            }
            Line::User(u) => {
                let leg = call.legs.iter().find(|l| l.user == u)?;
                let user = self.user(u)?;
                language = user.language.clone();
                let (state, feats) = match leg.state {
                    LegState::Ringing => (State::Ringing, features::USER_RINGING),
                    LegState::Ringback => (State::Ringback, features::USER_RINGBACK),
                    LegState::Connected => (State::Connected, features::USER_CONNECTED),
                };
                let other = match leg.peer.and_then(|p| self.user(p)) {
                    Some(peer) => Some(user_party(peer)),
                    None => Self::far_party(call),
                };
                ci.callid = leg.callid;
                ci.state = state as i32;
                ci.direction = if leg.pickup {
                    Direction::Pickup
                } else if leg.outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                } as i32;
                ci.featuresavailable = feats.to_wire();
                ci.calledparty = call.dialled.clone();
                if leg.outbound {
                    ci.connectedparty = other;
                    ci.dialinfo = Some(pb::DialInfo {
                        number: call.dialled.clone(),
                        complete: true,
                        ..Default::default()
                    });
                } else {
                    ci.callingparty = other.clone();
                    if leg.state == LegState::Connected {
                        ci.connectedparty = other;
                    }
                }
                if let Some(q) = call.queue.as_ref().and_then(|l| self.queue(l.queue)) {
                    ci.originalcalledparty = Some(queue_party(q));
                    ci.queueinfo = self.queue_info(call);
                }
                ci.localinfo = vec![pb::EndInfo {
                    gcid: call.gcid.to_vec(),
                    deviceinstance: 1,
                    ..Default::default()
                }];
                ci.remoteinfo = Some(pb::EndInfo {
                    gcid: call.gcid.to_vec(),
                    ..Default::default()
                });
            }
            Line::Park => {
                let park = call.park.as_ref()?;
                ci.callid = park.callid;
                ci.state = State::Onhold as i32;
                ci.direction = Direction::Inbound as i32;
                ci.featuresavailable = features::PARKED.to_wire();
                ci.callingparty = Self::far_party(call);
                ci.parkslot = park.slot.clone();
            }
        }
        ci.calldata = Some(pb::CallData {
            language,
            ..Default::default()
        });
        Some(ci)
    }

    /// A user's configuration as a `user` Notify, with the parts `flags` asks for.
    pub fn notify_user(&self, id: UserId, flags: UserFlags) -> Option<pb::NotifyUser> {
        let u = self.user(id)?;
        let mut n = pb::NotifyUser {
            extn: u.extn.clone(),
            name: u.name.clone(),
            fullname: u.fullname.clone(),
            email: u.email.clone(),
            featuresavailable: features::USER_SETTINGS.to_wire(),
            language: u.language.clone(),
            dnd: u.dnd,
            voicemail: u.voicemail,
            loggedinextn: if u.logged_off {
                String::new()
            } else {
                u.extn.clone()
            },
            extnfault: u.extn_fault,
            loggedoff: u.logged_off,
            ec500: u.ec500,
            ..Default::default()
        };
        if flags.contains(UserFlags::MAILBOX) {
            n.mailbox = Some(mailbox(&u.mailbox));
        }
        if flags.contains(UserFlags::FWD) {
            n.fwdu = u.fwdu;
            n.fwdunumber = u.fwdu_number.clone();
            n.fwdtovm = u.fwd_to_vm;
            n.offswitch = true;
        }
        if flags.contains(UserFlags::APP) {
            n.app = u.app.clone();
            n.noapphandler = true;
        }
        if flags.contains(UserFlags::ABSENCE)
            && let Some(a) = &u.absence
        {
            n.absence = Some(pb::Absence {
                msg: a.msg,
                str: a.text.clone(),
            });
        }
        Some(n)
    }

    /// A group's configuration as a `queue` Notify, with the parts `flags` asks for.
    pub fn notify_queue(&self, id: QueueId, flags: QueueFlags) -> Option<pb::NotifyQueue> {
        let q = self.queue(id)?;
        let mut n = pb::NotifyQueue {
            extn: q.extn.clone(),
            name: q.name.clone(),
            email: q.email.clone(),
            ringmode: q.ring_mode.to_wire(),
            noanswertime: i32::try_from(q.no_answer_time).unwrap_or(i32::MAX),
            voicemail: q.voicemail,
            voicemailtime: i32::try_from(q.voicemail_time).unwrap_or(i32::MAX),
            servicemode: q.service_mode.to_wire() as i32,
            ..Default::default()
        };
        if flags.contains(QueueFlags::MAILBOX) {
            n.mailbox = Some(mailbox(&q.mailbox));
        }
        if flags.contains(QueueFlags::MEMBERS) {
            n.queuemembers = Some(pb::QueueMembers {
                member: q
                    .members()
                    .iter()
                    .filter_map(|m| {
                        self.user(m.user).map(|u| pb::QueueMember {
                            extn: u.extn.clone(),
                            disabled: !m.enabled,
                        })
                    })
                    .collect(),
            });
        }
        Some(n)
    }

    /// A user's presence (without the presentity and lref, which the subscriber chose).
    /// `flags` are the presence subscription's flags.
    pub fn notify_presentity(&self, id: UserId, flags: i32) -> Option<pb::NotifyPresentity> {
        let u = self.user(id)?;
        let no_offline = flags & PRESENCE_NO_OFFLINE != 0;
        let (app, noapphandler) = match (u.app.is_empty(), no_offline) {
            (true, false) => ("Offline".to_string(), false),
            (true, true) => (String::new(), true),
            (false, _) => (u.app.clone(), false),
        };
        Some(pb::NotifyPresentity {
            sac: i32::from(u.dnd),
            phonestate: u.phone_state().to_wire(),
            absence: u.absence.as_ref().map(|a| pb::Absence {
                msg: a.msg,
                str: a.text.clone(),
            }),
            app,
            fwdu: u.fwdu,
            vmunread_messages: if flags & PRESENCE_VOICEMAIL != 0 {
                i32::try_from(u.mailbox.new).unwrap_or(i32::MAX)
            } else {
                0
            },
            noapphandler,
            ..Default::default()
        })
    }

    /// The user a presentity names: an extension, or an email address.
    pub fn find_presentity(&self, presentity: &str) -> Option<UserId> {
        self.user_by_extn(presentity)
            .or_else(|| self.user_by_email(presentity))
    }
}
