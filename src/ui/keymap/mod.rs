//! The keymap is data: one table of (context, keys, action, description) that drives key
//! dispatch, the help overlay and the status-line hints, so they can never disagree.
//!
//! The `[keys]` section of the configuration overrides the keys of single actions (the rest
//! keep their defaults): `quit = "x"` or `down = ["Down", "n"]`. A key bound to two actions in
//! one context is refused, naming both.

mod action;
mod defaults;
mod key;

pub use action::{Binding, Context, KeyAction};
pub use key::{KEY_SYNTAX, Key, KeyCode, KeyParseError};

use defaults::default_table_with;

use crate::model::Function;
/// A keymap that cannot be used.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum KeymapError {
    /// `[keys]` names an action that does not exist.
    #[error("no such action `{name}`; the actions are {}", known_actions())]
    UnknownAction {
        /// The name given.
        name: String,
    },
    /// `[keys]` gives an action no key at all.
    #[error("give {action} at least one key")]
    NoKeys {
        /// The action.
        action: &'static str,
    },
    /// A key cannot be read.
    #[error("{action}: {source}")]
    BadKey {
        /// The action.
        action: &'static str,
        /// What is wrong with the key.
        source: KeyParseError,
    },
    /// A key is bound to two actions where both apply.
    #[error(
        "key {key} is bound twice in the {} context: to {first} and to {second}; give one of \
         them another key in [keys]",
        context.name()
    )]
    DoubleBinding {
        /// Where.
        context: Context,
        /// The key.
        key: Key,
        /// The action that had it first.
        first: &'static str,
        /// The other action.
        second: &'static str,
    },
    /// A printable key bound while typing a filter or a prompt could never be typed.
    #[error(
        "{action}: {key} would be typed into the {}; there use a key with Ctrl or Alt, or a \
         named key",
        context.name()
    )]
    TypedKey {
        /// The action.
        action: &'static str,
        /// The key.
        key: Key,
        /// Where it would be typed.
        context: Context,
    },
    /// Enter alone must never confirm a function that can hurt: it is pressed out of habit.
    #[error(
        "confirm: {key} cannot confirm (a key pressed out of habit must never drop a call or \
         put a queue out of service); use a letter such as y"
    )]
    ConfirmKey {
        /// The key refused.
        key: Key,
    },
    /// `[keys]` gives force clear a key although it is not offered.
    #[error(
        "force_clear has no key unless [ui] allow_force_clear = true (the document calls force \
         clear brutal and says it should not normally be offered)"
    )]
    ForceClearOff,
}

fn known_actions() -> String {
    KeyAction::all()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The keymap: the default table with any overrides applied.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    /// The default table, without force clear.
    fn default() -> Self {
        Keymap {
            bindings: default_table_with(false),
        }
    }
}

impl Keymap {
    /// The default keymap with force clear offered (`[ui] allow_force_clear = true`).
    pub fn with_force_clear() -> Keymap {
        Keymap {
            bindings: default_table_with(true),
        }
    }

    /// Whether force clear has a key.
    pub fn offers_force_clear(&self) -> bool {
        self.bindings
            .iter()
            .any(|b| b.action == KeyAction::Function(Function::ForceClear))
    }

    /// The default keymap with `[keys]` overrides applied: each names an action and the keys
    /// that replace its default keys, in every context where the action applies. Force clear
    /// is not offered.
    pub fn with_overrides<'a, K>(
        overrides: impl IntoIterator<Item = (&'a str, K)>,
    ) -> Result<Keymap, KeymapError>
    where
        K: IntoIterator,
        K::Item: AsRef<str>,
    {
        Keymap::build(overrides, false)
    }

    /// The default keymap, with force clear offered or not, and `[keys]` overrides applied
    /// (see [`Keymap::with_overrides`]).
    pub fn build<'a, K>(
        overrides: impl IntoIterator<Item = (&'a str, K)>,
        allow_force_clear: bool,
    ) -> Result<Keymap, KeymapError>
    where
        K: IntoIterator,
        K::Item: AsRef<str>,
    {
        let mut map = Keymap {
            bindings: default_table_with(allow_force_clear),
        };
        for (name, keys) in overrides {
            let action = KeyAction::from_name(name).ok_or_else(|| KeymapError::UnknownAction {
                name: name.to_owned(),
            })?;
            if action == KeyAction::Function(Function::ForceClear) && !allow_force_clear {
                return Err(KeymapError::ForceClearOff);
            }
            let keys = keys
                .into_iter()
                .map(|k| k.as_ref().parse::<Key>())
                .collect::<Result<Vec<Key>, _>>()
                .map_err(|source| KeymapError::BadKey {
                    action: action.name(),
                    source,
                })?;
            if keys.is_empty() {
                return Err(KeymapError::NoKeys {
                    action: action.name(),
                });
            }
            for b in map.bindings.iter_mut().filter(|b| b.action == action) {
                if b.context.types_text() {
                    if let Some(key) = keys.iter().find(|k| k.typed().is_some()) {
                        return Err(KeymapError::TypedKey {
                            action: action.name(),
                            key: *key,
                            context: b.context,
                        });
                    }
                }
                if b.action == KeyAction::Confirm {
                    if let Some(key) = keys.iter().find(|k| k.code == KeyCode::Enter) {
                        return Err(KeymapError::ConfirmKey { key: *key });
                    }
                }
                b.keys.clone_from(&keys);
            }
        }
        map.check()?;
        Ok(map)
    }

    /// Refuses a key bound to two actions within one context.
    fn check(&self) -> Result<(), KeymapError> {
        let mut seen: Vec<(Context, Key, KeyAction)> = Vec::new();
        for b in &self.bindings {
            for key in &b.keys {
                let clash = seen
                    .iter()
                    .find(|(c, k, a)| *c == b.context && k == key && *a != b.action);
                if let Some((_, _, first)) = clash {
                    return Err(KeymapError::DoubleBinding {
                        context: b.context,
                        key: *key,
                        first: first.name(),
                        second: b.action.name(),
                    });
                }
                seen.push((b.context, *key, b.action));
            }
        }
        Ok(())
    }

    /// Every binding, in table order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The action a key has in a context.
    pub fn action(&self, context: Context, key: Key) -> Option<KeyAction> {
        self.bindings
            .iter()
            .find(|b| b.context == context && b.keys.contains(&key))
            .map(|b| b.action)
    }

    /// The binding of an action in a context.
    pub fn binding(&self, context: Context, action: KeyAction) -> Option<&Binding> {
        self.bindings
            .iter()
            .find(|b| b.context == context && b.action == action)
    }

    /// Whether the action has a key anywhere.
    pub fn offers(&self, action: KeyAction) -> bool {
        self.bindings.iter().any(|b| b.action == action)
    }

    /// The key shown for an action in a context (its first key).
    pub fn key_for(&self, context: Context, action: KeyAction) -> Option<Key> {
        self.binding(context, action)
            .and_then(|b| b.keys.first().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_and_print() {
        let cases = [
            ("q", Key::char('q')),
            ("R", Key::char('R')),
            ("?", Key::char('?')),
            ("Ctrl-c", Key::ctrl('c')),
            ("C-C", Key::ctrl('c')),
            ("enter", Key::plain(KeyCode::Enter)),
            ("S-Tab", Key::plain(KeyCode::BackTab)),
            ("Space", Key::char(' ')),
            ("F1", Key::plain(KeyCode::F(1))),
            ("-", Key::char('-')),
        ];
        for (text, key) in cases {
            assert_eq!(text.parse::<Key>(), Ok(key), "{text}");
        }
        assert_eq!(Key::ctrl('c').to_string(), "Ctrl-c");
        assert_eq!(Key::plain(KeyCode::BackTab).to_string(), "S-Tab");
        for bad in ["", "Ctrl-", "F13", "Hyper-x", "xy"] {
            assert!(bad.parse::<Key>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_table_binds_no_key_twice() {
        assert_eq!(Keymap::default().check(), Ok(()));
    }

    #[test]
    fn the_default_table_leaves_h_and_l_free() {
        let map = Keymap::with_force_clear();
        assert_eq!(map.check(), Ok(()));
        let letters: Vec<char> = map
            .bindings()
            .iter()
            .filter(|b| b.context != Context::Confirm)
            .flat_map(|b| b.keys.iter())
            .filter_map(|k| k.typed())
            .filter(char::is_ascii_alphabetic)
            .collect();
        for c in letters {
            assert!("jkqRtrpubgaHPTAdFsmnMwoIW".contains(c), "{c} is taken");
        }
        assert!(!letters_of(&map).contains(&'h') && !letters_of(&map).contains(&'l'));
    }

    fn letters_of(map: &Keymap) -> Vec<char> {
        map.bindings()
            .iter()
            .flat_map(|b| b.keys.iter())
            .filter_map(|k| k.typed())
            .collect()
    }

    #[test]
    fn force_clear_has_a_key_only_when_allowed() {
        assert!(!Keymap::default().offers_force_clear());
        assert!(Keymap::with_force_clear().offers_force_clear());
        let none: [(&str, [&str; 1]); 0] = [];
        assert_eq!(Keymap::build(none, false), Ok(Keymap::default()));
        assert_eq!(
            Keymap::build([("force_clear", ["x"])], false),
            Err(KeymapError::ForceClearOff)
        );
        assert!(Keymap::build([("force_clear", ["x"])], true).is_ok());
    }

    #[test]
    fn enter_never_confirms_and_prompts_keep_their_letters() {
        assert_eq!(
            Keymap::with_overrides([("confirm", ["Enter"])]),
            Err(KeymapError::ConfirmKey {
                key: Key::plain(KeyCode::Enter)
            })
        );
        assert!(matches!(
            Keymap::with_overrides([("send", ["s"])]),
            Err(KeymapError::TypedKey {
                context: Context::Prompt,
                ..
            })
        ));
        assert!(Keymap::with_overrides([("confirm", ["Y"])]).is_ok());
    }
}
