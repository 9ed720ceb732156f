//! The control-mode transport against real throwaway tmux servers
//! (`-L doeff-ctl-test-<pid>-<n>`): same results as the subprocess transport,
//! behaviour with no server, a server killed mid-use, and detaching on drop.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use doeff_agents::tmux::{
    CONTROL_SESSION, ControlMode, NewSession, Subprocess, Transport, is_no_server, is_not_found,
};
use doeff_agents::{Error, Tmux};
use support::{TestServer, wait_for};

const WAIT: Duration = Duration::from_secs(10);

fn test_server() -> TestServer {
    TestServer::with_prefix("doeff-ctl-test")
}

/// A control-mode `Tmux` plus its transport (to look at the connection).
fn control(server: &TestServer) -> (Tmux, Arc<ControlMode>) {
    let transport = Arc::new(ControlMode::new(server.server()));
    (Tmux::with_transport(transport.clone()), transport)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn new_session(tmux: &Tmux, name: &str, dir: &Path, argv: &[String]) -> String {
    let env = [(
        "DOEFF_X".to_owned(),
        "$HOME ~ ; #{pane_id} \"q\"".to_owned(),
    )];
    let options = [
        (
            "@doeff-agent".to_owned(),
            "demo; #{pane_id} $x ~".to_owned(),
        ),
        (
            "@doeff-work-dir".to_owned(),
            dir.to_string_lossy().into_owned(),
        ),
    ];
    tmux.new_session(&NewSession {
        name,
        work_dir: dir,
        argv,
        env: &env,
        options: &options,
        pane_options: &[],
        width: 100,
        height: 30,
        remain_on_exit: true,
    })
    .expect("new session")
}

/// A session whose pane writes everything it receives to `file`.
fn recorder(tmux: &Tmux, name: &str, dir: &Path, file: &Path) -> String {
    let script = format!(
        "stty -icanon -echo; exec cat > '{}'",
        file.to_string_lossy()
    );
    new_session(tmux, name, dir, &strings(&["sh", "-c", &script]))
}

fn wait_file(path: &Path, len: usize) -> String {
    wait_for("the recorded input", WAIT, || {
        let text = std::fs::read_to_string(path).ok()?;
        (text.len() >= len).then_some(text)
    })
}

fn tricky_text() -> String {
    let mut text = String::from(
        "quotes ' \" `x` $(echo hi) ${HOME} ; a;\n#{pane_id} #comment ~ ~/x \\ \\n \\\\ {a} %end 1 2 1\n\ttab é 漢字\n",
    );
    let mut n = 0;
    while text.len() < 20 * 1024 {
        text.push_str(&format!(
            "line {n:05} $(rm -rf x); '\"#{{session_name}}\" ~ \\ {{}} ;\n"
        ));
        n += 1;
    }
    text
}

#[test]
fn control_mode_gives_the_same_results_as_subprocess() {
    let server = test_server();
    let sub = server.tmux.clone();
    let dir = server.dir.clone();
    // A static screen with lines that look like protocol guards.
    let screen = "%begin 1 2 1\n%end 1 2 1\nplain é 漢字 \\ $HOME #{pane_id}\n%error 1 2 1";
    new_session(
        &sub,
        "static",
        &dir,
        &strings(&[
            "sh",
            "-c",
            &format!("printf '%s\\n' '{screen}'; exec sleep 600"),
        ]),
    );
    let (ctl, transport) = control(&server);
    assert!(transport.is_connected(), "control client connected");

    // Sessions created through each transport look the same to both.
    let file_sub = server.path("sub.txt");
    let file_ctl = server.path("ctl.txt");
    let pane_sub = recorder(&sub, "rec-sub", &dir, &file_sub);
    let pane_ctl = recorder(&ctl, "rec-ctl", &dir, &file_ctl);
    assert!(pane_ctl.starts_with('%'));
    let listed_sub = sub.list_sessions().expect("list");
    let listed_ctl = ctl.list_sessions().expect("list");
    assert_eq!(listed_sub, listed_ctl);
    assert_eq!(listed_ctl.len(), 3, "the hidden session is not listed");
    assert!(listed_ctl.iter().all(|s| s.name != CONTROL_SESSION));
    let rec = listed_ctl
        .iter()
        .find(|s| s.name == "rec-ctl")
        .expect("listed");
    assert_eq!(rec.agent.as_deref(), Some("demo; #{pane_id} $x ~"));
    // A recorder pane may turn from `sh` into `cat` between the two reads.
    wait_for("both transports to read the same pane states", WAIT, || {
        (sub.pane_states().expect("panes") == ctl.pane_states().expect("panes")).then_some(())
    });

    for tmux in [&sub, &ctl] {
        assert!(tmux.has_session("static").expect("has"));
        assert!(!tmux.has_session("stat").expect("has"), "exact names");
        assert!(!tmux.has_session("nope;").expect("has"));
    }

    // The environment arrived literally (no $ or ~ expansion).
    let env_session = |tmux: &Tmux, name: &str| {
        let file = server.path(&format!("{name}.env"));
        let script = format!("printf '%s' \"$DOEFF_X\" > '{}'", file.to_string_lossy());
        new_session(tmux, name, &dir, &strings(&["sh", "-c", &script]));
        wait_file(&file, 1)
    };
    assert_eq!(env_session(&sub, "env-sub"), "$HOME ~ ; #{pane_id} \"q\"");
    assert_eq!(env_session(&ctl, "env-ctl"), "$HOME ~ ; #{pane_id} \"q\"");

    // Captures of the same screen are byte-identical.
    let static_pane = sub.session_pane("static").expect("pane");
    wait_for("the static screen", WAIT, || {
        sub.capture_pane(&static_pane, 0)
            .ok()
            .filter(|t| t.contains("%error"))
    });
    let captured = ctl.capture_pane(&static_pane, 0).expect("capture");
    assert_eq!(
        captured,
        sub.capture_pane(&static_pane, 0).expect("capture")
    );
    assert!(captured.contains("%end 1 2 1\nplain é 漢字 \\ $HOME #{pane_id}\n"));
    assert_eq!(
        ctl.capture_pane(&static_pane, 100).expect("capture"),
        sub.capture_pane(&static_pane, 100).expect("capture")
    );

    // Literal keys and a 20 KB paste arrive intact through both.
    let text = tricky_text();
    let keys = "a; $(x) ~ \\ \"' #{pane_id} ;";
    for (tmux, pane, file) in [(&sub, &pane_sub, &file_sub), (&ctl, &pane_ctl, &file_ctl)] {
        tmux.send_keys(pane, &[keys], true).expect("send keys");
        tmux.send_keys(pane, &["Enter"], false).expect("send Enter");
        tmux.paste_text(pane, &text).expect("paste");
        let expected = format!("{keys}\n{text}");
        assert_eq!(wait_file(file, expected.len()), expected);
    }

    // Errors are the same values.
    let err_sub = sub.capture_pane("%9999", 0).expect_err("no such pane");
    let err_ctl = ctl.capture_pane("%9999", 0).expect_err("no such pane");
    assert_eq!(err_sub.to_string(), err_ctl.to_string());
    assert!(is_not_found(&err_ctl));
    let err_sub = sub.paste_text(&pane_sub, "").expect_err("empty paste");
    let err_ctl = ctl.paste_text(&pane_ctl, "").expect_err("empty paste");
    for err in [&err_sub, &err_ctl] {
        assert!(
            matches!(err, Error::Tmux { command, message, .. }
                if command == "load-buffer" && message.starts_with("no buffer doeff-paste-")),
            "{err}"
        );
    }
    assert!(transport.is_connected(), "errors do not drop the client");

    ctl.kill_session("rec-ctl").expect("kill");
    assert!(!sub.has_session("rec-ctl").expect("has"));
}

#[test]
fn no_server_behaves_like_subprocess_and_starts_none() {
    let server = test_server();
    let (ctl, transport) = control(&server);
    assert!(!transport.is_connected());
    let err = transport.connect().expect_err("nothing to connect to");
    assert!(is_no_server(&err), "{err}");
    assert!(!ctl.has_session("x").expect("has"));
    assert!(ctl.list_sessions().expect("list").is_empty());
    assert!(ctl.pane_states().expect("panes").is_empty());
    let err_ctl = ctl.capture_pane("%1", 0).expect_err("no server");
    let err_sub = server.tmux.capture_pane("%1", 0).expect_err("no server");
    assert_eq!(err_ctl.to_string(), err_sub.to_string());
    assert!(is_no_server(&err_ctl));
    // No call above started a server.
    let probe = Subprocess::new(server.server()).run(&[strings(&["list-sessions"])], None);
    assert!(probe.is_err_and(|e| is_no_server(&e)));
}

/// Both transports send independent commands in one go; each command
/// still gets its own result, a failing one does not fail the rest, and a
/// screen that prints something marker-like is returned intact.
#[test]
fn batched_commands_each_get_their_own_result() {
    let server = test_server();
    let dir = server.path("batch");
    std::fs::create_dir_all(&dir).expect("dir");
    let printer = strings(&[
        "sh",
        "-c",
        "echo __doeff_1_0_0_0__; echo one; exec sleep 60",
    ]);
    let first = new_session(&server.tmux, "a", &dir, &printer);
    let second = new_session(
        &server.tmux,
        "b",
        &dir,
        &strings(&["sh", "-c", "echo two; exec sleep 60"]),
    );
    wait_for("both screens", WAIT, || {
        let a = server.tmux.capture_pane(&first, 0).ok()?;
        let b = server.tmux.capture_pane(&second, 0).ok()?;
        (a.contains("one") && b.contains("two")).then_some(())
    });
    let capture = |pane: &str| strings(&["capture-pane", "-p", "-t", pane]);
    let commands = vec![
        capture(&first),
        capture("%999"),
        capture(&second),
        strings(&["display-message", "-p", "x;"]),
    ];
    let (_ctl, control_transport) = control(&server);
    let subprocess = Subprocess::new(server.server());
    let transports: [&dyn Transport; 2] = [&subprocess, control_transport.as_ref()];
    for transport in transports {
        let results = transport.run_each(&commands);
        assert_eq!(results.len(), 4, "{transport:?}");
        let text = |i: usize| match &results[i] {
            Ok(out) => String::from_utf8_lossy(out).into_owned(),
            Err(err) => panic!("command {i} failed: {err}"),
        };
        assert!(
            text(0).starts_with("__doeff_1_0_0_0__\none\n"),
            "{:?}",
            text(0)
        );
        assert!(
            results[1].as_ref().is_err_and(is_not_found),
            "{:?}",
            results[1]
        );
        assert!(text(2).starts_with("two\n"), "{:?}", text(2));
        assert_eq!(text(3), "x;\n");
    }
}

/// tmux refuses a whole chain (or control-mode line) when one command is
/// malformed, before running any: only that command is blamed.
#[test]
fn a_malformed_command_in_a_batch_is_the_only_one_blamed() {
    let server = test_server();
    let dir = server.path("malformed");
    std::fs::create_dir_all(&dir).expect("dir");
    new_session(&server.tmux, "m", &dir, &strings(&["sleep", "60"]));
    let commands = vec![
        strings(&["display-message", "-p", "first"]),
        strings(&["display-message", "-p", "second"]),
        strings(&["capture-pane", "-Q"]),
        strings(&["display-message", "-p", "last"]),
    ];
    let (_ctl, control_transport) = control(&server);
    let subprocess = Subprocess::new(server.server());
    let transports: [&dyn Transport; 2] = [&subprocess, control_transport.as_ref()];
    for transport in transports {
        let results = transport.run_each(&commands);
        let shown: Vec<String> = results
            .iter()
            .map(|r| match r {
                Ok(out) => String::from_utf8_lossy(out).trim().to_owned(),
                Err(err) => format!("error: {err}"),
            })
            .collect();
        assert_eq!(shown[0], "first", "{transport:?}: {shown:?}");
        assert_eq!(shown[1], "second", "{transport:?}: {shown:?}");
        assert!(shown[2].starts_with("error:"), "{transport:?}: {shown:?}");
        assert_eq!(shown[3], "last", "{transport:?}: {shown:?}");
    }
}

#[test]
fn batched_commands_without_a_server_all_fail_alike() {
    let server = test_server();
    let commands = vec![strings(&["capture-pane", "-p", "-t", "%1"]); 3];
    let results = Subprocess::new(server.server()).run_each(&commands);
    assert_eq!(results.len(), 3);
    assert!(
        results.iter().all(|r| r.as_ref().is_err_and(is_no_server)),
        "{results:?}"
    );
}

#[test]
fn killing_the_server_mid_use_falls_back_then_reconnects() {
    let server = test_server();
    let sub = server.tmux.clone();
    new_session(&sub, "one", &server.dir, &strings(&["sleep", "600"]));
    let (ctl, transport) = control(&server);
    assert!(transport.is_connected());
    let pane = ctl.session_pane("one").expect("pane");
    ctl.capture_pane(&pane, 0).expect("capture");

    sub.kill_server().expect("kill server");
    // The next calls fall back to subprocess and fail (or answer) cleanly.
    assert!(!ctl.has_session("one").expect("has"));
    let err = ctl.capture_pane(&pane, 0).expect_err("server gone");
    assert!(is_no_server(&err), "{err}");
    assert!(ctl.list_sessions().expect("list").is_empty());
    assert!(!transport.is_connected());

    // A new server: the transport reconnects lazily.
    new_session(&sub, "two", &server.dir, &strings(&["sleep", "600"]));
    wait_for("a reconnection", WAIT, || {
        let listed = ctl.list_sessions().ok()?;
        (transport.is_connected() && listed.len() == 1).then_some(())
    });
    assert!(ctl.has_session("two").expect("has"));
}

#[test]
fn the_client_outlives_the_last_agent_session_and_drop_detaches() {
    let server = test_server();
    let sub = server.tmux.clone();
    new_session(&sub, "only", &server.dir, &strings(&["sleep", "600"]));
    let (ctl, transport) = control(&server);
    let pid = transport.client_pid().expect("connected");
    let clients = || {
        sub.run(
            &[strings(&[
                "list-clients",
                "-F",
                "#{client_pid} #{session_name}",
            ])],
            None,
        )
        .map(|out| String::from_utf8_lossy(&out).into_owned())
    };
    assert_eq!(
        clients().expect("clients").trim(),
        format!("{pid} {CONTROL_SESSION}")
    );

    ctl.kill_session("only").expect("kill");
    assert!(ctl.list_sessions().expect("list").is_empty());
    assert!(!ctl.has_session("only").expect("has"));
    assert!(
        transport.is_connected(),
        "the hidden session keeps it attached"
    );

    drop(ctl);
    drop(transport);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "client exited and was reaped"
    );
    // With its only client gone, the hidden session went, and so did the server.
    wait_for("the server to exit", WAIT, || {
        clients().err().filter(is_no_server).map(drop)
    });
}

/// Hidden sessions left by a process killed before its client could leave
/// (they are not `destroy-unattached`, which crashes tmux 3.3a) are killed by
/// the next client to connect; live ones stay.
#[test]
fn stale_hidden_sessions_are_reaped_by_the_next_client() {
    let server = test_server();
    let sub = server.tmux.clone();
    new_session(&sub, "agent", &server.dir, &strings(&["sleep", "600"]));
    let mut gone = std::process::Command::new("true").spawn().expect("spawn");
    let dead_pid = gone.id();
    gone.wait().expect("reaped");
    let stale_event = format!("{CONTROL_SESSION}-{dead_pid}-0");
    let live_event = format!("{CONTROL_SESSION}-{}-77", std::process::id());
    for name in [stale_event.as_str(), live_event.as_str(), CONTROL_SESSION] {
        new_session(&sub, name, &server.dir, &strings(&["cat"]));
    }
    let raw_sessions = || {
        let out = sub
            .run(
                &[strings(&["list-sessions", "-F", "#{session_name}"])],
                None,
            )
            .expect("list");
        String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let events = ControlMode::with_events(server.server());
    assert!(events.is_connected());
    let names = raw_sessions();
    assert!(!names.contains(&stale_event), "{names:?}");
    assert!(
        !names.contains(&CONTROL_SESSION.to_owned()),
        "unattached shared one: {names:?}"
    );
    assert!(names.contains(&live_event), "{names:?}");
    assert!(
        names.contains(&events.session_name().to_owned()),
        "{names:?}"
    );
    // Leaving kills its own session; the agent's stays.
    let own = events.session_name().to_owned();
    drop(events);
    let names = raw_sessions();
    assert!(!names.contains(&own), "{names:?}");
    assert!(names.contains(&"agent".to_owned()), "{names:?}");
}

#[test]
fn kill_server_over_control_mode_succeeds() {
    let server = test_server();
    new_session(&server.tmux, "k", &server.dir, &strings(&["sleep", "600"]));
    let (ctl, transport) = control(&server);
    assert!(transport.is_connected());
    ctl.kill_server().expect("kill-server");
    assert!(!ctl.has_session("k").expect("has"));
    let probe = Subprocess::new(server.server()).run(&[strings(&["list-sessions"])], None);
    assert!(probe.is_err_and(|e| is_no_server(&e)));
}

#[test]
fn concurrent_callers_get_their_own_replies() {
    let server = test_server();
    for n in 0..4 {
        new_session(
            &server.tmux,
            &format!("c{n}"),
            &server.dir,
            &strings(&["sh", "-c", &format!("echo screen-{n}; exec sleep 600")]),
        );
    }
    let (ctl, _transport) = control(&server);
    let panes: Vec<String> = (0..4)
        .map(|n| ctl.session_pane(&format!("c{n}")).expect("pane"))
        .collect();
    for (n, pane) in panes.iter().enumerate() {
        wait_for("the screen", WAIT, || {
            ctl.capture_pane(pane, 0)
                .ok()
                .filter(|t| t.contains(&format!("screen-{n}")))
        });
    }
    std::thread::scope(|scope| {
        for (n, pane) in panes.iter().enumerate() {
            let ctl = ctl.clone();
            scope.spawn(move || {
                for _ in 0..50 {
                    let text = ctl.capture_pane(pane, 0).expect("capture");
                    assert!(text.contains(&format!("screen-{n}")), "{text}");
                    assert!(!ctl.has_session("missing").expect("has"));
                }
            });
        }
    });
}

fn median_micros(mut run: impl FnMut()) -> u128 {
    for _ in 0..20 {
        run();
    }
    let mut times: Vec<u128> = (0..300)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_micros()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

/// `cargo test --release --test control -- --ignored --nocapture bench`
#[test]
#[ignore = "micro-benchmark; run with --ignored --nocapture"]
fn bench_capture_pane_control_vs_subprocess() {
    let server = test_server();
    new_session(
        &server.tmux,
        "bench",
        &server.dir,
        &strings(&["sh", "-c", "seq 1 25; exec sleep 600"]),
    );
    let pane = server.tmux.session_pane("bench").expect("pane");
    let (ctl, transport) = control(&server);
    assert!(transport.is_connected());
    let sub = server.tmux.clone();
    let control_us = median_micros(|| {
        ctl.capture_pane(&pane, 0).expect("capture");
    });
    let subprocess_us = median_micros(|| {
        sub.capture_pane(&pane, 0).expect("capture");
    });
    let states_us = median_micros(|| {
        ctl.pane_states().expect("states");
    });
    println!(
        "capture-pane median: control {control_us} µs, subprocess {subprocess_us} µs; \
         pane_states over control {states_us} µs"
    );
}

/// Creating a session, and a control client's handshake, wait for the
/// server lock (held here by another thread, as another process would):
/// the two moments tmux 3.3a cannot take concurrently.
#[test]
fn session_changes_and_handshakes_wait_for_the_server_lock() {
    use doeff_agents::tmux::ServerLock;
    let server = test_server();
    new_session(
        &server.tmux,
        "first",
        &server.dir,
        &strings(&["sleep", "60"]),
    );
    let held = ServerLock::acquire(&server.server());
    assert!(held.is_held());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let creator = {
        let tmux = server.tmux.clone();
        let dir = server.dir.clone();
        let done = done_tx.clone();
        std::thread::spawn(move || {
            new_session(&tmux, "second", &dir, &strings(&["sleep", "60"]));
            let _ = done.send("session");
        })
    };
    let connector = {
        let s = server.server();
        std::thread::spawn(move || {
            let transport = ControlMode::new(s);
            let _ = done_tx.send("client");
            transport.is_connected()
        })
    };
    // Neither finishes while the lock is held...
    assert!(
        done_rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "a session change or a handshake ran under another holder's lock"
    );
    assert!(!server.tmux.has_session("second").expect("has"));
    // ...and both do once it is released.
    drop(held);
    for _ in 0..2 {
        done_rx
            .recv_timeout(WAIT)
            .expect("finished after the release");
    }
    creator.join().expect("creator");
    assert!(connector.join().expect("connector"), "connected");
    assert!(server.tmux.has_session("second").expect("has"));
}
