// Messaging end to end on the real stack (issue 4): two gateways and two
// persistence processes against one Kafka and one FerretDB, clients on
// unmodified socket.io-client playing seed 004's frontend flow, the sender
// on gateway A and the receiver on gateway B.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { MongoClient } from "mongodb";
import { Stack, connect, http, register, request, waitFor, sleep, mongoUri, brokers } from "./lib/stack.mjs";

// Short group timeouts: a killed persistence process's partitions move in seconds.
const stack = new Stack("messaging", {
  CHAT_KAFKA_CONFIG: "session.timeout.ms=6000,heartbeat.interval.ms=500",
});
let gwA, gwB, gwLimited, mongo, db;
const persistence = {};
const sockets = [];
const pid = process.pid;

before(async () => {
  persistence["persistence-1"] = await stack.startPersistence({ CHAT_INSTANCE_ID: "persistence-1" });
  persistence["persistence-2"] = await stack.startPersistence({ CHAT_INSTANCE_ID: "persistence-2" });
  const fast = { CHAT_RATE_LIMIT_PER_SEC: "2000", CHAT_RATE_LIMIT_BURST: "2000" };
  gwA = await stack.startGateway("gw-a", fast);
  gwB = await stack.startGateway("gw-b", fast);
  gwLimited = await stack.startGateway("gw-limited"); /* the default rate limit */
  mongo = new MongoClient(mongoUri);
  db = mongo.db(stack.database);
});

after(async () => {
  for (const s of sockets) s.close();
  await mongo?.close();
  await stack.stopAll();
});

async function open(base, user, auth) {
  const socket = await connect(base, user.token, auth);
  sockets.push(socket);
  return socket;
}

test("seed 004 flow across two gateways: first message opens the conversation, then join, send, typing, notification", async () => {
  const alice = await register(gwA, `alice_${pid}`);
  const bob = await register(gwB, `bob_${pid}`);
  const aliceSocket = await open(gwA, alice);
  const bobPhone = await open(gwB, bob);
  const bobLaptop = await open(gwA, bob);

  // A first message to a user opens their direct conversation.
  const first = await request(aliceSocket, "send_message", { receiverId: bob.id, content: "hi bob", clientMsgId: "m1" });
  assert.equal(first.ok, true, JSON.stringify(first));
  assert.equal(first.status, "accepted");
  assert.equal(first.clientMsgId, "m1");
  assert.match(first.conversationId, /^[0-9a-f]{24}$/);
  const conversationId = first.conversationId;
  const persisted = await waitFor(aliceSocket, "message_ack", (a) => a.status === "persisted" && a.clientMsgId === "m1");
  assert.equal(persisted.seq, 1);
  assert.match(persisted.messageId, /^[0-9a-f]{24}$/);
  await waitFor(aliceSocket, "message_ack", (a) => a.status === "accepted" && a.clientMsgId === "m1");

  for (const s of [bobPhone, bobLaptop]) {
    const created = await waitFor(s, "conversation_created", (c) => c.conversationId === conversationId);
    assert.equal(created.kind, "direct");
    assert.deepEqual(created.participants.map((p) => p.id).sort(), [alice.id, bob.id].sort());
    const note = await waitFor(s, "message_notification", (n) => n.conversationId === conversationId);
    assert.deepEqual(note.from, { id: alice.id, username: alice.username });
    assert.equal(note.content, "hi bob");
    assert.match(note.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }

  // The rooms were joined live: both may now open the conversation.
  assert.deepEqual(await request(bobPhone, "join_conversation", { conversationId }), { ok: true });
  assert.deepEqual(await request(aliceSocket, "join_conversation", { conversationId }), { ok: true });
  await waitFor(bobPhone, "user_joined", (j) => j.userId === alice.id);

  const second = await request(aliceSocket, "send_message", { conversationId, content: "how are you? 😀", clientMsgId: "m2", attachmentUrl: "https://example.com/a.jpg" });
  assert.equal(second.ok, true, JSON.stringify(second));
  const message = await waitFor(bobPhone, "new_message", (m) => m.content === "how are you? 😀");
  assert.deepEqual(Object.keys(message), ["id", "senderId", "receiverId", "conversationId", "content", "attachmentUrl", "isRead", "createdAt", "sender", "seq"]);
  assert.equal(message.senderId, alice.id);
  assert.equal(message.receiverId, bob.id);
  assert.equal(message.conversationId, conversationId);
  assert.equal(message.attachmentUrl, "https://example.com/a.jpg");
  assert.equal(message.isRead, false);
  assert.equal(message.seq, 2);
  assert.deepEqual(message.sender, { id: alice.id, username: alice.username });
  // The sender's own open socket gets it too; the laptop, without it open, a notification.
  await waitFor(aliceSocket, "new_message", (m) => m.seq === 2);
  await waitFor(bobLaptop, "message_notification", (n) => n.content === "how are you? 😀");
  assert.ok(!bobLaptop.seen.some((e) => e.event === "new_message"), "a socket without the conversation open got new_message");

  // Typing reaches the other open sockets, not the sender's own.
  assert.deepEqual(await request(bobPhone, "typing", { conversationId }), { ok: true });
  assert.deepEqual(await waitFor(aliceSocket, "user_typing"), { userId: bob.id, conversationId });
  assert.deepEqual(await request(bobPhone, "stop_typing", { conversationId }), { ok: true });
  await waitFor(aliceSocket, "user_stopped_typing", (t) => t.userId === bob.id);

  // Reply the other way, gateway B to gateway A.
  assert.equal((await request(bobPhone, "send_message", { conversationId, content: "fine", clientMsgId: "b1" })).ok, true);
  const reply = await waitFor(aliceSocket, "new_message", (m) => m.content === "fine");
  assert.equal(reply.seq, 3);
  assert.equal(reply.receiverId, alice.id);

  // Stored once each, with the conversation's last message moved.
  const stored = await db.collection("messages").find({ conversationId }).sort({ seq: 1 }).toArray();
  assert.deepEqual(stored.map((m) => [m.seq, m.content]), [[1, "hi bob"], [2, "how are you? 😀"], [3, "fine"]]);
  const conversation = await db.collection("conversations").findOne({ _id: conversationId });
  assert.equal(conversation.lastMessage, "fine");
  assert.equal(conversation.lastSeq, 3);
});

test("two users sending their first message at the same moment share one conversation", async () => {
  const carol = await register(gwA, `carol_${pid}`);
  const dave = await register(gwB, `dave_${pid}`);
  const carolSocket = await open(gwA, carol);
  const daveSocket = await open(gwB, dave);
  const [c, d] = await Promise.all([
    request(carolSocket, "send_message", { receiverId: dave.id, content: "hello dave", clientMsgId: "c1" }),
    request(daveSocket, "send_message", { receiverId: carol.id, content: "hello carol", clientMsgId: "d1" }),
  ]);
  assert.equal(c.ok && d.ok, true);
  assert.equal(c.conversationId, d.conversationId);
  const acks = await Promise.all([
    waitFor(carolSocket, "message_ack", (a) => a.status === "persisted"),
    waitFor(daveSocket, "message_ack", (a) => a.status === "persisted"),
  ]);
  assert.deepEqual(acks.map((a) => a.seq).sort(), [1, 2]);
  assert.equal(await db.collection("conversations").countDocuments({ participants: { $all: [carol.id, dave.id] } }), 1);
  assert.equal(await db.collection("members").countDocuments({ conversationId: c.conversationId }), 2);
});

test("a resent message (same clientMsgId) is stored once and acked with the same id and seq", async () => {
  const erin = await register(gwA, `erin_${pid}`);
  const frank = await register(gwB, `frank_${pid}`);
  const erinSocket = await open(gwA, erin);
  const payload = { receiverId: frank.id, content: "only once", clientMsgId: "dup-1" };
  const first = await request(erinSocket, "send_message", payload);
  const firstAck = await waitFor(erinSocket, "message_ack", (a) => a.status === "persisted");
  erinSocket.seen.length = 0;
  const again = await request(erinSocket, "send_message", payload);
  assert.equal(again.conversationId, first.conversationId);
  const againAck = await waitFor(erinSocket, "message_ack", (a) => a.status === "persisted");
  assert.equal(againAck.messageId, firstAck.messageId);
  assert.equal(againAck.seq, firstAck.seq);
  assert.equal(await db.collection("messages").countDocuments({ conversationId: first.conversationId }), 1);
});

test("bad input gets a precise ack error and nobody else notices", async () => {
  const gina = await register(gwA, `gina_${pid}`);
  const hank = await register(gwB, `hank_${pid}`);
  const ginaSocket = await open(gwA, gina);
  const hankSocket = await open(gwB, hank);
  const strangers = "65f1a0d9e4b0a1b2c3d4e6ff";
  const cases = [
    ["send_message", "not an object", "INVALID_ARGUMENT", /expected \{conversationId \| receiverId, content, clientMsgId\}/],
    ["send_message", { receiverId: hank.id, clientMsgId: "x" }, "INVALID_ARGUMENT", /^content is required and must be a string$/],
    ["send_message", { receiverId: hank.id, content: "", clientMsgId: "x" }, "INVALID_ARGUMENT", /^content must not be empty$/],
    ["send_message", { receiverId: hank.id, content: "x".repeat(10001), clientMsgId: "x" }, "TOO_LARGE", /CHAT_MAX_CONTENT_BYTES/],
    ["send_message", { content: "hi", clientMsgId: "x" }, "INVALID_ARGUMENT", /^conversationId or receiverId is required$/],
    ["send_message", { conversationId: "42", content: "hi" }, "INVALID_ARGUMENT", /^conversationId must be 24 hex digits$/],
    ["send_message", { receiverId: { $gt: "" }, content: "hi" }, "INVALID_ARGUMENT", /^receiverId must be 24 hex digits$/],
    ["send_message", { receiverId: gina.id, content: "hi" }, "INVALID_ARGUMENT", /^cannot send a message to yourself$/],
    ["send_message", { conversationId: strangers, content: "hi" }, "FORBIDDEN", /^not a member of this conversation$/],
    ["send_message", { receiverId: hank.id, content: "hi", attachmentUrl: "javascript:alert(1)" }, "INVALID_ARGUMENT", /attachmentUrl must be an http\(s\) URL/],
    ["send_message", { receiverId: hank.id, content: "hi", clientMsgId: "x".repeat(129) }, "INVALID_ARGUMENT", /clientMsgId must be a string of 1 to 128/],
    ["join_conversation", { conversationId: strangers }, "FORBIDDEN", /^not a member of this conversation$/],
    ["no_such_event", {}, "UNKNOWN_EVENT", /^unknown event 'no_such_event'$/],
  ];
  for (const [event, payload, code, message] of cases) {
    const answer = await request(ginaSocket, event, payload);
    assert.equal(answer.ok, false, `${event} ${JSON.stringify(payload)}`);
    assert.equal(answer.error.code, code, `${event} ${JSON.stringify(payload)}: ${answer.error.message}`);
    assert.match(answer.error.message, message);
  }
  // A receiver that does not exist: refused by persistence, in the ack event.
  const ghost = "65f1a0c2e4b0a1b2c3d4e5aa";
  const accepted = await request(ginaSocket, "send_message", { receiverId: ghost, content: "anyone?", clientMsgId: "ghost-1" });
  assert.equal(accepted.ok, true);
  const refused = await waitFor(ginaSocket, "message_ack", (a) => a.clientMsgId === "ghost-1" && a.status === "rejected");
  assert.deepEqual(refused.error, { code: "NOT_FOUND", message: "no user with this receiverId" });
  assert.equal(await db.collection("conversations").countDocuments({ participants: ghost }), 0);

  // The socket still works, and so does everyone else's.
  assert.equal((await request(ginaSocket, "send_message", { receiverId: hank.id, content: "still here", clientMsgId: "ok-1" })).ok, true);
  await waitFor(hankSocket, "message_notification", (n) => n.content === "still here");
  assert.ok(ginaSocket.connected && hankSocket.connected);
});

test("flooding hits the per-connection rate limit with RATE_LIMITED, then recovers", async () => {
  const ivan = await register(gwA, `ivan_${pid}`);
  const socket = await open(gwLimited, ivan);
  const answers = await Promise.all(Array.from({ length: 60 }, () => request(socket, "join_personal_room", {})));
  const limited = answers.filter((a) => !a.ok);
  assert.ok(limited.length >= 60 - 40 - 5, `only ${limited.length} of 60 limited (burst 40)`);
  assert.deepEqual(limited[0].error.code, "RATE_LIMITED");
  await sleep(1000);
  assert.deepEqual(await request(socket, "join_personal_room", {}), { ok: true });
  assert.ok(socket.connected);
});

// The persistence instance that stored messages of a conversation, read
// from the source of message.created on chat.events with kcat.
function writerOf(conversationId) {
  const out = execFileSync("kcat", ["-C", "-b", brokers, "-t", `${stack.prefix}chat.events`, "-o", "beginning", "-e", "-q", "-f", "%k %s\\n"], { encoding: "utf8" });
  const line = out.split("\n").find((l) => l.startsWith(conversationId + " ") && l.includes('"type":"message.created"'));
  assert.ok(line, `no message.created for ${conversationId} on chat.events`);
  return JSON.parse(line.slice(conversationId.length + 1)).source.split("/")[1];
}

test("SIGKILL of the persistence process that owns a conversation: every accepted message is stored exactly once and delivered", async () => {
  const jack = await register(gwA, `jack_${pid}`);
  const kate = await register(gwB, `kate_${pid}`);
  const jackSocket = await open(gwA, jack);
  const kateSocket = await open(gwB, kate);
  const opened = await request(jackSocket, "send_message", { receiverId: kate.id, content: "m-0", clientMsgId: "k-0" });
  const conversationId = opened.conversationId;
  await waitFor(jackSocket, "message_ack", (a) => a.clientMsgId === "k-0" && a.status === "persisted");
  await waitFor(kateSocket, "conversation_created");
  assert.deepEqual(await request(kateSocket, "join_conversation", { conversationId }), { ok: true });
  const owner = writerOf(conversationId);

  const total = 300;
  const accepted = [];
  for (let i = 1; i <= total; i++) {
    if (i === 100) persistence[owner].kill("SIGKILL"); /* mid-stream, with records in flight */
    const ack = await request(jackSocket, "send_message", { conversationId, content: `m-${i}`, clientMsgId: `k-${i}` });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    accepted.push(`k-${i}`);
  }
  // The survivor takes the partition over after the group's session timeout.
  const deadline = Date.now() + 90000;
  const persistedIds = () => new Set(jackSocket.seen.filter((e) => e.event === "message_ack" && e.data.status === "persisted").map((e) => e.data.clientMsgId));
  while (persistedIds().size < total + 1) {
    assert.ok(Date.now() < deadline, `only ${persistedIds().size} of ${total + 1} persisted after the kill`);
    await sleep(200);
  }
  const stored = await db.collection("messages").find({ conversationId }).toArray();
  assert.equal(stored.length, total + 1, "stored twice or lost");
  assert.deepEqual(stored.map((m) => m.seq).sort((a, b) => a - b), Array.from({ length: total + 1 }, (_, i) => i + 1));
  assert.equal(new Set(stored.map((m) => m.clientMsgId)).size, total + 1);
  // Delivered: every message reached the receiver (at least once; clients drop repeats by id).
  const delivered = new Set(kateSocket.seen.filter((e) => e.event === "new_message").map((e) => e.data.content));
  for (let i = 1; i <= total; i++) assert.ok(delivered.has(`m-${i}`), `m-${i} not delivered`);
  // Seqs follow the order the sender sent in.
  const bySeq = stored.sort((a, b) => a.seq - b.seq).map((m) => m.content);
  assert.deepEqual(bySeq, Array.from({ length: total + 1 }, (_, i) => `m-${i}`));
});
