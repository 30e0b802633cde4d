#define _GNU_SOURCE /* strcasestr() */
#include "server.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "eio_packet.h"
#include "fifo_timers.h"
#include "http_query.h"
#include "lws_log.h"

#define QUERY_ARGS_MAX 32    /* query arguments looked at per request */
#define SESSION_BUCKETS 4096 /* sid hash table size; sessions chain per bucket */
#define SID_LEN 20           /* random base64url characters in a sid */
#define WS_RX_BUFFER 512     /* lws receive buffer per WebSocket; larger frames come in pieces */
#define HTTP_HEADER_ROOM 512 /* status line and headers of a polling answer */
/* lws' buffer for one request's URI and headers (max_http_header_data;
 * lws' default is 4096). lws drops a request that overflows it without a
 * word, and has no callback for that, so it is twice the most the REST API
 * serves (REST_HEADERS_MAX in rest.c): the requests between get an answer
 * (431). A connection holds this buffer only while it has a request in
 * hand (headers arriving, a REST call waiting for Kafka, a long poll
 * waiting for packets), never while it is an idle WebSocket: 4 KB more per
 * such request, nothing more per idle WebSocket. */
#define HTTP_HEADER_BUFFER 8192

typedef struct out_packet {
  struct out_packet *next;
  chat_eio_type_t type;
  bool binary;
  size_t len;
  uint8_t data[];
} out_packet_t;

typedef struct eio_session eio_session_t;

struct chat_sio_socket {
  chat_sio_socket_t *next;
  eio_session_t *session;
  char id[SID_LEN + 1];
  const char *nsp; /* "/" or one of the server's namespaces: lives as long as the server */
  void *user;
};

typedef enum transport { TRANSPORT_POLLING, TRANSPORT_WEBSOCKET } transport_t;

struct eio_session {
  eio_session_t *hash_next;
  chat_sio_server_t *server;
  char sid[SID_LEN + 1];
  transport_t transport;
  struct lws *ws;    /* the WebSocket, once it is the transport */
  struct lws *poll;  /* a GET waiting for packets */
  struct lws *probe; /* a WebSocket offered as upgrade, not yet confirmed */
  bool upgrading;    /* probe answered; polling answers noop until "5" */
  bool ever_connected;
  char *handshake_query; /* the opening request's query string (copy_query) */
  out_packet_t *out_head, *out_tail;
  fifo_timer_t ping_timer, pong_timer, connect_timer; /* in the server's queues */
  chat_sio_socket_t *sockets;
  /* A BINARY_EVENT/ACK waiting for its attachments; allocated only then,
   * so that an idle session stays small. */
  struct pending_binary {
    chat_sio_packet_t packet;
    size_t received;
    chat_sio_attachment_t attachments[CHAT_SIO_MAX_ATTACHMENTS];
  } * pending;
};

typedef enum wsi_kind { KIND_NONE, KIND_POLL_GET, KIND_POLL_POST, KIND_WS, KIND_API } wsi_kind_t;

#define API_BODY_MAX (64 * 1024) /* largest REST request body */

/* lws per-connection state; one HTTP connection may carry several requests. */
typedef struct wsi_state {
  eio_session_t *session;
  wsi_kind_t kind;
  int status;           /* HTTP answer ready to write when non-zero */
  bson_string_t *reply; /* HTTP answer body, or a probe answer on a WebSocket */
  uint8_t *rx;          /* request body or WebSocket message being assembled */
  size_t rx_len;
  bool close_requested;
  bool says_close; /* the request asked for "Connection: close" */
  bool json_reply; /* the answer is application/json whatever its status */
  /* KIND_API: the request handed to the application. */
  uint64_t request_id;
  char method[8];
  char *path;
  char *query;     /* "a=1&b=2", escaped again (copy_query) */
  bool dispatched; /* handed to on_http (once) */
  char *authorization;
  size_t header_len; /* what lws kept of the URI and headers */
  struct wsi_state *next_pending, *prev_pending;
  struct lws *wsi;
} wsi_state_t;

typedef struct posted_call {
  struct posted_call *next;
  void (*fn)(void *arg);
  void *arg;
} posted_call_t;

typedef struct deferred_call {
  lws_sorted_usec_list_t sul; /* first: the sul callback casts back */
  struct deferred_call *next, *prev;
  chat_sio_server_t *server;
  void (*fn)(void *arg);
  void *arg;
} deferred_call_t;

struct chat_sio_server {
  chat_sio_options_t opts;
  wsi_state_t *pending_requests; /* REST requests waiting for their answer */
  uint64_t last_request_id;
  pthread_mutex_t posted_lock; /* guards posted_head/tail, filled by other threads */
  posted_call_t *posted_head, *posted_tail;
  deferred_call_t *deferred; /* pending chat_sio_server_call_later() calls */
  char path[128];
  struct lws_context *context;
  struct lws_protocols protocols[2];
  eio_session_t *buckets[SESSION_BUCKETS];
  /* Each session's heartbeat and connect timers, one queue per delay, and
   * one loop wake-up per queue for the first to fall due (fifo_timers.h). */
  struct session_timers {
    fifo_timers_t queue;
    lws_sorted_usec_list_t wake;
    chat_sio_server_t *server;
  } ping_timers, pong_timers, connect_timers;
};

/* ---- sessions ---------------------------------------------------------- */

static void random_id(char out[SID_LEN + 1]) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t bytes[SID_LEN];
  randombytes_buf(bytes, sizeof bytes);
  for (size_t i = 0; i < SID_LEN; i++)
    out[i] = alphabet[bytes[i] & 63];
  out[SID_LEN] = '\0';
}

static size_t bucket_of(const char *sid) {
  uint32_t h = 2166136261u;
  for (const char *p = sid; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  return h % SESSION_BUCKETS;
}

static eio_session_t *session_find(chat_sio_server_t *server, const char *sid) {
  for (eio_session_t *s = server->buckets[bucket_of(sid)]; s; s = s->hash_next) {
    if (strcmp(s->sid, sid) == 0)
      return s;
  }
  return NULL;
}

static wsi_state_t *state_of(struct lws *wsi) { return lws_wsi_user(wsi); }

static void flush(eio_session_t *session);

static void enqueue(eio_session_t *session, chat_eio_type_t type, bool binary, const void *data,
                    size_t len) {
  out_packet_t *packet = malloc(sizeof *packet + len);
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
  flush(session);
}

/* Answers an HTTP request on wsi with status and body (taken over). */
static void http_answer(struct lws *wsi, int status, bson_string_t *body) {
  wsi_state_t *state = state_of(wsi);
  if (state->reply)
    bson_string_free(state->reply, true);
  state->status = status;
  state->reply = body;
  lws_callback_on_writable(wsi);
}

/* Ends a pending poll with the packets queued so far, or one packet. */
static void answer_poll(eio_session_t *session, const char *single_packet) {
  struct lws *poll = session->poll;
  bson_string_t *body = bson_string_new(single_packet);
  if (!single_packet) {
    while (session->out_head) {
      out_packet_t *packet = session->out_head;
      session->out_head = packet->next;
      chat_eio_append_to_payload(body, packet->type, packet->binary, packet->data, packet->len);
      free(packet);
    }
    session->out_tail = NULL;
  }
  session->poll = NULL;
  state_of(poll)->session = NULL;
  http_answer(poll, 200, body);
}

static void flush(eio_session_t *session) {
  if (!session->out_head)
    return;
  if (session->transport == TRANSPORT_WEBSOCKET && session->ws)
    lws_callback_on_writable(session->ws);
  else if (session->transport == TRANSPORT_POLLING && session->poll && !session->upgrading)
    answer_poll(session, NULL);
}

static void close_wsi_later(struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  state->session = NULL;
  state->close_requested = true;
  lws_callback_on_writable(wsi);
}

static void socket_free_all(eio_session_t *session, const char *reason) {
  chat_sio_server_t *server = session->server;
  while (session->sockets) {
    chat_sio_socket_t *socket = session->sockets;
    session->sockets = socket->next;
    if (server->opts.handlers.on_disconnect)
      server->opts.handlers.on_disconnect(server->opts.ctx, socket, reason);
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

/* Ends a session: a pending poll gets poll_answer ("1" or "6"), its
 * WebSockets are closed, its sockets disconnected, and it is freed. */
static void session_close(eio_session_t *session, const char *poll_answer, const char *reason) {
  chat_sio_server_t *server = session->server;
  eio_session_t **link = &server->buckets[bucket_of(session->sid)];
  while (*link != session)
    link = &(*link)->hash_next;
  *link = session->hash_next;

  fifo_timers_stop(&server->ping_timers.queue, &session->ping_timer);
  fifo_timers_stop(&server->pong_timers.queue, &session->pong_timer);
  fifo_timers_stop(&server->connect_timers.queue, &session->connect_timer);
  if (session->poll)
    answer_poll(session, poll_answer);
  if (session->ws)
    close_wsi_later(session->ws);
  if (session->probe)
    close_wsi_later(session->probe);
  socket_free_all(session, reason);
  pending_clear(session);
  while (session->out_head) {
    out_packet_t *packet = session->out_head;
    session->out_head = packet->next;
    free(packet);
  }
  CHAT_LOG(CHAT_LOG_DEBUG, "engine.io session %s closed: %s", session->sid, reason);
  free(session->handshake_query);
  free(session);
}

static void arm(struct session_timers *timers, int64_t due_us) {
  lws_usec_t now = lws_now_usecs();
  lws_sul_schedule(timers->server->context, 0, &timers->wake, timers->wake.cb,
                   due_us > now ? due_us - now : 0);
}

static void on_timers_due(lws_sorted_usec_list_t *wake) {
  struct session_timers *timers = lws_container_of(wake, struct session_timers, wake);
  int64_t next = fifo_timers_run(&timers->queue, lws_now_usecs());
  if (next >= 0)
    arm(timers, next);
}

static void start_timer(struct session_timers *timers, fifo_timer_t *timer) {
  if (fifo_timers_start(&timers->queue, timer, lws_now_usecs()))
    arm(timers, timer->due_us);
}

static void on_ping_due(fifo_timer_t *timer) {
  eio_session_t *session = lws_container_of(timer, eio_session_t, ping_timer);
  enqueue(session, CHAT_EIO_PING, false, NULL, 0);
  start_timer(&session->server->pong_timers, &session->pong_timer);
}

static void on_pong_missing(fifo_timer_t *timer) {
  eio_session_t *session = lws_container_of(timer, eio_session_t, pong_timer);
  session_close(session, "1", "ping timeout");
}

static void on_connect_missing(fifo_timer_t *timer) {
  eio_session_t *session = lws_container_of(timer, eio_session_t, connect_timer);
  if (!session->ever_connected)
    session_close(session, "1", "no namespace connect in time");
}

static void session_timers_init(chat_sio_server_t *server, struct session_timers *timers,
                                int delay_ms, void (*fire)(fifo_timer_t *timer)) {
  fifo_timers_init(&timers->queue, (int64_t)delay_ms * LWS_US_PER_MS, fire);
  timers->server = server;
  timers->wake.cb = on_timers_due;
}

#define HANDSHAKE_QUERY_MAX 4096 /* query arguments kept from the opening request */

/* The request's query string, encoded again ("a=1&q=Tom%20%26%20Jerry"):
 * lws hands over the arguments apart and decoded, split on the '&' and
 * '=' that were not escaped, so each name and value is escaped again and
 * chat_query_get() reads every argument as the client wrote it (an
 * escaped '&' or '=' stays in its value). */
static char *copy_query(struct lws *wsi) {
  bson_string_t *query = bson_string_new(NULL);
  for (int i = 0; i < QUERY_ARGS_MAX; i++) {
    int frag_len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (frag_len <= 0)
      break;
    char *arg = malloc((size_t)frag_len + 1);
    if (!arg || lws_hdr_copy_fragment(wsi, arg, frag_len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
      free(arg);
      continue;
    }
    size_t before = query->len;
    if (before)
      bson_string_append_c(query, '&');
    /* lws turns an escaped '=' in a name into '_': the first '=' is the
     * one that separated. */
    const char *equals = strchr(arg, '=');
    size_t name_len = equals ? (size_t)(equals - arg) : strlen(arg);
    chat_query_append_encoded(query, arg, name_len);
    if (equals) {
      bson_string_append_c(query, '=');
      chat_query_append_encoded(query, equals + 1, strlen(equals + 1));
    }
    free(arg);
    if (query->len >= HANDSHAKE_QUERY_MAX)
      bson_string_truncate(query, (uint32_t)before); /* too long to keep: skipped */
  }
  /* Kept for the life of the session: only as long as it is. */
  char *out = strdup(query->str);
  bson_string_free(query, true);
  return out;
}

static eio_session_t *session_create(chat_sio_server_t *server, transport_t transport,
                                     struct lws *wsi) {
  eio_session_t *session = calloc(1, sizeof *session);
  if (!session)
    return NULL;
  session->server = server;
  session->transport = transport;
  session->handshake_query = copy_query(wsi);
  do
    random_id(session->sid);
  while (session_find(server, session->sid));
  size_t bucket = bucket_of(session->sid);
  session->hash_next = server->buckets[bucket];
  server->buckets[bucket] = session;
  start_timer(&server->ping_timers, &session->ping_timer);
  if (server->opts.connect_timeout_ms > 0)
    start_timer(&server->connect_timers, &session->connect_timer);
  return session;
}

static bson_string_t *open_packet(eio_session_t *session, bool can_upgrade) {
  const chat_sio_options_t *opts = &session->server->opts;
  bson_string_t *out = bson_string_new(NULL);
  chat_eio_append_open(out, session->sid, can_upgrade, opts->ping_interval_ms,
                       opts->ping_timeout_ms, opts->max_payload);
  return out;
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
static const char *nsp_allowed(const chat_sio_server_t *server, const char *nsp) {
  if (strcmp(nsp, "/") == 0)
    return "/";
  for (const char *const *n = server->opts.namespaces; n && *n; n++) {
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
  chat_sio_server_t *server = session->server;
  if (!nsp_allowed(server, packet->nsp)) {
    send_connect_error(session, packet->nsp, "Invalid namespace");
    return;
  }
  if (socket_find(session, packet->nsp))
    return; /* already connected there: nothing new to say */
  chat_sio_socket_t *socket = calloc(1, sizeof *socket);
  if (!socket)
    return;
  socket->session = session;
  socket->nsp = nsp_allowed(server, packet->nsp);
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
  const char *refusal = server->opts.handlers.on_connect
                            ? server->opts.handlers.on_connect(server->opts.ctx, socket, auth_ptr)
                            : NULL;
  if (refusal) {
    free(socket);
    send_connect_error(session, packet->nsp, refusal);
    return;
  }
  session->ever_connected = true;
  socket->next = session->sockets;
  session->sockets = socket;
  bson_string_t *answer = bson_string_new(NULL);
  chat_sio_append_header(answer, CHAT_SIO_CONNECT, 0, socket->nsp, -1);
  bson_string_append_printf(answer, "{\"sid\":\"%s\"}", socket->id);
  send_sio_text(session, answer);
  if (server->opts.handlers.on_connected)
    server->opts.handlers.on_connected(server->opts.ctx, socket);
}

static void dispatch_event(eio_session_t *session, const chat_sio_packet_t *packet,
                           const chat_sio_attachment_t *attachments, size_t count) {
  chat_sio_server_t *server = session->server;
  chat_sio_socket_t *socket = socket_find(session, packet->nsp);
  if (!socket || !server->opts.handlers.on_event)
    return; /* events to a namespace the client has not joined are ignored */
  if (packet->type == CHAT_SIO_EVENT || packet->type == CHAT_SIO_BINARY_EVENT)
    server->opts.handlers.on_event(server->opts.ctx, socket, packet, attachments, count);
}

/* Handles one Socket.IO packet; returns false for a protocol error, after
 * which the session is closed. */
static bool handle_sio_text(eio_session_t *session, const uint8_t *text, size_t len) {
  chat_sio_packet_t packet;
  const char *why = NULL;
  if (session->pending)
    return false; /* attachments were due, text came */
  if (!chat_sio_decode((const char *)text, len, session->server->opts.max_payload, &packet, &why)) {
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
      if (session->server->opts.handlers.on_disconnect)
        session->server->opts.handlers.on_disconnect(session->server->opts.ctx, socket,
                                                     "client namespace disconnect");
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
  switch (packet->type) {
  case CHAT_EIO_PONG:
    fifo_timers_stop(&session->server->pong_timers.queue, &session->pong_timer);
    start_timer(&session->server->ping_timers, &session->ping_timer);
    return true;
  case CHAT_EIO_MESSAGE:
    if (session->server->opts.engine_echo) {
      enqueue(session, CHAT_EIO_MESSAGE, packet->binary, packet->data, packet->len);
      return true;
    }
    return packet->binary ? handle_sio_binary(session, packet->data, packet->len)
                          : handle_sio_text(session, packet->data, packet->len);
  case CHAT_EIO_CLOSE:
    *closed = true;
    session_close(session, "6", "client close");
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

/* ---- lws callback ------------------------------------------------------------ */

/* Copies the value of query argument name ("EIO=") into buf. Arguments too
 * long for buf (a client's own long parameters, such as a token) are
 * skipped, not taken as the end of the list as lws_get_urlarg_by_name()
 * would. */
static bool query_arg(struct lws *wsi, const char *name, char *buf, int len) {
  size_t name_len = strlen(name);
  for (int i = 0; i < QUERY_ARGS_MAX; i++) {
    int frag_len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (frag_len <= 0)
      return false;
    if (frag_len >= len)
      continue;
    if (lws_hdr_copy_fragment(wsi, buf, len, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
      continue;
    if (strncmp(buf, name, name_len) == 0) {
      memmove(buf, buf + name_len, strlen(buf + name_len) + 1);
      return true;
    }
  }
  return false;
}

/* Checks EIO=4 and transport; copies the sid ("" when none). */
static bool valid_query(struct lws *wsi, const char *transport, char *sid, size_t sid_len) {
  char eio[64], got_transport[64];
  if (!query_arg(wsi, "EIO=", eio, sizeof eio) || strcmp(eio, "4") != 0)
    return false;
  if (!query_arg(wsi, "transport=", got_transport, sizeof got_transport) ||
      strcmp(got_transport, transport) != 0)
    return false;
  if (!query_arg(wsi, "sid=", sid, (int)sid_len))
    sid[0] = '\0';
  return true;
}

static bool path_matches(chat_sio_server_t *server, struct lws *wsi, const char *uri) {
  (void)wsi;
  size_t n = strlen(server->path);
  /* "/socket.io/" and "/socket.io" alike */
  return strncmp(uri, server->path, n) == 0 ||
         (strncmp(uri, server->path, n - 1) == 0 && uri[n - 1] == '\0');
}

static int http_error(struct lws *wsi, int status, int code, const char *message) {
  bson_string_t *body = bson_string_new(NULL);
  bson_string_append_printf(body, "{\"code\":%d,\"message\":\"%s\"}", code, message);
  http_answer(wsi, status, body);
  return 0;
}

static void pending_unlink(chat_sio_server_t *server, wsi_state_t *state) {
  if (!state->request_id)
    return;
  if (state->prev_pending)
    state->prev_pending->next_pending = state->next_pending;
  else
    server->pending_requests = state->next_pending;
  if (state->next_pending)
    state->next_pending->prev_pending = state->prev_pending;
  state->request_id = 0;
}

static void api_dispatch(chat_sio_server_t *server, struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (state->dispatched)
    return;
  state->dispatched = true;
  chat_http_request_t request = {
      .id = state->request_id,
      .method = state->method,
      .path = state->path,
      .query = state->query,
      .authorization = state->authorization,
      .header_len = state->header_len,
      .body = state->rx,
      .body_len = state->rx_len,
  };
  server->opts.handlers.on_http(server->opts.ctx, &request);
}

/* A request outside the Socket.IO path, for the application's REST API. */
static int on_api_request(chat_sio_server_t *server, struct lws *wsi, const char *uri) {
  wsi_state_t *state = state_of(wsi);
  static const struct {
    enum lws_token_indexes token;
    const char *name;
  } methods[] = {{WSI_TOKEN_GET_URI, "GET"},
                 {WSI_TOKEN_POST_URI, "POST"},
                 {WSI_TOKEN_PUT_URI, "PUT"},
                 {WSI_TOKEN_DELETE_URI, "DELETE"}};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    if (lws_hdr_total_length(wsi, methods[i].token) > 0)
      snprintf(state->method, sizeof state->method, "%s", methods[i].name);
  }
  if (!state->method[0])
    return http_error(wsi, 405, 0, "Method not allowed");
  int auth_len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  state->path = strdup(uri);
  state->query = copy_query(wsi);
  state->authorization = calloc(1, (size_t)(auth_len > 0 ? auth_len : 0) + 1);
  if (!state->path || !state->query || !state->authorization)
    return -1;
  if (auth_len > 0)
    lws_hdr_copy(wsi, state->authorization, auth_len + 1, WSI_TOKEN_HTTP_AUTHORIZATION);
  /* Every header lws knows, the URI and its arguments; lws gives no way
   * to list the others (kept too, up to HTTP_HEADER_BUFFER). */
  for (int token = 0; token < (int)WSI_TOKEN_COUNT; token++) {
    int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)token);
    state->header_len += len > 0 ? (size_t)len : 0;
  }
  state->kind = KIND_API;
  state->wsi = wsi;
  state->request_id = ++server->last_request_id;
  state->next_pending = server->pending_requests;
  if (server->pending_requests)
    server->pending_requests->prev_pending = state;
  server->pending_requests = state;
  /* A body follows only for POST and PUT with a length or chunks; lws
   * sends no completion for an empty one. */
  char length[32] = "";
  lws_hdr_copy(wsi, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  bool chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
  bool has_body = (strcmp(state->method, "POST") == 0 || strcmp(state->method, "PUT") == 0) &&
                  (chunked || (length[0] && strtoll(length, NULL, 10) > 0));
  if (!has_body)
    api_dispatch(server, wsi);
  return 0; /* a body follows, or the application answers later */
}

static int on_http(chat_sio_server_t *server, struct lws *wsi, const char *uri) {
  wsi_state_t *state = state_of(wsi);
  char sid[64];
  memset(state, 0, sizeof *state);
  char connection[64] = "";
  lws_hdr_copy(wsi, connection, sizeof connection, WSI_TOKEN_CONNECTION);
  state->says_close = strcasestr(connection, "close") != NULL;
  if (!path_matches(server, wsi, uri)) {
    if (server->opts.handlers.on_http)
      return on_api_request(server, wsi, uri);
    return http_error(wsi, 404, 0, "Not found");
  }
  bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
  bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
  if (!valid_query(wsi, "polling", sid, sizeof sid))
    return http_error(wsi, 400, 0, "Transport unknown");
  if (!is_get && !is_post)
    return http_error(wsi, 400, 2, "Bad handshake method");

  if (!sid[0]) {
    if (!is_get)
      return http_error(wsi, 400, 2, "Bad handshake method");
    eio_session_t *session = session_create(server, TRANSPORT_POLLING, wsi);
    if (!session)
      return http_error(wsi, 503, 3, "Bad request");
    http_answer(wsi, 200, open_packet(session, true));
    return 0;
  }
  eio_session_t *session = session_find(server, sid);
  if (!session || session->transport != TRANSPORT_POLLING)
    return http_error(wsi, 400, 1, "Session ID unknown");

  if (is_post) {
    state->kind = KIND_POLL_POST;
    state->session = session;
    return 0; /* the body follows */
  }
  if (session->upgrading) {
    /* The client is moving to the WebSocket: end this poll cleanly. */
    http_answer(wsi, 200, bson_string_new("6"));
    return 0;
  }
  if (session->poll) {
    /* Two polls at once break ordering: the session ends. */
    http_error(wsi, 400, 3, "Bad request");
    session_close(session, "1", "duplicate poll");
    return 0;
  }
  state->kind = KIND_POLL_GET;
  state->session = session;
  session->poll = wsi;
  flush(session);
  return 0;
}

/* Appends a chunk of a request body or WebSocket message being assembled. */
static bool rx_append(wsi_state_t *state, const void *in, size_t len) {
  uint8_t *grown = realloc(state->rx, state->rx_len + len);
  if (!grown)
    return false;
  memcpy(grown + state->rx_len, in, len);
  state->rx = grown;
  state->rx_len += len;
  return true;
}

static int on_http_body(chat_sio_server_t *server, struct lws *wsi, const void *in, size_t len) {
  wsi_state_t *state = state_of(wsi);
  if (state->kind == KIND_API) {
    if (state->status)
      return 0;
    if (state->rx_len + len > API_BODY_MAX) {
      pending_unlink(server, state);
      return http_error(wsi, 413, 0, "Request body too large");
    }
    return rx_append(state, in, len) ? 0 : -1;
  }
  if (state->kind != KIND_POLL_POST || state->status)
    return 0;
  if (state->rx_len + len > server->opts.max_payload) {
    eio_session_t *session = state->session;
    state->session = NULL;
    http_error(wsi, 413, 3, "Payload too large");
    if (session)
      session_close(session, "1", "payload too large");
    return 0;
  }
  return rx_append(state, in, len) ? 0 : -1;
}

static int on_http_body_done(chat_sio_server_t *server, struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (state->kind == KIND_API) {
    if (state->request_id && !state->status)
      api_dispatch(server, wsi);
    return 0;
  }
  if (state->kind != KIND_POLL_POST || state->status)
    return 0;
  eio_session_t *session = state->session;
  state->session = NULL;
  if (!session) {
    /* The session ended while the body was arriving. */
    return http_error(wsi, 400, 1, "Session ID unknown");
  }
  payload_ctx_t pc = {session, false};
  bool ok = state->rx_len > 0 &&
            chat_eio_decode_payload(state->rx, state->rx_len, on_payload_packet, &pc);
  free(state->rx);
  state->rx = NULL;
  state->rx_len = 0;
  if (pc.closed) {
    http_answer(wsi, 200, bson_string_new("ok"));
    return 0;
  }
  if (!ok) {
    http_error(wsi, 400, 3, "Bad request");
    session_close(session, "1", "malformed packet");
    return 0;
  }
  http_answer(wsi, 200, bson_string_new("ok"));
  return 0;
}

static int write_http_answer(struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (!state->status)
    return 0;
  size_t body_len = state->reply ? state->reply->len : 0;
  uint8_t *buf = malloc(LWS_PRE + HTTP_HEADER_ROOM + body_len);
  if (!buf)
    return -1;
  uint8_t *start = buf + LWS_PRE, *p = start, *end = start + HTTP_HEADER_ROOM - 1;
  int rc = -1;
  if (lws_add_http_common_headers(wsi, (unsigned)state->status,
                                  state->status == 200 && !state->json_reply
                                      ? "text/plain; charset=UTF-8"
                                      : "application/json",
                                  body_len, &p, end) ||
      /* lws closes such a connection after the answer; say so, or a client
       * that pools connections (Node's agent) sends the next request into
       * a closing socket. */
      (state->says_close &&
       lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                    &p, end)) ||
      lws_finalize_write_http_header(wsi, start, &p, end))
    goto out;
  /* The body goes in a buffer of its own with LWS_PRE room before it. */
  uint8_t *body = buf + LWS_PRE;
  memcpy(body, state->reply ? state->reply->str : "", body_len);
  if (lws_write(wsi, body, body_len, LWS_WRITE_HTTP_FINAL) != (int)body_len)
    goto out;
  rc = 0;
out:
  free(buf);
  if (state->reply)
    bson_string_free(state->reply, true);
  state->reply = NULL;
  state->status = 0;
  /* Last: completing the transaction may free state (the protocol is
   * dropped until the next request on this connection). */
  if (rc == 0 && lws_http_transaction_completed(wsi))
    rc = -1;
  return rc;
}

static int write_ws(struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (state->close_requested)
    return -1;
  if (state->reply) { /* a probe answer */
    size_t len = state->reply->len;
    uint8_t *buf = malloc(LWS_PRE + len);
    if (!buf)
      return -1;
    memcpy(buf + LWS_PRE, state->reply->str, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    free(buf);
    bson_string_free(state->reply, true);
    state->reply = NULL;
    return n < (int)len ? -1 : 0;
  }
  eio_session_t *session = state->session;
  if (!session || session->ws != wsi)
    return 0;
  while (session->out_head && !lws_send_pipe_choked(wsi)) {
    out_packet_t *packet = session->out_head;
    size_t len = packet->binary ? packet->len : packet->len + 1;
    uint8_t *buf = malloc(LWS_PRE + len);
    if (!buf)
      return -1;
    uint8_t *frame = buf + LWS_PRE;
    if (packet->binary) {
      memcpy(frame, packet->data, packet->len);
    } else {
      frame[0] = (uint8_t)('0' + packet->type);
      memcpy(frame + 1, packet->data, packet->len);
    }
    int n = lws_write(wsi, frame, len, packet->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    free(buf);
    if (n < (int)len)
      return -1;
    session->out_head = packet->next;
    if (!session->out_head)
      session->out_tail = NULL;
    free(packet);
  }
  if (session->out_head)
    lws_callback_on_writable(wsi);
  return 0;
}

/* A whole WebSocket message arrived on wsi. */
static int on_ws_message(struct lws *wsi, const uint8_t *data, size_t len, bool binary) {
  wsi_state_t *state = state_of(wsi);
  eio_session_t *session = state->session;
  chat_eio_packet_t packet;
  if (!session)
    return -1;
  if (!chat_eio_decode_frame(data, len, binary, &packet)) {
    session_close(session, "1", "malformed packet");
    return -1;
  }
  if (session->probe == wsi) {
    if (packet.type == CHAT_EIO_PING && packet.len == 5 && memcmp(packet.data, "probe", 5) == 0) {
      state->reply = bson_string_new("3probe");
      lws_callback_on_writable(wsi);
      session->upgrading = true;
      if (session->poll)
        answer_poll(session, "6");
      return 0;
    }
    if (packet.type == CHAT_EIO_UPGRADE && session->upgrading) {
      session->probe = NULL;
      session->upgrading = false;
      session->transport = TRANSPORT_WEBSOCKET;
      session->ws = wsi;
      flush(session);
      return 0;
    }
    return 0; /* anything else before the upgrade completes is dropped */
  }
  bool closed = false;
  if (!handle_eio_packet(session, &packet, &closed)) {
    session_close(session, "1", "protocol error");
    return -1;
  }
  return 0;
}

static int on_ws_established(chat_sio_server_t *server, struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  char sid[64];
  memset(state, 0, sizeof *state);
  state->kind = KIND_WS;
  if (!valid_query(wsi, "websocket", sid, sizeof sid))
    return -1;
  if (sid[0]) {
    eio_session_t *session = session_find(server, sid);
    if (!session || session->transport != TRANSPORT_POLLING || session->probe) {
      static const char reason[] = "session unknown or already upgraded";
      lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)reason,
                       sizeof reason - 1);
      return -1;
    }
    session->probe = wsi;
    state->session = session;
    return 0;
  }
  eio_session_t *session = session_create(server, TRANSPORT_WEBSOCKET, wsi);
  if (!session)
    return -1;
  session->ws = wsi;
  state->session = session;
  bson_string_t *open = open_packet(session, false);
  enqueue(session, CHAT_EIO_OPEN, false, open->str + 1, open->len - 1);
  bson_string_free(open, true);
  return 0;
}

static int on_ws_receive(chat_sio_server_t *server, struct lws *wsi, const void *in, size_t len) {
  wsi_state_t *state = state_of(wsi);
  if (state->rx_len + len > server->opts.max_payload) {
    if (state->session)
      session_close(state->session, "1", "message too large");
    return -1;
  }
  if (lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi))
    return on_ws_message(wsi, in, len, lws_frame_is_binary(wsi));
  if (!rx_append(state, in, len))
    return -1;
  if (!lws_is_final_fragment(wsi))
    return 0;
  int rc = on_ws_message(wsi, state->rx, state->rx_len, lws_frame_is_binary(wsi));
  free(state->rx);
  state->rx = NULL;
  state->rx_len = 0;
  return rc;
}

static void on_wsi_closed(chat_sio_server_t *server, struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (!state)
    return;
  pending_unlink(server, state);
  free(state->path);
  free(state->query);
  free(state->authorization);
  state->path = state->query = state->authorization = NULL;
  eio_session_t *session = state->session;
  state->session = NULL;
  if (session) {
    if (session->poll == wsi)
      session->poll = NULL;
    if (session->probe == wsi) {
      session->probe = NULL;
      session->upgrading = false;
      flush(session);
    }
    if (session->ws == wsi) {
      session->ws = NULL;
      session_close(session, "1", "transport close");
    }
  }
  free(state->rx);
  state->rx = NULL;
  if (state->reply)
    bson_string_free(state->reply, true);
  state->reply = NULL;
}

/* Runs what other threads posted, on the loop thread. */
static void run_posted(chat_sio_server_t *server) {
  pthread_mutex_lock(&server->posted_lock);
  posted_call_t *call = server->posted_head;
  server->posted_head = server->posted_tail = NULL;
  pthread_mutex_unlock(&server->posted_lock);
  while (call) {
    posted_call_t *next = call->next;
    call->fn(call->arg);
    free(call);
    call = next;
  }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  chat_sio_server_t *server = lws_context_user(lws_get_context(wsi));
  (void)user;
  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
    char uri[256], sid[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
        !path_matches(server, wsi, uri) || !valid_query(wsi, "websocket", sid, sizeof sid))
      return 1;
    /* A sid that cannot be upgraded is refused after the handshake, with
     * a close frame: clients take that as a close, not as an error. */
    return 0;
  }
  case LWS_CALLBACK_HTTP:
    return on_http(server, wsi, in ? (const char *)in : "");
  case LWS_CALLBACK_HTTP_BODY:
    return on_http_body(server, wsi, in, len);
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return on_http_body_done(server, wsi);
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return write_http_answer(wsi);
  case LWS_CALLBACK_ESTABLISHED:
    return on_ws_established(server, wsi);
  case LWS_CALLBACK_RECEIVE:
    return on_ws_receive(server, wsi, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return write_ws(wsi);
  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    on_wsi_closed(server, wsi);
    return 0;
  case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
    run_posted(server);
    return 0;
  default:
    return 0;
  }
}

/* ---- public ------------------------------------------------------------------ */

chat_err_t chat_sio_server_create(const chat_sio_options_t *opts, chat_sio_server_t **out,
                                  char *errbuf, size_t errbuf_len) {
  struct lws_context_creation_info info;
  chat_sio_server_t *server = calloc(1, sizeof *server);
  if (!server || sodium_init() < 0) {
    free(server);
    return CHAT_ERR_NOMEM;
  }
  server->opts = *opts;
  pthread_mutex_init(&server->posted_lock, NULL);
  session_timers_init(server, &server->ping_timers, opts->ping_interval_ms, on_ping_due);
  session_timers_init(server, &server->pong_timers, opts->ping_timeout_ms, on_pong_missing);
  session_timers_init(server, &server->connect_timers, opts->connect_timeout_ms,
                      on_connect_missing);
  snprintf(server->path, sizeof server->path, "%s", opts->path);
  server->protocols[0] = (struct lws_protocols){
      .name = "socket.io",
      .callback = callback,
      .per_session_data_size = sizeof(wsi_state_t),
      .rx_buffer_size = WS_RX_BUFFER,
  };
  /* Only lws's errors, or more when debugging, as our JSON lines. */
  lws_set_log_level(chat_log_enabled(CHAT_LOG_DEBUG) ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR,
                    chat_sio_lws_log);
  memset(&info, 0, sizeof info);
  info.port = opts->port;
  info.iface = opts->listen_addr;
  info.protocols = server->protocols;
  info.user = server;
  info.timeout_secs = 60; /* long polls are answered by a ping well before */
  info.max_http_header_data = HTTP_HEADER_BUFFER;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  server->context = lws_create_context(&info);
  if (!server->context) {
    snprintf(errbuf, errbuf_len, "socket.io: cannot listen on %s:%d", opts->listen_addr,
             opts->port);
    free(server);
    return CHAT_ERR_IO;
  }
  *out = server;
  return CHAT_OK;
}

bool chat_sio_server_service(chat_sio_server_t *server, int timeout_ms) {
  return lws_service(server->context, timeout_ms) >= 0;
}

void chat_sio_server_wake(chat_sio_server_t *server) { lws_cancel_service(server->context); }

static void deferred_unlink(deferred_call_t *call) {
  if (call->prev)
    call->prev->next = call->next;
  else
    call->server->deferred = call->next;
  if (call->next)
    call->next->prev = call->prev;
}

static void on_deferred_due(lws_sorted_usec_list_t *sul) {
  deferred_call_t *call = lws_container_of(sul, deferred_call_t, sul);
  deferred_unlink(call);
  call->fn(call->arg);
  free(call);
}

chat_err_t chat_sio_server_post(chat_sio_server_t *server, void (*fn)(void *arg), void *arg) {
  posted_call_t *call = calloc(1, sizeof *call);
  if (!call)
    return CHAT_ERR_NOMEM;
  call->fn = fn;
  call->arg = arg;
  pthread_mutex_lock(&server->posted_lock);
  if (server->posted_tail)
    server->posted_tail->next = call;
  else
    server->posted_head = call;
  server->posted_tail = call;
  pthread_mutex_unlock(&server->posted_lock);
  lws_cancel_service(server->context); /* LWS_CALLBACK_EVENT_WAIT_CANCELLED runs it */
  return CHAT_OK;
}

bool chat_sio_http_respond(chat_sio_server_t *server, uint64_t request_id, int status,
                           const char *json_body) {
  if (!server)
    return false; /* destroyed: nobody left to answer */
  for (wsi_state_t *state = server->pending_requests; state; state = state->next_pending) {
    if (state->request_id != request_id)
      continue;
    pending_unlink(server, state);
    state->json_reply = true;
    http_answer(state->wsi, status, bson_string_new(json_body));
    return true;
  }
  return false; /* the client went away meanwhile */
}

chat_err_t chat_sio_server_call_later(chat_sio_server_t *server, int delay_ms,
                                      void (*fn)(void *arg), void *arg) {
  deferred_call_t *call = calloc(1, sizeof *call);
  if (!call)
    return CHAT_ERR_NOMEM;
  call->server = server;
  call->fn = fn;
  call->arg = arg;
  call->next = server->deferred;
  if (server->deferred)
    server->deferred->prev = call;
  server->deferred = call;
  lws_sul_schedule(server->context, 0, &call->sul, on_deferred_due,
                   (lws_usec_t)delay_ms * LWS_US_PER_MS);
  return CHAT_OK;
}

void chat_sio_server_destroy(chat_sio_server_t **server_ptr) {
  chat_sio_server_t *server = server_ptr ? *server_ptr : NULL;
  if (!server)
    return;
  while (server->deferred) {
    deferred_call_t *call = server->deferred;
    lws_sul_cancel(&call->sul);
    deferred_unlink(call);
    free(call);
  }
  for (size_t i = 0; i < SESSION_BUCKETS; i++) {
    while (server->buckets[i])
      session_close(server->buckets[i], "1", "server shutting down");
  }
  lws_sul_cancel(&server->ping_timers.wake);
  lws_sul_cancel(&server->pong_timers.wake);
  lws_sul_cancel(&server->connect_timers.wake);
  lws_context_destroy(server->context);
  run_posted(server); /* frees what was posted and never ran */
  pthread_mutex_destroy(&server->posted_lock);
  free(server);
  *server_ptr = NULL;
}

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

bool chat_sio_query_arg(const char *query, const char *name, char *out, size_t out_len) {
  return chat_query_get(query, name, out, out_len) == CHAT_QUERY_FOUND;
}

bool chat_sio_socket_query_arg(const chat_sio_socket_t *socket, const char *name, char *out,
                               size_t out_len) {
  return chat_sio_query_arg(socket->session->handshake_query, name, out, out_len);
}

const char *chat_sio_socket_id(const chat_sio_socket_t *socket) { return socket->id; }
const char *chat_sio_socket_nsp(const chat_sio_socket_t *socket) { return socket->nsp; }
void chat_sio_socket_set_user(chat_sio_socket_t *socket, void *user) { socket->user = user; }
void *chat_sio_socket_user(const chat_sio_socket_t *socket) { return socket->user; }
