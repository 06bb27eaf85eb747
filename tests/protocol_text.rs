//! The document's text forms: every listed value has its phrase, anything else reads
//! `unknown (N)` and never panics.

use ipo_top::protocol::pb::call_info::{Direction, FailedCause, State};
use ipo_top::protocol::text::*;

#[test]
fn call_states_follow_the_enum_one_for_one() {
    // The tables are indexed by value: check each against the generated enum's own name so a
    // table shifted by one cannot pass.
    for v in 0..=23 {
        let state = State::try_from(v).expect("0..=23 are CallInfo states");
        assert_eq!(call_state_name(v), state.as_str_name(), "state {v}");
        assert!(!call_state_text(v).starts_with("unknown") || v == 0);
    }
    assert_eq!(call_state_text(State::Ringing as i32), "ringing");
    assert_eq!(
        call_state_text(State::Onholdpendtransfer as i32),
        "on hold pending transfer"
    );
    assert_eq!(
        call_state_text(State::Aftercallwork as i32),
        "after call work"
    );
    assert_eq!(call_state_name(24), "unknown (24)");
    assert_eq!(call_state_text(-1), "unknown (-1)");
}

#[test]
fn directions_and_failed_causes_follow_their_enums() {
    for v in 0..=3 {
        let d = Direction::try_from(v).expect("0..=3 are directions");
        assert_eq!(direction_name(v), d.as_str_name());
    }
    assert_eq!(direction_text(Direction::Inbound as i32), "inbound");
    assert_eq!(direction_text(4), "unknown (4)");
    for v in 0..=15 {
        let c = FailedCause::try_from(v).expect("0..=15 are failed causes");
        assert_eq!(failed_cause_name(v), c.as_str_name());
    }
    assert_eq!(
        failed_cause_text(FailedCause::Numberooo as i32),
        "number out of order"
    );
    assert_eq!(
        failed_cause_text(FailedCause::Noresponse as i32),
        "no response"
    );
    assert_eq!(
        failed_cause_text(i32::MIN),
        format!("unknown ({})", i32::MIN)
    );
}

#[test]
fn absence_notes_read_as_the_document_prints_them() {
    assert_eq!(absence_text(1, "3 May"), "ON HOLIDAY UNTIL 3 May");
    assert_eq!(absence_text(2, "2pm"), "WILL BE BACK 2pm");
    assert_eq!(absence_text(3, "1:30"), "AT LUNCH UNTIL 1:30");
    assert_eq!(absence_text(4, "11"), "MEETING UNTIL 11");
    assert_eq!(absence_text(5, "Sue"), "PLEASE CALL Sue");
    assert_eq!(absence_text(6, "4pm"), "DON'T DISTURB UNTIL 4pm");
    assert_eq!(absence_text(7, "3"), "WITH VISITOR UNTIL 3");
    assert_eq!(absence_text(8, "5"), "WITH CUSTOMER UNTIL 5");
    assert_eq!(absence_text(9, ""), "BACK SOON");
    assert_eq!(absence_text(10, "ignored"), "BACK TOMORROW");
    assert_eq!(absence_text(11, "In Leeds today"), "In Leeds today");
    // A phrase with nothing after it has no trailing space.
    assert_eq!(absence_text(1, ""), "ON HOLIDAY UNTIL");
    assert_eq!(absence_text(0, ""), "unknown (0)");
    assert_eq!(absence_text(12, "note"), "unknown (12) note");
}

#[test]
fn phone_states_are_table_1() {
    let table = [
        "Idle",
        "Dialling",
        "Ringing",
        "ACW",
        "Connected",
        "Logout",
        "Fault",
        "Recover",
        "Unknown state",
    ];
    for (v, text) in table.iter().enumerate() {
        assert_eq!(phone_state_text(v as i32), *text);
    }
    assert_eq!(phone_state_text(9), "unknown (9)");
}

#[test]
fn queue_and_call_details_in_words() {
    assert_eq!(ring_mode_text(0), "ringidle");
    assert_eq!(ring_mode_text(2), "group");
    assert_eq!(ring_mode_text(3), "unknown (3)");
    assert_eq!(service_mode_text(2), "night service");
    assert_eq!(service_mode_text(3), "out of service");
    assert_eq!(trunk_type_text(2), "ISDN");
    assert_eq!(trunk_type_text(7), "unknown (7)");
    assert_eq!(lost_reason_text(16), "Normal");
    assert_eq!(lost_reason_text(17), "unknown (17)");
}
