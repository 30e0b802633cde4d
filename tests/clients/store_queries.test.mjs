// Every read the gateway answers is served by an index on the local store
// (issue 15, part 5; docs/queries.md): no REST read and no connect-time
// lookup may make PostgreSQL scan a whole collection table.
//
// How: a FerretDB of our own in front of the PostgreSQL cluster that
// tests/run.sh started, whose connections load auto_explain and log the
// plan of every statement (startup parameters in its PostgreSQL URL, so no
// other FerretDB or test is affected); persistence and a gateway on it; a
// data set big enough that the planner has no small-table reason to scan
// (1,000 users and conversations, 20,000 messages), ANALYZEd; then each
// read route and a socket connect with resume, and after each the plans
// PostgreSQL logged meanwhile: a Seq Scan on a table of this test's
// database fails the route, unless EXCEPTIONS names it with its reason.
//
// Runs as `node store_queries.test.mjs` (not --test) so that it can exit 77,
// which CTest reports as skipped: on CHAT_DEV_STORE=sqlite there is no
// PostgreSQL, and SQLite never uses an index for a read anyway.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { MongoClient } from "mongodb";
import { Stack, connect, http, register, waitFor, freePort, sleep, env } from "./lib/stack.mjs";

if ((env.CHAT_TEST_STORE || "postgresql") === "sqlite") {
  console.log("store_queries: skipped on CHAT_DEV_STORE=sqlite: the check reads PostgreSQL's plans");
  process.exit(77);
}

// Scans that are the route's answer, not an accident: route -> {collection: reason}.
const EXCEPTIONS = {
  "GET /api/users": {
    users: "the answer is the user list itself (up to 1,000, by username); FerretDB 1.24 never " +
      "pushes a sort down, so it reads every user; MongoDB serves it from username_unique",
  },
};

const pgDir = env.CHAT_TEST_POSTGRES_DIR;
const pgBin = env.CHAT_TEST_PG_BIN || "/usr/lib/postgresql/15/bin";
const pid = process.pid;
const stack = new Stack("queries");
const database = stack.database; // FerretDB's schema in PostgreSQL has this name
let ferretdb, mongo, db, gw;
const sockets = [];

function psql(sql) {
  const port = fs.readFileSync(path.join(pgDir, "port"), "utf8").trim();
  return execFileSync(path.join(pgBin, "psql"), ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
    "-h", path.join(pgDir, "socket"), "-p", port, "-U", "chat", "-d", "ferretdb", "-c", sql], { encoding: "utf8" });
}

async function startFerretdb() {
  const port = await freePort();
  const pgPort = fs.readFileSync(path.join(pgDir, "port"), "utf8").trim();
  // pgx sends unknown URL parameters as startup parameters: these
  // connections alone load auto_explain and log every plan.
  const url = "postgres://chat@/ferretdb?" + new URLSearchParams({
    host: path.join(pgDir, "socket"), port: pgPort,
    session_preload_libraries: "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_verbose": "on", // schema-qualified table names
  });
  ferretdb = spawn(env.CHAT_TEST_FERRETDB_BIN, ["-listen", `127.0.0.1:${port}`, "-postgresql-url", url],
    { stdio: ["ignore", "ignore", "pipe"] });
  // It warns of every command it lacks (endSessions ...): kept, shown only if it dies.
  let said = "";
  ferretdb.stderr.on("data", (chunk) => { said = (said + chunk).slice(-4000); });
  ferretdb.once("exit", (code) => { if (code) console.error(`our FerretDB exited with ${code}:\n${said}`); });
  const deadline = Date.now() + 30000;
  for (;;) {
    const open = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => { s.end(); resolve(true); });
      s.on("error", () => resolve(false));
    });
    if (open) return `mongodb://127.0.0.1:${port}/`;
    assert.ok(ferretdb.exitCode === null, "our FerretDB exited");
    assert.ok(Date.now() < deadline, "our FerretDB did not listen within 30 s");
    await sleep(100);
  }
}

const hex = () => randomBytes(12).toString("hex");
const directId = (a, b) => createHash("sha256").update(`direct:${a < b ? a : b}:${a < b ? b : a}`).digest("hex").slice(0, 24);

// Seeds the store the way the services write it; returns the ids the calls need.
async function seed(alice, bob) {
  const base = new Date("2025-01-01T00:00:00Z");
  const users = Array.from({ length: 1000 }, (_, i) => ({ _id: hex(), username: `q${i}_${pid}`, passwordHash: "x", createdAt: base }));
  await db.collection("users").insertMany(users);
  const ids = users.map((u) => u._id);
  const pick = (n) => { const s = new Set(); while (s.size < n) s.add(ids[Math.floor(Math.random() * ids.length)]); return [...s]; };
  const conversations = [{ _id: directId(alice.id, bob.id), kind: "direct", name: null, ownerId: null, participants: [alice.id, bob.id].sort() }];
  for (let i = 0; i < 19; i++) conversations.push({ _id: hex(), kind: "direct", name: null, ownerId: null, participants: [alice.id, pick(1)[0]] });
  const group = { _id: hex(), kind: "group", name: "queries", ownerId: alice.id, participants: [alice.id, bob.id, ...pick(8)] };
  conversations.push(group);
  while (conversations.length < 1000) {
    const people = conversations.length % 10 ? pick(2) : pick(10);
    conversations.push({ _id: hex(), kind: people.length > 2 ? "group" : "direct", name: null, ownerId: people.length > 2 ? people[0] : null, participants: people });
  }
  const messages = [];
  const addMessages = (c, count) => {
    for (let seq = 1; seq <= count; seq++) {
      const at = new Date(base.getTime() + messages.length * 1000);
      const senderId = c.participants[seq % c.participants.length];
      messages.push({ _id: hex(), conversationId: c._id, seq, senderId, receiverId: c.kind === "direct" ? c.participants.find((p) => p !== senderId) : null,
        clientMsgId: `c${messages.length}`, content: `hello number ${seq} ` + "x".repeat(200), attachmentUrl: null, createdAt: at, deletedAt: null });
      c.lastMessageAt = at;
      c.lastMessage = { content: `hello number ${seq}`, senderId, createdAt: at };
    }
    c.lastSeq = count;
  };
  addMessages(conversations[0], 200);
  addMessages(group, 200);
  for (let i = 21; i < conversations.length; i++) addMessages(conversations[i], 20); // about 20,000 in all
  for (const c of conversations) Object.assign(c, { createdAt: base, deletedAt: null, lastSeq: c.lastSeq ?? 0, lastMessageAt: c.lastMessageAt ?? null, lastMessage: c.lastMessage ?? null });
  const members = conversations.flatMap((c) => c.participants.map((userId) => ({ conversationId: c._id, userId, role: "member", joinedAt: base })));
  await db.collection("conversations").insertMany(conversations);
  await db.collection("members").insertMany(members);
  for (let i = 0; i < messages.length; i += 100) await db.collection("messages").insertMany(messages.slice(i, i + 100));
  await db.collection("read_states").insertMany(members.map((m) => ({ _id: `${m.conversationId}:${m.userId}`, conversationId: m.conversationId, userId: m.userId, lastReadSeq: 1, lastReadAt: base })));
  await db.collection("presence").insertMany([...ids, alice.id, bob.id].map((id, i) => ({ _id: id, online: i % 3 === 0, changedAt: base })));
  const groupMessage = messages.find((m) => m.conversationId === group._id && m.seq === 100)._id;
  return { direct: conversations[0]._id, group: group._id, groupMessage };
}

before(async () => {
  assert.ok(pgDir && env.CHAT_TEST_FERRETDB_BIN,
    "CHAT_TEST_POSTGRES_DIR or CHAT_TEST_FERRETDB_BIN unset: run through tests/run.sh");
  const uri = await startFerretdb();
  stack.common.CHAT_MONGO_URI = uri;
  await stack.startPersistence();
  gw = await stack.startGateway("gw-queries");
  mongo = new MongoClient(uri);
  db = mongo.db(database);
});

after(async () => {
  for (const s of sockets) s.close();
  await mongo?.close();
  await stack.stopAll();
  if (ferretdb && ferretdb.exitCode === null) {
    const exited = new Promise((resolve) => ferretdb.once("exit", resolve));
    ferretdb.kill("SIGTERM");
    await exited;
  }
});

// The plans PostgreSQL logged since offset that scan a whole table of this
// test's database: [{collection, query}].
function scansSince(offset) {
  const log = path.join(pgDir, "postgresql.log");
  const fd = fs.openSync(log, "r");
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(size - offset);
  fs.readSync(fd, buf, 0, buf.length, offset);
  fs.closeSync(fd);
  const found = [];
  // One entry: a line with the log prefix, then its tab-indented lines.
  for (const entry of buf.toString("utf8").split(/\n(?=\S)/)) {
    const query = /Query Text: (.*)/.exec(entry)?.[1] ?? "";
    for (const m of entry.matchAll(/Seq Scan on ([^\s.]+)\.(\S+)/g)) {
      if (m[1] !== database || m[2].startsWith("_ferretdb_")) continue; // FerretDB's own metadata
      found.push({ collection: m[2].replace(/_[0-9a-f]{8}$/, ""), query });
    }
  }
  return found;
}

const logSize = () => fs.statSync(path.join(pgDir, "postgresql.log")).size;

test("no REST read and no connect-time lookup scans a whole collection on PostgreSQL", async () => {
  const alice = await register(gw, `alice_${pid}`);
  const bob = await register(gw, `bob_${pid}`);
  const { direct, group, groupMessage } = await seed(alice, bob);
  const tables = psql(`SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables WHERE schemaname = '${database}'`).trim();
  assert.ok(tables, `no tables of schema ${database}: FerretDB named it otherwise`);
  psql(`ANALYZE ${tables}`);
  // The GIN indexes of deploy/ferretdb/gin-indexes.sql are there: on
  // participants exactly one, and no btree over the whole array (which
  // refused a group's write past about 100 members).
  const participants = psql(`SELECT indexdef FROM pg_indexes WHERE schemaname = '${database}' AND tablename LIKE 'conversations%' AND indexdef LIKE '%''participants''%'`).trim().split("\n");
  assert.equal(participants.length, 1, participants.join("\n"));
  assert.match(participants[0], /USING gin \(\(\(_jsonb -> 'participants'::text\)\) jsonb_path_ops\)/);
  assert.match(psql(`SELECT string_agg(indexname, ' ') FROM pg_indexes WHERE schemaname = '${database}'`), /messages_[0-9a-f]{8}_conversationid_gin/);

  const get = (route) => (token, url) => ({ route, run: () => http(gw, "GET", url, { token }) });
  const calls = [
    { route: "POST /api/auth/login", run: () => http(gw, "POST", "/api/auth/login", { body: { username: alice.username, password: "a good password" } }) },
    get("GET /api/users")(alice.token, "/api/users"),
    get("GET /api/users/:id/presence")(alice.token, `/api/users/${bob.id}/presence`),
    get("GET /api/chat/conversations")(alice.token, "/api/chat/conversations?page=1&limit=20"),
    get("GET /api/chat/conversations")(alice.token, "/api/chat/conversations?page=2&limit=5"),
    get("GET /api/chat/conversations/:id/messages")(alice.token, `/api/chat/conversations/${direct}/messages?page=1&limit=50`),
    get("GET /api/chat/conversations/:id/messages")(alice.token, `/api/chat/conversations/${direct}/messages?before=100&limit=20`),
    get("GET /api/chat/conversations/:id/messages")(alice.token, `/api/chat/conversations/${group}/messages?after=150`),
    get("GET /api/chat/conversations/:id/search")(alice.token, `/api/chat/conversations/${group}/search?q=NUMBER%201`),
    get("GET /api/chat/conversations/:id/members")(alice.token, `/api/chat/conversations/${group}/members`),
    get("GET /api/chat/messages/:id/readers")(bob.token, `/api/chat/messages/${groupMessage}/readers`),
    get("GET /api/chat/unread-count")(alice.token, "/api/chat/unread-count"),
    get("GET /api/chat/unread")(alice.token, "/api/chat/unread"),
    { route: "POST /api/v1/chat/convo/one-to-one", run: () => http(gw, "POST", `/api/v1/chat/convo/one-to-one?otherUserId=${bob.id}`, { token: alice.token }) },
    get("GET /api/v1/chat/convo/one-to-one/message")(alice.token, `/api/v1/chat/convo/one-to-one/message?otherUserId=${bob.id}&limit=10`),
    {
      route: "socket connect: rooms lookup and resume",
      run: async () => {
        const socket = await connect(gw, bob.token, { lastSeqs: { [direct]: 150, [group]: 190 } });
        sockets.push(socket);
        const resumed = await waitFor(socket, "resumed"); // after the rooms lookup and the replay
        return { status: resumed.conversations.length === 2 ? 200 : 500, body: resumed };
      },
    },
  ];

  // Every read route the gateway has is called here: a new one must be added.
  const described = JSON.parse(execFileSync(env.CHAT_TEST_GATEWAY, ["--describe-api"], { encoding: "utf8" }));
  for (const r of described.routes.filter((r) => r.method === "GET"))
    assert.ok(calls.some((c) => c.route === `GET ${r.path}`), `GET ${r.path} is not called by this check`);

  const failures = [];
  for (const call of calls) {
    const offset = logSize();
    const answer = await call.run();
    assert.ok(answer.status >= 200 && answer.status < 300, `${call.route}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
    await sleep(50); // the plan is logged before FerretDB answers; a margin all the same
    const allowed = EXCEPTIONS[call.route] ?? {};
    for (const scan of scansSince(offset)) {
      if (!allowed[scan.collection]) failures.push(`${call.route}: Seq Scan on ${scan.collection}: ${scan.query}`);
    }
  }
  assert.deepEqual(failures, [], "reads that scan a whole collection (docs/queries.md):\n" + failures.join("\n"));

  // The check sees scans at all: a filter on a key with no GIN index is one.
  const offset = logSize();
  await db.collection("messages").findOne({ clientMsgId: "c1" });
  assert.ok(scansSince(offset).some((s) => s.collection === "messages"), "auto_explain logged no Seq Scan for an unindexed filter");
});
