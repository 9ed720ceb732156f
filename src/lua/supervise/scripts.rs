//! The supervised script files: which files there are (the `*.lua` of each
//! folder given, and each file given), loading each into a fresh
//! environment, noticing edits, additions and removals, and keeping each
//! file's `agents.state` table across its reloads. A load that fails keeps
//! the last good version (its registry) and reports `file:line: message`
//! once per broken version of the file.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mlua::Table;

use super::registry::{Shared, file_agents, file_env};
use crate::sandbox::{LuaHost, error_message, with_full_path};

/// How long loading one script file may run (its top level).
pub const LOAD_BUDGET: Duration = Duration::from_secs(30);

/// What identifies one version of a file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    modified: Option<SystemTime>,
    inode: u64,
    device: u64,
    size: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        meta.is_file().then(|| Stamp {
            modified: meta.modified().ok(),
            inode: meta.ino(),
            device: meta.dev(),
            size: meta.size(),
        })
    }
}

/// Where scripts come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Every `*.lua` directly inside (a missing folder holds none).
    Dir(PathBuf),
    /// One file.
    File(PathBuf),
}

impl Source {
    /// A path given by the user: a folder or a file.
    pub fn of(path: &Path) -> Source {
        if path.is_dir() {
            Source::Dir(path.to_path_buf())
        } else {
            Source::File(path.to_path_buf())
        }
    }
}

/// One script file.
pub struct Script {
    pub path: PathBuf,
    /// The running version's registrations (none before a first good load).
    pub live: Option<Shared>,
    /// The last load's error (cleared by a good load).
    pub last_error: Option<String>,
    /// Good loads so far.
    pub loads: u32,
    /// The version loaded (or tried), and the one seen at the last poll.
    tried: Option<Stamp>,
    seen: Option<Stamp>,
}

/// What a poll did, for the supervisor to print.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Loaded(PathBuf),
    Reloaded(PathBuf),
    Failed(String),
    Removed(PathBuf),
}

/// The script set of one supervisor (or REPL).
pub struct Scripts {
    host: Arc<LuaHost>,
    module: Table,
    sources: Vec<Source>,
    pub scripts: BTreeMap<PathBuf, Script>,
    /// `agents.state` per file, kept even while a file is away.
    states: HashMap<PathBuf, Table>,
}

fn shown(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The files `sources` name now, in load order (each folder sorted).
fn files_of(sources: &[Source]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for source in sources {
        match source {
            Source::File(path) => files.push(path.clone()),
            Source::Dir(dir) => {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "lua") && p.is_file())
                    .collect();
                found.sort();
                files.extend(found);
            }
        }
    }
    let mut unique = Vec::new();
    for file in files {
        if !unique.contains(&file) {
            unique.push(file);
        }
    }
    unique
}

impl Scripts {
    /// A set over `sources`, nothing loaded yet; `module` is the VM's
    /// `agents` module.
    pub fn new(host: Arc<LuaHost>, module: Table, sources: Vec<Source>) -> Scripts {
        Scripts {
            host,
            module,
            sources,
            scripts: BTreeMap::new(),
            states: HashMap::new(),
        }
    }

    /// Adds a source (a file or folder) and loads what it holds at once.
    pub fn add_source(&mut self, source: Source) -> Vec<Change> {
        self.sources.push(source);
        self.poll(false)
    }

    /// Loads every file again, changed or not (the REPL's `.reload`).
    pub fn reload_all(&mut self) -> Vec<Change> {
        for script in self.scripts.values_mut() {
            script.tried = None;
        }
        self.poll(false)
    }

    /// Every live version's registry, in file order.
    pub fn live(&self) -> Vec<(&Path, Shared)> {
        self.scripts
            .values()
            .filter_map(|s| s.live.clone().map(|live| (s.path.as_path(), live)))
            .collect()
    }

    /// Looks at the files: loads new ones, reloads edited ones, unloads
    /// removed ones. With `settle`, an edited file is reloaded only once it
    /// looked the same at two polls in a row (a save in progress is not
    /// loaded half-written); a new file is always loaded at once.
    pub fn poll(&mut self, settle: bool) -> Vec<Change> {
        let mut changes = Vec::new();
        let files = files_of(&self.sources);
        let gone: Vec<PathBuf> = self
            .scripts
            .iter()
            .filter(|(p, s)| !files.contains(p) || (s.tried.is_some() && Stamp::of(p).is_none()))
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            // A file named on the command line that is away (an editor
            // replacing it) is dropped too, and found again when back.
            self.scripts.remove(&path);
            changes.push(Change::Removed(path));
        }
        for path in files {
            let Some(stamp) = Stamp::of(&path) else {
                if !self.scripts.contains_key(&path)
                    && matches!(self.source_of(&path), Some(Source::File(_)))
                {
                    // A file given by name that is not there: said once.
                    self.scripts.insert(
                        path.clone(),
                        Script {
                            path: path.clone(),
                            live: None,
                            last_error: Some(format!("{}: no such file", shown(&path))),
                            loads: 0,
                            tried: None,
                            seen: None,
                        },
                    );
                    changes.push(Change::Failed(format!("{}: no such file", shown(&path))));
                }
                continue;
            };
            let script = self.scripts.entry(path.clone()).or_insert_with(|| Script {
                path: path.clone(),
                live: None,
                last_error: None,
                loads: 0,
                tried: None,
                seen: None,
            });
            let previous_seen = script.seen.replace(stamp);
            if script.tried == Some(stamp) {
                continue;
            }
            let is_new = script.tried.is_none();
            if settle && !is_new && previous_seen != Some(stamp) {
                continue; // changed since the last poll: let the save finish
            }
            changes.push(self.load(&path, stamp));
        }
        changes
    }

    fn source_of(&self, path: &Path) -> Option<&Source> {
        self.sources.iter().find(|s| match s {
            Source::File(p) => p == path,
            Source::Dir(d) => path.parent() == Some(d.as_path()),
        })
    }

    /// Loads `path` (version `stamp`) into a fresh environment; on success
    /// it replaces the running version.
    fn load(&mut self, path: &Path, stamp: Stamp) -> Change {
        let state = match self.states.get(path) {
            Some(state) => state.clone(),
            None => match self.host.lua().create_table() {
                Ok(state) => {
                    self.states.insert(path.to_path_buf(), state.clone());
                    state
                }
                Err(err) => return Change::Failed(error_message(&err)),
            },
        };
        let result = self.run_file(path, &state);
        let Some(script) = self.scripts.get_mut(path) else {
            return Change::Failed(format!("{}: not a supervised file", shown(path)));
        };
        script.tried = Some(stamp);
        match result {
            Ok(registry) => {
                let first = script.live.is_none();
                script.live = Some(registry);
                script.last_error = None;
                script.loads += 1;
                if first {
                    Change::Loaded(path.to_path_buf())
                } else {
                    Change::Reloaded(path.to_path_buf())
                }
            }
            Err(message) => {
                script.last_error = Some(message.clone());
                Change::Failed(message)
            }
        }
    }

    /// Runs one file's top level in a fresh environment; its registry.
    fn run_file(&self, path: &Path, state: &Table) -> Result<Shared, String> {
        let name = shown(path);
        let code = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        // Keep line numbers: blank out a shebang line.
        let code = code.strip_prefix("#!").map_or(code.as_str(), |rest| {
            rest.find('\n').map_or("", |i| &rest[i..])
        });
        let lua = self.host.lua();
        let registry = Shared::default();
        let run = || {
            let agents = file_agents(lua, &self.module, &registry, state)?;
            let env = file_env(lua, &agents)?;
            lua.load(code)
                .set_name(format!("@{name}"))
                .set_environment(env)
                .exec()
        };
        self.host
            .with_budget(LOAD_BUDGET, run)
            .map_err(|e| with_full_path(&error_message(&e), &name))
            .map_err(|message| {
                if message.starts_with(&name) {
                    message
                } else {
                    format!("{name}: {message}")
                }
            })?;
        Ok(registry)
    }
}
