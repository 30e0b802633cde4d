// Replies, who read it, and push for offline members (issue 21), end to
// end on the real stack with two gateways: a reply's quote in every
// rendering and each refusal of a replyTo; GET /api/chat/messages/:id/readers
// from the read watermarks and each refusal; notification.requested on
// chat.events, read with kcat, naming exactly the offline members, once
// per message even when the command and the event are delivered again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { MongoClient } from "mongodb";
import { Stack, brokers, connect, http, mongoUri, register, request, sleep, waitFor } from "./lib/stack.mjs";

const stack = new Stack("replies");
const pid = process.pid;
let gwA, gwB, presence, mongo, db;
const sockets = [];

before(async () => {
  await stack.startPersistence();
  await stack.startReceipts();
  presence = await stack.startPresence();
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

async function open(base, user, auth = {}) {
  const socket = await connect(base, user.token, auth);
  sockets.push(socket);
  return socket;
}

const cid = () => randomBytes(8).toString("hex");
const api = (base, user, method, path, body) => http(base, method, path, { token: user.token, body });

async function until(fn, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    assert.ok(Date.now() < deadline, `not within ${timeoutMs} ms: ${what}`);
    await sleep(150);
  }
}

// A group of owner and members, opened by every socket given.
async function group(owner, members, name = `g_${cid()}`) {
  const res = await api(gwA, owner, "POST", "/api/chat/conversations", { name, memberIds: members.map((m) => m.id) });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data.conversationId;
}

async function join(socket, conversationId) {
  await until(async () => (await request(socket, "join_conversation", { conversationId })).ok, "join_conversation");
}

// Sends over a socket and waits for persistence's word on it.
async function send(socket, payload) {
  const clientMsgId = payload.clientMsgId ?? cid();
  const ack = await request(socket, "send_message", { ...payload, clientMsgId });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const final = await waitFor(socket, "message_ack", (a) => a.clientMsgId === clientMsgId && a.status !== "accepted");
  return { ...final, conversationId: ack.conversationId };
}

// The records of a topic (key, parsed value), read from the start with kcat.
function records(topic) {
  const out = execFileSync("kcat", ["-C", "-b", brokers, "-t", `${stack.prefix}${topic}`, "-o", "beginning", "-e", "-q",
    "-f", "%k\\t%s\\n"], { encoding: "utf8", maxBuffer: 64 << 20 });
  return out.split("\n").filter(Boolean).map((line) => {
    const tab = line.indexOf("\t");
    return { key: line.slice(0, tab), raw: line.slice(tab + 1), value: JSON.parse(line.slice(tab + 1)) };
  });
}

const eventsOf = (type, pred = () => true) =>
  records("chat.events").map((r) => r.value).filter((e) => e.type === type && pred(e.payload));

function produce(topic, key, raw) {
  execFileSync("kcat", ["-P", "-b", brokers, "-t", `${stack.prefix}${topic}`, "-k", key, "-D", "\u0001"], { input: raw });
}

const utf8 = (s) => Buffer.byteLength(s, "utf8");

// How many message.created records presence has handled (its /metrics).
async function presenceHandled() {
  const text = await (await fetch(`http://127.0.0.1:${presence.healthPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("chat_records_consumed_total{") &&
    l.includes('type="message.created"') && l.includes('outcome="ok"'));
  return line ? Number(line.split(" ").pop()) : 0;
}

// ---- Replies ----

test("a reply carries a bounded quote of its original in new_message, the REST answer, history, search, resume and message.created", async () => {
  const olga = await register(gwA, `olga_${pid}`);
  const mike = await register(gwB, `mike_${pid}`);
  const vera = await register(gwA, `vera_${pid}`);
  const conversationId = await group(olga, [mike, vera]);
  const olgaSocket = await open(gwA, olga);
  const mikeSocket = await open(gwB, mike);
  await join(olgaSocket, conversationId);
  await join(mikeSocket, conversationId);

  // 118 ASCII bytes, then a 4-byte emoji across the 120-byte bound.
  const original = `${"a".repeat(118)}\u{1F600} and the rest of a long first message`;
  const first = await send(olgaSocket, { conversationId, content: original });
  assert.equal(first.status, "persisted", JSON.stringify(first));

  const reply = await send(mikeSocket, { conversationId, content: "quoting you", replyTo: first.messageId });
  assert.equal(reply.status, "persisted", JSON.stringify(reply));
  const expected = { messageId: first.messageId, senderId: olga.id, senderUsername: olga.username,
    excerpt: "a".repeat(118), truncated: true, deleted: false };
  const live = await waitFor(olgaSocket, "new_message", (m) => m.id === reply.messageId);
  assert.deepEqual(live.replyTo, expected);
  assert.ok(utf8(live.replyTo.excerpt) <= 120);

  // REST send of a reply: the 201 answer quotes it too.
  const posted = await api(gwB, vera, "POST", "/api/chat/send", { conversationId, content: "me too", replyTo: first.messageId });
  assert.equal(posted.status, 201, JSON.stringify(posted.body));
  assert.deepEqual(posted.body.data.replyTo, expected);

  // History and search: the reply quotes, the original does not.
  const history = (await api(gwA, olga, "GET", `/api/chat/conversations/${conversationId}/messages`)).body.data.messages;
  const byId = Object.fromEntries(history.map((m) => [m.id, m]));
  assert.deepEqual(byId[reply.messageId].replyTo, expected);
  assert.deepEqual(byId[posted.body.data.id].replyTo, expected);
  assert.equal("replyTo" in byId[first.messageId], false);
  const found = (await api(gwB, mike, "GET", `/api/chat/conversations/${conversationId}/search?q=quoting`)).body.data.messages;
  assert.deepEqual(found.map((m) => [m.id, m.replyTo]), [[reply.messageId, expected]]);

  // A reconnect with lastSeqs replays the reply with its quote.
  const resumed = await open(gwB, vera, { lastSeqs: { [conversationId]: 0 } });
  const replayed = await waitFor(resumed, "new_message", (m) => m.id === reply.messageId);
  assert.deepEqual(replayed.replyTo, expected);

  // chat.events: message.created quotes it and names the members.
  const created = await until(() => eventsOf("message.created", (p) => p.messageId === reply.messageId)[0], "message.created of the reply");
  assert.deepEqual(created.payload.replyTo, expected);
  assert.deepEqual([...created.payload.memberIds].sort(), [olga.id, mike.id, vera.id].sort());
});

test("replyTo refusals: malformed, of no message, of another conversation; a deleted original is quoted as deleted", async () => {
  const ada = await register(gwA, `ada_${pid}`);
  const ben = await register(gwB, `ben_${pid}`);
  const cy = await register(gwA, `cy_${pid}`);
  const conversationId = await group(ada, [ben]);
  const adaSocket = await open(gwA, ada);
  const benSocket = await open(gwB, ben);
  await join(adaSocket, conversationId);
  await join(benSocket, conversationId);
  const elsewhere = await send(adaSocket, { receiverId: cy.id, content: "a 1-1 message" });
  assert.equal(elsewhere.status, "persisted");

  // Malformed: refused by the gateway, in the ack itself (socket) or 400 (REST).
  for (const replyTo of ["nope", 42, "65F1A0D9E4B0A1B2C3D4E601", { id: 1 }]) {
    const ack = await request(benSocket, "send_message", { conversationId, content: "x", clientMsgId: cid(), replyTo });
    assert.equal(ack.ok, false, JSON.stringify(ack));
    assert.equal(ack.error.code, "INVALID_ARGUMENT");
    assert.match(ack.error.message, /^replyTo must be the id/);
    const rest = await api(gwB, ben, "POST", "/api/chat/send", { conversationId, content: "x", replyTo });
    assert.equal(rest.status, 400);
    assert.match(rest.body.error.message, /^replyTo must be the id/);
  }
  // Of no message, and of another conversation: persistence's rejection.
  const nowhere = await send(benSocket, { conversationId, content: "x", replyTo: "65f1a1aae4b0a1b2c3d4e7ff" });
  assert.equal(nowhere.status, "rejected");
  assert.deepEqual(nowhere.error, { code: "NOT_FOUND", message: "replyTo names no message" });
  const other = await send(benSocket, { conversationId, content: "x", replyTo: elsewhere.messageId });
  assert.equal(other.status, "rejected");
  assert.deepEqual(other.error, { code: "INVALID_ARGUMENT", message: "replyTo names a message of another conversation" });
  const otherRest = await api(gwB, ben, "POST", "/api/chat/send", { conversationId, content: "x", replyTo: elsewhere.messageId });
  assert.equal(otherRest.status, 400);
  assert.equal(otherRest.body.error.message, "replyTo names a message of another conversation");
  const nowhereRest = await api(gwB, ben, "POST", "/api/chat/send", { conversationId, content: "x", replyTo: "65f1a1aae4b0a1b2c3d4e7ff" });
  assert.equal(nowhereRest.status, 404);
  // Nothing of them was stored.
  const history = (await api(gwA, ada, "GET", `/api/chat/conversations/${conversationId}/messages`)).body.data.messages;
  assert.deepEqual(history.filter((m) => m.content === "x"), []);

  // A deleted original: quoted as deleted, without its text.
  const doomed = await send(adaSocket, { conversationId, content: "soon gone" });
  assert.equal((await api(gwA, ada, "DELETE", `/api/chat/messages/${doomed.messageId}`)).status, 200);
  const late = await send(benSocket, { conversationId, content: "what did you say?", replyTo: doomed.messageId });
  assert.equal(late.status, "persisted", JSON.stringify(late));
  const shown = await waitFor(adaSocket, "new_message", (m) => m.id === late.messageId);
  assert.deepEqual(shown.replyTo, { messageId: doomed.messageId, senderId: ada.id, senderUsername: ada.username,
    excerpt: null, truncated: false, deleted: true });
  assert.equal(JSON.stringify(shown).includes("soon gone"), false);

  // An original deleted after it was quoted: the stored quotes lose its
  // text, in history, search and a resume.
  const words = await send(adaSocket, { conversationId, content: "words to take back" });
  const answer = await send(benSocket, { conversationId, content: "an answer to take back", replyTo: words.messageId });
  assert.equal((await waitFor(adaSocket, "new_message", (m) => m.id === answer.messageId)).replyTo.excerpt, "words to take back");
  assert.equal((await api(gwA, ada, "DELETE", `/api/chat/messages/${words.messageId}`)).status, 200);
  const gone = { messageId: words.messageId, senderId: ada.id, senderUsername: ada.username, excerpt: null, truncated: false, deleted: true };
  const page = (await api(gwB, ben, "GET", `/api/chat/conversations/${conversationId}/messages`)).body.data.messages;
  assert.deepEqual(page.find((m) => m.id === answer.messageId).replyTo, gone);
  assert.equal(JSON.stringify(page).includes("words to take back"), false);
  const searched = (await api(gwB, ben, "GET", `/api/chat/conversations/${conversationId}/search?q=take%20back`)).body.data.messages;
  assert.deepEqual(searched.map((m) => [m.id, m.replyTo]), [[answer.messageId, gone]]);
  const resumed = await open(gwB, ben, { lastSeqs: { [conversationId]: 0 } });
  assert.deepEqual((await waitFor(resumed, "new_message", (m) => m.id === answer.messageId)).replyTo, gone);
});

test("a redelivered reply publishes the quote it was stored with, not a new one", async () => {
  const dee = await register(gwA, `dee_${pid}`);
  const eli = await register(gwB, `eli_${pid}`);
  const conversationId = await group(dee, [eli]);
  const first = await api(gwA, dee, "POST", "/api/chat/send", { conversationId, content: "the original words" });
  assert.equal(first.status, 201);
  const clientMsgId = cid();
  const body = { conversationId, content: "a reply", replyTo: first.body.data.id, clientMsgId };
  const stored = await api(gwB, eli, "POST", "/api/chat/send", body);
  assert.equal(stored.status, 201);
  assert.equal(stored.body.data.replyTo.excerpt, "the original words");
  // What is stored with the reply is what a redelivery publishes: marked
  // here in the store itself, so that a quote taken afresh would differ.
  const marked = { ...stored.body.data.replyTo, excerpt: "as stored" };
  await db.collection("messages").updateOne({ _id: stored.body.data.id }, { $set: { "replyTo.excerpt": "as stored" } });
  // The same send again: a client's resend, and the command itself replayed into chat.commands.
  const again = await api(gwB, eli, "POST", "/api/chat/send", body);
  assert.equal(again.status, 201);
  assert.equal(again.body.data.id, stored.body.data.id);
  assert.equal(again.body.data.seq, stored.body.data.seq);
  assert.deepEqual(again.body.data.replyTo, marked);
  const command = records("chat.commands").find((r) => r.value.type === "message.send" && r.value.payload.clientMsgId === clientMsgId);
  produce("chat.commands", command.key, command.raw);
  await until(() => eventsOf("message.created", (p) => p.messageId === stored.body.data.id).length >= 3, "the replayed command handled");
  const created = eventsOf("message.created", (p) => p.messageId === stored.body.data.id);
  assert.deepEqual(created.map((e) => e.payload.replyTo), [stored.body.data.replyTo, marked, marked]);
  const history = (await api(gwA, eli, "GET", `/api/chat/conversations/${conversationId}/messages`)).body.data.messages;
  assert.deepEqual(history.map((m) => m.content), ["the original words", "a reply"]); // stored once
});

// ---- Who read it ----

test("readers of a group's message come from the watermarks; refusals for a 1-1, a non-member, a malformed, unknown or deleted id", async () => {
  const kim = await register(gwA, `kim_${pid}`);
  const lou = await register(gwB, `lou_${pid}`);
  const max = await register(gwA, `max_${pid}`);
  const ned = await register(gwB, `ned_${pid}`);
  const conversationId = await group(kim, [lou, max]);
  const sent = await api(gwA, kim, "POST", "/api/chat/send", { conversationId, content: "who reads this?" });
  assert.equal(sent.status, 201);
  const messageId = sent.body.data.id;
  const readers = async (user, id = messageId, base = gwA) => api(base, user, "GET", `/api/chat/messages/${id}/readers`);

  let answer = await readers(kim);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.deepEqual(answer.body.data, { messageId, conversationId, seq: sent.body.data.seq, readers: [], readCount: 0, memberCount: 2 });

  assert.equal((await api(gwB, lou, "PUT", `/api/chat/conversations/${conversationId}/read`)).status, 200);
  answer = await until(async () => { const a = await readers(max, messageId, gwB); return a.body.data?.readCount === 1 && a; }, "lou's read");
  assert.equal(answer.body.data.readers[0].user.id, lou.id);
  assert.equal(answer.body.data.readers[0].user.username, lou.username);
  assert.match(answer.body.data.readers[0].readAt, /^\d{4}-\d{2}-\d{2}T/);

  // A later message is not read by a watermark that stops before it.
  const later = await api(gwA, kim, "POST", "/api/chat/send", { conversationId, content: "and this?" });
  assert.equal((await readers(kim, later.body.data.id)).body.data.readCount, 0);
  const maxSocket = await open(gwA, max);
  await join(maxSocket, conversationId);
  assert.equal((await request(maxSocket, "mark_as_read", { conversationId })).ok, true);
  answer = await until(async () => { const a = await readers(kim, later.body.data.id); return a.body.data?.readCount === 1 && a; }, "max's read");
  assert.deepEqual(answer.body.data.readers.map((r) => r.user.id), [max.id]);
  assert.deepEqual((await readers(kim)).body.data.readers.map((r) => r.user.id).sort(), [lou.id, max.id].sort());

  // Refusals.
  const noSuch = { success: false, error: { code: "NOT_FOUND", message: "no such message" } };
  const stranger = await readers(ned);
  assert.equal(stranger.status, 404);
  assert.deepEqual(stranger.body, noSuch);
  const unknown = await readers(kim, "65f1a1aae4b0a1b2c3d4e7ff");
  assert.deepEqual([unknown.status, unknown.body], [404, noSuch]);
  const malformed = await readers(kim, "not-an-id");
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, "INVALID_ARGUMENT");
  assert.equal((await http(gwA, "GET", `/api/chat/messages/${messageId}/readers`)).status, 401);
  const direct = await api(gwA, kim, "POST", "/api/chat/send", { receiverId: ned.id, content: "1-1" });
  const ofDirect = await readers(ned, direct.body.data.id);
  assert.equal(ofDirect.status, 400);
  assert.equal(ofDirect.body.error.code, "INVALID_ARGUMENT");
  assert.match(ofDirect.body.error.message, /groups/);
  assert.equal((await api(gwA, kim, "DELETE", `/api/chat/messages/${later.body.data.id}`)).status, 200);
  const deleted = await readers(lou, later.body.data.id);
  assert.deepEqual([deleted.status, deleted.body], [404, noSuch]);
});

// ---- Push for offline members ----

async function online(asker, user, isOnline) {
  await until(async () => (await api(gwA, asker, "GET", `/api/users/${user.id}/presence`)).body.data?.online === isOnline,
    `${user.username} ${isOnline ? "online" : "offline"}`);
}

test("notification.requested names exactly the members with no live session, once per message, even when the command and the event come again", async () => {
  const pia = await register(gwA, `pia_${pid}`);
  const quin = await register(gwB, `quin_${pid}`);
  const rex = await register(gwA, `rex_${pid}`);
  const sol = await register(gwB, `sol_${pid}`);
  const conversationId = await group(pia, [quin, rex, sol]);
  const piaSocket = await open(gwA, pia);
  const quinSocket = await open(gwB, quin);
  const rexSocket = await open(gwA, rex); // then gone: offline
  await online(pia, quin, true);
  await online(pia, rex, true);
  rexSocket.close();
  await online(pia, rex, false);
  await join(piaSocket, conversationId);
  await join(quinSocket, conversationId);

  const m1 = await send(piaSocket, { conversationId, content: "are you there?" });
  assert.equal(m1.status, "persisted");
  const asked = await until(() => eventsOf("notification.requested", (p) => p.messageId === m1.messageId)[0], "notification.requested");
  assert.equal(asked.source.split("/")[0], "presence");
  assert.deepEqual(asked.payload, { messageId: m1.messageId, conversationId, senderId: pia.id,
    userIds: asked.payload.userIds, seq: m1.seq, preview: "are you there?", createdAt: asked.payload.createdAt });
  assert.deepEqual([...asked.payload.userIds].sort(), [rex.id, sol.id].sort()); // not pia (the sender), not quin (online)
  const key = records("chat.events").find((r) => r.value.id === asked.id).key;
  assert.equal(key, conversationId);

  // Again: the message.created record itself, and the send command.
  const created = records("chat.events").find((r) => r.value.type === "message.created" && r.value.payload.messageId === m1.messageId);
  produce("chat.events", created.key, created.raw);
  const command = records("chat.commands").find((r) => r.value.type === "message.send" && r.value.payload.senderId === pia.id &&
    r.value.payload.content === "are you there?");
  produce("chat.commands", command.key, command.raw);
  await until(() => eventsOf("message.created", (p) => p.messageId === m1.messageId).length >= 3, "the replays");
  // A later message of the conversation (same key, same partition) is
  // handled after the replays: once its request is there, they were seen.
  const m2 = await send(piaSocket, { conversationId, content: "hello?" });
  await until(() => eventsOf("notification.requested", (p) => p.messageId === m2.messageId)[0], "the later request");
  assert.equal(eventsOf("notification.requested", (p) => p.messageId === m1.messageId).length, 1, "one request per message");
  // The claim that dedupes it, in presence's collection.
  const claim = await db.collection("notification_requests").findOne({ _id: m1.messageId });
  assert.deepEqual([...claim.userIds].sort(), [rex.id, sol.id].sort());
  assert.equal(claim.conversationId, conversationId);
});

test("a 1-1: no request while the receiver is connected, one once they are gone", async () => {
  const tom = await register(gwA, `tom_${pid}`);
  const uma = await register(gwB, `uma_${pid}`);
  const tomSocket = await open(gwA, tom);
  const umaSocket = await open(gwB, uma);
  await online(tom, uma, true);
  const handled = await presenceHandled();
  const a1 = await send(tomSocket, { receiverId: uma.id, content: "while you are here" });
  // uma leaves only once presence has read a1 (while she was connected).
  await until(async () => (await presenceHandled()) > handled, "presence read a1's message.created");
  umaSocket.close();
  await online(tom, uma, false);
  assert.equal(a1.status, "persisted");
  const a2 = await send(tomSocket, { conversationId: a1.conversationId, content: "now that you left" });
  const asked = await until(() => eventsOf("notification.requested", (p) => p.messageId === a2.messageId)[0], "the request for a2");
  assert.deepEqual(asked.payload.userIds, [uma.id]);
  assert.deepEqual(eventsOf("notification.requested", (p) => p.messageId === a1.messageId), []);
});

test("a message.created of a message older than 10 minutes gets no push; one of now does", async () => {
  const vic = await register(gwA, `vic_${pid}`);
  const wes = await register(gwB, `wes_${pid}`); // never connected: offline
  const conversationId = "65f1a0d9e4b0a1b2c3d4e6aa";
  const created = (messageId, at) => JSON.stringify({ v: 1, type: "message.created", id: randomBytes(12).toString("hex"), ts: Date.now(),
    source: "persistence/kcat", payload: { messageId, conversationId, senderId: vic.id, receiverId: wes.id, content: "late news",
      attachmentUrl: null, seq: 1, createdAt: new Date(at).toISOString(), memberIds: [vic.id, wes.id] } });
  const old = randomBytes(12).toString("hex"), fresh = randomBytes(12).toString("hex");
  produce("chat.events", conversationId, created(old, Date.now() - 11 * 60 * 1000));
  produce("chat.events", conversationId, created(fresh, Date.now()));
  const asked = await until(() => eventsOf("notification.requested", (p) => p.messageId === fresh)[0], "the request for the fresh one");
  assert.deepEqual(asked.payload.userIds, [wes.id]);
  assert.equal(asked.payload.preview, "late news");
  assert.deepEqual(eventsOf("notification.requested", (p) => p.messageId === old), []); // same key: read before the fresh one
});

test("claims older than the push window are pruned; recent ones are kept", async () => {
  const old = randomBytes(12).toString("hex"), recent = randomBytes(12).toString("hex");
  const at = (ms) => new Date(Date.now() - ms);
  await db.collection("notification_requests").insertMany([
    { _id: old, conversationId: "65f1a0d9e4b0a1b2c3d4e6ab", createdAt: at(20 * 60 * 1000), requestedAt: at(20 * 60 * 1000), userIds: [] },
    { _id: recent, conversationId: "65f1a0d9e4b0a1b2c3d4e6ab", createdAt: at(60 * 1000), requestedAt: at(60 * 1000), userIds: [] },
  ]);
  // Pruned every 30 s by presence's tick.
  await until(async () => !(await db.collection("notification_requests").findOne({ _id: old })), "the old claim pruned", 45000);
  assert.ok(await db.collection("notification_requests").findOne({ _id: recent }), "the recent claim kept");
});
