//! Framing of one MTCTI3 message in one websocket binary frame.
//!
//! On `/tpkt/openapi` each frame is the four octets `00 00 00 01` ("framed protocol buffer")
//! followed by one encoded `Message`; on `/tpkt/openapinoframing` a frame is the bare `Message`.

use prost::Message as _;

use super::pb::Message;

/// The header that precedes every framed message: 0x00000001 = framed protocol buffer.
pub const FRAME_HEADER: [u8; 4] = [0, 0, 0, 1];

/// The largest frame this codec accepts or produces, header included (8 MiB).
///
/// The first lines Notify of a 3000-user site is about 120 KB, so this leaves ample room while
/// keeping a hostile or broken peer from making us buffer or decode without bound.
pub const MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

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
    /// The payload is not a valid MTCTI3 `Message`.
    #[error("undecodable payload: {0}")]
    Undecodable(String),
}

/// Decodes one websocket binary frame into a `Message`.
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
    Message::decode(payload).map_err(|e| FrameError::Undecodable(e.to_string()))
}

/// Encodes a `Message` into a fresh frame.
pub fn encode(msg: &Message, framing: Framing) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(framing.header_len() + msg.encoded_len());
    encode_into(msg, framing, &mut out)?;
    Ok(out)
}

/// Encodes a `Message` as a frame appended to `out` (which is not cleared), so a caller can
/// reuse one buffer.
pub fn encode_into(msg: &Message, framing: Framing, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let len = framing.header_len() + msg.encoded_len();
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    out.reserve(len);
    if framing == Framing::Framed {
        out.extend_from_slice(&FRAME_HEADER);
    }
    // Cannot fail: `out` grows as needed.
    msg.encode_raw(out);
    Ok(())
}
