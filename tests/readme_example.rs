//! The README's Rust example, as written: it is `examples/readme.rs` (the
//! README block must equal the file), and it runs to `done` against the
//! demo agent on a private server, the example carrying the demo itself
//! (`run_demo_agent_if_asked`), never relaunching a program that cannot.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doeff_agents::{AdapterRegistry, AgentType, Agents, LaunchConfig};
use support::{TestServer, stderr, stdout};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn example_binary() -> PathBuf {
    let path = support::bin()
        .parent()
        .expect("target dir")
        .join("examples")
        .join("readme");
    if !path.exists() {
        // `cargo test --test readme_example` alone does not build examples.
        let status = Command::new(env!("CARGO"))
            .args(["build", "--all-features", "--example", "readme"])
            .current_dir(ROOT)
            .status()
            .expect("cargo build --example readme");
        assert!(status.success());
    }
    path
}

#[test]
fn the_readme_block_is_the_example() {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).expect("README");
    let start = readme
        .find("## From Rust\n\n```rust\n")
        .expect("a Rust block")
        + "## From Rust\n\n```rust\n".len();
    let end = start + readme[start..].find("```").expect("block end");
    let example = std::fs::read_to_string(format!("{ROOT}/examples/readme.rs")).expect("example");
    assert_eq!(
        &readme[start..end],
        example,
        "README and examples/readme.rs differ"
    );
}

#[test]
fn the_readme_example_runs_the_demo_to_done() {
    let server = TestServer::new();
    server.launch_waiting_demo("keeper"); // the server starts with -f /dev/null
    let mut child = Command::new(example_binary())
        .current_dir(&server.dir)
        .env("DOEFF_AGENTS_TMUX_SOCKET", &server.socket)
        .env("XDG_STATE_HOME", server.path("state"))
        .env_remove("DOEFF_AGENTS_EXE")
        .env_remove("DOEFF_AGENTS_BIN")
        .env_remove("TMUX")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the example");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the example did not finish");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    let printed = stdout(&out);
    assert!(out.status.success(), "{printed}\n{}", stderr(&out));
    assert!(printed.contains("blocked (permission_prompt)"), "{printed}");
    assert_eq!(
        printed.lines().last(),
        Some("done (exit_success)"),
        "{printed}"
    );
}

#[test]
fn without_a_doeff_agents_binary_the_demo_says_how_to_get_one() {
    let server = TestServer::new();
    let registry = AdapterRegistry::builtin_with_exe("").expect("adapters");
    let agents = Agents::new(server.tmux.clone(), Arc::new(registry));
    let config = LaunchConfig::new(AgentType::Custom("demo".into()), &server.dir);
    let err = agents
        .launch_session(
            "nodemo",
            &config.clone().ready_timeout(Duration::from_secs(5)),
        )
        .expect_err("no demo binary")
        .to_string();
    assert!(
        err.contains("needs the doeff-agents binary") && err.contains("DOEFF_AGENTS_BIN"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
