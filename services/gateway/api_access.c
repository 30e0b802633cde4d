#include "api_access.h"

#include <string.h>

#include "chat/json.h"

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
