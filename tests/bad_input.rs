//! The bad-input matrix (SPEC §8), through the command line and through the
//! Rust API, on throwaway tmux servers. Every case either works exactly —
//! the text reaches the demo agent's `echo` scenario byte for byte — or
//! fails with one clear line (a typed error in Rust) and a non-zero exit.
//! Nothing is run by a shell (a `$(touch MARKER)` never creates MARKER), and
//! no failed launch leaves a tmux session behind.
//!
//! Unreadable work dirs: tests run as root, for whom `chmod 000` does not
//! stop reading, so that row accepts "works, in that directory" for root and
//! requires the clear error otherwise.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use doeff_agents::adapter::Adapter;
use doeff_agents::demo::parse_echo_records;
use doeff_agents::{AgentType, Agents, Error, Injection, LaunchConfig};
use support::{TestServer, assert_one_line_error, stdout, wait_for};

const PATIENCE: Duration = Duration::from_secs(20);

/// Text that a shell would act on, with a marker file that must never appear.
fn hostile(marker: &Path) -> String {
    let m = marker.display();
    format!("$(touch {m}) `touch {m}` \"dq\" 'sq' ; touch {m} && touch {m} | cat; # end")
}

/// The `echo` scenario's records, once `count` of them are there.
fn records(file: &Path, count: usize) -> Vec<(String, Vec<u8>)> {
    wait_for(&format!("{count} echo records"), PATIENCE, || {
        let data = std::fs::read(file).ok()?;
        let records = parse_echo_records(&data);
        (records.len() >= count).then_some(records)
    })
}

fn echo_env(file: &Path) -> [String; 2] {
    [
        "DOEFF_DEMO_SCENARIO=echo".to_owned(),
        format!("DOEFF_DEMO_ECHO_FILE={}", file.display()),
    ]
}

/// `run -a demo` in the echo scenario; returns the CLI's output.
fn cli_run(server: &TestServer, name: &str, extra: &[&str], echo: &Path) -> std::process::Output {
    let env = echo_env(echo);
    let mut args = vec!["run", "-a", "demo", "-s", name];
    args.extend_from_slice(extra);
    for e in &env {
        args.push("-e");
        args.push(e);
    }
    server.cli(&args)
}

fn wait_for_composer(server: &TestServer, name: &str) {
    wait_for("the echo agent's composer", PATIENCE, || {
        let text = stdout(&server.cli(&["output", name, "-n", "20"]));
        text.contains("echo").then_some(())
    });
}

#[test]
fn cli_session_names_are_validated() {
    let server = TestServer::new();
    let long = "a".repeat(300);
    for name in [
        "", "a:b", "a.b", "a%b", "it's", "a b", "a\nb", &long, "doeff-", "=x", "a;b",
    ] {
        let out = server.cli(&["run", "-a", "demo", "-s", name]);
        let err = assert_one_line_error(&out);
        assert!(err.contains("invalid session name"), "{name:?}: {err}");
        for command in ["send", "output", "stop", "watch"] {
            let mut args = vec![command, name];
            if command == "send" {
                args.push("hi");
            }
            let err = assert_one_line_error(&server.cli(&args));
            assert!(
                err.contains("no doeff session named") || err.contains("invalid session name"),
                "{command} {name:?}: {err}"
            );
        }
    }
    assert!(server.session_names().is_empty(), "no half-made sessions");
}

#[test]
fn cli_prompts_arrive_exactly_or_are_refused() {
    let server = TestServer::new();
    let marker = server.path("pwned");
    let exact: Vec<(&str, String)> = vec![
        ("hostile", hostile(&marker)),
        (
            "escape",
            "colour \u{1b}[31mred\u{1b}[0m and \u{1b}]0;title\u{7}".into(),
        ),
        ("dash", "-rf --help".into()),
        ("newlines", "line one\nline two\n\ttabbed".into()),
        ("unicode", "日本語 ✻ é \u{9b}".into()),
        ("ten-kb", "x".repeat(10_000)),
    ];
    for (i, (what, prompt)) in exact.iter().enumerate() {
        let echo = server.path(&format!("prompt-{i}.echo"));
        let name = format!("p{i}");
        let out = cli_run(&server, &name, &["-p", prompt], &echo);
        assert!(out.status.success(), "{what}: {}", support::stderr(&out));
        let got = records(&echo, 2);
        assert_eq!(got[1].0, "prompt", "{what}");
        assert_eq!(
            got[1].1,
            prompt.as_bytes(),
            "{what}: prompt arrives byte for byte"
        );
    }
    // 100 KB does not fit in one tmux command: refused in one line.
    let echo = server.path("huge.echo");
    let before = server.session_names();
    let err = assert_one_line_error(&cli_run(
        &server,
        "huge",
        &["-p", &"y".repeat(100_000)],
        &echo,
    ));
    assert!(err.contains("too long"), "{err}");
    assert_eq!(server.session_names(), before, "no half-made session");
    assert!(!marker.exists(), "nothing may run in a shell");
}

#[test]
fn cli_messages_arrive_exactly_or_are_refused() {
    let server = TestServer::new();
    let marker = server.path("pwned");
    let echo = server.path("messages.echo");
    let out = cli_run(&server, "msg", &[], &echo);
    assert!(out.status.success(), "{}", support::stderr(&out));
    wait_for_composer(&server, "msg");
    let messages: Vec<String> = vec![
        hostile(&marker),
        "-leading dash".into(),
        "--no-enter".into(),
        "ends with a semicolon;".into(),
        ";".into(),
        "two\nlines; $(x)\n".into(),
        "é ✻ 日本語\ttab".into(),
        "z".repeat(100_000),
        String::new(),
    ];
    for (i, message) in messages.iter().enumerate() {
        let out = server.cli(&["send", "msg", "--", message]);
        assert!(
            out.status.success(),
            "message {i}: {}",
            support::stderr(&out)
        );
        let got = records(&echo, i + 2);
        assert_eq!(got[i + 1].0, "message");
        assert_eq!(
            String::from_utf8_lossy(&got[i + 1].1),
            *message,
            "message {i} arrives byte for byte"
        );
    }
    for bad in ["esc \u{1b}[201~ inside", "cr\rinside", "ctrl-c \u{3}"] {
        let err = assert_one_line_error(&server.cli(&["send", "msg", bad]));
        assert!(err.contains("control character"), "{bad:?}: {err}");
    }
    // Nothing else arrived.
    std::thread::sleep(Duration::from_millis(300));
    let all = parse_echo_records(&std::fs::read(&echo).expect("echo file"));
    assert_eq!(all.len(), messages.len() + 1);
    assert!(!marker.exists(), "nothing may run in a shell");
}

#[test]
fn cli_work_dirs() {
    let server = TestServer::new();
    let missing = server.path("no such dir");
    let file = server.path("a-file");
    std::fs::write(&file, "x").expect("file");
    for (dir, needle) in [
        (missing.clone(), "no such dir"),
        (file.clone(), "not a directory"),
    ] {
        let echo = server.path("never.echo");
        let err = assert_one_line_error(&cli_run(
            &server,
            "wd",
            &["-w", &dir.to_string_lossy()],
            &echo,
        ));
        assert!(err.contains(needle), "{}: {err}", dir.display());
    }
    assert!(server.session_names().is_empty());

    let odd = server.path("with spaces #{pane_id} $(x) 'q';");
    let locked = server.path("locked");
    for dir in [&odd, &locked] {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    for (i, dir) in [&odd, &locked].into_iter().enumerate() {
        let echo = server.path(&format!("wd-{i}.echo"));
        let out = cli_run(
            &server,
            &format!("wd{i}"),
            &["-w", &dir.to_string_lossy()],
            &echo,
        );
        if dir == &locked && !nix::unistd::Uid::effective().is_root() {
            let err = assert_one_line_error(&out);
            assert!(err.contains("cannot be used"), "{err}");
            continue;
        }
        assert!(
            out.status.success(),
            "{}: {}",
            dir.display(),
            support::stderr(&out)
        );
        let got = records(&echo, 1);
        assert_eq!(got[0].0, "cwd");
        let want: PathBuf = dir.canonicalize().expect("canonical");
        assert_eq!(
            got[0].1,
            want.as_os_str().as_encoded_bytes(),
            "runs in that dir"
        );
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// User adapter files that launch badly, loaded with `--adapters DIR`.
const BAD_ADAPTERS: &[(&str, &str, &str)] = &[
    (
        "nonlist",
        r#"launch = function(cfg) return "ls -la; touch pwned" end"#,
        "must return a list of strings, got string",
    ),
    (
        "emptyargv",
        "launch = function(cfg) return {} end",
        "empty argv",
    ),
    (
        "holey",
        r#"launch = function(cfg) return { "sh", {} } end"#,
        "argv[2] must be a string",
    ),
    (
        "missingbin",
        r#"binary = "no-such-cli-doeff", launch = function(cfg) return { "no-such-cli-doeff" } end"#,
        "not found on PATH",
    ),
    (
        "ghost",
        r#"launch = function(cfg) return { "no-such-cli-doeff", "--go" } end"#,
        "not found on PATH",
    ),
    (
        "raiser",
        r#"launch = function(cfg) error("no way") end"#,
        "no way",
    ),
    (
        "looper",
        "launch = function(cfg) while true do end end",
        "time budget exceeded",
    ),
];

#[test]
fn cli_unknown_agents_and_bad_adapters_fail_in_one_line() {
    let server = TestServer::new();
    let dir = server.path("adapters");
    std::fs::create_dir_all(&dir).expect("dir");
    for (name, body, _) in BAD_ADAPTERS {
        std::fs::write(
            dir.join(format!("{name}.lua")),
            format!("return agents.adapter {{ name = \"{name}\", {body} }}\n"),
        )
        .expect("adapter file");
    }
    let adapters = dir.to_string_lossy().into_owned();
    let work = server.dir.to_string_lossy().into_owned();
    for (agent, needle) in [("nope", "unknown agent"), ("custom:", "empty agent name")]
        .into_iter()
        .chain(BAD_ADAPTERS.iter().map(|(n, _, e)| (*n, *e)))
    {
        let out = server.cli(&[
            "--adapters",
            &adapters,
            "run",
            "-a",
            agent,
            "-s",
            "bad",
            "-w",
            &work,
            "-p",
            "hi",
        ]);
        let err = assert_one_line_error(&out);
        assert!(err.contains(needle), "{agent}: {err}");
    }
    assert!(server.session_names().is_empty(), "no half-made sessions");
    assert!(!server.dir.join("pwned").exists());
}

fn echo_config(server: &TestServer, echo: &Path) -> LaunchConfig {
    LaunchConfig::new(AgentType::Custom("demo".into()), &server.dir)
        .env("DOEFF_DEMO_SCENARIO", "echo")
        .env("DOEFF_DEMO_ECHO_FILE", echo.to_string_lossy())
}

fn assert_no_sessions(agents: &Agents) {
    assert!(agents.tmux().list_sessions().expect("list").is_empty());
}

#[test]
fn rust_names_prompts_and_adapters() {
    let server = TestServer::new();
    let agents = server.agents();
    let config = echo_config(&server, &server.path("unused.echo"));
    let long = "b".repeat(300);
    for name in [
        "", "a:b", "a.b", "a%b", "it's", "a b", "a\nb", &long, "doeff-",
    ] {
        let err = agents
            .launch_session(name, &config.clone().ready_timeout(PATIENCE))
            .expect_err("invalid name");
        assert!(
            matches!(err, Error::InvalidSessionName { .. }),
            "{name:?}: {err}"
        );
    }
    let nul = config.clone().prompt("a\0b");
    assert!(matches!(
        agents.launch_session("nul", &nul.clone().ready_timeout(PATIENCE)),
        Err(Error::AgentLaunch { .. })
    ));
    let megabyte = config.clone().prompt("m".repeat(1 << 20));
    let err = agents
        .launch_session("mega", &megabyte.clone().ready_timeout(PATIENCE))
        .expect_err("1 MB does not fit in argv through tmux");
    assert!(matches!(err, Error::AgentLaunch { .. }) && err.to_string().contains("too long"));
    let file = server.path("a-file");
    std::fs::write(&file, "x").expect("file");
    for (dir, what) in [(server.path("missing"), "missing"), (file, "a file")] {
        let mut c = config.clone();
        c.work_dir = dir;
        assert!(
            matches!(
                agents.launch_session("wd", &c.clone().ready_timeout(PATIENCE)),
                Err(Error::Io { .. } | Error::InvalidInput(_))
            ),
            "{what}"
        );
    }
    let unknown = LaunchConfig::new(AgentType::Custom("nope".into()), &server.dir);
    assert!(matches!(
        agents.launch_session("u", &unknown.clone().ready_timeout(PATIENCE)),
        Err(Error::UnknownAgent { .. })
    ));
    let natives = [
        Adapter::native("refuses", |_| Err("cannot here".into())),
        Adapter::native("empty", |_| Ok(Vec::new())),
        Adapter::native("nulargv", |_| Ok(vec!["sh".into(), "a\0b".into()])),
        Adapter::native("nowhere", |_| Ok(vec!["no-such-cli-doeff".into()])),
        {
            let mut a = Adapter::native("nobin", |_| Ok(vec!["sh".into()]));
            a.binary = Some("no-such-cli-doeff".into());
            a
        },
    ];
    for adapter in natives {
        let name = adapter.name.clone();
        agents.adapters().register(adapter);
        let c = LaunchConfig::new(AgentType::Custom(name.clone()), &server.dir);
        let err = agents
            .launch_session("n", &c.clone().ready_timeout(PATIENCE))
            .expect_err("refused");
        assert!(matches!(err, Error::AgentLaunch { .. }), "{name}: {err}");
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
    }
    assert_no_sessions(&agents);
}

#[test]
fn rust_messages_and_pasted_prompts_arrive_exactly() {
    let server = TestServer::new();
    let agents = server.agents();
    let marker = server.path("pwned");
    // A tmux-injection adapter over the echo agent: the prompt is pasted.
    let exe = support::bin().to_string_lossy().into_owned();
    let mut pasted = Adapter::native("pasted", move |_| {
        Ok(vec![exe.clone(), "__demo-agent".into()])
    });
    pasted.injection = Injection::Tmux;
    pasted.ready_pattern = Some(regex::Regex::new("^>").expect("regex"));
    agents.adapters().register(pasted);
    let echo = server.path("pasted.echo");
    let mut config = echo_config(&server, &echo);
    config.agent_type = AgentType::Custom("pasted".into());
    let bad = config.clone().prompt("stop \u{1b} here");
    assert!(matches!(
        agents.launch_session("bad", &bad.clone().ready_timeout(PATIENCE)),
        Err(Error::AgentLaunch { .. })
    ));
    assert_no_sessions(&agents);
    let prompt = format!("{}\nsecond line -x", hostile(&marker));
    let session = agents
        .launch_session(
            "pasted",
            &config.prompt(prompt.clone()).ready_timeout(PATIENCE),
        )
        .expect("launch");
    assert_eq!(
        records(&echo, 2)[1],
        ("message".to_owned(), prompt.into_bytes())
    );

    let messages = [
        "-".to_owned(),
        "quotes \" ' ` $(x) ${HOME} && ; |".to_owned(),
        "m".repeat(1 << 20),
    ];
    for (i, message) in messages.iter().enumerate() {
        agents.send_message(&session, message, true).expect("send");
        let got = records(&echo, i + 3);
        assert_eq!(got[i + 2].1.len(), message.len(), "message {i} length");
        assert!(
            got[i + 2].1 == message.as_bytes(),
            "message {i} byte for byte"
        );
    }
    for bad in ["nul \0", "esc \u{1b}[201~", "del \u{7f}"] {
        assert!(matches!(
            agents.send_message(&session, bad, true),
            Err(Error::Send { .. })
        ));
    }
    assert!(!marker.exists());
}

#[test]
fn lua_bad_input_gets_nil_and_a_message_and_text_arrives_exactly() {
    let server = TestServer::new();
    let echo = server.path("echo.bin");
    let marker = server.path("pwned");
    let script = server.path("bad.lua");
    std::fs::write(
        &script,
        format!(
            r#"local echo = {{ DOEFF_DEMO_SCENARIO = "echo", DOEFF_DEMO_ECHO_FILE = [[{echo}]] }}
for _, name in ipairs({{ "", "a:b", "a.b", "x y", "a\nb", "it's", ("n"):rep(300), "doeff-" }}) do
  local s, err = agents.launch(name, {{ agent = "demo", env = echo }})
  assert(s == nil and err:find("invalid session name"), name .. " -> " .. tostring(err))
end
local s, err = agents.launch("x", {{ agent = "nope" }})
assert(s == nil and err:find("unknown agent"), tostring(err))
s, err = agents.launch("x", {{ agent = "demo", work_dir = "/no/such/dir" }})
assert(s == nil and err:find("/no/such/dir"), tostring(err))
agents.register_adapter {{ name = "notalist", launch = function() return "demo" end }}
s, err = agents.launch("x", {{ agent = "notalist" }})
assert(s == nil and err:find("list of strings"), tostring(err))
agents.register_adapter {{ name = "empty", launch = function() return {{}} end }}
s, err = agents.launch("x", {{ agent = "empty" }})
assert(s == nil and err:find("empty argv"), tostring(err))
local s = assert(agents.launch("luaecho", {{ agent = "demo", prompt = [[{prompt}]], env = echo }}))
for _, bad in ipairs({{ "\255\254 not utf-8", "a\0b", "esc \27[201~ here" }}) do
  local ok, err = s:send(bad)
  assert(ok == nil and type(err) == "string", "refused: " .. tostring(err))
end
local big = ("0123456789abcdef"):rep(65536)
assert(s:send(big))
print("lua rows ok")
"#,
            echo = echo.display(),
            prompt = hostile(&marker),
        ),
    )
    .expect("script");
    let out = server.cli(&["script", &script.to_string_lossy()]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(&out),
        support::stderr(&out)
    );
    assert!(stdout(&out).contains("lua rows ok"));
    let records = records(&echo, 3);
    assert_eq!(records[1].0, "prompt");
    assert_eq!(
        records[1].1,
        hostile(&marker).into_bytes(),
        "the prompt arrives byte for byte"
    );
    assert_eq!(records[2].0, "message");
    assert_eq!(records[2].1.len(), 1 << 20, "1 MB arrives whole");
    assert!(records[2].1.starts_with(b"0123456789abcdef"));
    assert!(!marker.exists(), "nothing ran in a shell");
    assert_eq!(
        server.session_names(),
        vec!["doeff-luaecho"],
        "no half-made sessions"
    );
}

#[test]
fn an_unknown_transport_is_one_line_for_every_monitoring_command() {
    let server = TestServer::new();
    for args in [vec!["ps"], vec!["watch", "x"], vec!["explain", "x"]] {
        let out = server
            .command(&args)
            .env("DOEFF_AGENTS_TRANSPORT", "carrier-pigeon")
            .output()
            .expect("run");
        let err = assert_one_line_error(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(err.contains("DOEFF_AGENTS_TRANSPORT"), "{args:?}: {err}");
    }
}
