#!/usr/bin/env bash
# Makes sure the PostgreSQL the tests use is up: the machine's own cluster on 127.0.0.1:5432
# (trust authentication), with a database `test`. Machines of this project's kind start it
# before a session; this starts it again if it was stopped, and creates the database if it
# is missing. With FOLIO_TEST_PG_URL set, that server is the caller's business.
#
#   scripts/postgres.sh ensure
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }

ensure() {
  if [ -n "${FOLIO_TEST_PG_URL:-}" ]; then
    return
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "postgres: not answering on 127.0.0.1:5432; starting the local cluster"
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 100); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 0.1
    done
  fi
  pg_isready -h 127.0.0.1 -p 5432 >&2
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
    log "postgres: creating database test"
    psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >&2
  fi
}

case "${1:-}" in
  ensure) ensure ;;
  *)
    log "usage: $0 ensure"
    exit 2
    ;;
esac
