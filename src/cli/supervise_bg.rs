//! The background supervisor: `supervise --detach` starts `supervise` in
//! its own hidden tmux session on the same server ([`SESSION`]; it outlives
//! the terminal and is reachable over SSH with `tmux attach -t`), `--status`
//! says whether one runs and what it loaded, `--stop` ends it (SIGTERM, so
//! its control client leaves cleanly; SIGKILL if it does not end in time).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::GlobalArgs;
use super::supervise::SuperviseArgs;
use crate::error::{Error, Result};
use crate::lua::supervise::instance::{Status, running};
use crate::remote::hosts::Host;
use crate::tmux::{NewSession, Tmux};

/// The hidden session a detached supervisor runs in.
pub const SESSION: &str = "_doeff-supervisor";
/// How long `--detach` waits for the supervisor to be up, `--stop` for it to end.
const PATIENCE: Duration = Duration::from_secs(15);

/// The environment a detached supervisor keeps from the caller (the tmux
/// server's own environment may be another login's).
fn kept_env() -> Vec<(String, String)> {
    const NAMES: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TMUX_TMPDIR",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "DBUS_SESSION_BUS_ADDRESS",
        "NO_COLOR",
    ];
    std::env::vars()
        .filter(|(k, _)| {
            NAMES.contains(&k.as_str()) || k.starts_with("XDG_") || k.starts_with("DOEFF_")
        })
        .collect()
}

fn absolute(path: &std::path::Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The command line of the detached supervisor: this executable, the same
/// server and adapter folders, the same scripts (absolute paths).
fn child_argv(global: &GlobalArgs, args: &SuperviseArgs, hosts: &[Host]) -> Result<Vec<String>> {
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    let mut argv = vec![exe.to_string_lossy().into_owned()];
    if let Some(name) = &global.socket_name {
        argv.extend(["-L".to_owned(), name.clone()]);
    }
    if let Some(path) = &global.socket_path {
        argv.extend([
            "-S".to_owned(),
            absolute(path)?.to_string_lossy().into_owned(),
        ]);
    }
    for dir in &global.adapter_dirs {
        argv.extend([
            "--adapters".to_owned(),
            absolute(dir)?.to_string_lossy().into_owned(),
        ]);
    }
    for host in hosts {
        argv.extend(["--host".to_owned(), host.name.clone()]);
    }
    argv.extend([
        "supervise".to_owned(),
        "--detached-as".to_owned(),
        SESSION.to_owned(),
        "-i".to_owned(),
        args.interval.to_string(),
        "--".to_owned(),
    ]);
    for path in &args.paths {
        argv.push(absolute(path)?.to_string_lossy().into_owned());
    }
    Ok(argv)
}

/// `--detach`.
pub fn detach(global: &GlobalArgs, args: &SuperviseArgs, hosts: &[Host]) -> Result<i32> {
    let server = global.server();
    if let Some(status) = running(&server) {
        return Err(Error::InvalidInput(format!(
            "a supervisor already runs on this tmux server (pid {}); `doeff-agents supervise --stop` ends it",
            status.pid
        )));
    }
    let tmux = Tmux::new(server.clone());
    if tmux.has_session(SESSION).unwrap_or(false) {
        // A leftover whose supervisor is gone.
        let _ = tmux.kill_session(SESSION);
    }
    let argv = child_argv(global, args, hosts)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let pane = tmux.new_session(&NewSession {
        name: SESSION,
        work_dir: &cwd,
        argv: &argv,
        env: &kept_env(),
        options: &[],
        pane_options: &[],
        width: crate::session::PANE_WIDTH,
        height: crate::session::PANE_HEIGHT,
        remain_on_exit: false,
    })?;
    let deadline = Instant::now() + PATIENCE;
    let mut screen = String::new();
    loop {
        if let Some(status) = running(&server).filter(|s| s.ready) {
            let loaded = status.scripts.iter().filter(|s| s.loaded).count();
            println!(
                "supervisor started (pid {}, {loaded} script(s)) in tmux session {SESSION}; \
                 `doeff-agents supervise --status` / `--stop`",
                status.pid
            );
            return Ok(0);
        }
        match tmux.capture_pane(&pane, 0) {
            Ok(text) => screen = text,
            Err(_) => {
                let last = screen
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("(no output)");
                return Err(Error::InvalidInput(format!(
                    "the supervisor did not start: {}",
                    last.trim()
                )));
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::InvalidInput(format!(
                "the supervisor did not report within {}s (tmux session {SESSION})",
                PATIENCE.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn print_status(status: &Status) {
    let since = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_secs(status.started),
    );
    let place = status
        .session
        .as_deref()
        .map_or("in the foreground".to_owned(), |s| {
            format!("in tmux session {s}")
        });
    println!(
        "supervisor running: pid {}, since {since}, {place}",
        status.pid
    );
    if status.scripts.is_empty() {
        println!("  no scripts");
    }
    for script in &status.scripts {
        let state = if script.loaded {
            "loaded"
        } else {
            "not loaded"
        };
        println!(
            "  {} ({state}, {} load(s))",
            script.path.display(),
            script.loads
        );
        if let Some(error) = &script.last_error {
            println!("    last error: {error}");
        }
    }
}

/// `--status`: 0 and what runs, or 1 when none runs.
pub fn status(global: &GlobalArgs, json: bool) -> Result<i32> {
    let found = running(&global.server());
    if json {
        let value = match &found {
            Some(status) => serde_json::json!({ "running": true, "supervisor": status }),
            None => serde_json::json!({ "running": false }),
        };
        println!("{value}");
    } else {
        match &found {
            Some(status) => print_status(status),
            None => println!("no supervisor runs on this tmux server"),
        }
    }
    Ok(if found.is_some() { 0 } else { 1 })
}

/// `--stop`: 0 once it ended, 1 when none runs.
pub fn stop(global: &GlobalArgs) -> Result<i32> {
    let server = global.server();
    let Some(status) = running(&server) else {
        println!("no supervisor runs on this tmux server");
        return Ok(1);
    };
    let pid = i32::try_from(status.pid)
        .ok()
        .filter(|p| *p > 0)
        .map(nix::unistd::Pid::from_raw)
        .ok_or_else(|| Error::InvalidInput("the supervisor's status file names no pid".into()))?;
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + PATIENCE;
    while running(&server).is_some() {
        if Instant::now() >= deadline {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if status.session.is_some() {
        let tmux = Tmux::new(server);
        if tmux.has_session(SESSION).unwrap_or(false) {
            let _ = tmux.kill_session(SESSION);
        }
    }
    println!("stopped the supervisor (pid {})", status.pid);
    Ok(0)
}
