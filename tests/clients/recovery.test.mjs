// Socket.IO connection state recovery end to end (issue 16): the
// unmodified socket.io-client, reconnecting by itself, behind a TCP proxy
// that plays the load balancer (lib/proxy.mjs). The proxy cuts the client
// off (its transport closes, as after a network cut: socket.io-client's
// recovery path, never a DISCONNECT), holds it off while the peer acts,
// then lets it reach another gateway, or the same one after the first was
// SIGKILLed. The client must come back with `socket.recovered === true`,
// the same pid, and every recoverable event it missed, in order, once,
// before any live one; a forged, another user's or an expired pid gives a
// fresh session and nothing of anyone's past.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { io } from "socket.io-client";
import { Stack, connect, http, register, request, waitFor as waitForWithin, sleep } from "./lib/stack.mjs";
import { Proxy } from "./lib/proxy.mjs";

const stack = new Stack("recovery");
const pid = process.pid;
let gwA, gwB; // {base, child, port}
const sockets = [];
const proxies = [];
let users = 0;

before(async () => {
  await stack.startPersistence();
  await stack.startReceipts();
  gwA = await stack.startGatewayProcess("gw-a");
  gwB = await stack.startGatewayProcess("gw-b");
});

after(async () => {
  for (const s of sockets) s.close();
  for (const p of proxies) await p.close();
  await stack.stopAll();
});

const TRANSPORTS = [
  ["WebSocket", { transports: ["websocket"] }],
  ["long-polling with the upgrade", {}], // socket.io-client's default ["polling", "websocket"]
];
const RECOVERABLE = new Set(["new_message", "message_notification", "message_deleted", "messages_read",
  "conversation_created", "member_added", "member_removed", "conversation_deleted"]);

// Generous: a loaded 2-core machine runs these under AddressSanitizer.
const waitFor = (socket, event, pred = () => true) => waitForWithin(socket, event, pred, 30000);

async function user(name) {
  return register(gwA.base, `${name}${++users}_${pid}`);
}

async function startProxy(upstreamPort) {
  const proxy = await Proxy.start(upstreamPort);
  proxies.push(proxy);
  return proxy;
}

// A peer that never goes away: stack.mjs's socket (WebSocket, no reconnection).
async function peer(base, who) {
  const socket = await connect(base, who.token);
  sockets.push(socket);
  return socket;
}

// socket.io-client as an app leaves it (reconnection on, so recovery on),
// retrying quickly. Records every event with all its arguments (the offset
// is the last), every connect with what the client made of it and where
// the connection's events start in seen, and every disconnect reason and
// connect error. The start is where the previous connection ended, not
// the connect event: events a server sends before its CONNECT answer (as
// socket.io's own server sends a recovered session's missed packets) are
// buffered by the client and handed out just before "connect".
function client(url, who, options = {}) {
  const socket = io(url, { auth: { token: who.token }, reconnectionDelay: 100, reconnectionDelayMax: 500, ...options });
  socket.seen = [];
  socket.connects = [];
  socket.disconnects = [];
  socket.errors = [];
  let start = 0;
  socket.onAny((event, ...args) => socket.seen.push({ event, data: args[0], args }));
  socket.on("connect", () => socket.connects.push({ recovered: socket.recovered, pid: socket._pid, mark: start }));
  socket.on("disconnect", (reason) => {
    socket.disconnects.push(reason);
    start = socket.seen.length;
  });
  socket.on("connect_error", (err) => socket.errors.push(err.message));
  sockets.push(socket);
  return socket;
}

async function until(fn, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    assert.ok(Date.now() < deadline, `not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

// The nth connect of socket (1 is the first): {recovered, pid, mark}.
async function connected(socket, n) {
  await until(() => socket.connects.length >= n,
    `connect #${n}; disconnects ${JSON.stringify(socket.disconnects)}, connect errors ${JSON.stringify(socket.errors.slice(-3))}`);
  return socket.connects[n - 1];
}

const since = (socket, mark) => socket.seen.slice(mark);

async function waitSince(socket, mark, event, pred = () => true, timeoutMs = 30000) {
  const found = await until(() => since(socket, mark).find((e) => e.event === event && pred(e.data)),
    `${event} after seen[${mark}]; saw ${JSON.stringify(since(socket, mark).map((e) => e.event))}`, timeoutMs);
  return found.data;
}

// A message event of conversationId from sender, as [event, content]; else null.
function messageFrom(e, conversationId, sender) {
  if (e.event === "new_message" && e.data.conversationId === conversationId && e.data.senderId === sender.id)
    return [e.event, e.data.content];
  if (e.event === "message_notification" && e.data.conversationId === conversationId && e.data.from?.id === sender.id)
    return [e.event, e.data.content];
  return null;
}

const messagesFrom = (events, conversationId, sender) =>
  events.map((e) => messageFrom(e, conversationId, sender)).filter(Boolean);

// from opens its direct conversation with to; to's socket has seen the first message.
async function openDirect(fromSocket, toSocket, to, content) {
  const ack = await request(fromSocket, "send_message", { receiverId: to.id, content, clientMsgId: content });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await waitFor(fromSocket, "message_ack", (a) => a.clientMsgId === content && a.status === "persisted");
  await waitFor(toSocket, "message_notification", (n) => n.content === content);
  return ack.conversationId;
}

// Sends each content (its own clientMsgId) and waits until all are stored; returns the persisted acks.
async function sendStored(socket, conversationId, contents) {
  for (const content of contents) {
    const ack = await request(socket, "send_message", { conversationId, content, clientMsgId: content });
    assert.equal(ack.ok, true, `${content}: ${JSON.stringify(ack)}`);
  }
  const acks = [];
  for (const content of contents)
    acks.push(await waitFor(socket, "message_ack", (a) => a.clientMsgId === content && a.status === "persisted"));
  return acks;
}

// The balancer loses the client: the proxy refuses new connections and
// drops the live ones; the client sees its transport close.
async function cut(proxy, socket) {
  const before = socket.disconnects.length;
  proxy.refuse();
  proxy.dropAll();
  await until(() => socket.disconnects.length > before, "the client's disconnect after the cut");
  assert.match(socket.disconnects.at(-1), /^transport (close|error)$/, "a transport close, socket.io-client's recovery path");
}

// Lets the client back in, to upstream port; the moment it is connected
// again, sendLive() runs (a live event racing the replay). Returns the
// client's connect and sendLive's promise.
async function letBack(proxy, socket, port, sendLive = () => null) {
  const n = socket.connects.length + 1;
  const viaBefore = proxy.connectionsTo(port);
  let live;
  socket.once("connect", () => { live = sendLive(); live?.catch?.(() => {}); });
  proxy.open(port);
  const back = await connected(socket, n);
  assert.ok(proxy.connectionsTo(port) > viaBefore, "the reconnect went through the proxy to the new upstream");
  return { back, live };
}

test("the proxy forwards, switches upstream, drops live connections and refuses new ones", async () => {
  const servers = [];
  const ports = [];
  for (const name of ["A", "B"]) {
    const server = net.createServer((s) => { s.on("error", () => {}); s.end(name); });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    ports.push(server.address().port);
  }
  const held = net.createServer((s) => s.on("error", () => {})); // never answers: a live connection
  await new Promise((resolve) => held.listen(0, "127.0.0.1", resolve));
  const proxy = await startProxy(ports[0]);
  const talk = () => new Promise((resolve) => {
    let got = "";
    const s = net.connect(proxy.port, "127.0.0.1");
    s.on("data", (d) => { got += d; });
    s.on("error", () => {});
    s.on("close", () => resolve(got));
  });
  try {
    assert.equal(await talk(), "A");
    proxy.switchTo(ports[1]);
    assert.equal(await talk(), "B");
    proxy.switchTo(held.address().port);
    const live = net.connect(proxy.port, "127.0.0.1");
    live.on("error", () => {});
    const closed = new Promise((resolve) => live.on("close", resolve));
    await until(() => proxy.live.size === 1, "the held connection is live");
    proxy.refuse();
    assert.equal(proxy.dropAll(), 1);
    await closed;
    assert.equal(await talk(), "", "refused: closed before any byte");
    assert.equal(proxy.refused, 1);
    proxy.open(ports[0]);
    assert.equal(await talk(), "A");
    assert.deepEqual([proxy.connectionsTo(ports[0]), proxy.connectionsTo(ports[1])], [2, 1]);
  } finally {
    for (const s of [...servers, held]) { s.close(); }
  }
});

test("the CONNECT answer carries a pid; every recoverable event carries an offset string as its last argument", async () => {
  const alice = await user("alice");
  const bob = await user("bob");
  const carl = await user("carl");
  const aliceSocket = await peer(gwA.base, alice);
  const bobSocket = client(gwB.base, bob, { transports: ["websocket"] });
  const first = await connected(bobSocket, 1);
  assert.equal(typeof first.pid, "string", "the CONNECT answer carries no pid (socket._pid)");
  assert.ok(first.pid.length > 0);

  // 1-1: conversation_created, message_notification, then open: new_message, message_deleted, messages_read.
  const conversationId = await openDirect(aliceSocket, bobSocket, bob, "o-1");
  assert.deepEqual(await request(bobSocket, "join_conversation", { conversationId }), { ok: true });
  const [second] = await sendStored(aliceSocket, conversationId, ["o-2"]);
  await waitFor(bobSocket, "new_message", (m) => m.content === "o-2");
  const [mine] = await sendStored(bobSocket, conversationId, ["o-3"]);
  assert.equal((await http(gwA.base, "DELETE", `/api/chat/messages/${second.messageId}`, { token: alice.token })).status, 200);
  await waitFor(bobSocket, "message_deleted", (d) => d.messageId === second.messageId);
  assert.deepEqual(await request(aliceSocket, "mark_as_read", { conversationId }), { ok: true, status: "accepted" });
  await waitFor(bobSocket, "messages_read", (r) => r.userId === alice.id && r.lastReadSeq === mine.seq);
  // A group: conversation_created, member_added, member_removed, conversation_deleted.
  const created = await http(gwA.base, "POST", "/api/chat/conversations", { token: alice.token, body: { name: "offsets", memberIds: [bob.id] } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const groupId = created.body.data.conversationId;
  await waitFor(bobSocket, "conversation_created", (c) => c.conversationId === groupId);
  assert.equal((await http(gwA.base, "POST", `/api/chat/conversations/${groupId}/members`, { token: alice.token, body: { userIds: [carl.id] } })).status, 200);
  await waitFor(bobSocket, "member_added", (m) => m.conversationId === groupId);
  assert.equal((await http(gwA.base, "DELETE", `/api/chat/conversations/${groupId}/members/${carl.id}`, { token: alice.token })).status, 200);
  await waitFor(bobSocket, "member_removed", (m) => m.conversationId === groupId && m.userId === carl.id);
  assert.equal((await http(gwA.base, "DELETE", `/api/chat/conversations/${groupId}`, { token: alice.token })).status, 200);
  await waitFor(bobSocket, "conversation_deleted", (m) => m.conversationId === groupId);

  const recoverable = bobSocket.seen.filter((e) => RECOVERABLE.has(e.event));
  assert.deepEqual([...new Set(recoverable.map((e) => e.event))].sort(), [...RECOVERABLE].sort());
  for (const e of recoverable) {
    assert.equal(typeof e.args.at(-1), "string", `${e.event} has no offset as its last argument: ${JSON.stringify(e.args)}`);
    assert.equal(typeof e.args[0], "object", `${e.event}: the payload stays the first argument`);
  }
  assert.equal(bobSocket._lastOffset, recoverable.at(-1).args.at(-1), "socket.io-client keeps the last offset");
});

for (const [name, options] of TRANSPORTS) {
  test(`recovered on another gateway over ${name}: the 5 missed in order, once, then live; it goes on sending; and back again`, async () => {
    const tag = `x${users}`;
    const alice = await user("alice");
    const bob = await user("bob");
    const aliceSocket = await peer(gwB.base, alice);
    const proxy = await startProxy(gwA.port);
    const bobSocket = client(proxy.url, bob, options);
    await connected(bobSocket, 1);
    const conversationId = await openDirect(aliceSocket, bobSocket, bob, `${tag}-0`);
    if (!options.transports) await until(() => bobSocket.io.engine?.transport?.name === "websocket", "the upgrade to WebSocket");
    const pidBefore = bobSocket._pid;

    // Away: the 5 are stored meanwhile; back through the proxy, to gateway B.
    await cut(proxy, bobSocket);
    const missed = [1, 2, 3, 4, 5].map((i) => `${tag}-${i}`);
    await sendStored(aliceSocket, conversationId, missed);
    const live = `${tag}-live`;
    const { back, live: liveSent } = await letBack(proxy, bobSocket, gwB.port,
      () => request(aliceSocket, "send_message", { conversationId, content: live, clientMsgId: live }));
    assert.equal(back.recovered, true, `socket.recovered after the reconnect (pid before ${pidBefore}, after ${back.pid})`);
    assert.equal(back.pid, pidBefore, "a recovered session keeps its pid");
    assert.equal((await liveSent).ok, true);
    await waitSince(bobSocket, back.mark, "message_notification", (n) => n.content === live);

    // The recovered socket is in its rooms: it sends by conversationId.
    const reply = `${tag}-reply`;
    const sent = await request(bobSocket, "send_message", { conversationId, content: reply, clientMsgId: reply });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    await waitFor(aliceSocket, "message_notification", (n) => n.content === reply);
    if (!options.transports) await until(() => bobSocket.io.engine?.transport?.name === "websocket", "the upgrade after the recovery");

    // Away again, back to gateway A: only what was missed since (the replayed events carried offsets too).
    await cut(proxy, bobSocket);
    const missedAgain = [6, 7].map((i) => `${tag}-${i}`);
    await sendStored(aliceSocket, conversationId, missedAgain);
    const { back: again } = await letBack(proxy, bobSocket, gwA.port);
    assert.equal(again.recovered, true, "recovered the second time");
    assert.equal(again.pid, pidBefore);
    await waitSince(bobSocket, again.mark, "message_notification", (n) => n.content === missedAgain.at(-1));
    await sleep(1000); // any repeat would be here by now

    assert.deepEqual(messagesFrom(since(bobSocket, back.mark).slice(0, again.mark - back.mark), conversationId, alice),
      [...missed, live].map((c) => ["message_notification", c]), "the 5 missed, in order, once, then the live one, once");
    assert.deepEqual(messagesFrom(since(bobSocket, again.mark), conversationId, alice),
      missedAgain.map((c) => ["message_notification", c]), "the second time, only the 2 missed since");
    assert.equal(bobSocket.seen.filter((e) => e.event === "conversation_created").length, 1, "conversation_created once");
  });
}

for (const [name, options] of TRANSPORTS) {
  test(`recovered after SIGKILL of the gateway the client used, over ${name}`, async () => {
    const tag = `k${users}`;
    const doomed = await stack.startGatewayProcess(`gw-doomed-${users}`);
    const alice = await user("alice");
    const bob = await user("bob");
    const aliceSocket = await peer(gwB.base, alice);
    const proxy = await startProxy(doomed.port);
    const bobSocket = client(proxy.url, bob, options);
    await connected(bobSocket, 1);
    const conversationId = await openDirect(aliceSocket, bobSocket, bob, `${tag}-0`);
    if (!options.transports) await until(() => bobSocket.io.engine?.transport?.name === "websocket", "the upgrade to WebSocket");
    const pidBefore = bobSocket._pid;

    proxy.refuse();
    const before = bobSocket.disconnects.length;
    const killed = new Promise((resolve) => doomed.child.once("exit", (code, signal) => resolve(signal)));
    doomed.child.kill("SIGKILL");
    assert.equal(await killed, "SIGKILL");
    proxy.dropAll(); // what the dead process's sockets left open, if anything
    await until(() => bobSocket.disconnects.length > before, "the client's disconnect after the kill");
    assert.match(bobSocket.disconnects.at(-1), /^transport (close|error)$/);

    const missed = [1, 2, 3, 4, 5].map((i) => `${tag}-${i}`);
    await sendStored(aliceSocket, conversationId, missed);
    const live = `${tag}-live`;
    const { back, live: liveSent } = await letBack(proxy, bobSocket, gwB.port,
      () => request(aliceSocket, "send_message", { conversationId, content: live, clientMsgId: live }));
    assert.equal(back.recovered, true, `socket.recovered after the gateway's SIGKILL (pid before ${pidBefore}, after ${back.pid})`);
    assert.equal(back.pid, pidBefore);
    assert.equal((await liveSent).ok, true);
    await waitSince(bobSocket, back.mark, "message_notification", (n) => n.content === live);
    const reply = `${tag}-reply`;
    assert.equal((await request(bobSocket, "send_message", { conversationId, content: reply, clientMsgId: reply })).ok, true);
    await waitFor(aliceSocket, "message_notification", (n) => n.content === reply);
    await sleep(1000);
    assert.deepEqual(messagesFrom(since(bobSocket, back.mark), conversationId, alice),
      [...missed, live].map((c) => ["message_notification", c]), "the 5 missed, in order, once, then the live one, once");
  });
}

test("an open conversation stays open: new_message recovered, and live ones still come as new_message", async () => {
  const alice = await user("alice");
  const bob = await user("bob");
  const aliceSocket = await peer(gwB.base, alice);
  const proxy = await startProxy(gwA.port);
  const bobSocket = client(proxy.url, bob, { transports: ["websocket"] });
  await connected(bobSocket, 1);
  const conversationId = await openDirect(aliceSocket, bobSocket, bob, "open-0");
  assert.deepEqual(await request(bobSocket, "join_conversation", { conversationId }), { ok: true });
  await sendStored(aliceSocket, conversationId, ["open-1"]);
  await waitFor(bobSocket, "new_message", (m) => m.content === "open-1");

  await cut(proxy, bobSocket);
  const missed = ["open-2", "open-3", "open-4", "open-5", "open-6"];
  await sendStored(aliceSocket, conversationId, missed);
  const { back, live } = await letBack(proxy, bobSocket, gwB.port,
    () => request(aliceSocket, "send_message", { conversationId, content: "open-live", clientMsgId: "open-live" }));
  assert.equal(back.recovered, true, "socket.recovered after the reconnect");
  assert.equal((await live).ok, true);
  await waitSince(bobSocket, back.mark, "new_message", (m) => m.content === "open-live");
  const sent = await request(bobSocket, "send_message", { conversationId, content: "open-reply", clientMsgId: "open-reply" });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  await waitFor(aliceSocket, "message_notification", (n) => n.content === "open-reply");
  await sleep(1000);
  assert.deepEqual(messagesFrom(since(bobSocket, back.mark), conversationId, alice),
    [...missed, "open-live"].map((c) => ["new_message", c]), "new_message (open), in order, once; no notification");
});

test("a deletion and a read receipt while away are recovered, in the order they happened", async () => {
  const alice = await user("alice");
  const bob = await user("bob");
  const aliceSocket = await peer(gwB.base, alice);
  const proxy = await startProxy(gwA.port);
  const bobSocket = client(proxy.url, bob, { transports: ["websocket"] });
  await connected(bobSocket, 1);
  const conversationId = await openDirect(aliceSocket, bobSocket, bob, "dr-0");
  const [doomed] = await sendStored(aliceSocket, conversationId, ["dr-1"]);
  await waitFor(bobSocket, "message_notification", (n) => n.content === "dr-1");
  const [mine] = await sendStored(bobSocket, conversationId, ["dr-2"]);

  await cut(proxy, bobSocket);
  const deleted = await http(gwB.base, "DELETE", `/api/chat/messages/${doomed.messageId}`, { token: alice.token });
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  await waitFor(aliceSocket, "message_deleted", (d) => d.messageId === doomed.messageId);
  assert.deepEqual(await request(aliceSocket, "mark_as_read", { conversationId }), { ok: true, status: "accepted" });
  await waitFor(aliceSocket, "messages_read", (r) => r.userId === alice.id && r.lastReadSeq === mine.seq);

  const { back } = await letBack(proxy, bobSocket, gwB.port);
  assert.equal(back.recovered, true, "socket.recovered after the reconnect");
  await waitSince(bobSocket, back.mark, "messages_read", (r) => r.userId === alice.id);
  await sendStored(aliceSocket, conversationId, ["dr-live"]);
  await waitSince(bobSocket, back.mark, "message_notification", (n) => n.content === "dr-live");
  await sleep(1000);
  const got = since(bobSocket, back.mark).filter((e) => RECOVERABLE.has(e.event));
  assert.deepEqual(got.map((e) => e.event), ["message_deleted", "messages_read", "message_notification"],
    "the deletion, then the receipt, once each, then the live message");
  assert.deepEqual(got[0].data, { messageId: doomed.messageId, conversationId });
  assert.equal(got[1].data.conversationId, conversationId);
  assert.equal(got[1].data.lastReadSeq, mine.seq);
});

test("membership while away: a new group, a member added, removed from one group, another deleted; the rooms follow", async () => {
  const alice = await user("alice");
  const bob = await user("bob");
  const dave = await user("dave");
  const aliceSocket = await peer(gwB.base, alice);
  const proxy = await startProxy(gwA.port);
  const bobSocket = client(proxy.url, bob, { transports: ["websocket"] });
  await connected(bobSocket, 1);
  const group = async (name, memberIds) => {
    const res = await http(gwB.base, "POST", "/api/chat/conversations", { token: alice.token, body: { name, memberIds } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const id = res.body.data.conversationId;
    await waitFor(aliceSocket, "conversation_created", (c) => c.conversationId === id);
    return id;
  };
  const leaving = await group("bob leaves this one", [bob.id, dave.id]);
  const ending = await group("this one ends", [bob.id]);
  await waitFor(bobSocket, "conversation_created", (c) => c.conversationId === ending);

  await cut(proxy, bobSocket);
  const fresh = await group("made while bob was away", [bob.id]);
  await sendStored(aliceSocket, fresh, ["m-fresh-1"]);
  assert.equal((await http(gwB.base, "POST", `/api/chat/conversations/${fresh}/members`, { token: alice.token, body: { userIds: [dave.id] } })).status, 200);
  await waitFor(aliceSocket, "member_added", (m) => m.conversationId === fresh);
  assert.equal((await http(gwB.base, "DELETE", `/api/chat/conversations/${leaving}/members/${bob.id}`, { token: alice.token })).status, 200);
  await waitFor(aliceSocket, "member_removed", (m) => m.conversationId === leaving && m.userId === bob.id);
  assert.equal((await http(gwB.base, "DELETE", `/api/chat/conversations/${ending}`, { token: alice.token })).status, 200);
  await waitFor(aliceSocket, "conversation_deleted", (m) => m.conversationId === ending);

  const { back } = await letBack(proxy, bobSocket, gwB.port);
  assert.equal(back.recovered, true, "socket.recovered after the reconnect");
  await waitSince(bobSocket, back.mark, "conversation_deleted", (m) => m.conversationId === ending);
  // Live: the new group's room was joined, the left one's was not kept.
  await sendStored(aliceSocket, leaving, ["m-left-live"]);
  await sendStored(aliceSocket, fresh, ["m-fresh-live"]);
  await waitSince(bobSocket, back.mark, "message_notification", (n) => n.content === "m-fresh-live");
  const sent = await request(bobSocket, "send_message", { conversationId: fresh, content: "m-fresh-bob", clientMsgId: "m-fresh-bob" });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  const refused = await request(bobSocket, "send_message", { conversationId: leaving, content: "m-left-bob", clientMsgId: "m-left-bob" });
  assert.equal(refused.error?.code, "FORBIDDEN", JSON.stringify(refused));
  await sleep(1000);
  const got = since(bobSocket, back.mark).filter((e) => RECOVERABLE.has(e.event))
    .map((e) => [e.event, e.data.conversationId, e.data.content ?? e.data.userId ?? e.data.userIds?.[0] ?? null]);
  const expected = [
    ["conversation_created", fresh, null],
    ["message_notification", fresh, "m-fresh-1"],
    ["member_added", fresh, dave.id],
    ["member_removed", leaving, bob.id],
    ["conversation_deleted", ending, null],
    ["message_notification", fresh, "m-fresh-live"],
  ];
  assert.deepEqual(got, expected, "each once, in the order it happened, then live; nothing of the group bob left");
});

test("a forged pid gives a fresh session: a new pid, recovered false, nothing missed replayed, live works", async () => {
  const alice = await user("alice");
  const bob = await user("bob");
  const aliceSocket = await peer(gwB.base, alice);
  const proxy = await startProxy(gwA.port);
  const bobSocket = client(proxy.url, bob, { transports: ["websocket"] });
  await connected(bobSocket, 1);
  const conversationId = await openDirect(aliceSocket, bobSocket, bob, "f-0");

  await cut(proxy, bobSocket);
  const missed = ["f-1", "f-2", "f-3"];
  await sendStored(aliceSocket, conversationId, missed);
  // Tampered: the real pid with its last character changed (or a made-up one, when there is none).
  const real = bobSocket._pid;
  const forged = real ? real.slice(0, -1) + (real.at(-1) === "A" ? "B" : "A") : randomBytes(15).toString("base64url");
  bobSocket._pid = forged;
  bobSocket._lastOffset ??= "0";
  const { back } = await letBack(proxy, bobSocket, gwB.port);
  assert.notEqual(back.recovered, true, "a forged pid restored a session");
  await sendStored(aliceSocket, conversationId, ["f-live"]);
  await waitSince(bobSocket, back.mark, "message_notification", (n) => n.content === "f-live");
  await sleep(1000);
  assert.deepEqual(messagesFrom(since(bobSocket, back.mark), conversationId, alice), [["message_notification", "f-live"]],
    "a fresh session: nothing missed replayed, the live one once");
  assert.equal(typeof back.pid, "string", "a fresh session is offered a new pid (socket._pid)");
  assert.notEqual(back.pid, forged);
  assert.notEqual(back.pid, real);
  assert.equal(back.recovered, false);
});

test("another user's pid (socket._pid of the victim) restores nothing of theirs; the victim still recovers", async () => {
  const alice = await user("alice");
  const bob = await user("bob");
  const mallory = await user("mallory");
  const aliceSocket = await peer(gwB.base, alice);
  const proxy = await startProxy(gwA.port);
  const bobSocket = client(proxy.url, bob, { transports: ["websocket"] });
  await connected(bobSocket, 1);
  const conversationId = await openDirect(aliceSocket, bobSocket, bob, "v-0");
  await sendStored(aliceSocket, conversationId, ["v-1"]);
  await waitFor(bobSocket, "message_notification", (n) => n.content === "v-1");
  const victimPid = bobSocket._pid;
  const victimOffset = bobSocket._lastOffset;

  await cut(proxy, bobSocket);
  const missed = ["v-2", "v-3", "v-4"];
  await sendStored(aliceSocket, conversationId, missed);
  // mallory presents bob's pid and offset as her own reconnect would.
  const thief = client(gwB.base, mallory, { transports: ["websocket"], autoConnect: false });
  thief._pid = victimPid ?? randomBytes(15).toString("base64url");
  thief._lastOffset = victimOffset ?? "0";
  thief.connect();
  const taken = await connected(thief, 1);
  assert.notEqual(taken.recovered, true, "another user's pid restored a session");
  await sendStored(aliceSocket, conversationId, ["v-5"]);
  await sleep(1000);
  const leaked = thief.seen.filter((e) => JSON.stringify(e.args).includes(conversationId) || /"v-\d+"/.test(JSON.stringify(e.args)));
  assert.deepEqual(leaked, [], "the thief got something of the victim's conversation");
  assert.equal(typeof taken.pid, "string", "a fresh session is offered a new pid (socket._pid)");
  assert.notEqual(taken.pid, victimPid);
  assert.equal(taken.recovered, false);
  // Trying bob's pid took nothing from bob: his own reconnect recovers.
  const { back } = await letBack(proxy, bobSocket, gwB.port);
  assert.equal(back.recovered, true, "the victim's session survives the thief's attempt");
  await waitSince(bobSocket, back.mark, "message_notification", (n) => n.content === "v-5");
  await sleep(1000);
  assert.deepEqual(messagesFrom(since(bobSocket, back.mark), conversationId, alice),
    [...missed, "v-5"].map((c) => ["message_notification", c]));
});

test("an expired session (CHAT_RECOVERY_WINDOW_SECONDS=5) gives a fresh session; a short disconnection still recovers", async () => {
  const short = await stack.startGatewayProcess("gw-short", { CHAT_RECOVERY_WINDOW_SECONDS: "5" });
  const alice = await user("alice");
  const bob = await user("bob");
  const aliceSocket = await peer(gwB.base, alice);
  const proxy = await startProxy(short.port);
  const bobSocket = client(proxy.url, bob, { transports: ["websocket"] });
  await connected(bobSocket, 1);
  const conversationId = await openDirect(aliceSocket, bobSocket, bob, "e-0");
  const pidBefore = bobSocket._pid;

  // Away longer than the window (a clock, so a sleep): a fresh session, nothing missed replayed.
  await cut(proxy, bobSocket);
  await sendStored(aliceSocket, conversationId, ["e-1", "e-2"]);
  await sleep(9000);
  const { back } = await letBack(proxy, bobSocket, short.port);
  assert.notEqual(back.recovered, true, "a session older than CHAT_RECOVERY_WINDOW_SECONDS was restored");
  await sendStored(aliceSocket, conversationId, ["e-live"]);
  await waitSince(bobSocket, back.mark, "message_notification", (n) => n.content === "e-live");
  await sleep(1000);
  assert.deepEqual(messagesFrom(since(bobSocket, back.mark), conversationId, alice), [["message_notification", "e-live"]],
    "a fresh session: nothing missed replayed, the live one once");
  assert.equal(typeof back.pid, "string", "a fresh session is offered a new pid (socket._pid)");
  assert.notEqual(back.pid, pidBefore);
  assert.equal(back.recovered, false);

  // The same gateway recovers a disconnection shorter than its window.
  await cut(proxy, bobSocket);
  await sendStored(aliceSocket, conversationId, ["e-3"]);
  const { back: soon } = await letBack(proxy, bobSocket, short.port);
  assert.equal(soon.recovered, true, "a short disconnection within the window recovers");
  await waitSince(bobSocket, soon.mark, "message_notification", (n) => n.content === "e-3");
});

test("control: auth.lastSeqs kept up to date by the app still resumes through the proxy on gateway B, once, in order", async () => {
  // Passes without recovery too: it checks the proxy's switch and the
  // client's reconnect, and that lastSeqs beside a pid gives no repeats.
  const alice = await user("alice");
  const bob = await user("bob");
  const aliceSocket = await peer(gwB.base, alice);
  const proxy = await startProxy(gwA.port);
  const bobSocket = client(proxy.url, bob, { transports: ["websocket"], auth: { token: bob.token, lastSeqs: {} } });
  bobSocket.onAny((event, m) => {
    if ((event === "new_message" || event === "message_notification") && m.seq > (bobSocket.auth.lastSeqs[m.conversationId] ?? 0))
      bobSocket.auth.lastSeqs[m.conversationId] = m.seq;
  });
  await connected(bobSocket, 1);
  const conversationId = await openDirect(aliceSocket, bobSocket, bob, "c-0");
  await until(() => bobSocket.auth.lastSeqs[conversationId] === 1, "the app noted seq 1");

  await cut(proxy, bobSocket);
  const missed = ["c-1", "c-2", "c-3", "c-4", "c-5"];
  await sendStored(aliceSocket, conversationId, missed);
  const { back, live } = await letBack(proxy, bobSocket, gwB.port,
    () => request(aliceSocket, "send_message", { conversationId, content: "c-live", clientMsgId: "c-live" }));
  assert.equal(proxy.connectionsTo(gwA.port), 1);
  assert.equal((await live).ok, true);
  await until(() => since(bobSocket, back.mark).some((e) => messageFrom(e, conversationId, alice)?.[1] === "c-live"), "c-live after the reconnect");
  await sleep(1000);
  assert.deepEqual(messagesFrom(since(bobSocket, back.mark), conversationId, alice).map(([, content]) => content),
    [...missed, "c-live"], "the 5 missed, in order, once, then the live one, once");
});
