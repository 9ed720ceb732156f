//! Secrets passed with `-e KEY=VALUE` and the first prompt never appear in
//! a tmux process's command line (`ps -eo args`), during or after a launch:
//! not in the server a launch starts (which keeps its argv for life), not in
//! the short-lived tmux clients, not in a server title with the user's PATH.
//! `doeff-agents run` itself hides its arguments once parsed. The prompt of
//! an `injection = "arg"` adapter is in the agent's own argv by design.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::{TestServer, stderr, stdout, wait_for};

const SECRET: &str = "hunter2-s3cr3t-value";
const PROMPT: &str = "prompt-marker-7c1f";

/// Every process's command line, NULs as spaces.
fn command_lines() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let text = String::from_utf8_lossy(&raw).replace('\0', " ");
            Some((pid, text))
        })
        .collect()
}

/// `ps -eo args`, as a user would look.
fn ps_lines() -> Vec<String> {
    let out = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    stdout(&out).lines().map(str::to_owned).collect()
}

/// A line that must not hold the secret or the prompt: anything but the
/// demo agent itself (its argv has the prompt by design) and the
/// doeff-agents CLI before it hid its arguments (checked on its own).
fn is_checked(line: &str) -> bool {
    let bin = support::bin();
    !line.contains("__demo-agent") && !line.starts_with(&*bin.to_string_lossy())
}

fn leaks(line: &str) -> bool {
    is_checked(line) && (line.contains(SECRET) || line.contains(PROMPT))
}

#[test]
fn secrets_and_prompts_stay_out_of_every_command_line() {
    let server = TestServer::new();
    let adapters = server.path("adapters");
    std::fs::create_dir_all(&adapters).expect("dir");
    // A tmux-injection agent: its prompt is typed, never an argument.
    std::fs::write(
        adapters.join("typed.lua"),
        r#"return agents.adapter {
  name = "typed",
  injection = "tmux",
  ready_pattern = "^>( |$)",
  launch = function(cfg) return { agents.self_exe(), "__demo-agent" } end,
}"#,
    )
    .expect("adapter");
    let echo = server.path("echo");

    let stop = Arc::new(AtomicBool::new(false));
    let scanner = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut seen = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                for (_, line) in command_lines() {
                    if leaks(&line) {
                        seen.insert(line);
                    }
                }
            }
            seen
        }
    });
    let secret = format!("SECRET_TOKEN={SECRET}");
    // 1: starts the server; 2: the server runs; 3: the prompt is typed.
    let first = server.cli(&[
        "run",
        "-a",
        "demo",
        "-s",
        "one",
        "-e",
        &secret,
        "-e",
        "DOEFF_DEMO_SCENARIO=wait",
        "-p",
        PROMPT,
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    let after_start: Vec<String> = ps_lines().into_iter().filter(|l| leaks(l)).collect();
    let second = server.cli(&[
        "run",
        "-a",
        "demo",
        "-s",
        "two",
        "-e",
        &secret,
        "-e",
        "DOEFF_DEMO_SCENARIO=wait",
        "-p",
        PROMPT,
    ]);
    assert!(second.status.success(), "{}", stderr(&second));
    let echo_env = format!("DOEFF_DEMO_ECHO_FILE={}", echo.display());
    let adapters_arg = adapters.to_string_lossy().into_owned();
    let mut watching = server
        .command(&[
            "--adapters",
            &adapters_arg,
            "run",
            "-a",
            "typed",
            "-s",
            "three",
            "-e",
            &secret,
            "-e",
            "DOEFF_DEMO_SCENARIO=echo",
            "-e",
            &echo_env,
            "-p",
            PROMPT,
            "--watch",
            "--timeout",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn run --watch");
    wait_for(
        "the typed prompt to arrive",
        Duration::from_secs(60),
        || {
            let text = std::fs::read_to_string(&echo).ok()?;
            text.contains(PROMPT).then_some(())
        },
    );
    // The long-lived CLI hid its own arguments.
    let own = std::fs::read(format!("/proc/{}/cmdline", watching.id())).expect("cmdline");
    let own = String::from_utf8_lossy(&own).replace('\0', " ");
    assert!(
        !own.contains(SECRET) && !own.contains(PROMPT),
        "run --watch shows {own:?}"
    );
    let after_all: Vec<String> = ps_lines().into_iter().filter(|l| leaks(l)).collect();
    stop.store(true, Ordering::Relaxed);
    let during = scanner.join().expect("scanner");
    let _ = watching.kill();
    let _ = watching.wait();

    assert!(
        after_start.is_empty(),
        "after the first launch: {after_start:#?}"
    );
    assert!(after_all.is_empty(), "after the launches: {after_all:#?}");
    assert!(during.is_empty(), "during the launches: {during:#?}");
    // The server's title holds no environment (no PATH=...).
    let socket = format!("-L {}", server.socket);
    let titles: Vec<String> = command_lines()
        .into_iter()
        .map(|(_, line)| line)
        .filter(|line| line.starts_with("tmux") && line.contains(&socket))
        .collect();
    assert!(!titles.is_empty(), "the server is running");
    for title in &titles {
        assert!(!title.contains("PATH="), "server title {title:?}");
    }
    // The agents got the secret, through their environment.
    let names = server.session_names();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in names {
        let out = std::process::Command::new("tmux")
            .args(["-L", &server.socket, "show-environment", "-t"])
            .arg(format!("={name}"))
            .arg("SECRET_TOKEN")
            .output()
            .expect("tmux");
        assert_eq!(stdout(&out).trim(), secret, "{name}");
    }
}
