//! A key as the keymap knows it, and how keys are written in `[keys]` and shown in help.

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
