#!/usr/bin/env bash
# Soak: runs the kill -9 crash test (tests/sqllogictest/tests/crash.rs) for many cycles, the
# simulated power-loss test of the WAL (storage/src/wal/tests/power_loss.rs) for many power
# losses, and the TCP wire fuzzer (tests/sqllogictest/tests/wire_fuzz.rs) for many malformed
# conversations, and appends each one's final line, the date and the commit to
# tests/soak/RESULTS.md. A count of 0 skips that step.
#   tests/soak/run.sh [CYCLES] [POWER_LOSSES] [FUZZ_CASES]   (defaults 1000, 2000, 260000)
#   tests/soak/run.sh 0 0 260000    the fuzzer alone: 260,000 conversations per server
#                                   (one trusting, one asking SCRAM), over 1,000,000 of
#                                   their messages malformed or misplaced
#   OXBOW_CRASH_SEED, OXBOW_POWER_LOSS_SEED and OXBOW_WIRE_FUZZ_SEED replay a printed run.
set -euo pipefail
cycles="${1:-1000}"
power_losses="${2:-2000}"
fuzz_cases="${3:-260000}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${OXBOW_CACHE:-$HOME/.cache/oxbow}/target}"
export OXBOW_BIN="${OXBOW_BIN:-$CARGO_TARGET_DIR/debug/oxbow}"
cargo build --workspace --all-targets
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+dirty')"
status=0

# run NAME PREFIX SEED_VAR COMMAND...: runs the command, appends its line starting with PREFIX.
run() {
    local name="$1" prefix="$2" seed_var="$3" rc=0 line seed
    shift 3
    "$@" 2>&1 | tee "$log" || rc=$?
    line="$(grep -E "^$prefix" "$log" | grep -v 'seed [0-9]* (rerun' | tail -n 1 || true)"
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
        seed="$(grep -oE "$seed_var=[0-9]+" "$log" | head -n 1 || true)"
        line="$name: FAILED (${seed:-no seed printed}), see the log"
        status=1
    fi
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC') commit $commit: $line" >> "$root/tests/soak/RESULTS.md"
    echo "appended to tests/soak/RESULTS.md: $line"
}

if [ "$cycles" -gt 0 ]; then
    OXBOW_CRASH_CYCLES="$cycles" run crash 'crash: ' OXBOW_CRASH_SEED \
        cargo test --workspace --test crash -- --nocapture
fi
if [ "$power_losses" -gt 0 ]; then
    OXBOW_POWER_LOSS_CYCLES="$power_losses" run "power loss" 'power loss: ' OXBOW_POWER_LOSS_SEED \
        cargo test --workspace --lib power_loss -- --nocapture
fi
if [ "$fuzz_cases" -gt 0 ]; then
    OXBOW_WIRE_FUZZ_CASES="$fuzz_cases" run "wire fuzz" 'wire fuzz: [0-9]+ conversations' \
        OXBOW_WIRE_FUZZ_SEED cargo test --workspace --test wire_fuzz -- --nocapture
fi
exit "$status"
