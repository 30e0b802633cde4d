/* libFuzzer target for the protocol server's session state machine
 * (services/gateway/socketio/eio_session.c), driven without a network: the
 * input is a sequence of operations on one Engine.IO session, as the lws
 * glue (server.c) would make them, with fake connections whose lifetime is
 * the glue's. Built with -fsanitize=fuzzer,address,undefined by
 * tests/CMakeLists.txt; seeds in tests/fuzz/corpus-session/ (written by
 * make_session_seeds.py, which also documents the input format).
 *
 * Input: operations, each an op byte and, for the ops that carry bytes, a
 * big-endian 16-bit length and that many bytes (cut at the input's end):
 *   'P' open a polling session (GET without sid), 'W' open a WebSocket one,
 *   't'/'b' + bytes  a text / binary WebSocket message on the session's
 *                    WebSocket (or on its probe before the upgrade),
 *   'u' offer a WebSocket upgrade (a probe connection with the sid),
 *   'p' + bytes      a polling POST body,  'g' a polling GET,
 *   'w' + n          the WebSocket is writable: write up to n packets,
 *   'T' + kind       the ping (0), pong (1) or connect (2) timers fall due,
 *   'c' + which      a connection closes: the WebSocket (0) or the poll (1).
 * Any other op byte is skipped.
 *
 * The application handlers act like the gateway's: on_connect accepts or
 * refuses on the auth's token and namespace, on_connected emits, on_event
 * acks, echoes, emits binary attachments, pauses the input ("pause", as
 * the gateway does past a rate limit) and emits to the session's other
 * sockets, on_disconnect emits to the sockets still there (from inside the
 * session's close). Besides the sanitizers, the harness aborts when: a hook
 * names a connection the glue no longer has; a session ends and leaves a
 * connection behind; on_disconnect runs for a socket twice or never; the
 * server writes a packet a client cannot decode, or a text packet where
 * the attachments of a binary one were due. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "eio_packet.h"
#include "eio_session.h"
#include "sio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_PAYLOAD 1024 /* the session's maxPayload: larger messages close it */
#define MAX_SOCKETS 8    /* live sockets tracked (3 namespaces: at most 3 per session) */

/* A fake connection; freed when the glue would stop pointing at it. */
struct eio_conn {
  bool websocket;
};

static void fail(const char *why) {
  fprintf(stderr, "session_fuzz: %s\n", why);
  abort();
}

#define CHECK(expr)                                                                                \
  do {                                                                                             \
    if (!(expr))                                                                                   \
      fail(#expr);                                                                                 \
  } while (0)

/* ---- what the client receives ------------------------------------------- */

/* The packets the client has read, in order, across polls and the upgrade:
 * after a binary packet with n attachments, n binary messages are due. */
static int attachments_due;

static void client_reads(const chat_eio_packet_t *packet) {
  if (packet->type != CHAT_EIO_MESSAGE) {
    CHECK(attachments_due == 0 || packet->type == CHAT_EIO_PING ||
          packet->type == CHAT_EIO_NOOP || packet->type == CHAT_EIO_CLOSE);
    return;
  }
  if (packet->binary) {
    CHECK(attachments_due > 0);
    attachments_due--;
    return;
  }
  CHECK(attachments_due == 0);
  chat_sio_packet_t sio;
  const char *why = NULL;
  if (!chat_sio_decode((const char *)packet->data, packet->len, 1 << 24, &sio, &why)) {
    fprintf(stderr, "session_fuzz: server wrote %.*s: %s\n", (int)packet->len,
            (const char *)packet->data, why);
    abort();
  }
  if (sio.type == CHAT_SIO_BINARY_EVENT || sio.type == CHAT_SIO_BINARY_ACK)
    attachments_due = sio.attachments;
  chat_sio_packet_cleanup(&sio);
}

static bool on_polled_packet(void *ctx, const chat_eio_packet_t *packet) {
  (void)ctx;
  client_reads(packet);
  return true;
}

/* ---- the glue: connections, clock, timers --------------------------------- */

static eio_engine_t engine;
static eio_session_t *session;  /* the session of this input, NULL when gone */
static eio_conn_t *ws_conn;     /* its WebSocket or its probe (never both: see below) */
static eio_conn_t *poll_conn;   /* its held GET */
static int64_t clock_us;        /* the fake monotonic clock */
static int64_t armed_us[EIO_TIMER_KINDS]; /* each queue's wake-up, -1 when none */

static void wake_writer(void *ctx, eio_conn_t *conn) {
  (void)ctx;
  /* Also called from on_disconnect's emits during the close, for the
   * WebSocket already told to close: the glue ignores it there too. */
  (void)conn;
}

static void answer_poll(void *ctx, eio_conn_t *conn, bson_string_t *body) {
  (void)ctx;
  CHECK(conn && conn == poll_conn);
  CHECK(chat_eio_decode_payload((const uint8_t *)body->str, body->len, on_polled_packet, NULL));
  bson_string_free(body, true);
  free(poll_conn);
  poll_conn = NULL;
}

static void send_text(void *ctx, eio_conn_t *conn, const char *text) {
  (void)ctx;
  CHECK(conn && conn == ws_conn && strcmp(text, "3probe") == 0);
}

static void close_conn(void *ctx, eio_conn_t *conn) {
  (void)ctx;
  CHECK(conn && conn == ws_conn);
  free(ws_conn);
  ws_conn = NULL;
}

static int64_t now_us(void *ctx) {
  (void)ctx;
  return clock_us;
}

static void arm_timers(void *ctx, eio_timer_kind_t kind, int64_t due_us) {
  (void)ctx;
  armed_us[kind] = due_us;
}

static void pause_reading(void *ctx, eio_conn_t *conn, int64_t due_us) {
  (void)ctx;
  /* Only the session's WebSocket, and only to a later time than now. */
  CHECK(conn && conn == ws_conn && due_us > clock_us);
}

/* ---- the application ------------------------------------------------------ */

typedef struct app_socket {
  chat_sio_socket_t *socket;
  unsigned events;
} app_socket_t;

static app_socket_t *live[MAX_SOCKETS]; /* connected sockets, in no order */

static void live_add(app_socket_t *app) {
  for (size_t i = 0; i < MAX_SOCKETS; i++) {
    if (!live[i]) {
      live[i] = app;
      return;
    }
  }
  fail("more sockets than namespaces");
}

static void live_remove(app_socket_t *app) {
  for (size_t i = 0; i < MAX_SOCKETS; i++) {
    if (live[i] == app) {
      live[i] = NULL;
      return;
    }
  }
  fail("on_disconnect for a socket not connected");
}

static const char *on_connect(void *ctx, chat_sio_socket_t *socket, const bson_t *auth) {
  (void)ctx;
  bson_iter_t it;
  /* Like the gateway: a token is checked, and "/admin" needs one. */
  if (auth && bson_iter_init_find(&it, auth, "token")) {
    if (!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "valid") != 0)
      return "invalid token";
  } else if (strcmp(chat_sio_socket_nsp(socket), "/admin") == 0) {
    return "missing token";
  }
  app_socket_t *app = calloc(1, sizeof *app);
  CHECK(app);
  app->socket = socket;
  chat_sio_socket_set_user(socket, app);
  return NULL;
}

static void on_connected(void *ctx, chat_sio_socket_t *socket) {
  (void)ctx;
  app_socket_t *app = chat_sio_socket_user(socket);
  CHECK(app && app->socket == socket);
  live_add(app);
  char welcome[64];
  snprintf(welcome, sizeof welcome, "[\"welcome\",\"%s\"]", chat_sio_socket_id(socket));
  chat_sio_emit(socket, welcome, NULL, 0);
}

/* The event's arguments as a JSON array, the name dropped. */
static bson_string_t *args_json(const chat_sio_packet_t *packet) {
  bson_iter_t args;
  bson_string_t *out = bson_string_new("[");
  (void)chat_sio_event_name(packet, &args);
  bool first = true;
  while (bson_iter_next(&args)) {
    bson_t single;
    bson_init(&single);
    bson_append_iter(&single, "0", 1, &args);
    bson_string_t *rendered = bson_string_new(NULL);
    chat_json_append(rendered, &single, true); /* "[value]" */
    bson_string_append_printf(out, "%s%.*s", first ? "" : ",", (int)rendered->len - 2,
                              rendered->str + 1);
    first = false;
    bson_string_free(rendered, true);
    bson_destroy(&single);
  }
  bson_string_append_c(out, ']');
  return out;
}

static void on_event(void *ctx, chat_sio_socket_t *socket, const chat_sio_packet_t *packet,
                     const chat_sio_attachment_t *attachments, size_t attachment_count) {
  (void)ctx;
  app_socket_t *app = chat_sio_socket_user(socket);
  CHECK(app && app->socket == socket);
  CHECK((attachment_count > 0) == (packet->type == CHAT_SIO_BINARY_EVENT && packet->attachments > 0));
  for (size_t i = 0; i < attachment_count; i++)
    CHECK(attachments[i].data || attachments[i].len == 0);
  app->events++;
  bson_iter_t args;
  const char *name = chat_sio_event_name(packet, &args);
  CHECK(name);
  if (strcmp(name, "binary") == 0) {
    /* Back with the client's attachments, or two of ours. */
    static const uint8_t ours[] = {0, 1, 2, 3};
    const chat_sio_attachment_t two[] = {{ours, sizeof ours}, {ours, 0}};
    const chat_sio_attachment_t *back = attachment_count ? attachments : two;
    size_t count = attachment_count ? attachment_count : 2;
    /* An ack's arguments are the placeholders; an event's follow its name. */
    bson_string_t *json = bson_string_new(packet->ack_id >= 0 ? "[" : "[\"binary\",");
    for (size_t i = 0; i < count; i++)
      bson_string_append_printf(json, "%s{\"_placeholder\":true,\"num\":%zu}", i ? "," : "", i);
    bson_string_append_c(json, ']');
    if (packet->ack_id >= 0)
      chat_sio_ack(socket, packet->ack_id, json->str, back, count);
    else
      chat_sio_emit(socket, json->str, back, count);
    bson_string_free(json, true);
  } else if (strcmp(name, "pause") == 0) {
    /* As the gateway pauses a client past its rate limit. */
    chat_sio_socket_pause_reading(socket, 50);
  } else if (strcmp(name, "broadcast") == 0) {
    /* To every socket of the session, this one included. */
    for (size_t i = 0; i < MAX_SOCKETS; i++) {
      if (live[i])
        chat_sio_emit(live[i]->socket, "[\"broadcast\",{\"from\":\"fuzz\"}]", NULL, 0);
    }
  }
  /* Every event with an ack id gets its arguments back, as the gateway
   * acks with the client's data. */
  if (packet->ack_id >= 0 && strcmp(name, "binary") != 0) {
    bson_string_t *json = args_json(packet);
    chat_sio_ack(socket, packet->ack_id, json->str, NULL, 0);
    bson_string_free(json, true);
  } else if (packet->ack_id < 0 && strcmp(name, "binary") != 0) {
    bson_string_t *json = args_json(packet);
    bson_string_t *echo = bson_string_new("[\"echo\"");
    if (json->len > 2)
      bson_string_append_printf(echo, ",%.*s", (int)json->len - 2, json->str + 1);
    bson_string_append_c(echo, ']');
    chat_sio_emit(socket, echo->str, NULL, 0);
    bson_string_free(echo, true);
    bson_string_free(json, true);
  }
}

static void on_disconnect(void *ctx, chat_sio_socket_t *socket, const char *reason) {
  (void)ctx;
  CHECK(reason && reason[0]);
  app_socket_t *app = chat_sio_socket_user(socket);
  CHECK(app && app->socket == socket);
  live_remove(app);
  /* The others hear of it, from inside the close of their session. */
  for (size_t i = 0; i < MAX_SOCKETS; i++) {
    if (live[i])
      chat_sio_emit(live[i]->socket, "[\"peer-gone\"]", NULL, 0);
  }
  free(app);
}

static const char *const namespaces[] = {"/admin", "/chat", NULL};

static const chat_sio_options_t options = {
    .path = "/socket.io/",
    .ping_interval_ms = 300,
    .ping_timeout_ms = 200,
    .max_payload = MAX_PAYLOAD,
    .connect_timeout_ms = 1000,
    .namespaces = namespaces,
    .handlers = {on_connect, on_connected, on_event, on_disconnect, NULL},
};

/* ---- driving the session ---------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (sodium_init() < 0)
    abort();
  const eio_transport_t transport = {wake_writer, answer_poll, send_text,     close_conn,
                                     now_us,      arm_timers,  pause_reading, NULL};
  eio_engine_init(&engine, &options, &transport);
  return 0;
}

/* Forgets the session when it closed itself (through any hook), and checks
 * that it let go of every connection then. */
static void session_check(const char *sid) {
  if (!session)
    return;
  if (eio_session_find(&engine, sid))
    return;
  session = NULL;
  attachments_due = 0;
  CHECK(!ws_conn && !poll_conn);
  for (size_t i = 0; i < MAX_SOCKETS; i++)
    CHECK(!live[i]);
}

static char sid[EIO_SID_LEN + 1];

static void remember_sid(const bson_string_t *open) {
  /* 0{"sid":"<20 characters>",... */
  const char *at = strstr(open->str, "\"sid\":\"");
  CHECK(at && strlen(at) > 7 + EIO_SID_LEN);
  memcpy(sid, at + 7, EIO_SID_LEN);
  sid[EIO_SID_LEN] = '\0';
}

static eio_conn_t *conn_new(bool websocket) {
  eio_conn_t *conn = calloc(1, sizeof *conn);
  CHECK(conn);
  conn->websocket = websocket;
  return conn;
}

static void op_open(bool websocket) {
  if (session)
    return; /* one session per input */
  if (websocket) {
    ws_conn = conn_new(true);
    session = eio_session_create(&engine, EIO_WEBSOCKET, ws_conn, strdup("EIO=4&transport=websocket"));
    CHECK(session);
    /* The open packet is the first of the queue: write it. */
    const eio_out_packet_t *open = eio_session_out_peek(session, ws_conn);
    CHECK(open && open->type == CHAT_EIO_OPEN);
    bson_string_t *text = bson_string_new(NULL);
    bson_string_append_printf(text, "0%.*s", (int)open->len, (const char *)open->data);
    remember_sid(text);
    bson_string_free(text, true);
    eio_session_out_pop(session);
  } else {
    session = eio_session_create(&engine, EIO_POLLING, NULL, strdup("EIO=4&transport=polling"));
    CHECK(session);
    bson_string_t *open = eio_session_open_packet(session, true);
    remember_sid(open);
    bson_string_free(open, true);
  }
}

/* A WebSocket message of len bytes on ws_conn, as on_ws_receive() takes it. */
static void op_ws_message(const uint8_t *bytes, size_t len, bool binary) {
  if (!session || !ws_conn)
    return;
  eio_conn_t *conn = ws_conn;
  if (len > MAX_PAYLOAD) {
    eio_session_close(session, "1", "message too large");
    return;
  }
  if (!eio_session_ws_message(session, conn, bytes, len, binary) && ws_conn == conn) {
    /* The glue returns -1: lws closes the connection. */
    session_check(sid);
    if (session)
      eio_session_conn_closed(session, conn);
    if (ws_conn == conn) {
      free(ws_conn);
      ws_conn = NULL;
    }
  }
}

static void op_probe(void) {
  if (!session || ws_conn)
    return; /* a second WebSocket for the same sid is refused before the session sees it */
  eio_conn_t *probe = conn_new(true);
  if (!eio_session_attach_probe(session, probe)) {
    free(probe); /* refused with a close frame */
    return;
  }
  ws_conn = probe;
}

static void op_post(const uint8_t *body, size_t len) {
  if (!session || !eio_session_is_polling(session))
    return; /* 400 Session ID unknown */
  if (len > MAX_PAYLOAD) {
    eio_session_close(session, "1", "payload too large");
    return;
  }
  (void)eio_session_post(session, body, len);
}

static void op_get(void) {
  if (!session || !eio_session_is_polling(session))
    return; /* 400 Session ID unknown */
  if (poll_conn) {
    eio_conn_t *second = conn_new(false);
    eio_poll_result_t result = eio_session_poll(session, second);
    CHECK(result != EIO_POLL_HELD);
    free(second);
    return;
  }
  poll_conn = conn_new(false); /* before the call: it may be answered at once */
  eio_poll_result_t result = eio_session_poll(session, poll_conn);
  CHECK(result != EIO_POLL_DUPLICATE);
  if (result == EIO_POLL_NOOP) {
    free(poll_conn);
    poll_conn = NULL;
  }
}

static void op_write(unsigned budget) {
  if (!session || !ws_conn)
    return;
  const eio_out_packet_t *packet;
  while (budget-- > 0 && (packet = eio_session_out_peek(session, ws_conn))) {
    uint8_t *frame = malloc(packet->len + 1);
    CHECK(frame);
    size_t len = packet->len;
    if (packet->binary) {
      memcpy(frame, packet->data, packet->len);
    } else {
      frame[0] = (uint8_t)('0' + packet->type);
      memcpy(frame + 1, packet->data, packet->len);
      len++;
    }
    chat_eio_packet_t read;
    CHECK(chat_eio_decode_frame(frame, len, packet->binary, &read));
    client_reads(&read);
    free(frame);
    eio_session_out_pop(session);
  }
}

static void op_timers(unsigned kind_byte) {
  eio_timer_kind_t kind = (eio_timer_kind_t)(kind_byte % EIO_TIMER_KINDS);
  if (armed_us[kind] < 0)
    return;
  if (armed_us[kind] > clock_us)
    clock_us = armed_us[kind];
  armed_us[kind] = -1;
  eio_engine_run_timers(&engine, kind);
}

static void op_close(unsigned which) {
  if (!session)
    return;
  if (which % 2 == 0 && ws_conn) {
    eio_conn_t *conn = ws_conn;
    eio_session_conn_closed(session, conn);
    if (ws_conn == conn) {
      /* The session let go of it without a hook: a probe, or the
       * WebSocket whose close ended the session. */
      free(ws_conn);
      ws_conn = NULL;
    }
  } else if (which % 2 == 1 && poll_conn) {
    eio_conn_t *conn = poll_conn;
    eio_session_conn_closed(session, conn);
    free(conn);
    poll_conn = NULL;
  }
}

/* Overwrites the stack below the caller with garbage, as the event loop's
 * own calls do between two frames of a client: a pointer the session kept
 * into a stack frame that has returned then points at garbage, and the
 * next use of it fails under ASan even when that use is in a library that
 * ASan does not instrument (libbson). Without it, such a pointer may still
 * find its old data, untouched, in the dead frame. */
__attribute__((noinline, no_sanitize("address"))) static void scribble_stack(void) {
  uint8_t garbage[4 * 1024]; /* deeper than the session's calls go */
  memset(garbage, 0xa5, sizeof garbage);
  __asm__ volatile("" : : "r"(garbage) : "memory"); /* the stores are not dead */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t at = 0;
  for (int i = 0; i < EIO_TIMER_KINDS; i++)
    armed_us[i] = -1;
  clock_us = 1000000;
  while (at < size) {
    uint8_t op = data[at++];
    size_t len = 0;
    const uint8_t *bytes = NULL;
    if (op == 't' || op == 'b' || op == 'p') {
      if (at + 2 > size)
        break;
      len = (size_t)data[at] << 8 | data[at + 1];
      at += 2;
      if (len > size - at)
        len = size - at;
      bytes = data + at;
      at += len;
    }
    unsigned arg = 0;
    if (op == 'w' || op == 'T' || op == 'c') {
      if (at >= size)
        break;
      arg = data[at++];
    }
    switch (op) {
    case 'P':
      op_open(false);
      break;
    case 'W':
      op_open(true);
      break;
    case 't':
    case 'b':
      op_ws_message(bytes, len, op == 'b');
      break;
    case 'u':
      op_probe();
      break;
    case 'p':
      op_post(bytes, len);
      break;
    case 'g':
      op_get();
      break;
    case 'w':
      op_write(arg);
      break;
    case 'T':
      op_timers(arg);
      break;
    case 'c':
      op_close(arg);
      break;
    default:
      break;
    }
    session_check(sid);
    scribble_stack();
  }
  /* The server shuts down: every socket hears of it, every connection is
   * let go of. (The session alone: eio_engine_close_all() would visit all
   * 4096 buckets, a tenth of each execution.) */
  if (session)
    eio_session_close(session, "1", "server shutting down");
  session_check(sid);
  CHECK(!session);
  return 0;
}
