#!/usr/bin/env bash
# Per-method end-to-end benchmark (issue 13, "every method in the fused vector kernel"): one generated bf16
# Llama family (base + 3 fine-tunes of SIZE each), the same recipe shapes as testdata/recipes/, every method
# merged RUNS times, interleaved (run 1 of every method, then run 2 ...) so that a change of load on the
# machine hits every method alike; with --baseline JAR each run of each method also runs that jar (e.g. a
# build of main) right after this tree's. Prints per method and jar the median merge time (the merge's own
# summary) and process wall time, and each method's end-to-end throughput relative to dare_ties' on the same
# jar (= dare_ties' median wall / the method's), with the load average before and after.
#
#   bench/methods.sh [--size 300MB] [--runs 3] [--threads N] [--methods "dare_ties della ..."]
#                    [--jar JAR] [--baseline JAR] [--baseline-options FILE] [--dir DIR] [--keep]
#
# --jar runs a built jar as "current" instead of this tree through bin/mergestream (which rebuilds on change).
# Every jar runs with a launcher's JVM options (a java @argfile: the Vector API module, heap, JIT thresholds),
# so that a comparison measures the code, not the flags: --jar with this tree's bin/jvm.options, --baseline
# with --baseline-options FILE (default: this tree's bin/jvm.options; give the baseline's own, e.g.
# /work/bench-base2/jvm.options, when the flags changed between the two).
#
# The family (4 x SIZE) and the outputs go under --dir (default: a fresh directory in $TMPDIR) and are
# deleted at the end unless --keep (the outputs of the last run: DIR/out-current-METHOD and, with --baseline,
# DIR/out-baseline-METHOD, to cmp); an existing DIR/family is reused.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size=300MB runs=3 threads="" dir="" keep=0 baseline="" current_jar="" baseline_options=""
methods="dare_ties breadcrumbs_ties breadcrumbs della della_linear sce ram ramplus_tl nuslerp_rows"
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --baseline-options) baseline_options="$2"; shift 2 ;;
    --jar) current_jar="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "methods: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$threads" ] || threads=$(nproc)
[ -n "$baseline_options" ] || baseline_options="$root/bin/jvm.options"
[ -f "$baseline_options" ] || { echo "methods: no JVM options file $baseline_options" >&2; exit 2; }
ms="$root/bin/mergestream"
. "$root/bin/find-jdk.sh"
made_dir=0
if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/mergestream-methods.XXXXXX"); made_dir=1; fi
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$dir/family" "$dir"/out-* "$dir"/*.yml "$dir"/run-*.txt; [ "$made_dir" = 1 ] && rmdir "$dir" 2>/dev/null || true; fi; }
trap cleanup EXIT
if [ ! -f "$dir/family/family.json" ]; then
  echo "methods: generating a bf16 llama family of $size per model in $dir/family ..."
  "$ms" testdata "$dir/family" --arch llama --dtype bf16 --fine-tunes 3 --size "$size" --force
fi

recipe() { # $1 method: the recipe shapes of testdata/recipes/ on the family
  local m="$1" models params=""
  case "$m" in
    dare_ties) models="{weight: 0.5, density: 0.3}|{weight: 0.3, density: 0.5}|{weight: 0.2, density: 0.7}"
               params="parameters: {normalize: true}" ;;
    breadcrumbs|breadcrumbs_ties) models="{weight: 1.0, density: 0.4}|{weight: 0.5, density: 0.4, gamma: 0.05}|{weight: 0.5, density: 0.4}"
               params="parameters: {normalize: true}" ;;
    della|della_linear) models="{weight: 1.0, density: 0.5, epsilon: 0.2}|{weight: 0.5, density: 0.5}|{weight: 0.5, density: 0.5}" ;;
    sce) models="{}|{}|{}"; params="parameters: {select_topk: 0.5}" ;;
    ram|ramplus_tl) models="{}|{}|{}" ;;
    nuslerp_rows) models="{weight: 0.4}|{weight: 0.6}"; params="parameters: {nuslerp_flatten: false}" ;;
    *) echo "methods: no recipe for $m" >&2; exit 2 ;;
  esac
  echo "merge_method: ${m%_rows}"
  echo "base_model: family/base"
  echo "models:"
  local j=1 IFS='|'
  for p in $models; do echo "  - model: family/ft$j"; echo "    parameters: $p"; j=$((j + 1)); done
  [ -n "$params" ] && echo "$params"
  echo "dtype: bfloat16"
  echo "seed: 11"
}
for m in $methods; do recipe "$m" > "$dir/$m.yml"; done

jars="current"; [ -n "$baseline" ] && jars="current baseline"
one() { # $1 jar label, $2 method, $3 run: leaves the summary and the wall time in run-JAR-METHOD-RUN.txt
  local f="$dir/run-$1-$2-$3.txt" t0 t1
  t0=$(date +%s.%N)
  local j="$baseline" options="$baseline_options"
  [ "$1" = current ] && { j="$current_jar"; options="$root/bin/jvm.options"; }
  if [ -z "$j" ]; then
    "$ms" merge "$dir/$2.yml" -o "$dir/out-$1-$2" --force --quiet --threads "$threads" > "$f" 2>&1 || { cat "$f" >&2; exit 1; }
  else
    "$JAVA_HOME/bin/java" "@$options" ${MERGESTREAM_JAVA_OPTS:-} \
      -jar "$j" merge "$dir/$2.yml" -o "$dir/out-$1-$2" --force --quiet --threads "$threads" > "$f" 2>&1 || { cat "$f" >&2; exit 1; }
  fi
  t1=$(date +%s.%N)
  echo "wall $(echo "$t1 - $t0" | bc)" >> "$f"
}
one current dare_ties warm # page cache, and the launcher built
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$runs"); do
  for m in $methods; do for jar in $jars; do one "$jar" "$m" "$r"; done; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
col() { # $1 jar, $2 method, $3 merge|wall
  for r in $(seq 1 "$runs"); do
    f="$dir/run-$1-$2-$r.txt"
    if [ "$3" = merge ]; then sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' "$f"; else sed -n 's/^wall //p' "$f"; fi
  done | median
}
in_bytes=$(cat "$dir"/family/{base,ft1,ft2,ft3}/*.safetensors | wc -c)
echo "methods: $in_bytes bytes of input (bf16, base + 3 fine-tunes), $threads threads, $runs interleaved runs;" \
  "load average before $load_before, after $load_after"
printf '%-18s %-9s %10s %10s %14s\n' method jar "merge s" "wall s" "vs dare_ties"
for jar in $jars; do
  ref=$(col "$jar" dare_ties wall)
  for m in $methods; do
    w=$(col "$jar" "$m" wall)
    printf '%-18s %-9s %10.2f %10.2f %14.2f\n' "$m" "$jar" "$(col "$jar" "$m" merge)" "$w" "$(echo "scale=3; $ref / $w" | bc)"
  done
done
