// Seed 003's guest rooms: a name and a room, no account, on the gateway's
// guest namespace (CHAT_GUEST_ROOMS=namespace, default /guest). When the
// gateway has them off the namespace is refused, and the page says so.
import { io } from "socket.io-client";
import { h, replace, showError } from "./dom.js";

const NAMESPACE = "/guest";
let socket = null;

export function leaveGuestPage() {
  socket?.close();
  socket = null;
}

export function showGuestPage(root) {
  leaveGuestPage();
  const status = h("p", { role: "status", class: "hint" }, "Checking whether this gateway has guest rooms…");
  const body = h("div", {});
  replace(root, h("section", { class: "guest", "aria-labelledby": "guest-title" },
    h("h2", { id: "guest-title" }, "Guest rooms"),
    h("p", { class: "hint" }, "Chat in a room under any name, without an account. Nothing is stored."),
    status, body));
  socket = io(NAMESPACE, { reconnectionAttempts: 3 });
  socket.on("connect_error", (err) => {
    status.textContent = /namespace/i.test(err.message)
      ? "Guest rooms are off on this gateway (CHAT_GUEST_ROOMS=namespace turns them on)."
      : `Cannot reach the guest rooms: ${err.message}`;
    replace(body);
  });
  socket.on("connect", () => {
    status.textContent = "Connected. Pick a name and a room.";
    if (!body.firstChild) drawLogin(body, status);
  });
  socket.on("disconnect", (reason) => { if (reason !== "io client disconnect") status.textContent = "Reconnecting…"; });
}

function drawLogin(body, status) {
  const name = h("input", { id: "guest-name", required: true, maxlength: "32", autocomplete: "nickname" });
  const room = h("input", { id: "guest-room", required: true, maxlength: "32", value: "lobby" });
  replace(body, h("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    const answer = await socket.timeout(10000).emitWithAck("login", { name: name.value, room: room.value }).catch(() => ({ error: "no answer" }));
    if (answer?.error) { showError(`Could not join the room: ${answer.error}`); return; }
    drawRoom(body, status, name.value, room.value);
  } },
  h("label", { for: "guest-name" }, "Your name"), name,
  h("label", { for: "guest-room" }, "Room"), room,
  h("button", { type: "submit" }, "Join room")));
}

function drawRoom(body, status, me, roomName) {
  const log = h("ol", { class: "log", role: "log", "aria-label": "Room messages" });
  const people = h("ul", { role: "list", "aria-label": "In the room" });
  const input = h("input", { id: "guest-message", autocomplete: "off" });
  const say = (user, text, kind = "") => {
    log.append(h("li", { class: `message ${kind}` }, h("span", { class: "sender" }, user), h("p", { class: "content" }, text)));
    log.scrollTop = log.scrollHeight;
  };
  socket.off("roomMessage").on("roomMessage", (m) => say(m.user, typeof m.text === "string" ? m.text : JSON.stringify(m.text), m.user === me ? "mine" : "theirs"));
  socket.off("notification").on("notification", (n) => say(n.title, n.description, "note"));
  socket.off("users").on("users", (users) => replace(people, (users ?? []).map((u) => h("li", {}, u.name ?? u))));
  status.textContent = `In room ${roomName} as ${me}.`;
  replace(body,
    h("div", { class: "guest-room" }, h("section", { "aria-label": "People" }, h("h3", {}, "In the room"), people),
      h("section", { class: "pane" }, log,
        h("form", { class: "compose row", onsubmit: async (e) => {
          e.preventDefault();
          if (!input.value.trim()) return;
          const answer = await socket.timeout(10000).emitWithAck("roomMessage", input.value).catch(() => ({ error: "no answer" }));
          if (answer?.error) showError(`Not sent: ${answer.error}`);
          else input.value = "";
        } }, h("label", { for: "guest-message", class: "sr-only" }, "Message"), input, h("button", { type: "submit" }, "Send")),
        h("button", { type: "button", class: "secondary", onclick: async () => {
          await socket.timeout(5000).emitWithAck("logout").catch(() => {});
          drawLogin(body, status);
        } }, "Leave room"))));
}
