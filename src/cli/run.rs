//! `doeff-agents run`: launch an agent, print its session name, optionally watch it.

use std::path::PathBuf;
use std::time::Duration;

use super::GlobalArgs;
use super::watch::{WatchArgs, watch_session};
use crate::adapter::{AgentType, LaunchConfig};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Agent adapter: claude, codex, gemini, demo, or a user adapter
    /// (taken from the saved session with --resume)
    #[arg(short, long, required_unless_present = "resume")]
    pub agent: Option<String>,
    /// Work directory (default: the current one; the saved one with --resume)
    #[arg(short, long)]
    pub work_dir: Option<PathBuf>,
    /// Relaunch the saved session NAME and resume its conversation (works
    /// after the tmux server is gone; state under $XDG_STATE_HOME/doeff-agents)
    #[arg(long, value_name = "NAME")]
    pub resume: Option<String>,
    /// Answer the agent's known safe start-up dialogs (trust this folder,
    /// onboarding); without it they are reported as blocked
    #[arg(long, visible_alias = "accept-dialogs")]
    pub accept_trust: bool,
    /// First prompt (passed exactly; may start with '-')
    #[arg(short, long, allow_hyphen_values = true)]
    pub prompt: Option<String>,
    /// CLI profile (agents that have profiles, e.g. codex)
    #[arg(long)]
    pub profile: Option<String>,
    /// Model name for the agent's model flag
    #[arg(long)]
    pub model: Option<String>,
    /// Session name (gets the doeff- prefix); default: doeff-AGENT-TIME
    #[arg(short = 's', long = "session")]
    pub session: Option<String>,
    /// Pass the agent's permission-bypass flag (off by default)
    #[arg(long)]
    pub skip_permissions: bool,
    /// Pass no per-run hooks: the screen (and a session registry) are the only signals
    #[arg(long)]
    pub no_hooks: bool,
    /// Extra environment for the agent, KEY=VALUE, or KEY to pass on this
    /// process's own value of KEY (kept off every command line); repeatable
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Seconds to wait for a tmux-injection agent to be ready
    #[arg(long, default_value_t = 30.0)]
    pub ready_timeout: f64,
    /// Watch the session after launching it (as `watch`)
    #[arg(long)]
    pub watch: bool,
    /// With --watch: poll interval in seconds
    #[arg(short, long, default_value_t = 1.0)]
    pub interval: f64,
    /// With --watch: give up after this many seconds
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Print the launched session as JSON; with --watch, NDJSON changes
    #[arg(long)]
    pub json: bool,
}

pub(super) fn default_name(agent: &str) -> String {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{agent}-{}", stamp % 100_000_000)
}

/// One `-e` entry: `KEY=VALUE`, or `KEY` alone for the value of `KEY` in
/// this process's environment (so a secret need not be on a command line).
pub(super) fn env_entry(entry: &str) -> Result<(String, String)> {
    if let Some((key, value)) = entry.split_once('=') {
        return Ok((key.to_owned(), value.to_owned()));
    }
    match std::env::var(entry) {
        Ok(value) if !entry.is_empty() => Ok((entry.to_owned(), value)),
        _ => Err(Error::InvalidInput(format!(
            "--env wants KEY=VALUE, or KEY set in the environment; got {entry:?}, which is not set"
        ))),
    }
}

/// Seconds from the command line as a Duration (finite, >= 0).
pub fn seconds(value: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        Error::InvalidInput(format!(
            "{what} must be a number of seconds >= 0, got {value}"
        ))
    })
}

pub fn run(global: &GlobalArgs, args: RunArgs) -> Result<i32> {
    let agents = if args.watch {
        global.agents(super::Lifetime::LongLived)?
    } else {
        global.agents(super::Lifetime::OneShot)?
    };
    let saved = match &args.resume {
        Some(name) => Some(
            agents
                .saved_session(name)
                .map_err(|e| Error::InvalidInput(format!("cannot resume {name}: {e}")))?,
        ),
        None => None,
    };
    let agent = match (&args.agent, &saved) {
        (Some(agent), _) => agent.clone(),
        (None, Some(saved)) => saved.agent.clone(),
        (None, None) => return Err(Error::InvalidInput("--agent is required".into())),
    };
    let agent_type: AgentType = agent.parse().map_err(Error::InvalidInput)?;
    let work_dir = match (&args.work_dir, &saved) {
        (Some(dir), _) => dir.clone(),
        (None, Some(saved)) => saved.work_dir.clone(),
        (None, None) => PathBuf::from("."),
    };
    let mut config = LaunchConfig::new(agent_type, &work_dir);
    config.prompt = args.prompt;
    config.profile = args.profile;
    config.model = args.model;
    config.skip_permissions = args.skip_permissions;
    config.hooks = !args.no_hooks;
    config.accept_dialogs = args.accept_trust;
    if let Some(saved) = &saved {
        config.resume = true;
        config.resume_id = saved.conversation_id.clone();
        config.model = config.model.or_else(|| saved.model.clone());
        config.profile = config.profile.or_else(|| saved.profile.clone());
    }
    for pair in &args.env {
        let (key, value) = env_entry(pair)?;
        config.env.insert(key, value);
    }
    let name = args
        .session
        .or_else(|| {
            let name = args.resume.as_deref()?;
            Some(
                name.strip_prefix(crate::session::PREFIX)
                    .unwrap_or(name)
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| default_name(&agent));
    let ready_timeout = seconds(args.ready_timeout, "--ready-timeout")?;
    if saved.is_some() {
        clear_ended(&agents, &name)?;
    }
    let spinner = super::progress::Spinner::start(format!(
        "launching {}{name}, waiting for it to be ready",
        crate::session::PREFIX
    ));
    config.ready_timeout = ready_timeout;
    let launched = agents.launch_session(&name, &config);
    drop(spinner);
    let mut session = launched?;
    if let Some(waiting) = &session.waiting {
        eprintln!("doeff-agents: {}", waiting.advice(&session.session_name));
    }
    if !args.watch {
        if args.json {
            println!("{}", session.launch_json());
        } else {
            println!("{}", session.session_name);
        }
        return Ok(0);
    }
    if !args.json {
        println!("launched {}", session.session_name);
    }
    let watch = WatchArgs {
        name: Some(session.session_name.clone()),
        raw_target: false,
        interval: args.interval,
        timeout: args.timeout,
        json: args.json,
    };
    watch_session(&agents, &mut session, &watch).map(|exit| exit.code())
}

/// Before `--resume NAME`: a session NAME whose agent ended (kept by tmux
/// with its last screen, e.g. after `run --watch`) is removed so it can be
/// relaunched; one still running is an error.
fn clear_ended(agents: &crate::session::Agents, name: &str) -> Result<()> {
    let Ok(mut session) = agents.session(name) else {
        return Ok(());
    };
    let observation = agents.observe(&mut session)?;
    if !observation.is_terminal {
        return Err(Error::InvalidInput(format!(
            "{} is still running ({}); stop it first (doeff-agents stop {name})",
            session.session_name, observation.status
        )));
    }
    agents.tmux().kill_session(&session.session_name)
}
