//! Named keys a person may send to answer a dialog or a menu
//! (`send NAME --keys Down Enter`, `s:send_keys{...}`, [`Agents::send_keys`]).
//!
//! Only an allow-list of tmux key names passes, each sent as its own argv
//! element to `send-keys` (never a shell string, never tmux command syntax):
//! `Enter`, `Escape` (`Esc`), `Tab`, `BTab`, `Space`, `BSpace`, `Up`,
//! `Down`, `Left`, `Right`, `Home`, `End`, `PageUp`, `PageDown`, `DC`
//! (`Delete`), `IC`, `F1`–`F12`, `C-a`–`C-z`, `M-a`–`M-z`, `M-0`–`M-9`, and
//! one letter, digit or one of `. , - / ? ! : + = _` (`y`, `1`). Names are
//! matched case-insensitively and sent in tmux's spelling.
//!
//! [`Agents::send_keys`]: super::Agents::send_keys

use crate::error::{Error, Result};

/// Named keys (tmux spelling) and the aliases that also name them.
const NAMED: &[(&str, &[&str])] = &[
    ("Enter", &["Return"]),
    ("Escape", &["Esc"]),
    ("Tab", &[]),
    ("BTab", &["S-Tab"]),
    ("Space", &[]),
    ("BSpace", &["Backspace"]),
    ("Up", &[]),
    ("Down", &[]),
    ("Left", &[]),
    ("Right", &[]),
    ("Home", &[]),
    ("End", &[]),
    ("PageUp", &["PgUp", "PPage"]),
    ("PageDown", &["PgDn", "NPage"]),
    ("DC", &["Delete", "Del"]),
    ("IC", &["Insert"]),
];

/// Single characters sent as themselves besides letters and digits.
const PUNCTUATION: &str = ".,-/?!:+=_";

/// The tmux name of `key`, or why it is refused.
pub fn key_name(key: &str) -> Result<String> {
    for (name, aliases) in NAMED {
        if name.eq_ignore_ascii_case(key) || aliases.iter().any(|a| a.eq_ignore_ascii_case(key)) {
            return Ok((*name).to_owned());
        }
    }
    let mut chars = key.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && (c.is_ascii_alphanumeric() || PUNCTUATION.contains(c))
    {
        return Ok(key.to_owned());
    }
    if let Some(n) = key
        .strip_prefix(['F', 'f'])
        .and_then(|n| n.parse::<u8>().ok())
        && (1..=12).contains(&n)
        && !key[1..].starts_with(['0', '+'])
    {
        return Ok(format!("F{n}"));
    }
    if let Some((modifier, rest)) = key.split_at_checked(2) {
        let mut chars = rest.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            let c = c.to_ascii_lowercase();
            match modifier {
                "C-" | "c-" if c.is_ascii_lowercase() => return Ok(format!("C-{c}")),
                "M-" | "m-" if c.is_ascii_lowercase() || c.is_ascii_digit() => {
                    return Ok(format!("M-{c}"));
                }
                _ => {}
            }
        }
    }
    Err(Error::InvalidInput(format!(
        "{} is not a key this can send (Enter, Escape, Tab, BTab, Space, BSpace, Up, Down, Left, \
         Right, Home, End, PageUp, PageDown, DC, IC, F1-F12, C-a..C-z, M-a..M-z, or one letter, \
         digit or one of {PUNCTUATION})",
        crate::error::printable(key)
    )))
}

/// [`key_name`] of every key, or the first refusal (nothing is sent then).
pub fn key_names<S: AsRef<str>>(keys: &[S]) -> Result<Vec<String>> {
    if keys.is_empty() {
        return Err(Error::InvalidInput("no keys to send".into()));
    }
    keys.iter().map(|k| key_name(k.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_keys_pass_in_tmux_spelling() {
        for (given, sent) in [
            ("Enter", "Enter"),
            ("enter", "Enter"),
            ("Esc", "Escape"),
            ("down", "Down"),
            ("C-c", "C-c"),
            ("c-C", "C-c"),
            ("M-1", "M-1"),
            ("f12", "F12"),
            ("y", "y"),
            ("1", "1"),
            ("?", "?"),
            ("S-Tab", "BTab"),
        ] {
            assert_eq!(key_name(given).expect(given), sent, "{given}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "Enter; kill-server",
            ";",
            "#",
            "\\",
            "yes",
            "C-",
            "C-1",
            "F13",
            "F0",
            "F01",
            "F+1",
            "$(x)",
            "\u{1b}",
            "é",
            " ",
            "Enter\n",
        ] {
            assert!(key_name(bad).is_err(), "{bad:?}");
        }
        assert!(key_names::<&str>(&[]).is_err());
        let err = key_names(&["Enter", "bogus"]).expect_err("one bad key");
        assert!(err.to_string().starts_with("bogus is not a key"), "{err}");
    }
}
