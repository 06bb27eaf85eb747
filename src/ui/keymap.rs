//! The keymap is data: one table of (context, keys, action, description) that drives key
//! dispatch, the help overlay and the status-line hints, so they can never disagree.
//!
//! The `[keys]` section of the configuration overrides the keys of single actions (the rest
//! keep their defaults): `quit = "x"` or `down = ["Down", "n"]`. A key bound to two actions in
//! one context is refused, naming both.

use std::fmt;
use std::str::FromStr;

/// A key as the keymap knows it. Letters carry their case (`R` is shift-r); Shift is otherwise
/// only meaningful for Tab, which terminals report as [`KeyCode::BackTab`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Control was held.
    pub ctrl: bool,
    /// Alt (Meta) was held.
    pub alt: bool,
}

/// Which key, without modifiers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum KeyCode {
    /// A printable character (space included).
    Char(char),
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// Backspace.
    Backspace,
    /// Delete.
    Delete,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Home.
    Home,
    /// End.
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// A function key, F1 to F12.
    F(u8),
}

impl Key {
    /// A key without modifiers.
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
        }
    }

    /// A character key without modifiers.
    pub const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    /// Control and a character.
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
            alt: false,
        }
    }

    /// The character this key types into a text field, if it types one.
    pub fn typed(self) -> Option<char> {
        match self.code {
            KeyCode::Char(c) if !self.ctrl && !self.alt => Some(c),
            _ => None,
        }
    }
}

const NAMED: [(&str, KeyCode); 15] = [
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("S-Tab", KeyCode::BackTab),
    ("Backspace", KeyCode::Backspace),
    ("Delete", KeyCode::Delete),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Space", KeyCode::Char(' ')),
];

const ALIASES: [(&str, KeyCode); 7] = [
    ("Return", KeyCode::Enter),
    ("Escape", KeyCode::Esc),
    ("BackTab", KeyCode::BackTab),
    ("Shift-Tab", KeyCode::BackTab),
    ("Del", KeyCode::Delete),
    ("PgUp", KeyCode::PageUp),
    ("PgDn", KeyCode::PageDown),
];

/// What a key written in `[keys]` must look like.
pub const KEY_SYNTAX: &str = "a character (q, R, ?, /), a name (Enter, Esc, Tab, S-Tab, \
     Backspace, Delete, Up, Down, Left, Right, Home, End, PageUp, PageDown, Space, F1..F12), or \
     Ctrl- or Alt- and a character";

/// A key that cannot be read.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("`{text}` is not a key: write {KEY_SYNTAX}")]
pub struct KeyParseError {
    /// What was written.
    pub text: String,
}

impl FromStr for Key {
    type Err = KeyParseError;

    fn from_str(text: &str) -> Result<Key, KeyParseError> {
        let err = || KeyParseError {
            text: text.to_owned(),
        };
        let mut key = Key::plain(KeyCode::Esc);
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let strip = ["ctrl-", "ctrl+", "c-", "alt-", "alt+", "a-", "m-"]
                .iter()
                .find(|p| lower.starts_with(**p) && rest.len() > p.len());
            match strip {
                Some(p) => {
                    if p.starts_with('c') {
                        key.ctrl = true;
                    } else {
                        key.alt = true;
                    }
                    rest = rest.get(p.len()..).ok_or_else(err)?;
                }
                None => break,
            }
        }
        let mut chars = rest.chars();
        key.code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => KeyCode::Char(c),
            _ => {
                if let Some(n) = rest
                    .strip_prefix(['F', 'f'])
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|n| (1..=12).contains(n))
                {
                    KeyCode::F(n)
                } else {
                    NAMED
                        .iter()
                        .chain(ALIASES.iter())
                        .find(|(name, _)| name.eq_ignore_ascii_case(rest))
                        .map(|(_, code)| *code)
                        .ok_or_else(err)?
                }
            }
        };
        // Control-letters are case-blind on a terminal: Ctrl-C arrives as ctrl + 'c'.
        if key.ctrl {
            if let KeyCode::Char(c) = key.code {
                key.code = KeyCode::Char(c.to_ascii_lowercase());
            }
        }
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::F(n) => write!(f, "F{n}"),
            code => {
                let name = NAMED
                    .iter()
                    .find(|(_, c)| *c == code)
                    .map_or("?", |(n, _)| *n);
                f.write_str(name)
            }
        }
    }
}

/// Where a key is pressed: the keymap is looked up in exactly one context at a time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Context {
    /// The panes (queues, waiting calls, agents, parked calls).
    Main,
    /// The detail of a call, an agent or a queue.
    Detail,
    /// The help overlay.
    Help,
    /// Typing a filter: keys the table does not bind are typed into it.
    Filter,
}

impl Context {
    /// Every context, in the order help lists them.
    pub const ALL: [Context; 4] = [
        Context::Main,
        Context::Detail,
        Context::Help,
        Context::Filter,
    ];

    /// The context's name in help and in errors.
    pub const fn name(self) -> &'static str {
        match self {
            Context::Main => "main view",
            Context::Detail => "detail",
            Context::Help => "help",
            Context::Filter => "filter",
        }
    }
}

/// What a key asks the screen to do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum KeyAction {
    /// Move the selection (or scroll) up one row.
    Up,
    /// Move the selection (or scroll) down one row.
    Down,
    /// Up one page.
    PageUp,
    /// Down one page.
    PageDown,
    /// The first row.
    Top,
    /// The last row.
    Bottom,
    /// The next pane.
    NextPane,
    /// The previous pane.
    PrevPane,
    /// Open the detail of the selection.
    Open,
    /// Go back: close an overlay, or clear the filter.
    Back,
    /// Start typing a filter.
    Filter,
    /// Keep the filter being typed.
    FilterApply,
    /// Delete the last character of the filter.
    FilterDelete,
    /// Empty the filter being typed.
    FilterClear,
    /// Show or hide help.
    Help,
    /// Try the login again after the PBX refused it, once the credentials are fixed.
    RetryLogin,
    /// Quit, restoring the terminal.
    Quit,
}

impl KeyAction {
    /// Every action.
    pub const ALL: [KeyAction; 17] = [
        KeyAction::Up,
        KeyAction::Down,
        KeyAction::PageUp,
        KeyAction::PageDown,
        KeyAction::Top,
        KeyAction::Bottom,
        KeyAction::NextPane,
        KeyAction::PrevPane,
        KeyAction::Open,
        KeyAction::Back,
        KeyAction::Filter,
        KeyAction::FilterApply,
        KeyAction::FilterDelete,
        KeyAction::FilterClear,
        KeyAction::Help,
        KeyAction::RetryLogin,
        KeyAction::Quit,
    ];

    /// The action's name in `[keys]`.
    pub const fn name(self) -> &'static str {
        match self {
            KeyAction::Up => "up",
            KeyAction::Down => "down",
            KeyAction::PageUp => "page_up",
            KeyAction::PageDown => "page_down",
            KeyAction::Top => "top",
            KeyAction::Bottom => "bottom",
            KeyAction::NextPane => "next_pane",
            KeyAction::PrevPane => "prev_pane",
            KeyAction::Open => "open",
            KeyAction::Back => "back",
            KeyAction::Filter => "filter",
            KeyAction::FilterApply => "filter_apply",
            KeyAction::FilterDelete => "filter_delete",
            KeyAction::FilterClear => "filter_clear",
            KeyAction::Help => "help",
            KeyAction::RetryLogin => "retry_login",
            KeyAction::Quit => "quit",
        }
    }

    /// The action named so in `[keys]`.
    pub fn from_name(name: &str) -> Option<KeyAction> {
        KeyAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// One row of the keymap.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Binding {
    /// Where it applies.
    pub context: Context,
    /// The keys, the first one shown in hints.
    pub keys: Vec<Key>,
    /// What they do.
    pub action: KeyAction,
    /// What help says about it.
    pub desc: &'static str,
    /// The word the status line shows next to the key, for the bindings worth a hint.
    pub hint: Option<&'static str>,
}

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
    /// A printable key bound while typing a filter could never be typed.
    #[error(
        "{action}: {key} would be typed into the filter; in the filter context use a key \
         with Ctrl or Alt, or a named key"
    )]
    TypedKey {
        /// The action.
        action: &'static str,
        /// The key.
        key: Key,
    },
}

fn known_actions() -> String {
    KeyAction::ALL
        .iter()
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
    fn default() -> Self {
        Keymap {
            bindings: default_table(),
        }
    }
}

fn row(
    context: Context,
    keys: &[Key],
    action: KeyAction,
    desc: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        context,
        keys: keys.to_vec(),
        action,
        desc,
        hint,
    }
}

/// The default keymap. Letters other than `j`, `k`, `q` and `R` are left free for the call
/// functions.
fn default_table() -> Vec<Binding> {
    use Context::{Detail, Filter, Help, Main};
    use KeyAction as A;
    use KeyCode as C;
    let k = Key::plain;
    let mut t = vec![
        row(Main, &[k(C::Up), Key::char('k')], A::Up, "move up", None),
        row(
            Main,
            &[k(C::Down), Key::char('j')],
            A::Down,
            "move down",
            None,
        ),
        row(Main, &[k(C::PageUp)], A::PageUp, "page up", None),
        row(Main, &[k(C::PageDown)], A::PageDown, "page down", None),
        row(Main, &[k(C::Home)], A::Top, "first row", None),
        row(Main, &[k(C::End)], A::Bottom, "last row", None),
        row(Main, &[k(C::Tab)], A::NextPane, "next pane", Some("pane")),
        row(Main, &[k(C::BackTab)], A::PrevPane, "previous pane", None),
        row(
            Main,
            &[k(C::Enter)],
            A::Open,
            "detail of the selected call, agent or queue",
            Some("detail"),
        ),
        row(
            Main,
            &[k(C::Esc)],
            A::Back,
            "clear the filter",
            Some("clear"),
        ),
        row(
            Main,
            &[Key::char('/')],
            A::Filter,
            "filter agents and calls by text",
            Some("filter"),
        ),
    ];
    for ctx in [Detail, Help] {
        t.push(row(
            ctx,
            &[k(C::Up), Key::char('k')],
            A::Up,
            "scroll up",
            None,
        ));
        t.push(row(
            ctx,
            &[k(C::Down), Key::char('j')],
            A::Down,
            "scroll down",
            None,
        ));
        t.push(row(ctx, &[k(C::PageUp)], A::PageUp, "page up", None));
        t.push(row(ctx, &[k(C::PageDown)], A::PageDown, "page down", None));
        t.push(row(ctx, &[k(C::Esc)], A::Back, "back", Some("back")));
    }
    for ctx in [Main, Detail, Help] {
        t.push(row(
            ctx,
            &[Key::char('?'), k(C::F(1))],
            A::Help,
            if ctx == Help { "close help" } else { "help" },
            Some("help"),
        ));
        t.push(row(
            ctx,
            &[Key::char('R')],
            A::RetryLogin,
            "log in again after the PBX refused the login (once the credentials are fixed)",
            Some("retry login"),
        ));
        t.push(row(
            ctx,
            &[Key::char('q'), Key::ctrl('c')],
            A::Quit,
            "quit",
            Some("quit"),
        ));
    }
    t.push(row(
        Filter,
        &[k(C::Enter)],
        A::FilterApply,
        "keep the filter",
        Some("keep"),
    ));
    t.push(row(
        Filter,
        &[k(C::Esc)],
        A::Back,
        "clear the filter",
        Some("clear"),
    ));
    t.push(row(
        Filter,
        &[k(C::Backspace)],
        A::FilterDelete,
        "delete a character",
        None,
    ));
    t.push(row(
        Filter,
        &[Key::ctrl('u')],
        A::FilterClear,
        "empty the filter",
        None,
    ));
    t
}

impl Keymap {
    /// The default keymap with `[keys]` overrides applied: each names an action and the keys
    /// that replace its default keys, in every context where the action applies.
    pub fn with_overrides<'a, K>(
        overrides: impl IntoIterator<Item = (&'a str, K)>,
    ) -> Result<Keymap, KeymapError>
    where
        K: IntoIterator,
        K::Item: AsRef<str>,
    {
        let mut map = Keymap::default();
        for (name, keys) in overrides {
            let action = KeyAction::from_name(name).ok_or_else(|| KeymapError::UnknownAction {
                name: name.to_owned(),
            })?;
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
                if b.context == Context::Filter {
                    if let Some(key) = keys.iter().find(|k| k.typed().is_some()) {
                        return Err(KeymapError::TypedKey {
                            action: action.name(),
                            key: *key,
                        });
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
    fn the_default_table_leaves_h_l_and_letters_free() {
        let map = Keymap::default();
        let letters: Vec<char> = map
            .bindings()
            .iter()
            .flat_map(|b| b.keys.iter())
            .filter_map(|k| k.typed())
            .filter(char::is_ascii_alphabetic)
            .collect();
        for c in letters {
            assert!("jkqR".contains(c), "{c} is taken");
        }
    }
}
