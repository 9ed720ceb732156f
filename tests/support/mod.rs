//! Shared helpers for integration tests: a throwaway tmux server per test
//! (`-L doeff-test-<pid>-<n>`, `-f /dev/null`, killed on drop), the built
//! binary, and waiting on a condition with a deadline (never a tuned sleep).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use doeff_agents::{AdapterRegistry, Agents, Server, Tmux};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The `doeff-agents` binary cargo built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_doeff-agents"))
}

/// A private tmux server that dies with the value.
pub struct TestServer {
    pub socket: String,
    pub tmux: Tmux,
    pub dir: PathBuf,
}

impl TestServer {
    /// `display-message -p -t TARGET FORMAT` on this server, trimmed.
    pub fn display(&self, target: &str, format: &str) -> String {
        let out = self
            .tmux
            .run(
                &[vec![
                    "display-message".into(),
                    "-p".into(),
                    "-t".into(),
                    target.to_owned(),
                    format.to_owned(),
                ]],
                None,
            )
            .expect("display-message");
        String::from_utf8_lossy(&out).trim().to_owned()
    }

    pub fn new() -> TestServer {
        Self::with_prefix("doeff-test")
    }

    /// This server's [`Agents`] with the adapter `code` loaded from `file`
    /// (written into the test's folder).
    pub fn agents_with_adapter(&self, file: &str, code: &str) -> Agents {
        let agents = self.agents();
        let path = self.path(file);
        std::fs::write(&path, code).expect("write adapter");
        agents.adapters().load_file(&path).expect("adapter loads");
        agents
    }

    /// The session's hook pane option (`SEQ|EVENT|DETAIL|MS`).
    pub fn hook_option(&self, session: &doeff_agents::AgentSession) -> String {
        self.display(&session.pane_id, "#{@doeff-hook}")
    }

    /// Types `line` literally into the session's pane, then Enter.
    pub fn type_line(&self, session: &doeff_agents::AgentSession, line: &str) {
        self.tmux
            .send_keys(&session.pane_id, &[line], true)
            .expect("type");
        self.tmux
            .send_keys(&session.pane_id, &["Enter"], false)
            .expect("enter");
    }

    /// A server whose socket is `<prefix>-<pid>-<n>`.
    pub fn with_prefix(prefix: &str) -> TestServer {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let socket = format!("{prefix}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&socket);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let tmux = Tmux::new(Server::named(socket.clone()).with_config_file("/dev/null"));
        TestServer { socket, tmux, dir }
    }

    /// This server's address (socket name, `-f /dev/null`).
    pub fn server(&self) -> Server {
        Server::named(self.socket.clone()).with_config_file("/dev/null")
    }

    /// The library entry point on this server, demo agent = the built binary.
    pub fn agents(&self) -> Agents {
        let registry = AdapterRegistry::builtin_with_exe(bin().to_string_lossy().into_owned())
            .expect("built-in adapters load");
        Agents::new(self.tmux.clone(), Arc::new(registry))
    }

    /// `doeff-agents -L <socket> ARGS...` with no stdin.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run doeff-agents")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin());
        command
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env("DOEFF_AGENTS_EXE", bin())
            .env("DOEFF_AGENTS_SHELL_PATH", "0")
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .env_remove("DOEFF_AGENTS_TMUX_SOCKET")
            .env_remove("DOEFF_AGENTS_ADAPTERS")
            .env_remove("TMUX")
            .stdin(Stdio::null());
        command
    }

    /// `run -a demo -s NAME -e DOEFF_DEMO_SCENARIO=SCENARIO` plus `extra`
    /// arguments (more `-e`, `-w DIR`, `-p PROMPT`), asserting the launch worked.
    pub fn launch_demo(&self, name: &str, scenario: &str, extra: &[&str]) {
        let scenario = format!("DOEFF_DEMO_SCENARIO={scenario}");
        let mut args = vec!["run", "-a", "demo", "-s", name, "-e", &scenario];
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        assert!(out.status.success(), "launch {name}: {}", stderr(&out));
    }

    /// The demo in its `wait` scenario: the agent sits at its composer for ever.
    pub fn launch_waiting_demo(&self, name: &str) {
        self.launch_demo(name, "wait", &[]);
    }

    /// A file path inside this test's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Session names on this server.
    pub fn session_names(&self) -> Vec<String> {
        self.tmux
            .list_sessions()
            .map(|s| s.into_iter().map(|s| s.name).collect())
            .unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.tmux.kill_server();
        let _ = std::fs::remove_dir_all(&self.dir);
        doeff_agents::tmux::remove_lock_file(&self.server());
        doeff_agents::lua::supervise::instance::remove_files(&self.server());
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a command failed with exactly one line on stderr.
pub fn assert_one_line_error(output: &Output) -> String {
    assert!(!output.status.success(), "expected failure, got success");
    let err = stderr(output);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one-line error expected, got: {err}"
    );
    err
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// One row of `tests/screens/EXPECTED.tsv`: a saved screen of a real CLI and
/// the status and reason it must get.
pub struct Case {
    pub file: String,
    pub status: String,
    pub reason: String,
}

/// Where the saved screens live: `tests/screens`, or `$DOEFF_SCREENS_DIR`
/// (to run the same checks over other screens, say a held-out set).
pub fn screens_dir() -> PathBuf {
    match std::env::var_os("DOEFF_SCREENS_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join("screens"),
    }
}

/// The rows of the screens' table (`EXPECTED.tsv`, or `$DOEFF_SCREENS_TABLE`
/// in the screens folder; header, blank and `#` lines skipped).
pub fn cases() -> Vec<Case> {
    let name = std::env::var("DOEFF_SCREENS_TABLE").unwrap_or_else(|_| "EXPECTED.tsv".into());
    let table = std::fs::read_to_string(screens_dir().join(&name))
        .unwrap_or_else(|e| panic!("{name} in {}: {e}", screens_dir().display()));
    table
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert!(fields.len() >= 3, "bad row: {line}");
            Case {
                file: fields[0].to_owned(),
                status: fields[1].to_owned(),
                reason: fields[2].to_owned(),
            }
        })
        .collect()
}

/// The agent a saved screen belongs to: its file name up to the first `-`.
pub fn agent_of(file: &str) -> &str {
    file.split('-').next().unwrap_or_default()
}

/// A fresh folder whose every parent is private (this user's or root's, no
/// group or other may write), as a per-run settings file needs: under the
/// target dir, or, for a checkout under a shared folder such as /tmp, under
/// `~/.cache/doeff-agents/test-state`. `None`, said, when neither is.
pub fn private_dir(name: &str) -> Option<PathBuf> {
    let cache = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/doeff-agents/test-state"));
    let bases = [Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR"))), cache];
    for base in bases.into_iter().flatten() {
        let dir = base.join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::create_dir_all(&dir).is_ok()
            && doeff_agents::adapter::signals::is_private_chain(&dir)
        {
            return Some(dir);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("SKIPPED: no folder here has only private parents (for a per-run settings file)");
    None
}
