//! Framing of one MTCTI3 message in one websocket binary frame.
//!
//! On `/tpkt/openapi` each frame is the four octets `00 00 00 01` ("framed protocol buffer")
//! followed by one encoded `Message`; on `/tpkt/openapinoframing` a frame is the bare `Message`.

use prost::Message as _;

use super::pb;
use super::pb::Message;

/// The header that precedes every framed message: 0x00000001 = framed protocol buffer.
pub const FRAME_HEADER: [u8; 4] = [0, 0, 0, 1];

/// The largest frame this codec accepts or produces, header included (8 MiB).
///
/// The first lines Notify of a 3000-user site is about 120 KB, so this leaves ample room while
/// keeping a hostile or broken peer from making us buffer or decode without bound.
pub const MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

/// The most memory decoding one frame may take (64 MiB), beyond the frame itself.
///
/// The frame limit alone does not bound memory: an empty repeated element costs two bytes on
/// the wire but a whole struct once decoded (a `CallInfo` is close to a kilobyte), so a dense
/// hostile frame could grow a thousandfold. Frames small enough to stay within this budget at
/// that worst ratio are decoded at once; larger ones are first measured (see [`decode`]).
pub const DECODE_MEMORY_BUDGET: usize = 64 * 1024 * 1024;

/// prost's nesting limit: deeper messages fail to decode, so nothing below is ever allocated.
const RECURSION_LIMIT: u32 = 100;

/// Every message type that appears as a *repeated* field: the only ones decoding puts on the
/// heap (singular sub-messages live inside their parent). `tests/protocol_schema.rs` checks that
/// this list stays complete.
const REPEATED_ELEMENT_SIZES: [usize; 12] = [
    size_of::<pb::CallInfo>(),
    size_of::<pb::CallLost>(),
    size_of::<pb::CallInstance>(),
    size_of::<pb::ConferenceMember>(),
    size_of::<pb::EndInfo>(),
    size_of::<pb::LinesQueue>(),
    size_of::<pb::LinesUser>(),
    size_of::<pb::NotifyPresentity>(),
    size_of::<pb::Presentity>(),
    size_of::<pb::QueueMember>(),
    size_of::<pb::ShortCodeData>(),
    size_of::<pb::Target>(),
];

/// What one length-delimited field may cost once decoded, at most: the largest repeated element,
/// three times over, since a growing `Vec` doubles its capacity and a moving reallocation holds
/// the old block and the new one at once.
const ELEMENT_COST: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < REPEATED_ELEMENT_SIZES.len() {
        if REPEATED_ELEMENT_SIZES[i] > max {
            max = REPEATED_ELEMENT_SIZES[i];
        }
        i += 1;
    }
    3 * max
};

/// Payloads up to this length (about 47 KB) cannot exceed the budget however they are made (at
/// most one element per two bytes, plus the bytes themselves as strings), so they skip the
/// measuring.
const UNMEASURED_LEN: usize = DECODE_MEMORY_BUDGET / (ELEMENT_COST / 2 + 1);

/// Which of the two documented stream forms a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// `/tpkt/openapi`: `00 00 00 01` + payload.
    #[default]
    Framed,
    /// `/tpkt/openapinoframing`: the payload alone.
    NoFraming,
}

impl Framing {
    /// The websocket path that selects this framing.
    pub fn path(self) -> &'static str {
        match self {
            Framing::Framed => "/tpkt/openapi",
            Framing::NoFraming => "/tpkt/openapinoframing",
        }
    }

    #[inline]
    fn header_len(self) -> usize {
        match self {
            Framing::Framed => FRAME_HEADER.len(),
            Framing::NoFraming => 0,
        }
    }
}

/// Why a frame could not be turned into a `Message` (or a `Message` into a frame).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum FrameError {
    /// Fewer than the four header octets arrived.
    #[error("short frame: {len} byte(s), a framed message needs at least 4")]
    Short {
        /// The length that arrived.
        len: usize,
    },
    /// The first four octets were not `00 00 00 01`.
    #[error("wrong frame header {0:02X?}, expected [00, 00, 00, 01]")]
    BadHeader([u8; 4]),
    /// The frame is larger than [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes is over the codec's limit of {max} bytes")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit, [`MAX_FRAME_LEN`].
        max: usize,
    },
    /// Decoding the frame could take more memory than [`DECODE_MEMORY_BUDGET`]: it is far
    /// denser than any real MTCTI3 traffic.
    #[error(
        "frame of {len} bytes could take up to {estimate} bytes of memory to decode, over the \
         codec's budget of {budget} bytes; refused as broken or hostile"
    )]
    TooComplex {
        /// The frame's length.
        len: usize,
        /// The most memory decoding could take, as measured.
        estimate: usize,
        /// The budget, [`DECODE_MEMORY_BUDGET`].
        budget: usize,
    },
    /// The payload is not a valid MTCTI3 `Message`.
    #[error("undecodable payload: {0}")]
    Undecodable(String),
}

/// Decodes one websocket binary frame into a `Message`.
///
/// Total and bounded on hostile input: it never panics, and it never allocates without bound.
/// - The frame's length is checked against [`MAX_FRAME_LEN`] before anything is decoded.
/// - Strings and bytes are allocated only after prost has checked that their length fits in
///   what remains of the frame, so they add at most the frame's length.
/// - Nesting deeper than prost's recursion limit (100) fails before anything deeper is decoded.
/// - Repeated elements are the one way a small frame becomes large in memory. A payload too
///   long to be safe at the worst ratio is first walked once (no allocation, linear time) to
///   bound what decoding it could take; over [`DECODE_MEMORY_BUDGET`] it is refused with
///   [`FrameError::TooComplex`] before decoding starts. Real traffic (a 3000-user lines list
///   is about 120 KB and needs a few MB) stays far below the budget.
#[inline]
pub fn decode(frame: &[u8], framing: Framing) -> Result<Message, FrameError> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len: frame.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let payload = match framing {
        Framing::NoFraming => frame,
        Framing::Framed => {
            let Some((header, payload)) = frame.split_first_chunk::<4>() else {
                return Err(FrameError::Short { len: frame.len() });
            };
            if *header != FRAME_HEADER {
                return Err(FrameError::BadHeader(*header));
            }
            payload
        }
    };
    if payload.len() > UNMEASURED_LEN {
        let estimate = decode_cost(payload, 0, DECODE_MEMORY_BUDGET).0;
        if estimate > DECODE_MEMORY_BUDGET {
            return Err(FrameError::TooComplex {
                len: frame.len(),
                estimate,
                budget: DECODE_MEMORY_BUDGET,
            });
        }
    }
    Message::decode(payload).map_err(|e| FrameError::Undecodable(e.to_string()))
}

/// An upper bound on the heap memory decoding `payload` (a bare message, no header) could
/// take, measured without allocating. [`decode`] refuses a payload whose bound is over
/// [`DECODE_MEMORY_BUDGET`].
pub fn decode_memory_bound(payload: &[u8]) -> usize {
    decode_cost(payload, 0, usize::MAX).0
}

/// An upper bound on the memory decoding `buf` as a message could take, and whether `buf` is
/// well-formed wire data throughout. Schema-free, so it assumes the worst: every
/// length-delimited field that parses as a message may be a repeated element of the largest
/// type, and is also counted as a string of its length. Elements inside a field that breaks off
/// part-way are still counted, since prost allocates them before it meets the fault. Stops
/// early (returning more than `budget`) once the budget is exceeded.
fn decode_cost(mut buf: &[u8], depth: u32, budget: usize) -> (usize, bool) {
    let mut cost = 0usize;
    while !buf.is_empty() {
        if cost > budget {
            return (cost, false);
        }
        let Some((key, rest)) = read_varint(buf) else {
            return (cost, false);
        };
        buf = rest;
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return (cost, false);
        }
        let skipped = match key & 7 {
            0 => read_varint(buf).map(|(_, rest)| rest),
            1 => buf.get(8..),
            5 => buf.get(4..),
            2 => match read_len(buf) {
                Some((content, rest)) => {
                    cost = cost.saturating_add(content.len());
                    if depth < RECURSION_LIMIT {
                        let (inner, whole) =
                            decode_cost(content, depth + 1, budget - cost.min(budget));
                        cost = cost.saturating_add(inner);
                        if whole {
                            cost = cost.saturating_add(ELEMENT_COST);
                        }
                    }
                    Some(rest)
                }
                None => None,
            },
            3 => skip_group(buf, field, depth + 1),
            _ => None,
        };
        match skipped {
            Some(rest) => buf = rest,
            None => return (cost, false),
        }
    }
    (cost, true)
}

/// Skips a (deprecated) group up to its end marker, as prost skips an unknown field: nothing
/// inside it is decoded, so nothing inside costs memory.
fn skip_group(mut buf: &[u8], field: u64, depth: u32) -> Option<&[u8]> {
    if depth > RECURSION_LIMIT {
        return None;
    }
    loop {
        let (key, rest) = read_varint(buf)?;
        buf = match key & 7 {
            0 => read_varint(rest)?.1,
            1 => rest.get(8..)?,
            5 => rest.get(4..)?,
            2 => read_len(rest)?.1,
            3 => skip_group(rest, key >> 3, depth + 1)?,
            4 if key >> 3 == field => return Some(rest),
            _ => return None,
        };
    }
}

/// A length prefix and the bytes it covers.
fn read_len(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = read_varint(buf)?;
    let len = usize::try_from(len).ok()?;
    (len <= rest.len()).then(|| rest.split_at(len))
}

/// A base-128 varint of at most ten bytes.
fn read_varint(buf: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, b) in buf.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return buf.get(i + 1..).map(|rest| (value, rest));
        }
    }
    None
}

/// Encodes a `Message` into a fresh frame of exactly the right capacity.
///
/// The message's length is computed once, so encoding walks the message no more often than
/// plain prost does; the header and the size check are all that is added.
#[inline]
pub fn encode(msg: &Message, framing: Framing) -> Result<Vec<u8>, FrameError> {
    let len = framing.header_len() + msg.encoded_len();
    if len > MAX_FRAME_LEN {
        return Err(too_large(len));
    }
    let mut out = Vec::with_capacity(len);
    if framing == Framing::Framed {
        out.extend_from_slice(&FRAME_HEADER);
    }
    // Cannot fail: a Vec grows as needed.
    msg.encode_raw(&mut out);
    Ok(out)
}

/// Encodes a `Message` as a frame appended to `out` (which is not cleared), so a caller can
/// reuse one buffer.
#[inline]
pub fn encode_into(msg: &Message, framing: Framing, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let len = framing.header_len() + msg.encoded_len();
    if len > MAX_FRAME_LEN {
        return Err(too_large(len));
    }
    out.reserve(len);
    if framing == Framing::Framed {
        out.extend_from_slice(&FRAME_HEADER);
    }
    msg.encode_raw(out);
    Ok(())
}

/// The error for an oversized frame, kept out of line so the encoders stay small.
#[cold]
#[inline(never)]
fn too_large(len: usize) -> FrameError {
    FrameError::TooLarge {
        len,
        max: MAX_FRAME_LEN,
    }
}
