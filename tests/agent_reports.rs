//! The agent's own word, end to end without a real CLI: a user adapter with
//! `signals.hooks` launches a fake agent (bash) that runs the per-run hook
//! commands it was given, through `doeff-agents hook EVENT`. Checks that the
//! reports decide (and say so), that a hook run from another pane cannot set
//! this session's state even with the token, and that `--no-hooks` /
//! `hooks = false` pass nothing.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use doeff_agents::{AdapterRegistry, AgentSession, Agents, LaunchConfig, SessionStatus};
use support::{TestServer, bin, wait_for};

const ADAPTER: &str = r#"
return agents.adapter {
  name = "hooky",
  signals = { hooks = {
    Begin = "running",
    End = "blocked/idle_prompt",
    Fail = { detail = "error", quota = "blocked_api/rate_limit", ["*"] = false },
  } },
  launch = function(cfg)
    local h = cfg.hooks and cfg.hooks.command or {}
    return { "bash", cfg.work_dir .. "/agent.sh", h.Begin or "", h.End or "", h.Fail or "" }
  end,
}
"#;

/// Reads words; `begin`/`end`/`quota` run the matching hook command with a
/// JSON payload on stdin, like a CLI would.
const AGENT: &str = r#"
begin="$1"; end="$2"; fail="$3"
echo "fake agent up"
while IFS= read -r line; do
  case "$line" in
    begin) [ -n "$begin" ] && echo '{}' | sh -c "$begin"; echo "working on it";;
    end) [ -n "$end" ] && echo '{}' | sh -c "$end"; echo "all done";;
    quota) [ -n "$fail" ] && echo '{"error":"quota"}' | sh -c "$fail"; echo "hmm";;
  esac
done
"#;

fn agents(server: &TestServer) -> Agents {
    // Where the CLI finds user adapters too (XDG_CONFIG_HOME of `server.cli`).
    let dir = server.dir.join("config/doeff-agents/adapters");
    std::fs::create_dir_all(&dir).expect("adapter dir");
    std::fs::write(dir.join("hooky.lua"), ADAPTER).expect("adapter");
    let registry =
        AdapterRegistry::builtin_with_exe(bin().to_string_lossy().into_owned()).expect("builtins");
    assert!(registry.load_dir(&dir).is_empty(), "the adapter loads");
    Agents::new(server.tmux.clone(), Arc::new(registry))
}

fn config(server: &TestServer) -> LaunchConfig {
    let work = server.dir.join("work");
    std::fs::create_dir_all(&work).expect("work");
    std::fs::write(work.join("agent.sh"), AGENT).expect("agent");
    LaunchConfig::new("hooky".parse().expect("agent"), &work)
}

/// Observes until the status is `status`; returns that observation.
fn until(
    agents: &Agents,
    session: &mut AgentSession,
    status: SessionStatus,
) -> doeff_agents::Observation {
    wait_for(&format!("status {status}"), Duration::from_secs(20), || {
        let o = agents.observe(session).expect("observe");
        (o.status == status).then_some(o)
    })
}

#[test]
fn hooks_decide_and_say_so_and_another_pane_cannot_forge_them() {
    let server = TestServer::new();
    let agents = agents(&server);
    let mut session = agents
        .launch_session(
            "hooky",
            &config(&server).ready_timeout(Duration::from_secs(10)),
        )
        .expect("launch");
    // Armed at launch: seq 0, nothing reported yet.
    assert!(server.hook_option(&session).starts_with("0|armed||"));

    server.type_line(&session, "begin");
    let o = until(&agents, &mut session, SessionStatus::Running);
    wait_for("the Begin hook", Duration::from_secs(20), || {
        server
            .hook_option(&session)
            .contains("|Begin|")
            .then_some(())
    });
    server.type_line(&session, "quota");
    let o2 = until(&agents, &mut session, SessionStatus::BlockedApi);
    assert_eq!(o2.reason, "rate_limit");
    assert_eq!(o2.agent.source.as_str(), "hook", "{o2:?}");
    assert!(
        o2.evidence.line.starts_with("Fail(quota) "),
        "{:?}",
        o2.evidence
    );
    drop(o);

    // explain names the hook.
    let out = server.cli(&["explain", "hooky"]);
    let text = support::stdout(&out);
    assert!(text.contains("source:  hook"), "{text}");
    assert!(text.contains("report:  hook Fail(quota)"), "{text}");

    // Another pane, even with the token and TMUX_PANE pointing here: refused.
    let token = server.display(&session.pane_id, "#{@doeff-hook-token}");
    assert!(!token.is_empty());
    let before = server.hook_option(&session);
    let socket = server.display(&session.pane_id, "#{socket_path}");
    let forged = Command::new(bin())
        .args(["hook", "End"])
        .env("TMUX_PANE", &session.pane_id)
        .env("TMUX", format!("{socket},1,0"))
        .env("DOEFF_AGENTS_HOOK_TOKEN", &token)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("hook");
    assert!(forged.status.success(), "a hook always exits 0");
    assert!(forged.stdout.is_empty() && forged.stderr.is_empty());
    assert_eq!(server.hook_option(&session), before, "forged from outside");
    // Garbage in, nothing out, exit 0.
    let junk = Command::new(bin())
        .args(["hook", "no such;event"])
        .env_remove("TMUX")
        .output()
        .expect("hook");
    assert!(junk.status.success() && junk.stdout.is_empty() && junk.stderr.is_empty());

    // The agent's own hook from its own pane still works.
    server.type_line(&session, "end");
    let o3 = until(&agents, &mut session, SessionStatus::Blocked);
    assert_eq!(o3.reason, "idle_prompt");
    assert_eq!(o3.agent.source.as_str(), "hook");
    agents.stop_session(&mut session).expect("stop");
}

#[test]
fn no_hooks_passes_no_commands_and_the_screen_decides() {
    let server = TestServer::new();
    let agents = agents(&server);
    let mut session = agents
        .launch_session(
            "plain",
            &config(&server)
                .hooks(false)
                .ready_timeout(Duration::from_secs(10)),
        )
        .expect("launch");
    assert_eq!(server.hook_option(&session), "", "not armed");
    server.type_line(&session, "quota");
    wait_for("the agent's answer", Duration::from_secs(20), || {
        agents
            .capture_output(&session, 20)
            .ok()
            .filter(|s| s.contains("hmm"))
    });
    let o = agents.observe(&mut session).expect("observe");
    assert_eq!(o.agent.source.as_str(), "screen");
    assert_ne!(o.status, SessionStatus::BlockedApi);
    assert_eq!(server.hook_option(&session), "");
    agents.stop_session(&mut session).expect("stop");

    // The CLI flag: the same.
    let work = server.dir.join("work");
    let out = server.cli(&[
        "run",
        "-a",
        "hooky",
        "-s",
        "flag",
        "-w",
        work.to_str().expect("utf-8"),
        "--no-hooks",
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let flagged = agents.session("flag").expect("launched");
    assert_eq!(server.hook_option(&flagged), "");
    let out = server.cli(&[
        "run",
        "-a",
        "hooky",
        "-s",
        "hooked",
        "-w",
        work.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let hooked = agents.session("hooked").expect("launched");
    assert!(server.hook_option(&hooked).starts_with("0|armed"));
}

/// A CLI that takes its hooks only from a settings file named in its
/// environment (as Gemini CLI does): `cfg.hooks.settings_file`.
const FILE_ADAPTER: &str = r#"
return agents.adapter {
  name = "filey",
  signals = { hooks = { Begin = "running", End = "blocked/idle_prompt" } },
  launch = function(cfg)
    if type(cfg.hooks) == "table" then
      local text = "Begin=" .. cfg.hooks.command.Begin .. "\nEnd=" .. cfg.hooks.command.End .. "\n"
      local path = cfg.hooks.settings_file(text, "FILEY_SETTINGS")
      assert(path == nil or path:match("/settings%.json$"), path)
    end
    return { "bash", cfg.work_dir .. "/filey.sh" }
  end,
}
"#;

/// Says where its settings are; `begin`/`end` run the hook commands read
/// from that file (nothing comes in argv).
const FILE_AGENT: &str = r#"
echo "settings at [${FILEY_SETTINGS:-none}]"
begin=""; end=""
if [ -n "$FILEY_SETTINGS" ]; then
  begin=$(sed -n 's/^Begin=//p' "$FILEY_SETTINGS"); end=$(sed -n 's/^End=//p' "$FILEY_SETTINGS")
fi
while IFS= read -r line; do
  case "$line" in
    begin) [ -n "$begin" ] && echo '{}' | sh -c "$begin"; echo "working on it";;
    end) [ -n "$end" ] && echo '{}' | sh -c "$end"; echo "all done";;
  esac
done
"#;

fn private_state_dir(name: &str) -> Option<std::path::PathBuf> {
    support::private_dir(&format!("reports-{name}"))
}

fn file_agents(server: &TestServer, state: &std::path::Path) -> (Agents, LaunchConfig) {
    let registry =
        AdapterRegistry::builtin_with_exe(bin().to_string_lossy().into_owned()).expect("builtins");
    registry
        .load_source("filey.lua", FILE_ADAPTER)
        .expect("the adapter loads");
    let agents =
        Agents::new(server.tmux.clone(), Arc::new(registry)).with_state_dir(Some(state.into()));
    let work = server.dir.join("work");
    std::fs::create_dir_all(&work).expect("work");
    std::fs::write(work.join("filey.sh"), FILE_AGENT).expect("agent");
    (
        agents,
        LaunchConfig::new("filey".parse().expect("agent"), &work),
    )
}

/// The path the agent says its settings are at ("none": unset).
fn settings_path(agents: &Agents, session: &AgentSession) -> String {
    let screen = wait_for("the agent's first line", Duration::from_secs(20), || {
        agents
            .capture_output(session, 20)
            .ok()
            .filter(|s| s.contains("settings at ["))
    });
    let start = screen.find("settings at [").expect("line") + "settings at [".len();
    let end = start + screen[start..].find(']').expect("]");
    screen[start..end].to_owned()
}

#[test]
fn a_settings_file_per_run_is_private_named_in_the_environment_and_removed_on_stop() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::new();
    let Some(state) = private_state_dir("file") else {
        return;
    };
    let (agents, config) = file_agents(&server, &state);
    let mut session = agents
        .launch_session(
            "filey",
            &config.clone().ready_timeout(Duration::from_secs(10)),
        )
        .expect("launch");
    let path = std::path::PathBuf::from(settings_path(&agents, &session));
    let dir = state.join("run").join("doeff-filey");
    assert_eq!(path, dir.join("settings.json"));
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("there").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "the directory is the run's own");
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).expect("settings");
    assert!(
        text.starts_with("Begin='") && text.contains(" 'hook' 'End'"),
        "{text}"
    );

    // The hooks in the file report, and decide.
    server.type_line(&session, "begin");
    until(&agents, &mut session, SessionStatus::Running);
    wait_for("the Begin hook", Duration::from_secs(20), || {
        server
            .hook_option(&session)
            .contains("|Begin|")
            .then_some(())
    });
    server.type_line(&session, "end");
    let o = wait_for("the End report", Duration::from_secs(20), || {
        let o2 = agents.observe(&mut session).expect("observe");
        (o2.agent.source.as_str() == "hook" && o2.reason == "idle_prompt").then_some(o2)
    });
    assert!(o.evidence.line.starts_with("End "), "{:?}", o.evidence);

    agents.stop_session(&mut session).expect("stop");
    assert!(!dir.exists(), "stop removes the run's settings");

    // --no-hooks: no file, no variable.
    let mut plain = agents
        .launch_session(
            "filey",
            &config
                .clone()
                .hooks(false)
                .ready_timeout(Duration::from_secs(10)),
        )
        .expect("launch");
    assert_eq!(settings_path(&agents, &plain), "none");
    assert!(!dir.exists());
    assert_eq!(server.hook_option(&plain), "", "not armed");
    agents.stop_session(&mut plain).expect("stop");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn no_settings_file_where_others_could_write() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::new();
    let Some(open) = private_state_dir("open") else {
        return;
    };
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let state = open.join("state");
    let (agents, config) = file_agents(&server, &state);
    let mut session = agents
        .launch_session(
            "filey",
            &config.clone().ready_timeout(Duration::from_secs(10)),
        )
        .expect("launch");
    assert_eq!(settings_path(&agents, &session), "none");
    assert!(!state.join("run").join("doeff-filey").exists());
    assert_eq!(
        server.hook_option(&session),
        "",
        "no hooks passed: not armed"
    );
    agents.stop_session(&mut session).expect("stop");
    let _ = std::fs::remove_dir_all(&open);
}

/// A stand-in for `gemini`: records the settings path it was given and the
/// file's text, then shows a composer.
const GEMINI_STAND_IN: &str = r#"#!/bin/sh
printf '%s' "${GEMINI_CLI_SYSTEM_DEFAULTS_PATH:-none}" > seen_path
[ -n "$GEMINI_CLI_SYSTEM_DEFAULTS_PATH" ] && cat "$GEMINI_CLI_SYSTEM_DEFAULTS_PATH" > seen_settings
echo "Gemini CLI v0.61.0"
echo "────────────────────────────────────────"
echo " >   Type your message or @path/to/file"
exec sleep 600
"#;

/// Gemini takes per-run hooks only through GEMINI_CLI_SYSTEM_DEFAULTS_PATH,
/// and reads that file only when root owns it: as root the adapter asks for
/// one, otherwise (and with --no-hooks) it passes nothing.
#[test]
fn gemini_gets_its_hooks_from_a_system_defaults_file_only_as_root() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::new();
    let Some(state) = private_state_dir("gemini") else {
        return;
    };
    let bin_dir = server.dir.join("bin");
    std::fs::create_dir_all(&bin_dir).expect("bin");
    let stand_in = bin_dir.join("gemini");
    std::fs::write(&stand_in, GEMINI_STAND_IN).expect("stand-in");
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let agents = server.agents().with_state_dir(Some(state.clone()));
    let work = server.dir.join("gemini-work");
    std::fs::create_dir_all(&work).expect("work");
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let config = LaunchConfig::new("gemini".parse().expect("agent"), &work).env("PATH", &path);
    let seen = |name: &str| {
        wait_for(name, Duration::from_secs(20), || {
            std::fs::read_to_string(work.join(name)).ok()
        })
    };
    let dir = state.join("run").join("doeff-gem");
    let root = nix::unistd::Uid::effective().is_root();

    let mut session = agents
        .launch_session(
            "gem",
            &config.clone().ready_timeout(Duration::from_secs(10)),
        )
        .expect("launch");
    let given = seen("seen_path");
    if root {
        assert_eq!(given, dir.join("settings.json").display().to_string());
        let mode = std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let settings: serde_json::Value =
            serde_json::from_str(&seen("seen_settings")).expect("JSON");
        let command = settings["hooks"]["AfterAgent"][0]["hooks"][0]["command"]
            .as_str()
            .expect("an AfterAgent command");
        assert!(
            command.ends_with("'hook' 'AfterAgent' '--field' 'prompt_response'"),
            "{command}"
        );
        for event in [
            "SessionStart",
            "BeforeAgent",
            "BeforeTool",
            "AfterTool",
            "Notification",
            "SessionEnd",
        ] {
            assert!(settings["hooks"][event].is_array(), "{event}: {settings}");
        }
        assert!(server.hook_option(&session).starts_with("0|armed"));
    } else {
        assert_eq!(
            given, "none",
            "gemini skips a system-defaults file root does not own"
        );
        assert!(!dir.exists());
        assert_eq!(
            server.hook_option(&session),
            "",
            "no hooks passed: not armed"
        );
    }
    agents.stop_session(&mut session).expect("stop");
    assert!(!dir.exists(), "stop removes it");

    std::fs::remove_file(work.join("seen_path")).expect("rm");
    let mut plain = agents
        .launch_session(
            "gem",
            &config
                .clone()
                .hooks(false)
                .ready_timeout(Duration::from_secs(10)),
        )
        .expect("launch");
    assert_eq!(seen("seen_path"), "none", "--no-hooks passes nothing");
    assert!(!dir.exists());
    agents.stop_session(&mut plain).expect("stop");
    let _ = std::fs::remove_dir_all(&state);
}

/// An event mapped to "screen" hands the decision back to the screen: a
/// failed turn whose start the watcher missed is not judged by the report
/// of the turn before (Gemini's AfterAgent after an API error).
const HANDING_ADAPTER: &str = r#"
return agents.adapter {
  name = "handy",
  signals = { hooks = {
    Begin = "running",
    Done = { detail = "reply", ["*"] = "blocked/idle_prompt", none = "screen" },
  } },
  launch = function(cfg)
    return { "bash", cfg.work_dir .. "/handy.sh", cfg.hooks.command.Begin, cfg.hooks.command.Done }
  end,
}
"#;

const HANDING_AGENT: &str = r#"
begin="$1"; done="$2"
echo "handy up"
while IFS= read -r line; do
  case "$line" in
    ok) echo '{"reply":"fine"}' | sh -c "$done"; echo "all done";;
    fail) echo '{}' | sh -c "$begin"; echo "API Error: 401 Unauthorized"
          echo '{"reply":"none"}' | sh -c "$done";;
  esac
done
"#;

#[test]
fn an_event_mapped_to_screen_lets_the_screen_decide() {
    let server = TestServer::new();
    let registry =
        AdapterRegistry::builtin_with_exe(bin().to_string_lossy().into_owned()).expect("builtins");
    registry
        .load_source("handy.lua", HANDING_ADAPTER)
        .expect("the adapter loads");
    let agents = Agents::new(server.tmux.clone(), Arc::new(registry));
    let work = server.dir.join("work");
    std::fs::create_dir_all(&work).expect("work");
    std::fs::write(work.join("handy.sh"), HANDING_AGENT).expect("agent");
    let config = LaunchConfig::new("handy".parse().expect("agent"), &work);
    let mut session = agents
        .launch_session(
            "handy",
            &config.clone().ready_timeout(Duration::from_secs(10)),
        )
        .expect("launch");
    server.type_line(&session, "ok");
    let o = until(&agents, &mut session, SessionStatus::Blocked);
    assert_eq!(o.agent.source.as_str(), "hook");
    // At once, unobserved in between: Begin, the error, Done(none).
    server.type_line(&session, "fail");
    wait_for("Done(none)", Duration::from_secs(20), || {
        server
            .hook_option(&session)
            .contains("|Done|none|")
            .then_some(())
    });
    let o = until(&agents, &mut session, SessionStatus::Failed);
    assert_eq!(o.reason, "auth_failed");
    assert_eq!(o.agent.source.as_str(), "screen", "{o:?}");
    agents.stop_session(&mut session).expect("stop");
}
