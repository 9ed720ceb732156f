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
        let out = server.path("supervise.out");
        let err = server.path("supervise.err");
        let mut all = vec!["supervise", "-i", "0.2"];
        all.extend_from_slice(args);
        let child = server
            .command(&all)
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
