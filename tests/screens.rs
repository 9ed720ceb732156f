//! Table test over saved screens of the real agent CLIs
//! (`tests/screens/<agent>-<version>-<state>.txt`, expectations in
//! `tests/screens/EXPECTED.tsv`). Each screen is classified as `explain
//! --screen` does (unchanged since the previous observation, previous status
//! `running`), through the library and through the CLI.

mod support;

use std::path::PathBuf;

use doeff_agents::monitor::{Process, Screen};
use doeff_agents::{AdapterRegistry, SessionStatus};

struct Case {
    file: String,
    status: String,
    reason: String,
}

fn screens_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("screens")
}

fn cases() -> Vec<Case> {
    let table = std::fs::read_to_string(screens_dir().join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    table
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert!(fields.len() >= 3, "bad row: {line}");
            Case {
                file: fields[0].to_owned(),
                status: fields[1].to_owned(),
                reason: fields[2].to_owned(),
            }
        })
        .collect()
}

fn agent_of(file: &str) -> &str {
    file.split('-').next().unwrap_or_default()
}

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
    for case in cases() {
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
