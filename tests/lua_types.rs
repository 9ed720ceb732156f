//! The LuaLS definitions (`lua/types/agents.lua`) checked by a real Lua type
//! checker, EmmyLua's analyzer (`cargo install emmylua_check`): every Lua
//! file the project ships — built-in adapters, the runtime, the examples,
//! the supervisor scripts, the user adapter example — type-checks against
//! them with warnings as errors, and a file that misuses the API is caught
//! (so the definitions are really in use, not silently ignored).
//!
//! Every field the shipped adapters set (spec, screen model, dialogs,
//! patterns, signals) and read from `cfg` in `launch(cfg)` is also checked
//! to be declared in the definitions, with no checker needed.
//!
//! The checker is found as `$DOEFF_EMMYLUA_CHECK` or `emmylua_check` on
//! PATH. Without it the tests say so and pass, unless
//! `DOEFF_REQUIRE_LUA_CHECK=1` (set by `.ci/run`, which installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The checker, or `None` (after saying why) when it is not installed.
fn checker() -> Option<PathBuf> {
    let explicit = std::env::var_os("DOEFF_EMMYLUA_CHECK").map(PathBuf::from);
    let found = explicit.or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("emmylua_check"))
                .find(|candidate| candidate.is_file())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var("DOEFF_REQUIRE_LUA_CHECK").as_deref() != Ok("1"),
            "DOEFF_REQUIRE_LUA_CHECK=1 but emmylua_check is not installed \
             (cargo install emmylua_check --locked)"
        );
        println!("SKIPPED: emmylua_check not found (cargo install emmylua_check --locked)");
    }
    found
}

/// A fresh scratch folder for one test (removed when dropped).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("doeff-lua-types-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the checker over `workspace` with the project's definitions as its library.
fn check(checker: &Path, workspace: &Path) -> Output {
    let name = workspace
        .file_name()
        .map_or("ws".into(), |n| n.to_string_lossy());
    let config_dir = Scratch::new(&format!("config-{name}"));
    let config = config_dir.0.join(".emmyrc.json");
    let settings = serde_json::json!({
        "runtime": { "version": "Lua5.4" },
        "workspace": { "library": [repo("lua/types")] },
    });
    std::fs::write(&config, settings.to_string()).expect("config");
    Command::new(checker)
        .arg("-c")
        .arg(&config)
        .arg("--warnings-as-errors")
        .arg(workspace)
        .output()
        .expect("run emmylua_check")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_shipped_lua_file_type_checks_against_the_definitions() {
    let Some(checker) = checker() else { return };
    let out = check(&checker, &repo("lua"));
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(!report.contains("warning:"), "{report}");
}

#[test]
fn a_script_that_misuses_the_api_is_caught() {
    let Some(checker) = checker() else { return };
    let dir = Scratch::new("wrong");
    std::fs::write(
        dir.0.join("wrong.lua"),
        r#"
agents.adapter {
  name = "wrong",
  launch = function(cfg) return { cfg.prompt_text } end,
  signals = { registry = "codex" },
}
agents.on("status_changed", function(s, old, new, obs) print(obs.reasons) end)
agents.notify { body = "no title" }
"#,
    )
    .expect("write");
    let out = check(&checker, &dir.0);
    let report = text(&out);
    assert!(!out.status.success(), "{report}");
    for finding in [
        "Undefined field `prompt_text`",
        "Undefined field `reasons`",
        "agents.Signals",
        "missing member title",
    ] {
        assert!(report.contains(finding), "no {finding:?} in:\n{report}");
    }
}

/// The `---@field` names of each `---@class` in the definitions file.
fn declared_fields() -> std::collections::HashMap<String, Vec<String>> {
    let types = std::fs::read_to_string(repo("lua/types/agents.lua")).expect("types file");
    let mut classes = std::collections::HashMap::<String, Vec<String>>::new();
    let mut current = None;
    for line in types.lines() {
        if let Some(rest) = line.strip_prefix("---@class ") {
            let name = rest.split([' ', ':']).next().unwrap_or_default().to_owned();
            // A subclass (`agents.LaunchArgs: agents.LaunchConfig`) has its parent's fields too.
            let inherited = rest
                .split_once(':')
                .and_then(|(_, parent)| classes.get(parent.trim()).cloned())
                .unwrap_or_default();
            classes.insert(name.clone(), inherited);
            current = Some(name);
        } else if let Some(rest) = line.strip_prefix("---@field ") {
            let field = rest.split([' ', '?']).next().unwrap_or_default().to_owned();
            if let Some(class) = current.as_ref().and_then(|c| classes.get_mut(c)) {
                class.push(field);
            }
        } else if !line.starts_with("---") {
            current = None;
        }
    }
    classes
}

/// Loads an adapter file with a stub `agents.adapter` that records the
/// fields of what it is given, by the class that documents them, and calls
/// `launch` with a config that records what it reads.
const RECORDER: &str = r#"
local path = ...
local used = {}
local function note(class, t)
  if type(t) ~= "table" then return end
  used[class] = used[class] or {}
  for k in pairs(t) do used[class][k] = true end
end
local reads = {}
local cfg = setmetatable({}, { __index = function(_, k)
  reads[k] = true
  if k == "env" then return {} end
  if k == "hooks" then
    return { exe = "/x", argv = {}, command = {}, settings_file = function() return "/x" end }
  end
  if k == "agent" or k == "work_dir" then return "x" end
  return nil
end })
agents = {
  self_exe = function() return "/x" end,
  json = function() return "{}" end,
  is_root = function() return true end,
  file_exists = function() return false end,
  adapter = function(spec)
    note("agents.AdapterSpec", spec)
    note("agents.ScreenModel", spec.screen)
    note("agents.Signals", spec.signals)
    for _, d in ipairs(spec.dialogs or {}) do note("agents.Dialog", d) end
    for _, p in ipairs(spec.patterns or {}) do note("agents.Pattern", p) end
    pcall(spec.launch, cfg)
    used["agents.LaunchArgs"] = reads
    return spec
  end,
}
assert(loadfile(path))()
local out = {}
for class, fields in pairs(used) do
  for k in pairs(fields) do out[#out + 1] = class .. " " .. k end
end
return out
"#;

#[test]
fn every_field_the_shipped_adapters_use_is_declared() {
    let classes = declared_fields();
    let mut files: Vec<PathBuf> = ["lua/adapters", "lua/examples/adapters"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(repo(dir)).expect("adapter dir"))
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "lua"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    let mut missing = Vec::new();
    for file in &files {
        let lua = mlua::Lua::new();
        let used: Vec<String> = lua
            .load(RECORDER)
            .call(file.to_string_lossy().into_owned())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            used.iter().any(|u| u.starts_with("agents.AdapterSpec ")),
            "{}: no adapter recorded",
            file.display()
        );
        for entry in used {
            let (class, field) = entry.split_once(' ').expect("class field");
            if !classes
                .get(class)
                .is_some_and(|f| f.iter().any(|d| d == field))
            {
                missing.push(format!("{}: {class}.{field}", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "used but not declared in lua/types/agents.lua:\n{}",
        missing.join("\n")
    );
}
