//! The built-in default rules every adapter inherits, as data, in the
//! reference's precedence: completion → API limit → failure → exit-by-prompt
//! → waiting for input; and the busy and retry markers, defined once.

use super::matcher::Matcher;
use super::rule::{Region, Rule, When};
use super::status::SessionStatus;

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
    use super::super::matcher::ascii_word_boundaries;
    use super::*;

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
}
