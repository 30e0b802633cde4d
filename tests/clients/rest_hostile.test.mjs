// The REST API against hostile or careless clients (the smaller findings of
// the "hostile clients" issue), on the real stack: query strings with
// escaped separators and bad escapes, tokens whose subject is no user id,
// outsiders probing conversations they are not in, and oversized headers.
// Every one gets an answer in the REST envelope that says why.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import net from "node:net";
import { Stack, http, register } from "./lib/stack.mjs";

const stack = new Stack("resthostile");
let base;
const pid = process.pid;

before(async () => {
  await stack.startPersistence();
  base = await stack.startGateway("gw-rest-hostile");
});

after(async () => {
  await stack.stopAll();
});

const call = (user, method, path, body) => http(base, method, path, { token: user?.token, body });

const b64url = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
function token(sub) {
  const head = b64url({ alg: "HS256", typ: "JWT" });
  const body = b64url({ sub, exp: Math.floor(Date.now() / 1000) + 3600 });
  const sig = createHmac("sha256", stack.secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

// The id of the 1-1 conversation of two users (proto/README.md).
function directId(a, b) {
  const [x, y] = [a, b].sort();
  return createHash("sha256").update(`direct:${x}:${y}`).digest("hex").slice(0, 24);
}

// One request written by hand, for what fetch() will not send; resolves
// with {status, headers, body} or {status: 0} when the gateway closed
// without an answer.
function rawRequest(head) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.end(head));
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => { data += chunk; });
    socket.on("error", () => resolve({ status: 0, body: data }));
    socket.on("close", () => {
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (!match) return resolve({ status: 0, body: data });
      const split = data.indexOf("\r\n\r\n");
      resolve({ status: Number(match[1]), headers: data.slice(0, split), body: data.slice(split + 4) });
    });
    socket.setTimeout(10000, () => { socket.destroy(); reject(new Error("no answer within 10 s")); });
  });
}

test("an escaped & or = in a query value is part of the value, on every route", async () => {
  const tom = await register(base, `tom_${pid}`);
  const jerry = await register(base, `jerry_${pid}`);
  let conversationId;
  for (const content of ["Tom and Jerry", "Tom & Jerry", "a=b", "1+1 is 2"]) {
    const sent = await call(tom, "POST", "/api/chat/send", { receiverId: jerry.id, content });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    conversationId = sent.body.data.conversation_id;
  }
  const search = async (query) => {
    const res = await call(jerry, "GET", `/api/chat/conversations/${conversationId}/search?${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data.messages.map((m) => m.content);
  };
  assert.deepEqual(await search("q=Tom%20%26%20Jerry"), ["Tom & Jerry"]);
  assert.deepEqual(await search("q=Tom+%26+Jerry"), ["Tom & Jerry"], "'+' is a space, as forms send it");
  assert.deepEqual(await search("q=a%3Db"), ["a=b"]);
  assert.deepEqual(await search("q=1%2B1"), ["1+1 is 2"], "an escaped '+' is a plus");
  assert.deepEqual(await search("limit=1&q=Tom"), ["Tom & Jerry"], "the other arguments still count");
  // The same decoder for seed 002's otherUserId and the integer arguments.
  const details = await call(tom, "GET", `/api/v1/chat/convo/one-to-one/message?otherUserId=${encodeURIComponent(jerry.id)}&limit=%32`);
  assert.equal(details.status, 200, JSON.stringify(details.body));
  const page = await call(jerry, "GET", `/api/chat/conversations/${conversationId}/messages?li%6Dit=%31`);
  assert.equal(page.status, 200, JSON.stringify(page.body));
  assert.equal(page.body.data.messages.length, 1, "an escaped name is decoded too");
});

test("a token whose subject is not a user id is refused by REST as by sockets", async () => {
  const admin = { token: token("admin") };
  for (const [method, path] of [["GET", "/api/users"], ["GET", "/api/chat/conversations"], ["GET", "/api/chat/unread-count"]]) {
    const res = await call(admin, method, path);
    assert.equal(res.status, 401, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, {
      success: false,
      error: { code: "UNAUTHORIZED", message: "the token's subject is not a user id (send Authorization: Bearer <token>)" },
    });
  }
  const user = await register(base, `subject_${pid}`);
  assert.equal((await call({ token: token(user.id) }, "GET", "/api/users")).status, 200, "a user id is fine");
});

test("an outsider cannot tell whether a conversation exists, nor whether two users have talked", async () => {
  const ann = await register(base, `ann_${pid}`);
  const ben = await register(base, `ben_${pid}`);
  const cid = await register(base, `cid_${pid}`);
  const outsider = await register(base, `outsider_${pid}`);
  const sent = await call(ann, "POST", "/api/chat/send", { receiverId: ben.id, content: "just us" });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  assert.equal(sent.body.data.conversation_id, directId(ann.id, ben.id));
  const created = await call(ann, "POST", "/api/chat/conversations", { name: "no outsiders", memberIds: [ben.id] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const deleted = await call(ann, "POST", "/api/chat/conversations", { name: "gone", memberIds: [ben.id] });
  assert.equal((await call(ann, "DELETE", `/api/chat/conversations/${deleted.body.data.conversationId}`)).status, 200);
  const conversations = {
    "the 1-1 of a pair that talked": directId(ann.id, ben.id),
    "the 1-1 of a pair that never did": directId(ann.id, cid.id),
    "a group": created.body.data.conversationId,
    "a deleted group": deleted.body.data.conversationId,
    "no conversation at all": "65f1a0d9e4b0a1b2c3d4e6ff",
  };
  const routes = [
    ["POST", (id) => `/api/chat/conversations/${id}/members`, { userIds: [outsider.id] }],
    ["DELETE", (id) => `/api/chat/conversations/${id}/members/${ben.id}`],
    ["POST", (id) => `/api/chat/conversations/${id}/leave`],
    ["DELETE", (id) => `/api/chat/conversations/${id}`],
    ["GET", (id) => `/api/chat/conversations/${id}/members`],
    ["GET", (id) => `/api/chat/conversations/${id}/messages`],
    ["GET", (id) => `/api/chat/conversations/${id}/search?q=us`],
  ];
  const refusal = { status: 403, body: { success: false, error: { code: "FORBIDDEN", message: "not a member of this conversation" } } };
  for (const [method, path, body] of routes) {
    for (const [what, id] of Object.entries(conversations)) {
      const res = await call(outsider, method, path(id), body);
      assert.deepEqual(res, refusal, `${method} ${path(":id")} on ${what}`);
    }
  }
  // Members still hear what is true of their own conversations.
  const direct = await call(ann, "POST", `/api/chat/conversations/${directId(ann.id, ben.id)}/members`, { userIds: [cid.id] });
  assert.deepEqual([direct.status, direct.body.error.message], [400, "the members of a 1-1 conversation cannot change"]);
  const gone = await call(ben, "POST", `/api/chat/conversations/${deleted.body.data.conversationId}/leave`);
  assert.deepEqual([gone.status, gone.body.error.message], [404, "no such conversation"]);
  const notOwner = await call(ben, "DELETE", `/api/chat/conversations/${created.body.data.conversationId}`);
  assert.deepEqual([notOwner.status, notOwner.body.error.message], [403, "only the owner may delete the conversation"]);
});

test("headers past 4 KB get a 431 in the REST envelope, not a dropped connection", async () => {
  const user = await register(base, `headers_${pid}`);
  const padding = "a".repeat(5000);
  for (const header of [`Cookie: session=${padding}`, `Authorization: Bearer ${user.token}${padding}`]) {
    const res = await rawRequest(`GET /api/users HTTP/1.1\r\nHost: x\r\n${header}\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 431, `${header.slice(0, 20)}...: ${res.body}`);
    assert.match(res.headers, /content-type: application\/json/i);
    assert.deepEqual(JSON.parse(res.body), {
      success: false,
      error: { code: "TOO_LARGE", message: "request headers too large: at most 4096 bytes" },
    });
  }
  // Just under the limit is served as before.
  const fine = await rawRequest(`GET /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nCookie: s=${"a".repeat(3000)}\r\nConnection: close\r\n\r\n`);
  assert.equal(fine.status, 200, fine.body);
});
