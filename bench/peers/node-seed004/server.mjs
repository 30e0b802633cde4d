// The benchmark's peer: a Node.js Socket.IO server with seed 004's socket
// events, written the way seed 004 describes them (src/utils/socket.handler.ts
// and the chat service): JWT in handshake.auth.token, a personal room per
// user, conversation rooms, send_message saving to the database before it
// emits new_message to the conversation room and message_notification to
// the receiver. Against the same FerretDB as ours, with the official
// mongodb driver. It exists to be measured beside ours (bench/run.sh), not
// to be used.
//   PORT=3010 MONGO_URI=mongodb://127.0.0.1:27017 MONGO_DB=peer JWT_SECRET=... node server.mjs
import { createServer } from "node:http";
import { Server } from "socket.io";
import { MongoClient } from "mongodb";
import jwt from "jsonwebtoken";

const { PORT = "3010", MONGO_URI = "mongodb://127.0.0.1:27017", MONGO_DB = "peer", JWT_SECRET } = process.env;
if (!JWT_SECRET) throw new Error("JWT_SECRET is required");

const client = new MongoClient(MONGO_URI);
await client.connect();
const db = client.db(MONGO_DB);
const conversations = db.collection("conversations");
const messages = db.collection("messages");
await conversations.createIndex({ participant_1_id: 1, participant_2_id: 1 }, { unique: true });
await messages.createIndex({ conversation_id: 1, createdAt: -1 });

// getOrCreateConversation(userId1, userId2) of seed 004.
async function getOrCreateConversation(a, b) {
  const [p1, p2] = a < b ? [a, b] : [b, a];
  const found = await conversations.findOne({ participant_1_id: p1, participant_2_id: p2 });
  if (found) return found;
  const doc = { participant_1_id: p1, participant_2_id: p2, last_message: null, last_message_at: null, createdAt: new Date() };
  try {
    const { insertedId } = await conversations.insertOne(doc);
    return { _id: insertedId, ...doc };
  } catch {
    return conversations.findOne({ participant_1_id: p1, participant_2_id: p2 });
  }
}

const http = createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200).end("ok");
    return;
  }
});
const io = new Server(http);

io.use((socket, next) => {
  try {
    socket.data.userId = jwt.verify(socket.handshake.auth.token, JWT_SECRET, { algorithms: ["HS256"] }).sub;
    next();
  } catch {
    next(new Error("Authentication error"));
  }
});

io.on("connection", (socket) => {
  const userId = socket.data.userId;
  socket.join(`user_${userId}`);
  socket.on("join_personal_room", () => socket.join(`user_${userId}`));
  socket.on("join_conversation", ({ conversationId } = {}) => {
    socket.join(`conversation_${conversationId}`);
    socket.to(`conversation_${conversationId}`).emit("user_joined", { userId, message: `User ${userId} joined the conversation` });
  });
  socket.on("leave_conversation", ({ conversationId } = {}) => socket.leave(`conversation_${conversationId}`));
  socket.on("typing", ({ conversationId } = {}) => socket.to(`conversation_${conversationId}`).emit("user_typing", { userId, conversationId }));
  socket.on("stop_typing", ({ conversationId } = {}) => socket.to(`conversation_${conversationId}`).emit("user_stopped_typing", { userId, conversationId }));
  socket.on("send_message", async ({ receiverId, content, attachmentUrl, clientMsgId } = {}, callback) => {
    try {
      const conversation = await getOrCreateConversation(userId, receiverId);
      const message = {
        sender_id: userId, receiver_id: receiverId, conversation_id: conversation._id,
        content, attachment_url: attachmentUrl ?? null, is_read: false, createdAt: new Date(),
      };
      const { insertedId } = await messages.insertOne(message);
      await conversations.updateOne({ _id: conversation._id }, { $set: { last_message: content, last_message_at: message.createdAt } });
      const payload = {
        id: insertedId.toString(), senderId: userId, receiverId, conversationId: conversation._id.toString(),
        content, attachmentUrl: message.attachment_url, isRead: false, createdAt: message.createdAt, sender: { id: userId },
      };
      io.to(`conversation_${payload.conversationId}`).emit("new_message", payload);
      io.to(`user_${receiverId}`).emit("message_notification", {
        from: { id: userId }, conversationId: payload.conversationId, content, timestamp: message.createdAt,
      });
      socket.emit("message_ack", { clientMsgId, status: "persisted", messageId: payload.id });
      if (typeof callback === "function") callback({ ok: true, clientMsgId, status: "persisted" });
    } catch (err) {
      if (typeof callback === "function") callback({ ok: false, error: { code: "INTERNAL", message: String(err.message) } });
    }
  });
});

http.listen(Number(PORT), "127.0.0.1");
const stop = async () => {
  io.close();
  await client.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
