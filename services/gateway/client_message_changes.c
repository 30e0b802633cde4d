#include "client_message_changes.h"

#include <string.h>

#include "chat/ids.h"
#include "change_request.h"
#include "produce.h"
#include "socket_acks.h"

#define ECHO_MESSAGE_ID_MAX 64 /* the longest messageId a revert echoes (its schema) */

/* The first argument as a document, or false after refusing. */
static bool payload_of(gateway_socket_t *state, bson_iter_t *args, int64_t ack_id,
                       const char *revert, const char *expected, bson_t *doc) {
  const uint8_t *data = NULL;
  uint32_t len = 0;
  if (bson_iter_next(args) && BSON_ITER_HOLDS_DOCUMENT(args)) {
    bson_iter_document(args, &len, &data);
    if (bson_init_static(doc, data, len))
      return true;
  }
  gateway_refuse_message_command(state->socket, ack_id, revert, "", CHAT_ERR_INVALID, expected);
  return false;
}

/* The payload's messageId when it is an id, else NULL after refusing,
 * the revert echoing what came (when it is a short string). */
static const char *message_id_of(gateway_socket_t *state, const bson_t *doc, int64_t ack_id,
                                 const char *revert) {
  const char *id;
  uint32_t len;
  bool present;
  change_request_string(doc, "messageId", &id, &len, &present);
  if (id && chat_is_id(id))
    return id;
  const char *echo = id && len <= ECHO_MESSAGE_ID_MAX && !memchr(id, '\0', len) ? id : "";
  gateway_refuse_message_command(state->socket, ack_id, revert, echo, CHAT_ERR_INVALID,
                                 id ? "messageId must be 24 hex digits"
                                    : "messageId is required: 24 hex digits");
  return NULL;
}

static void produce_and_ack(gateway_t *gw, gateway_socket_t *state, int64_t ack_id,
                            const char *revert, const char *message_id, chat_err_t err,
                            chat_envelope_t *env) {
  if (err == CHAT_OK)
    err = gateway_produce(gw, CHAT_TOPIC_COMMANDS, env, message_id, 0);
  if (err != CHAT_OK)
    gateway_refuse_message_command(state->socket, ack_id, revert, message_id, CHAT_ERR_UNAVAILABLE,
                                   "cannot reach Kafka now, try again");
  else
    gateway_ack_ok(state->socket, ack_id, "\"status\":\"accepted\"");
}

void gateway_edit_message(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                          int64_t ack_id) {
  bson_t doc;
  if (!payload_of(state, args, ack_id, GATEWAY_EDIT_REVERT,
                  "expected {messageId, content} as the first argument", &doc))
    return;
  const char *message_id = message_id_of(state, &doc, ack_id, GATEWAY_EDIT_REVERT);
  if (!message_id)
    return;
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  const char *content;
  uint32_t len;
  bool present;
  chat_err_t err;
  change_request_string(&doc, "content", &content, &len, &present);
  const char *problem =
      change_request_check_content(content, len, present, cfg->max_content_bytes, &err);
  if (problem) {
    gateway_refuse_message_command(state->socket, ack_id, GATEWAY_EDIT_REVERT, message_id, err,
                                   problem);
    return;
  }
  char connection[CHAT_CONFIG_STR_MAX + 64];
  gateway_socket_connection(state, cfg->instance_id, connection, sizeof connection);
  chat_envelope_t env;
  err = change_request_edit_command(message_id, state->user_id, content, len,
                                    chat_runtime_source(gw->rt), connection, NULL, &env);
  produce_and_ack(gw, state, ack_id, GATEWAY_EDIT_REVERT, message_id, err, &env);
}

static void reaction(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args, int64_t ack_id,
                     bool add) {
  bson_t doc;
  if (!payload_of(state, args, ack_id, GATEWAY_REACTION_REVERT,
                  "expected {messageId, emoji} as the first argument", &doc))
    return;
  const char *message_id = message_id_of(state, &doc, ack_id, GATEWAY_REACTION_REVERT);
  if (!message_id)
    return;
  const char *emoji;
  uint32_t len;
  bool present;
  chat_err_t err;
  change_request_string(&doc, "emoji", &emoji, &len, &present);
  const char *problem = change_request_check_emoji(emoji, len, present, &err);
  if (problem) {
    gateway_refuse_message_command(state->socket, ack_id, GATEWAY_REACTION_REVERT, message_id, err,
                                   problem);
    return;
  }
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  char connection[CHAT_CONFIG_STR_MAX + 64];
  gateway_socket_connection(state, cfg->instance_id, connection, sizeof connection);
  chat_envelope_t env;
  err = change_request_reaction_command(add, message_id, state->user_id, emoji, len,
                                        chat_runtime_source(gw->rt), connection, NULL, &env);
  produce_and_ack(gw, state, ack_id, GATEWAY_REACTION_REVERT, message_id, err, &env);
}

void gateway_react(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args, int64_t ack_id) {
  reaction(gw, state, args, ack_id, true);
}

void gateway_unreact(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args, int64_t ack_id) {
  reaction(gw, state, args, ack_id, false);
}
