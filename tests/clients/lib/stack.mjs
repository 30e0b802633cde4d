// Helpers for end-to-end tests against the real stack that tests/run.sh
// starts (Kafka and FerretDB): our services as child processes, HTTP
// calls, sockets with the unmodified socket.io-client, and waiting for
// events. Every process a test starts is stopped by stopAll().
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { io } from "socket.io-client";

export const env = process.env;
export const { CHAT_TEST_KAFKA_BROKERS: brokers, CHAT_TEST_MONGO_URI: mongoUri } = env;

export { freePort } from "../../lib/free_port.mjs";
import { freePort } from "../../lib/free_port.mjs";

// A set of services sharing one topic prefix and one database.
export class Stack {
  constructor(name, extraEnv = {}) {
    assert.ok(env.CHAT_TEST_GATEWAY && env.CHAT_TEST_PERSISTENCE && brokers && mongoUri,
      "run through tests/run.sh (CHAT_TEST_* unset)");
    this.prefix = `${name}_${process.pid}_`;
    this.database = `${name}_${process.pid}`;
    this.secret = `${name}-test-secret-0123456789abcdef0123`;
    this.children = [];
    this.common = {
      CHAT_KAFKA_BROKERS: brokers, CHAT_MONGO_URI: mongoUri, CHAT_MONGO_DB: this.database,
      CHAT_TOPIC_PREFIX: this.prefix, CHAT_TOPIC_PARTITIONS: "4", CHAT_LOG_LEVEL: "warn",
      ...extraEnv,
    };
  }

  async start(binary, extraEnv = {}) {
    const healthPort = await freePort();
    const child = spawn(binary, [], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...env, ...this.common, ...extraEnv, CHAT_HEALTH_PORT: String(healthPort) },
    });
    child.healthPort = healthPort; // /healthz, /readyz and /metrics
    this.children.push(child);
    const deadline = Date.now() + 60000;
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200) return child;
      } catch { /* not yet */ }
      assert.ok(child.exitCode === null, `${binary} exited with ${child.exitCode}`);
      assert.ok(Date.now() < deadline, `${binary} not ready within 60 s`);
      await sleep(200);
    }
  }

  startPersistence(extraEnv = {}) {
    return this.start(env.CHAT_TEST_PERSISTENCE, extraEnv);
  }

  startReceipts(extraEnv = {}) {
    assert.ok(env.CHAT_TEST_RECEIPTS, "CHAT_TEST_RECEIPTS unset");
    return this.start(env.CHAT_TEST_RECEIPTS, extraEnv);
  }

  startPresence(extraEnv = {}) {
    assert.ok(env.CHAT_TEST_PRESENCE, "CHAT_TEST_PRESENCE unset");
    return this.start(env.CHAT_TEST_PRESENCE, extraEnv);
  }

  // Returns the gateway's base URL (and the process as .child of the result of startGatewayProcess).
  async startGateway(instanceId, extraEnv = {}) {
    return (await this.startGatewayProcess(instanceId, extraEnv)).base;
  }

  async startGatewayProcess(instanceId, extraEnv = {}, port = undefined) {
    port ??= await freePort();
    const child = await this.start(env.CHAT_TEST_GATEWAY, {
      CHAT_GATEWAY_PORT: String(port), CHAT_JWT_SECRET: this.secret, CHAT_INSTANCE_ID: instanceId,
      ...extraEnv,
    });
    return { base: `http://127.0.0.1:${port}`, child, port };
  }

  // SIGTERM to each process still running; each must exit 0.
  async stopAll() {
    for (const child of this.children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      assert.equal(await exited, 0, "a service did not exit cleanly on SIGTERM");
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function http(base, method, path, { token, body, raw } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(base + path, {
    method, headers, body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

// Registers a user; returns {id, username, token}.
export async function register(base, username, password = "a good password") {
  const res = await http(base, "POST", "/api/auth/register", { body: { username, password } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { ...res.body.data.user, token: res.body.data.token };
}

// A connected socket that records every event it receives in socket.seen.
export async function connect(base, token, auth = {}) {
  const socket = io(base, { auth: { token, ...auth }, transports: ["websocket"], reconnection: false });
  socket.seen = [];
  socket.onAny((event, ...args) => socket.seen.push({ event, data: args[0] }));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

// Waits until pred holds over socket.seen; returns what matched.
export async function waitFor(socket, event, pred = () => true, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = socket.seen.find((e) => e.event === event && pred(e.data));
    if (found) return found.data;
    assert.ok(Date.now() < deadline,
      `no ${event} within ${timeoutMs} ms; saw ${JSON.stringify(socket.seen.map((e) => e.event))}`);
    await sleep(20);
  }
}

// Emits with an ack callback; resolves with the ack's first argument.
export function request(socket, event, payload, timeoutMs = 15000) {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}
