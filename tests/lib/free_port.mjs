// A TCP port on 127.0.0.1 that nothing listens on now, for a server a test
// starts, chosen below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range). The port listen(0) hands out
// is an ephemeral one, which the kernel also hands to outgoing
// connections: a gateway started beside other services (their Kafka and
// MongoDB clients connecting) found its port taken by one of them
// ("Address already in use", faults_storms in a CI run). Ports handed out
// by this process are not handed out again.
import fs from "node:fs";
import net from "node:net";

const FIRST = 10000;
const given = new Set();

function ephemeralLow() {
  try {
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST + 1000 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

export async function freePort() {
  const last = ephemeralLow() - 1;
  for (let tries = 0; tries < 200; tries++) {
    const port = FIRST + Math.floor(Math.random() * (last - FIRST + 1));
    if (given.has(port) || !(await canListen(port))) continue;
    given.add(port);
    return port;
  }
  throw new Error(`no free port found from ${FIRST} to ${last}`);
}
