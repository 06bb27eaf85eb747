//! Commands against the simulator's call functions (as strict as the document): each goes on
//! the subscription of the appearance chosen, with its requestid, callid or referencecallid
//! (the simulator's command log says what it received), and comes back accepted then done,
//! accepted with no effect (the simulator's silent DropCall), or refused by the document's
//! name. The client's engine and the simulator run on virtual time.

#[path = "session_support/mod.rs"]
mod support;

use std::time::Duration;

use ipo_top::model::{
    Command, CommandId, CommandReport, CommandStatus, LineId, Priority, ServiceMode, Text,
};
use ipo_top::session::SessionConfig;
use ipo_top::sim::conn::{CommandRecord, ConnConfig};
use ipo_top::sim::pbx::{DropCallMode, FunctionPolicy};
use support::Pair;

/// Three callers: A in Claims Desk (7301), B in Roadside (7302), both ringing an agent; nobody
/// answers unless the test says so.
/// (The steps, on `support::quiet_demo`.)
const STEPS: &str = r#"
[[step]]
at = 0
call = { queue = "7301", number = "01632960301", name = "A" }

[[step]]
at = 0
call = { queue = "7302", number = "01632960302", name = "B" }
"#;

const A: &str = "01632960301";
const B: &str = "01632960302";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn site(conn: ConnConfig) -> Pair {
    let mut l = Pair::scripted(
        &support::quiet_demo(STEPS),
        conn,
        SessionConfig {
            supervisor_extension: Some("4100".into()),
            ..SessionConfig::default()
        },
    );
    l.advance(secs(3));
    assert!(!l.syncs.is_empty());
    l
}

fn statuses(l: &Pair, id: CommandId) -> Vec<CommandStatus> {
    l.reports_of(id).into_iter().map(|r| r.status).collect()
}

fn last(l: &Pair, id: CommandId) -> CommandReport {
    l.reports_of(id).pop().expect("a report")
}

/// What the simulator logged for the command's requestid.
fn record(l: &Pair, id: CommandId) -> CommandRecord {
    let rid = last(l, id).requestid.expect("sent with a requestid");
    l.records
        .iter()
        .find(|r| r.requestid == rid)
        .cloned()
        .expect("the simulator received it")
}

fn done(status: &CommandStatus) -> bool {
    matches!(status, CommandStatus::Done { .. })
}

#[test]
fn a_transfer_from_the_queue_is_accepted_then_done_and_sent_on_the_queues_subscription() {
    let mut l = site(ConnConfig::default());
    let q = LineId::Queue(l.queue_guid("7301"));
    let a = l
        .appearance(&q, A)
        .map(|a| (a.id, a.key.callid))
        .expect("A");
    let id = l.command(Command::Transfer {
        on: a.0,
        target: Text::from("4100"),
    });
    let s = statuses(&l, id);
    assert!(
        matches!(&s[..], [CommandStatus::Sent, CommandStatus::Accepted, CommandStatus::Done { effect }]
            if effect.contains("4100")),
        "{s:?}"
    );
    let r = record(&l, id);
    assert_eq!(
        (
            r.subscription.as_str(),
            r.extn.as_str(),
            r.command.as_str(),
            r.function.as_str(),
            r.argument.as_str(),
            r.callid,
        ),
        (
            "queue",
            "7301",
            "callfunction",
            "BlindTransfer",
            "4100",
            a.1
        )
    );
    assert_eq!(Some(r.subscribe_id), last(&l, id).subscribe_id);
    // The supervisor's phone rings with A.
    assert_eq!(l.ringing_with(A).as_deref(), Some("4100"));
}

#[test]
fn each_refusal_comes_back_by_the_documents_name() {
    let mut l = site(ConnConfig::default());
    let q = LineId::Queue(l.queue_guid("7301"));
    let a = l.appearance_id(&q, A);
    let expect = |l: &Pair, id: CommandId, name: &str| {
        let r = last(l, id);
        assert!(
            matches!(&r.status, CommandStatus::Failed { name: n, meaning, .. } if n == name && !meaning.is_empty()),
            "{r:?}"
        );
    };
    // No such extension: 612.
    let id = l.command(Command::Transfer {
        on: a,
        target: Text::from("9999"),
    });
    expect(&l, id, "MTCTISESS_CALLCONTROL_TRANSFERFAILED");
    // An account code the system does not have: 604.
    let id = l.command(Command::AccountCode {
        on: a,
        code: Text::from("0000"),
    });
    expect(&l, id, "MTCTISESS_CALLCONTROL_BADACCT");
    // Park in slot 5, then park B in the same slot: 613.
    let id = l.command(Command::Park {
        on: a,
        slot: Text::from("5"),
    });
    assert!(done(&last(&l, id).status), "{:?}", statuses(&l, id));
    let b = l.appearance_id(&LineId::Queue(l.queue_guid("7302")), B);
    let id = l.command(Command::Park {
        on: b,
        slot: Text::from("5"),
    });
    expect(&l, id, "MTCTISESS_CALLCONTROL_PARKFAILED");
}

#[test]
fn a_silent_drop_is_accepted_but_shows_no_effect() {
    let mut l = site(ConnConfig {
        functions: FunctionPolicy {
            drop_call: DropCallMode::NoEffect,
            ..FunctionPolicy::default()
        },
        ..ConnConfig::default()
    });
    let q = LineId::Queue(l.queue_guid("7301"));
    let a = l.appearance_id(&q, A);
    let id = l.command(Command::Drop { on: a });
    assert_eq!(
        statuses(&l, id),
        [CommandStatus::Sent, CommandStatus::Accepted]
    );
    l.advance(secs(10));
    assert_eq!(
        last(&l, id).status,
        CommandStatus::NoEffect {
            accepted: true,
            waited_secs: 10
        }
    );
    assert!(
        l.client.model().appearance(a).is_some(),
        "the call is still there"
    );
    // The same DropCall on a strict system: done.
    let mut l = site(ConnConfig::default());
    let a = l.appearance_id(&LineId::Queue(l.queue_guid("7301")), A);
    let id = l.command(Command::Drop { on: a });
    assert!(done(&last(&l, id).status), "{:?}", statuses(&l, id));
}

#[test]
fn barge_and_pickup_come_from_the_supervisors_line_with_their_types() {
    let mut l = site(ConnConfig::default());
    // Agent X answers A; B rings agent Y.
    let x = l.ringing_with(A).expect("an agent rings with A");
    let y = l.ringing_with(B).expect("an agent rings with B");
    let xid = l.user(&x);
    assert!(l.server.pbx.answer_ringing(xid));
    l.drive();
    let on_x = l.appearance_id(&LineId::User(l.user_guid(&x)), A);
    let id = l.command(Command::Barge { on: on_x });
    let s = statuses(&l, id);
    assert!(
        matches!(s.last(), Some(CommandStatus::Done { .. })),
        "{s:?}"
    );
    let r = record(&l, id);
    assert_eq!(
        (
            r.subscription.as_str(),
            r.extn.as_str(),
            r.command.as_str(),
            r.function.as_str(),
            r.argument.as_str(),
        ),
        ("user", "4100", "makecall", "Intrude", x.as_str())
    );
    assert_eq!(Some(r.referencecallid), last(&l, id).reference);

    // Pick up B (chosen on the queue) from the supervisor's line: type 108 to Y.
    let b = l.appearance_id(&LineId::Queue(l.queue_guid("7302")), B);
    let id = l.command(Command::Pickup { on: b });
    let r = record(&l, id);
    assert_eq!(
        (r.extn.as_str(), r.function.as_str(), r.argument.as_str()),
        ("4100", "Pickup", y.as_str())
    );
    assert_ne!(Some(r.referencecallid), None);
    let s = statuses(&l, id);
    assert!(
        matches!(s.last(), Some(CommandStatus::Done { .. })),
        "{s:?}"
    );
    // B is now the supervisor's, picked up.
    let sup = l
        .appearance(&LineId::User(l.user_guid("4100")), B)
        .map(|a| (a.call.state, a.call.direction));
    assert_eq!(
        sup,
        Some((
            ipo_top::model::CallState::Connected,
            ipo_top::model::Direction::Pickup
        ))
    );
}

#[test]
fn park_then_unpark_to_the_supervisor() {
    let mut l = site(ConnConfig::default());
    let a = l.appearance_id(&LineId::Queue(l.queue_guid("7301")), A);
    let id = l.command(Command::Park {
        on: a,
        slot: Text::from("6"),
    });
    assert!(done(&last(&l, id).status), "{:?}", statuses(&l, id));
    let parked = l
        .client
        .model()
        .parked()
        .find(|p| p.call.park_slot == "6")
        .map(|p| p.id)
        .expect("A parked in slot 6");
    let id = l.command(Command::Unpark { parked });
    let s = statuses(&l, id);
    assert!(
        matches!(s.last(), Some(CommandStatus::Done { .. })),
        "{s:?}"
    );
    let r = record(&l, id);
    assert_eq!(
        (r.extn.as_str(), r.command.as_str(), r.argument.as_str()),
        ("4100", "unparkcall", "6")
    );
}

#[test]
fn queue_and_user_settings_are_done_when_the_pbx_reports_them() {
    let mut l = site(ConnConfig::default());
    let b = l.appearance_id(&LineId::Queue(l.queue_guid("7302")), B);
    let roadside = l.queue_guid("7302");
    let claims = l.queue_guid("7301");
    for cmd in [
        Command::Priority {
            on: b,
            priority: Priority::High,
        },
        Command::Tag {
            on: b,
            tag: Text::from("VIP"),
        },
        Command::AccountCode {
            on: b,
            code: Text::from("1001"),
        },
        Command::ServiceMode {
            queue: roadside.clone(),
            mode: ServiceMode::NightService,
        },
        Command::Member {
            queue: claims.clone(),
            extn: Text::from("4109"),
            enabled: false,
        },
        Command::Dnd {
            user: l.user_guid("4102"),
            on: true,
        },
    ] {
        let what = cmd.describe();
        let id = l.command(cmd);
        let s = statuses(&l, id);
        assert!(
            matches!(s.last(), Some(CommandStatus::Done { .. })),
            "{what}: {s:?}"
        );
    }
    assert_eq!(
        l.client.model().queue(&roadside).map(|q| q.service_mode()),
        Some(ServiceMode::NightService)
    );
    // Asking for what already is: refused up front, nothing sent.
    let sent = l.records.len();
    let id = l.command(Command::Dnd {
        user: l.user_guid("4102"),
        on: true,
    });
    assert!(matches!(last(&l, id).status, CommandStatus::Refused { .. }));
    assert_eq!(l.records.len(), sent);
}

#[test]
fn nothing_is_sent_or_queued_while_disconnected() {
    let mut l = site(ConnConfig::default());
    let a = l.appearance_id(&LineId::Queue(l.queue_guid("7301")), A);
    l.reachable = false;
    l.drop_link("connection reset by peer");
    let id = l.command(Command::Drop { on: a });
    assert!(
        matches!(&last(&l, id).status, CommandStatus::Refused { reason } if reason.contains("not connected"))
    );
    l.reachable = true;
    let before = l.records.len();
    l.advance(secs(5));
    assert!(l.client.is_connected());
    assert_eq!(l.records.len(), before, "nothing was queued");
}
