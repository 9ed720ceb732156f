//! How `attach` reaches a session: plain `attach-session` from a terminal,
//! `switch-client` from inside a tmux client of the same server, and from
//! inside a client of *another* server (agents on a private `-L`/`-S`
//! server, the user in their own tmux) a nested client: `switch-client`
//! cannot cross servers, so `tmux -L x attach-session -t =name` runs with
//! `TMUX` unset for that child (tmux refuses to nest otherwise). The
//! decision ([`attach_plan`]) is pure, so it is tested without a terminal.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::server::{Server, Socket};
use super::server_lock::socket_path;

/// What to run to attach to a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachPlan {
    /// The `tmux` arguments (global ones first).
    pub argv: Vec<OsString>,
    /// Run without `TMUX` in the environment (a nested client).
    pub unset_tmux: bool,
    /// What to tell the user first, if anything (on stderr).
    pub note: Option<String>,
}

/// The plan for attaching to session `name` on `server`, given the value of
/// `$TMUX` (`socket,pid,session` inside a tmux client; `None` or empty
/// outside one).
pub fn attach_plan(server: &Server, name: &str, tmux_env: Option<&str>) -> AttachPlan {
    let target = format!("={name}");
    let mut argv = server.global_args();
    let inside = tmux_env
        .and_then(|v| v.split(',').next())
        .filter(|socket| !socket.is_empty())
        .map(PathBuf::from);
    let Some(current) = inside else {
        argv.extend(["attach-session".into(), "-t".into(), target.into()]);
        return AttachPlan {
            argv,
            unset_tmux: false,
            note: None,
        };
    };
    // The default server inside a client is that client's (as for tmux).
    let same = match &server.socket {
        Socket::Default => true,
        _ => socket_path(server).is_some_and(|socket| same_socket(&socket, &current)),
    };
    if same {
        argv.extend(["switch-client".into(), "-t".into(), target.into()]);
        return AttachPlan {
            argv,
            unset_tmux: false,
            note: None,
        };
    }
    argv.extend(["attach-session".into(), "-t".into(), target.into()]);
    AttachPlan {
        argv,
        unset_tmux: true,
        note: Some(format!(
            "{name} is on another tmux server than this client's: opening a nested client \
             (detach it with your prefix key pressed twice, then d)"
        )),
    }
}

/// True when both paths name the same socket (compared resolved, when they
/// exist).
fn same_socket(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    resolve(a) == resolve(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(plan: &AttachPlan) -> Vec<String> {
        plan.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn outside_tmux_it_attaches() {
        let plan = attach_plan(&Server::named("agents"), "doeff-fix", None);
        assert_eq!(
            strings(&plan),
            ["-L", "agents", "attach-session", "-t", "=doeff-fix"]
        );
        assert!(!plan.unset_tmux && plan.note.is_none());
        assert_eq!(attach_plan(&Server::named("agents"), "x", Some("")), {
            let mut p = attach_plan(&Server::named("agents"), "x", None);
            p.note = None;
            p
        });
    }

    #[test]
    fn inside_a_client_of_the_same_server_it_switches() {
        let socket = std::env::temp_dir().join("doeff-attach-same.sock");
        let tmux = format!("{},123,0", socket.display());
        let plan = attach_plan(&Server::at_path(&socket), "doeff-fix", Some(&tmux));
        let argv = strings(&plan);
        assert_eq!(argv[2..], ["switch-client", "-t", "=doeff-fix"]);
        assert!(!plan.unset_tmux);
        // The default server inside tmux is the client's own.
        let plan = attach_plan(&Server::default(), "doeff-fix", Some(&tmux));
        assert_eq!(strings(&plan)[0], "switch-client");
    }

    #[test]
    fn inside_a_client_of_another_server_it_nests_without_tmux() {
        let tmux = "/tmp/tmux-1000/default,4242,0";
        for server in [
            Server::named("doeff-private"),
            Server::at_path("/run/agents.sock"),
        ] {
            let plan = attach_plan(&server, "doeff-fix", Some(tmux));
            let argv = strings(&plan);
            assert_eq!(
                argv[2..],
                ["attach-session", "-t", "=doeff-fix"],
                "{argv:?}"
            );
            assert!(plan.unset_tmux, "TMUX must be unset for the nested client");
            assert!(plan.note.as_deref().is_some_and(|n| n.contains("nested")));
        }
    }
}
