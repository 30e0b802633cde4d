/* The Engine.IO session and its Socket.IO sockets, without any I/O: what a
 * session does with each packet, frame, polling request, timer and closed
 * connection, from the handshake to the end. The transport glue (server.c
 * on libwebsockets, or a fuzz harness with no network) owns the
 * connections and implements the hooks of eio_transport_t; the session
 * only holds them as opaque eio_conn_t handles. Private to socketio/: the
 * application sees server.h only.
 * Single-threaded, like server.h; no function here is re-entered by the
 * hooks (a hook must not call back into this file). */
#ifndef CHAT_EIO_SESSION_H
#define CHAT_EIO_SESSION_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eio_packet.h"
#include "fifo_timers.h"
#include "server.h"

#define EIO_SID_LEN 20           /* random base64url characters in a sid */
#define EIO_SESSION_BUCKETS 4096 /* sid hash table size; sessions chain per bucket */

/* A connection of the transport glue (a struct lws in server.c); never
 * dereferenced here. */
typedef struct eio_conn eio_conn_t;

typedef struct eio_session eio_session_t;

typedef enum eio_transport_kind { EIO_POLLING, EIO_WEBSOCKET } eio_transport_kind_t;

/* The session's three timer queues, one per delay. */
typedef enum eio_timer_kind { EIO_TIMER_PING, EIO_TIMER_PONG, EIO_TIMER_CONNECT } eio_timer_kind_t;

#define EIO_TIMER_KINDS 3 /* entries of eio_timer_kind_t */

/* A packet queued for the client, in order. */
typedef struct eio_out_packet {
  struct eio_out_packet *next;
  chat_eio_type_t type;
  bool binary;
  size_t len;
  uint8_t data[];
} eio_out_packet_t;

/* What the session asks of the transport. Each call hands a connection
 * back to the glue: the session lets go of it first. */
typedef struct eio_transport {
  /* The session has packets for WebSocket conn: call eio_session_out_peek()
   * and eio_session_out_pop() when it can be written. */
  void (*wake_writer)(void *ctx, eio_conn_t *conn);
  /* Answers the held poll conn with 200 and body (taken over). */
  void (*answer_poll)(void *ctx, eio_conn_t *conn, bson_string_t *body);
  /* Sends text as one text frame on WebSocket conn, ahead of the queue (the
   * probe answer "3probe"). */
  void (*send_text)(void *ctx, eio_conn_t *conn, const char *text);
  /* Closes conn when it can; the session has dropped it. */
  void (*close_conn)(void *ctx, eio_conn_t *conn);
  /* The monotonic clock, in microseconds. */
  int64_t (*now_us)(void *ctx);
  /* Calls eio_engine_run_timers(engine, kind) at due_us (or now when it is
   * past), replacing any earlier wake-up for that kind. */
  void (*arm_timers)(void *ctx, eio_timer_kind_t kind, int64_t due_us);
  /* Reads nothing more from WebSocket conn until due_us, from the end of
   * the message in hand: what the peer sends meanwhile waits in TCP
   * (chat_sio_socket_pause_reading()). A later call moves due_us. */
  void (*pause_reading)(void *ctx, eio_conn_t *conn, int64_t due_us);
  void *ctx;
} eio_transport_t;

/* The sessions of one server, their timers and the application's options.
 * A plain struct so that the glue can embed it; fields are the engine's. */
typedef struct eio_engine {
  const chat_sio_options_t *opts; /* borrowed: outlives the engine */
  eio_transport_t transport;
  eio_session_t *buckets[EIO_SESSION_BUCKETS];
  fifo_timers_t timers[EIO_TIMER_KINDS];
} eio_engine_t;

/* Prepares engine for opts (borrowed) and transport (copied). */
void eio_engine_init(eio_engine_t *engine, const chat_sio_options_t *opts,
                     const eio_transport_t *transport);

/* Closes every session ("1" to a held poll, on_disconnect with reason for
 * every socket); the engine is empty but usable afterwards. */
void eio_engine_close_all(eio_engine_t *engine, const char *reason);

/* Fires the timers of kind that are due and re-arms the next wake-up. */
void eio_engine_run_timers(eio_engine_t *engine, eio_timer_kind_t kind);

/* The session with that sid, or NULL. */
eio_session_t *eio_session_find(eio_engine_t *engine, const char *sid);

/* A new session on transport; handshake_query ("a=1&b=2" or NULL) is taken
 * over. A WebSocket session gets conn as its transport and the open
 * packet queued; a polling one has no connection yet (answer the opening
 * GET with eio_session_open_packet()). Returns NULL when out of memory. */
eio_session_t *eio_session_create(eio_engine_t *engine, eio_transport_kind_t transport,
                                  eio_conn_t *conn, char *handshake_query);

/* Whether the session is still on HTTP long-polling (not upgraded). */
bool eio_session_is_polling(const eio_session_t *session);

/* The open packet's text (type digit included) for the polling handshake;
 * the caller frees it. */
bson_string_t *eio_session_open_packet(const eio_session_t *session, bool can_upgrade);

/* Ends the session: a held poll gets poll_answer ("1" or "6"), its
 * WebSockets are closed, on_disconnect runs with reason for each socket,
 * and the session is freed. */
void eio_session_close(eio_session_t *session, const char *poll_answer, const char *reason);

/* The query arguments of the request that opened socket's session ("" when
 * none). */
const char *eio_socket_handshake_query(const chat_sio_socket_t *socket);

/* ---- WebSocket ---- */

/* Offers conn as an upgrade of a polling session. Returns false (conn not
 * taken) when the session is not polling or already has a probe. */
bool eio_session_attach_probe(eio_session_t *session, eio_conn_t *conn);

/* One whole WebSocket message on conn (the session's WebSocket or its
 * probe). Returns false when conn must be closed now; the session may be
 * gone either way (it closed itself through the hooks). */
bool eio_session_ws_message(eio_session_t *session, eio_conn_t *conn, const uint8_t *data,
                            size_t len, bool binary);

/* The next packet to write on WebSocket conn, or NULL when none is due
 * there (conn is not the session's transport, or the queue is empty). */
const eio_out_packet_t *eio_session_out_peek(const eio_session_t *session,
                                             const eio_conn_t *conn);

/* Drops the packet eio_session_out_peek() returned: it was written. */
void eio_session_out_pop(eio_session_t *session);

/* ---- HTTP long-polling ---- */

typedef enum eio_poll_result {
  EIO_POLL_HELD,     /* conn is the session's poll (possibly answered already) */
  EIO_POLL_NOOP,     /* upgrading: answer conn "6" yourself */
  EIO_POLL_DUPLICATE /* a poll was already held: the session is closed; answer 400 */
} eio_poll_result_t;

/* A GET poll on conn. The glue must be ready for answer_poll on conn
 * before the call: a session with packets queued answers at once. */
eio_poll_result_t eio_session_poll(eio_session_t *session, eio_conn_t *conn);

typedef enum eio_post_result {
  EIO_POST_OK,       /* answer "ok" */
  EIO_POST_CLOSED,   /* the client closed the session: answer "ok" */
  EIO_POST_MALFORMED /* the session is closed: answer 400 */
} eio_post_result_t;

/* The body of a polling POST, all of its packets in order. */
eio_post_result_t eio_session_post(eio_session_t *session, const uint8_t *body, size_t len);

/* Until when the session's input is paused (chat_sio_socket_pause_reading()),
 * on the monotonic clock; 0 or a time past when it is not. A polling
 * POST's answer waits until then, so that the client's next POST does. */
int64_t eio_session_paused_until(const eio_session_t *session);

/* ---- connections ---- */

/* The glue's conn is gone (closed by either side): a WebSocket transport
 * ends the session, a probe ends the upgrade, a poll is dropped. */
void eio_session_conn_closed(eio_session_t *session, eio_conn_t *conn);

#endif
