//! Queue updates (`UpdateQueue`): service mode, voicemail and members.

use crate::protocol::limits::BuildError;
use crate::protocol::pb;

/// A queue's service mode, as it can be set (`SetServiceMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceMode {
    /// In service (`Active`).
    Active,
    /// Night service (`NS`).
    NightService,
    /// Out of service (`OOS`).
    OutOfService,
}

impl ServiceMode {
    fn to_pb(self) -> pb::set_service_mode::ServiceMode {
        match self {
            ServiceMode::Active => pb::set_service_mode::ServiceMode::Active,
            ServiceMode::NightService => pb::set_service_mode::ServiceMode::Ns,
            ServiceMode::OutOfService => pb::set_service_mode::ServiceMode::Oos,
        }
    }
}

/// One agent of a queue (`QueueMember`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// The agent's extension.
    pub extn: String,
    /// Whether the agent is disabled (not accepting calls) in this queue.
    pub disabled: bool,
}

impl Member {
    /// An enabled member.
    pub fn enabled(extn: impl Into<String>) -> Self {
        Member {
            extn: extn.into(),
            disabled: false,
        }
    }

    fn to_pb(&self) -> Result<pb::QueueMember, BuildError> {
        if self.extn.is_empty() {
            return Err(BuildError::Empty {
                what: "queue member extension",
            });
        }
        Ok(pb::QueueMember {
            extn: self.extn.clone(),
            disabled: self.disabled,
        })
    }
}

/// One change to a queue's configuration (`UpdateQueue`), sent on the queue's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueUpdate {
    /// Set the service mode.
    ServiceMode(ServiceMode),
    /// Voicemail on or off.
    Voicemail(bool),
    /// Replace the whole members list (may be empty: no members).
    Members(Vec<Member>),
    /// Add members, or change an existing member's disabled state (at least one).
    AddMember(Vec<Member>),
    /// Remove members by extension (at least one).
    DeleteMember(Vec<String>),
}

impl QueueUpdate {
    /// The `UpdateQueue` payload, with the limits checked.
    pub fn to_pb(&self) -> Result<pb::UpdateQueue, BuildError> {
        let mut q = pb::UpdateQueue::default();
        match self {
            QueueUpdate::ServiceMode(mode) => {
                q.setservicemode = Some(pb::SetServiceMode {
                    servicemode: mode.to_pb() as i32,
                })
            }
            QueueUpdate::Voicemail(on) => q.setvoicemail = Some(pb::SetVoicemail { enabled: *on }),
            QueueUpdate::Members(members) => {
                q.members = Some(pb::QueueMembers {
                    member: members
                        .iter()
                        .map(Member::to_pb)
                        .collect::<Result<_, _>>()?,
                })
            }
            QueueUpdate::AddMember(members) => {
                if members.is_empty() {
                    return Err(BuildError::Empty {
                        what: "members to add",
                    });
                }
                q.addmember = members
                    .iter()
                    .map(Member::to_pb)
                    .collect::<Result<_, _>>()?;
            }
            QueueUpdate::DeleteMember(extns) => {
                if extns.is_empty() {
                    return Err(BuildError::Empty {
                        what: "members to delete",
                    });
                }
                q.deletemember = extns
                    .iter()
                    .map(|e| Member::enabled(e.clone()).to_pb())
                    .collect::<Result<_, _>>()?;
            }
        }
        Ok(q)
    }
}
