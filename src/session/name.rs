//! Session names: the `doeff-` prefix, validation, and [`resolve`], the one
//! rule every command uses to turn a name a user typed into a session. A
//! valid name cannot be misread by tmux as a target (`:` `.` `%` `=` are
//! refused), is not empty, and is at most [`MAX_NAME_LEN`] characters.
//!
//! A bare name only ever reaches a session this product created (named
//! `doeff-...` *and* carrying its `@doeff-agent` metadata): `stop main` on a
//! server where only the user's own `main` exists is "no doeff session named
//! main", never a fallback to `main`. Reaching any other tmux session takes
//! [`Lookup::Raw`] (the CLI's `--raw-target`), on purpose.

use crate::error::{Error, Result};
use crate::tmux::SessionInfo;

/// Every session this product creates is named `doeff-...`.
pub const PREFIX: &str = "doeff-";
/// Longest accepted full session name.
pub const MAX_NAME_LEN: usize = 100;

/// `name` with the `doeff-` prefix (added once), validated.
pub fn session_name(name: &str) -> Result<String> {
    let full = if name.starts_with(PREFIX) {
        name.to_owned()
    } else {
        format!("{PREFIX}{name}")
    };
    validate(name, &full)?;
    Ok(full)
}

fn validate(given: &str, full: &str) -> Result<()> {
    let invalid = |why: &str| {
        Err(Error::InvalidSessionName {
            name: given.to_owned(),
            why: why.to_owned(),
        })
    };
    if given.is_empty() {
        return invalid("it is empty");
    }
    if full.len() == PREFIX.len() {
        return invalid("it is only the prefix");
    }
    if full.len() > MAX_NAME_LEN {
        return invalid(&format!("longer than {MAX_NAME_LEN} characters"));
    }
    if let Some(c) = full
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return invalid(&format!(
            "{c:?} is not allowed (use letters, digits, '-' and '_')"
        ));
    }
    Ok(())
}

/// The full name a name a user typed stands for: `doeff-NAME` (the prefix
/// added once). Never the bare `NAME`: that would be someone else's session.
pub fn lookup_candidates(name: &str) -> Vec<String> {
    if name.starts_with(PREFIX) {
        vec![name.to_owned()]
    } else {
        vec![format!("{PREFIX}{name}")]
    }
}

/// True for a session this product created: named `doeff-...` and holding
/// the `@doeff-agent` option that `launch_session` sets in the same tmux
/// call as it creates the session.
pub fn is_doeff_session(info: &SessionInfo) -> bool {
    info.name.starts_with(PREFIX) && info.agent.as_deref().is_some_and(|a| !a.is_empty())
}

/// How [`resolve`] reads a name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// `NAME` or `doeff-NAME`, only among sessions this product created.
    #[default]
    Doeff,
    /// An exact tmux session name, any session (`--raw-target`).
    Raw,
}

/// The session `name` stands for among `sessions` (one server's listing).
/// The error is one line: "no doeff session named NAME", saying so when a
/// session of that exact name exists but was not made by doeff-agents.
pub fn resolve<'a>(
    sessions: &'a [SessionInfo],
    name: &str,
    lookup: Lookup,
) -> Result<&'a SessionInfo> {
    match lookup {
        Lookup::Raw => {
            if name.is_empty() || name.contains(['\0', '\n']) {
                return Err(Error::InvalidSessionName {
                    name: name.to_owned(),
                    why: "a tmux session name cannot be empty or hold NUL or newline".into(),
                });
            }
            sessions
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| Error::NoSuchTmuxSession(name.to_owned()))
        }
        Lookup::Doeff => {
            let full = session_name(name)?;
            if let Some(found) = sessions
                .iter()
                .find(|s| s.name == full && is_doeff_session(s))
            {
                return Ok(found);
            }
            let foreign = sessions.iter().any(|s| s.name == name || s.name == full);
            Err(if foreign {
                Error::NotDoeffSession(name.to_owned())
            } else {
                Error::SessionNotFound(name.to_owned())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_added_once() {
        assert_eq!(session_name("x").ok().as_deref(), Some("doeff-x"));
        assert_eq!(session_name("doeff-x").ok().as_deref(), Some("doeff-x"));
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "", "doeff-", "a:b", "a.b", "a%b", "it's", "a b", "a\nb", "=x",
        ] {
            assert!(session_name(bad).is_err(), "{bad:?}");
        }
        assert!(session_name(&"a".repeat(300)).is_err());
    }

    fn info(name: &str, agent: Option<&str>) -> SessionInfo {
        SessionInfo {
            name: name.into(),
            id: "$1".into(),
            created: 0,
            attached: false,
            pane_id: "%1".into(),
            agent: agent.map(str::to_owned),
            work_dir: None,
            conversation: None,
            observed: None,
        }
    }

    #[test]
    fn a_bare_name_never_falls_back_to_a_foreign_session() {
        let sessions = [
            info("main", None),
            info("doeff-fake", None),
            info("doeff-job", Some("demo")),
        ];
        for (given, found) in [("job", "doeff-job"), ("doeff-job", "doeff-job")] {
            let hit = resolve(&sessions, given, Lookup::Doeff).map(|s| s.name.as_str());
            assert_eq!(hit.ok(), Some(found), "{given}");
        }
        for foreign in ["main", "fake", "doeff-fake"] {
            let err = resolve(&sessions, foreign, Lookup::Doeff).expect_err(foreign);
            assert!(
                err.to_string()
                    .starts_with(&format!("no doeff session named {foreign}")),
                "{err}"
            );
        }
        let missing = resolve(&sessions, "nope", Lookup::Doeff).expect_err("missing");
        assert_eq!(missing.to_string(), "no doeff session named nope");
        // On purpose, any exact name.
        let raw = resolve(&sessions, "main", Lookup::Raw).map(|s| s.name.as_str());
        assert_eq!(raw.ok(), Some("main"));
        assert!(resolve(&sessions, "mai", Lookup::Raw).is_err());
        assert!(resolve(&sessions, "job", Lookup::Raw).is_err());
    }
}
