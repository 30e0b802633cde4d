#include "chat/error_json.h"

#include <string.h>

#include "chat/json.h"

void chat_error_json(bson_string_t *out, const char *code, const char *message) {
  bson_string_append(out, "{\"code\":");
  chat_json_append_string(out, code, strlen(code));
  bson_string_append(out, ",\"message\":");
  chat_json_append_string(out, message, strlen(message));
  bson_string_append_c(out, '}');
}

void chat_error_reply_json(bson_string_t *out, const char *code, const char *message) {
  bson_string_append(out, "{\"ok\":false,\"error\":");
  chat_error_json(out, code, message);
  bson_string_append_c(out, '}');
}

void chat_error_rest_json(bson_string_t *out, const char *code, const char *message) {
  bson_string_append(out, "{\"success\":false,\"error\":");
  chat_error_json(out, code, message);
  bson_string_append_c(out, '}');
}
