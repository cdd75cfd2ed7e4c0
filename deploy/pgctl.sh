#!/usr/bin/env bash
# pgctl.sh — private, throwaway PostgreSQL clusters for Flowstate development and tests.
#
# A cluster lives entirely inside one directory DIR:
#   DIR/data          the cluster (initdb: trust auth, UTF8, locale C, superuser "postgres")
#   DIR/port          the TCP port it was last started on (reused by the next start when free)
#   DIR/postgres.log  the server log
#   DIR/.s.PGSQL.*    the unix socket
# It listens on 127.0.0.1 only, on a random free port in 20000-60000.
#
# Usage:
#   pgctl.sh start DIR     create the cluster if needed, start it, create database "flowstate",
#                          print the DATABASE_URL (one line on stdout)
#   pgctl.sh stop DIR      stop it (pg_ctl stop -m fast); no error when it is not running
#   pgctl.sh url DIR       print the DATABASE_URL of the running cluster
#   pgctl.sh destroy DIR   stop it and remove DIR
#   pgctl.sh bindir DIR    print the directory of the server binaries it uses (see PGBIN), for
#                          tools that run them directly (tests/bench/instructions.py)
#
# Environment:
#   PGCTL_OPTS   extra server options, e.g. "-c fsync=off -c synchronous_commit=off"
#   PGBIN        directory holding initdb/pg_ctl/postgres/psql (default: newest
#                /usr/lib/postgresql/*/bin, else `pg_config --bindir`, else PATH)
#
# When run as root, the cluster is owned by and run as the "postgres" OS user.
set -euo pipefail

PROG=pgctl.sh
DBNAME=flowstate
PGUSER_NAME=postgres
PORT_MIN=20000
PORT_MAX=60000
START_TRIES=10

die() {
    echo "$PROG: $*" >&2
    exit 1
}

usage() {
    echo "usage: $PROG {start|stop|url|destroy|bindir} DIR" >&2
    exit 2
}

find_pgbin() {
    if [ -n "${PGBIN:-}" ]; then
        [ -x "$PGBIN/pg_ctl" ] || die "PGBIN=$PGBIN has no pg_ctl"
        return
    fi
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && best="$d"   # glob sorts ascending; keep the last (newest)
    done
    # Prefer 15 when present (the version Flowstate is developed against).
    [ -x /usr/lib/postgresql/15/bin/pg_ctl ] && best=/usr/lib/postgresql/15/bin
    if [ -z "$best" ] && command -v pg_config >/dev/null 2>&1; then
        best="$(pg_config --bindir)"
    fi
    if [ -z "$best" ] && command -v pg_ctl >/dev/null 2>&1; then
        best="$(dirname "$(command -v pg_ctl)")"
    fi
    if [ -z "$best" ] || [ ! -x "$best/pg_ctl" ]; then
        die "cannot find PostgreSQL server binaries (install postgresql or set PGBIN)"
    fi
    PGBIN="$best"
}

IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1

# Runs a command as the cluster owner (postgres when we are root), from a directory it can read.
as_owner() {
    if [ "$IS_ROOT" -eq 1 ]; then
        (cd / && runuser -u "$PGUSER_NAME" -- "$@")
    else
        (cd / && "$@")
    fi
}

# Makes DIR and every parent traversable by the postgres user (mktemp dirs are 0700).
make_traversable() {
    local d="$1"
    chmod 755 "$d"
    [ "$IS_ROOT" -eq 1 ] || return 0
    chown "$PGUSER_NAME:" "$d"
    local p
    p="$(dirname "$d")"
    while [ "$p" != "/" ]; do
        if ! runuser -u "$PGUSER_NAME" -- test -x "$p" 2>/dev/null; then
            chmod o+x "$p" || die "cannot make $p traversable for user $PGUSER_NAME"
        fi
        p="$(dirname "$p")"
    done
}

is_running() {
    [ -f "$DATA/PG_VERSION" ] || return 1
    as_owner "$PGBIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

# Port of the running server (postmaster.pid line 4), else the remembered one.
current_port() {
    local p=""
    if [ -f "$DATA/postmaster.pid" ]; then
        p="$(sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true)"
    fi
    if ! [[ "$p" =~ ^[0-9]+$ ]] && [ -f "$DIR/port" ]; then
        p="$(tr -dc 0-9 <"$DIR/port")"
    fi
    [[ "$p" =~ ^[0-9]+$ ]] || return 1
    echo "$p"
}

print_url() {
    local port
    port="$(current_port)" || die "cannot tell the port of the cluster in $DIR"
    echo "postgresql://$PGUSER_NAME@127.0.0.1:$port/$DBNAME"
}

random_port() {
    echo $((PORT_MIN + (RANDOM * 32768 + RANDOM) % (PORT_MAX - PORT_MIN + 1)))
}

# True when something already listens on 127.0.0.1:PORT (best effort; the bind decides).
port_busy() {
    local port="$1"
    if command -v ss >/dev/null 2>&1; then
        ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
        return 1
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    return 1
}

# Shows the end of the server log, from byte LOG_FROM (the start of this attempt) when set.
LOG_FROM=1
log_tail() {
    if [ -f "$DIR/postgres.log" ]; then
        echo "--- last lines of $DIR/postgres.log ---" >&2
        tail -c +"$LOG_FROM" "$DIR/postgres.log" 2>/dev/null | tail -n 25 >&2 || true
    fi
}

psql_owner() {
    local port="$1"
    shift
    as_owner "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -U "$PGUSER_NAME" \
        -d postgres "$@"
}

cmd_start() {
    # The unix socket path must fit in sockaddr_un (107 bytes).
    if [ $((${#DIR} + 16)) -gt 107 ]; then
        die "DIR is too long for a unix socket path (${#DIR} characters): $DIR"
    fi
    case "$DIR" in *[\'\"\\]*) die "DIR must not contain quotes or backslashes: $DIR" ;; esac

    mkdir -p "$DIR"
    make_traversable "$DIR"

    if is_running; then
        print_url
        return
    fi

    if [ ! -f "$DATA/PG_VERSION" ]; then
        if [ -e "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
            die "$DATA exists but holds no PostgreSQL cluster; remove it or pick another DIR"
        fi
        local nosync=()
        case " ${PGCTL_OPTS:-} " in *fsync=off*) nosync=(--no-sync) ;; esac
        [ "$IS_ROOT" -eq 1 ] && chown "$PGUSER_NAME:" "$DIR"
        if ! as_owner "$PGBIN/initdb" -D "$DATA" -U "$PGUSER_NAME" -A trust -E UTF8 \
            --locale=C "${nosync[@]}" >"$DIR/initdb.log" 2>&1; then
            echo "$PROG: initdb failed in $DATA:" >&2
            tail -n 25 "$DIR/initdb.log" >&2 || true
            exit 1
        fi
        rm -f "$DIR/initdb.log"
    fi

    [ "$IS_ROOT" -eq 1 ] && touch "$DIR/postgres.log" && chown "$PGUSER_NAME:" "$DIR/postgres.log"

    local port="" try log_start last_err=""
    if [ -f "$DIR/port" ]; then
        port="$(tr -dc 0-9 <"$DIR/port")"
        if ! [[ "$port" =~ ^[0-9]+$ ]] || port_busy "$port"; then
            port=""
        fi
    fi
    for ((try = 1; try <= START_TRIES; try++)); do
        if [ -z "$port" ]; then
            port="$(random_port)"
            while port_busy "$port"; do port="$(random_port)"; done
        fi
        log_start=$(($(stat -c %s "$DIR/postgres.log" 2>/dev/null || echo 0) + 1))
        LOG_FROM=$log_start
        if as_owner "$PGBIN/pg_ctl" start -D "$DATA" -w -t 60 -l "$DIR/postgres.log" \
            -o "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$DIR' -c max_connections=200 ${PGCTL_OPTS:-}" \
            >/dev/null 2>"$DIR/pg_ctl.err"; then
            rm -f "$DIR/pg_ctl.err"
            echo "$port" >"$DIR/port"
            break
        fi
        last_err="$(cat "$DIR/pg_ctl.err" 2>/dev/null || true)"
        if tail -c +"$log_start" "$DIR/postgres.log" 2>/dev/null |
            grep -qiE 'could not bind|address already in use|could not create any TCP/IP sockets'; then
            port=""   # port taken between the check and the bind: pick another one
            continue
        fi
        echo "$PROG: PostgreSQL failed to start in $DATA (port $port)" >&2
        [ -n "$last_err" ] && echo "$last_err" >&2
        log_tail
        rm -f "$DIR/pg_ctl.err"
        exit 1
    done
    if ! is_running; then
        echo "$PROG: PostgreSQL failed to start in $DATA: no free port after $START_TRIES tries" >&2
        [ -n "$last_err" ] && echo "$last_err" >&2
        log_tail
        rm -f "$DIR/pg_ctl.err"
        exit 1
    fi

    local have
    have="$(psql_owner "$port" -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" ||
        { echo "$PROG: cannot query the new cluster" >&2; log_tail; exit 1; }
    if [ "$have" != "1" ]; then
        psql_owner "$port" -c "CREATE DATABASE $DBNAME" >/dev/null ||
            { echo "$PROG: cannot create database $DBNAME" >&2; log_tail; exit 1; }
    fi
    print_url
}

cmd_stop() {
    [ -d "$DIR" ] || return 0
    is_running || return 0
    if ! as_owner "$PGBIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null 2>"$DIR/pg_ctl.err"; then
        echo "$PROG: could not stop PostgreSQL in $DATA:" >&2
        cat "$DIR/pg_ctl.err" >&2 || true
        log_tail
        rm -f "$DIR/pg_ctl.err"
        exit 1
    fi
    rm -f "$DIR/pg_ctl.err"
}

cmd_url() {
    is_running || die "no PostgreSQL is running in $DIR"
    print_url
}

cmd_destroy() {
    [ -e "$DIR" ] || return 0
    # Refuse to delete a directory that does not look like one of ours.
    if [ -n "$(ls -A "$DIR" 2>/dev/null)" ] && [ ! -e "$DIR/data" ] && [ ! -e "$DIR/port" ] &&
        [ ! -e "$DIR/postgres.log" ]; then
        die "$DIR does not look like a pgctl.sh cluster directory; not removing it"
    fi
    cmd_stop
    rm -rf "$DIR"
}

[ $# -eq 2 ] || usage
CMD="$1"
[ -n "$2" ] || usage
DIR="$(realpath -m -- "$2")"
[ "$DIR" != "/" ] || die "refusing to use / as the cluster directory"
DATA="$DIR/data"

case "$CMD" in
start | stop | url | destroy | bindir) ;;
*) usage ;;
esac
find_pgbin

case "$CMD" in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
destroy) cmd_destroy ;;
bindir) echo "$PGBIN" ;;
esac
