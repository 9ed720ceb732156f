//! `doeff-agents prune`: removes the sessions that ended (`done`, `failed`,
//! `exited`, as `ps --finished` lists them) with their state files and send
//! locks; live and blocked sessions are never touched.

use super::GlobalArgs;
use crate::error::Result;
use crate::session::{default_state_dir, forget_session, remove_send_lock};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  doeff-agents ps --finished     # what prune would remove
  doeff-agents prune")]
pub struct PruneArgs {
    /// Only say what would be removed
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &GlobalArgs, args: PruneArgs) -> Result<i32> {
    let (agents, paired) = super::ps::classified(global, false)?;
    let state_dir = default_state_dir();
    let mut pruned = 0usize;
    for (mut session, row) in paired {
        if !row.status.is_terminal() {
            continue;
        }
        if !args.dry_run {
            agents.stop_session(&mut session)?;
            if let Some(dir) = &state_dir {
                forget_session(dir, &session.session_name);
            }
            remove_send_lock(agents.tmux().server(), &session.session_name);
        }
        pruned += 1;
        println!(
            "{} {} ({}, {})",
            if args.dry_run {
                "would prune"
            } else {
                "pruned"
            },
            row.name,
            row.status,
            row.reason
        );
    }
    if pruned == 0 {
        println!("no finished sessions");
    }
    Ok(0)
}
