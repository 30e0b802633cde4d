/* Client events: join_conversation and leave_conversation (which
 * conversations a socket has open: the chat windows its user has open),
 * typing and stop_typing (ephemeral: gateway -> chat.broadcast, never
 * stored), join_personal_room (every socket is in
 * its user's room from the start), mark_as_read and mark_message_read (to
 * the receipts service), delete_message (to persistence), and
 * send_message (send_message.c).
 * A user acts only in conversations it is a member of: the rooms its
 * socket is in. Every event passes the socket's rate limit first. */
#include "client_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/broadcast.h"
#include "chat/err.h"
#include "chat/json.h"
#include "chat/jwt.h"
#include "chat/log.h"
#include "chat/topics.h"
#include "api_access.h"
#include "client_message_changes.h"
#include "gateway_metrics.h"
#include "mark_read.h"
#include "produce.h"
#include "send_message.h"
#include "socket_acks.h"
#include "socket_recovery.h"

#define REVERT_MESSAGE_ID_MAX 64 /* the longest messageId a revert event echoes (its schema) */

/* Reads {conversationId} from the first argument and checks membership.
 * Returns the id (borrowed from args) or NULL after answering the ack. */
static const char *member_conversation(gateway_socket_t *state, bson_iter_t *args, int64_t ack_id) {
  bson_iter_t payload, field;
  if (!bson_iter_next(args) || !BSON_ITER_HOLDS_DOCUMENT(args) ||
      !bson_iter_recurse(args, &payload) || !bson_iter_find(&payload, "conversationId") ||
      !BSON_ITER_HOLDS_UTF8(&payload)) {
    gateway_ack_error(state->socket, ack_id, CHAT_ERR_INVALID,
              "expected {conversationId} as the first argument");
    return NULL;
  }
  field = payload;
  const char *id = bson_iter_utf8(&field, NULL);
  if (!chat_is_id(id)) {
    gateway_ack_error(state->socket, ack_id, CHAT_ERR_INVALID,
                      "conversationId must be 24 hex digits");
    return NULL;
  }
  if (gateway_socket_in_conversation(state, id))
    return id;
  gateway_ack_error(state->socket, ack_id, CHAT_ERR_FORBIDDEN, "not a member of this conversation");
  return NULL;
}

/* Publishes event to the conversation's open sockets, except this one. */
static chat_err_t broadcast_to_open(gateway_t *gw, gateway_socket_t *state,
                                    const char *conversation_id, const char *event,
                                    const char *value) {
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  char target[40], exclude[CHAT_CONFIG_STR_MAX + 40];
  chat_target(target, sizeof target, CHAT_TARGET_ROOM, conversation_id);
  chat_target_conn(exclude, sizeof exclude, cfg->instance_id,
           chat_sio_socket_id(state->socket));
  const chat_broadcast_route_t route = {
      .event = event, .target = target, .scope = "open", .exclude = exclude};
  return chat_broadcast_send(chat_runtime_producer(gw->rt), cfg, &route, value, strlen(value), 0);
}

/* {"userId":<id>,"message":"user <id> <what> the conversation"}, escaped. */
static bson_string_t *membership_value(const gateway_socket_t *state, const char *what) {
  char message[CHAT_JWT_SUB_MAX + 64];
  snprintf(message, sizeof message, "user %s %s the conversation", state->user_id, what);
  bson_string_t *value = bson_string_new("{\"userId\":");
  chat_json_append_string(value, state->user_id, strlen(state->user_id));
  bson_string_append(value, ",\"message\":");
  chat_json_append_string(value, message, strlen(message));
  bson_string_append_c(value, '}');
  return value;
}

static void join_conversation(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                              int64_t ack_id) {
  const char *id = member_conversation(state, args, ack_id);
  if (!id)
    return;
  if (!gateway_socket_open(state, id)) {
    gateway_ack_error(state->socket, ack_id, CHAT_ERR_NOMEM, "server busy, try again");
    return;
  }
  recovery_note_open(gw, state);
  bson_string_t *value = membership_value(state, "joined");
  broadcast_to_open(gw, state, id, "user_joined", value->str);
  bson_string_free(value, true);
  gateway_ack_ok(state->socket, ack_id, NULL);
}

static void leave_conversation(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                               int64_t ack_id) {
  const char *id = member_conversation(state, args, ack_id);
  if (!id)
    return;
  gateway_socket_close(state, id);
  recovery_note_open(gw, state);
  bson_string_t *value = membership_value(state, "left");
  broadcast_to_open(gw, state, id, "user_left", value->str);
  bson_string_free(value, true);
  gateway_ack_ok(state->socket, ack_id, NULL);
}

static void typing(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args, int64_t ack_id,
                   const char *event) {
  const char *id = member_conversation(state, args, ack_id);
  if (!id)
    return;
  bson_string_t *value = bson_string_new("{\"userId\":");
  chat_json_append_string(value, state->user_id, strlen(state->user_id));
  bson_string_append_printf(value, ",\"conversationId\":\"%s\"}", id);
  chat_err_t err = broadcast_to_open(gw, state, id, event, value->str);
  bson_string_free(value, true);
  if (err != CHAT_OK) {
    gateway_ack_error(state->socket, ack_id, CHAT_ERR_UNAVAILABLE, "cannot reach Kafka now");
    return;
  }
  gateway_ack_ok(state->socket, ack_id, NULL);
}

static void connection_of(gateway_t *gw, const gateway_socket_t *state, char *out, size_t cap) {
  gateway_socket_connection(state, chat_runtime_config(gw->rt)->instance_id, out, cap);
}

/* mark_as_read {conversationId}: everything in it read up to now. */
static void mark_as_read(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                         int64_t ack_id) {
  const char *id = member_conversation(state, args, ack_id);
  if (!id)
    return;
  char conversation_id[CHAT_ID_SIZE];
  memcpy(conversation_id, id, CHAT_ID_SIZE);
  char connection[CHAT_CONFIG_STR_MAX + 64];
  connection_of(gw, state, connection, sizeof connection);
  chat_err_t err =
      gateway_mark_conversation_read(gw, state->user_id, conversation_id, connection, NULL);
  if (err != CHAT_OK)
    gateway_ack_error(state->socket, ack_id, CHAT_ERR_UNAVAILABLE,
                      "cannot reach Kafka now, try again");
  else
    gateway_ack_ok(state->socket, ack_id, "\"status\":\"accepted\"");
}

/* The messageId of a message command's payload as it came, for its revert
 * event: "" when there is none, it is no string or it is longer than the
 * revert's schema allows (proto/events/message_read_reverted.schema.json). */
static const char *message_id_of(const bson_iter_t *args) {
  bson_iter_t arg = *args, payload;
  uint32_t len = 0;
  if (!bson_iter_next(&arg) || !BSON_ITER_HOLDS_DOCUMENT(&arg) ||
      !bson_iter_recurse(&arg, &payload) || !bson_iter_find(&payload, "messageId") ||
      !BSON_ITER_HOLDS_UTF8(&payload))
    return "";
  const char *id = bson_iter_utf8(&payload, &len);
  return len <= REVERT_MESSAGE_ID_MAX && !memchr(id, '\0', len) ? id : "";
}

/* A command about one message, {messageId}, for the service behind topic:
 * mark_message_read (read receipts: that message and all before it)
 * and delete_message (persistence checks the sender). Every refusal,
 * the gateway's here or the service's later, comes back as the revert
 * event. Keyed by the message id: the gateway does not know its
 * conversation. */
static void message_command(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                            int64_t ack_id, const char *type, chat_topic_t topic,
                            const char *revert) {
  const char *echo = message_id_of(args);
  bson_iter_t payload;
  if (!bson_iter_next(args) || !BSON_ITER_HOLDS_DOCUMENT(args) ||
      !bson_iter_recurse(args, &payload) || !bson_iter_find(&payload, "messageId") ||
      !BSON_ITER_HOLDS_UTF8(&payload)) {
    gateway_refuse_message_command(state->socket, ack_id, revert, echo, CHAT_ERR_INVALID,
                           "expected {messageId} as the first argument");
    return;
  }
  const char *message_id = bson_iter_utf8(&payload, NULL);
  if (!chat_is_id(message_id)) {
    gateway_refuse_message_command(state->socket, ack_id, revert, echo, CHAT_ERR_INVALID,
                           "messageId must be 24 hex digits");
    return;
  }
  chat_envelope_t env;
  char connection[CHAT_CONFIG_STR_MAX + 64];
  connection_of(gw, state, connection, sizeof connection);
  chat_err_t err = chat_envelope_init(&env, type, chat_runtime_source(gw->rt), NULL);
  if (err == CHAT_OK) {
    BSON_APPEND_UTF8(&env.payload, "messageId", message_id);
    BSON_APPEND_UTF8(&env.payload, "userId", state->user_id);
    BSON_APPEND_UTF8(&env.payload, "connectionId", connection);
    err = gateway_produce(gw, topic, &env, message_id, 0);
  }
  if (err != CHAT_OK)
    gateway_refuse_message_command(state->socket, ack_id, revert, message_id, CHAT_ERR_UNAVAILABLE,
                           "cannot reach Kafka now, try again");
  else
    gateway_ack_ok(state->socket, ack_id, "\"status\":\"accepted\"");
}

static void delete_message(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                           int64_t ack_id) {
  message_command(gw, state, args, ack_id, "message.delete", CHAT_TOPIC_COMMANDS,
                  "message_deletion_reverted");
}

static void mark_message_read(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                              int64_t ack_id) {
  message_command(gw, state, args, ack_id, "read.mark_message", CHAT_TOPIC_RECEIPTS,
                  "message_read_reverted");
}

static void join_personal_room(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                               int64_t ack_id) {
  (void)gw, (void)args;
  gateway_ack_ok(state->socket, ack_id, NULL); /* joined on connect */
}

static void start_typing(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                         int64_t ack_id) {
  typing(gw, state, args, ack_id, "user_typing");
}

static void stop_typing(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                        int64_t ack_id) {
  typing(gw, state, args, ack_id, "user_stopped_typing");
}

typedef void (*client_event_fn)(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                                int64_t ack_id);

/* Every client event, and who may send it (api_access.h): the one list
 * that both the dispatch below and `chat-gateway --describe-api` read, so
 * that the authorization test covers a new row without being edited. Only
 * an authenticated socket sends any of them (the CONNECT refuses others).
 * revert: the event that carries the refusals of a message command (the
 * gateway's and the service's), or NULL when the ack alone answers. */
static const struct client_event {
  const char *name;
  client_event_fn handle;
  gateway_access_t access;
  const char *revert;
} client_events[] = {
    {"send_message", gateway_send_message,
     GATEWAY_MEMBER_OF(CONVERSATION, "payload", "conversationId"), NULL},
    {"delete_message", delete_message, GATEWAY_OWNER_OF(MESSAGE, "payload", "messageId"),
     "message_deletion_reverted"},
    {"mark_as_read", mark_as_read, GATEWAY_MEMBER_OF(CONVERSATION, "payload", "conversationId"),
     NULL},
    {"mark_message_read", mark_message_read, GATEWAY_MEMBER_OF(MESSAGE, "payload", "messageId"),
     "message_read_reverted"},
    {"join_personal_room", join_personal_room, GATEWAY_USER, NULL},
    {"join_conversation", join_conversation,
     GATEWAY_MEMBER_OF(CONVERSATION, "payload", "conversationId"), NULL},
    {"leave_conversation", leave_conversation,
     GATEWAY_MEMBER_OF(CONVERSATION, "payload", "conversationId"), NULL},
    {"typing", start_typing, GATEWAY_MEMBER_OF(CONVERSATION, "payload", "conversationId"), NULL},
    {"stop_typing", stop_typing, GATEWAY_MEMBER_OF(CONVERSATION, "payload", "conversationId"),
     NULL},
    /* Edits and reactions (client_message_changes.h). */
    {"edit_message", gateway_edit_message, GATEWAY_OWNER_OF(MESSAGE, "payload", "messageId"),
     GATEWAY_EDIT_REVERT},
    {"react", gateway_react, GATEWAY_MEMBER_OF(MESSAGE, "payload", "messageId"),
     GATEWAY_REACTION_REVERT},
    {"unreact", gateway_unreact, GATEWAY_MEMBER_OF(MESSAGE, "payload", "messageId"),
     GATEWAY_REACTION_REVERT},
};

void gateway_describe_client_events(bson_string_t *out) {
  bson_string_append_c(out, '[');
  for (size_t i = 0; i < sizeof client_events / sizeof client_events[0]; i++) {
    const struct client_event *event = &client_events[i];
    bson_string_append_printf(out, "%s{\"name\":\"%s\"", i ? "," : "", event->name);
    gateway_access_describe(out, &event->access, false);
    bson_string_append(out, ",\"revert\":");
    if (event->revert)
      bson_string_append_printf(out, "\"%s\"", event->revert);
    else
      bson_string_append(out, "null");
    bson_string_append_c(out, '}');
  }
  bson_string_append_c(out, ']');
}

static void handle_event(gateway_t *gw, gateway_socket_t *state, const chat_sio_packet_t *packet,
                         const struct client_event *event, const char *name, bson_iter_t *args);

void gateway_handle_client_event(gateway_t *gw, gateway_socket_t *state,
                                 const chat_sio_packet_t *packet) {
  bson_iter_t args;
  const char *name = chat_sio_event_name(packet, &args);
  if (!name)
    return;
  const struct client_event *event = NULL;
  for (size_t i = 0; !event && i < sizeof client_events / sizeof client_events[0]; i++) {
    if (strcmp(name, client_events[i].name) == 0)
      event = &client_events[i];
  }
  /* Metrics: the first ack written while the event is handled is its
   * result (socket_acks.c); no ack by then means it is answered later. */
  state->event = event ? event->name : "unknown";
  state->event_answered = false;
  handle_event(gw, state, packet, event, name, &args);
  if (!state->event_answered)
    gateway_metrics_event(state->event, "queued");
  state->event = NULL;
}

static void handle_event(gateway_t *gw, gateway_socket_t *state, const chat_sio_packet_t *packet,
                         const struct client_event *event, const char *name, bson_iter_t *args_in) {
  bson_iter_t args = *args_in;
  if (!gateway_socket_rate_allow(state, chat_runtime_config(gw->rt))) {
    CHAT_LOG(CHAT_LOG_DEBUG, "socket %s: '%.64s' over the rate limit",
             chat_sio_socket_id(state->socket), name);
    const char *why = "too many events; slow down (see CHAT_RATE_LIMIT_PER_SEC)";
    if (event && event->revert)
      gateway_refuse_message_command(state->socket, packet->ack_id, event->revert,
                                     message_id_of(&args), CHAT_ERR_RATE_LIMITED, why);
    else
      gateway_ack_error(state->socket, packet->ack_id, CHAT_ERR_RATE_LIMITED, why);
    return;
  }
  if (event) {
    event->handle(gw, state, &args, packet->ack_id);
    return;
  }
  char message[160];
  bson_snprintf(message, sizeof message, "unknown event '%.100s'", name);
  CHAT_LOG(CHAT_LOG_DEBUG, "socket %s: %s", chat_sio_socket_id(state->socket), message);
  gateway_ack_error(state->socket, packet->ack_id, CHAT_ERR_UNKNOWN_EVENT, message);
}
