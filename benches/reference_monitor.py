"""Runs the Python reference's monitoring loop over live tmux sessions.

Used by `doeff-agents bench --reference PYTHON` (PYTHON from a venv with
`pip install doeff-agents`): for each pass, `monitor_session` is called once
per session, exactly as the reference's own watch loop does, and the wall
time of the whole pass is recorded. The sessions live on a private server
(`-L SOCKET`); the reference backend is only taught to pass `-L SOCKET`
(no wrapper process, so it pays exactly its own subprocess calls).

usage: reference_monitor.py --socket NAME [--passes N] NAME=%PANE ...
prints: {"passes": N, "sessions": M, "pass_ms": [...], "pass_ms_median": x, "pass_ms_p95": y}
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from doeff_agents.adapters.base import AgentType
from doeff_agents.session import AgentSession, monitor_session
from doeff_agents.tmux import TmuxSessionBackend


class SocketBackend(TmuxSessionBackend):
    """The reference backend, on a named tmux socket."""

    def __init__(self, socket: str) -> None:
        super().__init__("tmux")
        self.socket = socket

    def _args(self, *args: str) -> list[str]:
        return [self.executable, "-L", self.socket, *args]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("sessions", nargs="+", help="NAME=%%PANE")
    args = parser.parse_args()
    backend = SocketBackend(args.socket)
    sessions = []
    for item in args.sessions:
        name, _, pane = item.partition("=")
        sessions.append(
            AgentSession(
                session_name=name,
                pane_id=pane,
                agent_type=AgentType.CLAUDE,
                work_dir=Path("/"),
                _backend=backend,
            )
        )
    passes = []
    for _ in range(max(args.passes, 1) + 1):
        started = time.perf_counter()
        for session in sessions:
            monitor_session(session)
        passes.append((time.perf_counter() - started) * 1000.0)
    passes = passes[1:]  # the first pass warms imports and caches
    ordered = sorted(passes)
    p95 = ordered[round((len(ordered) - 1) * 0.95)]
    json.dump(
        {
            "passes": len(passes),
            "sessions": len(sessions),
            "pass_ms": passes,
            "pass_ms_median": statistics.median(passes),
            "pass_ms_p95": p95,
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
