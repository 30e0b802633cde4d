// GET /metrics on every service (issue 18): promtool (Debian's prometheus
// package) accepts each one's output, and after a short scripted
// conversation (two users register, three messages, one mark_as_read) the
// counters and histograms that should move have moved by what it did.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { io } from "socket.io-client";
import { Stack, connect, http, register, request, waitFor, sleep } from "./lib/stack.mjs";

const stack = new Stack("metrics");
const pid = process.pid;
const promtool = process.env.CHAT_TEST_PROMTOOL || "promtool";
const topic = (name) => `${stack.prefix}${name}`;
const services = {};
const sockets = [];
let gateway;

before(async () => {
  services.persistence = await stack.startPersistence();
  services.receipts = await stack.startReceipts();
  services.presence = await stack.startPresence();
  const gw = await stack.startGatewayProcess("gw-metrics");
  gateway = gw.base;
  services.gateway = gw.child;
});

after(async () => {
  for (const s of sockets) s.close();
  await stack.stopAll();
});

async function scrape(name) {
  const res = await fetch(`http://127.0.0.1:${services[name].healthPort}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4");
  return res.text();
}

// {"name{labels}": value} of every sample.
function parse(text) {
  const samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

// The sum of the samples named name whose labels include every pair of labels.
function total(samples, name, labels = {}) {
  let sum = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf("{");
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`));
    if (has) sum += value;
  }
  return sum;
}

function promtoolCheck(name, text) {
  const run = spawnSync(promtool, ["check", "metrics"], { input: text, encoding: "utf8" });
  assert.equal(run.error, undefined, `${promtool}: ${run.error}`);
  assert.equal(run.status, 0, `promtool check metrics refused ${name}'s output:\n${run.stdout}${run.stderr}`);
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

test("every service's /metrics passes promtool check metrics and has the process metrics", async () => {
  for (const name of Object.keys(services)) {
    const text = await scrape(name);
    promtoolCheck(name, text);
    const samples = parse(text);
    assert.ok([...samples.keys()].some((k) => k.startsWith(`chat_build_info{service="${name}",version="`)), name);
    assert.ok(total(samples, "chat_process_start_time_seconds") > 1.6e9, name);
    assert.ok(total(samples, "chat_process_resident_memory_bytes") > 1e6, name);
    assert.ok(total(samples, "chat_process_open_fds") > 3, name);
  }
});

test("a short conversation moves the counters by what it did", async () => {
  const before = {};
  for (const name of Object.keys(services)) before[name] = parse(await scrape(name));

  const alice = await register(gateway, `alice_${pid}`);
  const bob = await register(gateway, `bob_${pid}`);
  const aliceSocket = await connect(gateway, alice.token);
  const bobSocket = await connect(gateway, bob.token);
  sockets.push(aliceSocket, bobSocket);
  let conversationId;
  for (let i = 1; i <= 3; i++) {
    const ack = await request(aliceSocket, "send_message",
      { receiverId: bob.id, content: `hello ${i}`, clientMsgId: `c${i}` });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    // The first one comes as a notification: bob joins the room with it.
    const seen = await until(() => bobSocket.seen.find((e) =>
      ["new_message", "message_notification"].includes(e.event) && JSON.stringify(e.data).includes(`hello ${i}`)),
    `bob hears hello ${i}`);
    conversationId ??= seen.data.conversationId ?? seen.data.message?.conversationId;
    assert.ok(conversationId, JSON.stringify(seen));
  }
  await sleep(300); // bob's socket joins the new conversation's room
  assert.equal((await request(bobSocket, "mark_as_read", { conversationId })).ok, true);
  await waitFor(aliceSocket, "messages_read");

  // Offsets are committed after each batch is durable: wait for the last.
  const after = {}, afterText = {};
  const commands = topic("chat.commands");
  await until(async () => {
    afterText.persistence = await scrape("persistence");
    after.persistence = parse(afterText.persistence);
    return total(after.persistence, "chat_kafka_committed_offset", { topic: commands }) === 5;
  }, "persistence committed the 5 commands");
  await until(async () => {
    afterText.receipts = await scrape("receipts");
    after.receipts = parse(afterText.receipts);
    return total(after.receipts, "chat_kafka_committed_offset", { topic: topic("chat.receipts") }) === 1;
  }, "receipts committed the mark");
  for (const name of ["presence", "gateway"]) {
    afterText[name] = await scrape(name);
    after[name] = parse(afterText[name]);
  }
  for (const name of Object.keys(services)) promtoolCheck(name, afterText[name]);

  const moved = (name, metric, labels) => total(after[name], metric, labels) - total(before[name], metric, labels);

  // persistence: 2 registrations and 3 sends, in batches, on MongoDB, announced on Kafka.
  assert.equal(moved("persistence", "chat_records_consumed_total", { type: "user.register", outcome: "ok" }), 2);
  assert.equal(moved("persistence", "chat_records_consumed_total", { type: "message.send", outcome: "ok" }), 3);
  assert.equal(moved("persistence", "chat_records_consumed_total", { outcome: "error" }), 0);
  assert.equal(moved("persistence", "chat_consumer_batch_records_sum", { topic: commands }), 5);
  const batches = moved("persistence", "chat_consumer_batch_records_count", { topic: commands });
  assert.ok(batches >= 1 && batches <= 5, `${batches} batches`);
  assert.equal(moved("persistence", "chat_consumer_batch_seconds_count", { topic: commands, outcome: "ok" }), batches);
  assert.equal(moved("persistence", "chat_consumer_batch_seconds_count", { outcome: "failed" }), 0);
  assert.ok(moved("persistence", "chat_mongo_operation_seconds_count", { operation: "insert" }) >= 3);
  assert.ok(moved("persistence", "chat_mongo_operation_seconds_count", { operation: "update" }) >= 1);
  assert.ok(moved("persistence", "chat_kafka_produce_seconds_count", { topic: topic("chat.broadcast") }) >= 3 * 3);
  assert.ok(moved("persistence", "chat_kafka_produce_seconds_count", { topic: topic("chat.events") }) >= 3);
  assert.equal(moved("persistence", "chat_kafka_produce_errors_total"), 0);
  assert.ok(moved("persistence", "chat_state_cache_misses_total", { cache: "conversations" }) >= 1);
  assert.ok(total(after.persistence, "chat_state_cache_capacity", { cache: "conversations" }) > 0);
  assert.equal(total(after.persistence, "chat_kafka_consumer_lag", { topic: commands }), 0);

  // receipts: one mark.
  assert.equal(moved("receipts", "chat_records_consumed_total", { type: "read.mark_conversation", outcome: "ok" }), 1);
  assert.ok(moved("receipts", "chat_kafka_produce_seconds_count", { topic: topic("chat.broadcast") }) >= 1);

  // presence: two sockets opened.
  assert.equal(moved("presence", "chat_records_consumed_total", { type: "session.opened", outcome: "ok" }), 2);

  // The gateway, through the shared runtime only: what it produced (2
  // registrations and 3 sends, 1 mark) and the broadcast it consumed.
  assert.equal(moved("gateway", "chat_kafka_produce_seconds_count", { topic: commands }), 5);
  assert.equal(moved("gateway", "chat_kafka_produce_seconds_count", { topic: topic("chat.receipts") }), 1);
  assert.ok(moved("gateway", "chat_consumer_batch_records_sum", { topic: topic("chat.broadcast") }) >= 9);
  assert.ok(moved("gateway", "chat_mongo_operation_seconds_count", { operation: "find" }) >= 1);

  // The gateway's own: its REST answers by route and status, its events by
  // name and result, its sockets and sessions, what it wrote.
  assert.equal(moved("gateway", "chat_gateway_http_requests_total",
    { method: "POST", route: "/api/auth/register", status: "201" }), 2);
  assert.equal(moved("gateway", "chat_gateway_http_request_seconds_count",
    { method: "POST", route: "/api/auth/register" }), 2);
  assert.equal(moved("gateway", "chat_gateway_events_total", { event: "send_message", result: "queued" }), 3);
  assert.equal(moved("gateway", "chat_gateway_events_total", { event: "mark_as_read", result: "ok" }), 1);
  assert.equal(moved("gateway", "chat_gateway_sockets", { namespace: "/" }), 2);
  // Both sockets are in their rooms by now (they talked by conversationId).
  assert.equal(after.gateway.get("chat_gateway_sockets_awaiting_rooms"), 0);
  assert.equal(moved("gateway", "chat_gateway_connections", { transport: "websocket" }), 2);
  assert.ok(moved("gateway", "chat_gateway_frames_sent_total", { transport: "websocket" }) >= 2 + 3 * 2);
  assert.ok(moved("gateway", "chat_gateway_bytes_sent_total", { transport: "websocket" }) > 0);
});

test("the gateway counts refusals: bad tokens by path and reason, unknown events, unmatched routes", async () => {
  const before = parse(await scrape("gateway"));
  const bad = io(gateway, { auth: { token: "not.a.jwt" }, transports: ["websocket"], reconnection: false });
  await new Promise((resolve) => bad.once("connect_error", resolve));
  bad.close();
  assert.equal((await http(gateway, "GET", "/api/users", { token: "not.a.jwt" })).status, 401);
  assert.equal((await http(gateway, "GET", "/api/no-such-route", {})).status, 404);
  const user = await register(gateway, `carol_${pid}`);
  const socket = await connect(gateway, user.token);
  sockets.push(socket);
  assert.equal((await request(socket, "no_such_event", {})).error.code, "UNKNOWN_EVENT");
  assert.equal((await request(socket, "join_conversation", { conversationId: "65f1a0d9e4b0a1b2c3d4e6ff" })).error.code, "FORBIDDEN");
  const text = await scrape("gateway");
  promtoolCheck("gateway", text);
  const after = parse(text);
  const moved = (metric, labels) => total(after, metric, labels) - total(before, metric, labels);
  assert.equal(moved("chat_gateway_auth_failures_total", { path: "socket", reason: "malformed token" }), 1);
  assert.equal(moved("chat_gateway_auth_failures_total", { path: "rest", reason: "malformed token" }), 1);
  assert.equal(moved("chat_gateway_http_requests_total", { method: "GET", route: "/api/users", status: "401" }), 1);
  assert.equal(moved("chat_gateway_http_requests_total", { route: "unmatched", status: "404" }), 1);
  assert.equal(moved("chat_gateway_events_total", { event: "unknown", result: "UNKNOWN_EVENT" }), 1);
  assert.equal(moved("chat_gateway_events_total", { event: "join_conversation", result: "FORBIDDEN" }), 1);
});

test("/metrics answers only GET", async () => {
  const res = await fetch(`http://127.0.0.1:${services.receipts.healthPort}/metrics`, { method: "POST" });
  assert.equal(res.status, 405);
  await res.text();
  assert.equal((await http(gateway, "GET", "/api/users", {})).status, 401); // the gateway still serves
});
