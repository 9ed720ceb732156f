//! The REPL on a real terminal: run inside a tmux pane of a private server,
//! driven with send-keys and read with capture-pane — completion of
//! `agents.` names, multi-line chunks, and a followed session's status
//! changes printed above the prompt.

mod support;

use std::time::Duration;

use doeff_agents::tmux::NewSession;
use support::{TestServer, wait_for};

const PATIENCE: Duration = Duration::from_secs(30);

/// Types `text` key by key, as a person would (rustyline repaints a burst
/// of typeahead lazily, so a whole line sent at once shows up late).
fn type_keys(tmux: &doeff_agents::Tmux, pane: &str, text: &str) {
    for key in text.chars() {
        tmux.send_keys(pane, &[&key.to_string()], true)
            .expect("type");
    }
}

/// Starts `doeff-agents repl` in a 120x40 pane of `server` and waits for
/// its prompt; returns the pane.
fn start_repl(server: &TestServer) -> String {
    let argv = vec![
        support::bin().to_string_lossy().into_owned(),
        "-L".to_owned(),
        server.socket.clone(),
        "repl".to_owned(),
    ];
    let env = vec![
        (
            "DOEFF_AGENTS_EXE".to_owned(),
            support::bin().to_string_lossy().into_owned(),
        ),
        ("DOEFF_AGENTS_SHELL_PATH".to_owned(), "0".to_owned()),
        (
            "XDG_STATE_HOME".to_owned(),
            server.path("state").to_string_lossy().into_owned(),
        ),
    ];
    let pane = server
        .tmux
        .new_session(&NewSession {
            name: "repl",
            work_dir: &server.dir,
            argv: &argv,
            env: &env,
            options: &[],
            pane_options: &[],
            width: 120,
            height: 40,
            remain_on_exit: true,
        })
        .expect("repl pane");
    screen_showing(&server.tmux, &pane, "the prompt", "lua>");
    pane
}

/// Waits until the editor is back at an empty `lua>` prompt: keys typed
/// before it starts reading are lost.
fn at_prompt(tmux: &doeff_agents::Tmux, pane: &str, what: &str) {
    prompt_after(tmux, pane, what, None, "lua>");
}

/// Waits until the last line of the screen is `prompt` alone and, given
/// `typed`, below the line `typed` (so it is the prompt after that line, not
/// the one it was typed at before the editor showed the keys).
fn prompt_after(
    tmux: &doeff_agents::Tmux,
    pane: &str,
    what: &str,
    typed: Option<&str>,
    prompt: &str,
) {
    wait_for(what, PATIENCE, || {
        let screen = tmux.capture_pane(pane, 0).unwrap_or_default();
        let lines: Vec<&str> = screen.trim_end().lines().map(str::trim_end).collect();
        let last = lines.len().checked_sub(1)?;
        let below_typed = typed.is_none_or(|typed| {
            lines
                .iter()
                .rposition(|l| *l == typed)
                .is_some_and(|row| row < last)
        });
        (lines[last] == prompt && below_typed).then_some(())
    });
}

/// Waits until the editor has accepted `line`: the cursor is at the start
/// of the row below it. The editor writes that newline only after leaving
/// raw mode, so from then on Ctrl-C is a signal to the running statement
/// (before, it is a key queued for the next prompt).
fn line_accepted(server: &TestServer, pane: &str, line: &str) {
    wait_for("the line to be accepted", PATIENCE, || {
        let screen = server.tmux.capture_pane(pane, 0).unwrap_or_default();
        let lines: Vec<&str> = screen.lines().collect();
        let row = lines.iter().rposition(|l| l.trim_end() == line)?;
        let cursor = server.display(pane, "#{cursor_x} #{cursor_y}");
        (cursor == format!("0 {}", row + 1)).then_some(())
    });
}

/// The pane's screen once it shows `needle` (panics after [`PATIENCE`]).
fn screen_showing(tmux: &doeff_agents::Tmux, pane: &str, what: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let screen = tmux.capture_pane(pane, 0).unwrap_or_default();
        if screen.contains(needle) {
            return screen;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn repl_completes_continues_chunks_and_prints_status_changes_above_the_prompt() {
    let server = TestServer::new();
    let tmux = &server.tmux;
    let pane = start_repl(&server);
    let screen = || tmux.capture_pane(&pane, 0).unwrap_or_default();
    let wait_screen = |what: &str, needle: &str| screen_showing(tmux, &pane, what, needle);

    // Completion: "agents.sess" + Tab becomes "agents.session".
    type_keys(tmux, &pane, "agents.sess");
    tmux.send_keys(&pane, &["Tab"], false).expect("tab");
    wait_screen("the completion", "lua> agents.session");
    tmux.send_keys(&pane, &["C-u"], false).expect("clear line");
    at_prompt(tmux, &pane, "the cleared line");

    // A multi-line chunk; each line typed once its prompt is there.
    for (prompt, line, next) in [
        ("lua>", "function twice(x)", "...>"),
        ("...>", "return x * 2", "...>"),
        ("...>", "end", "lua>"),
    ] {
        type_keys(tmux, &pane, line);
        tmux.send_keys(&pane, &["Enter"], false).expect("enter");
        let typed = format!("{prompt} {line}");
        prompt_after(tmux, &pane, "the chunk's next prompt", Some(&typed), next);
    }
    wait_screen("the continuation prompt", "...>");
    type_keys(tmux, &pane, "twice(21)");
    tmux.send_keys(&pane, &["Enter"], false).expect("enter");
    wait_screen("the result", "\n42");

    // A followed session's changes print above the prompt while a line is being typed.
    let launch = "s = agents.launch('bg', {agent='demo', prompt='go', env={DOEFF_DEMO_WORK_MS='300'}}); agents.follow(s, 0.1)";
    type_keys(tmux, &pane, launch);
    tmux.send_keys(&pane, &["Enter"], false).expect("enter");
    // Type only once the editor is back (keys typed before it starts are lost).
    let typed = format!("lua> {launch}");
    prompt_after(tmux, &pane, "the next prompt", Some(&typed), "lua>");
    type_keys(tmux, &pane, "x = 'half typed");
    let shown = wait_for("a status change above the typed line", PATIENCE, || {
        let s = screen();
        let last = s
            .trim_end()
            .lines()
            .last()
            .unwrap_or_default()
            .trim_end()
            .to_owned();
        (s.contains("[doeff-bg] running -> blocked (permission_prompt)")
            && last == "lua> x = 'half typed")
            .then_some(s)
    });
    let message_at = shown
        .find("[doeff-bg] running -> blocked")
        .expect("message");
    let typed_at = shown.rfind("lua> x = 'half typed").expect("typed line");
    assert!(
        message_at < typed_at,
        "the message is printed above the prompt:\n{shown}"
    );
}

#[test]
fn ctrl_c_interrupts_the_statement_load_and_reload_run_scripts_and_history_is_kept_per_line() {
    let server = TestServer::new();
    let tmux = &server.tmux;
    let script = server.path("counter.lua");
    std::fs::write(
        &script,
        "agents.state.n = (agents.state.n or 0) + 1\nprint('loaded ' .. agents.state.n)\nagents.every(0.2, function() print('tick ' .. agents.state.n) end)\n",
    )
    .expect("script");
    let pane = start_repl(&server);
    let wait_screen = |what: &str, needle: &str| screen_showing(tmux, &pane, what, needle);
    let enter = || tmux.send_keys(&pane, &["Enter"], false).expect("enter");
    let ctrl_c = || tmux.send_keys(&pane, &["C-c"], false).expect("C-c");

    type_keys(tmux, &pane, "agents.sleep(120)");
    enter();
    // The statement runs (its line accepted, no new prompt yet), then Ctrl-C ends it.
    line_accepted(&server, &pane, "lua> agents.sleep(120)");
    ctrl_c();
    wait_screen("the interrupted sleep", "error: interrupted");
    at_prompt(tmux, &pane, "the prompt after the interrupt");
    type_keys(tmux, &pane, "print('still ' .. 'here')");
    enter();
    wait_screen("the REPL still running", "still here");

    // History is on disk already, while the REPL runs.
    let history = server.path("state/doeff-agents/history");
    let saved = wait_for("the history file", PATIENCE, || {
        let text = std::fs::read_to_string(&history).unwrap_or_default();
        text.contains("print('still ' .. 'here')").then_some(text)
    });
    assert!(saved.contains("agents.sleep(120)"), "{saved}");

    at_prompt(tmux, &pane, "the prompt before .load");
    type_keys(tmux, &pane, &format!(".load {}", script.display()));
    enter();
    wait_screen("the loaded script", "loaded 1");
    at_prompt(tmux, &pane, "the prompt before .reload");
    type_keys(tmux, &pane, ".reload");
    enter();
    wait_screen("the reloaded script, its state kept", "loaded 2");
    at_prompt(tmux, &pane, "the prompt before supervise");
    type_keys(tmux, &pane, "agents.supervise()");
    enter();
    wait_screen("its timer under agents.supervise", "tick 2");
    ctrl_c();
    at_prompt(tmux, &pane, "the prompt after supervise");
    type_keys(tmux, &pane, "print('back at ' .. 'the prompt')");
    enter();
    wait_screen("the prompt after supervise", "back at the prompt");
}
