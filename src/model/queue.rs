//! Queues (hunt groups).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::{Guid, Text};
use super::stats::QueueStats;
use super::user::Mailbox;

/// A queue's service mode.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum ServiceMode {
    /// Not reported.
    #[default]
    Unset,
    /// In service: calls are routed to members.
    Active,
    /// Night service.
    NightService,
    /// Out of service.
    OutOfService,
    /// A value the document does not list.
    Other(i32),
}

impl ServiceMode {
    /// From the number on the wire.
    pub const fn from_code(code: i32) -> Self {
        match code {
            0 => ServiceMode::Unset,
            1 => ServiceMode::Active,
            2 => ServiceMode::NightService,
            3 => ServiceMode::OutOfService,
            other => ServiceMode::Other(other),
        }
    }

    /// The number on the wire.
    pub const fn code(self) -> i32 {
        match self {
            ServiceMode::Unset => 0,
            ServiceMode::Active => 1,
            ServiceMode::NightService => 2,
            ServiceMode::OutOfService => 3,
            ServiceMode::Other(c) => c,
        }
    }

    /// The word a supervisor reads.
    pub fn word(self) -> &'static str {
        match self {
            ServiceMode::Unset => "-",
            ServiceMode::Active => "Active",
            ServiceMode::NightService => "Night",
            ServiceMode::OutOfService => "OOS",
            ServiceMode::Other(_) => "?",
        }
    }
}

impl fmt::Display for ServiceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceMode::Other(c) => write!(f, "mode {c}"),
            m => f.write_str(m.word()),
        }
    }
}

impl Serialize for ServiceMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ServiceMode::Other(c) => s.serialize_i32(*c),
            m => s.serialize_str(m.word()),
        }
    }
}

impl<'de> Deserialize<'de> for ServiceMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::words::word_or_code(d, ServiceMode::from_code, |m| {
            (!matches!(m, ServiceMode::Other(_))).then(|| m.word())
        })
    }
}

/// How a queue rings its members.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum RingMode {
    /// The idlest member first.
    #[default]
    RingIdle,
    /// In order.
    Sequential,
    /// All at once.
    Group,
    /// A value the document does not list.
    Other(i32),
}

impl RingMode {
    /// From the number on the wire.
    pub const fn from_code(code: i32) -> Self {
        match code {
            0 => RingMode::RingIdle,
            1 => RingMode::Sequential,
            2 => RingMode::Group,
            other => RingMode::Other(other),
        }
    }

    /// The word a supervisor reads.
    pub fn word(self) -> &'static str {
        match self {
            RingMode::RingIdle => "ring idle",
            RingMode::Sequential => "sequential",
            RingMode::Group => "group",
            RingMode::Other(_) => "?",
        }
    }
}

impl Serialize for RingMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RingMode::Other(c) => s.serialize_i32(*c),
            m => s.serialize_str(m.word()),
        }
    }
}

impl<'de> Deserialize<'de> for RingMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::words::word_or_code(d, RingMode::from_code, |m| {
            (!matches!(m, RingMode::Other(_))).then(|| m.word())
        })
    }
}

/// A member of a queue.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct QueueMember {
    /// The member's extension.
    pub extn: Text,
    /// Whether the member takes calls from this queue (not disabled).
    pub enabled: bool,
}

/// A queue's status from its queue Notify.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct QueueStatus {
    /// Email address.
    pub email: Text,
    /// Ring mode.
    pub ring_mode: RingMode,
    /// Seconds to ring around agents.
    pub no_answer_secs: i32,
    /// Voicemail enabled.
    pub voicemail: bool,
    /// Seconds before a call goes to voicemail.
    pub voicemail_secs: i32,
    /// Service mode.
    pub service_mode: ServiceMode,
    /// Members, when the PBX listed them.
    pub members: Option<Vec<QueueMember>>,
    /// Voicemail counters, when reported.
    pub mailbox: Option<Mailbox>,
}

/// A queue as the model keeps it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Queue {
    /// Identity from the lines list.
    pub guid: Guid,
    /// Queue number.
    pub extn: Text,
    /// Queue name.
    pub name: Text,
    /// Status from the queue's Notify; `None` until the first one arrives.
    pub status: Option<QueueStatus>,
    /// Its statistics over the counting period (see [`super::StatsPeriod`]).
    pub stats: QueueStats,
}

impl Queue {
    /// The service mode (Unset until reported).
    pub fn service_mode(&self) -> ServiceMode {
        self.status
            .as_ref()
            .map_or(ServiceMode::Unset, |s| s.service_mode)
    }

    /// The members, enabled or not (empty until reported).
    pub fn members(&self) -> &[QueueMember] {
        self.status
            .as_ref()
            .and_then(|s| s.members.as_deref())
            .unwrap_or(&[])
    }
}
