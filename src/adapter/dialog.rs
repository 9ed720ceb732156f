//! Start-up dialogs an adapter knows (trust this folder, onboarding, update
//! offers, bypass-permissions confirmation): how to recognise each one, the
//! status reason it reports, and the keys that answer it.
//!
//! A dialog is answered only when it is marked `safe` and the user asked for
//! it (`LaunchConfig::accept_dialogs`); otherwise it is reported as `blocked`
//! with its reason. A dialog the adapter does not know is never typed into.
//! Update offers are declared with their skip choice, or not answered at all.

use crate::monitor::{Matcher, Region, Rule, Screen, SessionStatus, When};

/// Lines from the bottom of the screen a dialog is looked for in.
pub const DIALOG_REGION: usize = 20;

/// One known dialog.
#[derive(Clone, Debug)]
pub struct Dialog {
    /// Short name (`trust`, `update`, `bypass_permissions`).
    pub id: String,
    /// Any of these matching a line of the last [`DIALOG_REGION`] lines shows the dialog.
    pub matchers: Vec<Matcher>,
    /// The status reason reported while it is on screen (`trust_dialog`).
    pub reason: String,
    /// tmux key names that answer it (`Enter`, `Down`, `2`), sent one by one.
    pub answer: Vec<String>,
    /// May be answered on the user's behalf when they ask for it.
    pub safe: bool,
}

impl Dialog {
    /// The line that shows this dialog on `screen`, if it is there.
    pub fn find<'a>(&self, screen: &'a Screen) -> Option<&'a str> {
        screen
            .last_non_blank(DIALOG_REGION)
            .find(|line| self.matchers.iter().any(|m| m.is_match(line)))
    }

    /// The status rule that reports this dialog as `blocked` with its reason.
    pub fn rule(&self, adapter: &str) -> Rule {
        let mut rule = Rule::new(
            format!("{adapter}.dialog.{}", self.id),
            SessionStatus::Blocked,
            self.reason.clone(),
        )
        .region(Region::Last(DIALOG_REGION))
        // Modal: it decides whether or not the screen changed (as the
        // default trust-dialog rule does).
        .when(When::Always);
        rule.matchers = self.matchers.clone().into();
        rule
    }
}

/// The first of `dialogs` showing on `screen`.
pub fn showing<'a>(dialogs: &'a [Dialog], screen: &Screen) -> Option<&'a Dialog> {
    dialogs.iter().find(|d| d.find(screen).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dialog_is_found_only_near_the_bottom() {
        let dialog = Dialog {
            id: "trust".into(),
            matchers: vec![Matcher::text("trust this folder")],
            reason: "trust_dialog".into(),
            answer: vec!["Enter".into()],
            safe: true,
        };
        let shown = Screen::from_text("header\n❯ 1. Yes, I trust this folder\n  2. No, exit\n");
        assert!(dialog.find(&shown).is_some());
        let mut old = String::from("Yes, I trust this folder\n");
        for i in 0..30 {
            old.push_str(&format!("line {i}\n"));
        }
        assert!(dialog.find(&Screen::from_text(&old)).is_none());
        assert_eq!(dialog.rule("claude").reason, "trust_dialog");
    }
}
