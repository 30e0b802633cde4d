#!/usr/bin/env node
// The fault runner (issue 20): our services against a private Kafka and
// FerretDB (on its own PostgreSQL) that it starts itself, unmodified
// socket.io-client sockets over two gateways sending 1-1 messages at a
// steady rate with unique clientMsgIds, faults injected on a schedule, and
// at the end the whole history checked against the store:
//   - every message acked "accepted" is stored exactly once, with no gap
//     between its conversation's seqs, and a sender's messages (each sent
//     once the previous one was answered) in the order sent;
//   - every stored message reached each member at least once, live or by
//     the documented resume (a reconnect with auth.lastSeqs; see
//     docs/architecture.md "Resume");
//   - no send waited more than 30 s for an answer (a send cut off by its
//     gateway's death is resent, with the same clientMsgId, after the
//     reconnect);
//   - after each fault the services recover by themselves: every client
//     gets a message through again, and every service is ready.
// It prints a table per fault and exits 1 on any violation.
//
//   node tests/faults/run.mjs [--seconds S | --minutes M] [--faults a,b,...]
//     [--clients N] [--rate MSGS_PER_SEC_PER_CLIENT] [--keep]
//
// Without --seconds/--minutes each fault of --faults runs once; with them
// the list is repeated until the time is spent (and each fault ran at
// least --min-rounds times). Binaries: CHAT_TEST_GATEWAY,
// CHAT_TEST_PERSISTENCE, CHAT_TEST_PRESENCE, CHAT_TEST_RECEIPTS
// (tests/faults/run.sh sets them from a build directory).
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Infra, Service, freePort, now, sleep } from "./processes.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const require = createRequire(path.join(root, "tests/clients/package.json"));
const { io } = require("socket.io-client");
const { MongoClient } = require("mongodb");

const FAULTS = {
  "kafka-stop": "Kafka stopped (SIGTERM) for 5 s, then started",
  "kafka-kill": "Kafka SIGKILLed, then started",
  "store-stop": "FerretDB and its PostgreSQL stopped for 3 s, then started",
  "gateway-kill": "a gateway SIGKILLed (its clients reconnect to the other), then started",
  "persistence-kill": "a persistence process SIGKILLed, then started",
  "persistence-pause": "a persistence process SIGSTOPped for 10 s (> session.timeout.ms), then SIGCONT",
  "presence-kill": "presence SIGKILLed, then started",
  "receipts-kill": "receipts SIGKILLed, then started",
};
const ANSWER_BOUND_MS = 30000; /* the longest a send may wait for its answer */
const RECOVERY_BOUND_MS = 90000; /* the longest the services may take to carry messages again */

function parseArgs(argv) {
  const opts = { faults: Object.keys(FAULTS), clients: 10, rate: 5, seconds: 0, minRounds: 1, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === "--seconds") opts.seconds = Number(value());
    else if (a === "--minutes") { opts.seconds = 60 * Number(value()); opts.minRounds = 3; }
    else if (a === "--faults") opts.faults = value().split(",").filter(Boolean);
    else if (a === "--clients") opts.clients = Number(value());
    else if (a === "--rate") opts.rate = Number(value());
    else if (a === "--min-rounds") opts.minRounds = Number(value());
    else if (a === "--keep") opts.keep = true;
    else usage(`unknown argument ${a}`);
  }
  for (const f of opts.faults) if (!FAULTS[f]) usage(`unknown fault ${f}; known: ${Object.keys(FAULTS).join(", ")}`);
  if (!(opts.clients >= 2 && opts.clients % 2 === 0)) usage("--clients must be an even number >= 2");
  if (!(opts.rate > 0 && opts.rate <= 20)) usage("--rate must be in (0, 20]");
  return opts;
}

function usage(message) {
  console.error(`run.mjs: ${message}`);
  process.exit(2);
}

let started = now();
const log = (...args) => console.log(`[${((now() - started) / 1000).toFixed(1).padStart(6)} s]`, ...args);

// A user with one socket.io-client socket, moved to another gateway when
// its own goes away, resuming with lastSeqs.
class Client {
  constructor(runner, index, user) {
    Object.assign(this, { runner, index, user, socket: null, gateway: index % 2, inFlight: null });
    this.queue = []; /* messages to (re)send, oldest first */
    this.seen = new Map(); /* conversationId -> Map seq -> {id, how} */
    this.contents = new Set(); /* the content (= clientMsgId) of each message received live */
    this.sent = []; /* this client's messages in send order */
    this.reconnecting = false;
    this.closing = false;
    this.announced = new Set(); /* conversations whose conversation_created it heard (it is in their rooms) */
  }
  lastSeqs() {
    const out = {};
    for (const [conversationId, seqs] of this.seen) {
      let s = 0;
      while (seqs.has(s + 1)) s++;
      out[conversationId] = s;
    }
    return out;
  }
  record(how, m) {
    if (!m || typeof m.conversationId !== "string" || !Number.isInteger(m.seq)) return;
    let seqs = this.seen.get(m.conversationId);
    if (!seqs) this.seen.set(m.conversationId, (seqs = new Map()));
    const id = m.id ?? m.messageId;
    const had = seqs.get(m.seq);
    if (had && had.id !== id) this.runner.violation(`${this.user.username} got seq ${m.seq} of ${m.conversationId} as two messages (${had.id}, ${id})`);
    if (!had) seqs.set(m.seq, { id, how, at: now() });
    if (how === "live" && typeof m.content === "string") this.contents.add(m.content);
  }
  async connect(resume) {
    const gateways = this.runner.gateways;
    for (let attempt = 0; ; attempt++) {
      const g = gateways[this.gateway];
      if (g.running()) {
        const auth = { token: this.user.token };
        if (resume) auth.lastSeqs = this.lastSeqs();
        this.replaying = resume;
        const socket = io(g.base, { auth, transports: ["websocket"], reconnection: false, timeout: 10000, forceNew: true });
        try {
          await new Promise((resolve, reject) => {
            socket.once("connect", resolve);
            socket.once("connect_error", reject);
          });
          this.attach(socket);
          return;
        } catch {
          socket.close();
        }
      }
      if (this.closing) return;
      this.gateway = (this.gateway + 1) % gateways.length;
      await sleep(Math.min(2000, 200 * (attempt + 1)));
    }
  }
  attach(socket) {
    this.socket = socket;
    // What comes before "resumed" is the replay of what was missed.
    socket.on("new_message", (m) => this.record(this.resuming || this.replaying ? "resume" : "live", m));
    socket.on("message_notification", (m) => this.record("live", m));
    socket.on("conversation_created", (c) => this.announced.add(c?.conversationId ?? c?.id));
    this.caughtUp = new Promise((resolve) => socket.once("resumed", (r) => {
      this.replaying = false;
      this.onResumed(r).then(resolve, resolve);
    }));
    socket.on("message_ack", (a) => {
      const msg = this.runner.messages.get(a?.clientMsgId);
      if (!msg) return;
      if (a.status === "persisted") msg.persistedAck = a.seq;
      if (a.status === "rejected") this.runner.violation(`${a.clientMsgId} rejected: ${JSON.stringify(a.error)}`);
    });
    socket.on("disconnect", () => {
      if (this.closing || this.socket !== socket) return;
      this.socket = null;
      // Its gateway went away (or ended the session): to the other one.
      this.gateway = (this.gateway + 1) % this.runner.gateways.length;
      this.reconnects = (this.reconnects ?? 0) + 1;
      this.connect(true).catch((e) => this.runner.violation(`${this.user.username}: ${e.message}`));
    });
    for (const conversationId of this.seen.keys())
      socket.timeout(ANSWER_BOUND_MS).emit("join_conversation", { conversationId }, (err, a) => {
        if (err || !a?.ok) this.runner.count(`join_conversation at connect: ${err?.message ?? a.error?.code}`);
      });
  }
  async onResumed(resumed) {
    for (const c of resumed.conversations ?? []) {
      if (!c.hasMore) continue;
      // More missed than the replay holds: the rest by REST, as documented.
      let after = c.fromSeq + c.replayed;
      for (;;) {
        const base = this.runner.gateways.find((g) => g.running())?.base;
        const res = await fetch(`${base}/api/chat/conversations/${c.conversationId}/messages?after=${after}&limit=100`,
          { headers: { Authorization: `Bearer ${this.user.token}` } }).then((r) => r.json()).catch(() => null);
        const got = res?.data?.messages ?? [];
        for (const m of got) this.record("resume", { conversationId: m.conversation_id ?? c.conversationId, seq: m.seq, id: m.id });
        if (!res?.data?.hasMore || got.length === 0) break;
        after = got[got.length - 1].seq;
      }
    }
  }
  // One send at a time: the next one waits for the answer to this one.
  sendNext() {
    if (this.inFlight || !this.socket?.connected) return;
    const msg = this.queue.shift();
    if (!msg) return;
    const attempt = { t0: now(), gateway: this.gateway };
    msg.attempts.push(attempt);
    this.inFlight = msg;
    const payload = { conversationId: msg.conversationId, content: msg.content, clientMsgId: msg.clientMsgId };
    this.socket.timeout(ANSWER_BOUND_MS).emit("send_message", payload, (err, ack) => {
      attempt.t1 = now();
      this.inFlight = null;
      if (err && /disconnected/.test(err.message)) {
        attempt.outcome = "cut"; /* its gateway went away: resent after the reconnect */
        this.queue.unshift(msg);
      } else if (err) {
        attempt.outcome = "timeout";
        this.runner.violation(`${msg.clientMsgId}: no answer within ${ANSWER_BOUND_MS / 1000} s`);
        this.queue.unshift(msg);
      } else if (ack?.ok && ack.status === "accepted") {
        attempt.outcome = "accepted";
        msg.accepted ??= attempt.t1;
      } else {
        attempt.outcome = `error ${ack?.error?.code}`;
        this.runner.count(`send_message: ${attempt.outcome}`);
        this.queue.unshift(msg); /* a clear error: the client tries again, same clientMsgId */
      }
    });
  }
  close() {
    this.closing = true;
    this.socket?.close();
  }
}

class Runner {
  constructor(opts) {
    this.opts = opts;
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), "chat-faults."));
    this.infra = new Infra(this.work);
    this.messages = new Map(); /* clientMsgId -> message */
    this.violations = [];
    this.errors = new Map();
    this.lateTo = new Map(); /* member -> messages it got only by a resume */
    this.phases = [];
    this.clients = [];
  }
  violation(what) {
    if (this.violations.length < 1000) this.violations.push(what);
    log(`VIOLATION: ${what}`);
  }
  count(what) { this.errors.set(what, (this.errors.get(what) ?? 0) + 1); }
  phase() { return this.phases[this.phases.length - 1]; }

  async startServices() {
    const bin = (name) => {
      const b = process.env[`CHAT_TEST_${name}`];
      if (!b) usage(`CHAT_TEST_${name} unset (tests/faults/run.sh sets it)`);
      return b;
    };
    const common = {
      CHAT_KAFKA_BROKERS: this.infra.brokers, CHAT_MONGO_URI: this.infra.mongoUri, CHAT_MONGO_DB: "faults",
      CHAT_TOPIC_PREFIX: "faults_", CHAT_TOPIC_PARTITIONS: "4", CHAT_LOG_LEVEL: "warn",
      // Short group timeouts: a dead or paused member's partitions move in seconds.
      CHAT_KAFKA_CONFIG: "session.timeout.ms=6000,heartbeat.interval.ms=500",
    };
    const svc = (name, binary, extra = {}) => new Service(name, bin(binary), { ...common, CHAT_INSTANCE_ID: name, ...extra }, this.work);
    this.persistence = [svc("persistence-1", "PERSISTENCE"), svc("persistence-2", "PERSISTENCE")];
    this.presence = svc("presence", "PRESENCE");
    this.receipts = svc("receipts", "RECEIPTS");
    this.secret = "faults-runner-secret-0123456789abcdef0123";
    this.gateways = [];
    for (const name of ["gw-a", "gw-b"]) {
      const port = await freePort();
      const g = svc(name, "GATEWAY", {
        CHAT_GATEWAY_PORT: String(port), CHAT_JWT_SECRET: this.secret,
        CHAT_RATE_LIMIT_PER_SEC: "1000", CHAT_RATE_LIMIT_BURST: "1000",
      });
      g.base = `http://127.0.0.1:${port}`;
      this.gateways.push(g);
    }
    this.services = [...this.persistence, this.presence, this.receipts, ...this.gateways];
    for (const s of this.services) await s.start();
  }

  async setupClients() {
    const users = [];
    for (let i = 0; i < this.opts.clients; i++) {
      const res = await fetch(`${this.gateways[0].base}/api/auth/register`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: `faults_${i}_${process.pid}`, password: "a good password" }),
      });
      const body = await res.json();
      if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(body)}`);
      users.push({ ...body.data.user, token: body.data.token });
    }
    this.clients = users.map((u, i) => new Client(this, i, u));
    await Promise.all(this.clients.map((c) => c.connect(false)));
    // Each pair's conversation, opened by a first message (part of the history).
    this.phases.push({ fault: "setup", injected: 0, start: now() });
    for (let i = 0; i < this.clients.length; i += 2) {
      const [a, b] = [this.clients[i], this.clients[i + 1]];
      const clientMsgId = `open-${i}`;
      const ack = await a.socket.timeout(ANSWER_BOUND_MS).emitWithAck("send_message", { receiverId: b.user.id, content: clientMsgId, clientMsgId });
      if (!ack.ok) throw new Error(`first message: ${JSON.stringify(ack)}`);
      const msg = this.newMessage(a, ack.conversationId, clientMsgId);
      msg.attempts.push({ t0: now(), t1: now(), outcome: "accepted" });
      msg.accepted = now();
      a.peer = b; b.peer = a;
      a.conversationId = b.conversationId = ack.conversationId;
      const deadline = now() + 30000;
      while (msg.persistedAck === undefined) {
        if (now() > deadline) throw new Error("the first message was not persisted within 30 s");
        await sleep(50);
      }
      // The sender's socket is in the room with its persisted ack; the
      // receiver's once it hears conversation_created, which comes on
      // another partition of chat.broadcast (its user's), so it may come
      // after the ack.
      while (!b.announced.has(ack.conversationId)) {
        if (now() > deadline) throw new Error("the receiver heard no conversation_created within 30 s");
        await sleep(50);
      }
      for (const c of [a, b]) {
        if (!c.seen.has(ack.conversationId)) c.seen.set(ack.conversationId, new Map());
        const joined = await c.socket.timeout(ANSWER_BOUND_MS).emitWithAck("join_conversation", { conversationId: ack.conversationId });
        if (!joined.ok) throw new Error(`join_conversation: ${JSON.stringify(joined)}`);
      }
    }
  }

  newMessage(client, conversationId, clientMsgId) {
    const msg = { clientMsgId, conversationId, content: clientMsgId, sender: client, phase: this.phase(), attempts: [] };
    this.messages.set(clientMsgId, msg);
    client.sent.push(msg);
    return msg;
  }

  startTraffic() {
    let n = 0;
    const period = 1000 / this.opts.rate;
    this.traffic = this.clients.map((c, i) => setInterval(() => {
      if (!this.sending) return;
      if (!c.inFlight && c.queue.length === 0) c.queue.push(this.newMessage(c, c.conversationId, `c${i}-${++n}`));
      c.sendNext();
    }, period));
    // Resends (after errors and reconnects) go out as soon as they can.
    this.resender = setInterval(() => { for (const c of this.clients) c.sendNext(); }, 50);
    this.receiptsTimer = setInterval(() => {
      for (const c of this.clients) {
        if (c.socket?.connected) c.socket.timeout(ANSWER_BOUND_MS).emit("mark_as_read", { conversationId: c.conversationId }, () => {});
      }
    }, 2000);
    this.sending = true;
  }

  async stopTraffic() {
    this.sending = false;
    // What is queued (after errors or cuts) still goes, until accepted.
    const deadline = now() + 60000;
    while (this.clients.some((c) => c.inFlight || c.queue.length) && now() < deadline) await sleep(100);
    for (const t of this.traffic) clearInterval(t);
    clearInterval(this.resender);
    clearInterval(this.receiptsTimer);
  }

  async inject(fault) {
    const round = this.phases.filter((p) => p.fault === fault).length;
    const phase = { fault, injected: 1, start: now() };
    this.phases.push(phase);
    log(`inject ${fault}: ${FAULTS[fault]}`);
    const pick = (list) => list[round % list.length];
    switch (fault) {
    case "kafka-stop":
      await this.infra.stopKafka(); await sleep(5000); await this.infra.startKafka(); break;
    case "kafka-kill":
      await this.infra.killKafka(); await sleep(1000); await this.infra.startKafka(); break;
    case "store-stop":
      await this.infra.stopStore(); await sleep(3000); await this.infra.startStore(); break;
    case "gateway-kill": {
      const g = pick(this.gateways);
      await g.signal("SIGKILL"); await sleep(3000); await g.start(); break;
    }
    case "persistence-kill": {
      const p = pick(this.persistence);
      await p.signal("SIGKILL"); await sleep(2000); await p.start(); break;
    }
    case "persistence-pause": {
      const p = pick(this.persistence);
      await p.signal("SIGSTOP"); await sleep(10000); await p.signal("SIGCONT"); break;
    }
    case "presence-kill":
      await this.presence.signal("SIGKILL"); await sleep(2000); await this.presence.start(); break;
    case "receipts-kill":
      await this.receipts.signal("SIGKILL"); await sleep(2000); await this.receipts.start(); break;
    }
    phase.healed = now();
    await this.awaitRecovery(phase);
  }

  // Recovered: every client had a message sent after the heal accepted and
  // delivered live to its peer, and every service says it is ready.
  async awaitRecovery(phase) {
    const deadline = phase.healed + RECOVERY_BOUND_MS;
    for (;;) {
      const through = this.clients.every((c) => c.sent.some((m) => m.attempts[0]?.t0 >= phase.healed && m.accepted &&
        c.peer.contents.has(m.content)));
      if (through && (await Promise.all(this.services.map((s) => s.ready()))).every(Boolean)) break;
      if (now() > deadline) {
        const notReady = [];
        for (const s of this.services) if (!(await s.ready())) notReady.push(s.name);
        this.violation(`${phase.fault}: not recovered ${RECOVERY_BOUND_MS / 1000} s after the fault ended` +
          (notReady.length ? ` (not ready: ${notReady.join(", ")})` : " (messages not carried)"));
        break;
      }
      await sleep(200);
    }
    phase.recovered = now();
    log(`${phase.fault}: recovered ${((phase.recovered - phase.healed) / 1000).toFixed(1)} s after the fault ended`);
    await sleep(2000); /* steady traffic between faults */
  }

  async drive() {
    const { faults, seconds, minRounds } = this.opts;
    this.phases.push({ fault: "none (steady)", injected: 0, start: now() });
    this.startTraffic();
    await sleep(5000);
    const end = now() + seconds * 1000;
    for (let round = 0; ; round++) {
      for (const f of faults) await this.inject(f);
      if (round + 1 >= minRounds && now() >= end - 5000) break;
      if (!seconds && round + 1 >= minRounds) break;
    }
    await this.stopTraffic();
  }

  // Every persisted message is in; then each client comes back as an app
  // would, resuming with lastSeqs.
  async settle() {
    const deadline = now() + 60000;
    const mongo = new MongoClient(this.infra.mongoUri);
    this.mongo = mongo;
    const db = mongo.db("faults");
    const ids = [...new Set(this.clients.map((c) => c.conversationId))];
    let stored;
    for (let last = -1; ;) {
      stored = await db.collection("messages").find({ conversationId: { $in: ids } }).toArray();
      const accepted = [...this.messages.values()].filter((m) => m.accepted).length;
      if (stored.length >= accepted && stored.length === last) break;
      if (now() > deadline) break;
      last = stored.length;
      await sleep(2000);
    }
    for (const c of this.clients) {
      c.resuming = true;
      const socket = c.socket;
      c.socket = null;
      socket?.close();
      await c.connect(true);
    }
    await Promise.race([Promise.all(this.clients.map((c) => c.caughtUp)), sleep(30000)]);
    await sleep(1000);
    return stored;
  }

  check(stored) {
    const byKey = new Map();
    for (const m of stored) {
      const key = m.clientMsgId;
      if (!byKey.has(key)) byKey.set(key, []);
      byKey.get(key).push(m);
    }
    const rows = new Map();
    for (const p of this.phases) {
      const key = p.fault;
      if (!rows.has(key)) rows.set(key, { fault: key, injected: 0, sent: 0, accepted: 0, persisted: 0, delivered: 0, viaResume: 0, lost: 0, duplicated: 0, maxWait: 0, maxRecovery: 0 });
      const row = rows.get(key);
      row.injected += p.injected;
      if (p.recovered) row.maxRecovery = Math.max(row.maxRecovery, p.recovered - p.healed);
    }
    for (const msg of this.messages.values()) {
      const row = rows.get(msg.phase.fault);
      row.sent++;
      for (const a of msg.attempts) if (a.t1) row.maxWait = Math.max(row.maxWait, a.t1 - a.t0);
      if (msg.accepted) row.accepted++;
      const docs = byKey.get(msg.clientMsgId) ?? [];
      if (docs.length > 1) {
        row.duplicated += docs.length - 1;
        this.violation(`${msg.clientMsgId} stored ${docs.length} times (seqs ${docs.map((d) => d.seq)})`);
      }
      if (docs.length === 0) {
        if (msg.accepted) { row.lost++; this.violation(`${msg.clientMsgId} accepted but not stored`); }
        continue;
      }
      row.persisted++;
      const doc = docs[0];
      let resumed = false, missing = false;
      for (const member of [msg.sender, msg.sender.peer]) {
        const got = member.seen.get(doc.conversationId)?.get(doc.seq);
        if (!got) missing = true;
        else if (got.id !== doc._id.toString()) this.violation(`${member.user.username} got seq ${doc.seq} of ${doc.conversationId} as ${got.id}, stored as ${doc._id}`);
        else if (got.how === "resume") {
          resumed = true;
          const who = `${member === msg.sender ? "sender" : "receiver"} ${member.user.username}`;
          this.lateTo.set(who, (this.lateTo.get(who) ?? 0) + 1);
        }
      }
      if (missing) { row.lost++; this.violation(`${msg.clientMsgId} (seq ${doc.seq}) stored but not delivered to every member`); }
      else { row.delivered++; if (resumed) row.viaResume++; }
    }
    // Seqs: 1..S with no gap per conversation; a sender's order kept.
    const byConversation = new Map();
    for (const m of stored) {
      if (!byConversation.has(m.conversationId)) byConversation.set(m.conversationId, []);
      byConversation.get(m.conversationId).push(m.seq);
    }
    for (const [conversationId, seqs] of byConversation) {
      seqs.sort((a, b) => a - b);
      seqs.forEach((s, i) => { if (s !== i + 1) this.violation(`${conversationId}: seq ${i + 1} expected, found ${s} (gap or repeat)`); });
    }
    for (const c of this.clients) {
      let last = 0;
      for (const msg of c.sent) {
        const doc = byKey.get(msg.clientMsgId)?.[0];
        if (!doc || msg.attempts[0]?.outcome !== "accepted") continue;
        if (doc.seq <= last) this.violation(`${msg.clientMsgId} stored at seq ${doc.seq}, before an earlier message of its sender (seq ${last})`);
        last = doc.seq;
      }
    }
    for (const row of rows.values()) if (row.maxWait > ANSWER_BOUND_MS) this.violation(`${row.fault}: a send waited ${row.maxWait} ms`);
    return [...rows.values()];
  }

  async stopAll() {
    for (const c of this.clients) c.close();
    await this.mongo?.close().catch(() => {});
    for (const s of (this.services ?? []).slice().reverse()) {
      if (!s.child) continue;
      const code = await s.stop();
      if (code !== 0) this.violation(`${s.name} exited with ${code} on SIGTERM (see ${s.logFile})`);
    }
    for (const s of this.services ?? []) {
      for (const e of s.exits) if (!e.expected) this.violation(`${s.name} exited by itself (code ${e.code}, signal ${e.signal}; see ${s.logFile})`);
    }
    await this.infra.stop();
  }
}

function printTable(rows, opts, seconds) {
  const head = ["fault", "injected", "sent", "accepted", "persisted", "delivered", "via resume", "lost", "duplicated", "longest wait", "recovery"];
  const cells = rows.map((r) => [r.fault, r.injected, r.sent, r.accepted, r.persisted, r.delivered, r.viaResume, r.lost,
    r.duplicated, `${(r.maxWait / 1000).toFixed(2)} s`, r.injected ? `${(r.maxRecovery / 1000).toFixed(1)} s` : "-"].map(String));
  const total = ["total", ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => String(rows.reduce((s, r) => s + Number(r[["", "injected", "sent", "accepted", "persisted", "delivered", "viaResume", "lost", "duplicated"][i]]), 0))),
    `${(Math.max(...rows.map((r) => r.maxWait)) / 1000).toFixed(2)} s`, `${(Math.max(...rows.map((r) => r.maxRecovery)) / 1000).toFixed(1)} s`];
  cells.push(total);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join(" | ")} |`;
  console.log(`\n${opts.clients} clients over 2 gateways, ${opts.clients * opts.rate} msg/s offered, ${Math.round(seconds)} s:`);
  console.log(line(head));
  console.log(`|${widths.map((w, i) => (i === 0 ? ":" : "") + "-".repeat(w + 1) + (i === 0 ? "" : ":")).join("|")}|`);
  for (const c of cells) console.log(line(c));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const runner = new Runner(opts);
  let failed = false;
  const onSignal = async () => { log("interrupted; stopping"); await runner.stopAll(); process.exit(130); };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    log(`work directory ${runner.work}`);
    await runner.infra.start();
    log(`kafka ${runner.infra.brokers}, store ${runner.infra.mongoUri}`);
    await runner.startServices();
    await runner.setupClients();
    started = now();
    await runner.drive();
    const seconds = (now() - started) / 1000;
    const stored = await runner.settle();
    const rows = runner.check(stored);
    printTable(rows, opts, seconds);
    if (runner.lateTo.size) console.log(`delivered to a member only by a resume (a reconnect, or the last one): ${[...runner.lateTo].map(([k, v]) => `to ${k} x${v}`).join(", ")}`);
    if (runner.errors.size) console.log(`error answers (each send resent): ${[...runner.errors].map(([k, v]) => `${k} x${v}`).join(", ")}`);
  } catch (e) {
    console.error(e.stack ?? e);
    failed = true;
  } finally {
    await runner.stopAll().catch((e) => { console.error(e); failed = true; });
  }
  if (runner.violations.length) {
    console.log(`\n${runner.violations.length} violation(s):`);
    for (const v of runner.violations.slice(0, 50)) console.log(`  - ${v}`);
    failed = true;
  }
  if (failed || opts.keep) console.log(`kept ${runner.work} (service, Kafka and store logs)`);
  else fs.rmSync(runner.work, { recursive: true, force: true });
  console.log(failed ? "FAIL" : "PASS");
  process.exit(failed ? 1 : 0);
}

main();
