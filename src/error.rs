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
    /// Made by [`Error::tmux`], which decides its [`TmuxErrorKind`] once.
    #[error("tmux {command} failed: {message}")]
    Tmux {
        command: String,
        message: String,
        kind: TmuxErrorKind,
    },
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

/// What a failed tmux command means, decided once from tmux's message
/// when the error is made; callers ask [`Error::tmux_kind`] instead of
/// reading messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TmuxErrorKind {
    /// No server runs on the socket, or it exited while the call connected
    /// (a server whose last session just went answers "no current target").
    NoServer,
    /// No such session, window or pane ("can't find ...").
    NotFound,
    /// The command is over what tmux (or the OS) takes.
    TooLong,
    /// new-session with a name that is taken.
    DuplicateSession,
    /// Anything else.
    Other,
}

impl TmuxErrorKind {
    /// The kind of tmux's (or our transports') `message`.
    pub fn of(message: &str) -> TmuxErrorKind {
        let has = |text| message.contains(text);
        if has("no server running")
            || has("server exited unexpectedly")
            || has("no current target")
            || has("error connecting to")
            || has("No such file or directory")
        {
            TmuxErrorKind::NoServer
        } else if has("can't find") {
            TmuxErrorKind::NotFound
        } else if message.starts_with("command too long") {
            TmuxErrorKind::TooLong
        } else if has("duplicate session") {
            TmuxErrorKind::DuplicateSession
        } else {
            TmuxErrorKind::Other
        }
    }
}

impl Error {
    /// A failed tmux `command` with tmux's `message`, its kind decided here.
    pub fn tmux(command: String, message: String) -> Error {
        let kind = TmuxErrorKind::of(&message);
        Error::Tmux {
            command,
            message,
            kind,
        }
    }

    /// The kind of a tmux error; `None` for other errors.
    pub fn tmux_kind(&self) -> Option<TmuxErrorKind> {
        match self {
            Error::Tmux { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// This tmux failure again, for each of the commands or sessions one
    /// shared failure fails: a tmux error keeps its command, message and
    /// kind (decided once, when it was made), a timeout its socket and
    /// time; `None` for other errors.
    pub(crate) fn tmux_copy(&self) -> Option<Error> {
        match self {
            Error::Tmux {
                command,
                message,
                kind,
            } => Some(Error::Tmux {
                command: command.clone(),
                message: message.clone(),
                kind: *kind,
            }),
            Error::TmuxTimeout { socket, seconds } => Some(Error::TmuxTimeout {
                socket: socket.clone(),
                seconds: *seconds,
            }),
            _ => None,
        }
    }

    /// The same error for every session of a failed shared tmux query
    /// (`command`): a tmux error as [`Error::tmux_copy`], any other one a
    /// tmux error of `command` with its text as the message.
    pub(crate) fn shared_tmux(&self, command: &str) -> Error {
        match self {
            Error::Tmux { .. } => self.tmux_copy(),
            _ => None,
        }
        .unwrap_or_else(|| Error::tmux(command.to_owned(), self.to_string()))
    }
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
        Error::Lua(crate::sandbox::error_message(&err))
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn tmux_messages_get_their_kind_once() {
        let kind = |m: &str| Error::tmux("x".into(), m.into()).tmux_kind();
        assert_eq!(
            kind("no server running on /tmp/x"),
            Some(TmuxErrorKind::NoServer)
        );
        assert_eq!(kind("no current target"), Some(TmuxErrorKind::NoServer));
        assert_eq!(kind("can't find pane: %9"), Some(TmuxErrorKind::NotFound));
        assert_eq!(
            kind("command too long (9 bytes)"),
            Some(TmuxErrorKind::TooLong)
        );
        assert_eq!(
            kind("duplicate session: a"),
            Some(TmuxErrorKind::DuplicateSession)
        );
        assert_eq!(kind("unknown option"), Some(TmuxErrorKind::Other));
        assert_eq!(Error::InvalidInput("x".into()).tmux_kind(), None);
    }

    #[test]
    fn a_shared_failure_keeps_its_kind() {
        let err = Error::tmux("list-panes".into(), "no server running on /x".into());
        let copy = err.shared_tmux("other");
        assert!(matches!(&copy, Error::Tmux { command, .. } if command == "list-panes"));
        assert_eq!(copy.tmux_kind(), Some(TmuxErrorKind::NoServer));
        let timeout = Error::TmuxTimeout {
            socket: "s".into(),
            seconds: 1.0,
        };
        assert!(matches!(
            timeout.tmux_copy(),
            Some(Error::TmuxTimeout { .. })
        ));
        let other = timeout.shared_tmux("list-panes");
        assert!(matches!(&other, Error::Tmux { command, .. } if command == "list-panes"));
        assert_eq!(
            other.to_string(),
            format!("tmux list-panes failed: {timeout}")
        );
        assert!(Error::InvalidInput("x".into()).tmux_copy().is_none());
    }
}
