//! `doeff-agents serve --stdio`: speak the remote protocol
//! (`docs/protocol.md`) on stdin/stdout for a client that reached this host
//! over SSH. Sessions are this host's: the tmux server, adapters and state
//! dir are the ones the other commands use here.

use super::GlobalArgs;
use crate::error::{Error, Result};
use crate::remote::journal::Journal;
use crate::remote::serve::{Server, serve};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Speak newline-delimited JSON on stdin/stdout (the only transport)
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(global: &GlobalArgs, args: ServeArgs) -> Result<i32> {
    if !args.stdio {
        return Err(Error::InvalidInput(
            "serve needs --stdio (it never listens on a port; clients reach it over ssh)".into(),
        ));
    }
    let agents = global.agents(super::Lifetime::OneShot)?;
    let state_dir = agents
        .state_dir()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("doeff-agents-{}", nix::unistd::getuid()))
        });
    let monitoring_global = global.clone();
    let server = Server {
        agents,
        monitoring: Box::new(move || monitoring_global.agents(super::Lifetime::LongLived)),
        journal: Journal::new(&state_dir),
    };
    serve(server, std::io::stdin(), std::io::stdout());
    Ok(0)
}
