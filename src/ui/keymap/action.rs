//! What a key can ask for, and where: the contexts and the actions, with their names in
//! `[keys]`.

use super::key::Key;
use crate::model::Function;

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
    /// List only the selected queue's waiting calls, or every queue's again.
    NarrowWaiting,
    /// List only the selected queue's members in the agent grid, or everyone again.
    NarrowAgents,
    /// Sort the agent grid by the next column.
    SortAgents,
    /// Reverse the agent grid's sort.
    ReverseSort,
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
    /// Acknowledge the queues' current alerts (they stay shown).
    Acknowledge,
    /// Show the wallboard instead of the dashboard, or the dashboard again.
    Wallboard,
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

    const BEFORE_FUNCTIONS: [KeyAction; 23] = [
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
        KeyAction::NarrowWaiting,
        KeyAction::NarrowAgents,
        KeyAction::SortAgents,
        KeyAction::ReverseSort,
        KeyAction::FilterApply,
        KeyAction::FilterDelete,
        KeyAction::FilterClear,
        KeyAction::Help,
        KeyAction::RetryLogin,
        KeyAction::Quit,
        KeyAction::Acknowledge,
        KeyAction::Wallboard,
    ];

    const AFTER_FUNCTIONS: [KeyAction; 7] = [
        KeyAction::Messages,
        KeyAction::Send,
        KeyAction::NextChoice,
        KeyAction::PrevChoice,
        KeyAction::PromptDelete,
        KeyAction::PromptClear,
        KeyAction::Confirm,
    ];

    /// Every action: the functions are `Function::ALL`, in its order.
    pub fn all() -> impl Iterator<Item = KeyAction> {
        Self::BEFORE_FUNCTIONS
            .into_iter()
            .chain(Function::ALL.into_iter().map(KeyAction::Function))
            .chain(Self::AFTER_FUNCTIONS)
    }

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
            KeyAction::NarrowWaiting => "narrow_waiting",
            KeyAction::NarrowAgents => "narrow_agents",
            KeyAction::SortAgents => "sort_agents",
            KeyAction::ReverseSort => "reverse_sort",
            KeyAction::FilterApply => "filter_apply",
            KeyAction::FilterDelete => "filter_delete",
            KeyAction::FilterClear => "filter_clear",
            KeyAction::Help => "help",
            KeyAction::RetryLogin => "retry_login",
            KeyAction::Quit => "quit",
            KeyAction::Acknowledge => "acknowledge",
            KeyAction::Wallboard => "wallboard",
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
        KeyAction::all().find(|a| a.name() == name)
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
