//! Output notifications from tmux, for event-driven watching. A control-mode
//! client (see `ControlMode::with_events`) receives `%output %PANE ...` for
//! the panes of the windows linked into its own hidden session — only the
//! watched ones — and its reader thread records here *which* panes printed
//! (never what they printed: the monitor captures the screen itself).
//! Structural notifications (a window closed, sessions changed, the client
//! exited) are recorded too, so a watcher learns promptly that a session
//! went away.
//!
//! [`OutputEvents::wait`] blocks until something was recorded or a deadline
//! passes, then lets a burst of output settle for a short debounce, so many
//! `%output` lines become one wake-up and one capture per pane.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What happened since the last [`OutputEvents::take`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Panes that printed something.
    pub panes: HashSet<String>,
    /// A window closed, sessions changed, or the client was lost/reconnected:
    /// every watched pane should be looked at.
    pub structure: bool,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.panes.is_empty() && !self.structure
    }
}

/// The shared record of output notifications (written by the reader thread,
/// read by the watcher).
#[derive(Debug, Default)]
pub struct OutputEvents {
    pending: Mutex<Pending>,
    changed: Condvar,
}

impl OutputEvents {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that `pane` printed something.
    pub fn mark_output(&self, pane: &str) {
        let mut pending = self.lock();
        if !pending.panes.contains(pane) {
            pending.panes.insert(pane.to_owned());
        }
        drop(pending);
        self.changed.notify_all();
    }

    /// Records a structural change (or a lost/new client).
    pub fn mark_structure(&self) {
        self.lock().structure = true;
        self.changed.notify_all();
    }

    /// Takes (and clears) what was recorded.
    pub fn take(&self) -> Pending {
        std::mem::take(&mut *self.lock())
    }

    /// True when something is recorded and not yet taken.
    pub fn has_pending(&self) -> bool {
        !self.lock().is_empty()
    }

    /// Waits until something is recorded or `deadline` passes. When woken by
    /// an event, waits `debounce` more (never past `deadline`) so a burst
    /// of output is coalesced. Returns true when woken by an event.
    pub fn wait(&self, deadline: Instant, debounce: Duration) -> bool {
        let mut pending = self.lock();
        loop {
            if !pending.is_empty() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            pending = match self.changed.wait_timeout(pending, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        drop(pending);
        let settle = deadline
            .saturating_duration_since(Instant::now())
            .min(debounce);
        if !settle.is_zero() {
            std::thread::sleep(settle);
        }
        true
    }
}

/// The pane id of an `%output` notification's rest (`%12 text...`).
pub fn output_pane(rest: &[u8]) -> Option<&str> {
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let id = std::str::from_utf8(rest.get(..end)?).ok()?;
    (id.len() > 1 && id.starts_with('%') && id[1..].bytes().all(|b| b.is_ascii_digit()))
        .then_some(id)
}

/// The name of the subscription to the watched panes' hook option.
pub const HOOK_SUBSCRIPTION: &str = "doeff-hook";

/// `refresh-client -B`: a `%subscription-changed` for every pane of the
/// client's session (the watched ones) whose `@doeff-hook` changes.
pub fn hook_subscription() -> Vec<String> {
    vec![
        "refresh-client".into(),
        "-B".into(),
        format!("{HOOK_SUBSCRIPTION}:%*:#{{@doeff-hook}}"),
    ]
}

/// The pane of a `%subscription-changed` notification's rest
/// (`doeff-hook $1 @2 0 %3 : value`), for the hook subscription only.
pub fn subscription_pane(rest: &[u8]) -> Option<&str> {
    let mut words = rest.split(|&b| b == b' ');
    if words.next()? != HOOK_SUBSCRIPTION.as_bytes() {
        return None;
    }
    output_pane(words.nth(3)?)
}

/// Notifications that mean "a watched pane may be gone".
pub fn is_structural(name: &str) -> bool {
    matches!(
        name,
        "window-close" | "unlinked-window-close" | "sessions-changed" | "session-closed" | "exit"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_pane_ids_are_parsed_strictly() {
        assert_eq!(output_pane(b"%12 hello\\015\\012"), Some("%12"));
        assert_eq!(output_pane(b"%3"), Some("%3"));
        assert_eq!(output_pane(b"12 x"), None);
        assert_eq!(output_pane(b"% x"), None);
        assert_eq!(output_pane(b"%1a x"), None);
        assert_eq!(output_pane(&[0xff, b' ']), None);
    }

    #[test]
    fn hook_subscription_notices_name_their_pane() {
        assert_eq!(
            subscription_pane(b"doeff-hook $1 @2 0 %3 : 1|Stop||5"),
            Some("%3")
        );
        assert_eq!(subscription_pane(b"other $1 @2 0 %3 : x"), None);
        assert_eq!(subscription_pane(b"doeff-hook $1 @2 0 x : x"), None);
        assert_eq!(subscription_pane(b"doeff-hook"), None);
    }

    #[test]
    fn wait_returns_on_an_event_and_take_clears() {
        let events = std::sync::Arc::new(OutputEvents::new());
        let far = Instant::now() + Duration::from_secs(30);
        let writer = {
            let events = events.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                events.mark_output("%1");
                events.mark_output("%1");
            })
        };
        let started = Instant::now();
        assert!(events.wait(far, Duration::from_millis(5)));
        assert!(started.elapsed() < Duration::from_secs(10));
        let _ = writer.join();
        let pending = events.take();
        assert_eq!(pending.panes.len(), 1);
        assert!(!events.has_pending());
        // Nothing recorded: the deadline ends the wait.
        assert!(!events.wait(Instant::now() + Duration::from_millis(10), Duration::ZERO));
    }
}
