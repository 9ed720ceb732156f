//! Everything that speaks to tmux: the public low-level operations of the spec
//! (`has_session`, `list_sessions`, `new_session`, `send_keys`, `capture_pane`,
//! `kill_session`, `attach_session`), pane state for the monitor's process layer,
//! and bracketed paste. Commands are built with `tmux_interface`'s argv builders
//! and run through a [`Transport`]; nothing here knows about agents.
//!
//! Targeting is exact: sessions are addressed as `=name` (tmux otherwise matches
//! a prefix, so `doeff-x` would hit `doeff-xyz`) and panes by their `%id`,
//! looked up from an exact name match done here, never by tmux.
//!
//! What a failed command means (no server, not found, too long, ...) is
//! decided once, from tmux's message, when the error is made
//! ([`TmuxErrorKind`]); callers here and above ask [`is_no_server`],
//! [`is_not_found`] and [`is_command_too_long`], never the message.
//!
//! Layout: the [`Tmux`] facade and session lines here; `pane_state.rs`
//! (pane state, the forge-proof `-F` records); `transport.rs` (the
//! [`Transport`] trait), `subprocess.rs` (one `tmux` process per call,
//! batches included), `control/` (one `tmux -C` client: `mod.rs` the
//! transport, `client.rs` the process, `wire.rs` the encoding, `parser.rs`
//! the protocol, `events.rs` output events); `child.rs` (deadlines and
//! death signals of the processes we start), `server.rs`, `server_lock.rs`,
//! `signals.rs`, `attach.rs`.

mod attach;
mod child;
mod control;
mod pane_state;
mod server;
mod server_lock;
mod signals;
mod subprocess;
mod transport;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tmux_interface as ti;

pub use attach::{AttachPlan, attach_plan};
pub use child::{DEFAULT_CALL_TIMEOUT, TIMEOUT_ENV, call_timeout};
pub use control::parser as control_parser;
pub use control::{ControlMode, OutputEvents, Pending, leave_all as leave_control_clients};
pub use pane_state::PaneState;
pub use server::{SOCKET_ENV, Server, Socket};
pub use server_lock::{SEND_LOCK_SUFFIX, ServerLock, beside_socket, remove_lock_file, socket_path};
pub use signals::{interrupt_on_sigint, leave_control_clients_on_signals};
pub use subprocess::Subprocess;
pub use transport::{MAX_COMMAND_BYTES, TmuxArgs, Transport, chain_commands, escape_argument};

use crate::error::{Error, Result, TmuxErrorKind};
use pane_state::{
    is_malformed, list_all_panes, list_one_pane, parse_pane_state, parse_pane_states,
    parse_records, record_format, reread_torn,
};

/// The hidden session a control-mode client stays attached to (see
/// [`ControlMode`]); this name and every name starting with it plus `-`
/// (the private sessions of event clients) are never listed by
/// [`Tmux::list_sessions`] or [`Tmux::pane_states`].
pub const CONTROL_SESSION: &str = "_doeff-control";

/// True for the hidden sessions of control clients.
pub fn is_hidden_session(name: &str) -> bool {
    name.strip_prefix(CONTROL_SESSION)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

/// True when a `tmux` binary can be run.
pub fn is_tmux_available() -> bool {
    std::process::Command::new("tmux")
        .arg("-V")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// True when this process runs inside a tmux client (`$TMUX` is set).
pub fn is_inside_tmux() -> bool {
    std::env::var_os("TMUX").is_some_and(|v| !v.is_empty())
}

/// One line of `list_sessions`: a tmux session and the metadata this product
/// stored on it (empty for sessions it did not create).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub name: String,
    /// The session's id (`$N`): unique for the server's life, never reused.
    pub id: String,
    /// Unix time the tmux session was created.
    pub created: u64,
    pub attached: bool,
    /// The active pane (`%N`).
    pub pane_id: String,
    /// `@doeff-*` user options: agent, work dir, created, ...
    pub agent: Option<String>,
    pub work_dir: Option<String>,
    /// The agent's own conversation id (`@doeff-conversation`), once known.
    pub conversation: Option<String>,
    /// The last one-shot observation kept on the session (`@doeff-observed`).
    pub observed: Option<String>,
}

/// What `new_session` creates: a detached session running `argv` directly
/// (no shell), in `work_dir`, with `env` set and user options stored.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    pub name: &'a str,
    pub work_dir: &'a Path,
    pub argv: &'a [String],
    pub env: &'a [(String, String)],
    /// Session user options (`@doeff-agent` ...), set in the same tmux call.
    pub options: &'a [(String, String)],
    /// User options of the session's pane, set in the same tmux call (a
    /// pane's own options hold however many sessions its window is linked to).
    pub pane_options: &'a [(String, String)],
    pub width: u16,
    pub height: u16,
    /// Keep the pane (and its exit status) after the process ends.
    pub remain_on_exit: bool,
}

/// A handle on one tmux server through one transport. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Tmux {
    transport: Arc<dyn Transport>,
}

static BUFFER_COUNTER: AtomicU64 = AtomicU64::new(0);

fn args(command: ti::TmuxCommand<'_>) -> TmuxArgs {
    command
        .to_vec()
        .into_iter()
        .map(|a| a.into_owned())
        .collect()
}

/// tmux expands formats (`#{...}`) in some path arguments; `##` is a literal `#`.
fn escape_format(text: &str) -> String {
    text.replace('#', "##")
}

/// `=name`: an exact session target.
fn exact(name: &str) -> String {
    format!("={name}")
}

/// True for the errors tmux gives when no server runs on the socket (or it
/// exited while the call connected): [`TmuxErrorKind::NoServer`].
pub fn is_no_server(err: &Error) -> bool {
    err.tmux_kind() == Some(TmuxErrorKind::NoServer)
}

/// True for tmux's "can't find session/pane/window" errors, and when no
/// server runs (nothing can be found there either).
pub fn is_not_found(err: &Error) -> bool {
    matches!(
        err.tmux_kind(),
        Some(TmuxErrorKind::NotFound | TmuxErrorKind::NoServer)
    )
}

/// True for a command over what tmux takes: refused before it is sent (over
/// [`MAX_COMMAND_BYTES`]), by the OS, or by tmux itself.
pub fn is_command_too_long(err: &Error) -> bool {
    err.tmux_kind() == Some(TmuxErrorKind::TooLong)
}

impl Tmux {
    /// The server named by `DOEFF_AGENTS_TMUX_SOCKET`, else the default one,
    /// over a subprocess transport.
    pub fn from_env() -> Self {
        Self::new(Server::from_env())
    }

    /// A server over the subprocess transport.
    pub fn new(server: Server) -> Self {
        Self::with_transport(Arc::new(Subprocess::new(server)))
    }

    /// A server over one persistent control-mode client ([`ControlMode`]):
    /// connects now if the server runs; until it can connect, and whenever the
    /// client is lost, calls go by subprocess.
    pub fn control_mode(server: Server) -> Self {
        Self::with_transport(Arc::new(ControlMode::new(server)))
    }

    /// A server over one control-mode client that also reports the output
    /// of watched panes ([`Tmux::watch_pane`], [`Tmux::output_events`]);
    /// falls back to subprocess (and to polling) like [`Tmux::control_mode`].
    pub fn control_mode_with_events(server: Server) -> Self {
        Self::with_transport(Arc::new(ControlMode::with_events(server)))
    }

    /// The transport a monitoring caller should get: a long-lived watcher
    /// one control-mode client with output events (tmux calls ~50× cheaper,
    /// status changes seen at once), a one-shot command one tmux process
    /// per (batched) call — a control client's set-up would cost it more
    /// than it saves. `choice` can force either.
    pub fn for_monitoring(server: Server, choice: TransportChoice, long_lived: bool) -> Self {
        match (choice, long_lived) {
            (TransportChoice::Subprocess, _) | (TransportChoice::Auto, false) => Self::new(server),
            (TransportChoice::Control, false) => Self::control_mode(server),
            (TransportChoice::Control | TransportChoice::Auto, true) => {
                Self::control_mode_with_events(server)
            }
        }
    }

    /// Output notifications of watched panes, when the transport has them.
    pub fn output_events(&self) -> Option<Arc<OutputEvents>> {
        self.transport.output_events()
    }

    /// Starts reporting `pane`'s output to [`Tmux::output_events`]; false
    /// when the transport cannot (then watchers poll).
    pub fn watch_pane(&self, pane: &str) -> Result<bool> {
        self.transport.watch_pane(pane)
    }

    /// Stops reporting `pane`'s output (and lets go of its window).
    pub fn unwatch_pane(&self, pane: &str) {
        self.transport.unwatch_pane(pane);
    }

    /// A server over any transport.
    pub fn with_transport(transport: Arc<dyn Transport>) -> Self {
        Tmux { transport }
    }

    pub fn server(&self) -> &Server {
        self.transport.server()
    }

    /// Runs raw tmux commands (chained) on this server. Creating or
    /// killing sessions (or the server) holds the [`ServerLock`], so no
    /// control client is mid-handshake meanwhile.
    pub fn run(&self, commands: &[TmuxArgs], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        let _lock = commands
            .iter()
            .any(changes_sessions)
            .then(|| ServerLock::acquire(self.server()));
        self.transport.run(commands, stdin)
    }

    /// [`Tmux::run`] through [`Transport::run_private`]: no argument ends
    /// up in any process's command line (an agent's environment, argv and
    /// typed text; see SECURITY.md).
    pub fn run_private(&self, commands: &[TmuxArgs]) -> Result<Vec<u8>> {
        let _lock = commands
            .iter()
            .any(changes_sessions)
            .then(|| ServerLock::acquire(self.server()));
        self.transport.run_private(commands)
    }

    /// Runs independent commands, each with its own result (a failing one
    /// does not stop the others), in as few round trips as the transport can.
    pub fn run_each(&self, commands: &[TmuxArgs]) -> Vec<Result<Vec<u8>>> {
        self.transport.run_each(commands)
    }

    fn run_text(&self, command: TmuxArgs) -> Result<String> {
        let out = self.run(&[command], None)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// True when a session of exactly this name exists (false with no server).
    pub fn has_session(&self, name: &str) -> Result<bool> {
        let command = args(ti::HasSession::new().target_session(exact(name)).build());
        match self.run(&[command], None) {
            Ok(_) => Ok(true),
            Err(err) if is_not_found(&err) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Every session on the server; empty when no server runs.
    pub fn list_sessions(&self) -> Result<Vec<SessionInfo>> {
        let command = args(
            ti::ListSessions::new()
                .format(record_format(&SESSION_FORMAT))
                .build(),
        );
        let out = match self.run(&[command], None) {
            Ok(out) => out,
            Err(err) if is_no_server(&err) => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        Ok(parse_records(&out, SESSION_FORMAT.len(), "list-sessions")?
            .into_iter()
            .filter_map(session_from_fields)
            .filter(|s| !is_hidden_session(&s.name))
            .collect())
    }

    /// Creates a detached session running `spec.argv` and returns its pane id.
    pub fn new_session(&self, spec: &NewSession<'_>) -> Result<String> {
        let work_dir = escape_format(&spec.work_dir.to_string_lossy());
        let mut builder = ti::NewSession::new()
            .detached()
            .print()
            .format("#{pane_id}")
            .session_name(spec.name)
            .start_directory(work_dir)
            .width(usize::from(spec.width))
            .height(usize::from(spec.height));
        for (key, value) in spec.env {
            builder = builder.environment(key.as_str(), value.as_str());
        }
        let mut new_session = args(builder.build());
        new_session.push("--".into());
        new_session.extend(spec.argv.iter().cloned());
        let mut commands = vec![new_session];
        if spec.remain_on_exit {
            commands.push(args(
                ti::SetOption::new()
                    .window()
                    .target_pane(format!("{}:", exact(spec.name)))
                    .option("remain-on-exit")
                    .value("on")
                    .build(),
            ));
        }
        for (key, value) in spec.options {
            commands.push(self.session_option_args(spec.name, key, value));
        }
        for (key, value) in spec.pane_options {
            commands.push(args(
                ti::SetOption::new()
                    .pane()
                    .target_pane(format!("{}:", exact(spec.name)))
                    .option(key)
                    .value(value)
                    .build(),
            ));
        }
        // Privately: the environment (secrets), the argv (the prompt) and
        // the PATH must not sit in the command line of a tmux process (nor
        // in the title of a server this call starts).
        let out = match self.run_private(&commands) {
            // The server was exiting after its last session: once more, on a new one.
            Err(err) if is_no_server(&err) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                self.run_private(&commands)?
            }
            other => other?,
        };
        let pane = String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if pane.starts_with('%') {
            Ok(pane)
        } else {
            Err(Error::tmux(
                "new-session".into(),
                format!("unexpected reply {pane:?}"),
            ))
        }
    }

    fn session_option_args(&self, session: &str, key: &str, value: &str) -> TmuxArgs {
        args(
            ti::SetOption::new()
                .target_pane(format!("{}:", exact(session)))
                .option(key)
                .value(value)
                .build(),
        )
    }

    /// Stores a user option (`@name`) on a session.
    pub fn set_session_option(&self, session: &str, key: &str, value: &str) -> Result<()> {
        self.run(&[self.session_option_args(session, key, value)], None)
            .map(drop)
    }

    /// Sends keys to a pane. With `literal`, `keys` are text typed as is (`-l`);
    /// otherwise they are tmux key names (`Enter`, `C-c`, `Escape`).
    pub fn send_keys(&self, target: &str, keys: &[&str], literal: bool) -> Result<()> {
        let mut builder = ti::SendKeys::new().target_pane(target);
        if literal {
            builder = builder.disable_lookup();
        }
        let mut command = args(builder.build());
        command.push("--".into());
        command.extend(keys.iter().map(|k| (*k).to_owned()));
        if literal {
            // Typed text (a prompt, a message) stays out of every argv.
            return self.run_private(&[command]).map(drop);
        }
        self.run(&[command], None).map(drop)
    }

    /// Pastes `text` into a pane through a private tmux buffer, wrapped in
    /// bracketed-paste markers when the application asked for them (`-p`).
    /// The text goes on stdin, so its size is not bound by tmux's command limit.
    pub fn paste_text(&self, target: &str, text: &str) -> Result<()> {
        let buffer = format!(
            "doeff-paste-{}-{}",
            std::process::id(),
            BUFFER_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let pasted = self.run(&paste_commands(&buffer, target), Some(text.as_bytes()));
        if pasted.is_err() {
            // The paste failed (pane gone mid-call): the loaded buffer was
            // not deleted by `paste-buffer -d`, so drop it here.
            let _ = self.run(&[vec!["delete-buffer".into(), "-b".into(), buffer]], None);
        }
        pasted.map(drop)
    }

    /// The pane's visible screen (and `history` lines above it), as text
    /// without escape sequences.
    pub fn capture_pane(&self, target: &str, history: usize) -> Result<String> {
        let mut builder = ti::CapturePane::new().stdout().target_pane(target);
        if history > 0 {
            builder = builder.start_line(format!("-{history}"));
        }
        self.run_text(args(builder.build()))
    }

    /// [`Tmux::capture_pane`] of many panes (visible screen only), in one
    /// round trip over control mode; one result per pane, in order.
    pub fn capture_panes(&self, targets: &[&str]) -> Vec<Result<String>> {
        let commands: Vec<TmuxArgs> = targets.iter().map(|t| capture_command(t)).collect();
        self.transport
            .run_each(&commands)
            .into_iter()
            .map(into_text)
            .collect()
    }

    /// Kills a session by exact name.
    pub fn kill_session(&self, name: &str) -> Result<()> {
        let command = args(ti::KillSession::new().target_session(exact(name)).build());
        self.run(&[command], None).map(drop)
    }

    /// Kills the whole server (used by tests on their throwaway servers).
    pub fn kill_server(&self) -> Result<()> {
        self.run(&[vec!["kill-server".into()]], None).map(drop)
    }

    /// Attaches the terminal to a session: inside a tmux client of the same
    /// server it switches the client, inside one of another server it opens
    /// a nested client (see [`attach_plan`]).
    pub fn attach_session(&self, name: &str) -> Result<()> {
        if !self.has_session(name)? {
            return Err(Error::SessionNotFound(name.into()));
        }
        let tmux_env = std::env::var("TMUX").ok();
        let plan = attach_plan(self.server(), name, tmux_env.as_deref());
        if let Some(note) = &plan.note {
            eprintln!("doeff-agents: {note}");
        }
        // Attaching needs the terminal, so this one call inherits stdio.
        let mut command = std::process::Command::new("tmux");
        command.args(&plan.argv);
        if plan.unset_tmux {
            command.env_remove("TMUX");
        }
        let status = command.status().map_err(child::spawn_error)?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::tmux(
                "attach-session".into(),
                format!("exited with {status}"),
            ))
        }
    }

    /// Process state of every pane on the server in one call (liveness, exit
    /// status, foreground command, last activity): what the monitor needs for
    /// all watched panes. Empty with no server.
    pub fn pane_states(&self) -> Result<Vec<PaneState>> {
        reread_torn(|| parse_pane_states(self.run(&[list_all_panes()], None)))
    }

    /// Captures `targets` (as [`Tmux::capture_panes`]) and then reads every
    /// pane's state, in one round trip: screens before states, so an agent
    /// exiting between the two is seen with its exit status.
    pub fn capture_panes_then_states(
        &self,
        targets: &[&str],
    ) -> (Vec<Result<String>>, Result<Vec<PaneState>>) {
        let mut commands: Vec<TmuxArgs> = targets.iter().map(|t| capture_command(t)).collect();
        commands.push(list_all_panes());
        let mut results = self.transport.run_each(&commands);
        let states = match parse_pane_states(results.pop().unwrap_or_else(|| Ok(Vec::new()))) {
            // Torn (see `reread_torn`): read again, still after the screens.
            Err(err) if is_malformed(&err) => self.pane_states(),
            states => states,
        };
        let screens = results.into_iter().map(into_text).collect();
        (screens, states)
    }

    /// Process state of one pane; `None` when the pane (or server) is gone.
    pub fn pane_state(&self, pane_id: &str) -> Result<Option<PaneState>> {
        reread_torn(|| parse_pane_state(self.run(&[list_one_pane(pane_id)], None), pane_id))
    }

    /// Captures one pane and then reads its state, in one round trip
    /// (screen before state, as [`Tmux::capture_panes_then_states`]).
    pub fn capture_pane_then_state(
        &self,
        pane_id: &str,
    ) -> (Result<String>, Result<Option<PaneState>>) {
        let commands = [capture_command(pane_id), list_one_pane(pane_id)];
        let mut results = self.transport.run_each(&commands).into_iter();
        let mut next = || {
            results
                .next()
                .unwrap_or_else(|| Err(Error::tmux("capture-pane".into(), "no reply".into())))
        };
        let screen = into_text(next());
        let state = match parse_pane_state(next(), pane_id) {
            // Torn (see `reread_torn`): read again, still after the screen.
            Err(err) if is_malformed(&err) => self.pane_state(pane_id),
            state => state,
        };
        (screen, state)
    }

    /// The pane id of the session with exactly this name.
    pub fn session_pane(&self, name: &str) -> Result<String> {
        self.list_sessions()?
            .into_iter()
            .find(|s| s.name == name)
            .map(|s| s.pane_id)
            .ok_or_else(|| Error::SessionNotFound(name.into()))
    }
}

/// `load-buffer -b BUFFER -` (text on stdin) then a deleting, bracketed
/// `paste-buffer` into `target`.
fn paste_commands(buffer: &str, target: &str) -> [TmuxArgs; 2] {
    let mut load = args(ti::LoadBuffer::new().buffer_name(buffer).build());
    load.push("-".into());
    let paste = args(
        ti::PasteBuffer::new()
            .delete()
            .bracket_codes()
            .buffer_name(buffer)
            .target_pane(target)
            .build(),
    );
    [load, paste]
}

/// The variables of a session line (see [`record_format`]).
const SESSION_FORMAT: [&str; 9] = [
    "session_name",
    "session_id",
    "session_created",
    "session_attached",
    "pane_id",
    "@doeff-agent",
    "@doeff-work-dir",
    "@doeff-conversation",
    "@doeff-observed",
];

fn non_empty(field: &str) -> Option<String> {
    (!field.is_empty()).then(|| field.to_owned())
}

fn session_from_fields(fields: Vec<String>) -> Option<SessionInfo> {
    let [
        name,
        id,
        created,
        attached,
        pane_id,
        agent,
        work_dir,
        conversation,
        observed,
    ] = <[String; 9]>::try_from(fields).ok()?;
    if !id.starts_with('$') || !pane_id.starts_with('%') {
        return None;
    }
    Some(SessionInfo {
        name,
        id,
        created: created.parse().unwrap_or(0),
        attached: attached != "0" && !attached.is_empty(),
        pane_id,
        agent: non_empty(&agent),
        work_dir: non_empty(&work_dir),
        conversation: non_empty(&conversation),
        observed: non_empty(&observed),
    })
}

/// Environment variable forcing a transport: `control` or `subprocess`.
pub const TRANSPORT_ENV: &str = "DOEFF_AGENTS_TRANSPORT";

/// Which transport monitoring uses (see [`Tmux::for_monitoring`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportChoice {
    /// Control mode for long-lived watchers, subprocess for one-shot commands.
    #[default]
    Auto,
    Subprocess,
    Control,
}

impl TransportChoice {
    /// From [`TRANSPORT_ENV`] (unset or empty: `Auto`).
    pub fn from_env() -> Result<Self> {
        match std::env::var(TRANSPORT_ENV) {
            Err(_) => Ok(TransportChoice::Auto),
            Ok(value) => value.parse(),
        }
    }
}

impl std::str::FromStr for TransportChoice {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        match value {
            "" | "auto" => Ok(TransportChoice::Auto),
            "subprocess" => Ok(TransportChoice::Subprocess),
            "control" => Ok(TransportChoice::Control),
            other => Err(Error::InvalidInput(format!(
                "{TRANSPORT_ENV} must be auto, control or subprocess, not {other:?}"
            ))),
        }
    }
}

/// Commands after which tmux notifies control clients of a session change.
fn changes_sessions(command: &TmuxArgs) -> bool {
    matches!(
        command.first().map(String::as_str),
        Some("new-session" | "new" | "kill-session" | "kill-server")
    )
}

/// `capture-pane -p` of one pane's visible screen.
fn capture_command(target: &str) -> TmuxArgs {
    args(ti::CapturePane::new().stdout().target_pane(target).build())
}

fn into_text(reply: Result<Vec<u8>>) -> Result<String> {
    reply.map(|out| String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::pane_state::tests::record;
    use super::*;

    #[test]
    fn session_records_parse_with_metadata() {
        let out = record(&[
            "doeff-a",
            "$1",
            "1700000000",
            "0",
            "%3",
            "claude",
            "/tmp/w",
            "abc-1",
            "",
        ]);
        let infos: Vec<SessionInfo> = parse_records(&out, SESSION_FORMAT.len(), "x")
            .expect("parses")
            .into_iter()
            .filter_map(session_from_fields)
            .collect();
        let [info] = infos.as_slice() else {
            panic!("one session: {infos:?}")
        };
        assert_eq!(info.name, "doeff-a");
        assert_eq!(info.id, "$1");
        assert_eq!(info.pane_id, "%3");
        assert_eq!(info.agent.as_deref(), Some("claude"));
        assert_eq!(info.conversation.as_deref(), Some("abc-1"));
        assert_eq!(info.observed, None);
        assert!(!info.attached);
        assert!(parse_records(b"garbage\n", 9, "x").is_err());
    }

    #[test]
    fn formats_in_paths_are_escaped() {
        assert_eq!(escape_format("/tmp/#{x}"), "/tmp/##{x}");
    }
}
