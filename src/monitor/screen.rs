//! Screen normalisation: bytes from tmux (or a saved file) become clean lines.
//! UTF-8 is decoded lossily, ANSI/OSC/DCS escape sequences and stray control
//! characters are removed, trailing spaces and trailing blank rows are dropped
//! (tmux prints the empty rows under the cursor; they must never push real
//! text out of a "last N lines" window).

use std::hash::{Hash, Hasher};

/// A normalised screen: its non-trailing-blank lines, top to bottom, and the
/// pane title when known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Screen {
    pub lines: Vec<String>,
    pub title: String,
}

impl Screen {
    /// Normalises raw captured bytes.
    pub fn from_bytes(raw: &[u8]) -> Screen {
        Screen::from_text(&String::from_utf8_lossy(raw))
    }

    /// Normalises text that may still hold escape sequences.
    pub fn from_text(text: &str) -> Screen {
        let clean = strip_escapes(text);
        let mut lines: Vec<String> = clean
            .split('\n')
            .map(|line| line.trim_end().to_owned())
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        Screen {
            lines,
            title: String::new(),
        }
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Screen {
        self.title = title.into();
        self
    }

    /// The screen as one string, lines joined by `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The last `n` non-blank lines, top to bottom.
    pub fn last_non_blank(&self, n: usize) -> impl Iterator<Item = &str> {
        let mut picked: Vec<&str> = self
            .lines
            .iter()
            .rev()
            .filter(|l| !l.trim().is_empty())
            .take(n)
            .map(String::as_str)
            .collect();
        picked.reverse();
        picked.into_iter()
    }

    /// Hash of the screen without its bottom `status_bar_lines` lines, so a
    /// ticking status bar alone does not count as a change.
    pub fn content_hash(&self, status_bar_lines: usize) -> u64 {
        let keep = self.lines.len().saturating_sub(status_bar_lines);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.lines[..keep].hash(&mut hasher);
        hasher.finish()
    }
}

/// Removes terminal escape sequences and control characters other than `\n`
/// and `\t` (a tab becomes a space). Never panics, whatever the input.
pub fn strip_escapes(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.replace('\t', " ");
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push(' '),
            '\u{1b}' => skip_escape(&mut chars),
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' => skip_string(&mut chars),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_escape(chars: &mut Chars<'_>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        Some(']' | 'P' | 'X' | '^' | '_') => skip_string(chars),
        // Two-byte sequences with an intermediate, e.g. ESC ( B.
        Some('(' | ')' | '*' | '+' | '#' | '%') => {
            chars.next();
        }
        _ => {}
    }
}

/// CSI: parameters and intermediates up to a final byte in `@`..=`~`.
fn skip_csi(chars: &mut Chars<'_>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            return;
        }
    }
}

/// OSC/DCS/...: up to BEL or ST (`ESC \`).
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_trailing_blank_rows_are_removed() {
        let raw = "\u{1b}[1;32mgreen\u{1b}[0m  \n\u{1b}]0;title\u{7}next\n\n   \n\n";
        let screen = Screen::from_text(raw);
        assert_eq!(screen.lines, vec!["green", "next"]);
    }

    #[test]
    fn carriage_returns_and_controls_vanish() {
        assert_eq!(strip_escapes("a\r\nb\u{0}c\td"), "a\nbc d");
    }

    #[test]
    fn last_non_blank_skips_empty_rows() {
        let screen = Screen::from_text("a\n\nb\n \nc");
        let last: Vec<&str> = screen.last_non_blank(2).collect();
        assert_eq!(last, vec!["b", "c"]);
    }

    #[test]
    fn hash_ignores_status_bar_lines() {
        let a = Screen::from_text("work\nbar 1");
        let b = Screen::from_text("work\nbar 2");
        assert_eq!(a.content_hash(1), b.content_hash(1));
        assert_ne!(a.content_hash(0), b.content_hash(0));
    }

    #[test]
    fn truncated_sequences_do_not_panic() {
        for raw in ["\u{1b}", "\u{1b}[", "\u{1b}]0;x", "\u{9b}12", "\u{1b}("] {
            let _ = strip_escapes(raw);
        }
    }
}
