# lib.sh: shell functions shared by bench/run.sh and bench/smoke.sh (sourced, not run).
# Everything talks to 127.0.0.1 only. Functions print progress on stderr as "bench: ...".

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BENCH_ROOT=$(cd "$BENCH_DIR/.." && pwd -P)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

bench_say() { echo "bench: $*" >&2; }
bench_die() { bench_say "error: $*"; exit 1; }

# Runs a command as the owner of the private cluster (postgres refuses to run as root).
bench_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# ---- a private PostgreSQL for run.sh -----------------------------------------------------
# bench_pg_start DIR PORT: initdb DIR/pg once, (re)write its settings, start it, wait.
bench_pg_start() {
    local dir=$1 port=$2 data=$1/pg sock=$1/run
    [ -x "$PGBIN/initdb" ] || bench_die "PostgreSQL 15 is not installed (bash scripts/setup.sh)"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || bench_die "no user postgres (apt-get install postgresql-15)"
        chown postgres: "$dir"
        # User postgres needs search permission on every directory down to $dir.
        local d=$dir
        while [ "$d" != / ]; do
            d=$(dirname "$d")
            bench_as_owner test -x "$d" || { chmod o+x "$d"; bench_say "chmod o+x $d"; }
        done
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        bench_say "initdb $data"
        bench_as_owner rm -rf "$data"
        bench_as_owner "$PGBIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-locale \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; bench_die "initdb failed"; }
    fi
    BENCH_PG_STARTED=0
    if bench_as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        bench_say "PostgreSQL already running in $data"
    else
        BENCH_PG_STARTED=1
        bench_as_owner rm -f "$data/postmaster.pid"
        bench_as_owner mkdir -p "$sock"
        # A unix socket path holds at most 107 bytes: in a deep folder, TCP only.
        local sockdir=$sock
        [ $(( ${#sock} + 20 )) -gt 107 ] && sockdir=
        bench_as_owner tee "$data/postgresql.auto.conf" >/dev/null <<CONF
# written by bench/lib.sh at each start
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
max_connections = 300
shared_buffers = ${BENCH_PG_SHARED_BUFFERS:-2GB}
effective_cache_size = 8GB
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
        bench_say "starting PostgreSQL on 127.0.0.1:$port (log $dir/postgres.log)"
        bench_as_owner "$PGBIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 120 start \
            >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; bench_die "PostgreSQL did not start"; }
    fi
    local i=0
    until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; do
        (( ++i < 120 )) || bench_die "PostgreSQL on port $port is not ready"
        sleep 0.5
    done
}

bench_pg_stop() {
    local data=$1/pg
    bench_as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# ---- databases ----------------------------------------------------------------------------
# bench_url_with_db URL DBNAME: the same server, another database.
bench_url_with_db() {
    local url=$1 db=$2
    if [[ $url =~ ^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
        echo "${BASH_REMATCH[1]}/$db${BASH_REMATCH[4]}"
    else
        echo "$url dbname=$db" # conninfo: the last dbname wins
    fi
}

# bench_createdb URL DBNAME: create DBNAME on URL's server unless it exists.
bench_createdb() {
    local admin
    admin=$(bench_url_with_db "$1" postgres)
    if [ -z "$("${PSQL[@]}" "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$2'")" ]; then
        "${PSQL[@]}" "$admin" -c "CREATE DATABASE $2" >/dev/null
        bench_say "created database $2"
    fi
}

# bench_dataset URL: "users threads items big_items" of the loaded data, or nothing.
bench_dataset() {
    "${PSQL[@]}" "$1" -tAc "SELECT to_regclass('bench_dataset') IS NOT NULL" | grep -q t || return 0
    "${PSQL[@]}" "$1" -tA -F ' ' -c "SELECT users, threads, items, big_items FROM bench_dataset"
}

# bench_load URL USERS THREADS ITEMS BIG_ITEMS: gen.sql, the regular users and the long
# thread in two sessions at once (2 cores), then vacuum, analyze and checks.
bench_load() {
    local url=$1 vars=(-v users="$2" -v threads="$3" -v items="$4" -v big_items="$5")
    local t0=$SECONDS
    "${PSQL[@]}" "$url" "${vars[@]}" -v part=prepare -f "$BENCH_DIR/gen.sql" >/dev/null
    "${PSQL[@]}" "$url" "${vars[@]}" -v part=regular -f "$BENCH_DIR/gen.sql" >/dev/null &
    local p1=$!
    "${PSQL[@]}" "$url" "${vars[@]}" -v part=big -f "$BENCH_DIR/gen.sql" >/dev/null &
    local p2=$!
    local rc=0
    wait $p1 || rc=1
    wait $p2 || rc=1
    [ $rc = 0 ] || bench_die "loading the data failed"
    "${PSQL[@]}" "$url" "${vars[@]}" -v part=finish -P footer=off -f "$BENCH_DIR/gen.sql" >&2 ||
        bench_die "checking the data failed"
    bench_say "loaded $2 users x $3 threads x $4 items + a $5-item thread in $(( SECONDS - t0 )) s"
}

# bench_check_roundtrip URL BIN PORT SECRET: the generated rows are what the service would
# have written. PUT a generated thread and item back unchanged: the service recomputes
# created_us from created_at, and keeps seq only if created_us is unchanged.
bench_check_roundtrip() {
    local url=$1 bin=$2 port=$3 secret=$4 tok row before after user tid iid doc
    row=$("${PSQL[@]}" "$url" -tA -F $'\t' -c "SELECT user_id, id, doc FROM threads WHERE user_id <> '9000000' ORDER BY user_id, created_us LIMIT 1")
    IFS=$'\t' read -r user tid doc <<<"$row"
    tok=$("$bin" dev-token --sub "$user" --jwt-secret "$secret")
    before=$("${PSQL[@]}" "$url" -tAc "SELECT created_us, seq FROM threads WHERE user_id = '$user' AND id = '$tid'")
    curl -sf -o /dev/null -X PUT "http://127.0.0.1:$port/v1/threads/$tid" -H "Authorization: Bearer $tok" \
        -H 'Content-Type: application/json' --data-binary "$doc" || bench_die "PUT thread $tid failed"
    after=$("${PSQL[@]}" "$url" -tAc "SELECT created_us, seq FROM threads WHERE user_id = '$user' AND id = '$tid'")
    [ "$before" = "$after" ] || bench_die "thread $tid: created_us|seq $before became $after through the service"
    row=$("${PSQL[@]}" "$url" -tA -F $'\t' -c "SELECT id, doc FROM items WHERE user_id = '$user' AND thread_id = '$tid' ORDER BY created_us DESC LIMIT 1")
    IFS=$'\t' read -r iid doc <<<"$row"
    before=$("${PSQL[@]}" "$url" -tAc "SELECT created_us, seq FROM items WHERE user_id = '$user' AND thread_id = '$tid' AND id = '$iid'")
    curl -sf -o /dev/null -X PUT "http://127.0.0.1:$port/v1/threads/$tid/items/$iid" -H "Authorization: Bearer $tok" \
        -H 'Content-Type: application/json' --data-binary "$doc" || bench_die "PUT item $iid failed"
    after=$("${PSQL[@]}" "$url" -tAc "SELECT created_us, seq FROM items WHERE user_id = '$user' AND thread_id = '$tid' AND id = '$iid'")
    [ "$before" = "$after" ] || bench_die "item $iid: created_us|seq $before became $after through the service"
    bench_say "generated rows match the service's own (created_us, seq kept on an unchanged PUT)"
}

# ---- the service --------------------------------------------------------------------------
# bench_service_start BIN LOG ARGS...: starts threadstore on a free loopback port; sets
# SVC_PID and SVC_PORT once /readyz answers 200.
bench_service_start() {
    local bin=$1 log=$2; shift 2
    : >"$log" # exists before the background shell opens it
    # Enough descriptors for 10,000 clients (root may raise the hard limit). No balancer in
    # front: stop without the drain delay (a binary older than the flag has none).
    local nodelay=()
    "$bin" --help 2>&1 | grep -q -- --drain-delay && nodelay=(--drain-delay 0)
    ( ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
      exec "$bin" serve --listen 127.0.0.1:0 "${nodelay[@]}" "$@" ) \
        >"$log" 2>&1 &
    SVC_PID=$!
    SVC_PORT=
    local i=0 why=
    while [ -z "$SVC_PORT" ] && [ -z "$why" ]; do
        if ! kill -0 "$SVC_PID" 2>/dev/null; then
            why="threadstore exited"
        elif (( ++i >= 300 )); then
            why="threadstore did not log msg=listening in 30 s"
        else
            SVC_PORT=$(sed -n 's/.*msg=listening addr=[0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -n 1)
            [ -n "$SVC_PORT" ] || sleep 0.1
        fi
    done
    i=0
    while [ -z "$why" ] &&
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SVC_PORT/readyz")" != 200 ]; do
        if (( ++i >= 300 )); then why="threadstore /readyz is not 200 after 30 s"; fi
        sleep 0.1
    done
    if [ -n "$why" ]; then # never leave it running behind us
        kill -TERM "$SVC_PID" 2>/dev/null || true
        tail -n 20 "$log" >&2
        bench_die "$why"
    fi
}

# bench_service_stop PID: SIGTERM, wait (it drains), SIGKILL after 20 s.
bench_service_stop() {
    local pid=$1 i=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        (( ++i < 200 )) || { kill -KILL "$pid" 2>/dev/null; break; }
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
}

# bench_rss PID: "VmRSS VmHWM" in KiB.
bench_rss() {
    awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print r, h}' "/proc/$1/status"
}

# ---- pgbench: the same SQL as W1 ----------------------------------------------------------
# bench_pgbench_scripts DIR USERS: writes DIR/w1.pgbench (one query per transaction) and
# DIR/w1-pipelined.pgbench (16 in one pipeline, as threadstore keeps many in flight).
bench_pgbench_scripts() {
    local dir=$1 last=$(( 1000000 + $2 - 1 ))
    # The statement text is threadstore's threads_first_desc (src/queries.c) exactly: with
    # -M prepared, :uid and :lim become $1 and $2, sent as text like the service sends them.
    local q='SELECT id, doc FROM threads WHERE user_id = :uid ORDER BY created_us DESC, seq DESC LIMIT :lim;'
    printf '\\set uid random(1000000, %d)\n\\set lim 21\n%s\n' "$last" "$q" >"$dir/w1.pgbench"
    {
        printf '\\set lim 21\n\\startpipeline\n'
        for _ in $(seq 16); do
            printf '\\set uid random(1000000, %d)\n%s\n' "$last" "$q"
        done
        printf '\\endpipeline\n'
    } >"$dir/w1-pipelined.pgbench"
}
