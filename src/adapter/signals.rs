//! What an adapter says its CLI reports about itself, beside its screen
//! (`signals = { ... }` in Lua): a session registry to read, and the hook
//! events the CLI can run per launch, each mapped to a status.
//!
//! ```lua
//! signals = {
//!   registry = "claude",                  -- Claude Code's sessions/<pid>.json
//!   hooks = {
//!     UserPromptSubmit = "running",       -- status (reason: user_prompt_submit)
//!     PermissionRequest = "blocked/permission_prompt",
//!     SessionStart = false,               -- proves the channel works; no status
//!     TurnEnd = { detail = "reply", ["*"] = "blocked/idle_prompt",
//!       none = "screen" },                -- no status, and the screen decides
//!     StopFailure = { detail = "error",   -- the hook JSON's field that says more
//!       rate_limit = "blocked_api/rate_limit", ["*"] = "failed/api_error" },
//!   },
//! }
//! ```
//!
//! `signals = false` (or `hooks = false`) turns them off for the adapter.
//! [`HookLaunch`] is what a launch gives `launch(cfg)` as `cfg.hooks`: the
//! command each event runs (the absolute path of doeff-agents, never a
//! shell string built from user data), and for a CLI that takes its hooks
//! only from a settings file named in its environment (Gemini CLI's
//! `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`), `settings_file(text, VAR)`: the text
//! in a fresh 0700 directory of this run, VAR set to its path.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mlua::{Table, Value};

use crate::monitor::SessionStatus;
use crate::sandbox::fields::bad;

/// A session registry the adapter's CLI keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registry {
    /// `$CLAUDE_CONFIG_DIR/sessions/<pid>.json` (default `~/.claude`).
    Claude,
}

/// A status and reason an event maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped {
    pub status: SessionStatus,
    pub reason: String,
}

/// One hook event and what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookEvent {
    pub name: String,
    /// The field of the hook's JSON whose value refines the event.
    pub detail: Option<String>,
    /// The meaning without (or for an unlisted) detail; `None`: no status.
    pub default: Option<Mapped>,
    /// Meanings by detail value.
    pub by_detail: Vec<(String, Option<Mapped>)>,
    /// Without (or for an unlisted) detail, the event hands the decision
    /// back to the screen (`"screen"`): the last report no longer stands.
    pub default_screen: bool,
    /// The details that do so.
    pub screen_details: Vec<String>,
}

/// An adapter's signals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    pub registry: Option<Registry>,
    pub hooks: Vec<HookEvent>,
}

impl Signals {
    /// True when one of its hook events says the agent is working (a turn
    /// started): only then does silence after the first turn mean the
    /// channel is dead. Codex's `notify` speaks only when a turn ends.
    pub fn reports_turn_start(&self) -> bool {
        let running = |m: &Option<Mapped>| {
            m.as_ref()
                .is_some_and(|m| m.status == SessionStatus::Running)
        };
        self.hooks
            .iter()
            .any(|h| running(&h.default) || h.by_detail.iter().any(|(_, m)| running(m)))
    }

    /// What `event` (with `detail`) means: `Some(None)` for an event that
    /// carries no status, `None` for one the adapter does not know.
    pub fn meaning(&self, event: &str, detail: &str) -> Option<Option<&Mapped>> {
        let hook = self.hooks.iter().find(|h| h.name == event)?;
        if !detail.is_empty()
            && let Some((_, mapped)) = hook.by_detail.iter().find(|(d, _)| d == detail)
        {
            return Some(mapped.as_ref());
        }
        Some(hook.default.as_ref())
    }

    /// Whether `event` (with `detail`) hands the decision back to the
    /// screen: no status, and the last report stands no more.
    pub fn hands_over(&self, event: &str, detail: &str) -> bool {
        let Some(hook) = self.hooks.iter().find(|h| h.name == event) else {
            return false;
        };
        if !detail.is_empty() && hook.by_detail.iter().any(|(d, _)| d == detail) {
            return hook.screen_details.iter().any(|d| d == detail);
        }
        hook.default_screen
    }

    /// Whether `event` maps `detail` by name.
    pub fn lists(&self, event: &str, detail: &str) -> bool {
        self.hooks
            .iter()
            .any(|h| h.name == event && h.by_detail.iter().any(|(d, _)| d == detail))
    }
}

/// What a launch passes to `launch(cfg)` as `cfg.hooks`.
#[derive(Clone, Debug)]
pub struct HookLaunch {
    /// The absolute path of the doeff-agents binary.
    pub exe: String,
    /// Per event: its argv (`exe hook EVENT [--field F]`).
    pub argv: Vec<(String, Vec<String>)>,
    /// The directory a per-run settings file goes in (made by
    /// [`HookLaunch::settings_file`]); `None`: there is no place for one.
    pub run_dir: Option<PathBuf>,
    /// What [`HookLaunch::settings_file`] wrote.
    pub written: Arc<Mutex<Option<RunFile>>>,
    /// `launch` read a field of `cfg.hooks` / asked for a settings file.
    pub used: Arc<AtomicBool>,
    pub file_asked: Arc<AtomicBool>,
}

/// A per-run settings file, and the variable that names it to the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFile {
    pub var: String,
    pub path: PathBuf,
}

/// The file name of a per-run settings file in its directory.
pub const RUN_FILE_NAME: &str = "settings.json";

/// An environment variable name: `A-Z`, `0-9`, `_`, not starting with a digit.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// True when `path` and every directory above it belong to this user or
/// root and no group or other may write them: nobody else can change or
/// swap a file there (Gemini CLI asks the same of its system settings, and
/// root ownership too).
pub fn is_private_chain(path: &Path) -> bool {
    let me = nix::unistd::Uid::effective().as_raw();
    path.ancestors().all(|p| {
        p.as_os_str().is_empty()
            || std::fs::symlink_metadata(p).is_ok_and(|m| {
                (m.uid() == me || m.uid() == 0)
                    && m.mode() & 0o022 == 0
                    && (m.is_dir() || m.is_file())
            })
    })
}

/// A word safe in a command line and a tmux option: letters, digits, `_`, `-`, `.`.
pub fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `text` single-quoted for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

impl HookLaunch {
    /// The commands `signals` needs, run by `exe`.
    pub fn new(exe: &Path, signals: &Signals) -> HookLaunch {
        let exe = exe.to_string_lossy().into_owned();
        let argv = signals
            .hooks
            .iter()
            .map(|hook| {
                let mut argv = vec![exe.clone(), "hook".to_owned(), hook.name.clone()];
                if let Some(field) = &hook.detail {
                    argv.push("--field".to_owned());
                    argv.push(field.clone());
                }
                (hook.name.clone(), argv)
            })
            .collect();
        HookLaunch {
            exe,
            argv,
            run_dir: None,
            written: Arc::default(),
            used: Arc::default(),
            file_asked: Arc::default(),
        }
    }

    /// Where [`HookLaunch::settings_file`] may write (see [`RunFile`]).
    pub fn with_run_dir(mut self, dir: Option<PathBuf>) -> HookLaunch {
        self.run_dir = dir;
        self
    }

    /// Writes `text` to `settings.json` in a fresh 0700 directory of this
    /// run and has the launch set `var` to its path. `Ok(None)` (nothing
    /// left behind) when the run has no such place, or the place is not
    /// private ([`is_private_chain`]).
    pub fn settings_file(&self, text: &str, var: &str) -> Result<Option<PathBuf>, String> {
        if !is_env_name(var) {
            return Err(format!(
                "settings_file: {var:?} is not an environment variable name (A-Z, 0-9, _)"
            ));
        }
        self.file_asked.store(true, Ordering::Relaxed);
        let Some(dir) = &self.run_dir else {
            return Ok(None);
        };
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        // A leftover of a run of the same name that ended without a stop.
        let _ = std::fs::remove_dir_all(dir);
        *written = None;
        let path = dir.join(RUN_FILE_NAME);
        let made = (|| -> std::io::Result<()> {
            if let Some(parent) = dir.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)?;
            }
            std::fs::DirBuilder::new().mode(0o700).create(dir)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(text.as_bytes())
        })();
        if made.is_err() || !is_private_chain(&path) {
            let _ = std::fs::remove_dir_all(dir);
            return Ok(None);
        }
        *written = Some(RunFile {
            var: var.to_owned(),
            path: path.clone(),
        });
        Ok(Some(path))
    }

    /// Whether `launch` passed the hooks on, as far as can be told: it got
    /// its settings file if it asked for one, else it read `cfg.hooks`'
    /// commands (Gemini's adapter, not as root, reads neither). A run that
    /// passed none is not armed (no "dead channel" for a CLI never told).
    pub fn passed(&self) -> bool {
        if self.file_asked.load(Ordering::Relaxed) {
            self.run_file().is_some()
        } else {
            self.used.load(Ordering::Relaxed)
        }
    }

    /// The settings file written for this run, if any.
    pub fn run_file(&self) -> Option<RunFile> {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Per event: its argv as one shell command (each word quoted).
    pub fn commands(&self) -> impl Iterator<Item = (&str, String)> {
        self.argv.iter().map(|(event, argv)| {
            let words: Vec<String> = argv.iter().map(|w| shell_quote(w)).collect();
            (event.as_str(), words.join(" "))
        })
    }
}

/// snake_case of an event name: `UserPromptSubmit` → `user_prompt_submit`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

/// `"status"` or `"status/reason"` (or `false`: no status; `"screen"`: no
/// status, and the screen decides). The bool: `"screen"`.
fn mapped(value: Value, what: &str, event: &str) -> mlua::Result<(Option<Mapped>, bool)> {
    let text = match value {
        Value::Boolean(false) => return Ok((None, false)),
        Value::String(s) if s.to_str()? == "screen" => return Ok((None, true)),
        Value::String(s) => s.to_str()?.to_owned(),
        other => {
            return Err(bad(format!(
                "{what} must be \"status\", \"status/reason\", \"screen\" or false, got {}",
                other.type_name()
            )));
        }
    };
    let (status, reason) = match text.split_once('/') {
        Some((status, reason)) => (status, reason.to_owned()),
        None => (text.as_str(), snake(event)),
    };
    let status: SessionStatus = status
        .parse()
        .map_err(|e: String| bad(format!("{what}: {e}")))?;
    if !super::from_lua::is_reason(&reason) {
        return Err(bad(format!(
            "{what}: the reason must be a snake_case word, got {reason:?}"
        )));
    }
    Ok((Some(Mapped { status, reason }), false))
}

/// The `signals` field of an adapter table.
pub(crate) fn from_table(table: &Table) -> mlua::Result<Signals> {
    let signals = match table.get::<Value>("signals")? {
        Value::Nil | Value::Boolean(false) => return Ok(Signals::default()),
        Value::Table(t) => t,
        other => {
            return Err(bad(format!(
                "field 'signals' must be a table or false, got {}",
                other.type_name()
            )));
        }
    };
    let mut out = Signals::default();
    for pair in signals.pairs::<String, Value>() {
        let (key, value) = pair?;
        match key.as_str() {
            "registry" => {
                out.registry = match value {
                    Value::Nil | Value::Boolean(false) => None,
                    Value::String(s) if s.to_str()? == "claude" => Some(Registry::Claude),
                    _ => return Err(bad("signals.registry must be \"claude\" or false".into())),
                }
            }
            "hooks" => match value {
                Value::Nil | Value::Boolean(false) => {}
                Value::Table(hooks) => out.hooks = hook_events(&hooks)?,
                other => {
                    return Err(bad(format!(
                        "signals.hooks must be a table or false, got {}",
                        other.type_name()
                    )));
                }
            },
            other => {
                return Err(bad(format!(
                    "signals has an unknown field '{other}' (known: registry, hooks)"
                )));
            }
        }
    }
    Ok(out)
}

fn hook_events(hooks: &Table) -> mlua::Result<Vec<HookEvent>> {
    let mut events = Vec::new();
    for pair in hooks.pairs::<String, Value>() {
        let (name, value) = pair?;
        let what = format!("signals.hooks.{name}");
        if !is_word(&name) {
            return Err(bad(format!(
                "{what}: an event name must be letters, digits, '_', '-' or '.'"
            )));
        }
        let mut event = HookEvent {
            name: name.clone(),
            detail: None,
            default: None,
            by_detail: Vec::new(),
            default_screen: false,
            screen_details: Vec::new(),
        };
        match value {
            Value::Table(details) => {
                for pair in details.pairs::<String, Value>() {
                    let (key, value) = pair?;
                    match key.as_str() {
                        "detail" => {
                            let field = match value {
                                Value::String(s) => s.to_str()?.to_owned(),
                                _ => String::new(),
                            };
                            if !is_word(&field) {
                                return Err(bad(format!(
                                    "{what}.detail must name a JSON field (letters, digits, '_')"
                                )));
                            }
                            event.detail = Some(field);
                        }
                        "*" => {
                            (event.default, event.default_screen) =
                                mapped(value, &format!("{what}[\"*\"]"), &name)?
                        }
                        detail => {
                            let (m, screen) = mapped(value, &format!("{what}.{detail}"), &name)?;
                            if screen {
                                event.screen_details.push(detail.to_owned());
                            }
                            event.by_detail.push((detail.to_owned(), m));
                        }
                    }
                }
                if event.detail.is_none() && !event.by_detail.is_empty() {
                    return Err(bad(format!(
                        "{what} maps details but names no 'detail' field"
                    )));
                }
            }
            other => (event.default, event.default_screen) = mapped(other, &what, &name)?,
        }
        events.push(event);
    }
    events.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hooks_that_report_a_turn_start_can_go_silent() {
        let registry = crate::adapter::AdapterRegistry::builtin().expect("built-ins");
        let speaks = |name: &str| {
            registry
                .get(name)
                .expect("adapter")
                .signals
                .reports_turn_start()
        };
        assert!(speaks("claude"));
        assert!(speaks("gemini"));
        assert!(
            !speaks("codex"),
            "Codex's notify speaks only at a turn's end"
        );
    }

    #[test]
    fn commands_quote_the_binary_path() {
        let signals = Signals {
            registry: None,
            hooks: vec![HookEvent {
                name: "StopFailure".into(),
                detail: Some("error".into()),
                default: None,
                by_detail: Vec::new(),
                default_screen: false,
                screen_details: Vec::new(),
            }],
        };
        let launch = HookLaunch::new(Path::new("/opt/it's here/doeff-agents"), &signals);
        let (event, command) = launch.commands().next().expect("one");
        assert_eq!(event, "StopFailure");
        assert_eq!(
            command,
            "'/opt/it'\\''s here/doeff-agents' 'hook' 'StopFailure' '--field' 'error'"
        );
        assert_eq!(snake("UserPromptSubmit"), "user_prompt_submit");
        assert!(is_word("agent-turn-complete") && !is_word("a b") && !is_word(""));
    }
}
