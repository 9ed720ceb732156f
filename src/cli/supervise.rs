//! `doeff-agents supervise [PATH ...]`: runs the supervisor (see
//! `lua::supervise`) in the foreground over every `*.lua` in
//! `$XDG_CONFIG_HOME/doeff-agents/scripts/` plus the files and folders
//! given, hot-reloading them; `--check` loads them once and reports errors.
//! Ctrl-C, SIGTERM and SIGHUP leave cleanly (the control client first).
//! One supervisor runs per tmux server (`lua::supervise::instance`);
//! `--detach`, `--status` and `--stop` are in `supervise_bg.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use super::GlobalArgs;
use super::run::seconds;
use crate::error::{Error, Result};
use crate::lua::install;
use crate::lua::supervise::instance::Claim;
use crate::lua::supervise::{Change, Scripts, Source, Supervisor};
use crate::remote::hosts::Host;
use crate::sandbox::LuaHost;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Scripts register handlers: agents.on(\"status_changed\", \
function(s, old, new, obs) ... end), agents.on(\"pr\", function(s, url) ... end), \
agents.every(seconds, fn), agents.spawn(fn); agents.state is the file's own table, \
kept across reloads. An edited file is reloaded within a second.

Examples:
  doeff-agents supervise lua/examples/supervise/notify_attention.lua
  doeff-agents supervise --check lua/examples/supervise
  doeff-agents supervise --detach            # in the background; --status, --stop
  doeff-agents --host build --host box supervise   # also the sessions of those hosts (obs.host)"
)]
pub struct SuperviseArgs {
    /// Script files or folders of *.lua, besides $XDG_CONFIG_HOME/doeff-agents/scripts
    pub paths: Vec<PathBuf>,
    /// Load every script once, print each error as file:line: message, and exit (1 if any failed)
    #[arg(long)]
    pub check: bool,
    /// Longest time between two monitoring passes, in seconds (output wakes it sooner)
    #[arg(short, long, default_value_t = 1.0)]
    pub interval: f64,
    /// Start it in the background, in a hidden tmux session on the same server
    #[arg(long, conflicts_with_all = ["check", "status", "stop"])]
    pub detach: bool,
    /// Say whether a supervisor runs on this server, and its scripts with their last error (exit 1: none runs)
    #[arg(long, conflicts_with_all = ["check", "stop"])]
    pub status: bool,
    /// Stop the supervisor of this server (exit 1: none runs)
    #[arg(long, conflicts_with = "check")]
    pub stop: bool,
    /// With --status: JSON
    #[arg(long, requires = "status")]
    pub json: bool,
    /// Set by --detach: the tmux session this supervisor runs in
    #[arg(long, hide = true)]
    pub detached_as: Option<String>,
}

/// The script folder of the user's config, and the paths given (made
/// absolute; each must exist).
fn sources(args: &SuperviseArgs) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    if let Some(config) = crate::xdg::app_dir(crate::xdg::BaseDir::Config) {
        sources.push(Source::Dir(config.join("scripts")));
    }
    for path in &args.paths {
        if !path.exists() {
            return Err(Error::InvalidInput(format!(
                "{}: no such script file or folder",
                path.display()
            )));
        }
        let path = std::path::absolute(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        sources.push(Source::of(&path));
    }
    Ok(sources)
}

fn report(line: String) {
    eprintln!("doeff-agents: supervise: {line}");
}

pub fn run(global: &GlobalArgs, args: SuperviseArgs) -> Result<i32> {
    run_with_hosts(global, args, Vec::new())
}

/// `supervise`, also following the sessions of `hosts` (`--host`,
/// `--all-hosts`): their changes reach the same handlers.
pub fn run_with_hosts(global: &GlobalArgs, args: SuperviseArgs, hosts: Vec<Host>) -> Result<i32> {
    if args.status {
        return super::supervise_bg::status(global, args.json);
    }
    if args.stop {
        return super::supervise_bg::stop(global);
    }
    let sources = sources(&args)?;
    if args.check {
        return check(global, sources);
    }
    if args.detach {
        return super::supervise_bg::detach(global, &args, &hosts);
    }
    // One supervisor per server, held for this process's life.
    let mut claim = Claim::take(&global.server(), args.detached_as.clone())?;
    let interval = seconds(args.interval, "--interval")?.max(std::time::Duration::from_millis(10));
    let host = Arc::new(LuaHost::full()?);
    // Long-lived: one control-mode client with output events.
    let agents = global.agents(super::Lifetime::LongLived)?;
    install(&host, agents.clone())?;
    let mut supervisor = Supervisor::new(host, agents, sources, Arc::new(report))?;
    supervisor.interval = interval;
    let followed: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    supervisor.follow_hosts(hosts);
    supervisor.on_status = Some(Box::new(move |scripts| claim.update(scripts)));
    supervisor.poll_scripts(false);
    // Ready, also with no script to load.
    let status = supervisor.status();
    if let Some(on_status) = supervisor.on_status.as_mut() {
        on_status(&status);
    }
    let also = if followed.is_empty() {
        String::new()
    } else {
        format!(", following host(s) {}", followed.join(", "))
    };
    report(format!(
        "running with {} script(s){also}; Ctrl-C to stop",
        supervisor.status().iter().filter(|s| s.loaded).count()
    ));
    supervisor.run(&|| false);
    Ok(0)
}

/// `--check`: every script loaded once, in a VM of its own; errors printed.
fn check(global: &GlobalArgs, sources: Vec<Source>) -> Result<i32> {
    let host = Arc::new(LuaHost::full()?);
    let module = install(&host, global.agents(super::Lifetime::OneShot)?)?;
    let mut scripts = Scripts::new(host, module, sources);
    let changes = scripts.poll(false);
    let mut failed = 0;
    for change in &changes {
        if let Change::Failed(message) = change {
            failed += 1;
            eprintln!("{message}");
        }
    }
    let loaded = scripts
        .scripts
        .values()
        .filter(|s| s.live.is_some())
        .count();
    if failed > 0 {
        eprintln!("doeff-agents: supervise --check: {failed} script(s) failed, {loaded} loaded");
        return Ok(1);
    }
    println!("{loaded} script(s) loaded, no errors");
    Ok(0)
}
