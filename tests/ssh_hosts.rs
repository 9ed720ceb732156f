//! Agents on other machines over real SSH: test hosts in network
//! namespaces, each with its own sshd, tmux server and state (see
//! `tests/ssh_lab`). Skipped, with a message, only where network
//! namespaces cannot be created.

mod ssh_lab;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;
use ssh_lab::Lab;
use support::{stderr, stdout, wait_for};

const LONG: Duration = Duration::from_secs(60);

/// A running `watch` whose stdout lines arrive on a channel.
struct Watch {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(lab: &Lab, args: &[&str]) -> Watch {
        let mut child = lab
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("watch");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first JSON line (already read, or read within `timeout`)
    /// matching `pred`; every line read is kept.
    fn until(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(value) = self.json().into_iter().find(|v| pred(v)) {
            return value;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Ok(value) = serde_json::from_str::<Value>(&line)
                        && pred(&value)
                    {
                        return value;
                    }
                }
                Err(_) => panic!(
                    "timed out waiting for {what}; watch printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn json(&self) -> Vec<Value> {
        self.seen
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_change(v: &Value, host: &str, session: &str, new: &str) -> bool {
    v["host"] == host && v["session"] == session && v["new"] == new
}

fn launch(lab: &Lab, host: &str, name: &str, env: &[&str]) {
    let mut args = vec!["--host", host, "run", "-a", "demo", "-s", name, "-p", "hi"];
    for e in env {
        args.push("-e");
        args.push(e);
    }
    let out = lab.cli(&args);
    assert!(
        out.status.success(),
        "launch {name} on {host}: {}",
        stderr(&out)
    );
    assert_eq!(stdout(&out).trim(), format!("doeff-{name}"));
}

#[test]
fn launch_ps_watch_send_stop_across_two_hosts() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta", "hostb"]);
    let waits = ["DOEFF_DEMO_APPROVE_AFTER_MS=0", "DOEFF_DEMO_WORK_MS=300"];
    launch(&lab, "hosta", "job", &waits);
    launch(&lab, "hostb", "job", &waits);
    launch(&lab, "hostb", "other", &["DOEFF_DEMO_SCENARIO=wait"]);
    // Each host's sessions live in that host's own tmux server.
    let names = |host: &str| {
        stdout(
            &lab.host(host)
                .tmux(&["list-sessions", "-F", "#{session_name}"]),
        )
    };
    assert_eq!(names("hosta").trim(), "doeff-job");
    assert!(names("hostb").contains("doeff-other"));

    let mut watch = Watch::start(
        &lab,
        &["--host", "hosta", "--host", "hostb", "watch", "--json"],
    );
    for host in ["hosta", "hostb"] {
        watch.until(&format!("{host} blocked"), LONG, |v| {
            is_change(v, host, "doeff-job", "blocked")
        });
    }

    let ps = lab.cli(&["--all-hosts", "ps", "--json"]);
    assert!(ps.status.success(), "{}", stderr(&ps));
    let rows: Vec<Value> = serde_json::from_str(&stdout(&ps)).expect("ps json");
    let mut seen: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["host"].as_str().unwrap().to_owned(),
                r["name"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("hosta".into(), "doeff-job".into(), "blocked".into()),
            ("hostb".into(), "doeff-job".into(), "blocked".into()),
            ("hostb".into(), "doeff-other".into(), "blocked".into()),
        ]
    );
    let table = stdout(&lab.cli(&["--host", "hosta", "--host", "hostb", "ps"]));
    assert!(table.starts_with("HOST "), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("hostb  doeff-other")),
        "{table}"
    );

    for host in ["hosta", "hostb"] {
        let out = lab.cli(&["--host", host, "send", "job", "--keys", "1"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for host in ["hosta", "hostb"] {
        watch.until(&format!("{host} done"), LONG, |v| {
            is_change(v, host, "doeff-job", "done")
        });
    }
    let output = lab.cli(&["--host", "hosta", "output", "job"]);
    assert!(
        stdout(&output).contains("Task completed successfully"),
        "{}",
        stdout(&output)
    );

    // watch NAME --host ends with the session's exit code (4: exited),
    // whether it sees the crash happen or finds it done.
    launch(
        &lab,
        "hostb",
        "crash",
        &["DOEFF_DEMO_SCENARIO=crash", "DOEFF_DEMO_WORK_MS=3000"],
    );
    let single = lab.cli(&[
        "--host",
        "hostb",
        "watch",
        "crash",
        "--json",
        "--timeout",
        "60",
    ]);
    assert_eq!(
        single.status.code(),
        Some(4),
        "{}{}",
        stdout(&single),
        stderr(&single)
    );
    assert!(
        stdout(&single).contains("\"new\":\"exited\""),
        "{}",
        stdout(&single)
    );

    // explain over the link says what a local explain says, host first.
    let explained = stdout(&lab.cli(&["--host", "hostb", "explain", "other"]));
    let keys: Vec<&str> = explained
        .lines()
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(
        keys[..7],
        [
            "host", "status", "reason", "rule", "region", "line", "source"
        ],
        "{explained}"
    );
    assert!(explained.contains("status:  blocked"), "{explained}");

    let stop = lab.cli(&["--host", "hostb", "stop", "other"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert_eq!(stdout(&stop).trim(), "stopped doeff-other");
    watch.until("other stopped", LONG, |v| {
        is_change(v, "hostb", "doeff-other", "stopped")
    });
    let again = lab.cli(&["--host", "hostb", "stop", "other"]);
    assert_eq!(stdout(&again).trim(), "doeff-other was already stopped");

    // No event twice, and each host's transitions chain.
    let mut seqs = std::collections::HashSet::new();
    for v in watch.json() {
        if let Some(seq) = v["seq"].as_u64() {
            let key = format!("{}/{}/{seq}", v["host"], v["session"]);
            assert!(seqs.insert(key.clone()), "event twice: {key}");
        }
    }
}

#[test]
fn messages_cross_as_data_and_errors_are_one_line() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta"]);
    let echo = lab.host("hosta").dir.join("echo.log");
    let file = format!("DOEFF_DEMO_ECHO_FILE={}", echo.display());
    launch(&lab, "hosta", "echo", &["DOEFF_DEMO_SCENARIO=echo", &file]);
    let nasty = "$(touch /tmp/doeff-pwned) `id`; \"quoted\" 'single' \\ & | > <";
    let out = lab.cli(&["--host", "hosta", "send", "echo", nasty]);
    assert!(out.status.success(), "{}", stderr(&out));
    let messages = wait_for("the message on the host", LONG, || {
        let data = std::fs::read(&echo).ok()?;
        let records = doeff_agents::demo::parse_echo_records(&data);
        let messages: Vec<Vec<u8>> = records
            .into_iter()
            .filter(|(kind, _)| kind == "message")
            .map(|(_, bytes)| bytes)
            .collect();
        (!messages.is_empty()).then_some(messages)
    });
    assert_eq!(messages[0], nasty.as_bytes());
    assert!(!std::path::Path::new("/tmp/doeff-pwned").exists());

    // A name the host does not have: the host's own one-line error.
    let out = lab.cli(&["--host", "hosta", "stop", "nope"]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim(),
        "doeff-agents: hosta: no doeff session named nope"
    );
    // A destination that would be an ssh option is refused before ssh runs.
    let out = lab.cli(&["--host", "-oProxyCommand=touch /tmp/x", "ps"]);
    assert!(!out.status.success());
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn another_protocol_version_and_an_old_binary_say_so() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta"]);
    let dir = &lab.host("hosta").dir;
    let newer = dir.join("bin/newer");
    let older = dir.join("bin/older");
    std::fs::write(
        &newer,
        "#!/bin/sh\necho '{\"type\":\"hello\",\"protocol\":9,\"compatible\":[9],\"version\":\"9.0.0\"}'\nsleep 5\n",
    )
    .unwrap();
    std::fs::write(
        &older,
        "#!/bin/sh\necho \"error: unrecognized subcommand 'serve'\" >&2\nexit 2\n",
    )
    .unwrap();
    for script in [&newer, &older] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = lab.dir.join("ssh_config");
    lab.add_host_entry(&format!(
        "[hosts.newer]\ndestination = \"hosta\"\nremote_binary = \"{}\"\nssh_config = \"{}\"\n\
         [hosts.older]\ndestination = \"hosta\"\nremote_binary = \"{}\"\nssh_config = \"{}\"\n",
        newer.display(),
        config.display(),
        older.display(),
        config.display()
    ));
    let out = lab.cli(&["--host", "newer", "ps"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("speaks protocol 9 and this one speaks 1"),
        "{err}"
    );
    let out = lab.cli(&["--host", "older", "ps"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("unrecognized subcommand 'serve'"), "{err}");
}

/// The status records of `session` on `host` a watch printed, checked:
/// seqs never repeat and each `old` is the `new` before it.
fn transitions(watch: &Watch, host: &str, session: &str) -> Vec<(Value, Value)> {
    let mut seqs = Vec::new();
    let mut chain: Vec<(Value, Value)> = Vec::new();
    for v in watch.json() {
        if v["host"] != host || v["session"] != session || v.get("new").is_none() {
            continue;
        }
        let seq = v["seq"].as_u64().expect("seq");
        assert!(
            !seqs.contains(&seq),
            "seq {seq} twice:\n{}",
            watch.seen.join("\n")
        );
        seqs.push(seq);
        if let Some((_, previous)) = chain.last() {
            assert_eq!(
                &v["old"],
                previous,
                "broken chain:\n{}",
                watch.seen.join("\n")
            );
        }
        chain.push((v["old"].clone(), v["new"].clone()));
    }
    chain
}

fn pane_dead(host: &ssh_lab::TestHost, session: &str) -> bool {
    let out = host.tmux(&[
        "display-message",
        "-p",
        "-t",
        &format!("={session}:"),
        "#{pane_dead}",
    ]);
    stdout(&out).trim() == "1"
}

/// The demo that asks for approval, approves itself after `after_ms`, works
/// a little and finishes.
const SLOW_APPROVAL: [&str; 2] = [
    "DOEFF_DEMO_APPROVE_AFTER_MS=6000",
    "DOEFF_DEMO_WORK_MS=1000",
];

#[test]
fn a_cut_link_is_host_unreachable_then_resumes_without_duplicates() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta", "hostb"]);
    launch(&lab, "hosta", "job", &SLOW_APPROVAL);
    launch(&lab, "hostb", "steady", &["DOEFF_DEMO_SCENARIO=wait"]);
    let mut watch = Watch::start(
        &lab,
        &["--host", "hosta", "--host", "hostb", "watch", "--json"],
    );
    watch.until("hosta blocked", LONG, |v| {
        is_change(v, "hosta", "doeff-job", "blocked")
    });
    watch.until("hostb steady", LONG, |v| {
        is_change(v, "hostb", "doeff-steady", "blocked")
    });
    let hosta = lab.host("hosta");
    hosta.cut();
    let down = watch.until("host_unreachable", LONG, |v| {
        v["event"] == "host_unreachable" && v["host"] == "hosta"
    });
    assert_eq!(down["sessions"][0]["session"], "doeff-job", "{down}");
    assert_eq!(down["sessions"][0]["status"], "blocked", "{down}");
    assert_eq!(down["sessions"][0]["stale"], true, "{down}");
    // The agent goes on while the link is down, and finishes.
    wait_for("the agent to finish on hosta", LONG, || {
        pane_dead(hosta, "doeff-job").then_some(())
    });
    hosta.restore();
    watch.until("hosta done after the link is back", LONG, |v| {
        is_change(v, "hosta", "doeff-job", "done")
    });
    let chain = transitions(&watch, "hosta", "doeff-job");
    let blocked_running = chain
        .iter()
        .filter(|(o, n)| o == "blocked" && n == "running")
        .count();
    let running_done = chain
        .iter()
        .filter(|(o, n)| o == "running" && n == "done")
        .count();
    assert_eq!((blocked_running, running_done), (1, 1), "{chain:?}");
    assert!(!chain.iter().any(|(_, n)| n == "exited"), "{chain:?}");
    // The other host was never reported down.
    assert!(
        !watch
            .json()
            .iter()
            .any(|v| v["event"] == "host_unreachable" && v["host"] == "hostb")
    );
}

#[test]
fn sshd_killed_and_restarted() {
    lab_or_skip!();
    let mut lab = Lab::new(&["hosta"]);
    launch(&lab, "hosta", "job", &SLOW_APPROVAL);
    let mut watch = Watch::start(&lab, &["--host", "hosta", "watch", "--json"]);
    watch.until("blocked", LONG, |v| {
        is_change(v, "hosta", "doeff-job", "blocked")
    });
    lab.host_mut("hosta").kill_sshd();
    let down = watch.until("host_unreachable", LONG, |v| {
        v["event"] == "host_unreachable"
    });
    assert_eq!(down["sessions"][0]["status"], "blocked", "{down}");
    let host = lab.host("hosta");
    wait_for("the agent to finish", LONG, || {
        pane_dead(host, "doeff-job").then_some(())
    });
    lab.host_mut("hosta").start_sshd();
    watch.until("done after sshd is back", LONG, |v| {
        is_change(v, "hosta", "doeff-job", "done")
    });
    let chain = transitions(&watch, "hosta", "doeff-job");
    assert_eq!(
        chain.last().map(|c| c.0.clone()),
        Some(Value::from("blocked")),
        "{chain:?}"
    );
    assert!(!chain.iter().any(|(_, n)| n == "exited"), "{chain:?}");
}

#[test]
fn a_stalled_remote_is_reported_and_replaced() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta"]);
    launch(&lab, "hosta", "job", &SLOW_APPROVAL);
    let mut watch = Watch::start(&lab, &["--host", "hosta", "watch", "--json"]);
    watch.until("blocked", LONG, |v| {
        is_change(v, "hosta", "doeff-job", "blocked")
    });
    let host = lab.host("hosta");
    let stalled = host.serve_pids();
    assert!(!stalled.is_empty());
    ssh_lab::TestHost::signal(&stalled, "STOP");
    let down = watch.until("host_unreachable", LONG, |v| {
        v["event"] == "host_unreachable"
    });
    assert!(
        down["message"]
            .as_str()
            .unwrap()
            .contains("stopped answering"),
        "{down}"
    );
    watch.until("done from a new serve", LONG, |v| {
        is_change(v, "hosta", "doeff-job", "done")
    });
    let chain = transitions(&watch, "hosta", "doeff-job");
    assert!(
        chain.iter().any(|(o, n)| o == "running" && n == "done"),
        "{chain:?}"
    );
    ssh_lab::TestHost::signal(&stalled, "KILL");
}

#[test]
fn a_wedged_shared_connection_does_not_hang_a_command() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta"]);
    launch(&lab, "hosta", "job", &["DOEFF_DEMO_SCENARIO=wait"]);
    // The launch left a shared connection (its master runs on): stop it.
    let marker = lab.dir.join("run").display().to_string();
    let masters: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains(&marker) && c.contains("[mux]")
                })
                .unwrap_or(false)
        })
        .collect();
    assert!(!masters.is_empty(), "no ssh master found");
    ssh_lab::TestHost::signal(&masters, "STOP");
    let started = Instant::now();
    let out = lab.cli(&["--host", "hosta", "ps"]);
    let took = started.elapsed();
    ssh_lab::TestHost::signal(&masters, "KILL");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("host hosta is unreachable"),
        "{}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    // The wedged socket is gone: the next command connects afresh.
    let out = lab.cli(&["--host", "hosta", "ps"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("doeff-job"), "{}", stdout(&out));
}

#[test]
fn one_lua_script_launches_and_watches_on_two_hosts() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta", "hostb"]);
    let script = lab.dir.join("both.lua");
    std::fs::write(
        &script,
        r#"
local hosts = { assert(agents.host("hosta")), assert(agents.host("hostb")) }
local env = { DOEFF_DEMO_APPROVE_AFTER_MS = "0", DOEFF_DEMO_WORK_MS = "300" }
for _, h in ipairs(hosts) do
  local s = assert(h:launch("lj", { agent = "demo", prompt = "hi", env = env }))
  assert(s.host == h.name and s.name == "doeff-lj")
end
local rows = assert(hosts[2]:list())
assert(#rows == 1 and rows[1].host == "hostb" and rows[1].name == "doeff-lj")
local missing, why = hosts[1]:session("nope"):status()
assert(missing == nil and why:find("no doeff session named nope"), why)
local done = {}
local stopped = agents.follow_hosts(hosts, function(ev)
  if ev.kind ~= "status" then return false end
  print(ev.host, ev.session, tostring(ev.old), ev.new, ev.reason)
  if ev.new == "blocked" and ev.reason == "permission_prompt" then
    local h = ev.host == "hosta" and hosts[1] or hosts[2]
    assert(h:session(ev.session):send_keys({ "1" }))
  end
  if ev.new == "done" then done[ev.host] = true end
  return done.hosta == true and done.hostb == true
end, { timeout = 60 })
assert(stopped, "timed out")
print("final", hosts[1]:session("lj"):status(), hosts[2]:session("lj"):status())
"#,
    )
    .unwrap();
    let out = lab.cli(&["script", script.to_str().unwrap()]);
    let printed = stdout(&out);
    assert!(out.status.success(), "{printed}{}", stderr(&out));
    for host in ["hosta", "hostb"] {
        assert!(
            printed.contains(&format!("{host}\tdoeff-lj\tblocked\trunning")),
            "{printed}"
        );
        assert!(
            printed.contains(&format!("{host}\tdoeff-lj\trunning\tdone")),
            "{printed}"
        );
    }
    assert!(printed.contains("final\tdone\tdone"), "{printed}");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Starts `count` demo sessions on `host` with the host's own binary
/// (quicker than one ssh launch each).
fn launch_on_host(host: &ssh_lab::TestHost, prefix: &str, count: usize, env: &[&str]) {
    for i in 0..count {
        let mut command = std::process::Command::new(host.dir.join("bin/remote"));
        command.args([
            "run",
            "-a",
            "demo",
            "-s",
            &format!("{prefix}{i}"),
            "-p",
            "hi",
        ]);
        for e in env {
            command.args(["-e", e]);
        }
        let out = command.stdin(Stdio::null()).output().expect("launch");
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// How long a status change seen by the host's monitor takes to reach a
/// follower (what `watch` prints from): p50/p95 over 20 sessions x 2 changes.
#[test]
#[ignore = "a measurement: cargo test --test ssh_hosts -- --ignored --nocapture"]
fn measure_remote_event_latency() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta"]);
    let host = lab.host("hosta");
    launch_on_host(
        host,
        "lat",
        20,
        &["DOEFF_DEMO_APPROVE_AFTER_MS=0", "DOEFF_DEMO_WORK_MS=300"],
    );
    let remote = doeff_agents::remote::hosts::Host {
        name: "hosta".into(),
        destination: "hosta".into(),
        socket: Some(lab.dir.join("run/cm-a")),
        remote_binary: host.dir.join("bin/remote").display().to_string(),
        ssh_config: Some(lab.dir.join("ssh_config")),
        connect_timeout: Duration::from_secs(10),
    };
    use doeff_agents::remote::follow::{HostUpdate, Target, follow};
    let followers = follow(vec![(Target::Ssh(remote.clone()), Default::default())]);
    let subscribed = doeff_agents::remote::protocol::now_ms();
    // Every session at its approval question first.
    let mut blocked = std::collections::HashSet::new();
    let deadline = Instant::now() + LONG;
    while blocked.len() < 20 {
        assert!(Instant::now() < deadline, "not all blocked: {blocked:?}");
        if let Ok(HostUpdate::Event { event, .. }) =
            followers.updates.recv_timeout(Duration::from_secs(1))
            && event.new.map(|s| s.as_str()) == Some("blocked")
        {
            blocked.insert(event.session.clone());
        }
    }
    let sender = doeff_agents::remote::client::Connection::open(&remote).expect("connect");
    let mut latencies = Vec::new();
    let mut done = 0;
    // Answered from another thread: this one reads the events as they come
    // (an event waiting in the channel while keys are sent is not latency).
    let answering = std::thread::spawn(move || {
        for i in 0..20 {
            sender
                .call(
                    "keys",
                    serde_json::json!({"name": format!("lat{i}"), "keys": ["1"]}),
                    Duration::from_secs(20),
                )
                .expect("keys");
        }
    });
    let mut finished = std::collections::HashSet::new();
    while done < 20 {
        if Instant::now() > deadline + LONG {
            for i in 0..20 {
                let name = format!("doeff-lat{i}");
                if !finished.contains(&name) {
                    let journal = host
                        .dir
                        .join(format!("state/doeff-agents/events/{name}.ndjson"));
                    eprintln!(
                        "{name}: {}",
                        std::fs::read_to_string(journal).unwrap_or_default()
                    );
                    eprintln!(
                        "{}",
                        stdout(&host.tmux(&["capture-pane", "-p", "-t", &format!("={name}:")]))
                    );
                }
            }
            panic!("not all done ({done})");
        }
        let Ok(update) = followers.updates.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        if let HostUpdate::Event { event, .. } = update
            && event.kind == "status"
            && event.time_ms > subscribed
        {
            let now = doeff_agents::remote::protocol::now_ms();
            latencies.push(now.saturating_sub(event.time_ms) as f64);
            if std::env::var_os("DOEFF_MEASURE_EACH").is_some() {
                println!(
                    "event {} {:?} at {} +{} ms",
                    event.session,
                    event.new,
                    event.time_ms % 100_000,
                    now.saturating_sub(event.time_ms)
                );
            }
            // Terminal, whichever: the monitor's own race between an exit
            // and the capture can say `exited` for an exit 0 (reported).
            if event.new.is_some_and(|s| s.is_terminal()) {
                done += 1;
                finished.insert(event.session.clone());
            }
        }
    }
    answering.join().expect("keys sent");
    latencies.sort_by(f64::total_cmp);
    println!(
        "MEASURE remote event -> follower: n={} p50={:.1} ms p95={:.1} ms max={:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies.last().copied().unwrap_or(0.0)
    );
}

/// `ps --all-hosts` over 3 hosts x 20 sessions with warm connections.
#[test]
#[ignore = "a measurement: cargo test --test ssh_hosts -- --ignored --nocapture"]
fn measure_ps_all_hosts() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta", "hostb", "hostc"]);
    for host in &lab.hosts {
        launch_on_host(host, "ps", 20, &["DOEFF_DEMO_SCENARIO=wait"]);
    }
    // Warm: the shared connections exist, the sessions have settled.
    std::thread::sleep(Duration::from_secs(2));
    let warm = lab.cli(&["--all-hosts", "ps", "--json"]);
    assert!(warm.status.success(), "{}", stderr(&warm));
    let rows: Vec<Value> = serde_json::from_str(&stdout(&warm)).expect("json");
    assert_eq!(rows.len(), 60);
    let time = |what: &str, f: &dyn Fn()| {
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        println!("MEASURE part {what}: p50={:.0} ms", runs[2]);
    };
    let host = lab.host("hosta");
    time("ps on the host itself (no ssh)", &|| {
        let out = std::process::Command::new(host.dir.join("bin/remote"))
            .arg("ps")
            .output()
            .unwrap();
        assert!(out.status.success());
    });
    time("ssh (warm master) running true", &|| {
        let out = std::process::Command::new("ssh")
            .arg("-F")
            .arg(lab.dir.join("ssh_config"))
            .arg("-o")
            .arg(format!(
                "ControlPath={}/run/doeff-agents/ssh-%C",
                lab.dir.display()
            ))
            .args(["-o", "ControlMaster=auto", "hosta", "true"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    });
    time(
        "ssh -O check (the master alone, no remote process)",
        &|| {
            let out = std::process::Command::new("ssh")
                .arg("-F")
                .arg(lab.dir.join("ssh_config"))
                .arg("-o")
                .arg(format!(
                    "ControlPath={}/run/doeff-agents/ssh-%C",
                    lab.dir.display()
                ))
                .args(["-O", "check", "hosta"])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
        },
    );
    time("ps --host hosta", &|| {
        assert!(lab.cli(&["--host", "hosta", "ps"]).status.success());
    });
    let mut times = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let out = lab.cli(&["--all-hosts", "ps"]);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).lines().count(), 61);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "MEASURE ps --all-hosts (3 hosts x 20 sessions, warm): n={} min={:.0} ms p50={:.0} ms p95={:.0} ms",
        times.len(),
        times[0],
        percentile(&times, 0.5),
        percentile(&times, 0.95)
    );
}

/// `supervise --host a --host b`: one supervisor's script sees the sessions
/// of both hosts (and of this machine) and answers them through the handle
/// its handler gets.
#[test]
fn a_supervisor_follows_sessions_on_two_hosts_and_its_own() {
    lab_or_skip!();
    let lab = Lab::new(&["hosta", "hostb"]);
    let script = lab.dir.join("approve.lua");
    std::fs::write(
        &script,
        r#"
agents.on("status_changed", function(s, old, new, obs)
  print(string.format("change %s %s %s %s", obs.host or "local", s.name, old, new))
  if new == "blocked" and obs.reason == "permission_prompt" then
    assert(s:send_keys({ "1" }))
  end
end)
"#,
    )
    .expect("script");
    let mut supervisor = Watch::start(
        &lab,
        &[
            "--host",
            "hosta",
            "--host",
            "hostb",
            "supervise",
            script.to_str().expect("path"),
        ],
    );
    let slow_approval = [
        "DOEFF_DEMO_APPROVE_AFTER_MS=600000",
        "DOEFF_DEMO_WORK_MS=300",
    ];
    let started = Instant::now();
    // The supervisor has connected to both hosts before their sessions start.
    std::thread::sleep(Duration::from_secs(2));
    launch(&lab, "hosta", "sa", &slow_approval);
    launch(&lab, "hostb", "sb", &slow_approval);
    let local = lab.cli(&[
        "run",
        "-a",
        "demo",
        "-s",
        "sl",
        "-p",
        "hi",
        "-e",
        slow_approval[0],
        "-e",
        slow_approval[1],
    ]);
    assert!(local.status.success(), "{}", stderr(&local));
    for (host, session) in [
        ("hosta", "doeff-sa"),
        ("hostb", "doeff-sb"),
        ("local", "doeff-sl"),
    ] {
        let want = format!("change {host} {session} running done");
        let deadline = started + LONG;
        while !supervisor.seen.iter().any(|l| l == &want) {
            let left = deadline.saturating_duration_since(Instant::now());
            match supervisor.lines.recv_timeout(left) {
                Ok(line) => supervisor.seen.push(line),
                Err(_) => panic!(
                    "no {want:?}; the supervisor printed:\n{}",
                    supervisor.seen.join("\n")
                ),
            }
        }
    }
    // Each was blocked on its approval, which the supervisor gave (the demo
    // would approve itself only after 600 s).
    for (host, session) in [
        ("hosta", "doeff-sa"),
        ("hostb", "doeff-sb"),
        ("local", "doeff-sl"),
    ] {
        assert!(
            supervisor
                .seen
                .iter()
                .any(|l| l.starts_with(&format!("change {host} {session} "))
                    && l.ends_with(" blocked")),
            "{}",
            supervisor.seen.join("\n")
        );
    }
}
