//! The last rows each host gave `ps` (kept on this machine in
//! `$XDG_STATE_HOME/doeff-agents/hosts/HOST.json`), so a host that cannot be
//! reached still shows its sessions, with their last known status marked
//! stale rather than guessed.

use std::path::PathBuf;

use super::protocol::SessionRow;

fn path(host: &str) -> Option<PathBuf> {
    // Host names are destinations (`me@build:22`): keep a file-safe form.
    let safe: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_string()
            } else {
                format!("%{:02x}", u32::from(c))
            }
        })
        .collect();
    let dir = crate::xdg::app_dir(crate::xdg::BaseDir::State)?.join("hosts");
    Some(dir.join(format!("{safe}.json")))
}

/// Keeps `rows` as `host`'s last known sessions (best effort).
pub fn save(host: &str, rows: &[SessionRow]) {
    let Some(path) = path(host) else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(text) = serde_json::to_string(rows) {
        let tmp = path.with_extension("json.tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(tmp, path);
        }
    }
}

/// `host`'s last known sessions (none if never seen).
pub fn load(host: &str) -> Vec<SessionRow> {
    path(host)
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}
