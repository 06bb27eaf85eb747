//! Text from outside (caller names and numbers, trunk names, absence notes) made harmless for
//! the terminal, and fitted to columns by display width.
//!
//! Everything the PBX sends is untrusted: a caller ID can carry escape sequences that would
//! move the cursor, retitle the window or change colours if written raw, and names can hold
//! characters two columns wide or none at all. [`clean`] removes what could drive the
//! terminal; [`width`] and [`fit`] measure in the same grapheme widths the renderer uses, so a
//! column never spills into its neighbour.

use std::borrow::Cow;
use std::iter::Peekable;
use std::str::Chars;
use std::time::Duration;

use finl_unicode::categories::CharacterCategories;
use ratatui::style::Style;
use ratatui::text::Span;

/// The mark that ends a cut text.
pub const ELLIPSIS: &str = "…";

/// Whether a character can be shown as it is.
fn is_plain(c: char) -> bool {
    !c.is_control() && !c.is_format() && !matches!(c, '\u{2028}' | '\u{2029}')
}

/// Removes escape sequences (CSI, OSC, DCS, SOS, PM, APC and two-character escapes, in their
/// 7-bit and 8-bit forms), every other C0 and C1 control, and every format character
/// (Unicode category Cf). Tabs, line breaks and line separators become one space each, so
/// words stay apart.
///
/// Format characters draw nothing, so they let one text pose as another: bidirectional
/// embeddings, overrides, isolates and marks reorder what follows them (a name could make a
/// number read differently from what it is); zero-width spaces and joiners (U+200B-U+200D),
/// the word joiner (U+2060), U+FEFF, the soft hyphen and the tag characters
/// (U+E0000-U+E007F) make two names that look alike compare different. This is the one
/// cleaning function for every text that reaches a terminal: the screen, `check`, `trust` and
/// error messages.
pub fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_plain) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // 8-bit CSI.
            '\u{9b}' => skip_csi(&mut chars),
            // 8-bit DCS, SOS, OSC, PM, APC: a string up to its terminator.
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{2028}' | '\u{2029}'
                if !out.ends_with(' ') =>
            {
                out.push(' ');
            }
            '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{2028}' | '\u{2029}' => {}
            c if is_plain(c) => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// After an ESC: skips the rest of the sequence it starts.
fn skip_escape(chars: &mut Peekable<Chars<'_>>) {
    match chars.peek().copied() {
        Some('[') => {
            chars.next();
            skip_csi(chars);
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            chars.next();
            skip_string(chars);
        }
        // Intermediate bytes then one final byte (e.g. ESC ( B).
        Some('\u{20}'..='\u{2f}') => {
            while chars
                .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                .is_some()
            {}
            chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
        }
        // A two-character escape (ESC c, ESC 7, ESC M ...).
        Some('\u{30}'..='\u{7e}') => {
            chars.next();
        }
        // A lone ESC: dropped, whatever follows is shown (and cleaned) on its own.
        _ => {}
    }
}

/// Skips a control sequence's parameter and intermediate bytes and its final byte.
fn skip_csi(chars: &mut Peekable<Chars<'_>>) {
    while chars
        .next_if(|c| ('\u{20}'..='\u{3f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

/// Skips a control string up to BEL, ST (ESC \) or the 8-bit ST; an unterminated string runs
/// to the end of the text, which is what a terminal would swallow too.
fn skip_string(chars: &mut Peekable<Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{07}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// The display width of already clean text, in terminal columns, measured grapheme by
/// grapheme the way the renderer measures it.
pub fn width(s: &str) -> usize {
    Span::raw(s).width()
}

/// Fits clean text into `max` columns. Text that fits is returned whole. Otherwise it is cut
/// after the last whole word that keeps at least half the room, or else between two
/// graphemes, and ends with `…`; a wide grapheme that would straddle the edge is left out.
pub fn fit(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let room = max - 1; // the ellipsis takes one column
    let mut out = String::new();
    let mut used = 0;
    let mut last_space: Option<(usize, usize)> = None; // (byte length, width) before a space
    for g in Span::raw(s).styled_graphemes(Style::default()) {
        let w = width(g.symbol);
        if used + w > room {
            break;
        }
        if g.symbol == " " {
            last_space = Some((out.len(), used));
        }
        out.push_str(g.symbol);
        used += w;
    }
    if let Some((len, w)) = last_space {
        if w * 2 >= room && w > 0 {
            out.truncate(len);
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push_str(ELLIPSIS);
    Cow::Owned(out)
}

/// Cleans outside text and fits it into `max` columns.
pub fn clean_fit(s: &str, max: usize) -> String {
    fit(&clean(s), max).into_owned()
}

/// Breaks clean text into lines of at most `max` columns at spaces; a word longer than a line
/// is cut to fit.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let w = width(word);
        if !cur.is_empty() && width(&cur) + 1 + w > max {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        if w > max {
            cur.push_str(&fit(word, max));
        } else {
            cur.push_str(word);
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A duration as a supervisor reads it: `mm:ss` under an hour, `h:mm:ss` under a day, then
/// days and hours (`2d03h`).
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if days > 0 {
        format!("{days}d{h:02}h")
    } else if secs >= 3600 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(clean("Harbour Freight Ltd"), Cow::Borrowed(_)));
        assert!(matches!(clean("Zoë Ødegård 東京"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_are_removed_whole() {
        // Colour, cursor movement, clear screen, window title (OSC with BEL and with ST),
        // a charset switch, a 2-character escape, 8-bit CSI and OSC.
        let hostile = "\u{1b}[31mRed\u{1b}[0m \u{1b}[2J\u{1b}[H\u{1b}]0;pwned\u{07}A\u{1b}]8;;http://x\u{1b}\\B\u{1b}(0C\u{1b}cD\u{9b}1;2HE\u{9d}title\u{9c}F";
        assert_eq!(clean(hostile), "Red ABCDEF");
    }

    #[test]
    fn controls_and_bidi_overrides_are_removed() {
        assert_eq!(clean("a\u{0}b\u{7}c\u{7f}d\u{85}e"), "abcde");
        assert_eq!(clean("line\r\nbreak\ttab"), "line break tab");
        // U+202E would show "0208" reversed.
        assert_eq!(clean("\u{202E}8020\u{202C}"), "8020");
        // An unterminated OSC swallows the rest, as a terminal would.
        assert_eq!(clean("ok\u{1b}]2;never ends"), "ok");
        assert_eq!(clean("lone\u{1b}"), "lone");
    }

    #[test]
    fn invisible_format_characters_are_removed() {
        // Zero-width space, non-joiner and joiner, word joiner, BOM, soft hyphen.
        assert_eq!(
            clean("Ad\u{200B}am \u{200C}Le\u{200D}e\u{2060} \u{FEFF}Ki\u{AD}m"),
            "Adam Lee Kim"
        );
        // Tag characters (an invisible "hi") and every kind of bidirectional control.
        assert_eq!(clean("Sales\u{E0068}\u{E0069}\u{E007F}"), "Sales");
        assert_eq!(
            clean("\u{061C}4\u{200E}1\u{200F}0\u{202B}2\u{2067}\u{2069}"),
            "4102"
        );
        // Letters and marks that draw are kept: a combining accent, a variation selector.
        assert_eq!(
            clean("Zoe\u{301} \u{2764}\u{FE0F}"),
            "Zoe\u{301} \u{2764}\u{FE0F}"
        );
    }

    #[test]
    fn fitting_counts_columns_not_bytes() {
        assert_eq!(width("東京"), 4);
        assert_eq!(fit("東京都", 5), "東京…");
        assert_eq!(fit("東京都", 4), "東…");
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abcd", 3), "ab…");
        assert_eq!(fit("abcd", 0), "");
    }

    #[test]
    fn fitting_prefers_a_word_boundary() {
        assert_eq!(fit("Harbour Freight Ltd", 16), "Harbour Freight…");
        assert_eq!(fit("Harbour Freight Ltd", 12), "Harbour…");
        // The only boundary would waste more than half the room: cut inside the word.
        assert_eq!(fit("Al Vasquez-Roeberg", 12), "Al Vasquez-…");
    }

    #[test]
    fn wrapping_breaks_at_spaces() {
        assert_eq!(
            wrap("DropCall BlindTransfer Redirect Park", 20),
            ["DropCall", "BlindTransfer", "Redirect Park"]
        );
        assert_eq!(wrap("a b c", 20), ["a b c"]);
        assert_eq!(wrap("", 20), [""]);
        assert_eq!(wrap("abcdefgh", 4), ["abc…"]);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_secs(161)), "02:41");
        assert_eq!(duration(Duration::from_secs(3600 + 724)), "1:12:04");
        assert_eq!(
            duration(Duration::from_secs(2 * 86_400 + 3 * 3600)),
            "2d03h"
        );
    }
}
