//! Which users and queues are wanted, from the scope (`[scope]`): the queues in scope, the
//! users it covers, the supervisor's own line, and any user whose call is still live (ended
//! once its last call ends). The lines list is always wanted, so every user and queue stays
//! known by name and number. The wanted set follows the scope live: a queue's members change,
//! a user or queue is added, renamed or deleted. A scope covering the whole site wants
//! everything as the lines list brings it, and nothing here runs.

use super::core::Session;
use super::types::Entity;
use crate::model::{Guid, LineId, Text};

impl Session {
    /// Whether the session narrows what it subscribes.
    pub(super) fn scoped(&self) -> bool {
        !self.config.scope.is_everything()
    }

    /// Brings the wanted queues, users and presentities in step with the scope as it resolves
    /// now.
    pub(super) fn follow_scope(&mut self) {
        if !self.scoped() {
            return;
        }
        let found = self.config.scope.resolve(&self.model);
        let queues: Vec<(Guid, bool)> = self
            .model
            .queues()
            .map(|q| (q.guid.clone(), found.queues.contains(&q.guid)))
            .collect();
        for (g, keep) in queues {
            self.follow(Entity::Queue(g), keep);
        }
        let users: Vec<(Guid, Text, bool)> = self
            .model
            .users()
            .map(|u| {
                let keep = found.users.contains(&u.guid) || self.is_supervisor(&u.extn);
                (u.guid.clone(), u.extn.clone(), keep)
            })
            .collect();
        for (g, extn, keep) in users {
            if keep {
                self.presence.upsert(&g, &extn);
            } else {
                self.presence.remove(&g);
            }
            self.follow(Entity::User(g), keep);
        }
    }

    /// A call on a user's line changed: a user kept only for its call is ended once its last
    /// call has ended.
    pub(super) fn follow_user_calls(&mut self, g: &Guid) {
        if !self.scoped() {
            return;
        }
        let Some(u) = self.model.user(g) else { return };
        if self.config.scope.covers_user(&self.model, u) || self.is_supervisor(&u.extn) {
            return;
        }
        self.follow(Entity::User(g.clone()), false);
    }

    fn is_supervisor(&self, extn: &str) -> bool {
        self.config.supervisor_extension.as_deref() == Some(extn)
            || self.config.other_supervisors.iter().any(|s| s == extn)
    }

    /// Wants the entity, or ends its subscription unless it still has a live call.
    fn follow(&mut self, entity: Entity, keep: bool) {
        let wanted = self.subs.contains(&entity);
        if keep && !wanted {
            tracing::debug!(%entity, "in scope");
            self.want(entity);
        } else if !keep && wanted && !self.has_calls(&entity) {
            tracing::debug!(%entity, "out of scope");
            self.end_subscription(&entity, "out of scope");
        }
    }

    fn has_calls(&self, entity: &Entity) -> bool {
        entity
            .line()
            .is_some_and(|line: LineId| self.model.appearances_on(&line).next().is_some())
    }

    /// With agents chosen as the members of the queues in scope, the sync waits until every
    /// confirmed queue in scope has said who its members are (they are wanted from there).
    pub(super) fn scope_settled(&self) -> bool {
        if self.config.scope.agents != crate::model::ScopeAgents::Members {
            return true;
        }
        self.model
            .queues()
            .filter(|q| self.config.scope.covers_queue(q))
            .filter(|q| {
                self.subs
                    .active_id(&Entity::Queue(q.guid.clone()))
                    .is_some()
            })
            .all(|q| q.status.is_some())
    }
}
