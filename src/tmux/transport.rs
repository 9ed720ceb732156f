//! How tmux commands reach the server. A [`Transport`] runs a list of tmux
//! commands (chained with `;`, executed by the server in one go) and returns
//! their standard output. [`Subprocess`] spawns one `tmux` process per call.
//!
//! Arguments are data: tmux's own command parser treats an argument that ends
//! in `;` as a command separator, so every argument is escaped here before it
//! leaves the process ([`escape_argument`]).

use std::ffi::OsString;
use std::process::{Command, Stdio};

use std::sync::Arc;

use super::chained::{ChainRunner, run_each_chained};
use super::events::OutputEvents;
use super::server::Server;
use crate::error::{Error, Result, TmuxErrorKind};

/// The most argument bytes (each argument plus its NUL) one `tmux` client
/// invocation can send to the server: tmux refuses a larger command with
/// "command too long" (its message size, 16 KB, less a header).
pub const MAX_COMMAND_BYTES: usize = 16_380;

/// One tmux command as an argv (`["capture-pane", "-p", "-t", "%1"]`).
pub type TmuxArgs = Vec<String>;

/// Something that can run tmux commands against one server.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Runs `commands` as one chained invocation. `stdin` is fed to the
    /// invocation (used by `load-buffer -`). Returns the combined stdout.
    fn run(&self, commands: &[TmuxArgs], stdin: Option<&[u8]>) -> Result<Vec<u8>>;

    /// The server this transport talks to.
    fn server(&self) -> &Server;

    /// Runs independent commands and returns each one's own result (a
    /// failing command does not fail the others). The default runs them one
    /// by one; a control-mode client sends them in one round trip.
    fn run_each(&self, commands: &[TmuxArgs]) -> Vec<Result<Vec<u8>>> {
        commands
            .iter()
            .map(|command| self.run(std::slice::from_ref(command), None))
            .collect()
    }

    /// Output notifications of watched panes, if this transport gets them.
    fn output_events(&self) -> Option<Arc<OutputEvents>> {
        None
    }

    /// Starts reporting `pane`'s output to [`Transport::output_events`];
    /// false when this transport cannot (or the pane is gone).
    fn watch_pane(&self, _pane: &str) -> Result<bool> {
        Ok(false)
    }

    /// Stops reporting `pane`'s output.
    fn unwatch_pane(&self, _pane: &str) {}

    /// Runs `commands` (chained) so that none of their arguments is ever in
    /// a process's command line: what carries an agent's environment, argv
    /// or typed text. The default goes by [`Subprocess::run_private`].
    fn run_private(&self, commands: &[TmuxArgs]) -> Result<Vec<u8>> {
        Subprocess::new(self.server().clone()).run_private(commands)
    }
}

/// Escapes one argument so that tmux's command parser passes it through
/// unchanged: a trailing `;` would otherwise end the command (`x;` → `x\;`).
pub fn escape_argument(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => arg.to_owned(),
    }
}

/// Flattens commands into one argv with `;` separators.
pub fn chain_commands(commands: &[TmuxArgs]) -> Vec<String> {
    let mut argv = Vec::new();
    for (index, command) in commands.iter().enumerate() {
        if index > 0 {
            argv.push(";".to_owned());
        }
        argv.extend(command.iter().map(|arg| escape_argument(arg)));
    }
    argv
}

/// Runs each call as a `tmux` child process (stdin never inherited).
#[derive(Clone, Debug, Default)]
pub struct Subprocess {
    server: Server,
}

impl Subprocess {
    pub fn new(server: Server) -> Self {
        Subprocess { server }
    }

    /// The `tmux` command with this server's global arguments (it dies
    /// with its spawning thread: see `tmux/child.rs`).
    pub fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(self.server.global_args());
        super::child::die_with_parent(&mut command);
        command
    }
}

impl Subprocess {
    /// Runs one chained invocation; on failure also returns what the
    /// commands before the failing one printed.
    fn run_chained(
        &self,
        commands: &[TmuxArgs],
        stdin: Option<&[u8]>,
    ) -> std::result::Result<Vec<u8>, (Vec<u8>, Error)> {
        let name = first_name(commands);
        let argv = checked_chain(commands).map_err(|err| (Vec::new(), err))?;
        self.spawn(&name, argv, stdin)
    }

    /// [`Transport::run_private`] by subprocess: the commands go to `tmux
    /// source-file -` on stdin, in tmux's own quoting (as over control
    /// mode), so the `tmux` process's argv is only `source-file -`. A call
    /// that creates a session starts the server with `start-server` first:
    /// a server forked by this client keeps its argv for life, and that is
    /// then `start-server ; source-file -`, never an agent's environment,
    /// prompt or PATH. The size limit of one command stays as documented.
    pub fn run_private(&self, commands: &[TmuxArgs]) -> Result<Vec<u8>> {
        let name = first_name(commands);
        checked_chain(commands)?;
        let Some(mut script) = super::control::encode(commands) else {
            return Err(Error::InvalidInput(format!(
                "tmux {name}: an argument holds a NUL byte"
            )));
        };
        script.push(b'\n');
        let starts_server = commands
            .iter()
            .any(|c| matches!(c.first().map(String::as_str), Some("new-session" | "new")));
        let mut argv: Vec<String> = Vec::new();
        if starts_server {
            self.server.check_socket_path()?;
            argv.extend(["start-server".to_owned(), ";".to_owned()]);
        }
        argv.extend(["source-file".to_owned(), "-".to_owned()]);
        self.spawn(&name, argv, Some(&script))
            .map_err(|(_, err)| err)
    }

    /// Spawns `tmux GLOBAL ARGV`, feeds `stdin`, returns stdout (or what was
    /// printed before the error, and the error).
    fn spawn(
        &self,
        name: &str,
        argv: Vec<String>,
        stdin: Option<&[u8]>,
    ) -> std::result::Result<Vec<u8>, (Vec<u8>, Error)> {
        let name = name.to_owned();
        let mut command = self.command();
        // `-u`: a UTF-8 client, so tmux prints values byte for byte (the
        // length-prefixed formats of `list-sessions`/`list-panes` rely on it).
        command
            .arg("-u")
            .args(argv.into_iter().map(OsString::from))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().map_err(|e| (Vec::new(), spawn_error(e)))?;
        let timeout = super::child::call_timeout();
        let output = super::child::output_within(child, stdin, timeout)
            .map_err(|e| (Vec::new(), spawn_error(e)))?
            .ok_or_else(|| {
                (
                    Vec::new(),
                    super::child::timeout_error(&self.server, timeout),
                )
            })?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let message = if message.is_empty() {
            format!("exited with {}", output.status)
        } else {
            message.replace('\n', "; ")
        };
        let err = Error::tmux(name, message);
        Err((output.stdout, err))
    }
}

impl ChainRunner for Subprocess {
    fn run_chain(&self, commands: &[TmuxArgs]) -> std::result::Result<Vec<u8>, (Vec<u8>, Error)> {
        self.run_chained(commands, None)
    }
}

impl Transport for Subprocess {
    fn run(&self, commands: &[TmuxArgs], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        self.run_chained(commands, stdin).map_err(|(_, err)| err)
    }

    fn server(&self) -> &Server {
        &self.server
    }

    /// Independent commands share one `tmux` process (see [`run_each_chained`]).
    fn run_each(&self, commands: &[TmuxArgs]) -> Vec<Result<Vec<u8>>> {
        run_each_chained(self, commands)
    }
}

/// The first command's name (what errors are reported against).
fn first_name(commands: &[TmuxArgs]) -> String {
    commands
        .first()
        .and_then(|c| c.first())
        .cloned()
        .unwrap_or_default()
}

/// The chained argv of `commands`, refused over [`MAX_COMMAND_BYTES`].
fn checked_chain(commands: &[TmuxArgs]) -> Result<Vec<String>> {
    let argv = chain_commands(commands);
    let size: usize = argv.iter().map(|a| a.len() + 1).sum();
    if size > MAX_COMMAND_BYTES {
        return Err(command_too_long(&first_name(commands), size));
    }
    Ok(argv)
}

/// The error for a command over [`MAX_COMMAND_BYTES`].
pub fn command_too_long(name: &str, size: usize) -> Error {
    Error::tmux(
        name.to_owned(),
        format!(
            "command too long ({size} bytes of arguments; tmux takes at most {MAX_COMMAND_BYTES})"
        ),
    )
}

/// True for [`command_too_long`] errors (and tmux's own).
pub fn is_command_too_long(err: &Error) -> bool {
    err.tmux_kind() == Some(TmuxErrorKind::TooLong)
}

/// Spawn failures: a missing binary is `TmuxNotAvailable`, an argv the OS
/// refuses is a too-long command, anything else `TmuxNotAvailable` with the
/// OS reason.
pub fn spawn_error(err: std::io::Error) -> Error {
    if err.kind() == std::io::ErrorKind::NotFound {
        Error::TmuxNotAvailable("the tmux binary was not found on PATH".into())
    } else if err.raw_os_error() == Some(nix::errno::Errno::E2BIG as i32) {
        Error::tmux("tmux".into(), format!("command too long ({err})"))
    } else {
        Error::TmuxNotAvailable(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_semicolon_is_escaped() {
        assert_eq!(escape_argument("a;"), "a\\;");
        assert_eq!(escape_argument(";"), "\\;");
        assert_eq!(escape_argument("a\\;"), "a\\\\;");
        assert_eq!(escape_argument("a;b"), "a;b");
    }

    #[test]
    fn an_oversized_command_is_refused_before_spawning() {
        let transport = Subprocess::new(Server::named("doeff-never-started"));
        let err = transport
            .run(&[vec!["display-message".into(), "x".repeat(20_000)]], None)
            .expect_err("too long");
        assert!(is_command_too_long(&err), "{err}");
    }

    #[test]
    fn commands_are_chained_with_separators() {
        let argv = chain_commands(&[
            vec!["new-session".into(), "x;".into()],
            vec!["set-option".into()],
        ]);
        assert_eq!(argv, vec!["new-session", "x\\;", ";", "set-option"]);
    }
}
