//! Queue updates (`UpdateQueue`): service mode, voicemail and members.

use crate::protocol::limits::BuildError;
use crate::protocol::pb;

/// A queue's service mode: as `SetServiceMode` sets it and `NotifyQueue` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServiceMode {
    /// In service (`Active`): calls are routed to the members.
    #[default]
    Active,
    /// Night service (`NS`): calls are not routed to the members.
    NightService,
    /// Out of service (`OOS`): calls are not routed to the members.
    OutOfService,
}

impl ServiceMode {
    /// `SetServiceMode.servicemode`.
    pub fn to_pb(self) -> pb::set_service_mode::ServiceMode {
        match self {
            ServiceMode::Active => pb::set_service_mode::ServiceMode::Active,
            ServiceMode::NightService => pb::set_service_mode::ServiceMode::Ns,
            ServiceMode::OutOfService => pb::set_service_mode::ServiceMode::Oos,
        }
    }

    /// From `SetServiceMode.servicemode`; `None` for Unset or an unknown value.
    pub fn from_pb(v: i32) -> Option<Self> {
        match pb::set_service_mode::ServiceMode::try_from(v).ok()? {
            pb::set_service_mode::ServiceMode::Unset => None,
            pb::set_service_mode::ServiceMode::Active => Some(ServiceMode::Active),
            pb::set_service_mode::ServiceMode::Ns => Some(ServiceMode::NightService),
            pb::set_service_mode::ServiceMode::Oos => Some(ServiceMode::OutOfService),
        }
    }

    /// `NotifyQueue.servicemode`.
    pub fn to_notify(self) -> pb::notify_queue::ServiceMode {
        match self {
            ServiceMode::Active => pb::notify_queue::ServiceMode::Active,
            ServiceMode::NightService => pb::notify_queue::ServiceMode::Ns,
            ServiceMode::OutOfService => pb::notify_queue::ServiceMode::Oos,
        }
    }

    /// The document's short name: `Active`, `NS` or `OOS`.
    pub fn name(self) -> &'static str {
        match self {
            ServiceMode::Active => "Active",
            ServiceMode::NightService => "NS",
            ServiceMode::OutOfService => "OOS",
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

    fn from_pb(m: &pb::QueueMember) -> Self {
        Member {
            extn: m.extn.clone(),
            disabled: m.disabled,
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

    /// Reads a received `UpdateQueue` (the server side): one update for each part it carries,
    /// in the schema's field order (an `UpdateQueue` may carry several).
    pub fn from_pb(q: &pb::UpdateQueue) -> Result<Vec<QueueUpdate>, BuildError> {
        let mut updates = Vec::new();
        if let Some(m) = &q.setservicemode {
            let mode = ServiceMode::from_pb(m.servicemode).ok_or(BuildError::Missing {
                action: "UpdateQueue setservicemode",
                what: "a service mode of Active, NS or OOS",
            })?;
            updates.push(QueueUpdate::ServiceMode(mode));
        }
        if let Some(vm) = &q.setvoicemail {
            updates.push(QueueUpdate::Voicemail(vm.enabled));
        }
        if let Some(m) = &q.members {
            updates.push(QueueUpdate::Members(
                m.member.iter().map(Member::from_pb).collect(),
            ));
        }
        if !q.addmember.is_empty() {
            updates.push(QueueUpdate::AddMember(
                q.addmember.iter().map(Member::from_pb).collect(),
            ));
        }
        if !q.deletemember.is_empty() {
            updates.push(QueueUpdate::DeleteMember(
                q.deletemember.iter().map(|m| m.extn.clone()).collect(),
            ));
        }
        Ok(updates)
    }
}
