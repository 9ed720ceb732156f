//! [`MockAgentHandler`]: a scripted effect handler with no tmux and no real
//! sleeping, for testing programs. Each session follows a
//! [`MockSessionScript`]; everything the program did (launches, sends,
//! sleeps, stops) is recorded and readable through accessors.
//!
//! It mirrors the real handler where a program can tell: names get the
//! `doeff-` prefix and are validated, a name in use is refused, and a stopped
//! or unknown session cannot be captured or sent to (`SessionNotFound`) but
//! is observed as `stopped` / `exited`.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use super::{AgentHandler, SessionHandle, gone_observation};
use crate::adapter::LaunchConfig;
use crate::error::{Error, Result};
use crate::monitor::{Observation, SessionStatus, find_pr_urls};
use crate::session::{lookup_candidates, session_name};

/// The observations a mock session yields, in order: each `Monitor` effect
/// takes the next `(status, output)` step; when the steps run out the
/// session is `done` for ever (with its last output).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MockSessionScript {
    steps: VecDeque<(SessionStatus, String)>,
}

impl MockSessionScript {
    pub fn new<S: Into<String>>(
        steps: impl IntoIterator<Item = (SessionStatus, S)>,
    ) -> MockSessionScript {
        MockSessionScript {
            steps: steps
                .into_iter()
                .map(|(status, output)| (status, output.into()))
                .collect(),
        }
    }

    /// The next step, or `None` once the script is used up.
    pub fn next_observation(&mut self) -> Option<(SessionStatus, String)> {
        self.steps.pop_front()
    }

    /// Steps not yet taken.
    pub fn remaining(&self) -> impl Iterator<Item = &(SessionStatus, String)> {
        self.steps.iter()
    }
}

/// One recorded `Send` effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// Full session name (`doeff-...`).
    pub session: String,
    pub message: String,
    pub enter: bool,
}

impl SentMessage {
    pub fn new(session: impl Into<String>, message: impl Into<String>, enter: bool) -> SentMessage {
        SentMessage {
            session: session.into(),
            message: message.into(),
            enter,
        }
    }
}

/// A mock session's state.
#[derive(Clone, Debug)]
pub struct MockSession {
    pub handle: SessionHandle,
    pub config: LaunchConfig,
    pub status: SessionStatus,
    /// The current screen text (what `Capture` returns).
    pub output: String,
    pub script: MockSessionScript,
    /// How many `Monitor` effects it has answered.
    pub observations: usize,
    pub stopped: bool,
    last_observed_output: Option<String>,
    reported_prs: HashSet<String>,
}

/// What [`MockAgentHandler::configure_session`] stored for a name.
#[derive(Clone, Debug)]
struct Configured {
    script: MockSessionScript,
    initial_output: String,
}

/// Scripted handler: no tmux, no real sleeping; records everything.
#[derive(Debug, Default)]
pub struct MockAgentHandler {
    configured: BTreeMap<String, Configured>,
    sessions: BTreeMap<String, MockSession>,
    launches: Vec<(String, LaunchConfig)>,
    stops: Vec<String>,
    sent_messages: Vec<SentMessage>,
    sleeps: Vec<Duration>,
    total_sleep_time: Duration,
    next_pane: usize,
}

impl MockAgentHandler {
    pub fn new() -> MockAgentHandler {
        MockAgentHandler::default()
    }

    /// Scripts the session `name` (with or without the `doeff-` prefix). A
    /// later launch under that name starts with `initial_output` on screen
    /// and follows `script`; configuring a live session replaces its script.
    /// A session launched without configuration is `done` at its first
    /// observation.
    pub fn configure_session(
        &mut self,
        name: &str,
        script: MockSessionScript,
        initial_output: impl Into<String>,
    ) -> Result<()> {
        let full = session_name(name)?;
        let initial_output = initial_output.into();
        if let Some(session) = self.sessions.get_mut(&full).filter(|s| !s.stopped) {
            session.script = script.clone();
        }
        self.configured.insert(
            full,
            Configured {
                script,
                initial_output,
            },
        );
        Ok(())
    }

    /// Every session launched (the latest per name), by full name.
    pub fn sessions(&self) -> &BTreeMap<String, MockSession> {
        &self.sessions
    }

    /// A session by `NAME` or `doeff-NAME`.
    pub fn session(&self, name: &str) -> Option<&MockSession> {
        lookup_candidates(name)
            .iter()
            .find_map(|candidate| self.sessions.get(candidate))
    }

    /// The session's current status.
    pub fn status(&self, name: &str) -> Option<SessionStatus> {
        self.session(name).map(|s| s.status)
    }

    /// The session's current output.
    pub fn output(&self, name: &str) -> Option<&str> {
        self.session(name).map(|s| s.output.as_str())
    }

    /// Every `Launch`, in order: full session name and config.
    pub fn launches(&self) -> &[(String, LaunchConfig)] {
        &self.launches
    }

    /// Every `Stop`, in order (full session names), including repeated ones.
    pub fn stops(&self) -> &[String] {
        &self.stops
    }

    /// Every `Send`, in order.
    pub fn sent_messages(&self) -> &[SentMessage] {
        &self.sent_messages
    }

    /// Every `Sleep`, in order.
    pub fn sleeps(&self) -> &[Duration] {
        &self.sleeps
    }

    /// The sum of every `Sleep` (none of it slept for real).
    pub fn total_sleep_time(&self) -> Duration {
        self.total_sleep_time
    }

    /// The live (launched, not stopped) session for `handle`.
    fn live(&mut self, handle: &SessionHandle) -> Result<&mut MockSession> {
        self.sessions
            .get_mut(handle.session_name())
            .filter(|s| !s.stopped && s.handle.pane_id() == handle.pane_id())
            .ok_or_else(|| Error::SessionNotFound(handle.session_name().to_owned()))
    }
}

impl AgentHandler for MockAgentHandler {
    fn launch(
        &mut self,
        name: &str,
        config: &LaunchConfig,
        _ready_timeout: Duration,
    ) -> Result<SessionHandle> {
        let full = session_name(name)?;
        if self.sessions.get(&full).is_some_and(|s| !s.stopped) {
            return Err(Error::SessionAlreadyExists(full));
        }
        let Configured {
            script,
            initial_output,
        } = self.configured.get(&full).cloned().unwrap_or(Configured {
            script: MockSessionScript::default(),
            initial_output: String::new(),
        });
        let handle = SessionHandle::new(
            full.clone(),
            format!("%mock{}", self.next_pane),
            config.agent_type.clone(),
            config.work_dir.clone(),
            SystemTime::now(),
        );
        self.next_pane += 1;
        self.launches.push((full.clone(), config.clone()));
        self.sessions.insert(
            full,
            MockSession {
                handle: handle.clone(),
                config: config.clone(),
                status: SessionStatus::Booting,
                output: initial_output,
                script,
                observations: 0,
                stopped: false,
                last_observed_output: None,
                reported_prs: HashSet::new(),
            },
        );
        Ok(handle)
    }

    fn monitor(&mut self, handle: &SessionHandle) -> Result<Observation> {
        let Some(session) = self
            .sessions
            .get_mut(handle.session_name())
            .filter(|s| s.handle.pane_id() == handle.pane_id())
        else {
            return Ok(gone_observation(SessionStatus::Exited));
        };
        let previous = session.status;
        if session.stopped {
            return Ok(Observation::new(
                SessionStatus::Stopped,
                previous,
                "stopped",
                "",
            ));
        }
        let (status, reason) = match session.script.next_observation() {
            Some((status, output)) => {
                session.output = output;
                (status, "scripted")
            }
            None => (SessionStatus::Done, "script_finished"),
        };
        session.status = status;
        session.observations += 1;
        let mut observation = Observation::new(status, previous, reason, &session.output);
        observation.output_changed =
            session.last_observed_output.as_deref() != Some(session.output.as_str());
        session.last_observed_output = Some(session.output.clone());
        for url in find_pr_urls(&session.output) {
            if session.reported_prs.insert(url.clone()) {
                observation.new_pr_urls.push(url);
            }
        }
        Ok(observation)
    }

    fn capture(&mut self, handle: &SessionHandle, lines: usize) -> Result<String> {
        let session = self.live(handle)?;
        let all: Vec<&str> = session.output.lines().collect();
        let skip = all.len().saturating_sub(lines);
        Ok(all[skip..].join("\n"))
    }

    fn send(
        &mut self,
        handle: &SessionHandle,
        message: &str,
        enter: bool,
        _literal: bool,
    ) -> Result<()> {
        self.live(handle)?;
        self.sent_messages
            .push(SentMessage::new(handle.session_name(), message, enter));
        Ok(())
    }

    fn stop(&mut self, handle: &SessionHandle) -> Result<()> {
        self.stops.push(handle.session_name().to_owned());
        if let Ok(session) = self.live(handle) {
            session.stopped = true;
            session.status = SessionStatus::Stopped;
        }
        Ok(())
    }

    fn sleep(&mut self, duration: Duration) -> Result<()> {
        self.sleeps.push(duration);
        self.total_sleep_time += duration;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::AgentType;
    use crate::effects::{Effect, EffectResult, dispatch_effect};

    fn config() -> LaunchConfig {
        LaunchConfig::new(AgentType::Claude, "/work").prompt("hi")
    }

    fn launch(mock: &mut MockAgentHandler, name: &str) -> SessionHandle {
        match mock.launch(name, &config(), Duration::from_secs(30)) {
            Ok(handle) => handle,
            Err(err) => panic!("mock launch failed: {err}"),
        }
    }

    #[test]
    fn mock_script_runs_in_order_then_is_done_for_ever() -> Result<()> {
        let mut mock = MockAgentHandler::new();
        mock.configure_session(
            "job",
            MockSessionScript::new([
                (SessionStatus::Running, "step 1"),
                (SessionStatus::Blocked, "Do you want to proceed?"),
            ]),
            "booting...",
        )?;
        let handle = launch(&mut mock, "job");
        assert_eq!(handle.session_name(), "doeff-job");
        assert_eq!(mock.status("job"), Some(SessionStatus::Booting));
        assert_eq!(mock.capture(&handle, 10)?, "booting...");

        let first = mock.monitor(&handle)?;
        assert_eq!(
            (first.previous, first.status),
            (SessionStatus::Booting, SessionStatus::Running)
        );
        assert!(first.output_changed);
        let second = mock.monitor(&handle)?;
        assert_eq!(second.status, SessionStatus::Blocked);
        assert_eq!(second.output_snippet, "Do you want to proceed?");
        for _ in 0..3 {
            let later = mock.monitor(&handle)?;
            assert_eq!(later.status, SessionStatus::Done);
            assert!(later.is_terminal);
            assert_eq!(later.output_snippet, "Do you want to proceed?");
        }
        assert!(!mock.monitor(&handle)?.output_changed);
        assert_eq!(mock.session("doeff-job").map(|s| s.observations), Some(6));
        Ok(())
    }

    #[test]
    fn mock_unconfigured_session_is_done_at_once() -> Result<()> {
        let mut mock = MockAgentHandler::new();
        let handle = launch(&mut mock, "plain");
        let observation = mock.monitor(&handle)?;
        assert_eq!(observation.status, SessionStatus::Done);
        assert_eq!(observation.reason, "script_finished");
        Ok(())
    }

    #[test]
    fn mock_refuses_a_taken_name_and_unknown_sessions() -> Result<()> {
        let mut mock = MockAgentHandler::new();
        let handle = launch(&mut mock, "twice");
        assert!(matches!(
            mock.launch("twice", &config(), Duration::ZERO),
            Err(Error::SessionAlreadyExists(name)) if name == "doeff-twice"
        ));
        assert!(matches!(
            mock.launch("a:b", &config(), Duration::ZERO),
            Err(Error::InvalidSessionName { .. })
        ));

        let ghost = SessionHandle::new(
            "doeff-ghost",
            "%9",
            AgentType::Claude,
            "/work",
            SystemTime::now(),
        );
        assert!(
            matches!(mock.capture(&ghost, 5), Err(Error::SessionNotFound(n)) if n == "doeff-ghost")
        );
        assert!(matches!(
            mock.send(&ghost, "hi", true, true),
            Err(Error::SessionNotFound(_))
        ));
        let gone = mock.monitor(&ghost)?;
        assert_eq!(
            (gone.status, gone.reason.as_str()),
            (SessionStatus::Exited, "pane_gone")
        );
        mock.stop(&ghost)?;

        mock.stop(&handle)?;
        mock.stop(&handle)?;
        assert_eq!(mock.monitor(&handle)?.status, SessionStatus::Stopped);
        assert!(matches!(
            mock.capture(&handle, 5),
            Err(Error::SessionNotFound(_))
        ));
        assert!(matches!(
            mock.send(&handle, "hi", true, true),
            Err(Error::SessionNotFound(_))
        ));
        let again = launch(&mut mock, "twice");
        assert_ne!(again, handle, "a new launch is a new session");
        assert_eq!(mock.monitor(&handle)?.status, SessionStatus::Exited);
        assert_eq!(mock.stops(), ["doeff-ghost", "doeff-twice", "doeff-twice"]);
        assert_eq!(mock.launches().len(), 2);
        assert!(mock.sent_messages().is_empty());
        Ok(())
    }

    #[test]
    fn mock_records_sends_and_sleeps_without_sleeping() -> Result<()> {
        let started = std::time::Instant::now();
        let mut mock = MockAgentHandler::new();
        let handle = launch(&mut mock, "rec");
        for effect in [
            Effect::Send {
                handle: handle.clone(),
                message: "1".into(),
                enter: false,
                literal: true,
            },
            Effect::Sleep(Duration::from_secs(600)),
            Effect::Send {
                handle: handle.clone(),
                message: "line one\nline two".into(),
                enter: true,
                literal: true,
            },
            Effect::Sleep(Duration::from_millis(1500)),
        ] {
            dispatch_effect(&mut mock, effect)?;
        }
        assert_eq!(
            mock.sent_messages(),
            [
                SentMessage::new("doeff-rec", "1", false),
                SentMessage::new("doeff-rec", "line one\nline two", true),
            ]
        );
        assert_eq!(
            mock.sleeps(),
            [Duration::from_secs(600), Duration::from_millis(1500)]
        );
        assert_eq!(mock.total_sleep_time(), Duration::from_millis(601_500));
        assert!(started.elapsed() < Duration::from_secs(1));
        Ok(())
    }

    #[test]
    fn mock_reports_each_pr_url_once() -> Result<()> {
        let mut mock = MockAgentHandler::new();
        let url = "https://github.com/o/r/pull/12";
        mock.configure_session(
            "pr",
            MockSessionScript::new([
                (SessionStatus::Running, format!("opened {url}")),
                (SessionStatus::Running, format!("opened {url}\nstill here")),
            ]),
            "",
        )?;
        let handle = launch(&mut mock, "pr");
        let first = mock.monitor(&handle)?;
        assert_eq!(first.new_pr_urls, [url]);
        assert_eq!(first.pr_url.as_deref(), Some(url));
        let second = mock.monitor(&handle)?;
        assert!(second.new_pr_urls.is_empty());
        assert_eq!(second.pr_url.as_deref(), Some(url));
        Ok(())
    }

    #[test]
    fn dispatch_effect_answers_in_kind() -> Result<()> {
        let mut mock = MockAgentHandler::new();
        let launched = dispatch_effect(
            &mut mock,
            Effect::Launch {
                session_name: "d".into(),
                config: config(),
                ready_timeout: Duration::from_secs(1),
            },
        )?;
        let handle = launched.clone().into_handle()?;
        assert!(launched.into_observation().is_err());
        assert!(matches!(
            dispatch_effect(&mut mock, Effect::Monitor(handle.clone()))?,
            EffectResult::Observed(_)
        ));
        let captured = dispatch_effect(
            &mut mock,
            Effect::Capture {
                handle: handle.clone(),
                lines: 3,
            },
        )?;
        assert_eq!(captured, EffectResult::Captured(String::new()));
        assert_eq!(
            dispatch_effect(&mut mock, Effect::Stop(handle))?,
            EffectResult::Stopped
        );
        Ok(())
    }
}
