//! The supervisor: hot-loaded monitoring scripts over one monitoring loop.
//! Every doeff session on the server (also those launched later, found
//! within [`LIST_EVERY`]) is watched by one [`Monitor`] — batched passes
//! over one control-mode client, woken by output events — and each status
//! change or new PR URL is handed to the handlers the scripts registered
//! (`agents.on`); `agents.every` timers and `agents.spawn` tasks run on the
//! same loop. Handlers and timers run as tasks too, so `agents.sleep` and
//! `agents.watch` inside one yield to the loop instead of stopping it.
//!
//! Script files are polled every [`FILE_POLL`] (`scripts.rs`): an edited,
//! added or removed file is (re)loaded into a fresh environment, the old
//! version's handlers, timers and tasks are dropped with its registry, and
//! `agents.state` stays the file's. A broken edit is reported once and the
//! last good version keeps running; an error inside a handler is reported as
//! `file:line: message` and the loop goes on.

pub mod in_repl;
pub mod instance;
mod registry;
mod scripts;

pub use registry::Event;
pub use scripts::{Change, LOAD_BUDGET, Script, Scripts, Source};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::{AnyUserData, Function, IntoLuaMulti, MultiValue, Table, Thread, ThreadStatus, Value};

use registry::{Shared, Task, task_thread};

use super::api::host::{HostChange, HostWatch};
use super::convert::observation_table;
use super::handle::handle;
use crate::sandbox::LuaHost;
use crate::session::{AgentSession, Agents, Monitor};

/// How often script files are looked at.
pub const FILE_POLL: Duration = Duration::from_millis(250);
/// How often the session list is read again (new sessions join the watch).
pub const LIST_EVERY: Duration = Duration::from_millis(500);
/// How long one resumption of a handler, timer or task may run.
pub const CALL_BUDGET: Duration = Duration::from_secs(30);
/// How often the followed hosts' events are looked at.
const HOST_POLL: Duration = Duration::from_millis(50);
/// The same error from the same file is printed at most this often.
const REPEAT_AFTER: Duration = Duration::from_secs(30);

/// Where the supervisor's own lines go (loads, errors).
pub type Report = Arc<dyn Fn(String) + Send + Sync>;

/// What is told each script's status whenever one changed.
pub type OnStatus = Box<dyn FnMut(&[ScriptStatus]) + Send>;

/// One script as `supervise --status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScriptStatus {
    pub path: PathBuf,
    pub loaded: bool,
    pub loads: u32,
    pub last_error: Option<String>,
}

/// The supervisor loop over one Lua VM with `agents` installed.
pub struct Supervisor {
    host: Arc<LuaHost>,
    agents: Agents,
    module: Table,
    pub scripts: Scripts,
    monitor: Monitor,
    /// Lua handles of the watched sessions, by pane id.
    handles: HashMap<String, AnyUserData>,
    /// Longest time between two passes.
    pub interval: Duration,
    report: Report,
    /// When each (file, error) was last printed.
    printed: HashMap<String, Instant>,
    /// Called with every script's status whenever one changed.
    pub on_status: Option<OnStatus>,
    /// Other hosts followed beside this server (`supervise --host`).
    hosts: Option<HostWatch>,
}

impl Supervisor {
    /// A supervisor over `sources`, on `host` (whose `agents` module talks
    /// to `agents`); nothing is loaded until [`Supervisor::poll_scripts`].
    pub fn new(
        host: Arc<LuaHost>,
        agents: Agents,
        sources: Vec<Source>,
        report: Report,
    ) -> mlua::Result<Supervisor> {
        let module: Table = host.lua().globals().get("agents")?;
        let scripts = Scripts::new(host.clone(), module.clone(), sources);
        let monitor = Monitor::new(&agents, Vec::new());
        Ok(Supervisor {
            host,
            agents,
            module,
            scripts,
            monitor,
            handles: HashMap::new(),
            interval: Duration::from_secs(1),
            report,
            printed: HashMap::new(),
            on_status: None,
            hosts: None,
        })
    }

    /// Every script's state.
    pub fn status(&self) -> Vec<ScriptStatus> {
        self.scripts
            .scripts
            .values()
            .map(|s| ScriptStatus {
                path: s.path.clone(),
                loaded: s.live.is_some(),
                loads: s.loads,
                last_error: s.last_error.clone(),
            })
            .collect()
    }

    fn status_changed(&mut self) {
        let status = self.status();
        if let Some(on_status) = self.on_status.as_mut() {
            on_status(&status);
        }
    }

    /// Loads new, edited and removed script files (see [`Scripts::poll`])
    /// and reports what happened; returns the changes.
    pub fn poll_scripts(&mut self, settle: bool) -> Vec<Change> {
        let changes = self.scripts.poll(settle);
        self.report_changes(&changes);
        changes
    }

    /// Reports what a load did (and tells `on_status`).
    pub fn report_changes(&mut self, changes: &[Change]) {
        for change in changes {
            let line = match change {
                Change::Loaded(path) => format!("loaded {}", path.display()),
                Change::Reloaded(path) => format!("reloaded {}", path.display()),
                Change::Removed(path) => format!("removed {}", path.display()),
                Change::Failed(message) => {
                    format!("{message} (the last good version keeps running)")
                }
            };
            (self.report)(line);
        }
        if !changes.is_empty() {
            self.status_changed();
        }
    }

    /// Also follows `hosts` (over ssh): their sessions' changes go to the
    /// same handlers, with handles like `agents.host(h):session(name)`.
    pub fn follow_hosts(&mut self, hosts: Vec<crate::remote::hosts::Host>) {
        if !hosts.is_empty() {
            self.hosts = Some(HostWatch::start(hosts));
        }
    }

    /// Hands what the followed hosts said to the handlers.
    fn host_changes(&mut self) {
        let Some(hosts) = self.hosts.as_mut() else {
            return;
        };
        let lua = self.host.lua().clone();
        let changes = match hosts.take(&lua) {
            Ok(changes) => changes,
            Err(err) => {
                (self.report)(format!(
                    "supervise: {}",
                    crate::sandbox::error_message(&err)
                ));
                return;
            }
        };
        for change in changes {
            let args = match change {
                HostChange::Note(line) => {
                    (self.report)(line);
                    continue;
                }
                HostChange::Status {
                    session,
                    old,
                    new,
                    observation,
                } => (
                    Event::StatusChanged,
                    (session, old, new, observation).into_lua_multi(&lua),
                ),
                HostChange::Pr { session, url } => (Event::Pr, (session, url).into_lua_multi(&lua)),
            };
            match args {
                (event, Ok(args)) => self.emit(event, &args),
                (_, Err(err)) => {
                    (self.report)(format!(
                        "supervise: {}",
                        crate::sandbox::error_message(&err)
                    ));
                }
            }
        }
    }

    /// Runs until `stop()` says so (checked at least every [`FILE_POLL`]).
    pub fn run(&mut self, stop: &dyn Fn() -> bool) {
        let mut next_files = Instant::now() + FILE_POLL;
        let mut next_list = Instant::now();
        let mut next_pass = Instant::now();
        let mut woken = false;
        while !stop() {
            let now = Instant::now();
            if now >= next_files {
                self.poll_scripts(true);
                next_files = Instant::now() + FILE_POLL;
            }
            if now >= next_list {
                self.sync_sessions();
                next_list = Instant::now() + LIST_EVERY;
            }
            if woken || now >= next_pass {
                self.pass();
                next_pass = Instant::now() + self.interval;
            }
            self.host_changes();
            self.run_timers_and_tasks();
            let mut deadline = next_files.min(next_list).min(next_pass);
            if self.hosts.is_some() {
                // Their events come on a channel of their own: looked at often.
                deadline = deadline.min(Instant::now() + HOST_POLL);
            }
            if let Some(due) = self.next_due() {
                deadline = deadline.min(due.max(Instant::now() + Duration::from_millis(10)));
            }
            woken = self.monitor.wait_until(deadline);
        }
    }

    /// Watches every doeff session now listed; stops watching those gone
    /// and already seen ended.
    fn sync_sessions(&mut self) {
        let Ok(listed) = self.agents.list(false) else {
            return;
        };
        let known: HashSet<String> = self
            .monitor
            .sessions
            .iter()
            .map(|s| s.pane_id.clone())
            .collect();
        let panes: HashSet<String> = listed.iter().map(|s| s.pane_id.clone()).collect();
        for session in listed {
            if !known.contains(&session.pane_id) {
                self.monitor.add(session);
            }
        }
        self.monitor
            .retain(|s| panes.contains(&s.pane_id) || !s.is_terminal());
        let watched: HashSet<&str> = self
            .monitor
            .sessions
            .iter()
            .map(|s| s.pane_id.as_str())
            .collect();
        self.handles
            .retain(|pane, _| watched.contains(pane.as_str()));
    }

    /// The Lua handle of a watched session (one per pane).
    fn handle_of(&mut self, session: &AgentSession) -> mlua::Result<AnyUserData> {
        if let Some(handle) = self.handles.get(&session.pane_id) {
            return Ok(handle.clone());
        }
        let made = handle(self.host.lua(), &self.agents, session.clone())?;
        self.handles.insert(session.pane_id.clone(), made.clone());
        Ok(made)
    }

    /// One batched pass; each change goes to the handlers.
    fn pass(&mut self) {
        let results = self.monitor.pass();
        let mut events = Vec::new();
        for (session, result) in self.monitor.sessions.iter().zip(results) {
            if let Ok(o) = result
                && (o.status_changed() || !o.new_pr_urls.is_empty())
            {
                events.push((session.clone(), o));
            }
        }
        for (session, o) in events {
            if let Err(err) = self.dispatch(&session, &o) {
                (self.report)(format!(
                    "supervise: {}",
                    crate::sandbox::error_message(&err)
                ));
            }
        }
    }

    fn dispatch(
        &mut self,
        session: &AgentSession,
        o: &crate::monitor::Observation,
    ) -> mlua::Result<()> {
        let lua = self.host.lua().clone();
        let handle = self.handle_of(session)?;
        if o.status_changed() {
            let table = observation_table(&lua, o)?;
            table.set("name", session.session_name.as_str())?;
            let args = (
                handle.clone(),
                o.previous.as_str(),
                o.status.as_str(),
                table,
            )
                .into_lua_multi(&lua)?;
            self.emit(Event::StatusChanged, &args);
        }
        for url in &o.new_pr_urls {
            let args = (handle.clone(), url.as_str()).into_lua_multi(&lua)?;
            self.emit(Event::Pr, &args);
        }
        Ok(())
    }

    fn live(&self) -> Vec<(PathBuf, Shared)> {
        self.scripts
            .live()
            .into_iter()
            .map(|(path, live)| (path.to_path_buf(), live))
            .collect()
    }

    /// Calls every script's handlers for `event` (each as a task).
    fn emit(&mut self, event: Event, args: &MultiValue) {
        for (path, live) in self.live() {
            for func in live.handlers(event) {
                self.start(&path, &live, func, args.clone());
            }
        }
    }

    /// Runs `func(args)` as a task of the script at `path`.
    fn start(&mut self, path: &Path, live: &Shared, func: Function, args: MultiValue) {
        let where_defined = defined_at(path, &func);
        match task_thread(self.host.lua(), &self.module, func) {
            Ok(thread) => self.resume(path, live, thread, args, &where_defined),
            Err(err) => self.handler_error(path, &where_defined, &err),
        }
    }

    /// Resumes a task; one still running is kept with its wake time.
    fn resume(
        &mut self,
        path: &Path,
        live: &Shared,
        thread: Thread,
        args: MultiValue,
        where_defined: &str,
    ) {
        let result = self
            .host
            .with_budget(CALL_BUDGET, || thread.resume::<MultiValue>(args));
        match result {
            Ok(values) if thread.status() == ThreadStatus::Resumable => {
                let secs = match values.front() {
                    Some(Value::Integer(n)) => *n as f64,
                    Some(Value::Number(n)) => *n,
                    _ => 0.0,
                };
                let wait = Duration::try_from_secs_f64(secs)
                    .unwrap_or_default()
                    .min(Duration::from_secs(86_400));
                live.lock().tasks.push(Task {
                    thread,
                    wake: Instant::now() + wait,
                });
            }
            Ok(_) => {}
            Err(err) => self.handler_error(path, where_defined, &err),
        }
    }

    /// Reports an error of a script's handler, timer or task as
    /// `file:line: message` (the line the function was defined on when the
    /// error itself names no place in the file).
    fn handler_error(&mut self, path: &Path, where_defined: &str, err: &mlua::Error) {
        let name = path.to_string_lossy();
        let message = crate::sandbox::with_full_path(&crate::sandbox::error_message(err), &name);
        let message = if message.starts_with(name.as_ref()) {
            message
        } else {
            format!("{where_defined}: {message}")
        };
        let now = Instant::now();
        let repeat = self
            .printed
            .get(&message)
            .is_some_and(|at| now.duration_since(*at) < REPEAT_AFTER);
        if !repeat {
            self.printed.insert(message.clone(), now);
            (self.report)(message.clone());
        }
        if let Some(script) = self.scripts.scripts.get_mut(path)
            && script.last_error.as_deref() != Some(message.as_str())
        {
            script.last_error = Some(message);
            self.status_changed();
        }
    }

    /// Fires due timers and resumes due tasks, in file order.
    fn run_timers_and_tasks(&mut self) {
        for (path, live) in self.live() {
            let now = Instant::now();
            let due_timers: Vec<Function> = {
                let mut registry = live.lock();
                registry
                    .timers
                    .iter_mut()
                    .filter(|t| t.next <= now)
                    .map(|t| {
                        t.next = now + t.every;
                        t.func.clone()
                    })
                    .collect()
            };
            for func in due_timers {
                self.start(&path, &live, func, MultiValue::new());
            }
            let due_tasks: Vec<Task> = {
                let mut registry = live.lock();
                let (due, later): (Vec<Task>, Vec<Task>) =
                    registry.tasks.drain(..).partition(|t| t.wake <= now);
                registry.tasks = later;
                due
            };
            for task in due_tasks {
                self.resume(
                    &path,
                    &live,
                    task.thread,
                    MultiValue::new(),
                    &path.to_string_lossy(),
                );
            }
        }
    }

    /// The earliest timer or task due.
    fn next_due(&self) -> Option<Instant> {
        self.live()
            .iter()
            .filter_map(|(_, live)| {
                let registry = live.lock();
                let timers = registry.timers.iter().map(|t| t.next);
                let tasks = registry.tasks.iter().map(|t| t.wake);
                timers.chain(tasks).min()
            })
            .min()
    }
}

/// `file:line` where `func` was defined (the file alone when unknown).
fn defined_at(path: &Path, func: &Function) -> String {
    let name = path.to_string_lossy();
    match func.info().line_defined {
        Some(line) if line > 0 => format!("{name}:{line}"),
        _ => name.into_owned(),
    }
}
