// Unmodified socket.io-client against our protocol engine (the conformance
// server built from it): default options (polling, then the upgrade to
// WebSocket), WebSocket only, acks, binary attachments, namespaces, and
// reconnection after the server drops the connection.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { freePort } from "../lib/free_port.mjs";
import net from "node:net";
import { io } from "socket.io-client";

const serverBinary = process.env.CHAT_TEST_CONFORMANCE_SERVER;
assert.ok(serverBinary, "CHAT_TEST_CONFORMANCE_SERVER is not set: run through ctest");

let port;
let server;


async function startServer() {
  const child = spawn(serverBinary, ["socketio", String(port)], { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 50; i++) {
    const up = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => { c.end(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error("conformance server did not start");
}

function stopServer(child, signal = "SIGTERM") {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", resolve);
    child.kill(signal);
  });
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

function within(ms, promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); }),
  ]);
}

before(async () => {
  port = await freePort();
  server = await startServer();
});

after(async () => {
  await stopServer(server);
});

test("default options: polling first, then upgraded to WebSocket", async () => {
  const socket = io(`http://127.0.0.1:${port}`, { auth: { token: "abc" }, reconnection: false });
  const upgraded = new Promise((resolve) => socket.io.on("open", () => socket.io.engine.once("upgrade", resolve)));
  const [auth] = await within(5000, once(socket, "auth"), "auth event");
  assert.deepEqual(auth, { token: "abc" });
  await within(5000, upgraded, "upgrade");
  assert.equal(socket.io.engine.transport.name, "websocket");
  socket.emit("message", "after upgrade", 42);
  const args = await within(5000, once(socket, "message-back"), "message-back");
  assert.deepEqual(args, ["after upgrade", 42]);
  socket.close();
});

test("polling only: events both ways", async () => {
  const socket = io(`http://127.0.0.1:${port}`, { transports: ["polling"], reconnection: false });
  await within(5000, once(socket, "connect"), "connect");
  socket.emit("message", { nested: [1, "two", { three: true }] });
  const args = await within(5000, once(socket, "message-back"), "message-back");
  assert.deepEqual(args, [{ nested: [1, "two", { three: true }] }]);
  socket.close();
});

test("WebSocket only: events, acks and binary attachments", async () => {
  const socket = io(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnection: false });
  await within(5000, once(socket, "connect"), "connect");
  assert.equal(socket.io.engine.transport.name, "websocket");

  const acked = await within(5000, socket.emitWithAck("message-with-ack", 1, "2", { 3: [false] }), "ack");
  assert.equal(acked, 1); // the first ack argument

  const bytes = Buffer.from([1, 2, 3, 250]);
  socket.emit("message", "bin", bytes);
  const [label, echoed] = await within(5000, once(socket, "message-back"), "binary echo");
  assert.equal(label, "bin");
  assert.deepEqual(Buffer.from(echoed), bytes);
  socket.close();
});

test("a message over maxPayload closes only that connection", async () => {
  const big = io(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnection: false });
  const other = io(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnection: false });
  await within(5000, Promise.all([once(big, "connect"), once(other, "connect")]), "connect");
  const dropped = once(big, "disconnect");
  big.emit("message", "x".repeat(1_100_000)); // maxPayload is 1000000 on the conformance server
  const [reason] = await within(5000, dropped, "disconnect after an oversized message");
  assert.equal(reason, "transport close");
  other.emit("message", "still here");
  assert.deepEqual(await within(5000, once(other, "message-back"), "the other client"), ["still here"]);
  other.close();
});

test("namespaces: a configured one connects, an unknown one is refused", async () => {
  const custom = io(`http://127.0.0.1:${port}/custom`, { transports: ["websocket"], reconnection: false });
  const [auth] = await within(5000, once(custom, "auth"), "auth on /custom");
  assert.deepEqual(auth, {});
  custom.close();

  const unknown = io(`http://127.0.0.1:${port}/random`, { transports: ["websocket"], reconnection: false });
  const [err] = await within(5000, once(unknown, "connect_error"), "connect_error");
  assert.equal(err.message, "Invalid namespace");
  unknown.close();
});

test("reconnects by itself after the server drops the connection", async () => {
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: ["websocket"], reconnectionDelay: 100, reconnectionDelayMax: 200,
  });
  await within(5000, once(socket, "connect"), "first connect");
  const firstId = socket.id;
  const disconnected = once(socket, "disconnect");
  await stopServer(server, "SIGKILL");
  await within(5000, disconnected, "disconnect");
  const reconnected = once(socket, "connect"); // may come before startServer returns
  server = await startServer();
  await within(10000, reconnected, "reconnect");
  assert.notEqual(socket.id, firstId);
  socket.emit("message", "back again");
  const args = await within(5000, once(socket, "message-back"), "message-back after reconnect");
  assert.deepEqual(args, ["back again"]);
  socket.close();
});
