//! A connection's options and the faults it can show.

use std::time::Duration;

use crate::sim::pbx::FunctionPolicy;

/// Faults a connection shows, switchable while it runs ([`super::Connection::set_faults`]):
/// they make the simulator behave like an IP Office under load or in trouble, so clients can be
/// tested against it. Faults that concern the socket itself (closing, aborting, bad frames,
/// latency) and restarts are the server's ([`crate::sim::server`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FaultSettings {
    /// Every N-th request (counted per connection) gets no answer at all, though it is carried
    /// out: 0 is off, 1 answers none.
    pub unanswered_every: u32,
    /// RequestResponses and GeneralData are sent this long after the request (the request's
    /// effect, and its Notifies, are not delayed).
    pub response_delay: Duration,
    /// Everything the simulator sends on a connection is held this long, order kept (applied
    /// by the server).
    pub latency: Duration,
    /// With this many requests awaiting their (delayed) RequestResponse, a further request is
    /// refused at once with 5 TOOMANY and not carried out.
    pub max_outstanding: Option<usize>,
}

/// The longest a fault may hold a message (longer settings are cut to this).
pub const MAX_FAULT_DELAY: Duration = Duration::from_secs(24 * 3600);

impl FaultSettings {
    /// The response delay, at most [`MAX_FAULT_DELAY`].
    pub fn response_delay(&self) -> Duration {
        self.response_delay.min(MAX_FAULT_DELAY)
    }

    /// The latency, at most [`MAX_FAULT_DELAY`].
    pub fn latency(&self) -> Duration {
        self.latency.min(MAX_FAULT_DELAY)
    }
}

/// Where a connection holds Notifies until they are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FlowControl {
    /// One unacknowledged Notify per connection (the stricter reading; the default).
    #[default]
    PerConnection,
    /// One unacknowledged Notify per subscription.
    PerSubscription,
}

/// A connection's limits and options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnConfig {
    /// Where Notifies are held until acknowledged.
    pub flow: FlowControl,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// Calls one callcontrol Notify may carry.
    pub max_calls_per_notify: usize,
    /// How call functions answer when not offered, and what DropCall does.
    pub functions: FunctionPolicy,
    /// Keep a [`super::CommandRecord`] of every SubscribeCmd ([`super::Connection::poll_record`]).
    pub record_commands: bool,
    /// Faults the connection starts with.
    pub faults: FaultSettings,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            flow: FlowControl::PerConnection,
            max_subscriptions: 20_000,
            max_calls_per_notify: 64,
            functions: FunctionPolicy::default(),
            record_commands: false,
            faults: FaultSettings::default(),
        }
    }
}
