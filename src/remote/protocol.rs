//! The wire format of `doeff-agents serve --stdio` (documented for people
//! in `docs/protocol.md`): newline-delimited JSON, one object per line.
//! The server speaks first with a [`Hello`]; the client then sends
//! [`Request`]s with ids, and the server answers each with a response
//! carrying the same id, in any order, while it pushes [`Event`]s and
//! heartbeats. Unknown fields are ignored everywhere; a line of an unknown
//! `type` is skipped, so either side can grow without breaking the other.
//! Only [`PROTOCOL_VERSION`] changes on an incompatible change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::monitor::SessionStatus;

/// The protocol this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The protocol versions this build can talk to.
pub const COMPATIBLE: &[u32] = &[1];
/// The operations (and the event stream) this build serves.
pub const CAPABILITIES: &[&str] = &[
    "launch",
    "list",
    "observe",
    "capture",
    "send",
    "keys",
    "stop",
    "explain",
    "adapters",
    "subscribe",
    "ping",
    "events",
];
/// The longest line either side accepts (a 1 MB message, JSON-escaped).
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// How often a server sends a heartbeat; a client that hears nothing for
/// several of these takes the host as stalled.
pub const HEARTBEAT_MS: u64 = 1000;

/// The server's first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol the server speaks.
    pub protocol: u32,
    /// Every protocol version the server can speak.
    #[serde(default)]
    pub compatible: Vec<u32>,
    /// `doeff-agents`.
    #[serde(default)]
    pub product: String,
    /// The server's doeff-agents version.
    #[serde(default)]
    pub version: String,
    /// Operations it serves (see [`CAPABILITIES`]).
    #[serde(default)]
    pub capabilities: Vec<String>,
}

impl Hello {
    /// This build's hello.
    pub fn ours() -> Hello {
        Hello {
            protocol: PROTOCOL_VERSION,
            compatible: COMPATIBLE.to_vec(),
            product: "doeff-agents".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    /// `Ok` when this build can talk to the server that sent `self`, else
    /// the one-line reason.
    pub fn check(&self) -> Result<(), String> {
        let speaks = self.protocol == PROTOCOL_VERSION
            || self.compatible.contains(&PROTOCOL_VERSION)
            || COMPATIBLE.contains(&self.protocol);
        if speaks {
            Ok(())
        } else {
            Err(format!(
                "the remote doeff-agents {} speaks protocol {} and this one speaks {}: \
                 install the same doeff-agents version on both machines",
                if self.version.is_empty() {
                    "(unknown version)"
                } else {
                    &self.version
                },
                self.protocol,
                PROTOCOL_VERSION
            ))
        }
    }
}

/// One client request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub op: String,
    #[serde(default)]
    pub args: Value,
}

/// Why a request failed: a stable snake_case `kind` and one line for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub kind: String,
    pub message: String,
}

/// A pushed event. `seq` numbers a session's recorded events (status
/// changes and PRs) on that host: increasing, never reused, the same in
/// every `serve` process there (they are kept in the host's state dir), so a
/// client that reconnects and subscribes `since` its last seq gets the
/// events it missed and none twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `status`, `pr` or `warning`.
    pub kind: String,
    pub session: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The session's life (`%PANE@CREATED`): a session made again under
    /// the same name has another, and its first record has no `old`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane: Option<String>,
    /// `status`: the status before (none for a session's first record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<SessionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<SessionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `status`: which rule decided, on which region and line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Value>,
    /// `pr`: the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `warning`: what went wrong while observing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the remote monitor saw it (Unix milliseconds).
    #[serde(default)]
    pub time_ms: u64,
}

impl Event {
    /// An event of `kind` on `session`, seen now, every other field empty.
    pub fn new(kind: &str, session: &str) -> Event {
        Event {
            kind: kind.to_owned(),
            session: session.to_owned(),
            seq: None,
            pane: None,
            old: None,
            new: None,
            reason: None,
            evidence: None,
            url: None,
            message: None,
            time_ms: now_ms(),
        }
    }
}

/// Everything a server writes, by its `type` field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello(Hello),
    Response {
        id: u64,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<WireError>,
    },
    Event(Event),
    Heartbeat {
        #[serde(default)]
        time_ms: u64,
    },
}

impl ServerMessage {
    /// One line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| {
            format!(r#"{{"type":"error","message":"cannot encode a message: {err}"}}"#)
        })
    }

    /// A line from a server: `None` for a line this build does not know
    /// (another `type`, or not JSON at all), which a client skips.
    pub fn parse(line: &str) -> Option<ServerMessage> {
        serde_json::from_str(line).ok()
    }
}

/// A session as `list` returns it (what `ps --json` shows, plus the host's
/// last recorded event seq for it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub name: String,
    #[serde(default)]
    pub agent: String,
    pub status: SessionStatus,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub age_seconds: u64,
    #[serde(default)]
    pub work_dir: String,
    #[serde(default)]
    pub pane_id: String,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `launch` arguments: the CLI's `run` options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchArgs {
    pub name: String,
    pub agent: String,
    #[serde(default)]
    pub work_dir: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub skip_permissions: bool,
    #[serde(default)]
    pub accept_dialogs: bool,
    /// Seconds to wait for a `tmux`-injection agent to be ready.
    #[serde(default)]
    pub ready_timeout: Option<f64>,
}

/// Arguments naming one session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameArgs {
    pub name: String,
    #[serde(default)]
    pub raw_target: bool,
}

/// `subscribe` arguments: the last seq the client saw per session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeArgs {
    #[serde(default)]
    pub since: BTreeMap<String, u64>,
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_unknown_fields_are_ignored() {
        let hello = ServerMessage::Hello(Hello::ours());
        assert_eq!(ServerMessage::parse(&hello.to_line()), Some(hello));
        let line = r#"{"type":"response","id":7,"ok":true,"result":[1],"later":"field"}"#;
        assert_eq!(
            ServerMessage::parse(line),
            Some(ServerMessage::Response {
                id: 7,
                ok: true,
                result: Some(serde_json::json!([1])),
                error: None
            })
        );
        let event = r#"{"type":"event","kind":"status","session":"doeff-a","seq":3,
            "old":"running","new":"blocked","reason":"permission_prompt","time_ms":5,"x":{}}"#;
        let Some(ServerMessage::Event(event)) = ServerMessage::parse(event) else {
            panic!("event expected");
        };
        assert_eq!(event.seq, Some(3));
        assert_eq!(event.new, Some(SessionStatus::Blocked));
    }

    #[test]
    fn unknown_types_and_garbage_are_skipped() {
        assert_eq!(ServerMessage::parse(r#"{"type":"gossip"}"#), None);
        assert_eq!(ServerMessage::parse("Welcome to build01!"), None);
        assert_eq!(ServerMessage::parse(""), None);
    }

    #[test]
    fn another_protocol_version_is_a_clear_error() {
        assert!(Hello::ours().check().is_ok());
        let newer = Hello {
            protocol: 99,
            compatible: vec![99],
            version: "9.0.0".into(),
            ..Hello::ours()
        };
        let message = newer.check().unwrap_err();
        assert!(message.contains("speaks protocol 99"), "{message}");
        assert!(message.contains("9.0.0"), "{message}");
        // A newer server that still speaks ours is fine.
        let compatible = Hello {
            protocol: 2,
            compatible: vec![1, 2],
            ..Hello::ours()
        };
        assert!(compatible.check().is_ok());
    }

    #[test]
    fn requests_without_args_parse() {
        let request: Request = serde_json::from_str(r#"{"id":1,"op":"ping"}"#).unwrap();
        assert_eq!(request.args, Value::Null);
    }
}
