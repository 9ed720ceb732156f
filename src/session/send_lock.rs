//! One sender at a time per session, across processes and threads.
//!
//! A message is pasted, then submitted with a separate Enter; two senders
//! interleaving those steps make one merged message and an empty submit.
//! So every send (and the launch's own prompt) holds an exclusive `flock`
//! on `SOCKET.doeff-send/SESSION.lock`, beside the tmux server's socket:
//! every process talking to that server finds the same file, whatever its
//! state dir (a library user has none). The folder is created 0700 and must
//! be owned by this user and closed to others (so in a shared `/tmp` another
//! user cannot hold or swap the lock); the file is 0600, opened without
//! following a symlink, and re-checked after locking (a file removed and
//! re-created meanwhile is locked again). A waiter gives up after its
//! deadline with a clear error. With no socket folder there is no server,
//! hence nothing to serialise.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::tmux::{SEND_LOCK_SUFFIX, Server, beside_socket};

/// How long a send waits for another send to the same session to finish
/// (longer than one send can take: its readiness wait plus its Enters).
pub const SEND_LOCK_WAIT: Duration = Duration::from_secs(90);
const RETRY: Duration = Duration::from_millis(10);

/// Held until dropped (closing the file releases the lock).
#[derive(Debug)]
pub struct SendLock {
    _file: Option<File>,
}

/// `SOCKET.doeff-send`, the folder of the server's send locks.
pub fn send_lock_dir(server: &Server) -> Option<PathBuf> {
    beside_socket(server, SEND_LOCK_SUFFIX)
}

/// Removes the lock file of a session that is gone (best effort).
pub fn remove_send_lock(server: &Server, session: &str) {
    if let Some(dir) = send_lock_dir(server) {
        let _ = std::fs::remove_file(dir.join(format!("{session}.lock")));
    }
}

impl SendLock {
    /// Waits up to `wait` for `session`'s lock on `server`; `waiting` is
    /// called on each retry (progress).
    pub fn acquire(
        server: &Server,
        session: &str,
        wait: Duration,
        mut waiting: impl FnMut(),
    ) -> Result<SendLock> {
        let Some(dir) = send_lock_dir(server) else {
            return Ok(SendLock { _file: None });
        };
        if !dir.parent().is_some_and(Path::is_dir) {
            return Ok(SendLock { _file: None });
        }
        private_dir(&dir)?;
        let path = dir.join(format!("{session}.lock"));
        let deadline = Instant::now() + wait;
        loop {
            let file = open_lock_file(&path)?;
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                        waiting();
                        std::thread::sleep(RETRY);
                    }
                    Err(TryLockError::WouldBlock) => {
                        return Err(Error::Send {
                            session: session.to_owned(),
                            message: format!(
                                "another send to this session was still in progress after {}s",
                                wait.as_secs()
                            ),
                        });
                    }
                    Err(TryLockError::Error(source)) => return Err(Error::Io { path, source }),
                }
            }
            if same_file(&file, &path) {
                return Ok(SendLock { _file: Some(file) });
            }
            // Removed (or replaced) while we waited: lock the current one.
        }
    }
}

/// Creates `dir` 0700, or checks that the existing one is ours and private.
fn private_dir(dir: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(io(err)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    let uid = nix::unistd::getuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(Error::InvalidInput(format!(
            "{}: the send lock folder must be a directory owned by you with mode 0700",
            dir.display()
        )));
    }
    Ok(())
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// True while `path` still names the file `file` has open.
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_in(dir: &Path) -> Server {
        Server::at_path(dir.join("sock"))
    }

    #[test]
    fn one_holder_at_a_time_and_a_deadline_for_the_rest() {
        let dir = std::env::temp_dir().join(format!("doeff-send-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let server = server_in(&dir);
        let held = SendLock::acquire(&server, "doeff-a", SEND_LOCK_WAIT, || {}).expect("lock");
        let lock_dir = send_lock_dir(&server).expect("dir");
        let mode = std::fs::metadata(&lock_dir)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let file_mode = std::fs::metadata(lock_dir.join("doeff-a.lock"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(file_mode & 0o777, 0o600);
        let mut waits = 0;
        let err = SendLock::acquire(&server, "doeff-a", Duration::from_millis(100), || {
            waits += 1
        })
        .expect_err("held elsewhere");
        assert!(err.to_string().contains("still in progress"), "{err}");
        assert!(waits > 0);
        // Another session's lock is independent.
        SendLock::acquire(&server, "doeff-b", Duration::ZERO, || {}).expect("other session");
        drop(held);
        SendLock::acquire(&server, "doeff-a", Duration::ZERO, || {}).expect("released");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_folder_open_to_others_is_refused() {
        let dir = std::env::temp_dir().join(format!("doeff-send-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let server = server_in(&dir);
        let lock_dir = send_lock_dir(&server).expect("dir");
        std::fs::create_dir(&lock_dir).expect("mkdir");
        std::fs::set_permissions(&lock_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = SendLock::acquire(&server, "doeff-a", Duration::ZERO, || {}).expect_err("open");
        assert!(err.to_string().contains("mode 0700"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
