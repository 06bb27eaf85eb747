//! Carrying out user and queue updates (`UpdateUser`, `UpdateQueue`) on the PBX, read through
//! the typed vocabulary of [`crate::protocol::cmd`]; the answers are in the code table of
//! [`crate::sim::conn`].

use crate::protocol::cmd::{QueueUpdate, UserUpdate};
use crate::protocol::codes::ResultCode;
use crate::protocol::pb;
use crate::sim::pbx::{Member, Pbx, QueueId, UserId};
use crate::sim::site::AbsenceText;

/// Applies an UpdateUser; see the code table of [`crate::sim::conn`].
pub(super) fn update_user(pbx: &mut Pbx, user: UserId, uu: &pb::UpdateUser) -> ResultCode {
    let updates = match UserUpdate::from_pb(uu) {
        Ok(updates) => updates,
        // Nothing is applied either way; a part that is not simulated is what the answer names.
        Err(_) if uu.loginextn.is_some() || !uu.shortcodedata.is_empty() => {
            return ResultCode::NotInstrumented;
        }
        Err(_) => return ResultCode::RequestInvalidPayload,
    };
    let simulated =
        |u: &UserUpdate| !matches!(u, UserUpdate::LoginExtn(_) | UserUpdate::ShortCodes(_));
    if !updates.iter().all(simulated) {
        return ResultCode::NotInstrumented;
    }
    if updates.is_empty() {
        return ResultCode::RequestInvalidPayload;
    }
    for update in updates {
        match update {
            UserUpdate::Sac(on) => {
                pbx.set_dnd(user, on);
            }
            UserUpdate::Absence(note) => {
                pbx.set_absence(
                    user,
                    note.map(|n| AbsenceText {
                        msg: n.kind.to_wire(),
                        text: n.text,
                    }),
                );
            }
            UserUpdate::Ec500(on) => {
                pbx.set_ec500(user, on);
            }
            UserUpdate::App { value, .. } => {
                pbx.set_app(user, &value);
            }
            UserUpdate::FwdU {
                enabled,
                number,
                to_voicemail,
            } => {
                pbx.set_fwdu(user, enabled, &number, to_voicemail);
            }
            UserUpdate::LoginExtn(_) | UserUpdate::ShortCodes(_) => {}
        }
    }
    ResultCode::Success
}

/// Applies an UpdateQueue; see the code table of [`crate::sim::conn`].
pub(super) fn update_queue(pbx: &mut Pbx, queue: QueueId, uq: &pb::UpdateQueue) -> ResultCode {
    let Ok(updates) = QueueUpdate::from_pb(uq) else {
        return ResultCode::RequestInvalidPayload;
    };
    if updates.is_empty() {
        return ResultCode::RequestInvalidPayload;
    }
    let resolve = |extn: &str, disabled: bool| {
        pbx.user_by_extn(extn).map(|user| Member {
            user,
            enabled: !disabled,
        })
    };
    // Every member must be a user before anything is applied.
    let mut resolved = Vec::with_capacity(updates.len());
    for update in updates {
        let members: Option<Vec<Member>> = match &update {
            QueueUpdate::Members(list) | QueueUpdate::AddMember(list) => {
                list.iter().map(|m| resolve(&m.extn, m.disabled)).collect()
            }
            QueueUpdate::DeleteMember(extns) => extns.iter().map(|e| resolve(e, false)).collect(),
            QueueUpdate::ServiceMode(_) | QueueUpdate::Voicemail(_) => Some(Vec::new()),
        };
        let Some(members) = members else {
            return ResultCode::UserNotFound;
        };
        resolved.push((update, members));
    }
    for (update, members) in resolved {
        match update {
            QueueUpdate::ServiceMode(mode) => {
                pbx.set_service_mode(queue, mode);
            }
            QueueUpdate::Voicemail(on) => {
                pbx.set_queue_voicemail(queue, on);
            }
            QueueUpdate::Members(_) => {
                pbx.set_members(queue, &members);
            }
            QueueUpdate::AddMember(_) => {
                for m in members {
                    pbx.set_member(queue, m.user, m.enabled);
                }
            }
            QueueUpdate::DeleteMember(_) => {
                for m in members {
                    pbx.remove_member(queue, m.user);
                }
            }
        }
    }
    ResultCode::Success
}
