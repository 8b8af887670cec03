#!/usr/bin/env bash
# Fuzz the read → validate path (libFuzzer through cargo-fuzz) for N minutes (default 10):
#
#   bash benches/fuzz.sh [MINUTES]
#
# Seeds: every workbook the project ships (example/inbox, tests/fixtures) and those the test suite writes
# (target/fuzz-seeds, made by `cargo test` when FUGONG_FUZZ_SEEDS is set). Memory is capped the way a
# hostile file must not escape: -rss_limit_mb=1024 -malloc_limit_mb=1024. A crash lands in
# benches/fuzz/artifacts/read_validate/; copy it to tests/fixtures/fuzz/ (the suite replays that folder)
# and fix it. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io ..."
  cargo install cargo-fuzz
fi
# libFuzzer needs a nightly compiler (for -Zsanitizer); without one, stable with RUSTC_BOOTSTRAP and no
# sanitizer works too.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  run=(cargo +nightly fuzz)
  sanitizer=()
else
  export RUSTC_BOOTSTRAP=1
  run=(cargo fuzz)
  sanitizer=(--sanitizer none)
fi

corpus=target/fuzz-corpus
mkdir -p "$corpus"
if [ ! -d target/fuzz-seeds ]; then
  echo "writing the test suite's workbooks to target/fuzz-seeds ..."
  FUGONG_FUZZ_SEEDS=1 cargo test --quiet --features failpoints --test tests >/dev/null 2>&1 || true
fi
find example/inbox tests/fixtures target/fuzz-seeds -type f 2>/dev/null | while read -r f; do
  cp "$f" "$corpus/seed-$(sha256sum "$f" | cut -c1-16)"
done

"${run[@]}" run --fuzz-dir benches/fuzz "${sanitizer[@]}" --release read_validate "$corpus" -- \
  -max_total_time=$((minutes * 60)) -rss_limit_mb=1024 -malloc_limit_mb=1024 -timeout=30 \
  -max_len=1048576 -print_final_stats=1 2>&1 | tee target/fuzz-last.log | grep -E "^#|stat::|ERROR|SUMMARY|Done" || true
echo "corpus: $(ls "$corpus" | wc -l) files; log: target/fuzz-last.log"
