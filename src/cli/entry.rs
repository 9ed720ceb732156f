//! The process around the command line (what `doeff-agents`'s `main` is):
//! parse the command line, run it, map errors to
//! one line on stderr and a non-zero exit code. Usage errors too: clap's
//! own message (the missing argument's name, a "did you mean" tip) joined
//! into one line (exit 2); `--help` and `--version` print as usual.

use clap::Parser;
use clap::error::ErrorKind;

/// The `doeff-agents` program: parses `std::env::args`, runs the command
/// and exits the process with its code.
pub fn main() -> ! {
    restore_default_sigpipe();
    let cli = match super::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => usage_error(&err),
    };
    let code = match super::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("doeff-agents: {err}");
            1
        }
    };
    // Control clients still alive (a script's Lua closures can keep their
    // transport from being dropped) leave gracefully before the exit.
    crate::tmux::leave_control_clients();
    std::process::exit(code);
}

/// `doeff-agents ps | head` should end quietly when the reader goes away,
/// as other command-line tools do, instead of panicking in `println!`
/// (Rust ignores SIGPIPE by default).
fn restore_default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called first thing in main, before any thread exists; the
    // default disposition installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Prints a clap error as one line (or help/version as is) and exits.
fn usage_error(err: &clap::Error) -> ! {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    eprintln!(
        "doeff-agents: {} (see --help)",
        one_line(&err.render().to_string())
    );
    std::process::exit(2);
}

/// clap's own message on one line: its lines joined, without the usage
/// block and the "For more information" footer, so the missing argument's
/// name and a "did you mean" tip are kept.
fn one_line(rendered: &str) -> String {
    let mut joined = String::new();
    let mut in_usage = false;
    for line in rendered.lines().map(str::trim) {
        if line.starts_with("Usage:") {
            in_usage = true;
        } else if line.is_empty() {
            in_usage = false;
        } else if !in_usage && !line.starts_with("For more information") {
            if !joined.is_empty() {
                joined.push_str(if line.starts_with("tip:") { "; " } else { " " });
            }
            joined.push_str(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    if joined.is_empty() {
        joined.push_str("invalid arguments");
    }
    joined
}
