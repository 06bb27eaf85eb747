//! MTCTI3 messages into the model's domain inputs. The model never sees a prost type.

use crate::model::Guid;
use crate::model::{
    Absence, CallData, CallFeatureBits, CallLost, CallSnapshot, CallState, ConferenceMember,
    DialDetail, Direction, FailedCause, Forwarding, Gcid, LineEntry, Mailbox, Party, QueueDetail,
    QueueMember, QueueStatus, RingMode, ServiceMode, Text, TrunkDetail, TrunkKind, UserFeatureBits,
    UserStatus,
};
use crate::protocol::limits::{MAX_ACCOUNT_CODES, MAX_TEXT_BYTES, clip};
use crate::protocol::pb;
use crate::protocol::text;
use std::cell::Cell;
use std::collections::HashSet;

/// Converts messages, cutting any text longer than [`MAX_TEXT_BYTES`] (at a character
/// boundary) and remembering that it did, so the session can say so once.
#[derive(Debug, Default)]
pub struct Convert {
    clipped: Cell<bool>,
}

impl Convert {
    /// Whether a text was cut since the last call.
    pub fn take_clipped(&self) -> bool {
        self.clipped.replace(false)
    }

    fn text(&self, s: &str) -> Text {
        let (kept, cut) = clip(s, MAX_TEXT_BYTES);
        if cut {
            self.clipped.set(true);
        }
        Text::from(kept)
    }

    /// A lines entry (user or queue).
    pub fn line_entry(&self, guid: &[u8], extn: &str, name: &str) -> LineEntry {
        LineEntry {
            guid: Guid::from_bytes(guid),
            extn: self.text(extn),
            name: self.text(name),
        }
    }

    /// An absence note with the document's phrase.
    pub fn absence(&self, a: &pb::Absence) -> Absence {
        Absence {
            msg: a.msg,
            text: self.text(&a.str),
            phrase: self.text(&text::absence_text(a.msg, clip(&a.str, MAX_TEXT_BYTES).0)),
        }
    }

    fn mailbox(&self, m: &pb::Mailbox) -> Mailbox {
        Mailbox {
            new: m.newmessages,
            old: m.oldmessages,
            saved: m.savedmessages,
        }
    }

    /// A user Notify: its number, its name and its status.
    pub fn user_status(&self, u: &pb::NotifyUser) -> (Text, Text, UserStatus) {
        let status = UserStatus {
            full_name: self.text(&u.fullname),
            email: self.text(&u.email),
            language: self.text(&u.language),
            features: UserFeatureBits(u.featuresavailable as u32),
            dnd: u.dnd,
            barred: u.barred,
            ex_directory: u.xdirectory,
            voicemail: u.voicemail,
            logged_in_extn: self.text(&u.loggedinextn),
            extn_fault: u.extnfault,
            logged_off: u.loggedoff,
            absence: u.absence.as_ref().map(|x| self.absence(x)),
            mailbox: u.mailbox.as_ref().map(|x| self.mailbox(x)),
            app: self.text(&u.app),
            no_app_handler: u.noapphandler,
            ec500: u.ec500,
            forwarding: Forwarding {
                unconditional: u.fwdu,
                busy: u.fwdb,
                no_answer: u.fwdna,
                hunt_group: u.fwdhg,
                unconditional_number: self.text(&u.fwdunumber),
                busy_number: self.text(&u.fwdbnumber),
                to_voicemail: u.fwdtovm,
            },
            offswitch: u.offswitch,
        };
        (self.text(&u.extn), self.text(&u.name), status)
    }

    /// A queue Notify: its number, its name and its status.
    pub fn queue_status(&self, q: &pb::NotifyQueue) -> (Text, Text, QueueStatus) {
        let status = QueueStatus {
            email: self.text(&q.email),
            ring_mode: RingMode::from_code(q.ringmode),
            no_answer_secs: q.noanswertime,
            voicemail: q.voicemail,
            voicemail_secs: q.voicemailtime,
            service_mode: ServiceMode::from_code(q.servicemode),
            members: q.queuemembers.as_ref().map(|m| {
                m.member
                    .iter()
                    .map(|m| QueueMember {
                        extn: self.text(&m.extn),
                        enabled: !m.disabled,
                    })
                    .collect()
            }),
            mailbox: q.mailbox.as_ref().map(|x| self.mailbox(x)),
        };
        (self.text(&q.extn), self.text(&q.name), status)
    }

    /// A party.
    pub fn party(&self, p: &pb::PartyInfo) -> Party {
        Party {
            number: self.text(&p.number),
            name: self.text(&p.name),
            name_type: p.nametype,
            number_type: p.numbertype,
            withheld: p.withheld,
            diversion_reason: p.diversionreason,
        }
    }

    /// A CallInfo as a snapshot.
    pub fn call_snapshot(&self, c: &pb::CallInfo) -> CallSnapshot {
        CallSnapshot {
            callid: c.callid,
            reference_callid: c.referencecallid,
            related_callid: c.relatedcallid,
            state: CallState::from_code(c.state),
            direction: Direction::from_code(c.direction),
            active_held: c.activeheld,
            gcid: (!c.gcid.is_empty()).then(|| Gcid::from_bytes(&c.gcid)),
            features: CallFeatureBits(c.featuresavailable as u32),
            features2: c.featuresavailable2 as u32,
            called: self.text(&c.calledparty),
            calling: c.callingparty.as_ref().map(|x| self.party(x)),
            connected: c.connectedparty.as_ref().map(|x| self.party(x)),
            original_called: c.originalcalledparty.as_ref().map(|x| self.party(x)),
            tag: self.text(&c.tag),
            account_code: self.text(&c.accountcode),
            mute: c.mute,
            failed_cause: FailedCause::from_code(c.failedcause),
            recording: c.recording,
            recording_paused: c.recordingpaused,
            park_slot: self.text(&c.parkslot),
            far_absence: c.absence.as_ref().map(|x| self.absence(x)),
            page_call: c.pagecall,
            conference: c
                .conferencemember
                .iter()
                .map(|m| ConferenceMember {
                    lref: m.lref,
                    state: CallState::from_code(m.state),
                    direction: Direction::from_code(m.direction),
                    active_held: m.activeheld,
                    called: self.text(&m.calledparty),
                    connected: m.connectedparty.as_ref().map(|x| self.party(x)),
                    mute: m.mute,
                    failed_cause: FailedCause::from_code(m.failedcause),
                })
                .collect(),
            dial: c.dialinfo.as_ref().map(|d| DialDetail {
                number: self.text(&d.number),
                call_type: d.calltype,
                withhold_cli: d.withholdcli,
                hide_number: d.hidenumber,
                complete: d.complete,
            }),
            trunk: c.trunkinfo.as_ref().map(|t| TrunkDetail {
                kind: TrunkKind::from_code(t.trunktype),
                did: self.text(&t.did),
            }),
            queue: c.queueinfo.as_ref().map(|q| QueueDetail {
                number: self.text(&q.number),
                name: self.text(&q.name),
                priority: q.priority,
                overflow_number: self.text(&q.overflow_number),
                overflow_name: self.text(&q.overflow_name),
            }),
            call_data: c.calldata.as_ref().map(|d| CallData {
                language: self.text(&d.language),
                emergency: d.emergency,
                privacy: d.privacy,
                secure: d.secure,
                remote_privacy: d.rprivacy,
            }),
            notes: c
                .notes
                .as_ref()
                .map(|n| self.text(&n.notes))
                .unwrap_or_default(),
            targets: c
                .targets
                .iter()
                .flat_map(|t| t.target.iter())
                .filter_map(|t| t.partyinfo.as_ref().map(|x| self.party(x)))
                .collect(),
        }
    }

    /// A CallLost.
    pub fn call_lost(&self, l: &pb::CallLost) -> CallLost {
        CallLost {
            callid: l.callid,
            reference_callid: l.referencecallid,
            cause: l.reason,
            this_end_dropped: l.thisenddropped,
            description: self.text(&l.description),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallFunction, UserFunction};
    use crate::protocol::bits::{CallFeatures, UserFeatures};

    /// The model keeps its own names for the feature bits (it may not import the protocol);
    /// they must agree bit for bit with the protocol's.
    #[test]
    fn model_feature_bits_agree_with_the_protocol() {
        let pairs = [
            (CallFunction::Drop, CallFeatures::DROP),
            (CallFunction::Answer, CallFeatures::ANSWER),
            (CallFunction::Hold, CallFeatures::HOLD),
            (CallFunction::UnHold, CallFeatures::UNHOLD),
            (CallFunction::BlindTransfer, CallFeatures::BLINDXFER),
            (CallFunction::Redirect, CallFeatures::REDIRECT),
            (CallFunction::Dial, CallFeatures::DIAL),
            (CallFunction::Park, CallFeatures::PARK),
            (CallFunction::SetupTransfer, CallFeatures::SETUPTRANSFER),
            (
                CallFunction::CompleteTransfer,
                CallFeatures::COMPLETETRANSFER,
            ),
            (CallFunction::CompleteConf, CallFeatures::COMPLETECONF),
            (CallFunction::AddToConf, CallFeatures::ADDTOCONF),
            (CallFunction::ConfMember, CallFeatures::CONFMEMBER),
            (CallFunction::SetTag, CallFeatures::TAG),
            (CallFunction::SetAccountCode, CallFeatures::ACCT),
            (CallFunction::PushToEc500, CallFeatures::PUSHTOEC500),
            (CallFunction::GenerateDigits, CallFeatures::GENERATEDIGITS),
            (
                CallFunction::RecordingPauseControl,
                CallFeatures::RECORDINGPAUSECONTROL,
            ),
            (CallFunction::ForceClear, CallFeatures::FORCECLEAR),
            (CallFunction::SetAuthCode, CallFeatures::AUTH),
            (CallFunction::RecordingOn, CallFeatures::RECORDINGON),
            (CallFunction::RecordingOff, CallFeatures::RECORDINGOFF),
            (CallFunction::PrivacyOn, CallFeatures::PRIVACYON),
            (CallFunction::PrivacyOff, CallFeatures::PRIVACYOFF),
            (CallFunction::MuteOn, CallFeatures::MUTEON),
            (CallFunction::MuteOff, CallFeatures::MUTEOFF),
            (CallFunction::SetPriority, CallFeatures::PRIO),
            (CallFunction::Finish, CallFeatures::FINISH),
        ];
        assert_eq!(pairs.len(), CallFunction::ALL.len());
        assert_eq!(pairs.len(), CallFeatures::NAMED.len());
        for (f, bits) in pairs {
            assert_eq!(1u32 << f.bit(), bits.bits(), "{f:?}");
        }
        let users = [
            (UserFunction::Sac, UserFeatures::SAC),
            (UserFunction::Absence, UserFeatures::ABSENCE),
            (UserFunction::Ec500, UserFeatures::EC500),
            (UserFunction::Login, UserFeatures::LOGIN),
            (UserFunction::ShortCode, UserFeatures::SHORTCODE),
            (UserFunction::MakeCall, UserFeatures::MAKECALL),
            (UserFunction::Fwdu, UserFeatures::FWDU),
            (UserFunction::App, UserFeatures::APP),
        ];
        for (f, bits) in users {
            assert_eq!(1u32 << f.bit(), bits.bits(), "{f:?}");
        }
    }

    #[test]
    fn the_documents_queue_call_converts_whole() {
        let c = pb::CallInfo {
            callid: 3,
            state: pb::call_info::State::Queueing as i32,
            direction: pb::call_info::Direction::Inbound as i32,
            featuresavailable: 0xE0E0_E091_u32 as i32,
            calledparty: "8010".into(),
            callingparty: Some(pb::PartyInfo {
                number: "03498984598".into(),
                nametype: 9,
                ..Default::default()
            }),
            trunkinfo: Some(pb::TrunkInfo {
                trunktype: pb::trunk_info::TrunkType::TrunkIsdn as i32,
                did: "8010".into(),
            }),
            queueinfo: Some(pb::QueueInfo {
                priority: 1,
                overflow_number: "2502".into(),
                overflow_name: "Service Queue".into(),
                ..Default::default()
            }),
            targets: Some(pb::Targets {
                target: vec![pb::Target {
                    partyinfo: Some(pb::PartyInfo {
                        number: "2005".into(),
                        name: "Bergcamp".into(),
                        nametype: 5,
                        ..Default::default()
                    }),
                }],
            }),
            ..Default::default()
        };
        let s = Convert::default().call_snapshot(&c);
        assert_eq!(s.state, CallState::Queueing);
        assert_eq!(s.direction, Direction::Inbound);
        assert_eq!(s.features.bits(), 0xE0E0_E091, "bit 31 survives the int32");
        assert!(s.features.allows(CallFunction::Finish));
        assert_eq!(s.trunk.as_ref().map(|t| t.kind), Some(TrunkKind::Isdn));
        assert_eq!(
            s.queue.as_ref().map(|q| q.overflow_name.to_string()),
            Some("Service Queue".into())
        );
        assert_eq!(s.targets.len(), 1);
        assert_eq!(s.targets[0].name, "Bergcamp");
        assert_eq!(s.gcid, None);
    }

    #[test]
    fn absence_is_phrased_as_the_document_phrases_it() {
        let a = Convert::default().absence(&pb::Absence {
            msg: 3,
            str: "14:00".into(),
        });
        assert_eq!(a.phrase, "AT LUNCH UNTIL 14:00");
    }
}

/// The longest account code IP Office takes (SetAccountCode: 0 to 15 characters).
const ACCOUNT_CODE_MAX: usize = 15;

/// Reads `nasystem/AccountCode` leniently (the document gives no format): text, one code per
/// line or separated by commas, semicolons or tabs; a line may add a description after the
/// code (`1001 Marketing`, `1001,Marketing`); blank lines and `#` comments are skipped, quotes
/// around a code dropped, duplicates kept once. At most [`MAX_ACCOUNT_CODES`] are kept; the
/// flag says whether more were listed. Anything else (not text, no code at all) is an error:
/// the account code is then typed as free text.
///
/// Linear in the file's size: it runs in the session task, between acks.
pub fn account_codes(payload: &[u8]) -> Result<(Vec<Text>, bool), String> {
    let text = std::str::from_utf8(payload).map_err(|_| "the file is not text".to_owned())?;
    if text.contains('\0') {
        return Err("the file is not text".to_owned());
    }
    let mut codes: Vec<Text> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut capped = false;
    'lines: for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // With commas, semicolons or tabs, every field is a code unless the line reads like
        // "code,description" (a field without a digit is a description): then the first only.
        let fields: Vec<&str> = line
            .split([',', ';', '\t'])
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        let all_codes = fields
            .iter()
            .all(|f| plausible_code(f) && f.chars().any(|c| c.is_ascii_digit()));
        let picked: Vec<&str> = if all_codes {
            fields
        } else {
            fields.into_iter().take(1).collect()
        };
        for f in picked {
            let code = f
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['"', '\'']);
            if !plausible_code(code) || seen.contains(code) {
                continue;
            }
            if codes.len() >= MAX_ACCOUNT_CODES {
                capped = true;
                break 'lines;
            }
            seen.insert(code);
            codes.push(Text::from(code));
        }
    }
    if codes.is_empty() {
        Err("the file lists no account code".to_owned())
    } else {
        Ok((codes, capped))
    }
}

fn plausible_code(s: &str) -> bool {
    let s = s.trim_matches(['"', '\'']);
    !s.is_empty()
        && s.chars().count() <= ACCOUNT_CODE_MAX
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod account_code_tests {
    use super::*;

    fn codes(s: &str) -> Result<Vec<String>, String> {
        account_codes(s.as_bytes()).map(|(v, _)| v.into_iter().map(|t| t.to_string()).collect())
    }

    #[test]
    fn account_code_files_are_read_leniently() {
        assert_eq!(
            codes("1001\n1002\n2001\n"),
            Ok(vec!["1001".into(), "1002".into(), "2001".into()])
        );
        assert_eq!(
            codes("# codes\r\n1001 Marketing\r\n\"1002\",Sales\r\n\r\n1001\n"),
            Ok(vec!["1001".into(), "1002".into()])
        );
        assert_eq!(
            codes("1001,1002;2001\t3100"),
            Ok(vec![
                "1001".into(),
                "1002".into(),
                "2001".into(),
                "3100".into()
            ])
        );
        assert!(codes("").is_err());
        assert!(codes("# nothing\n\n").is_err());
        assert!(account_codes(&[0xFF, 0xFE, 0x00, 0x31]).is_err());
        assert!(account_codes(b"10\x0001").is_err());
        assert_eq!(
            codes("this-is-far-too-long-for-a-code\n7777"),
            Ok(vec!["7777".into()])
        );
    }

    #[test]
    fn a_huge_list_is_capped_and_read_in_linear_time() {
        // 200000 distinct codes and as many duplicates: quadratic de-duplication took minutes
        // here; this takes milliseconds, and keeps the first MAX_ACCOUNT_CODES.
        let mut file = String::new();
        for i in 0..200_000u32 {
            file.push_str(&format!("{i}\n{i}\n"));
        }
        let (codes, capped) = account_codes(file.as_bytes()).expect("a list");
        assert!(capped);
        assert_eq!(codes.len(), MAX_ACCOUNT_CODES);
        assert_eq!(codes[0], "0");
        assert_eq!(
            codes[MAX_ACCOUNT_CODES - 1],
            (MAX_ACCOUNT_CODES - 1).to_string().as_str()
        );
        let (codes, capped) = account_codes(b"1\n2\n1\n").expect("a list");
        assert!(!capped);
        assert_eq!(codes.len(), 2);
    }

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary_and_noted() {
        let cv = Convert::default();
        let long = "é".repeat(MAX_TEXT_BYTES);
        let p = cv.party(&pb::PartyInfo {
            name: long,
            number: "1".into(),
            ..Default::default()
        });
        assert_eq!(p.name.len(), MAX_TEXT_BYTES);
        assert!(cv.take_clipped());
        assert!(!cv.take_clipped(), "noted once per take");
        let p = cv.party(&pb::PartyInfo {
            name: "short".into(),
            ..Default::default()
        });
        assert_eq!(p.name, "short");
        assert!(!cv.take_clipped());
    }
}
