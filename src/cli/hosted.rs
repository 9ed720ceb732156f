//! Commands with `--host NAME` (or `--all-hosts`): the same commands, run
//! on other machines through `serve --stdio` over ssh (`crate::remote`).
//! `ps` and `watch` take several hosts (a HOST column, `HOST:SESSION` in
//! watch lines); the others take one. The host `local` is this machine.
//! A host that cannot be reached is reported (`host ... is unreachable`),
//! its last known sessions shown as stale, never as exited.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Command, GlobalArgs, style};
use crate::error::{Error, Result};
use crate::monitor::SessionStatus;
use crate::monitor::{ReportNote, Verdict};
use crate::remote::client::{CALL_TIMEOUT, Connection};
use crate::remote::follow::{HostUpdate, LastKnown, Target, follow};
use crate::remote::hosts::{self, Host, LOCAL};
use crate::remote::protocol::SessionRow;
use crate::remote::{cache, ops};

/// True when the command line names hosts.
pub fn applies(global: &GlobalArgs) -> bool {
    !global.host.is_empty() || global.all_hosts
}

/// A host a command runs on.
enum Place {
    Local,
    Remote(Host),
}

impl Place {
    fn name(&self) -> &str {
        match self {
            Place::Local => LOCAL,
            Place::Remote(host) => &host.name,
        }
    }
}

fn places(global: &GlobalArgs) -> Result<Vec<Place>> {
    let mut places = Vec::new();
    if global.all_hosts {
        places.push(Place::Local);
        places.extend(hosts::configured()?.into_values().map(Place::Remote));
    }
    for name in &global.host {
        if places.iter().any(|p| p.name() == name) {
            continue;
        }
        places.push(if name == LOCAL {
            Place::Local
        } else {
            Place::Remote(hosts::resolve(name)?)
        });
    }
    Ok(places)
}

fn local_global(global: &GlobalArgs) -> GlobalArgs {
    let mut local = global.clone();
    local.host.clear();
    local.all_hosts = false;
    local
}

/// Runs `command` on the hosts `global` names.
pub fn run(global: &GlobalArgs, command: Command) -> Result<i32> {
    let mut places = places(global)?;
    match command {
        Command::Ps(args) => ps(global, &places, &args),
        Command::Watch(args) if args.name.is_none() => watch_all(global, places, &args),
        // The scripts run here, over this machine's sessions and the hosts'.
        Command::Supervise(args) => {
            let hosts = places
                .into_iter()
                .filter_map(|place| match place {
                    Place::Local => None,
                    Place::Remote(host) => Some(host),
                })
                .collect();
            super::supervise::run_with_hosts(&local_global(global), args, hosts)
        }
        command => {
            if places.len() != 1 {
                return Err(Error::InvalidInput(
                    "this command takes one --host (ps, watch and supervise take several)".into(),
                ));
            }
            match places.remove(0) {
                Place::Local => super::run(super::Cli {
                    global: local_global(global),
                    command,
                }),
                Place::Remote(host) => one_host(global, &host, command),
            }
        }
    }
}

fn connect(host: &Host) -> Result<Connection> {
    let _spinner = super::progress::Spinner::start(format!("connecting to {}", host.name));
    Connection::open(host)
}

fn name_args(name: &str, raw_target: bool) -> Value {
    json!({ "name": name, "raw_target": raw_target })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

fn one_host(global: &GlobalArgs, host: &Host, command: Command) -> Result<i32> {
    match command {
        Command::Run(args) => launch(global, host, args),
        // A terminal cannot cross the JSON channel: `ssh -t HOST doeff-agents
        // attach NAME`, NAME checked here to be a session name (no shell text).
        Command::Attach(args) => {
            if args.raw_target {
                return Err(Error::InvalidInput(
                    "attach --raw-target with --host is not supported: attach to a doeff session"
                        .into(),
                ));
            }
            let full = crate::session::session_name(&args.name)?;
            let status = crate::remote::ssh::attach_command(host, &full)
                .status()
                .map_err(|e| Error::HostUnreachable {
                    host: host.name.clone(),
                    message: format!("cannot run ssh: {e}"),
                })?;
            Ok(status.code().unwrap_or(1))
        }
        Command::Watch(args) => {
            let name = args.name.clone().unwrap_or_default();
            let full = crate::session::session_name(&name)?;
            watch_one(host, &full, &args)
        }
        Command::Send(args) => {
            let connection = connect(host)?;
            let target = name_args(&args.name, args.raw_target);
            if !args.keys.is_empty() {
                crate::session::key_names(&args.keys)?;
                connection.call(
                    "keys",
                    with(target, json!({ "keys": args.keys })),
                    CALL_TIMEOUT,
                )?;
            } else {
                let text = args.text.unwrap_or_default();
                let _spinner = super::progress::Spinner::start(format!(
                    "waiting for {} on {} to take the message",
                    args.name, host.name
                ));
                connection.call(
                    "send",
                    with(target, json!({ "text": text, "enter": !args.no_enter })),
                    crate::session::SEND_LOCK_WAIT + CALL_TIMEOUT,
                )?;
            }
            Ok(0)
        }
        Command::Output(args) => {
            let connection = connect(host)?;
            let result = connection.call(
                "capture",
                with(
                    name_args(&args.name, args.raw_target),
                    json!({ "lines": args.lines }),
                ),
                CALL_TIMEOUT,
            )?;
            println!(
                "{}",
                result
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            Ok(0)
        }
        Command::Stop(args) => {
            let connection = connect(host)?;
            let result = connection.call(
                "stop",
                name_args(&args.name, args.raw_target),
                crate::session::STOP_GRACE + CALL_TIMEOUT,
            )?;
            let session = result
                .get("session")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if result.get("already").and_then(Value::as_bool) == Some(true) {
                println!("{session} was already stopped");
            } else {
                println!("stopped {session}");
            }
            Ok(0)
        }
        Command::Explain(args) => {
            let Some(name) = &args.name else {
                return Err(Error::InvalidInput(
                    "explain --screen reads a file here: run it without --host".into(),
                ));
            };
            let connection = connect(host)?;
            let result =
                connection.call("explain", name_args(name, args.raw_target), CALL_TIMEOUT)?;
            if args.json {
                println!("{result}");
            } else {
                let verdict: Verdict = serde_json::from_value(result.clone()).map_err(|e| {
                    Error::InvalidInput(format!(
                        "{}: an answer this client cannot read: {e}",
                        host.name
                    ))
                })?;
                let note: ReportNote = result
                    .get("agent")
                    .and_then(|agent| serde_json::from_value(agent.clone()).ok())
                    .unwrap_or_default();
                let warnings: Vec<String> = result
                    .get("warnings")
                    .and_then(|w| serde_json::from_value(w.clone()).ok())
                    .unwrap_or_default();
                println!("host:    {}", host.name);
                super::explain::print_verdict(&verdict, &warnings, &note, false);
            }
            Ok(0)
        }
        Command::Adapters(args) => {
            let connection = connect(host)?;
            let result = connection.call("adapters", json!({}), CALL_TIMEOUT)?;
            let list = |key: &str| {
                result
                    .get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            };
            let failed = !list("errors").is_empty()
                || list("adapters")
                    .iter()
                    .any(|a| a.get("error").is_some_and(|e| !e.is_null()));
            if args.json {
                println!("{result:#}");
            } else {
                println!(
                    "{:<12}  {:<9}  SOURCE (on {})",
                    "NAME", "AVAILABLE", host.name
                );
                for adapter in list("adapters") {
                    let field = |key: &str| {
                        adapter
                            .get(key)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let available = adapter.get("available").and_then(Value::as_bool) == Some(true);
                    println!(
                        "{:<12}  {:<9}  {}",
                        field("name"),
                        if available { "yes" } else { "no" },
                        field("source")
                    );
                }
                for error in list("errors") {
                    println!(
                        "error: {}",
                        error
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    );
                }
            }
            Ok(i32::from(failed))
        }
        _ => Err(Error::InvalidInput(format!(
            "this command does not take --host (run it on {} itself; scripts use agents.host)",
            host.name
        ))),
    }
}

fn launch(global: &GlobalArgs, host: &Host, args: super::run::RunArgs) -> Result<i32> {
    let _ = global;
    if args.resume.is_some() {
        return Err(Error::InvalidInput(
            "run --resume with --host is not supported: run it on the host".into(),
        ));
    }
    let agent = args
        .agent
        .clone()
        .ok_or_else(|| Error::InvalidInput("--agent is required".into()))?;
    let mut env = std::collections::BTreeMap::new();
    for pair in &args.env {
        let (key, value) = super::run::env_entry(pair)?;
        env.insert(key, value);
    }
    let name = args
        .session
        .clone()
        .unwrap_or_else(|| super::run::default_name(&agent));
    let full = crate::session::session_name(&name)?;
    let ready = super::run::seconds(args.ready_timeout, "--ready-timeout")?;
    let launch = crate::remote::protocol::LaunchArgs {
        name,
        agent,
        work_dir: args
            .work_dir
            .as_ref()
            .map(|d| d.to_string_lossy().into_owned()),
        prompt: args.prompt.clone(),
        profile: args.profile.clone(),
        model: args.model.clone(),
        env,
        skip_permissions: args.skip_permissions,
        accept_dialogs: args.accept_trust,
        ready_timeout: Some(ready.as_secs_f64()),
    };
    let connection = connect(host)?;
    let spinner = super::progress::Spinner::start(format!(
        "launching {full} on {}, waiting for it to be ready",
        host.name
    ));
    let result = connection.call(
        "launch",
        serde_json::to_value(&launch).unwrap_or_default(),
        ready + CALL_TIMEOUT + Duration::from_secs(10),
    );
    drop(spinner);
    let mut result = result?;
    drop(connection);
    if let Some(advice) = result.pointer("/waiting/advice").and_then(Value::as_str) {
        eprintln!("doeff-agents: {advice}");
    }
    let session = result
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&full)
        .to_owned();
    if !args.watch {
        if args.json {
            if let Some(object) = result.as_object_mut() {
                object.insert("host".into(), json!(host.name));
            }
            println!("{result}");
        } else {
            println!("{session}");
        }
        return Ok(0);
    }
    if !args.json {
        println!("launched {session} on {}", host.name);
    }
    let watch = super::watch::WatchArgs {
        name: Some(session.clone()),
        raw_target: false,
        interval: args.interval,
        timeout: args.timeout,
        json: args.json,
    };
    watch_one(host, &session, &watch)
}

/// One row of `ps` across hosts.
struct HostRow {
    host: String,
    row: SessionRow,
    stale: bool,
}

fn list_on(global: &GlobalArgs, place: &Place, all: bool) -> Result<Vec<SessionRow>> {
    let value = match place {
        Place::Local => {
            let agents = local_global(global).agents(super::Lifetime::OneShot)?;
            ops::run(&agents, "list", json!({ "all": all })).map_err(|e| Error::Remote {
                host: LOCAL.into(),
                kind: e.kind,
                message: e.message,
            })?
        }
        Place::Remote(host) => {
            Connection::open(host)?.call("list", json!({ "all": all }), CALL_TIMEOUT)?
        }
    };
    serde_json::from_value(value).map_err(|e| {
        Error::InvalidInput(format!(
            "{}: a list this client cannot read: {e}",
            place.name()
        ))
    })
}

fn ps(global: &GlobalArgs, places: &[Place], args: &super::ps::PsArgs) -> Result<i32> {
    let results: Vec<(String, Result<Vec<SessionRow>>)> = std::thread::scope(|scope| {
        let running: Vec<_> = places
            .iter()
            .map(|place| {
                (
                    place.name().to_owned(),
                    scope.spawn(|| list_on(global, place, args.all)),
                )
            })
            .collect();
        running
            .into_iter()
            .map(|(name, handle)| {
                let result = handle
                    .join()
                    .unwrap_or_else(|_| Err(Error::InvalidInput("listing failed".into())));
                (name, result)
            })
            .collect()
    });
    let mut rows = Vec::new();
    let mut unreachable = false;
    for (host, result) in results {
        match result {
            Ok(list) => {
                if host != LOCAL {
                    cache::save(&host, &list);
                }
                rows.extend(list.into_iter().map(|row| HostRow {
                    host: host.clone(),
                    row,
                    stale: false,
                }));
            }
            Err(err @ Error::HostUnreachable { .. }) => {
                unreachable = true;
                let known = cache::load(&host);
                eprintln!(
                    "doeff-agents: {err}{}",
                    if known.is_empty() {
                        ""
                    } else {
                        " (its last known sessions are marked stale)"
                    }
                );
                rows.extend(known.into_iter().map(|row| HostRow {
                    host: host.clone(),
                    row,
                    stale: true,
                }));
            }
            Err(err) => return Err(err),
        }
    }
    rows.retain(|r| !args.finished || r.row.status.is_terminal());
    print_rows(&rows, args.json);
    Ok(i32::from(unreachable))
}

fn print_rows(rows: &[HostRow], json_out: bool) {
    if json_out {
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut value = serde_json::to_value(&r.row).unwrap_or_default();
                if let Some(object) = value.as_object_mut() {
                    object.insert("host".into(), json!(r.host));
                    object.insert("stale".into(), json!(r.stale));
                }
                value
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into())
        );
        return;
    }
    let table: Vec<super::ps::TableRow<'_>> = rows
        .iter()
        .map(|r| super::ps::TableRow {
            host: Some(&r.host),
            row: &r.row,
            stale: r.stale,
        })
        .collect();
    super::ps::print_table(&table);
}

/// How `watch` prints what followers report.
struct Printer {
    json: bool,
    colour: bool,
    known: LastKnown,
}

impl Printer {
    fn new(json: bool) -> Printer {
        Printer {
            json,
            colour: style::colour_enabled(),
            known: Default::default(),
        }
    }

    /// Prints one update if it concerns `only` (a full session name) or
    /// every session when `only` is none.
    fn print(&mut self, update: &HostUpdate, only: Option<&str>) {
        self.known.update(update);
        match update {
            HostUpdate::Connected { .. } => {}
            HostUpdate::Event { host, event } => {
                if only.is_some_and(|o| o != event.session) {
                    return;
                }
                match event.kind.as_str() {
                    "status" => {
                        let Some(new) = event.new else { return };
                        let reason = event.reason.clone().unwrap_or_default();
                        if self.json {
                            let line = json!({
                                "time": style::timestamp(), "host": host, "session": event.session,
                                "old": event.old, "new": new, "reason": reason,
                                "evidence": event.evidence, "seq": event.seq,
                            });
                            println!("{line}");
                        } else {
                            let who = format!("{host}:{}", event.session);
                            match event.old {
                                Some(old) => println!(
                                    "{} {who} {old} -> {} ({reason})",
                                    style::timestamp(),
                                    style::status(new, self.colour)
                                ),
                                None => println!(
                                    "{} {who} {} ({reason})",
                                    style::timestamp(),
                                    style::status(new, self.colour)
                                ),
                            }
                        }
                    }
                    "pr" if !self.json => {
                        println!(
                            "{} {host}:{} PR {}",
                            style::timestamp(),
                            event.session,
                            event.url.as_deref().unwrap_or_default()
                        );
                    }
                    "pr" => {
                        let line = json!({"time": style::timestamp(), "host": host, "session": event.session,
                            "event": "pr", "url": event.url, "seq": event.seq});
                        println!("{line}");
                    }
                    "warning" => eprintln!(
                        "doeff-agents: {host}:{}: {}",
                        event.session,
                        event.message.as_deref().unwrap_or_default()
                    ),
                    _ => {}
                }
            }
            HostUpdate::Unreachable { host, message } => {
                let stale: Vec<(String, SessionStatus)> = self
                    .known
                    .of(host)
                    .into_iter()
                    .filter(|(s, _)| only.is_none_or(|o| o == s))
                    .collect();
                if self.json {
                    let sessions: Vec<Value> = stale
                        .iter()
                        .map(|(s, status)| json!({"session": s, "status": status, "stale": true}))
                        .collect();
                    let line = json!({"time": style::timestamp(), "host": host,
                        "event": "host_unreachable", "message": message, "sessions": sessions});
                    println!("{line}");
                } else {
                    let known: Vec<String> = stale
                        .iter()
                        .map(|(s, st)| format!("{s} {st} (stale)"))
                        .collect();
                    println!(
                        "{} {host} host_unreachable: {message}{}",
                        style::timestamp(),
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!("; last known: {}", known.join(", "))
                        }
                    );
                }
            }
        }
    }
}

fn target(place: Place, global: &GlobalArgs) -> Target {
    match place {
        Place::Remote(host) => Target::Ssh(host),
        Place::Local => {
            let local = local_global(global);
            Target::Command {
                name: LOCAL.into(),
                make: Box::new(move || local_serve(&local)),
            }
        }
    }
}

/// `doeff-agents [-L/-S/--adapters as given] serve --stdio` on this machine.
fn local_serve(global: &GlobalArgs) -> std::process::Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "doeff-agents".into());
    let mut command = std::process::Command::new(exe);
    if let Some(name) = &global.socket_name {
        command.arg("-L").arg(name);
    }
    if let Some(path) = &global.socket_path {
        command.arg("-S").arg(path);
    }
    for dir in &global.adapter_dirs {
        command.arg("--adapters").arg(dir);
    }
    command
        .arg("serve")
        .arg("--stdio")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

fn deadline(args: &super::watch::WatchArgs) -> Result<Option<Instant>> {
    Ok(args
        .timeout
        .map(|t| super::run::seconds(t, "--timeout"))
        .transpose()?
        .map(|t| Instant::now() + t))
}

/// `watch NAME --host HOST`: that session's changes until it ends.
fn watch_one(host: &Host, session: &str, args: &super::watch::WatchArgs) -> Result<i32> {
    let deadline = deadline(args)?;
    // Resolves the name as the host does (a clear error when it is not there).
    let first = {
        let connection = connect(host)?;
        connection.call("observe", name_args(session, args.raw_target), CALL_TIMEOUT)?
    };
    let full = first
        .get("session")
        .and_then(Value::as_str)
        .unwrap_or(session)
        .to_owned();
    let mut printer = Printer::new(args.json);
    let mut status: SessionStatus = first
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or(SessionStatus::Running);
    if status.is_terminal() {
        printer.print(
            &HostUpdate::Event {
                host: host.name.clone(),
                event: crate::remote::protocol::Event {
                    kind: "status".into(),
                    session: full.clone(),
                    seq: None,
                    pane: None,
                    old: None,
                    new: Some(status),
                    reason: first
                        .get("reason")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    evidence: first.get("evidence").cloned(),
                    url: None,
                    message: None,
                    time_ms: 0,
                },
            },
            None,
        );
        return Ok(super::watch::WatchExit::Ended(status).code());
    }
    // Followed from where the host's records stood when it was observed.
    let seq = first.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let since = std::collections::BTreeMap::from([(full.clone(), seq)]);
    let followers = follow(vec![(Target::Ssh(host.clone()), since)]);
    loop {
        let wait = deadline.map_or(Duration::from_secs(3600), |d| {
            d.saturating_duration_since(Instant::now())
        });
        match followers.updates.recv_timeout(wait) {
            Ok(update) => {
                printer.print(&update, Some(&full));
                if let HostUpdate::Event { event, .. } = &update
                    && event.session == full
                    && event.kind == "status"
                    && let Some(new) = event.new
                {
                    status = new;
                    if new.is_terminal() {
                        return Ok(super::watch::WatchExit::Ended(new).code());
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(super::watch::WatchExit::Timeout(status).code());
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::InvalidInput("the followers ended".into()));
            }
        }
    }
}

/// `watch --host A --host B` / `watch --all-hosts`: every session's changes
/// on those hosts, until `--timeout` (exit 0) or Ctrl-C.
fn watch_all(
    global: &GlobalArgs,
    places: Vec<Place>,
    args: &super::watch::WatchArgs,
) -> Result<i32> {
    let deadline = deadline(args)?;
    let targets = places
        .into_iter()
        .map(|p| (target(p, global), Default::default()))
        .collect();
    let followers = follow(targets);
    let mut printer = Printer::new(args.json);
    loop {
        let wait = deadline.map_or(Duration::from_secs(3600), |d| {
            d.saturating_duration_since(Instant::now())
        });
        match followers.updates.recv_timeout(wait) {
            Ok(update) => printer.print(&update, None),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(0);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
        }
    }
}
