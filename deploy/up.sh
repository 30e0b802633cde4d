#!/usr/bin/env bash
# The run command (README "Quick start"): installs what is missing, builds
# the services, starts Kafka and FerretDB (deploy/infra.sh) and the four
# services in the background, waits until every /readyz answers 200 and
# prints where the gateway listens. Stop everything with deploy/down.sh.
#
# Settings (environment): CHAT_DEV_STACK_DIR (state, logs and pid files;
# default ~/.local/state/chat-backend), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (9093), FERRETDB_PORT (27017), POSTGRES_PORT (free),
# CHAT_DEV_STORE (postgresql, or sqlite: FerretDB's backend), KAFKA_HEAP (512m),
# and any CHAT_* service setting (docs/configuration.md), e.g.
# CHAT_LOG_LEVEL=debug.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${CHAT_DEV_STACK_DIR:-$HOME/.local/state/chat-backend}
build=$root/build
services=(gateway persistence presence receipts)
declare -A health_port=([gateway]=8080 [persistence]=8081 [presence]=8082 [receipts]=8083)

bash "$root/deploy/install.sh"
echo "building services in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHAT_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

CHAT_DEV_STACK_DIR=$state bash "$root/deploy/infra.sh" start

# The gateway signs and checks tokens with CHAT_JWT_SECRET; for a local
# stack without one, a random secret is made once and kept in the state dir.
if [ -z "${CHAT_JWT_SECRET:-}" ]; then
  mkdir -p "$state"
  [ -s "$state/jwt-secret" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$state/jwt-secret")
  CHAT_JWT_SECRET=$(cat "$state/jwt-secret")
  export CHAT_JWT_SECRET
fi
export CHAT_KAFKA_BROKERS=${CHAT_KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}
export CHAT_MONGO_URI=${CHAT_MONGO_URI:-mongodb://127.0.0.1:${FERRETDB_PORT:-27017}/}
mkdir -p "$state/services"
for name in "${services[@]}"; do
  pid_file=$state/services/$name.pid
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$pid_file"))"
    continue
  fi
  CHAT_INSTANCE_ID=${name}-local CHAT_HEALTH_PORT=${health_port[$name]} \
    nohup "$build/services/$name/chat-$name" >>"$state/services/$name.log" 2>&1 &
  echo $! >"$pid_file"
  echo "started $name (pid $!, log $state/services/$name.log)"
done

deadline=$((SECONDS + 120))
for name in "${services[@]}"; do
  port=${health_port[$name]}
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$state/services/$name.pid")" 2>/dev/null; then
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
  echo "$name ready: http://127.0.0.1:$port/readyz"
done
echo "chat backend is up. Socket.IO: http://127.0.0.1:${CHAT_GATEWAY_PORT:-3000}/socket.io/" \
  "(auth.token: an HS256 JWT signed with the secret in $state/jwt-secret unless CHAT_JWT_SECRET is set)." \
  "Stop: deploy/down.sh"
