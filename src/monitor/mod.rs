//! The monitor: statuses, screen normalisation, status rules, the layered
//! classifier, PR detection, and [`MonitorState`], which turns a stream of
//! captured screens into [`Observation`]s. Pure: no tmux calls here; the
//! session layer feeds it captures and process facts.

mod classify;
mod defaults;
mod layout;
mod lazy_regex;
pub use lazy_regex::PatternError;
mod matcher;
mod matcher_set;
mod pr;
mod precedence;
mod report;
mod rule;
mod screen;
mod status;

use std::collections::HashSet;

use serde::Serialize;

pub use classify::{Classifier, Context, Evidence, Hook, Process, Verdict};
pub use defaults::{
    BUSY_MARKERS, COMPLETION_RULE, RETRY_MARKERS, SHELL_PROMPTS, busy_matchers, busy_set,
    default_rules,
};
pub use layout::{Layout, REGION_NAMES, Region, ScreenModel, is_choice, is_rule};
pub use matcher::Matcher;
pub use matcher_set::MatcherSet;
pub use pr::find_pr_urls;
pub use precedence::{RuleSources, assemble, defaults_only};
pub use report::{
    AgentReport, Channel, Facts, HOOK_DEAD_AFTER_MS, IDLE_OVERRULES_MS, ReportMemory, ReportNote,
    Source, merge as merge_reports,
};
pub use rule::{Rule, When};
pub use screen::{Screen, strip_escapes};
pub use status::SessionStatus;

/// What one observation of a session found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub status: SessionStatus,
    /// The status before this observation.
    pub previous: SessionStatus,
    pub reason: String,
    pub evidence: Evidence,
    /// The screen (status bar excluded) differs from the last observation.
    pub output_changed: bool,
    /// The newest PR URL seen on screen, if any.
    pub pr_url: Option<String>,
    /// PR URLs seen for the first time in this observation.
    pub new_pr_urls: Vec<String>,
    /// The last lines of the screen.
    pub output_snippet: String,
    pub is_terminal: bool,
    /// Problems met while observing that did not stop it: a Lua hook's
    /// error, an adapter file's failed reload (each reported once).
    pub warnings: Vec<String>,
    /// The layer that decided, and the agent's own report if it made one
    /// (with the screen's verdict when the two disagree).
    pub agent: ReportNote,
}

impl Observation {
    /// An observation that did not come from classifying a screen: a
    /// scripted one (the mock effect handler) or a decided one (a session
    /// that is gone). `output` gives the snippet (its last [`SNIPPET_LINES`]
    /// lines) and the newest PR URL in it; `output_changed` is false and no PR
    /// is marked new — set those fields when the caller knows better.
    pub fn new(
        status: SessionStatus,
        previous: SessionStatus,
        reason: impl Into<String>,
        output: &str,
    ) -> Observation {
        let reason = reason.into();
        let lines: Vec<&str> = output.lines().collect();
        let skip = lines.len().saturating_sub(SNIPPET_LINES);
        Observation {
            status,
            previous,
            evidence: Evidence {
                rule: "given".to_owned(),
                region: "given".to_owned(),
                line: String::new(),
            },
            reason,
            output_changed: false,
            pr_url: find_pr_urls(output).pop(),
            new_pr_urls: Vec::new(),
            output_snippet: lines[skip..].join("\n"),
            is_terminal: status.is_terminal(),
            warnings: Vec::new(),
            agent: ReportNote::default(),
        }
    }

    /// The status differs from the previous one.
    pub fn status_changed(&self) -> bool {
        self.status != self.previous
    }
}

/// Per-session memory between observations: last hash, status, PRs reported.
#[derive(Clone, Debug)]
pub struct MonitorState {
    pub status: SessionStatus,
    last_hash: Option<u64>,
    reported_prs: HashSet<String>,
    last_pr: Option<String>,
    /// What the fusion with the agent's reports remembers.
    pub reports: ReportMemory,
}

/// How many screen lines an observation keeps as its snippet.
pub const SNIPPET_LINES: usize = 20;

impl MonitorState {
    pub fn new(status: SessionStatus) -> Self {
        MonitorState {
            status,
            last_hash: None,
            reported_prs: HashSet::new(),
            last_pr: None,
            reports: ReportMemory::default(),
        }
    }

    /// Classifies a new screen against the last one and records the result.
    pub fn observe(
        &mut self,
        screen: &Screen,
        process: &Process,
        classifier: Classifier<'_>,
        status_bar_lines: usize,
        hook: Option<Hook<'_>>,
    ) -> Observation {
        let changed = self.is_changed(screen, status_bar_lines);
        let verdict = classifier.classify(
            &Context {
                screen,
                changed,
                previous: self.status,
                process,
            },
            hook,
        );
        self.record(screen, status_bar_lines, changed, verdict)
    }

    /// True once a screen was observed (so a change can be told by hash).
    pub fn has_history(&self) -> bool {
        self.last_hash.is_some()
    }

    /// The screen (status bar excluded) differs from the last one observed.
    pub fn is_changed(&self, screen: &Screen, status_bar_lines: usize) -> bool {
        self.last_hash != Some(screen.content_hash(status_bar_lines))
    }

    /// Records a screen classified elsewhere (`verdict`, with `changed`
    /// as the classification saw it): the observation it makes.
    pub fn record(
        &mut self,
        screen: &Screen,
        status_bar_lines: usize,
        changed: bool,
        verdict: Verdict,
    ) -> Observation {
        self.last_hash = Some(screen.content_hash(status_bar_lines));
        let previous = self.status;
        let text = screen.text();
        let mut new_pr_urls = Vec::new();
        for url in find_pr_urls(&text) {
            if self.reported_prs.insert(url.clone()) {
                new_pr_urls.push(url.clone());
            }
            self.last_pr = Some(url);
        }
        self.status = verdict.status;
        let skip = screen.lines.len().saturating_sub(SNIPPET_LINES);
        Observation {
            status: verdict.status,
            previous,
            reason: verdict.reason,
            output_changed: changed,
            pr_url: self.last_pr.clone(),
            new_pr_urls,
            output_snippet: screen.lines[skip..].join("\n"),
            is_terminal: verdict.status.is_terminal(),
            agent: ReportNote {
                source: Source::of(&verdict.evidence),
                ..ReportNote::default()
            },
            evidence: verdict.evidence,
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prs_are_reported_once_and_changes_tracked() {
        let rules = defaults_only();
        let classifier = Classifier::new(&rules, false);
        let mut state = MonitorState::new(SessionStatus::Booting);
        let screen = Screen::from_text("PR: https://github.com/a/b/pull/7");
        let first = state.observe(&screen, &Process::Unknown, classifier, 0, None);
        assert!(first.output_changed);
        assert_eq!(first.status, SessionStatus::Running);
        assert_eq!(first.new_pr_urls, vec!["https://github.com/a/b/pull/7"]);
        let second = state.observe(&screen, &Process::Unknown, classifier, 0, None);
        assert!(!second.output_changed);
        assert!(second.new_pr_urls.is_empty());
        assert_eq!(
            second.pr_url.as_deref(),
            Some("https://github.com/a/b/pull/7")
        );
    }
}
