//! The `agents` Lua module for scripts and the REPL: everything the CLI and
//! the Rust session API can do (launch, session handles, list, adapters,
//! tmux primitives), plus the Lua-side runtime from `lua/runtime/agents.lua`
//! (`sleep`, `watch`, `with_session`, `on`, `every`, `spawn`, `run_loop`).
//! Installed as the global `agents` and as `require("doeff_agents")`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use mlua::{Lua, ObjectLike, Table, Value};

use super::convert::{launch_config, seconds, session_table, soft};
use super::handle::handle;
use crate::adapter::compile_adapter_table;
use crate::sandbox::LuaHost;
use crate::session::{Agents, DEFAULT_DEBOUNCE};

/// The Lua half of the module, embedded.
const RUNTIME: &str = include_str!("../../lua/runtime/agents.lua");

/// Where `agents.follow` reports status changes (the REPL prints above its
/// prompt; scripts print to stderr).
#[derive(Clone)]
pub struct Printer(pub Arc<dyn Fn(String) + Send + Sync>);

/// `agents._wait_output(seconds, pane_ids)`: blocks until one of the panes
/// prints (then a short debounce) or `seconds` pass; true when woken by
/// output. Over a control-mode transport with output events the panes are
/// watched (and panes no longer listed unwatched); otherwise it sleeps.
/// This is what makes `agents.watch` and `agents.run_loop` see a change at
/// once rather than at their next poll.
fn wait_output_fn(lua: &Lua, agents: &Agents) -> mlua::Result<mlua::Function> {
    let agents = agents.clone();
    let watched: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    lua.create_function(move |_, (secs, panes): (f64, Vec<String>)| {
        let wait = seconds(secs, "interval")?;
        // A huge interval is a day (Instant + Duration would overflow).
        let deadline = Instant::now() + wait.min(Duration::from_secs(86_400));
        let tmux = agents.tmux();
        let events = tmux.output_events().filter(|_| !panes.is_empty());
        let Some(events) = events else {
            crate::sandbox::interrupt::sleep_until(deadline)?;
            return Ok(false);
        };
        let wanted: HashSet<String> = panes.into_iter().collect();
        let mut linked = watched.lock().unwrap_or_else(PoisonError::into_inner);
        for gone in linked.difference(&wanted) {
            tmux.unwatch_pane(gone);
        }
        linked.retain(|pane| wanted.contains(pane));
        let mut newly_watched = false;
        for pane in &wanted {
            // Asked for even when not linked yet (the transport links it on
            // reconnecting), so it is also unwatched when no longer wanted.
            if linked.insert(pane.clone()) {
                let _ = tmux.watch_pane(pane);
                newly_watched = true;
            }
        }
        drop(linked);
        if newly_watched {
            // Output between the caller's last observation and the link
            // sent no event: have it observe once more now.
            return Ok(true);
        }
        // The events stay recorded: the caller's next batched pass
        // (`agents.observe_all`) reads which panes printed. Waited for in
        // slices, so Ctrl-C in the REPL is noticed.
        loop {
            crate::sandbox::interrupt::check()?;
            let slice = deadline.min(Instant::now() + crate::sandbox::interrupt::SLICE);
            if events.wait(slice, DEFAULT_DEBOUNCE) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    })
}

/// Installs `agents` into `host`'s VM, talking to `agents`.
pub fn install(host: &Arc<LuaHost>, agents: Agents) -> mlua::Result<Table> {
    let lua = host.lua();
    let module = lua.create_table()?;
    let started = Instant::now();
    module.set(
        "now",
        lua.create_function(move |_, ()| Ok(started.elapsed().as_secs_f64()))?,
    )?;
    module.set(
        "_block_sleep",
        lua.create_function(|_, secs: f64| {
            let wait = seconds(secs, "sleep")?.min(Duration::from_secs(86_400 * 365));
            crate::sandbox::interrupt::sleep_until(Instant::now() + wait)
        })?,
    )?;

    module.set("_wait_output", wait_output_fn(lua, &agents)?)?;

    let a = agents.clone();
    module.set(
        "launch",
        lua.create_function(move |lua, (name, cfg): (String, Table)| {
            let (config, ready) = launch_config(&cfg)?;
            match a.launch_session(&name, &config, ready) {
                Ok(session) => soft(lua, Ok(handle(lua, &a, session)?)),
                Err(err) => soft::<bool>(lua, Err(err)),
            }
        })?,
    )?;
    let a = agents.clone();
    module.set(
        "session",
        lua.create_function(move |lua, name: String| match a.session(&name) {
            Ok(session) => soft(lua, Ok(handle(lua, &a, session)?)),
            Err(err) => soft::<bool>(lua, Err(err)),
        })?,
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
    module.set("adapter", register)?;
    module.set("tmux", tmux_table(lua, &agents)?)?;
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
                let agents = a.clone();
                let mut watched = agents
                    .session(&name)
                    .map_err(|e| mlua::Error::runtime(e.to_string()))?;
                std::thread::spawn(move || {
                    loop {
                        match agents.observe(&mut watched) {
                            Ok(o) if o.status_changed() => {
                                (printer.0)(format!(
                                    "[{}] {} -> {} ({})",
                                    watched.session_name, o.previous, o.status, o.reason
                                ));
                                if o.is_terminal {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(err) => {
                                (printer.0)(format!("[{}] {err}", watched.session_name));
                                return;
                            }
                        }
                        std::thread::sleep(interval);
                    }
                });
                Ok(true)
            },
        )?,
    )?;

    super::effects::install(lua, &module, &agents)?;
    super::observe_all::register(lua, &module, &agents)?;
    super::notify::register(lua, &module, &agents)?;
    super::host::register(lua, &module)?;

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

/// `agents.tmux`: the low-level tmux operations.
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
