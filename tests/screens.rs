//! Table test over saved screens of the real agent CLIs
//! (`tests/screens/<agent>-<version>-<state>.txt`, expectations in
//! `tests/screens/EXPECTED.tsv`). Each screen is classified as `explain
//! --screen` does (unchanged since the previous observation, previous status
//! `running`), through the library and through the CLI.

mod support;

use doeff_agents::monitor::{Process, Screen};
use doeff_agents::{AdapterRegistry, SessionStatus};

use support::{Case, agent_of, cases, screens_dir};

#[test]
fn every_saved_screen_gets_its_expected_status_and_reason() {
    let registry = AdapterRegistry::builtin().expect("adapters");
    let cases = cases();
    assert!(cases.len() >= 20, "the table holds the saved screens");
    let mut wrong = Vec::new();
    for case in &cases {
        let raw = std::fs::read(screens_dir().join(&case.file)).expect("screen file");
        let adapter = registry.get(agent_of(&case.file)).expect("adapter");
        let verdict = adapter.explain(
            &Screen::from_bytes(&raw),
            SessionStatus::Running,
            false,
            &Process::Unknown,
        );
        if verdict.status.as_str() != case.status || verdict.reason != case.reason {
            wrong.push(format!(
                "{}: expected {}/{}, got {}/{} (rule {}, region {}, line {:?})",
                case.file,
                case.status,
                case.reason,
                verdict.status,
                verdict.reason,
                verdict.evidence.rule,
                verdict.evidence.region,
                verdict.evidence.line
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} screens misread:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn explain_screen_cli_agrees_with_the_table() {
    let server = support::TestServer::new();
    let cases = cases();
    // Two workers: one `explain` process per screen is most of this test.
    let (left, right) = cases.split_at(cases.len() / 2);
    std::thread::scope(|scope| {
        for half in [left, right] {
            let server = &server;
            scope.spawn(move || explain_each(server, half));
        }
    });
}

fn explain_each(server: &support::TestServer, cases: &[Case]) {
    for case in cases {
        let path = screens_dir().join(&case.file);
        let out = server.cli(&[
            "explain",
            "--agent",
            agent_of(&case.file),
            "--screen",
            &path.to_string_lossy(),
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}: {}",
            case.file,
            support::stderr(&out)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(json["status"], case.status.as_str(), "{}", case.file);
        assert_eq!(json["reason"], case.reason.as_str(), "{}", case.file);
        assert!(json["evidence"]["rule"].is_string(), "{}", case.file);
        assert!(json["evidence"]["line"].is_string(), "{}", case.file);
        assert!(json["evidence"]["region"].is_string(), "{}", case.file);
    }
}

/// Classifies `text` as a saved screen (or with `process`) by `agent`'s adapter.
fn status_of(agent: &str, text: &str, process: &Process) -> (String, String) {
    let registry = AdapterRegistry::builtin().expect("adapters");
    let verdict = registry.get(agent).expect("adapter").explain(
        &Screen::from_text(text),
        SessionStatus::Running,
        false,
        process,
    );
    (verdict.status.as_str().to_owned(), verdict.reason)
}

const CLAUDE_HEAD: &str = " ▐▛███▜▌   Claude Code v2.1.197\n▝▜█████▛▘  Opus 4.8 · API Usage Billing\n  ▘▘ ▝▝    /work/ws\n";
const RULE: &str = "────────────────────────────────────────────────────────────";

fn claude(body: &str, composer: &str, footer: &str) -> String {
    format!("{CLAUDE_HEAD}{body}\n{RULE}\n❯ {composer}\n{RULE}\n{footer}\n")
}

#[test]
fn completion_phrases_decide_only_where_the_cli_prints_them() {
    // A tool printed it (a README says so): the agent is idle, not done.
    let screen = claude(
        "❯ show the readme\n● Bash(cat README.md)\n  ⎿  Task completed successfully\n✻ Worked for 2s",
        "",
        "  ? for shortcuts",
    );
    let alive = Process::Alive {
        command: "claude".into(),
    };
    for process in [Process::Unknown, alive.clone()] {
        assert_ne!(status_of("claude", &screen, &process).0, "done");
    }
    // The demo agent prints it itself before exiting 0.
    let demo = "⏺ All done.\nTask completed successfully\n";
    assert_eq!(status_of("demo", demo, &alive).0, "done");
    assert_ne!(status_of("generic", demo, &alive).0, "done");
}

#[test]
fn what_the_user_types_in_the_composer_decides_nothing() {
    let screen = claude(
        "❯ hi\n● Hello!\n✻ Worked for 1s",
        "why did I hit the rate limit exceeded error? API Error: 401",
        "  ? for shortcuts",
    );
    assert_eq!(
        status_of("claude", &screen, &Process::Unknown),
        ("blocked".into(), "idle_prompt".into())
    );
}

#[test]
fn an_older_turns_error_does_not_decide_the_latest_turn() {
    let old = "❯ first\n● API Error: Request rejected (429) · rate limit\n✻ Worked for 1s\n❯ second\n● Done, here it is.\n✻ Worked for 3s";
    let idle = claude(old, "", "  ? for shortcuts");
    assert_eq!(status_of("claude", &idle, &Process::Unknown).0, "blocked");
    let latest = claude(
        "❯ first\n● fine\n❯ second\n● API Error: Request rejected (429) · rate limit\n✻ Worked for 1s",
        "",
        "  ? for shortcuts",
    );
    assert_eq!(
        status_of("claude", &latest, &Process::Unknown).0,
        "blocked_api"
    );
    // Busy with a later turn, whatever two notice rows sit under the footer.
    let busy = claude(
        &format!("{old}\n❯ third\n✶ Combobulating… (7s · ↓ 58 tokens)"),
        "",
        "  esc to interrupt · ← for agents\n  ⚠ Auto-update failed · Try claude doctor\n  1 MCP server failed · /mcp",
    );
    assert_eq!(status_of("claude", &busy, &Process::Unknown).0, "running");
}

#[test]
fn geminis_esc_to_cancel_is_busy_on_its_spinner_and_a_dialog_in_a_box() {
    let chrome = "────────────────────────────────────────\n Shift+Tab to accept edits\n >   Type your message or @path/to/file\n workspace (/directory)      sandbox      /model\n /work/ws                    no sandbox   Auto";
    let spinner = format!(
        " ▝▜▄     Gemini CLI v0.61.0\n > hi\n ⠹ Thinking... (esc to cancel, 4s)            ? for shortcuts\n{chrome}"
    );
    assert_eq!(
        status_of("gemini", &spinner, &Process::Unknown),
        ("running".into(), "busy".into())
    );
    // Its spinner while a hook runs (3 s at least, also after the turn) is not the agent busy.
    let hook = format!(
        " ▝▜▄     Gemini CLI v0.61.0\n > hi\n✦ Hello.\n ⠋ Executing Hook: doeff-agents (esc to cancel, 0s)     ? for shortcuts\n{chrome}"
    );
    assert_eq!(
        status_of("gemini", &hook, &Process::Unknown),
        ("blocked".into(), "idle_prompt".into())
    );
    let dialog = " ▝▜▄     Gemini CLI v0.61.0\n > hi\n╭──────────────────────╮\n│ Allow execution of [Shell]? │\n│ ● 1. Allow once       │\n│   2. No (esc to cancel) │\n╰──────────────────────╯";
    assert_eq!(
        status_of("gemini", dialog, &Process::Unknown),
        ("blocked".into(), "permission_prompt".into())
    );
}

#[test]
fn a_shell_prompt_counts_only_under_the_agents_last_frame() {
    // A prompt above the agent's UI (the command that started it) is not an exit.
    let started = format!(
        "[me@host ws]$ claude\n{}",
        claude("", "", "  ? for shortcuts")
    );
    assert_eq!(
        status_of("claude", &started, &Process::Unknown).0,
        "blocked"
    );
    // Starship's "❯" under the footer is; Claude's own "❯" composer is not.
    let exited = format!("{}❯\n", claude("", "/exit", "  ? for shortcuts"));
    assert_eq!(status_of("claude", &exited, &Process::Unknown).0, "exited");
    // A live session learns it from its process, never from a prompt-looking line.
    let alive = Process::Alive {
        command: "claude".into(),
    };
    assert_ne!(status_of("claude", &exited, &alive).0, "exited");
    for prompt in [
        "bash-5.2$",
        "[me@host ws]$",
        "(venv) me@host:~/ws$",
        "me@host:~/ws (main)$",
        "me@host ws %",
        "➜  ws git:(main) ✗",
        "~/ws on  main ❯",
        "me@host ~/ws>",
        "/w/s/ws>",
        "$",
        "#",
    ] {
        let screen = format!("{}{prompt}\n", claude("", "/exit", "  ? for shortcuts"));
        assert_eq!(
            status_of("claude", &screen, &Process::Unknown).0,
            "exited",
            "{prompt}"
        );
    }
    for not_a_prompt in ["Downloading... 100%", "Total cost: 12$", "100%"] {
        let screen = format!("{}{not_a_prompt}\n", claude("", "", "  ? for shortcuts"));
        assert_ne!(
            status_of("claude", &screen, &Process::Unknown).0,
            "exited",
            "{not_a_prompt}"
        );
    }
}

#[test]
fn a_fatal_start_up_error_followed_by_the_exit_is_failed() {
    // Codex 0.171 refusing a legacy profile table, back at the shell.
    let screen = "bash-5.2$ codex --no-daemon --profile foo\nError loading config.toml: --profile `foo` cannot be used while ~/.codex/config.toml contains legacy `[profiles.foo]` config\nbash-5.2$\n";
    assert_eq!(
        status_of("codex", screen, &Process::Unknown),
        ("failed".into(), "fatal_error".into())
    );
    // The same prompt under a normal exit is exited.
    let quit = "bash-5.2$ codex --no-daemon\nSession ID: 01a21332-4e60-7992-8208-34398eb06873\nbash-5.2$\n";
    assert_eq!(status_of("codex", quit, &Process::Unknown).0, "exited");
}

#[test]
fn evidence_names_the_region_and_a_hooks_line() {
    let registry = AdapterRegistry::builtin().expect("adapters");
    registry
        .load_source(
            "hooked.lua",
            r#"return agents.adapter {
  name = "hooked",
  launch = function(cfg) return { "x" } end,
  screen = { composer = "^>( |$)", turn_start = "^> " },
  patterns = { { status = "blocked", reason = "asks", match = "Proceed?", region = "turn" } },
  classify_when = { "BOOM" },
  classify = function(screen, ctx)
    for _, line in ipairs(ctx.lines) do
      if line:find("BOOM", 1, true) then return "failed", "exploded", line end
    end
  end,
}"#,
        )
        .expect("loads");
    let adapter = registry.get("hooked").expect("adapter");
    let explain = |text: &str| {
        adapter.explain(
            &Screen::from_text(text),
            SessionStatus::Running,
            false,
            &Process::Unknown,
        )
    };
    let hooked = explain("> go\n  BOOM went the tool\n> \n  footer");
    assert_eq!(hooked.status, SessionStatus::Failed);
    assert_eq!(hooked.evidence.rule, "hooked.classify");
    assert_eq!(hooked.evidence.region, "hook");
    assert_eq!(hooked.evidence.line, "BOOM went the tool");
    let ruled = explain("> go\n  Proceed? (y/n)\n> \n  footer");
    assert_eq!(ruled.status, SessionStatus::Blocked);
    assert_eq!(ruled.evidence.rule, "hooked.asks");
    assert_eq!(ruled.evidence.region, "turn");
    assert_eq!(ruled.evidence.line, "Proceed? (y/n)");
    // The same words in an older turn are not the latest turn's.
    let older = explain("> go\n  Proceed? (y/n)\n> yes\n  done\n> \n  footer");
    assert_ne!(older.reason, "asks");
}
