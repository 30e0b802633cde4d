#include "rest.h"

#include <string.h>

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

void gateway_handle_http(void *ctx, const chat_http_request_t *request) {
  gateway_t *gw = ctx;
  static const struct {
    const char *method, *path;
    void (*handle)(gateway_t *gw, const chat_http_request_t *request);
  } routes[] = {
      {"POST", "/api/auth/register", rest_register},
      {"POST", "/api/auth/login", rest_login},
      {"GET", "/api/users", rest_list_users},
  };
  bool path_known = false;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (strcmp(routes[i].path, request->path) != 0)
      continue;
    path_known = true;
    if (strcmp(routes[i].method, request->method) == 0) {
      routes[i].handle(gw, request);
      return;
    }
  }
  if (path_known)
    rest_reply_error(gw, request->id, 405, CHAT_ERR_INVALID, "method not allowed on this path");
  else
    rest_reply_error(gw, request->id, 404, CHAT_ERR_NOT_FOUND, "no such route");
}
