//! What it takes to relaunch a session after its tmux server is gone: the
//! agent, work dir, model, profile and the agent's own conversation id, kept
//! as `<state dir>/sessions/<session name>.json`. The state dir is
//! `$XDG_STATE_HOME/doeff-agents` (else `~/.local/state/doeff-agents`).
//!
//! The file is written at launch and again when the conversation id becomes
//! known; `doeff-agents run --resume NAME` reads it.
//!
//! Files are private: written 0600 (through a temp file renamed over the
//! old one) in a state dir and `sessions/` folder that are 0700 (tightened
//! if they exist with wider rights). `stop` leaves `<name>.stopped` beside
//! the session's file (the pane id it stopped), so another process can tell
//! the session was stopped, not ended, even after the tmux server is gone
//! (see `session::stopped`); a new launch under that name removes it.

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
    crate::xdg::app_dir(crate::xdg::BaseDir::State)
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
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidInput(format!("cannot encode session state: {e}")))?;
        write_private(dir, &path, text.as_bytes()).map_err(io)
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

/// `<dir>/sessions/<name>.stopped`: the mark `stop` leaves.
fn stop_mark_for(dir: &Path, session_name: &str) -> PathBuf {
    dir.join("sessions").join(format!("{session_name}.stopped"))
}

/// Records that session `session_name` (pane `pane_id`) was stopped.
pub fn mark_stopped(dir: &Path, session_name: &str, pane_id: &str) -> Result<()> {
    let path = stop_mark_for(dir, session_name);
    write_private(dir, &path, pane_id.as_bytes()).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })
}

/// The pane id `stop` recorded for `session_name`, if it was stopped.
pub fn stopped_pane(dir: &Path, session_name: &str) -> Option<String> {
    let text = std::fs::read_to_string(stop_mark_for(dir, session_name)).ok()?;
    Some(text.trim().to_owned()).filter(|p| p.starts_with('%'))
}

/// Forgets a stop mark (a new session takes the name).
pub fn clear_stopped(dir: &Path, session_name: &str) {
    let _ = std::fs::remove_file(stop_mark_for(dir, session_name));
}

/// Removes everything saved for `session_name` (state file, stop mark):
/// for `prune`, once its session ended and is removed.
pub fn forget_session(dir: &Path, session_name: &str) {
    let _ = std::fs::remove_file(file_for(dir, session_name));
    clear_stopped(dir, session_name);
}

/// Makes `folder` (created if missing) a 0700 folder.
fn private_dir(folder: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)?;
    let mode = std::fs::metadata(folder)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `path` (inside `<dir>/sessions`) as a 0600 file, atomically, with
/// the state dir and its `sessions/` folder 0700.
fn write_private(dir: &Path, path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    private_dir(dir)?;
    if let Some(parent) = path.parent() {
        private_dir(parent)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(data)?;
    drop(file);
    std::fs::rename(&tmp, path)
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
    fn state_files_are_private_and_stop_marks_round_trip() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("doeff-state-mode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A state dir made earlier with wide rights is tightened.
        std::fs::create_dir_all(dir.join("sessions")).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let saved = SavedSession {
            session_name: "doeff-m".into(),
            agent: "demo".into(),
            work_dir: "/tmp".into(),
            model: None,
            profile: None,
            conversation_id: None,
            created_at: 1,
        };
        saved.save(&dir).expect("save");
        mark_stopped(&dir, "doeff-m", "%7").expect("mark");
        let mode = |p: PathBuf| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(dir.clone()), 0o700);
        assert_eq!(mode(dir.join("sessions")), 0o700);
        assert_eq!(mode(file_for(&dir, "doeff-m")), 0o600);
        assert_eq!(mode(stop_mark_for(&dir, "doeff-m")), 0o600);
        assert_eq!(stopped_pane(&dir, "doeff-m").as_deref(), Some("%7"));
        clear_stopped(&dir, "doeff-m");
        assert_eq!(stopped_pane(&dir, "doeff-m"), None);
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
