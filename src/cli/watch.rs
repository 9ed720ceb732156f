//! `doeff-agents watch`: follow one session's status until it ends, printing
//! every change (plain lines, or NDJSON with `--json`). Ctrl-C only ends the
//! watcher; the session keeps running.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::GlobalArgs;
use super::run::seconds;
use super::style;
use crate::error::Result;
use crate::monitor::{Observation, SessionStatus};
use crate::session::{AgentSession, Agents, Monitor};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 done, 1 error, 3 failed, 4 exited, 5 stopped, \
6 timeout, 7 timeout while blocked_api"
)]
pub struct WatchArgs {
    /// Session name (with or without the doeff- prefix); without it, with
    /// --host or --all-hosts: every session on those hosts
    pub name: Option<String>,
    /// Take NAME as an exact tmux session name, also one not made by doeff-agents
    #[arg(long)]
    pub raw_target: bool,
    /// Poll interval in seconds
    #[arg(short, long, default_value_t = 1.0)]
    pub interval: f64,
    /// Give up after this many seconds
    #[arg(long)]
    pub timeout: Option<f64>,
    /// One JSON object per change: {"time","session","old","new","reason","source","evidence"}
    #[arg(long)]
    pub json: bool,
}

/// How a watch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchExit {
    Ended(SessionStatus),
    Timeout(SessionStatus),
}

impl WatchExit {
    /// The process exit code for this ending (see the module docs).
    pub fn code(self) -> i32 {
        match self {
            WatchExit::Ended(SessionStatus::Done) => 0,
            WatchExit::Ended(SessionStatus::Failed) => 3,
            WatchExit::Ended(SessionStatus::Stopped) => 5,
            WatchExit::Ended(_) => 4,
            WatchExit::Timeout(SessionStatus::BlockedApi) => 7,
            WatchExit::Timeout(_) => 6,
        }
    }
}

#[derive(Serialize)]
struct ChangeLine<'a> {
    time: String,
    session: &'a str,
    /// `null` for the state of a session found already finished.
    old: Option<SessionStatus>,
    new: SessionStatus,
    reason: &'a str,
    /// The layer that decided: process, hook, registry or screen.
    source: crate::monitor::Source,
    evidence: &'a crate::monitor::Evidence,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

/// Prints a change, or with `current_only` the state alone (a session that
/// had already finished: no transition was seen, so none is printed).
fn print_change(
    session: &str,
    observation: &Observation,
    json: bool,
    colour: bool,
    current_only: bool,
) {
    if json {
        let line = ChangeLine {
            time: style::timestamp(),
            session,
            old: (!current_only).then_some(observation.previous),
            new: observation.status,
            reason: &observation.reason,
            source: observation.agent.source,
            evidence: &observation.evidence,
            warnings: &observation.warnings,
        };
        if let Ok(text) = serde_json::to_string(&line) {
            println!("{text}");
        }
    } else if current_only {
        println!(
            "{} {session} {} ({})",
            style::timestamp(),
            style::status(observation.status, colour),
            observation.reason
        );
    } else {
        println!(
            "{} {session} {} -> {} ({})",
            style::timestamp(),
            observation.previous,
            style::status(observation.status, colour),
            observation.reason
        );
    }
}

pub fn run(global: &GlobalArgs, args: WatchArgs) -> Result<i32> {
    let agents = global.agents(super::Lifetime::LongLived)?;
    let name = args.name.as_deref().ok_or_else(|| {
        crate::error::Error::InvalidInput(
            "watch needs NAME (or --host/--all-hosts to follow every session there)".into(),
        )
    })?;
    let mut session = super::resolve(&agents, name, args.raw_target)?;
    watch_session(&agents, &mut session, &args).map(|exit| exit.code())
}

/// Watches `session` until it is terminal or the timeout passes: a pass on
/// every output event of its pane (debounced) or every `interval`,
/// whichever comes first.
pub fn watch_session(
    agents: &Agents,
    session: &mut AgentSession,
    args: &WatchArgs,
) -> Result<WatchExit> {
    let interval = seconds(args.interval, "--interval")?.max(Duration::from_millis(10));
    let deadline = args
        .timeout
        .map(|t| seconds(t, "--timeout"))
        .transpose()?
        .map(|t| Instant::now() + t);
    let mut monitor = Monitor::new(agents, vec![session.clone()]);
    monitor.interval = interval;
    let exit = watch_loop(&mut monitor, deadline, args);
    if let Some(watched) = monitor.sessions.first() {
        *session = watched.clone();
    }
    exit
}

fn watch_loop(
    monitor: &mut Monitor,
    deadline: Option<Instant>,
    args: &WatchArgs,
) -> Result<WatchExit> {
    let colour = style::colour_enabled();
    let mut first = true;
    let mut spinner = Some(super::progress::Spinner::start(format!(
        "watching {}: no change yet",
        args.name.as_deref().unwrap_or_default()
    )));
    loop {
        let started = Instant::now();
        let Some(result) = monitor.pass().pop() else {
            return Err(crate::error::Error::InvalidInput("nothing to watch".into()));
        };
        let observation = result?;
        let Some(session) = monitor.sessions.first() else {
            return Err(crate::error::Error::InvalidInput("nothing to watch".into()));
        };
        // Hook errors and failed reloads of the adapter in use now (the
        // pass reloads changed adapter files), each reported once.
        for warning in &observation.warnings {
            eprintln!("doeff-agents: {warning}");
        }
        // Found finished: its state once, not a transition from a status
        // this watch never saw.
        let finished_before = first && observation.is_terminal;
        first = false;
        if observation.status_changed() || finished_before {
            drop(spinner.take());
            print_change(
                &session.session_name,
                &observation,
                args.json,
                colour,
                finished_before,
            );
        }
        for url in &observation.new_pr_urls {
            if !args.json {
                println!("{} {} PR {url}", style::timestamp(), session.session_name);
            }
        }
        if observation.is_terminal {
            return Ok(WatchExit::Ended(observation.status));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(WatchExit::Timeout(observation.status));
        }
        let next = started + monitor.interval;
        monitor.wait_until(deadline.map_or(next, |d| d.min(next)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_per_ending() {
        assert_eq!(WatchExit::Ended(SessionStatus::Done).code(), 0);
        assert_eq!(WatchExit::Ended(SessionStatus::Failed).code(), 3);
        assert_eq!(WatchExit::Ended(SessionStatus::Exited).code(), 4);
        assert_eq!(WatchExit::Ended(SessionStatus::Stopped).code(), 5);
        assert_eq!(WatchExit::Timeout(SessionStatus::Running).code(), 6);
        assert_eq!(WatchExit::Timeout(SessionStatus::BlockedApi).code(), 7);
    }
}
