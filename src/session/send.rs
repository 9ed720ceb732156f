//! Delivering text to an agent exactly, and making sure it was submitted.
//!
//! With `enter`, the text waits until the agent can take it: the adapter's
//! ready pattern is on screen, no dialog (known or not) is, and the agent is
//! not busy ([`readiness`]); an agent that stays unready is an
//! [`Error::Send`]. Short single-line text is typed literally
//! (`send-keys -l`) only without `enter`; a message to submit, and any
//! multi-line or long text, goes by bracketed paste through a tmux buffer (so
//! newlines do not submit early, keys are not taken for TUI shortcuts, and
//! the size is not bound by tmux's command limit). Enter goes on its own once the screen has
//! settled, and submission is verified through the adapter's `composer`
//! regex: while the text (or a `[Pasted text ...]` chip) still sits in the
//! composer and nothing else took over the screen, Enter is pressed again,
//! a bounded number of times, then it is an [`Error::Send`].
//!
//! Without `enter` the text is typed at once, whatever is on screen: that is
//! how dialogs are answered.
//!
//! One sender at a time: every send holds the session's [`SendLock`]
//! (across processes), so two concurrent messages arrive as two.
//!
//! What a terminal cannot carry as text is refused before anything is sent
//! ([`undeliverable`]): NUL, and every other control character except `\n`
//! and `\t` (ESC, `\r`, Ctrl-C, DEL, C1 controls), since the agent would
//! read it as a key — ESC cancels, `\r` submits early, and an embedded
//! `ESC [201~` would end a bracketed paste.

use std::time::{Duration, Instant};

use super::keys::key_names;
use super::ready::{Readiness, WaitingForUser, in_the_way, readiness};
use super::send_lock::{SEND_LOCK_WAIT, SendLock};
use super::{AgentSession, Agents, last_lines};
use crate::adapter::Adapter;
use crate::error::{Error, Result};
use crate::monitor::{Process, Screen, SessionStatus};

/// Text longer than this is pasted rather than typed.
pub const PASTE_THRESHOLD: usize = 200;
/// How long a message with Enter waits for the agent to be ready for it.
pub const SEND_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times Enter is pressed before a message counts as undelivered.
pub const ENTER_ATTEMPTS: usize = 4;
/// How long to wait for the agent to take a paste before pressing Enter.
const SETTLE_TIMEOUT: Duration = Duration::from_millis(1500);
const SETTLE_POLL: Duration = Duration::from_millis(40);
/// How long one Enter gets to take the text out of the composer.
const SUBMIT_WAIT: Duration = Duration::from_millis(1500);
const POLL: Duration = Duration::from_millis(100);
/// Pause between a settled paste and its Enter.
const AFTER_PASTE: Duration = Duration::from_millis(250);
/// How much of the text's first line identifies it in the composer.
const PROBE_CHARS: usize = 16;

/// Why `text` cannot be typed into a terminal exactly, or `None` if it can.
pub fn undeliverable(text: &str) -> Option<String> {
    let c = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')?;
    Some(if c == '\0' {
        "the text contains a NUL byte, which a terminal cannot carry".to_owned()
    } else {
        format!(
            "the text contains the control character U+{:04X}, which the agent would read as \
             a key, not as text (only newlines and tabs can be sent)",
            u32::from(c)
        )
    })
}

impl Agents {
    /// Sends `text` to the agent, then Enter when `enter` is true (waiting
    /// for the agent to be ready first, and verifying the submission).
    pub fn send_message(&self, session: &AgentSession, text: &str, enter: bool) -> Result<()> {
        if let Some(why) = undeliverable(text) {
            return Err(Error::Send {
                session: session.session_name.clone(),
                message: why,
            });
        }
        let adapter = self.adapter_for(session);
        let _one_sender = self.send_lock(session)?;
        if enter {
            self.wait_for_input(session, &adapter, SEND_READY_TIMEOUT)?;
        }
        match self.deliver(session, &adapter, text, enter)? {
            Delivered::Sent => Ok(()),
            Delivered::Held { waiting, pasted } => Err(Error::Send {
                session: session.session_name.clone(),
                message: format!(
                    "{} ({}); answer it first: {}",
                    waiting.describe(),
                    if pasted {
                        "the message is in the composer, not submitted"
                    } else {
                        "nothing was sent"
                    },
                    waiting.keys_hint(&session.session_name)
                ),
            }),
        }
    }

    /// Waits for the session's [`SendLock`]: one sender at a time.
    pub(crate) fn send_lock(&self, session: &AgentSession) -> Result<SendLock> {
        SendLock::acquire(
            self.tmux.server(),
            &session.session_name,
            SEND_LOCK_WAIT,
            || {},
        )
    }

    /// Sends named keys (`Enter`, `Down`, `Esc`, `C-c`, `y`, `1`) one by
    /// one, at once, whatever is on screen: for answering dialogs and menus.
    /// Every key must be on the allow-list ([`super::key_name`]); one that is not
    /// fails the call before anything is sent.
    pub fn send_keys<S: AsRef<str>>(&self, session: &AgentSession, keys: &[S]) -> Result<()> {
        let keys = key_names(keys)?;
        let _one_sender = self.send_lock(session)?;
        self.check_alive(session)?;
        for key in &keys {
            self.tmux
                .send_keys(&session.pane_id, &[key.as_str()], false)
                .map_err(|e| self.gone_or(e, session))?;
        }
        Ok(())
    }

    /// Polls until [`readiness`] says the agent can take a message. A
    /// dialog, or another screen waiting for the user, fails at once: no
    /// composer comes until a person answers it (`send --keys`).
    fn wait_for_input(
        &self,
        session: &AgentSession,
        adapter: &Adapter,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive(session)?;
            let screen = self.screen_of(session)?;
            if let Some(waiting) = in_the_way(adapter, &screen) {
                return Err(Error::Send {
                    session: session.session_name.clone(),
                    message: format!(
                        "{}; answer it first: {}",
                        waiting.describe(),
                        waiting.keys_hint(&session.session_name)
                    ),
                });
            }
            let why = match readiness(adapter, &screen, true) {
                Readiness::Ready => return Ok(()),
                Readiness::Busy => "it is still busy",
                _ => "its ready pattern is not on screen",
            };
            if Instant::now() >= deadline {
                return Err(Error::Send {
                    session: session.session_name.clone(),
                    message: format!(
                        "the agent was not ready for input within {:.0}s: {why}; last screen lines:\n{}",
                        timeout.as_secs_f64(),
                        last_lines(&screen, 6)
                    ),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    fn check_alive(&self, session: &AgentSession) -> Result<()> {
        match self.tmux.pane_state(&session.pane_id)? {
            None => Err(Error::SessionNotFound(session.session_name.clone())),
            Some(state) if state.dead => Err(Error::Send {
                session: session.session_name.clone(),
                message: "the agent's process has exited".into(),
            }),
            Some(_) => Ok(()),
        }
    }

    fn screen_of(&self, session: &AgentSession) -> Result<Screen> {
        self.tmux
            .capture_pane(&session.pane_id, 0)
            .map(|t| Screen::from_text(&t))
            .map_err(|e| self.gone_or(e, session))
    }

    /// Types or pastes `text` now; with `enter`, submits and verifies. A
    /// message to submit is held back when a dialog (or another screen that
    /// waits for the user) is on screen right before its paste or right
    /// before an Enter: [`Delivered::Held`], so an Enter never answers a
    /// dialog that appeared meanwhile.
    pub(crate) fn deliver(
        &self,
        session: &AgentSession,
        adapter: &Adapter,
        text: &str,
        enter: bool,
    ) -> Result<Delivered> {
        if text.contains('\0') {
            return Err(Error::Send {
                session: session.session_name.clone(),
                message: "the text contains a NUL byte, which a terminal cannot carry".into(),
            });
        }
        self.check_alive(session)?;
        let pane = session.pane_id.as_str();
        if enter && let Some(waiting) = in_the_way(adapter, &self.screen_of(session)?) {
            return Ok(Delivered::Held {
                waiting,
                pasted: false,
            });
        }
        // A message to submit always goes by paste: typed keys can be TUI
        // shortcuts ("?" opens Gemini's help). Keys for a dialog are typed.
        let pasted = enter || text.contains(['\n', '\r']) || text.len() > PASTE_THRESHOLD;
        if pasted && !text.is_empty() {
            self.tmux
                .paste_text(pane, text)
                .map_err(|e| self.gone_or(e, session))?;
            if enter {
                self.wait_for_settled_screen(pane);
            }
        } else if !text.is_empty() {
            self.tmux
                .send_keys(pane, &[text], true)
                .map_err(|e| self.gone_or(e, session))?;
        }
        if !enter {
            return Ok(Delivered::Sent);
        }
        let probe = probe_of(text);
        if pasted {
            // Some TUIs take an Enter that follows a paste too closely as
            // part of it.
            std::thread::sleep(AFTER_PASTE);
        }
        for _ in 0..ENTER_ATTEMPTS {
            let before = self.screen_of(session).ok();
            // The message's own lines in the composer are not a dialog.
            if let Some(waiting) = before
                .as_ref()
                .and_then(|screen| in_the_way(adapter, &without_echo(screen, text)))
            {
                return Ok(Delivered::Held {
                    waiting,
                    pasted: !text.is_empty(),
                });
            }
            self.tmux
                .send_keys(pane, &["Enter"], false)
                .map_err(|e| self.gone_or(e, session))?;
            if adapter.composer.is_none() {
                return Ok(Delivered::Sent);
            }
            if self.submitted(session, adapter, &probe, before.as_ref()) {
                return Ok(Delivered::Sent);
            }
        }
        Err(Error::Send {
            session: session.session_name.clone(),
            message: format!(
                "the message is still in the agent's composer after {ENTER_ATTEMPTS} Enter presses"
            ),
        })
    }

    /// Polls after an Enter: submitted once the screen moved on and two
    /// captures in a row no longer show the message in the composer (one
    /// frame can catch the TUI mid-redraw).
    fn submitted(
        &self,
        session: &AgentSession,
        adapter: &Adapter,
        probe: &str,
        before: Option<&Screen>,
    ) -> bool {
        let deadline = Instant::now() + SUBMIT_WAIT;
        let mut clear_polls = 0;
        while Instant::now() < deadline {
            std::thread::sleep(POLL);
            // An agent that ended (e.g. on "/exit") left nothing unsent.
            if !matches!(self.tmux.pane_state(&session.pane_id), Ok(Some(state)) if !state.dead) {
                return true;
            }
            let Ok(screen) = self.screen_of(session) else {
                return true;
            };
            if Some(&screen) != before && !still_in_composer(adapter, &screen, probe) {
                clear_polls += 1;
                if clear_polls >= 2 {
                    return true;
                }
            } else {
                clear_polls = 0;
            }
        }
        false
    }

    /// Waits until two captures in a row are equal (the TUI took the paste),
    /// or the settle timeout passes.
    fn wait_for_settled_screen(&self, pane: &str) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut last = None;
        while Instant::now() < deadline {
            std::thread::sleep(SETTLE_POLL);
            let Ok(screen) = self.tmux.capture_pane(pane, 0) else {
                return;
            };
            if last.as_ref() == Some(&screen) {
                return;
            }
            last = Some(screen);
        }
    }
}

/// What [`Agents::deliver`] did.
#[derive(Debug)]
pub(crate) enum Delivered {
    /// Sent (and, with Enter, submitted).
    Sent,
    /// Held back: `waiting` was on screen before the paste, or before an
    /// Enter (`pasted`: the text then sits in the composer).
    Held {
        waiting: WaitingForUser,
        pasted: bool,
    },
}

/// `screen` without the lines that are part of `text` (the message's echo
/// in the composer), so a message quoting a dialog is not taken for one.
fn without_echo(screen: &Screen, text: &str) -> Screen {
    let prefix: &[char] = &['>', '❯', '›', '*', '│', '┃', ' '];
    let lines = screen
        .lines
        .iter()
        .filter(|line| {
            let bare = line
                .trim()
                .trim_start_matches(prefix)
                .trim_end_matches(prefix);
            bare.is_empty() || !text.contains(bare)
        })
        .cloned()
        .collect();
    Screen {
        lines,
        title: screen.title.clone(),
    }
}

/// The start of the text's first non-blank line.
fn probe_of(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    line.unwrap_or_default().chars().take(PROBE_CHARS).collect()
}

/// True while the message visibly waits in the composer: the composer holds
/// its start or a paste chip, and nothing (a dialog, a busy marker, an API
/// error) took over the screen.
fn still_in_composer(adapter: &Adapter, screen: &Screen, probe: &str) -> bool {
    let Some(waiting) = adapter.composer_text(screen) else {
        return false;
    };
    let chip = waiting.to_lowercase().contains("[pasted");
    let text = !probe.is_empty() && waiting.contains(probe);
    if !(chip || text) {
        return false;
    }
    if !matches!(
        readiness(adapter, screen, true),
        Readiness::Ready | Readiness::NotYet
    ) {
        return false;
    }
    // Some agents put a failed message back into the composer (Gemini on a
    // quota error): the error on screen says it was sent. Another Enter
    // there would answer whatever the agent shows next.
    let verdict = adapter.explain(screen, SessionStatus::Booting, false, &Process::Unknown);
    !matches!(
        verdict.status,
        SessionStatus::BlockedApi | SessionStatus::Failed | SessionStatus::Done
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_keys_are_refused_and_text_is_not() {
        for bad in ["a\0b", "\u{1b}[201~", "a\rb", "\u{3}", "\u{7f}", "\u{9b}1m"] {
            assert!(undeliverable(bad).is_some(), "{bad:?}");
        }
        for good in [
            "",
            "a\nb\tc",
            "$(x) `y` 'q' \"q\"; &&",
            "-leading",
            "é ✻ 日本",
        ] {
            assert_eq!(undeliverable(good), None, "{good:?}");
        }
    }

    #[test]
    fn the_message_in_the_composer_is_not_a_dialog() {
        let screen = Screen::from_text(
            "banner\n> Do you trust the files in this folder?\n│ 1. Yes, trust it\n",
        );
        let text = "quote: Do you trust the files in this folder?";
        assert_eq!(
            without_echo(&screen, text).lines,
            ["banner", "│ 1. Yes, trust it"]
        );
        assert_eq!(without_echo(&screen, "other").lines.len(), 3);
    }

    #[test]
    fn the_probe_is_the_start_of_the_first_line() {
        assert_eq!(probe_of("\n  hello world\nmore"), "hello world");
        assert_eq!(probe_of(&"x".repeat(100)).len(), PROBE_CHARS);
        assert_eq!(probe_of(""), "");
    }
}
