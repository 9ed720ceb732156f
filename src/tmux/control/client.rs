//! The control-mode client process: [`Client`] spawns and owns one
//! `tmux -C` child attached to a hidden session, the thread reading its
//! output ([`read_replies`]: replies to the caller, notifications to
//! [`OutputEvents`]), the round trip of one command line, and leaving.
//! Reconnecting is `ControlMode`'s (`control/mod.rs`); a client here is
//! connected once and dropped when lost.
//!
//! **Coming and going safely.** tmux 3.3a's server can crash when a control
//! client's handshake or departure meets session changes or another
//! client's departure (see [`ServerLock`]). So a client connects and leaves
//! under the per-server lock, and it leaves by killing its own hidden
//! session (the shared one only when it is the last client there) rather
//! than by `detach-client`; then stdin is closed and the process reaped. A
//! client is killed only when it has not left within a call's time (its
//! server is stalled), and it dies with this process, even by SIGKILL
//! (`PR_SET_PDEATHSIG`, see `tmux/child.rs`): no `tmux -C` is left behind.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::events::{self, OutputEvents, is_structural, output_pane, subscription_pane};
use super::parser::{Event, Parser, Reply};
use super::wire::encode;
use crate::error::{Error, Result};
use crate::tmux::child::{self, spawn_error};
use crate::tmux::server::Server;
use crate::tmux::server_lock::ServerLock;
use crate::tmux::subprocess::Subprocess;
use crate::tmux::transport::{TmuxArgs, Transport};
use crate::tmux::{CONTROL_SESSION, is_no_server};

/// Longest wait for a new client's first reply.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long dropping a client waits for it to exit before reaping it in the background.
const DETACH_WAIT: Duration = Duration::from_millis(500);

/// Why a call could not be completed over the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lost {
    /// The client's output ended or its stdin is closed.
    Closed,
    /// No reply within a call's time (`tmux/child.rs`: `call_timeout`).
    Timeout,
}

impl Lost {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Lost::Closed => "it exited",
            Lost::Timeout => "no reply",
        }
    }
}

/// One `tmux -C` client process and the thread reading its output.
#[derive(Debug)]
pub(super) struct Client {
    child: Option<Child>,
    /// Our end of the client's stdin: a socket, so a write to a client
    /// that died fails with EPIPE instead of raising SIGPIPE (which the
    /// binary leaves at its default, for `ps | head`).
    stdin: Option<UnixStream>,
    replies: Receiver<Reply>,
    reader: Option<JoinHandle<()>>,
    /// The server, for the lock and the round trip after leaving.
    server: Server,
    /// The hidden session it is attached to, and whether it is its own
    /// (an event client's) rather than shared.
    session: String,
    own_session: bool,
}

impl Client {
    /// The client's process id.
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts a client attached to [`CONTROL_SESSION`], if the server runs.
    pub(super) fn connect(
        subprocess: &Subprocess,
        session: &str,
        events: Option<Arc<OutputEvents>>,
    ) -> Result<Client> {
        let (ours, theirs) = UnixStream::pair().map_err(spawn_error)?;
        let mut command = Command::new("tmux");
        command
            .arg("-u")
            .args(subprocess.server().global_args())
            .arg("-C")
            .args(["new-session", "-A", "-s", session, "--", "cat"])
            .current_dir("/")
            // Its own process group: a Ctrl-C at the terminal reaches us,
            // not it; it leaves when we do (by the leaving line, or at the
            // latest when its stdin closes).
            .process_group(0)
            .env_remove("TMUX")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let has_events = events.is_some();
        // No session may come or go while tmux sets this client up.
        let lock = ServerLock::acquire(subprocess.server());
        // Never start a server as a side effect: the listing that finds
        // stale hidden sessions also says whether one runs.
        reap_stale_sessions(subprocess)?;
        // Dies with this process, even by SIGKILL (see tmux/child.rs).
        let mut child = child::spawn_kept(command).map_err(spawn_error)?;
        let stdin = Some(ours);
        let stdout = child.stdout.take();
        let (sender, replies) = mpsc::channel();
        let reader = stdout.and_then(|stdout| {
            std::thread::Builder::new()
                .name("tmux-control-reader".into())
                .spawn(move || read_replies(stdout, sender, events))
                .ok()
        });
        let mut client = Client {
            child: Some(child),
            stdin,
            replies,
            reader,
            server: subprocess.server().clone(),
            session: session.to_owned(),
            own_session: has_events,
        };
        if client.reader.is_none() || client.stdin.is_none() {
            return Err(connect_error("cannot set up the client's pipes"));
        }
        // The attaching command's own reply (flags 0) comes first.
        match client.replies.recv_timeout(CONNECT_TIMEOUT) {
            Ok(reply) if reply.ok => {}
            Ok(reply) => return Err(connect_error(&reply.message())),
            Err(RecvTimeoutError::Timeout) => return Err(connect_error("no reply")),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(connect_error("the client exited"));
            }
        }
        // Without output notifications the client only speaks when asked
        // (an event client's own session holds only watched windows).
        // Failures here are not fatal (older tmux spells the flag differently;
        // the reader drops notifications anyway).
        if !has_events {
            let quiet = vec!["refresh-client".into(), "-f".into(), "no-output".into()];
            if let Some(line) = encode(&[quiet])
                && let Err(lost) = client.execute(&line, 1)
            {
                return Err(connect_error(lost.describe()));
            }
        } else if let Some(line) = encode(&[events::hook_subscription()])
            && let Err(lost) = client.execute(&line, 1)
        {
            // A change of a watched pane's hook option wakes the watcher
            // like its output does (tmux checks subscriptions each second).
            return Err(connect_error(lost.describe()));
        }
        drop(lock);
        Ok(client)
    }

    /// Writes one command line and collects `count` replies. The outer error
    /// means the client is unusable; the inner one is tmux's error message.
    /// Drops replies left over from an earlier call (they would be
    /// misattributed), then writes one command line.
    fn send_line(&mut self, line: &[u8]) -> std::result::Result<(), Lost> {
        loop {
            match self.replies.try_recv() {
                Ok(_) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Err(Lost::Closed),
            }
        }
        let stdin = self.stdin.as_ref().ok_or(Lost::Closed)?;
        let mut framed = Vec::with_capacity(line.len() + 1);
        framed.extend_from_slice(line);
        framed.push(b'\n');
        send_all(stdin, &framed).map_err(|_| Lost::Closed)
    }

    pub(super) fn execute(
        &mut self,
        line: &[u8],
        count: usize,
    ) -> std::result::Result<std::result::Result<Vec<u8>, String>, Lost> {
        self.send_line(line)?;
        let deadline = Instant::now() + child::call_timeout();
        let mut out = Vec::new();
        let mut received = 0;
        while received < count {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(wait) {
                Ok(reply) if !reply.guard.from_client() => {}
                Ok(reply) if reply.ok => {
                    out.extend_from_slice(&reply.data);
                    received += 1;
                }
                // tmux skips the rest of the line after a failing command.
                Ok(reply) => return Ok(Err(reply.message())),
                Err(RecvTimeoutError::Timeout) => return Err(Lost::Timeout),
                Err(RecvTimeoutError::Disconnected) => return Err(Lost::Closed),
            }
        }
        Ok(Ok(out))
    }
}

impl Client {
    /// Like [`Client::execute`], keeping each reply apart; stops after the
    /// first error reply (tmux runs nothing after it on the line).
    #[allow(clippy::type_complexity)]
    pub(super) fn execute_each(
        &mut self,
        line: &[u8],
        count: usize,
    ) -> std::result::Result<Vec<std::result::Result<Vec<u8>, String>>, Lost> {
        self.send_line(line)?;
        let deadline = Instant::now() + child::call_timeout();
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(wait) {
                Ok(reply) if !reply.guard.from_client() => {}
                Ok(reply) if reply.ok => out.push(Ok(reply.data)),
                Ok(reply) => {
                    out.push(Err(reply.message()));
                    break;
                }
                Err(RecvTimeoutError::Timeout) => return Err(Lost::Timeout),
                Err(RecvTimeoutError::Disconnected) => return Err(Lost::Closed),
            }
        }
        Ok(out)
    }
}

impl Client {
    /// The lines that make the client leave: its own hidden session is
    /// killed (which detaches it properly and takes the linked windows
    /// along); the shared one only by its last client.
    ///
    /// An event client first drops its hook subscription, on a line of its
    /// own (an error there must not skip the kill): once its session is
    /// gone the client has no session until it has exited, and tmux 3.3a's
    /// once-a-second subscription check walks that NULL session's windows
    /// and segfaults, taking every session of the server with it. On a
    /// loaded machine a leaving client is often slow enough for the check
    /// to fire (seen as another session's `watch` ending at once).
    fn leaving_line(&self) -> Vec<u8> {
        let target = format!("={}", self.session);
        let mut lines = Vec::new();
        let command = if self.own_session {
            let unsubscribe = vec![
                "refresh-client".to_owned(),
                "-B".to_owned(),
                events::HOOK_SUBSCRIPTION.to_owned(),
            ];
            if let Some(line) = encode(&[unsubscribe]) {
                lines.extend_from_slice(&line);
                lines.push(b'\n');
            }
            vec!["kill-session".to_owned(), "-t".to_owned(), target]
        } else {
            vec![
                "if-shell".to_owned(),
                "-F".to_owned(),
                "-t".to_owned(),
                format!("{target}:"),
                "#{==:#{session_attached},1}".to_owned(),
                format!("kill-session -t {target}"),
                "detach-client".to_owned(),
            ]
        };
        lines.extend(encode(&[command]).unwrap_or_else(|| b"detach-client".to_vec()));
        lines.push(b'\n');
        lines
    }
}

impl Drop for Client {
    /// Leaves gracefully, holding the server lock: the leaving line, stdin
    /// closed, the process reaped, then one subprocess round trip so the
    /// server has handled the departure before the lock is released (in the
    /// background, unlocked, if the client takes long; killed only if it has
    /// not left within a call's time, i.e. its server is stalled).
    fn drop(&mut self) {
        let lock = ServerLock::acquire(&self.server);
        if let Some(stdin) = self.stdin.take() {
            let _ = send_all(&stdin, &self.leaving_line());
        }
        let Some(mut child) = self.child.take() else {
            return;
        };
        let reader = self.reader.take();
        // Leaving at exit: wait it out (the client dies with this process,
        // and must not be cut off half-way through leaving).
        let wait = if super::LEAVING.load(Ordering::Relaxed) {
            child::call_timeout()
        } else {
            DETACH_WAIT
        };
        let deadline = Instant::now() + wait;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => {
                    if let Some(reader) = reader {
                        let _ = reader.join();
                    }
                    if lock.is_held() {
                        let probe =
                            vec!["has-session".to_owned(), "-t".to_owned(), "=_".to_owned()];
                        let _ = Subprocess::new(self.server.clone()).run(&[probe], None);
                    }
                    return;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(None) => break,
            }
        }
        drop(lock);
        // A client that does not leave within a call's time never will (its
        // server is stalled): it is ended then, never left behind.
        let _ = std::thread::Builder::new()
            .name("tmux-control-reaper".into())
            .spawn(move || {
                let deadline = Instant::now() + child::call_timeout();
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = child.kill();
                }
                let _ = child.wait();
                if let Some(reader) = reader {
                    let _ = reader.join();
                }
            });
    }
}

/// Kills hidden sessions no live client will leave by itself: an event
/// session whose process is gone (killed before it could leave), and the
/// shared session with no client attached. (Hidden sessions are not
/// `destroy-unattached`: tmux 3.3a frees such a session under a client
/// that is still leaving, and crashes.) Called under the server lock; the
/// error is "no server running" (anything else is left to the connect).
fn reap_stale_sessions(subprocess: &Subprocess) -> Result<()> {
    let list = vec![
        "list-sessions".to_owned(),
        "-F".to_owned(),
        "#{session_name} #{session_attached}".to_owned(),
    ];
    let out = match subprocess.run(&[list], None) {
        Ok(out) => out,
        Err(err) if is_no_server(&err) => return Err(err),
        Err(_) => return Ok(()),
    };
    let kills: Vec<TmuxArgs> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(name, attached)| is_stale(name, *attached == "0"))
        .map(|(name, _)| {
            vec![
                "kill-session".to_owned(),
                "-t".to_owned(),
                format!("={name}"),
            ]
        })
        .collect();
    if !kills.is_empty() {
        let _ = subprocess.run_each(&kills);
    }
    Ok(())
}

/// True for a hidden session left behind (see [`reap_stale_sessions`]).
fn is_stale(name: &str, unattached: bool) -> bool {
    let Some(rest) = name.strip_prefix(CONTROL_SESSION) else {
        return false;
    };
    if rest.is_empty() {
        return unattached;
    }
    // `-PID-N`: stale when that process is gone.
    let pid = rest
        .strip_prefix('-')
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<i32>().ok());
    pid.is_some_and(|pid| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH)
    })
}

/// Writes all of `data` to the client's stdin socket without SIGPIPE.
fn send_all(stream: &UnixStream, mut data: &[u8]) -> nix::Result<()> {
    use nix::sys::socket::{MsgFlags, send};
    while !data.is_empty() {
        match send(stream.as_raw_fd(), data, MsgFlags::MSG_NOSIGNAL) {
            Ok(sent) => data = data.get(sent..).unwrap_or_default(),
            Err(nix::errno::Errno::EINTR) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

pub(super) fn connect_error(why: &str) -> Error {
    Error::tmux("control client".into(), why.to_owned())
}

/// The reader thread: parses the client's output and forwards replies;
/// notifications are recorded in `events` (when given) or dropped. Ends
/// (dropping the sender, and recording a structural event) at end of output.
fn read_replies(mut stdout: ChildStdout, sender: Sender<Reply>, events: Option<Arc<OutputEvents>>) {
    let mut parser = Parser::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match stdout.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for event in parser.feed(buffer.get(..read).unwrap_or_default()) {
            match event {
                Event::Reply(reply) => {
                    if sender.send(reply).is_err() {
                        return;
                    }
                }
                Event::Notification(notice) => {
                    let Some(events) = &events else { continue };
                    if notice.name == "output" {
                        if let Some(pane) = output_pane(&notice.rest) {
                            events.mark_output(pane);
                        }
                    } else if notice.name == "subscription-changed" {
                        if let Some(pane) = subscription_pane(&notice.rest) {
                            events.mark_output(pane);
                        }
                    } else if is_structural(&notice.name) {
                        events.mark_structure();
                    }
                }
            }
        }
    }
    if let Some(events) = &events {
        events.mark_structure();
    }
}
