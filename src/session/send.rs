//! Delivering text to an agent exactly. Short single-line text is typed
//! literally (`send-keys -l`); multi-line or long text goes by bracketed paste
//! through a tmux buffer (so newlines do not submit early and the size is not
//! bound by tmux's command limit), then, once the screen has settled, Enter is
//! sent on its own.

use std::time::{Duration, Instant};

use super::{AgentSession, Agents};
use crate::error::{Error, Result};

/// Text longer than this is pasted rather than typed.
pub const PASTE_THRESHOLD: usize = 200;
/// How long to wait for the agent to take a paste before pressing Enter.
const SETTLE_TIMEOUT: Duration = Duration::from_millis(1500);
const SETTLE_POLL: Duration = Duration::from_millis(40);

impl Agents {
    /// Sends `text` to the agent, then Enter when `enter` is true.
    pub fn send_message(&self, session: &AgentSession, text: &str, enter: bool) -> Result<()> {
        let refuse = |message: &str| Error::Send {
            session: session.session_name.clone(),
            message: message.to_owned(),
        };
        if text.contains('\0') {
            return Err(refuse(
                "the text contains a NUL byte, which a terminal cannot carry",
            ));
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
