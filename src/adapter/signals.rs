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
//!     StopFailure = { detail = "error",   -- the hook JSON's field that says more
//!       rate_limit = "blocked_api/rate_limit", ["*"] = "failed/api_error" },
//!   },
//! }
//! ```
//!
//! `signals = false` (or `hooks = false`) turns them off for the adapter.
//! [`HookLaunch`] is what a launch gives `launch(cfg)` as `cfg.hooks`: the
//! command each event runs (the absolute path of doeff-agents, never a
//! shell string built from user data).

use std::path::Path;

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
}

/// An adapter's signals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    pub registry: Option<Registry>,
    pub hooks: Vec<HookEvent>,
}

impl Signals {
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
}

/// What a launch passes to `launch(cfg)` as `cfg.hooks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookLaunch {
    /// The absolute path of the doeff-agents binary.
    pub exe: String,
    /// Per event: its argv (`exe hook EVENT [--field F]`).
    pub argv: Vec<(String, Vec<String>)>,
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
        HookLaunch { exe, argv }
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

/// `"status"` or `"status/reason"` (or `false`: no status).
fn mapped(value: Value, what: &str, event: &str) -> mlua::Result<Option<Mapped>> {
    let text = match value {
        Value::Boolean(false) => return Ok(None),
        Value::String(s) => s.to_str()?.to_owned(),
        other => {
            return Err(bad(format!(
                "{what} must be \"status\", \"status/reason\" or false, got {}",
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
    Ok(Some(Mapped { status, reason }))
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
                        "*" => event.default = mapped(value, &format!("{what}[\"*\"]"), &name)?,
                        detail => {
                            let m = mapped(value, &format!("{what}.{detail}"), &name)?;
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
            other => event.default = mapped(other, &what, &name)?,
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
    fn commands_quote_the_binary_path() {
        let signals = Signals {
            registry: None,
            hooks: vec![HookEvent {
                name: "StopFailure".into(),
                detail: Some("error".into()),
                default: None,
                by_detail: Vec::new(),
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
