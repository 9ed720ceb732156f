//! The layered status decision for one observation. Pure: text and process
//! facts in, a [`Verdict`] out.
//!
//! 1. The process: pane gone, process ended (with its exit code), back to
//!    the shell the adapter launched — beats any screen text.
//!
//!    The agent's own report (a hook event, Claude Code's session registry)
//!    comes next, fused with the verdict of the layers below by
//!    [`super::report::ReportMemory::fuse`] (it needs the session's history,
//!    which this pure decision does not keep; `session/observe.rs` calls it).
//! 2. An adapter's optional Lua `classify` hook, then its rules and the
//!    defaults that always apply ([`When::Always`]), in order, over the
//!    regions of the adapter's screen model (computed once per screen, see
//!    `layout.rs`; rules decide by region, not by line counts).
//! 3. On a still screen, the waiting-for-input rules ([`When::Unchanged`]).
//! 4. Change: a changed screen is `running`; otherwise the previous status holds.

use serde::{Deserialize, Serialize};

use super::layout::{Layout, ScreenModel};
use super::rule::{Rule, When};
use super::screen::Screen;
use super::status::SessionStatus;

/// Which rule decided, the region of the screen model it looked at
/// (`turn`, `footer`, `last_lines(6)`; `process`, `change` or `hook` for
/// the other layers), and the line it matched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub rule: String,
    pub region: String,
    pub line: String,
}

/// A classification: status, a short snake_case reason, and evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: SessionStatus,
    pub reason: String,
    pub evidence: Evidence,
}

impl Verdict {
    pub fn new(
        status: SessionStatus,
        reason: impl Into<String>,
        rule: impl Into<String>,
        line: impl Into<String>,
    ) -> Verdict {
        let rule = rule.into();
        Verdict {
            status,
            reason: reason.into(),
            evidence: Evidence {
                region: rule.clone(),
                rule,
                line: line.into(),
            },
        }
    }

    /// The same verdict, with the region its evidence was found in.
    pub fn in_region(mut self, region: impl Into<String>) -> Verdict {
        self.evidence.region = region.into();
        self
    }
}

/// The agent's process, as the session layer found it from the pane's own
/// process (pid, liveness, exit status), never from a command name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Process {
    /// Nothing known (a saved screen, or a dead pane whose exit status
    /// tmux has not learnt yet).
    #[default]
    Unknown,
    /// Alive; `command` is the foreground command's name, for display only.
    Alive { command: String },
    /// The agent process ended; the pane is kept by `remain-on-exit`.
    Ended {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The adapter launched the agent through a shell (`shell = true`), and
    /// that shell is alone in the foreground again.
    BackToShell { shell: String },
    /// The session or pane no longer exists.
    Gone,
    /// This product stopped the session.
    Stopped,
}

/// Everything the decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub screen: &'a Screen,
    /// The screen differs from the last observation (status bar excluded).
    pub changed: bool,
    pub previous: SessionStatus,
    pub process: &'a Process,
}

/// The rules of one adapter and its screen model, ready to classify with.
#[derive(Clone, Copy, Debug)]
pub struct Classifier<'a> {
    pub rules: &'a [Rule],
    /// The agent exiting with code 0 means it finished its task (`done`).
    pub exit_zero_is_done: bool,
    /// How the adapter's UI is laid out (regions rules look at).
    pub model: &'a ScreenModel,
}

impl<'a> Classifier<'a> {
    /// A classifier over `rules` without a screen model (regions fall back
    /// to the last lines).
    pub fn new(rules: &'a [Rule], exit_zero_is_done: bool) -> Classifier<'a> {
        static NO_MODEL: std::sync::LazyLock<ScreenModel> =
            std::sync::LazyLock::new(ScreenModel::default);
        Classifier {
            rules,
            exit_zero_is_done,
            model: &NO_MODEL,
        }
    }
}

/// An adapter hook run before the rules; `None` falls through.
pub type Hook<'a> = &'a dyn Fn(&Context<'_>) -> Option<Verdict>;

impl Classifier<'_> {
    /// Classifies one observation.
    pub fn classify(&self, ctx: &Context<'_>, hook: Option<Hook<'_>>) -> Verdict {
        if let Some(verdict) = self.process_layer(ctx.process) {
            return verdict;
        }
        if let Some(verdict) = hook.and_then(|h| h(ctx)) {
            return verdict.in_region("hook");
        }
        if let Some(verdict) = self.rule_layer(ctx) {
            return verdict;
        }
        if ctx.changed {
            Verdict::new(SessionStatus::Running, "output_changed", "change", "")
        } else {
            Verdict::new(ctx.previous, "unchanged", "change", "")
        }
    }

    fn process_layer(&self, process: &Process) -> Option<Verdict> {
        match process {
            Process::Unknown | Process::Alive { .. } => None,
            Process::Stopped => Some(Verdict::new(
                SessionStatus::Stopped,
                "stopped",
                "process",
                "stopped by doeff-agents",
            )),
            Process::Gone => Some(Verdict::new(
                SessionStatus::Exited,
                "pane_gone",
                "process",
                "the tmux session or pane no longer exists",
            )),
            Process::BackToShell { shell } => Some(Verdict::new(
                SessionStatus::Exited,
                "process_exited",
                "process",
                format!("the pane is back to {shell}"),
            )),
            Process::Ended { code, signal } => {
                let line = match (code, signal) {
                    (_, Some(sig)) => format!("killed by signal {sig}"),
                    (Some(code), None) => format!("exit code {code}"),
                    (None, None) => "process ended".to_owned(),
                };
                let success = *code == Some(0) && signal.is_none() && self.exit_zero_is_done;
                Some(if success {
                    Verdict::new(SessionStatus::Done, "exit_success", "process", line)
                } else {
                    Verdict::new(SessionStatus::Exited, "process_exited", "process", line)
                })
            }
        }
    }

    /// Rules that always apply, in order; then, on a still screen, the
    /// waiting-for-input rules in order (so an adapter's idle rule never
    /// hides a rate limit or an error shown above its composer).
    fn rule_layer(&self, ctx: &Context<'_>) -> Option<Verdict> {
        let layout = Layout::new(self.model, ctx.screen);
        let fire = |rule: &Rule| {
            rule.find_in(&layout).map(|line| {
                Verdict::new(rule.status, &rule.reason, &rule.id, line.trim())
                    .in_region(rule.region.name())
            })
        };
        // A saved screen whose agent is gone (a shell prompt under its last
        // frame, a `Killed` line, its goodbye): exited, or failed when a
        // fatal error is what it printed before it went.
        if matches!(ctx.process, Process::Unknown)
            && let Some(exit) = self.rules.iter().filter(|r| r.screen_only).find_map(fire)
        {
            let failure = self
                .rules
                .iter()
                .filter(|r| r.status == SessionStatus::Failed && !r.screen_only)
                .find_map(fire);
            return Some(failure.unwrap_or(exit));
        }
        let phase = |when: When| {
            self.rules
                .iter()
                .filter(move |rule| rule.when == when && !rule.screen_only)
                .find_map(fire)
        };
        phase(When::Always).or_else(|| (!ctx.changed).then(|| phase(When::Unchanged)).flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::precedence::defaults_only;

    fn verdict(text: &str, changed: bool, process: Process) -> Verdict {
        let rules = defaults_only();
        let screen = Screen::from_text(text);
        let classifier = Classifier::new(&rules, false);
        classifier.classify(
            &Context {
                screen: &screen,
                changed,
                previous: SessionStatus::Running,
                process: &process,
            },
            None,
        )
    }

    #[test]
    fn process_layer_beats_screen_text() {
        let v = verdict(
            "Task completed successfully",
            false,
            Process::Ended {
                code: Some(3),
                signal: None,
            },
        );
        assert_eq!(v.status, SessionStatus::Exited);
        assert_eq!(v.evidence.line, "exit code 3");
        assert_eq!(
            verdict("x", false, Process::Gone).reason,
            "pane_gone".to_owned()
        );
    }

    #[test]
    fn changed_screen_is_running_and_still_screen_keeps_status() {
        assert_eq!(
            verdict("working", true, Process::Unknown).status,
            SessionStatus::Running
        );
        let still = verdict("working", false, Process::Unknown);
        assert_eq!(still.status, SessionStatus::Running);
        assert_eq!(still.reason, "unchanged");
    }

    #[test]
    fn idle_prompt_needs_a_still_screen_and_no_busy_marker() {
        assert_eq!(
            verdict("> \n? for shortcuts", false, Process::Unknown).status,
            SessionStatus::Blocked
        );
        assert_eq!(
            verdict("> \n? for shortcuts", true, Process::Unknown).status,
            SessionStatus::Running
        );
        let busy = "  · Thinking… (esc to interrupt)\n╭───╮\n│ > │\n╰───╯\n  ? for shortcuts";
        assert_eq!(
            verdict(busy, false, Process::Unknown).status,
            SessionStatus::Running
        );
    }

    #[test]
    fn known_reference_misreadings_are_gone() {
        for text in [
            "Downloading dependencies... 100%",
            "Running migrations #",
            "Total cost: 12$",
        ] {
            assert_ne!(
                verdict(text, false, Process::Unknown).status,
                SessionStatus::Exited
            );
        }
        let prose = verdict(
            "Great, goodbye is not what I meant\n❯ ",
            false,
            Process::Unknown,
        );
        assert_ne!(prose.status, SessionStatus::Done);
    }

    #[test]
    fn rate_limit_families_are_blocked_api_but_warnings_are_not() {
        for text in [
            "API Error: 429 Too Many Requests",
            "This request would exceed the rate limit for your organization",
            "Claude usage limit reached. Your limit will reset at 6pm",
            "API Error: 529 Overloaded",
        ] {
            assert_eq!(
                verdict(text, false, Process::Unknown).status,
                SessionStatus::BlockedApi,
                "{text}"
            );
        }
        assert_eq!(
            verdict(
                "You've used 88% of your weekly limit",
                false,
                Process::Unknown
            )
            .status,
            SessionStatus::Running
        );
    }

    #[test]
    fn failures_count_only_once_the_agent_gave_up() {
        assert_eq!(
            verdict("API Error: 401 Unauthorized", false, Process::Unknown).status,
            SessionStatus::Failed
        );
        assert_eq!(
            verdict(
                "API Error (Connection refused) · Retrying in 4s · attempt 2/10",
                false,
                Process::Unknown
            )
            .status,
            SessionStatus::Running
        );
    }
}
