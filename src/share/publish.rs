//! The serving side's half: what the model's events change in the bucket. The publisher keeps
//! the bytes it last wrote for every key, so an event that changed nothing a viewer sees writes
//! nothing, a full pass (at start, after a lagged batch) writes only the difference, and after
//! a NATS reconnect everything can be written again.

use std::collections::HashMap;
use std::time::Duration;

use super::key::Key;
use super::value;
use crate::model::{JudgedQueue, ModelEvent, Tables, WallClock};

/// How long the marker of a purged key stays in the bucket: long enough for a viewer's watch
/// to see the removal, short enough that the bucket holds the present, not history.
pub const PURGE_MARKER_TTL: Duration = Duration::from_secs(60);

/// One write to the model bucket.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum KvOp {
    /// Put this value under the key.
    Put {
        /// The key's name.
        key: String,
        /// The JSON value.
        value: Vec<u8>,
    },
    /// Purge the key, leaving a marker that expires after [`PURGE_MARKER_TTL`].
    Purge {
        /// The key's name.
        key: String,
    },
}

impl KvOp {
    /// The key written.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Put { key, .. } | KvOp::Purge { key } => key,
        }
    }
}

/// The writes in order, less each put that a later put of the same key overwrites before
/// anything else happens to that key (last wins: a viewer would see the older value only for
/// the moment between the two). A put followed by a purge stays: it is an ended call's last
/// value, which says why it ended.
pub fn coalesce(ops: Vec<KvOp>) -> Vec<KvOp> {
    // From the end: for each key, whether the next write to it (later in order) is a put.
    let mut next_is_put: HashMap<&str, bool> = HashMap::new();
    let mut keep = vec![true; ops.len()];
    for (i, op) in ops.iter().enumerate().rev() {
        let is_put = matches!(op, KvOp::Put { .. });
        if let Some(&true) = next_is_put.get(op.key())
            && is_put
        {
            keep[i] = false;
        }
        next_is_put.insert(op.key(), is_put);
    }
    ops.into_iter()
        .zip(keep)
        .filter_map(|(op, k)| k.then_some(op))
        .collect()
}

/// The bucket as the serving side last wrote it.
#[derive(Debug, Default)]
pub struct Publisher {
    written: HashMap<String, Vec<u8>>,
}

impl Publisher {
    /// Nothing written yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys found in the bucket at start (another serving process wrote them): the next
    /// [`Publisher::full`] purges those the model does not hold.
    pub fn adopt<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for n in names {
            self.written.entry(n.to_owned()).or_default();
        }
    }

    /// How many keys are written.
    pub fn len(&self) -> usize {
        self.written.len()
    }

    /// Whether no key is written.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// The writes for one event, after `tables` (the serving side's copy of the model) took it
    /// in.
    pub fn event(&mut self, ev: &ModelEvent, tables: &Tables, clock: &WallClock) -> Vec<KvOp> {
        let mut ops = Vec::new();
        let key = match ev {
            ModelEvent::CallsReset { .. } => return ops,
            ModelEvent::CallEnded { call, reason } => {
                // Its last value says why, then the key goes: viewers watching now say why it
                // ended; a fresh watch sees only the marker.
                let name = Key::Call(call.id).name();
                if self.written.contains_key(&name) {
                    ops.push(KvOp::Put {
                        key: name.clone(),
                        value: value::call_to_json(call, Some(reason), clock),
                    });
                }
                self.purge(name, &mut ops);
                return ops;
            }
            ModelEvent::Connection { .. } => Key::Link,
            ModelEvent::Version { .. } => Key::Version,
            ModelEvent::System { .. } => Key::System,
            ModelEvent::AccountCodes { .. } => Key::AccountCodes,
            ModelEvent::StatsPeriod { .. } => Key::Period,
            ModelEvent::ParkServer { .. } => Key::Park,
            ModelEvent::UserAdded { user } | ModelEvent::UserChanged { user, .. } => {
                Key::User(user.guid.clone())
            }
            ModelEvent::UserRemoved { guid, .. } => Key::User(guid.clone()),
            ModelEvent::QueueAdded { queue } | ModelEvent::QueueChanged { queue } => {
                Key::Queue(queue.guid.clone())
            }
            ModelEvent::QueueRemoved { guid, .. } => {
                // Its judgement goes with it.
                self.purge(Key::Alerts(guid.clone()).name(), &mut ops);
                Key::Queue(guid.clone())
            }
            ModelEvent::CallNew { call } | ModelEvent::CallChanged { call, .. } => {
                Key::Call(call.id)
            }
        };
        self.write(&key, tables, clock, &mut ops);
        ops
    }

    /// The serving side's sync report.
    pub fn sync(&mut self, report: &value::SyncValue) -> Vec<KvOp> {
        let mut ops = Vec::new();
        self.put(Key::Sync.name(), report.to_json(), &mut ops);
        ops
    }

    /// A queue's judgement (alert levels, trends, the 15-minute window) by the serving
    /// side's engines; written only when it changed.
    pub fn judged(&mut self, judged: &JudgedQueue, clock: &WallClock) -> Vec<KvOp> {
        let mut ops = Vec::new();
        self.put(
            Key::Alerts(judged.queue.clone()).name(),
            super::judged::judged_to_json(judged, clock),
            &mut ops,
        );
        ops
    }

    /// Whether the serving side's alerts are paused.
    pub fn paused(&mut self, paused: bool) -> Vec<KvOp> {
        let mut ops = Vec::new();
        self.put(
            Key::AlertsPaused.name(),
            super::judged::paused_to_json(paused),
            &mut ops,
        );
        ops
    }

    /// Every key the model holds, and a purge of every written key it no longer holds (the
    /// sync report is kept).
    pub fn full(&mut self, tables: &Tables, clock: &WallClock) -> Vec<KvOp> {
        let mut ops = Vec::new();
        let mut wanted: Vec<(String, Vec<u8>)> = Vec::new();
        for k in [
            Key::Link,
            Key::Version,
            Key::System,
            Key::Park,
            Key::AccountCodes,
            Key::Period,
        ] {
            if let Some(v) = encode(&k, tables, clock) {
                wanted.push((k.name(), v));
            }
        }
        for u in tables.users() {
            wanted.push((
                Key::User(u.guid.clone()).name(),
                value::user_to_json(u, clock),
            ));
        }
        for q in tables.queues() {
            wanted.push((
                Key::Queue(q.guid.clone()).name(),
                value::queue_to_json(q, clock),
            ));
        }
        for a in tables.appearances() {
            wanted.push((Key::Call(a.id).name(), value::call_to_json(a, None, clock)));
        }
        let keep: std::collections::HashSet<&str> =
            wanted.iter().map(|(k, _)| k.as_str()).collect();
        let sync = Key::Sync.name();
        let mut gone: Vec<String> = self
            .written
            .keys()
            .filter(|k| !keep.contains(k.as_str()) && **k != sync && !judges_held(k, tables))
            .cloned()
            .collect();
        gone.sort();
        for k in gone {
            self.purge(k, &mut ops);
        }
        for (k, v) in wanted {
            self.put(k, v, &mut ops);
        }
        ops
    }

    /// Every written key again, as it was written (after a NATS reconnect: the server may have
    /// lost its memory-stored bucket).
    pub fn again(&self) -> Vec<KvOp> {
        let mut ops: Vec<KvOp> = self
            .written
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| KvOp::Put {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        ops.sort_by(|a, b| a.key().cmp(b.key()));
        ops
    }

    fn write(&mut self, key: &Key, tables: &Tables, clock: &WallClock, ops: &mut Vec<KvOp>) {
        match encode(key, tables, clock) {
            Some(v) => self.put(key.name(), v, ops),
            None => self.purge(key.name(), ops),
        }
    }

    fn put(&mut self, key: String, v: Vec<u8>, ops: &mut Vec<KvOp>) {
        if self.written.get(&key) == Some(&v) {
            return;
        }
        self.written.insert(key.clone(), v.clone());
        ops.push(KvOp::Put { key, value: v });
    }

    fn purge(&mut self, key: String, ops: &mut Vec<KvOp>) {
        if self.written.remove(&key).is_some() {
            ops.push(KvOp::Purge { key });
        }
    }
}

/// Whether `name` is the serving side's judgement of a queue the model holds, or its pause
/// (written by [`Publisher::judged`] and [`Publisher::paused`], not by a full pass).
fn judges_held(name: &str, tables: &Tables) -> bool {
    match Key::parse(name) {
        Some(Key::Alerts(g)) => tables.queue(&g).is_some(),
        Some(Key::AlertsPaused) => true,
        _ => false,
    }
}

/// The value of `key` in `tables`; `None` when the model does not hold it.
fn encode(key: &Key, tables: &Tables, clock: &WallClock) -> Option<Vec<u8>> {
    Some(match key {
        Key::User(g) => value::user_to_json(tables.user(g)?, clock),
        Key::Queue(g) => value::queue_to_json(tables.queue(g)?, clock),
        Key::Call(id) => value::call_to_json(tables.appearance(*id)?, None, clock),
        Key::Link => value::link_to_json(tables.connection(), clock),
        Key::Version => value::version_to_json(tables.version()?),
        Key::System => value::system_to_json(tables.system()?),
        Key::Park => value::park_to_json(tables.park_available()),
        Key::AccountCodes => value::codes_to_json(tables.account_codes()),
        Key::Period => value::period_to_json(tables.stats_period()?, clock),
        // Written from the engines' state, not the model's.
        Key::Sync | Key::Alerts(_) | Key::AlertsPaused => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, v: &str) -> KvOp {
        KvOp::Put {
            key: key.to_owned(),
            value: v.as_bytes().to_vec(),
        }
    }

    fn purge(key: &str) -> KvOp {
        KvOp::Purge {
            key: key.to_owned(),
        }
    }

    #[test]
    fn a_busy_key_is_written_once_a_batch_and_an_ended_call_keeps_its_reason() {
        let ops = vec![
            put("call.1", "ringing"),
            put("user.A", "idle"),
            put("call.1", "connected"),
            put("call.2", "ringing"),
            put("call.2", "ended: cleared"),
            purge("call.2"),
            put("call.2", "ringing again"),
            put("user.A", "busy"),
        ];
        assert_eq!(
            coalesce(ops),
            vec![
                put("call.1", "connected"),
                // The last value before the purge says why the call ended: kept.
                put("call.2", "ended: cleared"),
                purge("call.2"),
                put("call.2", "ringing again"),
                put("user.A", "busy"),
            ]
        );
    }

    #[test]
    fn writes_to_distinct_keys_are_left_alone() {
        let ops = vec![put("a", "1"), purge("b"), put("c", "2")];
        assert_eq!(coalesce(ops.clone()), ops);
    }
}
