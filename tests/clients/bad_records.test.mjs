// Bad input at the edges between services (issue 20): a malformed record,
// a record of an unknown envelope version and an oversized record on each
// consumed topic (chat.commands, chat.receipts, chat.presence read by their
// services, chat.broadcast read by every gateway), produced with kcat on
// the partition of a live conversation or user. Each is logged and
// skipped: no consumer crashes, none is stuck on its partition, and a
// normal message, read receipt and presence change still flow after them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Stack, connect, http, register, request, waitFor, brokers } from "./lib/stack.mjs";

const stack = new Stack("badrecords", { CHAT_TOPIC_PARTITIONS: "1" }); /* one partition: any stuck record blocks all */
let gw, services;
const sockets = [];
const pid = process.pid;

before(async () => {
  services = [
    await stack.startPersistence({ CHAT_INSTANCE_ID: "persistence-1" }),
    await stack.startPresence(),
    await stack.startReceipts(),
  ];
  const g = await stack.startGatewayProcess("gw-bad");
  gw = g.base;
  services.push(g.child);
});

after(async () => {
  for (const s of sockets) s.close();
  await stack.stopAll();
});

// One record with kcat: value from stdin (no delimiter: it may be any bytes), key and headers.
function produce(topic, key, value, headers = {}) {
  const args = ["-P", "-b", brokers, "-t", `${stack.prefix}${topic}`, "-k", key, "-D", "\u0001",
    "-X", "message.max.bytes=2000000"];
  for (const [name, v] of Object.entries(headers)) args.push("-H", `${name}=${v}`);
  execFileSync("kcat", args, { input: value });
}

const envelope = (v, type, payload) => JSON.stringify({
  v, type, id: "65f1a200e4b0a1b2c3d4e801", ts: Date.now(), source: "gateway/kcat", payload,
});

test("malformed, unknown-version and oversized records on every consumed topic are skipped; traffic goes on", async () => {
  const alice = await register(gw, `alice_${pid}`);
  const bob = await register(gw, `bob_${pid}`);
  const aliceSocket = await connect(gw, alice.token);
  const bobSocket = await connect(gw, bob.token);
  sockets.push(aliceSocket, bobSocket);
  const first = await request(aliceSocket, "send_message", { receiverId: bob.id, content: "before", clientMsgId: "b-1" });
  const conversationId = first.conversationId;
  await waitFor(aliceSocket, "message_ack", (a) => a.clientMsgId === "b-1" && a.status === "persisted");
  assert.deepEqual(await request(bobSocket, "join_conversation", { conversationId }), { ok: true });
  assert.deepEqual(await request(aliceSocket, "join_conversation", { conversationId }), { ok: true });

  // The envelope consumers (common/src/dispatch.c). Persistence takes up to
  // 1 MiB, the broker's own default record limit, so its oversized record
  // is the largest the broker takes, with a content far past
  // CHAT_MAX_CONTENT_BYTES; presence and receipts take 64 KiB.
  const sendPayload = (content) => ({ conversationId, senderId: alice.id, content, clientMsgId: `kcat-${content.length}` });
  const bad = {
    "chat.commands": [conversationId, ["{not json", envelope(99, "message.send", sendPayload("v99")),
      envelope(1, "message.send", sendPayload("x".repeat(1000000))), "\u0000\u00ff binary"]],
    "chat.receipts": [conversationId, ["{not json", envelope(99, "read.mark_conversation", { conversationId, userId: bob.id }),
      envelope(1, "read.mark_conversation", { conversationId, userId: bob.id, pad: "x".repeat(200000) })]],
    "chat.presence": [bob.id, ["{not json", envelope(99, "session.opened", { userId: bob.id, gatewayId: "gw-kcat", connectionId: "c1" }),
      envelope(1, "session.opened", { userId: bob.id, gatewayId: "gw-kcat", connectionId: "c2", pad: "x".repeat(200000) })]],
  };
  for (const [topic, [key, values]] of Object.entries(bad)) {
    for (const value of values) produce(topic, key, value);
  }
  // chat.broadcast carries the payload clients receive, routed by headers:
  // no headers, an unknown target, and an oversized value to nobody.
  produce("chat.broadcast", `room:${conversationId}`, "{not json");
  produce("chat.broadcast", "nobody", JSON.stringify({ v: 99 }), { event: "new_message", target: "nowhere:at-all" });
  produce("chat.broadcast", "user:65f1a0c2e4b0a1b2c3d4e5aa", JSON.stringify({ pad: "x".repeat(900000) }),
    { event: "new_message", target: "user:65f1a0c2e4b0a1b2c3d4e5aa" });

  // The same partitions still move: a message, a read receipt, presence.
  const after = await request(aliceSocket, "send_message", { conversationId, content: "after", clientMsgId: "b-2" });
  assert.equal(after.ok, true, JSON.stringify(after));
  const delivered = await waitFor(bobSocket, "new_message", (m) => m.content === "after", 30000);
  assert.equal(delivered.seq, 2, "a bad record took a seq");
  assert.deepEqual(await request(bobSocket, "mark_as_read", { conversationId }), { ok: true, status: "accepted" });
  const read = await waitFor(aliceSocket, "messages_read", (r) => r.userId === bob.id, 30000);
  assert.equal(read.lastReadSeq, 2);
  const presence = await http(gw, "GET", `/api/users/${bob.id}/presence`, { token: alice.token });
  assert.equal(presence.body.data.online, true, JSON.stringify(presence.body));
  assert.ok(aliceSocket.connected && bobSocket.connected);
  // Nobody got anything of the bad records.
  for (const s of [aliceSocket, bobSocket]) {
    const odd = s.seen.filter((e) => JSON.stringify(e.data ?? null).includes("xxxxxxxx") || e.data?.v === 99);
    assert.deepEqual(odd, []);
  }
  for (const child of services) assert.equal(child.exitCode, null, "a consumer exited on a bad record");
});
