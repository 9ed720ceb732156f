#!/usr/bin/env bash
# Re-capture the real-CLI screens into tests/screens (see capture.py --help; families.py for the
# harder families).
#   tests/realcli/capture.sh [--agents claude,codex,gemini] [--states idle,permission,...] [--table NEW.tsv]
# Needs: tmux, python3 >= 3.11, the CLIs from `npm install @anthropic-ai/claude-code @openai/codex
# @google/gemini-cli` (NPM_BIN: their node_modules/.bin; default: the cache run_tier.sh installs
# into). Only 127.0.0.1 is contacted. WORK (homes, mock log) defaults to a folder outside /tmp:
# Codex 0.171 refuses to set up its helper binaries under a temporary dir and says so on screen.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${DOEFF_AGENTS_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/doeff-agents/npm-agents}"
exec python3 "$here/capture.py" --bin "${NPM_BIN:-$cache/node_modules/.bin}" \
  --out "$here/../screens" --work "${WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/doeff-agents/realcli-work}" "$@"
