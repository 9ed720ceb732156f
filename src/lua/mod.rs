//! The Lua host: a VM with only safe libraries for adapter code, a time budget
//! per call (an instruction hook with a deadline, so `while true do end` is
//! stopped with a clear error), a memory cap, per-file environments, and
//! readable `file:line: message` errors.

mod convert;
mod effects;
mod handle;
mod module;

pub use effects::LuaHandler;
pub use handle::LuaSession;
pub use module::{Printer, install};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, VmState};

/// Default time budget for one call into adapter code.
pub const CALL_BUDGET: Duration = Duration::from_millis(250);
/// Default time budget for loading one adapter file.
pub const LOAD_BUDGET: Duration = Duration::from_secs(1);
/// Memory cap for the adapter VM.
pub const MEMORY_LIMIT: usize = 64 * 1024 * 1024;

/// Base functions adapter code may use; everything else (`dofile`, `loadfile`,
/// `load`, `require`, `io`, `os`, `debug`, `package`) is absent.
const SAFE_GLOBALS: &[&str] = &[
    "assert",
    "error",
    "ipairs",
    "next",
    "pairs",
    "pcall",
    "print",
    "rawequal",
    "rawget",
    "rawlen",
    "rawset",
    "select",
    "setmetatable",
    "getmetatable",
    "tonumber",
    "tostring",
    "type",
    "xpcall",
    "_VERSION",
    "string",
    "table",
    "math",
    "utf8",
    "coroutine",
];

/// One Lua VM with a call budget.
#[derive(Debug)]
pub struct LuaHost {
    lua: Lua,
    deadline: Arc<Mutex<Option<Instant>>>,
}

impl LuaHost {
    /// A VM for adapter code: safe libraries only, memory cap, budget hook.
    pub fn sandboxed() -> mlua::Result<LuaHost> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::UTF8 | StdLib::COROUTINE;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        Self::with_lua(lua)
    }

    /// A VM with the full standard library, for scripts a user runs.
    pub fn full() -> mlua::Result<LuaHost> {
        Self::with_lua(Lua::new())
    }

    fn with_lua(lua: Lua) -> mlua::Result<LuaHost> {
        let deadline: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
        let hook_deadline = Arc::clone(&deadline);
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(1000),
            move |_, _| {
                let due = hook_deadline.lock().map(|d| *d).unwrap_or(None);
                match due {
                    Some(due) if Instant::now() > due => {
                        Err(mlua::Error::runtime("time budget exceeded (runaway loop?)"))
                    }
                    _ => Ok(VmState::Continue),
                }
            },
        )?;
        Ok(LuaHost { lua, deadline })
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Runs `f` with a deadline `budget` from now (an enclosing, earlier
    /// deadline stays in force).
    pub fn with_budget<R>(
        &self,
        budget: Duration,
        f: impl FnOnce() -> mlua::Result<R>,
    ) -> mlua::Result<R> {
        let wanted = Instant::now() + budget;
        let previous = {
            let mut guard = self
                .deadline
                .lock()
                .map_err(|_| mlua::Error::runtime("Lua host lock poisoned"))?;
            let previous = *guard;
            *guard = Some(previous.map_or(wanted, |p| p.min(wanted)));
            previous
        };
        let result = f();
        if let Ok(mut guard) = self.deadline.lock() {
            *guard = previous;
        }
        result
    }

    /// A fresh environment table holding the safe globals, for one file.
    pub fn sandbox_env(&self) -> mlua::Result<Table> {
        let globals = self.lua.globals();
        let env = self.lua.create_table()?;
        for name in SAFE_GLOBALS {
            let value: mlua::Value = globals.get(*name)?;
            let value = match value {
                // Library tables are copied so one file cannot patch another's.
                mlua::Value::Table(lib) => {
                    let copy = self.lua.create_table()?;
                    for pair in lib.pairs::<mlua::Value, mlua::Value>() {
                        let (k, v) = pair?;
                        copy.raw_set(k, v)?;
                    }
                    mlua::Value::Table(copy)
                }
                other => other,
            };
            env.raw_set(*name, value)?;
        }
        let os = self.lua.create_table()?;
        os.raw_set(
            "time",
            self.lua.create_function(|_, ()| {
                Ok(std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0))
            })?,
        )?;
        let start = Instant::now();
        os.raw_set(
            "clock",
            self.lua
                .create_function(move |_, ()| Ok(start.elapsed().as_secs_f64()))?,
        )?;
        env.raw_set("os", os)?;
        env.raw_set("_G", env.clone())?;
        Ok(env)
    }
}

/// Turns an mlua error into one readable line (`file:line: message`).
pub fn error_message(err: &mlua::Error) -> String {
    match err {
        mlua::Error::CallbackError { cause, .. } => error_message(cause),
        mlua::Error::WithContext { cause, context } => {
            format!("{context}: {}", error_message(cause))
        }
        mlua::Error::SyntaxError { message, .. } => first_line(message),
        mlua::Error::RuntimeError(message) => first_line(message),
        mlua::Error::MemoryError(_) => "memory limit exceeded".to_owned(),
        other => first_line(&other.to_string()),
    }
}

/// Lua shortens long chunk names in error positions to `...tail`; this puts
/// the full `path` back so messages read `path:line: message`.
pub fn with_full_path(message: &str, path: &str) -> String {
    if let Some(rest) = message.strip_prefix("...")
        && let Some(colon) = rest.find(':')
        && path.ends_with(&rest[..colon])
    {
        return format!("{path}{}", &rest[colon..]);
    }
    message.to_owned()
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("runtime error: ")
        .or_else(|| line.strip_prefix("syntax error: "))
        .unwrap_or(line)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runaway_loops_hit_the_budget() {
        let host = LuaHost::sandboxed().expect("vm");
        let err = host
            .with_budget(Duration::from_millis(50), || {
                host.lua().load("while true do end").exec()
            })
            .expect_err("must stop");
        assert!(error_message(&err).contains("time budget exceeded"));
    }

    #[test]
    fn sandbox_has_no_io_or_os_execute() {
        let host = LuaHost::sandboxed().expect("vm");
        let env = host.sandbox_env().expect("env");
        let probe = host
            .lua()
            .load("return io == nil, os.execute == nil, require == nil, load == nil")
            .set_environment(env);
        let got: (bool, bool, bool, bool) = probe.eval().expect("eval");
        assert_eq!(got, (true, true, true, true));
    }

    #[test]
    fn shortened_paths_are_restored() {
        let long = "/very/long/path/to/some/config/doeff-agents/adapters/mycli.lua";
        let short = format!("...{}:3: boom", &long[long.len() - 20..]);
        assert_eq!(with_full_path(&short, long), format!("{long}:3: boom"));
        assert_eq!(with_full_path("x.lua:1: e", long), "x.lua:1: e");
    }

    #[test]
    fn errors_name_file_and_line() {
        let host = LuaHost::sandboxed().expect("vm");
        let err = host
            .lua()
            .load("\nerror('boom')")
            .set_name("@adapters/x.lua")
            .exec()
            .expect_err("raises");
        assert_eq!(error_message(&err), "adapters/x.lua:2: boom");
    }
}
