//! `featuresavailable` for each kind of line and call state.
//!
//! The document shows real values for queue calls (QUEUEING `0x6060E091`, RINGING `0x6060E0B1`,
//! ANSWEREDBYVOICEMAIL `0xE0E0E091`) and for a ringing user call (`0x23` DROP ANSWER REDIRECT);
//! those are used verbatim, reserved bits included, since a client meets them on a real system.
//! The other values follow the function list's "Line types":
//! - user lines only: Answer, Hold, UnHold, Dial, SetupTransfer/Conf, CompleteTransfer/Conf,
//!   PushToEC500, GenerateDigits, Privacy, Mute;
//! - queue lines only: SetPriority and Finish;
//! - park server: Drop, BlindTransfer, SetTag and ForceClear (not Park or Redirect, which are
//!   "User or Queue").

use crate::protocol::bits::CallFeatures as F;

/// A queue call waiting with no agent ringing: the document's example value.
pub const QUEUE_QUEUEING: F = F(0x6060_E091);

/// A queue call ringing an agent: the document's example value (QUEUEING plus Redirect).
pub const QUEUE_RINGING: F = F(0x6060_E0B1);

/// A queue call answered by an agent: QUEUEING's functions plus CallRecordingOn, as the
/// document's connected queue examples carry REC+.
pub const QUEUE_CONNECTED: F = F(0x60E0_E091);

/// A queue call answered by voicemail: the document's example value.
pub const QUEUE_VOICEMAIL: F = F(0xE0E0_E091);

/// A call ringing at a user: the document's example `0x23 DROP ANSWER REDIRECT`.
pub const USER_RINGING: F = F(F::DROP.0 | F::ANSWER.0 | F::REDIRECT.0);

/// An outbound call ringing the far end (RINGBACK) at a user.
pub const USER_RINGBACK: F = F(F::DROP.0 | F::TAG.0 | F::ACCT.0 | F::FORCECLEAR.0 | F::AUTH.0);

/// What a connected call at a user always offers. SetupTransfer is not offered: the
/// simulator does not model assisted transfers, and a bit it sets must work.
const USER_CONNECTED_BASE: F = F(F::DROP.0
    | F::HOLD.0
    | F::BLINDXFER.0
    | F::PARK.0
    | F::TAG.0
    | F::ACCT.0
    | F::GENERATEDIGITS.0
    | F::FORCECLEAR.0
    | F::AUTH.0);

/// A connected call at a user, not private, not recorded, without mobile twinning.
pub const USER_CONNECTED: F = F(USER_CONNECTED_BASE.0 | F::RECORDINGON.0 | F::PRIVACYON.0);

/// A call the user holds.
pub const USER_HELD: F = F(F::DROP.0
    | F::UNHOLD.0
    | F::BLINDXFER.0
    | F::PARK.0
    | F::TAG.0
    | F::ACCT.0
    | F::FORCECLEAR.0
    | F::AUTH.0);

/// A call the user made that failed (e.g. an unallocated number): it can only be dropped.
pub const USER_FAILED: F = F::DROP;

/// A connected call at a user, given its privacy and recording and the user's twinning:
/// privacy and recording offer the switch that applies, a private call cannot be recorded,
/// and PushToEC500 needs mobile twinning.
pub fn user_connected(private: bool, recording: bool, any_private: bool, ec500: bool) -> F {
    let mut f = USER_CONNECTED_BASE;
    f |= if private { F::PRIVACYOFF } else { F::PRIVACYON };
    if recording {
        f |= F::RECORDINGOFF;
    } else if !any_private {
        f |= F::RECORDINGON;
    }
    if ec500 {
        f |= F::PUSHTOEC500;
    }
    f
}

/// A queue call sitting in a park slot, on its group's line: no Park (it is parked) and no
/// Redirect (nothing rings).
pub const QUEUE_PARKED: F = F(QUEUE_QUEUEING.0 & !F::PARK.0);

/// A call in a park slot, on the park server line.
pub const PARKED: F = F(F::DROP.0 | F::BLINDXFER.0 | F::TAG.0 | F::FORCECLEAR.0);

/// Functions the document allows on user lines only.
pub const USER_ONLY: F = F(F::ANSWER.0
    | F::HOLD.0
    | F::UNHOLD.0
    | F::DIAL.0
    | F::SETUPTRANSFER.0
    | F::COMPLETETRANSFER.0
    | F::COMPLETECONF.0
    | F::PUSHTOEC500.0
    | F::GENERATEDIGITS.0
    | F::PRIVACYON.0
    | F::PRIVACYOFF.0
    | F::MUTEON.0
    | F::MUTEOFF.0);

/// Functions the document allows on queue lines only.
pub const QUEUE_ONLY: F = F(F::PRIO.0 | F::FINISH.0);

/// `NotifyUser.featuresavailable`: every documented user setting may be changed (DFOI is
/// reserved and left clear).
pub const USER_SETTINGS: crate::protocol::bits::UserFeatures = {
    use crate::protocol::bits::UserFeatures as U;
    U(U::VALID.0
        | U::SAC.0
        | U::ABSENCE.0
        | U::EC500.0
        | U::LOGIN.0
        | U::SHORTCODE.0
        | U::MAKECALL.0
        | U::FWDU.0
        | U::APP.0)
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_types_hold_for_every_value() {
        for f in [
            QUEUE_QUEUEING,
            QUEUE_RINGING,
            QUEUE_CONNECTED,
            QUEUE_VOICEMAIL,
            QUEUE_PARKED,
        ] {
            assert!(
                (f & USER_ONLY).is_empty(),
                "{f} carries a user-only function"
            );
        }
        for f in [
            USER_RINGING,
            USER_RINGBACK,
            USER_CONNECTED,
            USER_HELD,
            USER_FAILED,
            PARKED,
            user_connected(true, true, true, true),
        ] {
            assert!(
                (f & QUEUE_ONLY).is_empty(),
                "{f} carries a queue-only function"
            );
        }
        assert!((PARKED & USER_ONLY).is_empty());
        assert!(!PARKED.contains(F::PARK) && !PARKED.contains(F::REDIRECT));
    }

    #[test]
    fn document_examples_are_verbatim() {
        assert_eq!(
            QUEUE_RINGING.to_string(),
            "0x6060E0B1 DROP BLINDXFER REDIRECT PARK TAG ACCT FORCECLEAR AUTH PRIO FINISH"
        );
        assert_eq!(USER_RINGING.to_string(), "0x00000023 DROP ANSWER REDIRECT");
        assert!(QUEUE_QUEUEING.contains(F::BLINDXFER));
    }
}
