//! When an agent can take input, and getting it there at start-up.
//!
//! [`readiness`] reads one screen: a known dialog, an unknown one (any
//! `blocked` verdict other than `idle_prompt`: permission prompts, login,
//! the default trust/dialog rules), a busy agent, a screen without the
//! adapter's ready pattern, or ready. [`Agents::start_up`] polls it during a
//! launch, answers the adapter's safe dialogs when the user asked for it, and
//! never types into a dialog it does not know.
//!
//! Ready means settled: some CLIs (Gemini, Codex 0.171) draw their composer
//! first and a trust dialog up to 2.5 s later, so a launch goes on only once a
//! ready screen has not changed (status bar aside) for [`READY_SETTLE`]. A
//! dialog that is not to be answered, or another screen waiting for the
//! user that stays put as long, ends the wait with the session left as it
//! is ([`WaitingForUser`]): `blocked`, nothing typed, the prompt not sent.
//!
//! A dialog is answered only once it has stayed put for [`DIALOG_SETTLE`],
//! and each key of a multi-key answer but the last must show on screen
//! (within [`KEY_REACTION`]) before the next is sent: `Enter` after a `Down`
//! the TUI missed would pick the default choice instead.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{AgentSession, Agents, LaunchConfig, last_lines};
use crate::adapter::{Adapter, Dialog, showing};
use crate::error::{Error, Result};
use crate::monitor::{Process, Screen, SessionStatus};

/// How many times one dialog is answered before the launch gives up on it.
const MAX_ANSWERS: usize = 3;
const POLL: Duration = Duration::from_millis(100);
/// How long a ready (or waiting) screen must stay unchanged, status bar
/// aside, before a launch goes on. Measured on the real CLIs
/// (`tests/realcli/trust_timing.py`, 25 runs under load): a trust dialog came
/// after the last composer change 0.58–1.10 s later for Gemini 0.61 (2.52 s
/// once, with tmux starved) and 0.73–1.61 s for Codex 0.171; 3 s covers
/// every sample.
pub const READY_SETTLE: Duration = Duration::from_secs(3);
/// How long a dialog must stay unchanged before it is answered: a TUI that
/// has just drawn it may not read keys yet, and a lost first key (the
/// `Down` of `Down, Enter`) would make the next one pick another choice.
const DIALOG_SETTLE: Duration = Duration::from_millis(500);
/// How long the screen may take to show a key of a multi-key answer
/// (the choice moving) before the rest of the answer is withheld.
const KEY_REACTION: Duration = Duration::from_secs(3);

/// What one screen says about taking input.
#[derive(Debug)]
#[non_exhaustive]
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

/// A launch left for the user: a dialog (or another screen that waits for
/// an answer) stayed on screen, and nothing was typed into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingForUser {
    /// The adapter's dialog id (`trust`), when the adapter knows the dialog.
    pub dialog: Option<String>,
    /// The status reason (`trust_dialog`, `login_required`).
    pub reason: String,
    /// The tmux keys that answer the dialog (from the adapter), if known.
    pub answer: Vec<String>,
    /// `--accept-trust` (`accept_dialogs`) would answer it.
    pub safe: bool,
    /// The first prompt (pasted once the agent is ready) was not sent.
    pub prompt_pending: bool,
}

impl WaitingForUser {
    /// What to tell the user, one line: what the session waits for and how
    /// to answer it.
    pub fn advice(&self, session: &str) -> String {
        let keys = if self.answer.is_empty() {
            "Enter".to_owned()
        } else {
            self.answer.join(" ")
        };
        let mut line = match (&self.dialog, self.reason.as_str()) {
            (_, "trust_dialog") if self.safe || self.dialog.is_none() => format!(
                "{session} is waiting for you to trust the folder: doeff-agents send {session} \
                 --keys {keys}, or run with --accept-trust"
            ),
            (Some(id), reason) if self.safe => format!(
                "{session} is waiting for you to answer its {id} dialog ({reason}): doeff-agents \
                 send {session} --keys {keys}, or run with --accept-trust"
            ),
            (Some(id), reason) => format!(
                "{session} is waiting for you to answer its {id} dialog ({reason}, never answered \
                 automatically): doeff-agents attach {session}, or doeff-agents send {session} --keys KEY..."
            ),
            (None, reason) => format!(
                "{session} is waiting for you ({reason}): doeff-agents attach {session}, or \
                 doeff-agents send {session} --keys KEY..."
            ),
        };
        if self.prompt_pending {
            line.push_str(&format!(
                "; the prompt was not sent (send it with doeff-agents send {session} TEXT once answered)"
            ));
        }
        line
    }
}

impl WaitingForUser {
    /// What is on screen: "its trust dialog (trust_dialog) is on screen".
    pub fn describe(&self) -> String {
        match &self.dialog {
            Some(id) => format!("its {id} dialog ({}) is on screen", self.reason),
            None => format!("a {} screen waits for an answer", self.reason),
        }
    }

    /// How to answer it from the command line.
    pub fn keys_hint(&self, session: &str) -> String {
        if self.answer.is_empty() {
            format!("doeff-agents send {session} --keys KEY... (or attach {session})")
        } else {
            format!(
                "doeff-agents send {session} --keys {}",
                self.answer.join(" ")
            )
        }
    }
}

/// How a launch's start-up wait ended.
#[derive(Debug)]
pub(crate) enum StartUp {
    /// Ready and settled; or, with nothing to paste, busy or not ready in
    /// time (nothing will be typed, observation takes over).
    Go,
    /// Left for the user.
    Waiting(WaitingForUser),
}

/// What stands between `screen` and a message: a dialog or a screen that
/// waits for the user (`None` when nothing does).
pub(crate) fn in_the_way(adapter: &Adapter, screen: &Screen) -> Option<WaitingForUser> {
    match readiness(adapter, screen, false) {
        Readiness::Dialog(dialog) => Some(WaitingForUser {
            dialog: Some(dialog.id.clone()),
            reason: dialog.reason.clone(),
            answer: dialog.answer.clone(),
            safe: dialog.safe,
            prompt_pending: false,
        }),
        Readiness::Blocked(reason) => Some(WaitingForUser {
            dialog: None,
            reason,
            answer: Vec::new(),
            safe: false,
            prompt_pending: false,
        }),
        _ => None,
    }
}

impl Agents {
    /// Waits until the agent shows it is ready (idle too with `need_idle`)
    /// and the screen has settled ([`READY_SETTLE`]), answering the
    /// adapter's safe dialogs if `config.accept_dialogs`.
    ///
    /// A dialog that is not to be answered ends the wait at once, another
    /// screen waiting for the user once it has settled: [`StartUp::Waiting`],
    /// nothing typed. Without `need_idle` (no prompt to paste) a busy agent
    /// ends the wait too, and so does the timeout; with it, the timeout is
    /// [`Error::AgentReadyTimeout`] and an agent that exits is an error.
    pub(crate) fn start_up(
        &self,
        session: &AgentSession,
        adapter: &Adapter,
        config: &LaunchConfig,
        timeout: Duration,
        need_idle: bool,
    ) -> Result<StartUp> {
        let mut deadline = Instant::now() + timeout;
        // Ready by the deadline: the settle window may run past it once.
        let mut extended = false;
        let mut answered: HashMap<String, usize> = HashMap::new();
        let mut last = Screen::default();
        // The screen's content (status bar aside) and since when it is so.
        let mut settled: Option<(u64, Instant)> = None;
        let mut waiting_on: String;
        loop {
            if let Some(state) = self.tmux.pane_state(&session.pane_id)?
                && state.dead
            {
                if !need_idle {
                    return Ok(StartUp::Go);
                }
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
            let hash = last.content_hash(adapter.status_bar_lines);
            let since = match settled {
                Some((seen, since)) if seen == hash => since,
                _ => {
                    let now = Instant::now();
                    settled = Some((hash, now));
                    now
                }
            };
            let is_settled = since.elapsed() >= READY_SETTLE;
            match readiness(adapter, &last, true) {
                Readiness::Ready if is_settled => return Ok(StartUp::Go),
                Readiness::Ready => {
                    waiting_on = "the screen to settle".into();
                    if !extended && Instant::now() >= deadline {
                        extended = true;
                        deadline = since + 2 * READY_SETTLE;
                    }
                }
                Readiness::Dialog(dialog)
                    if config.accept_dialogs
                        && dialog.safe
                        && answered.get(&dialog.id).copied().unwrap_or(0) < MAX_ANSWERS =>
                {
                    if since.elapsed() < DIALOG_SETTLE {
                        waiting_on = format!("the {} dialog to settle", dialog.id);
                    } else {
                        *answered.entry(dialog.id.clone()).or_default() += 1;
                        if !self.answer(&session.pane_id, &dialog.answer, &last)? {
                            return Ok(StartUp::Waiting(WaitingForUser {
                                dialog: Some(dialog.id.clone()),
                                reason: dialog.reason.clone(),
                                answer: dialog.answer.clone(),
                                safe: false,
                                prompt_pending: need_idle,
                            }));
                        }
                        // Give the TUI time to take the answer down.
                        std::thread::sleep(Duration::from_millis(700));
                        settled = None;
                        continue;
                    }
                }
                Readiness::Dialog(dialog) => {
                    return Ok(StartUp::Waiting(WaitingForUser {
                        dialog: Some(dialog.id.clone()),
                        reason: dialog.reason.clone(),
                        answer: dialog.answer.clone(),
                        // Answered MAX_ANSWERS times and still there: not
                        // for --accept-trust to try again.
                        safe: dialog.safe && !config.accept_dialogs,
                        prompt_pending: need_idle,
                    }));
                }
                Readiness::Blocked(reason) if is_settled => {
                    return Ok(StartUp::Waiting(WaitingForUser {
                        dialog: None,
                        reason,
                        answer: Vec::new(),
                        safe: false,
                        prompt_pending: need_idle,
                    }));
                }
                Readiness::Blocked(reason) => {
                    waiting_on = format!("a {reason} screen to go away (not typed into)");
                }
                // Working on its argv prompt: no start-up dialog is coming.
                Readiness::Busy if !need_idle => return Ok(StartUp::Go),
                Readiness::Busy => waiting_on = "the agent to finish its start-up work".into(),
                Readiness::NotYet => waiting_on = "the ready pattern".into(),
            }
            if Instant::now() >= deadline {
                if !need_idle {
                    return Ok(StartUp::Go);
                }
                return Err(Error::AgentReadyTimeout {
                    agent: adapter.name.clone(),
                    seconds: timeout.as_secs_f64(),
                    last_lines: format!("(waiting for {waiting_on})\n{}", last_lines(&last, 8)),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Types `keys` into a dialog shown as `shown`, each but the last only
    /// once the screen shows the one before it took effect. False (the rest
    /// withheld) when the screen did not react within [`KEY_REACTION`].
    fn answer(&self, pane: &str, keys: &[String], shown: &Screen) -> Result<bool> {
        let mut before = shown.lines.clone();
        for (i, key) in keys.iter().enumerate() {
            self.tmux.send_keys(pane, &[key], false)?;
            if i + 1 == keys.len() {
                break;
            }
            let deadline = Instant::now() + KEY_REACTION;
            loop {
                std::thread::sleep(POLL);
                let now = Screen::from_text(&self.tmux.capture_pane(pane, 0)?);
                if now.lines != before {
                    before = now.lines;
                    break;
                }
                if Instant::now() >= deadline {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}
