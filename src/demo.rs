//! The demo agent: a scripted fake coding agent shipped inside the binary
//! (`doeff-agents __demo-agent`). It draws a banner and a composer, takes a
//! prompt (argv or typed/pasted, bracketed paste understood), works with a
//! spinner and an "esc to interrupt" hint, asks an approval question, goes
//! on after the answer, prints `Task completed successfully` and exits 0.
//!
//! `DOEFF_DEMO_SCENARIO` picks a failure mode: `fail` (shows a fatal error
//! and stays), `rate_limit` (shows a 429 and stays), `hang` (freezes
//! mid-work), `crash` (exits with `DOEFF_DEMO_EXIT_CODE`, default 3),
//! `wait` (waits at the composer for ever), `echo` (records every message it
//! receives, byte for byte, and never works). `DOEFF_DEMO_WORK_MS` sets each
//! work phase's length (default 2000), and `DOEFF_DEMO_LOG` names a file
//! where each phase is appended as one line (tests compare it with what the
//! monitor reported).
//!
//! The `echo` scenario is how tests check that text arrives exactly: it
//! appends records to the file named by `DOEFF_DEMO_ECHO_FILE`, each
//! `<kind> <byte length>\n<bytes>\n`, where kind is `cwd` (its working
//! directory, once), `prompt` (the argv prompt, if any) and `message` (each
//! submitted message). [`parse_echo_records`] reads them back.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::termios::{self, SetArg, Termios};

const SPINNER: [char; 4] = ['✶', '✻', '✽', '✢'];

/// Demo options from argv and the environment.
#[derive(Clone, Debug, Default)]
pub struct DemoOptions {
    pub prompt: Option<String>,
    pub model: Option<String>,
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

fn wait_forever() -> ! {
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
pub fn run(options: &DemoOptions) -> i32 {
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
    if scenario == "wait" {
        print!("Waiting for your next message.\r\n> ");
        flush();
        log_phase("blocked");
        wait_forever();
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
            print!("Error: fatal error: the demo agent was told to fail\r\n");
            flush();
            log_phase("failed");
            wait_forever();
        }
        "rate_limit" => {
            print!(
                "API Error: 429 rate limit exceeded · this request would exceed the rate limit\r\n"
            );
            flush();
            log_phase("blocked_api");
            wait_forever();
        }
        "hang" => {
            print!("\r✻ Thinking… (esc to interrupt)");
            flush();
            wait_forever();
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
    let approved = loop {
        match read_byte() {
            Some(b'1' | b'y' | b'Y' | b'\r') => break true,
            Some(b'2' | b'n' | b'N') => break false,
            Some(0x03) | None => return 130,
            Some(_) => {}
        }
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
