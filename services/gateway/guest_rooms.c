/* The guest rooms: a socket without an account logs in with a name
 * and a room and talks to that room. Off unless CHAT_GUEST_ROOMS says
 * otherwise; then on a namespace of its own, or on "/" of a gateway
 * deployed for guests alone.
 *
 * Across gateways the room is the broadcast target guest:<room>: the
 * notification of a guest coming or going and each roomMessage go through
 * chat.broadcast to every gateway. Who is in a room is known to the
 * presence service (guest.joined / guest.left on chat.presence, and the
 * expiry of dead gateways), which sends the room its `users` list after
 * every change. A roomMessage is relayed as it came: the gateway does not
 * look into it and never logs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/broadcast.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/limits.h"
#include "chat/topics.h"
#include "guest_rooms.h"
#include "produce.h"
#include "socket_acks.h"

/* A guest socket's login: the name it goes by and the room it is in. */
struct guest_login {
  char name[CHAT_GUEST_FIELD_MAX + 1], room[CHAT_GUEST_FIELD_MAX + 1];
};

bool gateway_is_guest_namespace(const gateway_t *gw, const char *nsp) {
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  if (strcmp(cfg->guest_rooms, "main") == 0)
    return strcmp(nsp, "/") == 0;
  if (strcmp(cfg->guest_rooms, "namespace") == 0)
    return strcmp(nsp, cfg->guest_namespace) == 0;
  return false;
}

/* The guest rooms answer in a shape of their own: [json] acks, and
 * refusals as {"error": message} (socket_acks.h). */
static void ack(chat_sio_socket_t *socket, int64_t ack_id, const char *json) {
  gateway_ack_json(socket, ack_id, json);
}

static void ack_error(chat_sio_socket_t *socket, int64_t ack_id, const char *message) {
  gateway_ack_guest_error(socket, ack_id, message);
}

/* NULL when value is a valid name or room, else why not. */
static const char *check_field(const char *what, const char *value, uint32_t len, char *why,
                               size_t why_len) {
  if (!value || len == 0) {
    snprintf(why, why_len, "%s is required", what);
    return why;
  }
  if (len > CHAT_GUEST_FIELD_MAX) {
    snprintf(why, why_len, "%s must be at most %d characters", what, CHAT_GUEST_FIELD_MAX);
    return why;
  }
  for (uint32_t i = 0; i < len; i++) {
    char c = value[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
          c == '_' || c == '-' || c == '.')) {
      snprintf(why, why_len, "%s may hold only letters, digits, spaces, '_', '-' and '.'", what);
      return why;
    }
  }
  if (value[0] == ' ' || value[len - 1] == ' ') {
    snprintf(why, why_len, "%s must not start or end with a space", what);
    return why;
  }
  return NULL;
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* guest.joined / guest.left to the presence service, keyed by room. */
static void tell_presence(gateway_t *gw, const gateway_socket_t *state, bool joined) {
  chat_envelope_t env;
  char when[CHAT_JSON_TIME_SIZE], key[CHAT_GUEST_FIELD_MAX + 8];
  if (chat_envelope_init(&env, joined ? "guest.joined" : "guest.left", chat_runtime_source(gw->rt),
                         NULL) != CHAT_OK)
    return;
  chat_json_format_time(wall_ms(), when);
  BSON_APPEND_UTF8(&env.payload, "gatewayId", chat_runtime_config(gw->rt)->instance_id);
  BSON_APPEND_UTF8(&env.payload, "connectionId", state->connection_id);
  BSON_APPEND_UTF8(&env.payload, "room", state->guest->room);
  BSON_APPEND_UTF8(&env.payload, "name", state->guest->name);
  BSON_APPEND_UTF8(&env.payload, joined ? "joinedAt" : "leftAt", when);
  chat_target(key, sizeof key, CHAT_TARGET_GUEST, state->guest->room);
  if (gateway_produce(gw, CHAT_TOPIC_PRESENCE, &env, key, 0) != CHAT_OK)
    CHAT_LOG(CHAT_LOG_WARN, "guest %s of room %s: presence not told", state->connection_id,
             state->guest->room);
}

/* The notification that a guest came or went, to the rest of the room. */
static void notify_room(gateway_t *gw, const gateway_socket_t *state, bool joined) {
  char target[CHAT_GUEST_FIELD_MAX + 8], exclude[CHAT_CONFIG_STR_MAX + 64];
  chat_target(target, sizeof target, CHAT_TARGET_GUEST, state->guest->room);
  chat_target_conn(exclude, sizeof exclude, chat_runtime_config(gw->rt)->instance_id,
           state->connection_id);
  bson_string_t *value =
      bson_string_new(joined ? "{\"title\":\"Someone's here\",\"description\":"
                             : "{\"title\":\"Someone just left\",\"description\":");
  char description[CHAT_GUEST_FIELD_MAX + 32];
  snprintf(description, sizeof description, "%s just %s the room", state->guest->name,
           joined ? "entered" : "left");
  chat_json_append_string(value, description, strlen(description));
  bson_string_append_c(value, '}');
  const chat_broadcast_route_t route = {
      .event = "notification", .target = target, .exclude = exclude};
  chat_broadcast_send(chat_runtime_producer(gw->rt), chat_runtime_config(gw->rt), &route,
                      value->str, value->len, 0);
  bson_string_free(value, true);
}

static void login(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args, int64_t ack_id) {
  bson_iter_t payload, it;
  char why[128];
  if (state->guest) {
    snprintf(why, sizeof why, "already logged in as %s; log out first", state->guest->name);
    return ack_error(state->socket, ack_id, why);
  }
  if (!bson_iter_next(args) || !BSON_ITER_HOLDS_DOCUMENT(args) ||
      !bson_iter_recurse(args, &payload))
    return ack_error(state->socket, ack_id, "expected {name, room}");
  const char *name = NULL, *room = NULL;
  uint32_t name_len = 0, room_len = 0;
  it = payload;
  if (bson_iter_find(&it, "name") && BSON_ITER_HOLDS_UTF8(&it))
    name = bson_iter_utf8(&it, &name_len);
  it = payload;
  if (bson_iter_find(&it, "room") && BSON_ITER_HOLDS_UTF8(&it))
    room = bson_iter_utf8(&it, &room_len);
  const char *problem = check_field("name", name, name_len, why, sizeof why);
  if (!problem)
    problem = check_field("room", room, room_len, why, sizeof why);
  if (problem)
    return ack_error(state->socket, ack_id, problem);
  state->guest = calloc(1, sizeof *state->guest);
  if (!state->guest)
    return ack_error(state->socket, ack_id, "server busy, try again");
  memcpy(state->guest->name, name, name_len);
  memcpy(state->guest->room, room, room_len);
  char local_room[CHAT_GUEST_FIELD_MAX + 8];
  chat_target(local_room, sizeof local_room, CHAT_TARGET_GUEST, state->guest->room);
  gateway_socket_join_room(gw->rooms, state, local_room);
  tell_presence(gw, state, true);
  notify_room(gw, state, true);
  bson_string_t *user = bson_string_new("{\"user\":{\"id\":");
  chat_json_append_string(user, state->connection_id, strlen(state->connection_id));
  bson_string_append(user, ",\"name\":");
  chat_json_append_string(user, state->guest->name, strlen(state->guest->name));
  bson_string_append(user, ",\"room\":");
  chat_json_append_string(user, state->guest->room, strlen(state->guest->room));
  bson_string_append(user, "}}");
  ack(state->socket, ack_id, user->str);
  bson_string_free(user, true);
}

void gateway_guest_leave(gateway_t *gw, gateway_socket_t *state) {
  if (!state->guest)
    return;
  char local_room[CHAT_GUEST_FIELD_MAX + 8];
  chat_target(local_room, sizeof local_room, CHAT_TARGET_GUEST, state->guest->room);
  gateway_socket_leave_room(gw->rooms, state, local_room);
  tell_presence(gw, state, false);
  notify_room(gw, state, false);
  free(state->guest);
  state->guest = NULL;
}

static void room_message(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args, int64_t ack_id,
                         size_t attachment_count) {
  if (!state->guest)
    return ack_error(state->socket, ack_id, "log in to a room first");
  if (attachment_count > 0)
    return ack_error(state->socket, ack_id, "binary messages are not relayed in guest rooms");
  if (!bson_iter_next(args))
    return ack_error(state->socket, ack_id, "expected the message as the first argument");
  /* {"user": <name>, "text": <the argument as it came>}: the argument is
   * written back as JSON without being looked into. */
  bson_t single = BSON_INITIALIZER;
  bson_append_iter(&single, "text", 4, args);
  bson_string_t *value = bson_string_new("{\"user\":");
  chat_json_append_string(value, state->guest->name, strlen(state->guest->name));
  bson_string_append(value, ",\"id\":");
  chat_json_append_string(value, state->connection_id, strlen(state->connection_id));
  bson_string_t *text = bson_string_new(NULL);
  chat_err_t err = chat_json_append(text, &single, false);
  bson_destroy(&single);
  if (err == CHAT_OK) {
    bson_string_append_printf(value, ",%s", text->str + 1); /* "text":... and the closing brace */
    char target[CHAT_GUEST_FIELD_MAX + 8];
    chat_target(target, sizeof target, CHAT_TARGET_GUEST, state->guest->room);
    const chat_broadcast_route_t route = {.event = "roomMessage", .target = target};
    err = chat_broadcast_send(chat_runtime_producer(gw->rt), chat_runtime_config(gw->rt), &route,
                              value->str, value->len, 0);
  }
  bson_string_free(text, true);
  bson_string_free(value, true);
  if (err != CHAT_OK)
    return ack_error(state->socket, ack_id, "could not send the message now, try again");
  ack(state->socket, ack_id, "{}");
}

void gateway_guest_event(gateway_t *gw, gateway_socket_t *state, const chat_sio_packet_t *packet,
                         size_t attachment_count) {
  bson_iter_t args;
  const char *name = chat_sio_event_name(packet, &args);
  if (!name)
    return;
  if (!gateway_socket_rate_allow(state, chat_runtime_config(gw->rt)))
    return ack_error(state->socket, packet->ack_id,
                     "too many events; slow down (see CHAT_RATE_LIMIT_PER_SEC)");
  if (strcmp(name, "login") == 0) {
    login(gw, state, &args, packet->ack_id);
  } else if (strcmp(name, "logout") == 0) {
    if (!state->guest)
      return ack_error(state->socket, packet->ack_id, "not logged in");
    gateway_guest_leave(gw, state);
    if (packet->ack_id >= 0)
      chat_sio_ack(state->socket, packet->ack_id, "[]", NULL, 0);
  } else if (strcmp(name, "roomMessage") == 0) {
    room_message(gw, state, &args, packet->ack_id, attachment_count);
  } else if (strcmp(name, "ping") == 0) {
    bson_string_t *id = bson_string_new(NULL);
    chat_json_append_string(id, state->connection_id, strlen(state->connection_id));
    ack(state->socket, packet->ack_id, id->str);
    bson_string_free(id, true);
  } else {
    char message[160];
    bson_snprintf(message, sizeof message, "unknown event '%.100s'", name);
    ack_error(state->socket, packet->ack_id, message);
  }
}
