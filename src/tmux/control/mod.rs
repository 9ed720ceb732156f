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
//! `reap_stale_sessions` in `client.rs`). `Tmux::list_sessions` and `Tmux::pane_states`
//! hide these sessions.
//!
//! **No side effects on a missing server.** Connecting first asks, by
//! subprocess, whether the server runs; with no server every call goes by
//! subprocess (and reports "no server running" exactly as [`Subprocess`]
//! does); a new connection is tried at most once per `RECONNECT_INTERVAL`.
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
//! The client process itself (spawning, its reader thread, leaving) is
//! `client.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::CONTROL_SESSION;
use super::server::Server;
use super::server_lock::ServerLock;
use super::subprocess::Subprocess;
use super::transport::{TmuxArgs, Transport, is_ambiguous};
use crate::error::{Error, Result};
use client::{Client, Lost, connect_error};
use wire::{Request, encode};

mod client;
mod events;
pub mod parser;
pub(super) mod wire;

pub use events::{OutputEvents, Pending};

/// Minimum time between two connection attempts.
pub const RECONNECT_INTERVAL: Duration = Duration::from_secs(1);
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
    /// `RECONNECT_INTERVAL`).
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
            State::Connected(client) => client.pid(),
            State::Disconnected { .. } => None,
        }
    }

    /// Detaches the client now (the next call may reconnect after
    /// `RECONNECT_INTERVAL`).
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
