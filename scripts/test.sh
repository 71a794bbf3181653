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

step "tests"
cargo test --workspace
