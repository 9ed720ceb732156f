//! Status rules: what a rule matches (substring, case-insensitive substring,
//! regex), where it looks (last N non-blank lines, whole screen, pane title),
//! what cancels it (vetoes), and when it applies (always, or only on a screen
//! that has not changed since the last observation). Also the built-in
//! default rules every adapter inherits, in the reference's precedence:
//! completion → API limit → failure → exit-by-prompt → waiting for input.

use regex::{Regex, RegexBuilder};

use super::screen::Screen;
use super::status::SessionStatus;

/// One way of recognising a line.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Plain substring.
    Text(String),
    /// Case-insensitive substring (stored lowercased).
    NoCase(String),
    Regex(Regex),
}

impl Matcher {
    pub fn text(text: impl Into<String>) -> Matcher {
        Matcher::Text(text.into())
    }

    pub fn nocase(text: &str) -> Matcher {
        Matcher::NoCase(text.to_lowercase())
    }

    /// A regex; `nocase` makes it case-insensitive.
    pub fn regex(pattern: &str, nocase: bool) -> Result<Matcher, regex::Error> {
        RegexBuilder::new(pattern)
            .case_insensitive(nocase)
            .size_limit(1 << 20)
            .build()
            .map(Matcher::Regex)
    }

    pub fn is_match(&self, line: &str) -> bool {
        match self {
            Matcher::Text(text) => line.contains(text.as_str()),
            Matcher::NoCase(text) => line.to_lowercase().contains(text.as_str()),
            Matcher::Regex(re) => re.is_match(line),
        }
    }
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
        match self {
            Region::Last(n) => {
                let mut lines: Vec<&str> = screen.last_non_blank(*n).collect();
                lines.reverse();
                lines
            }
            Region::Screen => screen.lines.iter().rev().map(String::as_str).collect(),
            Region::Title => vec![screen.title.as_str()],
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
    pub matchers: Vec<Matcher>,
    pub region: Region,
    /// Any of these matching a line of `veto_region` cancels the rule.
    pub vetoes: Vec<Matcher>,
    pub veto_region: Region,
    pub when: When,
}

impl Rule {
    /// A rule that applies always and looks at the last 10 lines; `blocked`
    /// rules default to applying only to unchanged screens.
    pub fn new(id: impl Into<String>, status: SessionStatus, reason: impl Into<String>) -> Rule {
        Rule {
            id: id.into(),
            status,
            reason: reason.into(),
            matchers: Vec::new(),
            region: Region::Last(10),
            vetoes: Vec::new(),
            veto_region: Region::Last(10),
            when: if status == SessionStatus::Blocked {
                When::Unchanged
            } else {
                When::Always
            },
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
        let line = self
            .region
            .lines(screen)
            .into_iter()
            .find(|line| self.matchers.iter().any(|m| m.is_match(line)))?;
        let vetoed = !self.vetoes.is_empty()
            && self
                .veto_region
                .lines(screen)
                .into_iter()
                .any(|line| self.vetoes.iter().any(|m| m.is_match(line)));
        (!vetoed).then_some(line)
    }
}

/// Regexes that mean "the agent is busy right now": they veto waiting rules.
pub const BUSY_MARKERS: &[&str] = &[
    r"(?i)esc to interrupt",
    // Spinner lines: "✻ Marinating… (40s · ↓ 2k tokens)", "· Thinking…".
    r"^\s*[·✢✳✶✻✽✦∗*◦•]\s+\S[^…]{0,40}…",
    r"(?i)^\s*[◦•]?\s*working \(\d",
];

/// Regexes for "the agent is retrying": a failure shown with them is not final.
pub const RETRY_MARKERS: &[&str] = &[
    r"(?i)\bretrying\b",
    r"(?i)\breconnecting\b",
    r"(?i)\battempt \d+\s*/\s*\d+",
    r"(?i)\bretry(ing)? in \d",
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
        patterns: &[
            r"(?i)^\W*(task completed successfully|all tasks completed|session ended|goodbye)\W*$",
        ],
        region: Region::Last(3),
        vetoes: &[],
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
            r"(?i)(api error|error|status|http)\D{0,20}\b429\b",
            r"(?i)\busage limit\b.{0,20}\b(reached|exceeded|hit)",
            r"(?i)\b(reached|hit) your (usage )?limit",
            r"(?i)you'?ve (hit|reached) your [^.·]{0,40}\blimit\b",
            r"(?i)\b(5-hour|hourly|daily|weekly|monthly|session|cost|spend) limit (reached|exceeded|hit)",
            r"(?i)out of (usage )?credits",
            r"(?i)\bquota (exceeded|reached)|insufficient[_ ]quota|exceeded your current quota",
            r"(?i)resource[_ ]exhausted",
            r"(?i)/rate-limit-options",
            r"(?i)wait for (the )?limit to reset",
        ],
        region: Region::Last(12),
        vetoes: &[r"(?i)approaching", r"(?i)you'?ve used \d+\s*% of"],
        busy_veto: false,
        when: When::Always,
    },
    DefaultRule {
        id: "default.overloaded",
        status: S::BlockedApi,
        reason: "overloaded",
        patterns: &[
            r"(?i)\boverloaded\b",
            r"(?i)(api error|error|status|http)\D{0,20}\b(529|503)\b",
            r"(?i)service unavailable",
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
            r"(?i)(api error|error|status|http)\D{0,20}\b401\b",
            r"(?i)\b401 unauthorized",
            r"(?i)invalid (api[ _-]?key|x-api-key|bearer token|authentication)",
            r"(?i)incorrect api key",
        ],
        region: Region::Last(10),
        vetoes: RETRY_MARKERS,
        busy_veto: false,
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
        busy_veto: false,
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
    DefaultRule {
        id: "default.shell_prompt",
        status: S::Exited,
        reason: "process_exited",
        patterns: &[
            // A bare prompt character, as a shell leaves it.
            r"^[$%#❯➜>]$",
            // user@host:~/dir$   user@host ~/project git:(main) $
            r"^[\w.-]+@[\w.-]+[: ].*[$#%]$",
            // bash-5.2$  sh-5.2#
            r"^(ba|da|z|k)?sh-\d+(\.\d+)*[$#%]$",
            // oh-my-zsh: "➜  dir", "~/proj git:(main)"
            r"^➜\s+\S+( git:\([^)]*\))?( ✗)?$",
            r"^~?[\w./~-]* git:\([^)]*\)( ✗)?$",
        ],
        region: Region::Last(1),
        vetoes: &[r"↵ send", r"\? for shortcuts", r"(?i)\btokens\b"],
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
        ],
        region: Region::Last(15),
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
            r"No, and tell Claude what to do differently",
            r"(?i)allow (this|once|always)\b",
            r"(?i)approve (this|the) (command|action|change)",
            r"(?i)would you like to run the following command",
        ],
        region: Region::Last(15),
        vetoes: &[],
        busy_veto: true,
        when: When::Always,
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

/// The built-in default rules, compiled.
pub fn default_rules() -> Vec<Rule> {
    DEFAULT_RULES
        .iter()
        .map(|d| {
            let mut vetoes = compile(d.vetoes);
            if d.busy_veto {
                vetoes.extend(compile(BUSY_MARKERS));
            }
            Rule {
                id: d.id.to_owned(),
                status: d.status,
                reason: d.reason.to_owned(),
                matchers: compile(d.patterns),
                region: d.region,
                vetoes,
                veto_region: match d.region {
                    Region::Last(n) => Region::Last(n.max(6)),
                    other => other,
                },
                when: d.when,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_pattern_compiles() {
        for rule in DEFAULT_RULES {
            for p in rule.patterns.iter().chain(rule.vetoes) {
                assert!(Matcher::regex(p, false).is_ok(), "{}: {p}", rule.id);
            }
        }
        for p in BUSY_MARKERS.iter().chain(RETRY_MARKERS) {
            assert!(Matcher::regex(p, false).is_ok(), "{p}");
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
