//! The command line end to end on a private tmux server: run, ps, send,
//! output, stop, exact targeting, bad input, no server.

mod support;

use std::time::Duration;

use support::{TestServer, assert_one_line_error, stdout, wait_for};

const PATIENCE: Duration = Duration::from_secs(20);

fn output_contains(server: &TestServer, name: &str, needle: &str) -> Option<String> {
    let out = server.cli(&["output", name, "-n", "60"]);
    let text = stdout(&out);
    text.contains(needle).then_some(text)
}

#[test]
fn ps_with_no_server_says_so_and_succeeds() {
    let server = TestServer::new();
    let out = server.cli(&["ps"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim(), "no sessions");
    let json = server.cli(&["ps", "--json"]);
    assert!(json.status.success());
    assert_eq!(stdout(&json).trim(), "[]");
}

#[test]
fn shell_metacharacters_in_a_prompt_are_data() {
    let server = TestServer::new();
    let marker = server.path("pwned");
    let prompt = format!(
        "$(touch {m}) `touch {m}` \"quoted\" 'single' ; rm x && echo;",
        m = marker.display()
    );
    let work = server.dir.to_string_lossy().into_owned();
    let out = server.cli(&[
        "run",
        "-a",
        "demo",
        "-w",
        &work,
        "-p",
        &prompt,
        "-s",
        "meta",
        "-e",
        "DOEFF_DEMO_SCENARIO=wait",
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert_eq!(stdout(&out).trim(), "doeff-meta");
    let screen = wait_for("the prompt on screen", PATIENCE, || {
        output_contains(&server, "meta", "Waiting for your next")
    });
    assert!(
        screen.contains(&format!("> {prompt}")),
        "prompt shown exactly:\n{screen}"
    );
    assert!(!marker.exists(), "nothing may execute");

    let ps = server.cli(&["ps", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("ps --json is JSON");
    assert_eq!(rows[0]["name"], "doeff-meta");
    assert_eq!(rows[0]["agent"], "demo");
    assert_eq!(
        rows[0]["work_dir"],
        server
            .dir
            .canonicalize()
            .expect("dir")
            .to_string_lossy()
            .as_ref()
    );
}

#[test]
fn a_two_line_message_arrives_as_one_message_then_stop() {
    let server = TestServer::new();
    server.launch_waiting_demo("two");
    wait_for("the composer", PATIENCE, || {
        output_contains(&server, "two", "╯\n>")
    });
    let send = server.cli(&["send", "two", "first line\nsecond; $(line)"]);
    assert!(send.status.success(), "{}", support::stderr(&send));
    let screen = wait_for("the reply", PATIENCE, || {
        output_contains(&server, "two", "Waiting for your next")
    });
    assert!(
        screen.contains("> first line\n  second; $(line)"),
        "{screen}"
    );
    assert_eq!(
        screen.matches("Waiting for your next message").count(),
        1,
        "one message, not two:\n{screen}"
    );

    let stop = server.cli(&["stop", "two"]);
    assert!(stop.status.success());
    let again = server.cli(&["stop", "two"]);
    assert!(again.status.success(), "a second stop is not an error");
    assert!(stdout(&again).contains("already stopped"));
    assert_eq!(stdout(&server.cli(&["ps"])).trim(), "no sessions");
}

#[test]
fn exact_names_never_match_a_longer_session() {
    let server = TestServer::new();
    server.launch_waiting_demo("xyz");
    for command in [
        vec!["send", "x", "hi"],
        vec!["output", "x"],
        vec!["stop", "x"],
        vec!["watch", "x"],
    ] {
        let out = server.cli(&command);
        let err = assert_one_line_error(&out);
        assert!(
            err.contains("no doeff session named x"),
            "{command:?}: {err}"
        );
    }
    assert_eq!(server.session_names(), vec!["doeff-xyz"]);
}

#[test]
fn bad_input_gets_one_clear_line() {
    let server = TestServer::new();
    for (args, needle) in [
        (vec!["run", "-a", "nope", "-s", "a"], "unknown agent"),
        (
            vec!["run", "-a", "demo", "-s", "a:b"],
            "invalid session name",
        ),
        (vec!["run", "-a", "demo", "-s", ""], "invalid session name"),
        (
            vec!["run", "-a", "demo", "-s", "a", "-w", "/no/such/dir"],
            "/no/such/dir",
        ),
        (
            vec!["run", "-a", "demo", "-s", "a", "--profile", "p"],
            "no profiles",
        ),
        (vec!["send", "ghost", "hi"], "no doeff session named ghost"),
    ] {
        let out = server.cli(&args);
        let err = assert_one_line_error(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(server.session_names().is_empty(), "no half-made sessions");
}

#[test]
fn launching_twice_under_one_name_is_refused() {
    let server = TestServer::new();
    let args = [
        "run",
        "-a",
        "demo",
        "-s",
        "twice",
        "-e",
        "DOEFF_DEMO_SCENARIO=wait",
    ];
    assert!(server.cli(&args).status.success());
    let err = assert_one_line_error(&server.cli(&args));
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn completions_are_printed() {
    let server = TestServer::new();
    let out = server.cli(&["completions", "bash"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("doeff-agents"));
}

/// `attach --host`: a terminal cannot cross the JSON channel, so it is
/// `ssh -t DEST doeff-agents attach doeff-NAME`, the name checked first (a
/// stand-in ssh records what it was asked to run; nothing is contacted).
#[test]
fn attach_over_a_host_runs_ssh_with_a_terminal_and_a_checked_name() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::new();
    let log = server.path("ssh-argv");
    let fake = server.path("fake-ssh");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n", log.display()),
    )
    .expect("fake ssh");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = server
        .command(&["--host", "dev@build.invalid", "attach", "fix"])
        .env("DOEFF_AGENTS_SSH", &fake)
        .output()
        .expect("attach");
    assert!(out.status.success(), "{}", support::stderr(&out));
    let argv = std::fs::read_to_string(&log).expect("ssh ran");
    let words: Vec<&str> = argv.lines().collect();
    let tail = &words[words.len() - 5..];
    assert_eq!(
        tail,
        [
            "-t",
            "dev@build.invalid",
            "doeff-agents",
            "attach",
            "doeff-fix"
        ],
        "{argv}"
    );
    assert!(words.contains(&"BatchMode=yes"), "{argv}");

    std::fs::remove_file(&log).expect("rm");
    let bad = server
        .command(&["--host", "dev@build.invalid", "attach", "x;rm -rf ~"])
        .env("DOEFF_AGENTS_SSH", &fake)
        .output()
        .expect("attach");
    assert_one_line_error(&bad);
    assert!(!log.exists(), "ssh must not run for a bad name");
}
