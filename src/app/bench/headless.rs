//! The headless terminal: ratatui's crossterm backend writing into a sink that counts the
//! bytes a real terminal would get, at a fixed size (no terminal is asked for its size).

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

/// Swallows what it is given and counts it, in a count the bench keeps a handle on (the
/// backend does not lend its writer out).
#[derive(Debug, Default, Clone)]
pub struct Counter {
    bytes: Arc<AtomicU64>,
}

impl Counter {
    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The terminal the bench draws on.
pub type Headless = Terminal<CrosstermBackend<Counter>>;

/// A terminal of `width` x `height` cells that writes nowhere, and its byte count.
pub fn terminal(width: u16, height: u16) -> io::Result<(Headless, Counter)> {
    let counter = Counter::default();
    let term = Terminal::with_options(
        CrosstermBackend::new(counter.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, width, height)),
        },
    )?;
    Ok((term, counter))
}
