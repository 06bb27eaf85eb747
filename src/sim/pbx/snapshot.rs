//! Snapshots of the model as MTCTI3 payloads: a call appearance as a full `CallInfo`, a user's
//! and a group's configuration, a presentity. These hold every detail the model has; the
//! connection layer strips what a subscription's `ccflags` did not ask for.

use super::features;
use super::{Call, CallKind, LegState, Line, Pbx, Queue, QueueId, User, UserId};
use crate::protocol::bits::CallFeatures as F;
use crate::protocol::bits::{QueueFlags, UserFlags};
use crate::protocol::pb;
use crate::protocol::pb::call_info::{Direction, State};

/// `PartyInfo.nametype` for an internal party (a user or a group), as in the document's
/// examples.
pub const NAMETYPE_INTERNAL: i32 = 5;

/// `PartyInfo.nametype` for a party known through a trunk, as in the document's examples.
pub const NAMETYPE_TRUNK: i32 = 9;

/// `PartyInfo.nametype` of a MeetMe conference, as in the document's example.
pub const NAMETYPE_CONFERENCE: i32 = 110;

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

    /// The queue detail of a call: the group that reports it, and the priority. While another
    /// group routes it (after a BlindTransfer there, or once it overflowed), that group is
    /// shown as the overflow, as in the document's transfer example.
    fn queue_info(&self, call: &Call) -> Option<pb::QueueInfo> {
        let report = call.report.as_ref();
        let routing = call.queue.as_ref();
        let shown = report.map(|r| r.queue).or(routing.map(|l| l.queue))?;
        let q = self.queue(shown)?;
        let priority = match (routing, report) {
            (Some(l), _) if !l.answered => l.priority,
            (_, Some(r)) => r.priority,
            (Some(l), None) => l.priority,
            (None, None) => 1,
        };
        let mut info = pb::QueueInfo {
            number: q.extn.clone(),
            name: q.name.clone(),
            priority: i32::from(priority),
            ..Default::default()
        };
        let other = match routing {
            Some(l) if l.queue != shown => Some(l.queue),
            Some(l) if l.overflow => q.overflow_queue(),
            _ => None,
        };
        if let Some(o) = other.and_then(|o| self.queue(o)) {
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

    /// The state of a call as its group line shows it, and the functions offered there.
    fn queue_state(call: &Call) -> (State, F) {
        let has = |s: LegState| call.legs.iter().any(|l| l.state == s);
        if call.park.is_some() {
            (State::Onhold, features::QUEUE_PARKED)
        } else if call.voicemail.is_some() {
            (State::Answeredbyvoicemail, features::QUEUE_VOICEMAIL)
        } else if call.meetme.is_some() || call.mobile.is_some() || has(LegState::Connected) {
            (State::Connected, features::QUEUE_CONNECTED)
        } else if has(LegState::Held) {
            (State::Onhold, features::QUEUE_CONNECTED)
        } else if has(LegState::Ringing) {
            (State::Ringing, features::QUEUE_RINGING)
        } else {
            (State::Queueing, features::QUEUE_QUEUEING)
        }
    }

    /// The party a group line shows as connected: the agent talking (or holding), the mobile
    /// twin, voicemail or the MeetMe conference.
    fn queue_connected_party(&self, call: &Call) -> Option<pb::PartyInfo> {
        if call.park.is_some() {
            return None;
        }
        if let Some(vm) = &call.voicemail {
            return Some(pb::PartyInfo {
                number: vm.clone(),
                ..Default::default()
            });
        }
        if let Some(conf) = &call.meetme {
            return Some(pb::PartyInfo {
                number: conf.clone(),
                name: format!("Conf {conf}"),
                nametype: NAMETYPE_CONFERENCE,
                ..Default::default()
            });
        }
        // The agent side: not the colleague who called the group.
        let agents = || call.legs.iter().filter(|l| !l.outbound);
        let talking = agents()
            .find(|l| l.state == LegState::Connected)
            .or_else(|| agents().find(|l| l.state == LegState::Held))
            // With the agent gone, whoever stays (a supervisor who intruded).
            .or_else(|| call.legs.iter().find(|l| l.state == LegState::Connected));
        if let Some(u) = talking.and_then(|l| self.user(l.user)) {
            return Some(user_party(u));
        }
        call.mobile.as_ref().map(|m| pb::PartyInfo {
            number: m.clone(),
            nametype: NAMETYPE_TRUNK,
            ..Default::default()
        })
    }

    /// The other parties of a call with three or more (after an intrusion): each is a
    /// conference member of the others. `me` is the user whose appearance this is (none for a
    /// group line, which lists the users). lref 1 is the outside party, users are 100 + id.
    fn conference_members(&self, call: &Call, me: Option<UserId>) -> Vec<pb::ConferenceMember> {
        let in_call: Vec<&super::UserLeg> = call
            .legs
            .iter()
            .filter(|l| matches!(l.state, LegState::Connected | LegState::Held))
            .collect();
        let parties = in_call.len() + usize::from(call.far.is_some());
        if parties < 3 {
            return Vec::new();
        }
        let mut out = Vec::new();
        if me.is_some()
            && let Some(far) = Self::far_party(call)
        {
            out.push(pb::ConferenceMember {
                lref: 1,
                state: State::Connected as i32,
                direction: Direction::Inbound as i32,
                connectedparty: Some(far),
                ..Default::default()
            });
        }
        for leg in in_call.iter().filter(|l| Some(l.user) != me) {
            let Some(u) = self.user(leg.user) else {
                continue;
            };
            let state = if leg.state == LegState::Held {
                State::Onhold
            } else {
                State::Connected
            };
            out.push(pb::ConferenceMember {
                lref: 100 + i32::try_from(leg.user.0).unwrap_or(i32::MAX - 100),
                state: state as i32,
                direction: if leg.outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                } as i32,
                calledparty: leg.called.clone().unwrap_or_default(),
                connectedparty: Some(user_party(u)),
                ..Default::default()
            });
        }
        out
    }

    /// The full snapshot of a call's appearance on a line, or `None` when the call is not
    /// there (any more).
    pub fn callinfo(&self, line: Line, key: super::CallKey) -> Option<pb::CallInfo> {
        let call = self.calls.get(&key)?;
        let mut ci = pb::CallInfo {
            gcid: call.gcid.to_vec(),
            tag: call.tag.clone(),
            accountcode: call.account.clone(),
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
        let any_private = call.legs.iter().any(|l| l.private);
        let mut language = "eng".to_string();
        let mut privacy = (false, false);
        match line {
            Line::Queue(q) => {
                let report = call.report.as_ref().filter(|r| r.queue == q)?;
                let (state, feats) = Self::queue_state(call);
                ci.callid = report.callid;
                ci.referencecallid = report.reference;
                ci.state = state as i32;
                ci.direction = Direction::Inbound as i32;
                ci.featuresavailable = feats.to_wire();
                ci.calledparty = call.dialled.clone();
                ci.callingparty = Self::far_party(call).or_else(|| {
                    let caller = call.legs.iter().find(|l| l.outbound)?;
                    self.user(caller.user).map(user_party)
                });
                ci.connectedparty = self.queue_connected_party(call);
                ci.queueinfo = self.queue_info(call);
                ci.conferencemember = self.conference_members(call, None);
                privacy = (any_private, false);
                let ringing: Vec<UserId> = call
                    .legs
                    .iter()
                    .filter(|l| l.state == LegState::Ringing)
                    .map(|l| l.user)
                    .collect();
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
                        target: call
                            .queue
                            .as_ref()
                            .map(|l| self.nominal_targets(l.queue, l.overflow))
                            .unwrap_or_default(),
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
                    LegState::Held => (State::Onhold, features::USER_HELD),
                    LegState::Failed => (State::Failed, features::USER_FAILED),
                    LegState::Dialtone => (State::Dialtone, features::USER_FAILED),
                    LegState::Connected => (
                        State::Connected,
                        features::user_connected(
                            leg.private,
                            leg.recording,
                            any_private,
                            user.ec500 && call.mobile.is_none(),
                        ),
                    ),
                };
                let other = match leg.peer.and_then(|p| self.user(p)) {
                    Some(peer) => Some(user_party(peer)),
                    None => Self::far_party(call),
                };
                ci.callid = leg.callid;
                ci.referencecallid = leg.reference;
                ci.state = state as i32;
                ci.direction = if leg.pickup {
                    Direction::Pickup
                } else if leg.outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                } as i32;
                ci.featuresavailable = feats.to_wire();
                ci.calledparty = leg.called.clone().unwrap_or_else(|| call.dialled.clone());
                ci.recording = leg.recording;
                // Listening to hold music: another party of the call holds it.
                ci.activeheld = leg.state == LegState::Connected
                    && call
                        .legs
                        .iter()
                        .any(|l| l.user != u && l.state == LegState::Held);
                if leg.state == LegState::Failed {
                    ci.failedcause = leg.cause as i32;
                }
                if leg.outbound {
                    if !matches!(leg.state, LegState::Failed | LegState::Dialtone) {
                        ci.connectedparty = other;
                    }
                    ci.dialinfo = Some(pb::DialInfo {
                        number: ci.calledparty.clone(),
                        complete: true,
                        ..Default::default()
                    });
                } else {
                    ci.callingparty = other.clone();
                    if matches!(leg.state, LegState::Connected | LegState::Held) {
                        ci.connectedparty = other;
                    }
                }
                if let Some(q) = call
                    .report
                    .as_ref()
                    .map(|r| r.queue)
                    .or(call.queue.as_ref().map(|l| l.queue))
                    .and_then(|q| self.queue(q))
                {
                    ci.originalcalledparty = Some(queue_party(q));
                    ci.queueinfo = self.queue_info(call);
                }
                ci.conferencemember = self.conference_members(call, Some(u));
                privacy = (
                    leg.private,
                    call.legs.iter().any(|l| l.user != u && l.private),
                );
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
            privacy: privacy.0,
            rprivacy: privacy.1,
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
            servicemode: q.service_mode.to_notify() as i32,
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
