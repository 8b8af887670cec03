#!/usr/bin/env bash
# Compare `fugong run` of several builds on the benchmark corpora, runs interleaved so that machine
# noise hits every build alike: benches/compare_builds.sh CORPUS_DIR RUNS BIN...
# (corpora: target/bench-corpus/A-v2 etc., made by `cargo bench --bench pipeline`). Prints the median
# wall time of each build in seconds.
set -euo pipefail
corpus=$1; runs=$2; shift 2
declare -A times
for ((i = 0; i < runs; i++)); do
  for bin in "$@"; do
    out=$(mktemp -d)
    start=$(date +%s.%N)
    "$bin" run --quiet --job "$corpus/job.toml" --date 2020-02-24 --output "$out" >/dev/null
    end=$(date +%s.%N)
    rm -rf "$out"
    times[$bin]+="$(echo "$end - $start" | bc) "
  done
done
for bin in "$@"; do
  median=$(tr ' ' '\n' <<<"${times[$bin]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-40s %s s\n' "$bin" "$median"
done
