//! The real-agent tier: Claude Code, Codex CLI and Gemini CLI, installed from
//! npm into a cache folder, run in a throwaway tmux server against the
//! loopback mock API (`tests/realcli/mock_api.py`), driven through the
//! product (`Agents::launch_session` with the built-in adapters, the
//! observe loop, `send_message`).
//!
//! Opt-in: skipped unless `DOEFF_AGENTS_REAL=1` (`tests/realcli/run_tier.sh`
//! sets it). The CLIs come from `$DOEFF_AGENTS_NPM_CACHE/node_modules/.bin`
//! (default `$XDG_CACHE_HOME/doeff-agents/npm-agents`, outside the repository);
//! a missing one is installed there with
//! `npm install --prefix`, once. Every agent gets a private HOME (and
//! CODEX_HOME) pre-seeded with onboarding/trust/provider settings, API base
//! URLs on the mock, and all proxies on a closed loopback port, so nothing
//! leaves 127.0.0.1.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use doeff_agents::monitor::Source;
use doeff_agents::{AgentSession, Agents, LaunchConfig, SessionStatus};
use support::TestServer;

/// npm packages and the versions the tier was written against.
const PACKAGES: &[(&str, &str)] = &[
    ("claude", "@anthropic-ai/claude-code@2.1.197"),
    ("codex", "@openai/codex@0.169.0"),
    ("gemini", "@google/gemini-cli@0.61.0"),
];
/// Nothing listens here: a request that escapes the mock dies on loopback.
const CLOSED_PROXY: &str = "http://127.0.0.1:9";
const CLAUDE_KEY: &str = "sk-ant-api03-mockkey-0123456789abcdefghijXYZ";
const BOOT: Duration = Duration::from_secs(60);
const TURN: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------- the tier

/// The folder holding the CLIs, or `None` when the tier is not asked for.
fn npm_bin() -> Option<PathBuf> {
    if std::env::var("DOEFF_AGENTS_REAL").as_deref() != Ok("1") {
        eprintln!(
            "real-agent tier skipped (set DOEFF_AGENTS_REAL=1 or run tests/realcli/run_tier.sh)"
        );
        return None;
    }
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(install) {
        Ok(bin) => Some(bin.clone()),
        Err(err) => panic!("{err}"),
    }
}

/// `$XDG_CACHE_HOME/doeff-agents/npm-agents` (or `~/.cache/...`): outside the
/// repository, so `cargo clean` keeps the downloaded CLIs.
fn default_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("doeff-agents")
        .join("npm-agents")
}

fn install() -> Result<PathBuf, String> {
    let cache = std::env::var_os("DOEFF_AGENTS_NPM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(default_cache);
    let bin = cache.join("node_modules").join(".bin");
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(name, _)| !bin.join(name).exists())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&cache)
        .args(&missing)
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm install {missing:?} failed: {status}"));
    }
    Ok(bin)
}

// ---------------------------------------------------------------- the mock API

/// `mock_api.py` on a free loopback port; killed on drop.
struct Mock {
    child: Child,
    port: u16,
}

impl Mock {
    fn start(scenario: &str) -> Mock {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realcli/mock_api.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", "0", "--delay", "0.05", "--scenario", scenario])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the mock");
        let stdout = child.stdout.take().expect("mock stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("mock prints its port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("mock said {line:?}"));
        Mock { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> serde_json::Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("mock reachable");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("reply");
        let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    }

    fn scenario(&self, name: &str) {
        self.get(&format!("/_scenario/{name}"));
    }

    /// The main-turn requests the mock received, oldest first.
    fn main_requests(&self) -> Vec<serde_json::Value> {
        match self.get("/_requests") {
            serde_json::Value::Array(all) => {
                all.into_iter().filter(|r| r["main"] == true).collect()
            }
            _ => Vec::new(),
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- agent homes

/// One agent's private world: HOME, work dir, environment, the mock.
struct World {
    agent: &'static str,
    home: PathBuf,
    work: PathBuf,
    env: BTreeMap<String, String>,
}

fn base_env(bin: &Path, home: &Path) -> BTreeMap<String, String> {
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let mut env: BTreeMap<String, String> = [
        ("PATH", path.as_str()),
        ("TERM", "xterm-256color"),
        ("LANG", "C.UTF-8"),
        ("LC_ALL", "C.UTF-8"),
        ("NO_PROXY", "127.0.0.1,localhost"),
        ("no_proxy", "127.0.0.1,localhost"),
        ("DISABLE_TELEMETRY", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_ERROR_REPORTING", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("GEMINI_CLI_NO_RELAUNCH", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for key in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        env.insert(key.into(), CLOSED_PROXY.into());
    }
    env.insert("HOME".into(), home.display().to_string());
    env
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

impl World {
    /// A fresh home for `agent` under `root`, trusted work dir, API on `mock`.
    fn new(agent: &'static str, root: &Path, bin: &Path, mock: &Mock, trusted: bool) -> World {
        let home = root.join(format!("home-{agent}"));
        let work = root.join(format!("ws-{agent}"));
        std::fs::create_dir_all(&work).expect("work dir");
        let work = work.canonicalize().expect("canonical work dir");
        let mut env = base_env(bin, &home);
        let ws = work.display().to_string();
        match agent {
            "claude" => {
                let mut cfg = serde_json::json!({
                    "hasCompletedOnboarding": true,
                    "theme": "dark",
                    "lastReleaseNotesSeen": "999.0.0",
                    // Its idle reminder (the Notification hook) after 1 s, not
                    // 60 s: a test holding a status sees it arrive.
                    "messageIdleNotifThresholdMs": 1000,
                    "customApiKeyResponses": {"approved": [&CLAUDE_KEY[CLAUDE_KEY.len() - 20..]], "rejected": []},
                });
                if trusted {
                    cfg["projects"] = serde_json::json!({
                        ws.clone(): {"hasTrustDialogAccepted": true, "projectOnboardingSeenCount": 5}
                    });
                }
                write(&home.join(".claude.json"), &cfg.to_string());
                // The user's own settings, which a run must leave as they are.
                write(
                    &home.join(".claude/settings.json"),
                    "{\n  \"cleanupPeriodDays\": 30,\n  \"hooks\": {}\n}\n",
                );
                env.insert("ANTHROPIC_API_KEY".into(), CLAUDE_KEY.into());
                env.insert("ANTHROPIC_BASE_URL".into(), mock.url());
                env.insert("CLAUDE_CODE_MAX_RETRIES".into(), "1".into());
            }
            "codex" => {
                let mut toml = format!(
                    "model = \"gpt-5.1-codex\"\nmodel_provider = \"mock\"\n\n[model_providers.mock]\n\
                     name = \"Mock\"\nbase_url = \"{}/v1\"\nenv_key = \"MOCK_API_KEY\"\n\
                     wire_api = \"responses\"\nrequest_max_retries = 1\nstream_max_retries = 1\n",
                    mock.url()
                );
                if trusted {
                    toml.push_str(&format!(
                        "\n[projects.\"{ws}\"]\ntrust_level = \"trusted\"\n"
                    ));
                }
                // What Codex writes into its config on its own, already there
                // (a screen-reader check, a model notice it counts up to a
                // cap): the user's file is then one a run must not change.
                toml.push_str(
                    "\n[tui]\nscreen_reader_detection_done = true\n\n\
                     [tui.model_availability_nux]\n\"gpt-6.1-sol\" = 99\n",
                );
                write(&home.join(".codex/config.toml"), &toml);
                env.insert(
                    "CODEX_HOME".into(),
                    home.join(".codex").display().to_string(),
                );
                env.insert("MOCK_API_KEY".into(), "mock-key".into());
            }
            "gemini" => {
                // In the form Gemini itself writes it (it migrates older keys
                // such as general.disableAutoUpdate on start-up).
                let settings = serde_json::json!({
                    "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
                    "privacy": {"usageStatisticsEnabled": false},
                    "security": {"auth": {"selectedType": "gemini-api-key"}},
                });
                write(
                    &home.join(".gemini/settings.json"),
                    &serde_json::to_string_pretty(&settings).expect("json"),
                );
                if trusted {
                    write(
                        &home.join(".gemini/trustedFolders.json"),
                        &serde_json::json!({ ws.clone(): "TRUST_FOLDER" }).to_string(),
                    );
                }
                env.insert("GEMINI_API_KEY".into(), "mock-key".into());
                env.insert("GOOGLE_GEMINI_BASE_URL".into(), mock.url());
            }
            other => panic!("no world for {other}"),
        }
        World {
            agent,
            home,
            work,
            env,
        }
    }

    /// The user's own settings files of this CLI, with their bytes.
    fn user_settings(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let file = match self.agent {
            "claude" => ".claude/settings.json",
            "codex" => ".codex/config.toml",
            _ => ".gemini/settings.json",
        };
        let path = self.home.join(file);
        let bytes = std::fs::read(&path).expect("the user's settings file");
        vec![(path, bytes)]
    }

    fn config(&self) -> LaunchConfig {
        let mut config = LaunchConfig::new(self.agent.parse().expect("agent"), &self.work);
        config.env = self.env.clone();
        config
    }
}

// ---------------------------------------------------------------- watching

/// Every (status, reason) change seen, in order, with the layer that decided it.
#[derive(Default)]
struct Trail(Vec<(SessionStatus, String, Source)>);

impl Trail {
    fn push(&mut self, status: SessionStatus, reason: &str, source: Source) {
        self.0.push((status, reason.to_owned(), source));
    }

    fn last(&self) -> Option<(SessionStatus, &str)> {
        self.0.last().map(|(s, r, _)| (*s, r.as_str()))
    }

    fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(s, r, _)| format!("{}/{r}", s.as_str()))
            .collect()
    }

    /// The layer that decided each change to `status`/`reason`.
    fn sources_of(&self, status: SessionStatus, reason: &str) -> Vec<Source> {
        self.0
            .iter()
            .filter(|(s, r, _)| *s == status && r == reason)
            .map(|(_, _, source)| *source)
            .collect()
    }

    /// True when `wanted` appears in order (not necessarily adjacent).
    fn has_in_order(&self, wanted: &[(SessionStatus, &str)]) -> bool {
        let mut it = self.0.iter();
        wanted.iter().all(|(status, reason)| {
            it.any(|(s, r, _)| s == status && (reason.is_empty() || r == reason))
        })
    }
}

/// Observes every 250 ms until `done(status, reason)`; panics with the
/// trail and the screen after `timeout`.
fn watch_until(
    agents: &Agents,
    session: &mut AgentSession,
    trail: &mut Trail,
    timeout: Duration,
    what: &str,
    done: impl Fn(SessionStatus, &str) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let o = agents.observe(session).expect("observe");
        if trail.last() != Some((o.status, o.reason.as_str())) {
            eprintln!(
                "[{}] {} / {} ({})",
                session.session_name,
                o.status.as_str(),
                o.reason,
                o.evidence.line.chars().take(80).collect::<String>()
            );
            trail.push(o.status, &o.reason, o.agent.source);
        }
        if done(o.status, &o.reason) {
            return;
        }
        if Instant::now() >= deadline
            || matches!(o.status, SessionStatus::Exited | SessionStatus::Stopped)
        {
            let screen = agents
                .tmux()
                .capture_pane(&session.pane_id, 0)
                .unwrap_or_default();
            panic!(
                "{}: timed out waiting for {what}; trail {:?}; screen:\n{screen}",
                session.session_name,
                trail.names()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn is(status: SessionStatus, reason: &'static str) -> impl Fn(SessionStatus, &str) -> bool {
    move |s, r| s == status && r == reason
}

/// A 40-line, 5,000-character prompt.
fn long_prompt() -> String {
    let mut lines: Vec<String> = (1..=40)
        .map(|i| {
            let mut line = format!("line {i:02} of the long prompt: ");
            while line.len() < 124 {
                line.push_str("lorem ipsum ");
            }
            line.truncate(124);
            line.trim_end().to_owned()
        })
        .collect();
    lines.push("Reply with one short sentence.".into());
    let mut text = lines.join("\n");
    while text.len() < 5000 {
        text.push('.');
    }
    text
}

fn normalized(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scratch folder that outlives the tmux servers of one test.
struct Root(PathBuf);

impl Root {
    fn new(name: &str) -> Root {
        let dir = std::env::temp_dir().join(format!("doeff-real-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("root dir");
        Root(dir)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- whole sessions

/// Approval round trip, model flag, a 5,000-character prompt as one
/// message, exit, conversation id, then resume after the server is gone.
fn whole_session(agent: &'static str, model: &str, quit: &str) {
    let Some(bin) = npm_bin() else { return };
    let started = Instant::now();
    let mock = Mock::start("tool");
    let root = Root::new(agent);
    let server = TestServer::with_prefix(&format!("doeff-real-{agent}"));
    // As the CLI finds it: $XDG_STATE_HOME/doeff-agents.
    let xdg_state = root.0.join("xdg-state");
    let state = xdg_state.join("doeff-agents");
    let world = World::new(agent, &root.0, &bin, &mock, true);
    let user_settings = world.user_settings();
    let agents = server.agents().with_state_dir(Some(state.clone()));

    let mut config = world.config().prompt("make a marker file");
    config.model = Some(model.to_owned());
    let mut session = agents
        .launch_session("life", &config.clone().ready_timeout(BOOT))
        .expect("launch");
    // `watch --json` follows the same session from its own process.
    let watch = CliWatch::start(&server, "life");
    let mut trail = Trail::default();
    trail.push(session.status, "launched", Source::Process);
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the approval prompt",
        is(SessionStatus::Blocked, "permission_prompt"),
    );
    one_shot_readers_agree(&server, agent, "life", "blocked", "permission_prompt");
    agents.send_keys(&session, &["Enter"]).expect("approve");
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the end of the turn",
        is(SessionStatus::Blocked, "idle_prompt"),
    );
    one_shot_readers_agree(&server, agent, "life", "blocked", "idle_prompt");
    // The first turn's work before the prompt can be shorter than one
    // observation interval against the instant mock (Codex): not required.
    assert!(
        trail.has_in_order(&[
            (SessionStatus::Blocked, "permission_prompt"),
            (SessionStatus::Running, ""),
            (SessionStatus::Blocked, "idle_prompt"),
        ]),
        "{agent}: trail {:?}",
        trail.names()
    );
    assert!(
        !trail.0.iter().any(|(s, _, _)| s.is_terminal()),
        "{agent}: trail {:?}",
        trail.names()
    );
    if agent == "claude" {
        // Claude reports these itself (PermissionRequest, Stop): the report decides.
        for reason in ["permission_prompt", "idle_prompt"] {
            let sources = trail.sources_of(SessionStatus::Blocked, reason);
            assert!(
                !sources.is_empty() && sources.iter().all(|s| *s != Source::Screen),
                "claude: blocked/{reason} decided by {sources:?}, not the agent's report"
            );
        }
    }
    if agent == "codex" {
        // Codex reports a finished turn through `notify` (TurnEnd): once it
        // came, the report decides the idle composer. Its title side turn,
        // which ends during the first turn, made nothing idle early.
        let at = |reason: &str| {
            trail
                .0
                .iter()
                .position(|(s, r, _)| *s == SessionStatus::Blocked && r == reason)
        };
        assert!(
            at("idle_prompt") > at("permission_prompt"),
            "codex: idle before the approval: {:?}",
            trail.names()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let o = agents.observe(&mut session).expect("observe");
            let hook = server.display(&session.pane_id, "#{@doeff-hook}");
            if o.agent.source == Source::Hook {
                assert_eq!(
                    (o.status, o.reason.as_str()),
                    (SessionStatus::Blocked, "idle_prompt")
                );
                assert!(hook.contains("|TurnEnd|agent-turn-complete|"), "{hook}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "codex: notify never reported the end of the turn (@doeff-hook {hook})"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let requests = mock.main_requests();
    assert!(
        requests.iter().any(|r| r["model"] == model),
        "{agent}: the mock never saw model {model}: {:?}",
        requests
            .iter()
            .map(|r| r["model"].clone())
            .collect::<Vec<_>>()
    );
    assert!(
        requests.iter().any(|r| r["last_user"]
            .as_str()
            .is_some_and(|t| t.contains("make a marker file"))),
        "{agent}: the first prompt never reached the API"
    );

    // A 5,000-character, 40-line prompt arrives as one message.
    mock.scenario("ok");
    let before = mock.main_requests().len();
    let prompt = long_prompt();
    agents
        .send_message(&session, &prompt, true)
        .expect("long prompt delivered");
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the long prompt's turn",
        is(SessionStatus::Blocked, "idle_prompt"),
    );
    let after = mock.main_requests();
    let fresh: Vec<&serde_json::Value> = after[before..].iter().collect();
    let want = normalized(&prompt);
    assert!(
        fresh
            .iter()
            .any(|r| normalized(r["last_user"].as_str().unwrap_or_default()).contains(&want)),
        "{agent}: the long prompt did not arrive whole in one message; got {:?}",
        fresh
            .iter()
            .map(|r| r["last_user"].as_str().unwrap_or_default().len())
            .collect::<Vec<_>>()
    );
    let messages_before_exit = after
        .last()
        .map(|r| r["messages"].as_u64().unwrap_or(0))
        .unwrap_or(0);

    // Exit: the process layer says exited, and the conversation id is known.
    agents.send_message(&session, quit, true).expect("quit");
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the exit",
        |s, _| s == SessionStatus::Exited,
    );
    let watched = watch.finish();
    let changes: Vec<(String, String)> = watched
        .iter()
        .map(|e| {
            (
                e["new"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let wanted = [
        ("blocked", "permission_prompt"),
        ("blocked", "idle_prompt"),
        ("exited", ""),
    ];
    let mut rest = changes.iter();
    assert!(
        wanted
            .iter()
            .all(|(s, r)| rest.any(|(cs, cr)| cs == s && (r.is_empty() || cr == r))),
        "{agent}: watch --json printed {changes:?}"
    );
    let id = session.conversation_id.clone().unwrap_or_else(|| {
        panic!(
            "{agent}: no conversation id; screen:\n{}",
            agents.capture_output(&session, 40).unwrap_or_default()
        )
    });
    let listed = agents.session("life").expect("listed");
    assert_eq!(
        listed.conversation_id.as_deref(),
        Some(id.as_str()),
        "@doeff-conversation"
    );
    let saved = agents.saved_session("life").expect("state file");
    assert_eq!(saved.conversation_id.as_deref(), Some(id.as_str()));
    eprintln!(
        "[{agent}] conversation {id}; first part took {:.0?}",
        started.elapsed()
    );

    // The tmux server goes away; `run --resume` brings the conversation back.
    let _ = agents.tmux().kill_server();
    drop(server);
    let server = TestServer::with_prefix(&format!("doeff-real-{agent}-again"));
    let mut args: Vec<String> = vec!["run".into(), "--resume".into(), "life".into()];
    for (k, v) in &world.env {
        args.push("-e".into());
        args.push(format!("{k}={v}"));
    }
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = server
        .command(&arg_refs)
        .env("XDG_STATE_HOME", &xdg_state)
        .output()
        .expect("run --resume");
    assert!(
        out.status.success(),
        "{agent}: run --resume failed: {}",
        support::stderr(&out)
    );
    let agents = server.agents().with_state_dir(Some(state.clone()));
    let mut session = agents.session("life").expect("relaunched");
    let mut trail = Trail::default();
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        BOOT,
        "the resumed composer",
        |s, r| s == SessionStatus::Blocked && r == "idle_prompt",
    );
    agents
        .send_message(&session, "what did I ask first?", true)
        .expect("follow-up after resume");
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the resumed turn",
        |s, r| s == SessionStatus::Blocked && r == "idle_prompt",
    );
    let last = mock.main_requests().last().cloned().unwrap_or_default();
    assert!(
        last["messages"].as_u64().unwrap_or(0) > messages_before_exit,
        "{agent}: the resumed conversation lost its history: {last}"
    );
    agents.stop_session(&mut session).expect("stop");
    // Hooks and settings are passed per run: the user's files are untouched.
    for (path, bytes) in &user_settings {
        let after = std::fs::read(path).expect("the user's settings file after the run");
        assert!(
            &after == bytes,
            "{agent}: {} changed during the session:\n{}",
            path.display(),
            String::from_utf8_lossy(&after)
        );
    }
    drop(world);
    drop(root);
    eprintln!("[{agent}] whole session: {:.0?}", started.elapsed());
}

/// `ps --json` and `explain NAME --json`, each its own one-shot process,
/// report the status the watch is at (a blocked state holds still).
fn one_shot_readers_agree(
    server: &TestServer,
    agent: &str,
    name: &str,
    status: &str,
    reason: &str,
) {
    let ps = server.cli(&["ps", "--json"]);
    let rows: serde_json::Value =
        serde_json::from_slice(&ps.stdout).unwrap_or(serde_json::Value::Null);
    let row = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == format!("doeff-{name}")))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (row["status"].as_str(), row["reason"].as_str()),
        (Some(status), Some(reason)),
        "{agent}: ps --json said {row}"
    );
    let explain = server.cli(&["explain", name, "--json"]);
    let verdict: serde_json::Value =
        serde_json::from_slice(&explain.stdout).unwrap_or(serde_json::Value::Null);
    assert_eq!(
        (verdict["status"].as_str(), verdict["reason"].as_str()),
        (Some(status), Some(reason)),
        "{agent}: explain --json said {verdict}"
    );
}

/// A `watch NAME --json` process whose lines are collected until it ends.
struct CliWatch {
    child: Child,
    lines: std::thread::JoinHandle<Vec<serde_json::Value>>,
}

impl CliWatch {
    fn start(server: &TestServer, name: &str) -> CliWatch {
        let mut child = server
            .command(&["watch", name, "--json", "-i", "0.25"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("watch");
        let out = child.stdout.take().expect("stdout");
        let lines = std::thread::spawn(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| serde_json::from_str(&l).ok())
                .collect()
        });
        CliWatch { child, lines }
    }

    /// The events printed, once the watch ended (at most 30 s after the
    /// session did; then it is killed).
    fn finish(mut self) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines.join().unwrap_or_default()
    }
}

// ---------------------------------------------------------------- API trouble

/// One session through rate limit, overload and auth failure (each a new
/// message under a new mock scenario), then a start-up trust dialog that is
/// reported, and one that is answered when asked.
/// How long a reached API-trouble status must hold (Claude's idle reminder
/// comes 1 s after it went idle, see `messageIdleNotifThresholdMs` above).
const HOLD: Duration = Duration::from_secs(3);

fn api_trouble(agent: &'static str, cases: &[(&str, SessionStatus, &'static str)]) {
    let Some(bin) = npm_bin() else { return };
    let started = Instant::now();
    let mock = Mock::start("ok");
    let root = Root::new(&format!("{agent}-trouble"));
    let server = TestServer::with_prefix(&format!("doeff-real-{agent}-t"));
    let world = World::new(agent, &root.0, &bin, &mock, true);
    let agents = server.agents();
    let mut session = agents
        .launch_session(
            "trouble",
            &world.config().prompt("hello").ready_timeout(BOOT),
        )
        .expect("launch");
    let mut trail = Trail::default();
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the first turn",
        is(SessionStatus::Blocked, "idle_prompt"),
    );
    for (scenario, status, reason) in cases {
        mock.scenario(scenario);
        agents
            .send_message(&session, &format!("try the {scenario} case"), true)
            .unwrap_or_else(|e| panic!("{agent}: send for {scenario}: {e}"));
        watch_until(
            &agents,
            &mut session,
            &mut trail,
            TURN,
            reason,
            is(*status, reason),
        );
        if agent == "claude" {
            // Claude names the error itself (StopFailure): its report decides.
            let o = agents.observe(&mut session).expect("observe");
            assert_eq!(
                o.agent.source,
                Source::Hook,
                "claude: {scenario} decided by {:?}",
                o.agent
            );
        }
        // It stays so: what the agent does next while waiting (Claude's
        // idle reminder right after its StopFailure hook) changes nothing.
        let hold = Instant::now() + HOLD;
        while Instant::now() < hold {
            let o = agents.observe(&mut session).expect("observe");
            assert!(
                o.status == *status && o.reason == *reason,
                "{agent}: {scenario} became {}/{} ({}); trail {:?}",
                o.status.as_str(),
                o.reason,
                o.evidence.line,
                trail.names()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!(
            "[{agent}] {scenario} -> {}/{reason} at {:.0?}",
            status.as_str(),
            started.elapsed()
        );
    }
    agents.stop_session(&mut session).expect("stop");
    assert_eq!(session.status, SessionStatus::Stopped);
    eprintln!("[{agent}] api trouble: {:.0?}", started.elapsed());
}

/// An untrusted folder: the trust dialog is reported as blocked/trust_dialog
/// (nothing typed into it); with `accept_dialogs` it is answered and the
/// first prompt runs.
fn trust_dialog(agent: &'static str) {
    let Some(bin) = npm_bin() else { return };
    let started = Instant::now();
    let mock = Mock::start("ok");
    let root = Root::new(&format!("{agent}-trust"));
    let server = TestServer::with_prefix(&format!("doeff-real-{agent}-d"));
    let world = World::new(agent, &root.0, &bin, &mock, false);
    if agent == "codex" {
        // Codex asks only inside a git repository.
        let status = Command::new("git")
            .args(["init", "-q"])
            .current_dir(&world.work)
            .status()
            .expect("git init");
        assert!(status.success());
    }
    let agents = server.agents();
    let config = world.config().prompt("hello");
    let mut trail = Trail::default();
    match agents.launch_session("asked", &config.clone().ready_timeout(BOOT)) {
        Ok(mut session) => {
            // Every agent alike: the launch saw the dialog and typed nothing.
            assert_eq!(
                session.waiting.as_ref().map(|w| w.reason.as_str()),
                Some("trust_dialog"),
                "{agent}"
            );
            watch_until(
                &agents,
                &mut session,
                &mut trail,
                BOOT,
                "the trust dialog",
                is(SessionStatus::Blocked, "trust_dialog"),
            );
            std::thread::sleep(Duration::from_secs(2));
            let o = agents.observe(&mut session).expect("observe");
            assert_eq!(
                (o.status, o.reason.as_str()),
                (SessionStatus::Blocked, "trust_dialog")
            );
            agents.stop_session(&mut session).expect("stop");
        }
        Err(other) => panic!("{agent}: unexpected launch error {other}"),
    }
    assert!(
        mock.main_requests().is_empty(),
        "{agent}: a prompt got past the trust dialog"
    );

    let mut config = world.config().prompt("hello");
    config.accept_dialogs = true;
    let mut session = agents
        .launch_session("accepted", &config.clone().ready_timeout(BOOT))
        .expect("launch with accept_dialogs");
    let mut trail = Trail::default();
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the first turn",
        is(SessionStatus::Blocked, "idle_prompt"),
    );
    assert!(
        mock.main_requests()
            .iter()
            .any(|r| r["last_user"].as_str().is_some_and(|t| t.contains("hello"))),
        "{agent}: the prompt never reached the API after the dialog was answered"
    );
    agents.stop_session(&mut session).expect("stop");
    eprintln!("[{agent}] trust dialog: {:.0?}", started.elapsed());
}

#[test]
fn claude_whole_session() {
    whole_session("claude", "claude-mock-model-7", "/exit");
}

#[test]
fn codex_whole_session() {
    whole_session("codex", "gpt-mock-model-7", "/quit");
}

#[test]
fn gemini_whole_session() {
    whole_session("gemini", "gemini-mock-model-7", "/quit");
}

/// Gemini's own word: its hooks come from a per-run system-defaults file
/// (GEMINI_CLI_SYSTEM_DEFAULTS_PATH), which 0.61 reads only when root owns
/// it and every directory above it and no group or other can write them;
/// as another user the adapter passes nothing and this checks that.
#[test]
fn gemini_hooks() {
    let Some(bin) = npm_bin() else { return };
    let mock = Mock::start("tool");
    let root = Root::new("gemini-hooks");
    let server = TestServer::with_prefix("doeff-real-gemini-h");
    // The run's settings go under the state dir: not under the shared /tmp.
    let Some(state) = support::private_dir("real-gemini-hooks") else {
        return;
    };
    let _state_root = Root(state.clone()); // removed when the test ends
    let _ = std::fs::remove_dir_all(&state);
    let world = World::new("gemini", &root.0, &bin, &mock, true);
    let user_settings = world.user_settings();
    let agents = server.agents().with_state_dir(Some(state.clone()));
    let mut session = agents
        .launch_session(
            "hooks",
            &world
                .config()
                .prompt("make a marker file")
                .ready_timeout(BOOT),
        )
        .expect("launch");
    let hook = |session: &AgentSession| server.display(&session.pane_id, "#{@doeff-hook}");
    let run_dir = state.join("run").join("doeff-hooks");
    let mut trail = Trail::default();
    if !nix::unistd::Uid::effective().is_root() {
        assert!(!run_dir.exists() && hook(&session).is_empty());
        agents.stop_session(&mut session).expect("stop");
        let _ = std::fs::remove_dir_all(&state);
        return;
    }
    assert!(run_dir.join("settings.json").is_file());
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the approval prompt",
        is(SessionStatus::Blocked, "permission_prompt"),
    );
    let o = wait_for_report(&agents, &mut session, "Notification(ToolPermission)");
    assert_eq!(o.reason, "permission_prompt");
    // The report comes as the dialog is drawn: a key typed at once can be lost.
    settled_with(&agents, &session, "Allow execution");
    agents.send_keys(&session, &["Enter"]).expect("approve");
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the end of the turn",
        is(SessionStatus::Blocked, "idle_prompt"),
    );
    let o = wait_for_report(&agents, &mut session, "AfterAgent");
    assert_eq!(o.status, SessionStatus::Blocked);
    let value = hook(&session);
    let seq: u64 = value
        .split('|')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        seq >= 5 && value.contains("|AfterAgent|"),
        "@doeff-hook {value}"
    );
    let out = server.cli(&["explain", "hooks"]);
    let text = support::stdout(&out);
    assert!(text.contains("source:  hook"), "{text}");
    assert!(text.contains("report:  hook AfterAgent "), "{text}");

    // A failed turn ends with AfterAgent too ("[no response text]"): no
    // status, so the error on screen decides.
    mock.scenario("401");
    agents
        .send_message(&session, "try the 401 case", true)
        .expect("send");
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "auth_failed",
        is(SessionStatus::Failed, "auth_failed"),
    );
    std::thread::sleep(HOLD);
    let o = agents.observe(&mut session).expect("observe");
    assert_eq!(
        (o.status, o.reason.as_str()),
        (SessionStatus::Failed, "auth_failed"),
        "{o:?}"
    );
    assert!(hook(&session).contains("|AfterAgent|_no_response_text_|"));

    mock.scenario("ok");
    agents.send_message(&session, "/quit", true).expect("quit");
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the exit",
        |s, _| s == SessionStatus::Exited,
    );
    assert!(
        hook(&session).contains("|SessionEnd|exit|"),
        "{}",
        hook(&session)
    );
    agents.stop_session(&mut session).expect("stop");
    assert!(!run_dir.exists(), "stop removes the run's settings");
    for (path, bytes) in &user_settings {
        let after = std::fs::read(path).expect("the user's settings file after the run");
        assert!(
            &after == bytes,
            "{} changed during the session:\n{}",
            path.display(),
            String::from_utf8_lossy(&after)
        );
    }
    let _ = std::fs::remove_dir_all(&state);
}

/// Waits until the screen shows `text` and stays the same for a second.
fn settled_with(agents: &Agents, session: &AgentSession, text: &str) {
    let deadline = Instant::now() + TURN;
    let mut last = String::new();
    let mut since = Instant::now();
    loop {
        let screen = agents.capture_output(session, 60).unwrap_or_default();
        if screen != last {
            last = screen;
            since = Instant::now();
        } else if last.contains(text) && since.elapsed() >= Duration::from_secs(1) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never settled with {text:?}:\n{last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Observes until the deciding layer is the hook `said` (its event and detail).
fn wait_for_report(
    agents: &Agents,
    session: &mut AgentSession,
    said: &str,
) -> doeff_agents::Observation {
    let deadline = Instant::now() + TURN;
    loop {
        let o = agents.observe(session).expect("observe");
        if o.agent.source.as_str() == "hook" && o.evidence.line.starts_with(&format!("{said} ")) {
            return o;
        }
        assert!(Instant::now() < deadline, "no report {said}: {o:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn claude_api_trouble() {
    api_trouble(
        "claude",
        &[
            ("429", SessionStatus::BlockedApi, "rate_limit"),
            // Claude Code's own report of a 529 (its StopFailure hook) is
            // `server_error`; it decides over the screen's `overloaded`.
            ("529", SessionStatus::BlockedApi, "server_error"),
            ("401", SessionStatus::Failed, "auth_failed"),
        ],
    );
}

#[test]
fn codex_api_trouble() {
    api_trouble(
        "codex",
        &[
            ("429", SessionStatus::BlockedApi, "rate_limit"),
            ("503", SessionStatus::BlockedApi, "overloaded"),
            ("401", SessionStatus::Failed, "auth_failed"),
        ],
    );
}

/// Gemini retries 429 and 503 silently for minutes behind its spinner (see
/// tests/realcli NOTES); a daily-quota 429 is terminal at once.
#[test]
fn gemini_api_trouble() {
    api_trouble(
        "gemini",
        &[
            ("429daily", SessionStatus::BlockedApi, "rate_limit"),
            ("401", SessionStatus::Failed, "auth_failed"),
        ],
    );
}

#[test]
fn claude_trust_dialog() {
    trust_dialog("claude");
}

#[test]
fn codex_trust_dialog() {
    trust_dialog("codex");
}

#[test]
fn gemini_trust_dialog() {
    trust_dialog("gemini");
}

/// `skip_permissions` as root needs `IS_SANDBOX=1`, and Claude then asks to
/// confirm bypass mode once: reported as blocked, or answered ("2. Yes, I
/// accept") with `accept_dialogs`, after which the prompt runs.
#[test]
fn claude_bypass_permissions_dialog() {
    let Some(bin) = npm_bin() else { return };
    let mock = Mock::start("ok");
    let root = Root::new("claude-bypass");
    let server = TestServer::with_prefix("doeff-real-claude-b");
    let world = World::new("claude", &root.0, &bin, &mock, true);
    let agents = server.agents();
    let mut config = world.config().prompt("hello").env("IS_SANDBOX", "1");
    config.skip_permissions = true;
    let mut session = agents
        .launch_session("bypass", &config.clone().ready_timeout(BOOT))
        .expect("launch");
    let mut trail = Trail::default();
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        BOOT,
        "the bypass dialog",
        is(SessionStatus::Blocked, "bypass_permissions_dialog"),
    );
    agents.stop_session(&mut session).expect("stop");
    assert!(
        mock.main_requests().is_empty(),
        "a prompt got past the dialog"
    );

    config.accept_dialogs = true;
    let mut session = agents
        .launch_session("accepted", &config.clone().ready_timeout(BOOT))
        .expect("launch with accept_dialogs");
    watch_until(
        &agents,
        &mut session,
        &mut trail,
        TURN,
        "the first turn",
        is(SessionStatus::Blocked, "idle_prompt"),
    );
    assert!(
        !mock.main_requests().is_empty(),
        "the prompt never reached the API"
    );
    agents.stop_session(&mut session).expect("stop");
}

// ---------------------------------------------------------------- each step's layer

/// Seconds since the Unix epoch, as the mock logs request times.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One Claude session through idle, a permission prompt and its approval,
/// the end of the turn, streaming and an Esc interrupt: each
/// step's status, the layer that decided it (the agent's own report where
/// Claude gives one), and the time from the mock's reply to the observation.
#[test]
fn claude_reports_at_each_step() {
    let Some(bin) = npm_bin() else { return };
    let mock = Mock::start("ok");
    let root = Root::new("claude-steps");
    let server = TestServer::with_prefix("doeff-real-claude-steps");
    let world = World::new("claude", &root.0, &bin, &mock, true);
    let agents = server.agents();
    let mut session = agents
        .launch_session("steps", &world.config().ready_timeout(BOOT))
        .expect("launch");
    let mut trail = Trail::default();
    let step = |session: &mut AgentSession,
                trail: &mut Trail,
                what: &str,
                done: &dyn Fn(SessionStatus, &str) -> bool|
     -> (Source, f64) {
        let asked = unix_now();
        watch_until(&agents, session, trail, TURN, what, done);
        let seen = unix_now();
        let source = trail.0.last().map(|(_, _, s)| *s).unwrap_or_default();
        let reply = mock
            .main_requests()
            .last()
            .and_then(|r| r["time"].as_f64())
            .filter(|t| *t >= asked)
            .unwrap_or(asked);
        let ms = (seen - reply) * 1000.0;
        eprintln!("[claude step] {what}: {} after {ms:.0} ms", source.as_str());
        (source, ms)
    };
    step(
        &mut session,
        &mut trail,
        "idle at launch",
        &is(SessionStatus::Blocked, "idle_prompt"),
    );

    // A permission prompt, approved; the turn's end.
    mock.scenario("tool");
    agents
        .send_message(&session, "make a marker file", true)
        .expect("send");
    let (source, permission_ms) = step(
        &mut session,
        &mut trail,
        "permission",
        &is(SessionStatus::Blocked, "permission_prompt"),
    );
    assert_ne!(source, Source::Screen, "PermissionRequest reports it");
    std::thread::sleep(Duration::from_millis(500));
    agents.send_keys(&session, &["Enter"]).expect("approve");
    let (source, idle_ms) = step(
        &mut session,
        &mut trail,
        "turn end",
        &is(SessionStatus::Blocked, "idle_prompt"),
    );
    assert_ne!(source, Source::Screen, "Stop reports it");
    assert!(
        trail.has_in_order(&[
            (SessionStatus::Running, ""),
            (SessionStatus::Blocked, "permission_prompt"),
            (SessionStatus::Running, ""),
            (SessionStatus::Blocked, "idle_prompt"),
        ]),
        "trail {:?}",
        trail.names()
    );

    // Streaming that never ends, interrupted with Esc: no hook says so.
    mock.scenario("hang");
    agents
        .send_message(&session, "tell me a long story", true)
        .expect("send");
    let (source, _) = step(&mut session, &mut trail, "streaming", &|s, _| {
        s == SessionStatus::Running
    });
    assert_ne!(source, Source::Screen, "UserPromptSubmit reports the turn");
    agents.send_keys(&session, &["Escape"]).expect("Esc");
    step(&mut session, &mut trail, "interrupted", &|s, _| {
        s == SessionStatus::Blocked
    });

    // Claude puts the interrupted prompt back into its composer: a new
    // message would be appended to it, so the session is stopped here
    // (`/exit` is in the whole-session test).
    agents.stop_session(&mut session).expect("stop");
    println!(
        "MEASURE claude hook-reported change, mock reply -> observation: permission {permission_ms:.0} ms, turn end {idle_ms:.0} ms"
    );
    drop(world);
    drop(root);
}
