//! A stalled tmux server (stopped with SIGSTOP) never hangs a command and
//! never leaves a `tmux -C` client behind: a watcher killed with SIGKILL
//! takes its control client with it, a watcher that gives up exits with one
//! line, and `ps`, `stop`, `send`, `output`, `explain` each end within the
//! call deadline (`DOEFF_AGENTS_TMUX_TIMEOUT`) saying "tmux server on ...
//! did not answer within N s".

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{TestServer, assert_one_line_error, wait_for};

const PATIENCE: Duration = Duration::from_secs(60);
/// The call deadline the commands get here.
const DEADLINE_SECS: &str = "2";

/// Pids of `tmux -C` clients of this test's server.
fn control_clients(server: &TestServer) -> Vec<i32> {
    let socket = format!("-L\0{}\0", server.socket);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let text = String::from_utf8_lossy(&raw);
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let zombie = state.rsplit(')').next()?.trim_start().starts_with('Z');
            (text.starts_with("tmux\0")
                && text.contains(&socket)
                && text.contains("\0-C\0")
                && !zombie)
                .then_some(pid)
        })
        .collect()
}

/// The server's pid (the pane's parent).
fn server_pid(server: &TestServer, name: &str) -> i32 {
    let out = std::process::Command::new("tmux")
        .args(["-L", &server.socket, "display-message", "-p", "-t"])
        .arg(format!("=doeff-{name}:"))
        .arg("#{pid}")
        .output()
        .expect("tmux");
    support::stdout(&out).trim().parse().expect("server pid")
}

/// `watch NAME` over control mode, once it printed its first change.
fn watching(server: &TestServer, name: &str) -> std::process::Child {
    let mut child = server
        .command(&["watch", name, "--json", "-i", "0.2", "--timeout", "120"])
        .env("DOEFF_AGENTS_TRANSPORT", "control")
        .env("DOEFF_AGENTS_TMUX_TIMEOUT", DEADLINE_SECS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("\"new\""), "watch printed {first:?}");
    std::thread::spawn(move || for _ in lines {});
    child
}

/// Resumes a stopped server even if the test fails half-way.
struct Stopped(i32);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0), Signal::SIGCONT);
    }
}

fn stall(pid: i32) -> Stopped {
    kill(Pid::from_raw(pid), Signal::SIGSTOP).expect("SIGSTOP the server");
    Stopped(pid)
}

#[test]
fn a_watcher_killed_with_sigkill_takes_its_control_client_along() {
    let server = TestServer::new();
    server.launch_waiting_demo("killed");
    let mut watcher = watching(&server, "killed");
    let clients = wait_for("the watcher's control client", PATIENCE, || {
        let found = control_clients(&server);
        (!found.is_empty()).then_some(found)
    });
    // A stalled server cannot tell the client to go: only its parent's
    // death can end it.
    let stopped = stall(server_pid(&server, "killed"));
    watcher.kill().expect("SIGKILL the watcher");
    let _ = watcher.wait();
    wait_for("the control client to end", PATIENCE, || {
        let left: Vec<i32> = control_clients(&server)
            .into_iter()
            .filter(|pid| clients.contains(pid))
            .collect();
        left.is_empty().then_some(())
    });
    drop(stopped);
}

#[test]
fn a_stalled_server_is_one_line_within_the_deadline_for_every_command() {
    let server = TestServer::new();
    server.launch_waiting_demo("stuck");
    let mut watcher = watching(&server, "stuck");
    let stopped = stall(server_pid(&server, "stuck"));
    for command in [
        vec!["ps"],
        vec!["stop", "stuck"],
        vec!["send", "stuck", "hello"],
        vec!["output", "stuck"],
        vec!["explain", "stuck"],
    ] {
        let started = Instant::now();
        let out = server
            .command(&command)
            .env("DOEFF_AGENTS_TMUX_TIMEOUT", DEADLINE_SECS)
            .output()
            .expect("run");
        let took = started.elapsed();
        let err = assert_one_line_error(&out);
        assert!(
            err.contains("tmux server on") && err.contains("did not answer within 2 s"),
            "{command:?}: {err}"
        );
        // One deadline, not one per tmux call (a few calls at most).
        assert!(took < Duration::from_secs(20), "{command:?} took {took:?}");
    }
    // The watcher gives up too: one line, exit 1, and its client is gone.
    let status = wait_for("the watcher to give up", PATIENCE, || {
        watcher.try_wait().ok().flatten()
    });
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    if let Some(mut pipe) = watcher.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut err);
    }
    assert!(err.contains("did not answer within 2 s"), "{err}");
    wait_for("no control client left", PATIENCE, || {
        control_clients(&server).is_empty().then_some(())
    });
    drop(stopped);
}
