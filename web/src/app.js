// The web client: accounts, users with presence, conversations with unread
// counts, a conversation (history, send with its ack states, typing,
// delete, search, read receipts), groups, and resume after a reconnect.
// Plain DOM and socket.io-client; state lives in `state`, views redraw
// from it.
import { io } from "socket.io-client";
import { api } from "./api.js";
import { h, replace, showError, clearErrors, time } from "./dom.js";
import { showGuestPage, leaveGuestPage } from "./guest.js";

const PAGE = 30;            // messages per history page
const TYPING_EVERY_MS = 2000; // a typing event at most this often while keys come
const TYPING_IDLE_MS = 3000;  // stop_typing this long after the last key
const TYPING_SHOWN_MS = 6000; // someone's "typing" goes away this long after their last event

const state = {
  token: sessionStorage.getItem("chat.token"),
  me: JSON.parse(sessionStorage.getItem("chat.user") || "null"),
  socket: null,
  users: new Map(),          // id -> {id, username, isOnline}
  conversations: new Map(),  // id -> {id, kind, name, ownerId, participants, last_message, last_message_at, lastSeq, unread}
  lastSeqs: JSON.parse(sessionStorage.getItem("chat.lastSeqs") || "{}"),
  open: null,                // the open conversation (see openConversation)
};

const page = () => document.getElementById("page");

// ---- accounts -------------------------------------------------------------

function saveSession(data) {
  state.token = data.token;
  state.me = data.user;
  sessionStorage.setItem("chat.token", data.token);
  sessionStorage.setItem("chat.user", JSON.stringify(data.user));
}

function logout() {
  state.socket?.close();
  state.socket = null;
  state.token = state.me = state.open = null;
  state.users.clear();
  state.conversations.clear();
  state.lastSeqs = {};
  sessionStorage.clear();
  route();
}

function showLogin() {
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true,
    pattern: "[A-Za-z0-9_.\\-]{3,32}", title: "3 to 32 letters, digits, '_', '.' or '-'" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password",
    required: true, minlength: "8" });
  const submit = async (kind) => {
    if (!form.reportValidity()) return;
    clearErrors();
    try {
      const data = await api("POST", `/api/auth/${kind}`, { body: { username: username.value, password: password.value } });
      saveSession(data);
      route();
    } catch (err) {
      showError(`${kind === "login" ? "Log in" : "Registration"} failed: ${err.message}`);
    }
  };
  const form = h("form", { class: "login", "aria-labelledby": "login-title",
    onsubmit: (e) => { e.preventDefault(); submit("login"); } },
  h("h2", { id: "login-title" }, "Log in or register"),
  h("label", { for: "username" }, "Username"), username,
  h("label", { for: "password" }, "Password"), password,
  h("p", { class: "hint" }, "A new name? Pick a password of 8 characters or more and register."),
  h("div", { class: "row" },
    h("button", { type: "submit" }, "Log in"),
    h("button", { type: "button", class: "secondary", onclick: () => submit("register") }, "Register")),
  h("p", { class: "hint" }, h("a", { href: "#/guest" }, "Or chat as a guest in a room"), " (when the gateway has guest rooms on)."));
  replace(page(), form);
  username.focus();
}

// ---- the socket -------------------------------------------------------------

function setConnection(words, kind) {
  const el = document.getElementById("connection");
  el.textContent = words;
  el.dataset.kind = kind;
}

function noteSeq(conversationId, seq) {
  if (!conversationId || !Number.isInteger(seq)) return;
  if ((state.lastSeqs[conversationId] ?? 0) >= seq) return;
  state.lastSeqs[conversationId] = seq;
  sessionStorage.setItem("chat.lastSeqs", JSON.stringify(state.lastSeqs));
  // Read again by socket.io-client at every reconnect: the gateway replays
  // what came after these (docs/architecture.md, "Resume").
  if (state.socket) state.socket.auth.lastSeqs = { ...state.lastSeqs };
}

function connectSocket() {
  const socket = io({ auth: { token: state.token, lastSeqs: { ...state.lastSeqs } } });
  state.socket = socket;
  let everConnected = false;
  setConnection("Connecting…", "connecting");
  socket.on("connect", () => {
    setConnection("Connected", "ok");
    if (everConnected) {
      // Back after a cut: what was missed comes as new_message first; the
      // lists are fetched again for the unread counts and presence.
      loadLists();
      if (state.open?.id) socket.emit("join_conversation", { conversationId: state.open.id }, () => {});
    }
    everConnected = true;
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io client disconnect") return;
    setConnection("Reconnecting…", "reconnecting");
  });
  socket.io.on("reconnect_attempt", (n) => setConnection(`Reconnecting… (attempt ${n})`, "reconnecting"));
  socket.on("connect_error", (err) => {
    if (/token|auth|expired|unauthori/i.test(err.message)) {
      showError(`The server refused the session: ${err.message}. Please log in again.`);
      logout();
      return;
    }
    setConnection(`Reconnecting… (${err.message})`, "reconnecting");
  });
  socket.on("user_online", ({ userId }) => setOnline(userId, true));
  socket.on("user_offline", ({ userId }) => setOnline(userId, false));
  socket.on("message_notification", onNotification);
  socket.on("new_message", onNewMessage);
  socket.on("message_ack", onMessageAck);
  socket.on("messages_read", onMessagesRead);
  socket.on("message_read_reverted", (r) => showError(`Could not mark as read: ${r.reason ?? r.error?.message ?? "refused"}`));
  socket.on("message_deleted", onMessageDeleted);
  socket.on("message_deletion_reverted", (r) => showError(`The message was not deleted: ${r.reason}`));
  socket.on("message_edited", onMessageEdited);
  socket.on("message_edit_reverted", (r) => showError(`The message was not edited: ${r.reason}`));
  socket.on("reaction_added", (r) => onReaction(r, true));
  socket.on("reaction_removed", (r) => onReaction(r, false));
  socket.on("reaction_reverted", (r) => showError(`The reaction did not go through: ${r.reason}`));
  socket.on("user_typing", (t) => onTyping(t, true));
  socket.on("user_stopped_typing", (t) => onTyping(t, false));
  for (const event of ["conversation_created", "member_added", "member_removed"]) socket.on(event, onMembership);
  socket.on("conversation_deleted", ({ conversationId }) => {
    state.conversations.delete(conversationId);
    if (state.open?.id === conversationId) {
      showError("This group was deleted.");
      closeConversation();
    }
    drawConversations();
  });
}

// emit with an ack; a refusal is shown in words and thrown.
function emit(event, payload) {
  return new Promise((resolve, reject) => {
    state.socket.timeout(15000).emit(event, payload, (err, ack) => {
      if (err) {
        const e = new Error(`no answer from the server to ${event} (it is reconnecting?)`);
        reject(e);
        return;
      }
      if (ack && ack.ok === false) {
        reject(new Error(describeError(ack.error)));
        return;
      }
      resolve(ack);
    });
  });
}

function describeError(error) {
  if (!error) return "refused";
  const words = error.message ?? String(error);
  if (error.code === "RATE_LIMITED") return `Slow down: ${words}`;
  if (error.code === "TOO_LARGE") return `Too long: ${words}`;
  return words;
}

// ---- users and conversations ----------------------------------------------

async function loadLists() {
  try {
    const [users, conversations, unread] = await Promise.all([
      api("GET", "/api/users", { token: state.token }),
      api("GET", "/api/chat/conversations?limit=100", { token: state.token }),
      api("GET", "/api/chat/unread", { token: state.token }),
    ]);
    state.users.clear();
    for (const u of users.users) state.users.set(u.id, u);
    const counts = new Map(unread.conversations.map((c) => [c.conversationId, c.unreadCount]));
    state.conversations.clear();
    for (const c of conversations.conversations) {
      state.conversations.set(c.id, { ...c, unread: counts.get(c.id) ?? 0 });
      noteSeqFromList(c);
    }
    if (state.open?.id) state.conversations.get(state.open.id) && (state.conversations.get(state.open.id).unread = 0);
    drawUsers();
    drawConversations();
    loadPresence();
  } catch (err) {
    if (err.status === 401) {
      showError(`Your session has ended (${err.message}). Please log in again.`);
      logout();
      return;
    }
    showError(`Could not load the lists: ${err.message}`);
  }
}

// The list's lastSeq is only a floor for resume when nothing was seen yet:
// a conversation never opened here needs no replay of its whole history.
function noteSeqFromList(c) {
  if (state.lastSeqs[c.id] === undefined) noteSeq(c.id, c.lastSeq);
}

// user_online / user_offline come only on a change, and only for users
// who share a room: everyone's state at load comes from REST.
const PRESENCE_LOOKUPS = 100; // users whose presence is asked at load, at most
async function loadPresence() {
  const unknown = [...state.users.values()].filter((u) => u.id !== state.me.id && u.isOnline === undefined)
    .slice(0, PRESENCE_LOOKUPS);
  await Promise.all(unknown.map(async (u) => {
    try {
      const p = await api("GET", `/api/users/${u.id}/presence`, { token: state.token });
      if (u.isOnline === undefined) u.isOnline = p.online;
    } catch { /* shown as offline; the live events correct it */ }
  }));
  drawUsers();
  if (state.open) drawHeader();
}

function setOnline(userId, online) {
  const user = state.users.get(userId);
  if (user) user.isOnline = online;
  drawUsers();
  if (state.open) drawHeader();
}

function conversationTitle(c) {
  if (c.kind === "group") return c.name ?? "Group";
  const other = (c.participants ?? []).find((p) => p.id !== state.me.id);
  return other?.username ?? state.users.get(other?.id)?.username ?? "Conversation";
}

function otherUserId(c) {
  return (c.participants ?? []).find((p) => p.id !== state.me.id)?.id;
}

function sortedConversations() {
  return [...state.conversations.values()].sort((a, b) =>
    (b.last_message_at ?? b.createdAt ?? "").localeCompare(a.last_message_at ?? a.createdAt ?? ""));
}

function drawUsers() {
  const list = document.getElementById("users");
  if (!list) return;
  const others = [...state.users.values()].filter((u) => u.id !== state.me.id);
  replace(list, others.length ? others.map((u) => h("li", {},
    h("button", { type: "button", class: "user", onclick: () => openDirect(u) },
      h("span", { class: `dot ${u.isOnline ? "on" : "off"}`, "aria-hidden": "true" }), u.username),
    h("span", { class: "sr-only" }, u.isOnline ? "online" : "offline"))) : h("li", { class: "hint" }, "No one else yet: open a second tab and register."));
}

function drawConversations() {
  const list = document.getElementById("conversations");
  if (!list) return;
  const items = sortedConversations().map((c) => {
    const title = conversationTitle(c);
    const current = state.open?.id === c.id;
    return h("li", { class: current ? "current" : "" },
      // Named by the title alone (the last message describes it), so that
      // it is found by the other party's or the group's name.
      h("button", { type: "button", class: "conversation", "aria-current": current ? "true" : false,
        "aria-label": title, "aria-describedby": `last-${c.id}`, onclick: () => openConversation(c.id) },
      h("span", { class: "title" }, title, c.kind === "group" ? h("span", { class: "tag" }, " group") : null),
      h("span", { class: "last", id: `last-${c.id}` }, c.last_message ?? "No messages yet"),
      h("span", { class: "when" }, c.last_message_at ? time(c.last_message_at) : "")),
      c.unread ? h("span", { class: "badge" }, `${c.unread} unread`) : null);
  });
  replace(list, items.length ? items : h("li", { class: "hint" }, "No conversations yet: pick a user below."));
}

function onNotification(n) {
  let c = state.conversations.get(n.conversationId);
  if (!c) {
    loadLists(); // a conversation this page has not heard of yet
    return;
  }
  c.last_message = n.content;
  c.last_message_at = n.timestamp;
  if (n.from?.id !== state.me.id && state.open?.id !== n.conversationId) c.unread = (c.unread ?? 0) + 1;
  noteSeq(n.conversationId, n.seq);
  drawConversations();
}

function onMembership(event) {
  loadLists().then(() => {
    if (state.open?.id === event.conversationId) {
      const c = state.conversations.get(event.conversationId);
      if (!c) {
        showError("You are no longer a member of this group.");
        closeConversation();
        return;
      }
      state.open.conversation = c;
      drawHeader();
      if (state.open.membersShown) drawMembers();
    }
  });
}

// ---- the layout ---------------------------------------------------------------

function showChat() {
  document.getElementById("whoami").textContent = `Signed in as ${state.me.username}`;
  document.getElementById("logout").hidden = false;
  replace(page(), h("div", { class: "chat", id: "chat" },
    h("nav", { class: "side", "aria-label": "Conversations and users" },
      h("section", { "aria-labelledby": "conversations-title" },
        h("div", { class: "row between" },
          h("h2", { id: "conversations-title" }, "Conversations"),
          h("button", { type: "button", class: "secondary", onclick: showNewGroup }, "New group")),
        h("ul", { id: "conversations", role: "list", "aria-labelledby": "conversations-title" })),
      h("section", { "aria-labelledby": "users-title" },
        h("h2", { id: "users-title" }, "Users"),
        h("ul", { id: "users", role: "list", "aria-labelledby": "users-title" }))),
    h("section", { class: "pane", id: "pane", "aria-label": "Conversation" },
      h("p", { class: "hint empty" }, "Pick a conversation or a user to chat with."))));
  if (!state.socket) connectSocket();
  loadLists();
}

// ---- a conversation -------------------------------------------------------

async function openDirect(user) {
  try {
    const data = await api("POST", `/api/v1/chat/convo/one-to-one?otherUserId=${encodeURIComponent(user.id)}`, { token: state.token });
    const c = data.conversation;
    if (!state.conversations.has(c.id)) {
      state.conversations.set(c.id, { ...c, kind: "direct", name: null, ownerId: null, unread: 0, exists: c.exists });
    }
    await openConversation(c.id, { exists: c.exists });
  } catch (err) {
    showError(`Could not open the conversation with ${user.username}: ${err.message}`);
  }
}

function closeConversation() {
  if (state.open?.id && state.open.joined) state.socket?.emit("leave_conversation", { conversationId: state.open.id }, () => {});
  state.open = null;
  document.getElementById("chat")?.classList.remove("open");
  const pane = document.getElementById("pane");
  if (pane) replace(pane, h("p", { class: "hint empty" }, "Pick a conversation or a user to chat with."));
  drawConversations();
}

async function openConversation(id, { exists = true } = {}) {
  if (state.open?.id !== id) closeConversation();
  const c = state.conversations.get(id);
  state.open = {
    id, conversation: c, messages: [], byId: new Map(), hasMore: false, loading: false, exists,
    joined: false, typing: new Map(), membersShown: false, typingSent: 0, typingTimer: null,
  };
  c.unread = 0;
  document.getElementById("chat").classList.add("open");
  drawPane();
  drawConversations();
  if (exists) {
    await join();
    await loadHistory();
    markRead();
  }
}

async function join() {
  const open = state.open;
  try {
    await emit("join_conversation", { conversationId: open.id });
    open.joined = true;
  } catch (err) {
    showError(`Could not open the conversation live: ${err.message}`);
  }
}

function markRead() {
  const open = state.open;
  if (!open?.exists || document.visibilityState === "hidden") return;
  emit("mark_as_read", { conversationId: open.id }).catch((err) => showError(`Could not mark as read: ${err.message}`));
}
document.addEventListener("visibilitychange", () => { if (state.open) markRead(); });

function fromRest(m) {
  return {
    id: m.id, seq: m.seq, senderId: m.sender_id, sender: m.sender?.username, content: m.content,
    createdAt: m.createdAt, status: m.sender_id === state.me.id ? (m.is_read ? "read" : "persisted") : null,
    editedAt: m.editedAt ?? null, reactions: m.reactions ?? [],
    replyTo: m.replyTo,
  };
}

async function loadHistory(older = false) {
  const open = state.open;
  if (open.loading) return;
  open.loading = true;
  const before = older && open.messages.length ? `&before=${open.messages[0].seq}` : "";
  try {
    const data = await api("GET", `/api/chat/conversations/${open.id}/messages?limit=${PAGE}${before}`, { token: state.token });
    if (state.open !== open) return;
    const fresh = data.messages.map(fromRest).filter((m) => !open.byId.has(m.id));
    for (const m of fresh) open.byId.set(m.id, m);
    open.messages = older ? [...fresh, ...open.messages] : mergeBySeq(open.messages, fresh);
    open.hasMore = data.hasMore;
    for (const m of fresh) noteSeq(open.id, m.seq);
    const log = document.getElementById("log");
    const fromBottom = log.scrollHeight - log.scrollTop;
    drawMessages();
    // Older messages go on top without moving what the reader looks at.
    log.scrollTop = older ? log.scrollHeight - fromBottom : log.scrollHeight;
  } catch (err) {
    showError(`Could not load the history: ${err.message}`);
  } finally {
    open.loading = false;
  }
}

function mergeBySeq(a, b) {
  return [...a, ...b].sort((x, y) => (x.seq ?? Infinity) - (y.seq ?? Infinity));
}

function drawPane() {
  const open = state.open;
  const message = h("textarea", { id: "message", rows: "1", maxlength: "10000", autocomplete: "off",
    onkeydown: (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } },
    oninput: typed });
  const log = h("ol", { id: "log", class: "log", role: "log", "aria-label": "Messages", "aria-live": "polite",
    onscroll: () => { if (log.scrollTop < 40 && open.hasMore && !open.loading) loadHistory(true); } });
  const search = h("input", { id: "search", type: "search", autocomplete: "off" });
  replace(document.getElementById("pane"),
    h("header", { class: "pane-head" },
      h("button", { type: "button", class: "back secondary", onclick: closeConversation }, "Back"),
      h("div", { id: "pane-title", class: "pane-title" }),
      h("div", { id: "pane-actions", class: "row" })),
    h("form", { class: "search row", role: "search", onsubmit: (e) => { e.preventDefault(); runSearch(search.value); } },
      h("label", { for: "search", class: "sr-only" }, "Search messages"), search,
      h("button", { type: "submit", class: "secondary" }, "Search")),
    h("div", { id: "members" }),
    h("div", { id: "results" }),
    log,
    h("p", { id: "typing", class: "typing", role: "status", "aria-live": "polite" }),
    h("div", { id: "replying" }),
    h("form", { class: "compose row", onsubmit: (e) => { e.preventDefault(); send(); } },
      h("label", { for: "message", class: "sr-only" }, "Message"), message,
      h("button", { type: "submit" }, "Send")));
  message.placeholder = "Message (Enter sends)";
  search.placeholder = "Search this conversation";
  drawHeader();
  drawMessages();
  message.focus();
}

function drawHeader() {
  const open = state.open;
  const c = open.conversation;
  const title = document.getElementById("pane-title");
  if (!title) return;
  const other = state.users.get(otherUserId(c));
  replace(title, h("h2", {}, conversationTitle(c)),
    c.kind === "group" ? h("span", { class: "hint" }, `${(c.participants ?? []).length} members`)
      : h("span", { class: "hint" }, other?.isOnline ? "online" : "offline"));
  const actions = document.getElementById("pane-actions");
  replace(actions, c.kind === "group"
    ? h("button", { type: "button", class: "secondary", "aria-expanded": open.membersShown ? "true" : "false",
      onclick: () => { open.membersShown = !open.membersShown; drawHeader(); drawMembers(); } }, "Members")
    : null);
}

function statusWords(m) {
  return { sending: "sending…", accepted: "sent", persisted: "delivered", read: "read", rejected: "not sent" }[m.status] ?? "";
}

function drawMessages() {
  const open = state.open;
  const log = document.getElementById("log");
  if (!log) return;
  const items = open.messages.map((m) => {
    const mine = m.senderId === state.me.id;
    return h("li", { class: `message ${mine ? "mine" : "theirs"} ${m.deleted ? "deleted" : ""}` },
      h("span", { class: "sender" }, mine ? "You" : m.sender ?? state.users.get(m.senderId)?.username ?? "someone"),
      m.replyTo && !m.deleted ? quoteOf(m.replyTo) : null,
      h("p", { class: "content" }, m.deleted ? "This message was deleted." : m.content),
      h("span", { class: "meta" }, m.createdAt ? time(m.createdAt) : "",
        mine && !m.deleted ? h("span", { class: `status ${m.status}` }, " · ", statusWords(m)) : null,
        m.error ? h("span", { class: "status rejected" }, ` · ${m.error}`) : null),
      m.editedAt && !m.deleted ? h("span", { class: "edited", title: `edited ${time(m.editedAt)}` }, "(edited)") : null,
      m.id && !m.deleted ? drawReactions(m) : null,
      mine && m.id && !m.deleted && m.status !== "rejected"
        ? h("button", { type: "button", class: "link", "aria-label": `Edit message: ${m.content.slice(0, 40)}`,
          onclick: () => editMessage(m) }, "Edit") : null,
      mine && m.id && !m.deleted && m.status !== "rejected"
        ? h("button", { type: "button", class: "link", "aria-label": `Delete message: ${m.content.slice(0, 40)}`,
          onclick: () => deleteMessage(m) }, "Delete") : null,
      replyButton(m));
  });
  if (!open.exists && !items.length) items.push(h("li", { class: "hint" }, "No messages yet: say hello."));
  if (open.hasMore) items.unshift(h("li", { class: "hint" }, "Scroll up for older messages"));
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
  replace(log, items);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

async function send() {
  const open = state.open;
  const input = document.getElementById("message");
  const content = input.value.trim();
  if (!content) return;
  const c = open.conversation;
  const clientMsgId = crypto.randomUUID();
  const m = { clientMsgId, senderId: state.me.id, content, createdAt: new Date().toISOString(), status: "sending" };
  const answered = open.replyingTo;
  if (answered) m.replyTo = localQuote(answered);
  open.messages.push(m);
  input.value = "";
  open.replyingTo = null;
  drawReplying();
  stopTyping();
  drawMessages();
  const payload = open.exists || c.kind === "group" ? { conversationId: open.id, content, clientMsgId }
    : { receiverId: otherUserId(c), content, clientMsgId };
  if (answered) payload.replyTo = answered.id;
  try {
    const ack = await emit("send_message", payload);
    if (m.status === "sending") m.status = ack.status ?? "accepted";
    // A first 1-1 message creates the conversation: it is joined once
    // the message is stored (onMessageAck), when membership exists.
    if (ack.conversationId) open.exists = true;
  } catch (err) {
    m.status = "rejected";
    m.error = err.message;
    showError(`Your message was not sent: ${err.message}`);
  }
  if (state.open === open) drawMessages();
}

function findOwn(clientMsgId) {
  return state.open?.messages.find((m) => m.clientMsgId === clientMsgId);
}

function onMessageAck(a) {
  const m = findOwn(a.clientMsgId);
  if (a.seq && a.conversationId) noteSeq(a.conversationId, a.seq);
  if (!m) return;
  const open = state.open;
  if (a.status === "persisted" && !open.joined && !open.joining) {
    open.joining = true;
    join().then(() => { open.joining = false; if (state.open === open) markRead(); });
  }
  const rank = { sending: 0, accepted: 1, persisted: 2, read: 3 };
  if (a.status === "rejected") {
    m.status = "rejected";
    m.error = a.error?.message ?? "refused";
    showError(`Your message was not stored: ${describeError(a.error)}`);
  } else if ((rank[a.status] ?? 0) > (rank[m.status] ?? 0)) {
    m.status = a.status;
  }
  if (a.messageId) {
    const twin = state.open.byId.get(a.messageId);
    if (twin && twin !== m) { // new_message came first: keep one
      state.open.messages = state.open.messages.filter((x) => x !== twin);
    }
    m.id = a.messageId;
    m.seq = a.seq ?? m.seq;
    state.open.byId.set(m.id, m);
    if (state.open.readUpTo >= m.seq) m.status = "read";
  }
  drawMessages();
}

function onNewMessage(n) {
  noteSeq(n.conversationId, n.seq);
  const c = state.conversations.get(n.conversationId);
  if (c) {
    c.last_message = n.content;
    c.last_message_at = n.createdAt;
  }
  const open = state.open;
  if (!open || open.id !== n.conversationId) {
    // Replayed after a reconnect for a conversation that is not open.
    if (c && n.senderId !== state.me.id) c.unread = (c.unread ?? 0) + 1;
    drawConversations();
    return;
  }
  drawConversations();
  if (open.byId.has(n.id)) return; // already here (history or resume)
  let m = n.senderId === state.me.id
    ? open.messages.find((x) => !x.id && x.content === n.content && x.status !== "rejected") : null;
  if (m) {
    m.id = n.id;
    m.seq = n.seq;
    if (n.replyTo) m.replyTo = n.replyTo; // the stored quote replaces the one drawn locally
    if (m.status === "sending" || m.status === "accepted") m.status = "persisted";
  } else {
    m = { id: n.id, seq: n.seq, senderId: n.senderId, sender: n.sender?.username, content: n.content, createdAt: n.createdAt,
      status: n.senderId === state.me.id ? "persisted" : null, replyTo: n.replyTo };
    open.messages = mergeBySeq(open.messages, [m]);
  }
  open.byId.set(n.id, m);
  open.typing.delete(n.senderId);
  drawTyping();
  drawMessages();
  if (n.senderId !== state.me.id) markRead();
}

function onMessagesRead(r) {
  const open = state.open;
  if (!open || open.id !== r.conversationId || r.userId === state.me.id) return;
  open.readUpTo = Math.max(open.readUpTo ?? 0, r.lastReadSeq);
  for (const m of open.messages) {
    if (m.senderId === state.me.id && m.seq && m.seq <= r.lastReadSeq && m.status !== "rejected") m.status = "read";
  }
  drawMessages();
}

// ---- edits and reactions ---------------------------------------------------------

const QUICK_REACTIONS = ["\u{1F44D}", "\u2764\uFE0F", "\u{1F602}"];

// The message's reactions as chips (a count; pressed when the reader is
// among them: a click takes it back) and the quick ones not there yet.
function drawReactions(m) {
  const chips = (m.reactions ?? []).map((r) => h("button", {
    type: "button", class: `reaction ${r.reacted ? "mine" : ""}`, "aria-pressed": r.reacted ? "true" : "false",
    "aria-label": `${r.emoji} ${r.count}${r.reacted ? ", yours" : ""}`,
    onclick: () => react(m, r.emoji, !r.reacted) }, `${r.emoji} ${r.count}`));
  const present = new Set((m.reactions ?? []).map((r) => r.emoji));
  const quick = QUICK_REACTIONS.filter((e) => !present.has(e)).map((emoji) => h("button", {
    type: "button", class: "reaction add", "aria-label": `React with ${emoji}`, onclick: () => react(m, emoji, true) }, emoji));
  return h("span", { class: "reactions" }, ...chips, ...quick);
}

async function react(m, emoji, add) {
  try {
    await emit(add ? "react" : "unreact", { messageId: m.id, emoji });
  } catch (err) {
    showError(`The reaction did not go through: ${err.message}`);
  }
}

// The room's count is the truth; whether it is the reader's comes from
// who reacted.
function onReaction({ messageId, userId, emoji, count }, added = undefined) {
  const m = state.open?.byId.get(messageId);
  if (!m) return;
  const reactions = m.reactions ?? (m.reactions = []);
  let r = reactions.find((x) => x.emoji === emoji);
  if (!r) reactions.push(r = { emoji, count: 0, reacted: false });
  r.count = count;
  if (userId === state.me.id && added !== undefined) r.reacted = added;
  m.reactions = reactions.filter((x) => x.count > 0);
  drawMessages();
}

async function editMessage(m) {
  const text = window.prompt("Edit your message", m.content);
  if (text === null || !text.trim() || text === m.content) return;
  try {
    await emit("edit_message", { messageId: m.id, content: text.trim() });
  } catch (err) {
    showError(`The message was not edited: ${err.message}`);
  }
}

function onMessageEdited({ messageId, conversationId, content, editedAt }) {
  const m = state.open?.byId.get(messageId);
  if (m) {
    m.content = content;
    m.editedAt = editedAt;
    drawMessages();
  }
  if (conversationId && state.conversations.has(conversationId)) loadLists();
}

async function deleteMessage(m) {
  try {
    await emit("delete_message", { messageId: m.id });
  } catch (err) {
    showError(`The message was not deleted: ${err.message}`);
  }
}

function onMessageDeleted({ messageId, conversationId }) {
  const m = state.open?.byId.get(messageId);
  if (m) {
    m.deleted = true;
    drawMessages();
  }
  forgetQuotedText(messageId);
  if (conversationId && state.conversations.has(conversationId)) loadLists();
}

// ---- replies ---------------------------------------------------------------------

// A reply shows a quote of the message it answers: who wrote it and its
// first characters, as the server stored them with the reply.
function quoteOf(q) {
  const who = q.senderId === state.me.id ? "You" : q.senderUsername ?? state.users.get(q.senderId)?.username ?? "someone";
  return h("figure", { class: "quote", "aria-label": `In reply to ${who}` },
    h("span", { class: "sender" }, who),
    q.deleted ? h("em", {}, "a deleted message") : `${q.excerpt}${q.truncated ? "…" : ""}`);
}

function replyButton(m) {
  if (!m.id || m.deleted || m.status === "rejected") return null;
  return h("button", { type: "button", class: "link", "aria-label": `Reply to: ${m.content.slice(0, 40)}`,
    onclick: () => { state.open.replyingTo = m; drawReplying(); document.getElementById("message")?.focus(); } }, "Reply");
}

// The quote drawn until the server's comes (with new_message).
function localQuote(m) {
  const excerpt = m.content.slice(0, 120);
  return { messageId: m.id, senderId: m.senderId, senderUsername: m.sender ?? null, excerpt,
    truncated: excerpt.length < m.content.length, deleted: false };
}

function drawReplying() {
  const bar = document.getElementById("replying");
  if (!bar) return;
  const m = state.open?.replyingTo;
  replace(bar, m ? h("div", { class: "replying row", role: "status" }, "Replying to ", quoteOf(localQuote(m)),
    h("button", { type: "button", class: "link", onclick: () => { state.open.replyingTo = null; drawReplying(); } }, "Cancel reply"))
    : null);
}

// The original is gone: the quotes of it on this screen lose its text too.
function forgetQuotedText(messageId) {
  let changed = false;
  for (const m of state.open?.messages ?? []) {
    if (m.replyTo?.messageId === messageId && !m.replyTo.deleted) {
      m.replyTo = { ...m.replyTo, excerpt: null, truncated: false, deleted: true };
      changed = true;
    }
  }
  if (changed) drawMessages();
}

// ---- typing ---------------------------------------------------------------------

function typed() {
  const open = state.open;
  if (!open?.joined) return;
  const now = Date.now();
  if (now - open.typingSent > TYPING_EVERY_MS) {
    open.typingSent = now;
    state.socket.emit("typing", { conversationId: open.id }, () => {});
  }
  clearTimeout(open.typingTimer);
  open.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  const open = state.open;
  if (!open?.typingSent) return;
  clearTimeout(open.typingTimer);
  open.typingSent = 0;
  state.socket.emit("stop_typing", { conversationId: open.id }, () => {});
}

function onTyping({ userId, conversationId }, typing) {
  const open = state.open;
  if (!open || open.id !== conversationId || userId === state.me.id) return;
  clearTimeout(open.typing.get(userId));
  if (typing) open.typing.set(userId, setTimeout(() => { open.typing.delete(userId); drawTyping(); }, TYPING_SHOWN_MS));
  else open.typing.delete(userId);
  drawTyping();
}

function drawTyping() {
  const el = document.getElementById("typing");
  if (!el) return;
  const names = [...state.open.typing.keys()].map((id) => state.users.get(id)?.username ?? "Someone");
  el.textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
}

// ---- search -------------------------------------------------------------------

async function runSearch(q) {
  const open = state.open;
  const results = document.getElementById("results");
  if (!q.trim()) { replace(results); return; }
  try {
    const data = await api("GET", `/api/chat/conversations/${open.id}/search?q=${encodeURIComponent(q)}&limit=20`, { token: state.token });
    const found = data.messages ?? [];
    replace(results, h("section", { class: "results", "aria-label": "Search results" },
      h("div", { class: "row between" }, h("h3", {}, `${found.length} found for “${q}”`),
        h("button", { type: "button", class: "link", onclick: () => replace(results) }, "Close search")),
      h("ul", { role: "list" }, found.map((m) => h("li", {},
        h("span", { class: "sender" }, m.sender?.username ?? ""), " ", m.content, " ",
        h("span", { class: "meta" }, time(m.createdAt)))))));
  } catch (err) {
    showError(`Search failed: ${err.message}`);
  }
}

// ---- groups ---------------------------------------------------------------------

function showNewGroup() {
  const others = [...state.users.values()].filter((u) => u.id !== state.me.id);
  const name = h("input", { id: "group-name", required: true, maxlength: "100" });
  const boxes = others.map((u) => h("input", { type: "checkbox", id: `member-${u.id}`, value: u.id }));
  const dialog = h("dialog", { "aria-labelledby": "group-title" },
    h("form", { method: "dialog", onsubmit: async (e) => {
      e.preventDefault();
      if (!name.value.trim()) { showError("A group needs a name."); return; }
      const memberIds = boxes.filter((b) => b.checked).map((b) => b.value);
      try {
        const data = await api("POST", "/api/chat/conversations", { token: state.token, body: { name: name.value.trim(), memberIds } });
        dialog.close();
        dialog.remove();
        await loadLists();
        if (state.conversations.has(data.conversationId)) openConversation(data.conversationId);
      } catch (err) {
        showError(`The group was not created: ${err.message}`);
      }
    } },
    h("h2", { id: "group-title" }, "New group"),
    h("label", { for: "group-name" }, "Group name"), name,
    h("fieldset", {}, h("legend", {}, "Members"),
      others.map((u, i) => h("div", { class: "check" }, boxes[i], h("label", { for: `member-${u.id}` }, u.username)))),
    h("div", { class: "row" },
      h("button", { type: "submit" }, "Create group"),
      h("button", { type: "button", class: "secondary", onclick: () => { dialog.close(); dialog.remove(); } }, "Cancel"))));
  document.body.append(dialog);
  dialog.showModal();
  name.focus();
}

async function groupCall(method, path, body, words) {
  try {
    await api(method, path, { token: state.token, body });
    return true;
  } catch (err) {
    showError(`${words}: ${err.message}`);
    return false;
  }
}

function drawMembers() {
  const open = state.open;
  const el = document.getElementById("members");
  if (!el) return;
  if (!open.membersShown) { replace(el); return; }
  const c = open.conversation;
  const owner = c.ownerId === state.me.id;
  const memberIds = new Set((c.participants ?? []).map((p) => p.id));
  const candidates = [...state.users.values()].filter((u) => !memberIds.has(u.id));
  const pick = h("select", { id: "add-member" }, candidates.map((u) => h("option", { value: u.id }, u.username)));
  const base = `/api/chat/conversations/${c.id}`;
  replace(el, h("section", { class: "members", "aria-label": "Members" },
    h("ul", { role: "list" }, (c.participants ?? []).map((p) => h("li", {},
      p.username ?? p.id, p.id === c.ownerId ? " (owner)" : "", p.id === state.me.id ? " (you)" : "",
      owner && p.id !== state.me.id ? h("button", { type: "button", class: "link",
        onclick: () => groupCall("DELETE", `${base}/members/${p.id}`, undefined, `Could not remove ${p.username}`) },
      `Remove ${p.username}`) : null))),
    owner && candidates.length ? h("div", { class: "row" }, h("label", { for: "add-member" }, "Add member"), pick,
      h("button", { type: "button", class: "secondary",
        onclick: () => groupCall("POST", `${base}/members`, { userIds: [pick.value] }, "Could not add the member") }, "Add")) : null,
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: async () => {
        if (await groupCall("POST", `${base}/leave`, undefined, "Could not leave the group")) {
          state.conversations.delete(c.id);
          closeConversation();
        }
      } }, "Leave group"),
      owner ? h("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirm(`Delete the group ${c.name} for everyone?`)) return;
        if (await groupCall("DELETE", base, undefined, "Could not delete the group")) {
          state.conversations.delete(c.id);
          closeConversation();
        }
      } }, "Delete group") : null)));
}

// ---- pages ------------------------------------------------------------------------

function route() {
  const guest = location.hash.startsWith("#/guest");
  clearErrors();
  if (guest) {
    showGuestPage(page());
    return;
  }
  leaveGuestPage();
  document.getElementById("logout").hidden = !state.token;
  document.getElementById("whoami").textContent = "";
  if (!state.token || !state.me) {
    setConnection("", "none");
    showLogin();
    return;
  }
  showChat();
}

document.getElementById("logout").addEventListener("click", logout);
window.addEventListener("hashchange", route);
// New users and conversations elsewhere: fetched again when the tab comes back.
window.addEventListener("focus", () => { if (state.socket && !location.hash.startsWith("#/guest")) loadLists(); });
window.addEventListener("error", (e) => showError(`Something broke on this page: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showError(`Something broke on this page: ${e.reason?.message ?? e.reason}`));
route();
