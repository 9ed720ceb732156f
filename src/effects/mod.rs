//! The effects API: what a program wants done to agent sessions, as data
//! ([`Effect`]), and the handlers that do it ([`AgentHandler`]).
//!
//! This module owns the effect values ([`SessionHandle`], [`Effect`],
//! [`EffectResult`]), the handler trait and [`dispatch_effect`]. The handlers
//! live in [`tmux_handler`] (real sessions, through [`Agents`](crate::Agents))
//! and [`mock`] (scripted, no tmux, no real sleeping); the programs that run
//! unchanged on either are in [`programs`]; the tokio versions (feature
//! `async`) are in `asynchronous`. Observations are the monitor's own
//! [`Observation`].
//!
//! ```
//! use std::time::Duration;
//! use doeff_agents::effects::{
//!     AgentHandler, MockAgentHandler, MockSessionScript, RunOptions, run_agent_to_completion,
//! };
//! use doeff_agents::{AgentType, LaunchConfig, SessionStatus};
//!
//! # fn main() -> doeff_agents::Result<()> {
//! let mut mock = MockAgentHandler::new();
//! mock.configure_session(
//!     "job",
//!     MockSessionScript::new([(SessionStatus::Running, "working"), (SessionStatus::Done, "ok")]),
//!     "",
//! )?;
//! let config = LaunchConfig::new(AgentType::Claude, ".").prompt("fix the bug");
//! let result = run_agent_to_completion(&mut mock, "job", &config, &RunOptions::default(), |_| {})?;
//! assert!(result.succeeded);
//! assert_eq!(mock.total_sleep_time(), Duration::from_secs(1)); // one poll, never slept for real
//! # Ok(()) }
//! ```

#[cfg(feature = "async")]
pub mod asynchronous;
pub mod mock;
pub mod programs;
pub mod tmux_handler;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::adapter::{AgentType, LaunchConfig};
use crate::error::{Error, Result};
use crate::monitor::{Evidence, Observation, SessionStatus};
use crate::session::AgentSession;

#[cfg(feature = "async")]
pub use asynchronous::{
    AsyncMonitorCallbacks, AsyncSessionScope, AsyncTmuxAgentHandler, async_monitor_session,
    async_session_scope,
};
pub use mock::{MockAgentHandler, MockSession, MockSessionScript, SentMessage};
pub use programs::{
    AgentResult, Reply, RunOptions, interactive_session, monitor_until_terminal, quick_agent,
    run_agent_to_completion, with_session,
};
pub use tmux_handler::TmuxAgentHandler;

/// A launched session, as programs see it. Immutable: every field is read
/// through an accessor, and a handle never changes after launch (the
/// session's changing state is what [`Effect::Monitor`] observes).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SessionHandle {
    session_name: String,
    pane_id: String,
    #[serde(serialize_with = "serialize_display")]
    agent_type: AgentType,
    work_dir: PathBuf,
    started_at: SystemTime,
}

fn serialize_display<S: serde::Serializer>(
    value: &impl std::fmt::Display,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl SessionHandle {
    pub fn new(
        session_name: impl Into<String>,
        pane_id: impl Into<String>,
        agent_type: AgentType,
        work_dir: impl Into<PathBuf>,
        started_at: SystemTime,
    ) -> SessionHandle {
        SessionHandle {
            session_name: session_name.into(),
            pane_id: pane_id.into(),
            agent_type,
            work_dir: work_dir.into(),
            started_at,
        }
    }

    /// The full tmux session name (`doeff-...`).
    pub fn session_name(&self) -> &str {
        &self.session_name
    }

    /// The tmux pane id (`%N`) the agent runs in.
    pub fn pane_id(&self) -> &str {
        &self.pane_id
    }

    pub fn agent_type(&self) -> &AgentType {
        &self.agent_type
    }

    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// When the session was created (whole seconds for real sessions: tmux
    /// stores the creation time in seconds).
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }
}

impl From<&AgentSession> for SessionHandle {
    fn from(session: &AgentSession) -> SessionHandle {
        SessionHandle::new(
            session.session_name.clone(),
            session.pane_id.clone(),
            session.agent_type.clone(),
            session.work_dir.clone(),
            UNIX_EPOCH + Duration::from_secs(session.created_at),
        )
    }
}

/// What a program asks a handler to do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// Start an agent in a new session (name gets the `doeff-` prefix).
    /// Result: [`EffectResult::Launched`].
    Launch {
        session_name: String,
        config: LaunchConfig,
        ready_timeout: Duration,
    },
    /// Observe the session once. Result: [`EffectResult::Observed`]; a
    /// session that no longer exists is observed as `exited` (`pane_gone`),
    /// not as an error.
    Monitor(SessionHandle),
    /// The last `lines` lines of the session's output. Result:
    /// [`EffectResult::Captured`]; [`Error::SessionNotFound`] when it is gone.
    Capture { handle: SessionHandle, lines: usize },
    /// Send text (`literal`) or tmux key names (not `literal`, e.g. `C-c`),
    /// then Enter when `enter`. Result: [`EffectResult::Sent`].
    Send {
        handle: SessionHandle,
        message: String,
        enter: bool,
        literal: bool,
    },
    /// Stop the session (idempotent). Result: [`EffectResult::Stopped`].
    Stop(SessionHandle),
    /// Wait. The mock handler only records it. Result: [`EffectResult::Slept`].
    Sleep(Duration),
}

impl Effect {
    /// The effect's name as in the spec: `launch`, `monitor`, `capture`,
    /// `send`, `stop`, `sleep`.
    pub fn name(&self) -> &'static str {
        match self {
            Effect::Launch { .. } => "launch",
            Effect::Monitor(_) => "monitor",
            Effect::Capture { .. } => "capture",
            Effect::Send { .. } => "send",
            Effect::Stop(_) => "stop",
            Effect::Sleep(_) => "sleep",
        }
    }
}

/// What an effect produced; one variant per [`Effect`] variant.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EffectResult {
    Launched(SessionHandle),
    Observed(Observation),
    Captured(String),
    Sent,
    Stopped,
    Slept,
}

impl EffectResult {
    fn mismatch(&self, wanted: &str) -> Error {
        Error::InvalidInput(format!(
            "effect handler answered {self:?} where {wanted} was expected"
        ))
    }

    /// The handle of a `Launched` result.
    pub fn into_handle(self) -> Result<SessionHandle> {
        match self {
            EffectResult::Launched(handle) => Ok(handle),
            other => Err(other.mismatch("a launched session")),
        }
    }

    /// The observation of an `Observed` result.
    pub fn into_observation(self) -> Result<Observation> {
        match self {
            EffectResult::Observed(observation) => Ok(observation),
            other => Err(other.mismatch("an observation")),
        }
    }

    /// The text of a `Captured` result.
    pub fn into_output(self) -> Result<String> {
        match self {
            EffectResult::Captured(text) => Ok(text),
            other => Err(other.mismatch("captured output")),
        }
    }
}

/// Interprets effects. One method per [`Effect`] variant; [`dispatch_effect`]
/// maps an effect value onto them. Implement it to run programs somewhere
/// new (a remote host, a recorder around another handler, ...).
pub trait AgentHandler {
    /// [`Effect::Launch`].
    fn launch(
        &mut self,
        session_name: &str,
        config: &LaunchConfig,
        ready_timeout: Duration,
    ) -> Result<SessionHandle>;
    /// [`Effect::Monitor`]: a gone session is an `exited` observation.
    fn monitor(&mut self, handle: &SessionHandle) -> Result<Observation>;
    /// [`Effect::Capture`].
    fn capture(&mut self, handle: &SessionHandle, lines: usize) -> Result<String>;
    /// [`Effect::Send`].
    fn send(
        &mut self,
        handle: &SessionHandle,
        message: &str,
        enter: bool,
        literal: bool,
    ) -> Result<()>;
    /// [`Effect::Stop`]: idempotent; a gone session is not an error.
    fn stop(&mut self, handle: &SessionHandle) -> Result<()>;
    /// [`Effect::Sleep`].
    fn sleep(&mut self, duration: Duration) -> Result<()>;
}

/// Runs one effect on `handler`.
pub fn dispatch_effect<H: AgentHandler + ?Sized>(
    handler: &mut H,
    effect: Effect,
) -> Result<EffectResult> {
    Ok(match effect {
        Effect::Launch {
            session_name,
            config,
            ready_timeout,
        } => EffectResult::Launched(handler.launch(&session_name, &config, ready_timeout)?),
        Effect::Monitor(handle) => EffectResult::Observed(handler.monitor(&handle)?),
        Effect::Capture { handle, lines } => {
            EffectResult::Captured(handler.capture(&handle, lines)?)
        }
        Effect::Send {
            handle,
            message,
            enter,
            literal,
        } => {
            handler.send(&handle, &message, enter, literal)?;
            EffectResult::Sent
        }
        Effect::Stop(handle) => {
            handler.stop(&handle)?;
            EffectResult::Stopped
        }
        Effect::Sleep(duration) => {
            handler.sleep(duration)?;
            EffectResult::Slept
        }
    })
}

/// The observation of a session that no longer exists: `exited`, reason
/// `pane_gone` (the same verdict the monitor's process layer gives).
pub fn gone_observation(previous: SessionStatus) -> Observation {
    let mut observation = Observation::new(SessionStatus::Exited, previous, "pane_gone", "");
    observation.evidence = Evidence {
        rule: "process".to_owned(),
        region: "process".to_owned(),
        line: "the tmux session or pane no longer exists".to_owned(),
    };
    observation
}
