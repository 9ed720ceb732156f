//! A bare name never reaches a session doeff-agents did not create: on a
//! server where only the user's own `main` (and a look-alike `doeff-fake`
//! without doeff-agents' metadata) exist, every command that takes a NAME
//! says "no doeff session named ..." in one line and touches nothing;
//! `--raw-target` and `ps --all` reach them on purpose.

mod support;

use std::time::Duration;

use support::{TestServer, assert_one_line_error, stdout, wait_for};

/// A user's own session running a shell in `dir`: typed text would run.
fn user_shell(server: &TestServer, name: &str) {
    let out = std::process::Command::new("tmux")
        .args(["-L", &server.socket, "-f", "/dev/null"])
        .args(["new-session", "-d", "-s", name, "-c"])
        .arg(&server.dir)
        .args(["--", "sh"])
        .output()
        .expect("tmux");
    assert!(out.status.success(), "{}", support::stderr(&out));
}

#[test]
fn bare_names_never_fall_back_to_foreign_sessions() {
    let server = TestServer::new();
    user_shell(&server, "main");
    user_shell(&server, "doeff-fake");
    let marker = server.path("x");
    for name in ["main", "fake", "doeff-fake"] {
        for command in [
            vec!["send", name, "touch x"],
            vec!["stop", name],
            vec!["output", name],
            vec!["watch", name, "--timeout", "1"],
            vec!["explain", name],
            vec!["attach", name],
        ] {
            let out = server.cli(&command);
            let err = assert_one_line_error(&out);
            assert!(
                err.contains(&format!("no doeff session named {name}")),
                "{command:?}: {err}"
            );
        }
    }
    // Nothing was typed, nothing stopped.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!marker.exists(), "text reached the user's shell");
    let mut names = server.session_names();
    names.sort();
    assert_eq!(names, vec!["doeff-fake", "main"]);
    let ps = stdout(&server.cli(&["ps"]));
    assert_eq!(ps.trim(), "no sessions", "ps lists only doeff sessions");
    let all = stdout(&server.cli(&["ps", "--all"]));
    assert!(all.contains("main") && all.contains("doeff-fake"), "{all}");
}

#[test]
fn raw_target_reaches_a_foreign_session_on_purpose() {
    let server = TestServer::new();
    user_shell(&server, "main");
    let marker = server.path("x");
    let sent = server.cli(&["send", "--raw-target", "main", "touch x"]);
    assert!(sent.status.success(), "{}", support::stderr(&sent));
    wait_for("the typed command to run", Duration::from_secs(20), || {
        marker.exists().then_some(())
    });
    let output = server.cli(&["output", "--raw-target", "main"]);
    assert!(stdout(&output).contains("touch x"), "{}", stdout(&output));
    // A raw target is exact: no prefix added, no prefix match.
    let err = assert_one_line_error(&server.cli(&["output", "--raw-target", "mai"]));
    assert!(err.contains("no tmux session named mai"), "{err}");
    let stop = server.cli(&["stop", "--raw-target", "main"]);
    assert!(stop.status.success(), "{}", support::stderr(&stop));
    assert!(server.session_names().is_empty());
}
