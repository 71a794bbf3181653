#!/usr/bin/env bash
# The benchmark of `folio migrate-store` (issue 15): a library of FILES files of SIZE on the
# embedded default (SQLite + local files) moves to PostgreSQL + S3 (s3s-fs on loopback), against
# the raw copy of the same blobs between the same two stores, in one session.
#
#   bench/migrate.sh                        # 10000 files of 100 KiB, 3 pairs (about 5 minutes)
#   BUILD=0 FILES=2000 REPS=1 bench/migrate.sh
#
# The raw copy is `examples/blob_copy`: every blob read from the folder and written to the
# bucket, JOBS at once, through the same object store client, and nothing else (no catalog, no
# hashing, no read-back); its time counts the copy only, not the listing. The migration is the
# whole `folio migrate-store --to-catalog … --to-blobs … --jobs JOBS` process: the catalog
# (SQLite -> PostgreSQL), every blob streamed with SHA-256 and read back to be checked, and the
# final comparison of every table. Pairs alternate, raw then migration, each into a fresh
# schema and a fresh bucket prefix, deleted (and `sync`ed) after it.
#
# Reported: the median seconds and MB/s of each, their ratio (target: migration >= 0.5 x raw),
# and migrate-store's peak RSS at FILES and at FILES/10 files (flat memory: about the same).
# Settings (environment): FILES (10000), SIZE (100k), JOBS (8), REPS (3), PORT_BASE (18670),
# SCRATCH (TMPDIR or /tmp), PG_URL, BUILD (1).
#
# Writes bench/results/<UTC stamp>-migrate/ (runs.jsonl, machine.md, summary.md, run.log) and
# prints the summary. Only processes it started are stopped, by PID.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")

: "${FILES:=10000}" "${SIZE:=100k}" "${JOBS:=8}" "${REPS:=3}" "${PORT_BASE:=18670}" "${BUILD:=1}"
: "${PG_URL:=postgres://postgres@127.0.0.1:5432/test}"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/results/$STAMP-migrate"
mkdir -p "$OUT"
RUNS="$OUT/runs.jsonl"
LOG="$OUT/run.log"
: >"$RUNS"
: "${SCRATCH:=${TMPDIR:-/tmp}}"
WORK=$(mktemp -d "$SCRATCH/folio-migratebench.XXXXXX")

. "$BENCH/lib.sh"

S3_STARTED=0
SCHEMAS=()
cleanup() {
  stop_all
  if [ "$S3_STARTED" = 1 ]; then "$ROOT/scripts/s3-server.sh" stop >>"$LOG" 2>&1 || true; fi
  for s in "${SCHEMAS[@]}"; do psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $s CASCADE" >>"$LOG" 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

release_build
(cd "$ROOT" && cargo build --release -p folio --example blob_copy) >>"$LOG" 2>&1 ||
  die "cargo build --example blob_copy failed (see $LOG)"
RAW="$(dirname "$FOLIO")/examples/blob_copy"
{
  machine_rows
  echo "| plan | $FILES files of $SIZE, SQLite + files -> PostgreSQL + S3 (s3s-fs), $JOBS blobs at once; $REPS pairs (raw copy, migrate-store) |"
} >"$OUT/machine.md"
cat "$OUT/machine.md" >&2

# The S3 server keeps its objects in the scratch folder.
export FOLIO_S3_STATE_DIR="$WORK/s3"
s3_env=$("$ROOT/scripts/s3-server.sh" start 2>>"$LOG") || die "the S3 server did not start (see $LOG)"
S3_STARTED=1
eval "$s3_env"
S3_DIR="$WORK/s3/data/$FOLIO_TEST_S3_BUCKET"
export FOLIO_S3__ACCESS_KEY_ID=$FOLIO_TEST_S3_ACCESS_KEY FOLIO_S3__SECRET_ACCESS_KEY=$FOLIO_TEST_S3_SECRET_KEY

# library DIR COUNT: an embedded library of COUNT uploads of SIZE, made through the upload API.
library() {
  local dir=$1 count=$2
  init_library "$dir"
  PORT=$PORT_BASE; need_free_port "$PORT"
  start "folio-library" env -u FOLIO_CONFIG FOLIO_STORAGE__FSYNC=false FOLIO_METRICS__LISTEN= \
    "$FOLIO" serve --listen "127.0.0.1:$PORT" --data-dir "$dir"
  local pid=$SERVER_PID
  wait_port "$PORT" || die "folio did not start (see $OUT/folio-library.log)"
  "$LG" run --url "http://127.0.0.1:$PORT/api/v2/files/upload" --auth basic \
    --public-key "$PUBLIC" --private-key "$PRIVATE" --size "$SIZE" --concurrency 4 \
    --requests "$count" --quiet >/dev/null 2>>"$LOG" || die "folio-loadgen failed"
  stop "$pid"
  log "library of $count files in $dir"
}

# destination NAME: a fresh schema and bucket prefix; sets CATALOG, BLOBS, PREFIX_DIR.
destination() {
  local schema="folio_migratebench_$$_${1//-/_}"
  psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >>"$LOG" 2>&1 ||
    die "cannot create a schema in $PG_URL"
  SCHEMAS+=("$schema")
  CATALOG="$PG_URL?options[search_path]=$schema"
  BLOBS="s3://$FOLIO_TEST_S3_BUCKET/$1?endpoint=$FOLIO_TEST_S3_ENDPOINT&region=us-east-1"
  PREFIX_DIR="$S3_DIR/$1"
  DROP_SCHEMA=$schema
}

forget_destination() {
  rm -rf "$PREFIX_DIR"
  psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $DROP_SCHEMA CASCADE" >>"$LOG" 2>&1 || true
  sync
}

# migrate DIR FILES REP: one migrate-store run of the library in DIR; its JSON line.
migrate() {
  local dir=$1 count=$2 rep=$3 secs rss
  destination "m$rep-$count"
  /usr/bin/time -o "$WORK/time" -f '%e %M' env -u FOLIO_CONFIG "$FOLIO" --data-dir "$dir" \
    migrate-store --to-catalog "$CATALOG" --to-blobs "$BLOBS" --jobs "$JOBS" >>"$LOG" 2>&1 ||
    die "migrate-store failed (see $LOG)"
  read -r secs rss <"$WORK/time"
  forget_destination
  echo "{\"kind\":\"migrate\",\"rep\":$rep,\"files\":$count,\"bytes\":$BYTES,\"seconds\":$secs,\"peak_rss_kib\":$rss}"
}

# raw DIR REP: one raw copy of the blobs in DIR; its JSON line.
raw() {
  local dir=$1 rep=$2 line
  destination "r$rep"
  line=$("$RAW" --from "file://$dir/blobs" --to "$BLOBS" --jobs "$JOBS" 2>>"$LOG") || die "blob_copy failed"
  forget_destination
  echo "{\"kind\":\"raw\",\"rep\":$rep,\"files\":$FILES,\"bytes\":$(jq .bytes <<<"$line"),\"seconds\":$(jq .seconds <<<"$line")}"
}

LIB="$WORK/library"
library "$LIB" "$FILES"
BYTES=$(find "$LIB/blobs/v" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
log "warm-up"
raw "$LIB" 0 >/dev/null
migrate "$LIB" "$FILES" 0 >/dev/null
for r in $(seq "$REPS"); do
  log "pair $r"
  raw "$LIB" "$r" | tee -a "$RUNS" >&2
  migrate "$LIB" "$FILES" "$r" | tee -a "$RUNS" >&2
done
# Memory at a tenth of the files: flat memory reads about the same peak.
SMALL=$((FILES / 10))
library "$WORK/small" "$SMALL"
BYTES=$(find "$WORK/small/blobs/v" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
migrate "$WORK/small" "$SMALL" 1 | tee -a "$RUNS" >&2

{
  echo "Run \`$STAMP\`; raw runs in \`bench/results/$STAMP-migrate/runs.jsonl\`."
  echo
  cat "$OUT/machine.md"
  echo
  echo "| files | raw copy s (median) | raw MB/s | migrate-store s (median) | migrate MB/s | migrate / raw | migrate-store peak RSS MiB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  jq -rs --argjson files "$FILES" '
    def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
    (map(select(.kind == "raw")) ) as $raw
    | (map(select(.kind == "migrate" and .files == $files))) as $m
    | ($raw | map(.seconds) | median) as $rs
    | ($m | map(.seconds) | median) as $ms
    | ($m[0].bytes) as $b
    | ($m | map(.peak_rss_kib) | max / 1024) as $rss
    | "| \($files) | \($rs) | \($b / $rs / 1e6 * 10 | round / 10) | \($ms) | \($b / $ms / 1e6 * 10 | round / 10) | \($rs / $ms * 100 | round / 100) | \($rss * 10 | round / 10) |",
      (map(select(.kind == "migrate" and .files != $files))[]
       | "| \(.files) | | | \(.seconds) | \(.bytes / .seconds / 1e6 * 10 | round / 10) | | \(.peak_rss_kib / 1024 * 10 | round / 10) |")
  ' "$RUNS"
} >"$OUT/summary.md"
sed -i "s|$ROOT/||g; s|$WORK|WORK|g" "$OUT"/*.log 2>/dev/null || true
cat "$OUT/summary.md"
