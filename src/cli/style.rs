//! Output helpers for the CLI: status colours (only on a terminal, never
//! with `NO_COLOR`), time stamps and ages.

use std::io::IsTerminal;
use std::time::SystemTime;

use crate::monitor::SessionStatus;

/// True when stdout is a terminal and `NO_COLOR` is not set.
pub fn colour_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// A status, coloured when colour is on.
pub fn status(status: SessionStatus, colour: bool) -> String {
    if !colour {
        return status.as_str().to_owned();
    }
    let code = match status {
        SessionStatus::Running | SessionStatus::Booting => "36",
        SessionStatus::Blocked => "33",
        SessionStatus::BlockedApi => "35",
        SessionStatus::Done => "32",
        SessionStatus::Failed | SessionStatus::Exited => "31",
        SessionStatus::Pending | SessionStatus::Stopped => "2",
    };
    format!("\x1b[{code}m{}\x1b[0m", status.as_str())
}

/// Now as RFC 3339 (UTC, seconds).
pub fn timestamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A short age: `42s`, `5m`, `3h`, `2d`.
pub fn age(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(200_000), "2d");
    }

    #[test]
    fn no_colour_means_plain_text() {
        assert_eq!(status(SessionStatus::Done, false), "done");
        assert!(status(SessionStatus::Done, true).contains("\x1b[32m"));
    }
}
