#!/usr/bin/env bash
# Peak RSS of the service while 100 clients upload a 20 MB item each, all at once:
#   THREADSTORE_BIN=build/threadstore DATABASE_URL=<any database> bash bench/upload_rss.sh [flags...]
# Extra flags go to the service (e.g. --max-body-total 134217728). Each client sends its
# item as a generated image would come from ChatKit (a data: URL in a 20 MB JSON string),
# reads the status, and hangs up. Prints the statuses (201 stored, 503 over the body
# budget, with Retry-After) and the service's VmHWM. The database needs room for what is
# stored (up to 2 GB); the thread is deleted at the end.
set -euo pipefail
BIN=${THREADSTORE_BIN:-build/threadstore}
DB=${DATABASE_URL:?set DATABASE_URL}
CLIENTS=${CLIENTS:-100}
MB=${MB:-20}
SECRET=upload-rss-secret-0123456789
LOG=$(mktemp /tmp/upload-rss.XXXXXX.log)
"$BIN" --listen 127.0.0.1:0 --database-url "$DB" --jwt-secret "$SECRET" --no-access-log \
    --query-timeout 120 "$@" 2> "$LOG" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$LOG"' EXIT
until grep -q 'msg=listening' "$LOG"; do sleep 0.1; done
port=$(grep -o 'addr=[0-9.]*:[0-9]*' "$LOG" | head -1 | cut -d: -f2)
token=$("$BIN" dev-token --sub upload-rss-user --jwt-secret "$SECRET")
echo "idle VmRSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
python3 - "$port" "$token" "$CLIENTS" "$MB" "$pid" <<'PY'
import json, socket, sys, threading, time
port, token, clients, mb, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def request(method, path, body=b""):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
               % (method, path, token, len(body))).encode() + body)
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    return int(data[9:12])

tid = "thr_uploadrss"
assert request("PUT", "/v1/threads/" + tid, json.dumps(
    {"id": tid, "created_at": "2025-01-01T00:00:00Z", "status": {"type": "active"},
     "metadata": {}, "title": "uploads"}).encode()) == 204
image = b"data:image/png;base64," + b"A" * (mb * 1000 * 1000)  # shared by every client
statuses, barrier = [], threading.Barrier(clients)

def upload(i):
    head = json.dumps({"id": "msg_up%05d" % i, "thread_id": tid,
                       "created_at": "2025-01-01T00:00:01Z", "type": "assistant_message",
                       "content": [{"type": "output_text", "annotations": [], "text": "@"}]})
    pre, post = head.encode().split(b"@")
    n = len(pre) + len(image) + len(post)
    barrier.wait()
    try:
        # Expect: 100-continue (curl's way with large bodies): a 503 comes before the body.
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(("POST /v1/threads/%s/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n"
                   "Expect: 100-continue\r\n\r\n" % (tid, token, n)).encode())
        first = s.recv(4096)
        if first.startswith(b"HTTP/1.1 100"):
            s.sendall(pre)
            s.sendall(image)
            s.sendall(post)
            statuses.append(int(s.recv(64)[9:12]))
        else:
            statuses.append(int(first[9:12]))
        s.close()
    except OSError as e:
        statuses.append("closed:" + type(e).__name__)

t0 = time.time()
ts = [threading.Thread(target=upload, args=(i,)) for i in range(clients)]
for t in ts:
    t.start()
for t in ts:
    t.join()
counts = {}
for s in statuses:
    counts[s] = counts.get(s, 0) + 1
print("%d uploads of %d MB in %.1f s: %s" % (clients, mb, time.time() - t0,
      " ".join("%s=%d" % kv for kv in sorted(counts.items(), key=str))))
request("DELETE", "/v1/threads/" + tid)
PY
echo "peak VmHWM: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
