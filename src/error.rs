//! The crate's one error type. Every fallible public function returns [`Result`];
//! each variant renders as one clear line (the ready-timeout error adds the last
//! screen lines below it, because that is what a user needs to see).

use std::path::PathBuf;

/// Everything that can go wrong, by layer. Names follow the Python reference
/// (`TmuxNotAvailableError` is [`Error::TmuxNotAvailable`], and so on).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `tmux` binary cannot be run at all.
    #[error("tmux is not available: {0}")]
    TmuxNotAvailable(String),
    /// The tmux server did not answer in time (stopped or wedged).
    #[error("tmux server on {socket} did not answer within {seconds} s")]
    TmuxTimeout { socket: String, seconds: f64 },
    /// A tmux command ran and failed.
    #[error("tmux {command} failed: {message}")]
    Tmux { command: String, message: String },
    /// A session name that tmux could misread as a target, or that is otherwise unusable.
    #[error("invalid session name {name:?}: {why}")]
    InvalidSessionName { name: String, why: String },
    /// `launch_session` with a name that is taken.
    #[error("session {} already exists", printable(.0))]
    SessionAlreadyExists(String),
    /// No session made by doeff-agents by that name (or its pane is gone).
    #[error("no doeff session named {}", printable(.0))]
    SessionNotFound(String),
    /// A tmux session of that name exists, but doeff-agents did not create it.
    #[error(
        "no doeff session named {} (a tmux session of that name exists, not made by \
         doeff-agents; --raw-target reaches it on purpose)",
        printable(.0)
    )]
    NotDoeffSession(String),
    /// `--raw-target`: no tmux session of exactly that name.
    #[error("no tmux session named {}", printable(.0))]
    NoSuchTmuxSession(String),
    /// No adapter with that name is loaded.
    #[error("unknown agent {name:?} (known agents: {known})")]
    UnknownAgent { name: String, known: String },
    /// The agent cannot be launched (CLI missing, bad config, adapter refused).
    #[error("cannot launch {agent}: {message}")]
    AgentLaunch { agent: String, message: String },
    /// A `tmux`-injection agent never showed its ready pattern.
    #[error(
        "{agent} was not ready after {seconds:.1}s (session removed); last screen lines:\n{last_lines}"
    )]
    AgentReadyTimeout {
        agent: String,
        seconds: f64,
        last_lines: String,
    },
    /// A message could not be delivered to the agent.
    #[error("cannot send to {session}: {message}")]
    Send { session: String, message: String },
    /// An adapter file or table is invalid, or its Lua code failed (`path:line: message`).
    #[error("{0}")]
    Adapter(String),
    /// Lua raised an error outside adapter loading (scripts, REPL).
    #[error("{0}")]
    Lua(String),
    /// Input rejected before anything was done.
    #[error("{0}")]
    InvalidInput(String),
    /// A background task (the `async` feature's blocking tmux calls) could not finish.
    #[error("background task failed: {0}")]
    Task(String),
    /// A host reached over ssh cannot be reached, or stopped answering.
    #[error("host {host} is unreachable: {message}")]
    HostUnreachable { host: String, message: String },
    /// A host reached over ssh refused a request (`kind` as in docs/protocol.md).
    #[error("{host}: {message}")]
    Remote {
        host: String,
        kind: String,
        message: String,
    },
    /// A file-system operation failed.
    #[error("{}: {source}", printable(&path.to_string_lossy()))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A user-given name or path as shown in an error: as is, or quoted and
/// escaped when it is empty or holds control characters (a newline must not
/// break a one-line error).
pub fn printable(text: &str) -> String {
    if text.is_empty() || text.chars().any(char::is_control) {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<mlua::Error> for Error {
    fn from(err: mlua::Error) -> Self {
        Error::Lua(crate::lua::error_message(&err))
    }
}
