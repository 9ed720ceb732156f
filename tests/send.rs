//! Sending from the command line against the demo agent's `echo` scenario
//! (it records every submitted message byte for byte): concurrent sends to
//! one session arrive as separate messages.

mod support;

use std::time::{Duration, Instant};

use doeff_agents::demo::parse_echo_records;
use support::{TestServer, stderr, wait_for};

const PATIENCE: Duration = Duration::from_secs(30);

/// Launches the echo demo as `name`; returns the echo file.
fn echo_agent(server: &TestServer, name: &str) -> std::path::PathBuf {
    let echo = server.path(&format!("{name}.echo"));
    let env = format!("DOEFF_DEMO_ECHO_FILE={}", echo.display());
    server.launch_demo(name, "echo", &["-e", &env]);
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

/// A stand-in agent that shows a trust dialog and logs every byte it reads.
const DIALOG_AGENT: &str = r#"
return agents.adapter {
  name = "asking",
  binary = "sh",
  injection = "arg",
  ready_pattern = "^>( |$)",
  dialogs = { { id = "trust", match = "Do you trust the files in this folder?",
    reason = "trust_dialog", answer = { "Enter" }, safe = true } },
  launch = function(cfg)
    return { "sh", "-c", [[
      stty raw -echo
      printf ' Do you trust the files in this folder?\r\n  1. Yes\r\n  2. No\r\n'
      exec cat > "$KEYS_LOG"
    ]] }
  end,
}
"#;

#[test]
fn keys_answer_a_dialog_and_text_is_refused_at_once() {
    let server = TestServer::new();
    let dir = server.path("adapters");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("asking.lua"), DIALOG_AGENT).expect("adapter");
    let adapters = dir.to_string_lossy().into_owned();
    let log = server.path("keys.log");
    let env = format!("KEYS_LOG={}", log.display());
    let cli = |args: &[&str]| {
        let mut all = vec!["--adapters", adapters.as_str()];
        all.extend_from_slice(args);
        server.cli(&all)
    };
    let out = cli(&["run", "-a", "asking", "-s", "keys", "-e", &env]);
    assert!(out.status.success(), "{}", stderr(&out));
    let logged = || std::fs::read(&log).unwrap_or_default();

    // Text waits for a composer that no dialog will give: refused at once.
    let started = Instant::now();
    let out = cli(&["send", "keys", "hello"]);
    let err = support::assert_one_line_error(&out);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains("its trust dialog (trust_dialog) is on screen")
            && err.contains("doeff-agents send doeff-keys --keys Enter"),
        "{err}"
    );
    // Key names outside the allow-list are refused; nothing is sent.
    for bad in ["Enter; kill-server", "yes", "#{pane_pid}", "C-"] {
        let out = cli(&["send", "keys", "--keys", "Enter", bad]);
        let err = support::assert_one_line_error(&out);
        assert!(err.contains("is not a key"), "{bad}: {err}");
    }
    assert!(logged().is_empty(), "{:?}", logged());

    let out = cli(&[
        "send", "keys", "--keys", "Down", "Enter", "y", "1", "Tab", "Esc", "C-c",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let want = b"\x1b[B\ry1\t\x1b\x03".to_vec();
    wait_for("the keys", PATIENCE, || (logged() == want).then_some(()));

    // The same from Lua: s:send_keys{...} and s:keys(...).
    let script = server.path("keys.lua");
    std::fs::write(
        &script,
        r#"local s = assert(agents.session("keys"))
assert(s:send_keys{ "2" })
assert(s:keys("Up", "n"))
local ok, err = s:send_keys{ "rm -rf" }
assert(ok == nil and err:find("is not a key"), tostring(err))
"#,
    )
    .expect("script");
    let out = cli(&["script", &script.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut want = want;
    want.extend_from_slice(b"2\x1b[An");
    wait_for("the Lua keys", PATIENCE, || {
        (logged() == want).then_some(())
    });
}
