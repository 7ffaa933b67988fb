#!/usr/bin/env bash
# End-to-end benchmark: generates a bf16 Llama family (base + 3 fine-tunes) of SIZE per model with
# `mergestream testdata` and, in RUNS interleaved rounds after one warm-up round (page cache warm), measures
# side by side: the I/O floor (cat of base + 2 fine-tunes to /dev/null, then the last fine-tune's shards
# copied to a new file with fsync by `dd conv=fsync`: every input byte read once, one output's bytes written
# and synced), the dare_ties merge with --kernel KERNEL and, when the native library is built, the same merge
# with --kernel native. Each merge runs with -XX:+CITime; the CPU time of the JIT compiler threads is read
# from /proc while it runs (CITime's figures are elapsed times: on a loaded machine they include the time the
# compiler threads waited for a core). It prints the medians of every figure and of the ratio merge / floor
# per round, and the load average before and after. With --baseline JAR every round also runs that jar's merge
# (KERNEL) right after this tree's, e.g. a build of main, so that before and after are measured side by side
# against the same floor; --baseline-options FILE runs it with that java @argfile as its JVM options (the
# bin/jvm.options that jar's launcher used) instead of the flags bin/mergestream passed before bin/jvm.options
# existed (no JIT thresholds). The same jar with another options file A/B-tests JVM flags.
#
#   bench/e2e.sh [--size 1GB|4GB] [--runs 5] [--threads N] [--kernel auto|vector|scalar|native] [--no-native]
#                [--baseline JAR [--baseline-options FILE]] [--recipe-param 'rescale: inverse'] [--dir DIR]
#                [--keep] [--no-kernel-only]
#   bench/e2e.sh --smoke        # a 16 MB family, one round: checks the harness, measures nothing
#
# --recipe-param adds a line to the recipe's parameters (e.g. 'rescale: inverse' leaves out the L1 pass of the
# default rescale, to measure the I/O pipeline rather than that pass).
#
# MERGESTREAM_JAVA_OPTS is passed on to every merge (e.g. to try a JVM flag against the same floor).
# The family (4 x SIZE), the output and the floor's copy (1 x SIZE each) go under --dir (default: a fresh
# directory in $TMPDIR) and are deleted at the end unless --keep (the disk is shared). Needs /usr/bin/time
# (Debian: apt-get install time).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size=1GB runs=5 threads="" kernel=auto dir="" keep=0 smoke=0 native=1 kernel_only=1 baseline="" baseline_options="" recipe_param=""
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --kernel) kernel="$2"; shift 2 ;;
    --no-native) native=0; shift ;;
    --baseline) baseline="$2"; shift 2 ;;
    --baseline-options) baseline_options="$2"; shift 2 ;;
    --recipe-param) recipe_param="$2"; shift 2 ;;
    --no-kernel-only) kernel_only=0; shift ;;
    --dir) dir="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --smoke) smoke=1; size=16MB; runs=1; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "e2e: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "e2e: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
[ -n "$threads" ] || threads=$(nproc)
ms="$root/bin/mergestream"
. "$root/bin/find-jdk.sh"
made_dir=0
if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/mergestream-e2e.XXXXXX"); made_dir=1; fi
cleanup() {
  rm -rf "$dir/floor-out"
  if [ "$keep" = 0 ]; then rm -rf "$dir/family" "$dir/out" "$dir/recipe.yml" "$dir"/run-*.txt "$dir"/run-*.jit "$dir/rounds.txt"; [ "$made_dir" = 1 ] && rmdir "$dir" 2>/dev/null || true; fi
}
trap cleanup EXIT

echo "e2e: machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GB RAM"
echo "e2e: load before: $(uptime | sed 's/.*load average: //')"
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
${recipe_param:+  $recipe_param
}dtype: bfloat16
seed: 20231103
YML

in_bytes=$(cat "$dir"/family/{base,ft1,ft2,ft3}/*.safetensors | wc -c)
kernels=("$kernel")
if [ "$native" = 1 ] && [ "$kernel" != native ]; then
  if [ -f "$root/target/native/libmergestream_native.so" ]; then kernels+=(native); else echo "e2e: native kernel not built: not measured"; fi
fi
# what each round runs: this tree's merge with every kernel, then the baseline jar's with KERNEL
variants=("${kernels[@]}")
if [ -n "$baseline" ]; then
  [ -f "$baseline" ] || { echo "e2e: --baseline $baseline: no such file" >&2; exit 2; }
  variants+=(baseline)
fi
if [ -n "$baseline_options" ]; then
  [ -n "$baseline" ] || { echo "e2e: --baseline-options needs --baseline JAR" >&2; exit 2; }
  [ -f "$baseline_options" ] || { echo "e2e: --baseline-options $baseline_options: no such file" >&2; exit 2; }
fi

# The CPU seconds (user + system) of the JIT compiler threads of process $1, sampled every 50 ms until it
# exits: per thread the last reading (a compiler thread that exits early loses at most its last 50 ms).
jit_cpu() {
  local pid=$1 hz; hz=$(getconf CLK_TCK)
  declare -A last=()
  while [ -d "/proc/$pid" ]; do
    for st in /proc/"$pid"/task/*/stat; do
      local line=""; { read -r line < "$st"; } 2>/dev/null || continue # a thread that has just exited
      case "$line" in
        *"(C1 CompilerThre"*|*"(C2 CompilerThre"*) ;;
        *) continue ;;
      esac
      local rest=${line##*) }; local f=($rest) # fields from 3 on: utime is field 14, stime 15
      last[$st]=$(( f[11] + f[12] ))
    done
    sleep 0.05
  done
  local sum=0; for v in "${last[@]}"; do sum=$((sum + v)); done
  awk -v t="$sum" -v hz="$hz" 'BEGIN {printf "%.2f\n", t / hz}'
}

merge() { # $1: kernel or baseline, $2: label; leaves $dir/run-$2.txt (the summary, CITime, time -v) and $dir/run-$2.jit
  local cmd=("$ms") k="$1"
  if [ "$1" = baseline ]; then # the build as its launcher ran it: its own jvm.options, or the flags of before them
    local opts=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xmx128m)
    [ -n "$baseline_options" ] && opts=("@$baseline_options")
    cmd=("$JAVA_HOME/bin/java" "${opts[@]}" ${MERGESTREAM_JAVA_OPTS:-} -XX:+CITime -jar "$baseline")
    k="$kernel"
  fi
  MERGESTREAM_JAVA_OPTS="${MERGESTREAM_JAVA_OPTS:-} -XX:+CITime" /usr/bin/time -v "${cmd[@]}" merge "$dir/recipe.yml" \
    -o "$dir/out" --force --quiet --threads "$threads" --kernel "$k" > "$dir/run-$2.txt" 2>&1 &
  local tpid=$! jpid=""
  for _ in $(seq 1 200); do jpid=$(pgrep -P "$tpid" || true); [ -n "$jpid" ] && break; sleep 0.01; done
  if [ -n "$jpid" ]; then jit_cpu "$jpid" > "$dir/run-$2.jit"; else echo 0 > "$dir/run-$2.jit"; fi
  wait "$tpid" || { cat "$dir/run-$2.txt" >&2; exit 1; }
}

floor() { # prints the wall seconds of: cat base + ft1 + ft2 > /dev/null; ft3's shards | dd conv=fsync
  local t0 t1; t0=$(date +%s.%N)
  cat "$dir"/family/{base,ft1,ft2}/*.safetensors > /dev/null
  cat "$dir"/family/ft3/*.safetensors | dd of="$dir/floor-out" bs=16M iflag=fullblock conv=fsync status=none
  t1=$(date +%s.%N); rm -f "$dir/floor-out"
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

# One merge run's figures: merge s, wall s, user s, sys s, max RSS kB, peak heap MB, CITime C1+C2 s, JIT CPU s
figures() {
  local f="$dir/run-$1.txt"
  local merge_s heap wall user sys rss citime
  merge_s=$(sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' "$f")
  heap=$(sed -n 's/.*peak heap \([0-9]*\) MB.*/\1/p' "$f")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$f" | awk -F: '{s=0; for(i=1;i<=NF;i++) s=s*60+$i; print s}')
  user=$(sed -n 's/.*User time (seconds): //p' "$f")
  sys=$(sed -n 's/.*System time (seconds): //p' "$f")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$f")
  # "  C1 {speed: ...; standard:  1.234 s, ...; osr:  0.123 s, ...": standard + osr of C1 and C2
  citime=$(grep -E '^ +C[12] \{' "$f" | sed 's/.*standard: *\([0-9.]*\) s.*osr: *\([0-9.]*\) s.*/\1 \2/' | awk '{s+=$1+$2} END {printf "%.2f", s}')
  echo "$merge_s $wall $user $sys $rss $heap $citime $(cat "$dir/run-$1.jit")"
}

echo "e2e: warm-up round (page cache, the launcher's jar) ..."
floor > /dev/null
for k in "${variants[@]}"; do merge "$k" "warm-$k"; done
out_bytes=$(cat "$dir"/out/*.safetensors | wc -c)
: > "$dir/rounds.txt"
for i in $(seq 1 "$runs"); do # paired, interleaved: floor, then each kernel's merge, in every round
  fl=$(floor)
  line="$fl"
  for k in "${variants[@]}"; do merge "$k" "$i-$k"; line="$line $(figures "$i-$k")"; done
  echo "$line" >> "$dir/rounds.txt"
  echo "e2e: round $i: floor $fl s; $(for k in "${variants[@]}"; do figures "$i-$k" | awk -v k="$k" -v fl="$fl" '{printf "%s merge %.2f s (x%.2f floor), wall %.2f s, CPU %.2f s, JIT CPU %.2f s (CITime %.2f s); ", k, $1, $1/fl, $2, $3+$4, $8, $7}'; done)"
done
echo "e2e: load after: $(uptime | sed 's/.*load average: //')"
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$1" '{print $c}' "$dir/rounds.txt" | median; }
ratio() { awk -v a="$1" -v b="$2" '{print $a / $b}' "$dir/rounds.txt" | median; }
m_floor=$(col 1)
grep -h "^mergestream: merged" "$dir/run-1-${kernels[0]}.txt" | sed 's/^/e2e: last summary: /'
printf "e2e: dare_ties, bf16, base + 3 fine-tunes of %s, %s threads: medians of %d interleaved rounds\n" "$size" "$threads" "$runs"
awk -v inb="$in_bytes" -v outb="$out_bytes" -v fl="$m_floor" 'BEGIN {
  printf "  input %.2f GB, output %.2f GB\n", inb/1e9, outb/1e9
  printf "  I/O floor (cat inputs > /dev/null + dd conv=fsync of one output'"'"'s bytes) %.2f s\n", fl }'
c=2
declare -A merge_median=()
for k in "${variants[@]}"; do # columns per variant: merge wall user sys rss heap citime jit (8)
  m=$(col $c); w=$(col $((c+1))); u=$(col $((c+2))); s=$(col $((c+3))); rss=$(col $((c+4))); heap=$(col $((c+5)))
  ci=$(col $((c+6))); jit=$(col $((c+7))); r=$(ratio $c 1); rw=$(ratio $((c+1)) 1)
  awk -v k="$k" -v m="$m" -v w="$w" -v u="$u" -v s="$s" -v rss="$rss" -v heap="$heap" -v ci="$ci" -v jit="$jit" \
      -v r="$r" -v rw="$rw" -v inb="$in_bytes" -v outb="$out_bytes" 'BEGIN {
    printf "  %s: merge %.2f s, process wall %.2f s; merge / floor %.2f, wall / floor %.2f (medians of the per-round ratios)\n", k, m, w, r, rw
    printf "  %s: CPU user %.2f s + sys %.2f s; JIT compiler threads %.2f s CPU (CITime elapsed %.2f s)\n", k, u, s, jit, ci
    printf "  %s: input read %.2f GB/s; bytes moved (in + out) %.2f GB/s; peak RSS %.0f MB (incl. touched mapped pages), peak heap %s MB\n", k, inb/1e9/m, (inb+outb)/1e9/m, rss/1024, heap
  }'
  merge_median[$k]=$m
  c=$((c+8))
done
m_merge=$(col 2)

# The kernels alone over the same mapped inputs (output to a scratch buffer), this run's kernel and the native
# yardstick, and the memory system's own limit (STREAM, from the native library): the ratios of the targets.
bench_jar="$root/bench/target/benchmarks.jar"
java_run() { "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx128m "$@" 2>/dev/null; }
e2e_moved=$(awk -v inb="$in_bytes" -v outb="$out_bytes" -v m="$m_merge" 'BEGIN {printf "%.4f", (inb+outb)/1e9/m}')
if [ "$kernel_only" = 0 ]; then
  :
elif [ -f "$bench_jar" ]; then
  for k in "${kernels[@]}"; do
    line=$(java_run -cp "$bench_jar" io.mergestream.bench.KernelOverMappedInputs "$dir/recipe.yml" "$threads" "$k" "$runs" || true)
    if [ -n "$line" ]; then
      echo "e2e: $line"
      ko=$(sed -n 's/.*median \([0-9.]*\) GB\/s.*/\1/p' <<<"$line")
      awk -v inb="$in_bytes" -v m="${merge_median[$k]}" -v k="$ko" -v name="$k" 'BEGIN {printf "e2e:   end-to-end input GB/s / %s kernel alone: %.2f\n", name, inb/1e9/m/k}'
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
