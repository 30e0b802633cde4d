/* Socket.IO connection state recovery on any gateway (docs/architecture.md,
 * "Connection state recovery"). chat.broadcast is the log: every
 * recoverable event a socket gets carries, as its last argument, the
 * position in that topic up to which everything meant for the socket has
 * been delivered (recovery_token.h). A client that comes back, to any
 * gateway, with its pid and that offset gets the same pid and socket id,
 * its rooms, its open conversations (kept in the recovery_sessions
 * collection, written by the gateway serving the session), and every
 * recoverable record of its rooms and user read back from chat.broadcast
 * between that position and the live one, in order, before any live
 * event; the live events that come meanwhile are held and follow, none
 * twice. Loop thread only, unless a function says otherwise. */
#ifndef GATEWAY_SOCKET_RECOVERY_H
#define GATEWAY_SOCKET_RECOVERY_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/broadcast.h"
#include "gateway.h"
#include "socket_state.h"

typedef struct recovery recovery_t;

/* Starts recovery for gw (nothing when CHAT_RECOVERY_WINDOW_SECONDS is 0):
 * its key and its replay thread. Returns CHAT_OK or CHAT_ERR_NOMEM. */
chat_err_t recovery_create(gateway_t *gw, recovery_t **out);

/* Stops the replay thread (replays in flight end unsent) and frees. */
void recovery_destroy(recovery_t **recovery);

/* On the broadcast consumer's thread, once: the offsets its partitions of
 * chat.broadcast start at, before any of their records. */
void recovery_started(void *gw, const int64_t *start_offsets, size_t count);

/* A chat.broadcast record of (partition, offset) is being delivered: moves
 * the live position past it. When the event is recoverable, writes its
 * offset argument (a JSON string, quotes included) into out and returns
 * true. */
bool recovery_advance(gateway_t *gw, const char *event, int32_t partition, int64_t offset,
                      char *out, size_t cap);

/* Whether event is recoverable (replayed after a reconnect) or volatile. */
bool recovery_is_recoverable(const char *event);

/* At CONNECT (on_connect) of an authenticated socket: reads auth.pid and
 * auth.offset. A session of this user within the window is recovered:
 * same pid and socket id, and *recovered set. Otherwise a new pid. Either
 * way the CONNECT answer carries the pid. */
void recovery_accept(gateway_t *gw, gateway_socket_t *state, chat_sio_socket_t *socket,
                     const bson_t *auth, bool *recovered);

/* The socket is connected: a recovering one holds live events from now. */
void recovery_connected(gateway_t *gw, gateway_socket_t *state);

/* The socket is in its rooms: a recovering one's replay starts, from its
 * offset to the live position of this moment. */
void recovery_rooms_ready(gateway_t *gw, gateway_socket_t *state);

/* During a replay: keeps a live frame of record (partition, offset) with
 * the scope it is for (conversation_id NULL: none) to send after the
 * replay. false when the socket is not recovering. */
bool recovery_hold(gateway_socket_t *state, int32_t partition, int64_t offset,
                   const char *conversation_id, chat_broadcast_scope_t scope, const char *frame);

/* The socket opened or closed a conversation: its session record is
 * written again (the open conversations are restored with it). */
void recovery_note_open(gateway_t *gw, gateway_socket_t *state);

/* At disconnect: lets go of the socket's recovery state. */
void recovery_socket_gone(gateway_socket_t *state);

#endif
