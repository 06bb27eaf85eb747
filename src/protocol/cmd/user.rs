//! User updates (`UpdateUser`): do not disturb, absence, twinning, forwarding and the
//! application presence string.

use crate::protocol::limits::{BuildError, check_len};
use crate::protocol::pb;

use super::short_code::ShortCode;

/// Absence message types 1..=11 (`Absence.msg`); see `text::absence_text` for the phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AbsenceKind {
    /// 1: "ON HOLIDAY UNTIL" + text.
    OnHolidayUntil = 1,
    /// 2: "WILL BE BACK" + text.
    WillBeBack = 2,
    /// 3: "AT LUNCH UNTIL" + text.
    AtLunchUntil = 3,
    /// 4: "MEETING UNTIL" + text.
    MeetingUntil = 4,
    /// 5: "PLEASE CALL" + text.
    PleaseCall = 5,
    /// 6: "DON'T DISTURB UNTIL" + text.
    DontDisturbUntil = 6,
    /// 7: "WITH VISITOR UNTIL" + text.
    WithVisitorUntil = 7,
    /// 8: "WITH CUSTOMER UNTIL" + text.
    WithCustomerUntil = 8,
    /// 9: "BACK SOON".
    BackSoon = 9,
    /// 10: "BACK TOMORROW".
    BackTomorrow = 10,
    /// 11: the text alone.
    Custom = 11,
}

impl AbsenceKind {
    /// Every type, 1..=11.
    pub const ALL: [AbsenceKind; 11] = [
        AbsenceKind::OnHolidayUntil,
        AbsenceKind::WillBeBack,
        AbsenceKind::AtLunchUntil,
        AbsenceKind::MeetingUntil,
        AbsenceKind::PleaseCall,
        AbsenceKind::DontDisturbUntil,
        AbsenceKind::WithVisitorUntil,
        AbsenceKind::WithCustomerUntil,
        AbsenceKind::BackSoon,
        AbsenceKind::BackTomorrow,
        AbsenceKind::Custom,
    ];

    /// From `Absence.msg`; `None` outside 1..=11.
    pub fn from_wire(msg: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as i32 == msg)
    }

    /// `Absence.msg`.
    pub const fn to_wire(self) -> i32 {
        self as i32
    }

    /// The document's fixed phrase (`None` for 11, which is the text alone).
    pub const fn phrase(self) -> Option<&'static str> {
        Some(match self {
            AbsenceKind::OnHolidayUntil => "ON HOLIDAY UNTIL",
            AbsenceKind::WillBeBack => "WILL BE BACK",
            AbsenceKind::AtLunchUntil => "AT LUNCH UNTIL",
            AbsenceKind::MeetingUntil => "MEETING UNTIL",
            AbsenceKind::PleaseCall => "PLEASE CALL",
            AbsenceKind::DontDisturbUntil => "DON'T DISTURB UNTIL",
            AbsenceKind::WithVisitorUntil => "WITH VISITOR UNTIL",
            AbsenceKind::WithCustomerUntil => "WITH CUSTOMER UNTIL",
            AbsenceKind::BackSoon => "BACK SOON",
            AbsenceKind::BackTomorrow => "BACK TOMORROW",
            AbsenceKind::Custom => return None,
        })
    }

    /// Whether the phrase is followed by the text (1..=8) or is the text (11).
    pub const fn takes_text(self) -> bool {
        !matches!(self, AbsenceKind::BackSoon | AbsenceKind::BackTomorrow)
    }
}

/// The longest absence text, in characters (the document: "maximum length is set to 21").
pub const ABSENCE_TEXT_MAX: usize = 21;
/// The longest application presence string, in characters (the document: 34).
pub const APP_PRESENCE_MAX: usize = 34;

/// An absence note to set: a type and its text (at most [`ABSENCE_TEXT_MAX`] characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AbsenceNote {
    /// The message type.
    pub kind: AbsenceKind,
    /// The text after the phrase (or the whole note for [`AbsenceKind::Custom`]).
    pub text: String,
}

/// Hot-desk the user to another extension (`UpdateUserLoginExtn`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoginExtn {
    /// The extension to log in at.
    pub extn: String,
    /// The user's login code.
    pub password: String,
    /// Teleworker connection details, when logging in as a teleworker.
    pub teleworker: Option<pb::TeleworkerConnection>,
}

/// One change to a user's configuration (`UpdateUser`), sent on the user's subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum UserUpdate {
    /// Do Not Disturb on (`true`) or off.
    Sac(bool),
    /// Set the absence note (`Some`) or clear it (`None`).
    Absence(Option<AbsenceNote>),
    /// Mobile twinning on or off.
    Ec500(bool),
    /// Run short codes on the user (at least one).
    ShortCodes(Vec<ShortCode>),
    /// Hot-desk to another extension.
    LoginExtn(LoginExtn),
    /// Change the application presence string (at most [`APP_PRESENCE_MAX`] characters).
    /// `makelive` / `makedead` switch this subscription's ACTIVAPP flag on or off.
    App {
        /// The new string.
        value: String,
        /// Make this subscription count as an application that edits the app field.
        makelive: bool,
        /// Stop this subscription counting as one.
        makedead: bool,
    },
    /// Forward unconditional: on/off, destination, and whether it goes to voicemail.
    FwdU {
        /// Forwarding on.
        enabled: bool,
        /// The destination.
        number: String,
        /// Forward to voicemail.
        to_voicemail: bool,
    },
}

impl UserUpdate {
    /// The `UpdateUser` payload, with the document's limits checked.
    pub fn to_pb(&self) -> Result<pb::UpdateUser, BuildError> {
        let mut u = pb::UpdateUser::default();
        match self {
            UserUpdate::Sac(on) => {
                u.sac = Some(pb::UpdateUserSac {
                    set: i32::from(*on),
                })
            }
            UserUpdate::Absence(None) => {
                u.absence = Some(pb::UpdateUserAbsence {
                    set: 0,
                    absence: None,
                })
            }
            UserUpdate::Absence(Some(note)) => {
                check_len("absence text", &note.text, 0, ABSENCE_TEXT_MAX)?;
                if note.kind == AbsenceKind::Custom && note.text.is_empty() {
                    return Err(BuildError::BlankAbsence);
                }
                u.absence = Some(pb::UpdateUserAbsence {
                    set: 1,
                    absence: Some(pb::Absence {
                        msg: note.kind.to_wire(),
                        str: note.text.clone(),
                    }),
                });
            }
            UserUpdate::Ec500(on) => {
                u.ec500 = Some(pb::UpdateUserEc500 {
                    set: i32::from(*on),
                })
            }
            UserUpdate::ShortCodes(codes) => {
                if codes.is_empty() {
                    return Err(BuildError::Empty {
                        what: "short code list",
                    });
                }
                u.shortcodedata = codes.iter().map(ShortCode::to_pb).collect();
            }
            UserUpdate::LoginExtn(login) => {
                u.loginextn = Some(pb::UpdateUserLoginExtn {
                    extn: login.extn.clone(),
                    password: login.password.clone(),
                    teleworkerconnection: login.teleworker.clone(),
                })
            }
            UserUpdate::App {
                value,
                makelive,
                makedead,
            } => {
                check_len("application presence", value, 0, APP_PRESENCE_MAX)?;
                if *makelive && *makedead {
                    return Err(BuildError::Conflict(
                        "makelive and makedead contradict each other; choose one",
                    ));
                }
                u.app = Some(pb::UpdateUserApp {
                    value: value.clone(),
                    makelive: *makelive,
                    makedead: *makedead,
                });
            }
            UserUpdate::FwdU {
                enabled,
                number,
                to_voicemail,
            } => {
                u.fwdu = Some(pb::UpdateUserFwdU {
                    set: *enabled,
                    fwdu_number: number.clone(),
                    fwdtovm: *to_voicemail,
                })
            }
        }
        Ok(u)
    }

    /// Reads a received `UpdateUser` (the server side): one update for each part it carries, in
    /// the schema's field order (an `UpdateUser` may carry several). Only the structure is read:
    /// the text limits [`Self::to_pb`] checks are the receiver's to judge.
    pub fn from_pb(u: &pb::UpdateUser) -> Result<Vec<UserUpdate>, BuildError> {
        let mut updates = Vec::new();
        if let Some(sac) = &u.sac {
            updates.push(UserUpdate::Sac(sac.set != 0));
        }
        if let Some(a) = &u.absence {
            let note = if a.set == 0 {
                None
            } else {
                let abs = a.absence.as_ref();
                let kind = abs.and_then(|abs| AbsenceKind::from_wire(abs.msg));
                let (Some(abs), Some(kind)) = (abs, kind) else {
                    return Err(BuildError::Missing {
                        action: "UpdateUser absence",
                        what: "an absence with msg 1..=11",
                    });
                };
                Some(AbsenceNote {
                    kind,
                    text: abs.str.clone(),
                })
            };
            updates.push(UserUpdate::Absence(note));
        }
        if let Some(ec) = &u.ec500 {
            updates.push(UserUpdate::Ec500(ec.set != 0));
        }
        if !u.shortcodedata.is_empty() {
            updates.push(UserUpdate::ShortCodes(
                u.shortcodedata.iter().map(ShortCode::from_pb).collect(),
            ));
        }
        if let Some(login) = &u.loginextn {
            updates.push(UserUpdate::LoginExtn(LoginExtn {
                extn: login.extn.clone(),
                password: login.password.clone(),
                teleworker: login.teleworkerconnection.clone(),
            }));
        }
        if let Some(app) = &u.app {
            updates.push(UserUpdate::App {
                value: app.value.clone(),
                makelive: app.makelive,
                makedead: app.makedead,
            });
        }
        if let Some(f) = &u.fwdu {
            updates.push(UserUpdate::FwdU {
                enabled: f.set,
                number: f.fwdu_number.clone(),
                to_voicemail: f.fwdtovm,
            });
        }
        Ok(updates)
    }
}
