#!/usr/bin/env bash
# bench/cost.sh: the CPU cost of one request, per workload: the service's and PostgreSQL's
# (each cluster named by --postmaster, e.g. a Citus coordinator and its workers), in
# microseconds of CPU per request, from /proc before and after a fixed closed-loop run.
# docs/SCALING.md builds its capacity model on these figures.
#
#   bash bench/cost.sh --database-url URL --postmaster NAME=PID [--postmaster NAME=PID ...]
#       [--workloads "w1 w2 w3 h-search"] [--connections 32] [--duration 10] [--warmup 2]
#       (--warmup: an unmeasured run of each workload before its measured one)
#       [--pool-size 4] [--users N --threads T --items M --big-items K] [--bin B --loadgen L]
#       [--label TEXT] [--service-arg ARG ...]
#
# The database must hold the bench data set (bench/gen.sql with the same --users/--threads/
# --items/--big-items; bench/gen_history.sql for h-* workloads); the service runs with
# --no-migrate. PostgreSQL's CPU of a cluster = its postmaster's own and reaped children's
# (cutime, cstime) plus every live child's: backends, background workers, and on Citus the
# workers' backends serving the coordinator. Anything else that uses those clusters during
# the run is counted too: run it on clusters nobody else is using. Loopback networking done in
# interrupt context is charged to no one. Output: one RESULT-like line per workload and a
# Markdown table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

URL= BIN= LOADGEN= CONNS=32 DUR=10 WARM=2 POOL=4 LABEL=run
USERS=1000 THREADS=100 ITEMS=10 BIG=1000000 WORKLOADS="w1 w2 w3 h-search"
SECRET=threadstore-bench-secret-not-for-production
PMS=() SVC_ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
        --database-url) URL=$2; shift ;;
        --postmaster) PMS+=("$2"); shift ;;
        --workloads) WORKLOADS=$2; shift ;;
        --connections) CONNS=$2; shift ;;
        --duration) DUR=$2; shift ;;
        --warmup) WARM=$2; shift ;;
        --pool-size) POOL=$2; shift ;;
        --users) USERS=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --items) ITEMS=$2; shift ;;
        --big-items) BIG=$2; shift ;;
        --bin) BIN=$2; shift ;;
        --loadgen) LOADGEN=$2; shift ;;
        --label) LABEL=$2; shift ;;
        --service-arg) SVC_ARGS+=("$2"); shift ;;
        *) bench_die "unknown option $1 (see the head of $0)" ;;
    esac
    shift
done
[ -n "$URL" ] || bench_die "--database-url is required"
[ ${#PMS[@]} -gt 0 ] || bench_die "--postmaster NAME=PID is required (head -1 DATA/postmaster.pid)"
if [ -z "$BIN" ] || [ -z "$LOADGEN" ]; then
    cmake -S "$BENCH_ROOT" -B "$BENCH_ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BENCH_ROOT/build-bench" -j2 --target threadstore loadgen >/dev/null
    BIN=${BIN:-$BENCH_ROOT/build-bench/threadstore}
    LOADGEN=${LOADGEN:-$BENCH_ROOT/build-bench/bench/loadgen}
fi
HZ=$(getconf CLK_TCK)

# ticks PID [CHILDREN]: utime+stime (and cutime+cstime when CHILDREN=1) of one process.
ticks() {
    [ -r "/proc/$1/stat" ] || { echo 0; return; }
    awk -v c="${2:-0}" '{ sub(/^.*\) /, ""); t = $12 + $13; if (c) t += $14 + $15; print t }' \
        "/proc/$1/stat"
}
# cluster_ticks PID: a postmaster, its reaped children, its live children.
cluster_ticks() {
    local t c
    t=$(ticks "$1" 1)
    for c in $(ps -o pid= --ppid "$1"); do t=$(( t + $(ticks "$c") )); done
    echo "$t"
}

TMP=$(mktemp -d)
SVC=
cleanup() {
    [ -n "$SVC" ] && bench_service_stop "$SVC"
    rm -rf "$TMP"
}
trap cleanup EXIT
bench_service_start "$BIN" "$TMP/svc.log" --database-url "$URL" --jwt-secret "$SECRET" \
    --pool-size "$POOL" --no-access-log --no-migrate "${SVC_ARGS[@]}"
SVC=$SVC_PID

names=() pids=()
for p in "${PMS[@]}"; do names+=("${p%%=*}"); pids+=("${p#*=}"); done
hdr="| label | workload | req/s | p50 ms | p99 ms | errors | service µs/req"
for n in "${names[@]}"; do hdr+=" | $n µs/req"; done
: >"$TMP/rows"
for w in $WORKLOADS; do
    lg=("$LOADGEN" --port "$SVC_PORT" --jwt-secret "$SECRET" --users "$USERS" --threads "$THREADS"
        --items "$ITEMS" --big-items "$BIG" --label "$w" --workload "$w" --connections "$CONNS")
    # warm the caches unmeasured, then measure a run with no warm-up of its own, so the CPU
    # deltas cover the counted requests (plus at most one in flight per connection at the end)
    "${lg[@]}" --duration "$WARM" --warmup 0 >/dev/null 2>&1 || true
    s0=$(ticks "$SVC")
    p0=(); for p in "${pids[@]}"; do p0+=("$(cluster_ticks "$p")"); done
    "${lg[@]}" --duration "$DUR" --warmup 0 >"$TMP/out" 2>&1 || true
    s1=$(ticks "$SVC")
    p1=(); for p in "${pids[@]}"; do p1+=("$(cluster_ticks "$p")"); done
    line=$(grep '^RESULT' "$TMP/out") || { cat "$TMP/out" >&2; bench_die "no RESULT for $w"; }
    total=$(awk -v l="$line" 'BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) {
        split(a[i], kv, "="); v[kv[1]] = kv[2] } print v["requests"] }')
    row="| $LABEL | $w"
    row+=$(awk -v l="$line" 'BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) {
        split(a[i], kv, "="); v[kv[1]] = kv[2] }
        printf " | %s | %s | %s | %s", v["rps"], v["p50_ms"], v["p99_ms"], v["errors"] }')
    row+=$(awk -v d=$(( s1 - s0 )) -v n="$total" -v hz="$HZ" \
        'BEGIN { printf " | %.1f", d / hz * 1e6 / n }')
    for i in "${!pids[@]}"; do
        row+=$(awk -v d=$(( ${p1[$i]} - ${p0[$i]} )) -v n="$total" -v hz="$HZ" \
            'BEGIN { printf " | %.1f", d / hz * 1e6 / n }')
    done
    echo "$line service_ticks=$(( s1 - s0 ))"
    echo "$row |" >>"$TMP/rows"
done
echo
echo "$hdr |"
echo "$hdr |" | sed 's/[^|]*/---/g; s/^---//; s/---$//'
cat "$TMP/rows"
