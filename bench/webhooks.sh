#!/usr/bin/env bash
# Folio's webhook delivery benchmark (issue 10): how fast a backlog of account events drains to a
# receiver on 127.0.0.1, and what flowing deliveries cost the small-upload rate.
#
#   bench/webhooks.sh                     # everything (about 7 minutes on 2 cores)
#   BUILD=0 bench/webhooks.sh             # use the existing release build
#   DRAIN_EVENTS=2000 REPS=1 SMALL_SECS=5 SETTLE_SECS=0 bench/webhooks.sh   # a quick look
#
# The receiver is `folio-loadgen receive`: it answers every request 204 at once and counts them
# (one thread; the "receiver" step below measures how many it takes, far above what is asked).
# Every Folio runs the release build with default settings (fsync on), its own data folder in
# SCRATCH, and `fetch.allow = 127.0.0.1/32` so that a loopback endpoint is accepted. The
# endpoints subscribe to file.created: one event per upload.
#
# Steps:
#   receiver  the receiver alone under the load generator (1 KiB POSTs, c=RECV_CONC,
#             RECV_REQUESTS): its ceiling on this machine.
#   drain     (target a: >= 500 events/s) Folio with webhooks.deliver = false and an endpoint
#             to the receiver's address makes DRAIN_EVENTS small uploads (16 KiB, c=16): their
#             events are recorded, not sent. Folio stops; the receiver starts with --expect
#             <successful uploads>; Folio starts again, delivering. Reported: the receiver's
#             per_sec (first to last event), Folio's CPU per event, and the delivery log's
#             states afterwards (`folio webhooks deliveries --failed` must list none).
#   slowdown  (target b: <= 10 %) small-upload runs like run.sh's (SMALL_SIZE at SMALL_CONC for
#             SMALL_SECS, token auth) alternating A (no endpoint) and B (an endpoint to a
#             receiver that keeps answering), A B A B for REPS=2. Each run has a fresh data
#             folder and Folio, an unrecorded warm-up (64 KiB, c=4, WARMUP_SECS), whose files are
#             deleted, and starts SETTLE_SECS after the last deletion (see run.sh: ext4's inode
#             reuse). For B, Folio stops right after the run; the delivery log then tells how
#             many events were delivered during the run and how many were left pending.
#             Reported: median req/s of A and B, B/A and the slowdown, p99 and CPU per upload.
#
# Settings (environment): STEPS ("receiver drain slowdown"), DRAIN_EVENTS (10000),
# DRAIN_TIMEOUT (600 s for the backlog to arrive), SMALL_SIZE SMALL_CONC SMALL_SECS (16k 16 20),
# REPS (2), WARMUP_SECS (3), SETTLE_SECS (65), REQ_TIMEOUT (300), RECV_REQUESTS RECV_CONC
# (100000 32), PORT_BASE (18640: Folio on it, the receiver on +1), SCRATCH (TMPDIR or /tmp),
# BUILD (1; 0: the existing release build).
#
# Writes bench/results/<UTC stamp>-webhooks/ (runs.jsonl: the load generator's lines, tagged;
# drain.json and receiver.json: the receiver's lines; drain-failed.txt; machine.md, summary.md,
# run.log, server logs) and prints the summary. docs/ is not touched. Only processes it started
# are stopped, by PID.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")

: "${DRAIN_EVENTS:=10000}" "${DRAIN_TIMEOUT:=600}"
: "${SMALL_SIZE:=16k}" "${SMALL_CONC:=16}" "${SMALL_SECS:=20}"
: "${REPS:=2}" "${WARMUP_SECS:=3}" "${REQ_TIMEOUT:=300}"
: "${RECV_REQUESTS:=100000}" "${RECV_CONC:=32}"
: "${PORT_BASE:=18640}"
: "${BUILD:=1}" "${SETTLE_SECS:=65}"
: "${STEPS:=receiver drain slowdown}"
FOLIO_PORT=$PORT_BASE
RECV_PORT=$((PORT_BASE + 1))
HOOK_URL="http://127.0.0.1:$RECV_PORT/webhooks"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/results/$STAMP-webhooks"
mkdir -p "$OUT"
RUNS="$OUT/runs.jsonl"
LOG="$OUT/run.log"
: >"$RUNS"
: "${SCRATCH:=${TMPDIR:-/tmp}}"
WORK=$(mktemp -d "$SCRATCH/folio-hookbench.XXXXXX")

# Every folio command of this script: the loopback receiver is an allowed address.
export FOLIO_FETCH__ALLOW=127.0.0.1/32

. "$BENCH/lib.sh"

cleanup() {
  stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM


# ------------------------------------------------------------------ setup
setup() {
  release_build
  "$LG" receive --help >/dev/null 2>&1 || die "$LG has no receive command (run without BUILD=0)"
}

machine() {
  {
    machine_rows
    echo "| plan | receiver: ${RECV_REQUESTS} × 1 KiB, c=${RECV_CONC}; drain: ${DRAIN_EVENTS} events; slowdown: ${SMALL_SIZE}, c=${SMALL_CONC}, ${SMALL_SECS} s, A B × ${REPS}; warm-up ${WARMUP_SECS} s; settle ${SETTLE_SECS} s |"
  } >"$OUT/machine.md"
  cat "$OUT/machine.md" >&2
}

# ------------------------------------------------------------------ helpers

# json_num FIELD: the number FIELD of the one-line JSON object on stdin.
json_num() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" | head -n1; }

# cpu_ms PID: utime + stime of the process, ms.
cpu_ms() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000 / hz }' "/proc/$1/stat"
}

# Per data folder: the key pair of the last `new_folio`.
DATA="" PUBLIC="" PRIVATE="" FOLIO_PID=""

# new_folio NAME: a fresh data folder $WORK/NAME with a key pair.
new_folio() {
  DATA="$WORK/$1"
  rm -rf "$DATA"
  init_library "$DATA"
}

# add_endpoint: subscribes the receiver's URL to file.created in $DATA.
add_endpoint() {
  "$FOLIO" --data-dir "$DATA" webhooks add "$HOOK_URL" --events file.created \
    >>"$LOG" 2>&1 || die "folio webhooks add failed (see $LOG)"
}

# start_folio LOGNAME [ENV=VALUE...]: folio serve on $DATA, its PID in FOLIO_PID.
start_folio() {
  local name=$1; shift
  need_free_port "$FOLIO_PORT"
  start "$name" env -u FOLIO_CONFIG "$@" "$FOLIO" serve --listen "127.0.0.1:$FOLIO_PORT" \
    --data-dir "$DATA"
  FOLIO_PID=$SERVER_PID
  wait_port "$FOLIO_PORT" || die "folio did not start (see $OUT/$name.log)"
}

# states: "pending=N delivered=N failed=N" from $DATA's delivery log (Folio stopped or idle).
states() {
  "$FOLIO" --data-dir "$DATA" webhooks deliveries --limit 4294967295 2>>"$LOG" |
    awk 'BEGIN { p = 0; d = 0; f = 0 }
         $3 == "pending" { p++ } $3 == "delivered" { d++ } $3 == "failed" { f++ }
         END { printf "pending=%d delivered=%d failed=%d\n", p, d, f }'
}
state_of() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# loadgen LOADGEN-ARGS...: one run against $DATA's Folio, its JSON line on stdout.
loadgen() {
  "$LG" run --url "http://127.0.0.1:$FOLIO_PORT/api/v2/files/upload" --auth token \
    --public-key "$PUBLIC" --private-key "$PRIVATE" --timeout "$REQ_TIMEOUT" \
    --server-pid "$FOLIO_PID" "$@" 2> >(tee -a "$LOG" >&2) || die "folio-loadgen failed"
}

# receiver_cpu_ms LOG N: the receiver's own CPU (its last line on stderr) per request, ms.
receiver_cpu_ms() {
  sed -n 's/.*own CPU \([0-9.]*\) ms.*/\1/p' "$1" | tail -n1 |
    awk -v n="$2" '{ printf "%.4f", $1 / n }'
}

SUMMARY=()
say() { SUMMARY+=("$*"); log "$*"; }

# ------------------------------------------------------------------ receiver
step_receiver() {
  log "== receiver: the receiver alone, ${RECV_REQUESTS} × 1 KiB at c=${RECV_CONC}"
  need_free_port "$RECV_PORT"
  "$LG" receive --listen "127.0.0.1:$RECV_PORT" --expect "$RECV_REQUESTS" --timeout 300 \
    >"$OUT/receiver.json" 2>>"$OUT/receiver.log" &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  local rpid=$SERVER_PID line
  wait_port "$RECV_PORT" || die "the receiver did not start (see $OUT/receiver.log)"
  line=$("$LG" run --url "$HOOK_URL" --auth none --size 1k --concurrency "$RECV_CONC" \
    --requests "$RECV_REQUESTS" --timeout 30 --tag step=receiver \
    2> >(tee -a "$LOG" >&2)) || die "folio-loadgen failed"
  printf '%s\n' "$line" >>"$RUNS"
  wait "$rpid" || die "the receiver did not count ${RECV_REQUESTS} requests: $(cat "$OUT/receiver.json")"
  forget "$rpid"
  RECV_RATE=$(json_num per_sec <"$OUT/receiver.json")
  say "receiver: $(printf '%.0f' "$RECV_RATE") requests/s (the load generator's rate: $(printf '%s\n' "$line" | json_num req_per_s | xargs printf '%.0f')), receiver CPU $(receiver_cpu_ms "$OUT/receiver.log" "$RECV_REQUESTS") ms per request"
}

# ------------------------------------------------------------------ drain
step_drain() {
  log "== drain: ${DRAIN_EVENTS} events recorded with delivery off, then delivered"
  new_folio drain
  add_endpoint
  start_folio folio-drain-record FOLIO_WEBHOOKS__DELIVER=false
  local line ok s
  line=$(loadgen --size "$SMALL_SIZE" --concurrency "$SMALL_CONC" --requests "$DRAIN_EVENTS" \
    --tag step=drain --tag measure=record)
  printf '%s\n' "$line" >>"$RUNS"
  ok=$(printf '%s\n' "$line" | json_num ok)
  [ "${ok:-0}" -gt 0 ] || die "no upload succeeded"
  stop "$FOLIO_PID"
  s=$(states)
  log "  recorded: $ok uploads; delivery log: $s"
  [ "$(state_of "$s" pending)" = "$ok" ] || die "expected $ok pending events, found: $s"

  need_free_port "$RECV_PORT"
  "$LG" receive --listen "127.0.0.1:$RECV_PORT" --expect "$ok" --timeout "$DRAIN_TIMEOUT" \
    >"$OUT/drain.json" 2>>"$OUT/receiver-drain.log" &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  local rpid=$SERVER_PID rc=0 cpu0 cpu1 t0 i
  wait_port "$RECV_PORT" || die "the receiver did not start (see $OUT/receiver-drain.log)"
  start_folio folio-drain-deliver
  cpu0=$(cpu_ms "$FOLIO_PID")
  t0=$SECONDS
  wait "$rpid" || rc=$?
  forget "$rpid"
  cpu1=$(cpu_ms "$FOLIO_PID")
  [ "$rc" = 0 ] || die "the receiver got fewer than $ok events in ${DRAIN_TIMEOUT} s (exit $rc): $(cat "$OUT/drain.json")"
  # The outcomes are written in batches after the answers: give the last ones a moment.
  for i in $(seq 50); do
    sleep 0.2
    [ "$(state_of "$(states)" pending)" = 0 ] && break
  done
  stop "$FOLIO_PID"
  s=$(states)
  "$FOLIO" --data-dir "$DATA" webhooks deliveries --failed >"$OUT/drain-failed.txt" 2>>"$LOG" ||
    die "folio webhooks deliveries --failed failed"
  DRAIN_RATE=$(json_num per_sec <"$OUT/drain.json")
  DRAIN_SECS=$(json_num secs <"$OUT/drain.json")
  say "drain: $ok events in $(printf '%.2f' "$DRAIN_SECS") s (first to last arrival): $(printf '%.0f' "$DRAIN_RATE") events/s; CPU per event: Folio $(awk -v a="$cpu0" -v b="$cpu1" -v n="$ok" 'BEGIN { printf "%.3f", (b - a) / n }') ms, the receiver $(receiver_cpu_ms "$OUT/receiver-drain.log" "$ok") ms ($((SECONDS - t0)) s from Folio's start to the last event)"
  say "drain: delivery log afterwards: $s; \`folio webhooks deliveries --failed\`: $(head -n1 "$OUT/drain-failed.txt")"
  [ "$(state_of "$s" delivered)" = "$ok" ] && [ "$(state_of "$s" failed)" = 0 ] ||
    die "not every event was delivered: $s"
  rm -rf "$DATA"
  sync
  LAST_DELETE=$SECONDS
}

# ------------------------------------------------------------------ slowdown
# slowdown_run VARIANT REP: one measured small run on a fresh Folio (B: with an endpoint).
slowdown_run() {
  local v=$1 rep=$2 line s0 s1
  log "-- $v$rep ($([ "$v" = A ] && echo 'no endpoint' || echo 'an endpoint, deliveries flowing'))"
  new_folio "slow-$v$rep"
  [ "$v" = B ] && add_endpoint
  start_folio "folio-$v$rep"
  "$LG" run --url "http://127.0.0.1:$FOLIO_PORT/api/v2/files/upload" --auth token \
    --public-key "$PUBLIC" --private-key "$PRIVATE" --size 64k --concurrency 4 \
    --duration "$WARMUP_SECS" --timeout 30 --quiet >/dev/null 2>>"$LOG" || die "folio-loadgen failed"
  find "$DATA/blobs" -type f -delete 2>/dev/null || true
  sync
  LAST_DELETE=$SECONDS
  settle
  if [ "$v" = B ]; then
    s0=$(states)
    [ "$(state_of "$s0" pending)" = 0 ] || log "  warning: the warm-up's events are not all delivered: $s0"
  fi
  line=$(loadgen --size "$SMALL_SIZE" --concurrency "$SMALL_CONC" --duration "$SMALL_SECS" \
    --tag step=slowdown --tag "variant=$v" --tag "rep=$rep")
  # Stopped at once, so the delivery log shows what was delivered while uploads ran.
  stop "$FOLIO_PID"
  if [ "$v" = B ]; then
    s1=$(states)
    local d=$(($(state_of "$s1" delivered) - $(state_of "$s0" delivered)))
    line=$(printf '%s\n' "$line" | sed "s/^{/{\"delivered_during\":$d,\"pending_after\":$(state_of "$s1" pending),\"failed_after\":$(state_of "$s1" failed),/")
    log "  delivered during the run: $d of $(printf '%s\n' "$line" | json_num ok) uploads' events; left pending: $(state_of "$s1" pending); failed: $(state_of "$s1" failed)"
  fi
  printf '%s\n' "$line" >>"$RUNS"
  rm -rf "$DATA"
  sync
  LAST_DELETE=$SECONDS
}

step_slowdown() {
  log "== slowdown: ${SMALL_SIZE} uploads at c=${SMALL_CONC} for ${SMALL_SECS} s, A (no endpoint) and B (endpoint) × ${REPS}"
  need_free_port "$RECV_PORT"
  # One receiver for every B run, answering throughout (stopped at the end: it prints nothing;
  # the delivery logs count what it received).
  "$LG" receive --listen "127.0.0.1:$RECV_PORT" --expect 1000000000000 --timeout 86400 \
    >>"$OUT/receiver-slowdown.log" 2>&1 &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  local rpid=$SERVER_PID r
  wait_port "$RECV_PORT" || die "the receiver did not start (see $OUT/receiver-slowdown.log)"
  for r in $(seq "$REPS"); do
    slowdown_run A "$r"
    slowdown_run B "$r"
  done
  stop "$rpid"
  # Medians per variant; B's delivery figures summed over its runs.
  local table
  table=$(grep '"step":"slowdown"' "$RUNS" | awk '
    function num(f,   m) { if (match($0, "\"" f "\":[-0-9.eE+]+")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m + 0 } return 0 }
    function median(arr, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
      return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2 }
    {
      v = ($0 ~ /"variant":"B"/) ? "B" : "A"
      n[v]++; rate[v, n[v]] = num("req_per_s"); p99[v, n[v]] = num("p99"); cpu[v, n[v]] = num("server_cpu_ms_per_upload")
      fails[v] += num("non_2xx") + num("errors"); ok[v] += num("ok")
      if (v == "B") { del += num("delivered_during"); pend += num("pending_after"); failed += num("failed_after") }
      rates[v] = rates[v] sprintf("%s%.0f", rates[v] == "" ? "" : ", ", num("req_per_s"))
    }
    END {
      for (k in n) {
        for (i = 1; i <= n[k]; i++) { a[i] = rate[k, i] } ; mr[k] = median(a, n[k])
        for (i = 1; i <= n[k]; i++) { a[i] = p99[k, i] } ; mp[k] = median(a, n[k])
        for (i = 1; i <= n[k]; i++) { a[i] = cpu[k, i] } ; mc[k] = median(a, n[k])
      }
      printf "| variant | runs req/s | median req/s | median p99 ms | median server CPU ms per upload | failed requests |\n|---|---|---:|---:|---:|---:|\n"
      printf "| A: no endpoint | %s | %.0f | %.1f | %.3f | %d |\n", rates["A"], mr["A"], mp["A"], mc["A"], fails["A"]
      printf "| B: endpoint, deliveries flowing | %s | %.0f | %.1f | %.3f | %d |\n", rates["B"], mr["B"], mp["B"], mc["B"], fails["B"]
      printf "\nB ÷ A (median req/s): %.3f, a slowdown of %.1f %% (goal: at most 10 %%: %s).\n", mr["B"] / mr["A"], (1 - mr["B"] / mr["A"]) * 100, (1 - mr["B"] / mr["A"]) <= 0.10 ? "met" : "**missed**"
      printf "During the B runs %d events were delivered for %d uploads; %d were left pending when Folio stopped at the end of a run, %d failed.\n", del, ok["B"], pend, failed
    }')
  SUMMARY+=("" "$table")
  log "$table"
}

# ------------------------------------------------------------------ main
START_S=$SECONDS
setup
machine
log "results: bench/results/$STAMP-webhooks"
for s in $STEPS; do
  case $s in
    receiver) step_receiver ;;
    drain) step_drain ;;
    slowdown) step_slowdown ;;
    *) die "unknown step $s (known: receiver drain slowdown)" ;;
  esac
done
ELAPSED=$((SECONDS - START_S))
{
  echo "Run \`$STAMP-webhooks\`, $((ELAPSED / 60)) min $((ELAPSED % 60)) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg); raw runs in \`bench/results/$STAMP-webhooks/runs.jsonl\`."
  echo
  cat "$OUT/machine.md"
  echo
  if [ -n "${DRAIN_RATE:-}" ]; then
    echo "Target (a), a backlog drains at ≥ 500 events/s: $(printf '%.0f' "$DRAIN_RATE") events/s, $(awk -v r="$DRAIN_RATE" 'BEGIN { print (r >= 500) ? "met" : "**missed**" }')."
    echo
  fi
  printf '%s\n' "${SUMMARY[@]}"
} >"$OUT/summary.md"
# Keep this machine's paths out of the stored logs.
sed -i "s|$ROOT/||g; s|$WORK|WORK|g" "$OUT"/*.log 2>/dev/null || true
cat "$OUT/summary.md"
log "done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s: bench/results/$STAMP-webhooks"
