#!/usr/bin/env python3
"""The harder screen families (billing, interrupts, OAuth codes, model notices, API-key
boxes, restored composer text, older turns' errors, exits under other shell prompts...),
photographed on the real CLIs (capture.py's harness: throwaway HOME per run, private tmux
server, loopback mock API, proxies on a closed port).

    python3 tests/realcli/families.py --bin <node_modules/.bin> --out tests/screens \
        --work <scratch> --table NEW.tsv [--agents claude,codex,gemini] [--states billing,...]

Each saved screen is <out>/<agent>-<version>-<state>.txt plus the same frame with escapes
(.ansi); its expected status/reason/note (FAMILIES below) is merged into <out>/<table>.

Families: billing ("credit balance too low", insufficient_quota), an interrupted turn (Codex
"Conversation interrupted", Claude "Interrupted · What should Claude do instead?"), a composer
holding the restored unsent prompt after Esc, OAuth "paste/enter the authorization code",
API-key entry/approval boxes, a model picker, Gemini's API_KEY_INVALID / daily quota above an idle
composer, Codex's "loading" boot banner, an older turn's 429 still on screen while the agent works
or retries on a later turn, idle/streaming/permission re-drawn at 80 columns and at 24 rows,
notice rows under the footer (accept-edits mode, a failing MCP server), and the exit screen under
other shells' prompts (RHEL, venv, git-prompt, zsh, oh-my-zsh, fish, starship-style).
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture  # noqa: E402
from capture import Runner, Tmux, fg_pgrp, log  # noqa: E402

# (agent, state) -> (status, reason, note)
FAMILIES = {}


def fam(agent, state, status, reason, note):
    FAMILIES[(agent, state)] = (status, reason, note)


SIZES = {"80cols": (80, 40), "24rows": (120, 24)}

# name -> (shell command, env additions, regex of its prompt, what it looks like)
SHELLS = {
    "rhel": ("bash --norc --noprofile", {"PS1": "[\\u@\\h \\W]$ "}, r"\]\$ ?$", "RHEL-style '[root@vm ws]$'"),
    "venv": ("bash --norc --noprofile", {"PS1": "(venv) \\u@\\h:\\w$ "}, r"\$ ?$",
             "'(venv) root@vm:/…/ws$' (virtualenv prefix)"),
    "gitprompt": ("bash --norc --noprofile", {"PS1": "\\u@\\h \\W (main)$ "}, r"\(main\)\$ ?$",
                  "git-prompt 'root@vm ws (main)$'"),
    "zsh": ("zsh", {"ZDOTDIR": "@ZDOT@"}, r"% ?$", "zsh 'root@vm ws %'"),
    "ohmyzsh": ("zsh", {"ZDOTDIR": "@ZDOTOMZ@"}, r"➜ +ws ?$", "oh-my-zsh robbyrussell-style '➜  ws'"),
    "fish": ("fish --no-config -C 'set -g fish_greeting; function fish_prompt; echo -n (prompt_pwd)\"> \"; end'",
             {}, r"> ?$", "fish classic '/w/s/ws>'"),
    "starship": ("fish --no-config -C 'set -g fish_greeting; function fish_prompt; echo; echo (basename $PWD)"
                 "\" on  main\"; echo -n \"❯ \"; end'", {}, r"❯ ?$", "starship-style two-line 'ws on  main' / '❯'"),
}

EXIT_CMD = {"claude": "/exit", "codex": "/quit", "gemini": "/quit"}
READY = {"claude": r"for shortcuts|\? for", "codex": r"Ask Codex to do anything|for shortcuts",
         "gemini": r"Type your message"}
for _a in EXIT_CMD:
    for _s, (_c, _e, _r, _d) in SHELLS.items():
        fam(_a, f"exited_{_s}", "exited", "process_exited",
            f"families.py: typed {EXIT_CMD[_a]} in a {_d} shell; the agent's last frame with that prompt under it")
    for _z in SIZES:
        fam(_a, f"idle_{_z}", "blocked", "idle_prompt",
            f"families.py: pane {SIZES[_z][0]}x{SIZES[_z][1]} from the start (the CLI's own re-draw): fresh, empty composer")
        fam(_a, f"streaming_{_z}", "running", "streaming" if _a == "codex" else "busy",
            f"families.py: pane {SIZES[_z][0]}x{SIZES[_z][1]}: mid-answer"
            + (" (Codex shows no busy marker while it streams)" if _a == "codex" else ""))
        fam(_a, f"permission_{_z}", "blocked", "permission_prompt",
            f"families.py: pane {SIZES[_z][0]}x{SIZES[_z][1]}: approval dialog for a shell command")

fam("claude", "billing", "blocked_api", "billing",
    "families.py, mock 400 'Your credit balance is too low…': '⎿  Credit balance too low · Add funds: …' above the idle composer")
fam("claude", "auth_401_retrying", "running", "busy",
    "families.py, mock 401 with Claude's default retries: it retries the 401 ('API error · Retrying in Ns · attempt k/10', "
    "esc to interrupt); only with CLAUDE_CODE_MAX_RETRIES=1 does it print 'Invalid API key' at once (auth_401)")
fam("claude", "oauth_code", "blocked", "login_required",
    "families.py: no key, /login, 1. Claude account: OAuth URL + 'Paste code here if prompted >'")
fam("claude", "api_key_approval", "blocked", "api_key_dialog",
    "families.py: ANTHROPIC_API_KEY set but never approved: 'Detected a custom API key in your environment … Do you want to use this API key?'")
fam("claude", "model_picker", "blocked", "model_choice", "families.py: /model typed: the model picker dialog")
fam("claude", "interrupted", "blocked", "interrupted",
    "families.py: Esc mid-stream: '⎿  Interrupted · What should Claude do instead?' above the idle composer")
fam("claude", "restored_prompt", "blocked", "idle_prompt",
    "families.py: mock never answers; Esc before any answer: the unsent prompt is put back into the composer (no footer hint)")
fam("claude", "older_429_idle", "blocked", "idle_prompt",
    "families.py: turn 1 'API Error: Request rejected (429)', turn 2 answered and finished: the old 429 is still on screen")
fam("claude", "older_429_streaming", "running", "busy",
    "families.py: 429 two turns ago still on screen; turn 3 streaming (spinner + esc to interrupt)")
fam("claude", "older_429_retrying", "running", "busy",
    "families.py: 429 on turn 1 still on screen; a later turn gets 529 and shows 'Retrying in Ns · attempt k/2'")
fam("claude", "accept_edits_idle", "blocked", "idle_prompt",
    "families.py: shift+tab: '⏵⏵ accept edits on (shift+tab to cycle)' notice under the composer, idle")
fam("claude", "accept_edits_streaming", "running", "busy",
    "families.py: accept-edits mode on while streaming (notice row where the footer hint was)")
fam("claude", "mcp_panel", "blocked", "dialog",
    "families.py: --mcp-config with a server that exits at once: 2.1.197 draws NO notice under the footer for it; "
    "/mcp opens 'Manage MCP servers … broken-tools · ✘ failed … Esc to cancel'")

fam("codex", "billing", "blocked_api", "billing",
    "families.py, mock 429 insufficient_quota: Codex's quota / billing error line above the idle composer")
fam("codex", "interrupted", "blocked", "interrupted",
    "families.py: Esc mid-stream: '■ Conversation interrupted - use /feedback if something went wrong' (same ■ glyph as errors)")
fam("codex", "interrupted_early", "blocked", "interrupted",
    "families.py: mock never answers; Esc while 'Working', before any answer: '■ Conversation interrupted'; the prompt is not put back")
fam("codex", "restored_queued", "blocked", "interrupted",
    "families.py: mock never answers; a follow-up queued with Tab while Working, then Esc: '■ Conversation interrupted' and the "
    "queued text restored into the composer ('› also list the tests'), footer hints gone")
fam("codex", "booting_loading", "booting", "loading",
    "families.py: first frames after start: '>_ OpenAI Codex (v0.171.0)' with 'loading' where the folder goes")
fam("codex", "api_key_entry", "blocked", "api_key_dialog",
    "families.py: no provider: '3. Sign in another way' then the API-key option: the key entry box")
fam("codex", "older_429_idle", "blocked", "idle_prompt",
    "families.py: turn 1 '■ exceeded retry limit, last status: 429', turn 2 answered: the old 429 is still on screen")
fam("codex", "older_429_streaming", "running", "streaming",
    "families.py: 429 two turns ago still on screen; turn 3 streaming (no busy marker while Codex streams)")
fam("codex", "older_429_retrying", "running", "busy",
    "families.py: 429 on turn 1 still on screen; a later turn gets 500: '◦ Reconnecting... k/5 (… esc to interrupt)'")
fam("codex", "model_picker", "blocked", "model_choice",
    "families.py: /model typed: Codex's model selection list (with a custom provider 0.171 shows no model-upgrade "
    "notice for gpt-5, gpt-5-codex, gpt-5.1, o3 …)")
fam("codex", "hook_review", "blocked", "hook_review",
    "families.py: an untrusted [[hooks.Stop]] command hook in config.toml: the start-up 'Hooks need review · 1 hook is new "
    "or changed … 1. Review hooks 2. Trust all and continue 3. Continue without trusting' menu; never answered")
fam("codex", "warnings_panel", "blocked", "dialog",
    "families.py: f2 opened the startup warnings panel ('Warnings · 1 of 1 · Startup … esc dismiss & close')")

fam("gemini", "auth_400_key_invalid", "failed", "auth_failed",
    "families.py, mock 400 INVALID_ARGUMENT/API_KEY_INVALID: the API error above the idle composer")
fam("gemini", "quota_stopped", "blocked_api", "rate_limit",
    "families.py, mock 429 daily quota (QuotaFailure PerDay): 'Usage limit reached' dialog answered '2. Stop'; the error stays above the idle composer")
fam("gemini", "api_key_entry", "blocked", "api_key_dialog",
    "families.py: no auth: '2. Use Gemini API Key' chosen: 'Enter Gemini API Key … Paste your API key here' box")
fam("gemini", "oauth_code", "blocked", "login_required",
    "families.py: NO_BROWSER=true, 'Sign in with Google': CLI relaunches and prints the URL and 'Enter the authorization code:'")
fam("gemini", "model_picker", "blocked", "model_choice", "families.py: /model typed: the model selection dialog")
fam("gemini", "interrupted", "blocked", "interrupted",
    "families.py: Esc mid-stream: 'ℹ Request cancelled.' under the partial answer, idle composer")
fam("gemini", "interrupted_early", "blocked", "interrupted",
    "families.py: mock never answers; Esc while thinking, before any answer: 'ℹ Request cancelled.' above the empty composer "
    "(Gemini does not put the prompt back)")
fam("gemini", "older_401_idle", "blocked", "idle_prompt",
    "families.py: turn 1 got a 401 API error, turn 2 answered and finished: the old error is still on screen")
fam("gemini", "older_quota_streaming", "running", "busy",
    "families.py: the daily-quota error of turn 1 ('Stop' chosen) still on screen; turn 3 thinking/streaming")
fam("gemini", "accept_edits_idle", "blocked", "idle_prompt",
    "families.py: shift+tab: 'auto-accept edits Shift+Tab to plan' row above the composer, idle")
fam("gemini", "accept_edits_streaming", "running", "busy",
    "families.py: auto-accept-edits indicator on while the agent thinks/streams")
fam("gemini", "mcp_failed_idle", "blocked", "idle_prompt",
    "families.py: an MCP server that cannot start: 'ℹ MCP issues detected. Run /mcp list for status.' and '1 MCP server' "
    "next to 'Shift+Tab to accept edits' above the composer; idle")


class Families(Runner):
    """capture.Runner with the family flows; the expectations come from FAMILIES."""

    def save(self, agent, state, screen, status=None, reason=None, note=None):
        st, rs, nt = FAMILIES.get((agent, state), (None, None, None))
        super().save(agent, state, screen, status or st, reason or rs, note or nt)

    def do(self, agent, state, fn):
        if self.a.states and state not in self.a.states and state.split("_")[0] not in self.a.states:
            return
        tmx = Tmux(f"screens-{agent}-{os.getpid()}", self.a.size)
        log(f"--- {agent} {state}")
        try:
            self.scenario("ok")
            fn(tmx)
        except Exception as e:
            msg = f"{agent} {state}: {e.__class__.__name__}: {e}"
            self.failures.append(msg)
            log("FAILED " + msg)
        finally:
            self.cleanup(tmx)

    # ------------------------------------------------------------------ helpers
    def submit(self, t, name, text, timeout=8):
        """Type a prompt and Enter; on a loaded machine Gemini sometimes drops the first Enter
        (the text stays in its input box): press it again until the box is empty."""
        t.type(name, text)
        box = re.compile(r"^ *> " + re.escape(text) + r" *$", re.M)
        end = time.time() + timeout
        while time.time() < end:
            time.sleep(0.5)
            s = t.cap(name)
            if not box.search(s) or re.search(r"esc to cancel", s):
                return
        t.keys(name, "Enter")

    def wait_shell(self, t, name, timeout=30):
        """Until the pane's shell is the foreground process group again (the agent exited)."""
        pid = t.pane_pid(name)
        end = time.time() + timeout
        while time.time() < end:
            try:
                if fg_pgrp(pid) == pid:
                    return
            except OSError:
                return
            time.sleep(0.2)
        raise TimeoutError("the agent did not exit")

    def shell_env(self, env, shell):
        cmd, extra, rx, _ = SHELLS[shell]
        env = dict(env)
        for k, v in extra.items():
            if v in ("@ZDOT@", "@ZDOTOMZ@"):
                d = os.path.join(self.work, "zdot-" + shell)
                os.makedirs(d, exist_ok=True)
                prompt = "%n@%m %1~ %% " if v == "@ZDOT@" else "%(?:%F{green}➜ :%F{red}➜ ) %F{cyan}%c%f "
                with open(os.path.join(d, ".zshrc"), "w") as f:
                    f.write(f"PROMPT='{prompt}'\nunsetopt PROMPT_SP\n")
                v = d
            env[k] = v
        return cmd, env, rx

    def exit_flows(self, agent, env_of, launch_cmd):
        """One exit screen per shell family: the agent is typed at that shell's prompt."""
        flows = []
        for shell in SHELLS:
            def f(t, shell=shell):
                env = env_of(f"exit-{shell}")
                cmd, env, rx = self.shell_env(env, shell)
                self.launch(t, "s", launch_cmd, env, shell=True, shell_cmd=cmd, prompt_re=rx)
                t.wait("s", READY[agent], 60)
                t.settle("s", 1.5)
                t.type("s", EXIT_CMD[agent])
                self.wait_shell(t, "s")
                self.save(agent, f"exited_{shell}", t.settle("s", 1.5))
            flows.append((f"exited_{shell}", f))
        return flows

    def size_flows(self, agent, idle, stream, perm):
        flows = []
        for z, size in SIZES.items():
            flows += [(f"idle_{z}", lambda t, z=z, size=size: idle(t, z, size)),
                      (f"streaming_{z}", lambda t, z=z, size=size: stream(t, z, size)),
                      (f"permission_{z}", lambda t, z=z, size=size: perm(t, z, size))]
        return flows

    # ------------------------------------------------------------------ claude
    def run_claude(self):
        A = "claude"
        env = lambda st, **kw: self.claude_env(self.claude_home(st), **kw)  # noqa: E731

        def billing(t):
            self.scenario("billing")
            self.launch(t, "s", "claude 'hi'", env("billing", retries=1))
            t.wait("s", r"[Cc]redit balance", 60)
            self.save(A, "billing", t.settle("s", 2))

        def auth_retry(t):
            self.scenario("401")
            self.launch(t, "s", "claude 'hi'", env("a401"))
            t.wait("s", r"attempt [2-9]/10", 120)
            self.save(A, "auth_401_retrying", t.cap("s"))

        def oauth(t):
            home = self.claude_home("oauth", key=False)
            self.launch(t, "s", "claude", self.claude_env(home, key=False))
            t.wait("s", r"Run /login|Not logged in")
            t.settle("s", 1.5)
            t.type("s", "/login")
            t.wait("s", r"Select login method")
            t.settle("s", 1)
            t.keys("s", "Enter")
            t.wait("s", r"Paste code here", 30)
            self.save(A, "oauth_code", t.settle("s", 1.5))

        def api_key(t):
            home = self.claude_home("apikey", key=False)
            self.launch(t, "s", "claude", self.claude_env(home, key=True))
            t.wait("s", r"Detected a custom API key|use this API key", 40)
            self.save(A, "api_key_approval", t.settle("s", 1.5))

        def model(t):
            self.launch(t, "s", "claude", env("model"))
            t.wait("s", READY[A])
            t.settle("s", 1.5)
            t.type("s", "/model")
            t.wait("s", r"[Ss]elect model|Switch between", 20)
            self.save(A, "model_picker", t.settle("s", 1.5))

        def interrupted(t):
            self.scenario("slow")
            self.launch(t, "s", "claude 'tell me something long'", env("intr"))
            t.wait("s", r"Line 3:")
            t.keys("s", "Escape")
            t.wait("s", r"Interrupted", 20)
            self.save(A, "interrupted", t.settle("s", 2))

        def restored(t):
            self.launch(t, "s", "claude", env("restored"))
            t.wait("s", READY[A])
            t.settle("s", 1.5)
            self.scenario("hang")
            t.type("s", "write a haiku about terminal multiplexers")
            t.wait("s", r"esc to interrupt", 20)
            time.sleep(1.5)
            t.keys("s", "Escape")
            time.sleep(1)
            s = t.settle("s", 2)
            if "esc to interrupt" in s:
                raise RuntimeError("still busy after Esc:\n" + s)
            self.save(A, "restored_prompt", s)

        def older(t):
            self.scenario("429")
            self.launch(t, "s", "claude 'first question: what is tmux?'", env("older", retries=2))
            t.wait("s", r"429", 90)
            t.settle("s", 2)
            self.scenario("ok")
            t.type("s", "second question: and screen?")
            t.wait("s", r"Done\.(.*\n)+.*for shortcuts", 60)
            self.save(A, "older_429_idle", t.settle("s", 2))
            t.type("s", "third question: which is older?")
            t.wait("s", r"(?s)third question.*streamed slowly", 60)
            self.save(A, "older_429_streaming", t.cap("s"))
            t.wait("s", r"(?s)third question.*Done\.(.*\n)+.*for shortcuts", 60)
            t.settle("s", 1.5)
            self.scenario("529")
            t.type("s", "fourth question: thanks")
            t.wait("s", r"Retrying in", 60)
            self.save(A, "older_429_retrying", t.cap("s"))

        def accept_edits(t):
            self.launch(t, "s", "claude", env("accept"))
            t.wait("s", READY[A])
            t.settle("s", 1.5)
            t.keys("s", "BTab")
            t.wait("s", r"accept edits on", 10)
            self.save(A, "accept_edits_idle", t.settle("s", 1.5))
            self.scenario("slow")
            t.type("s", "tell me something long")
            t.wait("s", r"Line 3:", 60)
            self.save(A, "accept_edits_streaming", t.cap("s"))

        def mcp(t):
            cfg = os.path.join(self.work, "mcp-broken.json")
            with open(cfg, "w") as f:
                f.write('{"mcpServers": {"broken-tools": {"command": "false", "args": []}}}')
            self.launch(t, "s", f"claude --mcp-config {cfg}", env("mcp"))
            t.wait("s", READY[A])
            t.settle("s", 2)
            t.type("s", "/mcp")
            t.wait("s", r"Manage MCP servers", 20)
            self.save(A, "mcp_panel", t.settle("s", 1.5))

        def idle_z(t, z, size):
            self.launch(t, "s", "claude", env("idle-" + z), size=size)
            t.wait("s", READY[A])
            self.save(A, f"idle_{z}", t.settle("s", 2))

        def stream_z(t, z, size):
            self.scenario("slow")
            self.launch(t, "s", "claude 'tell me something long'", env("stream-" + z), size=size)
            t.wait("s", r"Line 3:")
            self.save(A, f"streaming_{z}", t.cap("s"))

        def perm_z(t, z, size):
            self.scenario("tool")
            self.launch(t, "s", "claude 'make a marker file'", env("perm-" + z), size=size)
            t.wait("s", r"Do you want to proceed\?")
            self.save(A, f"permission_{z}", t.settle("s", 1.5))

        flows = [("billing", billing), ("auth_401_retrying", auth_retry), ("oauth_code", oauth), ("api_key_approval", api_key),
                 ("model_picker", model), ("interrupted", interrupted), ("restored_prompt", restored),
                 ("older_429", older), ("accept_edits", accept_edits), ("mcp_panel", mcp)]
        flows += self.size_flows(A, idle_z, stream_z, perm_z)
        flows += self.exit_flows(A, lambda st: env(st), "claude")
        for st, fn in flows:
            self.do(A, st, fn)

    # ------------------------------------------------------------------ codex
    def run_codex(self):
        A = "codex"
        CX = "codex --no-daemon"
        env = lambda st, **kw: self.codex_env(self.codex_home(st, **kw))  # noqa: E731

        def billing(t):
            self.scenario("billing")
            self.launch(t, "s", CX + " 'hi'", env("billing"))
            t.wait("s", r"^■", 120)
            self.save(A, "billing", t.settle("s", 2))

        def interrupted(t):
            self.scenario("slow")
            self.launch(t, "s", CX + " 'tell me something long'", env("intr"))
            t.wait("s", r"Line 3:")
            t.keys("s", "Escape")
            t.wait("s", r"interrupted", 20)
            self.save(A, "interrupted", t.settle("s", 2))

        def restored(t):
            self.launch(t, "s", CX, env("restored"))
            t.wait("s", READY[A])
            t.settle("s", 1.5)
            self.scenario("hang")
            t.type("s", "write a haiku about terminal multiplexers")
            t.wait("s", r"esc to interrupt", 20)
            time.sleep(1.5)
            t.keys("s", "Escape")
            time.sleep(1)
            s = t.settle("s", 2)
            if "esc to interrupt" in s:
                raise RuntimeError("still busy after Esc:\n" + s)
            self.save(A, "interrupted_early", s)

        def queued(t):
            self.launch(t, "s", CX, env("queued"))
            t.wait("s", READY[A])
            t.settle("s", 1.5)
            self.scenario("hang")
            t.type("s", "summarise the README")
            t.wait("s", r"esc to interrupt", 20)
            t.keys("s", "-l", "also list the tests")
            time.sleep(0.6)
            t.keys("s", "Tab")
            t.wait("s", r"Queued follow-up", 10)
            t.keys("s", "Escape")
            t.wait("s", r"interrupted", 20)
            self.save(A, "restored_queued", t.settle("s", 2))

        def booting(t):
            self.launch(t, "s", CX, env("boot"))
            end = time.time() + 20
            while time.time() < end:
                s = t.cap("s")
                if re.search(r"^\s+loading\s*$", s, re.M):
                    self.save(A, "booting_loading", s)
                    return
                time.sleep(0.03)
            raise TimeoutError("no 'loading' frame seen")

        def api_key(t):
            home = self.codex_home("apikey", provider=False)
            self.launch(t, "s", CX, self.codex_env(home))
            t.wait("s", r"Sign in another way")
            t.settle("s", 1)
            t.keys("s", "3")
            time.sleep(1.5)
            s = t.settle("s", 1.5)
            if not re.search(r"(?i)api key", s):
                raise RuntimeError("no API key option:\n" + s)
            m = re.search(r"(\d)\. [^\n]*(?i:api key)", s)
            if m and not re.search(r"(?i)paste|enter your|key:", s):
                t.keys("s", m.group(1))
                time.sleep(1.5)
                s = t.settle("s", 1.5)
            self.save(A, "api_key_entry", s)

        def older(t):
            self.scenario("429")
            self.launch(t, "s", CX + " 'first question: what is tmux?'", env("older"))
            t.wait("s", r"^■.*429", 180)
            t.settle("s", 2)
            self.scenario("ok")
            t.type("s", "second question: and screen?")
            t.wait("s", r"Done\.(.*\n)+.*Worked for", 60)
            self.save(A, "older_429_idle", t.settle("s", 2))
            t.type("s", "third question: which is older?")
            t.wait("s", r"(?s)third question.*streamed slowly", 60)
            self.save(A, "older_429_streaming", t.cap("s"))
            t.wait("s", r"(?s)third question.*Done\.", 60)
            t.settle("s", 1.5)
            self.scenario("500")
            t.type("s", "fourth question: thanks")
            t.wait("s", r"Reconnecting", 60)
            self.save(A, "older_429_retrying", t.cap("s"))

        def model(t):
            self.launch(t, "s", CX, env("model"))
            t.wait("s", r"default · ", 30)
            t.settle("s", 1.5)
            t.type("s", "/model")
            t.wait("s", r"(?i)select model|choose.*model", 20)
            self.save(A, "model_picker", t.settle("s", 1.5))

        def warnings(t):
            self.launch(t, "s", CX, env("warn"))
            t.wait("s", r"f2 to view", 30)
            t.settle("s", 1)
            t.keys("s", "F2")
            t.wait("s", r"Warnings ·", 10)
            self.save(A, "warnings_panel", t.settle("s", 1.5))

        def hook_review(t):
            # A hook of the user's own, never trusted: Codex asks before the composer comes up
            # (the same menu as for a per-run `-c hooks.…`). The hook itself never runs.
            home = self.codex_home("hooks")
            with open(os.path.join(home, ".codex", "config.toml"), "a") as f:
                f.write('\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = "command"\ncommand = "true"\n')
            self.launch(t, "s", CX, self.codex_env(home))
            t.wait("s", r"Hooks need review", 30)
            self.save(A, "hook_review", t.settle("s", 1.5))

        def idle_z(t, z, size):
            self.launch(t, "s", CX, env("idle-" + z), size=size)
            t.wait("s", READY[A])
            self.save(A, f"idle_{z}", t.settle("s", 2))

        def stream_z(t, z, size):
            self.scenario("slow")
            self.launch(t, "s", CX + " 'tell me something long'", env("stream-" + z), size=size)
            t.wait("s", r"Line 3:")
            self.save(A, f"streaming_{z}", t.cap("s"))

        def perm_z(t, z, size):
            self.scenario("tool")
            self.launch(t, "s", CX + " 'make a marker file'", env("perm-" + z), size=size)
            t.wait("s", r"Would you like to run|Yes, proceed")
            self.save(A, f"permission_{z}", t.settle("s", 1.5))

        flows = [("billing", billing), ("interrupted", interrupted), ("interrupted_early", restored),
                 ("restored_queued", queued),
                 ("booting_loading", booting), ("api_key_entry", api_key), ("older_429", older),
                 ("warnings_panel", warnings), ("model_picker", model), ("hook_review", hook_review)]
        flows += self.size_flows(A, idle_z, stream_z, perm_z)
        flows += self.exit_flows(A, lambda st: env(st), CX)
        for st, fn in flows:
            self.do(A, st, fn)

    # ------------------------------------------------------------------ gemini
    def run_gemini(self):
        A = "gemini"
        R = READY[A]
        env = lambda st, **kw: self.gemini_env(self.gemini_home(st, **{k: v for k, v in kw.items() if k == "attempts"}),  # noqa: E731
                                               **{k: v for k, v in kw.items() if k != "attempts"})

        def start(t, e, prompt=None, size=None, name="s"):
            self.launch(t, name, "gemini", e, size=size)
            t.wait(name, R, 60)
            t.settle(name, 1.0)
            if prompt:
                self.submit(t, name, prompt)

        def key400(t):
            self.scenario("400key")
            start(t, env("k400", attempts=2), "hi")
            time.sleep(2)
            t.wait("s", r"API_KEY_INVALID|API key not valid|✕", 120)
            self.save(A, "auth_400_key_invalid", t.settle("s", 3))

        def quota(t):
            self.scenario("429daily")
            start(t, env("quota", attempts=2), "hi")
            t.wait("s", r"Usage limit reached|[Qq]uota", 120)
            t.settle("s", 1.5)
            t.keys("s", "2")
            time.sleep(0.5)
            t.keys("s", "Enter")
            s = t.settle("s", 3)
            if "Keep trying" in s:
                raise RuntimeError("quota dialog still open:\n" + s)
            self.save(A, "quota_stopped", s)
            self.scenario("ok")
            self.submit(t, "s", "second question: and screen?")
            t.wait("s", r"Done\.", 90)
            t.settle("s", 2)
            self.scenario("slow")
            self.submit(t, "s", "third question: tell me something long")
            t.wait("s", r"Line 3:", 90)
            self.save(A, "older_quota_streaming", t.cap("s"))

        def older401(t):
            self.scenario("401")
            start(t, env("o401", attempts=2), "first question: what is tmux?")
            t.wait("s", r"401|UNAUTHENTICATED", 120)
            t.settle("s", 2)
            self.scenario("ok")
            self.submit(t, "s", "second question: and screen?")
            t.wait("s", r"Done\.", 90)
            self.save(A, "older_401_idle", t.settle("s", 3))

        def api_key(t):
            home = self.gemini_home("apikey", auth=False)
            self.launch(t, "s", "gemini", self.gemini_env(home, key=False))
            t.wait("s", r"How would you like to authenticate", 60)
            t.settle("s", 1.5)
            t.keys("s", "Down")
            time.sleep(0.7)
            t.keys("s", "Enter")
            t.wait("s", r"Enter Gemini API Key", 20)
            self.save(A, "api_key_entry", t.settle("s", 1.5))

        def oauth(t):
            home = self.gemini_home("oauth", auth=False)
            e = self.gemini_env(home, key=False)
            e["NO_BROWSER"] = "true"
            e.pop("GEMINI_CLI_NO_RELAUNCH", None)  # it relaunches itself to sign in
            self.launch(t, "s", "gemini", e)
            t.wait("s", r"How would you like to authenticate", 60)
            t.settle("s", 1.5)
            t.keys("s", "Enter")
            t.wait("s", r"Enter the authorization code", 90)
            self.save(A, "oauth_code", t.settle("s", 2))

        def model(t):
            start(t, env("model"))
            t.type("s", "/model")
            t.wait("s", r"(?i)select model|choose.*model", 20)
            self.save(A, "model_picker", t.settle("s", 1.5))

        def interrupted(t):
            self.scenario("slow")
            start(t, env("intr"), "tell me something long")
            t.wait("s", r"Line 3:", 60)
            t.keys("s", "Escape")
            t.wait("s", r"(?i)cancel", 20)
            self.save(A, "interrupted", t.settle("s", 2.5))

        def restored(t):
            start(t, env("restored"))
            self.scenario("hang")
            self.submit(t, "s", "write a haiku about terminal multiplexers")
            t.wait("s", r"esc to cancel", 30)
            time.sleep(1.5)
            t.keys("s", "Escape")
            time.sleep(1)
            s = t.settle("s", 2.5)
            self.save(A, "interrupted_early", s)

        def accept_edits(t):
            start(t, env("accept"))
            t.keys("s", "BTab")
            time.sleep(1)
            s = t.settle("s", 1.5)
            self.save(A, "accept_edits_idle", s)
            self.scenario("slow")
            self.submit(t, "s", "tell me something long")
            t.wait("s", r"Line 3:", 60)
            self.save(A, "accept_edits_streaming", t.cap("s"))

        def mcp(t):
            import json
            home = self.gemini_home("mcp")
            p = os.path.join(home, ".gemini", "settings.json")
            with open(p) as f:
                s = json.load(f)
            s["mcpServers"] = {"broken-tools": {"command": "/nonexistent/mcp-server", "args": []}}
            with open(p, "w") as f:
                json.dump(s, f)
            start(t, self.gemini_env(home))
            time.sleep(3)
            self.save(A, "mcp_failed_idle", t.settle("s", 3))

        def idle_z(t, z, size):
            start(t, env("idle-" + z), size=size)
            self.save(A, f"idle_{z}", t.settle("s", 2.5))

        def stream_z(t, z, size):
            self.scenario("slow")
            start(t, env("stream-" + z), "tell me something long", size=size)
            t.wait("s", r"Line 3:", 60)
            self.save(A, f"streaming_{z}", t.cap("s"))

        def perm_z(t, z, size):
            self.scenario("tool")
            start(t, env("perm-" + z), "make a marker file", size=size)
            t.wait("s", r"Allow execution|Allow once", 60)
            self.save(A, f"permission_{z}", t.settle("s", 1.5))

        flows = [("auth_400_key_invalid", key400), ("quota_stopped", quota), ("older_401", older401),
                 ("api_key_entry", api_key), ("oauth_code", oauth), ("model_picker", model),
                 ("interrupted", interrupted), ("interrupted_early", restored), ("accept_edits", accept_edits),
                 ("mcp_failed", mcp)]
        flows += self.size_flows(A, idle_z, stream_z, perm_z)
        flows += self.exit_flows(A, lambda st: env(st), "gemini")
        for st, fn in flows:
            self.do(A, st, fn)


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--agents", default="claude,codex,gemini")
    ap.add_argument("--states", default="", help="comma list of flows (or their first word) to run")
    ap.add_argument("--delay", type=float, default=0.3)
    ap.add_argument("--table", default="NEW.tsv")
    ap.add_argument("--size", default="120x40")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    a.states = [s for s in a.states.split(",") if s]
    a.size = tuple(int(x) for x in a.size.lower().split("x"))
    a.bin, a.out, a.work = (os.path.abspath(p) for p in (a.bin, a.out, a.work))
    r = Families(a)
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
