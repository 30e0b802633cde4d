#!/usr/bin/env bash
# The local stack (deploy/up.sh, status, down.sh) in a state dir and on
# ports of its own, never the default ones: a start that would collide is
# refused before anything runs and names what holds the port; three
# gateways start on consecutive ports, each with its own instance id and
# health port; status shows every process and a crashed one; logs are JSON
# lines only; down.sh stops everything and frees every port.
# $1: a build directory with the services (CHAT_DEV_BIN_DIR).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin_dir=${1:?usage: dev_stack_test.sh BUILD_DIR}
# shellcheck source=../../deploy/lib/stack.sh
source "$root/deploy/lib/stack.sh"

state=$(mktemp -d /tmp/chat-dev-stack-test.XXXXXX)
holder_pid=
cleanup() {
  [ -z "$holder_pid" ] || kill "$holder_pid" 2>/dev/null || true
  CHAT_DEV_STACK_DIR=$state bash "$root/deploy/down.sh" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A base port with $1 free ports from it, away from every default port and
# below the ephemeral range, where an outgoing connection (a Kafka client's)
# could take one between up.sh's check and the service's bind.
free_run() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    ephemeral = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    ephemeral = 32768
for _ in range(200):
    base = random.randint(20000, max(20001, ephemeral - n - 1))
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

gateway_base=$(free_run 3)
health_base=$(free_run 6)
export CHAT_DEV_STACK_DIR=$state CHAT_DEV_BIN_DIR=$bin_dir CHAT_DEV_GATEWAYS=3
export CHAT_GATEWAY_PORT=$gateway_base CHAT_DEV_HEALTH_PORT=$health_base
export KAFKA_PORT=$(stack_free_port) KAFKA_CONTROLLER_PORT=$(stack_free_port)
export FERRETDB_PORT=$(stack_free_port) POSTGRES_PORT=$(stack_free_port)
export CHAT_LOG_LEVEL=info
echo "gateways on $gateway_base.., health on $health_base.., kafka $KAFKA_PORT, ferretdb $FERRETDB_PORT, state $state"

# 1. A port taken by someone else: refused, named, nothing started.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)' \
  $((gateway_base + 1)) &
holder_pid=$!
until stack_port_holder $((gateway_base + 1)) >/dev/null; do sleep 0.1; done
if out=$(bash "$root/deploy/up.sh" 2>&1); then
  fail "up.sh started although port $((gateway_base + 1)) was taken: $out"
fi
grep -q "port $((gateway_base + 1)) (gateway-2 Socket.IO) is taken: pid $holder_pid (.*python3" <<<"$out" ||
  fail "up.sh did not say what holds the port: $out"
grep -q "nothing started" <<<"$out" || fail "up.sh did not say that nothing started: $out"
for pid_file in "$state"/kafka/kafka.pid "$state"/ferretdb/ferretdb.pid "$state"/services/*.pid; do
  ! stack__running "$pid_file" || fail "$pid_file runs after a refused start"
done
! stack_port_holder "$KAFKA_PORT" >/dev/null || fail "kafka listens after a refused start"
kill "$holder_pid"
wait "$holder_pid" 2>/dev/null || true
holder_pid=
echo "ok: a start on a taken port is refused, names the holder and starts nothing"

# 2. Three gateways and the three services.
out=$(bash "$root/deploy/up.sh" 2>&1) || fail "up.sh failed: $out"
for i in 1 2 3; do
  port=$((gateway_base + i - 1))
  grep -q "gateway-$i (instance gateway-local-$i): Socket.IO and REST on http://127.0.0.1:$port/" <<<"$out" ||
    fail "up.sh did not print gateway-$i's address: $out"
  handshake=$(curl -fsS "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling") || handshake=
  grep -q '"sid"' <<<"$handshake" || fail "gateway-$i does not answer a Socket.IO handshake on $port"
done
health_ports=("$health_base" $((health_base + 1)) $((health_base + 2)) $((health_base + 3)) \
  $((health_base + 4)) $((health_base + 5)))
for port in "${health_ports[@]}"; do
  ready=$(curl -fsS "http://127.0.0.1:$port/readyz") || ready=
  grep -q '"status":"ready"' <<<"$ready" || fail "health port $port is not ready: $ready"
  metrics=$(curl -fsS "http://127.0.0.1:$port/metrics") || metrics=
  grep -q '^chat_build_info{service="' <<<"$metrics" || fail "no chat_build_info on $port/metrics"
done
echo "ok: three gateways on consecutive ports, six health ports ready with /metrics"

# 3. Status: every process runs and is ready.
out=$(bash "$root/deploy/up.sh" status 2>&1) || fail "status says something is wrong: $out"
for name in gateway-1 gateway-2 gateway-3 persistence presence receipts; do
  grep -q "^$name: running (pid [0-9]*" <<<"$out" || fail "status does not show $name running: $out"
done
grep -q "kafka running" <<<"$out" || fail "status does not show kafka: $out"
grep -q "the end of $state/services/gateway-2.log" <<<"$out" || fail "status shows no log: $out"
echo "ok: status shows every process"

# 4. Logs are JSON lines only, each gateway under its own instance id.
"${PYTHON:-python3}" - "$state/services" <<'PY' || fail "a log line is not JSON"
import json, os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    if not name.endswith(".log"):
        continue
    service = name[:-4]
    with open(os.path.join(d, name)) as f:
        lines = [l for l in f.read().splitlines() if l]
    assert lines, f"{name} is empty"
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            sys.exit(f"{name}: not JSON: {line[:200]}")
        if service.startswith("gateway-"):
            want = "gateway-local-" + service.split("-")[1]
            assert entry.get("instance") == want, f"{name}: instance {entry.get('instance')}, not {want}"
print("logs: JSON lines only")
PY

# 5. A crashed service shows.
kill -KILL "$(cat "$state/services/gateway-2.pid")"
sleep 0.5
if out=$(bash "$root/deploy/up.sh" status 2>&1); then
  fail "status says all is well with gateway-2 killed: $out"
fi
grep -q "^gateway-2: NOT RUNNING" <<<"$out" || fail "status does not show gateway-2 gone: $out"
echo "ok: status shows a killed gateway"

# 6. down.sh stops everything and frees every port.
bash "$root/deploy/down.sh" >/dev/null || fail "down.sh failed"
for pid_file in "$state"/kafka/kafka.pid "$state"/ferretdb/ferretdb.pid "$state"/services/*.pid; do
  ! stack__running "$pid_file" || fail "$pid_file still runs after down.sh"
done
for port in "$gateway_base" $((gateway_base + 1)) $((gateway_base + 2)) "${health_ports[@]}" \
  "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$FERRETDB_PORT" "$POSTGRES_PORT"; do
  ! stack_port_holder "$port" >/dev/null || fail "port $port still taken after down.sh: $(stack_port_holder "$port")"
done
echo "ok: down.sh stops everything"
