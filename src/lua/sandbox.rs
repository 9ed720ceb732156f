//! The adapter sandbox: which globals adapter code sees (a fresh environment
//! per file, library tables copied), and the library functions made bounded
//! because they loop in C, where the budget hook never runs: `string.rep`
//! (checked sizes), `table.move`/`concat`/`insert`/`remove`/`sort`/`unpack`
//! (ranges and lengths no real table can have are refused), `xpcall` (a
//! message handler is skipped once the budget is spent: it would run inside
//! the budget hook, where hooks are off), and `setmetatable` (no `__gc` or
//! `__close`: finalizers run with hooks off, at any allocation and when the
//! VM closes, and a to-be-closed handler can run with hooks off while the
//! budget error unwinds, so a looping one could never be stopped).
//! `print` writes one `file:line: ` line to stderr, never to stdout.

use std::time::Instant;

use mlua::{Lua, Table, Value};

use super::MEMORY_LIMIT;
use super::budget::lua_location;

/// Base functions adapter code may use; everything else (`dofile`, `loadfile`,
/// `load`, `require`, `io`, `os`, `debug`, `package`, `collectgarbage`) is absent.
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

/// The longest range a table function may walk: no table under the memory
/// cap holds more elements (16 bytes each), so only a metatable's `__len`
/// or `__index` could claim more.
pub const TABLE_RANGE_LIMIT: i64 = (MEMORY_LIMIT / 16) as i64;

/// Wrappers installed over the VM's own library tables (so string methods,
/// `("x"):rep(n)`, get them too), run once per VM before any adapter code.
const BOUNDED_TABLES: &str = r#"
local limit, error, type, over = ...
-- A message handler runs inside the budget hook when the hook raises (with
-- hooks off there): once the budget is spent, the user's handler is skipped.
local xpcall = xpcall
_G.xpcall = function(f, handler, ...)
  if handler == nil then return xpcall(f, handler, ...) end
  return xpcall(f, function(e)
    if over() then return e end
    return handler(e)
  end, ...)
end
local move, concat, insert, remove, sort, unpack =
  table.move, table.concat, table.insert, table.remove, table.sort, table.unpack
local function long(t)
  if type(t) == "table" then
    local n = #t
    if type(n) == "number" and n > limit then
      error("table too long (" .. n .. " elements)", 3)
    end
  end
end
local function range(i, j)
  if type(i) == "number" and type(j) == "number" and j - i >= limit then
    error("range too long (" .. i .. " to " .. j .. ")", 3)
  end
end
table.move = function(a1, f, e, t, a2)
  range(f, e)
  return move(a1, f, e, t, a2 or a1)
end
table.concat = function(t, sep, i, j)
  if j == nil then long(t) end
  range(i or 1, j)
  return concat(t, sep, i, j)
end
table.insert = function(t, ...)
  long(t)
  return insert(t, ...)
end
table.remove = function(t, ...)
  long(t)
  return remove(t, ...)
end
table.sort = function(t, comp)
  long(t)
  return sort(t, comp)
end
table.unpack = function(t, i, j)
  if j == nil then long(t) end
  range(i or 1, j)
  return unpack(t, i, j)
end
"#;

/// Makes the VM's libraries bounded (see the module docs).
pub(crate) fn harden(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    let string: Table = globals.get("string")?;
    let rep: mlua::Function = string.get("rep")?;
    string.set(
        "rep",
        lua.create_function(
            move |lua, (s, n, sep): (mlua::String, i64, Option<mlua::String>)| {
                let len = s.as_bytes().len() as u64;
                let sep_len = sep.as_ref().map_or(0, |s| s.as_bytes().len() as u64);
                if n <= 0 || len + sep_len == 0 {
                    return lua.create_string("");
                }
                let n = n as u64;
                let total = n
                    .checked_mul(len)
                    .and_then(|t| t.checked_add((n - 1).checked_mul(sep_len)?));
                match total {
                    Some(total) if total <= MEMORY_LIMIT as u64 => rep.call((s, n, sep)),
                    _ => Err(located(lua, "string.rep: resulting string too large")),
                }
            },
        )?,
    )?;
    globals.set("print", lua.create_function(print_to_stderr)?)?;
    let setmetatable: mlua::Function = globals.get("setmetatable")?;
    globals.set(
        "setmetatable",
        lua.create_function(move |lua, (t, mt): (Value, Value)| {
            if let Value::Table(mt) = &mt {
                for field in ["__gc", "__close"] {
                    if !mt.raw_get::<Value>(field)?.is_nil() {
                        return Err(located(
                            lua,
                            &format!(
                                "setmetatable: {field} metamethods are not allowed in adapters"
                            ),
                        ));
                    }
                }
            }
            setmetatable.call::<Value>((t, mt))
        })?,
    )?;
    lua.load(BOUNDED_TABLES).set_name("=sandbox").call::<()>((
        TABLE_RANGE_LIMIT,
        globals.get::<Value>("error")?,
        globals.get::<Value>("type")?,
        lua.create_function(|_, ()| Ok(super::budget::is_over()))?,
    ))?;
    Ok(())
}

/// Longest line one `print` writes.
const PRINT_LIMIT: usize = 1000;

/// `print` in adapter code: one line on stderr, `file:line: ` first and
/// control characters escaped, never on stdout (where it would corrupt
/// `--json` output and could forge `watch` lines).
fn print_to_stderr(lua: &Lua, args: mlua::MultiValue) -> mlua::Result<()> {
    let mut text = String::new();
    for (i, value) in args.into_iter().enumerate() {
        if i > 0 {
            text.push('\t');
        }
        match value {
            Value::String(s) => text.push_str(&s.to_string_lossy()),
            other => text.push_str(&other.to_string()?),
        }
        if text.len() > PRINT_LIMIT {
            break;
        }
    }
    let mut line: String = text.escape_debug().collect();
    if line.len() > PRINT_LIMIT {
        let cut = (0..=PRINT_LIMIT)
            .rev()
            .find(|&i| line.is_char_boundary(i))
            .unwrap_or(0);
        line.truncate(cut);
        line.push_str("...");
    }
    let at = lua_location(lua).unwrap_or_else(|| "adapter".to_owned());
    eprintln!("{at}: {line}");
    Ok(())
}

/// A runtime error prefixed with the calling adapter's `file:line`.
pub(crate) fn located(lua: &Lua, message: &str) -> mlua::Error {
    match lua_location(lua) {
        Some(at) => mlua::Error::runtime(format!("{at}: {message}")),
        None => mlua::Error::runtime(message.to_owned()),
    }
}

/// A fresh environment table holding the safe globals, for one file.
pub(crate) fn environment(lua: &Lua) -> mlua::Result<Table> {
    let globals = lua.globals();
    let env = lua.create_table()?;
    for name in SAFE_GLOBALS {
        let value: Value = globals.get(*name)?;
        let value = match value {
            // Library tables are copied so one file cannot patch another's.
            Value::Table(lib) => {
                let copy = lua.create_table()?;
                for pair in lib.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    copy.raw_set(k, v)?;
                }
                Value::Table(copy)
            }
            other => other,
        };
        env.raw_set(*name, value)?;
    }
    let os = lua.create_table()?;
    os.raw_set(
        "time",
        lua.create_function(|_, ()| {
            Ok(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0))
        })?,
    )?;
    let start = Instant::now();
    os.raw_set(
        "clock",
        lua.create_function(move |_, ()| Ok(start.elapsed().as_secs_f64()))?,
    )?;
    env.raw_set("os", os)?;
    env.raw_set("_G", env.clone())?;
    Ok(env)
}
