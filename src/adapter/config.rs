//! What an adapter launches: [`LaunchConfig`] and [`AgentType`], and the one
//! codec between a launch config and a Lua table (the `cfg` an adapter's
//! `launch(cfg)` gets, and what `agents.launch{...}` and effect tables are
//! read from): every field is listed once, in [`lua_fields!`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use mlua::{Lua, Table, Value};

use crate::sandbox::fields::{optional_bool, optional_string};

/// How long a launch waits for the agent's screen to be ready, by default.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Which agent CLI: a built-in one, or any adapter by name (`custom:<name>`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AgentType {
    Claude,
    Codex,
    Gemini,
    Custom(String),
}

impl AgentType {
    /// The adapter name (`claude`, `codex`, `gemini`, or the custom name).
    pub fn adapter_name(&self) -> &str {
        match self {
            AgentType::Claude => "claude",
            AgentType::Codex => "codex",
            AgentType::Gemini => "gemini",
            AgentType::Custom(name) => name,
        }
    }
}

impl fmt::Display for AgentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.adapter_name())
    }
}

impl FromStr for AgentType {
    type Err = String;

    /// `claude`, `codex`, `gemini`; anything else (with or without a
    /// `custom:` prefix) is a custom adapter name.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.strip_prefix("custom:").unwrap_or(text);
        if name.is_empty() {
            return Err("empty agent name".into());
        }
        Ok(match name {
            "claude" => AgentType::Claude,
            "codex" => AgentType::Codex,
            "gemini" => AgentType::Gemini,
            other => AgentType::Custom(other.to_owned()),
        })
    }
}

/// Everything needed to start an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchConfig {
    pub agent_type: AgentType,
    pub work_dir: PathBuf,
    /// The first prompt (argv or pasted, as the adapter says).
    pub prompt: Option<String>,
    /// A CLI profile (only for agents that have profiles).
    pub profile: Option<String>,
    /// Resume a previous conversation (`resume_id` names it when given,
    /// else the agent's latest one).
    pub resume: bool,
    /// The agent's own conversation id to resume (with `resume`). In Lua
    /// tables `session_name` is still read (and set) as its old name.
    pub resume_id: Option<String>,
    pub model: Option<String>,
    /// Extra environment for the agent's process.
    pub env: BTreeMap<String, String>,
    /// Pass the agent's permission-bypass flag (off by default).
    pub skip_permissions: bool,
    /// Answer the adapter's known safe start-up dialogs (trust this folder,
    /// onboarding, update skip) during the launch (off by default: they are
    /// reported as `blocked` with the dialog's reason).
    pub accept_dialogs: bool,
    /// The conversation id given to the adapter's `launch` as
    /// `cfg.conversation_id`: the one to resume (`resume_id` when
    /// resuming), or a fresh one the launch fills in for CLIs that accept
    /// an id for a new conversation.
    pub conversation_id: Option<String>,
    /// Pass the adapter's per-run hooks (its `signals.hooks`), so the agent
    /// reports its own state (on by default; `--no-hooks` turns it off).
    pub hooks: bool,
    /// How long a launch waits for the agent to be ready for input
    /// (default [`DEFAULT_READY_TIMEOUT`]; Lua: `ready_timeout`, in seconds).
    pub ready_timeout: Duration,
}

impl LaunchConfig {
    /// A config for `agent_type` in `work_dir`, everything else unset.
    pub fn new(agent_type: AgentType, work_dir: impl Into<PathBuf>) -> Self {
        LaunchConfig {
            agent_type,
            work_dir: work_dir.into(),
            prompt: None,
            profile: None,
            resume: false,
            resume_id: None,
            model: None,
            env: BTreeMap::new(),
            skip_permissions: false,
            accept_dialogs: false,
            conversation_id: None,
            hooks: true,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }

    /// How long the launch waits for the agent to be ready for input.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Resume the agent's conversation `id`, or its latest one with `None`.
    pub fn resume(mut self, id: Option<String>) -> Self {
        self.resume = true;
        self.resume_id = id;
        self
    }

    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.conversation_id = Some(id.into());
        self
    }

    pub fn skip_permissions(mut self, on: bool) -> Self {
        self.skip_permissions = on;
        self
    }

    pub fn accept_dialogs(mut self, on: bool) -> Self {
        self.accept_dialogs = on;
        self
    }

    /// Pass the adapter's per-run hooks (on by default).
    pub fn hooks(mut self, on: bool) -> Self {
        self.hooks = on;
        self
    }
}

/// The plain fields of a launch config, each once: its Lua key and its
/// reader (the writer is the value's own `IntoLua`).
macro_rules! lua_fields {
    ($($field:ident: $read:ident),* $(,)?) => {
        fn set_plain_fields(cfg: &Table, config: &LaunchConfig) -> mlua::Result<()> {
            $(cfg.set(stringify!($field), config.$field.clone())?;)*
            Ok(())
        }

        fn get_plain_fields(table: &Table, config: &mut LaunchConfig) -> mlua::Result<()> {
            $(config.$field = $read(table, stringify!($field))?;)*
            Ok(())
        }
    };
}

lua_fields! {
    prompt: optional_string,
    profile: optional_string,
    resume: optional_bool,
    resume_id: optional_string,
    model: optional_string,
    skip_permissions: optional_bool,
    accept_dialogs: optional_bool,
    conversation_id: optional_string,
}

/// The old Lua name of `resume_id`.
const RESUME_ID_ALIAS: &str = "session_name";

impl LaunchConfig {
    /// The config as a Lua table: `agent` (the adapter name), `work_dir`,
    /// `env` (a table), and every field under its own name.
    pub(crate) fn to_lua(&self, lua: &Lua) -> mlua::Result<Table> {
        let cfg = lua.create_table()?;
        cfg.set("agent", self.agent_type.adapter_name())?;
        cfg.set("work_dir", self.work_dir.to_string_lossy().into_owned())?;
        set_plain_fields(&cfg, self)?;
        cfg.set(RESUME_ID_ALIAS, self.resume_id.clone())?;
        let env = lua.create_table()?;
        for (k, v) in &self.env {
            env.set(k.as_str(), v.as_str())?;
        }
        cfg.set("env", env)?;
        // On by default; a launch replaces it with the commands (`cfg.hooks`).
        if !self.hooks {
            cfg.set("hooks", false)?;
        }
        cfg.set("ready_timeout", self.ready_timeout.as_secs_f64())?;
        Ok(cfg)
    }

    /// A config from a Lua table as [`LaunchConfig::to_lua`] writes it
    /// (`ready_timeout` in seconds); `agent` is required, `work_dir`
    /// defaults to `.`, a wrongly typed field is an error.
    pub(crate) fn from_lua(table: &Table) -> mlua::Result<LaunchConfig> {
        let agent = optional_string(table, "agent")?
            .ok_or_else(|| mlua::Error::runtime("launch config needs 'agent'"))?;
        let agent_type = agent.parse().map_err(mlua::Error::runtime)?;
        let work_dir = optional_string(table, "work_dir")?.unwrap_or_else(|| ".".into());
        let mut config = LaunchConfig::new(agent_type, PathBuf::from(work_dir));
        get_plain_fields(table, &mut config)?;
        config.hooks = match table.get::<Value>("hooks")? {
            Value::Nil | Value::Table(_) => true,
            Value::Boolean(on) => on,
            other => {
                return Err(mlua::Error::runtime(format!(
                    "field 'hooks' must be a boolean, got {}",
                    other.type_name()
                )));
            }
        };
        if config.resume_id.is_none() {
            config.resume_id = optional_string(table, RESUME_ID_ALIAS)?;
        }
        match table.get::<Value>("env")? {
            Value::Nil => {}
            Value::Table(env) => {
                for pair in env.pairs::<String, String>() {
                    let (k, v) = pair?;
                    config.env.insert(k, v);
                }
            }
            other => {
                return Err(mlua::Error::runtime(format!(
                    "field 'env' must be a table, got {}",
                    other.type_name()
                )));
            }
        }
        if let Some(seconds) = table.get::<Option<f64>>("ready_timeout")? {
            config.ready_timeout = Duration::try_from_secs_f64(seconds).map_err(|_| {
                mlua::Error::runtime("ready_timeout must be a number of seconds >= 0")
            })?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_types_parse() {
        assert_eq!("claude".parse(), Ok(AgentType::Claude));
        assert_eq!(
            "custom:aider".parse(),
            Ok(AgentType::Custom("aider".into()))
        );
        assert_eq!("demo".parse(), Ok(AgentType::Custom("demo".into())));
        assert!("".parse::<AgentType>().is_err());
    }

    #[test]
    fn lua_tables_round_trip_every_field() {
        let lua = Lua::new();
        let config = LaunchConfig::new(AgentType::Codex, "/w")
            .prompt("p")
            .profile("pr")
            .model("m")
            .resume(Some("r".into()))
            .conversation_id("c")
            .skip_permissions(true)
            .accept_dialogs(true)
            .hooks(false)
            .ready_timeout(Duration::from_millis(2500))
            .env("K", "V");
        let table = config.to_lua(&lua).expect("to lua");
        let back = LaunchConfig::from_lua(&table).expect("from lua");
        assert_eq!(back, config);
        let old: Table = lua
            .load(r#"return { agent = "claude", session_name = "old", ready_timeout = 2 }"#)
            .eval()
            .expect("table");
        let config = LaunchConfig::from_lua(&old).expect("old name");
        assert_eq!(config.resume_id.as_deref(), Some("old"));
        assert_eq!(config.ready_timeout, Duration::from_secs(2));
    }
}
