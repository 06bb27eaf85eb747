//! The model's side of commands: which appearance an agent row's function acts on, and each
//! function checked against the line it is on and what the PBX offers now.

use std::time::Instant;

use ipo_top::model::{
    CallFeatureBits, CallFunction, CallSnapshot, CallState, Command, Direction, Gcid, Guid,
    LineEntry, LineId, Model, Party, PlannedAction, Priority, SupervisorCall, Text,
    UserFeatureBits, UserStatus,
};

fn guid(b: u8) -> Guid {
    Guid::from_bytes(&[0xDC, 0x51, b])
}

fn snap(callid: i32, state: CallState, features: u32) -> CallSnapshot {
    CallSnapshot {
        callid,
        state,
        direction: Direction::Inbound,
        gcid: Some(Gcid::from_bytes(&[1, 2, callid as u8])),
        features: CallFeatureBits(features),
        calling: Some(Party {
            number: format!("0207946{callid:04}").into(),
            ..Party::default()
        }),
        ..CallSnapshot::default()
    }
}

/// Agent 4101, supervisor 4190 (MAKECALL allowed), queue 7301.
fn site(t: Instant) -> Model {
    let mut m = Model::new();
    for (b, extn) in [(1, "4101"), (90, "4190")] {
        m.upsert_user(
            t,
            LineEntry {
                guid: guid(b),
                extn: extn.into(),
                name: format!("User {extn}").into(),
            },
        );
        m.set_user_status(
            t,
            &guid(b),
            Text::empty(),
            Text::empty(),
            UserStatus {
                features: UserFeatureBits(0x0000_02FF),
                ..UserStatus::default()
            },
        );
    }
    m.upsert_queue(LineEntry {
        guid: guid(9),
        extn: "7301".into(),
        name: "Claims Desk".into(),
    });
    m
}

#[test]
fn a_function_on_an_agent_row_acts_on_the_ringing_call_then_the_connected_then_the_held() {
    let t = Instant::now();
    let mut m = site(t);
    let agent = LineId::User(guid(1));
    m.call_info(t, agent.clone(), snap(1, CallState::OnHold, 0x0D));
    let id = |m: &Model, callid| {
        m.appearances()
            .find(|a| a.key.callid == callid)
            .map(|a| a.id)
    };
    assert_eq!(m.shown_appearance(&guid(1)).map(|a| a.id), id(&m, 1));
    m.call_info(t, agent.clone(), snap(2, CallState::Connected, 0x95));
    assert_eq!(m.shown_appearance(&guid(1)).map(|a| a.id), id(&m, 2));
    m.call_info(t, agent.clone(), snap(3, CallState::Ringing, 0x23));
    assert_eq!(m.shown_appearance(&guid(1)).map(|a| a.id), id(&m, 3));
    let all: Vec<_> = m
        .appearances_by_precedence(&guid(1))
        .iter()
        .map(|a| a.key.callid)
        .collect();
    assert_eq!(all, [3, 2, 1], "Enter lists them all, in that order");
}

#[test]
fn each_function_is_checked_against_its_line_type_and_feature_bit() {
    let t = Instant::now();
    let mut m = site(t);
    m.call_info(
        t,
        LineId::Queue(guid(9)),
        snap(51, CallState::Queueing, 0x6060_E091),
    );
    m.call_info(
        t,
        LineId::User(guid(1)),
        snap(5, CallState::Connected, 0x0060_609D),
    );
    let queued = m.appearances().find(|a| a.key.callid == 51).map(|a| a.id);
    let talking = m.appearances().find(|a| a.key.callid == 5).map(|a| a.id);
    let (Some(queued), Some(talking)) = (queued, talking) else {
        panic!("two appearances");
    };
    let plan = |m: &Model, c: Command| m.plan(&c, Some("4190"));
    // Allowed: on the appearance's own line, with its callid.
    let p = plan(
        &m,
        Command::Priority {
            on: queued,
            priority: Priority::High,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.line, LineId::Queue(guid(9)));
    assert_eq!(
        p.action,
        PlannedAction::Function {
            callid: 51,
            function: CallFunction::SetPriority,
            arg: "3".into()
        }
    );
    // Redirect is not offered on the queued call now (bit 5 clear in 0x6060E091).
    assert!(
        plan(
            &m,
            Command::Redirect {
                on: queued,
                target: "4101".into()
            }
        )
        .is_err_and(|e| e.contains("does not offer Redirect"))
    );
    // Hold is for user lines only, whatever the bits say.
    assert!(
        plan(&m, Command::Hold { on: queued })
            .is_err_and(|e| e.contains("HoldCall works on a user's own calls only"))
    );
    // Barge: MakeCall 106 from the supervisor's line to the agent's extension.
    let p = plan(&m, Command::Barge { on: talking }).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.line, LineId::User(guid(90)));
    assert_eq!(
        p.action,
        PlannedAction::MakeCall {
            target: "4101".into(),
            kind: SupervisorCall::Intrude
        }
    );
    // Barge needs a connected call; pickup a ringing one.
    assert!(plan(&m, Command::Barge { on: queued }).is_err());
    assert!(plan(&m, Command::Pickup { on: talking }).is_err());
    // Without a supervisor extension: refused, with what to set.
    assert!(
        m.plan(&Command::Barge { on: talking }, None)
            .is_err_and(|e| e.contains("[supervisor] extension"))
    );
    // An empty target is refused before anything is built.
    assert!(
        plan(
            &m,
            Command::Transfer {
                on: queued,
                target: "  ".into()
            }
        )
        .is_err_and(|e| e.contains("empty"))
    );
}
