//! Feeds arbitrary bytes to the frame decoder in both framings. Whatever decodes must re-encode
//! and decode back to the same message; nothing may panic. The decoder's memory measure is
//! exercised directly too, since fuzz inputs are shorter than the size that triggers it.

#![no_main]

use ipo_top::protocol::{Framing, decode, decode_memory_bound, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_memory_bound(data);
    for framing in [Framing::Framed, Framing::NoFraming] {
        if let Ok(msg) = decode(data, framing) {
            let bytes = encode(&msg, framing).expect("a decoded message re-encodes");
            let again = decode(&bytes, framing).expect("a re-encoded message decodes");
            assert_eq!(again, msg, "decode(encode(m)) == m");
        }
    }
});
