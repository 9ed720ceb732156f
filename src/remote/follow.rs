//! Following hosts: one thread per host keeps a channel to it, subscribes
//! `since` the last seq it saw of each session, and hands every new record
//! to one queue of [`HostUpdate`]s, tagged with the host it came from (a
//! host's events never speak for another host). A channel that cannot be
//! opened, ends or stalls becomes one [`HostUpdate::Unreachable`] and a
//! reconnection with backoff; after it, the subscription resumes without
//! duplicates (seqs already seen are dropped).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use serde_json::json;

use super::client::{CALL_TIMEOUT, Connection, Incoming, STALL_AFTER};
use super::hosts::Host;
use super::protocol::Event;
use crate::monitor::SessionStatus;

/// First and longest waits between two connection attempts.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(250);
pub const BACKOFF_MAX: Duration = Duration::from_secs(4);

/// What the followers report.
#[derive(Clone, Debug)]
pub enum HostUpdate {
    /// Subscribed: every live session's last recorded seq and status.
    Connected {
        host: String,
        sessions: Vec<(String, Option<SessionStatus>)>,
    },
    /// A new record (or a warning) from that host.
    Event { host: String, event: Event },
    /// The host cannot be reached or stopped answering (reported once per outage).
    Unreachable { host: String, message: String },
}

/// How a follower reaches its host.
pub enum Target {
    /// Over ssh.
    Ssh(Host),
    /// A local command speaking the protocol (this machine's own `serve`).
    Command {
        name: String,
        make: Box<dyn Fn() -> std::process::Command + Send>,
    },
}

impl Target {
    fn name(&self) -> &str {
        match self {
            Target::Ssh(host) => &host.name,
            Target::Command { name, .. } => name,
        }
    }

    fn open(&self) -> crate::error::Result<Connection> {
        match self {
            Target::Ssh(host) => Connection::open(host),
            Target::Command { name, make } => {
                Connection::spawn(name, make(), super::hosts::DEFAULT_CONNECT_TIMEOUT)
            }
        }
    }
}

/// Followers of several hosts feeding one queue; they stop when dropped.
pub struct Follow {
    pub updates: Receiver<HostUpdate>,
    stop: Arc<AtomicBool>,
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Starts following every target (each from the seqs it is given: records
/// after them are replayed first).
pub fn follow(targets: Vec<(Target, BTreeMap<String, u64>)>) -> Follow {
    let (tx, rx) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    for (target, since) in targets {
        let tx = tx.clone();
        let stop = stop.clone();
        std::thread::spawn(move || follow_one(&target, since, &tx, &stop));
    }
    Follow { updates: rx, stop }
}

/// Sleeps `wait` unless told to stop; false when stopping.
fn pause(wait: Duration, stop: &AtomicBool) -> bool {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25).min(wait));
    }
    !stop.load(Ordering::SeqCst)
}

fn follow_one(
    target: &Target,
    mut since: BTreeMap<String, u64>,
    tx: &Sender<HostUpdate>,
    stop: &AtomicBool,
) {
    let host = target.name().to_owned();
    let mut backoff = BACKOFF_FIRST;
    let mut down = false;
    let report = |message: String, down: &mut bool| {
        if !*down {
            *down = true;
            let _ = tx.send(HostUpdate::Unreachable {
                host: host.clone(),
                message,
            });
        }
    };
    while !stop.load(Ordering::SeqCst) {
        let connection = match target.open() {
            Ok(connection) => connection,
            Err(err) => {
                report(err.to_string(), &mut down);
                if !pause(backoff, stop) {
                    return;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let Some(events) = connection.take_events() else {
            return;
        };
        let snapshot = match connection.call("subscribe", json!({ "since": since }), CALL_TIMEOUT) {
            Ok(snapshot) => snapshot,
            Err(err) => {
                report(err.to_string(), &mut down);
                continue;
            }
        };
        down = false;
        backoff = BACKOFF_FIRST;
        let sessions = snapshot
            .get("sessions")
            .and_then(|s| s.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|s| {
                        let name = s.get("name")?.as_str()?.to_owned();
                        let status = s
                            .get("status")
                            .and_then(|v| serde_json::from_value(v.clone()).ok());
                        if let Some(seq) = s.get("seq").and_then(|v| v.as_u64()) {
                            let known = since.entry(name.clone()).or_insert(0);
                            // Replayed records (already queued) are newer than
                            // what we had; the snapshot's seq only counts for
                            // sessions we knew nothing about.
                            if *known == 0 {
                                *known = seq;
                            }
                        }
                        Some((name, status))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let _ = tx.send(HostUpdate::Connected {
            host: host.clone(),
            sessions,
        });
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match events.recv_timeout(Duration::from_millis(200)) {
                Ok(Incoming::Event(event)) => {
                    if let Some(seq) = event.seq {
                        let known = since.entry(event.session.clone()).or_insert(0);
                        if seq <= *known {
                            continue;
                        }
                        *known = seq;
                    }
                    let _ = tx.send(HostUpdate::Event {
                        host: host.clone(),
                        event,
                    });
                }
                Ok(Incoming::Closed(why)) => {
                    let why = if why.is_empty() {
                        "the connection closed".to_owned()
                    } else {
                        format!("the connection closed ({why})")
                    };
                    report(format!("host {host} is unreachable: {why}"), &mut down);
                    break;
                }
                Err(RecvTimeoutError::Timeout) => {
                    if connection.silent_for() > STALL_AFTER {
                        report(
                            format!(
                                "host {host} is unreachable: it stopped answering (nothing for {:.0} s)",
                                STALL_AFTER.as_secs_f64()
                            ),
                            &mut down,
                        );
                        if let Target::Ssh(host) = target {
                            connection.close();
                            super::ssh::drop_master(host);
                        }
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if !pause(backoff, stop) {
            return;
        }
    }
}

/// The last known status of every session followed, per host: what a
/// `host_unreachable` report lists as stale.
#[derive(Clone, Debug, Default)]
pub struct LastKnown(BTreeMap<(String, String), SessionStatus>);

impl LastKnown {
    /// Takes in what `update` says.
    pub fn update(&mut self, update: &HostUpdate) {
        match update {
            HostUpdate::Connected { host, sessions } => {
                for (session, status) in sessions {
                    if let Some(status) = status {
                        self.0
                            .entry((host.clone(), session.clone()))
                            .or_insert(*status);
                    }
                }
            }
            HostUpdate::Event { host, event } if event.kind == "status" => {
                if let Some(new) = event.new {
                    self.0.insert((host.clone(), event.session.clone()), new);
                }
            }
            _ => {}
        }
    }

    /// `host`'s sessions with their last known status.
    pub fn of(&self, host: &str) -> Vec<(String, SessionStatus)> {
        self.0
            .iter()
            .filter(|((h, _), _)| h == host)
            .map(|((_, s), status)| (s.clone(), *status))
            .collect()
    }
}
