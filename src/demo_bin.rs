//! Which program runs the demo agent (`PROGRAM __demo-agent`).
//!
//! The `demo` adapter must not simply relaunch "the current executable": in
//! a library user's program that is their program, not doeff-agents. So
//! [`demo_binary`] looks, in order, at `DOEFF_AGENTS_BIN` (and the older
//! `DOEFF_AGENTS_EXE`), the current executable when it is `doeff-agents`
//! or has called [`run_demo_agent_if_asked`], a `doeff-agents` beside the
//! current executable, then `doeff-agents` on PATH. With none, launching the
//! demo fails with [`MISSING`], which says how to make it available.
//!
//! A host program can carry the demo itself: calling
//! [`run_demo_agent_if_asked`] first thing in `main` runs the demo agent
//! (and exits) when the program was started as `PROGRAM __demo-agent ...`,
//! and otherwise marks this executable as the one that runs it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The hidden subcommand that runs the demo agent.
const DEMO_AGENT_ARG: &str = "__demo-agent";

/// Why the demo agent cannot be launched when no program for it was found.
pub(crate) const MISSING: &str = "the demo agent needs the doeff-agents binary: install it (cargo \
    install doeff-agents, or put it on PATH), set DOEFF_AGENTS_BIN=/path/to/doeff-agents, or \
    call doeff_agents::demo::run_demo_agent_if_asked() first thing in your main";

static SERVES_DEMO: AtomicBool = AtomicBool::new(false);

/// In a host program's `main`, before anything else: started as
/// `PROGRAM __demo-agent [--prompt=TEXT] [--model=NAME]`, runs the demo
/// agent and exits with its code; otherwise returns, and this executable is
/// the one the `demo` adapter launches from now on.
pub fn run_demo_agent_if_asked() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(DEMO_AGENT_ARG) {
        SERVES_DEMO.store(true, Ordering::SeqCst);
        return;
    }
    let mut options = crate::demo::DemoOptions::default();
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let mut take = |flag: &str| -> Option<String> {
            if let Some(value) = arg.strip_prefix(&format!("{flag}=")) {
                Some(value.to_owned())
            } else if arg == flag {
                rest.next().cloned()
            } else {
                None
            }
        };
        if let Some(prompt) = take("--prompt") {
            options.prompt = Some(prompt);
        } else if let Some(model) = take("--model") {
            options.model = Some(model);
        }
    }
    std::process::exit(crate::demo::run(&options));
}

/// The program that runs the demo agent here (see the module docs).
pub(crate) fn demo_binary() -> Option<PathBuf> {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_demo_binary(
        env("DOEFF_AGENTS_BIN").or_else(|| env("DOEFF_AGENTS_EXE")),
        std::env::current_exe().ok().as_deref(),
        SERVES_DEMO.load(Ordering::SeqCst),
        &path,
    )
}

/// [`demo_binary`] over explicit inputs.
pub(crate) fn find_demo_binary(
    configured: Option<OsString>,
    current_exe: Option<&Path>,
    current_serves_demo: bool,
    path: &std::ffi::OsStr,
) -> Option<PathBuf> {
    if let Some(configured) = configured {
        return Some(PathBuf::from(configured));
    }
    if let Some(exe) = current_exe {
        if current_serves_demo || exe.file_name().is_some_and(|n| n == "doeff-agents") {
            return Some(exe.to_path_buf());
        }
        let beside = exe.with_file_name("doeff-agents");
        if is_executable(&beside) {
            return Some(beside);
        }
    }
    std::env::split_paths(path)
        .map(|dir| dir.join("doeff-agents"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn a_library_host_is_not_taken_for_doeff_agents() {
        let dir = std::env::temp_dir().join(format!("doeff-demo-bin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).expect("dir");
        let host = dir.join("my-program");
        let empty = OsStr::new("");
        // A host program that did not opt in is never the demo agent.
        assert_eq!(find_demo_binary(None, Some(&host), false, empty), None);
        // It is when it called run_demo_agent_if_asked().
        assert_eq!(
            find_demo_binary(None, Some(&host), true, empty),
            Some(host.clone())
        );
        // The doeff-agents binary itself.
        let cli = dir.join("doeff-agents");
        assert_eq!(
            find_demo_binary(None, Some(&cli), false, empty),
            Some(cli.clone())
        );
        // DOEFF_AGENTS_BIN first.
        assert_eq!(
            find_demo_binary(Some("/x/doeff-agents".into()), Some(&host), true, empty),
            Some(PathBuf::from("/x/doeff-agents"))
        );
        // On PATH, then beside the host.
        let on_path = dir.join("bin/doeff-agents");
        std::fs::write(&on_path, "").expect("write");
        std::fs::set_permissions(&on_path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = dir.join("bin").into_os_string();
        assert_eq!(
            find_demo_binary(None, Some(&host), false, &path),
            Some(on_path)
        );
        std::fs::write(&cli, "").expect("write");
        std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(find_demo_binary(None, Some(&host), false, &path), Some(cli));
        let _ = std::fs::remove_dir_all(&dir);
    }

    use std::os::unix::fs::PermissionsExt;
}
