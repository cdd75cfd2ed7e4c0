#!/bin/sh
# Installs the Debian packages Flowstate builds, runs and tests with, when they are missing;
# with arguments, those packages instead (tests/bench/deps.sh passes the benchmark's).
# As root it runs apt-get; otherwise it prints the command to run and fails. wordnet-base and
# wordnet-dev are the default embedder's lexical database and C library (docs/memory.md).
set -eu

PACKAGES="build-essential pkg-config libevent-dev libpq-dev libcjson-dev libcurl4-openssl-dev
libssl-dev postgresql postgresql-contrib python3 python3-pytest python3-requests
python3-psycopg2 curl iproute2 procps wordnet-base wordnet-dev"
[ $# -gt 0 ] && PACKAGES="$*"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "flowstate: missing Debian packages:$missing" >&2
    echo "flowstate: install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "flowstate: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
