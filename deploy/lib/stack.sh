# shellcheck shell=bash
# Functions to run the real servers of the local stack and the tests on
# loopback, without Docker. Source it; each function fails with a message
# and the end of the server's log when the server does not come up.
#
#   stack_kafka_start DIR PORT CONTROLLER_PORT   one KRaft node (broker and controller)
#   stack_kafka_stop DIR
#   stack_ferretdb_start DIR PORT [PG_PORT]      FerretDB 1.24 on a private PostgreSQL 15
#                                                cluster (CHAT_DEV_STORE=sqlite: on SQLite)
#   stack_ferretdb_stop DIR                      FerretDB, then its PostgreSQL
#   stack_postgresql_start DIR PORT, stack_postgresql_stop DIR, stack_postgresql_url DIR
#   stack_free_port                              prints a free loopback TCP port
#   stack_port_holder PORT                       says what listens on PORT; fails when free
#   stack_dev_layout                             the local stack's services and ports
#   stack_kafka_lib, stack_kafka_cds, stack_ferretdb_bin   paths install.sh fills
#
# Each server listens on 127.0.0.1 only; DIR holds its config, data, pid
# file and logs (kafka.log and server.log, or ferretdb.log, and for
# PostgreSQL postgresql/postgresql.log and pg_ctl.log). Starting what
# already runs from DIR says so and succeeds.
#
# PostgreSQL: initdb makes the cluster in DIR/postgresql/data on first
# start, owned by postgres when we are root (runuser), else by us. It
# listens on 127.0.0.1 and on a unix socket in DIR/postgresql/socket, never
# on Debian's 5432 or /var/run/postgresql, so Debian's own cluster may run
# or not. FerretDB reaches it through the socket.
#
# Settings: CHAT_DEV_CACHE_DIR (~/.cache/chat-backend), KAFKA_HEAP (the
# broker's maximum heap, 512m, at least 64m; it starts at 64m and grows on
# demand), STACK_KAFKA_JIT (c1: the broker's JVM compiles with C1 only,
# the quickest start; full: C1 then C2, less CPU per record once warm),
# STACK_START_TIMEOUT (60 seconds), CHAT_DEV_STORE (postgresql or
# sqlite), STACK_PG_BIN (/usr/lib/postgresql/15/bin).
#
# Kafka answers about a second sooner (~1.2 s instead of ~2.2 s here) with
# the class-data archive that install.sh makes once (stack_kafka_cds);
# without it, or when the JDK has changed since, the JVM runs without it.

STACK_KAFKA_VERSION=3.9.1 # must match deploy/kafka/pom.xml
STACK_CACHE_DIR=${CHAT_DEV_CACHE_DIR:-$HOME/.cache/chat-backend}
STACK_DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_PG_BIN=${STACK_PG_BIN:-/usr/lib/postgresql/15/bin}

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

# A free port below the kernel's ephemeral range: one that bind(0) hands
# out is also handed to outgoing connections, and a server started beside
# other processes' clients could find it taken (tests/lib/free_port.mjs).
stack_free_port() {
  python3 - <<'PY'
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
if low <= 11000:
    low = 32768
for _ in range(200):
    port = random.randint(10000, low - 1)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port found below %d" % low)
PY
}

# Prints what listens on TCP port $1 (any address: a wildcard listener
# keeps 127.0.0.1 from being bound too), e.g. 'pid 4242 (java): java
# -Xms64m ...'; fails when nothing does. ss names the process for our own
# and, as root, for everyone's; otherwise it only says the port is in use.
stack_port_holder() {
  local port=$1 line users pid
  line=$(ss -ltnpH "( sport = :$port )" 2>/dev/null | head -n 1) || line=
  if [ -z "$line" ]; then
    stack__tcp_open "$port" || return 1
    echo "in use (by a process ss does not show)"
    return 0
  fi
  users=$(grep -o 'users:((.*))' <<<"$line" || true)
  pid=$(grep -o 'pid=[0-9]*' <<<"$users" | head -n 1 | cut -d= -f2 || true)
  if [ -n "$pid" ]; then
    echo "pid $pid ($(tr '\0\n' '  ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120 || echo '?'))"
  else
    echo "in use: ${line//  / }"
  fi
}

# Sets the local stack's layout from CHAT_DEV_GATEWAYS, CHAT_GATEWAY_PORT
# and CHAT_DEV_HEALTH_PORT (deploy/up.sh documents them):
#   STACK_DEV_SERVICES   names in start order: gateway-1..N, persistence, presence, receipts
#   STACK_DEV_PROGRAM    name -> program (gateway, persistence, ...)
#   STACK_DEV_HEALTH     name -> health port
#   STACK_DEV_PORT       name -> Socket.IO port (gateways only)
#   STACK_DEV_INSTANCE   name -> CHAT_INSTANCE_ID
stack_dev_layout() {
  local gateways=${CHAT_DEV_GATEWAYS:-1} gateway_port=${CHAT_GATEWAY_PORT:-3000}
  local health=${CHAT_DEV_HEALTH_PORT:-8080} i name
  if ! [[ $gateways =~ ^[0-9]+$ ]] || [ "$gateways" -lt 1 ] || [ "$gateways" -gt 16 ]; then
    echo "CHAT_DEV_GATEWAYS=$gateways: a number of gateways from 1 to 16" >&2
    return 2
  fi
  STACK_DEV_SERVICES=()
  declare -gA STACK_DEV_PROGRAM=() STACK_DEV_HEALTH=() STACK_DEV_PORT=() STACK_DEV_INSTANCE=()
  for ((i = 1; i <= gateways; i++)); do
    name=gateway-$i
    STACK_DEV_SERVICES+=("$name")
    STACK_DEV_PROGRAM[$name]=gateway
    STACK_DEV_PORT[$name]=$((gateway_port + i - 1))
    STACK_DEV_INSTANCE[$name]=gateway-local-$i
    # The first one on the base port, the others after the three services.
    STACK_DEV_HEALTH[$name]=$((i == 1 ? health : health + 2 + i))
  done
  i=1
  for name in persistence presence receipts; do
    STACK_DEV_SERVICES+=("$name")
    STACK_DEV_PROGRAM[$name]=$name
    STACK_DEV_HEALTH[$name]=$((health + i))
    STACK_DEV_INSTANCE[$name]=$name-local
    i=$((i + 1))
  done
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
  local holder
  if holder=$(stack_port_holder "$2"); then
    echo "$1: port $2 is already taken: $holder" >&2
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
# One network thread and two request handlers, not 3 and 8: a broker for
# one machine's few clients. On 2 cores the 11 threads took turns with
# each other and with everything else (pairbench, 1,000 msg/s: the
# broker's CPU 6.9/7.7 s -> 6.0/5.4 s a run, delivery p99 1.3/1.8 s ->
# 0.43/0.35 s).
num.network.threads=1
num.io.threads=2
PROPS
  # Serial GC and a small initial heap: ~155 MB RSS. C1 only by default:
  # the quickest start; STACK_KAFKA_JIT=full adds C2, whose compiled code
  # costs the broker less CPU per record once warm (the benchmark).
  local jit=(-XX:TieredStopAtLevel=1)
  case ${STACK_KAFKA_JIT:-c1} in
  c1) ;;
  full) jit=() ;;
  *)
    echo "STACK_KAFKA_JIT must be c1 or full, not '${STACK_KAFKA_JIT}'" >&2
    return 1
    ;;
  esac
  local java_opts=(-Xms64m -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseSerialGC
    "${jit[@]}" -Djava.awt.headless=true
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

# Runs "$@" as the owner of the private PostgreSQL clusters: postgres when
# we are root (initdb and postgres refuse to run as root), else ourselves.
stack__as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# As root: makes directory $1 reachable for postgres. Each directory above
# it that postgres cannot search (/root is 0700, mktemp -d makes 0700) gets
# an ACL entry that lets the postgres user alone search it: not list it,
# and nobody else gains anything.
stack__pg_reach() {
  local dir=$1 path=
  [ "$(id -u)" -eq 0 ] || return 0
  runuser -u postgres -- test -x "$dir" && return 0
  local part parts
  IFS=/ read -ra parts <<<"${dir#/}"
  for part in "${parts[@]}"; do
    path=$path/$part
    runuser -u postgres -- test -x "$path" && continue
    if ! setfacl -m u:postgres:x "$path" 2>/dev/null; then
      echo "postgresql: the postgres user cannot enter $path, and setfacl failed" \
        "(install.sh installs acl); choose a state dir it can reach" >&2
      return 1
    fi
    echo "postgresql: let the postgres user search $path (setfacl -m u:postgres:x)"
  done
}

# Prints the URL chat-ferretdb connects with: the cluster's unix socket in
# DIR/socket (pgx takes a directory as host), database ferretdb, user chat.
stack_postgresql_url() {
  local dir=$1
  python3 -c 'import sys, urllib.parse as u
print("postgres://chat@/ferretdb?" + u.urlencode({"host": sys.argv[1], "port": sys.argv[2]}))' \
    "$dir/socket" "$(cat "$dir/port")"
}

stack_postgresql_start() {
  local dir=$1 port=$2
  local data=$dir/data socket=$dir/socket log=$dir/postgresql.log ctl_log=$dir/pg_ctl.log
  local bin=$STACK_PG_BIN
  mkdir -p "$dir" "$socket"
  chmod 700 "$dir" "$socket"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$dir" "$socket"
    stack__pg_reach "$dir" || return 1
  fi
  if [ -f "$data/postmaster.pid" ] && stack__as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    echo "postgresql already running on 127.0.0.1:$(cat "$dir/port") (socket $socket)"
    return 0
  fi
  if [ ! -s "$data/PG_VERSION" ]; then
    rm -rf "$data" # what a failed initdb left
    # Local (unix socket) connections are trusted: the socket's directory is
    # 0700, so only its owner (and root) can reach it. TCP on loopback asks
    # for the password initdb gets here (user chat).
    (umask 077 && head -c 18 /dev/urandom | base64 >"$dir/password")
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$dir/password"
    if ! stack__as_pg "$bin/initdb" -D "$data" -U chat -E UTF8 --locale=C --auth-local=trust \
      --auth-host=scram-sha-256 --pwfile="$dir/password" >>"$ctl_log" 2>&1; then
      stack__fail "postgresql: initdb $data failed" "$ctl_log"
      return 1
    fi
    cat >>"$data/postgresql.conf" <<'CONF'

# chat-backend (deploy/lib/stack.sh); the port and the socket directory
# are given at each start.
listen_addresses = '127.0.0.1'          # loopback only
fsync = on                              # durable: a commit survives a crash
synchronous_commit = on                 # ... and is on disk when acknowledged
full_page_writes = on
max_connections = 100                   # FerretDB's pool holds up to 50 (pool_max_conns)
# FerretDB sends an equality as `_jsonb->$1 @> $2`: only a custom plan
# sees the key and can match the GIN indexes of gin-indexes.sql.
plan_cache_mode = force_custom_plan
CONF
  fi
  stack__port_free postgresql "$port" || return 1
  echo "$port" >"$dir/port"
  # pg_ctl hands -o to postgres through the shell, hence the inner quotes.
  if ! stack__as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t "${STACK_START_TIMEOUT:-60}" \
    -o "-p $port -k '$socket'" start >>"$ctl_log" 2>&1; then
    stack__fail "postgresql: not started" "$ctl_log" "$log"
    stack_postgresql_stop "$dir"
    return 1
  fi
  local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$socket" -p "$port" -U chat)
  if ! { "${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'" |
    grep -q 1 || "${psql[@]}" -d postgres -c 'CREATE DATABASE ferretdb'; } >>"$ctl_log" 2>&1 ||
    ! PGOPTIONS='-c client_min_messages=warning' "${psql[@]}" -d ferretdb \
      -f "$STACK_DEPLOY_DIR/ferretdb/gin-indexes.sql" >>"$ctl_log" 2>&1; then
    stack__fail "postgresql: setting up database ferretdb failed" "$ctl_log" "$log"
    stack_postgresql_stop "$dir"
    return 1
  fi
  echo "postgresql up on 127.0.0.1:$port (socket $socket, log $log)"
}

# pg_ctl stop -m fast: open sessions are ended, the server checkpoints and
# every backend exits before it returns.
stack_postgresql_stop() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  stack__as_pg "$STACK_PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || return 0
  if ! stack__as_pg "$STACK_PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >>"$dir/pg_ctl.log" 2>&1; then
    stack__fail "postgresql: pg_ctl stop failed" "$dir/pg_ctl.log" "$dir/postgresql.log"
    return 1
  fi
}

# DIR PORT [POSTGRESQL_PORT]: CHAT_DEV_STORE=postgresql (the default) starts
# a private PostgreSQL cluster in DIR/postgresql first (on POSTGRESQL_PORT,
# or a free port), sqlite keeps the databases in DIR/data.
stack_ferretdb_start() {
  local dir=$1 port=$2 pg_port=${3:-}
  local pid_file=$dir/ferretdb.pid log=$dir/ferretdb.log store=${CHAT_DEV_STORE:-postgresql}
  mkdir -p "$dir"
  if stack__running "$pid_file"; then
    echo "ferretdb already running on 127.0.0.1:$port (pid $(cat "$pid_file"))"
    return 0
  fi
  stack__port_free ferretdb "$port" || return 1
  local store_args=()
  case $store in
  postgresql)
    # A free port drawn now could be FerretDB's own, which is not bound yet.
    if [ -z "$pg_port" ]; then
      pg_port=$(stack_free_port)
      while [ "$pg_port" = "$port" ]; do pg_port=$(stack_free_port); done
    fi
    stack_postgresql_start "$dir/postgresql" "$pg_port" || return 1
    store_args=(-postgresql-url "$(stack_postgresql_url "$dir/postgresql")")
    ;;
  sqlite)
    mkdir -p "$dir/data"
    store_args=(-data-dir "$dir/data")
    ;;
  *)
    echo "ferretdb: CHAT_DEV_STORE=$store: use postgresql or sqlite" >&2
    return 1
    ;;
  esac
  nohup "$(stack_ferretdb_bin)" -listen "127.0.0.1:$port" "${store_args[@]}" >>"$log" 2>&1 &
  echo $! >"$pid_file"
  if ! stack__wait_for ferretdb "$pid_file" stack__tcp_open "$port"; then
    stack_ferretdb_stop "$dir"
    stack__fail "ferretdb: not started" "$log"
    return 1
  fi
  echo "ferretdb up on 127.0.0.1:$port on $store (log $log)"
}

# FerretDB first, so that no client is cut off by its store going away.
stack_ferretdb_stop() {
  stack__stop ferretdb "$1/ferretdb.pid"
  stack_postgresql_stop "$1/postgresql"
}
