//! The order an adapter's rules are tried in, assembled in one place: its
//! known dialogs (modal), then its own `patterns`, then the built-in
//! defaults it keeps (in their precedence, see `defaults.rs`). Waiting
//! rules (`blocked`) are cancelled by a live activity marker. Rules that
//! decide only on saved screens (exit by a shell prompt, tmux's dead-pane
//! line, a `Killed` line, a goodbye) are tried first there by the
//! classifier.

use super::defaults::{COMPLETION_RULE, default_rules};
use super::matcher_set::MatcherSet;
use super::rule::Rule;
use super::status::SessionStatus;

/// What an adapter brings to its rule list.
#[derive(Debug, Default)]
pub struct RuleSources {
    /// Rules of its known dialogs (first: a dialog is modal).
    pub dialogs: Vec<Rule>,
    /// Its own rules, in order.
    pub own: Vec<Rule>,
    /// Ids of default rules it turns off.
    pub disabled: Vec<String>,
    /// Its CLI's goodbye lines (a saved screen showing one has exited).
    pub goodbye: MatcherSet,
    /// Its CLI prints completion phrases ("Task completed successfully"):
    /// only then does the completion rule decide `done`.
    pub prints_completion: bool,
}

/// Id of the rule made of an adapter's goodbye lines.
pub const GOODBYE_RULE: &str = "screen.goodbye";

/// The full rule list, in the order the classifier tries it.
pub fn assemble(sources: RuleSources) -> Vec<Rule> {
    let RuleSources {
        dialogs,
        own,
        disabled,
        prints_completion,
        goodbye,
    } = sources;
    let mut rules = dialogs;
    rules.extend(own);
    if !goodbye.is_empty() {
        let mut rule = Rule::new(GOODBYE_RULE, SessionStatus::Exited, "process_exited");
        rule.matchers = goodbye;
        rule.screen_only = true;
        rules.push(rule);
    }
    rules.extend(
        default_rules().into_iter().filter(|r| {
            !disabled.contains(&r.id) && (prints_completion || r.id != COMPLETION_RULE)
        }),
    );
    for rule in rules
        .iter_mut()
        .filter(|r| r.status == SessionStatus::Blocked)
    {
        rule.busy_veto = true;
    }
    rules
}

/// The defaults an adapter without its own rules gets.
pub fn defaults_only() -> Vec<Rule> {
    assemble(RuleSources::default())
}
