//! The demo agent watched live through the CLI (`run --watch --json`):
//! booting → running → blocked (permission_prompt) → answer → running →
//! done with exit 0, and the failure modes with their exit codes.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use support::TestServer;

const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `run -a demo ... --watch --json`; calls `on_line` for each NDJSON
/// change; returns the (old, new, reason) triples and the exit code.
fn watch_demo(
    server: &TestServer,
    name: &str,
    env: &[&str],
    mut on_line: impl FnMut(&serde_json::Value),
) -> (Vec<(String, String, String)>, i32) {
    let mut args = vec![
        "run",
        "-a",
        "demo",
        "-s",
        name,
        "-p",
        "do the thing",
        "--watch",
        "--json",
        "-i",
        "0.1",
        "--timeout",
        "25",
    ];
    for e in env {
        args.push("-e");
        args.push(e);
    }
    let mut child = server
        .command(&args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut changes = Vec::new();
    while let Ok(line) = rx.recv_timeout(PATIENCE) {
        let json: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["time", "session", "old", "new", "reason"] {
            assert!(json.get(key).is_some(), "{key} missing in {line}");
        }
        on_line(&json);
        changes.push((
            json["old"].as_str().unwrap_or_default().to_owned(),
            json["new"].as_str().unwrap_or_default().to_owned(),
            json["reason"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let status = child.wait().expect("watch exits");
    (changes, status.code().unwrap_or(-1))
}

fn statuses(changes: &[(String, String, String)]) -> Vec<&str> {
    let mut seq = vec![changes.first().map(|c| c.0.as_str()).unwrap_or("?")];
    seq.extend(changes.iter().map(|c| c.1.as_str()));
    seq
}

#[test]
fn demo_lifecycle_is_watched_to_done() {
    let server = TestServer::new();
    let (changes, code) = watch_demo(&server, "life", &["DOEFF_DEMO_WORK_MS=800"], |json| {
        if json["new"] == "blocked" {
            let out = server.cli(&["send", "life", "1", "--no-enter"]);
            assert!(out.status.success(), "{}", support::stderr(&out));
        }
    });
    assert_eq!(
        statuses(&changes),
        vec!["booting", "running", "blocked", "running", "done"],
        "{changes:?}"
    );
    assert_eq!(changes[1].2, "permission_prompt");
    assert_eq!(code, 0);
}

#[test]
fn demo_failure_is_failed_with_exit_code_3() {
    let server = TestServer::new();
    let (changes, code) = watch_demo(
        &server,
        "fail",
        &["DOEFF_DEMO_SCENARIO=fail", "DOEFF_DEMO_WORK_MS=300"],
        |_| {},
    );
    assert_eq!(
        changes.last().map(|c| c.1.as_str()),
        Some("failed"),
        "{changes:?}"
    );
    assert_eq!(code, 3);
}

#[test]
fn demo_rate_limit_is_blocked_api_until_the_timeout() {
    let server = TestServer::new();
    let mut child_changes = Vec::new();
    let name = "limited";
    let launched = server.cli(&[
        "run",
        "-a",
        "demo",
        "-s",
        name,
        "-p",
        "x",
        "-e",
        "DOEFF_DEMO_SCENARIO=rate_limit",
        "-e",
        "DOEFF_DEMO_WORK_MS=300",
    ]);
    assert!(launched.status.success());
    let out = server.cli(&["watch", name, "--json", "-i", "0.1", "--timeout", "3"]);
    for line in support::stdout(&out).lines() {
        let json: serde_json::Value = serde_json::from_str(line).expect("JSON");
        child_changes.push(json["new"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        child_changes.last().map(String::as_str),
        Some("blocked_api"),
        "{child_changes:?}"
    );
    assert_eq!(out.status.code(), Some(7), "timeout while blocked_api");
}

#[test]
fn demo_crash_is_exited_with_its_exit_code() {
    let server = TestServer::new();
    let (changes, code) = watch_demo(
        &server,
        "crash",
        &[
            "DOEFF_DEMO_SCENARIO=crash",
            "DOEFF_DEMO_EXIT_CODE=9",
            "DOEFF_DEMO_WORK_MS=300",
        ],
        |_| {},
    );
    let last = changes.last().expect("a change");
    assert_eq!(last.1, "exited", "{changes:?}");
    assert_eq!(last.2, "process_exited");
    assert_eq!(code, 4);
    let explain = server.cli(&["explain", "crash", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&explain.stdout).expect("JSON");
    assert_eq!(json["evidence"]["line"], "exit code 9");
}

#[test]
fn a_stopped_session_ends_the_watch_as_stopped() {
    let server = TestServer::new();
    server.launch_waiting_demo("gone");
    let mut child = server
        .command(&["watch", "gone", "--json", "-i", "0.1", "--timeout", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Stopped only once the watch has seen the session (its first event):
    // under load a watch starting late would find it already gone.
    let stdout = child.stdout.take().expect("stdout");
    let (first, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end: a closed pipe would end the watch with SIGPIPE.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = first.send(line);
        }
    });
    let line = got
        .recv_timeout(Duration::from_secs(20))
        .expect("the watch's first event");
    assert!(line.contains("\"new\":\"blocked\""), "{line}");
    assert!(server.cli(&["stop", "gone"]).status.success());
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(5), "{status:?}");
}
