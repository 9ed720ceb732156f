//! The Lua side end to end: the `agents` module in scripts and the REPL, the
//! examples in lua/examples (each against the demo agent), user adapters
//! with hot reload, the adapter sandbox, and the LuaLS definition file.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use support::{TestServer, assert_one_line_error, stderr, stdout, wait_for};

const PATIENCE: Duration = Duration::from_secs(30);

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn example(name: &str) -> String {
    repo("lua/examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::write(path, text).expect("write");
}

#[test]
fn auto_approve_example_takes_the_demo_to_done() {
    let server = TestServer::new();
    let out = server.cli(&["script", &example("auto_approve.lua")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("approved"), "{text}");
    assert!(text.contains("ended done after 1 approval(s)"), "{text}");
}

#[test]
fn fan_out_example_runs_three_agents_to_done() {
    let server = TestServer::new();
    let out = server.cli(&["script", &example("fan_out.lua")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for i in 1..=3 {
        assert!(
            text.contains(&format!("doeff-fan-{i} final: done")),
            "{text}"
        );
    }
    assert!(text.contains("all done"));
}

#[test]
fn rate_limit_waiter_nudges_then_gives_up() {
    let server = TestServer::new();
    let launched = server.cli(&[
        "run",
        "-a",
        "demo",
        "-s",
        "limited",
        "-p",
        "go",
        "-e",
        "DOEFF_DEMO_SCENARIO=rate_limit",
        "-e",
        "DOEFF_DEMO_WORK_MS=200",
    ]);
    assert!(launched.status.success());
    let out = server.cli(&[
        "script",
        &example("rate_limit_wait.lua"),
        "limited",
        "0.2",
        "2",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("rate limited (rate_limit); waiting 0.2s (retry 1/2)"),
        "{text}"
    );
    assert!(text.contains("gave up after 2 retries"), "{text}");
    let screen = stdout(&server.cli(&["output", "limited"]));
    assert!(
        screen.contains("continue"),
        "the nudge reached the agent:\n{screen}"
    );
}

#[test]
fn aider_example_adapter_launches_a_cli_that_is_not_built_in() {
    let server = TestServer::new();
    // A stand-in `aider` on PATH that is really the demo agent.
    let bin_dir = server.path("bin");
    let fake = bin_dir.join("aider");
    write(
        &fake,
        &format!(
            "#!/bin/sh\nexec '{}' __demo-agent\n",
            support::bin().display()
        ),
    );
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let adapters = repo("lua/examples/adapters").to_string_lossy().into_owned();
    let out = server
        .command(&[
            "--adapters",
            &adapters,
            "run",
            "-a",
            "aider",
            "-s",
            "aid",
            "-p",
            "hello aider",
            "-e",
            "DOEFF_DEMO_WORK_MS=300",
        ])
        .env("PATH", &path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let screen = wait_for("the pasted prompt", PATIENCE, || {
        let text = stdout(&server.command(&["output", "aid"]).output().expect("output"));
        text.contains("Got your message").then_some(text)
    });
    assert!(screen.contains("hello aider"), "{screen}");
    let listed = stdout(
        &server
            .command(&["--adapters", &adapters, "adapters"])
            .env("PATH", &path)
            .output()
            .expect("adapters"),
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("aider") && l.contains("yes") && l.contains("aider.lua")),
        "{listed}"
    );
}

const MYCLI_V1: &str = r#"return agents.adapter {
  name = "mycli",
  launch = function(cfg)
    return { agents.self_exe(), "__demo-agent", "--prompt", cfg.prompt or "hi" }
  end,
  exit_zero_is_done = true,
  patterns = {
    { status = "blocked", reason = "first_rule", match = "Do you want to proceed?" },
  },
}
"#;

#[test]
fn user_adapter_is_hot_reloaded_and_a_broken_edit_keeps_the_old_one() {
    let server = TestServer::new();
    let file = server.dir.join("config/doeff-agents/adapters/mycli.lua");
    write(&file, MYCLI_V1);
    let launched = server.cli(&[
        "run",
        "-a",
        "mycli",
        "-s",
        "hot",
        "-p",
        "go",
        "-e",
        "DOEFF_DEMO_WORK_MS=200",
        "-e",
        "DOEFF_DEMO_APPROVE_AFTER_MS=0",
    ]);
    assert!(launched.status.success(), "{}", stderr(&launched));
    let explain = |server: &TestServer| -> serde_json::Value {
        serde_json::from_slice(&server.cli(&["explain", "hot", "--json"]).stdout).expect("JSON")
    };
    wait_for("the first rule", PATIENCE, || {
        (explain(&server)["reason"] == "first_rule").then_some(())
    });

    // A watch running across edits picks up the new rule.
    let mut watch = server
        .command(&["watch", "hot", "--json", "-i", "0.1", "--timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let lines = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(lines).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next_line = |what: &str| {
        rx.recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no line: {what}"))
    };
    let first = next_line("the watch's first change");
    assert!(first.contains("first_rule"), "{first}");
    let v2 = MYCLI_V1
        .replace("first_rule", "second_rule")
        .replace("status = \"blocked\"", "status = \"blocked_api\"");
    write(&file, &v2);
    let second = next_line("the edited rule");
    assert!(
        second.contains("\"new\":\"blocked_api\"") && second.contains("second_rule"),
        "{second}"
    );

    // A broken edit is reported once with path:line by the running watch.
    write(&file, BROKEN);
    std::thread::sleep(Duration::from_millis(500));
    let _ = server.cli(&["send", "hot", "1", "--no-enter"]);
    let out = watch.wait_with_output().expect("watch ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the last good adapter says done"
    );
    let err = stderr(&out);
    assert_eq!(
        err.matches("mycli.lua:1:").count(),
        1,
        "reported once with file:line: {err}"
    );
}

const BROKEN: &str = "return agents.adapter {\n  name = \"mycli\",\n  launch = 42,\n}\n";

#[test]
fn a_broken_edit_keeps_the_last_good_adapter_in_the_same_process() {
    let server = TestServer::new();
    let file = server.path("mycli.lua");
    write(&file, MYCLI_V1);
    let agents = server.agents();
    let registry = agents.adapters();
    registry.load_file(&file).expect("loads");
    let rules = |registry: &doeff_agents::AdapterRegistry| {
        registry.get("mycli").expect("adapter").rules[0]
            .reason
            .clone()
    };
    assert_eq!(rules(registry), "first_rule");
    // Some file systems keep whole-second mtimes: make the edit visible.
    let bump = |path: &Path, secs: u64| {
        let time = std::time::SystemTime::now() + Duration::from_secs(secs);
        std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open")
            .set_modified(time)
            .expect("mtime");
    };
    write(&file, &MYCLI_V1.replace("first_rule", "second_rule"));
    bump(&file, 2);
    registry.refresh();
    assert_eq!(rules(registry), "second_rule");
    assert!(registry.take_reports().is_empty());
    write(&file, BROKEN);
    bump(&file, 4);
    registry.refresh();
    registry.refresh();
    let reports = registry.take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("mycli.lua:1:"), "{reports:?}");
    assert!(reports[0].contains("launch"), "{reports:?}");
    assert_eq!(
        rules(registry),
        "second_rule",
        "the last good version stays"
    );
}

#[test]
fn a_runaway_classify_hook_is_stopped_and_reported() {
    let server = TestServer::new();
    let file = server.dir.join("config/doeff-agents/adapters/loopy.lua");
    write(
        &file,
        r#"return agents.adapter {
  name = "loopy",
  launch = function(cfg) return { agents.self_exe(), "__demo-agent" } end,
  classify = function(screen, ctx) while true do end end,
}
"#,
    );
    let launched = server.cli(&[
        "run",
        "-a",
        "loopy",
        "-s",
        "loopy",
        "-e",
        "DOEFF_DEMO_SCENARIO=wait",
    ]);
    assert!(launched.status.success(), "{}", stderr(&launched));
    let out = server.cli(&["watch", "loopy", "-i", "0.1", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(6), "times out normally");
    let err = stderr(&out);
    assert!(err.contains("time budget exceeded"), "{err}");
}

#[test]
fn sandboxed_adapters_cannot_reach_io_or_os_execute() {
    let server = TestServer::new();
    let file = server.dir.join("config/doeff-agents/adapters/evil.lua");
    write(
        &file,
        "os.execute('touch /tmp/doeff-evil')\nreturn agents.adapter { name = 'evil', launch = function() return {'x'} end }\n",
    );
    let out = server.cli(&["adapters"]);
    let text = stdout(&out) + &stderr(&out);
    assert!(text.contains("evil.lua:1:"), "{text}");
    assert!(!Path::new("/tmp/doeff-evil").exists());
}

#[test]
fn script_errors_show_file_and_line_and_expected_failures_are_nil_message() {
    let server = TestServer::new();
    let script = server.path("s.lua");
    write(
        &script,
        "local s, err = agents.session('ghost')\nassert(s == nil and err:find('no doeff session named ghost'))\nprint(agents.launch('x', {agent = 'nope'}))\nerror('stop here')\n",
    );
    let out = server.cli(&["script", &script.to_string_lossy()]);
    let err = assert_one_line_error(&out);
    assert!(err.contains("s.lua:4: stop here"), "{err}");
    assert!(
        stdout(&out).contains("nil\tunknown agent \"nope\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn handles_of_dead_sessions_give_clear_answers() {
    let server = TestServer::new();
    let script = server.path("dead.lua");
    write(
        &script,
        r#"local s = assert(agents.launch("dying", { agent = "demo", env = { DOEFF_DEMO_SCENARIO = "wait" } }))
assert(agents.tmux.kill_session("doeff-dying"))
print(s:send("hi"))
local o = s:observe()
print(o.status, o.reason)
"#,
    );
    let out = server.cli(&["script", &script.to_string_lossy()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("nil\tno doeff session named doeff-dying"),
        "{text}"
    );
    assert!(text.contains("exited\tpane_gone"), "{text}");
}

#[test]
fn repl_evaluates_piped_lines() {
    let server = TestServer::new();
    let mut child = server
        .command(&["repl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("repl");
    use std::io::Write;
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"x = 20 + 1\nx * 2\nfunction f()\n  return {a = 1}\nend\nf()\n#agents.list()\nagents.session('nope')\n")
        .expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let text = stdout(&out);
    assert!(out.status.success());
    assert!(text.contains("42"), "{text}");
    assert!(text.contains("a = 1"), "{text}");
    assert!(text.contains("\"no doeff session named nope\""), "{text}");
}

#[test]
fn luals_definitions_match_the_registered_functions() {
    let server = TestServer::new();
    let host = Arc::new(doeff_agents::lua::LuaHost::full().expect("vm"));
    let module = doeff_agents::lua::install(&host, server.agents()).expect("install");
    let types = std::fs::read_to_string(repo("lua/types/agents.lua")).expect("types file");
    let mut registered = Vec::new();
    for pair in module.pairs::<String, mlua::Value>() {
        let (name, value) = pair.expect("pair");
        if name.starts_with('_') {
            continue;
        }
        match value {
            mlua::Value::Function(_) => registered.push(format!("function agents.{name}(")),
            mlua::Value::Table(t) => {
                let prefix = if name == "tmux" {
                    "Tmux".to_owned()
                } else {
                    format!("agents.{name}")
                };
                for key in t.pairs::<String, mlua::Value>().map(|p| p.expect("pair").0) {
                    registered.push(format!("function {prefix}.{key}("));
                }
            }
            _ => {}
        }
    }
    for entry in &registered {
        assert!(
            types.contains(entry.as_str()),
            "lua/types/agents.lua lacks {entry}"
        );
    }
    for line in types
        .lines()
        .filter(|l| l.starts_with("function agents.") || l.starts_with("function Tmux."))
    {
        let head = &line[..line.find('(').expect("paren") + 1];
        assert!(
            registered.iter().any(|r| r == head),
            "{head} is documented but not registered"
        );
    }
}

#[test]
fn one_lua_workflow_runs_on_the_mock_and_on_tmux() {
    let server = TestServer::new();
    let mock = server.cli(&["script", &example("effects_workflow.lua"), "mock"]);
    let text = stdout(&mock);
    assert!(mock.status.success(), "{text}\n{}", stderr(&mock));
    assert!(text.contains("final: done"), "{text}");
    assert!(text.contains("sent: doeff-wf \"1\" enter=false"), "{text}");
    assert_eq!(text.matches("sent:").count(), 1, "{text}");
    assert!(text.contains("sleeps: 3 total 0.6s"), "{text}");
    let wall: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("wall: "))
        .and_then(|v| v.trim_end_matches('s').parse().ok())
        .expect("wall time printed");
    assert!(
        wall < 0.5,
        "the mock's 0.6 s of sleeps took no wall-clock time: {wall}"
    );
    assert!(
        server.session_names().is_empty(),
        "the mock touches no tmux"
    );

    let real = server.cli(&["script", &example("effects_workflow.lua"), "tmux"]);
    let text = stdout(&real);
    assert!(real.status.success(), "{text}\n{}", stderr(&real));
    assert!(
        text.contains("final: done"),
        "same final status on tmux: {text}"
    );
}

#[test]
fn with_session_stops_on_error_and_tasks_timers_run_in_the_loop() {
    let server = TestServer::new();
    let script = server.path("loop.lua");
    write(
        &script,
        r#"local ok, err = pcall(agents.with_session, "scoped", { agent = "demo", env = { DOEFF_DEMO_SCENARIO = "wait" } },
  function(s) error("inside") end)
assert(not ok and tostring(err):find("inside"), tostring(err))
assert(agents.session("scoped") == nil, "with_session stopped the session")
local ticks, steps = 0, {}
agents.every(0.05, function() ticks = ticks + 1 end)
agents.spawn(function()
  for i = 1, 3 do steps[#steps + 1] = i; agents.sleep(0.05) end
end)
agents.run_loop { interval = 0.02, timeout = 5 }
print("steps", #steps, "ticks>0", ticks > 0)
"#,
    );
    let out = server.cli(&["script", &script.to_string_lossy()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("steps\t3\tticks>0\ttrue"), "{text}");
    assert!(server.session_names().is_empty());
}

#[test]
fn classify_when_calls_the_hook_only_on_screens_holding_a_needle() {
    use doeff_agents::adapter::AdapterRegistry;
    use doeff_agents::monitor::{Process, Screen, SessionStatus};
    let registry = AdapterRegistry::builtin().expect("registry");
    registry
        .load_source(
            "gated.lua",
            r#"return agents.adapter {
  name = "gated",
  launch = function(cfg) return { "true" } end,
  classify_when = { "BOOM" },
  classify = function(screen, ctx) return "failed", "hooked" end,
}"#,
        )
        .expect("loads");
    let adapter = registry.get("gated").expect("gated");
    let explain = |text: &str| {
        adapter.explain(
            &Screen::from_text(text),
            SessionStatus::Running,
            true,
            &Process::Unknown,
        )
    };
    assert_ne!(explain("all quiet\nnothing here").reason, "hooked");
    let hooked = explain("all quiet\na BOOM here");
    assert_eq!(
        (hooked.status, hooked.reason.as_str()),
        (SessionStatus::Failed, "hooked")
    );

    for (source, expected) in [
        (
            "classify_when = { \"\" }, classify = function() end,",
            "empty string",
        ),
        ("classify_when = { \"x\" },", "needs a classify function"),
    ] {
        let code = format!(
            "return agents.adapter {{ name = \"bad\", launch = function() return {{\"x\"}} end, {source} }}"
        );
        let err = registry.load_source("bad.lua", &code).expect_err("refused");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

/// A script's `agents.watch` wakes on the pane's output (over the script's
/// control-mode client), not at its next poll: with a 30 s interval it still
/// sees the agent print its fatal error within seconds. (An agent exiting
/// without printing sends no output event: that is seen at the interval.)
#[test]
fn a_script_watch_wakes_on_output_not_on_its_interval() {
    let server = TestServer::new();
    let script = server.path("wake.lua");
    write(
        &script,
        r#"local s = assert(agents.launch("failing", { agent = "demo", prompt = "go",
  env = { DOEFF_DEMO_SCENARIO = "fail", DOEFF_DEMO_WORK_MS = "1500" } }))
local t0 = agents.now()
local status = agents.watch(s, { interval = 30, timeout = 60 })
print(status, string.format("%.1f", agents.now() - t0))
"#,
    );
    let started = std::time::Instant::now();
    let out = server.cli(&["script", &script.to_string_lossy()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.starts_with("failed\t"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// Built-in adapters' regexes stay lazy (start-up of one-shot commands);
/// a user adapter's are compiled at load (an oversized one is refused there).
#[test]
fn builtin_regexes_compile_lazily_and_users_at_load() {
    use doeff_agents::adapter::AdapterRegistry;
    use doeff_agents::monitor::Matcher;
    let registry = AdapterRegistry::builtin().expect("registry");
    // The adapter's own rules' matchers (vetoes include the shared built-in
    // busy markers, which other tests in this process may have compiled).
    let compiled_own = |name: &str| -> Vec<bool> {
        let adapter = registry.get(name).expect("adapter");
        adapter
            .rules
            .iter()
            .filter(|rule| !rule.id.starts_with("default."))
            .flat_map(|rule| rule.matchers.iter().cloned().collect::<Vec<_>>())
            .filter_map(|m| match m {
                Matcher::Regex(re) => Some(re.is_compiled()),
                _ => None,
            })
            .collect()
    };
    let builtin = compiled_own("claude");
    assert!(
        !builtin.is_empty() && builtin.iter().all(|c| !c),
        "{builtin:?}"
    );
    registry
        .load_source(
            "mine.lua",
            r#"return agents.adapter { name = "mine", launch = function() return {"x"} end,
  patterns = { { status = "failed", reason = "boom", regex = "^boom: [a-z]+" } } }"#,
        )
        .expect("loads");
    let user = compiled_own("mine");
    assert!(!user.is_empty() && user.iter().all(|c| *c), "{user:?}");
    let err = registry
        .load_source(
            "huge.lua",
            r#"return agents.adapter { name = "huge", launch = function() return {"x"} end,
  patterns = { { status = "failed", regex = "(\\w\\w\\w\\w\\w\\w\\w\\w\\w\\w){200}" } } }"#,
        )
        .expect_err("oversized");
    assert!(err.to_string().contains("bad regex"), "{err}");
}
