//! Sending from the command line against the demo agent's `echo` scenario
//! (it records every submitted message byte for byte): concurrent sends to
//! one session arrive as separate messages.

mod support;

use std::time::Duration;

use doeff_agents::demo::parse_echo_records;
use support::{TestServer, stderr, wait_for};

const PATIENCE: Duration = Duration::from_secs(30);

/// Launches the echo demo as `name`; returns the echo file.
fn echo_agent(server: &TestServer, name: &str) -> std::path::PathBuf {
    let echo = server.path(&format!("{name}.echo"));
    let env = format!("DOEFF_DEMO_ECHO_FILE={}", echo.display());
    let out = server.cli(&[
        "run",
        "-a",
        "demo",
        "-s",
        name,
        "-e",
        "DOEFF_DEMO_SCENARIO=echo",
        "-e",
        &env,
    ]);
    assert!(out.status.success(), "launch: {}", stderr(&out));
    wait_for("the echo agent's composer", PATIENCE, || {
        let out = server.cli(&["output", name, "-n", "5"]);
        support::stdout(&out)
            .lines()
            .any(|l| l.trim_end() == ">")
            .then_some(())
    });
    echo
}

fn messages(echo: &std::path::Path) -> Vec<String> {
    let data = std::fs::read(echo).unwrap_or_default();
    parse_echo_records(&data)
        .into_iter()
        .filter(|(kind, _)| kind == "message")
        .map(|(_, bytes)| String::from_utf8_lossy(&bytes).into_owned())
        .collect()
}

#[test]
fn two_concurrent_sends_arrive_as_two_messages() {
    let server = TestServer::new();
    let echo = echo_agent(&server, "pair");
    let first = server
        .command(&["send", "pair", "first message"])
        .spawn()
        .expect("spawn send");
    let second = server
        .command(&["send", "pair", "second message"])
        .spawn()
        .expect("spawn send");
    for child in [first, second] {
        let out = child.wait_with_output().expect("send ends");
        assert!(out.status.success(), "send: {}", stderr(&out));
    }
    let got = wait_for("two messages", PATIENCE, || {
        let got = messages(&echo);
        (got.len() >= 2).then_some(got)
    });
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, ["first message", "second message"], "{got:?}");
}
