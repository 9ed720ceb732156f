//! Throwaway SSH hosts for the remote tests: each host is a network
//! namespace made by the test (a veth pair, addresses in 10.2xx.n.0/24),
//! with its own `sshd` (a throwaway host key, one authorised throwaway
//! client key, its own config; root login by key only, no PAM), its own
//! tmux server, state and config dirs (set by a wrapper script that is the
//! host's `remote_binary`, so the remote command stays `BIN serve --stdio`).
//! The client side gets an ssh config and known_hosts of its own and a
//! hosts.toml naming every host. Everything is removed on drop, also when a
//! test fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_doeff-agents"))
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
}

fn must(program: &str, args: &[&str]) {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Why the lab cannot run here (no netns, no sshd), or None when it can
/// (probed once per test process).
pub fn unavailable() -> Option<String> {
    static PROBED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PROBED.get_or_init(probe).clone()
}

fn probe() -> Option<String> {
    if !Path::new("/usr/sbin/sshd").exists() {
        return Some("sshd is not installed (apt-get install openssh-server)".into());
    }
    if Command::new("ssh").arg("-V").output().is_err() {
        return Some("ssh is not installed (apt-get install openssh-client)".into());
    }
    let probe = format!("doeff-probe-{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &probe]).output() {
        Ok(out) if out.status.success() => {
            let _ = run("ip", &["netns", "del", &probe]);
            None
        }
        Ok(out) => Some(format!(
            "network namespaces cannot be created here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("ip (iproute2) cannot run: {e}")),
    }
}

/// Skips the calling test (returns from it) when the lab cannot run.
#[macro_export]
macro_rules! lab_or_skip {
    () => {
        if let Some(why) = ssh_lab::unavailable() {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}

/// One test host.
pub struct TestHost {
    pub name: String,
    pub ns: String,
    /// The veth end in the root namespace (cut it to cut the link).
    pub link: String,
    pub addr: String,
    pub dir: PathBuf,
    sshd: Option<Child>,
}

impl TestHost {
    /// The tmux socket of the host's doeff-agents (TMUX_TMPDIR/tmux-0/default).
    pub fn tmux_socket(&self) -> PathBuf {
        self.dir
            .join("tmux")
            .join(format!("tmux-{}", nix_uid()))
            .join("default")
    }

    /// `tmux -S <host socket> ARGS`.
    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(self.tmux_socket())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux")
    }

    /// Pids in this host's namespace whose command name is `comm`.
    pub fn pids(&self, comm: &str) -> Vec<i32> {
        let out = run("ip", &["netns", "pids", &self.ns]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|c| c.trim() == comm)
                    .unwrap_or(false)
            })
            .collect()
    }

    /// Pids of the `serve --stdio` processes on this host.
    pub fn serve_pids(&self) -> Vec<i32> {
        self.pids("doeff-agents")
            .into_iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("serve"))
                    .unwrap_or(false)
            })
            .collect()
    }

    pub fn signal(pids: &[i32], signal: &str) {
        for pid in pids {
            let _ = run("kill", &[&format!("-{signal}"), &pid.to_string()]);
        }
    }

    pub fn cut(&self) {
        must("ip", &["link", "set", &self.link, "down"]);
    }

    pub fn restore(&self) {
        must("ip", &["link", "set", &self.link, "up"]);
    }

    /// Starts (or restarts) this host's sshd and waits until it listens.
    pub fn start_sshd(&mut self) {
        let log = std::fs::File::create(self.dir.join("sshd.log")).expect("log");
        // The host's own (empty) home for its root, in a mount namespace of
        // its own: this machine's ~/.bashrc, which bash sources for every
        // command sshd runs, is not the test host's (here it costs ~110 ms).
        let home = self.dir.join("root-home");
        std::fs::create_dir_all(&home).expect("home");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                "mount --bind \"$0\" /root && exec /usr/sbin/sshd -D -e -f \"$1\"",
            ])
            .arg(&home)
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd");
        self.sshd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = run("ip", &["netns", "exec", &self.ns, "ss", "-ltn"]);
            if String::from_utf8_lossy(&out.stdout).contains(&format!("{}:22", self.addr)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sshd on {} did not listen: {}",
                self.name,
                std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills every sshd of this host (the listener and the connections).
    pub fn kill_sshd(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        Self::signal(&self.pids("sshd"), "KILL");
    }
}

fn nix_uid() -> u32 {
    // Tests run as root here; read the real uid anyway.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|u| u.parse().ok()))
        })
        .unwrap_or(0)
}

/// The lab: some hosts plus the client's files.
pub struct Lab {
    pub dir: PathBuf,
    pub hosts: Vec<TestHost>,
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

impl Lab {
    /// A lab with hosts named `names` (sshd started on each).
    pub fn new(names: &[&str]) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let dir = PathBuf::from(format!("/tmp/dssh-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("config/doeff-agents")).expect("lab dir");
        std::fs::create_dir_all(dir.join("run")).expect("run dir");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let mut lab = Lab {
            dir: dir.clone(),
            hosts: Vec::new(),
        };
        let key = dir.join("client_key");
        must(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()],
        );
        let mut ssh_config = String::new();
        let mut known_hosts = String::new();
        let mut hosts_toml = String::new();
        // 10.(200 + pid % 50).(lab * 8 + host).0/24: distinct per process and lab.
        let second = 200 + pid % 50;
        for (i, name) in names.iter().enumerate() {
            let third = (n * 8 + i) % 250;
            let host_dir = dir.join(name);
            for sub in ["tmux", "state", "config", "run", "bin", "work"] {
                std::fs::create_dir_all(host_dir.join(sub)).expect("host dir");
            }
            let ns = format!("dssh-{pid}-{n}-{i}");
            let link = format!("d{}{}{}h", pid % 100_000, n, i);
            let peer = format!("d{}{}{}n", pid % 100_000, n, i);
            let addr = format!("10.{second}.{third}.2");
            let host = TestHost {
                name: (*name).to_owned(),
                ns: ns.clone(),
                link: link.clone(),
                addr: addr.clone(),
                dir: host_dir.clone(),
                sshd: None,
            };
            // Pushed before anything can fail, so Drop cleans it up.
            lab.hosts.push(host);
            must("ip", &["netns", "add", &ns]);
            must(
                "ip",
                &["link", "add", &link, "type", "veth", "peer", "name", &peer],
            );
            must("ip", &["link", "set", &peer, "netns", &ns]);
            must(
                "ip",
                &[
                    "addr",
                    "add",
                    &format!("10.{second}.{third}.1/24"),
                    "dev",
                    &link,
                ],
            );
            must("ip", &["link", "set", &link, "up"]);
            must(
                "ip",
                &[
                    "netns",
                    "exec",
                    &ns,
                    "ip",
                    "addr",
                    "add",
                    &format!("{addr}/24"),
                    "dev",
                    &peer,
                ],
            );
            must(
                "ip",
                &["netns", "exec", &ns, "ip", "link", "set", &peer, "up"],
            );
            must(
                "ip",
                &["netns", "exec", &ns, "ip", "link", "set", "lo", "up"],
            );
            let host_key = host_dir.join("host_key");
            must(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-f",
                    host_key.to_str().unwrap(),
                ],
            );
            std::fs::write(
                host_dir.join("sshd_config"),
                format!(
                    "ListenAddress {addr}:22\nHostKey {hk}\nPidFile {d}/sshd.pid\n\
                     AuthorizedKeysFile {key}.pub\nPermitRootLogin prohibit-password\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                     StrictModes no\nPermitUserEnvironment no\nX11Forwarding no\n\
                     AllowTcpForwarding no\nPrintMotd no\nLogLevel ERROR\nMaxSessions 10\n",
                    hk = host_key.display(),
                    d = host_dir.display(),
                    key = key.display(),
                ),
            )
            .expect("sshd_config");
            let remote = host_dir.join("bin/remote");
            write_executable(
                &remote,
                &format!(
                    "#!/bin/sh\nexport TMUX_TMPDIR={d}/tmux XDG_STATE_HOME={d}/state \
                     XDG_CONFIG_HOME={d}/config XDG_RUNTIME_DIR={d}/run \
                     DOEFF_AGENTS_BIN={bin} DOEFF_AGENTS_SHELL_PATH=0\n\
                     unset DOEFF_AGENTS_TMUX_SOCKET TMUX\ncd {d}/work\nexec {bin} \"$@\"\n",
                    d = host_dir.display(),
                    bin = bin().display()
                ),
            );
            let public = std::fs::read_to_string(host_dir.join("host_key.pub")).expect("pub");
            known_hosts.push_str(&format!("{addr} {}\n", public.trim()));
            ssh_config.push_str(&format!(
                "Host {name}\n  HostName {addr}\n  User root\n  IdentityFile {key}\n  \
                 IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking yes\n  LogLevel ERROR\n",
                key = key.display(),
                kh = dir.join("known_hosts").display()
            ));
            hosts_toml.push_str(&format!(
                "[hosts.{name}]\ndestination = \"{name}\"\nremote_binary = \"{}\"\n\
                 ssh_config = \"{}\"\nconnect_timeout = 5\n",
                remote.display(),
                dir.join("ssh_config").display()
            ));
        }
        std::fs::write(dir.join("ssh_config"), ssh_config).expect("ssh_config");
        std::fs::write(dir.join("known_hosts"), known_hosts).expect("known_hosts");
        std::fs::write(dir.join("config/doeff-agents/hosts.toml"), hosts_toml).expect("hosts.toml");
        for host in &mut lab.hosts {
            host.start_sshd();
        }
        lab
    }

    pub fn host(&self, name: &str) -> &TestHost {
        self.hosts.iter().find(|h| h.name == name).expect("host")
    }

    pub fn host_mut(&mut self, name: &str) -> &mut TestHost {
        self.hosts
            .iter_mut()
            .find(|h| h.name == name)
            .expect("host")
    }

    /// Appends an entry to hosts.toml.
    pub fn add_host_entry(&self, text: &str) {
        let path = self.dir.join("config/doeff-agents/hosts.toml");
        let mut toml = std::fs::read_to_string(&path).expect("hosts.toml");
        toml.push_str(text);
        std::fs::write(path, toml).expect("hosts.toml");
    }

    /// The client's environment for `command`.
    pub fn env(&self, command: &mut Command) {
        command
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .env("XDG_RUNTIME_DIR", self.dir.join("run"))
            .env("DOEFF_AGENTS_BIN", bin())
            .env("DOEFF_AGENTS_SHELL_PATH", "0")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("DOEFF_AGENTS_TMUX_SOCKET")
            .env_remove("TMUX");
    }

    /// `doeff-agents -L <private local server> ARGS` as the client.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin());
        command
            .arg("-L")
            .arg(format!(
                "dssh-local-{}",
                self.dir.display().to_string().replace('/', "_")
            ))
            .args(args)
            .stdin(Stdio::null());
        self.env(&mut command);
        command
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("doeff-agents")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for host in &mut self.hosts {
            // Every process of the host: sshd, serve, tmux, agents.
            host.kill_sshd();
            let _ = host.tmux(&["kill-server"]);
            let out = run("ip", &["netns", "pids", &host.ns]);
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = run("kill", &["-CONT", pid]);
                let _ = run("kill", &["-KILL", pid]);
            }
            let _ = run("ip", &["link", "del", &host.link]);
            let _ = run("ip", &["netns", "del", &host.ns]);
        }
        // The client's shared connections (their masters run on as daemons).
        let config = self.dir.join("ssh_config");
        for host in &self.hosts {
            let _ = Command::new("timeout")
                .arg("3")
                .arg("ssh")
                .arg("-F")
                .arg(&config)
                .arg("-o")
                .arg(format!(
                    "ControlPath={}/run/doeff-agents/ssh-%C",
                    self.dir.display()
                ))
                .args(["-O", "exit", &host.name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(format!(
                "dssh-local-{}",
                self.dir.display().to_string().replace('/', "_")
            ))
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
