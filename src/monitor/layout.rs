//! The screen model: an adapter's declarative description of its UI
//! ([`ScreenModel`]: the composer line, whether it sits under a rule or in
//! a box, the echo of a user prompt that starts a turn, the activity
//! markers) and, computed once per screen from it, the named regions rules
//! look at ([`Layout`]): `turn` (after the last prompt echo, above the
//! composer), `above_composer`, `composer`, `footer` (under the composer),
//! `latest` (turn and footer, never what the user is typing), `activity`
//! (busy lines in `latest`, wherever they sit), `below` (under the agent's
//! last frame: where a shell prompt shows once it exited), `bottom`
//! (composer and footer), `screen`, `title`, and `last_lines(n)` as a
//! fallback for adapters without a model.
//!
//! Regions are found by structure, not by counting lines from the bottom:
//! extra notice rows under a footer, a spinner several rows above an input
//! box, or a short pane move text between rows but not between regions.

use std::cell::RefCell;
use std::rc::Rc;

use super::matcher::Matcher;
use super::matcher_set::MatcherSet;
use super::screen::Screen;

/// How an adapter's UI is laid out (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct ScreenModel {
    /// Regexes for the composer (input) line; the lowest qualifying row is it.
    pub composer: MatcherSet,
    /// The composer sits under a horizontal rule or a box top (within
    /// `RULE_WITHIN` non-blank rows above it): an echo of an old prompt, which looks
    /// the same, does not, nor a `>` line deep inside a dialog box.
    pub composer_ruled: bool,
    /// The composer also has a closing rule under it (within
    /// `COMPOSER_MAX_ROWS`): a shell prompt drawn under the footer, which
    /// has the composer's closing rule above it, does not.
    pub composer_closed: bool,
    /// Regexes for the echo of the user's last prompt: a turn starts under it.
    pub turn_start: MatcherSet,
    /// Busy lines (spinners, "esc to interrupt") beyond the built-in ones.
    pub activity: MatcherSet,
    /// Lines the CLI prints as it exits ("Agent powering down. Goodbye!").
    pub goodbye: MatcherSet,
}

/// Non-blank rows above a ruled composer its rule may be (a re-flowed
/// footer hint or notice may sit between them).
pub const RULE_WITHIN: usize = 4;
/// Rows under a ruled composer its closing rule may be (multi-line input).
const COMPOSER_MAX_ROWS: usize = 10;
/// Without a model, the `turn` is this many non-blank rows from the bottom.
pub const FALLBACK_TURN: usize = 12;
/// Without a composer, `bottom` is this many non-blank rows from the bottom.
const FALLBACK_BOTTOM: usize = 3;

impl ScreenModel {
    /// True when the adapter describes its UI (a composer or turn echo).
    pub fn is_declared(&self) -> bool {
        !self.composer.is_empty() || !self.turn_start.is_empty()
    }
}

/// The part of the screen a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Region {
    /// The last N non-blank lines (fallback for adapters without a model).
    Last(usize),
    /// Every line.
    Screen,
    /// The pane title.
    Title,
    /// The latest turn: under the last prompt echo, above the composer.
    Turn,
    /// Everything above the composer.
    AboveComposer,
    /// The composer (what the user is typing).
    Composer,
    /// The rows under the composer.
    Footer,
    /// The turn and the footer: all of the agent's latest frame but the composer.
    Latest,
    /// Busy lines (spinners, "esc to interrupt") in [`Region::Latest`].
    Activity,
    /// Under the agent's last frame: the footer, or without a composer the
    /// last 3 non-blank rows (where a shell prompt shows once the agent
    /// exited, maybe with the frozen footer still under it).
    Below,
    /// The composer and footer, or without a composer the last 3 rows.
    Bottom,
    /// The last non-blank row, when it is under the agent's last frame
    /// (where a bare `$` or `>` prompt counts).
    BelowLast,
}

/// Region names as adapters write them (`region = "turn"`).
pub const REGION_NAMES: &[&str] = &[
    "screen",
    "title",
    "turn",
    "above_composer",
    "composer",
    "footer",
    "latest",
    "activity",
    "below",
    "bottom",
    "below_last",
];

impl Region {
    /// The region named `name` (one of [`REGION_NAMES`]).
    pub fn named(name: &str) -> Option<Region> {
        Some(match name {
            "screen" => Region::Screen,
            "title" => Region::Title,
            "turn" => Region::Turn,
            "above_composer" => Region::AboveComposer,
            "composer" => Region::Composer,
            "footer" => Region::Footer,
            "latest" => Region::Latest,
            "activity" => Region::Activity,
            "below" => Region::Below,
            "bottom" => Region::Bottom,
            "below_last" => Region::BelowLast,
            _ => return None,
        })
    }

    /// How evidence names it: `turn`, `last_lines(6)`.
    pub fn name(&self) -> String {
        match self {
            Region::Last(n) => format!("last_lines({n})"),
            Region::Screen => "screen".into(),
            Region::Title => "title".into(),
            Region::Turn => "turn".into(),
            Region::AboveComposer => "above_composer".into(),
            Region::Composer => "composer".into(),
            Region::Footer => "footer".into(),
            Region::Latest => "latest".into(),
            Region::Activity => "activity".into(),
            Region::Below => "below".into(),
            Region::Bottom => "bottom".into(),
            Region::BelowLast => "below_last".into(),
        }
    }
}

/// A screen cut into its regions, once per classification, with each
/// region's joined text cached (see [`Layout::joined`]).
pub struct Layout<'s> {
    pub screen: &'s Screen,
    /// Composer rows, inclusive.
    composer: Option<(usize, usize)>,
    /// Turn rows, half-open.
    turn: (usize, usize),
    /// Row of the last prompt echo.
    turn_start: Option<usize>,
    /// Busy rows, bottom first.
    activity: Vec<usize>,
    joined: RefCell<Vec<(Region, Rc<str>)>>,
}

/// A numbered choice of a dialog: `› 1. Yes`, `│ ● 2. Stop`, `  3. No`.
pub fn is_choice(line: &str) -> bool {
    let rest = line.trim_start_matches([' ', '│', '┃']);
    let rest = rest
        .strip_prefix(['›', '❯', '●', '▶', '>', '*'])
        .map_or(rest, |r| r.trim_start());
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (1..=2).contains(&digits)
        && rest[digits..].starts_with(['.', ')'])
        && rest[digits + 1..].starts_with(' ')
        && !rest[digits + 1..].trim().is_empty()
}

/// A horizontal rule or the top or bottom edge of a box.
pub fn is_rule(line: &str) -> bool {
    let t = line.trim_start();
    let mut chars = t.chars();
    match chars.next() {
        Some('╭' | '╰' | '┌' | '└' | '┏' | '┗') => {
            matches!(chars.next(), Some('─' | '━'))
        }
        Some('─' | '━' | '═' | '▔' | '▁') => {
            t.chars().take(6).count() == 6
                && t.chars()
                    .take(6)
                    .all(|c| matches!(c, '─' | '━' | '═' | '▔' | '▁'))
        }
        _ => false,
    }
}

fn blank(line: &str) -> bool {
    line.trim().is_empty()
}

impl<'s> Layout<'s> {
    /// Cuts `screen` into the regions `model` describes.
    pub fn new(model: &ScreenModel, screen: &'s Screen) -> Layout<'s> {
        let busy = super::defaults::busy_set();
        let lines = &screen.lines;
        let n = lines.len();
        let composer = find_composer(model, lines);
        let above = composer.map_or(n, |(start, _)| start);
        let turn_start = if model.turn_start.is_empty() {
            None
        } else {
            (0..above).rev().find(|&i| {
                !blank(&lines[i]) && !is_choice(&lines[i]) && model.turn_start.any_match(&lines[i])
            })
        };
        let turn = if model.is_declared() {
            (turn_start.map_or(0, |i| i + 1), above)
        } else {
            (nth_non_blank_from_bottom(lines, FALLBACK_TURN), n)
        };
        let mut layout = Layout {
            screen,
            composer,
            turn,
            turn_start,
            activity: Vec::new(),
            joined: RefCell::new(Vec::new()),
        };
        let activity: Vec<usize> = {
            let latest = layout.joined(Region::Latest);
            let any = |line: &str| busy.any_match(line) || model.activity.any_match(line);
            if any(&latest) {
                layout
                    .rows(Region::Latest)
                    .filter(|&i| any(&lines[i]))
                    .collect()
            } else {
                Vec::new()
            }
        };
        layout.activity = activity;
        layout
    }

    /// A layout without a model (`last_lines` regions, built-in busy markers).
    pub fn plain(screen: &'s Screen) -> Layout<'s> {
        Layout::new(&ScreenModel::default(), screen)
    }

    /// The agent shows a live activity marker.
    pub fn busy(&self) -> bool {
        !self.activity.is_empty()
    }

    /// A composer was found.
    pub fn has_composer(&self) -> bool {
        self.composer.is_some()
    }

    /// Row of the composer's first line, if any (0-based).
    pub fn composer_row(&self) -> Option<usize> {
        self.composer.map(|(start, _)| start)
    }

    /// Row of the last prompt echo, if any (0-based).
    pub fn turn_start_row(&self) -> Option<usize> {
        self.turn_start
    }

    /// Row indices of `region`, bottom first, blank rows skipped.
    pub fn rows(&self, region: Region) -> RegionRows<'_> {
        let lines = &self.screen.lines;
        let n = lines.len();
        let (start, end, count) = match region {
            Region::Title | Region::Activity => (0, 0, 0),
            Region::Last(k) => (0, n, k),
            Region::Screen => (0, n, usize::MAX),
            Region::Turn => (self.turn.0, self.turn.1, usize::MAX),
            Region::AboveComposer => (0, self.composer.map_or(n, |c| c.0), usize::MAX),
            Region::Composer => match self.composer {
                Some((s, e)) => (s, e + 1, usize::MAX),
                None => (0, 0, 0),
            },
            Region::Footer => match self.composer {
                Some((_, e)) => (e + 1, n, usize::MAX),
                None => (0, 0, 0),
            },
            Region::Latest => (self.turn.0, n, usize::MAX),
            Region::Below => match self.composer {
                Some((_, e)) => (e + 1, n, usize::MAX),
                None => (0, n, FALLBACK_BOTTOM),
            },
            Region::BelowLast => {
                let last = self.screen.lines.iter().rposition(|l| !blank(l));
                match (last, self.composer) {
                    (Some(i), Some((_, e))) if i > e => (i, i + 1, 1),
                    (Some(i), None) => (i, i + 1, 1),
                    _ => (0, 0, 0),
                }
            }
            Region::Bottom => match self.composer {
                Some((s, _)) => (s, n, usize::MAX),
                None => (0, n, FALLBACK_BOTTOM),
            },
        };
        let skip_composer = region == Region::Latest;
        RegionRows {
            lines,
            next: end,
            start,
            remaining: count,
            skip: if skip_composer { self.composer } else { None },
            picked: if region == Region::Activity {
                Some(self.activity.iter())
            } else {
                None
            },
        }
    }

    /// Lines of `region`, bottom first (the most recent text wins).
    pub fn lines(&self, region: Region) -> impl Iterator<Item = &'s str> + '_ {
        let title = (region == Region::Title).then_some(self.screen.title.as_str());
        let lines = &self.screen.lines;
        title
            .into_iter()
            .chain(self.rows(region).map(move |i| lines[i].as_str()))
    }

    /// The region's lines joined by `\n` (bottom first), cached: a joinable
    /// matcher (see [`Matcher::is_joinable`]) that finds nothing there
    /// matches none of its lines, so a rule tests this text first.
    pub fn joined(&self, region: Region) -> Rc<str> {
        if let Some((_, text)) = self.joined.borrow().iter().find(|(r, _)| *r == region) {
            return text.clone();
        }
        let lines: Vec<&str> = self.lines(region).collect();
        let text: Rc<str> = lines.join("\n").into();
        self.joined.borrow_mut().push((region, text.clone()));
        text
    }
}

/// Row indices of a region, bottom first, skipping blank rows.
pub struct RegionRows<'a> {
    lines: &'a [String],
    next: usize,
    start: usize,
    remaining: usize,
    skip: Option<(usize, usize)>,
    picked: Option<std::slice::Iter<'a, usize>>,
}

impl Iterator for RegionRows<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if let Some(picked) = &mut self.picked {
            return picked.next().copied();
        }
        while self.remaining > 0 && self.next > self.start {
            self.next -= 1;
            let i = self.next;
            if self.skip.is_some_and(|(s, e)| (s..=e).contains(&i)) || blank(&self.lines[i]) {
                continue;
            }
            self.remaining -= 1;
            return Some(i);
        }
        None
    }
}

/// Index of the `k`-th non-blank row from the bottom (0 if fewer).
fn nth_non_blank_from_bottom(lines: &[String], k: usize) -> usize {
    let mut seen = 0;
    for i in (0..lines.len()).rev() {
        if !blank(&lines[i]) {
            seen += 1;
            if seen == k {
                return i;
            }
        }
    }
    0
}

/// The composer: the lowest row matching the model's composer regexes that
/// is not a dialog choice, has no dialog choice under it (a dialog replaced
/// the composer: the match is an old echo), and, for a ruled composer, has a
/// rule or box edge just above it (or a box side at its start).
fn find_composer(model: &ScreenModel, lines: &[String]) -> Option<(usize, usize)> {
    if model.composer.is_empty() {
        return None;
    }
    let lowest_choice = lines.iter().rposition(|l| is_choice(l));
    let floor = lowest_choice.map_or(0, |c| c + 1);
    let row = (floor..lines.len()).rev().find(|&i| {
        let line = &lines[i];
        !blank(line)
            && !is_choice(line)
            && model.composer.any_match(line)
            && (!model.composer_ruled || ruled_above(lines, i))
            && (!model.composer_closed || closing_rule(lines, i).is_some())
    })?;
    let end = match (model.composer_ruled, closing_rule(lines, row)) {
        (true, Some(close)) => close - 1,
        _ => row,
    };
    Some((row, end))
}

/// The first rule under `row` within `COMPOSER_MAX_ROWS`.
fn closing_rule(lines: &[String], row: usize) -> Option<usize> {
    let limit = (row + COMPOSER_MAX_ROWS).min(lines.len().saturating_sub(1));
    (row + 1..=limit).find(|&j| is_rule(&lines[j]))
}

/// A rule or box top among the `RULE_WITHIN` non-blank rows above `row`.
fn ruled_above(lines: &[String], row: usize) -> bool {
    lines[..row]
        .iter()
        .rev()
        .filter(|l| !blank(l))
        .take(RULE_WITHIN)
        .any(|l| is_rule(l))
}

/// Builds a matcher set from regexes (built-in ones are tested).
pub fn regexes(patterns: &[&str]) -> MatcherSet {
    patterns
        .iter()
        .filter_map(|p| Matcher::regex(p, false).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claude_model() -> ScreenModel {
        ScreenModel {
            composer: regexes(&["^❯"]),
            composer_ruled: true,
            composer_closed: true,
            turn_start: regexes(&["^❯ \\S"]),
            ..ScreenModel::default()
        }
    }

    #[test]
    fn regions_follow_the_ui_structure() {
        let screen = Screen::from_text(
            "❯ old question\n● API Error: 429\n❯ new question\n● answer\n✻ Worked for 2s\n────────\n❯ typing rate limit\n────────\n  ? for shortcuts\n  notice one\n  notice two",
        );
        let layout = Layout::new(&claude_model(), &screen);
        let turn: Vec<&str> = layout.lines(Region::Turn).collect();
        assert_eq!(turn, vec!["────────", "✻ Worked for 2s", "● answer"]);
        let composer: Vec<&str> = layout.lines(Region::Composer).collect();
        assert_eq!(composer, vec!["❯ typing rate limit"]);
        let footer: Vec<&str> = layout.lines(Region::Footer).collect();
        assert_eq!(footer.len(), 4);
        assert!(!layout.lines(Region::Latest).any(|l| l.contains("typing")));
    }

    #[test]
    fn a_dialog_under_an_echo_means_no_composer() {
        let model = ScreenModel {
            composer: regexes(&["^› "]),
            turn_start: regexes(&["^› "]),
            ..ScreenModel::default()
        };
        let screen = Screen::from_text("› make a file\n• Exploring\n› 1. Yes\n  2. No");
        let layout = Layout::new(&model, &screen);
        assert!(!layout.has_composer());
        assert_eq!(layout.turn_start_row(), Some(0));
        assert_eq!(layout.lines(Region::Turn).count(), 3);
    }

    #[test]
    fn choices_and_rules_are_recognised() {
        for line in ["› 1. Yes", "│ ● 2. Stop", "   3. No, exit", " ❯ 1. Yes"] {
            assert!(is_choice(line), "{line}");
        }
        for line in ["100. x", "1.5 GB", "› hi", "2.1.197"] {
            assert!(!is_choice(line), "{line}");
        }
        assert!(is_rule("────────"));
        assert!(is_rule("╭──────╮"));
        assert!(!is_rule("── a"));
    }
}
