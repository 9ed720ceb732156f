//! The `doeff-agents` command line: clap definitions and dispatch. Each
//! subcommand lives in its own file and is a thin layer over the library.
//!
//! Exit codes: 0 success (for `watch`: the agent is `done`); 1 an error
//! (one line on stderr); 2 bad usage (clap); `watch` adds 3 `failed`,
//! 4 `exited`, 5 `stopped`, 6 timeout, 7 timeout while `blocked_api`.

mod control;
mod entry;
mod explain;
mod hook;
mod hosted;
mod progress;
mod prune;
mod ps;
mod repl;
mod run;
mod script;
mod serve;
mod style;
mod supervise;
mod supervise_bg;
mod title;
mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::adapter::AdapterRegistry;
use crate::error::Result;
use crate::session::{AgentSession, Agents, Lookup};
use crate::tmux::{Server, Tmux, TransportChoice};

pub use entry::main;

/// Run coding-agent CLIs in tmux and tell exactly what state each one is in.
#[derive(Debug, Parser)]
#[command(
    name = "doeff-agents",
    version,
    about,
    after_help = "Examples:
  doeff-agents run -a demo -p hello --watch     # launch the demo agent and watch it to done
  doeff-agents run -a claude -p \"fix the test\" -s fix --json
  doeff-agents ps --finished                    # sessions that ended; `prune` removes them
  doeff-agents send fix \"and run the linter\"    # one message (fails at once on a dialog)
  doeff-agents send fix --keys Enter            # answer a dialog with named keys
  doeff-agents watch fix --json                 # NDJSON, one line per change
  doeff-agents -L agents attach fix             # a private server; nested client inside tmux"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Clone, Debug, clap::Args)]
pub struct GlobalArgs {
    /// tmux server socket name (tmux -L); default: $DOEFF_AGENTS_TMUX_SOCKET or tmux's default
    #[arg(short = 'L', long, global = true, conflicts_with = "socket_path")]
    pub socket_name: Option<String>,
    /// tmux server socket path (tmux -S)
    #[arg(short = 'S', long, global = true)]
    pub socket_path: Option<PathBuf>,
    /// Extra folder of adapter files (*.lua) to load; repeatable
    #[arg(long = "adapters", global = true, value_name = "DIR")]
    pub adapter_dirs: Vec<PathBuf>,
    /// Run on this host over ssh: a name from hosts.toml or an ssh destination (see README)
    #[arg(long = "host", global = true, value_name = "HOST")]
    pub host: Vec<String>,
    /// ps, watch and supervise: this machine and every host in hosts.toml
    #[arg(long, global = true)]
    pub all_hosts: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Launch an agent in a new tmux session
    Run(run::RunArgs),
    /// List agent sessions with their status
    Ps(ps::PsArgs),
    /// Remove the sessions that ended (done, failed, exited) and their state files
    Prune(prune::PruneArgs),
    /// Follow a session's status until it ends
    Watch(watch::WatchArgs),
    /// Show status, reason and evidence for a live session or a saved screen
    Explain(explain::ExplainArgs),
    /// Send a message to an agent
    Send(control::SendArgs),
    /// Print the last lines of an agent's screen
    Output(control::OutputArgs),
    /// Attach the terminal to a session (switch client inside tmux)
    Attach(control::NameArg),
    /// Stop a session
    Stop(control::NameArg),
    /// List the loaded adapters, where they come from, and whether their CLI is installed
    Adapters(control::AdaptersArgs),
    /// Run a Lua monitoring script with the `agents` module
    Script(script::ScriptArgs),
    /// An interactive Lua prompt with the `agents` module
    Repl,
    /// Speak the remote protocol on stdin/stdout (what `--host` runs over ssh)
    Serve(serve::ServeArgs),
    /// Run hot-reloaded monitoring scripts over every session (foreground)
    Supervise(supervise::SuperviseArgs),
    /// Print shell completions
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Record an agent's hook event (run by the agent CLI for the per-run hooks)
    #[command(hide = true)]
    Hook(hook::HookArgs),
    /// The embedded demo agent (used by the `demo` adapter)
    #[command(name = "__demo-agent", hide = true)]
    DemoAgent {
        #[arg(long)]
        prompt: Option<String>,
        #[arg(long)]
        model: Option<String>,
    },
}

impl GlobalArgs {
    /// The tmux server these options name.
    pub fn server(&self) -> Server {
        match (&self.socket_name, &self.socket_path) {
            (Some(name), _) => Server::named(name.clone()),
            (None, Some(path)) => Server::at_path(path.clone()),
            (None, None) => Server::from_env(),
        }
    }

    /// The built-in adapters plus the user's adapter folders.
    pub fn registry(&self) -> Result<AdapterRegistry> {
        let registry = AdapterRegistry::builtin()?;
        for dir in self.adapter_dirs.iter().filter(|d| !d.exists()) {
            eprintln!(
                "doeff-agents: {}: no such adapter folder (--adapters)",
                dir.display()
            );
        }
        for dir in user_adapter_dirs(&self.adapter_dirs) {
            for error in registry.load_dir(&dir) {
                eprintln!("doeff-agents: {}", error.message);
            }
        }
        Ok(registry)
    }

    /// The tmux connection a command of this `lifetime` gets (see
    /// [`Tmux::for_monitoring`]): a long-lived one (watching) one
    /// control-mode client with output events, a one-shot one a tmux process
    /// per (batched) call; `DOEFF_AGENTS_TRANSPORT=control|subprocess`
    /// forces either. A long-lived command also ends on SIGINT/SIGTERM/SIGHUP
    /// only after its control client left gracefully.
    pub fn tmux(&self, lifetime: Lifetime) -> Result<Tmux> {
        let choice = TransportChoice::from_env()?;
        let long_lived = lifetime == Lifetime::LongLived;
        if long_lived {
            crate::tmux::leave_control_clients_on_signals();
        }
        Ok(Tmux::for_monitoring(self.server(), choice, long_lived))
    }

    /// The library entry point for a command of this `lifetime`.
    pub fn agents(&self, lifetime: Lifetime) -> Result<Agents> {
        Ok(self.agents_over(self.tmux(lifetime)?, self.registry()?))
    }

    /// Every command's [`Agents`] is made here: whatever the transport, the
    /// same state dir.
    pub fn agents_over(&self, tmux: Tmux, registry: AdapterRegistry) -> Agents {
        Agents::new(tmux, Arc::new(registry)).with_state_dir(crate::session::default_state_dir())
    }
}

/// How long a command talks to tmux: what its transport is chosen by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// One answer and out (`ps`, `send`, `stop`, `explain`...).
    OneShot,
    /// Watching for as long as it runs (`watch`, `run --watch`, scripts).
    LongLived,
}

/// The session a command's NAME names: one of doeff-agents' own (`NAME` or
/// `doeff-NAME`), or with `raw_target` any tmux session of exactly that name.
/// Every command that takes a NAME resolves it here.
pub fn resolve(agents: &Agents, name: &str, raw_target: bool) -> Result<AgentSession> {
    let lookup = if raw_target {
        Lookup::Raw
    } else {
        Lookup::Doeff
    };
    agents.find_session(name, lookup)
}

/// Adapter folders, in load order: `$XDG_CONFIG_HOME/doeff-agents/adapters`
/// (or `~/.config/...`), `$DOEFF_AGENTS_ADAPTERS` (colon-separated), then
/// `--adapters`. A repository's own folder is never loaded unless named.
pub fn user_adapter_dirs(extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(config) = crate::xdg::app_dir(crate::xdg::BaseDir::Config) {
        dirs.push(config.join("adapters"));
    }
    if let Some(list) = std::env::var_os("DOEFF_AGENTS_ADAPTERS") {
        dirs.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs.extend(extra.iter().cloned());
    dirs
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let global = &cli.global;
    global.server().check_socket_path()?;
    if hosted::applies(global) {
        return hosted::run(global, cli.command);
    }
    match cli.command {
        Command::Run(args) => {
            // Its -e values and prompt must not stay readable in `ps`.
            title::hide_arguments(&["doeff-agents", "run"]);
            run::run(global, args)
        }
        Command::Ps(args) => ps::run(global, args),
        Command::Prune(args) => prune::run(global, args),
        Command::Watch(args) => watch::run(global, args),
        Command::Explain(args) => explain::run(global, args),
        Command::Send(args) => {
            title::hide_arguments(&["doeff-agents", "send"]);
            control::send(global, args)
        }
        Command::Output(args) => control::output(global, args),
        Command::Attach(args) => control::attach(global, args),
        Command::Stop(args) => control::stop(global, args),
        Command::Adapters(args) => control::adapters(global, args),
        Command::Script(args) => script::run(global, args),
        Command::Repl => repl::run(global),
        Command::Serve(args) => serve::run(global, args),
        Command::Supervise(args) => supervise::run(global, args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "doeff-agents", &mut std::io::stdout());
            Ok(0)
        }
        Command::Hook(args) => Ok(hook::run(args)),
        Command::DemoAgent { prompt, model } => Ok(crate::demo::run(&crate::demo::DemoOptions {
            prompt,
            model,
        })),
    }
}
