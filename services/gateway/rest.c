#include "rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_access.h"
#include "chat/json.h"

void rest_reply_error(gateway_t *gw, uint64_t request_id, int status, chat_err_t err,
                      const char *message) {
  bson_string_t *out = bson_string_new("{\"success\":false,\"error\":{\"code\":\"");
  bson_string_append(out, chat_err_code(err));
  bson_string_append(out, "\",\"message\":");
  chat_json_append_string(out, message, strlen(message));
  bson_string_append(out, "}}");
  chat_sio_http_respond(gw->sio, request_id, status, out->str);
  bson_string_free(out, true);
}

void rest_reply_data(gateway_t *gw, uint64_t request_id, int status, const char *data_json) {
  bson_string_t *out = bson_string_new("{\"success\":true,\"data\":");
  bson_string_append(out, data_json);
  bson_string_append_c(out, '}');
  chat_sio_http_respond(gw->sio, request_id, status, out->str);
  bson_string_free(out, true);
}

bool rest_authenticate(gateway_t *gw, const chat_http_request_t *request,
                       chat_jwt_claims_t *claims) {
  const char *why = "missing token";
  const char *auth = request->authorization;
  if (strncmp(auth, "Bearer ", 7) == 0 &&
      chat_jwt_verify_user(auth + 7, chat_runtime_config(gw->rt)->jwt_secret,
                           (int64_t)time(NULL), claims, &why) == CHAT_OK)
    return true;
  char message[128];
  snprintf(message, sizeof message, "%s (send Authorization: Bearer <token>)", why);
  rest_reply_error(gw, request->id, 401, CHAT_ERR_UNAUTHORIZED, message);
  return false;
}

bool rest_query_text(gateway_t *gw, const chat_http_request_t *request, const char *name,
                     char *out, size_t out_len, chat_query_result_t *result) {
  *result = chat_query_get(request->query, name, out, out_len);
  if (*result != CHAT_QUERY_MALFORMED)
    return true;
  char message[160];
  snprintf(message, sizeof message,
           "query argument %s is not well-formed: '%%' must be followed by two hex digits "
           "(and not %%00)",
           name);
  rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID, message);
  return false;
}

bool rest_query_int(gateway_t *gw, const chat_http_request_t *request, const char *name,
                    int64_t fallback, int64_t min, int64_t max, int64_t *out) {
  char text[32], *end = NULL;
  chat_query_result_t found;
  *out = fallback;
  if (!rest_query_text(gw, request, name, text, sizeof text, &found))
    return false;
  if (found == CHAT_QUERY_ABSENT || (found == CHAT_QUERY_FOUND && !text[0]))
    return true; /* absent, or "name=" with nothing: the default */
  errno = 0;
  long long value = found == CHAT_QUERY_FOUND ? strtoll(text, &end, 10) : 0;
  if (found != CHAT_QUERY_FOUND || errno || end == text || *end || value < min || value > max) {
    char message[160];
    snprintf(message, sizeof message, "%s must be an integer from %lld to %lld", name,
             (long long)min, (long long)max);
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID, message);
    return false;
  }
  *out = value;
  return true;
}

typedef void (*rest_handler_fn)(gateway_t *gw, const chat_http_request_t *request,
                                const rest_params_t *params);

/* The most URI and header bytes a REST request may bring (lws' own
 * default buffer); more is answered 431 whatever the route, up to the
 * engine's HTTP_HEADER_BUFFER, past which lws drops the request. */
#define REST_HEADERS_MAX 4096

/* Every route, and who may call it (api_access.h): the one list that
 * both the router and `chat-gateway --describe-api` read, so that the
 * authorization test covers a new row without being edited. A row without
 * an access is described as "undeclared", and that test fails on it. */
static const struct rest_route {
  const char *method, *path;
  rest_handler_fn handle;
  gateway_access_t access;
} routes[] = {
    {"POST", "/api/auth/register", rest_register, GATEWAY_PUBLIC},
    {"POST", "/api/auth/login", rest_login, GATEWAY_PUBLIC},
    {"GET", "/api/users", rest_list_users, GATEWAY_USER},
    {"GET", "/api/users/:id/presence", rest_user_presence, GATEWAY_USER},
    {"POST", "/api/chat/send", rest_send_message,
     GATEWAY_MEMBER_OF(CONVERSATION, "body", "conversationId")},
    {"GET", "/api/chat/conversations", rest_list_conversations, GATEWAY_USER},
    {"GET", "/api/chat/conversations/:id/messages", rest_list_messages,
     GATEWAY_MEMBER_OF(CONVERSATION, "path", "id")},
    {"PUT", "/api/chat/conversations/:id/read", rest_mark_read,
     GATEWAY_MEMBER_OF(CONVERSATION, "path", "id")},
    {"GET", "/api/chat/unread-count", rest_unread_count, GATEWAY_USER},
    {"GET", "/api/chat/unread", rest_unread, GATEWAY_USER},
    {"POST", "/api/chat/conversations", rest_create_group, GATEWAY_USER},
    {"DELETE", "/api/chat/conversations/:id", rest_delete_group,
     GATEWAY_OWNER_OF(CONVERSATION, "path", "id")},
    {"GET", "/api/chat/conversations/:id/members", rest_list_members,
     GATEWAY_MEMBER_OF(CONVERSATION, "path", "id")},
    {"POST", "/api/chat/conversations/:id/members", rest_add_members,
     GATEWAY_MEMBER_OF(CONVERSATION, "path", "id")},
    {"DELETE", "/api/chat/conversations/:id/members/:userId", rest_remove_member,
     GATEWAY_OWNER_OF(CONVERSATION, "path", "id")},
    {"POST", "/api/chat/conversations/:id/leave", rest_leave_group,
     GATEWAY_MEMBER_OF(CONVERSATION, "path", "id")},
    {"GET", "/api/chat/conversations/:id/search", rest_search_messages,
     GATEWAY_MEMBER_OF(CONVERSATION, "path", "id")},
    {"DELETE", "/api/chat/messages/:id", rest_delete_message,
     GATEWAY_OWNER_OF(MESSAGE, "path", "id")},
    /* Seed 002's 1-1 routes name the caller's own pair (otherUserId and
     * the caller): nobody else's conversation can be named there. */
    {"POST", "/api/v1/chat/convo/one-to-one", rest_direct_details, GATEWAY_USER},
    {"GET", "/api/v1/chat/convo/one-to-one/message", rest_direct_messages, GATEWAY_USER},
};

void rest_describe_routes(bson_string_t *out) {
  bson_string_append_c(out, '[');
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    bson_string_append_printf(out, "%s{\"method\":\"%s\",\"path\":\"%s\"", i ? "," : "",
                              routes[i].method, routes[i].path);
    gateway_access_describe(out, &routes[i].access, true);
    bson_string_append_c(out, '}');
  }
  bson_string_append_c(out, ']');
}

void gateway_handle_http(void *ctx, const chat_http_request_t *request) {
  gateway_t *gw = ctx;
  if (request->header_len > REST_HEADERS_MAX) {
    char message[96];
    snprintf(message, sizeof message, "request headers too large: at most %d bytes",
             REST_HEADERS_MAX);
    rest_reply_error(gw, request->id, 431, CHAT_ERR_TOO_LARGE, message);
    return;
  }
  bool path_known = false;
  rest_params_t params;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (!rest_path_match(routes[i].path, request->path, &params))
      continue;
    path_known = true;
    if (strcmp(routes[i].method, request->method) == 0) {
      routes[i].handle(gw, request, &params);
      return;
    }
  }
  if (path_known)
    rest_reply_error(gw, request->id, 405, CHAT_ERR_INVALID, "method not allowed on this path");
  else
    rest_reply_error(gw, request->id, 404, CHAT_ERR_NOT_FOUND, "no such route");
}
