//! Batched and event-driven monitoring on a private tmux server: one
//! `observe_many` pass over several sessions, captures skipped for still
//! panes, gone sessions decided from pane state, and a watch loop woken by
//! tmux output events well before its interval.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use doeff_agents::{
    AdapterRegistry, AgentType, Agents, LaunchConfig, Monitor, SessionStatus, Tmux,
};
use support::{TestServer, bin, wait_for};

const PATIENCE: Duration = Duration::from_secs(20);

fn demo(server: &TestServer, scenario: &str) -> LaunchConfig {
    LaunchConfig::new(AgentType::Custom("demo".into()), &server.dir)
        .prompt("hello")
        .env("DOEFF_DEMO_SCENARIO", scenario)
}

/// The library entry point over a control-mode client with output events.
fn event_agents(server: &TestServer) -> Agents {
    let registry = AdapterRegistry::builtin_with_exe(bin().to_string_lossy().into_owned())
        .expect("built-in adapters load");
    Agents::new(
        Tmux::control_mode_with_events(server.server()),
        Arc::new(registry),
    )
}

#[test]
fn one_pass_observes_many_sessions_and_skips_still_panes() {
    let server = TestServer::new();
    let agents = server.agents();
    let mut sessions: Vec<_> = (0..3)
        .map(|i| {
            agents
                .launch_session(
                    &format!("many-{i}"),
                    &demo(&server, "wait").ready_timeout(PATIENCE),
                )
                .expect("launch")
        })
        .collect();
    // Every waiting agent ends up blocked at its composer.
    wait_for("all sessions blocked", PATIENCE, || {
        let results = agents.observe_many(&mut sessions);
        assert_eq!(results.len(), 3);
        results
            .iter()
            .all(|r| matches!(r, Ok(o) if o.status == SessionStatus::Blocked))
            .then_some(())
    });
    // Still screens are not captured again (activity stamps are old).
    wait_for("a pass without captures", PATIENCE, || {
        let (results, stats) = agents.observe_many_stats(&mut sessions);
        assert!(results.iter().all(|r| r.is_ok()));
        (stats.captured == 0).then_some(())
    });
    // A session killed from outside is gone, decided from pane state alone.
    server
        .tmux
        .kill_session(&sessions[1].session_name)
        .expect("kill");
    // A pass over the gone session alone: the live ones may be due for their
    // safety recapture at any pass, which is not what this checks.
    let (results, stats) = agents.observe_many_stats(&mut sessions[1..2]);
    let gone = results[0].as_ref().expect("observation");
    assert_eq!(gone.status, SessionStatus::Exited);
    assert_eq!(gone.reason, "pane_gone");
    assert_eq!(stats.captured, 0, "a gone pane is not captured");
    let results = agents.observe_many(&mut sessions);
    assert!(matches!(&results[0], Ok(o) if o.status == SessionStatus::Blocked));
    assert!(matches!(&results[1], Ok(o) if o.reason == "pane_gone"));
}

#[test]
fn output_events_wake_the_watch_loop_before_its_interval() {
    let server = TestServer::new();
    let agents = event_agents(&server);
    let session = agents
        .launch_session("events", &demo(&server, "busy").ready_timeout(PATIENCE))
        .expect("launch");
    let pane = session.pane_id.clone();
    let mut monitor = Monitor::new(&agents, vec![session]);
    // Polling alone would take this long: an observation sooner came from an event.
    monitor.interval = Duration::from_secs(30);
    assert!(monitor.is_event_driven(), "events are available");
    wait_for("the agent to run", PATIENCE, || {
        let started = Instant::now();
        let status = monitor.pass().pop().and_then(Result::ok).map(|o| o.status);
        monitor.wait(started);
        (status == Some(SessionStatus::Running)).then_some(())
    });
    let sent = Instant::now();
    server.tmux.send_keys(&pane, &["f"], true).expect("send");
    let deadline = sent + Duration::from_secs(10);
    let latency = loop {
        let woke = monitor.wait_until(deadline);
        let observation = monitor.pass().pop().expect("one").expect("observed");
        if observation.status == SessionStatus::Failed {
            assert!(woke || Instant::now() < deadline, "woken by an event");
            break sent.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "no failed status within 10 s (interval 30 s): events did not wake the loop"
        );
    };
    println!("screen change to observation: {latency:?}");
    assert!(latency < Duration::from_secs(10));
}

#[test]
fn a_window_linked_for_events_does_not_outlive_its_killed_session() {
    let server = TestServer::new();
    let agents = event_agents(&server);
    let session = agents
        .launch_session("linked", &demo(&server, "wait").ready_timeout(PATIENCE))
        .expect("launch");
    let name = session.session_name.clone();
    let mut monitor = Monitor::new(&agents, vec![session]);
    assert!(monitor.is_event_driven());
    monitor.pass();
    server.tmux.kill_session(&name).expect("kill");
    let observation = monitor.pass().pop().expect("one").expect("observed");
    assert_eq!(observation.reason, "pane_gone");
    // The agent's window is gone too (not kept alive by the watcher's link).
    wait_for("the agent's window to close", PATIENCE, || {
        let out = server
            .tmux
            .run(
                &[vec![
                    "list-windows".into(),
                    "-a".into(),
                    "-F".into(),
                    "#{window_panes}".into(),
                ]],
                None,
            )
            .map(|o| String::from_utf8_lossy(&o).lines().count())
            .unwrap_or(0);
        // Only the hidden session's own window is left.
        (out <= 1).then_some(())
    });
}

/// The control client dying under a watch loses nothing: calls fall back to
/// subprocess, a new client connects (and links the watched pane again), and
/// the loop still sees the agent fail.
#[test]
fn a_watch_survives_its_control_client_dying() {
    let server = TestServer::new();
    let registry = AdapterRegistry::builtin_with_exe(bin().to_string_lossy().into_owned())
        .expect("built-in adapters load");
    let transport = Arc::new(doeff_agents::tmux::ControlMode::with_events(
        server.server(),
    ));
    let agents = Agents::new(Tmux::with_transport(transport.clone()), Arc::new(registry));
    let session = agents
        .launch_session("orphan", &demo(&server, "busy").ready_timeout(PATIENCE))
        .expect("launch");
    let pane = session.pane_id.clone();
    let mut monitor = Monitor::new(&agents, vec![session]);
    monitor.interval = Duration::from_millis(200);
    wait_for("the agent to run", PATIENCE, || {
        let status = monitor.pass().pop().and_then(Result::ok).map(|o| o.status);
        (status == Some(SessionStatus::Running)).then_some(())
    });
    let first = transport.client_pid().expect("connected");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the client");
    server.tmux.send_keys(&pane, &["f"], true).expect("send");
    wait_for("the failure, seen after the client died", PATIENCE, || {
        let started = Instant::now();
        let observation = monitor.pass().pop().expect("one").expect("observed");
        monitor.wait(started);
        (observation.status == SessionStatus::Failed).then_some(())
    });
    wait_for("a new client", PATIENCE, || {
        let _ = agents.tmux().has_session("doeff-orphan");
        transport.client_pid().filter(|pid| *pid != first)
    });
}
