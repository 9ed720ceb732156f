//! Delivering text to an agent exactly. Short single-line text is typed
//! literally (`send-keys -l`); multi-line or long text goes by bracketed paste
//! through a tmux buffer (so newlines do not submit early and the size is not
//! bound by tmux's command limit), then, once the screen has settled, Enter is
//! sent on its own.
//!
//! What a terminal cannot carry as text is refused before anything is sent
//! ([`undeliverable`]): NUL, and every other control character except `\n`
//! and `\t` (ESC, `\r`, Ctrl-C, DEL, C1 controls), since the agent would
//! read it as a key — ESC cancels, `\r` submits early, and an embedded
//! `ESC [201~` would end a bracketed paste.

use std::time::{Duration, Instant};

use super::{AgentSession, Agents};
use crate::error::{Error, Result};

/// Text longer than this is pasted rather than typed.
pub const PASTE_THRESHOLD: usize = 200;
/// How long to wait for the agent to take a paste before pressing Enter.
const SETTLE_TIMEOUT: Duration = Duration::from_millis(1500);
const SETTLE_POLL: Duration = Duration::from_millis(40);

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
    /// Sends `text` to the agent, then Enter when `enter` is true.
    pub fn send_message(&self, session: &AgentSession, text: &str, enter: bool) -> Result<()> {
        let refuse = |message: &str| Error::Send {
            session: session.session_name.clone(),
            message: message.to_owned(),
        };
        if let Some(why) = undeliverable(text) {
            return Err(refuse(&why));
        }
        match self.tmux.pane_state(&session.pane_id)? {
            None => return Err(Error::SessionNotFound(session.session_name.clone())),
            Some(state) if state.dead => return Err(refuse("the agent's process has exited")),
            Some(_) => {}
        }
        let pane = session.pane_id.as_str();
        if text.contains(['\n', '\r']) || text.len() > PASTE_THRESHOLD {
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
        if enter {
            self.tmux
                .send_keys(pane, &["Enter"], false)
                .map_err(|e| self.gone_or(e, session))?;
        }
        Ok(())
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
}
