//! How tmux commands reach the server. A [`Transport`] runs a list of tmux
//! commands (chained with `;`, executed by the server in one go) and returns
//! their standard output: [`Subprocess`] spawns one `tmux` process per call
//! (`tmux/subprocess.rs`), `ControlMode` speaks over one `tmux -C` client
//! (`tmux/control/`). This file holds the trait and what both transports
//! share: the command-size limit and how a batch's one error is read.
//!
//! Arguments are data: tmux's own command parser treats an argument that ends
//! in `;` as a command separator, so every argument is escaped here before it
//! leaves the process ([`escape_argument`]).

use std::sync::Arc;

use super::control::OutputEvents;
use super::is_no_server;
use super::server::Server;
use super::subprocess::Subprocess;
use crate::error::{Error, Result};

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

/// The first command's name (what errors are reported against).
pub(super) fn first_name(commands: &[TmuxArgs]) -> String {
    commands
        .first()
        .and_then(|c| c.first())
        .cloned()
        .unwrap_or_default()
}

/// The chained argv of `commands`, refused over [`MAX_COMMAND_BYTES`].
pub(super) fn checked_chain(commands: &[TmuxArgs]) -> Result<Vec<String>> {
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

/// True when a batch of `sent` commands (several) gave one error: the first
/// command failed, or tmux refused the whole batch while parsing a later
/// one, before running any. Only the first command run alone can tell which
/// (both transports then send the rest again). A missing server is not
/// ambiguous.
pub fn is_ambiguous(sent: usize, done: &[Result<Vec<u8>>]) -> bool {
    sent > 1
        && matches!(done, [Err(err)] if !is_no_server(err) && !matches!(err, Error::TmuxTimeout { .. }))
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
    fn commands_are_chained_with_separators() {
        let argv = chain_commands(&[
            vec!["new-session".into(), "x;".into()],
            vec!["set-option".into()],
        ]);
        assert_eq!(argv, vec!["new-session", "x\\;", ";", "set-option"]);
    }
}
