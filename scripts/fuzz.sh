#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (checks in crates/folio-fuzz) under libFuzzer.
#
#   scripts/fuzz.sh                    every target, 10,000,000 executions each, one at a time
#   scripts/fuzz.sh TARGET [EXECS]     one target (`all` for every one)
#
# Prints, per target, the executions, seconds, coverage (cov), features (ft), corpus size and
# peak RSS libFuzzer reports, and whether it stayed clean; exits non-zero if any target found a
# crash, whose input libFuzzer saves in fuzz/artifacts/TARGET/. Add the minimised input
# (`cargo fuzz tmin TARGET ARTIFACT`) to fuzz/corpus/TARGET/ once the bug is fixed: CI replays
# that directory through the same check (crates/folio-fuzz/tests/corpus.rs).
#
# Too long for CI (minutes per target); CI runs the same checks as property tests instead.
#
# Needs cargo-fuzz, which it installs once into $FOLIO_TOOLS_DIR (outside the clone, like
# scripts/s3-server.sh does for its server). libFuzzer's instrumentation needs unstable rustc
# flags: with a nightly toolchain installed it runs `cargo +nightly fuzz`; otherwise it runs
# the stable toolchain with RUSTC_BOOTSTRAP=1, which unlocks those flags there.
#
# Environment:
#   FUZZ_TARGET_DIR   build directory (default fuzz/target)
#   FUZZ_SANITIZER    none (default) or address. Folio's crates forbid unsafe code, so
#                     AddressSanitizer only watches the dependencies' unsafe code, and it costs
#                     5-10x the executions per second here. Overflow checks and debug assertions
#                     are on either way (cargo-fuzz's default build).
#   FUZZ_ARGS         extra libFuzzer arguments, e.g. "-max_total_time=600"
#   FUZZ_TOOLCHAIN    nightly or stable, to choose rather than take nightly when installed
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION="0.13.2"
TOOLS_DIR="${FOLIO_TOOLS_DIR:-$HOME/.cache/folio/tools}"
CARGO_FUZZ_ROOT="$TOOLS_DIR/cargo-fuzz-$CARGO_FUZZ_VERSION"
TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
SANITIZER="${FUZZ_SANITIZER:-none}"

target="${1:-all}"
execs="${2:-10000000}"

log() { printf '%s\n' "$*" >&2; }

install_cargo_fuzz() {
  export PATH="$CARGO_FUZZ_ROOT/bin:$PATH"
  if cargo fuzz --version >/dev/null 2>&1; then
    return
  fi
  log "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $CARGO_FUZZ_ROOT (once per machine)"
  mkdir -p "$TOOLS_DIR"
  # A temporary build folder of its own (not the workspace's CARGO_TARGET_DIR): only the
  # binary is kept.
  env -u CARGO_TARGET_DIR cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked \
    --root "$CARGO_FUZZ_ROOT" --quiet >&2
}

# The longest input libFuzzer may try: a little beyond each parser's own limit, so the limit
# itself is exercised, and no more (every byte costs every execution).
max_len() {
  case "$1" in
    v1_fields) echo 256 ;;
    transformation) echo 2048 ;;          # MAX_TRANSFORMATION_LEN 1024, JSON around it
    file_name) echo 2100 ;;               # MAX_FILE_NAME_BYTES 1024 (1025 x 'a', 513 x 'é')
    folder) echo 1100 ;;                  # 51 levels, segments of 256 bytes
    checks) echo 10240 ;;                 # MAX_CHECKS_BYTES 10000
    multipart) echo 1024 ;;               # the checks bound header blocks at 64 bytes
    urlencoded) echo 512 ;;               # and names/values/totals at 16/32/64
    *) echo 4096 ;;
  esac
}

install_cargo_fuzz
if [ "${FUZZ_TOOLCHAIN:-}" = nightly ] || { [ -z "${FUZZ_TOOLCHAIN:-}" ] &&
  rustup toolchain list 2>/dev/null | grep -q '^nightly'; }; then
  fuzz=(cargo +nightly fuzz)
  toolchain="$(rustc +nightly --version)"
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  toolchain="$(rustc --version) with RUSTC_BOOTSTRAP=1"
fi
log "fuzz: $("${fuzz[@]}" --version) on $toolchain, sanitizer $SANITIZER"

mapfile -t all_targets < <("${fuzz[@]}" list)
if [ "$target" = all ]; then
  targets=("${all_targets[@]}")
elif printf '%s\n' "${all_targets[@]}" | grep -qx "$target"; then
  targets=("$target")
else
  log "fuzz: no target $target (targets: ${all_targets[*]})"
  exit 2
fi

summary=()
failed=0
for t in "${targets[@]}"; do
  # libFuzzer adds what it finds to the first corpus directory only: a working copy outside
  # git (fuzz/work/), so the committed seeds in fuzz/corpus/ stay as they are.
  work="fuzz/work/$t"
  mkdir -p "$work/corpus" "fuzz/artifacts/$t"
  log "fuzz: $t: $execs executions (log: $work/log)"
  status=0
  "${fuzz[@]}" run --sanitizer "$SANITIZER" --target-dir "$TARGET_DIR" "$t" \
    "$work/corpus" "fuzz/corpus/$t" -- \
    -runs="$execs" -max_len="$(max_len "$t")" -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" ${FUZZ_ARGS:-} >"$work/log" 2>&1 || status=$?

  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$work/log" | tail -n 1 || true)
  stats=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1 || true)
  field() { grep -oE "$1: [^ ]+" <<<"$stats" | head -n 1 | cut -d' ' -f2; }
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$work/log" | grep -oE '[0-9]+$' || true)
  seconds=$(grep -oE 'in [0-9]+ second' <<<"$done_line" | grep -oE '[0-9]+' || true)
  rss=$(grep -oE 'stat::peak_rss_mb: *[0-9]+' "$work/log" | grep -oE '[0-9]+$' || true)
  if [ "$status" -eq 0 ] && [ -n "$done_line" ]; then
    result="clean"
  else
    result="FAILED (exit $status; see $work/log and fuzz/artifacts/$t/)"
    failed=1
  fi
  line=$(printf '%-15s %-8s execs=%s seconds=%s cov=%s ft=%s corpus=%s exec/s=%s peak_rss_mb=%s' \
    "$t" "${result%% *}" "${runs:-?}" "${seconds:-?}" "$(field cov)" "$(field ft)" \
    "$(field corp)" "$(field exec/s)" "${rss:-?}")
  log "fuzz: $line"
  [ "$result" = clean ] || log "fuzz: $t: $result"
  summary+=("$line")
done

printf '%s\n' "${summary[@]}"
exit "$failed"
