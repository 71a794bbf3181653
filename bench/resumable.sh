#!/usr/bin/env bash
# Folio's resumable-upload benchmark (issue 11): a large file sent with tus in fixed-size PATCHes
# against the same file sent as one plain multipart upload, on one Folio, in one session.
#
#   bench/resumable.sh                      # both backends, 9 pairs each (about 3 minutes)
#   BUILD=0 REPS=3 BACKENDS=local bench/resumable.sh
#
# Each backend gets a fresh Folio (release build, default settings: fsync on) with room for the
# size. After an unrecorded warm-up of each kind, REPS pairs run alternately, multipart then
# resumable, one upload at a time, the stored files deleted and `sync` run after each. The
# resumable upload is `folio-loadgen run --tus-chunk CHUNK`: a creation, then PATCHes of CHUNK
# bytes, each sent once its predecessor's 204 is in (what tus clients do).
#
# Reported: the median MB/s of each kind and their ratio (target: resumable >= 0.9 x multipart),
# the median of the ratios within each pair (the machine's own drift between pairs cancels out),
# and the server's CPU time and peak RSS. Settings (environment): SIZE (256m), CHUNK (8m), REPS (9),
# BACKENDS ("local pg-s3"), PORT_BASE (18660), SCRATCH (TMPDIR or /tmp), PG_URL, BUILD (1).
#
# Writes bench/results/<UTC stamp>-resumable/ (runs.jsonl, machine.md, summary.md, run.log,
# server logs) and prints the summary. Only processes it started are stopped, by PID.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")

: "${SIZE:=256m}" "${CHUNK:=8m}" "${REPS:=9}" "${REQ_TIMEOUT:=300}"
: "${BACKENDS:=local pg-s3}"
: "${PORT_BASE:=18660}"
: "${BUILD:=1}"
: "${PG_URL:=postgres://postgres@127.0.0.1:5432/test}"
FOLIO_PORT=$PORT_BASE

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/results/$STAMP-resumable"
mkdir -p "$OUT"
RUNS="$OUT/runs.jsonl"
LOG="$OUT/run.log"
: >"$RUNS"
: "${SCRATCH:=${TMPDIR:-/tmp}}"
WORK=$(mktemp -d "$SCRATCH/folio-tusbench.XXXXXX")

. "$BENCH/lib.sh"

S3_STARTED=0
cleanup() {
  stop_all
  if [ "$S3_STARTED" = 1 ]; then "$ROOT/scripts/s3-server.sh" stop >>"$LOG" 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

release_build
{
  machine_rows
  echo "| plan | $SIZE per upload, tus PATCHes of $CHUNK; $REPS pairs (multipart, resumable) per backend: $BACKENDS; storage.fsync = ${FOLIO_STORAGE__FSYNC:-true (default)} |"
} >"$OUT/machine.md"
cat "$OUT/machine.md" >&2

# one BACKEND KIND REP ARGS...: one upload, its JSON line tagged, then the stored files go.
one() {
  local backend=$1 kind=$2 rep=$3 url=http://127.0.0.1:$FOLIO_PORT/api/v2/files/upload; shift 3
  if [ "$kind" = resumable ]; then url=$url/resumable; set -- --tus-chunk "$CHUNK" "$@"; fi
  "$LG" run --url "$url" --auth token --public-key "$PUBLIC" --private-key "$PRIVATE" \
    --size "$SIZE" --concurrency 1 --requests 1 --timeout "$REQ_TIMEOUT" --server-pid "$FOLIO_PID" \
    --tag "backend=$backend" --tag "kind=$kind" --tag "rep=$rep" "$@" 2> >(tee -a "$LOG" >&2) ||
    die "folio-loadgen failed"
  "$CLEAN"
  sync
}

clean_local() { find "$DATA/blobs" -type f -delete 2>/dev/null || true; }
clean_s3() { find "$S3_DIR" -type f -delete 2>/dev/null || true; }

# run_backend NAME ENV=VALUE...: a fresh Folio with those settings, warm-up, REPS pairs.
run_backend() {
  local name=$1 r; shift
  DATA="$WORK/$name"
  rm -rf "$DATA"; mkdir -p "$DATA"
  init_library "$DATA" "$@"
  need_free_port "$FOLIO_PORT"
  start "folio-$name" env -u FOLIO_CONFIG FOLIO_LIMITS__MAX_FILE_SIZE=4294967296 "$@" \
    "$FOLIO" serve --listen "127.0.0.1:$FOLIO_PORT" --data-dir "$DATA"
  FOLIO_PID=$SERVER_PID
  wait_port "$FOLIO_PORT" || die "folio did not start (see $OUT/folio-$name.log)"
  log "== $name"
  one "$name" multipart 0 --tag measure=warm-up >/dev/null
  one "$name" resumable 0 --tag measure=warm-up >/dev/null
  for r in $(seq "$REPS"); do
    one "$name" multipart "$r" --tag measure=timed >>"$RUNS"
    one "$name" resumable "$r" --tag measure=timed >>"$RUNS"
  done
  stop "$FOLIO_PID"
}

for b in $BACKENDS; do
  case $b in
    local)
      CLEAN=clean_local
      run_backend local
      ;;
    pg-s3)
      # The S3 server keeps its objects in the scratch folder too.
      export FOLIO_S3_STATE_DIR="$WORK/s3"
      s3_env=$("$ROOT/scripts/s3-server.sh" start 2>>"$LOG") || die "the S3 server did not start (see $LOG)"
      S3_STARTED=1
      eval "$s3_env"
      S3_DIR="$WORK/s3/data/$FOLIO_TEST_S3_BUCKET"
      schema="folio_tusbench_$$"
      psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >>"$LOG" 2>&1 ||
        die "cannot create a schema in $PG_URL"
      CLEAN=clean_s3
      run_backend pg-s3 "FOLIO_CATALOG=$PG_URL?options[search_path]=$schema" \
        "FOLIO_BLOBS=s3://$FOLIO_TEST_S3_BUCKET/bench-$$?endpoint=$FOLIO_TEST_S3_ENDPOINT&region=us-east-1" \
        "FOLIO_S3__ACCESS_KEY_ID=$FOLIO_TEST_S3_ACCESS_KEY" "FOLIO_S3__SECRET_ACCESS_KEY=$FOLIO_TEST_S3_SECRET_KEY"
      psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >>"$LOG" 2>&1 || true
      ;;
    *) die "unknown backend $b (known: local pg-s3)" ;;
  esac
done

# The medians per backend and kind, and the ratio.
{
  echo "Run \`$STAMP\`; raw runs in \`bench/results/$STAMP-resumable/runs.jsonl\`."
  echo
  cat "$OUT/machine.md"
  echo
  echo "| backend | multipart MB/s (median) | resumable MB/s (median) | resumable / multipart | median of the pairs' ratios | server CPU s per resumable upload | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  jq -rs '
    def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
    group_by(.tags.backend)[] as $g
    | ($g | map(select(.tags.kind == "multipart") | .mb_per_s) | median) as $m
    | ($g | map(select(.tags.kind == "resumable") | .mb_per_s) | median) as $r
    | ($g | map(select(.tags.kind == "resumable") | .server_cpu_ms // 0) | median) as $c
    | ($g | group_by(.tags.rep) | map(select(length == 2)
        | (map(select(.tags.kind == "resumable"))[0].mb_per_s)
          / (map(select(.tags.kind == "multipart"))[0].mb_per_s)) | median) as $pair
    | ($g | map(.server_peak_rss_kib // 0) | max / 1024) as $rss
    | "| \($g[0].tags.backend) | \($m * 10 | round / 10) | \($r * 10 | round / 10) | \($r / $m * 100 | round / 100) | \($pair * 100 | round / 100) | \($c / 10 | round / 100) | \($rss * 10 | round / 10) |"
  ' "$RUNS"
} >"$OUT/summary.md"
sed -i "s|$ROOT/||g; s|$WORK|WORK|g" "$OUT"/*.log 2>/dev/null || true
cat "$OUT/summary.md"
