//! XDG base directories, the one place they are computed: `$XDG_CONFIG_HOME`
//! (`~/.config`) and `$XDG_STATE_HOME` (`~/.local/state`). As the XDG spec says,
//! a relative value is ignored, and so is a relative `HOME` (`HOME=.`): a
//! relative path would resolve inside whatever directory the command runs
//! in, e.g. a cloned repository's `doeff-agents/adapters`.

use std::ffi::OsString;
use std::path::PathBuf;

/// A kind of XDG base directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseDir {
    Config,
    State,
}

impl BaseDir {
    fn variable(self) -> &'static str {
        match self {
            BaseDir::Config => "XDG_CONFIG_HOME",
            BaseDir::State => "XDG_STATE_HOME",
        }
    }

    fn under_home(self) -> &'static str {
        match self {
            BaseDir::Config => ".config",
            BaseDir::State => ".local/state",
        }
    }
}

fn absolute(value: Option<OsString>) -> Option<PathBuf> {
    value.map(PathBuf::from).filter(|path| path.is_absolute())
}

/// The base directory of `kind`, or `None` when neither its variable nor
/// `HOME` is an absolute path.
pub fn base_dir(kind: BaseDir) -> Option<PathBuf> {
    absolute(std::env::var_os(kind.variable()))
        .or_else(|| absolute(std::env::var_os("HOME")).map(|home| home.join(kind.under_home())))
}

/// `base_dir(kind)/doeff-agents`.
pub fn app_dir(kind: BaseDir) -> Option<PathBuf> {
    base_dir(kind).map(|dir| dir.join("doeff-agents"))
}
