// Read receipts end to end on the real stack (issue 6): watermarks moved by
// mark_as_read, PUT .../read and mark_message_read, every revert reason,
// unread counts, and isRead / readAt in history.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { Stack, connect, http, register, request, waitFor, sleep, mongoUri } from "./lib/stack.mjs";

const stack = new Stack("receipts");
let gwA, gwB, mongo, db;
const pid = process.pid;
const sockets = [];

before(async () => {
  await stack.startPersistence();
  await stack.startReceipts();
  gwA = await stack.startGateway("gw-a");
  gwB = await stack.startGateway("gw-b");
  mongo = new MongoClient(mongoUri);
  db = mongo.db(stack.database);
});

after(async () => {
  for (const s of sockets) s.close();
  await mongo?.close();
  await stack.stopAll();
});

async function open(base, user) {
  const socket = await connect(base, user.token);
  sockets.push(socket);
  return socket;
}

// alice sends n messages to bob; returns their ids (seq order) and the conversation.
async function chat(alice, bob, n, prefix = "m") {
  const ids = [];
  let conversationId;
  for (let i = 1; i <= n; i++) {
    const r = await http(gwA, "POST", "/api/chat/send", { token: alice.token, body: { receiverId: bob.id, content: `${prefix}${i}` } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    ids.push(r.body.data.id);
    conversationId = r.body.data.conversation_id;
  }
  return { ids, conversationId };
}

async function until(fn, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    assert.ok(Date.now() < deadline, `not within ${timeoutMs} ms: ${what}`);
    await sleep(100);
  }
}

const get = (user, path) => http(gwA, "GET", path, { token: user.token });

test("mark_as_read: the room hears messages_read, unread counts drop, history says isRead", async () => {
  const alice = await register(gwA, `alice_${pid}`);
  const bob = await register(gwB, `bob_${pid}`);
  const { conversationId } = await chat(alice, bob, 3);
  await chat(bob, alice, 1, "reply"); // bob's own message never counts as unread for bob

  // Unread counts come from each conversation's summary, which persistence
  // writes behind the messages (at most once per CHAT_SUMMARY_INTERVAL_MS).
  await until(async () => (await get(bob, "/api/chat/unread-count")).body.data.count === 3, "bob's unread count at 3");
  await until(async () => (await get(alice, "/api/chat/unread-count")).body.data.count === 1, "alice's unread count at 1");
  const unread = (await get(bob, "/api/chat/unread")).body.data;
  assert.equal(unread.conversations.length, 1);
  assert.equal(unread.conversations[0].conversationId, conversationId);
  assert.equal(unread.conversations[0].unreadCount, 3);
  assert.equal(unread.conversations[0].otherUser.id, alice.id);
  assert.equal(unread.conversations[0].otherUser.username, alice.username);
  let history = (await get(bob, `/api/chat/conversations/${conversationId}/messages`)).body.data.messages;
  assert.ok(history.every((m) => m.is_read === false && m.read_at === null), JSON.stringify(history));

  const aliceSocket = await open(gwA, alice);
  const bobSocket = await open(gwB, bob);
  await sleep(300); // rooms joined on connect
  assert.deepEqual(await request(bobSocket, "mark_as_read", { conversationId }), { ok: true, status: "accepted" });
  const read = await waitFor(aliceSocket, "messages_read", (r) => r.userId === bob.id);
  assert.deepEqual(Object.keys(read), ["conversationId", "userId", "lastReadSeq", "readAt"]);
  assert.equal(read.conversationId, conversationId);
  assert.equal(read.lastReadSeq, 4);
  await until(async () => (await get(bob, "/api/chat/unread-count")).body.data.count === 0, "bob's unread count at 0");
  assert.deepEqual((await get(bob, "/api/chat/unread")).body.data.conversations, []);

  // alice sees her three messages read, at bob's readAt; bob's reply, not yet.
  history = (await get(alice, `/api/chat/conversations/${conversationId}/messages`)).body.data.messages;
  assert.deepEqual(history.map((m) => [m.content, m.is_read]), [["m1", true], ["m2", true], ["m3", true], ["reply1", false]]);
  assert.equal(history[0].read_at, read.readAt);
  assert.equal(history[3].read_at, null);
  history = (await get(bob, `/api/chat/conversations/${conversationId}/messages`)).body.data.messages;
  assert.ok(history.slice(0, 3).every((m) => m.is_read), "bob has read alice's messages");

  // The REST way, seed 004: PUT .../read.
  const put = await http(gwA, "PUT", `/api/chat/conversations/${conversationId}/read`, { token: alice.token });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.success, true);
  assert.equal(put.body.data.conversationId, conversationId);
  assert.equal(put.body.data.lastReadSeq, 4);
  await waitFor(bobSocket, "messages_read", (r) => r.userId === alice.id && r.lastReadSeq === 4);
  assert.equal((await get(alice, "/api/chat/unread-count")).body.data.count, 0);
});

test("mark_as_read right after a burst reads up to the last message stored, not the summary's", async () => {
  const alice = await register(gwA, `alice_burst_${pid}`);
  const bob = await register(gwB, `bob_burst_${pid}`);
  const aliceSocket = await open(gwA, alice);
  const bobSocket = await open(gwB, bob);
  const { conversationId } = await chat(alice, bob, 1, "first");
  await waitFor(bobSocket, "message_notification", (n) => n.content === "first1");
  await waitFor(aliceSocket, "conversation_created", (c) => c.conversationId === conversationId); // her socket is in the room
  // Five more at once: the conversation's summary (lastSeq) trails them by
  // up to CHAT_SUMMARY_INTERVAL_MS, and bob marks read as the last arrives.
  for (let i = 1; i <= 5; i++) aliceSocket.emit("send_message", { conversationId, content: `burst${i}`, clientMsgId: `burst-${pid}-${i}` });
  await waitFor(bobSocket, "message_notification", (n) => n.content === "burst5");
  assert.deepEqual(await request(bobSocket, "mark_as_read", { conversationId }), { ok: true, status: "accepted" });
  const read = await waitFor(aliceSocket, "messages_read", (r) => r.userId === bob.id);
  assert.equal(read.lastReadSeq, 6, JSON.stringify(read));
  await until(async () => (await get(bob, "/api/chat/unread-count")).body.data.count === 0, "bob's unread count at 0");
});

test("mark_message_read: every refusal is reverted to the asking socket with its reason", async () => {
  const carol = await register(gwA, `carol_${pid}`);
  const dave = await register(gwA, `dave_${pid}`);
  const eve = await register(gwA, `eve_${pid}`);
  const { ids, conversationId } = await chat(carol, dave, 3);
  await db.collection("messages").updateOne({ _id: ids[1] }, { $set: { deletedAt: new Date() } }); // deleted (issue 7 deletes through the API)
  const daveSocket = await open(gwB, dave);
  const carolSocket = await open(gwA, carol);
  const eveSocket = await open(gwA, eve);
  const missing = "65f1a1aae4b0a1b2c3d4e7ff";
  const cases = [
    [daveSocket, missing, "message not found", "NOT_FOUND"],
    [daveSocket, ids[1], "message was deleted", "NOT_FOUND"],
    [carolSocket, ids[0], "cannot mark your own message as read", "INVALID_ARGUMENT"],
    [eveSocket, ids[0], "not a member of this conversation", "FORBIDDEN"],
  ];
  for (const [socket, messageId, reason, code] of cases) {
    assert.deepEqual(await request(socket, "mark_message_read", { messageId }), { ok: true, status: "accepted" });
    const reverted = await waitFor(socket, "message_read_reverted", (r) => r.messageId === messageId && r.reason === reason);
    assert.equal(reverted.code, code);
  }
  const bad = await request(daveSocket, "mark_message_read", { messageId: "nope" });
  assert.deepEqual(bad, { ok: false, error: { code: "INVALID_ARGUMENT", message: "messageId must be 24 hex digits" } });
  // Nothing moved for anyone.
  assert.equal(await db.collection("read_states").countDocuments({ conversationId }), 0);
  // A good one moves dave's watermark to its seq.
  await request(daveSocket, "mark_message_read", { messageId: ids[2] });
  const read = await waitFor(carolSocket, "messages_read", (r) => r.userId === dave.id);
  assert.equal(read.lastReadSeq, 3);
  const forbidden = await http(gwA, "PUT", `/api/chat/conversations/${conversationId}/read`, { token: eve.token });
  assert.equal(forbidden.status, 403);
  const malformed = await http(gwA, "PUT", "/api/chat/conversations/xyz/read", { token: eve.token });
  assert.equal(malformed.status, 400);
});

test("mark_message_read: the gateway's own refusals are reverted too (seed 000: every failure), beside the ack error", async () => {
  const hugo = await register(gwA, `hugo_${pid}`);
  const socket = await open(gwB, hugo);
  const cases = [
    [{ messageId: "nope" }, "nope", "messageId must be 24 hex digits"],
    [{ messageId: 42 }, "", "expected {messageId} as the first argument"],
    [{}, "", "expected {messageId} as the first argument"],
    ["not an object", "", "expected {messageId} as the first argument"],
    [{ messageId: "x".repeat(65) }, "", "messageId must be 24 hex digits"], // longer than the revert's schema allows: not echoed
  ];
  for (const [payload, messageId, reason] of cases) {
    socket.seen.length = 0;
    const ack = await request(socket, "mark_message_read", payload);
    assert.deepEqual(ack, { ok: false, error: { code: "INVALID_ARGUMENT", message: reason } }, JSON.stringify(payload));
    const reverted = await waitFor(socket, "message_read_reverted");
    assert.deepEqual(reverted, { messageId, reason, code: "INVALID_ARGUMENT" }, JSON.stringify(payload));
  }
  // Over the rate limit (burst 40): each refused one is reverted with its messageId.
  socket.seen.length = 0;
  const missing = "65f1a1aae4b0a1b2c3d4e7fe";
  const answers = await Promise.all(Array.from({ length: 60 }, () => request(socket, "mark_message_read", { messageId: missing })));
  const limited = answers.filter((a) => !a.ok);
  assert.ok(limited.length >= 15, `only ${limited.length} of 60 limited`);
  assert.ok(limited.every((a) => a.error.code === "RATE_LIMITED"), JSON.stringify(limited[0]));
  await sleep(300);
  const reverts = socket.seen.filter((e) => e.event === "message_read_reverted" && e.data.code === "RATE_LIMITED");
  assert.equal(reverts.length, limited.length, "one revert per refused event");
  assert.deepEqual(reverts[0].data, { messageId: missing, reason: "too many events; slow down (see CHAT_RATE_LIMIT_PER_SEC)", code: "RATE_LIMITED" });
});

test("the watermark never moves backwards; replays and two devices converge", async () => {
  const finn = await register(gwA, `finn_${pid}`);
  const gina = await register(gwB, `gina_${pid}`);
  const { ids, conversationId } = await chat(finn, gina, 5);
  const finnSocket = await open(gwA, finn);
  const phone = await open(gwA, gina);
  const laptop = await open(gwB, gina);
  await request(phone, "mark_message_read", { messageId: ids[3] });
  await waitFor(finnSocket, "messages_read", (r) => r.lastReadSeq === 4);
  await request(laptop, "mark_message_read", { messageId: ids[1] }); // older: no move
  await request(laptop, "mark_message_read", { messageId: ids[3] }); // replay: no move
  await Promise.all([
    request(phone, "mark_message_read", { messageId: ids[4] }),
    request(laptop, "mark_message_read", { messageId: ids[4] }),
  ]);
  await waitFor(finnSocket, "messages_read", (r) => r.lastReadSeq === 5);
  await sleep(1000);
  const moves = finnSocket.seen.filter((e) => e.event === "messages_read" && e.data.userId === gina.id).map((e) => e.data.lastReadSeq);
  assert.deepEqual(moves, [4, 5], "one messages_read per move, none backwards or repeated");
  const state = await db.collection("read_states").findOne({ conversationId, userId: gina.id });
  assert.equal(state.lastReadSeq, 5);
});
