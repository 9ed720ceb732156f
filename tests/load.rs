//! Load (SPEC §8): 100 demo sessions launched at once from one process (one
//! thread each, over the Rust API and one shared control-mode tmux client),
//! every one watched to the end with its approval question answered. Each
//! session's reported status changes must be exactly the phases the demo
//! agent logged itself (`DOEFF_DEMO_LOG`), once each and in order; afterwards
//! no tmux session and no agent process is left.
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
    pid: u32,
    error: Option<String>,
    /// Reason and evidence of the last change, for failure messages.
    last: String,
}

fn watch_one(agents: &Agents, server_dir: &std::path::Path, index: usize) -> Run {
    let log = server_dir.join(format!("demo-{index}.log"));
    let config = LaunchConfig::new(AgentType::Custom("demo".into()), server_dir)
        .prompt(format!("task {index}"))
        .env("DOEFF_DEMO_WORK_MS", WORK_MS)
        .env("DOEFF_DEMO_LOG", log.to_string_lossy());
    let mut run = Run {
        index,
        reported: vec!["booting".to_owned()],
        logged: Vec::new(),
        pid: 0,
        error: None,
        last: String::new(),
    };
    let result = (|| -> doeff_agents::Result<()> {
        let mut session = agents.launch_session(&format!("load{index}"), &config, DEADLINE)?;
        if let Some(state) = agents.tmux().pane_state(&session.pane_id)? {
            run.pid = state.pid;
        }
        let started = Instant::now();
        let mut answered = false;
        while !session.is_terminal() && started.elapsed() < DEADLINE {
            let observation = agents.observe(&mut session)?;
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
    let mut failures = Vec::new();
    for run in &runs {
        if let Some(error) = &run.error {
            failures.push(format!("session {}: {error}", run.index));
        } else if run.logged != expected {
            failures.push(format!(
                "session {}: demo logged {:?}",
                run.index, run.logged
            ));
        } else if run.reported != run.logged {
            failures.push(format!(
                "session {}: reported {:?}, the agent logged {:?} (last: {})",
                run.index, run.reported, run.logged, run.last
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    assert!(
        agents.tmux().list_sessions().expect("list").is_empty(),
        "no tmux session is left"
    );
    // A killed agent is gone once the tmux server has reaped it, a moment
    // after its session went.
    let alive = |run: &&Run| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(run.pid as i32), None).is_ok()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs.iter().any(|run| alive(&run)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<String> = runs
        .iter()
        .filter(alive)
        .map(|run| format!("{} (session {})", run.pid, run.index))
        .collect();
    assert!(left.is_empty(), "agent processes left: {}", left.join(", "));
}
