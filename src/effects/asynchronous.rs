//! The tokio side of the API (cargo feature `async`): [`async_session_scope`],
//! [`async_monitor_session`] and [`AsyncTmuxAgentHandler`].
//!
//! Nothing here blocks the runtime: every tmux call runs on tokio's blocking
//! pool (`spawn_blocking`) and waiting is `tokio::time::sleep`, so one
//! current-thread runtime can watch many sessions at once. A panic inside a
//! blocking call is re-raised in the awaiting task.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::programs::Reply;
use super::tmux_handler::{adopt, capture, observe, send, stop};
use super::{Effect, EffectResult, SessionHandle};
use crate::adapter::LaunchConfig;
use crate::error::{Error, Result};
use crate::monitor::{Observation, SessionStatus};
use crate::session::{AgentSession, Agents, Monitor, lookup_candidates};

/// Runs a blocking closure on tokio's blocking pool.
async fn blocking<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(err) => Err(Error::Task(err.to_string())),
    }
}

/// A launched session that is stopped when the scope ends. Prefer
/// [`stop`](Self::stop)`.await`, which reports errors; dropping the scope
/// instead queues the stop on the blocking pool (or stops at once when no
/// runtime is running), errors ignored.
#[derive(Debug)]
pub struct AsyncSessionScope {
    agents: Agents,
    session: AgentSession,
    armed: bool,
}

/// Launches a session (off the runtime; waiting at most the config's
/// `ready_timeout`) and returns a scope guard for it.
pub async fn async_session_scope(
    agents: &Agents,
    name: &str,
    config: &LaunchConfig,
) -> Result<AsyncSessionScope> {
    let (worker, name, config) = (agents.clone(), name.to_owned(), config.clone());
    let session = blocking(move || worker.launch_session(&name, &config)).await?;
    Ok(AsyncSessionScope {
        agents: agents.clone(),
        session,
        armed: true,
    })
}

impl AsyncSessionScope {
    pub fn session(&self) -> &AgentSession {
        &self.session
    }

    /// The session, for [`async_monitor_session`].
    pub fn session_mut(&mut self) -> &mut AgentSession {
        &mut self.session
    }

    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    /// The session's effect handle.
    pub fn handle(&self) -> SessionHandle {
        SessionHandle::from(&self.session)
    }

    /// Sends text (Enter after it when `enter`), off the runtime.
    pub async fn send(&self, text: &str, enter: bool) -> Result<()> {
        let (agents, session, text) = (self.agents.clone(), self.session.clone(), text.to_owned());
        blocking(move || agents.send_message(&session, &text, enter)).await
    }

    /// The last `lines` lines of output, off the runtime.
    pub async fn capture(&self, lines: usize) -> Result<String> {
        let (agents, session) = (self.agents.clone(), self.session.clone());
        blocking(move || agents.capture_output(&session, lines)).await
    }

    /// Stops the session now and reports how that went.
    pub async fn stop(mut self) -> Result<()> {
        self.armed = false;
        let (agents, mut session) = (self.agents.clone(), self.session.clone());
        blocking(move || agents.stop_session(&mut session)).await
    }
}

impl Drop for AsyncSessionScope {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (agents, mut session) = (self.agents.clone(), self.session.clone());
        let mut work = move || {
            // Nothing to report to from a destructor; stopping is idempotent.
            let _ = agents.stop_session(&mut session);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(work)),
            Err(_) => work(),
        }
    }
}

type StatusChange<'a> = Box<dyn FnMut(SessionStatus, SessionStatus, &str) + Send + 'a>;
type PrDetected<'a> = Box<dyn FnMut(&str) + Send + 'a>;
type OnObservation<'a> = Box<dyn FnMut(&Observation) + Send + 'a>;
type OnBlocked<'a> = Box<dyn FnMut(&Observation) -> Option<Reply> + Send + 'a>;

/// What [`async_monitor_session`] calls. All optional; build with the methods.
#[derive(Default)]
pub struct AsyncMonitorCallbacks<'a> {
    /// `(old, new, output)` on a real status change.
    pub on_status_change: Option<StatusChange<'a>>,
    /// Each PR URL once, when first seen.
    pub on_pr_detected: Option<PrDetected<'a>>,
    /// Every observation.
    pub on_observation: Option<OnObservation<'a>>,
    /// When the agent is blocked: the reply to send, if any. Asked once per
    /// blocked spell (again only after the agent left `blocked`).
    pub on_blocked: Option<OnBlocked<'a>>,
}

impl std::fmt::Debug for AsyncMonitorCallbacks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncMonitorCallbacks")
            .field("on_status_change", &self.on_status_change.is_some())
            .field("on_pr_detected", &self.on_pr_detected.is_some())
            .field("on_observation", &self.on_observation.is_some())
            .field("on_blocked", &self.on_blocked.is_some())
            .finish()
    }
}

impl<'a> AsyncMonitorCallbacks<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on_status_change(
        mut self,
        f: impl FnMut(SessionStatus, SessionStatus, &str) + Send + 'a,
    ) -> Self {
        self.on_status_change = Some(Box::new(f));
        self
    }

    pub fn on_pr_detected(mut self, f: impl FnMut(&str) + Send + 'a) -> Self {
        self.on_pr_detected = Some(Box::new(f));
        self
    }

    pub fn on_observation(mut self, f: impl FnMut(&Observation) + Send + 'a) -> Self {
        self.on_observation = Some(Box::new(f));
        self
    }

    pub fn on_blocked(mut self, f: impl FnMut(&Observation) -> Option<Reply> + Send + 'a) -> Self {
        self.on_blocked = Some(Box::new(f));
        self
    }
}

/// Observes `session` every `poll_interval` until its status is terminal and
/// returns that status, calling `callbacks` on the way. Each observation and
/// each reply runs on the blocking pool; the wait is `tokio::time::sleep`.
///
/// No built-in timeout: wrap the call in `tokio::time::timeout`. Dropping
/// the future between polls is safe; `session` keeps the state of the last
/// completed observation.
pub async fn async_monitor_session(
    agents: &Agents,
    session: &mut AgentSession,
    poll_interval: Duration,
    mut callbacks: AsyncMonitorCallbacks<'_>,
) -> Result<SessionStatus> {
    let mut answered = false;
    // The watch core every loop shares (the batched pass); the wait between
    // passes is tokio's, so no blocking thread is held while waiting.
    let mut monitor = Monitor::new(agents, vec![session.clone()]);
    loop {
        let observation;
        (monitor, observation) = blocking(move || {
            let observation = monitor
                .pass()
                .pop()
                .unwrap_or_else(|| Err(Error::Task("the monitor lost its session".into())))?;
            Ok((monitor, observation))
        })
        .await?;
        if let Some(snapshot) = monitor.sessions.first() {
            *session = snapshot.clone();
        }
        if let Some(on_pr) = callbacks.on_pr_detected.as_mut() {
            for url in &observation.new_pr_urls {
                on_pr(url);
            }
        }
        if observation.status_changed()
            && let Some(on_change) = callbacks.on_status_change.as_mut()
        {
            on_change(
                observation.previous,
                observation.status,
                &observation.output_snippet,
            );
        }
        if let Some(on_observation) = callbacks.on_observation.as_mut() {
            on_observation(&observation);
        }
        if observation.is_terminal {
            return Ok(observation.status);
        }
        if observation.status != SessionStatus::Blocked {
            answered = false;
        } else if !answered && let Some(on_blocked) = callbacks.on_blocked.as_mut() {
            answered = true;
            if let Some(reply) = on_blocked(&observation) {
                let (worker, target) = (agents.clone(), session.clone());
                match blocking(move || worker.send_message(&target, &reply.text, reply.enter)).await
                {
                    // Gone: the next observation says so.
                    Ok(()) | Err(Error::SessionNotFound(_)) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        tokio::time::sleep(poll_interval).await;
    }
}

/// One session the async handler knows: its pane and its state, locked
/// per session so different sessions are worked on concurrently.
#[derive(Clone, Debug)]
struct Entry {
    pane_id: String,
    session: Arc<tokio::sync::Mutex<AgentSession>>,
}

/// The real effect handler for async code: the same effects and state as
/// [`TmuxAgentHandler`](super::TmuxAgentHandler), with `&self` async
/// methods so one handler serves many concurrent tasks. Cloning it shares
/// the state.
#[derive(Clone, Debug)]
pub struct AsyncTmuxAgentHandler {
    agents: Agents,
    sessions: Arc<Mutex<BTreeMap<String, Entry>>>,
}

impl AsyncTmuxAgentHandler {
    pub fn new(agents: Agents) -> AsyncTmuxAgentHandler {
        AsyncTmuxAgentHandler {
            agents,
            sessions: Arc::default(),
        }
    }

    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        // The lock only guards map edits, which cannot leave it half-done.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Full names of the sessions this handler knows.
    pub fn session_names(&self) -> Vec<String> {
        self.table().keys().cloned().collect()
    }

    /// A snapshot of a known session's state (by `NAME` or `doeff-NAME`).
    pub async fn session(&self, name: &str) -> Option<AgentSession> {
        let entry = {
            let table = self.table();
            lookup_candidates(name)
                .iter()
                .find_map(|candidate| table.get(candidate).cloned())
        }?;
        Some(entry.session.lock().await.clone())
    }

    /// The state for `handle`, adopting a live session it does not know yet.
    async fn resolve(&self, handle: &SessionHandle) -> Result<Option<Entry>> {
        let name = handle.session_name();
        let known = self.table().get(name).cloned();
        if let Some(entry) = known.filter(|e| e.pane_id == handle.pane_id()) {
            return Ok(Some(entry));
        }
        let (agents, target) = (self.agents.clone(), handle.clone());
        let Some(session) = blocking(move || adopt(&agents, &target)).await? else {
            return Ok(None);
        };
        let mut table = self.table();
        let entry = table
            .entry(name.to_owned())
            .and_modify(|e| {
                if e.pane_id != session.pane_id {
                    *e = Entry::new(session.clone());
                }
            })
            .or_insert_with(|| Entry::new(session.clone()));
        Ok(Some(entry.clone()))
    }

    /// [`Effect::Launch`].
    pub async fn launch(
        &self,
        session_name: &str,
        config: &LaunchConfig,
        ready_timeout: Duration,
    ) -> Result<SessionHandle> {
        let (agents, name) = (self.agents.clone(), session_name.to_owned());
        let config = config.clone().ready_timeout(ready_timeout);
        let session = blocking(move || agents.launch_session(&name, &config)).await?;
        let handle = SessionHandle::from(&session);
        self.table()
            .insert(session.session_name.clone(), Entry::new(session));
        Ok(handle)
    }

    /// [`Effect::Monitor`]: a gone session is an `exited` observation.
    pub async fn monitor(&self, handle: &SessionHandle) -> Result<Observation> {
        let agents = self.agents.clone();
        match self.resolve(handle).await? {
            None => blocking(move || observe(&agents, None)).await,
            Some(entry) => {
                let mut guard = entry.session.lock_owned().await;
                blocking(move || observe(&agents, Some(&mut *guard))).await
            }
        }
    }

    /// [`Effect::Capture`].
    pub async fn capture(&self, handle: &SessionHandle, lines: usize) -> Result<String> {
        let (agents, target) = (self.agents.clone(), handle.clone());
        let session = self.snapshot(handle).await?;
        blocking(move || capture(&agents, session.as_ref(), &target, lines)).await
    }

    /// [`Effect::Send`].
    pub async fn send(
        &self,
        handle: &SessionHandle,
        message: &str,
        enter: bool,
        literal: bool,
    ) -> Result<()> {
        let (agents, target, message) = (self.agents.clone(), handle.clone(), message.to_owned());
        let session = self.snapshot(handle).await?;
        blocking(move || send(&agents, session.as_ref(), &target, &message, enter, literal)).await
    }

    /// [`Effect::Stop`]: idempotent.
    pub async fn stop(&self, handle: &SessionHandle) -> Result<()> {
        let agents = self.agents.clone();
        match self.resolve(handle).await? {
            None => Ok(()),
            Some(entry) => {
                let mut guard = entry.session.lock_owned().await;
                blocking(move || stop(&agents, Some(&mut *guard))).await
            }
        }
    }

    /// [`Effect::Sleep`], with `tokio::time::sleep`.
    pub async fn sleep(&self, duration: Duration) -> Result<()> {
        tokio::time::sleep(duration).await;
        Ok(())
    }

    /// Runs one effect (the async [`dispatch_effect`](super::dispatch_effect)).
    pub async fn dispatch(&self, effect: Effect) -> Result<EffectResult> {
        Ok(match effect {
            Effect::Launch {
                session_name,
                config,
                ready_timeout,
            } => EffectResult::Launched(self.launch(&session_name, &config, ready_timeout).await?),
            Effect::Monitor(handle) => EffectResult::Observed(self.monitor(&handle).await?),
            Effect::Capture { handle, lines } => {
                EffectResult::Captured(self.capture(&handle, lines).await?)
            }
            Effect::Send {
                handle,
                message,
                enter,
                literal,
            } => {
                self.send(&handle, &message, enter, literal).await?;
                EffectResult::Sent
            }
            Effect::Stop(handle) => {
                self.stop(&handle).await?;
                EffectResult::Stopped
            }
            Effect::Sleep(duration) => {
                self.sleep(duration).await?;
                EffectResult::Slept
            }
        })
    }

    /// A copy of the session's state (capture and send only read it).
    async fn snapshot(&self, handle: &SessionHandle) -> Result<Option<AgentSession>> {
        Ok(match self.resolve(handle).await? {
            Some(entry) => Some(entry.session.lock().await.clone()),
            None => None,
        })
    }
}

impl Entry {
    fn new(session: AgentSession) -> Entry {
        Entry {
            pane_id: session.pane_id.clone(),
            session: Arc::new(tokio::sync::Mutex::new(session)),
        }
    }
}
