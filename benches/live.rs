//! The performance harness (`cargo bench --bench live -- [OPTIONS]`; its own
//! target, so the product binary carries none of it nor its saved screens). It starts N live sessions
//! of the demo agent in its `busy` scenario (a new line every 250 ms) on a
//! private tmux server (`-L doeff-bench-<pid>`, `-f /dev/null`, killed at
//! the end), and measures, for each N:
//!
//! - the cost of one monitoring pass over all N sessions ([`Monitor::pass`]:
//!   one `list-panes -a`, captures of changed panes over control mode);
//! - the time from a screen change to the status callback: a session is
//!   told to fail (`f` typed into it) at a known instant while a watcher
//!   thread runs the default watch loop (events, 1 s interval, 30 ms
//!   debounce), and the time until that loop reports `failed` is recorded;
//! - `ps` wall time (a child `doeff-agents ps`, STATUS included);
//! - CPU seconds per minute of watching the N sessions with the default
//!   loop, and with polling only at 1 Hz (this process plus the tmux server);
//!
//! and once: classification time of a saved 120x40 screen, and this
//! process's peak RSS (`VmHWM`). With `--reference PYTHON`, the Python
//! reference (`pip install doeff-agents`) runs its `monitor_session` loop
//! over the same live sessions (`benches/reference_monitor.py`) and its
//! per-pass cost is printed next to ours.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use clap::Parser;
use doeff_agents::adapter::{Adapter, AdapterRegistry, AgentType, LaunchConfig};
use doeff_agents::error::{Error, Result};
use doeff_agents::lua::LuaHost;
use doeff_agents::monitor::{Process, Screen, SessionStatus};
use doeff_agents::session::{AgentSession, Agents, Monitor};
use doeff_agents::tmux::{Server, TRANSPORT_ENV, Tmux, TransportChoice};

/// A saved 120x40 screen of Claude Code streaming an answer.
const SAVED_SCREEN: &str = include_str!("../tests/screens/claude-2.1.197-streaming.txt");

/// Measure monitoring cost, latency, ps time, classification and memory on
/// live demo sessions in a private tmux server.
#[derive(Debug, Parser)]
#[command(name = "cargo bench --bench live --")]
struct BenchArgs {
    /// Session counts to measure, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "1,20,100,200")]
    sessions: Vec<usize>,
    /// Timed monitoring passes per session count
    #[arg(long, default_value_t = 20)]
    passes: usize,
    /// Status changes timed per session count
    #[arg(long, default_value_t = 10)]
    changes: usize,
    /// Seconds of watching per CPU measurement
    #[arg(long, default_value_t = 5.0)]
    cpu_seconds: f64,
    /// Python of a venv with the reference installed: measure it side by side
    #[arg(long, value_name = "PYTHON")]
    reference: Option<PathBuf>,
    /// The reference driver script
    #[arg(long, default_value = "benches/reference_monitor.py")]
    reference_script: PathBuf,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    /// tmux transport: auto (as the commands choose: control mode for
    /// watching, subprocess for ps), or force subprocess or control
    /// (as DOEFF_AGENTS_TRANSPORT does)
    #[arg(long, default_value = "auto", value_parser = ["auto", "subprocess", "control"])]
    transport: String,
    /// Extra folder of adapter files (*.lua) to load; repeatable
    #[arg(long = "adapters", value_name = "DIR")]
    adapter_dirs: Vec<PathBuf>,
    /// Measure only the cost of classifying saved screens (no tmux)
    #[arg(long)]
    classify_only: bool,
    /// Added by `cargo bench`; ignored
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    // The demo sessions run this very executable as their agent.
    doeff_agents::demo::run_demo_agent_if_asked();
    let code = match run(BenchArgs::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("bench: {err}");
            1
        }
    };
    doeff_agents::tmux::leave_control_clients();
    std::process::exit(code);
}

/// The built-in adapters plus `--adapters` folders.
fn registry(args: &BenchArgs) -> Result<AdapterRegistry> {
    let registry = AdapterRegistry::builtin()?;
    for dir in &args.adapter_dirs {
        for error in registry.load_dir(dir) {
            eprintln!("bench: {}", error.message);
        }
    }
    Ok(registry)
}

#[derive(Debug, Default, Serialize)]
struct SizeResult {
    sessions: usize,
    pass_ms_median: f64,
    pass_ms_p95: f64,
    per_session_us: f64,
    captured_per_pass_median: f64,
    change_to_callback_ms_median: f64,
    change_to_callback_ms_p95: f64,
    changes_timed: usize,
    ps_ms_median: f64,
    cpu_s_per_min_default: f64,
    cpu_s_per_min_poll_1hz: f64,
    /// The same pass from Lua: `agents.observe_all(sessions)` in a script VM.
    lua_pass_ms_median: f64,
    lua_pass_ms_p95: f64,
    lua_per_session_us: f64,
    /// Lua pass cost / Rust pass cost (the aim: within 1.5).
    lua_vs_rust: f64,
    reference_pass_ms_median: Option<f64>,
    reference_pass_ms_p95: Option<f64>,
    pass_speedup_vs_reference: Option<f64>,
    /// Reference pass cost / Lua pass cost.
    lua_speedup_vs_reference: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    tmux: String,
    classify_us_per_screen: f64,
    normalise_and_classify_us_per_screen: f64,
    /// Other CLIs' streaming screens, by their adapters (µs).
    classify_us_other_screens: BTreeMap<String, f64>,
    peak_rss_mb: f64,
    results: Vec<SizeResult>,
}

/// Kills the private server when the bench ends (or fails).
struct BenchServer {
    tmux: Tmux,
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = Tmux::new(self.tmux.server().clone()).kill_server();
        doeff_agents::tmux::remove_lock_file(self.tmux.server());
    }
}

fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// utime + stime of a process, in seconds (`/proc/PID/stat`).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
        return 0.0;
    };
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    (utime + stime) / hz
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The streaming screens of the other CLIs, classified by their adapters too.
const OTHER_SCREENS: &[(&str, &str, &str)] = &[
    (
        "codex",
        "codex-0.169.0-streaming",
        include_str!("../tests/screens/codex-0.169.0-streaming.txt"),
    ),
    (
        "gemini",
        "gemini-0.61.0-streaming",
        include_str!("../tests/screens/gemini-0.61.0-streaming.txt"),
    ),
];

/// Steady-state µs per classification of `text` by `adapter`, without and
/// with normalising the captured text (after a warm-up that compiles the
/// lazily compiled regexes, as a watcher's first minutes do).
fn classification_us_of(adapter: &Adapter, text: &str) -> (f64, f64) {
    const ROUNDS: u32 = 2000;
    let screen = Screen::from_text(text);
    let classify = |screen: &Screen| {
        std::hint::black_box(adapter.explain(
            std::hint::black_box(screen),
            SessionStatus::Running,
            false,
            &Process::Unknown,
        ))
    };
    for _ in 0..ROUNDS / 4 {
        classify(&screen);
    }
    let started = Instant::now();
    for _ in 0..ROUNDS {
        classify(&screen);
    }
    let pure = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        classify(&Screen::from_text(std::hint::black_box(text)));
    }
    let both = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    (pure, both)
}

/// The Claude screen (pure and with normalising), then the other screens.
fn classification_us(registry: &AdapterRegistry) -> Result<(f64, f64, BTreeMap<String, f64>)> {
    let (classify, both) = classification_us_of(registry.get("claude")?.as_ref(), SAVED_SCREEN);
    let mut others = BTreeMap::new();
    for (adapter, name, text) in OTHER_SCREENS {
        let (pure, _) = classification_us_of(registry.get(adapter)?.as_ref(), text);
        others.insert((*name).to_owned(), pure);
    }
    Ok((classify, both, others))
}

fn launch(agents: &Agents, index: usize) -> Result<AgentSession> {
    let mut config = LaunchConfig::new(AgentType::Custom("demo".into()), "/");
    config.prompt = Some("bench".into());
    config
        .env
        .insert("DOEFF_DEMO_SCENARIO".into(), "busy".into());
    agents.launch_session(
        &format!("bench-{index}"),
        &config.clone().ready_timeout(Duration::from_secs(30)),
    )
}

fn run(args: BenchArgs) -> Result<i32> {
    let mut sizes = args.sessions.clone();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.is_empty() || sizes.contains(&0) {
        return Err(Error::InvalidInput(
            "--sessions wants counts >= 1, e.g. 1,20,100".into(),
        ));
    }
    let registry = Arc::new(registry(&args)?);
    let mut report = Report {
        tmux: tmux_version(),
        ..Report::default()
    };
    (
        report.classify_us_per_screen,
        report.normalise_and_classify_us_per_screen,
        report.classify_us_other_screens,
    ) = classification_us(&registry)?;
    if args.classify_only {
        println!(
            "classify claude: {:.1} µs/screen ({:.1} with normalising)",
            report.classify_us_per_screen, report.normalise_and_classify_us_per_screen
        );
        for (screen, us) in &report.classify_us_other_screens {
            println!("classify {screen}: {us:.1} µs/screen");
        }
        return Ok(0);
    }

    let socket = format!("doeff-bench-{}", std::process::id());
    let server = Server::named(socket.clone()).with_config_file("/dev/null");
    let choice: TransportChoice = args.transport.parse()?;
    doeff_agents::tmux::leave_control_clients_on_signals();
    let connect = |long_lived: bool| Tmux::for_monitoring(server.clone(), choice, long_lived);
    let launcher = Agents::new(connect(false), registry.clone());
    let _guard = BenchServer {
        tmux: launcher.tmux().clone(),
    };
    let watcher = Agents::new(connect(true), registry);
    let mut pool: Vec<AgentSession> = Vec::new();
    let mut next_index = 0;
    for &n in &sizes {
        let launched = n.saturating_sub(pool.len()) as u64;
        while pool.len() < n {
            pool.push(launch(&launcher, next_index)?);
            next_index += 1;
        }
        // Let every new agent start and draw its first screens.
        std::thread::sleep(Duration::from_millis(600 + 15 * launched));
        let (mut result, spent) = measure(&watcher, &launcher, &pool[..n], &args, &socket)?;
        if let Some(python) = &args.reference {
            let (median, p95) = reference(python, &args, &socket, &pool[..n])?;
            result.reference_pass_ms_median = Some(median);
            result.reference_pass_ms_p95 = Some(p95);
            if result.pass_ms_median > 0.0 {
                result.pass_speedup_vs_reference = Some(median / result.pass_ms_median);
            }
            if result.lua_pass_ms_median > 0.0 {
                result.lua_speedup_vs_reference = Some(median / result.lua_pass_ms_median);
            }
        }
        if !args.json {
            eprintln!("bench: {n} sessions done");
        }
        report.results.push(result);
        // Sessions told to fail are spent: replace them.
        pool.retain(|session| {
            let keep = !spent.contains(&session.pane_id);
            if !keep {
                let _ = launcher.tmux().kill_session(&session.session_name);
            }
            keep
        });
    }
    report.peak_rss_mb = peak_rss_mb();
    print_report(&report, args.json);
    Ok(0)
}

fn tmux_version() -> String {
    Command::new("tmux")
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn server_pid(tmux: &Tmux) -> Option<String> {
    let out = tmux
        .run(
            &[vec!["display-message".into(), "-p".into(), "#{pid}".into()]],
            None,
        )
        .ok()?;
    Some(String::from_utf8_lossy(&out).trim().to_owned())
}

fn measure(
    watcher: &Agents,
    launcher: &Agents,
    sessions: &[AgentSession],
    args: &BenchArgs,
    socket: &str,
) -> Result<(SizeResult, Vec<String>)> {
    let n = sessions.len();
    let mut result = SizeResult {
        sessions: n,
        ..SizeResult::default()
    };

    // 1. Pass cost, Rust and (alternating with it, so both see the same
    // load) the same pass from a Lua script.
    let mut monitor = Monitor::new(watcher, sessions.to_vec());
    monitor.pass();
    let (_host, lua_pass) = lua_pass(watcher, sessions)?;
    let mut passes = Vec::new();
    let mut lua = Vec::new();
    let mut captured = Vec::new();
    for _ in 0..args.passes {
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let (results, stats) = monitor.pass_stats();
        passes.push(ms(started.elapsed()));
        captured.push(stats.captured as f64);
        if let Some(Err(err)) = results.into_iter().find(Result::is_err) {
            return Err(err);
        }
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let seen = lua_pass.call::<usize>(())?;
        lua.push(ms(started.elapsed()));
        if seen != n {
            return Err(Error::Lua(format!("observe_all saw {seen} sessions")));
        }
    }
    result.pass_ms_median = quantile(&passes, 0.5);
    result.pass_ms_p95 = quantile(&passes, 0.95);
    result.per_session_us = result.pass_ms_median * 1000.0 / n as f64;
    result.captured_per_pass_median = quantile(&captured, 0.5);
    result.lua_pass_ms_median = quantile(&lua, 0.5);
    result.lua_pass_ms_p95 = quantile(&lua, 0.95);
    result.lua_per_session_us = result.lua_pass_ms_median * 1000.0 / n as f64;
    if result.pass_ms_median > 0.0 {
        result.lua_vs_rust = result.lua_pass_ms_median / result.pass_ms_median;
    }

    // 2. CPU per minute of watching: default loop, then 1 Hz polling.
    let server = server_pid(watcher.tmux());
    let cpu = |monitor: &mut Monitor| {
        let seconds = args.cpu_seconds.max(1.0);
        let own = cpu_seconds("self");
        let tmux = server.as_deref().map_or(0.0, cpu_seconds);
        let started = Instant::now();
        while started.elapsed().as_secs_f64() < seconds {
            let pass_started = Instant::now();
            monitor.pass();
            monitor.wait(pass_started);
        }
        let spent = cpu_seconds("self") - own + server.as_deref().map_or(0.0, cpu_seconds) - tmux;
        spent * 60.0 / started.elapsed().as_secs_f64()
    };
    result.cpu_s_per_min_default = cpu(&mut monitor);
    drop(monitor);
    let polling = Agents::new(watcher.tmux().clone(), watcher.adapters().clone());
    let mut monitor = Monitor::new(&polling, sessions.to_vec());
    monitor.pass();
    result.cpu_s_per_min_poll_1hz = cpu(&mut monitor);
    drop(monitor);

    // 3. ps wall time.
    let mut ps = Vec::new();
    {
        let exe = env!("CARGO_BIN_EXE_doeff-agents");
        for _ in 0..10 {
            let started = Instant::now();
            let mut command = Command::new(exe);
            if args.transport != "auto" {
                command.env(TRANSPORT_ENV, &args.transport);
            }
            let status = command
                .args(["-L", socket, "ps"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status();
            if status.is_ok_and(|s| s.success()) {
                ps.push(ms(started.elapsed()));
            }
        }
    }
    result.ps_ms_median = quantile(&ps, 0.5);

    // 4. Screen change to status callback, default watch loop in a thread.
    let (latencies, spent) = change_latency(watcher, launcher, sessions, args.changes)?;
    result.change_to_callback_ms_median = quantile(&latencies, 0.5);
    result.change_to_callback_ms_p95 = quantile(&latencies, 0.95);
    result.changes_timed = latencies.len();
    Ok((result, spent))
}

/// A Lua script VM over `sessions` (handles from `agents.session`) and its
/// pass: `agents.observe_all(S)`, every status read in Lua; returns how
/// many sessions it saw. (The host must outlive the function.)
fn lua_pass(watcher: &Agents, sessions: &[AgentSession]) -> Result<(Arc<LuaHost>, mlua::Function)> {
    let host = Arc::new(LuaHost::full()?);
    doeff_agents::lua::install(&host, watcher.clone())?;
    let names: Vec<&str> = sessions.iter().map(|s| s.session_name.as_str()).collect();
    let pass: mlua::Function = host
        .lua()
        .load(
            r#"
local names = ...
local S = {}
for i, name in ipairs(names) do S[i] = assert(agents.session(name)) end
return function()
  local all = assert(agents.observe_all(S))
  local failed = 0
  for _, o in ipairs(all) do
    if o.status == "failed" then failed = failed + 1 end
  end
  return #all
end
"#,
        )
        .set_name("=bench")
        .call(names)?;
    pass.call::<usize>(())?;
    Ok((host, pass))
}

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

fn change_latency(
    watcher: &Agents,
    launcher: &Agents,
    sessions: &[AgentSession],
    changes: usize,
) -> Result<(Vec<f64>, Vec<String>)> {
    let seen: Seen = Arc::new(Mutex::new(HashMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let agents = watcher.clone();
        let sessions = sessions.to_vec();
        let seen = seen.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut monitor = Monitor::new(&agents, sessions);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let results = monitor.pass();
                for (session, result) in monitor.sessions.iter().zip(results) {
                    if let Ok(o) = result
                        && o.status_changed()
                        && o.status == SessionStatus::Failed
                        && let Ok(mut seen) = seen.lock()
                    {
                        seen.entry(session.pane_id.clone())
                            .or_insert_with(Instant::now);
                    }
                }
                monitor.wait(started);
            }
        })
    };
    // Let the watcher see every session once.
    std::thread::sleep(Duration::from_millis(300));
    let mut latencies = Vec::new();
    let mut spent = Vec::new();
    let step = (sessions.len() / changes.max(1)).max(1);
    for (k, session) in sessions.iter().step_by(step).take(changes).enumerate() {
        // Spread the changes over the interval so they do not line up with it.
        std::thread::sleep(Duration::from_millis(137 + 61 * (k as u64 % 7)));
        let sent = Instant::now();
        spent.push(session.pane_id.clone());
        launcher.tmux().send_keys(&session.pane_id, &["f"], true)?;
        let deadline = sent + Duration::from_secs(5);
        loop {
            let at = seen
                .lock()
                .ok()
                .and_then(|s| s.get(&session.pane_id).copied());
            if let Some(at) = at {
                latencies.push(ms(at.saturating_duration_since(sent)));
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = thread.join();
    Ok((latencies, spent))
}

/// Runs the reference's loop over the same sessions; (median, p95) ms per pass.
fn reference(
    python: &PathBuf,
    args: &BenchArgs,
    socket: &str,
    sessions: &[AgentSession],
) -> Result<(f64, f64)> {
    let panes: Vec<String> = sessions
        .iter()
        .map(|s| format!("{}={}", s.session_name, s.pane_id))
        .collect();
    let passes = if sessions.len() > 50 { 3 } else { 10 };
    let output = Command::new(python)
        .arg(&args.reference_script)
        .args(["--socket", socket, "--passes", &passes.to_string()])
        .args(&panes)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::InvalidInput(format!("cannot run the reference: {e}")))?;
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        Error::InvalidInput(format!(
            "the reference driver printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        ))
    })?;
    let field = |name: &str| parsed.get(name).and_then(serde_json::Value::as_f64);
    match (field("pass_ms_median"), field("pass_ms_p95")) {
        (Some(median), Some(p95)) => Ok((median, p95)),
        _ => Err(Error::InvalidInput(format!(
            "unexpected reference output: {parsed}"
        ))),
    }
}

fn print_report(report: &Report, json: bool) {
    if json {
        if let Ok(text) = serde_json::to_string_pretty(report) {
            println!("{text}");
        }
        return;
    }
    println!(
        "{}; classify {:.1} µs/screen ({:.1} with normalising); peak RSS {:.1} MB",
        report.tmux,
        report.classify_us_per_screen,
        report.normalise_and_classify_us_per_screen,
        report.peak_rss_mb
    );
    for (screen, us) in &report.classify_us_other_screens {
        println!("classify {screen}: {us:.1} µs/screen");
    }
    println!(
        "{:>5} {:>9} {:>9} {:>10} {:>10} {:>7} {:>11} {:>11} {:>8} {:>9} {:>9} {:>10} {:>8} {:>8}",
        "N",
        "pass ms",
        "p95",
        "µs/sess",
        "lua µs/s",
        "lua/rs",
        "change ms",
        "change p95",
        "ps ms",
        "cpu s/m",
        "cpu 1Hz",
        "ref pass",
        "ref/rs",
        "ref/lua"
    );
    for r in &report.results {
        println!(
            "{:>5} {:>9.3} {:>9.3} {:>10.1} {:>10.1} {:>7.2} {:>11.1} {:>11.1} {:>8.1} {:>9.2} {:>9.2} {:>10} {:>8} {:>8}",
            r.sessions,
            r.pass_ms_median,
            r.pass_ms_p95,
            r.per_session_us,
            r.lua_per_session_us,
            r.lua_vs_rust,
            r.change_to_callback_ms_median,
            r.change_to_callback_ms_p95,
            r.ps_ms_median,
            r.cpu_s_per_min_default,
            r.cpu_s_per_min_poll_1hz,
            r.reference_pass_ms_median
                .map_or("-".to_owned(), |m| format!("{m:.1}")),
            r.pass_speedup_vs_reference
                .map_or("-".to_owned(), |m| format!("{m:.0}x")),
            r.lua_speedup_vs_reference
                .map_or("-".to_owned(), |m| format!("{m:.0}x"))
        );
    }
}
