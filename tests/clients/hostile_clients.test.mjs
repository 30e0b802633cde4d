// Hostile clients against the real chat-gateway (Kafka and FerretDB from
// tests/run.sh): raw frames in orders no honest client sends, binary
// attachments, and socket.io-client's own binary events. Each gets a clear
// refusal (an ack error or the close of that one connection) and the gateway
// goes on serving everyone else.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import WebSocket from "ws";
import { io } from "socket.io-client";
import { Stack, sleep } from "./lib/stack.mjs";

const stack = new Stack("hostile", { CHAT_GUEST_ROOMS: "namespace" });
let gateway, base;

const b64url = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
function token(sub) {
  const head = b64url({ alg: "HS256", typ: "JWT" });
  const body = b64url({ sub, exp: Math.floor(Date.now() / 1000) + 3600 });
  const sig = createHmac("sha256", stack.secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}
const USER = "65f1a0c2e4b0a1b2c3d4e5f6";

function within(ms, promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); }),
  ]);
}

before(async () => {
  const started = await stack.startGatewayProcess("gw-hostile");
  gateway = started.child;
  base = started.base;
});

after(async () => {
  await stack.stopAll();
});

// A raw WebSocket past the Engine.IO open; frames received are in ws.frames.
async function rawSocket() {
  const ws = new WebSocket(`${base.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
  ws.frames = [];
  ws.on("message", (data, isBinary) => ws.frames.push(isBinary ? data : data.toString()));
  await within(5000, new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); }), "ws open");
  while (!ws.frames.length) await sleep(10);
  assert.match(ws.frames[0], /^0\{"sid"/);
  return ws;
}

async function waitFrame(ws, pred, what) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = ws.frames.find((f) => typeof f === "string" && pred(f));
    if (found) return found;
    assert.ok(Date.now() < deadline, `${what}: saw ${JSON.stringify(ws.frames)}`);
    await sleep(10);
  }
}

const closed = (ws) => new Promise((resolve) => {
  if (ws.readyState === WebSocket.CLOSED) resolve();
  else ws.once("close", resolve);
});

// The gateway is alive and serves a new authenticated client.
async function stillServing() {
  assert.equal(gateway.exitCode, null, "the gateway exited");
  assert.equal(gateway.signalCode, null, `the gateway died of ${gateway.signalCode}`);
  const socket = io(base, { auth: { token: token(USER) }, transports: ["websocket"], reconnection: false });
  await within(5000, new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); }), "connect");
  const answer = await within(5000, socket.emitWithAck("no_such_event"), "ack");
  assert.equal(answer.error.code, "UNKNOWN_EVENT");
  socket.close();
}

test("without a token: a binary event announced, then a pong and a text frame, closes that connection only", async () => {
  const ws = await rawSocket();
  ws.send('451-["x",{"_placeholder":true,"num":0}]');
  ws.send("3");
  ws.send('42["x"]');
  await within(5000, closed(ws), "close after text where an attachment was due");
  await sleep(200);
  await stillServing();
});

test("an authenticated socket that starts a binary event then sends text is closed; the gateway goes on", async () => {
  const ws = await rawSocket();
  ws.send(`40${JSON.stringify({ token: token(USER) })}`);
  await waitFrame(ws, (f) => f.startsWith("40{"), "CONNECT answer");
  ws.send('451-["send_message",{"_placeholder":true,"num":0}]');
  ws.send('42["typing",{}]');
  await within(5000, closed(ws), "close after text where an attachment was due");
  await sleep(200);
  await stillServing();
});

test("an anonymous guest that starts a binary event then sends text is closed; the gateway goes on", async () => {
  const ws = await rawSocket();
  ws.send("40/guest,");
  await waitFrame(ws, (f) => f.startsWith("40/guest,{"), "CONNECT answer on /guest");
  ws.send('451-/guest,["roomMessage",{"_placeholder":true,"num":0}]');
  ws.send('42/guest,["ping"]');
  await within(5000, closed(ws), "close after text where an attachment was due");
  await sleep(200);
  await stillServing();
});

test("a binary event with all its attachments is answered and the session goes on", async () => {
  const ws = await rawSocket();
  ws.send(`40${JSON.stringify({ token: token(USER) })}`);
  await waitFrame(ws, (f) => f.startsWith("40{"), "CONNECT answer");
  ws.send('452-7["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
  ws.send(Buffer.from([1, 2, 3]));
  ws.send(Buffer.from([4, 5]));
  const ack = await waitFrame(ws, (f) => f.startsWith("437"), "ack of the binary event");
  assert.match(ack, /UNKNOWN_EVENT/);
  ws.send('438["again"]');
  ws.send('42["no_such_event"]');
  await sleep(200);
  assert.equal(ws.readyState, WebSocket.OPEN, "an honest binary event must not close the session");
  ws.close();
  await stillServing();
});

test("socket.io-client sending a Buffer with a caption gets an ack; the gateway goes on", async () => {
  for (const transports of [["websocket"], ["polling"]]) {
    const socket = io(base, { auth: { token: token(USER) }, transports, reconnection: false });
    await within(5000, new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); }), "connect");
    for (let i = 0; i < 3; i++) {
      const answer = await within(5000, socket.emitWithAck("x", "caption", Buffer.from([1, 2, 3])), `ack over ${transports}`);
      assert.deepEqual(answer, { ok: false, error: { code: "UNKNOWN_EVENT", message: "unknown event 'x'" } });
    }
    assert.equal(socket.connected, true);
    socket.close();
  }
  await stillServing();
});

test("a guest's Buffer over socket.io-client does not bring the gateway down", async () => {
  const socket = io(`${base}/guest`, { transports: ["websocket"], reconnection: false });
  await within(5000, new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); }), "connect /guest");
  socket.emit("roomMessage", "caption", Buffer.from([1, 2, 3]));
  socket.emit("x", Buffer.from([9]));
  await sleep(300);
  socket.close();
  await stillServing();
});
