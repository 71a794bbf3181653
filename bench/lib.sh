# Shell pieces shared by bench/run.sh and bench/webhooks.sh (sourced, not run). They expect
# LOG (the run's log file), OUT (the results folder), WORK (the scratch folder), SCRATCH, ROOT and
# BUILD to be set by the script, and SETTLE_SECS before `settle` is called.

log() { printf '%s\n' "$*" | tee -a "$LOG" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------------ processes
STARTED=()
SERVER_PID=""

# start NAME CMD...: runs CMD in the background (output in $OUT/NAME.log), its PID in SERVER_PID.
start() {
  local name=$1; shift
  "$@" >>"$OUT/$name.log" 2>&1 &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
}

# forget PID: no longer ours to stop (it exited and was waited for).
forget() {
  local keep=() p
  for p in "${STARTED[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  STARTED=("${keep[@]}")
}

# stop PID: TERM, up to 10 s, then KILL; only ever a PID this script started.
stop() {
  local pid=$1 i
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}

# stop_all: every process this script started and still runs (for the EXIT trap).
stop_all() {
  local p
  for p in "${STARTED[@]}"; do stop "$p"; done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT: until something accepts on 127.0.0.1:PORT (15 s), while SERVER_PID lives.
wait_port() {
  local i
  for i in $(seq 150); do
    port_open "$1" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

need_free_port() {
  if port_open "$1"; then die "127.0.0.1:$1 is in use (set PORT_BASE to move the benchmark's ports)"; fi
}

# init_library DATA [ENV=VALUE...]: creates a library in DATA as a user does, with a first
# `folio serve` (on a free port, no metrics listener, stopped once it listens), and sets PUBLIC
# and PRIVATE to the key pair it printed. Only `serve` creates a library.
init_library() {
  local data=$1 out pid i; shift
  out="$WORK/init-library.out"
  mkdir -p "$data"
  env -u FOLIO_CONFIG FOLIO_METRICS__LISTEN= "$@" "$FOLIO" serve --listen 127.0.0.1:0 \
    --data-dir "$data" >"$out" 2>>"$LOG" &
  pid=$!
  STARTED+=("$pid")
  for i in $(seq 300); do
    grep -q '^Folio listening' "$out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  stop "$pid"
  PUBLIC=$(sed -n 's/^ *public key: *//p' "$out")
  PRIVATE=$(sed -n 's/^ *private key: *//p' "$out")
  rm -f "$out"
  [ -n "$PUBLIC" ] && [ -n "$PRIVATE" ] || die "no key pair from the first folio serve on $data (see $LOG)"
}

# ------------------------------------------------------------------ the build
# release_build: builds folio and folio-loadgen (unless BUILD=0) and sets FOLIO and LG to them.
release_build() {
  if [ "$BUILD" = 1 ]; then
    log "building folio and folio-loadgen (cargo build --release)"
    (cd "$ROOT" && cargo build --release -p folio -p folio-loadgen) >>"$LOG" 2>&1 ||
      die "cargo build failed (see $LOG)"
  fi
  local target
  target=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  FOLIO="$target/release/folio"
  LG="$target/release/folio-loadgen"
  [ -x "$FOLIO" ] && [ -x "$LG" ] || die "no release build in $target/release (run without BUILD=0)"
}

# ------------------------------------------------------------------ the machine
# machine_rows: the rows of machine.md every run has (date, CPU, memory, kernel, load, the
# scratch folder's disk, Folio's commit); the script adds its own (peers, plan).
machine_rows() {
  local dev disk base
  dev=$(df --output=source "$WORK" | tail -n1)
  disk="$dev, $(df --output=fstype "$WORK" | tail -n1 | tr -d ' ')"
  base=$(basename "$dev")
  if [ -r "/sys/class/block/$base/queue/rotational" ]; then
    disk="$disk, rotational=$(cat "/sys/class/block/$base/queue/rotational")"
  fi
  echo "| | |"
  echo "|---|---|"
  echo "| date (UTC) | $(date -u '+%Y-%m-%d %H:%M') |"
  echo "| CPU | $(nproc) × $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) |"
  echo "| memory | $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
  echo "| kernel | $(uname -sr) |"
  echo "| load average (1/5/15 min) at the start | $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine moves every figure) |"
  echo "| scratch folder | \`$SCRATCH\`: $disk |"
  echo "| Folio | $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'), $(rustc --version 2>/dev/null | cut -d' ' -f1-2) |"
}

# ------------------------------------------------------------------ deletions
# ext4 scans past recently deleted inodes when it creates files (see run.sh's top comment): a
# measured run starts SETTLE_SECS after the last deletion.
LAST_DELETE=0
settle() {
  local left=$((LAST_DELETE + SETTLE_SECS - SECONDS))
  if [ "$left" -gt 0 ]; then
    log "  (waiting ${left} s for the inodes of deleted files to be reusable)"
    sleep "$left"
  fi
}
