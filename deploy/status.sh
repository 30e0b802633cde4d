#!/usr/bin/env bash
# What the local stack runs (deploy/up.sh status): Kafka, FerretDB and its
# PostgreSQL, then each service deploy/up.sh started, with its pid, whether
# it runs, its /readyz answer and the end of its log, so a crashed service
# shows. Exits 0 when everything runs and is ready, else 1.
# Settings: CHAT_DEV_STACK_DIR (~/.local/state/chat-backend),
# CHAT_DEV_STATUS_LINES (lines of each log shown, 5).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/stack.sh
source "$root/deploy/lib/stack.sh"
state=${CHAT_DEV_STACK_DIR:-$HOME/.local/state/chat-backend}
lines=${CHAT_DEV_STATUS_LINES:-5}
healthy=1

infra=$(CHAT_DEV_STACK_DIR=$state bash "$root/deploy/infra.sh" status)
echo "$infra"
grep -q stopped <<<"$infra" && healthy=0

found=0
for pid_file in "$state"/services/*.pid; do
  [ -f "$pid_file" ] || continue
  found=1
  name=$(basename "$pid_file" .pid)
  log=$state/services/$name.log
  health=$(cat "$state/services/$name.health" 2>/dev/null || echo "?")
  port=$(cat "$state/services/$name.port" 2>/dev/null || true)
  if stack__running "$pid_file"; then
    ready=$(curl -sS -m 3 "http://127.0.0.1:$health/readyz" 2>&1) || healthy=0
    case $ready in *'"status":"ready"'*) ;; *) healthy=0 ;; esac
    echo "$name: running (pid $(cat "$pid_file")${port:+, Socket.IO on 127.0.0.1:$port}), health http://127.0.0.1:$health: $ready"
  else
    healthy=0
    echo "$name: NOT RUNNING (pid file $pid_file names $(cat "$pid_file"), which has exited)"
  fi
  if [ -s "$log" ]; then
    echo "  the end of $log:"
    tail -n "$lines" "$log" | cut -c1-400 | sed 's/^/    /'
  fi
done
[ $found -eq 1 ] || { echo "no services started from $state (deploy/up.sh starts them)"; healthy=0; }
[ $healthy -eq 1 ]
