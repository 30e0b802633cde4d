#!/usr/bin/env bash
# Starts, stops or reports the local Kafka and FerretDB (on its own
# PostgreSQL cluster) for development (deploy/up.sh calls it). Idempotent:
# starting what runs is fine.
#   deploy/infra.sh start|stop|status
# Settings: CHAT_DEV_STACK_DIR (~/.local/state/chat-backend), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (9093), FERRETDB_PORT (27017), POSTGRES_PORT (a free
# port at each start; FerretDB uses the cluster's unix socket),
# CHAT_DEV_STORE (postgresql, or sqlite), KAFKA_HEAP (512m).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/stack.sh
source "$here/lib/stack.sh"
state=${CHAT_DEV_STACK_DIR:-$HOME/.local/state/chat-backend}

case "${1:-}" in
start)
  stack_kafka_start "$state/kafka" "${KAFKA_PORT:-9092}" "${KAFKA_CONTROLLER_PORT:-9093}"
  stack_ferretdb_start "$state/ferretdb" "${FERRETDB_PORT:-27017}" "${POSTGRES_PORT:-}"
  ;;
stop)
  stack_kafka_stop "$state/kafka"
  stack_ferretdb_stop "$state/ferretdb"
  echo "kafka, ferretdb and its postgresql stopped"
  ;;
status)
  for part in kafka ferretdb; do
    if stack__running "$state/$part/$part.pid"; then
      echo "$part running (pid $(cat "$state/$part/$part.pid"))"
    else
      echo "$part stopped"
    fi
  done
  pg=$state/ferretdb/postgresql
  if [ -f "$pg/data/postmaster.pid" ] && stack__as_pg "$STACK_PG_BIN/pg_ctl" -D "$pg/data" status >/dev/null 2>&1; then
    echo "postgresql running (127.0.0.1:$(cat "$pg/port"), socket $pg/socket)"
  else
    echo "postgresql stopped"
  fi
  ;;
*)
  echo "usage: $0 start|stop|status" >&2
  exit 2
  ;;
esac
