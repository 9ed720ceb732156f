//! `doeff-agents serve --stdio`: the host side of the protocol. It writes
//! its [`Hello`] first, then reads one [`Request`] per line from stdin and
//! answers each on stdout with the same id; every request runs on a thread
//! of its own, so a slow `launch` or `send` never holds up a `list` or the
//! events. The first `subscribe` starts the host's monitoring loop
//! ([`super::events`]) for this connection; a heartbeat goes out every
//! [`HEARTBEAT_MS`] so the client can tell a stalled host from a quiet one.
//! It ends when stdin ends (the SSH channel closed) or stdout breaks.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::journal::Journal;
use super::ops;
use super::protocol::{
    HEARTBEAT_MS, Hello, MAX_LINE, Request, ServerMessage, SubscribeArgs, WireError, now_ms,
};
use super::stream::Stream;
use crate::session::{Agents, list_sessions};

/// How long the last answers may take to be written once stdin ended.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(2);

/// What one connection serves with.
pub struct Server {
    /// For requests (one tmux process per call).
    pub agents: Agents,
    /// Made on the first `subscribe`: the monitoring loop's entry point (a
    /// control-mode client with output events).
    pub monitoring: Box<dyn Fn() -> crate::error::Result<Agents> + Send + Sync>,
    /// Where the host's event records live.
    pub journal: Journal,
}

struct Connection {
    server: Server,
    stream: Stream,
    subscribed: AtomicBool,
}

/// Serves one connection on `input`/`output` until `input` ends.
pub fn serve(server: Server, input: impl Read, output: impl Write + Send + 'static) {
    let stream = Stream::spawn(output);
    stream.send(&ServerMessage::Hello(Hello::ours()));
    let heartbeat = stream.clone();
    std::thread::spawn(move || {
        while heartbeat.send(&ServerMessage::Heartbeat { time_ms: now_ms() }) {
            std::thread::sleep(Duration::from_millis(HEARTBEAT_MS));
        }
    });
    let connection = Arc::new(Connection {
        server,
        stream: stream.clone(),
        subscribed: AtomicBool::new(false),
    });
    let mut input = std::io::BufReader::new(input);
    let mut line = Vec::new();
    let mut running: Vec<std::thread::JoinHandle<()>> = Vec::new();
    loop {
        running.retain(|handle| !handle.is_finished());
        line.clear();
        let read = input
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line);
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            respond_error(&stream, 0, "bad_request", "request line too long");
            // Skip the rest of that line.
            let mut rest = Vec::new();
            if input.read_until(b'\n', &mut rest).unwrap_or(0) == 0 {
                break;
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Request>(text) {
            Ok(request) => {
                let connection = connection.clone();
                running.push(std::thread::spawn(move || connection.handle(request)));
            }
            Err(err) => {
                let id = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_u64))
                    .unwrap_or(0);
                respond_error(&stream, id, "bad_request", &format!("not a request: {err}"));
            }
        }
    }
    // Requests still running get their answers out (a client that
    // closed its side after its last request still reads them).
    for handle in running {
        let _ = handle.join();
    }
    stream.flush(FLUSH_AT_EXIT);
    stream.close();
}

fn respond_error(stream: &Stream, id: u64, kind: &str, message: &str) {
    stream.send(&ServerMessage::Response {
        id,
        ok: false,
        result: None,
        error: Some(WireError {
            kind: kind.to_owned(),
            message: message.to_owned(),
        }),
    });
}

impl Connection {
    fn handle(&self, request: Request) {
        let outcome = match request.op.as_str() {
            "subscribe" => self.subscribe(request.args),
            op => ops::run(&self.server.agents, op, request.args),
        };
        // An observation says where the host's records of it stand, so a
        // client can follow it from there (`subscribe` `since`).
        let outcome = match (request.op.as_str(), outcome) {
            ("observe" | "explain", Ok(mut result)) => {
                let seq = result
                    .get("session")
                    .and_then(Value::as_str)
                    .and_then(|s| self.server.journal.last_status(s, None))
                    .map(|l| l.0);
                if let Some(object) = result.as_object_mut() {
                    object.insert("seq".into(), json!(seq.unwrap_or(0)));
                }
                Ok(result)
            }
            (_, outcome) => outcome,
        };
        let message = match outcome {
            Ok(result) => ServerMessage::Response {
                id: request.id,
                ok: true,
                result: Some(result),
                error: None,
            },
            Err(error) => ServerMessage::Response {
                id: request.id,
                ok: false,
                result: None,
                error: Some(error),
            },
        };
        self.stream.send(&message);
    }

    /// Replays what the client missed (records after its `since` seqs),
    /// answers with every session's last recorded seq and status, and
    /// starts the monitoring loop (once per connection).
    fn subscribe(&self, args: Value) -> ops::Outcome {
        let args: SubscribeArgs =
            serde_json::from_value(if args.is_null() { json!({}) } else { args }).map_err(|e| {
                WireError {
                    kind: "bad_request".into(),
                    message: format!("subscribe: bad arguments: {e}"),
                }
            })?;
        let journal = &self.server.journal;
        for (session, since) in &args.since {
            for record in journal.since(session, *since) {
                self.stream.emit(&record);
            }
        }
        let sessions =
            list_sessions(self.server.agents.tmux(), false).map_err(|e| ops::wire(&e))?;
        let mut snapshot = Vec::new();
        let mut seqs = BTreeMap::new();
        for session in &sessions {
            let last =
                journal.last_status(&session.session_name, Some(&super::events::life(session)));
            if let Some((seq, _)) = last {
                seqs.insert(session.session_name.clone(), seq);
            }
            snapshot.push(json!({
                "name": session.session_name,
                "seq": last.map(|l| l.0),
                "status": last.and_then(|l| l.1),
            }));
        }
        // What the snapshot says is known; only newer records are pushed.
        self.stream.mark_sent(&seqs);
        if !self.subscribed.swap(true, Ordering::SeqCst) {
            let agents = (self.server.monitoring)().map_err(|e| ops::wire(&e))?;
            let journal = journal.clone();
            let stream = self.stream.clone();
            std::thread::spawn(move || super::events::run(agents, journal, stream));
        }
        Ok(json!({ "sessions": snapshot }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::remote::stream::tests::Shared;

    /// Serves `input` against a tmux server that does not exist.
    fn exchange(input: &str) -> Vec<ServerMessage> {
        let tmux = crate::Tmux::new(crate::Server::named(format!(
            "doeff-serve-unit-{}",
            std::process::id()
        )));
        let registry = Arc::new(crate::AdapterRegistry::builtin().unwrap());
        let agents = Agents::new(tmux, registry);
        let dir = std::env::temp_dir().join(format!("doeff-serve-unit-{}", std::process::id()));
        let server = Server {
            agents: agents.clone(),
            monitoring: Box::new(move || Ok(agents.clone())),
            journal: Journal::new(&dir),
        };
        let out = Shared::default();
        serve(server, input.as_bytes(), out.clone());
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| ServerMessage::parse(l).unwrap_or_else(|| panic!("bad line {l}")))
            .filter(|m| !matches!(m, ServerMessage::Heartbeat { .. }))
            .collect()
    }

    fn response(messages: &[ServerMessage], want: u64) -> (bool, Option<Value>, Option<WireError>) {
        messages
            .iter()
            .find_map(|m| match m {
                ServerMessage::Response {
                    id,
                    ok,
                    result,
                    error,
                } if *id == want => Some((*ok, result.clone(), error.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no response {want} in {messages:?}"))
    }

    #[test]
    fn hello_first_then_one_answer_per_request() {
        let messages = exchange(concat!(
            "{\"id\":1,\"op\":\"ping\",\"extra\":true}\n",
            "not json\n",
            "{\"id\":3,\"op\":\"frobnicate\"}\n",
            "{\"id\":4,\"op\":\"list\"}\n",
            "{\"id\":5,\"op\":\"capture\",\"args\":{\"name\":\"nope\"}}\n",
            "{\"id\":6,\"op\":\"keys\",\"args\":{\"name\":\"x\",\"keys\":[\"rm -rf\"]}}\n",
            "{\"id\":7,\"op\":\"launch\",\"args\":{\"name\":\"a:b\",\"agent\":\"demo\"}}\n",
            "{\"id\":8,\"op\":\"send\",\"args\":{\"name\":3}}\n",
        ));
        assert!(matches!(&messages[0], ServerMessage::Hello(h) if h.protocol == PROTOCOL));
        assert!(response(&messages, 1).0);
        assert_eq!(response(&messages, 0).2.unwrap().kind, "bad_request");
        assert_eq!(response(&messages, 3).2.unwrap().kind, "unknown_op");
        assert_eq!(response(&messages, 4).1, Some(json!([])));
        assert_eq!(response(&messages, 5).2.unwrap().kind, "session_not_found");
        assert_eq!(response(&messages, 6).2.unwrap().kind, "invalid_input");
        assert_eq!(
            response(&messages, 7).2.unwrap().kind,
            "invalid_session_name"
        );
        assert_eq!(response(&messages, 8).2.unwrap().kind, "bad_request");
    }

    const PROTOCOL: u32 = super::super::protocol::PROTOCOL_VERSION;
}
