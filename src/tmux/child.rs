//! The tmux processes doeff-agents starts, and how they end. A `tmux`
//! client whose server is stalled (stopped, wedged) never exits by itself,
//! so nothing waits for one without a deadline, and none outlives us:
//!
//! - Every child gets `PR_SET_PDEATHSIG(SIGTERM)` (Linux), so it ends when
//!   doeff-agents does, even by SIGKILL. The kernel sends it when the
//!   *thread* that spawned the child exits, so long-lived children (the
//!   control-mode client) are spawned from one thread that lives as long as
//!   the process ([`spawn_kept`]); one-shot children are waited for by the
//!   thread that spawned them, which therefore outlives them.
//! - A one-shot call ([`output_within`]) is waited for at most
//!   [`call_timeout`] (30 s, `DOEFF_AGENTS_TMUX_TIMEOUT` seconds), then
//!   killed, and the caller gets [`Error::TmuxTimeout`] ("tmux server on
//!   SOCKET did not answer within N s").
//! - A child that cannot be spawned at all is reported by [`spawn_error`].

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::Error;

/// Seconds a tmux call may take before the server counts as stalled.
pub const TIMEOUT_ENV: &str = "DOEFF_AGENTS_TMUX_TIMEOUT";
/// The default of [`call_timeout`].
/// (30 s: a busy 2-core machine has been seen to keep a healthy tmux server
/// from answering for over 10 s.)
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one tmux call may take ([`TIMEOUT_ENV`], else 30 s).
pub fn call_timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_CALL_TIMEOUT)
}

/// The error for a server that did not answer within `timeout`.
pub fn timeout_error(server: &super::Server, timeout: Duration) -> Error {
    let socket = super::server_lock::socket_path(server)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the default socket".to_owned());
    Error::TmuxTimeout {
        socket,
        seconds: timeout.as_secs_f64(),
    }
}

/// Makes `command`'s process get SIGTERM when the spawning thread exits
/// (see the module docs), and refuse to start if that already happened.
pub fn die_with_parent(command: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child before exec and only
    // makes two async-signal-safe system calls (prctl, getppid).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("the parent exited"));
            }
            Ok(())
        });
    }
}

type Job = (Command, Sender<std::io::Result<Child>>);

/// Spawns `command` (with [`die_with_parent`]) from one thread that lives as
/// long as the process, so its death signal means "the process exited".
pub fn spawn_kept(mut command: Command) -> std::io::Result<Child> {
    static KEEPER: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    die_with_parent(&mut command);
    let keeper = KEEPER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tmux-spawner".into())
            .spawn(move || {
                for (mut command, reply) in queue {
                    let _ = reply.send(command.spawn());
                }
            })
            .ok()?;
        Some(Mutex::new(jobs))
    });
    let Some(keeper) = keeper else {
        return command.spawn();
    };
    let (reply, answer) = mpsc::channel();
    keeper
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send((command, reply))
        .map_err(|_| std::io::Error::other("the tmux spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| std::io::Error::other("the tmux spawner thread is gone"))?
}

/// Feeds `stdin` to `child` and collects its output, waiting at most
/// `timeout`; past that the child is killed and `None` returned.
///
/// The pipes are read on threads of their own that are left behind on a
/// timeout: a tmux client hands its stdout and stderr to the server, so a
/// stalled server keeps them open after the client is gone.
pub fn output_within(
    mut child: Child,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Option<Output>> {
    let deadline = Instant::now() + timeout;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let data = data.to_vec();
        // A write error (tmux exited early) shows up in its exit status.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let (done, finished) = mpsc::channel::<(bool, Vec<u8>)>();
    fn drain(mut pipe: impl Read + Send + 'static, is_out: bool, done: Sender<(bool, Vec<u8>)>) {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            let _ = done.send((is_out, text));
        });
    }
    let mut pending = 0;
    if let Some(pipe) = child.stdout.take() {
        drain(pipe, true, done.clone());
        pending += 1;
    }
    if let Some(pipe) = child.stderr.take() {
        drain(pipe, false, done);
        pending += 1;
    }
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match finished.recv_timeout(left) {
            Ok((true, text)) => stdout = text,
            Ok((false, text)) => stderr = text,
            Err(_) => break,
        }
        pending -= 1;
    }
    let status = if pending == 0 {
        wait_until(&mut child, deadline)?
    } else {
        None
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(None);
    };
    Ok(Some(Output {
        status,
        stdout,
        stderr,
    }))
}

/// The child's exit status once it exits, or `None` at the deadline.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Spawn failures: a missing binary is `TmuxNotAvailable`, an argv the OS
/// refuses is a too-long command, anything else `TmuxNotAvailable` with the
/// OS reason.
pub fn spawn_error(err: std::io::Error) -> Error {
    if err.kind() == std::io::ErrorKind::NotFound {
        Error::TmuxNotAvailable("the tmux binary was not found on PATH".into())
    } else if err.raw_os_error() == Some(nix::errno::Errno::E2BIG as i32) {
        Error::tmux("tmux".into(), format!("command too long ({err})"))
    } else {
        Error::TmuxNotAvailable(err.to_string())
    }
}
