//! Agent sessions: launching an agent in its own tmux session, sending it
//! messages, capturing its screen, observing its status, stopping it.
//! [`Agents`] is the entry point: one tmux server plus the adapter registry.
//!
//! Session metadata (agent, work dir, creation time, adapter source) is
//! stored on the tmux session as `@doeff-*` user options, so another process
//! (`watch`, `send`, `ps`, a script) knows what each session is.

mod batch;
mod env;
mod keys;
mod launch;
mod name;
mod observe;
mod process;
mod ready;
pub mod reports;
mod scope;
mod send;
mod send_lock;
mod state;
mod stopped;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use batch::{DEAD_STATUS_GRACE, DEFAULT_DEBOUNCE, Monitor, PassStats, SAFETY_RECAPTURE_PASSES};
pub use env::{merge_paths, user_path};
pub use keys::{key_name, key_names};
pub use name::{
    Lookup, MAX_NAME_LEN, PREFIX, is_doeff_session, lookup_candidates, resolve, session_name,
};
pub use observe::{Fetched, OPT_OBSERVED, SECOND_LOOK, fetch_every};
pub use process::process_of;
pub use ready::{READY_SETTLE, Readiness, WaitingForUser, readiness};
pub use scope::SessionScope;
pub use send::undeliverable;
pub use send_lock::{SEND_LOCK_WAIT, SendLock, remove_send_lock, send_lock_dir};
pub use state::{SavedSession, default_state_dir, forget_session, new_uuid};

use crate::adapter::{Adapter, AdapterRegistry, AgentType, LaunchConfig};
use crate::error::{Error, Result};
use crate::monitor::{MonitorState, Screen, SessionStatus};
use crate::tmux::{SessionInfo, Tmux};

pub use crate::adapter::DEFAULT_READY_TIMEOUT;
/// How long a stopped agent gets to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// Size of the pane agents run in.
pub const PANE_WIDTH: u16 = 120;
pub const PANE_HEIGHT: u16 = 40;

/// tmux user options holding session metadata.
pub const OPT_AGENT: &str = "@doeff-agent";
pub const OPT_WORK_DIR: &str = "@doeff-work-dir";
pub const OPT_CREATED: &str = "@doeff-created";
pub const OPT_ADAPTER: &str = "@doeff-adapter";
/// The agent's own conversation id, once known (for resuming it).
pub const OPT_CONVERSATION: &str = "@doeff-conversation";

/// One agent running in one tmux session. Holds its monitor state; the
/// tmux session itself is the source of truth and is looked up by pane id.
#[derive(Clone, Debug)]
pub struct AgentSession {
    pub session_name: String,
    pub pane_id: String,
    pub agent_type: AgentType,
    pub work_dir: PathBuf,
    /// Unix time the session was created.
    pub created_at: u64,
    pub status: SessionStatus,
    /// The agent's own conversation id, once known (`@doeff-conversation`).
    pub conversation_id: Option<String>,
    /// Set by a launch that left the session for the user: a dialog (or
    /// another screen waiting for an answer) stayed up, nothing was typed.
    pub waiting: Option<WaitingForUser>,
    stopped: bool,
    monitor: MonitorState,
    /// The batched path's memory (last screen, activity stamp).
    cache: batch::CaptureCache,
    /// The last one-shot observation kept on the session (`@doeff-observed`).
    kept: Option<observe::Kept>,
    /// Where the agent's session registry is (found once per process).
    registry: reports::RegistryCache,
}

impl AgentSession {
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }

    /// The session just launched, as one JSON object (`run --json`, the
    /// remote protocol's `launch`): where it runs and what it waits for.
    pub fn launch_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.session_name,
            "agent": self.agent_type.to_string(),
            "status": self.status,
            "work_dir": self.work_dir,
            "pane_id": self.pane_id,
            "created": self.created_at,
            "conversation_id": self.conversation_id,
            "waiting": self.waiting.as_ref().map(|w| serde_json::json!({
                "dialog": w.dialog,
                "reason": w.reason,
                "answer": w.answer,
                "prompt_pending": w.prompt_pending,
                "advice": w.advice(&self.session_name),
            })),
        })
    }
}

/// The entry point of the Rust API: a tmux server and the adapters.
#[derive(Clone, Debug)]
pub struct Agents {
    tmux: Tmux,
    adapters: Arc<AdapterRegistry>,
    /// Where [`SavedSession`] files go; none: not saved.
    state_dir: Option<PathBuf>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Agents {
    /// The server from `DOEFF_AGENTS_TMUX_SOCKET` (else the default one) and
    /// the built-in adapters.
    pub fn from_env() -> Result<Self> {
        Ok(
            Self::new(Tmux::from_env(), Arc::new(AdapterRegistry::builtin()?))
                .with_state_dir(default_state_dir()),
        )
    }

    /// An entry point that saves no session state (see [`Agents::with_state_dir`]).
    pub fn new(tmux: Tmux, adapters: Arc<AdapterRegistry>) -> Self {
        Agents {
            tmux,
            adapters,
            state_dir: None,
        }
    }

    /// Saves what relaunching each session needs under `dir`
    /// (`<dir>/sessions/<name>.json`), so `run --resume` works after the
    /// tmux server is gone.
    pub fn with_state_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.state_dir = dir;
        self
    }

    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// The saved state of session `name` (`NAME` or `doeff-NAME`).
    pub fn saved_session(&self, name: &str) -> Result<SavedSession> {
        let dir = self.state_dir.as_deref().ok_or_else(|| {
            Error::InvalidInput("no state dir (set XDG_STATE_HOME or HOME)".into())
        })?;
        let full = session_name(name.strip_prefix(PREFIX).unwrap_or(name))?;
        SavedSession::load(dir, &full)
    }

    /// Records a conversation id seen on the agent's screen: on the tmux
    /// session (`@doeff-conversation`) and in the state file.
    fn record_conversation(&self, session: &mut AgentSession, id: String) {
        if session.conversation_id.as_deref() == Some(id.as_str()) {
            return;
        }
        let _ = self
            .tmux
            .set_session_option(&session.session_name, OPT_CONVERSATION, &id);
        session.conversation_id = Some(id.clone());
        if let Some(dir) = &self.state_dir {
            let full = &session.session_name;
            let mut saved = SavedSession::load(dir, full).unwrap_or_else(|_| SavedSession {
                session_name: full.clone(),
                agent: session.agent_type.adapter_name().to_owned(),
                work_dir: session.work_dir.clone(),
                model: None,
                profile: None,
                conversation_id: None,
                created_at: session.created_at,
            });
            saved.conversation_id = Some(id);
            let _ = saved.save(dir);
        }
    }

    pub fn tmux(&self) -> &Tmux {
        &self.tmux
    }

    pub fn adapters(&self) -> &Arc<AdapterRegistry> {
        &self.adapters
    }

    /// A handle on an existing session made by doeff-agents (`NAME` or
    /// `doeff-NAME`, exact): never a session it did not create (see [`resolve`]).
    pub fn session(&self, name: &str) -> Result<AgentSession> {
        self.find_session(name, Lookup::Doeff)
    }

    /// A handle on the session `name` as [`resolve`] reads it with `lookup`
    /// ([`Lookup::Raw`]: any tmux session of exactly that name).
    pub fn find_session(&self, name: &str, lookup: Lookup) -> Result<AgentSession> {
        let sessions = self.tmux.list_sessions()?;
        resolve(&sessions, name, lookup).map(session_from_info)
    }

    /// Every session on the server; with `all`, also those not made by doeff-agents.
    pub fn list(&self, all: bool) -> Result<Vec<AgentSession>> {
        list_sessions(&self.tmux, all)
    }

    /// The adapter for a session (a rules-only fallback for foreign
    /// sessions), after reloading adapter files that changed.
    pub fn adapter_for(&self, session: &AgentSession) -> Arc<Adapter> {
        self.adapters.refresh();
        self.adapter_of(session)
    }

    /// [`Agents::adapter_for`] without the reload (a pass reloads once).
    fn adapter_of(&self, session: &AgentSession) -> Arc<Adapter> {
        self.adapters
            .get(session.agent_type.adapter_name())
            .unwrap_or_else(|_| {
                Arc::new(Adapter::native("generic", |_| Err("not launchable".into())))
            })
    }

    /// The last `lines` lines of the session's screen and scrollback.
    pub fn capture_output(&self, session: &AgentSession, lines: usize) -> Result<String> {
        let text = self
            .tmux
            .capture_pane(&session.pane_id, lines)
            .map_err(|e| self.gone_or(e, session))?;
        let mut screen = Screen::from_text(&text);
        // tmux's own "Pane is dead (...)" trailer is not the agent's output.
        if screen
            .lines
            .last()
            .is_some_and(|l| l.starts_with("Pane is dead ("))
        {
            screen.lines.pop();
            while screen.lines.last().is_some_and(|l| l.is_empty()) {
                screen.lines.pop();
            }
        }
        let skip = screen.lines.len().saturating_sub(lines);
        Ok(screen.lines[skip..].join("\n"))
    }

    fn gone_or(&self, err: Error, session: &AgentSession) -> Error {
        if crate::tmux::is_not_found(&err) {
            Error::SessionNotFound(session.session_name.clone())
        } else {
            err
        }
    }

    /// Stops the session (kills its tmux session). Idempotent.
    ///
    /// Agent CLIs (Claude Code, Gemini) survive a bare `kill-session`, so the
    /// pane's process group gets SIGTERM first, then SIGKILL if it has not
    /// ended within [`STOP_GRACE`]; then the tmux session is removed.
    pub fn stop_session(&self, session: &mut AgentSession) -> Result<()> {
        if self.tmux.has_session(&session.session_name)? {
            // Before any signal: a watcher elsewhere then sees `stopped`.
            self.mark_stopped(session);
            if let Some(state) = self.tmux.pane_state(&session.pane_id)?
                && !state.dead
            {
                self.end_process_group(&session.pane_id, state.pid);
            }
            // A window linked for output events must not outlive the session.
            self.tmux.unwatch_pane(&session.pane_id);
            match self.tmux.kill_session(&session.session_name) {
                Ok(()) => {}
                // Gone in between (the server exits with its last session).
                Err(err) if crate::tmux::is_not_found(&err) => {}
                Err(err) => return Err(err),
            }
        }
        self.remove_run_dir(&session.session_name);
        session.stopped = true;
        session.status = SessionStatus::Stopped;
        session.monitor.status = SessionStatus::Stopped;
        Ok(())
    }

    /// SIGTERM to the pane's process group, SIGKILL after the grace time.
    fn end_process_group(&self, pane_id: &str, pid: u32) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let Ok(raw) = i32::try_from(pid) else { return };
        if raw <= 1 || raw == std::process::id() as i32 {
            return;
        }
        let group = Pid::from_raw(raw);
        if killpg(group, Signal::SIGTERM).is_err() {
            return;
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            match self.tmux.pane_state(pane_id) {
                Ok(Some(state)) if !state.dead => std::thread::sleep(Duration::from_millis(25)),
                _ => return,
            }
        }
        let _ = killpg(group, Signal::SIGKILL);
    }

    /// Attaches the terminal (or switches the tmux client) to the session.
    pub fn attach_session(&self, session: &AgentSession) -> Result<()> {
        self.tmux.attach_session(&session.session_name)
    }

    /// One observation; calls `on_status_change(old, new, output)` on a real
    /// change and `on_pr_detected(url)` once per new PR URL. Returns the new
    /// status when it changed.
    pub fn monitor_session(
        &self,
        session: &mut AgentSession,
        mut on_status_change: impl FnMut(SessionStatus, SessionStatus, &str),
        mut on_pr_detected: impl FnMut(&str),
    ) -> Result<Option<SessionStatus>> {
        let observation = self.observe(session)?;
        for url in &observation.new_pr_urls {
            on_pr_detected(url);
        }
        if observation.status_changed() {
            on_status_change(
                observation.previous,
                observation.status,
                &observation.output_snippet,
            );
            Ok(Some(observation.status))
        } else {
            Ok(None)
        }
    }

    /// Launches a session (see [`Agents::launch_session`]) behind a guard
    /// that stops it when dropped.
    pub fn session_scope(&self, name: &str, config: &LaunchConfig) -> Result<SessionScope<'_>> {
        let session = self.launch_session(name, config)?;
        Ok(SessionScope::new(self, session))
    }
}

pub(crate) fn last_lines(screen: &Screen, n: usize) -> String {
    screen.last_non_blank(n).collect::<Vec<_>>().join("\n")
}

/// Every session on `tmux`'s server (with `all`, also those not made by
/// doeff-agents); what [`Agents::list`] gives, without needing the adapters.
pub fn list_sessions(tmux: &Tmux, all: bool) -> Result<Vec<AgentSession>> {
    Ok(tmux
        .list_sessions()?
        .iter()
        .filter(|s| all || is_doeff_session(s))
        .map(session_from_info)
        .collect())
}

fn session_from_info(info: &SessionInfo) -> AgentSession {
    let agent_type = info
        .agent
        .as_deref()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| AgentType::Custom("generic".into()));
    AgentSession {
        session_name: info.name.clone(),
        pane_id: info.pane_id.clone(),
        agent_type,
        work_dir: info.work_dir.clone().map(PathBuf::from).unwrap_or_default(),
        created_at: info.created,
        status: SessionStatus::Running,
        conversation_id: info.conversation.clone(),
        waiting: None,
        stopped: false,
        monitor: MonitorState::new(SessionStatus::Running),
        cache: Default::default(),
        kept: info.observed.as_deref().and_then(observe::Kept::parse),
        registry: Default::default(),
    }
}
