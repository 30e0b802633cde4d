// The web client (web/) in real Chromium (Debian's package, driven by
// puppeteer-core) against the real stack with two gateways: two isolated
// browser contexts, one per gateway, chat with each other as a person
// would. Elements are found by role and accessible name only.
// Screenshots go to CHAT_TEST_ARTIFACTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { Stack, connect, register, waitFor, env } from "../../tests/clients/lib/stack.mjs";

const stack = new Stack("web");
const pid = process.pid;
const artifacts = env.CHAT_TEST_ARTIFACTS ?? "/tmp";
let gwA, gwB, gwOff, browser;
const sockets = [];

before(async () => {
  await stack.startPersistence();
  await stack.startPresence();
  await stack.startReceipts();
  gwA = (await stack.startGatewayProcess("web-a", { CHAT_GUEST_ROOMS: "namespace" })).base;
  gwB = (await stack.startGatewayProcess("web-b")).base;
  gwOff = (await stack.startGatewayProcess("web-off", { CHAT_WEB_ROOT: "off" })).base;
  browser = await puppeteer.launch({
    executablePath: env.CHAT_TEST_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
});

after(async () => {
  for (const s of sockets) s.close();
  await browser?.close();
  await stack.stopAll();
});

const aria = (name, role) => `::-p-aria([name="${name}"][role="${role}"])`;

async function openPage(base) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  await page.setViewport({ width: 1100, height: 720 });
  const problems = [];
  page.on("pageerror", (err) => problems.push(err.message));
  page.problems = problems;
  await page.goto(base + "/", { waitUntil: "load" });
  return page;
}

async function signUp(page, username) {
  await page.locator(aria("Username", "textbox")).fill(username);
  await page.locator(aria("Password", "textbox")).fill("a good password");
  await page.locator(aria("Register", "button")).click();
  await page.waitForSelector(aria("Users", "list"));
  await page.waitForFunction(() => document.getElementById("connection").textContent === "Connected");
}

// Waits until the text of the element found by selector (within scope)
// satisfies pred; returns that text.
async function textOf(page, selector, pred, what) {
  const el = await page.waitForSelector(selector);
  const deadline = Date.now() + 20000;
  for (;;) {
    const text = await el.evaluate((e) => e.innerText);
    if (pred(text)) return text;
    if (Date.now() > deadline) {
      const errors = await page.evaluate(() => document.getElementById("errors").innerText);
      throw new Error(`${what}: still ${JSON.stringify(text)}; errors shown: ${JSON.stringify(errors)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

const log = (page, pred, what) => textOf(page, aria("Messages", "log"), pred, what);
const conversations = (page, pred, what) => textOf(page, aria("Conversations", "list"), pred, what);

async function inList(page, listName, itemName) {
  const list = await page.waitForSelector(aria(listName, "list"));
  const button = await list.waitForSelector(aria(itemName, "button"));
  await button.click();
}

async function typeAndSend(page, text) {
  const box = page.locator(aria("Message", "textbox"));
  await box.fill(text);
  await page.keyboard.press("Enter"); // the keyboard sends
}

test("two people chat in Chromium across two gateways", async () => {
  const alice = `alice_${pid}`, bob = `bob_${pid}`, carol = `carol_${pid}`;
  const pageA = await openPage(gwA);
  const pageB = await openPage(gwB);
  await signUp(pageA, alice);
  await signUp(pageB, bob);
  const carolUser = await register(gwB, carol);
  const carolSocket = await connect(gwB, carolUser.token);
  sockets.push(carolSocket);

  // The token is kept for the tab: a reload stays logged in and lists bob.
  await pageA.reload({ waitUntil: "load" });
  await textOf(pageA, aria("Users", "list"), (t) => new RegExp(`${bob}\\s*online`).test(t), "bob shown online");
  await inList(pageA, "Users", bob);
  await pageA.waitForSelector(aria("Messages", "log"));

  // alice -> bob; bob has the conversation closed: an unread count.
  await typeAndSend(pageA, "hello bob");
  await log(pageA, (t) => t.includes("hello bob") && /delivered|read/.test(t), "alice sees her message stored");
  await conversations(pageB, (t) => t.includes(alice) && t.includes("1 unread"), "bob's unread count");

  // bob opens it: the count goes, alice sees it read.
  await inList(pageB, "Conversations", alice);
  await log(pageB, (t) => t.includes("hello bob"), "bob sees the history");
  await conversations(pageB, (t) => !t.includes("unread"), "bob's unread count reset");
  await log(pageA, (t) => /hello bob[\s\S]*read/.test(t), "alice sees 'read'");

  // Both have it open: typing shows on the other side, then a reply.
  await pageB.locator(aria("Message", "textbox")).fill("hi al");
  await pageB.type(aria("Message", "textbox"), "ice");
  await textOf(pageA, "body", (t) => t.includes(`${bob} is typing`), "bob typing, on alice's side");
  await typeAndSend(pageB, "hi alice");
  await log(pageA, (t) => t.includes("hi alice"), "alice gets bob's reply live");

  // bob replies to alice's message: both see the quote of it.
  await pageB.locator(aria("Reply to: hello bob", "button")).click(); // a locator: the log is redrawn meanwhile
  await typeAndSend(pageB, "answering that");
  for (const [page, label] of [[pageA, "In reply to You"], [pageB, `In reply to ${alice}`]]) {
    await page.waitForSelector(aria(label, "figure"));
    await log(page, (t) => /hello bob\s+answering that/.test(t), `${label}: the quote, then the reply`);
  }

  // A reload shows the history.
  await pageA.reload({ waitUntil: "load" });
  await inList(pageA, "Conversations", bob);
  await log(pageA, (t) => t.includes("hello bob") && t.includes("hi alice"), "history after a reload");

  // bob reacts to "hello bob" (the oldest message: the first quick 👍);
  // alice sees the count, then edits it: bob sees the new text, marked.
  await pageB.locator(aria("React with \u{1F44D}", "button")).click();
  await log(pageA, (t) => t.includes("\u{1F44D} 1"), "alice sees bob's reaction");
  await log(pageB, (t) => t.includes("\u{1F44D} 1"), "bob sees his reaction");
  pageA.once("dialog", (dialog) => dialog.accept("hello bob, edited"));
  await (await pageA.waitForSelector(aria("Edit message: hello bob", "button"))).click();
  await log(pageB, (t) => t.includes("hello bob, edited") && t.includes("(edited)"), "bob sees the edit");
  await log(pageA, (t) => t.includes("hello bob, edited") && t.includes("(edited)"), "alice sees her edit");

  // alice deletes her message: gone on bob's side too.
  await (await pageA.waitForSelector(aria("Delete message: hello bob, edited", "button"))).click();
  await log(pageB, (t) => !t.includes("hello bob") && t.includes("deleted"), "deleted on bob's side");
  await log(pageB, (t) => t.includes("answering that") && t.includes("a deleted message"), "bob's quote of it says deleted");
  await log(pageA, (t) => !t.includes("hello bob"), "deleted on alice's side");

  // A group with a third user.
  await pageA.locator(aria("New group", "button")).click();
  await pageA.locator(aria("Group name", "textbox")).fill("Weekend plans");
  await pageA.locator(aria(bob, "checkbox")).click();
  await pageA.locator(aria(carol, "checkbox")).click();
  await pageA.locator(aria("Create group", "button")).click();
  await conversations(pageA, (t) => t.includes("Weekend plans"), "the group in alice's list");
  await conversations(pageB, (t) => t.includes("Weekend plans"), "the group in bob's list");
  const created = await waitFor(carolSocket, "conversation_created", (c) => c.name === "Weekend plans");
  assert.equal(created.kind, "group");
  await pageA.waitForSelector(aria("Message", "textbox"));
  await typeAndSend(pageA, "who brings snacks?");
  await waitFor(carolSocket, "message_notification", (n) => n.content === "who brings snacks?");
  await conversations(pageB, (t) => /Weekend plans[\s\S]*1 unread/.test(t), "bob's group unread");

  fs.mkdirSync(artifacts, { recursive: true });
  await pageA.screenshot({ path: path.join(artifacts, "web-alice.png") });
  await pageB.screenshot({ path: path.join(artifacts, "web-bob.png") });
  await pageB.setViewport({ width: 390, height: 760, isMobile: true });
  await inList(pageB, "Conversations", alice);
  await log(pageB, (t) => t.includes("hi alice"), "bob at phone width");
  await pageB.screenshot({ path: path.join(artifacts, "web-bob-phone.png") });
  assert.deepEqual([...pageA.problems, ...pageB.problems], [], "no script errors");
});

test("the guest rooms page, when the gateway has them on", async () => {
  const page = await openPage(gwA);
  await page.goto(gwA + "/#/guest", { waitUntil: "load" });
  await page.locator(aria("Your name", "textbox")).fill("Visitor");
  await page.locator(aria("Join room", "button")).click();
  await page.locator(aria("Message", "textbox")).fill("hi room");
  await page.keyboard.press("Enter");
  await textOf(page, aria("Room messages", "log"), (t) => t.includes("hi room"), "the guest's message");
  const off = await openPage(gwB);
  await off.goto(gwB + "/#/guest", { waitUntil: "load" });
  await off.waitForFunction(() => [...document.querySelectorAll("[role=status]")]
    .some((e) => e.textContent.includes("Guest rooms are off")));
});

// A request with the path exactly as written (fetch would normalise it).
function rawGet(base, target) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () =>
      socket.end(`GET ${target} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`));
    let answer = "";
    socket.on("data", (d) => { answer += d.toString("latin1"); });
    socket.on("end", () => resolve(answer));
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
  });
}

test("the files are served with their types; nothing outside the bundle; off means off", async () => {
  for (const [file, type] of [["/", "text/html"], ["/app.js", "text/javascript"], ["/style.css", "text/css"]]) {
    const res = await fetch(gwA + file);
    assert.equal(res.status, 200, file);
    assert.match(res.headers.get("content-type"), new RegExp(type));
    assert.equal(res.headers.get("cache-control"), "no-cache");
  }
  const missing = await fetch(gwA + "/missing.js");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).success, false, "the REST envelope");
  for (const target of ["/../CMakeLists.txt", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd",
    "/app.js%00.html", "/.%2e/web/src/app.js", "//etc/passwd", "/index.html/", "/%252e%252e/etc/passwd"]) {
    const answer = await rawGet(gwA, target);
    assert.doesNotMatch(answer, /^HTTP\/1\.1 200/, `${target} must not be served`);
    assert.doesNotMatch(answer, /root:|project\(|import \{ io \}/, `${target} leaked a file`);
  }
  const off = await fetch(gwOff + "/");
  assert.equal(off.status, 404, "CHAT_WEB_ROOT=off serves nothing at /");
  assert.equal((await off.json()).success, false);
});
