//! Property tests (SPEC §8: never panic on arbitrary bytes): screen
//! normalisation, the classifier over arbitrary rules and screens, and the
//! Lua adapter loader over random and garbled source (always `Err` or a
//! valid adapter, never a panic or a hang). They run in `cargo test` with a
//! modest case count; `PROPTEST_CASES=5000 cargo test --test fuzz_props`
//! runs longer. The `cargo fuzz` targets in `fuzz/` cover the same ground
//! with coverage guidance (see fuzz/README.md).

use std::time::{Duration, Instant};

use doeff_agents::AdapterRegistry;
use doeff_agents::monitor::{
    Classifier, Context, Matcher, Process, Region, Rule, Screen, ScreenModel, SessionStatus, When,
    default_rules, strip_escapes,
};
use proptest::prelude::*;

/// Bytes that look like terminal output: escapes, controls, UTF-8, text.
fn terminal_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..8),
        Just(b"\x1b[".to_vec()),
        Just(b"\x1b]0;title\x07".to_vec()),
        Just(b"\x1bP".to_vec()),
        Just(b"\x1b\\".to_vec()),
        Just("\u{9b}".as_bytes().to_vec()),
        Just("\u{9d}".as_bytes().to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\t".to_vec()),
        Just("✻ Thinking… (esc to interrupt)".as_bytes().to_vec()),
        Just(b"Task completed successfully".to_vec()),
        Just(b"API Error: 429".to_vec()),
        Just(b"Pane is dead (status 0, x)".to_vec()),
        Just("────────\n❯ hi\n────────\n".as_bytes().to_vec()),
        Just("› 1. Yes\n".as_bytes().to_vec()),
        Just(b"bash-5.2$ ".to_vec()),
        "[ -~]{0,20}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn status() -> impl Strategy<Value = SessionStatus> {
    proptest::sample::select(SessionStatus::ALL.to_vec())
}

fn region() -> impl Strategy<Value = Region> {
    prop_oneof![
        (0usize..30).prop_map(Region::Last),
        proptest::sample::select(
            doeff_agents::monitor::REGION_NAMES
                .iter()
                .filter_map(|n| Region::named(n))
                .collect::<Vec<_>>()
        ),
    ]
}

/// Any text, or a regex-ish pattern (many do not compile; those are skipped).
fn matcher() -> impl Strategy<Value = Option<Matcher>> {
    prop_oneof![
        ".{0,12}".prop_map(|t| Some(Matcher::text(t))),
        ".{0,12}".prop_map(|t| Some(Matcher::nocase(&t))),
        ("[a-z.*+?()|\\[\\]^$\\\\{}0-9ïİ ]{0,16}", any::<bool>())
            .prop_map(|(p, nocase)| Matcher::regex(&p, nocase).ok()),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        status(),
        "[a-z_]{1,10}",
        proptest::collection::vec(matcher(), 0..4),
        proptest::collection::vec(matcher(), 0..3),
        region(),
        region(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                status,
                reason,
                matchers,
                vetoes,
                region,
                veto_region,
                always,
                joined,
                busy_veto,
                screen_only,
            )| {
                let mut rule = Rule::new(format!("fuzz.{reason}"), status, reason);
                rule.matchers = matchers.into_iter().flatten().collect();
                rule.vetoes = vetoes.into_iter().flatten().collect();
                rule.region = region;
                rule.veto_region = veto_region;
                rule.when = if always {
                    When::Always
                } else {
                    When::Unchanged
                };
                rule.joined = joined;
                rule.busy_veto = busy_veto;
                rule.screen_only = screen_only;
                rule
            },
        )
}

fn process() -> impl Strategy<Value = Process> {
    prop_oneof![
        Just(Process::Unknown),
        "[a-z]{0,6}".prop_map(|command| Process::Alive { command }),
        (
            proptest::option::of(any::<i32>()),
            proptest::option::of(any::<i32>())
        )
            .prop_map(|(code, signal)| Process::Ended { code, signal }),
        "[a-z]{0,6}".prop_map(|shell| Process::BackToShell { shell }),
        Just(Process::Gone),
        Just(Process::Stopped),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn screen_normalisation_never_panics_and_is_clean(raw in terminal_bytes()) {
        let screen = Screen::from_bytes(&raw);
        for line in &screen.lines {
            prop_assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
            prop_assert_eq!(line.trim_end(), line.as_str());
        }
        prop_assert!(screen.lines.last().is_none_or(|l| !l.is_empty()));
        // Normalising clean text again changes nothing.
        let again = Screen::from_text(&screen.text());
        prop_assert_eq!(&again.lines, &screen.lines);
        for n in 0..4 {
            let _ = screen.content_hash(n * 7);
            let _ = screen.last_non_blank(n).count();
        }
    }

    #[test]
    fn strip_escapes_never_panics_on_any_string(text in ".{0,200}") {
        let clean = strip_escapes(&text);
        prop_assert!(!clean.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn classifier_never_panics_on_any_rules_and_screens(
        rules in proptest::collection::vec(rule(), 0..6),
        raw in terminal_bytes(),
        title in ".{0,20}",
        changed in any::<bool>(),
        previous in status(),
        process in process(),
        with_defaults in any::<bool>(),
        exit_zero_is_done in any::<bool>(),
        modelled in any::<bool>(),
    ) {
        let mut rules = rules;
        if with_defaults {
            rules.extend(default_rules());
        }
        let screen = Screen::from_bytes(&raw).with_title(title);
        // With a screen model like Claude's, or none (fallback regions).
        let model = if modelled {
            let set = |p: &str| -> doeff_agents::monitor::MatcherSet {
                Matcher::regex(p, false).into_iter().collect()
            };
            ScreenModel {
                composer: set("^❯"),
                composer_ruled: true,
                composer_closed: true,
                turn_start: set(r"^❯ \S"),
                activity: set("esc to"),
                goodbye: set("(?i)goodbye"),
            }
        } else {
            ScreenModel::default()
        };
        let classifier = Classifier { rules: &rules, exit_zero_is_done, model: &model };
        let verdict = classifier.classify(
            &Context { screen: &screen, changed, previous, process: &process },
            None,
        );
        prop_assert!(!verdict.reason.is_empty());
        if matches!(process, Process::Gone | Process::Stopped) {
            prop_assert!(verdict.status.is_terminal());
        }
    }
}

/// A valid adapter file, the seed for garbling.
const SEED_ADAPTER: &str = r#"return agents.adapter {
  name = "fuzzed",
  binary = "fuzzed",
  launch = function(cfg) return { "fuzzed", "--yes", cfg.prompt } end,
  injection = "tmux",
  ready_pattern = "Type your message",
  status_bar_lines = 2,
  patterns = {
    { status = "blocked", reason = "approval", match = "Allow this action?" },
    { status = "running", reason = "busy", regex = "esc to (interrupt|cancel)", last = 5 },
    { status = "blocked_api", reason = "rate_limit", match = "slow down", nocase = true },
  },
  classify = function(screen, ctx) return nil end,
}
"#;

/// Lua tokens to build random sources from (loops and allocation included:
/// the time budget and memory cap must stop them).
const TOKENS: &[&str] = &[
    "return",
    "agents.adapter",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "=",
    ",",
    ";",
    "name",
    "\"x\"",
    "launch",
    "function",
    "end",
    "while",
    "true",
    "do",
    "repeat",
    "until",
    "false",
    "local",
    "a",
    "..",
    "string.rep(\"x\", 1e6)",
    "nil",
    "1",
    "-1",
    "0x7fffffffffffffff",
    "#",
    "{}",
    "error(\"e\")",
    "patterns",
    "status",
    "regex",
    "\"(\"",
    "\"[\"",
    "goto",
    "::l::",
    "or",
    "and",
    "not",
    "for i = 1, 1e12 do",
    "coroutine.wrap(function() end)",
    "setmetatable",
    "\n",
    " ",
];

fn garbled_source() -> impl Strategy<Value = String> {
    prop_oneof![
        // The seed with bytes cut, replaced or inserted.
        (proptest::collection::vec((0usize..SEED_ADAPTER.len(), 0u8..3, any::<u8>()), 1..8))
            .prop_map(|edits| {
                let mut bytes = SEED_ADAPTER.as_bytes().to_vec();
                for (at, kind, byte) in edits {
                    let at = at.min(bytes.len().saturating_sub(1));
                    match kind {
                        0 if !bytes.is_empty() => {
                            bytes.remove(at);
                        }
                        1 if !bytes.is_empty() => bytes[at] = byte,
                        _ => bytes.insert(at, byte),
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }),
        // Token soup.
        proptest::collection::vec(proptest::sample::select(TOKENS.to_vec()), 0..40)
            .prop_map(|tokens| tokens.join(" ")),
        // Anything.
        ".{0,120}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_adapter_loader_never_panics_or_hangs(source in garbled_source()) {
        let registry = registry();
        let started = Instant::now();
        let outcome = registry.load_source("fuzz.lua", &source);
        // The load budget is 1 s; allow for a loaded machine.
        prop_assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        if let Err(err) = outcome {
            let message = err.to_string();
            prop_assert!(!message.is_empty());
            prop_assert_eq!(message.lines().count(), 1, "{}", message);
        }
    }
}

/// One registry per test thread (building one loads the built-ins).
fn registry() -> std::sync::Arc<AdapterRegistry> {
    thread_local! {
        static REGISTRY: std::sync::Arc<AdapterRegistry> =
            std::sync::Arc::new(AdapterRegistry::builtin_with_exe("doeff-agents").expect("built-ins"));
    }
    REGISTRY.with(std::sync::Arc::clone)
}

#[test]
fn the_seed_adapter_loads() {
    let names = registry()
        .load_source("seed.lua", SEED_ADAPTER)
        .expect("seed loads");
    assert_eq!(names, vec!["fuzzed".to_owned()]);
}
