//! The control-mode transport: [`ControlMode`] runs tmux commands over one
//! persistent `tmux -C` client instead of one process per call (~50 µs
//! instead of ~2 ms). It owns that client's lifetime (connect, detach,
//! reconnect), and the fallback to [`Subprocess`] whenever the client is not
//! there. Commands go over the wire as `wire.rs` encodes them, replies are
//! read by `parser.rs`, notifications recorded by `events.rs`.
//!
//! **What keeps the client alive.** A control client must be attached to a
//! session (`tmux -C has-session` exits right after its reply), and attaching
//! it to an agent's session would mark that session "attached" and end the
//! client when the agent is killed. So the client creates (or joins) a hidden
//! session, [`CONTROL_SESSION`], running `cat`: it survives the last agent
//! session being killed, and the last control client leaving kills it (after
//! which the server exits as usual if it has no other session). While a
//! control client is connected, the server therefore outlives its last agent
//! session. A hidden session left by a process that died without leaving
//! is killed by the next client to connect (not `destroy-unattached`: see
//! [`reap_stale_sessions`]). `Tmux::list_sessions` and `Tmux::pane_states`
//! hide these sessions.
//!
//! **No side effects on a missing server.** Connecting first asks, by
//! subprocess, whether the server runs; with no server every call goes by
//! subprocess (and reports "no server running" exactly as [`Subprocess`]
//! does); a new connection is tried at most once per [`RECONNECT_INTERVAL`].
//!
//! **Output events.** [`ControlMode::with_events`] attaches its client to a
//! hidden session of its own (`_doeff-control-PID-N`, also hidden) without
//! the `no-output` flag, and [`Transport::watch_pane`] links a watched
//! pane's window into that session (`link-window -d`): tmux sends a control
//! client `%output` only for panes of its own session's windows, so exactly
//! the watched panes report output, recorded in [`OutputEvents`]. Linking
//! changes nothing for the agent's session (size, attached flag, targets),
//! but it keeps the window alive if the agent's session is killed while
//! linked: [`Transport::unwatch_pane`] unlinks with `-k`, so a window left
//! only in the hidden session is destroyed then (the monitor unwatches a
//! pane as soon as it sees its session gone), and at the latest when the
//! client leaves (killing its session). After a reconnect the watched
//! windows are linked again and a structural event tells the watcher to
//! look at every pane.
//!
//! **Failure.** If the client's output ends (server killed, session killed),
//! the loss is logged once on stderr, the call is retried by subprocess (so it
//! fails with tmux's own "no server running" message), and later calls try
//! to reconnect lazily.
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

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::child::spawn_error;
use super::server::Server;
use super::server_lock::ServerLock;
use super::subprocess::Subprocess;
use super::transport::{TmuxArgs, Transport, is_ambiguous};
use super::{CONTROL_SESSION, is_no_server};
use crate::error::{Error, Result};
use events::{is_structural, output_pane, subscription_pane};
use parser::{Event, Parser, Reply};
use wire::{Request, encode};

mod events;
pub mod parser;
pub(super) mod wire;

pub use events::{OutputEvents, Pending};

/// Longest wait for a new client's first reply.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Minimum time between two connection attempts.
pub const RECONNECT_INTERVAL: Duration = Duration::from_secs(1);
/// How long dropping a client waits for it to exit before reaping it in the background.
const DETACH_WAIT: Duration = Duration::from_millis(500);

/// A [`Transport`] over one persistent `tmux -C` client, falling back to
/// [`Subprocess`] when the client is not connected.
#[derive(Debug)]
pub struct ControlMode {
    fallback: Subprocess,
    /// Shared with [`LIVE_CLIENTS`], so a signal can make the client leave.
    state: Arc<Mutex<State>>,
    /// The latest loss of the client was already reported on stderr.
    loss_logged: AtomicBool,
    /// The hidden session the client attaches to.
    session: String,
    /// Output notifications, when this client receives them.
    events: Option<Arc<OutputEvents>>,
    /// Watched panes and the id of their window, once linked.
    watched: Mutex<HashMap<String, Option<String>>>,
}

static EVENT_SESSIONS: AtomicU64 = AtomicU64::new(0);

/// Set by [`leave_all`]: the process is exiting, no client connects again.
static LEAVING: AtomicBool = AtomicBool::new(false);

/// Every control-mode transport's state in this process (see [`leave_all`]).
static LIVE_CLIENTS: Mutex<Vec<std::sync::Weak<Mutex<State>>>> = Mutex::new(Vec::new());

/// Makes every control client of this process leave gracefully now (for a
/// process about to exit on a signal: a client that just vanishes leaves
/// outside the server lock; see [`ServerLock`]). Later calls on those
/// transports go by subprocess until they reconnect.
pub fn leave_all() {
    LEAVING.store(true, Ordering::Relaxed);
    let states: Vec<_> = LIVE_CLIENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect();
    for state in states {
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let left = take_client(&mut state);
        drop(state);
        drop(left);
    }
}

#[derive(Debug)]
enum State {
    Connected(Client),
    Disconnected { last_attempt: Option<Instant> },
}

impl ControlMode {
    /// A transport for `server`, connecting now if the server runs (if not,
    /// calls go by subprocess until a later connection succeeds).
    pub fn new(server: Server) -> Self {
        let transport = Self::disconnected(server);
        let _ = transport.connect();
        transport
    }

    /// A transport that connects on first use (at most once per
    /// [`RECONNECT_INTERVAL`]).
    pub fn disconnected(server: Server) -> Self {
        let state = Arc::new(Mutex::new(State::Disconnected { last_attempt: None }));
        let mut live = LIVE_CLIENTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        live.retain(|weak| weak.strong_count() > 0);
        live.push(Arc::downgrade(&state));
        drop(live);
        ControlMode {
            fallback: Subprocess::new(server),
            state,
            loss_logged: AtomicBool::new(false),
            session: CONTROL_SESSION.to_owned(),
            events: None,
            watched: Mutex::new(HashMap::new()),
        }
    }

    /// A transport whose client also reports output of watched panes (see
    /// the module docs), connecting now if the server runs.
    pub fn with_events(server: Server) -> Self {
        let n = EVENT_SESSIONS.fetch_add(1, Ordering::Relaxed);
        let mut transport = Self::disconnected(server);
        transport.session = format!("{CONTROL_SESSION}-{}-{n}", std::process::id());
        transport.events = Some(Arc::new(OutputEvents::new()));
        let _ = transport.connect();
        transport
    }

    /// The hidden session this client attaches to.
    pub fn session_name(&self) -> &str {
        &self.session
    }

    fn new_client(&self) -> Result<Client> {
        let mut client = Client::connect(&self.fallback, &self.session, self.events.clone())?;
        if let Some(events) = &self.events {
            let mut watched = self.watched_lock();
            for (pane, window) in watched.iter_mut() {
                *window = link_window(&mut client, &self.session, pane);
            }
            events.mark_structure();
        }
        Ok(client)
    }

    fn watched_lock(&self) -> MutexGuard<'_, HashMap<String, Option<String>>> {
        self.watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connects now unless already connected; the error says why not (e.g.
    /// no server running).
    pub fn connect(&self) -> Result<()> {
        if self.is_connected() {
            return Ok(());
        }
        if LEAVING.load(Ordering::Relaxed) {
            return Err(connect_error("the process is exiting"));
        }
        // The server lock before the state lock, never under it (see lock_connecting).
        let _server_lock = ServerLock::acquire(self.server());
        let mut state = self.lock();
        if matches!(*state, State::Connected(_)) {
            return Ok(());
        }
        *state = State::Disconnected {
            last_attempt: Some(Instant::now()),
        };
        let client = self.new_client()?;
        *state = State::Connected(client);
        self.loss_logged.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// True while the control client is attached.
    pub fn is_connected(&self) -> bool {
        matches!(*self.lock(), State::Connected(_))
    }

    /// The control client's process id, while connected.
    pub fn client_pid(&self) -> Option<u32> {
        match &*self.lock() {
            State::Connected(client) => client.child.as_ref().map(Child::id),
            State::Disconnected { .. } => None,
        }
    }

    /// Detaches the client now (the next call may reconnect after
    /// [`RECONNECT_INTERVAL`]).
    pub fn disconnect(&self) {
        let mut state = self.lock();
        let left = take_client(&mut state);
        drop(state);
        drop(left);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True when disconnected and a connection should be tried now (always
    /// with `force`, else once the last attempt is old enough).
    fn connection_due(state: &State, force: bool) -> bool {
        if LEAVING.load(Ordering::Relaxed) {
            return false;
        }
        match state {
            State::Connected(_) => false,
            State::Disconnected { last_attempt } => {
                force || !last_attempt.is_some_and(|at| at.elapsed() < RECONNECT_INTERVAL)
            }
        }
    }

    /// The state, locked, after connecting if a connection is due. Lock
    /// order: the [`ServerLock`] a connection needs is taken *before* the
    /// state lock, and never while holding it (a thread holding the server
    /// lock to create a session may be waiting for the state lock); likewise
    /// a lost client is dropped (leaving under the server lock) only after
    /// the state lock is released ([`take_client`]).
    fn lock_connecting(&self, force: bool) -> MutexGuard<'_, State> {
        let mut server_lock = None;
        loop {
            let state = self.lock();
            if !Self::connection_due(&state, force) {
                return state;
            }
            if server_lock.is_some() {
                return self.lock_then_connect(state);
            }
            // Due: let go of the state, take the server lock, look again.
            drop(state);
            server_lock = Some(ServerLock::acquire(self.server()));
        }
    }

    fn lock_then_connect<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if let State::Disconnected { last_attempt } = &mut *state {
            *last_attempt = Some(Instant::now());
        }
        if let Ok(client) = self.new_client() {
            *state = State::Connected(client);
            // A later loss is reported again.
            self.loss_logged.store(false, Ordering::Relaxed);
        }
        state
    }

    fn log_loss(&self, why: &str) {
        if !self.loss_logged.swap(true, Ordering::Relaxed) {
            eprintln!(
                "doeff-agents: tmux control client lost ({why}); using one tmux process per call"
            );
        }
    }
}

impl ControlMode {
    /// Runs `commands` over the client; `None` when they must go by
    /// subprocess instead (not connected, the client lost, not encodable).
    fn run_on_client(
        &self,
        commands: &[TmuxArgs],
        stdin: Option<&[u8]>,
    ) -> Option<Result<Vec<u8>>> {
        let request = Request::build(commands, stdin)?;
        {
            let mut state = self.lock_connecting(false);
            if let State::Connected(client) = &mut *state {
                match client.execute(&request.line, request.count) {
                    Ok(Ok(out)) if request.kills_server => {
                        // Dropping the client waits (briefly) for it to see
                        // the server go, so the next call finds no server.
                        let left = take_client(&mut state);
                        drop(state);
                        drop(left);
                        return Some(Ok(out));
                    }
                    Ok(Ok(out)) => return Some(Ok(out)),
                    Ok(Err(message)) => {
                        return Some(Err(Error::tmux(request.name, message)));
                    }
                    Err(lost) => {
                        let left = take_client(&mut state);
                        drop(state);
                        drop(left);
                        self.log_loss(lost.describe());
                        if lost == Lost::Timeout {
                            return Some(Err(super::child::timeout_error(
                                self.server(),
                                super::child::call_timeout(),
                            )));
                        }
                        if request.kills_server {
                            // The server went away as asked, before it could reply.
                            return Some(Ok(Vec::new()));
                        }
                    }
                }
            }
        }
        None
    }
}

impl Transport for ControlMode {
    fn run(&self, commands: &[TmuxArgs], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        self.run_on_client(commands, stdin)
            .unwrap_or_else(|| self.fallback.run(commands, stdin))
    }

    /// Over the client (its stdin is a socket: nothing in any argv), else
    /// by [`Subprocess::run_private`].
    fn run_private(&self, commands: &[TmuxArgs]) -> Result<Vec<u8>> {
        self.run_on_client(commands, None)
            .unwrap_or_else(|| self.fallback.run_private(commands))
    }

    fn server(&self) -> &Server {
        self.fallback.server()
    }

    fn output_events(&self) -> Option<Arc<OutputEvents>> {
        self.events.clone()
    }

    fn run_each(&self, commands: &[TmuxArgs]) -> Vec<Result<Vec<u8>>> {
        let mut results: Vec<Result<Vec<u8>>> = Vec::with_capacity(commands.len());
        while results.len() < commands.len() {
            let rest = commands.get(results.len()..).unwrap_or_default();
            let chunk = rest.get(..rest.len().min(BATCH_SIZE)).unwrap_or_default();
            match self.run_chunk(chunk) {
                Some(done) if is_ambiguous(chunk.len(), &done) => {
                    results.push(self.run(chunk.get(..1).unwrap_or_default(), None));
                }
                Some(done) if !done.is_empty() => results.extend(done),
                // Not connected, lost, or not encodable: by subprocess.
                _ => results.extend(self.fallback.run_each(chunk)),
            }
        }
        results
    }

    fn watch_pane(&self, pane: &str) -> Result<bool> {
        if self.events.is_none() {
            return Ok(false);
        }
        if let Some(Some(_)) = self.watched_lock().get(pane) {
            return Ok(true);
        }
        // A watcher started before the server: connect now, not after the
        // reconnect interval.
        let mut state = self.lock_connecting(true);
        let window = match &mut *state {
            State::Connected(client) => link_window(client, &self.session, pane),
            State::Disconnected { .. } => None,
        };
        let linked = window.is_some();
        self.watched_lock().insert(pane.to_owned(), window);
        Ok(linked)
    }

    fn unwatch_pane(&self, pane: &str) {
        let mut state = self.lock();
        let Some(Some(window)) = self.watched_lock().remove(pane) else {
            return;
        };
        if let State::Connected(client) = &mut *state {
            let unlink = vec![
                "unlink-window".to_owned(),
                "-k".to_owned(),
                "-t".to_owned(),
                format!("={}:{window}", self.session),
            ];
            if let Some(line) = encode(&[unlink]) {
                // Already gone (the window closed) is fine.
                let _ = client.execute(&line, 1);
            }
        }
    }
}

/// Most commands sent in one line by [`Transport::run_each`].
const BATCH_SIZE: usize = 64;

impl ControlMode {
    /// Sends `chunk` in one line. Returns the results up to and including
    /// the first failing command (tmux skips the rest of a line after a
    /// failure), or `None` when the client cannot be used.
    fn run_chunk(&self, chunk: &[TmuxArgs]) -> Option<Vec<Result<Vec<u8>>>> {
        let line = encode(chunk)?;
        let mut state = self.lock_connecting(false);
        let State::Connected(client) = &mut *state else {
            return None;
        };
        match client.execute_each(&line, chunk.len()) {
            Ok(replies) => Some(
                replies
                    .into_iter()
                    .zip(chunk)
                    .map(|(reply, command)| {
                        reply.map_err(|message| {
                            Error::tmux(command.first().cloned().unwrap_or_default(), message)
                        })
                    })
                    .collect(),
            ),
            Err(lost) => {
                let left = take_client(&mut state);
                drop(state);
                drop(left);
                self.log_loss(lost.describe());
                None
            }
        }
    }
}

/// Marks the client lost and hands it back, to be dropped once the state
/// lock is released (its leaving takes the server lock; see
/// `ControlMode::lock_connecting`).
fn take_client(state: &mut State) -> State {
    std::mem::replace(
        state,
        State::Disconnected {
            last_attempt: Some(Instant::now()),
        },
    )
}

/// Links `pane`'s window into the client's own `session` so the client gets
/// its `%output`; returns the window id, or `None` if tmux refused (the pane
/// is gone).
fn link_window(client: &mut Client, session: &str, pane: &str) -> Option<String> {
    let commands = [
        vec![
            "display-message".to_owned(),
            "-p".to_owned(),
            "-t".to_owned(),
            pane.to_owned(),
            "#{window_id}".to_owned(),
        ],
        vec![
            "link-window".to_owned(),
            "-d".to_owned(),
            "-s".to_owned(),
            pane.to_owned(),
            "-t".to_owned(),
            format!("={session}:"),
        ],
    ];
    let line = encode(&commands)?;
    match client.execute(&line, 2) {
        Ok(Ok(out)) => {
            let window = String::from_utf8_lossy(&out).trim().to_owned();
            window.starts_with('@').then_some(window)
        }
        _ => None,
    }
}

/// Why a call could not be completed over the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lost {
    /// The client's output ended or its stdin is closed.
    Closed,
    /// No reply within a call's time (`tmux/child.rs`: `call_timeout`).
    Timeout,
}

impl Lost {
    fn describe(self) -> &'static str {
        match self {
            Lost::Closed => "it exited",
            Lost::Timeout => "no reply",
        }
    }
}

/// One `tmux -C` client process and the thread reading its output.
#[derive(Debug)]
struct Client {
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
    /// Starts a client attached to [`CONTROL_SESSION`], if the server runs.
    fn connect(
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
        let mut child = super::child::spawn_kept(command).map_err(spawn_error)?;
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

    fn execute(
        &mut self,
        line: &[u8],
        count: usize,
    ) -> std::result::Result<std::result::Result<Vec<u8>, String>, Lost> {
        self.send_line(line)?;
        let deadline = Instant::now() + super::child::call_timeout();
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
    fn execute_each(
        &mut self,
        line: &[u8],
        count: usize,
    ) -> std::result::Result<Vec<std::result::Result<Vec<u8>, String>>, Lost> {
        self.send_line(line)?;
        let deadline = Instant::now() + super::child::call_timeout();
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
    /// The line that makes the client leave: its own hidden session is
    /// killed (which detaches it properly and takes the linked windows
    /// along); the shared one only by its last client.
    fn leaving_line(&self) -> Vec<u8> {
        let target = format!("={}", self.session);
        let command = if self.own_session {
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
        let mut line = encode(&[command]).unwrap_or_else(|| b"detach-client".to_vec());
        line.push(b'\n');
        line
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
        let wait = if LEAVING.load(Ordering::Relaxed) {
            super::child::call_timeout()
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
                let deadline = Instant::now() + super::child::call_timeout();
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

fn connect_error(why: &str) -> Error {
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
