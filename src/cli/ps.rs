//! `doeff-agents ps`: sessions with NAME, AGENT, STATUS, AGE, WORK DIR. The
//! status comes from the observation pipeline (`Agents::observe_all`): a
//! fresh capture of every screen and every pane's state in one round trip,
//! with "changed or not" decided from evidence (see `session/observe.rs`).
//! The session list and that read happen while the adapters load on
//! another thread.

use super::GlobalArgs;
use super::style;
use crate::error::{Error, Result};

use crate::remote::SessionRow;
use crate::remote::ops::row as session_row;
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

/// One row of the table: a session, the host it runs on (shown as a
/// HOST column when any row has one) and whether its status is only the
/// last known one of a host that cannot be reached.
pub(super) struct TableRow<'a> {
    pub(super) host: Option<&'a str>,
    pub(super) row: &'a SessionRow,
    pub(super) stale: bool,
}

/// Every session (with `all`, foreign ones too) with its row, classified
/// as `ps` shows it; also what `prune` decides on.
pub(super) fn classified(
    global: &GlobalArgs,
    all: bool,
) -> Result<(Agents, Vec<(AgentSession, SessionRow)>)> {
    let tmux = global.tmux(super::Lifetime::OneShot)?;
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
        rows.push(session_row(session, &observation?));
    }
    let paired = sessions.into_iter().zip(rows).collect();
    Ok((agents, paired))
}

pub fn run(global: &GlobalArgs, args: PsArgs) -> Result<i32> {
    let (_agents, paired) = classified(global, args.all)?;
    let rows: Vec<SessionRow> = paired
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
    let table: Vec<TableRow<'_>> = rows
        .iter()
        .map(|row| TableRow {
            host: None,
            row,
            stale: false,
        })
        .collect();
    print_table(&table);
    Ok(0)
}

/// Prints `rows` as the `ps` table (warnings to stderr), with a HOST
/// column when a row has a host.
pub(super) fn print_table(rows: &[TableRow<'_>]) {
    if rows.is_empty() {
        println!("no sessions");
        return;
    }
    for warning in rows.iter().flat_map(|r| &r.row.warnings) {
        eprintln!("doeff-agents: {warning}");
    }
    let colour = style::colour_enabled();
    let hosts = rows.iter().any(|r| r.host.is_some());
    // Names of foreign sessions (`--all`), hosts and metadata are free text too.
    let shown: Vec<[String; 3]> = rows
        .iter()
        .map(|r| {
            [
                printable(r.host.unwrap_or_default()),
                printable(&r.row.name),
                printable(&r.row.agent),
            ]
        })
        .collect();
    let width = |column: usize, min: usize| {
        shown
            .iter()
            .map(|s| s[column].len())
            .max()
            .unwrap_or(min)
            .max(min)
    };
    let (host_width, name_width, agent_width) = (width(0, 4), width(1, 4), width(2, 5));
    // Room for "(stale)" after a status where hosts are shown.
    let status_width = if hosts { 19 } else { 11 };
    let host_cell = |host: &str| {
        if hosts {
            format!("{host:<host_width$}  ")
        } else {
            String::new()
        }
    };
    println!(
        "{}{:<name_width$}  {:<agent_width$}  {:<status_width$}  {:>4}  WORK DIR",
        host_cell("HOST"),
        "NAME",
        "AGENT",
        "STATUS",
        "AGE"
    );
    for (r, [host, name, agent]) in rows.iter().zip(&shown) {
        let status = style::status(r.row.status, colour);
        let stale = if r.stale { " (stale)" } else { "" };
        let pad = status_width.saturating_sub(r.row.status.as_str().len() + stale.len());
        println!(
            "{}{name:<name_width$}  {agent:<agent_width$}  {status}{stale}{}  {:>4}  {}",
            host_cell(host),
            " ".repeat(pad),
            style::age(r.row.age_seconds),
            printable(&r.row.work_dir)
        );
    }
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
