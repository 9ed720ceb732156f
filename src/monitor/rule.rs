//! Status rules: what a rule matches ([`Matcher`]s), where it looks (a
//! [`Region`] of the screen model), what cancels it (vetoes), and when it applies (always, or
//! only on a screen that has not changed since the last observation). The
//! engine only: the built-in rules are data in `defaults.rs`.

use super::layout::Layout;
pub use super::layout::Region;
use super::matcher::Matcher;
use super::matcher_set::MatcherSet;
use super::screen::Screen;
use super::status::SessionStatus;

/// When a rule may decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum When {
    /// On any observation.
    Always,
    /// Only when the screen is unchanged since the last observation
    /// (waiting-for-input rules: a changing screen means work).
    Unchanged,
}

/// One status rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Stable id shown as evidence (`claude.permission_prompt`, `default.rate_limit`).
    pub id: String,
    pub status: SessionStatus,
    pub reason: String,
    /// Any of these matching a line of the region fires the rule.
    pub matchers: MatcherSet,
    pub region: Region,
    /// Any of these matching a line of `veto_region` cancels the rule.
    pub vetoes: MatcherSet,
    pub veto_region: Region,
    /// A live activity marker (the screen model's `activity` region holds
    /// a busy line) cancels the rule.
    pub busy_veto: bool,
    pub when: When,
    /// Decides only on a screen without process facts (a saved screen):
    /// exit-by-prompt rules, which a live session learns from its process.
    pub screen_only: bool,
    /// Match regexes against the region's lines joined by `\n` (top to
    /// bottom) instead of line by line, for shapes that span lines.
    pub joined: bool,
}

impl Rule {
    /// A rule that applies on every observation ([`When::Always`], the one
    /// default), looks at the latest turn and its footer
    /// ([`Region::Latest`]) and is cancelled by no veto.
    pub fn new(id: impl Into<String>, status: SessionStatus, reason: impl Into<String>) -> Rule {
        Rule {
            id: id.into(),
            status,
            reason: reason.into(),
            matchers: MatcherSet::default(),
            region: Region::Latest,
            vetoes: MatcherSet::default(),
            veto_region: Region::Latest,
            busy_veto: false,
            when: When::Always,
            screen_only: false,
            joined: false,
        }
    }

    pub fn matching(mut self, matcher: Matcher) -> Rule {
        self.matchers.push(matcher);
        self
    }

    pub fn unless(mut self, matcher: Matcher) -> Rule {
        self.vetoes.push(matcher);
        self
    }

    pub fn region(mut self, region: Region) -> Rule {
        self.region = region;
        self.veto_region = region;
        self
    }

    pub fn when(mut self, when: When) -> Rule {
        self.when = when;
        self
    }

    /// The matched line, if the rule fires on this screen (vetoes applied),
    /// with no screen model (tests and quick checks).
    pub fn find<'a>(&self, screen: &'a Screen) -> Option<&'a str> {
        self.find_in(&Layout::plain(screen))
    }

    /// The matched line in `layout`'s regions, if the rule fires (vetoes
    /// applied), testing each region's joined lines first (one regex call
    /// instead of one per line for the usual rule that does not fire).
    pub fn find_in<'a>(&self, layout: &Layout<'a>) -> Option<&'a str> {
        if self.busy_veto && layout.busy() {
            return None;
        }
        let line = if self.joined {
            let mut top_down: Vec<&'a str> = layout.lines(self.region).collect();
            top_down.reverse();
            let text = top_down.join("\n");
            let at = self.matchers.iter().find_map(|m| m.find_offset(&text))?;
            // Evidence is the region line where the match starts.
            let mut offset = 0;
            top_down
                .into_iter()
                .find(|l| {
                    offset += l.len() + 1;
                    offset > at
                })
                .unwrap_or_default()
        } else {
            if self.matchers.iter().all(Matcher::is_joinable)
                && !self.matchers.any_match(&layout.joined(self.region))
            {
                return None;
            }
            layout
                .lines(self.region)
                .find(|line| self.matchers.any_match(line))?
        };
        let vetoed = !self.vetoes.is_empty() && {
            let joinable = self.vetoes.iter().all(Matcher::is_joinable);
            (!joinable || self.vetoes.any_match(&layout.joined(self.veto_region)))
                && layout
                    .lines(self.veto_region)
                    .any(|line| self.vetoes.any_match(line))
        };
        (!vetoed).then_some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus as S;

    #[test]
    fn text_anchors_keep_their_per_line_meaning() {
        // \A is each line's start for a line rule, so the joined-region
        // prefilter must not reject the region.
        let rule = Rule::new("t.anchor", SessionStatus::Failed, "x")
            .matching(Matcher::regex(r"\Aerror:", false).expect("valid"));
        let screen = Screen::from_text("error: boom\nmore\nlast");
        assert_eq!(rule.find(&screen), Some("error: boom"));
        // A joined rule's ^ and $ are the region's top and bottom.
        let mut joined = Rule::new("t.joined", SessionStatus::Blocked, "y")
            .matching(Matcher::regex_of_text(r"^first\nsecond$", false).expect("valid"));
        joined.joined = true;
        assert!(joined.find(&Screen::from_text("first\nsecond")).is_some());
        assert!(
            joined
                .find(&Screen::from_text("zero\nfirst\nsecond"))
                .is_none()
        );
    }

    #[test]
    fn vetoes_cancel_a_rule() {
        let rule = Rule::new("t", S::Blocked, "idle")
            .matching(Matcher::text("? for shortcuts"))
            .unless(Matcher::nocase("ESC TO INTERRUPT"));
        let idle = Screen::from_text("> \n? for shortcuts");
        let busy = Screen::from_text("· Thinking… (esc to interrupt)\n> \n? for shortcuts");
        assert_eq!(rule.find(&idle), Some("? for shortcuts"));
        assert_eq!(rule.find(&busy), None);
    }

    #[test]
    fn region_limits_where_a_rule_looks() {
        let rule = Rule::new("t", S::Done, "x")
            .matching(Matcher::text("bye"))
            .region(Region::Last(1));
        assert!(rule.find(&Screen::from_text("bye\nmore")).is_none());
        assert!(rule.find(&Screen::from_text("more\nbye\n\n")).is_some());
    }
}
