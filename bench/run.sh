#!/usr/bin/env bash
# npm run bench: install what the benchmark needs when missing (Debian's postfix for Postfix,
# smtp-source and smtp-sink; Haraka from the npm registry into a scratch directory), build
# Postern, raise the descriptor limit, run bench/bench.mjs. Never leaves a Postfix running.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's postfix (Postfix, smtp-source, smtp-sink) comes from the tests' one package list;
# services are not started (policy-rc.d), so no system Postfix runs.
bash scripts/install-debian-packages.sh test/debian-packages.txt
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
