//! What the model tells its readers: typed events, cheap to clone (records are shared), fit to
//! be coalesced for a slow reader, and serialisable for `events --json`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde::{Serialize, Serializer};

use super::call::{Appearance, CallChanges, CallState, EndReason};
use super::ids::{AppearanceId, Guid, Text};
use super::queue::Queue;
use super::stats::StatsPeriod;
use super::user::{AgentState, User};

/// Why the session stopped trying.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// The PBX refused the credentials (HTTP 401 or 403). Retrying on its own could get the
    /// service user locked out, so the session waits until someone asks again.
    LoginRejected,
    /// The application asked the session to stop.
    Shutdown,
}

/// The link to the PBX as the supervisor should see it.
#[derive(Clone, PartialEq, Debug, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Nothing attempted yet.
    Idle,
    /// Opening the secure websocket.
    Connecting {
        /// 1 for the first attempt, counting up while attempts fail.
        attempt: u32,
    },
    /// Connected; subscriptions are being made. Data may still be stale or incomplete.
    Syncing {
        /// Subscriptions the PBX has confirmed.
        confirmed: usize,
        /// Subscriptions wanted.
        wanted: usize,
    },
    /// Connected and every subscription has been answered.
    Connected {
        /// The latest request round trip, in milliseconds.
        round_trip_ms: Option<f64>,
    },
    /// The link is down; the next attempt is scheduled. What the model shows is stale.
    Reconnecting {
        /// When the next attempt starts.
        #[serde(skip)]
        at: Instant,
        /// How long until then, from when the link went down, in milliseconds.
        retry_in_ms: u64,
        /// Why the link went down.
        reason: Text,
    },
    /// The session stopped and will not try again by itself.
    Stopped {
        /// What kind of stop.
        kind: StopKind,
        /// The reason, in words.
        reason: Text,
    },
}

impl ConnectionState {
    /// Whether the model is being kept live right now (data may still be syncing).
    pub fn is_up(&self) -> bool {
        matches!(
            self,
            ConnectionState::Syncing { .. } | ConnectionState::Connected { .. }
        )
    }
}

/// Why a user or queue left the model.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoveReason {
    /// The lines list deleted it.
    Deleted,
    /// The PBX answered its subscription with "not found" (MTCTISESS_USERNOTFOUND or
    /// MTCTISESS_NOTFOUND).
    NotFound,
}

/// What a cap bounds (the numbers are the protocol's limits, carried in [`CapReached`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capped {
    /// Users in the lines list.
    Users,
    /// Queues in the lines list.
    Queues,
    /// Call appearances held at once.
    CallAppearances,
    /// Account codes in the PBX's list.
    AccountCodes,
    /// The length of any one text.
    Text,
}

/// The PBX reported more than ipo-top keeps: the rest is ignored (a text is cut). Said once
/// per cap and session.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct CapReached {
    /// Which cap.
    pub what: Capped,
    /// Its value.
    pub limit: usize,
}

impl std::fmt::Display for CapReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limit = self.limit;
        match self.what {
            Capped::Users => write!(
                f,
                "the PBX reports more than {limit} users: ignoring the rest"
            ),
            Capped::Queues => {
                write!(
                    f,
                    "the PBX reports more than {limit} queues: ignoring the rest"
                )
            }
            Capped::CallAppearances => write!(
                f,
                "the PBX reports more than {limit} call appearances: ignoring the rest"
            ),
            Capped::AccountCodes => write!(
                f,
                "the PBX lists more than {limit} account codes: ignoring the rest"
            ),
            Capped::Text => write!(
                f,
                "the PBX sent a text longer than {limit} bytes: cutting it to {limit}"
            ),
        }
    }
}

fn arc<T: Serialize, S: Serializer>(v: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
    T::serialize(v, s)
}

/// One change to the model.
#[derive(Clone, PartialEq, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelEvent {
    /// The link changed state.
    Connection {
        /// The new state.
        state: ConnectionState,
    },
    /// The PBX reported its version.
    Version {
        /// e.g. "IP Office 11.1.0.0 build 600".
        text: Text,
    },
    /// Every call the model knew was ended at once (each with its own CallEnded, reason
    /// NotReported): the PBX restarted while the link was down, or the session moved to
    /// another system.
    CallsReset {
        /// Why, in words.
        reason: Text,
    },
    /// The session connected to a system (the primary, or the secondary while the primary
    /// cannot be reached).
    System {
        /// Which.
        system: super::PbxSystem,
    },
    /// The PBX's account codes were read (or could not be).
    AccountCodes {
        /// The codes, or why entry is free text.
        codes: super::AccountCodes,
    },
    /// The statistics' counting period began (at start, and at each midnight).
    StatsPeriod {
        /// The period and its thresholds.
        period: StatsPeriod,
    },
    /// A user appeared in the lines list.
    UserAdded {
        /// The user.
        #[serde(serialize_with = "arc")]
        user: Arc<User>,
    },
    /// A user changed: name, status, or derived agent state.
    UserChanged {
        /// The user now.
        #[serde(serialize_with = "arc")]
        user: Arc<User>,
        /// The agent state before, when it changed.
        agent_from: Option<AgentState>,
    },
    /// A user left the model (its calls ended first).
    UserRemoved {
        /// The user's identity.
        guid: Guid,
        /// Its last extension.
        extn: Text,
        /// Its last name.
        name: Text,
        /// Why.
        reason: RemoveReason,
    },
    /// A queue appeared in the lines list.
    QueueAdded {
        /// The queue.
        #[serde(serialize_with = "arc")]
        queue: Arc<Queue>,
    },
    /// A queue changed.
    QueueChanged {
        /// The queue now.
        #[serde(serialize_with = "arc")]
        queue: Arc<Queue>,
    },
    /// A queue left the model (its calls ended first).
    QueueRemoved {
        /// The queue's identity.
        guid: Guid,
        /// Its last number.
        extn: Text,
        /// Its last name.
        name: Text,
        /// Why.
        reason: RemoveReason,
    },
    /// Whether the park server can be followed changed.
    ParkServer {
        /// The PBX says the park server can be subscribed.
        available: bool,
    },
    /// A call appearance was seen for the first time.
    CallNew {
        /// The appearance.
        #[serde(serialize_with = "arc")]
        call: Arc<Appearance>,
    },
    /// A call appearance changed.
    CallChanged {
        /// The appearance now.
        #[serde(serialize_with = "arc")]
        call: Arc<Appearance>,
        /// The state before, when it changed.
        from: Option<CallState>,
        /// What changed.
        changes: CallChanges,
    },
    /// A call appearance ended.
    CallEnded {
        /// The appearance as last seen.
        #[serde(serialize_with = "arc")]
        call: Arc<Appearance>,
        /// Why it ended.
        reason: EndReason,
    },
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Slot {
    Connection,
    Version,
    Period,
    AccountCodes,
    System,
    Park,
    User(Guid),
    Queue(Guid),
    Call(AppearanceId),
}

impl ModelEvent {
    fn slot(&self) -> Option<Slot> {
        Some(match self {
            ModelEvent::Connection { .. } => Slot::Connection,
            ModelEvent::Version { .. } => Slot::Version,
            ModelEvent::StatsPeriod { .. } => Slot::Period,
            ModelEvent::AccountCodes { .. } => Slot::AccountCodes,
            ModelEvent::System { .. } => Slot::System,
            ModelEvent::ParkServer { .. } => Slot::Park,
            ModelEvent::UserAdded { user } | ModelEvent::UserChanged { user, .. } => {
                Slot::User(user.guid.clone())
            }
            ModelEvent::QueueAdded { queue } | ModelEvent::QueueChanged { queue } => {
                Slot::Queue(queue.guid.clone())
            }
            ModelEvent::CallNew { call } | ModelEvent::CallChanged { call, .. } => {
                Slot::Call(call.id)
            }
            ModelEvent::UserRemoved { .. }
            | ModelEvent::QueueRemoved { .. }
            | ModelEvent::CallsReset { .. }
            | ModelEvent::CallEnded { .. } => return None,
        })
    }

    /// Folds a later event about the same thing into this one.
    fn absorb(self, later: ModelEvent) -> ModelEvent {
        use ModelEvent as E;
        match (self, later) {
            (E::UserAdded { .. }, E::UserChanged { user, .. }) => E::UserAdded { user },
            (
                E::UserChanged { agent_from: a, .. },
                E::UserChanged {
                    user,
                    agent_from: b,
                },
            ) => {
                let agent_from = a.or(b).filter(|from| *from != user.agent.state);
                E::UserChanged { user, agent_from }
            }
            (E::QueueAdded { .. }, E::QueueChanged { queue }) => E::QueueAdded { queue },
            (E::CallNew { .. }, E::CallChanged { call, .. }) => E::CallNew { call },
            (
                E::CallChanged {
                    from: a,
                    changes: ca,
                    ..
                },
                E::CallChanged {
                    call,
                    from: b,
                    changes: cb,
                },
            ) => E::CallChanged {
                call,
                from: a.or(b),
                changes: ca.union(cb),
            },
            (_, later) => later,
        }
    }
}

/// How far a [`Coalescer`] lets a slow reader fall behind (the values are the protocol's
/// limits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MailboxLimits {
    /// Pending events beyond which a call's pending new and ended appearance fold into one
    /// ended event (and a user or queue added and removed unseen goes altogether).
    pub fold_after: usize,
    /// The most pending events: beyond it the oldest ends of calls the reader never saw go.
    pub max_pending: usize,
}

/// One pending event, and whether it ends a call the reader was never told about.
#[derive(Debug)]
struct Pending {
    ev: ModelEvent,
    unseen: bool,
}

/// Collects model events for a reader that takes them in bursts, folding events about the same
/// user, queue or appearance into one, so a slow reader gets the latest picture without a
/// backlog. New and ended appearances are never folded away while few are pending: statistics
/// count them. With [`MailboxLimits`], a reader that falls far behind gets a call's new and
/// ended appearance as one ended event, and past the hard limit loses the oldest of those;
/// [`Coalescer::take_folded`] says how many events it will never see.
#[derive(Default, Debug)]
pub struct Coalescer {
    slots: Vec<Option<Pending>>,
    index: HashMap<Slot, usize>,
    live: usize,
    limits: Option<MailboxLimits>,
    /// Where the pending ends of calls the reader never saw are, oldest first.
    unseen: VecDeque<usize>,
    folded: u64,
}

impl Coalescer {
    /// An empty coalescer without limits (for a reader that keeps up by construction).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty coalescer that folds harder as its reader falls behind.
    pub fn bounded(limits: MailboxLimits) -> Self {
        Self {
            limits: Some(limits),
            ..Self::default()
        }
    }

    /// Adds an event, folding it into a pending one about the same thing.
    pub fn push(&mut self, ev: ModelEvent) {
        let ended = match &ev {
            ModelEvent::CallEnded { call, .. } => Some(Slot::Call(call.id)),
            ModelEvent::UserRemoved { guid, .. } => Some(Slot::User(guid.clone())),
            ModelEvent::QueueRemoved { guid, .. } => Some(Slot::Queue(guid.clone())),
            _ => None,
        };
        let mut unseen = false;
        if let Some(slot) = ended {
            // Nothing after an end folds into what came before it.
            let pending = self.index.remove(&slot);
            let folding = self.limits.is_some_and(|l| self.live >= l.fold_after);
            if let (true, Some(i)) = (folding, pending) {
                if self.take_if_new(i) {
                    self.folded += 1;
                    if !matches!(ev, ModelEvent::CallEnded { .. }) {
                        // A user or queue the reader never saw: nothing to tell it.
                        self.folded += 1;
                        return;
                    }
                    // The ended event carries the call's last snapshot.
                    unseen = true;
                }
            }
        }
        let ev = match ev.slot() {
            Some(slot) => {
                let folded = match self.index.remove(&slot) {
                    Some(i) => match self.slots.get_mut(i).and_then(Option::take) {
                        Some(earlier) => {
                            self.live -= 1;
                            earlier.ev.absorb(ev)
                        }
                        None => ev,
                    },
                    None => ev,
                };
                self.index.insert(slot, self.slots.len());
                folded
            }
            None => ev,
        };
        if unseen {
            self.unseen.push_back(self.slots.len());
        }
        self.slots.push(Some(Pending { ev, unseen }));
        self.live += 1;
        self.shed();
        if self.slots.len() > 64 && self.live * 2 < self.slots.len() {
            self.compact();
        }
    }

    /// Takes the pending event at `i` if it is a first sighting (new appearance, user or
    /// queue added).
    fn take_if_new(&mut self, i: usize) -> bool {
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        let new = matches!(
            slot,
            Some(Pending {
                ev: ModelEvent::CallNew { .. }
                    | ModelEvent::UserAdded { .. }
                    | ModelEvent::QueueAdded { .. },
                ..
            })
        );
        if new {
            *slot = None;
            self.live -= 1;
        }
        new
    }

    /// Past the hard limit, the oldest ends of calls the reader never saw go.
    fn shed(&mut self) {
        let Some(limits) = self.limits else {
            return;
        };
        while self.live > limits.max_pending {
            let Some(i) = self.unseen.pop_front() else {
                return;
            };
            if let Some(slot) = self.slots.get_mut(i) {
                if slot.take().is_some() {
                    self.live -= 1;
                    self.folded += 1;
                }
            }
        }
    }

    fn compact(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.index.clear();
        self.unseen.clear();
        for p in old.into_iter().flatten() {
            if let Some(slot) = p.ev.slot() {
                self.index.insert(slot, self.slots.len());
            }
            if p.unseen {
                self.unseen.push_back(self.slots.len());
            }
            self.slots.push(Some(p));
        }
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// How many events are pending.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Takes every pending event, oldest first.
    pub fn take(&mut self) -> Vec<ModelEvent> {
        self.index.clear();
        self.unseen.clear();
        self.live = 0;
        std::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
            .map(|p| p.ev)
            .collect()
    }

    /// Whether events were folded away since [`Coalescer::take_folded`] was last called.
    pub fn has_folded(&self) -> bool {
        self.folded > 0
    }

    /// How many events were folded away since the last call (the reader will never see them).
    pub fn take_folded(&mut self) -> u64 {
        std::mem::take(&mut self.folded)
    }
}
