//! Session names: the `doeff-` prefix and validation. A valid name cannot be
//! misread by tmux as a target (`:` `.` `%` `=` are refused), is not empty,
//! and is at most [`MAX_NAME_LEN`] characters.

use crate::error::{Error, Result};

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

/// Candidate full names for a name a user typed: `doeff-NAME` first, then
/// `NAME` itself (for sessions listed with `ps --all`).
pub fn lookup_candidates(name: &str) -> Vec<String> {
    if name.starts_with(PREFIX) {
        vec![name.to_owned()]
    } else {
        vec![format!("{PREFIX}{name}"), name.to_owned()]
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
}
