//! What each request of the protocol does on the host where the agents run:
//! `launch`, `list`, `observe`, `capture`, `send`, `keys`, `stop`, `explain`,
//! `adapters`, `ping`, each a thin call into [`Agents`] whose answer is
//! JSON. Text from the client (prompts, messages, names) only ever reaches
//! the library as data: nothing here runs a shell. Names resolve as on the
//! command line (only doeff sessions unless `raw_target`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::protocol::{LaunchArgs, NameArgs, SessionRow, WireError};
use crate::error::Error;
use crate::session::{AgentSession, Agents, Lookup};
use crate::{AgentType, LaunchConfig};

/// A request's outcome: its JSON result or why it failed.
pub type Outcome = Result<Value, WireError>;

/// The stable `kind` of an error, for clients that act on it.
pub fn error_kind(err: &Error) -> &'static str {
    match err {
        Error::SessionNotFound(_) => "session_not_found",
        Error::NotDoeffSession(_) => "not_doeff_session",
        Error::NoSuchTmuxSession(_) => "no_such_tmux_session",
        Error::SessionAlreadyExists(_) => "session_exists",
        Error::InvalidSessionName { .. } => "invalid_session_name",
        Error::UnknownAgent { .. } => "unknown_agent",
        Error::AgentLaunch { .. } => "launch_failed",
        Error::AgentReadyTimeout { .. } => "ready_timeout",
        Error::Send { .. } => "send_failed",
        Error::InvalidInput(_) => "invalid_input",
        Error::TmuxNotAvailable(_) => "tmux_not_available",
        Error::TmuxTimeout { .. } => "tmux_timeout",
        Error::Tmux { .. } => "tmux",
        Error::Adapter(_) => "adapter",
        _ => "error",
    }
}

/// `err` as it crosses the link.
pub fn wire(err: &Error) -> WireError {
    WireError {
        kind: error_kind(err).to_owned(),
        message: err.to_string(),
    }
}

fn bad_request(message: impl Into<String>) -> WireError {
    WireError {
        kind: "bad_request".into(),
        message: message.into(),
    }
}

fn parse<T: DeserializeOwned>(op: &str, args: Value) -> Result<T, WireError> {
    let args = if args.is_null() { json!({}) } else { args };
    serde_json::from_value(args).map_err(|e| bad_request(format!("{op}: bad arguments: {e}")))
}

fn field<T: DeserializeOwned + Default>(args: &Value, name: &str) -> Result<T, WireError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| bad_request(format!("bad {name}: {e}"))),
    }
}

fn find(agents: &Agents, args: &NameArgs) -> Result<AgentSession, WireError> {
    let lookup = if args.raw_target {
        Lookup::Raw
    } else {
        Lookup::Doeff
    };
    agents
        .find_session(&args.name, lookup)
        .map_err(|e| wire(&e))
}

fn now_secs() -> u64 {
    super::protocol::now_ms() / 1000
}

/// A session as the wire shows it, with its observation.
pub fn row(session: &AgentSession, observation: &crate::monitor::Observation) -> SessionRow {
    SessionRow {
        name: session.session_name.clone(),
        agent: session.agent_type.to_string(),
        status: observation.status,
        reason: observation.reason.clone(),
        created: session.created_at,
        age_seconds: now_secs().saturating_sub(session.created_at),
        work_dir: session.work_dir.to_string_lossy().into_owned(),
        pane_id: session.pane_id.clone(),
        warnings: observation.warnings.clone(),
    }
}

/// Runs one request on `agents`.
pub fn run(agents: &Agents, op: &str, args: Value) -> Outcome {
    let failed = |e: Error| wire(&e);
    match op {
        "ping" => Ok(json!({})),
        "list" => {
            let all: bool = field(&args, "all")?;
            let mut sessions = agents.list(all).map_err(failed)?;
            let observations = agents.observe_all(&mut sessions);
            let mut rows = Vec::with_capacity(sessions.len());
            for (session, observation) in sessions.iter().zip(observations) {
                rows.push(row(session, &observation.map_err(failed)?));
            }
            Ok(json!(rows))
        }
        "launch" => launch(agents, parse(op, args)?),
        "observe" | "explain" => {
            let mut session = find(agents, &parse(op, args)?)?;
            let observation = agents.observe(&mut session).map_err(failed)?;
            Ok(json!({
                "session": session.session_name,
                "status": observation.status,
                "previous": observation.previous,
                "reason": observation.reason,
                "evidence": observation.evidence,
                "output_changed": observation.output_changed,
                "pr_url": observation.pr_url,
                "output_snippet": observation.output_snippet,
                "is_terminal": observation.is_terminal,
                "warnings": observation.warnings,
                "source": observation.agent.source,
                "agent": observation.agent,
            }))
        }
        "capture" => {
            let session = find(agents, &parse(op, args.clone())?)?;
            let lines: Option<usize> = field(&args, "lines")?;
            let text = agents
                .capture_output(&session, lines.unwrap_or(100))
                .map_err(failed)?;
            Ok(json!({ "text": text }))
        }
        "send" => {
            let session = find(agents, &parse(op, args.clone())?)?;
            let text: String = field(&args, "text")?;
            let enter: Option<bool> = field(&args, "enter")?;
            agents
                .send_message(&session, &text, enter.unwrap_or(true))
                .map_err(failed)?;
            Ok(json!({}))
        }
        "keys" => {
            let keys: Vec<String> = field(&args, "keys")?;
            // Refused before the session is even looked up, as locally.
            crate::session::key_names(&keys).map_err(failed)?;
            let session = find(agents, &parse(op, args)?)?;
            agents.send_keys(&session, &keys).map_err(failed)?;
            Ok(json!({}))
        }
        "stop" => {
            let target: NameArgs = parse(op, args)?;
            match find(agents, &target) {
                Ok(mut session) => {
                    agents.stop_session(&mut session).map_err(failed)?;
                    Ok(json!({ "session": session.session_name, "already": false }))
                }
                Err(err)
                    if err.kind == "session_not_found"
                        && !target.raw_target
                        && agents.was_stopped(&target.name) =>
                {
                    let full = crate::session::session_name(&target.name).map_err(failed)?;
                    Ok(json!({ "session": full, "already": true }))
                }
                Err(err) => Err(err),
            }
        }
        "adapters" => {
            let registry = agents.adapters();
            let rows = registry.list(&crate::session::user_path());
            let errors = registry.load_errors();
            Ok(json!({
                "adapters": rows.iter().map(|r| json!({
                    "name": r.name, "source": r.source, "binary": r.binary,
                    "available": r.available, "error": r.error,
                })).collect::<Vec<_>>(),
                "errors": errors.iter().map(|e| json!({"path": e.path, "message": e.message}))
                    .collect::<Vec<_>>(),
            }))
        }
        other => Err(WireError {
            kind: "unknown_op".into(),
            message: format!("unknown operation {other:?}"),
        }),
    }
}

fn launch(agents: &Agents, args: LaunchArgs) -> Outcome {
    let agent_type: AgentType = args
        .agent
        .parse()
        .map_err(|e: String| wire(&Error::InvalidInput(e)))?;
    let mut config = LaunchConfig::new(agent_type, args.work_dir.as_deref().unwrap_or("."));
    config.prompt = args.prompt;
    config.profile = args.profile;
    config.model = args.model;
    config.env = args.env;
    config.skip_permissions = args.skip_permissions;
    config.accept_dialogs = args.accept_dialogs;
    if let Some(secs) = args.ready_timeout {
        config.ready_timeout = Duration::try_from_secs_f64(secs)
            .map_err(|_| bad_request(format!("ready_timeout must be seconds >= 0, got {secs}")))?;
    }
    let session = agents
        .launch_session(&args.name, &config)
        .map_err(|e| wire(&e))?;
    Ok(session.launch_json())
}
