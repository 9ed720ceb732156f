//! A rule's list of matchers ([`MatcherSet`]), answering "does any of them
//! match this text?". In a long-lived process its regexes are also joined
//! into one alternation — one scan of the text instead of one per regex
//! (the rate-limit rule has 14) — compiled, like every status regex, only
//! after it has been asked [`COMPILE_AFTER`](super::lazy_regex::COMPILE_AFTER)
//! times, so a one-shot command never pays for it.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, OnceLock};

use super::lazy_regex::LazyRegex;
use super::matcher::Matcher;

/// Matchers plus their joined alternation (rebuilt after any change).
#[derive(Clone, Debug, Default)]
pub struct MatcherSet {
    matchers: Vec<Matcher>,
    joined: OnceLock<Option<Arc<LazyRegex>>>,
}

impl MatcherSet {
    pub fn new(matchers: Vec<Matcher>) -> MatcherSet {
        MatcherSet {
            matchers,
            joined: OnceLock::new(),
        }
    }

    /// True if any matcher matches `text`.
    pub fn any_match(&self, text: &str) -> bool {
        let joined = self.joined.get_or_init(|| join_regexes(&self.matchers));
        match joined.as_ref().and_then(|re| re.ready()) {
            Some(re) => {
                re.is_match(text)
                    || self
                        .matchers
                        .iter()
                        .any(|m| !matches!(m, Matcher::Regex(_)) && m.is_match(text))
            }
            None => self.matchers.iter().any(|m| m.is_match(text)),
        }
    }
}

/// `(?:a)|(?i:b)|...` of the regex matchers, when there are two or more.
fn join_regexes(matchers: &[Matcher]) -> Option<Arc<LazyRegex>> {
    let parts: Vec<String> = matchers
        .iter()
        .filter_map(|m| match m {
            Matcher::Regex(re) if re.is_nocase() => Some(format!("(?i:{})", re.pattern())),
            Matcher::Regex(re) => Some(format!("(?:{})", re.pattern())),
            _ => None,
        })
        .collect();
    (parts.len() >= 2).then(|| Arc::new(LazyRegex::deferred(parts.join("|"), false)))
}

impl Deref for MatcherSet {
    type Target = Vec<Matcher>;

    fn deref(&self) -> &Vec<Matcher> {
        &self.matchers
    }
}

impl DerefMut for MatcherSet {
    /// Any change to the list drops the joined alternation.
    fn deref_mut(&mut self) -> &mut Vec<Matcher> {
        self.joined = OnceLock::new();
        &mut self.matchers
    }
}

impl FromIterator<Matcher> for MatcherSet {
    fn from_iter<I: IntoIterator<Item = Matcher>>(iter: I) -> Self {
        MatcherSet::new(iter.into_iter().collect())
    }
}

impl From<Vec<Matcher>> for MatcherSet {
    fn from(matchers: Vec<Matcher>) -> Self {
        MatcherSet::new(matchers)
    }
}

#[cfg(test)]
mod tests {
    use super::super::lazy_regex::COMPILE_AFTER;
    use super::*;

    fn set() -> MatcherSet {
        MatcherSet::new(vec![
            Matcher::regex(r"^\s*rate limit\b", true).expect("valid"),
            Matcher::regex(r"(?i)too many", false).expect("valid"),
            Matcher::text("exact"),
        ])
    }

    #[test]
    fn the_joined_alternation_answers_as_the_matchers_do() {
        let set = set();
        let texts = [
            "  RATE LIMIT hit",
            "Too Many requests",
            "an exact one",
            "nothing",
            "x rate limit",
        ];
        let before: Vec<bool> = texts.iter().map(|t| set.any_match(t)).collect();
        assert_eq!(before, [true, true, true, false, false]);
        for _ in 0..=COMPILE_AFTER {
            set.any_match("warming up");
        }
        assert!(
            set.joined
                .get()
                .and_then(|j| j.as_ref())
                .is_some_and(|j| j.is_compiled())
        );
        let after: Vec<bool> = texts.iter().map(|t| set.any_match(t)).collect();
        assert_eq!(after, before);
        // Multi-line: `^` also matches after a line break of joined lines.
        assert!(set.any_match("first line\n rate limit reached"));
    }

    #[test]
    fn changing_the_list_drops_the_alternation() {
        let mut set = set();
        for _ in 0..=COMPILE_AFTER {
            set.any_match("warming up");
        }
        set.push(Matcher::regex("added", false).expect("valid"));
        assert!(set.joined.get().is_none());
        assert!(set.any_match("added here"));
    }
}
