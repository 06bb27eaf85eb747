//! Reading back what the model's `Serialize` impls write, for readers that receive the model
//! as JSON (the shared mode's viewers): an enum written as its word, or as its number when the
//! document does not list it. A viewer reads thousands of these a second: the visitors here
//! take the words as the reader lends them, without buffering or copying.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

/// Whether a field holds its type's default: such fields are left out of the JSON (and read
/// back as the default), so a call or a user carries only what it has.
pub(super) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// The codes searched for a word: every enum the model writes as a word lists its values
/// within this range (the rest are written as numbers).
const SEARCHED: std::ops::RangeInclusive<i32> = 0..=64;

/// An enum written as its word (found among the codes in [`SEARCHED`]) or as its number.
pub(super) fn word_or_code<'de, D, T>(
    d: D,
    from_code: impl Fn(i32) -> T,
    word: impl Fn(&T) -> Option<&'static str>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct WordOrCode<C, W, T> {
        from_code: C,
        word: W,
        _t: PhantomData<T>,
    }
    impl<C, W, T> WordOrCode<C, W, T>
    where
        C: Fn(i32) -> T,
    {
        fn code<E: de::Error>(&self, c: i64) -> Result<T, E> {
            i32::try_from(c)
                .map(&self.from_code)
                .map_err(|_| E::custom(format!("code {c} out of range")))
        }
    }
    impl<'de, C, W, T> Visitor<'de> for WordOrCode<C, W, T>
    where
        C: Fn(i32) -> T,
        W: Fn(&T) -> Option<&'static str>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a word or a number")
        }
        fn visit_str<E: de::Error>(self, w: &str) -> Result<T, E> {
            SEARCHED
                .map(&self.from_code)
                .find(|v| (self.word)(v) == Some(w))
                .ok_or_else(|| E::custom(format!("unknown word {w:?}")))
        }
        fn visit_i64<E: de::Error>(self, c: i64) -> Result<T, E> {
            self.code(c)
        }
        fn visit_u64<E: de::Error>(self, c: u64) -> Result<T, E> {
            self.code(i64::try_from(c).unwrap_or(i64::MAX))
        }
    }
    d.deserialize_any(WordOrCode {
        from_code,
        word,
        _t: PhantomData,
    })
}

/// Bits written as the names of the functions they allow.
pub(super) fn names_to_bits<'de, D, F: Copy>(
    d: D,
    all: &[F],
    name: impl Fn(F) -> &'static str,
    bit: impl Fn(F) -> u32,
) -> Result<u32, D::Error>
where
    D: Deserializer<'de>,
{
    d.deserialize_seq(Names {
        all,
        name: &name,
        bit: &bit,
    })
}

/// Like [`names_to_bits`], for a list that may be `null` (`None`).
pub(super) fn optional_names_to_bits<'de, D, F: Copy>(
    d: D,
    all: &[F],
    name: impl Fn(F) -> &'static str,
    bit: impl Fn(F) -> u32,
) -> Result<Option<u32>, D::Error>
where
    D: Deserializer<'de>,
{
    d.deserialize_option(Optional(Names {
        all,
        name: &name,
        bit: &bit,
    }))
}

/// The names of a list, each to its bit.
struct Names<'a, F> {
    all: &'a [F],
    name: &'a dyn Fn(F) -> &'static str,
    bit: &'a dyn Fn(F) -> u32,
}

impl<F> Clone for Names<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for Names<'_, F> {}

impl<'de, F: Copy> Visitor<'de> for Names<'_, F> {
    type Value = u32;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of function names")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u32, A::Error> {
        let mut bits = 0u32;
        while let Some(b) = seq.next_element_seed(OneName(self))? {
            bits |= b;
        }
        Ok(bits)
    }
}

/// One name of the list, to its bit.
struct OneName<'a, F>(Names<'a, F>);

impl<'de, F: Copy> DeserializeSeed<'de> for OneName<'_, F> {
    type Value = u32;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u32, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, F: Copy> Visitor<'de> for OneName<'_, F> {
    type Value = u32;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a function name")
    }
    fn visit_str<E: de::Error>(self, n: &str) -> Result<u32, E> {
        let Names { all, name, bit } = self.0;
        all.iter()
            .find(|f| name(**f) == n)
            .map(|f| 1u32 << bit(*f))
            .ok_or_else(|| E::custom(format!("unknown function {n:?}")))
    }
}

/// A list of names, or `null`.
struct Optional<'a, F>(Names<'a, F>);

impl<'de, F: Copy> Visitor<'de> for Optional<'_, F> {
    type Value = Option<u32>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("null or a list of function names")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<u32>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<u32>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u32>, D::Error> {
        d.deserialize_seq(self.0).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CallFeatureBits, CallFunction, CallState, UserFeatureBits};

    #[test]
    fn a_word_or_its_number_reads_back_and_an_unknown_word_is_refused() {
        let state: CallState = serde_json::from_str("\"ONHOLD\"").unwrap();
        assert_eq!(state, CallState::from_code(state.code()));
        assert_eq!(serde_json::to_string(&state).unwrap(), "\"ONHOLD\"");
        // A code the document does not name is written, and read, as its number.
        let other = CallState::from_code(60);
        let text = serde_json::to_string(&other).unwrap();
        assert_eq!(serde_json::from_str::<CallState>(&text).unwrap(), other);
        // An escaped word is the same word.
        assert_eq!(
            serde_json::from_str::<CallState>("\"ONH\\u004fLD\"").unwrap(),
            state
        );
        let err = serde_json::from_str::<CallState>("\"SOMEWHERE\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown word \"SOMEWHERE\""),
            "{err}"
        );
        assert!(serde_json::from_str::<CallState>("1e99").is_err());
        assert!(serde_json::from_str::<CallState>("99999999999").is_err());
    }

    #[test]
    fn function_names_read_back_to_their_bits() {
        let bits = CallFeatureBits(
            (1 << CallFunction::Drop.bit()) | (1 << CallFunction::BlindTransfer.bit()),
        );
        let text = serde_json::to_string(&bits).unwrap();
        assert_eq!(text, r#"["DropCall","BlindTransfer"]"#);
        assert_eq!(
            serde_json::from_str::<CallFeatureBits>(&text).unwrap(),
            bits
        );
        assert_eq!(
            serde_json::from_str::<CallFeatureBits>("[]")
                .unwrap()
                .bits(),
            0
        );
        let err = serde_json::from_str::<CallFeatureBits>(r#"["DropCall","Fly"]"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown function \"Fly\""),
            "{err}"
        );
        assert!(serde_json::from_str::<CallFeatureBits>(r#""DropCall""#).is_err());
        // A user's list may be null: the PBX left it out.
        assert_eq!(
            serde_json::from_str::<UserFeatureBits>("null").unwrap(),
            UserFeatureBits(0)
        );
        let some = serde_json::from_str::<UserFeatureBits>("[]").unwrap();
        assert_eq!(some, UserFeatureBits(1));
    }
}
