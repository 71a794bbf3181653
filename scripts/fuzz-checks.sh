#!/usr/bin/env bash
# Fuzzes the `checks` parser/evaluator (crates/folio-contract/fuzz, target parse_checks).
#
#   scripts/fuzz-checks.sh [SECONDS]     default 60
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a nightly toolchain
# (`rustup toolchain install nightly`), because libFuzzer instrumentation uses -Z flags.
# Without nightly it only checks that the target builds on stable, and says so.
set -euo pipefail
# cargo-fuzz expects to run from the crate that holds fuzz/.
cd "$(dirname "$0")/../crates/folio-contract"

seconds="${1:-60}"
target=parse_checks

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz-checks: no nightly toolchain; building the target on stable only (not fuzzing)." >&2
    cargo build --manifest-path fuzz/Cargo.toml --bin "$target"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-checks: cargo-fuzz missing: cargo install cargo-fuzz --locked" >&2
    exit 1
fi

# Seed the corpus with the spec's examples so the fuzzer starts from valid expressions.
corpus="fuzz/corpus/$target"
mkdir -p "$corpus"
i=0
while IFS= read -r line; do
    [ -n "$line" ] || continue
    printf '%s' "$line" > "$corpus/seed-$i"
    i=$((i + 1))
done <<'SEEDS'
"request.folder" : "marketing/"
'file.size' < '1mb'
"file.size" < 1024
'file.mime' IN ['image/jpeg', 'image/png', 'image/svg+xml']
"file.mime" : "video/"
'mediaMetadata.height' <= 300 AND 'mediaMetadata.width' <= 500
"request.useUniqueFileName" = true
"request.tags" NOT IN ["big-banner"]
"request.fileName" : "screenshot"
("file.size" < "5mb" AND "file.mime" : "image") OR "request.folder" = "videos"
"request.customMetadata.qty" > 200
"request.customMetadata.tuple" IN ["luxury", 500, true]
'request.customMetadata.launch' >= '2024-01-01T10:00:00+02:00' or 'request.customMetadata.size' : 'M'
'request.customMetadata.featured' not= FALSE and ('request.webhookUrl' : 'https://')
SEEDS

# -max_len matches MAX_CHECKS_BYTES plus a little, so the length limit is exercised too.
exec cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -max_len=10100
