#!/usr/bin/env bash
# Runs one end-to-end test many times in a row against a private Kafka and
# FerretDB, stopping at the first failure: the evidence that a fault test
# is not flaky. Build first (tests/run.sh, or cmake into the build dir).
#
#   tests/repeat.sh [COUNT] [TEST FILE] [NAME PATTERN]
#   tests/repeat.sh 20 tests/clients/messaging.test.mjs "SIGKILL of the persistence"
#
# Settings: CHAT_TEST_BUILD_DIR (default build-test). Prints one line per
# run and "N passed, M failed"; exits non-zero when a run failed (its
# output is kept in the temporary directory, whose path is printed).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
count=${1:-20}
file=${2:-tests/clients/messaging.test.mjs}
pattern=${3:-SIGKILL of the persistence}
build=${CHAT_TEST_BUILD_DIR:-$root/build-test}
# shellcheck source=../deploy/lib/stack.sh
source "$root/deploy/lib/stack.sh"
work=$(mktemp -d /tmp/chat-repeat.XXXXXX)
cleanup() {
  stack_kafka_stop "$work/kafka" || true
  stack_ferretdb_stop "$work/ferretdb" || true
}
trap cleanup EXIT
kafka_port=$(stack_free_port)
controller_port=$(stack_free_port)
ferretdb_port=$(stack_free_port)
stack_kafka_start "$work/kafka" "$kafka_port" "$controller_port" >/dev/null
stack_ferretdb_start "$work/ferretdb" "$ferretdb_port" >/dev/null
export CHAT_TEST_KAFKA_BROKERS="127.0.0.1:$kafka_port"
export CHAT_TEST_MONGO_URI="mongodb://127.0.0.1:$ferretdb_port/"
for service in gateway persistence presence receipts; do
  name=$(echo "$service" | tr '[:lower:]' '[:upper:]')
  export "CHAT_TEST_$name=$build/services/$service/chat-$service"
done
passed=0 failed=0
for i in $(seq 1 "$count"); do
  start=$(date +%s%N)
  if (cd "$root" && node --test --test-name-pattern "$pattern" "$file") >"$work/run-$i.log" 2>&1 &&
    grep -q '^ok .*' "$work/run-$i.log" && grep '^ok ' "$work/run-$i.log" | grep -qv '# SKIP'; then
    passed=$((passed + 1))
    echo "run $i: passed in $((($(date +%s%N) - start) / 1000000)) ms"
  else
    failed=$((failed + 1))
    echo "run $i: FAILED (output in $work/run-$i.log)"
    trap - EXIT
    cleanup
    break
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
