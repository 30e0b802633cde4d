// A socket that connects while the gateway cannot reach MongoDB still
// gets its rooms once the store is back (issue 20: "none loses its
// rooms"). The gateway talks to FerretDB through a TCP relay that the test
// cuts: the CONNECT needs no store (the token is checked alone), the
// lookup of the socket's conversations fails, and the gateway must look
// them up again rather than leave the socket connected without its rooms
// and answer what it sends as from a stranger.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Stack, connect, freePort, http, register, request, waitFor, sleep, mongoUri } from "./lib/stack.mjs";

const stack = new Stack("roomslookup");
let relay, relayPort, gateway, direct;
const sockets = [];
const pid = process.pid;

// A relay to the store that can be cut (every connection dropped, new ones
// refused) and restored on the same port.
class Relay {
  constructor(port, target) {
    Object.assign(this, { port, target, open: new Set(), server: null });
  }
  start() {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      this.open.add(client).add(upstream);
      const drop = () => { client.destroy(); upstream.destroy(); this.open.delete(client); this.open.delete(upstream); };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream).pipe(client);
    });
    return new Promise((resolve) => this.server.listen(this.port, "127.0.0.1", resolve));
  }
  async cut() {
    await new Promise((resolve) => { this.server.close(resolve); for (const s of this.open) s.destroy(); });
    this.open.clear();
  }
}

before(async () => {
  const target = new URL(mongoUri);
  relayPort = await freePort();
  relay = new Relay(relayPort, { host: target.hostname, port: Number(target.port) });
  await relay.start();
  await stack.startPersistence();
  direct = await stack.startGateway("gw-direct");
  gateway = await stack.startGatewayProcess("gw-relayed", { CHAT_MONGO_URI: `mongodb://127.0.0.1:${relayPort}/` });
});

after(async () => {
  for (const s of sockets) s.close();
  await stack.stopAll();
  await relay?.cut().catch(() => {});
});

async function awaitingRooms(healthPort) {
  const text = await fetch(`http://127.0.0.1:${healthPort}/metrics`).then((r) => r.text());
  const line = text.split("\n").find((l) => l.startsWith("chat_gateway_sockets_awaiting_rooms "));
  return Number(line?.split(" ")[1]);
}

test("a socket connected while the store is unreachable joins its rooms once it is back", async () => {
  const alice = await register(direct, `alice_${pid}`);
  const bob = await register(direct, `bob_${pid}`);
  const sent = await http(direct, "POST", "/api/chat/send", { token: alice.token, body: { receiverId: bob.id, content: "hello bob" } });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  const conversationId = sent.body.data.conversation_id;

  await relay.cut();
  const bobSocket = await connect(gateway.base, bob.token);
  sockets.push(bobSocket);
  // Sent while its rooms are unknown: held, then answered as from the member it is.
  const joined = request(bobSocket, "join_conversation", { conversationId }, 30000);
  await sleep(4000); /* the lookup meets the store's absence (server selection gives up after 2 s) */
  assert.equal(await awaitingRooms(gateway.child.healthPort), 1, "the socket must still wait for its rooms while the store is away");
  await relay.start();

  const deadline = Date.now() + 30000;
  while ((await awaitingRooms(gateway.child.healthPort)) !== 0) {
    assert.ok(Date.now() < deadline, "the socket's rooms were not looked up again within 30 s of the store's return");
    await sleep(200);
  }
  assert.deepEqual(await joined, { ok: true });
  const again = await http(direct, "POST", "/api/chat/send", { token: alice.token, body: { conversationId, content: "are you there?" } });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  const got = await waitFor(bobSocket, "new_message", (m) => m.content === "are you there?");
  assert.equal(got.conversationId, conversationId);
});
