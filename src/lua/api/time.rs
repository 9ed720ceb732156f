//! The clock and the blocking waits the Lua runtime builds on:
//! `agents.now()` (seconds since the module was installed),
//! `agents._block_sleep(seconds)` (under `agents.sleep` outside a task) and
//! `agents._wait_output(seconds, pane_ids)` (under `agents.watch` and
//! `agents.run_loop`). Every wait is cut into slices, so Ctrl-C in the REPL
//! is noticed.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mlua::{Lua, Table};

use crate::lua::convert::seconds;
use crate::sandbox::interrupt;
use crate::session::{Agents, DEFAULT_DEBOUNCE};

/// Adds `now`, `_block_sleep` and `_wait_output` to `module`.
pub(crate) fn register(lua: &Lua, module: &Table, agents: &Agents) -> mlua::Result<()> {
    let started = Instant::now();
    module.set(
        "now",
        lua.create_function(move |_, ()| Ok(started.elapsed().as_secs_f64()))?,
    )?;
    module.set(
        "_block_sleep",
        lua.create_function(|_, secs: f64| {
            let wait = seconds(secs, "sleep")?.min(Duration::from_secs(86_400 * 365));
            interrupt::sleep_until(Instant::now() + wait)
        })?,
    )?;
    module.set("_wait_output", wait_output_fn(lua, agents)?)
}

/// `agents._wait_output(seconds, pane_ids)`: blocks until one of the panes
/// prints (then a short debounce) or `seconds` pass; true when woken by
/// output. Over a control-mode transport with output events the panes are
/// watched (and panes no longer listed unwatched); otherwise it sleeps.
/// This is what makes `agents.watch` and `agents.run_loop` see a change at
/// once rather than at their next poll.
fn wait_output_fn(lua: &Lua, agents: &Agents) -> mlua::Result<mlua::Function> {
    let agents = agents.clone();
    let watched: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    lua.create_function(move |_, (secs, panes): (f64, Vec<String>)| {
        let wait = seconds(secs, "interval")?;
        // A huge interval is a day (Instant + Duration would overflow).
        let deadline = Instant::now() + wait.min(Duration::from_secs(86_400));
        let tmux = agents.tmux();
        let events = tmux.output_events().filter(|_| !panes.is_empty());
        let Some(events) = events else {
            interrupt::sleep_until(deadline)?;
            return Ok(false);
        };
        let wanted: HashSet<String> = panes.into_iter().collect();
        let mut linked = watched.lock().unwrap_or_else(PoisonError::into_inner);
        for gone in linked.difference(&wanted) {
            tmux.unwatch_pane(gone);
        }
        linked.retain(|pane| wanted.contains(pane));
        let mut newly_watched = false;
        for pane in &wanted {
            // Asked for even when not linked yet (the transport links it on
            // reconnecting), so it is also unwatched when no longer wanted.
            if linked.insert(pane.clone()) {
                let _ = tmux.watch_pane(pane);
                newly_watched = true;
            }
        }
        drop(linked);
        if newly_watched {
            // Output between the caller's last observation and the link
            // sent no event: have it observe once more now.
            return Ok(true);
        }
        // The events stay recorded: the caller's next batched pass
        // (`agents.observe_all`) reads which panes printed. Waited for in
        // slices, so Ctrl-C in the REPL is noticed.
        loop {
            interrupt::check()?;
            let slice = deadline.min(Instant::now() + interrupt::SLICE);
            if events.wait(slice, DEFAULT_DEBOUNCE) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    })
}
