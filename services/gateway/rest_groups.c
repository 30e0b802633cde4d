/* Group chats (on the conversations resource) and message deletion over
 * REST. Every change is a command on
 * chat.commands that persistence checks and carries out; the call answers
 * with its outcome (rest_command_run). What the gateway checks here is
 * only the form of the request. */
#include <stdio.h>
#include <string.h>

#include "chat/ids.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "rest_command.h"
#include "rest_groups.h"
#include "rest_request.h"

/* Authenticates and checks that params->values[which] is an id. */
static bool authenticate_with_id(gateway_t *gw, const chat_http_request_t *request,
                                 const rest_params_t *params, size_t which,
                                 chat_jwt_claims_t *claims, const char *what) {
  if (!rest_authenticate(gw, request, claims))
    return false;
  for (size_t i = 0; i <= which; i++) {
    if (!chat_is_id(params->values[i])) {
      char message[96];
      snprintf(message, sizeof message, "the %s id must be 24 hex digits",
               i == which ? what : "conversation");
      rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID, message);
      return false;
    }
  }
  return true;
}

/* Parses the body as a JSON object into *body, or answers 400. */
static bool read_body(gateway_t *gw, const chat_http_request_t *request, bson_t *body,
                      const char *expected) {
  if (chat_json_parse((const char *)request->body, request->body_len,
                      (size_t)chat_runtime_config(gw->rt)->max_payload_bytes, body, NULL,
                      0) == CHAT_OK)
    return true;
  char message[160];
  snprintf(message, sizeof message, "the body must be a JSON object %s", expected);
  rest_reply_error(gw, request->id, 400, CHAT_ERR_JSON, message);
  return false;
}

/* Copies body[key], an array of ids, into the payload's array out_key.
 * Returns NULL or what is wrong with it. */
static const char *copy_ids(const bson_t *body, const char *key, bool allow_empty, bson_t *payload,
                            const char *out_key) {
  bson_iter_t it, list;
  bson_t array;
  if (!bson_iter_init_find(&it, body, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &list))
    return "must be an array of user ids";
  uint32_t n = 0;
  BSON_APPEND_ARRAY_BEGIN(payload, out_key, &array);
  while (bson_iter_next(&list)) {
    if (!BSON_ITER_HOLDS_UTF8(&list) || !chat_is_id(bson_iter_utf8(&list, NULL))) {
      bson_append_array_end(payload, &array);
      return "must hold only user ids (24 hex digits)";
    }
    if (n == CHAT_GROUP_MEMBERS_MAX) {
      bson_append_array_end(payload, &array);
      return "must hold at most 1000 user ids";
    }
    char index[16];
    const char *index_str;
    bson_uint32_to_string(n++, &index_str, index, sizeof index);
    bson_append_utf8(&array, index_str, -1, bson_iter_utf8(&list, NULL), -1);
  }
  bson_append_array_end(payload, &array);
  return n == 0 && !allow_empty ? "must hold at least one user id" : NULL;
}

void rest_create_group(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  (void)params;
  chat_jwt_claims_t claims;
  bson_t body;
  if (!rest_authenticate(gw, request, &claims) ||
      !read_body(gw, request, &body, "{\"name\", \"memberIds\"}"))
    return;
  bson_iter_t it;
  uint32_t name_len = 0;
  const char *name = bson_iter_init_find(&it, &body, "name") && BSON_ITER_HOLDS_UTF8(&it)
                         ? bson_iter_utf8(&it, &name_len)
                         : NULL;
  chat_envelope_t env;
  if (!name || name_len == 0 || name_len > CHAT_GROUP_NAME_MAX || memchr(name, '\0', name_len)) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "name is required: a string of 1 to 100 bytes");
  } else if (rest_command_init(gw, "conversation.create", &env) != CHAT_OK) {
    rest_reply_error(gw, request->id, 500, CHAT_ERR_INTERNAL, "cannot build the command");
  } else {
    bson_oid_t oid;
    char conversation_id[CHAT_ID_SIZE];
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, conversation_id);
    BSON_APPEND_UTF8(&env.payload, "conversationId", conversation_id);
    BSON_APPEND_UTF8(&env.payload, "ownerId", claims.sub);
    BSON_APPEND_UTF8(&env.payload, "name", name);
    const char *problem = copy_ids(&body, "memberIds", true, &env.payload, "memberIds");
    if (problem) {
      char message[96];
      snprintf(message, sizeof message, "memberIds %s", problem);
      chat_envelope_cleanup(&env);
      rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID, message);
    } else {
      rest_command_run(gw, request->id, CHAT_TOPIC_COMMANDS, &env, conversation_id, 201,
                       "Conversation created");
    }
  }
  bson_destroy(&body);
}

void rest_add_members(gateway_t *gw, const chat_http_request_t *request,
                      const rest_params_t *params) {
  chat_jwt_claims_t claims;
  bson_t body;
  chat_envelope_t env;
  if (!authenticate_with_id(gw, request, params, 0, &claims, "conversation") ||
      !read_body(gw, request, &body, "{\"userIds\"}"))
    return;
  if (rest_command_init(gw, "member.add", &env) != CHAT_OK) {
    rest_reply_error(gw, request->id, 500, CHAT_ERR_INTERNAL, "cannot build the command");
  } else {
    BSON_APPEND_UTF8(&env.payload, "conversationId", params->values[0]);
    BSON_APPEND_UTF8(&env.payload, "actorId", claims.sub);
    const char *problem = copy_ids(&body, "userIds", false, &env.payload, "userIds");
    if (problem) {
      char message[96];
      snprintf(message, sizeof message, "userIds %s", problem);
      chat_envelope_cleanup(&env);
      rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID, message);
    } else {
      rest_command_run(gw, request->id, CHAT_TOPIC_COMMANDS, &env, params->values[0], 200,
                       "Members added");
    }
  }
  bson_destroy(&body);
}

/* A command on one conversation with the caller as actorId (or userId). */
static void conversation_command(gateway_t *gw, const chat_http_request_t *request,
                                 const rest_params_t *params, const char *type,
                                 const char *caller_key, const char *ok_message) {
  chat_jwt_claims_t claims;
  chat_envelope_t env;
  bool with_user = strcmp(type, "member.remove") == 0;
  if (!authenticate_with_id(gw, request, params, with_user ? 1 : 0, &claims, "user"))
    return;
  if (rest_command_init(gw, type, &env) != CHAT_OK) {
    rest_reply_error(gw, request->id, 500, CHAT_ERR_INTERNAL, "cannot build the command");
    return;
  }
  BSON_APPEND_UTF8(&env.payload, "conversationId", params->values[0]);
  BSON_APPEND_UTF8(&env.payload, caller_key, claims.sub);
  if (with_user)
    BSON_APPEND_UTF8(&env.payload, "userId", params->values[1]);
  rest_command_run(gw, request->id, CHAT_TOPIC_COMMANDS, &env, params->values[0], 200, ok_message);
}

void rest_remove_member(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params) {
  conversation_command(gw, request, params, "member.remove", "actorId", "Member removed");
}

void rest_leave_group(gateway_t *gw, const chat_http_request_t *request,
                      const rest_params_t *params) {
  conversation_command(gw, request, params, "conversation.leave", "userId",
                       "Left the conversation");
}

void rest_delete_group(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  conversation_command(gw, request, params, "conversation.delete", "actorId",
                       "Conversation deleted");
}

void rest_delete_message(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params) {
  chat_jwt_claims_t claims;
  chat_envelope_t env;
  if (!authenticate_with_id(gw, request, params, 0, &claims, "message"))
    return;
  if (rest_command_init(gw, "message.delete", &env) != CHAT_OK) {
    rest_reply_error(gw, request->id, 500, CHAT_ERR_INTERNAL, "cannot build the command");
    return;
  }
  BSON_APPEND_UTF8(&env.payload, "messageId", params->values[0]);
  BSON_APPEND_UTF8(&env.payload, "userId", claims.sub);
  rest_command_run(gw, request->id, CHAT_TOPIC_COMMANDS, &env, params->values[0], 200,
                   "Message deleted");
}
