//! The command log: one [`CommandRecord`] per SubscribeCmd received, saying in words what was
//! asked and how it was answered.

use super::notify::Kind;
use crate::protocol::cmd::{MakeCallType, ServiceMode};
use crate::protocol::codes::ResultCode;
use crate::protocol::pb;
use crate::sim::pbx::Pbx;

/// One SubscribeCmd as received and answered, for the command log (one JSON line each).
/// Strings are empty where they do not apply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandRecord {
    /// Milliseconds since the simulator started, on its own clock (filled in by the server).
    pub t_ms: u64,
    /// The site's time of day, `HH:MM:SS.mmm` (filled in by the server).
    pub time: String,
    /// The connection (numbered from 1 by the server).
    pub conn: u64,
    /// `SubscribeCmd.requestid`.
    pub requestid: i32,
    /// `SubscribeCmd.subscribe_id`.
    pub subscribe_id: i32,
    /// What the subscription is: `user`, `queue`, `parkserver`, `lines`, `presence`, or
    /// `none` when the subscribe_id is not live.
    pub subscription: String,
    /// The extension of the user or queue the subscription names.
    pub extn: String,
    /// Its name.
    pub name: String,
    /// The command: `callfunction`, `makecall`, `unparkcall`, `reference` (a referencecallid
    /// asserted), `user`, `queue`, `presence`, `timeout`, or `none` (no payload).
    pub command: String,
    /// The call function (`BlindTransfer`...), the MakeCall type (`Normal`, `Intrude`,
    /// `Pickup`...), or the parts of a user or queue update (`sac`, `addmember`...).
    pub function: String,
    /// `arg1`, the MakeCall target, the park slot, or the update's values.
    pub argument: String,
    /// `UpdateCallControl.callid`.
    pub callid: i32,
    /// `UpdateCallControl.referencecallid`.
    pub referencecallid: i32,
    /// The RequestResponse result (computed even when a fault withholds the response).
    pub result: i32,
    /// The result's name, e.g. `MTCTISESS_CALLCONTROL_TRANSFERFAILED`.
    pub result_name: String,
}

/// The record of a SubscribeCmd on a subscription following `kind` (`None`: not live),
/// answered with `code`. Time and connection are left for the server to fill in.
pub(super) fn record_of(
    c: &pb::SubscribeCmd,
    kind: Option<&Kind>,
    code: ResultCode,
    pbx: &Pbx,
) -> CommandRecord {
    let (subscription, extn, name) = match kind {
        None => ("none", String::new(), String::new()),
        Some(Kind::Lines { .. }) => ("lines", String::new(), String::new()),
        Some(Kind::Presence { .. }) => ("presence", String::new(), String::new()),
        Some(Kind::Park { .. }) => ("parkserver", String::new(), String::new()),
        Some(Kind::User { user, .. }) => {
            let u = pbx.user(*user);
            (
                "user",
                u.map(|u| u.spec.extn.clone()).unwrap_or_default(),
                u.map(|u| u.spec.name.clone()).unwrap_or_default(),
            )
        }
        Some(Kind::Queue { queue, .. }) => {
            let q = pbx.queue(*queue);
            (
                "queue",
                q.map(|q| q.extn.clone()).unwrap_or_default(),
                q.map(|q| q.name.clone()).unwrap_or_default(),
            )
        }
    };
    let (command, function, argument, callid, referencecallid) = describe(c);
    CommandRecord {
        t_ms: 0,
        time: String::new(),
        conn: 0,
        requestid: c.requestid,
        subscribe_id: c.subscribe_id,
        subscription: subscription.to_string(),
        extn,
        name,
        command: command.to_string(),
        function,
        argument,
        callid,
        referencecallid,
        result: code.code(),
        result_name: code.name().unwrap_or("unknown").to_string(),
    }
}

/// A SubscribeCmd in words: (command, function, argument, callid, referencecallid).
fn describe(c: &pb::SubscribeCmd) -> (&'static str, String, String, i32, i32) {
    use pb::subscribe_cmd::Payload as P;
    match &c.payload {
        None => ("none", String::new(), String::new(), 0, 0),
        Some(P::Timeout(t)) => ("timeout", String::new(), t.to_string(), 0, 0),
        Some(P::Presence(p)) => (
            "presence",
            String::new(),
            format!("add {} remove {}", p.add.len(), p.remove.len()),
            0,
            0,
        ),
        Some(P::User(u)) => {
            let mut parts = Vec::new();
            let mut args = Vec::new();
            if let Some(sac) = &u.sac {
                parts.push("sac");
                args.push(format!("sac={}", sac.set));
            }
            if let Some(a) = &u.absence {
                parts.push("absence");
                let text = a
                    .absence
                    .as_ref()
                    .map(|x| format!(" msg={} str={}", x.msg, x.str));
                args.push(format!("absence={}{}", a.set, text.unwrap_or_default()));
            }
            if let Some(e) = &u.ec500 {
                parts.push("ec500");
                args.push(format!("ec500={}", e.set));
            }
            if !u.shortcodedata.is_empty() {
                parts.push("shortcodedata");
                for s in &u.shortcodedata {
                    args.push(format!("shortcode={};{}", s.code, s.val));
                }
            }
            if let Some(l) = &u.loginextn {
                parts.push("loginextn");
                args.push(format!("loginextn={}", l.extn));
            }
            if let Some(a) = &u.app {
                parts.push("app");
                args.push(format!("app={}", a.value));
            }
            if let Some(f) = &u.fwdu {
                parts.push("fwdu");
                args.push(format!("fwdu={} {}", f.set, f.fwdu_number));
            }
            ("user", parts.join("+"), args.join(" "), 0, 0)
        }
        Some(P::Queue(q)) => {
            let members = |list: &[pb::QueueMember]| -> String {
                list.iter()
                    .map(|m| {
                        if m.disabled {
                            format!("{}(disabled)", m.extn)
                        } else {
                            m.extn.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut parts = Vec::new();
            let mut args = Vec::new();
            if let Some(m) = &q.setservicemode {
                parts.push("setservicemode");
                let name = ServiceMode::from_pb(m.servicemode)
                    .map_or_else(|| m.servicemode.to_string(), |s| s.name().to_string());
                args.push(format!("servicemode={name}"));
            }
            if let Some(v) = &q.setvoicemail {
                parts.push("setvoicemail");
                args.push(format!("voicemail={}", v.enabled));
            }
            if let Some(m) = &q.members {
                parts.push("members");
                args.push(format!("members={}", members(&m.member)));
            }
            if !q.addmember.is_empty() {
                parts.push("addmember");
                args.push(format!("addmember={}", members(&q.addmember)));
            }
            if !q.deletemember.is_empty() {
                parts.push("deletemember");
                args.push(format!("deletemember={}", members(&q.deletemember)));
            }
            ("queue", parts.join("+"), args.join(" "), 0, 0)
        }
        Some(P::Callcontrol(u)) => {
            let (cmd, function, argument) = if let Some(m) = &u.makecall {
                let kind = MakeCallType::from_code(m.r#type)
                    .map_or_else(|| format!("type {}", m.r#type), |k| format!("{k:?}"));
                ("makecall", kind, m.target.clone())
            } else if let Some(p) = &u.unparkcall {
                ("unparkcall", String::new(), p.parkid.clone())
            } else if let Some(f) = &u.callfunction {
                let name = pb::call_function::Action::try_from(f.action).map_or_else(
                    |_| format!("action {}", f.action),
                    |a| a.as_str_name().to_string(),
                );
                ("callfunction", name, f.arg1.clone())
            } else {
                ("reference", String::new(), String::new())
            };
            (cmd, function, argument, u.callid, u.referencecallid)
        }
    }
}
