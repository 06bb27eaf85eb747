//! Shared mode: one serving process holds the MTCTI3 session and publishes the model into a
//! NATS JetStream key-value bucket per site; any number of viewers build the same model from a
//! watch of that bucket ("everything now, then every change", MTCTI3's own shape).
//!
//! Everything here is sans-IO and reads no clock: the key names ([`Key`]), the versioned JSON
//! values ([`value`]), the serving side's diff of the model into bucket operations
//! ([`Publisher`]), the viewer's replica turning bucket entries back into the model events the
//! screen already consumes ([`Replica`]), and the election of the one serving process per site
//! ([`Holder`]), and who may send functions from a viewer and in what words
//! ([`functions`]). The binary's edge (`app/serve.rs`, `app/shared.rs`) carries these out with
//! `async-nats` and wires them to the session.
//!
//! Uses `model` only.

pub mod functions;
mod judged;
mod key;
mod lock;
mod publish;
mod replica;
pub mod value;

pub use judged::{judged_from_json, judged_to_json, paused_from_json, paused_to_json};
pub use key::{Key, LOCK_KEY, is_valid_key, lock_bucket, model_bucket};
pub use lock::{HOLDER_GIVES_UP, Holder, LOCK_MAX_AGE, LockAction, RENEW_EVERY};
pub use publish::{KvOp, PURGE_MARKER_TTL, Publisher, coalesce};
pub use replica::{Entry, EntryOp, Replica};
pub use value::{HolderValue, SCHEMA, SyncValue, ValueError};
