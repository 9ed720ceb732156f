#!/usr/bin/env python3
"""Drive the real Claude Code / Codex / Gemini CLIs in throwaway tmux servers and save
their screens for the classifier tests, in two forms: `<name>.txt` (tmux capture-pane -p, no
escapes) and `<name>.ansi` (capture-pane -p -e, colours and attributes kept), taken from the
same frame.

    python3 tests/realcli/capture.py --bin /work/npmcli/node_modules/.bin \
        --out tests/screens --work /tmp/realcli-work [--agents claude,codex,gemini] [--states idle,permission]

Every CLI runs with HOME=<work>/home-<agent>-<state> (fresh per state), inside its own tmux
server (-L realcli-<agent>), at 120x40, against tests/realcli/mock_api.py on 127.0.0.1.
All proxies point at 127.0.0.1:9 (closed) so a stray request never leaves the machine.
Screens are written to <out>/<agent>-<version>-<state>.txt (and .ansi); the expected
classification of each state is in EXPECTED (below) and is merged into <out>/<table>
(--table, default EXPECTED.tsv; new, not yet classified families go to NEW.tsv).
--size WxH changes the pane size (default 120x40). families.py adds the harder families.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
CLAUDE_KEY = "sk-ant-api03-mockkey-0123456789abcdefghijXYZ"
CLOSED_PORT = 9  # nothing listens there: connection refused

# state -> (status, reason, note) ; per-agent overrides below
EXPECTED = {
    "login": ("blocked", "login_required", "no credentials"),
    "login_menu": ("blocked", "login_required", "/login method picker"),
    "trust": ("blocked", "trust_dialog", "folder trust dialog on first start in this dir"),
    "idle": ("blocked", "idle_prompt", "fresh start, empty composer, no turn yet"),
    "streaming": ("running", "busy", "mid-answer, text still arriving"),
    "idle_after_turn": ("blocked", "idle_prompt", "turn finished, waiting for next prompt"),
    "permission": ("blocked", "permission_prompt", "approval dialog for a shell command"),
    "rate_limit_429_retrying": ("running", "busy", "API answered 429; the CLI is retrying"),
    "rate_limit_429": ("blocked_api", "rate_limit", "429 after retries gave up"),
    "overloaded_retrying": ("running", "busy", "API overloaded (529/503); CLI retrying"),
    "overloaded": ("blocked_api", "overloaded", "529/503 after retries gave up"),
    "auth_401": ("failed", "auth_failed", "API answered 401"),
    "error_500_retrying": ("running", "busy", "API answered 500; CLI retrying"),
    "error_500": ("failed", "api_error", "500 after retries gave up"),
    "connection_failed_retrying": ("running", "busy", "base URL on a closed port; CLI still retrying"),
    "connection_failed": ("failed", "connection_failed", "base URL on a closed port, retries exhausted"),
    "exited_to_shell": ("exited", "process_exited", "agent quit; bash prompt visible (pane fg process is bash)"),
    "killed": ("exited", "process_exited", "agent SIGKILLed mid-stream; frozen UI above a shell prompt"),
}


# (agent, state) -> (status, reason, note): where one CLI differs from the generic expectation
OVERRIDES = {
    ("claude", "connection_failed_startup"): ("failed", "connection_failed",
        "first run (not onboarded): connectivity check 'Unable to connect to Anthropic services / Failed to connect to "
        "api.anthropic.com: ECONNREFUSED', then claude exited to the shell: a fatal error followed by the exit is failed"),
    ("claude", "login_menu"): ("blocked", "login_required", "/login: 'Select login method' picker"),
    ("claude", "login"): ("blocked", "login_required",
                          "typed a prompt without credentials: 'Not logged in · Please run /login'; composer idle"),
    ("claude", "streaming"): ("running", "busy", "spinner line '… (7s · ↓ 58 tokens)' + 'esc to interrupt' footer"),
    ("claude", "rate_limit_429_retrying"): ("running", "busy", "'API error · Retrying in 1s · attempt 1/10' + esc to interrupt"),
    ("claude", "overloaded_retrying"): ("running", "busy", "529; 'API error · Retrying in Ns · attempt k/10'"),
    ("claude", "error_500_retrying"): ("running", "busy", "500; 'API error · Retrying in Ns · attempt k/10'"),
    ("claude", "connection_failed_retrying"): ("running", "busy",
                                               "'Unable to connect to API (ConnectionRefused) · Retrying in 1s · attempt 1/10'"),
    ("claude", "rate_limit_429"): ("blocked_api", "rate_limit",
                                   "CLAUDE_CODE_MAX_RETRIES=1; 'API Error: Request rejected (429)'; idle composer below"),
    ("claude", "overloaded"): ("blocked_api", "overloaded", "CLAUDE_CODE_MAX_RETRIES=1; 'API Error: 529 Overloaded'"),
    ("claude", "auth_401"): ("failed", "auth_failed", "'Invalid API key · Fix external API key' (no retries for 401)"),
    ("claude", "error_500"): ("failed", "api_error", "CLAUDE_CODE_MAX_RETRIES=1; 'API Error: 500 Internal server error'"),
    ("claude", "connection_failed"): ("failed", "connection_failed",
                                      "CLAUDE_CODE_MAX_RETRIES=1; 'API Error: Unable to connect to API (ConnectionRefused)'"),
    ("claude", "exited_to_shell"): ("exited", "process_exited",
                                    "typed /exit; the slash-command menu stays painted above the bash prompt"),
    ("codex", "streaming"): ("running", "streaming",
                             "Codex shows NO busy marker while streaming: partial text + idle-looking composer; "
                             "only a change between frames tells it is running"),
    ("codex", "trust"): ("blocked", "trust_dialog", "only shown in a git repo without trust_level; plain dirs get none"),
    ("codex", "rate_limit_429"): ("blocked_api", "rate_limit",
                                  "default retries (silent), then '■ exceeded retry limit, last status: 429 Too Many Requests'"),
    ("codex", "overloaded"): ("blocked_api", "overloaded",
                              "mock 503 server_is_overloaded -> '■ Selected model is at capacity. Please try a different model.'"),
    ("codex", "auth_401"): ("failed", "auth_failed", "'■ unexpected status 401 Unauthorized: Incorrect API key provided'"),
    ("codex", "error_500_retrying"): ("running", "busy", "'◦ Reconnecting... 1/5 (3s • esc to interrupt)' + high-demand note"),
    ("codex", "error_500"): ("blocked_api", "overloaded",
                             "mock sent HTTP 500 but Codex words it '■ We're currently experiencing high demand, which may "
                             "cause temporary errors.' - judged by the screen as overloaded; failed/api_error also defensible"),
    ("codex", "connection_failed_retrying"): ("running", "busy",
                                              "closed port: 'Reconnecting... waiting for network (7s • esc to interrupt)'"),
    ("codex", "connection_failed"): ("failed", "connection_failed",
                                     "same 'Reconnecting... waiting for network' screen at 30s: Codex NEVER gives up on a "
                                     "closed port (even with request/stream_max_retries=1); needs timing/history to call failed"),
    ("codex", "exited_to_shell"): ("exited", "process_exited", "/quit; alt screen restored: 'Session ID: …' + bash prompt"),
    ("gemini", "login"): ("blocked", "login_required", "auth picker 'How would you like to authenticate for this project?'"),
    ("gemini", "streaming"): ("running", "busy", "'⠹ Thinking... (esc to cancel, 4s)' while the composer 'Type your message' stays"),
    ("gemini", "rate_limit_429_retrying"): ("running", "busy",
                                            "429 retried silently: only the normal 'Thinking... (esc to cancel, 8s)' spinner"),
    ("gemini", "overloaded_retrying"): ("running", "busy", "503 retried silently behind the normal spinner"),
    ("gemini", "overloaded_retrying_4min"): ("running", "busy",
        "503 for 4 minutes: Gemini still retrying silently (2 requests every ~5 s), only the spinner timer moves; "
        "captured by hand, not by capture.py; a final overloaded screen was not reached within 7 min"),
    ("gemini", "error_500_retrying"): ("running", "busy", "500 retried silently behind the normal spinner"),
    ("gemini", "connection_failed_retrying"): ("running", "busy", "closed port, retried silently behind the normal spinner"),
    ("gemini", "auth_401"): ("failed", "auth_failed", "'✕ [API Error: {\"error\":{\"code\":401,...UNAUTHENTICATED}}]' then idle composer"),
    ("gemini", "exited_to_shell"): ("exited", "process_exited", "/quit: 'Agent powering down. Goodbye!' summary box above the bash prompt"),
    ("gemini", "killed"): ("exited", "process_exited", "SIGKILL mid-stream: frozen spinner, 'Killed' inside the composer line, bash prompt"),
    ("gemini", "rate_limit_429"): ("blocked_api", "rate_limit",
                                   "mock scenario 429daily (QuotaFailure PerDay): terminal quota error, no silent retries"),
    ("codex", "killed"): ("exited", "process_exited",
                          "SIGKILL mid-stream: alt screen never restored, 'Killed' + bash prompt over the frozen TUI"),
}

ANSI_RE = re.compile(r"\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def strip_ansi(text):
    """The text of a capture-pane -e frame without its escapes (trailing spaces dropped)."""
    return "\n".join(l.rstrip() for l in ANSI_RE.sub("", text).split("\n"))


class Shot(str):
    """A plain capture (capture-pane -p) that also carries the same frame with escapes (.ansi)."""
    ansi = None


class Tmux:
    def __init__(self, sock, size=(120, 40)):
        self.sock = sock
        self.size = size

    def __call__(self, *a, check=True):
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *a], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"tmux {a}: {r.stderr.strip()}")
        return r.stdout

    def new(self, name, cmd, cwd, env, size=None):
        w, h = size or self.size
        self("kill-session", "-t", name, check=False)
        # tmux 3.3a: `-e` did not reach the initial command's PATH lookup, so pass the
        # environment through env(1); the pane's process then exec()s the agent itself.
        envs = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        self("new-session", "-d", "-x", str(w), "-y", str(h), "-s", name, "-c", cwd, f"exec env -i {envs} {cmd}")
        self("set-option", "-t", name, "remain-on-exit", "on", check=False)

    def cap(self, name):
        """One frame, plain and with escapes. The two captures are tmux calls a moment apart;
        they are retried until the escaped one, stripped, is the plain one (same frame)."""
        for _ in range(6):
            plain = self("capture-pane", "-p", "-t", name)
            ansi = self("capture-pane", "-p", "-e", "-t", name)
            if strip_ansi(ansi).rstrip("\n") == "\n".join(l.rstrip() for l in plain.split("\n")).rstrip("\n"):
                break
        shot = Shot(plain)
        shot.ansi = ansi
        return shot

    def keys(self, name, *k):
        self("send-keys", "-t", name, *k)

    def type(self, name, text):
        self("send-keys", "-t", name, "-l", text)
        time.sleep(0.6)
        self("send-keys", "-t", name, "Enter")

    def wait(self, name, pat, timeout=40, interval=0.25):
        rx = re.compile(pat, re.M)
        end = time.time() + timeout
        s = ""
        while time.time() < end:
            s = self.cap(name)
            if rx.search(s):
                return s
            time.sleep(interval)
        raise TimeoutError(f"/{pat}/ not seen within {timeout}s; last screen:\n{s}")

    def settle(self, name, quiet=2.0, timeout=30):
        """Wait until the screen has not changed for `quiet` seconds."""
        end = time.time() + timeout
        last = self.cap(name)
        since = time.time()
        while time.time() < end:
            time.sleep(0.25)
            s = self.cap(name)
            if s != last:
                last, since = s, time.time()
            elif time.time() - since >= quiet:
                return s
        return last

    def pane_pid(self, name):
        return int(self("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def kill_server(self):
        self("kill-server", check=False)


def proc_tree(pid):
    """pid and all descendants (from /proc)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except Exception:
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def fg_pgrp(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[5])  # tpgid


class Runner:
    def __init__(self, a):
        self.a = a
        self.bin = a.bin
        self.out = a.out
        self.work = a.work
        os.makedirs(self.out, exist_ok=True)
        os.makedirs(self.work, exist_ok=True)
        self.ws = os.path.join(self.work, "ws")
        os.makedirs(self.ws, exist_ok=True)
        self.results = []  # (file, status, reason, note)
        self.failures = []
        self.versions = {}
        self.start_mock()

    # ------------------------------------------------------------------ mock
    def start_mock(self):
        self.mock_log = open(os.path.join(self.work, "mock.log"), "a")
        self.mock = subprocess.Popen([sys.executable, os.path.join(HERE, "mock_api.py"), "--port", "0",
                                      "--delay", str(self.a.delay)],
                                     stdout=subprocess.PIPE, stderr=self.mock_log, text=True)
        line = self.mock.stdout.readline()
        self.port = int(line.split()[1])
        log(f"mock on 127.0.0.1:{self.port} (log {self.work}/mock.log)")

    def scenario(self, name):
        import urllib.request
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(f"http://127.0.0.1:{self.port}/_scenario/{name}", timeout=5).read()

    def stop(self):
        self.mock.terminate()
        self.mock.wait(5)

    # ------------------------------------------------------------------ env / homes
    def base_env(self, home):
        e = {
            "HOME": home, "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin", "TERM": "xterm-256color",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "HTTP_PROXY": f"http://127.0.0.1:{CLOSED_PORT}", "HTTPS_PROXY": f"http://127.0.0.1:{CLOSED_PORT}",
            "ALL_PROXY": f"http://127.0.0.1:{CLOSED_PORT}", "http_proxy": f"http://127.0.0.1:{CLOSED_PORT}",
            "https_proxy": f"http://127.0.0.1:{CLOSED_PORT}", "all_proxy": f"http://127.0.0.1:{CLOSED_PORT}",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "GEMINI_CLI_NO_RELAUNCH": "1",
            "PS1": "bash-5.2$ ",
        }
        return e

    def fresh_home(self, agent, state):
        home = os.path.join(self.work, f"home-{agent}-{state}")
        shutil.rmtree(home, ignore_errors=True)
        os.makedirs(home)
        return home

    # claude ------------------------------------------------------------
    def claude_home(self, state, trusted=True, onboarded=True, key=True):
        home = self.fresh_home("claude", state)
        cfg = {}
        if onboarded:
            cfg.update(hasCompletedOnboarding=True, theme="dark", lastReleaseNotesSeen="999.0.0")
        if key:
            cfg["customApiKeyResponses"] = {"approved": [CLAUDE_KEY[-20:]], "rejected": []}
        if trusted:
            cfg["projects"] = {self.ws: {"hasTrustDialogAccepted": True, "projectOnboardingSeenCount": 5}}
        with open(os.path.join(home, ".claude.json"), "w") as f:
            json.dump(cfg, f)
        return home

    def claude_env(self, home, port=None, key=True, retries=None):
        e = self.base_env(home)
        if key:
            e["ANTHROPIC_API_KEY"] = CLAUDE_KEY
            e["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{port or self.port}"
        if retries is not None:
            e["CLAUDE_CODE_MAX_RETRIES"] = str(retries)
        return e

    # codex -------------------------------------------------------------
    def codex_home(self, state, port=None, trusted=True, provider=True, retries=None):
        home = self.fresh_home("codex", state)
        d = os.path.join(home, ".codex")
        os.makedirs(d)
        if provider:
            lines = ['model = "gpt-5.1-codex"', 'model_provider = "mock"', "",
                     "[model_providers.mock]", 'name = "Mock"',
                     f'base_url = "http://127.0.0.1:{port or self.port}/v1"',
                     'env_key = "MOCK_API_KEY"', 'wire_api = "responses"']
            if retries is not None:
                lines += [f"request_max_retries = {retries}", f"stream_max_retries = {retries}"]
            if trusted:
                lines += ["", f'[projects."{self.ws}"]', 'trust_level = "trusted"']
            with open(os.path.join(d, "config.toml"), "w") as f:
                f.write("\n".join(lines) + "\n")
        return home

    def codex_env(self, home):
        e = self.base_env(home)
        e["MOCK_API_KEY"] = "mock-key"
        return e

    # gemini ------------------------------------------------------------
    def gemini_home(self, state, trusted=True, auth=True, attempts=None):
        home = self.fresh_home("gemini", state)
        d = os.path.join(home, ".gemini")
        os.makedirs(d)
        s = {"privacy": {"usageStatisticsEnabled": False},
             "general": {"disableAutoUpdate": True, "disableUpdateNag": True}}
        if auth:
            s["security"] = {"auth": {"selectedType": "gemini-api-key"}}
        if attempts is not None:
            s["general"]["maxAttempts"] = attempts
        with open(os.path.join(d, "settings.json"), "w") as f:
            json.dump(s, f)
        if trusted:
            with open(os.path.join(d, "trustedFolders.json"), "w") as f:
                json.dump({self.ws: "TRUST_FOLDER"}, f)
        return home

    def gemini_env(self, home, port=None, key=True):
        e = self.base_env(home)
        if key:
            e["GEMINI_API_KEY"] = "mock-key"
            e["GOOGLE_GEMINI_BASE_URL"] = f"http://127.0.0.1:{port or self.port}"
        return e

    # ------------------------------------------------------------------ saving
    def version(self, agent):
        if agent not in self.versions:
            r = subprocess.run([os.path.join(self.bin, agent), "--version"], capture_output=True, text=True,
                               env={**os.environ, "HOME": os.path.join(self.work, "home-version")}, timeout=60)
            m = re.search(r"(\d+\.\d+\.\d+)", r.stdout)
            self.versions[agent] = m.group(1) if m else "unknown"
        return self.versions[agent]

    def save(self, agent, state, screen, status=None, reason=None, note=None):
        fn = f"{agent}-{self.version(agent)}-{state}.txt"
        with open(os.path.join(self.out, fn), "w") as f:
            f.write(screen)
        if getattr(screen, "ansi", None) is not None:
            with open(os.path.join(self.out, fn[:-len(".txt")] + ".ansi"), "w") as f:
                f.write(screen.ansi)
        st, rs, nt = OVERRIDES.get((agent, state)) or EXPECTED.get(state) or ("?", "?", "")
        self.results.append((fn, status or st, reason or rs, note or nt))
        log(f"saved {fn}")

    # ------------------------------------------------------------------ generic flows
    def launch(self, tmx, name, argv_str, env, cwd=None, shell=False, size=None,
               shell_cmd="bash --norc --noprofile", prompt_re=r"\$ ?$"):
        """shell=False: the agent is the pane's command (as doeff-agents launches it).
        shell=True: the pane runs `shell_cmd` (default bash --norc), the agent is typed at its
        prompt (seen by prompt_re). size: (columns, rows) instead of the runner's default."""
        cwd = cwd or self.ws
        if shell:
            tmx.new(name, shell_cmd, cwd, env, size=size)
            tmx.wait(name, prompt_re, 10)
            tmx.type(name, argv_str)
        else:
            tmx.new(name, argv_str, cwd, env, size=size)

    def kill_agent(self, tmx, name):
        pid = tmx.pane_pid(name)
        pgrp = fg_pgrp(pid)
        if pgrp > 0 and pgrp != pid:
            os.killpg(pgrp, signal.SIGKILL)
        else:
            for p in proc_tree(pid)[1:]:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def cleanup(self, tmx):
        """Kill every process still running in the server's panes, then the server.
        (kill-session alone leaves Claude/Gemini running, orphaned.)"""
        try:
            out = tmx("list-panes", "-a", "-F", "#{pane_pid}", check=False)
            for line in out.split():
                for p in reversed(proc_tree(int(line))):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        except Exception:
            pass
        tmx.kill_server()

    def do(self, agent, state, fn):
        if self.a.states and state not in self.a.states:
            return
        tmx = Tmux(f"realcli-{agent}-{os.getpid()}", self.a.size)
        log(f"--- {agent} {state}")
        try:
            self.scenario("ok")
            fn(tmx)
        except Exception as e:
            msg = f"{agent} {state}: {e.__class__.__name__}: {e}"
            self.failures.append(msg)
            log("FAILED " + msg)
            if self.a.verbose:
                traceback.print_exc()
        finally:
            self.cleanup(tmx)

    # ------------------------------------------------------------------ per agent
    def run_claude(self):
        A = "claude"

        def login(t):
            home = self.claude_home("login", key=False)
            self.launch(t, "s", "claude", self.claude_env(home, key=False))
            t.wait("s", r"Not logged in")
            t.settle("s", 1.5)
            t.type("s", "hello")
            s = t.wait("s", r"Please run /login")
            self.save(A, "login", t.settle("s", 1.5))
            t.type("s", "/login")
            t.wait("s", r"Select login method")
            self.save(A, "login_menu", t.settle("s", 1.5))

        def startup_offline(t):
            # not onboarded: first-run connectivity check against api.anthropic.com fails, process exits
            home = self.claude_home("offline", onboarded=False, key=False, trusted=False)
            self.launch(t, "s", "claude", self.claude_env(home, key=False), shell=True)
            t.wait("s", r"Unable to connect|Failed to connect", 40)
            s = t.settle("s", 2)
            self.save(A, "connection_failed_startup", s, "exited", "process_exited",
                      "first run, onboarding connectivity check failed ('Unable to connect to Anthropic services'); "
                      "claude EXITED to the shell - screen text alone says failed/connection_failed")

        def trust(t):
            home = self.claude_home("trust", trusted=False)
            self.launch(t, "s", "claude", self.claude_env(home))
            t.wait("s", r"trust this folder")
            self.save(A, "trust", t.settle("s", 1.5))

        def idle(t):
            home = self.claude_home("idle")
            self.launch(t, "s", "claude", self.claude_env(home))
            t.wait("s", r"for shortcuts")
            self.save(A, "idle", t.settle("s", 2))

        def turn(t):
            home = self.claude_home("turn")
            self.scenario("slow")
            self.launch(t, "s", "claude 'tell me something long'", self.claude_env(home))
            t.wait("s", r"Line 3:")
            self.save(A, "streaming", t.cap("s"))
            t.wait("s", r"Line 12:.*\n(.*\n)*.*for shortcuts", 90)
            self.save(A, "idle_after_turn", t.settle("s", 2))

        def permission(t):
            home = self.claude_home("perm")
            self.scenario("tool")
            self.launch(t, "s", "claude 'make a marker file'", self.claude_env(home))
            t.wait("s", r"Do you want to proceed\?")
            self.save(A, "permission", t.settle("s", 1.5))

        def api_error(scn, state, retry_pat, final_pat, retry_state=None):
            def f(t):
                home = self.claude_home(state)
                self.scenario(scn)
                if retry_state:
                    self.launch(t, "r", "claude 'hi'", self.claude_env(home))
                    t.wait("r", retry_pat, 40)
                    self.save(A, retry_state, t.cap("r"))
                    self.cleanup(t)
                    self.scenario(scn)
                home = self.claude_home(state + "-final")
                self.launch(t, "s", "claude 'hi'", self.claude_env(home, retries=1))
                t.wait("s", final_pat, 90)
                self.save(A, state, t.settle("s", 2))
            return f

        def conn(t):
            home = self.claude_home("conn")
            self.launch(t, "r", "claude 'hi'", self.claude_env(home, port=CLOSED_PORT))
            t.wait("r", r"Retrying", 40)
            self.save(A, "connection_failed_retrying", t.cap("r"))
            self.cleanup(t)
            home = self.claude_home("conn-final")
            self.launch(t, "s", "claude 'hi'", self.claude_env(home, port=CLOSED_PORT, retries=1))
            t.wait("s", r"API Error|Unable to connect|onnection", 90)
            self.save(A, "connection_failed", t.settle("s", 2))

        def exited(t):
            home = self.claude_home("exit")
            self.launch(t, "s", "claude", self.claude_env(home), shell=True)
            t.wait("s", r"for shortcuts")
            t.settle("s", 1.5)
            t.type("s", "/exit")
            t.wait("s", r"\$ ?$", 20)
            self.save(A, "exited_to_shell", t.settle("s", 1.5))

        def killed(t):
            home = self.claude_home("kill")
            self.scenario("slow")
            self.launch(t, "s", "claude 'tell me something long'", self.claude_env(home), shell=True)
            t.wait("s", r"Line 3:")
            self.kill_agent(t, "s")
            self.save(A, "killed", t.settle("s", 2))

        for st, fn in [("login", login), ("connection_failed_startup", startup_offline), ("trust", trust),
                       ("idle", idle), ("streaming", turn), ("permission", permission),
                       ("rate_limit_429", api_error("429", "rate_limit_429", r"Retrying in", r"API Error|rror",
                                                    "rate_limit_429_retrying")),
                       ("overloaded", api_error("529", "overloaded", r"Retrying in", r"API Error|rror|verloaded",
                                                "overloaded_retrying")),
                       ("auth_401", api_error("401", "auth_401", None, r"API Error|rror|nvalid|login")),
                       ("error_500", api_error("500", "error_500", r"Retrying in", r"API Error|rror",
                                               "error_500_retrying")),
                       ("connection_failed", conn), ("exited_to_shell", exited), ("killed", killed)]:
            self.do(A, st, fn)

    def run_codex(self):
        A = "codex"
        CX = "codex --no-daemon"

        def login(t):
            home = self.codex_home("login", provider=False)
            self.launch(t, "s", CX, self.codex_env(home))
            t.wait("s", r"Sign in|sign in")
            self.save(A, "login", t.settle("s", 1.5))

        def trust(t):
            home = self.codex_home("trust", trusted=False)
            repo = os.path.join(self.work, "gitrepo")
            if not os.path.isdir(os.path.join(repo, ".git")):
                os.makedirs(repo, exist_ok=True)
                subprocess.run(["git", "init", "-q", repo], check=True)
            self.launch(t, "s", CX, self.codex_env(home), cwd=repo)
            t.wait("s", r"[Tt]rust|Ask Codex to do anything")
            s = t.settle("s", 2)
            if "rust" not in s:
                raise RuntimeError("codex showed no trust dialog:\n" + s)
            self.save(A, "trust", s)

        def idle(t):
            home = self.codex_home("idle")
            self.launch(t, "s", CX, self.codex_env(home))
            t.wait("s", r"Ask Codex to do anything|for shortcuts")
            self.save(A, "idle", t.settle("s", 2))

        def turn(t):
            home = self.codex_home("turn")
            self.scenario("slow")
            self.launch(t, "s", CX + " 'tell me something long'", self.codex_env(home))
            t.wait("s", r"Line 3:")
            self.save(A, "streaming", t.cap("s"))
            t.wait("s", r"Worked for|Line 12:", 90)
            time.sleep(1)
            self.save(A, "idle_after_turn", t.settle("s", 2.5))

        def permission(t):
            home = self.codex_home("perm")
            self.scenario("tool")
            self.launch(t, "s", CX + " 'make a marker file'", self.codex_env(home))
            t.wait("s", r"Would you like to run|Yes, proceed")
            self.save(A, "permission", t.settle("s", 1.5))

        def api_error(scn, state, retry_state=None):
            # Codex retries HTTP errors silently (default request_max_retries=4) and then prints one
            # "■ ..." error line; it only shows "Reconnecting..." for stream/transport errors.
            def f(t):
                self.scenario(scn)
                home = self.codex_home(state)  # default retry counts
                self.launch(t, "s", CX + " 'hi'", self.codex_env(home))
                s = t.wait("s", r"Reconnecting|[Rr]etrying|^■", 120)
                if retry_state and re.search(r"Reconnecting|[Rr]etrying", s):
                    self.save(A, retry_state, s)
                t.wait("s", r"^■", 180)
                self.save(A, state, t.settle("s", 2))
            return f

        def conn(t):
            home = self.codex_home("conn", port=CLOSED_PORT)
            self.launch(t, "r", CX + " 'hi'", self.codex_env(home))
            t.wait("r", r"Reconnecting|[Rr]etrying|rror", 40)
            time.sleep(4)
            self.save(A, "connection_failed_retrying", t.cap("r"))
            self.cleanup(t)
            home = self.codex_home("conn-final", port=CLOSED_PORT, retries=1)
            self.launch(t, "s", CX + " 'hi'", self.codex_env(home))
            try:
                t.wait("s", r"^■|rror sending|onnection|exceeded", 90)
            except TimeoutError:
                pass
            self.save(A, "connection_failed", t.settle("s", 2),
                      note="closed port with request/stream_max_retries=1; if the screen still says Reconnecting, "
                           "Codex never gives up (see *_retrying)")

        def exited(t):
            home = self.codex_home("exit")
            self.launch(t, "s", CX, self.codex_env(home), shell=True)
            t.wait("s", r"Ask Codex to do anything|for shortcuts")
            t.settle("s", 1.5)
            t.type("s", "/quit")
            t.wait("s", r"\$ ?$", 20)
            self.save(A, "exited_to_shell", t.settle("s", 1.5))

        def killed(t):
            home = self.codex_home("kill")
            self.scenario("slow")
            self.launch(t, "s", CX + " 'tell me something long'", self.codex_env(home), shell=True)
            t.wait("s", r"Line 3:")
            self.kill_agent(t, "s")
            self.save(A, "killed", t.settle("s", 2))

        for st, fn in [("login", login), ("trust", trust), ("idle", idle), ("streaming", turn),
                       ("permission", permission),
                       ("rate_limit_429", api_error("429", "rate_limit_429", "rate_limit_429_retrying")),
                       ("overloaded", api_error("503", "overloaded", "overloaded_retrying")),
                       ("auth_401", api_error("401", "auth_401")),
                       ("error_500", api_error("500", "error_500", "error_500_retrying")),
                       ("connection_failed", conn), ("exited_to_shell", exited), ("killed", killed)]:
            self.do(A, st, fn)

    def run_gemini(self):
        A = "gemini"
        READY = r"Type your message"

        def start_and_prompt(t, name, home_env, prompt, shell=False):
            self.launch(t, name, "gemini", home_env, shell=shell)
            t.wait(name, READY, 60)
            t.settle(name, 1.0)
            t.type(name, prompt)

        def login(t):
            home = self.gemini_home("login", auth=False)
            self.launch(t, "s", "gemini", self.gemini_env(home, key=False))
            t.wait("s", r"How would you like to authenticate|Get started", 60)
            self.save(A, "login", t.settle("s", 2))

        def trust(t):
            home = self.gemini_home("trust", trusted=False)
            self.launch(t, "s", "gemini", self.gemini_env(home))
            t.wait("s", r"Do you trust", 60)
            self.save(A, "trust", t.settle("s", 2))

        def idle(t):
            home = self.gemini_home("idle")
            self.launch(t, "s", "gemini", self.gemini_env(home))
            t.wait("s", READY, 60)
            self.save(A, "idle", t.settle("s", 2.5))

        def turn(t):
            home = self.gemini_home("turn")
            self.scenario("slow")
            start_and_prompt(t, "s", self.gemini_env(home), "tell me something long")
            t.wait("s", r"Line 3:")
            self.save(A, "streaming", t.cap("s"))
            t.wait("s", r"Line 12:", 90)
            self.save(A, "idle_after_turn", t.settle("s", 3))

        def permission(t):
            home = self.gemini_home("perm")
            self.scenario("tool")
            start_and_prompt(t, "s", self.gemini_env(home), "make a marker file")
            t.wait("s", r"Allow execution|Allow once")
            self.save(A, "permission", t.settle("s", 1.5))

        def api_error(scn, state, retry_state=None, final_scn=None, timeout=150):
            # Gemini retries 429/5xx silently behind its normal spinner (settings general.maxAttempts
            # does not shorten it: the model availability policy's maxAttempts wins, ~10 attempts,
            # 5 s doubling to 30 s). A daily-quota 429 (QuotaFailure PerDay) is terminal at once.
            def f(t):
                self.scenario(scn)
                if retry_state:
                    home = self.gemini_home(state)  # default maxAttempts (10)
                    start_and_prompt(t, "r", self.gemini_env(home), "hi")
                    time.sleep(9)
                    self.save(A, retry_state, t.cap("r"))
                    self.cleanup(t)
                self.scenario(final_scn or scn)
                home = self.gemini_home(state + "-final", attempts=2)
                start_and_prompt(t, "s", self.gemini_env(home), "hi")
                time.sleep(3)
                t.wait("s", r"✕|rror|[Qq]uota|[Ll]imit|\[API", timeout)
                self.save(A, state, t.settle("s", 3))
            return f

        def conn(t):
            home = self.gemini_home("conn")
            start_and_prompt(t, "r", self.gemini_env(home, port=CLOSED_PORT), "hi")
            time.sleep(9)
            self.save(A, "connection_failed_retrying", t.cap("r"))
            self.cleanup(t)
            home = self.gemini_home("conn-final", attempts=2)
            start_and_prompt(t, "s", self.gemini_env(home, port=CLOSED_PORT), "hi")
            time.sleep(3)
            t.wait("s", r"✕|rror|fetch failed|ECONNREFUSED", 420)
            self.save(A, "connection_failed", t.settle("s", 3))

        def exited(t):
            home = self.gemini_home("exit")
            self.launch(t, "s", "gemini", self.gemini_env(home), shell=True)
            t.wait("s", READY, 60)
            t.settle("s", 1.5)
            t.type("s", "/quit")
            t.wait("s", r"\$ ?$", 30)
            self.save(A, "exited_to_shell", t.settle("s", 2))

        def killed(t):
            home = self.gemini_home("kill")
            self.scenario("slow")
            start_and_prompt(t, "s", self.gemini_env(home), "tell me something long", shell=True)
            t.wait("s", r"Line 3:")
            self.kill_agent(t, "s")
            self.save(A, "killed", t.settle("s", 2))

        for st, fn in [("login", login), ("trust", trust), ("idle", idle), ("streaming", turn),
                       ("permission", permission),
                       ("rate_limit_429", api_error("429", "rate_limit_429", "rate_limit_429_retrying",
                                                    final_scn="429daily")),
                       ("auth_401", api_error("401", "auth_401")),
                       ("exited_to_shell", exited), ("killed", killed),
                       ("overloaded", api_error("503", "overloaded", "overloaded_retrying", timeout=420)),
                       ("error_500", api_error("500", "error_500", "error_500_retrying", timeout=420)),
                       ("connection_failed", conn)]:
            self.do(A, st, fn)

    # ------------------------------------------------------------------ EXPECTED.tsv
    def write_expected(self):
        path = os.path.join(self.out, self.a.table)
        rows = {}
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip() and not line.startswith("#") and not line.startswith("file\t"):
                        rows[line.split("\t", 1)[0]] = line.rstrip("\n")
        for fn, st, rs, nt in self.results:
            rows[fn] = "\t".join([fn, st, rs, nt])
        with open(path, "w") as f:
            f.write("file\texpected_status\texpected_reason\tnote\n")
            for k in sorted(rows):
                f.write(rows[k] + "\n")


def rewrite_expected(out):
    rows = {}
    path = os.path.join(out, "EXPECTED.tsv")
    if os.path.exists(path):  # keep notes of rows not derivable from the tables (e.g. extra states)
        with open(path) as f:
            for line in f:
                if line.strip() and not line.startswith("file\t"):
                    rows[line.split("\t", 1)[0]] = line.rstrip("\n")
    for fn in sorted(os.listdir(out)):
        m = re.match(r"^(claude|codex|gemini)-([0-9.]+)-(.+)\.txt$", fn)
        if not m:
            continue
        agent, state = m.group(1), m.group(3)
        exp = OVERRIDES.get((agent, state)) or EXPECTED.get(state)
        if exp:
            rows[fn] = "\t".join([fn, *exp])
        elif fn not in rows:
            rows[fn] = "\t".join([fn, "?", "?", "no expectation recorded"])
    with open(path, "w") as f:
        f.write("file\texpected_status\texpected_reason\tnote\n")
        for k in sorted(rows):
            f.write(rows[k] + "\n")
    log(f"wrote {path} ({len(rows)} rows)")
    return 0


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="/work/npmcli/node_modules/.bin")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "screens"))
    ap.add_argument("--work", default="/tmp/realcli-work")
    ap.add_argument("--agents", default="claude,codex,gemini")
    ap.add_argument("--states", default="", help="comma list of state groups to run (default all)")
    ap.add_argument("--delay", type=float, default=0.3)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--table", default="EXPECTED.tsv",
                    help="the expectations file in <out> the captured rows are merged into (e.g. NEW.tsv)")
    ap.add_argument("--size", default="120x40", help="pane size WxH")
    ap.add_argument("--expected-only", action="store_true",
                    help="only rewrite <out>/EXPECTED.tsv for the screen files already in <out>")
    a = ap.parse_args()
    if a.expected_only:
        return rewrite_expected(os.path.abspath(a.out))
    a.states = [s for s in a.states.split(",") if s]
    a.size = tuple(int(x) for x in a.size.lower().split("x"))
    a.bin = os.path.abspath(a.bin)
    a.out = os.path.abspath(a.out)
    a.work = os.path.abspath(a.work)
    r = Runner(a)
    try:
        for agent in a.agents.split(","):
            getattr(r, f"run_{agent}")()
    finally:
        r.write_expected()
        r.stop()
    log(f"saved {len(r.results)} screens; {len(r.failures)} failures")
    for f in r.failures:
        log("  FAILED:", f.splitlines()[0])
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
