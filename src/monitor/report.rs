//! The agent's own word: what a CLI reported about itself — a hook event it
//! ran (`doeff-agents hook EVENT`, recorded in the pane option
//! `@doeff-hook`) or Claude Code's session registry — and how that report
//! is fused with the screen's verdict. This is layer 2 of the classifier
//! (after the process, before the screen rules), with bounded authority:
//!
//! - a report decides when the screen does not contradict it;
//! - a dialog, a limit, a fatal error or a busy marker that the screen
//!   started showing *after* the report was made beats it (the report is
//!   stale: the agent said nothing since);
//! - an idle screen that has stood still for [`IDLE_OVERRULES`], and began
//!   after the report, beats a `running` (or dialog) report: an interrupt
//!   sends no hook;
//! - once the screen has overruled a report, the screen stays in charge
//!   until the agent reports again.
//!
//! Pure: the session layer reads the reports and the pane's facts.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use super::classify::{Evidence, Verdict};
use super::screen::Screen;
use super::status::SessionStatus;

/// How long an idle screen must stand still before it beats a `running` report.
pub const IDLE_OVERRULES_MS: u64 = 3_000;
/// A report from further in the future than this is refused (clock skew).
pub const FUTURE_SLACK_MS: u64 = 5_000;
/// A `running` report older than this, never followed by another, is stale.
pub const RUNNING_WINDOW_MS: u64 = 30 * 60 * 1_000;
/// A screen change this close after a report that says the agent stopped
/// is part of the same event (an interrupt redraws the screen as the
/// registry goes idle), not news the report missed.
pub const SAME_EVENT_MS: u64 = 1_500;
/// A hook channel that sent nothing this long after the first turn is dead.
pub const HOOK_DEAD_AFTER_MS: u64 = 5_000;

/// Which layer decided a status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The process layer: pane gone, process ended, stopped.
    Process,
    /// A hook event the agent ran.
    Hook,
    /// The agent's session registry (Claude Code's `sessions/<pid>.json`).
    Registry,
    /// The screen: the adapter's rules, its Lua classify, or "changed".
    #[default]
    Screen,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Process => "process",
            Source::Hook => "hook",
            Source::Registry => "registry",
            Source::Screen => "screen",
        }
    }

    /// The layer a verdict's evidence comes from.
    pub fn of(evidence: &Evidence) -> Source {
        match (evidence.rule.as_str(), evidence.region.as_str()) {
            ("hook", "report") => Source::Hook,
            ("registry", "report") => Source::Registry,
            (_, "process") => Source::Process,
            _ => Source::Screen,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One report of the agent about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentReport {
    pub source: Source,
    pub status: SessionStatus,
    pub reason: String,
    /// What the agent said: `StopFailure(rate_limit)`, `waiting(permission prompt)`.
    pub said: String,
    /// Unix time (ms) the agent said it.
    pub at_ms: u64,
    /// Which report this is (a hook's sequence number, the registry's
    /// update time): a report the screen overruled stays overruled.
    pub seq: u64,
}

impl AgentReport {
    /// `hook StopFailure(rate_limit) 2.1 s ago`.
    pub fn describe(&self, now_ms: u64) -> String {
        format!("{} {} {}", self.source, self.said, age(self.at_ms, now_ms))
    }
}

/// `2.1 s ago` (or `just now` for a report from a clock slightly ahead).
pub fn age(at_ms: u64, now_ms: u64) -> String {
    let ms = now_ms.saturating_sub(at_ms);
    if ms < 60_000 {
        format!("{:.1} s ago", ms as f64 / 1000.0)
    } else {
        format!("{} min ago", ms / 60_000)
    }
}

/// The coarse state a report describes, to tell whether two reports agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Busy,
    Waiting,
    Idle,
    Ended,
}

fn phase(status: SessionStatus, reason: &str) -> Phase {
    match status {
        SessionStatus::Running | SessionStatus::Booting | SessionStatus::Pending => Phase::Busy,
        SessionStatus::Blocked if reason != "idle_prompt" => Phase::Waiting,
        SessionStatus::Blocked | SessionStatus::BlockedApi | SessionStatus::Failed => Phase::Idle,
        SessionStatus::Done | SessionStatus::Exited | SessionStatus::Stopped => Phase::Ended,
    }
}

/// One report from a hook and one from a registry: when both describe the
/// same phase (a `Stop` hook and the registry's `idle`), the hook's is
/// kept (it says more: `StopFailure(rate_limit)`); otherwise the newer one
/// (an interrupt sends no hook, but the registry goes `idle`) — except that
/// a registry gone idle within `SAME_EVENT_MS` after a "working" hook
/// waits for the hook that says why the turn ended (it runs a moment later).
pub fn merge(
    hook: Option<AgentReport>,
    registry: Option<AgentReport>,
    now_ms: u64,
) -> Option<AgentReport> {
    match (hook, registry) {
        (Some(h), Some(r)) => {
            let (hp, rp) = (phase(h.status, &h.reason), phase(r.status, &r.reason));
            let why_in_flight =
                hp == Phase::Busy && rp == Phase::Idle && now_ms < r.at_ms + SAME_EVENT_MS;
            if hp == rp || h.at_ms >= r.at_ms || why_in_flight {
                Some(h)
            } else {
                Some(r)
            }
        }
        (h, r) => h.or(r),
    }
}

/// What the fusion remembers about one session between observations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportMemory {
    /// Each line on screen (by hash) and since when it has been there
    /// without a break (unix ms): what dates a rule's evidence.
    lines: HashMap<u64, u64>,
    /// When the screen last changed (unix ms).
    last_change_ms: Option<u64>,
    /// The report the screen overruled.
    overruled: Option<(Source, u64)>,
    /// When the screen first showed the agent working.
    first_running_ms: Option<u64>,
    /// The last hook report with a status (see [`ReportMemory::standing_hook`]).
    last_hook: Option<AgentReport>,
}

fn line_hash(line: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    line.trim().hash(&mut hasher);
    hasher.finish()
}

/// The facts the fusion needs beside the two verdicts.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub now_ms: u64,
    /// The screen the verdict was made from.
    pub screen: &'a Screen,
    /// The screen changed since the last observation.
    pub changed: bool,
    /// The pane's last output (`window_activity`, unix seconds).
    pub activity: Option<u64>,
    /// Earlier observations of this session were made (the screen's
    /// history is known from them, not guessed from the activity stamp).
    pub has_history: bool,
}

/// The state of a session's hook channel, as the pane option shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// No hooks were passed to this run.
    #[default]
    Off,
    /// Hooks passed, events arrive.
    Alive,
    /// Hooks passed, nothing arrived yet.
    Waiting,
    /// Hooks passed, nothing arrived within [`HOOK_DEAD_AFTER_MS`] of the first turn.
    Dead,
}

/// What layer 2 found, for `explain` and `watch --json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportNote {
    /// The layer that decided.
    #[serde(default)]
    pub source: Source,
    /// The agent's report that was considered (decided or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<AgentReport>>,
    /// The screen's own verdict, when it disagreed with the decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen: Option<Box<Verdict>>,
    /// Why the screen beat the agent's report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overruled: Option<String>,
    /// The hook channel.
    #[serde(default)]
    pub hooks: Channel,
}

/// Whether a screen verdict is one a stale report must yield to: a dialog,
/// a limit, a fatal error, a completion, or a busy marker — something a
/// rule saw, not merely "the output changed".
fn is_strong(screen: &Verdict) -> bool {
    if matches!(screen.evidence.rule.as_str(), "change" | "" | "given") {
        return false;
    }
    match screen.status {
        SessionStatus::BlockedApi | SessionStatus::Failed | SessionStatus::Done => true,
        SessionStatus::Blocked => screen.reason != "idle_prompt",
        SessionStatus::Running => true,
        _ => false,
    }
}

fn is_idle(screen: &Verdict) -> bool {
    screen.status == SessionStatus::Blocked && screen.reason == "idle_prompt"
}

/// The verdict a report makes.
fn report_verdict(report: &AgentReport, now_ms: u64) -> Verdict {
    Verdict {
        status: report.status,
        reason: report.reason.clone(),
        evidence: Evidence {
            rule: report.source.as_str().to_owned(),
            region: "report".to_owned(),
            line: format!("{} {}", report.said, age(report.at_ms, now_ms)),
        },
    }
}

impl ReportMemory {
    /// The hook report that stands: the channel keeps only the last event,
    /// and an event the adapter maps to no status (`false`: Claude Code's
    /// idle reminder, which follows `StopFailure(...)` at once) must not
    /// erase what the last event with one said. `seen`: the channel holds
    /// an event (with or without a status).
    pub fn standing_hook(&mut self, hook: Option<AgentReport>, seen: bool) -> Option<AgentReport> {
        match hook {
            Some(report) => {
                self.last_hook = Some(report.clone());
                Some(report)
            }
            None if seen => self.last_hook.clone(),
            None => {
                self.last_hook = None;
                None
            }
        }
    }

    /// Layer 2: fuses the screen's verdict (layers 3-4) with the agent's
    /// report. `screen` must not come from the process layer (it beats
    /// both). Returns the decision and what explains it.
    pub fn fuse(
        &mut self,
        screen: Verdict,
        report: Option<&AgentReport>,
        facts: Facts<'_>,
    ) -> (Verdict, ReportNote) {
        let now = facts.now_ms;
        // Lines dated by their continuous presence; the first screen's
        // lines have no date (only the activity stamp bounds them).
        let mut lines = HashMap::with_capacity(facts.screen.lines.len());
        for line in &facts.screen.lines {
            let hash = line_hash(line);
            let since = match self.lines.get(&hash) {
                Some(&since) => since,
                None if facts.has_history => now,
                None => 0,
            };
            lines.insert(hash, since);
        }
        self.lines = lines;
        if facts.changed && facts.has_history {
            self.last_change_ms = Some(now);
        } else if !facts.has_history {
            self.last_change_ms = None;
        }
        if screen.status == SessionStatus::Running && self.first_running_ms.is_none() {
            self.first_running_ms = Some(now);
        }
        let mut note = ReportNote::default();
        let Some(report) = report else {
            return (screen, note);
        };
        note.report = Some(Box::new(report.clone()));
        let overrule = |note: &mut ReportNote, why: String| {
            note.overruled = Some(why);
        };
        if report.at_ms > now + FUTURE_SLACK_MS {
            overrule(&mut note, "the report is dated in the future".into());
            return (screen, note);
        }
        if report.status == SessionStatus::Running
            && now.saturating_sub(report.at_ms) > RUNNING_WINDOW_MS
        {
            overrule(&mut note, "the report is too old".into());
            return (screen, note);
        }
        if self.overruled == Some((report.source, report.seq)) {
            overrule(
                &mut note,
                "the screen overruled it; nothing reported since".into(),
            );
            return (screen, note);
        }
        let agree = report.status == screen.status;
        if !agree {
            // When the screen began to show what it shows: known from
            // earlier observations, else bounded by the pane's last output.
            let last_output_ms = facts.activity.map(|s| s * 1000);
            // A report that the agent is working is contradicted at once
            // (its dialog, its error); one that it stopped only by what
            // came clearly later (a stale old error under an interrupt's
            // redraw is not news).
            let slack = match phase(report.status, &report.reason) {
                Phase::Busy => 0,
                _ => SAME_EVENT_MS,
            };
            let after = report.at_ms + slack;
            // Since when the evidence line has been on screen (0: since
            // before this memory began), else the pane's last output.
            let began_after = match self.lines.get(&line_hash(&screen.evidence.line)) {
                Some(&since) if since > 0 => since > after,
                _ => last_output_ms.is_some_and(|t| t > after),
            };
            if is_strong(&screen) && began_after {
                self.overruled = Some((report.source, report.seq));
                overrule(
                    &mut note,
                    format!(
                        "the screen shows {} ({}) since after the report",
                        screen.status, screen.reason
                    ),
                );
                return (screen, note);
            }
            let working = report.status == SessionStatus::Running
                || (report.status == SessionStatus::Blocked && report.reason != "idle_prompt");
            if is_idle(&screen) && working {
                // Still since: the onset seen, else the end of the second
                // of the last output.
                let still_since = self
                    .last_change_ms
                    .or(last_output_ms.map(|t| t + 999))
                    .filter(|&t| t > report.at_ms);
                if let Some(since) = still_since
                    && now.saturating_sub(since) >= IDLE_OVERRULES_MS
                {
                    self.overruled = Some((report.source, report.seq));
                    overrule(
                        &mut note,
                        format!(
                            "the screen has been idle for {:.1} s since the report",
                            now.saturating_sub(since) as f64 / 1000.0
                        ),
                    );
                    return (screen, note);
                }
            }
        }
        note.source = report.source;
        if !agree || screen.reason != report.reason {
            note.screen = Some(Box::new(screen));
        }
        (report_verdict(report, now), note)
    }

    /// The hook channel's state: `armed` (hooks were passed, `@doeff-hook`
    /// holds seq 0 from the launch at `armed_ms`) or an event `seen`.
    /// Silence makes it dead only for hooks that speak when a turn starts
    /// (`speaks_early`); others may rightly say nothing for a long turn.
    pub fn channel(
        &self,
        armed: Option<u64>,
        seen: bool,
        speaks_early: bool,
        now_ms: u64,
    ) -> Channel {
        match (armed, seen) {
            (_, true) => Channel::Alive,
            (None, false) => Channel::Off,
            (Some(_), false) if !speaks_early => Channel::Waiting,
            (Some(armed_ms), false) => {
                let turn = self.first_running_ms.unwrap_or(armed_ms).max(armed_ms);
                let quiet_since_turn = self.first_running_ms.is_some()
                    && now_ms.saturating_sub(turn) >= HOOK_DEAD_AFTER_MS;
                if quiet_since_turn || now_ms.saturating_sub(armed_ms) >= 60_000 {
                    Channel::Dead
                } else {
                    Channel::Waiting
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(source: Source, status: SessionStatus, reason: &str, at_ms: u64) -> AgentReport {
        AgentReport {
            source,
            status,
            reason: reason.into(),
            said: format!("{status}"),
            at_ms,
            seq: at_ms,
        }
    }

    fn screen(status: SessionStatus, reason: &str, rule: &str) -> Verdict {
        Verdict::new(status, reason, rule, format!("{rule} says {reason}"))
    }

    /// A watch's observation at `now_ms` of a screen holding `verdict`'s line.
    fn at(
        memory: &mut ReportMemory,
        verdict: Verdict,
        report: Option<&AgentReport>,
        now_ms: u64,
    ) -> (Verdict, ReportNote) {
        let text = Screen::from_text(&verdict.evidence.line);
        // Changed when this verdict's line was not on the last screen.
        let changed = !memory
            .lines
            .contains_key(&line_hash(&verdict.evidence.line));
        memory.fuse(
            verdict,
            report,
            Facts {
                now_ms,
                screen: &text,
                changed,
                activity: None,
                has_history: true,
            },
        )
    }

    #[test]
    fn a_hook_refines_a_registry_in_the_same_phase_and_the_newer_wins_otherwise() {
        let stop_failure = report(Source::Hook, SessionStatus::BlockedApi, "rate_limit", 1000);
        let idle = report(
            Source::Registry,
            SessionStatus::Blocked,
            "idle_prompt",
            1050,
        );
        assert_eq!(
            merge(Some(stop_failure.clone()), Some(idle.clone()), 1100),
            Some(stop_failure)
        );
        // An interrupt: the last hook said "prompt submitted", the registry
        // went idle later; for a moment the hook saying why may be on its way.
        let submitted = report(
            Source::Hook,
            SessionStatus::Running,
            "prompt_submitted",
            900,
        );
        assert_eq!(
            merge(Some(submitted.clone()), Some(idle.clone()), 1100),
            Some(submitted.clone())
        );
        assert_eq!(merge(Some(submitted), Some(idle.clone()), 3000), Some(idle));
        assert_eq!(merge(None, None, 0), None);
    }

    #[test]
    fn an_uncontradicted_report_decides_and_names_itself() {
        let mut memory = ReportMemory::default();
        let rate = report(
            Source::Hook,
            SessionStatus::BlockedApi,
            "rate_limit",
            10_000,
        );
        let (verdict, note) = at(
            &mut memory,
            screen(SessionStatus::Blocked, "idle_prompt", "claude.idle_prompt"),
            Some(&rate),
            12_100,
        );
        assert_eq!(verdict.status, SessionStatus::BlockedApi);
        assert_eq!(verdict.evidence.rule, "hook");
        assert!(verdict.evidence.line.ends_with("2.1 s ago"), "{verdict:?}");
        assert_eq!(note.source, Source::Hook);
        assert_eq!(
            note.screen.map(|s| s.status),
            Some(SessionStatus::Blocked),
            "the disagreeing screen is kept for explain"
        );
    }

    #[test]
    fn an_older_error_on_screen_does_not_beat_a_newer_report() {
        let mut memory = ReportMemory::default();
        let limit = screen(
            SessionStatus::BlockedApi,
            "rate_limit",
            "default.rate_limit",
        );
        // The limit was on screen before the new prompt was submitted.
        at(&mut memory, limit.clone(), None, 1_000);
        let submitted = report(
            Source::Hook,
            SessionStatus::Running,
            "prompt_submitted",
            2_000,
        );
        let (verdict, _) = at(&mut memory, limit, Some(&submitted), 2_500);
        assert_eq!(verdict.status, SessionStatus::Running);
    }

    #[test]
    fn an_event_with_no_status_does_not_erase_the_last_report() {
        let mut memory = ReportMemory::default();
        let failure = report(Source::Hook, SessionStatus::BlockedApi, "server_error", 7);
        assert_eq!(
            memory.standing_hook(Some(failure.clone()), true),
            Some(failure.clone())
        );
        // The idle reminder (mapped to no status) follows: the failure stands.
        assert_eq!(memory.standing_hook(None, true), Some(failure.clone()));
        assert_eq!(memory.standing_hook(None, true), Some(failure));
        // A new event with a status replaces it.
        let busy = report(
            Source::Hook,
            SessionStatus::Running,
            "user_prompt_submit",
            9,
        );
        assert_eq!(memory.standing_hook(Some(busy.clone()), true), Some(busy));
        // No event at all (hooks not armed or reset): nothing stands.
        assert_eq!(memory.standing_hook(None, false), None);
        assert_eq!(memory.standing_hook(None, true), None);
    }

    #[test]
    fn a_dialog_shown_after_a_report_beats_it_until_the_agent_reports_again() {
        let mut memory = ReportMemory::default();
        let submitted = report(
            Source::Hook,
            SessionStatus::Running,
            "prompt_submitted",
            1_000,
        );
        let busy = screen(SessionStatus::Running, "busy", "default.busy");
        at(&mut memory, busy, Some(&submitted), 1_200);
        let dialog = screen(SessionStatus::Blocked, "permission_prompt", "x.permission");
        let (verdict, note) = at(&mut memory, dialog.clone(), Some(&submitted), 1_500);
        assert_eq!(verdict.reason, "permission_prompt");
        assert!(note.overruled.is_some());
        // Overruled for good: the output changing again does not bring it back.
        let changed = screen(SessionStatus::Running, "output_changed", "change");
        let (verdict, _) = at(&mut memory, changed, Some(&submitted), 1_800);
        assert_eq!(verdict.evidence.rule, "change");
        // A new report decides again.
        let stop = report(Source::Hook, SessionStatus::Blocked, "idle_prompt", 2_000);
        let (verdict, _) = at(&mut memory, dialog, Some(&stop), 2_100);
        assert_eq!(verdict.evidence.rule, "hook");
    }

    #[test]
    fn an_old_error_redrawn_by_an_interrupt_does_not_beat_the_registry_going_idle() {
        let mut memory = ReportMemory::default();
        at(
            &mut memory,
            screen(SessionStatus::Running, "busy", "default.busy"),
            None,
            1_000,
        );
        let idle = report(
            Source::Registry,
            SessionStatus::Blocked,
            "idle_prompt",
            5_000,
        );
        let old_error = screen(SessionStatus::Failed, "auth_failed", "default.auth_failed");
        let (verdict, _) = at(&mut memory, old_error.clone(), Some(&idle), 5_300);
        assert_eq!(verdict.status, SessionStatus::Blocked);
        let (verdict, _) = at(&mut memory, old_error, Some(&idle), 20_000);
        assert_eq!(verdict.status, SessionStatus::Blocked);
        // An error that shows up well after the agent said it stopped wins.
        let mut memory = ReportMemory::default();
        let later = screen(SessionStatus::Failed, "auth_failed", "default.auth_failed");
        let (verdict, _) = at(&mut memory, later, Some(&idle), 9_000);
        assert_eq!(verdict.status, SessionStatus::Failed);
    }

    #[test]
    fn an_idle_screen_beats_a_running_report_only_after_standing_still() {
        let mut memory = ReportMemory::default();
        let submitted = report(
            Source::Hook,
            SessionStatus::Running,
            "prompt_submitted",
            1_000,
        );
        let idle = screen(SessionStatus::Blocked, "idle_prompt", "claude.idle_prompt");
        let (first, _) = at(&mut memory, idle.clone(), Some(&submitted), 2_000);
        assert_eq!(first.status, SessionStatus::Running);
        let (soon, _) = at(&mut memory, idle.clone(), Some(&submitted), 4_000);
        assert_eq!(soon.status, SessionStatus::Running);
        let (later, note) = at(&mut memory, idle, Some(&submitted), 5_100);
        assert_eq!(later.status, SessionStatus::Blocked);
        assert!(note.overruled.is_some_and(|w| w.contains("idle")));
    }

    #[test]
    fn an_idle_screen_never_beats_a_limit_or_an_error_report() {
        let mut memory = ReportMemory::default();
        let auth = report(Source::Hook, SessionStatus::Failed, "auth_failed", 1_000);
        let idle = screen(SessionStatus::Blocked, "idle_prompt", "claude.idle_prompt");
        at(&mut memory, idle.clone(), Some(&auth), 2_000);
        let (verdict, _) = at(&mut memory, idle, Some(&auth), 60_000);
        assert_eq!(verdict.status, SessionStatus::Failed);
    }

    #[test]
    fn one_shot_readers_date_the_screen_by_the_last_output() {
        let submitted = report(
            Source::Hook,
            SessionStatus::Running,
            "prompt_submitted",
            10_000,
        );
        let idle = screen(SessionStatus::Blocked, "idle_prompt", "claude.idle_prompt");
        let text = Screen::from_text(&idle.evidence.line);
        let one_shot = |activity: u64, now_ms: u64| {
            ReportMemory::default()
                .fuse(
                    idle.clone(),
                    Some(&submitted),
                    Facts {
                        now_ms,
                        screen: &text,
                        changed: true,
                        activity: Some(activity),
                        has_history: false,
                    },
                )
                .0
                .status
        };
        // Printed after the report, silent for 4 s since: idle.
        assert_eq!(one_shot(11, 16_000), SessionStatus::Blocked);
        // Printed after the report, silent only 1 s: still running.
        assert_eq!(one_shot(11, 13_000), SessionStatus::Running);
        // Silent since before the report: the report is news.
        assert_eq!(one_shot(9, 30_000), SessionStatus::Running);
    }

    #[test]
    fn reports_from_the_future_are_refused() {
        let mut memory = ReportMemory::default();
        let r = report(Source::Registry, SessionStatus::Running, "busy", 100_000);
        let idle = screen(SessionStatus::Blocked, "idle_prompt", "x");
        assert_eq!(
            at(&mut memory, idle, Some(&r), 1_000).0.status,
            SessionStatus::Blocked
        );
    }

    #[test]
    fn a_channel_is_dead_when_silent_after_the_first_turn() {
        let mut memory = ReportMemory::default();
        assert_eq!(memory.channel(None, false, true, 0), Channel::Off);
        assert_eq!(
            memory.channel(Some(0), false, true, 1_000),
            Channel::Waiting
        );
        let busy = screen(SessionStatus::Running, "output_changed", "change");
        at(&mut memory, busy, None, 2_000);
        assert_eq!(
            memory.channel(Some(0), false, true, 4_000),
            Channel::Waiting
        );
        assert_eq!(memory.channel(Some(0), false, true, 7_500), Channel::Dead);
        assert_eq!(memory.channel(Some(0), true, true, 7_500), Channel::Alive);
        // Hooks that speak only when a turn ends (Codex's notify): a long
        // first turn or a long wait says nothing about the channel.
        assert_eq!(
            memory.channel(Some(0), false, false, 7_500),
            Channel::Waiting
        );
        assert_eq!(
            memory.channel(Some(0), false, false, 120_000),
            Channel::Waiting
        );
    }
}
