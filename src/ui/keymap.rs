//! The keymap is data: one table of (context, keys, action, description) that drives key
//! dispatch, the help overlay and the status-line hints, so they can never disagree.
//!
//! The `[keys]` section of the configuration overrides the keys of single actions (the rest
//! keep their defaults): `quit = "x"` or `down = ["Down", "n"]`. A key bound to two actions in
//! one context is refused, naming both.

use std::fmt;
use std::str::FromStr;

use crate::model::Function;

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
    /// A prompt for a call function's argument (a number, a slot, a tag, a choice): keys the
    /// table does not bind are typed into it.
    Prompt,
    /// A question before a function that can hurt: only its confirming key goes ahead, any
    /// other key cancels.
    Confirm,
    /// The message history.
    Messages,
}

impl Context {
    /// Every context, in the order help lists them.
    pub const ALL: [Context; 7] = [
        Context::Main,
        Context::Detail,
        Context::Prompt,
        Context::Confirm,
        Context::Messages,
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
            Context::Prompt => "prompt",
            Context::Confirm => "confirmation",
            Context::Messages => "messages",
        }
    }

    /// Whether printable keys the table does not bind are typed into a text field here.
    pub const fn types_text(self) -> bool {
        matches!(self, Context::Filter | Context::Prompt)
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
    /// Send a function to the PBX (a call, user or queue function).
    Function(Function),
    /// Show the recent messages and outcomes.
    Messages,
    /// Send what the prompt shows.
    Send,
    /// Pick the next completion.
    NextChoice,
    /// Pick the previous completion.
    PrevChoice,
    /// Delete the prompt's last character.
    PromptDelete,
    /// Empty the prompt.
    PromptClear,
    /// Go ahead with the function asked about.
    Confirm,
}

impl KeyAction {
    /// The function the action sends, if it sends one.
    pub fn function(self) -> Option<Function> {
        match self {
            KeyAction::Function(f) => Some(f),
            _ => None,
        }
    }

    /// Whether the action sends something to the PBX (a call, user or queue function).
    pub fn is_function(self) -> bool {
        self.function().is_some()
    }

    /// Every action.
    pub const ALL: [KeyAction; 40] = [
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
        KeyAction::Function(Function::Transfer),
        KeyAction::Function(Function::Redirect),
        KeyAction::Function(Function::Park),
        KeyAction::Function(Function::Unpark),
        KeyAction::Function(Function::Priority),
        KeyAction::Function(Function::Tag),
        KeyAction::Function(Function::AccountCode),
        KeyAction::Function(Function::Drop),
        KeyAction::Function(Function::ForceClear),
        KeyAction::Function(Function::Barge),
        KeyAction::Function(Function::Pickup),
        KeyAction::Function(Function::Answer),
        KeyAction::Function(Function::Hold),
        KeyAction::Function(Function::ServiceMode),
        KeyAction::Function(Function::Member),
        KeyAction::Function(Function::Dnd),
        KeyAction::Messages,
        KeyAction::Send,
        KeyAction::NextChoice,
        KeyAction::PrevChoice,
        KeyAction::PromptDelete,
        KeyAction::PromptClear,
        KeyAction::Confirm,
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
            KeyAction::Function(Function::Transfer) => "transfer",
            KeyAction::Function(Function::Redirect) => "redirect",
            KeyAction::Function(Function::Park) => "park",
            KeyAction::Function(Function::Unpark) => "unpark",
            KeyAction::Function(Function::Priority) => "priority",
            KeyAction::Function(Function::Tag) => "tag",
            KeyAction::Function(Function::AccountCode) => "account_code",
            KeyAction::Function(Function::Drop) => "drop",
            KeyAction::Function(Function::ForceClear) => "force_clear",
            KeyAction::Function(Function::Barge) => "barge",
            KeyAction::Function(Function::Pickup) => "pickup",
            KeyAction::Function(Function::Answer) => "answer",
            KeyAction::Function(Function::Hold) => "hold",
            KeyAction::Function(Function::ServiceMode) => "service_mode",
            KeyAction::Function(Function::Member) => "member",
            KeyAction::Function(Function::Dnd) => "dnd",
            KeyAction::Messages => "messages",
            KeyAction::Send => "send",
            KeyAction::NextChoice => "next_choice",
            KeyAction::PrevChoice => "prev_choice",
            KeyAction::PromptDelete => "prompt_delete",
            KeyAction::PromptClear => "prompt_clear",
            KeyAction::Confirm => "confirm",
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
    /// The default table, without force clear.
    fn default() -> Self {
        Keymap {
            bindings: default_table_with(false),
        }
    }
}

fn default_table_with(allow_force_clear: bool) -> Vec<Binding> {
    let mut t = default_table();
    if !allow_force_clear {
        t.retain(|b| b.action != KeyAction::Function(Function::ForceClear));
    }
    t
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

/// The call functions' rows: (keys, action, description, hint), bound alike in the main view
/// and in a detail.
const FUNCTION_ROWS: [(char, KeyAction, &str, &str); 17] = [
    (
        't',
        KeyAction::Function(Function::Transfer),
        "transfer the selected call to a number (blind transfer; Tab completes extensions and \
         queues)",
        "transfer",
    ),
    (
        'r',
        KeyAction::Function(Function::Redirect),
        "redirect the selected ringing call to a number",
        "redirect",
    ),
    (
        'p',
        KeyAction::Function(Function::Park),
        "park the selected call (a free slot is suggested)",
        "park",
    ),
    (
        'u',
        KeyAction::Function(Function::Unpark),
        "unpark the selected parked call to your own phone",
        "unpark",
    ),
    (
        'b',
        KeyAction::Function(Function::Barge),
        "barge in: your phone joins the selected agent's connected call (intrude)",
        "barge",
    ),
    (
        'g',
        KeyAction::Function(Function::Pickup),
        "pick up the call ringing at the selected agent on your own phone",
        "pick up",
    ),
    (
        'a',
        KeyAction::Function(Function::Answer),
        "answer the call ringing on your own line (My line)",
        "answer",
    ),
    (
        'H',
        KeyAction::Function(Function::Hold),
        "hold, or take off hold, the call on your own line (My line)",
        "hold",
    ),
    (
        'P',
        KeyAction::Function(Function::Priority),
        "set a queued call's priority: 1 low, 2 medium, 3 high",
        "priority",
    ),
    (
        'T',
        KeyAction::Function(Function::Tag),
        "tag the selected call (an empty tag clears it)",
        "tag",
    ),
    (
        'A',
        KeyAction::Function(Function::AccountCode),
        "set the selected call's account code (picked from the PBX's list)",
        "account",
    ),
    (
        'd',
        KeyAction::Function(Function::Drop),
        "drop the selected call (asks first: y drops, any other key cancels)",
        "drop",
    ),
    (
        'F',
        KeyAction::Function(Function::ForceClear),
        "force clear the selected call all the way to its source (asks first; offered only \
         with [ui] allow_force_clear)",
        "force clear",
    ),
    (
        's',
        KeyAction::Function(Function::ServiceMode),
        "change the selected queue's service mode (Active or Night service ask y; Out of \
         service asks you to type OOS)",
        "mode",
    ),
    (
        'm',
        KeyAction::Function(Function::Member),
        "enable or disable the selected member (in a queue's detail)",
        "member",
    ),
    (
        'n',
        KeyAction::Function(Function::Dnd),
        "turn the selected agent's do not disturb on or off (asks first)",
        "DND",
    ),
    (
        'M',
        KeyAction::Messages,
        "the recent messages and what became of each function sent",
        "messages",
    ),
];

/// The default keymap. Letters other than `j`, `k`, `q`, `R` and the call functions' are left
/// free; `h` and `l` stay free for moving sideways.
fn default_table() -> Vec<Binding> {
    use Context::{Confirm, Detail, Filter, Help, Main, Messages, Prompt};
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
    t.push(row(
        Detail,
        &[k(C::Up), Key::char('k')],
        A::Up,
        "previous call of an agent or member of a queue; else scroll up",
        None,
    ));
    t.push(row(
        Detail,
        &[k(C::Down), Key::char('j')],
        A::Down,
        "next call of an agent or member of a queue; else scroll down",
        None,
    ));
    for ctx in [Help, Messages] {
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
    }
    for ctx in [Detail, Help, Messages] {
        t.push(row(ctx, &[k(C::PageUp)], A::PageUp, "page up", None));
        t.push(row(ctx, &[k(C::PageDown)], A::PageDown, "page down", None));
        t.push(row(ctx, &[k(C::Esc)], A::Back, "back", Some("back")));
    }
    for ctx in [Main, Detail] {
        for (c, action, desc, hint) in FUNCTION_ROWS {
            t.push(row(ctx, &[Key::char(c)], action, desc, Some(hint)));
        }
    }
    t.push(row(
        Messages,
        &[Key::char('M')],
        A::Messages,
        "close the messages",
        Some("close"),
    ));
    for ctx in [Main, Detail, Help, Messages] {
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
    t.push(row(
        Prompt,
        &[k(C::Enter)],
        A::Send,
        "send what the prompt shows",
        Some("send"),
    ));
    t.push(row(
        Prompt,
        &[k(C::Esc), Key::ctrl('c')],
        A::Back,
        "cancel: nothing is sent",
        Some("cancel"),
    ));
    t.push(row(
        Prompt,
        &[k(C::Tab), k(C::Down)],
        A::NextChoice,
        "pick the next completion",
        Some("pick"),
    ));
    t.push(row(
        Prompt,
        &[k(C::BackTab), k(C::Up)],
        A::PrevChoice,
        "pick the previous completion",
        None,
    ));
    t.push(row(
        Prompt,
        &[k(C::Backspace)],
        A::PromptDelete,
        "delete a character",
        None,
    ));
    t.push(row(
        Prompt,
        &[Key::ctrl('u')],
        A::PromptClear,
        "empty the prompt",
        None,
    ));
    t.push(row(
        Confirm,
        &[Key::char('y')],
        A::Confirm,
        "go ahead; any other key cancels, and Enter never confirms",
        Some("go ahead"),
    ));
    t
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
            assert!("jkqRtrpubgaHPTAdFsmnM".contains(c), "{c} is taken");
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
