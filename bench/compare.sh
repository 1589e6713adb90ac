#!/usr/bin/env bash
# bench/compare.sh: two threadstore binaries side by side, in one run, on the bench data set.
#
#   bash bench/compare.sh --base OLD_BIN [--bin NEW_BIN] [--workloads "w1 w3"] [--rounds 3]
#
# Both services run at once on the same PostgreSQL (the private cluster of run.sh, or
# --database-url); each round runs every workload against the base, then the new binary, so
# the machine's noise falls on both alike. Prints, per workload and binary, the requests/s of
# each round, the median, and the service's own CPU per request (utime+stime over requests),
# then the ratio new/base of the medians. Same data set options as run.sh; --help lists them.
# A binary built from an older commit works as the base: the data set and the API are the same.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USERS=1000 THREADS=100 ITEMS=10 BIG=1000000 DUR=10 WARM=2 CONNS=1000 POOL=4 ROUNDS=3
DB=threadstore_bench PG_PORT=25470 WORK=$BENCH_DIR/.work SERVER_URL= BASE= BIN= LOADGEN=
WORKLOADS="w1" EXTRA=() NEW_EXTRA=() METRICS= BASE_DB=
SECRET=threadstore-bench-secret-not-for-production

usage() {
    cat <<EOF
usage: bash bench/compare.sh --base BIN [options]
  --base BIN           the binary to compare against (required)
  --bin BIN            the new binary (default: build-bench/threadstore, built Release)
  --workloads "W ..."  loadgen workloads (default "$WORKLOADS"; see loadgen --help)
  --rounds N           rounds (default $ROUNDS); --duration S (default $DUR); --warmup S ($WARM)
  --connections N      client connections (default $CONNS); --pool-size N (default $POOL)
  --users N --threads T --items M --big-items K   the data set (as run.sh; loaded if missing)
  --database-url URL   use this server instead of the private cluster on --pg-port ($PG_PORT)
  --service-arg ARG    one more flag for both services (repeatable)
  --new-arg ARG        one more flag for the new binary's service only (repeatable)
  --metrics REGEX      at the end, print the new service's /metrics lines matching REGEX
  --db NAME            the database (default $DB)
  --base-db NAME       the base service uses this database of the same server instead (a
                       copy prepared by the caller, e.g. without an index: --base may then be
                       the same binary as --bin)
EOF
}
while [ $# -gt 0 ]; do
    case $1 in
        --base) BASE=$2; shift ;;
        --bin) BIN=$2; shift ;;
        --loadgen) LOADGEN=$2; shift ;;
        --workloads) WORKLOADS=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --duration) DUR=$2; shift ;;
        --warmup) WARM=$2; shift ;;
        --connections) CONNS=$2; shift ;;
        --pool-size) POOL=$2; shift ;;
        --users) USERS=$2; shift ;;
        --threads) THREADS=$2; shift ;;
        --items) ITEMS=$2; shift ;;
        --big-items) BIG=$2; shift ;;
        --database-url) SERVER_URL=$2; shift ;;
        --pg-port) PG_PORT=$2; shift ;;
        --service-arg) EXTRA+=("$2"); shift ;;
        --new-arg) NEW_EXTRA+=("$2"); shift ;;
        --metrics) METRICS=$2; shift ;;
        --base-db) BASE_DB=$2; shift ;;
        --db) DB=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option $1" ;;
    esac
    shift
done
[ -n "$BASE" ] && [ -x "$BASE" ] || { usage >&2; bench_die "--base must name a binary"; }
if [ -z "$BIN" ] || [ -z "$LOADGEN" ]; then
    bench_say "building build-bench/ (Release)"
    cmake -S "$BENCH_ROOT" -B "$BENCH_ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BENCH_ROOT/build-bench" -j2 --target threadstore loadgen >/dev/null
    BIN=${BIN:-$BENCH_ROOT/build-bench/threadstore}
    LOADGEN=${LOADGEN:-$BENCH_ROOT/build-bench/bench/loadgen}
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do bench_service_stop "$p"; done
    if [ -z "$SERVER_URL" ] && [ "${BENCH_PG_STARTED:-0}" = 1 ]; then bench_pg_stop "$WORK"; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ -z "$SERVER_URL" ]; then
    bench_pg_start "$WORK" "$PG_PORT"
    ADMIN_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
else
    ADMIN_URL=$SERVER_URL
fi
bench_createdb "$ADMIN_URL" "$DB"
URL=$(bench_url_with_db "$ADMIN_URL" "$DB")
"$BIN" migrate --database-url "$URL" >"$TMP/migrate.log" 2>&1 ||
    { cat "$TMP/migrate.log" >&2; bench_die "threadstore migrate failed"; }
if [ "$(bench_dataset "$URL")" != "$USERS $THREADS $ITEMS $BIG" ]; then
    bench_load "$URL" "$USERS" "$THREADS" "$ITEMS" "$BIG"
fi

ARGS=(--database-url "$URL" --jwt-secret "$SECRET" --pool-size "$POOL" --no-access-log
      --no-migrate "${EXTRA[@]}")
BASE_ARGS=("${ARGS[@]}")
[ -z "$BASE_DB" ] || BASE_ARGS[1]=$(bench_url_with_db "$ADMIN_URL" "$BASE_DB")
bench_service_start "$BASE" "$TMP/base.log" "${BASE_ARGS[@]}"
BASE_PID=$SVC_PID BASE_PORT=$SVC_PORT; PIDS+=("$SVC_PID")
bench_service_start "$BIN" "$TMP/new.log" "${ARGS[@]}" "${NEW_EXTRA[@]}"
NEW_PID=$SVC_PID NEW_PORT=$SVC_PORT; PIDS+=("$SVC_PID")
HZ=$(getconf CLK_TCK)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# one WHO PID PORT WORKLOAD: a loadgen run; appends "WHO WORKLOAD ops_s cpu_us_per_req".
one() {
    local who=$1 pid=$2 port=$3 w=$4 t0 t1
    t0=$(ticks "$pid")
    "$LOADGEN" --port "$port" --jwt-secret "$SECRET" --users "$USERS" --threads "$THREADS" \
        --items "$ITEMS" --big-items "$BIG" --label "$who-$w" --workload "$w" \
        --connections "$CONNS" --duration "$DUR" --warmup "$WARM" >"$TMP/out" 2>&1 || true
    t1=$(ticks "$pid")
    local line ops n
    line=$(grep '^RESULT' "$TMP/out" | head -n 1)
    [ -n "$line" ] || { cat "$TMP/out" >&2; bench_die "loadgen gave no RESULT for $who $w"; }
    ops=$(sed -n 's/.* ops_s=\([0-9.]*\).*/\1/p' <<<"$line")
    n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")
    awk -v who="$who" -v w="$w" -v o="$ops" -v n="${n:-0}" -v t=$(( t1 - t0 )) -v hz="$HZ" \
        -v d="$DUR" -v wu="$WARM" 'BEGIN {
            # ticks cover warm-up + measured time; scale the measured requests to match
            req = n * (d + wu) / d
            printf "%s %s %s %.1f\n", who, w, o, (req > 0 ? t / hz * 1e6 / req : 0) }' >>"$TMP/rows"
    bench_say "$who $w: $(tail -n 1 "$TMP/rows")"
}
: >"$TMP/rows"
for r in $(seq "$ROUNDS"); do
    for w in $WORKLOADS; do
        one base "$BASE_PID" "$BASE_PORT" "$w"
        one new "$NEW_PID" "$NEW_PORT" "$w"
    done
done

echo "# compare: base=$BASE${BASE_DB:+ (database $BASE_DB)} new=$BIN ${NEW_EXTRA[*]} rounds=$ROUNDS duration=${DUR}s connections=$CONNS pool=$POOL"
echo "# workload  who   req/s per round            median   service CPU us/req (median)"
for w in $WORKLOADS; do
    for who in base new; do
        awk -v w="$w" -v who="$who" '$1 == who && $2 == w { printf "%s ", $3 }' "$TMP/rows" >"$TMP/v"
        awk -v w="$w" -v who="$who" '$1 == who && $2 == w { printf "%s ", $4 }' "$TMP/rows" >"$TMP/c"
        med=$(tr ' ' '\n' <"$TMP/v" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        cmed=$(tr ' ' '\n' <"$TMP/c" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        printf '%-10s %-5s %-28s %-8s %s\n' "$w" "$who" "$(cat "$TMP/v")" "$med" "$cmed"
        eval "MED_$who=$med"
    done
    awk -v w="$w" -v b="$MED_base" -v n="$MED_new" \
        'BEGIN { printf "%-10s ratio new/base of medians: %.3f\n", w, (b > 0 ? n / b : 0) }'
done
if [ -n "$METRICS" ]; then
    /usr/bin/python3 -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())' \
        "$NEW_PORT" | grep -E "$METRICS" | grep -v '^#' | sed 's/^/# new: /' || true
fi
