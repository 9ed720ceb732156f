//! Command-line polish: clap's own usage messages on one
//! line, `adapters` failing on a broken file, `run --json`, spinners only on
//! a terminal, `watch` on a finished session, `ps --finished` and `prune`.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{TestServer, assert_one_line_error, stderr, stdout, wait_for};

const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn usage_errors_keep_clap_s_message_on_one_line() {
    let server = TestServer::new();
    for (args, want) in [
        (&["run"][..], "--agent <AGENT>"),
        (
            &["sned", "x"][..],
            "tip: a similar subcommand exists: 'send'",
        ),
        (
            &["ps", "--jsno"][..],
            "tip: a similar argument exists: '--json'",
        ),
    ] {
        let out = server.cli(args);
        let err = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn adapters_fails_when_a_file_did_not_load() {
    let server = TestServer::new();
    let dir = server.path("adapters");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("broken.lua"), "return agents.adapter {").expect("write");
    let dir = dir.to_string_lossy().into_owned();
    for json in [false, true] {
        let mut args = vec!["--adapters", dir.as_str(), "adapters"];
        if json {
            args.push("--json");
        }
        let out = server.cli(&args);
        assert_eq!(out.status.code(), Some(1), "json {json}: {}", stdout(&out));
    }
    assert!(server.cli(&["adapters"]).status.success());
}

fn launch(server: &TestServer, name: &str, scenario: &str) {
    server.launch_demo(
        name,
        scenario,
        &["-e", "DOEFF_DEMO_WORK_MS=100", "-p", "go"],
    );
}

fn ps_status(server: &TestServer, name: &str) -> Option<String> {
    let out = server.cli(&["ps", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    rows.as_array()?
        .iter()
        .find(|r| r["name"] == format!("doeff-{name}"))
        .and_then(|r| r["status"].as_str().map(str::to_owned))
}

#[test]
fn run_json_prints_the_launched_session() {
    let server = TestServer::new();
    let out = server.cli(&[
        "run",
        "-a",
        "demo",
        "-s",
        "js",
        "--json",
        "-e",
        "DOEFF_DEMO_SCENARIO=wait",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["name"], "doeff-js");
    assert_eq!(value["agent"], "demo");
    assert!(
        value["pane_id"]
            .as_str()
            .is_some_and(|p| p.starts_with('%'))
    );
    assert!(value["waiting"].is_null());
}

#[test]
fn watch_on_a_finished_session_prints_its_state_once_and_prune_removes_it() {
    let server = TestServer::new();
    launch(&server, "live", "wait");
    launch(&server, "ended", "crash");
    wait_for("the crash", PATIENCE, || {
        (ps_status(&server, "ended").as_deref() == Some("exited")).then_some(())
    });
    let out = server.cli(&["watch", "ended", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0]["old"].is_null(),
        "no invented transition: {}",
        lines[0]
    );
    assert_eq!(lines[0]["new"], "exited");
    let plain = stdout(&server.cli(&["watch", "ended"]));
    assert_eq!(plain.lines().count(), 1, "{plain}");
    assert!(
        plain.contains("doeff-ended exited (") && !plain.contains("->"),
        "{plain}"
    );

    let finished = stdout(&server.cli(&["ps", "--finished"]));
    assert!(
        finished.contains("doeff-ended") && !finished.contains("doeff-live"),
        "{finished}"
    );
    let state = server.dir.join("state/doeff-agents/sessions");
    assert!(state.join("doeff-ended.json").exists());
    let out = server.cli(&["prune"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("pruned doeff-ended (exited"),
        "{}",
        stdout(&out)
    );
    assert_eq!(server.session_names(), vec!["doeff-live"]);
    assert!(
        !state.join("doeff-ended.json").exists(),
        "state file removed"
    );
    assert!(
        state.join("doeff-live.json").exists(),
        "the live one is kept"
    );
}

#[test]
fn a_spinner_shows_on_a_terminal_and_never_when_piped() {
    let server = TestServer::new();
    launch(&server, "busy", "busy");
    // Piped: nothing on stderr.
    let out = server.cli(&["watch", "busy", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{:?}", stderr(&out));
    // On a terminal (a pane of the test server): the spinner line.
    let bin = support::bin().to_string_lossy().into_owned();
    let status = Command::new("tmux")
        .args(["-L", &server.socket, "new-session", "-d", "-s", "tty", "--"])
        .args([
            &bin,
            "-L",
            &server.socket,
            "watch",
            "busy",
            "--timeout",
            "20",
        ])
        .status()
        .expect("tmux");
    assert!(status.success());
    wait_for("the spinner", PATIENCE, || {
        let out = Command::new("tmux")
            .args(["-L", &server.socket, "capture-pane", "-p", "-t", "=tty:"])
            .output()
            .ok()?;
        stdout(&out)
            .contains("watching busy: no change yet")
            .then_some(())
    });
}
