//! `agents.observe_all(sessions?)`: one batched monitoring pass from Lua —
//! the pass `watch` and the supervisor run ([`Agents::observe_many`]: one
//! pane-state query for all, captures only of panes that may have changed,
//! over the script's control-mode client). With a list of session handles
//! it observes those (each handle keeps its history, as `s:observe()`
//! does); with none, every doeff session on the server (handles kept here
//! between calls, so later launches join and history carries over).
//! `agents.watch` and `agents.run_loop` observe through it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use mlua::{AnyUserData, Lua, Table, Value};

use crate::lua::convert::observation_table;
use crate::lua::handle::{LuaSession, handle};
use crate::session::Agents;

/// One observation table: the observation's fields plus `name` and
/// `session` (the handle); a session that could not be observed gives
/// `status = "exited"`, `reason = "error"`, `error = message`.
fn entry(
    lua: &Lua,
    ud: &AnyUserData,
    name: &str,
    result: crate::Result<crate::monitor::Observation>,
) -> mlua::Result<Table> {
    let table = match result {
        Ok(o) => observation_table(lua, &o)?,
        Err(err) => {
            let t = lua.create_table()?;
            t.set("status", "exited")?;
            t.set("reason", "error")?;
            t.set("is_terminal", true)?;
            t.set("error", err.to_string())?;
            t
        }
    };
    table.set("name", name)?;
    table.set("session", ud.clone())?;
    Ok(table)
}

/// One batched pass over `handles`; the observations in their order.
fn observe_handles(lua: &Lua, agents: &Agents, handles: &[AnyUserData]) -> mlua::Result<Table> {
    let mut sessions = Vec::with_capacity(handles.len());
    for ud in handles {
        let s = ud.borrow::<LuaSession>()?;
        sessions.push(s.snapshot().map_err(mlua::Error::external)?);
    }
    let results = agents.observe_many(&mut sessions);
    let out = lua.create_table_with_capacity(handles.len(), 0)?;
    for ((ud, session), result) in handles.iter().zip(sessions).zip(results) {
        let name = session.session_name.clone();
        ud.borrow::<LuaSession>()?
            .store(session)
            .map_err(mlua::Error::external)?;
        out.push(entry(lua, ud, &name, result)?)?;
    }
    Ok(out)
}

/// Installs `agents.observe_all` into `module`.
pub(crate) fn register(lua: &Lua, module: &Table, agents: &Agents) -> mlua::Result<()> {
    let agents = agents.clone();
    // Handles of every session, for the no-argument form, by pane id.
    let known: Arc<Mutex<HashMap<String, AnyUserData>>> = Arc::default();
    module.set(
        "observe_all",
        lua.create_function(move |lua, list: Option<Table>| {
            let handles: Vec<AnyUserData> = match list {
                Some(list) => list
                    .sequence_values::<Value>()
                    .map(|v| match v? {
                        Value::UserData(ud) if ud.is::<LuaSession>() => Ok(ud),
                        other => Err(mlua::Error::runtime(format!(
                            "observe_all: wants a list of sessions, got a {}",
                            other.type_name()
                        ))),
                    })
                    .collect::<mlua::Result<_>>()?,
                None => {
                    let listed = match agents.list(false) {
                        Ok(listed) => listed,
                        Err(err) => return Ok((Value::Nil, Some(err.to_string()))),
                    };
                    let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
                    known.retain(|pane, _| listed.iter().any(|s| &s.pane_id == pane));
                    let mut handles = Vec::with_capacity(listed.len());
                    for session in listed {
                        let ud = match known.get(&session.pane_id) {
                            Some(ud) => ud.clone(),
                            None => {
                                let pane = session.pane_id.clone();
                                let ud = handle(lua, &agents, session)?;
                                known.insert(pane, ud.clone());
                                ud
                            }
                        };
                        handles.push(ud);
                    }
                    handles
                }
            };
            Ok((Value::Table(observe_handles(lua, &agents, &handles)?), None))
        })?,
    )
}
