//! Ctrl-C in the REPL: SIGINT sets a process-wide flag (instead of ending
//! the process) and whatever runs notices it — the budget hook between Lua
//! instructions, and the module's blocking waits (`agents.sleep`, the
//! output waits of `agents.watch` and `agents.run_loop`) between short
//! slices — and fails the running statement with `interrupted`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The message of an interrupted statement.
pub const INTERRUPTED: &str = "interrupted";
/// How long a blocking wait sleeps between two looks at the flag.
pub const SLICE: Duration = Duration::from_millis(50);

static FLAG: AtomicBool = AtomicBool::new(false);
/// Set with FLAG, but only cleared by [`clear`]: a loop that must stop
/// (`agents.supervise` in the REPL) sees it even after Lua code took FLAG.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks the running statement to stop (the SIGINT handler calls it).
pub fn interrupt() {
    REQUESTED.store(true, Ordering::SeqCst);
    FLAG.store(true, Ordering::SeqCst);
}

/// Forgets an interrupt (before a new statement).
pub fn clear() {
    FLAG.store(false, Ordering::SeqCst);
    REQUESTED.store(false, Ordering::SeqCst);
}

/// True since an interrupt, until [`clear`], whoever took it.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// True once, for an interrupt not yet taken.
pub fn take() -> bool {
    FLAG.swap(false, Ordering::SeqCst)
}

/// True while an interrupt waits to be taken.
pub fn pending() -> bool {
    FLAG.load(Ordering::SeqCst)
}

/// `Err(interrupted)` when interrupted.
pub fn check() -> mlua::Result<()> {
    if take() {
        Err(mlua::Error::runtime(INTERRUPTED))
    } else {
        Ok(())
    }
}

/// Sleeps until `deadline`, in slices, failing when interrupted.
pub fn sleep_until(deadline: Instant) -> mlua::Result<()> {
    loop {
        check()?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(SLICE));
    }
}

extern "C" fn on_sigint(_: nix::libc::c_int) {
    // Async-signal-safe: two atomic stores.
    interrupt();
}

/// Makes SIGINT call [`interrupt`] directly. The REPL calls it after its
/// line editor is set up: rustyline replaces the SIGINT action for the
/// editor's lifetime (and puts the previous one back when dropped).
pub fn take_sigint() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to atomics.
    let _ = unsafe { sigaction(Signal::SIGINT, &action) };
}
