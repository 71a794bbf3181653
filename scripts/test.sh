#!/usr/bin/env bash
# The test command: everything CI runs, on a fresh machine, in one go.
#   ./scripts/test.sh
# Installs what the tests need (SDKs for the compatibility tests, a browser, an S3 server)
# through the project's own scripts, starts what it needs and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds live outside the clone so that repeated runs on one machine reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/folio/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

if [ -x scripts/install-test-deps.sh ]; then
  step "test dependencies"
  scripts/install-test-deps.sh
fi

step "test services"
# PostgreSQL (the machine's own) and a real S3 server on loopback, stopped on exit.
scripts/postgres.sh ensure
trap 'scripts/s3-server.sh stop' EXIT
# A plain assignment, so that `set -e` stops here if the server cannot start (a failing command
# substitution inside `eval "$(…)"` would go unnoticed).
s3_env=$(scripts/s3-server.sh start)
eval "$s3_env"

step "tests"
cargo test --workspace

step "tests on PostgreSQL + S3"
# Every integration test again, each on a fresh PostgreSQL schema and S3 bucket prefix.
FOLIO_TEST_BACKEND=postgres-s3 cargo test -p folio --test it
