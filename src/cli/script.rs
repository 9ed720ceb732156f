//! `doeff-agents script FILE.lua [ARGS...]`: runs a monitoring script with the
//! full Lua standard library and the `agents` module; `arg` holds the file
//! (`arg[0]`) and its arguments. Errors are one `file:line: message` line.

use std::path::PathBuf;
use std::sync::Arc;

use super::GlobalArgs;
use crate::error::{Error, Result};
use crate::lua::install;
use crate::sandbox::{LuaHost, error_message, with_full_path};

#[derive(Debug, clap::Args)]
pub struct ScriptArgs {
    /// The Lua script
    pub file: PathBuf,
    /// Arguments for the script (its `arg` table)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// A full Lua VM with `agents` installed and `arg` set.
pub fn script_host(global: &GlobalArgs, arg0: &str, args: &[String]) -> Result<Arc<LuaHost>> {
    script_host_and_agents(global, arg0, args).map(|(host, _)| host)
}

/// [`script_host`] and the entry point its `agents` module talks to.
pub fn script_host_and_agents(
    global: &GlobalArgs,
    arg0: &str,
    args: &[String],
) -> Result<(Arc<LuaHost>, crate::session::Agents)> {
    let host = Arc::new(LuaHost::full()?);
    // A script is long-lived: one control-mode client with output events,
    // so agents.watch and agents.run_loop see changes at once.
    let agents = global
        .agents(super::Lifetime::LongLived)?
        .with_state_dir(crate::session::default_state_dir());
    install(&host, agents.clone())?;
    let lua = host.lua();
    let arg = lua.create_table()?;
    arg.set(0, arg0)?;
    for (i, a) in args.iter().enumerate() {
        arg.set(i + 1, a.as_str())?;
    }
    lua.globals().set("arg", arg)?;
    Ok((host, agents))
}

pub fn run(global: &GlobalArgs, args: ScriptArgs) -> Result<i32> {
    let shown = args.file.to_string_lossy().into_owned();
    let code = std::fs::read_to_string(&args.file).map_err(|source| Error::Io {
        path: args.file.clone(),
        source,
    })?;
    let host = script_host(global, &shown, &args.args)?;
    let code = code.strip_prefix("#!").map_or(code.as_str(), |rest| {
        // Keep line numbers: blank out a shebang line.
        rest.find('\n').map_or("", |i| &rest[i..])
    });
    host.lua()
        .load(code)
        .set_name(format!("@{shown}"))
        .exec()
        .map_err(|e| Error::Lua(with_full_path(&error_message(&e), &shown)))?;
    Ok(0)
}
