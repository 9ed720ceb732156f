//! `doeff-agents ps`: sessions with NAME, AGENT, STATUS, AGE, WORK DIR. The
//! status comes from a fresh capture, classified as a still screen. Two
//! tmux processes in all: the session list, then every capture and every
//! pane's state (`list-panes -a`) chained in one; the adapters load on
//! another thread meanwhile.

use serde::Serialize;

use super::GlobalArgs;
use super::style;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

use crate::monitor::{Process, Screen, SessionStatus};
use crate::session::{AgentSession, Agents, list_sessions, process_with_zombies};
use crate::tmux::{PaneState, Tmux};

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Also list tmux sessions not made by doeff-agents
    #[arg(long)]
    pub all: bool,
    /// A JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Row {
    name: String,
    agent: String,
    status: SessionStatus,
    reason: String,
    created: u64,
    age_seconds: u64,
    work_dir: String,
    pane_id: String,
}

fn row(
    agents: &Agents,
    session: &AgentSession,
    screen: &Screen,
    states: &HashMap<&str, &PaneState>,
    now: u64,
) -> Row {
    let adapter = agents.adapter_for(session);
    let process = process_with_zombies(states.get(session.pane_id.as_str()).copied(), &adapter);
    let screen = match process {
        Process::Gone => &Screen::default(),
        _ => screen,
    };
    let verdict = adapter.explain(screen, SessionStatus::Running, false, &process);
    Row {
        name: session.session_name.clone(),
        agent: session.agent_type.to_string(),
        status: verdict.status,
        reason: verdict.reason,
        created: session.created_at,
        age_seconds: now.saturating_sub(session.created_at),
        work_dir: session.work_dir.to_string_lossy().into_owned(),
        pane_id: session.pane_id.clone(),
    }
}

/// What tmux says: the sessions, their screens, every pane's state.
type Fetched = (Vec<AgentSession>, Vec<Screen>, Vec<PaneState>);

/// The sessions, then every capture and every pane's state in one round
/// trip (screens before states, as `Agents::snapshot` does: an agent
/// exiting between the reads is then seen with its exit status).
fn fetch(tmux: &Tmux, all: bool) -> Result<Fetched> {
    let sessions = list_sessions(tmux, all)?;
    if sessions.is_empty() {
        return Ok((sessions, Vec::new(), Vec::new()));
    }
    let targets: Vec<&str> = sessions.iter().map(|s| s.pane_id.as_str()).collect();
    let (captures, states) = tmux.capture_panes_then_states(&targets);
    let screens = captures
        .into_iter()
        .map(|c| c.map(|t| Screen::from_text(&t)).unwrap_or_default())
        .collect();
    Ok((sessions, screens, states?))
}

pub fn run(global: &GlobalArgs, args: PsArgs) -> Result<i32> {
    let tmux = global.monitoring_tmux(false)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // The adapters load (Lua, rules) on one core while tmux answers on the
    // other: most of a one-shot command's time is these two waits.
    let (registry, fetched) = std::thread::scope(|scope| {
        let loading = scope.spawn(|| global.registry());
        let fetched = fetch(&tmux, args.all);
        let registry = loading
            .join()
            .unwrap_or_else(|_| Err(Error::Adapter("loading the adapters failed".into())));
        (registry, fetched)
    });
    let (sessions, screens, states) = fetched?;
    let agents = Agents::new(tmux, Arc::new(registry?));
    let by_pane: HashMap<&str, &PaneState> =
        states.iter().map(|s| (s.pane_id.as_str(), s)).collect();
    let rows: Vec<Row> = sessions
        .iter()
        .zip(&screens)
        .map(|(s, screen)| row(&agents, s, screen, &by_pane, now))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into())
        );
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no sessions");
        return Ok(0);
    }
    let colour = style::colour_enabled();
    let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let agent_width = rows.iter().map(|r| r.agent.len()).max().unwrap_or(5).max(5);
    println!(
        "{:<name_width$}  {:<agent_width$}  {:<11}  {:>4}  WORK DIR",
        "NAME", "AGENT", "STATUS", "AGE"
    );
    for r in &rows {
        let status = style::status(r.status, colour);
        let pad = 11usize.saturating_sub(r.status.as_str().len());
        println!(
            "{:<name_width$}  {:<agent_width$}  {status}{}  {:>4}  {}",
            r.name,
            r.agent,
            " ".repeat(pad),
            style::age(r.age_seconds),
            r.work_dir
        );
    }
    Ok(0)
}
