//! [`SessionScope`]: stops its session when dropped, on every path
//! (normal return, early `?`, panic).

use std::ops::{Deref, DerefMut};

use super::{AgentSession, Agents};

/// A launched session that is stopped when the scope ends.
#[derive(Debug)]
pub struct SessionScope<'a> {
    agents: &'a Agents,
    session: AgentSession,
}

impl<'a> SessionScope<'a> {
    pub fn new(agents: &'a Agents, session: AgentSession) -> Self {
        SessionScope { agents, session }
    }

    pub fn agents(&self) -> &'a Agents {
        self.agents
    }
}

impl Deref for SessionScope<'_> {
    type Target = AgentSession;

    fn deref(&self) -> &AgentSession {
        &self.session
    }
}

impl DerefMut for SessionScope<'_> {
    fn deref_mut(&mut self) -> &mut AgentSession {
        &mut self.session
    }
}

impl Drop for SessionScope<'_> {
    fn drop(&mut self) {
        // Nothing to report to from a destructor; stopping is idempotent.
        let _ = self.agents.stop_session(&mut self.session);
    }
}
