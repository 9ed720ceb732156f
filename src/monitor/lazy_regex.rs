//! Status regexes compiled when first needed. Compiling the ~90 built-in
//! status regexes costs ~13 ms — most of a one-shot `ps` — while a screen
//! touches few of them. A [`LazyRegex`] is parsed (so a bad pattern is still
//! refused at once) but compiled only when a line passes its *gate*, or after
//! it has been consulted [`COMPILE_AFTER`] times: a long-lived watcher then
//! runs the compiled regex, whose own prefilter beats the gate.
//!
//! Every regex is multi-line (`^`/`$` also match at line breaks): the same
//! on one line, and it lets a rule test a region's joined lines first (see
//! `rule::RegionTexts`): no match there means no line matches.
//!
//! The gate is a few lowercase needles, one of which is in every match: the
//! prefix (or suffix) literals regex-syntax extracts from the pattern,
//! compared ignoring ASCII case. A pattern without such literals (say
//! `^\s*$`) has no gate and is compiled on first use.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use regex::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, HirKind, Look};

/// Consultations after which a regex is compiled whatever its gate says.
pub const COMPILE_AFTER: u32 = 200;
/// Most needles a gate keeps (more and the gate costs more than it saves).
const MAX_NEEDLES: usize = 16;
/// Size limit of one compiled regex (as for every status regex).
const SIZE_LIMIT: usize = 1 << 20;

/// A regex compiled on first need; see the module docs.
pub struct LazyRegex {
    pattern: String,
    nocase: bool,
    multi_line: bool,
    joinable: bool,
    gate: Option<Vec<Vec<u8>>>,
    consulted: AtomicU32,
    compiled: OnceLock<Option<Regex>>,
}

impl std::fmt::Debug for LazyRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyRegex")
            .field("pattern", &self.pattern)
            .field("compiled", &self.compiled.get().is_some())
            .finish()
    }
}

/// Why a pattern was refused (tmux-free, one line per cause).
#[derive(Debug)]
pub struct PatternError(pub String);

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl LazyRegex {
    /// Parses `pattern` (not compiled yet), multi-line.
    pub fn new(pattern: &str, nocase: bool) -> Result<LazyRegex, PatternError> {
        LazyRegex::with_lines(pattern, nocase, true)
    }

    /// Parses `pattern`; `multi_line` makes `^`/`$` also match at line
    /// breaks (every status regex but those of `joined` rules, which mean
    /// the region's top and bottom).
    pub fn with_lines(
        pattern: &str,
        nocase: bool,
        multi_line: bool,
    ) -> Result<LazyRegex, PatternError> {
        let hir = regex_syntax::ParserBuilder::new()
            .case_insensitive(nocase)
            .multi_line(multi_line)
            .build()
            .parse(pattern)
            .map_err(|e| PatternError(e.to_string()))?;
        let looks = hir.properties().look_set();
        Ok(LazyRegex {
            pattern: pattern.to_owned(),
            nocase,
            multi_line,
            joinable: multi_line && !looks.contains(Look::Start) && !looks.contains(Look::End),
            gate: gate(&hir),
            consulted: AtomicU32::new(0),
            compiled: OnceLock::new(),
        })
    }

    /// True when a match in a line is also a match in text of several
    /// lines joined by `\n` (multi-line, and no `\A`/`\z`, which mean the
    /// start and end of the whole text).
    pub fn is_joinable(&self) -> bool {
        self.joinable
    }

    /// A regex compiled only once it has been consulted [`COMPILE_AFTER`]
    /// times (see [`LazyRegex::ready`]); the pattern must be valid.
    pub fn deferred(pattern: String, nocase: bool) -> LazyRegex {
        LazyRegex {
            pattern,
            nocase,
            multi_line: true,
            joinable: false,
            gate: Some(Vec::new()),
            consulted: AtomicU32::new(0),
            compiled: OnceLock::new(),
        }
    }

    /// The compiled regex once it is worth having: counts a consultation
    /// and compiles after [`COMPILE_AFTER`] of them; `None` before.
    pub fn ready(&self) -> Option<&Regex> {
        if let Some(compiled) = self.compiled.get() {
            return compiled.as_ref();
        }
        if self.consulted.fetch_add(1, Ordering::Relaxed) < COMPILE_AFTER {
            return None;
        }
        self.compiled.get_or_init(|| self.build().ok()).as_ref()
    }

    /// The pattern as compiled (word boundaries already made ASCII).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn is_nocase(&self) -> bool {
        self.nocase
    }

    /// Compiles now (users' patterns are, at load: an oversized one is then
    /// refused there rather than never matching).
    pub fn compile_now(&self) -> Result<(), PatternError> {
        if self.compiled.get().is_some() {
            return Ok(());
        }
        let compiled = self.build().map_err(|e| PatternError(e.to_string()))?;
        let _ = self.compiled.set(Some(compiled));
        Ok(())
    }

    fn build(&self) -> Result<Regex, regex::Error> {
        RegexBuilder::new(&self.pattern)
            .case_insensitive(self.nocase)
            .multi_line(self.multi_line)
            .size_limit(SIZE_LIMIT)
            .build()
    }

    /// The compiled regex, if `text` may match (compiling it if need be).
    fn regex_for(&self, text: &str) -> Option<&Regex> {
        if let Some(compiled) = self.compiled.get() {
            return compiled.as_ref();
        }
        let consulted = self.consulted.fetch_add(1, Ordering::Relaxed);
        let open = match &self.gate {
            Some(needles) => consulted >= COMPILE_AFTER || passes(needles, text),
            None => true,
        };
        if !open {
            return None;
        }
        // Parsed fine, so only the size limit can fail here: never matches.
        self.compiled.get_or_init(|| self.build().ok()).as_ref()
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex_for(text).is_some_and(|re| re.is_match(text))
    }

    /// Byte offset of the first match.
    pub fn find_offset(&self, text: &str) -> Option<usize> {
        self.regex_for(text)
            .and_then(|re| re.find(text))
            .map(|m| m.start())
    }

    /// True once compiled (for tests and benchmarks).
    pub fn is_compiled(&self) -> bool {
        self.compiled.get().is_some()
    }
}

/// Lowercase needles one of which every match contains: the best literal
/// set among the pattern's own prefixes or suffixes and those of each part
/// of a top-level sequence (every match of `^\s*(a|b)\s*$` contains a
/// match of `(a|b)`), preferring longer needles, then fewer.
fn gate(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let best = |candidates: Vec<&Hir>| {
        candidates
            .into_iter()
            .flat_map(|h| {
                [ExtractKind::Prefix, ExtractKind::Suffix].map(|kind| needles_of(h, kind))
            })
            .flatten()
            .max_by_key(|needles| {
                let shortest = needles.iter().map(Vec::len).min().unwrap_or(0);
                (shortest, std::cmp::Reverse(needles.len()))
            })
    };
    let whole = best(vec![hir]);
    // Parts are only worth extracting when the whole gives no good needles.
    let good = |needles: &Vec<Vec<u8>>| needles.iter().all(|n| n.len() >= 3);
    let HirKind::Concat(parts) = hir.kind() else {
        return whole;
    };
    if whole.as_ref().is_some_and(good) {
        return whole;
    }
    let mut candidates = vec![hir];
    candidates.extend(parts.iter().map(|part| match part.kind() {
        HirKind::Capture(capture) => capture.sub.as_ref(),
        _ => part,
    }));
    best(candidates)
}

/// The literal set of `kind` of `hir`, lowercased, if usable as a gate:
/// finite, at most [`MAX_NEEDLES`], no needle empty or only blanks.
fn needles_of(hir: &Hir, kind: ExtractKind) -> Option<Vec<Vec<u8>>> {
    // Short needles, few case variants: extraction stays cheap.
    let seq = Extractor::new()
        .kind(kind)
        .limit_literal_len(4)
        .limit_total(160)
        .extract(hir);
    let mut needles: Vec<Vec<u8>> = seq
        .literals()?
        .iter()
        .map(|l| l.as_bytes().to_ascii_lowercase())
        .collect();
    needles.sort();
    needles.dedup();
    let usable = !needles.is_empty()
        && needles.len() <= MAX_NEEDLES
        && needles
            .iter()
            .all(|n| n.iter().any(|b| !b.is_ascii_whitespace()));
    usable.then_some(needles)
}

/// True if `text` contains one of `needles` (lowercase), ignoring ASCII case.
fn passes(needles: &[Vec<u8>], text: &str) -> bool {
    let hay = text.as_bytes();
    needles.iter().any(|needle| contains_nocase(hay, needle))
}

fn contains_nocase(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(found) = memchr::memchr2(first, first.to_ascii_uppercase(), &hay[from..]) {
        let at = from + found + 1;
        if hay
            .get(at..at + rest.len())
            .is_some_and(|tail| tail.eq_ignore_ascii_case(rest))
        {
            return true;
        }
        from = at;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gated_regex_compiles_only_when_a_line_may_match() {
        let re = LazyRegex::new(r"(?i)rate limit(ed)? (reached|hit)", false).expect("parses");
        assert!(re.gate.is_some());
        assert!(!re.is_match("esc to interrupt"));
        assert!(!re.is_compiled());
        assert!(!re.is_match("RATE LIMIT soon"));
        assert!(re.is_compiled());
        assert!(re.is_match("Rate limited hit"));
    }

    #[test]
    fn a_part_of_a_sequence_can_gate_it() {
        let re =
            LazyRegex::new(r"(?i)^[^a-z]*(task completed|goodbye)[^a-z]*$", false).expect("parses");
        assert!(re.gate.is_some());
        assert!(!re.is_match("step 12 done"));
        assert!(!re.is_compiled());
        assert!(re.is_match("** Goodbye **"));
        let shell = LazyRegex::new(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:", false).expect("parses");
        assert!(!shell.is_match("step 12 done"));
        assert!(!shell.is_compiled(), "gated by '@' or ':'");
        assert!(shell.is_match("me@host:"));
    }

    #[test]
    fn text_anchors_make_a_regex_unjoinable() {
        assert!(
            LazyRegex::new(r"^error: .*$", false)
                .expect("parses")
                .is_joinable()
        );
        assert!(
            !LazyRegex::new(r"\Aerror:", false)
                .expect("parses")
                .is_joinable()
        );
        assert!(
            !LazyRegex::new(r"(?-m)^error:", false)
                .expect("parses")
                .is_joinable()
        );
        assert!(
            !LazyRegex::with_lines("^a", false, false)
                .expect("parses")
                .is_joinable()
        );
    }

    #[test]
    fn an_ungated_regex_compiles_on_first_use() {
        let re = LazyRegex::new(r"^\s*$", false).expect("parses");
        assert!(re.gate.is_none());
        assert!(re.is_match("   "));
        assert!(re.is_compiled());
    }

    #[test]
    fn the_gate_opens_after_enough_consultations() {
        let re = LazyRegex::new("needle", false).expect("parses");
        for _ in 0..COMPILE_AFTER {
            assert!(!re.is_match("hay"));
        }
        assert!(!re.is_compiled());
        assert!(!re.is_match("hay"));
        assert!(re.is_compiled());
    }

    #[test]
    fn bad_and_oversized_patterns_are_refused_at_once() {
        assert!(LazyRegex::new("(unclosed", false).is_err());
        let big = LazyRegex::new(r"\w{1000}{1000}", false).expect("parses");
        assert!(big.compile_now().is_err());
        assert!(!big.is_match("word"));
    }

    #[test]
    fn the_gate_ignores_ascii_case_only() {
        assert!(contains_nocase(b"An API Error", b"api error"));
        assert!(!contains_nocase(b"an api", b"api error"));
        assert!(contains_nocase(b"xxxAPI", b"api"));
        assert!(!contains_nocase(b"", b"a"));
    }
}
