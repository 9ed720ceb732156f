//! `doeff-agents supervise` end to end over live demo sessions in a
//! throwaway tmux server: hot reload of an edited script (new handler
//! output soon, `agents.state` carried over, the old handler silent), a
//! broken edit (one `file:line` error, the last good version still
//! running), a second script dropped into the folder, handler errors that
//! do not stop the loop, sessions launched after the start, and `--check`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use support::{TestServer, stderr, stdout, wait_for};

const PATIENCE: Duration = Duration::from_secs(30);

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("dir");
    }
    // Written whole, then renamed into place, as editors save.
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A supervisor child whose stdout and stderr go to files; SIGTERM on drop.
struct Running {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Running {
    fn start(server: &TestServer, args: &[&str]) -> Running {
        Self::start_with(server, "supervise", args, &[])
    }

    /// `supervise -i 0.2 ARGS` with extra environment; output in TAG.out/.err.
    fn start_with(server: &TestServer, tag: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
        let out = server.path(&format!("{tag}.out"));
        let err = server.path(&format!("{tag}.err"));
        let mut all = vec!["supervise", "-i", "0.2"];
        all.extend_from_slice(args);
        let mut command = server.command(&all);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&err).expect("err"))
            .spawn()
            .expect("supervise");
        Running { child, out, err }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits until stdout holds `needle`; the whole stdout.
    fn wait_stdout(&self, needle: &str, timeout: Duration) -> String {
        wait_for(&format!("{needle:?} on stdout"), timeout, || {
            let text = self.stdout();
            text.contains(needle).then_some(text)
        })
    }

    fn wait_stderr(&self, needle: &str, timeout: Duration) -> String {
        wait_for(&format!("{needle:?} on stderr"), timeout, || {
            let text = self.stderr();
            text.contains(needle).then_some(text)
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scripts_dir(server: &TestServer) -> PathBuf {
    server.dir.join("config/doeff-agents/scripts")
}

const V1: &str = r#"
agents.state.ticks = agents.state.ticks or 0
agents.every(0.1, function()
  agents.state.ticks = agents.state.ticks + 1
  print("v1 tick " .. agents.state.ticks)
end)
agents.on("status_changed", function(s, old, new, obs)
  print(string.format("v1 change %s %s->%s", s.name, old, new))
end)
"#;

const V2: &str = r#"
agents.state.ticks = agents.state.ticks or 0
agents.every(0.1, function()
  agents.state.ticks = agents.state.ticks + 1
  print("v2 tick " .. agents.state.ticks)
end)
agents.on("status_changed", function(s, old, new, obs)
  print(string.format("v2 change %s %s->%s (%s)", s.name, old, new, obs.reason))
end)
"#;

/// The numbers after `prefix` on stdout, in order.
fn ticks(text: &str, prefix: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

#[test]
fn edited_scripts_are_hot_reloaded_with_their_state_and_broken_edits_keep_the_last_good() {
    let server = TestServer::new();
    server.launch_waiting_demo("before");
    let script = scripts_dir(&server).join("watcher.lua");
    write(&script, V1);
    let running = Running::start(&server, &[]);
    // A session found already waiting is reported to the handler.
    running.wait_stdout("v1 change doeff-before running->blocked", PATIENCE);
    running.wait_stdout("v1 tick 3", PATIENCE);

    // The edit: the new handler runs within 2 s; the count carries on.
    write(&script, V2);
    let edited = Instant::now();
    let text = running.wait_stdout("v2 tick", PATIENCE);
    let took = edited.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "reload took {took:?} (2 s wanted on an idle machine)"
    );
    let text = running.wait_stdout(
        &format!(
            "v2 tick {}",
            ticks(&text, "v2 tick ").first().copied().unwrap_or(0) + 3
        ),
        PATIENCE,
    );
    let v1 = ticks(&text, "v1 tick ");
    let v2 = ticks(&text, "v2 tick ");
    let last_v1 = *v1.last().expect("v1 ticked");
    assert_eq!(v2[0], last_v1 + 1, "agents.state carried over:\n{text}");
    // The old timer stopped: no v1 line after the first v2 line.
    let first_v2 = text.find("v2 tick").expect("v2");
    assert!(
        !text[first_v2..].contains("v1 "),
        "the old version still runs:\n{text}"
    );
    assert!(
        running.stderr().contains("reloaded"),
        "{}",
        running.stderr()
    );

    // A session launched now reaches the new handler only.
    server.launch_waiting_demo("after");
    let text = running.wait_stdout(
        "v2 change doeff-after running->blocked (idle_prompt)",
        PATIENCE,
    );
    assert!(!text.contains("v1 change doeff-after"), "{text}");

    // A broken edit: one error with file:line; the last good keeps ticking.
    write(
        &script,
        "agents.every(0.1, function() end)\nlocal x = = 1\n",
    );
    let errors = running.wait_stderr("watcher.lua:2:", PATIENCE);
    let before = ticks(&running.stdout(), "v2 tick ")
        .last()
        .copied()
        .unwrap_or(0);
    running.wait_stdout(&format!("v2 tick {}", before + 5), PATIENCE);
    let errors_now = running.stderr();
    assert_eq!(
        errors_now.matches("watcher.lua:2:").count(),
        1,
        "the broken version is reported once:\n{errors_now}"
    );
    assert!(
        errors.contains(&script.to_string_lossy().into_owned()),
        "{errors}"
    );

    // A second script dropped into the folder; a handler error in it is
    // reported with file:line and stops nothing.
    let second = scripts_dir(&server).join("second.lua");
    write(
        &second,
        "agents.every(0.1, function()\n  print('second tick')\n  error('handler broke')\nend)\n",
    );
    running.wait_stdout("second tick", PATIENCE);
    let errors = running.wait_stderr("second.lua:3: handler broke", PATIENCE);
    assert_eq!(
        errors.matches("second.lua:3: handler broke").count(),
        1,
        "a repeated error is printed once:\n{errors}"
    );
    let before = ticks(&running.stdout(), "v2 tick ")
        .last()
        .copied()
        .unwrap_or(0);
    running.wait_stdout(&format!("v2 tick {}", before + 3), PATIENCE);

    // Removing a file removes its handlers.
    std::fs::remove_file(&second).expect("rm");
    running.wait_stderr("removed", PATIENCE);
    let seen = running.stdout().matches("second tick").count();
    let before = ticks(&running.stdout(), "v2 tick ")
        .last()
        .copied()
        .unwrap_or(0);
    running.wait_stdout(&format!("v2 tick {}", before + 5), PATIENCE);
    assert!(
        running.stdout().matches("second tick").count() <= seen + 1,
        "a removed script keeps running"
    );
}

#[test]
fn handlers_can_sleep_without_stopping_the_loop_and_spawned_tasks_run() {
    let server = TestServer::new();
    let script = server.path("tasks.lua");
    write(
        &script,
        r#"
agents.spawn(function()
  for i = 1, 3 do
    print("task " .. i)
    agents.sleep(0.2)
  end
end)
agents.every(0.1, function()
  agents.sleep(5) -- a sleeping timer call yields; the loop goes on
end)
agents.every(0.1, function() print("tick") end)
"#,
    );
    let path = script.to_string_lossy().into_owned();
    let running = Running::start(&server, &[&path]);
    running.wait_stdout("task 3", PATIENCE);
    let text = running.wait_stdout("tick\ntick\ntick", PATIENCE);
    assert!(text.contains("task 1"), "{text}");
}

#[test]
fn check_reports_each_broken_script_as_file_line_and_fails() {
    let server = TestServer::new();
    let dir = server.path("scripts");
    write(
        &dir.join("good.lua"),
        "agents.on('status_changed', function() end)\n",
    );
    write(
        &dir.join("bad.lua"),
        "\n\nagents.on('nope', function() end)\n",
    );
    write(&dir.join("syntax.lua"), "if then\n");
    let dir_arg = dir.to_string_lossy().into_owned();
    let out = server.cli(&["supervise", "--check", &dir_arg]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bad.lua:3: unknown event 'nope'"), "{err}");
    assert!(err.contains("syntax.lua:1:"), "{err}");
    assert!(!err.contains("good.lua"), "{err}");

    std::fs::remove_file(dir.join("bad.lua")).expect("rm");
    std::fs::remove_file(dir.join("syntax.lua")).expect("rm");
    let out = server.cli(&["supervise", "--check", &dir_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 script(s) loaded"),
        "{}",
        stdout(&out)
    );

    let missing = server.cli(&["supervise", "--check", "/no/such/script.lua"]);
    support::assert_one_line_error(&missing);
}

#[test]
fn the_supervisor_examples_pass_check() {
    let server = TestServer::new();
    let out = server.cli(&["supervise", "--check", &example("")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 script(s) loaded"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn observe_all_is_one_pass_over_given_or_all_sessions_and_keeps_history() {
    let server = TestServer::new();
    server.launch_waiting_demo("one");
    server.launch_waiting_demo("two");
    let script = server.path("all.lua");
    write(
        &script,
        r#"
local all = assert(agents.observe_all())
table.sort(all, function(a, b) return a.name < b.name end)
for _, o in ipairs(all) do print("all", o.name, o.session.name, type(o.status)) end
local one = assert(agents.session("one"))
local deadline = agents.now() + 20
local status
repeat
  local got = assert(agents.observe_all({ one }))
  assert(#got == 1 and got[1].session == one and got[1].name == "doeff-one")
  status = got[1].status
  if status ~= "blocked" then agents.sleep(0.1) end
until status == "blocked" or agents.now() > deadline
print("one", status)
-- The handle kept its history: the next observation's previous is blocked.
print("previous", agents.observe_all({ one })[1].previous)
local ok, err = pcall(agents.observe_all, { "not a session" })
print("bad", ok, err)
"#,
    );
    let out = server.cli(&["script", &script.to_string_lossy()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("all\tdoeff-one\tdoeff-one\tstring"), "{text}");
    assert!(text.contains("all\tdoeff-two\tdoeff-two\tstring"), "{text}");
    assert!(text.contains("one\tblocked"), "{text}");
    assert!(text.contains("previous\tblocked"), "{text}");
    assert!(
        text.contains("bad\tfalse") && text.contains("wants a list of sessions, got a string"),
        "{text}"
    );
}

/// A stand-in `notify-send` in `dir` that appends its argv (fields ended
/// by \x1f, one call a line) to `log`; the PATH to use.
fn stand_in_notify_send(server: &TestServer) -> (String, PathBuf) {
    let dir = server.path("bin");
    let log = server.path("notify.log");
    let fake = dir.join("notify-send");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\037' \"$@\" >> '{log}'\nprintf '\\n' >> '{log}'\n",
            log = log.display()
        ),
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, log)
}

/// The recorded notify-send calls, each as its argv.
fn notify_calls(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            line.split('\u{1f}')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("lua/examples/supervise")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn notify_passes_its_text_as_argv_to_notify_send_and_falls_back_to_tmux() {
    let server = TestServer::new();
    let (path, log) = stand_in_notify_send(&server);
    let script = server.path("notify.lua");
    write(
        &script,
        r#"
print(agents.notify { title = "t $(touch x) `y`", body = "b; c 'd'", urgency = "critical" })
print(agents.notify { title = "-n only a title" })
print(pcall(agents.notify, { title = "x", urgency = "loud" }))
print(pcall(agents.notify, { body = "no title" }))
"#,
    );
    let out = server
        .command(&["script", &script.to_string_lossy()])
        .env("PATH", &path)
        .output()
        .expect("script");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert_eq!(text.matches("notify-send").count(), 2, "{text}");
    assert!(
        text.contains("urgency is low, normal or critical"),
        "{text}"
    );
    assert!(text.contains("agents.notify needs a title"), "{text}");
    let calls = notify_calls(&log);
    assert_eq!(
        calls,
        vec![
            vec![
                "-u",
                "critical",
                "-a",
                "doeff-agents",
                "--",
                "t $(touch x) `y`",
                "b; c 'd'"
            ],
            vec![
                "-u",
                "normal",
                "-a",
                "doeff-agents",
                "--",
                "-n only a title"
            ],
        ],
        "exact argv"
    );
    assert!(!server.dir.join("x").exists());

    // No desktop notifier on PATH: a bell (and a message to attached clients: none here).
    let bare = server.path("empty-bin");
    std::fs::create_dir_all(&bare).expect("dir");
    let out = server
        .command(&["script", &script.to_string_lossy()])
        .env("PATH", bare.to_string_lossy().as_ref())
        .output()
        .expect("script");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.starts_with("bell\nbell\n"), "{text}");
}

#[test]
fn the_attention_example_notifies_once_per_transition() {
    let server = TestServer::new();
    let (path, log) = stand_in_notify_send(&server);
    server.launch_waiting_demo("waits");
    server.launch_demo(
        "fails",
        "fail",
        &["-p", "go", "-e", "DOEFF_DEMO_WORK_MS=300"],
    );
    let script = example("notify_attention.lua");
    let running = Running::start_with(&server, "attention", &[&script], &[("PATH", &path)]);
    running.wait_stdout("told: doeff-waits blocked", PATIENCE);
    running.wait_stdout("told: doeff-fails failed", PATIENCE);
    // Many passes later, still one notification per transition.
    let passes_later = Instant::now() + Duration::from_secs(2);
    while Instant::now() < passes_later {
        std::thread::sleep(Duration::from_millis(100));
    }
    let calls = notify_calls(&log);
    let waits: Vec<_> = calls
        .iter()
        .filter(|c| c.iter().any(|a| a == "doeff-waits is blocked"))
        .collect();
    let fails: Vec<_> = calls
        .iter()
        .filter(|c| c.iter().any(|a| a == "doeff-fails is failed"))
        .collect();
    assert_eq!(waits.len(), 1, "{calls:?}");
    assert_eq!(fails.len(), 1, "{calls:?}");
    assert_eq!(fails[0][1], "critical", "{calls:?}");
}

#[test]
fn the_usage_limit_waiter_continues_after_an_announced_reset_and_never_guesses() {
    let server = TestServer::new();
    server.launch_demo(
        "lim",
        "rate_limit",
        &[
            "-p",
            "go",
            "-e",
            "DOEFF_DEMO_WORK_MS=200",
            "-e",
            "DOEFF_DEMO_LIMIT_TEXT=Claude usage limit reached. Your limit will reset in 2 seconds.",
        ],
    );
    server.launch_demo(
        "nolimit",
        "rate_limit",
        &["-p", "go", "-e", "DOEFF_DEMO_WORK_MS=200"],
    );
    let script = example("usage_limit_wait.lua");
    let running = Running::start_with(&server, "limit", &[&script], &[("DOEFF_LIMIT_MARGIN", "0")]);
    let text = running.wait_stdout("doeff-lim: sent continue", PATIENCE);
    assert!(text.contains("doeff-lim: limit resets in 2s"), "{text}");
    running.wait_stdout("doeff-nolimit: limit without a reset time", PATIENCE);
    let screen = wait_for("continue typed", PATIENCE, || {
        let screen = stdout(&server.cli(&["output", "lim"]));
        screen.contains("> continue").then_some(screen)
    });
    assert!(screen.contains("usage limit reached"), "{screen}");
    let other = stdout(&server.cli(&["output", "nolimit"]));
    assert!(!other.contains("continue"), "{other}");
}

#[test]
fn the_usage_limit_parser_reads_the_reset_forms() {
    let server = TestServer::new();
    let script = server.path("parse.lua");
    write(
        &script,
        &format!(
            r#"
local m = dofile({file:?})
local now = os.time {{ year = 2026, month = 1, day = 2, hour = 14, min = 0, sec = 0 }}
for _, line in ipairs {{
  "You've hit your usage limit. Try again in 2 hours 5 minutes.",
  "Claude usage limit reached. Your limit will reset at 3pm (Europe/London).",
  "5-hour limit reached ∙ resets 3:30pm",
  "Usage limit reached, try again at 13:00",
  "API Error: 429 rate limit exceeded",
}} do
  print(tostring(m.reset_in(line, now)))
end
"#,
            file = example("usage_limit_wait.lua")
        ),
    );
    let out = server.cli(&["script", &script.to_string_lossy()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert_eq!(text, "7500\n3600\n5400\n82800\nnil\n");
}

#[test]
fn the_allow_list_approver_approves_listed_commands_and_leaves_others_notified() {
    let server = TestServer::new();
    let (path, log) = stand_in_notify_send(&server);
    let script = example("approve_allowlist.lua");
    let demo = [
        "-p",
        "go",
        "-e",
        "DOEFF_DEMO_WORK_MS=300",
        "-e",
        "DOEFF_DEMO_APPROVE_AFTER_MS=0",
    ];
    let start = |allow: Option<&str>, tag: &str| {
        let mut env = vec![("PATH", path.as_str())];
        if let Some(allow) = allow {
            env.push(("DOEFF_APPROVE_ALLOW", allow));
        }
        Running::start_with(&server, tag, &[&script], &env)
    };

    // Not on the list: left for the person, who is notified.
    let running = start(Some("^ls$"), "deny");
    server.launch_demo("deny", "", &demo);
    running.wait_stdout("doeff-deny: left for you: touch demo-output.txt", PATIENCE);
    let calls = notify_calls(&log);
    assert!(
        calls
            .iter()
            .any(|c| c.iter().any(|a| a == "doeff-deny asks for permission")),
        "{calls:?}"
    );
    drop(running);

    // On the default list: approved, and the agent finishes.
    let running = start(None, "allow");
    server.launch_demo("allow", "", &demo);
    running.wait_stdout("doeff-allow: approved \"touch demo-output.txt\"", PATIENCE);
    wait_for("the approved agent to finish", PATIENCE, || {
        let screen = stdout(&server.cli(&["output", "allow"]));
        screen.contains("Task completed successfully").then_some(())
    });
}

#[test]
fn one_detached_supervisor_per_server_with_status_and_stop() {
    let server = TestServer::new();
    let dir = server.path("scripts");
    write(
        &dir.join("mark.lua"),
        &format!(
            "agents.on('status_changed', function(s, old, new)\n  local f = assert(io.open({:?}, 'a'))\n  f:write(s.name, ' ', new, '\\n')\n  f:close()\nend)\n",
            server.path("marks").display()
        ),
    );
    write(&dir.join("broken.lua"), "\nlocal = 1\n");
    let dir_arg = dir.to_string_lossy().into_owned();

    let none = server.cli(&["supervise", "--status"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stdout(&none).contains("no supervisor runs"),
        "{}",
        stdout(&none)
    );

    let started = server.cli(&["supervise", "--detach", &dir_arg]);
    assert!(started.status.success(), "{}", stderr(&started));
    assert!(
        stdout(&started).contains("supervisor started"),
        "{}",
        stdout(&started)
    );
    assert!(
        server
            .session_names()
            .contains(&"_doeff-supervisor".to_owned())
    );

    // Only one per server, detached or not.
    let again = server.cli(&["supervise", "--detach", &dir_arg]);
    let err = support::assert_one_line_error(&again);
    assert!(err.contains("already runs on this tmux server"), "{err}");
    let foreground = server.cli(&["supervise", &dir_arg]);
    let err = support::assert_one_line_error(&foreground);
    assert!(err.contains("already runs"), "{err}");

    let status = server.cli(&["supervise", "--status"]);
    let text = stdout(&status);
    assert!(status.status.success(), "{text}");
    assert!(text.contains("in tmux session _doeff-supervisor"), "{text}");
    assert!(text.contains("mark.lua (loaded, 1 load(s))"), "{text}");
    assert!(text.contains("broken.lua (not loaded"), "{text}");
    assert!(text.contains("broken.lua:2:"), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&server.cli(&["supervise", "--status", "--json"]).stdout)
            .expect("JSON");
    assert_eq!(json["running"], true);
    assert_eq!(
        json["supervisor"]["scripts"].as_array().map(Vec::len),
        Some(2)
    );

    // It supervises: a session launched now reaches its handler.
    server.launch_waiting_demo("seen");
    wait_for("the detached supervisor's handler", PATIENCE, || {
        let marks = std::fs::read_to_string(server.path("marks")).unwrap_or_default();
        marks.contains("doeff-seen blocked").then_some(())
    });

    let stopped = server.cli(&["supervise", "--stop"]);
    assert!(stopped.status.success(), "{}", stderr(&stopped));
    assert_eq!(
        server.cli(&["supervise", "--status"]).status.code(),
        Some(1)
    );
    assert!(
        !server
            .session_names()
            .contains(&"_doeff-supervisor".to_owned())
    );
    assert_eq!(server.cli(&["supervise", "--stop"]).status.code(), Some(1));
    // The sessions it watched keep running.
    assert!(server.session_names().contains(&"doeff-seen".to_owned()));
}

#[test]
fn a_watched_run_is_resumable_and_run_resume_watch_relaunches_it() {
    let server = TestServer::new();
    let demo = [
        "-e",
        "DOEFF_DEMO_WORK_MS=200",
        "-e",
        "DOEFF_DEMO_APPROVE_AFTER_MS=300",
    ];
    let mut first = vec![
        "run",
        "-a",
        "demo",
        "-s",
        "again",
        "-p",
        "go",
        "--watch",
        "--timeout",
        "30",
    ];
    first.extend_from_slice(&demo);
    let out = server.cli(&first);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("-> done"), "{}", stdout(&out));
    // The ended session is still there (its last screen kept); resuming
    // relaunches it and watches it again.
    let mut resume = vec![
        "run",
        "--resume",
        "again",
        "-p",
        "more",
        "--watch",
        "--timeout",
        "30",
    ];
    resume.extend_from_slice(&demo);
    let out = server.cli(&resume);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("launched doeff-again"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("-> done"), "{}", stdout(&out));

    // One still running is not replaced.
    server.launch_waiting_demo("busy");
    let out = server.cli(&["run", "--resume", "busy", "--watch", "--timeout", "5"]);
    let err = support::assert_one_line_error(&out);
    assert!(err.contains("still running"), "{err}");
}
