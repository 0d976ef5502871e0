#!/usr/bin/env bash
# Soak: runs the kill -9 crash test (tests/sqllogictest/tests/crash.rs) for many cycles and
# appends its final line, the date and the commit to tests/soak/RESULTS.md.
#   tests/soak/run.sh [CYCLES]   (default 1000; OXBOW_CRASH_SEED replays a printed run)
set -euo pipefail
cycles="${1:-1000}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${OXBOW_CACHE:-$HOME/.cache/oxbow}/target}"
export OXBOW_BIN="${OXBOW_BIN:-$CARGO_TARGET_DIR/debug/oxbow}"
cargo build --workspace --all-targets
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
OXBOW_CRASH_CYCLES="$cycles" cargo test --workspace --test crash -- --nocapture \
    2>&1 | tee "$log" || status=$?
line="$(grep -E '^crash: ' "$log" | tail -n 1 || true)"
if [ "$status" -ne 0 ] || [ -z "$line" ]; then
    seed="$(grep -oE 'OXBOW_CRASH_SEED=[0-9]+' "$log" | head -n 1 || true)"
    line="crash: FAILED after requesting $cycles cycles (${seed:-no seed printed}), see the log"
fi
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+dirty')"
echo "- $(date -u '+%Y-%m-%d %H:%M UTC') commit $commit: $line" >> "$root/tests/soak/RESULTS.md"
echo "appended to tests/soak/RESULTS.md: $line"
exit "$status"
