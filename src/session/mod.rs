//! The MTCTI3 client: a sans-IO engine ([`Session`]) that owns the live [`crate::model`], and a
//! thin tokio task ([`spawn`]) that drives it over a secure websocket.
//!
//! Uses `model` and `protocol` only.
//!
//! ```no_run
//! # async fn demo(endpoint: ipo_top::session::Endpoint) -> Result<(), Box<dyn std::error::Error>> {
//! use ipo_top::session::{spawn, SessionConfig, Update};
//! let (handle, updates) = spawn(endpoint, SessionConfig::default())?;
//! while let Some(batch) = updates.next().await {
//!     for update in batch {
//!         if let Update::Synced(report) = update {
//!             println!("{} users", report.users);
//!             handle.shutdown();
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod backoff;
mod client;
mod connect;
mod convert;
pub mod engine;
mod timers;
pub mod tls;

pub use backoff::BackoffConfig;
pub use client::{SessionHandle, Update, Updates, spawn};
pub use connect::{
    ConnectError, Endpoint, FailureKind, SUBPROTOCOL, Secret, WsStream, fetch_certificate, open,
};
pub use engine::{
    Counters, Disconnect, Entity, LINES_FLAGS, PARK_CCFLAGS, QUEUE_CCFLAGS, QUEUE_FLAGS, Session,
    SessionConfig, SessionEvent, SubscribeFailure, Subscriptions, SyncReport, USER_CCFLAGS,
    USER_FLAGS,
};
pub use tls::{Fingerprint, FingerprintError, TlsSetupError, Trust};
