//! Pane state for the monitor's process layer: [`PaneState`], the
//! `list-panes -F` format it is read with, and the parser of such replies.
//! The format is forge-proof ([`record_format`], [`parse_records`]): every
//! field is length-prefixed, so nothing a pane shows or names can pass for
//! another field or record; `list-sessions` uses it too.

use tmux_interface as ti;

use super::transport::TmuxArgs;
use super::{args, is_hidden_session, is_no_server, is_not_found};
use crate::error::{Error, Result};

/// What tmux knows about a pane's process (the monitor's process layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaneState {
    pub pane_id: String,
    /// The pane's session id (`$N`).
    pub session_id: String,
    pub session_name: String,
    /// The pane's process has ended (kept on screen by `remain-on-exit`).
    pub dead: bool,
    /// Exit status of a dead pane, when tmux knows it (`pane_dead_status`).
    pub exit_status: Option<i32>,
    /// Signal that ended a dead pane, when tmux knows it (`pane_dead_signal`).
    pub exit_signal: Option<i32>,
    /// Name of the foreground process (`pane_current_command`): for display
    /// only, since any process can choose its name.
    pub current_command: String,
    /// The pane's own process (`pane_pid`): what the agent was exec'd as.
    pub pid: u32,
    /// Unix time (seconds) of the last output in the pane's window
    /// (`window_activity`; tmux 3.3 has no per-pane activity).
    pub activity: Option<u64>,
    pub title: String,
    /// The last hook event the agent reported (`@doeff-hook`: the pane's
    /// own option, else the session's, armed at launch; empty: none).
    pub hook: String,
}

/// The variables of a pane line (see [`record_format`]).
const PANE_FORMAT: [&str; 11] = [
    "pane_id",
    "session_id",
    "session_name",
    "pane_dead",
    "pane_dead_status",
    "pane_dead_signal",
    "pane_current_command",
    "pane_pid",
    "window_activity",
    "pane_title",
    "@doeff-hook",
];

/// A `-F` format that cannot be forged: every field is printed as
/// `LENGTH:VALUE`, its byte length (`#{n:...}`) first, so a work dir, an
/// option value, a title or a process name holding newlines, colons or a
/// whole fake line is read as the one field it is. One record per line.
/// (Exact only on a UTF-8 client: the transports run tmux with `-u`, or
/// tmux would replace non-ASCII bytes and change the lengths.)
pub(super) fn record_format(variables: &[&str]) -> String {
    variables
        .iter()
        .map(|v| format!("#{{n:{v}}}:#{{{v}}}"))
        .collect()
}

/// How a reply that does not follow [`record_format`] is reported.
const MALFORMED: &str = "unexpected reply (malformed record";

/// How many times [`reread_torn`] reads.
const TORN_READS: usize = 3;

/// True for a reply that did not follow [`record_format`].
pub(super) fn is_malformed(err: &Error) -> bool {
    matches!(err, Error::Tmux { message, .. } if message.starts_with(MALFORMED))
}

/// Reads `read` again (up to [`TORN_READS`] reads in all) while its reply
/// is malformed. A `list-panes` reply can be torn without anything being
/// wrong: tmux evaluates `#{n:pane_current_command}` and
/// `#{pane_current_command}` separately, each from `/proc`, so a pane
/// whose foreground process changes in between (an agent starting or
/// ending) gets a length that does not match its value. Seen under load
/// with 100 sessions starting and ending ("malformed record at byte 38").
pub(super) fn reread_torn<T>(mut read: impl FnMut() -> Result<T>) -> Result<T> {
    let mut result = read();
    for _ in 1..TORN_READS {
        match &result {
            Err(err) if is_malformed(err) => result = read(),
            _ => break,
        }
    }
    result
}

/// The records of a [`record_format`] reply, `fields` values each. A reply
/// that does not follow the format is an error, never a guess.
pub(super) fn parse_records(out: &[u8], fields: usize, command: &str) -> Result<Vec<Vec<String>>> {
    let malformed =
        |at: usize| Error::tmux(command.to_owned(), format!("{MALFORMED} at byte {at})"));
    let mut records = Vec::new();
    let mut at = 0;
    while at < out.len() {
        let mut record = Vec::with_capacity(fields);
        for _ in 0..fields {
            let rest = out.get(at..).unwrap_or_default();
            let colon = rest
                .iter()
                .take(12)
                .position(|&b| b == b':')
                .ok_or_else(|| malformed(at))?;
            let digits = rest.get(..colon).unwrap_or_default();
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(malformed(at));
            }
            let len: usize = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| malformed(at))?;
            let start = at + colon + 1;
            let value = out
                .get(start..start.saturating_add(len))
                .ok_or_else(|| malformed(at))?;
            record.push(String::from_utf8_lossy(value).into_owned());
            at = start + len;
        }
        if out.get(at) != Some(&b'\n') {
            return Err(malformed(at));
        }
        at += 1;
        records.push(record);
    }
    Ok(records)
}

fn pane_from_fields(fields: Vec<String>) -> Option<PaneState> {
    let [
        pane_id,
        session_id,
        session_name,
        dead,
        status,
        signal,
        command,
        pid,
        activity,
        title,
        hook,
    ] = <[String; 11]>::try_from(fields).ok()?;
    if !pane_id.starts_with('%') {
        return None;
    }
    Some(PaneState {
        pane_id,
        session_id,
        session_name,
        dead: dead == "1",
        exit_status: status.parse().ok(),
        exit_signal: signal.parse().ok(),
        current_command: command,
        pid: pid.parse().unwrap_or(0),
        activity: activity.parse().ok(),
        title,
        hook,
    })
}

/// Every pane of a `list-panes` reply.
fn parse_panes(out: &[u8]) -> Result<Vec<PaneState>> {
    Ok(parse_records(out, PANE_FORMAT.len(), "list-panes")?
        .into_iter()
        .filter_map(pane_from_fields)
        .collect())
}

/// `list-panes -a` with [`PANE_FORMAT`].
pub(super) fn list_all_panes() -> TmuxArgs {
    args(
        ti::ListPanes::new()
            .all()
            .format(record_format(&PANE_FORMAT))
            .build(),
    )
}

/// `list-panes` of one pane with [`PANE_FORMAT`].
pub(super) fn list_one_pane(pane_id: &str) -> TmuxArgs {
    args(
        ti::ListPanes::new()
            .target(pane_id)
            .format(record_format(&PANE_FORMAT))
            .build(),
    )
}

/// The pane's state in a `list-panes` reply; `None` when it is gone.
pub(super) fn parse_pane_state(reply: Result<Vec<u8>>, pane_id: &str) -> Result<Option<PaneState>> {
    match reply {
        Ok(out) => Ok(parse_panes(&out)?
            .into_iter()
            .find(|p| p.pane_id == pane_id)),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The states in a `list-panes -a` reply, hidden sessions left out; none
/// with no server.
pub(super) fn parse_pane_states(reply: Result<Vec<u8>>) -> Result<Vec<PaneState>> {
    match reply {
        Ok(out) => Ok(parse_panes(&out)?
            .into_iter()
            .filter(|p| !is_hidden_session(&p.session_name))
            .collect()),
        Err(err) if is_no_server(&err) => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::SESSION_FORMAT;
    use super::*;

    /// A record as tmux prints it for [`record_format`].
    pub(crate) fn record(values: &[&str]) -> Vec<u8> {
        let mut out: Vec<u8> = values
            .iter()
            .flat_map(|v| format!("{}:{v}", v.len()).into_bytes())
            .collect();
        out.push(b'\n');
        out
    }

    /// A `list-panes` reply whose command changed between its length and
    /// its value (`sh` measured, `doeff-agents` printed) is malformed, and
    /// read again; a good reply on the next read is the result.
    #[test]
    fn a_torn_pane_record_is_read_again() {
        let values = [
            "%1", "$1", "doeff-a", "0", "", "", "sh", "42", "100", "t", "",
        ];
        let good = record(&values);
        let torn = String::from_utf8(good.clone())
            .expect("utf8")
            .replace("2:sh", "2:doeff-agents")
            .into_bytes();
        let err = parse_panes(&torn).expect_err("torn");
        assert!(is_malformed(&err), "{err}");

        let mut replies = vec![torn.clone(), good].into_iter();
        let mut reads = 0;
        let states = reread_torn(|| {
            reads += 1;
            parse_pane_states(Ok(replies.next().expect("a reply")))
        })
        .expect("read again");
        assert_eq!(reads, 2);
        assert_eq!(states[0].current_command, "sh");

        // Torn every time: the error, after a bounded number of reads.
        let mut reads = 0;
        let err = reread_torn(|| {
            reads += 1;
            parse_pane_states(Ok(torn.clone()))
        })
        .expect_err("still torn");
        assert!(is_malformed(&err));
        assert_eq!(reads, TORN_READS);
        // Other errors are not read again.
        let mut reads = 0;
        let _ = reread_torn(|| -> Result<()> {
            reads += 1;
            Err(Error::tmux("list-panes".into(), "no current client".into()))
        });
        assert_eq!(reads, 1);
    }

    #[test]
    fn values_holding_newlines_and_fake_records_stay_one_field() {
        // A work dir that ends its line and forges a whole second session.
        let forged = "/tmp/w\n7:doeff-x2:$93:1700:10:3:%99:0:0:0:\n9:doeff-y";
        let mut out = record(&[
            "doeff-a",
            "$1",
            "1700000000",
            "0",
            "%3",
            "demo",
            forged,
            "",
            "",
        ]);
        out.extend(record(&["doeff-b", "$2", "1", "1", "%4", "", "", "", ""]));
        let records = parse_records(&out, SESSION_FORMAT.len(), "x").expect("parses");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0][6], forged);
        assert_eq!(records[1][4], "%4");
        // A reply cut short, or with a wrong length, is an error, not a guess.
        assert!(parse_records(&out[..out.len() - 1], 9, "x").is_err());
        assert!(parse_records(b"3:ab\n", 1, "x").is_err());
    }

    #[test]
    fn pane_records_parse_dead_status() {
        let out = record(&[
            "%1",
            "$0",
            "doeff-a",
            "1",
            "3",
            "",
            "demo",
            "42",
            "1700000000",
            "ti\ntle",
            "2|Stop||1700000000123",
        ]);
        let panes = parse_panes(&out).expect("parses");
        let [pane] = panes.as_slice() else {
            panic!("one pane: {panes:?}")
        };
        assert!(pane.dead);
        assert_eq!(pane.activity, Some(1_700_000_000));
        assert_eq!(pane.title, "ti\ntle");
        assert_eq!(pane.exit_status, Some(3));
        assert_eq!(pane.exit_signal, None);
        assert_eq!(pane.pid, 42);
        assert_eq!(pane.session_id, "$0");
        assert_eq!(pane.hook, "2|Stop||1700000000123");
    }
}
