#!/usr/bin/env bash
# End-to-end benchmark: generates a bf16 Llama family (base + 3 fine-tunes) of SIZE per model with
# `mergestream testdata`, runs a dare_ties merge of it RUNS times after one warm-up run (page cache warm),
# and prints medians of: merge time (the merge's own summary) and process wall time, input GB/s, bytes
# moved per second (input read + output written), peak RSS (/usr/bin/time -v) and peak heap (the summary).
# When the native kernel is built, it also prints the STREAM copy/triad figures of this machine.
#
#   bench/e2e.sh [--size 1GB] [--runs 5] [--threads N] [--kernel auto|vector|scalar|native] [--dir DIR] [--keep]
#   bench/e2e.sh --smoke        # a 16 MB family, one run: checks the harness, measures nothing
#
# The family (4 x SIZE) and the output (1 x SIZE) go under --dir (default: a fresh directory in $TMPDIR) and
# are deleted at the end unless --keep (the disk is shared). Needs /usr/bin/time (Debian: apt-get install time).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size=1GB runs=5 threads="" kernel=auto dir="" keep=0 smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --kernel) kernel="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --smoke) smoke=1; size=16MB; runs=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "e2e: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "e2e: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
[ -n "$threads" ] || threads=$(nproc)
ms="$root/bin/mergestream"
made_dir=0
if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/mergestream-e2e.XXXXXX"); made_dir=1; fi
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$dir/family" "$dir/out" "$dir/recipe.yml" "$dir"/run-*.txt; [ "$made_dir" = 1 ] && rmdir "$dir" 2>/dev/null || true; fi; }
trap cleanup EXIT

echo "e2e: machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GB RAM"
if [ ! -f "$dir/family/family.json" ]; then
  echo "e2e: generating a bf16 llama family of $size per model in $dir/family ..."
  "$ms" testdata "$dir/family" --arch llama --dtype bf16 --fine-tunes 3 --size "$size" --force
fi
cat > "$dir/recipe.yml" <<YML
# bench/e2e.sh: the DARE-TIES recipe of testdata/recipes/dare_ties.yml on the generated family.
merge_method: dare_ties
base_model: family/base
models:
  - model: family/ft1
    parameters: {weight: 0.5, density: 0.3}
  - model: family/ft2
    parameters: {weight: 0.3, density: 0.5}
  - model: family/ft3
    parameters: {weight: 0.2, density: 0.7}
parameters:
  normalize: true
dtype: bfloat16
seed: 20231103
YML

in_bytes=$(cat "$dir"/family/{base,ft1,ft2,ft3}/*.safetensors | wc -c)
run() { # $1: label; prints nothing, leaves $dir/run-$1.txt
  /usr/bin/time -v "$ms" merge "$dir/recipe.yml" -o "$dir/out" --force --quiet --threads "$threads" \
    --kernel "$kernel" > "$dir/run-$1.txt" 2>&1 || { cat "$dir/run-$1.txt" >&2; exit 1; }
}
echo "e2e: warm-up run (page cache) ..."
run warm
out_bytes=$(cat "$dir"/out/*.safetensors | wc -c)
for i in $(seq 1 "$runs"); do run "$i"; done

# One line per run: merge seconds, wall seconds, max RSS kB, peak heap MB.
for i in $(seq 1 "$runs"); do
  f="$dir/run-$i.txt"
  merge_s=$(sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' "$f")
  heap=$(sed -n 's/.*peak heap \([0-9]*\) MB.*/\1/p' "$f")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$f" | awk -F: '{s=0; for(i=1;i<=NF;i++) s=s*60+$i; print s}')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$f")
  echo "$merge_s $wall $rss $heap"
done > "$dir/runs.txt"
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
m_merge=$(awk '{print $1}' "$dir/runs.txt" | median)
m_wall=$(awk '{print $2}' "$dir/runs.txt" | median)
m_rss=$(awk '{print $3}' "$dir/runs.txt" | median)
m_heap=$(awk '{print $4}' "$dir/runs.txt" | median)
rm -f "$dir/runs.txt"
grep -h "^mergestream: merged" "$dir/run-1.txt" | sed 's/^/e2e: last summary: /'
awk -v runs="$runs" -v size="$size" -v threads="$threads" -v kernel="$kernel" -v inb="$in_bytes" -v outb="$out_bytes" \
    -v m="$m_merge" -v w="$m_wall" -v rss="$m_rss" -v heap="$m_heap" 'BEGIN {
  printf "e2e: dare_ties, bf16, base + 3 fine-tunes of %s, %s threads, kernel %s: medians of %d runs\n", size, threads, kernel, runs
  printf "  input %.2f GB, output %.2f GB\n", inb/1e9, outb/1e9
  printf "  merge time %.2f s (process wall %.2f s)\n", m, w
  printf "  input read %.2f GB/s; bytes moved (in + out) %.2f GB/s\n", inb/1e9/m, (inb+outb)/1e9/m
  printf "  peak RSS %.0f MB (incl. touched mapped pages), peak heap %s MB\n", rss/1024, heap
}'

# The kernels alone over the same mapped inputs (output to a scratch buffer), this run's kernel and the native
# yardstick, and the memory system's own limit (STREAM, from the native library): the ratios of the targets.
bench_jar="$root/bench/target/benchmarks.jar"
. "$root/bin/find-jdk.sh"
java_run() { "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx128m "$@" 2>/dev/null; }
e2e_in=$(awk -v inb="$in_bytes" -v m="$m_merge" 'BEGIN {printf "%.4f", inb/1e9/m}')
e2e_moved=$(awk -v inb="$in_bytes" -v outb="$out_bytes" -v m="$m_merge" 'BEGIN {printf "%.4f", (inb+outb)/1e9/m}')
if [ -f "$bench_jar" ]; then
  for k in "$kernel" native; do
    line=$(java_run -cp "$bench_jar" io.mergestream.bench.KernelOverMappedInputs "$dir/recipe.yml" "$threads" "$k" "$runs" || true)
    if [ -n "$line" ]; then
      echo "e2e: $line"
      ko=$(sed -n 's/.*median \([0-9.]*\) GB\/s.*/\1/p' <<<"$line")
      awk -v e="$e2e_in" -v k="$ko" -v name="$k" 'BEGIN {printf "e2e:   end-to-end input GB/s / %s kernel alone: %.2f\n", name, e/k}'
    else
      echo "e2e: kernel-only ($k): not available"
    fi
  done
else
  echo "e2e: kernel-only figures: build the benchmarks first (cd bench && mvn -B -q package)"
fi
stream=$(java_run -cp "$root/target/mergestream-cli.jar" io.mergestream.kernel.NativeKernel 256 "$threads" || true)
if [ -n "$stream" ]; then
  sed 's/^/e2e: /' <<<"$stream"
  triad=$(grep ", $threads thread(s):" <<<"$stream" | sed -n 's/.*triad \([0-9.]*\) GB\/s.*/\1/p')
  awk -v e="$e2e_moved" -v t="$triad" -v n="$threads" 'BEGIN {printf "e2e:   bytes moved (in + out) / STREAM triad on %d threads: %.2f\n", n, e/t}'
else
  echo "e2e: STREAM figures: the native library is not built (native/build.sh, needs gcc)"
fi
