#!/usr/bin/env bash
# bench/run.sh: the whole benchmark in one command (see bench/README.md).
#
#   bash bench/run.sh                 build (Release, build-bench/), private PostgreSQL on
#                                     127.0.0.1:25470 under bench/.work, load the data if it is
#                                     not there yet, run every workload and pgbench, and write
#                                     bench/results/<date>-<commit>.md (+ .log with raw output)
#   bash bench/run.sh --scale 10      10x the users and the long thread
#   bash bench/run.sh --help          every option
#
# Exits non-zero when a step fails to run or to report. Errors measured under load are
# results, not failures, unless --strict (bench/smoke.sh uses it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USERS=1000 THREADS=100 ITEMS=10 BIG=1000000 SCALE=1
DUR=15 WARM=3 CONNS=1000 CONNS_MANY=10000 RATE_MANY=5000 CONNS_BIG=20 CONNS_W3=100 POOL=4
ROUNDS=2 DB=threadstore_bench PG_PORT=25470 WORK=$BENCH_DIR/.work OUT=$BENCH_DIR/results
SERVER_URL= BIN= LOADGEN= STRICT=0 KEEP_PG=0 RELOAD=0 TIMEOUT=10
SECRET=threadstore-bench-secret-not-for-production
RUN_ARGS="$*"

usage() {
    cat <<EOF
usage: bash bench/run.sh [options]
  --scale K            multiply users and the long thread's items by K (default 1)
  --users N --threads T --items M --big-items K
                       data set (default 1000 x 100 x 10, long thread 1000000)
  --reload             reload the data even if the same data set is there
  --duration S         measured seconds per run (default $DUR); --warmup S (default $WARM)
  --rounds N           W1 / pgbench / depth-1 rounds, side by side (default $ROUNDS)
  --connections N      connections for W1, W2, mix (default $CONNS)
  --many N --many-rate R
                       the many-connections run: N connections, R requests/s in all
                       (default $CONNS_MANY at $RATE_MANY/s, i.e. one request per 2 s each)
  --big-connections N  connections for the long-thread runs (default $CONNS_BIG)
  --w3-connections N   connections for the chat-turn run (default $CONNS_W3)
  --pool-size N        the service's PostgreSQL connections = pgbench clients (default $POOL)
  --timeout S          per request (default $TIMEOUT)
  --database-url URL   use this PostgreSQL server (database --db is created on it)
                       instead of the private cluster
  --db NAME            database name (default $DB)
  --pg-port P          private cluster port (default $PG_PORT); --keep-pg leaves it running
  --work DIR           private cluster directory (default bench/.work)
  --bin PATH --loadgen PATH
                       use these binaries instead of building build-bench/
  --out DIR            where the results go (default bench/results)
  --strict             any error, in any run, fails the script
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --scale) SCALE=$2; shift ;;
        --users) USERS=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --items) ITEMS=$2; shift ;;
        --big-items) BIG=$2; shift ;;
        --reload) RELOAD=1 ;;
        --duration) DUR=$2; shift ;;
        --warmup) WARM=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --connections) CONNS=$2; shift ;;
        --many) CONNS_MANY=$2; shift ;;
        --many-rate) RATE_MANY=$2; shift ;;
        --big-connections) CONNS_BIG=$2; shift ;;
        --w3-connections) CONNS_W3=$2; shift ;;
        --pool-size) POOL=$2; shift ;;
        --timeout) TIMEOUT=$2; shift ;;
        --database-url) SERVER_URL=$2; shift ;;
        --db) DB=$2; shift ;;
        --pg-port) PG_PORT=$2; shift ;;
        --work) WORK=$2; shift ;;
        --keep-pg) KEEP_PG=1 ;;
        --bin) BIN=$2; shift ;;
        --loadgen) LOADGEN=$2; shift ;;
        --out) OUT=$2; shift ;;
        --strict) STRICT=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option $1" ;;
    esac
    shift
done
USERS=$(( USERS * SCALE ))
BIG=$(( BIG * SCALE ))
PGB_SECS=$(awk -v d="$DUR" 'BEGIN { s = int(d + 0.5); print (s < 1 ? 1 : s) }')

# ---- build ---------------------------------------------------------------------------------
if [ -z "$BIN" ] || [ -z "$LOADGEN" ]; then
    bench_say "building build-bench/ (Release)"
    cmake -S "$BENCH_ROOT" -B "$BENCH_ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BENCH_ROOT/build-bench" -j2 --target threadstore loadgen >/dev/null
    BIN=${BIN:-$BENCH_ROOT/build-bench/threadstore}
    LOADGEN=${LOADGEN:-$BENCH_ROOT/build-bench/bench/loadgen}
fi
[ -x "$BIN" ] || bench_die "no threadstore binary at $BIN"
[ -x "$LOADGEN" ] || bench_die "no loadgen binary at $LOADGEN"
command -v pgbench >/dev/null || bench_die "pgbench not found (apt-get install postgresql-client-15)"
command -v curl >/dev/null || bench_die "curl not found"

TMP=$(mktemp -d)
SVC_PIDS=()
PGPM=
SAMPLER=
cleanup() {
    local p
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
    for p in "${SVC_PIDS[@]}"; do bench_service_stop "$p"; done
    if [ -z "$SERVER_URL" ] && [ "$KEEP_PG" = 0 ] && [ "${BENCH_PG_STARTED:-0}" = 1 ]; then
        bench_pg_stop "$WORK"
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# ---- PostgreSQL and data -------------------------------------------------------------------
if [ -z "$SERVER_URL" ]; then
    bench_pg_start "$WORK" "$PG_PORT"
    PGPM=$(head -n 1 "$WORK/pg/postmaster.pid")
    ADMIN_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
else
    ADMIN_URL=$SERVER_URL
fi
bench_createdb "$ADMIN_URL" "$DB"
URL=$(bench_url_with_db "$ADMIN_URL" "$DB")
"$BIN" migrate --database-url "$URL" >"$TMP/migrate.log" 2>&1 ||
    { cat "$TMP/migrate.log" >&2; bench_die "threadstore migrate failed"; }
if [ "$RELOAD" = 1 ] || [ "$(bench_dataset "$URL")" != "$USERS $THREADS $ITEMS $BIG" ]; then
    bench_load "$URL" "$USERS" "$THREADS" "$ITEMS" "$BIG"
else
    bench_say "data set $USERS x $THREADS x $ITEMS + $BIG already loaded (--reload to redo)"
fi

# ---- results files -------------------------------------------------------------------------
mkdir -p "$OUT"
COMMIT=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$BENCH_ROOT" status --porcelain -- src include sql 2>/dev/null)" ]; then
    COMMIT="$COMMIT+uncommitted"
fi
STAMP=$(date -u +%Y%m%d-%H%M%S)
MD=$OUT/$STAMP-${COMMIT%%+*}.md
RAW=$OUT/$STAMP-${COMMIT%%+*}.log
RES=$TMP/results   # RESULT lines
ROWS=$TMP/rows     # markdown rows of the runs table
CPU=$TMP/cpu       # label wall_s service_s pg_s client_s machine_busy_s
RSS=$TMP/rss       # label rss_kib hwm_kib
CMDS=$TMP/cmds
: >"$RES"; : >"$ROWS"; : >"$CPU"; : >"$RSS"; : >"$CMDS"; : >"$RAW"
FAILED=()

# ---- the services --------------------------------------------------------------------------
SVC_ARGS=(--database-url "$URL" --jwt-secret "$SECRET" --pool-size "$POOL")
# The access log is one write(2) per request; the bench measures the service without it.
SVC_FLAGS="--pool-size $POOL"
if "$BIN" --help 2>&1 | grep -q -- --no-access-log; then
    SVC_ARGS+=(--no-access-log)
    SVC_FLAGS+=" --no-access-log"
fi
bench_service_start "$BIN" "$TMP/svc64.log" "${SVC_ARGS[@]}"
MAIN_PID=$SVC_PID MAIN_PORT=$SVC_PORT
SVC_PIDS+=("$SVC_PID")
bench_service_start "$BIN" "$TMP/svc1.log" "${SVC_ARGS[@]}" --pipeline-depth 1
D1_PID=$SVC_PID D1_PORT=$SVC_PORT
SVC_PIDS+=("$SVC_PID")
bench_say "threadstore pid $MAIN_PID on :$MAIN_PORT (depth 64), pid $D1_PID on :$D1_PORT (depth 1)"
bench_check_roundtrip "$URL" "$BIN" "$MAIN_PORT" "$SECRET"

# ---- CPU accounting: who used the cores during a run ---------------------------------------
HZ=$(getconf CLK_TCK)
ticks() { # PID [with_children]: utime+stime (+ reaped children's) in ticks
    [ -r "/proc/$1/stat" ] || { echo 0; return; }
    awk -v c="${2:-0}" '{ sub(/^.*\) /, ""); t = $12 + $13; if (c) t += $14 + $15; print t }' "/proc/$1/stat"
}
pg_ticks() { # the whole private cluster: postmaster, reaped backends, live backends
    [ -n "$PGPM" ] || { echo 0; return; }
    local t p
    t=$(ticks "$PGPM" 1)
    for p in $(pgrep -P "$PGPM" || true); do t=$(( t + $(ticks "$p") )); done
    echo "$t"
}
now() { date +%s.%N; }
busy_ticks() { # the whole machine: all CPUs' non-idle ticks
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
# After a client disconnects, its backends' CPU reaches the postmaster's counters only once
# they are reaped: wait (up to 3 s) for the postmaster to be back to N children.
pg_settle() {
    [ -n "$PGPM" ] || return 0
    local i=0
    while [ "$(pgrep -c -P "$PGPM" || true)" -gt "$1" ] && [ $i -lt 30 ]; do
        sleep 0.1; i=$(( i + 1 ))
    done
}

# run_lg LABEL PID PORT ARGS...: one loadgen run against the service PID on PORT.
run_lg() {
    local label=$1 pid=$2 port=$3; shift 3
    local cmd=("$LOADGEN" --port "$port" --jwt-secret "$SECRET" --users "$USERS"
               --threads "$THREADS" --items "$ITEMS" --big-items "$BIG" --label "$label"
               --duration "$DUR" --warmup "$WARM" --timeout "$TIMEOUT" "$@")
    [ "$STRICT" = 1 ] && cmd+=(--max-errors 0)
    echo "${cmd[*]}" | sed "s|$SECRET|\$SECRET|; s|$LOADGEN|loadgen|" >>"$CMDS"
    bench_say "run $label: ${*}"
    local t0 s0 p0 b0 t1 s1 p1 b1 rc=0
    t0=$(now); s0=$(ticks "$pid"); p0=$(pg_ticks); b0=$(busy_ticks)
    "${cmd[@]}" >"$TMP/out" 2>&1 || rc=$?
    t1=$(now); s1=$(ticks "$pid"); p1=$(pg_ticks); b1=$(busy_ticks)
    { echo "\$ ${cmd[*]}" | sed "s|$SECRET|\$SECRET|"; cat "$TMP/out"; echo; } >>"$RAW"
    grep -v '^RESULT\|^MDROW' "$TMP/out" >&2 || true
    if [ $rc != 0 ] && { [ $rc != 3 ] || [ "$STRICT" = 1 ]; }; then
        FAILED+=("$label (loadgen exit $rc)")
    fi
    grep '^RESULT' "$TMP/out" >>"$RES" || FAILED+=("$label (no RESULT line)")
    sed -n 's/^MDROW //p' "$TMP/out" >>"$ROWS"
    local cpu_lg
    cpu_lg=$(sed -n 's/^RESULT .* cpu_s=\([0-9.]*\).*/\1/p' "$TMP/out")
    awk -v l="$label" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v s=$(( s1 - s0 )) -v p=$(( p1 - p0 )) \
        -v c="${cpu_lg:-0}" -v hz="$HZ" -v b=$(( b1 - b0 )) \
        'BEGIN { printf "%s %.2f %.2f %.2f %.2f %.2f\n", l, w, s / hz, p / hz, c, b / hz }' >>"$CPU"
    echo "$label $(bench_rss "$pid")" >>"$RSS"
}

# run_pgbench LABEL SCRIPT PER_TX: pgbench through POOL connections.
run_pgbench() {
    local label=$1 script=$2 per=$3
    local cmd=(pgbench -n -M prepared -f "$script" -c "$POOL" -j 1 -T "$PGB_SECS" "$URL")
    echo "${cmd[*]}" | sed "s|$TMP/||" >>"$CMDS"
    bench_say "run $label: pgbench -c $POOL -T $PGB_SECS $(basename "$script")"
    local t0 p0 b0 t1 p1 b1 n0 rc=0
    n0=$(pgrep -c -P "${PGPM:-0}" || true)
    t0=$(now); p0=$(pg_ticks); b0=$(busy_ticks)
    ( TIMEFORMAT='%U %S'; time "${cmd[@]}" >"$TMP/out" 2>&1 ) 2>"$TMP/time" || rc=$?
    t1=$(now); pg_settle "$n0"; p1=$(pg_ticks); b1=$(busy_ticks)
    { echo "\$ ${cmd[*]}"; cat "$script"; cat "$TMP/out"; echo; } >>"$RAW"
    grep -E 'number of (transactions|failed)|latency average|^tps' "$TMP/out" >&2 || true
    local tps
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$TMP/out")
    if [ $rc != 0 ] || [ -z "$tps" ]; then
        FAILED+=("$label (pgbench exit $rc)")
        tps=0
    fi
    local q
    q=$(awk -v t="$tps" -v p="$per" 'BEGIN { printf "%.1f", t * p }')
    echo "RESULT label=$label workload=pgbench qps=$q" >>"$RES"
    awk -v l="$label" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v p=$(( p1 - p0 )) -v hz="$HZ" \
        -v c="$(awk '{ print $1 + $2 }' "$TMP/time")" -v b=$(( b1 - b0 )) \
        'BEGIN { printf "%s %.2f 0 %.2f %.2f %.2f\n", l, w, p / hz, c, b / hz }' >>"$CPU"
}

# res LABEL KEY: a value from a RESULT line.
res() {
    awk -v l="label=$1" -v k="$2=" '$2 == l { for (i = 3; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }' "$RES"
}

# ---- the runs ------------------------------------------------------------------------------
bench_pgbench_scripts "$TMP" "$USERS"
cp "$TMP/w1.pgbench" "$TMP/w1-pipelined.pgbench" "$OUT/" 2>/dev/null || true

# The many-connections run first, on a fresh service, so its VmHWM is that run's peak.
(   # VmRSS sampled while the connections are held
    max=0
    while kill -0 "$MAIN_PID" 2>/dev/null; do
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$MAIN_PID/status" 2>/dev/null || echo 0)
        [ "${r:-0}" -gt "$max" ] && { max=$r; echo "$max" >"$TMP/rss-many"; }
        sleep 0.2
    done
) &
SAMPLER=$!
run_lg many "$MAIN_PID" "$MAIN_PORT" --workload w1 --connections "$CONNS_MANY" --rate "$RATE_MANY" \
    --duration "$(awk -v d="$DUR" 'BEGIN { print d * 2 }')"
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=
RSS_MANY=$(cat "$TMP/rss-many" 2>/dev/null || echo 0)
HWM_MANY=$(bench_rss "$MAIN_PID" | awk '{print $2}')

for r in $(seq "$ROUNDS"); do
    run_lg "w1-r$r" "$MAIN_PID" "$MAIN_PORT" --workload w1 --connections "$CONNS"
    run_pgbench "pgbench-r$r" "$TMP/w1.pgbench" 1
    run_pgbench "pgbench-pipelined-r$r" "$TMP/w1-pipelined.pgbench" 16
    run_lg "w1-depth1-r$r" "$D1_PID" "$D1_PORT" --workload w1 --connections "$CONNS"
done

# W1 for 1000 users who are not all hammering: open loop at half the closed-loop rate.
W1_RATE=$(awk -v r="$(res w1-r1 ops_s)" 'BEGIN { r = int(r / 2 / 100) * 100; print (r < 100 ? 100 : r) }')
run_lg w1-open "$MAIN_PID" "$MAIN_PORT" --workload w1 --connections "$CONNS" --rate "$W1_RATE"
run_lg w2 "$MAIN_PID" "$MAIN_PORT" --workload w2 --connections "$CONNS"
run_lg w2-big-first "$MAIN_PID" "$MAIN_PORT" --workload w2-big-first --connections "$CONNS_BIG"
run_lg w2-big-start "$MAIN_PID" "$MAIN_PORT" --workload w2-big-start --connections "$CONNS_BIG"
run_lg w2-big-end "$MAIN_PID" "$MAIN_PORT" --workload w2-big-end --connections "$CONNS_BIG"
run_lg w3 "$MAIN_PID" "$MAIN_PORT" --workload w3 --connections "$CONNS_W3"
MIX_RATE=$(awk -v r="$W1_RATE" 'BEGIN { r = int(r / 4 / 100) * 100; print (r < 50 ? 50 : r) }')
run_lg mix "$MAIN_PID" "$MAIN_PORT" --workload mix --connections "$CONNS" --rate "$MIX_RATE"
HWM_END=$(bench_rss "$MAIN_PID" | awk '{print $2}')

# The services must still be alive; stopped now (SIGTERM, graceful), their logs must show
# no error, and a sanitizer build must have reported nothing (leaks are reported at exit).
for p in "$MAIN_PID" "$D1_PID"; do
    kill -0 "$p" 2>/dev/null || FAILED+=("threadstore pid $p died (see the log in $RAW)")
    bench_service_stop "$p"
done
SVC_PIDS=()
# The services' logs, less access lines, go with the raw output.
for f in svc64 svc1; do
    { echo "== threadstore log ($f)"; grep -v 'msg=request ' "$TMP/$f.log" | tail -n 200; } >>"$RAW"
done
ERRLOG=$(grep -h -E 'level=error|AddressSanitizer|LeakSanitizer|runtime error' "$TMP/svc64.log" "$TMP/svc1.log" | head -n 20 || true)
WARNLOG=$(grep -h -o 'level=warn msg="[^"]*"' "$TMP/svc64.log" "$TMP/svc1.log" | sort | uniq -c | sort -rn | head -n 10 || true)
if [ -n "$ERRLOG" ] && [ "$STRICT" = 1 ]; then FAILED+=("threadstore logged errors"); fi

# ---- the report ----------------------------------------------------------------------------
source "$BENCH_DIR/report.sh"
bench_write_report >"$MD"
bench_say "results: $MD"
bench_say "raw output: $RAW"
if [ ${#FAILED[@]} -gt 0 ]; then
    printf 'bench: FAILED: %s\n' "${FAILED[@]}" >&2
    exit 1
fi
