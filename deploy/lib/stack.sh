# shellcheck shell=bash
# Functions to run the real servers of the local stack and the tests on
# loopback, without Docker. Source it; each function fails with a message
# and the end of the server's log when the server does not come up.
#
#   stack_kafka_start DIR PORT CONTROLLER_PORT   one KRaft node (broker and controller)
#   stack_kafka_stop DIR
#   stack_ferretdb_start DIR PORT                FerretDB 1.24 on SQLite
#   stack_ferretdb_stop DIR
#   stack_free_port                              prints a free loopback TCP port
#
# Settings: CHAT_DEV_CACHE_DIR (~/.cache/chat-backend), KAFKA_HEAP (512m),
# STACK_START_TIMEOUT (60 seconds).

STACK_KAFKA_VERSION=3.9.1 # must match deploy/kafka/pom.xml
STACK_CACHE_DIR=${CHAT_DEV_CACHE_DIR:-$HOME/.cache/chat-backend}
STACK_DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

stack_kafka_lib() { echo "$STACK_CACHE_DIR/kafka-$STACK_KAFKA_VERSION/lib"; }
stack_ferretdb_bin() { echo "$STACK_CACHE_DIR/bin/chat-ferretdb"; }

stack_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# True while the process in pid file $1 runs.
stack__running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits until command "$@" succeeds; $1 = what, $2 = log file, $3 = pid file.
stack__wait_for() {
  local what=$1 log=$2 pid_file=$3
  shift 3
  local deadline=$((SECONDS + ${STACK_START_TIMEOUT:-60}))
  until "$@" >/dev/null 2>&1; do
    if ! stack__running "$pid_file"; then
      echo "$what exited while starting; the end of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "$what did not come up within ${STACK_START_TIMEOUT:-60} s; the end of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# SIGTERM, up to 30 s, then SIGKILL; removes the pid file.
stack__stop() {
  local what=$1 pid_file=$2
  if stack__running "$pid_file"; then
    local pid
    pid=$(cat "$pid_file")
    kill -TERM "$pid"
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$what did not stop within 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pid_file"
}

stack_kafka_start() {
  local dir=$1 port=$2 controller_port=$3
  local lib pid_file=$dir/kafka.pid log=$dir/kafka.log
  lib=$(stack_kafka_lib)
  mkdir -p "$dir/data"
  if stack__running "$pid_file"; then
    echo "kafka already running on 127.0.0.1:$port (pid $(cat "$pid_file"))"
    return 0
  fi
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.retention.hours=24
PROPS
  local java_opts=(-Xms"${KAFKA_HEAP:-512m}" -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseSerialGC
    -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    -Dlog4j.configuration="file:$STACK_DEPLOY_DIR/kafka/log4j.properties"
    -Dkafka.logs.dir="$dir")
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java "${java_opts[@]}" -cp "$lib/*" kafka.tools.StorageTool random-uuid)
    java "${java_opts[@]}" -cp "$lib/*" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/server.properties" >>"$log" 2>&1
  fi
  nohup java "${java_opts[@]}" -cp "$lib/*" kafka.Kafka "$dir/server.properties" >>"$log" 2>&1 &
  echo $! >"$pid_file"
  stack__wait_for "kafka" "$log" "$pid_file" kcat -b "127.0.0.1:$port" -L -m 2 || return 1
  echo "kafka up on 127.0.0.1:$port (log $log)"
}

stack_kafka_stop() { stack__stop kafka "$1/kafka.pid"; }

# FerretDB answers the MongoDB wire protocol: a hello from python's socket
# would do, but a TCP connect is enough to know it listens.
stack__tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stack_ferretdb_start() {
  local dir=$1 port=$2
  local pid_file=$dir/ferretdb.pid log=$dir/ferretdb.log
  mkdir -p "$dir/data"
  if stack__running "$pid_file"; then
    echo "ferretdb already running on 127.0.0.1:$port (pid $(cat "$pid_file"))"
    return 0
  fi
  nohup "$(stack_ferretdb_bin)" -listen "127.0.0.1:$port" -data-dir "$dir/data" \
    >>"$log" 2>&1 &
  echo $! >"$pid_file"
  stack__wait_for "ferretdb" "$log" "$pid_file" stack__tcp_open "$port" || return 1
  echo "ferretdb up on 127.0.0.1:$port (log $log)"
}

stack_ferretdb_stop() { stack__stop ferretdb "$1/ferretdb.pid"; }
