//! Notifies to the model: acknowledge first, then apply each payload to the model by the
//! subscription it came on: the lines list (users and queues come and go, which drives what
//! is subscribed), a user's or queue's status, a line's calls, and phone states from the
//! presence subscription (whose presentity list follows the users).

use std::time::Instant;

use super::core::{Brief, DUMP_BYTES, Request, SUMMARY_BYTES, Session};
use super::presence::PresenceChange;
use super::types::Entity;
use crate::model::{AppearanceKey, Capped, Guid, LineId, PhoneState, RemoveReason, Upsert};
use crate::protocol::bits::NotifyLinesFlags;
use crate::protocol::limits::{MAX_APPEARANCES, MAX_QUEUES, MAX_USERS};
use crate::protocol::msg;
use crate::protocol::pb;

impl Session {
    pub(super) fn on_notify(&mut self, now: Instant, n: pb::Notify) {
        self.counters.notifies += 1;
        // Acknowledge first: the PBX sends nothing more until it has the ack, and nothing the
        // model does may delay or prevent it.
        if let Some(ack) = msg::ack_for(&n) {
            self.counters.acks += 1;
            self.send(&ack);
        }
        let Some(entity) = self.subs.entity_of(n.subscribe_id).cloned() else {
            self.counters.ignored_notifies += 1;
            tracing::warn!(
                subscribe_id = n.subscribe_id,
                "Notify for no subscription of ours ignored"
            );
            return;
        };
        use pb::notify::Payload as N;
        match (&entity, n.payload) {
            (Entity::Lines, Some(N::Lines(l))) => self.on_lines(now, l),
            (Entity::User(g), Some(N::User(u))) => {
                let (extn, name, status) = self.convert.user_status(&u);
                self.model.set_user_status(now, g, extn, name, status);
            }
            (Entity::Queue(g), Some(N::Queue(q))) => {
                let (extn, name, status) = self.convert.queue_status(&q);
                let members = |s: &Self| s.model.queue(g).map(|q| q.members().to_vec());
                let before = members(self);
                self.model.set_queue_status(g, extn, name, status);
                if self.scoped() && members(self) != before {
                    // Who is in scope follows the members of the queues in scope.
                    self.follow_scope();
                    self.follow_presence(now);
                }
            }
            (Entity::ParkServer, Some(N::Parkserver(_))) => {}
            (Entity::Presence, Some(N::Presence(p))) => self.on_presence(now, p),
            (Entity::User(_) | Entity::Queue(_) | Entity::ParkServer, Some(N::Callcontrol(cc))) => {
                if let Some(line) = entity.line() {
                    self.on_callcontrol(now, line, cc);
                }
                if let Entity::User(g) = &entity {
                    self.follow_user_calls(g);
                }
            }
            (_, None) => {
                self.counters.ignored_notifies += 1;
                tracing::warn!(%entity, "Notify without payload ignored");
            }
            (_, Some(other)) => {
                self.counters.ignored_notifies += 1;
                tracing::warn!(%entity, payload = %Brief(&other, SUMMARY_BYTES), "Notify with a payload this subscription does not carry ignored");
                tracing::trace!(%entity, payload = %Brief(&other, DUMP_BYTES), "the whole payload");
            }
        }
        self.note_clipped();
        // A command's effect shows in a Notify.
        self.check_effects();
    }

    fn on_callcontrol(&mut self, now: Instant, line: LineId, cc: pb::NotifyCallControl) {
        // Snapshots first, then losses: one Notify is one event, and a call may be reported and
        // ended in it.
        for info in &cc.callinfo {
            let key = AppearanceKey {
                line: line.clone(),
                callid: info.callid,
            };
            if self.model.sizes().appearances >= MAX_APPEARANCES
                && self.model.appearance_at(&key).is_none()
            {
                self.cap_reached(Capped::CallAppearances, MAX_APPEARANCES);
                continue;
            }
            let snap = self.convert.call_snapshot(info);
            if !self.model.call_info(now, line.clone(), snap) {
                tracing::debug!(%line, callid = info.callid, "CallInfo for a line no longer kept");
            }
        }
        for lost in &cc.calllost {
            let lost_call = self.convert.call_lost(lost);
            if !self.model.call_lost(now, line.clone(), lost_call.clone()) {
                self.lost_reference(&line, &lost_call);
                tracing::debug!(
                    %line,
                    callid = lost.callid,
                    referencecallid = lost.referencecallid,
                    "CallLost for a call not seen"
                );
            }
        }
        self.model.end_initial_report(&line);
    }

    fn on_lines(&mut self, now: Instant, l: pb::NotifyLines) {
        self.lines_seen = true;
        let users = l.adduser.iter().chain(l.changeuser.iter());
        for u in users {
            if u.guid.is_empty() {
                tracing::warn!(extn = %u.extn, "user without guid in the lines list ignored");
                continue;
            }
            let e = self.convert.line_entry(&u.guid, &u.extn, &u.name);
            if self.model.user(&e.guid).is_none() && self.model.sizes().users >= MAX_USERS {
                self.cap_reached(Capped::Users, MAX_USERS);
                continue;
            }
            let entity = Entity::User(e.guid.clone());
            if self.scoped() {
                // Wanted or not by `follow_scope`, once the whole list is in.
                self.model.upsert_user(now, e);
                continue;
            }
            self.presence.upsert(&e.guid, &e.extn);
            if self.model.upsert_user(now, e) == Upsert::Added || !self.subs.contains(&entity) {
                self.want(entity);
            }
        }
        let queues = l.addqueue.iter().chain(l.changequeue.iter());
        for q in queues {
            if q.guid.is_empty() {
                tracing::warn!(extn = %q.extn, "queue without guid in the lines list ignored");
                continue;
            }
            let e = self.convert.line_entry(&q.guid, &q.extn, &q.name);
            if self.model.queue(&e.guid).is_none() && self.model.sizes().queues >= MAX_QUEUES {
                self.cap_reached(Capped::Queues, MAX_QUEUES);
                continue;
            }
            let entity = Entity::Queue(e.guid.clone());
            let added = self.model.upsert_queue(e) == Upsert::Added;
            // A scope wants its queues in `follow_scope`, once the whole list is in.
            if !self.scoped() && (added || !self.subs.contains(&entity)) {
                self.want(entity);
            }
        }
        for u in &l.deleteuser {
            let g = Guid::from_bytes(&u.guid);
            self.presence.remove(&g);
            self.end_subscription(&Entity::User(g.clone()), "deleted");
            self.model.remove_user(now, &g, RemoveReason::Deleted);
        }
        for q in &l.deletequeue {
            let g = Guid::from_bytes(&q.guid);
            self.end_subscription(&Entity::Queue(g.clone()), "deleted");
            self.model.remove_queue(now, &g, RemoveReason::Deleted);
        }
        let park = NotifyLinesFlags::from_wire(l.flags).contains(NotifyLinesFlags::PARKSERVER);
        if park {
            self.want(Entity::ParkServer);
        } else {
            self.end_subscription(&Entity::ParkServer, "park server not available");
        }
        self.model.set_park_available(now, park);
        self.follow_scope();
        self.follow_presence(now);
    }

    /// The presentities may have changed: the presence subscription follows, and whatever
    /// became wanted goes out.
    fn follow_presence(&mut self, now: Instant) {
        if !self.presence.is_empty() {
            self.want(Entity::Presence);
        }
        self.sync_presence(now);
        self.pump(now);
    }

    /// Brings the PBX's presentity list in step with the users: an UpdatePresence with what
    /// was added and removed, once the presence subscription exists (before that, its
    /// Subscribe will carry the whole list).
    fn sync_presence(&mut self, now: Instant) {
        let Some(id) = self.subscribe_id(&Entity::Presence) else {
            return;
        };
        if !self.is_connected() {
            return;
        }
        let PresenceChange {
            wanted,
            add,
            remove,
        } = self.presence.change();
        if add.is_empty() && remove.is_empty() {
            return;
        }
        if self.config.read_only {
            // Read-only sends no SubscribeCmd at all: subscribe the new list instead.
            self.end_subscription(&Entity::Presence, "presentities changed");
            if !wanted.is_empty() {
                self.want(Entity::Presence);
            }
            return;
        }
        if wanted.is_empty() {
            self.end_subscription(&Entity::Presence, "no users");
            return;
        }
        let requestid = self.request_id();
        match msg::update_presence(requestid, id, &add, &remove) {
            Ok(msg) => {
                self.presence.sent(wanted);
                self.requests
                    .insert(requestid, (Request::PresenceUpdate { id }, now));
                self.send_subscribe_cmd(&msg);
            }
            Err(e) => tracing::error!(error = %e, "cannot build a presence update"),
        }
    }

    fn on_presence(&mut self, now: Instant, p: pb::NotifyPresence) {
        for e in p.entry {
            let guid = match self.presence.user(e.lref) {
                Some(g) if e.lref != 0 => Some(g.clone()),
                _ => self
                    .model
                    .user_by_extn(&e.presentity)
                    .filter(|_| !e.presentity.is_empty())
                    .map(|u| u.guid.clone()),
            };
            let Some(guid) = guid else {
                tracing::debug!(lref = e.lref, presentity = %e.presentity, "presence for no user of ours");
                continue;
            };
            self.model
                .set_phone_state(now, &guid, PhoneState::from_code(e.phonestate));
        }
    }
}
