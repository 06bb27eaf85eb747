//! Framing errors, and the memory a hostile frame can make decoding take.
//!
//! This binary counts every allocation made on the test's own thread, so it can check that
//! `decode_memory_bound` really bounds what prost allocates, and that the dense frames which
//! would take gigabytes are refused before decoding starts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ipo_top::protocol::pb::{self, message::Payload};
use ipo_top::protocol::{
    DECODE_MEMORY_BUDGET, FrameError, Framing, MAX_FRAME_LEN, decode, decode_memory_bound, encode,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use prost::Message as _;

/// Counts the bytes live on the current thread and their peak.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(by: usize) {
    LIVE.with(|live| {
        let now = live.get().saturating_add(by);
        live.set(now);
        PEAK.with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(by: usize) {
    LIVE.with(|live| live.set(live.get().saturating_sub(by)));
}

// SAFETY: every call is passed straight to the system allocator; the bookkeeping only touches
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A moving realloc briefly holds both blocks.
        grew(new_size);
        shrank(layout.size());
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak of extra heap memory `f` takes on this thread.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    (out, peak)
}

fn varint(mut v: usize, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    varint(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

/// `Message { notify { callcontrol { callinfo: [element; n] } } }` built byte by byte.
fn dense_callcontrol(element: &[u8], n: usize) -> Vec<u8> {
    let elements = element.repeat(n);
    let callcontrol = field(0x72, &elements); // Notify.callcontrol = 14
    field(0x42, &callcontrol) // Message.notify = 8
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1];
    f.extend_from_slice(payload);
    f
}

#[test]
fn framing_errors_are_typed_and_say_what_is_wrong() {
    for short in [&[][..], &[0], &[0, 0, 0]] {
        let err = decode(short, Framing::Framed).unwrap_err();
        assert_eq!(err, FrameError::Short { len: short.len() });
    }
    let err = decode(&[0, 0, 0, 2, 0x4A, 0], Framing::Framed).unwrap_err();
    assert_eq!(err, FrameError::BadHeader([0, 0, 0, 2]));
    assert_eq!(
        err.to_string(),
        "wrong frame header [00, 00, 00, 02], expected [00, 00, 00, 01]"
    );
    // A bare frame starting 00 00 00 01 is a payload like any other: field 0 is invalid.
    assert!(matches!(
        decode(&[0, 0, 0, 1], Framing::NoFraming),
        Err(FrameError::Undecodable(_))
    ));
    // The header alone is an empty Message: nothing set, which the caller ignores.
    assert_eq!(
        decode(&[0, 0, 0, 1], Framing::Framed),
        Ok(pb::Message::default())
    );
    assert!(matches!(
        decode(&framed(&[0x42, 0x05, 0x08]), Framing::Framed),
        Err(FrameError::Undecodable(_))
    ));
}

#[test]
fn frames_over_the_limit_are_refused_both_ways() {
    let big = vec![0u8; MAX_FRAME_LEN + 1];
    for framing in [Framing::Framed, Framing::NoFraming] {
        assert_eq!(
            decode(&big, framing),
            Err(FrameError::TooLarge {
                len: MAX_FRAME_LEN + 1,
                max: MAX_FRAME_LEN
            })
        );
    }
    let huge = pb::Message {
        payload: Some(Payload::Subscribeterminated(pb::SubscribeTerminated {
            subscribe_id: 1,
            reason: "x".repeat(MAX_FRAME_LEN),
        })),
    };
    assert!(matches!(
        encode(&huge, Framing::Framed),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn a_dense_frame_of_empty_calls_is_refused_before_decoding() {
    // Two bytes per CallInfo on the wire, close to a kilobyte each in memory: 500 000 of them
    // (1 MB) would take about a gigabyte.
    let frame = framed(&dense_callcontrol(&[0x12, 0x00], 500_000));
    let (result, peak) = peak_during(|| decode(&frame, Framing::Framed));
    match result {
        Err(FrameError::TooComplex {
            len,
            estimate,
            budget,
        }) => {
            assert_eq!(len, frame.len());
            assert!(estimate > budget);
            assert_eq!(budget, DECODE_MEMORY_BUDGET);
        }
        other => panic!("expected TooComplex, got {other:?}"),
    }
    assert_eq!(peak, 0, "refused without allocating");
}

#[test]
fn unknown_groups_cannot_hide_elements_from_the_measure() {
    // Each CallInfo carries an empty unknown group (field 1), which prost skips: the elements
    // still decode, so they must still be counted.
    let small = dense_callcontrol(&[0x12, 0x02, 0x0B, 0x0C], 3);
    let Some(Payload::Notify(n)) = pb::Message::decode(&small[..]).unwrap().payload else {
        panic!("a notify")
    };
    let Some(pb::notify::Payload::Callcontrol(cc)) = n.payload else {
        panic!("call control")
    };
    assert_eq!(cc.callinfo.len(), 3);
    let frame = dense_callcontrol(&[0x12, 0x02, 0x0B, 0x0C], 300_000);
    assert!(matches!(
        decode(&frame, Framing::NoFraming),
        Err(FrameError::TooComplex { .. })
    ));
}

#[test]
fn a_3000_user_lines_list_decodes_within_the_budget() {
    let lines = pb::NotifyLines {
        flags: 3,
        adduser: (0..3000)
            .map(|i| pb::LinesUser {
                guid: (0..16).map(|b| (i * 7 + b) as u8).collect(),
                extn: format!("{}", 2000 + i),
                name: format!("Agent {i:04} Surname"),
            })
            .collect(),
        addqueue: (0..200)
            .map(|i| pb::LinesQueue {
                guid: vec![i as u8; 16],
                extn: format!("{}", 8000 + i),
                name: format!("Queue {i}"),
            })
            .collect(),
        ..Default::default()
    };
    let msg = pb::Message {
        payload: Some(Payload::Notify(pb::Notify {
            subscribe_id: 1,
            notify_id: 1,
            payload: Some(pb::notify::Payload::Lines(lines)),
            ..Default::default()
        })),
    };
    let frame = encode(&msg, Framing::Framed).unwrap();
    assert!(
        frame.len() > 100_000,
        "about the size the issue quotes: {}",
        frame.len()
    );
    let bound = decode_memory_bound(&frame[4..]);
    assert!(bound < DECODE_MEMORY_BUDGET / 4, "bound {bound}");
    let (decoded, peak) = peak_during(|| decode(&frame, Framing::Framed));
    assert_eq!(decoded.unwrap(), msg);
    assert!(peak <= bound, "peak {peak} over bound {bound}");
}

#[test]
fn a_dense_frame_under_the_measuring_size_stays_under_the_budget() {
    // The largest dense frame decoded without measuring still fits the budget.
    let payload = dense_callcontrol(&[0x12, 0x00], 20_000);
    let bound = decode_memory_bound(&payload);
    assert!(bound <= DECODE_MEMORY_BUDGET, "bound {bound}");
    let (decoded, peak) = peak_during(|| decode(&payload, Framing::NoFraming));
    assert!(decoded.is_ok());
    assert!(peak <= bound, "peak {peak} over bound {bound}");
    assert!(peak > 15_000_000, "it really is dense: {peak}");
}

fn config() -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(0xB0_17D),
        failure_persistence: None,
        ..Config::default()
    }
}

fn element() -> impl Strategy<Value = Vec<u8>> {
    // Fragments that prost turns into heap: empty or small repeated elements at several levels,
    // strings, unknown groups, and junk.
    prop_oneof![
        Just(vec![0x12, 0x00]),
        Just(vec![0x12, 0x02, 0x0B, 0x0C]),
        Just(vec![0x1A, 0x00]),
        Just(vec![0x12, 0x03, 0xA2, 0x03, 0x00]), // callinfo { conferencemember {} }
        Just(vec![0x12, 0x05, 0x9A, 0x03, 0x02, 0x0A, 0x00]), // callinfo { localinfo { gcid } }
        proptest::collection::vec(any::<u8>(), 0..6),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_bound_covers_what_decoding_allocates(parts in proptest::collection::vec(element(), 0..64), n in 1..50usize) {
        let mut elements = Vec::new();
        for _ in 0..n {
            for p in &parts {
                elements.extend_from_slice(p);
            }
        }
        let callcontrol = field(0x72, &elements);
        let payload = field(0x42, &callcontrol);
        let bound = decode_memory_bound(&payload);
        let (_, peak) = peak_during(|| pb::Message::decode(&payload[..]));
        prop_assert!(peak <= bound, "peak {} over bound {}", peak, bound);
    }
}
