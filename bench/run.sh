#!/usr/bin/env bash
# The benchmark: ours, the Node/Socket.IO peer and the floors, on this
# machine, in one run, printed as one table (README.md, "Performance").
#   bench/run.sh                    the targets' sizes (about 30 minutes)
#   CHAT_BENCH_QUICK=1 bench/run.sh a small run (about 6 minutes, and up to a minute of warm-up)
# A rung is sustained when at least 99% of what it owed was delivered and
# delivery p99 stayed under 250 ms (bench/report.py, issue 15's criterion).
# Settings (environment):
#   CHAT_BENCH_RATES      1-1 message rates offered, messages/s in all, a
#                         ladder climbed until a rung is not sustained
#                         (default "100 250 500 1000 2000 3000 4000")
#   CHAT_BENCH_PAIRS      sender/receiver pairs sharing that rate (100)
#   CHAT_BENCH_HOT_RATES  the hot conversation: one pair alone, its own
#                         ladder of messages/s (default "500 1000 2000 4000")
#   CHAT_BENCH_BIG_ROOMS, CHAT_BENCH_BIG_SIZE, CHAT_BENCH_BIG_SENDERS
#                         big rooms: groups of SIZE members (2, 1000; 1 in
#                         quick mode), members alternating over two
#                         gateways, SENDERS members of each sending (2)
#   CHAT_BENCH_BIG_RATES  their ladder, in deliveries/s offered in all
#                         (default "10000 25000 50000 100000")
#   CHAT_BENCH_BIG_READY  seconds a big-room run may wait, before its
#                         window, for its rooms and then for the connect
#                         storm's presence frames to end (120)
#   CHAT_BENCH_WARM_RATE, CHAT_BENCH_WARM_ROUNDS  before our ladders, 1-1
#                         traffic at RATE msg/s (500) in rounds of 10 s
#                         until the broker's JIT settled, at most ROUNDS
#                         (12; 3 in quick mode); the peer one round at its
#                         ladder's first rate (bench/warm_up.py)
#   CHAT_BENCH_SECONDS    measured window of each run (10)
#   CHAT_BENCH_REPEAT     runs per rung; the table shows medians (3)
#   CHAT_BENCH_IDLE       idle connections on one process (19900: the
#                         open-file limit of 20,000 less what the process needs)
#   CHAT_BENCH_IDLE_MANY  idle connections across 3 gateway processes from
#                         3 chatbench processes (50000; 0 skips it)
#   CHAT_BENCH_ROOMS, CHAT_BENCH_ROOM_SIZE, CHAT_BENCH_ROOM_RATE  fan-out (5, 20, 10/s per sender)
#   CHAT_BENCH_KEEP=1     keep the work directory (every run's JSON and logs)
#   CHAT_BENCH_PERSISTENCE_LOG  persistence's log level (warn; debug for
#                         its phase timings)
#   CHAT_BENCH_PARTS      which parts run, of: fanout pair hot big idle
#                         capacity drain peer floors (default all; the
#                         store's floor runs with drain or floors), e.g.
#                         CHAT_BENCH_PARTS=drain for persistence alone
#   CHAT_DEV_STORE        FerretDB's backend: postgresql (default) or sqlite
# Everything listens on loopback, every run is bounded in count and time,
# and every process it starts, it stops.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../deploy/lib/stack.sh
source "$root/deploy/lib/stack.sh"
quick=${CHAT_BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
  rates=${CHAT_BENCH_RATES:-"100 1000 3000"} repeat=${CHAT_BENCH_REPEAT:-1} seconds=${CHAT_BENCH_SECONDS:-5}
  idle=${CHAT_BENCH_IDLE:-3000} idle_many=${CHAT_BENCH_IDLE_MANY:-0}
  hot_rates=${CHAT_BENCH_HOT_RATES:-"500 2000"} big_rooms=${CHAT_BENCH_BIG_ROOMS:-1}
  big_rates=${CHAT_BENCH_BIG_RATES:-"10000 50000"}
else
  rates=${CHAT_BENCH_RATES:-"100 250 500 1000 2000 3000 4000"} repeat=${CHAT_BENCH_REPEAT:-3}
  seconds=${CHAT_BENCH_SECONDS:-10} idle=${CHAT_BENCH_IDLE:-19900} idle_many=${CHAT_BENCH_IDLE_MANY:-50000}
  hot_rates=${CHAT_BENCH_HOT_RATES:-"500 1000 2000 4000"} big_rooms=${CHAT_BENCH_BIG_ROOMS:-2}
  big_rates=${CHAT_BENCH_BIG_RATES:-"10000 25000 50000 100000"}
fi
big_size=${CHAT_BENCH_BIG_SIZE:-1000}
big_senders=${CHAT_BENCH_BIG_SENDERS:-2}
# Each run connects its 2,000 sockets anew, and presence tells every
# member of a room each member who comes online (and, after the run,
# goes offline): millions of frames that must pass before the window, or
# it measures them and not the messages (chatbench's quiet wait).
big_ready=${CHAT_BENCH_BIG_READY:-120}
pairs=${CHAT_BENCH_PAIRS:-100}
warm_rate=${CHAT_BENCH_WARM_RATE:-500}
warm_max=${CHAT_BENCH_WARM_ROUNDS:-$([ "$quick" = 1 ] && echo 3 || echo 12)}
rooms=${CHAT_BENCH_ROOMS:-5}
room_size=${CHAT_BENCH_ROOM_SIZE:-20}
room_rate=${CHAT_BENCH_ROOM_RATE:-10}
secret=bench-secret-0123456789abcdef0123456789
all_parts="fanout pair hot big idle capacity drain peer floors"
parts=${CHAT_BENCH_PARTS:-$all_parts}
for part in $parts; do
  case " $all_parts " in *" $part "*) ;; *)
    echo "CHAT_BENCH_PARTS: unknown part '$part' (parts: $all_parts)" >&2
    exit 2 ;;
  esac
done
part() { case " $parts " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
build=$root/build-bench

"$root/deploy/install.sh" >/dev/null
python_env=${CHAT_DEV_CACHE_DIR:-$HOME/.cache/chat-backend}/venv-bench
if ! "$python_env/bin/python" -c 'import confluent_kafka, pymongo' 2>/dev/null; then
  python3 -m venv "$python_env"
  "$python_env/bin/pip" install --quiet --disable-pip-version-check -r "$root/bench/requirements.txt"
fi
(cd "$root/tests/clients" && npm ci --no-audit --no-fund --silent) # node for prepare.mjs
(cd "$root/bench/peers/node-seed004" && npm ci --no-audit --no-fund --silent)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCHAT_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/chat-bench.XXXXXX)
pids=()
cleanup() {
  for pid in $(jobs -p); do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stack_kafka_stop "$work/kafka" || true
  stack_ferretdb_stop "$work/ferretdb" || true
  if [ "${CHAT_BENCH_KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

kafka_port=$(stack_free_port)
# The broker with C2 as well as C1 (deploy/lib/stack.sh): slower to warm,
# then less CPU per record, which both sides of the comparison share.
STACK_KAFKA_JIT=${STACK_KAFKA_JIT:-full} stack_kafka_start "$work/kafka" "$kafka_port" "$(stack_free_port)" >/dev/null
ferretdb_port=$(stack_free_port)
stack_ferretdb_start "$work/ferretdb" "$ferretdb_port" >/dev/null
brokers=127.0.0.1:$kafka_port
mongo=mongodb://127.0.0.1:$ferretdb_port/

say() { echo "$*" | tee -a "$work/results.txt" >&2; }
# The machine may be shared: the load average before and after each part
# goes into the report.
load() { # LABEL
  echo "$1 $(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/load.txt"
  say "load average at $1: $(cut -d' ' -f1-3 /proc/loadavg)"
}
load start
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
wait_ready() { # url pid name
  for _ in $(seq 1 300); do
    curl -sf "$1" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.2
  done
  echo "$3 did not become ready; its log:" >&2
  tail -20 "$work/$3.log" >&2
  exit 1
}
# SIGTERM, then SIGKILL after 20 s: the peer, stopped with a backlog of a
# saturated rung, waits for every pending write before it exits.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The store's floor first, on the fresh store: twice a saturated rung (the
# peer's, stopped with its writes pending) left FerretDB holding all its
# pooled PostgreSQL connections, and a floor measured last got nothing.
if part drain || part floors; then
  "$python_env/bin/python" "$root/bench/floors/ferretdb_floor.py" "$mongo" 5000 >"$work/ferretdb.json" ||
    echo '{}' >"$work/ferretdb.json"
  say "floor ferretdb: $(cat "$work/ferretdb.json")"
fi

# ---- our services: three gateways, one of each other service ----
export CHAT_KAFKA_BROKERS=$brokers CHAT_MONGO_URI=$mongo CHAT_MONGO_DB=bench CHAT_TOPIC_PREFIX=bench.
export CHAT_TOPIC_PARTITIONS=8 CHAT_LOG_LEVEL=warn
declare -A pid_of port_of health_of
launch() { # name binary [VAR=value...]: started, not waited for
  local name=$1 binary=$2
  shift 2
  health_of[$name]=$(stack_free_port)
  env CHAT_HEALTH_PORT="${health_of[$name]}" CHAT_INSTANCE_ID="$name" "$@" "$binary" >>"$work/$name.log" 2>&1 &
  pid_of[$name]=$!
  pids+=($!)
}
start() { # name binary [VAR=value...]: started and ready
  launch "$@"
  wait_ready "http://127.0.0.1:${health_of[$1]}/readyz" "${pid_of[$1]}" "$1"
}
start_gateway() { # name
  [ -n "${port_of[$1]:-}" ] || port_of[$1]=$(stack_free_port)
  start "$1" "$build/services/gateway/chat-gateway" CHAT_JWT_SECRET=$secret \
    CHAT_RATE_LIMIT_PER_SEC=100000 CHAT_RATE_LIMIT_BURST=100000 CHAT_GATEWAY_PORT="${port_of[$1]}"
}
# CHAT_BENCH_PERSISTENCE_LOG=debug shows persistence's phase timings (each
# run's read/insert/update/publish) in its log; kept with CHAT_BENCH_KEEP=1.
persistence_env=(CHAT_LOG_LEVEL="${CHAT_BENCH_PERSISTENCE_LOG:-warn}")
start persistence "$build/services/persistence/chat-persistence" "${persistence_env[@]}"
start presence "$build/services/presence/chat-presence"
start receipts "$build/services/receipts/chat-receipts"
for gw in gw-a gw-b gw-c; do start_gateway $gw; done
gw_a=127.0.0.1:${port_of[gw-a]} gw_b=127.0.0.1:${port_of[gw-b]} gw_c=127.0.0.1:${port_of[gw-c]}

node "$root/bench/prepare.mjs" pairs "http://$gw_a" "$pairs" "$work/pairs.txt"
part hot && node "$root/bench/prepare.mjs" pairs "http://$gw_a" 1 "$work/hot.txt"
part fanout && node "$root/bench/prepare.mjs" rooms "http://$gw_a" "$rooms" "$room_size" "$work/rooms.txt"
if part big; then
  started=$(date +%s)
  node "$root/bench/prepare.mjs" rooms "http://$gw_a" "$big_rooms" "$big_size" "$work/big.txt"
  say "big rooms: $big_rooms of $big_size members made in $(($(date +%s) - started)) s"
fi

# ladder SYSTEM GATEWAYS KIND RATES: traffic of KIND at each rate of RATES,
# REPEAT runs a rung, up to the first rung not sustained (report.py --held
# says which). KIND pair: 1-1 over the pairs of pairs.txt; hot: the one
# pair of hot.txt; big: the big rooms, RATES counting deliveries.
# Before the first rung, one unrecorded run at a low rate: a first message
# opens its direct conversation (point reads and inserts, once per pair),
# and the owner loads a conversation's state on first touch; the ladder
# measures the steady state, not that one-time cost.
ladder() {
  local system=$1 gateways=$2 kind=$3 rates_of_kind=$4 rate run file per_sender
  if [ "$kind" = big ]; then
    "$build/bench/chatbench" fanout --gateways "$gateways" --rooms "$work/big.txt" \
      --senders "$big_senders" --rate 1 --duration 3 --ready-timeout "$big_ready" --json 1 \
      >"$work/$system-warmup-$kind.json" 2>&1 || true
  else
    "$build/bench/chatbench" pair --gateways "$gateways" \
      --users "$work/$([ "$kind" = hot ] && echo hot || echo pairs).txt" \
      --rate 1 --duration 3 --json 1 >"$work/$system-warmup-$kind.json" 2>&1 || true
  fi
  sleep 2
  for rate in $rates_of_kind; do
    case $kind in
    pair) per_sender=$(python3 -c "print($rate / $pairs)") ;;
    hot) per_sender=$rate ;;
    big) per_sender=$(python3 -c "print($rate / ($big_rooms * $big_senders * ($big_size - $big_senders)))") ;;
    esac
    for run in $(seq 1 "$repeat"); do
      file=$work/$system-$kind-$rate-$run.json
      cpu_snapshot >"$file.cpu0"
      if [ "$kind" = big ]; then
        "$build/bench/chatbench" fanout --gateways "$gateways" --rooms "$work/big.txt" \
          --senders "$big_senders" --rate "$per_sender" --duration "$seconds" \
          --ready-timeout "$big_ready" --json 1 \
          >"$file" 2>"$work/$system-$kind-$rate-$run.err" || true
      else
        "$build/bench/chatbench" pair --gateways "$gateways" \
          --users "$work/$([ "$kind" = hot ] && echo hot || echo pairs).txt" \
          --rate "$per_sender" --duration "$seconds" --json 1 \
          >"$file" 2>"$work/$system-$kind-$rate-$run.err" || true
      fi
      cpu_snapshot >"$file.cpu1"
      say "$system $kind $rate/s, run $run: $(cat "$file")"
      sleep 2
    done
    if ! python3 "$root/bench/report.py" --held "$work" "$system" "$rate" "$kind"; then
      say "$system $kind: $rate/s is not sustained; the ladder stops there"
      break
    fi
  done
}
# The CPU time of each part so far (bench/cpu_snapshot.py), by the pids
# the benchmark started: its own servers only, whoever else shares the
# machine.
cpu_snapshot() {
  local parts=(kafka="$(cat "$work/kafka/kafka.pid" 2>/dev/null)"
    ferretdb="$(cat "$work/ferretdb/ferretdb.pid" 2>/dev/null)"
    postgres="$(head -1 "$work/ferretdb/postgresql/data/postmaster.pid" 2>/dev/null)"
    peer="${peer_pid:-}") name
  for name in "${!pid_of[@]}"; do
    case $name in
    gw-*) parts+=(gateway="${pid_of[$name]}") ;;
    *) parts+=("$name=${pid_of[$name]}") ;;
    esac
  done
  python3 "$root/bench/cpu_snapshot.py" "${parts[@]}"
}
# What a saturated rung left in Kafka drains before the next part.
settle() { sleep "${CHAT_BENCH_SETTLE:-15}"; }

# hold_idle LABEL CONNECTIONS PROCESSES SERVER_PIDS SERVERS [chatbench options]:
# PROCESSES chatbench processes (own source addresses and users each)
# open CONNECTIONS in all to SERVERS and hold them; the servers' RSS is
# read once all hold, and the growth per connection recorded.
hold_idle() {
  local label=$1 total=$2 procs=$3 server_pids=$4 servers=$5
  shift 5
  local before=0 during=0 held=0 i n pid loaders=()
  for pid in $server_pids; do before=$((before + $(rss_kb "$pid"))); done
  for i in $(seq 1 "$procs"); do
    n=$((total / procs + (i <= total % procs ? 1 : 0)))
    "$build/bench/chatbench" idle --gateways "$servers" --connections "$n" \
      --user-offset $(((i - 1) * 1000000)) --hold 600 --connect-rate 3000 \
      --source-ips "127.0.$i.1,127.0.$i.2,127.0.$i.3,127.0.$i.4" --json 1 "$@" \
      >"$work/$label-$i.json" 2>"$work/$label-$i.err" &
    loaders+=($!)
  done
  for i in $(seq 1 "$procs"); do # until each holds, or gave up
    for _ in $(seq 1 1800); do
      grep -q HOLDING "$work/$label-$i.err" && break
      kill -0 "${loaders[i - 1]}" 2>/dev/null || break
      sleep 0.5
    done
  done
  sleep 3
  for pid in $server_pids; do during=$((during + $(rss_kb "$pid"))); done
  for pid in "${loaders[@]}"; do stop_pid "$pid"; done # they report what they still hold
  for i in $(seq 1 "$procs"); do
    n=$(grep -o '"connected":[0-9]*' "$work/$label-$i.json" | cut -d: -f2 || true)
    held=$((held + ${n:-0}))
  done
  echo "$label $total $held $(((during - before) * 1024 / (held > 0 ? held : 1))) $before $during" \
    >>"$work/idle.txt"
  say "$label: $held of $total held by $procs process(es); server RSS $before kB -> $during kB"
}

# Each idle measurement starts from fresh gateway processes: freed memory
# kept by an earlier run's heap would hide what the connections cost.
restart_gateways() {
  for gw in gw-a gw-b gw-c; do stop_pid "${pid_of[$gw]}"; done
  for gw in gw-a gw-b gw-c; do start_gateway $gw; done
}

# warm_up SYSTEM GATEWAYS ROUNDS RATE [JVM_PID]: 1-1 traffic at RATE msg/s
# in rounds of 10 s before a system's first ladder (bench/warm_up.py): with
# JVM_PID (our broker), until its JIT compilers have settled, at most
# ROUNDS; without, ROUNDS rounds.
warm_up() {
  local system=$1 gateways=$2 rounds=$3 rate=$4 jvm=${5:-}
  "$python_env/bin/python" "$root/bench/warm_up.py" "$rounds" ${jvm:+"$jvm" 0.05} -- \
    "$build/bench/chatbench" pair --gateways "$gateways" --users "$work/pairs.txt" \
    --rate "$(python3 -c "print($rate / $pairs)")" --duration 10 --json 1 \
    >"$work/$system-warm-up.json" || echo '{}' >"$work/$system-warm-up.json"
  say "$system warmed up at $rate msg/s: $(cat "$work/$system-warm-up.json")"
}

# ---- ours ----
if part fanout || part pair || part hot || part big || part capacity || part drain; then
  warm_up ours "$gw_a,$gw_b" "$warm_max" "$warm_rate" "$(cat "$work/kafka/kafka.pid")"
  settle
fi
for run in $(seq 1 "$repeat"); do
  part fanout || break
  "$build/bench/chatbench" fanout --gateways "$gw_a,$gw_b" --rooms "$work/rooms.txt" \
    --rate "$room_rate" --duration "$seconds" --json 1 >"$work/ours-fanout-$run.json" 2>/dev/null || true
  say "ours fanout, run $run: $(cat "$work/ours-fanout-$run.json")"
done
if part pair; then
  load "ours 1-1"
  ladder ours "$gw_a,$gw_b" pair "$rates"
  settle
fi
if part hot; then
  load "ours hot conversation"
  ladder ours "$gw_a,$gw_b" hot "$hot_rates"
  settle
fi
if part big; then
  load "ours big rooms"
  ladder ours "$gw_a,$gw_b" big "$big_rates"
  settle
fi
if part idle; then
  load "ours idle"
  restart_gateways
  hold_idle ours-idle-one "$idle" 1 "${pid_of[gw-a]}" "$gw_a" --secret "$secret"
  if [ "$idle_many" -gt 0 ]; then
    restart_gateways
    hold_idle ours-idle-many "$idle_many" 3 "${pid_of[gw-a]} ${pid_of[gw-b]} ${pid_of[gw-c]}" \
      "$gw_a,$gw_b,$gw_c" --secret "$secret"
  fi
fi
load "ours top rate"
# Persistence's throughput: one run over the pairs at the ladder's top rate
# whether or not it is sustained; chatbench counts persisted acks a second
# while they come (persisted_busy_per_s), the store's floor is measured at
# the end. After the idle measurements, as its backlog takes a while to
# drain and would slow their connect-time reads; ours stop right after it.
top_rate=${rates##* }
if part capacity; then
  "$build/bench/chatbench" pair --gateways "$gw_a,$gw_b" --users "$work/pairs.txt" \
    --rate "$(python3 -c "print($top_rate / $pairs)")" --duration 5 --json 1 \
    >"$work/ours-capacity-$top_rate-1.json" 2>"$work/ours-capacity-$top_rate-1.err" || true
  say "ours capacity $top_rate/s: $(cat "$work/ours-capacity-$top_rate-1.json")"
fi
# Persistence alone on a backlog: the store's floor is the store alone, so
# persistence is measured alone too. Presence and receipts stop; each run,
# once persistence has caught up, it stops, the gateways take 5 s of sends
# at the top rate into Kafka, and a fresh persistence drains them with
# nothing else to do (bench/drain.py times it by its /metrics; the CPU
# snapshots around it say what each part spent a message).
# Alone, it first opens the pairs' conversations, as the ladder's warm-up would.
if part drain && ! part pair && ! part capacity; then
  "$build/bench/chatbench" pair --gateways "$gw_a,$gw_b" --users "$work/pairs.txt" \
    --rate 1 --duration 3 --json 1 >"$work/ours-warmup-drain.json" 2>&1 || true
fi
stop_pid "${pid_of[presence]}"
stop_pid "${pid_of[receipts]}"
for run in $(seq 1 "$repeat"); do
  part drain || break
  file=$work/ours-drain-$run.json
  python3 "$root/bench/drain.py" caught-up "http://127.0.0.1:${health_of[persistence]}/metrics" 120 >/dev/null ||
    say "persistence not caught up within 120 s; the backlog below adds to what it had left"
  stop_pid "${pid_of[persistence]}"
  "$build/bench/chatbench" pair --gateways "$gw_a,$gw_b" --users "$work/pairs.txt" \
    --rate "$(python3 -c "print($top_rate / $pairs)")" --duration 5 --json 1 \
    >"$work/ours-backlog-$run.json" 2>/dev/null || true
  backlog=$(python3 -c "import json; print(json.load(open('$work/ours-backlog-$run.json')).get('accepted', 0))" 2>/dev/null || echo 0)
  cpu_snapshot >"$file.cpu0"
  launch persistence "$build/services/persistence/chat-persistence" "${persistence_env[@]}"
  python3 "$root/bench/drain.py" drain "http://127.0.0.1:${health_of[persistence]}/metrics" "$backlog" 120 \
    >"$file" || echo '{}' >"$file"
  cpu_snapshot >"$file.cpu1"
  say "ours persistence alone on a backlog (at least $backlog sends), run $run: $(cat "$file")"
done
# Ours stop before the peer runs, so that nothing of ours (presence
# settling the idle sessions) competes with it for the two cores.
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()

# ---- the peer: seed 004's events on Node/Socket.IO, same FerretDB ----
if part peer; then
  peer_port=$(stack_free_port)
  PORT=$peer_port MONGO_URI=$mongo MONGO_DB=bench_peer JWT_SECRET=$secret \
    node "$root/bench/peers/node-seed004/server.mjs" >"$work/peer.log" 2>&1 &
  peer_pid=$!
  pids+=("$peer_pid")
  wait_ready "http://127.0.0.1:$peer_port/health" "$peer_pid" peer
  load peer
  hold_idle peer-idle-one "$idle" 1 "$peer_pid" "127.0.0.1:$peer_port" --secret "$secret"
  # No JVM: V8 optimises within a round. At its ladder's first rate, since
  # a warm-up at ours' rate left it a backlog on a slow machine.
  warm_up peer "127.0.0.1:$peer_port,127.0.0.1:$peer_port" 1 "${rates%% *}"
  sleep 2
  ladder peer "127.0.0.1:$peer_port,127.0.0.1:$peer_port" pair "$rates"
  stop_pid "$peer_pid"
  pids=()
fi

# ---- floors ----
if part floors; then
  load floors
  echo_port=$(stack_free_port)
  "$build/bench/lws_echo" "$echo_port" >"$work/lws-echo.log" 2>&1 &
  echo_pid=$!
  pids+=("$echo_pid")
  sleep 0.5
  hold_idle lws-echo-idle-one "$idle" 1 "$echo_pid" "127.0.0.1:$echo_port" --raw 1
  for run in $(seq 1 "$repeat"); do
    "$build/bench/chatbench" echo --gateways "127.0.0.1:$echo_port" --connections "$pairs" \
      --rate "$(python3 -c "print($top_rate / $pairs)")" --duration "$seconds" --json 1 \
      >"$work/lws-echo-$run.json" 2>/dev/null || true
    say "floor lws echo $top_rate msg/s, run $run: $(cat "$work/lws-echo-$run.json")"
  done
  stop_pid "$echo_pid"
  "$python_env/bin/python" "$root/bench/floors/kafka_floor.py" "$brokers" 50000 >"$work/kafka.json" ||
    echo '{}' >"$work/kafka.json"
  say "floor kafka, as fast as it goes: $(cat "$work/kafka.json")"
  "$python_env/bin/python" "$root/bench/floors/kafka_floor.py" "$brokers" $((2000 * seconds)) 300 2000 \
    >"$work/kafka-paced.json" || echo '{}' >"$work/kafka-paced.json"
  say "floor kafka, 2000 records/s: $(cat "$work/kafka-paced.json")"
fi

load end
python3 "$root/bench/report.py" "$work"
