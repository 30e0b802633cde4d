// Accounts end to end on the real stack: the gateway's REST API
// (POST /api/auth/register, POST /api/auth/login, GET /api/users) through
// Kafka to the persistence service and MongoDB (FerretDB), and the token it
// hands out opens a socket with unmodified socket.io-client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { freePort } from "../lib/free_port.mjs";
import { io } from "socket.io-client";
import { MongoClient } from "mongodb";

const { CHAT_TEST_GATEWAY: gatewayBinary, CHAT_TEST_PERSISTENCE: persistenceBinary,
  CHAT_TEST_KAFKA_BROKERS: brokers, CHAT_TEST_MONGO_URI: mongo } = process.env;
assert.ok(gatewayBinary && persistenceBinary && brokers && mongo, "run through tests/run.sh (CHAT_TEST_* unset)");

const children = [];
let base;
const prefix = `accounts_${process.pid}_`;
const database = `accounts_${process.pid}`;


async function startService(binary, env) {
  const healthPort = await freePort();
  const child = spawn(binary, [], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...env, CHAT_HEALTH_PORT: String(healthPort) } });
  children.push(child);
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200) return child;
    } catch { /* not yet */ }
    assert.ok(Date.now() < deadline, `${binary} not ready within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  const common = {
    CHAT_KAFKA_BROKERS: brokers, CHAT_MONGO_URI: mongo, CHAT_MONGO_DB: database,
    CHAT_TOPIC_PREFIX: prefix, CHAT_TOPIC_PARTITIONS: "3", CHAT_LOG_LEVEL: "warn",
  };
  const port = await freePort();
  await startService(persistenceBinary, common);
  await startService(gatewayBinary, { ...common, CHAT_GATEWAY_PORT: String(port), CHAT_JWT_SECRET: "accounts-test-secret-0123456789abcdef" });
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  for (const child of children.reverse()) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    assert.equal(await exited, 0, "a service did not exit cleanly on SIGTERM");
  }
});

async function post(path, body, raw = false) {
  const res = await fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: raw ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

test("register, login, list users, and connect a socket with the token", async () => {
  const name = `alice_${process.pid}`;
  const registered = await post("/api/auth/register", { username: name, password: "correct horse" });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  assert.equal(registered.body.success, true);
  assert.equal(registered.body.data.user.username, name);
  assert.match(registered.body.data.user.id, /^[0-9a-f]{24}$/);
  assert.equal(typeof registered.body.data.token, "string");

  const again = await post("/api/auth/register", { username: name, password: "another one" });
  assert.equal(again.status, 409);
  assert.deepEqual(again.body, { success: false, error: { code: "DUPLICATE", message: `username '${name}' is taken` } });

  const login = await post("/api/auth/login", { username: name, password: "correct horse" });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  assert.equal(login.body.data.user.id, registered.body.data.user.id);

  const wrongPassword = await post("/api/auth/login", { username: name, password: "wrong horse" });
  const unknownUser = await post("/api/auth/login", { username: `nobody_${process.pid}`, password: "whatever1" });
  assert.equal(wrongPassword.status, 401);
  assert.deepEqual(unknownUser, wrongPassword, "the answer must not tell which part was wrong");

  const list = await fetch(`${base}/api/users`, { headers: { Authorization: `Bearer ${login.body.data.token}` } });
  assert.equal(list.status, 200);
  const users = (await list.json()).data.users;
  const me = users.find((u) => u.username === name);
  assert.deepEqual(me, { id: registered.body.data.user.id, username: name });
  assert.ok(users.every((u) => !("passwordHash" in u) && !("password" in u)), "hashes leaked");

  const noToken = await fetch(`${base}/api/users`);
  assert.equal(noToken.status, 401);

  const socket = io(base, { auth: { token: login.body.data.token }, transports: ["websocket"], reconnection: false });
  await new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); });
  socket.close();
});

test("bad bodies get 400 with a precise message", async () => {
  const cases = [
    ["not json", "the body must be a JSON object {\"username\", \"password\"}", true],
    [{}, "username is required and must be a string"],
    [{ username: "ab", password: "longenough" }, "username must be 3 to 32 letters, digits, '_', '.' or '-'"],
    [{ username: "bad name!", password: "longenough" }, "username must be 3 to 32 letters, digits, '_', '.' or '-'"],
    [{ username: "valid_name" }, "password is required and must be a string"],
    [{ username: "valid_name", password: "short" }, "password must be 8 to 128 bytes long"],
  ];
  for (const [body, message, raw] of cases) {
    const res = await post("/api/auth/register", body, raw);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.success, false);
    assert.equal(res.body.error.message, message);
  }
  const unknown = await fetch(`${base}/api/nothing-here`);
  assert.equal(unknown.status, 404);
  const wrongMethod = await fetch(`${base}/api/auth/register`);
  assert.equal(wrongMethod.status, 405);
});

// Produces one chat.broadcast record with kcat, a Kafka client nobody here wrote.
function broadcast(target, event, value) {
  return new Promise((resolve, reject) => {
    const kcat = spawn("kcat", ["-P", "-b", brokers, "-t", `${prefix}chat.broadcast`, "-k", target,
      "-H", `event=${event}`, "-H", `target=${target}`], { stdio: ["pipe", "ignore", "inherit"] });
    kcat.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}`))));
    kcat.stdin.end(JSON.stringify(value));
  });
}

test("on connect a socket joins its user's room and its conversations' rooms (seed 000)", async () => {
  const name = `bob_${process.pid}`;
  const registered = await post("/api/auth/register", { username: name, password: "bob password" });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const userId = registered.body.data.user.id;
  const conversationId = "65f1a0d9e4b0a1b2c3d4e6aa";
  const otherConversation = "65f1a0d9e4b0a1b2c3d4e6bb";

  // Membership as persistence will write it (messaging issue); written here directly.
  const client = new MongoClient(mongo);
  await client.connect();
  await client.db(database).collection("members").insertMany([
    { conversationId, userId },
    { conversationId: otherConversation, userId: "65f1a0c2e4b0a1b2c3d4e999" },
  ]);
  await client.close();

  const socket = io(base, { auth: { token: registered.body.data.token }, transports: ["websocket"], reconnection: false });
  await new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); });
  const received = [];
  socket.onAny((event, payload) => received.push([event, payload]));

  // The gateway consumes from the newest record: give it its assignment first.
  const deadline = Date.now() + 30000;
  let seen = false;
  while (!seen && Date.now() < deadline) {
    await broadcast(`user:${userId}`, "probe", { n: 1 });
    await new Promise((r) => setTimeout(r, 500));
    seen = received.some(([event]) => event === "probe");
  }
  assert.ok(seen, "the personal room never received a broadcast");

  await broadcast(`room:${otherConversation}`, "new_message", { conversationId: otherConversation, content: "not for bob" });
  await broadcast(`room:${conversationId}`, "new_message", { conversationId, content: "hello bob" });
  const until = Date.now() + 10000;
  while (!received.some(([event]) => event === "new_message") && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1000)); // a wrong delivery from another partition would land by now
  const messages = received.filter(([event]) => event === "new_message").map(([, payload]) => payload);
  assert.deepEqual(messages, [{ conversationId, content: "hello bob" }], "exactly the own conversation's message");
  socket.close();
});

test("join_conversation, typing and leave_conversation reach exactly the open sockets", async () => {
  const register = async (name) => {
    const res = await post("/api/auth/register", { username: `${name}_${process.pid}`, password: `${name} password` });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data;
  };
  const carol = await register("carol");
  const dave = await register("dave");
  const conversationId = "65f1a0d9e4b0a1b2c3d4e6cc";
  const client = new MongoClient(mongo);
  await client.connect();
  await client.db(database).collection("members").insertMany([
    { conversationId, userId: carol.user.id }, { conversationId, userId: dave.user.id },
  ]);
  await client.close();

  const connectAs = async (who) => {
    const socket = io(base, { auth: { token: who.token }, transports: ["websocket"], reconnection: false });
    await new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); });
    socket.received = [];
    socket.onAny((event, payload) => socket.received.push([event, payload]));
    return socket;
  };
  const carolSocket = await connectAs(carol);
  const daveOpen = await connectAs(dave);
  const daveOther = await connectAs(dave); // a second device without the conversation open

  // Wait for the gateway's broadcast consumer to be assigned.
  const deadline = Date.now() + 30000;
  while (!daveOpen.received.some(([e]) => e === "probe") && Date.now() < deadline) {
    await broadcast(`user:${dave.user.id}`, "probe", {});
    await new Promise((r) => setTimeout(r, 500));
  }

  assert.deepEqual(await daveOpen.emitWithAck("join_conversation", { conversationId }), { ok: true });
  assert.deepEqual(await carolSocket.emitWithAck("join_conversation", { conversationId: "65f1a0d9e4b0a1b2c3d4e6dd" }),
    { ok: false, error: { code: "FORBIDDEN", message: "not a member of this conversation" } });
  assert.deepEqual(await carolSocket.emitWithAck("typing", { conversationId: "nope" }),
    { ok: false, error: { code: "INVALID_ARGUMENT", message: "conversationId must be 24 hex digits" } });
  assert.deepEqual(await carolSocket.emitWithAck("typing", "not an object"),
    { ok: false, error: { code: "INVALID_ARGUMENT", message: "expected {conversationId} as the first argument" } });

  assert.deepEqual(await carolSocket.emitWithAck("typing", { conversationId }), { ok: true });
  const until = Date.now() + 10000;
  while (!daveOpen.received.some(([e]) => e === "user_typing") && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(daveOpen.received.filter(([e]) => e === "user_typing"),
    [["user_typing", { userId: carol.user.id, conversationId }]]);
  assert.equal(daveOther.received.filter(([e]) => e === "user_typing").length, 0, "scope open: not to a closed socket");
  assert.equal(carolSocket.received.filter(([e]) => e === "user_typing").length, 0, "exclude: not back to the typist");

  assert.deepEqual(await carolSocket.emitWithAck("join_conversation", { conversationId }), { ok: true });
  const joinedBy = Date.now() + 10000;
  while (!daveOpen.received.some(([e]) => e === "user_joined") && Date.now() < joinedBy)
    await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(daveOpen.received.find(([e]) => e === "user_joined")[1].userId, carol.user.id);

  assert.deepEqual(await daveOpen.emitWithAck("leave_conversation", { conversationId }), { ok: true });
  await carolSocket.emitWithAck("stop_typing", { conversationId });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(daveOpen.received.filter(([e]) => e === "user_stopped_typing").length, 0, "left: no more typing events");

  for (const s of [carolSocket, daveOpen, daveOther]) s.close();
});
