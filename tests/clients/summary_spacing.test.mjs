// A conversation's summary (lastSeq, lastMessage: what conversation lists
// and unread counts read) is written behind its messages, at most once a
// spacing. The spacing doubles while the conversation has a new message in
// every spacing, up to CHAT_SUMMARY_INTERVAL_MAX_MS, and a conversation
// quiet for a whole spacing is written at once again
// (services/persistence/summary_writer.c; on FerretDB one summary write
// costs the store as much as about 26 stored messages).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { Stack, http, register, sleep, mongoUri } from "./lib/stack.mjs";

const FIRST_MS = 250;
const MAX_MS = 2000;
const stack = new Stack("summary_spacing");
let gw, persistence, mongo, db;

before(async () => {
  persistence = await stack.startPersistence({
    CHAT_SUMMARY_INTERVAL_MS: String(FIRST_MS),
    CHAT_SUMMARY_INTERVAL_MAX_MS: String(MAX_MS),
  });
  gw = await stack.startGateway("gw-a");
  mongo = new MongoClient(mongoUri);
  db = mongo.db(stack.database);
});

after(async () => {
  await mongo?.close();
  await stack.stopAll();
});

async function summariesWritten() {
  const text = await (await fetch(`http://127.0.0.1:${persistence.healthPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith('chat_persistence_conversation_updates_total{outcome="written"}'));
  return line ? Number(line.split(" ").pop()) : 0;
}

async function send(alice, bob, content) {
  const r = await http(gw, "POST", "/api/chat/send", { token: alice.token, body: { receiverId: bob.id, content } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.data;
}

// ms until the stored summary of conversationId reaches seq, or null past timeoutMs.
async function msUntilSummary(conversationId, seq, timeoutMs) {
  const start = Date.now();
  while (Date.now() - start <= timeoutMs) {
    const c = await db.collection("conversations").findOne({ _id: conversationId });
    if (c && c.lastSeq >= seq) return Date.now() - start;
    await sleep(25);
  }
  return null;
}

test("a busy conversation's summary is written ever less often, a quiet one's at once", async () => {
  const alice = await register(gw, `alice_${process.pid}`);
  const bob = await register(gw, `bob_${process.pid}`);
  const first = await send(alice, bob, "m0");
  const conversationId = first.conversation_id;
  assert.notEqual(await msUntilSummary(conversationId, first.seq, 2000), null, "the first summary is written");

  // Busy for 4.5 s: a fixed 250 ms spacing would be about 18 writes; doubling
  // (250, 500, 1000, 2000 ms) about 5.
  const before = await summariesWritten();
  let last = first;
  for (let i = 1, start = Date.now(); Date.now() - start < 4500; i++) {
    last = await send(alice, bob, `m${i}`);
    await sleep(20);
  }
  const during = (await summariesWritten()) - before;
  assert.ok(last.seq > 30, `enough messages to keep the conversation busy (${last.seq})`);
  assert.ok(during >= 3 && during <= 8, `${during} summary writes in 4.5 s of a busy conversation`);

  // The last summary follows within the longest spacing.
  const trailing = await msUntilSummary(conversationId, last.seq, MAX_MS + 1500);
  assert.notEqual(trailing, null, `the summary reaches seq ${last.seq} within the longest spacing`);
  const stored = await db.collection("conversations").findOne({ _id: conversationId });
  assert.equal(stored.lastMessage, `m${last.seq - 1}`);

  // Quiet for longer than the longest spacing: the next message's summary
  // goes out at once, not a long spacing later.
  await sleep(MAX_MS + 700);
  const fresh = await send(alice, bob, "after a pause");
  const ms = await msUntilSummary(conversationId, fresh.seq, MAX_MS);
  assert.ok(ms !== null && ms < FIRST_MS * 3, `a quiet conversation's summary written at once (${ms} ms)`);
});
