//! What an adapter launches: [`LaunchConfig`] and [`AgentType`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

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
    /// Resume a previous conversation (`session_name` names it when given).
    pub resume: bool,
    /// The agent's own conversation/session id, for `resume`.
    pub session_name: Option<String>,
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
    /// `cfg.conversation_id`: the one to resume (`session_name` when
    /// resuming), or a fresh one the launch fills in for CLIs that accept
    /// an id for a new conversation.
    pub conversation_id: Option<String>,
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
            session_name: None,
            model: None,
            env: BTreeMap::new(),
            skip_permissions: false,
            accept_dialogs: false,
            conversation_id: None,
        }
    }

    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
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
}
