#!/usr/bin/env bash
# The fault runner by hand (README "Reliability"): tests/faults/run.mjs with
# the services of a build directory, against a private Kafka and FerretDB
# that it starts and stops itself.
#
#   tests/faults/run.sh [--minutes M | --seconds S] [--faults a,b,...] [--clients N] [--rate R] [--keep]
#   tests/faults/run.sh --storms [storms.mjs's arguments]   # the connect, reconnect and flood storms
#
# Settings: CHAT_TEST_BUILD_DIR (default build-test; build it first, e.g.
# with tests/run.sh). Without arguments: every fault once.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${CHAT_TEST_BUILD_DIR:-$root/build-test}
case $build in /*) ;; *) build=$root/$build ;; esac

for service in gateway persistence presence receipts; do
  binary=$build/services/$service/chat-$service
  [ -x "$binary" ] || { echo "run.sh: no $binary; build first (tests/run.sh or cmake --build $build)" >&2 && exit 2; }
  var=CHAT_TEST_${service^^}
  export "$var=${!var:-$binary}"
done
[ -d "$root/tests/clients/node_modules" ] || (cd "$root/tests/clients" && npm ci --no-audit --no-fund --silent)
if [ "${1:-}" = --storms ]; then
  shift
  exec node "$root/tests/faults/storms.mjs" "$@"
fi
exec node "$root/tests/faults/run.mjs" "$@"
