/* The gateway process's shared state, owned by main.c. Everything here is
 * used on the loop thread unless a field says otherwise. */
#ifndef GATEWAY_H
#define GATEWAY_H

#include "chat/jwt.h"
#include "chat/runtime.h"
#include "rooms.h"
#include "server.h"
#include "work_queue.h"

typedef struct pending_registration pending_registration_t;

typedef struct gateway {
  chat_runtime_t *rt; /* thread-safe */
  chat_sio_server_t *sio;
  work_queue_t *work;
  pending_registration_t *registrations; /* waiting for persistence's answer */
  rooms_t *rooms;                        /* members are gateway_socket_t */
} gateway_t;

/* What the gateway keeps per authenticated socket. Reference-counted: a
 * worker job that outlives the socket holds a reference, and finds socket
 * NULL when it comes back. */
typedef struct gateway_socket {
  int refs;
  chat_sio_socket_t *socket; /* NULL once disconnected */
  char user_id[CHAT_JWT_SUB_MAX];
  char **rooms; /* the rooms it joined, to leave them all on disconnect */
  size_t room_count;
  char **open; /* conversation ids it has open (join_conversation) */
  size_t open_count;
} gateway_socket_t;

/* socket_rooms.c: rooms on connect (seed 000) and on disconnect. */
void gateway_socket_connected(gateway_t *gw, gateway_socket_t *state);
void gateway_socket_gone(gateway_t *gw, gateway_socket_t *state);
void gateway_socket_release(gateway_socket_t *state);

/* broadcast_deliver.c: a chat.broadcast record, on the loop thread. */
void gateway_deliver(gateway_t *gw, const char *target, const char *event, const char *scope,
                     const char *exclude, const char *value, size_t value_len);

#endif
