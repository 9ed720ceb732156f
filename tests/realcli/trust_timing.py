#!/usr/bin/env python3
"""How long after its composer first appears does a CLI draw its folder-trust dialog?
(Gemini and Codex draw the composer first and the dialog a moment later, so a
launch that pastes its prompt as soon as the composer shows answers the dialog by accident.)

    python3 tests/realcli/trust_timing.py --bin <node_modules/.bin> --work <scratch> \
        [--agents gemini,codex] [--runs 5] [--interval 0.05] [--save-dir tests/screens]

Each run: a fresh HOME with credentials but no trust for the folder (a fresh git repository for
Codex, which only asks in one), a private tmux server, capture-pane every --interval seconds from
the moment the pane starts. Prints, per run, the time from start to the first frame with the
composer and to the first frame with the dialog, and their difference. With --save-dir, the frames
of the first run (first composer frame, first dialog frame) are saved as
<cli>-<version>-trust_late_composer_first.txt / _dialog.txt (+ .ansi). Only 127.0.0.1 is contacted.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture import Runner, Tmux, log  # noqa: E402

PATTERNS = {
    # composer, dialog, "fully drawn" (the composer frame no longer shows a boot tell: Gemini's banner
    # is drawn above it, Codex shows the folder instead of "loading")
    "gemini": (r"Type your message", r"Do you trust", r"Gemini CLI v\d"),
    "codex": (r"Ask Codex to do anything", r"Trust this folder", r"^ +/\S+\s*$"),
}


class Timing(Runner):
    def run_once(self, agent, n):
        t = Tmux(f"screens-trust-{agent}-{os.getpid()}-{n}")
        try:
            if agent == "gemini":
                home = self.gemini_home(f"trust-{n}", trusted=False)
                env, cwd, cmd = self.gemini_env(home), self.ws, "gemini"
            else:
                home = self.codex_home(f"trust-{n}", trusted=False)
                cwd = os.path.join(self.work, f"gitrepo-{n}")
                shutil.rmtree(cwd, ignore_errors=True)
                os.makedirs(cwd)
                subprocess.run(["git", "init", "-q", cwd], check=True)
                env, cmd = self.codex_env(home), "codex --no-daemon"
            comp_rx, dlg_rx, full_rx = (re.compile(p, re.M) for p in PATTERNS[agent])
            full = first_full = None
            frames = []
            t0 = time.monotonic()
            self.launch(t, "s", cmd, env, cwd=cwd)
            composer = dialog = None
            first_comp = first_dlg = None
            while time.monotonic() - t0 < 60:
                s = t.cap("s")
                now = time.monotonic() - t0
                frames.append((now, s))
                if composer is None and comp_rx.search(s) and not dlg_rx.search(s):
                    composer, first_comp = now, s
                if full is None and comp_rx.search(s) and full_rx.search(s) and not dlg_rx.search(s):
                    full, first_full = now, s
                if dlg_rx.search(s):
                    dialog, first_dlg = now, s
                    break
                time.sleep(self.a.interval)
            return composer, full, dialog, first_comp, first_full, first_dlg, len(frames)
        finally:
            self.cleanup(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--agents", default="gemini,codex")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--save-dir")
    ap.add_argument("--table", default="NEW.tsv")
    a = ap.parse_args()
    a.bin, a.work = os.path.abspath(a.bin), os.path.abspath(a.work)
    a.out = os.path.abspath(a.save_dir or os.path.join(a.work, "frames"))
    a.delay, a.size, a.states, a.verbose = 0.3, (120, 40), [], False
    r = Timing(a)
    try:
        for agent in a.agents.split(","):
            rows, fulls = [], []
            for n in range(a.runs):
                load = os.getloadavg()[0]
                comp, full, dlg, s_comp, s_full, s_dlg, nframes = r.run_once(agent, n)
                gap = (dlg - comp) if comp is not None and dlg is not None else None
                gap_full = (dlg - full) if full is not None and dlg is not None else None
                rows.append(gap)
                fulls.append(gap_full)
                print(f"{agent} run {n + 1}: composer at {fmt(comp)} s, fully drawn composer at {fmt(full)} s, "
                      f"dialog at {fmt(dlg)} s; dialog after composer {fmt(gap)} s, after the fully drawn one "
                      f"{fmt(gap_full)} s ({nframes} frames, {dlg / max(nframes, 1) * 1000 if dlg else 0:.0f} ms per "
                      f"frame, load {load:.1f})", flush=True)
                if n == 0 and a.save_dir and s_comp is not None and s_dlg is not None:
                    tell = ("'loading' where the folder goes" if agent == "codex"
                            else "composer and footer drawn, banner and tips not yet")
                    r.save(agent, "trust_late_composer_first", s_comp, "booting",
                           "loading" if agent == "codex" else "starting",
                           f"trust_timing.py: first frame with the composer in an untrusted folder ({tell}); the "
                           f"trust dialog replaced it {gap:.2f} s later (same run: trust_late_dialog)")
                    if s_full is not None:
                        r.save(agent, "trust_late_composer_drawn", s_full, "booting", "starting",
                               f"trust_timing.py: first fully drawn composer frame (folder shown, no model line in "
                               f"the footer yet) in an untrusted folder; looks ready, but the trust dialog replaced "
                               f"it {gap_full:.2f} s later (same run: trust_late_dialog)")
                    r.save(agent, "trust_late_dialog", s_dlg, "blocked", "trust_dialog",
                           f"trust_timing.py: the first frame with the trust dialog, {gap:.2f} s after the first "
                           f"composer frame (trust_late_composer_first)")
            for label, vals in (("composer", rows), ("fully drawn composer", fulls)):
                gaps = [g for g in vals if g is not None]
                if gaps:
                    print(f"{agent}: dialog after {label}: min {min(gaps):.2f} s, median "
                          f"{statistics.median(gaps):.2f} s, max {max(gaps):.2f} s over {len(gaps)} runs", flush=True)
    finally:
        if a.save_dir:
            r.write_expected()
        r.stop()
    return 0


def fmt(v):
    return "-" if v is None else f"{v:.2f}"


if __name__ == "__main__":
    sys.exit(main())
