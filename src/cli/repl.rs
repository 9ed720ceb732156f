//! `doeff-agents repl`: a Lua prompt with the `agents` module loaded.
//! rustyline gives history (under the XDG state dir), completion of
//! `agents.` functions and live session names, and an external printer so
//! status changes of followed sessions (`agents.follow(s)`) print above the
//! prompt. Incomplete chunks continue on the next line. With piped stdin it
//! evaluates line by line without line editing (used by tests).
//!
//! Ctrl-C while a statement runs (`agents.watch`, `agents.sleep`, a loop)
//! interrupts it and returns to the prompt (`sandbox::interrupt`). `.load FILE`
//! / `agents.load(FILE)` runs a script with the supervisor's rules, `.reload`
//! loads the loaded files again, `agents.supervise()` runs their handlers
//! until Ctrl-C. History is saved after each line.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mlua::{Lua, MultiValue, Value};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, ExternalPrinter, Helper};

use super::GlobalArgs;
use super::script::script_host_and_agents;
use crate::error::{Error, Result};
use crate::lua::Printer;
use crate::lua::supervise::{Report, Supervisor, in_repl};
use crate::sandbox::error_message;
use crate::session::Agents;

/// Outcome of feeding one more line to the evaluator.
enum Step {
    /// Printed (or nothing to print); start a new chunk.
    Done(Vec<String>),
    /// The chunk is incomplete; read another line.
    More,
}

/// Evaluates chunks, accumulating lines until they form a complete chunk.
struct Evaluator {
    pending: String,
}

impl Evaluator {
    fn feed(&mut self, lua: &Lua, line: &str) -> Step {
        if !self.pending.is_empty() {
            self.pending.push('\n');
        }
        self.pending.push_str(line);
        let chunk = self.pending.clone();
        // An expression prints its values, as in the standalone Lua REPL.
        if let Ok(f) = lua
            .load(format!("return {chunk}"))
            .set_name("=repl")
            .into_function()
        {
            self.pending.clear();
            return Step::Done(match f.call::<MultiValue>(()) {
                Ok(values) => values.iter().map(pretty).collect(),
                Err(e) => vec![format!("error: {}", error_message(&e))],
            });
        }
        match lua.load(&chunk).set_name("=repl").exec() {
            Err(mlua::Error::SyntaxError {
                incomplete_input: true,
                ..
            }) => Step::More,
            Err(e) => {
                self.pending.clear();
                Step::Done(vec![format!("error: {}", error_message(&e))])
            }
            Ok(()) => {
                self.pending.clear();
                Step::Done(Vec::new())
            }
        }
    }
}

/// A value as the REPL shows it; tables are expanded (depth-limited, cycles marked).
pub fn pretty(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, 0, &mut Vec::new(), &mut out);
    out
}

fn write_value(value: &Value, depth: usize, seen: &mut Vec<usize>, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(&format!("{:?}", s.to_string_lossy())),
        Value::Table(t) => {
            let id = t.to_pointer() as usize;
            if seen.contains(&id) {
                out.push_str("<cycle>");
                return;
            }
            if depth >= 4 {
                out.push_str("{...}");
                return;
            }
            seen.push(id);
            let pairs: Vec<(Value, Value)> =
                t.pairs::<Value, Value>().filter_map(|p| p.ok()).collect();
            if pairs.is_empty() {
                out.push_str("{}");
            } else {
                out.push_str("{\n");
                let seq = t.raw_len();
                for (k, v) in &pairs {
                    out.push_str(&"  ".repeat(depth + 1));
                    match k {
                        Value::Integer(i) if *i >= 1 && (*i as usize) <= seq => {}
                        Value::String(s) => out.push_str(&format!("{} = ", s.to_string_lossy())),
                        other => {
                            out.push('[');
                            write_value(other, depth + 1, seen, out);
                            out.push_str("] = ");
                        }
                    }
                    write_value(v, depth + 1, seen, out);
                    out.push_str(",\n");
                }
                out.push_str(&"  ".repeat(depth));
                out.push('}');
            }
            seen.pop();
        }
        Value::Nil => out.push_str("nil"),
        other => out.push_str(
            &other
                .to_string()
                .unwrap_or_else(|_| format!("<{}>", other.type_name())),
        ),
    }
}

/// Completion of `agents.` names and, inside a string, session names.
struct ReplHelper {
    functions: Vec<String>,
    agents: Agents,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let head = &line[..pos];
        let start = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-' || c == ':'))
            .map_or(0, |i| i + 1);
        let word = &head[start..];
        let in_string = head[..start]
            .chars()
            .filter(|c| *c == '"' || *c == '\'')
            .count()
            % 2
            == 1;
        let pairs = |items: Vec<String>| -> Vec<Pair> {
            items
                .into_iter()
                .filter(|c| c.starts_with(word))
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect()
        };
        if in_string {
            let names = self
                .agents
                .list(true)
                .map(|s| s.into_iter().map(|s| s.session_name).collect())
                .unwrap_or_default();
            return Ok((start, pairs(names)));
        }
        Ok((start, pairs(self.functions.clone())))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for ReplHelper {}
impl Helper for ReplHelper {}

/// `$XDG_STATE_HOME/doeff-agents/history` (or `~/.local/state/...`).
pub fn history_path() -> Option<PathBuf> {
    crate::xdg::app_dir(crate::xdg::BaseDir::State).map(|dir| dir.join("history"))
}

/// The names completion offers after `agents.`.
fn module_functions(lua: &Lua) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(module) = lua.globals().get::<mlua::Table>("agents") {
        for (k, v) in module.pairs::<String, Value>().filter_map(|p| p.ok()) {
            if k.starts_with('_') {
                continue;
            }
            if let Value::Table(sub) = &v {
                for sk in sub
                    .pairs::<String, Value>()
                    .filter_map(|p| p.ok())
                    .map(|p| p.0)
                {
                    names.push(format!("agents.{k}.{sk}"));
                }
            }
            names.push(format!("agents.{k}"));
        }
    }
    names.sort();
    names
}

/// A dot command (`.load FILE`, `.reload`), run; false when `line` is none.
fn dot_command(supervisor: &in_repl::Shared, line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    let result = if let Some(file) = line.strip_prefix(".load ") {
        in_repl::load(supervisor, std::path::Path::new(file.trim()))
    } else if line == ".reload" {
        in_repl::reload(supervisor)
    } else if line == ".load" {
        return Some(vec!["usage: .load FILE (or a folder of *.lua)".into()]);
    } else {
        return None;
    };
    Some(match result {
        // What was (re)loaded or failed is reported as it happens.
        Ok(_) => Vec::new(),
        Err(e) => vec![format!("error: {}", error_message(&e))],
    })
}

/// One line of input: a dot command or Lua (Ctrl-C during it interrupts it).
/// The caller forgets earlier interrupts *before* reading the line: once the
/// editor has left raw mode, a Ctrl-C is for this line, even one that comes
/// before it is fed.
fn feed_line(
    evaluator: &mut Evaluator,
    supervisor: &in_repl::Shared,
    lua: &Lua,
    line: &str,
) -> Step {
    if evaluator.pending.is_empty()
        && let Some(lines) = dot_command(supervisor, line)
    {
        return Step::Done(lines);
    }
    evaluator.feed(lua, line)
}

pub fn run(global: &GlobalArgs) -> Result<i32> {
    let (host, agents) = script_host_and_agents(global, "repl", &[])?;
    // Ctrl-C interrupts the running statement instead of ending the REPL.
    crate::tmux::interrupt_on_sigint(crate::sandbox::interrupt::interrupt);
    let lua = host.lua();
    let report: Report = Arc::new(|line| eprintln!("{line}"));
    let supervisor: in_repl::Shared = Arc::new(Mutex::new(Supervisor::new(
        host.clone(),
        agents,
        Vec::new(),
        report,
    )?));
    let module: mlua::Table = lua.globals().get("agents")?;
    in_repl::register(lua, &module, &supervisor)?;
    let mut evaluator = Evaluator {
        pending: String::new(),
    };
    if !std::io::stdin().is_terminal() {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|source| Error::Io {
                path: PathBuf::from("<stdin>"),
                source,
            })?;
            crate::sandbox::interrupt::clear();
            if let Step::Done(lines) = feed_line(&mut evaluator, &supervisor, lua, &line) {
                for l in lines {
                    println!("{l}");
                }
            }
        }
        return Ok(0);
    }
    let helper = ReplHelper {
        functions: module_functions(lua),
        agents: global.agents(super::Lifetime::OneShot)?,
    };
    let mut editor: Editor<ReplHelper, rustyline::history::DefaultHistory> =
        Editor::new().map_err(|e| Error::Lua(format!("cannot start the line editor: {e}")))?;
    editor.set_helper(Some(helper));
    // The editor took SIGINT over; Ctrl-C during a statement must interrupt it.
    crate::sandbox::interrupt::take_sigint();
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    if let Ok(printer) = editor.create_external_printer() {
        let printer = Arc::new(Mutex::new(printer));
        lua.set_app_data(Printer(Arc::new(move |line| {
            if let Ok(mut p) = printer.lock() {
                let _ = p.print(line);
            }
        })));
    }
    println!("doeff-agents REPL: the `agents` module is loaded. Ctrl-D to leave.");
    loop {
        let prompt = if evaluator.pending.is_empty() {
            "lua> "
        } else {
            "...> "
        };
        // An interrupt from now on is for the next statement: while the line
        // is edited, Ctrl-C is a key to rustyline, not a signal.
        crate::sandbox::interrupt::clear();
        match editor.readline(prompt) {
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                // Saved at once: a REPL that is killed keeps its history.
                if let Some(path) = &history {
                    let _ = editor.append_history(path);
                }
                if let Step::Done(lines) = feed_line(&mut evaluator, &supervisor, lua, &line) {
                    for l in lines {
                        println!("{l}");
                    }
                }
            }
            Err(ReadlineError::Interrupted) => evaluator.pending.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Lua(format!("line editor: {e}"))),
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_chunks_continue_and_expressions_print() {
        let lua = Lua::new();
        let mut ev = Evaluator {
            pending: String::new(),
        };
        assert!(matches!(ev.feed(&lua, "function f(x)"), Step::More));
        assert!(matches!(ev.feed(&lua, "  return x * 2"), Step::More));
        assert!(matches!(ev.feed(&lua, "end"), Step::Done(_)));
        match ev.feed(&lua, "f(21)") {
            Step::Done(lines) => assert_eq!(lines, vec!["42"]),
            Step::More => panic!("complete"),
        }
    }

    #[test]
    fn tables_are_pretty_printed() {
        let lua = Lua::new();
        let value: Value = lua.load("return {1, 2, name = 'x'}").eval().expect("eval");
        let text = pretty(&value);
        assert!(text.contains("name = \"x\""), "{text}");
        assert!(text.contains("  1,"), "{text}");
    }
}
