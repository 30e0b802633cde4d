#!/usr/bin/env bash
# The test command (README "Quick start"): installs what is missing, builds
# with -Werror, starts its own Kafka and FerretDB (on its own PostgreSQL
# cluster) on free loopback ports in a temporary directory (never the dev
# stack's; as root the postgres user is let search it), runs every test through ctest
# (unit, contract, deployment and integration), then stops what it started.
#
# Settings: CHAT_TEST_BUILD_DIR (default build-test), CHAT_TEST_SANITIZER
# (address|undefined|thread; default address, so every test, the services
# it starts included, runs under AddressSanitizer and LeakSanitizer; set it
# empty for a plain build), CHAT_TEST_KEEP=1 keeps the
# temporary directory with the broker, FerretDB and PostgreSQL logs,
# CHAT_TEST_REGEX runs only the tests whose names match it (ctest -R),
# CHAT_DEV_STORE=sqlite runs FerretDB on SQLite instead of PostgreSQL.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CHAT_TEST_BUILD_DIR:-$root/build-test}

bash "$root/deploy/install.sh"
# shellcheck source=../deploy/lib/stack.sh
source "$root/deploy/lib/stack.sh"

# Python for the contract, deployment and event-consumer checks, at the
# versions tests/requirements.txt pins.
python_env=${CHAT_DEV_CACHE_DIR:-$HOME/.cache/chat-backend}/venv-test
if ! "$python_env/bin/python" -c 'import jsonschema, yaml, confluent_kafka, kubernetes_validate' 2>/dev/null; then
  python3 -m venv "$python_env"
  "$python_env/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/requirements.txt"
fi
# socket.io-client and friends, at the versions package-lock.json pins.
(cd "$root/tests/clients" && npm ci --no-audit --no-fund --silent)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCHAT_WERROR=ON \
  -DCHAT_SANITIZER="${CHAT_TEST_SANITIZER-address}" -DCHAT_PYTHON="$python_env/bin/python" >/dev/null
cmake --build "$build" -j"$(nproc)"

work=$(mktemp -d /tmp/chat-test.XXXXXX)
cleanup() {
  stack_kafka_stop "$work/kafka" || true
  stack_ferretdb_stop "$work/ferretdb" || true # and its PostgreSQL
  if [ "${CHAT_TEST_KEEP:-0}" = 1 ]; then
    echo "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

kafka_port=$(stack_free_port)
controller_port=$(stack_free_port)
ferretdb_port=$(stack_free_port)
stack_kafka_start "$work/kafka" "$kafka_port" "$controller_port"
stack_ferretdb_start "$work/ferretdb" "$ferretdb_port"

# libmongoc's shared-memory counters off, as deploy/up.sh has them: a
# stale segment of a killed process would make it print a plain-text line.
export MONGOC_DISABLE_SHM=1
export CHAT_TEST_KAFKA_BROKERS="127.0.0.1:$kafka_port"
export CHAT_TEST_MONGO_URI="mongodb://127.0.0.1:$ferretdb_port/"
# For tests/clients/store_queries.test.mjs, which starts a FerretDB of its
# own on this PostgreSQL cluster to read the plans of its reads.
export CHAT_TEST_STORE=${CHAT_DEV_STORE:-postgresql}
export CHAT_TEST_POSTGRES_DIR="$work/ferretdb/postgresql" CHAT_TEST_PG_BIN="$STACK_PG_BIN"
CHAT_TEST_FERRETDB_BIN=$(stack_ferretdb_bin)
export CHAT_TEST_FERRETDB_BIN
ctest --test-dir "$build" --output-on-failure --timeout 600 ${CHAT_TEST_REGEX:+-R "$CHAT_TEST_REGEX"}
