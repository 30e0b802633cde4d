/* The Engine.IO session state machine and the Socket.IO sockets on it
 * (eio_session.h). Everything that reaches a connection goes through the
 * engine's eio_transport_t hooks, so that the same code runs under
 * libwebsockets (server.c) and under a fuzz harness with no network. */
#include "eio_session.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "engine_metrics.h"

struct chat_sio_socket {
  chat_sio_socket_t *next;
  eio_session_t *session;
  char id[EIO_SID_LEN + 1];
  const char *nsp; /* "/" or one of the server's namespaces: lives as long as the server */
  void *user;
  char *pid; /* connection state recovery's private id for the CONNECT answer, until it is sent */
};

struct eio_session {
  eio_session_t *hash_next;
  eio_engine_t *engine;
  char sid[EIO_SID_LEN + 1];
  eio_transport_kind_t transport;
  eio_conn_t *ws;    /* the WebSocket, once it is the transport */
  eio_conn_t *poll;  /* a GET waiting for packets */
  eio_conn_t *probe; /* a WebSocket offered as upgrade, not yet confirmed */
  bool upgrading;    /* probe answered; polling answers noop until "5" */
  bool ever_connected;
  char *handshake_query; /* the opening request's query arguments, "a=1&b=2" */
  eio_out_packet_t *out_head, *out_tail;
  size_t out_bytes; /* the data bytes queued in out_head.. */
  bool out_full;    /* past max_queued_bytes: nothing more is queued, the session ends */
  int64_t paused_until_us; /* chat_sio_socket_pause_reading(): no input read before then */
  fifo_timer_t ping_timer, pong_timer, connect_timer; /* in the engine's queues */
  chat_sio_socket_t *sockets;
  /* A BINARY_EVENT/ACK waiting for its attachments; allocated only then,
   * so that an idle session stays small. */
  struct pending_binary {
    chat_sio_packet_t packet;
    size_t received;
    chat_sio_attachment_t attachments[CHAT_SIO_MAX_ATTACHMENTS];
  } * pending;
};

/* ---- sessions ---------------------------------------------------------- */

static void random_id(char out[EIO_SID_LEN + 1]) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t bytes[EIO_SID_LEN];
  randombytes_buf(bytes, sizeof bytes);
  for (size_t i = 0; i < EIO_SID_LEN; i++)
    out[i] = alphabet[bytes[i] & 63];
  out[EIO_SID_LEN] = '\0';
}

static size_t bucket_of(const char *sid) {
  uint32_t h = 2166136261u;
  for (const char *p = sid; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  return h % EIO_SESSION_BUCKETS;
}

eio_session_t *eio_session_find(eio_engine_t *engine, const char *sid) {
  for (eio_session_t *s = engine->buckets[bucket_of(sid)]; s; s = s->hash_next) {
    if (strcmp(s->sid, sid) == 0)
      return s;
  }
  return NULL;
}

static const eio_transport_t *transport_of(const eio_session_t *session) {
  return &session->engine->transport;
}

static void flush(eio_session_t *session);

static void close_conn(eio_session_t *session, eio_conn_t *conn);

static void out_clear(eio_session_t *session) {
  while (session->out_head) {
    eio_out_packet_t *packet = session->out_head;
    session->out_head = packet->next;
    free(packet);
  }
  session->out_tail = NULL;
  session->out_bytes = 0;
}

/* A peer that does not read while its conversations are busy: what it
 * has not taken is dropped and its connection hung up, so that one slow
 * client cannot grow the gateway's memory without bound. Closing the
 * session here would free it under the caller (enqueue runs inside
 * emits): the WebSocket is hung up (server.c forgets the session on it, so
 * the session lets go of it too) and the session, which queues nothing
 * more, ends at its ping timeout like a polling one. */
static void out_overflow(eio_session_t *session, size_t len) {
  const size_t limit = session->engine->opts->max_queued_bytes;
  CHAT_LOG(CHAT_LOG_WARN,
           "engine.io session %s closed: send queue full (%zu bytes queued, %zu more, limit %zu "
           "of CHAT_MAX_QUEUED_BYTES): the peer does not read",
           session->sid, session->out_bytes, len, limit);
  session->out_full = true;
  engine_metrics_dropped("send_queue_full");
  out_clear(session);
  if (session->ws) {
    close_conn(session, session->ws);
    session->ws = NULL;
  }
}

static void enqueue(eio_session_t *session, chat_eio_type_t type, bool binary, const void *data,
                    size_t len) {
  if (session->out_full)
    return;
  const size_t limit = session->engine->opts->max_queued_bytes;
  if (limit && session->out_bytes + len > limit) {
    out_overflow(session, len);
    return;
  }
  eio_out_packet_t *packet = malloc(sizeof *packet + len);
  if (!packet) {
    CHAT_LOG(CHAT_LOG_ERROR, "socket.io: out of memory queueing %zu bytes", len);
    return;
  }
  packet->next = NULL;
  packet->type = type;
  packet->binary = binary;
  packet->len = len;
  if (len)
    memcpy(packet->data, data, len);
  if (session->out_tail)
    session->out_tail->next = packet;
  else
    session->out_head = packet;
  session->out_tail = packet;
  session->out_bytes += len;
  flush(session);
}

/* Ends the held poll with the packets queued so far, or one packet. */
static void answer_poll(eio_session_t *session, const char *single_packet) {
  eio_conn_t *poll = session->poll;
  bson_string_t *body = bson_string_new(single_packet);
  if (!single_packet) {
    while (session->out_head) {
      eio_out_packet_t *packet = session->out_head;
      session->out_head = packet->next;
      chat_eio_append_to_payload(body, packet->type, packet->binary, packet->data, packet->len);
      free(packet);
    }
    session->out_tail = NULL;
    session->out_bytes = 0;
  }
  session->poll = NULL;
  transport_of(session)->answer_poll(transport_of(session)->ctx, poll, body);
}

static void flush(eio_session_t *session) {
  if (!session->out_head)
    return;
  if (session->transport == EIO_WEBSOCKET && session->ws)
    transport_of(session)->wake_writer(transport_of(session)->ctx, session->ws);
  else if (session->transport == EIO_POLLING && session->poll && !session->upgrading)
    answer_poll(session, NULL);
}

static void close_conn(eio_session_t *session, eio_conn_t *conn) {
  transport_of(session)->close_conn(transport_of(session)->ctx, conn);
}

static void socket_free_all(eio_session_t *session, const char *reason) {
  const chat_sio_options_t *opts = session->engine->opts;
  while (session->sockets) {
    chat_sio_socket_t *socket = session->sockets;
    session->sockets = socket->next;
    if (opts->handlers.on_disconnect)
      opts->handlers.on_disconnect(opts->ctx, socket, reason);
    free(socket->pid);
    free(socket);
  }
}

static void pending_clear(eio_session_t *session) {
  if (!session->pending)
    return;
  chat_sio_packet_cleanup(&session->pending->packet);
  for (size_t i = 0; i < session->pending->received; i++)
    free((void *)session->pending->attachments[i].data);
  free(session->pending);
  session->pending = NULL;
}

void eio_session_close(eio_session_t *session, const char *poll_answer, const char *reason) {
  eio_engine_t *engine = session->engine;
  eio_session_t **link = &engine->buckets[bucket_of(session->sid)];
  while (*link != session)
    link = &(*link)->hash_next;
  *link = session->hash_next;

  fifo_timers_stop(&engine->timers[EIO_TIMER_PING], &session->ping_timer);
  fifo_timers_stop(&engine->timers[EIO_TIMER_PONG], &session->pong_timer);
  fifo_timers_stop(&engine->timers[EIO_TIMER_CONNECT], &session->connect_timer);
  if (session->poll)
    answer_poll(session, poll_answer);
  if (session->ws)
    close_conn(session, session->ws);
  if (session->probe)
    close_conn(session, session->probe);
  socket_free_all(session, reason);
  pending_clear(session);
  out_clear(session);
  CHAT_LOG(CHAT_LOG_DEBUG, "engine.io session %s closed: %s", session->sid, reason);
  engine_metrics_sessions(session->transport == EIO_WEBSOCKET ? "websocket" : "polling", -1);
  free(session->handshake_query);
  free(session);
}

/* ---- timers ------------------------------------------------------------ */

static void start_timer(eio_engine_t *engine, eio_timer_kind_t kind, fifo_timer_t *timer) {
  const eio_transport_t *transport = &engine->transport;
  if (fifo_timers_start(&engine->timers[kind], timer, transport->now_us(transport->ctx)))
    transport->arm_timers(transport->ctx, kind, timer->due_us);
}

static eio_session_t *session_of_timer(fifo_timer_t *timer, size_t offset) {
  return (eio_session_t *)(void *)((char *)timer - offset);
}

static void on_ping_due(fifo_timer_t *timer) {
  eio_session_t *session = session_of_timer(timer, offsetof(eio_session_t, ping_timer));
  enqueue(session, CHAT_EIO_PING, false, NULL, 0);
  start_timer(session->engine, EIO_TIMER_PONG, &session->pong_timer);
}

static void on_pong_missing(fifo_timer_t *timer) {
  eio_session_t *session = session_of_timer(timer, offsetof(eio_session_t, pong_timer));
  engine_metrics_dropped("ping_timeout");
  eio_session_close(session, "1", "ping timeout");
}

static void on_connect_missing(fifo_timer_t *timer) {
  eio_session_t *session = session_of_timer(timer, offsetof(eio_session_t, connect_timer));
  if (!session->ever_connected)
    eio_session_close(session, "1", "no namespace connect in time");
}

void eio_engine_init(eio_engine_t *engine, const chat_sio_options_t *opts,
                     const eio_transport_t *transport) {
  memset(engine, 0, sizeof *engine);
  engine->opts = opts;
  engine->transport = *transport;
  fifo_timers_init(&engine->timers[EIO_TIMER_PING], (int64_t)opts->ping_interval_ms * 1000,
                   on_ping_due);
  fifo_timers_init(&engine->timers[EIO_TIMER_PONG], (int64_t)opts->ping_timeout_ms * 1000,
                   on_pong_missing);
  fifo_timers_init(&engine->timers[EIO_TIMER_CONNECT], (int64_t)opts->connect_timeout_ms * 1000,
                   on_connect_missing);
}

void eio_engine_close_all(eio_engine_t *engine, const char *reason) {
  for (size_t i = 0; i < EIO_SESSION_BUCKETS; i++) {
    while (engine->buckets[i])
      eio_session_close(engine->buckets[i], "1", reason);
  }
}

void eio_engine_run_timers(eio_engine_t *engine, eio_timer_kind_t kind) {
  const eio_transport_t *transport = &engine->transport;
  int64_t next = fifo_timers_run(&engine->timers[kind], transport->now_us(transport->ctx));
  if (next >= 0)
    transport->arm_timers(transport->ctx, kind, next);
}

eio_session_t *eio_session_create(eio_engine_t *engine, eio_transport_kind_t transport,
                                  eio_conn_t *conn, char *handshake_query) {
  eio_session_t *session = calloc(1, sizeof *session);
  if (!session) {
    free(handshake_query);
    return NULL;
  }
  session->engine = engine;
  session->transport = transport;
  session->handshake_query = handshake_query;
  do
    random_id(session->sid);
  while (eio_session_find(engine, session->sid));
  size_t bucket = bucket_of(session->sid);
  session->hash_next = engine->buckets[bucket];
  engine->buckets[bucket] = session;
  engine_metrics_sessions(transport == EIO_WEBSOCKET ? "websocket" : "polling", 1);
  start_timer(engine, EIO_TIMER_PING, &session->ping_timer);
  if (engine->opts->connect_timeout_ms > 0)
    start_timer(engine, EIO_TIMER_CONNECT, &session->connect_timer);
  if (transport == EIO_WEBSOCKET) {
    session->ws = conn;
    bson_string_t *open = eio_session_open_packet(session, false);
    enqueue(session, CHAT_EIO_OPEN, false, open->str + 1, open->len - 1);
    bson_string_free(open, true);
  }
  return session;
}

bool eio_session_is_polling(const eio_session_t *session) {
  return session->transport == EIO_POLLING;
}

bson_string_t *eio_session_open_packet(const eio_session_t *session, bool can_upgrade) {
  const chat_sio_options_t *opts = session->engine->opts;
  bson_string_t *out = bson_string_new(NULL);
  chat_eio_append_open(out, session->sid, can_upgrade, opts->ping_interval_ms,
                       opts->ping_timeout_ms, opts->max_payload);
  return out;
}

const char *eio_socket_handshake_query(const chat_sio_socket_t *socket) {
  const char *query = socket->session->handshake_query;
  return query ? query : "";
}

/* ---- Socket.IO ----------------------------------------------------------- */

static chat_sio_socket_t *socket_find(eio_session_t *session, const char *nsp) {
  for (chat_sio_socket_t *s = session->sockets; s; s = s->next) {
    if (strcmp(s->nsp, nsp) == 0)
      return s;
  }
  return NULL;
}

/* The server's own copy of nsp when it is allowed, else NULL. */
static const char *nsp_allowed(const chat_sio_options_t *opts, const char *nsp) {
  if (strcmp(nsp, "/") == 0)
    return "/";
  for (const char *const *n = opts->namespaces; n && *n; n++) {
    if (strcmp(*n, nsp) == 0)
      return *n;
  }
  return NULL;
}

static void send_sio_text(eio_session_t *session, bson_string_t *text) {
  enqueue(session, CHAT_EIO_MESSAGE, false, text->str, text->len);
  bson_string_free(text, true);
}

static void send_connect_error(eio_session_t *session, const char *nsp, const char *message) {
  bson_string_t *out = bson_string_new(NULL);
  chat_sio_append_header(out, CHAT_SIO_CONNECT_ERROR, 0, nsp, -1);
  bson_string_append(out, "{\"message\":");
  chat_json_append_string(out, message, strlen(message));
  bson_string_append_c(out, '}');
  send_sio_text(session, out);
}

static void handle_connect(eio_session_t *session, chat_sio_packet_t *packet) {
  const chat_sio_options_t *opts = session->engine->opts;
  if (!nsp_allowed(opts, packet->nsp)) {
    send_connect_error(session, packet->nsp, "Invalid namespace");
    return;
  }
  if (socket_find(session, packet->nsp))
    return; /* already connected there: nothing new to say */
  chat_sio_socket_t *socket = calloc(1, sizeof *socket);
  if (!socket)
    return;
  socket->session = session;
  socket->nsp = nsp_allowed(opts, packet->nsp);
  random_id(socket->id);

  bson_iter_t it;
  bson_t auth;
  const bson_t *auth_ptr = NULL;
  if (bson_iter_init_find(&it, &packet->data, "d") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&it, &len, &data);
    if (bson_init_static(&auth, data, len))
      auth_ptr = &auth;
  }
  const char *refusal =
      opts->handlers.on_connect ? opts->handlers.on_connect(opts->ctx, socket, auth_ptr) : NULL;
  if (refusal) {
    free(socket->pid);
    free(socket);
    send_connect_error(session, packet->nsp, refusal);
    return;
  }
  session->ever_connected = true;
  socket->next = session->sockets;
  session->sockets = socket;
  bson_string_t *answer = bson_string_new(NULL);
  chat_sio_append_header(answer, CHAT_SIO_CONNECT, 0, socket->nsp, -1);
  bson_string_append_printf(answer, "{\"sid\":\"%s\"", socket->id);
  if (socket->pid)
    bson_string_append_printf(answer, ",\"pid\":\"%s\"", socket->pid); /* base64url */
  bson_string_append_c(answer, '}');
  free(socket->pid); /* said once; not kept for the connection's life */
  socket->pid = NULL;
  send_sio_text(session, answer);
  if (opts->handlers.on_connected)
    opts->handlers.on_connected(opts->ctx, socket);
}

static void dispatch_event(eio_session_t *session, const chat_sio_packet_t *packet,
                           const chat_sio_attachment_t *attachments, size_t count) {
  const chat_sio_options_t *opts = session->engine->opts;
  chat_sio_socket_t *socket = socket_find(session, packet->nsp);
  if (!socket || !opts->handlers.on_event)
    return; /* events to a namespace the client has not joined are ignored */
  if (packet->type == CHAT_SIO_EVENT || packet->type == CHAT_SIO_BINARY_EVENT)
    opts->handlers.on_event(opts->ctx, socket, packet, attachments, count);
}

/* Handles one Socket.IO packet; returns false for a protocol error, after
 * which the session is closed. */
static bool handle_sio_text(eio_session_t *session, const uint8_t *text, size_t len) {
  const chat_sio_options_t *opts = session->engine->opts;
  chat_sio_packet_t packet;
  const char *why = NULL;
  if (session->pending)
    return false; /* attachments were due, text came */
  if (!chat_sio_decode((const char *)text, len, opts->max_payload, &packet, &why)) {
    CHAT_LOG(CHAT_LOG_DEBUG, "socket.io session %s: bad packet: %s", session->sid, why);
    chat_sio_packet_cleanup(&packet);
    return false;
  }
  switch (packet.type) {
  case CHAT_SIO_CONNECT:
    handle_connect(session, &packet);
    break;
  case CHAT_SIO_DISCONNECT: {
    chat_sio_socket_t **link = &session->sockets;
    while (*link && strcmp((*link)->nsp, packet.nsp) != 0)
      link = &(*link)->next;
    if (*link) {
      chat_sio_socket_t *socket = *link;
      *link = socket->next;
      if (opts->handlers.on_disconnect)
        opts->handlers.on_disconnect(opts->ctx, socket, "client namespace disconnect");
      free(socket->pid);
      free(socket);
    }
    break;
  }
  case CHAT_SIO_EVENT:
  case CHAT_SIO_ACK:
    dispatch_event(session, &packet, NULL, 0);
    break;
  case CHAT_SIO_BINARY_EVENT:
  case CHAT_SIO_BINARY_ACK:
    if (packet.attachments > 0) {
      /* bson_t asks for 128-byte alignment, which malloc does not give. */
      void *memory = NULL;
      if (posix_memalign(&memory, _Alignof(struct pending_binary), sizeof *session->pending) != 0) {
        chat_sio_packet_cleanup(&packet);
        return false;
      }
      session->pending = memset(memory, 0, sizeof *session->pending);
      chat_sio_packet_move(&session->pending->packet, &packet);
      return true;
    }
    dispatch_event(session, &packet, NULL, 0);
    break;
  case CHAT_SIO_CONNECT_ERROR:
    chat_sio_packet_cleanup(&packet);
    return false; /* only servers send it */
  }
  chat_sio_packet_cleanup(&packet);
  return true;
}

static bool handle_sio_binary(eio_session_t *session, const uint8_t *data, size_t len) {
  struct pending_binary *pending = session->pending;
  if (!pending)
    return false; /* no packet announced attachments */
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy)
    return false;
  memcpy(copy, data, len);
  pending->attachments[pending->received++] = (chat_sio_attachment_t){copy, len};
  if (pending->received < (size_t)pending->packet.attachments)
    return true;
  dispatch_event(session, &pending->packet, pending->attachments, pending->received);
  pending_clear(session);
  return true;
}

/* ---- Engine.IO packets from the client ------------------------------------ */

/* Returns false when the session must be closed as a protocol error; the
 * caller closes it. *closed is set when the client closed it itself. */
static bool handle_eio_packet(eio_session_t *session, const chat_eio_packet_t *packet,
                              bool *closed) {
  eio_engine_t *engine = session->engine;
  switch (packet->type) {
  case CHAT_EIO_PONG:
    fifo_timers_stop(&engine->timers[EIO_TIMER_PONG], &session->pong_timer);
    start_timer(engine, EIO_TIMER_PING, &session->ping_timer);
    return true;
  case CHAT_EIO_MESSAGE:
    if (engine->opts->engine_echo) {
      enqueue(session, CHAT_EIO_MESSAGE, packet->binary, packet->data, packet->len);
      return true;
    }
    return packet->binary ? handle_sio_binary(session, packet->data, packet->len)
                          : handle_sio_text(session, packet->data, packet->len);
  case CHAT_EIO_CLOSE:
    *closed = true;
    eio_session_close(session, "6", "client close");
    return true;
  case CHAT_EIO_NOOP:
    return true;
  case CHAT_EIO_PING: /* only as an upgrade probe, on the probing socket */
  case CHAT_EIO_OPEN:
  case CHAT_EIO_UPGRADE:
    return false;
  }
  return false;
}

typedef struct payload_ctx {
  eio_session_t *session;
  bool closed;
} payload_ctx_t;

static bool on_payload_packet(void *ctx, const chat_eio_packet_t *packet) {
  payload_ctx_t *pc = ctx;
  return handle_eio_packet(pc->session, packet, &pc->closed) && !pc->closed;
}

/* ---- transports ------------------------------------------------------------ */

bool eio_session_attach_probe(eio_session_t *session, eio_conn_t *conn) {
  if (session->transport != EIO_POLLING || session->probe)
    return false;
  session->probe = conn;
  return true;
}

bool eio_session_ws_message(eio_session_t *session, eio_conn_t *conn, const uint8_t *data,
                            size_t len, bool binary) {
  chat_eio_packet_t packet;
  if (!chat_eio_decode_frame(data, len, binary, &packet)) {
    eio_session_close(session, "1", "malformed packet");
    return false;
  }
  if (session->probe == conn) {
    if (packet.type == CHAT_EIO_PING && packet.len == 5 && memcmp(packet.data, "probe", 5) == 0) {
      transport_of(session)->send_text(transport_of(session)->ctx, conn, "3probe");
      session->upgrading = true;
      if (session->poll)
        answer_poll(session, "6");
      return true;
    }
    if (packet.type == CHAT_EIO_UPGRADE && session->upgrading) {
      session->probe = NULL;
      session->upgrading = false;
      session->transport = EIO_WEBSOCKET;
      engine_metrics_sessions("polling", -1);
      engine_metrics_sessions("websocket", 1);
      session->ws = conn;
      if (session->paused_until_us > transport_of(session)->now_us(transport_of(session)->ctx))
        transport_of(session)->pause_reading(transport_of(session)->ctx, conn,
                                             session->paused_until_us);
      flush(session);
      return true;
    }
    return true; /* anything else before the upgrade completes is dropped */
  }
  bool closed = false;
  if (!handle_eio_packet(session, &packet, &closed)) {
    eio_session_close(session, "1", "protocol error");
    return false;
  }
  return true;
}

const eio_out_packet_t *eio_session_out_peek(const eio_session_t *session,
                                             const eio_conn_t *conn) {
  if (session->ws != conn)
    return NULL;
  return session->out_head;
}

void eio_session_out_pop(eio_session_t *session) {
  eio_out_packet_t *packet = session->out_head;
  session->out_head = packet->next;
  if (!session->out_head)
    session->out_tail = NULL;
  session->out_bytes -= packet->len;
  free(packet);
}

eio_poll_result_t eio_session_poll(eio_session_t *session, eio_conn_t *conn) {
  if (session->upgrading)
    return EIO_POLL_NOOP; /* the client is moving to the WebSocket: end this poll cleanly */
  if (session->poll) {
    /* Two polls at once break ordering: the session ends. */
    eio_session_close(session, "1", "duplicate poll");
    return EIO_POLL_DUPLICATE;
  }
  session->poll = conn;
  flush(session);
  return EIO_POLL_HELD;
}

eio_post_result_t eio_session_post(eio_session_t *session, const uint8_t *body, size_t len) {
  payload_ctx_t pc = {session, false};
  bool ok = len > 0 && chat_eio_decode_payload(body, len, on_payload_packet, &pc);
  if (pc.closed)
    return EIO_POST_CLOSED;
  if (!ok) {
    eio_session_close(session, "1", "malformed packet");
    return EIO_POST_MALFORMED;
  }
  return EIO_POST_OK;
}

int64_t eio_session_paused_until(const eio_session_t *session) {
  return session->paused_until_us;
}

void eio_session_conn_closed(eio_session_t *session, eio_conn_t *conn) {
  if (session->poll == conn)
    session->poll = NULL;
  if (session->probe == conn) {
    session->probe = NULL;
    session->upgrading = false;
    flush(session);
  }
  if (session->ws == conn) {
    session->ws = NULL;
    eio_session_close(session, "1", "transport close");
  }
}

/* ---- sockets (server.h) ------------------------------------------------------ */

static chat_err_t send_packet(chat_sio_socket_t *socket, chat_sio_type_t type, int64_t ack_id,
                              const char *json_array, const chat_sio_attachment_t *attachments,
                              size_t count) {
  eio_session_t *session = socket->session;
  bson_string_t *text = bson_string_new(NULL);
  if (count > 0)
    type = type == CHAT_SIO_EVENT ? CHAT_SIO_BINARY_EVENT : CHAT_SIO_BINARY_ACK;
  chat_sio_append_header(text, type, (int)count, socket->nsp, ack_id);
  bson_string_append(text, json_array);
  send_sio_text(session, text);
  for (size_t i = 0; i < count; i++)
    enqueue(session, CHAT_EIO_MESSAGE, true, attachments[i].data, attachments[i].len);
  return CHAT_OK;
}

chat_err_t chat_sio_emit(chat_sio_socket_t *socket, const char *json_array,
                         const chat_sio_attachment_t *attachments, size_t attachment_count) {
  return send_packet(socket, CHAT_SIO_EVENT, -1, json_array, attachments, attachment_count);
}

chat_err_t chat_sio_ack(chat_sio_socket_t *socket, int64_t ack_id, const char *json_array,
                        const chat_sio_attachment_t *attachments, size_t attachment_count) {
  return send_packet(socket, CHAT_SIO_ACK, ack_id, json_array, attachments, attachment_count);
}

void chat_sio_socket_pause_reading(chat_sio_socket_t *socket, int64_t ms) {
  eio_session_t *session = socket->session;
  const eio_transport_t *transport = transport_of(session);
  int64_t due_us = transport->now_us(transport->ctx) + ms * 1000;
  if (ms <= 0 || due_us <= session->paused_until_us)
    return;
  session->paused_until_us = due_us;
  if (session->ws)
    transport->pause_reading(transport->ctx, session->ws, due_us);
}

const char *chat_sio_socket_id(const chat_sio_socket_t *socket) { return socket->id; }
const char *chat_sio_socket_nsp(const chat_sio_socket_t *socket) { return socket->nsp; }
void chat_sio_socket_set_user(chat_sio_socket_t *socket, void *user) { socket->user = user; }

bool chat_sio_socket_set_pid(chat_sio_socket_t *socket, const char *pid) {
  char *copy = strdup(pid);
  if (!copy)
    return false;
  free(socket->pid);
  socket->pid = copy;
  return true;
}

bool chat_sio_socket_set_id(chat_sio_socket_t *socket, const char *id) {
  if (strlen(id) != EIO_SID_LEN || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789-_") != EIO_SID_LEN)
    return false;
  memcpy(socket->id, id, EIO_SID_LEN + 1);
  return true;
}
void *chat_sio_socket_user(const chat_sio_socket_t *socket) { return socket->user; }
