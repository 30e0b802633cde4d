/* The reference server of the official Socket.IO and Engine.IO protocol
 * test suites (test-suite/ of socketio/socket.io-protocol and
 * socketio/engine.io-protocol), built from our protocol engine:
 *   conformance_server socketio   /socket.io/: emits "auth" with the
 *       handshake auth on connect to / and /custom, echoes "message" as
 *       "message-back", acks "message-with-ack" with its arguments;
 *   conformance_server engineio   /engine.io/: echoes every message.
 * Port 3000, pingInterval 300, pingTimeout 200, maxPayload 1000000,
 * connectTimeout 1000, loopback only. Stops on SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "server.h"

static volatile sig_atomic_t stopping;

static void on_signal(int signo) { stopping = signo; }

/* Renders the remaining args, each preceded by a comma unless it is the
 * first and no_leading_comma is set. */
static void append_args(bson_string_t *out, bson_iter_t *args, bool no_leading_comma) {
  bool first = true;
  while (bson_iter_next(args)) {
    if (!first || !no_leading_comma)
      bson_string_append_c(out, ',');
    first = false;
    bson_t single;
    bson_init(&single);
    bson_append_iter(&single, "0", 1, args);
    bson_string_t *rendered = bson_string_new(NULL);
    chat_json_append(rendered, &single, true); /* "[value]" */
    bson_string_append_printf(out, "%.*s", (int)rendered->len - 2, rendered->str + 1);
    bson_string_free(rendered, true);
    bson_destroy(&single);
  }
}

static const char *on_connect(void *ctx, chat_sio_socket_t *socket, const bson_t *auth) {
  (void)ctx;
  bson_string_t *rendered = bson_string_new(NULL);
  if (auth)
    chat_json_append(rendered, auth, false);
  else
    bson_string_append(rendered, "{}");
  chat_sio_socket_set_user(socket, bson_string_free(rendered, false));
  return NULL;
}

/* The suites read frames with ws 8.5, which emits every frame of one TCP
 * read at once, before the test's next listener is in place; the reference
 * server's "auth" event comes a write later than the CONNECT answer. So the
 * event follows a few milliseconds after the answer here, too. */
#define AUTH_EMIT_DELAY_MS 5

typedef struct auth_emit {
  char socket_id[32];
} auth_emit_t;

static chat_sio_server_t *the_server;
static chat_sio_socket_t *live_sockets[4096]; /* so a late emit finds its socket, or not */

static void emit_auth(void *arg) {
  auth_emit_t *pending = arg;
  for (size_t i = 0; i < sizeof live_sockets / sizeof live_sockets[0]; i++) {
    chat_sio_socket_t *socket = live_sockets[i];
    if (!socket || strcmp(chat_sio_socket_id(socket), pending->socket_id) != 0)
      continue;
    bson_string_t *out = bson_string_new("[\"auth\",");
    bson_string_append(out, chat_sio_socket_user(socket));
    bson_string_append_c(out, ']');
    chat_sio_emit(socket, out->str, NULL, 0);
    bson_string_free(out, true);
  }
  free(pending);
}

static void on_connected(void *ctx, chat_sio_socket_t *socket) {
  (void)ctx;
  for (size_t i = 0; i < sizeof live_sockets / sizeof live_sockets[0]; i++) {
    if (!live_sockets[i]) {
      live_sockets[i] = socket;
      break;
    }
  }
  auth_emit_t *pending = calloc(1, sizeof *pending);
  if (!pending)
    return;
  snprintf(pending->socket_id, sizeof pending->socket_id, "%s", chat_sio_socket_id(socket));
  chat_sio_server_call_later(the_server, AUTH_EMIT_DELAY_MS, emit_auth, pending);
}

static void on_event(void *ctx, chat_sio_socket_t *socket, const chat_sio_packet_t *packet,
                     const chat_sio_attachment_t *attachments, size_t attachment_count) {
  bson_iter_t args;
  (void)ctx;
  const char *name = chat_sio_event_name(packet, &args);
  if (!name)
    return;
  if (strcmp(name, "message") == 0) {
    bson_string_t *out = bson_string_new("[\"message-back\"");
    append_args(out, &args, false);
    bson_string_append_c(out, ']');
    chat_sio_emit(socket, out->str, attachments, attachment_count);
    bson_string_free(out, true);
  } else if (strcmp(name, "message-with-ack") == 0 && packet->ack_id >= 0) {
    bson_string_t *out = bson_string_new("[");
    append_args(out, &args, true);
    bson_string_append_c(out, ']');
    chat_sio_ack(socket, packet->ack_id, out->str, attachments, attachment_count);
    bson_string_free(out, true);
  }
}

static void on_disconnect(void *ctx, chat_sio_socket_t *socket, const char *reason) {
  (void)ctx, (void)reason;
  for (size_t i = 0; i < sizeof live_sockets / sizeof live_sockets[0]; i++) {
    if (live_sockets[i] == socket)
      live_sockets[i] = NULL;
  }
  free(chat_sio_socket_user(socket));
}

int main(int argc, char **argv) {
  static const char *const namespaces[] = {"/custom", NULL};
  bool engine = argc > 1 && strcmp(argv[1], "engineio") == 0;
  chat_log_init("conformance", engine ? "engineio" : "socketio", CHAT_LOG_INFO);
  chat_sio_options_t opts = {
      .listen_addr = "127.0.0.1",
      .port = argc > 2 ? atoi(argv[2]) : 3000,
      .path = engine ? "/engine.io/" : "/socket.io/",
      .ping_interval_ms = 300,
      .ping_timeout_ms = 200,
      .max_payload = 1000000,
      .connect_timeout_ms = engine ? 0 : 1000,
      .engine_echo = engine,
      .namespaces = namespaces,
      .handlers = {on_connect, on_connected, on_event, on_disconnect},
  };
  chat_sio_server_t *server = NULL;
  char why[256];
  if (chat_sio_server_create(&opts, &server, why, sizeof why) != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "%s", why);
    return 1;
  }
  the_server = server;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  CHAT_LOG(CHAT_LOG_INFO, "listening on 127.0.0.1:%d%s", opts.port, opts.path);
  while (!stopping && chat_sio_server_service(server, 100))
    ;
  chat_sio_server_destroy(&server);
  return 0;
}
