//! Codex's per-run signal, end to end without the real CLI: the shipped
//! adapter passes `-c notify=[...]` (the one per-run channel Codex 0.171
//! runs without asking the user to trust hooks); a stand-in `codex` runs
//! that argv with Codex's JSON as its last argument, as Codex does at the
//! end of a turn. A finished turn is reported `blocked/idle_prompt` by the
//! hook; Codex's own title side turn (during the first turn) carries no
//! status; `--no-hooks` passes no `notify`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use doeff_agents::{Agents, LaunchConfig, SessionStatus};
use support::{TestServer, bin, wait_for};

/// Writes the `notify` value it was given to `seen_notify` ("none" without
/// one), draws a Codex-like composer, and for each line typed runs the
/// notify argv with a turn's JSON: `title` Codex's title side turn, `end`
/// a finished turn of the user's.
const CODEX_STAND_IN: &str = r#"
import json, subprocess, sys
args = sys.argv[1:]
notify = None
for i, a in enumerate(args):
    if a == "-c" and i + 1 < len(args) and args[i + 1].startswith("notify="):
        notify = json.loads(args[i + 1][len("notify="):])
open("seen_notify", "w").write(json.dumps(notify) if notify else "none")
print(">_ OpenAI Codex (v0.171.0)\n\n› Ask Codex to do anything\n\n  gpt-5.1-codex default · /work", flush=True)
first = {
    "title": "Generate a concise, single-line task title of at most 36 characters.\n\nUser prompt:\nhi",
    "end": "hi",
}
for line in sys.stdin:
    word = line.strip()
    if notify and word in first:
        payload = {"type": "agent-turn-complete", "thread-id": "t", "turn-id": "u", "cwd": ".",
                   "client": "codex-tui", "input-messages": [first[word]],
                   "last-assistant-message": "Mock"}
        subprocess.run(notify + [json.dumps(payload)])
        open("ran_" + word, "w").write("1")
"#;

/// A `codex` on `PATH` in `dir/bin` (the python running this machine's
/// `python3`, by absolute path: the pane gets only this PATH).
fn stand_in(dir: &std::path::Path) -> String {
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3");
    let python = String::from_utf8_lossy(&python.stdout).trim().to_owned();
    assert!(!python.is_empty(), "python3 is needed");
    let bin_dir = dir.join("bin");
    std::fs::create_dir_all(&bin_dir).expect("bin");
    let codex = bin_dir.join("codex");
    std::fs::write(&codex, format!("#!{python}\n{CODEX_STAND_IN}")).expect("stand-in");
    std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    format!("{}:/usr/bin:/bin", bin_dir.display())
}

#[test]
fn codex_reports_the_end_of_a_turn_through_notify_and_its_title_turn_decides_nothing() {
    let server = TestServer::new();
    let agents: Agents = server.agents();
    let work = server.dir.join("codex-work");
    std::fs::create_dir_all(&work).expect("work");
    let path = stand_in(&server.dir);
    // The user's own notify program, which ours runs after recording.
    let codex_home = server.dir.join("codex-home");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    let users_notify = codex_home.join("users-notify.sh");
    std::fs::write(
        &users_notify,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" >> \"$(dirname \"$0\")/users-notify.log\"\n",
    )
    .expect("user's notify");
    std::fs::set_permissions(&users_notify, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(
        codex_home.join("config.toml"),
        format!("notify = [\"{}\", \"from-user\"]\n", users_notify.display()),
    )
    .expect("config.toml");
    let config = LaunchConfig::new("codex".parse().expect("agent"), &work)
        .env("PATH", &path)
        .env("CODEX_HOME", codex_home.to_string_lossy());
    let seen = |name: &str| {
        wait_for(name, Duration::from_secs(20), || {
            std::fs::read_to_string(work.join(name)).ok()
        })
    };

    let mut session = agents
        .launch_session("cx", &config.clone().ready_timeout(Duration::from_secs(20)))
        .expect("launch");
    let notify: Vec<String> = serde_json::from_str(&seen("seen_notify")).expect("a notify argv");
    assert_eq!(
        notify,
        [
            bin().to_string_lossy().as_ref(),
            "hook",
            "TurnEnd",
            "--field",
            "type",
            "--side",
            "input-messages=Generate a concise, single-line task title",
            "--forward-notify",
            "codex",
        ],
        "the notify argv"
    );
    assert!(server.hook_option(&session).starts_with("0|armed"));

    // The title side turn: recorded (the channel lives), no status.
    server.type_line(&session, "title");
    seen("ran_title");
    wait_for("the title's event", Duration::from_secs(20), || {
        server
            .hook_option(&session)
            .starts_with("1|TurnEnd|side|")
            .then_some(())
    });
    let o = agents.observe(&mut session).expect("observe");
    assert_ne!(o.agent.source.as_str(), "hook", "{o:?}");

    // A turn of the user's: the hook decides.
    server.type_line(&session, "end");
    seen("ran_end");
    let o = wait_for("the hook's verdict", Duration::from_secs(20), || {
        let o = agents.observe(&mut session).expect("observe");
        (o.agent.source.as_str() == "hook").then_some(o)
    });
    assert_eq!(
        (o.status, o.reason.as_str()),
        (SessionStatus::Blocked, "idle_prompt")
    );
    assert!(
        server
            .hook_option(&session)
            .starts_with("2|TurnEnd|agent-turn-complete|"),
        "{}",
        server.hook_option(&session)
    );
    // The user's own notify ran too, with its arguments and Codex's JSON.
    let log = wait_for("the user's notify", Duration::from_secs(20), || {
        let log = std::fs::read_to_string(codex_home.join("users-notify.log")).ok()?;
        (log.matches("from-user").count() == 2).then_some(log)
    });
    assert!(log.contains("\"agent-turn-complete\""), "{log}");
    agents.stop_session(&mut session).expect("stop");

    std::fs::remove_file(work.join("seen_notify")).expect("rm");
    let mut plain = agents
        .launch_session(
            "cx",
            &config
                .clone()
                .hooks(false)
                .ready_timeout(Duration::from_secs(20)),
        )
        .expect("launch");
    assert_eq!(seen("seen_notify"), "none", "--no-hooks passes no notify");
    agents.stop_session(&mut plain).expect("stop");
}
