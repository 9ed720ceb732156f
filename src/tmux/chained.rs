//! Many independent tmux commands in one `tmux` process. A subprocess costs
//! ~2 ms whatever it runs, so [`run_each_chained`] sends a batch of commands
//! as one chained invocation with a marker printed after each
//! (`display-message -p MARKER`) and splits the output at the markers.
//!
//! tmux stops a chain at its first failing command: the markers seen tell
//! which commands succeeded, the next one failed (with the process's stderr
//! as its error) and the rest are sent again in a new invocation. When no
//! marker was printed at all, the first command is run alone (tmux refuses
//! a whole chain with a malformed command while parsing it, before running
//! any). A missing server fails every command at once. The markers carry a per-call nonce, so
//! a screen cannot forge one by accident.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::is_no_server;
use super::transport::{MAX_COMMAND_BYTES, TmuxArgs, Transport};
use crate::error::{Error, Result};

/// Runs one chained invocation; what [`run_each_chained`] needs of a transport.
pub trait ChainRunner {
    /// Runs `commands` chained; on failure returns the stdout printed before
    /// the failing command and its error.
    fn run_chain(&self, commands: &[TmuxArgs]) -> std::result::Result<Vec<u8>, (Vec<u8>, Error)>;
}

/// Runs `commands` independently, as few `tmux` processes as the command
/// size limit allows; returns each command's own result, in order.
pub fn run_each_chained<R: ChainRunner + Transport + ?Sized>(
    runner: &R,
    commands: &[TmuxArgs],
) -> Vec<Result<Vec<u8>>> {
    let mut results: Vec<Result<Vec<u8>>> = Vec::with_capacity(commands.len());
    while results.len() < commands.len() {
        let rest = commands.get(results.len()..).unwrap_or_default();
        if rest.len() == 1 {
            results.push(runner.run(rest, None));
            continue;
        }
        let nonce = new_nonce();
        let (chain, count) = build_chain(rest, &nonce);
        if count <= 1 {
            // One command alone fills the limit: let `run` report it.
            results.push(runner.run(rest.get(..1).unwrap_or_default(), None));
            continue;
        }
        let (stdout, failure) = match runner.run_chain(&chain) {
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
            results.push(runner.run(rest.get(..1).unwrap_or_default(), None));
            continue;
        }
        let no_server = match done.last() {
            Some(Err(
                err @ Error::Tmux {
                    command, message, ..
                },
            )) if is_no_server(err) => Some(Error::tmux(command.clone(), message.clone())),
            Some(Err(Error::TmuxTimeout { socket, seconds })) => Some(Error::TmuxTimeout {
                socket: socket.clone(),
                seconds: *seconds,
            }),
            _ => None,
        };
        results.extend(done);
        if let Some(err) = no_server {
            // Nothing further can succeed (no server, or a stalled one):
            // every remaining command fails alike, at once.
            while results.len() < commands.len() {
                results.push(Err(match &err {
                    Error::TmuxTimeout { socket, seconds } => Error::TmuxTimeout {
                        socket: socket.clone(),
                        seconds: *seconds,
                    },
                    Error::Tmux {
                        command, message, ..
                    } => Error::tmux(command.clone(), message.clone()),
                    other => Error::InvalidInput(other.to_string()),
                }));
            }
        }
    }
    results
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
