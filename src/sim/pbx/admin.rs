//! Administration: what an administrator, a phone or a test changes in the site's
//! configuration (restart, users, group settings, members, DND and the like).

use super::call::DirectKind;
use super::{Change, LinesOp, Member, Pbx, QueueCounters, QueueId, User, UserId};
use crate::protocol::cmd::ServiceMode;
use crate::sim::site::{AbsenceText, SiteError, UserSpec, guid_hex};

impl Pbx {
    /// Restarts the system, as a reboot does: every call ends (no CallLost is reported: the
    /// connections that would carry it drop with the reboot), after-call work and park slots
    /// are cleared, callids and gcids count again from where they started (so later calls may
    /// reuse old gcids), the groups' counters start from zero, and traffic starts afresh.
    /// Users, groups and their guids stay.
    pub fn restart(&mut self) {
        self.calls.clear();
        self.park.clear();
        self.park_next_callid = 1;
        self.timers.clear();
        self.next_gcid = self.first_gcid;
        let now = self.now_ms;
        for u in self.users.iter_mut().flatten() {
            u.legs.clear();
            u.next_callid = 1;
            u.acw_until = None;
            u.epoch = u.epoch.wrapping_add(1);
            u.idle_since = now;
        }
        for q in self.queues.iter_mut().flatten() {
            q.appearances.clear();
            q.waiting.clear();
            q.next_callid = 1;
            q.counters = QueueCounters::default();
        }
        let ids: Vec<UserId> = self.users().map(|u| u.id).collect();
        for id in ids {
            if let Some(u) = self.user(id) {
                let state = Self::phone_state_of(u, &self.calls);
                if let Some(u) = self.user_mut(id) {
                    u.phone_state = state;
                }
            }
        }
        self.schedule_traffic();
        self.start_churn();
        self.changes.clear();
    }

    /// Schedules the site's own traffic: arrivals in every group and users' own calls.
    pub(super) fn schedule_traffic(&mut self) {
        let queue_ids: Vec<QueueId> = self.queue_ids().collect();
        for q in queue_ids {
            self.schedule_arrival(q);
        }
        for kind in [DirectKind::In, DirectKind::Out, DirectKind::Internal] {
            self.schedule_direct(kind);
        }
    }

    /// Adds a user (reported as `adduser`).
    pub fn add_user(&mut self, spec: UserSpec) -> Result<UserId, SiteError> {
        if !(1..=15).contains(&spec.extn.len()) || !spec.extn.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SiteError::BadExtn(spec.extn));
        }
        if spec.name.is_empty() {
            return Err(SiteError::EmptyName(spec.extn));
        }
        if self.user_by_extn.contains_key(&spec.extn) || self.queue_by_extn.contains_key(&spec.extn)
        {
            return Err(SiteError::DuplicateExtn(spec.extn));
        }
        let guid = spec.effective_guid();
        if self.user_by_guid.contains_key(&guid) || self.queue_by_guid.contains_key(&guid) {
            return Err(SiteError::DuplicateGuid(guid_hex(&guid)));
        }
        let id = self.insert_user(spec);
        if let Some(u) = self.user(id) {
            let entry = self.user_entry(u);
            self.emit(Change::Lines(LinesOp::Add, entry));
        }
        Ok(id)
    }

    /// Removes a user (reported as `deleteuser`): the user's calls end or, when only ringing,
    /// go back to their group; the user leaves every group.
    pub fn remove_user(&mut self, id: UserId) -> bool {
        let Some(u) = self.user(id) else {
            return false;
        };
        let entry = self.user_entry(u);
        let legs = u.legs.clone();
        let queues = u.queues.clone();
        for (_, key) in legs {
            self.withdraw_user_from_call(key, id);
        }
        for q in &queues {
            if let Some(queue) = self.queue_mut(*q) {
                queue.members.retain(|m| m.user != id);
            }
            self.emit(Change::QueueConfig(*q));
        }
        self.direct_users.retain(|u| *u != id);
        if let Some(slot) = self.users.get_mut(id.0 as usize) {
            *slot = None;
        }
        self.user_by_extn.remove(&entry.extn);
        self.user_by_guid.remove(&entry.guid);
        self.emit(Change::Lines(LinesOp::Delete, entry));
        true
    }

    /// Renames a user (reported as `changeuser` and a new user Notify).
    pub fn rename_user(&mut self, id: UserId, name: &str) -> bool {
        let Some(u) = self.user_mut(id) else {
            return false;
        };
        u.spec.name = name.to_string();
        let Some(u) = self.user(id) else {
            return false;
        };
        let entry = self.user_entry(u);
        self.emit(Change::Lines(LinesOp::Change, entry));
        self.emit(Change::UserConfig(id));
        true
    }

    /// Renames a hunt group (reported as `changequeue` and a new queue Notify).
    pub fn rename_queue(&mut self, id: QueueId, name: &str) -> bool {
        if self.queue_by_name.contains_key(name) {
            return false;
        }
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        let old = std::mem::replace(&mut q.name, name.to_string());
        self.queue_by_name.remove(&old);
        self.queue_by_name.insert(name.to_string(), id);
        let Some(q) = self.queue(id) else {
            return false;
        };
        let entry = self.queue_entry(q);
        self.emit(Change::Lines(LinesOp::Change, entry));
        self.emit(Change::QueueConfig(id));
        true
    }

    pub(super) fn change_user(&mut self, id: UserId, f: impl FnOnce(&mut User)) -> bool {
        let Some(u) = self.user_mut(id) else {
            return false;
        };
        f(u);
        self.emit(Change::UserConfig(id));
        self.touch_user(id);
        self.after_user_free(id);
        true
    }

    /// Sets or clears do not disturb.
    pub fn set_dnd(&mut self, id: UserId, on: bool) -> bool {
        self.change_user(id, |u| u.spec.dnd = on)
    }

    /// Logs the user off (or back on).
    pub fn set_logged_off(&mut self, id: UserId, off: bool) -> bool {
        self.change_user(id, |u| u.spec.logged_off = off)
    }

    /// Marks the user's phone faulty (or working again).
    pub fn set_extn_fault(&mut self, id: UserId, fault: bool) -> bool {
        self.change_user(id, |u| u.spec.extn_fault = fault)
    }

    /// Sets or clears the absence text.
    pub fn set_absence(&mut self, id: UserId, absence: Option<AbsenceText>) -> bool {
        self.change_user(id, |u| u.spec.absence = absence)
    }

    /// Sets mobile twinning.
    pub fn set_ec500(&mut self, id: UserId, on: bool) -> bool {
        self.change_user(id, |u| u.spec.ec500 = on)
    }

    /// Sets forward unconditional.
    pub fn set_fwdu(&mut self, id: UserId, on: bool, number: &str, to_vm: bool) -> bool {
        self.change_user(id, |u| {
            u.fwdu = on;
            u.fwdu_number = number.to_string();
            u.fwd_to_vm = to_vm;
        })
    }

    /// Sets the application presence string.
    pub fn set_app(&mut self, id: UserId, app: &str) -> bool {
        self.change_user(id, |u| u.app = app.to_string())
    }

    /// Sets a group's service mode; calls are routed again when it becomes Active.
    pub fn set_service_mode(&mut self, id: QueueId, mode: ServiceMode) -> bool {
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        q.service_mode = mode;
        self.emit(Change::QueueConfig(id));
        self.route(id);
        true
    }

    /// Enables or disables a group's voicemail.
    pub fn set_queue_voicemail(&mut self, id: QueueId, on: bool) -> bool {
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        q.voicemail = on;
        self.emit(Change::QueueConfig(id));
        true
    }

    /// Adds a member to a group, or changes an existing member's enabled state.
    pub fn set_member(&mut self, id: QueueId, user: UserId, enabled: bool) -> bool {
        if self.user(user).is_none() {
            return false;
        }
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        match q.members.iter_mut().find(|m| m.user == user) {
            Some(m) => m.enabled = enabled,
            None => {
                q.members.push(Member { user, enabled });
                if let Some(u) = self.user_mut(user) {
                    u.queues.push(id);
                }
            }
        }
        self.emit(Change::QueueConfig(id));
        self.route(id);
        true
    }

    /// Removes a member from a group.
    pub fn remove_member(&mut self, id: QueueId, user: UserId) -> bool {
        let Some(q) = self.queue_mut(id) else {
            return false;
        };
        let before = q.members.len();
        q.members.retain(|m| m.user != user);
        if q.members.len() == before {
            return false;
        }
        if let Some(u) = self.user_mut(user) {
            u.queues.retain(|q| *q != id);
        }
        self.emit(Change::QueueConfig(id));
        true
    }

    /// Replaces a group's member list.
    pub fn set_members(&mut self, id: QueueId, members: &[Member]) -> bool {
        let Some(q) = self.queue(id) else {
            return false;
        };
        let old: Vec<UserId> = q.members.iter().map(|m| m.user).collect();
        for u in old {
            if let Some(u) = self.user_mut(u) {
                u.queues.retain(|q| *q != id);
            }
        }
        let mut list: Vec<Member> = Vec::new();
        for m in members {
            if self.user(m.user).is_some() && !list.iter().any(|x| x.user == m.user) {
                list.push(*m);
            }
        }
        for m in &list {
            if let Some(u) = self.user_mut(m.user) {
                u.queues.push(id);
            }
        }
        if let Some(q) = self.queue_mut(id) {
            q.members = list;
        }
        self.emit(Change::QueueConfig(id));
        self.route(id);
        true
    }
}
