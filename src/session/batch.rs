//! Observing many sessions at once, cheaply. One monitoring pass asks tmux
//! for every pane's state in a single `list-panes -a` call (liveness, exit
//! status, foreground command, activity stamp) and captures only the panes
//! whose screen may have changed; the others are classified again from the
//! screen kept from their last capture (as an unchanged screen, which is what
//! lets a finished turn become `blocked`). Gone and stopped sessions are
//! classified from the state alone.
//!
//! A pane is captured when:
//! - it was never captured (or its session was just found again);
//! - tmux reported `%output` for it (event-driven watching, see
//!   [`Monitor`]), or a structural event asked to look at everything;
//! - its activity stamp changed, or is not older than the second of the last
//!   capture (`window_activity` has one-second resolution: output later in
//!   the same second would not move it);
//! - its status is not terminal and [`SAFETY_RECAPTURE_PASSES`] passes went
//!   by without a capture (a safety net, e.g. for a stamp tmux did not move).
//!
//! [`Monitor`] is the watch loop on top: it registers its panes for output
//! events when the transport supports them, and waits for an event or the
//! interval, whichever comes first, with a short debounce so a burst of
//! output costs one pass.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::observe::{Read, Reading};
use super::{AgentSession, Agents, now_secs};
use crate::adapter::Adapter;
use crate::error::Result;
use crate::monitor::{Observation, Process, Screen};
use crate::tmux::{PaneState, Pending, is_not_found};

/// Passes without a capture after which a non-terminal session is captured anyway.
pub const SAFETY_RECAPTURE_PASSES: u32 = 10;
/// How long a dead pane may go without an exit status before the batched
/// path decides it ended anyway (tmux normally knows within milliseconds;
/// under load it has been seen never to fill it in).
pub const DEAD_STATUS_GRACE: Duration = Duration::from_secs(2);
/// Default wait after an output event, so a burst of output is one pass.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(30);

/// What a session keeps between batched passes.
#[derive(Clone, Debug, Default)]
pub(crate) struct CaptureCache {
    /// The last captured screen.
    screen: Option<Screen>,
    /// Unix second at which the last capture started.
    captured_at: u64,
    /// The pane's activity stamp when last looked at.
    activity: Option<u64>,
    /// Passes since the last capture.
    passes_since_capture: u32,
    /// When the pane was first seen dead without an exit status.
    pub(super) dead_unknown_since: Option<Instant>,
}

/// How one pass went, for callers that count (the bench, tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub sessions: usize,
    /// Panes captured in this pass.
    pub captured: usize,
}

fn must_capture(
    cache: &CaptureCache,
    state: &PaneState,
    dirty: &Pending,
    session: &AgentSession,
) -> bool {
    let Some(_) = cache.screen else { return true };
    if dirty.structure || dirty.panes.contains(&session.pane_id) {
        return true;
    }
    match state.activity {
        Some(stamp) if Some(stamp) != cache.activity || stamp >= cache.captured_at => true,
        None => true,
        Some(_) => {
            !session.status.is_terminal() && cache.passes_since_capture >= SAFETY_RECAPTURE_PASSES
        }
    }
}

impl Agents {
    /// One monitoring pass over `sessions`: one pane-state query for all of
    /// them, captures only where the screen may have changed, one
    /// [`Observation`] per session (in order). A failure of the shared state
    /// query fails every session's result.
    pub fn observe_many(&self, sessions: &mut [AgentSession]) -> Vec<Result<Observation>> {
        self.observe_many_stats(sessions).0
    }

    /// [`Agents::observe_many`] plus how many panes were captured.
    pub fn observe_many_stats(
        &self,
        sessions: &mut [AgentSession],
    ) -> (Vec<Result<Observation>>, PassStats) {
        self.pass(sessions, Read::Changed)
    }

    /// [`Read::Changed`]: every pane's state, then the screens that may
    /// have changed (others are classified again from the kept screen).
    pub(super) fn read_changed(
        &self,
        sessions: &mut [AgentSession],
        adapters: &[Arc<Adapter>],
        stats: &mut PassStats,
    ) -> Vec<Result<Reading>> {
        let dirty = self
            .tmux()
            .output_events()
            .map(|events| events.take())
            .unwrap_or_default();
        let states = match self.tmux().pane_states() {
            Ok(states) => states,
            Err(err) => {
                return sessions
                    .iter()
                    .map(|_| Err(err.shared_tmux("list-panes")))
                    .collect();
            }
        };
        let by_pane: HashMap<&str, &PaneState> =
            states.iter().map(|s| (s.pane_id.as_str(), s)).collect();
        // Phase 1: the process layer for each session, and which to capture.
        let plans: Vec<(Process, Option<&PaneState>, bool)> = sessions
            .iter_mut()
            .zip(adapters)
            .map(|(session, adapter)| {
                let state = by_pane.get(session.pane_id.as_str()).copied();
                self.plan(session, adapter, state, &dirty)
            })
            .collect();
        // Phase 2: every capture in one round trip (over control mode).
        let targets: Vec<&str> = sessions
            .iter()
            .zip(&plans)
            .filter(|(_, plan)| plan.2)
            .map(|(session, _)| session.pane_id.as_str())
            .collect();
        let started = now_secs();
        let mut captures = self.tmux().capture_panes(&targets).into_iter();
        // Phase 3: the reading, from the new capture or the kept screen.
        sessions
            .iter_mut()
            .zip(plans)
            .map(|(session, (mut process, state, capture))| {
                let mut captured = false;
                if capture {
                    match captures.next() {
                        Some(Ok(text)) => {
                            stats.captured += 1;
                            captured = true;
                            session.cache.screen = Some(Screen::from_text(&text));
                            session.cache.captured_at = started;
                            session.cache.passes_since_capture = 0;
                        }
                        Some(Err(err)) if is_not_found(&err) => {
                            session.cache = CaptureCache::default();
                            process = Process::Gone;
                        }
                        Some(Err(err)) => return Err(err),
                        None => {}
                    }
                } else if state.is_some() {
                    session.cache.passes_since_capture += 1;
                }
                if let Some(state) = state {
                    session.cache.activity = state.activity;
                }
                let screen = match process {
                    Process::Gone | Process::Stopped => None,
                    _ => session.cache.screen.clone(),
                };
                Ok(Reading {
                    process,
                    screen: screen.unwrap_or_default(),
                    activity: state.and_then(|s| s.activity),
                    captured,
                    pid: state.map(|s| s.pid),
                    hook: state.map(|s| s.hook.clone()).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The process layer's view of one session and whether to capture it.
    fn plan<'s>(
        &self,
        session: &mut AgentSession,
        adapter: &Adapter,
        state: Option<&'s PaneState>,
        dirty: &Pending,
    ) -> (Process, Option<&'s PaneState>, bool) {
        let process = self.process_for(session, state, adapter);
        let state = match (&process, state) {
            (Process::Gone | Process::Stopped, _) => None,
            (_, state) => state,
        };
        let Some(state) = state else {
            session.cache = CaptureCache::default();
            return (process, None, false);
        };
        let capture = must_capture(&session.cache, state, dirty, session);
        (process, Some(state), capture)
    }
}

/// A watch loop over many sessions: batched passes, woken by output events
/// (when the transport reports them) or by the interval timer.
#[derive(Debug)]
pub struct Monitor {
    agents: Agents,
    pub sessions: Vec<AgentSession>,
    /// Longest time between two passes.
    pub interval: Duration,
    /// Wait after an output event before the pass (coalesces bursts).
    pub debounce: Duration,
    /// Panes registered for output events.
    watched: HashSet<String>,
}

impl Monitor {
    /// The library entry point this monitor observes through.
    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    /// Watches `sessions` (registering their panes for output events when
    /// the transport supports them); the default interval is 1 s.
    pub fn new(agents: &Agents, sessions: Vec<AgentSession>) -> Monitor {
        let mut monitor = Monitor {
            agents: agents.clone(),
            sessions: Vec::new(),
            interval: Duration::from_secs(1),
            debounce: DEFAULT_DEBOUNCE,
            watched: HashSet::new(),
        };
        for session in sessions {
            monitor.add(session);
        }
        monitor
    }

    /// Adds a session to the watch.
    pub fn add(&mut self, session: AgentSession) {
        // Registered even if not linked yet: the transport links it when
        // its client (re)connects.
        if self.agents.tmux().output_events().is_some()
            && self.agents.tmux().watch_pane(&session.pane_id).is_ok()
        {
            self.watched.insert(session.pane_id.clone());
        }
        self.sessions.push(session);
    }

    /// Keeps only the sessions `keep` says yes to (the others stop being
    /// registered for events).
    pub fn retain(&mut self, mut keep: impl FnMut(&AgentSession) -> bool) {
        let tmux = self.agents.tmux();
        let watched = &mut self.watched;
        self.sessions.retain(|session| {
            let kept = keep(session);
            if !kept && watched.remove(&session.pane_id) {
                tmux.unwatch_pane(&session.pane_id);
            }
            kept
        });
    }

    /// True when output events drive this monitor (otherwise it polls).
    pub fn is_event_driven(&self) -> bool {
        !self.watched.is_empty() && self.agents.tmux().output_events().is_some()
    }

    /// One batched pass over every session. Sessions whose process ended
    /// (or that are gone or stopped) stop being registered for events.
    pub fn pass(&mut self) -> Vec<Result<Observation>> {
        self.pass_stats().0
    }

    /// [`Monitor::pass`] plus capture counts.
    pub fn pass_stats(&mut self) -> (Vec<Result<Observation>>, PassStats) {
        let (results, stats) = self.agents.observe_many_stats(&mut self.sessions);
        for (session, result) in self.sessions.iter().zip(&results) {
            // Gone, stopped or ended: no more output will come.
            let gone = matches!(result, Ok(o) if o.evidence.rule == "process");
            if gone && self.watched.remove(&session.pane_id) {
                self.agents.tmux().unwatch_pane(&session.pane_id);
            }
        }
        (results, stats)
    }

    /// Waits for output of a watched pane (then `debounce` more) or until
    /// `interval` has passed since `since`, whichever comes first; returns
    /// true when woken by an event. Without events, sleeps out the interval.
    pub fn wait(&self, since: Instant) -> bool {
        self.wait_until(since + self.interval)
    }

    /// Like [`Monitor::wait`], with an explicit deadline.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        match self.agents.tmux().output_events() {
            Some(events) if !self.watched.is_empty() => events.wait(deadline, self.debounce),
            _ => {
                let left = deadline.saturating_duration_since(Instant::now());
                std::thread::sleep(left);
                false
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        for pane in self.watched.drain() {
            self.agents.tmux().unwatch_pane(&pane);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(activity: Option<u64>) -> PaneState {
        PaneState {
            pane_id: "%1".into(),
            session_id: "$1".into(),
            session_name: "doeff-x".into(),
            dead: false,
            exit_status: None,
            exit_signal: None,
            current_command: "agent".into(),
            pid: 1,
            activity,
            title: String::new(),
            hook: String::new(),
        }
    }

    fn session() -> AgentSession {
        super::super::session_from_info(&crate::tmux::SessionInfo {
            name: "doeff-x".into(),
            id: "$1".into(),
            created: 0,
            attached: false,
            pane_id: "%1".into(),
            agent: None,
            work_dir: None,
            conversation: None,
            observed: None,
        })
    }

    #[test]
    fn capture_decisions_follow_activity_events_and_the_safety_net() {
        let session = session();
        let none = Pending::default();
        let mut cache = CaptureCache::default();
        assert!(must_capture(&cache, &state(Some(100)), &none, &session));
        cache.screen = Some(Screen::default());
        cache.activity = Some(100);
        cache.captured_at = 105;
        // Old, unchanged stamp: no capture.
        assert!(!must_capture(&cache, &state(Some(100)), &none, &session));
        // A new stamp, or one in the second of the capture: capture.
        assert!(must_capture(&cache, &state(Some(106)), &none, &session));
        cache.activity = Some(105);
        assert!(must_capture(&cache, &state(Some(105)), &none, &session));
        cache.activity = Some(100);
        // An output event for this pane, or a structural one.
        let mut output = Pending::default();
        output.panes.insert("%1".into());
        assert!(must_capture(&cache, &state(Some(100)), &output, &session));
        let structure = Pending {
            structure: true,
            ..Pending::default()
        };
        assert!(must_capture(
            &cache,
            &state(Some(100)),
            &structure,
            &session
        ));
        // The safety net, for non-terminal statuses only.
        cache.passes_since_capture = SAFETY_RECAPTURE_PASSES;
        assert!(must_capture(&cache, &state(Some(100)), &none, &session));
        let mut done = session.clone();
        done.status = crate::monitor::SessionStatus::Done;
        assert!(!must_capture(&cache, &state(Some(100)), &none, &done));
    }
}
