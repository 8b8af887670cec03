#!/usr/bin/env bash
# Paired runs: `fugong run` and calamine alone (benches/calamine_floor.rs, the `calamine-floor` binary) on the same files, one after
# the other, ratio per pair, median of the ratios, with fugong's peak RSS (its own and the largest of
# its reader workers, as `run` reports them, and /usr/bin/time's maximum for the whole process).
#
#   benches/paired.sh [CORPUS...]      corpora: A B C1 C2 N (default: all)
#
#   A   136 districts × 200 rows              pairs: $PAIRS_SMALL (default 9), floor: calamine 1 thread
#   B   1 district × 50,000 rows              pairs: $PAIRS_SMALL, floor: calamine's streaming reader
#   C1  570 × 1,000 rows, the first day       pairs: $PAIRS_LARGE (default 3)
#   C2  570 × 1,000, the next day, published on top of C1's warehouse (the generator's daily figures and
#       problem texts change from day to day, so problems open and close: the ledger churns)
#   N   the national day: 2,850 districts × 150 rows
#
# The corpora come from the seeded generator (GEN, default ../shared/tools/gen_corpus.py, which needs
# xlsxwriter: a venv is made under target/bench-venv) into target/bench-gen/, made once and reused.
# fugong is target/release/fugong (FUGONG=... to compare another build); both are built here (BUILD=0:
# not). Each run's warehouse is kept until the end (see `runs` below).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PAIRS_SMALL=${PAIRS_SMALL:-9}
PAIRS_LARGE=${PAIRS_LARGE:-3}
GEN=${GEN:-$root/../shared/tools/gen_corpus.py}
corpora=("$@")
[ ${#corpora[@]} -gt 0 ] || corpora=(A B C1 C2 N)

if [ "${BUILD:-1}" != 0 ]; then   # BUILD=0: measure the binaries already built
  cargo build --release --quiet --bin fugong
  cargo build --release --quiet --features bench-floor --bin calamine-floor
fi
FUGONG=${FUGONG:-$root/target/release/fugong}
FLOOR=$root/target/release/calamine-floor
out=$root/target/bench-gen
mkdir -p "$out"

py=$root/target/bench-venv/bin/python
if [ ! -x "$py" ]; then
  python3 -m venv "$root/target/bench-venv"
  "$root/target/bench-venv/bin/pip" install --quiet xlsxwriter
fi

# gen NAME DATE DISTRICTS ROWS
gen() {
  local dir=$out/$1
  if [ ! -f "$dir/expected/$2.json" ]; then
    [ -f "$GEN" ] || { echo "no generator at $GEN (set GEN=.../gen_corpus.py)" >&2; exit 2; }
    "$py" "$GEN" --out "$dir" --date "$2" --districts "$3" --rows-per-district "$4" >/dev/null
  fi
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

# pair LABEL PAIRS FLOOR_MODE JOB DATE BASE_WAREHOUSE(or -)
pair() {
  local label=$1 pairs=$2 mode=$3 job=$4 date=$5 base=$6
  local files=("$(dirname "$job")/$date"/*)
  local ratios=() fug=() flo=() rss=() tree=()
  for ((i = 0; i < pairs; i++)); do
    local wh=$runs/$label-$i
    if [ "$base" != - ]; then cp -a "$base" "$wh"; fi
    sync
    local t0 t1 t2 t3
    t0=$(now)
    /usr/bin/time -f '%M' -o "$out/time.txt" \
      "$FUGONG" run --quiet --job "$job" --date "$date" --output "$wh" >"$out/run.txt"
    t1=$(now)
    t2=$(now)
    "$FLOOR" "$mode" 1 "${files[@]}" >/dev/null
    t3=$(now)
    local f c
    f=$(echo "$t1 - $t0" | bc)
    c=$(echo "$t3 - $t2" | bc)
    fug+=("$f"); flo+=("$c")
    ratios+=("$(echo "scale=4; $f / $c" | bc)")
    rss+=("$(grep -m1 'peak memory' "$out/run.txt")")
    tree+=("$(awk '{printf "%.1f", $1/1024}' "$out/time.txt")")
  done
  printf '%-4s %6s pairs  fugong %7.3f s  calamine(%s) %7.3f s  ratio %5.2fx (min %.2f max %.2f)  max RSS %s MiB  [%s]\n' \
    "$label" "$pairs" \
    "$(printf '%s\n' "${fug[@]}" | median)" "$mode" "$(printf '%s\n' "${flo[@]}" | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)" \
    "$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)" "$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)" \
    "$(printf '%s\n' "${tree[@]}" | sort -g | tail -1)" "${rss[-1]}"
}

# Every run publishes into a warehouse of its own, and they are all removed only at the end: deleting a
# warehouse of thousands of blobs right before the next run would make that run's file creations pay for
# the deletion (on an ext4 without a journal, the kernel skips inodes deleted in the last minutes one by
# one, reading each from the inode table: 4 s of system time instead of 1 s on the national day), a cost
# of this script's clean-up that neither calamine nor a nightly run has.
runs=$out/runs
rm -rf "$runs"
mkdir -p "$runs"

echo "paired runs on $(nproc) cores, $(date -u +%F), fugong $("$FUGONG" --version | head -1)"
for c in "${corpora[@]}"; do
  case $c in
    A) gen A 2020-02-24 136 200; pair A "$PAIRS_SMALL" range "$out/A/job.toml" 2020-02-24 - ;;
    B) gen B 2020-02-24 1 50000; pair B "$PAIRS_SMALL" stream "$out/B/job.toml" 2020-02-24 - ;;
    C1) gen C 2020-02-24 570 1000; pair C1 "$PAIRS_LARGE" range "$out/C/job.toml" 2020-02-24 - ;;
    C2)
      gen C 2020-02-24 570 1000; gen C 2020-02-25 570 1000
      base=$out/warehouse-C-day1
      if [ ! -d "$base" ]; then
        "$FUGONG" run --quiet --job "$out/C/job.toml" --date 2020-02-24 --output "$base" >/dev/null
      fi
      pair C2 "$PAIRS_LARGE" range "$out/C/job.toml" 2020-02-25 "$base" ;;
    N) gen N 2020-02-24 2850 150; pair N "$PAIRS_LARGE" range "$out/N/job.toml" 2020-02-24 - ;;
    *) echo "unknown corpus $c (A B C1 C2 N)" >&2; exit 2 ;;
  esac
done
rm -rf "$runs" "$out/warehouse-run"
echo "ratio = fugong / calamine alone on one thread, per pair, median; max RSS = /usr/bin/time's maximum of the fugong process"
