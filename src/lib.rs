//! # doeff-agents
//!
//! Run coding-agent CLIs (Claude Code, Codex, Gemini, or any CLI described
//! by a Lua adapter) inside tmux sessions, watch their screens, tell exactly
//! what state each agent is in, send them input, capture output, stop them.
//!
//! ```no_run
//! use std::time::Duration;
//! use doeff_agents::{Agents, AgentType, LaunchConfig, SessionStatus};
//!
//! # fn main() -> doeff_agents::Result<()> {
//! let agents = Agents::from_env()?;
//! let config = LaunchConfig::new(AgentType::Custom("demo".into()), ".").prompt("hello");
//! let mut session = agents.session_scope("example", &config, Duration::from_secs(30))?;
//! while !session.is_terminal() {
//!     let observation = agents.observe(&mut session)?;
//!     if observation.status == SessionStatus::Blocked {
//!         agents.send_keys(&session, &["1"])?; // answer the approval question
//!     }
//!     std::thread::sleep(Duration::from_millis(500));
//! }
//! # Ok(()) }
//! ```
//!
//! Layers, bottom up: [`tmux`] (talks to the server), [`monitor`] (pure
//! classification), [`adapter`] (per-CLI launch and rules, in Lua),
//! [`session`] (launch/send/capture/stop/observe), [`effects`] (effects as
//! data, their handlers, and programs over them), [`cli`] on top.

pub mod adapter;
pub mod cli;
pub mod demo;
mod demo_bin;
pub mod effects;
pub mod error;
pub mod lua;
pub mod monitor;
pub mod remote;
pub mod session;
pub mod tmux;
pub mod xdg;

pub use adapter::{Adapter, AdapterRegistry, Injection};
pub use effects::{
    AgentHandler, AgentResult, Effect, EffectResult, MockAgentHandler, MockSessionScript,
    RunOptions, SessionHandle, TmuxAgentHandler, dispatch_effect, interactive_session,
    monitor_until_terminal, quick_agent, run_agent_to_completion, with_session,
};
#[cfg(feature = "async")]
pub use effects::{
    AsyncMonitorCallbacks, AsyncSessionScope, AsyncTmuxAgentHandler, async_monitor_session,
    async_session_scope,
};
pub use error::{Error, Result};
pub use monitor::{Evidence, Observation, Screen, SessionStatus, Verdict};
pub use session::{AgentSession, AgentType, Agents, LaunchConfig, Monitor, SessionScope};
pub use tmux::{Server, Tmux, is_inside_tmux, is_tmux_available};
