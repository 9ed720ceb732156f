//! Typed reads of optional fields of Lua tables (`field 'x' must be a
//! string, got number`), shared by adapter tables and launch configs.

use mlua::{Function, Table, Value};

/// A validation error.
pub(crate) fn bad(what: String) -> mlua::Error {
    mlua::Error::runtime(what)
}

pub(crate) fn optional_string(table: &Table, field: &str) -> mlua::Result<Option<String>> {
    match table.get::<Value>(field)? {
        Value::Nil => Ok(None),
        Value::String(s) => Ok(Some(s.to_str()?.to_owned())),
        other => Err(bad(format!(
            "field '{field}' must be a string, got {}",
            other.type_name()
        ))),
    }
}

pub(crate) fn optional_function(table: &Table, field: &str) -> mlua::Result<Option<Function>> {
    match table.get::<Value>(field)? {
        Value::Nil => Ok(None),
        Value::Function(f) => Ok(Some(f)),
        other => Err(bad(format!(
            "field '{field}' must be a function, got {}",
            other.type_name()
        ))),
    }
}

pub(crate) fn optional_bool(table: &Table, field: &str) -> mlua::Result<bool> {
    match table.get::<Value>(field)? {
        Value::Nil => Ok(false),
        Value::Boolean(b) => Ok(b),
        other => Err(bad(format!(
            "field '{field}' must be a boolean, got {}",
            other.type_name()
        ))),
    }
}

pub(crate) fn optional_count(table: &Table, field: &str) -> mlua::Result<Option<usize>> {
    match table.get::<Value>(field)? {
        Value::Nil => Ok(None),
        Value::Integer(n) if n >= 0 => Ok(Some(n as usize)),
        other => Err(bad(format!(
            "field '{field}' must be a whole number >= 0, got {}",
            other.type_name()
        ))),
    }
}

/// A string or a list of strings.
pub(crate) fn string_list(table: &Table, field: &str) -> mlua::Result<Vec<String>> {
    match table.get::<Value>(field)? {
        Value::Nil => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.to_str()?.to_owned()]),
        Value::Table(list) => list
            .sequence_values::<Value>()
            .map(|v| match v? {
                Value::String(s) => Ok(s.to_str()?.to_owned()),
                other => Err(bad(format!(
                    "field '{field}' must hold strings, got {}",
                    other.type_name()
                ))),
            })
            .collect(),
        other => Err(bad(format!(
            "field '{field}' must be a string or a list of strings, got {}",
            other.type_name()
        ))),
    }
}
