#!/usr/bin/env bash
# Throwaway PostgreSQL server (Debian packages) for the test suite, no Docker.
#
# Usage: deploy/local/postgres.sh up | down [--purge] | status
#
#   up       install PostgreSQL with apt-get if missing, create the cluster once, start it on
#            127.0.0.1 (trust auth, fsync off), create database newsflow_test. Idempotent.
#            Last line printed: postgresql://postgres@127.0.0.1:<port>/newsflow_test
#   down     stop it (pg_ctl stop -m fast). --purge also deletes the cluster.
#   status   exit 0 if it accepts connections, 3 if not.
#
# PostgreSQL refuses to run as root, so as root the server runs as the 'postgres' system user.
#
# Environment:
#   NEWSFLOW_PG_PORT   port (default 15432)
#   NEWSFLOW_RUN_DIR   runtime state root (default <repo>/.run); the cluster (data, socket and
#                      server.log) lives in <root>/postgres. If the postgres user cannot reach that
#                      folder, or its path is too long for a unix socket, the cluster goes to
#                      /tmp/newsflow-pg-<uid>-<port> instead ('up' prints where).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PORT=${NEWSFLOW_PG_PORT:-15432}
RUN_ROOT=${NEWSFLOW_RUN_DIR:-$REPO/.run}
DB=newsflow_test
URL=postgresql://postgres@127.0.0.1:$PORT/$DB

log() { echo "postgres: $*" >&2; }

find_pgbin() {
  local initdb
  initdb=$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)
  [ -n "$initdb" ] && dirname "$(readlink -f "$initdb")"
}

PGBIN=$(find_pgbin || true)

ensure_installed() {
  [ -n "$PGBIN" ] && [ -x "$PGBIN/pg_ctl" ] && return 0
  log "installing postgresql with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(find_pgbin)
}

is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the postgres user when we are root, else as ourselves.
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The cluster directory: <run root>/postgres, unless postgres cannot traverse the run root
# (e.g. a private home directory) or the socket path would exceed the ~107-byte limit.
pick_data_dir() {
  local dir=$RUN_ROOT/postgres
  mkdir -p "$RUN_ROOT"
  if ! as_pg test -x "$RUN_ROOT" || [ ${#dir} -gt 80 ]; then
    dir=/tmp/newsflow-pg-$(id -u)-$PORT
  fi
  echo "$dir"
}

ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U postgres -t 2; }

psql_pg() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

create_db() {
  if [ -z "$(psql_pg -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    psql_pg -c "CREATE DATABASE $DB"
  fi
}

ensure_user() {
  if is_root && ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
  fi
}

init_cluster() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  log "creating cluster in $DATA"
  mkdir -p "$DATA"
  is_root && chown postgres:postgres "$DATA"
  chmod 700 "$DATA"
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
  cat >>"$DATA/postgresql.conf" <<EOF

# Added by deploy/local/postgres.sh: a disposable test server, durability not wanted.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

running() { [ -n "$PGBIN" ] && [ -f "$DATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

up() {
  ensure_installed
  ensure_user
  DATA=$(pick_data_dir)
  if ! running; then
    if ready; then
      log "port $PORT is taken by a server this script did not start; stop it or set NEWSFLOW_PG_PORT"
      exit 1
    else
      init_cluster
      log "starting PostgreSQL ($("$PGBIN/postgres" --version | awk '{print $3}')) on 127.0.0.1:$PORT, data in $DATA"
      as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 -o \
        "-p $PORT -k '$DATA' -c listen_addresses=127.0.0.1" start >/dev/null \
        || { log "start failed"; tail -n 30 "$DATA/server.log" >&2; exit 1; }
    fi
  fi
  local deadline=$((SECONDS + 30))
  until ready; do
    [ $SECONDS -ge $deadline ] && { log "not accepting connections"; tail -n 30 "$DATA/server.log" >&2; exit 1; }
    sleep 0.5
  done
  create_db
  echo "$URL"
}

down() {
  if running; then
    log "stopping"
    as_pg "$PGBIN/pg_ctl" -D "$DATA" stop -m fast -w >/dev/null
  else
    log "not running"
  fi
  if [ "${1:-}" = "--purge" ]; then
    log "deleting $DATA"
    rm -rf "$DATA"
  fi
}

status() {
  if [ -n "$PGBIN" ] && ready; then
    if running; then echo "postgres: running, accepting connections at $URL"
    else echo "postgres: a server not started by this script answers on 127.0.0.1:$PORT"; fi
  else
    echo "postgres: not running"; return 3
  fi
}

DATA=$(pick_data_dir 2>/dev/null)  # recomputed by 'up' once the postgres user surely exists
case "${1:-}" in
  up) up ;;
  down) down "${2:-}" ;;
  status) status ;;
  *) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2 ;;
esac
