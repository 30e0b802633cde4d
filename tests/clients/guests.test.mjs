// Seed 003's guest rooms end to end (issue 8): unmodified socket.io-client
// sockets without accounts, across two gateways, one killed with SIGKILL,
// plus the setting's three modes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { Stack, waitFor, sleep } from "./lib/stack.mjs";

const EXPIRY_MS = 3000;
const stack = new Stack("guests");
const GUESTS = { CHAT_GUEST_ROOMS: "namespace", CHAT_PRESENCE_HEARTBEAT_MS: "300" };
let gwA, gwB, gwOff, gwMain;
const sockets = [];

before(async () => {
  await stack.startPresence({ CHAT_PRESENCE_EXPIRY_MS: String(EXPIRY_MS) });
  gwA = await stack.startGateway("gw-a", { ...GUESTS, CHAT_RATE_LIMIT_PER_SEC: "1000", CHAT_RATE_LIMIT_BURST: "1000" });
  gwB = await stack.startGateway("gw-b", { ...GUESTS, CHAT_RATE_LIMIT_PER_SEC: "1000", CHAT_RATE_LIMIT_BURST: "1000" });
  gwOff = await stack.startGateway("gw-off");
  gwMain = await stack.startGateway("gw-main", { CHAT_GUEST_ROOMS: "main", CHAT_PRESENCE_HEARTBEAT_MS: "300" });
});

after(async () => {
  for (const s of sockets) s.close();
  await stack.stopAll();
});

// A guest socket as seed 003's client opens it: no auth at all.
async function guest(url) {
  const socket = io(url, { transports: ["websocket"], reconnection: false });
  sockets.push(socket);
  socket.seen = [];
  socket.onAny((event, ...args) => socket.seen.push({ event, data: args[0] }));
  await new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); });
  return socket;
}

const login = (socket, name, room) => socket.timeout(10000).emitWithAck("login", { name, room });
const names = (users) => users.map((u) => u.name);

test("off by default: no guest namespace, and / still wants a token", async () => {
  await assert.rejects(guest(`${gwOff}/guest`), (err) => err.message === "Invalid namespace");
  await assert.rejects(guest(gwOff), (err) => /token/i.test(err.message));
});

test("login is validated; ping answers the socket id; nothing before login", async () => {
  const s = await guest(`${gwA}/guest`);
  const cases = [
    [{ room: "lobby" }, "name is required"],
    [{ name: "ann" }, "room is required"],
    [{ name: "x".repeat(33), room: "lobby" }, "name must be at most 32 characters"],
    [{ name: "<script>", room: "lobby" }, "name may hold only letters, digits, spaces, '_', '-' and '.'"],
    [{ name: " ann", room: "lobby" }, "name must not start or end with a space"],
    [{ name: "ann", room: "lob/by" }, "room may hold only letters, digits, spaces, '_', '-' and '.'"],
  ];
  for (const [payload, error] of cases) assert.deepEqual(await login(s, payload.name, payload.room), { error });
  assert.deepEqual(await s.timeout(5000).emitWithAck("roomMessage", "hi"), { error: "log in to a room first" });
  assert.deepEqual(await s.timeout(5000).emitWithAck("logout"), { error: "not logged in" });
  assert.equal(await s.timeout(5000).emitWithAck("ping"), s.id);
  assert.deepEqual(await s.timeout(5000).emitWithAck("nope"), { error: "unknown event 'nope'" });
  const ok = await login(s, "Ann Lee", "lobby 1");
  assert.deepEqual(ok, { user: { id: s.id, name: "Ann Lee", room: "lobby 1" } });
  assert.deepEqual(await login(s, "again", "lobby 1"), { error: "already logged in as Ann Lee; log out first" });
  assert.deepEqual(await s.timeout(5000).emitWithAck("logout"), undefined);
});

test("a room across two gateways: notification, users, roomMessage relayed as it came, logout", async () => {
  const room = `garden-${process.pid}`;
  const ann = await guest(`${gwA}/guest`);
  const ben = await guest(`${gwB}/guest`);
  await login(ann, "ann", room);
  await waitFor(ann, "users", (u) => names(u).includes("ann"));
  await login(ben, "ben", room);
  assert.deepEqual(await waitFor(ann, "notification"), { title: "Someone's here", description: "ben just entered the room" });
  assert.ok(!ben.seen.some((e) => e.event === "notification"), "the newcomer is not told of themself");
  for (const s of [ann, ben]) {
    const users = await waitFor(s, "users", (u) => u.length === 2);
    assert.deepEqual(users.map((u) => [u.name, u.room]), [["ann", room], ["ben", room]]);
    assert.equal(users[1].id, ben.id);
  }
  // The payload is opaque (here, as if end-to-end encrypted) and comes back as it went.
  const sealed = { iv: "q1w2e3", ct: "U2FsdGVkX1+abc/def==", n: [1, 2, 3] };
  assert.deepEqual(await ann.timeout(5000).emitWithAck("roomMessage", sealed), {});
  for (const s of [ann, ben]) {
    const got = await waitFor(s, "roomMessage");
    assert.deepEqual(got, { user: "ann", id: ann.id, text: sealed });
  }
  ben.emit("roomMessage", "plain text too");
  assert.equal((await waitFor(ann, "roomMessage", (m) => m.user === "ben")).text, "plain text too");

  assert.deepEqual(await ben.timeout(5000).emitWithAck("logout"), undefined);
  assert.deepEqual(await waitFor(ann, "notification", (n) => n.title === "Someone just left"), { title: "Someone just left", description: "ben just left the room" });
  await waitFor(ann, "users", (u) => u.length === 1 && u[0].name === "ann");
  ann.close();
});

test("a gateway killed with SIGKILL: its guests leave the room's list within the expiry", async () => {
  const room = `porch-${process.pid}`;
  const doomed = await stack.startGatewayProcess("gw-doomed", GUESTS);
  const carl = await guest(`${doomed.base}/guest`);
  const dana = await guest(`${gwA}/guest`);
  await login(carl, "carl", room);
  await login(dana, "dana", room);
  await waitFor(dana, "users", (u) => u.length === 2);
  doomed.child.kill("SIGKILL");
  assert.deepEqual(await waitFor(dana, "notification", (n) => n.title === "Someone just left", EXPIRY_MS + 6000), { title: "Someone just left", description: "carl just left the room" });
  await waitFor(dana, "users", (u) => u.length === 1 && u[0].name === "dana");
});

test("CHAT_GUEST_ROOMS=main: seed 003's client connects to / unchanged", async () => {
  const room = `hall-${process.pid}`;
  const eve = await guest(gwMain);
  const fay = await guest(gwMain);
  assert.deepEqual(await login(eve, "eve", room), { user: { id: eve.id, name: "eve", room } });
  await login(fay, "fay", room);
  fay.emit("roomMessage", "hi eve");
  assert.deepEqual(await waitFor(eve, "roomMessage"), { user: "fay", id: fay.id, text: "hi eve" });
});

test("rate limits apply to guests too", async () => {
  const gus = await guest(gwMain); /* the default limit: 20 per second, 40 at once */
  const answers = await Promise.all(Array.from({ length: 60 }, () => gus.timeout(10000).emitWithAck("ping")));
  const refused = answers.filter((a) => a?.error);
  assert.ok(refused.length >= 15, `only ${refused.length} of 60 refused`);
  assert.equal(refused[0].error, "too many events; slow down (see CHAT_RATE_LIMIT_PER_SEC)");
  assert.ok(gus.connected);
});
