//! `agents.tmux`: the low-level tmux operations on the agents' server
//! (`is_tmux_available`, `is_inside_tmux`, `has_session`, `list_sessions`,
//! `send_keys`, `capture_pane`, `kill_session`, `attach_session`,
//! `new_session`). An expected failure returns `nil, message`.

use mlua::{Lua, Table, Value};

use crate::lua::convert::soft;
use crate::session::Agents;

/// Adds the `tmux` table to `module`.
pub(crate) fn register(lua: &Lua, module: &Table, agents: &Agents) -> mlua::Result<()> {
    module.set("tmux", tmux_table(lua, agents)?)
}

/// A Lua function over the tmux handle: `f` returns `Err` for a programming
/// error (raised) and an inner `Err` for an expected failure (`nil, message`).
fn tmux_fn<A, R>(
    lua: &Lua,
    tmux: &crate::tmux::Tmux,
    f: impl Fn(&Lua, &crate::tmux::Tmux, A) -> mlua::Result<crate::Result<R>> + Send + 'static,
) -> mlua::Result<mlua::Function>
where
    A: mlua::FromLuaMulti,
    R: mlua::IntoLuaMulti,
{
    let tmux = tmux.clone();
    lua.create_function(move |lua, args: A| soft(lua, f(lua, &tmux, args)?))
}

/// The `agents.tmux` table.
fn tmux_table(lua: &Lua, agents: &Agents) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let tmux = agents.tmux();
    t.set(
        "is_tmux_available",
        lua.create_function(|_, ()| Ok(crate::tmux::is_tmux_available()))?,
    )?;
    t.set(
        "is_inside_tmux",
        lua.create_function(|_, ()| Ok(crate::tmux::is_inside_tmux()))?,
    )?;
    t.set(
        "has_session",
        tmux_fn(lua, tmux, |_, tmux, name: String| {
            Ok(tmux.has_session(&name))
        })?,
    )?;
    t.set(
        "list_sessions",
        tmux_fn(lua, tmux, |lua, tmux, ()| {
            let list = match tmux.list_sessions() {
                Ok(list) => list,
                Err(err) => return Ok(Err(err)),
            };
            let rows = lua.create_table()?;
            for s in list {
                let row = lua.create_table()?;
                row.set("name", s.name)?;
                row.set("created", s.created)?;
                row.set("attached", s.attached)?;
                row.set("pane_id", s.pane_id)?;
                row.set("agent", s.agent)?;
                row.set("work_dir", s.work_dir)?;
                rows.push(row)?;
            }
            Ok(Ok(rows))
        })?,
    )?;
    t.set(
        "send_keys",
        tmux_fn(
            lua,
            tmux,
            |_, tmux, (target, keys, literal): (String, Value, Option<bool>)| {
                let keys: Vec<String> = match keys {
                    Value::String(s) => vec![s.to_str()?.to_owned()],
                    Value::Table(list) => list
                        .sequence_values::<String>()
                        .collect::<mlua::Result<_>>()?,
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "send_keys: keys must be a string or a list, got {}",
                            other.type_name()
                        )));
                    }
                };
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                Ok(tmux
                    .send_keys(&target, &refs, literal.unwrap_or(false))
                    .map(|()| true))
            },
        )?,
    )?;
    t.set(
        "capture_pane",
        tmux_fn(
            lua,
            tmux,
            |_, tmux, (target, history): (String, Option<usize>)| {
                Ok(tmux.capture_pane(&target, history.unwrap_or(0)))
            },
        )?,
    )?;
    t.set(
        "kill_session",
        tmux_fn(lua, tmux, |_, tmux, name: String| {
            Ok(tmux.kill_session(&name).map(|()| true))
        })?,
    )?;
    t.set(
        "attach_session",
        tmux_fn(lua, tmux, |_, tmux, name: String| {
            Ok(tmux.attach_session(&name).map(|()| true))
        })?,
    )?;
    t.set(
        "new_session",
        tmux_fn(
            lua,
            tmux,
            |_, tmux, (name, argv, opts): (String, Vec<String>, Option<Table>)| {
                let work_dir = match &opts {
                    Some(o) => o
                        .get::<Option<String>>("work_dir")?
                        .unwrap_or_else(|| ".".into()),
                    None => ".".into(),
                };
                Ok(tmux.new_session(&crate::tmux::NewSession {
                    name: &name,
                    work_dir: std::path::Path::new(&work_dir),
                    argv: &argv,
                    env: &[],
                    options: &[],
                    pane_options: &[],
                    width: crate::session::PANE_WIDTH,
                    height: crate::session::PANE_HEIGHT,
                    remain_on_exit: false,
                }))
            },
        )?,
    )?;
    Ok(t)
}
