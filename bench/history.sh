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
echo
echo "# plans (generic, as the prepared statements run; EXPLAIN (ANALYZE, BUFFERS))"
"${PSQL[@]}" "$URL" <<'SQL'
SET plan_cache_mode = force_generic_plan;
\echo '## thread list by activity, first page (t2_u_first_desc)'
PREPARE l(text, text, text, text) AS
SELECT id, doc, act, n FROM (SELECT *, sum(octet_length(doc)) OVER w AS cum, row_number() OVER w AS rn,
  count(*) OVER () AS n FROM (SELECT id, doc, COALESCE(updated_us, created_us) AS act,
  COALESCE(updated_us, created_us) AS k1, COALESCE(updated_seq, seq) AS k2 FROM threads
  WHERE user_id = $1 AND ($2::text = '{}' OR COALESCE(facets, threadstore_facets(doc)) @> $2::text::jsonb)
  ORDER BY COALESCE(updated_us, created_us) DESC, COALESCE(updated_seq, seq) DESC LIMIT $3::int) p
  WINDOW w AS (ORDER BY k1 DESC, k2 DESC ROWS UNBOUNDED PRECEDING)) b
WHERE rn = 1 OR cum <= $4::bigint ORDER BY k1 DESC, k2 DESC;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE l('8000000', '{}', '21', '8388608');
\echo '## the same with metadata.project=p7 (2% of the threads)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE l('8000000', '{"m":{"project":"p7"}}', '21', '8388608');
\echo '## count, filtered (threads_count_filtered)'
PREPARE c(text, text) AS SELECT count(*) FROM threads
  WHERE threadstore_owned_facets(user_id, doc, facets) @> jsonb_build_object('u', $1::text, 'f', $2::text::jsonb)
  AND (user_id = $1) IS TRUE;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE c('8000000', '{"m":{"project":"p7"}}');
\echo '## count (threads_count)'
PREPARE ca(text) AS SELECT count(*) FROM threads WHERE user_id = $1;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE ca('8000000');
\echo '## search (search): q=ticket4242'
PREPARE s(text, text, text, text, text) AS
SELECT h.thread_id, h.item_id, h.rank, h.seq, h.created_us,
  regexp_replace(left(ts_headline($2::regconfig, left(CASE WHEN h.item_id IS NULL
  THEN threadstore_title(h.doc) ELSE threadstore_item_text(h.doc) END, 100000), s.q,
  'MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=" ... ", StartSel="<mark>", StopSel="</mark>"'),
  600), '<[^>]*$', '') AS snippet
FROM (SELECT websearch_to_tsquery($2::regconfig, $3) AS q) s,
  (SELECT split_part($4::text, ':', 1)::real AS rank, split_part($4::text, ':', 2)::bigint AS seq) c,
  LATERAL (SELECT * FROM (SELECT thread_id, id AS item_id, ts_rank(tsv, s.q) AS rank, seq, created_us, doc
    FROM items WHERE user_id = $1 AND tsv @@ s.q
    UNION ALL SELECT id, NULL, ts_rank(tsv, s.q), seq, created_us, doc FROM threads
    WHERE user_id = $1 AND tsv @@ s.q) a
  WHERE a.rank < c.rank OR (a.rank = c.rank AND a.seq < c.seq)
  ORDER BY a.rank DESC, a.seq DESC LIMIT $5::int) h ORDER BY h.rank DESC, h.seq DESC;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE s('8000000', 'simple', 'ticket4242', 'Infinity:9223372036854775807', '21');
SQL
