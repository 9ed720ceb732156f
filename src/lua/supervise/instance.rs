//! One supervisor per tmux server: a lock file beside the server's socket
//! (`SOCKET.doeff-supervisor`, an exclusive `flock` held for the
//! supervisor's life, so a crashed one frees it) and a status file beside it
//! (`SOCKET.doeff-supervisor.json`: pid, start time, tmux session, and each
//! script with its last error), rewritten whenever a script's state changes.
//! `supervise --status` and `--stop` read them; a status file whose lock is
//! free is stale and means nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ScriptStatus;
use crate::error::{Error, Result};
use crate::tmux::{Server, beside_socket};

const LOCK_SUFFIX: &str = ".doeff-supervisor";
const STATUS_SUFFIX: &str = ".doeff-supervisor.json";

/// What a running supervisor says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    /// Unix time it started.
    pub started: u64,
    /// The hidden tmux session it runs in (`--detach`), if any.
    pub session: Option<String>,
    /// Its scripts were loaded once (what `--detach` waits for).
    #[serde(default)]
    pub ready: bool,
    pub scripts: Vec<ScriptStatus>,
}

fn paths(server: &Server) -> Result<(PathBuf, PathBuf)> {
    let none = || Error::InvalidInput("cannot tell where this tmux server's socket is".into());
    let lock = beside_socket(server, LOCK_SUFFIX).ok_or_else(none)?;
    let status = beside_socket(server, STATUS_SUFFIX).ok_or_else(none)?;
    Ok((lock, status))
}

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The claim of the one supervisor of a server (released when dropped or
/// when the process ends).
#[derive(Debug)]
pub struct Claim {
    _lock: File,
    status_path: PathBuf,
    pub status: Status,
}

impl Claim {
    /// Takes the server's supervisor lock, or says who holds it.
    pub fn take(server: &Server, session: Option<String>) -> Result<Claim> {
        let (lock_path, status_path) = paths(server)?;
        if let Some(dir) = lock_path.parent()
            && !dir.exists()
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io(dir))?;
        }
        let lock = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = read_status(&status_path).map(|s| s.pid);
                return Err(Error::InvalidInput(format!(
                    "a supervisor already runs on this tmux server{}; `doeff-agents supervise --stop` ends it",
                    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                )));
            }
            Err(TryLockError::Error(source)) => return Err(io(&lock_path)(source)),
        }
        let claim = Claim {
            _lock: lock,
            status_path,
            status: Status {
                pid: std::process::id(),
                started: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
                session,
                ready: false,
                scripts: Vec::new(),
            },
        };
        claim.write();
        Ok(claim)
    }

    /// Records the scripts' state in the status file.
    pub fn update(&mut self, scripts: &[ScriptStatus]) {
        self.status.scripts = scripts.to_vec();
        self.status.ready = true;
        self.write();
    }

    /// Best effort: written whole to a temporary file, then renamed.
    fn write(&self) {
        let Ok(text) = serde_json::to_vec_pretty(&self.status) else {
            return;
        };
        let tmp = self.status_path.with_extension("json.tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &self.status_path);
        }
    }
}

fn read_status(path: &std::path::Path) -> Option<Status> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The supervisor running on `server`, if one does (its lock is held).
pub fn running(server: &Server) -> Option<Status> {
    let (lock_path, status_path) = paths(server).ok()?;
    let lock = File::open(&lock_path).ok()?;
    match lock.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_status(&status_path).unwrap_or_default()),
        Err(TryLockError::Error(_)) => None,
    }
}

/// Removes the files of a server that is gone for good (tests).
pub fn remove_files(server: &Server) {
    if let Ok((lock, status)) = paths(server) {
        let _ = std::fs::remove_file(lock);
        let _ = std::fs::remove_file(status);
    }
}
