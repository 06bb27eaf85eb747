//! The MTCTI3 client as a sans-IO state machine: it owns the live [`crate::model::Model`],
//! and nothing here reads a clock, touches a socket or sleeps. Time is always passed in.
//!
//! Inputs (from the I/O task, the user and the clock):
//! - [`Session::handle_connected`]: the websocket is open (after [`Io::Connect`]).
//! - [`Session::handle_connect_failed`]: the attempt failed, with the typed reason.
//! - [`Session::handle_closed`]: the link closed (or could not be opened), with a
//!   [`Disconnect`] reason.
//! - [`Session::handle_frame`]: a websocket frame arrived.
//! - [`Session::handle_pong`]: any other sign of life from the PBX.
//! - [`Session::handle_probe`]: the answer to [`Io::Probe`].
//! - [`Session::handle_timeout`]: the deadline from [`Session::poll_timeout`] has passed.
//! - [`Session::handle_command`], [`Session::retry`], [`Session::shutdown`]: from the user.
//!
//! Outputs, in two kinds kept apart:
//! - [`Session::poll_io`]: instructions for the I/O task ([`Io`]: connect to a system, close,
//!   ping, probe a system, shut down), and [`Session::poll_transmit`]: frames to send, in the
//!   configured framing.
//! - [`Session::poll_event`]: [`SessionEvent`]s for the session's readers (model changes,
//!   the sync, refused subscriptions, failed connection attempts, command reports).
//! - [`Session::poll_timeout`]: when to call [`Session::handle_timeout`] next.
//!
//! What it does, as the document asks: subscribe to the lines list, then to every user and
//! queue in scope (every one by default), the supervisor's own line and the park server through a bounded window of outstanding requests; acknowledge
//! every Notify that carries a notify_id before doing anything else with it; keep every
//! subscription refreshed; subscribe again (with backoff) when the PBX ends one; reconnect
//! (with backoff and seeded jitter) when the link drops and subscribe everything again; fail
//! over to the secondary system while the primary cannot be reached; and stop, without
//! retrying, when the PBX refuses the login.
//!
//! One job per file: `types` (the public vocabulary), `core` (the state, outputs and
//! dispatch), `link` (connecting, failover, keepalive), `subscriptions` (where each
//! subscription stands), `subscribing` (what is sent and what the answers do), `scope` (which
//! users and queues are wanted), `presence` (the presentity book), `notify` (Notifies to the
//! model), `general` (version and account codes) and `commands` (the supervisor's commands).

mod commands;
mod core;
mod general;
mod link;
mod notify;
mod presence;
mod scope;
mod subscribing;
mod subscriptions;
mod types;

pub use core::{EngineSizes, Session};
pub use subscriptions::{
    LINES_FLAGS, PARK_CCFLAGS, QUEUE_CCFLAGS, QUEUE_FLAGS, USER_CCFLAGS, USER_FLAGS,
};
pub use types::{
    Counters, Disconnect, Entity, Io, SessionEvent, SubscribeFailure, SubscriptionSummary,
    SyncReport,
};
