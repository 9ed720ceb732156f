//! `agents.notify { title =, body =, urgency = }`: tells the person. A
//! desktop notification where one is available — `notify-send` (Linux) or
//! `osascript` (macOS) found on PATH, run with the text as separate argv
//! entries (never a shell string, never script source) — else a terminal
//! bell on stderr (when it is a terminal) plus a tmux `display-message` on
//! every attached client of the agents' server. Returns how it went out:
//! `"notify-send"`, `"osascript"`, `"tmux"` (shown to a client) or `"bell"`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlua::{Lua, Table};

use crate::sandbox::fields::optional_string;
use crate::session::Agents;
use crate::tmux::Tmux;

/// How long a notifier may take before it is given up on.
const NOTIFIER_DEADLINE: Duration = Duration::from_secs(5);
/// How long tmux shows the message.
const DISPLAY_MS: &str = "5000";

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub title: String,
    pub body: String,
    /// `low`, `normal` or `critical`.
    pub urgency: String,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `program args...` with no stdin/stdout, within the deadline; true
/// when it exited 0.
fn run_notifier(program: &Path, args: &[&str]) -> bool {
    let Ok(mut child) = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + NOTIFIER_DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// The text as one status-line message: one line, `#` not a format.
fn display_text(n: &Notification) -> String {
    let text = if n.body.is_empty() {
        format!("doeff-agents: {}", n.title)
    } else {
        format!("doeff-agents: {}: {}", n.title, n.body)
    };
    text.replace(['\n', '\r'], " ").replace('#', "##")
}

/// A bell, and the message on every attached (non-control) client.
fn tmux_fallback(tmux: &Tmux, n: &Notification) -> &'static str {
    use std::io::{IsTerminal, Write};
    if std::io::stderr().is_terminal() {
        let _ = std::io::stderr().write_all(b"\x07");
    }
    let list = vec![
        "list-clients".to_owned(),
        "-F".to_owned(),
        "#{client_control_mode} #{client_name}".to_owned(),
    ];
    let Ok(out) = tmux.run(&[list], None) else {
        return "bell";
    };
    let text = display_text(n);
    let mut shown = false;
    for line in String::from_utf8_lossy(&out).lines() {
        let Some(("0", client)) = line.split_once(' ') else {
            continue;
        };
        let display = vec![
            "display-message".to_owned(),
            "-c".to_owned(),
            client.to_owned(),
            "-d".to_owned(),
            DISPLAY_MS.to_owned(),
            text.clone(),
        ];
        shown |= tmux.run(&[display], None).is_ok();
    }
    if shown { "tmux" } else { "bell" }
}

/// Sends `n` the best way available; how it went out.
pub fn notify(tmux: &Tmux, n: &Notification) -> &'static str {
    if let Some(program) = on_path("notify-send") {
        let mut args = vec![
            "-u",
            n.urgency.as_str(),
            "-a",
            "doeff-agents",
            "--",
            &n.title,
        ];
        if !n.body.is_empty() {
            args.push(&n.body);
        }
        if run_notifier(&program, &args) {
            return "notify-send";
        }
    }
    if let Some(program) = on_path("osascript") {
        let args = [
            "-e",
            "on run argv",
            "-e",
            "display notification (item 2 of argv) with title (item 1 of argv)",
            "-e",
            "end run",
            &n.title,
            &n.body,
        ];
        if run_notifier(&program, &args) {
            return "osascript";
        }
    }
    tmux_fallback(tmux, n)
}

/// A notification from `{title =, body =, urgency =}`.
fn from_table(t: &Table) -> mlua::Result<Notification> {
    let title = optional_string(t, "title")?
        .ok_or_else(|| mlua::Error::runtime("agents.notify needs a title"))?;
    let body = optional_string(t, "body")?.unwrap_or_default();
    let urgency = optional_string(t, "urgency")?.unwrap_or_else(|| "normal".into());
    if !matches!(urgency.as_str(), "low" | "normal" | "critical") {
        return Err(mlua::Error::runtime(format!(
            "agents.notify: urgency is low, normal or critical, got {urgency:?}"
        )));
    }
    Ok(Notification {
        title,
        body,
        urgency,
    })
}

/// Installs `agents.notify` into `module`.
pub(crate) fn register(lua: &Lua, module: &Table, agents: &Agents) -> mlua::Result<()> {
    let tmux = agents.tmux().clone();
    module.set(
        "notify",
        lua.create_function(move |_, t: Table| {
            let n = from_table(&t)?;
            Ok(notify(&tmux, &n))
        })?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_text_is_one_line_and_not_a_format() {
        let n = Notification {
            title: "fix #1".into(),
            body: "a\nb #{pane_id}".into(),
            urgency: "normal".into(),
        };
        assert_eq!(display_text(&n), "doeff-agents: fix ##1: a b ##{pane_id}");
    }
}
