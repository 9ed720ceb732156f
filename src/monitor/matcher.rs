//! One way of recognising a line ([`Matcher`]): a plain substring, a
//! case-insensitive substring, or a regex compiled on first need (with ASCII
//! word boundaries, which keep the regex engine's fast DFA on box drawing).

use std::sync::Arc;

use super::lazy_regex::{LazyRegex, PatternError};

/// One way of recognising a line.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Matcher {
    /// Plain substring.
    Text(String),
    /// Case-insensitive substring (stored lowercased).
    NoCase(String),
    /// A regex, compiled on first need (shared by clones).
    Regex(Arc<LazyRegex>),
}

impl Matcher {
    pub fn text(text: impl Into<String>) -> Matcher {
        Matcher::Text(text.into())
    }

    pub fn nocase(text: &str) -> Matcher {
        Matcher::NoCase(text.to_lowercase())
    }

    /// A regex; `nocase` makes it case-insensitive. Word boundaries (`\b`,
    /// `\B`) are ASCII ones: a Unicode word boundary stops the regex
    /// engine's fast DFA on any non-ASCII text (every agent screen has box
    /// drawing), making matching several times slower.
    pub fn regex(pattern: &str, nocase: bool) -> Result<Matcher, PatternError> {
        LazyRegex::new(&ascii_word_boundaries(pattern), nocase)
            .map(|re| Matcher::Regex(Arc::new(re)))
    }

    /// A regex whose `^`/`$` mean the start and end of the text it is given
    /// (for `joined` rules, given a region's lines as one text).
    pub fn regex_of_text(pattern: &str, nocase: bool) -> Result<Matcher, PatternError> {
        LazyRegex::with_lines(&ascii_word_boundaries(pattern), nocase, false)
            .map(|re| Matcher::Regex(Arc::new(re)))
    }

    /// Compiles a regex now (for users' patterns, at load: one too large to
    /// compile is refused there rather than never matching).
    pub fn compile_now(&self) -> Result<(), PatternError> {
        match self {
            Matcher::Regex(re) => re.compile_now(),
            _ => Ok(()),
        }
    }

    /// True when a match in a line is also one in several lines joined by
    /// `\n` (see `RegionTexts`).
    pub fn is_joinable(&self) -> bool {
        match self {
            Matcher::Regex(re) => re.is_joinable(),
            // A needle without a line break cannot span one.
            Matcher::Text(needle) | Matcher::NoCase(needle) => !needle.contains('\n'),
        }
    }

    /// Byte offset of the first match in `text`.
    pub fn find_offset(&self, text: &str) -> Option<usize> {
        match self {
            Matcher::Text(needle) => text.find(needle.as_str()),
            Matcher::NoCase(needle) if needle.is_ascii() => find_ascii_nocase(text, needle),
            Matcher::NoCase(needle) => text.to_lowercase().find(needle.as_str()),
            Matcher::Regex(re) => re.find_offset(text),
        }
    }

    pub fn is_match(&self, line: &str) -> bool {
        match self {
            Matcher::Text(text) => line.contains(text.as_str()),
            // An ASCII needle is matched with ASCII case folding (no
            // allocation; only the Kelvin sign and dotted capital I fold
            // differently under full Unicode lowercasing).
            Matcher::NoCase(text) if text.is_ascii() => find_ascii_nocase(line, text).is_some(),
            Matcher::NoCase(text) => line.to_lowercase().contains(text.as_str()),
            Matcher::Regex(re) => re.is_match(line),
        }
    }
}

/// Byte offset of `needle` (ASCII, lowercase) in `haystack`, ignoring ASCII case.
fn find_ascii_nocase(haystack: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (haystack.as_bytes(), needle.as_bytes());
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// Rewrites `\b` and `\B` outside character classes as their ASCII forms
/// (`(?-u:\b)`), leaving every other escape as is.
pub(super) fn ascii_word_boundaries(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains("\\b") && !pattern.contains("\\B") {
        return std::borrow::Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(b @ ('b' | 'B')) if class_depth == 0 => {
                    out.push_str("(?-u:\\");
                    out.push(b);
                    out.push(')');
                }
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' => {
                class_depth += 1;
                out.push(c);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_boundaries_become_ascii_outside_classes() {
        assert_eq!(
            ascii_word_boundaries(r"\b429\b [\b] \\b \B"),
            r"(?-u:\b)429(?-u:\b) [\b] \\b (?-u:\B)"
        );
        assert_eq!(ascii_word_boundaries("plain"), "plain");
        let m = Matcher::regex(r"(?i)\boverloaded\b", false).expect("compiles");
        assert!(m.is_match("│ API Error: Overloaded · retry"));
        assert!(!m.is_match("overloadedness"));
    }
}
