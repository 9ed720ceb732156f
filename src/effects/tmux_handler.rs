//! [`TmuxAgentHandler`]: the real effect handler. It runs effects through
//! [`Agents`] on a tmux server and owns the per-session state
//! ([`AgentSession`], with its monitor history) keyed by full session name,
//! so successive `Monitor` effects compare each screen with the last one.
//!
//! The functions below the handler hold the per-effect logic; the async
//! handler reuses them off the runtime.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{AgentHandler, SessionHandle, gone_observation};
use crate::adapter::LaunchConfig;
use crate::error::{Error, Result};
use crate::monitor::{Observation, SessionStatus};
use crate::session::{AgentSession, Agents, lookup_candidates};

/// Runs effects on real tmux sessions.
///
/// A handle the handler did not launch itself (from another handler or
/// process) is adopted on first use when a session with its name and pane
/// still exists; its monitor history starts then.
#[derive(Debug)]
pub struct TmuxAgentHandler {
    agents: Agents,
    sessions: BTreeMap<String, AgentSession>,
}

impl TmuxAgentHandler {
    pub fn new(agents: Agents) -> TmuxAgentHandler {
        TmuxAgentHandler {
            agents,
            sessions: BTreeMap::new(),
        }
    }

    /// A handler on [`Agents::from_env`].
    pub fn from_env() -> Result<TmuxAgentHandler> {
        Ok(TmuxAgentHandler::new(Agents::from_env()?))
    }

    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    /// Every session this handler knows, by full name, with its last
    /// status and monitor state. Stopped sessions stay (status `stopped`)
    /// until [`forget`](Self::forget) or a new launch under the same name.
    pub fn sessions(&self) -> &BTreeMap<String, AgentSession> {
        &self.sessions
    }

    /// A known session by `NAME` or `doeff-NAME`.
    pub fn session(&self, name: &str) -> Option<&AgentSession> {
        lookup_candidates(name)
            .iter()
            .find_map(|candidate| self.sessions.get(candidate))
    }

    /// Drops the handler's state for a session (the tmux session is untouched).
    pub fn forget(&mut self, name: &str) -> Option<AgentSession> {
        let key = lookup_candidates(name)
            .into_iter()
            .find(|candidate| self.sessions.contains_key(candidate))?;
        self.sessions.remove(&key)
    }

    /// The handler's session for `handle`, adopting a live one it does not
    /// know yet; `None` when the handle's session no longer exists.
    fn resolve(&mut self, handle: &SessionHandle) -> Result<Option<&mut AgentSession>> {
        let name = handle.session_name();
        let known = self
            .sessions
            .get(name)
            .is_some_and(|s| s.pane_id == handle.pane_id());
        if !known && let Some(session) = adopt(&self.agents, handle)? {
            self.sessions.insert(name.to_owned(), session);
        }
        Ok(self
            .sessions
            .get_mut(name)
            .filter(|s| s.pane_id == handle.pane_id()))
    }
}

impl AgentHandler for TmuxAgentHandler {
    fn launch(
        &mut self,
        session_name: &str,
        config: &LaunchConfig,
        ready_timeout: Duration,
    ) -> Result<SessionHandle> {
        let session = self
            .agents
            .launch_session(session_name, &config.clone().ready_timeout(ready_timeout))?;
        let handle = SessionHandle::from(&session);
        self.sessions.insert(session.session_name.clone(), session);
        Ok(handle)
    }

    fn monitor(&mut self, handle: &SessionHandle) -> Result<Observation> {
        let agents = self.agents.clone();
        observe(&agents, self.resolve(handle)?)
    }

    fn capture(&mut self, handle: &SessionHandle, lines: usize) -> Result<String> {
        let agents = self.agents.clone();
        let session = self.resolve(handle)?;
        capture(&agents, session.as_deref(), handle, lines)
    }

    fn send(
        &mut self,
        handle: &SessionHandle,
        message: &str,
        enter: bool,
        literal: bool,
    ) -> Result<()> {
        let agents = self.agents.clone();
        let session = self.resolve(handle)?;
        send(&agents, session.as_deref(), handle, message, enter, literal)
    }

    fn stop(&mut self, handle: &SessionHandle) -> Result<()> {
        let agents = self.agents.clone();
        stop(&agents, self.resolve(handle)?)
    }

    fn sleep(&mut self, duration: Duration) -> Result<()> {
        std::thread::sleep(duration);
        Ok(())
    }
}

/// The live session named by `handle`, if it is still the same pane.
pub(crate) fn adopt(agents: &Agents, handle: &SessionHandle) -> Result<Option<AgentSession>> {
    match agents.session(handle.session_name()) {
        Ok(session) if session.pane_id == handle.pane_id() => Ok(Some(session)),
        Ok(_) | Err(Error::SessionNotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// One observation; a missing session is `exited` (`pane_gone`).
pub(crate) fn observe(agents: &Agents, session: Option<&mut AgentSession>) -> Result<Observation> {
    match session {
        Some(session) => agents.observe(session),
        None => Ok(gone_observation(SessionStatus::Exited)),
    }
}

pub(crate) fn capture(
    agents: &Agents,
    session: Option<&AgentSession>,
    handle: &SessionHandle,
    lines: usize,
) -> Result<String> {
    let session = session.ok_or_else(|| not_found(handle))?;
    agents.capture_output(session, lines)
}

/// Literal text goes through [`Agents::send_message`] (typed or pasted,
/// Enter verified). Otherwise `message` is space-separated key names
/// (`C-c`, `Escape`, `Up Up Enter`) for [`Agents::send_keys`].
pub(crate) fn send(
    agents: &Agents,
    session: Option<&AgentSession>,
    handle: &SessionHandle,
    message: &str,
    enter: bool,
    literal: bool,
) -> Result<()> {
    let session = session.ok_or_else(|| not_found(handle))?;
    if literal {
        return agents.send_message(session, message, enter);
    }
    let mut keys: Vec<&str> = message.split_whitespace().collect();
    if enter {
        keys.push("Enter");
    }
    if keys.is_empty() {
        return Ok(());
    }
    // Allow-listed key names only (`Agents::send_keys`).
    agents.send_keys(session, &keys)
}

/// Stops the session; one that is already gone needs nothing.
pub(crate) fn stop(agents: &Agents, session: Option<&mut AgentSession>) -> Result<()> {
    match session {
        Some(session) => agents.stop_session(session),
        None => Ok(()),
    }
}

fn not_found(handle: &SessionHandle) -> Error {
    Error::SessionNotFound(handle.session_name().to_owned())
}
