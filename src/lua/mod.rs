//! The Lua scripting API: the `agents` module that scripts, the REPL and the
//! supervisor see, built one namespace per file (`api/`), over session
//! handles (`handle.rs`) and conversions (`convert.rs`), and the supervisor
//! (`supervise/`). The VM itself, its budget and its errors are the
//! sandbox's (`crate::sandbox`), re-exported here as they always were.

mod api;
mod convert;
mod handle;
pub mod supervise;

pub use api::{LuaHandler, Printer, install, notify};
pub use handle::LuaSession;

pub use crate::sandbox::{
    BUDGET_EXCEEDED, CALL_BUDGET, LOAD_BUDGET, LuaHost, MEMORY_LIMIT, error_message, interrupt,
    with_full_path,
};
