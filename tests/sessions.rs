//! The Rust session API on a private tmux server: launch, metadata,
//! environment, scope guard, clean-up of failed launches, stopping agents
//! that ignore SIGHUP.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use doeff_agents::adapter::Adapter;
use doeff_agents::tmux::{Server, Subprocess, TmuxArgs, Transport};
use doeff_agents::{AgentType, Agents, Error, LaunchConfig, SessionStatus, Tmux};
use support::{TestServer, wait_for};

const PATIENCE: Duration = Duration::from_secs(20);

fn demo(server: &TestServer) -> LaunchConfig {
    LaunchConfig::new(AgentType::Custom("demo".into()), &server.dir)
        .env("DOEFF_DEMO_SCENARIO", "wait")
}

fn shell_adapter(name: &str, script: &'static str) -> Adapter {
    Adapter::native(name, move |_| {
        Ok(vec!["sh".into(), "-c".into(), script.into()])
    })
}

#[test]
fn metadata_is_stored_on_the_tmux_session_for_other_processes() {
    let server = TestServer::new();
    let agents = server.agents();
    let session = agents
        .launch_session("meta", &demo(&server).ready_timeout(PATIENCE))
        .expect("launch");
    assert_eq!(session.status, SessionStatus::Booting);
    let other = server.agents();
    let found = other.session("meta").expect("found by name");
    assert_eq!(found.session_name, "doeff-meta");
    assert_eq!(found.agent_type, AgentType::Custom("demo".into()));
    assert_eq!(found.pane_id, session.pane_id);
    assert_eq!(found.work_dir, server.dir.canonicalize().expect("dir"));
    assert!(found.created_at > 0);
}

#[test]
fn env_reaches_the_pane_when_the_server_already_runs() {
    let server = TestServer::new();
    let agents = server.agents();
    agents
        .launch_session("first", &demo(&server).ready_timeout(PATIENCE))
        .expect("first launch starts the server");
    let out = server.path("env.txt");
    let script: &'static str = Box::leak(
        format!(
            "printf '%s' \"$DOEFF_TEST_VALUE\" > '{}'; sleep 30",
            out.display()
        )
        .into_boxed_str(),
    );
    agents
        .adapters()
        .register(shell_adapter("envcheck", script));
    let config = LaunchConfig::new(AgentType::Custom("envcheck".into()), &server.dir)
        .env("DOEFF_TEST_VALUE", "it $(arrived) ; `exactly`");
    agents
        .launch_session("second", &config.clone().ready_timeout(PATIENCE))
        .expect("second launch");
    let text = wait_for("the env file", PATIENCE, || {
        std::fs::read_to_string(&out).ok().filter(|t| !t.is_empty())
    });
    assert_eq!(text, "it $(arrived) ; `exactly`");
}

#[test]
fn scope_guard_stops_on_drop_and_on_panic() {
    let server = TestServer::new();
    let agents = server.agents();
    {
        let scope = agents
            .session_scope("scoped", &demo(&server).ready_timeout(PATIENCE))
            .expect("launch");
        assert!(agents.tmux().has_session(&scope.session_name).expect("has"));
    }
    assert!(!agents.tmux().has_session("doeff-scoped").expect("has"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _scope = agents
            .session_scope("panicky", &demo(&server).ready_timeout(PATIENCE))
            .expect("launch");
        panic!("boom");
    }));
    assert!(result.is_err());
    assert!(!agents.tmux().has_session("doeff-panicky").expect("has"));
}

#[test]
fn a_ready_timeout_removes_the_half_made_session() {
    let server = TestServer::new();
    let agents = server.agents();
    let mut adapter = shell_adapter("slowpoke", "echo starting; sleep 30");
    adapter.injection = doeff_agents::Injection::Tmux;
    adapter.ready_pattern = Some(regex::Regex::new("never shows").expect("regex"));
    agents.adapters().register(adapter);
    // Keep the server alive so the check below is about this session.
    agents
        .launch_session("keeper", &demo(&server).ready_timeout(PATIENCE))
        .expect("keeper");
    let config = LaunchConfig::new(AgentType::Custom("slowpoke".into()), &server.dir).prompt("hi");
    let err = agents
        .launch_session(
            "slow",
            &config.clone().ready_timeout(Duration::from_millis(600)),
        )
        .expect_err("times out");
    match err {
        Error::AgentReadyTimeout { last_lines, .. } => {
            assert!(last_lines.contains("starting"), "{last_lines}")
        }
        other => panic!("expected a ready timeout, got {other}"),
    }
    assert_eq!(server.session_names(), vec!["doeff-keeper"]);
}

#[test]
fn stop_ends_an_agent_that_ignores_sighup() {
    let server = TestServer::new();
    let agents = server.agents();
    agents.adapters().register(shell_adapter(
        "stubborn",
        "trap '' HUP; while :; do sleep 1; done",
    ));
    let config = LaunchConfig::new(AgentType::Custom("stubborn".into()), &server.dir);
    let mut session = agents
        .launch_session("stubborn", &config.clone().ready_timeout(PATIENCE))
        .expect("launch");
    let pid = agents
        .tmux()
        .pane_state(&session.pane_id)
        .expect("state")
        .expect("pane")
        .pid;
    agents.stop_session(&mut session).expect("stop");
    assert_eq!(session.status, SessionStatus::Stopped);
    agents
        .stop_session(&mut session)
        .expect("stopping twice is fine");
    let alive = || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
    wait_for("the agent process to end", PATIENCE, || {
        (!alive()).then_some(())
    });
}

#[test]
fn observe_reports_the_exit_code_of_a_crashed_agent() {
    let server = TestServer::new();
    let agents = server.agents();
    let config = LaunchConfig::new(AgentType::Custom("demo".into()), &server.dir)
        .prompt("crash please")
        .env("DOEFF_DEMO_SCENARIO", "crash")
        .env("DOEFF_DEMO_EXIT_CODE", "7")
        .env("DOEFF_DEMO_WORK_MS", "200");
    let mut session = agents
        .launch_session("crash", &config.clone().ready_timeout(PATIENCE))
        .expect("launch");
    let observation = wait_for("the crash", PATIENCE, || {
        let o = agents.observe(&mut session).expect("observe");
        o.is_terminal.then_some(o)
    });
    assert_eq!(observation.status, SessionStatus::Exited);
    assert_eq!(observation.reason, "process_exited");
    assert_eq!(observation.evidence.line, "exit code 7");
}

#[test]
fn tmux_operations_never_match_a_name_by_prefix() {
    let server = TestServer::new();
    let agents = server.agents();
    agents
        .launch_session("xyz", &demo(&server).ready_timeout(PATIENCE))
        .expect("launch");
    let tmux = agents.tmux();
    assert!(tmux.has_session("doeff-xyz").expect("has"));
    assert!(
        !tmux.has_session("doeff-x").expect("has"),
        "has-session matched a prefix"
    );
    assert!(
        tmux.kill_session("doeff-x").is_err(),
        "kill-session matched a prefix"
    );
    assert_eq!(server.session_names(), vec!["doeff-xyz"]);
}

#[test]
fn the_agent_starts_with_ci_emptied_unless_asked() {
    let server = TestServer::new();
    let agents = server.agents();
    let out = server.path("ci.txt");
    let script: &'static str = Box::leak(
        format!(
            "printf '[%s]' \"${{CI-unset}}\" > '{}'; sleep 30",
            out.display()
        )
        .into_boxed_str(),
    );
    agents.adapters().register(shell_adapter("cicheck", script));
    let config = LaunchConfig::new(AgentType::Custom("cicheck".into()), &server.dir);
    agents
        .launch_session("ci", &config.clone().ready_timeout(PATIENCE))
        .expect("launch");
    let read = || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.ends_with(']'))
    };
    let seen = wait_for("the write", PATIENCE, read);
    assert_eq!(seen, "[]", "CI is set and empty in the agent's environment");
    let asked = config.env("CI", "yes");
    std::fs::remove_file(&out).expect("rm");
    agents
        .launch_session("ci2", &asked.clone().ready_timeout(PATIENCE))
        .expect("launch");
    let seen = wait_for("the second write", PATIENCE, read);
    assert_eq!(seen, "[yes]");
}

/// Counts round trips to tmux (each `run` or `run_each` call).
#[derive(Debug)]
struct Counting {
    inner: Subprocess,
    calls: AtomicUsize,
}

impl Transport for Counting {
    fn run(&self, commands: &[TmuxArgs], stdin: Option<&[u8]>) -> doeff_agents::Result<Vec<u8>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.run(commands, stdin)
    }

    fn server(&self) -> &Server {
        self.inner.server()
    }

    fn run_each(&self, commands: &[TmuxArgs]) -> Vec<doeff_agents::Result<Vec<u8>>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.run_each(commands)
    }
}

/// One observation is one round trip: the screen and the pane's state are
/// read in a single chained tmux call. (A session's first observation may
/// look twice when only a second capture can tell whether its screen
/// moves; the one counted here has history.)
#[test]
fn one_observation_is_one_tmux_round_trip() {
    let server = TestServer::new();
    server.launch_waiting_demo("counted");
    let counting = Arc::new(Counting {
        inner: Subprocess::new(server.server()),
        calls: AtomicUsize::new(0),
    });
    let agents = Agents::new(
        Tmux::with_transport(counting.clone()),
        server.agents().adapters().clone(),
    );
    let mut session = agents.session("counted").expect("session");
    agents.observe(&mut session).expect("first observation");
    let before = counting.calls.load(Ordering::Relaxed);
    let observation = agents.observe(&mut session).expect("observe");
    assert_ne!(observation.status, SessionStatus::Exited);
    let calls = counting.calls.load(Ordering::Relaxed) - before;
    assert_eq!(calls, 1, "tmux round trips for one observation");
}
