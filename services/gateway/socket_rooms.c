/* Rooms on connect and disconnect (seed 000): a socket joins its user's
 * personal room at once and each of the user's conversations once MongoDB
 * has said which (rooms_lookup.c); it leaves them all when it goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/log.h"
#include "client_events.h"
#include "gateway.h"

#define GATEWAY_HELD_EVENTS_MAX 64 /* events a socket may send before its rooms are known */

static void join(gateway_t *gw, gateway_socket_t *state, const char *room) {
  char **grown = realloc(state->rooms, (state->room_count + 1) * sizeof *grown);
  char *copy = strdup(room);
  if (!grown || !copy || !rooms_join(gw->rooms, room, state)) {
    free(copy);
    if (grown)
      state->rooms = grown;
    CHAT_LOG(CHAT_LOG_ERROR, "out of memory joining %s", room);
    return;
  }
  state->rooms = grown;
  state->rooms[state->room_count++] = copy;
}

bool gateway_socket_in_room(const gateway_socket_t *state, const char *room) {
  for (size_t i = 0; i < state->room_count; i++) {
    if (strcmp(state->rooms[i], room) == 0)
      return true;
  }
  return false;
}

void gateway_socket_join_room(gateway_t *gw, gateway_socket_t *state, const char *room) {
  if (state->socket && !gateway_socket_in_room(state, room))
    join(gw, state, room);
}

void gateway_socket_leave_room(gateway_t *gw, gateway_socket_t *state, const char *room) {
  for (size_t i = 0; i < state->room_count; i++) {
    if (strcmp(state->rooms[i], room) == 0) {
      rooms_leave(gw->rooms, room, state);
      free(state->rooms[i]);
      state->rooms[i] = state->rooms[--state->room_count];
      return;
    }
  }
}

void gateway_socket_join_conversation(gateway_t *gw, gateway_socket_t *state,
                                      const char *conversation_id) {
  char room[CHAT_ID_SIZE + 8];
  if (!chat_is_id(conversation_id))
    return;
  snprintf(room, sizeof room, "room:%s", conversation_id);
  gateway_socket_join_room(gw, state, room);
}

void gateway_socket_leave_conversation(gateway_t *gw, gateway_socket_t *state,
                                       const char *conversation_id) {
  char room[CHAT_ID_SIZE + 8];
  snprintf(room, sizeof room, "room:%s", conversation_id);
  gateway_socket_leave_room(gw, state, room);
  for (size_t i = 0; i < state->open_count; i++) {
    if (strcmp(state->open[i], conversation_id) == 0) {
      free(state->open[i]);
      state->open[i] = state->open[--state->open_count];
      break;
    }
  }
}

void gateway_socket_connected(gateway_t *gw, gateway_socket_t *state) {
  char room[CHAT_CONFIG_STR_MAX + 64];
  snprintf(state->connection_id, sizeof state->connection_id, "%s",
           chat_sio_socket_id(state->socket));
  gw->session_count++;
  if (state->guest_socket) {
    /* No account: no user room, no memberships, no presence session. */
    snprintf(room, sizeof room, "conn:%s/%s", chat_runtime_config(gw->rt)->instance_id,
             state->connection_id);
    join(gw, state, room);
    return;
  }
  gateway_presence_session(gw, state, true);
  snprintf(room, sizeof room, "user:%s", state->user_id);
  join(gw, state, room);
  /* Its own room, for what is sent to this connection alone (acks). */
  snprintf(room, sizeof room, "conn:%s/%s", chat_runtime_config(gw->rt)->instance_id,
           chat_sio_socket_id(state->socket));
  join(gw, state, room);
  state->rooms_pending = true;
  gateway_rooms_lookup(gw, state);
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
  state->rooms_pending = false;
  /* In the order they came; a handler may close the socket (NULL then). */
  for (size_t i = 0; i < state->held_count && state->socket; i++)
    gateway_handle_client_event(gw, state, &state->held[i]);
  free_held(state);
}

void gateway_socket_gone(gateway_t *gw, gateway_socket_t *state) {
  gw->session_count--;
  if (state->guest_socket)
    gateway_guest_leave(gw, state);
  else
    gateway_presence_session(gw, state, false);
  for (size_t i = 0; i < state->room_count; i++) {
    rooms_leave(gw->rooms, state->rooms[i], state);
    free(state->rooms[i]);
  }
  free(state->rooms);
  state->rooms = NULL;
  state->room_count = 0;
  for (size_t i = 0; i < state->open_count; i++)
    free(state->open[i]);
  free(state->open);
  state->open = NULL;
  state->open_count = 0;
  gateway_resume_free(state);
  free_held(state);
  state->rooms_pending = false;
  state->socket = NULL;
}

void gateway_socket_release(gateway_socket_t *state) {
  if (--state->refs == 0)
    free(state);
}
