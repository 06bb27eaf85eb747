//! What a shared viewer pays per change: reading one bucket value (a call appearance, a user)
//! back into the model, and what the serving side pays to write it. The values are ones the
//! scale site's serving side wrote (a queue call held by an agent; an agent talking), read and
//! written again so that they are in this build's form.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use ipo_top::model::WallClock;
use ipo_top::share::value::{call_from_json, call_to_json, user_from_json, user_to_json};

const CALL: &str = r#"{"schema":1,"id":35,"key":{"line":{"kind":"user","guid":"E5F05E92365C71A8C3CE0050569F6EF8"},"callid":2},"line":{"extn":"100048","name":"Agent 100048"},"first_seen_ms":1796672738964,"state_since_ms":1796672757611,"state_observed":true,"present_at_connect":true,"features_bits":6316185,"call":{"callid":2,"reference_callid":0,"related_callid":0,"state":"ONHOLD","direction":"INBOUND","active_held":false,"gcid":"01C0A82A0B000014EA","features":["DropCall","UnHoldCall","BlindTransfer","Park","SetTag","SetAccountCode","ForceClear","SetAuthCode"],"features2":0,"called":"030070048","calling":{"number":"02079460393","name_type":9},"connected":{"number":"02079460393","name_type":9},"original_called":{"number":"70048","name":"Group 70048","name_type":5},"tag":"","account_code":"","mute":false,"failed_cause":"UNSET","recording":false,"recording_paused":false,"park_slot":"","far_absence":null,"page_call":false,"conference":[],"dial":null,"trunk":{"kind":"SIP","did":"030070048"},"queue":{"number":"70048","name":"Group 70048","priority":1},"call_data":{"language":"eng","emergency":false,"privacy":false,"secure":false,"remote_privacy":false},"notes":"","targets":[]}}"#;

const USER: &str = r#"{"schema":1,"guid":"67337D6C35FE32B1595C0050569F6EF8","extn":"100824","name":"Agent 100824","status":{"full_name":"Agent 100824","email":"","language":"eng","features":["SAC","ABSENCE","EC500","LOGIN","SHORTCODE","MAKECALL","FWDU","APP"],"dnd":false,"barred":false,"ex_directory":false,"voicemail":true,"logged_in_extn":"100824","extn_fault":false,"logged_off":false,"absence":null,"mailbox":{"new":0,"old":0,"saved":0},"app":"","no_app_handler":true,"ec500":false,"forwarding":{"unconditional":false,"busy":false,"no_answer":false,"hunt_group":false,"unconditional_number":"","busy_number":"","to_voicemail":false},"offswitch":true},"phone":"Connected","agent":"TALK","agent_observed":true,"agent_since_ms":1796672757606,"features_bits":767,"stats":{"answered":1,"talk_ms":14763,"acw_ms":0,"since_ms":1796672738378}}"#;

fn main() {
    let clock = WallClock::utc(Instant::now(), 1_796_672_760_000);
    let (call, _) = call_from_json(CALL.as_bytes(), &clock).expect("a call value");
    let call_bytes = call_to_json(&call, None, &clock);
    let user = user_from_json(USER.as_bytes(), &clock).expect("a user value");
    let user_bytes = user_to_json(&user, &clock);
    println!(
        "call value {} bytes (as written before empty fields were left out: {}), user value {} bytes (before: {})",
        call_bytes.len(),
        CALL.len(),
        user_bytes.len(),
        USER.len()
    );

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("call value");
    g.bench_function("read (viewer)", |b| {
        b.iter(|| call_from_json(black_box(&call_bytes), &clock))
    });
    g.bench_function("write (serve)", |b| {
        b.iter(|| call_to_json(black_box(&call), None, &clock))
    });
    g.finish();
    let mut g = c.benchmark_group("user value");
    g.bench_function("read (viewer)", |b| {
        b.iter(|| user_from_json(black_box(&user_bytes), &clock))
    });
    g.bench_function("write (serve)", |b| {
        b.iter(|| user_to_json(black_box(&user), &clock))
    });
    g.finish();
    c.final_summary();
}
