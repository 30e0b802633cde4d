/* Rooms on connect and disconnect: a socket joins its user's personal
 * room and its own connection's at once, and each of the user's
 * conversations once MongoDB has said which (rooms_lookup.c); it leaves
 * them all when it goes. */
#include "socket_lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/broadcast.h"
#include "chat/jwt.h"
#include "chat/log.h"
#include "client_events.h"
#include "gateway_metrics.h"
#include "guest_rooms.h"
#include "presence_events.h"
#include "rooms_lookup.h"
#include "socket_auth.h"
#include "socket_recovery.h"
#include "socket_resume.h"
#include "socket_state.h"

#define GATEWAY_HELD_EVENTS_MAX 64 /* events a socket may send before its rooms are known */

const char *gateway_socket_accept(gateway_t *gw, chat_sio_socket_t *socket, const bson_t *auth) {
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  if (gateway_is_guest_namespace(gw, chat_sio_socket_nsp(socket))) {
    gateway_socket_t *guest = gateway_socket_create(socket, NULL); /* a guest login follows */
    if (!guest)
      return "Server busy, try again";
    chat_sio_socket_set_user(socket, guest);
    return NULL;
  }
  chat_jwt_claims_t claims;
  char query_token[CHAT_JWT_TOKEN_MAX + 1];
  bool has_query_token =
      cfg->allow_query_token &&
      chat_sio_socket_query_arg(socket, "token", query_token, sizeof query_token);
  const char *refusal = gateway_authenticate(auth, has_query_token ? query_token : NULL,
                                             cfg->jwt_secret, (int64_t)time(NULL), &claims);
  if (refusal) {
    CHAT_LOG(CHAT_LOG_INFO, "socket refused: %s", refusal);
    const char *prefix = "Authentication failed: ";
    gateway_metrics_auth_failure(
        "socket", strncmp(refusal, prefix, strlen(prefix)) == 0 ? refusal + strlen(prefix) : refusal);
    return refusal;
  }
  gateway_socket_t *state = gateway_socket_create(socket, claims.sub); /* an id: checked above */
  if (!state)
    return "Server busy, try again";
  bool recovered = false;
  recovery_accept(gw, state, socket, auth, &recovered);
  /* A recovered session gets what it missed from its offset; lastSeqs
   * (the older resume) are for the others. */
  const char *bad_resume = recovered ? NULL : gateway_resume_read(state, auth);
  if (bad_resume) {
    recovery_socket_gone(state);
    gateway_socket_release(state);
    return bad_resume;
  }
  chat_sio_socket_set_user(socket, state);
  return NULL;
}

void gateway_socket_connected(gateway_t *gw, chat_sio_socket_t *socket) {
  gateway_socket_t *state = chat_sio_socket_user(socket);
  const char *gateway_id = chat_runtime_config(gw->rt)->instance_id;
  char room[CHAT_CONFIG_STR_MAX + 64];
  CHAT_LOG(CHAT_LOG_DEBUG, "socket %s connected as user %s", chat_sio_socket_id(socket),
           state->user_id);
  snprintf(state->connection_id, sizeof state->connection_id, "%s", chat_sio_socket_id(socket));
  gw->session_count++;
  gateway_metrics_sockets(chat_sio_socket_nsp(socket), 1);
  /* Its own room, for what is sent to this connection alone (acks). */
  chat_target_conn(room, sizeof room, gateway_id, state->connection_id);
  if (state->guest_socket) {
    /* No account: no user room, no memberships, no presence session. */
    gateway_socket_join_room(gw->rooms, state, room);
    return;
  }
  gateway_presence_session(gw, state, true);
  char user_room[CHAT_ID_SIZE + 8];
  chat_target(user_room, sizeof user_room, CHAT_TARGET_USER, state->user_id);
  recovery_connected(gw, state); /* a recovered session holds live events from here */
  gateway_socket_join_room(gw->rooms, state, user_room);
  gateway_socket_join_room(gw->rooms, state, room);
  state->rooms_pending = true;
  gateway_metrics_awaiting_rooms(1);
  rooms_lookup_add(gw->lookup, state);
}

bool gateway_socket_hold_event(gateway_socket_t *state, const chat_sio_packet_t *packet) {
  if (!state->rooms_pending || state->held_count == GATEWAY_HELD_EVENTS_MAX)
    return false; /* past the limit it is answered now, as a stranger, never dropped */
  if (!state->held && !(state->held = calloc(GATEWAY_HELD_EVENTS_MAX, sizeof *state->held)))
    return false;
  chat_sio_packet_t *copy = &state->held[state->held_count];
  *copy = (chat_sio_packet_t){.type = packet->type, .ack_id = packet->ack_id,
                              .attachments = packet->attachments};
  memcpy(copy->nsp, packet->nsp, sizeof copy->nsp);
  bson_copy_to(&packet->data, &copy->data);
  state->held_count++;
  return true;
}

static void free_held(gateway_socket_t *state) {
  for (size_t i = 0; i < state->held_count; i++)
    bson_destroy(&state->held[i].data);
  free(state->held);
  state->held = NULL;
  state->held_count = 0;
}

void gateway_socket_rooms_ready(gateway_t *gw, gateway_socket_t *state) {
  if (state->rooms_pending)
    gateway_metrics_awaiting_rooms(-1);
  state->rooms_pending = false;
  /* In the order they came; a handler may end the socket (NULL then). */
  for (size_t i = 0; i < state->held_count && state->socket; i++)
    gateway_handle_client_event(gw, state, &state->held[i]);
  free_held(state);
  if (state->socket)
    recovery_rooms_ready(gw, state);
}

void gateway_socket_gone(gateway_t *gw, chat_sio_socket_t *socket) {
  gateway_socket_t *state = chat_sio_socket_user(socket);
  if (!state)
    return; /* refused at CONNECT */
  gw->session_count--;
  gateway_metrics_sockets(chat_sio_socket_nsp(socket), -1);
  if (state->guest_socket)
    gateway_guest_leave(gw, state);
  else
    gateway_presence_session(gw, state, false);
  gateway_socket_leave_all(gw->rooms, state);
  gateway_resume_free(state);
  recovery_socket_gone(state);
  free_held(state);
  if (state->rooms_pending)
    gateway_metrics_awaiting_rooms(-1);
  state->rooms_pending = false;
  state->socket = NULL;
  gateway_socket_release(state); /* the socket's own reference */
}
