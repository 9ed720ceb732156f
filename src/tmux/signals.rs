//! Ending a long-lived program on SIGINT, SIGTERM or SIGHUP: its control
//! clients leave gracefully first (a client that just vanishes leaves
//! outside the server lock, which tmux 3.3a may not survive; see
//! `tmux::ServerLock`), then the process exits with 128 + the signal. A
//! second signal exits at once (leaving can wait on a wedged tmux server).

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

static ON_INTERRUPT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// From now on SIGINT calls `hook` instead of ending the process (SIGTERM
/// and SIGHUP still end it): the REPL's Ctrl-C interrupts the running
/// statement. Installs the handler if needed.
pub fn interrupt_on_sigint(hook: fn()) {
    let _ = ON_INTERRUPT.set(hook);
    leave_control_clients_on_signals();
}

/// Installs the handler (a thread waiting for the signals), once per
/// process. Without it the signals keep their default action.
pub fn leave_control_clients_on_signals() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("doeff-signals".into())
            .spawn(move || {
                let mut pending = signals.forever();
                let Some(signal) = pending.find(|&signal| {
                    // An interactive program asked for SIGINT to interrupt
                    // what runs (the REPL) rather than end the process.
                    let hook = ON_INTERRUPT.get().filter(|_| signal == SIGINT);
                    hook.inspect(|hook| hook()).is_none()
                }) else {
                    return;
                };
                // Leaving can wait on a wedged tmux: a second signal exits at once.
                let _ = std::thread::Builder::new()
                    .name("doeff-leaving".into())
                    .spawn(move || {
                        crate::tmux::leave_control_clients();
                        std::process::exit(128 + signal);
                    });
                if let Some(again) = pending.next() {
                    std::process::exit(128 + again);
                }
            });
    });
}
