//! `doeff-agents run`: launch an agent, print its session name, optionally watch it.

use std::path::PathBuf;
use std::time::Duration;

use super::GlobalArgs;
use super::watch::{WatchArgs, watch_session};
use crate::error::{Error, Result};
use crate::session::{AgentType, LaunchConfig};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Agent adapter: claude, codex, gemini, demo, or a user adapter
    #[arg(short, long)]
    pub agent: String,
    /// Work directory (default: the current one)
    #[arg(short, long, default_value = ".")]
    pub work_dir: PathBuf,
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
    /// Extra environment for the agent, KEY=VALUE; repeatable
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
    /// With --watch: NDJSON output
    #[arg(long)]
    pub json: bool,
}

fn default_name(agent: &str) -> String {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{agent}-{}", stamp % 100_000_000)
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
        global.monitoring_agents(true)?
    } else {
        global.agents()?
    };
    let agent_type: AgentType = args.agent.parse().map_err(Error::InvalidInput)?;
    let mut config = LaunchConfig::new(agent_type, &args.work_dir);
    config.prompt = args.prompt;
    config.profile = args.profile;
    config.model = args.model;
    config.skip_permissions = args.skip_permissions;
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Error::InvalidInput(format!("--env wants KEY=VALUE, got {pair:?}")))?;
        config.env.insert(key.to_owned(), value.to_owned());
    }
    let name = args.session.unwrap_or_else(|| default_name(&args.agent));
    let ready_timeout = seconds(args.ready_timeout, "--ready-timeout")?;
    let mut session = agents.launch_session(&name, &config, ready_timeout)?;
    if !args.watch {
        println!("{}", session.session_name);
        return Ok(0);
    }
    if !args.json {
        println!("launched {}", session.session_name);
    }
    let watch = WatchArgs {
        name: session.session_name.clone(),
        interval: args.interval,
        timeout: args.timeout,
        json: args.json,
    };
    watch_session(&agents, &mut session, &watch).map(|exit| exit.code())
}
