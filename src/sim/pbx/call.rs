//! A call as the PBX model keeps it: its kind, its far party, its hunt-group routing and
//! report, and its legs at users and the park server.

use crate::protocol::pb;

use super::types::{Caller, QueueId, UserId};
use crate::sim::site::TrunkKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallKind {
    Queue,
    DirectIn,
    DirectOut,
    Internal,
    Parked,
}

#[derive(Debug, Clone)]
pub(super) struct FarParty {
    pub(super) caller: Caller,
    pub(super) trunk: TrunkKind,
    pub(super) did: String,
}

/// A call's place in a hunt group's routing: the group whose members it is offered to now.
#[derive(Debug, Clone)]
pub(super) struct QueueLeg {
    pub(super) queue: QueueId,
    pub(super) priority: u8,
    pub(super) arrived: u64,
    pub(super) overflow: bool,
    pub(super) tried: Vec<UserId>,
    pub(super) answered: bool,
    /// Bumped whenever the call enters a group, so that a previous group's overflow and
    /// voicemail timers do nothing.
    pub(super) seq: u32,
}

/// The hunt group that reports a call (its appearance on that group's line). By default a
/// queued call is reported on the group it first arrived at for its whole life, even after a
/// BlindTransfer to another group, until a client sends Finish.
#[derive(Debug, Clone)]
pub(super) struct Report {
    pub(super) queue: QueueId,
    pub(super) callid: i32,
    /// The priority last set on the call (shown in `queueinfo` once routing is over).
    pub(super) priority: u8,
    pub(super) reference: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegState {
    Ringing,
    Ringback,
    Connected,
    Held,
    /// A call the user made that failed; `UserLeg::cause` says why.
    Failed,
    /// The user went off hook (MakeCall with no target) and has dialled nothing yet.
    Dialtone,
}

#[derive(Debug, Clone)]
pub(super) struct UserLeg {
    pub(super) user: UserId,
    pub(super) callid: i32,
    pub(super) state: LegState,
    pub(super) outbound: bool,
    /// Picked up from a park slot or from another ringing phone.
    pub(super) pickup: bool,
    pub(super) peer: Option<UserId>,
    /// The application's referencecallid for this appearance (0: none).
    pub(super) reference: i32,
    /// The user made the call private (PrivacyOn).
    pub(super) private: bool,
    /// The user records the call (CallRecordingOn).
    pub(super) recording: bool,
    /// What this user dialled, when it differs from the call's dialled number.
    pub(super) called: Option<String>,
    /// Why a failed call failed (`CallInfo.failedcause`).
    pub(super) cause: pb::call_info::FailedCause,
}

impl UserLeg {
    /// Whether the user handled the call as an agent (talked or held it, and did not call in
    /// or intrude): after-call work follows.
    pub(super) fn handled(&self) -> bool {
        !self.outbound && matches!(self.state, LegState::Connected | LegState::Held)
    }

    pub(super) fn new(user: UserId, callid: i32, state: LegState) -> Self {
        UserLeg {
            user,
            callid,
            state,
            outbound: state == LegState::Ringback,
            pickup: false,
            peer: None,
            reference: 0,
            private: false,
            recording: false,
            called: None,
            cause: pb::call_info::FailedCause::Unset,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct ParkLeg {
    pub(super) slot: String,
    pub(super) callid: i32,
}

#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) gcid: [u8; 9],
    pub(super) kind: CallKind,
    pub(super) far: Option<FarParty>,
    /// Hunt-group routing, while the call is offered to a group's members (kept, marked
    /// answered, once an agent answers).
    pub(super) queue: Option<QueueLeg>,
    /// The group line that reports the call.
    pub(super) report: Option<Report>,
    pub(super) legs: Vec<UserLeg>,
    pub(super) park: Option<ParkLeg>,
    pub(super) epoch: u32,
    pub(super) dialled: String,
    /// Answered by voicemail: the party shown as connected ("VoiceMail", or a call flow).
    pub(super) voicemail: Option<String>,
    /// Connected to a MeetMe conference (its number).
    pub(super) meetme: Option<String>,
    pub(super) tag: String,
    pub(super) account: String,
    pub(super) auth: String,
    /// When the user's mobile twin answers a PushToEC500, the far end talks to this number.
    pub(super) mobile: Option<String>,
}

impl Call {
    /// The users at whose phones the call rings now.
    pub(super) fn ringing_users(&self) -> Vec<UserId> {
        self.legs
            .iter()
            .filter(|l| l.state == LegState::Ringing)
            .map(|l| l.user)
            .collect()
    }

    pub(super) fn new(kind: CallKind, far: Option<FarParty>, dialled: String) -> Self {
        Call {
            gcid: [0; 9],
            kind,
            far,
            queue: None,
            report: None,
            legs: Vec::new(),
            park: None,
            epoch: 0,
            dialled,
            voicemail: None,
            meetme: None,
            tag: String::new(),
            account: String::new(),
            auth: String::new(),
            mobile: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum DirectKind {
    In,
    Out,
    Internal,
}
