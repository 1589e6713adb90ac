#!/usr/bin/env bash
# bench/smoke.sh: the whole harness on tiny data in a few seconds, for the test suite.
# Checks that every step runs and reports (and that nothing errs at this light load);
# asserts nothing about speed.
#
#   THREADSTORE_BIN  the service binary (default build/threadstore)
#   LOADGEN_BIN      the load generator (default: bench/loadgen beside THREADSTORE_BIN's
#                    build tree; built in build-bench/ if missing)
#   DATABASE_URL     a PostgreSQL server to use; the database threadstore_bench_smoke is
#                    created there and its tables replaced. Unset: the private bench cluster
#                    (bench/.work, port 25470) is started and stopped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN=${THREADSTORE_BIN:-$BENCH_ROOT/build/threadstore}
[ -x "$BIN" ] || bench_die "no threadstore binary at $BIN (set THREADSTORE_BIN)"
LOADGEN=${LOADGEN_BIN:-$(dirname "$BIN")/bench/loadgen}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

args=(--bin "$BIN" --db threadstore_bench_smoke --out "$OUT" --strict --reload
      --users 20 --threads 5 --items 4 --big-items 3000
      --duration 0.5 --warmup 0.2 --rounds 1 --timeout 5 --pool-size 2
      --connections 20 --many 300 --many-rate 300 --big-connections 4 --w3-connections 8)
[ -x "$LOADGEN" ] && args+=(--loadgen "$LOADGEN")
[ -n "${DATABASE_URL:-}" ] && args+=(--database-url "$DATABASE_URL")

bash "$BENCH_DIR/run.sh" "${args[@]}" || bench_die "bench/run.sh failed"

# The report is there and has a row with operations for every run.
md=$(ls "$OUT"/*.md 2>/dev/null | head -n 1)
[ -n "$md" ] || bench_die "no results page written"
missing=()
for label in many w1-r1 w1-depth1-r1 w1-open w2 w2-big-first w2-big-start w2-big-end w3 mix; do
    awk -v l="$label" -F ' *[|] *' '$2 == l && $6 + 0 > 0 { found = 1 } END { exit !found }' "$md" ||
        missing+=("$label")
done
for label in pgbench-r1 pgbench-pipelined-r1; do
    awk -v l="$label" -F ' *[|] *' '$2 == l && $3 + 0 > 0 { found = 1 } END { exit !found }' "$md" ||
        missing+=("$label")
done
grep -q '^## Issue 4 targets' "$md" || missing+=("targets table")
if [ ${#missing[@]} -gt 0 ]; then
    cat "$md" >&2
    bench_die "results page lacks: ${missing[*]}"
fi
echo "bench smoke: ok in $SECONDS s"
