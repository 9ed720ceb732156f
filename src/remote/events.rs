//! The host's one monitoring loop for a `serve` connection that subscribed:
//! batched, event-driven passes ([`Monitor`]) over every doeff session on
//! the host's tmux server (sessions launched meanwhile, by anyone, join at
//! the next pass), each status change and new PR recorded in the host's
//! [`Journal`] and pushed as an event with its host-wide seq; problems met
//! while observing are pushed as `warning` events. A session leaves the
//! loop once its status is terminal.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::journal::Journal;
use super::protocol::Event;
use super::stream::Stream;
use crate::monitor::{Observation, SessionStatus};
use crate::session::{AgentSession, Agents, Monitor, list_sessions};

/// The longest time between two passes (output events wake it sooner).
pub const PASS_INTERVAL: Duration = Duration::from_millis(500);

fn warning(session: &str, message: String) -> Event {
    Event {
        message: Some(message),
        ..Event::new("warning", session)
    }
}

fn status_event(session: &str, pane: &str, observation: &Observation) -> Event {
    Event {
        pane: Some(pane.to_owned()),
        new: Some(observation.status),
        reason: Some(observation.reason.clone()),
        evidence: serde_json::to_value(&observation.evidence).ok(),
        ..Event::new("status", session)
    }
}

/// One life of a session: its pane and creation time (a pane id is reused
/// by a new tmux server; a name by a new session).
pub fn life(session: &AgentSession) -> String {
    format!("{}@{}", session.pane_id, session.created_at)
}

/// The loop's memory between passes.
struct Loop {
    journal: Journal,
    stream: Stream,
    /// The status last recorded per session (what a change is measured against).
    recorded: HashMap<String, SessionStatus>,
    /// Session lives that ended: not watched again.
    ended: HashSet<String>,
    /// Warnings already pushed (each problem once).
    warned: HashSet<String>,
}

impl Loop {
    fn warn(&mut self, session: &str, message: String) {
        if self.warned.insert(format!("{session}\0{message}")) {
            self.stream.emit(&warning(session, message));
        }
    }

    fn record(&mut self, session: &str, pane: &str, observation: &Observation) {
        for message in &observation.warnings {
            self.warn(session, message.clone());
        }
        if self.recorded.get(session) != Some(&observation.status) {
            match self
                .journal
                .record_status(session, status_event(session, pane, observation))
            {
                Ok(record) => {
                    self.recorded.insert(session.to_owned(), observation.status);
                    self.stream.emit(&record);
                }
                Err(err) => self.warn(session, format!("cannot record its events: {err}")),
            }
        }
        for url in &observation.new_pr_urls {
            match self.journal.record_pr(session, url) {
                Ok(record) => {
                    self.stream.emit(&record);
                }
                Err(err) => self.warn(session, format!("cannot record its events: {err}")),
            }
        }
    }
}

/// Runs the loop until the connection is closed.
pub fn run(agents: Agents, journal: Journal, stream: Stream) {
    let mut state = Loop {
        journal,
        stream,
        recorded: HashMap::new(),
        ended: HashSet::new(),
        warned: HashSet::new(),
    };
    let mut monitor = Monitor::new(&agents, Vec::new());
    monitor.interval = PASS_INTERVAL;
    while !state.stream.is_closed() {
        let started = Instant::now();
        match list_sessions(agents.tmux(), false) {
            Ok(found) => {
                let watched: HashSet<String> = monitor.sessions.iter().map(life).collect();
                for session in found {
                    let this = life(&session);
                    if watched.contains(&this) || state.ended.contains(&this) {
                        continue;
                    }
                    let last = state
                        .journal
                        .last_status(&session.session_name, Some(&this));
                    match last.and_then(|(_, status)| status) {
                        Some(status) => {
                            state.recorded.insert(session.session_name.clone(), status);
                        }
                        None => {
                            state.recorded.remove(&session.session_name);
                        }
                    }
                    monitor.add(session);
                }
            }
            Err(err) => state.warn("", format!("cannot list sessions: {err}")),
        }
        let results = monitor.pass();
        let names: Vec<(String, String)> = monitor
            .sessions
            .iter()
            .map(|s| (s.session_name.clone(), life(s)))
            .collect();
        for ((name, pane), result) in names.iter().zip(results) {
            match result {
                Ok(observation) => {
                    state.record(name, pane, &observation);
                    if observation.is_terminal {
                        state.ended.insert(pane.clone());
                    }
                }
                Err(err) => state.warn(name, err.to_string()),
            }
        }
        monitor.sessions.retain(|s| !state.ended.contains(&life(s)));
        monitor.wait_until(started + monitor.interval);
    }
}
