#include "socket_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/broadcast.h"
#include "chat/log.h"

gateway_socket_t *gateway_socket_create(chat_sio_socket_t *socket, const char *user_id) {
  gateway_socket_t *state = calloc(1, sizeof *state);
  if (!state)
    return NULL;
  state->refs = 1;
  state->socket = socket;
  if (user_id)
    snprintf(state->user_id, sizeof state->user_id, "%s", user_id);
  else
    state->guest_socket = true; /* no account: a guest room's login may follow */
  return state;
}

gateway_socket_t *gateway_socket_hold(gateway_socket_t *state) {
  CHAT_ASSERT(state->refs > 0);
  state->refs++;
  return state;
}

void gateway_socket_release(gateway_socket_t *state) {
  CHAT_ASSERT(state->refs > 0);
  if (--state->refs > 0)
    return;
  /* The last reference goes after the disconnect, which left every room:
   * a registry entry pointing here would dangle. */
  CHAT_ASSERT(state->room_count == 0 && state->open_count == 0);
  CHAT_ASSERT(!state->resume && !state->guest && !state->recovering && !state->recovery_pid);
  free(state);
}

void gateway_socket_connection(const gateway_socket_t *state, const char *gateway_id, char *out,
                               size_t cap) {
  CHAT_ASSERT(state->socket);
  snprintf(out, cap, "%s/%s", gateway_id, chat_sio_socket_id(state->socket));
}

static void join(rooms_t *rooms, gateway_socket_t *state, const char *room) {
  char **grown = realloc(state->rooms, (state->room_count + 1) * sizeof *grown);
  char *copy = strdup(room);
  if (!grown || !copy || !rooms_join(rooms, room, state)) {
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

bool gateway_socket_in_conversation(const gateway_socket_t *state, const char *conversation_id) {
  char room[CHAT_ID_SIZE + 8];
  chat_target(room, sizeof room, CHAT_TARGET_ROOM, conversation_id);
  return gateway_socket_in_room(state, room);
}

void gateway_socket_join_room(rooms_t *rooms, gateway_socket_t *state, const char *room) {
  if (state->socket && !gateway_socket_in_room(state, room))
    join(rooms, state, room);
}

void gateway_socket_leave_room(rooms_t *rooms, gateway_socket_t *state, const char *room) {
  for (size_t i = 0; i < state->room_count; i++) {
    if (strcmp(state->rooms[i], room) == 0) {
      rooms_leave(rooms, room, state);
      free(state->rooms[i]);
      state->rooms[i] = state->rooms[--state->room_count];
      return;
    }
  }
}

void gateway_socket_join_conversation(rooms_t *rooms, gateway_socket_t *state,
                                      const char *conversation_id) {
  char room[CHAT_ID_SIZE + 8];
  if (!chat_is_id(conversation_id))
    return;
  chat_target(room, sizeof room, CHAT_TARGET_ROOM, conversation_id);
  gateway_socket_join_room(rooms, state, room);
}

void gateway_socket_leave_conversation(rooms_t *rooms, gateway_socket_t *state,
                                       const char *conversation_id) {
  char room[CHAT_ID_SIZE + 8];
  chat_target(room, sizeof room, CHAT_TARGET_ROOM, conversation_id);
  gateway_socket_leave_room(rooms, state, room);
  gateway_socket_close(state, conversation_id);
}

void gateway_socket_leave_all(rooms_t *rooms, gateway_socket_t *state) {
  for (size_t i = 0; i < state->room_count; i++) {
    rooms_leave(rooms, state->rooms[i], state);
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
}

bool gateway_socket_is_open(const gateway_socket_t *state, const char *conversation_id) {
  for (size_t i = 0; i < state->open_count; i++) {
    if (strcmp(state->open[i], conversation_id) == 0)
      return true;
  }
  return false;
}

bool gateway_socket_open(gateway_socket_t *state, const char *conversation_id) {
  if (gateway_socket_is_open(state, conversation_id))
    return true;
  char **grown = realloc(state->open, (state->open_count + 1) * sizeof *grown);
  char *copy = strdup(conversation_id);
  if (!grown || !copy) {
    free(copy);
    if (grown)
      state->open = grown;
    return false;
  }
  state->open = grown;
  state->open[state->open_count++] = copy;
  return true;
}

void gateway_socket_close(gateway_socket_t *state, const char *conversation_id) {
  for (size_t i = 0; i < state->open_count; i++) {
    if (strcmp(state->open[i], conversation_id) == 0) {
      free(state->open[i]);
      state->open[i] = state->open[--state->open_count];
      return;
    }
  }
}

bool gateway_socket_rate_allow(gateway_socket_t *state, const chat_config_t *cfg) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  if (state->tokens_at_ms == 0)
    state->tokens = cfg->rate_limit_burst;
  else
    state->tokens += (double)(now - state->tokens_at_ms) * cfg->rate_limit_per_sec / 1000.0;
  if (state->tokens > cfg->rate_limit_burst)
    state->tokens = cfg->rate_limit_burst;
  state->tokens_at_ms = now;
  if (state->tokens >= 1.0) {
    state->tokens -= 1.0;
    state->refused_in_row = 0;
    return true;
  }
  /* A bucket's worth refused in a row: the client floods. Its connection
   * is not read until a token is back, so that what it sends meanwhile
   * waits in TCP instead of costing a parse and an answer per event (one
   * socket flooding at 60,000 events a second took 42 to 49% of a core of
   * a release gateway, 5% paused). A client that only bursts past its
   * limit is never paused. */
  if (++state->refused_in_row >= (uint32_t)cfg->rate_limit_burst) {
    state->refused_in_row = 0;
    double wait_ms = (1.0 - state->tokens) * 1000.0 / cfg->rate_limit_per_sec;
    chat_sio_socket_pause_reading(state->socket, (int64_t)wait_ms + 1);
  }
  return false;
}
