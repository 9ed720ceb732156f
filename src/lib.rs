//! # doeff-agents
//!
//! Run coding-agent CLIs (Claude Code, Codex, Gemini, or any CLI described
//! by a Lua adapter) inside tmux sessions, watch their screens, tell exactly
//! what state each agent is in, send them input, capture output, stop them.
//!
//! Launch the embedded demo agent, watch it until it waits for input, stop
//! it (this example runs as a test, on a private tmux server):
//!
//! ```rust,standalone_crate
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use doeff_agents::{AdapterRegistry, AgentType, Agents, LaunchConfig, Server, SessionStatus, Tmux};
//!
//! fn main() -> doeff_agents::Result<()> {
//!     // This program runs the demo agent in the pane (else it needs
//!     // doeff-agents on PATH).
//!     doeff_agents::demo::run_demo_agent_if_asked();
//!     let server = Server::named(format!("doeff-doctest-{}", std::process::id()))
//!         .with_config_file("/dev/null");
//!     let agents = Agents::new(Tmux::new(server), Arc::new(AdapterRegistry::builtin()?));
//! #   struct Kill(Tmux);
//! #   impl Drop for Kill {
//! #       fn drop(&mut self) {
//! #           let _ = self.0.kill_server();
//! #           doeff_agents::tmux::remove_lock_file(self.0.server());
//! #       }
//! #   }
//! #   let _kill = Kill(agents.tmux().clone());
//!     let config = LaunchConfig::new(AgentType::Custom("demo".into()), "/").prompt("hello");
//!     let mut session = agents.launch_session("example", &config)?;
//!     let deadline = Instant::now() + Duration::from_secs(60);
//!     loop {
//!         let observation = agents.observe(&mut session)?;
//!         if observation.status == SessionStatus::Blocked || session.is_terminal() {
//!             break; // the demo asks an approval question after its first work phase
//!         }
//!         assert!(Instant::now() < deadline, "still {}", observation.status);
//!         std::thread::sleep(Duration::from_millis(200));
//!     }
//!     agents.stop_session(&mut session)?;
//!     assert_eq!(session.status, SessionStatus::Stopped);
//!     Ok(())
//! }
//! ```
//!
//! [`Agents::session_scope`] does the same with the stop done on drop;
//! `effects` offers the same operations as data ([`Effect`]) with real and
//! mock handlers.
//!
//! Layers, bottom up: [`tmux`] (talks to the server), [`monitor`] (pure
//! classification), `sandbox` (the budgeted Lua VM adapters and scripts
//! run in), [`adapter`] (per-CLI launch and rules, in Lua), [`session`]
//! (launch/send/capture/stop/observe), [`effects`] (effects as data, their
//! handlers, and programs over them), [`lua`] (the `agents` scripting API),
//! `cli` on top.

pub mod adapter;
pub(crate) mod cli;
pub mod demo;
mod demo_bin;
pub mod effects;
pub mod error;
pub mod lua;
pub mod monitor;
pub mod remote;
pub(crate) mod sandbox;
pub mod session;
pub mod tmux;
pub(crate) mod xdg;

pub use adapter::{Adapter, AdapterRegistry, AgentType, Injection, LaunchConfig};
pub use cli::main as cli_main;
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
pub use error::{Error, Result, TmuxErrorKind};
pub use monitor::{Evidence, Observation, Screen, SessionStatus, Verdict};
pub use session::{AgentSession, Agents, Monitor, SessionScope};
pub use tmux::{Server, Tmux, is_inside_tmux, is_tmux_available};
