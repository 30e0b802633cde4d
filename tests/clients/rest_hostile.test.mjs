// The REST API against hostile or careless clients (the smaller findings of
// the "hostile clients" issue), on the real stack: query strings with
// escaped separators and bad escapes, tokens whose subject is no user id,
// outsiders probing conversations they are not in, and request heads that
// are too large, malformed, too slow, or a kept-alive connection's later ones.
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

// The status, head and body of an answer read off the wire ({status: 0}
// when nothing that looks like one came).
function parseAnswer(data) {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(data);
  if (!match) return { status: 0, body: data };
  const split = data.indexOf("\r\n\r\n");
  return { status: Number(match[1]), headers: data.slice(0, split), body: data.slice(split + 4) };
}

// One request written by hand, for what fetch() will not send; resolves
// once the gateway closed, with {status, headers, body} (status 0 when it
// closed without an answer), reset (the connection ended in an error, so
// an answer may have been lost) and ms (from connecting to the close).
// With end false the client never ends its side (a head that never
// ends), and with trickle it then writes one more byte every 500 ms.
function rawRequest(head, { end = true, trickle = false, timeoutMs = 10000 } = {}) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let data = "", reset = false, timer;
    const socket = net.connect(Number(port), hostname, () => {
      if (end) return socket.end(head);
      socket.write(head);
      if (trickle) timer = setInterval(() => socket.write("a"), 500);
    });
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => { data += chunk; });
    socket.on("error", () => { reset = true; });
    socket.on("close", () => {
      clearInterval(timer);
      resolve({ ...parseAnswer(data), reset, ms: Date.now() - started });
    });
    socket.setTimeout(timeoutMs, () => { socket.destroy(); reject(new Error(`no close within ${timeoutMs} ms`)); });
  });
}

// Requests on one kept-alive connection: each written once the answer to
// the one before came whole, or all at once when pipelined. Resolves with
// the answers in order, once there are as many as requests (the client
// then ends), or when the gateway closed.
function keepAlive(heads, { pipelined = false } = {}) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const answers = [];
    let data = "", sent = 0;
    const socket = net.connect(Number(port), hostname, () => {
      if (pipelined) socket.write(heads.join(""));
      else socket.write(heads[0]);
      sent = pipelined ? heads.length : 1;
    });
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => {
      data += chunk;
      for (;;) {
        const split = data.indexOf("\r\n\r\n");
        if (split < 0) return;
        const length = /content-length: *(\d+)/i.exec(data.slice(0, split));
        const total = split + 4 + Number(length ? length[1] : 0);
        if (data.length < total) return;
        answers.push(parseAnswer(data.slice(0, total)));
        data = data.slice(total);
        if (answers.length === heads.length) return socket.end();
        if (sent < heads.length) socket.write(heads[sent++]);
      }
    });
    socket.on("error", () => {}); /* what came still counts; close follows */
    socket.on("close", () => resolve(answers));
    socket.setTimeout(10000, () => { socket.destroy(); reject(new Error("no answer within 10 s")); });
  });
}

// The REST envelope of a refusal.
const refusal = (code, message) => ({ success: false, error: { code, message } });
const tooLarge = refusal("TOO_LARGE", "request headers too large: at most 4096 bytes");
const badEscape = refusal("INVALID_ARGUMENT",
  "malformed percent escape in the request target: '%' must be followed by two hex digits (and not %00)");

// A refused head: its status, a JSON body equal to expected, and the
// connection closed after it, cleanly (no reset that could lose it).
function assertRefused(res, status, expected, what) {
  assert.equal(res.status, status, `${what}: ${res.body.slice(0, 200)}`);
  assert.match(res.headers, /content-type: application\/json/i, what);
  assert.match(res.headers, /connection: close/i, what);
  assert.deepEqual(JSON.parse(res.body), expected, what);
  assert.equal(res.reset, false, `${what}: the connection was reset after the answer`);
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
    assertRefused(res, 431, tooLarge, `${header.slice(0, 20)}...`);
  }
  // Just under the limit is served as before.
  const fine = await rawRequest(`GET /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nCookie: s=${"a".repeat(3000)}\r\nConnection: close\r\n\r\n`);
  assert.equal(fine.status, 200, fine.body);
});

test("headers of any size past 4 KB get the 431 and a close, whatever the path", async () => {
  const user = await register(base, `bigheads_${pid}`);
  const lines = (bytes) => Array.from({ length: Math.ceil(bytes / 100) },
    (_, i) => `X-Pad-${i}: ${"b".repeat(88)}`).join("\r\n");
  const heads = {
    "8 KB of cookie": `Cookie: s=${"a".repeat(8 * 1024)}`,
    "16 KB of cookie": `Cookie: s=${"a".repeat(16 * 1024)}`,
    "100 KB of cookie": `Cookie: s=${"a".repeat(100 * 1024)}`,
    "1 MB of header lines": lines(1024 * 1024),
  };
  for (const [what, header] of Object.entries(heads)) {
    // No "Connection: close": the gateway closes after such an answer anyway.
    for (const path of ["/api/users", "/socket.io/?EIO=4&transport=polling", "/index.html"]) {
      const res = await rawRequest(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\n${header}\r\n\r\n`);
      assertRefused(res, 431, tooLarge, `${what} on ${path}`);
    }
  }
  // A head that never ends is answered as soon as it passes 4 KB, not
  // when the client gives up.
  const endless = await rawRequest(`GET /api/users HTTP/1.1\r\nHost: x\r\nX-Endless: ${"c".repeat(5000)}`, { end: false });
  assertRefused(endless, 431, tooLarge, "a head that never ends");
  assert.ok(endless.ms < 5000, `answered after ${endless.ms} ms`);
  // More header lines and query arguments than libwebsockets keeps apart
  // (it would drop the request), each short, in well under 4 KB.
  const many = Array.from({ length: 100 }, (_, i) => `X-${i}: 1`).join("\r\n");
  assertRefused(await rawRequest(`GET /api/users HTTP/1.1\r\nHost: x\r\n${many}\r\n\r\n`), 431,
    refusal("TOO_LARGE", "too many header lines and query arguments: at most 80 in all"), "100 header lines");
  const args = Array.from({ length: 100 }, (_, i) => `a${i}=1`).join("&");
  assertRefused(await rawRequest(`GET /api/users?${args} HTTP/1.1\r\nHost: x\r\n\r\n`), 431,
    refusal("TOO_LARGE", "too many header lines and query arguments: at most 80 in all"), "100 query arguments");
  const some = Array.from({ length: 40 }, (_, i) => `X-${i}: 1`).join("\r\n");
  const served = await rawRequest(`GET /api/users?limit=5&page=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\n${some}\r\nConnection: close\r\n\r\n`);
  assert.equal(served.status, 200, `40 header lines: ${served.body}`);
});

test("a malformed percent escape in the request target gets a 400 in the REST envelope", async () => {
  const user = await register(base, `escapes_${pid}`);
  for (const target of ["/api/users?q=%zz", "/api/users?q=%4", "/api/%G1", "/api/users%4", "/api/users/%zz/presence",
    "/api/users?q=%00", "/api/users?q=100%", "/socket.io/?EIO=4&transport=polling&t=%zz", "/index.html%2"]) {
    const res = await rawRequest(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\n\r\n`);
    assertRefused(res, 400, badEscape, target);
  }
  // Well-formed escapes are decoded as before.
  const fine = await rawRequest(`GET /api/users?q=%7a%5A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nConnection: close\r\n\r\n`);
  assert.equal(fine.status, 200, fine.body);
});

test("a request line or header line that is not HTTP gets a 400 in the REST envelope", async () => {
  const badLine = refusal("INVALID_ARGUMENT",
    "malformed request line: it must be a method served here (GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD), a space and a request target without control characters");
  const badHeader = refusal("INVALID_ARGUMENT",
    "malformed header line: each must be a name, a colon and a value (no space before the colon, no folded lines)");
  const cases = [
    ["FETCH /api/users HTTP/1.1\r\nHost: x\r\n\r\n", 400, badLine],
    ["CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 400, badLine],
    ["\r\nGET /api/users HTTP/1.1\r\nHost: x\r\n\r\n", 400, badLine],
    ["GET /api/users\tx HTTP/1.1\r\nHost: x\r\n\r\n", 400, badLine],
    ["GET /api/users HTTP/1.1\r\nHost x\r\n\r\n", 400, badHeader],
    ["GET /api/users HTTP/1.1\r\nHost : x\r\n\r\n", 400, badHeader],
    ["GET /api/users HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", 400, badHeader],
  ];
  for (const [head, status, expected] of cases) assertRefused(await rawRequest(head), status, expected, JSON.stringify(head));
});

test("a head not whole 10 s after connecting gets a 408 and a close; a connection that says nothing is closed", async () => {
  const [slow, trickling, silent] = await Promise.all([
    rawRequest("GET /api/users HTTP/1.1\r\nHost: x\r\n", { end: false, timeoutMs: 20000 }),
    rawRequest("GET /api/users HTTP/1.1\r\nX-Slow: ", { end: false, trickle: true, timeoutMs: 20000 }),
    rawRequest("", { end: false, timeoutMs: 20000 }),
  ]);
  const timedOut = refusal("TIMEOUT", "request head not complete within 10 s");
  for (const [what, res] of [["a stalled head", slow], ["a head sent a byte at a time", trickling]]) {
    assertRefused(res, 408, timedOut, what);
    assert.ok(res.ms >= 9500 && res.ms < 15000, `${what}: closed after ${res.ms} ms`);
  }
  // Nothing was asked, so nothing is answered (a browser's preconnected
  // socket must not read an answer it never asked for).
  assert.deepEqual([silent.status, silent.body], [0, ""]);
  assert.ok(silent.ms >= 9500 && silent.ms < 15000, `the silent connection closed after ${silent.ms} ms`);
});

test("a kept-alive connection carries several requests, one after the other or pipelined", async () => {
  const user = await register(base, `keepalive_${pid}`, "a good password");
  const get = `GET /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\n\r\n`;
  const body = JSON.stringify({ username: `keepalive_${pid}`, password: "a good password" });
  const login = `POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  for (const [heads, pipelined] of [[[get, login, get], false], [[get, get, get], true], [[login, get], true]]) {
    const answers = await keepAlive(heads, { pipelined });
    assert.deepEqual(answers.map((a) => a.status), heads.map(() => 200), `pipelined ${pipelined}: ${JSON.stringify(answers)}`);
    for (const answer of answers) assert.equal(JSON.parse(answer.body).success, true);
  }
  // A request with a body pipelined behind another: libwebsockets 4.1.6
  // takes its head for its body and would loop for ever, and the whole
  // gateway with it; the connection is closed after the answers before it.
  for (const heads of [[get, login, get], [login, login], [get, `POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40`]]) {
    const answers = await keepAlive(heads, { pipelined: true });
    assert.deepEqual(answers.map((a) => a.status), [200], JSON.stringify(answers));
  }
  const after = await rawRequest(`GET /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nConnection: close\r\n\r\n`);
  assert.equal(after.status, 200, "the gateway still answers");
  // A later request on the connection is parsed by libwebsockets alone
  // (docs/architecture.md): between 4 and 8 KB it still gets the REST 431.
  const big = `GET /api/users HTTP/1.1\r\nHost: x\r\nCookie: s=${"a".repeat(5000)}\r\n\r\n`;
  const later = await keepAlive([get, big]);
  assert.deepEqual(later.map((a) => a.status), [200, 431]);
  assert.deepEqual(JSON.parse(later[1].body), tooLarge);
});
