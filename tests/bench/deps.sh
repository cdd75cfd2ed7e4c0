#!/bin/sh
# Installs the Debian packages `make bench` needs beyond `make deps` (wrk, gnuplot; with
# --peers also npm, which installs the peers and Node 22 from the npm registry; with
# --instructions valgrind, for `make bench-instructions`), when they
# are missing, through deploy/deps.sh (as root it runs apt-get; otherwise it prints the
# command and fails).
set -eu
PACKAGES="wrk python3-psycopg2 libevent-dev libpq-dev pkg-config"
# gnuplot-nox or any other gnuplot build will do
command -v gnuplot >/dev/null 2>&1 || PACKAGES="$PACKAGES gnuplot-nox"
if [ "${1:-}" = "--peers" ] && ! command -v npm >/dev/null 2>&1; then
    PACKAGES="$PACKAGES npm"
fi
if [ "${1:-}" = "--instructions" ]; then
    PACKAGES="$PACKAGES valgrind"
fi
# shellcheck disable=SC2086
exec sh "$(dirname "$0")/../../deploy/deps.sh" $PACKAGES
