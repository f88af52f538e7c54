#!/usr/bin/env bash
# npm run bench: install what the benchmark needs when missing (Debian's postfix for Postfix,
# smtp-source and smtp-sink; Haraka from the npm registry into a scratch directory), build
# Postern, raise the descriptor limit, run bench/bench.mjs. Never leaves a Postfix running.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v smtp-source >/dev/null 2>&1; then
  echo "bench: installing Debian's postfix (not started: policy-rc.d denies service starts)"
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null 2>&1 || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null; }
  rm -f /usr/sbin/policy-rc.d
fi
HARAKA_DIR="${HARAKA_DIR:-/tmp/postern-bench-haraka}"
if [ ! -x "$HARAKA_DIR/node_modules/.bin/haraka" ]; then
  echo "bench: installing Haraka 3.3.4 into $HARAKA_DIR (not a project dependency)"
  mkdir -p "$HARAKA_DIR" && (cd "$HARAKA_DIR" && [ -f package.json ] || npm init -y >/dev/null) && (cd "$HARAKA_DIR" && npm install --no-audit --no-fund Haraka@3.3.4 >/dev/null 2>&1) || echo "bench: Haraka could not be installed; running without it"
fi
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
npm run --silent build
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export HARAKA_BIN="$HARAKA_DIR/node_modules/.bin/haraka"
[ -x "$HARAKA_BIN" ] || unset HARAKA_BIN
exec node bench/bench.mjs "$@"
