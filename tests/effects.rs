//! The effects API end to end: one workflow function runs unchanged on the
//! mock handler and on real tmux sessions (the demo agent on a throwaway
//! server) and ends in the same status; with the `async` feature, five demo
//! sessions are watched at once on one thread.

mod support;

use std::time::{Duration, Instant};

use doeff_agents::effects::mock::SentMessage;
use doeff_agents::effects::{
    AgentHandler, MockAgentHandler, MockSessionScript, Reply, RunOptions, SessionHandle,
    interactive_session, monitor_until_terminal, with_session,
};
use doeff_agents::{AgentType, Error, LaunchConfig, Result, SessionStatus, TmuxAgentHandler};
use support::TestServer;

const READY: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
/// 300 polls of 100 ms: 30 s before a real run counts as hung.
const MAX_POLLS: usize = 300;

/// What the workflow saw.
#[derive(Debug)]
struct Outcome {
    statuses: Vec<SessionStatus>,
    final_status: SessionStatus,
    output: String,
}

/// The workflow under test, written once: launch, watch until the agent
/// asks for approval, answer "1" (no Enter), watch until it ends, capture.
fn approve_once<H: AgentHandler + ?Sized>(
    handler: &mut H,
    name: &str,
    config: &LaunchConfig,
) -> Result<Outcome> {
    with_session(handler, name, config, READY, |handler, session| {
        let mut statuses = Vec::new();
        let asked = watch_until_blocked(handler, session, &mut statuses)?;
        if asked.status != SessionStatus::Blocked {
            return Err(Error::InvalidInput(format!(
                "expected an approval question, got {} ({})",
                asked.status, asked.reason
            )));
        }
        handler.send(session, "1", false, true)?;
        let last = monitor_until_terminal(handler, session, POLL, Some(MAX_POLLS), |o| {
            statuses.push(o.status)
        })?;
        let output = handler.capture(session, 40)?;
        Ok(Outcome {
            statuses,
            final_status: last.status,
            output,
        })
    })
}

fn watch_until_blocked<H: AgentHandler + ?Sized>(
    handler: &mut H,
    session: &SessionHandle,
    statuses: &mut Vec<SessionStatus>,
) -> Result<doeff_agents::Observation> {
    for _ in 0..MAX_POLLS {
        let observation = handler.monitor(session)?;
        statuses.push(observation.status);
        if observation.status == SessionStatus::Blocked || observation.is_terminal {
            return Ok(observation);
        }
        handler.sleep(POLL)?;
    }
    Err(Error::InvalidInput("the agent never asked".into()))
}

fn demo_config(server: &TestServer) -> LaunchConfig {
    LaunchConfig::new(AgentType::Custom("demo".into()), &server.dir)
        .prompt("add a README")
        .env("DOEFF_DEMO_WORK_MS", "500")
}

fn demo_script() -> MockSessionScript {
    MockSessionScript::new([
        (SessionStatus::Running, "✶ Working… (esc to interrupt)"),
        (
            SessionStatus::Blocked,
            "Do you want to proceed?\n❯ 1. Yes\n  2. No",
        ),
        (SessionStatus::Running, "✻ Working… (esc to interrupt)"),
        (SessionStatus::Done, "Task completed successfully"),
    ])
}

fn mock_handler(name: &str) -> MockAgentHandler {
    let mut mock = MockAgentHandler::new();
    let configured = mock.configure_session(name, demo_script(), "");
    assert!(configured.is_ok(), "{configured:?}");
    mock
}

#[test]
fn one_workflow_ends_the_same_on_the_mock_and_on_tmux() {
    let server = TestServer::new();
    let config = demo_config(&server);

    let started = Instant::now();
    let mut mock = mock_handler("approve");
    let mocked = approve_once(&mut mock, "approve", &config).expect("mock run");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the mock never sleeps"
    );
    assert_eq!(
        mock.sent_messages(),
        [SentMessage::new("doeff-approve", "1", false)]
    );
    assert_eq!(mock.total_sleep_time(), POLL * 2);
    assert_eq!(mock.stops(), ["doeff-approve"]);

    let mut real = TmuxAgentHandler::new(server.agents());
    let tmux = approve_once(&mut real, "approve", &config).expect("tmux run");

    assert_eq!(mocked.final_status, SessionStatus::Done, "{mocked:?}");
    assert_eq!(tmux.final_status, mocked.final_status, "{tmux:?}");
    for outcome in [&mocked, &tmux] {
        assert!(outcome.statuses.contains(&SessionStatus::Blocked));
        assert!(
            outcome.output.contains("Task completed successfully"),
            "{}",
            outcome.output
        );
    }
    assert!(server.session_names().is_empty(), "the session was stopped");
    let kept = real
        .session("approve")
        .expect("the handler keeps its state");
    assert_eq!(kept.status, SessionStatus::Stopped);
}

#[test]
fn interactive_program_runs_unchanged_on_both_handlers() {
    let server = TestServer::new();
    let config = demo_config(&server);
    let options = RunOptions {
        poll_interval: POLL,
        timeout_iterations: Some(MAX_POLLS),
        capture_lines: 40,
        ready_timeout: READY,
    };
    let replies = || [Reply::without_enter("1")];

    let mut mock = mock_handler("chat");
    let mocked = interactive_session(&mut mock, "chat", &config, replies(), &options, |_| {})
        .expect("mock run");
    let mut real = TmuxAgentHandler::new(server.agents());
    let tmux = interactive_session(&mut real, "chat", &config, replies(), &options, |_| {})
        .expect("tmux run");

    for result in [&mocked, &tmux] {
        assert!(result.succeeded, "{result:?}");
        assert_eq!(result.handle.session_name(), "doeff-chat");
        assert!(result.output.contains("Task completed successfully"));
    }
    assert!(server.session_names().is_empty());
}

#[test]
fn a_session_killed_from_outside_is_an_exited_result() {
    let server = TestServer::new();
    let config = demo_config(&server);
    let mut real = TmuxAgentHandler::new(server.agents());
    let options = RunOptions {
        poll_interval: POLL,
        timeout_iterations: Some(MAX_POLLS),
        capture_lines: 40,
        ready_timeout: READY,
    };
    let tmux = server.tmux.clone();
    let mut seen = 0;
    let mut killed = false;
    let result =
        doeff_agents::run_agent_to_completion(&mut real, "victim", &config, &options, |_| {
            seen += 1;
            if seen == 2 {
                killed = tmux.kill_session("doeff-victim").is_ok();
            }
        })
        .expect("a vanished session is a result, not an error");
    assert!(killed, "killed from outside");
    assert_eq!(result.iterations, 3);
    assert_eq!(result.final_status, SessionStatus::Exited, "{result:?}");
    assert!(result.failed);
}

#[cfg(feature = "async")]
mod asynchronous {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use doeff_agents::effects::{Effect, EffectResult};
    use doeff_agents::{
        AsyncMonitorCallbacks, AsyncTmuxAgentHandler, async_monitor_session, async_session_scope,
    };

    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    }

    /// Ticks every 20 ms and records the longest gap between ticks: a
    /// blocking call on the runtime's only thread shows up as a long gap.
    fn heartbeat(longest_ms: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let gap = last.elapsed().as_millis() as u64;
                longest_ms.fetch_max(gap, Ordering::Relaxed);
                last = Instant::now();
            }
        })
    }

    async fn watch_one(
        agents: &doeff_agents::Agents,
        config: &LaunchConfig,
        n: usize,
    ) -> Result<(SessionStatus, Vec<SessionStatus>)> {
        let mut scope = async_session_scope(
            agents,
            &format!("many-{n}"),
            &config.clone().ready_timeout(READY),
        )
        .await?;
        let mut changes = Vec::new();
        let callbacks = AsyncMonitorCallbacks::new()
            .on_status_change(|_, new, _| changes.push(new))
            .on_blocked(|_| Some(Reply::without_enter("1")));
        let status = async_monitor_session(agents, scope.session_mut(), POLL, callbacks).await?;
        scope.stop().await?;
        Ok((status, changes))
    }

    #[test]
    fn five_demo_sessions_are_watched_at_once_on_one_thread() {
        let server = TestServer::new();
        let agents = server.agents();
        let config = demo_config(&server);
        let longest = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let results = runtime().block_on(async {
            let beat = heartbeat(longest.clone());
            let all = tokio::time::timeout(Duration::from_secs(60), async {
                tokio::join!(
                    watch_one(&agents, &config, 0),
                    watch_one(&agents, &config, 1),
                    watch_one(&agents, &config, 2),
                    watch_one(&agents, &config, 3),
                    watch_one(&agents, &config, 4),
                )
            })
            .await
            .expect("five sessions end within a minute");
            beat.abort();
            all
        });
        let elapsed = started.elapsed();
        for result in [results.0, results.1, results.2, results.3, results.4] {
            let (status, changes) = result.expect("watched to the end");
            assert_eq!(status, SessionStatus::Done, "{changes:?}");
            assert!(changes.contains(&SessionStatus::Blocked), "{changes:?}");
        }
        // One at a time, each would take at least 1 s of demo work.
        assert!(elapsed < Duration::from_secs(5 * 2), "{elapsed:?}");
        let longest = longest.load(Ordering::Relaxed);
        assert!(longest < 1000, "the runtime was blocked for {longest} ms");
        assert!(server.session_names().is_empty(), "every scope stopped");
    }

    #[test]
    fn the_async_handler_runs_the_approval_workflow() {
        let server = TestServer::new();
        let config = demo_config(&server);
        let handler = AsyncTmuxAgentHandler::new(server.agents());
        let final_status = runtime().block_on(async {
            let handle = handler
                .dispatch(Effect::Launch {
                    session_name: "async-approve".into(),
                    config: config.clone(),
                    ready_timeout: READY,
                })
                .await?
                .into_handle()?;
            let mut answered = false;
            let mut last = SessionStatus::Booting;
            for _ in 0..MAX_POLLS {
                let observation = handler.monitor(&handle).await?;
                last = observation.status;
                if observation.is_terminal {
                    break;
                }
                if last == SessionStatus::Blocked && !answered {
                    handler.send(&handle, "1", false, true).await?;
                    answered = true;
                }
                handler.sleep(POLL).await?;
            }
            let output = handler.capture(&handle, 40).await?;
            assert!(output.contains("Task completed successfully"), "{output}");
            assert_eq!(
                handler.dispatch(Effect::Stop(handle.clone())).await?,
                EffectResult::Stopped
            );
            let gone = handler.monitor(&handle).await?;
            assert_eq!(gone.status, SessionStatus::Stopped);
            Ok::<_, Error>(last)
        });
        assert_eq!(final_status.expect("async run"), SessionStatus::Done);
        assert_eq!(handler.session_names(), ["doeff-async-approve"]);
        assert!(server.session_names().is_empty());
    }
}
