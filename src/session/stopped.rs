//! How one process tells another that a session was *stopped* through this
//! product, not ended: SPEC §2 says a session that is gone is `stopped`
//! "whichever process of this product stopped it". Before `stop_session`
//! signals the agent it leaves two marks naming the pane it stops: a server
//! option `@doeff-stopped-<session name>` (seen by every process while the
//! server runs) and `<state dir>/sessions/<name>.stopped` (seen after the
//! server exited with its last session). An observation whose process layer
//! says the pane ended or is gone looks for a mark on that exact pane id
//! and then reports `stopped`; a second `stop` of a name finds the mark and
//! says the session was already stopped.

use super::{AgentSession, Agents, session_name, state};
use crate::monitor::Process;

/// The server option holding the pane `stop` stopped under `session_name`.
fn option_name(session_name: &str) -> String {
    format!("@doeff-stopped-{session_name}")
}

impl Agents {
    /// Leaves the stop marks for `session` (best effort: a mark that cannot
    /// be written only makes another watcher report `exited`).
    pub(crate) fn mark_stopped(&self, session: &AgentSession) {
        let set = vec![
            "set-option".to_owned(),
            "-s".to_owned(),
            option_name(&session.session_name),
            session.pane_id.clone(),
        ];
        let _ = self.tmux().run(&[set], None);
        if let Some(dir) = self.state_dir() {
            let _ = state::mark_stopped(dir, &session.session_name, &session.pane_id);
        }
    }

    /// `process`, or [`Process::Stopped`] when it says the pane ended or is
    /// gone and another process of this product stopped exactly this pane.
    pub(crate) fn with_stop_marks<'p>(
        &self,
        session: &mut AgentSession,
        process: &'p Process,
    ) -> &'p Process {
        if session.stopped || !matches!(process, Process::Gone | Process::Ended { .. }) {
            return process;
        }
        if self.stopped_pane(&session.session_name).as_deref() == Some(session.pane_id.as_str()) {
            session.stopped = true;
            return &Process::Stopped;
        }
        process
    }

    /// True when the session `name` (`NAME` or `doeff-NAME`) was stopped
    /// through this product (for an idempotent second `stop`).
    pub fn was_stopped(&self, name: &str) -> bool {
        session_name(name).is_ok_and(|full| self.stopped_pane(&full).is_some())
    }

    /// The pane `stop` recorded under a full session name: on the server,
    /// else in the state dir.
    fn stopped_pane(&self, full_name: &str) -> Option<String> {
        let show = vec![
            "show-options".to_owned(),
            "-sqv".to_owned(),
            option_name(full_name),
        ];
        if let Ok(out) = self.tmux().run(&[show], None) {
            let pane = String::from_utf8_lossy(&out).trim().to_owned();
            if pane.starts_with('%') {
                return Some(pane);
            }
        }
        self.state_dir()
            .and_then(|dir| state::stopped_pane(dir, full_name))
    }
}
