#!/usr/bin/env bash
# run.sh — what `make run` does after building: a private PostgreSQL under ./var/pg (kept
# between runs) unless DATABASE_URL points elsewhere, migrations, an admin API key, the
# gateway on 127.0.0.1:3001 (PORT to change) and the worker pool (one process per agent;
# FLOWSTATE_AGENTS to change). Ctrl-C stops everything and exits 0. Every wait has a time limit
# and says what it waited for, so a newcomer never stares at a silent terminal.
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
DB_START_LIMIT=120    # seconds: initdb and the first start of a cluster included
GATEWAY_READY_LIMIT=30

# One-shot gateway commands (--migrate, --create-key) retry the database for 30 s, but libpq
# waits without end for a server that accepts and never answers unless given a connect timeout.
gateway_once() { PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5} "$GATEWAY" "$@"; }

own_db=0
gateway_pid=
pool_pid=

# A gateway that cannot bind exits at once, but whatever holds the port may answer /health (an
# earlier `make run`) or accept and never answer; both misled the wait below. Checked before the
# database starts so a taken port costs seconds, not an initdb.
if timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$PORT" 2>/dev/null; then
    echo "flowstate: port $PORT on $HOST is already in use (an earlier \`make run\`, or another" >&2
    echo "  program). Stop that process, or pick another port: PORT=3002 make run" >&2
    exit 1
fi

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
    # var/ only for the private cluster and its keys: with DATABASE_URL nothing is written here.
    mkdir -p "$VAR"
    chmod 755 "$VAR"
    fresh=0
    [ -d "$VAR/pg/data" ] || fresh=1
    own_db=1 # before the start, so a start cut short is stopped too
    # --foreground keeps pgctl.sh in our process group, where Ctrl-C still reaches it.
    rc=0
    DATABASE_URL=$(timeout --foreground "$DB_START_LIMIT" bash "$ROOT/deploy/pgctl.sh" start "$VAR/pg") || rc=$?
    if [ "$rc" = 124 ]; then
        echo "flowstate: the private PostgreSQL did not start within $DB_START_LIMIT s; see" \
            "var/pg/postgres.log (\`bash deploy/pgctl.sh destroy var/pg\` starts afresh)" >&2
        exit 1
    elif [ "$rc" != 0 ]; then
        echo "flowstate: the private PostgreSQL did not start (pgctl.sh's message is above)" >&2
        exit 1
    fi
    # A new cluster makes any key saved for the old one useless.
    [ "$fresh" = 1 ] && rm -f "$VAR/admin.key" "$VAR/agent.key"
fi
export DATABASE_URL

gateway_once --migrate

key_file=$VAR/admin.key
if [ "$own_db" = 1 ] && [ -s "$key_file" ]; then
    ADMIN_KEY=$(cat "$key_file")
else
    ADMIN_KEY=$(gateway_once --create-key admin --key-name "make run" | tail -n 1)
    if [ "$own_db" = 1 ]; then
        (umask 077 && printf '%s\n' "$ADMIN_KEY" > "$key_file")
    fi
fi

# Its own session, so Ctrl-C reaches only this script, which then stops the gateway with one
# SIGTERM (a second signal would make the gateway exit without draining).
FLOWSTATE_MIGRATE_ON_START=off setsid "$GATEWAY" &
gateway_pid=$!

ready_by=$((SECONDS + GATEWAY_READY_LIMIT))
until curl -fsS --max-time 2 "http://$HOST:$PORT/health" >/dev/null 2>&1; do
    kill -0 "$gateway_pid" 2>/dev/null || { echo "flowstate: the gateway did not start (its log is above)" >&2; exit 1; }
    if [ "$SECONDS" -ge "$ready_by" ]; then
        echo "flowstate: the gateway did not answer http://$HOST:$PORT/health within" \
            "$GATEWAY_READY_LIMIT s (its log is above)" >&2
        exit 1
    fi
    sleep 0.1
done
# Another server that took the port after the check above would have answered instead.
kill -0 "$gateway_pid" 2>/dev/null || { echo "flowstate: the gateway did not start (its log is above)" >&2; exit 1; }

# The workers' key (role agent), made once per cluster like the admin key.
agent_key_file=$VAR/agent.key
if [ "$own_db" = 1 ] && [ -s "$agent_key_file" ]; then
    AGENT_KEY=$(cat "$agent_key_file")
else
    AGENT_KEY=$(gateway_once --create-key agent --key-name "make run workers" | tail -n 1)
    if [ "$own_db" = 1 ]; then
        (umask 077 && printf '%s\n' "$AGENT_KEY" > "$agent_key_file")
    fi
fi
key_note=
[ "$own_db" = 1 ] && key_note="  (saved in var/admin.key)"
BACKEND_API_URL=http://$HOST:$PORT FLOWSTATE_API_KEY=$AGENT_KEY setsid "$POOL" &
pool_pid=$!

cat <<MSG

  Flowstate is running.

    URL        http://$HOST:$PORT
    Admin key  $ADMIN_KEY$key_note
    Workers    ${FLOWSTATE_AGENTS:-one process per agent} (flowstate-pool, pid $pool_pid)

  Try:
    ID=\$(curl -s -X POST http://$HOST:$PORT/api/jobs \\
      -H "Authorization: Bearer $ADMIN_KEY" -H "Content-Type: application/json" \\
      -d '{"targetAgent":"code_analyzer","payload":{"taskType":"ping"}}' | sed 's/{"id":\([0-9]*\).*/\1/')
    curl -s "http://$HOST:$PORT/api/jobs/\$ID?wait=5" -H "Authorization: Bearer $ADMIN_KEY"

  Ctrl-C stops everything.

MSG

# wait returns early when a signal arrives; the trap then stops everything.
while kill -0 "$gateway_pid" 2>/dev/null && kill -0 "$pool_pid" 2>/dev/null; do
    wait -n "$gateway_pid" "$pool_pid" || true
done
kill -0 "$gateway_pid" 2>/dev/null || echo "flowstate: the gateway exited" >&2
kill -0 "$pool_pid" 2>/dev/null || echo "flowstate: the worker pool exited" >&2
exit 1
