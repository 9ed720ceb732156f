//! Faults (SPEC §8): tmux missing, the tmux server killed while `watch`
//! runs, a session killed from outside, the agent killed or crashing, a pane
//! closed while a paste is in flight, a Lua classify hook that raises or
//! loops forever, an unreadable config dir. Each gives the right status or a
//! clear one-line error within about one poll interval; nothing panics or
//! hangs, and other sessions go on.

mod support;

use std::io::Read;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doeff_agents::{AdapterRegistry, AgentType, Agents, Error, LaunchConfig, SessionStatus, Tmux};
use support::{TestServer, assert_one_line_error, stderr, stdout, wait_for};

const PATIENCE: Duration = Duration::from_secs(20);
/// Poll interval given to `watch` in these tests.
const POLL: Duration = Duration::from_millis(200);
/// What "within one poll interval" allows on a loaded 2-core machine: the
/// interval, one observation, and process start-up.
const SLACK: Duration = Duration::from_secs(3);

fn demo_wait(server: &TestServer) -> LaunchConfig {
    LaunchConfig::new(AgentType::Custom("demo".into()), &server.dir)
        .env("DOEFF_DEMO_SCENARIO", "wait")
}

fn spawn_watch(server: &TestServer, name: &str, extra: &[&str]) -> Child {
    let interval = format!("{}", POLL.as_secs_f64());
    let mut args = vec!["watch", name, "--json", "-i", &interval, "--timeout", "30"];
    args.extend_from_slice(extra);
    server
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch")
}

/// Waits for `child` to exit; returns (exit code, stdout, stderr, time taken).
fn finish(mut child: Child, since: Instant) -> (i32, String, String, Duration) {
    let status = wait_for("watch to exit", PATIENCE, || {
        child.try_wait().ok().flatten()
    });
    let took = since.elapsed();
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    assert!(!err.contains("panicked"), "{err}");
    (status.code().unwrap_or(-1), out, err, took)
}

/// Waits until the watcher has printed its first observation (it is polling).
fn wait_until_watching(server: &TestServer, name: &str) {
    wait_for(
        "the session to be blocked at its composer",
        PATIENCE,
        || {
            let out = server.cli(&["ps", "--json"]);
            let rows: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            rows.as_array()?
                .iter()
                .any(|r| r["name"] == format!("doeff-{name}") && r["status"] == "blocked")
                .then_some(())
        },
    );
    std::thread::sleep(POLL * 2);
}

#[test]
fn tmux_not_installed_is_one_clear_line() {
    let server = TestServer::new();
    let empty = server.path("empty-bin");
    std::fs::create_dir_all(&empty).expect("dir");
    for args in [
        vec!["ps"],
        vec!["ps", "--all", "--json"],
        vec!["run", "-a", "demo", "-s", "x"],
        vec!["watch", "x"],
        vec!["send", "x", "hi"],
        vec!["output", "x"],
        vec!["stop", "x"],
        vec!["attach", "x"],
    ] {
        let out = server
            .command(&args)
            .env("PATH", &empty)
            .output()
            .expect("run");
        let err = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(err.contains("tmux is not available"), "{args:?}: {err}");
    }
    let adapters = server
        .command(&["adapters"])
        .env("PATH", &empty)
        .output()
        .expect("run");
    assert!(adapters.status.success(), "listing adapters needs no tmux");
}

#[test]
fn killing_the_server_ends_watch_as_exited_within_one_poll() {
    let server = TestServer::new();
    server.launch_waiting_demo("victim");
    let child = spawn_watch(&server, "victim", &[]);
    wait_until_watching(&server, "victim");
    let killed = Instant::now();
    server.tmux.kill_server().expect("kill-server");
    let (code, out, _, took) = finish(child, killed);
    assert_eq!(code, 4, "exited: {out}");
    assert!(out.contains("\"pane_gone\""), "{out}");
    assert!(took < POLL + SLACK, "took {took:?}");
}

#[test]
fn a_session_killed_from_outside_is_exited_and_others_go_on() {
    let server = TestServer::new();
    server.launch_waiting_demo("victim");
    server.launch_waiting_demo("bystander");
    let victim = spawn_watch(&server, "victim", &[]);
    let bystander = spawn_watch(&server, "bystander", &[]);
    wait_until_watching(&server, "victim");
    let killed = Instant::now();
    server
        .tmux
        .kill_session("doeff-victim")
        .expect("kill-session");
    let (code, out, _, took) = finish(victim, killed);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("\"pane_gone\""), "{out}");
    assert!(took < POLL + SLACK, "took {took:?}");
    std::thread::sleep(POLL * 3);
    let mut bystander = bystander;
    if let Some(status) = bystander.try_wait().expect("wait") {
        let (_, out, err, _) = finish(bystander, killed);
        panic!("other watch goes on, but it ended ({status}):\n{out}\n{err}");
    }
    assert_eq!(server.session_names(), vec!["doeff-bystander"]);
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn an_agent_killed_by_a_signal_is_exited_with_that_signal() {
    for control_mode in [false, true] {
        let server = TestServer::new();
        let registry =
            AdapterRegistry::builtin_with_exe(support::bin().to_string_lossy()).expect("adapters");
        let tmux = if control_mode {
            Tmux::control_mode(server.server())
        } else {
            Tmux::new(server.server())
        };
        let agents = Agents::new(tmux, Arc::new(registry));
        let mut victim = agents
            .launch_session("victim", &demo_wait(&server).ready_timeout(PATIENCE))
            .expect("launch");
        let mut other = agents
            .launch_session("other", &demo_wait(&server).ready_timeout(PATIENCE))
            .expect("launch");
        let pid = agents
            .tmux()
            .pane_state(&victim.pane_id)
            .expect("state")
            .expect("pane")
            .pid;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill");
        let seen = wait_for("the kill to be seen", PATIENCE, || {
            let o = agents.observe(&mut victim).expect("observe");
            o.is_terminal.then_some(o)
        });
        assert_eq!(seen.status, SessionStatus::Exited);
        // tmux 3.3 has no #{pane_dead_signal}: the process layer then waits
        // and the dead-pane trailer decides; newer tmux reports the signal.
        assert!(seen.evidence.line.contains("signal 9"), "{seen:?}");
        let o = agents.observe(&mut other).expect("observe other");
        assert!(!o.is_terminal, "the other session is untouched: {o:?}");
        // The server killed under a control-mode client too.
        agents.tmux().kill_server().expect("kill-server");
        let started = Instant::now();
        let gone = agents
            .observe(&mut other)
            .expect("observe after kill-server");
        assert_eq!(
            (gone.status, gone.reason.as_str()),
            (SessionStatus::Exited, "pane_gone")
        );
        assert!(started.elapsed() < SLACK, "{:?}", started.elapsed());
        assert!(matches!(
            agents.send_message(&other, "hi", true),
            Err(Error::SessionNotFound(_))
        ));
    }
}

#[test]
fn closing_the_pane_during_a_paste_fails_cleanly() {
    let server = TestServer::new();
    let agents = server.agents();
    let _keeper = agents
        .launch_session("keeper", &demo_wait(&server).ready_timeout(PATIENCE))
        .expect("keeper");
    for delay_ms in [0u64, 5, 20, 80] {
        let name = format!("paste{delay_ms}");
        let session = agents
            .launch_session(&name, &demo_wait(&server).ready_timeout(PATIENCE))
            .expect("launch");
        let text = "p".repeat(1 << 20);
        let started = Instant::now();
        let outcome = std::thread::scope(|scope| {
            let sender = scope.spawn(|| agents.send_message(&session, &text, true));
            std::thread::sleep(Duration::from_millis(delay_ms));
            agents
                .tmux()
                .kill_session(&session.session_name)
                .expect("kill");
            sender.join().expect("no panic")
        });
        assert!(started.elapsed() < PATIENCE, "no hang");
        if let Err(err) = &outcome {
            assert!(
                matches!(
                    err,
                    Error::SessionNotFound(_) | Error::Send { .. } | Error::Tmux { .. }
                ),
                "{err}"
            );
            assert_eq!(err.to_string().lines().count(), 1, "{err}");
        }
        let buffers = agents
            .tmux()
            .run(
                &[vec![
                    "list-buffers".into(),
                    "-F".into(),
                    "#{buffer_name}".into(),
                ]],
                None,
            )
            .expect("list-buffers");
        assert!(
            !String::from_utf8_lossy(&buffers).contains("doeff-paste"),
            "no paste buffer left behind"
        );
        assert_eq!(server.session_names(), vec!["doeff-keeper"]);
    }
}

/// A user adapter over the demo agent with the given classify hook.
fn hook_adapter(server: &TestServer, name: &str, classify: &str) {
    let dir = server.path("config/doeff-agents/adapters");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join(format!("{name}.lua")),
        format!(
            "return agents.adapter {{\n  name = \"{name}\",\n  \
             launch = function(cfg) return {{ agents.self_exe(), \"__demo-agent\" }} end,\n  \
             patterns = {{ {{ status = \"blocked\", reason = \"idle_prompt\", regex = \"^>$\", last = 1 }} }},\n  \
             classify = {classify},\n}}\n"
        ),
    )
    .expect("adapter file");
}

#[test]
fn a_raising_or_looping_classify_hook_is_reported_once() {
    let server = TestServer::new();
    hook_adapter(
        &server,
        "raiser",
        "function(screen, ctx) error(\"hook broke\") end",
    );
    hook_adapter(
        &server,
        "looper",
        "function(screen, ctx) while true do end end",
    );
    for (agent, needle) in [("raiser", "hook broke"), ("looper", "time budget exceeded")] {
        let out = server.cli(&[
            "run",
            "-a",
            agent,
            "-s",
            agent,
            "-e",
            "DOEFF_DEMO_SCENARIO=wait",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let started = Instant::now();
        let watch = server.cli(&["watch", agent, "--json", "-i", "0.1", "--timeout", "2"]);
        let took = started.elapsed();
        assert_eq!(
            watch.status.code(),
            Some(6),
            "timeout exit: {}",
            stderr(&watch)
        );
        let err = stderr(&watch);
        assert_eq!(err.matches(needle).count(), 1, "reported once: {err}");
        assert!(
            err.contains(&format!("{agent}.lua")),
            "names the file: {err}"
        );
        assert!(!err.contains("panicked"));
        // The rules still classify: the composer is seen as blocked.
        assert!(
            stdout(&watch).contains("\"new\":\"blocked\""),
            "{}",
            stdout(&watch)
        );
        assert!(took < Duration::from_secs(2) + SLACK, "took {took:?}");
    }
    // Through Rust: each observation returns within the hook's budget.
    let agents = server.agents();
    agents
        .adapters()
        .load_dir(&server.path("config/doeff-agents/adapters"));
    let mut session = agents.session("looper").expect("session");
    for round in 0..3 {
        let started = Instant::now();
        let observation = agents.observe(&mut session).expect("observe");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // The hook's error travels in the observation, once.
        assert_eq!(
            observation
                .warnings
                .iter()
                .any(|w| w.contains("time budget exceeded")),
            round == 0,
            "round {round}: {:?}",
            observation.warnings
        );
    }
}

#[test]
fn an_unreadable_config_dir_is_a_warning_not_a_failure() {
    let server = TestServer::new();
    let config = server.path("config/doeff-agents");
    std::fs::create_dir_all(&config).expect("dir");
    // Not a directory: unreadable even for root.
    std::fs::write(config.join("adapters"), "x").expect("file");
    let ps = server.cli(&["ps"]);
    assert!(ps.status.success());
    assert_eq!(stdout(&ps).trim(), "no sessions");
    let err = stderr(&ps);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot read the adapter folder"), "{err}");
    let adapters = server.cli(&["adapters", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&adapters.stdout).expect("JSON");
    assert!(json["adapters"].as_array().is_some_and(|a| a.len() >= 4));
    // A folder with permission bits 000 (readable to root, refused otherwise).
    std::fs::remove_file(config.join("adapters")).expect("rm");
    let dir = config.join("adapters");
    std::fs::create_dir_all(&dir).expect("dir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let ps = server.cli(&["ps"]);
    assert!(ps.status.success());
    if !nix::unistd::Uid::effective().is_root() {
        assert!(stderr(&ps).contains("cannot read the adapter folder"));
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn killing_the_server_under_a_script_and_the_repl_gives_clear_endings() {
    let server = TestServer::new();
    server.launch_waiting_demo("victim");
    // Each side says it holds the session by creating a file: the server is
    // killed only once both are watching, however slow the machine.
    let script_ready = server.path("script.ready");
    let repl_ready = server.path("repl.ready");
    let script = server.path("watch.lua");
    std::fs::write(
        &script,
        format!(
            "local s = assert(agents.session('victim'))\nio.open('{}', 'w'):close()\nprint('final', agents.watch(s, {{ interval = 0.1, timeout = 20 }}))\n",
            script_ready.display()
        ),
    )
    .expect("script");
    let watcher = server
        .command(&["script", &script.to_string_lossy()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let mut repl = server
        .command(&["repl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("repl");
    wait_for("the script to hold the session", PATIENCE, || {
        script_ready.exists().then_some(())
    });
    {
        use std::io::Write;
        let mut stdin = repl.stdin.take().expect("stdin");
        stdin
            .write_all(
                format!(
                    "s = agents.session('victim')\nagents.follow(s, 0.1)\nio.open('{}', 'w'):close()\nagents.sleep(4)\nprint('repl still here')\n",
                    repl_ready.display()
                )
                .as_bytes(),
            )
            .expect("write");
    }
    wait_for("the REPL to hold the session", PATIENCE, || {
        repl_ready.exists().then_some(())
    });
    let killed_at = Instant::now();
    server.tmux.kill_server().expect("kill the server");
    let (code, out, err, took) = finish(watcher, killed_at);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("final\texited"), "{out}\n{err}");
    assert!(
        took < POLL + SLACK,
        "the script noticed within a poll interval: {took:?}"
    );
    let repl_out = repl.wait_with_output().expect("repl ends");
    let text = stdout(&repl_out);
    let errs = stderr(&repl_out);
    assert!(repl_out.status.success(), "{text}\n{errs}");
    assert!(text.contains("repl still here"), "{text}");
    assert!(
        errs.contains("[doeff-victim]") && errs.contains("exited"),
        "the follow reported the end: {errs}"
    );
    assert!(!errs.contains("panicked"), "{errs}");
}

/// A watch ended by SIGTERM (or Ctrl-C's SIGINT) lets its control client
/// leave first: it exits with 128 + the signal and its hidden session is gone
/// (a client that just vanished would leave it behind).
#[test]
fn a_watch_ended_by_a_signal_leaves_tmux_gracefully() {
    let server = TestServer::new();
    server.launch_waiting_demo("calm");
    let hidden = || {
        server
            .tmux
            .run(
                &[vec![
                    "list-sessions".to_owned(),
                    "-F".to_owned(),
                    "#{session_name}".to_owned(),
                ]],
                None,
            )
            .map(|out| {
                String::from_utf8_lossy(&out)
                    .lines()
                    .filter(|name| name.starts_with("_doeff-control"))
                    .count()
            })
            .unwrap_or(0)
    };
    for (signal, code) in [
        (nix::sys::signal::Signal::SIGTERM, 143),
        (nix::sys::signal::Signal::SIGINT, 130),
    ] {
        let child = spawn_watch(&server, "calm", &[]);
        wait_for("the watch's control client", PATIENCE, || {
            (hidden() == 1).then_some(())
        });
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal");
        let (exit, _, err, _) = finish(child, Instant::now());
        assert_eq!(exit, code, "{signal}: {err}");
        assert_eq!(
            hidden(),
            0,
            "{signal}: the hidden session went with the client"
        );
    }
}
