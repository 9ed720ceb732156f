//! Load (SPEC §8): 100 demo sessions launched at once from one process (one
//! thread each, over the Rust API and one shared control-mode tmux client),
//! every one watched to the end with its approval question answered. Each
//! session's reported status changes must be the phases the demo agent
//! logged itself (`DOEFF_DEMO_LOG`), once each and in order; afterwards no
//! tmux session and no agent process is left.
//!
//! What is asserted holds on a loaded machine, from facts measured in the
//! run rather than from timing hopes: the approval question waits for the
//! answer (so `blocked` is always seen, and answered), a work phase lasts
//! at least `WORK_MS`, so it must have been reported whenever the thread
//! observed at least that often (a thread starved for longer than a phase
//! may miss it, but may never report a phase out of order or one the agent
//! did not log). An agent process is identified by pid *and* start time:
//! with 32768 pids and thousands of tmux calls a second a pid is reused
//! within the run, and a new process with an old agent's pid is not that
//! agent left running. Nor is a zombie: an agent that ended and that the
//! tmux server (its parent) has not waited for yet — tmux 3.3a was seen to
//! leave one until its next child exits; it is counted, not failed.
//!
//! `DOEFF_LOAD_SESSIONS` changes the count (default 100). The run is done
//! twice, on two servers: with every call over one shared control-mode
//! client (launches and stops taking the server lock while other threads'
//! calls go on: before the lock, tmux 3.3a's server sometimes segfaulted
//! here), then with one `tmux` process per call.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use doeff_agents::{AdapterRegistry, AgentType, Agents, LaunchConfig, SessionStatus, Tmux};
use support::TestServer;

/// How often each thread observes its session.
const POLL: Duration = Duration::from_millis(250);
/// Each demo work phase: several polls long, so no phase can slip between two.
const WORK_MS: &str = "2500";
/// A session not finished by then counts as hung.
const DEADLINE: Duration = Duration::from_secs(150);

/// What one session's thread saw.
struct Run {
    index: usize,
    reported: Vec<String>,
    logged: Vec<String>,
    /// The agent's process: pid and start time (`/proc/PID/stat` field 22).
    agent: Option<(u32, u64)>,
    /// Longest time between two observations of this session.
    max_gap: Duration,
    error: Option<String>,
    /// Reason and evidence of the last change, for failure messages.
    last: String,
}

fn watch_one(agents: &Agents, server_dir: &std::path::Path, index: usize) -> Run {
    let log = server_dir.join(format!("demo-{index}.log"));
    let config = LaunchConfig::new(AgentType::Custom("demo".into()), server_dir)
        .prompt(format!("task {index}"))
        .env("DOEFF_DEMO_WORK_MS", WORK_MS)
        .env("DOEFF_DEMO_LOG", log.to_string_lossy())
        // The question waits for the answer: `blocked` lasts until it is seen.
        .env("DOEFF_DEMO_APPROVE_AFTER_MS", "0");
    let mut run = Run {
        index,
        reported: vec!["booting".to_owned()],
        logged: Vec::new(),
        agent: None,
        max_gap: Duration::ZERO,
        error: None,
        last: String::new(),
    };
    let result = (|| -> doeff_agents::Result<()> {
        // The agent's first phase may begin as soon as the launch starts.
        let mut seen = Instant::now();
        let mut session = agents.launch_session(
            &format!("load{index}"),
            &config.clone().ready_timeout(DEADLINE),
        )?;
        if let Some(state) = agents.tmux().pane_state(&session.pane_id)? {
            run.agent = start_time(state.pid).map(|start| (state.pid, start));
        }
        let started = Instant::now();
        let mut answered = false;
        while !session.is_terminal() && started.elapsed() < DEADLINE {
            let observation = agents.observe(&mut session)?;
            run.max_gap = run.max_gap.max(seen.elapsed());
            seen = Instant::now();
            if observation.status_changed() {
                run.reported.push(observation.status.to_string());
                run.last = format!("{} {:?}", observation.reason, observation.evidence);
            }
            if observation.status == SessionStatus::Blocked && !answered {
                agents.send_message(&session, "1", false)?;
                answered = true;
            }
            std::thread::sleep(POLL);
        }
        agents.stop_session(&mut session)
    })();
    run.error = result.err().map(|e| e.to_string());
    run.logged = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    run
}

/// Start time (clock ticks since boot) of a live or zombie process.
fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// `/proc/PID/stat` after the command name: state is `[0]`, start time `[19]`.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The agent's process (this pid with this start time), if it still exists.
fn process_state((pid, start): (u32, u64)) -> Option<String> {
    let fields = stat_fields(pid)?;
    let same = fields.get(19).and_then(|s| s.parse().ok()) == Some(start);
    same.then(|| fields.first().cloned().unwrap_or_default())
}

/// True while the agent process runs: it exists and is not a zombie (an
/// ended process its parent, the tmux server, has not waited for yet —
/// tmux 3.3a sometimes leaves one until its next child exits).
fn still_there(agent: (u32, u64)) -> bool {
    process_state(agent).is_some_and(|state| state != "Z")
}

fn is_zombie(agent: (u32, u64)) -> bool {
    process_state(agent).as_deref() == Some("Z")
}

/// True when `reported` is `logged` with some phases left out (same order).
fn is_subsequence(reported: &[String], logged: &[String]) -> bool {
    let mut rest = logged.iter();
    reported.iter().all(|phase| rest.any(|l| l == phase))
}

#[test]
fn a_hundred_sessions_watched_at_once() {
    let count: usize = std::env::var("DOEFF_LOAD_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    for control in [true, false] {
        load_run(count, control);
    }
}

/// One load run on a fresh server.
fn load_run(count: usize, control: bool) {
    let server = TestServer::new();
    let registry =
        AdapterRegistry::builtin_with_exe(support::bin().to_string_lossy()).expect("adapters");
    let tmux = if control {
        Tmux::control_mode(server.server())
    } else {
        Tmux::new(server.server())
    };
    let agents = Agents::new(tmux, Arc::new(registry));
    let started = Instant::now();
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..count)
            .map(|i| {
                let agents = agents.clone();
                let dir = server.dir.clone();
                scope.spawn(move || watch_one(&agents, &dir, i))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("no thread panicked"))
            .collect()
    });
    let took = started.elapsed();
    eprintln!("{count} sessions watched to the end in {took:.1?} (control mode: {control})");

    let expected = ["booting", "running", "blocked", "running", "done"];
    let phase = Duration::from_millis(WORK_MS.parse().expect("WORK_MS"));
    let mut failures = Vec::new();
    let mut starved = 0;
    for run in &runs {
        let must_see_all = run.max_gap < phase;
        starved += usize::from(!must_see_all);
        if let Some(error) = &run.error {
            failures.push(format!("session {}: {error}", run.index));
        } else if run.logged != expected {
            failures.push(format!(
                "session {}: demo logged {:?}",
                run.index, run.logged
            ));
        } else if run.reported.last() != run.logged.last()
            || !run.reported.iter().any(|p| p == "blocked")
            || !is_subsequence(&run.reported, &run.logged)
            || (must_see_all && run.reported != run.logged)
        {
            failures.push(format!(
                "session {}: reported {:?}, the agent logged {:?} (longest gap between \
                 observations {:?}; last: {})",
                run.index, run.reported, run.logged, run.max_gap, run.last
            ));
        }
    }
    eprintln!("{starved} of {count} sessions went {phase:?} or longer between two observations");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    assert!(
        agents.tmux().list_sessions().expect("list").is_empty(),
        "no tmux session is left"
    );
    // A killed agent is gone once the tmux server has reaped it, a moment
    // after its session went.
    let alive = |run: &&Run| run.agent.is_some_and(still_there);
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs.iter().any(|run| alive(&run)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<String> = runs
        .iter()
        .filter(alive)
        .filter_map(|run| Some(format!("{} (session {})", run.agent?.0, run.index)))
        .collect();
    let unreaped = runs
        .iter()
        .filter(|run| run.agent.is_some_and(is_zombie))
        .count();
    if unreaped > 0 {
        eprintln!("{unreaped} ended agents not reaped by the tmux server yet (zombies)");
    }
    assert!(left.is_empty(), "agent processes left: {}", left.join(", "));
}
