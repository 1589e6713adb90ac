#!/usr/bin/env bash
# bench/history.sh: the history API for one user with 100,000 threads and 1,000,000 items
# (bench/gen_history.sql), on top of the bench data (bench/gen.sql), at 32 clients: thread list
# by activity, a metadata filter, counts and search, each its own run; p99 per run. Then the
# query plans (EXPLAIN ANALYZE of the generic plans the service's prepared statements use).
#
#   bash bench/history.sh [--bin BIN] [--pg-port P] [--work DIR] [--db NAME] [--duration S]
#
# Loads what is missing (the bench data as run.sh does, then the history user), never times
# anything in a test. Output: the loadgen report of each workload, a summary table, plans.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USERS=1000 THREADS=100 ITEMS=10 BIG=1000000 HTHREADS=100000 HITEMS=10
PG_PORT=55470 WORK=$BENCH_DIR/.work DB=threadstore_bench BIN= LOADGEN= CONNS=32 DUR=15 WARM=3
POOL=4 WORKLOADS="h-list h-filter h-count h-count-all h-search" PLANS=1
SECRET=threadstore-bench-secret-not-for-production
while [ $# -gt 0 ]; do
    case $1 in
        --bin) BIN=$2; shift ;;
        --loadgen) LOADGEN=$2; shift ;;
        --pg-port) PG_PORT=$2; shift ;;
        --work) WORK=$2; shift ;;
        --db) DB=$2; shift ;;
        --duration) DUR=$2; shift ;;
        --connections) CONNS=$2; shift ;;
        --pool-size) POOL=$2; shift ;;
        --workloads) WORKLOADS=$2; shift ;;
        --no-plans) PLANS=0 ;;
        *) bench_die "unknown option $1 (see the head of $0)" ;;
    esac
    shift
done
if [ -z "$BIN" ] || [ -z "$LOADGEN" ]; then
    cmake -S "$BENCH_ROOT" -B "$BENCH_ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BENCH_ROOT/build-bench" -j2 --target threadstore loadgen sqltext >/dev/null
    BIN=${BIN:-$BENCH_ROOT/build-bench/threadstore}
    LOADGEN=${LOADGEN:-$BENCH_ROOT/build-bench/bench/loadgen}
fi
SQLTEXT=${SQLTEXT:-$(dirname "$LOADGEN")/sqltext}
TMP=$(mktemp -d)
SVC=
cleanup() {
    [ -n "$SVC" ] && bench_service_stop "$SVC"
    [ "${BENCH_PG_STARTED:-0}" = 1 ] && bench_pg_stop "$WORK"
    rm -rf "$TMP"
}
trap cleanup EXIT
bench_pg_start "$WORK" "$PG_PORT"
ADMIN_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
bench_createdb "$ADMIN_URL" "$DB"
URL=$(bench_url_with_db "$ADMIN_URL" "$DB")
"$BIN" migrate --database-url "$URL" >"$TMP/migrate.log" 2>&1 ||
    { cat "$TMP/migrate.log" >&2; bench_die "threadstore migrate failed"; }
if [ "$(bench_dataset "$URL")" != "$USERS $THREADS $ITEMS $BIG" ]; then
    bench_load "$URL" "$USERS" "$THREADS" "$ITEMS" "$BIG"
fi
have=$("${PSQL[@]}" "$URL" -tAc "SELECT (SELECT count(*) FROM threads WHERE user_id = '8000000')
    || ' ' || (SELECT count(*) FROM items WHERE user_id = '8000000')")
if [ "$have" != "$HTHREADS $(( HTHREADS * HITEMS ))" ]; then
    t0=$SECONDS
    "${PSQL[@]}" "$URL" -v hthreads="$HTHREADS" -v hitems="$HITEMS" -f "$BENCH_DIR/gen_history.sql" >&2
    bench_say "loaded the history user in $(( SECONDS - t0 )) s"
fi

bench_service_start "$BIN" "$TMP/svc.log" --database-url "$URL" --jwt-secret "$SECRET" \
    --pool-size "$POOL" --no-access-log --no-migrate
SVC=$SVC_PID
: >"$TMP/rows"
for w in $WORKLOADS; do
    "$LOADGEN" --port "$SVC_PORT" --jwt-secret "$SECRET" --users "$USERS" --threads "$THREADS" \
        --items "$ITEMS" --big-items "$BIG" --label "$w" --workload "$w" \
        --connections "$CONNS" --duration "$DUR" --warmup "$WARM" >"$TMP/out" 2>&1 || true
    cat "$TMP/out"
    grep '^RESULT' "$TMP/out" >>"$TMP/rows" || bench_die "no RESULT for $w"
done
echo
echo "# history user: $HTHREADS threads, $(( HTHREADS * HITEMS )) items; $CONNS clients, pool $POOL, ${DUR}s each"
echo "| workload | req/s | p50 ms | p99 ms | p99.9 ms | errors |"
echo "|---|---|---|---|---|---|"
awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
       printf "| %s | %s | %s | %s | %s | %s |\n", v["label"], v["ops_s"], v["p50_ms"],
              v["p99_ms"], v["p999_ms"], v["errors"] }' "$TMP/rows"

[ "$PLANS" = 1 ] || exit 0
# plan NAME ARGS...: EXPLAIN (ANALYZE, BUFFERS) of the generic plan of the service's own
# statement (its text from bench/sqltext, parameters untyped as the service sends them).
plan() {
    local name=$1 sql args=
    shift
    sql=$("$SQLTEXT" "$name") || bench_die "no statement $name"
    for a in "$@"; do args+="${args:+, }'${a//\'/\'\'}'"; done
    echo "## $name ($*)"
    "${PSQL[@]}" "$URL" <<SQL
SET plan_cache_mode = force_generic_plan;
PREPARE s AS $sql;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE s($args);
SQL
}
echo
echo "# plans (generic, as the prepared statements run; EXPLAIN (ANALYZE, BUFFERS))"
plan t2_u_first_desc 8000000 '{}' 21 -1
plan t2_u_first_desc 8000000 '{"m":{"project":"p7"}}' 21 -288230376153939969
plan threads_count 8000000 '{"m":{"project":"p7"}}'
plan threads_count 8000000 '{}'
plan threads_count 8000000 '{"m":{"project":"p7"},"s":"active"}'
plan search 8000000 simple ticket4242 'Infinity:9223372036854775807' 21
