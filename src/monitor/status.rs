//! The nine session statuses and what counts as terminal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an agent session stands. Lowercase snake_case strings in Lua and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionStatus {
    /// Created, not started.
    Pending,
    /// The agent is starting.
    Booting,
    /// Actively working.
    Running,
    /// Waiting for the user (idle prompt, dialog, approval).
    Blocked,
    /// Rate, quota or usage limit; provider overloaded.
    BlockedApi,
    /// Finished successfully.
    Done,
    /// Fatal error, auth failure, cannot connect.
    Failed,
    /// The agent process ended.
    Exited,
    /// Killed through this product.
    Stopped,
}

impl SessionStatus {
    /// Every status, in the order of the spec.
    pub const ALL: [SessionStatus; 9] = [
        SessionStatus::Pending,
        SessionStatus::Booting,
        SessionStatus::Running,
        SessionStatus::Blocked,
        SessionStatus::BlockedApi,
        SessionStatus::Done,
        SessionStatus::Failed,
        SessionStatus::Exited,
        SessionStatus::Stopped,
    ];

    /// `done`, `failed`, `exited` and `stopped` end a session's life.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionStatus::Done
                | SessionStatus::Failed
                | SessionStatus::Exited
                | SessionStatus::Stopped
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Pending => "pending",
            SessionStatus::Booting => "booting",
            SessionStatus::Running => "running",
            SessionStatus::Blocked => "blocked",
            SessionStatus::BlockedApi => "blocked_api",
            SessionStatus::Done => "done",
            SessionStatus::Failed => "failed",
            SessionStatus::Exited => "exited",
            SessionStatus::Stopped => "stopped",
        }
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        SessionStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = SessionStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown status {text:?} (one of {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_strings() {
        for status in SessionStatus::ALL {
            assert_eq!(status.as_str().parse::<SessionStatus>(), Ok(status));
        }
        assert!("busy".parse::<SessionStatus>().is_err());
    }

    #[test]
    fn blocked_is_not_terminal() {
        assert!(!SessionStatus::Blocked.is_terminal());
        assert!(!SessionStatus::BlockedApi.is_terminal());
        assert!(SessionStatus::Exited.is_terminal());
    }
}
