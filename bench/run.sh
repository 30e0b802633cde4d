#!/usr/bin/env bash
# The benchmark: ours, the Node/Socket.IO peer and the floors, on this
# machine, in one run, printed as one table (README.md, "Performance").
#   bench/run.sh            a quick run (minutes)
#   CHAT_BENCH_FULL=1 bench/run.sh   the targets' sizes (idle up to the
#                           open-file limit, more pairs and a longer window)
# Settings (environment): CHAT_BENCH_IDLE (connections), CHAT_BENCH_PAIRS,
# CHAT_BENCH_RATE (messages/s per sender), CHAT_BENCH_SECONDS (window),
# CHAT_BENCH_ROOMS, CHAT_BENCH_ROOM_SIZE. Everything listens on loopback
# and every process it starts, it stops.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../deploy/lib/stack.sh
source "$root/deploy/lib/stack.sh"
full=${CHAT_BENCH_FULL:-0}
idle=${CHAT_BENCH_IDLE:-$([ "$full" = 1 ] && echo 19000 || echo 5000)}
pairs=${CHAT_BENCH_PAIRS:-$([ "$full" = 1 ] && echo 500 || echo 200)}
rate=${CHAT_BENCH_RATE:-10}
seconds=${CHAT_BENCH_SECONDS:-$([ "$full" = 1 ] && echo 30 || echo 10)}
rooms=${CHAT_BENCH_ROOMS:-5}
room_size=${CHAT_BENCH_ROOM_SIZE:-20}
secret=bench-secret-0123456789abcdef0123456789
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
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stack_kafka_stop "$work/kafka" || true
  stack_ferretdb_stop "$work/ferretdb" || true
  if [ "${CHAT_BENCH_KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

kafka_port=$(stack_free_port)
stack_kafka_start "$work/kafka" "$kafka_port" "$(stack_free_port)" >/dev/null
ferretdb_port=$(stack_free_port)
stack_ferretdb_start "$work/ferretdb" "$ferretdb_port" >/dev/null
brokers=127.0.0.1:$kafka_port
mongo=mongodb://127.0.0.1:$ferretdb_port/

# Our services: two gateways, one of each other service.
export CHAT_KAFKA_BROKERS=$brokers CHAT_MONGO_URI=$mongo CHAT_MONGO_DB=bench CHAT_TOPIC_PREFIX=bench.
export CHAT_TOPIC_PARTITIONS=8 CHAT_LOG_LEVEL=warn
start() { # name health_port binary [VAR=value...]
  local name=$1 health=$2 binary=$3
  shift 3
  env CHAT_HEALTH_PORT="$health" CHAT_INSTANCE_ID="$name" "$@" "$binary" >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "${name//-/_}_pid=$!"
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$health/readyz" >/dev/null && return 0
    sleep 0.2
  done
  echo "$name did not become ready; its log:" >&2
  tail -20 "$work/$name.log" >&2
  exit 1
}
gw_env=(CHAT_JWT_SECRET=$secret CHAT_RATE_LIMIT_PER_SEC=100000 CHAT_RATE_LIMIT_BURST=100000)
start persistence "$(stack_free_port)" "$build/services/persistence/chat-persistence"
start presence "$(stack_free_port)" "$build/services/presence/chat-presence"
start receipts "$(stack_free_port)" "$build/services/receipts/chat-receipts"
port_a=$(stack_free_port)
port_b=$(stack_free_port)
start gw-a "$(stack_free_port)" "$build/services/gateway/chat-gateway" "${gw_env[@]}" CHAT_GATEWAY_PORT="$port_a"
start gw-b "$(stack_free_port)" "$build/services/gateway/chat-gateway" "${gw_env[@]}" CHAT_GATEWAY_PORT="$port_b"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
results=$work/results.txt
: >"$results"
say() { echo "$*" | tee -a "$results" >&2; }

# ---- pair: 1-1 across two gateways ----
node "$root/bench/prepare.mjs" pairs "http://127.0.0.1:$port_a" "$pairs" "$work/pairs.txt"
"$build/bench/chatbench" pair --gateways "127.0.0.1:$port_a,127.0.0.1:$port_b" \
  --users "$work/pairs.txt" --rate "$rate" --duration "$seconds" --json 1 >"$work/pair.json" 2>/dev/null
say "ours pair: $(cat "$work/pair.json")"

# ---- fanout: group rooms ----
node "$root/bench/prepare.mjs" rooms "http://127.0.0.1:$port_a" "$rooms" "$room_size" "$work/rooms.txt"
"$build/bench/chatbench" fanout --gateways "127.0.0.1:$port_a,127.0.0.1:$port_b" \
  --rooms "$work/rooms.txt" --rate "$rate" --duration "$seconds" --json 1 >"$work/fanout.json" 2>/dev/null
say "ours fanout: $(cat "$work/fanout.json")"

# ---- idle: memory per connection on one gateway process ----
# Last of ours: each connection is a session for the presence service,
# whose writes share FerretDB's one SQLite file with persistence.
before=$(rss_kb "$gw_a_pid")
ips=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4
"$build/bench/chatbench" idle --gateways "127.0.0.1:$port_a" --secret "$secret" \
  --connections "$idle" --hold 8 --connect-rate 3000 --source-ips "$ips" --json 1 \
  >"$work/idle.json" 2>"$work/idle.err" &
bench_pid=$!
for _ in $(seq 1 600); do grep -q HOLDING "$work/idle.err" && break; sleep 0.5; done
sleep 3
during=$(rss_kb "$gw_a_pid")
wait "$bench_pid"
held=$(grep -o '"connected":[0-9]*' "$work/idle.json" | cut -d: -f2)
per_conn=$(( (during - before) * 1024 / (held > 0 ? held : 1) ))
say "ours idle: $held of $idle connections held; gateway RSS ${before} kB -> ${during} kB: $per_conn bytes per connection"
echo "ours_idle $held $per_conn" >>"$work/table"

# Ours stop before the peer runs, so that nothing of ours (presence
# settling the idle sessions) competes with it for the two cores.
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()

# ---- the peer: seed 004's events on Node/Socket.IO, same FerretDB ----
peer_port=$(stack_free_port)
PORT=$peer_port MONGO_URI=$mongo MONGO_DB=bench_peer JWT_SECRET=$secret \
  node "$root/bench/peers/node-seed004/server.mjs" >"$work/peer.log" 2>&1 &
peer_pid=$!
pids+=("$peer_pid")
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$peer_port/health" >/dev/null && break; sleep 0.2; done
before=$(rss_kb "$peer_pid")
"$build/bench/chatbench" idle --gateways "127.0.0.1:$peer_port" --secret "$secret" \
  --connections "$idle" --hold 8 --connect-rate 3000 --source-ips "$ips" --json 1 \
  >"$work/peer-idle.json" 2>"$work/peer-idle.err" &
bench_pid=$!
for _ in $(seq 1 600); do grep -q HOLDING "$work/peer-idle.err" && break; sleep 0.5; done
sleep 3
during=$(rss_kb "$peer_pid")
wait "$bench_pid"
held=$(grep -o '"connected":[0-9]*' "$work/peer-idle.json" | cut -d: -f2)
per_conn=$(( (during - before) * 1024 / (held > 0 ? held : 1) ))
say "peer idle: $held of $idle connections held; RSS ${before} kB -> ${during} kB: $per_conn bytes per connection"
echo "peer_idle $held $per_conn" >>"$work/table"
"$build/bench/chatbench" pair --gateways "127.0.0.1:$peer_port,127.0.0.1:$peer_port" \
  --users "$work/pairs.txt" --rate "$rate" --duration "$seconds" --json 1 >"$work/peer-pair.json" 2>/dev/null
say "peer pair: $(cat "$work/peer-pair.json")"

# ---- floors ----
"$python_env/bin/python" "$root/bench/floors/kafka_floor.py" "$brokers" 50000 >"$work/kafka.json" ||
  echo '{}' >"$work/kafka.json"
say "floor kafka: $(cat "$work/kafka.json")"
"$python_env/bin/python" "$root/bench/floors/ferretdb_floor.py" "$mongo" 5000 >"$work/ferretdb.json" ||
  echo '{}' >"$work/ferretdb.json"
say "floor ferretdb: $(cat "$work/ferretdb.json")"

python3 "$root/bench/report.py" "$work"
