//! The supervisor inside the REPL: `agents.load(FILE)` (and `.load FILE`)
//! runs a script with the supervisor's rules — a fresh environment, its own
//! `agents.on`/`every`/`spawn`/`state` — `agents.reload()` (`.reload`) loads
//! every loaded file again (a broken one keeps its last good version), and
//! `agents.supervise{timeout=}` runs their handlers over the monitoring loop
//! until Ctrl-C (or the timeout) brings the prompt back.

use std::path::Path;
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use mlua::{Lua, MultiValue, Table, Value};

use super::{Change, Source, Supervisor};
use crate::lua::convert::seconds;
use crate::sandbox::interrupt;

/// The REPL's supervisor, shared with its Lua functions.
pub type Shared = Arc<Mutex<Supervisor>>;

fn busy() -> mlua::Error {
    mlua::Error::runtime("not from inside agents.supervise (a handler of a loaded script)")
}

fn with<R>(supervisor: &Shared, f: impl FnOnce(&mut Supervisor) -> R) -> mlua::Result<R> {
    match supervisor.try_lock() {
        Ok(mut guard) => Ok(f(&mut guard)),
        Err(TryLockError::Poisoned(poisoned)) => Ok(f(&mut poisoned.into_inner())),
        Err(TryLockError::WouldBlock) => Err(busy()),
    }
}

/// `true`, or `nil, message` for the first failed file.
fn outcome(lua: &Lua, changes: &[Change]) -> mlua::Result<MultiValue> {
    let failed = changes.iter().find_map(|c| match c {
        Change::Failed(message) => Some(message.clone()),
        _ => None,
    });
    match failed {
        Some(message) => Ok(MultiValue::from_vec(vec![
            Value::Nil,
            Value::String(lua.create_string(&message)?),
        ])),
        None => Ok(MultiValue::from_vec(vec![Value::Boolean(true)])),
    }
}

/// Loads `path` (a file or a folder of `*.lua`) into the supervisor.
pub fn load(supervisor: &Shared, path: &Path) -> mlua::Result<Vec<Change>> {
    if !path.exists() {
        return Ok(vec![Change::Failed(format!(
            "{}: no such script file or folder",
            path.display()
        ))]);
    }
    let path = std::path::absolute(path).map_err(mlua::Error::external)?;
    with(supervisor, |s| {
        let changes = s.scripts.add_source(Source::of(&path));
        s.report_changes(&changes);
        changes
    })
}

/// Loads every loaded file again.
pub fn reload(supervisor: &Shared) -> mlua::Result<Vec<Change>> {
    with(supervisor, |s| {
        let changes = s.scripts.reload_all();
        s.report_changes(&changes);
        changes
    })
}

/// Installs `agents.load`, `agents.reload` and `agents.supervise`.
pub fn register(lua: &Lua, module: &Table, supervisor: &Shared) -> mlua::Result<()> {
    let s = supervisor.clone();
    module.set(
        "load",
        lua.create_function(move |lua, path: String| {
            let changes = load(&s, Path::new(&path))?;
            outcome(lua, &changes)
        })?,
    )?;
    let s = supervisor.clone();
    module.set(
        "reload",
        lua.create_function(move |lua, ()| {
            let changes = reload(&s)?;
            outcome(lua, &changes)
        })?,
    )?;
    let s = supervisor.clone();
    module.set(
        "supervise",
        lua.create_function(move |_, opts: Option<Table>| {
            let timeout = match &opts {
                Some(t) => t.get::<Option<f64>>("timeout")?,
                None => None,
            };
            let deadline = timeout
                .map(|t| seconds(t, "timeout"))
                .transpose()?
                .map(|t| Instant::now() + t.min(Duration::from_secs(86_400 * 365)));
            with(&s, |s| {
                s.run(&|| interrupt::requested() || deadline.is_some_and(|d| Instant::now() >= d))
            })?;
            // Ctrl-C ends the loop, not the statement.
            interrupt::clear();
            Ok(true)
        })?,
    )
}
