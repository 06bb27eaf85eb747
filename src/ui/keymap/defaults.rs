//! The default table: every context's keys, actions, help text and hints.

use super::action::{Binding, Context, KeyAction};
use super::key::{Key, KeyCode};
use crate::model::Function;

pub(super) fn default_table_with(allow_force_clear: bool) -> Vec<Binding> {
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

/// The default keymap. Letters other than `j`, `k`, `q`, `R`, the views' `w`, `o`, `I` and `W`
/// and the call functions' are left free; `h` and `l` stay free for moving sideways.
pub(super) fn default_table() -> Vec<Binding> {
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
        row(
            Main,
            &[Key::char('w')],
            A::NarrowWaiting,
            "waiting calls: the selected queue's only (its own order), or every queue's (longest wait first)",
            None,
        ),
        row(
            Main,
            &[Key::char('o')],
            A::NarrowAgents,
            "agents: only the selected queue's members, or everyone in scope",
            None,
        ),
        row(
            Main,
            &[Key::char('>')],
            A::SortAgents,
            "sort agents by the next column: state, time in state, extension, name, queue",
            None,
        ),
        row(
            Main,
            &[Key::char('I')],
            A::ReverseSort,
            "reverse the agents' sort",
            None,
        ),
        row(
            Main,
            &[Key::char('!')],
            A::Acknowledge,
            "acknowledge the queues' current alerts (they stay shown; the bell stays quiet)",
            None,
        ),
        row(
            Main,
            &[Key::char('W')],
            A::Wallboard,
            "the wallboard: a tile per queue in large digits (W again for the dashboard)",
            None,
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
