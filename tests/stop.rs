//! Stop semantics as documented (SECURITY.md "Stop semantics"): a watcher
//! whose session another process stops reports `stopped` (exit 5), over
//! either transport (also once the server exited with its last session); a
//! second `stop` succeeds and says so; state files are 0600 in 0700
//! folders; `-S` at an existing regular file is refused, never deleted.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use support::{TestServer, assert_one_line_error, stderr, stdout, wait_for};

const PATIENCE: Duration = Duration::from_secs(60);

/// Starts `watch NAME --json` with `transport`, and waits until it has
/// printed its first change (it is watching); returns the child and the
/// lines it prints.
fn watching(
    server: &TestServer,
    name: &str,
    transport: &str,
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = server
        .command(&["watch", name, "--json", "-i", "0.2", "--timeout", "120"])
        .env("DOEFF_AGENTS_TRANSPORT", transport)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watch");
    let (sender, lines) = mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let first = lines.recv_timeout(PATIENCE).expect("a first change");
    assert!(first.contains("\"new\""), "{first}");
    (child, lines)
}

#[test]
fn a_watcher_reports_stopped_when_another_process_stops_the_session() {
    let server = TestServer::new();
    for (name, transport) in [("viacontrol", "control"), ("viasub", "subprocess")] {
        server.launch_waiting_demo(name);
        let (mut child, lines) = watching(&server, name, transport);
        let stop = server.cli(&["stop", name]);
        assert!(stop.status.success(), "{}", stderr(&stop));
        let status = wait_for("the watch to end", PATIENCE, || {
            child.try_wait().ok().flatten()
        });
        let printed: Vec<String> = lines.try_iter().collect();
        assert_eq!(status.code(), Some(5), "{transport}: {printed:?}");
        let last = printed.last().expect("the last change");
        assert!(last.contains("\"new\":\"stopped\""), "{transport}: {last}");
    }
}

#[test]
fn a_second_stop_succeeds_and_says_so() {
    let server = TestServer::new();
    server.launch_waiting_demo("twice");
    let first = server.cli(&["stop", "twice"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first).trim(), "stopped doeff-twice");
    let second = server.cli(&["stop", "twice"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second).trim(), "doeff-twice was already stopped");
    // A name never launched is still an error.
    let err = assert_one_line_error(&server.cli(&["stop", "never"]));
    assert!(err.contains("no doeff session named never"), "{err}");
    // A new launch under the name starts clean.
    server.launch_waiting_demo("twice");
    let again = server.cli(&["stop", "twice"]);
    assert_eq!(stdout(&again).trim(), "stopped doeff-twice");
}

#[test]
fn state_files_are_private() {
    let server = TestServer::new();
    let state = server.dir.join("state").join("doeff-agents");
    std::fs::create_dir_all(&state).expect("dir");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    server.launch_waiting_demo("private");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700, "state dir");
    assert_eq!(mode(&state.join("sessions")), 0o700, "sessions dir");
    let file = state.join("sessions").join("doeff-private.json");
    assert_eq!(mode(&file), 0o600, "state file");
}

#[test]
fn a_socket_path_at_a_regular_file_is_refused_not_deleted() {
    let server = TestServer::new();
    let file = server.path("notes.txt");
    std::fs::write(&file, "keep me").expect("write");
    let path = file.to_string_lossy().into_owned();
    for command in [
        vec!["-S", &path, "run", "-a", "demo", "-s", "x"],
        vec!["-S", &path, "ps"],
        vec!["-S", &path, "stop", "x"],
    ] {
        // Not `server.command`: that adds -L.
        let mut cmd = std::process::Command::new(support::bin());
        cmd.args(&command)
            .env("DOEFF_AGENTS_SHELL_PATH", "0")
            .env("XDG_CONFIG_HOME", server.dir.join("config"))
            .env("XDG_STATE_HOME", server.dir.join("state"))
            .env_remove("DOEFF_AGENTS_TMUX_SOCKET")
            .env_remove("TMUX")
            .stdin(Stdio::null());
        let out = cmd.output().expect("run");
        let err = assert_one_line_error(&out);
        assert!(err.contains("is not a socket"), "{command:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(&file).ok().as_deref(),
            Some("keep me"),
            "{command:?}"
        );
    }
}
