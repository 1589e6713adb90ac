#!/usr/bin/env bash
# A private PostgreSQL 15 for development and tests, kept under the project folder:
#   .pg/data            the cluster (initdb -A trust: it only listens on 127.0.0.1 and .pg/run)
#   .pg/run             its unix socket directory
#   .pg/postgres.log    its log
# Usage: bash scripts/pg.sh start|stop|status|url
#   THREADSTORE_PG_PORT  TCP port (default 25432: below Linux's ephemeral range, 32768-60999,
#                        where any outgoing connection may hold it; a dev machine may already
#                        have a 5432). A port already taken is an error, said before starting.
# All commands are idempotent. `status` exits 0 when running, 3 when not (as pg_ctl does).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PGDIR=$ROOT/.pg
DATA=$PGDIR/data
SOCK=$PGDIR/run
LOG=$PGDIR/postgres.log
PORT=${THREADSTORE_PG_PORT:-25432}
BIN=/usr/lib/postgresql/15/bin
DB=threadstore

say() { echo "pg.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# PostgreSQL refuses to run as root. Then the cluster belongs to the `postgres` system user
# (created by the postgresql-15 package); otherwise to whoever runs this.
if [ "$(id -u)" = 0 ]; then
    OWNER=postgres
    as_owner() { runuser -u postgres -- "$@"; }
else
    OWNER=$(id -un)
    as_owner() { "$@"; }
fi

# Running = postmaster.pid names a live postgres process. pg_ctl only checks that the pid
# exists, and after a reboot or in a container that pid is often reused by something else.
running() {
    local pid
    pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null) || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]
}

# Can PostgreSQL bind 127.0.0.1:$1? Tried the way the postmaster binds (SO_REUSEADDR): a
# listener or a client socket holding the port (an outgoing connection's ephemeral port)
# makes it fail, and we say so now rather than leave pg_ctl to time out on a dead server.
port_free() {
    /usr/bin/python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
PY
}

# The port of the running server (line 4 of postmaster.pid), else the configured one.
port() {
    if running; then sed -n 4p "$DATA/postmaster.pid"; else echo "$PORT"; fi
}

url() { echo "postgresql://postgres@127.0.0.1:$(port)/$DB"; }

# As root the project may live under /root (mode 700) or anywhere else: give "others" search
# permission (x, not r: nothing becomes listable) on each directory from / down to the project
# that user postgres cannot enter yet, and say so. Top-down, so each test sees its parents fixed.
grant_search() {
    local d=$ROOT dirs=()
    while :; do
        dirs=("$d" "${dirs[@]}")
        [ "$d" = / ] && break
        d=$(dirname "$d")
    done
    for d in "${dirs[@]}"; do
        as_owner test -x "$d" && continue
        chmod o+x "$d"
        say "chmod o+x $d  (so user postgres can reach $PGDIR)"
    done
}

start() {
    [ -x "$BIN/initdb" ] || die "PostgreSQL 15 is not installed: run bash scripts/setup.sh"
    if running; then
        say "already running on port $(port)"
        PORT=$(port)
    else
        if [ "$(id -u)" = 0 ]; then
            id postgres >/dev/null 2>&1 || die "no user postgres: run bash scripts/setup.sh"
            grant_search
        fi
        if [ ! -d "$PGDIR" ]; then
            mkdir "$PGDIR"
            [ "$OWNER" = "$(id -un)" ] || chown "$OWNER:" "$PGDIR"
        fi
        local owner
        owner=$(stat -c %U "$PGDIR")
        [ "$owner" = "$OWNER" ] || die "$PGDIR belongs to $owner, not $OWNER: rm -rf $PGDIR"

        if [ ! -d "$DATA" ]; then
            # initdb into a temporary name: an interrupted initdb never looks like a cluster.
            say "initdb $DATA"
            as_owner rm -rf "$DATA.new"
            as_owner "$BIN/initdb" -D "$DATA.new" -U postgres -A trust -E UTF8 --no-locale \
                >"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log" >&2; die "initdb failed"; }
            # Port and addresses go in threadstore.conf, rewritten at each start (port from env).
            as_owner tee -a "$DATA.new/postgresql.conf" >/dev/null <<'CONF'

# threadstore dev cluster (scripts/pg.sh)
max_connections = 200
shared_buffers = 128MB
include_if_exists = 'threadstore.conf'
CONF
            as_owner mv "$DATA.new" "$DATA"
        fi

        # Not running, so a postmaster.pid left by a crash or a reboot is stale (and its pid may
        # now belong to another process, which would make postgres refuse to start).
        if [ -e "$DATA/postmaster.pid" ]; then
            say "removing stale $DATA/postmaster.pid"
            as_owner rm -f "$DATA/postmaster.pid" "$SOCK"/.s.PGSQL.*
        fi

        # A unix socket path holds at most 107 bytes: in a deep folder, listen on TCP only.
        local sockdir=$SOCK
        if [ $(( ${#SOCK} + 10 + ${#PORT} )) -gt 107 ]; then
            say "$SOCK is too long for a unix socket; TCP only"
            sockdir=
        fi
        if ! port_free "$PORT"; then
            ss -tanp 2>/dev/null | awk -v p=":$PORT" '$4 ~ p"$"' | head -n 3 >&2 || true
            die "port $PORT on 127.0.0.1 is taken (above); choose another with THREADSTORE_PG_PORT=..."
        fi
        as_owner mkdir -p "$SOCK"
        as_owner tee "$DATA/threadstore.conf" >/dev/null <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
CONF
        say "starting PostgreSQL 15 on 127.0.0.1:$PORT (log: $LOG)"
        as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null ||
            { tail -n 20 "$LOG" >&2; die "PostgreSQL did not start (port $PORT taken?)"; }
    fi

    local i=0
    until "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; do
        (( ++i < 60 )) || die "PostgreSQL on port $PORT is not ready after 30 s"
        sleep 0.5
    done

    local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres)
    if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
        "${psql[@]}" -c "CREATE DATABASE $DB"
        say "created database $DB"
    fi
    say "ready: $(url)"
}

stop() {
    if running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        say "stopped"
    else
        say "not running"
    fi
}

status() {
    if running; then
        echo "running: $(url)"
    else
        echo "not running"
        return 3
    fi
}

case ${1:-} in
    start|stop|status|url) "$1" ;;
    *) echo "usage: bash scripts/pg.sh start|stop|status|url" >&2; exit 2 ;;
esac
