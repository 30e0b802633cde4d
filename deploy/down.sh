#!/usr/bin/env bash
# Stops what deploy/up.sh started: the four services (SIGTERM, then SIGKILL
# after 20 s), then Kafka and FerretDB. Same settings as deploy/up.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${CHAT_DEV_STACK_DIR:-$HOME/.local/state/chat-backend}

for pid_file in "$state"/services/*.pid; do
  [ -f "$pid_file" ] || continue
  name=$(basename "$pid_file" .pid)
  pid=$(cat "$pid_file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$name did not stop within 20 s; killing it" >&2
      kill -KILL "$pid" || true
    fi
    echo "stopped $name"
  fi
  rm -f "$pid_file"
done
CHAT_DEV_STACK_DIR=$state bash "$root/deploy/infra.sh" stop
