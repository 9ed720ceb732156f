//! Session handles for Lua: `agents.session(name)` and `agents.launch` return
//! a userdata that holds the session's name and resolves it on every call
//! (a session that died gives `nil, message` or an `exited` observation, never
//! a crash). The handle keeps the monitor history between `s:observe()` calls.

use std::sync::Mutex;

use mlua::{Lua, MultiValue, Table, UserData, UserDataFields, UserDataMethods, Value};

use super::convert::{observation_table, session_table, soft};
use crate::error::Error;
use crate::session::{AgentSession, Agents};

/// A Lua handle on one session.
pub struct LuaSession {
    agents: Agents,
    name: String,
    cached: Mutex<AgentSession>,
}

impl LuaSession {
    pub fn new(agents: Agents, session: AgentSession) -> LuaSession {
        LuaSession {
            agents,
            name: session.session_name.clone(),
            cached: Mutex::new(session),
        }
    }

    /// The live session, refreshed by name; the cached one (with its history)
    /// when the pane is the same.
    fn resolve(&self) -> crate::Result<AgentSession> {
        let live = self.agents.session(&self.name)?;
        let mut cached = self.lock()?;
        if cached.pane_id != live.pane_id {
            *cached = live;
        }
        Ok(cached.clone())
    }

    fn lock(&self) -> crate::Result<std::sync::MutexGuard<'_, AgentSession>> {
        self.cached
            .lock()
            .map_err(|_| Error::Lua("session handle lock poisoned".into()))
    }

    /// The session with its monitor history, for a batched pass
    /// (`agents.observe_all`); [`LuaSession::store`] puts it back.
    pub(crate) fn snapshot(&self) -> crate::Result<AgentSession> {
        Ok(self.lock()?.clone())
    }

    /// Keeps what a batched pass learnt about the session.
    pub(crate) fn store(&self, session: AgentSession) -> crate::Result<()> {
        *self.lock()? = session;
        Ok(())
    }

    fn observe(&self) -> crate::Result<crate::monitor::Observation> {
        let mut cached = self.lock()?;
        self.agents.observe(&mut cached)
    }
}

fn send_opts(opts: Option<Table>) -> mlua::Result<bool> {
    match opts {
        Some(t) => Ok(t.get::<Option<bool>>("enter")?.unwrap_or(true)),
        None => Ok(true),
    }
}

/// Key names from `("Down", "Enter")` or `({ "Down", "Enter" })`.
fn key_args(args: &[Value]) -> crate::Result<Vec<String>> {
    let bad = || Error::InvalidInput("send_keys: keys are strings, or one list of strings".into());
    let values: Vec<Value> = match args {
        [Value::Table(list)] => list
            .sequence_values::<Value>()
            .collect::<mlua::Result<_>>()
            .map_err(|_| bad())?,
        _ => args.to_vec(),
    };
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.to_str().map(|s| s.to_owned()).map_err(|_| bad()),
            _ => Err(bad()),
        })
        .collect()
}

impl UserData for LuaSession {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("name", |_, this| Ok(this.name.clone()));
        // The pane last seen for it (what `agents.run_loop` waits on).
        fields.add_field_method_get("pane_id", |_, this| {
            Ok(this.lock().ok().map(|s| s.pane_id.clone()))
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method(
            "send",
            |lua, this, (text, opts): (mlua::String, Option<Table>)| {
                let enter = send_opts(opts)?;
                let text = text
                    .to_str()
                    .map(|s| s.to_owned())
                    .map_err(|_| mlua::Error::runtime("send: the text is not valid UTF-8"));
                let result = text
                    .map_err(|e| Error::InvalidInput(e.to_string()))
                    .and_then(|text| {
                        let session = this.resolve()?;
                        this.agents
                            .send_message(&session, &text, enter)
                            .map(|()| true)
                    });
                soft(lua, result)
            },
        );
        // s:send_keys{ "Down", "Enter" } or s:keys("Down", "Enter"): named
        // keys at once (allow-listed), for answering dialogs.
        for name in ["send_keys", "keys"] {
            methods.add_method(name, |lua, this, args: mlua::Variadic<Value>| {
                let result = key_args(&args).and_then(|keys| {
                    let session = this.resolve()?;
                    this.agents.send_keys(&session, &keys).map(|()| true)
                });
                soft(lua, result)
            });
        }
        methods.add_method("capture", |lua, this, opts: Option<Table>| {
            let lines = match opts {
                Some(t) => t.get::<Option<usize>>("lines")?.unwrap_or(100),
                None => 100,
            };
            let result = this
                .resolve()
                .and_then(|s| this.agents.capture_output(&s, lines));
            soft(lua, result)
        });
        methods.add_method("observe", |lua, this, ()| match this.observe() {
            Ok(o) => {
                observation_table(lua, &o).map(|t| MultiValue::from_vec(vec![Value::Table(t)]))
            }
            Err(err) => soft::<bool>(lua, Err(err)),
        });
        methods.add_method("status", |lua, this, ()| match this.observe() {
            Ok(o) => soft(lua, Ok(o.status.as_str().to_owned())),
            Err(err) => soft::<String>(lua, Err(err)),
        });
        methods.add_method("stop", |lua, this, ()| {
            let result = this
                .lock()
                .and_then(|mut s| this.agents.stop_session(&mut s).map(|()| true));
            soft(lua, result)
        });
        methods.add_method("attach", |lua, this, ()| {
            let result = this
                .resolve()
                .and_then(|s| this.agents.attach_session(&s).map(|()| true));
            soft(lua, result)
        });
        methods.add_method("info", |lua, this, ()| match this.resolve() {
            Ok(s) => session_table(lua, &s).map(|t| MultiValue::from_vec(vec![Value::Table(t)])),
            Err(err) => soft::<bool>(lua, Err(err)),
        });
        methods.add_meta_method("__tostring", |_, this, ()| {
            Ok(format!("session({})", this.name))
        });
    }
}

/// Wraps a session in a Lua handle.
pub fn handle(
    lua: &Lua,
    agents: &Agents,
    session: AgentSession,
) -> mlua::Result<mlua::AnyUserData> {
    lua.create_userdata(LuaSession::new(agents.clone(), session))
}
