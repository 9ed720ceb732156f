//! The Lua sandbox every Lua VM of the crate runs in, used by the adapter
//! loader (`adapter/`) and the scripting API (`lua/`) alike, and depending
//! on neither: [`LuaHost`] (a VM with only safe, bounded libraries for
//! adapter code, `stdlib.rs`, or the full standard library for scripts), a
//! time budget per call that Lua code cannot catch (`budget.rs`), Ctrl-C
//! between Lua instructions (`interrupt.rs`), a memory cap, per-file
//! environments, typed field readers for Lua tables (`fields.rs`), and
//! readable `file:line: message` errors ([`error_message`]).

mod budget;
pub(crate) mod fields;
pub mod interrupt;
mod stdlib;

use std::time::Duration;

use mlua::{Lua, LuaOptions, StdLib, Table};

pub use budget::BUDGET_EXCEEDED;
pub(crate) use budget::lua_location;

/// Default time budget for one call into adapter code.
pub const CALL_BUDGET: Duration = Duration::from_millis(250);
/// Default time budget for loading one adapter file.
pub const LOAD_BUDGET: Duration = Duration::from_secs(1);
/// Memory cap for the adapter VM.
pub const MEMORY_LIMIT: usize = 64 * 1024 * 1024;

/// One Lua VM with a call budget.
#[derive(Debug)]
pub struct LuaHost {
    lua: Lua,
}

impl LuaHost {
    /// A VM for adapter code: safe libraries only (made bounded, see
    /// `stdlib.rs`), memory cap, budget hook.
    pub fn sandboxed() -> mlua::Result<LuaHost> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::UTF8 | StdLib::COROUTINE;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        stdlib::harden(&lua)?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        Self::with_lua(lua)
    }

    /// A VM with the full standard library, for scripts a user runs.
    pub fn full() -> mlua::Result<LuaHost> {
        Self::with_lua(Lua::new())
    }

    fn with_lua(lua: Lua) -> mlua::Result<LuaHost> {
        budget::install(&lua)?;
        Ok(LuaHost { lua })
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Runs `f` with a deadline `budget` from now (an enclosing, earlier
    /// deadline stays in force). The deadline belongs to the calling thread.
    /// A spent budget fails the call with `file:line: time budget exceeded`,
    /// whatever Lua code did with the error (see `budget.rs`).
    pub fn with_budget<R>(
        &self,
        budget: Duration,
        f: impl FnOnce() -> mlua::Result<R>,
    ) -> mlua::Result<R> {
        budget::with_budget(&self.lua, budget, f)
    }

    /// A fresh environment table holding the safe globals, for one file.
    pub fn sandbox_env(&self) -> mlua::Result<Table> {
        stdlib::environment(&self.lua)
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
    use std::sync::Arc;
    use std::time::Instant;

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
    fn concurrent_runaway_calls_each_hit_their_budget() {
        let host = Arc::new(LuaHost::sandboxed().expect("vm"));
        let started = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let host = Arc::clone(&host);
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        let err = host
                            .with_budget(Duration::from_millis(20), || {
                                host.lua().load("while true do end").exec()
                            })
                            .expect_err("must stop");
                        assert!(error_message(&err).contains("time budget exceeded"));
                    }
                })
            })
            .collect();
        // Meanwhile quick calls on another thread keep their own budget.
        let quick_host = Arc::clone(&host);
        let quick = std::thread::spawn(move || {
            for _ in 0..50 {
                let n: i64 = quick_host
                    .with_budget(Duration::from_secs(5), || {
                        quick_host
                            .lua()
                            .load("local n = 0 for i = 1, 5000 do n = n + 1 end return n")
                            .eval()
                    })
                    .expect("a quick call is never cut by another thread's budget");
                assert_eq!(n, 5000);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        for thread in threads {
            thread.join().expect("no panic");
        }
        quick.join().expect("quick calls succeed");
        assert!(started.elapsed() < Duration::from_secs(10));
        // No stale deadline is left behind: a quick call still works.
        std::thread::sleep(Duration::from_millis(30));
        let value: i64 = host
            .with_budget(Duration::from_secs(1), || {
                host.lua()
                    .load("local n = 0 for i = 1, 10000 do n = n + 1 end return n")
                    .eval()
            })
            .expect("a quick call after the runaway ones");
        assert_eq!(value, 10000);
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
