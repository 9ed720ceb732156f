//! Which tmux server to talk to: the user's default one, a named socket (`-L`),
//! or a socket path (`-S`), plus an optional config file (`-f`, tests use `/dev/null`).

use std::ffi::OsString;
use std::path::PathBuf;

/// Environment variable that selects the server when no flag does: a value with
/// a `/` is a socket path, anything else a socket name.
pub const SOCKET_ENV: &str = "DOEFF_AGENTS_TMUX_SOCKET";

/// How to reach the tmux server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Socket {
    /// tmux's own default (`$TMUX_TMPDIR/tmux-UID/default`).
    #[default]
    Default,
    /// `tmux -L NAME`.
    Name(String),
    /// `tmux -S PATH`.
    Path(PathBuf),
}

/// A tmux server: its socket and the config file to start it with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Server {
    pub socket: Socket,
    /// Config file passed as `-f` (only read when this call starts the server).
    pub config_file: Option<PathBuf>,
}

impl Server {
    /// The server named by `DOEFF_AGENTS_TMUX_SOCKET`, else the default one.
    pub fn from_env() -> Self {
        match std::env::var(SOCKET_ENV) {
            Ok(value) if !value.is_empty() => Self::parse_socket(&value),
            _ => Self::default(),
        }
    }

    /// A server by `-L` socket name.
    pub fn named(name: impl Into<String>) -> Self {
        Server {
            socket: Socket::Name(name.into()),
            config_file: None,
        }
    }

    /// A server by `-S` socket path.
    pub fn at_path(path: impl Into<PathBuf>) -> Self {
        Server {
            socket: Socket::Path(path.into()),
            config_file: None,
        }
    }

    /// A value with a `/` is a path, anything else a name.
    pub fn parse_socket(value: &str) -> Self {
        if value.contains('/') {
            Self::at_path(value)
        } else {
            Self::named(value)
        }
    }

    /// Use this config file when the server is started (e.g. `/dev/null`).
    pub fn with_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Refuses a `-S` path that exists and is not a socket: a tmux server
    /// starting there unlinks whatever is at the path first, so `-S
    /// ~/notes.txt` would delete the file.
    pub fn check_socket_path(&self) -> crate::error::Result<()> {
        use std::os::unix::fs::FileTypeExt;
        let Socket::Path(path) = &self.socket else {
            return Ok(());
        };
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                Err(crate::error::Error::InvalidInput(format!(
                    "tmux socket path {} exists and is not a socket (refused: tmux would \
                     delete it to start a server there)",
                    crate::error::printable(&path.to_string_lossy())
                )))
            }
            _ => Ok(()),
        }
    }

    /// The global arguments that go before any tmux command.
    pub fn global_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        match &self.socket {
            Socket::Default => {}
            Socket::Name(name) => {
                args.push("-L".into());
                args.push(name.into());
            }
            Socket::Path(path) => {
                args.push("-S".into());
                args.push(path.into());
            }
        }
        if let Some(config) = &self.config_file {
            args.push("-f".into());
            args.push(config.into());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_value_with_slash_is_a_path() {
        assert_eq!(
            Server::parse_socket("/tmp/x.sock").socket,
            Socket::Path("/tmp/x.sock".into())
        );
        assert_eq!(
            Server::parse_socket("mine").socket,
            Socket::Name("mine".into())
        );
    }

    #[test]
    fn global_args_carry_socket_and_config() {
        let args = Server::named("t1")
            .with_config_file("/dev/null")
            .global_args();
        assert_eq!(args, vec!["-L", "t1", "-f", "/dev/null"]);
        assert!(Server::default().global_args().is_empty());
    }
}
