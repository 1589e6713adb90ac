#!/usr/bin/env bash
# Set up, build, start the private PostgreSQL, and run threadstore in the foreground.
# Ctrl-C stops threadstore; PostgreSQL keeps running (bash scripts/pg.sh stop).
#   THREADSTORE_LISTEN      default 127.0.0.1:8080
#   THREADSTORE_JWT_SECRET  default a fixed dev secret (never use it outside a dev machine)
#   THREADSTORE_PG_PORT     default 25432
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/pg.sh start

DATABASE_URL=$(bash scripts/pg.sh url)
LISTEN=${THREADSTORE_LISTEN:-127.0.0.1:8080}
SECRET=${THREADSTORE_JWT_SECRET:-threadstore-dev-secret-not-for-production}
TOKEN=$(build/threadstore dev-token --sub dev-user --ttl 86400 --jwt-secret "$SECRET")

cat <<MSG

threadstore starts on http://$LISTEN (database $DATABASE_URL).
Once the log says msg=listening, try (token for user dev-user, valid 24 h):

  curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:${LISTEN##*:}/v1/threads

Ctrl-C stops it; PostgreSQL keeps running (bash scripts/pg.sh stop).

MSG
# exec: Ctrl-C goes straight to threadstore, which shuts down gracefully.
exec build/threadstore serve --listen "$LISTEN" --database-url "$DATABASE_URL" --jwt-secret "$SECRET"
