//! The built-in default rules every adapter inherits, as data, in the
//! reference's precedence: completion → API limit → failure → exit (by a
//! shell prompt under the agent's last frame, a `Killed` line, a goodbye) →
//! dialogs → waiting for input; and the busy, retry and shell-prompt
//! families, each defined once. Rules name the screen-model region they
//! look at (see `layout.rs`): errors and limits count only in the latest
//! turn and its footer, never in older turns or in what the user types.

use super::layout::regexes;
use super::matcher::Matcher;
use super::matcher_set::MatcherSet;
use super::rule::{Region, Rule, When};
use super::status::SessionStatus;

/// Regexes that mean "the agent is busy right now": they make the screen
/// model's `activity` region and veto waiting rules.
// Patterns use ASCII classes (`[0-9]`, not `\d`): the Unicode classes
// made compiling the rule set a large part of a one-shot command's run.
pub const BUSY_MARKERS: &[&str] = &[
    r"(?i)esc to interrupt",
    // A tool call still running: "  ⎿  Running…".
    r"^\s*⎿\s+Running…",
    // Spinner lines: "✻ Marinating… (40s · ↓ 2k tokens)", "· Thinking…", "⠹ Working…".
    r"^\s*[·✢✳✶✻✽✦∗*◦•⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s+\S[^…]{0,40}…",
    r"(?i)^\s*[◦•]?\s*working \([0-9]",
    // A retry in progress: "Retrying in 4s · attempt 2/10".
    r"(?i)\bretrying in [0-9]",
    r"(?i)\battempt [0-9]+\s*/\s*[0-9]+",
];

/// Regexes for "the agent is retrying": a failure shown with them is not final.
pub const RETRY_MARKERS: &[&str] = &[
    r"(?i)\bretrying\b",
    r"(?i)\breconnecting\b",
    r"(?i)\battempt [0-9]+\s*/\s*[0-9]+",
    r"(?i)\bretry(ing)? in [0-9]",
];

/// What a shell prints after the line of a process it killed or lost.
const KILLED: &str = r"^\s*([❯›>*]\s*)?(Killed|Terminated)(\s|$|[a-z]{0,3}\s)";

/// Bare prompts (`❯`, `$`, `>`, `~/dir $`): shell prompts only as the last
/// row under the agent's last frame ([`Region::BelowLast`]), where no agent
/// UI draws them.
pub const BARE_PROMPTS: &[&str] = &[
    // starship / fish ❯: "❯", "~/proj on  main ❯"
    r"^(\([^)\s]+\) )?([~/][^\s]*( on [^❯]{1,40})? )?❯(\s*[─━═│╭╰]|\s*$)",
    // fish: user@host ~/dir>   ~>   /w/s/ws>
    r"^(\([^)\s]+\) )?([A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+ )?[~/][^\s>]*>(\s*[─━═│╭╰]|\s*$)",
    // plain: $  #  %  >  ~/dir $
    r"^(\([^)\s]+\) )?([~/][^\s]* )?[$#%>](\s*[─━═│╭╰]|\s*$)",
];

/// Shell prompt families, each optionally after a `(venv) ` prefix and
/// followed by nothing or by leftovers of the frozen UI (box drawing). They
/// count only under the agent's last frame ([`Region::Below`]): Claude's
/// composer is `❯`, Gemini's `>`.
pub const SHELL_PROMPTS: &[&str] = &[
    // bash-5.2$   sh-5.2#
    r"^(\([^)\s]+\) )?(ba|da|z|k)?sh-[0-9]+(\.[0-9]+)*[$#%](\s*[─━═│╭╰]|\s*$)",
    // user@host:~/dir$   user@host:~/dir (main)$   user@host ~/p git:(main) $
    r"^(\([^)\s]+\) )?[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+[: ][^\s]*( git:\([^)]*\)| \([^)\s]+\))?( ✗)?\s?[$#%](\s*[─━═│╭╰]|\s*$)",
    // RHEL: [user@host dir]$
    r"^(\([^)\s]+\) )?\[[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+ [^\]]+\][$#](\s*[─━═│╭╰]|\s*$)",
    // git-prompt without user: ~/dir (main)$
    r"^(\([^)\s]+\) )?~?[A-Za-z0-9_./~-]* \([^)\s]+\) ?[$#%](\s*[─━═│╭╰]|\s*$)",
    // zsh: host% , user@host dir % , dir %
    r"^(\([^)\s]+\) )?[A-Za-z][A-Za-z0-9_.@-]*( [~/][^\s%]*)? ?%(\s*[─━═│╭╰]|\s*$)",
    // oh-my-zsh: ➜  dir git:(main) ✗
    r"^(\([^)\s]+\) )?➜\s+\S+( git:\([^)]*\))?( ✗)?(\s*[─━═│╭╰]|\s*$)",
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
    screen_only: bool,
}

impl DefaultRule {
    /// A rule over the latest turn and its footer, always applying.
    const fn new(
        id: &'static str,
        status: SessionStatus,
        reason: &'static str,
        patterns: &'static [&'static str],
    ) -> DefaultRule {
        DefaultRule {
            id,
            status,
            reason,
            patterns,
            region: Region::Latest,
            vetoes: &[],
            busy_veto: false,
            when: When::Always,
            screen_only: false,
        }
    }
    const fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }
    const fn unless(mut self, vetoes: &'static [&'static str]) -> Self {
        self.vetoes = vetoes;
        self
    }
    const fn unless_busy(mut self) -> Self {
        self.busy_veto = true;
        self
    }
    const fn unchanged(mut self) -> Self {
        self.when = When::Unchanged;
        self
    }
    const fn screen_only(mut self) -> Self {
        self.screen_only = true;
        self
    }
}

use SessionStatus as S;

/// Id of the completion rule, which only adapters whose CLI prints such
/// phrases keep (`prints_completion = true`).
pub const COMPLETION_RULE: &str = "default.completion";

const DEFAULT_RULES: &[DefaultRule] = &[
    // Whole lines only, in the last lines: "goodbye" in prose is not done.
    DefaultRule::new(
        COMPLETION_RULE,
        S::Done,
        "completion_phrase",
        &[
            r"(?i)^[^A-Za-z0-9_]*(task completed successfully|all tasks completed|session ended|goodbye)[^A-Za-z0-9_]*$",
        ],
    )
    .region(Region::Last(3))
    .unless_busy(),
    // tmux's own trailer under a dead pane: evidence only where there are
    // no process facts (a saved screen, a dead pane whose exit status tmux
    // has not said); a live pane's state says otherwise, and a pane that
    // died after its state was read is judged by its exit code next pass.
    DefaultRule::new(
        "default.pane_dead",
        S::Exited,
        "process_exited",
        &[r"^Pane is dead \("],
    )
    .region(Region::Last(2))
    .screen_only(),
    DefaultRule::new(
        "default.billing",
        S::BlockedApi,
        "billing",
        &[
            r"(?i)credit balance (is )?too low",
            r"(?i)insufficient (credits?|credit balance|balance|funds)",
            r"(?i)out of (usage )?credits",
            // OpenAI's insufficient_quota: "Quota exceeded. Check your plan and billing details."
            r"(?i)plan and billing|billing details|insufficient[_ ]quota|exceeded your current quota",
            r"(?i)\bbilling (hard )?limit\b",
            r"(?i)payment required",
            r"(?i)(api error|error|status|http)[^0-9]{0,20}\b402\b",
        ],
    ),
    DefaultRule::new(
        "default.rate_limit",
        S::BlockedApi,
        "rate_limit",
        &[
            r"(?i)rate[ _-]?limit(ed)?\s+(exceeded|reached|hit)",
            r"(?i)would exceed (the|your) rate limit",
            r"(?i)too many requests",
            r"(?i)(api error|error|status|http|code)[^0-9]{0,20}\b429\b",
            r"(?i)\busage limit\b.{0,20}\b(reached|exceeded|hit)",
            r"(?i)\b(reached|hit) your (usage )?limit",
            r"(?i)you'?ve (hit|reached) your (?:[^.·]|\.\S){0,40}\blimit\b",
            r"(?i)\b(5-hour|hourly|daily|weekly|monthly|session|cost|spend) limit (reached|exceeded|hit)",
            r"(?i)\bquota (exceeded|reached|exhausted)|exhausted your (daily |monthly )?quota",
            r"(?i)resource[_ ]exhausted",
            r"(?i)/rate-limit-options",
            r"(?i)usage limit reached",
            r"(?i)wait for (the )?limit to reset",
        ],
    )
    .unless(&[r"(?i)approaching", r"(?i)you'?ve used [0-9]+\s*% of"]),
    DefaultRule::new(
        "default.overloaded",
        S::BlockedApi,
        "overloaded",
        &[
            r"(?i)\boverloaded\b",
            r"(?i)(api error|error|status|http|code)[^0-9]{0,20}\b(529|503)\b",
            r"(?i)service unavailable",
            r"(?i)\bis at capacity\b",
            r"(?i)experiencing high demand",
        ],
    )
    .unless(RETRY_MARKERS),
    DefaultRule::new(
        "default.auth_failed",
        S::Failed,
        "auth_failed",
        &[
            r"(?i)authentication (failed|error)",
            r"(?i)(api error|error|status|http|code)[^0-9]{0,20}\b401\b",
            r"(?i)\b401 unauthorized",
            r"(?i)invalid (api[ _-]?key|x-api-key|bearer token|authentication)",
            r"(?i)incorrect api key",
            r"(?i)api[_ ]key[_ ]invalid|api key (is )?not valid|\bunauthenticated\b",
        ],
    )
    .unless(RETRY_MARKERS)
    .unless_busy(),
    DefaultRule::new(
        "default.connection_failed",
        S::Failed,
        "connection_failed",
        &[
            r"(?i)unable to connect",
            r"(?i)connection refused|econnrefused",
            r"(?i)could not (connect|resolve host)",
            r"(?i)failed to connect",
            // Node's fetch failing to reach the API (Gemini: "✕ [API Error:
            // exception TypeError: fetch failed sending request]").
            r"(?i)typeerror: fetch failed",
        ],
    )
    .unless(RETRY_MARKERS)
    .unless_busy(),
    DefaultRule::new(
        "default.api_error",
        S::Failed,
        "api_error",
        &[
            r"(?i)api error:?\s*5[0-9][0-9]\b",
            r"(?i)\b500 internal server error\b",
        ],
    )
    .unless(RETRY_MARKERS)
    .unless_busy(),
    DefaultRule::new(
        "default.failure",
        S::Failed,
        "fatal_error",
        &[
            r"(?i)\bfatal error\b",
            r"(?i)\bunrecoverable error\b",
            r"(?i)\b(agent|process|session) (has )?crashed\b",
            r"(?i)\bcrashed unexpectedly\b",
            r"(?i)terminated unexpectedly",
            // A CLI that cannot start: "Error loading config.toml: ...".
            r"(?i)\berror loading config",
        ],
    )
    .unless(RETRY_MARKERS)
    .unless_busy(),
    // A saved screen whose agent is gone: a shell prompt under its last
    // frame, or the shell's report of a killed child over the UI. A live
    // session learns this from its process instead.
    DefaultRule::new(
        "default.shell_prompt",
        S::Exited,
        "process_exited",
        SHELL_PROMPTS,
    )
    .region(Region::Below)
    .screen_only(),
    DefaultRule::new(
        "default.bare_prompt",
        S::Exited,
        "process_exited",
        BARE_PROMPTS,
    )
    .region(Region::BelowLast)
    .screen_only(),
    DefaultRule::new("default.killed", S::Exited, "process_exited", &[KILLED])
        .region(Region::Bottom)
        .screen_only(),
    // A live activity marker (spinner, "esc to interrupt", a retry counter).
    DefaultRule::new("default.busy", S::Running, "busy", &[r"\S"]).region(Region::Activity),
    DefaultRule::new(
        "default.context_limit",
        S::Blocked,
        "context_limit",
        &[
            r"(?i)context limit reached",
            r"(?i)context window (is )?full",
        ],
    )
    .unless_busy(),
    // An API-key entry box ("Paste or type your API key", "Enter Gemini API Key").
    DefaultRule::new(
        "default.api_key_entry",
        S::Blocked,
        "api_key_dialog",
        &[r"(?i)(enter|paste|type) (or type |or paste )?(your |an? )?([a-z]+ )?api key\b"],
    )
    .unless_busy(),
    DefaultRule::new(
        "default.login_required",
        S::Blocked,
        "login_required",
        &[
            r"(?i)please run /login",
            r"(?i)not logged in",
            r"(?i)login expired",
            r"(?i)sign in with chatgpt",
            r"(?i)login with google",
            r"(?i)select login method",
            r"(?i)how would you like to authenticate",
            // OAuth: the code the browser shows goes here.
            r"(?i)enter (the )?authori[sz]ation code|paste (the )?(authori[sz]ation )?code( here)?",
        ],
    )
    .unless_busy(),
    DefaultRule::new(
        "default.trust_dialog",
        S::Blocked,
        "trust_dialog",
        &[
            r"(?i)do you trust (the (files|contents) (of|in) )?this (directory|folder)",
            r"(?i)is this a project you created or one you trust",
            r"(?i)trust (this|the) folder",
            r"(?i)\btrust folder\b",
        ],
    )
    .unless_busy(),
    DefaultRule::new(
        "default.permission_prompt",
        S::Blocked,
        "permission_prompt",
        &[
            r"(?i)do you want to (proceed|make this edit|create|run|allow)",
            r"No, and tell [A-Za-z]+ what to do differently",
            r"(?i)allow (this|once|always)\b",
            r"(?i)allow execution of",
            r"(?i)approve (this|the) (command|action|change)",
            r"(?i)would you like to run the following command",
        ],
    )
    .unless_busy(),
    // A model picker or a model-upgrade offer.
    DefaultRule::new(
        "default.model_choice",
        S::Blocked,
        "model_choice",
        &[
            r"(?i)^[\s│┃]*(select|choose|pick) (a |the |your )?model\b",
            r"(?i)switch between \S+ models",
            r"(?i)(try|switch to|upgrade to) the new model\b|\bnew model (is )?available",
        ],
    )
    .unless_busy(),
    // The agent stopped because the user interrupted it; the composer may
    // hold the restored prompt.
    DefaultRule::new(
        "default.interrupted",
        S::Blocked,
        "interrupted",
        &[
            r"(?i)^\W*interrupted\b.{0,8}what should \S+ do",
            r"(?i)conversation interrupted",
            r"(?i)^\s*\S?\s*request cancelled\.?$",
        ],
    )
    .region(Region::Turn)
    .unless_busy(),
    DefaultRule::new(
        "default.dialog",
        S::Blocked,
        "dialog",
        &[
            r"(?i)enter to confirm",
            r"(?i)press enter to (continue|confirm)",
            r"(?i)\(use enter to select\)",
            // A panel's key hints: "esc dismiss & close", "(Press Esc to close)".
            r"(?i)\besc (to )?dismiss\b|press esc to close",
        ],
    )
    .unless_busy()
    .unchanged(),
    DefaultRule::new(
        "default.idle_prompt",
        S::Blocked,
        "idle_prompt",
        &[
            r"↵ send",
            r"\? for shortcuts",
            r"(?i)type your message",
            r"(?i)^\s*esc to cancel\s*$",
        ],
    )
    .region(Region::Bottom)
    .unless_busy()
    .unchanged(),
    // A list of numbered choices with one selected (a model-upgrade offer,
    // a choice the CLI asks for): a dialog, after the composer rules (an
    // answer's own numbered list sits above a composer).
    DefaultRule::new(
        "default.choice",
        S::Blocked,
        "dialog",
        &[r"^[\s│┃]*[›❯●▶]\s*[1-9][.)] \S"],
    )
    .unless_busy()
    .unchanged(),
];

fn compile(patterns: &[&str]) -> MatcherSet {
    // Built-in patterns are tested below; a bad one is skipped, never a panic.
    regexes(patterns)
}

/// The built-in default rules, compiled once per process (clones share
/// the compiled regexes).
pub fn default_rules() -> Vec<Rule> {
    static COMPILED: std::sync::LazyLock<Vec<Rule>> = std::sync::LazyLock::new(compile_defaults);
    COMPILED.clone()
}

/// Busy markers as a matcher set, compiled once and shared (one set, so
/// its joined alternation is built and compiled once per process).
pub fn busy_set() -> &'static MatcherSet {
    static COMPILED: std::sync::LazyLock<MatcherSet> =
        std::sync::LazyLock::new(|| compile(BUSY_MARKERS));
    &COMPILED
}

/// Busy markers as matchers.
pub fn busy_matchers() -> Vec<Matcher> {
    busy_set().to_vec()
}

fn compile_defaults() -> Vec<Rule> {
    DEFAULT_RULES
        .iter()
        .map(|d| Rule {
            id: d.id.to_owned(),
            status: d.status,
            reason: d.reason.to_owned(),
            matchers: compile(d.patterns),
            region: d.region,
            vetoes: compile(d.vetoes),
            veto_region: d.region,
            busy_veto: d.busy_veto,
            when: d.when,
            screen_only: d.screen_only,
            joined: false,
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
        for p in BUSY_MARKERS
            .iter()
            .chain(RETRY_MARKERS)
            .chain(SHELL_PROMPTS)
        {
            assert!(regex::Regex::new(&ascii_word_boundaries(p)).is_ok(), "{p}");
        }
    }
}
