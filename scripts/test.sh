#!/usr/bin/env bash
# Run the whole test suite on SQLite and on a throwaway PostgreSQL server started here.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ]; then
  echo "PostgreSQL binaries missing: installing the postgresql package" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# The browser tests drive Debian's Chromium (tests/web/browser): install it when missing.
if ! [ -x /usr/bin/chromium ]; then
  echo "Chromium missing: installing the chromium package" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

workdir=$(mktemp -d /tmp/leadlink-pg.XXXXXX)
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() {
  # initdb refuses to run as root: use the postgres system user when we are root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$workdir"; fi
as_pg "$pgbin/initdb" -D "$workdir/data" -A trust -U postgres -E UTF8 --no-locale >/dev/null
as_pg "$pgbin/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w -o \
  "-p $port -k $workdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null
stop() {
  as_pg "$pgbin/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap stop EXIT
echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

export LEADLINK_TEST_PG="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
export LEADLINK_REQUIRE_PG=1
export LEADLINK_REQUIRE_BROWSER=1  # no Chromium is a failure here, not a skip
set +e
# Two workers by default (pytest-xdist; every test makes its own database, so they can share
# the server): the suite is CPU-bound and this machine has two cores. PYTEST_WORKERS=0: serial.
"$PY" -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test: that is not a failure of the suite.
if [ "$rc" = 5 ]; then rc=0; fi
exit "$rc"
