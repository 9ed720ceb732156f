//! `doeff-agents explain`: status, reason and evidence for a live session or
//! a saved screen. A live session goes through the observation pipeline
//! (`Agents::observe`: "changed or not" from evidence, warnings included).
//! A saved screen counts as unchanged since the previous observation unless
//! `--changed`; `--previous` defaults to `running`.

use std::path::PathBuf;

use serde::Serialize;

use super::GlobalArgs;
use crate::error::{Error, Result};
use crate::monitor::{
    Channel, Evidence, Process, ReportNote, Screen, SessionStatus, Source, Verdict,
};

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A live session to explain
    #[arg(required_unless_present = "screen", conflicts_with = "screen")]
    pub name: Option<String>,
    /// Take NAME as an exact tmux session name, also one not made by doeff-agents
    #[arg(long, requires = "name")]
    pub raw_target: bool,
    /// Adapter whose rules apply to --screen
    #[arg(long, requires = "screen")]
    pub agent: Option<String>,
    /// A saved screen (plain text or with escape sequences)
    #[arg(long, requires = "agent")]
    pub screen: Option<PathBuf>,
    /// The status before the saved screen
    #[arg(long, default_value = "running")]
    pub previous: SessionStatus,
    /// Treat the saved screen as changed since the previous observation
    #[arg(long)]
    pub changed: bool,
    /// {"status","reason","evidence":{"rule","region","line"}}
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Explained<'a> {
    status: SessionStatus,
    reason: &'a str,
    /// The layer that decided: process, hook, registry or screen.
    source: Source,
    evidence: &'a Evidence,
    /// The agent's own report and how it was weighed (live sessions).
    agent: &'a ReportNote,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

impl clap::builder::ValueParserFactory for SessionStatus {
    type Parser = clap::builder::ValueParser;

    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|text: &str| text.parse::<SessionStatus>())
    }
}

pub fn run(global: &GlobalArgs, args: ExplainArgs) -> Result<i32> {
    let (verdict, warnings, note) = match (&args.name, &args.screen, &args.agent) {
        (Some(name), _, _) => {
            let agents = global.agents(super::Lifetime::OneShot)?;
            let mut session = super::resolve(&agents, name, args.raw_target)?;
            let observation = agents.observe(&mut session)?;
            let verdict = Verdict {
                status: observation.status,
                reason: observation.reason,
                evidence: observation.evidence,
            };
            (verdict, observation.warnings, observation.agent)
        }
        (None, Some(path), Some(agent)) => {
            let raw = crate::adapter::bounded_read::read_regular(
                path,
                crate::adapter::bounded_read::MAX_SCREEN_BYTES,
            )
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let registry = global.registry()?;
            let adapter = registry.get(agent)?;
            let verdict = adapter.explain(
                &Screen::from_bytes(&raw),
                args.previous,
                args.changed,
                &Process::Unknown,
            );
            let note = ReportNote {
                source: Source::of(&verdict.evidence),
                ..ReportNote::default()
            };
            (
                verdict,
                adapter.take_hook_error().into_iter().collect(),
                note,
            )
        }
        _ => {
            return Err(Error::InvalidInput(
                "explain needs NAME, or --agent and --screen".into(),
            ));
        }
    };
    print_verdict(&verdict, &warnings, &note, args.json);
    Ok(0)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Prints a verdict as `explain` does (also for a remote host's answer).
pub(super) fn print_verdict(verdict: &Verdict, warnings: &[String], note: &ReportNote, json: bool) {
    if json {
        let explained = Explained {
            status: verdict.status,
            reason: &verdict.reason,
            source: note.source,
            evidence: &verdict.evidence,
            agent: note,
            warnings,
        };
        if let Ok(text) = serde_json::to_string(&explained) {
            println!("{text}");
        }
    } else {
        println!("status:  {}", verdict.status);
        println!("reason:  {}", verdict.reason);
        println!("rule:    {}", verdict.evidence.rule);
        println!("region:  {}", verdict.evidence.region);
        println!("line:    {}", verdict.evidence.line);
        println!("source:  {}", note.source);
        let now = now_ms();
        if let Some(report) = &note.report {
            match &note.overruled {
                None => println!("report:  {}", report.describe(now)),
                Some(why) => println!("report:  {} (overruled: {why})", report.describe(now)),
            }
        }
        if let Some(screen) = &note.screen {
            println!(
                "screen:  {} ({}) by {} in {}: {}",
                screen.status,
                screen.reason,
                screen.evidence.rule,
                screen.evidence.region,
                screen.evidence.line
            );
        }
        match note.hooks {
            Channel::Off => {}
            Channel::Alive => println!("hooks:   alive"),
            Channel::Waiting => println!("hooks:   passed, no event yet"),
            Channel::Dead => println!(
                "hooks:   dead (no event within {} s of the first turn)",
                crate::monitor::HOOK_DEAD_AFTER_MS / 1000
            ),
        }
        for warning in warnings {
            println!("warning: {warning}");
        }
    }
}
