//! Sessions from Lua: `agents.launch(name, cfg)` and `agents.session(name)`
//! (both give a session handle, `handle.rs`), `agents.list{all=}` (rows)
//! and `agents.follow(session, interval)` (status changes reported in the
//! background through the [`Printer`]). `agents.observe_all` is
//! `observe_all.rs`; `agents.watch` and `agents.with_session` are the Lua
//! runtime's, over these.

use std::sync::Arc;

use mlua::{Lua, ObjectLike, Table};

use crate::lua::convert::{launch_config, seconds, session_table, soft};
use crate::lua::handle::handle;
use crate::session::{Agents, Monitor};

/// Where `agents.follow` reports status changes (the REPL prints above its
/// prompt; scripts print to stderr).
#[derive(Clone)]
pub struct Printer(pub Arc<dyn Fn(String) + Send + Sync>);

/// A session's handle, or `nil, message`.
fn session_or_error(
    lua: &Lua,
    agents: &Agents,
    session: crate::error::Result<crate::session::AgentSession>,
) -> mlua::Result<mlua::MultiValue> {
    match session {
        Ok(session) => soft(lua, Ok(handle(lua, agents, session)?)),
        Err(err) => soft::<bool>(lua, Err(err)),
    }
}

/// Adds `launch`, `session`, `list` and `follow` to `module`.
pub(crate) fn register(lua: &Lua, module: &Table, agents: &Agents) -> mlua::Result<()> {
    let a = agents.clone();
    module.set(
        "launch",
        lua.create_function(move |lua, (name, cfg): (String, Table)| {
            let config = launch_config(&cfg)?;
            session_or_error(lua, &a, a.launch_session(&name, &config))
        })?,
    )?;
    let a = agents.clone();
    module.set(
        "session",
        lua.create_function(move |lua, name: String| session_or_error(lua, &a, a.session(&name)))?,
    )?;
    let a = agents.clone();
    module.set(
        "list",
        lua.create_function(move |lua, opts: Option<Table>| {
            let all = match opts {
                Some(t) => t.get::<Option<bool>>("all")?.unwrap_or(false),
                None => false,
            };
            match a.list(all) {
                Ok(sessions) => {
                    let rows = lua.create_table()?;
                    for s in &sessions {
                        rows.push(session_table(lua, s)?)?;
                    }
                    soft(lua, Ok(rows))
                }
                Err(err) => soft::<bool>(lua, Err(err)),
            }
        })?,
    )?;
    let a = agents.clone();
    module.set(
        "follow",
        lua.create_function(
            move |lua, (session, interval): (mlua::AnyUserData, Option<f64>)| {
                let name: String = session.get("name")?;
                let interval = seconds(interval.unwrap_or(0.5), "interval")?;
                let printer = lua
                    .app_data_ref::<Printer>()
                    .map(|p| p.clone())
                    .unwrap_or_else(|| Printer(Arc::new(|line| eprintln!("{line}"))));
                let watched = a
                    .session(&name)
                    .map_err(|e| mlua::Error::runtime(e.to_string()))?;
                let name = watched.session_name.clone();
                let mut monitor = Monitor::new(&a, vec![watched]);
                monitor.interval = interval;
                // The watch core every loop shares: batched passes, woken by
                // the pane's output where the transport reports it.
                std::thread::spawn(move || {
                    loop {
                        let started = std::time::Instant::now();
                        match monitor.pass().pop() {
                            Some(Ok(o)) if o.status_changed() => {
                                (printer.0)(format!(
                                    "[{name}] {} -> {} ({})",
                                    o.previous, o.status, o.reason
                                ));
                                if o.is_terminal {
                                    return;
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(err)) => {
                                (printer.0)(format!("[{name}] {err}"));
                                return;
                            }
                            None => return,
                        }
                        monitor.wait(started);
                    }
                });
                Ok(true)
            },
        )?,
    )
}
