//! The time budget of calls into Lua: per-thread deadlines and the hook that
//! enforces them. The hook counts 1000 instructions between checks; once a
//! call's budget is spent it raises on *every* instruction, call and return
//! until the call is back in Rust, so `pcall`, `xpcall`, coroutines and
//! error handlers cannot swallow the error (each catch only moves it one
//! frame out). The call then fails with `file:line: time budget exceeded`,
//! whatever error value Lua code made of it.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use mlua::{Debug, DebugEvent, HookTriggers, Lua, VmState};

/// The message of a spent budget (after `file:line: `).
pub const BUDGET_EXCEEDED: &str = "time budget exceeded";

/// Normal running: a check every 1000 instructions (cheap).
const COARSE: HookTriggers = HookTriggers::new().every_nth_instruction(1000);
/// After the budget is spent: every instruction, call and return raises.
const FINE: HookTriggers = HookTriggers::new()
    .every_nth_instruction(1)
    .on_calls()
    .on_returns();

/// One budgeted call on this thread.
struct Frame {
    due: Instant,
    /// Where the budget ran out (`file:line`), once it has.
    spent: Option<String>,
}

thread_local! {
    /// The budgeted calls running on this thread, innermost last. Per
    /// thread, so calls from several threads (sessions watched in parallel)
    /// never see, extend or cut each other's budgets.
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// The deadline in force on this thread, if a budgeted call is running.
pub(crate) fn current_deadline() -> Option<Instant> {
    FRAMES.with(|f| f.borrow().last().map(|frame| frame.due))
}

/// True when this thread's innermost budget is spent or past its deadline
/// (checked by bounded library functions between steps of their work).
pub(crate) fn is_over() -> bool {
    FRAMES.with(|f| {
        f.borrow()
            .last()
            .is_some_and(|frame| frame.spent.is_some() || Instant::now() > frame.due)
    })
}

/// Installs the budget hook on a VM (new coroutines inherit it).
pub(crate) fn install(lua: &Lua) -> mlua::Result<()> {
    lua.set_global_hook(COARSE, hook)
}

/// What the hook found.
enum Check {
    InTime,
    JustSpent,
    StillSpent,
}

fn hook(lua: &Lua, debug: &Debug) -> mlua::Result<VmState> {
    // Ctrl-C in the REPL (see `interrupt.rs`).
    super::interrupt::check()?;
    let check = FRAMES.with(|f| match f.borrow().last() {
        None => Check::InTime,
        Some(frame) if frame.spent.is_some() => Check::StillSpent,
        Some(frame) if Instant::now() > frame.due => Check::JustSpent,
        Some(_) => Check::InTime,
    });
    match check {
        Check::InTime => {
            if !matches!(debug.event(), DebugEvent::Count) {
                // A coroutine still on the fine hook of an earlier spent
                // budget: back to cheap counting.
                lua.set_global_hook(COARSE, hook)?;
            }
            Ok(VmState::Continue)
        }
        Check::JustSpent => {
            let at = lua_location(lua);
            FRAMES.with(|f| {
                if let Some(frame) = f.borrow_mut().last_mut() {
                    frame.spent = Some(at.unwrap_or_else(|| "adapter".to_owned()));
                }
            });
            // This thread (main or coroutine) raises at every step from now.
            lua.set_global_hook(FINE, hook)?;
            Err(mlua::Error::runtime(BUDGET_EXCEEDED))
        }
        Check::StillSpent => {
            lua.set_global_hook(FINE, hook)?;
            Err(mlua::Error::runtime(BUDGET_EXCEEDED))
        }
    }
}

/// `file:line` of the innermost Lua function of a file on the stack.
pub(crate) fn lua_location(lua: &Lua) -> Option<String> {
    (0..64).find_map(|level| {
        lua.inspect_stack(level, |debug| {
            let source = debug.source();
            let path = source.source.as_deref()?.strip_prefix('@')?.to_owned();
            Some(match debug.current_line() {
                Some(line) if line > 0 => format!("{path}:{line}"),
                _ => path,
            })
        })
        .flatten()
    })
}

/// Pops this thread's innermost frame when a budgeted call ends (also on
/// unwinding) and says whether its budget was spent, and where.
struct FrameGuard;

impl FrameGuard {
    fn finish(self) -> Option<String> {
        let spent = FRAMES.with(|f| f.borrow_mut().last_mut().and_then(|f| f.spent.take()));
        drop(self);
        spent
    }
}

impl Drop for FrameGuard {
    fn drop(&mut self) {
        FRAMES.with(|f| f.borrow_mut().pop());
    }
}

/// Runs `f` with a deadline `budget` from now (an enclosing, earlier
/// deadline stays in force). A spent budget is the call's error, whatever
/// `f` returned.
pub(crate) fn with_budget<R>(
    lua: &Lua,
    budget: Duration,
    f: impl FnOnce() -> mlua::Result<R>,
) -> mlua::Result<R> {
    let wanted = Instant::now() + budget;
    let due = current_deadline().map_or(wanted, |outer| outer.min(wanted));
    FRAMES.with(|frames| frames.borrow_mut().push(Frame { due, spent: None }));
    let guard = FrameGuard;
    let result = f();
    match guard.finish() {
        Some(at) => {
            // Back to cheap counting on the thread that called in.
            lua.set_global_hook(COARSE, hook)?;
            Err(mlua::Error::runtime(format!("{at}: {BUDGET_EXCEEDED}")))
        }
        None => result,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LuaHost, error_message};
    use std::time::{Duration, Instant};

    /// Runs `code` as the file `@x.lua` with a 50 ms budget; its error.
    fn runaway(code: &str) -> String {
        let host = LuaHost::sandboxed().expect("vm");
        let env = host.sandbox_env().expect("env");
        let started = Instant::now();
        let err = host
            .with_budget(Duration::from_millis(50), || {
                host.lua()
                    .load(code)
                    .set_name("@x.lua")
                    .set_environment(env)
                    .exec()
            })
            .expect_err("must stop");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "stopped late: {:?}",
            started.elapsed()
        );
        // The VM still works afterwards, with a fresh budget.
        let n: i64 = host
            .with_budget(Duration::from_secs(5), || {
                host.lua()
                    .load("local n = 0 for i = 1, 100000 do n = n + 1 end return n")
                    .eval()
            })
            .expect("a later call runs normally");
        assert_eq!(n, 100000);
        error_message(&err)
    }

    #[test]
    fn a_spent_budget_cannot_be_caught() {
        let cases = [
            "while true do pcall(function() while true do end end) end",
            "while true do xpcall(function() while true do end end, function(e) return e end) end",
            "while true do\n xpcall(function() while true do end end, function() while true do end end)\nend",
            "while true do pcall(error, {}) pcall(function() while true do end end) end",
            "while true do local ok, e = pcall(function() while true do end end) pcall(error, setmetatable({}, {__tostring = function() while true do end end})) end",
            "local co = coroutine.create(function() while true do pcall(function() while true do end end) end end)\nwhile true do coroutine.resume(co) end",
            "while true do pcall(coroutine.wrap(function() while true do pcall(function() while true do end end) end end)) end",
            "local function f() while true do pcall(f) end end\nwhile true do pcall(f) end",
        ];
        for code in cases {
            let message = runaway(code);
            assert!(
                message.starts_with("x.lua:") && message.ends_with(": time budget exceeded"),
                "{code}: {message}"
            );
        }
    }

    #[test]
    fn c_loops_are_bounded() {
        let host = LuaHost::sandboxed().expect("vm");
        let run = |code: &str| -> Result<String, String> {
            let env = host.sandbox_env().expect("env");
            host.with_budget(Duration::from_secs(2), || {
                host.lua()
                    .load(code)
                    .set_name("@x.lua")
                    .set_environment(env)
                    .eval::<String>()
            })
            .map_err(|e| error_message(&e))
        };
        let started = Instant::now();
        assert_eq!(run("return string.rep('', 2^62)").as_deref(), Ok(""));
        assert_eq!(run("return ('ab'):rep(3, ',')").as_deref(), Ok("ab,ab,ab"));
        assert!(
            run("return string.rep('x', 2^40)")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            run("return ('x'):rep(2^40)")
                .unwrap_err()
                .contains("too large")
        );
        assert!(run("return ('x'):rep(2, ('y'):rep(2^20)):rep(8)").is_ok());
        let moved = run("table.move({}, 1, math.maxinteger - 1, 1) return ''");
        assert!(moved.unwrap_err().contains("range too long"));
        let fake = "setmetatable({}, {__len = function() return 2^50 end})";
        for call in [
            "table.insert(t, 1, 1)",
            "table.remove(t, 1)",
            "table.sort(t)",
        ] {
            let code = format!("local t = {fake} {call} return ''");
            assert!(run(&code).unwrap_err().contains("table too long"), "{call}");
        }
        let code = "local t = setmetatable({}, {__index = table.concat}) return table.concat(t, '', 1, 2^50)";
        assert!(run(code).unwrap_err().contains("range too long"));
        let gc = run("setmetatable({}, {__gc = function() while true do end end}) return ''");
        assert!(gc.unwrap_err().starts_with("x.lua:1: setmetatable: __gc"));
        let close = "local x <close> = setmetatable({}, {__close = function() while true do end end}) return ''";
        assert!(
            run(close)
                .unwrap_err()
                .contains("__close metamethods are not allowed")
        );
        assert_eq!(
            run("return table.concat({'a', 'b'}, '-')").as_deref(),
            Ok("a-b")
        );
        let costly = [
            "return tostring(('a'):rep(5000):find('.-.-.-.-b'))",
            "return (string.gsub(('a'):rep(20000), '.-.-b', ''))",
            "return tostring(('a'):rep(3000):match('(a*)(a*)(a*)b'))",
            "for w in (('a'):rep(20000)):gmatch('a-a-b') do end return ''",
        ];
        for code in costly {
            assert!(
                run(code).unwrap_err().contains("is too costly for a"),
                "{code}"
            );
        }
        let fine = [
            (
                "return select(2, ('hello world'):match('(%w+) (%w+)'))",
                "world",
            ),
            (
                "return tostring(('x'):rep(100000):find('y', 1, true))",
                "nil",
            ),
            ("return (('a b c'):gsub('%s', '_'))", "a_b_c"),
            (
                "return tostring(('bash-5.2$ x'):match('^bash%-[%d.]+[$#]'))",
                "bash-5.2$",
            ),
        ];
        for (code, want) in fine {
            assert_eq!(run(code).as_deref(), Ok(want), "{code}");
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
