//! The Lua scripting API: the `agents` module that scripts, the REPL and the
//! supervisor see (`module.rs`), session handles (`handle.rs`), effects from
//! Lua (`effects.rs`), other machines (`host.rs`), notifications
//! (`notify.rs`) and the supervisor (`supervise/`). The VM itself, its
//! budget and its errors are the sandbox's (`crate::sandbox`), re-exported
//! here as they always were.

mod convert;
mod effects;
mod handle;
mod host;
mod module;
pub mod notify;
mod observe_all;
pub mod supervise;

pub use effects::LuaHandler;
pub use handle::LuaSession;
pub use module::{Printer, install};

pub use crate::sandbox::{
    BUDGET_EXCEEDED, CALL_BUDGET, LOAD_BUDGET, LuaHost, MEMORY_LIMIT, error_message, interrupt,
    with_full_path,
};
