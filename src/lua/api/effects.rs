//! Effects from Lua: handlers as userdata (`agents.tmux_handler()`,
//! `agents.mock_handler{sessions = ...}`) that interpret effect tables
//! (`{effect = "launch", ...}` made by `agents.effects.*`), the mock's
//! records, and the built-in Rust programs (`agents.programs.*`). The
//! coroutine driver `agents.run(program, handler)` lives in the Lua runtime.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mlua::{Function, Lua, MultiValue, Table, UserData, UserDataMethods, Value};

use crate::effects::{
    AgentHandler, AgentResult, Effect, EffectResult, MockAgentHandler, MockSessionScript,
    RunOptions, SessionHandle, TmuxAgentHandler, dispatch_effect, programs,
};
use crate::error::Error;
use crate::lua::convert::{launch_config, observation_table, seconds, soft};
use crate::monitor::SessionStatus;
use crate::session::Agents;

enum Inner {
    Tmux(TmuxAgentHandler),
    Mock(MockAgentHandler),
}

/// A handler as Lua sees it.
pub struct LuaHandler {
    inner: Mutex<Inner>,
}

impl LuaHandler {
    fn with<T>(&self, f: impl FnOnce(&mut dyn AgentHandler) -> T) -> mlua::Result<T> {
        let mut inner = self.inner.try_lock().map_err(|_| {
            mlua::Error::runtime("the handler is busy (called from inside its own program?)")
        })?;
        Ok(match &mut *inner {
            Inner::Tmux(h) => f(h),
            Inner::Mock(h) => f(h),
        })
    }

    fn with_mock<T>(&self, f: impl FnOnce(&mut MockAgentHandler) -> T) -> mlua::Result<T> {
        let mut inner = self
            .inner
            .try_lock()
            .map_err(|_| mlua::Error::runtime("the handler is busy"))?;
        match &mut *inner {
            Inner::Mock(h) => Ok(f(h)),
            Inner::Tmux(_) => Err(mlua::Error::runtime(
                "only the mock handler keeps these records",
            )),
        }
    }
}

fn unix_secs(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A `SessionHandle` as a table.
fn handle_table(lua: &Lua, h: &SessionHandle) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("session_name", h.session_name())?;
    t.set("pane_id", h.pane_id())?;
    t.set("agent_type", h.agent_type().to_string())?;
    t.set("work_dir", h.work_dir().to_string_lossy().into_owned())?;
    t.set("started_at", unix_secs(h.started_at()))?;
    Ok(t)
}

fn handle_from(table: &Table) -> mlua::Result<SessionHandle> {
    let agent: String = table.get("agent_type")?;
    let started: f64 = table.get::<Option<f64>>("started_at")?.unwrap_or(0.0);
    Ok(SessionHandle::new(
        table.get::<String>("session_name")?,
        table.get::<String>("pane_id")?,
        agent.parse().map_err(mlua::Error::runtime)?,
        table.get::<String>("work_dir")?,
        UNIX_EPOCH + Duration::try_from_secs_f64(started).unwrap_or_default(),
    ))
}

/// An effect table as an `Effect`.
fn effect_from(table: &Table) -> mlua::Result<Effect> {
    let kind: String = table.get("effect")?;
    let handle = || -> mlua::Result<SessionHandle> { handle_from(&table.get::<Table>("handle")?) };
    Ok(match kind.as_str() {
        "launch" => {
            let config = launch_config(&table.get::<Table>("config")?)?;
            let ready_timeout = match table.get::<Option<f64>>("ready_timeout")? {
                Some(s) => seconds(s, "ready_timeout")?,
                None => config.ready_timeout,
            };
            Effect::Launch {
                session_name: table.get("name")?,
                config,
                ready_timeout,
            }
        }
        "monitor" => Effect::Monitor(handle()?),
        "capture" => Effect::Capture {
            handle: handle()?,
            lines: table.get::<Option<usize>>("lines")?.unwrap_or(100),
        },
        "send" => Effect::Send {
            handle: handle()?,
            message: table.get("message")?,
            enter: table.get::<Option<bool>>("enter")?.unwrap_or(true),
            literal: table.get::<Option<bool>>("literal")?.unwrap_or(true),
        },
        "stop" => Effect::Stop(handle()?),
        "sleep" => Effect::Sleep(seconds(table.get("seconds")?, "sleep")?),
        other => return Err(mlua::Error::runtime(format!("unknown effect {other:?}"))),
    })
}

fn result_value(lua: &Lua, result: EffectResult) -> mlua::Result<Value> {
    Ok(match result {
        EffectResult::Launched(h) => Value::Table(handle_table(lua, &h)?),
        EffectResult::Observed(o) => Value::Table(observation_table(lua, &o)?),
        EffectResult::Captured(text) => Value::String(lua.create_string(&text)?),
        EffectResult::Sent | EffectResult::Stopped | EffectResult::Slept => Value::Boolean(true),
    })
}

fn result_table(lua: &Lua, r: &AgentResult) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("handle", handle_table(lua, &r.handle)?)?;
    t.set("final_status", r.final_status.as_str())?;
    t.set("output", r.output.as_str())?;
    t.set("pr_url", r.pr_url.clone())?;
    t.set("iterations", r.iterations)?;
    t.set("succeeded", r.succeeded)?;
    t.set("failed", r.failed)?;
    Ok(t)
}

/// An `AgentResult` as `result` or `nil, message`.
fn agent_result(lua: &Lua, result: crate::Result<AgentResult>) -> mlua::Result<MultiValue> {
    match result {
        Ok(r) => soft(lua, Ok(result_table(lua, &r)?)),
        Err(err) => soft::<bool>(lua, Err(err)),
    }
}

fn run_options(opts: Option<Table>) -> mlua::Result<RunOptions> {
    let mut options = RunOptions::default();
    if let Some(t) = opts {
        if let Some(s) = t.get::<Option<f64>>("poll_interval")? {
            options.poll_interval = seconds(s, "poll_interval")?;
        }
        if let Some(n) = t.get::<Option<usize>>("timeout_iterations")? {
            options.timeout_iterations = Some(n);
        }
        if let Some(n) = t.get::<Option<usize>>("capture_lines")? {
            options.capture_lines = n;
        }
        if let Some(s) = t.get::<Option<f64>>("ready_timeout")? {
            options.ready_timeout = seconds(s, "ready_timeout")?;
        }
    }
    Ok(options)
}

/// Calls a Lua observer, ignoring its errors (a callback must not stop a run).
fn observer(lua: &Lua, f: Option<Function>) -> impl FnMut(&crate::monitor::Observation) + '_ {
    move |o| {
        if let (Some(f), Ok(t)) = (&f, observation_table(lua, o)) {
            let _ = f.call::<()>(t);
        }
    }
}

impl UserData for LuaHandler {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("dispatch", |lua, this, effect: Table| {
            let effect = effect_from(&effect)?;
            match this.with(|h| dispatch_effect(h, effect))? {
                Ok(result) => Ok(MultiValue::from_vec(vec![result_value(lua, result)?])),
                Err(err) => soft::<bool>(lua, Err(err)),
            }
        });
        methods.add_method("sent_messages", |lua, this, ()| {
            let sent = this.with_mock(|m| m.sent_messages().to_vec())?;
            let list = lua.create_table()?;
            for s in sent {
                let row = lua.create_table()?;
                row.set("session", s.session)?;
                row.set("message", s.message)?;
                row.set("enter", s.enter)?;
                list.push(row)?;
            }
            Ok(list)
        });
        methods.add_method("sleeps", |lua, this, ()| {
            let sleeps: Vec<f64> =
                this.with_mock(|m| m.sleeps().iter().map(Duration::as_secs_f64).collect())?;
            lua.create_sequence_from(sleeps)
        });
        methods.add_method("total_sleep_time", |_, this, ()| {
            this.with_mock(|m| m.total_sleep_time().as_secs_f64())
        });
        methods.add_method("launches", |lua, this, ()| {
            let names: Vec<String> =
                this.with_mock(|m| m.launches().iter().map(|(n, _)| n.clone()).collect())?;
            lua.create_sequence_from(names)
        });
        methods.add_method("stops", |lua, this, ()| {
            let names = this.with_mock(|m| m.stops().to_vec())?;
            lua.create_sequence_from(names)
        });
        methods.add_method("status", |_, this, name: String| {
            this.with_mock(|m| m.status(&full(&name)).map(|s| s.as_str().to_owned()))
        });
        methods.add_method("output", |_, this, name: String| {
            this.with_mock(|m| m.output(&full(&name)).map(str::to_owned))
        });
        methods.add_method(
            "configure_session",
            |lua, this, (name, steps, initial): (String, Table, Option<String>)| {
                let script = script_from(&steps)?;
                let result = this.with_mock(|m| {
                    m.configure_session(&name, script, initial.unwrap_or_default())
                })?;
                soft(lua, result.map(|()| true))
            },
        );
    }
}

fn full(name: &str) -> String {
    crate::session::session_name(name).unwrap_or_else(|_| name.to_owned())
}

/// `{{"running", "Working..."}, {"done", "Complete!"}}` as a mock script.
fn script_from(steps: &Table) -> mlua::Result<MockSessionScript> {
    let mut parsed = Vec::new();
    for step in steps.sequence_values::<Table>() {
        let step = step?;
        let status: String = step.get(1)?;
        let status: SessionStatus = status.parse().map_err(mlua::Error::runtime)?;
        let output: String = step.get::<Option<String>>(2)?.unwrap_or_default();
        parsed.push((status, output));
    }
    Ok(MockSessionScript::new(parsed))
}

fn program_error(err: Error) -> mlua::Error {
    mlua::Error::runtime(err.to_string())
}

/// Adds `tmux_handler`, `mock_handler` and `programs` to the module.
pub(crate) fn register(lua: &Lua, module: &Table, agents: &Agents) -> mlua::Result<()> {
    let a = agents.clone();
    module.set(
        "tmux_handler",
        lua.create_function(move |_, ()| {
            Ok(LuaHandler {
                inner: Mutex::new(Inner::Tmux(TmuxAgentHandler::new(a.clone()))),
            })
        })?,
    )?;
    module.set(
        "mock_handler",
        lua.create_function(|_, opts: Option<Table>| {
            let mut mock = MockAgentHandler::new();
            if let Some(opts) = opts
                && let Some(sessions) = opts.get::<Option<Table>>("sessions")?
            {
                for pair in sessions.pairs::<String, Table>() {
                    let (name, steps) = pair?;
                    mock.configure_session(&name, script_from(&steps)?, "")
                        .map_err(program_error)?;
                }
            }
            Ok(LuaHandler {
                inner: Mutex::new(Inner::Mock(mock)),
            })
        })?,
    )?;
    let programs_table = lua.create_table()?;
    programs_table.set(
        "run_agent_to_completion",
        lua.create_function(
            |lua,
             (h, name, cfg, opts, on_obs): (
                mlua::AnyUserData,
                String,
                Table,
                Option<Table>,
                Option<Function>,
            )| {
                let handler = h.borrow::<LuaHandler>()?;
                let config = launch_config(&cfg)?;
                let options = run_options(opts)?;
                let result = handler.with(|h| {
                    programs::run_agent_to_completion(
                        h,
                        &name,
                        &config,
                        &options,
                        observer(lua, on_obs),
                    )
                })?;
                agent_result(lua, result)
            },
        )?,
    )?;
    programs_table.set(
        "interactive_session",
        lua.create_function(
            |lua,
             (h, name, cfg, messages, opts): (
                mlua::AnyUserData,
                String,
                Table,
                Vec<String>,
                Option<Table>,
            )| {
                let handler = h.borrow::<LuaHandler>()?;
                let config = launch_config(&cfg)?;
                let options = run_options(opts)?;
                let result = handler.with(|h| {
                    programs::interactive_session(h, &name, &config, messages, &options, |_| {})
                })?;
                agent_result(lua, result)
            },
        )?,
    )?;
    programs_table.set(
        "quick_agent",
        lua.create_function(
            |lua,
             (h, name, agent, work_dir, prompt): (
                mlua::AnyUserData,
                String,
                String,
                String,
                String,
            )| {
                let handler = h.borrow::<LuaHandler>()?;
                let agent = agent.parse().map_err(mlua::Error::runtime)?;
                let result =
                    handler.with(|h| programs::quick_agent(h, &name, agent, work_dir, prompt))?;
                agent_result(lua, result)
            },
        )?,
    )?;
    programs_table.set(
        "monitor_until_terminal",
        lua.create_function(
            |lua, (h, handle, poll, max): (mlua::AnyUserData, Table, Option<f64>, Option<usize>)| {
                let handler = h.borrow::<LuaHandler>()?;
                let handle = handle_from(&handle)?;
                let poll = seconds(poll.unwrap_or(1.0), "poll_interval")?;
                let result = handler.with(|h| programs::monitor_until_terminal(h, &handle, poll, max, |_| {}))?;
                match result {
                    Ok(o) => soft(lua, Ok(observation_table(lua, &o)?)),
                    Err(err) => soft::<bool>(lua, Err(err)),
                }
            },
        )?,
    )?;
    module.set("programs", programs_table)?;
    Ok(())
}
