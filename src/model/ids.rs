//! Identities and the cheap shared text the model is built from.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Immutable shared text: names and numbers from the PBX. Cloning is a reference-count bump,
/// so events that carry names stay cheap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Arc<str>);

/// The one empty text every empty field shares: most of a snapshot's texts are empty, and
/// each would otherwise be an allocation of its own.
static EMPTY: std::sync::LazyLock<Text> = std::sync::LazyLock::new(|| Text(Arc::from("")));

impl Text {
    /// The empty text.
    pub fn empty() -> Text {
        EMPTY.clone()
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
        if s.is_empty() {
            return Text::empty();
        }
        Text(Arc::from(s))
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

macro_rules! byte_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<[u8]>);

        impl $name {
            /// From the bytes on the wire.
            pub fn from_bytes(bytes: &[u8]) -> Self {
                $name(Arc::from(bytes))
            }

            /// The bytes on the wire.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// Whether the PBX sent no bytes at all.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// From hex digits (either case), as [`Self::to_hex`] writes them.
            pub fn from_hex(hex: &str) -> Option<Self> {
                let digits = hex.as_bytes();
                if !digits.len().is_multiple_of(2) {
                    return None;
                }
                let bytes = digits
                    .chunks(2)
                    .map(|pair| {
                        let s = std::str::from_utf8(pair).ok()?;
                        u8::from_str_radix(s, 16).ok()
                    })
                    .collect::<Option<Vec<u8>>>()?;
                Some($name::from_bytes(&bytes))
            }

            /// Upper-case hex, the way the document prints it.
            pub fn to_hex(&self) -> String {
                use fmt::Write as _;
                let mut s = String::with_capacity(self.0.len() * 2);
                for b in self.0.iter() {
                    // Writing to a String cannot fail.
                    let _ = write!(s, "{b:02X}");
                }
                s
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in self.0.iter() {
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
                let hex = String::deserialize(d)?;
                $name::from_hex(&hex).ok_or_else(|| {
                    serde::de::Error::custom(format!("expected hex digits, got {hex:?}"))
                })
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
