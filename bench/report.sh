# report.sh: the markdown results page of bench/run.sh (sourced by it; uses its variables
# and the files under $TMP: RESULT lines, runs-table rows, CPU and RSS samples, commands).

# f EXPR...: awk arithmetic, printed with printf format FMT: f FMT a=1 b=2 'a / b'
f() {
    local fmt=$1 expr=${*: -1} vars=()
    shift
    while [ $# -gt 1 ]; do vars+=(-v "$1"); shift; done
    awk "${vars[@]}" "BEGIN { printf \"$fmt\", ($expr) }"
}

# yes/no for a condition evaluated by awk.
met() {
    local vars=()
    while [ $# -gt 1 ]; do vars+=(-v "$1"); shift; done
    awk "${vars[@]}" "BEGIN { print (($1) ? \"**yes**\" : \"**no**\") }"
}

bench_write_report() {
    local cpu_model kernel mem pgver
    cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
    kernel=$(uname -r)
    mem=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
    pgver=$("${PSQL[@]}" "$URL" -tAc "SHOW server_version")
    local pgset
    pgset=$("${PSQL[@]}" "$URL" -tA -F '=' -c "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections', 'jit') ORDER BY name" | tr '\n' ' ')
    local sizes
    sizes=$("${PSQL[@]}" "$URL" -tA -F '|' -c "SELECT (SELECT count(*) FROM threads), (SELECT count(*) FROM items), pg_size_pretty(pg_total_relation_size('threads')), pg_size_pretty(pg_total_relation_size('items'))")
    local llhttp_ver
    llhttp_ver=$(awk '/define LLHTTP_VERSION_(MAJOR|MINOR|PATCH)/ { v = v (v ? "." : "") $3 } END { print v }' \
        /usr/share/include/llhttp/llhttp.h 2>/dev/null)

    cat <<EOF
# threadstore bench results, $(date -u '+%Y-%m-%d %H:%M UTC')

Produced by \`bash bench/run.sh\` (see [bench/README.md](../README.md) for what each figure
means). The load generator, the service and PostgreSQL share the same cores, so absolute
numbers are this machine's; compare ratios measured side by side in this one run.

## Machine, versions, settings

| | |
|---|---|
| machine | ${cpu_model:-unknown CPU}, $(nproc) cores, $mem, Linux $kernel |
| threadstore | commit $COMMIT, $("$BIN" --version 2>&1 | head -n 1), binary \`${BIN#$BENCH_ROOT/}\` |
| PostgreSQL | $pgver; $pgset|
| libraries | libuv $(pkg-config --modversion libuv 2>/dev/null || echo ?), llhttp ${llhttp_ver:-?}, libpq $(pkg-config --modversion libpq 2>/dev/null || echo ?), $(gcc --version 2>/dev/null | head -n 1) |
| data | $USERS users x $THREADS threads x $ITEMS items, plus user 9000000 with a $BIG-item thread: $(echo "$sizes" | awk -F '|' '{ printf "%s thread rows (%s), %s item rows (%s)", $1, $3, $2, $4 }') |
| service | \`threadstore serve $SVC_FLAGS\`: pipeline depth 64 (the default), and a second instance with \`--pipeline-depth 1\` for the comparison |
| runs | $DUR s measured after $WARM s of warm-up each (the many-connections run: $(f %g d="$DUR" 'd * 2') s); pgbench $PGB_SECS s |

EOF

    # ---- targets ----
    local r w1_ok="" ratio_lines="" depth_lines=""
    echo "## Issue 4 targets"
    echo
    echo "| target | measured | met |"
    echo "|---|---|---|"
    local all_ok=1 worst_p99=0 worst_max=0 errs=0
    for r in $(seq "$ROUNDS"); do
        worst_p99=$(f %s a="$worst_p99" b="$(res "w1-r$r" p99_ms)" 'a > b ? a : b')
        worst_max=$(f %s a="$worst_max" b="$(res "w1-r$r" max_ms)" 'a > b ? a : b')
        errs=$(( errs + $(res "w1-r$r" errors) ))
    done
    echo "| W1 at $CONNS connections, closed loop: no errors, p99 < 25 ms, nothing near 2 s | $errs errors; p99 $worst_p99 ms, max $worst_max ms (worst of $ROUNDS rounds); p50 $(res w1-r1 p50_ms) ms at $(res w1-r1 ops_s) req/s | $(met e="$errs" p="$worst_p99" m="$worst_max" 'e == 0 && p < 25 && m < 2000') |"
    local ratios="" pratios="" min_ratio=99
    for r in $(seq "$ROUNDS"); do
        local a b c
        a=$(res "w1-r$r" ops_s); b=$(res "pgbench-r$r" qps); c=$(res "pgbench-pipelined-r$r" qps)
        ratios+="$(f %.2f a="$a" b="$b" 'b > 0 ? a / b : 0') "
        pratios+="$(f %.2f a="$a" c="$c" 'c > 0 ? a / c : 0') "
        min_ratio=$(f %.2f m="$min_ratio" a="$a" b="$b" 'b > 0 && a / b < m ? a / b : m')
    done
    echo "| W1 rate >= 0.9 x pgbench's, same SQL, $POOL connections | W1 / pgbench: ${ratios% } (per round); W1 / pipelined pgbench: ${pratios% } | $(met m="$min_ratio" 'm >= 0.9') |"
    local m_err m_p99 m_end m_rec
    m_err=$(res many errors); m_p99=$(res many p99_ms); m_end=$(res many conns_end); m_rec=$(res many reconnects)
    echo "| $CONNS_MANY keep-alive connections, $RATE_MANY req/s in all: no errors, p99 < 50 ms, RSS < 64 MiB | $m_err errors, $m_end of $CONNS_MANY connections up at the end, $m_rec reconnects; p99 $m_p99 ms; service VmRSS $(f %.1f k="$RSS_MANY" 'k / 1024') MiB while holding them (VmHWM $(f %.1f k="$HWM_MANY" 'k / 1024') MiB) | $(met e="$m_err" p="$m_p99" k="$HWM_MANY" c="$m_end" n="$CONNS_MANY" 'e == 0 && p < 50 && k < 65536 && c == n') |"
    local s50 s99 e50 e99 sr er serr eerr fr
    s50=$(res w2-big-start p50_ms); s99=$(res w2-big-start p99_ms); sr=$(res w2-big-start ops_s); serr=$(res w2-big-start errors)
    e50=$(res w2-big-end p50_ms); e99=$(res w2-big-end p99_ms); er=$(res w2-big-end ops_s); eerr=$(res w2-big-end errors)
    fr=$(res w2-big-first ops_s)
    echo "| W2 at the end of the $BIG-item thread (\`after\`) as fast as at its start (and a page after a cursor at least half as fast as the first page) | start: $sr req/s, p50 $s50 ms, p99 $s99 ms, $serr errors; end: $er req/s, p50 $e50 ms, p99 $e99 ms, $eerr errors; end/start $(f %.2f e="$er" s="$sr" 's > 0 ? e / s : 0'); first page (no cursor): $fr req/s, p99 $(res w2-big-first p99_ms) ms, so a cursor page runs at $(f %.4f s="$sr" r="$fr" 'r > 0 ? s / r : 0')x the first page's rate | $(met s="$sr" e="$er" a="$serr" b="$eerr" r="$fr" 'a == 0 && b == 0 && s > 0 && e >= 0.9 * s && s >= 0.5 * r') |"
    local d_lines=""
    for r in $(seq "$ROUNDS"); do
        d_lines+="round $r: $(res "w1-r$r" ops_s) vs $(res "w1-depth1-r$r" ops_s) req/s ($(f %.2f a="$(res "w1-r$r" ops_s)" b="$(res "w1-depth1-r$r" ops_s)" 'b > 0 ? a / b : 0')x), p99 $(res "w1-r$r" p99_ms) vs $(res "w1-depth1-r$r" p99_ms) ms; "
    done
    echo "| What pipeline mode buys: W1, depth 64 vs depth 1 | ${d_lines%; } | (shown) |"
    echo

    # ---- all runs ----
    cat <<EOF
## Every run

Latencies in ms, per operation (a W3 operation is a whole chat turn of three requests), from
the time the operation was due: in open loop a reply that comes late delays the next request
on that connection, and that wait is counted. "errors" = failed operations (unexpected status,
reset, timeout) + failed connects; see the .log file for statuses.

| run | workload | mode | conns | ops | ops/s | p50 | p90 | p99 | p99.9 | max | errors |
|---|---|---|---|---|---|---|---|---|---|---|---|
EOF
    cat "$ROWS"
    echo
    echo "pgbench, the same statement as W1 (\`-M prepared\`, $POOL clients, \`-j 1\`; the pipelined"
    echo "script sends 16 queries per pipeline, as threadstore keeps many in flight per connection):"
    echo
    echo "| run | queries/s |"
    echo "|---|---|"
    awk '$3 == "workload=pgbench" { sub("label=", "", $2); sub("qps=", "", $4); print "| " $2 " | " $4 " |" }' "$RES"
    echo

    # ---- CPU ----
    cat <<EOF
## Who used the cores

CPU seconds divided by wall seconds over each run (including connect, warm-up and drain):
1.00 is one core busy, $(nproc) is the whole machine. PostgreSQL covers the postmaster and
every backend of the private cluster (not measured when --database-url points elsewhere).
"rest" is the machine's busy time not charged to these three: kernel work in interrupt
context (loopback networking) and **other processes**: another build or test running on the
machine at the same time makes a run's figures worse, so compare runs whose "rest" is alike.

| run | wall s | threadstore | PostgreSQL | load generator / pgbench | rest | idle |
|---|---|---|---|---|---|---|
EOF
    awk -v n="$(nproc)" '{ w = $2 > 0 ? $2 : 1; r = ($6 - $3 - $4 - $5) / w; if (r < 0) r = 0;
        printf "| %s | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", $1, $2, $3 / w, $4 / w, $5 / w, r, n - $6 / w }' "$CPU"
    echo

    # ---- memory ----
    echo "## Service memory (depth-64 instance)"
    echo
    echo "| after run | VmRSS MiB | VmHWM MiB |"
    echo "|---|---|---|"
    awk '$2 != "" { printf "| %s | %.1f | %.1f |\n", $1, $2 / 1024, $3 / 1024 }' "$RSS" | grep -v '^| w1-depth1'
    echo
    echo "Peak (VmHWM) over the whole run: $(f %.1f k="$HWM_END" 'k / 1024') MiB."
    echo

    if [ -n "$ERRLOG$WARNLOG" ]; then
        echo "## Service log: warnings and errors"
        echo
        echo '```'
        [ -n "$WARNLOG" ] && echo "$WARNLOG"
        [ -n "$ERRLOG" ] && echo "$ERRLOG"
        echo '```'
        echo
    fi

    echo "## Commands"
    echo
    echo '```'
    if [ -n "$SERVER_URL" ]; then
        echo "bash bench/run.sh ${RUN_ARGS//"$SERVER_URL"/\$DATABASE_URL}"
    else
        echo "bash bench/run.sh $RUN_ARGS"
    fi
    sed "s|$URL|\$DATABASE_URL|" "$CMDS"
    echo '```'
    echo
    echo "pgbench scripts: [w1.pgbench](w1.pgbench), [w1-pipelined.pgbench](w1-pipelined.pgbench)."
    if [ ${#FAILED[@]} -gt 0 ]; then
        echo
        echo "## Failed steps"
        echo
        printf -- '- %s\n' "${FAILED[@]}"
    fi
}
