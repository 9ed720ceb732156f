//! Fuzz target for the classifier: the input is split into a few rule
//! patterns (regexes when they compile, else substrings), a pane title and a
//! screen; classifying with those rules plus the built-in defaults, under
//! every process state, must never panic.
#![no_main]

use doeff_agents::monitor::{
    Classifier, Context, Matcher, Process, Region, Rule, Screen, SessionStatus, When,
    default_rules,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\u{0}');
    let mut rules = Vec::new();
    for (i, pattern) in parts.by_ref().take(3).enumerate() {
        let status = SessionStatus::ALL[(pattern.len() + i) % SessionStatus::ALL.len()];
        let matcher = Matcher::regex(pattern, i % 2 == 0)
            .unwrap_or_else(|_| Matcher::nocase(pattern));
        let mut rule = Rule::new(format!("fuzz.{i}"), status, "fuzz")
            .matching(matcher)
            .region(match pattern.len() % 3 {
                0 => Region::Last(pattern.len() % 12),
                1 => Region::Screen,
                _ => Region::Title,
            });
        rule.joined = i == 1;
        rule.when = if i == 2 { When::Unchanged } else { When::Always };
        if let Ok(veto) = Matcher::regex(&pattern.chars().rev().collect::<String>(), false) {
            rule = rule.unless(veto);
        }
        rules.push(rule);
    }
    rules.extend(default_rules());
    let title = parts.next().unwrap_or_default();
    let screen = Screen::from_text(parts.next().unwrap_or_default()).with_title(title);
    let classifier = Classifier {
        rules: &rules,
        exit_zero_is_done: data.len() % 2 == 0,
    };
    for process in [
        Process::Unknown,
        Process::Alive { command: "agent".into() },
        Process::Ended { code: Some(0), signal: None },
        Process::Ended { code: None, signal: None },
        Process::BackToShell { shell: "bash".into() },
        Process::Gone,
        Process::Stopped,
    ] {
        for changed in [false, true] {
            let _ = classifier.classify(
                &Context {
                    screen: &screen,
                    changed,
                    previous: SessionStatus::Running,
                    process: &process,
                },
                None,
            );
        }
    }
});
