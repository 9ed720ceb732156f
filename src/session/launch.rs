//! Launching an agent ([`Agents::launch_session`]), as named steps: check
//! the request, build the command line the adapter asks for, the agent's
//! environment, create the tmux session with its metadata, then the
//! start-up (ready pattern, dialogs, the pasted prompt).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::ready::StartUp;
use super::send::Delivered;
use super::state::{self, SavedSession, new_uuid};
use super::{
    AgentSession, Agents, OPT_ADAPTER, OPT_AGENT, OPT_CONVERSATION, OPT_CREATED, OPT_WORK_DIR,
    PANE_HEIGHT, PANE_WIDTH, WaitingForUser, now_ms, now_secs, reports, session_name,
    undeliverable, user_path,
};
use crate::adapter::{Adapter, Injection, LaunchConfig};
use crate::error::{Error, Result, TmuxErrorKind};
use crate::monitor::{MonitorState, SessionStatus};
use crate::tmux::NewSession;

/// What the checks and the adapter made of a launch request.
struct Command {
    /// The tmux session name (`doeff-NAME`).
    full_name: String,
    /// The canonical work dir.
    work_dir: PathBuf,
    adapter: Arc<Adapter>,
    /// The PATH the agent gets (and its CLI is looked up on).
    path: OsString,
    /// The program (resolved on `path`) and its arguments.
    argv: Vec<String>,
    /// The conversation id, when the CLI is given it at launch.
    conversation_id: Option<String>,
    /// The token of this run's per-run hooks, when it has some.
    hook_token: Option<String>,
    /// The settings file the adapter had written for this run's hooks.
    run_file: Option<crate::adapter::signals::RunFile>,
}

impl Agents {
    /// Starts `config`'s agent in a new tmux session `name` (prefixed with
    /// `doeff-`). For `tmux`-injection agents with a prompt, waits up to
    /// the config's `ready_timeout` for the ready pattern and a settled screen, then
    /// pastes the prompt; an adapter with dialogs (or `accept_dialogs`) is
    /// watched as long, without typing anything but the safe answers asked
    /// for. Any failure after the session exists removes it. Returns it
    /// `booting`, or `blocked` with [`AgentSession::waiting`] set when a
    /// dialog (or another screen waiting for the user) stayed up: nothing
    /// typed, a pasted prompt not sent.
    pub fn launch_session(&self, name: &str, config: &LaunchConfig) -> Result<AgentSession> {
        let ready_timeout = config.ready_timeout;
        // Before the adapter runs: a live session's settings file is its own.
        let full_name = session_name(name)?;
        if self.tmux.has_session(&full_name)? {
            return Err(Error::SessionAlreadyExists(full_name));
        }
        let command = self.command(name, config)?;
        let env = environment(
            config,
            &command.path,
            command.hook_token.as_deref(),
            command.run_file.as_ref(),
        )
        .inspect_err(|_| self.remove_run_dir(&command.full_name))?;
        let mut session = self
            .create_session(&command, config, &env)
            .inspect_err(|_| self.remove_run_dir(&command.full_name))?;
        self.save_state(&session, config);
        match self.start_up_launched(&session, &command.adapter, config, ready_timeout) {
            Ok(waiting) => {
                if waiting.is_some() {
                    session.status = SessionStatus::Blocked;
                }
                session.waiting = waiting;
                Ok(session)
            }
            Err(err) => {
                let _ = self.stop_session(&mut session);
                Err(err)
            }
        }
    }

    /// Step 1: the checks that need no tmux session (name, work dir,
    /// adapter, a prompt that can be typed), then the adapter's argv with
    /// its program found on the agent's PATH.
    fn command(&self, name: &str, config: &LaunchConfig) -> Result<Command> {
        let full_name = session_name(name)?;
        let work_dir = checked_work_dir(&config.work_dir)?;
        self.adapters.refresh();
        let adapter = self.adapters.get(config.agent_type.adapter_name())?;
        if let (Injection::Tmux, Some(prompt)) = (adapter.injection, &config.prompt)
            && let Some(why) = undeliverable(prompt)
        {
            return Err(Error::AgentLaunch {
                agent: adapter.name.clone(),
                message: format!("the prompt cannot be typed into the agent: {why}"),
            });
        }
        // A PATH in the config is the one the agent gets: look the CLI up there.
        let path = config
            .env
            .get("PATH")
            .map(OsString::from)
            .unwrap_or_else(user_path);
        let mut argv_config = config.clone();
        argv_config.work_dir = work_dir.clone();
        if adapter.injection == Injection::Tmux {
            argv_config.prompt = None;
        }
        if argv_config.conversation_id.is_none() {
            argv_config.conversation_id = match (config.resume, &config.resume_id) {
                (true, Some(id)) => Some(id.clone()),
                (true, None) => None,
                (false, _) => Some(new_uuid()),
            };
        }
        // Known at launch only when the CLI is given the id.
        let conversation_id = argv_config
            .conversation_id
            .clone()
            .filter(|_| adapter.conversation_at_launch);
        // Per-run hooks: the adapter's events, each running this product's
        // own binary (absolute path), with a token only this run knows.
        let hooks = (config.hooks && !adapter.signals.hooks.is_empty())
            .then(|| reports::hook_exe(self.adapters.self_exe()))
            .flatten()
            .map(|exe| {
                crate::adapter::HookLaunch::new(&exe, &adapter.signals)
                    .with_run_dir(self.run_dir(&full_name))
            });
        let argv = adapter.launch_argv_with(&argv_config, hooks.as_ref());
        let hook_token = hooks.as_ref().filter(|h| h.passed()).map(|_| new_uuid());
        let run_file = hooks.as_ref().and_then(|h| h.run_file());
        let checked = argv.and_then(|mut argv| {
            self.checked_program(&adapter, &mut argv, &work_dir, &path)?;
            Ok(argv)
        });
        let argv = match checked {
            Ok(argv) => argv,
            Err(err) => {
                if run_file.is_some() {
                    self.remove_run_dir(&full_name);
                }
                return Err(err);
            }
        };
        Ok(Command {
            full_name,
            work_dir,
            adapter,
            path,
            argv,
            conversation_id,
            hook_token,
            run_file,
        })
    }

    /// The agent's CLI is on `path` and argv[0] resolves there.
    fn checked_program(
        &self,
        adapter: &Adapter,
        argv: &mut Vec<String>,
        work_dir: &Path,
        path: &OsString,
    ) -> Result<()> {
        if !adapter.is_available(path) {
            return Err(Error::AgentLaunch {
                agent: adapter.name.clone(),
                message: format!(
                    "{} was not found on PATH",
                    adapter.binary.as_deref().unwrap_or(&adapter.name)
                ),
            });
        }
        resolve_program(adapter, argv, work_dir, path)
    }

    /// The directory of `full_name`'s per-run settings file:
    /// `STATE_DIR/run/NAME`, or `$XDG_RUNTIME_DIR/doeff-agents/run/NAME`
    /// without a state dir.
    pub(crate) fn run_dir(&self, full_name: &str) -> Option<PathBuf> {
        let base = match &self.state_dir {
            Some(dir) => dir.clone(),
            None => PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty())?)
                .join("doeff-agents"),
        };
        base.is_absolute().then(|| base.join("run").join(full_name))
    }

    /// Removes `full_name`'s per-run settings directory, if there is one.
    pub(crate) fn remove_run_dir(&self, full_name: &str) {
        if let Some(dir) = self.run_dir(full_name) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Step 3: the tmux session with the agent in its pane and the
    /// `@doeff-*` metadata; a failure removes what was made.
    fn create_session(
        &self,
        command: &Command,
        config: &LaunchConfig,
        env: &[(String, String)],
    ) -> Result<AgentSession> {
        let Command {
            full_name,
            work_dir,
            adapter,
            conversation_id,
            hook_token,
            ..
        } = command;
        let created_at = now_secs();
        let mut options = vec![
            (OPT_AGENT.to_owned(), adapter.name.clone()),
            (
                OPT_WORK_DIR.to_owned(),
                work_dir.to_string_lossy().into_owned(),
            ),
            (OPT_CREATED.to_owned(), created_at.to_string()),
            (OPT_ADAPTER.to_owned(), adapter.source.clone()),
        ];
        if let Some(id) = conversation_id {
            options.push((OPT_CONVERSATION.to_owned(), id.clone()));
        }
        let mut pane_options = Vec::new();
        if let Some(token) = hook_token {
            // The hook command checks the token; seq 0 arms the channel.
            pane_options.push((reports::OPT_HOOK_TOKEN.to_owned(), token.clone()));
            let armed = reports::HookValue {
                seq: 0,
                event: "armed".into(),
                detail: String::new(),
                at_ms: now_ms(),
            };
            pane_options.push((reports::OPT_HOOK.to_owned(), armed.encode()));
        }
        let pane_id = self
            .tmux
            .new_session(&NewSession {
                name: full_name,
                work_dir,
                argv: &command.argv,
                env,
                options: &options,
                pane_options: &pane_options,
                width: PANE_WIDTH,
                height: PANE_HEIGHT,
                remain_on_exit: true,
            })
            .map_err(|err| {
                // A chained call can fail after new-session made the session
                // (a later set-option): remove it, unless the name was taken.
                let duplicate = err.tmux_kind() == Some(TmuxErrorKind::DuplicateSession);
                if !duplicate && self.tmux.has_session(full_name).unwrap_or(false) {
                    let _ = self.tmux.kill_session(full_name);
                }
                if crate::tmux::is_command_too_long(&err) {
                    Error::AgentLaunch {
                        agent: adapter.name.clone(),
                        message: format!(
                            "the launch command is too long for tmux (argv, environment and \
                             options together must stay under {} bytes); launch without the \
                             prompt and send it with send_message",
                            crate::tmux::MAX_COMMAND_BYTES
                        ),
                    }
                } else {
                    err
                }
            })?;
        Ok(AgentSession {
            session_name: full_name.clone(),
            pane_id,
            agent_type: config.agent_type.clone(),
            work_dir: work_dir.clone(),
            created_at,
            status: SessionStatus::Booting,
            conversation_id: conversation_id.clone(),
            waiting: None,
            stopped: false,
            monitor: MonitorState::new(SessionStatus::Booting),
            cache: Default::default(),
            kept: None,
            registry: Default::default(),
        })
    }

    /// Step 4: with a prompt to paste, dialogs to watch for or to accept,
    /// wait (holding the send lock: a send from elsewhere waits until the
    /// prompt is in) until the agent is ready, then paste the prompt. What
    /// still waits for the user, if anything.
    fn start_up_launched(
        &self,
        session: &AgentSession,
        adapter: &Adapter,
        config: &LaunchConfig,
        ready_timeout: Duration,
    ) -> Result<Option<WaitingForUser>> {
        let paste = match (adapter.injection, &config.prompt) {
            (Injection::Tmux, Some(prompt)) => Some(prompt),
            _ => None,
        };
        // An adapter that knows dialogs is watched until it has settled, so
        // a dialog drawn after its composer is reported, never typed into.
        if paste.is_none() && !config.accept_dialogs && adapter.dialogs.is_empty() {
            return Ok(None);
        }
        let _one_sender = self.send_lock(session)?;
        match self.start_up(session, adapter, config, ready_timeout, paste.is_some())? {
            StartUp::Waiting(waiting) => Ok(Some(waiting)),
            StartUp::Go => match paste {
                Some(prompt) => match self.deliver(session, adapter, prompt, true)? {
                    Delivered::Sent => Ok(None),
                    Delivered::Held { mut waiting, .. } => {
                        waiting.prompt_pending = true;
                        Ok(Some(waiting))
                    }
                },
                None => Ok(None),
            },
        }
    }

    /// What relaunching the session needs, in the state dir (best effort).
    fn save_state(&self, session: &AgentSession, config: &LaunchConfig) {
        let Some(dir) = &self.state_dir else { return };
        state::clear_stopped(dir, &session.session_name);
        let saved = SavedSession {
            session_name: session.session_name.clone(),
            agent: session.agent_type.adapter_name().to_owned(),
            work_dir: session.work_dir.clone(),
            model: config.model.clone(),
            profile: config.profile.clone(),
            conversation_id: session.conversation_id.clone(),
            created_at: session.created_at,
        };
        // Best effort: a read-only state dir must not fail a launch.
        let _ = saved.save(dir);
    }
}

/// The program itself must be there too (an adapter without `binary`, or
/// one whose argv names another program): checked now, so a missing one
/// never leaves a session with a dead pane behind. tmux looks a bare name
/// up on the server's PATH, not the pane's, so it is resolved on the
/// agent's PATH here. A lone argument gets `env` in front (tmux runs a
/// lone argument through `sh -c`; two or more are exec'd).
fn resolve_program(
    adapter: &Adapter,
    argv: &mut Vec<String>,
    work_dir: &Path,
    path: &OsString,
) -> Result<()> {
    let program = argv[0].clone();
    let found = if program.contains('/') {
        crate::adapter::find_on_path(&work_dir.join(&program).to_string_lossy(), path)
    } else {
        crate::adapter::find_on_path(&program, path)
    };
    match found {
        None => {
            return Err(Error::AgentLaunch {
                agent: adapter.name.clone(),
                message: format!("{program:?} (the adapter's argv[0]) was not found on PATH"),
            });
        }
        Some(found) if !program.contains('/') => argv[0] = found.to_string_lossy().into_owned(),
        Some(_) => {}
    }
    if argv.len() == 1 {
        argv.insert(0, "env".to_owned());
    }
    Ok(())
}

/// Step 2: the agent's environment: PATH first, the config's variables,
/// CI emptied unless asked for, the per-run hook token and settings file;
/// a malformed name is refused.
fn environment(
    config: &LaunchConfig,
    path: &OsString,
    hook_token: Option<&str>,
    run_file: Option<&crate::adapter::signals::RunFile>,
) -> Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = vec![("PATH".into(), path.to_string_lossy().into_owned())];
    env.extend(
        config
            .env
            .iter()
            .filter(|(k, _)| k.as_str() != "PATH")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    // Agents run in an interactive terminal: a CI=true inherited from the
    // tmux server's environment (as in a CI job) makes Gemini CLI refuse
    // to start its TUI (it exits 42), so CI is emptied unless asked for.
    if !config.env.contains_key("CI") {
        env.push(("CI".into(), String::new()));
    }
    if let Some(token) = hook_token {
        env.retain(|(k, _)| k != reports::HOOK_TOKEN_ENV);
        env.push((reports::HOOK_TOKEN_ENV.into(), token.to_owned()));
    }
    if let Some(file) = run_file {
        env.retain(|(k, _)| *k != file.var);
        env.push((file.var.clone(), file.path.to_string_lossy().into_owned()));
    }
    if let Some((key, _)) = env
        .iter()
        .find(|(k, _)| k.is_empty() || k.contains('=') || k.contains('\0'))
    {
        return Err(Error::InvalidInput(format!(
            "invalid environment variable name {key:?}"
        )));
    }
    Ok(env)
}

/// The work dir, canonical, if tmux can start the agent in it.
fn checked_work_dir(dir: &Path) -> Result<PathBuf> {
    let canonical = dir.canonicalize().map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !canonical.is_dir() {
        return Err(Error::InvalidInput(format!(
            "work dir {} is not a directory",
            dir.display()
        )));
    }
    // tmux silently starts the agent in $HOME when it cannot enter the
    // directory, so an unreadable or unsearchable one is refused here. (For
    // root, permission bits do not stop either check.)
    let unusable = |source: std::io::Error| {
        Error::InvalidInput(format!(
            "work dir {} cannot be used: {source}",
            dir.display()
        ))
    };
    std::fs::read_dir(&canonical).map_err(unusable)?;
    std::fs::metadata(canonical.join(".")).map_err(unusable)?;
    Ok(canonical)
}
