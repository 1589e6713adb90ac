#!/usr/bin/env bash
# bench/erase.sh: DELETE /v1/me and GET /v1/me/export of the bench data set's big user
# (user 9000000: one thread of --big-items items, 1,000,000 by default) while the other users
# run W1 in an open loop, and W1's latency with and without it, in one run on one service.
#
#   bash bench/erase.sh [--pg-port P] [--rate R] [--connections N] [--duration S] [--rounds N]
#
# Each round: W1 alone (quiet), W1 while the big user's export streams to /dev/null, W1 while
# the big user is erased, W1 after (autovacuum cleans up then); then the big user is put back
# from a copy made before the first erase (the tables vacuumed, a checkpoint) for the next round. Prints loadgen's RESULT line of each phase, the
# export's and the erase's time, and the longest-running transaction of the service's backends
# seen while the erase ran (sampled every 100 ms). Same data set options as run.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USERS=1000 THREADS=100 ITEMS=10 BIG=1000000 DUR=20 WARM=2 CONNS=200 RATE=5000 POOL=4 ROUNDS=2
DB=threadstore_bench PG_PORT=25470 WORK=$BENCH_DIR/.work BIN= LOADGEN=
SECRET=threadstore-bench-secret-not-for-production
BIGUSER=9000000

while [ $# -gt 0 ]; do
    case $1 in
        --bin) BIN=$2; shift ;;
        --rate) RATE=$2; shift ;;
        --connections) CONNS=$2; shift ;;
        --duration) DUR=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --pool-size) POOL=$2; shift ;;
        --users) USERS=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --items) ITEMS=$2; shift ;;
        --big-items) BIG=$2; shift ;;
        --pg-port) PG_PORT=$2; shift ;;
        -h|--help) sed -n 2,12p "$0"; exit 0 ;;
        *) bench_die "unknown option $1" ;;
    esac
    shift
done
if [ -z "$BIN" ] || [ -z "$LOADGEN" ]; then
    bench_say "building build-bench/ (Release)"
    cmake -S "$BENCH_ROOT" -B "$BENCH_ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BENCH_ROOT/build-bench" -j2 --target threadstore loadgen >/dev/null
    BIN=${BIN:-$BENCH_ROOT/build-bench/threadstore}
    LOADGEN=$BENCH_ROOT/build-bench/bench/loadgen
fi

TMP=$(mktemp -d)
SVC=
cleanup() {
    [ -n "$SVC" ] && bench_service_stop "$SVC"
    if [ "${BENCH_PG_STARTED:-0}" = 1 ]; then bench_pg_stop "$WORK"; fi
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
sql() { psql -X -q -tA "$URL" -v ON_ERROR_STOP=1 -c "$1"; }

# The big user's rows, kept aside once (before any erase) to put back between rounds.
if [ "$(sql "SELECT to_regclass('bench_erase_items') IS NULL")" = t ]; then
    [ "$(sql "SELECT count(*) FROM items WHERE user_id = '$BIGUSER'")" = "$BIG" ] ||
        bench_die "user $BIGUSER does not have its $BIG items: reload the data set"
    bench_say "copying user $BIGUSER aside"
    sql "CREATE TABLE bench_erase_threads AS SELECT * FROM threads WHERE user_id = '$BIGUSER';
         CREATE TABLE bench_erase_items AS SELECT * FROM items WHERE user_id = '$BIGUSER'"
fi
restore() {
    if [ "$(sql "SELECT count(*) FROM items WHERE user_id = '$BIGUSER'")" != "$BIG" ]; then
        bench_say "putting user $BIGUSER back"
        sql "DELETE FROM threads WHERE user_id = '$BIGUSER';
             INSERT INTO threads SELECT * FROM bench_erase_threads;
             INSERT INTO items SELECT * FROM bench_erase_items"
    fi
    local t
    for t in threads items attachments; do sql "VACUUM ANALYZE $t"; done
    sql "CHECKPOINT" # the restore's writes are not flushed during the next phase
    sleep 15         # and what else follows a big write (autovacuum's analyze) settles
}

bench_service_start "$BIN" "$TMP/svc.log" --database-url "$URL" --jwt-secret "$SECRET" \
    --pool-size "$POOL" --no-access-log --no-migrate
SVC=$SVC_PID
TOKEN=$("$BIN" dev-token --jwt-secret "$SECRET" --sub "$BIGUSER" --ttl 86400)
BASE=http://127.0.0.1:$SVC_PORT

w1() { # LABEL: W1 in an open loop; prints its RESULT line
    "$LOADGEN" --port "$SVC_PORT" --jwt-secret "$SECRET" --users "$USERS" --threads "$THREADS" \
        --items "$ITEMS" --big-items "$BIG" --label "$1" --workload w1 --rate "$RATE" \
        --connections "$CONNS" --duration "$DUR" --warmup "$WARM" 2>&1 | grep '^RESULT' || true
}
# The longest transaction of the service's backends, sampled until the file $1 exists.
longest_xact() {
    local max=0 v
    while [ ! -e "$1" ]; do
        v=$(sql "SELECT COALESCE(round(max(extract(epoch FROM clock_timestamp() - xact_start))
                 * 1000), 0) FROM pg_stat_activity WHERE datname = current_database()
                 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                 AND xact_start IS NOT NULL")
        (( v > max )) && max=$v
        sleep 0.1
    done
    echo "$max"
}

echo "# erase/export of user $BIGUSER ($BIG items) under W1: rate=$RATE/s connections=$CONNS" \
     "duration=${DUR}s pool=$POOL rounds=$ROUNDS bin=$BIN"
for r in $(seq "$ROUNDS"); do
    restore
    w1 "quiet-r$r"
    ( sleep "$WARM"; curl -s -o /dev/null -w 'export bytes=%{size_download} s=%{time_total} status=%{http_code}\n' \
        -H "Authorization: Bearer $TOKEN" "$BASE/v1/me/export" >"$TMP/export" ) &
    EXP=$!
    w1 "export-r$r"
    wait "$EXP"
    echo "round $r $(cat "$TMP/export")"
    rm -f "$TMP/done"
    longest_xact "$TMP/done" >"$TMP/xact" &
    SAMPLER=$!
    ( sleep "$WARM"; curl -s -X DELETE -w ' erase s=%{time_total} status=%{http_code}\n' \
        -H "Authorization: Bearer $TOKEN" "$BASE/v1/me" >"$TMP/erase"; touch "$TMP/done" ) &
    ERA=$!
    w1 "erase-r$r"
    wait "$ERA"
    wait "$SAMPLER"
    echo "round $r $(cat "$TMP/erase") longest_xact_ms=$(cat "$TMP/xact")"
    w1 "after-r$r" # autovacuum of what the erase left dead
done
