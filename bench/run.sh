#!/usr/bin/env bash
# Folio's upload benchmark: Folio and its peers, one after another on 127.0.0.1, measured with
# bench/loadgen, then a table of the issue-9 ratios and a chart.
#
#   bench/run.sh                 # everything (about 15 minutes on 2 cores)
#   QUICK=1 bench/run.sh         # short runs, fewer repetitions (about 3 minutes)
#   SCRATCH=/mnt/disk bench/run.sh   # where the servers write (default TMPDIR or /tmp)
#   SERVERS="folio-fsync node-multer" SMALL_SECS=5 bench/run.sh
#
# Servers (SERVERS, in this order by default):
#   folio-fsync    folio serve, default settings (fsync on)
#   folio-nofsync  folio serve with storage.fsync = false
#   folio-pg-s3    folio serve on the machine's PostgreSQL (a fresh schema, PG_URL) and a local
#                  S3 server (scripts/s3-server.sh, s3s-fs): the scale-out configuration
#   nginx-sink     nginx: POST body into a temporary file, then 200 (keeps nothing)
#   nginx-dav      nginx WebDAV: PUT body into a file that is kept
#   node-multer    express + multer + jsonwebtoken (bench/peers/node-multer)
#   dd             dd if=/dev/zero bs=1M conv=fdatasync of the large size: the disk's rate
#
# Each server (dd aside) gets an unrecorded warm-up, then: large = LARGE_REPS single uploads of
# LARGE_SIZE; for Folio also HUGE_REPS uploads of HUGE_SIZE (its peak RSS); small = SMALL_SIZE
# at SMALL_CONC for SMALL_SECS, TIMED_REPS times; medium = MEDIUM_SIZE at MEDIUM_CONC for
# MEDIUM_SECS, TIMED_REPS times. Stored files are deleted and `sync` runs after every run (the
# small runs of one server keep theirs until the last one ends).
#
# The small runs start at least SETTLE_SECS (65) after the last deletion. ext4 does not reuse an
# inode within a minute of its deletion and scans past every such inode when it creates a file;
# right after the thousands of deletions of a previous run, creating a file costs ten times more
# than it does a minute later, whoever the server is.
# Folio and Node authenticate every upload with a fresh upload token; nginx has no auth.
#
# Writes bench/results/<UTC stamp>/ (runs.jsonl, run.log, machine.md, table.md, chart.svg, server
# logs) and, unless PUBLISH=0, docs/benchmarks/latest.md and docs/benchmarks/chart.svg and the
# results section of docs/benchmarks.md. Installs nginx (apt-get) and the Node peer's packages
# (npm ci) when they are missing. Only processes it started are stopped, by PID.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")

if [ "${QUICK:-0}" = 1 ]; then
  : "${LARGE_REPS:=3}" "${TIMED_REPS:=1}" "${SMALL_SECS:=5}" "${MEDIUM_SECS:=5}" "${WARMUP_SECS:=2}"
fi
: "${SERVERS:=folio-fsync folio-nofsync folio-pg-s3 nginx-sink nginx-dav node-multer dd}"
: "${LARGE_SIZE:=256m}" "${LARGE_REPS:=5}"
: "${HUGE_SIZE:=1g}" "${HUGE_REPS:=1}"
: "${SMALL_SIZE:=16k}" "${SMALL_CONC:=16}" "${SMALL_SECS:=20}"
: "${MEDIUM_SIZE:=2m}" "${MEDIUM_CONC:=8}" "${MEDIUM_SECS:=20}"
: "${TIMED_REPS:=3}" "${WARMUP_SECS:=3}" "${REQ_TIMEOUT:=300}"
: "${PORT_BASE:=18600}"
: "${PUBLISH:=1}" "${BUILD:=1}"
: "${SETTLE_SECS:=65}"
: "${PG_URL:=postgres://postgres@127.0.0.1:5432/test}"
FOLIO_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 10))
NODE_PORT=$((PORT_BASE + 20))

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/results/$STAMP"
mkdir -p "$OUT"
RUNS="$OUT/runs.jsonl"
LOG="$OUT/run.log"
: >"$RUNS"
# Scratch space for every server's files (and dd's): SCRATCH, default a new folder in TMPDIR or
# /tmp; readable by nginx's unprivileged workers. Its disk and filesystem are part of what is
# measured (machine.md names them).
: "${SCRATCH:=${TMPDIR:-/tmp}}"
WORK=$(mktemp -d "$SCRATCH/folio-bench.XXXXXX")
chmod 755 "$WORK"

. "$BENCH/lib.sh"

cleanup() {
  stop_all
  if [ "${S3_STARTED:-0}" = 1 ]; then "$ROOT/scripts/s3-server.sh" stop >>"$LOG" 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM


# ------------------------------------------------------------------ setup
has_server() { case " $SERVERS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

apt_install() {
  [ "$(id -u)" = 0 ] || die "$* is missing: install it (apt-get install $*) or run as root"
  log "installing $* (apt-get)"
  # Keep the package from starting its own service: this script runs nginx itself.
  local policy=/usr/sbin/policy-rc.d made=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made=1
  fi
  local rc=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >>"$LOG" 2>&1 || rc=$?
  [ "$made" = 1 ] && rm -f "$policy"
  [ "$rc" = 0 ] || die "apt-get install $* failed (see $LOG)"
}

setup() {
  release_build
  if has_server nginx-sink || has_server nginx-dav; then
    command -v nginx >/dev/null || apt_install nginx
    nginx -V 2>&1 | grep -q http_dav_module || die "this nginx has no WebDAV module"
  fi
  if has_server node-multer; then
    command -v node >/dev/null || apt_install nodejs npm
    if [ ! -d "$BENCH/peers/node-multer/node_modules" ]; then
      log "installing the Node peer's packages (npm ci)"
      (cd "$BENCH/peers/node-multer" && npm ci --no-audit --no-fund) >>"$LOG" 2>&1 ||
        die "npm ci failed (see $LOG)"
    fi
  fi
}

machine() {
  {
    machine_rows
    if has_server nginx-sink || has_server nginx-dav; then
      echo "| nginx | $(nginx -v 2>&1 | sed 's/^nginx version: //') |"
    fi
    if has_server node-multer; then
      echo "| Node | $(node --version) (express $(cd "$BENCH/peers/node-multer" && node -p "require('express/package.json').version"), multer $(cd "$BENCH/peers/node-multer" && node -p "require('multer/package.json').version"), jsonwebtoken $(cd "$BENCH/peers/node-multer" && node -p "require('jsonwebtoken/package.json').version")) |"
    fi
    echo "| plan | large: ${LARGE_REPS} × ${LARGE_SIZE}; Folio also ${HUGE_REPS} × ${HUGE_SIZE}; small: ${SMALL_SIZE}, c=${SMALL_CONC}, ${SMALL_SECS} s × ${TIMED_REPS}; medium: ${MEDIUM_SIZE}, c=${MEDIUM_CONC}, ${MEDIUM_SECS} s × ${TIMED_REPS}; warm-up ${WARMUP_SECS} s |"
  } >"$OUT/machine.md"
  cat "$OUT/machine.md" >&2
}

# ------------------------------------------------------------------ measuring
# The server under test: ID, LABEL, URL, PID, LG_ARGS (auth, method), CLEAN (a function name).
ID="" LABEL="" URL="" PID="" CLEAN=true
LG_ARGS=()

tidy() {
  "$CLEAN"
  sync
  LAST_DELETE=$SECONDS
}


# record MEASURE REP LOADGEN-ARGS...: one recorded run; measure: the same, then tidy.
record() {
  local m=$1 rep=$2; shift 2
  "$LG" run --url "$URL" "${LG_ARGS[@]}" --timeout "$REQ_TIMEOUT" --server-pid "$PID" \
    --tag "server=$ID" --tag "label=$LABEL" --tag "measure=$m" --tag "rep=$rep" "$@" \
    >>"$RUNS" 2> >(tee -a "$LOG" >&2) || die "folio-loadgen failed"
}
measure() {
  record "$@"
  tidy
}

measure_server() {
  log "== $LABEL"
  "$LG" run --url "$URL" "${LG_ARGS[@]}" --size 64k --concurrency 4 --duration "$WARMUP_SECS" \
    --timeout 30 --tag "server=$ID" --tag measure=warm-up >/dev/null 2> >(tee -a "$LOG" >&2) ||
    die "folio-loadgen failed"
  tidy
  local r
  settle
  for r in $(seq "$TIMED_REPS"); do
    record small "$r" --size "$SMALL_SIZE" --concurrency "$SMALL_CONC" --duration "$SMALL_SECS"
  done
  tidy
  for r in $(seq "$LARGE_REPS"); do
    measure large "$r" --size "$LARGE_SIZE" --concurrency 1 --requests 1
  done
  if [ "${ID%%-*}" = folio ]; then
    for r in $(seq "$HUGE_REPS"); do
      measure huge "$r" --size "$HUGE_SIZE" --concurrency 1 --requests 1
    done
  fi
  for r in $(seq "$TIMED_REPS"); do
    measure medium "$r" --size "$MEDIUM_SIZE" --concurrency "$MEDIUM_CONC" --duration "$MEDIUM_SECS"
  done
}

# ------------------------------------------------------------------ servers
FOLIO_FILES=""
clean_folio() { find "$FOLIO_FILES" -type f -delete 2>/dev/null || true; }

run_folio() { # ID LABEL FSYNC [CATALOG BLOBS]
  local data="$WORK/folio" public private
  need_free_port "$FOLIO_PORT"
  rm -rf "$data"; mkdir -p "$data"
  export FOLIO_STORAGE__FSYNC=$3
  if [ $# -ge 5 ]; then export FOLIO_CATALOG=$4 FOLIO_BLOBS=$5; fi
  # Room for the 1 GiB upload (the default limit is 25 MiB).
  export FOLIO_LIMITS__MAX_FILE_SIZE=2147483648
  init_library "$data"
  public=$PUBLIC private=$PRIVATE
  start "$1" env -u FOLIO_CONFIG "$FOLIO" serve --listen "127.0.0.1:$FOLIO_PORT" --data-dir "$data"
  unset FOLIO_STORAGE__FSYNC FOLIO_LIMITS__MAX_FILE_SIZE FOLIO_CATALOG FOLIO_BLOBS
  wait_port "$FOLIO_PORT" || die "folio did not start (see $OUT/$1.log)"
  ID=$1 LABEL=$2 PID=$SERVER_PID CLEAN=clean_folio
  FOLIO_FILES=${FOLIO_FILES:-$data/blobs}
  URL="http://127.0.0.1:$FOLIO_PORT/api/v2/files/upload"
  LG_ARGS=(--auth token --public-key "$public" --private-key "$private")
  measure_server
  stop "$PID"
  rm -rf "$data"
  FOLIO_FILES=""
}

# The scale-out configuration on this one machine: a fresh schema of PG_URL's database and a
# bucket of the project's S3 test server (started here, stopped at the end).
S3_STARTED=0
run_folio_pg_s3() {
  local schema="folio_bench_$$" s3_env endpoint bucket
  # The S3 server keeps its objects in the scratch folder too.
  export FOLIO_S3_STATE_DIR="$WORK/s3"
  s3_env=$("$ROOT/scripts/s3-server.sh" start 2>>"$LOG") || die "the S3 server did not start (see $LOG)"
  S3_STARTED=1
  eval "$s3_env"
  endpoint=$FOLIO_TEST_S3_ENDPOINT bucket=$FOLIO_TEST_S3_BUCKET
  FOLIO_FILES="$WORK/s3/data/$bucket"
  psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >>"$LOG" 2>&1 ||
    die "cannot create a schema in $PG_URL"
  export FOLIO_S3__ACCESS_KEY_ID=$FOLIO_TEST_S3_ACCESS_KEY FOLIO_S3__SECRET_ACCESS_KEY=$FOLIO_TEST_S3_SECRET_KEY
  run_folio folio-pg-s3 "Folio, PostgreSQL + S3 (s3s-fs)" true \
    "$PG_URL?options[search_path]=$schema" "s3://$bucket/bench-$$?endpoint=$endpoint&region=us-east-1"
  unset FOLIO_S3__ACCESS_KEY_ID FOLIO_S3__SECRET_ACCESS_KEY
  psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >>"$LOG" 2>&1 || true
}

clean_nginx() { find "$WORK/nginx/dav-root/dav" -mindepth 1 -delete; }

run_nginx() { # ID LABEL PATH [--method put]
  local id=$1 label=$2 path=$3; shift 3
  local prefix="$WORK/nginx"
  need_free_port "$NGINX_PORT"; need_free_port $((NGINX_PORT + 1))
  rm -rf "$prefix"; mkdir -p "$prefix/dav-root/dav" "$prefix/client_body"
  # nginx's workers run unprivileged when the master is root.
  chmod 777 "$prefix/dav-root/dav" "$prefix/client_body"
  sed -e "s/@PORT@/$NGINX_PORT/g" -e "s/@ACK_PORT@/$((NGINX_PORT + 1))/g" \
    "$BENCH/peers/nginx/nginx.conf.in" >"$prefix/nginx.conf"
  start "$id" nginx -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log"
  wait_port "$NGINX_PORT" || die "nginx did not start (see $prefix/error.log)"
  ID=$id LABEL=$label PID=$SERVER_PID CLEAN=clean_nginx
  URL="http://127.0.0.1:$NGINX_PORT$path"
  LG_ARGS=(--auth none "$@")
  measure_server
  stop "$PID"
  cp "$prefix/error.log" "$OUT/$id-error.log" 2>/dev/null || true
  rm -rf "$prefix"
}

clean_node() { find "$WORK/node/files" "$WORK/node/incoming" -mindepth 1 -delete 2>/dev/null || true; }

run_node() {
  local data="$WORK/node" public=public_bench_node private
  private="private_bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  need_free_port "$NODE_PORT"
  rm -rf "$data"; mkdir -p "$data"
  start node-multer env PORT="$NODE_PORT" PUBLIC_KEY="$public" PRIVATE_KEY="$private" \
    DATA_DIR="$data" node "$BENCH/peers/node-multer/server.js"
  wait_port "$NODE_PORT" || die "the Node peer did not start (see $OUT/node-multer.log)"
  ID=node-multer LABEL="Node: express + multer + jsonwebtoken" PID=$SERVER_PID CLEAN=clean_node
  URL="http://127.0.0.1:$NODE_PORT/api/v2/files/upload"
  LG_ARGS=(--auth token --public-key "$public" --private-key "$private")
  measure_server
  stop "$PID"
  rm -rf "$data"
}

run_dd() {
  local bytes mib r line secs copied
  bytes=$("$LG" size "$LARGE_SIZE") || die "bad LARGE_SIZE $LARGE_SIZE"
  mib=$((bytes / 1048576))
  log "== dd: ${mib} MiB, conv=fdatasync"
  for r in $(seq "$LARGE_REPS"); do
    line=$(LC_ALL=C dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$mib" conv=fdatasync 2>&1 | tail -n1)
    rm -f "$WORK/dd.bin"; sync
    copied=$(printf '%s\n' "$line" | sed -n 's/^\([0-9]*\) bytes.*/\1/p')
    secs=$(printf '%s\n' "$line" | sed -n 's/.* copied, \([0-9.e+-]*\) s.*/\1/p')
    [ -n "$copied" ] && [ -n "$secs" ] || die "cannot read dd's output: $line"
    log "  $line"
    awk -v b="$copied" -v s="$secs" -v r="$r" -v mib="$mib" 'BEGIN {
      printf "{\"tags\":{\"server\":\"dd\",\"label\":\"dd %d MiB conv=fdatasync (the disk)\",\"measure\":\"large\",\"rep\":\"%d\"},\"method\":\"dd\",\"size_bytes\":%d,\"ok\":1,\"elapsed_s\":%s,\"req_per_s\":%.6f,\"mb_per_s\":%.3f}\n",
        mib, r, b, s, 1 / s, b / s / 1e6 }' >>"$RUNS"
  done
}

# ------------------------------------------------------------------ main
START_S=$SECONDS
setup
machine
log "results: bench/results/$STAMP"
for s in $SERVERS; do
  case $s in
    folio-fsync) run_folio folio-fsync "Folio, fsync on (default)" true ;;
    folio-nofsync) run_folio folio-nofsync "Folio, fsync off" false ;;
    folio-pg-s3) run_folio_pg_s3 ;;
    nginx-sink) run_nginx nginx-sink "nginx POST sink (keeps nothing)" /upload ;;
    nginx-dav) run_nginx nginx-dav "nginx WebDAV PUT (keeps files)" "/dav/{name}" --method put ;;
    node-multer) run_node ;;
    dd) run_dd ;;
    *) die "unknown server $s (known: folio-fsync folio-nofsync folio-pg-s3 nginx-sink nginx-dav node-multer dd)" ;;
  esac
done

"$LG" report --input "$RUNS" --markdown "$OUT/table.md" --svg "$OUT/chart.svg" \
  --title "Folio upload benchmark, $(date -u '+%Y-%m-%d')$([ "${QUICK:-0}" = 1 ] && echo ' (QUICK run)')" ||
  die "folio-loadgen report failed"
ELAPSED=$((SECONDS - START_S))
{
  echo "Run \`$STAMP\`$([ "${QUICK:-0}" = 1 ] && echo ' (QUICK=1: shorter runs, fewer repetitions)'), $((ELAPSED / 60)) min $((ELAPSED % 60)) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg); raw runs in \`bench/results/$STAMP/runs.jsonl\`."
  echo
  cat "$OUT/machine.md"
  echo
  cat "$OUT/table.md"
} >"$OUT/summary.md"
# Keep this machine's paths out of the stored logs.
sed -i "s|$ROOT/||g; s|$WORK|WORK|g" "$OUT"/*.log 2>/dev/null || true

if [ "$PUBLISH" = 1 ]; then
  mkdir -p "$ROOT/docs/benchmarks"
  cp "$OUT/summary.md" "$ROOT/docs/benchmarks/latest.md"
  cp "$OUT/chart.svg" "$ROOT/docs/benchmarks/chart.svg"
  doc="$ROOT/docs/benchmarks.md"
  if grep -q '^<!-- results:begin -->$' "$doc" 2>/dev/null; then
    # Replace what is between the markers with the new summary.
    awk -v f="$OUT/summary.md" '
      /^<!-- results:begin -->$/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
      /^<!-- results:end -->$/ { skip = 0 }
      !skip' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
  fi
  log "published: docs/benchmarks/latest.md, docs/benchmarks/chart.svg, docs/benchmarks.md"
fi
cat "$OUT/table.md"
log "done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s: bench/results/$STAMP"
