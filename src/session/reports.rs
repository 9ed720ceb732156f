//! Reading what an agent reports about itself, for the report layer of the
//! classifier (`monitor/report.rs`):
//!
//! - **hooks**: `doeff-agents hook EVENT` (run by the CLI, passed per run)
//!   records the last event in the pane option [`OPT_HOOK`] as
//!   `SEQ|EVENT|DETAIL|UNIX_MS`; the launch arms it with seq 0 (a session
//!   option the pane option shadows), so "hooks passed, nothing yet" is
//!   known too. The adapter's `signals.hooks` say what each event means.
//! - **Claude Code's session registry**: `$CLAUDE_CONFIG_DIR/sessions/<pid>.json`
//!   (default `~/.claude`), read for the pane's own process only (the
//!   folder from that process's environment), accepted only when its `pid`
//!   and `procStart` are this process's and `status` and `statusUpdatedAt`
//!   are there; anything else is silently no report (the screen decides).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::adapter::{Adapter, Registry};
use crate::monitor::{AgentReport, SessionStatus, Source};

/// The pane option holding the last hook event (`SEQ|EVENT|DETAIL|UNIX_MS`).
pub const OPT_HOOK: &str = "@doeff-hook";
/// The session option holding the run's hook token.
pub const OPT_HOOK_TOKEN: &str = "@doeff-hook-token";
/// The environment variable carrying the token to the hook command.
pub const HOOK_TOKEN_ENV: &str = "DOEFF_AGENTS_HOOK_TOKEN";
/// The largest registry file read.
const MAX_REGISTRY_BYTES: u64 = 64 * 1024;

/// One recorded hook event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookValue {
    pub seq: u64,
    pub event: String,
    pub detail: String,
    pub at_ms: u64,
}

impl HookValue {
    /// `SEQ|EVENT|DETAIL|UNIX_MS`, or `None` for anything else.
    pub fn parse(text: &str) -> Option<HookValue> {
        let mut parts = text.split('|');
        let value = HookValue {
            seq: parts.next()?.parse().ok()?,
            event: parts.next()?.to_owned(),
            detail: parts.next()?.to_owned(),
            at_ms: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(value)
    }

    pub fn encode(&self) -> String {
        format!("{}|{}|{}|{}", self.seq, self.event, self.detail, self.at_ms)
    }
}

/// What the hook option of a pane says: the report (if the event carries a
/// status), when the channel was armed (seq 0: nothing yet), whether an
/// event was seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HookReading {
    pub report: Option<AgentReport>,
    pub armed_ms: Option<u64>,
    pub seen: bool,
    /// The event hands the decision back to the screen (`"screen"`).
    pub hands_over: bool,
}

pub(crate) fn hook_reading(adapter: &Adapter, value: &str) -> HookReading {
    let Some(hook) = HookValue::parse(value) else {
        return HookReading::default();
    };
    if hook.seq == 0 {
        return HookReading {
            armed_ms: Some(hook.at_ms),
            ..HookReading::default()
        };
    }
    let report = adapter
        .signals
        .meaning(&hook.event, &hook.detail)
        .flatten()
        .map(|mapped| AgentReport {
            source: Source::Hook,
            status: mapped.status,
            reason: mapped.reason.clone(),
            // The detail, when it is a word the adapter lists or a short one
            // (not the first words of a reply: Gemini's AfterAgent).
            said: if hook.detail.is_empty()
                || (hook.detail.len() > 24 && !adapter.signals.lists(&hook.event, &hook.detail))
            {
                hook.event.clone()
            } else {
                format!("{}({})", hook.event, hook.detail)
            },
            at_ms: hook.at_ms,
            seq: hook.seq,
        });
    HookReading {
        hands_over: report.is_none() && adapter.signals.hands_over(&hook.event, &hook.detail),
        report,
        armed_ms: Some(hook.at_ms),
        seen: true,
    }
}

/// The hook binary: the registry's doeff-agents, as an absolute path.
pub(crate) fn hook_exe(self_exe: &str) -> Option<PathBuf> {
    if self_exe.is_empty() {
        return None;
    }
    std::fs::canonicalize(self_exe).ok()
}

/// A session's registry folder and its process's start time, found once
/// per process (not on every pass).
#[derive(Clone, Debug, Default)]
pub(crate) struct RegistryCache {
    pid: u32,
    dir: Option<PathBuf>,
    started: Option<String>,
    /// The last report read: it stands while the file is being rewritten
    /// or already removed by a CLI on its way out.
    last: Option<AgentReport>,
}

/// The fields of a registry file this product relies on.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistryFile {
    pid: u32,
    proc_start: Option<String>,
    status: String,
    waiting_for: Option<String>,
    status_updated_at: u64,
}

/// The report in a registry file's text, for process `pid` started at
/// `proc_start` (field 22 of `/proc/PID/stat`).
pub(crate) fn parse_registry(text: &str, pid: u32, proc_start: &str) -> Option<AgentReport> {
    let file: RegistryFile = serde_json::from_str(text).ok()?;
    if file.pid != pid || file.proc_start.as_deref() != Some(proc_start) {
        return None;
    }
    let waiting = file.waiting_for.as_deref().unwrap_or("").trim();
    let (status, reason) = match file.status.as_str() {
        "busy" => (SessionStatus::Running, "busy".to_owned()),
        "idle" | "shell" => (SessionStatus::Blocked, "idle_prompt".to_owned()),
        "waiting" => {
            let reason: String = waiting
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let reason = if reason.is_empty() || reason.len() > 40 {
                "waiting".to_owned()
            } else {
                reason
            };
            (SessionStatus::Blocked, reason)
        }
        _ => return None,
    };
    let said = if waiting.is_empty() {
        file.status.clone()
    } else {
        let shown: String = waiting
            .chars()
            .take(40)
            .filter(|c| !c.is_control())
            .collect();
        format!("{}({shown})", file.status)
    };
    Some(AgentReport {
        source: Source::Registry,
        status,
        reason,
        said,
        at_ms: file.status_updated_at,
        seq: file.status_updated_at,
    })
}

/// `/proc/PID/stat` field 22 (start time in clock ticks), as text.
fn proc_start(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.get(text.rfind(')')? + 1..)?;
    // After the name, field 3 is the first; field 22 is the 20th.
    rest.split_whitespace().nth(19).map(str::to_owned)
}

/// The registry folder of Claude Code running as `pid`: its own
/// `CLAUDE_CONFIG_DIR`, else `$HOME/.claude`, from its environment.
fn claude_dir(pid: u32) -> Option<PathBuf> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let var = |name: &str| {
        environ.split(|&b| b == 0).find_map(|entry| {
            let entry = std::str::from_utf8(entry).ok()?;
            entry
                .strip_prefix(name)?
                .strip_prefix('=')
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    };
    var("CLAUDE_CONFIG_DIR").or_else(|| var("HOME").map(|home| home.join(".claude")))
}

/// The registry's report for the agent process `pid`, if its adapter
/// reads one and the file is there, this process's own, and complete.
pub(crate) fn registry_report(
    adapter: &Adapter,
    pid: u32,
    cache: &mut RegistryCache,
) -> Option<AgentReport> {
    if adapter.signals.registry != Some(Registry::Claude) || pid <= 1 {
        return None;
    }
    if cache.pid != pid {
        *cache = RegistryCache {
            pid,
            dir: claude_dir(pid),
            started: proc_start(pid),
            last: None,
        };
    }
    let path = cache
        .dir
        .as_deref()?
        .join("sessions")
        .join(format!("{pid}.json"));
    let started = cache.started.as_deref()?;
    let read = read_small(&path).and_then(|text| parse_registry(&text, pid, started));
    if read.is_some() {
        cache.last = read;
    }
    cache.last.clone()
}

fn read_small(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_REGISTRY_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_values_round_trip_and_refuse_anything_else() {
        let v = HookValue {
            seq: 3,
            event: "StopFailure".into(),
            detail: "rate_limit".into(),
            at_ms: 1_700_000_000_000,
        };
        assert_eq!(HookValue::parse(&v.encode()), Some(v));
        assert_eq!(HookValue::parse("3|Stop|x"), None);
        assert_eq!(HookValue::parse("x|Stop||1"), None);
        assert_eq!(HookValue::parse("1|Stop||1|2"), None);
    }

    #[test]
    fn registry_files_are_accepted_only_for_their_own_process_and_complete() {
        let file = r#"{"pid":4200,"procStart":"989625","status":"waiting",
            "waitingFor":"permission prompt","statusUpdatedAt":1796195119402,"kind":"interactive"}"#;
        let report = parse_registry(file, 4200, "989625").expect("accepted");
        assert_eq!(report.status, SessionStatus::Blocked);
        assert_eq!(report.reason, "permission_prompt");
        assert_eq!(report.said, "waiting(permission prompt)");
        assert_eq!(report.at_ms, 1796195119402);
        // Another process (pid reused), or another start of the same pid.
        assert_eq!(parse_registry(file, 4201, "989625"), None);
        assert_eq!(parse_registry(file, 4200, "1"), None);
        // Fields missing, or a status this product does not know.
        assert_eq!(
            parse_registry(r#"{"pid":1,"procStart":"2","status":"busy"}"#, 1, "2"),
            None
        );
        let odd = r#"{"pid":1,"procStart":"2","status":"sleepy","statusUpdatedAt":5}"#;
        assert_eq!(parse_registry(odd, 1, "2"), None);
        let busy = r#"{"pid":1,"procStart":"2","status":"busy","statusUpdatedAt":5}"#;
        assert_eq!(
            parse_registry(busy, 1, "2").map(|r| r.status),
            Some(SessionStatus::Running)
        );
        let idle = r#"{"pid":1,"procStart":"2","status":"idle","statusUpdatedAt":5}"#;
        assert_eq!(
            parse_registry(idle, 1, "2").map(|r| r.reason),
            Some("idle_prompt".to_owned())
        );
        assert_eq!(parse_registry("not json", 1, "2"), None);
    }

    #[test]
    fn this_process_has_a_start_time() {
        assert!(proc_start(std::process::id()).is_some_and(|s| s.parse::<u64>().is_ok()));
    }
}
