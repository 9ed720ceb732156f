//! What one loaded version of one supervised script registered: event
//! handlers (`agents.on`), timers (`agents.every`) and tasks
//! (`agents.spawn`, and every handler or timer call still sleeping), and the
//! `agents` table that script file sees, whose `on`/`every`/`spawn`/`state`
//! are bound to its registry. Dropping a registry is how a reload removes
//! the old version's handlers, timers and tasks.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mlua::{Function, Lua, MultiValue, Table, Thread, Value};

use crate::lua::convert::seconds;

/// An event a script can register for with `agents.on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `fn(session, old, new, observation)` on every status change.
    StatusChanged,
    /// `fn(session, url)` for each new PR URL on a session's screen.
    Pr,
}

impl Event {
    fn parse(name: &str) -> Option<Event> {
        match name {
            "status_changed" => Some(Event::StatusChanged),
            "pr" => Some(Event::Pr),
            _ => None,
        }
    }
}

/// `agents.every(seconds, fn)`.
pub struct Timer {
    pub every: Duration,
    pub func: Function,
    pub next: Instant,
}

/// A coroutine of the script, resumed when `wake` is due.
pub struct Task {
    pub thread: Thread,
    pub wake: Instant,
}

/// One version's registrations.
#[derive(Default)]
pub struct Registry {
    pub handlers: Vec<(Event, Function)>,
    pub timers: Vec<Timer>,
    pub tasks: Vec<Task>,
}

/// A registry shared between the supervisor and the script's functions.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Registry>>);

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Registry> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handlers for `event` (cloned: a handler may register more).
    pub fn handlers(&self, event: Event) -> Vec<Function> {
        self.lock()
            .handlers
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// A coroutine running `func`, marked as a task so `agents.sleep` (and the
/// waits of `agents.watch`) inside it yield instead of blocking the loop.
pub fn task_thread(lua: &Lua, module: &Table, func: Function) -> mlua::Result<Thread> {
    let thread = lua.create_thread(func)?;
    let mark: Function = module.get("_task")?;
    mark.call::<Value>(thread.clone())?;
    Ok(thread)
}

/// An error raised at the script's current `file:line`.
fn located(lua: &Lua, message: String) -> mlua::Error {
    match crate::sandbox::lua_location(lua) {
        Some(at) => mlua::Error::runtime(format!("{at}: {message}")),
        None => mlua::Error::runtime(message),
    }
}

fn refuse(lua: &Lua, what: &'static str) -> mlua::Result<Function> {
    lua.create_function(move |lua, _: MultiValue| -> mlua::Result<()> {
        Err(located(
            lua,
            format!(
                "agents.{what} would block the supervisor: register handlers with agents.on / agents.every"
            ),
        ))
    })
}

/// The `agents` table of one script file: the module, with `on`, `every`,
/// `spawn` and `state` of its own (bound to `registry` and `state`), and
/// `run_loop` refused (the supervisor is the loop).
pub fn file_agents(
    lua: &Lua,
    module: &Table,
    registry: &Shared,
    state: &Table,
) -> mlua::Result<Table> {
    let own = lua.create_table()?;
    let r = registry.clone();
    own.set(
        "on",
        lua.create_function(move |lua, (event, func): (String, Function)| {
            let event = Event::parse(&event).ok_or_else(|| {
                located(
                    lua,
                    format!("unknown event '{event}' (status_changed or pr)"),
                )
            })?;
            r.lock().handlers.push((event, func));
            Ok(())
        })?,
    )?;
    let r = registry.clone();
    own.set(
        "every",
        lua.create_function(move |lua, (secs, func): (f64, Function)| {
            let every = seconds(secs, "agents.every")
                .map_err(|e| located(lua, e.to_string()))?
                .max(Duration::from_millis(10));
            r.lock().timers.push(Timer {
                every,
                func,
                next: Instant::now() + every,
            });
            Ok(())
        })?,
    )?;
    let r = registry.clone();
    let m = module.clone();
    own.set(
        "spawn",
        lua.create_function(move |lua, (func, args): (Function, MultiValue)| {
            let func = if args.is_empty() {
                func
            } else {
                func.bind(args)?
            };
            let thread = task_thread(lua, &m, func)?;
            r.lock().tasks.push(Task {
                thread: thread.clone(),
                wake: Instant::now(),
            });
            Ok(thread)
        })?,
    )?;
    own.set("state", state.clone())?;
    own.set("run_loop", refuse(lua, "run_loop")?)?;
    let meta = lua.create_table()?;
    meta.set("__index", module.clone())?;
    own.set_metatable(Some(meta))?;
    Ok(own)
}

/// A fresh global environment for one script file: its own globals, the
/// standard library and everything else read through to the VM's globals,
/// `agents` (and `require("doeff_agents")`) being `agents` of the file.
pub fn file_env(lua: &Lua, agents: &Table) -> mlua::Result<Table> {
    let env = lua.create_table()?;
    env.set("agents", agents.clone())?;
    env.set("_G", env.clone())?;
    let globals = lua.globals();
    if let Ok(require) = globals.get::<Function>("require") {
        let own = agents.clone();
        env.set(
            "require",
            lua.create_function(move |_, name: MultiValue| {
                let first = name.front().and_then(|v| {
                    v.as_string()
                        .and_then(|s| s.to_str().ok().map(|s| s.to_owned()))
                });
                if first.as_deref() == Some("doeff_agents") {
                    return Ok(MultiValue::from_vec(vec![Value::Table(own.clone())]));
                }
                require.call::<MultiValue>(name)
            })?,
        )?;
    }
    let meta = lua.create_table()?;
    meta.set("__index", globals)?;
    env.set_metatable(Some(meta))?;
    Ok(env)
}
