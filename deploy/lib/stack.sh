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
#   stack_kafka_lib, stack_kafka_cds, stack_ferretdb_bin   paths install.sh fills
#
# Each server listens on 127.0.0.1 only; DIR holds its config, data, pid
# file and logs (kafka.log and server.log, or ferretdb.log). Starting what
# already runs from DIR says so and succeeds.
#
# Settings: CHAT_DEV_CACHE_DIR (~/.cache/chat-backend), KAFKA_HEAP (the
# broker's maximum heap, 512m, at least 64m; it starts at 64m and grows on
# demand), STACK_START_TIMEOUT (60 seconds).
#
# Kafka answers about a second sooner (~1.2 s instead of ~2.2 s here) with
# the class-data archive that install.sh makes once (stack_kafka_cds);
# without it, or when the JDK has changed since, the JVM runs without it.

STACK_KAFKA_VERSION=3.9.1 # must match deploy/kafka/pom.xml
STACK_CACHE_DIR=${CHAT_DEV_CACHE_DIR:-$HOME/.cache/chat-backend}
STACK_DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

stack_kafka_lib() { echo "$STACK_CACHE_DIR/kafka-$STACK_KAFKA_VERSION/lib"; }
stack_kafka_cds() { echo "$STACK_CACHE_DIR/kafka-$STACK_KAFKA_VERSION/classes.jsa"; }
# The binary is named after a hash of its sources: checkouts of different
# branches share the cache, and each must run the FerretDB it was written
# for (a binary that lacks a flag the scripts pass would not start).
stack_ferretdb_bin() {
  local sum
  sum=$(cat "$STACK_DEPLOY_DIR"/ferretdb/go.mod "$STACK_DEPLOY_DIR"/ferretdb/go.sum \
    "$STACK_DEPLOY_DIR"/ferretdb/*.go | sha256sum)
  echo "$STACK_CACHE_DIR/bin/chat-ferretdb-${sum:0:12}"
}

stack_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# True while process $1 runs. A zombie does not count: an orphan (its
# starting script has exited) waits for the system's init to reap it, and
# some inits reap only every second or two.
stack__alive() {
  local stat
  # read, not $(<...): bash exits when that read fails as the process vanishes.
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# True while the process in pid file $1 runs.
stack__running() { [ -f "$1" ] && stack__alive "$(cat "$1")"; }

# Prints "$1" and the end of each log file "${@:2}" to stderr.
stack__fail() {
  echo "$1" >&2
  shift
  local log
  for log in "$@"; do
    [ -s "$log" ] || continue
    echo "--- the end of $log:" >&2
    tail -n 30 "$log" >&2
  done
}

# Waits until command "$@" succeeds; $1 = what, $2 = pid file. Returns 1
# with a message when the process exits or STACK_START_TIMEOUT passes.
stack__wait_for() {
  local what=$1 pid_file=$2 timeout=${STACK_START_TIMEOUT:-60}
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    stack__running "$pid_file" || { echo "$what exited while starting" >&2 && return 1; }
    [ $SECONDS -lt $deadline ] || { echo "$what did not come up within $timeout s" >&2 && return 1; }
    sleep 0.1
  done
}

# Fails when something already listens on 127.0.0.1, port $2 ($1 = what).
stack__port_free() {
  if stack__tcp_open "$2"; then
    echo "$1: 127.0.0.1:$2 is already in use" >&2
    return 1
  fi
}

# True when something accepts TCP connections on 127.0.0.1, port $1.
stack__tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# SIGTERM, up to 30 s, then SIGKILL; removes the pid file.
stack__stop() {
  local what=$1 pid_file=$2
  if stack__running "$pid_file"; then
    local pid
    pid=$(cat "$pid_file")
    kill -TERM "$pid"
    for _ in $(seq 1 300); do
      stack__alive "$pid" || break
      sleep 0.1
    done
    if stack__alive "$pid"; then
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
  stack__port_free kafka "$port" && stack__port_free kafka "$controller_port" || return 1
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
# The log cleaner (for compacted topics such as __consumer_offsets) would
# otherwise take 128 MB of heap at start; 16 MB dedupes ~600k keys a pass.
log.cleaner.dedupe.buffer.size=16777216
PROPS
  # Serial GC, C1 only and a small initial heap: quickest start, ~155 MB RSS.
  local java_opts=(-Xms64m -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseSerialGC
    -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    -Dlog4j.configuration="file:$STACK_DEPLOY_DIR/kafka/log4j.properties"
    -Dkafka.logs.dir="$dir")
  local broker_opts=()
  if [ -n "${STACK__CDS_DUMP:-}" ]; then # set by stack__kafka_make_cds only
    broker_opts=(-XX:ArchiveClassesAtExit="$STACK__CDS_DUMP")
  elif [ -f "$(stack_kafka_cds)" ]; then
    java_opts+=(-XX:SharedArchiveFile="$(stack_kafka_cds)")
  fi
  if [ ! -f "$dir/data/meta.properties" ]; then
    # A cluster id is 16 random bytes in URL-safe base64 (Kafka's Uuid).
    local cluster_id
    # One that starts with '-' would be read as an option by kafka-storage
    # (1 start in 64 failed so): draw again.
    cluster_id=$(python3 -c 'import base64,os
while True:
    i = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not i.startswith("-"):
        print(i)
        break')
    java "${java_opts[@]}" -cp "$lib/*" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/server.properties" >>"$log" 2>&1 || {
      stack__fail "kafka: formatting $dir/data failed" "$log"
      return 1
    }
  fi
  nohup java "${java_opts[@]}" "${broker_opts[@]}" -cp "$lib/*" kafka.Kafka "$dir/server.properties" \
    >>"$log" 2>&1 &
  echo $! >"$pid_file"
  if ! stack__wait_for kafka "$pid_file" stack__kafka_ready "$port"; then
    stack_kafka_stop "$dir"
    stack__fail "kafka: not started" "$log" "$dir/server.log"
    return 1
  fi
  echo "kafka up on 127.0.0.1:$port (log $log)"
}

stack_kafka_stop() { stack__stop kafka "$1/kafka.pid"; }

# True when the broker on port $1 answers a metadata request. The port is
# tried first: kcat's reconnect backoff would otherwise add up to a second.
stack__kafka_ready() {
  stack__tcp_open "$1" && kcat -b "127.0.0.1:$1" -L -m 5 -X reconnect.backoff.max.ms=100
}

# Makes the class-data archive of stack_kafka_cds: starts a throwaway broker
# whose JVM writes the classes it loaded when it exits (about 6 s, once).
stack__kafka_make_cds() {
  local cds tmp rc=0
  cds=$(stack_kafka_cds)
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-kafka-cds.XXXXXX")
  STACK__CDS_DUMP=$tmp/classes.jsa stack_kafka_start "$tmp/kafka" "$(stack_free_port)" \
    "$(stack_free_port)" >/dev/null || rc=1
  stack_kafka_stop "$tmp/kafka"
  if [ $rc -eq 0 ] && [ -s "$tmp/classes.jsa" ]; then
    mv -f "$tmp/classes.jsa" "$cds"
  else
    echo "kafka: no class-data archive made (Kafka starts without it); see $tmp/kafka" >&2
    return 0
  fi
  rm -rf "$tmp"
}

stack_ferretdb_start() {
  local dir=$1 port=$2
  local pid_file=$dir/ferretdb.pid log=$dir/ferretdb.log
  mkdir -p "$dir/data"
  if stack__running "$pid_file"; then
    echo "ferretdb already running on 127.0.0.1:$port (pid $(cat "$pid_file"))"
    return 0
  fi
  stack__port_free ferretdb "$port" || return 1
  nohup "$(stack_ferretdb_bin)" -listen "127.0.0.1:$port" -data-dir "$dir/data" \
    >>"$log" 2>&1 &
  echo $! >"$pid_file"
  if ! stack__wait_for ferretdb "$pid_file" stack__tcp_open "$port"; then
    stack_ferretdb_stop "$dir"
    stack__fail "ferretdb: not started" "$log"
    return 1
  fi
  echo "ferretdb up on 127.0.0.1:$port (log $log)"
}

stack_ferretdb_stop() { stack__stop ferretdb "$1/ferretdb.pid"; }
