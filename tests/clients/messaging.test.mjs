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


// Polls fn until it holds: for what persistence writes behind the messages
// (a conversation's summary), which trails them by up to
// CHAT_SUMMARY_INTERVAL_MS and one write.
async function settles(fn, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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

  // Seed 002: bob answered alice within 24 hours of her first unanswered
  // message: one replied.in.24hr.first on chat.events, for that message.
  const replied = await eventsOf(conversationId, "replied.in.24hr.first", 1);
  assert.equal(replied.length, 1);
  assert.equal(replied[0].payload.replierId, bob.id);
  assert.equal(replied[0].payload.originalSenderId, alice.id);
  assert.equal(replied[0].payload.originalMessageId, persisted.messageId);
  assert.equal(replied[0].payload.replyMessageId, reply.id);

  // Stored once each, with the conversation's last message moved.
  const stored = await db.collection("messages").find({ conversationId }).sort({ seq: 1 }).toArray();
  assert.deepEqual(stored.map((m) => [m.seq, m.content]), [[1, "hi bob"], [2, "how are you? 😀"], [3, "fine"]]);
  let conversation;
  await settles(async () => {
    conversation = await db.collection("conversations").findOne({ _id: conversationId });
    return conversation.lastSeq === 3;
  }, "the conversation's summary to reach seq 3");
  assert.equal(conversation.lastMessage, "fine");
  assert.equal(conversation.lastSeq, 3);
});

test("a connect storm: every socket joins its conversations (more sockets than the work queue holds)", async () => {
  const kim = await register(gwA, `kim_${pid}`);
  const lea = await register(gwB, `lea_${pid}`);
  const kimSocket = await open(gwA, kim);
  const first = await request(kimSocket, "send_message", { receiverId: lea.id, content: "before the storm", clientMsgId: "s1" });
  await waitFor(kimSocket, "message_ack", (a) => a.status === "persisted" && a.clientMsgId === "s1");
  // 1000 devices of lea's at once on one gateway: each must look its rooms
  // up, more at once than the 256 jobs the gateway's work queue admits.
  const devices = await Promise.all(Array.from({ length: 1000 }, () => open(gwB, lea)));
  await sleep(2000); /* the lookups run after CONNECT */
  assert.equal((await request(kimSocket, "send_message", { conversationId: first.conversationId, content: "after the storm", clientMsgId: "s2" })).ok, true);
  const missing = [];
  await Promise.all(devices.map((d, i) =>
    waitFor(d, "message_notification", (n) => n.content === "after the storm").catch(() => missing.push(i))));
  assert.deepEqual(missing, [], `${missing.length} of 1000 sockets were not in the conversation's room`);
  for (const d of devices) d.close();
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

test("nobody listens in: a send naming someone else's conversation beside a receiverId is refused and joins no room", async () => {
  const rosa = await register(gwA, `rhea_${pid}`);
  const sven = await register(gwB, `sven_${pid}`);
  const mallory = await register(gwA, `mallory_${pid}`);
  const rosaSocket = await open(gwA, rosa);
  const svenSocket = await open(gwB, sven);
  const opened = await request(rosaSocket, "send_message", { receiverId: sven.id, content: "just us", clientMsgId: "r-1" });
  const conversationId = opened.conversationId;
  await waitFor(rosaSocket, "message_ack", (a) => a.clientMsgId === "r-1" && a.status === "persisted");
  await waitFor(svenSocket, "conversation_created", (c) => c.conversationId === conversationId);
  assert.deepEqual(await request(rosaSocket, "join_conversation", { conversationId }), { ok: true });
  assert.deepEqual(await request(svenSocket, "join_conversation", { conversationId }), { ok: true });

  // Mallory, on both gateways, names their conversation beside a receiverId.
  const spies = [await open(gwA, mallory), await open(gwB, mallory)];
  for (const [i, spy] of spies.entries()) {
    const answer = await request(spy, "send_message", { receiverId: sven.id, conversationId, content: "let me listen", clientMsgId: `spy-${i}` });
    assert.equal(answer.ok, false, JSON.stringify(answer));
    assert.equal(answer.error.code, "INVALID_ARGUMENT");
    assert.equal(answer.error.message, "conversationId is not the direct conversation with receiverId");
  }
  const rest = await http(gwA, "POST", "/api/chat/send", { token: mallory.token, body: { receiverId: sven.id, conversationId, content: "let me listen" } });
  assert.equal(rest.status, 400, JSON.stringify(rest.body));
  await sleep(500); /* were a join granted, it would be in by now */
  for (const spy of spies) {
    assert.equal((await request(spy, "join_conversation", { conversationId })).error?.code, "FORBIDDEN");
    assert.equal((await request(spy, "typing", { conversationId })).error?.code, "FORBIDDEN");
  }

  // The members talk both ways, with typing; mallory hears none of it.
  await request(rosaSocket, "typing", { conversationId });
  assert.equal((await request(rosaSocket, "send_message", { conversationId, content: "secret 1", clientMsgId: "r-2" })).ok, true);
  assert.equal((await request(svenSocket, "send_message", { conversationId, content: "secret 2", clientMsgId: "s-1" })).ok, true);
  await waitFor(svenSocket, "new_message", (m) => m.content === "secret 1");
  await waitFor(rosaSocket, "new_message", (m) => m.content === "secret 2");
  await waitFor(svenSocket, "user_typing", (t) => t.userId === rosa.id);
  await sleep(500);
  for (const spy of spies) {
    const heard = spy.seen.filter((e) => JSON.stringify(e.data ?? null).includes(conversationId));
    assert.deepEqual(heard, [], "an outsider received events of the conversation");
  }
  // Mallory's own, honest first message to sven still works, in a conversation of its own.
  const own = await request(spies[0], "send_message", { receiverId: sven.id, content: "hello sven", clientMsgId: "m-own" });
  assert.equal(own.ok, true);
  assert.notEqual(own.conversationId, conversationId);
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

// The chat.events envelopes of type about a conversation (its key), read
// with kcat; waits until at least `atLeast` are there.
async function eventsOf(conversationId, type, atLeast) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const out = execFileSync("kcat", ["-C", "-b", brokers, "-t", `${stack.prefix}chat.events`, "-o", "beginning", "-e", "-q", "-f", "%k %s\\n"], { encoding: "utf8" });
    const found = out.split("\n").filter((l) => l.startsWith(conversationId + " "))
      .map((l) => JSON.parse(l.slice(conversationId.length + 1))).filter((e) => e.type === type);
    if (found.length >= atLeast || Date.now() > deadline) return found;
    await sleep(200);
  }
}

// The persistence instance that stored messages of a conversation, read
// from the source of message.created on chat.events with kcat.
function writerOf(conversationId) {
  const out = execFileSync("kcat", ["-C", "-b", brokers, "-t", `${stack.prefix}chat.events`, "-o", "beginning", "-e", "-q", "-f", "%k %s\\n"], { encoding: "utf8" });
  const line = out.split("\n").find((l) => l.startsWith(conversationId + " ") && l.includes('"type":"message.created"'));
  assert.ok(line, `no message.created for ${conversationId} on chat.events`);
  return JSON.parse(line.slice(conversationId.length + 1)).source.split("/")[1];
}

test("a backlog over many conversations with resent messages among new ones: each stored once, seqs without a gap, in the order sent", async () => {
  // Persistence is stopped while the sends pile up in Kafka, so that it
  // takes them in runs of hundreds over several conversations: such a run
  // goes into the store in parts at once, one part per group of
  // conversations, and the resent messages are refused as duplicates in
  // the middle of each part.
  const ursula = await register(gwA, `ursula_${pid}`);
  const ursulaSocket = await open(gwA, ursula);
  const conversations = [];
  for (let c = 0; c < 6; c++) {
    const peer = await register(gwB, `ursulapeer${c}_${pid}`);
    const opened = await request(ursulaSocket, "send_message", { receiverId: peer.id, content: `c${c}-m-0`, clientMsgId: `c${c}-k-0` });
    assert.equal(opened.ok, true, JSON.stringify(opened));
    conversations.push(opened.conversationId);
  }
  const persistedAcks = (id) => ursulaSocket.seen.filter((e) => e.event === "message_ack" && e.data.status === "persisted" && e.data.clientMsgId === id);
  const waitPersisted = async (ids, times) => {
    const deadline = Date.now() + 60000;
    for (;;) {
      const missing = ids.filter((id) => persistedAcks(id).length < times);
      if (missing.length === 0) return;
      assert.ok(Date.now() < deadline, `${missing.length} not persisted ${times} time(s), e.g. ${missing[0]}`);
      await sleep(100);
    }
  };
  await waitPersisted(conversations.map((_, c) => `c${c}-k-0`), 1);
  const per = 60;
  const pile = async (sends) => {
    for (const p of Object.values(persistence)) p.kill("SIGSTOP");
    try {
      for (const [c, i] of sends) {
        const ack = await request(ursulaSocket, "send_message", { conversationId: conversations[c], content: `c${c}-m-${i}`, clientMsgId: `c${c}-k-${i}` });
        assert.equal(ack.ok, true, JSON.stringify(ack));
      }
    } finally {
      for (const p of Object.values(persistence)) p.kill("SIGCONT");
    }
  };
  const first = [], second = [];
  for (let i = 1; i <= per; i++) for (let c = 0; c < conversations.length; c++) first.push([c, i]);
  await pile(first);
  const firstIds = first.map(([c, i]) => `c${c}-k-${i}`);
  await waitPersisted(firstIds, 1);
  const seqOf = new Map(firstIds.map((id) => [id, persistedAcks(id)[0].data.seq]));
  // Each resent one beside a new one, conversation after conversation.
  for (let i = 1; i <= per; i++) for (let c = 0; c < conversations.length; c++) second.push([c, i], [c, per + i]);
  await pile(second);
  await waitPersisted(firstIds, 2);
  await waitPersisted(second.filter(([, i]) => i > per).map(([c, i]) => `c${c}-k-${i}`), 1);
  for (const id of firstIds) assert.equal(persistedAcks(id)[1].data.seq, seqOf.get(id), `${id} was acked again with another seq`);
  for (let c = 0; c < conversations.length; c++) {
    const stored = await db.collection("messages").find({ conversationId: conversations[c] }).toArray();
    assert.equal(stored.length, 2 * per + 1, `conversation ${c}: stored twice or lost`);
    stored.sort((a, b) => a.seq - b.seq);
    assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: 2 * per + 1 }, (_, i) => i + 1), `conversation ${c}: a seq gap`);
    assert.deepEqual(stored.map((m) => m.content), Array.from({ length: 2 * per + 1 }, (_, i) => `c${c}-m-${i}`), `conversation ${c}: not in the order sent`);
  }
});

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

test("REST (seed 004): send answers once stored; conversations newest first; history by page and by seq cursor", async () => {
  const lena = await register(gwA, `lena_${pid}`);
  const mike = await register(gwB, `mike_${pid}`);
  const nora = await register(gwB, `nora_${pid}`);
  const mikeSocket = await open(gwB, mike);

  const sent = await http(gwA, "POST", "/api/chat/send", { token: lena.token, body: { receiverId: mike.id, content: "via REST", attachmentUrl: "https://example.com/x.png" } });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  assert.equal(sent.body.success, true);
  assert.equal(sent.body.message, "Message sent");
  const m = sent.body.data;
  assert.equal(m.sender_id, lena.id);
  assert.equal(m.receiver_id, mike.id);
  assert.equal(m.content, "via REST");
  assert.equal(m.attachment_url, "https://example.com/x.png");
  assert.equal(m.is_read, false);
  assert.equal(m.seq, 1);
  assert.deepEqual(m.sender, { id: lena.id, username: lena.username });
  const conversationId = m.conversation_id;
  await waitFor(mikeSocket, "message_notification", (n) => n.content === "via REST");

  for (let i = 2; i <= 12; i++) {
    const r = await http(gwB, "POST", "/api/chat/send", { token: mike.token, body: { conversationId, content: `n${i}`, clientMsgId: `rest-${i}` } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.data.seq, i);
  }
  // A newer conversation of lena's, with nora: listed first.
  assert.equal((await http(gwA, "POST", "/api/chat/send", { token: nora.token, body: { receiverId: lena.id, content: "newest" } })).status, 201);

  // The list reads each conversation's summary, which persistence writes
  // behind the messages, at most once per CHAT_SUMMARY_INTERVAL_MS (1 s)
  // a conversation: it catches up within that and one write.
  let list;
  await settles(async () => {
    list = await http(gwA, "GET", "/api/chat/conversations?page=1&limit=20", { token: lena.token });
    return list.body.data?.conversations?.[1]?.last_message === "n12";
  }, "the conversation list to show n12");
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.equal(list.body.data.total, 2);
  assert.equal(list.body.data.page, 1);
  assert.equal(list.body.data.totalPages, 1);
  const [newest, older] = list.body.data.conversations;
  assert.equal(newest.last_message, "newest");
  assert.equal(older.id, conversationId);
  assert.equal(older.last_message, "n12");
  assert.equal(older.lastSeq, 12);
  assert.deepEqual(older.participants.map((p) => p.username).sort(), [lena.username, mike.username].sort());
  assert.ok([older.participant_1_id, older.participant_2_id].includes(mike.id));
  const secondPage = await http(gwA, "GET", "/api/chat/conversations?page=2&limit=1", { token: lena.token });
  assert.equal(secondPage.body.data.conversations[0].id, conversationId);
  assert.equal(secondPage.body.data.totalPages, 2);

  // Pages: the newest page first, oldest first within it.
  const page1 = await http(gwA, "GET", `/api/chat/conversations/${conversationId}/messages?page=1&limit=5`, { token: lena.token });
  assert.equal(page1.status, 200, JSON.stringify(page1.body));
  assert.deepEqual(page1.body.data.messages.map((x) => x.seq), [8, 9, 10, 11, 12]);
  assert.equal(page1.body.data.total, 12);
  assert.equal(page1.body.data.totalPages, 3);
  assert.equal(page1.body.data.hasMore, true);
  const page3 = await http(gwA, "GET", `/api/chat/conversations/${conversationId}/messages?page=3&limit=5`, { token: lena.token });
  assert.deepEqual(page3.body.data.messages.map((x) => x.seq), [1, 2]);
  // Cursors: before (infinite scroll up) and after (catching up).
  const before = await http(gwA, "GET", `/api/chat/conversations/${conversationId}/messages?before=8&limit=3`, { token: lena.token });
  assert.deepEqual(before.body.data.messages.map((x) => x.seq), [5, 6, 7]);
  const after = await http(gwA, "GET", `/api/chat/conversations/${conversationId}/messages?after=9&limit=50`, { token: lena.token });
  assert.deepEqual(after.body.data.messages.map((x) => x.seq), [10, 11, 12]);
  assert.equal(after.body.data.hasMore, false);

  // Seed 002: the 1-1 details and messages by the other user's id.
  const details = await http(gwA, "POST", `/api/v1/chat/convo/one-to-one?otherUserId=${mike.id}`, { token: lena.token });
  assert.equal(details.status, 200, JSON.stringify(details.body));
  assert.equal(details.body.data.conversation.id, conversationId);
  assert.equal(details.body.data.conversation.exists, true);
  assert.equal(details.body.data.otherUser.id, mike.id);
  assert.equal(details.body.data.otherUser.username, mike.username);
  assert.equal(typeof details.body.data.otherUser.isOnline, "boolean"); /* presence.test.mjs checks its value */
  const recent = await http(gwA, "GET", `/api/v1/chat/convo/one-to-one/message?otherUserId=${mike.id}`, { token: lena.token });
  assert.deepEqual(recent.body.data.messages.map((x) => x.seq), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const earlier = await http(gwA, "GET", `/api/v1/chat/convo/one-to-one/message?otherUserId=${mike.id}&from=3&limit=10`, { token: lena.token });
  assert.deepEqual(earlier.body.data.messages.map((x) => x.seq), [1, 2]);
  const notYet = await http(gwA, "POST", `/api/v1/chat/convo/one-to-one?otherUserId=${nora.id}`, { token: mike.token });
  assert.equal(notYet.body.data.conversation.exists, false);
});

test("REST refuses what the user may not see or do, with precise errors", async () => {
  const olga = await register(gwA, `olga_${pid}`);
  const pete = await register(gwA, `pete_${pid}`);
  const quin = await register(gwA, `quin_${pid}`);
  const opened = await http(gwA, "POST", "/api/chat/send", { token: olga.token, body: { receiverId: pete.id, content: "private" } });
  const conversationId = opened.body.data.conversation_id;
  const cases = [
    [quin.token, "GET", `/api/chat/conversations/${conversationId}/messages`, undefined, 403, "FORBIDDEN"],
    [quin.token, "POST", "/api/chat/send", { conversationId, content: "let me in" }, 403, "FORBIDDEN"],
    [olga.token, "GET", "/api/chat/conversations/not-an-id/messages", undefined, 400, "INVALID_ARGUMENT"],
    [olga.token, "GET", `/api/chat/conversations/${conversationId}/messages?limit=1000`, undefined, 400, "INVALID_ARGUMENT"],
    [olga.token, "GET", `/api/chat/conversations/${conversationId}/messages?page=abc`, undefined, 400, "INVALID_ARGUMENT"],
    [olga.token, "GET", "/api/chat/conversations/65f1a0d9e4b0a1b2c3d4e6ff/messages", undefined, 403, "FORBIDDEN"],
    [olga.token, "POST", "/api/chat/send", { content: "to nobody" }, 400, "INVALID_ARGUMENT"],
    [olga.token, "POST", "/api/chat/send", { receiverId: pete.id, content: "x".repeat(10001) }, 413, "TOO_LARGE"],
    [olga.token, "POST", "/api/chat/send", { receiverId: "65f1a0c2e4b0a1b2c3d4e5aa", content: "ghost" }, 404, "NOT_FOUND"],
    [olga.token, "POST", "/api/v1/chat/convo/one-to-one?otherUserId=65f1a0c2e4b0a1b2c3d4e5aa", undefined, 404, "NOT_FOUND"],
    [olga.token, "POST", `/api/v1/chat/convo/one-to-one?otherUserId=${olga.id}`, undefined, 400, "INVALID_ARGUMENT"],
    [olga.token, "GET", "/api/v1/chat/convo/one-to-one/message", undefined, 400, "INVALID_ARGUMENT"],
    [undefined, "GET", "/api/chat/conversations", undefined, 401, "UNAUTHORIZED"],
    ["not.a.token", "POST", "/api/chat/send", { receiverId: pete.id, content: "x" }, 401, "UNAUTHORIZED"],
  ];
  for (const [token, method, path, body, status, code] of cases) {
    const res = await http(gwA, method, path, { token, body });
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.success, false);
    assert.equal(res.body.error.code, code, `${method} ${path}`);
  }
  const bad = await http(gwA, "POST", "/api/chat/send", { token: olga.token, body: "{nope", raw: true });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "BAD_JSON");
});

test("resume: reconnecting to the other gateway with lastSeqs replays what was missed, in order, then live, with no repeats", async () => {
  const rosa = await register(gwA, `rosa_${pid}`);
  const sam = await register(gwB, `sam_${pid}`);
  const rosaSocket = await open(gwA, rosa);
  const opened = await request(rosaSocket, "send_message", { receiverId: sam.id, content: "r-1", clientMsgId: "r-1" });
  const conversationId = opened.conversationId;
  // By conversationId once persistence said the socket is in (the join of the persisted ack).
  await waitFor(rosaSocket, "message_ack", (a) => a.clientMsgId === "r-1" && a.status === "persisted");
  for (let i = 2; i <= 3; i++) {
    const ack = await request(rosaSocket, "send_message", { conversationId, content: `r-${i}`, clientMsgId: `r-${i}` });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  }
  await waitFor(rosaSocket, "message_ack", (a) => a.clientMsgId === "r-3" && a.status === "persisted");
  // sam saw up to seq 3, then went away; 7 more arrive meanwhile.
  for (let i = 4; i <= 10; i++) await request(rosaSocket, "send_message", { conversationId, content: `r-${i}`, clientMsgId: `r-${i}` });
  await waitFor(rosaSocket, "message_ack", (a) => a.clientMsgId === "r-10" && a.status === "persisted");

  // rosa keeps sending while sam reconnects, to gateway A this time.
  let sending = true;
  let next = 11;
  const sender = (async () => {
    while (sending) {
      await request(rosaSocket, "send_message", { conversationId, content: `r-${next}`, clientMsgId: `r-${next}` });
      next++;
      await sleep(15);
    }
  })();
  await sleep(50);
  const stranger = "65f1a0d9e4b0a1b2c3d4e6ee";
  const samSocket = await open(gwA, sam, { lastSeqs: { [conversationId]: 3, [stranger]: 0 } });
  const resumed = await waitFor(samSocket, "resumed");
  await sleep(300);
  sending = false;
  await sender;
  const last = next - 1;
  await waitFor(rosaSocket, "message_ack", (a) => a.clientMsgId === `r-${last}` && a.status === "persisted");
  await waitFor(samSocket, "message_notification", (n) => n.seq === last).catch(() => waitFor(samSocket, "new_message", (m) => m.seq === last));

  const got = samSocket.seen
    .filter((e) => (e.event === "new_message" || e.event === "message_notification") && e.data.conversationId === conversationId)
    .map((e) => e.data.seq);
  assert.deepEqual(got, Array.from({ length: last - 3 }, (_, i) => i + 4), "missed, in order, no repeats, no gaps");
  // The replay came before "resumed"; what it covered is reported.
  const point = resumed.conversations.find((c) => c.conversationId === conversationId);
  assert.equal(point.member, true);
  assert.equal(point.fromSeq, 3);
  assert.ok(point.replayed >= 7, JSON.stringify(point));
  assert.equal(point.hasMore, false);
  const foreign = resumed.conversations.find((c) => c.conversationId === stranger);
  assert.deepEqual([foreign.member, foreign.replayed], [false, 0], "a conversation of others must not be replayed");
  const firstResumed = samSocket.seen.findIndex((e) => e.event === "resumed");
  const replayedBefore = samSocket.seen.slice(0, firstResumed).filter((e) => e.event === "new_message").map((e) => e.data.seq);
  assert.deepEqual(replayedBefore.slice(0, 7), [4, 5, 6, 7, 8, 9, 10]);
});

test("events sent the moment a socket connects are answered as a member: the gateway waits for its rooms lookup", async () => {
  const uma = await register(gwA, `uma_${pid}`);
  const vic = await register(gwB, `vic_${pid}`);
  const umaSocket = await open(gwA, uma);
  const opened = await request(umaSocket, "send_message", { receiverId: vic.id, content: "v-1", clientMsgId: "v-1" });
  const conversationId = opened.conversationId;
  await waitFor(umaSocket, "message_ack", (a) => a.clientMsgId === "v-1" && a.status === "persisted");
  // As a client does after a reconnect (the fault runner's gateway kill):
  // it opens its conversation and resends at once, in the connect's tick.
  for (let i = 0; i < 5; i++) {
    const socket = await open(i % 2 ? gwA : gwB, vic, { lastSeqs: { [conversationId]: 0 } });
    const [joined, sent] = await Promise.all([
      request(socket, "join_conversation", { conversationId }),
      request(socket, "send_message", { conversationId, content: `v-${i + 2}`, clientMsgId: `v-${i + 2}` }),
    ]);
    assert.deepEqual(joined, { ok: true }, `connect ${i}: join_conversation`);
    assert.equal(sent.ok, true, `connect ${i}: send_message ${JSON.stringify(sent)}`);
    socket.close();
  }
});

test("resume: a malformed lastSeqs is refused with CONNECT_ERROR", async () => {
  const tess = await register(gwA, `tess_${pid}`);
  for (const lastSeqs of [["not", "an", "object"], { "not-an-id": 1 }, { "65f1a0d9e4b0a1b2c3d4e601": -1 }, { "65f1a0d9e4b0a1b2c3d4e601": "7" }]) {
    await assert.rejects(connect(gwA, tess.token, { lastSeqs }), (err) => {
      assert.equal(err.message, "lastSeqs must map conversation ids to the last seq seen (at most 1000 of them)");
      return true;
    });
  }
});
