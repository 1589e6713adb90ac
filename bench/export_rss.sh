#!/usr/bin/env bash
# Peak RSS of the service while a slow client downloads the 1,000,000-item thread:
#   THREADSTORE_BIN=build/threadstore DATABASE_URL=<bench database> bash bench/export_rss.sh
# Needs the bench data set (bash bench/run.sh --keep-pg loads it). The client reads 64 KiB,
# then pauses 4 ms (PAUSE_MS), so the service must hold the stream back for it.
set -euo pipefail
BIN=${THREADSTORE_BIN:-build/threadstore}
DB=${DATABASE_URL:?set DATABASE_URL to the bench database}
SECRET=export-rss-secret-0123456789
USER_ID=9000000 # the long thread's owner in gen.sql
THREAD=$(psql "$DB" -Atc "SELECT thread_id FROM items WHERE user_id = '$USER_ID' LIMIT 1")
"$BIN" --listen 127.0.0.1:0 --database-url "$DB" --jwt-secret "$SECRET" --no-access-log \
    2> /tmp/export-rss.log &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
until grep -q 'msg=listening' /tmp/export-rss.log; do sleep 0.1; done
port=$(grep -o 'addr=[0-9.]*:[0-9]*' /tmp/export-rss.log | head -1 | cut -d: -f2)
token=$("$BIN" dev-token --sub "$USER_ID" --jwt-secret "$SECRET")
echo "idle VmRSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
python3 - "$port" "$token" "$THREAD" "${PAUSE_MS:-4}" <<'PY'
import socket, sys, time
port, token, thread, pause = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(("GET /v1/threads/%s/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
           % (thread, token)).encode())
n, tail, t0 = 0, b"", time.time()
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    n += len(chunk)
    tail = (tail + chunk)[-16:]
    if tail.endswith(b"\r\n0\r\n\r\n"):
        break
    time.sleep(pause / 1000)
print("downloaded %d bytes in %.1f s" % (n, time.time() - t0))
PY
echo "peak VmHWM: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
