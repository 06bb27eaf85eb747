//! The subscriptions a session keeps, apart from the wire: which are wanted, which wait for a
//! window slot, which wait for the PBX's answer, which are confirmed, which back off and which
//! failed for good. It owns the subscribe ids and the window of outstanding requests, and
//! replays everything wanted after a reconnect. The flags every kind is subscribed with are
//! here too.

use crate::model::FastMap;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;

use super::types::{Entity, SubscriptionSummary};
use crate::protocol::bits::{CcFlags, LinesFlags, QueueFlags, UserFlags};
use crate::session::backoff::{Backoff, BackoffConfig};

/// Lines subscription flags: users, queues and park server availability (7).
pub const LINES_FLAGS: LinesFlags =
    LinesFlags(LinesFlags::USERS.0 | LinesFlags::QUEUES.0 | LinesFlags::PARKSERVER.0);

/// User subscription flags (0x0F): mailbox counters, forwarding, application presence,
/// absence. Never ACTIVAPP: it would change what every user's phone shows.
pub const USER_FLAGS: UserFlags =
    UserFlags(UserFlags::MAILBOX.0 | UserFlags::FWD.0 | UserFlags::APP.0 | UserFlags::ABSENCE.0);

/// User call-control detail (0xFB): primary data, devices, conference, dial info, trunk
/// detail, queue information, language/privacy. Never Ephemeral: statistics need whole calls.
pub const USER_CCFLAGS: CcFlags = CcFlags(
    CcFlags::PRIMARY.0
        | CcFlags::DEVICES.0
        | CcFlags::CONFERENCE.0
        | CcFlags::DIALINFO.0
        | CcFlags::TRUNK.0
        | CcFlags::QUEUEINFO.0
        | CcFlags::LANGUAGE.0,
);

/// Queue subscription flags (0x03): mailbox counters and the members list.
pub const QUEUE_FLAGS: QueueFlags = QueueFlags(QueueFlags::MAILBOX.0 | QueueFlags::MEMBERS.0);

/// Queue call-control detail (0x400E9): primary data, conference, trunk detail, queue
/// information, language/privacy, targets. Never Ephemeral.
pub const QUEUE_CCFLAGS: CcFlags = CcFlags(
    CcFlags::PRIMARY.0
        | CcFlags::CONFERENCE.0
        | CcFlags::TRUNK.0
        | CcFlags::QUEUEINFO.0
        | CcFlags::LANGUAGE.0
        | CcFlags::TARGETS.0,
);

/// Park server call-control detail (0x01): primary data.
pub const PARK_CCFLAGS: CcFlags = CcFlags::PRIMARY;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a window slot.
    Queued,
    /// Sent; waiting for its RequestResponse.
    Requested,
    /// Confirmed by the PBX.
    Active,
    /// Waiting to be tried again.
    Backoff,
    /// Refused with a code that retrying will not fix.
    Failed,
}

#[derive(Debug)]
struct Sub {
    id: i32,
    phase: Phase,
    backoff: Backoff,
}

/// Every subscription wanted, and where each stands on the current connection.
#[derive(Debug)]
pub(super) struct Subscriptions {
    subs: FastMap<Entity, Sub>,
    /// Subscribe id -> entity, for the subscriptions requested or confirmed on this link.
    by_id: FastMap<i32, Entity>,
    /// Waiting for a window slot, in the order they go out.
    queue: VecDeque<Entity>,
    /// Subscribe requests waiting for their response.
    outstanding: usize,
    next_id: i32,
    resubscribe: BackoffConfig,
}

impl Subscriptions {
    pub(super) fn new(resubscribe: BackoffConfig) -> Self {
        Subscriptions {
            subs: FastMap::default(),
            by_id: FastMap::default(),
            queue: VecDeque::new(),
            outstanding: 0,
            next_id: 1,
            resubscribe,
        }
    }

    /// Marks an entity as wanted; it goes out when the window allows.
    pub(super) fn want(&mut self, entity: Entity) {
        match self.subs.get_mut(&entity) {
            Some(sub) if sub.phase == Phase::Queued => {
                if !self.queue.contains(&entity) {
                    self.queue.push_back(entity);
                }
            }
            Some(_) => {}
            None => {
                self.subs.insert(
                    entity.clone(),
                    Sub {
                        id: 0,
                        phase: Phase::Queued,
                        backoff: Backoff::new(self.resubscribe),
                    },
                );
                self.queue.push_back(entity);
            }
        }
    }

    /// A new connection: the lines list first, then everything already known (after a
    /// reconnect), so a site comes back without waiting for the lines list: queues (what a
    /// supervisor watches first), the park server, presence, then users.
    pub(super) fn replay(&mut self) {
        self.want(Entity::Lines);
        let mut known: Vec<Entity> = self
            .subs
            .iter()
            .filter(|(e, s)| **e != Entity::Lines && s.phase == Phase::Queued)
            .map(|(e, _)| e.clone())
            .collect();
        known.sort_by(|a, b| {
            let rank = |e: &Entity| match e {
                Entity::Lines => 0,
                Entity::Queue(_) => 1,
                Entity::ParkServer => 2,
                Entity::Presence => 3,
                Entity::User(_) => 4,
            };
            rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
        });
        self.queue.extend(known);
    }

    /// The link is gone: nothing is outstanding, and every subscription (failed ones
    /// included) is wanted again on the next connection.
    pub(super) fn reset(&mut self) {
        self.by_id.clear();
        self.queue.clear();
        self.outstanding = 0;
        for sub in self.subs.values_mut() {
            sub.phase = Phase::Queued;
        }
    }

    /// The next entity to subscribe, while fewer than `window` requests are outstanding.
    pub(super) fn next_to_send(&mut self, window: usize) -> Option<Entity> {
        while self.outstanding < window.max(1) {
            let entity = self.queue.pop_front()?;
            if self.subs.get(&entity).map(|s| s.phase) == Some(Phase::Queued) {
                return Some(entity);
            }
        }
        None
    }

    /// A fresh subscribe id (never 0, never reused before wrapping).
    pub(super) fn new_id(&mut self) -> i32 {
        let id = self.next_id;
        self.next_id = if id == i32::MAX { 1 } else { id + 1 };
        id
    }

    /// The subscribe for `entity` went out with this id.
    pub(super) fn requested(&mut self, entity: &Entity, id: i32) {
        if let Some(sub) = self.subs.get_mut(entity) {
            sub.id = id;
            sub.phase = Phase::Requested;
        }
        self.by_id.insert(id, entity.clone());
        self.outstanding += 1;
    }

    /// A subscribe request was answered (or will never be): its window slot is free.
    pub(super) fn answered(&mut self) {
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    /// Whether `id` is the request `entity` waits on now (not deleted or replaced since).
    pub(super) fn is_current(&self, entity: &Entity, id: i32) -> bool {
        self.subs
            .get(entity)
            .is_some_and(|s| s.id == id && s.phase == Phase::Requested)
    }

    /// The PBX confirmed it.
    pub(super) fn confirm(&mut self, entity: &Entity, now: Instant) {
        if let Some(sub) = self.subs.get_mut(entity) {
            sub.phase = Phase::Active;
            sub.backoff.up(now);
        }
    }

    /// Refused for good (until the next connection).
    pub(super) fn fail(&mut self, entity: &Entity) {
        if let Some(sub) = self.subs.get_mut(entity) {
            sub.phase = Phase::Failed;
        }
    }

    /// Tried again later: returns how long to wait (`None` if it is not wanted).
    pub(super) fn back_off(
        &mut self,
        entity: &Entity,
        now: Instant,
        rng: &mut ChaCha8Rng,
    ) -> Option<Duration> {
        let sub = self.subs.get_mut(entity)?;
        let delay = sub.backoff.failed(now, rng);
        sub.phase = Phase::Backoff;
        Some(delay)
    }

    /// Its backoff is over: back in the queue.
    pub(super) fn backoff_over(&mut self, entity: Entity) {
        if let Some(sub) = self.subs.get_mut(&entity) {
            if sub.phase == Phase::Backoff {
                sub.phase = Phase::Queued;
                self.queue.push_back(entity);
            }
        }
    }

    /// No longer wanted: forgotten. Returns its subscribe id if the PBX may hold it (requested
    /// or confirmed), so it can be ended there.
    pub(super) fn forget(&mut self, entity: &Entity) -> Option<i32> {
        let sub = self.subs.remove(entity)?;
        if matches!(sub.phase, Phase::Requested | Phase::Active) {
            self.by_id.remove(&sub.id);
            return Some(sub.id);
        }
        None
    }

    /// What a subscribe id stands for on this link.
    /// How many subscriptions are kept, by entity, by id, and waiting to be sent.
    pub(super) fn sizes(&self) -> (usize, usize, usize) {
        (self.subs.len(), self.by_id.len(), self.queue.len())
    }

    pub(super) fn entity_of(&self, id: i32) -> Option<&Entity> {
        self.by_id.get(&id)
    }

    /// The id no longer stands for anything (refused, timed out, terminated).
    pub(super) fn release_id(&mut self, id: i32) -> Option<Entity> {
        self.by_id.remove(&id)
    }

    /// Whether the entity is wanted at all.
    pub(super) fn contains(&self, entity: &Entity) -> bool {
        self.subs.contains_key(entity)
    }

    /// The subscribe id in use for an entity, if it is subscribed or being subscribed.
    pub(super) fn id_of(&self, entity: &Entity) -> Option<i32> {
        self.subs
            .get(entity)
            .filter(|s| matches!(s.phase, Phase::Requested | Phase::Active))
            .map(|s| s.id)
    }

    /// The subscribe id of a confirmed subscription.
    pub(super) fn active_id(&self, entity: &Entity) -> Option<i32> {
        self.subs
            .get(entity)
            .filter(|s| s.phase == Phase::Active)
            .map(|s| s.id)
    }

    /// Subscribe requests waiting for their response.
    pub(super) fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Every subscription has been answered: none waits for a slot, a response or a retry.
    pub(super) fn settled(&self) -> bool {
        self.outstanding == 0
            && !self
                .subs
                .values()
                .any(|s| matches!(s.phase, Phase::Queued | Phase::Requested | Phase::Backoff))
    }

    /// Confirmed subscriptions.
    pub(super) fn confirmed(&self) -> usize {
        self.subs
            .values()
            .filter(|s| s.phase == Phase::Active)
            .count()
    }

    /// Subscriptions wanted and not failed for good.
    pub(super) fn wanted(&self) -> usize {
        self.subs
            .values()
            .filter(|s| s.phase != Phase::Failed)
            .count()
    }

    /// The confirmed subscriptions that report a line's calls.
    pub(super) fn active_lines(&self) -> Vec<Entity> {
        self.subs
            .iter()
            .filter(|(e, s)| s.phase == Phase::Active && e.line().is_some())
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// Which subscriptions the PBX confirmed, by kind.
    pub(super) fn summary(&self) -> SubscriptionSummary {
        let active = |e: &Entity| self.subs.get(e).is_some_and(|s| s.phase == Phase::Active);
        let mut out = SubscriptionSummary {
            lines: active(&Entity::Lines),
            park_server: self
                .subs
                .contains_key(&Entity::ParkServer)
                .then(|| active(&Entity::ParkServer)),
            presence: self
                .subs
                .contains_key(&Entity::Presence)
                .then(|| active(&Entity::Presence)),
            ..SubscriptionSummary::default()
        };
        for (e, s) in &self.subs {
            let ok = usize::from(s.phase == Phase::Active);
            match e {
                Entity::User(_) => {
                    out.users.0 += ok;
                    out.users.1 += 1;
                }
                Entity::Queue(_) => {
                    out.queues.0 += ok;
                    out.queues.1 += 1;
                }
                _ => {}
            }
        }
        out
    }
}
