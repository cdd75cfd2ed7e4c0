#!/usr/bin/env bash
# run.sh — what `make run` does after building: a private PostgreSQL under ./var/pg (kept
# between runs) unless DATABASE_URL points elsewhere, migrations, an admin API key, and the
# gateway on 127.0.0.1:3001 (PORT to change). Ctrl-C stops everything and exits 0.
# Usage: deploy/run.sh BIN_DIR
set -euo pipefail

BIN=${1:-build/bin}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=$ROOT/var
GATEWAY=$BIN/flowstate-gateway
PORT=${PORT:-3001}
HOST=${FLOWSTATE_HOST:-127.0.0.1}
export PORT FLOWSTATE_HOST=$HOST

own_db=0
gateway_pid=
mkdir -p "$VAR"
chmod 755 "$VAR"

stop_all() {
    local code=${1:-0}
    trap - INT TERM EXIT
    if [ -n "$gateway_pid" ] && kill -0 "$gateway_pid" 2>/dev/null; then
        kill -TERM "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    if [ "$own_db" = 1 ]; then
        bash "$ROOT/deploy/pgctl.sh" stop "$VAR/pg" >/dev/null 2>&1 || true
        echo "flowstate: stopped the gateway and the private PostgreSQL"
    else
        echo "flowstate: stopped the gateway"
    fi
    exit "$code"
}
trap 'stop_all 0' INT TERM
trap 'stop_all $?' EXIT

if [ -z "${DATABASE_URL:-}" ]; then
    fresh=0
    [ -d "$VAR/pg/data" ] || fresh=1
    DATABASE_URL=$(bash "$ROOT/deploy/pgctl.sh" start "$VAR/pg")
    own_db=1
    # A new cluster makes any key saved for the old one useless.
    [ "$fresh" = 1 ] && rm -f "$VAR/admin.key"
fi
export DATABASE_URL

"$GATEWAY" --migrate

key_file=$VAR/admin.key
if [ "$own_db" = 1 ] && [ -s "$key_file" ]; then
    ADMIN_KEY=$(cat "$key_file")
else
    ADMIN_KEY=$("$GATEWAY" --create-key admin --key-name "make run" | tail -n 1)
    if [ "$own_db" = 1 ]; then
        (umask 077 && printf '%s\n' "$ADMIN_KEY" > "$key_file")
    fi
fi

# Its own session, so Ctrl-C reaches only this script, which then stops the gateway with one
# SIGTERM (a second signal would make the gateway exit without draining).
FLOWSTATE_MIGRATE_ON_START=off setsid "$GATEWAY" &
gateway_pid=$!

for _ in $(seq 1 50); do
    curl -fsS "http://$HOST:$PORT/health" >/dev/null 2>&1 && break
    kill -0 "$gateway_pid" 2>/dev/null || { echo "flowstate: the gateway did not start" >&2; exit 1; }
    sleep 0.1
done

cat <<MSG

  Flowstate is running.

    URL        http://$HOST:$PORT
    Admin key  $ADMIN_KEY   (saved in var/admin.key)

  Try:
    curl -s -X POST http://$HOST:$PORT/api/jobs \\
      -H "Authorization: Bearer $ADMIN_KEY" -H "Content-Type: application/json" \\
      -d '{"targetAgent":"code_analyzer","payload":{"type":"ai_task","taskType":"analyze_code"}}'

  Ctrl-C stops everything.

MSG

# wait returns early when a signal arrives; the trap then stops everything.
while kill -0 "$gateway_pid" 2>/dev/null; do
    wait "$gateway_pid" || true
done
echo "flowstate: the gateway exited" >&2
exit 1
