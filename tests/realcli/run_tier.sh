#!/usr/bin/env bash
# The real-agent tier: Claude Code, Codex CLI and Gemini CLI driven through
# doeff-agents against the loopback mock API (tests/real_agents.rs).
#
#   tests/realcli/run_tier.sh            # from the repository root (or anywhere)
#
# The CLIs live in $DOEFF_AGENTS_NPM_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/doeff-agents/npm-agents, outside the repository
# so that `cargo clean` keeps them). When
# they are all there, nothing is downloaded. Otherwise they are installed with
# `npm install --prefix` if the npm registry answers; if it does not, the tier
# is skipped (exit 0) with a message. Prints one line per test and a summary;
# exits non-zero when a test fails. Budget: well under 10 minutes on 2 cores.
set -uo pipefail
cd "$(dirname "$0")/../.."

export DOEFF_AGENTS_NPM_CACHE="${DOEFF_AGENTS_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/doeff-agents/npm-agents}"
BIN="$DOEFF_AGENTS_NPM_CACHE/node_modules/.bin"
PACKAGES=(@anthropic-ai/claude-code@2.1.197 @openai/codex@0.171.0 @google/gemini-cli@0.61.0)

have_all() { [ -x "$BIN/claude" ] && [ -x "$BIN/codex" ] && [ -x "$BIN/gemini" ]; }

if ! have_all; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "real-agent tier: SKIPPED (npm not installed, CLIs not cached in $DOEFF_AGENTS_NPM_CACHE)"
    exit 0
  fi
  if ! timeout 20 npm ping >/dev/null 2>&1; then
    echo "real-agent tier: SKIPPED (npm registry unreachable, CLIs not cached in $DOEFF_AGENTS_NPM_CACHE)"
    exit 0
  fi
  echo "real-agent tier: installing ${PACKAGES[*]} into $DOEFF_AGENTS_NPM_CACHE"
  mkdir -p "$DOEFF_AGENTS_NPM_CACHE"
  if ! timeout 600 npm install --no-audit --no-fund --prefix "$DOEFF_AGENTS_NPM_CACHE" "${PACKAGES[@]}" >/dev/null; then
    echo "real-agent tier: FAILED (npm install)"
    exit 1
  fi
fi
command -v python3 >/dev/null 2>&1 || { echo "real-agent tier: FAILED (python3 is needed for the mock API)"; exit 1; }

log="$(mktemp "${TMPDIR:-/tmp}/doeff-real-tier.XXXXXX")"
start=$(date +%s)
DOEFF_AGENTS_REAL=1 timeout 900 cargo test --test real_agents -- --test-threads=3 >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
versions=$(vhome=$(mktemp -d) && for a in claude codex gemini; do
  printf '%s %s; ' "$a" "$(HOME="$vhome" HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
    timeout 30 "$BIN/$a" --version 2>/dev/null | head -1)"; done; rm -rf "$vhome")
echo "== real-agent tier (${versions%; })"
grep -E '^test [a-z_]+ \.\.\. ' "$log" | sed 's/^test /  /'
if [ $rc -ne 0 ]; then
  echo "-- failure output:"
  sed -n '/^failures:$/,$p' "$log" | head -150
fi
summary=$(grep -E '^test result:' "$log" | tail -1)
echo "real-agent tier: ${summary:-no result (exit $rc)} in ${secs}s"
rm -f "$log"
exit $rc
