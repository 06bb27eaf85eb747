//! Identities and the cheap shared text the model is built from.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

/// Immutable text: names and numbers from the PBX. Held in place up to 23 bytes (nearly every
/// name and number: making one allocates nothing, dropping one frees nothing, a snapshot's
/// dozen texts cost no trip to the allocator), shared behind a reference count beyond that,
/// so cloning is never a copy of the characters and events that carry names stay cheap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(SmolStr);

impl Text {
    /// The empty text.
    pub fn empty() -> Text {
        Text(SmolStr::default())
    }

    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::empty()
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

// Hashes and compares as the `str` it holds, so maps keyed by text are searched by `&str`.
impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(SmolStr::new(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::from(s.as_str())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

/// The bytes of a GUID or gcid. The PBX's are 16 and 9 bytes long, so up to 16 bytes are held
/// in place: no allocation to make one, no reference count to copy one, and comparing two
/// (the ordered indexes of users and calls are keyed by them) is one 128-bit comparison
/// instead of a `memcmp`. Longer ones (any length is accepted) are shared.
#[derive(Clone)]
enum IdBytes {
    /// Up to 16 bytes, zero-padded; `len` of them are the id. Every id that fits is held so,
    /// which the equality below relies on.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// More than 16 bytes.
    Shared(Arc<[u8]>),
}

/// The most id bytes held in place.
const INLINE: usize = 16;

impl IdBytes {
    fn new(b: &[u8]) -> IdBytes {
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                bytes.iter_mut().zip(b).for_each(|(to, from)| *to = *from);
                IdBytes::Inline { len, bytes }
            }
            _ => IdBytes::Shared(Arc::from(b)),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            IdBytes::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(bytes),
            IdBytes::Shared(b) => b,
        }
    }

    /// The first 16 bytes, zero-padded, as a big-endian number: ordering by it, then by the
    /// whole bytes when it is equal, is the bytes' lexicographic order.
    fn head(&self) -> u128 {
        match self {
            IdBytes::Inline { bytes, .. } => u128::from_be_bytes(*bytes),
            IdBytes::Shared(b) => {
                let mut head = [0u8; INLINE];
                head.iter_mut()
                    .zip(b.iter())
                    .for_each(|(to, from)| *to = *from);
                u128::from_be_bytes(head)
            }
        }
    }
}

impl PartialEq for IdBytes {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (IdBytes::Inline { len: a, bytes: x }, IdBytes::Inline { len: b, bytes: y }) => {
                a == b && u128::from_ne_bytes(*x) == u128::from_ne_bytes(*y)
            }
            (IdBytes::Shared(a), IdBytes::Shared(b)) => a == b,
            // An id that fits is never shared.
            _ => false,
        }
    }
}

impl Eq for IdBytes {}

impl Ord for IdBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.head()
            .cmp(&other.head())
            .then_with(|| match (self, other) {
                // Equal heads: the shorter is a prefix of the longer.
                (IdBytes::Inline { len: a, .. }, IdBytes::Inline { len: b, .. }) => a.cmp(b),
                _ => self.as_bytes().cmp(other.as_bytes()),
            })
    }
}

impl PartialOrd for IdBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for IdBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            IdBytes::Inline { len, bytes } => {
                state.write_u8(*len);
                state.write_u128(u128::from_ne_bytes(*bytes));
            }
            IdBytes::Shared(b) => {
                // Never equal to an inline id, so hashing it apart is consistent.
                state.write_u8(u8::MAX);
                state.write(b);
            }
        }
    }
}

macro_rules! byte_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(IdBytes);

        impl $name {
            /// From the bytes on the wire.
            pub fn from_bytes(bytes: &[u8]) -> Self {
                $name(IdBytes::new(bytes))
            }

            /// The bytes on the wire.
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }

            /// Whether the PBX sent no bytes at all.
            pub fn is_empty(&self) -> bool {
                self.as_bytes().is_empty()
            }

            /// From hex digits (either case), as [`Self::to_hex`] writes them.
            pub fn from_hex(digits: &str) -> Option<Self> {
                // An id that fits in place is decoded in place, without an allocation.
                let mut buf = [0u8; INLINE];
                match buf.get_mut(..digits.len() / 2) {
                    Some(out) => {
                        hex::decode_to_slice(digits, out).ok()?;
                        Some($name::from_bytes(out))
                    }
                    None => hex::decode(digits).ok().map(|b| $name::from_bytes(&b)),
                }
            }

            /// Upper-case hex, the way the document prints it.
            pub fn to_hex(&self) -> String {
                hex::encode_upper(self.as_bytes())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in self.as_bytes() {
                    write!(f, "{b:02X}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Digits;
                impl serde::de::Visitor<'_> for Digits {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("hex digits")
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        $name::from_hex(s)
                            .ok_or_else(|| E::custom(format!("expected hex digits, got {s:?}")))
                    }
                }
                d.deserialize_str(Digits)
            }
        }
    };
}

byte_id! {
    /// The GUID of a user or queue, from the lines list: the identity that survives renames,
    /// reconnects and renumbering.
    Guid
}

byte_id! {
    /// The global call identity: every appearance of one call (on its queue, its agents and
    /// the park server) carries the same gcid. Not unique across PBX restarts.
    Gcid
}

/// A line the model follows: one user, one queue, or the park server. Call appearances belong
/// to exactly one line.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "guid", rename_all = "snake_case")]
pub enum LineId {
    /// A user (an agent, a supervisor, anyone with an extension).
    User(Guid),
    /// A queue (hunt group).
    Queue(Guid),
    /// The park server: appearances here are parked calls.
    ParkServer,
}

impl LineId {
    /// The GUID, for user and queue lines.
    pub fn guid(&self) -> Option<&Guid> {
        match self {
            LineId::User(g) | LineId::Queue(g) => Some(g),
            LineId::ParkServer => None,
        }
    }
}

impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineId::User(g) => write!(f, "user {g}"),
            LineId::Queue(g) => write!(f, "queue {g}"),
            LineId::ParkServer => f.write_str("park server"),
        }
    }
}

/// Where a call appearance lives on the wire: its line and the callid the PBX gave it there.
/// A callid is unique only within one subscription, so it is always paired with its line.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct AppearanceKey {
    /// The line (subscription entity) the appearance is reported on.
    pub line: LineId,
    /// The PBX's callid on that line; functions on this appearance are sent with it.
    pub callid: i32,
}

/// The model's own stable identity for a call appearance. It stays the same when a
/// resubscription gives the same call a new callid, so a selection can hold it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppearanceId(pub u64);

impl fmt::Display for AppearanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_prints_as_the_document_prints_it() {
        let g = Guid::from_bytes(&[0xDC, 0x51, 0xBA, 0x00]);
        assert_eq!(g.to_string(), "DC51BA00");
        assert_eq!(g.to_hex(), "DC51BA00");
        assert_eq!(
            serde_json::to_string(&g).ok().as_deref(),
            Some("\"DC51BA00\"")
        );
    }

    #[test]
    fn ids_read_back_from_hex_in_place_or_long_and_bad_digits_are_refused() {
        let short = Guid::from_bytes(&[0xE5, 0xF0, 0x5E, 0x92, 0x36, 0x5C, 0x71, 0xA8]);
        let long = Gcid::from_bytes(&[0xAB; 20]);
        for (text, id) in [
            ("E5F05E92365C71A8", short.as_bytes()),
            ("e5f05e92365c71a8", short.as_bytes()),
            (&long.to_hex(), long.as_bytes()),
            ("", &[][..]),
        ] {
            assert_eq!(
                Gcid::from_hex(text).as_ref().map(Gcid::as_bytes),
                Some(id),
                "{text}"
            );
        }
        for bad in [
            "E5F",
            "ZZ",
            "E5F05E92365C71A8E5F05E92365C71A8E5F05E92365C71A8E",
            "é1",
        ] {
            assert_eq!(Guid::from_hex(bad), None, "{bad}");
        }
        let back: Gcid = serde_json::from_str(&serde_json::to_string(&long).unwrap()).unwrap();
        assert_eq!(back, long);
        let err = serde_json::from_str::<Guid>("\"XYZ\"").unwrap_err();
        assert!(
            err.to_string().contains("expected hex digits, got \"XYZ\""),
            "{err}"
        );
        assert!(serde_json::from_str::<Guid>("12").is_err());
    }

    proptest::proptest! {
        /// Ids compare, hash and print as the bytes they hold, whether held in place or
        /// shared (the ordered indexes rely on the bytes' own order).
        #[test]
        fn ids_order_as_their_bytes(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        ) {
            use std::hash::BuildHasher as _;
            let (x, y) = (Guid::from_bytes(&a), Guid::from_bytes(&b));
            proptest::prop_assert_eq!(x.as_bytes(), a.as_slice());
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
            let hasher = std::collections::hash_map::RandomState::new();
            if x == y {
                proptest::prop_assert_eq!(hasher.hash_one(&x), hasher.hash_one(&y));
            }
            proptest::prop_assert_eq!(x.clone(), x.clone());
        }
    }

    #[test]
    fn ids_of_the_same_bytes_with_and_without_a_zero_tail_differ() {
        let short = Gcid::from_bytes(&[1, 0xC0]);
        let long = Gcid::from_bytes(&[1, 0xC0, 0]);
        assert!(short < long);
        assert_ne!(short, long);
        let shared = Gcid::from_bytes(&[7; 17]);
        assert!(Gcid::from_bytes(&[7; 16]) < shared);
        assert!(shared < Gcid::from_bytes(&[8]));
        assert_eq!(shared.as_bytes().len(), 17);
    }

    #[test]
    fn line_ids_serialise_with_their_kind() {
        let l = LineId::Queue(Guid::from_bytes(&[1, 2]));
        assert_eq!(
            serde_json::to_string(&l).ok().as_deref(),
            Some(r#"{"kind":"queue","guid":"0102"}"#)
        );
        assert_eq!(
            serde_json::to_string(&LineId::ParkServer).ok().as_deref(),
            Some(r#"{"kind":"park_server"}"#)
        );
    }
}
