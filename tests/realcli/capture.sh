#!/usr/bin/env bash
# Re-capture the real-CLI screens into tests/screens (see capture.py --help).
#   tests/realcli/capture.sh [--agents claude,codex,gemini] [--states idle,permission,...]
# Needs: tmux, python3 >= 3.11, the CLIs from `npm install @anthropic-ai/claude-code @openai/codex
# @google/gemini-cli` (set NPM_BIN to their node_modules/.bin). Only 127.0.0.1 is contacted.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec python3 "$here/capture.py" --bin "${NPM_BIN:-/work/npmcli/node_modules/.bin}" \
  --out "$here/../screens" --work "${WORK:-/tmp/realcli-work}" "$@"
