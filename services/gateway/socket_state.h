/* What the gateway keeps per socket: the lowest layer of the gateway's
 * socket code. It owns the socket's reference count, the rooms it is in,
 * the conversations it has open (join_conversation, the chat window) and
 * its rate limit's bucket. Nothing here produces to Kafka or reads
 * MongoDB; the event handlers and the lifecycle (socket_lifecycle.c) sit
 * above it. Loop thread only, except where a function says otherwise. */
#ifndef GATEWAY_SOCKET_STATE_H
#define GATEWAY_SOCKET_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/config.h"
#include "chat/ids.h"
#include "rooms.h"
#include "server.h"

typedef struct resume resume_t;         /* socket_resume.c */
typedef struct socket_recovery socket_recovery_t; /* socket_recovery.c */
typedef struct guest_login guest_login_t; /* guest_rooms.c */

/* Reference-counted: a worker job or a pending send that outlives the
 * socket holds a reference (gateway_socket_hold), and finds socket NULL
 * when it comes back. The fields are read by the layers above; the counts
 * and sets change only through the functions below. */
typedef struct gateway_socket {
  int refs;                   /* gateway_socket_hold / _release only */
  chat_sio_socket_t *socket;  /* NULL once disconnected */
  char user_id[CHAT_ID_SIZE]; /* the token's subject: always an id; "" for a guest */
  char connection_id[32];     /* the socket id, kept for session.closed */
  uint64_t delivery_mark;     /* broadcast_deliver.c: served by this delivery already */
  char **rooms;               /* the rooms it joined, to leave them all on disconnect */
  size_t room_count;
  char **open; /* conversation ids it has open (join_conversation) */
  size_t open_count;
  resume_t *resume;     /* what the client missed, while it is replayed (socket_resume.c) */
  socket_recovery_t *recovering; /* a recovered session, while it is replayed (socket_recovery.c) */
  char *recovery_pid;   /* its session's pid, or NULL (socket_recovery.c) */
  bool rooms_pending;   /* its conversations are being looked up (socket_lifecycle.c) */
  chat_sio_packet_t *held; /* events that came meanwhile, handled once it is in its rooms */
  size_t held_count;
  bool guest_socket;    /* on the guest rooms' namespace: no account (guest_rooms.c) */
  guest_login_t *guest; /* once logged in to a guest room */
  const char *event;    /* the client event being handled (a name of its table), for metrics */
  bool event_answered;  /* an ack of that event was counted */
  double tokens;        /* the rate limit's bucket */
  int64_t tokens_at_ms;
  uint32_t refused_in_row; /* events refused since the last one let through */
} gateway_socket_t;

/* A new state for socket with one reference (the socket's own, let go at
 * disconnect). user_id is the token's subject (an id), or NULL for a
 * guest socket. Returns NULL when out of memory. */
gateway_socket_t *gateway_socket_create(chat_sio_socket_t *socket, const char *user_id);

/* Takes one more reference; returns state. */
gateway_socket_t *gateway_socket_hold(gateway_socket_t *state);

/* Lets go of one reference; the last one frees state, which must have
 * left every room by then (gateway_socket_leave_all). */
void gateway_socket_release(gateway_socket_t *state);

/* "<gateway id>/<socket id>": the connection id that commands and
 * broadcast targets carry. Needs a connected socket. */
void gateway_socket_connection(const gateway_socket_t *state, const char *gateway_id, char *out,
                               size_t cap);

/* True when the socket is in room (e.g. "room:<conversationId>"). */
bool gateway_socket_in_room(const gateway_socket_t *state, const char *room);

/* True when the socket is in the room of conversation_id: its user is a
 * member of that conversation. */
bool gateway_socket_in_conversation(const gateway_socket_t *state, const char *conversation_id);

/* Joins or leaves a room of the registry; joining is a no-op for a socket
 * that is gone or already in the room. Out of memory is logged. */
void gateway_socket_join_room(rooms_t *rooms, gateway_socket_t *state, const char *room);
void gateway_socket_leave_room(rooms_t *rooms, gateway_socket_t *state, const char *room);

/* Joins room:<conversation_id> (nothing when it is not an id), or leaves
 * it and closes the conversation. */
void gateway_socket_join_conversation(rooms_t *rooms, gateway_socket_t *state,
                                      const char *conversation_id);
void gateway_socket_leave_conversation(rooms_t *rooms, gateway_socket_t *state,
                                       const char *conversation_id);

/* Leaves every room and closes every conversation: at disconnect. */
void gateway_socket_leave_all(rooms_t *rooms, gateway_socket_t *state);

/* The conversations the socket has open, the audience of scope "open".
 * Opening one twice is once; false when out of memory. */
bool gateway_socket_is_open(const gateway_socket_t *state, const char *conversation_id);
bool gateway_socket_open(gateway_socket_t *state, const char *conversation_id);
void gateway_socket_close(gateway_socket_t *state, const char *conversation_id);

/* Takes one token of the socket's rate limit (CHAT_RATE_LIMIT_BURST
 * tokens, refilled at CHAT_RATE_LIMIT_PER_SEC); false when it is spent.
 * After CHAT_RATE_LIMIT_BURST refusals in a row the socket's connection
 * is not read until a token is back (chat_sio_socket_pause_reading()). */
bool gateway_socket_rate_allow(gateway_socket_t *state, const chat_config_t *cfg);

#endif
