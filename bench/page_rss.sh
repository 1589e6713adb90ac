#!/usr/bin/env bash
# Peak RSS of the service while clients page through a thread of large items (ChatKit's
# generated images as data: URLs) with limit=1000, and export it:
#   THREADSTORE_BIN=build/threadstore DATABASE_URL=<a database> bash bench/page_rss.sh
# Makes (once) user `page-rss` with a thread of ITEMS items of ITEM_KB KiB each (default
# 200 x 2048 KiB: 400 MiB of documents, written straight with SQL as the service stores them),
# then CLIENTS clients at once walk the whole thread page by page with limit=1000 (every
# document read and counted), then one exports it. Prints the idle RSS, the peak (VmHWM) and
# what was read. BASE_BIN=<older binary> runs the same walk against it first, side by side.
set -euo pipefail
BIN=${THREADSTORE_BIN:-build/threadstore}
DB=${DATABASE_URL:?set DATABASE_URL}
ITEMS=${ITEMS:-200} ITEM_KB=${ITEM_KB:-2048} CLIENTS=${CLIENTS:-4}
SECRET=page-rss-secret-0123456789
USER_ID=page-rss THREAD=thr_pagerss1
"$BIN" migrate --database-url "$DB" >/dev/null 2>&1
have=$(psql -X "$DB" -Atc "SELECT count(*) FROM items WHERE user_id = '$USER_ID' AND thread_id = '$THREAD'")
if [ "$have" != "$ITEMS" ]; then
    echo "making $ITEMS items of $ITEM_KB KiB"
    psql -X -q "$DB" -v ON_ERROR_STOP=1 <<SQL
DELETE FROM threads WHERE user_id = '$USER_ID';
INSERT INTO threads (user_id, id, created_us, seq, doc) VALUES ('$USER_ID', '$THREAD',
  1748779200000000, nextval('threadstore_seq'),
  '{"id":"$THREAD","created_at":"2025-06-01T12:00:00","status":{"type":"active"},"metadata":{},"title":"images"}');
-- md5 chains: incompressible, like base64 PNG bytes (TOAST would shrink repeats).
INSERT INTO items (user_id, thread_id, id, created_us, seq, doc)
SELECT '$USER_ID', '$THREAD', 'msg_' || lpad(g::text, 6, '0'), 1748779200000000 + g,
  nextval('threadstore_seq'),
  '{"id":"msg_' || lpad(g::text, 6, '0') || '","thread_id":"$THREAD","created_at":"2025-06-01T12:00:00.'
  || lpad(g::text, 6, '0') || '","type":"generated_image","image":{"id":"img_' || g
  || '","url":"data:image/png;base64,' || (SELECT string_agg(md5(g::text || ':' || k), '')
     FROM generate_series(1, $ITEM_KB * 1024 / 32) k) || '"}}'
FROM generate_series(1, $ITEMS) g;
SQL
fi

walk() { # BIN LABEL: start BIN, walk + export, print RSS figures
    local bin=$1 label=$2 log
    log=$(mktemp)
    "$bin" --listen 127.0.0.1:0 --database-url "$DB" --jwt-secret "$SECRET" --no-access-log \
        --no-migrate 2>"$log" &
    local pid=$!
    until grep -q 'msg=listening' "$log"; do sleep 0.1; done
    local port token
    port=$(grep -o 'addr=[0-9.]*:[0-9]*' "$log" | head -1 | cut -d: -f2)
    token=$("$BIN" dev-token --sub "$USER_ID" --jwt-secret "$SECRET")
    echo "$label idle VmRSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
    python3 - "$port" "$token" "$THREAD" "$CLIENTS" <<'PY'
import http.client, json, sys, threading, time
port, token, thread, clients = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
hdr = {"Authorization": "Bearer " + token}
out = []
def walk():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    after, n, pages, size = None, 0, 0, 0
    while True:
        q = "?limit=1000" + ("&after=" + after if after else "")
        c.request("GET", "/v1/threads/%s/items%s" % (thread, q), headers=hdr)
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body[:200])
        page = json.loads(body)
        n, pages, size = n + len(page["data"]), pages + 1, size + len(body)
        if not page["has_more"]:
            break
        after = page["after"]
    out.append((n, pages, size))
t0 = time.time()
ts = [threading.Thread(target=walk) for _ in range(clients)]
for t in ts: t.start()
for t in ts: t.join()
print("  %d clients paged %s (items, pages, bytes) in %.1f s" % (clients, out[0], time.time() - t0))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
c.request("GET", "/v1/threads/%s/export" % thread, headers=hdr)
r = c.getresponse()
doc = json.loads(r.read())
print("  export: %d items" % len(doc["items"]))
PY
    echo "$label peak VmHWM: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -f "$log"
}
[ -n "${BASE_BIN:-}" ] && walk "$BASE_BIN" base
walk "$BIN" new
