#!/usr/bin/env node
// Storms (issue 20, "slow and hostile load"): unmodified socket.io-client
// sockets against two gateways of this build, one persistence process
// and presence, on the test command's Kafka and FerretDB
// (CHAT_TEST_KAFKA_BROKERS, CHAT_TEST_MONGO_URI) or, without them, on a
// private pair that it starts and stops itself. Three scenarios, in order:
//
//   connect   --sockets connections (default 5,000) of --users users
//             (made through the REST API; each user several sockets, on
//             both gateways), opened within --spread-ms: every socket
//             connects (a connect error is retried with backoff, up to
//             CONNECT_ATTEMPTS tries, and counted; a socket that never
//             connects fails the run), and none loses its rooms: once
//             the gateways say no socket waits for its rooms, a message
//             in every conversation (each user is in two 1-1s, a ring)
//             reaches every socket of both members.
//   reconnect the sockets on gateway A (half of them) when A is SIGKILLed:
//             each reconnects to gateway B with auth.lastSeqs (the
//             documented resume), after a random delay within
//             --spread-ms, while a message is sent in every
//             conversation; every socket gets "resumed", every message
//             sent meanwhile reaches every member socket (live or
//             replayed), and a message after the storm reaches them all.
//   flood     --flood-pairs pairs of sockets on gateway B exchange
//             messages at --flood-rate messages/s each while one more
//             socket (a raw WebSocket in a child process, as fast as its
//             connection drains) sends send_message far past the rate
//             limit (the gateway's defaults: 20/s, bursts of 40), for
//             --flood-seconds, after as long without the flood. The
//             flooder gets RATE_LIMITED acks for what is over its limit,
//             no more accepted than the limit lets through, and the
//             gateway reads no more of its events than about a bucket of
//             refusals per refill (the rest waits in TCP); a probe of the
//             gateway's loop (a REST 404) is answered throughout; the
//             others lose nothing; their delivery latency (emit to the
//             peer's new_message) with and without the flood is printed,
//             and with --latency-factor F the flood's p99 must stay
//             within F times the baseline's (the baseline taken as at
//             least LATENCY_FLOOR_MS).
//
//   node tests/faults/storms.mjs [--scenarios connect,reconnect,flood]
//     [--sockets N] [--users U] [--spread-ms MS] [--flood-seconds S]
//     [--flood-pairs P] [--flood-rate R] [--latency-factor F] [--keep]
//
// Binaries: CHAT_TEST_GATEWAY, CHAT_TEST_PERSISTENCE, CHAT_TEST_PRESENCE
// (tests/faults/run.sh --storms sets them from a build directory). Every
// wait is bounded; every process started is stopped; exit status 1 on
// any violation, with the work directory and the services' logs kept.
import { spawn } from "node:child_process";
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
const WebSocket = require("ws");

const SCENARIOS = ["connect", "reconnect", "flood"];
const CONNECT_ATTEMPTS = 5;        /* tries per socket; between them 0.5 s, 1 s, 2 s, 4 s (with jitter) */
const CONNECT_TIMEOUT_MS = 20000;  /* socket.io-client's own default: an attempt without an answer this long is silence */
const SETTLE_BOUND_MS = 120000;    /* the longest the gateways may take to have every socket in its rooms */
const DELIVERY_BOUND_MS = 60000;   /* the longest a check message may take to reach every socket */
const LATENCY_FLOOR_MS = 200;      /* the flood's latency bound counts a baseline p99 below this as this (noise on a shared machine) */
const RATE_LIMIT_PER_SEC = 20;     /* the gateway's defaults (docs/configuration.md), which the flood meets */
const RATE_LIMIT_BURST = 40;

function parseArgs(argv) {
  const opts = {
    scenarios: SCENARIOS, sockets: 5000, users: 250, spreadMs: 3000, floodSeconds: 10, floodPairs: 10,
    floodRate: 2, latencyFactor: 0, keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === "--scenarios") opts.scenarios = value().split(",").filter(Boolean);
    else if (a === "--sockets") opts.sockets = Number(value());
    else if (a === "--users") opts.users = Number(value());
    else if (a === "--spread-ms") opts.spreadMs = Number(value());
    else if (a === "--flood-seconds") opts.floodSeconds = Number(value());
    else if (a === "--flood-pairs") opts.floodPairs = Number(value());
    else if (a === "--flood-rate") opts.floodRate = Number(value());
    else if (a === "--latency-factor") opts.latencyFactor = Number(value());
    else if (a === "--keep") opts.keep = true;
    else if (a === "--flood-elsewhere") opts.floodElsewhere = true;
    else if (a === "--flooder") opts.flooder = JSON.parse(value());
    else usage(`unknown argument ${a}`);
  }
  if (opts.flooder) return opts;
  for (const s of opts.scenarios) if (!SCENARIOS.includes(s)) usage(`unknown scenario ${s}; known: ${SCENARIOS.join(", ")}`);
  if (opts.scenarios.includes("reconnect") && !opts.scenarios.includes("connect")) usage("reconnect needs connect (its sockets)");
  if (!(opts.users >= 3 && opts.users <= 10000)) usage("--users must be from 3 to 10,000");
  if (!(opts.sockets >= 2 * opts.users && opts.sockets <= 16000)) usage("--sockets must be from 2 x --users to 16,000 (open files)");
  if (!(opts.spreadMs >= 0 && opts.spreadMs <= 60000)) usage("--spread-ms must be from 0 to 60,000");
  if (!(opts.floodSeconds >= 2 && opts.floodSeconds <= 300)) usage("--flood-seconds must be from 2 to 300");
  if (!(opts.floodPairs >= 1 && opts.floodPairs <= 200)) usage("--flood-pairs must be from 1 to 200");
  if (!(opts.floodRate > 0 && opts.floodRate <= 10)) usage("--flood-rate must be in (0, 10] (under the rate limit)");
  return opts;
}

function usage(message) {
  console.error(`storms.mjs: ${message}`);
  process.exit(2);
}

let started = now();
const log = (...args) => console.log(`[${((now() - started) / 1000).toFixed(1).padStart(6)} s]`, ...args);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
}

// Runs fn over items with at most `width` calls at once.
async function pool(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

async function http(base, method, route, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(base + route, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30000),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// A REST call that a busy gateway may answer 503 (its worker queue is
// full) or 504 (persistence took more than 10 s): sent again after a
// while, as bench/prepare.mjs does (a register or a first message sent
// again is safe: the name is taken by then, or the conversation exists).
async function httpPatient(base, method, route, opts, okStatus) {
  for (let attempt = 0; ; attempt++) {
    const res = await http(base, method, route, opts);
    if (res.status === okStatus) return res;
    if ((res.status !== 503 && res.status !== 504) || attempt >= 20)
      throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(res.body)}`);
    await sleep(res.status === 504 ? 1000 : 200);
  }
}

// One socket.io-client socket of a user; what it received, by content.
class StormSocket {
  constructor(runner, index, user) {
    Object.assign(this, { runner, index, user, socket: null, gateway: null });
    this.got = new Map(); /* content -> "live" | "resume" */
    this.seqs = new Map(); /* conversationId -> Set of seqs seen */
    this.attempts = 0;
    this.errors = [];
    this.sending = new Map(); /* clientMsgId -> the message, until its persisted ack */
    this.disconnects = 0;
  }
  lastSeqs() {
    const out = {};
    for (const [conversationId, seqs] of this.seqs) {
      let s = 0;
      while (seqs.has(s + 1)) s++;
      out[conversationId] = s;
    }
    return out;
  }
  record(m, how) {
    if (!m || typeof m.content !== "string") return;
    if (!this.got.has(m.content)) this.got.set(m.content, how);
    if (typeof m.conversationId === "string" && Number.isInteger(m.seq)) {
      if (!this.seqs.has(m.conversationId)) this.seqs.set(m.conversationId, new Set());
      this.seqs.get(m.conversationId).add(m.seq);
    }
  }
  // Connects to gateway g, retrying a refusal or a lost attempt with
  // backoff; resolves true once connected, false after CONNECT_ATTEMPTS.
  async open(g, resume = false) {
    for (let attempt = 0; attempt < CONNECT_ATTEMPTS; attempt++) {
      if (attempt) await sleep(500 * 2 ** (attempt - 1) * (0.75 + Math.random() / 2));
      this.attempts++;
      const auth = { token: this.user.token };
      if (resume) auth.lastSeqs = this.lastSeqs();
      const socket = io(g.base, {
        auth, transports: ["websocket"], reconnection: false, forceNew: true, timeout: CONNECT_TIMEOUT_MS,
      });
      let replaying = resume;
      this.resumed = null;
      socket.on("new_message", (m) => this.record(m, replaying ? "resume" : "live"));
      socket.on("message_notification", (m) => this.record(m, "live"));
      // Its own messages: the notification skips the sending socket, the persisted ack says their seq.
      socket.on("message_ack", (a) => {
        const m = this.sending.get(a?.clientMsgId);
        if (m && a.status === "persisted") { this.sending.delete(a.clientMsgId); this.record({ ...m, seq: a.seq }, "own"); }
      });
      socket.on("resumed", (r) => { replaying = false; this.resumed = { at: now(), conversations: r?.conversations ?? [] }; });
      const error = await new Promise((resolve) => {
        socket.once("connect", () => resolve(null));
        socket.once("connect_error", (e) => resolve(e));
      });
      if (!error) {
        this.socket = socket;
        this.gateway = g;
        this.connectedAt = now();
        socket.on("disconnect", (reason) => {
          if (this.socket !== socket) return;
          this.disconnects++;
          this.lastDisconnect = reason;
          this.socket = null;
          this.runner.onDisconnect(this, reason);
        });
        return true;
      }
      socket.close();
      // The server's CONNECT_ERROR says why; otherwise the transport failed or nothing came.
      this.errors.push(error.message === "timeout" ? "timeout (no answer)" : error.data?.message ?? error.message);
    }
    return false;
  }
  close() {
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }
}

class Runner {
  constructor(opts) {
    this.opts = opts;
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), "chat-storms."));
    this.violations = [];
    this.results = {};
    this.sockets = [];
    this.run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  }
  violation(what) {
    if (this.violations.length < 1000) this.violations.push(what);
    log(`VIOLATION: ${what}`);
  }

  async startServices() {
    const bin = (name) => {
      const b = process.env[`CHAT_TEST_${name}`];
      if (!b) usage(`CHAT_TEST_${name} unset (tests/faults/run.sh --storms sets it)`);
      return b;
    };
    let brokers = process.env.CHAT_TEST_KAFKA_BROKERS, mongoUri = process.env.CHAT_TEST_MONGO_URI;
    if (!brokers || !mongoUri) {
      log("no CHAT_TEST_KAFKA_BROKERS / CHAT_TEST_MONGO_URI: starting a private Kafka and FerretDB");
      this.infra = new Infra(this.work);
      await this.infra.start();
      ({ brokers, mongoUri } = this.infra);
    }
    const common = {
      CHAT_KAFKA_BROKERS: brokers, CHAT_MONGO_URI: mongoUri, CHAT_MONGO_DB: `storms_${process.pid}`,
      CHAT_TOPIC_PREFIX: `storms_${process.pid}_`, CHAT_TOPIC_PARTITIONS: "4", CHAT_LOG_LEVEL: "warn",
    };
    const svc = (name, binary, extra = {}) => new Service(name, bin(binary), { ...common, CHAT_INSTANCE_ID: name, ...extra }, this.work);
    this.persistence = svc("persistence", "PERSISTENCE");
    this.presence = svc("presence", "PRESENCE");
    this.gateways = [];
    for (const name of ["gw-a", "gw-b"]) {
      const port = await freePort();
      const g = svc(name, "GATEWAY", { CHAT_GATEWAY_PORT: String(port), CHAT_JWT_SECRET: "storms-secret-0123456789abcdef0123456789" });
      g.base = `http://127.0.0.1:${port}`;
      this.gateways.push(g);
    }
    this.services = [this.persistence, this.presence, ...this.gateways];
    // The first one creates the topics; the rest start side by side.
    await this.persistence.start();
    await Promise.all(this.services.slice(1).map((s) => s.start()));
  }

  // The value of one series of a gateway's /metrics (NaN when absent).
  async metric(g, name, labels = "") {
    const text = await fetch(`http://127.0.0.1:${g.healthPort}/metrics`, { signal: AbortSignal.timeout(10000) })
      .then((r) => r.text()).catch(() => "");
    const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
    return line ? Number(line.split(" ").pop()) : NaN;
  }
  // The CPU seconds a service has used (user and system), from /proc.
  cpu(service) {
    try {
      const fields = fs.readFileSync(`/proc/${service.child.pid}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100; /* utime, stime in clock ticks (USER_HZ 100) */
    } catch { return NaN; }
  }
  rss(service) {
    try {
      const status = fs.readFileSync(`/proc/${service.child.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
    } catch { return NaN; }
  }

  async register(count, tag) {
    const gateways = this.gateways.filter((g) => g.running());
    return pool(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
      const g = gateways[i % gateways.length];
      const res = await httpPatient(g.base, "POST", "/api/auth/register",
        { body: { username: `${tag}${this.run}_${i}`, password: "a storm password" } }, 201);
      return { id: res.body.data.user.id, token: res.body.data.token, index: i };
    });
  }

  // A 1-1 conversation of each pair, opened by a first message over REST.
  async openConversations(pairs) {
    const gateways = this.gateways.filter((g) => g.running());
    return pool(pairs, 8, async ([a, b], i) => {
      const res = await httpPatient(gateways[i % gateways.length].base, "POST", "/api/chat/send",
        { token: a.token, body: { receiverId: b.id, content: `open ${a.index}-${b.index}` } }, 201);
      if (res.body.data.seq !== 1) throw new Error(`the first message of ${a.index}-${b.index} has seq ${res.body.data.seq}`);
      return { id: res.body.data.conversation_id, members: [a, b] };
    });
  }

  onDisconnect(s, reason) {
    if (this.moving?.has(s)) return; /* the reconnect storm moves it */
    if (!this.closing) this.violation(`socket ${s.index} (user ${s.user.index}) disconnected: ${reason}`);
  }

  // Waits until both gateways (those running) hold `want` sockets between
  // them and none waits for its rooms.
  async settle(want, what) {
    const deadline = now() + SETTLE_BOUND_MS;
    for (;;) {
      const running = this.gateways.filter((g) => g.running());
      const held = (await Promise.all(running.map((g) => this.metric(g, "chat_gateway_sockets", '{namespace="/"}'))))
        .reduce((a, b) => a + b, 0);
      const awaiting = (await Promise.all(running.map((g) => this.metric(g, "chat_gateway_sockets_awaiting_rooms"))))
        .reduce((a, b) => a + b, 0);
      if (held === want && awaiting === 0) return now();
      if (now() > deadline) {
        this.violation(`${what}: ${SETTLE_BOUND_MS / 1000} s on, the gateways hold ${held} sockets of ${want}, ${awaiting} still waiting for their rooms`);
        return now();
      }
      await sleep(250);
    }
  }

  // One message in each conversation, sent by its first member's socket
  // picked by `sender`; resolves with the contents sent.
  async sendChecks(conversations, tag, sender) {
    const contents = [];
    await pool(conversations, 50, async (c, i) => {
      const s = sender(c);
      const content = `${tag} ${i} ${this.run}`;
      c.sentBy = { ...c.sentBy, [tag]: s };
      contents[i] = content;
      if (!s?.socket) { this.violation(`${tag}: no connected socket to send in conversation ${i}`); return; }
      try {
        const clientMsgId = `${tag}-${i}-${this.run}`;
        s.sending.set(clientMsgId, { conversationId: c.id, content });
        const ack = await s.socket.timeout(30000).emitWithAck("send_message", { conversationId: c.id, content, clientMsgId });
        if (!ack?.ok) this.violation(`${tag}: the send in conversation ${i} by socket ${s.index} was refused: ${JSON.stringify(ack?.error)}`);
      } catch (e) {
        this.violation(`${tag}: the send in conversation ${i} got no answer (${e.message})`);
      }
    });
    return contents;
  }

  // Waits until every socket of every member of each conversation has its
  // content; returns {expected, delivered, viaResume, ms}.
  async awaitDeliveries(conversations, contents, tag, from) {
    const deadline = now() + DELIVERY_BOUND_MS;
    const owed = [];
    // Every socket of both members but the sender's own, which hears of
    // its message by its acks (the notification skips the sending socket).
    conversations.forEach((c, i) => {
      for (const m of c.members) for (const s of this.byUser.get(m.id)) if (s !== c.sentBy?.[tag]) owed.push([s, contents[i], i]);
    });
    let missing;
    for (;;) {
      missing = owed.filter(([s, content]) => !s.got.has(content));
      if (missing.length === 0 || now() > deadline) break;
      await sleep(100);
    }
    for (const [s, , i] of missing.slice(0, 20))
      this.violation(`${tag}: socket ${s.index} (user ${s.user.index}, ${s.socket ? `on ${s.gateway.name}` : "not connected"}) never got the message of conversation ${i}`);
    if (missing.length > 20) this.violation(`${tag}: ${missing.length - 20} more deliveries missing`);
    const viaResume = owed.filter(([s, content]) => s.got.get(content) === "resume").length;
    return { expected: owed.length, delivered: owed.length - missing.length, viaResume, ms: now() - from };
  }

  // ---- connect: the storm of connects ------------------------------------

  async connectStorm() {
    const { sockets: count, users: userCount, spreadMs } = this.opts;
    log(`registering ${userCount} users`);
    const users = await this.register(userCount, "storm");
    // A ring: user i and user i+1 share a 1-1, so everyone is in two.
    log(`opening ${userCount} conversations`);
    this.conversations = await this.openConversations(users.map((u, i) => [u, users[(i + 1) % users.length]]));
    // Socket k is user k mod U's, on gateway A or B by round: every user
    // has sockets on both.
    this.sockets = Array.from({ length: count }, (_, k) => new StormSocket(this, k, users[k % userCount]));
    this.byUser = new Map(users.map((u) => [u.id, []]));
    for (const s of this.sockets) this.byUser.get(s.user.id).push(s);
    // Each app knows its conversations and their last seq (1, the first
    // message) from its conversation list, as a resume needs.
    for (const c of this.conversations)
      for (const m of c.members) for (const s of this.byUser.get(m.id)) s.record({ conversationId: c.id, seq: 1, content: `open ${c.id}` }, "history");
    const target = (s) => this.gateways[Math.floor(s.index / userCount) % 2];
    const rssBefore = this.gateways.map((g) => this.rss(g));
    const nodeRssBefore = process.memoryUsage().rss;

    log(`storm: ${count} sockets within ${spreadMs} ms`);
    const t0 = now();
    const opened = await Promise.all(this.sockets.map(async (s) => {
      await sleep((s.index / count) * spreadMs);
      s.launchedAt = now();
      return s.open(target(s));
    }));
    const allConnected = now();
    const connected = opened.filter(Boolean).length;
    if (connected !== count) this.violation(`connect: ${count - connected} of ${count} sockets never connected (${CONNECT_ATTEMPTS} attempts each)`);
    const settled = await this.settle(connected, "connect");
    const rssAfter = this.gateways.map((g) => this.rss(g));
    const errors = new Map();
    for (const s of this.sockets) for (const e of s.errors) errors.set(e, (errors.get(e) ?? 0) + 1);
    const connectMs = summary(this.sockets.filter((s) => s.connectedAt).map((s) => s.connectedAt - s.launchedAt));
    log(`connect: ${connected}/${count} connected in ${seconds(allConnected - t0)}, rooms settled ${seconds(settled - t0)} after the first connect`);

    const contents = await this.sendChecks(this.conversations, "connect", (c) => this.byUser.get(c.members[0].id).find((s) => s.socket));
    const delivery = await this.awaitDeliveries(this.conversations, contents, "connect", settled);
    this.results.connect = {
      asked: count, users: userCount, connected, held: connected - this.sockets.filter((s) => s.disconnects).length,
      attempts: this.sockets.reduce((a, s) => a + s.attempts, 0), errors: Object.fromEntries(errors),
      allConnectedMs: allConnected - t0, settledMs: settled - t0, connectMs,
      conversations: this.conversations.length, ...delivery,
      gatewayBytesPerSocket: Math.round(rssAfter.reduce((a, b, i) => a + b - rssBefore[i], 0) / connected),
      clientBytesPerSocket: Math.round((process.memoryUsage().rss - nodeRssBefore) / connected),
    };
  }

  // ---- reconnect: SIGKILL of gateway A, everyone to B ---------------------

  async reconnectStorm() {
    const [a, b] = this.gateways;
    const moving = this.sockets.filter((s) => s.socket && s.gateway === a);
    this.moving = new Set(moving);
    const { spreadMs } = this.opts;
    log(`reconnect: SIGKILL ${a.name}, ${moving.length} sockets to ${b.name} with lastSeqs`);
    const reconnected = [];
    const t0 = now();
    const gone = new Promise((resolve) => {
      let left = moving.length;
      for (const s of moving) {
        s.socket.once("disconnect", () => {
          // Within spreadMs, as clients' own randomized reconnection delays spread them.
          reconnected.push(sleep(Math.random() * spreadMs).then(() => s.open(b, true)));
          if (--left === 0) resolve();
        });
      }
    });
    await a.signal("SIGKILL");
    // Meanwhile: a message in every conversation, from a member's socket on B.
    const meanwhile = await this.sendChecks(this.conversations, "meanwhile", (c) => this.byUser.get(c.members[0].id).find((s) => s.socket && s.gateway === b));
    await Promise.race([gone, sleep(30000)]);
    const ok = (await Promise.all(reconnected)).filter(Boolean).length;
    const allReconnected = now();
    if (ok !== moving.length) this.violation(`reconnect: ${moving.length - ok} of ${moving.length} sockets never reconnected`);
    // Every resuming socket hears "resumed" once its rooms are joined and its replay sent.
    const deadline = now() + SETTLE_BOUND_MS;
    while (moving.some((s) => s.socket && !s.resumed) && now() < deadline) await sleep(100);
    const unresumed = moving.filter((s) => s.socket && !s.resumed);
    if (unresumed.length) this.violation(`reconnect: ${unresumed.length} sockets never got "resumed" (e.g. socket ${unresumed[0].index})`);
    const allResumed = Math.max(...moving.map((s) => s.resumed?.at ?? now()));
    const settled = await this.settle(this.sockets.filter((s) => s.socket).length, "reconnect");
    const missed = await this.awaitDeliveries(this.conversations, meanwhile, "meanwhile", t0);
    const contents = await this.sendChecks(this.conversations, "reconnect", (c) => this.byUser.get(c.members[0].id).find((s) => s.socket));
    const after = await this.awaitDeliveries(this.conversations, contents, "reconnect", settled);
    const errors = new Map();
    for (const s of moving) for (const e of s.errors) errors.set(e, (errors.get(e) ?? 0) + 1);
    this.moving = null;
    this.results.reconnect = {
      moved: moving.length, reconnected: ok, errors: Object.fromEntries(errors),
      allReconnectedMs: allReconnected - t0, allResumedMs: allResumed - t0,
      meanwhile: { sent: meanwhile.length, ...missed }, after,
    };
  }

  // ---- flood: one socket far past the rate limit --------------------------

  async flood() {
    const g = this.gateways[1];
    const { floodPairs: pairs, floodRate: rate, floodSeconds: secs } = this.opts;
    log(`flood: ${pairs} pairs at ${rate} msg/s each on ${g.name}, then one socket flooding for ${secs} s`);
    const users = await this.register(2 * pairs + 2, "flood");
    const conversations = await this.openConversations(Array.from({ length: pairs + 1 }, (_, i) => [users[2 * i], users[2 * i + 1]]));
    const flooderConversation = conversations.pop();
    // The others: both members of each pair on g, in the conversation (so new_message).
    const others = [];
    for (const c of conversations) {
      const pair = [];
      for (const u of c.members) {
        const s = new StormSocket(this, -1, u);
        if (!(await s.open(g))) throw new Error("flood: a steady client cannot connect");
        const joined = await s.socket.timeout(30000).emitWithAck("join_conversation", { conversationId: c.id });
        if (!joined.ok) throw new Error(`flood: join_conversation: ${JSON.stringify(joined)}`);
        pair.push(s);
      }
      pair[0].peer = pair[1]; pair[1].peer = pair[0];
      pair[0].conversationId = pair[1].conversationId = c.id;
      others.push(...pair);
    }
    const sent = new Map(); /* content -> {t0, phase} */
    const latencies = { before: [], flood: [] };
    let phase = null, n = 0, lost = 0, refused = new Map();
    for (const s of others) {
      s.socket.on("new_message", (m) => {
        const entry = sent.get(m?.content);
        if (!entry || m.senderId === s.user.id || entry.done) return;
        entry.done = true;
        latencies[entry.phase].push(now() - entry.t0);
      });
    }
    const timers = others.map((s, i) => {
      const tick = () => {
        if (!phase || !s.socket) return;
        const content = `steady ${i} ${++n} ${this.run}`;
        sent.set(content, { t0: now(), phase });
        s.socket.timeout(30000).emit("send_message", { conversationId: s.conversationId, content, clientMsgId: `steady-${i}-${n}-${this.run}` },
          (err, ack) => {
            if (err || !ack?.ok) {
              const why = err ? "no answer" : ack?.error?.code;
              refused.set(why, (refused.get(why) ?? 0) + 1);
              sent.delete(content);
            }
          });
      };
      // Spread over the period so that the sends do not come in step.
      const period = 1000 / rate;
      const start = setTimeout(() => { s.timer = setInterval(tick, period); }, (i / others.length) * period);
      return () => { clearTimeout(start); clearInterval(s.timer); };
    });
    // Probes of the gateway's loop: a REST 404, answered on the loop without a worker.
    const probes = { before: [], flood: [] };
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const p = phase;
        const t = now();
        const res = await fetch(`${g.base}/api/storms-probe`, { signal: AbortSignal.timeout(30000) }).catch(() => null);
        if (p && res?.status === 404) probes[p].push(now() - t);
        else if (p) this.violation(`flood: the gateway did not answer a probe (${res?.status ?? "no answer"})`);
        await sleep(200);
      }
    })();
    const limitedBefore = await this.metric(g, "chat_gateway_events_total", '{event="send_message",result="RATE_LIMITED"}');

    phase = "before";
    const cpu0 = this.cpu(g), t0 = now();
    await sleep(secs * 1000);
    phase = "flood";
    const cpu1 = this.cpu(g), t1 = now();
    const flooder = await this.startFlooder(this.opts.floodElsewhere ? this.gateways[0] : g, users[2 * pairs], flooderConversation.id, secs);
    const flooded = await flooder;
    const cpu2 = this.cpu(g), t2 = now();
    phase = null;
    for (const stop of timers) stop();
    probing = false;
    await prober;
    // What was sent gets its delivery, within the bound.
    const deadline = now() + DELIVERY_BOUND_MS;
    while ([...sent.values()].some((e) => !e.done) && now() < deadline) await sleep(100);
    for (const [content, e] of sent) if (!e.done) { lost++; if (lost <= 10) this.violation(`flood: "${content}" (${e.phase}) never reached its peer`); }
    const limitedAfter = await this.metric(g, "chat_gateway_events_total", '{event="send_message",result="RATE_LIMITED"}');
    for (const s of others) s.close();

    const before = summary(latencies.before), during = summary(latencies.flood);
    const result = {
      pairs, rate, seconds: secs, before, flood: during, lost, refused: Object.fromEntries(refused),
      probes: { before: summary(probes.before), flood: summary(probes.flood) }, flooder: flooded,
      gatewayCpu: { before: Math.round((100 * (cpu1 - cpu0) * 1000) / (t1 - t0)), flood: Math.round((100 * (cpu2 - cpu1) * 1000) / (t2 - t1)) },
      rateLimitedMetric: (limitedAfter || 0) - (limitedBefore || 0),
    };
    this.results.flood = result;
    // The flooder: RATE_LIMITED past its bucket, no more accepted than the
    // bucket and its refill let through while the gateway read its events
    // (until its last answer), and, being past its limit, read no faster
    // than about a bucket of refusals per refill: what it sends beyond
    // waits in TCP instead of costing the gateway a parse and an answer
    // each (docs/configuration.md, CHAT_RATE_LIMIT_PER_SEC).
    if (flooded.error) this.violation(`flood: the flooder failed: ${flooded.error}`);
    const windowSecs = flooded.answeredMs / 1000;
    const allowed = RATE_LIMIT_BURST + RATE_LIMIT_PER_SEC * windowSecs + 5;
    if ((flooded.acks.accepted ?? 0) > allowed) this.violation(`flood: ${flooded.acks.accepted} of the flooder's sends accepted in ${seconds(flooded.answeredMs)}, more than the rate limit lets through (${Math.floor(allowed)})`);
    if (!(flooded.acks.RATE_LIMITED > 0)) this.violation("flood: the flooder got no RATE_LIMITED ack");
    if (result.rateLimitedMetric < (flooded.acks.RATE_LIMITED ?? 0)) this.violation(`flood: chat_gateway_events_total RATE_LIMITED moved by ${result.rateLimitedMetric}, the flooder heard ${flooded.acks.RATE_LIMITED}`);
    const read = Object.values(flooded.acks).reduce((a, b) => a + b, 0);
    const readBound = Math.round(RATE_LIMIT_BURST + (RATE_LIMIT_PER_SEC * windowSecs + 1) * (RATE_LIMIT_BURST + 1) * 1.25);
    result.flooderRead = read;
    result.flooderReadBound = readBound;
    if (read > readBound) this.violation(`flood: the gateway read and answered ${read} of the flooder's events in ${seconds(flooded.answeredMs)}, past ${readBound} (a bucket of refusals per refill): a flooder costs it a parse and an answer per event it sends`);
    if (flooded.sent < 10 * (RATE_LIMIT_BURST + RATE_LIMIT_PER_SEC * secs)) this.violation(`flood: the flooder sent only ${flooded.sent} events: not a flood`);
    if (before.n === 0 || during.n === 0) this.violation("flood: no latency samples");
    const bound = this.opts.latencyFactor * Math.max(before.p99, LATENCY_FLOOR_MS);
    if (this.opts.latencyFactor > 0 && during.p99 > bound)
      this.violation(`flood: the others' p99 was ${during.p99} ms with the flood, ${before.p99} ms without: past ${this.opts.latencyFactor} x max(${before.p99}, ${LATENCY_FLOOR_MS}) = ${bound} ms`);
  }

  // The flooder in a child process (its own event loop and CPU time, so
  // that the others' timings here are not its), for secs seconds.
  startFlooder(g, user, conversationId, secs) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--flooder",
      JSON.stringify({ base: g.base, token: user.token, conversationId, seconds: secs, run: this.run })],
    { stdio: ["ignore", "pipe", "inherit"] });
    this.flooderChild = child;
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    return Promise.resolve(new Promise((resolve) => child.once("exit", (code) => {
      this.flooderChild = null;
      try { resolve(JSON.parse(out.trim().split("\n").pop())); } catch { resolve({ error: `exit ${code}: ${out}`, sent: 0, acks: {}, ms: 0 }); }
    })));
  }

  async stopAll() {
    this.closing = true;
    for (const s of this.sockets) s.close();
    this.flooderChild?.kill("SIGKILL");
    for (const s of (this.services ?? []).slice().reverse()) {
      if (!s.child) continue;
      const code = await s.stop();
      if (code !== 0) this.violation(`${s.name} exited with ${code} on SIGTERM (see ${s.logFile})`);
    }
    for (const s of this.services ?? []) {
      for (const e of s.exits) if (!e.expected) this.violation(`${s.name} exited by itself (code ${e.code}, signal ${e.signal}; see ${s.logFile})`);
    }
    await this.infra?.stop();
  }
}

// ---- the flooder (a child process) ------------------------------------------

// A raw WebSocket speaking Engine.IO / Socket.IO by hand: CONNECT with the
// token, then send_message events with acks as fast as the connection
// drains (at most 1 MB buffered), answering pings; counts every answer by
// its outcome, and prints one JSON line 2 s after it stopped sending.
async function flooder({ base, token, conversationId, seconds: secs, run }) {
  const url = `${base.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url);
  const acks = {};
  let sent = 0, connected = false, closed = null, t0 = 0, lastAnswer = 0;
  ws.on("message", (data) => {
    const text = data.toString();
    if (text === "2") { ws.send("3"); return; }
    if (text.startsWith("40")) { connected = true; return; }
    if (text.startsWith("44")) { closed = `CONNECT_ERROR ${text}`; return; }
    const ack = /^43\d+\[(.*)\]$/s.exec(text);
    if (ack) {
      let a;
      try { a = JSON.parse(ack[1]); } catch { a = null; }
      const key = a?.ok ? a.status ?? "ok" : a?.error?.code ?? "unreadable";
      acks[key] = (acks[key] ?? 0) + 1;
      lastAnswer = now();
    }
  });
  ws.on("close", (code) => { closed ??= `closed ${code}`; });
  ws.on("error", (e) => { closed ??= e.message; });
  await new Promise((resolve) => ws.once("open", resolve));
  ws.send(`40${JSON.stringify({ token })}`);
  const deadline = now() + 20000;
  while (!connected && !closed && now() < deadline) await sleep(10);
  if (!connected) { console.log(JSON.stringify({ error: closed ?? "no CONNECT answer", sent, acks, ms: 0 })); process.exit(0); }
  t0 = now();
  const end = t0 + secs * 1000;
  while (now() < end && !closed) {
    while (ws.bufferedAmount < 1 << 20 && now() < end) {
      sent++;
      ws.send(`42${sent}["send_message",${JSON.stringify({ conversationId, content: `flood ${sent}`, clientMsgId: `flood-${sent}-${run}` })}]`);
      if (sent % 200 === 0) break; /* let the acks in */
    }
    // The pipe is full: wait for it to drain a little (a timer, not a spin
    // that would take this machine's CPU from the gateway).
    await new Promise((r) => (ws.bufferedAmount < 1 << 20 ? setImmediate(r) : setTimeout(r, 1)));
  }
  const ms = now() - t0;
  // The answers to what the gateway has read by now; what it has not read
  // waits in TCP (a flooder past its limit is read slowly).
  await sleep(2000);
  console.log(JSON.stringify({ sent, acks, ms, answeredMs: lastAnswer - t0, closed }));
  ws.close();
  process.exit(0);
}

function printResults(r) {
  const out = [];
  if (r.connect) {
    const c = r.connect;
    out.push("", `connect storm: ${c.asked} sockets of ${c.users} users over 2 gateways`,
      "| asked | connected | held | attempts | connect errors | all connected | rooms settled | connect p50 / p99 | conversations checked | deliveries | gateway bytes/socket |",
      "|---:|---:|---:|---:|:---|---:|---:|---:|---:|---:|---:|",
      `| ${c.asked} | ${c.connected} | ${c.held} | ${c.attempts} | ${JSON.stringify(c.errors)} | ${seconds(c.allConnectedMs)} | ${seconds(c.settledMs)} | ${c.connectMs.p50} / ${c.connectMs.p99} ms | ${c.conversations} | ${c.delivered} / ${c.expected} | ${c.gatewayBytesPerSocket} |`);
  }
  if (r.reconnect) {
    const c = r.reconnect;
    out.push("", "reconnect storm: gateway A SIGKILLed, its sockets to B with lastSeqs",
      "| moved | reconnected | connect errors | all reconnected | all resumed | sent meanwhile | delivered meanwhile (via resume) | after: delivered |",
      "|---:|---:|:---|---:|---:|---:|---:|---:|",
      `| ${c.moved} | ${c.reconnected} | ${JSON.stringify(c.errors)} | ${seconds(c.allReconnectedMs)} | ${seconds(c.allResumedMs)} | ${c.meanwhile.sent} | ${c.meanwhile.delivered} / ${c.meanwhile.expected} (${c.meanwhile.viaResume}) | ${c.after.delivered} / ${c.after.expected} |`);
  }
  if (r.flood) {
    const f = r.flood;
    const acks = Object.entries(f.flooder.acks ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
    out.push("", `flood: ${f.pairs} pairs at ${f.rate} msg/s each, ${f.seconds} s without then ${f.seconds} s with one socket flooding`,
      "| phase | deliveries | latency p50 | p99 | max | loop probe p50 / max | gateway CPU |",
      "|:---|---:|---:|---:|---:|---:|---:|",
      `| without the flood | ${f.before.n} | ${f.before.p50} ms | ${f.before.p99} ms | ${f.before.max} ms | ${f.probes.before.p50} / ${f.probes.before.max} ms | ${f.gatewayCpu.before}% |`,
      `| with the flood | ${f.flood.n} | ${f.flood.p50} ms | ${f.flood.p99} ms | ${f.flood.max} ms | ${f.probes.flood.p50} / ${f.probes.flood.max} ms | ${f.gatewayCpu.flood}% |`,
      `flooder: ${f.flooder.sent} events sent in ${seconds(f.flooder.ms)}; the gateway read ${f.flooderRead} of them (bound ${f.flooderReadBound}) and answered ${acks}; the others lost ${f.lost}, refused ${JSON.stringify(f.refused)}`);
  }
  console.log(out.join("\n"));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.flooder) return flooder(opts.flooder);
  const runner = new Runner(opts);
  let failed = false;
  const onSignal = async () => { log("interrupted; stopping"); await runner.stopAll(); process.exit(130); };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    log(`work directory ${runner.work}`);
    await runner.startServices();
    started = now();
    if (opts.scenarios.includes("connect")) await runner.connectStorm();
    if (opts.scenarios.includes("reconnect")) await runner.reconnectStorm();
    runner.closing = true;
    for (const s of runner.sockets) s.close();
    runner.closing = false;
    if (opts.scenarios.includes("flood")) await runner.flood();
    printResults(runner.results);
    console.log(`\n${JSON.stringify(runner.results)}`);
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
  if (failed || opts.keep) console.log(`kept ${runner.work} (the services' logs)`);
  else fs.rmSync(runner.work, { recursive: true, force: true });
  console.log(failed ? "FAIL" : "PASS");
  process.exit(failed ? 1 : 0);
}

main();
