#!/usr/bin/env bash
# The run command (README "Quick start"): checks that every port it will use
# is free, installs what is missing, builds the services, starts Kafka and
# FerretDB (deploy/infra.sh) and the services in the background, waits
# until every /readyz answers 200 and prints where each one listens. Stop
# everything with deploy/down.sh; see what runs with `deploy/up.sh status`
# (deploy/status.sh).
#
#   deploy/up.sh [start]   start what is not running (the default)
#   deploy/up.sh status    each process, its health and the end of its log
#
# Settings (environment): CHAT_DEV_STACK_DIR (state, logs and pid files;
# default ~/.local/state/chat-backend), CHAT_DEV_GATEWAYS (gateways to run,
# 1 to 16, default 1: gateway-1 on CHAT_GATEWAY_PORT, the next ones on the
# ports after it, each with its own instance id gateway-local-<n> and
# health port), CHAT_GATEWAY_PORT (3000), CHAT_DEV_HEALTH_PORT (8080: the
# first gateway's health port; persistence, presence and receipts take the
# next three, further gateways the ports after those), CHAT_DEV_BIN_DIR (a
# build directory whose services are used as they are, not rebuilt; the
# tests use it), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# FERRETDB_PORT (27017), POSTGRES_PORT (free), CHAT_DEV_STORE (postgresql,
# or sqlite: FerretDB's backend), KAFKA_HEAP (512m), and any CHAT_* service
# setting (docs/configuration.md), e.g. CHAT_LOG_LEVEL=debug.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-start}" in
start) ;;
status) exec bash "$root/deploy/status.sh" ;;
*)
  echo "usage: $0 [start|status]" >&2
  exit 2
  ;;
esac

# shellcheck source=lib/stack.sh
source "$root/deploy/lib/stack.sh"
state=${CHAT_DEV_STACK_DIR:-$HOME/.local/state/chat-backend}
stack_dev_layout # names, ports and instance ids of the services

# Every port this start needs, checked before anything starts: a part that
# runs already (its pid file says so) holds its own ports.
taken=0
port_needed() { # what port
  local why
  why=$(stack_port_holder "$2") || return 0
  echo "up.sh: port $2 ($1) is taken: $why" >&2
  taken=1
}
if ! stack__running "$state/kafka/kafka.pid"; then
  port_needed "kafka" "${KAFKA_PORT:-9092}"
  port_needed "kafka controller" "${KAFKA_CONTROLLER_PORT:-9093}"
fi
if ! stack__running "$state/ferretdb/ferretdb.pid"; then
  port_needed "ferretdb" "${FERRETDB_PORT:-27017}"
  [ -z "${POSTGRES_PORT:-}" ] || port_needed "postgresql" "$POSTGRES_PORT"
fi
for name in "${STACK_DEV_SERVICES[@]}"; do
  stack__running "$state/services/$name.pid" && continue
  port_needed "$name health" "${STACK_DEV_HEALTH[$name]}"
  [ -z "${STACK_DEV_PORT[$name]:-}" ] || port_needed "$name Socket.IO" "${STACK_DEV_PORT[$name]}"
done
if [ $taken -ne 0 ]; then
  echo "up.sh: nothing started; free those ports or choose others (deploy/up.sh's settings)" >&2
  exit 1
fi

bash "$root/deploy/install.sh"
if [ -n "${CHAT_DEV_BIN_DIR:-}" ]; then
  build=$CHAT_DEV_BIN_DIR
  echo "using the services built in $build"
else
  build=$root/build
  echo "building services in $build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHAT_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi

CHAT_DEV_STACK_DIR=$state bash "$root/deploy/infra.sh" start

# The gateway signs and checks tokens with CHAT_JWT_SECRET; for a local
# stack without one, a random secret is made once and kept in the state dir.
if [ -z "${CHAT_JWT_SECRET:-}" ]; then
  mkdir -p "$state"
  [ -s "$state/jwt-secret" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$state/jwt-secret")
  CHAT_JWT_SECRET=$(cat "$state/jwt-secret")
  export CHAT_JWT_SECRET
fi
# libmongoc's shared-memory counters (read only by its mongoc-stat tool)
# are made at load time, before our log handler: a segment left by a
# killed process whose pid comes round again makes it print a plain-text
# "Falling back to malloc for counters" line. Off: the logs stay JSON.
export MONGOC_DISABLE_SHM=1
export CHAT_KAFKA_BROKERS=${CHAT_KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}
export CHAT_MONGO_URI=${CHAT_MONGO_URI:-mongodb://127.0.0.1:${FERRETDB_PORT:-27017}/}
mkdir -p "$state/services"
for name in "${STACK_DEV_SERVICES[@]}"; do
  pid_file=$state/services/$name.pid
  if stack__running "$pid_file"; then
    echo "$name already running (pid $(cat "$pid_file"))"
    continue
  fi
  program=${STACK_DEV_PROGRAM[$name]}
  # What status.sh and down.sh need to know of it, beside its pid.
  echo "${STACK_DEV_HEALTH[$name]}" >"$state/services/$name.health"
  port_env=()
  if [ -n "${STACK_DEV_PORT[$name]:-}" ]; then
    echo "${STACK_DEV_PORT[$name]}" >"$state/services/$name.port"
    port_env=(CHAT_GATEWAY_PORT="${STACK_DEV_PORT[$name]}")
  fi
  env CHAT_INSTANCE_ID="${STACK_DEV_INSTANCE[$name]}" CHAT_HEALTH_PORT="${STACK_DEV_HEALTH[$name]}" \
    "${port_env[@]}" nohup "$build/services/$program/chat-$program" >>"$state/services/$name.log" 2>&1 &
  echo $! >"$pid_file"
  echo "started $name (pid $!, log $state/services/$name.log)"
done

deadline=$((SECONDS + 120))
for name in "${STACK_DEV_SERVICES[@]}"; do
  port=${STACK_DEV_HEALTH[$name]}
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    if ! stack__running "$state/services/$name.pid"; then
      echo "$name exited; the end of its log:" >&2
      tail -n 20 "$state/services/$name.log" >&2
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "$name not ready after 120 s: $(curl -sS "http://127.0.0.1:$port/readyz" 2>&1)" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "$name ready: http://127.0.0.1:$port/readyz and /metrics"
done
for name in "${STACK_DEV_SERVICES[@]}"; do
  [ -n "${STACK_DEV_PORT[$name]:-}" ] || continue
  echo "$name (instance ${STACK_DEV_INSTANCE[$name]}): Socket.IO and REST on http://127.0.0.1:${STACK_DEV_PORT[$name]}/"
done
echo "chat backend is up (auth.token: an HS256 JWT signed with the secret in $state/jwt-secret" \
  "unless CHAT_JWT_SECRET is set). Status: deploy/up.sh status. Stop: deploy/down.sh"
