//! The demo agent: a scripted fake coding agent shipped inside the binary
//! (`doeff-agents __demo-agent`). It draws a banner and a composer, takes a
//! prompt (argv or typed/pasted, bracketed paste understood), works with a
//! spinner and an "esc to interrupt" hint, asks an approval question, goes
//! on after the answer, prints `Task completed successfully` and exits 0.
//!
//! `DOEFF_DEMO_SCENARIO` picks a failure mode: `fail` (shows a fatal error
//! and stays), `rate_limit` (shows a 429, or `DOEFF_DEMO_LIMIT_TEXT`, and stays), `hang` (freezes
//! mid-work), `crash` (exits with `DOEFF_DEMO_EXIT_CODE`, default 3),
//! `wait` (waits at the composer for ever), `busy` (prints a step line and
//! a spinner every `DOEFF_DEMO_TICK_MS`, default 250, for ever; typing `f`
//! makes it show a fatal error and stop — the bench times that change),
//! `echo` (records every message it receives, byte for byte, in
//! `DOEFF_DEMO_ECHO_FILE`, and never works). Unanswered, the approval
//! question approves itself after `DOEFF_DEMO_APPROVE_AFTER_MS` (default
//! 5000; 0 waits for ever). `DOEFF_DEMO_WORK_MS` sets each
//! work phase's length (default 2000), and `DOEFF_DEMO_LOG` names a file
//! where each phase is appended as one line (tests compare it with what the
//! monitor reported).
//!
//! The `echo` scenario is how tests check that text arrives exactly: it
//! appends records to the file named by `DOEFF_DEMO_ECHO_FILE`, each
//! `<kind> <byte length>\n<bytes>\n`, where kind is `cwd` (its working
//! directory, once), `prompt` (the argv prompt, if any) and `message` (each
//! submitted message). [`parse_echo_records`] reads them back.

pub use crate::demo_bin::run_demo_agent_if_asked;
pub(crate) use crate::demo_bin::{MISSING, demo_binary};

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::termios::{self, SetArg, Termios};

const SPINNER: [char; 4] = ['✶', '✻', '✽', '✢'];

/// Demo options from argv and the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct DemoOptions {
    pub(crate) prompt: Option<String>,
    pub(crate) model: Option<String>,
}

struct Terminal {
    saved: Option<Termios>,
}

impl Terminal {
    /// Raw input (no echo, no line buffering) and bracketed paste on.
    fn raw() -> Terminal {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(original) = &saved {
            let mut raw = original.clone();
            termios::cfmakeraw(&mut raw);
            // Keep output post-processing so "\n" still returns the cursor.
            raw.output_flags = original.output_flags;
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        print!("\x1b[?2004h");
        flush();
        Terminal { saved }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        print!("\x1b[?2004l");
        flush();
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

fn flush() {
    let _ = std::io::stdout().flush();
}

fn log_phase(phase: &str) {
    if let Ok(path) = std::env::var("DOEFF_DEMO_LOG")
        && let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(file, "{phase}");
    }
}

fn read_byte() -> Option<u8> {
    let mut byte = [0u8; 1];
    match std::io::stdin().read(&mut byte) {
        Ok(1) => Some(byte[0]),
        _ => None,
    }
}

/// Reads one submitted message: typed text up to Enter; a bracketed paste
/// may hold newlines (a CR inside a paste is a newline, not a submit).
fn read_message(show: bool) -> Option<Vec<u8>> {
    let mut text: Vec<u8> = Vec::new();
    let mut in_paste = false;
    loop {
        let byte = read_byte()?;
        match byte {
            0x03 => return None,
            0x1b => {
                let mut seq = Vec::new();
                while let Some(b) = read_byte() {
                    seq.push(b);
                    if b.is_ascii_alphabetic() || b == b'~' {
                        break;
                    }
                }
                match seq.as_slice() {
                    b"[200~" => in_paste = true,
                    b"[201~" => in_paste = false,
                    _ => {}
                }
            }
            b'\r' | b'\n' if in_paste => {
                text.push(b'\n');
                if show {
                    print!("\r\n  ");
                }
            }
            b'\r' | b'\n' => {
                print!("\r\n");
                flush();
                return Some(text);
            }
            0x7f | 0x08 => {
                if text.pop().is_some() && show {
                    print!("\x08 \x08");
                }
            }
            b => {
                text.push(b);
                if show {
                    std::io::stdout().write_all(&[b]).ok();
                }
            }
        }
        flush();
    }
}

/// Waits for "1"/"y"/Enter (yes) or "2"/"n" (no). After `approve_after_ms`
/// without an answer (0: never) the demo approves itself, so an unattended
/// `run -a demo --watch` still reaches `done`. `None` on Ctrl-C or EOF.
fn wait_for_answer(approve_after_ms: u64) -> Option<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let started = Instant::now();
    loop {
        if approve_after_ms > 0 {
            let waited = started.elapsed().as_millis() as u64;
            if waited >= approve_after_ms {
                print!(
                    "  (no answer in {}s: the demo approves itself)\r\n",
                    approve_after_ms / 1000
                );
                return Some(true);
            }
            let left = u16::try_from(approve_after_ms - waited).unwrap_or(u16::MAX);
            let stdin = std::io::stdin();
            let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(left)) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        match read_byte() {
            Some(b'1' | b'y' | b'Y' | b'\r') => return Some(true),
            Some(b'2' | b'n' | b'N') => return Some(false),
            Some(0x03) | None => return None,
            Some(_) => {}
        }
    }
}

/// Shows a spinner line for `length`, then clears it.
fn work(label: &str, length: Duration) {
    let started = Instant::now();
    let mut frame = 0usize;
    while started.elapsed() < length {
        print!(
            "\r\x1b[K{} {label}… ({}s · esc to interrupt)",
            SPINNER[frame % SPINNER.len()],
            started.elapsed().as_secs()
        );
        flush();
        frame += 1;
        std::thread::sleep(Duration::from_millis(120));
    }
    print!("\r\x1b[K");
    flush();
}

/// Stays at the composer for ever: each further message is echoed, then
/// `reply` (if any) is printed again, as a stuck agent would.
fn idle(reply: Option<&str>) -> i32 {
    loop {
        print!("> ");
        flush();
        let Some(message) = read_message(true) else {
            return 130;
        };
        if message.is_empty() {
            continue;
        }
        if let Some(reply) = reply {
            print!("{reply}\r\n");
            flush();
        }
    }
}

fn freeze() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `busy` scenario: output every `tick` until `f` is typed, then a
/// fatal error (and no more output).
fn busy(tick: Duration) -> i32 {
    let stopped = std::sync::Arc::new(std::sync::Mutex::new(false));
    let printer = {
        let stopped = stopped.clone();
        std::thread::spawn(move || {
            let mut step = 0u64;
            loop {
                std::thread::sleep(tick);
                let Ok(stop) = stopped.lock() else { return };
                if *stop {
                    return;
                }
                step += 1;
                let frame = SPINNER[(step % SPINNER.len() as u64) as usize];
                print!(
                    "\r\x1b[K· step {step} done\r\n{frame} Working… ({step} · esc to interrupt)"
                );
                flush();
            }
        })
    };
    log_phase("running");
    loop {
        match read_byte() {
            Some(b'f') => {
                if let Ok(mut stop) = stopped.lock() {
                    *stop = true;
                    print!("\r\x1b[KError: fatal error: the demo agent was told to fail\r\n");
                    flush();
                }
                let _ = printer.join();
                log_phase("failed");
                freeze();
            }
            Some(0x03) | None => return 130,
            Some(_) => {}
        }
    }
}

/// Appends one `<kind> <len>\n<bytes>\n` record to `DOEFF_DEMO_ECHO_FILE`.
fn echo_record(kind: &str, bytes: &[u8]) {
    if let Some(path) = std::env::var_os("DOEFF_DEMO_ECHO_FILE")
        && let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let mut record = format!("{kind} {}\n", bytes.len()).into_bytes();
        record.extend_from_slice(bytes);
        record.push(b'\n');
        let _ = file.write_all(&record);
    }
}

/// Reads back the records the `echo` scenario wrote: (kind, bytes).
/// Stops at the first malformed or incomplete record.
pub fn parse_echo_records(mut data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut records = Vec::new();
    while let Some(newline) = data.iter().position(|&b| b == b'\n') {
        let header = String::from_utf8_lossy(&data[..newline]).into_owned();
        let Some((kind, len)) = header.split_once(' ') else {
            break;
        };
        let Ok(len) = len.parse::<usize>() else {
            break;
        };
        let body = &data[newline + 1..];
        if body.len() < len + 1 {
            break;
        }
        records.push((kind.to_owned(), body[..len].to_vec()));
        data = &body[len + 1..];
    }
    records
}

/// The `echo` scenario: record the working directory and the argv prompt,
/// then every submitted message, showing only its size on screen.
fn echo(options: &DemoOptions) -> i32 {
    let _terminal = Terminal::raw();
    let cwd = std::env::current_dir()
        .map(|d| d.into_os_string().into_encoded_bytes())
        .unwrap_or_default();
    echo_record("cwd", &cwd);
    print!("doeff demo agent · echo\r\n");
    if let Some(prompt) = &options.prompt {
        echo_record("prompt", prompt.as_bytes());
        print!("⏺ prompt: {} bytes\r\n", prompt.len());
    }
    log_phase("blocked");
    let mut count = 0usize;
    loop {
        print!("> ");
        flush();
        let Some(message) = read_message(false) else {
            return 130;
        };
        count += 1;
        echo_record("message", &message);
        print!("⏺ message {count}: {} bytes\r\n", message.len());
    }
}

/// Runs the demo agent in the current terminal; returns its exit code.
pub(crate) fn run(options: &DemoOptions) -> i32 {
    let scenario = std::env::var("DOEFF_DEMO_SCENARIO").unwrap_or_default();
    let work_time = Duration::from_millis(env_number("DOEFF_DEMO_WORK_MS", 2000));
    if scenario == "echo" {
        return echo(options);
    }
    let terminal = Terminal::raw();
    print!("╭──────────────────────────────────────╮\r\n");
    print!("│ doeff demo agent · a scripted fake   │\r\n");
    print!(
        "│ model: {:<30}│\r\n",
        options.model.as_deref().unwrap_or("demo-1")
    );
    print!("╰──────────────────────────────────────╯\r\n");
    log_phase("booting");
    let prompt = match &options.prompt {
        Some(prompt) => {
            print!("> {}\r\n", prompt.replace('\n', "\r\n  "));
            prompt.clone()
        }
        None => {
            print!("> ");
            flush();
            log_phase("blocked");
            match read_message(true) {
                Some(message) => String::from_utf8_lossy(&message).into_owned(),
                None => return 130,
            }
        }
    };
    if scenario == "busy" {
        let tick = Duration::from_millis(env_number("DOEFF_DEMO_TICK_MS", 250).max(1));
        let code = busy(tick);
        drop(terminal);
        return code;
    }
    if scenario == "wait" {
        print!("Waiting for your next message.\r\n");
        log_phase("blocked");
        return idle(None);
    }
    let lines = prompt.lines().count().max(1);
    print!(
        "⏺ Got your message ({} chars, {lines} lines).\r\n",
        prompt.chars().count()
    );
    log_phase("running");
    work("Reading files", work_time);
    match scenario.as_str() {
        "fail" => {
            let error = "Error: fatal error: the demo agent was told to fail";
            print!("{error}\r\n");
            log_phase("failed");
            return idle(Some(error));
        }
        "rate_limit" => {
            let error = std::env::var("DOEFF_DEMO_LIMIT_TEXT").unwrap_or_else(|_| {
                "API Error: 429 rate limit exceeded · this request would exceed the rate limit"
                    .into()
            });
            print!("{error}\r\n");
            log_phase("blocked_api");
            return idle(Some(&error));
        }
        "hang" => {
            print!("\r✻ Thinking… (esc to interrupt)");
            flush();
            freeze();
        }
        "crash" => {
            print!("panic: exiting with an error code on purpose\r\n");
            flush();
            drop(terminal);
            let code = env_number("DOEFF_DEMO_EXIT_CODE", 3);
            log_phase("exited");
            return i32::try_from(code).unwrap_or(3);
        }
        _ => {}
    }
    print!("⏺ I want to run a command: touch demo-output.txt\r\n");
    print!("\r\n Do you want to proceed?\r\n");
    print!(" ❯ 1. Yes\r\n");
    print!("   2. No, and tell the agent what to do differently\r\n");
    flush();
    log_phase("blocked");
    let approved = match wait_for_answer(env_number("DOEFF_DEMO_APPROVE_AFTER_MS", 5000)) {
        Some(answer) => answer,
        None => return 130,
    };
    print!(
        "{}\r\n",
        if approved {
            "  Approved."
        } else {
            "  Declined."
        }
    );
    log_phase("running");
    work("Finishing up", work_time);
    print!("⏺ All done.\r\n");
    print!("Task completed successfully\r\n");
    flush();
    log_phase("done");
    drop(terminal);
    0
}
