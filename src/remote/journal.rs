//! The host's record of each session's events (status changes, PRs), kept
//! in `<state dir>/events/<session>.ndjson` on the host where the agents
//! run. It is what makes sequence numbers host-wide: every `serve` process
//! on the host appends to the same file under a lock, and a change another
//! process already recorded is adopted with its seq instead of recorded
//! twice. A client that reconnects (to a new `serve` process) subscribes
//! `since` its last seq and gets exactly the records it missed.
//!
//! A file keeps the last [`KEEP`] records (older ones are dropped when it
//! grows past twice that); a record is one JSON [`Event`] per line.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use super::protocol::Event;
use crate::monitor::SessionStatus;

/// Records kept per session.
pub const KEEP: usize = 200;

/// What to do with an event under the lock.
enum Decision {
    /// Append it with the next seq.
    Append(Event),
    /// Already recorded as this.
    Existing(Event),
}

/// One host's event records.
#[derive(Clone, Debug)]
pub struct Journal {
    dir: PathBuf,
}

/// A session name usable as a file name (what `session_name` accepts).
fn file_safe(session: &str) -> bool {
    !session.is_empty()
        && session.len() <= crate::session::MAX_NAME_LEN
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn read_records(file: &File) -> Vec<Event> {
    BufReader::new(file)
        .lines()
        .map_while(|line| line.ok())
        .filter_map(|line| serde_json::from_str::<Event>(&line).ok())
        .collect()
}

/// How long a record waits for another process's lock (a process stopped
/// while holding it must not stop this host's monitoring for ever).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn lock_bounded(file: &File) -> io::Result<()> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::other(
                    "the event record is locked by another process",
                ));
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(err),
        }
    }
}

impl Journal {
    /// Records under `<state_dir>/events`.
    pub fn new(state_dir: &Path) -> Journal {
        Journal {
            dir: state_dir.join("events"),
        }
    }

    fn path(&self, session: &str) -> Option<PathBuf> {
        file_safe(session).then(|| self.dir.join(format!("{session}.ndjson")))
    }

    /// Every record of `session`, oldest first (none for an unusable name).
    pub fn records(&self, session: &str) -> Vec<Event> {
        let Some(path) = self.path(session) else {
            return Vec::new();
        };
        match File::open(path) {
            Ok(file) => read_records(&file),
            Err(_) => Vec::new(),
        }
    }

    /// Records of `session` with a seq above `since`.
    pub fn since(&self, session: &str, since: u64) -> Vec<Event> {
        self.records(session)
            .into_iter()
            .filter(|e| e.seq.is_some_and(|seq| seq > since))
            .collect()
    }

    /// The last seq of `session`, and its last recorded status when that
    /// record is of `pane` (or of any pane, for `None`).
    pub fn last_status(
        &self,
        session: &str,
        pane: Option<&str>,
    ) -> Option<(u64, Option<SessionStatus>)> {
        let records = self.records(session);
        let seq = records.iter().filter_map(|e| e.seq).max()?;
        let status = records
            .iter()
            .rev()
            .find(|e| e.kind == "status")
            .filter(|e| pane.is_none_or(|p| e.pane.as_deref() == Some(p)))
            .and_then(|e| e.new);
        Some((seq, status))
    }

    /// Records that `session` is now `event.new` (a `status` event): the
    /// record with its seq, or the one already there when the last status
    /// recorded is the same (another process saw it first).
    pub fn record_status(&self, session: &str, mut event: Event) -> io::Result<Event> {
        self.append_unless(session, move |records| {
            let last = records
                .iter()
                .rev()
                .find(|e| e.kind == "status")
                .filter(|e| e.pane == event.pane);
            if let Some(last) = last
                && last.new == event.new
            {
                return Decision::Existing(last.clone());
            }
            // A session made again under this name starts afresh.
            event.old = last.and_then(|e| e.new);
            Decision::Append(event)
        })
    }

    /// Records a PR URL seen on `session`'s screen, once per URL.
    pub fn record_pr(&self, session: &str, url: &str) -> io::Result<Event> {
        let event = Event {
            url: Some(url.to_owned()),
            ..Event::new("pr", session)
        };
        self.append_unless(session, move |records| {
            match records
                .iter()
                .find(|e| e.kind == "pr" && e.url.as_deref() == Some(url))
            {
                Some(seen) => Decision::Existing(seen.clone()),
                None => Decision::Append(event),
            }
        })
    }

    /// Under the file's lock: `decide` either returns the event to append
    /// (it gets the next seq) or the record that already says it.
    fn append_unless(
        &self,
        session: &str,
        decide: impl FnOnce(&[Event]) -> Decision,
    ) -> io::Result<Event> {
        let path = self.path(session).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "not a doeff session name")
        })?;
        std::fs::create_dir_all(&self.dir)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        lock_bounded(&file)?;
        let records = read_records(&file);
        let mut event = match decide(&records) {
            Decision::Append(event) => event,
            Decision::Existing(existing) => return Ok(existing),
        };
        let seq = records.iter().filter_map(|e| e.seq).max().unwrap_or(0) + 1;
        event.seq = Some(seq);
        event.session = session.to_owned();
        let mut line = serde_json::to_string(&event).map_err(io::Error::other)?;
        line.push('\n');
        if records.len() >= 2 * KEEP {
            // Rewrite in place (the lock is on this open file).
            let mut kept: String = records[records.len() - KEEP..]
                .iter()
                .filter_map(|e| serde_json::to_string(e).ok())
                .map(|l| l + "\n")
                .collect();
            kept.push_str(&line);
            file.set_len(0)?;
            file.rewind()?;
            file.write_all(kept.as_bytes())?;
        } else {
            file.write_all(line.as_bytes())?;
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(new: SessionStatus, reason: &str) -> Event {
        Event {
            new: Some(new),
            reason: Some(reason.into()),
            time_ms: 1,
            ..Event::new("status", "")
        }
    }

    fn journal(tag: &str) -> Journal {
        let dir = std::env::temp_dir().join(format!("doeff-journal-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Journal::new(&dir)
    }

    #[test]
    fn seqs_increase_and_a_change_recorded_twice_is_adopted() {
        let j = journal("seq");
        let first = j
            .record_status("doeff-a", status(SessionStatus::Running, "busy"))
            .unwrap();
        assert_eq!((first.seq, first.old), (Some(1), None));
        let blocked = j
            .record_status(
                "doeff-a",
                status(SessionStatus::Blocked, "permission_prompt"),
            )
            .unwrap();
        assert_eq!(blocked.seq, Some(2));
        assert_eq!(blocked.old, Some(SessionStatus::Running));
        // A second process seeing the same change gets the same record.
        let again = j
            .record_status(
                "doeff-a",
                status(SessionStatus::Blocked, "permission_prompt"),
            )
            .unwrap();
        assert_eq!(again, blocked);
        let pr = j
            .record_pr("doeff-a", "https://github.com/o/r/pull/1")
            .unwrap();
        assert_eq!(pr.seq, Some(3));
        assert_eq!(
            j.record_pr("doeff-a", "https://github.com/o/r/pull/1")
                .unwrap(),
            pr
        );
        assert_eq!(j.since("doeff-a", 1).len(), 2);
        assert_eq!(
            j.last_status("doeff-a", None),
            Some((3, Some(SessionStatus::Blocked)))
        );
        // The same name on another pane: a new life, no `old`.
        let mut again = status(SessionStatus::Blocked, "idle_prompt");
        again.pane = Some("%9".into());
        let fresh = j.record_status("doeff-a", again).unwrap();
        assert_eq!((fresh.seq, fresh.old), (Some(4), None));
        assert_eq!(j.last_status("doeff-a", Some("%1")), Some((4, None)));
        assert!(j.records("doeff-b").is_empty());
    }

    #[test]
    fn names_that_are_not_file_safe_are_refused() {
        let j = journal("names");
        assert!(
            j.record_status("../x", status(SessionStatus::Done, "x"))
                .is_err()
        );
        assert!(j.records("a/b").is_empty());
    }

    #[test]
    fn the_file_is_trimmed_and_seqs_keep_growing() {
        let j = journal("trim");
        let statuses = [SessionStatus::Running, SessionStatus::Blocked];
        for i in 0..(2 * KEEP + 5) {
            j.record_status("doeff-t", status(statuses[i % 2], "r"))
                .unwrap();
        }
        let records = j.records("doeff-t");
        assert!(records.len() <= 2 * KEEP);
        assert_eq!(
            records.last().and_then(|e| e.seq),
            Some((2 * KEEP + 5) as u64)
        );
    }
}
