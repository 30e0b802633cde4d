#include "rest_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/error_json.h"
#include "chat/json.h"

void rest_reply_error(gateway_t *gw, uint64_t request_id, int status, chat_err_t err,
                      const char *message) {
  bson_string_t *out = bson_string_new(NULL);
  chat_error_rest_json(out, chat_err_code(err), message);
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
