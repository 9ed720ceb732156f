//! `agents.host(name)`: the `agents` API bound to another machine, reached
//! over ssh like `--host NAME` (a hosts.toml name or an ssh destination;
//! `"local"` is this machine's own `serve`). A host object has `name`,
//! `h:launch(name, cfg)`, `h:list()`, `h:session(name)` (a handle with
//! `name`, `host`, `send`, `send_keys`, `capture`, `status`, `observe`,
//! `stop`), `h:watch(name, {timeout=})` and `h:follow(fn, {timeout=})`;
//! `agents.follow_hosts({h1, h2}, fn, {timeout=})` follows several at once.
//!
//! Followers call `fn(event)` for every change on those hosts:
//! `{kind="status", host, session, old, new, reason, seq}`, `{kind="pr",
//! host, session, url}`, `{kind="warning", host, session, message}` and
//! `{kind="host_unreachable", host, message, sessions={{session, status,
//! stale=true}}}`; it returns true to stop. Expected failures (a host that
//! cannot be reached, a session that is not there) return `nil, message`;
//! the channel is opened on first use and again after it failed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mlua::{
    Function, Lua, LuaSerdeExt, MultiValue, SerializeOptions, Table, UserData, UserDataMethods,
    Value,
};
use serde_json::json;

use crate::error::{Error, Result};
use crate::lua::convert::{launch_config, seconds, soft};
use crate::remote::client::{CALL_TIMEOUT, Connection};
use crate::remote::follow::{HostUpdate, LastKnown, Target, follow};
use crate::remote::hosts::{self, Host, LOCAL};
use crate::remote::protocol::LaunchArgs;

/// A host and its channel (opened on first use, again after a failure).
struct Remote {
    host: Place,
    channel: Mutex<Option<Arc<Connection>>>,
}

#[derive(Clone)]
enum Place {
    Ssh(Host),
    Local,
}

impl Place {
    fn name(&self) -> &str {
        match self {
            Place::Ssh(host) => &host.name,
            Place::Local => LOCAL,
        }
    }

    fn target(&self) -> Target {
        match self {
            Place::Ssh(host) => Target::Ssh(host.clone()),
            Place::Local => Target::Command {
                name: LOCAL.into(),
                make: Box::new(local_serve),
            },
        }
    }
}

/// This machine's `serve`, on the tmux server the script uses.
fn local_serve() -> std::process::Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "doeff-agents".into());
    let mut command = std::process::Command::new(exe);
    command
        .args(["serve", "--stdio"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

impl Remote {
    fn call(
        &self,
        op: &str,
        args: serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value> {
        let channel = {
            let mut slot = self.channel.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.as_ref().filter(|c| c.is_alive()) {
                Some(channel) => channel.clone(),
                None => {
                    let opened = Arc::new(match &self.host {
                        Place::Ssh(host) => Connection::open(host)?,
                        Place::Local => {
                            Connection::spawn(LOCAL, local_serve(), hosts::DEFAULT_CONNECT_TIMEOUT)?
                        }
                    });
                    *slot = Some(opened.clone());
                    opened
                }
            }
        };
        let result = channel.call(op, args, timeout);
        if matches!(result, Err(Error::HostUnreachable { .. })) {
            // A timed-out or dead channel is not reused.
            channel.close();
            *self.channel.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        result
    }
}

fn to_lua(lua: &Lua, value: &serde_json::Value) -> mlua::Result<Value> {
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    lua.to_value_with(value, options)
}

/// `{kind=..., host=...}` for one update (None for a connection report).
fn update_table(lua: &Lua, update: &HostUpdate, known: &LastKnown) -> mlua::Result<Option<Table>> {
    let table = lua.create_table()?;
    match update {
        HostUpdate::Connected { .. } => return Ok(None),
        HostUpdate::Event { host, event } => {
            let Value::Table(t) = to_lua(lua, &serde_json::to_value(event).unwrap_or_default())?
            else {
                return Ok(None);
            };
            t.set("host", host.as_str())?;
            return Ok(Some(t));
        }
        HostUpdate::Unreachable { host, message } => {
            table.set("kind", "host_unreachable")?;
            table.set("host", host.as_str())?;
            table.set("message", message.as_str())?;
            let sessions = lua.create_table()?;
            for (session, status) in known.of(host) {
                let row = lua.create_table()?;
                row.set("session", session)?;
                row.set("status", status.as_str())?;
                row.set("stale", true)?;
                sessions.push(row)?;
            }
            table.set("sessions", sessions)?;
        }
    }
    Ok(Some(table))
}

/// Follows `targets`, calling `callback` per update until it returns true
/// (then true) or `timeout` passes (then false).
fn run_follow(
    lua: &Lua,
    targets: Vec<(Target, BTreeMap<String, u64>)>,
    callback: &Function,
    timeout: Option<Duration>,
) -> mlua::Result<bool> {
    let followers = follow(targets);
    let deadline = timeout.map(|t| Instant::now() + t.min(Duration::from_secs(86_400 * 365)));
    let mut known = LastKnown::default();
    loop {
        let wait = deadline.map_or(Duration::from_secs(3600), |d| {
            d.saturating_duration_since(Instant::now())
        });
        match followers.updates.recv_timeout(wait) {
            Ok(update) => {
                known.update(&update);
                if let Some(event) = update_table(lua, &update, &known)? {
                    let stop: Value = callback.call(event)?;
                    if stop.as_boolean() == Some(true) {
                        return Ok(true);
                    }
                }
            }
            Err(_) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
            }
        }
    }
}

fn timeout_of(options: &Option<Table>) -> mlua::Result<Option<Duration>> {
    match options {
        Some(t) => t
            .get::<Option<f64>>("timeout")?
            .map(|s| seconds(s, "timeout"))
            .transpose(),
        None => Ok(None),
    }
}

/// `agents.host(name)`.
#[derive(Clone)]
struct HostObject(Arc<Remote>);

/// `h:session(name)`.
#[derive(Clone)]
struct HostSession {
    remote: Arc<Remote>,
    name: String,
}

impl HostSession {
    fn call(
        &self,
        op: &str,
        extra: serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value> {
        let mut args = json!({ "name": self.name });
        if let (Some(args), serde_json::Value::Object(extra)) = (args.as_object_mut(), extra) {
            args.extend(extra);
        }
        self.remote.call(op, args, timeout)
    }
}

impl UserData for HostSession {
    fn add_fields<F: mlua::UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("name", |_, this| Ok(this.name.clone()));
        fields.add_field_method_get("host", |_, this| Ok(this.remote.host.name().to_owned()));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method(
            "send",
            |lua, this, (text, enter): (String, Option<bool>)| {
                let sent = this.call(
                    "send",
                    json!({ "text": text, "enter": enter.unwrap_or(true) }),
                    crate::session::SEND_LOCK_WAIT + CALL_TIMEOUT,
                );
                soft(lua, sent.map(|_| true))
            },
        );
        methods.add_method("send_keys", |lua, this, keys: Vec<String>| {
            soft(
                lua,
                this.call("keys", json!({ "keys": keys }), CALL_TIMEOUT)
                    .map(|_| true),
            )
        });
        methods.add_method("capture", |lua, this, options: Option<Table>| {
            let lines = match &options {
                Some(t) => t.get::<Option<usize>>("lines")?.unwrap_or(100),
                None => 100,
            };
            let text = this
                .call("capture", json!({ "lines": lines }), CALL_TIMEOUT)
                .map(|v| {
                    v.get("text")
                        .and_then(|t| t.as_str())
                        .unwrap_or_default()
                        .to_owned()
                });
            soft(lua, text)
        });
        methods.add_method("observe", |lua, this, ()| {
            match this.call("observe", json!({}), CALL_TIMEOUT) {
                Ok(value) => {
                    let table = to_lua(lua, &value)?;
                    soft(lua, Ok(table))
                }
                Err(err) => soft::<Value>(lua, Err(err)),
            }
        });
        methods.add_method("status", |lua, this, ()| {
            let status = this.call("observe", json!({}), CALL_TIMEOUT).map(|v| {
                v.get("status")
                    .and_then(|s| s.as_str())
                    .unwrap_or_default()
                    .to_owned()
            });
            soft(lua, status)
        });
        methods.add_method("stop", |lua, this, ()| {
            let stopped = this.call("stop", json!({}), crate::session::STOP_GRACE + CALL_TIMEOUT);
            soft(lua, stopped.map(|_| true))
        });
    }
}

impl UserData for HostObject {
    fn add_fields<F: mlua::UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("name", |_, this| Ok(this.0.host.name().to_owned()));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("launch", |lua, this, (name, cfg): (String, Table)| {
            let config = launch_config(&cfg)?;
            let ready = config.ready_timeout;
            let args = LaunchArgs {
                name,
                agent: config.agent_type.to_string(),
                work_dir: Some(config.work_dir.to_string_lossy().into_owned()),
                prompt: config.prompt.clone(),
                profile: config.profile.clone(),
                model: config.model.clone(),
                env: config.env.clone(),
                skip_permissions: config.skip_permissions,
                accept_dialogs: config.accept_dialogs,
                ready_timeout: Some(ready.as_secs_f64()),
            };
            let launched = this.0.call(
                "launch",
                serde_json::to_value(&args).unwrap_or_default(),
                ready + CALL_TIMEOUT + Duration::from_secs(10),
            );
            let session = launched.map(|value| HostSession {
                remote: this.0.clone(),
                name: value
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or(&args.name)
                    .to_owned(),
            });
            soft(lua, session)
        });
        methods.add_method("session", |_, this, name: String| {
            Ok(HostSession {
                remote: this.0.clone(),
                name,
            })
        });
        methods.add_method("list", |lua, this, options: Option<Table>| {
            let all = match &options {
                Some(t) => t.get::<Option<bool>>("all")?.unwrap_or(false),
                None => false,
            };
            match this.0.call("list", json!({ "all": all }), CALL_TIMEOUT) {
                Ok(mut rows) => {
                    for row in rows.as_array_mut().into_iter().flatten() {
                        if let Some(row) = row.as_object_mut() {
                            row.insert("host".into(), json!(this.0.host.name()));
                        }
                    }
                    let table = to_lua(lua, &rows)?;
                    soft(lua, Ok(table))
                }
                Err(err) => soft::<Value>(lua, Err(err)),
            }
        });
        methods.add_method(
            "follow",
            |lua, this, (callback, options): (Function, Option<Table>)| {
                let timeout = timeout_of(&options)?;
                run_follow(
                    lua,
                    vec![(this.0.host.target(), BTreeMap::new())],
                    &callback,
                    timeout,
                )
            },
        );
        methods.add_method(
            "watch",
            |lua, this, (name, options): (String, Option<Table>)| {
                let timeout = timeout_of(&options)?;
                let first = match this
                    .0
                    .call("observe", json!({ "name": name }), CALL_TIMEOUT)
                {
                    Ok(first) => first,
                    Err(err) => return soft::<Value>(lua, Err(err)),
                };
                let full = first
                    .get("session")
                    .and_then(|s| s.as_str())
                    .unwrap_or(&name)
                    .to_owned();
                let mut status = first
                    .get("status")
                    .and_then(|s| s.as_str())
                    .unwrap_or("running")
                    .to_owned();
                if first.get("is_terminal").and_then(|t| t.as_bool()) == Some(true) {
                    return soft(lua, Ok(status));
                }
                let seq = first.get("seq").and_then(|s| s.as_u64()).unwrap_or(0);
                let since = BTreeMap::from([(full.clone(), seq)]);
                let last = Arc::new(Mutex::new(status.clone()));
                let seen = last.clone();
                let target = full.clone();
                let callback = lua.create_function(move |_, event: Table| {
                    let session: Option<String> = event.get("session")?;
                    let new: Option<String> = event.get("new")?;
                    if session.as_deref() == Some(target.as_str())
                        && let Some(new) = new
                    {
                        let terminal = new
                            .parse::<crate::monitor::SessionStatus>()
                            .is_ok_and(|s| s.is_terminal());
                        *seen.lock().unwrap_or_else(PoisonError::into_inner) = new;
                        return Ok(terminal);
                    }
                    Ok(false)
                })?;
                run_follow(lua, vec![(this.0.host.target(), since)], &callback, timeout)?;
                status = last.lock().unwrap_or_else(PoisonError::into_inner).clone();
                soft(lua, Ok(status))
            },
        );
    }
}

/// Installs `agents.host` and `agents.follow_hosts` into `module`.
pub(crate) fn register(lua: &Lua, module: &Table) -> mlua::Result<()> {
    module.set(
        "host",
        lua.create_function(|lua, name: String| {
            let place = if name == LOCAL {
                Ok(Place::Local)
            } else {
                hosts::resolve(&name).map(Place::Ssh)
            };
            let object = place.map(|host| {
                HostObject(Arc::new(Remote {
                    host,
                    channel: Mutex::new(None),
                }))
            });
            soft(lua, object)
        })?,
    )?;
    module.set(
        "follow_hosts",
        lua.create_function(
            |lua, (list, callback, options): (Table, Function, Option<Table>)| {
                let mut targets = Vec::new();
                for value in list.sequence_values::<Value>() {
                    let value = value?;
                    let Value::UserData(data) = &value else {
                        return Err(mlua::Error::runtime(
                            "follow_hosts wants a list of agents.host(...) objects",
                        ));
                    };
                    let host = data.borrow::<HostObject>()?;
                    targets.push((host.0.host.target(), BTreeMap::new()));
                }
                let timeout = timeout_of(&options)?;
                let stopped = run_follow(lua, targets, &callback, timeout)?;
                Ok(MultiValue::from_vec(vec![Value::Boolean(stopped)]))
            },
        )?,
    )?;
    Ok(())
}

/// The hosts a supervisor follows beside its own tmux server: their status
/// changes and PRs, each with a handle on the session (as
/// `agents.host(h):session(name)` gives), for the scripts' handlers.
pub struct HostWatch {
    followers: crate::remote::follow::Follow,
    remotes: std::collections::HashMap<String, Arc<Remote>>,
    known: LastKnown,
    down: std::collections::HashSet<String>,
}

/// One thing a followed host said.
pub enum HostChange {
    /// `status_changed(session, old, new, observation)`.
    Status {
        session: mlua::AnyUserData,
        old: String,
        new: String,
        observation: Table,
    },
    /// `pr(session, url)`.
    Pr {
        session: mlua::AnyUserData,
        url: String,
    },
    /// For the supervisor's own report: a host reached, lost, or warning.
    Note(String),
}

impl HostWatch {
    /// Follows `hosts` (each over its own channel, reconnected with backoff).
    pub fn start(hosts: Vec<Host>) -> HostWatch {
        let remotes = hosts
            .iter()
            .map(|host| {
                let remote = Remote {
                    host: Place::Ssh(host.clone()),
                    channel: Mutex::new(None),
                };
                (host.name.clone(), Arc::new(remote))
            })
            .collect();
        let targets = hosts
            .into_iter()
            .map(|host| (Target::Ssh(host), BTreeMap::new()))
            .collect();
        HostWatch {
            followers: follow(targets),
            remotes,
            known: LastKnown::default(),
            down: std::collections::HashSet::new(),
        }
    }

    /// Everything the hosts said since the last call (never waits).
    pub fn take(&mut self, lua: &Lua) -> mlua::Result<Vec<HostChange>> {
        let mut changes = Vec::new();
        while let Ok(update) = self.followers.updates.try_recv() {
            self.known.update(&update);
            match &update {
                HostUpdate::Connected { host, sessions } => {
                    let again = if self.down.remove(host) { " again" } else { "" };
                    changes.push(HostChange::Note(format!(
                        "host {host} reached{again} ({} session(s))",
                        sessions.len()
                    )));
                }
                HostUpdate::Unreachable { host, message } => {
                    self.down.insert(host.clone());
                    changes.push(HostChange::Note(format!(
                        "{message}; the last statuses of its {} session(s) are stale",
                        self.known.of(host).len()
                    )));
                }
                HostUpdate::Event { host, event } => {
                    let Some(remote) = self.remotes.get(host) else {
                        continue;
                    };
                    let session = || {
                        lua.create_userdata(HostSession {
                            remote: remote.clone(),
                            name: event.session.clone(),
                        })
                    };
                    match event.kind.as_str() {
                        "status" => {
                            let Some(new) = event.new else { continue };
                            // The event as `follow_hosts` gives it, plus an
                            // observation's names for the handlers.
                            let Some(observation) = update_table(lua, &update, &self.known)? else {
                                continue;
                            };
                            let old = event.old.map_or("booting", |s| s.as_str());
                            observation.set("name", event.session.as_str())?;
                            observation.set("status", new.as_str())?;
                            observation.set("previous", old)?;
                            observation.set("is_terminal", new.is_terminal())?;
                            changes.push(HostChange::Status {
                                session: session()?,
                                old: old.to_owned(),
                                new: new.as_str().to_owned(),
                                observation,
                            });
                        }
                        "pr" => {
                            if let Some(url) = &event.url {
                                changes.push(HostChange::Pr {
                                    session: session()?,
                                    url: url.clone(),
                                });
                            }
                        }
                        _ => {
                            if let Some(message) = &event.message {
                                changes.push(HostChange::Note(format!(
                                    "host {host}: {}: {message}",
                                    event.session
                                )));
                            }
                        }
                    }
                }
            }
        }
        Ok(changes)
    }
}
