//! What it takes to relaunch a session after its tmux server is gone: the
//! agent, work dir, model, profile and the agent's own conversation id, kept
//! as `<state dir>/sessions/<session name>.json`. The state dir is
//! `$XDG_STATE_HOME/doeff-agents` (else `~/.local/state/doeff-agents`).
//!
//! The file is written at launch and again when the conversation id becomes
//! known; `doeff-agents run --resume NAME` reads it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One saved session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSession {
    /// The full tmux session name (`doeff-NAME`).
    pub session_name: String,
    /// The adapter name.
    pub agent: String,
    pub work_dir: PathBuf,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// The agent's conversation id, once known.
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub created_at: u64,
}

/// `$XDG_STATE_HOME/doeff-agents`, else `$HOME/.local/state/doeff-agents`.
pub fn default_state_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local").join("state"))
        })?;
    Some(base.join("doeff-agents"))
}

fn file_for(dir: &Path, session_name: &str) -> PathBuf {
    dir.join("sessions").join(format!("{session_name}.json"))
}

impl SavedSession {
    /// Writes the file (atomically: a temp file renamed over it).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = file_for(dir, &self.session_name);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidInput(format!("cannot encode session state: {e}")))?;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Reads the file of `session_name` (the full `doeff-` name).
    pub fn load(dir: &Path, session_name: &str) -> Result<SavedSession> {
        let path = file_for(dir, session_name);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::InvalidInput(format!("{}: not a saved session: {e}", path.display()))
        })
    }
}

/// A random (version 4) UUID, for CLIs that accept an id for a new conversation.
pub fn new_uuid() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !filled {
        // No /dev/urandom: time and pid are unique enough for one machine.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mixed = nanos ^ (u128::from(std::process::id()) << 96);
        bytes = mixed.to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_sessions_round_trip() {
        let dir = std::env::temp_dir().join(format!("doeff-state-test-{}", std::process::id()));
        let saved = SavedSession {
            session_name: "doeff-x".into(),
            agent: "codex".into(),
            work_dir: "/tmp".into(),
            model: Some("m".into()),
            profile: None,
            conversation_id: Some("abc".into()),
            created_at: 1,
        };
        saved.save(&dir).expect("save");
        assert_eq!(SavedSession::load(&dir, "doeff-x").expect("load"), saved);
        assert!(SavedSession::load(&dir, "doeff-y").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn uuids_look_like_uuids() {
        let id = new_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_uuid());
    }
}
