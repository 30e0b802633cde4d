#!/usr/bin/env bash
# Stops what deploy/up.sh started: every service it started, however many
# gateways (SIGTERM, then SIGKILL after 30 s), then Kafka and FerretDB.
# Same settings as deploy/up.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${CHAT_DEV_STACK_DIR:-$HOME/.local/state/chat-backend}

# shellcheck source=lib/stack.sh
source "$root/deploy/lib/stack.sh"
for pid_file in "$state"/services/*.pid; do
  [ -f "$pid_file" ] || continue
  name=$(basename "$pid_file" .pid)
  stack__running "$pid_file" && stack__stop "$name" "$pid_file" && echo "stopped $name"
  rm -f "$pid_file" "$state/services/$name.health" "$state/services/$name.port"
done
CHAT_DEV_STACK_DIR=$state bash "$root/deploy/infra.sh" stop
