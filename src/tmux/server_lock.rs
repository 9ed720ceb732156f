//! The per-server lock that keeps tmux 3.3a's server alive under control
//! clients. Two server crashes were traced (core dumps symbolized against a
//! rebuild of Debian's tmux 3.3a):
//!
//! - **`control_write`**: a control client's handshake takes several writes,
//!   and until the last one the server has no control state for it; a
//!   `%sessions-changed` (a session created or killed) or `%client-detached`
//!   notification in between dereferences that missing state.
//! - **`server_client_check_modes`**: a client leaving by `detach-client`
//!   still points at its session until its exit completes; if another
//!   client's departure makes `destroy-unattached` free that session
//!   meanwhile, the next server loop reads freed memory.
//!
//! So every doeff-agents process takes [`ServerLock`] (an exclusive `flock`
//! on a file beside the server's socket) around a control client's
//! handshake, around its departure (which kills its own hidden session
//! instead of detaching, and waits for the server to have handled it), and
//! around creating or killing sessions and the server. Under a stress of
//! launches, stops, `ps` and watches in parallel this took the server from
//! ~50 segfaults a minute to none.
//!
//! The lock is re-entrant on one thread (a call holding it may drop a
//! client). If the socket's folder does not exist there is no server to
//! protect and no lock. A holder is bounded (its own tmux calls time out),
//! and a waiter gives up after `LOCK_WAIT` and goes on unlocked rather
//! than hang.

use std::cell::RefCell;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::server::{Server, Socket};

/// Longest wait for the lock before going on without it.
pub const LOCK_WAIT: Duration = Duration::from_secs(15);

thread_local! {
    /// Lock files this thread holds (for re-entrance).
    static HELD: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

/// Holds the server's lock until dropped (a no-op guard when re-entered,
/// when there is no socket folder, or after `LOCK_WAIT`).
#[derive(Debug)]
pub struct ServerLock {
    held: Option<(PathBuf, File)>,
}

impl ServerLock {
    /// Takes the lock of `server`.
    pub fn acquire(server: &Server) -> ServerLock {
        let unlocked = ServerLock { held: None };
        let Some(path) = lock_path(server) else {
            return unlocked;
        };
        if HELD.with(|held| held.borrow().contains(&path)) {
            return unlocked;
        }
        let Ok(file) = OpenOptions::new().create(true).append(true).open(&path) else {
            return unlocked;
        };
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return unlocked,
            }
        }
        HELD.with(|held| held.borrow_mut().push(path.clone()));
        ServerLock {
            held: Some((path, file)),
        }
    }

    /// True when this guard holds the lock (not a re-entered or no-op one).
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }
}

impl Drop for ServerLock {
    fn drop(&mut self) {
        if let Some((path, file)) = self.held.take() {
            HELD.with(|held| held.borrow_mut().retain(|p| p != &path));
            // Closing the file releases the flock.
            drop(file);
        }
    }
}

/// Removes the lock file of a server that is gone for good (a throwaway
/// server after `kill-server`): with the server gone nobody holds or needs
/// it. Never call it for a server that may still be used.
pub fn remove_lock_file(server: &Server) {
    if let Some(path) = lock_path(server) {
        let _ = std::fs::remove_file(path);
    }
    if let Some(dir) = beside_socket(server, SEND_LOCK_SUFFIX) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The folder of a server's per-session send locks (`session::send_lock`).
pub const SEND_LOCK_SUFFIX: &str = ".doeff-send";

/// `SOCKET<suffix>`: a path beside the server's socket.
pub fn beside_socket(server: &Server, suffix: &str) -> Option<PathBuf> {
    let socket = socket_path(server)?;
    let mut name = socket.file_name()?.to_os_string();
    name.push(suffix);
    Some(socket.parent()?.join(name))
}

/// `SOCKET.doeff-lock`, when the socket's folder exists.
fn lock_path(server: &Server) -> Option<PathBuf> {
    let socket = socket_path(server)?;
    let parent = socket.parent()?;
    if !parent.is_dir() {
        return None;
    }
    let mut name = socket.file_name()?.to_os_string();
    name.push(".doeff-lock");
    Some(parent.join(name))
}

/// Where tmux puts the server's socket: `-S PATH`, or
/// `$TMUX_TMPDIR/tmux-UID/NAME` (default name `default`, or the socket of
/// `$TMUX` inside tmux, as tmux itself does).
pub fn socket_path(server: &Server) -> Option<PathBuf> {
    let dir = || {
        let tmp = std::env::var_os("TMUX_TMPDIR")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        tmp.join(format!("tmux-{}", nix::unistd::getuid()))
    };
    match &server.socket {
        Socket::Path(path) => Some(path.clone()),
        Socket::Name(name) => Some(dir().join(name)),
        Socket::Default => {
            let inside = std::env::var("TMUX").ok().and_then(|v| {
                v.split(',')
                    .next()
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
            });
            Some(inside.unwrap_or_else(|| dir().join("default")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_reentrant_on_a_thread_and_exclusive_across_threads() {
        let dir = std::env::temp_dir().join(format!("doeff-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let server = Server::at_path(dir.join("sock"));
        let outer = ServerLock::acquire(&server);
        assert!(outer.is_held());
        let inner = ServerLock::acquire(&server);
        assert!(!inner.is_held(), "re-entered on the same thread");
        let other = std::thread::spawn({
            let server = server.clone();
            move || {
                let path = lock_path(&server).expect("path");
                let file = OpenOptions::new().append(true).open(path).expect("open");
                matches!(file.try_lock(), Err(TryLockError::WouldBlock))
            }
        });
        assert!(other.join().expect("thread"), "another holder is refused");
        drop(inner);
        drop(outer);
        assert!(ServerLock::acquire(&server).is_held());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_socket_folder_means_no_lock() {
        let server = Server::at_path("/nonexistent-doeff-dir/sock");
        assert!(!ServerLock::acquire(&server).is_held());
    }
}
