//! The adapter registry: built-in adapters embedded from `lua/adapters/`,
//! adapter files loaded from disk, and adapters registered at run time from
//! Lua or Rust. Looked up by name; a later registration of a name replaces
//! the earlier one (so a user file named like a built-in overrides it).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use super::Adapter;
use super::from_lua::load_adapter_chunk;
use crate::error::{Error, Result};
use crate::sandbox::LuaHost;

/// The built-in adapter files, embedded at build time: (file name, code).
pub const BUILTIN_ADAPTERS: &[(&str, &str)] = &[
    ("claude.lua", include_str!("../../lua/adapters/claude.lua")),
    ("codex.lua", include_str!("../../lua/adapters/codex.lua")),
    ("gemini.lua", include_str!("../../lua/adapters/gemini.lua")),
    ("demo.lua", include_str!("../../lua/adapters/demo.lua")),
    (
        "generic.lua",
        include_str!("../../lua/adapters/generic.lua"),
    ),
];

/// An adapter file that failed to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub path: String,
    /// `path:line: message`.
    pub message: String,
}

/// A registry row for listings (`doeff-agents adapters`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterInfo {
    pub name: String,
    pub source: String,
    pub binary: Option<String>,
    pub available: bool,
    /// Why its `is_available()` failed, if it did.
    pub error: Option<String>,
}

/// An adapter file loaded from disk, watched for edits.
#[derive(Clone, Debug)]
struct TrackedFile {
    path: PathBuf,
    stamp: Option<(SystemTime, u64)>,
}

/// Adapters by name. Each adapter file runs in a Lua VM of its own (see
/// [`AdapterRegistry::load_source`]).
#[derive(Debug)]
pub struct AdapterRegistry {
    self_exe: String,
    adapters: RwLock<BTreeMap<String, Arc<Adapter>>>,
    errors: RwLock<Vec<LoadError>>,
    files: Mutex<Vec<TrackedFile>>,
    reports: Mutex<Vec<String>>,
}

/// Modification time and size: an edit that lands within one timestamp tick
/// (a truncate, then a write) still changes the size.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Runs one adapter file in a fresh sandboxed VM of its own: no file can
/// patch the libraries (the shared string metatable included) that another
/// file or a built-in uses, and one file's memory does not count against
/// another's cap. The VM lives as long as the adapters it defines.
fn load_in_own_vm(
    chunk_name: &str,
    code: &str,
    self_exe: &str,
) -> std::result::Result<Vec<Adapter>, String> {
    let host = LuaHost::sandboxed()
        .map_err(|e| format!("{chunk_name}: {}", crate::sandbox::error_message(&e)))?;
    load_adapter_chunk(&Arc::new(host), chunk_name, code, self_exe)
}

/// The program that runs the demo agent (`crate::demo::demo_binary`);
/// empty when there is none (launching the demo then says how to get one).
fn default_self_exe() -> String {
    crate::demo::demo_binary()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl AdapterRegistry {
    /// The built-in adapters (claude, codex, gemini, demo).
    pub fn builtin() -> Result<Self> {
        Self::builtin_with_exe(default_self_exe())
    }

    /// The built-ins, with `self_exe` as the binary that runs the demo agent
    /// (tests point it at the built `doeff-agents`).
    pub fn builtin_with_exe(self_exe: impl Into<String>) -> Result<Self> {
        let registry = AdapterRegistry {
            self_exe: self_exe.into(),
            adapters: RwLock::default(),
            errors: RwLock::default(),
            files: Mutex::default(),
            reports: Mutex::default(),
        };
        for (file, code) in BUILTIN_ADAPTERS {
            // "builtin:" marks trusted code: its regexes stay lazy (tested),
            // where a user's are compiled at load.
            let name = format!("builtin:lua/adapters/{file}");
            let adapters =
                load_in_own_vm(&name, code, &registry.self_exe).map_err(Error::Adapter)?;
            for mut adapter in adapters {
                adapter.source = format!("builtin:{file}");
                registry.register(adapter);
            }
        }
        Ok(registry)
    }

    /// Adds (or replaces) an adapter.
    pub fn register(&self, adapter: Adapter) {
        if let Ok(mut map) = self.adapters.write() {
            map.insert(adapter.name.clone(), Arc::new(adapter));
        }
    }

    /// Loads one adapter file; its adapters replace any of the same name.
    /// A failure is returned and remembered in [`AdapterRegistry::load_errors`].
    /// The file is watched for edits from now on ([`AdapterRegistry::refresh`]).
    pub fn load_file(&self, path: &Path) -> Result<Vec<String>> {
        if let Ok(mut files) = self.files.lock()
            && !files.iter().any(|f| f.path == path)
        {
            files.push(TrackedFile {
                path: path.to_path_buf(),
                stamp: stamp(path),
            });
        }
        self.load_untracked(path)
    }

    fn load_untracked(&self, path: &Path) -> Result<Vec<String>> {
        let shown = path.to_string_lossy().into_owned();
        match super::bounded_read::read_regular_text(path, super::bounded_read::MAX_ADAPTER_BYTES) {
            Ok(code) => self.load_source(&shown, &code),
            Err(e) => {
                let message = format!("{shown}: {e}");
                self.remember_error(&shown, Some(&message));
                Err(Error::Adapter(message))
            }
        }
    }

    /// Records (or, with `None`, clears) the load error of one file.
    fn remember_error(&self, path: &str, message: Option<&str>) {
        if let Ok(mut errors) = self.errors.write() {
            errors.retain(|e| e.path != path);
            if let Some(message) = message {
                errors.push(LoadError {
                    path: path.to_owned(),
                    message: message.to_owned(),
                });
            }
        }
    }

    /// Loads adapter source code; `chunk_name` names it in errors (a path).
    /// Its adapters replace any of the same name. A failure (syntax error,
    /// runtime error, bad field, runaway loop, memory cap) is an `Err`,
    /// remembered in [`AdapterRegistry::load_errors`].
    pub fn load_source(&self, chunk_name: &str, code: &str) -> Result<Vec<String>> {
        let shown = chunk_name.to_owned();
        let outcome = load_in_own_vm(&shown, code, &self.self_exe);
        match outcome {
            Ok(adapters) => {
                self.remember_error(&shown, None);
                Ok(adapters
                    .into_iter()
                    .map(|adapter| {
                        let name = adapter.name.clone();
                        self.register(adapter);
                        name
                    })
                    .collect())
            }
            Err(message) => {
                self.remember_error(&shown, Some(&message));
                Err(Error::Adapter(message))
            }
        }
    }

    /// Reloads every watched adapter file whose modification time changed.
    /// Failures keep the last good adapters and are queued once for
    /// [`AdapterRegistry::take_reports`].
    pub fn refresh(&self) {
        let changed: Vec<PathBuf> = match self.files.lock() {
            Ok(mut files) => files
                .iter_mut()
                .filter_map(|file| {
                    let now = stamp(&file.path);
                    (now != file.stamp).then(|| {
                        file.stamp = now;
                        file.path.clone()
                    })
                })
                .collect(),
            Err(_) => return,
        };
        for path in changed {
            if let Err(err) = self.load_untracked(&path)
                && let Ok(mut reports) = self.reports.lock()
            {
                reports.push(err.to_string());
            }
        }
    }

    /// Reload failures not reported yet (each is returned once).
    pub fn take_reports(&self) -> Vec<String> {
        self.reports
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    /// Loads every `*.lua` file of a directory (sorted); returns the errors.
    /// A directory that does not exist is no error (the default user folder
    /// usually does not); one that exists but cannot be read is.
    pub fn load_dir(&self, dir: &Path) -> Vec<LoadError> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension() == Some(OsStr::new("lua")))
                .collect(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(err) => {
                let shown = dir.to_string_lossy().into_owned();
                let error = LoadError {
                    message: format!("{shown}: cannot read the adapter folder: {err}"),
                    path: shown,
                };
                if let Ok(mut errors) = self.errors.write() {
                    errors.push(error.clone());
                }
                return vec![error];
            }
        };
        files.sort();
        files
            .iter()
            .filter_map(|file| match self.load_file(file) {
                Ok(_) => None,
                Err(err) => Some(LoadError {
                    path: file.to_string_lossy().into_owned(),
                    message: err.to_string(),
                }),
            })
            .collect()
    }

    /// The adapter for an agent name.
    pub fn get(&self, name: &str) -> Result<Arc<Adapter>> {
        let name = name.strip_prefix("custom:").unwrap_or(name);
        let map = self
            .adapters
            .read()
            .map_err(|_| Error::Adapter("adapter registry lock poisoned".into()))?;
        map.get(name).cloned().ok_or_else(|| Error::UnknownAgent {
            name: name.to_owned(),
            known: map.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Names of every adapter, sorted.
    pub fn names(&self) -> Vec<String> {
        self.adapters
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// One row per adapter: source and availability on `path`.
    pub fn list(&self, path: &OsStr) -> Vec<AdapterInfo> {
        let adapters: Vec<Arc<Adapter>> = self
            .adapters
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        adapters
            .iter()
            .map(|a| {
                let availability = a.availability(path);
                AdapterInfo {
                    name: a.name.clone(),
                    source: a.source.clone(),
                    binary: a.binary.clone(),
                    available: availability.as_ref().is_ok_and(|yes| *yes),
                    error: availability.err(),
                }
            })
            .collect()
    }

    /// Files that failed to load.
    pub fn load_errors(&self) -> Vec<LoadError> {
        self.errors.read().map(|e| e.clone()).unwrap_or_default()
    }

    /// The binary the demo adapter runs.
    pub fn self_exe(&self) -> &str {
        &self.self_exe
    }
}
