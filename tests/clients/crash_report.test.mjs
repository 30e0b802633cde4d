// A fatal signal in any service leaves a trace: one JSON log line at level
// "fatal" with the signal and a backtrace, then the process dies of that
// signal as it would have (issue "hostile clients": a crash that wrote no
// log line). Each service runs against the real Kafka and FerretDB.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { env, brokers, mongoUri, freePort, sleep } from "./lib/stack.mjs";

const services = {
  gateway: env.CHAT_TEST_GATEWAY,
  persistence: env.CHAT_TEST_PERSISTENCE,
  presence: env.CHAT_TEST_PRESENCE,
  receipts: env.CHAT_TEST_RECEIPTS,
};
const children = [];
after(() => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL"); });

async function start(name) {
  assert.ok(services[name] && brokers && mongoUri, "run through tests/run.sh (CHAT_TEST_* unset)");
  const health = await freePort();
  const child = spawn(services[name], [], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...env, CHAT_KAFKA_BROKERS: brokers, CHAT_MONGO_URI: mongoUri, CHAT_MONGO_DB: `crash_${process.pid}`,
      CHAT_TOPIC_PREFIX: `crash_${process.pid}_`, CHAT_TOPIC_PARTITIONS: "2", CHAT_HEALTH_PORT: String(health),
      CHAT_GATEWAY_PORT: String(await freePort()), CHAT_JWT_SECRET: "crash-report-test-secret-0123456789abcdef",
      CHAT_INSTANCE_ID: `${name}-crash`, CHAT_LOG_LEVEL: "warn",
    },
  });
  children.push(child);
  child.stderrText = "";
  child.stderr.on("data", (d) => { child.stderrText += d; });
  child.ended = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${health}/readyz`)).status === 200) return child;
    } catch { /* not yet */ }
    assert.equal(child.exitCode, null, `${name} exited: ${child.stderrText}`);
    assert.ok(Date.now() < deadline, `${name} not ready within 60 s`);
    await sleep(200);
  }
}

for (const name of Object.keys(services)) {
  for (const signal of ["SIGSEGV", "SIGABRT"]) {
    test(`${name}: ${signal} writes one fatal JSON line with a backtrace, then the process dies of it`, async () => {
      const child = await start(name);
      child.kill(signal);
      const ended = await ended_within(child, 15000);
      assert.deepEqual(ended, { code: null, signal }, "the process must die of the signal itself");
      const fatal = child.stderrText.split("\n").filter((l) => l.includes('"level":"fatal"'));
      assert.equal(fatal.length, 1, child.stderrText);
      const line = JSON.parse(fatal[0]);
      assert.equal(line.service, name);
      assert.equal(line.instance, `${name}-crash`);
      assert.equal(line.signal, signal);
      assert.equal(line.msg, `fatal signal ${signal}`);
      assert.match(line.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(Math.abs(Date.parse(line.ts) - Date.now()) < 60000, `ts ${line.ts} is not now`);
      assert.ok(Array.isArray(line.backtrace) && line.backtrace.length >= 3, fatal[0]);
      assert.ok(line.backtrace.every((f) => typeof f === "string" && f.length > 0));
      // The thread that took the signal was started by main or by a library
      // thread's start routine: either way some frame is named.
      assert.ok(line.backtrace.some((f) => / \w+\+0x[0-9a-f]+$/.test(f)), fatal[0]);
    });
  }
}

async function ended_within(child, ms) {
  let timer;
  const out = await Promise.race([child.ended, new Promise((r) => { timer = setTimeout(() => r("timeout"), ms); })]);
  clearTimeout(timer);
  return out;
}
