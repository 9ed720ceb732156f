//! Status rules: what a rule matches (substring, case-insensitive substring,
//! regex), where it looks (last N non-blank lines, whole screen, pane title),
//! what cancels it (vetoes), and when it applies (always, or only on a screen
//! that has not changed since the last observation). Also the built-in
//! default rules every adapter inherits, in the reference's precedence:
//! completion → API limit → failure → exit-by-prompt → waiting for input.

use std::sync::Arc;

use super::lazy_regex::{LazyRegex, PatternError};
use super::matcher_set::MatcherSet;

use super::screen::Screen;
use super::status::SessionStatus;

/// One way of recognising a line.
#[derive(Clone, Debug)]
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
    /// `\n` (see [`RegionTexts`]).
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
fn ascii_word_boundaries(pattern: &str) -> std::borrow::Cow<'_, str> {
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

/// The part of the screen a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// The last N non-blank lines.
    Last(usize),
    /// Every line.
    Screen,
    /// The pane title.
    Title,
}

impl Region {
    /// Lines of the region, bottom first (the most recent text wins).
    pub fn lines<'a>(&self, screen: &'a Screen) -> Vec<&'a str> {
        self.iter(screen).collect()
    }

    /// Lines of the region, bottom first, without allocating.
    pub fn iter<'a>(&self, screen: &'a Screen) -> RegionLines<'a> {
        let (remaining, skip_blank, title) = match *self {
            Region::Last(n) => (n, true, None),
            Region::Screen => (usize::MAX, false, None),
            Region::Title => (1, false, Some(screen.title.as_str())),
        };
        RegionLines {
            lines: screen.lines.iter().rev(),
            remaining,
            skip_blank,
            title,
        }
    }
}

/// Iterator over a [`Region`]'s lines, bottom first.
#[derive(Clone, Debug)]
pub struct RegionLines<'a> {
    lines: std::iter::Rev<std::slice::Iter<'a, String>>,
    remaining: usize,
    skip_blank: bool,
    title: Option<&'a str>,
}

impl<'a> Iterator for RegionLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        if self.title.is_some() {
            return self.title.take();
        }
        if self.skip_blank {
            self.lines
                .by_ref()
                .map(String::as_str)
                .find(|l| !l.trim().is_empty())
        } else {
            self.lines.next().map(String::as_str)
        }
    }
}

/// When a rule may decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// On any observation.
    Always,
    /// Only when the screen is unchanged since the last observation
    /// (waiting-for-input rules: a changing screen means work).
    Unchanged,
}

/// One status rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Stable id shown as evidence (`claude.permission_prompt`, `default.rate_limit`).
    pub id: String,
    pub status: SessionStatus,
    pub reason: String,
    /// Any of these matching a line of the region fires the rule.
    pub matchers: MatcherSet,
    pub region: Region,
    /// Any of these matching a line of `veto_region` cancels the rule.
    pub vetoes: MatcherSet,
    pub veto_region: Region,
    pub when: When,
    /// Match regexes against the region's lines joined by `\n` (top to
    /// bottom) instead of line by line, for shapes that span lines.
    pub joined: bool,
}

impl Rule {
    /// A rule that applies always and looks at the last 10 lines; `blocked`
    /// rules default to applying only to unchanged screens.
    pub fn new(id: impl Into<String>, status: SessionStatus, reason: impl Into<String>) -> Rule {
        Rule {
            id: id.into(),
            status,
            reason: reason.into(),
            matchers: MatcherSet::default(),
            region: Region::Last(10),
            vetoes: MatcherSet::default(),
            veto_region: Region::Last(10),
            when: if status == SessionStatus::Blocked {
                When::Unchanged
            } else {
                When::Always
            },
            joined: false,
        }
    }

    pub fn matching(mut self, matcher: Matcher) -> Rule {
        self.matchers.push(matcher);
        self
    }

    pub fn unless(mut self, matcher: Matcher) -> Rule {
        self.vetoes.push(matcher);
        self
    }

    pub fn region(mut self, region: Region) -> Rule {
        self.region = region;
        self.veto_region = region;
        self
    }

    pub fn when(mut self, when: When) -> Rule {
        self.when = when;
        self
    }

    /// The matched line, if the rule fires on this screen (vetoes applied).
    pub fn find<'a>(&self, screen: &'a Screen) -> Option<&'a str> {
        self.find_with(screen, &RegionTexts::new(screen))
    }

    /// [`Rule::find`], testing each region's joined lines first (one regex
    /// call instead of one per line for the usual rule that does not fire).
    pub fn find_with<'a>(&self, screen: &'a Screen, texts: &RegionTexts<'_>) -> Option<&'a str> {
        let line = if self.joined {
            let mut top_down = self.region.lines(screen);
            top_down.reverse();
            let text = top_down.join("\n");
            let at = self.matchers.iter().find_map(|m| m.find_offset(&text))?;
            // Evidence is the region line where the match starts.
            let mut offset = 0;
            top_down
                .into_iter()
                .find(|l| {
                    offset += l.len() + 1;
                    offset > at
                })
                .unwrap_or_default()
        } else {
            if self.matchers.iter().all(Matcher::is_joinable)
                && !self.matchers.any_match(&texts.get(self.region))
            {
                return None;
            }
            self.region
                .iter(screen)
                .find(|line| self.matchers.any_match(line))?
        };
        let vetoed = !self.vetoes.is_empty() && {
            let joinable = self.vetoes.iter().all(Matcher::is_joinable);
            (!joinable || self.vetoes.any_match(&texts.get(self.veto_region)))
                && self
                    .veto_region
                    .iter(screen)
                    .any(|line| self.vetoes.any_match(line))
        };
        (!vetoed).then_some(line)
    }
}

/// A screen's regions as joined text, built once per classification. A
/// joinable matcher (see [`Matcher::is_joinable`]: substrings cannot span
/// the `\n`, and status regexes are multi-line) that finds nothing in a
/// region's joined lines matches none of them, so a rule tests the joined
/// text first.
pub struct RegionTexts<'s> {
    screen: &'s Screen,
    joined: std::cell::RefCell<Vec<(Region, std::rc::Rc<str>)>>,
}

impl<'s> RegionTexts<'s> {
    pub fn new(screen: &'s Screen) -> Self {
        RegionTexts {
            screen,
            joined: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The region's lines joined by `\n` (bottom first).
    pub fn get(&self, region: Region) -> std::rc::Rc<str> {
        if let Some((_, text)) = self.joined.borrow().iter().find(|(r, _)| *r == region) {
            return text.clone();
        }
        let lines: Vec<&str> = region.iter(self.screen).collect();
        let text: std::rc::Rc<str> = lines.join("\n").into();
        self.joined.borrow_mut().push((region, text.clone()));
        text
    }
}

/// Regexes that mean "the agent is busy right now": they veto waiting rules.
// Patterns use ASCII classes (`[0-9]`, not `\d`): the Unicode classes
// made compiling the rule set a large part of a one-shot command's run.
pub const BUSY_MARKERS: &[&str] = &[
    r"(?i)esc to interrupt",
    // A tool call still running: "  ⎿  Running…".
    r"^\s*⎿\s+Running…",
    // Spinner lines: "✻ Marinating… (40s · ↓ 2k tokens)", "· Thinking…".
    r"^\s*[·✢✳✶✻✽✦∗*◦•]\s+\S[^…]{0,40}…",
    r"(?i)^\s*[◦•]?\s*working \([0-9]",
];

/// Regexes for "the agent is retrying": a failure shown with them is not final.
pub const RETRY_MARKERS: &[&str] = &[
    r"(?i)\bretrying\b",
    r"(?i)\breconnecting\b",
    r"(?i)\battempt [0-9]+\s*/\s*[0-9]+",
    r"(?i)\bretry(ing)? in [0-9]",
];

struct DefaultRule {
    id: &'static str,
    status: SessionStatus,
    reason: &'static str,
    patterns: &'static [&'static str],
    region: Region,
    vetoes: &'static [&'static str],
    busy_veto: bool,
    when: When,
}

use SessionStatus as S;

const DEFAULT_RULES: &[DefaultRule] = &[
    DefaultRule {
        id: "default.completion",
        status: S::Done,
        reason: "completion_phrase",
        // Whole lines only, in the last lines: "goodbye" in prose is not done.
        patterns: &[
            r"(?i)^[^A-Za-z0-9_]*(task completed successfully|all tasks completed|session ended|goodbye)[^A-Za-z0-9_]*$",
        ],
        region: Region::Last(3),
        vetoes: &[],
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.pane_dead",
        status: S::Exited,
        reason: "process_exited",
        patterns: &[r"^Pane is dead \("],
        region: Region::Last(2),
        vetoes: &[],
        busy_veto: false,
        when: When::Always,
    },
    // A shell prompt under the agent's UI: the agent has exited (on a saved
    // screen; live sessions learn it from the process layer first). Only
    // unmistakable prompts count, so "100%" or "Total: 12$" never do.
    DefaultRule {
        id: "default.shell_prompt",
        status: S::Exited,
        reason: "process_exited",
        patterns: &[
            // bash-5.2$   sh-5.2#   (maybe followed by leftover box drawing)
            r"^(ba|da|z|k)?sh-[0-9]+(\.[0-9]+)*[$#%](\s*[─━═│╭╰]|\s*$)",
            // user@host:~/dir$   user@host ~/project git:(main) $
            r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+[: ][^\s]*( git:\([^)]*\))?( ✗)?\s?[$#%](\s*[─━═│╭╰]|\s*$)",
            // The shell's report of a SIGKILLed child, printed over the UI.
            r"^(❯|›|>)?\s*Killed(\s|$|[a-z]{0,3}\s)",
        ],
        region: Region::Last(3),
        vetoes: &[],
        busy_veto: false,
        when: When::Always,
    },
    DefaultRule {
        id: "default.bare_prompt",
        status: S::Exited,
        reason: "process_exited",
        patterns: &[
            // A bare prompt character as the very last line.
            r"^[$%#❯➜]$",
            // oh-my-zsh: "➜  dir", "~/proj git:(main)"
            r"^➜\s+\S+( git:\([^)]*\))?( ✗)?$",
            r"^~?[A-Za-z0-9_./~-]* git:\([^)]*\)( ✗)?$",
        ],
        region: Region::Last(1),
        vetoes: &[r"↵ send", r"\? for shortcuts", r"(?i)\btokens\b"],
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.rate_limit",
        status: S::BlockedApi,
        reason: "rate_limit",
        patterns: &[
            r"(?i)rate[ _-]?limit(ed)?\s+(exceeded|reached|hit)",
            r"(?i)would exceed (the|your) rate limit",
            r"(?i)too many requests",
            r"(?i)(api error|error|status|http)[^0-9]{0,20}\b429\b",
            r"(?i)\busage limit\b.{0,20}\b(reached|exceeded|hit)",
            r"(?i)\b(reached|hit) your (usage )?limit",
            r"(?i)you'?ve (hit|reached) your (?:[^.·]|\.\S){0,40}\blimit\b",
            r"(?i)\b(5-hour|hourly|daily|weekly|monthly|session|cost|spend) limit (reached|exceeded|hit)",
            r"(?i)out of (usage )?credits",
            r"(?i)\bquota (exceeded|reached)|insufficient[_ ]quota|exceeded your current quota",
            r"(?i)resource[_ ]exhausted",
            r"(?i)/rate-limit-options",
            r"(?i)usage limit reached",
            r"(?i)wait for (the )?limit to reset",
        ],
        region: Region::Last(12),
        vetoes: &[r"(?i)approaching", r"(?i)you'?ve used [0-9]+\s*% of"],
        busy_veto: false,
        when: When::Always,
    },
    DefaultRule {
        id: "default.overloaded",
        status: S::BlockedApi,
        reason: "overloaded",
        patterns: &[
            r"(?i)\boverloaded\b",
            r"(?i)(api error|error|status|http)[^0-9]{0,20}\b(529|503)\b",
            r"(?i)service unavailable",
            r"(?i)\bis at capacity\b",
            r"(?i)experiencing high demand",
        ],
        region: Region::Last(12),
        vetoes: RETRY_MARKERS,
        busy_veto: false,
        when: When::Always,
    },
    DefaultRule {
        id: "default.auth_failed",
        status: S::Failed,
        reason: "auth_failed",
        patterns: &[
            r"(?i)authentication (failed|error)",
            r"(?i)(api error|error|status|http)[^0-9]{0,20}\b401\b",
            r"(?i)\b401 unauthorized",
            r"(?i)invalid (api[ _-]?key|x-api-key|bearer token|authentication)",
            r"(?i)incorrect api key",
        ],
        region: Region::Last(10),
        vetoes: RETRY_MARKERS,
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.connection_failed",
        status: S::Failed,
        reason: "connection_failed",
        patterns: &[
            r"(?i)unable to connect",
            r"(?i)connection refused|econnrefused",
            r"(?i)could not (connect|resolve host)",
            r"(?i)failed to connect",
        ],
        region: Region::Last(10),
        vetoes: RETRY_MARKERS,
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.api_error",
        status: S::Failed,
        reason: "api_error",
        patterns: &[
            r"(?i)api error:?\s*5[0-9][0-9]\b",
            r"(?i)\b500 internal server error\b",
        ],
        region: Region::Last(10),
        vetoes: RETRY_MARKERS,
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.failure",
        status: S::Failed,
        reason: "fatal_error",
        patterns: &[
            r"(?i)\bfatal error\b",
            r"(?i)\bunrecoverable error\b",
            r"(?i)\b(agent|process|session) (has )?crashed\b",
            r"(?i)\bcrashed unexpectedly\b",
            r"(?i)terminated unexpectedly",
        ],
        region: Region::Last(8),
        vetoes: RETRY_MARKERS,
        busy_veto: true,
        when: When::Always,
    },
    // A live activity marker (spinner, "esc to interrupt", a retry counter).
    DefaultRule {
        id: "default.busy",
        status: S::Running,
        reason: "busy",
        patterns: &[
            r"(?i)esc to interrupt",
            r"^\s*⎿\s+Running…",
            r"^\s*[·✢✳✶✻✽✦∗*◦•⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s+\S[^…]{0,40}…",
            r"(?i)^\s*[◦•]?\s*working \([0-9]",
            r"(?i)\bretrying in [0-9]",
            r"(?i)\battempt [0-9]+\s*/\s*[0-9]+",
        ],
        region: Region::Last(8),
        vetoes: &[],
        busy_veto: false,
        when: When::Always,
    },
    DefaultRule {
        id: "default.context_limit",
        status: S::Blocked,
        reason: "context_limit",
        patterns: &[
            r"(?i)context limit reached",
            r"(?i)context window (is )?full",
        ],
        region: Region::Last(10),
        vetoes: &[],
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.login_required",
        status: S::Blocked,
        reason: "login_required",
        patterns: &[
            r"(?i)please run /login",
            r"(?i)not logged in",
            r"(?i)login expired",
            r"(?i)sign in with chatgpt",
            r"(?i)login with google",
            r"(?i)select login method",
            r"(?i)how would you like to authenticate",
        ],
        region: Region::Last(20),
        vetoes: &[],
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.trust_dialog",
        status: S::Blocked,
        reason: "trust_dialog",
        patterns: &[
            r"(?i)do you trust (the (files|contents) (of|in) )?this (directory|folder)",
            r"(?i)is this a project you created or one you trust",
            r"(?i)trust (this|the) folder",
            r"(?i)\btrust folder\b",
        ],
        region: Region::Last(20),
        vetoes: &[],
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.permission_prompt",
        status: S::Blocked,
        reason: "permission_prompt",
        patterns: &[
            r"(?i)do you want to (proceed|make this edit|create|run|allow)",
            r"No, and tell [A-Za-z]+ what to do differently",
            r"(?i)allow (this|once|always)\b",
            r"(?i)allow execution of",
            r"(?i)approve (this|the) (command|action|change)",
            r"(?i)would you like to run the following command",
        ],
        region: Region::Last(15),
        vetoes: &[],
        busy_veto: true,
        when: When::Always,
    },
    DefaultRule {
        id: "default.dialog",
        status: S::Blocked,
        reason: "dialog",
        patterns: &[
            r"(?i)enter to confirm",
            r"(?i)press enter to (continue|confirm)",
            r"(?i)\(use enter to select\)",
        ],
        region: Region::Last(6),
        vetoes: &[],
        busy_veto: true,
        when: When::Unchanged,
    },
    DefaultRule {
        id: "default.idle_prompt",
        status: S::Blocked,
        reason: "idle_prompt",
        patterns: &[
            r"↵ send",
            r"\? for shortcuts",
            r"(?i)type your message",
            r"(?i)^\s*esc to cancel\s*$",
        ],
        region: Region::Last(6),
        vetoes: &[],
        busy_veto: true,
        when: When::Unchanged,
    },
];

fn compile(patterns: &[&str]) -> Vec<Matcher> {
    patterns
        .iter()
        // Built-in patterns are tested below; a bad one is skipped, never a panic.
        .filter_map(|p| Matcher::regex(p, false).ok())
        .collect()
}

/// The built-in default rules, compiled once per process (clones share
/// the compiled regexes).
pub fn default_rules() -> Vec<Rule> {
    static COMPILED: std::sync::LazyLock<Vec<Rule>> = std::sync::LazyLock::new(compile_defaults);
    COMPILED.clone()
}

/// Busy markers as matchers, compiled once.
pub fn busy_matchers() -> Vec<Matcher> {
    static COMPILED: std::sync::LazyLock<Vec<Matcher>> =
        std::sync::LazyLock::new(|| compile(BUSY_MARKERS));
    COMPILED.clone()
}

fn compile_defaults() -> Vec<Rule> {
    DEFAULT_RULES
        .iter()
        .map(|d| {
            let mut vetoes = compile(d.vetoes);
            if d.busy_veto {
                vetoes.extend(busy_matchers());
            }
            Rule {
                id: d.id.to_owned(),
                status: d.status,
                reason: d.reason.to_owned(),
                matchers: compile(d.patterns).into(),
                region: d.region,
                vetoes: vetoes.into(),
                veto_region: match d.region {
                    Region::Last(n) => Region::Last(n.max(6)),
                    other => other,
                },
                when: d.when,
                joined: false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn text_anchors_keep_their_per_line_meaning() {
        // \A is each line's start for a line rule, so the joined-region
        // prefilter must not reject the region.
        let rule = Rule::new("t.anchor", SessionStatus::Failed, "x")
            .matching(Matcher::regex(r"\Aerror:", false).expect("valid"));
        let screen = Screen::from_text("error: boom\nmore\nlast");
        assert_eq!(rule.find(&screen), Some("error: boom"));
        // A joined rule's ^ and $ are the region's top and bottom.
        let mut joined = Rule::new("t.joined", SessionStatus::Blocked, "y")
            .matching(Matcher::regex_of_text(r"^first\nsecond$", false).expect("valid"));
        joined.joined = true;
        assert!(joined.find(&Screen::from_text("first\nsecond")).is_some());
        assert!(
            joined
                .find(&Screen::from_text("zero\nfirst\nsecond"))
                .is_none()
        );
    }

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

    #[test]
    fn every_builtin_pattern_compiles() {
        for rule in DEFAULT_RULES {
            for p in rule.patterns.iter().chain(rule.vetoes) {
                // Compiled in full: a lazy matcher would only parse it.
                let compiled = regex::Regex::new(&ascii_word_boundaries(p));
                assert!(compiled.is_ok(), "{}: {p}", rule.id);
            }
        }
        for p in BUSY_MARKERS.iter().chain(RETRY_MARKERS) {
            assert!(regex::Regex::new(&ascii_word_boundaries(p)).is_ok(), "{p}");
        }
    }

    #[test]
    fn vetoes_cancel_a_rule() {
        let rule = Rule::new("t", S::Blocked, "idle")
            .matching(Matcher::text("? for shortcuts"))
            .unless(Matcher::nocase("ESC TO INTERRUPT"));
        let idle = Screen::from_text("> \n? for shortcuts");
        let busy = Screen::from_text("· Thinking… (esc to interrupt)\n> \n? for shortcuts");
        assert_eq!(rule.find(&idle), Some("? for shortcuts"));
        assert_eq!(rule.find(&busy), None);
    }

    #[test]
    fn region_limits_where_a_rule_looks() {
        let rule = Rule::new("t", S::Done, "x")
            .matching(Matcher::text("bye"))
            .region(Region::Last(1));
        assert!(rule.find(&Screen::from_text("bye\nmore")).is_none());
        assert!(rule.find(&Screen::from_text("more\nbye\n\n")).is_some());
    }
}
