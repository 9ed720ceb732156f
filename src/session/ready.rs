//! When an agent can take input, and getting it there at start-up.
//!
//! [`readiness`] reads one screen: a known dialog, an unknown one (any
//! `blocked` verdict other than `idle_prompt`: permission prompts, login,
//! the default trust/dialog rules), a busy agent, a screen without the
//! adapter's ready pattern, or ready. [`Agents::start_up`] polls it during a
//! launch, answers the adapter's safe dialogs when the user asked for it, and
//! never types into a dialog it does not know.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{AgentSession, Agents, LaunchConfig, last_lines};
use crate::adapter::{Adapter, Dialog, showing};
use crate::error::{Error, Result};
use crate::monitor::{Process, Screen, SessionStatus};

/// How many times one dialog is answered before the launch gives up on it.
const MAX_ANSWERS: usize = 3;
const POLL: Duration = Duration::from_millis(150);
/// A ready screen must hold this long (MCP servers and banners still drawing).
const STABLE_FOR: Duration = Duration::from_millis(400);

/// What one screen says about taking input.
#[derive(Debug)]
pub enum Readiness<'a> {
    /// The composer is up and nothing is in the way.
    Ready,
    /// A dialog the adapter knows.
    Dialog(&'a Dialog),
    /// Something waits for an answer the adapter has no dialog for (reason).
    Blocked(String),
    /// The agent is working.
    Busy,
    /// The ready pattern is not on screen yet.
    NotYet,
}

/// Reads `screen`. With `need_idle`, a busy agent is not ready.
pub fn readiness<'a>(adapter: &'a Adapter, screen: &Screen, need_idle: bool) -> Readiness<'a> {
    if let Some(dialog) = showing(&adapter.dialogs, screen) {
        return Readiness::Dialog(dialog);
    }
    let verdict = adapter.explain(screen, SessionStatus::Booting, false, &Process::Unknown);
    if verdict.status == SessionStatus::Blocked && verdict.reason != "idle_prompt" {
        return Readiness::Blocked(verdict.reason);
    }
    let shows_ready = match &adapter.ready_pattern {
        Some(re) => screen.lines.iter().any(|l| re.is_match(l)),
        None => screen.lines.iter().any(|l| !l.trim().is_empty()),
    };
    if !shows_ready {
        return Readiness::NotYet;
    }
    if need_idle && verdict.status == SessionStatus::Running {
        return Readiness::Busy;
    }
    Readiness::Ready
}

impl Agents {
    /// Waits until the agent shows it is ready (idle too with `need_idle`),
    /// answering the adapter's safe dialogs if `config.accept_dialogs`.
    ///
    /// A known dialog that may not be answered ends the wait with
    /// [`Error::StartupDialog`] when `need_idle` (a prompt is waiting to be
    /// pasted); otherwise the launch returns and observation reports it.
    pub(crate) fn start_up(
        &self,
        session: &AgentSession,
        adapter: &Adapter,
        config: &LaunchConfig,
        timeout: Duration,
        need_idle: bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut answered: HashMap<String, usize> = HashMap::new();
        let mut last = Screen::default();
        let mut ready_since: Option<(Instant, Screen)> = None;
        let mut waiting_on = String::from("the ready pattern");
        loop {
            if let Some(state) = self.tmux.pane_state(&session.pane_id)?
                && state.dead
            {
                return Err(Error::AgentLaunch {
                    agent: adapter.name.clone(),
                    message: format!(
                        "the agent exited during start-up ({}); last screen lines:\n{}",
                        state
                            .exit_status
                            .map_or("no exit code".to_owned(), |c| format!("exit code {c}")),
                        last_lines(&last, 8)
                    ),
                });
            }
            last = Screen::from_text(&self.tmux.capture_pane(&session.pane_id, 0)?);
            match readiness(adapter, &last, need_idle) {
                Readiness::Ready => match &ready_since {
                    Some((since, screen)) if *screen == last => {
                        if since.elapsed() >= STABLE_FOR {
                            return Ok(());
                        }
                    }
                    _ => ready_since = Some((Instant::now(), last.clone())),
                },
                Readiness::Dialog(dialog) => {
                    ready_since = None;
                    let count = answered.entry(dialog.id.clone()).or_default();
                    if config.accept_dialogs && dialog.safe && *count < MAX_ANSWERS {
                        *count += 1;
                        for key in &dialog.answer {
                            self.tmux.send_keys(&session.pane_id, &[key], false)?;
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        // Give the TUI time to take the answer down.
                        std::thread::sleep(Duration::from_millis(700));
                        continue;
                    }
                    if !need_idle {
                        return Ok(());
                    }
                    return Err(Error::StartupDialog {
                        agent: adapter.name.clone(),
                        dialog: dialog.id.clone(),
                        reason: dialog.reason.clone(),
                        hint: if !dialog.safe {
                            "it is not safe to answer automatically; answer it in the session"
                        } else if config.accept_dialogs {
                            "it stayed on screen after being answered"
                        } else {
                            "pass accept_dialogs (run --accept-trust) to answer it"
                        }
                        .to_owned(),
                    });
                }
                Readiness::Blocked(reason) => {
                    ready_since = None;
                    waiting_on = format!("a {reason} screen to go away (not typed into)");
                }
                Readiness::Busy => {
                    ready_since = None;
                    waiting_on = "the agent to finish its start-up work".into();
                }
                Readiness::NotYet => ready_since = None,
            }
            if Instant::now() >= deadline {
                return Err(Error::AgentReadyTimeout {
                    agent: adapter.name.clone(),
                    seconds: timeout.as_secs_f64(),
                    last_lines: format!("(waiting for {waiting_on})\n{}", last_lines(&last, 8)),
                });
            }
            std::thread::sleep(POLL);
        }
    }
}
