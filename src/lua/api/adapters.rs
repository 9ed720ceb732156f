//! Adapters from Lua: `agents.adapters()` (the registry's rows: name,
//! source, binary, available) and `agents.register_adapter(table)` (alias
//! `agents.adapter`), which compiles an adapter table as the adapter loader
//! does (`adapter/from_lua.rs`) and adds it to the registry for the rest
//! of the script.

use std::sync::{Arc, Weak};

use mlua::{Lua, Table};

use crate::adapter::compile_adapter_table;
use crate::sandbox::LuaHost;
use crate::session::Agents;

/// Adds `adapters`, `register_adapter` and `adapter` to `module`.
pub(crate) fn register(
    lua: &Lua,
    module: &Table,
    agents: &Agents,
    host: &Arc<LuaHost>,
) -> mlua::Result<()> {
    let a = agents.clone();
    module.set(
        "adapters",
        lua.create_function(move |lua, ()| {
            let rows = lua.create_table()?;
            for info in a.adapters().list(&crate::session::user_path()) {
                let row = lua.create_table()?;
                row.set("name", info.name)?;
                row.set("source", info.source)?;
                row.set("binary", info.binary)?;
                row.set("available", info.available)?;
                rows.push(row)?;
            }
            Ok(rows)
        })?,
    )?;
    let a = agents.clone();
    let weak: Weak<LuaHost> = Arc::downgrade(host);
    let register = lua.create_function(move |lua, table: Table| {
        let host = weak
            .upgrade()
            .ok_or_else(|| mlua::Error::runtime("the Lua host is gone"))?;
        let source = lua
            .inspect_stack(1, |d| d.source().short_src.map(|s| s.into_owned()))
            .flatten()
            .unwrap_or_else(|| "lua".into());
        let adapter = compile_adapter_table(&host, &table, &source)?;
        a.adapters().register(adapter);
        Ok(table)
    })?;
    module.set("register_adapter", register.clone())?;
    module.set("adapter", register)
}
