//! The `ssh` command that reaches a host: OpenSSH with connection sharing
//! (one master connection per host, kept 60 s after its last use, so a
//! warm `--host` command costs a local socket round trip, not a login),
//! `BatchMode` (never a password prompt on a terminal that is not there),
//! keep-alives, and the fixed remote command `REMOTE_BINARY serve --stdio`.
//! The user's own SSH config, keys and agent apply; nothing is stored but
//! the control socket.
//!
//! `DOEFF_AGENTS_SSH` names another ssh program (same arguments).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::hosts::Host;

/// How long the shared connection outlives its last user.
pub const CONTROL_PERSIST_SECS: u32 = 60;
/// Keep-alive probes: every 5 s, the connection is dropped after 2 unanswered.
pub const SERVER_ALIVE_INTERVAL: u32 = 5;
pub const SERVER_ALIVE_COUNT_MAX: u32 = 2;

/// Where control sockets go: `$XDG_RUNTIME_DIR/doeff-agents`, else
/// `/tmp/doeff-agents-UID` (created 0700).
pub fn runtime_dir() -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|p| p.join("doeff-agents"))
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("doeff-agents-{}", nix::unistd::getuid()))
        });
    use std::os::unix::fs::DirBuilderExt;
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir);
    dir
}

/// The ControlPath for `host` (`%C`: a hash of the connection, expanded by ssh).
pub fn control_path(host: &Host) -> OsString {
    match &host.socket {
        Some(path) => path.clone().into_os_string(),
        None => runtime_dir().join("ssh-%C").into_os_string(),
    }
}

fn program() -> OsString {
    std::env::var_os("DOEFF_AGENTS_SSH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "ssh".into())
}

fn base(host: &Host) -> Command {
    let mut command = Command::new(program());
    if let Some(config) = &host.ssh_config {
        command.arg("-F").arg(config);
    }
    let mut control = OsString::from("ControlPath=");
    control.push(control_path(host));
    command
        .arg("-o")
        .arg("ControlMaster=auto")
        .arg("-o")
        .arg(control)
        .arg("-o")
        .arg(format!("ControlPersist={CONTROL_PERSIST_SECS}"))
        .arg("-o")
        .arg("BatchMode=yes")
        .arg("-o")
        .arg(format!("ServerAliveInterval={SERVER_ALIVE_INTERVAL}"))
        .arg("-o")
        .arg(format!("ServerAliveCountMax={SERVER_ALIVE_COUNT_MAX}"))
        .arg("-o")
        .arg(format!(
            "ConnectTimeout={}",
            host.connect_timeout.as_secs().max(1)
        ));
    command
}

/// `ssh ... DEST REMOTE_BINARY serve --stdio`, pipes on all three streams.
pub fn serve_command(host: &Host) -> Command {
    let mut command = base(host);
    command
        .arg("-T")
        .arg(&host.destination)
        .arg(&host.remote_binary)
        .arg("serve")
        .arg("--stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// `ssh -t DEST REMOTE_BINARY attach SESSION` with the terminal inherited:
/// the one remote command besides `serve --stdio`, for what JSON cannot
/// carry. `session` must already be a checked session name (letters,
/// digits, `-`, `_`: nothing a remote shell would read as syntax).
pub fn attach_command(host: &Host, session: &str) -> Command {
    let mut command = base(host);
    command
        .arg("-t")
        .arg(&host.destination)
        .arg(&host.remote_binary)
        .arg("attach")
        .arg(session);
    command
}

/// Runs `command` for at most `limit`; its stdout when it exited 0.
fn bounded(mut command: Command, limit: Duration) -> Option<Vec<u8>> {
    command.stdin(Stdio::null()).stderr(Stdio::null());
    command.stdout(Stdio::piped());
    let mut child = command.spawn().ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let out = reader.join().unwrap_or_default();
                return status.success().then_some(out);
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The control socket `ssh` uses for `host`, `%C` expanded (`ssh -G`
/// prints the configuration without connecting).
fn resolved_control_path(host: &Host) -> Option<PathBuf> {
    let mut command = base(host);
    command.arg("-G").arg(&host.destination);
    let out = bounded(command, Duration::from_secs(2))?;
    String::from_utf8_lossy(&out)
        .lines()
        .find_map(|line| line.strip_prefix("controlpath "))
        .map(PathBuf::from)
}

/// After a host did not answer in time: asks the shared connection's
/// master to exit (bounded); when the master does not answer either (it is
/// wedged: stopped, or stuck on a dead link), removes its socket, so the
/// next attempt makes a fresh connection instead of hanging on it.
pub fn drop_master(host: &Host) {
    let path = resolved_control_path(host);
    let mut exit = base(host);
    exit.arg("-O").arg("exit").arg(&host.destination);
    if bounded(exit, Duration::from_secs(2)).is_none()
        && let Some(path) = path
    {
        let _ = std::fs::remove_file(path);
    }
}
