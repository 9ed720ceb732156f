//! Conversions between Lua values and the library's types for the `agents`
//! module: launch configs from tables, observations and session rows to
//! tables, and `nil, message` results for expected failures.

use std::time::Duration;

use mlua::{IntoLuaMulti, Lua, MultiValue, Table, Value};

use crate::adapter::LaunchConfig;
use crate::monitor::Observation;
use crate::session::AgentSession;

/// `value, nil` on success, `nil, message` on an expected failure.
pub fn soft<T: IntoLuaMulti>(lua: &Lua, result: crate::Result<T>) -> mlua::Result<MultiValue> {
    match result {
        Ok(value) => value.into_lua_multi(lua),
        Err(err) => (Value::Nil, err.to_string()).into_lua_multi(lua),
    }
}

/// Seconds from a Lua number as a Duration (an error for negative or NaN).
pub fn seconds(value: f64, what: &str) -> mlua::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| mlua::Error::runtime(format!("{what} must be a number of seconds >= 0")))
}

/// A `LaunchConfig` from `{agent=, work_dir=, prompt=, ready_timeout=, ...}`
/// (the codec is [`LaunchConfig::from_lua`]).
pub fn launch_config(table: &Table) -> mlua::Result<LaunchConfig> {
    LaunchConfig::from_lua(table)
}

/// An observation as a table: status, previous, reason, evidence{rule,region,line},
/// output_changed, pr_url, new_pr_urls, output_snippet, is_terminal, warnings.
pub fn observation_table(lua: &Lua, o: &Observation) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("status", o.status.as_str())?;
    t.set("previous", o.previous.as_str())?;
    t.set("reason", o.reason.as_str())?;
    let evidence = lua.create_table()?;
    evidence.set("rule", o.evidence.rule.as_str())?;
    evidence.set("region", o.evidence.region.as_str())?;
    evidence.set("line", o.evidence.line.as_str())?;
    t.set("evidence", evidence)?;
    t.set("output_changed", o.output_changed)?;
    t.set("pr_url", o.pr_url.clone())?;
    t.set(
        "new_pr_urls",
        lua.create_sequence_from(o.new_pr_urls.iter().map(String::as_str))?,
    )?;
    t.set("output_snippet", o.output_snippet.as_str())?;
    t.set("is_terminal", o.is_terminal)?;
    t.set(
        "warnings",
        lua.create_sequence_from(o.warnings.iter().map(String::as_str))?,
    )?;
    Ok(t)
}

/// A session row: name, agent, work_dir, created, pane_id.
pub fn session_table(lua: &Lua, s: &AgentSession) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("name", s.session_name.as_str())?;
    t.set("agent", s.agent_type.to_string())?;
    t.set("work_dir", s.work_dir.to_string_lossy().into_owned())?;
    t.set("created", s.created_at)?;
    t.set("pane_id", s.pane_id.as_str())?;
    Ok(t)
}
