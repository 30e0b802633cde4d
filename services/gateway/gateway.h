/* The gateway process's shared state, owned by main.c. Everything here is
 * used on the loop thread unless a field says otherwise. */
#ifndef GATEWAY_H
#define GATEWAY_H

#include "chat/envelope.h"
#include "chat/ids.h"
#include "chat/jwt.h"
#include "chat/runtime.h"
#include "id_table.h"
#include "rooms.h"
#include "server.h"
#include "work_queue.h"

typedef struct rest_pending rest_pending_t;
typedef struct resume resume_t;

typedef struct gateway {
  chat_runtime_t *rt; /* thread-safe */
  chat_sio_server_t *sio;
  work_queue_t *work;
  rest_pending_t *pending; /* REST calls waiting for a command.result */
  rooms_t *rooms;          /* members are gateway_socket_t */
  id_table_t *sends;       /* message.send waiting for Kafka, by request id */
  uint64_t next_request_id;
  int64_t started_ms;     /* wall clock at start: the heartbeat's startedAt */
  size_t session_count;   /* authenticated sockets */
  uint64_t delivery_mark; /* marks sockets already served by one delivery */
  /* New sockets waiting for their conversations (rooms_lookup.c). */
  struct gateway_socket **rooms_waiting;
  size_t rooms_waiting_count, rooms_waiting_cap;
  bool rooms_lookup_running;
} gateway_t;

/* What the gateway keeps per authenticated socket. Reference-counted: a
 * worker job that outlives the socket holds a reference, and finds socket
 * NULL when it comes back. */
typedef struct gateway_socket {
  int refs;
  chat_sio_socket_t *socket;  /* NULL once disconnected */
  char user_id[CHAT_ID_SIZE]; /* the token's subject: always an id */
  char connection_id[32];     /* the socket id, kept for session.closed */
  uint64_t delivery_mark;
  char **rooms; /* the rooms it joined, to leave them all on disconnect */
  size_t room_count;
  char **open; /* conversation ids it has open (join_conversation) */
  size_t open_count;
  resume_t *resume;  /* what the client missed, while it is replayed (socket_resume.c) */
  bool rooms_pending; /* its conversations are being looked up (rooms_lookup.c) */
  chat_sio_packet_t *held; /* events that came meanwhile, answered once it is in its rooms */
  size_t held_count;
  bool guest_socket; /* on the guest rooms' namespace: no account (guest_rooms.c) */
  struct guest {
    char name[33], room[33];
  } * guest;     /* once logged in to a guest room */
  double tokens; /* the rate limit's bucket */
  int64_t tokens_at_ms;
} gateway_socket_t;

/* socket_rooms.c: rooms on connect (seed 000) and on disconnect. */
void gateway_socket_connected(gateway_t *gw, gateway_socket_t *state);
void gateway_socket_gone(gateway_t *gw, gateway_socket_t *state);
void gateway_socket_release(gateway_socket_t *state);

/* socket_rooms.c: while a new socket's rooms are looked up, its events
 * wait (up to GATEWAY_HELD_EVENTS_MAX of them), so that what a client sends
 * the moment it connects (a reconnect's join_conversation or resend) is
 * answered as the member it is, not refused as a stranger. Returns true
 * when packet was held (copied), false when it is to be handled now.
 * gateway_socket_rooms_ready() ends the wait and handles what was held. */
bool gateway_socket_hold_event(gateway_socket_t *state, const chat_sio_packet_t *packet);
void gateway_socket_rooms_ready(gateway_t *gw, gateway_socket_t *state);

/* rooms_lookup.c: state (connected, referenced meanwhile) joins the rooms
 * of its user's conversations once MongoDB has said which, looked up with
 * other new sockets' in one query; then it resumes if it asked to. */
void gateway_rooms_lookup(gateway_t *gw, gateway_socket_t *state);
/* At shutdown, after the loop is gone: drops the sockets still waiting. */
void gateway_rooms_lookup_discard(gateway_t *gw);

/* True when the socket is in room (e.g. "room:<conversationId>"). */
bool gateway_socket_in_room(const gateway_socket_t *state, const char *room);

/* Joins or leaves a room of the registry for a socket already connected. */
void gateway_socket_join_room(gateway_t *gw, gateway_socket_t *state, const char *room);
void gateway_socket_leave_room(gateway_t *gw, gateway_socket_t *state, const char *room);

/* Joins or leaves room:<conversation_id> for a socket already connected. */
void gateway_socket_join_conversation(gateway_t *gw, gateway_socket_t *state,
                                      const char *conversation_id);
void gateway_socket_leave_conversation(gateway_t *gw, gateway_socket_t *state,
                                       const char *conversation_id);

/* socket_resume.c: a client that reconnects with auth.lastSeqs
 * ({conversationId: last seq seen}) first gets what it missed, in order,
 * as new_message, then the live messages held meanwhile, without
 * repeats, then a "resumed" event. */
const char *gateway_resume_read(gateway_socket_t *state, const bson_t *auth);
void gateway_resume_start(gateway_t *gw, gateway_socket_t *state);
bool gateway_resume_hold(gateway_socket_t *state, const char *conversation_id, const char *seq,
                         const char *frame);
void gateway_resume_free(gateway_socket_t *state);

/* guest_rooms.c: seed 003's guest rooms (CHAT_GUEST_ROOMS). */
bool gateway_is_guest_namespace(const gateway_t *gw, const char *nsp);
void gateway_guest_event(gateway_t *gw, gateway_socket_t *state, const chat_sio_packet_t *packet,
                         size_t attachment_count);
void gateway_guest_leave(gateway_t *gw, gateway_socket_t *state);

/* produce.c: encodes env (and cleans it up) and produces it to the
 * prefixed topic with key; the delivery report comes back with request_id
 * (0: none wanted). Returns what chat_producer_produce() returns. */
chat_err_t gateway_produce(gateway_t *gw, chat_topic_t topic, chat_envelope_t *env, const char *key,
                           uint64_t request_id);

/* presence_events.c: session.opened / session.closed for a socket, and the
 * gateway's heartbeat (a call_later callback that schedules itself; arg is
 * the gateway). */
void gateway_presence_session(gateway_t *gw, const gateway_socket_t *state, bool opened);
void gateway_presence_heartbeat(void *arg);

/* broadcast_deliver.c: a chat.broadcast record, on the loop thread. */
typedef struct gateway_route {
  const char *target, *event;                                              /* required */
  const char *scope, *exclude, *join, *leave, *seq, *rooms, *exclude_user; /* or NULL */
} gateway_route_t;
void gateway_deliver(gateway_t *gw, const gateway_route_t *route, const char *value,
                     size_t value_len);

#endif
