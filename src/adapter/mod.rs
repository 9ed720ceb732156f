//! Adapters: what an agent CLI needs — how to launch it (argv, never a shell
//! string), how the first prompt reaches it, when it is ready, and the status
//! rules its screens follow. Adapters are written in Lua (`lua/adapters/*.lua`
//! are built in) or built in Rust with [`Adapter::native`]; the
//! [`AdapterRegistry`] holds them by name.
//!
//! Beyond the canonical fields (`name`, `binary`, `launch`, `injection`,
//! `ready_pattern`, `status_bar_lines`, `patterns`, `classify`,
//! `is_available`), a Lua adapter may declare:
//!
//! ```lua
//! classify_when = { "API Error" },  -- call classify only on screens with one of these
//! dialogs = {            -- start-up dialogs (see [`Dialog`]); first among the rules
//!   { id = "trust", match = "Yes, I trust this folder", reason = "trust_dialog",
//!     answer = { "Enter" }, safe = true },           -- answered only with accept_dialogs
//!   { id = "update", match = "Update available", reason = "update_dialog", safe = false },
//! },
//! composer = "^❯ ?(.*)$",                  -- group 1: text waiting to be submitted
//! conversation = { "Session ID: ([0-9a-f-]{36})" },   -- group 1: the CLI's conversation id
//! conversation_at_launch = true,           -- launch passes cfg.conversation_id to the CLI
//! ```
//!
//! `launch(cfg)` also gets `cfg.accept_dialogs` and `cfg.conversation_id`
//! (the id to resume, or a fresh UUID for a new conversation).

pub mod bounded_read;
mod config;
mod dialog;
mod from_lua;
mod registry;
pub mod signals;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use regex::Regex;

pub use config::{AgentType, DEFAULT_READY_TIMEOUT, LaunchConfig};
pub use dialog::{DIALOG_REGION, Dialog, showing};
pub use from_lua::compile_adapter as compile_adapter_table;
pub use registry::{AdapterInfo, AdapterRegistry, BUILTIN_ADAPTERS, LoadError};
pub use signals::{HookLaunch, Registry, Signals};

use crate::error::{Error, Result};
use crate::monitor::{
    Classifier, Context, Rule, ScreenModel, SessionStatus, Verdict, defaults_only,
};
use crate::sandbox::{CALL_BUDGET, LuaHost, error_message};

/// How the first prompt reaches the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Injection {
    /// In argv.
    Arg,
    /// Pasted through tmux once the ready pattern shows.
    Tmux,
}

impl Injection {
    pub fn as_str(self) -> &'static str {
        match self {
            Injection::Arg => "arg",
            Injection::Tmux => "tmux",
        }
    }
}

/// A Rust launch function: config in, argv out (or a reason it cannot launch).
pub type NativeLaunch = Arc<dyn Fn(&LaunchConfig) -> Result<Vec<String>, String> + Send + Sync>;

/// A Lua function owned by the adapter VM.
#[derive(Clone, Debug)]
pub(crate) struct LuaFn {
    host: Arc<LuaHost>,
    func: mlua::Function,
}

#[derive(Clone)]
enum Launcher {
    Lua(LuaFn),
    Native(NativeLaunch),
}

impl std::fmt::Debug for Launcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Launcher::Lua(_) => f.write_str("Launcher::Lua"),
            Launcher::Native(_) => f.write_str("Launcher::Native"),
        }
    }
}

/// One agent CLI's adapter.
#[derive(Clone, Debug)]
pub struct Adapter {
    pub name: String,
    /// The executable it needs; availability means finding it on PATH.
    pub binary: Option<String>,
    pub injection: Injection,
    /// Regex that shows the agent is ready for a pasted prompt.
    pub ready_pattern: Option<Regex>,
    /// Bottom lines left out of the change hash (status bars that tick).
    pub status_bar_lines: usize,
    /// The adapter's own rules followed by the defaults it keeps.
    pub rules: Vec<Rule>,
    /// How its UI is laid out: the regions its rules look at.
    pub screen_model: ScreenModel,
    /// The agent exiting with code 0 means `done`.
    pub exit_zero_is_done: bool,
    /// Start-up dialogs it knows, and how to answer them.
    pub dialogs: Vec<Dialog>,
    /// Regex for the composer line; group 1 is the text waiting in it. Used
    /// to check that a sent message was submitted.
    pub composer: Option<Regex>,
    /// Regexes whose group 1 is the agent's conversation id, as its screens show it.
    pub conversation: Vec<Regex>,
    /// The launch passes `cfg.conversation_id` to the CLI, so the id is known
    /// as soon as the session starts.
    pub conversation_at_launch: bool,
    /// The launch runs the agent through an interactive shell (`shell =
    /// true`): when that shell is alone in the foreground again, the agent
    /// is gone (`exited`, "back to a shell"). Otherwise the agent is the
    /// pane's own process and is alive exactly as long as that process.
    pub launches_shell: bool,
    /// What the CLI reports about itself: a session registry, hook events.
    pub signals: Signals,
    /// Where it came from: `builtin:claude.lua` or a file path.
    pub source: String,
    launch: Launcher,
    /// Substrings one of which a screen line must hold for `classify` to
    /// be called (empty: always called). A Lua call costs ~8 µs — as much
    /// as all the rules — so a hook that only matters on some screens says so.
    pub classify_when: Vec<String>,
    classify: Option<LuaFn>,
    available: Option<LuaFn>,
    /// Classify-hook errors, so each is reported once.
    hook_error: Arc<Mutex<HookErrors>>,
}

/// A hook error waiting to be reported, and the last one seen: a hook that
/// fails the same way on every observation is reported once, until it
/// succeeds again or fails differently.
#[derive(Debug, Default)]
struct HookErrors {
    pending: Option<String>,
    last: Option<String>,
}

impl Adapter {
    /// An adapter written in Rust: default rules, `arg` injection.
    pub fn native(
        name: impl Into<String>,
        launch: impl Fn(&LaunchConfig) -> Result<Vec<String>, String> + Send + Sync + 'static,
    ) -> Adapter {
        let name = name.into();
        Adapter {
            source: format!("rust:{name}"),
            name,
            binary: None,
            injection: Injection::Arg,
            ready_pattern: None,
            status_bar_lines: 0,
            rules: defaults_only(),
            screen_model: ScreenModel::default(),
            exit_zero_is_done: false,
            dialogs: Vec::new(),
            composer: None,
            conversation: Vec::new(),
            conversation_at_launch: false,
            launches_shell: false,
            signals: Signals::default(),
            launch: Launcher::Native(Arc::new(launch)),
            classify_when: Vec::new(),
            classify: None,
            available: None,
            hook_error: Arc::default(),
        }
    }

    /// Puts `rules` before the rules this adapter already has.
    pub fn with_rules(mut self, rules: Vec<Rule>) -> Adapter {
        let mut all = rules;
        all.append(&mut self.rules);
        self.rules = all;
        self
    }

    /// The argv to start the agent for `config`, validated.
    pub fn launch_argv(&self, config: &LaunchConfig) -> Result<Vec<String>> {
        self.launch_argv_with(config, None)
    }

    /// [`Adapter::launch_argv`] with the per-run hook commands the launch
    /// passes (`cfg.hooks` in Lua; `None`: hooks off for this run).
    pub fn launch_argv_with(
        &self,
        config: &LaunchConfig,
        hooks: Option<&HookLaunch>,
    ) -> Result<Vec<String>> {
        let refuse = |message: String| Error::AgentLaunch {
            agent: self.name.clone(),
            message,
        };
        let argv = match &self.launch {
            Launcher::Native(f) => f(config).map_err(refuse)?,
            Launcher::Lua(f) => {
                let lua = f.host.lua();
                let cfg = config.to_lua(lua).map_err(|e| refuse(error_message(&e)))?;
                if let Some(hooks) = hooks {
                    let table =
                        from_lua::hooks_table(lua, hooks).map_err(|e| refuse(error_message(&e)))?;
                    cfg.set("hooks", table)
                        .map_err(|e| refuse(error_message(&e)))?;
                }
                let value: mlua::Value = f
                    .host
                    .with_budget(CALL_BUDGET, || f.func.call(cfg))
                    .map_err(|e| refuse(error_message(&e)))?;
                from_lua::argv_from_value(value).map_err(refuse)?
            }
        };
        if argv.is_empty() {
            return Err(refuse("the adapter returned an empty argv".into()));
        }
        if argv.iter().any(|a| a.contains('\0')) {
            return Err(refuse("argv contains a NUL byte".into()));
        }
        Ok(argv)
    }

    /// Whether the agent can run here (its `is_available()`, or its binary on `path`).
    pub fn is_available(&self, path: &OsStr) -> bool {
        self.availability(path).unwrap_or(false)
    }

    /// Like [`Adapter::is_available`], with the error of an `is_available()`
    /// that failed (`file:line: time budget exceeded`, say).
    pub fn availability(&self, path: &OsStr) -> Result<bool, String> {
        if let Some(f) = &self.available {
            return f
                .host
                .with_budget(CALL_BUDGET, || f.func.call::<bool>(()))
                .map_err(|e| {
                    let message = crate::sandbox::with_full_path(&error_message(&e), &self.source);
                    format!("{}: is_available failed: {message}", self.name)
                });
        }
        Ok(match &self.binary {
            Some(binary) => find_on_path(binary, path).is_some(),
            None => true,
        })
    }

    /// The classifier over this adapter's rules.
    pub fn classifier(&self) -> Classifier<'_> {
        Classifier {
            rules: &self.rules,
            exit_zero_is_done: self.exit_zero_is_done,
            model: &self.screen_model,
        }
    }

    /// Runs the Lua `classify(screen, ctx)` hook, if any: it returns a
    /// status, a reason and the line it based its verdict on (all but the
    /// status optional). A hook error falls through to the rules and is
    /// kept in [`Adapter::take_hook_error`].
    pub fn run_hook(&self, ctx: &Context<'_>) -> Option<Verdict> {
        let f = self.classify.as_ref()?;
        if !self.classify_when.is_empty()
            && !ctx.screen.lines.iter().any(|line| {
                self.classify_when
                    .iter()
                    .any(|needle| line.contains(needle.as_str()))
            })
        {
            return None;
        }
        let result = f.host.with_budget(CALL_BUDGET, || {
            let lua = f.host.lua();
            let table = from_lua::context_table(lua, ctx)?;
            f.func
                .call::<(Option<String>, Option<String>, Option<String>)>((
                    ctx.screen.text(),
                    table,
                ))
        });
        match result {
            Ok((Some(_), Some(reason), _)) if !from_lua::is_reason(&reason) => {
                self.record_hook_error(format!(
                    "{}: classify returned a reason that is not a snake_case word: {reason:?}",
                    self.source
                ));
                None
            }
            Ok((Some(status), reason, line)) => match status.parse::<SessionStatus>() {
                Ok(status) => {
                    self.clear_hook_error();
                    let reason = reason.unwrap_or_else(|| status.as_str().to_owned());
                    let line: String = line
                        .unwrap_or_default()
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(500)
                        .collect();
                    Some(Verdict::new(
                        status,
                        reason,
                        format!("{}.classify", self.name),
                        line.trim(),
                    ))
                }
                Err(message) => {
                    self.record_hook_error(format!("{}: classify returned {message}", self.source));
                    None
                }
            },
            Ok((None, _, _)) => {
                self.clear_hook_error();
                None
            }
            Err(err) => {
                let message = crate::sandbox::with_full_path(&error_message(&err), &self.source);
                self.record_hook_error(if message.starts_with(&self.source) {
                    message
                } else {
                    format!("{}: classify failed: {message}", self.source)
                });
                None
            }
        }
    }

    /// Classifies one screen: the hook first, then the rules.
    pub fn explain(
        &self,
        screen: &crate::monitor::Screen,
        previous: SessionStatus,
        changed: bool,
        process: &crate::monitor::Process,
    ) -> Verdict {
        let ctx = Context {
            screen,
            changed,
            previous,
            process,
        };
        let hook = |ctx: &Context<'_>| self.run_hook(ctx);
        self.classifier().classify(
            &ctx,
            self.has_hook().then_some(&hook as crate::monitor::Hook<'_>),
        )
    }

    /// The conversation id the screen shows, if any (the last one shown).
    pub fn conversation_id(&self, screen: &crate::monitor::Screen) -> Option<String> {
        screen.lines.iter().rev().find_map(|line| {
            self.conversation
                .iter()
                .find_map(|re| re.captures(line)?.get(1).map(|m| m.as_str().to_owned()))
        })
    }

    /// The text waiting in the composer (the last line the composer regex matches).
    pub fn composer_text<'a>(&self, screen: &'a crate::monitor::Screen) -> Option<&'a str> {
        let re = self.composer.as_ref()?;
        screen
            .lines
            .iter()
            .rev()
            .find_map(|line| re.captures(line)?.get(1).map(|m| m.as_str()))
    }

    /// True when the adapter has a Lua classify hook.
    pub fn has_hook(&self) -> bool {
        self.classify.is_some()
    }

    fn record_hook_error(&self, message: String) {
        if let Ok(mut errors) = self.hook_error.lock()
            && errors.last.as_deref() != Some(message.as_str())
        {
            errors.pending = Some(message.clone());
            errors.last = Some(message);
        }
    }

    fn clear_hook_error(&self) {
        if let Ok(mut errors) = self.hook_error.lock() {
            errors.last = None;
        }
    }

    /// A new classify-hook error, if one happened since the last call: an
    /// error that repeats on every observation is returned once.
    pub fn take_hook_error(&self) -> Option<String> {
        self.hook_error
            .lock()
            .ok()
            .and_then(|mut errors| errors.pending.take())
    }
}

/// The first executable named `binary` on `path` (or `binary` itself if it is a path).
pub fn find_on_path(binary: &str, path: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if binary.contains('/') {
        let p = PathBuf::from(binary);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(binary))
        .find(|p| is_exec(p))
}
