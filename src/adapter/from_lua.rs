//! Lua tables to adapters and back: validates an adapter table (clear
//! `file:line` errors on bad fields or regexes), compiles its `patterns` into
//! rules, runs adapter files in their own sandboxed environments, and builds
//! the tables passed to `launch(cfg)` and `classify(screen, ctx)`.

use std::sync::{Arc, Mutex};

use mlua::{Function, Lua, Table, Value};
use regex::Regex;

use super::{Adapter, Dialog, HookLaunch, Injection, Launcher, LuaFn};
use crate::monitor::{
    Context, Matcher, MatcherSet, Process, REGION_NAMES, Region, Rule, RuleSources, ScreenModel,
    SessionStatus, When, assemble,
};
use crate::sandbox::fields::{
    bad, optional_bool, optional_count, optional_function, optional_string, string_list,
};
use crate::sandbox::{LOAD_BUDGET, LuaHost};

const ADAPTER_FIELDS: &[&str] = &[
    "name",
    "binary",
    "launch",
    "injection",
    "ready_pattern",
    "status_bar_lines",
    "patterns",
    "classify",
    "classify_when",
    "is_available",
    "exit_zero_is_done",
    "busy",
    "disable",
    "description",
    "dialogs",
    "composer",
    "conversation",
    "conversation_at_launch",
    "screen",
    "prints_completion",
    "shell",
    "signals",
];

const SCREEN_FIELDS: &[&str] = &["composer", "ruled", "turn_start", "activity", "goodbye"];

const DIALOG_FIELDS: &[&str] = &["id", "match", "regex", "nocase", "reason", "answer", "safe"];

const PATTERN_FIELDS: &[&str] = &[
    "status",
    "reason",
    "match",
    "regex",
    "nocase",
    "last",
    "region",
    "unless",
    "when",
    "id",
    "joined",
    "unless_busy",
    "unless_region",
];

/// `cfg.hooks` for `launch(cfg)`: `{ exe, argv = { EVENT = {...} },
/// command = { EVENT = "shell words" }, settings_file = function }`.
pub(crate) fn hooks_table(lua: &Lua, hooks: &HookLaunch) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.set("exe", hooks.exe.as_str())?;
    let argv = lua.create_table()?;
    for (event, words) in &hooks.argv {
        argv.set(
            event.as_str(),
            lua.create_sequence_from(words.iter().map(String::as_str))?,
        )?;
    }
    table.set("argv", argv)?;
    let commands = lua.create_table()?;
    for (event, command) in hooks.commands() {
        commands.set(event, command)?;
    }
    table.set("command", commands)?;
    // settings_file(text, VAR): the path of the file written, or nil.
    let launch = hooks.clone();
    let settings_file = lua.create_function(move |_, (text, var): (String, String)| {
        launch
            .settings_file(&text, &var)
            .map(|path| path.map(|p| p.to_string_lossy().into_owned()))
            .map_err(bad)
    })?;
    table.set("settings_file", settings_file)?;
    // What `launch` gets is a view that notes any field read (see
    // `HookLaunch::passed`); `type(cfg.hooks)` is still "table".
    // (The fields sit in the metatable: a Lua handle held by the Rust
    // closure would keep the VM alive.)
    let view = lua.create_table()?;
    let meta = lua.create_table()?;
    meta.raw_set("fields", table)?;
    let used = hooks.used.clone();
    meta.set(
        "__index",
        lua.create_function(move |_, (view, key): (Table, Value)| {
            used.store(true, std::sync::atomic::Ordering::Relaxed);
            match view.metatable() {
                Some(meta) => meta.raw_get::<Table>("fields")?.raw_get::<Value>(key),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    view.set_metatable(Some(meta))?;
    Ok(view)
}

/// The `ctx` table given to `classify(screen, ctx)`.
pub(crate) fn context_table(lua: &Lua, ctx: &Context<'_>) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.set("changed", ctx.changed)?;
    table.set("previous", ctx.previous.as_str())?;
    table.set("title", ctx.screen.title.as_str())?;
    table.set(
        "lines",
        lua.create_sequence_from(ctx.screen.lines.iter().map(String::as_str))?,
    )?;
    let process = match ctx.process {
        Process::Unknown => "unknown",
        Process::Alive { .. } => "alive",
        Process::Ended { .. } => "ended",
        Process::BackToShell { .. } => "shell",
        Process::Gone => "gone",
        Process::Stopped => "stopped",
    };
    table.set("process", process)?;
    Ok(table)
}

/// A Lua value returned by `launch` as argv: a non-empty list of strings.
pub(crate) fn argv_from_value(value: Value) -> Result<Vec<String>, String> {
    let Value::Table(table) = value else {
        return Err(format!(
            "launch must return a list of strings, got {}",
            value.type_name()
        ));
    };
    let len = table.raw_len();
    let mut argv = Vec::with_capacity(len);
    for i in 1..=len {
        match table.raw_get::<Value>(i) {
            Ok(Value::String(s)) => argv.push(s.to_string_lossy()),
            Ok(Value::Integer(n)) => argv.push(n.to_string()),
            Ok(other) => {
                return Err(format!(
                    "launch argv[{i}] must be a string, got {}",
                    other.type_name()
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(argv)
}

fn check_fields(table: &Table, allowed: &[&str], what: &str) -> mlua::Result<()> {
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        let name = match &key {
            Value::String(s) => s.to_str()?.to_owned(),
            other => {
                return Err(bad(format!(
                    "{what} has a non-string key ({})",
                    other.type_name()
                )));
            }
        };
        if !allowed.contains(&name.as_str()) {
            return Err(bad(format!(
                "{what} has an unknown field '{name}' (known: {})",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn regex_matcher(pattern: &str, nocase: bool, field: &str) -> mlua::Result<Matcher> {
    checked(Matcher::regex(pattern, nocase), pattern, field)
}

/// A parsed pattern, or the load error naming its field.
fn checked(
    matcher: Result<Matcher, crate::monitor::PatternError>,
    pattern: &str,
    field: &str,
) -> mlua::Result<Matcher> {
    matcher.map_err(|e| {
        bad(format!(
            "bad regex in '{field}' {pattern:?}: {}",
            first_line(&e.to_string())
        ))
    })
}

fn first_line(text: &str) -> String {
    text.lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_owned)
        .next()
        .unwrap_or_else(|| text.lines().last().unwrap_or_default().to_owned())
}

/// Whether `reason` is a snake_case word (a reason is printed in `watch`
/// lines and JSON: a newline or an escape sequence in it could forge them).
pub(crate) fn is_reason(reason: &str) -> bool {
    !reason.is_empty()
        && reason
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_reason(what: &str, reason: &str) -> mlua::Result<()> {
    if is_reason(reason) {
        Ok(())
    } else {
        Err(bad(format!(
            "{what}.reason must be a snake_case word, got {reason:?}"
        )))
    }
}

/// Most regexes one adapter may declare, and their total length: each is
/// compiled (users' at load), so they cost memory however they are written.
pub const MAX_REGEXES: usize = 100;
pub const MAX_REGEX_BYTES: usize = 64 * 1024;

/// Refuses an adapter table declaring more regexes than [`MAX_REGEXES`] (or
/// longer than [`MAX_REGEX_BYTES`] together), before any is parsed.
fn check_regex_budget(table: &Table) -> mlua::Result<()> {
    let mut count = 0usize;
    let mut bytes = 0usize;
    let mut add = |list: Vec<String>| {
        count += list.len();
        bytes += list.iter().map(String::len).sum::<usize>();
        count > MAX_REGEXES || bytes > MAX_REGEX_BYTES
    };
    let mut over = false;
    for field in ["busy", "composer", "conversation", "ready_pattern"] {
        over |= add(string_list(table, field)?);
    }
    for list in ["patterns", "dialogs"] {
        if let Value::Table(entries) = table.get::<Value>(list)? {
            for entry in entries.sequence_values::<Value>() {
                if over {
                    break;
                }
                if let Value::Table(entry) = entry? {
                    over |= add(string_list(&entry, "regex")?);
                    over |= add(string_list(&entry, "unless")?);
                }
            }
        }
    }
    if count > MAX_REGEXES || bytes > MAX_REGEX_BYTES {
        return Err(bad(format!(
            "adapter declares too many regexes ({count} of {bytes} bytes so far; at most \
             {MAX_REGEXES} and {MAX_REGEX_BYTES} bytes)"
        )));
    }
    Ok(())
}

/// Compiles one entry of `dialogs`.
fn compile_dialog(index: usize, entry: &Table) -> mlua::Result<Dialog> {
    let what = format!("dialogs[{index}]");
    check_fields(entry, DIALOG_FIELDS, &what)?;
    let id = optional_string(entry, "id")?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad(format!("{what} needs an 'id'")))?;
    let reason = optional_string(entry, "reason")?.unwrap_or_else(|| "dialog".to_owned());
    check_reason(&what, &reason)?;
    let nocase = optional_bool(entry, "nocase")?;
    let mut matchers = Vec::new();
    for text in string_list(entry, "match")? {
        matchers.push(if nocase {
            Matcher::nocase(&text)
        } else {
            Matcher::text(text)
        });
    }
    for pattern in string_list(entry, "regex")? {
        matchers.push(regex_matcher(&pattern, nocase, &format!("{what}.regex"))?);
    }
    if matchers.is_empty() {
        return Err(bad(format!("{what} needs 'match' or 'regex'")));
    }
    let answer = string_list(entry, "answer")?;
    if answer.iter().any(|k| k.is_empty() || k.contains('\0')) {
        return Err(bad(format!("{what}.answer holds an empty key name")));
    }
    let safe = optional_bool(entry, "safe")?;
    if safe && answer.is_empty() {
        return Err(bad(format!(
            "{what} is marked safe but has no 'answer' keys"
        )));
    }
    Ok(Dialog {
        id,
        matchers,
        reason,
        answer,
        safe,
    })
}

fn optional_regex(table: &Table, field: &str) -> mlua::Result<Vec<Regex>> {
    string_list(table, field)?
        .into_iter()
        .map(|p| {
            Regex::new(&p).map_err(|e| {
                bad(format!(
                    "bad regex in '{field}' {p:?}: {}",
                    first_line(&e.to_string())
                ))
            })
        })
        .collect()
}

/// Compiles one entry of `patterns`.
fn compile_pattern(adapter: &str, index: usize, entry: &Table) -> mlua::Result<Rule> {
    let what = format!("patterns[{index}]");
    check_fields(entry, PATTERN_FIELDS, &what)?;
    let status: SessionStatus = optional_string(entry, "status")?
        .ok_or_else(|| bad(format!("{what} needs a 'status'")))?
        .parse()
        .map_err(|e: String| bad(format!("{what}: {e}")))?;
    let reason = optional_string(entry, "reason")?.unwrap_or_else(|| status.as_str().to_owned());
    check_reason(&what, &reason)?;
    let id = optional_string(entry, "id")?.unwrap_or_else(|| format!("{adapter}.{reason}"));
    let nocase = optional_bool(entry, "nocase")?;
    let mut rule = Rule::new(id, status, reason);
    for text in string_list(entry, "match")? {
        rule.matchers.push(if nocase {
            Matcher::nocase(&text)
        } else {
            Matcher::text(text)
        });
    }
    let joined = optional_bool(entry, "joined")?;
    for pattern in string_list(entry, "regex")? {
        let field = format!("{what}.regex");
        rule.matchers.push(if joined {
            // The region's lines as one text: ^ and $ mean its top and bottom.
            checked(Matcher::regex_of_text(&pattern, nocase), &pattern, &field)?
        } else {
            regex_matcher(&pattern, nocase, &field)?
        });
    }
    if rule.matchers.is_empty() {
        return Err(bad(format!("{what} needs 'match' or 'regex'")));
    }
    for pattern in string_list(entry, "unless")? {
        rule.vetoes
            .push(regex_matcher(&pattern, nocase, &format!("{what}.unless"))?);
    }
    // `last = N` is the fallback `last_lines(N)`; without either, the
    // latest turn and its footer (the one default, as for built-in rules).
    let region = match (
        optional_count(entry, "last")?,
        optional_string(entry, "region")?,
    ) {
        (Some(n), _) => Region::Last(n.max(1)),
        (None, None) => Region::Latest,
        (None, Some(r)) => Region::named(&r).ok_or_else(|| {
            bad(format!(
                "{what}.region must be one of {}, got {r:?}",
                REGION_NAMES.join(", ")
            ))
        })?,
    };
    rule.region = region;
    rule.veto_region = match optional_string(entry, "unless_region")? {
        None => region,
        Some(r) => Region::named(&r).ok_or_else(|| {
            bad(format!(
                "{what}.unless_region must be one of {}, got {r:?}",
                REGION_NAMES.join(", ")
            ))
        })?,
    };
    rule.joined = joined;
    // Blocked rules are always cancelled by a live activity marker.
    rule.busy_veto = optional_bool(entry, "unless_busy")?;
    // Every rule applies on every observation unless it asks to be a
    // waiting-for-input rule (`when = "unchanged"`).
    match optional_string(entry, "when")?.as_deref() {
        None | Some("always") => rule.when = When::Always,
        Some("unchanged") => rule.when = When::Unchanged,
        Some(other) => {
            return Err(bad(format!(
                "{what}.when must be \"always\" or \"unchanged\", got {other:?}"
            )));
        }
    }
    Ok(rule)
}

/// Validates an adapter table and compiles it.
pub fn compile_adapter(host: &Arc<LuaHost>, table: &Table, source: &str) -> mlua::Result<Adapter> {
    check_fields(table, ADAPTER_FIELDS, "adapter")?;
    check_regex_budget(table)?;
    let name =
        optional_string(table, "name")?.ok_or_else(|| bad("adapter needs a 'name'".into()))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(bad(format!(
            "adapter name {name:?} must be letters, digits, '_' or '-'"
        )));
    }
    let launch = optional_function(table, "launch")?
        .ok_or_else(|| bad(format!("adapter {name:?} needs a 'launch' function")))?;
    let injection = match optional_string(table, "injection")?.as_deref() {
        None | Some("arg") => Injection::Arg,
        Some("tmux") => Injection::Tmux,
        Some(other) => {
            return Err(bad(format!(
                "field 'injection' must be \"arg\" or \"tmux\", got {other:?}"
            )));
        }
    };
    let ready_pattern = optional_string(table, "ready_pattern")?
        .map(|p| {
            Regex::new(&p).map_err(|e| {
                bad(format!(
                    "bad regex in 'ready_pattern' {p:?}: {}",
                    first_line(&e.to_string())
                ))
            })
        })
        .transpose()?;
    let mut rules = Vec::new();
    if let Value::Table(patterns) = table.get::<Value>("patterns")? {
        for (i, entry) in patterns.sequence_values::<Value>().enumerate() {
            match entry? {
                Value::Table(entry) => rules.push(compile_pattern(&name, i + 1, &entry)?),
                other => {
                    return Err(bad(format!(
                        "patterns[{}] must be a table, got {}",
                        i + 1,
                        other.type_name()
                    )));
                }
            }
        }
    } else if !table.get::<Value>("patterns")?.is_nil() {
        return Err(bad("field 'patterns' must be a list of tables".into()));
    }
    let mut dialogs = Vec::new();
    match table.get::<Value>("dialogs")? {
        Value::Nil => {}
        Value::Table(list) => {
            for (i, entry) in list.sequence_values::<Value>().enumerate() {
                match entry? {
                    Value::Table(entry) => dialogs.push(compile_dialog(i + 1, &entry)?),
                    other => {
                        return Err(bad(format!(
                            "dialogs[{}] must be a table, got {}",
                            i + 1,
                            other.type_name()
                        )));
                    }
                }
            }
        }
        other => {
            return Err(bad(format!(
                "field 'dialogs' must be a list of tables, got {}",
                other.type_name()
            )));
        }
    }
    let composer = optional_regex(table, "composer")?;
    if composer.len() > 1 {
        return Err(bad("field 'composer' must be one regex".into()));
    }
    let conversation = optional_regex(table, "conversation")?;
    for re in composer.iter().chain(&conversation) {
        if re.captures_len() < 2 {
            return Err(bad(format!(
                "regex {:?} needs a capture group (the composer text / the conversation id)",
                re.as_str()
            )));
        }
    }
    let mut screen_model = screen_model(table)?;
    for pattern in string_list(table, "busy")? {
        screen_model
            .activity
            .push(regex_matcher(&pattern, false, "busy")?);
    }
    if !source.starts_with("builtin:") {
        // Before the defaults join: only this file's own regexes.
        let model_regexes: Vec<Matcher> = screen_model
            .composer
            .iter()
            .chain(screen_model.turn_start.iter())
            .chain(screen_model.activity.iter())
            .chain(screen_model.goodbye.iter())
            .cloned()
            .collect();
        compile_users_regexes(&rules, &model_regexes)?;
    }
    // Known dialogs decide before any other rule: they are modal.
    let rules = assemble(RuleSources {
        dialogs: dialogs.iter().map(|d| d.rule(&name)).collect(),
        own: rules,
        disabled: string_list(table, "disable")?,
        prints_completion: optional_bool(table, "prints_completion")?,
        goodbye: screen_model.goodbye.clone(),
    });
    let lua_fn = |func: Function| LuaFn {
        host: Arc::clone(host),
        func,
    };
    Ok(Adapter {
        name,
        binary: optional_string(table, "binary")?,
        injection,
        ready_pattern,
        status_bar_lines: optional_count(table, "status_bar_lines")?.unwrap_or(0),
        rules,
        screen_model,
        exit_zero_is_done: optional_bool(table, "exit_zero_is_done")?,
        dialogs,
        composer: composer.into_iter().next(),
        conversation,
        conversation_at_launch: optional_bool(table, "conversation_at_launch")?,
        launches_shell: optional_bool(table, "shell")?,
        signals: super::signals::from_table(table)?,
        source: source.to_owned(),
        launch: Launcher::Lua(lua_fn(launch)),
        classify_when: classify_when(table)?,
        classify: optional_function(table, "classify")?.map(lua_fn),
        available: optional_function(table, "is_available")?.map(lua_fn),
        hook_error: Arc::default(),
    })
}

/// The `screen` table: how the adapter's UI is laid out (see `ScreenModel`).
fn screen_model(table: &Table) -> mlua::Result<ScreenModel> {
    let screen = match table.get::<Value>("screen")? {
        Value::Nil => return Ok(ScreenModel::default()),
        Value::Table(screen) => screen,
        other => {
            return Err(bad(format!(
                "field 'screen' must be a table, got {}",
                other.type_name()
            )));
        }
    };
    check_fields(&screen, SCREEN_FIELDS, "screen")?;
    let list = |field: &str| -> mlua::Result<MatcherSet> {
        string_list(&screen, field)?
            .iter()
            .map(|p| regex_matcher(p, false, &format!("screen.{field}")))
            .collect()
    };
    // ruled = true: a rule above the composer; "around": one under it too.
    let (composer_ruled, composer_closed) = match screen.get::<Value>("ruled")? {
        Value::Nil | Value::Boolean(false) => (false, false),
        Value::Boolean(true) => (true, false),
        Value::String(s) if s.to_str()? == "around" => (true, true),
        other => {
            return Err(bad(format!(
                "screen.ruled must be true, false or \"around\", got {}",
                other.type_name()
            )));
        }
    };
    let model = ScreenModel {
        composer: list("composer")?,
        composer_ruled,
        composer_closed,
        turn_start: list("turn_start")?,
        activity: list("activity")?,
        goodbye: list("goodbye")?,
    };
    if model.composer_ruled && model.composer.is_empty() {
        return Err(bad("screen.ruled needs screen.composer".into()));
    }
    Ok(model)
}

/// Compiles a user adapter's own regexes now (status regexes are otherwise
/// compiled on first need): one too large to compile is refused at load
/// instead of never matching. Built-in adapters' regexes are tested.
fn compile_users_regexes(rules: &[Rule], busy: &[Matcher]) -> mlua::Result<()> {
    let own = rules.iter().flat_map(|rule| {
        rule.matchers
            .iter()
            .chain(rule.vetoes.iter())
            .map(|m| (rule.id.as_str(), m))
    });
    for (id, matcher) in own.chain(busy.iter().map(|m| ("busy", m))) {
        if let (Err(e), Matcher::Regex(re)) = (matcher.compile_now(), matcher) {
            return Err(bad(format!(
                "bad regex in {id} {:?}: {}",
                re.pattern(),
                first_line(&e.to_string())
            )));
        }
    }
    Ok(())
}

/// `classify_when`: non-empty substrings, and only beside a `classify` hook.
fn classify_when(table: &Table) -> mlua::Result<Vec<String>> {
    let needles = string_list(table, "classify_when")?;
    if needles.iter().any(String::is_empty) {
        return Err(bad("classify_when must not hold an empty string".into()));
    }
    if !needles.is_empty() && optional_function(table, "classify")?.is_none() {
        return Err(bad("classify_when needs a classify function".into()));
    }
    Ok(needles)
}

/// `file:line` of the Lua code calling into Rust (for validation errors).
fn caller_location(lua: &Lua) -> Option<String> {
    lua.inspect_stack(1, |debug| {
        let source = debug.source();
        let src = match source.source.as_deref().and_then(|s| s.strip_prefix('@')) {
            Some(path) => path.to_owned(),
            None => source.short_src.map(|s| s.into_owned())?,
        };
        let line = debug.current_line().unwrap_or(0);
        Some(if line > 0 {
            format!("{src}:{line}")
        } else {
            src
        })
    })
    .flatten()
}

/// Runs one adapter file in a fresh sandboxed environment and returns the
/// adapters it defines (through `agents.adapter{...}`, or a returned table).
/// `chunk_name` is how errors name the file.
pub(crate) fn load_adapter_chunk(
    host: &Arc<LuaHost>,
    chunk_name: &str,
    code: &str,
    self_exe: &str,
) -> Result<Vec<Adapter>, String> {
    let lua = host.lua();
    let collected: Arc<Mutex<Vec<Adapter>>> = Arc::default();
    let run = || -> mlua::Result<Value> {
        let env = host.sandbox_env()?;
        let agents = lua.create_table()?;
        let sink = Arc::clone(&collected);
        // Weak: this function lives inside the host's own VM, and a strong
        // reference would keep the VM (and every registry's Lua state)
        // alive for ever.
        let owner = Arc::downgrade(host);
        let source = chunk_name.to_owned();
        agents.set(
            "adapter",
            lua.create_function(move |lua, table: Table| {
                let Some(owner) = owner.upgrade() else {
                    return Err(mlua::Error::runtime("the adapter registry is gone"));
                };
                let adapter = compile_adapter(&owner, &table, &source).map_err(|e| {
                    let message = crate::sandbox::error_message(&e);
                    match caller_location(lua) {
                        Some(at) => mlua::Error::runtime(format!("{at}: {message}")),
                        None => mlua::Error::runtime(message),
                    }
                })?;
                if let Ok(mut list) = sink.lock() {
                    list.push(adapter);
                }
                Ok(table)
            })?,
        )?;
        let exe = self_exe.to_owned();
        agents.set(
            "self_exe",
            // No doeff-agents binary found: the demo cannot run here.
            lua.create_function(move |_, ()| {
                if exe.is_empty() {
                    return Err(mlua::Error::runtime(crate::demo::MISSING));
                }
                Ok(exe.clone())
            })?,
        )?;
        // JSON text of a Lua value (for CLIs that take settings as JSON,
        // e.g. Claude Code's --settings; a JSON string is a TOML string too).
        agents.set(
            "json",
            lua.create_function(|lua, value: Value| {
                let json: serde_json::Value = mlua::LuaSerdeExt::from_value(lua, value)?;
                serde_json::to_string(&json).map_err(mlua::Error::external)
            })?,
        )?;
        agents.set(
            "is_root",
            lua.create_function(|_, ()| Ok(nix::unistd::Uid::effective().is_root()))?,
        )?;
        // Whether a file is there (Gemini's system defaults, which a per-run
        // GEMINI_CLI_SYSTEM_DEFAULTS_PATH would hide).
        agents.set(
            "file_exists",
            lua.create_function(|_, path: String| Ok(std::path::Path::new(&path).is_file()))?,
        )?;
        env.set("agents", agents)?;
        host.with_budget(LOAD_BUDGET, || {
            lua.load(code)
                .set_name(format!("@{chunk_name}"))
                .set_mode(mlua::ChunkMode::Text)
                .set_environment(env)
                .eval::<Value>()
        })
    };
    let outcome = run();
    // Taken on every path: the collecting function stays in the VM, and
    // adapters left in it would keep the VM alive through their Lua functions.
    let mut adapters = collected
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default();
    let returned = outcome.map_err(|e| {
        crate::sandbox::with_full_path(&crate::sandbox::error_message(&e), chunk_name)
    })?;
    if adapters.is_empty() {
        match returned {
            Value::Table(table) => adapters.push(
                compile_adapter(host, &table, chunk_name)
                    .map_err(|e| format!("{chunk_name}: {}", crate::sandbox::error_message(&e)))?,
            ),
            _ => {
                return Err(format!(
                    "{chunk_name}: the file defines no adapter (return agents.adapter{{...}})"
                ));
            }
        }
    }
    Ok(adapters)
}
