/* Delivery of chat.broadcast records to this gateway's sockets: the record
 * value is the event payload as clients receive it, so the frame is built
 * once, ["<event>",<value>], and sent to every socket of the target room
 * that the scope and exclude headers leave in (proto/README.md). The join
 * header puts the target's sockets in a room before delivery, the leave
 * header takes them out after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast_deliver.h"

#include "chat/broadcast.h"
#include "chat/json.h"
#include "chat/log.h"
#include "rooms.h"
#include "recovery_token.h"
#include "socket_recovery.h"
#include "socket_resume.h"
#include "socket_state.h"

typedef struct delivery {
  gateway_t *gw;
  const char *frame;
  const char *skip_user;       /* contacts:<userId>: not to that user's own sockets */
  const char *conversation_id; /* for scope; NULL when the target is no conversation */
  chat_broadcast_scope_t scope;
  const char *exclude_socket;  /* a socket id of this gateway, or NULL */
  const char *seq;             /* the message's seq header, or NULL */
  int32_t partition;           /* the record's place in chat.broadcast */
  int64_t offset;
  size_t sent;
} delivery_t;

static void emit_to(void *ctx, void *member) {
  delivery_t *d = ctx;
  gateway_socket_t *state = member;
  if (!state->socket || state->delivery_mark == d->gw->delivery_mark)
    return; /* gone, or served by this delivery through another room */
  state->delivery_mark = d->gw->delivery_mark;
  if (d->skip_user && strcmp(state->user_id, d->skip_user) == 0)
    return;
  if (d->exclude_socket && strcmp(chat_sio_socket_id(state->socket), d->exclude_socket) == 0)
    return;
  if (recovery_hold(state, d->partition, d->offset, d->conversation_id, d->scope, d->frame))
    return; /* sent after what the recovered session missed, scope then applied */
  if (d->conversation_id &&
      !chat_broadcast_scope_admits(d->scope, gateway_socket_is_open(state, d->conversation_id)))
    return;
  if (state->resume && d->conversation_id &&
      gateway_resume_hold(state, d->conversation_id, d->seq, d->frame))
    return; /* sent after what the client missed */
  chat_sio_emit(state->socket, d->frame, NULL, 0);
  d->sent++;
}

typedef struct collected {
  gateway_socket_t **states;
  size_t count, cap;
} collected_t;

static void collect(void *ctx, void *member) {
  collected_t *c = ctx;
  if (c->count < c->cap)
    c->states[c->count++] = member;
}

/* Joins or leaves room:<conversation_id> for every socket in target. */
static void change_rooms(gateway_t *gw, const char *target, const char *conversation_id,
                         bool join) {
  size_t n = rooms_each(gw->rooms, target, NULL, NULL);
  collected_t c = {calloc(n ? n : 1, sizeof *c.states), 0, n};
  if (!c.states)
    return;
  rooms_each(gw->rooms, target, collect, &c); /* rooms change below, not while iterating */
  for (size_t i = 0; i < c.count; i++) {
    if (join)
      gateway_socket_join_conversation(gw->rooms, c.states[i], conversation_id);
    else
      gateway_socket_leave_conversation(gw->rooms, c.states[i], conversation_id);
  }
  free(c.states);
}

void gateway_deliver(gateway_t *gw, const chat_broadcast_route_t *route, const char *value,
                     size_t value_len, int32_t partition, int64_t offset) {
  delivery_t d = {.gw = gw, .seq = route->seq, .partition = partition, .offset = offset};
  char offset_arg[RECOVERY_TOKEN_MAX + 2];
  bool recoverable =
      recovery_advance(gw, route->event, partition, offset, offset_arg, sizeof offset_arg);
  gw->delivery_mark++;
  if (!chat_broadcast_scope_parse(route->scope, &d.scope)) {
    CHAT_LOG(CHAT_LOG_WARN, "broadcast %s to %s: unknown scope '%s'; dropped", route->event,
             route->target, route->scope);
    return;
  }
  if (route->join)
    change_rooms(gw, route->target, route->join, true);
  d.conversation_id = chat_target_id(route->target, CHAT_TARGET_ROOM);
  /* exclude names one connection, "conn:<gateway id>/<socket id>": only
   * this gateway's own connections can match. */
  char own_prefix[CHAT_TARGET_MAX];
  chat_target_conn(own_prefix, sizeof own_prefix, chat_runtime_config(gw->rt)->instance_id, "");
  if (route->exclude && strncmp(route->exclude, own_prefix, strlen(own_prefix)) == 0)
    d.exclude_socket = route->exclude + strlen(own_prefix);
  bson_string_t *frame =
      chat_broadcast_frame(route->event, value, value_len, recoverable ? offset_arg : NULL);
  d.frame = frame->str;
  d.skip_user = route->exclude_user;
  const char *contact = chat_target_id(route->target, CHAT_TARGET_CONTACTS);
  if (contact) {
    /* Presence: everyone who shares a room with the user, once each, even
     * when they share several. */
    d.skip_user = contact;
    for (const char *room = route->rooms; room && *room;) {
      const char *end = strchr(room, ',');
      size_t len = end ? (size_t)(end - room) : strlen(room);
      char name[64];
      if (len < sizeof name) {
        memcpy(name, room, len);
        name[len] = '\0';
        rooms_each(gw->rooms, name, emit_to, &d);
      }
      room = end ? end + 1 : NULL;
    }
  } else {
    rooms_each(gw->rooms, route->target, emit_to, &d);
  }
  /* Leaving comes after delivery: those who leave hear why first. */
  if (route->leave)
    change_rooms(gw, route->target, route->leave, false);
  CHAT_LOG(CHAT_LOG_DEBUG, "broadcast %s to %s: %zu sockets", route->event, route->target, d.sent);
  bson_string_free(frame, true);
}
