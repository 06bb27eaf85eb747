//! Typed bit sets with the document's names.
//!
//! Every set displays as its full hex value (so no bit is ever hidden) followed by the names of
//! the bits the document names, e.g. `0x6060E0B1 DROP BLINDXFER REDIRECT PARK TAG ACCT FORCECLEAR
//! AUTH PRIO FINISH`. Short names are the document's where it gives them (its example boxes),
//! else the bit table's name in upper case. Reserved and undescribed bits get no name.

use std::fmt;

macro_rules! bitset {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$cmeta:meta])* $konst:ident = $bit:expr => $text:literal ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: $name = $name(1u32 << $bit); )*

            /// Every named bit with its display name, lowest bit first.
            pub const NAMED: &'static [($name, &'static str)] = &[ $( ($name(1u32 << $bit), $text) ),* ];

            /// No bits set.
            pub const EMPTY: $name = $name(0);

            /// From the int32 on the wire (bit 31 makes it negative; no bit is lost).
            pub const fn from_wire(v: i32) -> Self { $name(v as u32) }

            /// To the int32 on the wire.
            pub const fn to_wire(self) -> i32 { self.0 as i32 }

            /// The raw bits.
            pub const fn bits(self) -> u32 { self.0 }

            /// Whether every bit of `other` is set here.
            pub const fn contains(self, other: $name) -> bool { self.0 & other.0 == other.0 }

            /// Whether no bit is set.
            pub const fn is_empty(self) -> bool { self.0 == 0 }

            /// The names of the set bits the document names, lowest bit first.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::NAMED.iter().filter(move |(b, _)| self.contains(*b)).map(|(_, n)| *n)
            }
        }

        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name { $name(self.0 | rhs.0) }
        }
        impl std::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) { self.0 |= rhs.0; }
        }
        impl std::ops::BitAnd for $name {
            type Output = $name;
            fn bitand(self, rhs: $name) -> $name { $name(self.0 & rhs.0) }
        }
        impl std::ops::Not for $name {
            type Output = $name;
            fn not(self) -> $name { $name(!self.0) }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "0x{:08X}", self.0)?;
                for n in self.names() { write!(f, " {n}")?; }
                Ok(())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

bitset! {
    /// `CallInfo.featuresavailable`: the call functions that may work on this appearance now.
    CallFeatures {
        /// DropCall.
        DROP = 0 => "DROP",
        /// AnswerCall (user lines).
        ANSWER = 1 => "ANSWER",
        /// HoldCall (user lines).
        HOLD = 2 => "HOLDCALL",
        /// UnHoldCall (user lines).
        UNHOLD = 3 => "UNHOLDCALL",
        /// BlindTransfer.
        BLINDXFER = 4 => "BLINDXFER",
        /// Redirect.
        REDIRECT = 5 => "REDIRECT",
        /// Dial (user lines).
        DIAL = 6 => "DIAL",
        /// Park.
        PARK = 7 => "PARK",
        /// SetupTransfer and SetupConf (user lines).
        SETUPTRANSFER = 8 => "SETUPTRANSFER",
        /// CompleteTransfer (user lines).
        COMPLETETRANSFER = 9 => "COMPLETETRANSFER",
        /// CompleteConf (user lines).
        COMPLETECONF = 10 => "COMPLETECONF",
        /// AddToConf.
        ADDTOCONF = 11 => "ADDTOCONF",
        /// MemberFunction (AdminConfMember).
        CONFMEMBER = 12 => "CONFMEMBER",
        /// SetTag.
        TAG = 13 => "TAG",
        /// SetAccountCode.
        ACCT = 14 => "ACCT",
        /// PushToEC500 (user lines).
        PUSHTOEC500 = 16 => "PUSHTOEC500",
        /// GenerateDigits (user lines).
        GENERATEDIGITS = 17 => "GENERATEDIGITS",
        /// AgentRecordingControl (pause/resume system recording).
        RECORDINGPAUSECONTROL = 20 => "RECORDINGPAUSECONTROL",
        /// ForceClear.
        FORCECLEAR = 21 => "FORCECLEAR",
        /// SetAuthCode.
        AUTH = 22 => "AUTH",
        /// CallRecordingOn.
        RECORDINGON = 23 => "REC+",
        /// CallRecordingOff.
        RECORDINGOFF = 24 => "CALLRECORDINGOFF",
        /// PrivacyOn.
        PRIVACYON = 25 => "PRIVACYON",
        /// PrivacyOff.
        PRIVACYOFF = 26 => "PRIVACYOFF",
        /// MuteOn.
        MUTEON = 27 => "MUTEON",
        /// MuteOff.
        MUTEOFF = 28 => "MUTEOFF",
        /// SetPriority (queue lines).
        PRIO = 29 => "PRIO",
        /// Finish (queue lines).
        FINISH = 30 => "FINISH",
    }
}

bitset! {
    /// `CallInfo.featuresavailable2`.
    CallFeatures2 {
        /// AnswerPage (user lines, inbound page calls).
        ANSWERPAGE = 0 => "ANSWERPAGE",
    }
}

bitset! {
    /// `NotifyUser.featuresavailable`: what may be changed on this user. Honoured only when
    /// VALID is set (older systems leave the field empty).
    UserFeatures {
        /// The field is populated.
        VALID = 0 => "VALID",
        /// Can set or unset Do Not Disturb.
        SAC = 1 => "SAC",
        /// Can change absence text.
        ABSENCE = 2 => "ABSENCE",
        /// Can change mobile twinning.
        EC500 = 3 => "EC500",
        /// Can hot-desk to another extension.
        LOGIN = 4 => "LOGIN",
        /// Allowed to send shortcodes.
        SHORTCODE = 5 => "SHORTCODE",
        /// Allowed to MakeCall.
        MAKECALL = 6 => "MAKECALL",
        /// Allowed to set Forward Unconditional.
        FWDU = 7 => "FWDU",
        /// Reserved (DFOI).
        DFOI = 8 => "DFOI",
        /// Allowed to change the application presence string.
        APP = 9 => "APP",
    }
}

bitset! {
    /// `SubscribeUser.flags`.
    UserFlags {
        /// Include voicemail box message counters.
        MAILBOX = 0 => "MAILBOX",
        /// Include forwarding details.
        FWD = 1 => "FWD",
        /// Include application presence.
        APP = 2 => "APP",
        /// Include absence (when enabled).
        ABSENCE = 3 => "ABSENCE",
        /// This subscription counts as an application that can edit the app field: it changes
        /// what the user's phones show, so ipo-top never sets it.
        ACTIVAPP = 11 => "ACTIVAPP",
    }
}

bitset! {
    /// `SubscribeQueue.flags`.
    QueueFlags {
        /// Include voicemail box message counters.
        MAILBOX = 0 => "MAILBOX",
        /// Include the hunt group members list.
        MEMBERS = 1 => "MEMBERS",
    }
}

bitset! {
    /// `ccflags` of user, queue and park-server subscriptions: the call-control detail wanted.
    /// Zero means no call control at all.
    CcFlags {
        /// Primary call-control data.
        PRIMARY = 0 => "PRIMARY",
        /// Local and remote devices.
        DEVICES = 1 => "DEVICES",
        /// Additional simultaneous targets.
        SIMULTANEOUS = 2 => "SIMULTANEOUS",
        /// Conference membership.
        CONFERENCE = 3 => "CONFERENCE",
        /// Dial info.
        DIALINFO = 4 => "DIALINFO",
        /// Extended trunk detail.
        TRUNK = 5 => "TRUNK",
        /// Extended queue information.
        QUEUEINFO = 6 => "QUEUEINFO",
        /// Language, privacy.
        LANGUAGE = 7 => "LANGUAGE",
        /// Conference membership (queue table, bit 8).
        CONFMEMBERSHIP = 8 => "CONFMEMBERSHIP",
        /// Notes.
        NOTES = 13 => "NOTES",
        /// UCID.
        UCID = 14 => "UCID",
        /// P-Intrinsics.
        PINTRINSICS = 15 => "PINTRINSICS",
        /// Targets (queue subscriptions).
        TARGETS = 18 => "TARGETS",
        /// Ephemeral: calls are seen only while they are actually queueing.
        EPHEMERAL = 30 => "EPHEMERAL",
    }
}

bitset! {
    /// `SubscribeLines.flags`.
    LinesFlags {
        /// List all users.
        USERS = 0 => "USERS",
        /// List all groups (queues).
        QUEUES = 1 => "QUEUES",
        /// Report park server availability.
        PARKSERVER = 2 => "PARKSERVER",
    }
}

bitset! {
    /// `NotifyLines.flags`.
    NotifyLinesFlags {
        /// The park server can be subscribed.
        PARKSERVER = 0 => "PARKSERVER",
    }
}

bitset! {
    /// `SubscribePresence.flags`.
    PresenceFlags {
        /// Include the unread voicemail counter (`vmunread_messages`) in each presentity.
        VMUNREAD = 0 => "VMUNREAD",
        /// Do not change app presence to "Offline" when all apps are disconnected (report
        /// `noapphandler` instead).
        NOAPPOFFLINE = 1 => "NOAPPOFFLINE",
    }
}
