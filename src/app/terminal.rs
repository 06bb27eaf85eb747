//! The terminal while the screen runs: raw mode and the alternate screen, given back whatever
//! happens (a normal exit, an error, a panic), and each frame written as one synchronized
//! update so a slow SSH link or tmux never shows half a frame. The mouse is never captured:
//! the screen has no use for it, and capturing it would take away selecting text to copy.

use std::io::{self, Stdout, Write};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::event::{KeyCode as CtKey, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::ui::{App, Key, KeyCode};

/// The terminal the screen draws on.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Puts the terminal back as it was: raw mode off, the alternate screen left, the cursor
/// shown. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    let _ = execute!(out, EndSynchronizedUpdate, LeaveAlternateScreen, Show);
    let _ = out.flush();
}

/// While alive, the terminal is the screen's; dropping it restores the terminal.
pub struct TerminalGuard {
    _private: (),
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

static HOOK: Once = Once::new();

/// Makes a panic restore the terminal before its message is printed, so the message is
/// readable and the shell usable.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Takes over the terminal: raw mode, the alternate screen, the cursor hidden.
pub fn enter() -> io::Result<(TerminalGuard, Term)> {
    install_panic_hook();
    enable_raw_mode()?;
    // From here on, leaving (by `?` or by panic) restores the terminal.
    let guard = TerminalGuard { _private: () };
    execute!(io::stdout(), EnterAlternateScreen, Hide)?;
    let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((guard, terminal))
}

/// Draws the screen as one synchronized update (terminals that do not know the sequence
/// ignore it). ratatui writes only the cells that changed since the last frame. Any writer
/// will do: the terminal's stdout, or `ipo-top bench`'s byte counter.
pub fn draw<W: Write>(terminal: &mut Terminal<CrosstermBackend<W>>, app: &App) -> io::Result<()> {
    queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    let drawn = terminal.draw(|f| crate::ui::view(app, f)).map(|_| ());
    // End the update even if drawing failed, so the terminal does not stay frozen.
    execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    drawn
}

/// A key as the keymap knows it; `None` for key releases and keys the screen does not use.
pub fn key(ev: KeyEvent) -> Option<Key> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    let shift = ev.modifiers.contains(KeyModifiers::SHIFT);
    let code = match ev.code {
        CtKey::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
        CtKey::Char(c) => KeyCode::Char(c),
        CtKey::Enter => KeyCode::Enter,
        CtKey::Esc => KeyCode::Esc,
        CtKey::Tab if shift => KeyCode::BackTab,
        CtKey::Tab => KeyCode::Tab,
        CtKey::BackTab => KeyCode::BackTab,
        CtKey::Backspace => KeyCode::Backspace,
        CtKey::Delete => KeyCode::Delete,
        CtKey::Up => KeyCode::Up,
        CtKey::Down => KeyCode::Down,
        CtKey::Left => KeyCode::Left,
        CtKey::Right => KeyCode::Right,
        CtKey::Home => KeyCode::Home,
        CtKey::End => KeyCode::End,
        CtKey::PageUp => KeyCode::PageUp,
        CtKey::PageDown => KeyCode::PageDown,
        CtKey::F(n @ 1..=12) => KeyCode::F(n),
        _ => return None,
    };
    Some(Key { code, ctrl, alt })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: CtKey, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn terminal_keys_become_keymap_keys() {
        assert_eq!(
            key(ev(CtKey::Char('R'), KeyModifiers::SHIFT)),
            Some(Key::char('R'))
        );
        assert_eq!(
            key(ev(CtKey::Char('C'), KeyModifiers::CONTROL)),
            Some(Key::ctrl('c'))
        );
        assert_eq!(
            key(ev(CtKey::Tab, KeyModifiers::SHIFT)),
            Some(Key::plain(KeyCode::BackTab))
        );
        assert_eq!(
            key(ev(CtKey::BackTab, KeyModifiers::SHIFT)),
            Some(Key::plain(KeyCode::BackTab))
        );
        assert_eq!(key(ev(CtKey::CapsLock, KeyModifiers::NONE)), None);
        let mut release = ev(CtKey::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(key(release), None);
    }
}
