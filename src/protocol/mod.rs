//! The MTCTI3 codec: the generated schema types ([`pb`]), framing, the typed command vocabulary
//! ([`cmd`]), constructors for every message a client sends ([`msg`]), typed bit sets, result
//! codes, the presence values and the document's text forms.
//!
//! Pure: no I/O, no clock, no async runtime. Everything here is total on input from the network:
//! decoding returns a typed error, never panics.

pub mod bits;
pub mod cmd;
pub mod codes;
pub mod frame;
pub mod limits;
pub mod msg;
pub mod pb;
pub mod presence;
pub mod text;

/// The encoded `FileDescriptorSet` of `proto/mtcti3.proto`, for checking the schema itself.
pub const DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mtcti3.descriptor.bin"));

pub use frame::{
    DECODE_MEMORY_BUDGET, FrameError, Framing, MAX_FRAME_LEN, decode, decode_memory_bound, encode,
    encode_into,
};
pub use limits::BuildError;
