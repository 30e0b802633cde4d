// Edits and reactions end to end (issue 21) on the real stack: two
// gateways, one persistence, clients on unmodified socket.io-client, the
// sender on gateway A and the others on gateway B. Each feature, each
// refusal (socket and REST), the store afterwards (the previous texts kept
// in message_versions, the reactions on the message), and each command
// redelivered from chat.commands with kcat changing nothing twice.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { MongoClient } from "mongodb";
import { Stack, connect, http, register, request, waitFor, sleep, mongoUri, brokers } from "./lib/stack.mjs";

const stack = new Stack("editreact");
const fast = { CHAT_RATE_LIMIT_PER_SEC: "2000", CHAT_RATE_LIMIT_BURST: "2000" };
let gwA, gwB, mongo, db;
const sockets = [];
const pid = process.pid;
const THUMBS = "\u{1F44D}";
const HEART = "\u2764\uFE0F";
const FIRE_HEART = "\u2764\uFE0F\u200D\u{1F525}";
const TONE = "\u{1F44D}\u{1F3FD}";
const PARTY = "\u{1F389}";

before(async () => {
  await stack.startPersistence({ CHAT_INSTANCE_ID: "persistence-1" });
  gwA = await stack.startGateway("gw-a", fast);
  gwB = await stack.startGateway("gw-b", fast);
  mongo = new MongoClient(mongoUri);
  db = mongo.db(stack.database);
});

after(async () => {
  for (const s of sockets) s.close();
  await mongo?.close();
  await stack.stopAll();
});

// A socket that also keeps every argument of every event (the last one of
// a recoverable event is its recovery offset).
async function open(base, user) {
  const socket = await connect(base, user.token);
  socket.full = [];
  socket.onAny((event, ...args) => socket.full.push({ event, args }));
  sockets.push(socket);
  return socket;
}

let names = 0;
const user = (name) => register(gwA, `${name}${++names}_${pid}`);

// alice (on A) and bob (on B) in their 1-1, with one stored message of alice's.
async function direct(text = "the original text") {
  const alice = await user("alice");
  const bob = await user("bob");
  const aliceSocket = await open(gwA, alice);
  const bobSocket = await open(gwB, bob);
  const sent = await request(aliceSocket, "send_message", { receiverId: bob.id, content: text, clientMsgId: `d-${names}` });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  const stored = await waitFor(aliceSocket, "message_ack", (a) => a.clientMsgId === `d-${names}` && a.status === "persisted");
  await waitFor(bobSocket, "message_notification", (n) => n.content === text);
  return { alice, bob, aliceSocket, bobSocket, conversationId: sent.conversationId, messageId: stored.messageId, seq: stored.seq };
}

async function history(base, who, conversationId) {
  const page = await http(base, "GET", `/api/chat/conversations/${conversationId}/messages`, { token: who.token });
  assert.equal(page.status, 200, JSON.stringify(page.body));
  return page.body.data.messages;
}

// Sends a refused command and checks both answers: the ack error and the revert event.
async function refused(socket, event, payload, revert, code, reasonPattern) {
  const before = socket.seen.length;
  const ack = await request(socket, event, payload);
  const echo = typeof payload.messageId === "string" ? payload.messageId : "";
  const since = { get seen() { return socket.seen.slice(before); } };
  const reverted = await waitFor(since, revert, (r) => r.messageId === echo && r.code === code);
  if (reasonPattern) assert.match(reverted.reason, reasonPattern);
  // Refused by the gateway: the ack says so; by persistence: it was accepted first.
  assert.ok(ack.ok === true || ack.error?.code === code, JSON.stringify(ack));
  return { ack, reverted };
}

// ---- records of chat.commands, read and replayed with kcat ----
function commands() {
  const out = execFileSync("kcat", ["-C", "-b", brokers, "-t", `${stack.prefix}chat.commands`, "-o", "beginning", "-e", "-J", "-q"],
    { maxBuffer: 64 << 20 }).toString();
  return out.split("\n").filter(Boolean).map((line) => {
    const record = JSON.parse(line);
    return { key: record.key, value: record.payload, command: JSON.parse(record.payload) };
  });
}
function replay(record) {
  execFileSync("kcat", ["-P", "-b", brokers, "-t", `${stack.prefix}chat.commands`, "-k", record.key, "-D", "\u0001"], { input: record.value });
}

test("edit: the sender edits over the socket and REST; both gateways hear message_edited; history and search serve the current text; the old ones are kept", async () => {
  const { alice, bob, aliceSocket, bobSocket, conversationId, messageId, seq } = await direct("see you at 7");
  assert.deepEqual(await request(aliceSocket, "edit_message", { messageId, content: "see you at 8" }), { ok: true, status: "accepted" });
  const edited = await waitFor(bobSocket, "message_edited", (e) => e.messageId === messageId);
  assert.equal(edited.content, "see you at 8");
  assert.equal(edited.conversationId, conversationId);
  assert.equal(edited.senderId, alice.id);
  assert.equal(edited.seq, seq, "an edit keeps the seq");
  assert.match(edited.editedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(edited.editId, /^[0-9a-f]{24}$/);
  await waitFor(aliceSocket, "message_edited", (e) => e.editId === edited.editId); // the sender's other tabs too
  const full = bobSocket.full.find((e) => e.event === "message_edited");
  assert.equal(typeof full.args.at(-1), "string", "message_edited is recoverable: an offset as its last argument");

  const rest = await http(gwB, "PATCH", `/api/chat/messages/${messageId}`, { token: alice.token, body: { content: "see you at 9 \u{1F37B}" } });
  assert.equal(rest.status, 200, JSON.stringify(rest.body));
  assert.equal(rest.body.message, "Message edited");
  assert.equal(rest.body.data.content, "see you at 9 \u{1F37B}");
  assert.equal(rest.body.data.seq, seq);
  await waitFor(bobSocket, "message_edited", (e) => e.editId === rest.body.data.editId);

  const [shown] = await history(gwB, bob, conversationId);
  assert.equal(shown.id, messageId);
  assert.equal(shown.content, "see you at 9 \u{1F37B}");
  assert.equal(shown.seq, seq);
  assert.equal(shown.editedAt, rest.body.data.editedAt);
  assert.deepEqual(shown.reactions, []);
  const found = await http(gwB, "GET", `/api/chat/conversations/${conversationId}/search?q=at%209`, { token: bob.token });
  assert.deepEqual(found.body.data.messages.map((m) => m.content), ["see you at 9 \u{1F37B}"]);
  const stale = await http(gwB, "GET", `/api/chat/conversations/${conversationId}/search?q=at%207`, { token: bob.token });
  assert.deepEqual(stale.body.data.messages, [], "search finds only the current text");

  // The store: one message, its previous texts in message_versions, oldest first.
  const versions = await db.collection("message_versions").find({ messageId }).sort({ replacedAt: 1 }).toArray();
  assert.deepEqual(versions.map((v) => v.content), ["see you at 7", "see you at 8"]);
  assert.deepEqual(versions.map((v) => v._id), [edited.editId, rest.body.data.editId]);
  assert.equal(versions[1].previousEditId, edited.editId);
  assert.equal(await db.collection("messages").countDocuments({ conversationId }), 1);
});

test("edit refusals: not the sender, deleted, no longer a member, unknown, malformed ids, no content, too long", async () => {
  const { alice, bob, aliceSocket, bobSocket, conversationId, messageId } = await direct("mine alone");
  const E = "message_edit_reverted";
  await refused(bobSocket, "edit_message", { messageId, content: "hijacked" }, E, "FORBIDDEN", /only the sender/);
  assert.equal((await http(gwB, "PATCH", `/api/chat/messages/${messageId}`, { token: bob.token, body: { content: "hijacked" } })).status, 403);
  await refused(aliceSocket, "edit_message", { messageId: "65f1a1aae4b0a1b2c3d4e7ff", content: "x" }, E, "NOT_FOUND", /not found/);
  for (const bad of ["nope", "65F1A1AAE4B0A1B2C3D4E7FF", "65f1a1aae4b0a1b2c3d4e7f", 42, null]) {
    const { ack } = await refused(aliceSocket, "edit_message", { messageId: bad, content: "x" }, E, "INVALID_ARGUMENT", /messageId/);
    assert.equal(ack.ok, false);
  }
  assert.equal((await http(gwA, "PATCH", "/api/chat/messages/nope", { token: alice.token, body: { content: "x" } })).status, 400);
  await refused(aliceSocket, "edit_message", { messageId }, E, "INVALID_ARGUMENT", /content is required/);
  await refused(aliceSocket, "edit_message", { messageId, content: "" }, E, "INVALID_ARGUMENT", /empty/);
  await refused(aliceSocket, "edit_message", { messageId, content: 7 }, E, "INVALID_ARGUMENT", /content/);
  await refused(aliceSocket, "edit_message", { messageId, content: "x".repeat(10001) }, E, "TOO_LARGE", /longer than the limit/);
  const tooLong = await http(gwA, "PATCH", `/api/chat/messages/${messageId}`, { token: alice.token, body: { content: "x".repeat(10001) } });
  assert.equal(tooLong.status, 413, JSON.stringify(tooLong.body));
  assert.equal((await http(gwA, "PATCH", `/api/chat/messages/${messageId}`, { token: alice.token, body: { content: "" } })).status, 400);
  assert.equal((await http(gwA, "PATCH", `/api/chat/messages/${messageId}`, { token: alice.token, body: "{nope", raw: true })).status, 400);

  // Deleted: refused, and the deleted text stays as it was.
  assert.equal((await http(gwA, "DELETE", `/api/chat/messages/${messageId}`, { token: alice.token })).status, 200);
  await refused(aliceSocket, "edit_message", { messageId, content: "too late" }, E, "NOT_FOUND", /deleted/);
  assert.equal((await http(gwA, "PATCH", `/api/chat/messages/${messageId}`, { token: alice.token, body: { content: "too late" } })).status, 404);
  assert.equal((await db.collection("messages").findOne({ _id: messageId })).content, "mine alone");

  // A sender who left the group no longer edits what they said there.
  const group = await http(gwA, "POST", "/api/chat/conversations", { token: alice.token, body: { name: "edits", memberIds: [bob.id] } });
  const groupId = group.body.data.conversationId;
  const said = await http(gwB, "POST", "/api/chat/send", { token: bob.token, body: { conversationId: groupId, content: "before leaving" } });
  assert.equal(said.status, 201, JSON.stringify(said.body));
  assert.equal((await http(gwB, "POST", `/api/chat/conversations/${groupId}/leave`, { token: bob.token })).status, 200);
  await refused(bobSocket, "edit_message", { messageId: said.body.data.id, content: "after leaving" }, E, "FORBIDDEN", /not a member/);
  assert.equal((await db.collection("messages").findOne({ _id: said.body.data.id })).content, "before leaving");
  assert.equal(await db.collection("message_versions").countDocuments({ conversationId }), 0, "no refused edit kept a version");
  assert.ok(!bobSocket.seen.some((e) => e.event === "message_edited") && !aliceSocket.seen.some((e) => e.event === "message_edited"));
  void conversationId;
});

test("reactions: one of each emoji per user; members on both gateways hear the counts; history shows counts and whether the reader reacted", async () => {
  const { alice, bob, aliceSocket, bobSocket, conversationId, messageId } = await direct("react to me");
  assert.deepEqual(await request(bobSocket, "react", { messageId, emoji: THUMBS }), { ok: true, status: "accepted" });
  const added = await waitFor(aliceSocket, "reaction_added", (r) => r.messageId === messageId);
  assert.deepEqual(added, { messageId, conversationId, userId: bob.id, emoji: THUMBS, count: 1 });
  assert.equal(typeof aliceSocket.full.find((e) => e.event === "reaction_added").args.at(-1), "string", "reaction_added is recoverable");
  assert.deepEqual(await request(aliceSocket, "react", { messageId, emoji: THUMBS }), { ok: true, status: "accepted" });
  await waitFor(bobSocket, "reaction_added", (r) => r.userId === alice.id && r.count === 2);
  // The same emoji again by the same user: accepted, nothing changes, nobody is told.
  assert.deepEqual(await request(bobSocket, "react", { messageId, emoji: THUMBS }), { ok: true, status: "accepted" });
  assert.deepEqual(await request(bobSocket, "react", { messageId, emoji: TONE }), { ok: true, status: "accepted" });
  await waitFor(aliceSocket, "reaction_added", (r) => r.emoji === TONE && r.count === 1);
  assert.equal(aliceSocket.seen.filter((e) => e.event === "reaction_added" && e.data.emoji === THUMBS).length, 2);

  let [shown] = await history(gwB, bob, conversationId);
  assert.deepEqual(shown.reactions, [{ emoji: THUMBS, count: 2, reacted: true }, { emoji: TONE, count: 1, reacted: true }]);
  assert.equal(shown.editedAt, null);
  [shown] = await history(gwA, alice, conversationId);
  assert.deepEqual(shown.reactions, [{ emoji: THUMBS, count: 2, reacted: true }, { emoji: TONE, count: 1, reacted: false }]);

  assert.deepEqual(await request(bobSocket, "unreact", { messageId, emoji: THUMBS }), { ok: true, status: "accepted" });
  const removed = await waitFor(aliceSocket, "reaction_removed", (r) => r.messageId === messageId);
  assert.deepEqual(removed, { messageId, conversationId, userId: bob.id, emoji: THUMBS, count: 1 });
  assert.equal(typeof aliceSocket.full.find((e) => e.event === "reaction_removed").args.at(-1), "string", "reaction_removed is recoverable");
  [shown] = await history(gwB, bob, conversationId);
  assert.deepEqual(shown.reactions, [{ emoji: THUMBS, count: 1, reacted: false }, { emoji: TONE, count: 1, reacted: true }]);

  // REST: the emoji percent-encoded in the path.
  const put = await http(gwB, "PUT", `/api/chat/messages/${messageId}/reactions/${encodeURIComponent(FIRE_HEART)}`, { token: bob.token });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body.data, { messageId, conversationId, userId: bob.id, emoji: FIRE_HEART, count: 1, reacted: true });
  await waitFor(aliceSocket, "reaction_added", (r) => r.emoji === FIRE_HEART);
  const del = await http(gwA, "DELETE", `/api/chat/messages/${messageId}/reactions/${encodeURIComponent(FIRE_HEART)}`, { token: bob.token });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.deepEqual(del.body.data, { messageId, conversationId, userId: bob.id, emoji: FIRE_HEART, count: 0, reacted: false });
  await waitFor(aliceSocket, "reaction_removed", (r) => r.emoji === FIRE_HEART && r.count === 0);
  const again = await http(gwA, "DELETE", `/api/chat/messages/${messageId}/reactions/${encodeURIComponent(FIRE_HEART)}`, { token: bob.token });
  assert.equal(again.status, 200, "taking back what is not there changes nothing, and is no error");
  [shown] = await history(gwB, bob, conversationId);
  assert.deepEqual(shown.reactions.map((r) => r.emoji), [THUMBS, TONE]);

  const stored = await db.collection("messages").findOne({ _id: messageId });
  assert.deepEqual(stored.reactions.map((r) => [r.emoji, r.userId]), [[THUMBS, alice.id], [TONE, bob.id]]);
});

test("reaction refusals: not a member, deleted, malformed ids, unknown or invalid emoji, too many distinct emoji", async () => {
  const { alice, bob, aliceSocket, bobSocket, conversationId, messageId } = await direct("not for everyone");
  const R = "reaction_reverted";
  const carol = await user("carol");
  const carolSocket = await open(gwB, carol);
  await refused(carolSocket, "react", { messageId, emoji: THUMBS }, R, "FORBIDDEN", /not a member/);
  await refused(carolSocket, "unreact", { messageId, emoji: THUMBS }, R, "FORBIDDEN", /not a member/);
  assert.equal((await http(gwB, "PUT", `/api/chat/messages/${messageId}/reactions/${encodeURIComponent(THUMBS)}`, { token: carol.token })).status, 403);
  await refused(bobSocket, "react", { messageId: "65f1a1aae4b0a1b2c3d4e7ff", emoji: THUMBS }, R, "NOT_FOUND", /not found/);
  for (const bad of ["nope", "65f1a1aae4b0a1b2c3d4e7f", 7, null])
    await refused(bobSocket, "react", { messageId: bad, emoji: THUMBS }, R, "INVALID_ARGUMENT", /messageId/);
  assert.equal((await http(gwB, "PUT", `/api/chat/messages/nope/reactions/${encodeURIComponent(THUMBS)}`, { token: bob.token })).status, 400);
  // Not one emoji: text, two emoji, a lone modifier, whitespace, too long, none at all.
  const invalid = ["+1", "a", THUMBS + THUMBS, "\u{1F3FD}", ` ${THUMBS}`, "1", "\u200D", "\u{1F468}\u200D".repeat(6) + "\u{1F468}", ""];
  for (const emoji of invalid) {
    const { ack } = await refused(bobSocket, "react", { messageId, emoji }, R, "INVALID_ARGUMENT", /emoji/);
    assert.equal(ack.ok, false, `accepted ${JSON.stringify(emoji)}`);
  }
  await refused(bobSocket, "react", { messageId }, R, "INVALID_ARGUMENT", /emoji is required/);
  await refused(bobSocket, "unreact", { messageId, emoji: 5 }, R, "INVALID_ARGUMENT", /emoji/);
  for (const emoji of ["abc", encodeURIComponent(THUMBS + THUMBS), "%20"]) {
    const answer = await http(gwB, "PUT", `/api/chat/messages/${messageId}/reactions/${emoji}`, { token: bob.token });
    assert.equal(answer.status, 400, `${emoji}: ${JSON.stringify(answer.body)}`);
  }

  // At most 20 distinct emoji on one message; one already there still goes.
  const distinct = Array.from({ length: 20 }, (_, i) => String.fromCodePoint(0x1F600 + i));
  for (const [i, emoji] of distinct.entries())
    assert.deepEqual(await request(i % 2 ? aliceSocket : bobSocket, "react", { messageId, emoji }), { ok: true, status: "accepted" });
  await waitFor(aliceSocket, "reaction_added", (r) => r.emoji === distinct[19]);
  await refused(bobSocket, "react", { messageId, emoji: HEART }, R, "TOO_LARGE", /at most 20 distinct/);
  const over = await http(gwB, "PUT", `/api/chat/messages/${messageId}/reactions/${encodeURIComponent(HEART)}`, { token: bob.token });
  assert.equal(over.status, 413, JSON.stringify(over.body));
  assert.equal(over.body.error.code, "TOO_LARGE");
  const more = await http(gwB, "PUT", `/api/chat/messages/${messageId}/reactions/${encodeURIComponent(distinct[1])}`, { token: bob.token });
  assert.equal(more.status, 200, JSON.stringify(more.body));
  assert.equal(more.body.data.count, 2);
  const [shown] = await history(gwA, alice, conversationId);
  assert.equal(shown.reactions.length, 20);

  // Deleted: no reaction goes on, nor comes off.
  assert.equal((await http(gwA, "DELETE", `/api/chat/messages/${messageId}`, { token: alice.token })).status, 200);
  await refused(bobSocket, "react", { messageId, emoji: distinct[0] }, R, "NOT_FOUND", /deleted/);
  await refused(bobSocket, "unreact", { messageId, emoji: distinct[0] }, R, "NOT_FOUND", /deleted/);
  assert.equal((await http(gwB, "PUT", `/api/chat/messages/${messageId}/reactions/${encodeURIComponent(distinct[0])}`, { token: bob.token })).status, 404);
  assert.equal((await db.collection("messages").findOne({ _id: messageId })).reactions.length, 21);
  assert.ok(!carolSocket.seen.some((e) => ["reaction_added", "reaction_removed", "message_edited"].includes(e.event)), "a non-member heard of it");
});

test("redelivery: each command replayed from chat.commands changes nothing twice", async () => {
  const { bob, aliceSocket, bobSocket, conversationId, messageId } = await direct("first words");
  assert.equal((await request(aliceSocket, "edit_message", { messageId, content: "second words" })).ok, true);
  const first = await waitFor(bobSocket, "message_edited", (e) => e.content === "second words");
  assert.equal((await request(aliceSocket, "edit_message", { messageId, content: "third words" })).ok, true);
  const second = await waitFor(bobSocket, "message_edited", (e) => e.content === "third words");
  assert.equal((await request(bobSocket, "react", { messageId, emoji: THUMBS })).ok, true);
  await waitFor(aliceSocket, "reaction_added", (r) => r.emoji === THUMBS && r.count === 1);
  assert.equal((await request(bobSocket, "react", { messageId, emoji: HEART })).ok, true);
  await waitFor(aliceSocket, "reaction_added", (r) => r.emoji === HEART && r.count === 1);
  assert.equal((await request(bobSocket, "unreact", { messageId, emoji: HEART })).ok, true);
  await waitFor(aliceSocket, "reaction_removed", (r) => r.emoji === HEART && r.count === 0);
  const storedBefore = await db.collection("messages").findOne({ _id: messageId });

  const mine = commands().filter((r) => r.command.payload?.messageId === messageId);
  const find = (type, pred = () => true) => {
    const found = mine.find((r) => r.command.type === type && pred(r.command.payload));
    assert.ok(found, `no ${type} record in chat.commands`);
    return found;
  };
  const oldEdit = find("message.edit", (p) => p.editId === first.editId);
  const newEdit = find("message.edit", (p) => p.editId === second.editId);
  const thumbs = find("reaction.add", (p) => p.emoji === THUMBS);
  const unheart = find("reaction.remove", (p) => p.emoji === HEART);
  const mark = { alice: aliceSocket.seen.length, bob: bobSocket.seen.length };
  // The older edit alone first: it must not bring its text back.
  replay(oldEdit);
  assert.equal((await request(bobSocket, "react", { messageId, emoji: PARTY })).ok, true);
  await waitFor(aliceSocket, "reaction_added", (r) => r.emoji === PARTY);
  assert.equal((await db.collection("messages").findOne({ _id: messageId })).content, "third words",
    "an older edit redelivered after a newer one undid it");
  for (const record of [newEdit, thumbs, unheart]) replay(record);
  // A marker after them on the same partition (same key): once it is
  // handled, so are the replays.
  assert.equal((await request(bobSocket, "react", { messageId, emoji: TONE })).ok, true);
  await waitFor(aliceSocket, "reaction_added", (r) => r.emoji === TONE);
  await sleep(300);

  const storedAfter = await db.collection("messages").findOne({ _id: messageId });
  assert.equal(storedAfter.content, "third words", "an older edit redelivered after a newer one undid it");
  assert.equal(storedAfter.editId, second.editId);
  assert.equal(storedAfter.editedAt.getTime(), storedBefore.editedAt.getTime());
  assert.deepEqual(storedAfter.reactions.map((r) => r.emoji), [THUMBS, PARTY, TONE], "a replayed react or unreact counted twice");
  assert.deepEqual((await db.collection("message_versions").find({ messageId }).toArray()).map((v) => v.content).sort(),
    ["first words", "second words"]);
  const [shown] = await history(gwB, bob, conversationId);
  assert.equal(shown.content, "third words");
  assert.deepEqual(shown.reactions, [THUMBS, PARTY, TONE].map((emoji) => ({ emoji, count: 1, reacted: true })));

  // What the room heard of the replays: the latest edit and the react told
  // again (the first try may have stopped before telling), with the same
  // editId and the same count; the stale edit and the unreact not at all.
  const heard = aliceSocket.seen.slice(mark.alice);
  assert.deepEqual(heard.filter((e) => e.event === "message_edited").map((e) => e.data.editId), [second.editId]);
  assert.ok(heard.filter((e) => e.event === "reaction_added" && e.data.emoji === THUMBS).every((e) => e.data.count === 1));
  assert.deepEqual(heard.filter((e) => e.event === "reaction_removed"), []);
  assert.ok(!heard.some((e) => e.event === "message_edit_reverted" || e.event === "reaction_reverted"));
  assert.ok(!bobSocket.seen.slice(mark.bob).some((e) => e.event === "message_edit_reverted" || e.event === "reaction_reverted"),
    "a replay was refused back to the socket that asked first");
});
