// Chat management end to end on the real stack (issue 7): seed 001's user
// scenarios (register, create a chat, fetch all users, add users; fetch
// chats, connect, message; view members, remove users), leaving and
// deleting, message deletion (seed 000), search (seed 004), and every
// forbidden action refused with a clear error.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { Stack, connect, http, register, request, waitFor, sleep, mongoUri } from "./lib/stack.mjs";

const stack = new Stack("groups");
let gwA, gwB, mongo, db;
const pid = process.pid;
const sockets = [];

before(async () => {
  await stack.startPersistence();
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

const call = (user, method, path, body) => http(gwA, method, path, { token: user?.token, body });

async function group(owner, members, name = "Weekend plans") {
  const res = await call(owner, "POST", "/api/chat/conversations", { name, memberIds: members.map((m) => m.id) });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data.conversationId;
}

test("seed 001: create a chat, add users, message, view members, remove users — live on every gateway", async () => {
  const olive = await register(gwA, `olive_${pid}`);
  const paul = await register(gwA, `paul_${pid}`);
  const quinn = await register(gwB, `quinn_${pid}`);
  const rhea = await register(gwB, `rhea_${pid}`);
  const paulSocket = await open(gwB, paul);
  const quinnSocket = await open(gwA, quinn);
  const rheaSocket = await open(gwA, rhea);

  // Fetch all users, then create the chat with two of them.
  const users = (await call(olive, "GET", "/api/users")).body.data.users.map((u) => u.id);
  assert.ok([paul.id, quinn.id, rhea.id].every((id) => users.includes(id)));
  const created = await call(olive, "POST", "/api/chat/conversations", { name: "Weekend plans", memberIds: [paul.id, quinn.id] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.message, "Conversation created");
  const conversationId = created.body.data.conversationId;
  assert.equal(created.body.data.kind, "group");
  assert.equal(created.body.data.name, "Weekend plans");
  assert.deepEqual(created.body.data.participants.map((p) => p.id), [olive.id, paul.id, quinn.id]);
  const welcome = await waitFor(paulSocket, "conversation_created", (c) => c.conversationId === conversationId);
  assert.equal(welcome.kind, "group");

  // Add a user: she joins the room live and the room hears of it.
  const added = await call(olive, "POST", `/api/chat/conversations/${conversationId}/members`, { userIds: [rhea.id] });
  assert.equal(added.status, 200, JSON.stringify(added.body));
  assert.deepEqual(added.body.data.added, [rhea.id]);
  await waitFor(rheaSocket, "conversation_created", (c) => c.conversationId === conversationId);
  assert.deepEqual(await waitFor(paulSocket, "member_added"), { conversationId, userIds: [rhea.id], actorId: olive.id });

  // Fetch chats: the group is listed.
  const list = (await call(rhea, "GET", "/api/chat/conversations")).body.data.conversations;
  assert.ok(list.some((c) => c.id === conversationId && c.kind === "group" && c.name === "Weekend plans" && c.ownerId === olive.id));

  // Connect and message: everyone else in the room hears it.
  assert.equal((await request(quinnSocket, "send_message", { conversationId, content: "who brings snacks?", clientMsgId: "q1" })).ok, true);
  for (const s of [paulSocket, rheaSocket]) await waitFor(s, "message_notification", (n) => n.content === "who brings snacks?");
  assert.deepEqual(await request(rheaSocket, "join_conversation", { conversationId }), { ok: true });
  await request(quinnSocket, "send_message", { conversationId, content: "me!", clientMsgId: "q2" });
  const message = await waitFor(rheaSocket, "new_message", (m) => m.content === "me!");
  assert.equal(message.receiverId, null, "a group message has no single receiver");

  // View members, with roles.
  const members = await call(paul, "GET", `/api/chat/conversations/${conversationId}/members`);
  assert.equal(members.status, 200, JSON.stringify(members.body));
  assert.equal(members.body.data.total, 4);
  const roles = Object.fromEntries(members.body.data.members.map((m) => [m.username, m.role]));
  assert.deepEqual(roles, { [olive.username]: "owner", [paul.username]: "member", [quinn.username]: "member", [rhea.username]: "member" });

  // Remove a user: the room hears it once; the user's sockets leave the room at once.
  const removed = await call(olive, "DELETE", `/api/chat/conversations/${conversationId}/members/${quinn.id}`);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  await waitFor(quinnSocket, "member_removed", (r) => r.userId === quinn.id);
  await waitFor(paulSocket, "member_removed", (r) => r.userId === quinn.id);
  await sleep(300);
  assert.equal(quinnSocket.seen.filter((e) => e.event === "member_removed").length, 1, "the removed user hears it once");
  const refused = await request(quinnSocket, "send_message", { conversationId, content: "still here?", clientMsgId: "q3" });
  assert.deepEqual(refused.error, { code: "FORBIDDEN", message: "not a member of this conversation" });
  await request(rheaSocket, "send_message", { conversationId, content: "after quinn left", clientMsgId: "r1" });
  await waitFor(paulSocket, "message_notification", (n) => n.content === "after quinn left");
  await sleep(500);
  assert.ok(!quinnSocket.seen.some((e) => e.data?.content === "after quinn left"), "a removed user still hears the room");
  assert.equal((await call(quinn, "GET", `/api/chat/conversations/${conversationId}/messages`)).status, 403);
});

test("a group of 1,000 members (the most) takes members and messages like a small one", async () => {
  // A group's members are one array in its conversation document, which
  // FerretDB on PostgreSQL indexed as one btree key: once the array passed
  // btree's 2,704 bytes (about 100 ids of users registered on several
  // gateways) every change of the group failed on the store, and
  // persistence retried it for ever (deploy/ferretdb/gin-indexes.sql).
  const owner = await register(gwA, `big_owner_${pid}`);
  const last = await register(gwB, `big_last_${pid}`);
  // 998 more users, stored as registration stores them; random ids, as
  // users registered over time on many gateways have.
  const hex = () => Array.from({ length: 24 }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("");
  const others = Array.from({ length: 998 }, (_, i) => ({ _id: hex(), username: `big_${i}_${pid}`, passwordHash: "not a hash", createdAt: new Date() }));
  await db.collection("users").insertMany(others);
  const ids = [...others.map((u) => u._id), last.id];
  const conversationId = await group(owner, ids.slice(0, 99).map((id) => ({ id })), "Everyone");
  for (let i = 99; i < ids.length; i += 100) {
    const added = await call(owner, "POST", `/api/chat/conversations/${conversationId}/members`, { userIds: ids.slice(i, i + 100) });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.body.data.memberCount, Math.min(i + 100, ids.length) + 1);
  }
  const full = await call(owner, "POST", `/api/chat/conversations/${conversationId}/members`, { userIds: [hex()] });
  assert.deepEqual([full.status, full.body.error?.message], [413, "a group has at most 1000 members"]);
  const lastSocket = await open(gwB, last);
  const sent = await call(owner, "POST", "/api/chat/send", { conversationId, content: "hello, all 1,000" });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  await waitFor(lastSocket, "message_notification", (m) => m.content === "hello, all 1,000");
  const members = await call(last, "GET", `/api/chat/conversations/${conversationId}/members`);
  assert.equal(members.status, 200, JSON.stringify(members.body));
  assert.equal(members.body.data.total, 1000);
});

test("forbidden actions are refused with a clear error", async () => {
  const sara = await register(gwA, `sara_${pid}`);
  const tom = await register(gwA, `tom_${pid}`);
  const ulla = await register(gwA, `ulla_${pid}`);
  const stranger = await register(gwA, `stranger_${pid}`);
  const conversationId = await group(sara, [tom, ulla]);
  const cases = [
    [tom, "DELETE", `/api/chat/conversations/${conversationId}/members/${ulla.id}`, undefined, 403, "only the owner may remove members"],
    [tom, "DELETE", `/api/chat/conversations/${conversationId}`, undefined, 403, "only the owner may delete the conversation"],
    [stranger, "GET", `/api/chat/conversations/${conversationId}/messages`, undefined, 403, "not a member of this conversation"],
    [stranger, "GET", `/api/chat/conversations/${conversationId}/search?q=hi`, undefined, 403, "not a member of this conversation"],
    [stranger, "GET", `/api/chat/conversations/${conversationId}/members`, undefined, 403, "not a member of this conversation"],
    [stranger, "POST", `/api/chat/conversations/${conversationId}/members`, { userIds: [stranger.id] }, 403, "not a member of this conversation"],
    [stranger, "POST", `/api/chat/conversations/${conversationId}/leave`, undefined, 403, "not a member of this conversation"],
    [sara, "DELETE", `/api/chat/conversations/${conversationId}/members/${stranger.id}`, undefined, 404, "that user is not a member of this conversation"],
    [sara, "DELETE", `/api/chat/conversations/${conversationId}/members/${sara.id}`, undefined, 400, "the owner leaves with POST .../leave, not by removal"],
    [sara, "POST", `/api/chat/conversations/${conversationId}/members`, { userIds: ["65f1a0c2e4b0a1b2c3d4e5aa"] }, 404, "no user with id 65f1a0c2e4b0a1b2c3d4e5aa"],
    [sara, "POST", "/api/chat/conversations", { name: "", memberIds: [] }, 400, "name is required: a string of 1 to 100 bytes"],
    [sara, "POST", "/api/chat/conversations", { name: "x", memberIds: ["nope"] }, 400, "memberIds must hold only user ids (24 hex digits)"],
    [sara, "POST", "/api/chat/conversations", { name: "x", memberIds: ["65f1a0c2e4b0a1b2c3d4e5aa"] }, 404, "no user with id 65f1a0c2e4b0a1b2c3d4e5aa"],
    [sara, "POST", `/api/chat/conversations/${conversationId}/members`, { userIds: [] }, 400, "userIds must hold at least one user id"],
    [sara, "DELETE", "/api/chat/conversations/65f1a0d9e4b0a1b2c3d4e6ff", undefined, 403, "not a member of this conversation"],
    [sara, "GET", `/api/chat/conversations/${conversationId}/search`, undefined, 400, "q is required: the text to look for, 1 to 200 bytes"],
    [undefined, "POST", "/api/chat/conversations", { name: "x", memberIds: [] }, 401, null],
  ];
  for (const [user, method, path, body, status, message] of cases) {
    const res = await call(user, method, path, body);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.success, false);
    if (message) assert.equal(res.body.error.message, message, `${method} ${path}`);
  }
  // A 1-1 conversation has no members to manage.
  const direct = await call(sara, "POST", "/api/chat/send", { receiverId: tom.id, content: "hi" });
  const directId = direct.body.data.conversation_id;
  const res = await call(sara, "POST", `/api/chat/conversations/${directId}/members`, { userIds: [ulla.id] });
  assert.deepEqual([res.status, res.body.error.message], [400, "the members of a 1-1 conversation cannot change"]);
});

test("leave and delete: the owner's leaving hands the chat on; deleting it stops serving it", async () => {
  const vera = await register(gwA, `vera_${pid}`);
  const walt = await register(gwA, `walt_${pid}`);
  const xia = await register(gwB, `xia_${pid}`);
  const conversationId = await group(vera, [walt, xia]);
  const waltSocket = await open(gwB, walt);
  await sleep(300);
  const left = await call(vera, "POST", `/api/chat/conversations/${conversationId}/leave`);
  assert.equal(left.status, 200, JSON.stringify(left.body));
  assert.equal(left.body.data.ownerId, walt.id, "the longest-standing member takes over");
  await waitFor(waltSocket, "member_removed", (r) => r.userId === vera.id && r.actorId === vera.id);
  assert.equal((await call(vera, "GET", `/api/chat/conversations/${conversationId}/messages`)).status, 403);

  await call(xia, "POST", "/api/chat/send", { conversationId, content: "kept in the database" });
  const deleted = await call(walt, "DELETE", `/api/chat/conversations/${conversationId}`);
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  await waitFor(waltSocket, "conversation_deleted", (d) => d.conversationId === conversationId);
  assert.equal((await call(xia, "GET", `/api/chat/conversations/${conversationId}/messages`)).status, 404);
  assert.ok(!(await call(walt, "GET", "/api/chat/conversations")).body.data.conversations.some((c) => c.id === conversationId));
  const late = await call(xia, "POST", "/api/chat/send", { conversationId, content: "anyone?" });
  assert.deepEqual([late.status, late.body.error.message], [404, "this conversation was deleted"]);
  assert.equal(await db.collection("messages").countDocuments({ conversationId }), 1, "messages stay stored");
  const refused = await request(waltSocket, "typing", { conversationId });
  assert.equal(refused.ok, false, "the room was left on delete");
});

test("delete_message (seed 000): only the sender, only once; gone from history and search, kept in the database", async () => {
  const yuri = await register(gwA, `yuri_${pid}`);
  const zoe = await register(gwB, `zoe_${pid}`);
  const yuriSocket = await open(gwA, yuri);
  const zoeSocket = await open(gwB, zoe);
  const first = await request(yuriSocket, "send_message", { receiverId: zoe.id, content: "Secret plan", clientMsgId: "y1" });
  const conversationId = first.conversationId;
  const stored = await waitFor(yuriSocket, "message_ack", (a) => a.status === "persisted" && a.clientMsgId === "y1");
  await request(yuriSocket, "send_message", { conversationId, content: "public plan", clientMsgId: "y2" });
  await waitFor(yuriSocket, "message_ack", (a) => a.status === "persisted" && a.clientMsgId === "y2");
  const messageId = stored.messageId;

  assert.deepEqual(await request(zoeSocket, "delete_message", { messageId }), { ok: true, status: "accepted" });
  assert.deepEqual(await waitFor(zoeSocket, "message_deletion_reverted"), { messageId, reason: "only the sender may delete a message", code: "FORBIDDEN" });
  assert.deepEqual(await request(yuriSocket, "delete_message", { messageId }), { ok: true, status: "accepted" });
  assert.deepEqual(await waitFor(zoeSocket, "message_deleted"), { messageId, conversationId });
  await request(yuriSocket, "delete_message", { messageId });
  assert.equal((await waitFor(yuriSocket, "message_deletion_reverted")).reason, "message already deleted");
  // The gateway's own refusals are reverted too (seed 000: every failure), beside the ack error.
  for (const [payload, echoed, reason] of [
    [{ messageId: "x" }, "x", "messageId must be 24 hex digits"],
    [{ messageId: null }, "", "expected {messageId} as the first argument"],
    [[messageId], "", "expected {messageId} as the first argument"],
  ]) {
    yuriSocket.seen.length = 0;
    const bad = await request(yuriSocket, "delete_message", payload);
    assert.deepEqual(bad, { ok: false, error: { code: "INVALID_ARGUMENT", message: reason } });
    assert.deepEqual(await waitFor(yuriSocket, "message_deletion_reverted"), { messageId: echoed, reason, code: "INVALID_ARGUMENT" });
  }

  const history = (await call(zoe, "GET", `/api/chat/conversations/${conversationId}/messages`)).body.data.messages;
  assert.deepEqual(history.map((m) => m.content), ["public plan"]);
  const search = (await call(zoe, "GET", `/api/chat/conversations/${conversationId}/search?q=plan`)).body.data;
  assert.deepEqual(search.messages.map((m) => m.content), ["public plan"]);
  const kept = await db.collection("messages").findOne({ _id: messageId });
  assert.ok(kept.deletedAt instanceof Date, "soft delete: the document stays with deletedAt");

  // REST DELETE /api/chat/messages/:id does the same.
  const second = await call(yuri, "POST", "/api/chat/send", { conversationId, content: "oops" });
  const del = await call(yuri, "DELETE", `/api/chat/messages/${second.body.data.id}`);
  assert.equal(del.status, 200, JSON.stringify(del.body));
  const again = await call(yuri, "DELETE", `/api/chat/messages/${second.body.data.id}`);
  assert.deepEqual([again.status, again.body.error.message], [404, "message already deleted"]);
  const notMine = await call(zoe, "DELETE", `/api/chat/messages/${first.conversationId}`);
  assert.deepEqual([notMine.status, notMine.body.error.message], [404, "message not found"]);
});

test("search (seed 004): case-insensitive, plain text (no regex injection), paginated", async () => {
  const abe = await register(gwA, `abe_${pid}`);
  const bo = await register(gwA, `bo_${pid}`);
  const texts = ["Hello World", "hello again", "say HELLO", "nothing here", "a.*b literally", "(unbalanced", "price $5 + tax?"];
  let conversationId;
  for (const content of texts) {
    const r = await call(abe, "POST", "/api/chat/send", { receiverId: bo.id, content });
    conversationId = r.body.data.conversation_id;
  }
  const search = async (q, extra = "") => (await call(bo, "GET", `/api/chat/conversations/${conversationId}/search?q=${encodeURIComponent(q)}${extra}`)).body.data;
  const hello = await search("hello");
  assert.deepEqual(hello.messages.map((m) => m.content), ["say HELLO", "hello again", "Hello World"], "newest first, any case");
  assert.equal(hello.total, 3);
  assert.deepEqual((await search(".*")).messages.map((m) => m.content), ["a.*b literally"], ".* is text, not a pattern");
  assert.deepEqual((await search("(unbal")).messages.map((m) => m.content), ["(unbalanced"]);
  assert.deepEqual((await search("$5 + tax?")).messages.map((m) => m.content), ["price $5 + tax?"]);
  assert.equal((await search("^")).total, 0);
  const page2 = await search("hello", "&page=2&limit=2");
  assert.deepEqual(page2.messages.map((m) => m.content), ["Hello World"]);
  assert.deepEqual([page2.page, page2.totalPages], [2, 2]);
});
