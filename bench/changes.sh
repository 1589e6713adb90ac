#!/usr/bin/env bash
# bench/changes.sh: the change feed's figures (issue 12) in one run: event latency from a
# write's 2xx on instance A to the event on instance B, RSS with idle streams, W3 with
# subscribers attached against none (rounds alternate; each round also says the CPU per turn
# of the service, of PostgreSQL and of the stream reader). See bench/changes.py and README.md.
#
#   bash bench/changes.sh [--pg-port P] [--rate 1000] [--seconds 10] [--idle 10000]
#                         [--w3-subs 1000] [--w3-users 100] [--w3-conns 100] [--w3-rounds 3]
#                         [--w3-duration 8] [--what latency,rss,w3]
# W3 runs loadgen with --w3-conns connections, one user each (users 0..N-1); the streams are
# spread over the first --w3-users users (1000 streams over 100 users: 10 a writing user;
# --w3-users 1000 --w3-conns 1000: one stream a user, every user writing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=25470 DB=threadstore_bench_changes WORK=$BENCH_DIR/.work ARGS=() WHAT=latency,rss,w3
SECRET=threadstore-bench-secret-not-for-production
USERS=1000 THREADS=10 ITEMS=10 BIG=1000 W3_CONNS=100 W3_DUR=8
BIN=${THREADSTORE_BIN:-$BENCH_ROOT/build/threadstore}
LOADGEN=${LOADGEN_BIN:-$BENCH_ROOT/build/bench/loadgen}
while [ $# -gt 0 ]; do
    case $1 in
        --pg-port) PG_PORT=$2; shift ;;
        --what) WHAT=$2; shift ;;
        --w3-duration) W3_DUR=$2; shift ;;
        --w3-conns) W3_CONNS=$2; shift ;;
        --rate|--seconds|--idle|--w3-subs|--w3-rounds|--w3-users|--users|--conns)
            ARGS+=("$1" "$2"); shift ;;
        *) bench_die "unknown option $1" ;;
    esac
    shift
done
[ -x "$BIN" ] && [ -x "$LOADGEN" ] || bench_die "build first: bash scripts/build.sh (Release in build/)"
bench_pg_start "$WORK" "$PG_PORT"
URL="postgresql://postgres@127.0.0.1:$PG_PORT/$DB"
bench_createdb "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" "$DB"
"$BIN" migrate --database-url "$URL" >/dev/null 2>&1 || bench_die "migrations failed"
if [ "$(bench_dataset "$URL")" != "$USERS $THREADS $ITEMS $BIG" ]; then
    bench_load "$URL" "$USERS" "$THREADS" "$ITEMS" "$BIG"
fi
LOGS=$WORK/changes-logs
mkdir -p "$LOGS"
bench_service_start "$BIN" "$LOGS/a.log" --database-url "$URL" --jwt-secret "$SECRET" \
    --no-access-log --pool-size 4 --max-subscribers 20000
A_PID=$SVC_PID A_PORT=$SVC_PORT
bench_service_start "$BIN" "$LOGS/b.log" --database-url "$URL" --jwt-secret "$SECRET" \
    --no-access-log --pool-size 4 --max-subscribers 20000
B_PID=$SVC_PID B_PORT=$SVC_PORT
trap 'bench_service_stop $A_PID; bench_service_stop $B_PID' EXIT
bench_say "A on $A_PORT, B on $B_PORT; $(nproc) cores; $(git -C "$BENCH_ROOT" rev-parse --short HEAD)"
( ulimit -n 65536 2>/dev/null || true
  python3 "$BENCH_DIR/changes.py" --bin "$BIN" --secret "$SECRET" --a "$A_PORT" --b "$B_PORT" \
    --b-pid "$B_PID" --a-pid "$A_PID" --pg-pid "$(head -1 "$WORK/pg/postmaster.pid")" --database-url "$URL" --what "$WHAT" --loadgen "$LOADGEN" "${ARGS[@]}" \
    --loadgen-arg=--port --loadgen-arg="$A_PORT" --loadgen-arg=--workload --loadgen-arg=w3 \
    --loadgen-arg=--connections --loadgen-arg="$W3_CONNS" --loadgen-arg=--duration \
    --loadgen-arg="$W3_DUR" --loadgen-arg=--warmup --loadgen-arg=2 \
    --loadgen-arg=--users --loadgen-arg="$USERS" --loadgen-arg=--threads --loadgen-arg="$THREADS" \
    --loadgen-arg=--items --loadgen-arg="$ITEMS" --loadgen-arg=--big-items --loadgen-arg="$BIG" \
    --loadgen-arg=--jwt-secret --loadgen-arg="$SECRET" )
bench_say "A: $(grep -c 'level=error' "$LOGS/a.log" || true) error lines; B: $(grep -c 'level=error' "$LOGS/b.log" || true)"
