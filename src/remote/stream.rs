//! The server's outgoing side: one writer thread owns stdout, every other
//! thread hands it whole lines through a channel (so a slow or cut link
//! never blocks the monitoring loop, and lines never interleave), plus the
//! per-connection memory of which recorded event seq each session was
//! last sent at, so a record is pushed at most once per connection.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

use super::protocol::{Event, ServerMessage};

/// What the writer thread is handed.
#[derive(Debug)]
enum Line {
    Text(String),
    /// Answered once every line before it is written.
    Flush(Sender<()>),
}

/// Where a server's messages go.
#[derive(Clone, Debug)]
pub struct Stream {
    lines: Sender<Line>,
    closed: Arc<AtomicBool>,
    sent: Arc<Mutex<HashMap<String, u64>>>,
}

impl Stream {
    /// A stream whose lines are written to `out` by a thread of its own.
    pub fn spawn(mut out: impl Write + Send + 'static) -> Stream {
        let (lines, queue): (Sender<Line>, Receiver<Line>) = channel();
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        std::thread::spawn(move || {
            for line in queue {
                let mut text = match line {
                    Line::Text(text) => text,
                    Line::Flush(done) => {
                        let _ = done.send(());
                        continue;
                    }
                };
                text.push('\n');
                if out
                    .write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    // The client is gone (EPIPE): nobody reads any more.
                    flag.store(true, Ordering::SeqCst);
                    return;
                }
            }
        });
        Stream {
            lines,
            closed,
            sent: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Queues a message; false once the client is gone.
    pub fn send(&self, message: &ServerMessage) -> bool {
        !self.is_closed() && self.lines.send(Line::Text(message.to_line())).is_ok()
    }

    /// Waits (at most `timeout`) until every line queued so far is written.
    pub fn flush(&self, timeout: std::time::Duration) {
        let (done, written) = channel();
        if self.lines.send(Line::Flush(done)).is_ok() {
            let _ = written.recv_timeout(timeout);
        }
    }

    /// True once stdout failed (or stdin ended: [`Stream::close`]).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Marks the connection over (stdin ended).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Pushes `event` unless this connection already got its seq (events
    /// without a seq, i.e. warnings, always go).
    pub fn emit(&self, event: &Event) -> bool {
        if let Some(seq) = event.seq {
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            let last = sent.entry(event.session.clone()).or_insert(0);
            if seq <= *last {
                return true;
            }
            *last = seq;
        }
        self.send(&ServerMessage::Event(event.clone()))
    }

    /// Takes `seqs` as already known to the client (a subscribe's snapshot).
    pub fn mark_sent(&self, seqs: &BTreeMap<String, u64>) {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        for (session, seq) in seqs {
            let last = sent.entry(session.clone()).or_insert(0);
            *last = (*last).max(*seq);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::monitor::SessionStatus;

    /// A writer whose bytes a test reads back (also used by `serve.rs`'s tests).
    #[derive(Clone, Default)]
    pub(in crate::remote) struct Shared(pub(in crate::remote) Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_record_goes_once_per_connection() {
        let buffer = Shared::default();
        let stream = Stream::spawn(buffer.clone());
        let event = Event {
            kind: "status".into(),
            session: "doeff-a".into(),
            seq: Some(2),
            pane: None,
            old: Some(SessionStatus::Running),
            new: Some(SessionStatus::Blocked),
            reason: None,
            evidence: None,
            url: None,
            message: None,
            time_ms: 0,
        };
        stream.mark_sent(&BTreeMap::from([("doeff-a".to_owned(), 1)]));
        assert!(stream.emit(&event));
        assert!(stream.emit(&event));
        let old = Event {
            seq: Some(1),
            ..event.clone()
        };
        assert!(stream.emit(&old));
        // A sentinel after the events: once it is out, so is everything before it.
        assert!(stream.send(&ServerMessage::Heartbeat { time_ms: 9 }));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let text = loop {
            let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
            if text.contains("heartbeat") {
                break text;
            }
            assert!(std::time::Instant::now() < deadline, "writer never wrote");
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(text.matches("\"event\"").count(), 1, "{text}");
    }
}
