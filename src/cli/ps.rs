//! `doeff-agents ps`: sessions with NAME, AGENT, STATUS, AGE, WORK DIR. The
//! status comes from the observation pipeline (`Agents::observe_all`): a
//! fresh capture of every screen and every pane's state in one round trip,
//! with "changed or not" decided from evidence (see `session/observe.rs`).
//! The session list and that read happen while the adapters load on
//! another thread.

use serde::Serialize;

use super::GlobalArgs;
use super::style;
use crate::error::{Error, Result};

use crate::monitor::SessionStatus;
use crate::session::{AgentSession, Agents, fetch_every, list_sessions};

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Also list tmux sessions not made by doeff-agents
    #[arg(long)]
    pub all: bool,
    /// A JSON array instead of a table
    #[arg(long)]
    pub json: bool,
    /// Only sessions that ended (done, failed, exited): what `prune` removes
    #[arg(long)]
    pub finished: bool,
}

#[derive(Serialize)]
pub(super) struct Row {
    pub(super) name: String,
    agent: String,
    pub(super) status: SessionStatus,
    pub(super) reason: String,
    created: u64,
    age_seconds: u64,
    work_dir: String,
    pane_id: String,
    /// A hook's error, a failed reload: what went wrong while observing.
    warnings: Vec<String>,
}

/// Every session (with `all`, foreign ones too) with its row, classified
/// as `ps` shows it; also what `prune` decides on.
pub(super) fn classified(
    global: &GlobalArgs,
    all: bool,
) -> Result<(Agents, Vec<(AgentSession, Row)>)> {
    let tmux = global.tmux(super::Lifetime::OneShot)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // The adapters load (Lua, rules) on one core while tmux answers on the
    // other: most of a one-shot command's time is these two waits.
    let (registry, read) = std::thread::scope(|scope| {
        let loading = scope.spawn(|| global.registry());
        let read = list_sessions(&tmux, all).map(|sessions| {
            let fetched = fetch_every(&tmux, &sessions);
            (sessions, fetched)
        });
        let registry = loading
            .join()
            .unwrap_or_else(|_| Err(Error::Adapter("loading the adapters failed".into())));
        (registry, read)
    });
    let (mut sessions, fetched) = read?;
    let agents = global.agents_over(tmux, registry?);
    let observations = agents.observe_fetched(&mut sessions, fetched);
    let mut rows = Vec::with_capacity(sessions.len());
    for (session, observation) in sessions.iter().zip(observations) {
        let observation = observation?;
        rows.push(Row {
            name: session.session_name.clone(),
            agent: session.agent_type.to_string(),
            status: observation.status,
            reason: observation.reason,
            created: session.created_at,
            age_seconds: now.saturating_sub(session.created_at),
            work_dir: session.work_dir.to_string_lossy().into_owned(),
            pane_id: session.pane_id.clone(),
            warnings: observation.warnings,
        });
    }
    let paired = sessions.into_iter().zip(rows).collect();
    Ok((agents, paired))
}

pub fn run(global: &GlobalArgs, args: PsArgs) -> Result<i32> {
    let (_agents, paired) = classified(global, args.all)?;
    let rows: Vec<Row> = paired
        .into_iter()
        .map(|(_, row)| row)
        .filter(|row| !args.finished || row.status.is_terminal())
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
    for warning in rows.iter().flat_map(|r| &r.warnings) {
        eprintln!("doeff-agents: {warning}");
    }
    let colour = style::colour_enabled();
    // Names of foreign sessions (`--all`) and metadata are free text too.
    let shown: Vec<(String, String)> = rows
        .iter()
        .map(|r| (printable(&r.name), printable(&r.agent)))
        .collect();
    let name_width = shown.iter().map(|s| s.0.len()).max().unwrap_or(4).max(4);
    let agent_width = shown.iter().map(|s| s.1.len()).max().unwrap_or(5).max(5);
    println!(
        "{:<name_width$}  {:<agent_width$}  {:<11}  {:>4}  WORK DIR",
        "NAME", "AGENT", "STATUS", "AGE"
    );
    for (r, (name, agent)) in rows.iter().zip(&shown) {
        let status = style::status(r.status, colour);
        let pad = 11usize.saturating_sub(r.status.as_str().len());
        println!(
            "{:<name_width$}  {:<agent_width$}  {status}{}  {:>4}  {}",
            name,
            agent,
            " ".repeat(pad),
            style::age(r.age_seconds),
            printable(&r.work_dir)
        );
    }
    Ok(0)
}

/// `text` with control characters shown as escapes (`\n`, `\u{1f}`): a
/// value holding a newline cannot draw a fake row in the table.
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped_in_the_table() {
        assert_eq!(super::printable("a\nb\u{1f}c é"), "a\\nb\\u{1f}c é");
    }
}
