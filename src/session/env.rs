//! The environment an agent starts with: the user's PATH as an interactive
//! login shell sets it (CLIs installed through nvm and similar live there),
//! probed once per process and merged with this process's own PATH.
//!
//! The probe runs `$SHELL -lic` with no stdin, `TMUX` set (so rc files that
//! auto-start tmux skip it) and a short deadline; any failure falls back to
//! this process's PATH. `DOEFF_AGENTS_SHELL_PATH=0` turns the probe off.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const MARKER: &str = "__DOEFF_PATH__";
const PROBE_DEADLINE: Duration = Duration::from_secs(3);

/// The PATH agents get: the interactive shell's entries, then ours.
pub fn user_path() -> OsString {
    static PATH: OnceLock<OsString> = OnceLock::new();
    PATH.get_or_init(|| {
        let own = std::env::var_os("PATH").unwrap_or_default();
        if std::env::var("DOEFF_AGENTS_SHELL_PATH").as_deref() == Ok("0") {
            return own;
        }
        match probe_shell_path() {
            Some(shell) => merge_paths(&shell, &own),
            None => own,
        }
    })
    .clone()
}

/// Entries of `first`, then those of `second` not already present.
pub fn merge_paths(first: &OsString, second: &OsString) -> OsString {
    let mut seen = Vec::new();
    for dir in std::env::split_paths(first).chain(std::env::split_paths(second)) {
        if !dir.as_os_str().is_empty() && !seen.contains(&dir) {
            seen.push(dir);
        }
    }
    std::env::join_paths(seen).unwrap_or_else(|_| second.clone())
}

fn probe_shell_path() -> Option<OsString> {
    let shell = std::env::var_os("SHELL")?;
    let mut child = Command::new(&shell)
        .args([
            "-l",
            "-i",
            "-c",
            &format!("printf '{MARKER}%s\\n' \"$PATH\""),
        ])
        .env("TMUX", "doeff-agents-path-probe")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < PROBE_DEADLINE => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let line = out.lines().rev().find_map(|l| l.split_once(MARKER))?.1;
    (!line.is_empty()).then(|| OsString::from(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_order_without_duplicates() {
        let merged = merge_paths(&"/a:/b".into(), &"/b:/c".into());
        assert_eq!(merged, OsString::from("/a:/b:/c"));
    }
}
