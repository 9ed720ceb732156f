//! The one observation pipeline. Every path that asks "what state is this
//! agent in" — [`Agents::observe`] (Lua `s:observe()`, async, the effect
//! handlers), [`Agents::observe_all`] (`ps`, `explain NAME`) and the batched
//! pass ([`Agents::observe_many`], [`super::Monitor`], `watch`) — runs one
//! pass here:
//!
//! 1. the adapter files are reloaded once (a long watch sees hot reloads);
//! 2. screens and pane states are read, either every screen then every
//!    state in one round trip ([`Read::Every`]), or states first and only
//!    the screens that may have changed ([`Read::Changed`], `batch.rs`);
//! 3. the process layer ([`super::process`]) decides alive, ended or gone,
//!    with one grace rule for a dead pane tmux has no status for yet;
//! 4. a session observed for the first time (no earlier screen to compare
//!    with) whose status hangs on "did the screen change" gets evidence
//!    instead of a guess ([`first_look`]): silence from the pane's activity
//!    stamp, the last observation kept on the session (`@doeff-observed`),
//!    or a second capture [`SECOND_LOOK`] later;
//! 5. the screen is classified and recorded, the conversation id noted,
//!    and warnings (a hook's error, a failed reload) put in the
//!    [`Observation`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::batch::CaptureCache;
use super::process::process_of;
use super::{AgentSession, Agents, DEAD_STATUS_GRACE, PassStats, reports};
use crate::adapter::Adapter;
use crate::error::{Error, Result};
use crate::monitor::{
    Facts, Observation, Process, ReportNote, Screen, SessionStatus, Source, Verdict, merge_reports,
};
use crate::tmux::{PaneState, Tmux, TmuxArgs, is_not_found};

/// How long a first look waits for its second capture when nothing else
/// tells whether the screen is still (spinners move every ~100 ms).
pub const SECOND_LOOK: Duration = Duration::from_millis(200);
/// A kept observation younger than this still says something about now.
const KEPT_FOR: Duration = Duration::from_secs(5);
/// The session option holding the last first-look observation.
pub const OPT_OBSERVED: &str = "@doeff-observed";

/// An observation kept on the session for the next one-shot reader:
/// `HASH STATUS UNIX_MS` in [`OPT_OBSERVED`]. Only the hash and time are
/// evidence; the status is there for whoever reads the option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kept {
    hash: u64,
    status: SessionStatus,
    at_ms: u64,
}

impl Kept {
    pub(crate) fn parse(text: &str) -> Option<Kept> {
        let mut parts = text.split(' ');
        let kept = Kept {
            hash: parts.next()?.parse().ok()?,
            status: parts.next()?.parse().ok()?,
            at_ms: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(kept)
    }

    fn encode(&self) -> String {
        format!("{} {} {}", self.hash, self.status, self.at_ms)
    }
}

/// How a pass reads screens.
#[derive(Debug)]
pub(crate) enum Read {
    /// Every screen, then every pane's state, in one round trip (already
    /// fetched, or fetched by the pass).
    Every(Option<Fetched>),
    /// Pane states first, then only screens that may have changed.
    Changed,
}

/// What [`fetch_every`] read: one capture per session not stopped (in
/// order), then every pane's state.
#[derive(Debug)]
pub struct Fetched {
    captures: Vec<Result<String>>,
    states: Result<Vec<PaneState>>,
}

/// Every live session's screen, then every pane's state, in one round
/// trip (screens first: an agent exiting between the two reads is then
/// seen with its exit status). Needs no adapters, so a one-shot command
/// can read while its adapters load ([`Agents::observe_fetched`]).
pub fn fetch_every(tmux: &Tmux, sessions: &[AgentSession]) -> Fetched {
    let targets: Vec<&str> = sessions
        .iter()
        .filter(|s| !s.stopped)
        .map(|s| s.pane_id.as_str())
        .collect();
    let (captures, states) = if targets.is_empty() {
        (Vec::new(), Ok(Vec::new()))
    } else {
        tmux.capture_panes_then_states(&targets)
    };
    Fetched { captures, states }
}

/// What a pass read about one session.
#[derive(Debug, Default)]
pub(crate) struct Reading {
    pub process: Process,
    /// The screen to classify (empty when gone or stopped).
    pub screen: Screen,
    /// The pane's activity stamp (`window_activity`, unix seconds).
    pub activity: Option<u64>,
    /// The screen was captured in this pass (not kept from an earlier one).
    pub captured: bool,
    /// The pane's own process (for the agent's session registry).
    pub pid: Option<u32>,
    /// The pane's hook option ([`super::reports::OPT_HOOK`]).
    pub hook: String,
}

impl Reading {
    /// A session decided without its screen (gone, stopped).
    pub fn without_screen(process: Process) -> Reading {
        Reading {
            process,
            ..Reading::default()
        }
    }
}

/// What [`first_look`] concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Look {
    /// The status is the same either way (the first screen counts as changed).
    Irrelevant,
    /// Evidence says: changed or not.
    Decided(bool),
    /// Nothing tells: capture again [`SECOND_LOOK`] later and compare.
    Again,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Whether the screen of a session seen for the first time counts as
/// changed, from evidence: the pane printed nothing for a whole second
/// (still), or the last kept observation is recent, shows another screen,
/// and the pane printed since (changed). The same screen as a kept one
/// proves nothing: a spinner cycling its frames comes back to the same one.
fn first_look(kept: Option<&Kept>, hash: u64, activity: Option<u64>, now_ms: u64) -> Look {
    let now_secs = now_ms / 1000;
    // `window_activity` has one-second resolution: a stamp two seconds
    // back means at least one full second without output.
    if activity.is_some_and(|stamp| stamp + 2 <= now_secs) {
        return Look::Decided(false);
    }
    if let Some(kept) = kept
        && now_ms.saturating_sub(kept.at_ms) <= KEPT_FOR.as_millis() as u64
        && kept.hash != hash
        && activity.is_some_and(|stamp| stamp >= kept.at_ms / 1000)
    {
        return Look::Decided(true);
    }
    Look::Again
}

impl Agents {
    /// One observation of one session: capture, classify, compare with the
    /// last one (the first one decides "changed" from evidence).
    pub fn observe(&self, session: &mut AgentSession) -> Result<Observation> {
        self.observe_all(std::slice::from_mut(session))
            .pop()
            .unwrap_or_else(|| Err(Error::SessionNotFound(session.session_name.clone())))
    }

    /// One observation of each session with a fresh capture of every
    /// screen (in one round trip): what `ps` and `explain NAME` show.
    pub fn observe_all(&self, sessions: &mut [AgentSession]) -> Vec<Result<Observation>> {
        self.pass(sessions, Read::Every(None)).0
    }

    /// [`Agents::observe_all`] of what [`fetch_every`] read of `sessions`.
    pub fn observe_fetched(
        &self,
        sessions: &mut [AgentSession],
        fetched: Fetched,
    ) -> Vec<Result<Observation>> {
        self.pass(sessions, Read::Every(Some(fetched))).0
    }

    /// The pipeline (see the module docs).
    pub(crate) fn pass(
        &self,
        sessions: &mut [AgentSession],
        read: Read,
    ) -> (Vec<Result<Observation>>, PassStats) {
        self.adapters.refresh();
        let mut reports = self.adapters.take_reports();
        let adapters: Vec<Arc<Adapter>> = sessions.iter().map(|s| self.adapter_of(s)).collect();
        let mut stats = PassStats {
            sessions: sessions.len(),
            captured: 0,
        };
        let every = matches!(read, Read::Every(_));
        let mut readings = match read {
            Read::Every(fetched) => {
                let fetched = fetched.unwrap_or_else(|| fetch_every(&self.tmux, sessions));
                self.read_every(sessions, &adapters, fetched)
            }
            Read::Changed => self.read_changed(sessions, &adapters, &mut stats),
        };
        if every {
            stats.captured = readings
                .iter()
                .filter(|r| matches!(r, Ok(r) if r.captured))
                .count();
        }
        // First looks: which sessions need evidence about "changed".
        let now = now_ms();
        // The first-look verdicts with "changed", kept where it decides.
        let mut decided: Vec<Option<Verdict>> = Vec::with_capacity(sessions.len());
        let mut looks: Vec<Option<Look>> = Vec::with_capacity(sessions.len());
        for ((session, adapter), reading) in sessions.iter().zip(&adapters).zip(&readings) {
            let (look, verdict) = match reading {
                Ok(reading) if !session.monitor.has_history() && reading.captured => {
                    let previous = session.monitor.status;
                    let changed =
                        adapter.explain(&reading.screen, previous, true, &reading.process);
                    // The process layer and the rules that always apply do
                    // not look at "changed"; a hook or the change layer may.
                    let independent =
                        changed.evidence.rule != "change" && changed.evidence.region != "hook";
                    let still = (!independent).then(|| {
                        adapter.explain(&reading.screen, previous, false, &reading.process)
                    });
                    match still {
                        Some(still) if still.status != changed.status => {
                            let hash = reading.screen.content_hash(adapter.status_bar_lines);
                            let kept = session.kept.as_ref();
                            (Some(first_look(kept, hash, reading.activity, now)), None)
                        }
                        _ => (Some(Look::Irrelevant), Some(changed)),
                    }
                }
                _ => (None, None),
            };
            looks.push(look);
            decided.push(verdict);
        }
        self.second_look(sessions, &adapters, &mut readings, &mut looks);
        let mut kept_updates: Vec<(String, Kept)> = Vec::new();
        let results: Vec<Result<Observation>> = sessions
            .iter_mut()
            .zip(&adapters)
            .zip(readings)
            .zip(looks)
            .zip(decided)
            .map(|((((session, adapter), reading), look), verdict)| {
                let reading = reading?;
                if reading.captured
                    && let Some(id) = adapter.conversation_id(&reading.screen)
                {
                    self.record_conversation(session, id);
                }
                // Kept for the next one-shot reader where it can help: the
                // pane printed recently (a silent one decides by itself).
                let silent = reading
                    .activity
                    .is_some_and(|stamp| stamp + 2 <= now / 1000);
                let ambiguous = matches!(look, Some(Look::Decided(_) | Look::Again)) && !silent;
                let changed = match look {
                    Some(Look::Decided(changed)) => changed,
                    Some(Look::Irrelevant | Look::Again) => true,
                    None => session
                        .monitor
                        .is_changed(&reading.screen, adapter.status_bar_lines),
                };
                let mut observation = self.classify(session, adapter, &reading, changed, verdict);
                if ambiguous {
                    kept_updates.push((
                        session.pane_id.clone(),
                        Kept {
                            hash: reading.screen.content_hash(adapter.status_bar_lines),
                            status: observation.status,
                            at_ms: now_ms(),
                        },
                    ));
                }
                if let Some(error) = adapter.take_hook_error() {
                    observation.warnings.push(error);
                }
                reports.retain(|report| {
                    let mine = report.contains(adapter.source.as_str());
                    if mine {
                        observation.warnings.push(report.clone());
                    }
                    !mine
                });
                Ok(observation)
            })
            .collect();
        let mut results = results;
        // Reports no session's adapter claims go with the first observation.
        if !reports.is_empty()
            && let Some(Ok(first)) = results.iter_mut().find(|r| r.is_ok())
        {
            first.warnings.append(&mut reports);
        }
        self.keep(&kept_updates);
        (results, stats)
    }

    /// Classifies one reading and records it in the session's history.
    fn classify(
        &self,
        session: &mut AgentSession,
        adapter: &Adapter,
        reading: &Reading,
        changed: bool,
        verdict: Option<Verdict>,
    ) -> Observation {
        // A pane that ended or went because another process of this
        // product stopped it is `stopped` (see `stopped.rs`).
        let process = self.with_stop_marks(session, &reading.process);
        // A verdict the first look made stands if the process did not move.
        let verdict = match verdict {
            Some(verdict) if *process == reading.process => verdict,
            _ => adapter.explain(&reading.screen, session.monitor.status, changed, process),
        };
        let (verdict, note) = self.with_reports(session, adapter, reading, changed, verdict);
        let mut observation =
            session
                .monitor
                .record(&reading.screen, adapter.status_bar_lines, changed, verdict);
        observation.agent = note;
        session.status = observation.status;
        observation
    }

    /// Layer 2, the agent's own report: its hook event and its session
    /// registry, fused with the screen's verdict (the process layer's
    /// verdicts stand as they are). Call before the screen is recorded.
    fn with_reports(
        &self,
        session: &mut AgentSession,
        adapter: &Adapter,
        reading: &Reading,
        changed: bool,
        verdict: Verdict,
    ) -> (Verdict, ReportNote) {
        let source = Source::of(&verdict.evidence);
        if source == Source::Process {
            let note = ReportNote {
                source,
                ..ReportNote::default()
            };
            return (verdict, note);
        }
        let hook = reports::hook_reading(adapter, &reading.hook);
        let registry = reading
            .pid
            .and_then(|pid| reports::registry_report(adapter, pid, &mut session.registry));
        let now = now_ms();
        let hook_report = session
            .monitor
            .reports
            .standing_hook(hook.report, hook.seen && !hook.hands_over);
        let report = merge_reports(hook_report, registry, now);
        let facts = Facts {
            now_ms: now,
            screen: &reading.screen,
            changed,
            activity: reading.activity,
            has_history: session.monitor.has_history(),
        };
        let memory = &mut session.monitor.reports;
        let (verdict, mut note) = memory.fuse(verdict, report.as_ref(), facts);
        note.hooks = memory.channel(
            hook.armed_ms,
            hook.seen,
            adapter.signals.reports_turn_start(),
            now,
        );
        (verdict, note)
    }

    /// The process layer for one session: [`process_of`] plus the grace
    /// for a dead pane whose exit status tmux never fills in.
    pub(crate) fn process_for(
        &self,
        session: &mut AgentSession,
        state: Option<&PaneState>,
        adapter: &Adapter,
    ) -> Process {
        if session.stopped {
            return Process::Stopped;
        }
        let process = process_of(state, adapter.launches_shell);
        if process == Process::Unknown && state.is_some_and(|s| s.dead) {
            let since = *session
                .cache
                .dead_unknown_since
                .get_or_insert_with(Instant::now);
            if since.elapsed() >= DEAD_STATUS_GRACE {
                return Process::Ended {
                    code: None,
                    signal: None,
                };
            }
        } else {
            session.cache.dead_unknown_since = None;
        }
        process
    }

    /// [`Read::Every`]: the readings of what [`fetch_every`] read.
    fn read_every(
        &self,
        sessions: &mut [AgentSession],
        adapters: &[Arc<Adapter>],
        fetched: Fetched,
    ) -> Vec<Result<Reading>> {
        let Fetched { captures, states } = fetched;
        let mut captures = captures.into_iter();
        sessions
            .iter_mut()
            .zip(adapters)
            .map(|(session, adapter)| {
                if session.stopped {
                    return Ok(Reading::without_screen(Process::Stopped));
                }
                let capture = captures
                    .next()
                    .unwrap_or_else(|| Err(Error::tmux("capture-pane".into(), "no reply".into())));
                let states = states
                    .as_ref()
                    .map_err(|err| err.shared_tmux("list-panes"))?;
                let state = states.iter().find(|s| s.pane_id == session.pane_id);
                let text = match capture {
                    Ok(text) => text,
                    Err(err) if is_not_found(&err) => {
                        session.cache = CaptureCache::default();
                        return Ok(Reading::without_screen(Process::Gone));
                    }
                    Err(err) => return Err(err),
                };
                Ok(self.reading(session, adapter, state, Screen::from_text(&text)))
            })
            .collect()
    }

    /// A reading from a captured screen and the pane's state.
    fn reading(
        &self,
        session: &mut AgentSession,
        adapter: &Adapter,
        state: Option<&PaneState>,
        screen: Screen,
    ) -> Reading {
        match self.process_for(session, state, adapter) {
            process @ (Process::Gone | Process::Stopped) => {
                session.cache = CaptureCache::default();
                Reading::without_screen(process)
            }
            process => Reading {
                process,
                screen,
                activity: state.and_then(|s| s.activity),
                captured: true,
                pid: state.map(|s| s.pid),
                hook: state.map(|s| s.hook.clone()).unwrap_or_default(),
            },
        }
    }

    /// The second capture of first looks that found no evidence: one wait
    /// for all of them, then their screens and states in one round trip.
    /// A screen that moved in between is `changed`.
    fn second_look(
        &self,
        sessions: &mut [AgentSession],
        adapters: &[Arc<Adapter>],
        readings: &mut [Result<Reading>],
        looks: &mut [Option<Look>],
    ) {
        let again: Vec<usize> = (0..looks.len())
            .filter(|&i| looks[i] == Some(Look::Again))
            .collect();
        if again.is_empty() {
            return;
        }
        std::thread::sleep(SECOND_LOOK);
        let targets: Vec<&str> = again
            .iter()
            .map(|&i| sessions[i].pane_id.as_str())
            .collect();
        let (captures, states) = self.tmux.capture_panes_then_states(&targets);
        let states: HashMap<String, PaneState> = states
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.pane_id.clone(), s))
            .collect();
        for (&i, capture) in again.iter().zip(captures) {
            let (session, adapter) = (&mut sessions[i], &adapters[i]);
            let Ok(first) = &readings[i] else { continue };
            let first_hash = first.screen.content_hash(adapter.status_bar_lines);
            let reading = match capture {
                Ok(text) => {
                    let state = states.get(&session.pane_id);
                    self.reading(session, adapter, state, Screen::from_text(&text))
                }
                Err(err) if is_not_found(&err) => {
                    session.cache = CaptureCache::default();
                    Reading::without_screen(Process::Gone)
                }
                // The first reading stands; "changed" stays unknown: a guess
                // towards `running`, never towards "waiting for you".
                Err(_) => {
                    looks[i] = Some(Look::Decided(true));
                    continue;
                }
            };
            let moved = reading.screen.content_hash(adapter.status_bar_lines) != first_hash;
            looks[i] = Some(Look::Decided(moved));
            readings[i] = Ok(reading);
        }
    }

    /// Stores first-look observations on their sessions (one round trip;
    /// best effort: a session gone meanwhile has nothing to keep).
    fn keep(&self, updates: &[(String, Kept)]) {
        if updates.is_empty() {
            return;
        }
        let commands: Vec<TmuxArgs> = updates
            .iter()
            .map(|(pane, kept)| {
                vec![
                    "set-option".into(),
                    "-t".into(),
                    pane.clone(),
                    OPT_OBSERVED.into(),
                    kept.encode(),
                ]
            })
            .collect();
        let _ = self.tmux.run_each(&commands);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_observations_round_trip() {
        let kept = Kept {
            hash: 42,
            status: SessionStatus::Blocked,
            at_ms: 1_700_000_000_123,
        };
        assert_eq!(Kept::parse(&kept.encode()), Some(kept));
        assert_eq!(Kept::parse("42 blocked"), None);
        assert_eq!(Kept::parse("42 busy 1"), None);
        assert_eq!(Kept::parse("42 blocked 1 x"), None);
    }

    #[test]
    fn first_looks_decide_from_evidence_only() {
        let now = 1_000_000_000;
        // A pane silent for over a second: still.
        assert_eq!(
            first_look(None, 1, Some(now / 1000 - 2), now),
            Look::Decided(false)
        );
        // Output this second, nothing kept: look again.
        assert_eq!(first_look(None, 1, Some(now / 1000), now), Look::Again);
        assert_eq!(first_look(None, 1, None, now), Look::Again);
        let kept = |hash, age_ms| Kept {
            hash,
            status: SessionStatus::Running,
            at_ms: now - age_ms,
        };
        let active = Some(now / 1000);
        assert_eq!(
            first_look(Some(&kept(2, 50)), 1, active, now),
            Look::Decided(true)
        );
        // The same screen as a kept one (a spinner's frame comes back), or
        // a kept observation too old: look again.
        assert_eq!(first_look(Some(&kept(1, 300)), 1, active, now), Look::Again);
        assert_eq!(
            first_look(Some(&kept(2, 60_000)), 1, active, now),
            Look::Again
        );
    }
}
