//! The viewer's half: bucket entries, as a watch delivers them, turned back into the model
//! events the screen (and `events --json`) already consumes. The replica keeps its own
//! [`Tables`] to know what each entry changes (added or changed, the state before, what
//! changed in a call).
//!
//! A fresh watch (at start, and after NATS came back) delivers every key again: the replica
//! marks what it holds as unconfirmed, and once the watch has caught up, whatever it did not
//! deliver again is removed.

use std::collections::HashSet;
use std::sync::Arc;

use super::key::Key;
use super::publish::KvOp;
use super::value::{self, SyncValue, ValueError};
use crate::model::{
    CallChanges, EndReason, Guid, Judged, ModelEvent, RemoveReason, Tables, WallClock,
};

/// What a watch delivered for one key, as the watch lends it (a viewer reads thousands a
/// second: nothing is copied to read it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EntryOp<'a> {
    /// A value was put.
    Put(&'a [u8]),
    /// The key was deleted or purged.
    Removed,
}

/// One entry of a watch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Entry<'a> {
    /// The key's name.
    pub key: &'a str,
    /// What happened to it.
    pub op: EntryOp<'a>,
}

/// What the serving side wrote, as a watch delivers it.
impl<'a> From<&'a KvOp> for Entry<'a> {
    fn from(op: &'a KvOp) -> Self {
        match op {
            KvOp::Put { key, value } => Entry {
                key,
                op: EntryOp::Put(value),
            },
            KvOp::Purge { key } => Entry {
                key,
                op: EntryOp::Removed,
            },
        }
    }
}

/// The model as the bucket shows it.
#[derive(Debug, Default)]
pub struct Replica {
    tables: Tables,
    sync: Option<SyncValue>,
    /// Keys held before a fresh watch and not delivered again yet.
    unconfirmed: Option<HashSet<Key>>,
    /// The queues the serving side's judgement is held for.
    judged: HashSet<Guid>,
    /// The serving side's judgements taken in and not yet taken out ([`Replica::take_judged`]).
    judgements: Vec<Judged>,
}

impl Replica {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the replica holds.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The serving side's last sync report, once the bucket had one.
    pub fn sync(&self) -> Option<&SyncValue> {
        self.sync.as_ref()
    }

    /// A fresh watch begins: what it does not deliver again before [`Replica::caught_up`]
    /// is gone.
    pub fn rewatch(&mut self) {
        let mut held: HashSet<Key> = HashSet::new();
        held.extend(self.tables.users().map(|u| Key::User(u.guid.clone())));
        held.extend(self.tables.queues().map(|q| Key::Queue(q.guid.clone())));
        held.extend(self.tables.appearances().map(|a| Key::Call(a.id)));
        held.extend(self.judged.iter().map(|g| Key::Alerts(g.clone())));
        self.unconfirmed = Some(held);
    }

    /// The watch has delivered everything the bucket held: remove what it did not deliver.
    pub fn caught_up(&mut self) -> Vec<ModelEvent> {
        let Some(gone) = self.unconfirmed.take() else {
            return Vec::new();
        };
        let mut gone: Vec<Key> = gone.into_iter().collect();
        // Calls before their lines, so a line's calls end before it goes.
        gone.sort_by_key(|k| !matches!(k, Key::Call(_)));
        let mut out = Vec::new();
        for k in gone {
            let start = out.len();
            self.remove(&k, &mut out);
            for ev in out.get(start..).unwrap_or_default() {
                self.tables.apply(ev);
            }
        }
        out
    }

    /// The serving side's judgements (alert levels, trends, pause) taken in since the last
    /// call, in order.
    pub fn take_judged(&mut self) -> Vec<Judged> {
        std::mem::take(&mut self.judgements)
    }

    /// The events one entry makes. A value this version cannot read is an error (the entry
    /// is skipped; the caller logs it); a key ipo-top does not write is ignored.
    pub fn apply(
        &mut self,
        entry: Entry<'_>,
        clock: &WallClock,
    ) -> Result<Vec<ModelEvent>, ValueError> {
        let Some(key) = Key::parse(entry.key) else {
            return Ok(Vec::new());
        };
        if let Some(u) = self.unconfirmed.as_mut() {
            u.remove(&key);
        }
        let mut out = Vec::new();
        match entry.op {
            EntryOp::Removed => self.remove(&key, &mut out),
            EntryOp::Put(bytes) => self.put(&key, bytes, clock, &mut out)?,
        }
        for ev in &out {
            self.tables.apply(ev);
        }
        Ok(out)
    }

    fn put(
        &mut self,
        key: &Key,
        bytes: &[u8],
        clock: &WallClock,
        out: &mut Vec<ModelEvent>,
    ) -> Result<(), ValueError> {
        match key {
            Key::User(_) => {
                let user = Arc::new(value::user_from_json(bytes, clock)?);
                out.push(match self.tables.user(&user.guid) {
                    None => ModelEvent::UserAdded { user },
                    Some(old) => {
                        let from = old.agent.state;
                        ModelEvent::UserChanged {
                            agent_from: (from != user.agent.state).then_some(from),
                            user,
                        }
                    }
                });
            }
            Key::Queue(_) => {
                let queue = Arc::new(value::queue_from_json(bytes, clock)?);
                out.push(match self.tables.queue(&queue.guid) {
                    None => ModelEvent::QueueAdded { queue },
                    Some(_) => ModelEvent::QueueChanged { queue },
                });
            }
            Key::Call(_) => {
                let (call, ended) = value::call_from_json(bytes, clock)?;
                let call = Arc::new(call);
                let old = self.tables.appearance(call.id).cloned();
                match (old, ended) {
                    (_, Some(reason)) => out.push(ModelEvent::CallEnded { call, reason }),
                    (None, None) => out.push(ModelEvent::CallNew { call }),
                    (Some(old), None) if old.key.line != call.key.line => {
                        // An appearance keeps its line for life (readers rely on it): an id
                        // now on another line (a new serving process numbering afresh) is
                        // another call.
                        out.push(ModelEvent::CallEnded {
                            call: old,
                            reason: EndReason::NotReported,
                        });
                        out.push(ModelEvent::CallNew { call });
                    }
                    (Some(old), None) => {
                        let changes = CallChanges::between(&old.call, &call.call);
                        let from = (old.call.state != call.call.state).then_some(old.call.state);
                        if !changes.is_empty() || old.key != call.key || *old != *call {
                            out.push(ModelEvent::CallChanged {
                                call,
                                from,
                                changes,
                            });
                        }
                    }
                }
            }
            Key::Link => out.push(ModelEvent::Connection {
                state: value::link_from_json(bytes, clock)?,
            }),
            Key::Version => out.push(ModelEvent::Version {
                text: value::version_from_json(bytes)?,
            }),
            Key::System => out.push(ModelEvent::System {
                system: value::system_from_json(bytes)?,
            }),
            Key::Park => out.push(ModelEvent::ParkServer {
                available: value::park_from_json(bytes)?,
            }),
            Key::AccountCodes => out.push(ModelEvent::AccountCodes {
                codes: value::codes_from_json(bytes)?,
            }),
            Key::Period => out.push(ModelEvent::StatsPeriod {
                period: value::period_from_json(bytes, clock)?,
            }),
            Key::Sync => self.sync = Some(SyncValue::from_json(bytes)?),
            Key::Alerts(g) => {
                let judged = super::judged::judged_from_json(bytes, clock)?;
                // The key names the queue: a value naming another is not this key's.
                if judged.queue == *g {
                    self.judged.insert(g.clone());
                    self.judgements.push(Judged::Queue(judged));
                }
            }
            Key::AlertsPaused => self
                .judgements
                .push(Judged::Paused(super::judged::paused_from_json(bytes)?)),
        }
        Ok(())
    }

    fn remove(&mut self, key: &Key, out: &mut Vec<ModelEvent>) {
        match key {
            Key::User(g) => {
                if let Some(u) = self.tables.user(g) {
                    let line = crate::model::LineId::User(g.clone());
                    for call in self.tables.appearances_on(&line) {
                        out.push(ModelEvent::CallEnded {
                            call: call.clone(),
                            reason: EndReason::LineRemoved,
                        });
                    }
                    out.push(ModelEvent::UserRemoved {
                        guid: g.clone(),
                        extn: u.extn.clone(),
                        name: u.name.clone(),
                        reason: RemoveReason::Deleted,
                    });
                }
            }
            Key::Queue(g) => {
                if let Some(q) = self.tables.queue(g) {
                    let line = crate::model::LineId::Queue(g.clone());
                    for call in self.tables.appearances_on(&line) {
                        out.push(ModelEvent::CallEnded {
                            call: call.clone(),
                            reason: EndReason::LineRemoved,
                        });
                    }
                    out.push(ModelEvent::QueueRemoved {
                        guid: g.clone(),
                        extn: q.extn.clone(),
                        name: q.name.clone(),
                        reason: RemoveReason::Deleted,
                    });
                }
            }
            Key::Call(id) => {
                if let Some(call) = self.tables.appearance(*id) {
                    out.push(ModelEvent::CallEnded {
                        call: call.clone(),
                        reason: EndReason::NotReported,
                    });
                }
            }
            Key::Alerts(g) if self.judged.remove(g) => {
                self.judgements.push(Judged::Gone(g.clone()));
            }
            // The link, version, system, park, codes and period are never removed while a
            // serving process runs; a removal leaves what was last shown.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
