//! The `agents` Lua module for scripts and the REPL, one file per
//! namespace, each with a `register(lua, module, ...)` that adds its
//! functions to the module table: the clock and waits (`time.rs`), sessions
//! (`sessions.rs`, `observe_all.rs`), adapters (`adapters.rs`), tmux
//! primitives (`tmux.rs`), effects and programs (`effects.rs`),
//! notifications (`notify.rs`) and other machines (`host.rs`). The Lua half,
//! `lua/runtime/agents.lua` (`state`, `sleep`, `watch`, `with_session`,
//! `on`, `every`, `spawn`, `run_loop`, and `effects`, `perform`, `run`), is
//! built over them. Installed as the global `agents` and as
//! `require("doeff_agents")`.

mod adapters;
mod effects;
pub(crate) mod host;
pub mod notify;
mod observe_all;
mod sessions;
mod time;
mod tmux;

pub use effects::LuaHandler;
pub use sessions::Printer;

use std::sync::Arc;

use mlua::Table;

use crate::sandbox::LuaHost;
use crate::session::Agents;

/// The Lua half of the module, embedded.
const RUNTIME: &str = include_str!("../../../lua/runtime/agents.lua");

/// Installs `agents` into `host`'s VM, talking to `agents`.
pub fn install(host: &Arc<LuaHost>, agents: Agents) -> mlua::Result<Table> {
    let lua = host.lua();
    let module = lua.create_table()?;
    time::register(lua, &module, &agents)?;
    sessions::register(lua, &module, &agents)?;
    adapters::register(lua, &module, &agents, host)?;
    tmux::register(lua, &module, &agents)?;
    effects::register(lua, &module, &agents)?;
    observe_all::register(lua, &module, &agents)?;
    notify::register(lua, &module, &agents)?;
    host::register(lua, &module)?;

    let runtime: Table = lua
        .load(RUNTIME)
        .set_name("@lua/runtime/agents.lua")
        .call(module.clone())?;
    lua.globals().set("agents", runtime.clone())?;
    if let Ok(package) = lua.globals().get::<Table>("package")
        && let Ok(preload) = package.get::<Table>("preload")
    {
        let m = runtime.clone();
        preload.set(
            "doeff_agents",
            lua.create_function(move |_, ()| Ok(m.clone()))?,
        )?;
    }
    Ok(runtime)
}
