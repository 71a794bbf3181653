#!/usr/bin/env bash
# A real S3-compatible server on loopback for the tests of the {PostgreSQL + S3} configuration.
#
#   scripts/s3-server.sh install   build s3s-fs once (cached outside the clone)
#   scripts/s3-server.sh start     install if needed, start on 127.0.0.1, create the test
#                                  bucket, print `export FOLIO_TEST_S3_…=…` lines
#   scripts/s3-server.sh env       print the export lines of the running server
#   scripts/s3-server.sh stop      stop the server this script started
#
# The server is s3s-fs (a Rust crate): an S3 API (SigV4 auth, multipart uploads, ranged GETs,
# ListObjectsV2) over a folder, built from the s3s framework. It comes from a registry this
# machine reaches (the Rust package registry, through cargo), runs without a container, and `cargo install` caches it in
# $FOLIO_TOOLS_DIR, so only the first run on a machine pays for the build (about 4 minutes on
# 2 cores). 0.14.1 is the newest release whose rust-version the machine's toolchain meets.
set -euo pipefail

S3S_VERSION="0.14.1"
TOOLS_DIR="${FOLIO_TOOLS_DIR:-$HOME/.cache/folio/tools}"
ROOT="$TOOLS_DIR/s3s-fs-$S3S_VERSION"
BIN="$ROOT/bin/s3s-fs"
STATE_DIR="${FOLIO_S3_STATE_DIR:-$HOME/.cache/folio/s3-server}"
PID_FILE="$STATE_DIR/pid"
ENV_FILE="$STATE_DIR/env"
BUCKET="folio-test"
ACCESS_KEY="folio-test"
SECRET_KEY="folio-test-secret"

log() { printf '%s\n' "$*" >&2; }

install() {
  if [ -x "$BIN" ]; then
    return
  fi
  log "s3-server: installing s3s-fs $S3S_VERSION into $ROOT (once per machine)"
  mkdir -p "$TOOLS_DIR"
  # A temporary build folder of its own (not the workspace's CARGO_TARGET_DIR): only the
  # binary is kept.
  env -u CARGO_TARGET_DIR cargo install s3s-fs --version "$S3S_VERSION" --locked --features binary \
    --root "$ROOT" --quiet >&2
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The recorded process is alive and is our s3s-fs (not another process that got its pid).
running() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "s3s-fs"
}

start() {
  install
  if running; then
    log "s3-server: already running (pid $(cat "$PID_FILE"))"
    cat "$ENV_FILE"
    return
  fi
  rm -rf "$STATE_DIR/data"
  mkdir -p "$STATE_DIR/data/$BUCKET"
  local port
  port="$(free_port)"
  "$BIN" --host 127.0.0.1 --port "$port" \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" \
    "$STATE_DIR/data" >"$STATE_DIR/log" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      cat >"$ENV_FILE" <<EOF
export FOLIO_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export FOLIO_TEST_S3_BUCKET=$BUCKET
export FOLIO_TEST_S3_ACCESS_KEY=$ACCESS_KEY
export FOLIO_TEST_S3_SECRET_KEY=$SECRET_KEY
EOF
      log "s3-server: s3s-fs listening on 127.0.0.1:$port (pid $(cat "$PID_FILE"))"
      cat "$ENV_FILE"
      return
    fi
    # Only "still alive" here: right after the fork the child may not have exec'd s3s-fs yet,
    # so its command line can still read as this script's.
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      log "s3-server: s3s-fs exited; its log:"
      cat "$STATE_DIR/log" >&2
      exit 1
    fi
    sleep 0.1
  done
  log "s3-server: s3s-fs did not start listening in 10 s"
  stop
  exit 1
}

stop() {
  if running; then
    kill "$(cat "$PID_FILE")" 2>/dev/null || true
    log "s3-server: stopped"
  fi
  rm -f "$PID_FILE" "$ENV_FILE"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  env) running && cat "$ENV_FILE" ;;
  stop) stop ;;
  *)
    log "usage: $0 install|start|env|stop"
    exit 2
    ;;
esac
