//! Reading back what the model's `Serialize` impls write, for readers that receive the model
//! as JSON (the shared mode's viewers): an enum written as its word, or as its number when the
//! document does not list it.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum WordOrCode {
    Word(String),
    Code(i32),
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
    match WordOrCode::deserialize(d)? {
        WordOrCode::Code(c) => Ok(from_code(c)),
        WordOrCode::Word(w) => SEARCHED
            .map(&from_code)
            .find(|v| word(v) == Some(w.as_str()))
            .ok_or_else(|| serde::de::Error::custom(format!("unknown word {w:?}"))),
    }
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
    let names = Vec::<String>::deserialize(d)?;
    names.iter().try_fold(0u32, |bits, n| {
        all.iter()
            .find(|f| name(**f) == n)
            .map(|f| bits | (1u32 << bit(*f)))
            .ok_or_else(|| serde::de::Error::custom(format!("unknown function {n:?}")))
    })
}
