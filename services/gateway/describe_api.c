/* `chat-gateway --describe-api`: the gateway's own tables of REST routes
 * and socket events, with who may use each, as one JSON object on stdout.
 * It reads no configuration and connects to nothing, so a test (or an
 * operator) can ask any build what it serves. */
#include "describe_api.h"

#include <string.h>

#include "chat/json.h"
#include "client_events.h"
#include "rest.h"

static const char *scope_name(gateway_scope_t scope) {
  switch (scope) {
  case GATEWAY_SCOPE_PUBLIC:
    return "public";
  case GATEWAY_SCOPE_USER:
    return "user";
  case GATEWAY_SCOPE_MEMBER:
    return "member";
  case GATEWAY_SCOPE_OWNER:
    return "owner";
  case GATEWAY_SCOPE_UNDECLARED:
    break;
  }
  return "undeclared";
}

static const char *object_name(gateway_object_t object) {
  switch (object) {
  case GATEWAY_OBJECT_CONVERSATION:
    return "conversation";
  case GATEWAY_OBJECT_MESSAGE:
    return "message";
  case GATEWAY_OBJECT_NONE:
    break;
  }
  return "none";
}

static void append_string_or_null(bson_string_t *out, const char *value) {
  if (value)
    chat_json_append_string(out, value, strlen(value));
  else
    bson_string_append(out, "null");
}

void gateway_access_describe(bson_string_t *out, const gateway_access_t *access, bool with_param) {
  /* An undeclared row says nothing about its token either: null, not a
   * guess, so that nothing reads it as public. */
  if (access->scope == GATEWAY_SCOPE_UNDECLARED)
    bson_string_append(out, ",\"auth\":null");
  else
    bson_string_append_printf(out, ",\"auth\":%s",
                              access->scope == GATEWAY_SCOPE_PUBLIC ? "false" : "true");
  bson_string_append_printf(out, ",\"scope\":\"%s\",\"object\":\"%s\"", scope_name(access->scope),
                            object_name(access->object));
  if (!with_param) {
    bson_string_append(out, ",\"field\":");
    append_string_or_null(out, access->name);
  } else if (!access->in) {
    bson_string_append(out, ",\"param\":null");
  } else {
    bson_string_append(out, ",\"param\":{\"in\":");
    append_string_or_null(out, access->in);
    bson_string_append(out, ",\"name\":");
    append_string_or_null(out, access->name);
    bson_string_append_c(out, '}');
  }
}

int gateway_describe_api(FILE *out) {
  bson_string_t *json = bson_string_new("{\"routes\":");
  rest_describe_routes(json);
  bson_string_append(json, ",\"events\":");
  gateway_describe_client_events(json);
  bson_string_append(json, "}\n");
  bool written = fputs(json->str, out) >= 0 && fflush(out) == 0;
  bson_string_free(json, true);
  return written ? 0 : 1;
}
