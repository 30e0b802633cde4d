// The benchmark's instrument cannot rot (issue 15): bench/prepare.mjs makes
// a few pairs through the REST API of one gateway, and chatbench drives a
// few seconds of 1-1 traffic at a low rate through that gateway and one
// persistence process on the test command's stack. Every message sent in
// chatbench's window must be accepted, persisted and delivered, and its
// one-line JSON report must parse.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { Stack, env } from "./lib/stack.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PAIRS = 5;   // sender/receiver pairs
const RATE = 4;    // messages/s of each sender
const SECONDS = 3; // chatbench's measured window
const stack = new Stack("bench_smoke", { CHAT_RATE_LIMIT_PER_SEC: "1000", CHAT_RATE_LIMIT_BURST: "1000" });
let gateway, work;

before(async () => {
  assert.ok(env.CHAT_TEST_CHATBENCH, "CHAT_TEST_CHATBENCH unset");
  work = mkdtempSync(path.join(tmpdir(), "chat-bench-smoke-"));
  await stack.startPersistence();
  gateway = await stack.startGateway("gw-smoke");
});

after(async () => {
  await stack.stopAll();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("chatbench pair: every message of the window accepted, persisted and delivered", async () => {
  const users = path.join(work, "pairs.txt");
  await run(process.execPath, [path.join(root, "bench/prepare.mjs"), "pairs", gateway, String(PAIRS), users],
    { timeout: 60000 });
  const address = gateway.replace("http://", "");
  // Sender and receiver on the same gateway: one process of each service
  // keeps the test short; bench/run.sh puts them on two.
  const { stdout, stderr } = await run(env.CHAT_TEST_CHATBENCH, [
    "pair", "--gateways", `${address},${address}`, "--users", users, "--rate", String(RATE),
    "--duration", String(SECONDS), "--deadline", "60", "--json", "1",
  ], { timeout: 90000 });
  const report = JSON.parse(stdout.trim().split("\n").pop());
  const context = `${JSON.stringify(report)}\n${stderr}`;
  assert.equal(report.scenario, "pair", context);
  assert.equal(report.connections, 2 * PAIRS, context);
  assert.equal(report.connected, 2 * PAIRS, context);
  assert.equal(report.connect_errors, 0, context);
  assert.equal(report.errors, 0, context);
  // Open-loop pacing: about PAIRS * RATE * SECONDS sends fall in the window.
  assert.ok(report.sent >= PAIRS * RATE * SECONDS - PAIRS && report.sent <= PAIRS * RATE * SECONDS + PAIRS, context);
  assert.equal(report.expected, report.sent, context);
  assert.equal(report.accepted, report.sent, context);
  assert.equal(report.persisted, report.sent, context);
  assert.equal(report.delivered, report.sent, context);
  assert.equal(report.delivered_ms.n, report.sent, context);
  assert.ok(report.delivered_ms.p99 > 0, context);
});
