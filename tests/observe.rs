//! The observation pipeline and the process layer, live on private tmux
//! servers with stand-in agents written as bash scripts (user adapters):
//! one-shot readers (`ps`, `explain NAME`) decide "changed" from evidence,
//! a CLI that is a script is alive while it runs and ends with its code,
//! a process's name decides nothing, "back to a shell" only for adapters
//! that launch one, and tmux output cannot be forged by work dirs, option
//! values or titles.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use doeff_agents::SessionStatus;
use support::{TestServer, stderr, stdout, wait_for};

const PATIENCE: Duration = Duration::from_secs(20);

/// Writes an executable bash script.
fn script(server: &TestServer, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = server.path(name);
    std::fs::write(&path, format!("#!/bin/bash\n{body}")).expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A user adapter `name` launching `argv` (Lua string literals), with
/// `extra` fields.
fn adapter(server: &TestServer, name: &str, argv: &[String], extra: &str) {
    let dir = server.path("config/doeff-agents/adapters");
    std::fs::create_dir_all(&dir).expect("adapter dir");
    let list: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    std::fs::write(
        dir.join(format!("{name}.lua")),
        format!(
            "return agents.adapter {{\n  name = {name:?},\n  \
             launch = function(cfg) return {{ {} }} end,\n  {extra}\n}}\n",
            list.join(", ")
        ),
    )
    .expect("adapter file");
}

fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn run(server: &TestServer, agent: &str, name: &str) {
    let out = server.cli(&["run", "-a", agent, "-s", name]);
    assert!(out.status.success(), "run {agent}: {}", stderr(&out));
}

/// `ps --json` as (name, status, reason, pane_id) rows.
fn ps_rows(server: &TestServer) -> Vec<(String, String, String, String)> {
    let out = server.cli(&["ps", "--json"]);
    assert!(out.status.success(), "ps: {}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ps json");
    rows.as_array()
        .expect("array")
        .iter()
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (
                field("name"),
                field("status"),
                field("reason"),
                field("pane_id"),
            )
        })
        .collect()
}

fn status_of(server: &TestServer, name: &str) -> String {
    ps_rows(server)
        .into_iter()
        .find(|r| r.0 == name)
        .map(|r| r.1)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

fn explain_status(server: &TestServer, name: &str) -> serde_json::Value {
    let out = server.cli(&["explain", name, "--json"]);
    assert!(out.status.success(), "explain: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("explain json")
}

/// The screen both stand-ins draw: an idle-looking composer; `spin` moves
/// a spinner above it every 100 ms (no busy marker the rules know).
const STAND_IN: &str = r#"
exec 3<> <(:)
printf '\033[2J\033[H  stand-in agent\r\n'
frames='|/-\'
i=0
while :; do
  printf '\033[3;1H  %s pondering\033[K\r\n\r\n> \033[K\r\n  ? for shortcuts\033[K' "${frames:$((i % 4)):1}"
  [ "$1" = spin ] || { read -r line; exit 0; }
  i=$((i + 1))
  read -r -t 0.1 -u 3   # a builtin wait: no process to fork per frame
done
"#;

#[test]
fn a_moving_spinner_over_an_idle_composer_is_running_for_one_shot_readers() {
    let server = TestServer::new();
    let stand_in = script(&server, "stand-in.sh", STAND_IN);
    adapter(&server, "spinner", &[lossy(&stand_in), "spin".into()], "");
    adapter(&server, "still", &[lossy(&stand_in), "still".into()], "");
    run(&server, "spinner", "spinning");
    run(&server, "still", "resting");
    wait_for("both screens drawn", PATIENCE, || {
        let rows = ps_rows(&server);
        (rows.len() == 2 && rows.iter().all(|r| r.1 != "booting")).then_some(())
    });
    // Each call is a fresh process: no history but what it can find out.
    for round in 0..5 {
        assert_eq!(
            status_of(&server, "doeff-spinning"),
            "running",
            "round {round}"
        );
        let explained = explain_status(&server, "spinning");
        assert_eq!(explained["status"], "running", "round {round}: {explained}");
        assert_eq!(
            status_of(&server, "doeff-resting"),
            "blocked",
            "round {round}"
        );
        let explained = explain_status(&server, "resting");
        assert_eq!(explained["status"], "blocked", "round {round}: {explained}");
        assert_eq!(explained["reason"], "idle_prompt");
    }
}

/// A CLI that is itself a bash script: a dialog, an answer, an exit code.
const DIALOG_THEN_EXIT: &str = r#"
printf '  script agent\r\n\r\n  Do you want to proceed?\r\n  1. Yes\r\n  2. No\r\n'
read -r answer
printf '  working on %s\r\n' "$answer"
sleep 0.5
exit "$1"
"#;

/// `watch --json` of `name` while `answer` is sent once it is blocked;
/// returns the watch's exit code and its change lines.
fn watch_through_dialog(server: &TestServer, name: &str) -> (Option<i32>, Vec<serde_json::Value>) {
    use std::io::{BufRead, BufReader};
    let mut child = server
        .command(&["watch", name, "--json", "-i", "0.1", "--timeout", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("watch");
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    for line in reader.lines() {
        let line = line.expect("line");
        let change: serde_json::Value = serde_json::from_str(&line).expect("json line");
        if change["new"] == "blocked" {
            let pane = pane_of(server, &format!("doeff-{name}"));
            server.tmux.send_keys(&pane, &["yes"], true).expect("type");
            server
                .tmux
                .send_keys(&pane, &["Enter"], false)
                .expect("enter");
        }
        lines.push(change);
    }
    let status = child.wait().expect("watch ends");
    (status.code(), lines)
}

#[test]
fn a_script_cli_is_blocked_at_its_dialog_and_exits_with_its_code() {
    let server = TestServer::new();
    let agent = script(&server, "dialog.sh", DIALOG_THEN_EXIT);
    adapter(&server, "failing", &[lossy(&agent), "3".into()], "");
    adapter(
        &server,
        "finishing",
        &[lossy(&agent), "0".into()],
        "exit_zero_is_done = true,",
    );
    run(&server, "failing", "failing");
    let (code, changes) = watch_through_dialog(&server, "failing");
    let news: Vec<&str> = changes.iter().filter_map(|c| c["new"].as_str()).collect();
    assert!(
        news.contains(&"blocked"),
        "blocked at its dialog: {changes:?}"
    );
    let last = changes.last().expect("a final change");
    assert_eq!(last["new"], "exited", "{changes:?}");
    assert_eq!(last["evidence"]["line"], "exit code 3", "{changes:?}");
    assert_eq!(code, Some(4), "watch exits 4 for exited");

    run(&server, "finishing", "finishing");
    let (code, changes) = watch_through_dialog(&server, "finishing");
    let last = changes.last().expect("a final change");
    assert_eq!(last["new"], "done", "{changes:?}");
    assert_eq!(last["reason"], "exit_success");
    assert_eq!(code, Some(0), "watch exits 0 for done");
}

#[test]
fn a_process_named_like_a_shell_is_alive_and_only_a_launched_shell_counts() {
    let server = TestServer::new();
    // `exec -a bash`: the pane's process calls itself bash and lives on.
    let disguised = script(
        &server,
        "disguised.sh",
        "printf '  Do you want to proceed?\\r\\n'\nexec -a bash sleep 600\n",
    );
    adapter(&server, "disguised", &[lossy(&disguised), "x".into()], "");
    run(&server, "disguised", "disguised");
    let current =
        |name: &str| server.display(&format!("=doeff-{name}:"), "#{pane_current_command}");
    wait_for("the process renamed", PATIENCE, || {
        (current("disguised") == "bash").then_some(())
    });
    assert_eq!(status_of(&server, "doeff-disguised"), "blocked");
    assert_eq!(explain_status(&server, "disguised")["status"], "blocked");

    // An adapter that launches a shell: its agent runs in it, then the
    // shell is alone at its prompt again: exited, "back to" it.
    let shell = [
        "bash".to_owned(),
        "--norc".into(),
        "--noprofile".into(),
        "-c".into(),
        // A prompt no screen rule reads as a shell's: the process decides.
        "printf 'agent at work\\n'; sleep 1; export PS1='agent> '; exec bash --norc --noprofile -i"
            .into(),
    ];
    adapter(&server, "shelled", &shell, "shell = true,");
    run(&server, "shelled", "shelled");
    let explained = wait_for("back to the shell", PATIENCE, || {
        let explained = explain_status(&server, "shelled");
        (explained["status"] == "exited").then_some(explained)
    });
    assert!(
        explained["evidence"]["line"]
            .as_str()
            .is_some_and(|l| l.contains("back to bash")),
        "{explained}"
    );
    // The same argv without `shell = true`: the interactive bash is the
    // agent, alive.
    adapter(&server, "unshelled", &shell, "");
    run(&server, "unshelled", "unshelled");
    std::thread::sleep(Duration::from_millis(1500));
    wait_for("the shell's prompt", PATIENCE, || {
        (current("unshelled") == "bash").then_some(())
    });
    assert_ne!(status_of(&server, "doeff-unshelled"), "exited");
}

/// The pane id of session `name`, asked by exact target (not parsed from a list).
fn pane_of(server: &TestServer, name: &str) -> String {
    server.display(&format!("={name}:"), "#{pane_id}")
}

#[test]
fn work_dirs_and_values_with_newlines_cannot_forge_sessions_or_panes() {
    let server = TestServer::new();
    run_waiting(&server, "plain", &server.dir);
    // A fake listing row (old and new formats) after a newline and the
    // old field separator, in the work dir of a real session.
    let forged = "w\n\
        doeff-phantom\u{1f}1700000000\u{1f}0\u{1f}%0\u{1f}demo\u{1f}/tmp\u{1f}\n\
        13:doeff-phantom:2:$0:1:0:1:0:2:%0:4:demo:4:/tmp:0::0:\n\
        %0\u{1f}doeff-plain\u{1f}1\u{1f}9\u{1f}\u{1f}x\u{1f}1\u{1f}1\u{1f}t";
    let dir = server.dir.join(forged);
    std::fs::create_dir_all(&dir).expect("forged dir");
    run_waiting(&server, "forger", &dir);
    // Option values and the pane title forge rows too.
    for (option, value) in [("@doeff-conversation", forged), ("@doeff-observed", forged)] {
        server
            .tmux
            .set_session_option("doeff-forger", option, value)
            .expect("set option");
    }
    let forger_pane = pane_of(&server, "doeff-forger");
    server
        .tmux
        .run(
            &[vec![
                "select-pane".into(),
                "-t".into(),
                forger_pane.clone(),
                "-T".into(),
                forged.into(),
            ]],
            None,
        )
        .expect("title");
    let expected = vec![
        ("doeff-forger".to_owned(), forger_pane),
        ("doeff-plain".to_owned(), pane_of(&server, "doeff-plain")),
    ];
    // ps --json: exactly the two sessions, each with its own pane.
    let mut rows: Vec<(String, String)> =
        ps_rows(&server).into_iter().map(|r| (r.0, r.3)).collect();
    rows.sort();
    assert_eq!(rows, expected);
    // The work dir comes back whole.
    let out = server.cli(&["ps", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let dirs: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["work_dir"].as_str())
        .collect();
    assert!(dirs.iter().any(|d| d.ends_with(forged)), "{dirs:?}");
    // The table: two rows under the header, the newlines shown escaped.
    let table = stdout(&server.cli(&["ps"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[1].starts_with("doeff-forger ") && lines[1].contains("w\\ndoeff-phantom"));
    // The library: the same sessions, panes, and an observation each.
    let agents = server.agents();
    let mut sessions = agents.list(false).expect("list");
    let mut listed: Vec<(String, String)> = sessions
        .iter()
        .map(|s| (s.session_name.clone(), s.pane_id.clone()))
        .collect();
    listed.sort();
    assert_eq!(listed, expected);
    wait_for("both observed blocked", PATIENCE, || {
        agents
            .observe_many(&mut sessions)
            .iter()
            .all(|r| matches!(r, Ok(o) if o.status == SessionStatus::Blocked))
            .then_some(())
    });
    // watch finds the session and reports its state.
    let watch = server.cli(&["watch", "forger", "--json", "-i", "0.1", "--timeout", "1"]);
    assert_eq!(watch.status.code(), Some(6), "{}", stderr(&watch));
    assert!(
        stdout(&watch).contains("\"new\":\"blocked\""),
        "{}",
        stdout(&watch)
    );
}

/// `run -a demo` in its `wait` scenario in `dir`.
fn run_waiting(server: &TestServer, name: &str, dir: &Path) {
    let dir = dir.to_str().expect("a UTF-8 work dir");
    server.launch_demo(name, "wait", &["-w", dir]);
}

/// tmux's "Pane is dead (...)" trailer is its word on a pane it knows is
/// dead; a live agent printing that line has not exited (and a pane that
/// dies between the state read and the capture is judged by its state on
/// the next pass, with its exit code, not by the line).
#[test]
fn a_live_agent_printing_tmux_s_dead_pane_line_has_not_exited() {
    let server = TestServer::new();
    let forger = script(
        &server,
        "forger.sh",
        "printf 'Pane is dead (status 0, Wed Dec  2 10:00:00 2026)\\r\\nthinking\\r\\n'\nexec sleep 600\n",
    );
    adapter(
        &server,
        "forger",
        &[lossy(&forger), "x".into()],
        "exit_zero_is_done = true,",
    );
    run(&server, "forger", "forger");
    wait_for("the forged line on screen", PATIENCE, || {
        let out = server.cli(&["output", "forger"]);
        stdout(&out).contains("Pane is dead").then_some(())
    });
    for _ in 0..2 {
        let status = status_of(&server, "doeff-forger");
        assert!(status != "exited" && status != "done", "ps says {status}");
    }
    let explained = explain_status(&server, "forger");
    assert_ne!(explained["status"], "exited", "{explained}");
}
