#!/usr/bin/env bash
# Runs an official protocol test suite against our conformance server:
#   tests/conformance/run-official-suites.sh SUITE_DIR [SUITE_DIR...]
# SUITE_DIR is the test-suite/ folder of socketio/socket.io-protocol or of
# socketio/engine.io-protocol (fetched by you; never committed here). The
# script builds the conformance server, starts it on 127.0.0.1:3000 in the
# mode the suite needs, runs `npm ci && npm test` in the suite folder and
# stops the server. Exit status: non-zero when any suite failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${CHAT_TEST_BUILD_DIR:-$root/build-test}
[ $# -ge 1 ] || { echo "usage: $0 SUITE_DIR [SUITE_DIR...]" >&2; exit 2; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCHAT_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target conformance_server >/dev/null

status=0
for suite in "$@"; do
  suite=$(cd "$suite" && pwd)
  if grep -q '/engine.io/' "$suite/test-suite.js"; then mode=engineio; else mode=socketio; fi
  "$build/tests/conformance_server" "$mode" 3000 >"$suite/conformance-server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/3000) 2>/dev/null && break
    sleep 0.1
  done
  echo "== $suite ($mode)"
  (cd "$suite" && npm ci --no-audit --no-fund --silent && npm test) || status=1
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
done
exit $status
