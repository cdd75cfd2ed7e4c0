#!/bin/sh
# Installs the Debian packages `make bench` needs beyond `make deps` (wrk, gnuplot; with
# --peers also npm, which installs the peers and Node 22 from the npm registry), when they
# are missing. As root it runs apt-get; otherwise it prints the command and fails.
set -eu
PACKAGES="wrk gnuplot-nox python3-psycopg2 libevent-dev libpq-dev pkg-config"
if [ "${1:-}" = "--peers" ] && ! command -v npm >/dev/null 2>&1; then
    PACKAGES="$PACKAGES npm"
fi
missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# gnuplot-nox or any other gnuplot build will do
case "$missing" in *gnuplot-nox*) command -v gnuplot >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ gnuplot-nox//') ;; esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "flowstate bench: missing Debian packages:$missing" >&2
    echo "flowstate bench: install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "flowstate bench: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
