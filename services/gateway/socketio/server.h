/* A Socket.IO v5 / Engine.IO v4 server on libwebsockets: the WebSocket and
 * HTTP long-polling transports, the upgrade from polling to WebSocket,
 * heartbeats, maxPayload, namespaces, events and acks with binary
 * attachments. It knows nothing of chat: the application sees sockets
 * (one per connected namespace) through the handlers below.
 * Single-threaded: every function runs on the lws event loop thread. */
#ifndef CHAT_SIO_SERVER_H
#define CHAT_SIO_SERVER_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/err.h"
#include "sio_packet.h"

typedef struct chat_sio_server chat_sio_server_t;
typedef struct chat_sio_socket chat_sio_socket_t;

typedef struct chat_sio_attachment {
  const uint8_t *data;
  size_t len;
} chat_sio_attachment_t;

/* A REST request outside the Socket.IO path; a view valid during the call. */
typedef struct chat_http_request {
  uint64_t id; /* answer with chat_sio_http_respond(), now or later */
  const char *method;
  const char *path;          /* without the query string */
  const char *query;         /* "a=1&b=x%26y" ("" when none), encoded; read with chat_query_get() */
  const char *authorization; /* the Authorization header, "" when absent */
  size_t header_len;         /* bytes of the URI and of the headers lws knows */
  const uint8_t *body;
  size_t body_len;
} chat_http_request_t;

typedef struct chat_sio_handlers {
  /* A CONNECT to an allowed namespace; auth is the CONNECT data (NULL when
   * none). Return NULL to accept, or a message for CONNECT_ERROR (the socket
   * is then dropped). Do not emit from here: the answer is not sent yet. */
  const char *(*on_connect)(void *ctx, chat_sio_socket_t *socket, const bson_t *auth);
  /* The socket is connected and its CONNECT answer queued; emit from here. */
  void (*on_connected)(void *ctx, chat_sio_socket_t *socket);
  /* An EVENT (with its attachments when it was a BINARY_EVENT). */
  void (*on_event)(void *ctx, chat_sio_socket_t *socket, const chat_sio_packet_t *packet,
                   const chat_sio_attachment_t *attachments, size_t attachment_count);
  /* The socket is gone (client disconnect, transport close, server
   * disconnect); it must not be used after this returns. */
  void (*on_disconnect)(void *ctx, chat_sio_socket_t *socket, const char *reason);
  /* A request to any other path; NULL answers them 404. */
  void (*on_http)(void *ctx, const chat_http_request_t *request);
} chat_sio_handlers_t;

typedef struct chat_sio_options {
  const char *listen_addr;
  int port;
  const char *path;              /* e.g. "/socket.io/" */
  int ping_interval_ms;          /* server pings this often */
  int ping_timeout_ms;           /* and closes when no pong came this long after */
  size_t max_payload;            /* largest message and polling POST body */
  size_t max_queued_bytes;       /* a connection with more queued for it is closed (0: no limit) */
  int connect_timeout_ms;        /* no namespace CONNECT this long after open: close (0: never) */
  bool engine_echo;              /* test the Engine.IO layer alone: echo every message back */
  const char *const *namespaces; /* allowed besides "/", NULL-terminated; may be NULL */
  const char *web_root;          /* directory of files served at "/" (static_files.h); NULL: none */
  chat_sio_handlers_t handlers;
  void *ctx;
} chat_sio_options_t;

/* Creates the lws context and starts listening. Returns CHAT_OK,
 * CHAT_ERR_IO (cannot listen; errbuf says why) or CHAT_ERR_NOMEM. */
chat_err_t chat_sio_server_create(const chat_sio_options_t *opts, chat_sio_server_t **out,
                                  char *errbuf, size_t errbuf_len);

/* Serves events for up to timeout_ms. Returns false when lws failed. */
bool chat_sio_server_service(chat_sio_server_t *server, int timeout_ms);

/* Wakes chat_sio_server_service() from another thread (lws_cancel_service). */
void chat_sio_server_wake(chat_sio_server_t *server);

/* Answers REST request request_id with status and a JSON body (copied).
 * Returns false when the client has gone meanwhile. Loop thread only. */
bool chat_sio_http_respond(chat_sio_server_t *server, uint64_t request_id, int status,
                           const char *json_body);

/* Names the route pattern REST request request_id matched, for the
 * metrics of its answer (route must outlive the server: a string of the
 * application's route table). Unnamed requests count as "unmatched". Loop
 * thread only. */
void chat_sio_http_route(chat_sio_server_t *server, uint64_t request_id, const char *route);

/* Runs fn(arg) on the loop thread soon; callable from any thread. Returns
 * CHAT_OK or CHAT_ERR_NOMEM. What is still queued at destroy runs then. */
chat_err_t chat_sio_server_post(chat_sio_server_t *server, void (*fn)(void *arg), void *arg);

/* Calls fn(arg) on the loop thread after at least delay_ms. Returns
 * CHAT_OK or CHAT_ERR_NOMEM. Pending calls are dropped by destroy. */
chat_err_t chat_sio_server_call_later(chat_sio_server_t *server, int delay_ms,
                                      void (*fn)(void *arg), void *arg);

/* Closes every session and frees everything; sets *server to NULL. */
void chat_sio_server_destroy(chat_sio_server_t **server);

/* Sends an EVENT on socket's namespace; json_array is the whole data array
 * text, event name first, e.g. ["chat",{"a":1}]. With attachments it goes
 * as a BINARY_EVENT whose placeholders the caller wrote. Returns CHAT_OK or
 * CHAT_ERR_NOMEM. */
chat_err_t chat_sio_emit(chat_sio_socket_t *socket, const char *json_array,
                         const chat_sio_attachment_t *attachments, size_t attachment_count);

/* Answers the client's ack_id with json_array (the ack's arguments). */
chat_err_t chat_sio_ack(chat_sio_socket_t *socket, int64_t ack_id, const char *json_array,
                        const chat_sio_attachment_t *attachments, size_t attachment_count);

/* Copies the decoded value of argument name of query ("a=1&b=x%26y") into
 * out (chat_query_get(), http_query.h). false when it is absent, malformed
 * or does not fit in out_len (with its NUL). */
bool chat_sio_query_arg(const char *query, const char *name, char *out, size_t out_len);

/* The same for the query of the request that opened the socket's
 * Engine.IO session. */
bool chat_sio_socket_query_arg(const chat_sio_socket_t *socket, const char *name, char *out,
                               size_t out_len);

/* Reads nothing more from the client of socket's session for ms
 * milliseconds: what it sends meanwhile waits in the kernel's buffers and
 * the client's (TCP flow control), so that a client far past a rate limit
 * costs one read per pause instead of a parse and an answer per event it
 * sends. On WebSocket the pause starts after the message in hand; on
 * long-polling the rest of the POST in hand is still handled and its
 * answer waits for the pause end, so the client's next POST does. A
 * pause ending sooner than one already running changes nothing. */
void chat_sio_socket_pause_reading(chat_sio_socket_t *socket, int64_t ms);

/* The socket's id (the "sid" of its CONNECT answer) and namespace. */
const char *chat_sio_socket_id(const chat_sio_socket_t *socket);
const char *chat_sio_socket_nsp(const chat_sio_socket_t *socket);

/* From on_connect only: the CONNECT answer carries pid (connection state
 * recovery's private session id; base64url, copied), and the socket takes
 * id instead of a new random one (a recovered session keeps its id; it
 * must look like one: 20 base64url characters). false when out of memory
 * or id is not such. */
bool chat_sio_socket_set_pid(chat_sio_socket_t *socket, const char *pid);
bool chat_sio_socket_set_id(chat_sio_socket_t *socket, const char *id);

/* Application data attached to a socket. */
void chat_sio_socket_set_user(chat_sio_socket_t *socket, void *user);
void *chat_sio_socket_user(const chat_sio_socket_t *socket);

#endif
