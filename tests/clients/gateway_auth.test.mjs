// socket.io-client against the real chat-gateway (with the Kafka and
// FerretDB that tests/run.sh started): a good token connects, every bad
// token gets a CONNECT_ERROR that says why, a malformed packet closes only
// its own connection, and an unknown event is answered with an ack error.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { freePort } from "../lib/free_port.mjs";
import { createHmac } from "node:crypto";
import WebSocket from "ws";
import { io } from "socket.io-client";

const gatewayBinary = process.env.CHAT_TEST_GATEWAY;
const brokers = process.env.CHAT_TEST_KAFKA_BROKERS;
const mongo = process.env.CHAT_TEST_MONGO_URI;
assert.ok(gatewayBinary && brokers && mongo, "run through tests/run.sh (CHAT_TEST_* unset)");

const SECRET = "gateway-auth-test-secret-0123456789abcdef";
let port;


const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

function token(claims, { alg = "HS256", secret = SECRET, header } = {}) {
  const head = b64url(header ?? { alg, typ: "JWT" });
  const body = b64url(claims);
  const sig = alg === "none" ? "" : createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

const now = () => Math.floor(Date.now() / 1000);
const USER = "65f1a0c2e4b0a1b2c3d4e5f6";

function within(ms, promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); }),
  ]);
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

const gateways = [];

// Starts a gateway on free ports and waits for its /readyz; returns its port.
async function startGateway(extraEnv = {}) {
  const gatewayPort = await freePort();
  const health = await freePort();
  const child = spawn(gatewayBinary, [], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      CHAT_KAFKA_BROKERS: brokers, CHAT_MONGO_URI: mongo, CHAT_MONGO_DB: `gwauth_${process.pid}`,
      CHAT_TOPIC_PREFIX: `gwauth_${process.pid}_`, CHAT_TOPIC_PARTITIONS: "3", CHAT_GATEWAY_PORT: String(gatewayPort),
      CHAT_HEALTH_PORT: String(health), CHAT_JWT_SECRET: SECRET, CHAT_LOG_LEVEL: "warn", ...extraEnv,
    },
  });
  gateways.push(child);
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${health}/readyz`);
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    assert.ok(Date.now() < deadline, "gateway not ready within 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  return gatewayPort;
}

before(async () => {
  port = await startGateway();
});

after(async () => {
  for (const child of gateways) {
    if (child.exitCode !== null) continue;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await within(15000, exited, "gateway exit");
    assert.equal(code, 0, "gateway did not exit cleanly on SIGTERM");
  }
});

function connect(auth, opts = {}) {
  return io(`http://127.0.0.1:${port}`, { auth, reconnection: false, ...opts });
}

test("a valid token connects, with default options and WebSocket only", async () => {
  for (const transports of [undefined, ["websocket"]]) {
    const socket = connect({ token: token({ sub: USER, exp: now() + 3600 }) }, transports ? { transports } : {});
    await within(5000, once(socket, "connect"), "connect");
    socket.close();
  }
});

test("every bad token is refused with a clear CONNECT_ERROR", async () => {
  const cases = [
    [undefined, "Authentication failed: missing token (send it as auth.token)"],
    [{}, "Authentication failed: missing token (send it as auth.token)"],
    [{ token: 42 }, "Authentication failed: auth.token must be a string"],
    [{ token: "not.a.jwt.at-all" }, "Authentication failed: malformed token"],
    [{ token: token({ sub: USER, exp: now() + 3600 }, { alg: "none" }) }, "Authentication failed: token algorithm is not HS256"],
    [{ token: token({ sub: USER, exp: now() + 3600 }, { secret: "the-wrong-secret-0123456789abcdefgh" }) }, "Authentication failed: bad token signature"],
    [{ token: token({ sub: USER, exp: now() - 3600 }) }, "Authentication failed: token expired"],
    [{ token: token({ sub: USER }) }, "Authentication failed: token has no expiry"],
    [{ token: token({ exp: now() + 3600 }) }, "Authentication failed: token has no subject"],
    [{ token: token({ sub: "admin", exp: now() + 3600 }) }, "Authentication failed: the token's subject is not a user id"],
  ];
  for (const [auth, message] of cases) {
    const socket = connect(auth, { transports: ["websocket"] });
    const [err] = await within(5000, once(socket, "connect_error"), `connect_error for ${JSON.stringify(auth)}`);
    assert.equal(err.message, message, JSON.stringify(auth));
    assert.equal(socket.connected, false);
    socket.close();
  }
});

test("a token in the query string is read only when CHAT_ALLOW_QUERY_TOKEN=1", async () => {
  const allowingPort = await startGateway({ CHAT_ALLOW_QUERY_TOKEN: "1" });
  const good = token({ sub: USER, exp: now() + 3600 });
  const socket = io(`http://127.0.0.1:${allowingPort}`, { transports: ["websocket"], reconnection: false, query: { token: good } });
  await within(5000, once(socket, "connect"), "connect with a query token");
  socket.close();
  const bad = io(`http://127.0.0.1:${allowingPort}`, { transports: ["websocket"], reconnection: false, query: { token: token({ sub: USER, exp: now() - 3600 }) } });
  const [err] = await within(5000, once(bad, "connect_error"), "connect_error");
  assert.equal(err.message, "Authentication failed: token expired");
  bad.close();
});

test("a token in the query string is not read by default", async () => {
  const socket = connect(undefined, { transports: ["websocket"], query: { token: token({ sub: USER, exp: now() + 3600 }) } });
  const [err] = await within(5000, once(socket, "connect_error"), "connect_error");
  assert.match(err.message, /missing token/);
  socket.close();
});

test("unknown events get an ack error; malformed packets close only their own connection", async () => {
  const good = connect({ token: token({ sub: USER, exp: now() + 3600 }) }, { transports: ["websocket"] });
  await within(5000, once(good, "connect"), "connect");

  const answer = await within(5000, good.emitWithAck("no_such_event", { a: 1 }), "ack");
  assert.deepEqual(answer, { ok: false, error: { code: "UNKNOWN_EVENT", message: "unknown event 'no_such_event'" } });

  const raw = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
  await within(5000, once(raw, "message"), "engine.io open");
  raw.send("42{}"); // an EVENT whose data is not an array
  await within(5000, once(raw, "close"), "close after a malformed packet");

  const again = await within(5000, good.emitWithAck("still_there"), "ack after the other client's fault");
  assert.equal(again.ok, false);
  assert.equal(good.connected, true);
  good.close();
});

test("SIGTERM while a REST call waits for its command: it is answered 503 and the gateway exits 0", async () => {
  // No persistence runs here: the send waits for a command.result that never comes.
  const lonePort = await startGateway();
  const child = gateways[gateways.length - 1];
  const pending = fetch(`http://127.0.0.1:${lonePort}/api/chat/send`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token({ sub: USER, exp: now() + 3600 })}` },
    body: JSON.stringify({ receiverId: "65f1a0c2e4b0a1b2c3d4e5f7", content: "into the void" }),
  });
  await new Promise((r) => setTimeout(r, 500));
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const res = await within(15000, pending, "an answer before the gateway goes");
  assert.equal(res.status, 503);
  assert.equal((await res.json()).error.code, "STOPPED");
  const [code, signal] = await within(15000, exited, "gateway exit");
  assert.deepEqual([code, signal], [0, null], "the gateway must stop cleanly");
});
