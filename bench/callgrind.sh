#!/usr/bin/env bash
# Instructions the service executes per keep-alive W1 request (list threads), under callgrind:
#   THREADSTORE_BIN=build/threadstore LOADGEN_BIN=build/bench/loadgen \
#   DATABASE_URL=<bench database> USERS=1000 bash bench/callgrind.sh
# A count that does not drift with the machine's noise, unlike CPU seconds. The service
# runs under valgrind; once it is ready the counters are zeroed, loadgen runs W1 for
# DURATION seconds (CONNS keep-alive connections, no warm-up), the counters are dumped,
# and the total is divided by the requests loadgen completed. Start-up, migrations and
# the pool's connects are outside the window. Needs the bench data set (bench/run.sh
# --keep-pg leaves it loaded).
set -euo pipefail
BIN=${THREADSTORE_BIN:-build/threadstore}
LOADGEN=${LOADGEN_BIN:-build/bench/loadgen}
DB=${DATABASE_URL:?set DATABASE_URL to the bench database}
USERS=${USERS:-1000}
CONNS=${CONNS:-10}
DURATION=${DURATION:-10}
SECRET=threadstore-bench-secret-not-for-production
OUT=$(mktemp -d /tmp/callgrind.XXXXXX)
[ -n "${KEEP:-}" ] && echo "callgrind: output kept in $OUT"
valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" "$BIN" --listen 127.0.0.1:0 \
    --database-url "$DB" --jwt-secret "$SECRET" --no-access-log --pool-size "${POOL:-4}" \
    2> "$OUT/service.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
for _ in $(seq 600); do grep -q 'msg=listening' "$OUT/service.log" && break; sleep 0.1; done
port=$(grep -o 'addr=[0-9.]*:[0-9]*' "$OUT/service.log" | head -1 | cut -d: -f2)
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done
callgrind_control --zero "$pid" >/dev/null
"$LOADGEN" --port "$port" --jwt-secret "$SECRET" --users "$USERS" --workload w1 \
    --connections "$CONNS" --duration "$DURATION" --warmup 0 > "$OUT/lg.out" 2>&1 || true
callgrind_control --dump=w1 "$pid" >/dev/null
requests=$(sed -n 's/^RESULT .* requests=\([0-9]*\).*/\1/p' "$OUT/lg.out")
errors=$(grep -o 'errors *[0-9]*' "$OUT/lg.out" | head -1 | grep -o '[0-9]*$' || echo '?')
dump=$(ls "$OUT"/cg.out.* | head -1)
ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$dump")
[ -n "$requests" ] && [ "$requests" -gt 0 ] || { cat "$OUT/lg.out"; exit 1; }
echo "callgrind: $requests W1 requests ($CONNS keep-alive connections, errors $errors), $ir instructions"
echo "callgrind: $(( ir / requests )) instructions per request"
if [ -n "${TOP:-}" ]; then
    callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | sed -n "/^Ir /,\$p" | head -n "$((TOP + 4))"
fi
