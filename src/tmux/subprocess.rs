//! The subprocess transport: [`Subprocess`] runs each call as one `tmux`
//! child process (stdin never inherited, waited for at most a call's time:
//! see `tmux/child.rs`), and sends private calls on stdin
//! ([`Subprocess::run_private`]).
//!
//! **Many independent commands in one process.** A subprocess costs ~2 ms
//! whatever it runs, so [`Transport::run_each`] sends a batch of commands
//! as one chained invocation with a marker printed after each
//! (`display-message -p MARKER`) and splits the output at the markers.
//! tmux stops a chain at its first failing command: the markers seen tell
//! which commands succeeded, the next one failed (with the process's stderr
//! as its error) and the rest are sent again in a new invocation. When no
//! marker was printed at all, the first command is run alone (tmux refuses
//! a whole chain with a malformed command while parsing it, before running
//! any). A missing server fails every command at once. The markers carry a
//! per-call nonce, so a screen cannot forge one by accident.

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::child;
use super::is_no_server;
use super::server::Server;
use super::transport::{
    MAX_COMMAND_BYTES, TmuxArgs, Transport, checked_chain, first_name, is_ambiguous,
};
use crate::error::{Error, Result};

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
        child::die_with_parent(&mut command);
        command
    }
}

impl Subprocess {
    /// Runs `commands` independently, as few `tmux` processes as the command
    /// size limit allows; returns each command's own result, in order (see
    /// the module docs).
    fn run_batched(&self, commands: &[TmuxArgs]) -> Vec<Result<Vec<u8>>> {
        let mut results: Vec<Result<Vec<u8>>> = Vec::with_capacity(commands.len());
        while results.len() < commands.len() {
            let rest = commands.get(results.len()..).unwrap_or_default();
            if rest.len() == 1 {
                results.push(self.run(rest, None));
                continue;
            }
            let nonce = new_nonce();
            let (chain, count) = build_chain(rest, &nonce);
            if count <= 1 {
                // One command alone fills the limit: let `run` report it.
                results.push(self.run(rest.get(..1).unwrap_or_default(), None));
                continue;
            }
            let (stdout, failure) = match self.run_chained(&chain, None) {
                Ok(stdout) => (stdout, None),
                Err((stdout, err)) => (stdout, Some(err)),
            };
            let outputs = split_at_markers(&stdout, &nonce, count);
            let succeeded = outputs.len();
            let mut done: Vec<Result<Vec<u8>>> = outputs.into_iter().map(Ok).collect();
            if succeeded < count {
                done.push(Err(match failure {
                    // tmux names no command: the failing one is the one after
                    // the last marker seen.
                    Some(Error::Tmux { message, kind, .. }) => Error::Tmux {
                        command: first_word(rest.get(succeeded)),
                        message,
                        kind,
                    },
                    Some(other) => other,
                    None => Error::tmux(
                        first_word(rest.get(succeeded)),
                        "the reply ended early".into(),
                    ),
                }));
            }
            if is_ambiguous(count, &done) {
                results.push(self.run(rest.get(..1).unwrap_or_default(), None));
                continue;
            }
            let no_server = match done.last() {
                Some(Err(err)) if is_no_server(err) || matches!(err, Error::TmuxTimeout { .. }) => {
                    err.tmux_copy()
                }
                _ => None,
            };
            results.extend(done);
            if let Some(err) = no_server {
                // Nothing further can succeed (no server, or a stalled one):
                // every remaining command fails alike (kind kept), at once.
                while results.len() < commands.len() {
                    results.push(Err(err
                        .tmux_copy()
                        .unwrap_or_else(|| Error::InvalidInput(err.to_string()))));
                }
            }
        }
        results
    }

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
        let Some(mut script) = super::control::wire::encode(commands) else {
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
        let child = command
            .spawn()
            .map_err(|e| (Vec::new(), child::spawn_error(e)))?;
        let timeout = child::call_timeout();
        let output = child::output_within(child, stdin, timeout)
            .map_err(|e| (Vec::new(), child::spawn_error(e)))?
            .ok_or_else(|| (Vec::new(), child::timeout_error(&self.server, timeout)))?;
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

impl Transport for Subprocess {
    fn run(&self, commands: &[TmuxArgs], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        self.run_chained(commands, stdin).map_err(|(_, err)| err)
    }

    fn server(&self) -> &Server {
        &self.server
    }

    /// Independent commands share one `tmux` process (see the module docs).
    fn run_each(&self, commands: &[TmuxArgs]) -> Vec<Result<Vec<u8>>> {
        self.run_batched(commands)
    }
}

fn first_word(command: Option<&TmuxArgs>) -> String {
    command.and_then(|c| c.first()).cloned().unwrap_or_default()
}

/// A marker prefix unique to this call.
fn new_nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "__doeff_{}_{}_{nanos}_",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn marker(nonce: &str, index: usize) -> String {
    format!("{nonce}{index}__")
}

/// The commands of `rest` that fit in one invocation, each followed by its
/// marker, and how many commands that is.
fn build_chain(rest: &[TmuxArgs], nonce: &str) -> (Vec<TmuxArgs>, usize) {
    let mut chain = Vec::new();
    let mut size = 0;
    let mut count = 0;
    for (index, command) in rest.iter().enumerate() {
        let print = vec![
            "display-message".to_owned(),
            "-p".to_owned(),
            marker(nonce, index),
        ];
        // Each argument and its NUL, plus the `;` separators.
        let cost: usize = command
            .iter()
            .chain(print.iter())
            .map(|a| a.len() + 2)
            .sum::<usize>()
            + 4;
        if size + cost > MAX_COMMAND_BYTES && count > 0 {
            break;
        }
        size += cost;
        count += 1;
        chain.push(command.clone());
        chain.push(print);
    }
    (chain, count)
}

/// Each command's output, up to the first marker missing (at most `count`).
fn split_at_markers(stdout: &[u8], nonce: &str, count: usize) -> Vec<Vec<u8>> {
    let mut outputs = Vec::new();
    let mut start = 0;
    for index in 0..count {
        let line = format!("{}\n", marker(nonce, index));
        let Some(at) = find_line(stdout, start, line.as_bytes()) else {
            break;
        };
        outputs.push(stdout.get(start..at).unwrap_or_default().to_vec());
        start = at + line.len();
    }
    outputs
}

/// Position of `line` in `haystack` at or after `from`, starting a line.
fn find_line(haystack: &[u8], from: usize, line: &[u8]) -> Option<usize> {
    let mut cursor = from;
    while let Some(rest) = haystack.get(cursor..) {
        let offset = rest.windows(line.len()).position(|w| w == line)?;
        let at = cursor + offset;
        if at == from || haystack.get(at - 1) == Some(&b'\n') {
            return Some(at);
        }
        cursor = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_command_is_refused_before_spawning() {
        let transport = Subprocess::new(Server::named("doeff-never-started"));
        let err = transport
            .run(&[vec!["display-message".into(), "x".repeat(20_000)]], None)
            .expect_err("too long");
        assert!(super::super::is_command_too_long(&err), "{err}");
    }

    #[test]
    fn output_is_split_at_line_start_markers_only() {
        let nonce = "__n_";
        let stdout = b"a\nx__n_0__\nb\n__n_0__\n\n__n_1__\nc\n".to_vec();
        let outputs = split_at_markers(&stdout, nonce, 3);
        assert_eq!(outputs, vec![b"a\nx__n_0__\nb\n".to_vec(), b"\n".to_vec()]);
    }

    #[test]
    fn an_empty_output_comes_before_its_marker() {
        let outputs = split_at_markers(b"__n_0__\n__n_1__\n", "__n_", 2);
        assert_eq!(outputs, vec![Vec::<u8>::new(), Vec::new()]);
    }

    #[test]
    fn a_chain_stops_at_the_size_limit() {
        let big = vec!["x".repeat(6_000)];
        let (chain, count) = build_chain(&[big.clone(), big.clone(), big], "__n_");
        assert_eq!(count, 2);
        assert_eq!(chain.len(), 4);
    }
}
