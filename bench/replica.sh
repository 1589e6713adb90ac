#!/usr/bin/env bash
# bench/replica.sh: W1 with one read replica vs none, side by side in one run.
#
#   bash bench/replica.sh [--pg-port P] [--replica-port R] [--rounds N] [--duration S]
#                         [compare.sh options]
#
# The private cluster of run.sh (on --pg-port) is the primary; a streaming replica of it is
# made once with pg_basebackup -R (and a replication slot) under bench/.work/replica, on port
# R (default P+1). Both services run the same Release binary on the same primary, at once: "base" alone,
# "new" with --replica-url (so its W1 reads go to the replica). Then bench/compare.sh runs
# their rounds interleaved and prints the ratio, and the new service's replica metrics (where
# its reads went). Both PostgreSQL servers are stopped at the end unless --keep-pg.
# On one machine the replica shares the cores with the primary, the service and the load
# generator: the ratio shows what routing to a replica costs or saves here, not the capacity
# a replica on its own machine adds (docs/SCALING.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=25470 RPORT= WORK=$BENCH_DIR/.work KEEP=0 PASS=()
while [ $# -gt 0 ]; do
    case $1 in
        --pg-port) PG_PORT=$2; shift ;;
        --replica-port) RPORT=$2; shift ;;
        --keep-pg) KEEP=1 ;;
        -h|--help) sed -n 2,16p "$0"; exit 0 ;;
        *) PASS+=("$1") ;;
    esac
    shift
done
RPORT=${RPORT:-$(( PG_PORT + 1 ))}
REP=$WORK/replica

export BENCH_PG_SHARED_BUFFERS=${BENCH_PG_SHARED_BUFFERS:-512MB}
bench_pg_start "$WORK" "$PG_PORT"
stop_all() {
    [ "$KEEP" = 1 ] && return
    bench_as_owner "$PGBIN/pg_ctl" -D "$REP" -m fast -w stop >/dev/null 2>&1 || true
    bench_pg_stop "$WORK"
}
trap stop_all EXIT
ADMIN_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
URL=postgresql://postgres@127.0.0.1:$PG_PORT/threadstore_bench
RURL=postgresql://postgres@127.0.0.1:$RPORT/threadstore_bench
BIN=${BIN:-$BENCH_ROOT/build-bench/threadstore}
LOADGEN=${LOADGEN:-$BENCH_ROOT/build-bench/bench/loadgen}
if [ ! -x "$BIN" ] || [ ! -x "$LOADGEN" ]; then
    bench_say "building build-bench/ (Release)"
    cmake -S "$BENCH_ROOT" -B "$BENCH_ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BENCH_ROOT/build-bench" -j2 --target threadstore loadgen >/dev/null
fi
# The data set first (compare.sh's defaults, a 1000-item long thread: W1 does not read it),
# so that the replica starts with it rather than replaying it during the first round.
bench_createdb "$ADMIN_URL" threadstore_bench
"$BIN" migrate --database-url "$URL" >/dev/null 2>&1 || bench_die "threadstore migrate failed"
if [ "$(bench_dataset "$URL")" != "1000 100 10 1000" ]; then
    bench_load "$URL" 1000 100 10 1000
    bench_as_owner rm -rf "$REP"
fi

if [ ! -f "$REP/PG_VERSION" ]; then
    bench_say "pg_basebackup -R into $REP"
    bench_as_owner rm -rf "$REP"
    "$PGBIN/psql" -X -q "$ADMIN_URL" -c \
        "SELECT pg_drop_replication_slot('bench_replica') FROM pg_replication_slots
         WHERE slot_name = 'bench_replica'" >/dev/null
    bench_as_owner "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$REP" \
        -R -X stream -C -S bench_replica --checkpoint=fast
fi
if ! bench_as_owner "$PGBIN/pg_ctl" -D "$REP" status >/dev/null 2>&1; then
    # the primary's settings came with the copy; later lines win
    bench_as_owner tee -a "$REP/postgresql.auto.conf" >/dev/null <<CONF
port = $RPORT
unix_socket_directories = ''
hot_standby_feedback = on
CONF
    bench_as_owner rm -f "$REP/postmaster.pid"
    bench_as_owner "$PGBIN/pg_ctl" -D "$REP" -l "$WORK/replica.log" -w -t 120 start >/dev/null ||
        { tail -n 20 "$WORK/replica.log" >&2; bench_die "the replica did not start"; }
fi

# caught up before measuring
until [ "$("$PGBIN/psql" -X -A -t "$RURL" -c "SELECT pg_last_wal_replay_lsn() >= '$(
        "$PGBIN/psql" -X -A -t "$URL" -c 'SELECT pg_current_wal_flush_lsn()')'")" = t ]; do
    sleep 0.5
done
bash "$BENCH_DIR/compare.sh" --database-url "$URL" --pg-port "$PG_PORT" --big-items 1000 \
    "${PASS[@]}" --base "$BIN" --bin "$BIN" --loadgen "$LOADGEN" \
    --new-arg --replica-url --new-arg "$RURL" \
    --metrics 'replica|reads_total|served_total'
