#!/usr/bin/env bash
# Runs one fuzz target for a number of executions and reports what it did:
#   tests/fuzz/run-long.sh TARGET EXECUTIONS
# TARGET is socketio_fuzz, session_fuzz, jwt_fuzz or rest_fuzz (tests/CMakeLists.txt).
# The run starts from the target's seeds (only read) and the build tree's
# fuzz-corpus-TARGET, where the new inputs stay for the next run. It prints
# libFuzzer's final line and stats (executions, cov: edges, ft: features,
# corpus size, time), then the line and region coverage of each source
# file, from the corpus replayed by TARGET_cov (clang's coverage mapping).
# A crashing input is written to the build tree's fuzz-artifacts-TARGET/
# and the exit status is non-zero: keep it as tests/fuzz/<corpus>/crash-*.
# Builds in $CHAT_TEST_BUILD_DIR (default build-test), like
# tests/conformance/run-official-suites.sh; runs under nice.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${CHAT_TEST_BUILD_DIR:-$root/build-test}
[ $# -eq 2 ] || { echo "usage: $0 TARGET EXECUTIONS" >&2; exit 2; }
target=$1
runs=$2
case $target in
  socketio_fuzz) seeds=$root/tests/fuzz/corpus; dict= ;;
  session_fuzz) seeds=$root/tests/fuzz/corpus-session; dict=-dict=$root/tests/fuzz/session.dict ;;
  jwt_fuzz) seeds=$root/tests/fuzz/corpus-jwt; dict= ;;
  rest_fuzz) seeds=$root/tests/fuzz/rest_corpus; dict= ;;
  *) echo "$0: unknown target $target" >&2; exit 2 ;;
esac

[ -f "$build/CMakeCache.txt" ] ||
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCHAT_WERROR=ON >/dev/null
cmake --build "$build" -j2 --target "${target}_target" "${target}_cov_target" >/dev/null

tests=$build/tests
corpus=$tests/fuzz-corpus-$target
artifacts=$tests/fuzz-artifacts-$target
log=$tests/run-long-$target.log
mkdir -p "$corpus" "$artifacts"

start=$(date +%s)
status=0
# shellcheck disable=SC2086 # $dict is empty or one argument
ASAN_OPTIONS=detect_leaks=1 nice "$tests/$target" -runs="$runs" -max_len=4096 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" $dict "$corpus" "$seeds" >"$log" 2>&1 ||
  status=$?
seconds=$(($(date +%s) - start))

echo "== $target: $runs executions asked, $seconds s, exit status $status (log: $log)"
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" || tail -n 5 "$log"
grep -E '^stat::' "$log" || true
echo "corpus: $(find "$corpus" -type f | wc -l) inputs in $corpus, $(find "$seeds" -type f | wc -l) seeds"
if [ "$status" -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|Test unit written' "$log" || true
  exit "$status"
fi

# Coverage of the corpus the run left, replayed once by the _cov build.
profiles=$tests/run-long-$target.profraw.d
rm -rf "$profiles"
mkdir -p "$profiles"
LLVM_PROFILE_FILE="$profiles/%p.profraw" "$tests/${target}_cov" -runs=0 "$corpus" "$seeds" \
  >/dev/null 2>&1
llvm-profdata merge -sparse "$profiles"/*.profraw -o "$tests/run-long-$target.profdata"
echo "== coverage of $target's corpus (llvm-cov report)"
llvm-cov report "$tests/${target}_cov" -instr-profile="$tests/run-long-$target.profdata" \
  -show-region-summary=false -show-instantiation-summary=false "$root/services" "$root/common" \
  "$root/tests/fuzz" | sed "s|$root/||"
