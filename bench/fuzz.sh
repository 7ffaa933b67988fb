#!/usr/bin/env bash
# Fuzzes one of mergestream's parsers with Jazzer for a chosen time (outside CI; CI runs the committed corpora
# as regression tests). Usage:
#   bench/fuzz.sh TARGET [DURATION] [--plant NAME]
# TARGET: checkpoint | header | index | recipe | vocabulary | config | zip | unpickler | pack | pack-header |
#   pack-header-fields
#   (or Class#method)
# DURATION: Jazzer's syntax, e.g. 30s, 10m, 1h (default 10m)
# --plant NAME: switch on the test-only planted bug NAME (safetensors, header, index, recipe, vocabulary, config,
#   zip, unpickler, pack; pack-header with pack-header-fields): the run shows the target finds it. Planted bugs
#   live in the fuzz tests only.
# The run is niced (-n 19). Findings are written as crash-* files into the target's corpus directory
# (src/test/resources/io/mergestream/fuzz/<Class>Inputs/<method>/, where they become failing regression inputs);
# the inputs that grew coverage into .cifuzz-corpus/<class>/<method>/ (not committed). The log is
# /tmp/fuzz-<target>-<date>.log; Jazzer prints libFuzzer's status lines there (#execs, cov, ft, corp, exec/s).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 1 ]] || { sed -n '2,15p' "$0"; exit 2; }
target="$1"; shift
duration=10m
plant=""
disabled_hooks=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --plant) plant="$2"; shift 2 ;;
    *) duration="$1"; shift ;;
  esac
done
case "$target" in
  checkpoint) test='SafetensorsFuzzTest#fuzzCheckpoint' ;;
  header) test='SafetensorsFuzzTest#fuzzHeader' ;;
  index) test='ShardIndexFuzzTest#fuzzShardIndex' ;;
  # Jazzer's regex-injection detector reports every Pattern.compile of input that fails to compile; a recipe's
  # exclude: is a list of regexes by contract (docs/merge-semantics.md) and an invalid one is refused in one line
  # (testdata/fuzz-regressions/recipe-exclude-not-a-regex.yml), so the detector is off for this target only.
  recipe) test='RecipeFuzzTest#fuzzRecipe'; disabled_hooks=com.code_intelligence.jazzer.sanitizers.RegexInjection ;;
  vocabulary) test='VocabularyFuzzTest#fuzzVocabulary' ;;
  config) test='ConfigJsonFuzzTest#fuzzConfigJson' ;;
  zip) test='TorchBinFuzzTest#fuzzTorchZip' ;;
  unpickler) test='TorchBinFuzzTest#fuzzUnpickler' ;;
  pack) test='DeltaPackFuzzTest#fuzzPack' ;;
  pack-header) test='DeltaPackFuzzTest#fuzzHeader' ;;
  pack-header-fields) test='DeltaPackFuzzTest#fuzzHeaderFields' ;;
  *'#'*) test="$target" ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
. "$root/bin/find-jdk.sh"
cd "$root"
log="/tmp/fuzz-${target//[^A-Za-z0-9]/_}-$(date -u +%Y%m%dT%H%M%S).log"
build="${FUZZ_BUILD_DIR:-/tmp/fuzz-build}"
echo "fuzzing $test for $duration${plant:+ with planted bug $plant}; log: $log" >&2
# JAZZER_FUZZ=1: fuzz instead of replaying the corpus. Instrumented: mergestream and the parsers it calls
# (Jackson, SnakeYAML), so coverage grows inside the JSON and YAML grammars too. The per-input time bound is
# each target's @Timeout (10 s), which Jazzer passes to libFuzzer as -timeout (JUnit's own enforcement is
# switched off here: it would time the whole fuzzing run as one invocation); -Xmx512m (surefire's argLine)
# bounds memory, and an OutOfMemoryError is a finding.
[[ -z "$disabled_hooks" ]] || export JAZZER_DISABLED_HOOKS="$disabled_hooks"
JAZZER_FUZZ=1 \
JAZZER_MAX_DURATION="$duration" \
JAZZER_INSTRUMENT='io.mergestream.**,com.fasterxml.jackson.**,org.yaml.snakeyaml.**' \
  nice -n 19 mvn -o -B -Dstyle.color=never -Dms.buildDir="$build" -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
  -Djunit.jupiter.execution.timeout.mode=disabled ${plant:+-Dmergestream.test.plant.$plant=true} test 2>&1 | tee "$log" \
  | grep -E --line-buffered '#[0-9]+|==|FuzzTestFinding|Tests run|BUILD|crash-|planted bug|contract broken' || true
