//! Programs: agent workflows written once against [`AgentHandler`], so the
//! same code runs on real tmux sessions ([`TmuxAgentHandler`]) and in tests
//! ([`MockAgentHandler`], which never sleeps).
//!
//! Every step a program takes is an [`Effect`] value passed to
//! [`dispatch_effect`], so a handler sees the whole workflow as data. Every
//! program that launches a session stops it again on every path: normal
//! return, error, and panic (the panic goes on after the stop).
//!
//! [`TmuxAgentHandler`]: super::TmuxAgentHandler
//! [`MockAgentHandler`]: super::MockAgentHandler

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{AgentHandler, Effect, SessionHandle, dispatch_effect};
use crate::adapter::{AgentType, LaunchConfig};
use crate::error::{Error, Result};
use crate::monitor::{Observation, SessionStatus, find_pr_urls};
use crate::session::DEFAULT_READY_TIMEOUT;

/// How a program polls a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Wait between two observations (a `Sleep` effect). Default 1 s.
    pub poll_interval: Duration,
    /// Give up after this many observations (`None`: never). Default 3600,
    /// an hour at the default interval: a run never hangs for ever.
    pub timeout_iterations: Option<usize>,
    /// Lines of output captured at the end. Default 100.
    pub capture_lines: usize,
    /// How long a launch may wait for the agent to be ready. Default 30 s.
    pub ready_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            poll_interval: Duration::from_secs(1),
            timeout_iterations: Some(3600),
            capture_lines: 100,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentResult {
    pub handle: SessionHandle,
    /// The last status observed before the program stopped the session
    /// (never `stopped` by the program's own stop). Not terminal when the
    /// run hit its iteration limit, or when an interactive session was
    /// blocked with no message left to send.
    pub final_status: SessionStatus,
    /// The captured output (taken before the stop); the last observed
    /// screen lines when the session had vanished.
    pub output: String,
    /// The newest PR URL seen.
    pub pr_url: Option<String>,
    /// How many observations were made.
    pub iterations: usize,
    /// `final_status` is `done`.
    pub succeeded: bool,
    /// `final_status` is terminal and not `done` (`failed`, `exited`, or
    /// `stopped` by someone else).
    pub failed: bool,
}

impl AgentResult {
    pub fn new(
        handle: SessionHandle,
        final_status: SessionStatus,
        output: String,
        pr_url: Option<String>,
        iterations: usize,
    ) -> AgentResult {
        AgentResult {
            handle,
            final_status,
            output,
            pr_url,
            iterations,
            succeeded: final_status == SessionStatus::Done,
            failed: final_status.is_terminal() && final_status != SessionStatus::Done,
        }
    }

    /// The run ended without a terminal status (iteration limit, or a
    /// blocked interactive session with nothing left to say).
    pub fn unfinished(&self) -> bool {
        !self.final_status.is_terminal()
    }
}

/// A message [`interactive_session`] sends when the agent is blocked.
/// Always literal text; `enter` says whether Enter follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub enter: bool,
}

impl Reply {
    /// Text followed by Enter (a chat message).
    pub fn message(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            enter: true,
        }
    }

    /// Text alone (a menu choice such as `1` that the agent takes without Enter).
    pub fn without_enter(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            enter: false,
        }
    }
}

impl From<&str> for Reply {
    fn from(text: &str) -> Reply {
        Reply::message(text)
    }
}

impl From<String> for Reply {
    fn from(text: String) -> Reply {
        Reply::message(text)
    }
}

/// Launches `config`'s agent as `name`, polls it every
/// `options.poll_interval` until it reaches a terminal status (or
/// `options.timeout_iterations` observations), captures its last
/// `options.capture_lines` lines, stops it, and says how it went.
/// `on_observation` sees every observation.
///
/// A blocked agent is not terminal: the run keeps polling (use
/// [`interactive_session`] to answer it). The session is stopped on every
/// path; a launch error is returned as is (a failed launch leaves nothing to
/// stop), and a session that vanished mid-run gives an `exited` result, not
/// an error.
pub fn run_agent_to_completion<H, F>(
    handler: &mut H,
    name: &str,
    config: &LaunchConfig,
    options: &RunOptions,
    mut on_observation: F,
) -> Result<AgentResult>
where
    H: AgentHandler + ?Sized,
    F: FnMut(&Observation),
{
    run(
        handler,
        name,
        config,
        options,
        &mut VecDeque::new(),
        false,
        &mut on_observation,
    )
}

/// Like [`run_agent_to_completion`], and each time the agent is `blocked`
/// sends it the next of `messages`. After a message, the agent must be
/// seen leaving `blocked` before the next one goes, so one prompt never gets
/// two messages. When the agent is blocked and no message is left, the run
/// ends there (`final_status` `blocked`): nobody else will answer it.
pub fn interactive_session<H, F, M>(
    handler: &mut H,
    name: &str,
    config: &LaunchConfig,
    messages: impl IntoIterator<Item = M>,
    options: &RunOptions,
    mut on_observation: F,
) -> Result<AgentResult>
where
    H: AgentHandler + ?Sized,
    F: FnMut(&Observation),
    M: Into<Reply>,
{
    let mut replies: VecDeque<Reply> = messages.into_iter().map(Into::into).collect();
    run(
        handler,
        name,
        config,
        options,
        &mut replies,
        true,
        &mut on_observation,
    )
}

/// Runs `prompt` on `agent_type` in `work_dir` as session `name` with
/// [`RunOptions::default`] and no callback: the shortest way to get an
/// agent's answer ([`AgentResult::output`]).
pub fn quick_agent<H: AgentHandler + ?Sized>(
    handler: &mut H,
    name: &str,
    agent_type: AgentType,
    work_dir: impl Into<PathBuf>,
    prompt: impl Into<String>,
) -> Result<AgentResult> {
    let config = LaunchConfig::new(agent_type, work_dir).prompt(prompt);
    run_agent_to_completion(handler, name, &config, &RunOptions::default(), |_| {})
}

/// Launches a session, runs `body` with it, and stops it afterwards on every
/// path (return, error, panic). `body`'s error wins over a stop error.
pub fn with_session<H, T, B>(
    handler: &mut H,
    name: &str,
    config: &LaunchConfig,
    ready_timeout: Duration,
    body: B,
) -> Result<T>
where
    H: AgentHandler + ?Sized,
    B: FnOnce(&mut H, &SessionHandle) -> Result<T>,
{
    let handle = launch(handler, name, config, ready_timeout)?;
    stop_after(handler, &handle, |handler| body(handler, &handle))
}

/// Observes `handle` every `poll_interval` until its status is terminal or
/// `max_iterations` observations were made (`None`: no limit); returns the
/// last observation (at least one is always made). `on_observation` sees
/// each one. Does not stop the session.
pub fn monitor_until_terminal<H, F>(
    handler: &mut H,
    handle: &SessionHandle,
    poll_interval: Duration,
    max_iterations: Option<usize>,
    mut on_observation: F,
) -> Result<Observation>
where
    H: AgentHandler + ?Sized,
    F: FnMut(&Observation),
{
    let mut iterations = 0;
    loop {
        let observation = monitor(handler, handle)?;
        iterations += 1;
        on_observation(&observation);
        if observation.is_terminal || max_iterations.is_some_and(|max| iterations >= max) {
            return Ok(observation);
        }
        sleep(handler, poll_interval)?;
    }
}

/// The loop behind [`run_agent_to_completion`] and [`interactive_session`].
fn run<H: AgentHandler + ?Sized>(
    handler: &mut H,
    name: &str,
    config: &LaunchConfig,
    options: &RunOptions,
    replies: &mut VecDeque<Reply>,
    interactive: bool,
    on_observation: &mut dyn FnMut(&Observation),
) -> Result<AgentResult> {
    let handle = launch(handler, name, config, options.ready_timeout)?;
    stop_after(handler, &handle, |handler| {
        let mut status = SessionStatus::Booting;
        let mut last: Option<Observation> = None;
        let mut iterations = 0;
        let mut answered = false;
        while options
            .timeout_iterations
            .is_none_or(|max| iterations < max)
        {
            let observation = monitor(handler, &handle)?;
            iterations += 1;
            on_observation(&observation);
            status = observation.status;
            let blocked = status == SessionStatus::Blocked;
            last = Some(observation);
            if status.is_terminal() {
                break;
            }
            if !blocked {
                answered = false;
            } else if interactive && !answered {
                let Some(reply) = replies.pop_front() else {
                    break;
                };
                match send(handler, &handle, &reply.text, reply.enter) {
                    // Gone: the next observation says `exited`.
                    Ok(()) | Err(Error::SessionNotFound(_)) => {}
                    Err(err) => return Err(err),
                }
                answered = true;
            }
            if options.timeout_iterations != Some(iterations) {
                sleep(handler, options.poll_interval)?;
            }
        }
        let seen_pr = last.as_ref().and_then(|o| o.pr_url.clone());
        let (output, final_status) = match capture(handler, &handle, options.capture_lines) {
            Ok(text) => (text, status),
            Err(Error::SessionNotFound(_)) => {
                let snippet = last.map(|o| o.output_snippet).unwrap_or_default();
                let status = if status.is_terminal() {
                    status
                } else {
                    SessionStatus::Exited
                };
                (snippet, status)
            }
            Err(err) => return Err(err),
        };
        let pr_url = seen_pr.or_else(|| find_pr_urls(&output).pop());
        Ok(AgentResult::new(
            handle.clone(),
            final_status,
            output,
            pr_url,
            iterations,
        ))
    })
}

/// Runs `body`, then stops `handle` whatever happened; re-raises a panic
/// after the stop. The body's error wins over the stop's.
fn stop_after<H, T>(
    handler: &mut H,
    handle: &SessionHandle,
    body: impl FnOnce(&mut H) -> Result<T>,
) -> Result<T>
where
    H: AgentHandler + ?Sized,
{
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| body(handler)));
    let stopped = stop(handler, handle);
    match outcome {
        Err(payload) => panic::resume_unwind(payload),
        Ok(Err(err)) => Err(err),
        Ok(Ok(value)) => stopped.map(|()| value),
    }
}

fn launch<H: AgentHandler + ?Sized>(
    handler: &mut H,
    name: &str,
    config: &LaunchConfig,
    ready_timeout: Duration,
) -> Result<SessionHandle> {
    let effect = Effect::Launch {
        session_name: name.to_owned(),
        config: config.clone(),
        ready_timeout,
    };
    dispatch_effect(handler, effect)?.into_handle()
}

fn monitor<H: AgentHandler + ?Sized>(
    handler: &mut H,
    handle: &SessionHandle,
) -> Result<Observation> {
    dispatch_effect(handler, Effect::Monitor(handle.clone()))?.into_observation()
}

fn capture<H: AgentHandler + ?Sized>(
    handler: &mut H,
    handle: &SessionHandle,
    lines: usize,
) -> Result<String> {
    let effect = Effect::Capture {
        handle: handle.clone(),
        lines,
    };
    dispatch_effect(handler, effect)?.into_output()
}

fn send<H: AgentHandler + ?Sized>(
    handler: &mut H,
    handle: &SessionHandle,
    message: &str,
    enter: bool,
) -> Result<()> {
    let effect = Effect::Send {
        handle: handle.clone(),
        message: message.to_owned(),
        enter,
        literal: true,
    };
    dispatch_effect(handler, effect).map(drop)
}

fn stop<H: AgentHandler + ?Sized>(handler: &mut H, handle: &SessionHandle) -> Result<()> {
    dispatch_effect(handler, Effect::Stop(handle.clone())).map(drop)
}

fn sleep<H: AgentHandler + ?Sized>(handler: &mut H, duration: Duration) -> Result<()> {
    dispatch_effect(handler, Effect::Sleep(duration)).map(drop)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::effects::gone_observation;
    use crate::effects::mock::{MockAgentHandler, MockSessionScript, SentMessage};

    const BLOCKED: SessionStatus = SessionStatus::Blocked;
    const RUNNING: SessionStatus = SessionStatus::Running;

    fn config() -> LaunchConfig {
        LaunchConfig::new(AgentType::Codex, "/work").prompt("fix it")
    }

    fn options(poll_secs: u64) -> RunOptions {
        RunOptions {
            poll_interval: Duration::from_secs(poll_secs),
            ..RunOptions::default()
        }
    }

    fn scripted(name: &str, steps: &[(SessionStatus, &str)]) -> MockAgentHandler {
        let mut mock = MockAgentHandler::new();
        let configured =
            mock.configure_session(name, MockSessionScript::new(steps.iter().copied()), "");
        assert!(configured.is_ok());
        mock
    }

    #[test]
    fn effects_run_to_completion_sleeps_only_in_the_record() -> Result<()> {
        let started = Instant::now();
        let mut mock = scripted(
            "job",
            &[
                (RUNNING, "working"),
                (RUNNING, "still working"),
                (
                    SessionStatus::Done,
                    "PR: https://github.com/o/r/pull/3\nDone.",
                ),
            ],
        );
        let mut seen = Vec::new();
        let result = run_agent_to_completion(&mut mock, "job", &config(), &options(600), |o| {
            seen.push(o.status)
        })?;
        assert_eq!(seen, [RUNNING, RUNNING, SessionStatus::Done]);
        assert_eq!(result.final_status, SessionStatus::Done);
        assert!(result.succeeded && !result.failed && !result.unfinished());
        assert_eq!(result.iterations, 3);
        assert_eq!(result.output, "PR: https://github.com/o/r/pull/3\nDone.");
        assert_eq!(
            result.pr_url.as_deref(),
            Some("https://github.com/o/r/pull/3")
        );
        assert_eq!(result.handle.session_name(), "doeff-job");
        assert_eq!(mock.sleeps(), [Duration::from_secs(600); 2]);
        assert_eq!(mock.total_sleep_time(), Duration::from_secs(1200));
        assert_eq!(mock.stops(), ["doeff-job"]);
        assert_eq!(mock.status("job"), Some(SessionStatus::Stopped));
        assert!(started.elapsed() < Duration::from_secs(1), "never slept");
        Ok(())
    }

    #[test]
    fn effects_failed_agent_is_failed_not_an_error() -> Result<()> {
        let mut mock = scripted("bad", &[(SessionStatus::Failed, "Error: 401")]);
        let result = run_agent_to_completion(&mut mock, "bad", &config(), &options(1), |_| {})?;
        assert!(result.failed && !result.succeeded);
        assert_eq!(result.output, "Error: 401");
        assert!(mock.sleeps().is_empty());
        Ok(())
    }

    #[test]
    fn effects_iteration_limit_bounds_a_run() -> Result<()> {
        let mut mock = scripted(
            "slow",
            &[
                (RUNNING, "a"),
                (RUNNING, "b"),
                (RUNNING, "c"),
                (RUNNING, "d"),
            ],
        );
        let limited = RunOptions {
            timeout_iterations: Some(3),
            ..options(2)
        };
        let result = run_agent_to_completion(&mut mock, "slow", &config(), &limited, |_| {})?;
        assert_eq!((result.final_status, result.iterations), (RUNNING, 3));
        assert!(result.unfinished() && !result.failed && !result.succeeded);
        assert_eq!(result.output, "c");
        assert_eq!(mock.total_sleep_time(), Duration::from_secs(4));
        assert_eq!(mock.stops(), ["doeff-slow"]);
        Ok(())
    }

    #[test]
    fn effects_interactive_session_answers_each_blocked_spell_once() -> Result<()> {
        let mut mock = scripted(
            "chat",
            &[
                (RUNNING, "thinking"),
                (BLOCKED, "Do you want to proceed?"),
                (BLOCKED, "Do you want to proceed? 1"),
                (RUNNING, "working"),
                (BLOCKED, "What next?"),
                (RUNNING, "working more"),
                (SessionStatus::Done, "all done"),
            ],
        );
        let replies = [Reply::without_enter("1"), Reply::message("ship it")];
        let result =
            interactive_session(&mut mock, "chat", &config(), replies, &options(1), |_| {})?;
        assert!(result.succeeded);
        assert_eq!(
            mock.sent_messages(),
            [
                SentMessage::new("doeff-chat", "1", false),
                SentMessage::new("doeff-chat", "ship it", true),
            ]
        );
        assert_eq!(mock.total_sleep_time(), Duration::from_secs(6));
        Ok(())
    }

    #[test]
    fn effects_interactive_session_ends_blocked_with_nothing_left_to_say() -> Result<()> {
        let mut mock = scripted(
            "mute",
            &[(BLOCKED, "Do you want to proceed?"), (RUNNING, "x")],
        );
        let result = interactive_session(
            &mut mock,
            "mute",
            &config(),
            Vec::<Reply>::new(),
            &options(1),
            |_| {},
        )?;
        assert_eq!((result.final_status, result.iterations), (BLOCKED, 1));
        assert!(result.unfinished());
        assert!(mock.sent_messages().is_empty());
        assert_eq!(mock.stops(), ["doeff-mute"]);
        Ok(())
    }

    /// A mock whose session vanishes after `after` observations, or whose
    /// sleeps fail.
    struct Flaky {
        mock: MockAgentHandler,
        after: usize,
        seen: usize,
        sleep_fails: bool,
    }

    impl AgentHandler for Flaky {
        fn launch(&mut self, n: &str, c: &LaunchConfig, t: Duration) -> Result<SessionHandle> {
            self.mock.launch(n, c, t)
        }
        fn monitor(&mut self, handle: &SessionHandle) -> Result<Observation> {
            self.seen += 1;
            if self.seen > self.after {
                self.mock.stop(handle)?;
                return Ok(gone_observation(RUNNING));
            }
            self.mock.monitor(handle)
        }
        fn capture(&mut self, handle: &SessionHandle, lines: usize) -> Result<String> {
            self.mock.capture(handle, lines)
        }
        fn send(&mut self, h: &SessionHandle, m: &str, e: bool, l: bool) -> Result<()> {
            self.mock.send(h, m, e, l)
        }
        fn stop(&mut self, handle: &SessionHandle) -> Result<()> {
            self.mock.stop(handle)
        }
        fn sleep(&mut self, duration: Duration) -> Result<()> {
            if self.sleep_fails {
                return Err(Error::InvalidInput("no sleep".into()));
            }
            self.mock.sleep(duration)
        }
    }

    fn flaky(after: usize, sleep_fails: bool) -> Flaky {
        Flaky {
            mock: scripted(
                "f",
                &[(RUNNING, "one"), (RUNNING, "two"), (RUNNING, "three")],
            ),
            after,
            seen: 0,
            sleep_fails,
        }
    }

    #[test]
    fn effects_vanished_session_gives_an_exited_result() -> Result<()> {
        let mut handler = flaky(2, false);
        let result = run_agent_to_completion(&mut handler, "f", &config(), &options(1), |_| {})?;
        assert_eq!(result.final_status, SessionStatus::Exited);
        assert!(result.failed);
        assert_eq!(result.iterations, 3);
        assert_eq!(handler.mock.stops(), ["doeff-f", "doeff-f"]);
        Ok(())
    }

    #[test]
    fn effects_errors_and_panics_still_stop_the_session() {
        let mut handler = flaky(10, true);
        let result = run_agent_to_completion(&mut handler, "f", &config(), &options(1), |_| {});
        assert!(matches!(result, Err(Error::InvalidInput(_))));
        assert_eq!(handler.mock.stops(), ["doeff-f"]);

        let mut mock = scripted("p", &[(RUNNING, "x")]);
        let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
            run_agent_to_completion(&mut mock, "p", &config(), &options(1), |_| {
                panic!("callback bug")
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(mock.stops(), ["doeff-p"]);

        let mut mock = MockAgentHandler::new();
        let body: Result<()> = with_session(&mut mock, "w", &config(), Duration::ZERO, |h, s| {
            h.send(s, "hello", true, true)?;
            Err(Error::InvalidInput("body failed".into()))
        });
        assert!(matches!(body, Err(Error::InvalidInput(m)) if m == "body failed"));
        assert_eq!(mock.stops(), ["doeff-w"]);
        assert_eq!(
            mock.sent_messages(),
            [SentMessage::new("doeff-w", "hello", true)]
        );
    }

    #[test]
    fn effects_monitor_until_terminal_and_quick_agent() -> Result<()> {
        let mut mock = scripted(
            "m",
            &[(RUNNING, "a"), (BLOCKED, "b"), (SessionStatus::Done, "c")],
        );
        let last = with_session(&mut mock, "m", &config(), Duration::ZERO, |h, s| {
            monitor_until_terminal(h, s, Duration::from_secs(5), None, |_| {})
        })?;
        assert_eq!((last.previous, last.status), (BLOCKED, SessionStatus::Done));
        assert_eq!(mock.total_sleep_time(), Duration::from_secs(10));

        let mut mock = scripted("cap", &[(RUNNING, "a"), (RUNNING, "b")]);
        let capped = with_session(&mut mock, "cap", &config(), Duration::ZERO, |h, s| {
            monitor_until_terminal(h, s, Duration::from_secs(5), Some(1), |_| {})
        })?;
        assert_eq!(capped.status, RUNNING);
        assert!(mock.sleeps().is_empty());

        let mut mock = scripted("q", &[(SessionStatus::Done, "42")]);
        let result = quick_agent(&mut mock, "q", AgentType::Gemini, "/work", "answer")?;
        assert_eq!(result.output, "42");
        assert_eq!(mock.launches()[0].1.prompt.as_deref(), Some("answer"));
        Ok(())
    }
}
