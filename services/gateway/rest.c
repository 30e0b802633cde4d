/* The REST router: every route of the gateway's port in one table, with
 * who may call it, and the dispatch of a request to its handler. */
#include "rest.h"

#include <stdio.h>
#include <string.h>

#include "api_access.h"
#include "rest_accounts.h"
#include "rest_conversations.h"
#include "rest_groups.h"
#include "rest_message_changes.h"
#include "rest_messages.h"
#include "rest_presence.h"
#include "rest_readers.h"
#include "rest_request.h"
#include "rest_route.h"
#include "rest_unread.h"

/* The most URI and header bytes a REST request may bring (lws' own
 * default buffer); more is answered 431 whatever the route. The first
 * request of a connection never gets here with more: the engine's head
 * guard answers it 431 first (socketio/http_head_guard.h, HTTP_HEAD_MAX,
 * the same 4096 counted on the wire). This answers the later requests of
 * a kept-alive connection, which lws parses alone, up to the engine's
 * HTTP_HEADER_BUFFER, past which lws drops the request. */
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
    /* Edits and reactions (rest_message_changes.h). */
    {"PATCH", "/api/chat/messages/:id", rest_edit_message, GATEWAY_OWNER_OF(MESSAGE, "path", "id")},
    {"PUT", "/api/chat/messages/:id/reactions/:emoji", rest_add_reaction,
     GATEWAY_MEMBER_OF(MESSAGE, "path", "id")},
    {"DELETE", "/api/chat/messages/:id/reactions/:emoji", rest_remove_reaction,
     GATEWAY_MEMBER_OF(MESSAGE, "path", "id")},
    /* Who read it (issue 21): a member of the message's group. */
    {"GET", "/api/chat/messages/:id/readers", rest_message_readers,
     GATEWAY_MEMBER_OF(MESSAGE, "path", "id")},
    /* The 1-1 routes name the caller's own pair (otherUserId and
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
      chat_sio_http_route(gw->sio, request->id, routes[i].path);
      routes[i].handle(gw, request, &params);
      return;
    }
  }
  if (path_known)
    rest_reply_error(gw, request->id, 405, CHAT_ERR_INVALID, "method not allowed on this path");
  else
    rest_reply_error(gw, request->id, 404, CHAT_ERR_NOT_FOUND, "no such route");
}
