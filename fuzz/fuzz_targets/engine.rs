//! Drives the client's session engine with arbitrary sequences of inputs: frames (arbitrary
//! bytes behind a valid header, so the decoder passes most of them to the engine), ticks with
//! arbitrary time steps, commands, closes, refused logins, retries. The property: nothing
//! panics, and after every input each of the engine's maps and queues is within its cap
//! (`EngineSizes::over_cap`).
//!
//! The input is a sequence of operations, one byte of kind then its arguments (the seed
//! writer in `tests/faults_caps.rs` writes the same format from recorded simulator traffic):
//! - `0`: the link is open (`handle_connected`)
//! - `1 LEN_HI LEN_LO BYTES`: a websocket frame; its bytes are given whole
//! - `2 HI LO`: time moves on by the u16 in tenths of a second, deadlines are handled
//! - `3`: the link closed; `4`: the login was refused; `5`: retry; `6`: a pong
//! - `7 N`: a supervisor's command (drop or transfer) on the N-th appearance held
//! - `8 B`: the primary answered a probe (B odd) or not

#![no_main]

use std::time::{Duration, Instant};

use ipo_top::model::{Command, CommandId, Text};
use ipo_top::session::{Disconnect, Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let mut session = Session::new(SessionConfig::default(), now);
    let mut next_command = 1u64;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 9 {
            0 => session.handle_connected(now),
            1 => {
                let Some((len, tail)) = take_u16(rest) else {
                    break;
                };
                let len = usize::from(len).min(tail.len());
                let (frame, tail) = tail.split_at(len);
                rest = tail;
                session.handle_frame(now, frame);
            }
            2 => {
                let Some((step, tail)) = take_u16(rest) else {
                    break;
                };
                rest = tail;
                now += Duration::from_millis(u64::from(step) * 100);
                session.handle_timeout(now);
            }
            3 => session.handle_closed(now, Disconnect::Failed("closed".to_owned())),
            4 => session.handle_closed(now, Disconnect::LoginRejected("401".to_owned())),
            5 => session.retry(now),
            6 => session.handle_pong(now),
            7 => {
                let Some((&n, tail)) = rest.split_first() else {
                    break;
                };
                rest = tail;
                let held: Vec<_> = session.model().appearances().map(|a| a.id).collect();
                if let Some(&on) = held.get(usize::from(n) % held.len().max(1)) {
                    let command = if n % 2 == 0 {
                        Command::Drop { on }
                    } else {
                        Command::Transfer {
                            on,
                            target: Text::from("4101"),
                        }
                    };
                    session.handle_command(now, CommandId(next_command), command);
                    next_command += 1;
                }
            }
            _ => {
                let Some((&b, tail)) = rest.split_first() else {
                    break;
                };
                rest = tail;
                session.handle_probe(now, b % 2 == 1);
            }
        }
        // The I/O task and the reader take everything, as they do between inputs.
        while session.poll_io().is_some() {}
        while session.poll_transmit().is_some() {}
        while session.poll_event().is_some() {}
        if let Some(over) = session.sizes().over_cap() {
            panic!("over its cap after {} input bytes: {over}", data.len() - rest.len());
        }
    }
});

fn take_u16(data: &[u8]) -> Option<(u16, &[u8])> {
    let (hi, rest) = data.split_first()?;
    let (lo, rest) = rest.split_first()?;
    Some((u16::from_be_bytes([*hi, *lo]), rest))
}
