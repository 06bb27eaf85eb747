//! The MTCTI3 client: a sans-IO engine ([`Session`]) that owns the live [`crate::model`], and a
//! thin tokio task ([`spawn`]) that drives it over a secure websocket.
//!
//! The engine ([`engine`]) says what to do with the socket ([`Io`]) and what happened
//! ([`SessionEvent`], the one event type readers get); the task (`client`) carries out the
//! instructions, opening connections (`connect`) to an [`Endpoint`] with the TLS trust of
//! [`tls`], and hands the events to the reader ([`Updates`]). [`SessionConfig`] is decided once
//! at the edge; [`ConnectError`] says why a connection could not be opened.
//!
//! Uses `model` and `protocol` only.
//!
//! ```no_run
//! # async fn demo(endpoint: ipo_top::session::Endpoint) -> Result<(), Box<dyn std::error::Error>> {
//! use ipo_top::session::{spawn, SessionConfig, SessionEvent};
//! let (handle, updates) = spawn(endpoint, SessionConfig::default())?;
//! while let Some(batch) = updates.next().await {
//!     for event in batch {
//!         if let SessionEvent::Synced(report) = event {
//!             println!("{} users", report.users);
//!             handle.shutdown();
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod backoff;
mod client;
mod config;
mod connect;
mod convert;
mod endpoint;
pub mod engine;
mod error;
mod timers;
pub mod tls;

pub use backoff::BackoffConfig;
pub use client::{SessionHandle, Updates, spawn};
pub use config::SessionConfig;
pub use connect::{SUBPROTOCOL, WsStream, fetch_certificate, open};
pub use endpoint::{Endpoint, LoginIdentity, Secret};
pub use engine::{
    Counters, Disconnect, Entity, Io, LINES_FLAGS, PARK_CCFLAGS, QUEUE_CCFLAGS, QUEUE_FLAGS,
    Session, SessionEvent, SubscribeFailure, SubscriptionSummary, SyncReport, USER_CCFLAGS,
    USER_FLAGS,
};
pub use error::{ConnectError, FailureKind, MAX_RETRY_AFTER};
pub use tls::{Fingerprint, FingerprintError, TlsSetupError, Trust};
