//! The MTCTI3 client: a sans-IO engine ([`Session`]) that owns the live [`crate::model`], and a
//! thin tokio task that drives it over a secure websocket.
//!
//! Uses `model` and `protocol` only.

pub mod backoff;
mod convert;
pub mod engine;
mod timers;

pub use backoff::BackoffConfig;
pub use engine::{
    Counters, Disconnect, Entity, LINES_FLAGS, PARK_CCFLAGS, QUEUE_CCFLAGS, QUEUE_FLAGS, Session,
    SessionConfig, SessionEvent, SubscribeFailure, SyncReport, USER_CCFLAGS, USER_FLAGS,
};
