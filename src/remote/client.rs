//! The client side of the protocol: one channel per host (the `ssh`
//! process running `serve --stdio` there), every request multiplexed over
//! it by id, every call bounded by a deadline. A reader thread sorts the
//! server's lines into responses (handed to the waiting call) and events
//! (queued for whoever follows them); lines it does not know are skipped.
//! A channel that ends, or stays silent past [`STALL_AFTER`], is dead: its
//! calls fail with [`Error::HostUnreachable`], never hang.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::hosts::Host;
use super::protocol::{Event, HEARTBEAT_MS, Hello, MAX_LINE, Request, ServerMessage, WireError};
use crate::error::{Error, Result};

/// Silence after which a connected host counts as stalled.
pub const STALL_AFTER: Duration = Duration::from_millis(4 * HEARTBEAT_MS);
/// Default deadline of a quick request (list, capture, stop, ...).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Lines of the ssh process's stderr kept for error messages.
const STDERR_LINES: usize = 5;

type Reply = std::result::Result<Value, WireError>;

/// What the reader thread hands a follower.
#[derive(Clone, Debug)]
pub enum Incoming {
    Event(Event),
    /// The channel ended; the string says why (last stderr line).
    Closed(String),
}

#[derive(Default)]
struct Shared {
    pending: Mutex<HashMap<u64, Sender<Reply>>>,
    last_heard: Mutex<Option<Instant>>,
    stderr: Mutex<Vec<String>>,
    closed: AtomicBool,
}

impl Shared {
    fn heard(&self) {
        *self
            .last_heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_default()
    }
}

/// One live channel to one host.
pub struct Connection {
    /// The host's name as the user gave it.
    pub host: String,
    /// What the server said first.
    pub hello: Hello,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    events: Mutex<Option<Receiver<Incoming>>>,
}

fn unreachable(host: &str, message: impl Into<String>) -> Error {
    Error::HostUnreachable {
        host: host.to_owned(),
        message: message.into(),
    }
}

fn spawn_stderr_reader(mut stderr: impl Read + Send + 'static, shared: Arc<Shared>) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        let mut partial = String::new();
        while let Ok(n) = stderr.read(&mut buffer) {
            if n == 0 {
                break;
            }
            partial.push_str(&String::from_utf8_lossy(&buffer[..n]));
            let mut lines = shared.stderr.lock().unwrap_or_else(PoisonError::into_inner);
            while let Some(at) = partial.find('\n') {
                let line: String = partial.drain(..=at).collect();
                lines.push(line.trim_end().to_owned());
                let excess = lines.len().saturating_sub(STDERR_LINES);
                lines.drain(..excess);
            }
        }
        if !partial.trim().is_empty() {
            let mut lines = shared.stderr.lock().unwrap_or_else(PoisonError::into_inner);
            lines.push(partial.trim_end().to_owned());
        }
    });
}

impl Connection {
    /// Connects to `host` over ssh and waits for its hello.
    pub fn open(host: &Host) -> Result<Connection> {
        let connection = Self::spawn(
            &host.name,
            super::ssh::serve_command(host),
            host.connect_timeout,
        );
        if let Err(Error::HostUnreachable { message, .. }) = &connection
            && message.contains("did not answer")
        {
            // Maybe a wedged shared connection: the next try makes a new one.
            super::ssh::drop_master(host);
        }
        connection
    }

    /// Runs `command` (which must speak the protocol on its stdin/stdout,
    /// with piped stdio) and waits up to `timeout` for its hello.
    pub fn spawn(host: &str, mut command: Command, timeout: Duration) -> Result<Connection> {
        let mut child = command
            .spawn()
            .map_err(|e| unreachable(host, format!("cannot run ssh: {e}")))?;
        let shared = Arc::new(Shared::default());
        let (stdout, stdin) = match (child.stdout.take(), child.stdin.take()) {
            (Some(stdout), Some(stdin)) => (stdout, stdin),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(unreachable(host, "ssh's pipes are missing"));
            }
        };
        if let Some(stderr) = child.stderr.take() {
            spawn_stderr_reader(stderr, shared.clone());
        }
        let (hello_tx, hello_rx) = channel::<Hello>();
        let (events_tx, events_rx) = channel::<Incoming>();
        spawn_reader(stdout, shared.clone(), hello_tx, events_tx);
        let hello = match hello_rx.recv_timeout(timeout) {
            Ok(hello) => hello,
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                let tail = shared.stderr_tail();
                let message = match err {
                    std::sync::mpsc::RecvTimeoutError::Timeout => format!(
                        "did not answer within {:.0} s{}",
                        timeout.as_secs_f64(),
                        if tail.is_empty() {
                            String::new()
                        } else {
                            format!(" ({tail})")
                        }
                    ),
                    std::sync::mpsc::RecvTimeoutError::Disconnected if tail.contains("serve") => {
                        format!("the remote doeff-agents cannot serve (too old?): {tail}")
                    }
                    std::sync::mpsc::RecvTimeoutError::Disconnected if tail.is_empty() => {
                        "the connection closed before the remote doeff-agents answered".into()
                    }
                    std::sync::mpsc::RecvTimeoutError::Disconnected => tail,
                };
                return Err(unreachable(host, message));
            }
        };
        if let Err(why) = hello.check() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Remote {
                host: host.to_owned(),
                kind: "incompatible_protocol".into(),
                message: why,
            });
        }
        Ok(Connection {
            host: host.to_owned(),
            hello,
            child: Mutex::new(child),
            stdin: Mutex::new(Some(stdin)),
            shared,
            next_id: AtomicU64::new(1),
            events: Mutex::new(Some(events_rx)),
        })
    }

    /// True while the channel is up.
    pub fn is_alive(&self) -> bool {
        !self.shared.closed.load(Ordering::SeqCst)
    }

    /// How long since the host last said anything.
    pub fn silent_for(&self) -> Duration {
        self.shared
            .last_heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(Duration::ZERO, |at| at.elapsed())
    }

    /// The host's pushed events (once: whoever takes them follows them).
    pub fn take_events(&self) -> Option<Receiver<Incoming>> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Sends `op` with `args` and waits up to `timeout` for its answer.
    pub fn call(&self, op: &str, args: Value, timeout: Duration) -> Result<Value> {
        if !self.is_alive() {
            return Err(self.gone());
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = channel();
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        let request = Request {
            id,
            op: op.to_owned(),
            args,
        };
        let mut line = serde_json::to_string(&request)
            .map_err(|e| Error::InvalidInput(format!("cannot encode the request: {e}")))?;
        if line.len() > MAX_LINE {
            self.forget(id);
            return Err(Error::InvalidInput(format!(
                "the request is over {} MB",
                MAX_LINE / (1024 * 1024)
            )));
        }
        line.push('\n');
        let written = {
            let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
            match stdin.as_mut() {
                Some(pipe) => pipe.write_all(line.as_bytes()).and_then(|()| pipe.flush()),
                None => Err(std::io::Error::other("closed")),
            }
        };
        if written.is_err() {
            self.forget(id);
            return Err(self.gone());
        }
        match rx.recv_timeout(timeout) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Error::Remote {
                host: self.host.clone(),
                kind: error.kind,
                message: error.message,
            }),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                self.forget(id);
                Err(unreachable(
                    &self.host,
                    format!("no answer to {op} within {:.0} s", timeout.as_secs_f64()),
                ))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(self.gone()),
        }
    }

    fn forget(&self, id: u64) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    fn gone(&self) -> Error {
        let tail = self.shared.stderr_tail();
        unreachable(
            &self.host,
            if tail.is_empty() {
                "the connection closed".to_owned()
            } else {
                format!("the connection closed ({tail})")
            },
        )
    }

    /// Ends the channel (the remote `serve` sees its stdin end).
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        drop(
            self.stdin
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

fn spawn_reader(
    stdout: impl Read + Send + 'static,
    shared: Arc<Shared>,
    hello: Sender<Hello>,
    events: Sender<Incoming>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        let mut hello = Some(hello);
        loop {
            line.clear();
            match reader
                .by_ref()
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line)
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            shared.heard();
            let text = String::from_utf8_lossy(&line);
            let Some(message) = ServerMessage::parse(text.trim()) else {
                continue;
            };
            match message {
                ServerMessage::Hello(h) => {
                    if let Some(tx) = hello.take() {
                        let _ = tx.send(h);
                    }
                }
                ServerMessage::Response {
                    id,
                    ok,
                    result,
                    error,
                } => {
                    let waiting = shared
                        .pending
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id);
                    if let Some(tx) = waiting {
                        let reply = if ok {
                            Ok(result.unwrap_or(Value::Null))
                        } else {
                            Err(error.unwrap_or(WireError {
                                kind: "error".into(),
                                message: "the host gave no reason".into(),
                            }))
                        };
                        let _ = tx.send(reply);
                    }
                }
                ServerMessage::Event(event) => {
                    let _ = events.send(Incoming::Event(event));
                }
                ServerMessage::Heartbeat { .. } => {}
            }
        }
        shared.closed.store(true, Ordering::SeqCst);
        // Waiting calls see their sender dropped: the channel is gone.
        shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let _ = events.send(Incoming::Closed(shared.stderr_tail()));
    });
}
