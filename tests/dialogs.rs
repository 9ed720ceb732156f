//! Start-up dialogs, submission checks and resume state on a private tmux
//! server, with a scripted fake agent (a Lua adapter running `sh`): a known
//! safe dialog is answered only when asked, otherwise the session is left
//! `blocked` for the user; an unsafe one is never typed into; a dialog drawn
//! after the composer gets no input; Codex's hook review (its saved screen,
//! under the shipped adapter's dialogs) is never answered, even when asked;
//! bad `dialogs` tables are load errors; `run --resume` relaunches from the
//! saved state.

mod support;

use std::time::Duration;

use doeff_agents::{AgentType, Error, LaunchConfig, SessionStatus};
use support::{TestServer, wait_for};

const PATIENCE: Duration = Duration::from_secs(20);

/// A fake agent: a dialog first (`Enter` answers it), then a `> ` composer
/// that echoes one message on a cleared screen.
const FAKE: &str = r#"
return agents.adapter {
  name = "fake",
  binary = "sh", -- the agent is a shell script: sh in the pane is not "back to a shell"
  injection = "%INJECTION%",
  ready_pattern = "^>( |$)",
  composer = "^> (.*)$",
  dialogs = {
    { id = "trust", match = "Trust this folder?", reason = "trust_dialog", answer = { "Enter" }, safe = true },
    { id = "update", match = "Update available", reason = "update_dialog", answer = { "Enter" }, safe = false },
  },
  patterns = {
    { status = "blocked", reason = "idle_prompt", regex = "^>$", last = 2 },
  },
  launch = function(cfg)
    local script = [[
      printf '%s\n1. Yes\n2. No\n' "$DIALOG"
      read answer
      printf '\033[2J\033[Hthe dialog was answered\n> '
      read msg
      printf '\033[2J\033[Hgot: %s\n' "$msg"
      sleep 30
    ]]
    return { "sh", "-c", script }
  end,
}
"#;

fn fake(server: &TestServer, injection: &str) -> doeff_agents::Agents {
    server.agents_with_adapter("fake.lua", &FAKE.replace("%INJECTION%", injection))
}

fn config(server: &TestServer, dialog: &str) -> LaunchConfig {
    LaunchConfig::new(AgentType::Custom("fake".into()), &server.dir)
        .env("DIALOG", dialog)
        .prompt("hello there")
}

#[test]
fn a_safe_dialog_is_answered_only_when_asked() {
    let server = TestServer::new();
    let agents = fake(&server, "tmux");
    let session = agents
        .launch_session(
            "asked",
            &config(&server, "Trust this folder?").ready_timeout(PATIENCE),
        )
        .expect("the session is left for the user");
    assert_eq!(session.status, SessionStatus::Blocked);
    let waiting = session.waiting.clone().expect("waiting for the user");
    assert_eq!(
        (waiting.dialog.as_deref(), waiting.reason.as_str()),
        (Some("trust"), "trust_dialog")
    );
    assert!(waiting.prompt_pending && waiting.safe, "{waiting:?}");
    let screen = agents.capture_output(&session, 20).expect("capture");
    assert!(!screen.contains("answered"), "nothing typed: {screen}");

    let mut accepting = config(&server, "Trust this folder?");
    accepting.accept_dialogs = true;
    let session = agents
        .launch_session("accepted", &accepting.clone().ready_timeout(PATIENCE))
        .expect("launch answers the dialog");
    assert!(session.waiting.is_none(), "{:?}", session.waiting);
    wait_for("the prompt", PATIENCE, || {
        let text = agents.capture_output(&session, 20).ok()?;
        text.contains("got: hello there").then_some(text)
    });
}

#[test]
fn an_arg_agent_reports_the_dialog_and_nothing_is_typed() {
    let server = TestServer::new();
    let agents = fake(&server, "arg");
    let mut session = agents
        .launch_session(
            "shown",
            &config(&server, "Trust this folder?").ready_timeout(PATIENCE),
        )
        .expect("launch");
    let observation = wait_for("the dialog", PATIENCE, || {
        let o = agents.observe(&mut session).ok()?;
        (o.status == SessionStatus::Blocked).then_some(o)
    });
    assert_eq!(observation.reason, "trust_dialog");
    assert_eq!(observation.evidence.rule, "fake.dialog.trust");
    std::thread::sleep(Duration::from_millis(300));
    let screen = agents.capture_output(&session, 20).expect("capture");
    assert!(!screen.contains("answered"), "{screen}");
}

#[test]
fn an_unsafe_dialog_is_never_answered() {
    let server = TestServer::new();
    let agents = fake(&server, "tmux");
    let mut cfg = config(&server, "Update available: 1. Update now");
    cfg.accept_dialogs = true;
    let session = agents
        .launch_session("update", &cfg.clone().ready_timeout(PATIENCE))
        .expect("left for the user");
    let waiting = session.waiting.clone().expect("waiting");
    assert_eq!(waiting.dialog.as_deref(), Some("update"));
    assert!(!waiting.safe);
    let advice = waiting.advice(&session.session_name);
    assert!(advice.contains("never answered automatically"), "{advice}");
    let screen = agents.capture_output(&session, 20).expect("capture");
    assert!(!screen.contains("answered"), "nothing typed: {screen}");
}

#[test]
fn bad_dialog_tables_are_load_errors_with_a_location() {
    let server = TestServer::new();
    let agents = server.agents();
    let cases = [
        ("{ id = 'x', match = 'y', safe = true }", "no 'answer'"),
        ("{ match = 'y' }", "needs an 'id'"),
        (
            "{ id = 'x', match = 'y', reason = 'Bad Reason' }",
            "snake_case",
        ),
        ("{ id = 'x', regex = '(' }", "bad regex"),
        (
            "{ id = 'x', match = 'y', colour = 1 }",
            "unknown field 'colour'",
        ),
    ];
    for (i, (dialog, want)) in cases.iter().enumerate() {
        let file = server.path(&format!("bad{i}.lua"));
        std::fs::write(
            &file,
            format!(
                "return agents.adapter {{\n  name = 'bad{i}',\n  launch = function() return {{ 'x' }} end,\n  dialogs = {{ {dialog} }},\n}}\n"
            ),
        )
        .expect("write");
        let err = agents
            .adapters()
            .load_file(&file)
            .expect_err(want)
            .to_string();
        assert!(err.contains(want), "{want}: {err}");
        assert!(err.contains(&format!("bad{i}.lua:")), "a location: {err}");
    }
}

#[test]
fn run_resume_relaunches_from_the_saved_state() {
    let server = TestServer::new();
    server.launch_waiting_demo("keep");
    let state = server
        .dir
        .join("state/doeff-agents/sessions/doeff-keep.json");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state file")).expect("JSON");
    assert_eq!(saved["agent"], "demo");
    assert!(server.cli(&["stop", "keep"]).status.success());

    let again = server.cli(&["run", "--resume", "keep", "-e", "DOEFF_DEMO_SCENARIO=wait"]);
    assert!(again.status.success(), "{}", support::stderr(&again));
    assert_eq!(support::stdout(&again).trim(), "doeff-keep");
    assert_eq!(server.session_names(), vec!["doeff-keep"]);

    let missing = server.cli(&["run", "--resume", "nothing-here"]);
    let err = support::assert_one_line_error(&missing);
    assert!(err.contains("cannot resume nothing-here"), "{err}");
}

/// An agent whose composer never takes the message: Enter is pressed a
/// bounded number of times, then the send is an `Error::Send`.
#[test]
fn a_message_that_stays_in_the_composer_is_a_send_error() {
    let server = TestServer::new();
    let agents = server.agents();
    let file = server.path("stuck.lua");
    std::fs::write(
        &file,
        r#"
return agents.adapter {
  name = "stuck",
  binary = "sh",
  ready_pattern = "^>( |$)",
  composer = "^> (.*)$",
  launch = function(cfg)
    return { "sh", "-c", "printf '> '; while read line; do :; done" }
  end,
}
"#,
    )
    .expect("write adapter");
    agents.adapters().load_file(&file).expect("adapter loads");
    let session = agents
        .launch_session(
            "stuck",
            &LaunchConfig::new(AgentType::Custom("stuck".into()), &server.dir)
                .ready_timeout(PATIENCE),
        )
        .expect("launch");
    wait_for("the composer", PATIENCE, || {
        agents
            .capture_output(&session, 5)
            .ok()
            .filter(|t| t.starts_with('>'))
    });
    match agents.send_message(&session, "hello stuck agent", true) {
        Err(Error::Send { message, .. }) => {
            assert!(
                message.contains("still in the agent's composer"),
                "{message}"
            )
        }
        other => panic!("expected Error::Send, got {other:?}"),
    }
}

/// A stand-in CLI that draws its composer, then a trust dialog 0.5 s later
/// (as Gemini and Codex 0.171 do), and logs every byte it receives.
const STANDIN: &str = r#"
return agents.adapter {
  name = "%NAME%",
  binary = "sh",
  injection = "%INJECTION%",
  ready_pattern = "^>( |$)",
  composer = "^> (.*)$",
  %DIALOGS%
  launch = function(cfg)
    local script = [[
      stty raw -echo
      printf '> '
      ( sleep 0.5; printf '\r\n\r\n Do you trust the files in this folder?\r\n  1. Yes, trust it\r\n  2. No, exit\r\n' ) &
      exec cat > "$STANDIN_LOG"
    ]]
    local argv = { "sh", "-c", script, "standin" }
    if cfg.prompt then argv[#argv + 1] = cfg.prompt end
    return argv
  end,
}
"#;

const TRUST: &str = r#"dialogs = { { id = "trust", match = "Do you trust the files in this folder?",
    reason = "trust_dialog", answer = { "Enter" }, safe = true } },"#;

/// `run` without `--accept-trust` leaves the session `blocked`
/// (`trust_dialog`), says so on stderr, and types nothing into it: for a
/// pasted prompt and an argv one, a dialog the adapter knows and one only
/// the default rules know.
#[test]
fn a_trust_dialog_after_the_composer_gets_no_input() {
    let server = TestServer::new();
    let dir = server.path("adapters");
    std::fs::create_dir_all(&dir).expect("adapter dir");
    let cases = [
        ("pasted", "tmux", TRUST),
        ("argv", "arg", TRUST),
        ("unknown", "tmux", ""),
    ];
    for (name, injection, dialogs) in cases {
        let source = STANDIN
            .replace("%NAME%", name)
            .replace("%INJECTION%", injection)
            .replace("%DIALOGS%", dialogs);
        std::fs::write(dir.join(format!("{name}.lua")), source).expect("write adapter");
    }
    let adapters = dir.to_string_lossy().into_owned();
    for (name, injection, _) in cases {
        let log = server.path(&format!("{name}.log"));
        let env = format!("STANDIN_LOG={}", log.display());
        let out = server.cli(&[
            "--adapters",
            &adapters,
            "run",
            "-a",
            name,
            "-s",
            name,
            "-p",
            "hello there",
            "-e",
            &env,
        ]);
        let err = support::stderr(&out);
        assert!(out.status.success(), "{name}: {err}");
        assert_eq!(support::stdout(&out).trim(), format!("doeff-{name}"));
        assert!(
            err.contains(&format!(
                "doeff-{name} is waiting for you to trust the folder: doeff-agents send doeff-{name} --keys Enter, or run with --accept-trust"
            )),
            "{name}: {err}"
        );
        assert_eq!(
            err.contains("the prompt was not sent"),
            injection == "tmux",
            "{name}: {err}"
        );
        let ps = server.cli(&["--adapters", &adapters, "ps", "--json"]);
        let rows: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("ps --json");
        let row = rows
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["name"] == format!("doeff-{name}")))
            .cloned()
            .expect("listed");
        assert_eq!(
            (row["status"].as_str(), row["reason"].as_str()),
            (Some("blocked"), Some("trust_dialog")),
            "{name}: {row}"
        );
    }
    // Nothing typed reaches the agent later either.
    std::thread::sleep(Duration::from_millis(500));
    for (name, _, _) in cases {
        let got = std::fs::read(server.path(&format!("{name}.log"))).unwrap_or_default();
        assert!(
            got.is_empty(),
            "{name}: input reached the agent: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// A dialog whose answer is two keys (`Down`, then `Enter`), as Claude
/// Code's bypass-permissions one: `deaf` never redraws on a key (as a TUI
/// that has not started reading yet), else `Down` moves the choice.
const CHOICE: &str = r#"
return agents.adapter {
  name = "choice",
  binary = "sh",
  injection = "tmux",
  ready_pattern = "^>( |$)",
  dialogs = {
    { id = "pick", match = "Pick one", reason = "pick_dialog", answer = { "Down", "Enter" }, safe = true },
  },
  launch = function(cfg)
    local script = [[
      stty raw -echo
      printf 'Pick one\r\n❯ 1. No, exit\r\n  2. Yes, I accept\r\n'
      if [ -n "$DEAF" ]; then exec cat > "$KEYS"; fi
      dd bs=3 count=1 >/dev/null 2>&1
      printf '\033[2J\033[HPick one\r\n  1. No, exit\r\n❯ 2. Yes, I accept\r\n'
      dd bs=1 count=1 >/dev/null 2>&1
      stty sane
      printf '\033[2J\033[Hthe choice was yes\n> '
      read msg
      printf '\033[2J\033[Hgot: %s\n' "$msg"
      sleep 30
    ]]
    return { "sh", "-c", script }
  end,
}
"#;

fn choice_config(server: &TestServer, deaf: bool) -> LaunchConfig {
    let mut cfg = LaunchConfig::new(AgentType::Custom("choice".into()), &server.dir)
        .env("KEYS", server.path("keys").to_string_lossy())
        .prompt("hello there");
    if deaf {
        cfg = cfg.env("DEAF", "1");
    }
    cfg.accept_dialogs = true;
    cfg
}

fn choice_agents(server: &TestServer) -> doeff_agents::Agents {
    server.agents_with_adapter("choice.lua", CHOICE)
}

#[test]
fn a_multi_key_answer_sends_each_key_once_the_screen_showed_the_one_before() {
    let server = TestServer::new();
    let agents = choice_agents(&server);
    let mut session = agents
        .launch_session(
            "pick",
            &choice_config(&server, false).ready_timeout(PATIENCE),
        )
        .expect("answered and ready");
    assert!(session.waiting.is_none(), "{:?}", session.waiting);
    wait_for("the prompt after the answer", PATIENCE, || {
        let screen = agents.capture_output(&session, 20).ok()?;
        screen.contains("got: hello there").then_some(())
    });
    agents.stop_session(&mut session).expect("stop");
}

#[test]
fn the_rest_of_an_answer_is_withheld_when_the_screen_ignores_a_key() {
    let server = TestServer::new();
    let agents = choice_agents(&server);
    let session = agents
        .launch_session(
            "deaf",
            &choice_config(&server, true).ready_timeout(PATIENCE),
        )
        .expect("left for the user");
    let waiting = session.waiting.clone().expect("waiting for the user");
    assert_eq!(waiting.dialog.as_deref(), Some("pick"));
    assert!(!waiting.safe, "{waiting:?}");
    let keys = server.path("keys");
    let got = wait_for("the first key to arrive", PATIENCE, || {
        let bytes = std::fs::read(&keys).ok()?;
        (!bytes.is_empty()).then_some(bytes)
    });
    std::thread::sleep(Duration::from_millis(500));
    let got = std::fs::read(&keys).unwrap_or(got);
    assert_eq!(got, b"\x1b[B", "only Down was typed, never Enter");
}

/// The shipped Codex adapter's dialogs, with a stand-in launch that draws
/// the saved screen `screen` (tests/screens) and records every key typed.
fn codex_stand_in(server: &TestServer, screen: &str) -> doeff_agents::Agents {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lua/adapters/codex.lua"),
    )
    .expect("codex.lua");
    assert!(
        shipped.contains("return agents.adapter {"),
        "codex.lua's shape"
    );
    let script = format!(
        "stty raw -echo; cat {}; exec cat > \"$KEYS\"",
        support::screens_dir().join(screen).display()
    );
    let adapter = shipped.replacen("return agents.adapter {", "local spec = {", 1)
        + &format!(
            "\nspec.name = \"codexstandin\"\nspec.binary = \"sh\"\n\
             spec.launch = function(cfg) return {{ \"sh\", \"-c\", {script:?} }} end\n\
             return agents.adapter(spec)\n"
        );
    server.agents_with_adapter("codexstandin.lua", &adapter)
}

#[test]
fn codexs_hook_review_is_left_for_the_user_even_with_accept_trust() {
    let server = TestServer::new();
    let agents = codex_stand_in(&server, "codex-0.171.0-hook_review.txt");
    let keys = server.path("keys");
    let mut cfg = LaunchConfig::new(AgentType::Custom("codexstandin".into()), &server.dir)
        .env("KEYS", keys.to_string_lossy())
        .prompt("hello there");
    cfg.accept_dialogs = true;
    let session = agents
        .launch_session("hooks", &cfg.clone().ready_timeout(PATIENCE))
        .expect("left for the user");
    let waiting = session.waiting.clone().expect("waiting for the user");
    assert_eq!(
        (waiting.dialog.as_deref(), waiting.reason.as_str()),
        (Some("hook_review"), "hook_review")
    );
    assert!(!waiting.safe && waiting.answer.is_empty(), "{waiting:?}");
    let advice = waiting.advice(&session.session_name);
    assert!(advice.contains("never answered automatically"), "{advice}");
    std::thread::sleep(Duration::from_millis(700));
    let typed = std::fs::read(&keys).unwrap_or_default();
    assert!(typed.is_empty(), "nothing typed into it: {typed:?}");
}
