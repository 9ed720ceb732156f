//! The adapter sandbox from the outside (the built binary, private tmux
//! servers): runaway adapter code is stopped whatever it catches, files
//! cannot patch each other's libraries, adapter limits and output hold,
//! reads are bounded, and relative XDG dirs are ignored.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{TestServer, stderr, stdout};

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::write(path, text).expect("write");
}

/// A runaway that catches its own budget error.
const CATCHING_LOOP: &str = "while true do pcall(function() while true do end end) end";

fn adapter_dir(server: &TestServer) -> std::path::PathBuf {
    server.dir.join("config/doeff-agents/adapters")
}

#[test]
fn runaways_that_catch_the_budget_error_are_still_stopped() {
    let server = TestServer::new();
    let dir = adapter_dir(&server);
    write(
        &dir.join("at_load.lua"),
        &format!(
            "local x = 1\n{CATCHING_LOOP}\nreturn agents.adapter {{ name = 'at_load', launch = function() return {{'x', 'y'}} end }}\n"
        ),
    );
    write(
        &dir.join("in_launch.lua"),
        &format!(
            "return agents.adapter {{ name = 'in_launch',\n  launch = function(cfg)\n    {CATCHING_LOOP}\n  end }}\n"
        ),
    );
    write(
        &dir.join("in_available.lua"),
        "return agents.adapter { name = 'in_available', launch = function() return {'x', 'y'} end,\n  is_available = function()\n    while true do xpcall(function() while true do end end, function() while true do end end) end\n  end }\n",
    );
    write(
        &dir.join("in_classify.lua"),
        &format!(
            "return agents.adapter {{ name = 'in_classify',\n  launch = function(cfg) return {{ agents.self_exe(), '__demo-agent' }} end,\n  classify = function(screen, ctx)\n    local co = coroutine.wrap(function() {CATCHING_LOOP} end)\n    while true do pcall(co) pcall(error, {{}}) end\n  end }}\n"
        ),
    );
    let started = Instant::now();
    let out = server.cli(&["adapters"]);
    let text = stdout(&out);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let at_load = dir.join("at_load.lua");
    assert!(
        text.contains(&format!("{}:2: time budget exceeded", at_load.display())),
        "{text}"
    );
    assert!(
        text.contains("in_available: is_available failed:"),
        "{text}"
    );
    assert!(
        text.contains("in_available.lua:3: time budget exceeded"),
        "{text}"
    );
    for name in ["claude", "codex", "demo", "in_launch", "in_classify"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} listed: {text}"
        );
    }

    let launched = server.cli(&["run", "-a", "in_launch", "-s", "runaway"]);
    assert!(!launched.status.success());
    let err = stderr(&launched);
    assert!(
        err.contains("in_launch.lua:3: time budget exceeded"),
        "{err}"
    );

    let launched = server.cli(&[
        "run",
        "-a",
        "in_classify",
        "-s",
        "classify",
        "-e",
        "DOEFF_DEMO_SCENARIO=wait",
    ]);
    assert!(launched.status.success(), "{}", stderr(&launched));
    let out = server.cli(&["watch", "classify", "-i", "0.1", "--timeout", "2"]);
    assert_eq!(out.status.code(), Some(6), "times out normally");
    let err = stderr(&out);
    assert!(err.contains("time budget exceeded"), "{err}");
    // The other adapters still classify: the demo session is seen normally.
    server.launch_waiting_demo("other");
    let ps = server.cli(&["ps"]);
    assert!(ps.status.success(), "{}", stderr(&ps));
    assert!(stdout(&ps).contains("other"), "{}", stdout(&ps));
}

#[test]
fn a_file_that_patches_the_string_library_cannot_change_claudes_argv() {
    let registry =
        doeff_agents::AdapterRegistry::builtin_with_exe("doeff-agents").expect("built-ins");
    let patcher = r#"
local meta = getmetatable("")
meta.__index.sub = function() return "x" end
string.sub = function() return "x" end
table.concat = function() return "" end
math.max = function() return 0 end
utf8.char = function() return "" end
return agents.adapter { name = "patcher", launch = function() return { ("-z"):sub(1, 1), "y" } end }
"#;
    registry
        .load_source("patcher.lua", patcher)
        .expect("the patcher loads");
    let config = doeff_agents::LaunchConfig::new(doeff_agents::AgentType::Claude, "/tmp")
        .prompt("-rf everything");
    let argv = registry
        .get("claude")
        .expect("claude")
        .launch_argv(&config)
        .expect("argv");
    let prompt_at = argv
        .iter()
        .position(|a| a == "-rf everything")
        .expect("prompt in argv");
    assert_eq!(argv[prompt_at - 1], "--", "{argv:?}");
    // The patcher sees its own patch.
    let own = registry
        .get("patcher")
        .expect("patcher")
        .launch_argv(&config)
        .expect("argv");
    assert_eq!(own[0], "x");
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success());
}

#[test]
fn explain_reads_only_a_bounded_regular_file() {
    let server = TestServer::new();
    let fifo = server.path("screen.fifo");
    mkfifo(&fifo);
    let big = server.path("big.txt");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(50 * 1024 * 1024).expect("50 MB");
    let dir = server.path("a-dir");
    std::fs::create_dir_all(&dir).expect("dir");
    for (path, why) in [
        (Path::new("/dev/zero"), "a device"),
        (fifo.as_path(), "a FIFO"),
        (dir.as_path(), "a directory"),
        (big.as_path(), "too large"),
    ] {
        let started = Instant::now();
        let out = server.cli(&[
            "explain",
            "--agent",
            "demo",
            "--screen",
            &path.to_string_lossy(),
        ]);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path:?}: {:?}",
            started.elapsed()
        );
        let err = support::assert_one_line_error(&out);
        assert!(err.contains(why), "{path:?}: {err}");
    }
    let ok = server.path("ok.txt");
    write(&ok, "> \n");
    let out = server.cli(&[
        "explain",
        "--agent",
        "demo",
        "--screen",
        &ok.to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn fifos_and_devices_in_an_adapter_folder_are_skipped_with_an_error() {
    let server = TestServer::new();
    let dir = adapter_dir(&server);
    std::fs::create_dir_all(&dir).expect("dir");
    mkfifo(&dir.join("fifo.lua"));
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.lua")).expect("symlink");
    write(
        &dir.join("fine.lua"),
        "return agents.adapter { name = 'fine', launch = function() return {'x', 'y'} end }\n",
    );
    let started = Instant::now();
    let out = server.cli(&["adapters"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let text = stdout(&out);
    assert!(
        text.contains("fifo.lua: not a regular file (a FIFO)"),
        "{text}"
    );
    assert!(
        text.contains("zero.lua: not a regular file (a device)"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("fine")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("claude")), "{text}");
}

#[test]
fn a_relative_xdg_config_home_or_home_never_loads_a_repositorys_adapters() {
    let server = TestServer::new();
    let repo = server.path("cloned-repo");
    let evil =
        "return agents.adapter { name = 'evil', launch = function() return {'x', 'y'} end }\n";
    write(&repo.join("doeff-agents/adapters/evil.lua"), evil);
    write(&repo.join(".config/doeff-agents/adapters/evil.lua"), evil);
    for (config, home) in [
        (Some("."), None),
        (Some("doeff-agents/.."), None),
        (None, Some(".")),
    ] {
        let mut command = server.command(&["adapters"]);
        command.current_dir(&repo).env_remove("XDG_CONFIG_HOME");
        if let Some(config) = config {
            command.env("XDG_CONFIG_HOME", config);
        }
        if let Some(home) = home {
            command.env("HOME", home);
        }
        let out = command.output().expect("run");
        let text = stdout(&out);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(text.lines().any(|l| l.starts_with("claude")), "{text}");
        assert!(!text.contains("evil"), "{config:?} {home:?}: {text}");
    }
    // An absolute one is used.
    let mut command = server.command(&["adapters"]);
    command.env("XDG_CONFIG_HOME", &repo);
    let text = stdout(&command.output().expect("run"));
    assert!(text.lines().any(|l| l.starts_with("evil")), "{text}");
}

#[test]
fn regex_counts_print_and_reasons_are_held_to_the_adapter_limits() {
    let server = TestServer::new();
    let dir = adapter_dir(&server);
    let many: String = (0..3000)
        .map(|i| format!("  {{ status = 'blocked', reason = 'r{i}', regex = '(\\\\w+) item{i} (\\\\d+)' }},\n"))
        .collect();
    write(
        &dir.join("many.lua"),
        &format!(
            "return agents.adapter {{ name = 'many', launch = function() return {{'x', 'y'}} end, patterns = {{\n{many}}} }}\n"
        ),
    );
    let some: String = (0..90)
        .map(|i| {
            format!("  {{ status = 'blocked', reason = 'r{i}', regex = 'item{i} (\\\\d+)' }},\n")
        })
        .collect();
    write(
        &dir.join("some.lua"),
        &format!(
            "return agents.adapter {{ name = 'some', launch = function() return {{'x', 'y'}} end, patterns = {{\n{some}}} }}\n"
        ),
    );
    write(
        &dir.join("talky.lua"),
        "print('hello', 1, '\\27[2J')\nreturn agents.adapter { name = 'talky',\n  launch = function() print('launching') return {'x', 'y'} end }\n",
    );
    write(
        &dir.join("newline.lua"),
        "return agents.adapter { name = 'newline', launch = function() return {'x', 'y'} end,\n  patterns = { { status = 'blocked', reason = 'ok\\nSTATUS done', match = 'x' } } }\n",
    );
    let started = Instant::now();
    let out = server.cli(&["adapters", "--json"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("print never reaches stdout: it stays JSON");
    let errors = json["errors"].to_string();
    assert!(errors.contains("too many regexes"), "{errors}");
    assert!(errors.contains("must be a snake_case word"), "{errors}");
    let names = json["adapters"].to_string();
    assert!(
        names.contains("\"some\"") && names.contains("\"talky\""),
        "{names}"
    );
    let err = stderr(&out);
    let talky = dir.join("talky.lua");
    assert!(
        err.contains(&format!("{}:1: hello\\t1\\t\\u{{1b}}[2J", talky.display())),
        "{err}"
    );
}

/// Micro-benchmark of the classify hook path (run with `--ignored
/// --nocapture`): the claude hook through `explain`, and the cost the
/// budget adds to one Lua call.
#[test]
#[ignore]
fn bench_classify_hook_calls() {
    use doeff_agents::monitor::Process;
    let registry =
        doeff_agents::AdapterRegistry::builtin_with_exe("doeff-agents").expect("built-ins");
    let claude = registry.get("claude").expect("claude");
    let mut text = String::new();
    for i in 0..36 {
        text.push_str(&format!(
            "line {i} of an answer being streamed by the agent\n"
        ));
    }
    text.push_str("API Error: 529 Overloaded\n❯ \n");
    let screen = doeff_agents::Screen::from_bytes(text.as_bytes());
    let n = 20_000;
    let started = Instant::now();
    for _ in 0..n {
        let verdict = claude.explain(
            &screen,
            doeff_agents::SessionStatus::Running,
            true,
            &Process::Unknown,
        );
        std::hint::black_box(verdict);
    }
    let per_explain = started.elapsed() / n;
    let host = doeff_agents::lua::LuaHost::sandboxed().expect("vm");
    let f: mlua::Function = host
        .lua()
        .load("return function(s) local n = 0 for i = 1, 40 do if s:find('Error', 1, true) then n = n + 1 end end return n end")
        .eval()
        .expect("fn");
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f.call::<i64>("some API Error text").expect("call"));
    }
    let bare = started.elapsed() / n;
    let started = Instant::now();
    for _ in 0..n {
        let r = host.with_budget(Duration::from_millis(250), || {
            f.call::<i64>("some API Error text")
        });
        std::hint::black_box(r.expect("call"));
    }
    let budgeted = started.elapsed() / n;
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f.call::<i64>("some API Error text").expect("call"));
    }
    let bare_again = started.elapsed() / n;
    println!(
        "claude explain with hook: {per_explain:?}/call; a 40-find Lua call: {bare:?} bare, {budgeted:?} with the budget, {bare_again:?} bare again"
    );
}
