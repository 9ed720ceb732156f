//! `doeff-agents hook EVENT`: what an agent CLI runs for a hook this product
//! passed to it per run (Claude Code's `--settings`, Codex's `notify`).
//! It reads the hook's JSON (stdin, or the last argument), takes the value
//! of `--field` as the event's detail (`side` when a `--side FIELD=PREFIX`
//! rule says the CLI reports a side turn of its own), and records
//! `SEQ|EVENT|DETAIL|UNIX_MS` in the pane option `@doeff-hook` of the pane
//! it runs in, where a watcher sees it without polling files (a
//! control-mode subscription).
//!
//! It always exits 0 and prints nothing (a hook must never disturb the
//! agent), and records only when the pane is a doeff-agents session whose
//! hook token (`@doeff-hook-token`) is the one in this process's
//! environment, and this process descends from that pane's own process:
//! a hook run in another pane cannot set this session's state.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::adapter::signals::is_word;
use crate::session::reports::{HOOK_TOKEN_ENV, HookValue, OPT_HOOK, OPT_HOOK_TOKEN};
use crate::tmux::{Server, Tmux};

/// The most hook JSON read.
const MAX_PAYLOAD: u64 = 1024 * 1024;
/// How long the hook waits for its JSON on stdin.
const STDIN_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Debug, clap::Args)]
pub struct HookArgs {
    /// The event (as the adapter's `signals.hooks` names it)
    pub event: String,
    /// The field of the hook's JSON whose value details the event (e.g. `error`)
    #[arg(long)]
    pub field: Option<String>,
    /// A hook JSON whose FIELD starts with PREFIX is the CLI's own side
    /// turn (Codex titling a new thread): its detail is `side`; repeatable
    #[arg(long, value_name = "FIELD=PREFIX")]
    pub side: Vec<String>,
    /// Then run the user's own notify program of this CLI with the same
    /// JSON (`codex`: `notify` in `$CODEX_HOME/config.toml`, default
    /// `~/.codex/config.toml`), which the per-run one stands in for
    #[arg(long, value_name = "CLI", value_parser = ["codex"])]
    pub forward_notify: Option<String>,
    /// The hook's JSON when the CLI passes it as an argument; else it is read from stdin
    pub payload: Option<String>,
}

/// Where `DOEFF_AGENTS_HOOK_LOG` asks each hook's outcome to be appended
/// (for diagnosing a CLI's hooks; nothing is written without it).
const LOG_ENV: &str = "DOEFF_AGENTS_HOOK_LOG";

/// Records the event if it may; exits 0 whatever happens.
pub fn run(args: HookArgs) -> i32 {
    let outcome = record(&args);
    if args.forward_notify.is_some()
        && let Some(payload) = &args.payload
    {
        forward_to_users_codex_notify(payload);
    }
    if let Some(path) = std::env::var_os(LOG_ENV).filter(|p| !p.is_empty()) {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(
                file,
                "{} {} {}",
                now_ms(),
                args.event,
                outcome.err().unwrap_or("recorded")
            );
        }
    }
    0
}

fn record(args: &HookArgs) -> Result<(), &'static str> {
    if !is_word(&args.event) {
        return Err("bad event name");
    }
    let token = std::env::var(HOOK_TOKEN_ENV)
        .ok()
        .filter(|t| is_word(t))
        .ok_or("no hook token in the environment")?;
    let pane = std::env::var("TMUX_PANE").map_err(|_| "no TMUX_PANE")?;
    if !(pane.len() > 1 && pane.starts_with('%') && pane[1..].bytes().all(|b| b.is_ascii_digit())) {
        return Err("bad TMUX_PANE");
    }
    // `$TMUX` is `SOCKET,PID,SESSION`: the server this pane lives on.
    let tmux_env = std::env::var("TMUX").map_err(|_| "no TMUX")?;
    let socket = tmux_env.rsplitn(3, ',').nth(2).ok_or("bad TMUX")?;
    let payload = match &args.payload {
        Some(payload) => Some(payload.clone()),
        None => read_stdin(),
    };
    let side = payload
        .as_deref()
        .is_some_and(|json| args.side.iter().any(|rule| starts(json, rule)));
    let detail = if side {
        SIDE.to_owned()
    } else {
        args.field
            .as_deref()
            .and_then(|field| detail(payload.as_deref()?, field))
            .unwrap_or_default()
    };
    let tmux = Tmux::new(Server::at_path(socket));
    let format = format!("#{{pane_pid}}|#{{{OPT_HOOK_TOKEN}}}|#{{{OPT_HOOK}}}");
    let reply = tmux
        .run(
            &[vec![
                "display-message".into(),
                "-p".into(),
                "-t".into(),
                pane.clone(),
                format,
            ]],
            None,
        )
        .map_err(|_| "tmux display-message failed")?;
    let reply = String::from_utf8_lossy(&reply);
    let mut fields = reply.trim_end_matches('\n').splitn(3, '|');
    let pane_pid: u32 = fields
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("no pane pid")?;
    if fields.next() != Some(token.as_str()) {
        return Err("not this run's token");
    }
    if !descends_from(pane_pid) {
        return Err("not run from the pane's process");
    }
    let seq = fields
        .next()
        .and_then(HookValue::parse)
        .map_or(1, |v| v.seq + 1);
    let value = HookValue {
        seq,
        event: args.event.clone(),
        detail,
        at_ms: now_ms(),
    };
    tmux.run(
        &[vec![
            "set-option".into(),
            "-p".into(),
            "-t".into(),
            pane,
            OPT_HOOK.into(),
            value.encode(),
        ]],
        None,
    )
    .map_err(|_| "tmux set-option failed")?;
    Ok(())
}

/// Starts the user's own Codex `notify` program (top-level `notify` in
/// `$CODEX_HOME/config.toml`, default `~/.codex/config.toml`) with the
/// payload as its last argument, as Codex would have; not waited for.
/// Nothing when there is none, or it is this program itself.
fn forward_to_users_codex_notify(payload: &str) {
    let home = std::env::var_os("CODEX_HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".codex")));
    let Some(config) = home.map(|h| h.join("config.toml")) else {
        return;
    };
    let Ok(file) = std::fs::File::open(&config) else {
        return;
    };
    let mut text = String::new();
    if file.take(MAX_PAYLOAD).read_to_string(&mut text).is_err() {
        return;
    }
    let Ok(table) = text.parse::<toml::Table>() else {
        return;
    };
    let Some(argv) = table.get("notify").and_then(toml::Value::as_array) else {
        return;
    };
    let argv: Vec<&str> = argv.iter().filter_map(toml::Value::as_str).collect();
    let Some((program, rest)) = argv.split_first() else {
        return;
    };
    let ours = std::env::current_exe().ok();
    if ours.is_some_and(|exe| exe == std::path::Path::new(program)) {
        return;
    }
    let _ = std::process::Command::new(program)
        .args(rest)
        .arg(payload)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// The hook's JSON from stdin: at most [`MAX_PAYLOAD`] bytes, waiting at
/// most [`STDIN_DEADLINE`] (a CLI that keeps stdin open must not hang it).
fn read_stdin() -> Option<String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::stdin().take(MAX_PAYLOAD).read_to_string(&mut text);
        let _ = sender.send(text);
    });
    receiver.recv_timeout(STDIN_DEADLINE).ok()
}

/// The text of `field` in the JSON object `json`: a string, or the first
/// string of a list (Codex's `input-messages`).
fn field_text<'a>(json: &'a serde_json::Value, field: &str) -> Option<&'a str> {
    match json.get(field)? {
        serde_json::Value::Array(items) => items.first()?.as_str(),
        value => value.as_str(),
    }
}

/// The detail of an event `--side` recognised as the CLI's own side turn.
const SIDE: &str = "side";

/// True when `rule` (`FIELD=PREFIX`) matches the JSON object `payload`.
fn starts(payload: &str, rule: &str) -> bool {
    let Some((field, prefix)) = rule.split_once('=') else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .as_ref()
        .and_then(|json| field_text(json, field))
        .is_some_and(|text| !prefix.is_empty() && text.starts_with(prefix))
}

/// The text of `field` in the JSON object `payload` (see [`field_text`]),
/// as a word safe in the option (letters, digits, `_`, `-`, `.`; others
/// become `_`; 64 at most).
fn detail(payload: &str, field: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(payload).ok()?;
    let value = field_text(&json, field)?;
    let word: String = value
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    (!word.is_empty()).then_some(word)
}

/// True when `ancestor` is this process's parent, grandparent, ...
fn descends_from(ancestor: u32) -> bool {
    let mut pid = std::process::id();
    for _ in 0..64 {
        let Some(parent) = parent_of(pid) else {
            return false;
        };
        if parent == ancestor {
            return true;
        }
        if parent <= 1 {
            return false;
        }
        pid = parent;
    }
    false
}

fn parent_of(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.get(text.rfind(')')? + 1..)?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_words_from_the_named_field() {
        let json = r#"{"hook_event_name":"StopFailure","error":"rate_limit"}"#;
        assert_eq!(detail(json, "error").as_deref(), Some("rate_limit"));
        assert_eq!(detail(json, "missing"), None);
        assert_eq!(
            detail(r#"{"error":"a|b\nc"}"#, "error").as_deref(),
            Some("a_b_c")
        );
        assert_eq!(detail("not json", "error"), None);
        assert_eq!(detail(r#"{"error":5}"#, "error"), None);
        // Codex's notify: the thread's first input message.
        let turn = r#"{"type":"agent-turn-complete","input-messages":["fix it","and test"]}"#;
        assert_eq!(detail(turn, "input-messages").as_deref(), Some("fix_it"));
        assert_eq!(detail(r#"{"input-messages":[]}"#, "input-messages"), None);
        assert_eq!(detail(r#"{"input-messages":[3]}"#, "input-messages"), None);
    }

    #[test]
    fn side_rules_match_payloads_whose_field_starts_with_the_prefix() {
        let title = r#"{"type":"agent-turn-complete","input-messages":["Generate a concise, single-line task title of at most 36"]}"#;
        let turn = r#"{"type":"agent-turn-complete","input-messages":["Generate a README"]}"#;
        let rule = "input-messages=Generate a concise, single-line task title";
        assert!(starts(title, rule));
        assert!(!starts(turn, rule));
        assert!(starts(turn, "type=agent-turn"));
        assert!(!starts(turn, "type="), "an empty prefix matches nothing");
        assert!(!starts(turn, "no equals sign"));
        assert!(!starts("not json", rule));
        assert!(!starts(turn, "missing=x"));
    }

    #[test]
    fn this_process_descends_from_its_parent_not_from_a_stranger() {
        let parent = parent_of(std::process::id()).expect("a parent");
        assert!(descends_from(parent));
        assert!(!descends_from(u32::MAX));
    }
}
