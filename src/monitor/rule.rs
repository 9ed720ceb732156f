//! Status rules: what a rule matches ([`Matcher`]s), where it looks (a
//! [`Region`]), what cancels it (vetoes), and when it applies (always, or
//! only on a screen that has not changed since the last observation). The
//! engine only: the built-in rules are data in `defaults.rs`.

use super::matcher::Matcher;
use super::matcher_set::MatcherSet;
use super::screen::Screen;
use super::status::SessionStatus;

/// The part of the screen a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// The last N non-blank lines.
    Last(usize),
    /// Every line.
    Screen,
    /// The pane title.
    Title,
}

impl Region {
    /// Lines of the region, bottom first (the most recent text wins).
    pub fn lines<'a>(&self, screen: &'a Screen) -> Vec<&'a str> {
        self.iter(screen).collect()
    }

    /// Lines of the region, bottom first, without allocating.
    pub fn iter<'a>(&self, screen: &'a Screen) -> RegionLines<'a> {
        let (remaining, skip_blank, title) = match *self {
            Region::Last(n) => (n, true, None),
            Region::Screen => (usize::MAX, false, None),
            Region::Title => (1, false, Some(screen.title.as_str())),
        };
        RegionLines {
            lines: screen.lines.iter().rev(),
            remaining,
            skip_blank,
            title,
        }
    }
}

/// Iterator over a [`Region`]'s lines, bottom first.
#[derive(Clone, Debug)]
pub struct RegionLines<'a> {
    lines: std::iter::Rev<std::slice::Iter<'a, String>>,
    remaining: usize,
    skip_blank: bool,
    title: Option<&'a str>,
}

impl<'a> Iterator for RegionLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        if self.title.is_some() {
            return self.title.take();
        }
        if self.skip_blank {
            self.lines
                .by_ref()
                .map(String::as_str)
                .find(|l| !l.trim().is_empty())
        } else {
            self.lines.next().map(String::as_str)
        }
    }
}

/// When a rule may decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    pub when: When,
    /// Match regexes against the region's lines joined by `\n` (top to
    /// bottom) instead of line by line, for shapes that span lines.
    pub joined: bool,
}

impl Rule {
    /// A rule that applies always and looks at the last 10 lines; `blocked`
    /// rules default to applying only to unchanged screens.
    pub fn new(id: impl Into<String>, status: SessionStatus, reason: impl Into<String>) -> Rule {
        Rule {
            id: id.into(),
            status,
            reason: reason.into(),
            matchers: MatcherSet::default(),
            region: Region::Last(10),
            vetoes: MatcherSet::default(),
            veto_region: Region::Last(10),
            when: if status == SessionStatus::Blocked {
                When::Unchanged
            } else {
                When::Always
            },
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

    /// The matched line, if the rule fires on this screen (vetoes applied).
    pub fn find<'a>(&self, screen: &'a Screen) -> Option<&'a str> {
        self.find_with(screen, &RegionTexts::new(screen))
    }

    /// [`Rule::find`], testing each region's joined lines first (one regex
    /// call instead of one per line for the usual rule that does not fire).
    pub fn find_with<'a>(&self, screen: &'a Screen, texts: &RegionTexts<'_>) -> Option<&'a str> {
        let line = if self.joined {
            let mut top_down = self.region.lines(screen);
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
                && !self.matchers.any_match(&texts.get(self.region))
            {
                return None;
            }
            self.region
                .iter(screen)
                .find(|line| self.matchers.any_match(line))?
        };
        let vetoed = !self.vetoes.is_empty() && {
            let joinable = self.vetoes.iter().all(Matcher::is_joinable);
            (!joinable || self.vetoes.any_match(&texts.get(self.veto_region)))
                && self
                    .veto_region
                    .iter(screen)
                    .any(|line| self.vetoes.any_match(line))
        };
        (!vetoed).then_some(line)
    }
}

/// A screen's regions as joined text, built once per classification. A
/// joinable matcher (see [`Matcher::is_joinable`]: substrings cannot span
/// the `\n`, and status regexes are multi-line) that finds nothing in a
/// region's joined lines matches none of them, so a rule tests the joined
/// text first.
pub struct RegionTexts<'s> {
    screen: &'s Screen,
    joined: std::cell::RefCell<Vec<(Region, std::rc::Rc<str>)>>,
}

impl<'s> RegionTexts<'s> {
    pub fn new(screen: &'s Screen) -> Self {
        RegionTexts {
            screen,
            joined: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The region's lines joined by `\n` (bottom first).
    pub fn get(&self, region: Region) -> std::rc::Rc<str> {
        if let Some((_, text)) = self.joined.borrow().iter().find(|(r, _)| *r == region) {
            return text.clone();
        }
        let lines: Vec<&str> = region.iter(self.screen).collect();
        let text: std::rc::Rc<str> = lines.join("\n").into();
        self.joined.borrow_mut().push((region, text.clone()));
        text
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
