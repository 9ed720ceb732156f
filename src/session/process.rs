//! Process truth: whether the agent's process is alive, ended (with its exit
//! code or the signal that killed it) or gone, decided from the pane's own
//! process, never from a process name. Agents are exec'd as the pane's
//! process (`pane_pid`), so a CLI that is a bash, python or node script is
//! alive exactly as long as that process is; what it calls itself
//! (`pane_current_command`, `exec -a bash`) changes nothing.
//!
//! Facts come from tmux (`pane_dead`, `pane_dead_status`,
//! `pane_dead_signal`, `pane_pid`) and, where tmux has not said, from
//! `/proc`: the wait status of a zombie tmux left unreaped, and for adapters
//! that launch a shell (`shell = true`) the terminal's foreground process
//! group. This is the only place an exit status is parsed.

use crate::monitor::Process;
use crate::tmux::PaneState;

/// The process layer's view of a pane (`None`: the pane or its session is
/// gone). `launches_shell`: the adapter runs the agent through a shell, so
/// that shell alone in the foreground again means the agent is gone.
///
/// tmux marks a pane dead when its pty closes, which can come a moment
/// before it reaps the process and learns the exit status. A dead pane with
/// neither exit code nor signal, whose process is no zombie either, is that
/// moment: [`Process::Unknown`] (the screen rules decide; the caller may
/// decide `Ended` after a grace time). Deciding `exited` there would turn an
/// agent that exits 0 (`done` for adapters with `exit_zero_is_done`) into a
/// failure.
pub fn process_of(state: Option<&PaneState>, launches_shell: bool) -> Process {
    let Some(state) = state else {
        return Process::Gone;
    };
    if state.dead {
        if state.exit_status.is_some() || state.exit_signal.is_some() {
            return Process::Ended {
                code: state.exit_status,
                signal: state.exit_signal,
            };
        }
        return match zombie_exit(state.pid) {
            Some((code, signal)) => Process::Ended { code, signal },
            None => Process::Unknown,
        };
    }
    if launches_shell && let Some(shell) = shell_at_prompt(state.pid) {
        return Process::BackToShell { shell };
    }
    Process::Alive {
        command: state.current_command.clone(),
    }
}

/// The fields of `/proc/PID/stat` after the command name (which is in
/// parentheses and may hold anything, even `) `), and that name.
fn stat(pid: u32) -> Option<(String, Vec<String>)> {
    if pid <= 1 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    let rest = text.get(close + 1..)?;
    Some((name, rest.split_whitespace().map(str::to_owned).collect()))
}

/// The exit status of `pid` if it is a zombie (ended, not yet reaped): state
/// `Z` and its wait status, field 52 of `/proc/PID/stat` (Linux). Returns
/// (exit code, signal).
pub fn zombie_exit(pid: u32) -> Option<(Option<i32>, Option<i32>)> {
    let (_, fields) = stat(pid)?;
    // fields[0] is field 3 (state), so field 52 (exit_code) is fields[49].
    if fields.first().map(String::as_str) != Some("Z") {
        return None;
    }
    let wait_status: i32 = fields.get(49)?.parse().ok()?;
    Some(decode_wait_status(wait_status))
}

/// (exit code, signal) of a wait status.
fn decode_wait_status(wait_status: i32) -> (Option<i32>, Option<i32>) {
    let signal = wait_status & 0x7f;
    if signal == 0 {
        (Some((wait_status >> 8) & 0xff), None)
    } else {
        (None, Some(signal))
    }
}

/// The shell's name when `shell` (the pane's process) is alone in the
/// foreground of its terminal: the terminal's foreground process group
/// (`tpgid`) is the shell's own and none of its children is in it (a shell
/// without job control runs its commands in its own group). `None` when a
/// command runs in the foreground, or when `/proc` cannot tell (then the
/// agent is taken to be alive: never a guess towards `exited`).
fn shell_at_prompt(shell: u32) -> Option<String> {
    let (name, fields) = stat(shell)?;
    // fields[2] is field 5 (pgrp), fields[5] field 8 (tpgid).
    let group: i64 = fields.get(2)?.parse().ok()?;
    let foreground: i64 = fields.get(5)?.parse().ok()?;
    if foreground != group || group != i64::from(shell) {
        return None;
    }
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).ok()?;
    let child_in_foreground = children
        .split_whitespace()
        .filter_map(|pid| pid.parse::<u32>().ok())
        .any(|child| {
            // A child that went away meanwhile is not in the foreground.
            stat(child)
                .and_then(|(_, f)| f.get(2)?.parse::<i64>().ok())
                .is_some_and(|pgrp| pgrp == foreground)
        });
    (!child_in_foreground).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(dead: bool, exit_status: Option<i32>, exit_signal: Option<i32>) -> PaneState {
        PaneState {
            pane_id: "%1".into(),
            session_id: "$1".into(),
            session_name: "doeff-x".into(),
            dead,
            exit_status,
            exit_signal,
            current_command: "bash".into(),
            pid: 1,
            title: String::new(),
            activity: None,
            hook: String::new(),
        }
    }

    #[test]
    fn a_dead_pane_waits_for_its_exit_status() {
        assert_eq!(
            process_of(Some(&pane(true, Some(0), None)), false),
            Process::Ended {
                code: Some(0),
                signal: None
            }
        );
        assert_eq!(
            process_of(Some(&pane(true, None, Some(9))), false),
            Process::Ended {
                code: None,
                signal: Some(9)
            }
        );
        assert_eq!(
            process_of(Some(&pane(true, None, None)), false),
            Process::Unknown
        );
        assert_eq!(process_of(None, false), Process::Gone);
    }

    #[test]
    fn a_process_named_like_a_shell_is_alive() {
        // `pane_current_command` says bash (a wrapper script, `exec -a
        // bash`): the pane's process lives, so the agent does.
        assert_eq!(
            process_of(Some(&pane(false, None, None)), false),
            Process::Alive {
                command: "bash".into()
            }
        );
    }

    #[test]
    fn a_zombie_reports_its_exit_status() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "exit 5"])
            .spawn()
            .expect("spawn sh");
        let pid = child.id();
        // Not reaped yet: wait until it is a zombie, then read its status.
        let status = (0..400).find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            zombie_exit(pid)
        });
        assert_eq!(status, Some((Some(5), None)));
        let _ = child.wait();
        assert_eq!(zombie_exit(pid), None, "reaped processes are not zombies");
        assert_eq!(decode_wait_status(9), (None, Some(9)));
    }

    #[test]
    fn a_shell_running_a_command_is_not_at_its_prompt() {
        // pid 1 is never looked at (the live cases run in tmux: tests/).
        assert_eq!(shell_at_prompt(1), None);
    }
}
