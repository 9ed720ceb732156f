//! Robustness of the screen model: every saved screen of
//! `tests/screens/EXPECTED.tsv`, perturbed the way real life does, keeps its
//! status — hard re-flow to 80 columns, a 24-row re-draw (the bottom kept),
//! each shell-prompt family above the agent (for exit screens: the prompt
//! swapped), two and four notice rows under the footer, one more and one
//! fewer dialog option, other version strings in banners. The same table
//! runs through `explain --screen` (the built binary) on the `.ansi` forms.
//! `classification_micro_bench` (ignored) prints µs per screen per agent:
//! `cargo test --release --test screen_perturbations -- --ignored --nocapture`.

mod support;

use std::path::PathBuf;
use std::time::Instant;

use doeff_agents::monitor::{Process, Screen, is_choice};
use doeff_agents::{AdapterRegistry, SessionStatus};

use support::{Case, agent_of, cases, screens_dir};

/// Prompt families as a shell prints them (user, host and folder made up).
const PROMPTS: &[&str] = &[
    "bash-5.2$",
    "me@box:~/ws$",
    "[me@box ws]$",
    "(venv) me@box:~/ws$",
    "me@box:~/ws (main)$",
    "me@box ws %",
    "➜  ws git:(main) ✗",
    "~/ws on  main ❯",
    "me@box ~/ws>",
    "$",
];

const NOTICES: &[&str] = &[
    "  ⚠ Auto-update failed · Try claude doctor or npm i -g @anthropic-ai/claude-code",
    "  1 MCP server failed · /mcp for info",
    "  ⏵⏵ accept edits on (shift+tab to cycle)",
    "  Tip: Use /memory to edit your memory file",
];

fn lines(text: &str) -> Vec<String> {
    Screen::from_text(text).lines
}

/// Hard re-flow: every row longer than 80 characters is cut into rows of 80.
fn reflow80(rows: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for row in rows {
        let chars: Vec<char> = row.chars().collect();
        if chars.is_empty() {
            out.push(String::new());
        }
        for chunk in chars.chunks(80) {
            out.push(chunk.iter().collect());
        }
    }
    out
}

/// A 24-row re-draw: runs of blank rows shrink to one (the CLI draws its
/// rows again, without the gap a taller pane left), the bottom 24 rows stay.
fn rows24(rows: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for row in rows {
        if row.trim().is_empty() && out.last().is_some_and(|l| l.trim().is_empty()) {
            continue;
        }
        out.push(row.clone());
    }
    let skip = out.len().saturating_sub(24);
    out.split_off(skip)
}

/// The row of the shell prompt an exit screen ends with: the lowest row
/// starting with the captured shell's prompt, else the last row.
fn exit_prompt_row(rows: &[String]) -> usize {
    rows.iter()
        .rposition(|r| r.starts_with("bash-5.2$"))
        .unwrap_or(rows.len().saturating_sub(1))
}

/// Notice rows under the footer (for an exit screen: above its prompt).
fn notices(rows: &[String], n: usize, exited: bool) -> Vec<String> {
    let mut out = rows.to_vec();
    let at = if exited {
        exit_prompt_row(rows)
    } else {
        rows.len()
    };
    for (i, notice) in NOTICES[..n].iter().enumerate() {
        out.insert(at + i, (*notice).to_owned());
    }
    out
}

/// A prompt family: above the agent (the command that started it), or for
/// an exit screen in place of the captured `bash-5.2$` prompt.
fn with_prompt(rows: &[String], prompt: &str, exited: bool) -> Vec<String> {
    let mut out = rows.to_vec();
    if exited {
        if let Some(i) = rows.iter().rposition(|r| r.starts_with("bash-5.2$")) {
            out[i] = out[i].replacen("bash-5.2$", prompt, 1);
        }
    } else {
        out.insert(0, format!("{prompt} agent --start"));
    }
    out
}

/// The lowest run of dialog choices: (first row, last row).
fn choice_run(rows: &[String]) -> Option<(usize, usize)> {
    let last = rows.iter().rposition(|r| is_choice(r))?;
    let mut first = last;
    for i in (0..last).rev() {
        if is_choice(&rows[i]) {
            first = i;
        } else if !rows[i].trim().is_empty() && i + 3 < first {
            break;
        }
    }
    Some((first, last))
}

/// One more option after the last (same shape, next number).
fn more_options(rows: &[String]) -> Option<Vec<String>> {
    let (_, last) = choice_run(rows)?;
    let row = &rows[last];
    let digit = row.find(|c: char| c.is_ascii_digit())?;
    let number: u32 = row[digit..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    let indent: String = row[..digit]
        .chars()
        .map(|c| if matches!(c, '│' | '┃') { c } else { ' ' })
        .collect();
    let mut out = rows.to_vec();
    out.insert(last + 1, format!("{indent}{}. Another option", number + 1));
    Some(out)
}

/// One option fewer (the last of three or more).
fn fewer_options(rows: &[String]) -> Option<Vec<String>> {
    let (first, last) = choice_run(rows)?;
    let count = rows[first..=last].iter().filter(|r| is_choice(r)).count();
    (count >= 3).then(|| {
        let mut out = rows.to_vec();
        out.remove(last);
        out
    })
}

/// Other version strings in the banner rows.
fn other_versions(rows: &[String]) -> Vec<String> {
    let re = regex::Regex::new(r"v[0-9]+\.[0-9]+\.[0-9]+").expect("valid");
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            if i < 8 {
                re.replace_all(r, "v9.10.11").into_owned()
            } else {
                r.clone()
            }
        })
        .collect()
}

/// Every perturbation of one screen, named.
fn perturbations(rows: &[String], exited: bool) -> Vec<(String, Vec<String>)> {
    let mut all = vec![
        ("reflow80".to_owned(), reflow80(rows)),
        ("versions".to_owned(), other_versions(rows)),
        ("notice2".to_owned(), notices(rows, 2, exited)),
        ("notice4".to_owned(), notices(rows, 4, exited)),
    ];
    if !exited {
        // Exit screens keep their prompt at the bottom; a 24-row cut of
        // them keeps the same bottom anyway.
        all.push(("rows24".to_owned(), rows24(rows)));
    }
    for prompt in PROMPTS {
        all.push((
            format!("prompt {prompt}"),
            with_prompt(rows, prompt, exited),
        ));
    }
    if let Some(more) = more_options(rows) {
        all.push(("one more option".to_owned(), more));
    }
    if let Some(fewer) = fewer_options(rows) {
        all.push(("one fewer option".to_owned(), fewer));
    }
    all
}

fn classify(registry: &AdapterRegistry, agent: &str, rows: &[String]) -> SessionStatus {
    let screen = Screen::from_text(&rows.join("\n"));
    registry
        .get(agent)
        .expect("adapter")
        .explain(&screen, SessionStatus::Running, false, &Process::Unknown)
        .status
}

#[test]
fn perturbed_saved_screens_keep_their_status() {
    let registry = AdapterRegistry::builtin().expect("adapters");
    let mut wrong = Vec::new();
    let mut total = 0;
    for case in cases() {
        let text = std::fs::read_to_string(screens_dir().join(&case.file)).expect("screen");
        let rows = lines(&text);
        let exited = case.status == "exited";
        for (name, perturbed) in perturbations(&rows, exited) {
            total += 1;
            let got = classify(&registry, agent_of(&case.file), &perturbed);
            if got.as_str() != case.status {
                wrong.push(format!("{} [{name}]: {} -> {got}", case.file, case.status));
            }
        }
    }
    assert!(total > 1000, "{total} perturbed screens");
    assert!(
        wrong.is_empty(),
        "{} of {total} perturbed screens changed status:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_perturbations_change_the_screens() {
    let rows = lines("  >_ OpenAI Codex (v0.171.0)\n› hi\n› 1. Yes\n  2. Maybe\n  3. No\n  footer");
    assert!(other_versions(&rows)[0].contains("v9.10.11"));
    assert_eq!(more_options(&rows).expect("more")[5], "  4. Another option");
    assert!(
        !fewer_options(&rows)
            .expect("fewer")
            .contains(&"  3. No".to_owned())
    );
    assert_eq!(reflow80(&["x".repeat(170)]).len(), 3);
    assert_eq!(rows24(&vec!["a".to_owned(); 30]).len(), 24);
    let exit = lines("frame\nbash-5.2$ ─────\nstale footer");
    assert_eq!(with_prompt(&exit, "$", true)[1], "$ ─────");
    assert_eq!(notices(&exit, 2, true)[1], NOTICES[0]);
}

/// The `.ansi` forms (escape sequences kept) through the built binary:
/// plain, and with notice rows and other versions.
#[test]
fn explain_screen_on_the_ansi_forms_agrees_with_the_table() {
    let server = support::TestServer::new();
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| screens_dir().join(c.file.replace(".txt", ".ansi")).exists())
        .collect();
    assert!(!cases.is_empty());
    let dir = tempdir();
    let (left, right) = cases.split_at(cases.len() / 2);
    let wrong: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = [left, right]
            .into_iter()
            .enumerate()
            .map(|(w, half)| {
                let (server, dir) = (&server, &dir);
                scope.spawn(move || {
                    let mut wrong = Vec::new();
                    for case in half {
                        let ansi = screens_dir().join(case.file.replace(".txt", ".ansi"));
                        let raw = std::fs::read_to_string(&ansi).expect("ansi");
                        let mut texts = vec![("plain", raw.clone())];
                        if case.status != "exited" {
                            let mut varied = other_versions(&[raw]).concat();
                            varied.push('\n');
                            varied.push_str(&NOTICES[..2].join("\n"));
                            texts.push(("notices+versions", varied));
                        }
                        for (name, text) in texts {
                            let path = dir.join(format!("w{w}.ansi"));
                            std::fs::write(&path, text).expect("write");
                            let out = server.cli(&[
                                "explain",
                                "--agent",
                                agent_of(&case.file),
                                "--screen",
                                &path.to_string_lossy(),
                                "--json",
                            ]);
                            let json: serde_json::Value =
                                serde_json::from_slice(&out.stdout).unwrap_or_default();
                            if json["status"] != case.status.as_str() {
                                wrong.push(format!(
                                    "{} [{name}]: {} -> {}",
                                    ansi.display(),
                                    case.status,
                                    json["status"]
                                ));
                            }
                        }
                    }
                    wrong
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("doeff-perturb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Steady-state µs per classification of each agent's saved screens.
#[test]
#[ignore = "a benchmark: run with --release -- --ignored --nocapture"]
fn classification_micro_bench() {
    let registry = AdapterRegistry::builtin().expect("adapters");
    for agent in ["claude", "codex", "gemini"] {
        let screens: Vec<Screen> = cases()
            .iter()
            .filter(|c| agent_of(&c.file) == agent)
            .map(|c| {
                Screen::from_text(
                    &std::fs::read_to_string(screens_dir().join(&c.file)).expect("screen"),
                )
            })
            .collect();
        let adapter = registry.get(agent).expect("adapter");
        let run = |rounds: usize| {
            for _ in 0..rounds {
                for screen in &screens {
                    std::hint::black_box(adapter.explain(
                        screen,
                        SessionStatus::Running,
                        false,
                        &Process::Unknown,
                    ));
                }
            }
        };
        run(300);
        let rounds = 400;
        let started = Instant::now();
        run(rounds);
        let us = started.elapsed().as_secs_f64() * 1e6 / (rounds * screens.len()) as f64;
        println!(
            "{agent}: {us:.2} µs per screen (mean over {} saved screens)",
            screens.len()
        );
    }
}
