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
//! `string.find`/`match`/`gmatch`/`gsub` refuse a call whose worst-case
//! backtracking (`starts * n^q` for q repetitions) is over [`PATTERN_STEPS`].
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

/// Most backtracking steps a pattern call may need in the worst case (~0.3 s
/// of C): `starts * n^q`, see `BOUNDED_TABLES`.
pub const PATTERN_STEPS: f64 = 3e8;

/// Wrappers installed over the VM's own library tables (so string methods,
/// `("x"):rep(n)`, get them too), run once per VM before any adapter code.
const BOUNDED_TABLES: &str = r#"
local limit, error, type, over, steps, cost_of, pairs = ...
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
-- Pattern matching backtracks in C: a pattern with q repetitions (`*`, `+`,
-- `-`, `?`, `%b`, back-references) may take starts * n^q steps on an n-byte
-- subject (starts: 1 when anchored with `^`, else n), a plain find n * #p.
-- A call whose bound is over `steps` is refused before it runs.
local find, match, gmatch, gsub = string.find, string.match, string.gmatch, string.gsub
local cached = 0
local function repetitions(p)
  local q = cost_of[p]
  if q then return q end
  q = 0
  local i, len = 1, #p
  local special = false
  while i <= len do
    local c = p:byte(i)
    if c == 37 then -- %
      local d = p:byte(i + 1)
      if d == 98 then q = q + 1; i = i + 4 -- %bxy
      elseif d and d >= 49 and d <= 57 then q = q + 1; i = i + 2
      else i = i + 2 end
      special = true
    elseif c == 91 then -- [set]
      local j = i + 1
      if p:byte(j) == 94 then j = j + 1 end
      if p:byte(j) == 93 then j = j + 1 end
      while j <= len and p:byte(j) ~= 93 do
        if p:byte(j) == 37 then j = j + 1 end
        j = j + 1
      end
      i = j + 1
      special = true
    else
      if c == 42 or c == 43 or c == 45 or c == 63 then q = q + 1; special = true end
      if c == 94 or c == 36 or c == 40 or c == 41 or c == 46 then special = true end
      i = i + 1
    end
  end
  if not special then q = -1 end -- a literal: searched like a plain find
  if #p <= 200 then
    if cached > 1000 then
      for k in pairs(cost_of) do cost_of[k] = nil end
      cached = 0
    end
    cost_of[p] = q
    cached = cached + 1
  end
  return q
end
local function check(name, s, p, plain)
  if type(s) ~= "string" or type(p) ~= "string" then return end
  local n = #s + 1
  local q = plain and -1 or repetitions(p)
  local bound
  if q < 0 then
    bound = n * (#p + 1)
  else
    bound = (p:byte(1) == 94 and 1 or n) * n ^ q
  end
  if bound > steps then
    local shown = #p > 40 and p:sub(1, 40) .. "..." or p
    error(name .. ": pattern " .. ("%q"):format(shown) .. " is too costly for a " .. #s
      .. "-byte subject (match shorter texts, e.g. line by line)", 3)
  end
end
string.find = function(s, p, init, plain)
  check("string.find", s, p, plain)
  return find(s, p, init, plain)
end
string.match = function(s, p, init)
  check("string.match", s, p)
  return match(s, p, init)
end
string.gmatch = function(s, p, init)
  check("string.gmatch", s, p)
  return gmatch(s, p, init)
end
string.gsub = function(s, p, repl, n)
  check("string.gsub", s, p)
  return gsub(s, p, repl, n)
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
        PATTERN_STEPS,
        lua.create_table()?,
        globals.get::<Value>("pairs")?,
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
