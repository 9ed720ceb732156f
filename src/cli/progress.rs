//! A spinner line on stderr for long waits (`run` waiting for readiness,
//! `send` waiting for the composer, `watch` before the first change): drawn
//! only when stderr is a terminal and only after a short delay (a quick
//! command shows nothing), cleared when the wait ends. Piped, nothing.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// A wait shorter than this shows nothing.
const DELAY: Duration = Duration::from_millis(300);
const TICK: Duration = Duration::from_millis(100);

/// Spins until dropped (or [`Spinner::stop`]).
pub struct Spinner {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Starts `label` (e.g. "waiting for doeff-fix to be ready").
    pub fn start(label: impl Into<String>) -> Spinner {
        let done = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let done = Arc::clone(&done);
            let label = label.into();
            std::thread::spawn(move || spin(&label, &done))
        });
        Spinner { done, thread }
    }

    /// Stops and clears the line.
    pub fn stop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spin(label: &str, done: &AtomicBool) {
    let started = Instant::now();
    let mut drawn = false;
    let mut frame = 0usize;
    while !done.load(Ordering::SeqCst) {
        if started.elapsed() >= DELAY {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[K{} {label} ({}s)",
                FRAMES[frame % FRAMES.len()],
                started.elapsed().as_secs()
            );
            let _ = err.flush();
            drawn = true;
            frame += 1;
        }
        std::thread::sleep(TICK);
    }
    if drawn {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K");
        let _ = err.flush();
    }
}
