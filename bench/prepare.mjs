// Creates the users (and group rooms) a chatbench scenario needs, through
// the gateway's REST API, and writes chatbench's input file.
//   node bench/prepare.mjs pairs BASE_URL PAIRS OUT_FILE
//     -> "senderId senderToken receiverId receiverToken" per line
//   node bench/prepare.mjs rooms BASE_URL ROOMS SIZE OUT_FILE
//     -> "conversationId token token ..." per line, the creator first;
//        SIZE may be up to 1,000 (a group's most members)
import { writeFileSync } from "node:fs";

const [mode, base, a, b, c] = process.argv.slice(2);
const MEMBERS_STEP = 50; // members named in one create or add command (100 passed the gateway's 10 s answer deadline in a run)
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;

async function post(path, body, token) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (res.ok) return json.data;
    // 503: the gateway's worker queue is full; 504: persistence had not
    // answered in 10 s, and a create or add sent again is safe (the add
    // skips who is in already): wait and send again.
    if ((res.status !== 503 && res.status !== 504) || attempt > 20)
      throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    await new Promise((r) => setTimeout(r, res.status === 504 ? 1000 : 200));
  }
}

async function users(count) {
  const out = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      const i = next++;
      const data = await post("/api/auth/register", { username: `b${run}_${i}`, password: "bench password" });
      out[i] = { id: data.user.id, token: data.token };
    }
  }));
  return out;
}

if (mode === "pairs") {
  const pairs = Number(a);
  const people = await users(pairs * 2);
  const lines = [];
  for (let i = 0; i < pairs; i++) {
    const s = people[2 * i], r = people[2 * i + 1];
    lines.push(`${s.id} ${s.token} ${r.id} ${r.token}`);
  }
  writeFileSync(b, lines.join("\n") + "\n");
} else if (mode === "rooms") {
  // A group is created with its first members and grown by adding the
  // rest in steps of MEMBERS_STEP: persistence checks and stores each
  // member in the command, and a command of 1,000 would not finish within
  // the gateway's 10 s answer deadline on a slow store.
  const rooms = Number(a), size = Number(b);
  const people = await users(rooms * size);
  const lines = [];
  for (let r = 0; r < rooms; r++) {
    const members = people.slice(r * size, (r + 1) * size);
    const rest = members.slice(1).map((m) => m.id);
    const group = await post("/api/chat/conversations", { name: `bench ${r}`, memberIds: rest.slice(0, MEMBERS_STEP) }, members[0].token);
    for (let i = MEMBERS_STEP; i < rest.length; i += MEMBERS_STEP)
      await post(`/api/chat/conversations/${group.conversationId}/members`, { userIds: rest.slice(i, i + MEMBERS_STEP) }, members[0].token);
    lines.push([group.conversationId, ...members.map((m) => m.token)].join(" "));
  }
  writeFileSync(c, lines.join("\n") + "\n");
} else {
  console.error("usage: prepare.mjs pairs BASE PAIRS OUT | rooms BASE ROOMS SIZE OUT");
  process.exit(2);
}
