//! Which machines `--host NAME` reaches, and how: a name from
//! `$XDG_CONFIG_HOME/doeff-agents/hosts.toml`, or else an SSH destination
//! as `ssh` takes it (`build`, `me@build.example`, `ssh://me@build:2222`),
//! resolved by the user's own SSH config.
//!
//! ```toml
//! [hosts.build]
//! destination = "me@build.example"      # what ssh connects to
//! socket = "~/.ssh/cm-build"            # ControlPath (default: the runtime dir)
//! remote_binary = "/opt/bin/doeff-agents"   # default: doeff-agents on the remote PATH
//! ssh_config = "/path/to/ssh_config"    # optional: ssh -F
//! connect_timeout = 10                  # seconds (default 10)
//! ```
//!
//! Everything here reaches `ssh` as one argv element; a destination or
//! binary that could be read as an option or as shell text on the remote
//! side is refused.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result, printable};

/// The name `ps --all-hosts` and events use for this machine.
pub const LOCAL: &str = "local";
/// Default time to reach a host and hear its hello.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// How the user names it (the hosts.toml key, or the destination).
    pub name: String,
    pub destination: String,
    /// ControlPath for the shared SSH connection.
    pub socket: Option<PathBuf>,
    /// The doeff-agents binary on the host.
    pub remote_binary: String,
    /// An SSH config file (`ssh -F`).
    pub ssh_config: Option<PathBuf>,
    pub connect_timeout: Duration,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    hosts: BTreeMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    destination: Option<String>,
    socket: Option<String>,
    remote_binary: Option<String>,
    ssh_config: Option<String>,
    connect_timeout: Option<f64>,
}

/// `$XDG_CONFIG_HOME/doeff-agents/hosts.toml`.
pub fn hosts_file() -> Option<PathBuf> {
    crate::xdg::app_dir(crate::xdg::BaseDir::Config).map(|dir| dir.join("hosts.toml"))
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Refuses a destination `ssh` could read as an option, or that holds
/// spaces or control characters.
pub fn check_destination(destination: &str) -> Result<()> {
    let bad = destination.is_empty()
        || destination.starts_with('-')
        || destination
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(Error::InvalidInput(format!(
            "{} is not a host name from hosts.toml nor an ssh destination",
            printable(destination)
        )));
    }
    Ok(())
}

/// Refuses a remote binary path the remote shell would read as anything
/// but one word.
pub fn check_remote_binary(binary: &str) -> Result<()> {
    let ok = !binary.is_empty()
        && !binary.starts_with('-')
        && binary
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+~".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "remote_binary {} may only hold letters, digits and / . _ - + ~ (it is the \
             command ssh runs on the host)",
            printable(binary)
        )))
    }
}

fn parse(text: &str, path: &str) -> Result<BTreeMap<String, Host>> {
    let file: File = toml::from_str(text).map_err(|e| {
        let message = e.message().to_owned();
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        Error::InvalidInput(match line {
            Some(line) => format!("{path}:{line}: {message}"),
            None => format!("{path}: {message}"),
        })
    })?;
    let mut hosts = BTreeMap::new();
    for (name, entry) in file.hosts {
        if name == LOCAL {
            return Err(Error::InvalidInput(format!(
                "{path}: the host name {LOCAL:?} means this machine"
            )));
        }
        let destination = entry.destination.unwrap_or_else(|| name.clone());
        let located = |e: Error| Error::InvalidInput(format!("{path}: host {name}: {e}"));
        check_destination(&destination).map_err(located)?;
        let remote_binary = entry
            .remote_binary
            .unwrap_or_else(|| "doeff-agents".to_owned());
        check_remote_binary(&remote_binary).map_err(located)?;
        let connect_timeout = match entry.connect_timeout {
            None => DEFAULT_CONNECT_TIMEOUT,
            Some(secs) => Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "{path}: host {name}: connect_timeout must be seconds > 0"
                    ))
                })?,
        };
        hosts.insert(
            name.clone(),
            Host {
                name,
                destination,
                socket: entry.socket.as_deref().map(expand_home),
                remote_binary,
                ssh_config: entry.ssh_config.as_deref().map(expand_home),
                connect_timeout,
            },
        );
    }
    Ok(hosts)
}

/// Every host in hosts.toml (none when the file does not exist).
pub fn configured() -> Result<BTreeMap<String, Host>> {
    let Some(path) = hosts_file() else {
        return Ok(BTreeMap::new());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(Error::Io { path, source }),
    };
    parse(&text, &path.to_string_lossy())
}

/// The host `name` names: a hosts.toml entry, or else an SSH destination.
pub fn resolve(name: &str) -> Result<Host> {
    if let Some(host) = configured()?.remove(name) {
        return Ok(host);
    }
    check_destination(name)?;
    Ok(Host {
        name: name.to_owned(),
        destination: name.to_owned(),
        socket: None,
        remote_binary: "doeff-agents".to_owned(),
        ssh_config: None,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_with_defaults() {
        let hosts = parse(
            "[hosts.build]\ndestination = \"me@build\"\nremote_binary = \"/opt/d-a/doeff-agents\"\n\
             connect_timeout = 2.5\n[hosts.box]\n",
            "hosts.toml",
        )
        .unwrap();
        let build = &hosts["build"];
        assert_eq!(build.destination, "me@build");
        assert_eq!(build.remote_binary, "/opt/d-a/doeff-agents");
        assert_eq!(build.connect_timeout, Duration::from_millis(2500));
        assert_eq!(hosts["box"].destination, "box");
        assert_eq!(hosts["box"].remote_binary, "doeff-agents");
    }

    #[test]
    fn options_and_shell_text_are_refused() {
        assert!(check_destination("-oProxyCommand=x").is_err());
        assert!(check_destination("a b").is_err());
        assert!(check_destination("me@build:2222").is_ok());
        assert!(check_remote_binary("doeff-agents; rm -rf ~").is_err());
        assert!(check_remote_binary("$(id)").is_err());
        assert!(check_remote_binary("~/bin/doeff-agents").is_ok());
        let err = parse("[hosts.x]\nremote_binary = \"a b\"\n", "h.toml").unwrap_err();
        assert!(err.to_string().starts_with("h.toml: host x:"), "{err}");
        let err = parse("[hosts.x]\ndestination = 3\n", "h.toml").unwrap_err();
        assert!(err.to_string().starts_with("h.toml:2:"), "{err}");
        assert!(parse("[hosts.local]\n", "h.toml").is_err());
    }
}
