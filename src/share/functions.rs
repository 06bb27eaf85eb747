//! Call functions from viewers, the pure part: the subjects a function travels on, who may
//! send one ([`decide`]), who the audit log names ([`Identity`]), and what a viewer is told
//! when it cannot send at all ([`Standing`]).
//!
//! A viewer sends a function as a NATS request on `ipo-top.SITE.cmd.<nats-user>`. The NATS
//! server's permissions decide who may publish there, so the serving side learns who asked
//! from the subject alone ([`user_of_subject`]) and never from anything the viewer claims.
//! Where the NATS server asks for no credentials it proves no identity: functions are then
//! refused unless `[shared] anonymous_functions` is set (only with a loopback NATS URL), and
//! are audited as "anonymous" with the local user the viewer claims alongside.
//!
//! The messages are versioned JSON (`"schema": 1`): an [`Ask`] (`hello`, or a function with
//! the viewer's ticket and the call named by its line and callid, which every copy of the
//! model shares), and [`Reply`]s on the request's reply subject (the answer to `hello`, then
//! each step of the function: accepted, done, no effect, failed).
//!
//! Nothing here touches a socket; the NATS I/O around it is thin.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{AppearanceKey, Command, CommandStatus, Tables};

/// The version of the request and reply messages (`"schema": 1`).
pub const SCHEMA: u32 = 1;

/// How long a viewer waits for the serving side's answer to `hello` before saying there is
/// no serving process.
pub const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The identity the audit log gives a function sent where NATS proves no identity.
pub const ANONYMOUS: &str = "anonymous";

/// The subject token a viewer without a NATS user name sends on (an unauthenticated NATS
/// server, the demo).
pub const NO_USER_TOKEN: &str = "anonymous";

/// The subject a viewer logged in to NATS as `user` sends functions (and `hello`) on.
pub fn command_subject(site: &str, user: &str) -> String {
    format!("ipo-top.{site}.cmd.{user}")
}

/// What the serving side subscribes to: every user's command subject.
pub fn command_filter(site: &str) -> String {
    format!("ipo-top.{site}.cmd.*")
}

/// The NATS user a request came from: the last token of its subject, when the subject is
/// this site's command subject. `None` for anything else (a subject the filter should not
/// have delivered).
pub fn user_of_subject<'s>(site: &str, subject: &'s str) -> Option<&'s str> {
    let rest = subject.strip_prefix("ipo-top.")?;
    let rest = rest.strip_prefix(site)?;
    let user = rest.strip_prefix(".cmd.")?;
    is_token(user).then_some(user)
}

/// The JetStream stream the serving side records every function in.
pub fn audit_stream(site: &str) -> String {
    format!("ipo-top-audit-{site}")
}

/// The one subject of the audit stream; only the serving side may publish on it.
pub fn audit_subject(site: &str) -> String {
    format!("ipo-top.{site}.audit")
}

/// The inbox prefix of a viewer logged in as `user`: replies to its functions arrive under
/// it, and the sample server configuration lets only that user subscribe there.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// Whether `s` can be one token of a NATS subject as ipo-top uses them: letters, digits,
/// `-` and `_` (no `.`, wildcards or white space, which would change what a subject means).
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether an error the NATS server reported is its refusal to let this connection publish
/// on `subject` (`Permissions Violation for Publish to "SUBJECT"`).
pub fn is_publish_denied(server_error: &str, subject: &str) -> bool {
    let e = server_error.to_ascii_lowercase();
    e.contains("permissions violation for publish")
        && server_error.contains(&format!("\"{subject}\""))
}

/// One NATS user's rights on the serving side (`[shared.users.NAME]`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UserRights {
    /// The supervisor's extension its barge, pickup, unpark, answer and hold use (its My
    /// line).
    pub extension: String,
}

/// Who may send functions, as the serving side's configuration says.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Policy {
    /// The NATS users allowed to send functions, by name.
    pub users: BTreeMap<String, UserRights>,
    /// `[shared] anonymous_functions`: functions are taken from a NATS server that asks for
    /// no credentials (the configuration allows it with a loopback URL only).
    pub anonymous_functions: bool,
    /// The serving side's own `[supervisor] extension`: the My line of an anonymous viewer
    /// whose claimed name is not in `users`.
    pub own_extension: Option<String>,
}

/// Who sent a function, as the audit log records it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Identity {
    /// The NATS user the server authenticated, or "anonymous" where it authenticates no
    /// one.
    pub user: String,
    /// How it was established: `nats` (from the subject the server let it publish on) or
    /// `claimed` (nothing proves it).
    pub proof: Proof,
    /// The local user the viewer says is at its keyboard: a claim, recorded alongside.
    pub claimed_user: String,
}

/// How an [`Identity`] is known.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proof {
    /// The NATS server authenticated the user and let it publish on its own subject only.
    Nats,
    /// The NATS server authenticates no one.
    Claimed,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.proof {
            Proof::Nats => write!(f, "NATS user {}", self.user),
            Proof::Claimed => write!(f, "{} (says {})", self.user, self.claimed_user),
        }
    }
}

/// A function the serving side will check against the model and send: who asked and the
/// extension that is their My line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Grant {
    /// Who asked.
    pub identity: Identity,
    /// The supervisor's extension barge, pickup and unpark are made from for them.
    pub extension: Option<String>,
}

/// Why the serving side takes no function from a viewer.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Refusal {
    /// The request came on a subject that names no user.
    #[error("not a command subject of this site")]
    NotACommandSubject,
    /// The NATS user has no `[shared.users.NAME]` on the serving side.
    #[error(
        "NATS user {0} may not send functions ([shared.users.{0}] is not set on the serving side)"
    )]
    Unmapped(String),
    /// The NATS server authenticates no one and anonymous functions are not allowed.
    #[error(
        "the NATS server asks for no credentials, so nothing proves who sends a function; the serving side refuses them ([shared] anonymous_functions is off)"
    )]
    Anonymous,
}

/// Who may send a function on `subject`: the user its last token names, when the serving
/// side maps it to an extension. `authenticated` is whether the NATS server asks for
/// credentials (its INFO's `auth_required`); where it does not, the subject proves nothing
/// and `claimed_user` (what the viewer says) is all there is.
pub fn decide(
    policy: &Policy,
    site: &str,
    subject: &str,
    authenticated: bool,
    claimed_user: &str,
) -> Result<Grant, Refusal> {
    let user = user_of_subject(site, subject).ok_or(Refusal::NotACommandSubject)?;
    let claimed_user = claimed_user.to_owned();
    if !authenticated {
        if !policy.anonymous_functions {
            return Err(Refusal::Anonymous);
        }
        let extension = policy
            .users
            .get(user)
            .map(|r| r.extension.clone())
            .or_else(|| policy.own_extension.clone());
        return Ok(Grant {
            identity: Identity {
                user: ANONYMOUS.to_owned(),
                proof: Proof::Claimed,
                claimed_user,
            },
            extension,
        });
    }
    let rights = policy
        .users
        .get(user)
        .ok_or_else(|| Refusal::Unmapped(user.to_owned()))?;
    Ok(Grant {
        identity: Identity {
            user: user.to_owned(),
            proof: Proof::Nats,
            claimed_user,
        },
        extension: Some(rights.extension.clone()),
    })
}

/// Whether a viewer can send functions, as learnt at its start.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Standing {
    /// The serving side answered `hello` and takes its functions.
    Allowed,
    /// `--read-only` or `[ui] read_only`: nothing is sent from here.
    LocallyReadOnly,
    /// The NATS server does not let this user publish on its command subject.
    NotPermitted,
    /// The serving side answered and refuses this user's functions, for this reason.
    Refused(String),
    /// No answer to `hello` in [`HELLO_TIMEOUT`].
    NoServer,
}

impl Standing {
    /// Whether functions may be sent.
    pub fn allows(&self) -> bool {
        matches!(self, Standing::Allowed)
    }

    /// What the viewer shows, for `site`; nothing when functions can be sent.
    pub fn message(&self, site: &str) -> Option<String> {
        match self {
            Standing::Allowed => None,
            Standing::LocallyReadOnly => {
                Some("read-only mode: no function is sent (--read-only or [ui] read_only)".into())
            }
            Standing::NotPermitted => Some(format!(
                "read-only: not allowed to send functions on {site}"
            )),
            Standing::Refused(why) => Some(format!("read-only on {site}: {why}")),
            Standing::NoServer => Some(format!("no serving process for {site}")),
        }
    }
}

/// A request or reply that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not the JSON of such a message.
    #[error("not an ipo-top message: {0}")]
    Json(#[from] serde_json::Error),
    /// Written by another version of ipo-top.
    #[error(
        "message schema {0} is not understood (this ipo-top reads schema {SCHEMA}); run the same version on both sides"
    )]
    Schema(u32),
}

/// What a viewer asks the serving side.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Ask {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The local user at the viewer's keyboard: a claim, recorded alongside the identity
    /// NATS proves.
    pub local_user: String,
    /// What is asked.
    #[serde(flatten)]
    pub asking: Asking,
}

/// The kinds of [`Ask`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "snake_case")]
pub enum Asking {
    /// Is there a serving process, and does it take my functions?
    Hello,
    /// Send this function.
    Function {
        /// The viewer's number for it; every reply carries it.
        ticket: u64,
        /// The call it acts on, by line and callid (the viewer's appearance ids are its
        /// own); absent for queue and user functions.
        call: Option<AppearanceKey>,
        /// The command as the viewer's model made it.
        command: Command,
    },
}

/// What the serving side answers, on the request's reply subject.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Reply {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The answer.
    #[serde(flatten)]
    pub answer: Answer,
}

/// The kinds of [`Reply`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Answer {
    /// The serving process is there; whether it takes this user's functions.
    Hello {
        /// The site it serves.
        site: String,
        /// Why it takes no function from this user; `None`: it does.
        refused: Option<String>,
    },
    /// A step of the function with this ticket: sent, accepted, done, no effect, failed,
    /// refused.
    Status {
        /// The viewer's ticket.
        ticket: u64,
        /// Where it stands.
        status: CommandStatus,
    },
}

impl Ask {
    /// A request of this schema.
    pub fn new(local_user: impl Into<String>, asking: Asking) -> Ask {
        Ask {
            schema: SCHEMA,
            local_user: local_user.into(),
            asking,
        }
    }

    /// Reads a request; a message of another schema is refused by name.
    pub fn from_json(bytes: &[u8]) -> Result<Ask, WireError> {
        check_schema(bytes)?;
        Ok(serde_json::from_slice(bytes)?)
    }
}

impl Reply {
    /// A reply of this schema.
    pub fn new(answer: Answer) -> Reply {
        Reply {
            schema: SCHEMA,
            answer,
        }
    }

    /// Reads a reply; a message of another schema is refused by name.
    pub fn from_json(bytes: &[u8]) -> Result<Reply, WireError> {
        check_schema(bytes)?;
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The reply carrying a step of the function with `ticket`.
    pub fn status(ticket: u64, status: CommandStatus) -> Reply {
        Reply::new(Answer::Status { ticket, status })
    }

    /// The reply refusing the function with `ticket` before anything was sent.
    pub fn refused(ticket: u64, reason: impl Into<String>) -> Reply {
        Reply::status(
            ticket,
            CommandStatus::Refused {
                reason: reason.into().into(),
            },
        )
    }

    /// As JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Every field is a string, a number or a plain enum: encoding cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Ask {
    /// As JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Every field is a string, a number or a plain enum: encoding cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The schema is read first, so that a newer message says so instead of failing on a field.
fn check_schema(bytes: &[u8]) -> Result<(), WireError> {
    #[derive(Deserialize)]
    struct Versioned {
        schema: u32,
    }
    let v: Versioned = serde_json::from_slice(bytes)?;
    if v.schema == SCHEMA {
        Ok(())
    } else {
        Err(WireError::Schema(v.schema))
    }
}

/// The viewer's command as this model's: pointed at this model's appearance of the call the
/// viewer named, or refused with the reason the viewer is told.
pub fn resolve(
    model: &Tables,
    call: Option<&AppearanceKey>,
    command: Command,
) -> Result<Command, String> {
    match (command.appearance(), call) {
        (None, None) => Ok(command),
        (Some(_), Some(key)) => model
            .appearance_at(key)
            .map(|a| command.with_appearance(a.id))
            .ok_or_else(|| "that call has ended".to_owned()),
        (Some(_), None) => Err("the request names no call for a call function".to_owned()),
        (None, Some(_)) => Err("the request names a call for a function on no call".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            users: BTreeMap::from([(
                "alice".to_owned(),
                UserRights {
                    extension: "4101".to_owned(),
                },
            )]),
            anonymous_functions: false,
            own_extension: Some("4100".to_owned()),
        }
    }

    #[test]
    fn the_subject_names_the_user_and_nothing_else_does() {
        assert_eq!(command_subject("hq", "alice"), "ipo-top.hq.cmd.alice");
        assert_eq!(user_of_subject("hq", "ipo-top.hq.cmd.alice"), Some("alice"));
        // Another site, another kind of subject, a deeper subject: none names a user.
        for s in [
            "ipo-top.hq2.cmd.alice",
            "ipo-top.hq.audit",
            "ipo-top.hq.cmd.alice.x",
            "ipo-top.hq.cmd.",
            "ipo-top.hqcmd.alice",
        ] {
            assert_eq!(user_of_subject("hq", s), None, "{s}");
        }
    }

    #[test]
    fn an_authenticated_user_gets_its_own_extension_whatever_it_claims() {
        let g = decide(&policy(), "hq", "ipo-top.hq.cmd.alice", true, "bob").unwrap();
        assert_eq!(g.identity.user, "alice");
        assert_eq!(g.identity.proof, Proof::Nats);
        assert_eq!(g.identity.claimed_user, "bob");
        assert_eq!(g.extension.as_deref(), Some("4101"));
    }

    #[test]
    fn an_unmapped_user_may_not_send_functions() {
        let e = decide(&policy(), "hq", "ipo-top.hq.cmd.bob", true, "bob").unwrap_err();
        assert_eq!(e, Refusal::Unmapped("bob".to_owned()));
        assert!(e.to_string().contains("[shared.users.bob]"), "{e}");
    }

    #[test]
    fn without_authentication_functions_are_refused_unless_allowed_and_then_anonymous() {
        let e = decide(&policy(), "hq", "ipo-top.hq.cmd.alice", false, "ann").unwrap_err();
        assert_eq!(e, Refusal::Anonymous);
        let open = Policy {
            anonymous_functions: true,
            ..policy()
        };
        let g = decide(&open, "hq", "ipo-top.hq.cmd.anonymous", false, "ann").unwrap();
        assert_eq!(
            g.identity,
            Identity {
                user: ANONYMOUS.to_owned(),
                proof: Proof::Claimed,
                claimed_user: "ann".to_owned(),
            }
        );
        // No mapping for the claimed name: the serving side's own My line.
        assert_eq!(g.extension.as_deref(), Some("4100"));
        // A claimed name that is mapped keeps its line (one trusted box: still their phone).
        let g = decide(&open, "hq", "ipo-top.hq.cmd.alice", false, "ann").unwrap();
        assert_eq!(g.identity.user, ANONYMOUS);
        assert_eq!(g.extension.as_deref(), Some("4101"));
    }

    #[test]
    fn a_request_on_a_foreign_subject_is_refused() {
        let e = decide(&policy(), "hq", "ipo-top.other.cmd.alice", true, "a").unwrap_err();
        assert_eq!(e, Refusal::NotACommandSubject);
    }

    #[test]
    fn the_servers_permission_violation_is_recognised_for_the_subject_only() {
        let e = r#"Permissions Violation for Publish to "ipo-top.hq.cmd.bob""#;
        assert!(is_publish_denied(e, "ipo-top.hq.cmd.bob"));
        assert!(!is_publish_denied(e, "ipo-top.hq.cmd.bo"));
        assert!(!is_publish_denied(
            r#"Permissions Violation for Subscription to "ipo-top.hq.cmd.bob""#,
            "ipo-top.hq.cmd.bob"
        ));
    }

    #[test]
    fn tokens_exclude_what_would_change_a_subject() {
        assert!(is_token("alice") && is_token("team-lead_2"));
        for t in ["", "a.b", "*", ">", "a b", "ä"] {
            assert!(!is_token(t), "{t:?}");
        }
    }

    #[test]
    fn the_viewer_says_why_it_cannot_send() {
        assert_eq!(Standing::Allowed.message("hq"), None);
        assert_eq!(
            Standing::NotPermitted.message("hq").as_deref(),
            Some("read-only: not allowed to send functions on hq")
        );
        assert_eq!(
            Standing::NoServer.message("hq").as_deref(),
            Some("no serving process for hq")
        );
        assert!(!Standing::LocallyReadOnly.allows());
    }

    #[test]
    fn requests_and_replies_are_versioned_json_that_reads_back() {
        let key = AppearanceKey {
            line: crate::model::LineId::Queue(crate::model::Guid::from_bytes(&[0xAB, 0x01])),
            callid: 51,
        };
        let ask = Ask::new(
            "ann",
            Asking::Function {
                ticket: 7,
                call: Some(key),
                command: Command::Transfer {
                    on: crate::model::AppearanceId(3),
                    target: "4103".into(),
                },
            },
        );
        let json = String::from_utf8(ask.to_json()).unwrap();
        assert!(json.contains(r#""schema":1"#), "{json}");
        assert!(json.contains(r#""ask":"function""#), "{json}");
        assert!(
            json.contains(r#""line":{"kind":"queue","guid":"AB01"}"#),
            "{json}"
        );
        assert_eq!(Ask::from_json(json.as_bytes()).unwrap(), ask);
        let hello = Ask::new("ann", Asking::Hello);
        assert_eq!(Ask::from_json(&hello.to_json()).unwrap(), hello);

        for reply in [
            Reply::new(Answer::Hello {
                site: "hq".into(),
                refused: None,
            }),
            Reply::status(7, CommandStatus::Accepted),
            Reply::status(
                7,
                CommandStatus::Failed {
                    code: 3,
                    name: "X".into(),
                    meaning: "y".into(),
                },
            ),
            Reply::refused(7, "no"),
        ] {
            assert_eq!(Reply::from_json(&reply.to_json()).unwrap(), reply);
        }
    }

    #[test]
    fn another_schema_is_refused_by_name() {
        let e = Ask::from_json(br#"{"schema":2,"local_user":"x","ask":"hello"}"#).unwrap_err();
        assert!(e.to_string().contains("schema 2"), "{e}");
        let e = Reply::from_json(b"nonsense").unwrap_err();
        assert!(e.to_string().contains("not an ipo-top message"), "{e}");
    }

    #[test]
    fn a_call_function_needs_a_call_that_is_still_there() {
        let model = Tables::default();
        let on = crate::model::AppearanceId(3);
        let key = AppearanceKey {
            line: crate::model::LineId::ParkServer,
            callid: 1,
        };
        assert_eq!(
            resolve(&model, Some(&key), Command::Drop { on }),
            Err("that call has ended".to_owned())
        );
        assert!(resolve(&model, None, Command::Drop { on }).is_err());
        let dnd = Command::Dnd {
            user: crate::model::Guid::from_bytes(&[1]),
            on: true,
        };
        assert_eq!(resolve(&model, None, dnd.clone()), Ok(dnd.clone()));
        assert!(resolve(&model, Some(&key), dnd).is_err());
    }
}
