#!/usr/bin/env bash
# bench/migrate_time.sh: how long the migrations past 002 take on the bench data, and what
# the traffic of an instance still running the old binary sees meanwhile.
#
#   bash bench/migrate_time.sh --base OLD_BIN [--bin NEW_BIN] [--pg-port P] [--work DIR]
#
# Creates database threadstore_migbench (schema of OLD_BIN, the bench data of run.sh loaded
# once), undoes migrations 003+ if a previous run applied them, serves W1 from OLD_BIN with
# --no-migrate, runs NEW_BIN migrate in the middle of that load, and prints each migration's
# time (from the migrate log) and the W1 result (errors, p99) of the run that spans it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USERS=1000 THREADS=100 ITEMS=10 BIG=1000000 PG_PORT=55470 WORK=$BENCH_DIR/.work
DB=threadstore_migbench BASE= BIN= LOADGEN= CONNS=200 DUR=30
SECRET=threadstore-bench-secret-not-for-production
while [ $# -gt 0 ]; do
    case $1 in
        --base) BASE=$2; shift ;;
        --bin) BIN=$2; shift ;;
        --loadgen) LOADGEN=$2; shift ;;
        --pg-port) PG_PORT=$2; shift ;;
        --work) WORK=$2; shift ;;
        --connections) CONNS=$2; shift ;;
        --duration) DUR=$2; shift ;;
        --users) USERS=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --items) ITEMS=$2; shift ;;
        --big-items) BIG=$2; shift ;;
        *) bench_die "unknown option $1 (see the head of $0)" ;;
    esac
    shift
done
[ -n "$BASE" ] && [ -x "$BASE" ] || bench_die "--base must name a binary"
if [ -z "$BIN" ] || [ -z "$LOADGEN" ]; then
    cmake -S "$BENCH_ROOT" -B "$BENCH_ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BENCH_ROOT/build-bench" -j2 --target threadstore loadgen >/dev/null
    BIN=${BIN:-$BENCH_ROOT/build-bench/threadstore}
    LOADGEN=${LOADGEN:-$BENCH_ROOT/build-bench/bench/loadgen}
fi
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
"$BASE" migrate --database-url "$URL" >"$TMP/base-migrate.log" 2>&1 ||
    { cat "$TMP/base-migrate.log" >&2; bench_die "base migrate failed"; }
if [ "$(bench_dataset "$URL")" != "$USERS $THREADS $ITEMS $BIG" ]; then
    bench_load "$URL" "$USERS" "$THREADS" "$ITEMS" "$BIG"
fi
# Back to schema 002 (catalog-only changes; the data stays).
"${PSQL[@]}" "$URL" >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP INDEX IF EXISTS threads_by_activity, items_search, threads_search, threads_facets;
ALTER TABLE threads DROP COLUMN IF EXISTS updated_us, DROP COLUMN IF EXISTS updated_seq,
    DROP COLUMN IF EXISTS facets, DROP COLUMN IF EXISTS tsv;
ALTER TABLE items DROP COLUMN IF EXISTS tsv;
DROP FUNCTION IF EXISTS threadstore_facets(text), threadstore_jsonb(text),
    threadstore_item_text(text), threadstore_tsvector(regconfig, text) CASCADE;
DELETE FROM threadstore_migrations WHERE version > 2;
SQL
"${PSQL[@]}" "$URL" -tAc "SELECT 'threads ' || count(*) FROM threads" >&2
"${PSQL[@]}" "$URL" -tAc "SELECT 'items ' || count(*) FROM items" >&2

bench_service_start "$BASE" "$TMP/base.log" --database-url "$URL" --jwt-secret "$SECRET" \
    --no-access-log --no-migrate
SVC=$SVC_PID
"$LOADGEN" --port "$SVC_PORT" --jwt-secret "$SECRET" --users "$USERS" --threads "$THREADS" \
    --items "$ITEMS" --big-items "$BIG" --label w1-during-migration --workload w1 \
    --connections "$CONNS" --duration "$DUR" --warmup 2 >"$TMP/load.out" 2>&1 &
LOAD=$!
sleep $(( DUR / 3 + 2 ))
t0=$(date +%s.%N)
"$BIN" migrate --database-url "$URL" >"$TMP/migrate.log" 2>&1 ||
    { cat "$TMP/migrate.log" >&2; bench_die "migrate failed"; }
t1=$(date +%s.%N)
wait "$LOAD" || true
echo "# migrations on $("${PSQL[@]}" "$URL" -tAc "SELECT count(*) FROM threads") threads," \
    "$("${PSQL[@]}" "$URL" -tAc "SELECT count(*) FROM items") items, under W1 at $CONNS connections"
awk -v t0="$t0" '/msg="migration applied"/ {
        match($0, /ts=[^ ]*/); ts = substr($0, RSTART + 3, RLENGTH - 3)
        split(substr(ts, 12, 12), h, ":"); s = h[1] * 3600 + h[2] * 60 + h[3]
        if (prev == "") { cmd = "date -u -d @" t0 " +%H:%M:%S.%N"; cmd | getline st; close(cmd)
            split(st, g, ":"); prev = g[1] * 3600 + g[2] * 60 + g[3] }
        match($0, /name=[^ ]*/); printf "%-28s %8.3f s\n", substr($0, RSTART + 5, RLENGTH - 5), s - prev
        prev = s }' "$TMP/migrate.log"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%-28s %8.3f s\n", "total (migrate command)", b - a }'
grep '^RESULT' "$TMP/load.out" || cat "$TMP/load.out"
