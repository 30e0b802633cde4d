// The authorization matrix (the "hostile clients" issue), generated from
// the gateway's own tables: `chat-gateway --describe-api` lists every REST
// route and every socket event with who may use it, and this file tries
// each row as every kind of caller that must be refused: no token, a
// malformed token (five kinds), a valid user who is not a member, and a
// member who is not the owner (where the owner matters). Each refusal must
// be the one proto/openapi.yaml documents for the route, and say nothing of
// the conversation (its messages, its other members, the group's name). A
// row the gateway adds is covered without editing this file; a row that
// does not say who may use it fails here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { Stack, connect, env, http, register, request, sleep, waitFor } from "./lib/stack.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const api = JSON.parse(execFileSync(env.CHAT_TEST_GATEWAY, ["--describe-api"], { env: {} }));
assert.ok(env.CHAT_TEST_PYTHON, "CHAT_TEST_PYTHON (a Python with PyYAML) is unset");
const openapi = JSON.parse(execFileSync(env.CHAT_TEST_PYTHON, ["-c",
  "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
  `${root}/proto/openapi.yaml`]));

const SCOPES = ["public", "user", "member", "owner"];
// The rows that act on something of others' name it, in one of these places.
const OBJECTS = { member: ["conversation", "message"], owner: ["conversation", "message"] };
const PARAM_IN = { routes: ["path", "body", "query"] };

const stack = new Stack("authz");
const pid = process.pid;
const secret = `secret${randomBytes(6).toString("hex")}`; // in every message, the search term
const sockets = [];
let gw, users, direct, group, absentDirect, leaks;

// ---- tokens ----
const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
function jwt(claims, key, header = { alg: "HS256", typ: "JWT" }) {
  const unsigned = `${b64(header)}.${b64(claims)}`;
  const signature = key === null ? "" : createHmac("sha256", key).update(unsigned).digest("base64url");
  return `${unsigned}.${signature}`;
}
// The malformed kinds: each must be refused as if there were no token.
function malformedTokens(user) {
  const now = Math.floor(Date.now() / 1000);
  return {
    "a garbage token": "not-a-jwt",
    "a token signed with another secret": jwt({ sub: user.id, iat: now, exp: now + 3600 }, "another secret, 0123456789abcdef0123"),
    "an expired token": jwt({ sub: user.id, iat: now - 7200, exp: now - 3600 }, stack.secret),
    "an unsigned token (alg none)": jwt({ sub: user.id, iat: now, exp: now + 3600 }, null, { alg: "none", typ: "JWT" }),
    "a token whose subject is not a user id": jwt({ sub: "root", iat: now, exp: now + 3600 }, stack.secret),
  };
}

const directId = (a, b) => createHash("sha256").update(`direct:${[a, b].sort().join(":")}`).digest("hex").slice(0, 24);

// ---- the contract ----
const openapiPath = (path) => path.replace(/:([A-Za-z]+)/g, "{$1}");
function operation(route) {
  return openapi.paths?.[openapiPath(route.path)]?.[route.method.toLowerCase()];
}
function resolveRef(node) {
  while (node?.$ref) node = node.$ref.split("/").slice(1).reduce((n, k) => n[k], openapi);
  return node;
}
const isIdSchema = (schema) => schema?.$ref === "#/components/schemas/Id";

// A value for a schema the route requires: an id is a user id the caller
// may name (a member of the conversation: what a hostile caller would try),
// an array of ids the caller itself, a string the search term.
function sample(schema, caller) {
  schema = resolveRef(schema) ?? {};
  if (isIdSchema(schema) || schema.pattern === "^[0-9a-f]{24}$") return users.alice.id;
  if (schema.type === "array") return isIdSchema(schema.items) ? [caller.id] : [];
  if (schema.type === "integer") return schema.minimum ?? 1;
  if (schema.type === "object") return body(schema, caller);
  return secret;
}
function body(schema, caller) {
  const out = {};
  for (const key of schema.required ?? []) out[key] = sample(schema.properties?.[key], caller);
  return out;
}

// The request for a route as caller, naming target (a conversation or
// message id) where the row says it is named.
function buildRequest(route, caller, target) {
  const op = operation(route);
  const param = route.param;
  // A path parameter that is not an id (a reaction's emoji) takes its
  // schema's example: a refusal for its form would prove nothing.
  const example = (name) => (op.parameters ?? []).map(resolveRef)
    .find((p) => p.in === "path" && p.name === name)?.schema?.example;
  let path = route.path.replace(/:([A-Za-z]+)/g, (_, name) =>
    param?.in === "path" && param.name === name ? target
      : example(name) !== undefined ? encodeURIComponent(example(name))
        : name === "userId" ? users.vera.id : users.alice.id);
  const query = new URLSearchParams();
  for (let p of op.parameters ?? []) {
    p = resolveRef(p);
    if (p.in !== "query") continue;
    if (param?.in === "query" && param.name === p.name) query.set(p.name, target);
    else if (p.required) query.set(p.name, String(sample(p.schema, caller)));
  }
  if ([...query].length) path += `?${query}`;
  const schema = resolveRef(op.requestBody?.content?.["application/json"]?.schema);
  let payload = schema ? body(schema, caller) : undefined;
  if (param?.in === "body") payload = { ...(payload ?? {}), [param.name]: target };
  return { path, payload };
}

// What a refusal must not carry: the conversations' messages, their
// members other than the caller, the group's name.
function leaked(answer, caller, { ids = true } = {}) {
  const text = JSON.stringify(answer);
  return leaks.filter((s) => text.includes(s.value) && (ids || s.kind !== "member id") && s.value !== caller.id)
    .map((s) => `${s.kind} ${s.value}`);
}

function failureShape(body) {
  return body && body.success === false && Object.keys(body).sort().join() === "error,success" &&
    /^[A-Z_]+$/.test(body.error?.code ?? "") && typeof body.error.message === "string" &&
    body.error.message.length > 0 && Object.keys(body.error).sort().join() === "code,message";
}

before(async () => {
  await stack.startPersistence();
  await stack.startReceipts();
  gw = await stack.startGateway("gw-authz");
  const names = ["alice", "bob", "olga", "mike", "vera", "eve"];
  users = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await register(gw, `${n}_${pid}`)])));
  const { alice, bob, olga, mike, vera } = users;
  // A 1-1 between alice and bob; a group of olga (owner), mike and vera.
  const sent = await http(gw, "POST", "/api/chat/send", { token: alice.token, body: { receiverId: bob.id, content: `${secret} direct from alice` } });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  direct = { id: sent.body.data.conversation_id, message: sent.body.data.id, members: [alice, bob], owner: null };
  const groupName = `Group ${secret}`;
  const created = await http(gw, "POST", "/api/chat/conversations", { token: olga.token, body: { name: groupName, memberIds: [mike.id, vera.id] } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const groupId = created.body.data.conversationId;
  const posted = await http(gw, "POST", "/api/chat/send", { token: olga.token, body: { conversationId: groupId, content: `${secret} in the group from olga` } });
  assert.equal(posted.status, 201, JSON.stringify(posted.body));
  group = { id: groupId, message: posted.body.data.id, members: [olga, mike, vera], owner: olga, name: groupName };
  // The 1-1 of two users who never wrote to each other: it does not exist,
  // and a non-member must not be able to tell it from one that does.
  absentDirect = directId(alice.id, vera.id);
  leaks = [
    { kind: "message content", value: `${secret} direct from alice` },
    { kind: "message content", value: `${secret} in the group from olga` },
    { kind: "group name", value: groupName },
    ...[alice, bob, olga, mike, vera].map((u) => ({ kind: "member id", value: u.id })),
  ];
});

after(async () => {
  for (const s of sockets) s.close();
  await stack.stopAll();
});

// Runs fns with at most n at once (the gateway queues 256 reads).
async function pool(fns, n = 12) {
  const results = new Array(fns.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < fns.length) { const i = next++; results[i] = await fns[i](); }
  }));
  return results;
}

// Every row must say who may use it in a way this file can test.
function classify(kind, row) {
  const problems = [];
  if (!SCOPES.includes(row.scope)) problems.push(`scope ${JSON.stringify(row.scope)} is not one of ${SCOPES}`);
  if (row.auth !== (row.scope !== "public")) problems.push(`auth ${row.auth} does not fit scope ${row.scope}`);
  if (OBJECTS[row.scope]) {
    if (!OBJECTS[row.scope].includes(row.object)) problems.push(`a ${row.scope} row must name a conversation or a message, not ${row.object}`);
    if (kind === "routes" && !PARAM_IN.routes.includes(row.param?.in)) problems.push(`no param saying where the ${row.object} id is`);
    if (kind === "events" && !row.field) problems.push(`no payload field naming the ${row.object}`);
  }
  if (kind === "events" && row.scope === "public") problems.push("no socket event is public: the CONNECT needs a token");
  if (kind === "routes") {
    const op = operation(row);
    if (!op) problems.push("not in proto/openapi.yaml");
    else if (row.auth && !op.responses?.["401"]) problems.push("openapi.yaml lists no 401 for it");
  }
  return problems;
}

test("every row of the gateway's tables says who may use it, and every route is in openapi.yaml", () => {
  assert.ok(api.routes.length >= 20 && api.events.length >= 9, "--describe-api lists the tables");
  const problems = [];
  for (const kind of ["routes", "events"]) {
    for (const row of api[kind]) {
      for (const p of classify(kind, row)) problems.push(`${row.method ?? ""} ${row.path ?? row.name}: ${p}`);
    }
  }
  assert.deepEqual(problems, [], "rows the matrix cannot classify");
});

// ---- REST ----

function restCases() {
  const cases = [];
  for (const route of api.routes) {
    if (classify("routes", route).length || route.scope === "public") continue;
    const name = `${route.method} ${route.path}`;
    const target = route.object === "message" ? direct.message : route.object === "conversation" ? group.id : null;
    cases.push({ name: `${name} with no token`, route, caller: users.eve, token: undefined, target, expect: "401" });
    for (const [kind, token] of Object.entries(malformedTokens(users.eve)))
      cases.push({ name: `${name} with ${kind}`, route, caller: users.eve, token, target, expect: "401" });
    if (route.scope === "user") {
      cases.push({ name: `${name} as another user`, route, caller: users.eve, token: users.eve.token, expect: "no leak" });
      continue;
    }
    for (const conversation of [direct, group]) {
      const on = conversation === direct ? "the 1-1" : "the group";
      const target = route.object === "message" ? conversation.message : conversation.id;
      cases.push({ name: `${name} as a non-member, on ${on}`, route, caller: users.eve, token: users.eve.token, target, expect: "non-member",
        // A 1-1's id is derived from its two users: the answer must not tell whether it exists.
        absent: conversation === direct && route.object === "conversation" ? absentDirect : null });
    }
    if (route.scope === "owner") {
      if (route.object === "conversation")
        cases.push({ name: `${name} as a member who is not the owner`, route, caller: users.mike, token: users.mike.token, target: group.id, expect: "403" });
      else
        for (const [caller, conversation] of [[users.bob, direct], [users.mike, group]])
          cases.push({ name: `${name} as a member who is not the sender, in ${conversation === direct ? "the 1-1" : "the group"}`, route, caller, token: caller.token, target: conversation.message, expect: "403" });
    }
  }
  return cases;
}

async function call(route, caller, token, target) {
  const { path, payload } = buildRequest(route, caller, target);
  const res = await http(gw, route.method, path, { token, body: payload });
  return { path, ...res };
}

function judgeRest(c, answer, absentAnswer) {
  const problems = [];
  const documented = Object.keys(operation(c.route).responses ?? {});
  const where = `${c.route.method} ${answer.path} -> ${answer.status} ${JSON.stringify(answer.body)}`;
  if (c.expect === "no leak") {
    const found = leaked(answer.body, c.caller, { ids: false });
    if (found.length) problems.push(`leaks ${found.join(", ")}: ${where}`);
    if (!documented.includes(String(answer.status))) problems.push(`status ${answer.status} is not documented: ${where}`);
    return problems;
  }
  const allowed = { "401": { 401: "UNAUTHORIZED" }, "403": { 403: "FORBIDDEN" }, "non-member": { 403: "FORBIDDEN", 404: "NOT_FOUND" } }[c.expect];
  if (allowed[answer.status] === undefined || answer.body?.error?.code !== allowed[answer.status])
    problems.push(`expected ${Object.entries(allowed).map(([s, code]) => `${s} ${code}`).join(" or ")}: ${where}`);
  if (!documented.includes(String(answer.status))) problems.push(`status ${answer.status} is not in openapi.yaml for the route: ${where}`);
  if (!failureShape(answer.body)) problems.push(`not the Failure envelope: ${where}`);
  const found = leaked(answer.body, c.caller);
  if (found.length) problems.push(`leaks ${found.join(", ")}: ${where}`);
  if (absentAnswer) {
    const seen = (a) => JSON.stringify([a.status, a.body?.error?.code, a.body?.error?.message]);
    if (seen(absentAnswer) !== seen(answer))
      problems.push(`tells an existing 1-1 (${seen(answer)}) from one that does not exist (${seen(absentAnswer)})`);
  }
  return problems;
}

test("REST: every route refuses every caller it must, as openapi.yaml documents, and leaks nothing", async (t) => {
  const cases = restCases();
  const answers = await pool(cases.map((c) => async () => [
    await call(c.route, c.caller, c.token, c.target),
    c.absent ? await call(c.route, c.caller, c.token, c.absent) : null,
  ]));
  t.diagnostic(`${cases.length} REST cases from ${api.routes.length} routes`);
  const failed = [];
  for (const [i, c] of cases.entries()) {
    await t.test(c.name, () => {
      const problems = judgeRest(c, ...answers[i]);
      if (problems.length) failed.push(c.name);
      assert.deepEqual(problems, []);
    });
  }
  // The conversations are as they were: no refused call changed them.
  const members = await http(gw, "GET", `/api/chat/conversations/${group.id}/members`, { token: users.olga.token });
  assert.deepEqual(members.body.data.members.map((m) => m.id).sort(), group.members.map((m) => m.id).sort());
  const history = await http(gw, "GET", `/api/chat/conversations/${direct.id}/messages`, { token: users.bob.token });
  assert.deepEqual(history.body.data.messages.map((m) => m.id), [direct.message]);
  if (failed.length) t.diagnostic(`failed: ${failed.join("; ")}`);
});

// ---- Socket.IO ----

function connectRefused(token) {
  return new Promise((resolve) => {
    const socket = io(gw, { auth: token === undefined ? {} : { token }, transports: ["websocket"], reconnection: false });
    const done = (outcome) => { socket.close(); resolve(outcome); };
    socket.once("connect", () => done({ connected: true }));
    socket.once("connect_error", (err) => done({ connected: false, message: err.message }));
  });
}

test("Socket.IO: no socket connects without a valid token, so no event is sent without one", async (t) => {
  const tokens = { "no token": undefined, ...malformedTokens(users.eve) };
  const outcomes = await Promise.all(Object.values(tokens).map(connectRefused));
  for (const [i, kind] of Object.keys(tokens).entries()) {
    await t.test(`CONNECT with ${kind}`, () => {
      assert.equal(outcomes[i].connected, false, `connected with ${kind}`);
      assert.match(outcomes[i].message, /^Authentication failed/);
    });
  }
});

test("Socket.IO: a non-member's (and a non-owner's) every conversation event is refused, and nothing of the conversation reaches them", async (t) => {
  const { alice, bob, olga, mike, eve } = users;
  const open = async (user) => { const s = await connect(gw, user.token); sockets.push(s); return s; };
  const [eveSocket, bobSocket, mikeSocket, aliceSocket, olgaSocket] = await Promise.all([eve, bob, mike, alice, olga].map(open));
  await sleep(500); // rooms joined on connect
  // Members have both conversations open: what is said there reaches open sockets as new_message.
  for (const [s, c] of [[aliceSocket, direct], [bobSocket, direct], [olgaSocket, group], [mikeSocket, group]])
    assert.deepEqual(await request(s, "join_conversation", { conversationId: c.id }), { ok: true });

  const cases = [];
  for (const event of api.events) {
    if (classify("events", event).length) continue;
    if (event.scope === "user") {
      cases.push({ name: `${event.name} as another user`, event, socket: eveSocket, caller: eve, payload: {}, expect: "no leak" });
      continue;
    }
    for (const conversation of [direct, group]) {
      const on = conversation === direct ? "the 1-1" : "the group";
      const target = event.object === "message" ? conversation.message : conversation.id;
      cases.push({ name: `${event.name} as a non-member, on ${on}`, event, socket: eveSocket, caller: eve, target, expect: "FORBIDDEN",
        absent: conversation === direct && event.object === "conversation" ? absentDirect : null });
    }
    if (event.scope === "owner" && event.object === "message") {
      for (const [socket, caller, conversation] of [[bobSocket, bob, direct], [mikeSocket, mike, group]])
        cases.push({ name: `${event.name} as a member who is not the sender, in ${conversation === direct ? "the 1-1" : "the group"}`, event, socket, caller, target: conversation.message, expect: "FORBIDDEN" });
    } else if (event.scope === "owner") {
      cases.push({ name: `${event.name} as a member who is not the owner`, event, socket: mikeSocket, caller: mike, target: group.id, expect: "FORBIDDEN" });
    }
  }
  // One payload for every event: the row's field, and what a send needs to
  // be well formed (a refusal for its form would prove nothing): a send's
// content and clientMsgId, a reaction's emoji.
  const payloadOf = (c, target) => c.payload ?? { content: `hostile ${randomBytes(4).toString("hex")}`, clientMsgId: randomBytes(8).toString("hex"), emoji: "\u{1F44D}", [c.event.field]: target };
  const answers = [];
  for (const c of cases) {
    answers.push([await request(c.socket, c.event.name, payloadOf(c, c.target)), c.absent ? await request(c.socket, c.event.name, payloadOf(c, c.absent)) : null]);
  }
  t.diagnostic(`${cases.length} socket event cases from ${api.events.length} events`);
  for (const [i, c] of cases.entries()) {
    await t.test(c.name, async () => {
      const [ack, absentAck] = answers[i];
      const found = leaked(ack, c.caller, { ids: c.expect !== "no leak" });
      assert.deepEqual(found, [], `the ack leaks: ${JSON.stringify(ack)}`);
      if (c.expect === "no leak") return;
      if (c.event.revert) {
        // Refused by the service that knows the message: the revert event.
        const reverted = await waitFor(c.socket, c.event.revert, (r) => r.messageId === c.target && r.code === c.expect, 10000);
        assert.deepEqual(leaked(reverted, c.caller), [], `the revert leaks: ${JSON.stringify(reverted)}`);
        assert.ok(ack.ok === true || ack.error?.code === c.expect, JSON.stringify(ack));
      } else {
        assert.equal(ack.ok, false, JSON.stringify(ack));
        assert.equal(ack.error?.code, c.expect, JSON.stringify(ack));
      }
      if (absentAck) assert.deepEqual(absentAck, ack, "a non-member tells an existing 1-1 from one that does not exist");
    });
  }

  // Afterwards the members talk, type and read: nothing of it reaches the outsider.
  const later = `${secret} after the attempts`;
  leaks.push({ kind: "message content", value: later });
  eveSocket.seen.length = 0;
  for (const [s, c, other] of [[aliceSocket, direct, bobSocket], [olgaSocket, group, mikeSocket]]) {
    assert.equal((await request(s, "send_message", { conversationId: c.id, content: later, clientMsgId: randomBytes(8).toString("hex") })).ok, true);
    await request(s, "typing", { conversationId: c.id });
    await waitFor(other, "new_message", (m) => m.content === later && m.conversationId === c.id);
    await waitFor(other, "user_typing", (e) => e.conversationId === c.id);
    await request(other, "mark_as_read", { conversationId: c.id });
    await waitFor(s, "messages_read", (e) => e.conversationId === c.id);
  }
  await sleep(500);
  const reached = eveSocket.seen.filter((e) => {
    const text = JSON.stringify(e.data);
    return text.includes(direct.id) || text.includes(group.id) || leaked(e.data, eve).length;
  });
  assert.deepEqual(reached, [], "events of the conversations reached a non-member");
});
