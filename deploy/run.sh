#!/usr/bin/env bash
# run.sh — what `make run` does after building: a private PostgreSQL under ./var/pg (kept
# between runs) unless DATABASE_URL points elsewhere, migrations, an admin API key, the
# gateway on 127.0.0.1:3001 (PORT to change) and the worker pool (one process per agent;
# FLOWSTATE_AGENTS to change). Ctrl-C stops everything and exits 0.
# Usage: deploy/run.sh BIN_DIR
set -euo pipefail

BIN=${1:-build/bin}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=$ROOT/var
GATEWAY=$BIN/flowstate-gateway
POOL=$BIN/flowstate-pool
PORT=${PORT:-3001}
HOST=${FLOWSTATE_HOST:-127.0.0.1}
export PORT FLOWSTATE_HOST=$HOST

own_db=0
gateway_pid=
pool_pid=
mkdir -p "$VAR"
chmod 755 "$VAR"

stop_all() {
    local code=${1:-0}
    trap - INT TERM EXIT
    # Workers first (they finish or hand back their jobs and report through the gateway).
    if [ -n "$pool_pid" ] && kill -0 "$pool_pid" 2>/dev/null; then
        kill -TERM "$pool_pid" 2>/dev/null || true
        wait "$pool_pid" 2>/dev/null || true
    fi
    if [ -n "$gateway_pid" ] && kill -0 "$gateway_pid" 2>/dev/null; then
        kill -TERM "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    if [ "$own_db" = 1 ]; then
        bash "$ROOT/deploy/pgctl.sh" stop "$VAR/pg" >/dev/null 2>&1 || true
        echo "flowstate: stopped the workers, the gateway and the private PostgreSQL"
    else
        echo "flowstate: stopped the workers and the gateway"
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
    [ "$fresh" = 1 ] && rm -f "$VAR/admin.key" "$VAR/agent.key"
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

# The workers' key (role agent), made once per cluster like the admin key.
agent_key_file=$VAR/agent.key
if [ "$own_db" = 1 ] && [ -s "$agent_key_file" ]; then
    AGENT_KEY=$(cat "$agent_key_file")
else
    AGENT_KEY=$("$GATEWAY" --create-key agent --key-name "make run workers" | tail -n 1)
    if [ "$own_db" = 1 ]; then
        (umask 077 && printf '%s\n' "$AGENT_KEY" > "$agent_key_file")
    fi
fi
BACKEND_API_URL=http://$HOST:$PORT FLOWSTATE_API_KEY=$AGENT_KEY setsid "$POOL" &
pool_pid=$!

cat <<MSG

  Flowstate is running.

    URL        http://$HOST:$PORT
    Admin key  $ADMIN_KEY   (saved in var/admin.key)
    Workers    ${FLOWSTATE_AGENTS:-one process per agent} (flowstate-pool, pid $pool_pid)

  Try:
    curl -s -X POST http://$HOST:$PORT/api/jobs \\
      -H "Authorization: Bearer $ADMIN_KEY" -H "Content-Type: application/json" \\
      -d '{"targetAgent":"code_analyzer","payload":{"taskType":"ping"}}'
    curl -s "http://$HOST:$PORT/api/jobs/1?wait=5" -H "Authorization: Bearer $ADMIN_KEY"

  Ctrl-C stops everything.

MSG

# wait returns early when a signal arrives; the trap then stops everything.
while kill -0 "$gateway_pid" 2>/dev/null && kill -0 "$pool_pid" 2>/dev/null; do
    wait -n "$gateway_pid" "$pool_pid" || true
done
kill -0 "$gateway_pid" 2>/dev/null || echo "flowstate: the gateway exited" >&2
kill -0 "$pool_pid" 2>/dev/null || echo "flowstate: the worker pool exited" >&2
exit 1
